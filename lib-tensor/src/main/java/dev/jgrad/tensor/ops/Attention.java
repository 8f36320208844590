package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.Lanes;
import dev.jgrad.tensor.kernel.Scratch;
import dev.jgrad.tensor.kernel.VectorMath;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused scaled dot-product attention, softmax(q kᵀ * scale) v, with optional causal masking and grouped-query
 * heads. The [T, S] score matrix of a head is never stored: the forward walks each query row over blocks of
 * keys with an online softmax (FlashAttention's running max and running sum), and the backward recomputes each
 * row's probabilities from q, k and the saved log-sum-exp.
 *
 * <p>Layout: q [B, Hq, T, D], k and v [B, Hkv, S, D], Hq a multiple of Hkv; query head h reads kv head
 * h / (Hq / Hkv). With causal masking, query i sees keys j <= i + (S - T): the T queries are the last T
 * positions of the S keys, which is what a KV cache needs.
 *
 * <p>{@link #forwardPacked} and {@link #backwardPacked} take the heads straight from a fused projection instead:
 * qkv [B, T, (Hq + 2·Hkv)·D] holds each position's queries, keys and values side by side (GPT-2's
 * {@code c_attn} output), the output is [B, T, Hq·D] with the heads side by side again (what the output
 * projection reads), and the gradient is one [B, T, (Hq + 2·Hkv)·D] tensor like qkv. A row of a head is D
 * consecutive values in either layout, only the distances between rows and heads differ, so both run the same
 * kernels with the offsets of their layout ({@link Dims}) and no tensor is copied into or out of the head-major
 * layout: each task reads the rows of its head straight into its per-thread working buffers (the transposed keys,
 * the packed query rows) and writes its results' rows straight into place.
 *
 * <p>F32 kernels take query rows eight at a time, vectorise over keys for the scores (against a copy of k
 * transposed block by block, so no lane reductions) and over the head dimension for the weighted sums. The
 * backward takes tiles of 32 rows and keeps eight keys' slices of dk and dv in registers across a tile. However
 * they are tiled, every element goes through the operations of a plain row-by-row loop in the same order (fma
 * chains over the head dim, over keys in ascending order, over query rows in ascending order), so the result does
 * not depend on the tiling, the thread count or the JIT. The F64 kernels are plain loops over whole rows, the exact
 * reference the F32 path is tested against.
 */
public final class Attention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;   // F's shape, for float bits
    /**
     * Keys visited per step of the online softmax: the per-row scratch is this many scores, whatever S is. A
     * multiple of every float vector length, so blocks start on whole vectors of a transposed head.
     */
    private static final int KEY_BLOCK = 64;
    /**
     * Query rows whose scores and weighted sums are computed together, sharing each load of a key or value slice
     * (see scoresEightRowsF32).
     */
    private static final int ROW_GROUP = 8;
    /**
     * Query rows the backward takes together: a tile of keys' dk and dv stays in registers while all of them are
     * added (see outerProductsF32), so each slice of dk and dv is loaded and stored once per this many rows. A
     * multiple of ROW_GROUP, so a tile's last group, even a part one, has room for eight rows of scores.
     */
    private static final int ROW_TILE = 32;
    /** Keys whose dk (or dv) slices outerProductsF32 keeps in registers at once. */
    private static final int KEY_TILE = 8;
    private static final int LANES = F.length();

    private Attention() {}

    /**
     * Per-thread working rows of a head's forward or a group's backward, reused from call to call so a step does
     * not allocate them per head. A task never runs inside another on the same thread, so one set suffices; every
     * entry is written before it is read.
     */
    private static final class RowBuffers {
        /** Scores, then probabilities, of a group's or a tile's rows over a key block, row r at r * KEY_BLOCK. */
        final float[] pTile = new float[ROW_TILE * KEY_BLOCK];
        /** The backward's dP, then dS, laid out as pTile. */
        final float[] dSTile = new float[ROW_TILE * KEY_BLOCK];
        final int[] visible = new int[ROW_TILE];
        final float[] max = new float[ROW_TILE];
        final float[] sum = new float[ROW_TILE];
        private float[] acc = new float[0];
        private float[] qPacked = new float[0];
        private float[] gPacked = new float[0];
        private float[] dqTile = new float[0];
        private float[] keyGrads = new float[0];
        private float[] valueGrads = new float[0];
        private float[] headRows = new float[0];

        /** ROW_TILE rows of d scaled query values, laid out by packRows. */
        float[] qPacked(int d) {
            if (qPacked.length != packedLength(d)) {
                qPacked = new float[packedLength(d)];
            }
            return qPacked;
        }

        /** ROW_TILE rows of d upstream gradient values, laid out by packRows. */
        float[] gPacked(int d) {
            if (gPacked.length != packedLength(d)) {
                gPacked = new float[packedLength(d)];
            }
            return gPacked;
        }

        /** ROW_GROUP rows of d accumulated output values. */
        float[] acc(int d) {
            if (acc.length != ROW_GROUP * d) {
                acc = new float[ROW_GROUP * d];
            }
            return acc;
        }

        /** ROW_TILE rows of d: a backward tile's dq, accumulated before it is scaled into dq. */
        float[] dqTile(int d) {
            if (dqTile.length != ROW_TILE * d) {
                dqTile = new float[ROW_TILE * d];
            }
            return dqTile;
        }

        /** At least n values: a group's dk, rows of d, accumulated before it is copied into dk. */
        float[] keyGrads(int n) {
            if (keyGrads.length < n) {
                keyGrads = new float[n];
            }
            return keyGrads;
        }

        /** As keyGrads, for dv. */
        float[] valueGrads(int n) {
            if (valueGrads.length < n) {
                valueGrads = new float[n];
            }
            return valueGrads;
        }

        /**
         * At least n values: a packed head's rows gathered contiguously, the values of a forward's head or the keys
         * of a backward's group.
         */
        float[] headRows(int n) {
            if (headRows.length < n) {
                headRows = new float[n];
            }
            return headRows;
        }

        private final int[] keyOffsets = new int[F.length()];
        private int keyOffsetsStride = -1;

        /**
         * 0, stride, 2·stride, ...: where a vector's worth of consecutive keys' rows start, relative to the first,
         * for keys {@code stride} apart.
         */
        int[] keyOffsets(int stride) {
            if (keyOffsetsStride != stride) {
                for (int l = 0; l < keyOffsets.length; l++) {
                    keyOffsets[l] = l * stride;
                }
                keyOffsetsStride = stride;
            }
            return keyOffsets;
        }
    }

    private static final ThreadLocal<RowBuffers> ROW_BUFFERS = ThreadLocal.withInitial(RowBuffers::new);

    /** The output [B, Hq, T, D] and the per-row log-sum-exp of the scaled scores [B, Hq, T], for the backward. */
    public record Result(Tensor out, Tensor logSumExp) {}

    /** Gradients for q, k and v, in their shapes. */
    public record Grads(Tensor q, Tensor k, Tensor v) {}

    /**
     * Sizes of one attention call, checked once, and where its rows are. Head-major ({@code packed} false): q, k
     * and v are [B, H, T or S, D] tensors, and so are out, g and the gradients. Packed: q, k and v are the column
     * blocks [0, Hq·D), [Hq·D, (Hq + Hkv)·D) and [(Hq + Hkv)·D, W) of one qkv [B, T, W] (and dq, dk, dv the same
     * blocks of one [B, T, W] gradient), out and g are [B, T, Hq·D], and S = T. The row offsets are relative to a
     * tensor's own offset; the log-sum-exp is [B, Hq, T] in both layouts.
     */
    private record Dims(int batch, int qHeads, int kvHeads, int queries, int keys, int headDim, boolean causal,
                        boolean packed) {
        int group() {
            return qHeads / kvHeads;
        }

        /** One past the last key query i may see. */
        int keyEnd(int i) {
            return causal ? i + (keys - queries) + 1 : keys;
        }

        /** From one row of a head to the next in q, k, v and their gradients. */
        int inputStride() {
            return packed ? (qHeads + 2 * kvHeads) * headDim : headDim;
        }

        /** From one row of a head to the next in out and g. */
        int outputStride() {
            return packed ? qHeads * headDim : headDim;
        }

        /** Where row t of query head bh = b * Hq + h starts in q and dq. */
        int queryRow(int bh, int t) {
            return packed ? ((bh / qHeads) * queries + t) * inputStride() + (bh % qHeads) * headDim
                    : (bh * queries + t) * headDim;
        }

        /** Where row j of kv head bkv = b * Hkv + h starts in k and dk. */
        int keyRow(int bkv, int j) {
            return packed ? ((bkv / kvHeads) * keys + j) * inputStride() + (qHeads + bkv % kvHeads) * headDim
                    : (bkv * keys + j) * headDim;
        }

        /** Where row j of kv head bkv starts in v and dv. */
        int valueRow(int bkv, int j) {
            return packed ? keyRow(bkv, j) + kvHeads * headDim : (bkv * keys + j) * headDim;
        }

        /** Where row t of query head bh starts in out and g. */
        int outputRow(int bh, int t) {
            return packed ? ((bh / qHeads) * queries + t) * outputStride() + (bh % qHeads) * headDim
                    : (bh * queries + t) * headDim;
        }

        /** The output's shape, [B, Hq, T, D] or packed [B, T, Hq·D], for messages. */
        int[] outShape() {
            return packed ? new int[] {batch, queries, qHeads * headDim} : new int[] {batch, qHeads, queries, headDim};
        }

        /** The log-sum-exp's shape [B, Hq, T], for messages. */
        int[] rowShape() {
            return new int[] {batch, qHeads, queries};
        }

        /** True when x has the output's shape (checked in place: this runs on every call). */
        boolean isOutShaped(Tensor x) {
            return packed ? x.rank() == 3 && x.size(0) == batch && x.size(1) == queries && x.size(2) == qHeads * headDim
                    : x.rank() == 4 && x.size(0) == batch && x.size(1) == qHeads && x.size(2) == queries
                            && x.size(3) == headDim;
        }
    }

    // ------------------------------------------------------------------------------------------ forward

    /** Attention of q over k and v; see the class comment for shapes and the causal convention. */
    public static Result forward(Tensor q, Tensor k, Tensor v, boolean causal, double scale) {
        Dims dims = check("Attention.forward", q, k, v, causal, scale);
        // The F32 kernel writes every output row and log-sum-exp; the F64 one accumulates into zeros.
        Tensor out = q.dtype() == DType.F32 ? Tensor.emptyLike(q) : Tensor.zerosLike(q);   // [B, Hq, T, D]
        return forward(dims, q.contiguous(), k.contiguous(), v.contiguous(), out, scale);
    }

    /**
     * Causal or full self-attention straight from a fused projection qkv [B, T, (heads + 2·kvHeads)·D] (see the
     * class comment): the output [B, T, heads·D] with the heads side by side, and the log-sum-exp [B, heads, T].
     * The same values, bit for bit, as splitting qkv into head-major q, k and v, calling {@link #forward} and
     * putting the output's heads side by side.
     */
    public static Result forwardPacked(Tensor qkv, int heads, int kvHeads, boolean causal, double scale) {
        Dims dims = checkPacked("Attention.forwardPacked", qkv, heads, kvHeads, causal, scale);
        Tensor x = qkv.contiguous();
        int width = dims.qHeads * dims.headDim;
        Tensor out = x.dtype() == DType.F32 ? Tensor.empty(x.dtype(), dims.batch, dims.queries, width)
                : Tensor.zeros(x.dtype(), dims.batch, dims.queries, width);
        return forward(dims, x, x, x, out, scale);
    }

    /** The forward of either layout: q, k and v contiguous (one tensor when packed), out fresh and zero for F64. */
    private static Result forward(Dims dims, Tensor q, Tensor k, Tensor v, Tensor out, double scale) {
        boolean f32 = q.dtype() == DType.F32;
        Tensor lse = f32 ? Tensor.empty(q.dtype(), dims.batch, dims.qHeads, dims.queries)
                : Tensor.zeros(q.dtype(), dims.batch, dims.qHeads, dims.queries);
        int heads = dims.batch * dims.qHeads;
        if (f32) {
            float[] os = out.f32Data();
            float[] ls = lse.f32Data();
            float s = (float) scale;
            Parallel.forEachRange(heads, heads, 1, TASKS_F32.take().forward(dims, q, k, v, os, ls, s));
        } else {
            Parallel.forEachTask(heads, bh -> forwardHeadF64(dims, bh, q, k, v, out.f64Data(), lse.f64Data(), scale));
        }
        return new Result(out, lse);
    }

    /** All T query rows of query head bh = b * Hq + h. */
    private static void forwardHeadF32(Dims dims, int bh, Tensor q, Tensor k, Tensor v, float[] out, float[] lse,
            float scale) {
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        int stride = dims.inputStride();
        int bkv = kvHeadOf(dims, bh);
        float[] qs = q.f32Data();
        float[] kT = transposedHead(k.f32Data(), k.offset() + dims.keyRow(bkv, 0), s, d, stride,
                Scratch.ATTENTION_KEYS);
        // The weighted sums read the value rows over and over, one key block at a time: rows a fused row apart
        // (packed) are gathered into a contiguous buffer first, as the keys are into kT.
        RowBuffers buffers = ROW_BUFFERS.get();
        float[] vs = v.f32Data();
        int vo = v.offset() + dims.valueRow(bkv, 0);
        if (stride != d) {
            vs = gatherRows(vs, vo, stride, s, d, buffers.headRows(s * d));
            vo = 0;
        }
        // Rows are taken ROW_GROUP at a time so they share each load of kT and v; each row keeps its own running
        // max, sum and accumulator and goes through exactly the operations it would alone, so a row's result does
        // not depend on the rows computed beside it.
        float[] qPacked = buffers.qPacked(d);
        float[] acc = buffers.acc(d);
        float[] p = buffers.pTile;
        int[] visible = buffers.visible;
        float[] max = buffers.max;
        float[] sum = buffers.sum;
        for (int i0 = 0; i0 < t; i0 += ROW_GROUP) {
            int rows = Math.min(ROW_GROUP, t - i0);
            packRows(qs, q.offset() + dims.queryRow(bh, i0), rows, d, stride, scale, qPacked);
            for (int r = 0; r < rows; r++) {
                max[r] = Float.NEGATIVE_INFINITY;
                sum[r] = 0f;
            }
            Arrays.fill(acc, 0f);
            int end = dims.keyEnd(i0 + rows - 1);   // the last row sees the most keys
            for (int j0 = 0; j0 < end; j0 += KEY_BLOCK) {
                int maxLanes = 0;
                int common = KEY_BLOCK;   // keys every row of the group sees
                for (int r = 0; r < rows; r++) {
                    visible[r] = Math.max(0, Math.min(KEY_BLOCK, dims.keyEnd(i0 + r) - j0));
                    maxLanes = Math.max(maxLanes, F.loopBound(visible[r] + F.length() - 1));
                    common = Math.min(common, visible[r]);
                }
                // All eight rows, whatever rows is: the scores of rows past the last are never read. Lanes past a
                // row's own visible keys are computed too, and never read.
                scoresEightRowsF32(qPacked, 0, d, p, kT, keyBlockStart(j0, d), maxLanes);
                for (int r = 0; r < rows; r++) {
                    int n = visible[r];
                    if (n == 0) {
                        continue;
                    }
                    int lanes = F.loopBound(n + F.length() - 1);
                    // Padding lanes past the last visible key get probability exp(-inf) = 0.
                    Arrays.fill(p, r * KEY_BLOCK + n, r * KEY_BLOCK + lanes, Float.NEGATIVE_INFINITY);
                    float newMax = Math.max(max[r], maxF32(p, r * KEY_BLOCK, lanes));
                    // Earlier blocks were weighted by exp(. - max); re-weight them for the new, larger max. Before
                    // the row's first key (max -inf) there is nothing to re-weight, and an unchanged max leaves
                    // the weights as they are (exp(0) = 1): both skip a call of Math.exp.
                    if (newMax != max[r] && max[r] != Float.NEGATIVE_INFINITY) {
                        float correction = (float) Math.exp(max[r] - newMax);
                        if (correction != 1f) {
                            sum[r] *= correction;
                            scaleInPlace(acc, r * d, correction, d);
                        }
                    }
                    sum[r] += expShiftedSumF32(p, r * KEY_BLOCK, lanes, newMax);
                    max[r] = newMax;
                }
                // The keys all rows see together, then each row's own last few (on the causal diagonal): every
                // row adds its values in ascending key order either way, so it gets the bits it would get alone.
                int shared = rows == ROW_GROUP ? common : 0;
                if (shared > 0) {
                    weightedEightRowSumsF32(p, 0, shared, vs, vo + j0 * d, d, acc, 0);
                }
                for (int r = 0; r < rows; r++) {
                    if (visible[r] > shared) {
                        weightedRowSumF32(p, r * KEY_BLOCK, shared, visible[r], vs, vo + j0 * d, d, acc, r * d);
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                scaleInto(acc, r * d, 1f / sum[r], out, dims.outputRow(bh, i0 + r), d);
                lse[bh * t + i0 + r] = max[r] + (float) Math.log(sum[r]);
            }
        }
    }

    private static void forwardHeadF64(Dims dims, int bh, Tensor q, Tensor k, Tensor v, double[] out, double[] lse,
            double scale) {
        int t = dims.queries;
        int d = dims.headDim;
        int stride = dims.inputStride();
        int bkv = kvHeadOf(dims, bh);
        double[] qs = q.f64Data();
        double[] ks = k.f64Data();
        double[] vs = v.f64Data();
        int ko = k.offset() + dims.keyRow(bkv, 0);
        int vo = v.offset() + dims.valueRow(bkv, 0);
        double[] scores = new double[dims.keys];
        for (int i = 0; i < t; i++) {
            int qo = q.offset() + dims.queryRow(bh, i);
            int oo = dims.outputRow(bh, i);
            int end = dims.keyEnd(i);
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < end; j++) {
                scores[j] = dotF64(qs, qo, ks, ko + j * stride, d) * scale;
                max = Math.max(max, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j < end; j++) {
                scores[j] = Math.exp(scores[j] - max);
                sum += scores[j];
            }
            for (int j = 0; j < end; j++) {
                double p = scores[j] / sum;
                for (int c = 0; c < d; c++) {
                    out[oo + c] += p * vs[vo + j * stride + c];
                }
            }
            lse[bh * t + i] = max + Math.log(sum);
        }
    }

    // ------------------------------------------------------------------------------------------ backward

    /**
     * Gradients of the attention output given its upstream gradient g [B, Hq, T, D] and what the forward used
     * and returned. Per query row i, with P the probabilities recomputed from the log-sum-exp:
     * dP = dO vᵀ, D_i = rowsum(dO ∘ O), dS = P ∘ (dP - D_i), dq = dS k * scale, dk += dSᵀ q * scale, dv += Pᵀ dO.
     * Work is split over (batch, kv head) groups, each owning its slice of dk and dv and visiting its rows in a
     * fixed order, so the result is bit-identical for any thread count.
     */
    public static Grads backward(Tensor g, Tensor q, Tensor k, Tensor v, Tensor out, Tensor logSumExp, boolean causal,
            double scale) {
        String op = "Attention.backward";
        Dims dims = check(op, q, k, v, causal, scale);
        checkSaved(op, g, out, logSumExp, "q", q, dims);
        Tensor dq = Tensor.emptyLike(q);   // every element is written
        Tensor dk = Tensor.emptyLike(k);   // k and v have q's dtype (checked)
        Tensor dv = Tensor.emptyLike(v);
        backward(dims, g.contiguous(), q.contiguous(), k.contiguous(), v.contiguous(), out.contiguous(),
                logSumExp.contiguous(), dq, dk, dv, scale);
        return new Grads(dq, dk, dv);
    }

    /**
     * The gradient of {@link #forwardPacked}'s loss with respect to qkv, [B, T, (heads + 2·kvHeads)·D] like qkv,
     * given the upstream gradient g [B, T, heads·D] and the forward's output and log-sum-exp: the same values, bit for
     * bit, as {@link #backward} on the split heads with the three gradients put side by side.
     */
    public static Tensor backwardPacked(Tensor g, Tensor qkv, int heads, int kvHeads, Tensor out, Tensor logSumExp,
            boolean causal, double scale) {
        String op = "Attention.backwardPacked";
        Dims dims = checkPacked(op, qkv, heads, kvHeads, causal, scale);
        checkSaved(op, g, out, logSumExp, "qkv", qkv, dims);
        Tensor x = qkv.contiguous();
        Tensor dx = Tensor.empty(x.dtype(), dims.batch, dims.queries, x.size(2));   // every element is written
        backward(dims, g.contiguous(), x, x, x, out.contiguous(), logSumExp.contiguous(), dx, dx, dx, scale);
        return dx;
    }

    /**
     * The backward of either layout: inputs contiguous (q, k and v one tensor when packed), dq, dk and dv fresh
     * (one tensor when packed). Work is split over (batch, kv head) groups, each writing only its own rows.
     */
    private static void backward(Dims dims, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq,
            Tensor dk, Tensor dv, double scale) {
        int groups = dims.batch * dims.kvHeads;
        if (q.dtype() == DType.F32) {
            Parallel.forEachRange(groups, groups, 1, TASKS_F32.take().backward(dims, g, q, k, v, out, lse,
                    dq.f32Data(), dk.f32Data(), dv.f32Data(), (float) scale));
        } else {
            Parallel.forEachTask(groups, bkv -> {
                double[] dqs = dq.f64Data();
                double[] dks = dk.f64Data();
                double[] dvs = dv.f64Data();
                zeroGroupRowsF64(dims, bkv, dqs, dks, dvs);
                backwardGroupF64(dims, bkv, g, q, k, v, out, lse, dqs, dks, dvs, scale);
            });
        }
    }

    /**
     * Heads [from, to) of the F32 forward, or key/value groups [from, to) of the F32 backward, as a reusable
     * parallel task (see {@link Parallel.RangeTask}): no closure per call.
     */
    private static final class TasksF32 extends Parallel.RangeTask {
        private boolean backward;
        private Dims dims;
        private Tensor g, q, k, v, out, lse;
        private float[] os, ls, dq, dk, dv;
        private float scale;

        TasksF32 forward(Dims dims, Tensor q, Tensor k, Tensor v, float[] out, float[] lse, float scale) {
            inputs(false, dims, q, k, v, scale);
            this.os = out;
            this.ls = lse;
            return this;
        }

        TasksF32 backward(Dims dims, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float[] dq,
                          float[] dk, float[] dv, float scale) {
            inputs(true, dims, q, k, v, scale);
            this.g = g;
            this.out = out;
            this.lse = lse;
            this.dq = dq;
            this.dk = dk;
            this.dv = dv;
            return this;
        }

        private void inputs(boolean backward, Dims dims, Tensor q, Tensor k, Tensor v, float scale) {
            this.backward = backward;
            this.dims = dims;
            this.q = q;
            this.k = k;
            this.v = v;
            this.scale = scale;
        }

        @Override
        protected void run(int from, int to) {
            for (int i = from; i < to; i++) {
                if (backward) {
                    backwardGroupF32(dims, i, g, q, k, v, out, lse, dq, dk, dv, scale);
                } else {
                    forwardHeadF32(dims, i, q, k, v, os, ls, scale);
                }
            }
        }

        @Override
        protected void clear() {
            dims = null;
            g = q = k = v = out = lse = null;
            os = ls = dq = dk = dv = null;
        }
    }

    private static final Parallel.TaskCache<TasksF32> TASKS_F32 = new Parallel.TaskCache<>(TasksF32::new);

    /**
     * Zeroes the rows the F64 backward of group bkv accumulates into: dq's rows of the group's query heads, dk's
     * and dv's of its kv head. The groups' rows together are every element of dq, dk and dv, and no two groups
     * share one (dq, dk and dv are one array when packed).
     */
    private static void zeroGroupRowsF64(Dims dims, int bkv, double[] dq, double[] dk, double[] dv) {
        int d = dims.headDim;
        int firstHead = firstQueryHead(dims, bkv);
        for (int h = firstHead; h < firstHead + dims.group(); h++) {
            for (int i = 0; i < dims.queries; i++) {
                Arrays.fill(dq, dims.queryRow(h, i), dims.queryRow(h, i) + d, 0.0);
            }
        }
        for (int j = 0; j < dims.keys; j++) {
            Arrays.fill(dk, dims.keyRow(bkv, j), dims.keyRow(bkv, j) + d, 0.0);
            Arrays.fill(dv, dims.valueRow(bkv, j), dims.valueRow(bkv, j) + d, 0.0);
        }
    }

    /** The first of the query heads, b * Hq + kvh * group, that read kv head bkv = b * Hkv + kvh. */
    private static int firstQueryHead(Dims dims, int bkv) {
        return (bkv / dims.kvHeads) * dims.qHeads + (bkv % dims.kvHeads) * dims.group();
    }

    /**
     * Every query row that reads kv head bkv = b * Hkv + kvh; writes dq of those rows and dk, dv of that head, every
     * element of them. dk and dv are accumulated in contiguous per-thread buffers and copied out when the group is
     * done, dq a tile at a time likewise, so the hot loops run on head-major rows whatever the tensors' layout (in
     * the packed one a head's rows are a fused row apart) and nothing needs zeroing in the output first.
     */
    private static void backwardGroupF32(Dims dims, int bkv, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out,
            Tensor lse, float[] dq, float[] dk, float[] dv, float scale) {
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        int stride = dims.inputStride();          // rows of q, k, v, dq, dk, dv
        int outStride = dims.outputStride();      // rows of g and out
        float[] gs = g.f32Data();
        float[] qs = q.f32Data();
        float[] ks = k.f32Data();
        float[] os = out.f32Data();
        float[] ls = lse.f32Data();
        int ko = k.offset() + dims.keyRow(bkv, 0);
        float[] kT = transposedHead(ks, ko, s, d, stride, Scratch.ATTENTION_KEYS);
        float[] vT = transposedHead(v.f32Data(), v.offset() + dims.valueRow(bkv, 0), s, d, stride,
                Scratch.ATTENTION_VALUES);
        RowBuffers buffers = ROW_BUFFERS.get();
        if (stride != d) {   // the rows dq = dS k reads, gathered as the forward does its values
            ks = gatherRows(ks, ko, stride, s, d, buffers.headRows(s * d));
            ko = 0;
        }
        // Rows are taken ROW_TILE at a time: their scores four rows at a time, then dk and dv updated once for the
        // whole tile with a few keys' slices held in registers (outerProductsF32). Every element of dk and dv still
        // receives the rows' contributions one by one in ascending row order, and every dq element its keys' in
        // ascending key order, so the result is the same as row by row.
        float[] qPacked = buffers.qPacked(d);
        float[] gPacked = buffers.gPacked(d);
        float[] p = buffers.pTile;
        float[] dS = buffers.dSTile;
        int[] visible = buffers.visible;
        float[] rowLse = buffers.max;
        float[] gDotOut = buffers.sum;
        float[] dqTile = buffers.dqTile(d);
        float[] dkHead = buffers.keyGrads(s * d);
        float[] dvHead = buffers.valueGrads(s * d);
        Arrays.fill(dkHead, 0, s * d, 0f);
        Arrays.fill(dvHead, 0, s * d, 0f);
        int firstHead = firstQueryHead(dims, bkv);
        for (int h = firstHead; h < firstHead + dims.group(); h++) {
            for (int i0 = 0; i0 < t; i0 += ROW_TILE) {
                int rows = Math.min(ROW_TILE, t - i0);
                for (int r = 0; r < rows; r++) {
                    int row = dims.outputRow(h, i0 + r);
                    rowLse[r] = ls[lse.offset() + h * t + i0 + r];
                    gDotOut[r] = Lanes.dot(gs, g.offset() + row, os, out.offset() + row, d);
                }
                packRows(qs, q.offset() + dims.queryRow(h, i0), rows, d, stride, scale, qPacked);
                packRows(gs, g.offset() + dims.outputRow(h, i0), rows, d, outStride, 1f, gPacked);
                Arrays.fill(dqTile, 0, rows * d, 0f);
                int end = dims.keyEnd(i0 + rows - 1);   // the last row sees the most keys
                for (int j0 = 0; j0 < end; j0 += KEY_BLOCK) {
                    for (int r = 0; r < rows; r++) {
                        visible[r] = Math.max(0, Math.min(KEY_BLOCK, dims.keyEnd(i0 + r) - j0));
                    }
                    for (int r0 = 0; r0 < rows; r0 += ROW_GROUP) {
                        backwardRowGroupF32(r0, Math.min(ROW_GROUP, rows - r0), visible, qPacked, gPacked, kT, vT, j0,
                                d, rowLse, gDotOut, p, dS, ks, ko, dqTile);
                    }
                    outerProductsF32(dS, visible, rows, qPacked, dkHead, j0 * d, d);
                    outerProductsF32(p, visible, rows, gPacked, dvHead, j0 * d, d);
                }
                for (int r = 0; r < rows; r++) {
                    scaleInto(dqTile, r * d, scale, dq, dims.queryRow(h, i0 + r), d);
                }
            }
        }
        scatterRows(dkHead, s, d, dk, dims.keyRow(bkv, 0), stride);
        scatterRows(dvHead, s, d, dv, dims.valueRow(bkv, 0), stride);
    }

    /**
     * Copies {@code rows} rows of d values, row r at from[at + r * stride], into to[0, rows * d) and returns to.
     * A System.arraycopy call per row would cost about as much as copying a row of 32 or 64 values itself.
     */
    private static float[] gatherRows(float[] from, int at, int stride, int rows, int d, float[] to) {
        int bound = F.loopBound(d);
        for (int r = 0; r < rows; r++) {
            int c = 0;
            for (; c < bound; c += LANES) {
                FloatVector.fromArray(F, from, at + r * stride + c).intoArray(to, r * d + c);
            }
            for (; c < d; c++) {
                to[r * d + c] = from[at + r * stride + c];
            }
        }
        return to;
    }

    /** The reverse of {@link #gatherRows}: rows of d values from from[0, rows * d) to to[at + r * stride]. */
    private static void scatterRows(float[] from, int rows, int d, float[] to, int at, int stride) {
        if (stride == d) {
            System.arraycopy(from, 0, to, at, rows * d);
            return;
        }
        int bound = F.loopBound(d);
        for (int r = 0; r < rows; r++) {
            int c = 0;
            for (; c < bound; c += LANES) {
                FloatVector.fromArray(F, from, r * d + c).intoArray(to, at + r * stride + c);
            }
            for (; c < d; c++) {
                to[at + r * stride + c] = from[r * d + c];
            }
        }
    }

    /**
     * For the rows [r0, r0 + rows) of a tile (rows <= ROW_GROUP) and the key block at j0: the probabilities p and
     * dS = p (dP - D) over the keys each row sees, and their terms of dq = dS k (rows of k contiguous from ko, dq
     * of the tile's row r at dqTile[r * d]).
     */
    private static void backwardRowGroupF32(int r0, int rows, int[] visible, float[] qPacked, float[] gPacked,
            float[] kT, float[] vT, int j0, int d, float[] rowLse, float[] gDotOut, float[] p, float[] dS, float[] ks,
            int ko, float[] dqTile) {
        int maxLanes = 0;
        int common = KEY_BLOCK;   // keys every row of the block sees
        for (int r = r0; r < r0 + rows; r++) {
            maxLanes = Math.max(maxLanes, F.loopBound(visible[r] + F.length() - 1));
            common = Math.min(common, visible[r]);
        }
        if (maxLanes == 0) {
            return;
        }
        // All eight rows, whatever rows is: the scores of rows past the tile's last are never read. Lanes past a
        // row's own visible keys are computed too, and never read.
        scoresEightRowsF32(qPacked, r0, d, p, kT, keyBlockStart(j0, d), maxLanes);
        scoresEightRowsF32(gPacked, r0, d, dS, vT, keyBlockStart(j0, d), maxLanes);
        for (int r = r0; r < r0 + rows; r++) {
            int n = visible[r];
            if (n == 0) {
                continue;
            }
            softmaxAndGradF32(p, dS, r * KEY_BLOCK, F.loopBound(n + F.length() - 1), rowLse[r], gDotOut[r]);
        }
        // dq = dS k as in the forward's weighted sums: shared keys eight rows at a time, then each row's own, in
        // ascending key order per row.
        int shared = rows == ROW_GROUP ? common : 0;
        if (shared > 0) {
            weightedEightRowSumsF32(dS, r0 * KEY_BLOCK, shared, ks, ko + j0 * d, d, dqTile, r0 * d);
        }
        for (int r = r0; r < r0 + rows; r++) {
            if (visible[r] > shared) {
                weightedRowSumF32(dS, r * KEY_BLOCK, shared, visible[r], ks, ko + j0 * d, d, dqTile, r * d);
            }
        }
    }

    private static void backwardGroupF64(Dims dims, int bkv, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out,
            Tensor lse, double[] dq, double[] dk, double[] dv, double scale) {
        int t = dims.queries;
        int d = dims.headDim;
        int stride = dims.inputStride();
        double[] gs = g.f64Data();
        double[] qs = q.f64Data();
        double[] ks = k.f64Data();
        double[] vs = v.f64Data();
        double[] os = out.f64Data();
        double[] ls = lse.f64Data();
        int ko = k.offset() + dims.keyRow(bkv, 0);
        int vo = v.offset() + dims.valueRow(bkv, 0);
        int dko = dims.keyRow(bkv, 0);   // dq, dk, dv: fresh, offset 0
        int dvo = dims.valueRow(bkv, 0);
        int firstHead = firstQueryHead(dims, bkv);
        for (int h = firstHead; h < firstHead + dims.group(); h++) {
            for (int i = 0; i < t; i++) {
                int qo = q.offset() + dims.queryRow(h, i);
                int go = g.offset() + dims.outputRow(h, i);
                int dqo = dims.queryRow(h, i);
                double rowLse = ls[lse.offset() + h * t + i];
                double gDotOut = dotF64(gs, go, os, out.offset() + dims.outputRow(h, i), d);
                int end = dims.keyEnd(i);
                for (int j = 0; j < end; j++) {
                    double p = Math.exp(dotF64(qs, qo, ks, ko + j * stride, d) * scale - rowLse);
                    double dP = dotF64(gs, go, vs, vo + j * stride, d);
                    double dS = p * (dP - gDotOut);
                    for (int c = 0; c < d; c++) {
                        dq[dqo + c] += dS * ks[ko + j * stride + c] * scale;
                        dk[dko + j * stride + c] += dS * qs[qo + c] * scale;
                        dv[dvo + j * stride + c] += p * gs[go + c];
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ probabilities

    /**
     * The attention probabilities [B, Hq, T, S] (masked entries 0), for looking at what heads attend to.
     * This one does materialise the scores; training never calls it.
     */
    public static Tensor probabilities(Tensor q, Tensor k, boolean causal, double scale) {
        Dims dims = check("Attention.probabilities", q, k, k, causal, scale);
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        // Fresh copies: toDoubleArray of a contiguous view with an offset would return its whole storage.
        double[] qs = q.copy().toDoubleArray();
        double[] ks = k.copy().toDoubleArray();
        double[] probs = new double[dims.batch * dims.qHeads * t * s];
        for (int bh = 0; bh < dims.batch * dims.qHeads; bh++) {
            int ko = kvHeadOf(dims, bh) * s * d;
            for (int i = 0; i < t; i++) {
                int row = bh * t + i;
                int end = dims.keyEnd(i);
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < end; j++) {
                    probs[row * s + j] = dotF64(qs, row * d, ks, ko + j * d, d) * scale;
                    max = Math.max(max, probs[row * s + j]);
                }
                double sum = 0;
                for (int j = 0; j < end; j++) {
                    probs[row * s + j] = Math.exp(probs[row * s + j] - max);
                    sum += probs[row * s + j];
                }
                for (int j = 0; j < end; j++) {
                    probs[row * s + j] /= sum;
                }
            }
        }
        return Tensor.wrap(probs, dims.batch, dims.qHeads, t, s).to(q.dtype());
    }

    // ------------------------------------------------------------------------------------------ checks

    /**
     * Checks the arguments of an attention call and returns its sizes. Runs on every call, so it compares sizes
     * in place and builds a message only when it throws.
     */
    private static Dims check(String op, Tensor q, Tensor k, Tensor v, boolean causal, double scale) {
        checkRank4(op, "q", q);
        checkRank4(op, "k", k);
        checkRank4(op, "v", v);
        if (q.dtype() != k.dtype() || q.dtype() != v.dtype()) {
            throw new IllegalArgumentException(op + ": q, k and v must share a dtype, got " + q.dtype() + ", "
                    + k.dtype() + " and " + v.dtype());
        }
        if (!k.sameShape(v)) {
            throw new ShapeException(op + ": k and v must have the same shape" + shapes(q, k, v));
        }
        if (q.size(0) != k.size(0)) {
            throw new ShapeException(op + ": q and k have different batch sizes" + shapes(q, k, v));
        }
        if (q.size(3) != k.size(3)) {
            throw new ShapeException(op + ": q and k have different head dims " + q.size(3) + " and " + k.size(3)
                    + shapes(q, k, v));
        }
        int qHeads = q.size(1);
        int kvHeads = k.size(1);
        if (kvHeads == 0 || qHeads % kvHeads != 0) {
            throw new ShapeException(op + ": query heads (" + qHeads + ") must be a multiple of key/value heads ("
                    + kvHeads + ")" + shapes(q, k, v));
        }
        int t = q.size(2);
        int s = k.size(2);
        if (s == 0 || q.size(3) == 0) {
            throw new ShapeException(op + ": need at least one key and a non-empty head dim" + shapes(q, k, v));
        }
        if (causal && t > s) {
            throw new ShapeException(op + ": causal attention needs at least as many keys as queries (the queries are "
                    + "the last T of the S key positions), got T = " + t + " > S = " + s + shapes(q, k, v));
        }
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException(op + ": scale must be finite, got " + scale);
        }
        return new Dims(q.size(0), qHeads, kvHeads, t, s, q.size(3), causal, false);
    }

    private static void checkRank4(String op, String name, Tensor x) {
        if (x.rank() != 4) {
            throw new ShapeException(op + ": " + name + " must have rank 4 ([batch, heads, seq, headDim]), got "
                    + Shapes.str(x.shape()));
        }
    }

    /** The three shapes, for an error message. */
    private static String shapes(Tensor q, Tensor k, Tensor v) {
        return " (q " + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape()) + ", v " + Shapes.str(v.shape()) + ")";
    }

    /**
     * Checks the arguments of a packed call (qkv [B, T, (heads + 2·kvHeads)·D]) and returns its sizes, S = T.
     * Compares in place and builds a message only when it throws, as {@link #check}.
     */
    private static Dims checkPacked(String op, Tensor qkv, int heads, int kvHeads, boolean causal, double scale) {
        if (qkv.rank() != 3) {
            throw new ShapeException(op + ": qkv must have rank 3 ([batch, seq, (heads + 2 * kvHeads) * headDim]), "
                    + "got " + Shapes.str(qkv.shape()));
        }
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new ShapeException(op + ": query heads (" + heads + ") must be a positive multiple of key/value "
                    + "heads (" + kvHeads + "), qkv " + Shapes.str(qkv.shape()));
        }
        int width = qkv.size(2);
        int perPosition = heads + 2 * kvHeads;
        if (width == 0 || width % perPosition != 0) {
            throw new ShapeException(op + ": qkv's last dim must be (heads + 2 * kvHeads) * headDim = " + perPosition
                    + " * headDim with headDim > 0 for heads " + heads + " and kvHeads " + kvHeads + ", got qkv "
                    + Shapes.str(qkv.shape()));
        }
        if (qkv.size(1) == 0) {
            throw new ShapeException(op + ": need at least one position, got qkv " + Shapes.str(qkv.shape()));
        }
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException(op + ": scale must be finite, got " + scale);
        }
        int time = qkv.size(1);
        return new Dims(qkv.size(0), heads, kvHeads, time, time, width / perPosition, causal, true);
    }

    /**
     * Checks what the backward is handed besides the inputs: g and out have the input's dtype and the output's
     * shape ({@link Dims#outShape}), the log-sum-exp the input's dtype and shape [B, Hq, T].
     */
    private static void checkSaved(String op, Tensor g, Tensor out, Tensor logSumExp, String inputName, Tensor input,
            Dims dims) {
        checkSaved(op, "g", g, inputName, input, dims, false);
        checkSaved(op, "out", out, inputName, input, dims, false);
        checkSaved(op, "logSumExp", logSumExp, inputName, input, dims, true);
    }

    private static void checkSaved(String op, String name, Tensor x, String inputName, Tensor input, Dims dims,
            boolean perRow) {
        if (x.dtype() != input.dtype()) {
            throw new IllegalArgumentException(op + ": " + name + " is " + x.dtype() + " but " + inputName + " is "
                    + input.dtype());
        }
        boolean fits = perRow
                ? x.rank() == 3 && x.size(0) == dims.batch && x.size(1) == dims.qHeads && x.size(2) == dims.queries
                : dims.isOutShaped(x);
        if (!fits) {
            throw new ShapeException(op + ": " + name + " must have shape "
                    + Shapes.str(perRow ? dims.rowShape() : dims.outShape()) + ", got " + Shapes.str(x.shape()));
        }
    }

    /** Flat index of the kv head read by query head bh = b * Hq + h, as b * Hkv + h / group. */
    private static int kvHeadOf(Dims dims, int bh) {
        return (bh / dims.qHeads) * dims.kvHeads + (bh % dims.qHeads) / dims.group();
    }

    // ------------------------------------------------------------------------------------------ F32 row kernels

    /** Where the transposed block of keys starting at key j0 (a multiple of KEY_BLOCK) starts in transposedHead. */
    private static int keyBlockStart(int j0, int d) {
        return j0 * d;
    }

    /**
     * A head's s keys (or values) of d values, key j at {@code base + j * stride}, transposed block by block: for
     * each block of KEY_BLOCK keys, column c of its keys side by side, [d, KEY_BLOCK], so element (j, c) lands at
     * keyBlockStart(j - j % KEY_BLOCK, d) + c * KEY_BLOCK + j % KEY_BLOCK. The scores of consecutive keys are then
     * consecutive lanes, and a kernel walking the columns of a block steps by the constant KEY_BLOCK, which the
     * JIT addresses without a multiply or a range check per step. The last block is padded with zero keys, so a
     * block never needs a scalar tail. Written into this thread's scratch array {@code slot}, so a step does not
     * allocate one per head.
     *
     * <p>A vector's worth of keys' column c is one gather (a key's row apart each), about twice as fast as
     * copying element by element, since either way one side is read or written with a stride.
     */
    private static float[] transposedHead(float[] x, int base, int s, int d, int stride, int slot) {
        int blocks = (s + KEY_BLOCK - 1) / KEY_BLOCK;
        float[] t = Scratch.f32(slot, blocks * KEY_BLOCK * d);
        int[] keyOffsets = ROW_BUFFERS.get().keyOffsets(stride);
        int wholeVectors = F.loopBound(s);
        for (int j = 0; j < wholeVectors; j += LANES) {
            int to = keyBlockStart(j - j % KEY_BLOCK, d) + j % KEY_BLOCK;
            for (int c = 0; c < d; c++) {
                FloatVector.fromArray(F, x, base + j * stride + c, keyOffsets, 0).intoArray(t, to + c * KEY_BLOCK);
            }
        }
        for (int j = wholeVectors; j < blocks * KEY_BLOCK; j++) {   // the last keys, then the padding
            int to = keyBlockStart(j - j % KEY_BLOCK, d) + j % KEY_BLOCK;
            for (int c = 0; c < d; c++) {
                t[to + c * KEY_BLOCK] = j < s ? x[base + j * stride + c] : 0f;
            }
        }
        return t;
    }

    /**
     * scores[r * KEY_BLOCK + j] = sum over c of x(r, c) * kT(c, j0 + j) for the eight rows r = first..first+7 of a
     * tile packed by packRows and j in [0, lanes), lanes a multiple of the vector length, the keys' block starting
     * at kb = keyBlockStart(j0, d) in kT (see transposedHead): a block of dot products, vectorised over keys so no
     * lane reduction is needed. Each score is one chain of fmas over c in ascending order from zero, whichever rows
     * and keys are computed beside it. Two vectors of keys at a time, then one: sixteen independent accumulators
     * keep both FMA units busy, each broadcast query value serves two products and each loaded key slice eight.
     * The columns are walked by vectors' worth, in which the eight rows' values sit at constant distances from one
     * index, so the JIT needs one address register for them rather than eight.
     */
    private static void scoresEightRowsF32(float[] x, int first, int d, float[] scores, float[] kT, int kb,
            int lanes) {
        int so = first * KEY_BLOCK;
        int j = 0;
        for (; j + 2 * LANES <= lanes; j += 2 * LANES) {
            var a00 = FloatVector.zero(F);
            var a01 = FloatVector.zero(F);
            var a10 = FloatVector.zero(F);
            var a11 = FloatVector.zero(F);
            var a20 = FloatVector.zero(F);
            var a21 = FloatVector.zero(F);
            var a30 = FloatVector.zero(F);
            var a31 = FloatVector.zero(F);
            var a40 = FloatVector.zero(F);
            var a41 = FloatVector.zero(F);
            var a50 = FloatVector.zero(F);
            var a51 = FloatVector.zero(F);
            var a60 = FloatVector.zero(F);
            var a61 = FloatVector.zero(F);
            var a70 = FloatVector.zero(F);
            var a71 = FloatVector.zero(F);
            for (int c = 0; c < d; c++) {
                int xc = c / LANES * (ROW_TILE * LANES) + first * LANES + c % LANES;   // row first + m: + m * LANES
                int at = kb + c * KEY_BLOCK + j;
                var k0 = FloatVector.fromArray(F, kT, at);
                var k1 = FloatVector.fromArray(F, kT, at + LANES);
                var y = FloatVector.broadcast(F, x[xc]);
                a00 = k0.fma(y, a00);
                a01 = k1.fma(y, a01);
                y = FloatVector.broadcast(F, x[xc + LANES]);
                a10 = k0.fma(y, a10);
                a11 = k1.fma(y, a11);
                y = FloatVector.broadcast(F, x[xc + 2 * LANES]);
                a20 = k0.fma(y, a20);
                a21 = k1.fma(y, a21);
                y = FloatVector.broadcast(F, x[xc + 3 * LANES]);
                a30 = k0.fma(y, a30);
                a31 = k1.fma(y, a31);
                y = FloatVector.broadcast(F, x[xc + 4 * LANES]);
                a40 = k0.fma(y, a40);
                a41 = k1.fma(y, a41);
                y = FloatVector.broadcast(F, x[xc + 5 * LANES]);
                a50 = k0.fma(y, a50);
                a51 = k1.fma(y, a51);
                y = FloatVector.broadcast(F, x[xc + 6 * LANES]);
                a60 = k0.fma(y, a60);
                a61 = k1.fma(y, a61);
                y = FloatVector.broadcast(F, x[xc + 7 * LANES]);
                a70 = k0.fma(y, a70);
                a71 = k1.fma(y, a71);
            }
            a00.intoArray(scores, so + j);
            a01.intoArray(scores, so + j + LANES);
            a10.intoArray(scores, so + KEY_BLOCK + j);
            a11.intoArray(scores, so + KEY_BLOCK + j + LANES);
            a20.intoArray(scores, so + 2 * KEY_BLOCK + j);
            a21.intoArray(scores, so + 2 * KEY_BLOCK + j + LANES);
            a30.intoArray(scores, so + 3 * KEY_BLOCK + j);
            a31.intoArray(scores, so + 3 * KEY_BLOCK + j + LANES);
            a40.intoArray(scores, so + 4 * KEY_BLOCK + j);
            a41.intoArray(scores, so + 4 * KEY_BLOCK + j + LANES);
            a50.intoArray(scores, so + 5 * KEY_BLOCK + j);
            a51.intoArray(scores, so + 5 * KEY_BLOCK + j + LANES);
            a60.intoArray(scores, so + 6 * KEY_BLOCK + j);
            a61.intoArray(scores, so + 6 * KEY_BLOCK + j + LANES);
            a70.intoArray(scores, so + 7 * KEY_BLOCK + j);
            a71.intoArray(scores, so + 7 * KEY_BLOCK + j + LANES);
        }
        if (j < lanes) {
            var a0 = FloatVector.zero(F);
            var a1 = FloatVector.zero(F);
            var a2 = FloatVector.zero(F);
            var a3 = FloatVector.zero(F);
            var a4 = FloatVector.zero(F);
            var a5 = FloatVector.zero(F);
            var a6 = FloatVector.zero(F);
            var a7 = FloatVector.zero(F);
            for (int c = 0; c < d; c++) {
                int xc = c / LANES * (ROW_TILE * LANES) + first * LANES + c % LANES;   // row first + m: + m * LANES
                var k = FloatVector.fromArray(F, kT, kb + c * KEY_BLOCK + j);
                a0 = k.fma(FloatVector.broadcast(F, x[xc]), a0);
                a1 = k.fma(FloatVector.broadcast(F, x[xc + LANES]), a1);
                a2 = k.fma(FloatVector.broadcast(F, x[xc + 2 * LANES]), a2);
                a3 = k.fma(FloatVector.broadcast(F, x[xc + 3 * LANES]), a3);
                a4 = k.fma(FloatVector.broadcast(F, x[xc + 4 * LANES]), a4);
                a5 = k.fma(FloatVector.broadcast(F, x[xc + 5 * LANES]), a5);
                a6 = k.fma(FloatVector.broadcast(F, x[xc + 6 * LANES]), a6);
                a7 = k.fma(FloatVector.broadcast(F, x[xc + 7 * LANES]), a7);
            }
            a0.intoArray(scores, so + j);
            a1.intoArray(scores, so + KEY_BLOCK + j);
            a2.intoArray(scores, so + 2 * KEY_BLOCK + j);
            a3.intoArray(scores, so + 3 * KEY_BLOCK + j);
            a4.intoArray(scores, so + 4 * KEY_BLOCK + j);
            a5.intoArray(scores, so + 5 * KEY_BLOCK + j);
            a6.intoArray(scores, so + 6 * KEY_BLOCK + j);
            a7.intoArray(scores, so + 7 * KEY_BLOCK + j);
        }
    }

    /**
     * {@link #weightedRowSumF32} over j in [0, n) for the eight rows of weights at w[wo + m * KEY_BLOCK ..] into
     * the eight consecutive rows acc[ao + m * d ..]; each accumulator receives the same fmas in the same order. The
     * head dim is taken two vectors at a time where it allows: sixteen independent accumulators keep both FMA
     * units busy, and each loaded row slice serves eight products.
     */
    private static void weightedEightRowSumsF32(float[] w, int wo, int n, float[] rows, int ro, int d, float[] acc,
            int ao) {
        int bound = F.loopBound(d);
        int c = 0;
        for (; c + 2 * LANES <= bound; c += 2 * LANES) {
            int t0 = ao + c;
            var a00 = FloatVector.fromArray(F, acc, t0);
            var a01 = FloatVector.fromArray(F, acc, t0 + LANES);
            var a10 = FloatVector.fromArray(F, acc, t0 + d);
            var a11 = FloatVector.fromArray(F, acc, t0 + d + LANES);
            var a20 = FloatVector.fromArray(F, acc, t0 + 2 * d);
            var a21 = FloatVector.fromArray(F, acc, t0 + 2 * d + LANES);
            var a30 = FloatVector.fromArray(F, acc, t0 + 3 * d);
            var a31 = FloatVector.fromArray(F, acc, t0 + 3 * d + LANES);
            var a40 = FloatVector.fromArray(F, acc, t0 + 4 * d);
            var a41 = FloatVector.fromArray(F, acc, t0 + 4 * d + LANES);
            var a50 = FloatVector.fromArray(F, acc, t0 + 5 * d);
            var a51 = FloatVector.fromArray(F, acc, t0 + 5 * d + LANES);
            var a60 = FloatVector.fromArray(F, acc, t0 + 6 * d);
            var a61 = FloatVector.fromArray(F, acc, t0 + 6 * d + LANES);
            var a70 = FloatVector.fromArray(F, acc, t0 + 7 * d);
            var a71 = FloatVector.fromArray(F, acc, t0 + 7 * d + LANES);
            for (int j = 0; j < n; j++) {
                int at = ro + j * d + c;
                var xa = FloatVector.fromArray(F, rows, at);
                var xb = FloatVector.fromArray(F, rows, at + LANES);
                var y = FloatVector.broadcast(F, w[wo + j]);
                a00 = xa.fma(y, a00);
                a01 = xb.fma(y, a01);
                y = FloatVector.broadcast(F, w[wo + KEY_BLOCK + j]);
                a10 = xa.fma(y, a10);
                a11 = xb.fma(y, a11);
                y = FloatVector.broadcast(F, w[wo + 2 * KEY_BLOCK + j]);
                a20 = xa.fma(y, a20);
                a21 = xb.fma(y, a21);
                y = FloatVector.broadcast(F, w[wo + 3 * KEY_BLOCK + j]);
                a30 = xa.fma(y, a30);
                a31 = xb.fma(y, a31);
                y = FloatVector.broadcast(F, w[wo + 4 * KEY_BLOCK + j]);
                a40 = xa.fma(y, a40);
                a41 = xb.fma(y, a41);
                y = FloatVector.broadcast(F, w[wo + 5 * KEY_BLOCK + j]);
                a50 = xa.fma(y, a50);
                a51 = xb.fma(y, a51);
                y = FloatVector.broadcast(F, w[wo + 6 * KEY_BLOCK + j]);
                a60 = xa.fma(y, a60);
                a61 = xb.fma(y, a61);
                y = FloatVector.broadcast(F, w[wo + 7 * KEY_BLOCK + j]);
                a70 = xa.fma(y, a70);
                a71 = xb.fma(y, a71);
            }
            a00.intoArray(acc, t0);
            a01.intoArray(acc, t0 + LANES);
            a10.intoArray(acc, t0 + d);
            a11.intoArray(acc, t0 + d + LANES);
            a20.intoArray(acc, t0 + 2 * d);
            a21.intoArray(acc, t0 + 2 * d + LANES);
            a30.intoArray(acc, t0 + 3 * d);
            a31.intoArray(acc, t0 + 3 * d + LANES);
            a40.intoArray(acc, t0 + 4 * d);
            a41.intoArray(acc, t0 + 4 * d + LANES);
            a50.intoArray(acc, t0 + 5 * d);
            a51.intoArray(acc, t0 + 5 * d + LANES);
            a60.intoArray(acc, t0 + 6 * d);
            a61.intoArray(acc, t0 + 6 * d + LANES);
            a70.intoArray(acc, t0 + 7 * d);
            a71.intoArray(acc, t0 + 7 * d + LANES);
        }
        for (; c < bound; c += LANES) {
            int t0 = ao + c;
            var a0 = FloatVector.fromArray(F, acc, t0);
            var a1 = FloatVector.fromArray(F, acc, t0 + d);
            var a2 = FloatVector.fromArray(F, acc, t0 + 2 * d);
            var a3 = FloatVector.fromArray(F, acc, t0 + 3 * d);
            var a4 = FloatVector.fromArray(F, acc, t0 + 4 * d);
            var a5 = FloatVector.fromArray(F, acc, t0 + 5 * d);
            var a6 = FloatVector.fromArray(F, acc, t0 + 6 * d);
            var a7 = FloatVector.fromArray(F, acc, t0 + 7 * d);
            for (int j = 0; j < n; j++) {
                var xa = FloatVector.fromArray(F, rows, ro + j * d + c);
                a0 = xa.fma(FloatVector.broadcast(F, w[wo + j]), a0);
                a1 = xa.fma(FloatVector.broadcast(F, w[wo + KEY_BLOCK + j]), a1);
                a2 = xa.fma(FloatVector.broadcast(F, w[wo + 2 * KEY_BLOCK + j]), a2);
                a3 = xa.fma(FloatVector.broadcast(F, w[wo + 3 * KEY_BLOCK + j]), a3);
                a4 = xa.fma(FloatVector.broadcast(F, w[wo + 4 * KEY_BLOCK + j]), a4);
                a5 = xa.fma(FloatVector.broadcast(F, w[wo + 5 * KEY_BLOCK + j]), a5);
                a6 = xa.fma(FloatVector.broadcast(F, w[wo + 6 * KEY_BLOCK + j]), a6);
                a7 = xa.fma(FloatVector.broadcast(F, w[wo + 7 * KEY_BLOCK + j]), a7);
            }
            a0.intoArray(acc, t0);
            a1.intoArray(acc, t0 + d);
            a2.intoArray(acc, t0 + 2 * d);
            a3.intoArray(acc, t0 + 3 * d);
            a4.intoArray(acc, t0 + 4 * d);
            a5.intoArray(acc, t0 + 5 * d);
            a6.intoArray(acc, t0 + 6 * d);
            a7.intoArray(acc, t0 + 7 * d);
        }
        for (int m = 0; m < ROW_GROUP; m++) {
            for (int cc = c; cc < d; cc++) {
                float sum = acc[ao + m * d + cc];
                for (int j = 0; j < n; j++) {
                    sum = Math.fma(rows[ro + j * d + cc], w[wo + m * KEY_BLOCK + j], sum);
                }
                acc[ao + m * d + cc] = sum;
            }
        }
    }

    /**
     * acc[ao + c] += sum_{j in [from, to)} w[wo + j] * rows[ro + j * d + c], the terms added in ascending j: a weighted
     * sum of value rows, vectorised over the head dim. Continuing a sum with a later range adds exactly what one
     * call over both ranges would.
     */
    private static void weightedRowSumF32(float[] w, int wo, int from, int to, float[] rows, int ro, int d,
            float[] acc, int ao) {
        int bound = F.loopBound(d);
        int c = 0;
        for (; c < bound; c += F.length()) {
            var sum = FloatVector.fromArray(F, acc, ao + c);
            for (int j = from; j < to; j++) {
                sum = FloatVector.fromArray(F, rows, ro + j * d + c).fma(FloatVector.broadcast(F, w[wo + j]), sum);
            }
            sum.intoArray(acc, ao + c);
        }
        for (; c < d; c++) {
            float sum = acc[ao + c];
            for (int j = from; j < to; j++) {
                sum = Math.fma(rows[ro + j * d + c], w[wo + j], sum);
            }
            acc[ao + c] = sum;
        }
    }

    /**
     * The largest of x[o..o + lanes), lanes a positive multiple of the vector length, compared as integers: a
     * float's bits with the magnitude bits of negative values flipped order as the floats do (-0 below +0, -inf at
     * the bottom), and integer max needs none of the NaN care that makes a float max reduction several times
     * slower. A row whose scores hold a NaN gets NaN probabilities either way.
     */
    private static float maxF32(float[] x, int o, int lanes) {
        var max = IntVector.broadcast(I, Integer.MIN_VALUE);
        for (int i = o; i < o + lanes; i += LANES) {
            var bits = FloatVector.fromArray(F, x, i).reinterpretAsInts();
            var negativeMagnitude = bits.lanewise(VectorOperators.ASHR, 31).and(Integer.MAX_VALUE);
            max = max.max(bits.lanewise(VectorOperators.XOR, negativeMagnitude));   // flipped back below
        }
        int bits = max.reduceLanes(VectorOperators.MAX);
        return Float.intBitsToFloat(bits ^ ((bits >> 31) & Integer.MAX_VALUE));
    }

    /**
     * x[j] = exp(x[j] - shift) for j in [o, o + lanes), returning their sum: the vectors added in order, then their
     * lanes in {@link Lanes#sum}'s order, so the sum does not depend on how the keys are tiled (array-level: nothing
     * to box if C2 leaves the call out of line).
     */
    private static float expShiftedSumF32(float[] x, int o, int lanes, float shift) {
        return VectorMath.expShiftedSum(x, o, x, o, lanes, shift);
    }

    /**
     * For j in [o, o + lanes), lanes a multiple of the vector length: p[j] = exp(p[j] - lse), a score turned into
     * its probability, and dS[j] = p[j] * (dS[j] - gDotOut), the dP there turned into the score's gradient. Lanes past
     * a row's visible keys get values nobody reads. Each p is the bits the forward's {@link #expShiftedSumF32}
     * gives (the same operations), without the sum the backward does not need.
     */
    private static void softmaxAndGradF32(float[] p, float[] dS, int o, int lanes, float lse, float gDotOut) {
        VectorMath.expShiftedInPlace(p, o, lanes, lse);   // array-level: nothing to box if left out of line
        for (int j = o; j < o + lanes; j += LANES) {
            FloatVector.fromArray(F, dS, j).sub(gDotOut).mul(FloatVector.fromArray(F, p, j)).intoArray(dS, j);
        }
    }

    /** Length of a packRows buffer for rows of d values: whole vectors of columns, ROW_TILE rows each. */
    private static int packedLength(int d) {
        return (d + LANES - 1) / LANES * ROW_TILE * LANES;
    }

    /**
     * Copies rows [0, rows) of d values (row r at xo + r * stride), times {@code scale}, into {@code packed} by
     * vectors of columns: element (r, c) goes to (c / LANES) * ROW_TILE * LANES + r * LANES + c % LANES. A loop
     * over rows then reads each row's slice of LANES columns at a constant stride, which the JIT addresses without
     * a multiply or a range check per row, and the rows of a slice sit at constant distances from each other.
     */
    private static void packRows(float[] x, int xo, int rows, int d, int stride, float scale, float[] packed) {
        int bound = F.loopBound(d);
        for (int r = 0; r < rows; r++) {
            int c = 0;
            for (; c < bound; c += LANES) {
                FloatVector.fromArray(F, x, xo + r * stride + c).mul(scale).intoArray(packed, c * ROW_TILE + r * LANES);
            }
            for (; c < d; c++) {
                packed[bound * ROW_TILE + r * LANES + c - bound] = scale * x[xo + r * stride + c];
            }
        }
    }

    /**
     * For every row r in [0, rows), key j in [0, visible[r]) and c in [0, d): target[to + j * d + c] +=
     * w[r * KEY_BLOCK + j] * x(r, c), x packed by packRows: the outer products of a tile's weights (dS or p) and
     * rows (scaled q or dO), the dk or dv terms of a key block. visible is non-decreasing in r (later rows see at
     * least the keys earlier ones do). Every target element receives its rows' terms one by one in ascending row
     * order.
     *
     * <p>Keys are taken KEY_TILE at a time with their target slices in registers across the rows; the last few
     * keys of a block, if fewer, one at a time.
     */
    private static void outerProductsF32(float[] w, int[] visible, int rows, float[] x, float[] target, int to,
            int d) {
        int keys = visible[rows - 1];
        int from = 0;   // the first row that sees key j (later keys' first rows come no earlier)
        int full = 0;   // the first row that sees the tile's last key
        int j = 0;
        for (; j + KEY_TILE <= keys; j += KEY_TILE) {
            from = firstRowSeeing(visible, j, from);
            full = firstRowSeeing(visible, j + KEY_TILE - 1, Math.max(full, from));
            eightKeyOuterProductsF32(w, visible, j, from, full, rows, x, target, to + j * d, d);
        }
        for (; j < keys; j++) {
            from = firstRowSeeing(visible, j, from);
            oneKeyOuterProductsF32(w, j, from, rows, x, target, to + j * d, d);
        }
    }

    /**
     * The first row r from {@code start} on with visible[r] > j, the first to see key j if no row before start does
     * (visible is non-decreasing, its last entry > j).
     */
    private static int firstRowSeeing(int[] visible, int j, int start) {
        int r = start;
        while (visible[r] <= j) {
            r++;
        }
        return r;
    }

    /**
     * target[at + c] += w[r * KEY_BLOCK + j] * x(r, c) for rows r in [from, to), in that order (see
     * outerProductsF32).
     */
    private static void oneKeyOuterProductsF32(float[] w, int j, int from, int to, float[] x, float[] target, int at,
            int d) {
        int bound = F.loopBound(d);
        int c = 0;
        for (; c < bound; c += LANES) {
            int xc = c * ROW_TILE;
            var acc = FloatVector.fromArray(F, target, at + c);
            for (int r = from; r < to; r++) {
                var y = FloatVector.broadcast(F, w[r * KEY_BLOCK + j]);
                acc = FloatVector.fromArray(F, x, xc + r * LANES).fma(y, acc);
            }
            acc.intoArray(target, at + c);
        }
        for (; c < d; c++) {
            int xc = bound * ROW_TILE + c - bound;
            float acc = target[at + c];
            for (int r = from; r < to; r++) {
                acc = Math.fma(x[xc + r * LANES], w[r * KEY_BLOCK + j], acc);
            }
            target[at + c] = acc;
        }
    }

    /**
     * target[at + m * d + c] += w[r * KEY_BLOCK + j + m] * x(r, c) for the KEY_TILE keys m and rows r in
     * [from, to) that see them, in row order: two vectors of columns of eight keys (sixteen accumulators) stay in
     * registers across the rows, so each costs one load and one store per call instead of one per row, and each
     * loaded row slice serves eight products. Rows from {@code from} see key j; rows from {@code full} see all
     * eight; the ones between (on the causal diagonal) see the first visible[r] - j and add only those.
     */
    private static void eightKeyOuterProductsF32(float[] w, int[] visible, int j, int from, int full, int to,
            float[] x, float[] target, int at, int d) {
        int bound = F.loopBound(d);
        int c = 0;
        for (; c + 2 * LANES <= bound; c += 2 * LANES) {
            int x0 = c * ROW_TILE;
            int x1 = x0 + ROW_TILE * LANES;
            int t0 = at + c;
            var a00 = FloatVector.fromArray(F, target, t0);
            var a01 = FloatVector.fromArray(F, target, t0 + LANES);
            var a10 = FloatVector.fromArray(F, target, t0 + d);
            var a11 = FloatVector.fromArray(F, target, t0 + d + LANES);
            var a20 = FloatVector.fromArray(F, target, t0 + 2 * d);
            var a21 = FloatVector.fromArray(F, target, t0 + 2 * d + LANES);
            var a30 = FloatVector.fromArray(F, target, t0 + 3 * d);
            var a31 = FloatVector.fromArray(F, target, t0 + 3 * d + LANES);
            var a40 = FloatVector.fromArray(F, target, t0 + 4 * d);
            var a41 = FloatVector.fromArray(F, target, t0 + 4 * d + LANES);
            var a50 = FloatVector.fromArray(F, target, t0 + 5 * d);
            var a51 = FloatVector.fromArray(F, target, t0 + 5 * d + LANES);
            var a60 = FloatVector.fromArray(F, target, t0 + 6 * d);
            var a61 = FloatVector.fromArray(F, target, t0 + 6 * d + LANES);
            var a70 = FloatVector.fromArray(F, target, t0 + 7 * d);
            var a71 = FloatVector.fromArray(F, target, t0 + 7 * d + LANES);
            for (int r = from; r < full; r++) {
                int n = visible[r] - j;   // 1 to 7
                var xa = FloatVector.fromArray(F, x, x0 + r * LANES);
                var xb = FloatVector.fromArray(F, x, x1 + r * LANES);
                int wr = r * KEY_BLOCK + j;
                var y = FloatVector.broadcast(F, w[wr]);
                a00 = xa.fma(y, a00);
                a01 = xb.fma(y, a01);
                if (n > 1) {
                    y = FloatVector.broadcast(F, w[wr + 1]);
                    a10 = xa.fma(y, a10);
                    a11 = xb.fma(y, a11);
                }
                if (n > 2) {
                    y = FloatVector.broadcast(F, w[wr + 2]);
                    a20 = xa.fma(y, a20);
                    a21 = xb.fma(y, a21);
                }
                if (n > 3) {
                    y = FloatVector.broadcast(F, w[wr + 3]);
                    a30 = xa.fma(y, a30);
                    a31 = xb.fma(y, a31);
                }
                if (n > 4) {
                    y = FloatVector.broadcast(F, w[wr + 4]);
                    a40 = xa.fma(y, a40);
                    a41 = xb.fma(y, a41);
                }
                if (n > 5) {
                    y = FloatVector.broadcast(F, w[wr + 5]);
                    a50 = xa.fma(y, a50);
                    a51 = xb.fma(y, a51);
                }
                if (n > 6) {
                    y = FloatVector.broadcast(F, w[wr + 6]);
                    a60 = xa.fma(y, a60);
                    a61 = xb.fma(y, a61);
                }
            }
            for (int r = full; r < to; r++) {
                var xa = FloatVector.fromArray(F, x, x0 + r * LANES);
                var xb = FloatVector.fromArray(F, x, x1 + r * LANES);
                int wr = r * KEY_BLOCK + j;
                var y = FloatVector.broadcast(F, w[wr]);
                a00 = xa.fma(y, a00);
                a01 = xb.fma(y, a01);
                y = FloatVector.broadcast(F, w[wr + 1]);
                a10 = xa.fma(y, a10);
                a11 = xb.fma(y, a11);
                y = FloatVector.broadcast(F, w[wr + 2]);
                a20 = xa.fma(y, a20);
                a21 = xb.fma(y, a21);
                y = FloatVector.broadcast(F, w[wr + 3]);
                a30 = xa.fma(y, a30);
                a31 = xb.fma(y, a31);
                y = FloatVector.broadcast(F, w[wr + 4]);
                a40 = xa.fma(y, a40);
                a41 = xb.fma(y, a41);
                y = FloatVector.broadcast(F, w[wr + 5]);
                a50 = xa.fma(y, a50);
                a51 = xb.fma(y, a51);
                y = FloatVector.broadcast(F, w[wr + 6]);
                a60 = xa.fma(y, a60);
                a61 = xb.fma(y, a61);
                y = FloatVector.broadcast(F, w[wr + 7]);
                a70 = xa.fma(y, a70);
                a71 = xb.fma(y, a71);
            }
            a00.intoArray(target, t0);
            a01.intoArray(target, t0 + LANES);
            a10.intoArray(target, t0 + d);
            a11.intoArray(target, t0 + d + LANES);
            a20.intoArray(target, t0 + 2 * d);
            a21.intoArray(target, t0 + 2 * d + LANES);
            a30.intoArray(target, t0 + 3 * d);
            a31.intoArray(target, t0 + 3 * d + LANES);
            a40.intoArray(target, t0 + 4 * d);
            a41.intoArray(target, t0 + 4 * d + LANES);
            a50.intoArray(target, t0 + 5 * d);
            a51.intoArray(target, t0 + 5 * d + LANES);
            a60.intoArray(target, t0 + 6 * d);
            a61.intoArray(target, t0 + 6 * d + LANES);
            a70.intoArray(target, t0 + 7 * d);
            a71.intoArray(target, t0 + 7 * d + LANES);
        }
        for (; c < bound; c += LANES) {
            int x0 = c * ROW_TILE;
            int t0 = at + c;
            var a0 = FloatVector.fromArray(F, target, t0);
            var a1 = FloatVector.fromArray(F, target, t0 + d);
            var a2 = FloatVector.fromArray(F, target, t0 + 2 * d);
            var a3 = FloatVector.fromArray(F, target, t0 + 3 * d);
            var a4 = FloatVector.fromArray(F, target, t0 + 4 * d);
            var a5 = FloatVector.fromArray(F, target, t0 + 5 * d);
            var a6 = FloatVector.fromArray(F, target, t0 + 6 * d);
            var a7 = FloatVector.fromArray(F, target, t0 + 7 * d);
            for (int r = from; r < full; r++) {
                int n = visible[r] - j;   // 1 to 7
                var xa = FloatVector.fromArray(F, x, x0 + r * LANES);
                int wr = r * KEY_BLOCK + j;
                a0 = xa.fma(FloatVector.broadcast(F, w[wr]), a0);
                if (n > 1) {
                    a1 = xa.fma(FloatVector.broadcast(F, w[wr + 1]), a1);
                }
                if (n > 2) {
                    a2 = xa.fma(FloatVector.broadcast(F, w[wr + 2]), a2);
                }
                if (n > 3) {
                    a3 = xa.fma(FloatVector.broadcast(F, w[wr + 3]), a3);
                }
                if (n > 4) {
                    a4 = xa.fma(FloatVector.broadcast(F, w[wr + 4]), a4);
                }
                if (n > 5) {
                    a5 = xa.fma(FloatVector.broadcast(F, w[wr + 5]), a5);
                }
                if (n > 6) {
                    a6 = xa.fma(FloatVector.broadcast(F, w[wr + 6]), a6);
                }
            }
            for (int r = full; r < to; r++) {
                var xa = FloatVector.fromArray(F, x, x0 + r * LANES);
                int wr = r * KEY_BLOCK + j;
                a0 = xa.fma(FloatVector.broadcast(F, w[wr]), a0);
                a1 = xa.fma(FloatVector.broadcast(F, w[wr + 1]), a1);
                a2 = xa.fma(FloatVector.broadcast(F, w[wr + 2]), a2);
                a3 = xa.fma(FloatVector.broadcast(F, w[wr + 3]), a3);
                a4 = xa.fma(FloatVector.broadcast(F, w[wr + 4]), a4);
                a5 = xa.fma(FloatVector.broadcast(F, w[wr + 5]), a5);
                a6 = xa.fma(FloatVector.broadcast(F, w[wr + 6]), a6);
                a7 = xa.fma(FloatVector.broadcast(F, w[wr + 7]), a7);
            }
            a0.intoArray(target, t0);
            a1.intoArray(target, t0 + d);
            a2.intoArray(target, t0 + 2 * d);
            a3.intoArray(target, t0 + 3 * d);
            a4.intoArray(target, t0 + 4 * d);
            a5.intoArray(target, t0 + 5 * d);
            a6.intoArray(target, t0 + 6 * d);
            a7.intoArray(target, t0 + 7 * d);
        }
        for (; c < d; c++) {
            int xc = bound * ROW_TILE + c - bound;
            for (int m = 0; m < KEY_TILE; m++) {
                float acc = target[at + m * d + c];
                for (int r = from; r < to; r++) {
                    if (visible[r] > j + m) {
                        acc = Math.fma(x[xc + r * LANES], w[r * KEY_BLOCK + j + m], acc);
                    }
                }
                target[at + m * d + c] = acc;
            }
        }
    }

    /** out[oo + i] = a * x[xo + i] for i in [0, n). */
    private static void scaleInto(float[] x, int xo, float a, float[] out, int oo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xo + i).mul(a).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = a * x[xo + i];
        }
    }

    private static void scaleInPlace(float[] x, int xo, float a, int n) {
        scaleInto(x, xo, a, x, xo, n);
    }

    private static double dotF64(double[] a, int ao, double[] b, int bo, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += a[ao + i] * b[bo + i];
        }
        return sum;
    }
}
