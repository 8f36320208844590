package dev.jgrad.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Rng;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class Utf8StreamDecoderTest {

    @Test
    void holdsBackACharacterSplitAcrossPieces() {
        byte[] e = "é".getBytes(StandardCharsets.UTF_8);          // C3 A9
        byte[] emoji = "🙂".getBytes(StandardCharsets.UTF_8);    // F0 9F 99 82
        var d = new Utf8StreamDecoder();
        assertEquals("a", d.feed(new byte[] {'a', e[0]}));
        assertTrue(d.hasPending());
        assertEquals("é", d.feed(new byte[] {e[1]}));
        assertEquals("", d.feed(new byte[] {emoji[0]}));
        assertEquals("", d.feed(new byte[] {emoji[1], emoji[2]}));
        assertEquals("🙂!", d.feed(new byte[] {emoji[3], '!'}));
        assertFalse(d.hasPending());
        assertEquals("", d.finish());
    }

    @Test
    void aCutCharacterAtTheEndBecomesTheReplacementCharacter() {
        var d = new Utf8StreamDecoder();
        assertEquals("x", d.feed(new byte[] {'x', (byte) 0xF0, (byte) 0x9F}));
        assertEquals(new String(new byte[] {(byte) 0xF0, (byte) 0x9F}, StandardCharsets.UTF_8), d.finish());
        assertEquals("y", d.feed(new byte[] {'y'}), "finish starts afresh");
    }

    /** Random byte strings, mostly valid UTF-8 with cut and corrupted characters mixed in, cut at random points. */
    @Test
    void piecesJoinedEqualTheWholeDecodedAtOnce() {
        Rng rng = new Rng(11);
        String alphabet = "aé€🙂ß中\n";
        for (int trial = 0; trial < 2000; trial++) {
            byte[] bytes = randomBytes(rng, alphabet, 1 + rng.nextInt(24));
            var d = new Utf8StreamDecoder();
            var joined = new StringBuilder();
            int at = 0;
            while (at < bytes.length) {
                int n = Math.min(bytes.length - at, 1 + rng.nextInt(4));
                joined.append(d.feed(Arrays.copyOfRange(bytes, at, at + n)));
                at += n;
            }
            joined.append(d.finish());
            assertEquals(new String(bytes, StandardCharsets.UTF_8), joined.toString(),
                    () -> "bytes " + Arrays.toString(bytes));
        }
    }

    static byte[] randomBytes(Rng rng, String alphabet, int pieces) {
        var out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < pieces; i++) {
            switch (rng.nextInt(4)) {
                case 0 -> out.write(rng.nextInt(256));                                   // any byte at all
                case 1 -> out.write(0x80 + rng.nextInt(0x40) | (rng.nextInt(2) << 6));   // a stray lead or tail byte
                default -> {
                    int c = alphabet.codePointAt(alphabet.offsetByCodePoints(0,
                            rng.nextInt(alphabet.codePointCount(0, alphabet.length()))));
                    byte[] b = new String(Character.toChars(c)).getBytes(StandardCharsets.UTF_8);
                    int keep = rng.nextInt(5) == 0 ? rng.nextInt(b.length) + 1 : b.length;   // sometimes cut
                    out.write(b, 0, keep);
                }
            }
        }
        return out.toByteArray();
    }
}
