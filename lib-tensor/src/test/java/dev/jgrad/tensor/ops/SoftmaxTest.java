package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

class SoftmaxTest {
    private static final int[] ROW_LENGTHS = {1, 3, 15, 17, 31, 33, 127, 1025};

    static void assertNear(Tensor expected, Tensor actual, double rtol, double atol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        assertTrue(actual.allClose(expected, rtol, atol),
                what + ": max |diff| " + actual.maxAbsDiff(expected) + " exceeds rtol " + rtol + ", atol " + atol);
    }

    /** k * t as a new tensor of t's dtype (the elementwise ops live elsewhere). */
    static Tensor scaled(Tensor t, double k) {
        double[] v = t.toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= k;
        }
        return Tensor.of(v, t.shape()).to(t.dtype());
    }

    @Test
    void matchesTorchForwardAndBackwardAlongEveryAxis() {
        var cases = Fixtures.load("structural");
        int checked = 0;
        for (var entry : cases.entrySet()) {
            String name = entry.getKey();
            if (!name.startsWith("softmax_axis") && !name.startsWith("log_softmax_axis")) {
                continue;
            }
            Map<String, Tensor> c = entry.getValue();
            boolean log = name.startsWith("log_");
            int axis = Integer.parseInt(name.substring(name.indexOf("axis") + 4));
            for (DType dtype : DType.values()) {
                Tensor x = c.get("x").to(dtype);
                Tensor g = c.get("g").to(dtype);
                Tensor out = log ? Softmax.logSoftmax(x, axis) : Softmax.softmax(x, axis);
                Tensor dx = log ? Softmax.logSoftmaxBackward(g, out, axis) : Softmax.softmaxBackward(g, out, axis);
                // F32: the inputs near 1000 are themselves rounded by ~3e-5 when converted, which moves the outputs.
                double rtol = dtype == DType.F64 ? 1e-6 : 1e-4;
                double atol = dtype == DType.F64 ? 1e-12 : 2e-4;
                assertNear(c.get("out"), out.to(DType.F64), rtol, atol, name + " " + dtype + " out");
                assertNear(c.get("dx"), dx.to(DType.F64), rtol, atol, name + " " + dtype + " dx");
            }
            checked++;
        }
        assertEquals(8, checked);
    }

    @Test
    void float32MatchesFloat64ForOddRowLengths() {
        Rng rng = new Rng(7);
        for (int n : ROW_LENGTHS) {
            Tensor x32 = scaled(Tensor.randn(DType.F32, rng, 5, n), 5);
            Tensor x64 = x32.to(DType.F64);
            Tensor g32 = Tensor.randn(DType.F32, rng, 5, n);
            Tensor g64 = g32.to(DType.F64);

            Tensor y64 = Softmax.softmax(x64, 1);
            Tensor y32 = Softmax.softmax(x32, 1);
            // Each output is exp (within ~1 ulp) over a float sum of at most n terms: a few 1e-6 relative.
            assertNear(y64, y32.to(DType.F64), 1e-5, 1e-9, "softmax n=" + n);
            assertNear(Softmax.softmaxBackward(g64, y64, 1),
                    Softmax.softmaxBackward(g32, y64.to(DType.F32), 1).to(DType.F64), 1e-5, 1e-6,
                    "softmaxBackward n=" + n);

            Tensor l64 = Softmax.logSoftmax(x64, -1);
            Tensor l32 = Softmax.logSoftmax(x32, -1);
            // |x - max| reaches ~30 here, whose float spacing is ~2e-6.
            assertNear(l64, l32.to(DType.F64), 1e-6, 1e-5, "logSoftmax n=" + n);
            assertNear(Softmax.logSoftmaxBackward(g64, l64, -1),
                    Softmax.logSoftmaxBackward(g32, l64.to(DType.F32), -1).to(DType.F64), 1e-5, 1e-5,
                    "logSoftmaxBackward n=" + n);
        }
    }

    @Test
    void largeInputsDoNotOverflow() {
        for (int n : new int[] {3, 33, 1025}) {
            float[] shifted = new float[n];
            float[] plain = new float[n];
            for (int i = 0; i < n; i++) {
                plain[i] = (i % 7) * 0.5f;
                shifted[i] = 1000f + plain[i];
            }
            Tensor expected = Softmax.softmax(Tensor.of(plain), 0);
            Tensor y = Softmax.softmax(Tensor.of(shifted), 0);
            assertNear(expected, y, 1e-5, 1e-9, "softmax of 1000 + x, n=" + n);
            Tensor logY = Softmax.logSoftmax(Tensor.of(shifted), 0);
            assertNear(Softmax.logSoftmax(Tensor.of(plain), 0), logY, 1e-5, 1e-5, "logSoftmax of 1000 + x, n=" + n);
            Tensor negative = Softmax.softmax(scaled(Tensor.of(shifted), -1), 0);
            for (double v : negative.toDoubleArray()) {
                assertTrue(Double.isFinite(v), "softmax of -1000 - x must be finite");
            }
        }
    }

    @Test
    void rowsSumToOne() {
        Tensor y = Softmax.softmax(Tensor.randn(new Rng(3), 9, 127), 1);
        for (int r = 0; r < 9; r++) {
            double sum = 0;
            for (int i = 0; i < 127; i++) {
                sum += y.get(r, i);
            }
            assertEquals(1.0, sum, 1e-5);
        }
    }

    @Test
    void nonContiguousInputsGiveTheSameResultAsTheirContiguousCopies() {
        Rng rng = new Rng(11);
        Tensor base = Tensor.randn(rng, 6, 35);
        Tensor[] views = {
            base.t(),                                        // transposed
            base.slice(1, 1, 34, 2),                         // strided columns
            base.narrow(0, 2, 3),                            // offset rows
            Tensor.randn(rng, 1, 19).expand(4, 19),          // broadcast rows
        };
        for (Tensor v : views) {
            assertFalse(v.isContiguous() && v.offset() == 0, "the view should exercise a strided path");
            for (int axis : new int[] {0, 1}) {
                Tensor copy = v.copy();
                assertArrayEquals(Softmax.softmax(copy, axis).toFloatArray(), Softmax.softmax(v, axis).toFloatArray());
                assertArrayEquals(Softmax.logSoftmax(copy, axis).toFloatArray(),
                        Softmax.logSoftmax(v, axis).toFloatArray());
                Tensor g = Tensor.randn(rng, v.shape());
                Tensor y = Softmax.softmax(copy, axis);
                assertArrayEquals(Softmax.softmaxBackward(g, y, axis).toFloatArray(),
                        Softmax.softmaxBackward(g.t().copy().t(), y.t().copy().t(), axis).toFloatArray());
            }
        }
    }

    @Test
    void softmaxOverAxisZeroEqualsTransposedSoftmaxOverLastAxis() {
        Tensor x = Tensor.randn(DType.F64, new Rng(5), 17, 4);
        Tensor a = Softmax.softmax(x, 0);
        Tensor b = Softmax.softmax(x.t(), 1).t();
        assertNear(b, a, 0, 0, "axis 0");
        assertTrue(a.isContiguous());
    }

    @Test
    void resultsAreBitIdenticalForAnyThreadCount() {
        Tensor x = Tensor.randn(new Rng(9), 300, 257);
        Tensor g = Tensor.randn(new Rng(10), 300, 257);
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Tensor y1 = Softmax.softmax(x, 1);
            Tensor d1 = Softmax.logSoftmaxBackward(g, Softmax.logSoftmax(x, 1), 1);
            Parallel.setThreads(3);
            assertArrayEquals(y1.toFloatArray(), Softmax.softmax(x, 1).toFloatArray());
            assertArrayEquals(d1.toFloatArray(),
                    Softmax.logSoftmaxBackward(g, Softmax.logSoftmax(x, 1), 1).toFloatArray());
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void badArgumentsAreReportedWithTheOpAndShapes() {
        Tensor x = Tensor.zeros(2, 3);
        var e = assertThrows(ShapeException.class, () -> Softmax.softmax(x, 2));
        assertTrue(e.getMessage().contains("Softmax.softmax") && e.getMessage().contains("axis 2"), e.getMessage());
        var d = assertThrows(IllegalArgumentException.class,
                () -> Softmax.softmaxBackward(Tensor.zeros(DType.F64, 2, 3), x, 1));
        assertTrue(d.getMessage().contains("Softmax.softmaxBackward") && d.getMessage().contains("F64"),
                d.getMessage());
        var s = assertThrows(ShapeException.class, () -> Softmax.logSoftmaxBackward(Tensor.zeros(3, 2), x, 1));
        assertTrue(s.getMessage().contains("Softmax.logSoftmaxBackward") && s.getMessage().contains("[3, 2]")
                && s.getMessage().contains("[2, 3]"), s.getMessage());
    }

    @Test
    void emptyTensorsPassThrough() {
        assertArrayEquals(new int[] {0, 4}, Softmax.softmax(Tensor.zeros(0, 4), 1).shape());
        assertArrayEquals(new int[] {3, 0}, Softmax.logSoftmax(Tensor.zeros(3, 0), 1).shape());
    }
}
