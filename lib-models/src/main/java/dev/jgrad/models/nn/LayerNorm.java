package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;

/**
 * Layer normalisation over the last dimension, like {@code torch.nn.LayerNorm(dim, eps)}: weight (ones) and,
 * when {@code bias}, bias (zeros). Without {@code affine} there are no parameters at all. nanoGPT's
 * bias-free LayerNorm is {@code affine = true, bias = false}.
 */
public final class LayerNorm extends Module implements Layer {
    private final int dim;
    private final double eps;
    private final boolean affine;
    private final boolean hasBias;

    public LayerNorm(int dim, double eps, boolean affine, boolean bias, DType dtype) {
        if (dim <= 0 || !(eps > 0)) {
            throw new IllegalArgumentException("LayerNorm: need dim > 0 and eps > 0, got dim " + dim + ", eps " + eps);
        }
        this.dim = dim;
        this.eps = eps;
        this.affine = affine;
        this.hasBias = affine && bias;
        if (affine) {
            parameter("weight", Tensor.ones(dtype, dim));
        }
        if (hasBias) {
            parameter("bias", Tensor.zeros(dtype, dim));
        }
    }

    /** {@code torch.nn.LayerNorm(dim, eps, elementwise_affine=affine)}: weight and bias, or neither. */
    public LayerNorm(int dim, double eps, boolean affine, DType dtype) {
        this(dim, eps, affine, true, dtype);
    }

    @Override
    public Variable forward(Variable x) {
        if (x.rank() < 1 || x.size(-1) != dim) {
            throw new ShapeException("LayerNorm.forward: expected input [..., " + dim + "], got " + Shapes.str(x.shape()));
        }
        return Variable.layerNorm(x, affine ? param("weight") : null, hasBias ? param("bias") : null, eps);
    }

    public double eps() {
        return eps;
    }
}
