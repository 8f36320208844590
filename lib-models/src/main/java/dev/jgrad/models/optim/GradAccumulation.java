package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import java.util.function.IntFunction;

/**
 * Gradient accumulation: a batch too large for one pass is split into micro-batches whose gradients add up in the
 * parameters' {@code grad} before one optimizer step. Each micro-batch loss is divided by the number of
 * micro-batches, so with a mean loss the accumulated gradient equals the gradient of the whole batch's mean loss
 * (micro-batches of equal size).
 *
 * <pre>{@code
 * opt.zeroGrad();
 * double loss = GradAccumulation.accumulate(4, k -> model.loss(microBatch(k)));
 * opt.step();
 * }</pre>
 */
public final class GradAccumulation {
    private GradAccumulation() {}

    /**
     * Runs forward and backward for micro-batches {@code 0 .. microBatches-1}, accumulating gradients (it does not
     * zero them first), and returns the mean of the micro-batch losses: the whole batch's loss.
     */
    public static double accumulate(int microBatches, IntFunction<Variable> microBatchLoss) {
        if (microBatches < 1) {
            throw new IllegalArgumentException("GradAccumulation.accumulate: microBatches must be >= 1, got "
                    + microBatches);
        }
        double total = 0;
        for (int k = 0; k < microBatches; k++) {
            Variable loss = microBatchLoss.apply(k);
            total += loss.item();
            loss.div(microBatches).backward();
        }
        return total / microBatches;
    }
}
