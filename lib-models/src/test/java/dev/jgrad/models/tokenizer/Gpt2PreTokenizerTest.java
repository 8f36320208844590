package dev.jgrad.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The byte scanner against the GPT-2 regex itself, run by java.util.regex with Unicode character classes. */
class Gpt2PreTokenizerTest {
    private static final Pattern GPT2 = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    // Characters of every class the regex distinguishes, several of each, ASCII and not, BMP and beyond.
    private static final String[] ALPHABET = {
        "a", "Z", "s", "t", "r", "e", "v", "m", "l", "d", "'", " ", " ", " ", "\n", "\t", "\r", "\u000B", "\f",
        "\u0085", "\u00A0", "\u2003", "\u3000", "\u2028", "1", "9", "½", "٣", "Ⅻ", "!", ".", "-", "$", "é", "ß",
        "ǅ", "日", "한", "\u0301", "🙂", "𝔸", "𝟙", "👨‍👩‍👧"
    };

    static List<String> scannerPieces(String text) {
        byte[] s = text.getBytes(StandardCharsets.UTF_8);
        List<String> pieces = new ArrayList<>();
        for (int p = 0; p < s.length; ) {
            int end = Gpt2PreTokenizer.pieceEnd(s, p, s.length);
            pieces.add(new String(s, p, end - p, StandardCharsets.UTF_8));
            p = end;
        }
        return pieces;
    }

    static List<String> regexPieces(String text) {
        List<String> pieces = new ArrayList<>();
        Matcher m = GPT2.matcher(text);
        while (m.find()) {
            pieces.add(m.group());
        }
        return pieces;
    }

    @Test
    void splitsLikeTheRegexOnRandomText() {
        Random random = new Random(11);
        for (int trial = 0; trial < 3000; trial++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(30);
            for (int i = 0; i < length; i++) {
                text.append(ALPHABET[random.nextInt(ALPHABET.length)]);
            }
            String t = text.toString();
            assertEquals(regexPieces(t), scannerPieces(t), () -> "text: " + t.codePoints()
                    .mapToObj(cp -> String.format("U+%04X", cp)).toList());
        }
    }

    @Test
    void knownSplits() {
        assertEquals(List.of("Hello", ",", " world", "'s", " 1234", "!!", "  ", " x", "\n\n"),
                scannerPieces("Hello, world's 1234!!   x\n\n"));
        assertEquals(List.of("don", "'t", " '", "LL", " ''", "s"), scannerPieces("don't 'LL ''s"));
    }

    @Test
    void invalidUtf8BytesArePunctuationLike() {
        byte[] s = {'a', (byte) 0xFF, (byte) 0x80, 'b', ' ', (byte) 0xC3}; // stray bytes and a cut "é"
        List<Integer> ends = new ArrayList<>();
        for (int p = 0; p < s.length; ) {
            p = Gpt2PreTokenizer.pieceEnd(s, p, s.length);
            ends.add(p);
        }
        assertEquals(List.of(1, 3, 4, 6), ends); // "a", FF 80, "b", " " C3
    }
}
