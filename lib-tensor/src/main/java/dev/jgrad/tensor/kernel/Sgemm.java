package dev.jgrad.tensor.kernel;

import dev.jgrad.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix multiply, the hot loop of every linear layer and attention head.
 *
 * <p>The structure is the classic Goto/BLIS one. B is cut into KC x NC blocks that are packed into NR-wide column
 * strips; A into MC x KC blocks packed into MR-tall row strips. A register-blocked micro-kernel then multiplies one
 * MR-row strip of A by one NR-column strip of B, keeping the whole MR x NR tile of C in vector registers for the full
 * KC-long dot products (7 rows x 3 vectors = 21 of AVX-512's 32 registers), so each loaded value feeds several FMAs
 * and every load hits L1 (the B strip, KC x NR floats = 36 KB of the 48 KB L1) or L2 (the packed A block).
 *
 * <p>The micro-kernels are long and repetitive on purpose: C2 only keeps vectors in registers when every operation
 * is visible in one compiled method, so the accumulators are separate locals and nothing vector-typed is passed to
 * a helper (a helper C2 declined to inline would box them; the first version ran at 6 GFLOP/s because of that).
 *
 * <p>Packing also makes strides free: operands are read through arbitrary (row, column) strides while packing, so a
 * transposed or sliced view multiplies with no copy beyond the packing every product does anyway. Row-major A (the
 * activations of a forward x.Wᵀ, the gradient of dx = g.W) is the exception: the micro-kernel broadcasts one A value
 * per row per step wherever it lies, so such A is read in place, MR rows at a time, and only a short last strip is
 * packed (zero-padded). That saves a scalar transpose of every A element, which took a sixth of a GPT-small
 * training step.
 *
 * <p>Determinism: every C element is summed in the same order (k ascending within a KC block, KC blocks ascending)
 * whatever the thread count, because threads only split the output into disjoint column (or row) ranges.
 */
public final class Sgemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of C per micro-tile. */
    static final int MR = 7;
    /** Columns of C per micro-tile: three vectors. */
    static final int NR = 3 * L;
    /** Depth of one packed block: a KC x NR strip of B (36 KB at AVX-512) stays in L1 while A streams past it. */
    static final int KC = 192;
    /** Rows of a packed A block, a multiple of MR: MC x KC floats = 252 KB, comfortably inside a 2 MB L2. */
    static final int MC = 336;
    /** Columns of a packed B block, a multiple of NR (KC x NC floats = 3 MB, kept in L3). */
    static final int NC = 4080;
    /** Row-major B blocks up to this many floats (half of L1) are multiplied in place instead of packed. */
    static final int DIRECT_B_MAX_FLOATS = 6 * 1024;
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
        multiply(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, beta, c, cOff, ldc, true);
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
                        bRowStride, bColStride, beta, c, cOff + i * cBatchStride, ldc, true);
            }
            return;
        }
        // Many small products: hand whole products to threads, each computed exactly as it would be alone.
        int tasks = Math.min(batch, Parallel.chunks(macs * batch, PARALLEL_MIN_MACS));
        Parallel.forEachTask(tasks, t -> {
            int from = (int) ((long) batch * t / tasks);
            int to = (int) ((long) batch * (t + 1) / tasks);
            for (int i = from; i < to; i++) {
                multiply(m, n, k, a, aOff + i * aBatchStride, aRowStride, aColStride, b, bOff + i * bBatchStride,
                        bRowStride, bColStride, beta, c, cOff + i * cBatchStride, ldc, false);
            }
        });
    }

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

    private static void multiply(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff,
                                 int bRs, int bCs, float beta, float[] c, int cOff, int ldc, boolean mayFork) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            if (beta == 0) {
                for (int i = 0; i < m; i++) {
                    java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
                }
            }
            return;
        }
        long macs = (long) m * n * k;
        int tasks = mayFork ? Parallel.chunks(macs, PARALLEL_MIN_MACS) : 1;
        if (m < FEW_ROWS && (bCs == 1 || (bRs == 1 && aCs == 1))) {
            // A row or three (vector-matrix products, decoding one token): a micro-tile of MR rows would mostly
            // multiply padding, so stream B once per row instead. Threads take disjoint column ranges.
            int parts = Math.min(tasks, ceilDiv(n, L));
            Parallel.forEachTask(parts, t -> {
                int from = Math.min(n, ceilDiv(n, L) * t / parts * L);
                int to = Math.min(n, ceilDiv(n, L) * (t + 1) / parts * L);
                fewRows(m, from, to, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
            });
            return;
        }
        if (tasks <= 1) {
            blocked(0, m, 0, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
            return;
        }
        // Threads take disjoint ranges of C. Row ranges are preferred: two threads writing neighbouring columns of
        // the same rows would share (and fight over) the cache line at their boundary in every row. Columns are
        // split, in whole vectors, only when there are too few rows to go round.
        int rowStrips = ceilDiv(m, MR);
        if (rowStrips >= 2 * tasks || rowStrips * NR >= n) {
            int parts = Math.min(tasks, rowStrips);
            Parallel.forEachTask(parts, t -> {
                int from = Math.min(m, rowStrips * t / parts * MR);
                int to = Math.min(m, rowStrips * (t + 1) / parts * MR);
                blocked(from, to, 0, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
            });
        } else {
            int vectors = ceilDiv(n, L);
            int parts = Math.min(tasks, vectors);
            Parallel.forEachTask(parts, t -> {
                int from = Math.min(n, vectors * t / parts * L);
                int to = Math.min(n, vectors * (t + 1) / parts * L);
                blocked(0, m, from, to, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
            });
        }
    }

    /** Columns [j0, j1) of a C with fewer than FEW_ROWS rows, for row-major B or (with row-major A) column-major B. */
    private static void fewRows(int m, int j0, int j1, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff,
                                int bRs, int bCs, float beta, float[] c, int cOff, int ldc) {
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
                    float dot = dot(a, aRow, b, bOff + j * bCs, k);
                    c[cRow + j] = beta == 0 ? dot : c[cRow + j] + dot;
                }
            }
        }
    }

    /** x[xOff..xOff+k) . y[yOff..yOff+k) with four vector accumulators, summed in a fixed order. */
    private static float dot(float[] x, int xOff, float[] y, int yOff, int k) {
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        int p = 0;
        for (int bound = k - 4 * L + 1; p < bound; p += 4 * L) {
            s0 = FloatVector.fromArray(S, x, xOff + p).fma(FloatVector.fromArray(S, y, yOff + p), s0);
            s1 = FloatVector.fromArray(S, x, xOff + p + L).fma(FloatVector.fromArray(S, y, yOff + p + L), s1);
            s2 = FloatVector.fromArray(S, x, xOff + p + 2 * L).fma(FloatVector.fromArray(S, y, yOff + p + 2 * L), s2);
            s3 = FloatVector.fromArray(S, x, xOff + p + 3 * L).fma(FloatVector.fromArray(S, y, yOff + p + 3 * L), s3);
        }
        for (int bound = S.loopBound(k); p < bound; p += L) {
            s0 = FloatVector.fromArray(S, x, xOff + p).fma(FloatVector.fromArray(S, y, yOff + p), s0);
        }
        float sum = Lanes.sum(s0.add(s1).add(s2.add(s3)));
        for (; p < k; p++) {
            sum = Math.fma(x[xOff + p], y[yOff + p], sum);
        }
        return sum;
    }

    /** Computes rows [m0, m1) x columns [n0, n1) of C on the calling thread. */
    private static void blocked(int m0, int m1, int n0, int n1, int k, float[] a, int aOff, int aRs, int aCs, float[] b,
                                int bOff, int bRs, int bCs, float beta, float[] c, int cOff, int ldc) {
        Buffers buf = BUFFERS.get();
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean accumulate = pc > 0 || beta != 0;
                int bBlock = bOff + pc * bRs + jc * bCs;
                // Row-major B is read in place when packing would not pay: a block small enough to sit in L1 anyway,
                // or a single strip of rows that reads each B strip only once.
                boolean direct = bCs == 1 && ((long) kc * nc <= DIRECT_B_MAX_FLOATS || m1 - m0 <= MR);
                if (!direct) {
                    packB(kc, nc, b, bBlock, bRs, bCs, buf.packedB);
                }
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    int aBlock = aOff + ic * aRs + pc * aCs;
                    // Row-major A is read in place: its rows are already contiguous along k, and the micro-kernel
                    // broadcasts one value per row per step whether the rows are interleaved or not, so packing
                    // (a scalar transpose of every A element) would buy nothing.
                    boolean aPacked = aCs != 1;
                    if (aPacked) {
                        packA(mc, kc, a, aBlock, aRs, aCs, buf.packedA);
                    }
                    float[] pa = aPacked ? buf.packedA : a;
                    int ci = cOff + ic * ldc + jc;
                    if (direct) {
                        macroKernel(mc, nc, kc, pa, aBlock, aRs, aPacked, b, bBlock, bRs, false, c, ci, ldc, accumulate,
                                buf);
                    } else {
                        macroKernel(mc, nc, kc, pa, aBlock, aRs, aPacked, buf.packedB, 0, NR, true, c, ci, ldc,
                                accumulate, buf);
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
                // Whole strips of row-major B: three vector copies per row, cheaper than an arraycopy call each.
                for (int p = 0, src = off + j0; p < kc; p++, src += rs, d += NR) {
                    FloatVector.fromArray(S, b, src).intoArray(dst, d);
                    FloatVector.fromArray(S, b, src + L).intoArray(dst, d + L);
                    FloatVector.fromArray(S, b, src + 2 * L).intoArray(dst, d + 2 * L);
                }
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
     * Packs an mc x kc block of A into MR-tall strips, each stored p-major (MR values per p), zero-padded. Used for A
     * read through a column stride (row-major A is multiplied in place) and for the short last strip of row-major A.
     */
    private static void packA(int mc, int kc, float[] a, int off, int rs, int cs, float[] dst) {
        int d = 0;
        for (int i0 = 0; i0 < mc; i0 += MR) {
            int h = Math.min(MR, mc - i0);
            int rowBase = off + i0 * rs;
            int p = 0;
            if (rs == 1 && h == MR) {
                // Column-major A (the transposed gradient of a weight gradient gᵀx): the MR values of step p are
                // adjacent. Copy a whole vector from there; the next step's store overwrites all but its first MR
                // lanes, and the buffer has a vector's slack for the last one.
                for (int src = rowBase; p < kc && src + L <= a.length; p++, src += cs, d += MR) {
                    FloatVector.fromArray(S, a, src).intoArray(dst, d);
                }
            }
            for (; p < kc; p++) {
                int src = rowBase + p * cs;
                for (int i = 0; i < h; i++) {
                    dst[d + i] = a[src + i * rs];
                }
                for (int i = h; i < MR; i++) {
                    dst[d + i] = 0f;
                }
                d += MR;
            }
        }
    }

    /**
     * All micro-tiles of one block of A against one block of B. A is either packed (MR-tall strips, each kc x MR, from
     * index 0 of pa) or row-major in place (row i, step p at aBase + i*aRs + p). B is either packed (strips of NR
     * columns, each kc x NR) or row-major in place with row stride bStride.
     */
    private static void macroKernel(int mc, int nc, int kc, float[] pa, int aBase, int aRs, boolean aPacked, float[] b,
                                    int bBase, int bStride, boolean bPacked, float[] c, int cBase, int ldc,
                                    boolean accumulate, Buffers buf) {
        int wholeRows = mc / MR * MR;
        if (!aPacked && wholeRows < mc) {
            // In-place A whose last strip is short: pack just that strip, zero-padded to MR rows.
            packA(mc - wholeRows, kc, pa, aBase + wholeRows * aRs, aRs, 1, buf.packedA);
        }
        for (int j0 = 0; j0 < nc; j0 += NR) {
            int w = Math.min(NR, nc - j0);
            // A narrow last strip runs a kernel only as wide as it needs (n = 1024 ends in a 16-wide strip).
            int vectors = ceilDiv(w, L);
            float[] strip = b;
            int bi;
            int stride = bStride;
            if (bPacked) {
                bi = bBase + (j0 / NR) * kc * NR;
            } else if (w == vectors * L) {
                bi = bBase + j0;
            } else {
                // In-place B whose last strip is not whole vectors wide: pack just that strip, zero-padded.
                packB(kc, w, b, bBase + j0, bStride, 1, buf.packedB);
                strip = buf.packedB;
                bi = 0;
                stride = NR;
            }
            for (int i0 = 0; i0 < mc; i0 += MR) {
                int h = Math.min(MR, mc - i0);
                // Where this strip of A starts and how to step through it: packed strips are p-major (MR values
                // per step, rows adjacent), in-place rows are k-contiguous (rows aRs apart).
                float[] as = pa;
                int ai = aBase + i0 * aRs, aStep = 1, aRowStride = aRs;
                if (aPacked || h < MR) {
                    as = aPacked ? pa : buf.packedA;
                    ai = aPacked ? (i0 / MR) * kc * MR : 0;
                    aStep = MR;
                    aRowStride = 1;
                }
                int ci = cBase + i0 * ldc + j0;
                if (h == MR && w == vectors * L) {
                    microKernel(vectors, kc, as, ai, aStep, aRowStride, strip, bi, stride, c, ci, ldc, accumulate);
                } else {
                    // Edge tile: compute the padded tile aside, then add only the part inside C.
                    float[] tile = buf.tile;
                    microKernel(vectors, kc, as, ai, aStep, aRowStride, strip, bi, stride, tile, 0, NR, false);
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

    private static void microKernel(int vectors, int kc, float[] pa, int ai, int aStep, int aRowStride, float[] pb,
                                    int bi, int bStride, float[] c, int ci, int ldc, boolean accumulate) {
        switch (vectors) {
            case 3 -> microKernel3(kc, pa, ai, aStep, aRowStride, pb, bi, bStride, c, ci, ldc, accumulate);
            case 2 -> microKernel2(kc, pa, ai, aStep, aRowStride, pb, bi, bStride, c, ci, ldc, accumulate);
            default -> microKernel1(kc, pa, ai, aStep, aRowStride, pb, bi, bStride, c, ci, ldc, accumulate);
        }
    }

    /**
     * C[MR x 3L] (+)= A strip . B strip over kc steps. A(i, p) is pa[ai + i*aRowStride + p*aStep] (a packed strip:
     * aStep MR, aRowStride 1; row-major A in place: aStep 1, aRowStride its row stride); the B strip's rows are
     * bStride floats apart (NR when packed, B's row stride when read in place). The 21 accumulators are plain locals so C2 keeps them all in registers
     * (7 x 3 leaves room for the three B vectors and the broadcast A value; 8 x 3 made C2 spill one accumulator to
     * the stack inside the loop). The body is unrolled by hand: the JIT does not unroll across vector variables, and
     * unrolling the k loop as well measured slower. microKernel2 and microKernel1 are the same kernel two and one vectors wide, for narrow last strips.
     */
    private static void microKernel3(int kc, float[] pa, int ai, int aStep, int aRowStride, float[] pb, int bi,
                                     int bStride, float[] c, int ci, int ldc, boolean accumulate) {
        int r1 = aRowStride, r2 = 2 * aRowStride, r3 = 3 * aRowStride, r4 = 4 * aRowStride, r5 = 5 * aRowStride,
                r6 = 6 * aRowStride;
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = FloatVector.zero(S), c0_2 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S), c1_1 = FloatVector.zero(S), c1_2 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S), c2_1 = FloatVector.zero(S), c2_2 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S), c3_1 = FloatVector.zero(S), c3_2 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S), c4_1 = FloatVector.zero(S), c4_2 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S), c5_1 = FloatVector.zero(S), c5_2 = FloatVector.zero(S);
        FloatVector c6_0 = FloatVector.zero(S), c6_1 = FloatVector.zero(S), c6_2 = FloatVector.zero(S);
        for (int p = 0, ao = ai, bo = bi; p < kc; p++, ao += aStep, bo += bStride) {
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector b1 = FloatVector.fromArray(S, pb, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, pb, bo + 2 * L);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            c0_2 = x.fma(b2, c0_2);
            x = FloatVector.broadcast(S, pa[ao + r1]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            c1_2 = x.fma(b2, c1_2);
            x = FloatVector.broadcast(S, pa[ao + r2]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            c2_2 = x.fma(b2, c2_2);
            x = FloatVector.broadcast(S, pa[ao + r3]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            c3_2 = x.fma(b2, c3_2);
            x = FloatVector.broadcast(S, pa[ao + r4]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            c4_2 = x.fma(b2, c4_2);
            x = FloatVector.broadcast(S, pa[ao + r5]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
            c5_2 = x.fma(b2, c5_2);
            x = FloatVector.broadcast(S, pa[ao + r6]);
            c6_0 = x.fma(b0, c6_0);
            c6_1 = x.fma(b1, c6_1);
            c6_2 = x.fma(b2, c6_2);
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
            c6_0 = c6_0.add(FloatVector.fromArray(S, c, ci + 6 * ldc));
            c6_1 = c6_1.add(FloatVector.fromArray(S, c, ci + 6 * ldc + L));
            c6_2 = c6_2.add(FloatVector.fromArray(S, c, ci + 6 * ldc + 2 * L));
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
        c6_0.intoArray(c, ci + 6 * ldc);
        c6_1.intoArray(c, ci + 6 * ldc + L);
        c6_2.intoArray(c, ci + 6 * ldc + 2 * L);
    }

    private static void microKernel2(int kc, float[] pa, int ai, int aStep, int aRowStride, float[] pb, int bi,
                                     int bStride, float[] c, int ci, int ldc, boolean accumulate) {
        int r1 = aRowStride, r2 = 2 * aRowStride, r3 = 3 * aRowStride, r4 = 4 * aRowStride, r5 = 5 * aRowStride,
                r6 = 6 * aRowStride;
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S), c1_1 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S), c2_1 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S), c3_1 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S), c4_1 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S), c5_1 = FloatVector.zero(S);
        FloatVector c6_0 = FloatVector.zero(S), c6_1 = FloatVector.zero(S);
        for (int p = 0, ao = ai, bo = bi; p < kc; p++, ao += aStep, bo += bStride) {
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector b1 = FloatVector.fromArray(S, pb, bo + L);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            x = FloatVector.broadcast(S, pa[ao + r1]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            x = FloatVector.broadcast(S, pa[ao + r2]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            x = FloatVector.broadcast(S, pa[ao + r3]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            x = FloatVector.broadcast(S, pa[ao + r4]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            x = FloatVector.broadcast(S, pa[ao + r5]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
            x = FloatVector.broadcast(S, pa[ao + r6]);
            c6_0 = x.fma(b0, c6_0);
            c6_1 = x.fma(b1, c6_1);
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
            c6_0 = c6_0.add(FloatVector.fromArray(S, c, ci + 6 * ldc));
            c6_1 = c6_1.add(FloatVector.fromArray(S, c, ci + 6 * ldc + L));
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
        c6_0.intoArray(c, ci + 6 * ldc);
        c6_1.intoArray(c, ci + 6 * ldc + L);
    }

    private static void microKernel1(int kc, float[] pa, int ai, int aStep, int aRowStride, float[] pb, int bi,
                                     int bStride, float[] c, int ci, int ldc, boolean accumulate) {
        int r1 = aRowStride, r2 = 2 * aRowStride, r3 = 3 * aRowStride, r4 = 4 * aRowStride, r5 = 5 * aRowStride,
                r6 = 6 * aRowStride;
        FloatVector c0_0 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S);
        FloatVector c6_0 = FloatVector.zero(S);
        for (int p = 0, ao = ai, bo = bi; p < kc; p++, ao += aStep, bo += bStride) {
            FloatVector b0 = FloatVector.fromArray(S, pb, bo);
            FloatVector x = FloatVector.broadcast(S, pa[ao]);
            c0_0 = x.fma(b0, c0_0);
            x = FloatVector.broadcast(S, pa[ao + r1]);
            c1_0 = x.fma(b0, c1_0);
            x = FloatVector.broadcast(S, pa[ao + r2]);
            c2_0 = x.fma(b0, c2_0);
            x = FloatVector.broadcast(S, pa[ao + r3]);
            c3_0 = x.fma(b0, c3_0);
            x = FloatVector.broadcast(S, pa[ao + r4]);
            c4_0 = x.fma(b0, c4_0);
            x = FloatVector.broadcast(S, pa[ao + r5]);
            c5_0 = x.fma(b0, c5_0);
            x = FloatVector.broadcast(S, pa[ao + r6]);
            c6_0 = x.fma(b0, c6_0);
        }
        if (accumulate) {
            c0_0 = c0_0.add(FloatVector.fromArray(S, c, ci));
            c1_0 = c1_0.add(FloatVector.fromArray(S, c, ci + ldc));
            c2_0 = c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc));
            c3_0 = c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc));
            c4_0 = c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc));
            c5_0 = c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc));
            c6_0 = c6_0.add(FloatVector.fromArray(S, c, ci + 6 * ldc));
        }
        c0_0.intoArray(c, ci);
        c1_0.intoArray(c, ci + ldc);
        c2_0.intoArray(c, ci + 2 * ldc);
        c3_0.intoArray(c, ci + 3 * ldc);
        c4_0.intoArray(c, ci + 4 * ldc);
        c5_0.intoArray(c, ci + 5 * ldc);
        c6_0.intoArray(c, ci + 6 * ldc);
    }


    // ------------------------------------------------------------------------------------------ helpers

    static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    static int roundUp(int x, int y) {
        return ceilDiv(x, y) * y;
    }
}
