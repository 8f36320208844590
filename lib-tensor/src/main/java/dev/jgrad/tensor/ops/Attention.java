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
 * <p>F32 kernels vectorise over keys for the scores (against a transposed copy of k, so no lane reductions)
 * and over the head dimension for the weighted sums of values. The F64 kernels are plain loops over whole rows,
 * the exact reference the F32 path is tested against.
 */
public final class Attention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /**
     * Keys visited per step of the online softmax: the per-row scratch is this many scores, whatever S is. A
     * multiple of every float vector length, so blocks start on whole vectors of a transposed head.
     */
    private static final int KEY_BLOCK = 64;
    /** Query rows the backward takes together (see rankOneUpdateRowsF32); the uniform path is written for four. */
    private static final int ROW_BLOCK = 4;

    private Attention() {}

    /**
     * Per-thread working rows of a head's forward or a group's backward, reused from call to call so a step does
     * not allocate them per head. A task never runs inside another on the same thread, so one set suffices; every
     * entry is written before it is read.
     */
    private static final class RowBuffers {
        final float[][] p = new float[ROW_BLOCK][KEY_BLOCK];
        final float[][] dS = new float[ROW_BLOCK][KEY_BLOCK];
        final int[] qo = new int[ROW_BLOCK];
        final int[] go = new int[ROW_BLOCK];
        final int[] visible = new int[ROW_BLOCK];
        final float[] max = new float[ROW_BLOCK];
        final float[] sum = new float[ROW_BLOCK];
        private float[] qScaled = new float[0];
        private float[] acc = new float[0];

        /** ROW_BLOCK rows of d scaled query values. */
        float[] qScaled(int d) {
            if (qScaled.length != ROW_BLOCK * d) {
                qScaled = new float[ROW_BLOCK * d];
            }
            return qScaled;
        }

        /** ROW_BLOCK rows of d accumulated output values. */
        float[] acc(int d) {
            if (acc.length != ROW_BLOCK * d) {
                acc = new float[ROW_BLOCK * d];
            }
            return acc;
        }

        private int[] keyOffsets = new int[0];
        private int keyOffsetsStride = -1;

        /** 0, d, 2d, ...: where a vector's worth of consecutive keys' rows start, relative to the first. */
        int[] keyOffsets(int d) {
            if (keyOffsetsStride != d) {
                keyOffsets = new int[F.length()];
                for (int l = 0; l < keyOffsets.length; l++) {
                    keyOffsets[l] = l * d;
                }
                keyOffsetsStride = d;
            }
            return keyOffsets;
        }
    }

    private static final ThreadLocal<RowBuffers> ROW_BUFFERS = ThreadLocal.withInitial(RowBuffers::new);

    /** The output [B, Hq, T, D] and the per-row log-sum-exp of the scaled scores [B, Hq, T], for the backward. */
    public record Result(Tensor out, Tensor logSumExp) {}

    /** Gradients for q, k and v, in their shapes. */
    public record Grads(Tensor q, Tensor k, Tensor v) {}

    /** Sizes of one attention call, checked once. */
    private record Dims(int batch, int qHeads, int kvHeads, int queries, int keys, int headDim, boolean causal) {
        int group() {
            return qHeads / kvHeads;
        }

        /** One past the last key query i may see. */
        int keyEnd(int i) {
            return causal ? i + (keys - queries) + 1 : keys;
        }

        /** The output's shape [B, Hq, T, D], for messages. */
        int[] outShape() {
            return new int[] {batch, qHeads, queries, headDim};
        }

        /** The log-sum-exp's shape [B, Hq, T], for messages. */
        int[] rowShape() {
            return new int[] {batch, qHeads, queries};
        }
    }

    // ------------------------------------------------------------------------------------------ forward

    /** Attention of q over k and v; see the class comment for shapes and the causal convention. */
    public static Result forward(Tensor q, Tensor k, Tensor v, boolean causal, double scale) {
        Dims dims = check("Attention.forward", q, k, v, causal, scale);
        Tensor qc = q.contiguous();
        Tensor kc = k.contiguous();
        Tensor vc = v.contiguous();
        // The F32 kernel writes every output row and log-sum-exp; the F64 one accumulates into zeros.
        boolean f32 = q.dtype() == DType.F32;
        Tensor out = f32 ? Tensor.emptyLike(q) : Tensor.zerosLike(q);   // [B, Hq, T, D]
        Tensor lse = f32 ? Tensor.empty(q.dtype(), dims.batch, dims.qHeads, dims.queries)
                : Tensor.zeros(q.dtype(), dims.batch, dims.qHeads, dims.queries);
        int heads = dims.batch * dims.qHeads;
        if (f32) {
            float[] os = out.f32Data();
            float[] ls = lse.f32Data();
            float s = (float) scale;
            if (Parallel.threads() == 1) {   // the heads in order, as forEachTask would, without a closure to allocate
                for (int bh = 0; bh < heads; bh++) {
                    forwardHeadF32(dims, bh, qc, kc, vc, os, ls, s);
                }
            } else {
                Parallel.forEachTask(heads, bh -> forwardHeadF32(dims, bh, qc, kc, vc, os, ls, s));
            }
        } else {
            Parallel.forEachTask(heads, bh -> forwardHeadF64(dims, bh, qc, kc, vc, out.f64Data(), lse.f64Data(), scale));
        }
        return new Result(out, lse);
    }

    /** All T query rows of query head bh = b * Hq + h. */
    private static void forwardHeadF32(Dims dims, int bh, Tensor q, Tensor k, Tensor v, float[] out, float[] lse,
            float scale) {
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        int kvBase = kvHeadOf(dims, bh) * s * d;
        float[] qs = q.f32Data();
        float[] vs = v.f32Data();
        int vo = v.offset() + kvBase;
        float[] kT = transposedHead(k.f32Data(), k.offset() + kvBase, s, d, Scratch.ATTENTION_KEYS);
        int stride = paddedKeys(s);
        // Rows are taken ROW_BLOCK at a time so the four share each load of kT and v; each row keeps its own
        // running max, sum and accumulator and goes through exactly the operations it would alone, so a row's
        // result does not depend on the rows computed beside it.
        RowBuffers buffers = ROW_BUFFERS.get();
        float[] qScaled = buffers.qScaled(d);
        float[] acc = buffers.acc(d);
        float[][] p = buffers.p;
        int[] qo = buffers.qo;
        int[] visible = buffers.visible;
        float[] max = buffers.max;
        float[] sum = buffers.sum;
        for (int i0 = 0; i0 < t; i0 += ROW_BLOCK) {
            int rows = Math.min(ROW_BLOCK, t - i0);
            for (int r = 0; r < rows; r++) {
                qo[r] = r * d;
                scaleInto(qs, q.offset() + (bh * t + i0 + r) * d, scale, qScaled, r * d, d);
                max[r] = Float.NEGATIVE_INFINITY;
                sum[r] = 0f;
            }
            Arrays.fill(acc, 0f);
            int end = dims.keyEnd(i0 + rows - 1);   // the last row sees the most keys
            for (int j0 = 0; j0 < end; j0 += KEY_BLOCK) {
                int maxLanes = 0;
                int common = KEY_BLOCK;   // keys every row of the block sees
                for (int r = 0; r < rows; r++) {
                    visible[r] = Math.max(0, Math.min(KEY_BLOCK, dims.keyEnd(i0 + r) - j0));
                    maxLanes = Math.max(maxLanes, F.loopBound(visible[r] + F.length() - 1));
                    common = Math.min(common, visible[r]);
                }
                if (rows == ROW_BLOCK) {
                    // Lanes past a row's own visible keys are computed too, and never read.
                    scoresFourRowsF32(qScaled, qo, kT, stride, j0, maxLanes, d, p);
                } else {
                    for (int r = 0; r < rows; r++) {
                        scoresF32(qScaled, qo[r], kT, stride, j0, maxLanes, d, p[r]);
                    }
                }
                for (int r = 0; r < rows; r++) {
                    int n = visible[r];
                    if (n == 0) {
                        continue;
                    }
                    int lanes = F.loopBound(n + F.length() - 1);
                    // Padding lanes past the last visible key get probability exp(-inf) = 0.
                    Arrays.fill(p[r], n, lanes, Float.NEGATIVE_INFINITY);
                    float newMax = Math.max(max[r], maxF32(p[r], lanes));
                    // Earlier blocks were weighted by exp(. - max); re-weight them for the new, larger max.
                    float correction = (float) Math.exp(max[r] - newMax);
                    if (correction != 1f) {
                        sum[r] *= correction;
                        scaleInPlace(acc, r * d, correction, d);
                    }
                    sum[r] += VectorMath.expShiftedSum(p[r], lanes, newMax);
                    max[r] = newMax;
                }
                // The keys all rows see together, then each row's own last few (on the causal diagonal): every
                // row adds its values in ascending key order either way, so it gets the bits it would get alone.
                int shared = rows == ROW_BLOCK ? common : 0;
                if (shared > 0) {
                    weightedFourRowSumsF32(p, shared, vs, vo + j0 * d, d, acc, 0);
                }
                for (int r = 0; r < rows; r++) {
                    if (visible[r] > shared) {
                        weightedRowSumF32(p[r], shared, visible[r], vs, vo + j0 * d, d, acc, r * d);
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                int row = bh * t + i0 + r;
                scaleInto(acc, r * d, 1f / sum[r], out, row * d, d);
                lse[row] = max[r] + (float) Math.log(sum[r]);
            }
        }
    }

    private static void forwardHeadF64(Dims dims, int bh, Tensor q, Tensor k, Tensor v, double[] out, double[] lse,
            double scale) {
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        int kvBase = kvHeadOf(dims, bh) * s * d;
        double[] qs = q.f64Data();
        double[] ks = k.f64Data();
        double[] vs = v.f64Data();
        int ko = k.offset() + kvBase;
        int vo = v.offset() + kvBase;
        double[] scores = new double[s];
        for (int i = 0; i < t; i++) {
            int row = bh * t + i;
            int qo = q.offset() + row * d;
            int end = dims.keyEnd(i);
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < end; j++) {
                scores[j] = dotF64(qs, qo, ks, ko + j * d, d) * scale;
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
                    out[row * d + c] += p * vs[vo + j * d + c];
                }
            }
            lse[row] = max + Math.log(sum);
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
        checkSaved(op, "g", g, q, dims, false);
        checkSaved(op, "out", out, q, dims, false);
        checkSaved(op, "logSumExp", logSumExp, q, dims, true);
        Tensor gc = g.contiguous();
        Tensor qc = q.contiguous();
        Tensor kc = k.contiguous();
        Tensor vc = v.contiguous();
        Tensor oc = out.contiguous();
        Tensor lc = logSumExp.contiguous();
        // Each group zeroes the slices it accumulates into, so the zeroing is spread over the threads too.
        Tensor dq = Tensor.emptyLike(q);
        Tensor dk = Tensor.emptyLike(k);   // k and v have q's dtype (checked)
        Tensor dv = Tensor.emptyLike(v);
        int groups = dims.batch * dims.kvHeads;
        int dqSlice = dims.group() * dims.queries * dims.headDim;
        int kvSlice = dims.keys * dims.headDim;
        if (q.dtype() == DType.F32) {
            float[] dqs = dq.f32Data();
            float[] dks = dk.f32Data();
            float[] dvs = dv.f32Data();
            float s = (float) scale;
            if (Parallel.threads() == 1) {   // the groups in order, as forEachTask would, without a closure to allocate
                for (int bkv = 0; bkv < groups; bkv++) {
                    backwardGroupTaskF32(dims, bkv, gc, qc, kc, vc, oc, lc, dqs, dks, dvs, s);
                }
            } else {
                Parallel.forEachTask(groups,
                        bkv -> backwardGroupTaskF32(dims, bkv, gc, qc, kc, vc, oc, lc, dqs, dks, dvs, s));
            }
        } else {
            Parallel.forEachTask(groups, bkv -> {
                Arrays.fill(dq.f64Data(), bkv * dqSlice, (bkv + 1) * dqSlice, 0.0);
                Arrays.fill(dk.f64Data(), bkv * kvSlice, (bkv + 1) * kvSlice, 0.0);
                Arrays.fill(dv.f64Data(), bkv * kvSlice, (bkv + 1) * kvSlice, 0.0);
                backwardGroupF64(dims, bkv, gc, qc, kc, vc, oc, lc, dq.f64Data(), dk.f64Data(), dv.f64Data(), scale);
            });
        }
        return new Grads(dq, dk, dv);
    }

    /** One task of the F32 backward: zeroes the group's slices of dq, dk and dv, then accumulates into them. */
    private static void backwardGroupTaskF32(Dims dims, int bkv, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out,
            Tensor lse, float[] dq, float[] dk, float[] dv, float scale) {
        int dqSlice = dims.group() * dims.queries * dims.headDim;
        int kvSlice = dims.keys * dims.headDim;
        Arrays.fill(dq, bkv * dqSlice, (bkv + 1) * dqSlice, 0f);
        Arrays.fill(dk, bkv * kvSlice, (bkv + 1) * kvSlice, 0f);
        Arrays.fill(dv, bkv * kvSlice, (bkv + 1) * kvSlice, 0f);
        backwardGroupF32(dims, bkv, g, q, k, v, out, lse, dq, dk, dv, scale);
    }

    /** Every query row that reads kv head bkv = b * Hkv + kvh; writes dq of those rows and dk, dv of that head. */
    private static void backwardGroupF32(Dims dims, int bkv, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out,
            Tensor lse, float[] dq, float[] dk, float[] dv, float scale) {
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        int kvBase = bkv * s * d;
        float[] gs = g.f32Data();
        float[] qs = q.f32Data();
        float[] ks = k.f32Data();
        float[] os = out.f32Data();
        float[] ls = lse.f32Data();
        int ko = k.offset() + kvBase;
        float[] kT = transposedHead(ks, ko, s, d, Scratch.ATTENTION_KEYS);
        float[] vT = transposedHead(v.f32Data(), v.offset() + kvBase, s, d, Scratch.ATTENTION_VALUES);
        int stride = paddedKeys(s);
        // Rows are taken ROW_BLOCK at a time so that the rank-one updates of dk and dv load and store each slice
        // of a key's row once per block rather than once per query row. Every element still receives the rows'
        // contributions one by one in ascending row order, so the result is the same as row by row.
        RowBuffers buffers = ROW_BUFFERS.get();
        float[] qScaled = buffers.qScaled(d);
        float[][] p = buffers.p;
        float[][] dS = buffers.dS;
        int[] go = buffers.go;
        int[] qo = buffers.qo;
        int[] visible = buffers.visible;
        float[] rowLse = buffers.max;
        float[] gDotOut = buffers.sum;
        int firstHead = (bkv / dims.kvHeads) * dims.qHeads + (bkv % dims.kvHeads) * dims.group();
        for (int h = firstHead; h < firstHead + dims.group(); h++) {
            for (int i0 = 0; i0 < t; i0 += ROW_BLOCK) {
                int rows = Math.min(ROW_BLOCK, t - i0);
                for (int r = 0; r < rows; r++) {
                    int row = h * t + i0 + r;
                    go[r] = g.offset() + row * d;
                    qo[r] = r * d;
                    scaleInto(qs, q.offset() + row * d, scale, qScaled, r * d, d);
                    rowLse[r] = ls[lse.offset() + row];
                    gDotOut[r] = Lanes.dot(gs, go[r], os, out.offset() + row * d, d);
                }
                int end = dims.keyEnd(i0 + rows - 1);   // the last row sees the most keys
                for (int j0 = 0; j0 < end; j0 += KEY_BLOCK) {
                    int maxLanes = 0;
                    int common = KEY_BLOCK;
                    for (int r = 0; r < rows; r++) {
                        visible[r] = Math.max(0, Math.min(KEY_BLOCK, dims.keyEnd(i0 + r) - j0));
                        maxLanes = Math.max(maxLanes, F.loopBound(visible[r] + F.length() - 1));
                        common = Math.min(common, visible[r]);
                    }
                    if (rows == ROW_BLOCK) {
                        // Lanes past a row's own visible keys are computed too, and never read.
                        scoresFourRowsF32(qScaled, qo, kT, stride, j0, maxLanes, d, p);
                        scoresFourRowsF32(gs, go, vT, stride, j0, maxLanes, d, dS);
                    } else {
                        for (int r = 0; r < rows; r++) {
                            scoresF32(qScaled, qo[r], kT, stride, j0, maxLanes, d, p[r]);
                            scoresF32(gs, go[r], vT, stride, j0, maxLanes, d, dS[r]);
                        }
                    }
                    for (int r = 0; r < rows; r++) {
                        int n = visible[r];
                        if (n == 0) {
                            continue;
                        }
                        int lanes = F.loopBound(n + F.length() - 1);
                        Arrays.fill(p[r], n, lanes, Float.NEGATIVE_INFINITY);
                        VectorMath.expShiftedSum(p[r], lanes, rowLse[r]);
                        softmaxGradF32(p[r], dS[r], gDotOut[r], lanes);
                    }
                    // dq = dS k as in the forward's weighted sums: shared keys four rows at a time, then each
                    // row's own, in ascending key order per row.
                    int shared = rows == ROW_BLOCK ? common : 0;
                    int dqRow = (h * t + i0) * d;
                    if (shared > 0) {
                        weightedFourRowSumsF32(dS, shared, ks, ko + j0 * d, d, dq, dqRow);
                    }
                    for (int r = 0; r < rows; r++) {
                        if (visible[r] > shared) {
                            weightedRowSumF32(dS[r], shared, visible[r], ks, ko + j0 * d, d, dq, dqRow + r * d);
                        }
                    }
                    rankOneUpdateRowsF32(dS, visible, rows, qScaled, qo, dk, kvBase + j0 * d, d);
                    rankOneUpdateRowsF32(p, visible, rows, gs, go, dv, kvBase + j0 * d, d);
                }
                for (int r = 0; r < rows; r++) {
                    scaleInPlace(dq, (h * t + i0 + r) * d, scale, d);
                }
            }
        }
    }

    private static void backwardGroupF64(Dims dims, int bkv, Tensor g, Tensor q, Tensor k, Tensor v, Tensor out,
            Tensor lse, double[] dq, double[] dk, double[] dv, double scale) {
        int t = dims.queries;
        int s = dims.keys;
        int d = dims.headDim;
        int kvBase = bkv * s * d;
        double[] gs = g.f64Data();
        double[] qs = q.f64Data();
        double[] ks = k.f64Data();
        double[] vs = v.f64Data();
        double[] os = out.f64Data();
        double[] ls = lse.f64Data();
        int ko = k.offset() + kvBase;
        int vo = v.offset() + kvBase;
        int firstHead = (bkv / dims.kvHeads) * dims.qHeads + (bkv % dims.kvHeads) * dims.group();
        for (int h = firstHead; h < firstHead + dims.group(); h++) {
            for (int i = 0; i < t; i++) {
                int row = h * t + i;
                int qo = q.offset() + row * d;
                int go = g.offset() + row * d;
                double rowLse = ls[lse.offset() + row];
                double gDotOut = dotF64(gs, go, os, out.offset() + row * d, d);
                int end = dims.keyEnd(i);
                for (int j = 0; j < end; j++) {
                    double p = Math.exp(dotF64(qs, qo, ks, ko + j * d, d) * scale - rowLse);
                    double dP = dotF64(gs, go, vs, vo + j * d, d);
                    double dS = p * (dP - gDotOut);
                    for (int c = 0; c < d; c++) {
                        dq[row * d + c] += dS * ks[ko + j * d + c] * scale;
                        dk[kvBase + j * d + c] += dS * qs[qo + c] * scale;
                        dv[kvBase + j * d + c] += p * gs[go + c];
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
        return new Dims(q.size(0), qHeads, kvHeads, t, s, q.size(3), causal);
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
     * Checks a tensor the backward is handed (g, or one the forward returned): q's dtype, and the output's shape
     * [B, Hq, T, D], which is q's, or with {@code perRow} the log-sum-exp's [B, Hq, T].
     */
    private static void checkSaved(String op, String name, Tensor x, Tensor q, Dims dims, boolean perRow) {
        if (x.dtype() != q.dtype()) {
            throw new IllegalArgumentException(op + ": " + name + " is " + x.dtype() + " but q is " + q.dtype());
        }
        boolean fits = perRow
                ? x.rank() == 3 && x.size(0) == dims.batch && x.size(1) == dims.qHeads && x.size(2) == dims.queries
                : x.sameShape(q);
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

    /** S rounded up to whole vectors: the row length of a transposed head. */
    private static int paddedKeys(int s) {
        return F.loopBound(s + F.length() - 1);
    }

    /**
     * The [S, D] head at {@code base} as [D, paddedKeys(S)], zero-padded, so that the scores of consecutive keys
     * are consecutive lanes and a block of keys never needs a scalar tail. Written into this thread's scratch
     * array {@code slot}, so a step does not allocate one per head.
     */
    /**
     * A head's keys (or values) [s, d] as [d, stride]: column c of every key side by side, padded with zeros to a
     * whole number of vectors. A vector's worth of keys' column c is one gather (a key's row apart each), about
     * twice as fast as copying element by element, since either way one side is read or written with a stride.
     */
    private static float[] transposedHead(float[] x, int base, int s, int d, int slot) {
        int stride = paddedKeys(s);
        float[] t = Scratch.f32(slot, d * stride);
        int[] keyOffsets = ROW_BUFFERS.get().keyOffsets(d);
        int wholeVectors = F.loopBound(s);
        for (int c = 0; c < d; c++) {
            int row = c * stride;
            int j = 0;
            for (; j < wholeVectors; j += F.length()) {
                FloatVector.fromArray(F, x, base + j * d + c, keyOffsets, 0).intoArray(t, row + j);
            }
            for (; j < s; j++) {
                t[row + j] = x[base + j * d + c];
            }
            Arrays.fill(t, row + s, row + stride, 0f);   // the padding a previous use left
        }
        return t;
    }

    /**
     * scores[j] = sum_c row[ro + c] * kT[c, j0 + j] for j in [0, lanes), lanes a multiple of the vector length:
     * a block of dot products, vectorised over keys so no lane reduction is needed.
     */
    private static void scoresF32(float[] row, int ro, float[] kT, int stride, int j0, int lanes, int d,
            float[] scores) {
        for (int j = 0; j < lanes; j += F.length()) {
            var acc = FloatVector.zero(F);
            for (int c = 0; c < d; c++) {
                acc = FloatVector.fromArray(F, kT, c * stride + j0 + j).fma(FloatVector.broadcast(F, row[ro + c]), acc);
            }
            acc.intoArray(scores, j);
        }
    }

    /**
     * {@link #scoresF32} for four rows at once (row r at {@code ro[r]} of {@code rows}); every score is the same
     * sum, in the same order, as scoresF32 computes. Keys are taken four vectors at a time where the block allows,
     * then two, then one: sixteen independent accumulators keep both FMA units busy where four would leave them
     * waiting on the FMA latency, and each broadcast query value and each loaded key slice serves several products.
     */
    private static void scoresFourRowsF32(float[] rows, int[] ro, float[] kT, int stride, int j0, int lanes, int d,
            float[][] scores) {
        int r0 = ro[0];
        int r1 = ro[1];
        int r2 = ro[2];
        int r3 = ro[3];
        float[] s0 = scores[0];
        float[] s1 = scores[1];
        float[] s2 = scores[2];
        float[] s3 = scores[3];
        int l = F.length();
        int j = 0;
        for (; j + 4 * l <= lanes; j += 4 * l) {
            var a00 = FloatVector.zero(F);
            var a01 = FloatVector.zero(F);
            var a02 = FloatVector.zero(F);
            var a03 = FloatVector.zero(F);
            var a10 = FloatVector.zero(F);
            var a11 = FloatVector.zero(F);
            var a12 = FloatVector.zero(F);
            var a13 = FloatVector.zero(F);
            var a20 = FloatVector.zero(F);
            var a21 = FloatVector.zero(F);
            var a22 = FloatVector.zero(F);
            var a23 = FloatVector.zero(F);
            var a30 = FloatVector.zero(F);
            var a31 = FloatVector.zero(F);
            var a32 = FloatVector.zero(F);
            var a33 = FloatVector.zero(F);
            for (int c = 0; c < d; c++) {
                int at = c * stride + j0 + j;
                var k0 = FloatVector.fromArray(F, kT, at);
                var k1 = FloatVector.fromArray(F, kT, at + l);
                var k2 = FloatVector.fromArray(F, kT, at + 2 * l);
                var k3 = FloatVector.fromArray(F, kT, at + 3 * l);
                var x = FloatVector.broadcast(F, rows[r0 + c]);
                a00 = k0.fma(x, a00);
                a01 = k1.fma(x, a01);
                a02 = k2.fma(x, a02);
                a03 = k3.fma(x, a03);
                x = FloatVector.broadcast(F, rows[r1 + c]);
                a10 = k0.fma(x, a10);
                a11 = k1.fma(x, a11);
                a12 = k2.fma(x, a12);
                a13 = k3.fma(x, a13);
                x = FloatVector.broadcast(F, rows[r2 + c]);
                a20 = k0.fma(x, a20);
                a21 = k1.fma(x, a21);
                a22 = k2.fma(x, a22);
                a23 = k3.fma(x, a23);
                x = FloatVector.broadcast(F, rows[r3 + c]);
                a30 = k0.fma(x, a30);
                a31 = k1.fma(x, a31);
                a32 = k2.fma(x, a32);
                a33 = k3.fma(x, a33);
            }
            a00.intoArray(s0, j);
            a01.intoArray(s0, j + l);
            a02.intoArray(s0, j + 2 * l);
            a03.intoArray(s0, j + 3 * l);
            a10.intoArray(s1, j);
            a11.intoArray(s1, j + l);
            a12.intoArray(s1, j + 2 * l);
            a13.intoArray(s1, j + 3 * l);
            a20.intoArray(s2, j);
            a21.intoArray(s2, j + l);
            a22.intoArray(s2, j + 2 * l);
            a23.intoArray(s2, j + 3 * l);
            a30.intoArray(s3, j);
            a31.intoArray(s3, j + l);
            a32.intoArray(s3, j + 2 * l);
            a33.intoArray(s3, j + 3 * l);
        }
        for (; j + 2 * l <= lanes; j += 2 * l) {
            var a00 = FloatVector.zero(F);
            var a01 = FloatVector.zero(F);
            var a10 = FloatVector.zero(F);
            var a11 = FloatVector.zero(F);
            var a20 = FloatVector.zero(F);
            var a21 = FloatVector.zero(F);
            var a30 = FloatVector.zero(F);
            var a31 = FloatVector.zero(F);
            for (int c = 0; c < d; c++) {
                int at = c * stride + j0 + j;
                var k0 = FloatVector.fromArray(F, kT, at);
                var k1 = FloatVector.fromArray(F, kT, at + l);
                var x = FloatVector.broadcast(F, rows[r0 + c]);
                a00 = k0.fma(x, a00);
                a01 = k1.fma(x, a01);
                x = FloatVector.broadcast(F, rows[r1 + c]);
                a10 = k0.fma(x, a10);
                a11 = k1.fma(x, a11);
                x = FloatVector.broadcast(F, rows[r2 + c]);
                a20 = k0.fma(x, a20);
                a21 = k1.fma(x, a21);
                x = FloatVector.broadcast(F, rows[r3 + c]);
                a30 = k0.fma(x, a30);
                a31 = k1.fma(x, a31);
            }
            a00.intoArray(s0, j);
            a01.intoArray(s0, j + l);
            a10.intoArray(s1, j);
            a11.intoArray(s1, j + l);
            a20.intoArray(s2, j);
            a21.intoArray(s2, j + l);
            a30.intoArray(s3, j);
            a31.intoArray(s3, j + l);
        }
        for (; j < lanes; j += l) {
            var a0 = FloatVector.zero(F);
            var a1 = FloatVector.zero(F);
            var a2 = FloatVector.zero(F);
            var a3 = FloatVector.zero(F);
            for (int c = 0; c < d; c++) {
                var k = FloatVector.fromArray(F, kT, c * stride + j0 + j);
                a0 = k.fma(FloatVector.broadcast(F, rows[r0 + c]), a0);
                a1 = k.fma(FloatVector.broadcast(F, rows[r1 + c]), a1);
                a2 = k.fma(FloatVector.broadcast(F, rows[r2 + c]), a2);
                a3 = k.fma(FloatVector.broadcast(F, rows[r3 + c]), a3);
            }
            a0.intoArray(s0, j);
            a1.intoArray(s1, j);
            a2.intoArray(s2, j);
            a3.intoArray(s3, j);
        }
    }

    /**
     * acc[ao + c] += sum_{j in [from, to)} w[j] * rows[ro + j * d + c], the terms added in ascending j: a weighted
     * sum of value rows, vectorised over the head dim. Continuing a sum with a later range adds exactly what one
     * call over both ranges would.
     */
    private static void weightedRowSumF32(float[] w, int from, int to, float[] rows, int ro, int d, float[] acc,
            int ao) {
        int bound = F.loopBound(d);
        int c = 0;
        for (; c < bound; c += F.length()) {
            var sum = FloatVector.fromArray(F, acc, ao + c);
            for (int j = from; j < to; j++) {
                sum = FloatVector.fromArray(F, rows, ro + j * d + c).fma(FloatVector.broadcast(F, w[j]), sum);
            }
            sum.intoArray(acc, ao + c);
        }
        for (; c < d; c++) {
            float sum = acc[ao + c];
            for (int j = from; j < to; j++) {
                sum = Math.fma(rows[ro + j * d + c], w[j], sum);
            }
            acc[ao + c] = sum;
        }
    }

    /**
     * {@link #weightedRowSumF32} over j in [0, n) for four rows of weights w[r] into the four consecutive rows
     * acc[ao + r * d ..]; each accumulator receives the same fmas in the same order. The head dim is taken two
     * vectors at a time where it allows: eight independent accumulators hide the FMA latency that four leave
     * exposed, and each loaded value slice serves four products.
     */
    private static void weightedFourRowSumsF32(float[][] w, int n, float[] rows, int ro, int d, float[] acc, int ao) {
        float[] w0 = w[0];
        float[] w1 = w[1];
        float[] w2 = w[2];
        float[] w3 = w[3];
        int l = F.length();
        int a0 = ao;
        int a1 = ao + d;
        int a2 = ao + 2 * d;
        int a3 = ao + 3 * d;
        int bound = F.loopBound(d);
        int c = 0;
        for (; c + 2 * l <= bound; c += 2 * l) {
            var s00 = FloatVector.fromArray(F, acc, a0 + c);
            var s01 = FloatVector.fromArray(F, acc, a0 + c + l);
            var s10 = FloatVector.fromArray(F, acc, a1 + c);
            var s11 = FloatVector.fromArray(F, acc, a1 + c + l);
            var s20 = FloatVector.fromArray(F, acc, a2 + c);
            var s21 = FloatVector.fromArray(F, acc, a2 + c + l);
            var s30 = FloatVector.fromArray(F, acc, a3 + c);
            var s31 = FloatVector.fromArray(F, acc, a3 + c + l);
            for (int j = 0; j < n; j++) {
                int at = ro + j * d + c;
                var x0 = FloatVector.fromArray(F, rows, at);
                var x1 = FloatVector.fromArray(F, rows, at + l);
                var y = FloatVector.broadcast(F, w0[j]);
                s00 = x0.fma(y, s00);
                s01 = x1.fma(y, s01);
                y = FloatVector.broadcast(F, w1[j]);
                s10 = x0.fma(y, s10);
                s11 = x1.fma(y, s11);
                y = FloatVector.broadcast(F, w2[j]);
                s20 = x0.fma(y, s20);
                s21 = x1.fma(y, s21);
                y = FloatVector.broadcast(F, w3[j]);
                s30 = x0.fma(y, s30);
                s31 = x1.fma(y, s31);
            }
            s00.intoArray(acc, a0 + c);
            s01.intoArray(acc, a0 + c + l);
            s10.intoArray(acc, a1 + c);
            s11.intoArray(acc, a1 + c + l);
            s20.intoArray(acc, a2 + c);
            s21.intoArray(acc, a2 + c + l);
            s30.intoArray(acc, a3 + c);
            s31.intoArray(acc, a3 + c + l);
        }
        for (; c < bound; c += l) {
            var s0 = FloatVector.fromArray(F, acc, a0 + c);
            var s1 = FloatVector.fromArray(F, acc, a1 + c);
            var s2 = FloatVector.fromArray(F, acc, a2 + c);
            var s3 = FloatVector.fromArray(F, acc, a3 + c);
            for (int j = 0; j < n; j++) {
                var x = FloatVector.fromArray(F, rows, ro + j * d + c);
                s0 = x.fma(FloatVector.broadcast(F, w0[j]), s0);
                s1 = x.fma(FloatVector.broadcast(F, w1[j]), s1);
                s2 = x.fma(FloatVector.broadcast(F, w2[j]), s2);
                s3 = x.fma(FloatVector.broadcast(F, w3[j]), s3);
            }
            s0.intoArray(acc, a0 + c);
            s1.intoArray(acc, a1 + c);
            s2.intoArray(acc, a2 + c);
            s3.intoArray(acc, a3 + c);
        }
        for (int r = 0; r < ROW_BLOCK; r++) {
            for (int cc = c; cc < d; cc++) {
                float sum = acc[ao + r * d + cc];
                for (int j = 0; j < n; j++) {
                    sum = Math.fma(rows[ro + j * d + cc], w[r][j], sum);
                }
                acc[ao + r * d + cc] = sum;
            }
        }
    }

    private static float maxF32(float[] x, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        float max = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            var lanes = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += F.length()) {
                lanes = lanes.max(FloatVector.fromArray(F, x, i));
            }
            max = lanes.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        return max;
    }

    /** dS[j] = p[j] * (dP[j] - gDotOut), in place over the dP buffer. */
    private static void softmaxGradF32(float[] p, float[] dPThenDS, float gDotOut, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, dPThenDS, i).sub(gDotOut).mul(FloatVector.fromArray(F, p, i)).intoArray(dPThenDS, i);
        }
        for (; i < n; i++) {
            dPThenDS[i] = p[i] * (dPThenDS[i] - gDotOut);
        }
    }

    /**
     * For r in [0, rowCount), j in [0, n[r]), c in [0, d): rows[ro + j * d + c] += w[r][j] * x[xo[r] + c], the
     * outer products of several rows' weights and vectors added one row after the other. Each slice of a target
     * row is loaded and stored once for all the rows, which is what makes this faster than one row at a time.
     */
    private static void rankOneUpdateRowsF32(float[][] w, int[] n, int rowCount, float[] x, int[] xo, float[] rows,
            int ro, int d) {
        int nMax = 0;
        int common = rowCount == ROW_BLOCK ? Integer.MAX_VALUE : 0;   // keys every one of the four rows sees
        for (int r = 0; r < rowCount; r++) {
            nMax = Math.max(nMax, n[r]);
            common = Math.min(common, n[r]);
        }
        int bound = F.loopBound(d);
        int c = 0;
        if (common > 0) {
            // Keys all four rows see (every key of a block off the causal diagonal, all but the last few of a block
            // on it): four rows with no checks.
            float[] w0 = w[0];
            float[] w1 = w[1];
            float[] w2 = w[2];
            float[] w3 = w[3];
            int l = F.length();
            // Two head-dim vectors per pass: the four weights of a key are loaded once for both, and the two
            // chains of fmas per key run side by side.
            for (; c + 2 * l <= bound; c += 2 * l) {
                var x00 = FloatVector.fromArray(F, x, xo[0] + c);
                var x01 = FloatVector.fromArray(F, x, xo[0] + c + l);
                var x10 = FloatVector.fromArray(F, x, xo[1] + c);
                var x11 = FloatVector.fromArray(F, x, xo[1] + c + l);
                var x20 = FloatVector.fromArray(F, x, xo[2] + c);
                var x21 = FloatVector.fromArray(F, x, xo[2] + c + l);
                var x30 = FloatVector.fromArray(F, x, xo[3] + c);
                var x31 = FloatVector.fromArray(F, x, xo[3] + c + l);
                for (int j = 0; j < common; j++) {
                    int at = ro + j * d + c;
                    var y0 = FloatVector.broadcast(F, w0[j]);
                    var y1 = FloatVector.broadcast(F, w1[j]);
                    var y2 = FloatVector.broadcast(F, w2[j]);
                    var y3 = FloatVector.broadcast(F, w3[j]);
                    var acc0 = x00.fma(y0, FloatVector.fromArray(F, rows, at));
                    var acc1 = x01.fma(y0, FloatVector.fromArray(F, rows, at + l));
                    acc0 = x10.fma(y1, acc0);
                    acc1 = x11.fma(y1, acc1);
                    acc0 = x20.fma(y2, acc0);
                    acc1 = x21.fma(y2, acc1);
                    x30.fma(y3, acc0).intoArray(rows, at);
                    x31.fma(y3, acc1).intoArray(rows, at + l);
                }
            }
            for (; c < bound; c += F.length()) {
                var x0 = FloatVector.fromArray(F, x, xo[0] + c);
                var x1 = FloatVector.fromArray(F, x, xo[1] + c);
                var x2 = FloatVector.fromArray(F, x, xo[2] + c);
                var x3 = FloatVector.fromArray(F, x, xo[3] + c);
                for (int j = 0; j < common; j++) {
                    int at = ro + j * d + c;
                    var acc = x0.fma(FloatVector.broadcast(F, w0[j]), FloatVector.fromArray(F, rows, at));
                    acc = x1.fma(FloatVector.broadcast(F, w1[j]), acc);
                    acc = x2.fma(FloatVector.broadcast(F, w2[j]), acc);
                    x3.fma(FloatVector.broadcast(F, w3[j]), acc).intoArray(rows, at);
                }
            }
        }
        // The rest of the keys (a diagonal block's last few, or all of them for fewer than four rows) check each
        // row. Every key's row still receives the rows' terms in ascending row order, in whichever loop it is.
        for (int cv = 0; cv < bound; cv += F.length()) {
            for (int j = Math.min(common, nMax); j < nMax; j++) {
                int at = ro + j * d + cv;
                var acc = FloatVector.fromArray(F, rows, at);
                for (int r = 0; r < rowCount; r++) {
                    if (j < n[r]) {
                        var xr = FloatVector.fromArray(F, x, xo[r] + cv);
                        acc = xr.fma(FloatVector.broadcast(F, w[r][j]), acc);
                    }
                }
                acc.intoArray(rows, at);
            }
        }
        c = bound;
        for (; c < d; c++) {
            for (int j = 0; j < nMax; j++) {
                int at = ro + j * d + c;
                float acc = rows[at];
                for (int r = 0; r < rowCount; r++) {
                    if (j < n[r]) {
                        acc = Math.fma(w[r][j], x[xo[r] + c], acc);
                    }
                }
                rows[at] = acc;
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
