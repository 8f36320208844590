package io.github.spencerpark.jupyter.kernel.display;

import java.util.LinkedHashMap;
import java.util.Map;

/** Test double of jupyter-jvm-basekernel's DisplayData. */
public class DisplayData {
    public final Map<String, Object> data = new LinkedHashMap<>();
    public String displayId;

    public DisplayData() {}

    public void putData(String mimeType, String content) {
        data.put(mimeType, content);
    }

    public void setDisplayId(String id) {
        this.displayId = id;
    }
}
