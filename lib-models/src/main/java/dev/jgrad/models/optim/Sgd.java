package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.OptimizerKernels;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, exactly as
 * {@code torch.optim.SGD} (1.13):
 * <pre>
 *   d = g + weightDecay * p                       (decayed parameters only)
 *   buf = d at a parameter's first update, then momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf        (with momentum)
 *   p = p - lr * d
 * </pre>
 */
public final class Sgd extends Optimizer {
    /**
     * SGD hyperparameters; start from {@link Sgd#settings(double)} and change what you need.
     *
     * @param decayFilter which parameters weight decay applies to ({@link Optimizer#DECAY_MATRICES} by default)
     */
    public record Settings(double lr, double momentum, double dampening, boolean nesterov, double weightDecay,
                           BiPredicate<String, Variable> decayFilter) {
        public Settings {
            checkRange("Sgd", "lr", lr, 0, true, Double.POSITIVE_INFINITY, false);
            checkRange("Sgd", "momentum", momentum, 0, true, 1, true);
            checkRange("Sgd", "dampening", dampening, 0, true, 1, true);
            checkRange("Sgd", "weightDecay", weightDecay, 0, true, Double.POSITIVE_INFINITY, false);
            if (nesterov && (momentum == 0 || dampening != 0)) {
                throw new IllegalArgumentException("Sgd: Nesterov momentum needs momentum > 0 and dampening 0, got "
                        + "momentum " + momentum + ", dampening " + dampening);
            }
            if (decayFilter == null) {
                throw new IllegalArgumentException("Sgd: decayFilter is null");
            }
        }

        public Settings momentum(double momentum) {
            return new Settings(lr, momentum, dampening, nesterov, weightDecay, decayFilter);
        }

        public Settings dampening(double dampening) {
            return new Settings(lr, momentum, dampening, nesterov, weightDecay, decayFilter);
        }

        public Settings nesterov(boolean nesterov) {
            return new Settings(lr, momentum, dampening, nesterov, weightDecay, decayFilter);
        }

        public Settings weightDecay(double weightDecay) {
            return new Settings(lr, momentum, dampening, nesterov, weightDecay, decayFilter);
        }

        public Settings decayFilter(BiPredicate<String, Variable> decayFilter) {
            return new Settings(lr, momentum, dampening, nesterov, weightDecay, decayFilter);
        }
    }

    /** Plain SGD at learning rate {@code lr}: no momentum, no weight decay (PyTorch's defaults). */
    public static Settings settings(double lr) {
        return new Settings(lr, 0, 0, false, 0, DECAY_MATRICES);
    }

    private final Settings settings;

    public Sgd(Map<String, Variable> params, Settings settings) {
        super("Sgd", params, settings.lr(), settings.decayFilter(),
                settings.momentum() == 0 ? List.of() : List.of("momentum_buffer"));
        this.settings = settings;
    }

    /** Parameters named "0", "1", ... in list order. */
    public Sgd(List<Variable> params, Settings settings) {
        this(indexed(params), settings);
    }

    public Settings settings() {
        return settings;
    }

    @Override
    protected void update(Slot slot, Tensor grad) {
        Tensor p = slot.value();
        double lr = learningRate();
        double weightDecay = slot.decays() ? settings.weightDecay() : 0;
        double momentum = settings.momentum();
        boolean first = slot.steps() == 1;
        // The buffer starts at zero, so "buf = d" on the first update is the general formula with scale 0, input 1.
        double bufScale = first ? 0 : momentum;
        double bufInput = first ? 1 : 1 - settings.dampening();
        boolean hasBuffer = momentum != 0;
        if (p.dtype() == DType.F32) {
            OptimizerKernels.sgd(p.f32Data(), p.offset(), grad.f32Data(), grad.offset(),
                    hasBuffer ? slot.buffer(0).f32Data() : null, p.numel(), (float) lr, (float) weightDecay,
                    (float) bufScale, (float) bufInput, settings.nesterov(), (float) momentum);
        } else {
            OptimizerKernels.sgd(p.f64Data(), p.offset(), grad.f64Data(), grad.offset(),
                    hasBuffer ? slot.buffer(0).f64Data() : null, p.numel(), lr, weightDecay, bufScale, bufInput,
                    settings.nesterov(), momentum);
        }
    }

    @Override
    protected String describeSettings() {
        return "momentum=" + settings.momentum() + ", dampening=" + settings.dampening() + ", nesterov="
                + settings.nesterov() + ", weightDecay=" + settings.weightDecay();
    }
}
