package dev.jgrad.models.tokenizer;

import java.nio.charset.StandardCharsets;

/** The simplest tokenizer: one token per UTF-8 byte, vocabulary 256 (the GPT-small benchmark's vocabulary). */
public final class ByteTokenizer implements Tokenizer {
    @Override
    public int vocabSize() {
        return 256;
    }

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public byte[] decodeBytes(int[] ids) {
        byte[] bytes = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] > 255) {
                throw new IllegalArgumentException("ByteTokenizer.decode: id " + ids[i] + " at position " + i
                        + " is outside the vocabulary of 256 bytes");
            }
            bytes[i] = (byte) ids[i];
        }
        return bytes;
    }
}
