package dev.jgrad.generation;

import dev.jgrad.tensor.Rng;

/**
 * Picks one sequence's next tokens from logits, following {@link SamplingSettings}. One sampler per sequence: it
 * holds the sequence's seeded {@link Rng} and its token counts (for the penalties), so sequences generated side by
 * side draw exactly what each would draw alone.
 *
 * <p>Each step runs these stages, in Hugging Face transformers' order:
 * <ol>
 *   <li>repetition penalty (CTRL): a token seen before has a positive logit divided by the penalty, a negative one
 *       multiplied by it;</li>
 *   <li>frequency penalty: {@code count * penalty} is subtracted from a seen token's logit;</li>
 *   <li>temperature: logits divided by it (0: the arg-max is taken and the stages below are skipped);</li>
 *   <li>top-k: only the k highest logits stay;</li>
 *   <li>top-p: of those, the smallest most-likely-first prefix whose probability (renormalised over what is left)
 *       reaches p;</li>
 *   <li>min-p: of those, the tokens at least {@code minP} times as likely as the most likely one;</li>
 * </ol>
 * then one token is drawn in proportion to the remaining probabilities. Ties between equal logits go to the lower
 * id, so the kept set is always well defined.
 *
 * <p>Nothing is allocated per token: the candidate ids and their weights live in arrays sized once for the
 * vocabulary. Top-k and top-p sort only the head of the candidates (a quicksort that skips the partitions past the
 * head it needs), so a step costs O(V) plus the sort of the few tokens that matter, not O(V log V).
 */
public final class Sampler {
    /** Candidates sorted first when top-p has no top-k to bound it; grown fourfold while they do not reach p. */
    private static final int FIRST_TOP_P_HEAD = 64;
    private static final int INSERTION_SORT_MAX = 16;

    private final SamplingSettings settings;
    private final int vocabSize;
    private Rng rng;
    private final int[] counts;          // occurrences of each id in the sequence so far
    private final int[] seenIds;         // the ids with counts > 0, so the penalties cost O(distinct tokens)
    private int seenCount;
    private final int[] order;           // candidate ids; a sorted head once top-k or top-p has run
    private final double[] weights;      // exp((logit - max) / temperature) of order[i]

    public Sampler(SamplingSettings settings, int vocabSize) {
        if (vocabSize < 1) {
            throw new IllegalArgumentException("Sampler: vocabSize must be >= 1, got " + vocabSize);
        }
        this.settings = settings;
        this.vocabSize = vocabSize;
        this.rng = new Rng(settings.seed());
        this.counts = new int[vocabSize];
        this.seenIds = new int[vocabSize];
        this.order = new int[vocabSize];
        this.weights = new double[vocabSize];
    }

    public SamplingSettings settings() {
        return settings;
    }

    /** Forgets the sequence and re-seeds, as if new. */
    public void reset() {
        for (int i = 0; i < seenCount; i++) {
            counts[seenIds[i]] = 0;
        }
        seenCount = 0;
        rng = new Rng(settings.seed());
    }

    /** Counts {@code ids[from, from + count)} as part of the sequence (the prompt), for the penalties. */
    public void observe(int[] ids, int from, int count) {
        for (int i = from; i < from + count; i++) {
            observe(ids[i]);
        }
    }

    /** Counts one token of the sequence, for the penalties. */
    public void observe(int id) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("Sampler.observe: token id " + id + " is outside the vocabulary [0, "
                    + vocabSize + ")");
        }
        if (counts[id]++ == 0) {
            seenIds[seenCount++] = id;
        }
    }

    /**
     * The next token for these logits. The penalties are applied to {@code logits} in place (they are the caller's
     * scratch row); the chosen token is not counted, call {@link #observe(int)} once it joins the sequence.
     */
    public int next(float[] logits) {
        checkLogits("Sampler.next", logits);
        applyPenalties(logits);
        if (settings.isGreedy()) {
            return argMax(logits);
        }
        return draw(filter(logits));
    }

    /**
     * The probabilities {@link #next} draws from for these logits, as a new array (for tests and notebooks; the
     * logits are left unchanged, the random stream is not used). Greedy settings give a one-hot distribution.
     */
    public double[] distribution(float[] logits) {
        checkLogits("Sampler.distribution", logits);
        float[] scratch = logits.clone();
        applyPenalties(scratch);
        double[] p = new double[vocabSize];
        if (settings.isGreedy()) {
            p[argMax(scratch)] = 1;
            return p;
        }
        int n = filter(scratch);
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += weights[i];
        }
        for (int i = 0; i < n; i++) {
            p[order[i]] = weights[i] / total;
        }
        return p;
    }

    // ------------------------------------------------------------------------------------------ stages

    private void applyPenalties(float[] logits) {
        float repetition = (float) settings.repetitionPenalty();
        float frequency = (float) settings.frequencyPenalty();
        if (repetition == 1 && frequency == 0) {
            return;
        }
        for (int i = 0; i < seenCount; i++) {
            int id = seenIds[i];
            float l = logits[id];
            l = l > 0 ? l / repetition : l * repetition;
            logits[id] = l - counts[id] * frequency;
        }
    }

    /** Ties go to the lower id. */
    private static int argMax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Runs temperature, top-k, top-p and min-p; leaves the kept candidates in {@code order[0, n)} with their
     * unnormalised probabilities in {@code weights[0, n)}, and returns n (at least 1: the most likely token always
     * stays).
     */
    private int filter(float[] logits) {
        double invTemperature = 1 / settings.temperature();
        int top = argMax(logits);
        double max = logits[top];
        if (Double.isInfinite(max)) {
            throw new IllegalArgumentException("Sampler: the highest logit (token " + top + ") is " + max
                    + "; sampling needs a finite one");
        }
        for (int i = 0; i < vocabSize; i++) {
            order[i] = i;
        }
        int k = settings.topK();
        boolean topK = k > 0 && k < vocabSize;
        boolean topP = settings.topP() < 1;
        int n;
        boolean sorted;
        if (topK) {
            partialSort(logits, 0, vocabSize, k);
            n = k;
            sorted = true;
            for (int i = 0; i < n; i++) {
                weights[i] = Math.exp((logits[order[i]] - max) * invTemperature);
            }
        } else {
            n = vocabSize;
            sorted = false;
            for (int i = 0; i < n; i++) {
                weights[i] = Math.exp((logits[i] - max) * invTemperature);
            }
        }
        if (topP) {
            double total = 0;
            for (int i = 0; i < n; i++) {
                total += weights[i];
            }
            double target = settings.topP() * total;
            if (!sorted) {
                // Sort a growing head until it holds probability p; usually the first 64 tokens already do.
                int head = Math.min(vocabSize, FIRST_TOP_P_HEAD);
                while (true) {
                    partialSort(logits, 0, vocabSize, head);
                    double cumulative = 0;
                    for (int i = 0; i < head; i++) {
                        cumulative += Math.exp((logits[order[i]] - max) * invTemperature);
                    }
                    if (cumulative >= target || head == vocabSize) {
                        break;
                    }
                    head = (int) Math.min(vocabSize, 4L * head);
                }
                n = head;
                sorted = true;
                for (int i = 0; i < n; i++) {
                    weights[i] = Math.exp((logits[order[i]] - max) * invTemperature);
                }
            }
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                cumulative += weights[i];
                if (cumulative >= target) {
                    n = i + 1;
                    break;
                }
            }
        }
        double minP = settings.minP();
        if (minP > 0) {
            // The most likely token has weight exp(0) = 1, so "minP times as likely as it" is weight >= minP.
            int kept = 0;
            for (int i = 0; i < n; i++) {
                if (weights[i] >= minP) {
                    order[kept] = order[i];
                    weights[kept] = weights[i];
                    kept++;
                } else if (sorted) {
                    break;
                }
            }
            n = kept;
        }
        assert n >= 1 && (!sorted || order[0] == top);
        return n;
    }

    private int draw(int n) {
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += weights[i];
        }
        double u = rng.nextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < n; i++) {
            cumulative += weights[i];
            if (u < cumulative) {
                return order[i];
            }
        }
        return order[n - 1];   // u within rounding of the total
    }

    // ------------------------------------------------------------------------------------------ partial sort

    /** True when id a ranks before id b: higher logit, or equal logit and lower id (a total order). */
    private static boolean before(float[] logits, int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    }

    /**
     * Rearranges {@code order[lo, hi)} so that its first {@code head - lo} positions hold the best ids, sorted
     * best first: a quicksort that never sorts a partition lying wholly past {@code head}.
     */
    private void partialSort(float[] logits, int lo, int hi, int head) {
        while (hi - lo > INSERTION_SORT_MAX) {
            int p = partition(logits, lo, hi);
            if (p >= head) {
                hi = p;                                   // everything from p on lies past the head
            } else {
                partialSort(logits, lo, p, head);        // the left part is inside the head: sort it
                lo = p + 1;
            }
        }
        for (int i = lo + 1; i < hi; i++) {
            int id = order[i];
            int j = i - 1;
            while (j >= lo && before(logits, id, order[j])) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = id;
        }
    }

    /** Lomuto partition around the median of the first, middle and last ids; returns the pivot's final index. */
    private int partition(float[] logits, int lo, int hi) {
        int last = hi - 1;
        int mid = (lo + last) >>> 1;
        if (before(logits, order[mid], order[lo])) {
            swap(mid, lo);
        }
        if (before(logits, order[last], order[lo])) {
            swap(last, lo);
        }
        if (before(logits, order[mid], order[last])) {
            swap(mid, last);
        }
        int pivot = order[last];                          // now the median of the three
        int store = lo;
        for (int i = lo; i < last; i++) {
            if (before(logits, order[i], pivot)) {
                swap(i, store++);
            }
        }
        swap(store, last);
        return store;
    }

    private void swap(int i, int j) {
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }

    private void checkLogits(String op, float[] logits) {
        if (logits == null || logits.length != vocabSize) {
            throw new IllegalArgumentException(op + ": logits must be a float[" + vocabSize + "], got "
                    + (logits == null ? "null" : "float[" + logits.length + "]"));
        }
        for (int i = 0; i < vocabSize; i++) {
            if (Float.isNaN(logits[i])) {
                throw new IllegalArgumentException(op + ": logit of token " + i + " is NaN");
            }
        }
    }
}
