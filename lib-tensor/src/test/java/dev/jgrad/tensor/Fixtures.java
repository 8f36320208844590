package dev.jgrad.tensor;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads reference fixtures written by {@code src/test/python/make_fixtures_*.py} (PyTorch, float64) from
 * {@code src/test/resources/fixtures/AREA.txt}. See {@code fixture_io.py} for the format.
 */
public final class Fixtures {
    private Fixtures() {}

    /** Case name to (tensor name to F64 tensor), in file order. */
    public static Map<String, Map<String, Tensor>> load(String area) {
        String resource = "/fixtures/" + area + ".txt";
        InputStream in = Fixtures.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException("fixture " + resource + " is missing; run lib-tensor/src/test/python/make_fixtures_"
                    + area + ".py");
        }
        Map<String, Map<String, Tensor>> cases = new LinkedHashMap<>();
        try (var reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            Map<String, Tensor> current = null;
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                if (line.startsWith("@case ")) {
                    current = new LinkedHashMap<>();
                    cases.put(line.substring(6).trim(), current);
                    continue;
                }
                if (current == null) {
                    throw new IllegalStateException(resource + ": tensor line before any @case: " + line);
                }
                String[] parts = line.trim().split("\\s+");
                int[] shape = parts[1].equals("-") ? new int[0] : parseShape(parts[1]);
                double[] values = new double[parts.length - 2];
                for (int i = 0; i < values.length; i++) {
                    values[i] = Double.parseDouble(parts[i + 2]);
                }
                current.put(parts[0], shape.length == 0 ? Tensor.wrap(values).view() : Tensor.wrap(values, shape));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return cases;
    }

    private static int[] parseShape(String s) {
        String[] dims = s.split(",");
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            shape[i] = Integer.parseInt(dims[i]);
        }
        return shape;
    }
}
