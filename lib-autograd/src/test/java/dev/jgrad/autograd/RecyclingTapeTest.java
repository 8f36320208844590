package dev.jgrad.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The tape in a recycling {@link Workspace} scope, where each step's op results and tape nodes are the previous
 * step's objects: the results are those of a plain scope and of no scope, bit for bit, however the steps differ,
 * and the tape's rules (a graph is differentiated once) still hold.
 */
class RecyclingTapeTest {
    private static final int VOCAB = 13;
    private static final int WIDTH = 8;

    /** Parameters of a small network: an embedding, a layer norm, two linear layers with biases. */
    private record Net(Variable embedding, Variable normWeight, Variable normBias, Variable w1, Variable b1,
                       Variable w2, Variable b2) {
        static Net create() {
            Rng rng = new Rng(11);
            return new Net(param(rng, VOCAB, WIDTH), Variable.param(Tensor.ones(WIDTH)), param(rng, WIDTH),
                    param(rng, 2 * WIDTH, WIDTH), param(rng, 2 * WIDTH), param(rng, VOCAB, WIDTH + 2), param(rng, VOCAB));
        }

        private static Variable param(Rng rng, int... shape) {
            return Variable.param(Tensor.randn(DType.F32, rng, shape).mul(0.3));
        }

        List<Variable> all() {
            return List.of(embedding, normWeight, normBias, w1, b1, w2, b2);
        }

        /**
         * Mean cross-entropy of predicting {@code targets} from {@code ids} [rows, time]: embedding, (layer norm),
         * a GELU MLP with a residual connection, logits, loss; {@code withNorm} changes the op order.
         */
        Variable loss(int[] ids, int[] targets, int rows, int time, boolean withNorm) {
            Variable x = Variable.embedding(embedding, ids, rows, time);                 // [rows, time, WIDTH]
            Variable h = withNorm ? Variable.layerNorm(x, normWeight, normBias, 1e-5) : x;
            Variable hidden = Variable.linear(h, w1, b1).gelu().mul(0.5);               // [rows, time, 2 WIDTH]
            Variable back = hidden.narrow(2, 0, WIDTH).transpose(0, 1).transpose(0, 1);  // views of the step's tensors
            Variable logits = Variable.linear(x.add(back), w2.narrow(1, 1, WIDTH), b2);  // a view of a parameter
            return Variable.crossEntropy(logits.reshape(rows * time, VOCAB), targets, -1, 0.0);
        }
    }

    private enum Mode { NONE, PLAIN, RECYCLING }

    private static <T> T inStep(Mode mode, Supplier<T> body) {
        Workspace scope = switch (mode) {
            case NONE -> null;
            case PLAIN -> Workspace.open();
            case RECYCLING -> Workspace.openRecycling();
        };
        try {
            return body.get();
        } finally {
            if (scope != null) {
                scope.close();
            }
        }
    }

    private static int[] tokens(Rng rng, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (int) Math.floorMod(rng.nextLong(), VOCAB);
        }
        return t;
    }

    /**
     * Steps that differ from each other (batch shapes, op order, evaluation under noGrad, a step that skips
     * backward), each training step followed by an SGD update outside the scope; returns every loss and gradient.
     */
    private static List<float[]> run(Mode mode) {
        Net net = Net.create();
        Rng rng = new Rng(3);
        List<float[]> trace = new ArrayList<>();
        record Shape(int rows, int time, boolean withNorm, boolean train) {}
        List<Shape> steps = List.of(new Shape(3, 5, true, true), new Shape(3, 5, true, true),
                new Shape(2, 4, true, false), new Shape(3, 5, true, true), new Shape(4, 2, false, true),
                new Shape(3, 5, true, true), new Shape(1, 7, true, true), new Shape(3, 5, true, true));
        for (Shape s : steps) {
            int[] ids = tokens(rng, s.rows * s.time);
            int[] targets = tokens(rng, s.rows * s.time);
            if (!s.train) {
                trace.add(new float[] {inStep(mode, () -> Tape.noGrad(() ->
                        (float) net.loss(ids, targets, s.rows, s.time, s.withNorm).item()))});
                continue;
            }
            net.all().forEach(Variable::recycleGrad);
            trace.add(new float[] {inStep(mode, () -> {
                Variable loss = net.loss(ids, targets, s.rows, s.time, s.withNorm);
                loss.backward();
                return (float) loss.item();
            })});
            for (Variable p : net.all()) {
                if (p.grad() != null) {
                    trace.add(p.grad().toFloatArray());
                    p.value().copyFrom(p.value().sub(p.grad().mul(0.5)));
                }
            }
        }
        return trace;
    }

    @Test
    void stepsThatDifferGiveThePlainScopesResultsBitForBit() {
        List<float[]> none = run(Mode.NONE);
        for (Mode mode : List.of(Mode.PLAIN, Mode.RECYCLING, Mode.RECYCLING)) {   // the second run reuses objects
            List<float[]> trace = run(mode);
            assertEquals(none.size(), trace.size());
            for (int i = 0; i < none.size(); i++) {
                assertArrayEquals(none.get(i), trace.get(i), mode + ": entry " + i);
            }
        }
    }

    @Test
    void opResultsAndTapeNodesAreThePreviousStepsObjects() {
        Variable w = Variable.param(Tensor.of(new float[] {1, 2, 3}));
        List<Variable> first = new ArrayList<>();
        List<Variable> second = new ArrayList<>();
        for (List<Variable> made : List.of(first, second)) {
            try (var scope = Workspace.openRecycling()) {
                Variable doubled = w.mul(2.0);
                Variable loss = doubled.exp().sum();
                made.addAll(List.of(doubled, loss));
                loss.backward();
                assertEquals("sum", loss.op());
            }
        }
        assertSame(first.get(0), second.get(0));
        assertSame(first.get(1), second.get(1));
        assertSame(first.get(1).node(), second.get(1).node());
        try (var scope = Workspace.open()) {   // a plain scope makes new ones
            assertNotSame(first.get(1), w.mul(2.0).exp().sum());
        }
        try (var scope = Workspace.openRecycling()) {   // fewer ops than before, and a constant where a node was
            Variable c = Tape.noGrad(() -> w.mul(2.0));
            assertSame(first.get(0), c);
            assertTrue(c.isLeaf());
            assertEquals(null, c.op());
        }
    }

    @Test
    void aSecondBackwardThroughAReleasedGraphIsStillAnError() {
        Variable w = Variable.param(Tensor.of(new double[] {1, 2}));
        for (int step = 0; step < 3; step++) {
            w.zeroGrad();
            try (var scope = Workspace.openRecycling()) {
                Variable loss = w.exp().sum();
                loss.backward();   // the node reissued from the step before was released there: now it is not
                assertArrayEquals(new double[] {Math.exp(1), Math.exp(2)}, w.grad().toDoubleArray(), 1e-12);
                var e = assertThrows(IllegalStateException.class, loss::backward);
                assertTrue(e.getMessage().contains("already differentiated"), e.getMessage());
            }
        }
    }

    @Test
    void aBackwardThatFailedInOneStepLeavesNothingPendingForTheNext() {
        Variable w = Variable.param(Tensor.of(new double[] {1, 2}));
        try (var scope = Workspace.openRecycling()) {
            Variable early = w.mul(1);   // queued when the pass below fails at exp
            Variable e = w.exp();
            e.sum().backward();
            Variable loss = e.mul(2).add(early.mul(3)).sum();
            assertThrows(IllegalStateException.class, loss::backward);
        }
        w.zeroGrad();
        try (var scope = Workspace.openRecycling()) {   // the same objects again, in the same order
            Variable early = w.mul(1);
            Variable e = w.exp();
            e.mul(2).add(early.mul(3)).sum().backward();
        }
        assertArrayEquals(new double[] {3 + 2 * Math.exp(1), 3 + 2 * Math.exp(2)}, w.grad().toDoubleArray(), 1e-12);
    }
}
