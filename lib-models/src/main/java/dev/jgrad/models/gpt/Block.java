package dev.jgrad.models.gpt;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.nn.CausalSelfAttention;
import dev.jgrad.models.nn.Layer;
import dev.jgrad.models.nn.LayerNorm;
import dev.jgrad.models.nn.Mlp;
import dev.jgrad.models.nn.Module;
import dev.jgrad.models.nn.RmsNorm;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;

/**
 * One pre-norm transformer block: {@code x + attn(norm1(x))}, then {@code x + mlp(norm2(x))}. Children are named
 * {@code ln_1, attn, ln_2, mlp} in the GPT-2 layout and {@code input_layernorm, self_attn,
 * post_attention_layernorm, mlp} in the LLaMA layout.
 */
public final class Block extends Module implements Layer {
    private final Layer norm1;
    private final CausalSelfAttention attention;
    private final Layer norm2;
    private final Mlp mlp;

    public Block(GptConfig c, DType dtype, Rng rng, Rng dropoutRng) {
        boolean gpt2 = c.layout() == GptConfig.Layout.GPT2;
        var projections = gpt2 ? CausalSelfAttention.Projections.FUSED : CausalSelfAttention.Projections.SEPARATE;
        norm1 = (Layer) child(gpt2 ? "ln_1" : "input_layernorm", newNorm(c, dtype));
        attention = child(gpt2 ? "attn" : "self_attn", new CausalSelfAttention(c.dModel(), c.heads(), c.kvHeads(),
                projections, c.bias(), c.positions() == GptConfig.Positions.ROPE, c.ropeTheta(), c.dropout(),
                dropoutRng, dtype, rng));
        norm2 = (Layer) child(gpt2 ? "ln_2" : "post_attention_layernorm", newNorm(c, dtype));
        mlp = child("mlp", c.activation() == GptConfig.Activation.GELU
                ? Mlp.gelu(c.dModel(), c.mlpHidden(), c.bias(), c.dropout(), dropoutRng, dtype, rng)
                : Mlp.swiGlu(c.dModel(), c.mlpHidden(), c.bias(), c.dropout(), dropoutRng, dtype, rng));
    }

    /** The config's normalisation layer (LayerNorm with a bias only when the config has biases, or RMSNorm). */
    static Module newNorm(GptConfig c, DType dtype) {
        return switch (c.norm()) {
            case LAYER_NORM -> new LayerNorm(c.dModel(), c.eps(), true, c.bias(), dtype);
            case RMS_NORM -> new RmsNorm(c.dModel(), c.eps(), dtype);
        };
    }

    /** x [B, T, D] to [B, T, D]. */
    @Override
    public Variable forward(Variable x) {
        x = x.add(attention.forward(norm1.forward(x)));
        return x.add(mlp.forward(norm2.forward(x)));
    }

    /** The attention probabilities [B, H, T, T] this block's attention computes for its input x [B, T, D]. */
    public Tensor attentionWeights(Variable x) {
        return attention.attentionWeights(norm1.forward(x));
    }

    public CausalSelfAttention attention() {
        return attention;
    }

    public Mlp mlp() {
        return mlp;
    }
}
