package dev.jgrad.models.tokenizer;

import java.io.ByteArrayOutputStream;

/**
 * GPT-2's reversible map from the 256 byte values to 256 printable unicode characters, which lets vocab files
 * store tokens (arbitrary byte strings) as text. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
 * themselves; the other 68 bytes (controls, space, DEL, NBSP, soft hyphen) take U+0100, U+0101, ... in byte
 * order, so the space byte 0x20 is 'Ġ' (U+0120) and '\n' is 'Ċ' (U+010A).
 */
public final class ByteLevelAlphabet {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final short[] CHAR_TO_BYTE = new short[512]; // every mapped char is below U+0200; -1 = none

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, (short) -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = (char) (printable ? b : next++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = (short) b;
        }
    }

    private ByteLevelAlphabet() {}

    /** The character standing for one byte. */
    public static char charOf(int unsignedByte) {
        return BYTE_TO_CHAR[unsignedByte];
    }

    /** Bytes as alphabet text: one character per byte. */
    public static String encode(byte[] bytes) {
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    /** Alphabet text back to bytes; a character outside the alphabet is an error naming it. */
    public static byte[] decode(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
            if (b < 0) {
                throw new IllegalArgumentException("ByteLevelAlphabet.decode: character U+"
                        + String.format("%04X", (int) c) + " at index " + i + " of \"" + text
                        + "\" is not in GPT-2's byte alphabet");
            }
            out.write(b);
        }
        return out.toByteArray();
    }
}
