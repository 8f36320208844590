package dev.jgrad.viz;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.Optional;

/**
 * Display through the IJava kernel ({@code io.github.spencerpark.ijava.IJava.getKernelInstance()}), found by
 * reflection. Its kernel has {@code display(DisplayData)} and {@code updateDisplay(DisplayData)} like rapaio's.
 */
public final class IJavaKernelSink extends KernelSink {

    static final String IJAVA_CLASS = "io.github.spencerpark.ijava.IJava";
    static final String DISPLAY_DATA_CLASS = "io.github.spencerpark.jupyter.kernel.display.DisplayData";

    private final Constructor<?> newDisplayData;
    private final Method putData, setDisplayId;

    private IJavaKernelSink(Object kernel, Constructor<?> newDisplayData, Method putData, Method setDisplayId, Method display, Method updateDisplay) {
        super(kernel, display, updateDisplay);
        this.newDisplayData = newDisplayData;
        this.putData = putData;
        this.setDisplayId = setDisplayId;
    }

    public static Optional<DisplaySink> find(ClassLoader loader) {
        Class<?> ijava = Reflect.find(IJAVA_CLASS, loader);
        Class<?> displayData = Reflect.find(DISPLAY_DATA_CLASS, loader);
        if (ijava == null || displayData == null) return Optional.empty();
        try {
            Method getKernel = Reflect.method(ijava, "getKernelInstance");
            if (getKernel == null) return Optional.empty();
            Object kernel = getKernel.invoke(null);
            if (kernel == null) return Optional.empty();
            Constructor<?> ctor = displayData.getConstructor();
            Method putData = Reflect.method(displayData, "putData", String.class, String.class);
            Method setDisplayId = Reflect.method(displayData, "setDisplayId", String.class);
            Method display = Reflect.method(kernel.getClass(), "display", displayData);
            Method update = Reflect.method(kernel.getClass(), "updateDisplay", displayData);
            if (putData == null || setDisplayId == null || display == null || update == null) return Optional.empty();
            return Optional.of(new IJavaKernelSink(kernel, ctor, putData, setDisplayId, display, update));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    @Override
    Object toDisplayData(DisplayContent content, String id) {
        Object data;
        try {
            data = newDisplayData.newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("IJava DisplayData could not be created", e);
        }
        for (Map.Entry<String, String> e : content.data().entrySet()) Reflect.invoke(putData, data, e.getKey(), e.getValue());
        Reflect.invoke(setDisplayId, data, id);
        return data;
    }
}
