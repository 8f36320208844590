package org.rapaio.jupyter.kernel.core;

import java.util.ArrayList;
import java.util.List;
import org.rapaio.jupyter.kernel.display.DisplayData;

/** Test double of rapaio's RapaioKernel: records what would be published as display_data / update_display_data. */
public class RapaioKernel {
    public final List<DisplayData> displayed = new ArrayList<>();
    public final List<DisplayData> updated = new ArrayList<>();

    public void display(DisplayData dd) {
        displayed.add(dd);
    }

    public void updateDisplay(DisplayData dd) {
        if (!dd.hasDisplayId()) throw new IllegalArgumentException("Cannot update a display without display_id.");
        updated.add(dd);
    }
}
