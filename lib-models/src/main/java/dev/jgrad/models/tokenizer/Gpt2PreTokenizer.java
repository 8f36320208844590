package dev.jgrad.models.tokenizer;

/**
 * GPT-2's pre-tokenization, the regex
 * <pre>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</pre>
 * (with Unicode {@code \s}, as tiktoken and jtokkit use it), written as a scanner over UTF-8 bytes: it is several
 * times faster than java.util.regex and works on any byte sequence. Valid UTF-8 splits exactly as the regex
 * splits the decoded text; a byte that is not part of valid UTF-8 counts as one punctuation-like character
 * (neither letter, number nor whitespace), so invalid input still splits into pieces that concatenate back to it.
 */
final class Gpt2PreTokenizer {
    static final int LETTER = 0, NUMBER = 1, WHITESPACE = 2, OTHER = 3;

    /** Character class of every BMP code point (supplementary ones are classified on the fly). */
    private static final byte[] BMP_CLASS = new byte[65536];

    static {
        for (int cp = 0; cp < 65536; cp++) {
            BMP_CLASS[cp] = (byte) classifyCodePoint(cp);
        }
    }

    private Gpt2PreTokenizer() {}

    /** \p{L}, \p{N} and Java's Unicode \s (White_Space: Zs, Zl, Zp, U+0009..U+000D, U+0085); the rest is OTHER. */
    static int classifyCodePoint(int cp) {
        return switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> WHITESPACE;
            default -> (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 ? WHITESPACE : OTHER;
        };
    }

    /**
     * The character at {@code p}: its class times 8 plus its length in bytes (1..4). Invalid UTF-8 (stray
     * continuation bytes, overlong forms, surrogates, values past U+10FFFF, truncated sequences) is one OTHER
     * byte, as Java's own UTF-8 decoder would reject it.
     */
    static int unitAt(byte[] s, int p, int end) {
        int b0 = s[p] & 0xFF;
        if (b0 < 0x80) {
            return BMP_CLASS[b0] << 3 | 1;
        }
        int invalid = OTHER << 3 | 1;
        if (b0 < 0xC2 || b0 > 0xF4) {
            return invalid;
        }
        if (b0 < 0xE0) {
            if (p + 1 >= end || !isContinuation(s[p + 1])) {
                return invalid;
            }
            return BMP_CLASS[(b0 & 0x1F) << 6 | (s[p + 1] & 0x3F)] << 3 | 2;
        }
        if (b0 < 0xF0) {
            if (p + 2 >= end || !isContinuation(s[p + 1]) || !isContinuation(s[p + 2])) {
                return invalid;
            }
            int b1 = s[p + 1] & 0xFF;
            if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 > 0x9F)) {
                return invalid; // overlong, or a UTF-16 surrogate
            }
            return BMP_CLASS[(b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | (s[p + 2] & 0x3F)] << 3 | 3;
        }
        if (p + 3 >= end || !isContinuation(s[p + 1]) || !isContinuation(s[p + 2]) || !isContinuation(s[p + 3])) {
            return invalid;
        }
        int b1 = s[p + 1] & 0xFF;
        if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 > 0x8F)) {
            return invalid; // overlong, or past U+10FFFF
        }
        int cp = (b0 & 0x07) << 18 | (b1 & 0x3F) << 12 | (s[p + 2] & 0x3F) << 6 | (s[p + 3] & 0x3F);
        return classifyCodePoint(cp) << 3 | 4;
    }

    private static boolean isContinuation(byte b) {
        return (b & 0xC0) == 0x80;
    }

    /** End (exclusive) of the piece that starts at {@code start < end}. */
    static int pieceEnd(byte[] s, int start, int end) {
        byte first = s[start];
        if (first == '\'' && start + 1 < end) { // 's 't 're 've 'm 'll 'd, lower case only
            byte b1 = s[start + 1];
            if (b1 == 's' || b1 == 't' || b1 == 'm' || b1 == 'd') {
                return start + 2;
            }
            if (start + 2 < end) {
                byte b2 = s[start + 2];
                if ((b1 == 'r' && b2 == 'e') || (b1 == 'v' && b2 == 'e') || (b1 == 'l' && b2 == 'l')) {
                    return start + 3;
                }
            }
        }
        int unit = unitAt(s, start, end);
        int cls = unit >>> 3;
        if (first == ' ' && start + 1 < end) { // " ?X+": one space glued to a following letter/number/other run
            int next = unitAt(s, start + 1, end);
            int nextClass = next >>> 3;
            if (nextClass != WHITESPACE) {
                return runEnd(s, start + 1 + (next & 7), end, nextClass);
            }
        }
        if (cls == WHITESPACE) {
            // \s+(?!\S): a whitespace run, minus its last character when a non-space follows (that character,
            // if it is ' ', then starts the next piece as " word"); \s+ when the run is a single character.
            int lastStart = start;
            int p = start;
            while (p < end) {
                int u = unitAt(s, p, end);
                if (u >>> 3 != WHITESPACE) {
                    return lastStart > start ? lastStart : p;
                }
                lastStart = p;
                p += u & 7;
            }
            return end;
        }
        return runEnd(s, start + (unit & 7), end, cls);
    }

    /** End of the run of characters of class {@code cls} continuing at {@code p}. */
    private static int runEnd(byte[] s, int p, int end, int cls) {
        while (p < end) {
            int u = unitAt(s, p, end);
            if (u >>> 3 != cls) {
                break;
            }
            p += u & 7;
        }
        return p;
    }
}
