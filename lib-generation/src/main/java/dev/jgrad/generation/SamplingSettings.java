package dev.jgrad.generation;

import java.util.Arrays;
import java.util.List;

/**
 * How {@link Generator} picks each next token, and when it stops. Build one from {@link #greedy()} or
 * {@link #sampling(double)} and the {@code with...} methods; every value is checked here, so a bad one fails at
 * once with its name and value rather than mid-generation.
 *
 * <p>The logits of each step go through these stages in this order, the order Hugging Face transformers applies
 * its processors and warpers in: repetition penalty, frequency penalty, temperature, top-k, top-p, min-p (see
 * {@link Sampler}). A temperature of 0 means greedy decoding: the penalties still apply, the arg-max is taken, and
 * top-k, top-p and min-p have no effect.
 *
 * @param temperature       logits are divided by it; 0 is greedy, must be finite and {@code >= 0}
 * @param topK              keep the k most likely tokens; 0 keeps all
 * @param topP              keep the smallest set of most likely tokens whose probability reaches p, in (0, 1]
 * @param minP              drop tokens less likely than {@code minP} times the most likely one, in [0, 1]
 * @param repetitionPenalty as in CTRL / HF: a token already in the sequence (prompt or generated) has a positive
 *                          logit divided by it, a negative one multiplied by it; 1 is off, must be {@code > 0}
 * @param frequencyPenalty  subtracted from a token's logit once per occurrence in the sequence; 0 is off, finite
 * @param seed              the sampler's seed: the same seed and inputs give the same output
 * @param maxNewTokens      the most tokens to generate, {@code >= 0}
 * @param stopTokens        generation ends when one of these ids is chosen (it is not part of the output)
 * @param stopStrings       generation ends when the text contains one of these (the output text ends before it)
 */
public record SamplingSettings(double temperature, int topK, double topP, double minP, double repetitionPenalty,
        double frequencyPenalty, long seed, int maxNewTokens, int[] stopTokens, List<String> stopStrings) {

    public SamplingSettings {
        String op = "SamplingSettings";
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException(op + ": temperature must be finite and >= 0 (0 is greedy), got "
                    + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException(op + ": topK must be >= 0 (0 keeps every token), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException(op + ": topP must be in (0, 1] (1 keeps every token), got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException(op + ": minP must be in [0, 1] (0 keeps every token), got " + minP);
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException(op + ": repetitionPenalty must be finite and > 0 (1 is off), got "
                    + repetitionPenalty);
        }
        if (!Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException(op + ": frequencyPenalty must be finite (0 is off), got "
                    + frequencyPenalty);
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException(op + ": maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
        for (int id : stopTokens) {
            if (id < 0) {
                throw new IllegalArgumentException(op + ": stop token ids must be >= 0, got " + id);
            }
        }
        stopStrings = List.copyOf(stopStrings == null ? List.of() : stopStrings);
        for (String s : stopStrings) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException(op + ": a stop string cannot be empty");
            }
        }
    }

    /** Always the most likely token; at most 64 new tokens, no stops. */
    public static SamplingSettings greedy() {
        return new SamplingSettings(0, 0, 1, 0, 1, 0, 0, 64, null, null);
    }

    /** Sampling at {@code temperature} from the whole distribution, seed 0; at most 64 new tokens, no stops. */
    public static SamplingSettings sampling(double temperature) {
        return greedy().withTemperature(temperature);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    public SamplingSettings withTemperature(double t) {
        return new SamplingSettings(t, topK, topP, minP, repetitionPenalty, frequencyPenalty, seed, maxNewTokens,
                stopTokens, stopStrings);
    }

    public SamplingSettings withTopK(int k) {
        return new SamplingSettings(temperature, k, topP, minP, repetitionPenalty, frequencyPenalty, seed,
                maxNewTokens, stopTokens, stopStrings);
    }

    public SamplingSettings withTopP(double p) {
        return new SamplingSettings(temperature, topK, p, minP, repetitionPenalty, frequencyPenalty, seed,
                maxNewTokens, stopTokens, stopStrings);
    }

    public SamplingSettings withMinP(double p) {
        return new SamplingSettings(temperature, topK, topP, p, repetitionPenalty, frequencyPenalty, seed,
                maxNewTokens, stopTokens, stopStrings);
    }

    public SamplingSettings withRepetitionPenalty(double r) {
        return new SamplingSettings(temperature, topK, topP, minP, r, frequencyPenalty, seed, maxNewTokens,
                stopTokens, stopStrings);
    }

    public SamplingSettings withFrequencyPenalty(double f) {
        return new SamplingSettings(temperature, topK, topP, minP, repetitionPenalty, f, seed, maxNewTokens,
                stopTokens, stopStrings);
    }

    public SamplingSettings withSeed(long s) {
        return new SamplingSettings(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, s,
                maxNewTokens, stopTokens, stopStrings);
    }

    public SamplingSettings withMaxNewTokens(int n) {
        return new SamplingSettings(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, seed, n,
                stopTokens, stopStrings);
    }

    public SamplingSettings withStopTokens(int... ids) {
        return new SamplingSettings(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, seed,
                maxNewTokens, ids, stopStrings);
    }

    public SamplingSettings withStopStrings(String... strings) {
        return new SamplingSettings(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, seed,
                maxNewTokens, stopTokens, List.of(strings));
    }

    @Override
    public int[] stopTokens() {
        return stopTokens.clone();
    }

    boolean isStopToken(int id) {
        for (int stop : stopTokens) {
            if (stop == id) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SamplingSettings s && Double.compare(temperature, s.temperature) == 0 && topK == s.topK
                && Double.compare(topP, s.topP) == 0 && Double.compare(minP, s.minP) == 0
                && Double.compare(repetitionPenalty, s.repetitionPenalty) == 0
                && Double.compare(frequencyPenalty, s.frequencyPenalty) == 0 && seed == s.seed
                && maxNewTokens == s.maxNewTokens && Arrays.equals(stopTokens, s.stopTokens)
                && stopStrings.equals(s.stopStrings);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(stopTokens) + stopStrings.hashCode() + Double.hashCode(temperature) + topK
                + Long.hashCode(seed) + maxNewTokens;
    }

    @Override
    public String toString() {
        return "SamplingSettings[temperature=" + temperature + ", topK=" + topK + ", topP=" + topP + ", minP=" + minP
                + ", repetitionPenalty=" + repetitionPenalty + ", frequencyPenalty=" + frequencyPenalty + ", seed="
                + seed + ", maxNewTokens=" + maxNewTokens + ", stopTokens=" + Arrays.toString(stopTokens)
                + ", stopStrings=" + stopStrings + "]";
    }
}
