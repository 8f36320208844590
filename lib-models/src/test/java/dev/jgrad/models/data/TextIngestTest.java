package dev.jgrad.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.models.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextIngestTest {
    @TempDir
    Path dir;

    @Test
    void aDirectoryIsTokenizedInSortedOrderOneDocumentPerFile() throws IOException {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("b.txt"), "bé");
        Files.writeString(src.resolve("a.txt"), "a");
        Files.createDirectories(src.resolve("sub"));
        Files.writeString(src.resolve("sub").resolve("c.txt"), "c");
        Files.writeString(src.resolve(".hidden"), "secret");
        assertEquals(List.of(src.resolve("a.txt"), src.resolve("b.txt"), src.resolve("sub/c.txt")),
                TextIngest.textFiles(src));

        Path out = dir.resolve("tokens.bin");
        var result = TextIngest.tokenize(src, new ByteTokenizer(), out, 256);
        assertEquals(3, result.documents());
        assertEquals(257, result.vocabSize()); // the separator extends the byte vocabulary
        assertEquals(2, result.width());
        int[] expected = {'a', 256, 'b', 0xC3, 0xA9, 256, 'c', 256}; // é is two UTF-8 bytes
        assertEquals(expected.length, result.tokens());
        TokenFile file = TokenFile.open(out);
        assertArrayEquals(expected, file.toArray());
        assertEquals(257, file.vocabSize());
    }

    @Test
    void aSingleFileWithoutSeparatorAndAWideVocabulary() throws IOException {
        Path text = Files.writeString(dir.resolve("one.txt"), "hello");
        Tokenizer wide = new Tokenizer() { // ids above 65535 force 4-byte tokens
            @Override
            public int vocabSize() {
                return 100_000;
            }

            @Override
            public int[] encode(String s) {
                return s.chars().map(c -> 70_000 + c).toArray();
            }

            @Override
            public byte[] decodeBytes(int[] ids) {
                throw new UnsupportedOperationException("not needed here");
            }
        };
        var result = TextIngest.tokenize(text, wide, dir.resolve("w.bin"), -1);
        assertEquals(4, result.width());
        assertArrayEquals(wide.encode("hello"), TokenFile.open(dir.resolve("w.bin")).toArray());
        assertTrue(TokenFile.open(dir.resolve("w.bin")).endOfText().isEmpty());
    }

    @Test
    void invalidUtf8IsAnErrorNamingTheFileAndLeavesNoOutput() throws IOException {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("a.txt"), "fine");
        Files.write(src.resolve("b.txt"), new byte[] {'o', 'k', (byte) 0xFF});
        Path out = dir.resolve("tokens.bin");
        var e = assertThrows(IllegalArgumentException.class,
                () -> TextIngest.tokenize(src, new ByteTokenizer(), out, 256));
        assertTrue(e.getMessage().contains("b.txt") && e.getMessage().contains("not valid UTF-8"), e.getMessage());
        assertFalse(Files.exists(out));
        assertThrows(IllegalArgumentException.class,
                () -> TextIngest.tokenize(dir.resolve("nope"), new ByteTokenizer(), out, -1));
    }

    @Test
    void inMemoryDocumentsFollowTheSameConvention() {
        Path out = dir.resolve("docs.bin");
        TextIngest.tokenize(List.of("hi", "", "yo"), new ByteTokenizer(), out, 256);
        assertArrayEquals(new int[] {'h', 'i', 256, 256, 'y', 'o', 256}, TokenFile.open(out).toArray());
    }
}
