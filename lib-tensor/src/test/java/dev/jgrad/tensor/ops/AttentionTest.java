package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.Lanes;
import dev.jgrad.tensor.kernel.VectorMath;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AttentionTest {

    /** One attention problem: shapes and flags. */
    record Config(int batch, int qHeads, int kvHeads, int queries, int keys, int headDim, boolean causal) {
        double scale() {
            return 1.0 / Math.sqrt(headDim);
        }

        Tensor[] inputs(DType dtype, Rng rng) {
            return new Tensor[] {
                    Tensor.randn(dtype, rng, batch, qHeads, queries, headDim),
                    Tensor.randn(dtype, rng, batch, kvHeads, keys, headDim),
                    Tensor.randn(dtype, rng, batch, kvHeads, keys, headDim),
                    Tensor.randn(dtype, rng, batch, qHeads, queries, headDim)};
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "B%d Hq%d Hkv%d T%d S%d D%d %s", batch, qHeads, kvHeads, queries, keys,
                    headDim, causal ? "causal" : "full");
        }
    }

    /** Small shapes covering causal on/off, T != S, grouped-query (Hkv = 2 and 1) and odd head dims. */
    private static final Config[] SMALL = {
            new Config(2, 2, 2, 5, 5, 8, true),
            new Config(2, 2, 2, 5, 5, 8, false),
            new Config(1, 3, 3, 4, 9, 7, true),
            new Config(2, 4, 2, 6, 6, 33, true),
            new Config(1, 4, 1, 3, 8, 7, false),
            new Config(1, 4, 1, 1, 11, 5, true),
            new Config(1, 2, 2, 6, 4, 3, false),
    };

    /**
     * Shapes with more keys than one online-softmax block (64) and more queries than one backward tile, query
     * counts that leave a part tile and a part group of eight rows, diagonals that cross tiles and groups at every
     * offset (S > T), key counts that leave part tiles of eight keys, and head dims that take the kernels' paths
     * of two vectors, one vector and scalar columns (17, 32, 33, 48, 64, 80).
     */
    private static final Config[] LARGE = {
            new Config(1, 2, 1, 130, 150, 33, true),
            new Config(1, 2, 2, 70, 129, 64, false),
            new Config(2, 4, 2, 65, 65, 17, true),
            new Config(1, 2, 2, 128, 128, 32, true),
            new Config(1, 3, 1, 129, 135, 48, true),
            new Config(1, 2, 1, 77, 77, 80, true),
    };

    // ------------------------------------------------------------------------------------------ composite reference

    /** Output and gradients of attention built from matmul, maskedFill and softmax (materialising the scores). */
    record Reference(Tensor out, Tensor probs, Tensor dq, Tensor dk, Tensor dv) {}

    /** k [B, Hkv, S, D] repeated so query head h gets kv head h / group: [B, Hq, S, D]. */
    private static Tensor repeatHeads(Tensor k, int qHeads) {
        int b = k.size(0);
        int kvHeads = k.size(1);
        int s = k.size(2);
        int d = k.size(3);
        return k.unsqueeze(2).expand(b, kvHeads, qHeads / kvHeads, s, d).reshape(b, qHeads, s, d);
    }

    /** The sum of a [B, Hq, S, D] gradient over each group of query heads back to [B, Hkv, S, D]. */
    private static Tensor sumGroups(Tensor g, int kvHeads) {
        int b = g.size(0);
        int qHeads = g.size(1);
        return Reduce.sum(g.reshape(b, kvHeads, qHeads / kvHeads, g.size(2), g.size(3)), false, 2);
    }

    /** 1 where query i may not see key j (j > i + S - T), 0 elsewhere. */
    private static Tensor futureMask(DType dtype, int t, int s) {
        Tensor mask = Tensor.zeros(dtype, t, s);
        for (int i = 0; i < t; i++) {
            for (int j = i + (s - t) + 1; j < s; j++) {
                mask.set(1, i, j);
            }
        }
        return mask;
    }

    static Reference reference(Tensor q, Tensor k, Tensor v, Tensor g, boolean causal, double scale) {
        int qHeads = q.size(1);
        int kvHeads = k.size(1);
        Tensor kk = repeatHeads(k, qHeads);
        Tensor vv = repeatHeads(v, qHeads);
        Tensor kT = kk.transpose(-2, -1);
        Tensor scores = Binary.mul(MatMul.matmul(q, kT), scale);
        Tensor mask = futureMask(q.dtype(), q.size(2), k.size(2));
        Tensor masked = causal ? Binary.maskedFill(scores, mask, Double.NEGATIVE_INFINITY) : scores;
        Tensor p = Softmax.softmax(masked, -1);
        Tensor out = MatMul.matmul(p, vv);
        var dOut = MatMul.matmulBackward(g, p, vv);
        Tensor dMasked = Softmax.softmaxBackward(dOut.a(), p, -1);
        Tensor dScores = Binary.mul(causal ? Binary.maskedFillBackward(dMasked, mask) : dMasked, scale);
        var dScoresIn = MatMul.matmulBackward(dScores, q, kT);
        return new Reference(out, p, dScoresIn.a(), sumGroups(dScoresIn.b().transpose(-2, -1), kvHeads),
                sumGroups(dOut.b(), kvHeads));
    }

    // ------------------------------------------------------------------------------------------ correctness

    @Test
    void matchesTheCompositeReferenceInFloat64() {
        Rng rng = new Rng(11);
        for (Config c : concat(SMALL, LARGE)) {
            Tensor[] in = c.inputs(DType.F64, rng);
            var fwd = Attention.forward(in[0], in[1], in[2], c.causal(), c.scale());
            var grads = Attention.backward(in[3], in[0], in[1], in[2], fwd.out(), fwd.logSumExp(), c.causal(), c.scale());
            Reference ref = reference(in[0], in[1], in[2], in[3], c.causal(), c.scale());
            String what = c.toString();
            assertNear(ref.out(), fwd.out(), 1e-10, 1e-12, what + " out");
            assertNear(ref.dq(), grads.q(), 1e-10, 1e-12, what + " dq");
            assertNear(ref.dk(), grads.k(), 1e-10, 1e-12, what + " dk");
            assertNear(ref.dv(), grads.v(), 1e-10, 1e-12, what + " dv");
            assertNear(ref.probs(), Attention.probabilities(in[0], in[1], c.causal(), c.scale()), 1e-10, 1e-14,
                    what + " probabilities");
        }
    }

    @Test
    void matchesTorchForwardAndBackward() {
        int checked = 0;
        for (Map.Entry<String, Map<String, Tensor>> e : Fixtures.load("transformer").entrySet()) {
            if (!e.getKey().startsWith("attention")) {
                continue;
            }
            Map<String, Tensor> c = e.getValue();
            boolean causal = c.get("causal").item() != 0;
            double scale = c.get("scale").item();
            for (DType dtype : DType.values()) {
                Tensor q = c.get("q").to(dtype);
                Tensor k = c.get("k").to(dtype);
                Tensor v = c.get("v").to(dtype);
                var fwd = Attention.forward(q, k, v, causal, scale);
                var grads = Attention.backward(c.get("g").to(dtype), q, k, v, fwd.out(), fwd.logSumExp(), causal, scale);
                double rtol = dtype == DType.F64 ? 1e-6 : 1e-4;
                double atol = dtype == DType.F64 ? 1e-12 : 1e-5;
                String what = e.getKey() + " " + dtype;
                assertNear(c.get("out"), fwd.out().to(DType.F64), rtol, atol, what + " out");
                assertNear(c.get("lse"), fwd.logSumExp().to(DType.F64), rtol, atol, what + " logSumExp");
                assertNear(c.get("dq"), grads.q().to(DType.F64), rtol, atol, what + " dq");
                assertNear(c.get("dk"), grads.k().to(DType.F64), rtol, atol, what + " dk");
                assertNear(c.get("dv"), grads.v().to(DType.F64), rtol, atol, what + " dv");
            }
            checked++;
        }
        assertEquals(5, checked, "attention fixture cases");
    }

    @Test
    void float32MatchesFloat64AcrossKeyBlocksAndVectorTails() {
        Rng rng = new Rng(12);
        for (Config c : concat(SMALL, LARGE)) {
            Tensor[] in64 = c.inputs(DType.F64, rng);
            Tensor[] in32 = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                in32[i] = in64[i].to(DType.F32);
            }
            var f64 = Attention.forward(in64[0], in64[1], in64[2], c.causal(), c.scale());
            var f32 = Attention.forward(in32[0], in32[1], in32[2], c.causal(), c.scale());
            var g64 = Attention.backward(in64[3], in64[0], in64[1], in64[2], f64.out(), f64.logSumExp(), c.causal(), c.scale());
            var g32 = Attention.backward(in32[3], in32[0], in32[1], in32[2], f32.out(), f32.logSumExp(), c.causal(), c.scale());
            // Scores are D-term float sums of O(1) products and the outputs are convex combinations of values:
            // float32 rounding leaves errors of a few 1e-6 that grow mildly with S in the summed gradients.
            String what = c.toString();
            assertNear(f64.out(), f32.out().to(DType.F64), 1e-4, 1e-5, what + " out");
            assertNear(f64.logSumExp(), f32.logSumExp().to(DType.F64), 1e-5, 1e-5, what + " logSumExp");
            assertNear(g64.q(), g32.q().to(DType.F64), 1e-4, 1e-4, what + " dq");
            assertNear(g64.k(), g32.k().to(DType.F64), 1e-4, 1e-4, what + " dk");
            assertNear(g64.v(), g32.v().to(DType.F64), 1e-4, 1e-4, what + " dv");
        }
    }

    @Test
    void causalQueriesAtTheEndOfALongerKeySequenceMatchTheLastRowsOfTheFullSequence() {
        // The KV-cache situation: the last 3 queries against all 10 keys give the last 3 rows of full attention.
        Rng rng = new Rng(13);
        for (DType dtype : DType.values()) {
            Tensor q = Tensor.randn(dtype, rng, 1, 2, 10, 16);
            Tensor k = Tensor.randn(dtype, rng, 1, 2, 10, 16);
            Tensor v = Tensor.randn(dtype, rng, 1, 2, 10, 16);
            Tensor full = Attention.forward(q, k, v, true, 0.25).out();
            Tensor tail = Attention.forward(q.narrow(2, 7, 3), k, v, true, 0.25).out();
            assertArrayEquals(full.narrow(2, 7, 3).contiguous().toDoubleArray(), tail.toDoubleArray(), 0, dtype + "");
        }
    }

    @Test
    void float32BackwardIsTheElementByElementComputationBitForBit() {
        // The kernels tile rows and keys for speed, but every element goes through the same operations in the same
        // order as the plain loops of backwardElementByElement: tiling, thread count and JIT state cannot change a
        // bit. Shapes cover part tiles and groups, the diagonal at every offset, grouped heads and every head-dim path.
        Rng rng = new Rng(18);
        for (Config c : concat(SMALL, LARGE)) {
            Tensor[] in = c.inputs(DType.F32, rng);
            var fwd = Attention.forward(in[0], in[1], in[2], c.causal(), c.scale());
            var grads = Attention.backward(in[3], in[0], in[1], in[2], fwd.out(), fwd.logSumExp(), c.causal(),
                    c.scale());
            Tensor[] expected = backwardElementByElement(c, in[3], in[0], in[1], in[2], fwd.out(), fwd.logSumExp());
            assertArrayEquals(expected[0].toFloatArray(), grads.q().toFloatArray(), 0, c + " dq");
            assertArrayEquals(expected[1].toFloatArray(), grads.k().toFloatArray(), 0, c + " dk");
            assertArrayEquals(expected[2].toFloatArray(), grads.v().toFloatArray(), 0, c + " dv");
        }
    }

    /**
     * The F32 backward one element at a time: scores and dP as fma chains over the head dim, p = exp(score - lse)
     * with VectorMath's exp, D = Lanes.dot(g, out), dS = p (dP - D); dq as an fma chain over keys in ascending order
     * then scaled; dk and dv as fma chains over the query rows of the group's heads in ascending order.
     */
    private static Tensor[] backwardElementByElement(Config c, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out,
            Tensor lse) {
        int t = c.queries();
        int s = c.keys();
        int d = c.headDim();
        int group = c.qHeads() / c.kvHeads();
        float scale = (float) c.scale();
        float[] gs = g.toFloatArray();
        float[] qs = q.toFloatArray();
        float[] ks = k.toFloatArray();
        float[] vs = v.toFloatArray();
        float[] os = out.toFloatArray();
        float[] ls = lse.toFloatArray();
        float[] dq = new float[qs.length];
        float[] dk = new float[ks.length];
        float[] dv = new float[vs.length];
        float[] qScaled = new float[d];
        for (int bh = 0; bh < c.batch() * c.qHeads(); bh++) {   // heads in order: a group's heads one after another
            int kv = (bh / c.qHeads()) * c.kvHeads() + (bh % c.qHeads()) / group;
            for (int i = 0; i < t; i++) {
                int row = (bh * t + i) * d;
                for (int e = 0; e < d; e++) {
                    qScaled[e] = qs[row + e] * scale;
                }
                float gDotOut = Lanes.dot(gs, row, os, row, d);
                int end = c.causal() ? i + (s - t) + 1 : s;
                for (int j = 0; j < end; j++) {
                    int key = (kv * s + j) * d;
                    float score = 0;
                    float dP = 0;
                    for (int e = 0; e < d; e++) {
                        score = Math.fma(ks[key + e], qScaled[e], score);
                        dP = Math.fma(vs[key + e], gs[row + e], dP);
                    }
                    float p = VectorMath.exp(score - ls[bh * t + i]);
                    float dS = p * (dP - gDotOut);
                    for (int e = 0; e < d; e++) {
                        dq[row + e] = Math.fma(ks[key + e], dS, dq[row + e]);
                        dk[key + e] = Math.fma(qScaled[e], dS, dk[key + e]);
                        dv[key + e] = Math.fma(gs[row + e], p, dv[key + e]);
                    }
                }
                for (int e = 0; e < d; e++) {
                    dq[row + e] *= scale;
                }
            }
        }
        return new Tensor[] {Tensor.wrap(dq, q.shape()), Tensor.wrap(dk, k.shape()), Tensor.wrap(dv, v.shape())};
    }

    @Test
    void eachQueryRowGetsTheBitsItGetsAloneWhereverItsBlockCrossesTheDiagonal() {
        // Rows are computed four at a time, sharing the keys all four see and adding each row's own diagonal keys
        // after; 75 queries over two 64-key blocks put blocks of every width on the diagonal and a short last block.
        Rng rng = new Rng(17);
        int t = 75;
        Tensor q = Tensor.randn(DType.F32, rng, 1, 1, t, 40);
        Tensor k = Tensor.randn(DType.F32, rng, 1, 1, t, 40);
        Tensor v = Tensor.randn(DType.F32, rng, 1, 1, t, 40);
        Tensor g = Tensor.randn(DType.F32, rng, 1, 1, t, 40);
        var full = Attention.forward(q, k, v, true, 0.3);
        var grads = Attention.backward(g, q, k, v, full.out(), full.logSumExp(), true, 0.3);
        for (int i = 0; i < t; i++) {
            Tensor qi = q.narrow(2, i, 1);
            Tensor ki = k.narrow(2, 0, i + 1);
            Tensor vi = v.narrow(2, 0, i + 1);
            var alone = Attention.forward(qi, ki, vi, true, 0.3);
            assertArrayEquals(full.out().narrow(2, i, 1).contiguous().toDoubleArray(), alone.out().toDoubleArray(), 0,
                    "out row " + i);
            var aloneGrads = Attention.backward(g.narrow(2, i, 1), qi, ki, vi, alone.out(), alone.logSumExp(), true,
                    0.3);
            assertArrayEquals(grads.q().narrow(2, i, 1).contiguous().toDoubleArray(), aloneGrads.q().toDoubleArray(),
                    0, "dq row " + i);
        }
    }

    @Test
    void aNanKeyMakesExactlyTheRowsThatSeeItNan() {
        // The forward's block max compares scores as integers; a NaN of either sign must still reach the output.
        for (int nanBits : new int[] {0x7fc00000, 0xffc00000}) {
            Rng rng = new Rng(19);
            int t = 70;
            Tensor q = Tensor.randn(DType.F32, rng, 1, 1, t, 16);
            Tensor k = Tensor.randn(DType.F32, rng, 1, 1, t, 16);
            Tensor v = Tensor.randn(DType.F32, rng, 1, 1, t, 16);
            k.set(Float.intBitsToFloat(nanBits), 0, 0, 5, 3);
            Tensor out = Attention.forward(q, k, v, true, 0.25).out();
            for (int i = 0; i < t; i++) {
                double first = out.get(0, 0, i, 0);
                assertEquals(i >= 5, Double.isNaN(first), String.format("NaN bits %x, row %d: %s", nanBits, i, first));
            }
        }
    }

    @Test
    void nonContiguousHeadsFromAFusedQkvProjectionGiveTheSameResultAsContiguousCopies() {
        Rng rng = new Rng(14);
        int b = 2;
        int t = 9;
        int h = 4;
        int d = 17;
        for (DType dtype : DType.values()) {
            // [B, T, 3 * H * D] as a fused projection writes it, split and permuted to [B, H, T, D] views.
            Tensor qkv = Tensor.randn(dtype, rng, b, t, 3 * h * d).view(b, t, 3, h, d);
            Tensor q = qkv.select(2, 0).permute(0, 2, 1, 3);
            Tensor k = qkv.select(2, 1).permute(0, 2, 1, 3);
            Tensor v = qkv.select(2, 2).permute(0, 2, 1, 3);
            Tensor g = Tensor.randn(dtype, rng, b, t, h, d).permute(0, 2, 1, 3);
            assertFalse(q.isContiguous() || k.isContiguous() || v.isContiguous() || g.isContiguous());
            var strided = Attention.forward(q, k, v, true, 0.3);
            var copied = Attention.forward(q.copy(), k.copy(), v.copy(), true, 0.3);
            assertArrayEquals(copied.out().toDoubleArray(), strided.out().toDoubleArray(), 0, dtype + " out");
            Tensor lseView = Tensor.zeros(dtype, b, h, 2 * t).slice(2, 0, 2 * t, 2).copyFrom(strided.logSumExp());
            Tensor outView = Tensor.zeros(dtype, b, t, h, d).permute(0, 2, 1, 3).copyFrom(strided.out());
            var gs = Attention.backward(g, q, k, v, outView, lseView, true, 0.3);
            var gc = Attention.backward(g.copy(), q.copy(), k.copy(), v.copy(), copied.out(), copied.logSumExp(), true, 0.3);
            assertArrayEquals(gc.q().toDoubleArray(), gs.q().toDoubleArray(), 0, dtype + " dq");
            assertArrayEquals(gc.k().toDoubleArray(), gs.k().toDoubleArray(), 0, dtype + " dk");
            assertArrayEquals(gc.v().toDoubleArray(), gs.v().toDoubleArray(), 0, dtype + " dv");
        }
    }

    @Test
    void resultsAreBitIdenticalForOneAndTwoThreads() {
        // One tile of rows, then several tiles with grouped-query heads and a causal offset.
        for (Config c : new Config[] {new Config(2, 4, 2, 40, 40, 24, true), new Config(2, 4, 2, 100, 130, 48, true)}) {
            assertSameBitsForOneAndTwoThreads(c);
        }
    }

    private static void assertSameBitsForOneAndTwoThreads(Config c) {
        int saved = Parallel.threads();
        try {
            for (DType dtype : DType.values()) {
                Tensor[] in = c.inputs(dtype, new Rng(15));
                Parallel.setThreads(1);
                var f1 = Attention.forward(in[0], in[1], in[2], true, c.scale());
                var g1 = Attention.backward(in[3], in[0], in[1], in[2], f1.out(), f1.logSumExp(), true, c.scale());
                Parallel.setThreads(2);
                var f2 = Attention.forward(in[0], in[1], in[2], true, c.scale());
                var g2 = Attention.backward(in[3], in[0], in[1], in[2], f2.out(), f2.logSumExp(), true, c.scale());
                assertArrayEquals(f1.out().toDoubleArray(), f2.out().toDoubleArray(), 0, dtype + " out");
                assertArrayEquals(f1.logSumExp().toDoubleArray(), f2.logSumExp().toDoubleArray(), 0, dtype + " lse");
                assertArrayEquals(g1.q().toDoubleArray(), g2.q().toDoubleArray(), 0, dtype + " dq");
                assertArrayEquals(g1.k().toDoubleArray(), g2.k().toDoubleArray(), 0, dtype + " dk");
                assertArrayEquals(g1.v().toDoubleArray(), g2.v().toDoubleArray(), 0, dtype + " dv");
            }
        } finally {
            Parallel.setThreads(saved);
        }
    }

    // ------------------------------------------------------------------------------------------ packed layout

    /** A fused-projection problem: qkv [B, T, (Hq + 2·Hkv)·D], self-attention (S = T). */
    record PackedConfig(int batch, int qHeads, int kvHeads, int time, int headDim, boolean causal) {
        int width() {
            return (qHeads + 2 * kvHeads) * headDim;
        }

        double scale() {
            return 1.0 / Math.sqrt(headDim);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "packed B%d Hq%d Hkv%d T%d D%d %s", batch, qHeads, kvHeads, time, headDim,
                    causal ? "causal" : "full");
        }
    }

    /**
     * Grouped-query and plain heads, causal and full, T that leaves part tiles, groups and key blocks (37, 70),
     * every head dim path of the kernels (16: one vector or two halves, 32, 64) and a one-position sequence.
     */
    private static final PackedConfig[] PACKED = {
            new PackedConfig(2, 4, 2, 37, 16, true),
            new PackedConfig(2, 4, 2, 37, 16, false),
            new PackedConfig(1, 4, 4, 70, 32, true),
            new PackedConfig(2, 6, 2, 70, 64, false),
            new PackedConfig(1, 4, 1, 70, 64, true),
            new PackedConfig(2, 2, 2, 1, 32, true),
    };

    /** Columns [start, start + count·D) of x [B, T, W] as a contiguous head-major [B, count, T, D]. */
    private static Tensor splitHeads(Tensor x, int start, int count, int headDim) {
        return x.narrow(2, start, count * headDim).contiguous().view(x.size(0), x.size(1), count, headDim)
                .transpose(1, 2).contiguous();
    }

    /** Head-major [B, H, T, D] as [B, T, H·D], the heads side by side. */
    private static Tensor mergeHeads(Tensor heads) {
        return heads.transpose(1, 2).contiguous().view(heads.size(0), heads.size(2), heads.size(1) * heads.size(3));
    }

    /**
     * The packed entry points give the very bits of splitting qkv into head-major q, k and v, running the head-major
     * forward and backward, and putting the heads (and the three gradients) side by side again, in both dtypes and
     * at one and two threads, also for a qkv that is not contiguous.
     */
    @Test
    void packedAttentionIsSplittingIntoHeadsBitForBit() {
        int saved = Parallel.threads();
        try {
            Rng rng = new Rng(21);
            for (PackedConfig c : PACKED) {
                for (DType dtype : DType.values()) {
                    Tensor qkv = Tensor.randn(dtype, rng, c.batch(), c.time(), c.width());
                    Tensor g = Tensor.randn(dtype, rng, c.batch(), c.time(), c.qHeads() * c.headDim());
                    for (int threads : new int[] {1, 2}) {
                        Parallel.setThreads(threads);
                        assertPackedIsSplit(c, qkv, g, c + " " + dtype + " " + threads + " threads");
                    }
                }
            }
            PackedConfig c = PACKED[0];
            Tensor transposed = Tensor.randn(DType.F32, rng, c.time(), c.batch(), c.width()).transpose(0, 1);
            assertFalse(transposed.isContiguous());
            assertPackedIsSplit(c, transposed, Tensor.randn(DType.F32, rng, c.batch(), c.time(),
                    c.qHeads() * c.headDim()).transpose(0, 1).contiguous().transpose(0, 1), c + " non-contiguous");
        } finally {
            Parallel.setThreads(saved);
        }
    }

    private static void assertPackedIsSplit(PackedConfig c, Tensor qkv, Tensor g, String what) {
        int d = c.headDim();
        int hq = c.qHeads();
        int hkv = c.kvHeads();
        Tensor q = splitHeads(qkv, 0, hq, d);
        Tensor k = splitHeads(qkv, hq * d, hkv, d);
        Tensor v = splitHeads(qkv, (hq + hkv) * d, hkv, d);
        Tensor gHeads = g.contiguous().view(c.batch(), c.time(), hq, d).transpose(1, 2).contiguous();
        var split = Attention.forward(q, k, v, c.causal(), c.scale());
        var splitGrads = Attention.backward(gHeads, q, k, v, split.out(), split.logSumExp(), c.causal(), c.scale());
        Tensor expected = Tensor.zeros(qkv.dtype(), c.batch(), c.time(), c.width());
        expected.narrow(2, 0, hq * d).copyFrom(mergeHeads(splitGrads.q()));
        expected.narrow(2, hq * d, hkv * d).copyFrom(mergeHeads(splitGrads.k()));
        expected.narrow(2, (hq + hkv) * d, hkv * d).copyFrom(mergeHeads(splitGrads.v()));

        var packed = Attention.forwardPacked(qkv, hq, hkv, c.causal(), c.scale());
        assertArrayEquals(new int[] {c.batch(), c.time(), hq * d}, packed.out().shape(), what);
        assertArrayEquals(new int[] {c.batch(), hq, c.time()}, packed.logSumExp().shape(), what);
        assertArrayEquals(mergeHeads(split.out()).toDoubleArray(), packed.out().toDoubleArray(), 0, what + " out");
        assertArrayEquals(split.logSumExp().toDoubleArray(), packed.logSumExp().toDoubleArray(), 0, what + " lse");
        Tensor dqkv = Attention.backwardPacked(g, qkv, hq, hkv, packed.out(), packed.logSumExp(), c.causal(),
                c.scale());
        assertArrayEquals(qkv.shape(), dqkv.shape(), what);
        assertArrayEquals(expected.toDoubleArray(), dqkv.toDoubleArray(), 0, what + " dqkv");
    }

    /**
     * In a recycling workspace the packed outputs reuse the storage of the step before, whatever it held: every
     * element of out, logSumExp and dqkv must still be written.
     */
    @Test
    void packedAttentionWritesEveryElementOfRecycledStorage() {
        PackedConfig c = new PackedConfig(2, 4, 2, 37, 16, true);
        Rng rng = new Rng(22);
        Tensor qkv = Tensor.randn(DType.F32, rng, c.batch(), c.time(), c.width());
        Tensor g = Tensor.randn(DType.F32, rng, c.batch(), c.time(), c.qHeads() * c.headDim());
        var fresh = Attention.forwardPacked(qkv, c.qHeads(), c.kvHeads(), true, c.scale());
        double[] freshGrad = Attention.backwardPacked(g, qkv, c.qHeads(), c.kvHeads(), fresh.out(), fresh.logSumExp(),
                true, c.scale()).toDoubleArray();
        try {
            for (int step = 0; step < 3; step++) {
                try (var scope = dev.jgrad.tensor.Workspace.openRecycling()) {
                    var f = Attention.forwardPacked(qkv, c.qHeads(), c.kvHeads(), true, c.scale());
                    Tensor dqkv = Attention.backwardPacked(g, qkv, c.qHeads(), c.kvHeads(), f.out(), f.logSumExp(),
                            true, c.scale());
                    assertArrayEquals(fresh.out().toDoubleArray(), f.out().toDoubleArray(), 0, "out, step " + step);
                    assertArrayEquals(fresh.logSumExp().toDoubleArray(), f.logSumExp().toDoubleArray(), 0,
                            "lse, step " + step);
                    assertArrayEquals(freshGrad, dqkv.toDoubleArray(), 0, "dqkv, step " + step);
                    // Garbage for the next step to find in the storage it gets back.
                    f.out().fill(Double.NaN);
                    f.logSumExp().fill(Double.NaN);
                    dqkv.fill(Double.NaN);
                }
            }
        } finally {
            dev.jgrad.tensor.Workspace.current().trim();
        }
    }

    @Test
    void packedBadArgumentsNameTheOpAndTheShapes() {
        Tensor qkv = Tensor.zeros(2, 3, 24);   // heads 2, kvHeads 1, headDim 6
        Tensor out = Tensor.zeros(2, 3, 12);
        Tensor lse = Tensor.zeros(2, 2, 3);
        assertMessage("Attention.forwardPacked: qkv must have rank 3 ([batch, seq, (heads + 2 * kvHeads) * headDim]), "
                + "got [2, 2, 3, 6]", () -> Attention.forwardPacked(Tensor.zeros(2, 2, 3, 6), 2, 1, true, 1));
        assertMessage("Attention.forwardPacked: query heads (3) must be a positive multiple of key/value heads (2), "
                + "qkv [2, 3, 24]", () -> Attention.forwardPacked(qkv, 3, 2, true, 1));
        assertMessage("Attention.forwardPacked: query heads (2) must be a positive multiple of key/value heads (0), "
                + "qkv [2, 3, 24]", () -> Attention.forwardPacked(qkv, 2, 0, true, 1));
        assertMessage("Attention.forwardPacked: qkv's last dim must be (heads + 2 * kvHeads) * headDim = 5 * headDim "
                + "with headDim > 0 for heads 3 and kvHeads 1, got qkv [2, 3, 24]",
                () -> Attention.forwardPacked(qkv, 3, 1, true, 1));
        assertMessage("Attention.forwardPacked: need at least one position, got qkv [2, 0, 24]",
                () -> Attention.forwardPacked(Tensor.zeros(2, 0, 24), 2, 1, true, 1));
        assertMessage("Attention.forwardPacked: scale must be finite, got Infinity",
                () -> Attention.forwardPacked(qkv, 2, 1, true, Double.POSITIVE_INFINITY));
        assertMessage("Attention.backwardPacked: g must have shape [2, 3, 12], got [2, 3, 24]",
                () -> Attention.backwardPacked(qkv, qkv, 2, 1, out, lse, true, 1));
        assertMessage("Attention.backwardPacked: out must have shape [2, 3, 12], got [2, 2, 3, 6]",
                () -> Attention.backwardPacked(out, qkv, 2, 1, Tensor.zeros(2, 2, 3, 6), lse, true, 1));
        assertMessage("Attention.backwardPacked: logSumExp must have shape [2, 2, 3], got [2, 3, 2]",
                () -> Attention.backwardPacked(out, qkv, 2, 1, out, Tensor.zeros(2, 3, 2), true, 1));
        assertMessage("Attention.backwardPacked: g is F64 but qkv is F32",
                () -> Attention.backwardPacked(Tensor.zeros(DType.F64, 2, 3, 12), qkv, 2, 1, out, lse, true, 1));
        assertMessage("Attention.backwardPacked: qkv's last dim must be (heads + 2 * kvHeads) * headDim = 4 * headDim "
                + "with headDim > 0 for heads 2 and kvHeads 1, got qkv [2, 3, 0]",
                () -> Attention.backwardPacked(out, Tensor.zeros(2, 3, 0), 2, 1, out, lse, true, 1));
    }

    @Test
    void probabilitiesAreRowStochasticAndZeroOnMaskedKeys() {
        Rng rng = new Rng(16);
        Tensor q = Tensor.randn(rng, 1, 2, 3, 8);
        Tensor k = Tensor.randn(rng, 1, 1, 5, 8);
        Tensor p = Attention.probabilities(q, k, true, 0.35);
        assertArrayEquals(new int[] {1, 2, 3, 5}, p.shape());
        assertEquals(DType.F32, p.dtype());
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 3; i++) {
                double sum = 0;
                for (int j = 0; j < 5; j++) {
                    sum += p.get(0, h, i, j);
                    if (j > i + 2) {
                        assertEquals(0.0, p.get(0, h, i, j), "masked key " + j + " of query " + i);
                    } else {
                        assertTrue(p.get(0, h, i, j) > 0, "visible key " + j + " of query " + i);
                    }
                }
                assertEquals(1.0, sum, 1e-6);
            }
        }
        // Views that are contiguous but start at an offset into a larger storage (batch 1 of 3).
        Tensor q3 = Tensor.randn(DType.F64, rng, 3, 2, 3, 8).narrow(0, 1, 1);
        Tensor k3 = Tensor.randn(DType.F64, rng, 3, 1, 5, 8).narrow(0, 2, 1);
        assertTrue(q3.isContiguous() && q3.offset() > 0 && k3.offset() > 0);
        assertArrayEquals(Attention.probabilities(q3.copy(), k3.copy(), true, 0.35).toDoubleArray(),
                Attention.probabilities(q3, k3, true, 0.35).toDoubleArray(), 0);
    }

    // ------------------------------------------------------------------------------------------ errors

    @Test
    void badShapesAndDtypesNameTheOpAndTheShapes() {
        Tensor q = Tensor.zeros(1, 4, 3, 8);
        var headDims = assertThrows(ShapeException.class,
                () -> Attention.forward(q, Tensor.zeros(1, 4, 3, 6), Tensor.zeros(1, 4, 3, 6), false, 1));
        assertTrue(headDims.getMessage().contains("Attention.forward") && headDims.getMessage().contains("head dims 8 and 6"),
                headDims.getMessage());
        var groups = assertThrows(ShapeException.class,
                () -> Attention.forward(q, Tensor.zeros(1, 3, 3, 8), Tensor.zeros(1, 3, 3, 8), false, 1));
        assertTrue(groups.getMessage().contains("query heads (4) must be a multiple of key/value heads (3)"),
                groups.getMessage());
        var kv = assertThrows(ShapeException.class,
                () -> Attention.forward(q, Tensor.zeros(1, 4, 3, 8), Tensor.zeros(1, 4, 2, 8), false, 1));
        assertTrue(kv.getMessage().contains("k and v must have the same shape") && kv.getMessage().contains("[1, 4, 2, 8]"),
                kv.getMessage());
        var rank = assertThrows(ShapeException.class,
                () -> Attention.forward(Tensor.zeros(4, 3, 8), Tensor.zeros(1, 4, 3, 8), Tensor.zeros(1, 4, 3, 8), false, 1));
        assertTrue(rank.getMessage().contains("q must have rank 4"), rank.getMessage());
        var tooFewKeys = assertThrows(ShapeException.class,
                () -> Attention.forward(q, Tensor.zeros(1, 4, 2, 8), Tensor.zeros(1, 4, 2, 8), true, 1));
        assertTrue(tooFewKeys.getMessage().contains("T = 3 > S = 2"), tooFewKeys.getMessage());
        var dtype = assertThrows(IllegalArgumentException.class,
                () -> Attention.forward(q, Tensor.zeros(DType.F64, 1, 4, 3, 8), Tensor.zeros(1, 4, 3, 8), false, 1));
        assertTrue(dtype.getMessage().contains("F32, F64 and F32"), dtype.getMessage());
        var lse = assertThrows(ShapeException.class, () -> Attention.backward(Tensor.zeros(1, 4, 3, 8), q,
                Tensor.zeros(1, 4, 3, 8), Tensor.zeros(1, 4, 3, 8), Tensor.zeros(1, 4, 3, 8), Tensor.zeros(1, 4, 3, 8), false, 1));
        assertTrue(lse.getMessage().contains("Attention.backward: logSumExp must have shape [1, 4, 3]"), lse.getMessage());
    }

    /** The messages are built only when a check fails; every one still names the op, the argument and the shapes. */
    @Test
    void errorMessagesInFull() {
        Tensor q = Tensor.zeros(1, 4, 3, 8);
        Tensor k = Tensor.zeros(1, 4, 3, 8);
        Tensor out = Tensor.zeros(1, 4, 3, 8);
        Tensor lse = Tensor.zeros(1, 4, 3);
        assertMessage("Attention.forward: k must have rank 4 ([batch, heads, seq, headDim]), got [4, 3, 8]",
                () -> Attention.forward(q, Tensor.zeros(4, 3, 8), k, false, 1));
        assertMessage("Attention.forward: v must have rank 4 ([batch, heads, seq, headDim]), got [8]",
                () -> Attention.forward(q, k, Tensor.zeros(8), false, 1));
        assertMessage("Attention.forward: k and v must have the same shape (q [1, 4, 3, 8], k [1, 4, 3, 8], "
                + "v [1, 4, 2, 8])", () -> Attention.forward(q, k, Tensor.zeros(1, 4, 2, 8), false, 1));
        assertMessage("Attention.forward: q and k have different batch sizes (q [1, 4, 3, 8], k [2, 4, 3, 8], "
                + "v [2, 4, 3, 8])", () -> Attention.forward(q, Tensor.zeros(2, 4, 3, 8), Tensor.zeros(2, 4, 3, 8),
                false, 1));
        assertMessage("Attention.forward: q and k have different head dims 8 and 6 (q [1, 4, 3, 8], k [1, 4, 3, 6], "
                + "v [1, 4, 3, 6])", () -> Attention.forward(q, Tensor.zeros(1, 4, 3, 6), Tensor.zeros(1, 4, 3, 6),
                false, 1));
        assertMessage("Attention.forward: query heads (4) must be a multiple of key/value heads (3) (q [1, 4, 3, 8], "
                + "k [1, 3, 3, 8], v [1, 3, 3, 8])", () -> Attention.forward(q, Tensor.zeros(1, 3, 3, 8),
                Tensor.zeros(1, 3, 3, 8), false, 1));
        assertMessage("Attention.forward: need at least one key and a non-empty head dim (q [1, 4, 3, 8], "
                + "k [1, 4, 0, 8], v [1, 4, 0, 8])", () -> Attention.forward(q, Tensor.zeros(1, 4, 0, 8),
                Tensor.zeros(1, 4, 0, 8), false, 1));
        assertMessage("Attention.forward: causal attention needs at least as many keys as queries (the queries are "
                + "the last T of the S key positions), got T = 3 > S = 2 (q [1, 4, 3, 8], k [1, 4, 2, 8], "
                + "v [1, 4, 2, 8])", () -> Attention.forward(q, Tensor.zeros(1, 4, 2, 8), Tensor.zeros(1, 4, 2, 8),
                true, 1));
        assertMessage("Attention.forward: q, k and v must share a dtype, got F32, F32 and F64",
                () -> Attention.forward(q, k, Tensor.zeros(DType.F64, 1, 4, 3, 8), false, 1));
        assertMessage("Attention.forward: scale must be finite, got NaN",
                () -> Attention.forward(q, k, k, false, Double.NaN));
        assertMessage("Attention.backward: g must have shape [1, 4, 3, 8], got [1, 4, 3, 7]",
                () -> Attention.backward(Tensor.zeros(1, 4, 3, 7), q, k, k, out, lse, false, 1));
        assertMessage("Attention.backward: out must have shape [1, 4, 3, 8], got [1, 4, 3]",
                () -> Attention.backward(out, q, k, k, lse, lse, false, 1));
        assertMessage("Attention.backward: logSumExp must have shape [1, 4, 3], got [1, 4, 3, 8]",
                () -> Attention.backward(out, q, k, k, out, out, false, 1));
        assertMessage("Attention.backward: out is F64 but q is F32",
                () -> Attention.backward(out, q, k, k, Tensor.zeros(DType.F64, 1, 4, 3, 8), lse, false, 1));
        assertMessage("Attention.probabilities: q must have rank 4 ([batch, heads, seq, headDim]), got [3, 8]",
                () -> Attention.probabilities(Tensor.zeros(3, 8), k, false, 1));
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        assertEquals(expected, assertThrows(RuntimeException.class, call).getMessage());
    }

    // ------------------------------------------------------------------------------------------ speed (printed)

    @Test
    void reportsSpeedAgainstTheCompositeReferenceForTheGptSmallShape() {
        Config c = new Config(8, 4, 4, 128, 128, 32, true);
        Tensor[] in = c.inputs(DType.F32, new Rng(17));
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            double fused = bestMillis(() -> {
                var f = Attention.forward(in[0], in[1], in[2], true, c.scale());
                Attention.backward(in[3], in[0], in[1], in[2], f.out(), f.logSumExp(), true, c.scale());
            });
            double composite = bestMillis(() -> reference(in[0], in[1], in[2], in[3], true, c.scale()));
            System.out.printf(Locale.ROOT, "attention forward+backward %s, 1 thread: fused %.2f ms, composite %.2f ms%n",
                    c, fused, composite);
        } finally {
            Parallel.setThreads(saved);
        }
    }

    private static double bestMillis(Runnable body) {
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 8; rep++) {
            long start = System.nanoTime();
            body.run();
            best = Math.min(best, (System.nanoTime() - start) / 1e6);
        }
        return best;
    }

    private static Config[] concat(Config[] a, Config[] b) {
        Config[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
