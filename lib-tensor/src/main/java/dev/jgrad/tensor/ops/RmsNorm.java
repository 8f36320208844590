package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.NormRows;
import dev.jgrad.tensor.kernel.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * RMS normalisation over the last dimension (LLaMA): out = x * rstd * weight with
 * rstd = 1 / sqrt(mean(x^2) + eps). Unlike layer norm there is no mean subtraction and no bias. The forward
 * saves each row's rstd for the backward.
 */
public final class RmsNorm {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private RmsNorm() {}

    /** Output plus the per-row rstd (shape x.shape[:-1]) that {@link #backward} needs. */
    public record Result(Tensor out, Tensor rstd) {}

    /** Gradients for x and weight; weight's is null when the forward had no weight. */
    public record Grads(Tensor x, Tensor weight) {}

    /** Normalises each row of the last dimension; weight is [D] or null (meaning 1). */
    public static Result forward(Tensor x, Tensor weight, double eps) {
        Tensor rstd = rowStats(x);
        return new Result(forward(x, weight, eps, rstd), rstd);
    }

    /** A new tensor for the forward's row statistic: shape x.shape[:-1], x's dtype, values unspecified. */
    public static Tensor rowStats(Tensor x) {
        NormRows.lastDim("RmsNorm.forward", x);
        return NormRows.emptyRowStats(x);
    }

    /**
     * The output of {@link #forward(Tensor, Tensor, double)}, with the row statistic written into {@code rstd}: a
     * contiguous tensor of shape x.shape[:-1] and x's dtype starting at offset 0, e.g. from {@link #rowStats},
     * whose values are overwritten. The tape calls this form, so a recorded RMS norm makes no result object.
     */
    public static Tensor forward(Tensor x, Tensor weight, double eps, Tensor rstd) {
        String op = "RmsNorm.forward";
        int d = NormRows.lastDim(op, x);
        NormRows.checkFeatureParam(op, "weight", weight, x, d);
        NormRows.checkRowStat(op, "rstd", rstd, x);
        if (!rstd.isContiguous() || rstd.offset() != 0) {
            throw new IllegalArgumentException(op + ": rstd must be contiguous from offset 0 (a new tensor), got "
                    + "strides " + Shapes.str(rstd.strides()) + " and offset " + rstd.offset());
        }
        if (!(eps >= 0)) {
            throw new IllegalArgumentException(op + ": eps must be >= 0, got " + eps);
        }
        Tensor in = x.contiguous();
        int rows = in.numel() / d;
        int xo = in.offset();
        Tensor out = Tensor.zerosLike(x);
        if (x.dtype() == DType.F32) {
            float[] xs = in.f32Data();
            float[] w = NormRows.featuresF32(weight, d, 1f);
            float[] ys = out.f32Data();
            float[] rs = rstd.f32Data();
            float e = (float) eps;
            if (NormRows.isOneRowRange(rows, d)) {
                forwardRowsF32(xs, xo, w, e, ys, rs, d, 0, rows);
            } else {
                NormRows.forEachRowRange(rows, d, FORWARD_F32.take().set(xs, xo, w, e, ys, rs, d));
            }
        } else {
            double[] xs = in.f64Data();
            double[] w = NormRows.featuresF64(weight, d, 1);
            double[] ys = out.f64Data();
            double[] rs = rstd.f64Data();
            NormRows.forEachRowRange(rows, d, (from, to) -> {
                for (int r = from; r < to; r++) {
                    forwardRowF64(xs, xo + r * d, w, eps, ys, r * d, rs, r, d);
                }
            });
        }
        return out;
    }

    /** {@link #forwardRowsF32} as a reusable parallel task (see {@link Parallel.RangeTask}): no closure per call. */
    private static final class ForwardF32 extends Parallel.RangeTask {
        private float[] x, w, y, rstd;
        private int xo, d;
        private float eps;

        ForwardF32 set(float[] x, int xo, float[] w, float eps, float[] y, float[] rstd, int d) {
            this.x = x;
            this.xo = xo;
            this.w = w;
            this.eps = eps;
            this.y = y;
            this.rstd = rstd;
            this.d = d;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            forwardRowsF32(x, xo, w, eps, y, rstd, d, from, to);
        }

        @Override
        protected void clear() {
            x = w = y = rstd = null;
        }
    }

    private static final Parallel.TaskCache<ForwardF32> FORWARD_F32 = new Parallel.TaskCache<>(ForwardF32::new);

    /** Rows [from, to) of the F32 forward. */
    private static void forwardRowsF32(float[] x, int xo, float[] w, float eps, float[] y, float[] rstd, int d,
            int from, int to) {
        for (int r = from; r < to; r++) {
            forwardRowF32(x, xo + r * d, w, eps, y, r * d, rstd, r, d);
        }
    }

    private static void forwardRowF32(float[] x, int xo, float[] w, float eps, float[] y, int yo, float[] rstd,
            int row, int n) {
        int bound = F.loopBound(n);
        int i;
        float sq = Lanes.dot(x, xo, x, xo, n);
        float s = (float) (1.0 / Math.sqrt(sq / n + eps));
        for (i = 0; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xo + i).mul(s).mul(FloatVector.fromArray(F, w, i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = x[xo + i] * s * w[i];
        }
        rstd[row] = s;
    }

    private static void forwardRowF64(double[] x, int xo, double[] w, double eps, double[] y, int yo, double[] rstd,
            int row, int n) {
        double sq = 0;
        for (int i = 0; i < n; i++) {
            sq += x[xo + i] * x[xo + i];
        }
        double s = 1.0 / Math.sqrt(sq / n + eps);
        for (int i = 0; i < n; i++) {
            y[yo + i] = x[xo + i] * s * w[i];
        }
        rstd[row] = s;
    }

    /**
     * Gradients given the upstream gradient {@code g} (shape of x), the forward's input, weight (or null) and
     * saved rstd. With norm = x * rstd and dnorm = weight * g: dx = (dnorm - norm * mean(dnorm * norm)) * rstd,
     * and dweight = sum over rows of g * norm.
     */
    public static Grads backward(Tensor g, Tensor x, Tensor weight, Tensor rstd) {
        Tensor[] grads = new Tensor[2];
        backward(g, x, weight, rstd, grads);
        return new Grads(grads[0], grads[1]);
    }

    /**
     * As {@link #backward(Tensor, Tensor, Tensor, Tensor)}, writing the gradients of x and weight into
     * {@code grads[0]} and {@code grads[1]} as the tape's backward kernels do, so a recorded RMS norm makes no
     * result object.
     */
    public static void backward(Tensor g, Tensor x, Tensor weight, Tensor rstd, Tensor[] grads) {
        String op = "RmsNorm.backward";
        int d = NormRows.lastDim(op, x);
        NormRows.checkSameDType(op, "g", g, "x", x);
        NormRows.checkSameShape(op, "g", g, "x", x);
        NormRows.checkFeatureParam(op, "weight", weight, x, d);
        NormRows.checkRowStat(op, "rstd", rstd, x);
        Tensor gs = g.contiguous();
        Tensor xs = x.contiguous();
        Tensor rs = rstd.contiguous();
        int rows = xs.numel() / d;
        int go = gs.offset();
        int xo = xs.offset();
        int ro = rs.offset();
        Tensor dx = Tensor.zerosLike(x);
        Tensor dweight = weight == null ? null : Tensor.zerosLike(weight);   // [D] in x's dtype (checked)
        if (x.dtype() == DType.F32) {
            float[] gd = gs.f32Data();
            float[] xd = xs.f32Data();
            float[] rd = rs.f32Data();
            float[] w = NormRows.featuresF32(weight, d, 1f);
            float[] dxs = dx.f32Data();
            if (NormRows.isOneRowRange(rows, d)) {
                backwardRowsF32(gd, go, xd, xo, rd, ro, w, dxs, d, 0, rows);
            } else {
                NormRows.forEachRowRange(rows, d, BACKWARD_F32.take().dxRows(gd, go, xd, xo, rd, ro, w, dxs, d));
            }
            if (dweight != null) {
                // Summed over rows in row order, each column by one thread: deterministic for any thread count.
                float[] dw = dweight.f32Data();
                if (NormRows.isOneColumnRange(d, rows, F.length())) {
                    weightGradF32(gd, go, xd, xo, rd, ro, rows, d, 0, d, dw);
                } else {
                    NormRows.forEachColumnRange(d, rows, F.length(),
                            BACKWARD_F32.take().weightColumns(gd, go, xd, xo, rd, ro, rows, d, dw));
                }
            }
        } else {
            double[] gd = gs.f64Data();
            double[] xd = xs.f64Data();
            double[] rd = rs.f64Data();
            double[] w = NormRows.featuresF64(weight, d, 1);
            double[] dxs = dx.f64Data();
            NormRows.forEachRowRange(rows, d, (from, to) -> {
                for (int r = from; r < to; r++) {
                    backwardRowF64(gd, go + r * d, xd, xo + r * d, rd[ro + r], w, dxs, r * d, d);
                }
            });
            if (dweight != null) {
                double[] dw = dweight.f64Data();
                for (int r = 0; r < rows; r++) {
                    for (int i = 0; i < d; i++) {
                        dw[i] += gd[go + r * d + i] * xd[xo + r * d + i] * rd[ro + r];
                    }
                }
            }
        }
        grads[0] = dx;
        grads[1] = dweight;
    }

    /**
     * The F32 backward's parallel parts as a reusable task (see {@link Parallel.RangeTask}): ranges of rows of dx,
     * or ranges of columns of the weight gradient.
     */
    private static final class BackwardF32 extends Parallel.RangeTask {
        private boolean weightColumns;
        private float[] g, x, rstd, w, dx, dw;
        private int go, xo, ro, rows, d;

        BackwardF32 dxRows(float[] g, int go, float[] x, int xo, float[] rstd, int ro, float[] w, float[] dx, int d) {
            inputs(g, go, x, xo, rstd, ro, d);
            this.weightColumns = false;
            this.w = w;
            this.dx = dx;
            return this;
        }

        BackwardF32 weightColumns(float[] g, int go, float[] x, int xo, float[] rstd, int ro, int rows, int d,
                                  float[] dw) {
            inputs(g, go, x, xo, rstd, ro, d);
            this.weightColumns = true;
            this.rows = rows;
            this.dw = dw;
            return this;
        }

        private void inputs(float[] g, int go, float[] x, int xo, float[] rstd, int ro, int d) {
            this.g = g;
            this.go = go;
            this.x = x;
            this.xo = xo;
            this.rstd = rstd;
            this.ro = ro;
            this.d = d;
        }

        @Override
        protected void run(int from, int to) {
            if (weightColumns) {
                weightGradF32(g, go, x, xo, rstd, ro, rows, d, from, to, dw);
            } else {
                backwardRowsF32(g, go, x, xo, rstd, ro, w, dx, d, from, to);
            }
        }

        @Override
        protected void clear() {
            g = x = rstd = w = dx = dw = null;
        }
    }

    private static final Parallel.TaskCache<BackwardF32> BACKWARD_F32 = new Parallel.TaskCache<>(BackwardF32::new);

    /** Rows [from, to) of the F32 backward's dx. */
    private static void backwardRowsF32(float[] g, int go, float[] x, int xo, float[] rstd, int ro, float[] w,
            float[] dx, int d, int from, int to) {
        for (int r = from; r < to; r++) {
            backwardRowF32(g, go + r * d, x, xo + r * d, rstd[ro + r], w, dx, r * d, d);
        }
    }

    private static void backwardRowF32(float[] g, int go, float[] x, int xo, float s, float[] w, float[] dx, int dxo,
            int n) {
        int bound = F.loopBound(n);
        int i = 0;
        // dnorm goes into dx's row first: the sum then reads it back, and the last pass overwrites it.
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, g, go + i)).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) {
            dx[dxo + i] = w[i] * g[go + i];
        }
        float dnormNormMean = Lanes.dotNormalized(dx, dxo, x, xo, n, 0f, s) / n;
        for (i = 0; i < bound; i += F.length()) {
            var norm = FloatVector.fromArray(F, x, xo + i).mul(s);
            FloatVector.fromArray(F, dx, dxo + i).sub(norm.mul(dnormNormMean)).mul(s).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) {
            float norm = x[xo + i] * s;
            dx[dxo + i] = (dx[dxo + i] - norm * dnormNormMean) * s;
        }
    }

    private static void weightGradF32(float[] g, int go, float[] x, int xo, float[] rstd, int ro, int rows, int n,
            int c0, int c1, float[] dw) {
        int bound = c0 + F.loopBound(c1 - c0);
        for (int r = 0; r < rows; r++) {
            int gr = go + r * n;
            int xr = xo + r * n;
            float s = rstd[ro + r];
            int i = c0;
            for (; i < bound; i += F.length()) {
                var norm = FloatVector.fromArray(F, x, xr + i).mul(s);
                FloatVector.fromArray(F, g, gr + i).fma(norm, FloatVector.fromArray(F, dw, i)).intoArray(dw, i);
            }
            for (; i < c1; i++) {
                dw[i] = Math.fma(g[gr + i], x[xr + i] * s, dw[i]);
            }
        }
    }

    private static void backwardRowF64(double[] g, int go, double[] x, int xo, double s, double[] w, double[] dx,
            int dxo, int n) {
        double dnormNormSum = 0;
        for (int i = 0; i < n; i++) {
            dnormNormSum += w[i] * g[go + i] * (x[xo + i] * s);
        }
        double dnormNormMean = dnormNormSum / n;
        for (int i = 0; i < n; i++) {
            double norm = x[xo + i] * s;
            dx[dxo + i] = (w[i] * g[go + i] - norm * dnormNormMean) * s;
        }
    }
}
