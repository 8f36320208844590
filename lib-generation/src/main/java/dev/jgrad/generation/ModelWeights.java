package dev.jgrad.generation;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A {@link Gpt}'s parameter tensors arranged for a hand-written forward pass: per layer, the norms, the
 * projections that produce q, k and v (GPT-2's one fused {@code c_attn}, or LLaMA's {@code q_proj, k_proj,
 * v_proj}: either way their outputs laid side by side are [q | k | v]), the attention output, and the MLP.
 * Looked up by the parameter names {@link Gpt} documents, so both layouts and every mix the config allows
 * (e.g. LayerNorm with SwiGLU) are covered. The tensors are the model's own, not copies.
 */
record ModelWeights(Tensor tokenEmbedding, Tensor positionEmbedding, List<Layer> layers, Norm finalNorm, Tensor head) {

    /** weight [out, in] and bias [out] (or null). */
    record Linear(Tensor weight, Tensor bias) {
        int out() {
            return weight.size(0);
        }

        int in() {
            return weight.size(1);
        }
    }

    /** weight [D] and, for a LayerNorm with bias, bias [D]; null bias otherwise. */
    record Norm(Tensor weight, Tensor bias) {}

    /**
     * @param qkv       projections whose outputs, concatenated, are [q | k | v]
     * @param gateOrFc  GPT-2's {@code c_fc} or SwiGLU's {@code gate_proj}
     * @param up        SwiGLU's {@code up_proj}, null for GELU
     * @param down      {@code c_proj} or {@code down_proj}
     */
    record Layer(Norm norm1, List<Linear> qkv, Linear attentionOut, Norm norm2, Linear gateOrFc, Linear up,
                 Linear down) {}

    static ModelWeights of(Gpt model) {
        GptConfig c = model.config();
        Map<String, Variable> params = model.namedParameters();
        boolean gpt2 = c.layout() == GptConfig.Layout.GPT2;
        boolean gelu = c.activation() == GptConfig.Activation.GELU;
        String trunk = gpt2 ? "transformer." : "model.";
        Lookup p = new Lookup(params);
        Tensor tokens = p.tensor(trunk + (gpt2 ? "wte" : "embed_tokens") + ".weight");
        Tensor positions = c.positions() == GptConfig.Positions.LEARNED
                ? p.tensor(trunk + (gpt2 ? "wpe" : "embed_positions") + ".weight")
                : null;
        var layers = new java.util.ArrayList<Layer>();
        for (int i = 0; i < c.layers(); i++) {
            String b = trunk + (gpt2 ? "h." : "layers.") + i + ".";
            String attn = b + (gpt2 ? "attn." : "self_attn.");
            List<Linear> qkv = gpt2
                    ? List.of(p.linear(attn + "c_attn", c.bias()))
                    : List.of(p.linear(attn + "q_proj", c.bias()), p.linear(attn + "k_proj", c.bias()),
                            p.linear(attn + "v_proj", c.bias()));
            Linear out = p.linear(attn + (gpt2 ? "c_proj" : "o_proj"), c.bias());
            Norm norm1 = p.norm(b + (gpt2 ? "ln_1" : "input_layernorm"), c);
            Norm norm2 = p.norm(b + (gpt2 ? "ln_2" : "post_attention_layernorm"), c);
            String mlp = b + "mlp.";
            Linear gateOrFc = p.linear(mlp + (gelu ? "c_fc" : "gate_proj"), c.bias());
            Linear up = gelu ? null : p.linear(mlp + "up_proj", c.bias());
            Linear down = p.linear(mlp + (gelu ? "c_proj" : "down_proj"), c.bias());
            layers.add(new Layer(norm1, qkv, out, norm2, gateOrFc, up, down));
        }
        Norm finalNorm = p.norm(trunk + (gpt2 ? "ln_f" : "norm"), c);
        return new ModelWeights(tokens, positions, List.copyOf(layers), finalNorm, p.tensor("lm_head.weight"));
    }

    private record Lookup(Map<String, Variable> params) {
        Tensor tensor(String name) {
            Variable v = params.get(name);
            if (v == null) {
                throw new IllegalArgumentException("KvCacheDecoder: the model has no parameter '" + name + "'");
            }
            return v.value();
        }

        Linear linear(String name, boolean bias) {
            return new Linear(tensor(name + ".weight"), bias ? tensor(name + ".bias") : null);
        }

        Norm norm(String name, GptConfig c) {
            boolean bias = c.norm() == GptConfig.Norm.LAYER_NORM && c.bias();
            return new Norm(tensor(name + ".weight"), bias ? tensor(name + ".bias") : null);
        }
    }
}
