package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import java.util.function.BiPredicate;

/**
 * Hyperparameters of {@link Adam} and {@link AdamW}; start from {@link Adam#settings(double)} or
 * {@link AdamW#settings(double)} (which differ only in the default weight decay, as in PyTorch) and change what
 * you need, e.g. {@code AdamW.settings(6e-4).betas(0.9, 0.95).weightDecay(0.1)}.
 *
 * @param decayFilter which parameters weight decay applies to ({@link Optimizer#DECAY_MATRICES} by default)
 */
public record AdamSettings(double lr, double beta1, double beta2, double eps, double weightDecay,
                           BiPredicate<String, Variable> decayFilter) {
    public AdamSettings {
        Optimizer.checkRange("Adam/AdamW", "lr", lr, 0, true, Double.POSITIVE_INFINITY, false);
        Optimizer.checkRange("Adam/AdamW", "beta1", beta1, 0, true, 1, false);
        Optimizer.checkRange("Adam/AdamW", "beta2", beta2, 0, true, 1, false);
        Optimizer.checkRange("Adam/AdamW", "eps", eps, 0, true, Double.POSITIVE_INFINITY, false);
        Optimizer.checkRange("Adam/AdamW", "weightDecay", weightDecay, 0, true, Double.POSITIVE_INFINITY, false);
        if (decayFilter == null) {
            throw new IllegalArgumentException("Adam/AdamW: decayFilter is null");
        }
    }

    public AdamSettings betas(double beta1, double beta2) {
        return new AdamSettings(lr, beta1, beta2, eps, weightDecay, decayFilter);
    }

    public AdamSettings eps(double eps) {
        return new AdamSettings(lr, beta1, beta2, eps, weightDecay, decayFilter);
    }

    public AdamSettings weightDecay(double weightDecay) {
        return new AdamSettings(lr, beta1, beta2, eps, weightDecay, decayFilter);
    }

    public AdamSettings decayFilter(BiPredicate<String, Variable> decayFilter) {
        return new AdamSettings(lr, beta1, beta2, eps, weightDecay, decayFilter);
    }

    /** {@code lr / (1 - beta1^t)}: the step size with the first moment's bias correction, at update t (from 1). */
    double stepSize(double learningRate, long t) {
        return learningRate / (1 - Math.pow(beta1, t));
    }

    /** {@code sqrt(1 - beta2^t)}: the second moment's bias correction, at update t (from 1). */
    double sqrtBias2(long t) {
        return Math.sqrt(1 - Math.pow(beta2, t));
    }

    /** The hyperparameters as optimizers print them. */
    String describe() {
        return "betas=(" + beta1 + ", " + beta2 + "), eps=" + eps + ", weightDecay=" + weightDecay;
    }
}
