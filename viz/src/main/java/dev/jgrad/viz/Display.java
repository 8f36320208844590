package dev.jgrad.viz;

import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * Shows figures and HTML wherever the code runs. Under a Java Jupyter kernel (rapaio, or IJava) output goes
 * inline into the notebook; anywhere else figures become PNG files whose path is printed. The kernel is found at
 * runtime by reflection, so viz has no dependency on it and notebooks need no kernel-specific magics.
 */
public final class Display {
    private Display() {}

    private static volatile DisplaySink sink;

    /** The sink in use: one set with {@link #use}, else the first kernel found, else {@link FileSink#standard()}. */
    public static DisplaySink sink() {
        DisplaySink s = sink;
        if (s == null) {
            synchronized (Display.class) {
                if (sink == null) sink = detect(searchLoaders());
                s = sink;
            }
        }
        return s;
    }

    /** Routes all display through {@code sink} (tests, or writing figures to a chosen folder). */
    public static void use(DisplaySink sink) {
        Display.sink = sink;
    }

    /** Forgets the current sink; the next display detects the environment again. */
    public static void reset() {
        sink = null;
    }

    /** The first kernel sink visible from any of {@code loaders}, or a {@link FileSink} when there is none. */
    public static DisplaySink detect(ClassLoader... loaders) {
        for (ClassLoader loader : loaders) {
            Optional<DisplaySink> kernel = RapaioKernelSink.find(loader).or(() -> IJavaKernelSink.find(loader));
            if (kernel.isPresent()) return kernel.get();
        }
        return FileSink.standard();
    }

    public static String show(Figure figure) {
        return show(figure, Figure.NOTEBOOK_WIDTH);
    }

    /** Renders {@code figure} {@code widthPx} wide and shows it; returns the display id. */
    public static String show(Figure figure, int widthPx) {
        return sink().display(DisplayContent.png(figure.toPng(widthPx), figure.title()));
    }

    /** Replaces an earlier output (display id from {@link #show}) with a new rendering of {@code figure}. */
    public static void update(String displayId, Figure figure, int widthPx) {
        sink().update(displayId, DisplayContent.png(figure.toPng(widthPx), figure.title()));
    }

    public static String html(String html, String plainText) {
        return sink().display(DisplayContent.html(html, plainText));
    }

    /** JShell loads notebook code through its own loader, so the kernel may be visible from any of these. */
    private static ClassLoader[] searchLoaders() {
        Set<ClassLoader> loaders = new LinkedHashSet<>();
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        if (context != null) loaders.add(context);
        ClassLoader own = Display.class.getClassLoader();
        if (own != null) loaders.add(own);
        loaders.add(ClassLoader.getSystemClassLoader());
        return loaders.toArray(ClassLoader[]::new);
    }
}
