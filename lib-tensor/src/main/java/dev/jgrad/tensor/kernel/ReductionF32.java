package dev.jgrad.tensor.kernel;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API reduction kernels over a contiguous block laid out as [R, K] (R values reduced for each of K
 * columns). K == 1 is a row reduction (vectorized along R); K > 1 reduces whole rows at once (vectorized along
 * K). The summation order is fixed by the data layout alone, so results never depend on the thread count.
 *
 * <p>Sums keep float32 accurate over long reductions with compensated (Kahan) accumulation in the vector lanes:
 * the error stays a few roundings however many values are added, at the price of three extra vector flops per
 * element in loops that are bound by memory traffic anyway.
 */
public final class ReductionF32 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private ReductionF32() {}

    /** out[oo + k] = (sum over r of x[xo + r*K + k]) / divisor. */
    public static void sum(float[] x, int xo, int rows, int cols, double divisor, float[] out, int oo) {
        sum(x, xo, rows, cols, cols, divisor, out, oo);
    }

    /**
     * out[oo + k] = (sum over r of x[xo + r*rowStride + k]) / divisor for k in [0, cols): the columns of a slice
     * of rows rowStride long, so that a column sum can be split into column ranges over threads.
     */
    public static void sum(float[] x, int xo, int rows, int cols, int rowStride, double divisor, float[] out, int oo) {
        if (cols == 1 && rowStride == 1) {
            out[oo] = (float) (sumRow(x, xo, rows) / divisor);
            return;
        }
        // Compensated (Kahan) accumulation per column: sum holds the running total, lost the low-order
        // bits each addition dropped, which the next addition puts back.
        float[] sum = Scratch.f32(Scratch.REDUCTION_SUM, cols);
        float[] lost = Scratch.f32(Scratch.REDUCTION_LOST, cols);
        Arrays.fill(sum, 0, cols, 0f);
        Arrays.fill(lost, 0, cols, 0f);
        int bound = S.loopBound(cols);
        for (int r = 0; r < rows; r++) {
            int row = xo + r * rowStride;
            int k = 0;
            for (; k < bound; k += S.length()) {
                var s = FloatVector.fromArray(S, sum, k);
                var y = FloatVector.fromArray(S, x, row + k).sub(FloatVector.fromArray(S, lost, k));
                var t = s.add(y);
                t.sub(s).sub(y).intoArray(lost, k);
                t.intoArray(sum, k);
            }
            for (; k < cols; k++) {
                float y = x[row + k] - lost[k];
                float t = sum[k] + y;
                lost[k] = (t - sum[k]) - y;
                sum[k] = t;
            }
        }
        for (int k = 0; k < cols; k++) {
            out[oo + k] = (float) (((double) sum[k] - lost[k]) / divisor);
        }
    }

    /**
     * Sum of x[xo, xo + n) with compensated (Kahan) accumulation in each vector lane, so the error stays a few
     * roundings however long the row; the lanes and the tail are then folded in double, in index order.
     */
    private static double sumRow(float[] x, int xo, int n) {
        var sum = FloatVector.zero(S);
        var lost = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var y = FloatVector.fromArray(S, x, xo + i).sub(lost);
            var t = sum.add(y);
            lost = t.sub(sum).sub(y);
            sum = t;
        }
        // reduceLanes(ADD) leaves its order unspecified; folding the lanes ourselves keeps results reproducible.
        float[] sums = sum.toArray();
        float[] losts = lost.toArray();
        double total = 0;
        for (int lane = 0; lane < sums.length; lane++) {
            total += (double) sums[lane] - losts[lane];
        }
        for (; i < n; i++) {
            total += x[xo + i];
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
