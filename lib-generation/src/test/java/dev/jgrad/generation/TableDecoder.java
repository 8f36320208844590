package dev.jgrad.generation;

import java.util.Arrays;

/**
 * A decoder whose next-token logits depend only on the last token read: row {@code table[last]}. Expected outputs
 * of every strategy can then be worked out by hand. Counts its calls so tests can see batching happen.
 */
final class TableDecoder implements Decoder {
    final float[][] table;
    final int context;
    int prefills;
    int singleSteps;
    int batchSteps;

    TableDecoder(int context, float[][] table) {
        for (float[] row : table) {
            if (row.length != table.length) {
                throw new IllegalArgumentException("TableDecoder: the table must be square");
            }
        }
        this.table = table;
        this.context = context;
    }

    @Override
    public int vocabSize() {
        return table.length;
    }

    @Override
    public int contextLength() {
        return context;
    }

    @Override
    public State newState() {
        return new Tokens(context);
    }

    @Override
    public void prefill(State state, int[] tokens, int from, int count, float[] logits) {
        Tokens s = (Tokens) state;
        Decoders.checkTokens("TableDecoder.prefill", tokens, from, count, s.length, context, vocabSize());
        prefills++;
        System.arraycopy(tokens, from, s.tokens, s.length, count);
        s.length += count;
        System.arraycopy(table[s.tokens[s.length - 1]], 0, logits, 0, vocabSize());
    }

    @Override
    public void step(State state, int token, float[] logits) {
        singleSteps++;
        stepOne(state, token, logits);
    }

    @Override
    public void step(State[] states, int[] tokens, float[][] logits) {
        batchSteps++;
        for (int i = 0; i < states.length; i++) {
            stepOne(states[i], tokens[i], logits[i]);
        }
    }

    private void stepOne(State state, int token, float[] logits) {
        Tokens s = (Tokens) state;
        Decoders.checkTokens("TableDecoder.step", new int[] {token}, 0, 1, s.length, context, vocabSize());
        s.tokens[s.length++] = token;
        System.arraycopy(table[token], 0, logits, 0, vocabSize());
    }

    static final class Tokens implements State {
        final int[] tokens;
        int length;

        Tokens(int capacity) {
            tokens = new int[capacity];
        }

        @Override
        public int length() {
            return length;
        }

        @Override
        public void copyFrom(State other) {
            Tokens o = (Tokens) other;
            System.arraycopy(o.tokens, 0, tokens, 0, o.length);
            length = o.length;
        }

        @Override
        public void reset() {
            length = 0;
        }

        int[] read() {
            return Arrays.copyOf(tokens, length);
        }
    }
}
