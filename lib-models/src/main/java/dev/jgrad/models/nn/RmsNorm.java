package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;

/** RMS normalisation over the last dimension with a learned scale (LLaMA's {@code LlamaRMSNorm}): weight (ones). */
public final class RmsNorm extends Module implements Layer {
    private final int dim;
    private final double eps;

    public RmsNorm(int dim, double eps, DType dtype) {
        if (dim <= 0 || !(eps > 0)) {
            throw new IllegalArgumentException("RmsNorm: need dim > 0 and eps > 0, got dim " + dim + ", eps " + eps);
        }
        this.dim = dim;
        this.eps = eps;
        parameter("weight", Tensor.ones(dtype, dim));
    }

    @Override
    public Variable forward(Variable x) {
        if (x.rank() < 1 || x.size(-1) != dim) {
            throw new ShapeException("RmsNorm.forward: expected input [..., " + dim + "], got " + Shapes.str(x.shape()));
        }
        return Variable.rmsNorm(x, param("weight"), eps);
    }

    public double eps() {
        return eps;
    }
}
