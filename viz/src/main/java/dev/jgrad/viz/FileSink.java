package dev.jgrad.viz;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Display outside a notebook: images are written as PNG files into a folder and their path printed; text and HTML
 * content is printed as its plain-text rendering. An update rewrites the PNG file of the same display id.
 */
public final class FileSink implements DisplaySink {

    private final Path directory;
    private final PrintStream out;
    private final AtomicInteger counter = new AtomicInteger();
    private final Map<String, Path> files = new ConcurrentHashMap<>();

    public FileSink(Path directory, PrintStream out) {
        this.directory = directory;
        this.out = out;
    }

    /** {@code build/plots} under the working directory, or the folder named by system property jgrad.plots.dir. */
    public static FileSink standard() {
        return new FileSink(Path.of(System.getProperty("jgrad.plots.dir", "build/plots")), System.out);
    }

    public Path directory() {
        return directory;
    }

    @Override
    public String display(DisplayContent content) {
        String id = "display-" + counter.incrementAndGet();
        write(id, content, true);
        return id;
    }

    @Override
    public void update(String displayId, DisplayContent content) {
        write(displayId, content, false);
    }

    @Override
    public boolean isNotebook() {
        return false;
    }

    private void write(String id, DisplayContent content, boolean announce) {
        byte[] png = content.pngBytes();
        String html = content.get(DisplayContent.HTML);
        if (png == null) {
            // Text or HTML (tables, progress): a terminal reads the plain-text rendering best.
            out.println(content.has(DisplayContent.TEXT) ? content.get(DisplayContent.TEXT) : html);
            return;
        }
        Path file = files.computeIfAbsent(id, k -> directory.resolve(fileName(content, ".png")));
        try {
            Files.createDirectories(directory);
            Files.write(file, png);
        } catch (IOException e) {
            throw new UncheckedIOException("FileSink: cannot write " + file.toAbsolutePath(), e);
        }
        if (announce) out.println("[jgrad] " + describe(content) + " -> " + file.toAbsolutePath().normalize());
    }

    private String fileName(DisplayContent content, String extension) {
        String slug = describe(content).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
        if (slug.isEmpty() || slug.length() > 40) slug = slug.isEmpty() ? "figure" : slug.substring(0, 40);
        return String.format(Locale.ROOT, "%03d-%s%s", counter.get(), slug, extension);
    }

    private static String describe(DisplayContent content) {
        String text = content.get(DisplayContent.TEXT);
        return text == null ? "figure" : text.lines().findFirst().orElse("figure");
    }
}
