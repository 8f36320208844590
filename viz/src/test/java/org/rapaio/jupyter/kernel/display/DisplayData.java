package org.rapaio.jupyter.kernel.display;

import java.util.LinkedHashMap;
import java.util.Map;

/** Test double of rapaio's DisplayData with the same public API the viz sink calls. */
public class DisplayData {
    private final Map<String, Object> data = new LinkedHashMap<>();
    private String displayId;

    protected DisplayData() {}

    public static DisplayData withType(String mime, String content) {
        var dd = new DisplayData();
        dd.putData(mime, content);
        return dd;
    }

    public Map<String, Object> data() {
        return data;
    }

    public void putData(String mime, Object content) {
        data.put(mime, content);
    }

    public void setDisplayId(String id) {
        this.displayId = id;
    }

    public boolean hasDisplayId() {
        return displayId != null;
    }

    public String getDisplayId() {
        return displayId;
    }
}
