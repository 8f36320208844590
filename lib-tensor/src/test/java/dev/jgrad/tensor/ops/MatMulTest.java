package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MatMulTest {

    /** Asserts |actual - expected| <= rtol * max(1, |expected|) elementwise, with the same shape. */
    private static void assertClose(Tensor expected, Tensor actual, double rtol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], a[i], rtol * Math.max(1, Math.abs(e[i])), what + ": element " + i);
        }
    }

    @Test
    void forwardAndBackwardMatchTorchInF64() {
        Map<String, Map<String, Tensor>> cases = Fixtures.load("matmul");
        assertTrue(cases.size() >= 10, "fixture cases: " + cases.keySet());
        for (var entry : cases.entrySet()) {
            String name = entry.getKey();
            Map<String, Tensor> t = entry.getValue();
            Tensor a = t.get("a");
            Tensor b = t.get("b");
            assertClose(t.get("out"), MatMul.matmul(a, b), 1e-6, name + " forward");
            MatMul.Grads grads = MatMul.matmulBackward(t.get("g"), a, b);
            assertClose(t.get("grad_a"), grads.a(), 1e-6, name + " grad a");
            assertClose(t.get("grad_b"), grads.b(), 1e-6, name + " grad b");
        }
    }

    @Test
    void forwardAndBackwardMatchTorchInF32() {
        for (var entry : Fixtures.load("matmul").entrySet()) {
            String name = entry.getKey();
            Map<String, Tensor> t = entry.getValue();
            Tensor a = t.get("a").to(DType.F32);
            Tensor b = t.get("b").to(DType.F32);
            Tensor out = MatMul.matmul(a, b);
            assertEquals(DType.F32, out.dtype());
            assertClose(t.get("out"), out, 1e-5, name + " forward F32");
            MatMul.Grads grads = MatMul.matmulBackward(t.get("g").to(DType.F32), a, b);
            assertClose(t.get("grad_a"), grads.a(), 1e-5, name + " grad a F32");
            assertClose(t.get("grad_b"), grads.b(), 1e-5, name + " grad b F32");
        }
    }

    @Test
    void f32MatchesF64OnOddBatchedSizes() {
        Rng rng = new Rng(11);
        int[][][] shapes = {
            {{3, 17, 33}, {33, 31}}, {{2, 1, 15, 127}, {3, 127, 1}}, {{1000}, {1000, 3}}, {{5, 100, 1}, {1, 129}},
        };
        for (int[][] s : shapes) {
            Tensor a = Tensor.randn(DType.F64, rng, s[0]).to(DType.F32).to(DType.F64);
            Tensor b = Tensor.randn(DType.F64, rng, s[1]).to(DType.F32).to(DType.F64);
            Tensor out64 = MatMul.matmul(a, b);
            Tensor out32 = MatMul.matmul(a.to(DType.F32), b.to(DType.F32));
            int k = s[1].length == 1 ? s[1][0] : s[1][s[1].length - 2];
            // float32 dot products of k unit-variance terms: error ~ sqrt(k) * 2^-24 * |terms|.
            double tol = 2e-6 * Math.sqrt(k) * 4;
            assertClose(out64, out32, tol, java.util.Arrays.deepToString(s));
            Tensor g = Tensor.randn(DType.F64, rng, out64.shape()).to(DType.F32).to(DType.F64);
            var g64 = MatMul.matmulBackward(g, a, b);
            var g32 = MatMul.matmulBackward(g.to(DType.F32), a.to(DType.F32), b.to(DType.F32));
            assertClose(g64.a(), g32.a(), tol * 4, "grad a " + java.util.Arrays.deepToString(s));
            assertClose(g64.b(), g32.b(), tol * 8, "grad b " + java.util.Arrays.deepToString(s));
        }
    }

    @Test
    void nonContiguousInputsGiveTheSameResultAsTheirCopies() {
        Rng rng = new Rng(12);
        for (DType dtype : DType.values()) {
            // Transposed weight, sliced batch, expanded (stride-0) batch, permuted 4-D.
            Tensor w = Tensor.randn(dtype, rng, 40, 30).t(); // [30, 40], column-major
            Tensor x = Tensor.randn(dtype, rng, 6, 9, 30).slice(0, 1, 6, 2).slice(1, 0, 9, 2); // [3, 5, 30] strided
            Tensor e = Tensor.randn(dtype, rng, 1, 30, 7).expand(3, 30, 7);
            Tensor p = Tensor.randn(dtype, rng, 5, 2, 3, 30).permute(1, 2, 0, 3); // [2, 3, 5, 30]
            Tensor[][] pairs = {{x, w}, {x, e}, {p, w}, {w.t(), x.transpose(1, 2)}, {e.select(2, 1), w}, {x.select(2, 4), Tensor.randn(dtype, rng, 8, 5).t()}};
            for (Tensor[] pair : pairs) {
                Tensor a = pair[0];
                Tensor b = pair[1];
                String what = dtype + " " + java.util.Arrays.toString(a.shape()) + " x " + java.util.Arrays.toString(b.shape());
                Tensor expected = MatMul.matmul(a.contiguous(), b.contiguous());
                Tensor actual = MatMul.matmul(a, b);
                assertClose(expected, actual, dtype == DType.F64 ? 1e-12 : 1e-5, what);
                Tensor g = Tensor.randn(dtype, rng, actual.shape());
                var ge = MatMul.matmulBackward(g, a.contiguous(), b.contiguous());
                var ga = MatMul.matmulBackward(g.transpose(0, -1).contiguous().transpose(0, -1), a, b);
                assertClose(ge.a(), ga.a(), dtype == DType.F64 ? 1e-12 : 1e-4, what + " grad a");
                assertClose(ge.b(), ga.b(), dtype == DType.F64 ? 1e-12 : 1e-4, what + " grad b");
            }
        }
    }

    @Test
    void gradientOfBroadcastOperandIsSummedOverTheBatch() {
        // d/dW sum(x @ W) over a batch is the sum of the per-item gradients, checked item by item.
        Rng rng = new Rng(13);
        Tensor x = Tensor.randn(DType.F64, rng, 4, 3, 5);
        Tensor w = Tensor.randn(DType.F64, rng, 5, 2);
        Tensor g = Tensor.randn(DType.F64, rng, 4, 3, 2);
        Tensor gw = MatMul.matmulBackward(g, x, w).b();
        Tensor sum = Tensor.zeros(DType.F64, 5, 2);
        for (int i = 0; i < 4; i++) {
            Tensor gi = MatMul.matmulBackward(g.select(0, i), x.select(0, i), w).b();
            double[] s = sum.toDoubleArray();
            double[] d = gi.toDoubleArray();
            for (int j = 0; j < s.length; j++) {
                s[j] += d[j];
            }
            sum = Tensor.of(s, 5, 2);
        }
        assertClose(sum, gw, 1e-12, "grad W");
    }

    @Test
    void errorsNameTheOpShapesAndDtypes() {
        var e = assertThrows(ShapeException.class, () -> MatMul.matmul(Tensor.zeros(2, 3), Tensor.zeros(4, 5)));
        assertTrue(e.getMessage().startsWith("matmul: shapes [2, 3] and [4, 5]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> MatMul.matmul(Tensor.zeros(2, 2, 3), Tensor.zeros(3, 3, 4)));
        assertTrue(e.getMessage().contains("[2, 2, 3]") && e.getMessage().contains("[3, 3, 4]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> MatMul.matmul(Tensor.scalar(1), Tensor.zeros(3)));
        assertTrue(e.getMessage().contains("matmul"), e.getMessage());
        var d = assertThrows(IllegalArgumentException.class,
                () -> MatMul.matmul(Tensor.zeros(DType.F32, 2, 3), Tensor.zeros(DType.F64, 3, 2)));
        assertTrue(d.getMessage().contains("matmul") && d.getMessage().contains("F32") && d.getMessage().contains("F64"),
                d.getMessage());
        e = assertThrows(ShapeException.class,
                () -> MatMul.matmulBackward(Tensor.zeros(2, 3), Tensor.zeros(2, 4), Tensor.zeros(4, 2)));
        assertTrue(e.getMessage().contains("matmulBackward") && e.getMessage().contains("[2, 3]"), e.getMessage());
    }

    @Test
    void emptyDimensionsGiveEmptyOrZeroResults() {
        Tensor out = MatMul.matmul(Tensor.zeros(DType.F32, 0, 3), Tensor.ones(DType.F32, 3, 4));
        assertArrayEquals(new int[] {0, 4}, out.shape());
        Tensor zeroK = MatMul.matmul(Tensor.ones(DType.F32, 2, 0), Tensor.ones(DType.F32, 0, 3));
        assertArrayEquals(new float[6], zeroK.toFloatArray());
    }

    @Test
    void linearAndItsBackwardAgreeWithMatmulOfTheTransposedWeight() {
        Rng rng = new Rng(7);
        int in = 37;
        int out = 19;
        Tensor base = Tensor.randn(rng, 3, 2, in + 4);
        Tensor[] inputs = {
            Tensor.randn(rng, 5, in),
            Tensor.randn(rng, 2, 3, in),
            Tensor.randn(rng, in),
            Tensor.randn(rng, 1, 1, in),
            base.narrow(2, 2, in),                          // rows fold, but are not contiguous
            base.narrow(2, 1, in).transpose(0, 1),          // rows do not fold: copied first, as reshape does
        };
        Tensor w = Tensor.randn(rng, out, in);
        for (Tensor x : inputs) {
            String what = "x " + java.util.Arrays.toString(x.shape()) + " strides " + java.util.Arrays.toString(x.strides());
            int[] yShape = x.shape();
            yShape[yShape.length - 1] = out;
            Tensor g = Tensor.randn(rng, yShape);
            Tensor y = MatMul.linear(x, w);
            var d = MatMul.linearBackward(g, x, w);
            // Bit for bit what the layer computed before, through matmul on two-dimensional views.
            Tensor g2 = g.reshape(-1, out);
            assertArrayEquals(MatMul.matmul(x, w.t()).toFloatArray(), y.toFloatArray(), what);
            assertArrayEquals(MatMul.matmul(g2, w).toFloatArray(), d.a().toFloatArray(), what);
            assertArrayEquals(MatMul.matmul(g2.t(), x.reshape(-1, in)).toFloatArray(), d.b().toFloatArray(), what);
            assertArrayEquals(x.shape(), d.a().shape(), what);
            assertArrayEquals(new int[] {out, in}, d.b().shape(), what);
            // And close to the definitions summed in double.
            assertClose(reference(x.reshape(-1, in), w, true).view(yShape), y, 1e-5, what + ": y");
            assertClose(reference(g2, w, false).view(x.shape()), d.a(), 1e-5, what + ": dx");
            assertClose(reference(g2.t(), x.reshape(-1, in).t(), true), d.b(), 1e-5, what + ": dw");
        }
        var e = assertThrows(ShapeException.class, () -> MatMul.linear(Tensor.zeros(2, in + 1), w));
        assertTrue(e.getMessage().contains("linear") && e.getMessage().contains("[2, " + (in + 1) + "]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> MatMul.linearBackward(Tensor.zeros(3, out), Tensor.zeros(2, in), w));
        assertTrue(e.getMessage().contains("linearBackward") && e.getMessage().contains("[3, " + out + "]"),
                e.getMessage());
        var d = MatMul.linearBackward(Tensor.zeros(0, out), Tensor.zeros(0, in), w);
        assertArrayEquals(new int[] {0, in}, d.a().shape());
        assertArrayEquals(new float[out * in], d.b().toFloatArray());
    }

    /** a [m, k] times b [k, n] (or bᵀ for b [n, k] when transposed) in double with plain loops. */
    private static Tensor reference(Tensor a, Tensor b, boolean transposed) {
        int m = a.size(0);
        int k = a.size(1);
        int n = transposed ? b.size(0) : b.size(1);
        Tensor out = Tensor.zeros(DType.F64, m, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    sum += a.get(i, p) * (transposed ? b.get(j, p) : b.get(p, j));
                }
                out.set(sum, i, j);
            }
        }
        return out;
    }
}
