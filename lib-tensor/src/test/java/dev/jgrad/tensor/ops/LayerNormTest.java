package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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

class LayerNormTest {
    private static final double EPS = 1e-5;

    private static Tensor f64(Tensor t) {
        return t == null ? null : t.to(DType.F64);
    }

    @Test
    void matchesTorchWithAndWithoutAffine() {
        var cases = Fixtures.load("structural");
        for (String name : new String[] {"layer_norm_affine", "layer_norm_plain"}) {
            Map<String, Tensor> c = cases.get(name);
            for (DType dtype : DType.values()) {
                Tensor x = c.get("x").to(dtype);
                Tensor w = c.containsKey("w") ? c.get("w").to(dtype) : null;
                Tensor b = c.containsKey("b") ? c.get("b").to(dtype) : null;
                var fwd = LayerNorm.forward(x, w, b, EPS);
                var grads = LayerNorm.backward(c.get("g").to(dtype), x, w, b, fwd.mean(), fwd.rstd());
                double rtol = dtype == DType.F64 ? 1e-6 : 1e-4;
                double atol = dtype == DType.F64 ? 1e-12 : 1e-5;
                String what = name + " " + dtype;
                assertNear(c.get("out"), f64(fwd.out()), rtol, atol, what + " out");
                assertNear(c.get("mean"), f64(fwd.mean()), rtol, atol, what + " mean");
                assertNear(c.get("rstd"), f64(fwd.rstd()), rtol, atol, what + " rstd");
                assertNear(c.get("dx"), f64(grads.x()), rtol, atol, what + " dx");
                if (w != null) {
                    assertNear(c.get("dw"), f64(grads.weight()), rtol, atol, what + " dweight");
                    assertNear(c.get("db"), f64(grads.bias()), rtol, atol, what + " dbias");
                } else {
                    assertNull(grads.weight());
                    assertNull(grads.bias());
                }
            }
        }
    }

    @Test
    void float32MatchesFloat64ForOddRowLengths() {
        Rng rng = new Rng(21);
        for (int d : new int[] {1, 3, 15, 17, 33, 127, 1025}) {
            // An offset mean (10) makes a one-pass E[x^2] - E[x]^2 variance lose digits; two passes must not.
            Tensor x = SoftmaxTest.scaled(Tensor.randn(rng, 7, d), 3);
            x = Tensor.of(add(x.toFloatArray(), 10f), 7, d);
            Tensor w = Tensor.randn(rng, d);
            Tensor b = Tensor.randn(rng, d);
            Tensor g = Tensor.randn(rng, 7, d);
            var f32 = LayerNorm.forward(x, w, b, EPS);
            var f64 = LayerNorm.forward(f64(x), f64(w), f64(b), EPS);
            String what = "d=" + d;
            // Normalised values are O(1); float sums over d terms give errors of a few 1e-6 relative.
            assertNear(f64.out(), f64(f32.out()), 1e-4, 2e-5, what + " out");
            assertNear(f64.mean(), f64(f32.mean()), 1e-6, 1e-6, what + " mean");
            // d = 1 has variance 0 and rstd = 1/sqrt(eps); otherwise rstd ~ 1/3.
            assertNear(f64.rstd(), f64(f32.rstd()), 1e-4, 1e-6, what + " rstd");
            var g32 = LayerNorm.backward(g, x, w, f32.mean(), f32.rstd());
            var g64 = LayerNorm.backward(f64(g), f64(x), f64(w), f64.mean(), f64.rstd());
            assertNear(g64.x(), f64(g32.x()), 1e-4, 1e-4, what + " dx");
            assertNear(g64.weight(), f64(g32.weight()), 1e-4, 1e-4, what + " dweight");
            assertNear(g64.bias(), f64(g32.bias()), 1e-5, 1e-5, what + " dbias");
        }
    }

    private static float[] add(float[] v, float k) {
        for (int i = 0; i < v.length; i++) {
            v[i] += k;
        }
        return v;
    }

    @Test
    void largeMeanStaysAccurateInFloat() {
        Tensor x = Tensor.of(add(Tensor.randn(new Rng(4), 3, 1025).toFloatArray(), 1000f), 3, 1025);
        var f32 = LayerNorm.forward(x, null, null, EPS);
        var f64 = LayerNorm.forward(f64(x), null, null, EPS);
        // float spacing at 1000 is 6e-5, so the mean is only good to ~1e-4 and the normalised values follow.
        assertNear(f64.out(), f64(f32.out()), 0, 1e-3, "out");
        assertNear(f64.rstd(), f64(f32.rstd()), 1e-4, 0, "rstd");
    }

    @Test
    void normalisedRowsHaveZeroMeanAndUnitVariance() {
        Tensor y = LayerNorm.forward(Tensor.randn(DType.F64, new Rng(2), 4, 33), null, null, 0).out();
        for (int r = 0; r < 4; r++) {
            double sum = 0;
            double sq = 0;
            for (int i = 0; i < 33; i++) {
                sum += y.get(r, i);
                sq += y.get(r, i) * y.get(r, i);
            }
            assertEquals(0, sum / 33, 1e-12);
            assertEquals(1, sq / 33, 1e-12);
        }
    }

    @Test
    void nonContiguousInputsGiveTheSameResultAsTheirContiguousCopies() {
        Rng rng = new Rng(8);
        Tensor x = Tensor.randn(rng, 19, 6).t();          // [6, 19] transposed
        Tensor w = Tensor.randn(rng, 38).slice(0, 0, 38, 2); // [19] with stride 2
        Tensor b = Tensor.randn(rng, 1).expand(19);         // [19] broadcast
        Tensor g = Tensor.randn(rng, 19, 6).t();
        var strided = LayerNorm.forward(x, w, b, EPS);
        var copied = LayerNorm.forward(x.copy(), w.copy(), b.copy(), EPS);
        assertArrayEquals(copied.out().toFloatArray(), strided.out().toFloatArray());
        var gs = LayerNorm.backward(g, x, w, strided.mean(), strided.rstd());
        var gc = LayerNorm.backward(g.copy(), x.copy(), w.copy(), copied.mean(), copied.rstd());
        assertArrayEquals(gc.x().toFloatArray(), gs.x().toFloatArray());
        assertArrayEquals(gc.weight().toFloatArray(), gs.weight().toFloatArray());
        assertArrayEquals(gc.bias().toFloatArray(), gs.bias().toFloatArray());
    }

    @Test
    void parameterGradientsAreBitIdenticalForAnyThreadCount() {
        Rng rng = new Rng(13);
        Tensor x = Tensor.randn(rng, 260, 301);
        Tensor w = Tensor.randn(rng, 301);
        Tensor g = Tensor.randn(rng, 260, 301);
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            var fwd = LayerNorm.forward(x, w, null, EPS);
            var one = LayerNorm.backward(g, x, w, fwd.mean(), fwd.rstd());
            Parallel.setThreads(3);
            var fwd3 = LayerNorm.forward(x, w, null, EPS);
            var three = LayerNorm.backward(g, x, w, fwd3.mean(), fwd3.rstd());
            assertArrayEquals(fwd.out().toFloatArray(), fwd3.out().toFloatArray());
            assertArrayEquals(one.x().toFloatArray(), three.x().toFloatArray());
            assertArrayEquals(one.weight().toFloatArray(), three.weight().toFloatArray());
            assertArrayEquals(one.bias().toFloatArray(), three.bias().toFloatArray());
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void biasGradientFollowsTheBiasArgument() {
        Tensor x = Tensor.randn(new Rng(1), 2, 5);
        var fwd = LayerNorm.forward(x, null, null, EPS);
        Tensor g = Tensor.ones(2, 5);
        assertNull(LayerNorm.backward(g, x, null, null, fwd.mean(), fwd.rstd()).bias());
        Tensor db = LayerNorm.backward(g, x, null, fwd.mean(), fwd.rstd()).bias();
        assertNotNull(db);
        assertArrayEquals(new float[] {2, 2, 2, 2, 2}, db.toFloatArray());
    }

    @Test
    void badArgumentsAreReportedWithTheOpAndShapes() {
        Tensor x = Tensor.zeros(2, 4);
        var w = assertThrows(ShapeException.class, () -> LayerNorm.forward(x, Tensor.zeros(3), null, EPS));
        assertTrue(w.getMessage().contains("LayerNorm.forward") && w.getMessage().contains("weight")
                && w.getMessage().contains("[4]") && w.getMessage().contains("[3]"), w.getMessage());
        var t = assertThrows(IllegalArgumentException.class,
                () -> LayerNorm.forward(x, null, Tensor.zeros(DType.F64, 4), EPS));
        assertTrue(t.getMessage().contains("bias") && t.getMessage().contains("F64"), t.getMessage());
        var m = assertThrows(ShapeException.class,
                () -> LayerNorm.backward(x, x, null, Tensor.zeros(4), Tensor.zeros(2)));
        assertTrue(m.getMessage().contains("LayerNorm.backward") && m.getMessage().contains("mean")
                && m.getMessage().contains("[2]"), m.getMessage());
        var e = assertThrows(ShapeException.class, () -> LayerNorm.forward(Tensor.zeros(3, 0), null, null, EPS));
        assertTrue(e.getMessage().contains("[3, 0]"), e.getMessage());
    }
}
