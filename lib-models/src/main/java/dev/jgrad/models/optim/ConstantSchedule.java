package dev.jgrad.models.optim;

/** The same learning rate at every step. */
public record ConstantSchedule(double lr) implements LrSchedule {
    public ConstantSchedule {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("ConstantSchedule: lr must be finite and >= 0, got " + lr);
        }
    }

    @Override
    public double lr(long it) {
        return lr;
    }
}
