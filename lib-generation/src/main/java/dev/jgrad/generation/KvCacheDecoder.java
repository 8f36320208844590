package dev.jgrad.generation;

import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.DType;

/**
 * The fast decoder: each sequence state keeps every layer's keys and values, so reading a token costs one pass
 * of that token through the model (matrix-vector products over the weights, one query against the cached keys)
 * instead of a pass over the whole sequence.
 *
 * <p>Covers every model {@link GptConfig} describes: GPT-2 (learned positions, LayerNorm, GELU, fused
 * {@code c_attn}, tied head) and LLaMA (RoPE with the model's theta at absolute positions, RMSNorm, SwiGLU,
 * separate projections, grouped-query attention with only the kv heads cached), and mixes of the two. F32 models
 * run on Vector API kernels; F64 models run plain double loops and convert the logits to float at the end.
 *
 * <p><b>Weights are referenced, not copied.</b> The decoder reads the model's parameter arrays in place (taken
 * once, at construction), so it always sees the model's current weights: train a little, generate, train more,
 * generate again, with the same decoder. Keys and values already in a state's cache were computed with the
 * weights of their time; {@link Decoder.State#reset} a state after changing the weights. (A parameter tensor that
 * is not a plain contiguous array, which {@link Gpt} never creates, would be copied at construction instead.)
 * The decoder always computes in inference mode: no dropout, whatever the model's train/eval mode.
 *
 * <p><b>Allocation.</b> {@link #step(Decoder.State, int, float[])} allocates nothing: a state carries its own
 * caches and one row of scratch. The batched step uses scratch for B rows kept per thread and per decoder
 * (allocated again only when a larger batch comes). {@link #prefill} allocates scratch for its rows. Products
 * large enough to be split over threads (see {@code ForwardF32.PARALLEL_MIN_MACS}) are handed over as reusable
 * tasks, so a step allocates nothing at any thread count.
 *
 * <p>Results are bit-identical for any thread count, and a batched step gives bit-identical logits to stepping
 * each state alone (every row goes through the same operations in the same order whatever rows are beside it).
 *
 * <p>A decoder may be shared by threads as long as each state is used by one thread at a time.
 */
public final class KvCacheDecoder implements Decoder {
    private final GptConfig config;
    private final Engine engine;

    public KvCacheDecoder(Gpt model) {
        this.config = model.config();
        ModelWeights weights = ModelWeights.of(model);
        this.engine = model.dtype() == DType.F32 ? new ForwardF32(config, weights) : new ForwardF64(config, weights);
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int contextLength() {
        return config.contextLength();
    }

    @Override
    public State newState() {
        return engine.newState(this);
    }

    @Override
    public void prefill(Decoder.State state, int[] tokens, int from, int count, float[] logits) {
        KvState s = own(state, "prefill");
        Decoders.checkTokens("KvCacheDecoder.prefill", tokens, from, count, s.length, contextLength(), vocabSize());
        Decoders.checkLogits("KvCacheDecoder.prefill", logits, vocabSize());
        engine.prefill(s, tokens, from, count, logits);
        s.length += count;
    }

    @Override
    public void step(Decoder.State state, int token, float[] logits) {
        KvState s = own(state, "step");
        checkToken("KvCacheDecoder.step", s, token);
        Decoders.checkLogits("KvCacheDecoder.step", logits, vocabSize());
        engine.step(s, token, logits);
        s.length++;
    }

    /** One pass for all B sequences: each weight matrix is read once per step for the whole batch. */
    @Override
    public void step(Decoder.State[] states, int[] tokens, float[][] logits) {
        if (states.length != tokens.length || states.length != logits.length) {
            throw new IllegalArgumentException("KvCacheDecoder.step: " + states.length + " states, " + tokens.length
                    + " tokens and " + logits.length + " logits rows must be equally many");
        }
        for (int i = 0; i < states.length; i++) {
            KvState s = own(states[i], "step");
            checkToken("KvCacheDecoder.step", s, tokens[i]);
            Decoders.checkLogits("KvCacheDecoder.step", logits[i], vocabSize());
            for (int j = 0; j < i; j++) {
                if (states[j] == s) {
                    throw new IllegalArgumentException("KvCacheDecoder.step: states " + j + " and " + i
                            + " are the same state; a state can read one token per step");
                }
            }
        }
        if (states.length == 0) {
            return;
        }
        engine.step(states, tokens, logits);
        for (Decoder.State s : states) {
            ((KvState) s).length++;
        }
    }

    /** The shared check, through the state's one-element array so that a step allocates nothing. */
    private void checkToken(String op, KvState s, int token) {
        s.oneToken[0] = token;
        Decoders.checkTokens(op, s.oneToken, 0, 1, s.length, contextLength(), vocabSize());
    }

    private KvState own(Decoder.State state, String op) {
        if (state instanceof KvState s && s.owner == this) {
            return s;
        }
        throw new IllegalArgumentException("KvCacheDecoder." + op + ": the state comes from another decoder ("
                + (state == null ? "null" : state.getClass().getSimpleName()) + ")");
    }

    /**
     * One sequence: how many tokens it has read, and (in the engine's subclass) every layer's keys and values
     * [kvHeads, contextLength, headDim] plus scratch for one row.
     */
    abstract static class KvState implements Decoder.State {
        final KvCacheDecoder owner;
        final int[] oneToken = new int[1];
        int length;

        KvState(KvCacheDecoder owner) {
            this.owner = owner;
        }

        @Override
        public int length() {
            return length;
        }

        /** Copies the filled part of the caches, positions [0, other.length), and the length. */
        @Override
        public void copyFrom(Decoder.State other) {
            KvState o = owner.own(other, "State.copyFrom");
            if (o != this) {
                copyCaches(o, o.length);
                length = o.length;
            }
        }

        @Override
        public void reset() {
            length = 0;
        }

        /** Copies positions [0, length) of every layer's keys and values from {@code other}. */
        abstract void copyCaches(KvState other, int length);
    }

    /** The forward pass in one precision; arguments are already checked, lengths are advanced by the caller. */
    interface Engine {
        KvState newState(KvCacheDecoder owner);

        void prefill(KvState state, int[] tokens, int from, int count, float[] logits);

        void step(KvState state, int token, float[] logits);

        void step(Decoder.State[] states, int[] tokens, float[][] logits);
    }
}
