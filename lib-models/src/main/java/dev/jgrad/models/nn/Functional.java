package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;

/**
 * The three transformer operations with fused kernels: attention, rotary position embedding and cross-entropy.
 * Layers call these and nothing else for the three operations. Each runs one lib-tensor kernel forward and one
 * backward (see {@code dev.jgrad.tensor.ops.Attention}, {@code Rope}, {@code CrossEntropy}); the tests hold them
 * to PyTorch and to the same operations composed from the tape's basic ops.
 */
public final class Functional {
    private Functional() {}

    /**
     * Scaled dot-product attention {@code softmax(q kᵀ · scale + mask) v}, computed row by row with an online
     * softmax so the [T, S] score matrix is never stored.
     *
     * @param q      queries [B, Hq, T, D]
     * @param k      keys [B, Hkv, S, D]; Hq must be a multiple of Hkv (grouped-query attention: each group of
     *               Hq / Hkv consecutive query heads shares one key/value head, as in LLaMA)
     * @param v      values [B, Hkv, S, D]
     * @param causal when true, query t may only attend to keys s <= t + (S - T): the queries are the last T of
     *               the S positions (S = T in training; S > T when earlier keys come from a cache)
     * @param scale  usually 1 / sqrt(D)
     * @return [B, Hq, T, D]
     */
    public static Variable attention(Variable q, Variable k, Variable v, boolean causal, double scale) {
        return Variable.attention(q, k, v, causal, scale);
    }

    /**
     * Rotary position embedding in the HuggingFace LLaMA ("rotate half") layout: the head dimension D is split
     * into halves, and the pair (x[i], x[i + D/2]) is rotated by the angle pos · theta^(-2i/D), where pos is
     * {@code startPos} plus the index along T.
     *
     * @param x [B, H, T, D] with D even
     */
    public static Variable rope(Variable x, int startPos, double theta) {
        return x.rope(startPos, theta);
    }

    /**
     * Mean cross-entropy of {@code logits} [N, C] against class indices, like
     * {@code torch.nn.functional.cross_entropy(logits, targets, ignore_index=..., label_smoothing=...)}.
     * Rows whose target is {@code ignoreIndex} contribute nothing and are not counted in the mean (so when every
     * row is ignored the result is 0/0 = NaN, as in PyTorch). With label smoothing ε the target distribution is
     * (1 - ε) on the target class plus ε / C on every class.
     */
    public static Variable crossEntropy(Variable logits, int[] targets, int ignoreIndex, double labelSmoothing) {
        return Variable.crossEntropy(logits, targets, ignoreIndex, labelSmoothing);
    }
}
