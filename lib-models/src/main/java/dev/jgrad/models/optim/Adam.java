package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.OptimizerKernels;
import java.util.List;
import java.util.Map;

/**
 * Adam with L2 weight decay added to the gradient, exactly as {@code torch.optim.Adam} (1.13). At a parameter's
 * t-th update (t from 1):
 * <pre>
 *   d = g + weightDecay * p                       (decayed parameters only)
 *   m = beta1 * m + (1 - beta1) * d
 *   v = beta2 * v + (1 - beta2) * d^2
 *   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 * eps sits outside the square root of the bias-corrected second moment. Because the decay term passes through the
 * moments it is rescaled per coordinate like the gradient; {@link AdamW} decouples it.
 */
public final class Adam extends Optimizer {
    static final List<String> BUFFERS = List.of("exp_avg", "exp_avg_sq");

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public static AdamSettings settings(double lr) {
        return new AdamSettings(lr, 0.9, 0.999, 1e-8, 0, DECAY_MATRICES);
    }

    private final AdamSettings settings;

    public Adam(Map<String, Variable> params, AdamSettings settings) {
        super("Adam", params, settings.lr(), settings.decayFilter(), BUFFERS);
        this.settings = settings;
    }

    /** Parameters named "0", "1", ... in list order. */
    public Adam(List<Variable> params, AdamSettings settings) {
        this(indexed(params), settings);
    }

    public AdamSettings settings() {
        return settings;
    }

    @Override
    protected void update(Slot slot, Tensor grad) {
        Tensor p = slot.value();
        double weightDecay = slot.decays() ? settings.weightDecay() : 0;
        double stepSize = settings.stepSize(learningRate(), slot.steps());
        double sqrtBias2 = settings.sqrtBias2(slot.steps());
        Tensor m = slot.buffer(0);
        Tensor v = slot.buffer(1);
        if (p.dtype() == DType.F32) {
            OptimizerKernels.adam(p.f32Data(), p.offset(), grad.f32Data(), grad.offset(), m.f32Data(), v.f32Data(),
                    p.numel(), (float) settings.beta1(), (float) settings.beta2(), (float) settings.eps(),
                    (float) weightDecay, (float) stepSize, (float) sqrtBias2);
        } else {
            OptimizerKernels.adam(p.f64Data(), p.offset(), grad.f64Data(), grad.offset(), m.f64Data(), v.f64Data(),
                    p.numel(), settings.beta1(), settings.beta2(), settings.eps(), weightDecay, stepSize, sqrtBias2);
        }
    }

    @Override
    protected String describeSettings() {
        return settings.describe();
    }
}
