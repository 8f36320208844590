package dev.jgrad.tensor.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reductions of float arrays whose lanes are summed in one fixed order. {@code FloatVector.reduceLanes(ADD)} may
 * add lanes in any order, and does: the JIT's tree and the pre-JIT left-to-right fold differ in the last bit, so a
 * kernel's result would depend on whether it had been compiled yet, and two identical runs (or two data-parallel
 * workers) could disagree. Here the accumulator vector is added to itself rotated by half its lanes, then by a
 * quarter, and so on: whole-vector adds, which every execution mode performs exactly the same way. Then the scalar
 * tail is added in order, with the same operation the lanes use ({@code Math.fma} where they use {@code fma}).
 *
 * <p>Every function takes arrays and returns a float; none takes or returns a vector. A method that takes or
 * returns a vector must be inlined into its caller, or C2 boxes the vector on the heap at the call, and C2 stops
 * inlining in a compilation that has grown past its node budget ({@code NodeCountInliningCutoff}): the kernels
 * that call these are often inlined into such compilations (the parallel dispatcher's, say). A call left out of
 * line here costs a call, never an allocation. That is also why each function writes the four halving lines out
 * itself (and {@code VectorMath.expShiftedSum} too) rather than calling a shared helper: that helper would take a
 * vector.
 */
public final class Lanes {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    // One constant per halving: the JIT intrinsifies a rearrange only when it can see the shuffle's exact class, so
    // shuffles read from an array made every call box its vectors (two allocations per halving).
    static final int LEVELS = Integer.numberOfTrailingZeros(F.length());
    static final VectorShuffle<Float> HALF = rotation(1);
    static final VectorShuffle<Float> QUARTER = rotation(2);
    static final VectorShuffle<Float> EIGHTH = rotation(3);
    static final VectorShuffle<Float> SIXTEENTH = rotation(4);

    static {
        if (LEVELS > 4) {
            throw new IllegalStateException("Lanes: vectors of " + F.length() + " floats are not supported");
        }
    }

    private Lanes() {}

    /** Lane i reads lane (i + length / 2^level) mod length; the identity when the vector has no such level. */
    private static VectorShuffle<Float> rotation(int level) {
        return VectorShuffle.iota(F, level <= LEVELS ? F.length() >> level : 0, 1, true);
    }

    /** a[from] + ... + a[from + n - 1]: lanes accumulated, summed in the halving order, then the tail in order. */
    public static float sum(float[] a, int from, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        var v = FloatVector.zero(F);
        for (; i < bound; i += F.length()) {
            v = v.add(FloatVector.fromArray(F, a, from + i));
        }
        v = LEVELS >= 1 ? v.add(v.rearrange(HALF)) : v;
        v = LEVELS >= 2 ? v.add(v.rearrange(QUARTER)) : v;
        v = LEVELS >= 3 ? v.add(v.rearrange(EIGHTH)) : v;
        v = LEVELS >= 4 ? v.add(v.rearrange(SIXTEENTH)) : v;
        float sum = v.lane(0);
        for (; i < n; i++) {
            sum += a[from + i];
        }
        return sum;
    }

    /** a[ao..ao+n) . b[bo..bo+n): fused multiply-adds per lane, the lanes summed as {@link #sum} sums them. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        var v = FloatVector.zero(F);
        for (; i < bound; i += F.length()) {
            v = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), v);
        }
        v = LEVELS >= 1 ? v.add(v.rearrange(HALF)) : v;
        v = LEVELS >= 2 ? v.add(v.rearrange(QUARTER)) : v;
        v = LEVELS >= 3 ? v.add(v.rearrange(EIGHTH)) : v;
        v = LEVELS >= 4 ? v.add(v.rearrange(SIXTEENTH)) : v;
        float sum = v.lane(0);
        for (; i < n; i++) {
            sum = Math.fma(a[ao + i], b[bo + i], sum);
        }
        return sum;
    }

    /** The sum of (a[i] - center)^2 over a[from..from+n), each square fused into the sum. */
    public static float sumSquaredDeviations(float[] a, int from, int n, float center) {
        int bound = F.loopBound(n);
        int i = 0;
        var v = FloatVector.zero(F);
        for (; i < bound; i += F.length()) {
            var deviation = FloatVector.fromArray(F, a, from + i).sub(center);
            v = deviation.fma(deviation, v);
        }
        v = LEVELS >= 1 ? v.add(v.rearrange(HALF)) : v;
        v = LEVELS >= 2 ? v.add(v.rearrange(QUARTER)) : v;
        v = LEVELS >= 3 ? v.add(v.rearrange(EIGHTH)) : v;
        v = LEVELS >= 4 ? v.add(v.rearrange(SIXTEENTH)) : v;
        float sum = v.lane(0);
        for (; i < n; i++) {
            float deviation = a[from + i] - center;
            sum = Math.fma(deviation, deviation, sum);
        }
        return sum;
    }

    /**
     * The sum of a[ao + i] * ((x[xo + i] - center) * scale) for i &lt; n: a dot product with the normalised x, as
     * a norm layer's backward needs it, each product fused into the sum.
     */
    public static float dotNormalized(float[] a, int ao, float[] x, int xo, int n, float center, float scale) {
        int bound = F.loopBound(n);
        int i = 0;
        var v = FloatVector.zero(F);
        for (; i < bound; i += F.length()) {
            var normalized = FloatVector.fromArray(F, x, xo + i).sub(center).mul(scale);
            v = FloatVector.fromArray(F, a, ao + i).fma(normalized, v);
        }
        v = LEVELS >= 1 ? v.add(v.rearrange(HALF)) : v;
        v = LEVELS >= 2 ? v.add(v.rearrange(QUARTER)) : v;
        v = LEVELS >= 3 ? v.add(v.rearrange(EIGHTH)) : v;
        v = LEVELS >= 4 ? v.add(v.rearrange(SIXTEENTH)) : v;
        float sum = v.lane(0);
        for (; i < n; i++) {
            sum = Math.fma(a[ao + i], (x[xo + i] - center) * scale, sum);
        }
        return sum;
    }
}
