package dev.jgrad.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Tape;
import dev.jgrad.autograd.Variable;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class KvCacheDecoderTest {
    /** GPT-2 layout with odd widths: d 40 (two vectors and a tail), head size 8, vocab 37 (a partial tile). */
    private static final GptConfig GPT2 = GptConfig.gpt2(37, 24, 2, 40, 5);
    /** LLaMA layout with grouped-query attention (4 query heads share 2 kv heads), head size 32, RoPE theta 500. */
    private static final GptConfig LLAMA = new GptConfig(37, 24, 2, 128, 4, 2, 96, GptConfig.Norm.RMS_NORM,
            GptConfig.Activation.SWIGLU, GptConfig.Positions.ROPE, 500, false, false, 0.0, 1e-5);
    /** A mix the config allows: LayerNorm with bias, SwiGLU, RoPE, untied head, multi-query attention. */
    private static final GptConfig MIXED = new GptConfig(29, 20, 2, 48, 3, 1, 64, GptConfig.Norm.LAYER_NORM,
            GptConfig.Activation.SWIGLU, GptConfig.Positions.ROPE, 10000, false, true, 0.0, 1e-5);

    /**
     * A model whose every parameter is random and of order one, so biases and norm parameters matter (Gpt's own
     * init sets them to 0 and 1) and the logits are large enough for a 1e-5 tolerance to mean something.
     */
    private static Gpt randomModel(GptConfig config, DType dtype, long seed) {
        Rng rng = new Rng(seed);
        Gpt model = new Gpt(config, dtype, rng);
        for (Variable p : model.parameters()) {
            Tensor noise = Tensor.randn(dtype, rng, p.shape());
            double scale = p.rank() == 1 ? 0.2 : 0.6 / Math.sqrt(p.size(1));
            p.value().copyFrom(noise.mul(scale).add(p.value()));
        }
        return model;
    }

    private static int[] randomTokens(int n, int vocab, long seed) {
        Rng rng = new Rng(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = (int) Math.floorMod(rng.nextLong(), (long) vocab);
        }
        return ids;
    }

    /** Row t: the logits after reading ids[0..t], from one full forward pass (causal, so each row is a prefix's). */
    private static float[][] fullForward(Gpt model, int[] ids) {
        Tensor logits = Tape.noGrad(() -> model.logits(ids, 1, ids.length).value());
        float[][] rows = new float[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            rows[t] = logits.select(1, t).select(0, 0).toFloatArray();
        }
        return rows;
    }

    /**
     * Reads a whole context's worth of tokens as prefill(5), 3 steps, prefill(4) (a prefill after steps, so at
     * positions 8..11), then steps to the end, checking every logits row against the full forward.
     */
    private static void matchesFullForward(GptConfig config, DType dtype, double tolerance) {
        Gpt model = randomModel(config, dtype, 11);
        int[] ids = randomTokens(config.contextLength(), config.vocabSize(), 5);
        float[][] expected = fullForward(model, ids);
        var decoder = new KvCacheDecoder(model);
        Decoder.State state = decoder.newState();
        float[] logits = new float[config.vocabSize()];
        decoder.prefill(state, ids, 0, 5, logits);
        assertClose(expected[4], logits, tolerance, "after the first prefill");
        for (int t = 5; t < 8; t++) {
            decoder.step(state, ids[t], logits);
            assertClose(expected[t], logits, tolerance, "step at position " + t);
        }
        decoder.prefill(state, ids, 8, 4, logits);
        assertClose(expected[11], logits, tolerance, "after a prefill at positions 8..11");
        for (int t = 12; t < ids.length; t++) {
            decoder.step(state, ids[t], logits);
            assertClose(expected[t], logits, tolerance, "step at position " + t);
        }
        assertEquals(config.contextLength(), state.length());
    }

    private static void assertClose(float[] expected, float[] actual, double tolerance, String where) {
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs((double) expected[i] - actual[i]));
        }
        assertTrue(worst <= tolerance, where + ": max |difference| " + worst + " > " + tolerance);
        // The check must be able to fail: the logits are far from zero and far from uniform.
        assertTrue(maxAbs(expected) > 0.5,
                where + ": logits too small to test, max " + maxAbs(expected));
    }

    private static double maxAbs(float[] x) {
        double m = 0;
        for (float v : x) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    @Test
    void gpt2MatchesTheFullForwardOverTheWholeContext() {
        matchesFullForward(GPT2, DType.F32, 1e-5);
        matchesFullForward(GPT2, DType.F64, 1e-12);
    }

    @Test
    void llamaWithGroupedQueriesAndRopeMatchesTheFullForward() {
        matchesFullForward(LLAMA, DType.F32, 1e-5);
        matchesFullForward(LLAMA, DType.F64, 1e-12);
    }

    @Test
    void layerNormWithSwiGluAndMultiQueryRopeMatchesTheFullForward() {
        matchesFullForward(MIXED, DType.F32, 1e-5);
        matchesFullForward(MIXED, DType.F64, 1e-12);
    }

    @Test
    void matchesTheRecomputeDecoder() {
        Gpt model = randomModel(LLAMA, DType.F32, 3);
        Decoder fast = new KvCacheDecoder(model);
        Decoder reference = new RecomputeDecoder(model);
        Decoder.State a = fast.newState();
        Decoder.State b = reference.newState();
        float[] la = new float[LLAMA.vocabSize()];
        float[] lb = new float[LLAMA.vocabSize()];
        int[] prompt = randomTokens(3, LLAMA.vocabSize(), 8);
        fast.prefill(a, prompt, 0, 3, la);
        reference.prefill(b, prompt, 0, 3, lb);
        assertClose(lb, la, 1e-5, "prefill");
        for (int t = 0; t < 6; t++) {
            int next = argmax(la);   // greedy: both decoders must keep choosing the same tokens
            fast.step(a, next, la);
            reference.step(b, next, lb);
            assertClose(lb, la, 1e-5, "greedy step " + t);
        }
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Sequences of different lengths; the batch reads each weight once for all of them. */
    private static void batchedStepEqualsSingleSteps(GptConfig config, DType dtype) {
        Gpt model = randomModel(config, dtype, 21);
        var decoder = new KvCacheDecoder(model);
        int batch = 5;
        Decoder.State[] batched = new Decoder.State[batch];
        Decoder.State[] single = new Decoder.State[batch];
        float[][] batchLogits = new float[batch][config.vocabSize()];
        float[][] singleLogits = new float[batch][config.vocabSize()];
        for (int i = 0; i < batch; i++) {
            batched[i] = decoder.newState();
            single[i] = decoder.newState();
            int[] prompt = randomTokens(1 + 2 * i, config.vocabSize(), 100 + i);
            decoder.prefill(batched[i], prompt, 0, prompt.length, batchLogits[i]);
            single[i].copyFrom(batched[i]);
        }
        int[] tokens = new int[batch];
        for (int step = 0; step < 6; step++) {
            for (int i = 0; i < batch; i++) {
                tokens[i] = (7 * step + 3 * i) % config.vocabSize();
            }
            decoder.step(batched, tokens, batchLogits);
            for (int i = 0; i < batch; i++) {
                decoder.step(single[i], tokens[i], singleLogits[i]);
                assertArrayEquals(singleLogits[i], batchLogits[i], 0f, "sequence " + i + ", step " + step);
                assertEquals(single[i].length(), batched[i].length());
            }
        }
    }

    @Test
    void batchedStepIsBitIdenticalToSingleSteps() {
        batchedStepEqualsSingleSteps(GPT2, DType.F32);
        batchedStepEqualsSingleSteps(LLAMA, DType.F32);
        batchedStepEqualsSingleSteps(LLAMA, DType.F64);
    }

    @Test
    void resultsAreBitIdenticalForAnyThreadCount() {
        // d 256, MLP 1024: a batch of 4 or a prefill of 8 is over the size at which products split over threads.
        Gpt model = randomModel(GptConfig.gpt2(300, 16, 1, 256, 4), DType.F32, 4);
        int before = Parallel.threads();
        try {
            float[][] one = runBatchAndPrefill(model, 1);
            float[][] two = runBatchAndPrefill(model, 2);
            float[][] three = runBatchAndPrefill(model, 3);
            for (int i = 0; i < one.length; i++) {
                assertArrayEquals(one[i], two[i], 0f, "row " + i + ", 2 threads");
                assertArrayEquals(one[i], three[i], 0f, "row " + i + ", 3 threads");
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    private static float[][] runBatchAndPrefill(Gpt model, int threads) {
        Parallel.setThreads(threads);
        var decoder = new KvCacheDecoder(model);
        int vocab = model.config().vocabSize();
        Decoder.State[] states = new Decoder.State[4];
        float[][] logits = new float[5][vocab];
        int[] prompt = randomTokens(8, vocab, 1);
        for (int i = 0; i < states.length; i++) {
            states[i] = decoder.newState();
            decoder.prefill(states[i], prompt, i, 8 - i, logits[4]);
        }
        decoder.step(states, new int[] {1, 2, 3, 4}, Arrays.copyOf(logits, 4));
        return logits;
    }

    @Test
    void copyFromContinuesLikeTheOriginalAndResetForgets() {
        Gpt model = randomModel(LLAMA, DType.F32, 9);
        var decoder = new KvCacheDecoder(model);
        int vocab = LLAMA.vocabSize();
        int[] ids = randomTokens(12, vocab, 2);
        float[] original = new float[vocab];
        float[] copy = new float[vocab];

        Decoder.State a = decoder.newState();
        decoder.prefill(a, ids, 0, 4, original);
        Decoder.State b = decoder.newState();
        decoder.prefill(b, ids, 4, 8, copy);     // b held a longer, different history before the copy
        b.copyFrom(a);
        assertEquals(4, b.length());
        decoder.step(a, 5, original);
        decoder.step(b, 5, copy);
        assertArrayEquals(original, copy, 0f, "a copy continues exactly like the original");

        decoder.step(b, 6, copy);                // the copy's steps leave the original alone
        decoder.step(a, 7, original);
        float[][] expected = fullForward(model, new int[] {ids[0], ids[1], ids[2], ids[3], 5, 7});
        assertClose(expected[5], original, 1e-5, "the original after its copy diverged");

        a.reset();
        assertEquals(0, a.length());
        Decoder.State fresh = decoder.newState();
        float[] freshLogits = new float[vocab];
        decoder.prefill(a, ids, 0, 3, original);
        decoder.prefill(fresh, ids, 0, 3, freshLogits);
        assertArrayEquals(freshLogits, original, 0f, "a reset state reads like a new one");
    }

    @Test
    void aStepAllocatesNothing() {
        Gpt model = new Gpt(GptConfig.preset("small"), new Rng(42));
        var decoder = new KvCacheDecoder(model);
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        Decoder.State state = decoder.newState();
        float[] logits = new float[model.config().vocabSize()];
        int context = decoder.contextLength();
        // Warm-up: enough steps for C2 to compile the kernels (before that the Vector API boxes its vectors).
        for (int i = 0; i < 30 * context; i++) {
            if (state.length() == context) {
                state.reset();
            }
            decoder.step(state, i % 256, logits);
        }
        state.reset();
        long measuringCost = -threads.getThreadAllocatedBytes(id) + threads.getThreadAllocatedBytes(id);
        long before = threads.getThreadAllocatedBytes(id);
        for (int i = 0; i < 100; i++) {
            decoder.step(state, i % 256, logits);
        }
        long allocated = threads.getThreadAllocatedBytes(id) - before - measuringCost;
        // Bound 0: the state holds every buffer a step needs, and C2 keeps the Vector API's vectors in registers.
        // (The thread-allocation counter only moves when a TLAB is handed out or an object is allocated.)
        assertEquals(0, allocated, "bytes allocated by 100 steps");
    }

    /**
     * At two threads a batched step of the "large" model splits its bigger products (4 rows of the MLP are 2.4M
     * multiply-adds, over ForwardF32.PARALLEL_MIN_MACS twice) over both, and handing them over allocates nothing
     * either. Steps are repeated until one allocates nothing (until C2 has compiled the kernels the Vector API
     * boxes its vectors); a closure per split product would show in every step.
     */
    @Test
    void aBatchedStepSplitOverTwoThreadsAllocatesNothing() {
        int savedThreads = Parallel.threads();
        Parallel.setThreads(2);
        try {
            Gpt model = new Gpt(GptConfig.preset("large"), new Rng(42));
            var decoder = new KvCacheDecoder(model);
            var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long id = Thread.currentThread().threadId();
            int batch = 4;
            var states = new Decoder.State[batch];
            int[] tokens = new int[batch];
            for (int i = 0; i < batch; i++) {
                states[i] = decoder.newState();
                tokens[i] = 7 * i;
            }
            float[][] logits = new float[batch][model.config().vocabSize()];
            long fewest = Long.MAX_VALUE;
            for (int step = 0; step < 3_000 && fewest > 0; step++) {
                if (states[0].length() == decoder.contextLength()) {
                    for (Decoder.State state : states) {
                        state.reset();
                    }
                }
                long before = threads.getThreadAllocatedBytes(id);
                decoder.step(states, tokens, logits);
                fewest = Math.min(fewest, threads.getThreadAllocatedBytes(id) - before);
            }
            assertEquals(0, fewest, "fewest bytes allocated by a batched step at 2 threads");
        } finally {
            Parallel.setThreads(savedThreads);
        }
    }

    @Test
    void badInputNamesTheOpAndTheValues() {
        Gpt model = randomModel(GPT2, DType.F32, 1);
        var decoder = new KvCacheDecoder(model);
        Decoder.State state = decoder.newState();
        float[] logits = new float[37];
        var unknown = assertThrows(IllegalArgumentException.class, () -> decoder.step(state, 37, logits));
        assertTrue(unknown.getMessage().contains("KvCacheDecoder.step: token id 37"), unknown.getMessage());
        var negative = assertThrows(IllegalArgumentException.class,
                () -> decoder.prefill(state, new int[] {1, -1}, 0, 2, logits));
        assertTrue(negative.getMessage().contains("token id -1 at index 1"), negative.getMessage());
        var tooLong = assertThrows(IllegalArgumentException.class,
                () -> decoder.prefill(state, new int[25], 0, 25, logits));
        assertTrue(tooLong.getMessage().contains("context length 24"), tooLong.getMessage());
        var empty = assertThrows(IllegalArgumentException.class, () -> decoder.prefill(state, new int[3], 1, 0, logits));
        assertTrue(empty.getMessage().contains("non-empty range"), empty.getMessage());
        var wrongRow = assertThrows(IllegalArgumentException.class, () -> decoder.step(state, 1, new float[3]));
        assertTrue(wrongRow.getMessage().contains("float[37], got float[3]"), wrongRow.getMessage());

        Decoder.State foreign = new RecomputeDecoder(model).newState();
        var other = assertThrows(IllegalArgumentException.class, () -> decoder.step(foreign, 1, logits));
        assertTrue(other.getMessage().contains("another decoder (TokenState)"), other.getMessage());
        Decoder.State sibling = new KvCacheDecoder(model).newState();
        assertThrows(IllegalArgumentException.class, () -> decoder.step(sibling, 1, logits));
        assertThrows(IllegalArgumentException.class, () -> state.copyFrom(sibling));

        var twice = assertThrows(IllegalArgumentException.class,
                () -> decoder.step(new Decoder.State[] {state, state}, new int[] {1, 2}, new float[2][37]));
        assertTrue(twice.getMessage().contains("states 0 and 1 are the same state"), twice.getMessage());
        var uneven = assertThrows(IllegalArgumentException.class,
                () -> decoder.step(new Decoder.State[] {state}, new int[] {1, 2}, new float[1][37]));
        assertTrue(uneven.getMessage().contains("1 states, 2 tokens and 1 logits rows"), uneven.getMessage());

        Decoder.State full = decoder.newState();
        decoder.prefill(full, new int[24], 0, 24, logits);
        var overflow = assertThrows(IllegalArgumentException.class, () -> decoder.step(full, 1, logits));
        assertTrue(overflow.getMessage().contains("1 more tokens after 24 would exceed the context length 24"),
                overflow.getMessage());
        assertEquals(0, state.length(), "refused calls leave the state unchanged");
        assertEquals(24, full.length());
        assertFalse(full.length() > decoder.contextLength());
    }
}
