package dev.jgrad.models.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Four micro-batches of 2 accumulate the same gradient as one batch of 8. */
class GradAccumulationTest {
    private static Variable loss(Variable w, Tensor x, Tensor y) {
        return Variable.constant(x).matmul(w).sub(Variable.constant(y)).pow(2).mean();
    }

    /** Returns {gradient of the full batch, accumulated gradient, full loss, accumulated loss}. */
    private static double[][] compare(Tensor x, Tensor y, Tensor w0) {
        Variable w = Variable.param(w0.copy());
        Variable full = loss(w, x, y);
        full.backward();
        double[] fullGrad = w.grad().toDoubleArray();

        w.zeroGrad();
        double accumulatedLoss = GradAccumulation.accumulate(4,
                k -> loss(w, x.narrow(0, 2 * k, 2), y.narrow(0, 2 * k, 2)));
        return new double[][] {fullGrad, w.grad().toDoubleArray(), {full.item()}, {accumulatedLoss}};
    }

    @Test
    void exactWhenNoArithmeticRounds() {
        // Small integers and powers of two: every product and sum is exact in double, so any summation order
        // gives the same bits and equality must be exact.
        double[] xs = new double[8 * 3];
        double[] ys = new double[8 * 2];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (i * 7 % 11) - 5;
        }
        for (int i = 0; i < ys.length; i++) {
            ys[i] = (i * 5 % 7) - 3;
        }
        Tensor w0 = Tensor.of(new double[] {0.5, -0.25, 1, 0.75, -1, 0.125}, 3, 2);
        double[][] r = compare(Tensor.of(xs, 8, 3), Tensor.of(ys, 8, 2), w0);
        assertArrayEquals(r[0], r[1], 0.0);
        assertEquals(r[2][0], r[3][0], 0.0);
    }

    @Test
    void randomDataAgreesToRounding() {
        Rng rng = new Rng(11);
        for (DType dtype : DType.values()) {
            Tensor x = Tensor.randn(dtype, rng, 8, 3);
            Tensor y = Tensor.randn(dtype, rng, 8, 2);
            Tensor w0 = Tensor.randn(dtype, rng, 3, 2);
            double[][] r = compare(x, y, w0);
            double tol = dtype == DType.F64 ? 1e-14 : 1e-5;   // only the summation order differs
            assertArrayEquals(r[0], r[1], tol, dtype.toString());
            assertEquals(r[2][0], r[3][0], tol, dtype.toString());
        }
    }

    @Test
    void rejectsZeroMicroBatches() {
        assertThrows(IllegalArgumentException.class, () -> GradAccumulation.accumulate(0, k -> null));
    }
}
