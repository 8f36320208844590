package dev.jgrad.viz;

import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Jupyter mime bundle: mime type to payload, binary payloads (image/png) already base64-encoded as the
 * protocol wants them. Front ends pick the richest type they support, so bundles carry a text/plain fallback.
 */
public record DisplayContent(Map<String, String> data) {

    public static final String PNG = "image/png";
    public static final String HTML = "text/html";
    public static final String TEXT = "text/plain";

    public DisplayContent {
        if (data.isEmpty()) throw new IllegalArgumentException("DisplayContent: a mime bundle needs at least one entry");
        for (var entry : data.entrySet()) {
            if (entry.getKey() == null || entry.getValue() == null) {
                throw new IllegalArgumentException("DisplayContent: null mime type or payload in bundle " + data.keySet());
            }
        }
        data = Collections.unmodifiableMap(new LinkedHashMap<>(data)); // keeps the richest-first order
    }

    public static DisplayContent png(byte[] png, String altText) {
        return bundle(PNG, Base64.getEncoder().encodeToString(png), altText);
    }

    public static DisplayContent html(String html, String plainText) {
        return bundle(HTML, html, plainText);
    }

    public static DisplayContent text(String text) {
        return new DisplayContent(Map.of(TEXT, text));
    }

    private static DisplayContent bundle(String mime, String payload, String plainText) {
        var data = new LinkedHashMap<String, String>();
        data.put(mime, payload);
        data.put(TEXT, plainText);
        return new DisplayContent(data);
    }

    public boolean has(String mime) {
        return data.containsKey(mime);
    }

    public String get(String mime) {
        return data.get(mime);
    }

    /** The decoded PNG bytes, or null when the bundle carries no image/png. */
    public byte[] pngBytes() {
        String b64 = data.get(PNG);
        return b64 == null ? null : Base64.getDecoder().decode(b64);
    }
}
