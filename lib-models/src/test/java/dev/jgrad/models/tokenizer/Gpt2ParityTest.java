package dev.jgrad.models.tokenizer;

import dev.jgrad.models.data.Corpora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link BpeTokenizer#gpt2()} against jtokkit's r50k_base (tiktoken's GPT-2 encoding) on a few MB of real text and
 * on edge cases. Needs {@code ./jgrad fetch gpt2 moby-dick} (which {@code ./jgrad test} runs first).
 */
class Gpt2ParityTest {
    private static BpeTokenizer gpt2;
    private static Encoding reference;
    private static String corpus;

    @BeforeAll
    static void load() throws IOException {
        gpt2 = BpeTokenizer.gpt2();
        reference = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
        String book = Corpora.mobyDick();
        // The book, then variants that stress other paths: upper case (different merges, contractions like 'S
        // that GPT-2 does not split off), and lines joined with double spaces (long whitespace/punctuation runs).
        corpus = book + book.toUpperCase(Locale.ROOT) + book.replace("\n", "  ").replace(".", ". 1999...");
    }

    @Test
    void gpt2VocabularyIsTheFullOne() {
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50000, gpt2.merges().size());
        assertEquals(50256, gpt2.specialTokens().get(BpeTokenizer.END_OF_TEXT));
    }

    @Test
    void sameIdsAsJtokkitOnMegabytesOfText() {
        int[] ours = gpt2.encodeOrdinary(corpus);
        int[] theirs = reference.encodeOrdinary(corpus).toArray();
        assertSameIds(corpus, ours, theirs);
        assertEquals(corpus, gpt2.decode(ours));
        System.out.printf(Locale.ROOT, "GPT-2 parity: %,d tokens of %,d bytes identical to jtokkit r50k_base%n",
                ours.length, corpus.getBytes(StandardCharsets.UTF_8).length);
    }

    @Test
    void sameIdsAsJtokkitOnEdgeCases() {
        List<String> cases = List.of(
                "", " ", "  ", "\n", "\n\n\n", " \n ", "\t\t x", "a  b   c    d", "trailing spaces   ",
                "Hello world", "Hello, world! How's it going? I'm fine; they've left, we'll see, he'd know.",
                "DON'T SHOUT'S 'LL 'Re", "''s 's' x's'", "12345678901234567890 3.14159 -42 1e10 ½ ⅓ ٣٤",
                "naïve café Ünïcödé ǅ", "日本語のテキスト 中文 한국어", "emoji 🙂🙂 👨‍👩‍👧 🇫🇷!",
                "\u00a0nbsp\u00a0\u00a0x \u3000ideographic\u2028line\u2029para\u0085next",
                "combining e\u0301 a\u0308", "tabs\tand\r\nCRLF\r\n", "$$$ ### ... --- ~~~ <<<>>>",
                "<|endoftext|> as ordinary text", "x" + "a".repeat(300) + " " + "9".repeat(100),
                " ".repeat(100) + "word" + "\n".repeat(50));
        for (String text : cases) {
            int[] ours = gpt2.encodeOrdinary(text);
            assertSameIds(text, ours, reference.encodeOrdinary(text).toArray());
            assertEquals(text, gpt2.decode(ours));
        }
    }

    @Test
    void knownGpt2Ids() {
        // From GPT-2's published vocabulary: "Hello" = 15496, " world" = 995.
        assertArrayEquals(new int[] {15496, 995}, gpt2.encode("Hello world"));
        assertArrayEquals(new int[] {15496, 50256, 995}, gpt2.encode("Hello<|endoftext|> world"));
    }

    @Test
    void reportsEncodeThroughputAgainstJtokkit() {
        byte[] bytes = corpus.getBytes(StandardCharsets.UTF_8);
        double mb = bytes.length / 1e6;
        for (int round = 0; round < 2; round++) { // the first round warms up both
            long t0 = System.nanoTime();
            int ours = gpt2.encodeOrdinary(corpus).length;
            long t1 = System.nanoTime();
            int theirs = reference.encodeOrdinary(corpus).size();
            long t2 = System.nanoTime();
            assertEquals(theirs, ours);
            System.out.printf(Locale.ROOT, "encode %.1f MB: jgrad %.1f MB/s, jtokkit %.1f MB/s%n",
                    mb, mb / ((t1 - t0) / 1e9), mb / ((t2 - t1) / 1e9));
        }
    }

    private static void assertSameIds(String text, int[] ours, int[] theirs) {
        int n = Math.min(ours.length, theirs.length);
        for (int i = 0; i < n; i++) {
            if (ours[i] != theirs[i]) {
                int from = Math.max(0, i - 5);
                fail("token " + i + " differs: jgrad " + gpt2.tokenText(ours[i]) + " (" + ours[i] + "), jtokkit "
                        + gpt2.tokenText(theirs[i]) + " (" + theirs[i] + ")\n  jgrad   "
                        + render(ours, from, i + 5) + "\n  jtokkit " + render(theirs, from, i + 5));
            }
        }
        assertEquals(theirs.length, ours.length, "token counts differ for " + abbreviate(text));
    }

    private static String render(int[] ids, int from, int to) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < Math.min(to, ids.length); i++) {
            sb.append('[').append(gpt2.tokenText(ids[i])).append(']');
        }
        return sb.toString();
    }

    private static String abbreviate(String text) {
        return text.length() <= 60 ? '"' + text + '"' : '"' + text.substring(0, 60) + "...\"";
    }
}
