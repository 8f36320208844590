package dev.jgrad.tensor.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums the lanes of a vector in one fixed order. {@code FloatVector.reduceLanes(ADD)} may add lanes in any order,
 * and does: the JIT's tree and the pre-JIT left-to-right fold differ in the last bit, so a kernel's result would
 * depend on whether it had been compiled yet, and two identical runs (or two data-parallel workers) could
 * disagree. Here the vector is added to itself rotated by half its lanes, then by a quarter, and so on: whole-vector
 * adds, which every execution mode performs exactly the same way.
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

    private Lanes() {}

    /** Lane i reads lane (i + length / 2^level) mod length; the identity when the vector has no such level. */
    private static VectorShuffle<Float> rotation(int level) {
        return VectorShuffle.iota(F, level <= LEVELS ? F.length() >> level : 0, 1, true);
    }

    /** The sum of v's lanes, always added in the same order. */
    public static float sum(FloatVector v) {
        if (LEVELS > 4) {
            throw new IllegalStateException("Lanes.sum: vectors of " + F.length() + " floats are not supported");
        }
        if (LEVELS >= 1) {
            v = v.add(v.rearrange(HALF));
        }
        if (LEVELS >= 2) {
            v = v.add(v.rearrange(QUARTER));
        }
        if (LEVELS >= 3) {
            v = v.add(v.rearrange(EIGHTH));
        }
        if (LEVELS >= 4) {
            v = v.add(v.rearrange(SIXTEENTH));
        }
        return v.lane(0);
    }

    /**
     * a[ao..ao+n) . b[bo..bo+n): the lanes summed as {@link #sum} sums them, then the scalar tail in order.
     *
     * <p>Array in, float out, with the lane sum written out here rather than a call to {@link #sum}: a method that
     * takes a vector must be inlined into its caller, or C2 boxes the vector on the heap at the call. Big kernels
     * (attention's) reach C2's inlining budget and leave such calls out of line, so what they call must pass arrays.
     */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        var v = FloatVector.zero(F);
        for (; i < bound; i += F.length()) {
            v = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), v);
        }
        if (LEVELS >= 1) {
            v = v.add(v.rearrange(HALF));
        }
        if (LEVELS >= 2) {
            v = v.add(v.rearrange(QUARTER));
        }
        if (LEVELS >= 3) {
            v = v.add(v.rearrange(EIGHTH));
        }
        if (LEVELS >= 4) {
            v = v.add(v.rearrange(SIXTEENTH));
        }
        float sum = v.lane(0);
        for (; i < n; i++) {
            sum = Math.fma(a[ao + i], b[bo + i], sum);
        }
        return sum;
    }
}
