package dev.jgrad.tensor.kernel;

import dev.jgrad.tensor.Parallel;

/**
 * Double-precision matrix multiply: the exact reference path. Plain loops, blocked only enough that the row of B
 * being streamed and the row of C being updated stay in cache; the F32 kernel ({@link Sgemm}) is tested against it.
 * Same contract as {@link Sgemm}: arbitrary operand strides, beta 0 or 1, results independent of the thread count.
 */
public final class Dgemm {
    /** Depth of one block of k: KC rows of B are reused for every row of C before moving on. */
    private static final int KC = 128;
    /** Width of one block of columns of C and B. */
    private static final int NC = 512;

    private Dgemm() {}

    /**
     * C[m x n] = A.B + beta.C where A(i,p) = a[aOff + i*aRowStride + p*aColStride], B(p,j) = b[bOff + p*bRowStride
     * + j*bColStride], C(i,j) = c[cOff + i*ldc + j]. beta is 0 or 1 (1 accumulates).
     */
    public static void gemm(int m, int n, int k, double[] a, int aOff, int aRowStride, int aColStride,
                            double[] b, int bOff, int bRowStride, int bColStride, double beta, double[] c, int cOff, int ldc) {
        Sgemm.checkArguments("Dgemm.gemm", m, n, k, beta, ldc);
        Sgemm.checkOperand("Dgemm.gemm", "A", a.length, aOff, m, aRowStride, k, aColStride);
        Sgemm.checkOperand("Dgemm.gemm", "B", b.length, bOff, k, bRowStride, n, bColStride);
        Sgemm.checkOperand("Dgemm.gemm", "C", c.length, cOff, m, ldc, n, 1);
        multiply(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, beta, c, cOff, ldc, true);
    }

    /** The same for {@code batch} products, operand i starting at aOff + i*aBatchStride etc. (0 = shared). */
    public static void gemmBatched(int batch, int m, int n, int k, double[] a, int aOff, int aBatchStride, int aRowStride,
                                   int aColStride, double[] b, int bOff, int bBatchStride, int bRowStride, int bColStride,
                                   double beta, double[] c, int cOff, int cBatchStride, int ldc) {
        if (batch < 0) {
            throw new IllegalArgumentException("Dgemm.gemmBatched: batch must be >= 0, got " + batch);
        }
        Sgemm.checkArguments("Dgemm.gemmBatched", m, n, k, beta, ldc);
        if (batch == 0) {
            return;
        }
        for (long first : new long[] {0, batch - 1}) {
            Sgemm.checkOperand("Dgemm.gemmBatched", "A", a.length, aOff + first * aBatchStride, m, aRowStride, k, aColStride);
            Sgemm.checkOperand("Dgemm.gemmBatched", "B", b.length, bOff + first * bBatchStride, k, bRowStride, n, bColStride);
            Sgemm.checkOperand("Dgemm.gemmBatched", "C", c.length, cOff + first * cBatchStride, m, ldc, n, 1);
        }
        long macs = (long) m * n * k;
        if ((cBatchStride == 0 && batch > 1) || macs >= Sgemm.PARALLEL_MIN_MACS || batch == 1) {
            for (int i = 0; i < batch; i++) {
                multiply(m, n, k, a, aOff + i * aBatchStride, aRowStride, aColStride, b, bOff + i * bBatchStride,
                        bRowStride, bColStride, beta, c, cOff + i * cBatchStride, ldc, true);
            }
            return;
        }
        int tasks = Math.min(batch, Parallel.chunks(macs * batch, Sgemm.PARALLEL_MIN_MACS));
        Parallel.forEachTask(tasks, t -> {
            for (int i = (int) ((long) batch * t / tasks); i < (int) ((long) batch * (t + 1) / tasks); i++) {
                multiply(m, n, k, a, aOff + i * aBatchStride, aRowStride, aColStride, b, bOff + i * bBatchStride,
                        bRowStride, bColStride, beta, c, cOff + i * cBatchStride, ldc, false);
            }
        });
    }

    private static void multiply(int m, int n, int k, double[] a, int aOff, int aRs, int aCs, double[] b, int bOff,
                                 int bRs, int bCs, double beta, double[] c, int cOff, int ldc, boolean mayFork) {
        if (m == 0 || n == 0) {
            return;
        }
        int tasks = mayFork ? Math.min(m, Parallel.chunks((long) m * n * k, Sgemm.PARALLEL_MIN_MACS)) : 1;
        // Threads take disjoint row ranges; each row is computed the same way whoever computes it.
        Parallel.forEachTask(tasks, t -> {
            int from = (int) ((long) m * t / tasks);
            int to = (int) ((long) m * (t + 1) / tasks);
            rows(from, to, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
        });
    }

    /** Rows [from, to) of C: for each block of columns and of k, c[i][j] += a[i][p] * b[p][j] with p ascending. */
    private static void rows(int from, int to, int n, int k, double[] a, int aOff, int aRs, int aCs, double[] b,
                             int bOff, int bRs, int bCs, double beta, double[] c, int cOff, int ldc) {
        if (beta == 0) {
            for (int i = from; i < to; i++) {
                java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0.0);
            }
        }
        for (int j0 = 0; j0 < n; j0 += NC) {
            int j1 = Math.min(n, j0 + NC);
            for (int p0 = 0; p0 < k; p0 += KC) {
                int p1 = Math.min(k, p0 + KC);
                for (int i = from; i < to; i++) {
                    int cRow = cOff + i * ldc;
                    for (int p = p0; p < p1; p++) {
                        double aip = a[aOff + i * aRs + p * aCs];
                        int bRow = bOff + p * bRs;
                        if (bCs == 1) {
                            // Unit stride written out so C2 can vectorise it.
                            for (int j = j0; j < j1; j++) {
                                c[cRow + j] += aip * b[bRow + j];
                            }
                        } else {
                            for (int j = j0; j < j1; j++) {
                                c[cRow + j] += aip * b[bRow + j * bCs];
                            }
                        }
                    }
                }
            }
        }
    }
}
