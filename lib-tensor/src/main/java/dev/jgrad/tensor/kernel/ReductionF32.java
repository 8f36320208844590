package dev.jgrad.tensor.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API reduction kernels over a contiguous block laid out as [R, K] (R values reduced for each of K
 * columns). K == 1 is a row reduction (vectorized along R); K > 1 reduces whole rows at once (vectorized along
 * K). The summation order is fixed by the data layout alone, so results never depend on the thread count.
 *
 * <p>Sums keep float32 accurate over long reductions by accumulating short blocks in float vector lanes and
 * adding the block totals in double: error grows with the block length, not with R.
 */
public final class ReductionF32 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Elements per lane-parallel float block of a row sum before it is folded into the double total. */
    private static final int ROW_BLOCK = 1024;
    /** Rows per float block of a column sum before the block is folded into the double totals. */
    private static final int COLUMN_BLOCK = 64;

    private ReductionF32() {}

    /** out[oo + k] = (sum over r of x[xo + r*K + k]) / divisor. */
    public static void sum(float[] x, int xo, int rows, int cols, double divisor, float[] out, int oo) {
        if (cols == 1) {
            out[oo] = (float) (sumRow(x, xo, rows) / divisor);
            return;
        }
        double[] total = new double[cols];
        float[] partial = new float[cols];
        int bound = S.loopBound(cols);
        for (int r0 = 0; r0 < rows; r0 += COLUMN_BLOCK) {
            int r1 = Math.min(rows, r0 + COLUMN_BLOCK);
            System.arraycopy(x, xo + r0 * cols, partial, 0, cols);
            for (int r = r0 + 1; r < r1; r++) {
                int row = xo + r * cols;
                int k = 0;
                for (; k < bound; k += S.length()) {
                    FloatVector.fromArray(S, partial, k).add(FloatVector.fromArray(S, x, row + k)).intoArray(partial, k);
                }
                for (; k < cols; k++) {
                    partial[k] += x[row + k];
                }
            }
            for (int k = 0; k < cols; k++) {
                total[k] += partial[k];
            }
        }
        for (int k = 0; k < cols; k++) {
            out[oo + k] = (float) (total[k] / divisor);
        }
    }

    /** Sum of x[xo, xo + n) accumulated in double across float blocks; lanes are folded in index order. */
    private static double sumRow(float[] x, int xo, int n) {
        double total = 0;
        float[] lanes = new float[S.length()];
        for (int start = 0; start < n; start += ROW_BLOCK) {
            int len = Math.min(ROW_BLOCK, n - start);
            int base = xo + start;
            var acc = FloatVector.zero(S);
            int i = 0;
            for (int bound = S.loopBound(len); i < bound; i += S.length()) {
                acc = acc.add(FloatVector.fromArray(S, x, base + i));
            }
            // reduceLanes(ADD) leaves the order unspecified; folding a copy keeps results reproducible.
            acc.intoArray(lanes, 0);
            float block = 0;
            for (float lane : lanes) {
                block += lane;
            }
            for (; i < len; i++) {
                block += x[base + i];
            }
            total += block;
        }
        return total;
    }

    /** out[oo + k] = max (or min) over r of x[xo + r*K + k]; NaN wins, as in torch.amax/amin. rows >= 1. */
    public static void extreme(float[] x, int xo, int rows, int cols, boolean max, float[] out, int oo) {
        if (cols == 1) {
            out[oo] = max ? maxRow(x, xo, rows) : minRow(x, xo, rows);
            return;
        }
        System.arraycopy(x, xo, out, oo, cols);
        int bound = S.loopBound(cols);
        for (int r = 1; r < rows; r++) {
            int row = xo + r * cols;
            int k = 0;
            if (max) {
                for (; k < bound; k += S.length()) {
                    FloatVector.fromArray(S, out, oo + k).max(FloatVector.fromArray(S, x, row + k)).intoArray(out, oo + k);
                }
                for (; k < cols; k++) {
                    out[oo + k] = Math.max(out[oo + k], x[row + k]);
                }
            } else {
                for (; k < bound; k += S.length()) {
                    FloatVector.fromArray(S, out, oo + k).min(FloatVector.fromArray(S, x, row + k)).intoArray(out, oo + k);
                }
                for (; k < cols; k++) {
                    out[oo + k] = Math.min(out[oo + k], x[row + k]);
                }
            }
        }
    }

    private static float maxRow(float[] x, int xo, int n) {
        float best = x[xo];
        int i = 0;
        int bound = S.loopBound(n);
        if (bound > 0) {
            var acc = FloatVector.fromArray(S, x, xo);
            for (i = S.length(); i < bound; i += S.length()) {
                acc = acc.max(FloatVector.fromArray(S, x, xo + i));
            }
            for (float lane : acc.toArray()) {
                best = Math.max(best, lane);
            }
        }
        for (; i < n; i++) {
            best = Math.max(best, x[xo + i]);
        }
        return best;
    }

    private static float minRow(float[] x, int xo, int n) {
        float best = x[xo];
        int i = 0;
        int bound = S.loopBound(n);
        if (bound > 0) {
            var acc = FloatVector.fromArray(S, x, xo);
            for (i = S.length(); i < bound; i += S.length()) {
                acc = acc.min(FloatVector.fromArray(S, x, xo + i));
            }
            for (float lane : acc.toArray()) {
                best = Math.min(best, lane);
            }
        }
        for (; i < n; i++) {
            best = Math.min(best, x[xo + i]);
        }
        return best;
    }
}
