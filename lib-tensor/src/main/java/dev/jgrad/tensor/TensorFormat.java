package dev.jgrad.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntToDoubleFunction;

/**
 * Prints tensors the way PyTorch does: nested brackets, one common number format, aligned columns, and, past
 * 1000 elements, only the first and last three entries of each dimension with "..." between them.
 */
final class TensorFormat {
    private static final int SUMMARIZE_ABOVE = 1000;
    private static final int EDGE_ITEMS = 3;

    private TensorFormat() {}

    static String format(Tensor t, int[] shape, IntToDoubleFunction flat) {
        boolean summarize = t.numel() > SUMMARIZE_ABOVE;
        int[] strides = Shapes.contiguousStrides(shape);
        List<Double> shown = new ArrayList<>();
        collect(shape, strides, 0, 0, summarize, flat, shown);
        NumberStyle style = NumberStyle.of(shown);
        int width = 0;
        for (double v : shown) {
            width = Math.max(width, style.format(v).length());
        }
        var sb = new StringBuilder("tensor(");
        if (shape.length == 0) {
            sb.append(style.format(flat.applyAsDouble(0)));
        } else {
            render(sb, shape, strides, 0, 0, summarize, flat, style, width, "tensor(".length() + 1);
        }
        sb.append(", shape=").append(Shapes.str(shape)).append(", dtype=").append(t.dtype()).append(')');
        return sb.toString();
    }

    private static boolean skipped(int i, int n, boolean summarize) {
        return summarize && n > 2 * EDGE_ITEMS && i >= EDGE_ITEMS && i < n - EDGE_ITEMS;
    }

    private static void collect(int[] shape, int[] strides, int dim, int base, boolean summarize,
                                IntToDoubleFunction flat, List<Double> out) {
        if (dim == shape.length) {
            out.add(flat.applyAsDouble(base));
            return;
        }
        for (int i = 0; i < shape[dim]; i++) {
            if (!skipped(i, shape[dim], summarize)) {
                collect(shape, strides, dim + 1, base + i * strides[dim], summarize, flat, out);
            }
        }
    }

    private static void render(StringBuilder sb, int[] shape, int[] strides, int dim, int base, boolean summarize,
                               IntToDoubleFunction flat, NumberStyle style, int width, int indent) {
        sb.append('[');
        int n = shape[dim];
        boolean last = dim == shape.length - 1;
        for (int i = 0; i < n; i++) {
            if (skipped(i, n, summarize)) {
                if (i == EDGE_ITEMS) {
                    sb.append(last ? " ..." : "...");
                    separator(sb, last, dim, shape.length, indent);
                }
                continue;
            }
            if (last) {
                String s = style.format(flat.applyAsDouble(base + i * strides[dim]));
                sb.append(" ".repeat(width - s.length())).append(s);
            } else {
                render(sb, shape, strides, dim + 1, base + i * strides[dim], summarize, flat, style, width, indent + 1);
            }
            if (i < n - 1) {
                separator(sb, last, dim, shape.length, indent);
            }
        }
        sb.append(']');
    }

    private static void separator(StringBuilder sb, boolean last, int dim, int rank, int indent) {
        if (last) {
            sb.append(", ");
        } else {
            sb.append(',').append("\n".repeat(rank - dim - 1)).append(" ".repeat(indent + dim));
        }
    }

    /** The one number format used for a whole tensor, chosen from the values shown. */
    private record NumberStyle(boolean integral, boolean scientific) {
        static NumberStyle of(List<Double> values) {
            boolean integral = true;
            double maxAbs = 0;
            double minAbs = Double.POSITIVE_INFINITY;
            for (double v : values) {
                if (!Double.isFinite(v)) {
                    continue;
                }
                if (v != Math.rint(v)) {
                    integral = false;
                }
                double a = Math.abs(v);
                maxAbs = Math.max(maxAbs, a);
                if (a > 0) {
                    minAbs = Math.min(minAbs, a);
                }
            }
            boolean scientific = maxAbs >= 1e8 || (!integral && minAbs < 1e-4) || (maxAbs / minAbs > 1e3 && !integral);
            return new NumberStyle(integral && maxAbs < 1e8, scientific);
        }

        String format(double v) {
            if (Double.isNaN(v)) {
                return "nan";
            }
            if (Double.isInfinite(v)) {
                return v > 0 ? "inf" : "-inf";
            }
            if (integral) {
                return String.format(Locale.ROOT, "%.0f.", v);
            }
            return String.format(Locale.ROOT, scientific ? "%.4e" : "%.4f", v);
        }
    }
}
