package dev.jgrad.viz;

import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;

/**
 * Entry point for every jgrad figure. Each method returns a {@link Figure} to configure fluently, then
 * {@code show()} inline in a notebook or {@code toPng(width)} / {@code save(path)} anywhere else.
 */
public final class Plots {
    private Plots() {}

    /** Line chart of training curves; add curves with {@code series(...)}. */
    public static LinePlot lines(String title) {
        return new LinePlot(title);
    }

    /** Attention heatmap, one panel per head: {@code attention} is [heads, T, T] or [T, T]. */
    public static Heatmap heatmap(Tensor attention, String[] tokens) {
        return new Heatmap(attention, tokens, tokens);
    }

    /** Heatmap with different row (query) and column (key) labels, e.g. cross-attention. */
    public static Heatmap heatmap(Tensor attention, String[] rowTokens, String[] colTokens) {
        return new Heatmap(attention, rowTokens, colTokens);
    }

    /** Grid of images {@code cols} wide from [N, C, H, W] (C = 1 or 3) or [N, H, W]. */
    public static ImageGrid images(Tensor batch, int cols) {
        return new ImageGrid(batch, cols);
    }

    /** Bar chart of labelled values. */
    public static BarPlot bars(String[] labels, double[] values) {
        return new BarPlot(labels, values);
    }

    /** Bar chart of a 1-D tensor, e.g. a probability distribution over a small vocabulary. */
    public static BarPlot bars(String[] labels, Tensor values) {
        if (values.rank() != 1) {
            throw new ShapeException("Plots.bars: expected a 1-D tensor of values, got shape " + Shapes.str(values.shape()));
        }
        return new BarPlot(labels, values.toDoubleArray());
    }
}
