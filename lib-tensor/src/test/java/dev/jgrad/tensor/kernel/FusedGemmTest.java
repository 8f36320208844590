package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Parallel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The fused products (bias, GELU and its derivative, or a factor applied by the GEMM to each finished block of C)
 * give the bits of the plain product followed by the separate passes, at one and two threads, for every path
 * through the GEMM: few rows, edge tiles, several KC, MC and NC blocks, splits by rows, columns and few-row
 * columns, transposed operands and a C with ldc > n.
 */
class FusedGemmTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    /** {m, n, k}: sizes that take each path (see the class comment). */
    private static final int[][] SHAPES = {
        {1, 53, 70}, {2, 17, 33}, {3, 70, 37}, {37, 53, 70}, {100, 130, 300}, {400, 200, 129}, {13, 4100, 20},
        {8, 2048, 512}, {2, 8192, 300}, {7, 1, 5}
    };

    /** A product's operands in padded arrays: A m x k and B k x n, each row-major or transposed. */
    private record Product(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int bRs,
                           int bCs, int cOff, int ldc) {
        static Product random(SplittableRandom random, int m, int n, int k, boolean ta, boolean tb) {
            int lda = (ta ? m : k) + 2;
            int ldb = (tb ? k : n) + 1;
            float[] a = values(random, 5 + (ta ? k : m) * lda);
            float[] b = values(random, 3 + (tb ? n : k) * ldb);
            return new Product(m, n, k, a, 5, ta ? 1 : lda, ta ? lda : 1, b, 3, tb ? 1 : ldb, tb ? ldb : 1, 4, n + 3);
        }

        int cLength() {
            return cOff + m * ldc;
        }

        /** C = A.B by the plain GEMM. */
        float[] plain() {
            float[] c = new float[cLength()];
            Sgemm.gemm(m, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, 0f, c, cOff, ldc);
            return c;
        }

        String describe() {
            return m + "x" + n + "x" + k + (aCs == 1 ? "" : " Aᵀ") + (bCs == 1 ? "" : " Bᵀ") + " at "
                    + Parallel.threads() + " threads";
        }
    }

    private static float[] values(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * 0.3);
        }
        return v;
    }

    @Test
    void fusedProductsGiveThePlainProductsAndPassesBits() {
        var random = new SplittableRandom(3);
        for (int threads : new int[] {1, 2}) {
            Parallel.setThreads(threads);
            for (int[] shape : SHAPES) {
                for (int layout = 0; layout < 4; layout++) {
                    Product p = Product.random(random, shape[0], shape[1], shape[2], (layout & 1) != 0, (layout & 2) != 0);
                    checkFused(random, p);
                }
            }
        }
    }

    private static void checkFused(SplittableRandom random, Product p) {
        int m = p.m();
        int n = p.n();
        int ldc = p.ldc();
        String what = p.describe();
        float[] bias = values(random, n + 2);
        int biasOff = 2;
        float[] plain = p.plain();

        // Bias: one addition per element.
        float[] h = plain.clone();
        for (int i = 0; i < m; i++) {
            int row = p.cOff() + i * ldc;
            ElementwiseF32.add(h, row, 1, bias, biasOff, 1, h, row, n);
        }
        float[] c = new float[p.cLength()];
        Sgemm.gemmBias(m, n, p.k(), p.a(), p.aOff(), p.aRs(), p.aCs(), p.b(), p.bOff(), p.bRs(), p.bCs(), c, p.cOff(),
                ldc, bias, biasOff);
        assertRowsEqual(h, c, p, what + ", bias");

        // GELU of the biased product, keeping the pre-activation or replacing it by the derivative.
        float[] gelu = new float[p.cLength()];
        float[] derivative = new float[p.cLength()];
        for (int i = 0; i < m; i++) {
            int row = p.cOff() + i * ldc;
            ElementwiseF32.gelu(h, row, gelu, row, n);
            ElementwiseF32.geluDerivative(h, row, derivative, row, n);
        }
        int actOff = 1;
        for (boolean withDerivative : new boolean[] {false, true}) {
            float[] act = new float[actOff + m * ldc];
            Sgemm.gemmBiasGelu(m, n, p.k(), p.a(), p.aOff(), p.aRs(), p.aCs(), p.b(), p.bOff(), p.bRs(), p.bCs(), c,
                    p.cOff(), ldc, bias, biasOff, act, actOff, withDerivative);
            assertRowsEqual(withDerivative ? derivative : h, c, p, what + ", gelu's C (derivative " + withDerivative + ")");
            assertRowsEqual(gelu, p.cOff(), act, actOff, p, what + ", gelu (derivative " + withDerivative + ")");
        }

        // GELU without a bias.
        float[] geluNoBias = new float[p.cLength()];
        for (int i = 0; i < m; i++) {
            int row = p.cOff() + i * ldc;
            ElementwiseF32.gelu(plain, row, geluNoBias, row, n);
        }
        float[] act = new float[p.cLength()];
        Sgemm.gemmBiasGelu(m, n, p.k(), p.a(), p.aOff(), p.aRs(), p.aCs(), p.b(), p.bOff(), p.bRs(), p.bCs(), c,
                p.cOff(), ldc, null, 0, act, p.cOff(), false);
        assertRowsEqual(plain, c, p, what + ", unbiased product");
        assertRowsEqual(geluNoBias, act, p, what + ", gelu without bias");

        // A factor in C's layout.
        float[] factor = values(random, p.cLength() + 6);
        int factorOff = 6;
        float[] times = plain.clone();
        for (int i = 0; i < m; i++) {
            int row = p.cOff() + i * ldc;
            ElementwiseF32.mul(times, row, 1, factor, row - p.cOff() + factorOff, 1, times, row, n);
        }
        Sgemm.gemmTimes(m, n, p.k(), p.a(), p.aOff(), p.aRs(), p.aCs(), p.b(), p.bOff(), p.bRs(), p.bCs(), c, p.cOff(),
                ldc, factor, factorOff);
        assertRowsEqual(times, c, p, what + ", times");
    }

    @Test
    void anEmptyContractionStillAddsTheBiasAndActivates() {
        float[] bias = {0.5f, -1f, 2f};
        float[] c = new float[6];
        float[] act = new float[6];
        Sgemm.gemmBiasGelu(2, 3, 0, new float[0], 0, 0, 1, new float[0], 0, 3, 1, c, 0, 3, bias, 0, act, 0, false);
        float[] expected = new float[6];
        ElementwiseF32.gelu(new float[] {0.5f, -1f, 2f, 0.5f, -1f, 2f}, 0, expected, 0, 6);
        assertEquals(java.util.Arrays.toString(new float[] {0.5f, -1f, 2f, 0.5f, -1f, 2f}), java.util.Arrays.toString(c));
        assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(act));
    }

    @Test
    void badOperandsAreReportedClearly() {
        float[] a = new float[12];
        float[] b = new float[12];
        float[] c = new float[12];
        var shortBias = assertThrows(IllegalArgumentException.class,
                () -> Sgemm.gemmBias(3, 4, 3, a, 0, 3, 1, b, 0, 4, 1, c, 0, 4, new float[3], 0));
        assertTrue(shortBias.getMessage().contains("gemmBias") && shortBias.getMessage().contains("bias"),
                shortBias.getMessage());
        float[] both = new float[24];
        var overlap = assertThrows(IllegalArgumentException.class,
                () -> Sgemm.gemmBiasGelu(3, 4, 3, a, 0, 3, 1, b, 0, 4, 1, both, 0, 4, null, 0, both, 10, true));
        assertTrue(overlap.getMessage().contains("act") && overlap.getMessage().contains("overlaps C"),
                overlap.getMessage());
        var shortFactor = assertThrows(IllegalArgumentException.class,
                () -> Sgemm.gemmTimes(3, 4, 3, a, 0, 3, 1, b, 0, 4, 1, c, 0, 4, new float[11], 0));
        assertTrue(shortFactor.getMessage().contains("gemmTimes") && shortFactor.getMessage().contains("factor"),
                shortFactor.getMessage());
    }

    private static void assertRowsEqual(float[] expected, float[] actual, Product p, String what) {
        assertRowsEqual(expected, p.cOff(), actual, p.cOff(), p, what);
    }

    /** The m x n elements (ldc apart) at eOff and aOff have the same bits. */
    private static void assertRowsEqual(float[] expected, int eOff, float[] actual, int aOff, Product p, String what) {
        for (int i = 0; i < p.m(); i++) {
            for (int j = 0; j < p.n(); j++) {
                int e = Float.floatToIntBits(expected[eOff + i * p.ldc() + j]);
                int a = Float.floatToIntBits(actual[aOff + i * p.ldc() + j]);
                if (e != a) {
                    assertEquals(expected[eOff + i * p.ldc() + j], actual[aOff + i * p.ldc() + j],
                            what + ": C(" + i + ", " + j + ")");
                    assertEquals(e, a, what + ": C(" + i + ", " + j + ") differs in its bits");
                }
            }
        }
    }
}
