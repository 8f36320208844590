package dev.jgrad.models.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GradClipTest {
    /** Gradients (3, 4) and (12, 0): norms 5 and 12, global norm 13. */
    private static Map<String, Variable> params(DType dtype) {
        Map<String, Variable> ps = new LinkedHashMap<>();
        Variable a = Variable.param(Tensor.zeros(dtype, 2));
        a.setGrad(Tensor.of(new double[] {3, 4}).to(dtype));
        Variable b = Variable.param(Tensor.zeros(dtype, 1, 2));
        b.setGrad(Tensor.of(new double[] {12, 0}, 1, 2).to(dtype));
        ps.put("a", a);
        ps.put("b", b);
        ps.put("unused", Variable.param(Tensor.zeros(dtype, 3)));
        return ps;
    }

    @Test
    void normsPerParameterAndGlobal() {
        for (DType dtype : DType.values()) {
            Map<String, Variable> ps = params(dtype);
            assertEquals(13.0, GradClip.globalNorm(ps.values()));
            Map<String, Double> norms = GradClip.norms(ps);
            assertEquals(5.0, norms.get("a"));
            assertEquals(12.0, norms.get("b"));
            assertTrue(norms.get("unused").isNaN());
        }
    }

    @Test
    void clipsOnlyAboveTheThresholdAndReturnsTheNormBefore() {
        for (DType dtype : DType.values()) {
            Map<String, Variable> ps = params(dtype);
            assertEquals(13.0, GradClip.clipGlobalNorm(ps.values(), 20.0));
            assertArrayEquals(new double[] {3, 4}, ps.get("a").grad().toDoubleArray());

            assertEquals(13.0, GradClip.clipGlobalNorm(ps.values(), 1.0));
            double scale = 1.0 / (13.0 + 1e-6);                // torch: max_norm / (total_norm + 1e-6)
            double tol = dtype == DType.F64 ? 0 : 1e-7;
            assertArrayEquals(new double[] {3 * scale, 4 * scale}, ps.get("a").grad().toDoubleArray(), tol);
            assertArrayEquals(new double[] {12 * scale, 0}, ps.get("b").grad().toDoubleArray(), tol);
            assertEquals(1.0, GradClip.globalNorm(ps.values()), 1e-6);
        }
    }

    @Test
    void tiedParametersCountOnce() {
        Variable shared = Variable.param(Tensor.zeros(DType.F64, 2));
        shared.setGrad(Tensor.of(new double[] {3, 4}));
        assertEquals(5.0, GradClip.globalNorm(List.of(shared, shared)));
        GradClip.clipGlobalNorm(List.of(shared, shared), 1.0);
        assertEquals(1.0, GradClip.globalNorm(List.of(shared)), 1e-6);   // scaled once, not twice
    }

    @Test
    void largeGradientsF32MatchF64Accumulation() {
        // Accumulating in double keeps the norm of a million float gradients exact to double rounding.
        Rng rng = new Rng(3);
        Tensor g64 = Tensor.randn(DType.F64, rng, 1000, 1001);
        Tensor g32 = g64.to(DType.F32);
        Variable p = Variable.param(Tensor.zeros(1000, 1001));
        p.setGrad(g32);
        double expected = 0;
        for (double v : g32.toDoubleArray()) {
            expected += v * v;
        }
        assertEquals(Math.sqrt(expected), GradClip.globalNorm(List.of(p)), 0.0);
    }

    @Test
    void errors() {
        Map<String, Variable> ps = params(DType.F32);
        var e = assertThrows(IllegalArgumentException.class, () -> GradClip.clipGlobalNorm(ps.values(), 0));
        assertTrue(e.getMessage().contains("maxNorm"), e.getMessage());
        Variable p = Variable.param(Tensor.zeros(3, 3));
        p.setGrad(Tensor.ones(3, 3).slice(1, 0, 3, 1).t().contiguous().t());
        assertThrows(IllegalArgumentException.class, () -> GradClip.globalNorm(List.of(p)));
    }
}
