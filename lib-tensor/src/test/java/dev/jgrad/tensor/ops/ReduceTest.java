package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.BinaryTest.assertClose;
import static dev.jgrad.tensor.ops.BinaryTest.assertSameValues;
import static dev.jgrad.tensor.ops.BinaryTest.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReduceTest {
    private static final Map<String, Map<String, Tensor>> FIX = Fixtures.load("reduce");

    // ------------------------------------------------------------------------------------------ torch fixtures

    @Test
    void reductionsAndTheirBackwardsMatchTorch() {
        int checked = 0;
        for (var entry : FIX.entrySet()) {
            String name = entry.getKey();
            String op = name.split("_")[0];
            if (!op.matches("sum|mean|max|min|var[01]")) {
                continue;
            }
            var c = entry.getValue();
            int[] axes = ints(c.get("axes"));
            boolean keep = c.get("keep").item() != 0;
            for (DType dtype : DType.values()) {
                double rtol = dtype == DType.F64 ? 1e-12 : 1e-5;
                double atol = dtype == DType.F64 ? 1e-14 : 1e-5;
                Tensor x = c.get("x").to(dtype);
                Tensor g = c.get("g").to(dtype);
                int[] in = x.shape();
                Tensor y;
                Tensor grad;
                switch (op) {
                    case "sum" -> {
                        y = Reduce.sum(x, keep, axes);
                        grad = Reduce.sumBackward(g, in, keep, axes);
                    }
                    case "mean" -> {
                        y = Reduce.mean(x, keep, axes);
                        grad = Reduce.meanBackward(g, in, keep, axes);
                    }
                    case "max" -> {
                        y = Reduce.max(x, keep, axes);
                        grad = Reduce.maxBackward(g, x, y, keep, axes);
                    }
                    case "min" -> {
                        y = Reduce.min(x, keep, axes);
                        grad = Reduce.minBackward(g, x, y, keep, axes);
                    }
                    default -> {
                        int correction = (int) c.get("correction").item();
                        y = Reduce.var(x, correction, keep, axes);
                        grad = Reduce.varBackward(g, x, correction, keep, axes);
                    }
                }
                assertClose(c.get("out"), y, rtol, atol, name + " " + dtype + " forward");
                assertClose(c.get("grad_x"), grad, rtol, atol, name + " " + dtype + " backward");
            }
            checked++;
        }
        assertEquals(8 * 2 * 6, checked, "fixture cases checked");
    }

    @Test
    void argmaxMatchesTorchIncludingFirstIndexOnTies() {
        int checked = 0;
        for (var entry : FIX.entrySet()) {
            if (!entry.getKey().startsWith("argmax_")) {
                continue;
            }
            var c = entry.getValue();
            int axis = (int) c.get("axis").item();
            boolean keep = c.get("keep").item() != 0;
            for (DType dtype : DType.values()) {
                Tensor idx = Reduce.argmax(c.get("x").to(dtype), axis, keep);
                assertEquals(dtype, idx.dtype());
                assertSameValues(c.get("out"), idx, entry.getKey() + " " + dtype);
            }
            checked++;
        }
        assertEquals(8, checked);
    }

    /** Summing only leading dimensions (a position embedding's gradient) gives the bits of the general sum. */
    @Test
    void sumToOverLeadingDimensionsGivesTheBitsOfSum() {
        var rng = new Rng(13);
        for (DType dtype : DType.values()) {
            Tensor g = Tensor.uniform(dtype, rng, -1, 1, 3, 5, 33);
            Tensor toBlock = Reduce.sumTo(g, new int[] {5, 33});
            assertArrayEquals(Reduce.sum(g, false, 0).toDoubleArray(), toBlock.toDoubleArray(), dtype + " [5, 33]");
            assertArrayEquals(new int[] {5, 33}, toBlock.shape());
            Tensor toRow = Reduce.sumTo(g, new int[] {33});
            assertArrayEquals(Reduce.sum(g, false, 0, 1).toDoubleArray(), toRow.toDoubleArray(), dtype + " [33]");
        }
    }

    @Test
    void sumToReversesBroadcastingLikeTorch() {
        int checked = 0;
        for (var entry : FIX.entrySet()) {
            if (!entry.getKey().startsWith("sumto_")) {
                continue;
            }
            var c = entry.getValue();
            for (DType dtype : DType.values()) {
                Tensor g = c.get("g").to(dtype);
                Tensor out = Reduce.sumTo(g, ints(c.get("shape")));
                assertClose(c.get("out"), out, dtype == DType.F64 ? 1e-12 : 1e-6, 1e-6, entry.getKey() + " " + dtype);
                assertTrue(!out.sharesStorageWith(g), "sumTo returns a new tensor");
            }
            checked++;
        }
        assertEquals(6, checked);
    }

    // ------------------------------------------------------------------------------------------ F32 vs F64

    private static final int[][] SHAPES = {{1}, {17}, {1031}, {3, 1000}, {1000, 3}, {5, 7, 9}, {2, 33, 31}, {4, 1, 127}};

    @Test
    void f32MatchesF64ForEveryAxisSetAndLayout() {
        var rng = new Rng(31);
        for (int[] shape : SHAPES) {
            Tensor x = BinaryTest.randomF64(rng, -1, 1, shape);
            Tensor x32 = x.to(DType.F32);
            for (int[] axes : axisSets(shape.length)) {
                for (boolean keep : new boolean[] {false, true}) {
                    String what = Arrays.toString(shape) + " axes " + Arrays.toString(axes) + " keep " + keep;
                    // a float sum's error is a few roundings of the sum of magnitudes
                    Tensor magnitude = Reduce.sum(Unary.abs(x), keep, axes);
                    assertWithin(Reduce.sum(x, keep, axes), Reduce.sum(x32, keep, axes), magnitude, 4e-7, what + " sum");
                    int count = x.numel() / Math.max(1, Reduce.sum(x, true, axes).numel());
                    assertWithin(Reduce.mean(x, keep, axes), Reduce.mean(x32, keep, axes),
                            Binary.mul(magnitude, 1.0 / count), 4e-7, what + " mean");
                    assertSameValues(Reduce.max(x, keep, axes), Reduce.max(x32, keep, axes), what + " max");
                    assertSameValues(Reduce.min(x, keep, axes), Reduce.min(x32, keep, axes), what + " min");
                    if (count > 1) {
                        Tensor v64 = Reduce.var(x, 1, keep, axes);
                        assertClose(v64, Reduce.var(x32, 1, keep, axes), 1e-5, 1e-7, what + " var");
                    }
                }
            }
            for (int axis = 0; axis < shape.length; axis++) {
                assertSameValues(Reduce.argmax(x, axis, false), Reduce.argmax(x32, axis, false), "argmax " + axis);
            }
        }
    }

    private static void assertWithin(Tensor expected, Tensor actual, Tensor scale, double rel, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double[] s = scale.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            assertTrue(Math.abs(e[i] - a[i]) <= rel * s[i] + 1e-30,
                    what + ": element " + i + " expected " + e[i] + " but was " + a[i]);
        }
    }

    /** Every single axis (also negative), pairs, and all axes. */
    private static int[][] axisSets(int rank) {
        var sets = new java.util.ArrayList<int[]>();
        sets.add(new int[0]);
        for (int a = 0; a < rank; a++) {
            sets.add(new int[] {a});
            sets.add(new int[] {a - rank});
            for (int b = a + 1; b < rank; b++) {
                sets.add(new int[] {b, a});
            }
        }
        return sets.toArray(new int[0][]);
    }

    @Test
    void longFloatSumsStayAccurate() {
        // A naive float loop over a million 0.1f drifts by about 1%; blocked accumulation must not.
        int n = 1_000_003;
        float[] data = new float[n];
        Arrays.fill(data, 0.1f);
        double exact = n * (double) 0.1f;
        double sum = Reduce.sum(Tensor.wrap(data), false).item();
        assertEquals(exact, sum, exact * 1e-7);
        double mean = Reduce.mean(Tensor.wrap(data, 1, n), false, 1).item();
        assertEquals(0.1f, mean, 1e-7 * 0.1);
        // same along a leading axis, which sums down columns
        double colSum = Reduce.sum(Tensor.wrap(data, n, 1), false, 0).item();
        assertEquals(exact, colSum, exact * 1e-7);
        // a variance far smaller than the mean squared (two passes keep it)
        Tensor shifted = Binary.add(Tensor.randn(new Rng(32), 4096), 1000.0);
        double v32 = Reduce.var(shifted, 1, false).item();
        double v64 = Reduce.var(shifted.to(DType.F64), 1, false).item();
        assertEquals(v64, v32, v64 * 1e-3);
    }

    @Test
    void nonContiguousInputsGiveTheSameResultAsTheirCopies() {
        var rng = new Rng(33);
        for (DType dtype : DType.values()) {
            Tensor base = Tensor.uniform(dtype, rng, -1, 1, 6, 40, 5);
            Tensor[] views = {base.transpose(0, 2), base.slice(1, 1, 40, 3), base.narrow(0, 2, 1).expand(3, 40, 5),
                base.permute(1, 2, 0)};
            for (Tensor v : views) {
                for (int[] axes : axisSets(3)) {
                    String what = dtype + " " + Arrays.toString(v.shape()) + " axes " + Arrays.toString(axes);
                    // F32 sums may take a different (but fixed) order for a different layout: a few roundings apart
                    double tol = dtype == DType.F64 ? 1e-13 : 1e-5;
                    assertClose(Reduce.sum(v.copy(), true, axes), Reduce.sum(v, true, axes), tol, tol, what + " sum");
                    assertSameValues(Reduce.max(v.copy(), false, axes), Reduce.max(v, false, axes), what + " max");
                    assertClose(Reduce.var(v.copy(), 0, false, axes), Reduce.var(v, 0, false, axes), tol, tol, what + " var");
                    Tensor y = Reduce.min(v, true, axes);
                    Tensor g = Tensor.uniform(dtype, rng, -1, 1, y.shape());
                    assertSameValues(Reduce.minBackward(g, v.copy(), y, true, axes), Reduce.minBackward(g, v, y, true, axes),
                            what + " minBackward");
                }
                for (int axis = 0; axis < 3; axis++) {
                    assertSameValues(Reduce.argmax(v.copy(), axis, true), Reduce.argmax(v, axis, true), "argmax");
                }
            }
        }
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        Tensor x = Tensor.randn(new Rng(34), 64, 999, 3);
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Tensor[] one = {Reduce.sum(x, false, 1), Reduce.sum(x, false, 2), Reduce.mean(x, false, 0, 1), Reduce.max(x, false, 1)};
            Parallel.setThreads(2);
            Tensor[] two = {Reduce.sum(x, false, 1), Reduce.sum(x, false, 2), Reduce.mean(x, false, 0, 1), Reduce.max(x, false, 1)};
            for (int i = 0; i < one.length; i++) {
                assertSameValues(one[i], two[i], "reduction " + i);
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    // ------------------------------------------------------------------------------------------ shapes and edges

    @Test
    void keepDimAndScalarShapes() {
        Tensor x = Tensor.arange(DType.F64, 0, 24, 1).reshape(2, 3, 4);
        assertArrayEquals(new int[] {2, 1, 4}, Reduce.sum(x, true, -2).shape());
        assertArrayEquals(new int[] {2, 4}, Reduce.sum(x, false, -2).shape());
        assertArrayEquals(new int[] {}, Reduce.sum(x, false).shape());
        assertArrayEquals(new int[] {1, 1, 1}, Reduce.max(x, true).shape());
        assertEquals(276, Reduce.sum(x, false).item());
        assertEquals(23, Reduce.max(x, false).item());
        assertArrayEquals(new int[] {2, 1, 4}, Reduce.argmax(x, 1, true).shape());
        Tensor scalar = Tensor.scalar(DType.F64, 2.5);
        assertEquals(2.5, Reduce.sum(scalar, false).item());
        assertEquals(2.5, Reduce.mean(scalar, true).item());
        assertArrayEquals(new int[] {3, 4}, Reduce.sumBackward(Tensor.ones(DType.F64, 3), new int[] {3, 4}, false, 1).shape());
    }

    @Test
    void nanAndEmptyBehaveAsTorch() {
        for (DType dtype : DType.values()) {
            Tensor x = Tensor.of(new double[] {1, Double.NaN, 3, 7, 2, 7}).to(dtype).reshape(2, 3);
            assertTrue(Double.isNaN(Reduce.max(x, false, 1).get(0)), "amax propagates NaN");
            assertEquals(7, Reduce.max(x, false, 1).get(1));
            assertTrue(Double.isNaN(Reduce.min(x, false).item()));
            assertEquals(1, Reduce.argmax(x, 1, false).get(0), "torch's argmax treats NaN as the largest");
            assertEquals(0, Reduce.argmax(x, 1, false).get(1), "first index on ties");
            assertTrue(Double.isNaN(Reduce.mean(Tensor.zeros(dtype, 0), false).item()), "mean of nothing is NaN");
            assertEquals(0, Reduce.sum(Tensor.zeros(dtype, 2, 0), false, 1).get(1));
            assertTrue(Double.isNaN(Reduce.var(Tensor.ones(dtype, 1), 1, false).item()), "unbiased var of one value");
            assertEquals(0, Reduce.var(Tensor.ones(dtype, 1), 0, false).item());
            // ties split the gradient evenly, as torch.amax
            Tensor t = Tensor.of(new double[] {7, 2, 7, 7}).to(dtype);
            Tensor grad = Reduce.maxBackward(Tensor.scalar(dtype, 3), t, Reduce.max(t, false), false);
            assertSameValues(Tensor.of(new double[] {1, 0, 1, 1}), grad, "tie split");
        }
        var e = assertThrows(IllegalArgumentException.class, () -> Reduce.max(Tensor.zeros(2, 0), false, 1));
        assertTrue(e.getMessage().startsWith("max: cannot reduce over an empty dimension"), e.getMessage());
    }

    @Test
    void badAxesAndShapesNameTheOp() {
        var e = assertThrows(ShapeException.class, () -> Reduce.sum(Tensor.zeros(2, 3), false, 3));
        assertEquals("sum: axis 3 is out of range for a tensor of rank 2", e.getMessage());
        e = assertThrows(ShapeException.class, () -> Reduce.mean(Tensor.zeros(2, 3), false, -3));
        assertEquals("mean: axis -3 is out of range for a tensor of rank 2", e.getMessage());
        e = assertThrows(ShapeException.class, () -> Reduce.max(Tensor.zeros(2, 3), false, 1, -1));
        assertTrue(e.getMessage().startsWith("max: axis 1 is repeated"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Reduce.argmax(Tensor.zeros(2, 3), 2, false));
        assertEquals("argmax: axis 2 is out of range for a tensor of rank 2", e.getMessage());
        e = assertThrows(ShapeException.class, () -> Reduce.sumTo(Tensor.zeros(2, 3), new int[] {2}));
        assertEquals("sumTo: shape [2] does not broadcast to the gradient's shape [2, 3]", e.getMessage());
        e = assertThrows(ShapeException.class, () -> Reduce.sumTo(Tensor.zeros(3), new int[] {1, 3}));
        assertTrue(e.getMessage().startsWith("sumTo: cannot sum a gradient of shape [3]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Reduce.sumBackward(Tensor.zeros(3), new int[] {2, 3}, true, 0));
        assertEquals("sumBackward: tensor of shape [3] is not the reduction of [2, 3] over axes [0] (expected [1, 3])",
                e.getMessage());
        var d = assertThrows(IllegalArgumentException.class,
                () -> Reduce.varBackward(Tensor.zeros(1), Tensor.zeros(DType.F64, 3), 1, false));
        assertEquals("varBackward: dtypes F32 and F64 differ", d.getMessage());
    }

    @Test
    void columnSumsAreTheSumOverAllLeadingDimensions() {
        Rng rng = new Rng(11);
        Tensor wide = Tensor.randn(rng, 3, 50, 700);   // large enough to split the columns over threads
        Tensor[] inputs = {
            wide, Tensor.randn(rng, 7, 1), Tensor.randn(rng, 33), Tensor.randn(rng, 4, 5, 17).to(DType.F64),
            wide.transpose(0, 1), wide.narrow(2, 3, 600), Tensor.zeros(0, 4),
        };
        int threads = Parallel.threads();
        try {
            for (int t : new int[] {1, 2, 3}) {
                Parallel.setThreads(t);
                for (Tensor x : inputs) {
                    String what = Arrays.toString(x.shape()) + " " + x.dtype() + " on " + t + " threads";
                    Tensor expected = Reduce.sum(x.reshape(-1, x.size(-1)), false, 0);
                    Tensor actual = Reduce.columnSums(x);
                    assertArrayEquals(new int[] {x.size(-1)}, actual.shape(), what);
                    assertSameValues(expected, actual, what);
                }
            }
        } finally {
            Parallel.setThreads(threads);
        }
        var e = assertThrows(ShapeException.class, () -> Reduce.columnSums(Tensor.scalar(1)));
        assertTrue(e.getMessage().contains("columnSums"), e.getMessage());
    }
}
