package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.NormRows;
import dev.jgrad.tensor.kernel.Lanes;
import dev.jgrad.tensor.kernel.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax and log-softmax along one axis, each beside its backward. Rows are made contiguous by moving the
 * axis last; every row subtracts its maximum before exponentiating, so inputs like 1000 do not overflow.
 */
public final class Softmax {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Softmax() {}

    // ------------------------------------------------------------------------------------------ softmax

    /** exp(x - max) / sum(exp(x - max)) along {@code axis} (negative counts from the end). */
    public static Tensor softmax(Tensor x, int axis) {
        return forward("Softmax.softmax", x, axis, false);
    }

    /** Gradient of softmax: dx = y * (g - sum(g * y)) along {@code axis}, where y is softmax's output. */
    public static Tensor softmaxBackward(Tensor g, Tensor y, int axis) {
        return backward("Softmax.softmaxBackward", g, y, axis, false);
    }

    private static void softmaxRowF32(float[] x, int xo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i;
        float sum = VectorMath.expShiftedSum(x, xo, y, yo, n, rowMaxF32(x, xo, n));
        float inv = 1f / sum;
        for (i = 0; i < bound; i += F.length()) {
            FloatVector.fromArray(F, y, yo + i).mul(inv).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] *= inv;
        }
    }

    private static void softmaxRowF64(double[] x, int xo, double[] y, int yo, int n) {
        double max = rowMaxF64(x, xo, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            y[yo + i] = Math.exp(x[xo + i] - max);
            sum += y[yo + i];
        }
        for (int i = 0; i < n; i++) {
            y[yo + i] /= sum;
        }
    }

    private static void softmaxBackwardRowF32(float[] g, int go, float[] y, int yo, float[] dx, int dxo, int n) {
        int bound = F.loopBound(n);
        int i;
        float dot = Lanes.dot(g, go, y, yo, n);
        for (i = 0; i < bound; i += F.length()) {
            var gv = FloatVector.fromArray(F, g, go + i);
            gv.sub(dot).mul(FloatVector.fromArray(F, y, yo + i)).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) {
            dx[dxo + i] = (g[go + i] - dot) * y[yo + i];
        }
    }

    private static void softmaxBackwardRowF64(double[] g, int go, double[] y, int yo, double[] dx, int dxo, int n) {
        double dot = 0;
        for (int i = 0; i < n; i++) {
            dot += g[go + i] * y[yo + i];
        }
        for (int i = 0; i < n; i++) {
            dx[dxo + i] = (g[go + i] - dot) * y[yo + i];
        }
    }

    /**
     * Rows [from, to) of an F32 forward (x to y) or backward (g and y to dx), of softmax or log-softmax, as a
     * reusable parallel task (see {@link Parallel.RangeTask}): no closure per call.
     */
    private static final class RowsF32 extends Parallel.RangeTask {
        private boolean backward, log;
        private float[] g, in, out;
        private int go, io, n;

        RowsF32 forward(boolean log, float[] x, int xo, float[] y, int n) {
            return set(false, log, null, 0, x, xo, y, n);
        }

        RowsF32 backward(boolean log, float[] g, int go, float[] y, int yo, float[] dx, int n) {
            return set(true, log, g, go, y, yo, dx, n);
        }

        private RowsF32 set(boolean backward, boolean log, float[] g, int go, float[] in, int io, float[] out, int n) {
            this.backward = backward;
            this.log = log;
            this.g = g;
            this.go = go;
            this.in = in;
            this.io = io;
            this.out = out;
            this.n = n;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            for (int r = from; r < to; r++) {
                if (backward && log) {
                    logSoftmaxBackwardRowF32(g, go + r * n, in, io + r * n, out, r * n, n);
                } else if (backward) {
                    softmaxBackwardRowF32(g, go + r * n, in, io + r * n, out, r * n, n);
                } else if (log) {
                    logSoftmaxRowF32(in, io + r * n, out, r * n, n);
                } else {
                    softmaxRowF32(in, io + r * n, out, r * n, n);
                }
            }
        }

        @Override
        protected void clear() {
            g = in = out = null;
        }
    }

    private static final Parallel.TaskCache<RowsF32> ROWS_F32 = new Parallel.TaskCache<>(RowsF32::new);

    /** Row driver shared by softmax and log-softmax: the axis is moved last and rows split across threads. */
    private static Tensor forward(String op, Tensor x, int axis, boolean log) {
        int a = Shapes.axis(op, axis, x.rank());
        Tensor in = NormRows.axisLast(x, a);
        Tensor out = Tensor.emptyLike(in);   // every row is written
        if (in.numel() == 0) {
            return NormRows.restoreAxis(out, a);
        }
        int n = in.size(-1);
        int rows = in.numel() / n;
        int xo = in.offset();
        if (x.dtype() == DType.F32) {
            float[] xs = in.f32Data();
            float[] ys = out.f32Data();
            NormRows.forEachRowRange(rows, n, ROWS_F32.take().forward(log, xs, xo, ys, n));
        } else {
            double[] xs = in.f64Data();
            double[] ys = out.f64Data();
            NormRows.forEachRowRange(rows, n, (from, to) -> {
                for (int r = from; r < to; r++) {
                    if (log) {
                        logSoftmaxRowF64(xs, xo + r * n, ys, r * n, n);
                    } else {
                        softmaxRowF64(xs, xo + r * n, ys, r * n, n);
                    }
                }
            });
        }
        return NormRows.restoreAxis(out, a);
    }

    /** Largest of x[xo .. xo+n). */
    private static float rowMaxF32(float[] x, int xo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        var maxLanes = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i < bound; i += F.length()) {
            maxLanes = maxLanes.max(FloatVector.fromArray(F, x, xo + i));
        }
        float max = maxLanes.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[xo + i]);
        }
        return max;
    }

    private static double rowMaxF64(double[] x, int xo, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[xo + i]);
        }
        return max;
    }

    // ------------------------------------------------------------------------------------------ log-softmax

    /** x - max - log(sum(exp(x - max))) along {@code axis}: the log of softmax, without its underflow. */
    public static Tensor logSoftmax(Tensor x, int axis) {
        return forward("Softmax.logSoftmax", x, axis, true);
    }

    /** Gradient of log-softmax: dx = g - exp(y) * sum(g) along {@code axis}, where y is logSoftmax's output. */
    public static Tensor logSoftmaxBackward(Tensor g, Tensor y, int axis) {
        return backward("Softmax.logSoftmaxBackward", g, y, axis, true);
    }

    private static void logSoftmaxRowF32(float[] x, int xo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i;
        float max = rowMaxF32(x, xo, n);
        var maxB = FloatVector.broadcast(F, max);
        float sum = VectorMath.expShiftedSum(x, xo, null, 0, n, max);
        // (x - max) - logSum rather than x - (max + logSum): max + logSum would round away logSum when max is large.
        float logSum = (float) Math.log(sum);
        for (i = 0; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xo + i).sub(maxB).sub(logSum).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = (x[xo + i] - max) - logSum;
        }
    }

    private static void logSoftmaxRowF64(double[] x, int xo, double[] y, int yo, int n) {
        double max = rowMaxF64(x, xo, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[xo + i] - max);
        }
        double logSum = Math.log(sum);
        for (int i = 0; i < n; i++) {
            y[yo + i] = (x[xo + i] - max) - logSum;
        }
    }

    private static void logSoftmaxBackwardRowF32(float[] g, int go, float[] y, int yo, float[] dx, int dxo, int n) {
        float sum = Lanes.sum(g, go, n);
        VectorMath.expShiftedSum(y, yo, dx, dxo, n, 0f);   // dx = exp(y) = softmax, then dx = g - softmax * sum
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            var p = FloatVector.fromArray(F, dx, dxo + i);
            FloatVector.fromArray(F, g, go + i).sub(p.mul(sum)).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) {
            dx[dxo + i] = g[go + i] - dx[dxo + i] * sum;
        }
    }

    private static void logSoftmaxBackwardRowF64(double[] g, int go, double[] y, int yo, double[] dx, int dxo,
            int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += g[go + i];
        }
        for (int i = 0; i < n; i++) {
            dx[dxo + i] = g[go + i] - Math.exp(y[yo + i]) * sum;
        }
    }

    // ------------------------------------------------------------------------------------------ shared backward

    /** Checks and row plumbing common to both backwards; {@code log} picks the log-softmax row kernels. */

    private static Tensor backward(String op, Tensor g, Tensor y, int axis, boolean log) {
        NormRows.checkSameDType(op, "g", g, "y", y);
        NormRows.checkSameShape(op, "g", g, "y", y);
        int a = Shapes.axis(op, axis, y.rank());
        Tensor gs = NormRows.axisLast(g, a);
        Tensor ys = NormRows.axisLast(y, a);
        Tensor dx = Tensor.zerosLike(ys);
        if (ys.numel() == 0) {
            return NormRows.restoreAxis(dx, a);
        }
        int n = ys.size(-1);
        int rows = ys.numel() / n;
        int go = gs.offset();
        int yo = ys.offset();
        if (y.dtype() == DType.F32) {
            float[] gd = gs.f32Data();
            float[] yd = ys.f32Data();
            float[] dd = dx.f32Data();
            NormRows.forEachRowRange(rows, n, ROWS_F32.take().backward(log, gd, go, yd, yo, dd, n));
        } else {
            double[] gd = gs.f64Data();
            double[] yd = ys.f64Data();
            double[] dd = dx.f64Data();
            NormRows.forEachRowRange(rows, n, (from, to) -> {
                for (int r = from; r < to; r++) {
                    if (log) {
                        logSoftmaxBackwardRowF64(gd, go + r * n, yd, yo + r * n, dd, r * n, n);
                    } else {
                        softmaxBackwardRowF64(gd, go + r * n, yd, yo + r * n, dd, r * n, n);
                    }
                }
            });
        }
        return NormRows.restoreAxis(dx, a);
    }
}
