package dev.jgrad.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;

class TapeTest {

    @Test
    void handComputedGradientsOfASmallExpression() {
        // f(a, b) = sum(a * b + a^2): df/da = b + 2a, df/db = a.
        Variable a = Variable.param(Tensor.of(new double[] {1, -2, 3}));
        Variable b = Variable.param(Tensor.of(new double[] {4, 5, -6}));
        a.mul(b).add(a.pow(2)).sum().backward();
        assertArrayEquals(new double[] {6, 1, 0}, a.grad().toDoubleArray());
        assertArrayEquals(new double[] {1, -2, 3}, b.grad().toDoubleArray());
    }

    @Test
    void aVariableUsedTwiceGetsBothContributions() {
        Variable x = Variable.param(Tensor.of(new double[] {2.0}));
        Variable y = x.mul(x).add(x); // dy/dx = 2x + 1 = 5
        y.sum().backward();
        assertEquals(5.0, x.grad().item(), 0);
    }

    @Test
    void gradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        Variable w = Variable.param(Tensor.of(new double[] {1, 2}));
        w.mul(3).sum().backward();
        w.mul(3).sum().backward();
        assertArrayEquals(new double[] {6, 6}, w.grad().toDoubleArray());
        w.zeroGrad();
        assertNull(w.grad());
        w.sum().backward();
        assertArrayEquals(new double[] {1, 1}, w.grad().toDoubleArray());
    }

    @Test
    void broadcastGradientIsSummedBackToTheInputShape() {
        Variable bias = Variable.param(Tensor.zeros(DType.F64, 3));
        Variable x = Variable.constant(Tensor.ones(DType.F64, 4, 3));
        x.add(bias).sum().backward();
        assertArrayEquals(new double[] {4, 4, 4}, bias.grad().toDoubleArray());
    }

    @Test
    void viewGradientsLandInTheRightPlaces() {
        Variable x = Variable.param(Tensor.arange(DType.F64, 0, 6, 1).reshape(2, 3));
        x.t().select(0, 2).mul(10).sum().backward(); // picks column 2: x[0,2], x[1,2]
        assertArrayEquals(new double[] {0, 0, 10, 0, 0, 10}, x.grad().toDoubleArray());
    }

    @Test
    void noGradRecordsNothingAndRestoresRecording() {
        Variable w = Variable.param(Tensor.ones(2));
        Variable y;
        try (var ignored = Tape.noGrad()) {
            assertFalse(Tape.isRecording());
            y = w.mul(2);
        }
        assertTrue(Tape.isRecording());
        assertFalse(y.requiresGrad());
        assertTrue(y.isLeaf());
        var e = assertThrows(IllegalStateException.class, () -> y.sum().backward());
        assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
        assertTrue(w.mul(2).requiresGrad());
    }

    @Test
    void constantsGetNoGradientAndDetachCutsTheTape() {
        Variable w = Variable.param(Tensor.of(new double[] {3}));
        Variable c = Variable.constant(Tensor.of(new double[] {5}));
        w.mul(c).add(w.detach().mul(w)).sum().backward(); // d/dw = c + w(detached) = 8
        assertEquals(8.0, w.grad().item(), 0);
        assertNull(c.grad());
    }

    @Test
    void secondBackwardThroughAFreedGraphIsAClearError() {
        Variable w = Variable.param(Tensor.of(new double[] {1, 2}));
        Variable loss = w.exp().sum();
        loss.backward();
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("already differentiated"), e.getMessage());
    }

    @Test
    void contributionsAreSummedInReverseTapeOrder() {
        // Three contributions whose float sum depends on the order: (1e8 + -1e8) + 1 = 1, but (1 + -1e8) + 1e8 = 0.
        // The one recorded last arrives first, into a leaf and into an intermediate alike.
        Variable leaf = Variable.param(Tensor.ones(1));
        leaf.mul(1).add(leaf.mul(-1e8)).add(leaf.mul(1e8)).sum().backward();
        assertEquals(1.0f, leaf.grad().toFloatArray()[0]);

        Variable x = Variable.param(Tensor.ones(1));
        Variable hidden = x.mul(1);
        hidden.mul(1).add(hidden.mul(-1e8)).add(hidden.mul(1e8)).sum().backward();
        assertEquals(1.0f, x.grad().toFloatArray()[0]);
    }

    @Test
    void aFailedBackwardLeavesNoPendingGradientBehind() {
        Variable w = Variable.param(Tensor.of(new double[] {1, 2}));
        Variable early = w.mul(1);   // recorded before exp, so still queued when the pass below fails at exp
        Variable e = w.exp();
        e.sum().backward();          // frees exp's saved tensors
        w.zeroGrad();
        Variable loss = e.mul(2).add(early.mul(3)).sum();
        var failure = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(failure.getMessage().contains("'exp'"), failure.getMessage());
        // The node of 'early' was never replayed: a new pass through it sees only its own gradient.
        w.zeroGrad();
        early.sum().backward();
        assertArrayEquals(new double[] {1, 1}, w.grad().toDoubleArray());
    }

    @Test
    void backwardNeedsAScalarOrAnExplicitGradient() {
        Variable w = Variable.param(Tensor.ones(2, 2));
        Variable y = w.mul(3);
        var e = assertThrows(ShapeException.class, y::backward);
        assertTrue(e.getMessage().contains("[2, 2]"), e.getMessage());
        y.backward(Tensor.full(2.0, 2, 2));
        assertArrayEquals(new float[] {6, 6, 6, 6}, w.grad().toFloatArray());
    }

    @Test
    void gradDoesNotAliasTensorsOfTheGraph() {
        Variable w = Variable.param(Tensor.ones(DType.F64, 3));
        Tensor upstream = Tensor.full(DType.F64, 2.0, 3);
        Variable y = w.add(0.0);
        y.backward(upstream);
        w.grad().fill(0);
        assertArrayEquals(new double[] {2, 2, 2}, upstream.toDoubleArray());
    }

    @Test
    void aDroppedGraphIsCollected() throws InterruptedException {
        Variable w = Variable.param(Tensor.randn(DType.F64, new dev.jgrad.tensor.Rng(1), 64, 64));
        WeakReference<Variable> intermediate = stepAndForget(w);
        for (int i = 0; i < 50 && intermediate.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertNull(intermediate.get(), "a finished step's intermediate values are still reachable");
    }

    private static WeakReference<Variable> stepAndForget(Variable w) {
        Variable hidden = w.matmul(w).tanh();
        hidden.mean().backward();
        return new WeakReference<>(hidden);
    }
}
