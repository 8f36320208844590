package dev.jgrad.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.GradCheck;
import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

class LossesTest {
    @Test
    void mseIsTheMeanOfSquaredDifferences() {
        Variable pred = Variable.param(Tensor.of(new double[] {1, 2, 3, 4}, 2, 2));
        Variable target = Variable.constant(Tensor.of(new double[] {0, 2, 5, 1}, 2, 2));
        Variable loss = Losses.mse(pred, target);
        assertEquals((1 + 0 + 4 + 9) / 4.0, loss.item(), 0);
        loss.backward();
        // d/dpred mean((p - t)^2) = 2 (p - t) / n
        assertTrue(pred.grad().allClose(Tensor.of(new double[] {0.5, 0, -1, 1.5}, 2, 2), 0, 1e-15));
    }

    @Test
    void mseGradCheckBothInputs() {
        Rng rng = new Rng(3);
        var report = GradCheck.check("mse", v -> Losses.mse(v[0], v[1]), Tensor.randn(DType.F64, rng, 3, 5),
                Tensor.randn(DType.F64, rng, 3, 5));
        assertTrue(report.passed(), report.toString());
    }

    @Test
    void mseF32AgreesWithF64() {
        Rng rng = new Rng(5);
        for (int n : new int[] {1, 3, 17, 33, 1000}) {
            Tensor p = Tensor.randn(DType.F64, rng, n);
            Tensor t = Tensor.randn(DType.F64, rng, n);
            double exact = Losses.mse(Variable.constant(p), Variable.constant(t)).item();
            double single = Losses.mse(Variable.constant(p.to(DType.F32)), Variable.constant(t.to(DType.F32))).item();
            assertEquals(exact, single, 1e-5 * Math.max(1, exact), "n = " + n);
        }
    }

    @Test
    void mseRejectsMismatchedShapesAndDtypes() {
        var a = Variable.constant(Tensor.zeros(DType.F64, 4));
        var e = assertThrows(ShapeException.class, () -> Losses.mse(a, Variable.constant(Tensor.zeros(DType.F64, 4, 1))));
        assertTrue(e.getMessage().contains("Losses.mse") && e.getMessage().contains("[4, 1]"), e.getMessage());
        var d = assertThrows(IllegalArgumentException.class, () -> Losses.mse(a, Variable.constant(Tensor.zeros(DType.F32, 4))));
        assertTrue(d.getMessage().contains("F32"), d.getMessage());
    }

    @Test
    void crossEntropyDelegatesToFunctional() {
        Rng rng = new Rng(9);
        Variable logits = Variable.constant(Tensor.randn(DType.F64, rng, 4, 6));
        int[] targets = {0, 5, 2, -1};
        assertEquals(Functional.crossEntropy(logits, targets, -1, 0).item(), Losses.crossEntropy(logits, targets).item(), 0);
        int[] withIgnored = {0, 5, 2, 2};
        assertEquals(Functional.crossEntropy(logits, withIgnored, 2, 0.1).item(),
                Losses.crossEntropy(logits, withIgnored, 2, 0.1).item(), 0);
    }
}
