package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.BinaryTest.assertClose;
import static dev.jgrad.tensor.ops.BinaryTest.assertSameValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class UnaryTest {
    private static final Map<String, Map<String, Tensor>> FIX = Fixtures.load("elementwise");

    /** An op under test: its forward, and its backward given (g, x, y). */
    private record Op(UnaryOperator<Tensor> forward, TriOp backward, double lo, double hi) {}

    @FunctionalInterface
    private interface TriOp {
        Tensor apply(Tensor g, Tensor x, Tensor y);
    }

    private static final Map<String, Op> OPS = new LinkedHashMap<>();

    static {
        OPS.put("neg", new Op(Unary::neg, (g, x, y) -> Unary.negBackward(g), -5, 5));
        OPS.put("exp", new Op(Unary::exp, (g, x, y) -> Unary.expBackward(g, y), -10, 10));
        OPS.put("log", new Op(Unary::log, (g, x, y) -> Unary.logBackward(g, x), 1e-3, 100));
        OPS.put("sqrt", new Op(Unary::sqrt, (g, x, y) -> Unary.sqrtBackward(g, y), 1e-3, 100));
        OPS.put("abs", new Op(Unary::abs, (g, x, y) -> Unary.absBackward(g, x), -5, 5));
        OPS.put("tanh", new Op(Unary::tanh, (g, x, y) -> Unary.tanhBackward(g, y), -6, 6));
        OPS.put("sigmoid", new Op(Unary::sigmoid, (g, x, y) -> Unary.sigmoidBackward(g, y), -12, 12));
        OPS.put("relu", new Op(Unary::relu, (g, x, y) -> Unary.reluBackward(g, x), -5, 5));
        OPS.put("gelu", new Op(Unary::gelu, (g, x, y) -> Unary.geluBackward(g, x), -6, 6));
        OPS.put("gelu_exact", new Op(Unary::geluExact, (g, x, y) -> Unary.geluExactBackward(g, x), -6, 6));
        OPS.put("silu", new Op(Unary::silu, (g, x, y) -> Unary.siluBackward(g, x), -12, 12));
        OPS.put("clamp", new Op(x -> Unary.clamp(x, -1.5, 2.0), (g, x, y) -> Unary.clampBackward(g, x, -1.5, 2.0), -4, 4));
    }

    @Test
    void everyOpAndBackwardMatchesTorch() {
        assertEquals(OPS.size(), OPS.keySet().stream().filter(FIX::containsKey).count(), "every op has a fixture");
        for (var entry : OPS.entrySet()) {
            var c = FIX.get(entry.getKey());
            Op op = entry.getValue();
            for (DType dtype : DType.values()) {
                double rtol = dtype == DType.F64 ? 1e-12 : 2e-6;
                double atol = dtype == DType.F64 ? 1e-14 : 2e-6;
                String what = entry.getKey() + " " + dtype;
                Tensor x = c.get("x").to(dtype);
                Tensor y = op.forward.apply(x);
                assertClose(c.get("out"), y, rtol, atol, what + " forward");
                // the F32 gradient is compared against torch's from the F64 x; its tolerance scales with |g|
                assertClose(c.get("grad_x"), op.backward.apply(c.get("g").to(dtype), x, y), rtol * 2, atol * 4,
                        what + " backward");
            }
        }
    }

    private static final int[] SIZES = {1, 3, 15, 17, 31, 33, 127, 1000, 1031};

    @Test
    void f32MatchesF64AcrossVectorTails() {
        var rng = new Rng(21);
        for (var entry : OPS.entrySet()) {
            Op op = entry.getValue();
            for (int n : SIZES) {
                Tensor x = BinaryTest.randomF64(rng, op.lo, op.hi, n);
                Tensor g = BinaryTest.randomF64(rng, -1, 1, n);
                Tensor y64 = op.forward.apply(x);
                Tensor y32 = op.forward.apply(x.to(DType.F32));
                // a few float ulps of the result, plus an absolute floor for results formed by cancellation
                // (gelu/silu/sigmoid tails: 1 + tanh or 1 - s near 0)
                String what = entry.getKey() + " n=" + n;
                assertClose(y64, y32, 4e-7, 2e-7, what + " forward");
                Tensor g64 = op.backward.apply(g, x, y64);
                Tensor g32 = op.backward.apply(g.to(DType.F32), x.to(DType.F32), y32);
                assertClose(g64, g32, 2e-6, 5e-7, what + " backward");
            }
        }
    }

    @Test
    void nonContiguousInputsGiveTheSameResultAsTheirCopies() {
        var rng = new Rng(22);
        for (DType dtype : DType.values()) {
            Tensor base = Tensor.uniform(dtype, rng, 0.1, 3, 9, 40);
            Tensor[] views = {base.t(), base.slice(1, 3, 40, 4), base.narrow(0, 1, 1).expand(4, 40), base.narrow(1, 5, 20)};
            for (var entry : OPS.entrySet()) {
                Op op = entry.getValue();
                for (Tensor v : views) {
                    Tensor y = op.forward.apply(v);
                    assertTrue(y.isContiguous());
                    assertSameValues(op.forward.apply(v.copy()), y, entry.getKey() + " " + dtype);
                    int[] s = v.shape();
                    Tensor g = Tensor.uniform(dtype, rng, -1, 1, s[1], s[0]).t(); // a transposed gradient
                    assertSameValues(op.backward.apply(g.copy(), v.copy(), y), op.backward.apply(g, v, y),
                            entry.getKey() + " backward " + dtype);
                }
            }
        }
    }

    @Test
    void largeInputsGiveTheSameBitsForAnyThreadCount() {
        Tensor x = Tensor.randn(new Rng(23), 200_003);
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Tensor one = Unary.gelu(x);
            Tensor oneBack = Unary.siluBackward(x, x);
            Parallel.setThreads(2);
            assertSameValues(one, Unary.gelu(x), "gelu");
            assertSameValues(oneBack, Unary.siluBackward(x, x), "siluBackward");
        } finally {
            Parallel.setThreads(before);
        }
    }

    @Test
    void erfMatchesAHighPrecisionSeries() {
        double worstErf = 0;
        double worstErfc = 0;
        for (int i = 0; i <= 160; i++) {
            double x = i * 0.0375; // 0 .. 6, across every switch point (1.5, 2, 2.5, 3, 4)
            BigDecimal exact = erfBig(x);
            double erf = exact.doubleValue();
            double erfc = BigDecimal.ONE.subtract(exact).doubleValue();
            if (erf != 0) {
                worstErf = Math.max(worstErf, Math.abs(Unary.erf(x) - erf) / erf);
            }
            worstErfc = Math.max(worstErfc, Math.abs(Unary.erfc(x) - erfc) / erfc);
            assertEquals(-Unary.erf(x), Unary.erf(-x), 0, "erf is odd");
        }
        assertTrue(worstErf < 1e-15, "erf worst relative error " + worstErf);
        // below 1.5, erfc = 1 - erf carries erf's absolute error: about 1e-14 relative where erfc is 0.04
        assertTrue(worstErfc < 2e-14, "erfc worst relative error " + worstErfc);
        assertEquals(1, Unary.erf(40));
        assertEquals(0, Unary.erfc(40));
        assertTrue(Double.isNaN(Unary.erf(Double.NaN)));
    }

    /** erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)), summed with 100 significant digits. */
    private static BigDecimal erfBig(double xd) {
        var mc = new MathContext(100);
        BigDecimal x = new BigDecimal(xd);
        BigDecimal x2 = x.multiply(x, mc);
        BigDecimal power = x; // (-1)^n x^(2n+1) / n!
        BigDecimal sum = BigDecimal.ZERO;
        BigDecimal negligible = new BigDecimal("1e-80");
        for (int n = 0; power.abs().compareTo(negligible) > 0; n++) {
            sum = sum.add(power.divide(BigDecimal.valueOf(2L * n + 1), mc), mc);
            power = power.multiply(x2, mc).divide(BigDecimal.valueOf(n + 1), mc).negate();
        }
        BigDecimal pi = new BigDecimal("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899863");
        return sum.multiply(BigDecimal.valueOf(2), mc).divide(pi.sqrt(mc), mc);
    }

    @Test
    void infinitiesAndNaNsFollowTorch() {
        for (DType dtype : DType.values()) {
            Tensor x = Tensor.of(new double[] {0, -1, Double.NaN, 100, -100, Double.POSITIVE_INFINITY}).to(dtype);
            Tensor log = Unary.log(x);
            assertEquals(Double.NEGATIVE_INFINITY, log.get(0));
            assertTrue(Double.isNaN(log.get(1)));
            assertTrue(Double.isNaN(Unary.sqrt(x).get(1)));
            Tensor relu = Unary.relu(x);
            assertTrue(Double.isNaN(relu.get(2)), "relu(NaN) is NaN");
            assertEquals(0, relu.get(4));
            Tensor sig = Unary.sigmoid(x);
            assertEquals(1, sig.get(3));
            assertEquals(0, sig.get(4), 1e-40);
            assertEquals(1, Unary.tanh(x).get(5));
            assertEquals(-1, Unary.tanh(x).get(4));
            assertEquals(0, Unary.exp(x).get(4), 1e-40);
            assertEquals(dtype == DType.F32 ? Double.POSITIVE_INFINITY : Math.exp(100), Unary.exp(x).get(3));
            assertEquals(100, Unary.gelu(x).get(3));
            assertEquals(0, Unary.gelu(x).get(4), 0);
            assertEquals(100, Unary.geluExact(x).get(3));
            assertEquals(100, Unary.silu(x).get(3));
            assertTrue(Double.isNaN(Unary.clamp(x, -1, 1).get(2)), "clamp(NaN) is NaN");
            Tensor ones = Tensor.ones(dtype, 6);
            Tensor atZero = Tensor.of(new double[] {0, 0, 0, 0, 0, 0}).to(dtype);
            assertEquals(0, Unary.reluBackward(ones, atZero).get(0), "relu'(0) = 0 as in torch");
            assertEquals(0, Unary.absBackward(ones, atZero).get(0), "abs'(0) = 0 as in torch");
            assertEquals(Double.POSITIVE_INFINITY, Unary.sqrtBackward(ones, Unary.sqrt(atZero)).get(0));
            Tensor bounds = Tensor.of(new double[] {-1, 1, -1.0001, 1.0001, Double.NaN, 0}).to(dtype);
            Tensor cb = Unary.clampBackward(ones, bounds, -1, 1);
            assertEquals(1, cb.get(0), "the lower bound passes the gradient");
            assertEquals(1, cb.get(1), "the upper bound passes the gradient");
            assertEquals(0, cb.get(2));
            assertEquals(0, cb.get(3));
            assertEquals(0, cb.get(4));
        }
    }

    @Test
    void backwardShapeAndDtypeMismatchesAreNamed() {
        var e = assertThrows(ShapeException.class, () -> Unary.tanhBackward(Tensor.zeros(2, 3), Tensor.zeros(3, 2)));
        assertEquals("tanhBackward: gradient shape [2, 3] differs from saved tensor shape [3, 2]", e.getMessage());
        var d = assertThrows(IllegalArgumentException.class, () -> Unary.reluBackward(Tensor.zeros(2), Tensor.zeros(DType.F64, 2)));
        assertEquals("reluBackward: dtypes F32 and F64 differ", d.getMessage());
        var c = assertThrows(IllegalArgumentException.class, () -> Unary.clamp(Tensor.zeros(2), Double.NaN, 1));
        assertTrue(c.getMessage().startsWith("clamp: bounds must not be NaN"));
    }

    @Test
    void outputsKeepShapeAndLeaveInputsAlone() {
        Tensor x = Tensor.randn(new Rng(24), 2, 3, 5);
        Tensor before = x.copy();
        for (var entry : OPS.entrySet()) {
            Tensor y = entry.getValue().forward.apply(x);
            assertEquals(java.util.Arrays.toString(x.shape()), java.util.Arrays.toString(y.shape()));
            assertTrue(!y.sharesStorageWith(x), entry.getKey() + " returns a new tensor");
        }
        assertSameValues(before, x, "input unchanged");
        Tensor scalar = Unary.exp(Tensor.scalar(DType.F64, 1));
        assertEquals(0, scalar.rank());
        assertEquals(Math.E, scalar.item());
    }
}
