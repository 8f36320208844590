package dev.jgrad.tensor.kernel;

import dev.jgrad.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix multiply, the hot loop of every linear layer and attention head.
 *
 * <p>The structure is the classic Goto/BLIS one. B is cut into KC x NC blocks that are packed into NR-wide column
 * strips; A into MC x KC blocks packed into MR-tall row strips. A register-blocked micro-kernel then multiplies one
 * MR-row strip of A by one NR-column strip of B, keeping the whole MR x NR tile of C in vector registers for the full
 * KC-long dot products (6 rows x 4 vectors = 24 of AVX-512's 32 registers), so each loaded value feeds several FMAs
 * and every load hits L1 (the B strip, KC x NR floats = 32 KB of the 48 KB L1) or L2 (the packed A block).
 *
 * <p>The micro-kernels are long and repetitive on purpose: C2 only keeps vectors in registers when every operation
 * is visible in one compiled method, so the accumulators are separate locals and nothing vector-typed is passed to
 * a helper (a helper C2 declined to inline would box them; the first version ran at 6 GFLOP/s because of that).
 *
 * <p>Packing also makes strides free: operands are read through arbitrary (row, column) strides while packing, so a
 * transposed or sliced view multiplies with no copy beyond the packing every product does anyway. Both operands are
 * always packed, whatever their layout, because packing fixes the micro-kernel's strides at compile-time constants
 * (KC floats between rows of A, NR between steps of B): C2 then folds every address into one index register plus a
 * constant displacement and proves every index in range before the loop. Reading row-major A in place instead (as
 * an earlier version did) needs an address computation per row per step, plus range checks; those scalar
 * operations share the two ports that execute AVX-512 FMAs and held the kernel at about 140 GFLOP/s, against about
 * 165 packed (one core, this machine's FMA peak being 218).
 *
 * <p>Determinism: every C element is summed in the same order (k ascending within a KC block, KC blocks ascending)
 * whatever the thread count, because threads only split the output into disjoint column (or row) ranges.
 */
public final class Sgemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of C per micro-tile. */
    static final int MR = 6;
    /** Columns of C per micro-tile: four vectors, so layer widths that are multiples of 64 leave no narrow strip. */
    static final int NR = 4 * L;
    /** Depth of one packed block: a KC x NR strip of B (32 KB at AVX-512) stays in L1 while A streams past it. */
    static final int KC = 128;
    /** Rows of a packed A block, a multiple of MR: MC x KC floats = 168 KB, comfortably inside a 2 MB L2. */
    static final int MC = 336;
    /** Columns of a packed B block, a multiple of NR (KC x NC floats = 2 MB, kept in L2 and L3). */
    static final int NC = 4096;
    /** Products with fewer rows than this skip the micro-tiles (see fewRows). */
    static final int FEW_ROWS = 4;
    /**
     * Products smaller than this many multiply-adds (about 160^3) run on the calling thread only: waking the pool's
     * workers and waiting for them costs tens of microseconds, as long as a 128^3 product takes on one core.
     */
    static final long PARALLEL_MIN_MACS = 1L << 22;

    private Sgemm() {}

    /** Per-thread packing buffers, reused across calls so steady-state multiplies allocate nothing. */
    private static final class Buffers {
        final float[] packedA = new float[roundUp(MC, MR) * KC + L];
        final float[] packedB = new float[roundUp(NC, NR) * KC];
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /**
     * C[m x n] = A.B + beta.C where A(i,p) = a[aOff + i*aRowStride + p*aColStride], B(p,j) = b[bOff + p*bRowStride
     * + j*bColStride], C(i,j) = c[cOff + i*ldc + j]. Arbitrary strides let transposed/strided views be multiplied
     * with no copies. beta is 0 or 1 (1 accumulates, used by backward).
     */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int aRowStride, int aColStride,
                            float[] b, int bOff, int bRowStride, int bColStride, float beta, float[] c, int cOff, int ldc) {
        checkArguments("Sgemm.gemm", m, n, k, beta, ldc);
        checkOperand("Sgemm.gemm", "A", a.length, aOff, m, aRowStride, k, aColStride);
        checkOperand("Sgemm.gemm", "B", b.length, bOff, k, bRowStride, n, bColStride);
        checkOperand("Sgemm.gemm", "C", c.length, cOff, m, ldc, n, 1);
        multiply(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, beta, c, cOff, ldc, true,
                null);
    }

    // ------------------------------------------------------------------------------------------ fused products
    // A linear layer's output stage (bias, activation, and in the backward the activation's derivative) done by
    // the product itself on each block of C once the block holds its final sums, on the thread that computed it,
    // rather than in separate passes over the whole output. Each step is the operation the separate pass would
    // run (ElementwiseF32.add, gelu, geluAndDerivative, mul) on the finished sums, so results are the same bits.

    /** C = A.B + bias: bias[biasOff + j] added to column j of every row (see {@link #gemm} for the rest). */
    public static void gemmBias(int m, int n, int k, float[] a, int aOff, int aRowStride, int aColStride,
                                float[] b, int bOff, int bRowStride, int bColStride, float[] c, int cOff, int ldc,
                                float[] bias, int biasOff) {
        checkFused("Sgemm.gemmBias", m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff,
                ldc);
        checkOperand("Sgemm.gemmBias", "bias", bias.length, biasOff, 1, 0, n, 1);
        fused(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc,
                Epilogue.take().bias(bias, biasOff));
    }

    /**
     * act = gelu(A.B + bias) with the tanh GELU, bias as in {@link #gemmBias} (null for none) and act(i, j) at
     * act[actOff + i*ldc + j], C's layout. C receives A.B + bias, or with {@code derivative} gelu'(A.B + bias)
     * instead: all that the backward of a linear layer followed by GELU needs.
     */
    public static void gemmBiasGelu(int m, int n, int k, float[] a, int aOff, int aRowStride, int aColStride,
                                    float[] b, int bOff, int bRowStride, int bColStride, float[] c, int cOff, int ldc,
                                    float[] bias, int biasOff, float[] act, int actOff, boolean derivative) {
        checkFused("Sgemm.gemmBiasGelu", m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c,
                cOff, ldc);
        if (bias != null) {
            checkOperand("Sgemm.gemmBiasGelu", "bias", bias.length, biasOff, 1, 0, n, 1);
        }
        checkOperand("Sgemm.gemmBiasGelu", "act", act.length, actOff, m, ldc, n, 1);
        checkApart("Sgemm.gemmBiasGelu", "act", act, actOff, c, cOff, m, n, ldc);
        fused(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc,
                Epilogue.take().bias(bias, biasOff).gelu(act, actOff - cOff, derivative));
    }

    /**
     * C = (A.B) * F elementwise, F(i, j) at factor[factorOff + i*ldc + j], C's layout: the gradient of a linear
     * layer's input carried back through the activation before it, F being the activation's derivative.
     */
    public static void gemmTimes(int m, int n, int k, float[] a, int aOff, int aRowStride, int aColStride,
                                 float[] b, int bOff, int bRowStride, int bColStride, float[] c, int cOff, int ldc,
                                 float[] factor, int factorOff) {
        checkFused("Sgemm.gemmTimes", m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c,
                cOff, ldc);
        checkOperand("Sgemm.gemmTimes", "factor", factor.length, factorOff, m, ldc, n, 1);
        fused(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc,
                Epilogue.take().times(factor, factorOff - cOff));
    }

    private static void fused(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int bRs,
                              int bCs, float[] c, int cOff, int ldc, Epilogue epilogue) {
        try {
            multiply(m, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, 0f, c, cOff, ldc, true, epilogue);
        } finally {
            epilogue.release();
        }
    }

    private static void checkFused(String op, int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b,
                                   int bOff, int bRs, int bCs, float[] c, int cOff, int ldc) {
        checkArguments(op, m, n, k, 0, ldc);
        checkOperand(op, "A", a.length, aOff, m, aRs, k, aCs);
        checkOperand(op, "B", b.length, bOff, k, bRs, n, bCs);
        checkOperand(op, "C", c.length, cOff, m, ldc, n, 1);
    }

    /** Checks that an m x n operand laid out like C (ldc apart) shares no element with C. */
    private static void checkApart(String op, String name, float[] x, int xOff, float[] c, int cOff, int m, int n,
                                   int ldc) {
        if (x == c && m > 0 && n > 0 && xOff < cOff + (long) (m - 1) * ldc + n
                && cOff < xOff + (long) (m - 1) * ldc + n) {
            throw new IllegalArgumentException(op + ": " + name + " (offset " + xOff + ") overlaps C (offset " + cOff
                    + ") in an array of length " + c.length + " (" + m + " x " + n + ", ldc " + ldc + ")");
        }
    }

    /**
     * The same for {@code batch} independent products, operand i starting at aOff + i*aBatchStride etc. (batch
     * stride 0 = shared operand). With cBatchStride 0 and beta 1 the products are accumulated into one C, in batch
     * order.
     */
    public static void gemmBatched(int batch, int m, int n, int k, float[] a, int aOff, int aBatchStride, int aRowStride,
                                   int aColStride, float[] b, int bOff, int bBatchStride, int bRowStride, int bColStride,
                                   float beta, float[] c, int cOff, int cBatchStride, int ldc) {
        if (batch < 0) {
            throw new IllegalArgumentException("Sgemm.gemmBatched: batch must be >= 0, got " + batch);
        }
        checkArguments("Sgemm.gemmBatched", m, n, k, beta, ldc);
        if (batch == 0) {
            return;
        }
        checkOperand("Sgemm.gemmBatched", "A", a.length, aOff + (long) (batch - 1) * aBatchStride, m, aRowStride, k, aColStride);
        checkOperand("Sgemm.gemmBatched", "A", a.length, aOff, m, aRowStride, k, aColStride);
        checkOperand("Sgemm.gemmBatched", "B", b.length, bOff + (long) (batch - 1) * bBatchStride, k, bRowStride, n, bColStride);
        checkOperand("Sgemm.gemmBatched", "B", b.length, bOff, k, bRowStride, n, bColStride);
        checkOperand("Sgemm.gemmBatched", "C", c.length, cOff + (long) (batch - 1) * cBatchStride, m, ldc, n, 1);
        checkOperand("Sgemm.gemmBatched", "C", c.length, cOff, m, ldc, n, 1);
        long macs = (long) m * n * k;
        boolean sharedC = cBatchStride == 0 && batch > 1;
        if (sharedC || macs >= PARALLEL_MIN_MACS || batch == 1 || Parallel.threads() == 1) {
            // One product at a time, each free to use every thread (and a shared C is summed in batch order).
            for (int i = 0; i < batch; i++) {
                multiply(m, n, k, a, aOff + i * aBatchStride, aRowStride, aColStride, b, bOff + i * bBatchStride,
                        bRowStride, bColStride, beta, c, cOff + i * cBatchStride, ldc, true, null);
            }
            return;
        }
        // Many small products: hand whole products to threads, each computed exactly as it would be alone.
        int tasks = Math.min(batch, Parallel.chunks(macs * batch, PARALLEL_MIN_MACS));
        Parallel.forEachRange(batch, tasks, 1, SPLITS.take().set(SplitBy.BATCH, m, n, k, a, aOff, aRowStride,
                aColStride, b, bOff, bRowStride, bColStride, beta, c, cOff, ldc, null)
                .batchStrides(aBatchStride, bBatchStride, cBatchStride));
    }

    /**
     * What a fused product does to C once a block of it holds its final sums: add the bias, then GELU (and its
     * derivative), or multiply by a factor. It runs on each MC x NC block of C right after the block's last KC
     * step, while the block is in L2, a row of up to NC contiguous elements at a time. (Run on each micro-tile as
     * it was written, in L1, or on each NR-wide column panel of a block, GELU took about twice its standalone time;
     * on whole blocks it takes about its standalone time.)
     * One per calling thread, reused from call to call (a call that finds its thread's in use, a product started
     * from inside another one's task, takes a new one), so a fused product allocates nothing.
     */
    private static final class Epilogue {
        private static final ThreadLocal<Epilogue> OWN = ThreadLocal.withInitial(Epilogue::new);

        private float[] bias;
        private int biasOff;
        private float[] act;
        private boolean derivative;
        private float[] factor;
        /** act's (or factor's) offset minus C's: its (i, j) sits this far from C(i, j), in the same layout. */
        private int shift;
        private boolean inUse;

        static Epilogue take() {
            Epilogue e = OWN.get();
            if (e.inUse) {
                e = new Epilogue();
            }
            e.inUse = true;
            return e;
        }

        Epilogue bias(float[] bias, int biasOff) {
            this.bias = bias;
            this.biasOff = biasOff;
            return this;
        }

        Epilogue gelu(float[] act, int shift, boolean derivative) {
            this.act = act;
            this.shift = shift;
            this.derivative = derivative;
            return this;
        }

        Epilogue times(float[] factor, int shift) {
            this.factor = factor;
            this.shift = shift;
            return this;
        }

        void release() {
            bias = act = factor = null;
            derivative = false;
            inUse = false;
        }

        /** Rows x cols of C starting at c[ci], ldc apart, whose first column is column col of C (for the bias). */
        void apply(float[] c, int ci, int col, int rows, int cols, int ldc) {
            for (int r = 0, row = ci; r < rows; r++, row += ldc) {
                if (bias != null) {
                    ElementwiseF32.add(c, row, 1, bias, biasOff + col, 1, c, row, cols);
                }
                if (act != null) {
                    if (derivative) {
                        ElementwiseF32.geluAndDerivative(c, row, act, row + shift, c, row, cols);
                    } else {
                        ElementwiseF32.gelu(c, row, act, row + shift, cols);
                    }
                }
                if (factor != null) {
                    ElementwiseF32.mul(c, row, 1, factor, row + shift, 1, c, row, cols);
                }
            }
        }
    }

    /** What the ranges of a {@link Split} index. */
    private enum SplitBy { BATCH, ROWS, COLUMNS, FEW_ROWS_COLUMNS }

    /**
     * A product handed to threads in disjoint ranges: of batch entries (each product computed as it would be
     * alone, without forking), of rows or columns of C, or of columns of a product with few rows. A reusable task
     * (see {@link Parallel.RangeTask}), so that a parallel product allocates nothing.
     */
    private static final class Split extends Parallel.RangeTask {
        private SplitBy by;
        private int m, n, k, aOff, aBs, aRs, aCs, bOff, bBs, bRs, bCs, cOff, cBs, ldc;
        private float[] a, b, c;
        private float beta;
        private Epilogue epilogue;

        /** The arguments of {@link #multiply}, for one product or the first of a batch. */
        Split set(SplitBy by, int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int bRs,
                  int bCs, float beta, float[] c, int cOff, int ldc, Epilogue epilogue) {
            this.by = by;
            this.m = m;
            this.n = n;
            this.k = k;
            this.a = a;
            this.aOff = aOff;
            this.aRs = aRs;
            this.aCs = aCs;
            this.b = b;
            this.bOff = bOff;
            this.bRs = bRs;
            this.bCs = bCs;
            this.beta = beta;
            this.c = c;
            this.cOff = cOff;
            this.ldc = ldc;
            this.epilogue = epilogue;
            return batchStrides(0, 0, 0);
        }

        /** How far apart the operands of consecutive batch entries start. */
        Split batchStrides(int aBs, int bBs, int cBs) {
            this.aBs = aBs;
            this.bBs = bBs;
            this.cBs = cBs;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            switch (by) {
                case BATCH -> {
                    for (int i = from; i < to; i++) {
                        multiply(m, n, k, a, aOff + i * aBs, aRs, aCs, b, bOff + i * bBs, bRs, bCs, beta, c,
                                cOff + i * cBs, ldc, false, epilogue);
                    }
                }
                case ROWS -> blocked(from, to, 0, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc,
                        epilogue);
                case COLUMNS -> blocked(0, m, from, to, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc,
                        epilogue);
                case FEW_ROWS_COLUMNS ->
                        fewRows(m, from, to, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, epilogue);
            }
        }

        @Override
        protected void clear() {
            a = b = c = null;
            epilogue = null;
        }
    }

    private static final Parallel.TaskCache<Split> SPLITS = new Parallel.TaskCache<>(Split::new);

    // ------------------------------------------------------------------------------------------ argument checks

    static void checkArguments(String op, int m, int n, int k, double beta, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException(op + ": sizes must be >= 0, got m=" + m + ", n=" + n + ", k=" + k);
        }
        if (beta != 0 && beta != 1) {
            throw new IllegalArgumentException(op + ": beta must be 0 or 1, got " + beta);
        }
        if (ldc < n && m > 1) {
            throw new IllegalArgumentException(op + ": ldc=" + ldc + " is smaller than n=" + n);
        }
    }

    /** Checks that a rows x cols operand at the given offset and strides lies inside its array. */
    static void checkOperand(String op, String name, int length, long offset, int rows, long rowStride, int cols,
                             long colStride) {
        if (rows == 0 || cols == 0) {
            return;
        }
        if (rowStride < 0 || colStride < 0) {
            throw new IllegalArgumentException(op + ": " + name + " strides must be >= 0, got (" + rowStride + ", "
                    + colStride + ")");
        }
        long last = offset + (rows - 1) * rowStride + (cols - 1) * colStride;
        if (offset < 0 || last >= length) {
            throw new IllegalArgumentException(op + ": " + name + " (" + rows + " x " + cols + ", offset " + offset
                    + ", strides (" + rowStride + ", " + colStride + ")) reaches index " + last
                    + " of an array of length " + length);
        }
    }

    // ------------------------------------------------------------------------------------------ driver

    /** C = A.B + beta.C, then the epilogue (null for none) on all of C. */
    private static void multiply(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff,
                                 int bRs, int bCs, float beta, float[] c, int cOff, int ldc, boolean mayFork,
                                 Epilogue epilogue) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            if (beta == 0) {
                for (int i = 0; i < m; i++) {
                    java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
                }
            }
            if (epilogue != null) {
                epilogue.apply(c, cOff, 0, m, n, ldc);
            }
            return;
        }
        long macs = (long) m * n * k;
        int tasks = mayFork ? Parallel.chunks(macs, PARALLEL_MIN_MACS) : 1;
        if (m < FEW_ROWS && (bCs == 1 || (bRs == 1 && aCs == 1))) {
            // A row or three (vector-matrix products, decoding one token): a micro-tile of MR rows would mostly
            // multiply padding, so stream B once per row instead. Threads take disjoint column ranges.
            int parts = Math.min(tasks, ceilDiv(n, L));
            if (parts <= 1) {
                fewRows(m, 0, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, epilogue);
            } else {
                Parallel.forEachRange(n, parts, L, SPLITS.take().set(SplitBy.FEW_ROWS_COLUMNS, m, n, k, a, aOff,
                        aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, epilogue));
            }
            return;
        }
        if (tasks <= 1) {
            blocked(0, m, 0, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, epilogue);
            return;
        }
        // Threads take disjoint ranges of C. Row ranges are preferred: two threads writing neighbouring columns of
        // the same rows would share (and fight over) the cache line at their boundary in every row. Columns are
        // split, in whole vectors, only when there are too few rows to go round.
        int rowStrips = ceilDiv(m, MR);
        if (rowStrips >= 2 * tasks || rowStrips * NR >= n) {
            Parallel.forEachRange(m, Math.min(tasks, rowStrips), MR, SPLITS.take().set(SplitBy.ROWS, m, n, k, a, aOff,
                    aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, epilogue));
        } else {
            Parallel.forEachRange(n, Math.min(tasks, ceilDiv(n, L)), L, SPLITS.take().set(SplitBy.COLUMNS, m, n, k, a,
                    aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, epilogue));
        }
    }

    /**
     * Columns [j0, j1) of a C with fewer than FEW_ROWS rows, for row-major B or (with row-major A) column-major B,
     * each row finished by the epilogue (null for none) once its sums are in.
     */
    private static void fewRows(int m, int j0, int j1, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff,
                                int bRs, int bCs, float beta, float[] c, int cOff, int ldc, Epilogue epilogue) {
        for (int i = 0; i < m; i++) {
            int aRow = aOff + i * aRs;
            int cRow = cOff + i * ldc;
            if (bCs == 1) {
                // C row += a(i,p) * B row p for p ascending: one axpy per p, vectorised over the columns.
                if (beta == 0) {
                    java.util.Arrays.fill(c, cRow + j0, cRow + j1, 0f);
                }
                int bound = j0 + S.loopBound(j1 - j0);
                for (int p = 0; p < k; p++) {
                    float aip = a[aRow + p * aCs];
                    FloatVector x = FloatVector.broadcast(S, aip);
                    int bRow = bOff + p * bRs;
                    int j = j0;
                    for (; j < bound; j += L) {
                        x.fma(FloatVector.fromArray(S, b, bRow + j), FloatVector.fromArray(S, c, cRow + j))
                                .intoArray(c, cRow + j);
                    }
                    for (; j < j1; j++) {
                        c[cRow + j] = Math.fma(aip, b[bRow + j], c[cRow + j]);
                    }
                }
            } else {
                // Column-major B (a transposed weight): each element is a dot product of two contiguous rows.
                for (int j = j0; j < j1; j++) {
                    float dot = Lanes.dot(a, aRow, b, bOff + j * bCs, k);
                    c[cRow + j] = beta == 0 ? dot : c[cRow + j] + dot;
                }
            }
            if (epilogue != null) {
                epilogue.apply(c, cRow + j0, j0, 1, j1 - j0, ldc);
            }
        }
    }

    /** Computes rows [m0, m1) x columns [n0, n1) of C on the calling thread, then the epilogue (null for none). */
    private static void blocked(int m0, int m1, int n0, int n1, int k, float[] a, int aOff, int aRs, int aCs, float[] b,
                                int bOff, int bRs, int bCs, float beta, float[] c, int cOff, int ldc, Epilogue epilogue) {
        Buffers buf = BUFFERS.get();
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean accumulate = pc > 0 || beta != 0;
                boolean last = pc + kc == k;   // C then holds its final sums
                packB(kc, nc, b, bOff + pc * bRs + jc * bCs, bRs, bCs, buf.packedB);
                // Column-major A (the gᵀ of a weight gradient gᵀx) has a step's MR values side by side: packed
                // step-major they are one vector copy per step instead of a transpose. Only the full-width kernel
                // reads that layout, so products with a narrow last strip of B transpose A like any other layout.
                boolean stepMajor = aRs == 1 && aCs != 1 && nc % NR == 0;
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    int aBlock = aOff + ic * aRs + pc * aCs;
                    if (stepMajor) {
                        packAStepMajor(mc, kc, a, aBlock, aCs, buf.packedA);
                    } else {
                        packA(mc, kc, a, aBlock, aRs, aCs, buf.packedA);
                    }
                    macroKernel(mc, nc, kc, buf.packedA, stepMajor, buf.packedB, c, cOff + ic * ldc + jc, ldc,
                            accumulate, buf);
                    if (last && epilogue != null) {
                        epilogue.apply(c, cOff + ic * ldc + jc, jc, mc, nc, ldc);
                    }
                }
            }
        }
    }

    /** Packs a kc x nc block of B into NR-wide strips, each stored p-major (NR values per p), zero-padded. */
    private static void packB(int kc, int nc, float[] b, int off, int rs, int cs, float[] dst) {
        int d = 0;
        for (int j0 = 0; j0 < nc; j0 += NR) {
            int w = Math.min(NR, nc - j0);
            if (cs == 1 && w == NR) {
                // Whole strips of row-major B: four vector copies per row, cheaper than an arraycopy call each.
                for (int p = 0, src = off + j0; p < kc; p++, src += rs, d += NR) {
                    FloatVector.fromArray(S, b, src).intoArray(dst, d);
                    FloatVector.fromArray(S, b, src + L).intoArray(dst, d + L);
                    FloatVector.fromArray(S, b, src + 2 * L).intoArray(dst, d + 2 * L);
                    FloatVector.fromArray(S, b, src + 3 * L).intoArray(dst, d + 3 * L);
                }
                continue;
            }
            if (rs == 1) {
                // Column-major B (a transposed weight Wᵀ read in place, the forward x.Wᵀ): copy each column, which
                // is contiguous in b, down the strip. Both indices are linear in p with constant scales, so C2
                // drops the range checks; walking p-major instead strides through b and checks every load.
                for (int j = 0; j < w; j++) {
                    int src = off + (j0 + j) * cs;
                    for (int p = 0; p < kc; p++) {
                        dst[d + p * NR + j] = b[src + p];
                    }
                }
                for (int p = 0; p < kc && w < NR; p++) {
                    java.util.Arrays.fill(dst, d + p * NR + w, d + (p + 1) * NR, 0f);
                }
                d += kc * NR;
                continue;
            }
            for (int p = 0; p < kc; p++) {
                int src = off + p * rs + j0 * cs;
                if (cs == 1) {
                    System.arraycopy(b, src, dst, d, w);
                } else {
                    for (int j = 0; j < w; j++) {
                        dst[d + j] = b[src + j * cs];
                    }
                }
                for (int j = w; j < NR; j++) {
                    dst[d + j] = 0f;
                }
                d += NR;
            }
        }
    }

    /**
     * Packs an mc x kc block of A into MR-tall strips of MR x KC floats, row i of a strip at offset i*KC (whatever kc
     * is, so the micro-kernel's row offsets are constants), rows past the end of A zero-filled. Row-major A (the
     * activations of a forward x.Wᵀ, the gradient of dx = g.W: two thirds of a training step's A operands) packs with
     * one arraycopy per row. Other layouts are gathered element by element, a step's MR values together (they sit
     * side by side in a column-major A, which comes here only when B has a narrow last strip; see blocked).
     */
    private static void packA(int mc, int kc, float[] a, int off, int rs, int cs, float[] dst) {
        for (int i0 = 0, d = 0; i0 < mc; i0 += MR, d += MR * KC) {
            int h = Math.min(MR, mc - i0);
            int rowBase = off + i0 * rs;
            if (cs == 1) {
                for (int i = 0; i < h; i++) {
                    System.arraycopy(a, rowBase + i * rs, dst, d + i * KC, kc);
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    int src = rowBase + p * cs;
                    for (int i = 0; i < h; i++) {
                        dst[d + i * KC + p] = a[src + i * rs];
                    }
                }
            }
            for (int i = h; i < MR; i++) {
                java.util.Arrays.fill(dst, d + i * KC, d + i * KC + kc, 0f);
            }
        }
    }

    /**
     * Packs an mc x kc block of column-major A (A(i, p) at a[off + i + p*cs]) step-major: strip s holds
     * A(s*MR + i, p) at s*MR*KC + p*MR + i, rows past the end of A zero-filled. Each step of a whole strip is one vector copy from a;
     * the next step's store overwrites all but its first MR lanes, and the buffer has a vector's slack past the last.
     */
    private static void packAStepMajor(int mc, int kc, float[] a, int off, int cs, float[] dst) {
        for (int i0 = 0, d = 0; i0 < mc; i0 += MR, d += MR * KC) {
            int h = Math.min(MR, mc - i0);
            int p = 0;
            if (h == MR) {
                for (int src = off + i0; p < kc && src + L <= a.length; p++, src += cs) {
                    FloatVector.fromArray(S, a, src).intoArray(dst, d + p * MR);
                }
            }
            for (; p < kc; p++) {
                int src = off + i0 + p * cs;
                int o = d + p * MR;
                for (int i = 0; i < h; i++) {
                    dst[o + i] = a[src + i];
                }
                for (int i = h; i < MR; i++) {
                    dst[o + i] = 0f;
                }
            }
        }
    }

    /**
     * All micro-tiles of one packed block of A (MR-tall strips of MR x KC floats, row-major or step-major) against one
     * packed block of B (NR-wide strips, each kc x NR).
     */
    private static void macroKernel(int mc, int nc, int kc, float[] pa, boolean stepMajor, float[] pb, float[] c,
                                    int cBase, int ldc, boolean accumulate, Buffers buf) {
        for (int j0 = 0; j0 < nc; j0 += NR) {
            int w = Math.min(NR, nc - j0);
            // A narrow last strip runs a kernel only as wide as it needs (n = 1024 ends in a 16-wide strip).
            int vectors = ceilDiv(w, L);
            int bi = (j0 / NR) * kc * NR;
            for (int i0 = 0; i0 < mc; i0 += MR) {
                int h = Math.min(MR, mc - i0);
                int ai = (i0 / MR) * MR * KC;
                int ci = cBase + i0 * ldc + j0;
                if (h == MR && w == vectors * L) {
                    if (stepMajor) {
                        microKernelStepMajor(kc, pa, ai, pb, bi, c, ci, ldc, accumulate);
                    } else {
                        microKernel(vectors, kc, pa, ai, pb, bi, c, ci, ldc, accumulate);
                    }
                } else {
                    // Edge tile: compute the padded tile aside, then add only the part inside C.
                    float[] tile = buf.tile;
                    if (stepMajor) {
                        microKernelStepMajor(kc, pa, ai, pb, bi, tile, 0, NR, false);
                    } else {
                        microKernel(vectors, kc, pa, ai, pb, bi, tile, 0, NR, false);
                    }
                    for (int i = 0; i < h; i++) {
                        int row = ci + i * ldc;
                        for (int j = 0; j < w; j++) {
                            c[row + j] = accumulate ? c[row + j] + tile[i * NR + j] : tile[i * NR + j];
                        }
                    }
                }
            }
        }
    }

    private static void microKernel(int vectors, int kc, float[] pa, int ai, float[] pb, int bi, float[] c, int ci,
                                    int ldc, boolean accumulate) {
        switch (vectors) {
            case 4 -> microKernel4(kc, pa, ai, pb, bi, c, ci, ldc, accumulate);
            case 3 -> microKernel3(kc, pa, ai, pb, bi, c, ci, ldc, accumulate);
            case 2 -> microKernel2(kc, pa, ai, pb, bi, c, ci, ldc, accumulate);
            default -> microKernel1(kc, pa, ai, pb, bi, c, ci, ldc, accumulate);
        }
    }

    /**
     * C[MR x 4L] (+)= A strip . B strip over kc steps, both packed: A(i, p) is pa[ai + i*KC + p] and the B strip's
     * row p starts at pb[bi + p*NR]. Both strides are constants, so every A address is one index register plus a
     * displacement, and C2 proves the indices in range before the loop: a step is 4 vector loads, 6 broadcast loads,
     * 24 FMAs and the loop's own increment and branch. The 24 accumulators are plain locals so C2 keeps them all in
     * registers (with the four B vectors and the broadcast value, all 32 of AVX-512's). The body is unrolled by hand:
     * the JIT does not unroll across vector variables. microKernel3, 2 and 1 are the same kernel three, two and one
     * vectors wide, for narrow last strips.
     */
    private static void microKernel4(int kc, float[] pa, int ai, float[] pb, int bi, float[] c, int ci, int ldc,
                                     boolean accumulate) {
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = FloatVector.zero(S),
                c0_2 = FloatVector.zero(S), c0_3 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S), c1_1 = FloatVector.zero(S),
                c1_2 = FloatVector.zero(S), c1_3 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S), c2_1 = FloatVector.zero(S),
                c2_2 = FloatVector.zero(S), c2_3 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S), c3_1 = FloatVector.zero(S),
                c3_2 = FloatVector.zero(S), c3_3 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S), c4_1 = FloatVector.zero(S),
                c4_2 = FloatVector.zero(S), c4_3 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S), c5_1 = FloatVector.zero(S),
                c5_2 = FloatVector.zero(S), c5_3 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ao = ai + p, bo = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector b1 = FloatVector.fromArray(S, pb, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, pb, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, pb, bo + 3 * L);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            c0_2 = x.fma(b2, c0_2);
            c0_3 = x.fma(b3, c0_3);
            x = FloatVector.broadcast(S, pa[ao + KC]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            c1_2 = x.fma(b2, c1_2);
            c1_3 = x.fma(b3, c1_3);
            x = FloatVector.broadcast(S, pa[ao + 2 * KC]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            c2_2 = x.fma(b2, c2_2);
            c2_3 = x.fma(b3, c2_3);
            x = FloatVector.broadcast(S, pa[ao + 3 * KC]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            c3_2 = x.fma(b2, c3_2);
            c3_3 = x.fma(b3, c3_3);
            x = FloatVector.broadcast(S, pa[ao + 4 * KC]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            c4_2 = x.fma(b2, c4_2);
            c4_3 = x.fma(b3, c4_3);
            x = FloatVector.broadcast(S, pa[ao + 5 * KC]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
            c5_2 = x.fma(b2, c5_2);
            c5_3 = x.fma(b3, c5_3);
        }
        if (accumulate) {
            c0_0 = c0_0.add(FloatVector.fromArray(S, c, ci));
            c0_1 = c0_1.add(FloatVector.fromArray(S, c, ci + L));
            c0_2 = c0_2.add(FloatVector.fromArray(S, c, ci + 2 * L));
            c0_3 = c0_3.add(FloatVector.fromArray(S, c, ci + 3 * L));
            c1_0 = c1_0.add(FloatVector.fromArray(S, c, ci + ldc));
            c1_1 = c1_1.add(FloatVector.fromArray(S, c, ci + ldc + L));
            c1_2 = c1_2.add(FloatVector.fromArray(S, c, ci + ldc + 2 * L));
            c1_3 = c1_3.add(FloatVector.fromArray(S, c, ci + ldc + 3 * L));
            c2_0 = c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc));
            c2_1 = c2_1.add(FloatVector.fromArray(S, c, ci + 2 * ldc + L));
            c2_2 = c2_2.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 2 * L));
            c2_3 = c2_3.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 3 * L));
            c3_0 = c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc));
            c3_1 = c3_1.add(FloatVector.fromArray(S, c, ci + 3 * ldc + L));
            c3_2 = c3_2.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 2 * L));
            c3_3 = c3_3.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 3 * L));
            c4_0 = c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc));
            c4_1 = c4_1.add(FloatVector.fromArray(S, c, ci + 4 * ldc + L));
            c4_2 = c4_2.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 2 * L));
            c4_3 = c4_3.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 3 * L));
            c5_0 = c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc));
            c5_1 = c5_1.add(FloatVector.fromArray(S, c, ci + 5 * ldc + L));
            c5_2 = c5_2.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 2 * L));
            c5_3 = c5_3.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 3 * L));
        }
        c0_0.intoArray(c, ci);
        c0_1.intoArray(c, ci + L);
        c0_2.intoArray(c, ci + 2 * L);
        c0_3.intoArray(c, ci + 3 * L);
        c1_0.intoArray(c, ci + ldc);
        c1_1.intoArray(c, ci + ldc + L);
        c1_2.intoArray(c, ci + ldc + 2 * L);
        c1_3.intoArray(c, ci + ldc + 3 * L);
        c2_0.intoArray(c, ci + 2 * ldc);
        c2_1.intoArray(c, ci + 2 * ldc + L);
        c2_2.intoArray(c, ci + 2 * ldc + 2 * L);
        c2_3.intoArray(c, ci + 2 * ldc + 3 * L);
        c3_0.intoArray(c, ci + 3 * ldc);
        c3_1.intoArray(c, ci + 3 * ldc + L);
        c3_2.intoArray(c, ci + 3 * ldc + 2 * L);
        c3_3.intoArray(c, ci + 3 * ldc + 3 * L);
        c4_0.intoArray(c, ci + 4 * ldc);
        c4_1.intoArray(c, ci + 4 * ldc + L);
        c4_2.intoArray(c, ci + 4 * ldc + 2 * L);
        c4_3.intoArray(c, ci + 4 * ldc + 3 * L);
        c5_0.intoArray(c, ci + 5 * ldc);
        c5_1.intoArray(c, ci + 5 * ldc + L);
        c5_2.intoArray(c, ci + 5 * ldc + 2 * L);
        c5_3.intoArray(c, ci + 5 * ldc + 3 * L);
    }

    /**
     * microKernel4 for a step-major A strip (A(i, p) at pa[ai + p*MR + i]): the six broadcasts of a step read six
     * adjacent floats.
     */
    private static void microKernelStepMajor(int kc, float[] pa, int ai, float[] pb, int bi, float[] c, int ci,
                                             int ldc, boolean accumulate) {
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = FloatVector.zero(S),
                c0_2 = FloatVector.zero(S), c0_3 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S), c1_1 = FloatVector.zero(S),
                c1_2 = FloatVector.zero(S), c1_3 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S), c2_1 = FloatVector.zero(S),
                c2_2 = FloatVector.zero(S), c2_3 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S), c3_1 = FloatVector.zero(S),
                c3_2 = FloatVector.zero(S), c3_3 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S), c4_1 = FloatVector.zero(S),
                c4_2 = FloatVector.zero(S), c4_3 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S), c5_1 = FloatVector.zero(S),
                c5_2 = FloatVector.zero(S), c5_3 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ao = ai + p * MR, bo = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector b1 = FloatVector.fromArray(S, pb, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, pb, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, pb, bo + 3 * L);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            c0_2 = x.fma(b2, c0_2);
            c0_3 = x.fma(b3, c0_3);
            x = FloatVector.broadcast(S, pa[ao + 1]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            c1_2 = x.fma(b2, c1_2);
            c1_3 = x.fma(b3, c1_3);
            x = FloatVector.broadcast(S, pa[ao + 2]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            c2_2 = x.fma(b2, c2_2);
            c2_3 = x.fma(b3, c2_3);
            x = FloatVector.broadcast(S, pa[ao + 3]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            c3_2 = x.fma(b2, c3_2);
            c3_3 = x.fma(b3, c3_3);
            x = FloatVector.broadcast(S, pa[ao + 4]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            c4_2 = x.fma(b2, c4_2);
            c4_3 = x.fma(b3, c4_3);
            x = FloatVector.broadcast(S, pa[ao + 5]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
            c5_2 = x.fma(b2, c5_2);
            c5_3 = x.fma(b3, c5_3);
        }
        if (accumulate) {
            c0_0 = c0_0.add(FloatVector.fromArray(S, c, ci));
            c0_1 = c0_1.add(FloatVector.fromArray(S, c, ci + L));
            c0_2 = c0_2.add(FloatVector.fromArray(S, c, ci + 2 * L));
            c0_3 = c0_3.add(FloatVector.fromArray(S, c, ci + 3 * L));
            c1_0 = c1_0.add(FloatVector.fromArray(S, c, ci + ldc));
            c1_1 = c1_1.add(FloatVector.fromArray(S, c, ci + ldc + L));
            c1_2 = c1_2.add(FloatVector.fromArray(S, c, ci + ldc + 2 * L));
            c1_3 = c1_3.add(FloatVector.fromArray(S, c, ci + ldc + 3 * L));
            c2_0 = c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc));
            c2_1 = c2_1.add(FloatVector.fromArray(S, c, ci + 2 * ldc + L));
            c2_2 = c2_2.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 2 * L));
            c2_3 = c2_3.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 3 * L));
            c3_0 = c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc));
            c3_1 = c3_1.add(FloatVector.fromArray(S, c, ci + 3 * ldc + L));
            c3_2 = c3_2.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 2 * L));
            c3_3 = c3_3.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 3 * L));
            c4_0 = c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc));
            c4_1 = c4_1.add(FloatVector.fromArray(S, c, ci + 4 * ldc + L));
            c4_2 = c4_2.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 2 * L));
            c4_3 = c4_3.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 3 * L));
            c5_0 = c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc));
            c5_1 = c5_1.add(FloatVector.fromArray(S, c, ci + 5 * ldc + L));
            c5_2 = c5_2.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 2 * L));
            c5_3 = c5_3.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 3 * L));
        }
        c0_0.intoArray(c, ci);
        c0_1.intoArray(c, ci + L);
        c0_2.intoArray(c, ci + 2 * L);
        c0_3.intoArray(c, ci + 3 * L);
        c1_0.intoArray(c, ci + ldc);
        c1_1.intoArray(c, ci + ldc + L);
        c1_2.intoArray(c, ci + ldc + 2 * L);
        c1_3.intoArray(c, ci + ldc + 3 * L);
        c2_0.intoArray(c, ci + 2 * ldc);
        c2_1.intoArray(c, ci + 2 * ldc + L);
        c2_2.intoArray(c, ci + 2 * ldc + 2 * L);
        c2_3.intoArray(c, ci + 2 * ldc + 3 * L);
        c3_0.intoArray(c, ci + 3 * ldc);
        c3_1.intoArray(c, ci + 3 * ldc + L);
        c3_2.intoArray(c, ci + 3 * ldc + 2 * L);
        c3_3.intoArray(c, ci + 3 * ldc + 3 * L);
        c4_0.intoArray(c, ci + 4 * ldc);
        c4_1.intoArray(c, ci + 4 * ldc + L);
        c4_2.intoArray(c, ci + 4 * ldc + 2 * L);
        c4_3.intoArray(c, ci + 4 * ldc + 3 * L);
        c5_0.intoArray(c, ci + 5 * ldc);
        c5_1.intoArray(c, ci + 5 * ldc + L);
        c5_2.intoArray(c, ci + 5 * ldc + 2 * L);
        c5_3.intoArray(c, ci + 5 * ldc + 3 * L);
    }

    private static void microKernel3(int kc, float[] pa, int ai, float[] pb, int bi, float[] c, int ci, int ldc,
                                     boolean accumulate) {
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = FloatVector.zero(S), c0_2 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S), c1_1 = FloatVector.zero(S), c1_2 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S), c2_1 = FloatVector.zero(S), c2_2 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S), c3_1 = FloatVector.zero(S), c3_2 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S), c4_1 = FloatVector.zero(S), c4_2 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S), c5_1 = FloatVector.zero(S), c5_2 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ao = ai + p, bo = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector b1 = FloatVector.fromArray(S, pb, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, pb, bo + 2 * L);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            c0_2 = x.fma(b2, c0_2);
            x = FloatVector.broadcast(S, pa[ao + KC]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            c1_2 = x.fma(b2, c1_2);
            x = FloatVector.broadcast(S, pa[ao + 2 * KC]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            c2_2 = x.fma(b2, c2_2);
            x = FloatVector.broadcast(S, pa[ao + 3 * KC]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            c3_2 = x.fma(b2, c3_2);
            x = FloatVector.broadcast(S, pa[ao + 4 * KC]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            c4_2 = x.fma(b2, c4_2);
            x = FloatVector.broadcast(S, pa[ao + 5 * KC]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
            c5_2 = x.fma(b2, c5_2);
        }
        if (accumulate) {
            c0_0 = c0_0.add(FloatVector.fromArray(S, c, ci));
            c0_1 = c0_1.add(FloatVector.fromArray(S, c, ci + L));
            c0_2 = c0_2.add(FloatVector.fromArray(S, c, ci + 2 * L));
            c1_0 = c1_0.add(FloatVector.fromArray(S, c, ci + ldc));
            c1_1 = c1_1.add(FloatVector.fromArray(S, c, ci + ldc + L));
            c1_2 = c1_2.add(FloatVector.fromArray(S, c, ci + ldc + 2 * L));
            c2_0 = c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc));
            c2_1 = c2_1.add(FloatVector.fromArray(S, c, ci + 2 * ldc + L));
            c2_2 = c2_2.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 2 * L));
            c3_0 = c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc));
            c3_1 = c3_1.add(FloatVector.fromArray(S, c, ci + 3 * ldc + L));
            c3_2 = c3_2.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 2 * L));
            c4_0 = c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc));
            c4_1 = c4_1.add(FloatVector.fromArray(S, c, ci + 4 * ldc + L));
            c4_2 = c4_2.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 2 * L));
            c5_0 = c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc));
            c5_1 = c5_1.add(FloatVector.fromArray(S, c, ci + 5 * ldc + L));
            c5_2 = c5_2.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 2 * L));
        }
        c0_0.intoArray(c, ci);
        c0_1.intoArray(c, ci + L);
        c0_2.intoArray(c, ci + 2 * L);
        c1_0.intoArray(c, ci + ldc);
        c1_1.intoArray(c, ci + ldc + L);
        c1_2.intoArray(c, ci + ldc + 2 * L);
        c2_0.intoArray(c, ci + 2 * ldc);
        c2_1.intoArray(c, ci + 2 * ldc + L);
        c2_2.intoArray(c, ci + 2 * ldc + 2 * L);
        c3_0.intoArray(c, ci + 3 * ldc);
        c3_1.intoArray(c, ci + 3 * ldc + L);
        c3_2.intoArray(c, ci + 3 * ldc + 2 * L);
        c4_0.intoArray(c, ci + 4 * ldc);
        c4_1.intoArray(c, ci + 4 * ldc + L);
        c4_2.intoArray(c, ci + 4 * ldc + 2 * L);
        c5_0.intoArray(c, ci + 5 * ldc);
        c5_1.intoArray(c, ci + 5 * ldc + L);
        c5_2.intoArray(c, ci + 5 * ldc + 2 * L);
    }

    private static void microKernel2(int kc, float[] pa, int ai, float[] pb, int bi, float[] c, int ci, int ldc,
                                     boolean accumulate) {
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S), c1_1 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S), c2_1 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S), c3_1 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S), c4_1 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S), c5_1 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ao = ai + p, bo = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector b1 = FloatVector.fromArray(S, pb, bo + L);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            x = FloatVector.broadcast(S, pa[ao + KC]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            x = FloatVector.broadcast(S, pa[ao + 2 * KC]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            x = FloatVector.broadcast(S, pa[ao + 3 * KC]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            x = FloatVector.broadcast(S, pa[ao + 4 * KC]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            x = FloatVector.broadcast(S, pa[ao + 5 * KC]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
        }
        if (accumulate) {
            c0_0 = c0_0.add(FloatVector.fromArray(S, c, ci));
            c0_1 = c0_1.add(FloatVector.fromArray(S, c, ci + L));
            c1_0 = c1_0.add(FloatVector.fromArray(S, c, ci + ldc));
            c1_1 = c1_1.add(FloatVector.fromArray(S, c, ci + ldc + L));
            c2_0 = c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc));
            c2_1 = c2_1.add(FloatVector.fromArray(S, c, ci + 2 * ldc + L));
            c3_0 = c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc));
            c3_1 = c3_1.add(FloatVector.fromArray(S, c, ci + 3 * ldc + L));
            c4_0 = c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc));
            c4_1 = c4_1.add(FloatVector.fromArray(S, c, ci + 4 * ldc + L));
            c5_0 = c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc));
            c5_1 = c5_1.add(FloatVector.fromArray(S, c, ci + 5 * ldc + L));
        }
        c0_0.intoArray(c, ci);
        c0_1.intoArray(c, ci + L);
        c1_0.intoArray(c, ci + ldc);
        c1_1.intoArray(c, ci + ldc + L);
        c2_0.intoArray(c, ci + 2 * ldc);
        c2_1.intoArray(c, ci + 2 * ldc + L);
        c3_0.intoArray(c, ci + 3 * ldc);
        c3_1.intoArray(c, ci + 3 * ldc + L);
        c4_0.intoArray(c, ci + 4 * ldc);
        c4_1.intoArray(c, ci + 4 * ldc + L);
        c5_0.intoArray(c, ci + 5 * ldc);
        c5_1.intoArray(c, ci + 5 * ldc + L);
    }

    private static void microKernel1(int kc, float[] pa, int ai, float[] pb, int bi, float[] c, int ci, int ldc,
                                     boolean accumulate) {
        FloatVector c0_0 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ao = ai + p, bo = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            x = FloatVector.broadcast(S, pa[ao + KC]);
            c1_0 = x.fma(b0, c1_0);
            x = FloatVector.broadcast(S, pa[ao + 2 * KC]);
            c2_0 = x.fma(b0, c2_0);
            x = FloatVector.broadcast(S, pa[ao + 3 * KC]);
            c3_0 = x.fma(b0, c3_0);
            x = FloatVector.broadcast(S, pa[ao + 4 * KC]);
            c4_0 = x.fma(b0, c4_0);
            x = FloatVector.broadcast(S, pa[ao + 5 * KC]);
            c5_0 = x.fma(b0, c5_0);
        }
        if (accumulate) {
            c0_0 = c0_0.add(FloatVector.fromArray(S, c, ci));
            c1_0 = c1_0.add(FloatVector.fromArray(S, c, ci + ldc));
            c2_0 = c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc));
            c3_0 = c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc));
            c4_0 = c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc));
            c5_0 = c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc));
        }
        c0_0.intoArray(c, ci);
        c1_0.intoArray(c, ci + ldc);
        c2_0.intoArray(c, ci + 2 * ldc);
        c3_0.intoArray(c, ci + 3 * ldc);
        c4_0.intoArray(c, ci + 4 * ldc);
        c5_0.intoArray(c, ci + 5 * ldc);
    }

    // ------------------------------------------------------------------------------------------ helpers

    static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    static int roundUp(int x, int y) {
        return ceilDiv(x, y) * y;
    }
}
