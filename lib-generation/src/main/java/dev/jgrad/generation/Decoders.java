package dev.jgrad.generation;

/** Argument checks shared by the decoders, so each error names the op and the values involved. */
final class Decoders {
    private Decoders() {}

    static void checkTokens(String op, int[] tokens, int from, int count, int length, int context, int vocab) {
        if (count < 1 || from < 0 || from + count > tokens.length) {
            throw new IllegalArgumentException(op + ": tokens [" + from + ", " + (from + count) + ") of an array of "
                    + tokens.length + " must be a non-empty range");
        }
        if (length + count > context) {
            throw new IllegalArgumentException(op + ": " + count + " more tokens after " + length
                    + " would exceed the context length " + context);
        }
        for (int i = from; i < from + count; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException(op + ": token id " + tokens[i] + " at index " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    static void checkLogits(String op, float[] logits, int vocab) {
        if (logits == null || logits.length != vocab) {
            throw new IllegalArgumentException(op + ": logits must be a float[" + vocab + "], got "
                    + (logits == null ? "null" : "float[" + logits.length + "]"));
        }
    }
}
