package dev.jgrad.models.gpt;

import dev.jgrad.autograd.Tape;
import dev.jgrad.autograd.Variable;
import dev.jgrad.models.nn.CausalSelfAttention;
import dev.jgrad.models.nn.Dropout;
import dev.jgrad.models.nn.Embedding;
import dev.jgrad.models.nn.Functional;
import dev.jgrad.models.nn.Layer;
import dev.jgrad.models.nn.Linear;
import dev.jgrad.models.nn.Module;
import dev.jgrad.models.nn.ModuleList;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A decoder-only transformer language model (GPT-2 or LLaMA style, see {@link GptConfig}).
 *
 * <p>Parameter names are those of the reference implementations, so state dicts map 1:1 onto them:
 * <pre>
 * GPT-2 layout (nanoGPT / HF GPT2LMHeadModel)      LLaMA layout (HF LlamaForCausalLM)
 * transformer.wte.weight        [V, D]             model.embed_tokens.weight                      [V, D]
 * transformer.wpe.weight        [ctx, D]           (model.embed_positions.weight with learned positions)
 * transformer.h.0.ln_1.weight / .bias              model.layers.0.input_layernorm.weight
 * transformer.h.0.attn.c_attn.weight / .bias       model.layers.0.self_attn.q_proj / k_proj / v_proj.weight
 * transformer.h.0.attn.c_proj.weight / .bias       model.layers.0.self_attn.o_proj.weight
 * transformer.h.0.ln_2.weight / .bias              model.layers.0.post_attention_layernorm.weight
 * transformer.h.0.mlp.c_fc.weight / .bias          model.layers.0.mlp.gate_proj / up_proj.weight
 * transformer.h.0.mlp.c_proj.weight / .bias        model.layers.0.mlp.down_proj.weight
 * transformer.ln_f.weight / .bias                  model.norm.weight
 * lm_head.weight                [V, D]             lm_head.weight                                 [V, D]
 * </pre>
 * Linear weights are [out, in] as in {@code torch.nn.Linear} (HF's GPT-2 checkpoints store Conv1D weights
 * transposed, [in, out]; nanoGPT's {@code from_pretrained} transposes them, and so must a loader here).
 *
 * <p>Tied embeddings: {@code lm_head.weight} is the same variable as the token embedding, and, as in nanoGPT's
 * and HF's {@code state_dict()}, it appears under both names in {@link #namedParameters()} and
 * {@link #stateDict()}; {@link #parameters()} lists it once, so an optimizer updates it once. A strict
 * {@link #loadStateDict} expects both names (they must hold the same values).
 *
 * <p>Initialisation (seeded by the {@link Rng}): every linear and embedding weight N(0, 0.02²), biases 0, norm
 * weights 1, as in GPT-2/nanoGPT; the two projections that write into the residual stream in each block
 * (attention output and MLP output) use std 0.02 / sqrt(2 · layers), GPT-2's scaling. The LLaMA layout gets
 * the same scheme (HF's LLaMA uses N(0, 0.02²) without the residual scaling; Karpathy's llama2.c scales).
 *
 * <p>Dropout ({@code config.dropout()}, training mode only) is applied to the summed input embeddings and to the
 * output of each attention and MLP branch, with masks drawn from an Rng split off the init Rng at construction.
 */
public final class Gpt extends Module {
    private final GptConfig config;
    private final DType dtype;
    private final Embedding tokens;
    private final Embedding positions;   // null with RoPE
    private final Dropout embeddingDropout;
    private final ModuleList<Block> blocks;
    private final Layer finalNorm;
    private final Linear head;
    /** The position ids of the last sequence length seen (see {@link #positionIds}). */
    private volatile int[] positionIds;

    /** The trunk's container: {@code transformer} (GPT-2) or {@code model} (LLaMA). */
    private static final class Trunk extends Module {
        <M extends Module> M add(String name, M module) {
            return child(name, module);
        }
    }

    public Gpt(GptConfig config, Rng rng) {
        this(config, DType.F32, rng);
    }

    public Gpt(GptConfig config, DType dtype, Rng rng) {
        this.config = config;
        this.dtype = dtype;
        Rng dropoutRng = new Rng(rng.nextLong());
        boolean gpt2 = config.layout() == GptConfig.Layout.GPT2;
        Trunk trunk = child(gpt2 ? "transformer" : "model", new Trunk());
        int d = config.dModel();
        tokens = trunk.add(gpt2 ? "wte" : "embed_tokens", new Embedding(config.vocabSize(), d, dtype, rng));
        positions = config.positions() == GptConfig.Positions.LEARNED
                ? trunk.add(gpt2 ? "wpe" : "embed_positions", new Embedding(config.contextLength(), d, dtype, rng))
                : null;
        embeddingDropout = trunk.add("drop", new Dropout(config.dropout(), dropoutRng));
        blocks = trunk.add(gpt2 ? "h" : "layers", new ModuleList<>());
        for (int i = 0; i < config.layers(); i++) {
            blocks.add(new Block(config, dtype, rng, dropoutRng));
        }
        finalNorm = (Layer) trunk.add(gpt2 ? "ln_f" : "norm", Block.newNorm(config, dtype));
        head = child("lm_head", config.tiedEmbeddings()
                ? new Linear(tokens.weight())
                : new Linear(d, config.vocabSize(), false, dtype, rng));
        initialise(rng);
    }

    private void initialise(Rng rng) {
        double std = 0.02;
        double residualStd = std / Math.sqrt(2.0 * config.layers());
        Set<Linear> residual = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Block b : blocks.items()) {
            residual.add(b.attention().outputProjection());
            residual.add(b.mlp().outputProjection());
        }
        Set<Variable> done = Collections.newSetFromMap(new IdentityHashMap<>());
        initialise(this, rng, std, residualStd, residual, done);
    }

    /** Depth-first in registration order, so the draws from {@code rng} follow the parameter names' order. */
    private static void initialise(Module m, Rng rng, double std, double residualStd, Set<Linear> residual,
                                   Set<Variable> done) {
        switch (m) {
            case Linear l -> {
                normal(l.weight(), residual.contains(l) ? residualStd : std, rng, done);
                if (l.bias() != null) {
                    l.bias().value().fill(0);
                }
            }
            case Embedding e -> normal(e.weight(), std, rng, done);
            default -> m.children().values().forEach(c -> initialise(c, rng, std, residualStd, residual, done));
        }
    }

    private static void normal(Variable w, double std, Rng rng, Set<Variable> done) {
        if (done.add(w)) {
            w.value().copyFrom(Tensor.randn(w.dtype(), rng, w.shape()).mul(std));
        }
    }

    // ------------------------------------------------------------------------------------------ forward

    /** Next-token logits [B, T, V] for token ids [B · T] (row-major: batch, then time). */
    public Variable logits(int[] ids, int batch, int time) {
        checkInput("logits", ids, batch, time);
        Variable x = embed(ids, batch, time);
        for (int i = 0; i < blocks.size(); i++) {   // by index: items() copies the list
            x = blocks.get(i).forward(x);
        }
        return head.forward(finalNorm.forward(x));
    }

    /**
     * Every layer's attention probabilities for {@code ids}: element i is layer i's [B, H, T, T] (row t: how much
     * query t draws from each earlier position), for drawing what trained heads attend to. Records nothing.
     */
    public List<Tensor> attentionMaps(int[] ids, int batch, int time) {
        checkInput("attentionMaps", ids, batch, time);
        return Tape.noGrad(() -> {
            List<Tensor> maps = new ArrayList<>();
            Variable x = embed(ids, batch, time);
            for (Block block : blocks.items()) {
                maps.add(block.attentionWeights(x));
                x = block.forward(x);
            }
            return maps;
        });
    }

    /**
     * Positions 0 .. time-1. Every training step asks for the same length, so the last array is kept and handed
     * out again (the embedding only reads it); volatile, so a thread that picks it up sees it filled.
     */
    private int[] positionIds(int time) {
        int[] ids = positionIds;
        if (ids == null || ids.length != time) {
            ids = new int[time];
            for (int t = 0; t < time; t++) {
                ids[t] = t;
            }
            positionIds = ids;
        }
        return ids;
    }

    /** Token (and learned position) embeddings [B, T, D], with embedding dropout. */
    private Variable embed(int[] ids, int batch, int time) {
        Variable x = tokens.forward(ids, batch, time);                      // [B, T, D]
        if (positions != null) {
            x = x.add(positions.forward(positionIds(time), time));        // [T, D] broadcast over B
        }
        return embeddingDropout.forward(x);
    }

    /**
     * Mean next-token cross-entropy of the logits for {@code ids} against {@code targets} (both [B · T]); a
     * target of -1 is ignored (nanoGPT's convention).
     */
    public Variable loss(int[] ids, int[] targets, int batch, int time) {
        if (targets.length != ids.length) {
            throw new IllegalArgumentException("Gpt.loss: " + targets.length + " targets for " + ids.length + " ids");
        }
        Variable logits = logits(ids, batch, time);
        return Functional.crossEntropy(logits.reshape(batch * time, config.vocabSize()), targets, -1, 0.0);
    }

    private void checkInput(String op, int[] ids, int batch, int time) {
        if (batch <= 0 || time <= 0 || ids.length != (long) batch * time) {
            throw new IllegalArgumentException("Gpt." + op + ": ids.length (" + ids.length + ") must be batch ("
                    + batch + ") x time (" + time + "), both positive");
        }
        if (time > config.contextLength()) {
            throw new IllegalArgumentException("Gpt." + op + ": time " + time + " exceeds the context length "
                    + config.contextLength());
        }
    }

    // ------------------------------------------------------------------------------------------ accessors

    public GptConfig config() {
        return config;
    }

    public DType dtype() {
        return dtype;
    }

    public Block block(int i) {
        return blocks.get(i);
    }

    public CausalSelfAttention attention(int layer) {
        return blocks.get(layer).attention();
    }
}
