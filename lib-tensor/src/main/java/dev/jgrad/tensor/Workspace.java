package dev.jgrad.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Storage recycled from one training step to the next, per thread.
 *
 * <pre>{@code
 * try (var step = Workspace.open()) {
 *     Variable loss = model.loss(batch);
 *     loss.backward();
 *     optimizer.step();
 *     lastLoss = loss.item();          // read what you keep before the scope closes
 * }
 * }</pre>
 *
 * <p>While a workspace is open on a thread, every tensor that thread creates ({@link Tensor#zeros},
 * {@link Tensor#empty}, copies, contiguous copies, every op's output) takes its storage from the workspace; closing
 * the scope takes all of it back. The arrays are kept in free lists keyed by length, and a training step asks for
 * the same lengths in the same order every time, so from the second step on every request is served from a free
 * list and the step allocates no tensor storage at all: no garbage to collect, no fresh pages to fault in, no
 * zero-filling of outputs a kernel overwrites anyway. New tensors of a shape seen before also share that shape's
 * shape and strides arrays, and {@link #copyOf(int[])} recycles integer data (class targets) the same way, so
 * what a steady-state step still allocates is little more than the tensor objects themselves. Outside a scope
 * tensors are allocated exactly as before.
 *
 * <p>Whatever must outlive the step must not come from it: parameters and optimizer state are created before
 * the first step, and the few things created lazily inside a step that persist (a parameter's gradient buffer,
 * summed data-parallel gradients) are allocated under {@link #persistent()}. A tensor that came from a scope
 * remembers the scope's generation: using its data after the scope has closed (reading storage, {@code item},
 * {@code get}, any op that takes it as input) throws an {@link IllegalStateException} instead of silently reading an
 * array that now belongs to the next step. The check runs once per access to a tensor's storage, not per
 * element. Writing to a stale tensor's array through one obtained before the scope closed cannot be caught.
 *
 * <p>Scopes nest: opening a workspace where one is already open joins it, and storage goes back only when the
 * outermost scope closes. Each thread has its own workspace (data-parallel workers open their own); a tensor from
 * one thread's workspace may be read by kernel tasks on other threads while the scope is open.
 *
 * <p><b>Recycling scopes.</b> {@link #openRecycling()} opens a scope that also recycles the objects a step
 * creates, not only their storage, much as a captured CUDA graph keeps static tensors: the k-th tensor object
 * the step creates on this thread (an op's output, a copy, or a view of a tensor of the step) is the very object
 * the previous recycling step created k-th, re-initialised with this creation's storage, shape, strides and
 * offset. The tape does the same with its variables and nodes ({@link Kind}). A step that differs from the one
 * before (more or fewer tensors, other shapes, another op order, a forward under {@code noGrad}) just hands each
 * object whatever its new creation needs, so results never change; only a repeated step allocates nothing. The
 * contract is stricter than that of {@link #open()}: nothing created inside a recycling step may be kept past
 * it, not even a reference. Between the scope's close and the next recycling step such a reference throws as in
 * a plain scope; once the next step has reissued the object, it silently shows that step's tensor. Read what you
 * keep (a loss with {@code item()}) inside the scope, and create state that outlives the step under
 * {@link #persistent()} (never recycled). Whether a scope recycles is decided by the outermost open on the
 * thread; nested opens of either kind join it.
 */
public final class Workspace implements AutoCloseable {
    private static final ThreadLocal<Workspace> CURRENT = ThreadLocal.withInitial(Workspace::new);

    private final Thread owner = Thread.currentThread();
    private final FreeList<float[]> freeF32 = new FreeList<>();
    private final FreeList<double[]> freeF64 = new FreeList<>();
    private final FreeList<int[]> freeI32 = new FreeList<>();
    private final ArrayList<float[]> lentF32 = new ArrayList<>();
    private final ArrayList<double[]> lentF64 = new ArrayList<>();
    private final ArrayList<int[]> lentI32 = new ArrayList<>();
    /**
     * The distinct shapes of the tensors this workspace has lent storage to, each with its row-major strides.
     * Tensors of one shape share these two arrays (a tensor never modifies them), so from the second step on a
     * new tensor costs one object and no shape metadata. Bounded: beyond {@link #MAX_SHAPES} shapes (a workload
     * whose shapes keep changing) new shapes are simply not shared.
     */
    private int[][] shapes = new int[16][];
    private int[][] shapeStrides = new int[16][];
    private int shapeCount;
    static final int MAX_SHAPES = 64;
    /** Open scopes on this thread (nested opens join the outermost). */
    private int depth;
    /** True while the open scope was opened by {@link #openRecycling()}. */
    private boolean recycling;
    /** Per {@link Kind}, the objects recycling steps have created, in creation order (null: none yet). */
    private Reissued[] reissued = new Reissued[4];
    /** Scopes inside {@link #persistent()} on this thread: allocation bypasses the workspace there. */
    private int bypass;
    /** Bumped when the outermost scope closes; tensors lent under an older generation are stale. */
    private int generation;
    private long hits;
    private long misses;

    private Workspace() {}

    /**
     * Opens this thread's workspace (or joins the one already open). Use with try-with-resources around one
     * training step, on the thread that runs the step.
     */
    public static Workspace open() {
        return open(false);
    }

    /**
     * Opens this thread's workspace in recycling mode (or joins the scope already open, in its mode): besides
     * storage, the step's tensor objects and tape entries are those of the previous recycling step, re-initialised.
     * Nothing created inside the step may be kept past it (see the class comment).
     */
    public static Workspace openRecycling() {
        return open(true);
    }

    private static Workspace open(boolean recycle) {
        Workspace w = CURRENT.get();
        if (w.depth++ == 0) {
            w.recycling = recycle;
        }
        return w;
    }

    /**
     * This thread's workspace if a recycling scope is open on it (outside {@link #persistent()}), else null: where
     * objects of a {@link Kind} should come from.
     */
    public static Workspace recycling() {
        Workspace w = CURRENT.get();
        return w.recycling && w.depth > 0 && w.bypass == 0 ? w : null;
    }

    /**
     * True when the calling thread owns this workspace and a recycling scope is open on it, outside
     * {@link #persistent()}: a tensor it creates from this workspace is recycled.
     */
    boolean recyclesOnThisThread() {
        return Thread.currentThread() == owner && recycling && depth > 0 && bypass == 0;
    }

    /** True while a scope opened by {@link #openRecycling()} is open on this thread. */
    public boolean isRecycling() {
        return recycling && depth > 0;
    }

    /** This thread's workspace (open or not): its counters show how well storage is being reused. */
    public static Workspace current() {
        return CURRENT.get();
    }

    /**
     * A scope in which this thread's allocations bypass the workspace, for state created inside a step that
     * must outlive it. Use with try-with-resources.
     */
    public static Persistent persistent() {
        Workspace w = CURRENT.get();
        w.bypass++;
        return () -> w.bypass--;
    }

    /** The scope returned by {@link #persistent()}. */
    public interface Persistent extends AutoCloseable {
        @Override
        void close();
    }

    /** True while a scope is open on this thread. */
    public boolean isOpen() {
        return depth > 0;
    }

    /** Requests served from a free list so far (a steady-state step should have only these). */
    public long hits() {
        return hits;
    }

    /** Requests that needed a new array so far. */
    public long misses() {
        return misses;
    }

    /** Bytes of storage this workspace holds (lent out or free), never given back to the garbage collector. */
    public long retainedBytes() {
        return freeF32.bytes(Float.BYTES) + freeF64.bytes(Double.BYTES) + freeI32.bytes(Integer.BYTES) + lentBytes();
    }

    private long lentBytes() {
        long b = 0;
        for (float[] a : lentF32) {
            b += (long) a.length * Float.BYTES;
        }
        for (double[] a : lentF64) {
            b += (long) a.length * Double.BYTES;
        }
        for (int[] a : lentI32) {
            b += (long) a.length * Integer.BYTES;
        }
        return b;
    }

    /**
     * Lets the garbage collector have this thread's free arrays (a workspace keeps a whole step's storage, which
     * for a large model is hundreds of MB): call it when training is over, or before steps of a different shape.
     * Arrays lent to an open scope stay lent.
     */
    public void trim() {
        reissued = new Reissued[4];
        shapes = new int[16][];
        shapeStrides = new int[16][];
        shapeCount = 0;
        freeF32.clear();
        freeF64.clear();
        freeI32.clear();
    }

    /** Closes one scope; the outermost close takes back every array lent since it opened. */
    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("Workspace.close: a workspace belongs to the thread that opened it ("
                    + owner.getName() + "), not " + Thread.currentThread().getName());
        }
        if (depth == 0) {
            throw new IllegalStateException("Workspace.close: the workspace is not open (closed twice?)");
        }
        if (--depth > 0) {
            return;
        }
        generation++;
        for (Reissued r : reissued) {
            if (r != null) {
                r.issued = 0;   // the next step starts again from the first object of each kind
            }
        }
        for (int i = 0; i < lentF32.size(); i++) {   // by index: no iterators, this runs every training step
            freeF32.put(lentF32.get(i).length, lentF32.get(i));
        }
        for (int i = 0; i < lentF64.size(); i++) {
            freeF64.put(lentF64.get(i).length, lentF64.get(i));
        }
        for (int i = 0; i < lentI32.size(); i++) {
            freeI32.put(lentI32.get(i).length, lentI32.get(i));
        }
        lentF32.clear();
        lentF64.clear();
        lentI32.clear();
    }

    /** The open workspace of this thread that allocations should come from, or null. */
    static Workspace lending() {
        Workspace w = CURRENT.get();
        return w.depth > 0 && w.bypass == 0 ? w : null;
    }

    int generation() {
        return generation;
    }

    /** An array of exactly n floats whose contents are arbitrary (the caller overwrites or clears them). */
    float[] takeF32(int n) {
        float[] a = freeF32.take(n);
        if (a == null) {
            misses++;
            a = new float[n];
        } else {
            hits++;
        }
        lentF32.add(a);
        return a;
    }

    double[] takeF64(int n) {
        double[] a = freeF64.take(n);
        if (a == null) {
            misses++;
            a = new double[n];
        } else {
            hits++;
        }
        lentF64.add(a);
        return a;
    }

    /**
     * A copy of {@code values} whose storage is recycled like a tensor's: lent by this thread's open workspace
     * (so it belongs to the step until the outermost scope closes), or a new array outside a scope. For integer
     * data an op keeps for its backward, such as class targets. Unlike a tensor, a copy used after its scope has
     * closed cannot be detected, so use it only inside the scope.
     */
    public static int[] copyOf(int[] values) {
        Workspace w = lending();
        if (w == null) {
            return values.clone();
        }
        int[] a = w.freeI32.take(values.length);
        if (a == null) {
            w.misses++;
            a = new int[values.length];
        } else {
            w.hits++;
        }
        w.lentI32.add(a);
        System.arraycopy(values, 0, a, 0, values.length);
        return a;
    }

    /** The slot of the shared arrays for {@code shape} (added on first sight), or -1 when the table is full. */
    int shapeSlot(int[] shape) {
        for (int i = 0; i < shapeCount; i++) {
            if (Arrays.equals(shapes[i], shape)) {
                return i;
            }
        }
        if (shapeCount == MAX_SHAPES) {
            return -1;
        }
        if (shapeCount == shapes.length) {
            shapes = Arrays.copyOf(shapes, shapeCount * 2);
            shapeStrides = Arrays.copyOf(shapeStrides, shapeCount * 2);
        }
        shapes[shapeCount] = shape.clone();
        shapeStrides[shapeCount] = Shapes.contiguousStrides(shape);
        return shapeCount++;
    }

    /**
     * The slot of the shape [d0, .., d(rank-1)] (rank 1 to 4) if it is in the table, else -1 (the caller then
     * goes through {@link #shapeSlot}, which adds it). Compares in place: no array is built to look a shape up.
     */
    int findShape(int rank, int d0, int d1, int d2, int d3) {
        for (int i = 0; i < shapeCount; i++) {
            int[] s = shapes[i];
            if (s.length == rank && s[0] == d0 && (rank < 2 || s[1] == d1) && (rank < 3 || s[2] == d2)
                    && (rank < 4 || s[3] == d3)) {
                return i;
            }
        }
        return -1;
    }

    int[] sharedShape(int slot) {
        return shapes[slot];
    }

    int[] sharedStrides(int slot) {
        return shapeStrides[slot];
    }

    /** Throws when a tensor lent under {@code lentGeneration} is used after its scope closed. */
    void checkLive(int lentGeneration) {
        if (lentGeneration != generation) {
            throw new IllegalStateException("a tensor allocated inside a Workspace scope (a training step) was used "
                    + "after the scope closed; its storage now belongs to a later step. Copy what must outlive the "
                    + "step (e.g. call item() or copy() inside the scope and keep the result outside it, created "
                    + "under Workspace.persistent())");
        }
    }

    /**
     * A kind of object that recycling scopes hand out again from step to step in creation order: {@link Tensor}s
     * here, the tape's variables and nodes in lib-autograd. One constant per kind.
     */
    public static final class Kind<T> {
        private static final AtomicInteger COUNT = new AtomicInteger();
        private final int index = COUNT.getAndIncrement();
        private final String name;

        public Kind(String name) {
            this.name = name;
        }

        @Override
        public String toString() {
            return "Workspace.Kind[" + name + "]";
        }
    }

    /**
     * For a step's k-th request for an object of {@code kind}: the object the previous steps created at that
     * point, for the caller to re-initialise completely, or null when there is none yet; the caller then creates
     * the object and passes it to {@link #issued}. Call only on the workspace {@link #recycling()} returned.
     */
    @SuppressWarnings("unchecked")
    public <T> T reissue(Kind<T> kind) {
        Reissued r = kind.index < reissued.length ? reissued[kind.index] : null;
        return r != null && r.issued < r.count ? (T) r.objects[r.issued++] : null;
    }

    /** Registers {@code object}, just created after {@link #reissue} returned null, for the next steps; returns it. */
    public <T> T issued(Kind<T> kind, T object) {
        if (kind.index >= reissued.length) {
            reissued = Arrays.copyOf(reissued, Math.max(kind.index + 1, 2 * reissued.length));
        }
        Reissued r = reissued[kind.index];
        if (r == null) {
            r = reissued[kind.index] = new Reissued();
        }
        if (r.count == r.objects.length) {
            r.objects = Arrays.copyOf(r.objects, 2 * r.count);
        }
        r.objects[r.count++] = object;   // reissue returned null, so every known object was issued: issued == count
        r.issued = r.count;
        return object;
    }

    /** The objects of one kind: {@code count} known, the first {@code issued} of them handed out this step. */
    private static final class Reissued {
        Object[] objects = new Object[64];
        int count;
        int issued;
    }

    /**
     * Fills every free array with NaN (integer ones with Integer.MIN_VALUE), so a kernel that reads an output it
     * was handed by {@link Tensor#empty} before writing it shows up in tests as NaNs rather than as plausible stale
     * values.
     */
    void poisonFreeArrays() {
        freeF32.forEach(array -> Arrays.fill(array, Float.NaN));
        freeF64.forEach(array -> Arrays.fill(array, Double.NaN));
        freeI32.forEach(array -> Arrays.fill(array, Integer.MIN_VALUE));
    }

    @Override
    public String toString() {
        return "Workspace[thread " + owner.getName() + ", " + (depth == 0 ? "closed" : recycling ? "open, recycling"
                : "open") + ", hits " + hits
                + ", misses " + misses + ", " + retainedBytes() + " bytes retained]";
    }

    /**
     * Stacks of free arrays, one per length. A step uses a few dozen distinct lengths, so a linear scan over
     * them costs less than hashing would, and allocates nothing (no boxed keys).
     */
    private static final class FreeList<A> {
        private int[] lengths = new int[16];
        private Object[][] stacks = new Object[16][];
        private int[] counts = new int[16];
        private int size;

        @SuppressWarnings("unchecked")
        A take(int length) {
            int i = indexOf(length);
            if (i < 0 || counts[i] == 0) {
                return null;
            }
            Object[] stack = stacks[i];
            A a = (A) stack[--counts[i]];
            stack[counts[i]] = null;
            return a;
        }

        void put(int length, A array) {
            int i = indexOf(length);
            if (i < 0) {
                if (size == lengths.length) {
                    lengths = Arrays.copyOf(lengths, size * 2);
                    stacks = Arrays.copyOf(stacks, size * 2);
                    counts = Arrays.copyOf(counts, size * 2);
                }
                i = size++;
                lengths[i] = length;
                stacks[i] = new Object[4];
            }
            if (counts[i] == stacks[i].length) {
                stacks[i] = Arrays.copyOf(stacks[i], counts[i] * 2);
            }
            stacks[i][counts[i]++] = array;
        }

        @SuppressWarnings("unchecked")
        void forEach(java.util.function.Consumer<A> action) {
            for (int i = 0; i < size; i++) {
                for (int j = 0; j < counts[i]; j++) {
                    action.accept((A) stacks[i][j]);
                }
            }
        }

        void clear() {
            lengths = new int[16];
            stacks = new Object[16][];
            counts = new int[16];
            size = 0;
        }

        long bytes(int elementBytes) {
            long b = 0;
            for (int i = 0; i < size; i++) {
                b += (long) lengths[i] * counts[i] * elementBytes;
            }
            return b;
        }

        private int indexOf(int length) {
            for (int i = 0; i < size; i++) {
                if (lengths[i] == length) {
                    return i;
                }
            }
            return -1;
        }
    }
}
