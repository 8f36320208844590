package dev.jgrad.tensor;

import dev.jgrad.tensor.ops.Binary;
import dev.jgrad.tensor.ops.MatMul;
import dev.jgrad.tensor.ops.Reduce;
import dev.jgrad.tensor.ops.Softmax;
import dev.jgrad.tensor.ops.Unary;
import java.util.Arrays;

/**
 * An n-dimensional array of F32 or F64 values: a storage array plus shape, strides and offset. Views (reshape
 * where possible, transpose, permute, narrow, slice, select, expand, squeeze, unsqueeze) share storage and copy
 * nothing; {@link #contiguous()} copies only when the layout needs it.
 *
 * <p>Tensors are values from the API's point of view: ops return new tensors and never change their inputs.
 * The few in-place methods ({@link #fill}, {@link #copyFrom}, {@link #set}) are for optimizers, kernels and
 * tests, and say so in their names.
 */
public final class Tensor {
    /*
     * The fields are set once, when the tensor is made, except in a recycling Workspace scope: there the next
     * step hands the same object out again (see reissue), and only then are they set again. The arrays a tensor
     * points to are never modified, so views and new tensors may share them instead of copying.
     */
    /** The storage: exactly one of the two is non-null, and which one is the dtype (not stored separately). */
    private float[] f32;
    private double[] f64;
    private int[] shape;
    private int[] strides;
    private int offset;
    /** The workspace scope this tensor's storage was lent from, or null for storage of its own. */
    private Workspace lender;
    /** The lender's generation when the storage was lent: any other generation means the scope has closed. */
    private int generation;

    /** Tensor objects a recycling {@link Workspace} scope hands out again, step after step. */
    private static final Workspace.Kind<Tensor> RECYCLED = new Workspace.Kind<>("Tensor");

    private Tensor(float[] f32, double[] f64, int[] shape, int[] strides, int offset) {
        this(f32, f64, shape, strides, offset, null, 0);
    }

    private Tensor(float[] f32, double[] f64, int[] shape, int[] strides, int offset, Workspace lender,
                   int generation) {
        this.f32 = f32;
        this.f64 = f64;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.lender = lender;
        this.generation = generation;
    }

    /**
     * A tensor of the workspace scope {@code w}'s generation {@code generation}: a new object, or in a recycling
     * scope on this thread the object the previous step made at this point, re-initialised.
     */
    private static Tensor scoped(float[] f32, double[] f64, int[] shape, int[] strides, int offset, Workspace w,
                                 int generation) {
        if (!w.recyclesOnThisThread()) {
            return new Tensor(f32, f64, shape, strides, offset, w, generation);
        }
        Tensor t = w.reissue(RECYCLED);
        if (t == null) {
            return w.issued(RECYCLED, new Tensor(f32, f64, shape, strides, offset, w, generation));
        }
        t.f32 = f32;
        t.f64 = f64;
        t.shape = shape;
        t.strides = strides;
        t.offset = offset;
        t.lender = w;
        t.generation = generation;
        return t;
    }

    // ------------------------------------------------------------------------------------------ creation

    /** A new contiguous tensor of zeros (its storage from the thread's {@link Workspace} when one is open). */
    public static Tensor zeros(DType dtype, int... shape) {
        return zeroed(allocate(dtype, shape, Workspace.lending()));
    }

    /** t itself after zeroing it if its storage was recycled from a workspace (new arrays are zero already). */
    private static Tensor zeroed(Tensor t) {
        if (t.lender != null) {
            if (t.f32 != null) {
                Arrays.fill(t.f32, 0f);
            } else {
                Arrays.fill(t.f64, 0.0);
            }
        }
        return t;
    }

    /**
     * A new contiguous tensor whose values are unspecified, for outputs a kernel overwrites completely. Outside a
     * {@link Workspace} scope it holds zeros (a fresh Java array); inside one it holds whatever a previous step
     * left in the recycled storage.
     */
    public static Tensor empty(DType dtype, int... shape) {
        return allocate(dtype, shape, Workspace.lending());
    }

    /**
     * {@link #empty(DType, int...)} for a shape of one to four dimensions given one by one, as ops creating their
     * outputs write it: inside a workspace scope a shape seen before costs no array at all, where the varargs form
     * builds one on every call. The same holds for the {@link #zeros(DType, int, int)} family.
     */
    public static Tensor empty(DType dtype, int d0) {
        return allocate(dtype, 1, d0, 0, 0, 0, Workspace.lending());
    }

    /** {@link #empty(DType, int)} for two dimensions. */
    public static Tensor empty(DType dtype, int d0, int d1) {
        return allocate(dtype, 2, d0, d1, 0, 0, Workspace.lending());
    }

    /** {@link #empty(DType, int)} for three dimensions. */
    public static Tensor empty(DType dtype, int d0, int d1, int d2) {
        return allocate(dtype, 3, d0, d1, d2, 0, Workspace.lending());
    }

    /** {@link #empty(DType, int)} for four dimensions. */
    public static Tensor empty(DType dtype, int d0, int d1, int d2, int d3) {
        return allocate(dtype, 4, d0, d1, d2, d3, Workspace.lending());
    }

    /** {@link #zeros(DType, int...)} without a shape array (see {@link #empty(DType, int)}). */
    public static Tensor zeros(DType dtype, int d0) {
        return zeroed(allocate(dtype, 1, d0, 0, 0, 0, Workspace.lending()));
    }

    /** {@link #zeros(DType, int...)} without a shape array (see {@link #empty(DType, int)}). */
    public static Tensor zeros(DType dtype, int d0, int d1) {
        return zeroed(allocate(dtype, 2, d0, d1, 0, 0, Workspace.lending()));
    }

    /** {@link #zeros(DType, int...)} without a shape array (see {@link #empty(DType, int)}). */
    public static Tensor zeros(DType dtype, int d0, int d1, int d2) {
        return zeroed(allocate(dtype, 3, d0, d1, d2, 0, Workspace.lending()));
    }

    /** {@link #zeros(DType, int...)} without a shape array (see {@link #empty(DType, int)}). */
    public static Tensor zeros(DType dtype, int d0, int d1, int d2, int d3) {
        return zeroed(allocate(dtype, 4, d0, d1, d2, d3, Workspace.lending()));
    }

    /** {@link #empty} with t's dtype and shape: a contiguous tensor whose values are unspecified. */
    public static Tensor emptyLike(Tensor t) {
        return allocateLike(t, Workspace.lending());
    }

    /** Storage for a contiguous tensor shaped like t, sharing t's shape array and, when they fit, its strides. */
    private static Tensor allocateLike(Tensor t, Workspace w) {
        return allocate(t.dtype(), t.shape, t.hasRowMajorStrides() ? t.strides : null, w);
    }

    /**
     * A new contiguous tensor of the caller's shape (copied: the caller may change its array later). Inside a
     * workspace scope the copy is the workspace's shared array for that shape, strides included, so a steady-state
     * step allocates no shape metadata for its outputs.
     */
    private static Tensor allocate(DType dtype, int[] shape, Workspace w) {
        Shapes.numel(shape);   // rejects a negative dimension before the shape is remembered
        int slot = w == null ? -1 : w.shapeSlot(shape);
        return slot >= 0
                ? allocate(dtype, w.sharedShape(slot), w.sharedStrides(slot), w)
                : allocate(dtype, shape.clone(), null, w);
    }

    /**
     * A new contiguous tensor of shape [d0, .., d(rank-1)], rank 1 to 4: the workspace's shared arrays when it has
     * seen that shape, found without building an array; otherwise as {@link #allocate(DType, int[], Workspace)}.
     */
    private static Tensor allocate(DType dtype, int rank, int d0, int d1, int d2, int d3, Workspace w) {
        int slot = w == null ? -1 : w.findShape(rank, d0, d1, d2, d3);
        return slot >= 0
                ? allocate(dtype, w.sharedShape(slot), w.sharedStrides(slot), w)
                : allocate(dtype, Arrays.copyOf(new int[] {d0, d1, d2, d3}, rank), w);
    }

    /**
     * Every tensor that owns new storage is made here, with shape {@code s} (owned by the new tensor, never
     * modified) and its row-major strides {@code st} (computed when null): from the workspace {@code w}, or fresh
     * when it is null.
     */
    private static Tensor allocate(DType dtype, int[] s, int[] st, Workspace w) {
        int n = Shapes.numel(s);
        if (st == null) {
            st = Shapes.contiguousStrides(s);
        }
        if (w == null) {
            return dtype == DType.F32
                    ? new Tensor(new float[n], null, s, st, 0)
                    : new Tensor(null, new double[n], s, st, 0);
        }
        return dtype == DType.F32
                ? scoped(w.takeF32(n), null, s, st, 0, w, w.generation())
                : scoped(null, w.takeF64(n), s, st, 0, w, w.generation());
    }

    /** A new F32 tensor of zeros. */
    public static Tensor zeros(int... shape) {
        return zeros(DType.F32, shape);
    }

    public static Tensor ones(DType dtype, int... shape) {
        return full(dtype, 1.0, shape);
    }

    public static Tensor ones(int... shape) {
        return full(DType.F32, 1.0, shape);
    }

    public static Tensor full(DType dtype, double value, int... shape) {
        return empty(dtype, shape).fill(value);
    }

    public static Tensor full(double value, int... shape) {
        return full(DType.F32, value, shape);
    }

    public static Tensor zerosLike(Tensor t) {
        return zeroed(allocateLike(t, Workspace.lending()));
    }

    public static Tensor onesLike(Tensor t) {
        return emptyLike(t).fill(1.0);
    }

    /** The shape of a rank-0 tensor, shared: {@code full(dtype, value)} would make a new empty array per call. */
    private static final int[] SCALAR_SHAPE = {};

    /** A rank-0 tensor holding one value. */
    public static Tensor scalar(DType dtype, double value) {
        return full(dtype, value, SCALAR_SHAPE);
    }

    public static Tensor scalar(double value) {
        return full(DType.F32, value, SCALAR_SHAPE);
    }

    /** A copy of {@code data} viewed with the given shape (the data's length when no shape is given). */
    public static Tensor of(float[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape.clone();
        checkLength("Tensor.of", data.length, s);
        return new Tensor(data.clone(), null, s, Shapes.contiguousStrides(s), 0);
    }

    /** A copy of {@code data} viewed with the given shape (the data's length when no shape is given). */
    public static Tensor of(double[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape.clone();
        checkLength("Tensor.of", data.length, s);
        return new Tensor(null, data.clone(), s, Shapes.contiguousStrides(s), 0);
    }

    /** A 2-D F32 tensor from rows of equal length. */
    public static Tensor of(float[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        float[] data = new float[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != cols) {
                throw new ShapeException("Tensor.of: row " + i + " has length " + rows[i].length + ", expected " + cols);
            }
            System.arraycopy(rows[i], 0, data, i * cols, cols);
        }
        return wrap(data, rows.length, cols);
    }

    /** A 2-D F64 tensor from rows of equal length. */
    public static Tensor of(double[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        double[] data = new double[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != cols) {
                throw new ShapeException("Tensor.of: row " + i + " has length " + rows[i].length + ", expected " + cols);
            }
            System.arraycopy(rows[i], 0, data, i * cols, cols);
        }
        return wrap(data, rows.length, cols);
    }

    /** Views {@code data} itself (no copy) with the given shape: writes to either are seen by both. */
    public static Tensor wrap(float[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape.clone();
        checkLength("Tensor.wrap", data.length, s);
        return new Tensor(data, null, s, Shapes.contiguousStrides(s), 0);
    }

    /** Views {@code data} itself (no copy) with the given shape: writes to either are seen by both. */
    public static Tensor wrap(double[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape.clone();
        checkLength("Tensor.wrap", data.length, s);
        return new Tensor(null, data, s, Shapes.contiguousStrides(s), 0);
    }

    private static void checkLength(String op, int length, int[] shape) {
        if (Shapes.numel(shape) != length) {
            throw new ShapeException(op + ": " + length + " values do not fill shape " + Shapes.str(shape)
                    + " (" + Shapes.numel(shape) + " elements)");
        }
    }

    /** [0, 1, ..., n-1] as F32. */
    public static Tensor arange(int n) {
        return arange(DType.F32, 0, n, 1);
    }

    /** Values start, start+step, ... strictly before end (like {@code torch.arange}). */
    public static Tensor arange(DType dtype, double start, double end, double step) {
        if (step == 0 || Double.isNaN(step)) {
            throw new IllegalArgumentException("Tensor.arange: step must be non-zero, got " + step);
        }
        int n = (int) Math.max(0, Math.ceil((end - start) / step));
        Tensor t = zeros(dtype, n);
        for (int i = 0; i < n; i++) {
            t.setFlat(i, start + i * step);
        }
        return t;
    }

    /** Standard normal samples. */
    public static Tensor randn(DType dtype, Rng rng, int... shape) {
        Tensor t = zeros(dtype, shape);
        for (int i = 0, n = t.numel(); i < n; i++) {
            t.setFlat(i, rng.nextGaussian());
        }
        return t;
    }

    public static Tensor randn(Rng rng, int... shape) {
        return randn(DType.F32, rng, shape);
    }

    /** Uniform samples in [low, high). */
    public static Tensor uniform(DType dtype, Rng rng, double low, double high, int... shape) {
        Tensor t = zeros(dtype, shape);
        for (int i = 0, n = t.numel(); i < n; i++) {
            t.setFlat(i, low + (high - low) * rng.nextDouble());
        }
        return t;
    }

    /** Uniform samples in [0, 1). */
    public static Tensor rand(Rng rng, int... shape) {
        return uniform(DType.F32, rng, 0, 1, shape);
    }

    /** Glorot/Xavier uniform: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)). */
    public static Tensor xavierUniform(DType dtype, Rng rng, int fanIn, int fanOut, double gain, int... shape) {
        double a = gain * Math.sqrt(6.0 / (fanIn + fanOut));
        return uniform(dtype, rng, -a, a, shape);
    }

    /** He/Kaiming normal (fan-in mode): N(0, gain^2 / fanIn); gain sqrt(2) suits ReLU. */
    public static Tensor kaimingNormal(DType dtype, Rng rng, int fanIn, double gain, int... shape) {
        double std = gain / Math.sqrt(fanIn);
        Tensor t = zeros(dtype, shape);
        for (int i = 0, n = t.numel(); i < n; i++) {
            t.setFlat(i, std * rng.nextGaussian());
        }
        return t;
    }

    /** Kaiming uniform (fan-in mode): U(-b, b) with b = gain * sqrt(3 / fanIn); PyTorch's Linear default. */
    public static Tensor kaimingUniform(DType dtype, Rng rng, int fanIn, double gain, int... shape) {
        double b = gain * Math.sqrt(3.0 / fanIn);
        return uniform(dtype, rng, -b, b, shape);
    }

    // ------------------------------------------------------------------------------------------ metadata

    public DType dtype() {
        return f32 != null ? DType.F32 : DType.F64;
    }

    /** A copy of the shape. */
    public int[] shape() {
        return shape.clone();
    }

    /** True when this tensor's shape is {@code shape}; unlike comparing {@link #shape()}, copies nothing. */
    public boolean hasShape(int... shape) {
        return Arrays.equals(this.shape, shape);
    }

    /** True when both tensors have the same shape (dtypes and layouts may differ); copies nothing. */
    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    /** Size of one dimension; negative dims count from the end. */
    public int size(int dim) {
        return shape[Shapes.axis("Tensor.size", dim, shape.length)];
    }

    public int rank() {
        return shape.length;
    }

    public int numel() {
        return Shapes.numel(shape);
    }

    /** A copy of the strides, in elements. */
    public int[] strides() {
        return strides.clone();
    }

    /** The strides array itself, for {@link StridedCursor} in this package: never to be modified or handed out. */
    int[] stridesArray() {
        return strides;
    }

    public int stride(int dim) {
        return strides[Shapes.axis("Tensor.stride", dim, shape.length)];
    }

    /** Offset of element [0, ..., 0] in the storage array. */
    public int offset() {
        return offset;
    }

    /** True when the strides are exactly {@link Shapes#contiguousStrides} of the shape (then they may be shared). */
    private boolean hasRowMajorStrides() {
        int expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (strides[d] != expected) {
                return false;
            }
            expected *= Math.max(shape[d], 1);
        }
        return true;
    }

    /** True when the elements are laid out in row-major order with no gaps (size-1 dims may have any stride). */
    public boolean isContiguous() {
        int expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1) {
                if (strides[d] != expected) {
                    return false;
                }
                expected *= shape[d];
            }
        }
        return true;
    }

    /** The F32 storage array this tensor views (kernels index it with {@link #offset()} and strides). */
    public float[] f32Data() {
        checkLive();
        if (f32 == null) {
            throw new IllegalStateException("f32Data: tensor is " + dtype() + ", not F32");
        }
        return f32;
    }

    /** The F64 storage array this tensor views (kernels index it with {@link #offset()} and strides). */
    public double[] f64Data() {
        checkLive();
        if (f64 == null) {
            throw new IllegalStateException("f64Data: tensor is " + dtype() + ", not F64");
        }
        return f64;
    }

    /**
     * Throws when this tensor's storage was lent by a {@link Workspace} scope that has since closed (the array
     * now belongs to a later step). Cheap: one comparison, done where a tensor's storage is reached, not per element.
     */
    public void checkLive() {
        if (lender != null) {
            lender.checkLive(generation);
        }
    }

    /** True when this tensor's storage was lent by a {@link Workspace} scope (it does not outlive the scope). */
    public boolean isScoped() {
        return lender != null;
    }

    /** True when both tensors view the same storage array. */
    public boolean sharesStorageWith(Tensor other) {
        return f32 != null ? f32 == other.f32 : f64 == other.f64;
    }

    // ------------------------------------------------------------------------------------------ elements

    private int storageIndex(String op, int[] idx) {
        checkLive();
        if (idx.length != shape.length) {
            throw new ShapeException(op + ": " + idx.length + " indices for a tensor of shape " + Shapes.str(shape));
        }
        int pos = offset;
        for (int d = 0; d < idx.length; d++) {
            int i = idx[d] < 0 ? idx[d] + shape[d] : idx[d];
            if (i < 0 || i >= shape[d]) {
                throw new ShapeException(op + ": index " + idx[d] + " is out of range for dimension " + d
                        + " of shape " + Shapes.str(shape));
            }
            pos += i * strides[d];
        }
        return pos;
    }

    /** The element at the given indices (negative indices count from the end), as a double. */
    public double get(int... idx) {
        int pos = storageIndex("Tensor.get", idx);
        return f32 != null ? f32[pos] : f64[pos];
    }

    /** Writes one element in place. */
    public Tensor set(double value, int... idx) {
        int pos = storageIndex("Tensor.set", idx);
        if (f32 != null) {
            f32[pos] = (float) value;
        } else {
            f64[pos] = value;
        }
        return this;
    }

    /** The only value of a one-element tensor. */
    public double item() {
        if (numel() != 1) {
            throw new ShapeException("Tensor.item: tensor of shape " + Shapes.str(shape) + " has " + numel()
                    + " elements, not 1");
        }
        checkLive();
        int pos = offset;
        return f32 != null ? f32[pos] : f64[pos];
    }

    /** Element i in row-major order of this (possibly strided) view. */
    private double getFlat(int i) {
        int pos = flatToStorage(i);
        return f32 != null ? f32[pos] : f64[pos];
    }

    private void setFlat(int i, double v) {
        int pos = flatToStorage(i);
        if (f32 != null) {
            f32[pos] = (float) v;
        } else {
            f64[pos] = v;
        }
    }

    private int flatToStorage(int i) {
        int pos = offset;
        for (int d = shape.length - 1; d >= 0; d--) {
            pos += (i % shape[d]) * strides[d];
            i /= shape[d];
        }
        return pos;
    }

    /** The elements in row-major order as a new float array (never storage of a {@link Workspace} scope). */
    public float[] toFloatArray() {
        checkLive();
        if (f32 != null && isContiguous() && offset == 0 && f32.length == numel()) {
            return f32.clone();
        }
        // A view may start inside a larger storage array (narrow, select): copy just its elements.
        float[] out = new float[numel()];
        new Tensor(out, null, shape.clone(), Shapes.contiguousStrides(shape), 0).copyFrom(this);
        return out;
    }

    /** The elements in row-major order as a new double array (never storage of a {@link Workspace} scope). */
    public double[] toDoubleArray() {
        checkLive();
        if (f64 != null && isContiguous() && offset == 0 && f64.length == numel()) {
            return f64.clone();
        }
        double[] out = new double[numel()];
        new Tensor(null, out, shape.clone(), Shapes.contiguousStrides(shape), 0).copyFrom(this);
        return out;
    }

    /** This tensor in another dtype (itself when already of that dtype). */
    public Tensor to(DType target) {
        if (target == dtype()) {
            return this;
        }
        Tensor out = empty(target, shape);
        out.copyFrom(this);
        return out;
    }

    /** A contiguous copy that shares nothing with this tensor. */
    public Tensor copy() {
        Tensor out = empty(dtype(), shape);
        out.copyFrom(this);
        return out;
    }

    /** This tensor if already contiguous, otherwise a contiguous copy. */
    public Tensor contiguous() {
        return isContiguous() ? this : copy();
    }

    // ------------------------------------------------------------------------------------------ in place

    /** Sets every element of this view to {@code value}, in place. */
    public Tensor fill(double value) {
        checkLive();
        if (isContiguous()) {   // one run of storage: no cursor needed
            int n = numel();
            if (f32 != null) {
                Arrays.fill(f32, offset, offset + n, (float) value);
            } else {
                Arrays.fill(f64, offset, offset + n, value);
            }
            return this;
        }
        var cur = StridedCursor.of(shape, this);
        int n = cur.innerLength();
        int s = cur.innerStride(0);
        while (cur.next()) {
            int o = cur.offset(0);
            if (f32 != null) {
                float v = (float) value;
                if (s == 1) {
                    Arrays.fill(f32, o, o + n, v);
                } else {
                    for (int i = 0; i < n; i++) {
                        f32[o + i * s] = v;
                    }
                }
            } else if (s == 1) {
                Arrays.fill(f64, o, o + n, value);
            } else {
                for (int i = 0; i < n; i++) {
                    f64[o + i * s] = value;
                }
            }
        }
        return this;
    }

    /**
     * Copies {@code src} into this view in place, broadcasting {@code src} to this shape and converting dtype.
     * Used for optimizer updates and for building tensors piece by piece.
     */
    public Tensor copyFrom(Tensor src) {
        checkLive();
        src.checkLive();
        if (Arrays.equals(src.shape, shape) && isContiguous() && src.isContiguous()) {
            // Both are one run of storage in the same order: a single array copy or conversion, the same values as
            // the loop below.
            int n = numel();
            if (f32 != null && src.f32 != null) {
                System.arraycopy(src.f32, src.offset, f32, offset, n);
            } else if (f64 != null && src.f64 != null) {
                System.arraycopy(src.f64, src.offset, f64, offset, n);
            } else if (f32 != null) {
                for (int i = 0; i < n; i++) {
                    f32[offset + i] = (float) src.f64[src.offset + i];
                }
            } else {
                for (int i = 0; i < n; i++) {
                    f64[offset + i] = src.f32[src.offset + i];
                }
            }
            return this;
        }
        Tensor s = src.broadcastTo("Tensor.copyFrom", shape);
        int transposedDim = transposedCopyDim(s);
        if (transposedDim >= 0) {
            copyTiled(s, transposedDim);
            return this;
        }
        var cur = StridedCursor.of(shape, s, this);
        int n = cur.innerLength();
        int ss = cur.innerStride(0);
        int sd = cur.innerStride(1);
        while (cur.next()) {
            int os = cur.offset(0);
            int od = cur.offset(1);
            if (f32 != null && s.f32 != null) {
                if (ss == 1 && sd == 1) {
                    System.arraycopy(s.f32, os, f32, od, n);
                } else {
                    for (int i = 0; i < n; i++) {
                        f32[od + i * sd] = s.f32[os + i * ss];
                    }
                }
            } else if (f64 != null && s.f64 != null) {
                if (ss == 1 && sd == 1) {
                    System.arraycopy(s.f64, os, f64, od, n);
                } else {
                    for (int i = 0; i < n; i++) {
                        f64[od + i * sd] = s.f64[os + i * ss];
                    }
                }
            } else if (f32 != null) {
                for (int i = 0; i < n; i++) {
                    f32[od + i * sd] = (float) s.f64[os + i * ss];
                }
            } else {
                for (int i = 0; i < n; i++) {
                    f64[od + i * sd] = s.f32[os + i * ss];
                }
            }
        }
        return this;
    }

    private static final int COPY_TILE = 32;

    /**
     * For a copy whose source walks memory with a large stride along this tensor's last dimension but is
     * contiguous along another dimension (a transpose), that other dimension; otherwise -1. Such copies are done
     * in square tiles so both sides stay in cache, instead of one cache miss per element.
     */
    private int transposedCopyDim(Tensor s) {
        int last = shape.length - 1;
        if (last < 1 || s.dtype() != dtype() || numel() < COPY_TILE * COPY_TILE || s.strides[last] == 1
                || shape[last] < COPY_TILE) {
            return -1;
        }
        for (int d = last - 1; d >= 0; d--) {
            if (s.strides[d] == 1 && shape[d] >= COPY_TILE) {
                return d;
            }
        }
        return -1;
    }

    private void copyTiled(Tensor s, int rowDim) {
        int colDim = shape.length - 1;
        int[] planeShape = shape.clone();
        planeShape[rowDim] = 1;
        planeShape[colDim] = 1;
        var cur = new StridedCursor(planeShape, new int[][] {s.strides, strides}, new int[] {s.offset, offset});
        int rows = shape[rowDim];
        int cols = shape[colDim];
        int srcRow = s.strides[rowDim];
        int srcCol = s.strides[colDim];
        int dstRow = strides[rowDim];
        int dstCol = strides[colDim];
        int planes = cur.innerLength();
        int srcPlane = cur.innerStride(0);
        int dstPlane = cur.innerStride(1);
        while (cur.next()) {
            for (int p = 0; p < planes; p++) {
                copyTile(s, cur.offset(0) + p * srcPlane, cur.offset(1) + p * dstPlane, rows, cols, srcRow, srcCol, dstRow, dstCol);
            }
        }
    }

    /** One plane of a transposing copy, in COPY_TILE x COPY_TILE tiles. */
    private void copyTile(Tensor s, int os, int od, int rows, int cols, int srcRow, int srcCol, int dstRow, int dstCol) {
        for (int i0 = 0; i0 < rows; i0 += COPY_TILE) {
            int i1 = Math.min(rows, i0 + COPY_TILE);
            for (int j0 = 0; j0 < cols; j0 += COPY_TILE) {
                int j1 = Math.min(cols, j0 + COPY_TILE);
                for (int i = i0; i < i1; i++) {
                    int ps = os + i * srcRow;
                    int pd = od + i * dstRow;
                    if (f32 != null) {
                        for (int j = j0; j < j1; j++) {
                            f32[pd + j * dstCol] = s.f32[ps + j * srcCol];
                        }
                    } else {
                        for (int j = j0; j < j1; j++) {
                            f64[pd + j * dstCol] = s.f64[ps + j * srcCol];
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ views

    private Tensor view(int[] newShape, int[] newStrides, int newOffset) {
        return lender == null
                ? new Tensor(f32, f64, newShape, newStrides, newOffset)
                : scoped(f32, f64, newShape, newStrides, newOffset, lender, generation);
    }

    private int[] inferShape(String op, int[] newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new ShapeException(op + ": only one dimension can be -1 in " + Shapes.str(newShape));
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new ShapeException(op + ": invalid dimension " + s[i] + " in " + Shapes.str(newShape));
            } else {
                known *= s[i];
            }
        }
        int n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new ShapeException(op + ": cannot view shape " + Shapes.str(shape) + " as "
                        + Shapes.str(newShape));
            }
            s[infer] = (int) (n / known);
        } else if (known != n) {
            throw new ShapeException(op + ": shape " + Shapes.str(newShape) + " has " + known
                    + " elements but the tensor of shape " + Shapes.str(shape) + " has " + n);
        }
        return s;
    }

    /**
     * Strides that let this storage be seen with {@code newShape} without copying, or null when no such strides
     * exist. Walks the old dimensions from the innermost out in "chunks" of dimensions that are contiguous with
     * each other; each chunk must be split exactly by a run of new dimensions.
     */
    private int[] viewStrides(int[] newShape) {
        int[] newStrides = new int[newShape.length];
        if (numel() == 0 || shape.length == 0) {
            return Shapes.contiguousStrides(newShape);
        }
        int viewD = newShape.length - 1;
        long chunkBaseStride = strides[shape.length - 1];
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel *= shape[d];
            boolean chunkEnds = d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBaseStride);
            if (chunkEnds) {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
                    newStrides[viewD] = (int) (viewNumel * chunkBaseStride);
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) {
                    return null;
                }
                if (d > 0) {
                    chunkBaseStride = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? newStrides : null;
    }

    /** A view with the new shape (one dimension may be -1); throws if the layout needs a copy. */
    public Tensor view(int... newShape) {
        int[] s = inferShape("Tensor.view", newShape);
        int[] st = viewStrides(s);
        if (st == null) {
            throw new ShapeException("Tensor.view: a tensor of shape " + Shapes.str(shape) + " with strides "
                    + Shapes.str(strides) + " cannot be viewed as " + Shapes.str(s) + "; use reshape (copies)");
        }
        return view(s, st, offset);
    }

    /** The new shape as a view when the layout allows it, otherwise as a contiguous copy (like PyTorch). */
    public Tensor reshape(int... newShape) {
        int[] s = inferShape("Tensor.reshape", newShape);
        int[] st = viewStrides(s);
        return st != null ? view(s, st, offset) : copy().view(s, Shapes.contiguousStrides(s), 0);
    }

    /** All dimensions flattened into one. */
    public Tensor flatten() {
        return reshape(-1);
    }

    /** Swaps two dimensions (a view). */
    public Tensor transpose(int dim0, int dim1) {
        int a = Shapes.axis("Tensor.transpose", dim0, shape.length);
        int b = Shapes.axis("Tensor.transpose", dim1, shape.length);
        int[] s = shape.clone();
        int[] st = strides.clone();
        s[a] = shape[b];
        s[b] = shape[a];
        st[a] = strides[b];
        st[b] = strides[a];
        return view(s, st, offset);
    }

    /** Transpose of a 2-D tensor (a view). */
    public Tensor t() {
        if (shape.length != 2) {
            throw new ShapeException("Tensor.t: expects a 2-D tensor, got shape " + Shapes.str(shape));
        }
        return transpose(0, 1);
    }

    /** Reorders dimensions: result dimension i is this tensor's dimension {@code order[i]} (a view). */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new ShapeException("Tensor.permute: order " + Arrays.toString(order) + " does not match shape "
                    + Shapes.str(shape));
        }
        int[] s = new int[order.length];
        int[] st = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int d = Shapes.axis("Tensor.permute", order[i], shape.length);
            if (seen[d]) {
                throw new ShapeException("Tensor.permute: dimension " + d + " repeats in " + Arrays.toString(order));
            }
            seen[d] = true;
            s[i] = shape[d];
            st[i] = strides[d];
        }
        return view(s, st, offset);
    }

    /** Elements [start, start+length) along {@code dim} (a view). */
    public Tensor narrow(int dim, int start, int length) {
        int d = Shapes.axis("Tensor.narrow", dim, shape.length);
        if (start < 0 || length < 0 || start + length > shape[d]) {
            throw new ShapeException("Tensor.narrow: range [" + start + ", " + (start + length) + ") is outside "
                    + "dimension " + d + " of shape " + Shapes.str(shape));
        }
        int[] s = shape.clone();
        s[d] = length;
        return view(s, strides, offset + start * strides[d]);
    }

    /** Python-style slice {@code start:end:step} along {@code dim}; negative start/end count from the end. */
    public Tensor slice(int dim, int start, int end, int step) {
        int d = Shapes.axis("Tensor.slice", dim, shape.length);
        if (step <= 0) {
            throw new ShapeException("Tensor.slice: step must be positive, got " + step);
        }
        int n = shape[d];
        int lo = Math.min(Math.max(start < 0 ? start + n : start, 0), n);
        int hi = Math.min(Math.max(end < 0 ? end + n : end, 0), n);
        int len = hi > lo ? (hi - lo + step - 1) / step : 0;
        int[] s = shape.clone();
        int[] st = strides.clone();
        s[d] = len;
        st[d] = strides[d] * step;
        return view(s, st, offset + (len > 0 ? lo * strides[d] : 0));
    }

    /** The slice at {@code index} along {@code dim}, with that dimension removed (a view). */
    public Tensor select(int dim, int index) {
        int d = Shapes.axis("Tensor.select", dim, shape.length);
        int i = index < 0 ? index + shape[d] : index;
        if (i < 0 || i >= shape[d]) {
            throw new ShapeException("Tensor.select: index " + index + " is out of range for dimension " + d
                    + " of shape " + Shapes.str(shape));
        }
        int[] s = new int[shape.length - 1];
        int[] st = new int[shape.length - 1];
        for (int k = 0, j = 0; k < shape.length; k++) {
            if (k != d) {
                s[j] = shape[k];
                st[j++] = strides[k];
            }
        }
        return view(s, st, offset + i * strides[d]);
    }

    /** Broadcasts to {@code target} (NumPy rules, size-1 dims stretched with stride 0); -1 keeps a size. */
    public Tensor expand(int... target) {
        int[] t = target.clone();
        int lead = t.length - shape.length;
        for (int i = lead; i < t.length; i++) {
            if (t[i] == -1) {
                t[i] = shape[i - lead];
            }
        }
        return broadcastTo("Tensor.expand", t);
    }

    /** Broadcasts to {@code target} as a view; a clear error names both shapes. */
    public Tensor broadcastTo(int... target) {
        return broadcastTo("Tensor.broadcastTo", target);
    }

    private Tensor broadcastTo(String op, int[] target) {
        if (Arrays.equals(shape, target)) {
            return this;
        }
        int lead = target.length - shape.length;
        if (lead < 0) {
            throw new ShapeException(op + ": cannot broadcast shape " + Shapes.str(shape) + " to fewer dimensions "
                    + Shapes.str(target));
        }
        int[] st = new int[target.length];
        for (int i = 0; i < target.length; i++) {
            if (i < lead) {
                st[i] = 0;
            } else if (shape[i - lead] == target[i]) {
                st[i] = strides[i - lead];
            } else if (shape[i - lead] == 1) {
                st[i] = 0;
            } else {
                throw new ShapeException(op + ": cannot broadcast shape " + Shapes.str(shape) + " to "
                        + Shapes.str(target));
            }
        }
        return view(target.clone(), st, offset);
    }

    /** Removes every size-1 dimension (a view). */
    public Tensor squeeze() {
        int kept = 0;
        for (int d : shape) {
            kept += d == 1 ? 0 : 1;
        }
        int[] s = new int[kept];
        int[] st = new int[kept];
        for (int k = 0, j = 0; k < shape.length; k++) {
            if (shape[k] != 1) {
                s[j] = shape[k];
                st[j++] = strides[k];
            }
        }
        return view(s, st, offset);
    }

    /** Removes dimension {@code dim}, which must have size 1 (a view). */
    public Tensor squeeze(int dim) {
        int d = Shapes.axis("Tensor.squeeze", dim, shape.length);
        if (shape[d] != 1) {
            throw new ShapeException("Tensor.squeeze: dimension " + d + " of shape " + Shapes.str(shape)
                    + " has size " + shape[d] + ", not 1");
        }
        return select(d, 0);
    }

    /** Inserts a size-1 dimension at {@code dim} (a view); dim may be rank() to append. */
    public Tensor unsqueeze(int dim) {
        int d = Shapes.axis("Tensor.unsqueeze", dim, shape.length + 1);
        int[] s = new int[shape.length + 1];
        int[] st = new int[shape.length + 1];
        for (int k = 0, j = 0; k < s.length; k++) {
            if (k == d) {
                s[k] = 1;
                st[k] = d < shape.length ? strides[d] * shape[d] : 1;
            } else {
                s[k] = shape[j];
                st[k] = strides[j++];
            }
        }
        return view(s, st, offset);
    }

    // ------------------------------------------------------------------------------------------ ops
    // Convenience forms of the ops in dev.jgrad.tensor.ops, where each forward kernel sits beside its backward.

    public Tensor add(Tensor other) {
        return Binary.add(this, other);
    }

    public Tensor add(double s) {
        return Binary.add(this, s);
    }

    public Tensor sub(Tensor other) {
        return Binary.sub(this, other);
    }

    public Tensor sub(double s) {
        return Binary.add(this, -s);
    }

    public Tensor mul(Tensor other) {
        return Binary.mul(this, other);
    }

    public Tensor mul(double s) {
        return Binary.mul(this, s);
    }

    public Tensor div(Tensor other) {
        return Binary.div(this, other);
    }

    public Tensor div(double s) {
        return Binary.mul(this, 1.0 / s);
    }

    public Tensor pow(Tensor exponent) {
        return Binary.pow(this, exponent);
    }

    public Tensor pow(double exponent) {
        return Binary.pow(this, exponent);
    }

    public Tensor neg() {
        return Unary.neg(this);
    }

    public Tensor exp() {
        return Unary.exp(this);
    }

    public Tensor log() {
        return Unary.log(this);
    }

    public Tensor sqrt() {
        return Unary.sqrt(this);
    }

    public Tensor abs() {
        return Unary.abs(this);
    }

    public Tensor tanh() {
        return Unary.tanh(this);
    }

    public Tensor sigmoid() {
        return Unary.sigmoid(this);
    }

    public Tensor relu() {
        return Unary.relu(this);
    }

    /** GELU with GPT-2's tanh approximation; {@link #geluExact()} uses erf. */
    public Tensor gelu() {
        return Unary.gelu(this);
    }

    public Tensor geluExact() {
        return Unary.geluExact(this);
    }

    public Tensor silu() {
        return Unary.silu(this);
    }

    public Tensor clamp(double min, double max) {
        return Unary.clamp(this, min, max);
    }

    /** Positions where {@code mask} is nonzero set to {@code value}. */
    public Tensor maskedFill(Tensor mask, double value) {
        return Binary.maskedFill(this, mask, value);
    }

    /** Sum over the given axes, all axes when none are given. */
    public Tensor sum(boolean keepDim, int... axes) {
        return Reduce.sum(this, keepDim, axes);
    }

    /** Sum of all elements as a rank-0 tensor. */
    public Tensor sum() {
        return Reduce.sum(this, false);
    }

    public Tensor mean(boolean keepDim, int... axes) {
        return Reduce.mean(this, keepDim, axes);
    }

    public Tensor mean() {
        return Reduce.mean(this, false);
    }

    public Tensor max(boolean keepDim, int... axes) {
        return Reduce.max(this, keepDim, axes);
    }

    public Tensor min(boolean keepDim, int... axes) {
        return Reduce.min(this, keepDim, axes);
    }

    public Tensor argmax(int axis, boolean keepDim) {
        return Reduce.argmax(this, axis, keepDim);
    }

    /** Variance; correction 1 is the unbiased estimate (torch's default), 0 the population variance. */
    public Tensor var(int correction, boolean keepDim, int... axes) {
        return Reduce.var(this, correction, keepDim, axes);
    }

    public Tensor softmax(int axis) {
        return Softmax.softmax(this, axis);
    }

    public Tensor logSoftmax(int axis) {
        return Softmax.logSoftmax(this, axis);
    }

    /** torch.matmul semantics: dot, matrix-vector, matrix-matrix and batched with broadcast batch dims. */
    public Tensor matmul(Tensor other) {
        return MatMul.matmul(this, other);
    }

    // ------------------------------------------------------------------------------------------ comparison

    /** True when shapes match and |a - b| <= atol + rtol * |b| everywhere (NaNs never match). */
    public boolean allClose(Tensor other, double rtol, double atol) {
        checkLive();
        other.checkLive();
        if (!Arrays.equals(shape, other.shape)) {
            return false;
        }
        for (int i = 0, n = numel(); i < n; i++) {
            double a = getFlat(i);
            double b = other.getFlat(i);
            if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
                return false;
            }
        }
        return true;
    }

    /** Largest |a - b| over all elements; shapes must match. */
    public double maxAbsDiff(Tensor other) {
        checkLive();
        other.checkLive();
        if (!Arrays.equals(shape, other.shape)) {
            throw new ShapeException("Tensor.maxAbsDiff: shapes " + Shapes.str(shape) + " and "
                    + Shapes.str(other.shape) + " differ");
        }
        double m = 0;
        for (int i = 0, n = numel(); i < n; i++) {
            double d = Math.abs(getFlat(i) - other.getFlat(i));
            if (Double.isNaN(d)) {
                return Double.NaN;
            }
            m = Math.max(m, d);
        }
        return m;
    }

    // ------------------------------------------------------------------------------------------ printing

    @Override
    public String toString() {
        checkLive();
        return TensorFormat.format(this, shape, this::getFlat);
    }
}
