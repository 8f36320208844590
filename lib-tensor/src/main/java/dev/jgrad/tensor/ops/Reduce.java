package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.StridedCursor;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.NormRows;
import dev.jgrad.tensor.kernel.ReductionF32;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Reductions over any set of axes (negative axes count from the end; no axes means all), each forward beside its
 * backward, plus {@link #sumTo}, the reverse of broadcasting that every broadcasting backward ends with.
 *
 * <p>Every reduction is brought to one layout, a contiguous [outer, rows, cols] block whose middle dimension is
 * reduced: a contiguous input whose reduced axes are adjacent already has it (reducing the last axes gives
 * cols = 1, the leading axes outer = 1); any other input is permuted (kept axes first) and copied once. The
 * block is split over threads by whole outer slices, so the result never depends on the thread count.
 */
public final class Reduce {
    /** Below this many input elements the reduction runs on the calling thread. */
    private static final int PARALLEL_GRAIN = 1 << 15;

    private Reduce() {}

    // ------------------------------------------------------------------------------------------ sum

    public static Tensor sum(Tensor x, boolean keepDim, int... axes) {
        return sum("sum", x, keepDim, axes, 1.0);
    }

    /**
     * Sums of x [..., n] over every leading dimension, shape [n] (a linear layer's bias gradient): the same sums as
     * {@code sum(x.reshape(-1, n), false, 0)}, without its axis bookkeeping when x is contiguous.
     */
    public static Tensor columnSums(Tensor x) {
        if (x.rank() == 0) {
            throw new ShapeException("columnSums: expected x [..., n], got a scalar");
        }
        int n = x.size(-1);
        if (!x.isContiguous() || x.numel() == 0) {
            return sum(x.reshape(-1, n), false, 0);
        }
        Tensor out = Tensor.zeros(x.dtype(), n);
        sumBlock(x, x.offset(), 1, x.numel() / n, n, 1.0, out);
        return out;
    }

    /** g (of the reduced shape) copied back along every reduced axis. */
    public static Tensor sumBackward(Tensor g, int[] inShape, boolean keepDim, int... axes) {
        return Tensor.zeros(g.dtype(), inShape).copyFrom(restoreReducedDims("sumBackward", g, inShape, keepDim, axes));
    }

    // ------------------------------------------------------------------------------------------ mean

    /** Sum divided by the number of reduced elements (NaN over an empty axis, as torch). */
    public static Tensor mean(Tensor x, boolean keepDim, int... axes) {
        Layout l = layout("mean", x, keepDim, axes);
        return reduceSum(l, l.rows);
    }

    public static Tensor meanBackward(Tensor g, int[] inShape, boolean keepDim, int... axes) {
        Tensor gk = restoreReducedDims("meanBackward", g, inShape, keepDim, axes);
        int count = Shapes.numel(inShape) / Math.max(1, Shapes.numel(gk.shape()));
        return Binary.div(gk.broadcastTo(inShape), Tensor.scalar(g.dtype(), count));
    }

    // ------------------------------------------------------------------------------------------ max / min

    /** Largest value over the axes (torch.amax); NaN if any reduced value is NaN. */
    public static Tensor max(Tensor x, boolean keepDim, int... axes) {
        return extreme("max", x, keepDim, axes, true);
    }

    /** The gradient goes to the positions equal to the max, split evenly among ties (as torch.amax). */
    public static Tensor maxBackward(Tensor g, Tensor x, Tensor y, boolean keepDim, int... axes) {
        return extremeBackward("maxBackward", g, x, y, keepDim, axes);
    }

    /** Smallest value over the axes (torch.amin); NaN if any reduced value is NaN. */
    public static Tensor min(Tensor x, boolean keepDim, int... axes) {
        return extreme("min", x, keepDim, axes, false);
    }

    public static Tensor minBackward(Tensor g, Tensor x, Tensor y, boolean keepDim, int... axes) {
        return extremeBackward("minBackward", g, x, y, keepDim, axes);
    }

    private static Tensor extreme(String op, Tensor x, boolean keepDim, int[] axes, boolean max) {
        Layout l = layout(op, x, keepDim, axes);
        if (l.rows == 0) {
            throw new IllegalArgumentException(op + ": cannot reduce over an empty dimension (input shape "
                    + Shapes.str(x.shape()) + ", axes " + Arrays.toString(axes) + ")");
        }
        Tensor out = Tensor.zeros(x.dtype(), l.keepShape);
        int block = l.rows * l.cols;
        if (x.dtype() == DType.F32) {
            float[] in = l.src.f32Data();
            float[] o = out.f32Data();
            forOuter(l.outer, block, BLOCKS_F32.take().extremes(in, l.offset, l.rows, l.cols, max, o));
        } else {
            double[] in = l.src.f64Data();
            double[] o = out.f64Data();
            forOuter(l.outer, block, (from, to) -> {
                for (int s = from; s < to; s++) {
                    int base = l.offset + s * block;
                    System.arraycopy(in, base, o, s * l.cols, l.cols);
                    for (int r = 1; r < l.rows; r++) {
                        for (int k = 0; k < l.cols; k++) {
                            double v = in[base + r * l.cols + k];
                            int j = s * l.cols + k;
                            o[j] = max ? Math.max(o[j], v) : Math.min(o[j], v);
                        }
                    }
                }
            });
        }
        return out.reshape(l.outShape);
    }

    private static Tensor extremeBackward(String op, Tensor g, Tensor x, Tensor y, boolean keepDim, int[] axes) {
        Binary.checkDtypes(op, g, x);
        Binary.checkDtypes(op, y, x);
        int[] inShape = x.shape();
        Tensor yk = restoreReducedDims(op, y, inShape, keepDim, axes);
        Tensor gk = restoreReducedDims(op, g, inShape, keepDim, axes);
        Tensor hits = equalMask(x, yk.broadcastTo(inShape));
        Tensor count = sum(hits, true, axes);
        return Binary.mul(hits, Binary.div(gk, count));
    }

    /** 1 where x equals y, else 0, in x's dtype (both of one shape). */
    private static Tensor equalMask(Tensor x, Tensor y) {
        int[] shape = x.shape();
        Tensor out = Tensor.zeros(x.dtype(), shape);
        var cur = StridedCursor.of(shape, x, y, out);
        int n = cur.innerLength();
        int sx = cur.innerStride(0);
        int sy = cur.innerStride(1);
        boolean f32 = x.dtype() == DType.F32;
        while (cur.next()) {
            for (int i = 0; i < n; i++) {
                int ix = cur.offset(0) + i * sx;
                int iy = cur.offset(1) + i * sy;
                boolean eq = f32 ? x.f32Data()[ix] == y.f32Data()[iy] : x.f64Data()[ix] == y.f64Data()[iy];
                if (eq) {
                    if (f32) {
                        out.f32Data()[cur.offset(2) + i] = 1f;
                    } else {
                        out.f64Data()[cur.offset(2) + i] = 1.0;
                    }
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ argmax

    /**
     * Index of the largest value along one axis, stored as the input's dtype (exact below 2^24 in F32). The first
     * index wins ties; a NaN counts as the largest value, as in torch.
     */
    public static Tensor argmax(Tensor x, int axis, boolean keepDim) {
        int rank = x.rank();
        int a = Shapes.axis("argmax", axis, rank);
        int[] shape = x.shape();
        int length = shape[a];
        if (length == 0) {
            throw new IllegalArgumentException("argmax: cannot reduce over axis " + axis + " of size 0 (input shape "
                    + Shapes.str(shape) + ")");
        }
        int[] keptShape = new int[rank - 1];
        int[] keptStrides = new int[rank - 1];
        int[] strides = x.strides();
        for (int d = 0, j = 0; d < rank; d++) {
            if (d != a) {
                keptShape[j] = shape[d];
                keptStrides[j++] = strides[d];
            }
        }
        int axisStride = strides[a];
        Tensor out = Tensor.zeros(x.dtype(), keptShape);
        var cur = new StridedCursor(keptShape, new int[][] {keptStrides, out.strides()}, new int[] {x.offset(), 0});
        int n = cur.innerLength();
        int sx = cur.innerStride(0);
        boolean f32 = x.dtype() == DType.F32;
        while (cur.next()) {
            for (int i = 0; i < n; i++) {
                int base = cur.offset(0) + i * sx;
                int best = 0;
                double bestValue = f32 ? x.f32Data()[base] : x.f64Data()[base];
                for (int t = 1; t < length && !Double.isNaN(bestValue); t++) {
                    double v = f32 ? x.f32Data()[base + t * axisStride] : x.f64Data()[base + t * axisStride];
                    if (v > bestValue || Double.isNaN(v)) {
                        best = t;
                        bestValue = v;
                    }
                }
                if (f32) {
                    out.f32Data()[cur.offset(1) + i] = best;
                } else {
                    out.f64Data()[cur.offset(1) + i] = best;
                }
            }
        }
        return keepDim ? out.unsqueeze(a) : out;
    }

    // ------------------------------------------------------------------------------------------ var

    /**
     * Variance over the axes: sum((x - mean)^2) / (N - correction), correction 1 being torch's unbiased default.
     * Two passes (mean first), so large means do not cancel away the variance.
     */
    public static Tensor var(Tensor x, int correction, boolean keepDim, int... axes) {
        Layout l = layout("var", x, keepDim, axes);
        Tensor centered = Binary.sub(x, mean(x, true, axes));
        Tensor squares = Binary.mul(centered, centered);
        return sum("var", squares, keepDim, axes, Math.max(0, l.rows - correction));
    }

    /** d var / dx = 2 (x - mean) / (N - correction). */
    public static Tensor varBackward(Tensor g, Tensor x, int correction, boolean keepDim, int... axes) {
        Binary.checkDtypes("varBackward", g, x);
        int[] inShape = x.shape();
        Tensor gk = restoreReducedDims("varBackward", g, inShape, keepDim, axes);
        int count = Shapes.numel(inShape) / Math.max(1, Shapes.numel(gk.shape()));
        Tensor centered = Binary.sub(x, mean(x, true, axes));
        return Binary.mul(Binary.mul(centered, gk), 2.0 / Math.max(0, count - correction));
    }

    // ------------------------------------------------------------------------------------------ sumTo

    /**
     * Sums g down to {@code shape}, the reverse of broadcasting {@code shape} up to g's shape: leading extra
     * dimensions and dimensions where {@code shape} has size 1 are summed. Always returns a new tensor.
     */
    public static Tensor sumTo(Tensor g, int[] shape) {
        int rank = g.rank();
        int lead = rank - shape.length;
        if (lead < 0) {
            throw new ShapeException("sumTo: cannot sum a gradient of shape " + Shapes.str(g.shape())
                    + " to the larger rank of " + Shapes.str(shape));
        }
        int[] axes = new int[rank];
        int count = 0;
        for (int d = 0; d < rank; d++) {
            if (d < lead) {
                axes[count++] = d;
            } else if (shape[d - lead] != g.size(d)) {
                if (shape[d - lead] != 1) {
                    throw new ShapeException("sumTo: shape " + Shapes.str(shape) + " does not broadcast to the "
                            + "gradient's shape " + Shapes.str(g.shape()));
                }
                axes[count++] = d;
            }
        }
        if (count == 0) {
            return g.copy();
        }
        if (count == lead && g.isContiguous() && g.numel() > 0) {
            // Only leading dimensions are summed (a position embedding's gradient): the sum the general path
            // computes for these axes, one [1, rows, cols] block, without its axis bookkeeping.
            Tensor out = Tensor.zeros(g.dtype(), shape);
            int cols = out.numel();
            sumBlock(g, g.offset(), 1, g.numel() / cols, cols, 1.0, out);
            return out;
        }
        return sum(g, true, Arrays.copyOf(axes, count)).reshape(shape);
    }

    // ------------------------------------------------------------------------------------------ machinery

    /** x as a contiguous [outer, rows, cols] block starting at {@code offset} of {@code src}'s storage. */
    private record Layout(Tensor src, int offset, int outer, int rows, int cols, int[] keepShape, int[] outShape) {}

    private static Layout layout(String op, Tensor x, boolean keepDim, int[] axesIn) {
        int rank = x.rank();
        int[] shape = x.shape();
        int[] axes = Shapes.axes(op, axesIn, rank);
        boolean[] reduced = new boolean[rank];
        for (int a : axes) {
            reduced[a] = true;
        }
        int[] keepShape = shape.clone();
        int rows = 1;
        for (int a : axes) {
            keepShape[a] = 1;
            rows *= shape[a];
        }
        int[] outShape = keepDim ? keepShape : dropReduced(shape, reduced);
        boolean adjacent = axes.length == 0 || axes[axes.length - 1] - axes[0] == axes.length - 1;
        if (x.isContiguous() && adjacent) {
            int first = axes.length == 0 ? rank : axes[0];
            int last = axes.length == 0 ? rank - 1 : axes[axes.length - 1];
            int outer = Shapes.numel(Arrays.copyOfRange(shape, 0, first));
            int cols = Shapes.numel(Arrays.copyOfRange(shape, last + 1, rank));
            return new Layout(x, x.offset(), outer, rows, cols, keepShape, outShape);
        }
        int[] order = new int[rank];
        int j = 0;
        for (int d = 0; d < rank; d++) {
            if (!reduced[d]) {
                order[j++] = d;
            }
        }
        for (int a : axes) {
            order[j++] = a;
        }
        Tensor permuted = x.permute(order).contiguous();
        int outer = Shapes.numel(dropReduced(shape, reduced));
        return new Layout(permuted, permuted.offset(), outer, rows, 1, keepShape, outShape);
    }

    private static int[] dropReduced(int[] shape, boolean[] reduced) {
        int kept = 0;
        for (boolean r : reduced) {
            kept += r ? 0 : 1;
        }
        int[] out = new int[kept];
        for (int d = 0, j = 0; d < shape.length; d++) {
            if (!reduced[d]) {
                out[j++] = shape[d];
            }
        }
        return out;
    }

    private static Tensor sum(String op, Tensor x, boolean keepDim, int[] axes, double divisor) {
        return reduceSum(layout(op, x, keepDim, axes), divisor);
    }

    private static Tensor reduceSum(Layout l, double divisor) {
        Tensor out = Tensor.zeros(l.src.dtype(), l.keepShape);
        sumBlock(l.src, l.offset, l.outer, l.rows, l.cols, divisor, out);
        return out.hasShape(l.outShape) ? out : out.reshape(l.outShape);
    }

    /**
     * out[s, k] = sum over r of src[offset + (s * rows + r) * cols + k], divided by divisor, for the contiguous
     * [outer, rows, cols] block at {@code offset} and a zeroed contiguous out of outer * cols elements.
     */
    private static void sumBlock(Tensor src, int offset, int outer, int rows, int cols, double divisor, Tensor out) {
        int block = rows * cols;
        if (src.dtype() == DType.F32) {
            float[] in = src.f32Data();
            float[] o = out.f32Data();
            if (outer == 1 && cols > 1) {
                // One slice (a bias gradient's column sums): split its columns instead.
                int align = FloatVector.SPECIES_PREFERRED.length();
                if (NormRows.isOneColumnRange(cols, rows, align)) {
                    ReductionF32.sum(in, offset, rows, cols, cols, divisor, o, 0);
                } else {
                    NormRows.forEachColumnRange(cols, rows, align, BLOCKS_F32.take().columnSums(in, offset, rows, cols,
                            divisor, o));
                }
                return;
            }
            forOuter(outer, block, BLOCKS_F32.take().sums(in, offset, rows, cols, divisor, o));
        } else {
            double[] in = src.f64Data();
            double[] o = out.f64Data();
            forOuter(outer, block, (from, to) -> {
                for (int s = from; s < to; s++) {
                    int base = offset + s * block;
                    for (int r = 0; r < rows; r++) {
                        for (int k = 0; k < cols; k++) {
                            o[s * cols + k] += in[base + r * cols + k];
                        }
                    }
                    for (int k = 0; k < cols; k++) {
                        o[s * cols + k] /= divisor;
                    }
                }
            });
        }
    }

    /**
     * An F32 reduction of a contiguous [outer, rows, cols] block as a reusable parallel task (see
     * {@link Parallel.RangeTask}), with no closure per call: the sums or extremes of slices [from, to), or the
     * sums of columns [from, to) of the one slice.
     */
    private static final class BlocksF32 extends Parallel.RangeTask {
        private enum Kind { SUMS, COLUMN_SUMS, EXTREMES }

        private Kind kind;
        private float[] in, out;
        private int offset, rows, cols;
        private double divisor;
        private boolean max;

        BlocksF32 sums(float[] in, int offset, int rows, int cols, double divisor, float[] out) {
            this.divisor = divisor;
            return set(Kind.SUMS, in, offset, rows, cols, out);
        }

        BlocksF32 columnSums(float[] in, int offset, int rows, int cols, double divisor, float[] out) {
            this.divisor = divisor;
            return set(Kind.COLUMN_SUMS, in, offset, rows, cols, out);
        }

        BlocksF32 extremes(float[] in, int offset, int rows, int cols, boolean max, float[] out) {
            this.max = max;
            return set(Kind.EXTREMES, in, offset, rows, cols, out);
        }

        private BlocksF32 set(Kind kind, float[] in, int offset, int rows, int cols, float[] out) {
            this.kind = kind;
            this.in = in;
            this.offset = offset;
            this.rows = rows;
            this.cols = cols;
            this.out = out;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            int block = rows * cols;
            switch (kind) {
                case SUMS -> {
                    for (int s = from; s < to; s++) {
                        ReductionF32.sum(in, offset + s * block, rows, cols, divisor, out, s * cols);
                    }
                }
                case COLUMN_SUMS -> ReductionF32.sum(in, offset + from, rows, to - from, cols, divisor, out, from);
                case EXTREMES -> {
                    for (int s = from; s < to; s++) {
                        ReductionF32.extreme(in, offset + s * block, rows, cols, max, out, s * cols);
                    }
                }
            }
        }

        @Override
        protected void clear() {
            in = out = null;
        }
    }

    private static final Parallel.TaskCache<BlocksF32> BLOCKS_F32 = new Parallel.TaskCache<>(BlocksF32::new);

    /**
     * Splits {@code outer} slices of {@code block} elements each over the threads; each output element is computed
     * by exactly one task.
     */
    private static void forOuter(int outer, int block, Parallel.RangeTask task) {
        Parallel.forEachRange(outer, outerTasks(outer, block), 1, task);
    }

    private static int outerTasks(int outer, int block) {
        return (int) Math.max(1, Math.min(outer, Parallel.chunks((long) outer * block, PARALLEL_GRAIN)));
    }

    /** The same with a lambda, a new object per call: for the F64 reference paths. */
    private static void forOuter(int outer, int block, Unary.Range body) {
        int chunks = outerTasks(outer, block);
        if (chunks <= 1) {
            body.run(0, outer);
            return;
        }
        Parallel.forEachTask(chunks,
                c -> body.run((int) ((long) outer * c / chunks), (int) ((long) outer * (c + 1) / chunks)));
    }

    /**
     * A reduced tensor t (with or without the reduced dims) viewed with size-1 dims where the axes were, ready to
     * broadcast against the input; t's shape must be what the reduction produced.
     */
    private static Tensor restoreReducedDims(String op, Tensor t, int[] inShape, boolean keepDim, int[] axesIn) {
        int[] axes = Shapes.axes(op, axesIn, inShape.length);
        boolean[] reduced = new boolean[inShape.length];
        int[] keepShape = inShape.clone();
        for (int a : axes) {
            reduced[a] = true;
            keepShape[a] = 1;
        }
        int[] expected = keepDim ? keepShape : dropReduced(inShape, reduced);
        if (!t.hasShape(expected)) {
            throw new ShapeException(op + ": tensor of shape " + Shapes.str(t.shape()) + " is not the reduction of "
                    + Shapes.str(inShape) + " over axes " + Arrays.toString(axesIn) + " (expected " + Shapes.str(expected)
                    + ")");
        }
        return t.reshape(keepShape);
    }
}
