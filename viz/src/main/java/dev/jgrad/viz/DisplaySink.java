package dev.jgrad.viz;

/**
 * Where displayed content goes: a notebook front end (through a Java Jupyter kernel) or, outside a notebook, files
 * and the terminal. Implementations: {@link RapaioKernelSink}, {@link IJavaKernelSink}, {@link FileSink}; tests
 * inject their own.
 */
public interface DisplaySink {

    /** Shows new output and returns its display id, which {@link #update} can later replace in place. */
    String display(DisplayContent content);

    /** Replaces the output shown earlier under {@code displayId} (Jupyter update_display_data). */
    void update(String displayId, DisplayContent content);

    /** True when output lands in a notebook that renders HTML and images inline. */
    boolean isNotebook();
}
