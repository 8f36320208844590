package dev.jgrad.tensor;

/**
 * A small seeded random generator (SplitMix64) whose whole state is one {@code long}, so a trainer can save
 * it in a checkpoint and resume the exact same stream. Normal samples use Box-Muller with the spare value kept,
 * which is part of the state too.
 */
public final class Rng {
    private long state;
    private double spareNormal;
    private boolean hasSpare;

    public Rng(long seed) {
        this.state = seed;
    }

    /** The full generator state, for checkpoints: {@code new Rng(0).restore(rng.snapshot())} continues identically. */
    public State snapshot() {
        return new State(state, hasSpare, spareNormal);
    }

    public Rng restore(State s) {
        this.state = s.state();
        this.hasSpare = s.hasSpare();
        this.spareNormal = s.spareNormal();
        return this;
    }

    /** Immutable copy of a generator's state. */
    public record State(long state, boolean hasSpare, double spareNormal) {}

    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform integer in [0, bound). */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("Rng.nextInt: bound must be positive, got " + bound);
        }
        // Lemire's multiply-shift with rejection keeps the result unbiased.
        long m = (nextLong() >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x1_0000_0000L - bound) % bound;
            while (low < threshold) {
                m = (nextLong() >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }

    /** Standard normal sample. */
    public double nextGaussian() {
        if (hasSpare) {
            hasSpare = false;
            return spareNormal;
        }
        double u1;
        do {
            u1 = nextDouble();
        } while (u1 <= 0.0);
        double u2 = nextDouble();
        double radius = Math.sqrt(-2.0 * Math.log(u1));
        double angle = 2.0 * Math.PI * u2;
        spareNormal = radius * Math.sin(angle);
        hasSpare = true;
        return radius * Math.cos(angle);
    }
}
