package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Sgemm (F32, packed Vector-API kernel) against Dgemm (F64 plain loops), and Dgemm against a naive triple loop. */
class SgemmTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    /** A random m x k operand stored either row-major or column-major (a transposed view), inside a padded array. */
    private record Operand(double[] values, int offset, int rowStride, int colStride) {
        static Operand random(Rng rng, int rows, int cols, boolean transposed, int pad) {
            int ld = (transposed ? rows : cols) + pad;
            int outer = transposed ? cols : rows;
            int offset = 3;
            double[] v = new double[offset + outer * ld + 5];
            for (int i = 0; i < v.length; i++) {
                v[i] = rng.nextGaussian();
            }
            return transposed ? new Operand(v, offset, 1, ld) : new Operand(v, offset, ld, 1);
        }

        float[] f32() {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            return f;
        }

        /** Values rounded to float, so F32 and F64 multiply the same inputs. */
        double[] f32AsF64() {
            double[] d = new double[values.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) values[i];
            }
            return d;
        }
    }

    private static final int[] SIZES = {1, 3, 17, 33, 100};

    @Test
    void sgemmMatchesDgemmForOddSizesAndEveryLayout() {
        Rng rng = new Rng(1);
        for (int m : SIZES) {
            for (int n : SIZES) {
                for (int k : SIZES) {
                    boolean ta = ((m + n + k) & 1) == 0;
                    boolean tb = ((m * 3 + n + k * 7) & 2) == 0;
                    checkAgainstDgemm(rng, m, n, k, ta, tb, 0f);
                }
            }
        }
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                checkAgainstDgemm(rng, 129, 97, 300, ta, tb, 0f);
                checkAgainstDgemm(rng, 7, 390, 520, ta, tb, 1f);
            }
        }
    }

    @Test
    void largeProductCrossesEveryBlockBoundary() {
        // m > MC, n > NR multiples, k > 2*KC: exercises A-block, B-strip and k-block edges together.
        checkAgainstDgemm(new Rng(2), Sgemm.MC + 13, 2 * Sgemm.NR + 5, 2 * Sgemm.KC + 7, false, true, 1f);
        checkAgainstDgemm(new Rng(2), 1000, 33, 1000, true, false, 0f);
    }

    @Test
    void narrowLastStripsWriteStraightIntoC() {
        // Full-height tiles whose last strip is exactly one, two or three vectors wide take the narrow kernels
        // directly.
        int vector = Sgemm.NR / 4;
        Rng rng = new Rng(7);
        for (int n : new int[] {Sgemm.NR + vector, Sgemm.NR + 2 * vector, Sgemm.NR + 3 * vector, vector, 2 * vector,
                3 * vector}) {
            checkAgainstDgemm(rng, 3 * Sgemm.MR, n, 50, false, false, 0f);
            checkAgainstDgemm(rng, 2 * Sgemm.MR, n, Sgemm.KC + 3, true, false, 1f);
        }
    }

    @Test
    void fewRowsTakeTheVectorMatrixPathForEveryLayout() {
        Rng rng = new Rng(8);
        for (int m = 1; m <= Sgemm.FEW_ROWS; m++) {
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    checkAgainstDgemm(rng, m, 1000, 67, ta, tb, 0f);
                    checkAgainstDgemm(rng, m, 33, 300, ta, tb, 1f);
                    checkAgainstDgemm(rng, m, 3, 1, ta, tb, 1f);
                }
            }
        }
    }

    @Test
    void betaOneAccumulatesIntoC() {
        Rng rng = new Rng(3);
        for (int k : new int[] {0, 1, 17, 600}) {
            checkAgainstDgemm(rng, 33, 50, k, false, false, 1f);
            checkAgainstDgemm(rng, 33, 50, k, true, true, 0f);
        }
    }

    private static void checkAgainstDgemm(Rng rng, int m, int n, int k, boolean ta, boolean tb, float beta) {
        Operand a = Operand.random(rng, m, k, ta, 2);
        Operand b = Operand.random(rng, k, n, tb, 1);
        int ldc = n + 4;
        int cOff = 2;
        double[] c0 = new double[cOff + m * ldc];
        for (int i = 0; i < c0.length; i++) {
            c0[i] = (float) rng.nextGaussian();
        }
        float[] c32 = new float[c0.length];
        for (int i = 0; i < c0.length; i++) {
            c32[i] = (float) c0[i];
        }
        double[] c64 = c0.clone();
        Sgemm.gemm(m, n, k, a.f32(), a.offset, a.rowStride, a.colStride, b.f32(), b.offset, b.rowStride, b.colStride,
                beta, c32, cOff, ldc);
        Dgemm.gemm(m, n, k, a.f32AsF64(), a.offset, a.rowStride, a.colStride, b.f32AsF64(), b.offset, b.rowStride,
                b.colStride, beta, c64, cOff, ldc);
        String what = "m=" + m + " n=" + n + " k=" + k + " ta=" + ta + " tb=" + tb + " beta=" + beta;
        for (int i = 0; i < c0.length; i++) {
            int row = (i - cOff) / ldc;
            int col = (i - cOff) % ldc;
            boolean inside = i >= cOff && row < m && col < n;
            if (!inside) {
                assertEquals(c0[i], c32[i], 0.0, what + ": element " + i + " outside C was written");
                continue;
            }
            // Each dot product of k terms of size ~1 picks up float rounding of order sqrt(k) * 2^-24 per term.
            double tol = 1e-5 * (Math.sqrt(k) + 1) * (1 + Math.abs(c64[i]));
            assertEquals(c64[i], c32[i], tol, what + ": C(" + row + "," + col + ")");
        }
    }

    @Test
    void dgemmMatchesNaiveTripleLoop() {
        Rng rng = new Rng(4);
        int m = 19, n = 600, k = 140;
        Operand a = Operand.random(rng, m, k, true, 0);
        Operand b = Operand.random(rng, k, n, false, 3);
        double[] c = new double[m * n];
        Dgemm.gemm(m, n, k, a.values, a.offset, a.rowStride, a.colStride, b.values, b.offset, b.rowStride, b.colStride,
                0, c, 0, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += a.values[a.offset + i * a.rowStride + p * a.colStride] * b.values[b.offset + p * b.rowStride + j * b.colStride];
                }
                assertEquals(s, c[i * n + j], 1e-12 * k, "C(" + i + "," + j + ")");
            }
        }
    }

    @Test
    void batchedWithSharedOperandMatchesSeparateProducts() {
        Rng rng = new Rng(5);
        int batch = 5, m = 9, n = 35, k = 21;
        float[] a = randomFloats(rng, batch * m * k);
        float[] b = randomFloats(rng, k * n); // shared by every product: batch stride 0
        float[] c = new float[batch * m * n];
        Sgemm.gemmBatched(batch, m, n, k, a, 0, m * k, k, 1, b, 0, 0, n, 1, 0f, c, 0, m * n, n);
        for (int i = 0; i < batch; i++) {
            float[] one = new float[m * n];
            Sgemm.gemm(m, n, k, a, i * m * k, k, 1, b, 0, n, 1, 0f, one, 0, n);
            float[] got = java.util.Arrays.copyOfRange(c, i * m * n, (i + 1) * m * n);
            assertArrayEquals(one, got, "batch " + i);
        }
        // Shared C with beta 1 sums the products in batch order.
        float[] sum = new float[m * n];
        Sgemm.gemmBatched(batch, m, n, k, a, 0, m * k, k, 1, b, 0, 0, n, 1, 1f, sum, 0, 0, n);
        float[] expected = new float[m * n];
        for (int i = 0; i < batch; i++) {
            Sgemm.gemm(m, n, k, a, i * m * k, k, 1, b, 0, n, 1, 1f, expected, 0, n);
        }
        assertArrayEquals(expected, sum);
        double[] sum64 = new double[m * n];
        Dgemm.gemmBatched(batch, m, n, k, toDoubles(a), 0, m * k, k, 1, toDoubles(b), 0, 0, n, 1, 1, sum64, 0, 0, n);
        for (int i = 0; i < m * n; i++) {
            assertEquals(sum64[i], sum[i], 1e-4 * (1 + Math.abs(sum64[i])));
        }
    }

    @Test
    void resultsAreBitIdenticalForOneAndTwoThreads() {
        Rng rng = new Rng(6);
        int[][] shapes = {{300, 500, 260}, {700, 60, 300}, {64, 64, 64}, {1, 20000, 300}, {3, 8000, 200}, {10, 6000, 100}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            float[] a = randomFloats(rng, m * k);
            float[] b = randomFloats(rng, k * n);
            Parallel.setThreads(1);
            float[] c1 = new float[m * n];
            Sgemm.gemm(m, n, k, a, 0, 1, m, b, 0, n, 1, 0f, c1, 0, n);
            Parallel.setThreads(2);
            float[] c2 = new float[m * n];
            Sgemm.gemm(m, n, k, a, 0, 1, m, b, 0, n, 1, 0f, c2, 0, n);
            assertArrayEquals(c1, c2, "m=" + m + " n=" + n + " k=" + k);
        }
        int batch = 100, m = 30, n = 50, k = 80; // 12M multiply-adds: enough to be split over the batch
        float[] a = randomFloats(rng, batch * m * k);
        float[] b = randomFloats(rng, batch * k * n);
        Parallel.setThreads(1);
        float[] c1 = new float[batch * m * n];
        Sgemm.gemmBatched(batch, m, n, k, a, 0, m * k, k, 1, b, 0, k * n, 1, k, 0f, c1, 0, m * n, n);
        Parallel.setThreads(2);
        float[] c2 = new float[batch * m * n];
        Sgemm.gemmBatched(batch, m, n, k, a, 0, m * k, k, 1, b, 0, k * n, 1, k, 0f, c2, 0, m * n, n);
        assertArrayEquals(c1, c2, "batched");
    }

    /**
     * Sgemm against a scalar model of its documented summation order, bit for bit: each C element is a chain of
     * fused multiply-adds over k ascending within a KC block, started from zero, and each block's sum is added to
     * what C holds (after the first block, or from the start when beta is 1). Covers every operand layout, both
     * packings of A (row by row, and step-major for column-major A), short last row strips, narrow last column
     * strips and several k blocks.
     */
    @Test
    void summationOrderIsTheDocumentedOneForEveryLayout() {
        Rng rng = new Rng(9);
        // Column-major A is packed step-major when every strip of B is full width (n a multiple of NR): the second
        // and fourth shapes take that path with it, with a short last row strip and several k blocks.
        int[][] shapes = {{Sgemm.FEW_ROWS, 5, 3}, {Sgemm.MR, Sgemm.NR, Sgemm.KC}, {30, 70, 2 * Sgemm.KC + 5},
                {Sgemm.MC + 9, 2 * Sgemm.NR, 2 * Sgemm.KC + 3}, {Sgemm.MC + 9, 2 * Sgemm.NR + 16, Sgemm.KC + 1},
                {64, 130, 128}};
        for (int[] s : shapes) {
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    for (float beta : new float[] {0f, 1f}) {
                        checkSummationOrder(rng, s[0], s[1], s[2], ta, tb, beta);
                    }
                }
            }
        }
    }

    private static void checkSummationOrder(Rng rng, int m, int n, int k, boolean ta, boolean tb, float beta) {
        Operand ao = Operand.random(rng, m, k, ta, 1);
        Operand bo = Operand.random(rng, k, n, tb, 3);
        float[] a = ao.f32();
        float[] b = bo.f32();
        float[] c = randomFloats(rng, m * n);
        float[] expected = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = c[i * n + j];
                for (int p0 = 0; p0 < k; p0 += Sgemm.KC) {
                    float block = 0f;
                    for (int p = p0; p < Math.min(k, p0 + Sgemm.KC); p++) {
                        block = Math.fma(a[ao.offset + i * ao.rowStride + p * ao.colStride],
                                b[bo.offset + p * bo.rowStride + j * bo.colStride], block);
                    }
                    acc = p0 == 0 && beta == 0 ? block : acc + block;
                }
                expected[i * n + j] = acc;
            }
        }
        Sgemm.gemm(m, n, k, a, ao.offset, ao.rowStride, ao.colStride, b, bo.offset, bo.rowStride, bo.colStride, beta,
                c, 0, n);
        assertArrayEquals(expected, c, "m=" + m + " n=" + n + " k=" + k + " ta=" + ta + " tb=" + tb + " beta=" + beta);
    }

    /**
     * A row of C does not depend on which other rows are computed with it (the KV-cache decoder and data-parallel
     * shards rely on it): any range of rows computed alone, starting at any row, equals the same rows of the whole
     * product, for every layout and thread count.
     */
    @Test
    void rowsAreIndependentOfTheRowsComputedWithThem() {
        Rng rng = new Rng(10);
        int m = 2 * Sgemm.MC + 11, n = 2 * Sgemm.NR + 16, k = Sgemm.KC + 40;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                Operand ao = Operand.random(rng, m, k, ta, 0);
                Operand bo = Operand.random(rng, k, n, tb, 0);
                float[] a = ao.f32();
                float[] b = bo.f32();
                float[] whole = new float[m * n];
                Parallel.setThreads(1);
                Sgemm.gemm(m, n, k, a, ao.offset, ao.rowStride, ao.colStride, b, bo.offset, bo.rowStride,
                        bo.colStride, 0f, whole, 0, n);
                int[][] ranges = {{0, m}, {1, Sgemm.FEW_ROWS + 1}, {5, 5 + Sgemm.MR + 1}, {Sgemm.MC - 3, m},
                        {m - Sgemm.MR - 2, m}, {100, 100 + 3 * Sgemm.MR}};
                for (int threads : new int[] {1, 2}) {
                    Parallel.setThreads(threads);
                    for (int[] r : ranges) {
                        int rows = r[1] - r[0];
                        float[] part = new float[rows * n];
                        Sgemm.gemm(rows, n, k, a, ao.offset + r[0] * ao.rowStride, ao.rowStride, ao.colStride, b,
                                bo.offset, bo.rowStride, bo.colStride, 0f, part, 0, n);
                        float[] expected = java.util.Arrays.copyOfRange(whole, r[0] * n, r[1] * n);
                        assertArrayEquals(expected, part, "rows [" + r[0] + ", " + r[1] + ") ta=" + ta + " tb=" + tb
                                + " threads=" + threads);
                    }
                }
            }
        }
    }

    @Test
    void badArgumentsAreReportedClearly() {
        float[] x = new float[6];
        var e = assertThrows(IllegalArgumentException.class, () -> Sgemm.gemm(2, 3, 4, x, 0, 4, 1, x, 0, 3, 1, 0f, x, 0, 3));
        assertTrue(e.getMessage().contains("Sgemm.gemm") && e.getMessage().contains("A"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sgemm.gemm(1, 1, 1, x, 0, 1, 1, x, 0, 1, 1, 0.5f, x, 0, 1));
        assertTrue(e.getMessage().contains("beta"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Dgemm.gemm(-1, 1, 1, new double[1], 0, 1, 1,
                new double[1], 0, 1, 1, 0, new double[1], 0, 1));
        assertTrue(e.getMessage().contains("Dgemm.gemm") && e.getMessage().contains("m=-1"), e.getMessage());
    }

    private static float[] randomFloats(Rng rng, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rng.nextGaussian();
        }
        return f;
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
