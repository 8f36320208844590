package dev.jgrad.tensor.kernel;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.util.Arrays;

/**
 * Plumbing shared by the ops that work row by row along one axis (softmax, log-softmax, layer norm, RMS norm):
 * bringing that axis last so each row is a contiguous run of the storage array, argument checks, and
 * splitting rows over threads. Each row is always computed by exactly one thread, so results are
 * bit-identical for any thread count.
 */
public final class NormRows {
    /**
     * Below this many elements per task, spreading rows over threads costs more than it saves: a fork-join
     * handoff takes 5 to 10 us (more when the other core is busy), a row kernel a few ns per element.
     */
    static final long MIN_ELEMENTS_PER_TASK = 1 << 15;

    private NormRows() {}

    /** Rows [from, to) of a row-wise kernel. */
    @FunctionalInterface
    public interface RowRange {
        void run(int from, int to);
    }

    /** {@code x} with {@code axis} (already normalised) swapped to the end, contiguous (copies only when needed). */
    public static Tensor axisLast(Tensor x, int axis) {
        int last = x.rank() - 1;
        return (axis == last ? x : x.transpose(axis, last)).contiguous();
    }

    /** Undoes {@link #axisLast} on a result computed with the axis last; the returned tensor is contiguous. */
    public static Tensor restoreAxis(Tensor lastAxisResult, int axis) {
        int last = lastAxisResult.rank() - 1;
        return axis == last ? lastAxisResult : lastAxisResult.transpose(axis, last).contiguous();
    }

    /**
     * True when {@link #forEachRowRange} would run all rows as one range on the calling thread (always so with one
     * thread). The F32 kernels then run the range themselves, and otherwise hand over a reusable
     * {@link Parallel.RangeTask}: a closure would be an allocation per call, which a training step would pay for
     * every normalisation.
     */
    public static boolean isOneRowRange(int rows, int rowLength) {
        return rowTasks(rows, rowLength) <= 1;
    }

    private static int rowTasks(int rows, int rowLength) {
        return Math.min(rows, Parallel.chunks((long) rows * Math.max(rowLength, 1), MIN_ELEMENTS_PER_TASK));
    }

    /** Runs {@code task} over [0, rows) in chunks spread over {@link Parallel}; each row goes to exactly one chunk. */
    public static void forEachRowRange(int rows, int rowLength, Parallel.RangeTask task) {
        Parallel.forEachRange(rows, Math.max(1, rowTasks(rows, rowLength)), 1, task);
    }

    /** The same with a lambda, a new object per call: for the F64 reference paths. */
    public static void forEachRowRange(int rows, int rowLength, RowRange body) {
        int tasks = rowTasks(rows, rowLength);
        if (tasks <= 1) {
            body.run(0, rows);
            return;
        }
        Parallel.forEachTask(tasks,
                t -> body.run((int) ((long) rows * t / tasks), (int) ((long) rows * (t + 1) / tasks)));
    }

    /**
     * Runs {@code task} over column ranges [from, to) of [0, columns), spread over threads. Boundaries fall on
     * multiples of {@code align} (the vector length), so every column is handled by the same code path (vector
     * lane or scalar tail) whatever the thread count, and results are bit-identical.
     */
    public static void forEachColumnRange(int columns, int rows, int align, Parallel.RangeTask task) {
        Parallel.forEachRange(columns, Math.max(1, columnTasks(columns, rows, align)), align, task);
    }

    /** As {@link #isOneRowRange}, for {@link #forEachColumnRange}. */
    public static boolean isOneColumnRange(int columns, int rows, int align) {
        return columnTasks(columns, rows, align) <= 1;
    }

    private static int columnTasks(int columns, int rows, int align) {
        int blocks = (columns + align - 1) / align;
        return Math.min(blocks, Parallel.chunks((long) rows * Math.max(columns, 1), MIN_ELEMENTS_PER_TASK));
    }

    /** Throws unless both tensors have the same dtype. */
    public static void checkSameDType(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": " + nameA + " is " + a.dtype() + " but " + nameB + " is "
                    + b.dtype() + "; convert one with to(DType)");
        }
    }

    /** Throws unless both tensors have the same shape. */
    public static void checkSameShape(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if (!a.sameShape(b)) {
            throw new ShapeException(op + ": " + nameA + " has shape " + Shapes.str(a.shape()) + " but " + nameB
                    + " has shape " + Shapes.str(b.shape()));
        }
    }

    /** Length of the last (normalised) dimension of {@code x}; throws for rank-0 or an empty last dimension. */
    public static int lastDim(String op, Tensor x) {
        if (x.rank() == 0 || x.size(-1) == 0) {
            throw new ShapeException(op + ": x of shape " + Shapes.str(x.shape())
                    + " has no elements along its last dimension to normalise over");
        }
        return x.size(-1);
    }

    /** Checks an optional per-feature parameter: null, or shape [D] with x's dtype. */
    public static void checkFeatureParam(String op, String name, Tensor param, Tensor x, int d) {
        if (param == null) {
            return;
        }
        checkSameDType(op, "x", x, name, param);
        if (param.rank() != 1 || param.size(0) != d) {
            throw new ShapeException(op + ": " + name + " must have shape [" + d + "] to match the last dimension "
                    + "of x " + Shapes.str(x.shape()) + ", got " + Shapes.str(param.shape()));
        }
    }

    /** True when {@code stat} has shape x.shape[:-1]; copies no shape. */
    private static boolean hasRowShape(Tensor stat, Tensor x) {
        if (stat.rank() != x.rank() - 1) {
            return false;
        }
        for (int d = 0; d < stat.rank(); d++) {
            if (stat.size(d) != x.size(d)) {
                return false;
            }
        }
        return true;
    }

    /** x.shape without its last dimension: the shape of per-row statistics such as mean and rstd. */
    public static int[] rowShape(Tensor x) {
        int[] s = x.shape();
        return Arrays.copyOf(s, s.length - 1);
    }

    /**
     * A new contiguous tensor for per-row statistics of x, shape x.shape[:-1], its values unspecified. The usual
     * ranks pass the shape dimension by dimension, so a training step builds no shape array for it.
     */
    public static Tensor emptyRowStats(Tensor x) {
        return switch (x.rank()) {
            case 2 -> Tensor.empty(x.dtype(), x.size(0));
            case 3 -> Tensor.empty(x.dtype(), x.size(0), x.size(1));
            case 4 -> Tensor.empty(x.dtype(), x.size(0), x.size(1), x.size(2));
            default -> Tensor.empty(x.dtype(), rowShape(x));
        };
    }

    /**
     * The values of a [D] parameter as an array the row kernels read from index 0 and never write: the
     * parameter's own storage when it is exactly that (a parameter usually is, so nothing is copied), otherwise a
     * copy; {@code fill} repeated D times when the parameter is null.
     */
    public static float[] featuresF32(Tensor param, int d, float fill) {
        if (param == null) {
            return Tensor.full(DType.F32, fill, d).f32Data();
        }
        float[] storage = param.f32Data();
        return param.offset() == 0 && param.isContiguous() && storage.length == d ? storage : param.toFloatArray();
    }

    /** As {@link #featuresF32}, for F64. */
    public static double[] featuresF64(Tensor param, int d, double fill) {
        if (param == null) {
            return Tensor.full(DType.F64, fill, d).f64Data();
        }
        double[] storage = param.f64Data();
        return param.offset() == 0 && param.isContiguous() && storage.length == d ? storage : param.toDoubleArray();
    }

    /** Checks a saved per-row statistic (mean, rstd): x's dtype and shape x.shape[:-1]. */
    public static void checkRowStat(String op, String name, Tensor stat, Tensor x) {
        checkSameDType(op, "x", x, name, stat);
        if (!hasRowShape(stat, x)) {
            int[] expected = rowShape(x);
            throw new ShapeException(op + ": " + name + " must have shape " + Shapes.str(expected) + " (x.shape[:-1]"
                    + " for x of shape " + Shapes.str(x.shape()) + "), got " + Shapes.str(stat.shape()));
        }
    }
}
