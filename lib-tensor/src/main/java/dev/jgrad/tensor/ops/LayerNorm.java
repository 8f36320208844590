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
 * Layer normalisation over the last dimension, like {@code torch.nn.functional.layer_norm(x, [D], w, b, eps)}:
 * out = (x - mean) * rstd * weight + bias with rstd = 1 / sqrt(biased variance + eps). The forward saves each
 * row's mean and rstd so the backward need not recompute them (as in llm.c).
 */
public final class LayerNorm {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private LayerNorm() {}

    /** Output plus the per-row statistics (shape x.shape[:-1]) that {@link #backward} needs. */
    public record Result(Tensor out, Tensor mean, Tensor rstd) {}

    /** Gradients for x, weight and bias; weight/bias entries are null when the forward had none. */
    public record Grads(Tensor x, Tensor weight, Tensor bias) {}

    /** Normalises each row of the last dimension; weight and bias are [D] or null (meaning 1 and 0). */
    public static Result forward(Tensor x, Tensor weight, Tensor bias, double eps) {
        Tensor mean = rowStats(x);
        Tensor rstd = rowStats(x);
        return new Result(forward(x, weight, bias, eps, mean, rstd), mean, rstd);
    }

    /** A new tensor for one of the forward's row statistics: shape x.shape[:-1], x's dtype, values unspecified. */
    public static Tensor rowStats(Tensor x) {
        NormRows.lastDim("LayerNorm.forward", x);
        return NormRows.emptyRowStats(x);
    }

    /**
     * The output of {@link #forward(Tensor, Tensor, Tensor, double)}, with the row statistics written into
     * {@code mean} and {@code rstd}: contiguous tensors of shape x.shape[:-1] and x's dtype starting at offset 0,
     * e.g. from {@link #rowStats}, whose values are overwritten. The tape calls this form, so a
     * recorded layer norm makes no result object.
     */
    public static Tensor forward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor mean, Tensor rstd) {
        String op = "LayerNorm.forward";
        int d = NormRows.lastDim(op, x);
        NormRows.checkFeatureParam(op, "weight", weight, x, d);
        NormRows.checkFeatureParam(op, "bias", bias, x, d);
        checkStatOutput(op, "mean", mean, x);
        checkStatOutput(op, "rstd", rstd, x);
        if (!(eps >= 0)) {
            throw new IllegalArgumentException(op + ": eps must be >= 0, got " + eps);
        }
        Tensor in = x.contiguous();
        int rows = in.numel() / d;
        int xo = in.offset();
        Tensor out = Tensor.emptyLike(x);   // every row and its statistics are written
        if (x.dtype() == DType.F32) {
            float[] xs = in.f32Data();
            float[] w = NormRows.featuresF32(weight, d, 1f);
            float[] b = NormRows.featuresF32(bias, d, 0f);
            float[] ys = out.f32Data();
            float[] ms = mean.f32Data();
            float[] rs = rstd.f32Data();
            float e = (float) eps;
            if (NormRows.isOneRowRange(rows, d)) {
                forwardRowsF32(xs, xo, w, b, e, ys, ms, rs, d, 0, rows);
            } else {
                NormRows.forEachRowRange(rows, d, FORWARD_F32.take().set(xs, xo, w, b, e, ys, ms, rs, d));
            }
        } else {
            double[] xs = in.f64Data();
            double[] w = NormRows.featuresF64(weight, d, 1);
            double[] b = NormRows.featuresF64(bias, d, 0);
            double[] ys = out.f64Data();
            double[] ms = mean.f64Data();
            double[] rs = rstd.f64Data();
            NormRows.forEachRowRange(rows, d, (from, to) -> {
                for (int r = from; r < to; r++) {
                    forwardRowF64(xs, xo + r * d, w, b, eps, ys, r * d, ms, rs, r, d);
                }
            });
        }
        return out;
    }

    /** A row statistic the forward writes must be x.shape[:-1], of x's dtype, and its storage from index 0 on. */
    private static void checkStatOutput(String op, String name, Tensor stat, Tensor x) {
        NormRows.checkRowStat(op, name, stat, x);
        if (!stat.isContiguous() || stat.offset() != 0) {
            throw new IllegalArgumentException(op + ": " + name + " must be contiguous from offset 0 (a new tensor), "
                    + "got strides " + Shapes.str(stat.strides()) + " and offset " + stat.offset());
        }
    }

    /** {@link #forwardRowsF32} as a reusable parallel task (see {@link Parallel.RangeTask}): no closure per call. */
    private static final class ForwardF32 extends Parallel.RangeTask {
        private float[] x, w, b, y, mean, rstd;
        private int xo, d;
        private float eps;

        ForwardF32 set(float[] x, int xo, float[] w, float[] b, float eps, float[] y, float[] mean, float[] rstd,
                       int d) {
            this.x = x;
            this.xo = xo;
            this.w = w;
            this.b = b;
            this.eps = eps;
            this.y = y;
            this.mean = mean;
            this.rstd = rstd;
            this.d = d;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            forwardRowsF32(x, xo, w, b, eps, y, mean, rstd, d, from, to);
        }

        @Override
        protected void clear() {
            x = w = b = y = mean = rstd = null;
        }
    }

    private static final Parallel.TaskCache<ForwardF32> FORWARD_F32 = new Parallel.TaskCache<>(ForwardF32::new);

    /** Rows [from, to) of the F32 forward. */
    private static void forwardRowsF32(float[] x, int xo, float[] w, float[] b, float eps, float[] y, float[] mean,
            float[] rstd, int d, int from, int to) {
        for (int r = from; r < to; r++) {
            forwardRowF32(x, xo + r * d, w, b, eps, y, r * d, mean, rstd, r, d);
        }
    }

    /** Two passes (mean, then the squared deviations from it) keep the float variance accurate. */
    private static void forwardRowF32(float[] x, int xo, float[] w, float[] b, float eps, float[] y, int yo,
            float[] mean, float[] rstd, int row, int n) {
        float m = Lanes.sum(x, xo, n) / n;
        float sq = Lanes.sumSquaredDeviations(x, xo, n, m);
        var meanB = FloatVector.broadcast(F, m);
        int bound = F.loopBound(n);
        int i;
        float s = (float) (1.0 / Math.sqrt(sq / n + eps));
        for (i = 0; i < bound; i += F.length()) {
            var norm = FloatVector.fromArray(F, x, xo + i).sub(meanB).mul(s);
            norm.fma(FloatVector.fromArray(F, w, i), FloatVector.fromArray(F, b, i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = (x[xo + i] - m) * s * w[i] + b[i];
        }
        mean[row] = m;
        rstd[row] = s;
    }

    private static void forwardRowF64(double[] x, int xo, double[] w, double[] b, double eps, double[] y, int yo,
            double[] mean, double[] rstd, int row, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += x[xo + i];
        }
        double m = sum / n;
        double sq = 0;
        for (int i = 0; i < n; i++) {
            double dev = x[xo + i] - m;
            sq += dev * dev;
        }
        double s = 1.0 / Math.sqrt(sq / n + eps);
        for (int i = 0; i < n; i++) {
            y[yo + i] = (x[xo + i] - m) * s * w[i] + b[i];
        }
        mean[row] = m;
        rstd[row] = s;
    }

    /**
     * Gradients given the upstream gradient {@code g} (shape of x), the forward's input, weight (or null) and
     * saved mean/rstd. The bias gradient (the sum of g over all rows) is always returned, because whether the
     * forward had a bias does not change the other gradients; use the overload taking {@code bias} to get null
     * for a forward without one.
     */
    public static Grads backward(Tensor g, Tensor x, Tensor weight, Tensor mean, Tensor rstd) {
        Tensor[] grads = new Tensor[3];
        backward("LayerNorm.backward", g, x, weight, true, mean, rstd, grads);
        return new Grads(grads[0], grads[1], grads[2]);
    }

    /** As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor)}; the bias gradient is null when bias is null. */
    public static Grads backward(Tensor g, Tensor x, Tensor weight, Tensor bias, Tensor mean, Tensor rstd) {
        Tensor[] grads = new Tensor[3];
        backward(g, x, weight, bias, mean, rstd, grads);
        return new Grads(grads[0], grads[1], grads[2]);
    }

    /**
     * As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)}, writing the gradients of x, weight and
     * bias into {@code grads[0]}, {@code grads[1]} and {@code grads[2]} as the tape's backward kernels do, so a
     * recorded layer norm makes no result object.
     */
    public static void backward(Tensor g, Tensor x, Tensor weight, Tensor bias, Tensor mean, Tensor rstd,
            Tensor[] grads) {
        String op = "LayerNorm.backward";
        if (bias != null) {
            NormRows.checkFeatureParam(op, "bias", bias, x, NormRows.lastDim(op, x));
        }
        backward(op, g, x, weight, bias != null, mean, rstd, grads);
    }

    private static void backward(String op, Tensor g, Tensor x, Tensor weight, boolean wantBias, Tensor mean,
            Tensor rstd, Tensor[] grads) {
        int d = NormRows.lastDim(op, x);
        NormRows.checkSameDType(op, "g", g, "x", x);
        NormRows.checkSameShape(op, "g", g, "x", x);
        NormRows.checkFeatureParam(op, "weight", weight, x, d);
        NormRows.checkRowStat(op, "mean", mean, x);
        NormRows.checkRowStat(op, "rstd", rstd, x);
        Tensor gs = g.contiguous();
        Tensor xs = x.contiguous();
        Tensor ms = mean.contiguous();
        Tensor rs = rstd.contiguous();
        int rows = xs.numel() / d;
        Tensor dx = Tensor.emptyLike(x);   // every row is written (zeroing it ran serially)
        Tensor dweight = weight == null ? null : Tensor.zerosLike(weight);   // [D] in x's dtype (checked)
        Tensor dbias = !wantBias ? null : dweight != null ? Tensor.zerosLike(dweight) : Tensor.zeros(x.dtype(), d);
        if (x.dtype() == DType.F32) {
            float[] w = NormRows.featuresF32(weight, d, 1f);
            var rowArgs = new RowsF32(gs.f32Data(), gs.offset(), xs.f32Data(), xs.offset(), ms.f32Data(), ms.offset(),
                    rs.f32Data(), rs.offset(), d);
            float[] dxs = dx.f32Data();
            if (NormRows.isOneRowRange(rows, d)) {
                backwardRowsF32(rowArgs, 0, rows, w, dxs);
            } else {
                NormRows.forEachRowRange(rows, d, BACKWARD_F32.take().dxRows(rowArgs, w, dxs));
            }
            // Parameter gradients sum over rows; each column is summed in row order by one thread.
            float[] dw = dweight == null ? null : dweight.f32Data();
            float[] db = dbias == null ? null : dbias.f32Data();
            if (NormRows.isOneColumnRange(d, rows, F.length())) {
                paramGradsF32(rowArgs, rows, 0, d, dw, db);
            } else {
                NormRows.forEachColumnRange(d, rows, F.length(),
                        BACKWARD_F32.take().paramColumns(rowArgs, rows, dw, db));
            }
        } else {
            double[] w = NormRows.featuresF64(weight, d, 1);
            double[] gd = gs.f64Data();
            double[] xd = xs.f64Data();
            double[] md = ms.f64Data();
            double[] rd = rs.f64Data();
            double[] dxs = dx.f64Data();
            int go = gs.offset();
            int xo = xs.offset();
            int mo = ms.offset();
            int ro = rs.offset();
            NormRows.forEachRowRange(rows, d, (from, to) -> {
                for (int r = from; r < to; r++) {
                    backwardRowF64(gd, go + r * d, xd, xo + r * d, md[mo + r], rd[ro + r], w, dxs, r * d, d);
                }
            });
            double[] dw = dweight == null ? null : dweight.f64Data();
            double[] db = dbias == null ? null : dbias.f64Data();
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < d; i++) {
                    double gi = gd[go + r * d + i];
                    if (dw != null) {
                        dw[i] += gi * (xd[xo + r * d + i] - md[mo + r]) * rd[ro + r];
                    }
                    if (db != null) {
                        db[i] += gi;
                    }
                }
            }
        }
        grads[0] = dx;
        grads[1] = dweight;
        grads[2] = dbias;
    }

    /** The F32 backward's inputs: storage arrays with their offsets, and the row length. */
    private record RowsF32(float[] g, int go, float[] x, int xo, float[] mean, int mo, float[] rstd, int ro, int d) {}

    /**
     * The F32 backward's parallel parts as a reusable task (see {@link Parallel.RangeTask}): ranges of rows of dx,
     * or ranges of columns of the parameter gradients.
     */
    private static final class BackwardF32 extends Parallel.RangeTask {
        private boolean paramColumns;
        private RowsF32 args;
        private float[] w, dx, dw, db;
        private int rows;

        BackwardF32 dxRows(RowsF32 args, float[] w, float[] dx) {
            this.paramColumns = false;
            this.args = args;
            this.w = w;
            this.dx = dx;
            return this;
        }

        BackwardF32 paramColumns(RowsF32 args, int rows, float[] dw, float[] db) {
            this.paramColumns = true;
            this.args = args;
            this.rows = rows;
            this.dw = dw;
            this.db = db;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            if (paramColumns) {
                paramGradsF32(args, rows, from, to, dw, db);
            } else {
                backwardRowsF32(args, from, to, w, dx);
            }
        }

        @Override
        protected void clear() {
            args = null;
            w = dx = dw = db = null;
        }
    }

    private static final Parallel.TaskCache<BackwardF32> BACKWARD_F32 = new Parallel.TaskCache<>(BackwardF32::new);

    /** Rows [from, to) of the F32 backward's dx. */
    private static void backwardRowsF32(RowsF32 a, int from, int to, float[] w, float[] dx) {
        for (int r = from; r < to; r++) {
            backwardRowF32(a, r, w, dx);
        }
    }

    /**
     * llm.c's layernorm_backward for one row: with norm = (x - mean) * rstd and dnorm = weight * g,
     * dx = (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd.
     */
    private static void backwardRowF32(RowsF32 a, int r, float[] w, float[] dx) {
        int n = a.d();
        float[] g = a.g();
        float[] x = a.x();
        int go = a.go() + r * n;
        int xo = a.xo() + r * n;
        int dxo = r * n;
        float m = a.mean()[a.mo() + r];
        float s = a.rstd()[a.ro() + r];
        var meanB = FloatVector.broadcast(F, m);
        int bound = F.loopBound(n);
        int i = 0;
        // dnorm goes into dx's row first: the two sums then read it back, and the last pass overwrites it.
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, g, go + i)).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) {
            dx[dxo + i] = w[i] * g[go + i];
        }
        float dnormMean = Lanes.sum(dx, dxo, n) / n;
        float dnormNormMean = Lanes.dotNormalized(dx, dxo, x, xo, n, m, s) / n;
        for (i = 0; i < bound; i += F.length()) {
            var norm = FloatVector.fromArray(F, x, xo + i).sub(meanB).mul(s);
            var dnorm = FloatVector.fromArray(F, dx, dxo + i);
            dnorm.sub(dnormMean).sub(norm.mul(dnormNormMean)).mul(s).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) {
            float norm = (x[xo + i] - m) * s;
            dx[dxo + i] = (dx[dxo + i] - dnormMean - norm * dnormNormMean) * s;
        }
    }

    /** Columns [c0, c1) of dweight += g * norm and dbias += g, summed over rows in order (either may be null). */
    private static void paramGradsF32(RowsF32 a, int rows, int c0, int c1, float[] dw, float[] db) {
        int n = a.d();
        float[] g = a.g();
        float[] x = a.x();
        int bound = c0 + F.loopBound(c1 - c0);
        for (int r = 0; r < rows; r++) {
            int go = a.go() + r * n;
            int xo = a.xo() + r * n;
            float m = a.mean()[a.mo() + r];
            float s = a.rstd()[a.ro() + r];
            var meanB = FloatVector.broadcast(F, m);
            int i = c0;
            for (; i < bound; i += F.length()) {
                var gv = FloatVector.fromArray(F, g, go + i);
                if (dw != null) {
                    var norm = FloatVector.fromArray(F, x, xo + i).sub(meanB).mul(s);
                    gv.fma(norm, FloatVector.fromArray(F, dw, i)).intoArray(dw, i);
                }
                if (db != null) {
                    gv.add(FloatVector.fromArray(F, db, i)).intoArray(db, i);
                }
            }
            for (; i < c1; i++) {
                if (dw != null) {
                    dw[i] = Math.fma(g[go + i], (x[xo + i] - m) * s, dw[i]);
                }
                if (db != null) {
                    db[i] += g[go + i];
                }
            }
        }
    }

    private static void backwardRowF64(double[] g, int go, double[] x, int xo, double m, double s, double[] w,
            double[] dx, int dxo, int n) {
        double dnormSum = 0;
        double dnormNormSum = 0;
        for (int i = 0; i < n; i++) {
            double norm = (x[xo + i] - m) * s;
            double dnorm = w[i] * g[go + i];
            dnormSum += dnorm;
            dnormNormSum += dnorm * norm;
        }
        double dnormMean = dnormSum / n;
        double dnormNormMean = dnormNormSum / n;
        for (int i = 0; i < n; i++) {
            double norm = (x[xo + i] - m) * s;
            double dnorm = w[i] * g[go + i];
            dx[dxo + i] = (dnorm - dnormMean - norm * dnormNormMean) * s;
        }
    }
}
