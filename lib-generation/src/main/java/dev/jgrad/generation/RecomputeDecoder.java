package dev.jgrad.generation;

import dev.jgrad.autograd.Tape;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.tensor.Tensor;
import java.util.Arrays;

/**
 * The decoder without a cache: every step runs the whole model over every token read so far and keeps the last
 * position's logits. Quadratic in the sequence length, so it is the reference the KV-cache decoder is checked
 * against and the baseline it is measured against, not the way to generate.
 */
public final class RecomputeDecoder implements Decoder {
    private final Gpt model;

    public RecomputeDecoder(Gpt model) {
        this.model = model;
    }

    @Override
    public int vocabSize() {
        return model.config().vocabSize();
    }

    @Override
    public int contextLength() {
        return model.config().contextLength();
    }

    @Override
    public State newState() {
        return new TokenState(contextLength());
    }

    @Override
    public void prefill(Decoder.State state, int[] tokens, int from, int count, float[] logits) {
        TokenState s = own(state, "prefill");
        Decoders.checkTokens("RecomputeDecoder.prefill", tokens, from, count, s.length, contextLength(), vocabSize());
        Decoders.checkLogits("RecomputeDecoder.prefill", logits, vocabSize());
        System.arraycopy(tokens, from, s.tokens, s.length, count);
        s.length += count;
        lastLogits(s, logits);
    }

    @Override
    public void step(Decoder.State state, int token, float[] logits) {
        TokenState s = own(state, "step");
        Decoders.checkTokens("RecomputeDecoder.step", new int[] {token}, 0, 1, s.length, contextLength(), vocabSize());
        Decoders.checkLogits("RecomputeDecoder.step", logits, vocabSize());
        s.tokens[s.length++] = token;
        lastLogits(s, logits);
    }

    private void lastLogits(TokenState s, float[] logits) {
        int n = s.length;
        int[] ids = Arrays.copyOf(s.tokens, n);
        Tensor all = Tape.noGrad(() -> model.logits(ids, 1, n).value());   // [1, n, V]
        float[] last = all.select(1, n - 1).toFloatArray();
        System.arraycopy(last, 0, logits, 0, last.length);
    }

    private static TokenState own(Decoder.State state, String op) {
        if (state instanceof TokenState s) {
            return s;
        }
        throw new IllegalArgumentException("RecomputeDecoder." + op + ": the state comes from another decoder ("
                + (state == null ? "null" : state.getClass().getSimpleName()) + ")");
    }

    /** The tokens read so far. */
    private static final class TokenState implements Decoder.State {
        private final int[] tokens;
        private int length;

        TokenState(int capacity) {
            tokens = new int[capacity];
        }

        @Override
        public int length() {
            return length;
        }

        @Override
        public void copyFrom(Decoder.State other) {
            TokenState o = own(other, "State.copyFrom");
            System.arraycopy(o.tokens, 0, tokens, 0, o.length);
            length = o.length;
        }

        @Override
        public void reset() {
            length = 0;
        }
    }
}
