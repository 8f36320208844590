package dev.jgrad.generation;

import static dev.jgrad.generation.SamplerTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgrad.models.tokenizer.Tokenizer;
import dev.jgrad.tensor.Rng;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;

class BeamSearchTest {
    private static final float NEVER = Float.NEGATIVE_INFINITY;

    private static Tokenizer letters(int vocab) {
        return new Tokenizer() {
            public int vocabSize() {
                return vocab;
            }

            public int[] encode(String text) {
                return text.chars().map(c -> c - 'a').toArray();
            }

            public byte[] decodeBytes(int[] ids) {
                byte[] b = new byte[ids.length];
                for (int i = 0; i < ids.length; i++) {
                    b[i] = (byte) ('a' + ids[i]);
                }
                return b;
            }
        };
    }

    private static float ln(double p) {
        return (float) Math.log(p);
    }

    /**
     * Tokens a=0, b=1, end=2, start=3. From start: a 0.5, b 0.4, end 0.1. After a: a 0.3, b 0.3, end 0.4. After b:
     * a 0.05, b 0.05, end 0.9. Greedy takes a, then ends: p = 0.2. Two beams find b, end: p = 0.36.
     */
    private static final float[][] CLASSIC = {
            {ln(0.3), ln(0.3), ln(0.4), NEVER},
            {ln(0.05), ln(0.05), ln(0.9), NEVER},
            {ln(0.25), ln(0.25), ln(0.25), ln(0.25)},
            {ln(0.5), ln(0.4), ln(0.1), NEVER},
    };

    @Test
    void twoBeamsFindTheSequenceGreedyMisses() {
        var decoder = new TableDecoder(16, CLASSIC);
        var greedy = new Generator(decoder, letters(4)).generate("d",
                SamplingSettings.greedy().withStopTokens(2).withMaxNewTokens(5));
        assertEquals("a", greedy.text());
        var search = new BeamSearch(decoder, letters(4));
        BeamSearch.Result r = search.search("d", new BeamSettings(2, 0, true, 5, new int[] {2}, 2));
        assertEquals("b", r.best().text());
        assertEquals(Math.log(0.36), r.best().logProb(), 1e-6);
        assertEquals(FinishReason.STOP_TOKEN, r.best().finishReason());
        assertEquals("a", r.hypotheses().get(1).text());
        assertEquals(Math.log(0.2), r.hypotheses().get(1).score(), 1e-6);
        // Length penalty 1: both have length 2 (the end token counts), so the score is log p / 2.
        r = search.search("d", new BeamSettings(2, 1, true, 5, new int[] {2}, 1));
        assertEquals(Math.log(0.36) / 2, r.best().score(), 1e-6);
        // One beam is greedy search.
        r = search.search("d", new BeamSettings(1, 0, true, 5, new int[] {2}, 1));
        assertEquals("a", r.best().text());
    }

    /** All sequences of up to 3 tokens over {a, b, c} plus an end token, scored by brute force. */
    @Test
    void wideEnoughBeamsReturnTheExactBestOfAnExhaustiveSearch() {
        int vocab = 4;
        int end = 3;
        Rng rng = new Rng(12);
        float[][] table = new float[vocab][vocab];
        for (float[] row : table) {
            for (int j = 0; j < vocab; j++) {
                row[j] = (float) rng.nextGaussian();
            }
        }
        var search = new BeamSearch(new TableDecoder(16, table), letters(vocab));
        for (double alpha : new double[] {0, 1, 2, -0.5}) {
            List<double[]> all = new ArrayList<>();     // {score, logProb, id...}
            enumerate(table, end, 3, 0, new int[0], 0.0, alpha, all);
            all.sort(Comparator.comparingDouble((double[] h) -> -h[0]));
            int n = 10;
            // 64 beams keep every partial sequence (3 + 9 running, 27 at the end), so nothing is pruned.
            BeamSearch.Result r = search.search(new int[] {0}, new BeamSettings(64, alpha, false, 3, new int[] {end}, n));
            assertEquals(n, r.hypotheses().size());
            // Ranks by score; the table only looks at the last token, so sequences with the same transitions tie:
            // each returned hypothesis must be one of the enumerated sequences with exactly its score.
            var seen = new java.util.HashSet<String>();
            for (int i = 0; i < n; i++) {
                BeamSearch.Hypothesis h = r.hypotheses().get(i);
                assertEquals(all.get(i)[0], h.score(), 1e-9, "alpha " + alpha + " rank " + i);
                double[] same = all.stream()
                        .filter(e -> Arrays.equals(Arrays.stream(e, 2, e.length).mapToInt(x -> (int) x).toArray(),
                                h.ids()))
                        .findFirst().orElseThrow();
                assertEquals(same[0], h.score(), 1e-9, "alpha " + alpha + " " + h);
                assertEquals(same[1], h.logProb(), 1e-9, "alpha " + alpha + " " + h);
                assertEquals(true, seen.add(Arrays.toString(h.ids())), "returned twice: " + h);
            }
        }
    }

    /** Every continuation of {@code ids} (last token read: {@code last}), scored with length including the end. */
    private static void enumerate(float[][] table, int end, int maxLen, int last, int[] ids, double logProb,
            double alpha, List<double[]> out) {
        double[] logSoftmax = new double[table.length];
        double max = Double.NEGATIVE_INFINITY;
        for (float l : table[last]) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : table[last]) {
            sum += Math.exp(l - max);
        }
        for (int v = 0; v < table.length; v++) {
            logSoftmax[v] = table[last][v] - max - Math.log(sum);
        }
        for (int v = 0; v < table.length; v++) {
            double lp = logProb + logSoftmax[v];
            int length = ids.length + 1;
            if (v == end) {
                out.add(entry(lp / Math.pow(length, alpha), lp, ids));
                continue;
            }
            int[] longer = Arrays.copyOf(ids, length);
            longer[ids.length] = v;
            if (length == maxLen) {
                out.add(entry(lp / Math.pow(length, alpha), lp, longer));
            } else {
                enumerate(table, end, maxLen, v, longer, lp, alpha, out);
            }
        }
    }

    private static double[] entry(double score, double logProb, int[] ids) {
        double[] e = new double[2 + ids.length];
        e[0] = score;
        e[1] = logProb;
        for (int i = 0; i < ids.length; i++) {
            e[2 + i] = ids[i];
        }
        return e;
    }

    @Test
    void earlyStoppingEndsAtWidthHypothesesAndTheContextBoundsTheLength() {
        var decoder = new TableDecoder(16, CLASSIC);
        var search = new BeamSearch(decoder, letters(4));
        // Without early stopping the search goes on while a running beam could still win; none can here
        // (their log p is already below log 0.2), so the answer is the same.
        var late = search.search("d", new BeamSettings(2, 0, false, 5, new int[] {2}, 2));
        assertEquals("b", late.best().text());
        assertEquals("a", late.hypotheses().get(1).text());
        // No end token and a context of 4 with a 2-token prompt: hypotheses stop at 3 tokens, context full.
        var small = new BeamSearch(new TableDecoder(4, CLASSIC), letters(4));
        var r = small.search("dd", new BeamSettings(3, 0, true, 10, null, 3));
        assertEquals(3, r.hypotheses().size());
        for (var h : r.hypotheses()) {
            assertEquals(3, h.ids().length);
            assertEquals(FinishReason.CONTEXT_FULL, h.finishReason());
        }
    }

    @Test
    void badSettingsAndPromptsNameTheValues() {
        assertMessage(() -> BeamSettings.of(0), "width", "got 0");
        assertMessage(() -> BeamSettings.of(2).withReturnCount(3), "returnCount", "width = 2", "got 3");
        assertMessage(() -> BeamSettings.of(2).withMaxNewTokens(0), "maxNewTokens", "got 0");
        assertMessage(() -> BeamSettings.of(2).withLengthPenalty(Double.NaN), "lengthPenalty", "NaN");
        assertMessage(() -> BeamSettings.of(2).withEndTokens(-1), "end token", "-1");
        var search = new BeamSearch(new TableDecoder(4, CLASSIC), letters(4));
        assertMessage(() -> search.search("", BeamSettings.of(2)), "prompt is empty");
        assertMessage(() -> search.search("abcda", BeamSettings.of(2)), "5 tokens", "context holds 4");
        assertMessage(() -> search.search("a", BeamSettings.of(2).withEndTokens(7)), "end token 7");
    }
}
