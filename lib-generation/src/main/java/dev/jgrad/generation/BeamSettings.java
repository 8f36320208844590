package dev.jgrad.generation;

/**
 * Beam search settings.
 *
 * @param width          beams kept after each step, {@code >= 1}
 * @param lengthPenalty  alpha in {@code score = sum of log-probabilities / length^alpha} (Hugging Face's
 *                       definition; length counts the generated tokens including the end token): 0 ranks by total
 *                       log-probability, larger values favour longer outputs; finite
 * @param earlyStopping  true: stop as soon as {@code width} finished hypotheses exist (HF {@code early_stopping=True});
 *                       false: go on until no running beam can still beat the worst of them (HF "never": exact)
 * @param maxNewTokens   the longest hypothesis, {@code >= 1}
 * @param endTokens      ids that finish a hypothesis (EOS); they are not part of its ids
 * @param returnCount    how many of the best hypotheses to return, in [1, width]
 */
public record BeamSettings(int width, double lengthPenalty, boolean earlyStopping, int maxNewTokens, int[] endTokens,
        int returnCount) {

    public BeamSettings {
        String op = "BeamSettings";
        if (width < 1) {
            throw new IllegalArgumentException(op + ": width (beams) must be >= 1, got " + width);
        }
        if (!Double.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException(op + ": lengthPenalty must be finite, got " + lengthPenalty);
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException(op + ": maxNewTokens must be >= 1, got " + maxNewTokens);
        }
        if (returnCount < 1 || returnCount > width) {
            throw new IllegalArgumentException(op + ": returnCount must be in [1, width = " + width + "], got "
                    + returnCount);
        }
        endTokens = endTokens == null ? new int[0] : endTokens.clone();
        for (int id : endTokens) {
            if (id < 0) {
                throw new IllegalArgumentException(op + ": end token ids must be >= 0, got " + id);
            }
        }
    }

    /** {@code width} beams, length penalty 1, early stopping, 64 new tokens, no end token, the best one returned. */
    public static BeamSettings of(int width) {
        return new BeamSettings(width, 1, true, 64, null, 1);
    }

    public BeamSettings withLengthPenalty(double alpha) {
        return new BeamSettings(width, alpha, earlyStopping, maxNewTokens, endTokens, returnCount);
    }

    public BeamSettings withEarlyStopping(boolean early) {
        return new BeamSettings(width, lengthPenalty, early, maxNewTokens, endTokens, returnCount);
    }

    public BeamSettings withMaxNewTokens(int n) {
        return new BeamSettings(width, lengthPenalty, earlyStopping, n, endTokens, returnCount);
    }

    public BeamSettings withEndTokens(int... ids) {
        return new BeamSettings(width, lengthPenalty, earlyStopping, maxNewTokens, ids, returnCount);
    }

    public BeamSettings withReturnCount(int n) {
        return new BeamSettings(width, lengthPenalty, earlyStopping, maxNewTokens, endTokens, n);
    }

    @Override
    public int[] endTokens() {
        return endTokens.clone();
    }

    boolean isEndToken(int id) {
        for (int end : endTokens) {
            if (end == id) {
                return true;
            }
        }
        return false;
    }

    /** The length-penalised score of a hypothesis of {@code length} tokens with total log-probability logProb. */
    public double score(double logProb, int length) {
        return logProb / Math.pow(length, lengthPenalty);
    }
}
