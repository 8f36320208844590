package dev.jgrad.viz;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.Optional;

/**
 * Display through the rapaio Jupyter kernel (io.github.padreati:rapaio-jupyter-kernel), found by reflection.
 *
 * <p>Cells run in-process (JShell local execution), so the kernel is reachable as the static field
 * {@code org.rapaio.jupyter.kernel.MainApp.kernel}; its {@code display(DisplayData)} publishes display_data and
 * {@code updateDisplay(DisplayData)} publishes update_display_data for the DisplayData's display_id.
 */
public final class RapaioKernelSink extends KernelSink {

    static final String MAIN_CLASS = "org.rapaio.jupyter.kernel.MainApp";
    static final String DISPLAY_DATA_CLASS = "org.rapaio.jupyter.kernel.display.DisplayData";

    private final Method withType, putData, setDisplayId;

    private RapaioKernelSink(Object kernel, Method withType, Method putData, Method setDisplayId, Method display, Method updateDisplay) {
        super(kernel, display, updateDisplay);
        this.withType = withType;
        this.putData = putData;
        this.setDisplayId = setDisplayId;
    }

    /** The kernel sink if {@code loader} sees a running rapaio kernel with the expected API, else empty. */
    public static Optional<DisplaySink> find(ClassLoader loader) {
        Class<?> main = Reflect.find(MAIN_CLASS, loader);
        Class<?> displayData = Reflect.find(DISPLAY_DATA_CLASS, loader);
        if (main == null || displayData == null) return Optional.empty();
        try {
            Field field = main.getField("kernel");
            Object kernel = field.get(null);
            if (kernel == null) return Optional.empty();
            Method withType = Reflect.method(displayData, "withType", String.class, String.class);
            Method putData = Reflect.method(displayData, "putData", String.class, Object.class);
            Method setDisplayId = Reflect.method(displayData, "setDisplayId", String.class);
            Method display = Reflect.method(field.getType(), "display", displayData);
            Method update = Reflect.method(field.getType(), "updateDisplay", displayData);
            if (withType == null || putData == null || setDisplayId == null || display == null || update == null) {
                return Optional.empty();
            }
            return Optional.of(new RapaioKernelSink(kernel, withType, putData, setDisplayId, display, update));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    @Override
    Object toDisplayData(DisplayContent content, String id) {
        Object data = null;
        for (Map.Entry<String, String> e : content.data().entrySet()) {
            if (data == null) data = Reflect.invoke(withType, null, e.getKey(), e.getValue());
            else Reflect.invoke(putData, data, e.getKey(), e.getValue());
        }
        Reflect.invoke(setDisplayId, data, id);
        return data;
    }
}
