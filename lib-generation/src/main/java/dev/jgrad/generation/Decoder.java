package dev.jgrad.generation;

/**
 * A language model read one token at a time. The model side is the decoder; what one sequence has read so far
 * (its tokens, or its keys and values per layer) is a {@link State}, so one decoder serves any number of
 * sequences: the prompts of a batch, or the beams of a beam search.
 *
 * <p>Logits come out as {@code float[vocabSize()]} whatever the model's dtype, written into arrays the caller
 * owns, so a decoding loop allocates nothing per token.
 */
public interface Decoder {
    int vocabSize();

    /** The most tokens one state can hold (the model's context length). */
    int contextLength();

    /** A new, empty sequence state. */
    State newState();

    /**
     * Reads {@code tokens[from, from + count)} into {@code state} in one batched pass (a prompt's prefill) and
     * writes the logits for the token after the last one into {@code logits}. Errors: {@code count < 1}, an id
     * outside the vocabulary, or more tokens than the context holds (the state is left unchanged).
     */
    void prefill(State state, int[] tokens, int from, int count, float[] logits);

    /** Reads one token into {@code state}; the same as a prefill of that single token, without allocating. */
    void step(State state, int token, float[] logits);

    /**
     * One decoding step for several sequences at once: {@code states[i]} reads {@code tokens[i]} and
     * {@code logits[i]} receives its next-token logits. The results equal {@link #step} on each state alone;
     * implementations may run the batch as one pass.
     */
    default void step(State[] states, int[] tokens, float[][] logits) {
        if (states.length != tokens.length || states.length != logits.length) {
            throw new IllegalArgumentException("Decoder.step: " + states.length + " states, " + tokens.length
                    + " tokens and " + logits.length + " logits rows must be equally many");
        }
        for (int i = 0; i < states.length; i++) {
            step(states[i], tokens[i], logits[i]);
        }
    }

    /** What one sequence has read so far. */
    interface State {
        /** Tokens read so far. */
        int length();

        /** Makes this state equal to {@code other} (a state of the same decoder), reusing this state's memory. */
        void copyFrom(State other);

        /** Forgets everything read, keeping the memory for the next sequence. */
        void reset();
    }
}
