package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.Lanes;
import dev.jgrad.tensor.kernel.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Mean cross-entropy of logits [N, C] against integer class targets, fused (log-softmax and the negative
 * log-likelihood in one sweep per row, no [N, C] log-probabilities stored), with torch's ignore_index and
 * label_smoothing. With lse the row's log-sum-exp, eps the smoothing and t the target, a row's loss is
 * <pre>
 *   (1 - eps) (lse - x[t]) + eps (lse - mean_c x[c])
 * </pre>
 * and the result is the mean over rows whose target is not ignoreIndex (NaN when every row is ignored, as in
 * torch). The gradient of a counted row is (softmax(x) - (1 - eps) onehot(t) - eps / C) / counted.
 */
public final class CrossEntropy {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Below this many logits per task, spreading rows over threads costs more than it saves. */
    private static final long MIN_ELEMENTS_PER_TASK = 1 << 15;

    private CrossEntropy() {}

    /** The scalar loss, each row's log-sum-exp [N] (for the backward), and how many rows were not ignored. */
    public record Result(Tensor loss, Tensor logSumExp, int counted) {}

    // ------------------------------------------------------------------------------------------ forward

    public static Result forward(Tensor logits, int[] targets, int ignoreIndex, double labelSmoothing) {
        String op = "CrossEntropy.forward";
        check(op, logits, targets, ignoreIndex, labelSmoothing);
        int n = logits.size(0);
        int c = logits.size(1);
        Tensor in = logits.contiguous();
        int xo = in.offset();
        Tensor lse = Tensor.zeros(logits.dtype(), n);
        // Per-row losses in double, summed in row order afterwards: the same total for any thread count.
        double[] rowLoss = Tensor.zeros(DType.F64, n).f64Data();   // ignored rows stay 0
        if (logits.dtype() == DType.F32) {
            float[] xs = in.f32Data();
            float[] ls = lse.f32Data();
            forEachRowRange(n, c,
                    ROWS_F32.take().forward(xs, xo, c, targets, ignoreIndex, labelSmoothing, ls, rowLoss));
        } else {
            double[] xs = in.f64Data();
            double[] ls = lse.f64Data();
            forEachRowRange(n, c, (from, to) -> {
                for (int r = from; r < to; r++) {
                    int ro = xo + r * c;
                    double max = Double.NEGATIVE_INFINITY;
                    double total = 0;
                    for (int j = 0; j < c; j++) {
                        max = Math.max(max, xs[ro + j]);
                        total += xs[ro + j];
                    }
                    double sum = 0;
                    for (int j = 0; j < c; j++) {
                        sum += Math.exp(xs[ro + j] - max);
                    }
                    ls[r] = max + Math.log(sum);
                    if (targets[r] != ignoreIndex) {
                        rowLoss[r] = rowLoss(ls[r], xs[ro + targets[r]], total / c, labelSmoothing);
                    }
                }
            });
        }
        int counted = 0;
        double total = 0;
        for (int r = 0; r < n; r++) {
            if (targets[r] != ignoreIndex) {
                counted++;
                total += rowLoss[r];
            }
        }
        Tensor loss = Tensor.scalar(logits.dtype(), total / counted);
        return new Result(loss, lse, counted);
    }

    /** Rows [from, to) of the F32 forward: each row's log-sum-exp, and its loss unless ignored. */
    private static void forwardRowsF32(float[] xs, int xo, int c, int[] targets, int ignoreIndex, double labelSmoothing,
                                       float[] ls, double[] rowLoss, int from, int to) {
        for (int r = from; r < to; r++) {
            int ro = xo + r * c;
            float max = maxF32(xs, ro, c);
            ls[r] = max + (float) Math.log(sumExpF32(xs, ro, c, max));
            if (targets[r] != ignoreIndex) {
                float smoothed = labelSmoothing == 0 ? 0f : sumF32(xs, ro, c) / c;
                rowLoss[r] = rowLoss(ls[r], xs[ro + targets[r]], smoothed, labelSmoothing);
            }
        }
    }

    private static double rowLoss(double lse, double targetLogit, double meanLogit, double smoothing) {
        return (1 - smoothing) * (lse - targetLogit) + smoothing * (lse - meanLogit);
    }

    // ------------------------------------------------------------------------------------------ backward

    /** d loss / d logits, [N, C], for the upstream gradient g of the scalar loss (rank 0 or one element). */
    public static Tensor backward(Tensor g, Tensor logits, int[] targets, Tensor logSumExp, int ignoreIndex,
            double labelSmoothing, int counted) {
        String op = "CrossEntropy.backward";
        check(op, logits, targets, ignoreIndex, labelSmoothing);
        int n = logits.size(0);
        int c = logits.size(1);
        if (g.numel() != 1) {
            throw new ShapeException(op + ": g must be the scalar loss's gradient, got shape " + Shapes.str(g.shape()));
        }
        if (logSumExp.rank() != 1 || logSumExp.size(0) != n) {
            throw new ShapeException(op + ": logSumExp must have shape [" + n + "] for logits " + Shapes.str(logits.shape())
                    + ", got " + Shapes.str(logSumExp.shape()));
        }
        if (g.dtype() != logits.dtype() || logSumExp.dtype() != logits.dtype()) {
            throw new IllegalArgumentException(op + ": g, logits and logSumExp must share a dtype, got " + g.dtype() + ", "
                    + logits.dtype() + " and " + logSumExp.dtype());
        }
        Tensor in = logits.contiguous();
        int xo = in.offset();
        double[] lse = Tensor.empty(DType.F64, n).copyFrom(logSumExp).f64Data();   // offset 0, in double
        double rowScale = g.item() / counted;
        double offTarget = labelSmoothing / c;
        double onTarget = 1 - labelSmoothing + offTarget;
        Tensor dx = Tensor.zeros(logits.dtype(), n, c);
        if (logits.dtype() == DType.F32) {
            float[] xs = in.f32Data();
            float[] ds = dx.f32Data();
            forEachRowRange(n, c, ROWS_F32.take().backward(xs, xo, c, targets, ignoreIndex, lse, offTarget, onTarget,
                    rowScale, ds));
        } else {
            double[] xs = in.f64Data();
            double[] ds = dx.f64Data();
            forEachRowRange(n, c, (from, to) -> {
                for (int r = from; r < to; r++) {
                    if (targets[r] != ignoreIndex) {
                        for (int j = 0; j < c; j++) {
                            double target = j == targets[r] ? onTarget : offTarget;
                            ds[r * c + j] = rowScale * (Math.exp(xs[xo + r * c + j] - lse[r]) - target);
                        }
                    }
                }
            });
        }
        return dx;
    }

    /** Rows [from, to) of the F32 backward: dx of each row that is not ignored (ignored rows stay 0). */
    private static void backwardRowsF32(float[] xs, int xo, int c, int[] targets, int ignoreIndex, double[] lse,
                                        double offTarget, double onTarget, double rowScale, float[] ds, int from,
                                        int to) {
        for (int r = from; r < to; r++) {
            if (targets[r] != ignoreIndex) {
                softmaxMinusConstF32(xs, xo + r * c, (float) lse[r], (float) offTarget, (float) rowScale, ds, r * c, c);
                ds[r * c + targets[r]] -= (float) (rowScale * (onTarget - offTarget));
            }
        }
    }

    // ------------------------------------------------------------------------------------------ checks and plumbing

    private static void check(String op, Tensor logits, int[] targets, int ignoreIndex, double labelSmoothing) {
        if (logits.rank() != 2) {
            throw new ShapeException(op + ": logits must be [N, C], got " + Shapes.str(logits.shape())
                    + "; flatten leading dimensions first, e.g. logits.reshape(-1, C)");
        }
        int n = logits.size(0);
        int c = logits.size(1);
        if (targets.length != n) {
            throw new ShapeException(op + ": " + targets.length + " targets for logits " + Shapes.str(logits.shape())
                    + " (need one per row, " + n + ")");
        }
        if (c == 0) {
            throw new ShapeException(op + ": logits " + Shapes.str(logits.shape()) + " have no classes");
        }
        for (int r = 0; r < n; r++) {
            int t = targets[r];
            if (t != ignoreIndex && (t < 0 || t >= c)) {
                throw new IllegalArgumentException(op + ": target " + t + " at position " + r + " is out of range for "
                        + c + " classes (valid 0.." + (c - 1) + ", or ignoreIndex " + ignoreIndex + ")");
            }
        }
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
            throw new IllegalArgumentException(op + ": labelSmoothing must be in [0, 1), got " + labelSmoothing);
        }
    }

    @FunctionalInterface
    private interface RowRange {
        void run(int from, int to);
    }

    /**
     * The F32 forward's or backward's rows as a reusable parallel task (see {@link Parallel.RangeTask}): no
     * closure per call.
     */
    private static final class RowsF32 extends Parallel.RangeTask {
        private boolean backward;
        private float[] xs, ls, ds;
        private double[] rowLoss, lse;
        private int[] targets;
        private int xo, c, ignoreIndex;
        private double labelSmoothing, offTarget, onTarget, rowScale;

        RowsF32 forward(float[] xs, int xo, int c, int[] targets, int ignoreIndex, double labelSmoothing, float[] ls,
                        double[] rowLoss) {
            inputs(xs, xo, c, targets, ignoreIndex);
            this.backward = false;
            this.labelSmoothing = labelSmoothing;
            this.ls = ls;
            this.rowLoss = rowLoss;
            return this;
        }

        RowsF32 backward(float[] xs, int xo, int c, int[] targets, int ignoreIndex, double[] lse, double offTarget,
                         double onTarget, double rowScale, float[] ds) {
            inputs(xs, xo, c, targets, ignoreIndex);
            this.backward = true;
            this.lse = lse;
            this.offTarget = offTarget;
            this.onTarget = onTarget;
            this.rowScale = rowScale;
            this.ds = ds;
            return this;
        }

        private void inputs(float[] xs, int xo, int c, int[] targets, int ignoreIndex) {
            this.xs = xs;
            this.xo = xo;
            this.c = c;
            this.targets = targets;
            this.ignoreIndex = ignoreIndex;
        }

        @Override
        protected void run(int from, int to) {
            if (backward) {
                backwardRowsF32(xs, xo, c, targets, ignoreIndex, lse, offTarget, onTarget, rowScale, ds, from, to);
            } else {
                forwardRowsF32(xs, xo, c, targets, ignoreIndex, labelSmoothing, ls, rowLoss, from, to);
            }
        }

        @Override
        protected void clear() {
            xs = ls = ds = null;
            rowLoss = lse = null;
            targets = null;
        }
    }

    private static final Parallel.TaskCache<RowsF32> ROWS_F32 = new Parallel.TaskCache<>(RowsF32::new);

    /** How many row ranges to split rows of rowLength logits into: 1 runs them on the calling thread. */
    private static int rowTasks(int rows, int rowLength) {
        return Math.max(1, Math.min(rows, Parallel.chunks((long) rows * rowLength, MIN_ELEMENTS_PER_TASK)));
    }

    /** Runs task over [0, rows) in chunks; every row is computed by exactly one task. */
    private static void forEachRowRange(int rows, int rowLength, Parallel.RangeTask task) {
        Parallel.forEachRange(rows, rowTasks(rows, rowLength), 1, task);
    }

    /** The same with a lambda (a new object per call), for the F64 reference. */
    private static void forEachRowRange(int rows, int rowLength, RowRange body) {
        int tasks = rowTasks(rows, rowLength);
        if (tasks <= 1) {
            body.run(0, rows);
            return;
        }
        Parallel.forEachTask(tasks,
                t -> body.run((int) ((long) rows * t / tasks), (int) ((long) rows * (t + 1) / tasks)));
    }

    // ------------------------------------------------------------------------------------------ F32 row kernels

    private static float maxF32(float[] x, int xo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        float max = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            var lanes = FloatVector.fromArray(F, x, xo);
            for (i = F.length(); i < bound; i += F.length()) {
                lanes = lanes.max(FloatVector.fromArray(F, x, xo + i));
            }
            max = lanes.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            max = Math.max(max, x[xo + i]);
        }
        return max;
    }

    private static float sumExpF32(float[] x, int xo, int n, float max) {
        return VectorMath.expShiftedSum(x, xo, null, 0, n, max);
    }

    private static float sumF32(float[] x, int xo, int n) {
        return Lanes.sum(x, xo, n);
    }

    /** out[j] = scale * (exp(x[j] - lse) - offTarget): the gradient of every class before the target's own term. */
    private static void softmaxMinusConstF32(float[] x, int xo, float lse, float offTarget, float scale, float[] out,
            int oo, int n) {
        VectorMath.expShiftedSum(x, xo, out, oo, n, lse);
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, out, oo + i).sub(offTarget).mul(scale).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = scale * (out[oo + i] - offTarget);
        }
    }
}
