package dev.jgrad.autograd;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import dev.jgrad.tensor.kernel.ElementwiseF32;
import dev.jgrad.tensor.ops.Binary;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The tape. Every op on variables that require grad appends a {@link Node} to it: the op's inputs, the tensors
 * its backward needs, and the backward kernel to call. Each node remembers its position on the tape, and since
 * an op's inputs always exist before the op runs, replaying nodes from the last position to the first visits
 * every node after all its consumers: that reverse replay is {@link #backward}.
 *
 * <p>The tape holds no global list: a node is reachable only from the variables it produced, so a forward
 * pass that is never differentiated is simply garbage, and nothing leaks from one training step to the next.
 * Recording can be switched off per thread with {@link #noGrad()}; each thread records independently, which is
 * what data-parallel workers need.
 */
public final class Tape {
    private static final AtomicLong POSITION = new AtomicLong();
    private static final ThreadLocal<boolean[]> RECORDING = ThreadLocal.withInitial(() -> new boolean[] {true});

    private Tape() {}

    /** True unless the current thread is inside a {@link #noGrad()} scope. */
    public static boolean isRecording() {
        return RECORDING.get()[0];
    }

    /** A scope in which ops record nothing (evaluation, optimizer updates). Use with try-with-resources. */
    public static Scope noGrad() {
        boolean[] flag = RECORDING.get();
        boolean previous = flag[0];
        flag[0] = false;
        return () -> flag[0] = previous;
    }

    /** Runs {@code body} with recording off and returns its result. */
    public static <T> T noGrad(Supplier<T> body) {
        try (Scope ignored = noGrad()) {
            return body.get();
        }
    }

    /** A recording scope; closing it restores the previous recording state. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * The backward kernel of one recorded op: given the upstream gradient and the op's inputs, writes the gradient
     * of input i into {@code grads[i]} (left null: none). The tape hands every node the same array, cleared, so a
     * backward pass does not allocate one per node. A kernel that needs nothing but the inputs' values reads them
     * from {@code inputs} rather than capturing them: a lambda that captures nothing is one shared object, where a
     * capturing one is a new object for every op recorded.
     */
    @FunctionalInterface
    interface Backward {
        void apply(Tensor gradOutput, Variable[] inputs, Tensor[] grads);
    }

    /** Tape entries a recycling {@link Workspace} scope hands out again, step after step. */
    private static final Workspace.Kind<Node> RECYCLED = new Workspace.Kind<>("Tape.Node");

    /** One entry on the tape. */
    static final class Node {
        /** Set once, except when a recycling scope hands the node out again ({@link #of}). */
        String op;
        long position;
        Variable[] inputs;
        private Backward backward;
        /**
         * During a backward pass: the gradient of this node's output summed over the consumers seen so far, and
         * whether that sum is a tensor the pass allocated itself (later contributions may then be added into it
         * in place). Both are cleared when the node is replayed, so a finished pass leaves nothing behind.
         */
        private Tensor pendingGrad;
        private boolean pendingIsOwnSum;
        /** True while the node waits in a backward pass's queue. */
        private boolean queued;

        Node(String op, Variable[] inputs, Backward backward) {
            this.op = op;
            this.position = POSITION.getAndIncrement();
            this.inputs = inputs;
            this.backward = backward;
        }

        /**
         * A node for op {@code op} at the next tape position, with room for {@code inputCount} inputs that the
         * caller fills in: a new node, or in the recycling scope {@code w} (not null) the node the previous step
         * recorded at this point, re-initialised (its inputs array kept when the count matches).
         */
        static Node of(Workspace w, String op, Backward backward, int inputCount) {
            Node n = w == null ? null : w.reissue(RECYCLED);
            if (n == null) {
                n = new Node(op, new Variable[inputCount], backward);
                return w == null ? n : w.issued(RECYCLED, n);
            }
            n.op = op;
            n.position = POSITION.getAndIncrement();
            if (n.inputs.length != inputCount) {
                n.inputs = new Variable[inputCount];
            }
            n.backward = backward;
            n.pendingGrad = null;
            n.pendingIsOwnSum = false;
            n.queued = false;
            return n;
        }

        boolean released() {
            return backward == null;
        }
    }

    /**
     * Replays the tape in reverse from {@code root}, seeded with {@code seed} (d root / d root), accumulating
     * into the {@code grad} of every leaf that requires grad. Saved tensors are released afterwards, so a second
     * backward through the same graph is an error (as in PyTorch without retain_graph).
     *
     * <p>Nodes wait in a queue ordered by tape position, latest first: a node is queued when the first gradient
     * reaches it, and since all its consumers come later on the tape, it is replayed only after every one of them
     * has added its contribution. Each node carries its own pending gradient, so the pass needs no maps, and the
     * queue is reused from one pass to the next: a steady-state backward allocates nothing of its own.
     */
    static void backward(Variable root, Tensor seed) {
        if (!seed.sameShape(root.value())) {
            throw new ShapeException("backward: gradient of shape " + Shapes.str(seed.shape())
                    + " does not match the output's shape " + Shapes.str(root.value().shape()));
        }
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward: the output does not require grad (no input of the ops that "
                    + "made it requires grad, or it was computed inside Tape.noGrad())");
        }
        if (root.node() == null) {
            root.accumulateGrad(seed);
            return;
        }
        Queue queue = Queue.acquire();
        try {
            accumulatePending(queue, root.node(), seed);
            while (!queue.isEmpty()) {
                Node node = queue.pop();
                Tensor g = node.pendingGrad;
                node.pendingGrad = null;
                node.pendingIsOwnSum = false;   // the backward may hand g itself on to its inputs
                if (node.released()) {
                    throw new IllegalStateException("backward: the graph through '" + node.op + "' was already "
                            + "differentiated and its saved tensors freed; run the forward pass again");
                }
                Tensor[] inputGrads = queue.grads(node.inputs.length);
                node.backward.apply(g, node.inputs, inputGrads);
                node.backward = null;
                for (int i = 0; i < node.inputs.length; i++) {
                    Variable input = node.inputs[i];
                    Tensor gi = inputGrads[i];
                    inputGrads[i] = null;   // the array is the next node's; it must not keep this gradient alive
                    if (gi == null || !input.requiresGrad()) {
                        continue;
                    }
                    if (input.node() == null) {
                        input.accumulateGrad(gi);
                    } else {
                        accumulatePending(queue, input.node(), gi);
                    }
                }
            }
        } finally {
            queue.release();
        }
    }

    /**
     * Adds gradient {@code g} to what is pending for {@code node}, queueing the node on its first contribution.
     * The first contribution is kept as it is (it may be shared, e.g. by both inputs of an add); the second makes
     * a new sum, and the later ones add into that sum in place instead of allocating another, with the same
     * values (prev + g, elementwise) either way.
     */
    private static void accumulatePending(Queue queue, Node node, Tensor g) {
        Tensor prev = node.pendingGrad;
        if (prev == null) {
            node.pendingGrad = g;
            if (!node.queued) {
                queue.push(node);
            }
        } else if (node.pendingIsOwnSum && g.isContiguous() && g.dtype() == prev.dtype() && g.sameShape(prev)) {
            addInPlace(prev, g);
        } else {
            node.pendingGrad = Binary.add(prev, g);
            node.pendingIsOwnSum = true;
        }
    }

    /** sum += g for a contiguous sum and a g of the same shape and dtype (g may be a strided view). */
    static void addInPlace(Tensor sum, Tensor g) {
        if (!g.isContiguous()) {
            sum.copyFrom(Binary.add(sum, g));
            return;
        }
        int n = sum.numel();
        if (sum.dtype() == DType.F32) {
            ElementwiseF32.add(sum.f32Data(), sum.offset(), 1, g.f32Data(), g.offset(), 1, sum.f32Data(), sum.offset(), n);
        } else {
            double[] s = sum.f64Data();
            double[] d = g.f64Data();
            for (int i = 0, so = sum.offset(), go = g.offset(); i < n; i++) {
                s[so + i] += d[go + i];
            }
        }
    }

    /**
     * The nodes a backward pass has yet to replay, latest tape position first (a binary max-heap on position).
     * Each thread keeps one and reuses it, so its array grows to the widest frontier once and is not reallocated.
     */
    private static final class Queue {
        private static final ThreadLocal<Queue> OF_THREAD = ThreadLocal.withInitial(Queue::new);

        private Node[] heap = new Node[64];
        private int size;
        private boolean inUse;
        /** The array every node of the pass writes its input gradients into; all null between nodes. */
        private Tensor[] grads = new Tensor[4];

        /** This thread's queue, or a fresh one if it is already in use (a backward started inside a backward). */
        static Queue acquire() {
            Queue q = OF_THREAD.get();
            if (q.inUse) {
                q = new Queue();
            }
            q.inUse = true;
            return q;
        }

        /** Ends a pass. After an error some nodes are still queued: they are unmarked so a later pass sees them. */
        void release() {
            while (size > 0) {
                Node n = pop();
                n.pendingGrad = null;
                n.pendingIsOwnSum = false;
            }
            Arrays.fill(grads, null);   // a backward that threw may have left gradients in it
            inUse = false;
        }

        boolean isEmpty() {
            return size == 0;
        }

        /** The gradients array, all null, with room for {@code inputs} entries. */
        Tensor[] grads(int inputs) {
            if (grads.length < inputs) {
                grads = new Tensor[inputs];
            }
            return grads;
        }

        void push(Node node) {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            node.queued = true;
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent].position >= node.position) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = node;
        }

        /** Removes and returns the queued node with the latest position. */
        Node pop() {
            Node top = heap[0];
            Node last = heap[--size];
            heap[size] = null;   // the queue must not keep a finished graph alive
            if (size > 0) {
                int i = 0;
                while (true) {
                    int child = 2 * i + 1;
                    if (child >= size) {
                        break;
                    }
                    if (child + 1 < size && heap[child + 1].position > heap[child].position) {
                        child++;
                    }
                    if (heap[child].position <= last.position) {
                        break;
                    }
                    heap[i] = heap[child];
                    i = child;
                }
                heap[i] = last;
            }
            top.queued = false;
            return top;
        }
    }
}
