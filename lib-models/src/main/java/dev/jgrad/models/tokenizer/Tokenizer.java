package dev.jgrad.models.tokenizer;

/**
 * Text to token ids and back. Implementations: {@link ByteTokenizer} (ids are the UTF-8 bytes) and byte-level
 * BPE. Decoding works on bytes, so {@code decode(encode(s))} returns {@code s} for any string, and
 * {@link #decodeBytes} returns the exact bytes even when the ids cut a multi-byte character in two.
 */
public interface Tokenizer {
    /** Number of distinct ids; every id is in [0, vocabSize()). */
    int vocabSize();

    int[] encode(String text);

    /** The bytes the ids stand for. Unknown ids are an error naming the id and the vocabulary size. */
    byte[] decodeBytes(int[] ids);

    /** The text the ids stand for; invalid UTF-8 (e.g. a cut multi-byte character) becomes U+FFFD. */
    default String decode(int[] ids) {
        return new String(decodeBytes(ids), java.nio.charset.StandardCharsets.UTF_8);
    }
}
