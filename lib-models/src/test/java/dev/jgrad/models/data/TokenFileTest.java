package dev.jgrad.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileTest {
    @TempDir
    Path dir;

    @Test
    void headerAndTokensAreLaidOutAsDocumented() throws IOException {
        Path file = dir.resolve("t.bin");
        TokenFile.write(file, new int[] {1, 258}, 300, 299);
        byte[] expected = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN)
                .put("JGTOKENS".getBytes(StandardCharsets.US_ASCII))
                .putInt(1) // version
                .putInt(2) // width
                .putLong(2) // count
                .putInt(300) // vocabulary
                .putInt(299) // end of text
                .put(new byte[] {1, 0, 2, 1}) // 1 and 258 = 0x0102, little-endian uint16
                .array();
        assertArrayEquals(expected, Files.readAllBytes(file));
    }

    @Test
    void twoByteWidthRoundTripsTheWholeUnsignedRange() {
        int[] ids = {0, 1, 255, 256, 32767, 32768, 65534, 65535};
        Path file = dir.resolve("w2.bin");
        TokenFile.write(file, ids, 65536, -1);
        TokenFile tokens = TokenFile.open(file);
        assertEquals(2, tokens.width());
        assertEquals(ids.length, tokens.length());
        assertEquals(65536, tokens.vocabSize());
        assertEquals(OptionalInt.empty(), tokens.endOfText());
        assertArrayEquals(ids, tokens.toArray());
        assertEquals(65535, tokens.get(7));
    }

    @Test
    void fourByteWidthAboveSixtyFiveThousandIds() {
        int[] ids = {0, 65535, 65536, 70000, 99999, 5};
        Path file = dir.resolve("w4.bin");
        TokenFile.write(file, ids, 100_000, 99_999);
        TokenFile tokens = TokenFile.open(file);
        assertEquals(4, tokens.width());
        assertEquals(OptionalInt.of(99_999), tokens.endOfText());
        assertArrayEquals(ids, tokens.toArray());
        assertEquals(32 + 4 * ids.length, file.toFile().length());
        assertEquals(2, TokenFile.widthFor(65536));
        assertEquals(4, TokenFile.widthFor(65537));
    }

    @Test
    void readsThroughTheMappingNotAHeapCopy() throws IOException {
        Path file = dir.resolve("m.bin");
        int[] ids = new int[10_000];
        Arrays.setAll(ids, i -> i % 256);
        TokenFile.write(file, ids, 256, -1);
        TokenFile tokens = TokenFile.open(file);
        assertEquals(77, tokens.get(77));
        // Change token 77 on disk after opening: a mapping sees it, a copy taken at open would not.
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) 200, 0}), 32 + 2 * 77);
        }
        assertEquals(200, tokens.get(77));
        assertThrows(IndexOutOfBoundsException.class, () -> tokens.get(10_000));
    }

    @Test
    void streamingWriterMarksDocumentsAndDiscardsUncommittedFiles() throws IOException {
        Path file = dir.resolve("s.bin");
        try (var w = TokenFile.Writer.create(file, 257, 256)) {
            w.append(new int[] {104, 105}).endDocument().append(new int[] {}).endDocument().append(new int[] {33});
            assertEquals(5, w.count());
            w.commit();
        }
        assertArrayEquals(new int[] {104, 105, 256, 256, 33}, TokenFile.open(file).toArray());

        Path abandoned = dir.resolve("abandoned.bin");
        try (var w = TokenFile.Writer.create(abandoned, 256, -1)) {
            w.append(new int[] {1, 2, 3});
            var e = assertThrows(IllegalArgumentException.class, () -> w.append(new int[] {4, 256}));
            assertTrue(e.getMessage().contains("id 256 at position 1") && e.getMessage().contains("256"),
                    e.getMessage());
            assertEquals(3, w.count(), "a rejected append adds nothing");
            assertThrows(IllegalStateException.class, w::endDocument); // no end-of-text id declared
        }
        assertFalse(Files.exists(abandoned));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(file), left.toList(), "no temporary file left behind");
        }
    }

    @Test
    void corruptFilesAreNamedAndExplained() throws IOException {
        Path good = dir.resolve("g.bin");
        TokenFile.write(good, new int[] {1, 2, 3}, 256, -1);
        byte[] bytes = Files.readAllBytes(good);

        Path cut = dir.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length - 1));
        var e = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(cut));
        assertTrue(e.getMessage().contains("cut.bin") && e.getMessage().contains("truncated")
                && e.getMessage().contains("3 tokens"), e.getMessage());

        Path shortHeader = dir.resolve("short.bin");
        Files.write(shortHeader, Arrays.copyOf(bytes, 10));
        e = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(shortHeader));
        assertTrue(e.getMessage().contains("shorter than the 32-byte header"), e.getMessage());

        Path magic = dir.resolve("magic.bin");
        byte[] m = bytes.clone();
        m[0] = 'X';
        Files.write(magic, m);
        e = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(magic));
        assertTrue(e.getMessage().contains("not a token file"), e.getMessage());

        Path version = dir.resolve("version.bin");
        byte[] v = bytes.clone();
        v[8] = 9;
        Files.write(version, v);
        e = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(version));
        assertTrue(e.getMessage().contains("version 9"), e.getMessage());

        Path width = dir.resolve("width.bin");
        byte[] w = bytes.clone();
        w[12] = 3;
        Files.write(width, w);
        e = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(width));
        assertTrue(e.getMessage().contains("inconsistent header: width 3"), e.getMessage());

        var missing = assertThrows(UncheckedIOException.class, () -> TokenFile.open(dir.resolve("none.bin")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TokenFile.write(dir.resolve("x.bin"), new int[0], 10, 10));
        assertTrue(e.getMessage().contains("end-of-text id 10"), e.getMessage());
    }
}
