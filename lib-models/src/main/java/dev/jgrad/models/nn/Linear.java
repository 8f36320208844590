package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;

/**
 * {@code y = x Wᵀ + b} over the last dimension, like {@code torch.nn.Linear}: weight [out, in], bias [out].
 * Initialised as PyTorch does, U(-1/sqrt(in), 1/sqrt(in)) for both; models re-initialise as their papers say.
 */
public final class Linear extends Module implements Layer {
    private final int in;
    private final int out;
    private final boolean hasBias;

    public Linear(int in, int out, boolean bias, DType dtype, Rng rng) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("Linear: in and out must be positive, got in " + in + ", out " + out);
        }
        this.in = in;
        this.out = out;
        this.hasBias = bias;
        double bound = 1 / Math.sqrt(in);
        parameter("weight", Tensor.uniform(dtype, rng, -bound, bound, out, in));
        if (bias) {
            parameter("bias", Tensor.uniform(dtype, rng, -bound, bound, out));
        }
    }

    /** A linear layer whose weight is another module's parameter (weight tying); no bias. */
    public Linear(Variable sharedWeight) {
        if (sharedWeight.rank() != 2) {
            throw new ShapeException("Linear: a shared weight must be [out, in], got " + Shapes.str(sharedWeight.shape()));
        }
        this.out = sharedWeight.size(0);
        this.in = sharedWeight.size(1);
        this.hasBias = false;
        parameter("weight", sharedWeight);
    }

    public Variable weight() {
        return param("weight");
    }

    /** The bias, or null when the layer has none. */
    public Variable bias() {
        return hasBias ? param("bias") : null;
    }

    /** x [..., in] to [..., out]. */
    @Override
    public Variable forward(Variable x) {
        if (x.rank() < 1 || x.size(-1) != in) {
            throw new ShapeException("Linear.forward: expected input [..., " + in + "], got " + Shapes.str(x.shape()));
        }
        return Variable.linear(x, weight(), bias());
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }
}
