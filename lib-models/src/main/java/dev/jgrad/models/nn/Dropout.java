package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;

/**
 * Inverted dropout: in training mode each element is zeroed with probability p and the survivors are scaled by
 * 1 / (1 - p), so eval mode (and p = 0) is the identity. The mask comes from the given {@link Rng}, so a run is
 * reproducible from its seed; modules sharing one Rng draw from it in forward order.
 */
public final class Dropout extends Module implements Layer {
    private final double p;
    private final Rng rng;

    public Dropout(double p, Rng rng) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("Dropout: p must be in [0, 1], got " + p);
        }
        if (rng == null && p > 0) {
            throw new IllegalArgumentException("Dropout: p = " + p + " needs an Rng");
        }
        this.p = p;
        this.rng = rng;
    }

    @Override
    public Variable forward(Variable x) {
        if (!isTraining() || p == 0) {
            return x;
        }
        double[] mask = new double[dev.jgrad.tensor.Shapes.numel(x.shape())];
        double keptScale = p == 1 ? 0 : 1 / (1 - p);
        for (int i = 0; i < mask.length; i++) {
            mask[i] = rng.nextDouble() >= p ? keptScale : 0;
        }
        return x.mul(Variable.constant(Tensor.wrap(mask, x.shape()).to(x.dtype())));
    }

    public double p() {
        return p;
    }
}
