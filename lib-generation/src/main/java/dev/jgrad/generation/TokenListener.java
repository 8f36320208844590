package dev.jgrad.generation;

/**
 * Receives a generation as it is produced. The texts given to {@link #onToken} and then {@link #onEnd}, joined,
 * are exactly the result's text: text is held back while it might still be cut (the first bytes of a multi-byte
 * character, or the start of a stop string) and delivered once settled.
 */
@FunctionalInterface
public interface TokenListener {
    /** A new token (never a stop token) and the text it settles, possibly empty. */
    void onToken(int id, String text);

    /** Generation ended; {@code text} is whatever was still held back (often empty). */
    default void onEnd(String text, FinishReason reason) {}
}
