package dev.jgrad.models.optim;

/**
 * A learning rate as a function of the step index: {@code it} is the number of optimizer steps already taken
 * (0 for the first step), nanoGPT's {@code iter_num}. A trainer calls {@link #applyTo} before every step, so a
 * run resumed at step {@code it} gets the same rate it would have had.
 */
@FunctionalInterface
public interface LrSchedule {
    double lr(long it);

    /** Sets the optimizer's learning rate for step {@code it}. */
    default void applyTo(Optimizer optimizer, long it) {
        optimizer.setLearningRate(lr(it));
    }
}
