package dev.jgrad.autograd;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.ElementwiseF32;
import dev.jgrad.tensor.ops.Binary;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    /** The backward kernel of one recorded op: upstream gradient in, one gradient per input out (null = none). */
    @FunctionalInterface
    interface Backward {
        Tensor[] apply(Tensor gradOutput);
    }

    /** One entry on the tape. */
    static final class Node {
        final String op;
        final long position;
        final Variable[] inputs;
        private Backward backward;

        Node(String op, Variable[] inputs, Backward backward) {
            this.op = op;
            this.position = POSITION.getAndIncrement();
            this.inputs = inputs;
            this.backward = backward;
        }

        boolean released() {
            return backward == null;
        }
    }

    /**
     * Replays the tape in reverse from {@code root}, seeded with {@code seed} (d root / d root), accumulating
     * into the {@code grad} of every leaf that requires grad. Saved tensors are released afterwards, so a second
     * backward through the same graph is an error (as in PyTorch without retain_graph).
     */
    static void backward(Variable root, Tensor seed) {
        if (!Arrays.equals(seed.shape(), root.value().shape())) {
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
        List<Node> nodes = reachable(root.node());
        nodes.sort(Comparator.comparingLong((Node n) -> n.position).reversed());
        Map<Node, Tensor> pending = new IdentityHashMap<>();
        // Sums this loop allocated and nothing else has seen yet: later contributions are added into them in place.
        Set<Tensor> ownSums = Collections.newSetFromMap(new IdentityHashMap<>());
        pending.put(root.node(), seed);
        for (Node node : nodes) {
            Tensor g = pending.remove(node);
            ownSums.remove(g);   // the backward may hand g itself on to its inputs
            if (g == null) {
                continue; // no path from the root carries gradient into this node
            }
            if (node.released()) {
                throw new IllegalStateException("backward: the graph through '" + node.op + "' was already "
                        + "differentiated and its saved tensors freed; run the forward pass again");
            }
            Tensor[] inputGrads = node.backward.apply(g);
            node.backward = null;
            for (int i = 0; i < node.inputs.length; i++) {
                Variable input = node.inputs[i];
                Tensor gi = inputGrads[i];
                if (gi == null || !input.requiresGrad()) {
                    continue;
                }
                if (input.node() == null) {
                    input.accumulateGrad(gi);
                } else {
                    accumulatePending(pending, ownSums, input.node(), gi);
                }
            }
        }
    }

    /**
     * Adds gradient {@code g} to what is pending for {@code node}. The first contribution is kept as it is (it may
     * be shared, e.g. by both inputs of an add); the second makes a new sum, and the later ones add into that sum
     * in place instead of allocating another, with the same values (prev + g, elementwise) either way.
     */
    private static void accumulatePending(Map<Node, Tensor> pending, Set<Tensor> ownSums, Node node, Tensor g) {
        Tensor prev = pending.get(node);
        if (prev == null) {
            pending.put(node, g);
        } else if (ownSums.contains(prev) && g.isContiguous() && g.dtype() == prev.dtype()
                && Arrays.equals(g.shape(), prev.shape())) {
            addInPlace(prev, g);
        } else {
            Tensor sum = Binary.add(prev, g);
            pending.put(node, sum);
            ownSums.add(sum);
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

    private static List<Node> reachable(Node root) {
        List<Node> out = new ArrayList<>();
        Map<Node, Boolean> seen = new IdentityHashMap<>();
        ArrayDeque<Node> stack = new ArrayDeque<>();
        stack.push(root);
        seen.put(root, Boolean.TRUE);
        while (!stack.isEmpty()) {
            Node n = stack.pop();
            out.add(n);
            for (Variable in : n.inputs) {
                Node p = in.node();
                if (p != null && in.requiresGrad() && seen.put(p, Boolean.TRUE) == null) {
                    stack.push(p);
                }
            }
        }
        return out;
    }
}
