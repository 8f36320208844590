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
    private static final VectorShuffle<Float>[] HALVINGS = halvings();

    private Lanes() {}

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] halvings() {
        int levels = Integer.numberOfTrailingZeros(F.length());
        VectorShuffle<Float>[] shuffles = new VectorShuffle[levels];
        for (int level = 0, shift = F.length() / 2; shift >= 1; level++, shift /= 2) {
            shuffles[level] = VectorShuffle.iota(F, shift, 1, true);   // lane i reads lane (i + shift) mod length
        }
        return shuffles;
    }

    /** The sum of v's lanes, always added in the same order. */
    public static float sum(FloatVector v) {
        for (VectorShuffle<Float> rotation : HALVINGS) {
            v = v.add(v.rearrange(rotation));
        }
        return v.lane(0);
    }
}
