package dev.jgrad.viz;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Something that can be drawn into a raster image: a chart, a grid of heatmap panels, an image grid.
 * Rendering is pure Java2D (headless-safe); {@link #show()} puts the figure inline in a notebook, or in a PNG file
 * outside one (see {@link Display}).
 */
public interface Figure {

    /** A typical notebook output column, in CSS pixels. */
    int NOTEBOOK_WIDTH = 900;

    /** Renders the figure exactly {@code widthPx} pixels wide; the height follows from the figure's aspect. */
    BufferedImage render(int widthPx);

    /** A short human name, used for file names and alt text. */
    String title();

    default byte[] toPng(int widthPx) {
        return Png.encode(render(widthPx));
    }

    default byte[] toPng() {
        return toPng(NOTEBOOK_WIDTH);
    }

    /** Writes the figure as a PNG file {@code widthPx} wide and returns the path. */
    default Path save(Path file, int widthPx) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            return Files.write(file, toPng(widthPx));
        } catch (IOException e) {
            throw new UncheckedIOException("Figure.save: cannot write " + file, e);
        }
    }

    default Path save(Path file) {
        return save(file, NOTEBOOK_WIDTH);
    }

    /** Displays the figure inline under a Java Jupyter kernel, otherwise writes a PNG and prints its path. */
    default void show() {
        Display.show(this);
    }
}
