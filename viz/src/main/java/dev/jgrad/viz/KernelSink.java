package dev.jgrad.viz;

import java.lang.reflect.Method;
import java.util.UUID;

/**
 * A notebook kernel reached by reflection: each kernel has its own way to find it and to build its DisplayData
 * object, but both publish with {@code display(data)} and {@code updateDisplay(data)} keyed by a display_id.
 */
abstract sealed class KernelSink implements DisplaySink permits RapaioKernelSink, IJavaKernelSink {
    private final Object kernel;
    private final Method display;
    private final Method updateDisplay;

    KernelSink(Object kernel, Method display, Method updateDisplay) {
        this.kernel = kernel;
        this.display = display;
        this.updateDisplay = updateDisplay;
    }

    /** The kernel's DisplayData for {@code content}, carrying display_id {@code id}. */
    abstract Object toDisplayData(DisplayContent content, String id);

    @Override
    public final String display(DisplayContent content) {
        String id = UUID.randomUUID().toString();
        Reflect.invoke(display, kernel, toDisplayData(content, id));
        return id;
    }

    @Override
    public final void update(String displayId, DisplayContent content) {
        Reflect.invoke(updateDisplay, kernel, toDisplayData(content, displayId));
    }

    @Override
    public final boolean isNotebook() {
        return true;
    }
}
