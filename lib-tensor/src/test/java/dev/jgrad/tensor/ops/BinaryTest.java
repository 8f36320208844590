package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import java.util.function.BinaryOperator;
import org.junit.jupiter.api.Test;

class BinaryTest {
    private static final Map<String, Map<String, Tensor>> FIX = Fixtures.load("elementwise");
    /** One float32 rounding of a correctly rounded result: half an ulp, relative. */
    static final double F32_ULP = 0x1p-23;

    // ------------------------------------------------------------------------------------------ helpers

    /** |expected - actual| <= atol + rtol |expected| everywhere; NaN matches only NaN, infinities only themselves. */
    static void assertClose(Tensor expected, Tensor actual, double rtol, double atol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            if (Double.isNaN(e[i]) && Double.isNaN(a[i]) || e[i] == a[i]) {
                continue;
            }
            if (!(Math.abs(e[i] - a[i]) <= atol + rtol * Math.abs(e[i]))) {
                fail(what + ": element " + i + " expected " + e[i] + " but was " + a[i]);
            }
        }
    }

    static void assertSameValues(Tensor expected, Tensor actual, String what) {
        assertClose(expected, actual, 0, 0, what);
    }

    /** Random F64 values that are exactly representable in F32, so both dtypes see the same inputs. */
    static Tensor randomF64(Rng rng, double lo, double hi, int... shape) {
        return Tensor.uniform(DType.F32, rng, lo, hi, shape).to(DType.F64);
    }

    static int[] ints(Tensor t) {
        double[] v = t.toDoubleArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (int) v[i];
        }
        return out;
    }

    private static Tensor f32(Tensor t) {
        return t.to(DType.F32);
    }

    // ------------------------------------------------------------------------------------------ torch fixtures

    private static final Map<String, BinaryOperator<Tensor>> FORWARD = Map.of(
            "add", Binary::add, "sub", Binary::sub, "mul", Binary::mul, "div", Binary::div, "pow", Binary::pow);

    private static Binary.Grads backward(String op, Tensor g, Tensor a, Tensor b, Tensor out) {
        return switch (op) {
            case "add" -> Binary.addBackward(g, a.shape(), b.shape());
            case "sub" -> Binary.subBackward(g, a.shape(), b.shape());
            case "mul" -> Binary.mulBackward(g, a, b);
            case "div" -> Binary.divBackward(g, a, b);
            case "pow" -> Binary.powBackward(g, a, b, out);
            default -> throw new IllegalArgumentException(op);
        };
    }

    @Test
    void broadcastingArithmeticAndGradientsMatchTorch() {
        int checked = 0;
        for (var entry : FIX.entrySet()) {
            String op = entry.getKey().split("_")[0];
            Map<String, Tensor> c = entry.getValue();
            if (!FORWARD.containsKey(op) || !c.containsKey("b")) {
                continue;
            }
            String name = entry.getKey();
            for (DType dtype : DType.values()) {
                double rtol = dtype == DType.F64 ? 1e-12 : 1e-5;
                double atol = dtype == DType.F64 ? 1e-14 : 1e-6;
                Tensor a = c.get("a").to(dtype);
                Tensor b = c.get("b").to(dtype);
                Tensor g = c.get("g").to(dtype);
                Tensor out = FORWARD.get(op).apply(a, b);
                assertClose(c.get("out"), out, rtol, atol, name + " " + dtype + " forward");
                Binary.Grads grads = backward(op, g, a, b, out);
                assertClose(c.get("grad_a"), grads.a(), rtol, atol, name + " " + dtype + " grad a");
                assertClose(c.get("grad_b"), grads.b(), rtol, atol, name + " " + dtype + " grad b");
            }
            checked++;
        }
        assertEquals(31, checked, "fixture cases checked");
    }

    @Test
    void scalarOperandsMatchTorch() {
        for (DType dtype : DType.values()) {
            double rtol = dtype == DType.F64 ? 1e-12 : 1e-5;
            double atol = dtype == DType.F64 ? 1e-14 : 1e-6;
            var add = FIX.get("add_scalar");
            assertClose(add.get("out"), Binary.add(add.get("a").to(dtype), 0.75), rtol, atol, "add scalar");
            var mul = FIX.get("mul_scalar");
            assertClose(mul.get("out"), Binary.mul(mul.get("a").to(dtype), -1.25), rtol, atol, "mul scalar");
            int powCases = 0;
            for (var entry : FIX.entrySet()) {
                if (!entry.getKey().startsWith("pow_scalar_")) {
                    continue;
                }
                var c = entry.getValue();
                double e = c.containsKey("exponent") ? c.get("exponent").item() : entry.getKey().endsWith("3_neg") ? 3 : 2;
                Tensor a = c.get("a").to(dtype);
                assertClose(c.get("out"), Binary.pow(a, e), rtol, atol, entry.getKey() + " forward");
                assertClose(c.get("grad_a"), Binary.powScalarBackward(c.get("g").to(dtype), a, e), rtol, atol,
                        entry.getKey() + " backward");
                powCases++;
            }
            assertEquals(8, powCases);
        }
    }

    @Test
    void whereAndMaskedFillMatchTorch() {
        for (DType dtype : DType.values()) {
            var w = FIX.get("where");
            Tensor cond = w.get("cond").to(dtype);
            Tensor a = w.get("a").to(dtype);
            Tensor b = w.get("b").to(dtype);
            Tensor g = w.get("g").to(dtype);
            assertClose(w.get("out"), Binary.where(cond, a, b), 0, 1e-6, "where " + dtype);
            var grads = Binary.whereBackward(g, cond, a.shape(), b.shape());
            assertClose(w.get("grad_a"), grads.a(), 1e-6, 1e-6, "where grad a " + dtype);
            assertClose(w.get("grad_b"), grads.b(), 0, 1e-6, "where grad b " + dtype);
            for (String name : new String[] {"masked_fill", "masked_fill_causal"}) {
                var m = FIX.get(name);
                Tensor x = m.get("x").to(dtype);
                Tensor mask = m.get("mask").to(dtype);
                assertClose(m.get("out"), Binary.maskedFill(x, mask, -1e9), 1e-7, 1e-6, name + " " + dtype);
                assertClose(m.get("grad_x"), Binary.maskedFillBackward(m.get("g").to(dtype), mask), 0, 1e-6,
                        name + " backward " + dtype);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ F32 vs F64

    private static final int[][][] PATTERNS = {
        {{1}, {1}}, {{3}, {3}}, {{15}, {15}}, {{17}, {17}}, {{31}, {31}}, {{33}, {33}}, {{127}, {127}},
        {{1031}, {1031}}, {{33}, {1}}, {{1}, {33}}, {{5, 1}, {1, 37}}, {{17, 1}, {1, 1000}}, {{2, 3, 33}, {33}},
        {{31}, {}}, {{}, {31}}, {{}, {}}, {{4, 1, 17}, {3, 1}}, {{3, 1}, {4, 1, 17}}, {{2, 1, 3, 1}, {1, 5, 1, 7}},
    };

    @Test
    void f32MatchesF64ToOneRoundingForEveryBroadcastPattern() {
        var rng = new Rng(7);
        for (int[][] p : PATTERNS) {
            Tensor a = randomF64(rng, -2, 2, p[0]);
            Tensor b = randomF64(rng, 0.25, 2, p[1]);
            Tensor pa = randomF64(rng, 0.1, 3, p[0]);
            for (var op : FORWARD.entrySet()) {
                Tensor lhs = op.getKey().equals("pow") ? pa : a;
                Tensor expected = op.getValue().apply(lhs, b);
                Tensor actual = op.getValue().apply(f32(lhs), f32(b));
                assertEquals(DType.F32, actual.dtype());
                assertTrue(actual.isContiguous());
                assertClose(expected, actual, F32_ULP, 1e-37, op.getKey() + " " + java.util.Arrays.deepToString(p));
                // operand order matters for sub, div and pow; swap to cover the other broadcast side
                Tensor swapped = op.getValue().apply(f32(b), f32(lhs));
                assertClose(op.getValue().apply(b, lhs), swapped, F32_ULP, 1e-37, op.getKey() + " swapped");
            }
        }
    }

    @Test
    void nonContiguousOperandsGiveTheSameResultAsTheirCopies() {
        var rng = new Rng(11);
        for (DType dtype : DType.values()) {
            Tensor base = Tensor.uniform(dtype, rng, 0.5, 2, 6, 40);
            Tensor other = Tensor.uniform(dtype, rng, 0.5, 2, 40, 6);
            Tensor[][] pairs = {
                {other.t(), base},                                   // transposed
                {base.slice(1, 1, 40, 3), base.slice(1, 0, 39, 3)},  // sliced with a step
                {base.narrow(0, 2, 1).expand(5, 40), base.narrow(0, 0, 5)}, // expanded (stride 0 rows)
                {base.select(1, 4).unsqueeze(1), other.t()},         // strided column against a transpose
            };
            for (var op : FORWARD.entrySet()) {
                for (Tensor[] pair : pairs) {
                    Tensor expected = op.getValue().apply(pair[0].copy(), pair[1].copy());
                    assertSameValues(expected, op.getValue().apply(pair[0], pair[1]), op.getKey() + " " + dtype);
                    assertSameValues(op.getValue().apply(pair[1].copy(), pair[0].copy()),
                            op.getValue().apply(pair[1], pair[0]), op.getKey() + " swapped " + dtype);
                }
            }
            Tensor cond = Unary.relu(Tensor.uniform(dtype, rng, -1, 1, 6, 40)).slice(1, 0, 40, 2).t(); // about half zeros
            Tensor expected = Binary.where(cond.copy(), other.slice(0, 0, 20, 1), base.t().slice(0, 0, 20, 1).copy());
            assertSameValues(expected, Binary.where(cond, other.slice(0, 0, 20, 1), base.t().slice(0, 0, 20, 1)),
                    "where strided " + dtype);
        }
    }

    /** [..., shape of b] op b, computed row by row without a cursor, has the bits of the cursor's broadcast. */
    @Test
    void anOperandRepeatedOverLeadingDimensionsGivesTheBroadcastsBits() {
        var rng = new Rng(12);
        for (DType dtype : DType.values()) {
            Tensor a = Tensor.uniform(dtype, rng, 0.5, 2, 3, 5, 33);
            Tensor[] repeated = {Tensor.uniform(dtype, rng, 0.5, 2, 5, 33), Tensor.uniform(dtype, rng, 0.5, 2, 33)};
            for (Tensor b : repeated) {
                for (var op : FORWARD.entrySet()) {
                    Tensor expected = op.getValue().apply(a, b.expand(3, 5, 33));   // stride-0 rows: the cursor
                    assertSameValues(expected, op.getValue().apply(a, b), op.getKey() + " " + dtype);
                }
            }
        }
    }

    @Test
    void inputsAreNotModified() {
        var rng = new Rng(3);
        Tensor a = Tensor.randn(rng, 4, 5);
        Tensor b = Tensor.randn(rng, 5);
        Tensor aCopy = a.copy();
        Tensor bCopy = b.copy();
        Binary.addBackward(a, new int[] {4, 5}, new int[] {4, 5}).a().fill(3); // returned grads are new tensors
        Binary.div(a, b);
        Binary.maskedFill(a, b, 1);
        assertSameValues(aCopy, a, "a");
        assertSameValues(bCopy, b, "b");
    }

    @Test
    void largeOperandsGiveTheSameBitsForAnyThreadCount() {
        var rng = new Rng(5);
        Tensor a = Tensor.randn(rng, 300, 333);
        Tensor b = Tensor.randn(rng, 300, 333);
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Tensor one = Binary.mul(a, b);
            Tensor oneScalar = Binary.add(a, 0.5);
            Parallel.setThreads(2);
            assertSameValues(one, Binary.mul(a, b), "mul");
            assertSameValues(oneScalar, Binary.add(a, 0.5), "add scalar");
        } finally {
            Parallel.setThreads(before);
        }
    }

    // ------------------------------------------------------------------------------------------ IEEE edge cases

    @Test
    void infinitiesAndNaNsFollowTorch() {
        for (DType dtype : DType.values()) {
            Tensor zero = Tensor.zeros(dtype, 3);
            Tensor x = Tensor.of(new double[] {1, -1, 0}).to(dtype);
            Tensor q = Binary.div(x, zero);
            assertEquals(Double.POSITIVE_INFINITY, q.get(0));
            assertEquals(Double.NEGATIVE_INFINITY, q.get(1));
            assertTrue(Double.isNaN(q.get(2)));
            Tensor p = Binary.pow(Tensor.of(new double[] {0, -2, -2, 0}).to(dtype), Tensor.of(new double[] {-1, 0.5, 3, 0}).to(dtype));
            assertEquals(Double.POSITIVE_INFINITY, p.get(0));
            assertTrue(Double.isNaN(p.get(1)));
            assertEquals(-8, p.get(2));
            assertEquals(1, p.get(3));
            // torch: d(a^b)/db = a^b log a is NaN for negative a, and 0 (not NaN) at a = 0, b >= 0
            Tensor pa = Tensor.of(new double[] {-2, 0}).to(dtype);
            Tensor pb = Tensor.of(new double[] {3, 2}).to(dtype);
            var grads = Binary.powBackward(Tensor.ones(dtype, 2), pa, pb, Binary.pow(pa, pb));
            assertTrue(Double.isNaN(grads.b().get(0)));
            assertEquals(0, grads.b().get(1));
            assertEquals(12, grads.a().get(0));
            // NaN is nonzero, so it selects like true
            Tensor cond = Tensor.of(new double[] {Double.NaN, 0}).to(dtype);
            Tensor w = Binary.where(cond, Tensor.ones(dtype, 2), Tensor.zeros(dtype, 2));
            assertEquals(1, w.get(0));
            assertEquals(0, w.get(1));
            Tensor filled = Binary.maskedFill(Tensor.ones(dtype, 2, 2), Tensor.of(new double[] {0, 1}).to(dtype),
                    Double.NEGATIVE_INFINITY);
            assertEquals(Double.NEGATIVE_INFINITY, filled.get(1, 1));
            assertEquals(1, filled.get(1, 0));
        }
    }

    // ------------------------------------------------------------------------------------------ errors

    @Test
    void incompatibleShapesNameTheOpAndShapes() {
        var e = assertThrows(ShapeException.class, () -> Binary.add(Tensor.zeros(2, 3), Tensor.zeros(4, 3)));
        assertTrue(e.getMessage().startsWith("add: shapes [2, 3] and [4, 3] cannot be broadcast"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Binary.pow(Tensor.zeros(5), Tensor.zeros(2, 4)));
        assertTrue(e.getMessage().startsWith("pow: shapes [5] and [2, 4]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Binary.where(Tensor.zeros(3), Tensor.zeros(2, 1), Tensor.zeros(4, 1)));
        assertTrue(e.getMessage().startsWith("where: shapes [3], [2, 1] and [4, 1] cannot be broadcast"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Binary.maskedFill(Tensor.zeros(3), Tensor.zeros(2, 3), 0));
        assertTrue(e.getMessage().contains("maskedFill: mask of shape [2, 3] does not broadcast to the input's shape [3]"),
                e.getMessage());
        e = assertThrows(ShapeException.class, () -> Binary.addBackward(Tensor.zeros(2, 3), new int[] {4}, new int[] {2, 3}));
        assertTrue(e.getMessage().startsWith("sumTo: shape [4] does not broadcast"), e.getMessage());
    }

    @Test
    void mixedDtypesNameTheOpAndDtypes() {
        var e = assertThrows(IllegalArgumentException.class, () -> Binary.mul(Tensor.zeros(2), Tensor.zeros(DType.F64, 2)));
        assertEquals("mul: dtypes F32 and F64 differ", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Binary.where(Tensor.zeros(2), Tensor.zeros(2), Tensor.zeros(DType.F64, 2)));
        assertEquals("where: dtypes F32 and F64 differ", e.getMessage());
    }
}
