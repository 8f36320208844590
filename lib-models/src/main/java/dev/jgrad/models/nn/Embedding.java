package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;

/** A lookup table of {@code vocab} vectors of size {@code dim}, like {@code torch.nn.Embedding}: weight [vocab, dim], N(0, 1) init. */
public final class Embedding extends Module {
    private final int vocab;
    private final int dim;

    public Embedding(int vocab, int dim, DType dtype, Rng rng) {
        if (vocab <= 0 || dim <= 0) {
            throw new IllegalArgumentException("Embedding: vocab and dim must be positive, got vocab " + vocab
                    + ", dim " + dim);
        }
        this.vocab = vocab;
        this.dim = dim;
        parameter("weight", Tensor.randn(dtype, rng, vocab, dim));
    }

    public Variable weight() {
        return param("weight");
    }

    /** The rows for {@code ids}, shaped {@code shape + [dim]} (shape defaults to [ids.length]). */
    public Variable forward(int[] ids, int... shape) {
        return Variable.embedding(weight(), ids, shape.length == 0 ? new int[] {ids.length} : shape);
    }

    public int vocab() {
        return vocab;
    }

    public int dim() {
        return dim;
    }
}
