package dev.jgrad.models.nn;

import dev.jgrad.autograd.Tape;
import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.ops.Attention;

/**
 * Multi-head causal self-attention with optional grouped-query heads and rotary positions.
 *
 * <p>Two parameter layouts, named as in the reference models so state dicts map 1:1:
 * <ul>
 *   <li>{@link Projections#FUSED} (GPT-2): {@code c_attn} [(Hq + 2·Hkv)·hd, D] producing q, k, v side by side,
 *       and {@code c_proj} [D, D];
 *   <li>{@link Projections#SEPARATE} (LLaMA): {@code q_proj} [Hq·hd, D], {@code k_proj} and {@code v_proj}
 *       [Hkv·hd, D], {@code o_proj} [D, D].
 * </ul>
 * The output projection is followed by dropout (GPT-2's {@code resid_dropout}). There is no dropout on the
 * attention probabilities: the attention op does not take one.
 */
public final class CausalSelfAttention extends Module implements Layer {
    public enum Projections { FUSED, SEPARATE }

    private final int dModel;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final boolean rope;
    private final double ropeTheta;
    private final Linear qkv;
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear out;
    private final Dropout dropout;

    /**
     * @param rope      rotate q and k by position (RoPE, {@link Functional#rope}) with base {@code ropeTheta}
     * @param dropout   residual dropout probability; {@code dropoutRng} may be null when it is 0
     */
    public CausalSelfAttention(int dModel, int heads, int kvHeads, Projections projections, boolean bias,
                               boolean rope, double ropeTheta, double dropout, Rng dropoutRng, DType dtype,
                               Rng rng) {
        if (heads <= 0 || kvHeads <= 0 || dModel % heads != 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("CausalSelfAttention: need dModel divisible by heads and heads by "
                    + "kvHeads, got dModel " + dModel + ", heads " + heads + ", kvHeads " + kvHeads);
        }
        this.dModel = dModel;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = dModel / heads;
        if (rope && headDim % 2 != 0) {
            throw new IllegalArgumentException("CausalSelfAttention: RoPE needs an even head size, got " + headDim);
        }
        this.rope = rope;
        this.ropeTheta = ropeTheta;
        int kvWidth = kvHeads * headDim;
        if (projections == Projections.FUSED) {
            qkv = child("c_attn", new Linear(dModel, dModel + 2 * kvWidth, bias, dtype, rng));
            q = k = v = null;
            out = child("c_proj", new Linear(dModel, dModel, bias, dtype, rng));
        } else {
            qkv = null;
            q = child("q_proj", new Linear(dModel, dModel, bias, dtype, rng));
            k = child("k_proj", new Linear(dModel, kvWidth, bias, dtype, rng));
            v = child("v_proj", new Linear(dModel, kvWidth, bias, dtype, rng));
            out = child("o_proj", new Linear(dModel, dModel, bias, dtype, rng));
        }
        this.dropout = child("resid_dropout", new Dropout(dropout, dropoutRng));
    }

    /** x [B, T, D] to [B, T, D]; position t attends to positions 0..t. */
    @Override
    public Variable forward(Variable x) {
        if (qkv != null && !rope) {   // GPT-2: attention straight from the fused projection, fewer copies
            if (x.rank() != 3 || x.size(2) != dModel) {
                throw new ShapeException("CausalSelfAttention.forward: expected x [B, T, " + dModel + "], got "
                        + Shapes.str(x.shape()));
            }
            Variable y = Variable.attentionPacked(qkv.forward(x), heads, kvHeads, true, 1 / Math.sqrt(headDim));
            return dropout.forward(out.forward(y));
        }
        Variable[] qkvHeads = heads(x, "CausalSelfAttention.forward");
        Variable y = Functional.attention(qkvHeads[0], qkvHeads[1], qkvHeads[2], true, 1 / Math.sqrt(headDim));
        int batch = x.size(0);
        int time = x.size(1);
        y = y.transpose(1, 2).reshape(batch, time, dModel);   // heads side by side again
        return dropout.forward(out.forward(y));
    }

    /**
     * The causal attention probabilities [B, Hq, T, T] this layer computes for x [B, T, D] (row t: how much
     * query t draws from each key), for looking at what heads do; nothing is recorded on the tape.
     */
    public Tensor attentionWeights(Variable x) {
        return Tape.noGrad(() -> {
            Variable[] qkvHeads = heads(x, "CausalSelfAttention.attentionWeights");
            return Attention.probabilities(qkvHeads[0].value(), qkvHeads[1].value(), true, 1 / Math.sqrt(headDim));
        });
    }

    /** Queries [B, Hq, T, hd], keys and values [B, Hkv, T, hd] for x [B, T, D], RoPE applied when enabled. */
    private Variable[] heads(Variable x, String op) {
        if (x.rank() != 3 || x.size(2) != dModel) {
            throw new ShapeException(op + ": expected x [B, T, " + dModel + "], got " + Shapes.str(x.shape()));
        }
        int batch = x.size(0);
        int time = x.size(1);
        Variable queries;
        Variable keys;
        Variable values;
        if (qkv != null) {
            Variable[] parts = qkv.forward(x).split(2, dModel, kvHeads * headDim, kvHeads * headDim);
            queries = parts[0];
            keys = parts[1];
            values = parts[2];
        } else {
            queries = q.forward(x);
            keys = k.forward(x);
            values = v.forward(x);
        }
        queries = splitHeads(queries, batch, time, heads);   // [B, Hq, T, hd]
        keys = splitHeads(keys, batch, time, kvHeads);       // [B, Hkv, T, hd]
        values = splitHeads(values, batch, time, kvHeads);
        if (rope) {
            queries = Functional.rope(queries, 0, ropeTheta);
            keys = Functional.rope(keys, 0, ropeTheta);
        }
        return new Variable[] {queries, keys, values};
    }

    private Variable splitHeads(Variable x, int batch, int time, int count) {
        return x.reshape(batch, time, count, headDim).transpose(1, 2);
    }

    /** The projection that writes into the residual stream (GPT-2 scales its init by 1/sqrt(2·layers)). */
    public Linear outputProjection() {
        return out;
    }

    public int heads() {
        return heads;
    }

    public int kvHeads() {
        return kvHeads;
    }
}
