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
    private static final int LEVELS = Integer.numberOfTrailingZeros(F.length());
    private static final VectorShuffle<Float> HALF = rotation(1);
    private static final VectorShuffle<Float> QUARTER = rotation(2);
    private static final VectorShuffle<Float> EIGHTH = rotation(3);
    private static final VectorShuffle<Float> SIXTEENTH = rotation(4);

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
}
