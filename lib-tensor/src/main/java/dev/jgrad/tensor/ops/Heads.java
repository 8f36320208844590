package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Moves attention heads between the layout a fused projection produces, x [B, T, W] with each head's
 * {@code headDim} columns side by side, and the layout the attention kernels read, [B, H, T, headDim] with each
 * head contiguous. One head's row is a contiguous run in both layouts, so it moves with one array copy: the same
 * values as copying through the strided view {@code x.narrow(2, start, H·headDim).view(B, T, H, headDim)
 * .transpose(1, 2)}, without building that view and a cursor over it on every call.
 */
public final class Heads {
    private Heads() {}

    /** Columns [start, start + count·headDim) of x [B, T, W] as a new contiguous [B, count, T, headDim]. */
    public static Tensor split(Tensor x, int start, int count, int headDim) {
        checkColumns("Heads.split", x, start, count, headDim);
        Tensor src = x.contiguous();
        int batch = src.size(0);
        int time = src.size(1);
        int width = src.size(2);
        Tensor out = Tensor.empty(src.dtype(), batch, count, time, headDim);   // every element is written
        Object from = storage(src);
        Object to = storage(out);
        int base = src.offset() + start;
        int planes = batch * count;
        int tasks = tasks(planes, time * headDim);
        if (tasks <= 1) {
            splitPlanes(from, base, width, to, count, time, headDim, 0, planes);
        } else {
            Parallel.forEachRange(planes, tasks, 1, PLANES.take().split(from, base, width, to, count, time, headDim));
        }
        return out;
    }

    /**
     * Writes heads [B, count, T, headDim] into columns [start, start + count·headDim) of a contiguous
     * out [B, T, W], in place, and returns out: the reverse of {@link #split}.
     */
    public static Tensor mergeInto(Tensor heads, Tensor out, int start) {
        if (heads.rank() != 4) {
            throw new ShapeException("Heads.mergeInto: heads must be [B, count, T, headDim], got "
                    + Shapes.str(heads.shape()));
        }
        int count = heads.size(1);
        int headDim = heads.size(3);
        checkColumns("Heads.mergeInto", out, start, count, headDim);
        if (heads.dtype() != out.dtype()) {
            throw new IllegalArgumentException("Heads.mergeInto: heads are " + heads.dtype() + " but out is "
                    + out.dtype());
        }
        if (heads.size(0) != out.size(0) || heads.size(2) != out.size(1)) {
            throw new ShapeException("Heads.mergeInto: heads " + Shapes.str(heads.shape()) + " do not match out "
                    + Shapes.str(out.shape()) + " (expected [B, count, T, headDim] for out [B, T, W])");
        }
        if (!out.isContiguous()) {
            throw new IllegalArgumentException("Heads.mergeInto: out must be contiguous (it is written in place), got "
                    + "strides " + Shapes.str(out.strides()));
        }
        Tensor src = heads.contiguous();
        int batch = out.size(0);
        int time = out.size(1);
        int width = out.size(2);
        Object from = storage(src);
        Object to = storage(out);
        int srcBase = src.offset();
        int base = out.offset() + start;
        int planes = batch * count;
        int tasks = tasks(planes, time * headDim);
        if (tasks <= 1) {
            mergePlanes(from, srcBase, to, base, width, count, time, headDim, 0, planes);
        } else {
            Parallel.forEachRange(planes, tasks, 1, PLANES.take().merge(from, srcBase, to, base, width, count, time,
                    headDim));
        }
        return out;
    }

    /** Head planes [from, to) of a split or a merge, as a reusable parallel task (see {@link Parallel.RangeTask}). */
    private static final class Planes extends Parallel.RangeTask {
        private boolean merge;
        private Object from, to;
        private int srcBase, base, width, count, time, headDim;

        Planes split(Object from, int base, int width, Object to, int count, int time, int headDim) {
            return set(false, from, 0, to, base, width, count, time, headDim);
        }

        Planes merge(Object from, int srcBase, Object to, int base, int width, int count, int time, int headDim) {
            return set(true, from, srcBase, to, base, width, count, time, headDim);
        }

        private Planes set(boolean merge, Object from, int srcBase, Object to, int base, int width, int count, int time,
                           int headDim) {
            this.merge = merge;
            this.from = from;
            this.srcBase = srcBase;
            this.to = to;
            this.base = base;
            this.width = width;
            this.count = count;
            this.time = time;
            this.headDim = headDim;
            return this;
        }

        @Override
        protected void run(int first, int end) {
            if (merge) {
                mergePlanes(from, srcBase, to, base, width, count, time, headDim, first, end);
            } else {
                splitPlanes(from, base, width, to, count, time, headDim, first, end);
            }
        }

        @Override
        protected void clear() {
            from = to = null;
        }
    }

    private static final Parallel.TaskCache<Planes> PLANES = new Parallel.TaskCache<>(Planes::new);

    /** Head planes [first, end) of a split: plane p = b·count + h is head h of sequence b. */
    private static void splitPlanes(Object from, int base, int width, Object to, int count, int time, int headDim,
                                    int first, int end) {
        for (int plane = first; plane < end; plane++) {
            int b = plane / count;
            int h = plane % count;
            for (int t = 0; t < time; t++) {
                copyRow(from, base + (b * time + t) * width + h * headDim, to, (plane * time + t) * headDim, headDim);
            }
        }
    }

    /** Head planes [first, end) of a merge, the reverse of {@link #splitPlanes}. */
    private static void mergePlanes(Object from, int srcBase, Object to, int base, int width, int count, int time,
                                    int headDim, int first, int end) {
        for (int plane = first; plane < end; plane++) {
            int b = plane / count;
            int h = plane % count;
            for (int t = 0; t < time; t++) {
                copyRow(from, srcBase + (plane * time + t) * headDim, to, base + (b * time + t) * width + h * headDim,
                        headDim);
            }
        }
    }

    /**
     * One head's row. An F32 row of whole vectors (head sizes 32, 64, 128) moves with vector loads and stores: a
     * System.arraycopy call costs about as much as the copy itself at these lengths, and a step makes thousands.
     */
    private static void copyRow(Object from, int src, Object to, int dst, int n) {
        if (from instanceof float[] f && to instanceof float[] t && n % F.length() == 0) {
            for (int c = 0; c < n; c += F.length()) {
                FloatVector.fromArray(F, f, src + c).intoArray(t, dst + c);
            }
        } else {
            System.arraycopy(from, src, to, dst, n);
        }
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Copies of at least this many elements are split over threads. */
    private static final long MIN_ELEMENTS_PER_TASK = 1 << 15;

    /**
     * How many disjoint plane ranges a copy runs as on the kernel threads. A training step moves every attention
     * input and gradient between layouts, a few thousand short row copies per call; on one thread they were
     * serial time at two. Small copies, or one thread, run as one range on the caller.
     */
    private static int tasks(int planes, int planeSize) {
        return Math.min(planes, Parallel.chunks((long) planes * planeSize, MIN_ELEMENTS_PER_TASK));
    }


    private static void checkColumns(String op, Tensor x, int start, int count, int headDim) {
        if (x.rank() != 3) {
            throw new ShapeException(op + ": expected a [B, T, W] tensor, got " + Shapes.str(x.shape()));
        }
        if (start < 0 || count < 0 || headDim < 0 || start + (long) count * headDim > x.size(2)) {
            throw new ShapeException(op + ": " + count + " heads of " + headDim + " columns from column " + start
                    + " do not fit in " + Shapes.str(x.shape()));
        }
    }

    private static Object storage(Tensor t) {
        return t.dtype() == DType.F32 ? t.f32Data() : t.f64Data();
    }
}
