package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;

/**
 * The three fused transformer operations written out with the tape's basic ops (matmul, masked fill, softmax,
 * split/concat, log-softmax): every step visible and differentiated by ops tested on their own. This is the
 * reference {@link Functional}'s fused kernels are held to.
 */
final class CompositeReference {
    private CompositeReference() {}

    /**
     * Scaled dot-product attention {@code softmax(q kᵀ · scale + mask) v}.
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
        String op = "CompositeReference.attention";
        if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4) {
            throw new ShapeException(op + ": q, k, v must be [B, H, T, D], got q " + Shapes.str(q.shape()) + ", k "
                    + Shapes.str(k.shape()) + ", v " + Shapes.str(v.shape()));
        }
        int batch = q.size(0);
        int queryHeads = q.size(1);
        int queries = q.size(2);
        int headDim = q.size(3);
        int kvHeads = k.size(1);
        int keys = k.size(2);
        if (!java.util.Arrays.equals(k.shape(), v.shape()) || k.size(0) != batch || k.size(3) != headDim
                || kvHeads == 0 || queryHeads % kvHeads != 0) {
            throw new ShapeException(op + ": expected k and v [B, Hkv, S, D] matching q [B, Hq, T, D] with Hq a "
                    + "multiple of Hkv, got q " + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape()) + ", v "
                    + Shapes.str(v.shape()));
        }
        if (causal && keys < queries) {
            throw new ShapeException(op + ": causal attention needs at least as many keys as queries, got q "
                    + Shapes.str(q.shape()) + " and k " + Shapes.str(k.shape()));
        }
        Variable keysPerQueryHead = repeatHeads(k, queryHeads / kvHeads);
        Variable valuesPerQueryHead = repeatHeads(v, queryHeads / kvHeads);

        Variable scores = q.matmul(keysPerQueryHead.transpose(2, 3)).mul(scale);   // [B, Hq, T, S]
        if (causal) {
            scores = scores.maskedFill(futureMask(q.dtype(), queries, keys), Double.NEGATIVE_INFINITY);
        }
        return scores.softmax(-1).matmul(valuesPerQueryHead);
    }

    /** [B, Hkv, S, D] to [B, Hkv * repeats, S, D], each head repeated {@code repeats} times in place (no copy when 1). */
    private static Variable repeatHeads(Variable x, int repeats) {
        if (repeats == 1) {
            return x;
        }
        int[] s = x.shape();
        return x.unsqueeze(2).expand(s[0], s[1], repeats, s[2], s[3]).reshape(s[0], s[1] * repeats, s[2], s[3]);
    }

    /** [T, S] with 1 where query t must not see key s (s > t + S - T), 0 elsewhere. */
    static Tensor futureMask(DType dtype, int queries, int keys) {
        Tensor mask = Tensor.zeros(dtype, queries, keys);
        int offset = keys - queries;
        for (int t = 0; t < queries; t++) {
            int firstHidden = t + offset + 1;
            if (firstHidden < keys) {
                mask.narrow(0, t, 1).narrow(1, firstHidden, keys - firstHidden).fill(1);
            }
        }
        return mask;
    }

    /**
     * Rotary position embedding in the HuggingFace LLaMA ("rotate half") layout: the head dimension D is split
     * into halves, and the pair (x[i], x[i + D/2]) is rotated by the angle pos · theta^(-2i/D), where pos is
     * {@code startPos} plus the index along T.
     *
     * @param x [B, H, T, D] with D even
     */
    public static Variable rope(Variable x, int startPos, double theta) {
        String op = "CompositeReference.rope";
        if (x.rank() != 4 || x.size(3) % 2 != 0) {
            throw new ShapeException(op + ": x must be [B, H, T, D] with an even D, got " + Shapes.str(x.shape()));
        }
        if (startPos < 0 || !(theta > 0)) {
            throw new IllegalArgumentException(op + ": need startPos >= 0 and theta > 0, got startPos " + startPos
                    + ", theta " + theta);
        }
        int time = x.size(2);
        int dim = x.size(3);
        int half = dim / 2;
        // cos and sin tables [T, D]; both halves of a row hold the same angles.
        Tensor cos = Tensor.zeros(x.dtype(), time, dim);
        Tensor sin = Tensor.zeros(x.dtype(), time, dim);
        for (int t = 0; t < time; t++) {
            for (int i = 0; i < half; i++) {
                double angle = (startPos + t) * Math.pow(theta, -2.0 * i / dim);
                cos.set(Math.cos(angle), t, i).set(Math.cos(angle), t, i + half);
                sin.set(Math.sin(angle), t, i).set(Math.sin(angle), t, i + half);
            }
        }
        Variable[] halves = x.split(3, half, half);
        Variable rotated = Variable.concat(3, halves[1].neg(), halves[0]);   // rotate_half: (x1, x2) -> (-x2, x1)
        return x.mul(Variable.constant(cos)).add(rotated.mul(Variable.constant(sin)));
    }

    /**
     * Mean cross-entropy of {@code logits} [N, C] against class indices, like
     * {@code torch.nn.functional.cross_entropy(logits, targets, ignore_index=..., label_smoothing=...)}.
     * Rows whose target is {@code ignoreIndex} contribute nothing and are not counted in the mean (so when every
     * row is ignored the result is 0/0 = NaN, as in PyTorch). With label smoothing ε the target distribution is
     * (1 - ε) on the target class plus ε / C on every class.
     */
    public static Variable crossEntropy(Variable logits, int[] targets, int ignoreIndex, double labelSmoothing) {
        String op = "CompositeReference.crossEntropy";
        if (logits.rank() != 2 || logits.size(0) != targets.length) {
            throw new ShapeException(op + ": logits must be [N, C] with N = targets.length (" + targets.length
                    + "), got " + Shapes.str(logits.shape()));
        }
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException(op + ": labelSmoothing must be in [0, 1], got " + labelSmoothing);
        }
        int rows = targets.length;
        int classes = logits.size(1);
        // The loss is -sum(weights * log_softmax(logits)) / counted, with weights the target distribution per row
        // (one-hot, smoothed) and zero rows for ignored targets.
        Tensor weights = Tensor.zeros(logits.dtype(), rows, classes);
        int counted = 0;
        for (int i = 0; i < rows; i++) {
            int target = targets[i];
            if (target == ignoreIndex) {
                continue;
            }
            if (target < 0 || target >= classes) {
                throw new IllegalArgumentException(op + ": target " + target + " at row " + i + " is out of range for "
                        + classes + " classes (and is not the ignore index " + ignoreIndex + ")");
            }
            counted++;
            if (labelSmoothing > 0) {
                weights.narrow(0, i, 1).fill(labelSmoothing / classes);
            }
            weights.set(weights.get(i, target) + 1 - labelSmoothing, i, target);
        }
        return logits.logSoftmax(1).mul(Variable.constant(weights)).sum().mul(-1.0 / counted);
    }
}
