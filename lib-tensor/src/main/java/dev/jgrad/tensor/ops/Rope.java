package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotary position embedding (RoFormer, LLaMA) in the Hugging Face "rotate half" layout: for a row of head
 * dimension D at position p, element i and element i + D/2 are rotated together by the angle
 * p * theta^(-2i/D), i in [0, D/2):
 * <pre>
 *   out[i]       = x[i] cos - x[i + D/2] sin
 *   out[i + D/2] = x[i + D/2] cos + x[i] sin
 * </pre>
 * A rotation is orthogonal, so the backward is the same formula with the angle negated.
 * Input [..., T, D] (usually [B, H, T, D]); the rows along T are positions startPos .. startPos + T - 1.
 */
public final class Rope {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Below this many elements per task, spreading rows over threads costs more than it saves. */
    private static final long MIN_ELEMENTS_PER_TASK = 1 << 15;

    private Rope() {}

    /** cos and sin of every (position, pair) angle, [T, D/2] row-major, computed in double. */
    private record Table(int positions, int half, int startPos, double theta, double[] cos, double[] sin,
            float[] cosF32, float[] sinF32) {
        static Table of(int positions, int d, int startPos, double theta) {
            int half = d / 2;
            double[] cos = new double[positions * half];
            double[] sin = new double[positions * half];
            for (int i = 0; i < half; i++) {
                double frequency = Math.pow(theta, -2.0 * i / d);
                for (int t = 0; t < positions; t++) {
                    double angle = (double) (startPos + t) * frequency;
                    cos[t * half + i] = Math.cos(angle);
                    sin[t * half + i] = Math.sin(angle);
                }
            }
            return new Table(positions, half, startPos, theta, cos, sin, toFloat(cos), toFloat(sin));
        }

        boolean matches(int positions, int d, int startPos, double theta) {
            return this.positions == positions && half * 2 == d && this.startPos == startPos && this.theta == theta;
        }

        private static float[] toFloat(double[] x) {
            float[] f = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                f[i] = (float) x[i];
            }
            return f;
        }
    }

    /** The last table used: a training step calls forward and backward with the same one per layer. */
    private static volatile Table lastTable;

    private static Table table(int positions, int d, int startPos, double theta) {
        Table t = lastTable;
        if (t == null || !t.matches(positions, d, startPos, theta)) {
            t = Table.of(positions, d, startPos, theta);
            lastTable = t;
        }
        return t;
    }

    /** Rotates x [..., T, D] (D even) for positions startPos.. ; theta is the base, 10000 in LLaMA 1/2. */
    public static Tensor forward(Tensor x, int startPos, double theta) {
        return rotate("Rope.forward", x, startPos, theta, 1);
    }

    /** Gradient of {@link #forward} for upstream gradient g of x's shape: the inverse rotation of g. */
    public static Tensor backward(Tensor g, int startPos, double theta) {
        return rotate("Rope.backward", g, startPos, theta, -1);
    }

    private static Tensor rotate(String op, Tensor x, int startPos, double theta, int direction) {
        if (x.rank() < 2) {
            throw new ShapeException(op + ": x must be [..., T, D] (usually [B, H, T, D]), got " + Shapes.str(x.shape()));
        }
        int t = x.size(-2);
        int d = x.size(-1);
        if (d % 2 != 0) {
            throw new ShapeException(op + ": the head dim D must be even to rotate pairs (i, i + D/2), got D = " + d
                    + " in " + Shapes.str(x.shape()));
        }
        if (startPos < 0) {
            throw new IllegalArgumentException(op + ": startPos must be >= 0, got " + startPos);
        }
        if (!(theta > 0) || Double.isInfinite(theta)) {
            throw new IllegalArgumentException(op + ": theta must be positive and finite, got " + theta);
        }
        Tensor in = x.contiguous();
        Tensor out = Tensor.zerosLike(x);
        if (in.numel() == 0) {
            return out;
        }
        Table table = table(t, d, startPos, theta);
        int rows = in.numel() / d;
        int tasks = Math.min(rows, Parallel.chunks((long) rows * d, MIN_ELEMENTS_PER_TASK));
        int xo = in.offset();
        if (x.dtype() == DType.F32) {
            float[] xs = in.f32Data();
            float[] ys = out.f32Data();
            float[] cos = table.cosF32();
            float[] sin = table.sinF32();
            Parallel.forEachRange(rows, tasks, 1, ROWS_F32.take().set(xs, xo, ys, cos, sin, direction, t, d));
        } else {
            double[] xs = in.f64Data();
            double[] ys = out.f64Data();
            Parallel.forEachTask(tasks, task -> {
                for (int r = rowStart(rows, tasks, task), end = rowStart(rows, tasks, task + 1); r < end; r++) {
                    rotateRowF64(xs, xo + r * d, ys, r * d, table.cos(), table.sin(), (r % t) * (d / 2), direction, d / 2);
                }
            });
        }
        return out;
    }

    /**
     * Rows [from, to) of the F32 rotation as a reusable parallel task (see {@link Parallel.RangeTask}): no closure
     * per call. Row r is position r % time of its sequence.
     */
    private static final class RowsF32 extends Parallel.RangeTask {
        private float[] xs, ys, cos, sin;
        private int xo, time, d;
        private float sign;

        RowsF32 set(float[] xs, int xo, float[] ys, float[] cos, float[] sin, float sign, int time, int d) {
            this.xs = xs;
            this.xo = xo;
            this.ys = ys;
            this.cos = cos;
            this.sin = sin;
            this.sign = sign;
            this.time = time;
            this.d = d;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            for (int r = from; r < to; r++) {
                rotateRowF32(xs, xo + r * d, ys, r * d, cos, sin, (r % time) * (d / 2), sign, d / 2);
            }
        }

        @Override
        protected void clear() {
            xs = ys = cos = sin = null;
        }
    }

    private static final Parallel.TaskCache<RowsF32> ROWS_F32 = new Parallel.TaskCache<>(RowsF32::new);

    private static int rowStart(int rows, int tasks, int task) {
        return (int) ((long) rows * task / tasks);
    }

    /** One row; sign -1 rotates by the negated angle (sin flips sign, cos does not). */
    private static void rotateRowF32(float[] x, int xo, float[] y, int yo, float[] cos, float[] sin, int co, float sign,
            int half) {
        int bound = F.loopBound(half);
        int i = 0;
        for (; i < bound; i += F.length()) {
            var first = FloatVector.fromArray(F, x, xo + i);
            var second = FloatVector.fromArray(F, x, xo + half + i);
            var c = FloatVector.fromArray(F, cos, co + i);
            var s = FloatVector.fromArray(F, sin, co + i).mul(sign);
            first.mul(c).sub(second.mul(s)).intoArray(y, yo + i);
            second.mul(c).add(first.mul(s)).intoArray(y, yo + half + i);
        }
        for (; i < half; i++) {
            float first = x[xo + i];
            float second = x[xo + half + i];
            float c = cos[co + i];
            float s = sign * sin[co + i];
            y[yo + i] = first * c - second * s;
            y[yo + half + i] = second * c + first * s;
        }
    }

    private static void rotateRowF64(double[] x, int xo, double[] y, int yo, double[] cos, double[] sin, int co,
            int sign, int half) {
        for (int i = 0; i < half; i++) {
            double first = x[xo + i];
            double second = x[xo + half + i];
            double c = cos[co + i];
            double s = sign * sin[co + i];
            y[yo + i] = first * c - second * s;
            y[yo + half + i] = second * c + first * s;
        }
    }
}
