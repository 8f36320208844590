package dev.jgrad.models.tokenizer;

import dev.jgrad.models.data.Corpora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTokenizerTest {
    private static final String EOT = BpeTokenizer.END_OF_TEXT;

    private static List<String> mergeTexts(BpeTokenizer tokenizer) {
        List<String> texts = new ArrayList<>();
        for (BpeTokenizer.Merge merge : tokenizer.merges()) {
            texts.add(new String(tokenizer.tokenBytes(merge.result()), StandardCharsets.UTF_8));
        }
        return texts;
    }

    @Test
    void trainingFollowsTheHandComputedMergeSequence() {
        // Pieces "aaab", " aab", " ab" (one each). Pair counts: aa 3, ab 3, " a" 2 -> tie, (a,a) < (a,b): "aa".
        // Then [aa a b] [␣ aa b] [␣ a b]: ab 2, the rest 1 -> "ab". Then all 1: (␣,aa)=(32,256) is the smallest
        // -> " aa"; then (␣,ab)=(32,257) -> " ab"; then (aa,ab)=(256,257) -> "aaab"; then (" aa",b) -> " aab".
        BpeTokenizer bpe = BpeTokenizer.train("aaab aab ab", 300, List.of(EOT));
        assertEquals(List.of("aa", "ab", " aa", " ab", "aaab", " aab"), mergeTexts(bpe));
        assertEquals(256 + 6 + 1, bpe.vocabSize(), "stops when every piece is one token; the special comes last");
        assertEquals(262, bpe.specialTokens().get(EOT));
        assertArrayEquals(new int[] {260, 261, 259}, bpe.encode("aaab aab ab"));
        assertArrayEquals(new int[] {256, 'a'}, bpe.encode("aaa"), "aa merges first, left to right");

        BpeTokenizer small = BpeTokenizer.train("aaab aab ab", 258, List.of());
        assertEquals(List.of("aa", "ab"), mergeTexts(small));
        assertArrayEquals(new int[] {256, 257, ' ', 256, 'b', ' ', 257}, small.encode("aaab aab ab"));
    }

    @Test
    void trainingMergesOnlyWithinPreTokenizedPieces() {
        // "ab ab ab": the pair (b, ' ') is frequent but never inside a piece (" ab" starts with the space).
        BpeTokenizer bpe = BpeTokenizer.train("ab ab ab", 1000, List.of());
        assertEquals(List.of("ab", " ab"), mergeTexts(bpe));
    }

    @Test
    void specialTokensAreNeverSplitNorLearnedFrom() {
        String text = (EOT + "ab<|pad|>").repeat(50) + "ab";
        BpeTokenizer bpe = BpeTokenizer.train(text, 1000, List.of(EOT, "<|pad|>"));
        assertEquals(List.of("ab"), mergeTexts(bpe), "special tokens take part in no merge");
        int eot = bpe.specialTokens().get(EOT), pad = bpe.specialTokens().get("<|pad|>");
        assertEquals(List.of(257, 258), List.of(eot, pad));
        assertArrayEquals(new int[] {'x', eot, 256, pad, eot, eot}, bpe.encode("x" + EOT + "ab<|pad|>" + EOT + EOT));
        int[] ordinary = bpe.encodeOrdinary("x" + EOT);
        assertEquals(1 + EOT.length(), ordinary.length, "encodeOrdinary reads the name as bytes");
        assertTrue(Arrays.stream(ordinary).noneMatch(id -> id == eot));
        assertEquals("x" + EOT, bpe.decode(ordinary));
    }

    @Test
    void longerSpecialTokenWinsOverItsPrefix() {
        BpeTokenizer bpe = BpeTokenizer.train("hello", 300, List.of("<s>", "<s>x"));
        int s = bpe.specialTokens().get("<s>"), sx = bpe.specialTokens().get("<s>x");
        assertArrayEquals(new int[] {sx, s}, bpe.encode("<s>x<s>"));
    }

    @Test
    void randomBytesRoundTripIncludingInvalidUtf8() {
        BpeTokenizer bpe = BpeTokenizer.train(sampleText(), 600, List.of(EOT));
        Random random = new Random(7);
        byte[] alphabet = "ab 'se\n\t1!".getBytes(StandardCharsets.UTF_8);
        for (int trial = 0; trial < 300; trial++) {
            byte[] bytes = new byte[random.nextInt(200)];
            for (int i = 0; i < bytes.length; i++) { // half arbitrary bytes, half text-like ones
                bytes[i] = random.nextBoolean() ? (byte) random.nextInt(256) : alphabet[random.nextInt(alphabet.length)];
            }
            int[] ids = bpe.encodeBytes(bytes);
            assertArrayEquals(bytes, bpe.decodeBytes(ids), () -> "bytes " + Arrays.toString(bytes));
            assertTrue(Arrays.stream(ids).allMatch(id -> id >= 0 && id < bpe.vocabSize()));
        }
    }

    @Test
    void encodeOfTextEqualsEncodeOfItsUtf8Bytes() {
        BpeTokenizer bpe = BpeTokenizer.train(sampleText(), 500, List.of(EOT));
        String text = sampleText() + EOT + " naïve 🙂";
        assertArrayEquals(bpe.encode(text), bpe.encodeBytes(text.getBytes(StandardCharsets.UTF_8)));
        assertEquals(text, bpe.decode(bpe.encode(text)));
    }

    @Test
    void saveAndLoadGiveTheSameTokenizer(@TempDir Path dir) throws IOException {
        // Specials with characters outside the byte alphabet (space, non-Latin) are written as themselves.
        BpeTokenizer bpe = BpeTokenizer.train(sampleText() + " ünïcode ü ü", 450, List.of(EOT, "<| fin é |>"));
        bpe.save(dir);
        assertTrue(Files.readString(dir.resolve("merges.txt")).startsWith("#version: 0.2\n"));
        BpeTokenizer loaded = BpeTokenizer.load(dir);
        assertEquals(bpe.vocabSize(), loaded.vocabSize());
        assertEquals(bpe.merges(), loaded.merges());
        assertEquals(bpe.specialTokens(), loaded.specialTokens());
        for (int id = 0; id < bpe.vocabSize(); id++) {
            assertArrayEquals(bpe.tokenBytes(id), loaded.tokenBytes(id));
        }
        String text = sampleText() + "<| fin é |>" + EOT;
        assertArrayEquals(bpe.encode(text), loaded.encode(text));
    }

    @Test
    void gpt2FormatFilesOfASavedTokenizerReadAsGpt2Files(@TempDir Path dir) {
        BpeTokenizer bpe = BpeTokenizer.train(sampleText(), 400, List.of(EOT));
        bpe.save(dir);
        BpeTokenizer viaGpt2Reader = BpeTokenizer.fromFiles(dir.resolve("vocab.json"), dir.resolve("merges.txt"),
                List.of(EOT));
        assertArrayEquals(bpe.encode(sampleText()), viaGpt2Reader.encode(sampleText()));
    }

    @Test
    void errorsNameTheProblem(@TempDir Path dir) throws IOException {
        BpeTokenizer bpe = BpeTokenizer.train("abc abc", 300, List.of(EOT));
        var decode = assertThrows(IllegalArgumentException.class, () -> bpe.decode(new int[] {97, 300}));
        assertTrue(decode.getMessage().contains("id 300 at position 1")
                && decode.getMessage().contains("vocabulary of " + bpe.vocabSize()), decode.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bpe.decode(new int[] {-1}));

        var tooSmall = assertThrows(IllegalArgumentException.class,
                () -> BpeTokenizer.train("abc", 256, List.of(EOT)));
        assertTrue(tooSmall.getMessage().contains("vocabSize 256") && tooSmall.getMessage().contains("257"),
                tooSmall.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.train("abc", 300, List.of(EOT, EOT)));

        bpe.save(dir);
        Path merges = dir.resolve("merges.txt");
        List<String> lines = new ArrayList<>(Files.readAllLines(merges));
        lines.add(2, "Ġ a b"); // line 3: three tokens
        Files.write(merges, lines);
        var badLine = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.load(dir));
        assertTrue(badLine.getMessage().contains(merges + " line 3"), badLine.getMessage());

        lines.set(2, "a zzzq"); // a token that is not in vocab.json
        Files.write(merges, lines);
        var unknown = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.load(dir));
        assertTrue(unknown.getMessage().contains("line 3") && unknown.getMessage().contains("zzzq"),
                unknown.getMessage());

        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b\": 0}");
        var vocab = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.load(dir));
        assertTrue(vocab.getMessage().contains("vocab.json"), vocab.getMessage());
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b\": ");
        var json = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.load(dir));
        assertTrue(json.getMessage().contains("vocab.json"), json.getMessage());
    }

    @Test
    void missingFetchedDataSaysWhichFetchToRun(@TempDir Path empty) {
        String previous = System.getProperty("jgrad.cache.dir");
        System.setProperty("jgrad.cache.dir", empty.toString());
        try {
            var error = assertThrows(IllegalStateException.class, BpeTokenizer::gpt2);
            assertTrue(error.getMessage().contains("./jgrad fetch gpt2"), error.getMessage());
            var moby = assertThrows(IllegalStateException.class, dev.jgrad.models.data.Corpora::mobyDick);
            assertTrue(moby.getMessage().contains("./jgrad fetch moby-dick"), moby.getMessage());
        } finally {
            if (previous == null) {
                System.clearProperty("jgrad.cache.dir");
            } else {
                System.setProperty("jgrad.cache.dir", previous);
            }
        }
    }

    @Test
    void trainsAThousandTokenVocabularyOnMobyDickInSeconds() throws IOException {
        String book = Corpora.mobyDick();
        long t0 = System.nanoTime();
        BpeTokenizer bpe = BpeTokenizer.train(book, 1024, List.of(EOT));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1024, bpe.vocabSize());
        assertEquals(1023, bpe.specialTokens().get(EOT));
        // The most frequent pairs of English come first: "th" or " t"/"he"-like merges, and " the" is learned.
        assertTrue(bpe.encodeOrdinary(" the").length == 1, "' the' is one token after 767 merges");
        int[] ids = bpe.encode(book);
        assertEquals(book, bpe.decode(ids));
        System.out.printf(Locale.ROOT, "trained 1024-token BPE on %.1f MB in %.2f s; %.2f bytes/token on the book%n",
                book.length() / 1e6, seconds, book.getBytes(StandardCharsets.UTF_8).length / (double) ids.length);
    }

    private static String sampleText() {
        return """
                It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of \
                foolishness; we'd had everything before us, we'd had nothing before us -- 1775, 1776 and 2024.
                  Indented   text\twith tabs and 'quotes' and don't, won't, they're.
                """;
    }
}
