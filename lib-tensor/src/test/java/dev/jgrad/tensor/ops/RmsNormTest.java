package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RmsNormTest {
    private static final double EPS = 1e-6;

    private static Tensor f64(Tensor t) {
        return t == null ? null : t.to(DType.F64);
    }

    @Test
    void matchesTorchFormulaWithAndWithoutWeight() {
        var cases = Fixtures.load("structural");
        for (String name : new String[] {"rms_norm_weight", "rms_norm_plain"}) {
            Map<String, Tensor> c = cases.get(name);
            for (DType dtype : DType.values()) {
                Tensor x = c.get("x").to(dtype);
                Tensor w = c.containsKey("w") ? c.get("w").to(dtype) : null;
                var fwd = RmsNorm.forward(x, w, EPS);
                var grads = RmsNorm.backward(c.get("g").to(dtype), x, w, fwd.rstd());
                double rtol = dtype == DType.F64 ? 1e-6 : 1e-4;
                double atol = dtype == DType.F64 ? 1e-12 : 1e-5;
                String what = name + " " + dtype;
                assertNear(c.get("out"), f64(fwd.out()), rtol, atol, what + " out");
                assertNear(c.get("rstd"), f64(fwd.rstd()), rtol, atol, what + " rstd");
                assertNear(c.get("dx"), f64(grads.x()), rtol, atol, what + " dx");
                if (w != null) {
                    assertNear(c.get("dw"), f64(grads.weight()), rtol, atol, what + " dweight");
                } else {
                    assertNull(grads.weight());
                }
            }
        }
    }

    @Test
    void float32MatchesFloat64ForOddRowLengths() {
        Rng rng = new Rng(31);
        for (int d : new int[] {1, 3, 15, 17, 33, 127, 1025}) {
            Tensor x = SoftmaxTest.scaled(Tensor.randn(rng, 6, d), 2);
            Tensor w = Tensor.randn(rng, d);
            Tensor g = Tensor.randn(rng, 6, d);
            var f32 = RmsNorm.forward(x, w, EPS);
            var f64 = RmsNorm.forward(f64(x), f64(w), EPS);
            String what = "d=" + d;
            // A float sum of d squares, then O(1) outputs: errors of a few 1e-6 relative.
            assertNear(f64.out(), f64(f32.out()), 1e-5, 1e-5, what + " out");
            assertNear(f64.rstd(), f64(f32.rstd()), 1e-5, 0, what + " rstd");
            var g32 = RmsNorm.backward(g, x, w, f32.rstd());
            var g64 = RmsNorm.backward(f64(g), f64(x), f64(w), f64.rstd());
            assertNear(g64.x(), f64(g32.x()), 1e-4, 1e-4, what + " dx");
            assertNear(g64.weight(), f64(g32.weight()), 1e-4, 1e-4, what + " dweight");
        }
    }

    @Test
    void nonContiguousInputsGiveTheSameResultAsTheirContiguousCopies() {
        Rng rng = new Rng(6);
        Tensor x = Tensor.randn(rng, 17, 5).t();
        Tensor w = Tensor.randn(rng, 34).slice(0, 1, 34, 2);
        Tensor g = Tensor.randn(rng, 5, 1).expand(5, 17);
        var strided = RmsNorm.forward(x, w, EPS);
        var copied = RmsNorm.forward(x.copy(), w.copy(), EPS);
        assertArrayEquals(copied.out().toFloatArray(), strided.out().toFloatArray());
        var gs = RmsNorm.backward(g, x, w, strided.rstd());
        var gc = RmsNorm.backward(g.copy(), x.copy(), w.copy(), copied.rstd());
        assertArrayEquals(gc.x().toFloatArray(), gs.x().toFloatArray());
        assertArrayEquals(gc.weight().toFloatArray(), gs.weight().toFloatArray());
    }

    @Test
    void weightGradientIsBitIdenticalForAnyThreadCount() {
        Rng rng = new Rng(17);
        Tensor x = Tensor.randn(rng, 300, 257);
        Tensor w = Tensor.randn(rng, 257);
        Tensor g = Tensor.randn(rng, 300, 257);
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            var one = RmsNorm.backward(g, x, w, RmsNorm.forward(x, w, EPS).rstd());
            Parallel.setThreads(3);
            var three = RmsNorm.backward(g, x, w, RmsNorm.forward(x, w, EPS).rstd());
            assertArrayEquals(one.x().toFloatArray(), three.x().toFloatArray());
            assertArrayEquals(one.weight().toFloatArray(), three.weight().toFloatArray());
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void badArgumentsAreReportedWithTheOpAndShapes() {
        Tensor x = Tensor.zeros(2, 4);
        var w = assertThrows(ShapeException.class, () -> RmsNorm.forward(x, Tensor.zeros(4, 1), EPS));
        assertTrue(w.getMessage().contains("RmsNorm.forward") && w.getMessage().contains("[4, 1]"), w.getMessage());
        var r = assertThrows(ShapeException.class, () -> RmsNorm.backward(x, x, null, Tensor.zeros(4)));
        assertTrue(r.getMessage().contains("RmsNorm.backward") && r.getMessage().contains("rstd"), r.getMessage());
        var g = assertThrows(ShapeException.class,
                () -> RmsNorm.backward(Tensor.zeros(4, 2), x, null, Tensor.zeros(2)));
        assertTrue(g.getMessage().contains("[4, 2]") && g.getMessage().contains("[2, 4]"), g.getMessage());
    }
}
