package dev.jgrad.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Rng;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {
    // Probabilities 0.5, 0.2, 0.15, 0.1, 0.05 placed on ids 3, 0, 4, 1, 2.
    private static final float[] FIVE = logitsOf(new double[] {0.2, 0.1, 0.05, 0.5, 0.15});

    private static float[] logitsOf(double[] probabilities) {
        float[] l = new float[probabilities.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = (float) Math.log(probabilities[i]);
        }
        return l;
    }

    /** softmax(logits / t) over the ids in {@code keep} only, written independently of Sampler. */
    private static double[] softmaxOver(float[] logits, double t, int... keep) {
        double[] p = new double[logits.length];
        double total = 0;
        for (int id : keep) {
            p[id] = Math.exp(logits[id] / t);
            total += p[id];
        }
        for (int id : keep) {
            p[id] /= total;
        }
        return p;
    }

    @Test
    void greedyTakesTheArgMaxWithTiesToTheLowerId() {
        var s = new Sampler(SamplingSettings.greedy(), 5);
        assertEquals(3, s.next(FIVE.clone()));
        assertEquals(1, s.next(new float[] {0, 2, 1, 2, -5}));
        assertArrayEquals(new double[] {0, 1, 0, 0, 0}, s.distribution(new float[] {0, 2, 1, 2, -5}));
    }

    @Test
    void temperatureAloneSharpensOrFlattensTheSoftmax() {
        for (double t : new double[] {0.5, 1, 3}) {
            double[] p = new Sampler(SamplingSettings.sampling(t), 5).distribution(FIVE);
            assertArrayEquals(softmaxOver(FIVE, t, 0, 1, 2, 3, 4), p, 1e-12, "t=" + t);
        }
    }

    @Test
    void topKKeepsExactlyTheKHighestRenormalised() {
        Rng rng = new Rng(3);
        float[] logits = new float[1000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) rng.nextGaussian();
        }
        Integer[] ids = IntStream.range(0, 1000).boxed().toArray(Integer[]::new);
        Arrays.sort(ids, Comparator.comparingDouble(i -> -logits[i]));
        for (int k : new int[] {1, 7, 100, 999}) {
            int[] best = Arrays.stream(ids, 0, k).mapToInt(Integer::intValue).toArray();
            double[] p = new Sampler(SamplingSettings.sampling(0.8).withTopK(k), 1000).distribution(logits);
            assertEquals(k, Arrays.stream(p).filter(x -> x > 0).count(), "k=" + k);
            assertArrayEquals(softmaxOver(logits, 0.8, best), p, 1e-12, "k=" + k);
        }
    }

    @Test
    void topPKeepsTheSmallestMostLikelySetReachingP() {
        // Sorted: 0.5 (id 3), 0.2 (id 0), 0.15 (id 4), 0.1 (id 1), 0.05 (id 2).
        record Case(double p, int[] kept) {}
        for (Case c : new Case[] {new Case(0.3, new int[] {3}), new Case(0.5, new int[] {3}),
                new Case(0.6, new int[] {3, 0}), new Case(0.75, new int[] {3, 0, 4}),
                new Case(0.9, new int[] {3, 0, 4, 1}), new Case(0.99, new int[] {3, 0, 4, 1, 2})}) {
            double[] p = new Sampler(SamplingSettings.sampling(1).withTopP(c.p), 5).distribution(FIVE);
            assertArrayEquals(softmaxOver(FIVE, 1, c.kept), p, 1e-9, "p=" + c.p);
        }
        // After top-k the probabilities are renormalised over the k: of 0.5, 0.2 (sum 0.7), 0.5 / 0.7 > 0.7.
        double[] p = new Sampler(SamplingSettings.sampling(1).withTopK(2).withTopP(0.7), 5).distribution(FIVE);
        assertArrayEquals(softmaxOver(FIVE, 1, 3), p, 1e-9);
    }

    /** A flat distribution over 5000 tokens makes the sorted head grow well past its first 64 entries. */
    @Test
    void topPOnALargeFlatVocabularyMatchesAFullSort() {
        Rng rng = new Rng(5);
        float[] logits = new float[5000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (0.3 * rng.nextGaussian());
        }
        for (double topP : new double[] {0.05, 0.5, 0.9}) {
            double t = 1.3;
            Integer[] ids = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
            Arrays.sort(ids, Comparator.comparingDouble(i -> -logits[i]));
            double[] all = softmaxOver(logits, t, IntStream.range(0, logits.length).toArray());
            int n = 0;
            double cumulative = 0;
            while (cumulative < topP) {
                cumulative += all[ids[n++]];
            }
            int[] kept = Arrays.stream(ids, 0, n).mapToInt(Integer::intValue).toArray();
            double[] p = new Sampler(SamplingSettings.sampling(t).withTopP(topP), logits.length).distribution(logits);
            assertEquals(n, Arrays.stream(p).filter(x -> x > 0).count(), "top-p " + topP);
            assertArrayEquals(softmaxOver(logits, t, kept), p, 1e-9, "top-p " + topP);
        }
    }

    @Test
    void minPDropsTokensLessLikelyThanMinPTimesTheBest() {
        // 0.25 * 0.5 = 0.125: keeps 0.5, 0.2, 0.15.
        double[] p = new Sampler(SamplingSettings.sampling(1).withMinP(0.25), 5).distribution(FIVE);
        assertArrayEquals(softmaxOver(FIVE, 1, 3, 0, 4), p, 1e-9);
        // Temperature 2 comes first: relative probabilities become sqrt(p / 0.5) = 1, 0.63, 0.55, 0.45, 0.32.
        p = new Sampler(SamplingSettings.sampling(2).withMinP(0.5), 5).distribution(FIVE);
        assertArrayEquals(softmaxOver(FIVE, 2, 3, 0, 4), p, 1e-9);
        p = new Sampler(SamplingSettings.sampling(1).withMinP(1), 5).distribution(FIVE);
        assertArrayEquals(softmaxOver(FIVE, 1, 3), p, 1e-9);
    }

    @Test
    void penaltiesFollowCtrlAndTheFrequencyFormula() {
        var settings = SamplingSettings.sampling(1).withRepetitionPenalty(2).withFrequencyPenalty(0.5);
        var s = new Sampler(settings, 4);
        s.observe(new int[] {0, 1, 0}, 0, 3);                  // counts: id 0 twice, id 1 once
        float[] logits = {2, -1, 0.5f, 3};
        // id 0: 2 / 2 - 2 * 0.5 = 0;  id 1: -1 * 2 - 1 * 0.5 = -2.5;  ids 2, 3 unseen.
        float[] penalised = {0, -2.5f, 0.5f, 3};
        assertArrayEquals(softmaxOver(penalised, 1, 0, 1, 2, 3), s.distribution(logits), 1e-7);
        s.next(logits);
        assertArrayEquals(penalised, logits, 0f, "next applies the penalties to its scratch row");
        // Greedy with penalties: a repeated token loses its lead.
        var greedy = new Sampler(SamplingSettings.greedy().withRepetitionPenalty(4), 3);
        greedy.observe(0);
        assertEquals(1, greedy.next(new float[] {3, 1, 0.5f}));   // 3 / 4 = 0.75 < 1
        greedy.reset();
        assertEquals(0, greedy.next(new float[] {3, 1, 0.5f}), "reset forgets the counts");
    }

    /** Pearson's chi-square over 40 000 draws: 5 degrees of freedom, 20.5 is the 0.999 quantile. */
    @Test
    void drawsFollowTheFilteredProbabilities() {
        float[] logits = {1.0f, -0.5f, 2.0f, 0.3f, -2f, 1.5f, 0.9f};
        var settings = SamplingSettings.sampling(0.7).withTopK(6).withSeed(99);
        var s = new Sampler(settings, logits.length);
        double[] p = softmaxOver(logits, 0.7, 2, 5, 0, 6, 3, 1);
        int draws = 40_000;
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            counts[s.next(logits.clone())]++;
        }
        assertEquals(0, counts[4], "top-k dropped id 4");
        double chi2 = 0;
        for (int id = 0; id < logits.length; id++) {
            if (p[id] > 0) {
                double expected = draws * p[id];
                chi2 += (counts[id] - expected) * (counts[id] - expected) / expected;
            }
        }
        assertTrue(chi2 < 20.5, "chi-square " + chi2 + " for counts " + Arrays.toString(counts));
    }

    @Test
    void theSameSeedDrawsTheSameTokens() {
        float[] logits = new float[300];
        Rng rng = new Rng(1);
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) rng.nextGaussian();
        }
        var settings = SamplingSettings.sampling(1.0).withTopP(0.9).withSeed(42);
        int[] a = drawMany(new Sampler(settings, 300), logits);
        int[] b = drawMany(new Sampler(settings, 300), logits);
        assertArrayEquals(a, b);
        var reused = new Sampler(settings, 300);
        drawMany(reused, logits);
        reused.reset();
        assertArrayEquals(a, drawMany(reused, logits), "reset re-seeds");
        assertNotEquals(Arrays.toString(a), Arrays.toString(drawMany(new Sampler(settings.withSeed(43), 300), logits)));
    }

    private static int[] drawMany(Sampler s, float[] logits) {
        return IntStream.range(0, 50).map(i -> s.next(logits.clone())).toArray();
    }

    /** The per-token path allocates nothing: every buffer is sized once for the vocabulary. */
    @Test
    void choosingATokenAllocatesNothing() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int vocab = 50_000;
        Rng rng = new Rng(8);
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) rng.nextGaussian();
        }
        float[] scratch = new float[vocab];
        var s = new Sampler(SamplingSettings.sampling(0.9).withTopK(50).withTopP(0.9).withMinP(0.01)
                .withRepetitionPenalty(1.2).withFrequencyPenalty(0.1), vocab);
        var nucleus = new Sampler(SamplingSettings.sampling(1).withTopP(0.5), vocab);
        for (int i = 0; i < 20; i++) {                      // warm up; the counts fill the penalty list
            System.arraycopy(logits, 0, scratch, 0, vocab);
            s.observe(s.next(scratch));
            System.arraycopy(logits, 0, scratch, 0, vocab);
            nucleus.next(scratch);
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 50; i++) {
            System.arraycopy(logits, 0, scratch, 0, vocab);
            s.observe(s.next(scratch));
            System.arraycopy(logits, 0, scratch, 0, vocab);
            nucleus.next(scratch);
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 4096, "100 tokens allocated " + allocated + " bytes");
    }

    @Test
    void badSettingsNameTheParameterAndValue() {
        var g = SamplingSettings.greedy();
        assertMessage(() -> g.withTemperature(-0.5), "temperature", "-0.5");
        assertMessage(() -> g.withTemperature(Double.NaN), "temperature", "NaN");
        assertMessage(() -> g.withTopK(-1), "topK", "-1");
        assertMessage(() -> g.withTopP(0), "topP", "0.0");
        assertMessage(() -> g.withTopP(1.5), "topP", "1.5");
        assertMessage(() -> g.withMinP(-0.1), "minP", "-0.1");
        assertMessage(() -> g.withMinP(2), "minP", "2.0");
        assertMessage(() -> g.withRepetitionPenalty(0), "repetitionPenalty", "0.0");
        assertMessage(() -> g.withFrequencyPenalty(Double.POSITIVE_INFINITY), "frequencyPenalty", "Infinity");
        assertMessage(() -> g.withMaxNewTokens(-3), "maxNewTokens", "-3");
        assertMessage(() -> g.withStopTokens(-2), "stop token", "-2");
        assertMessage(() -> g.withStopStrings(""), "stop string", "empty");
        var s = new Sampler(g, 3);
        assertMessage(() -> s.next(new float[4]), "float[3]", "float[4]");
        assertMessage(() -> s.next(new float[] {0, Float.NaN, 1}), "token 1", "NaN");
        assertMessage(() -> s.observe(3), "token id 3", "[0, 3)");
        var sampling = new Sampler(SamplingSettings.sampling(1), 2);
        assertMessage(() -> sampling.next(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}),
                "highest logit", "-Infinity");
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
        var e = assertThrows(IllegalArgumentException.class, call);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + e.getMessage() + "' lacks '" + part + "'");
        }
    }
}
