package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.OptimizerKernels;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter), exactly as {@code torch.optim.AdamW} (1.13). At a
 * parameter's t-th update (t from 1):
 * <pre>
 *   p = p * (1 - lr * weightDecay)                (decayed parameters only)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 * The decay shrinks the weights at a rate independent of the gradient statistics, unlike {@link Adam}'s L2 term.
 */
public final class AdamW extends Optimizer {
    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
    public static AdamSettings settings(double lr) {
        return new AdamSettings(lr, 0.9, 0.999, 1e-8, 0.01, DECAY_MATRICES);
    }

    private final AdamSettings settings;

    public AdamW(Map<String, Variable> params, AdamSettings settings) {
        super("AdamW", params, settings.lr(), settings.decayFilter(), Adam.BUFFERS);
        this.settings = settings;
    }

    /** Parameters named "0", "1", ... in list order. */
    public AdamW(List<Variable> params, AdamSettings settings) {
        this(indexed(params), settings);
    }

    public AdamSettings settings() {
        return settings;
    }

    @Override
    protected void update(Slot slot, Tensor grad) {
        Tensor p = slot.value();
        double lr = learningRate();
        double decayFactor = 1 - lr * (slot.decays() ? settings.weightDecay() : 0);
        double stepSize = settings.stepSize(lr, slot.steps());
        double sqrtBias2 = settings.sqrtBias2(slot.steps());
        Tensor m = slot.buffer(0);
        Tensor v = slot.buffer(1);
        if (p.dtype() == DType.F32) {
            OptimizerKernels.adamw(p.f32Data(), p.offset(), grad.f32Data(), grad.offset(), m.f32Data(), v.f32Data(),
                    p.numel(), (float) settings.beta1(), (float) settings.beta2(), (float) settings.eps(),
                    (float) decayFactor, (float) stepSize, (float) sqrtBias2);
        } else {
            OptimizerKernels.adamw(p.f64Data(), p.offset(), grad.f64Data(), grad.offset(), m.f64Data(), v.f64Data(),
                    p.numel(), settings.beta1(), settings.beta2(), settings.eps(), decayFactor, stepSize, sqrtBias2);
        }
    }

    @Override
    protected String describeSettings() {
        return settings.describe();
    }
}
