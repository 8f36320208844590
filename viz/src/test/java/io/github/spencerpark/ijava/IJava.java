package io.github.spencerpark.ijava;

import java.util.ArrayList;
import java.util.List;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;

/** Test double of IJava's entry point: {@code getKernelInstance()} and a kernel with display/updateDisplay. */
public class IJava {
    public static class Kernel {
        public final List<DisplayData> displayed = new ArrayList<>();
        public final List<DisplayData> updated = new ArrayList<>();

        public void display(DisplayData data) {
            displayed.add(data);
        }

        public void updateDisplay(DisplayData data) {
            updated.add(data);
        }
    }

    public static final Kernel KERNEL = new Kernel();

    public static Kernel getKernelInstance() {
        return KERNEL;
    }
}
