package dev.jgrad.generation;

import dev.jgrad.models.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Beam search as in Hugging Face transformers: each step extends every beam by every token, keeps the best
 * {@code 2 * width} extensions by total log-probability, turns those among the first {@code width} that end in an
 * end token into finished hypotheses, and keeps the first {@code width} others as the next beams. Beams are
 * reordered with {@link Decoder.State#copyFrom} into a second set of states, so no state is allocated per step.
 * A hypothesis still running at {@code maxNewTokens} (or when the context is full) finishes there. The best
 * {@code width} finished hypotheses are kept, ranked by {@link BeamSettings#score}.
 */
public final class BeamSearch {
    private final Decoder decoder;
    private final Tokenizer tokenizer;

    /**
     * One finished hypothesis.
     *
     * @param ids          generated ids (no end token)
     * @param text         their text
     * @param logProb      total log-probability of the generated tokens, end token included
     * @param score        {@code logProb / length^lengthPenalty}, what hypotheses are ranked by
     * @param finishReason {@link FinishReason#STOP_TOKEN}, {@link FinishReason#MAX_TOKENS} or
     *                     {@link FinishReason#CONTEXT_FULL}
     */
    public record Hypothesis(int[] ids, String text, double logProb, double score, FinishReason finishReason) {
        public Hypothesis {
            ids = ids.clone();
        }

        @Override
        public int[] ids() {
            return ids.clone();
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "%.4f (log p %.4f, %s) %s %s", score, logProb, finishReason,
                    Arrays.toString(ids), text);
        }
    }

    /** The best hypotheses, best first, and the time taken ({@code tokens}: decoding steps run). */
    public record Result(List<Hypothesis> hypotheses, Timings timings) {
        public Result {
            hypotheses = List.copyOf(hypotheses);
        }

        public Hypothesis best() {
            return hypotheses.get(0);
        }
    }

    public BeamSearch(Decoder decoder, Tokenizer tokenizer) {
        this.decoder = decoder;
        this.tokenizer = tokenizer;
    }

    public Result search(String prompt, BeamSettings settings) {
        return search(tokenizer.encode(prompt), settings);
    }

    /** Same limits on the prompt as {@link Generator}: not empty, not longer than the context. */
    public Result search(int[] prompt, BeamSettings settings) {
        checkPrompt(prompt, settings);
        int width = settings.width();
        int vocab = decoder.vocabSize();
        int room = decoder.contextLength() - prompt.length + 1;
        int maxNew = Math.min(settings.maxNewTokens(), room);
        FinishReason atLimit = settings.maxNewTokens() <= room ? FinishReason.MAX_TOKENS : FinishReason.CONTEXT_FULL;

        Decoder.State[] states = new Decoder.State[width];
        Decoder.State[] next = new Decoder.State[width];
        float[][] logits = new float[width][vocab];
        for (int i = 0; i < width; i++) {
            states[i] = decoder.newState();
            next[i] = decoder.newState();
        }
        int[][] tokens = new int[width][maxNew];
        int[][] nextTokens = new int[width][maxNew];
        double[] logProb = new double[width];
        double[] nextLogProb = new double[width];
        int candidates = 2 * width;
        double[] candScore = new double[candidates];
        int[] candBeam = new int[candidates];
        int[] candToken = new int[candidates];
        List<Hypothesis> finished = new ArrayList<>();

        long start = System.nanoTime();
        decoder.prefill(states[0], prompt, 0, prompt.length, logits[0]);
        long prefillNanos = System.nanoTime() - start;
        start = System.nanoTime();
        int live = 1;
        int generated = 0;
        Decoder.State[] stepStates = null;
        int[] stepTokens = null;
        float[][] stepLogits = null;
        while (true) {
            int found = bestExtensions(logits, logProb, live, candScore, candBeam, candToken);
            int nextLive = 0;
            for (int r = 0; r < found && nextLive < width; r++) {
                int beam = candBeam[r];
                int token = candToken[r];
                if (settings.isEndToken(token)) {
                    if (r < width) {   // as HF: an end token ranked below the first `width` is not a hypothesis
                        addFinished(finished, settings, tokens[beam], generated, candScore[r], generated + 1,
                                FinishReason.STOP_TOKEN);
                    }
                    continue;
                }
                System.arraycopy(tokens[beam], 0, nextTokens[nextLive], 0, generated);
                nextTokens[nextLive][generated] = token;
                nextLogProb[nextLive] = candScore[r];
                next[nextLive].copyFrom(states[beam]);
                nextLive++;
            }
            generated++;
            if (generated == maxNew) {
                for (int b = 0; b < nextLive; b++) {
                    addFinished(finished, settings, nextTokens[b], generated, nextLogProb[b], generated, atLimit);
                }
                break;
            }
            if (nextLive == 0 || done(finished, settings, nextLogProb[0], generated, maxNew)) {
                break;
            }
            Decoder.State[] swapStates = states;
            states = next;
            next = swapStates;
            int[][] swapTokens = tokens;
            tokens = nextTokens;
            nextTokens = swapTokens;
            double[] swapLogProb = logProb;
            logProb = nextLogProb;
            nextLogProb = swapLogProb;
            live = nextLive;
            if (stepStates == null || stepStates.length != live) {
                stepStates = new Decoder.State[live];
                stepTokens = new int[live];
                stepLogits = Arrays.copyOf(logits, live);
            }
            for (int b = 0; b < live; b++) {
                stepStates[b] = states[b];
                stepTokens[b] = tokens[b][generated - 1];
            }
            if (live == 1) {
                decoder.step(states[0], stepTokens[0], logits[0]);
            } else {
                decoder.step(stepStates, stepTokens, stepLogits);
            }
        }
        long decodeNanos = System.nanoTime() - start;
        finished.sort(BY_SCORE);
        List<Hypothesis> best = finished.subList(0, Math.min(settings.returnCount(), finished.size()));
        return new Result(best, new Timings(prefillNanos, decodeNanos, generated));
    }

    private static final Comparator<Hypothesis> BY_SCORE = Comparator.comparingDouble(Hypothesis::score).reversed();

    /**
     * The best {@code candScore.length} (beam, token) extensions of the live beams by total log-probability, best
     * first (ties: lower beam, then lower token); returns how many there are. A bounded min-heap keeps the scan
     * over {@code live * V} scores allocation-free.
     */
    private static int bestExtensions(float[][] logits, double[] logProb, int live, double[] candScore,
            int[] candBeam, int[] candToken) {
        int capacity = candScore.length;
        int size = 0;
        for (int b = 0; b < live; b++) {
            float[] row = logits[b];
            double max = Double.NEGATIVE_INFINITY;
            for (float l : row) {
                max = Math.max(max, l);
            }
            double sum = 0;
            for (float l : row) {
                sum += Math.exp(l - max);
            }
            double logNormaliser = max + Math.log(sum);
            for (int v = 0; v < row.length; v++) {
                double score = logProb[b] + row[v] - logNormaliser;
                if (size < capacity) {
                    candScore[size] = score;
                    candBeam[size] = b;
                    candToken[size] = v;
                    siftUp(candScore, candBeam, candToken, size++);
                } else if (score > candScore[0]) {
                    candScore[0] = score;
                    candBeam[0] = b;
                    candToken[0] = v;
                    siftDown(candScore, candBeam, candToken, size);
                }
            }
        }
        // Sort best first: insertion sort, the heap holds 2 * width entries.
        for (int i = 1; i < size; i++) {
            double s = candScore[i];
            int beam = candBeam[i];
            int token = candToken[i];
            int j = i - 1;
            while (j >= 0 && ranksBefore(s, beam, token, candScore[j], candBeam[j], candToken[j])) {
                candScore[j + 1] = candScore[j];
                candBeam[j + 1] = candBeam[j];
                candToken[j + 1] = candToken[j];
                j--;
            }
            candScore[j + 1] = s;
            candBeam[j + 1] = beam;
            candToken[j + 1] = token;
        }
        return size;
    }

    private static boolean ranksBefore(double s, int beam, int token, double s2, int beam2, int token2) {
        return s > s2 || (s == s2 && (beam < beam2 || (beam == beam2 && token < token2)));
    }

    /** Min-heap on score (the root is the worst kept extension; among equal scores, the later one). */
    private static void siftUp(double[] score, int[] beam, int[] token, int i) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!ranksBefore(score[parent], beam[parent], token[parent], score[i], beam[i], token[i])) {
                break;
            }
            swap(score, beam, token, i, parent);
            i = parent;
        }
    }

    private static void siftDown(double[] score, int[] beam, int[] token, int size) {
        int i = 0;
        while (true) {
            int worst = i;
            for (int child = 2 * i + 1; child <= 2 * i + 2 && child < size; child++) {
                if (ranksBefore(score[worst], beam[worst], token[worst], score[child], beam[child], token[child])) {
                    worst = child;
                }
            }
            if (worst == i) {
                return;
            }
            swap(score, beam, token, i, worst);
            i = worst;
        }
    }

    private static void swap(double[] score, int[] beam, int[] token, int i, int j) {
        double s = score[i];
        score[i] = score[j];
        score[j] = s;
        int b = beam[i];
        beam[i] = beam[j];
        beam[j] = b;
        int t = token[i];
        token[i] = token[j];
        token[j] = t;
    }

    private void addFinished(List<Hypothesis> finished, BeamSettings settings, int[] tokens, int count,
            double logProb, int length, FinishReason reason) {
        int[] ids = Arrays.copyOf(tokens, count);
        finished.add(new Hypothesis(ids, tokenizer.decode(ids), logProb, settings.score(logProb, length), reason));
        if (finished.size() > settings.width()) {
            finished.sort(BY_SCORE);
            finished.remove(finished.size() - 1);
        }
    }

    /**
     * True when no running beam can still enter the best {@code width}: with early stopping as soon as there are
     * {@code width} hypotheses, otherwise when the best running beam's most favourable future score (its
     * log-probability can only fall, so the bound is over the lengths still possible) is no better than the worst
     * kept hypothesis.
     */
    private static boolean done(List<Hypothesis> finished, BeamSettings settings, double bestLive, int generated,
            int maxNew) {
        if (finished.size() < settings.width()) {
            return false;
        }
        if (settings.earlyStopping()) {
            return true;
        }
        double worst = Double.POSITIVE_INFINITY;
        for (Hypothesis h : finished) {
            worst = Math.min(worst, h.score());
        }
        // logProb <= 0: for alpha > 0 the longest length divides it most; for alpha <= 0 the next length does.
        int length = settings.lengthPenalty() > 0 ? maxNew : generated + 1;
        return settings.score(bestLive, length) <= worst;
    }

    private void checkPrompt(int[] prompt, BeamSettings settings) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("BeamSearch: the prompt is empty; the model needs at least one token "
                    + "to condition on");
        }
        if (prompt.length > decoder.contextLength()) {
            throw new IllegalArgumentException("BeamSearch: the prompt has " + prompt.length + " tokens but the "
                    + "context holds " + decoder.contextLength() + " (prompts are not truncated; shorten it)");
        }
        for (int id : settings.endTokens()) {
            if (id >= decoder.vocabSize()) {
                throw new IllegalArgumentException("BeamSearch: end token " + id + " is outside the vocabulary [0, "
                        + decoder.vocabSize() + ")");
            }
        }
    }
}
