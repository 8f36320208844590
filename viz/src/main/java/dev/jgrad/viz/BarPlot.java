package dev.jgrad.viz;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategorySeries;

/**
 * Bar chart of labelled values, e.g. next-token probabilities:
 * <pre>{@code
 * Plots.bars(vocab, probs).top(10).title("next token after \"The cat\"").show();
 * }</pre>
 */
public final class BarPlot implements Figure {

    private final String[] labels;
    private final double[] values;
    private String title = "";
    private String yLabel = "";
    private int top = 0;
    private boolean sorted = false;
    private double aspect = 0.45;

    BarPlot(String[] labels, double[] values) {
        if (labels.length != values.length) {
            throw new IllegalArgumentException("Plots.bars: " + labels.length + " labels but " + values.length + " values");
        }
        if (labels.length == 0) throw new IllegalArgumentException("Plots.bars: no bars to draw");
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i])) {
                throw new IllegalArgumentException("Plots.bars: value for \"" + labels[i] + "\" (index " + i + ") is " + values[i]);
            }
        }
        this.labels = labels.clone();
        this.values = values.clone();
    }

    public BarPlot title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    public BarPlot yLabel(String label) {
        this.yLabel = label == null ? "" : label;
        return this;
    }

    /** Keeps only the {@code k} largest values, largest first. */
    public BarPlot top(int k) {
        Style.requirePositive(k, "k", "BarPlot.top");
        this.top = k;
        this.sorted = true;
        return this;
    }

    /** Orders bars from the largest value to the smallest. */
    public BarPlot sorted() {
        this.sorted = true;
        return this;
    }

    public BarPlot aspect(double heightOverWidth) {
        if (!(heightOverWidth > 0.05 && heightOverWidth < 5)) {
            throw new IllegalArgumentException("BarPlot.aspect: height/width must be in (0.05, 5), got " + heightOverWidth);
        }
        this.aspect = heightOverWidth;
        return this;
    }

    @Override
    public String title() {
        return title.isEmpty() ? "bars" : title;
    }

    @Override
    public BufferedImage render(int widthPx) {
        Style.requirePositive(widthPx, "widthPx", "BarPlot.render");
        Integer[] order = new Integer[labels.length];
        Arrays.setAll(order, i -> i);
        if (sorted) Arrays.sort(order, Comparator.comparingDouble((Integer i) -> values[i]).reversed());
        int n = top > 0 ? Math.min(top, order.length) : order.length;
        List<String> x = Arrays.stream(order, 0, n).map(i -> labels[i]).toList();
        List<Double> y = Arrays.stream(order, 0, n).map(i -> values[i]).toList();

        double scale = Style.scaleFor(widthPx);
        int logicalWidth = (int) Math.round(widthPx / scale);
        int logicalHeight = (int) Math.round(logicalWidth * aspect);
        CategoryChart chart = new CategoryChart(logicalWidth, logicalHeight);
        chart.setTitle(title);
        chart.setYAxisTitle(yLabel);
        var s = chart.getStyler();
        Style.apply(s);
        s.setLegendVisible(false);
        s.setPlotGridVerticalLinesVisible(false);
        s.setAvailableSpaceFill(0.75);
        s.setXAxisLabelRotation(n > 12 || x.stream().anyMatch(l -> l.length() > 8) ? 45 : 0);
        s.setLabelsVisible(n <= 20);
        s.setLabelsFont(s.getAxisTickLabelsFont());
        s.setLabelsFontColor(Style.TEXT);
        s.setLabelsPosition(1.0);
        s.setDecimalPattern("0.###");
        s.setYAxisMin(Math.min(0, y.stream().mapToDouble(Double::doubleValue).min().orElse(0)));
        CategorySeries bars = chart.addSeries("values", x, y);
        bars.setFillColor(Style.palette(0));

        BufferedImage image = Style.canvas(widthPx, (int) Math.round(logicalHeight * scale), "BarPlot.render");
        Graphics2D g = Style.graphics(image);
        Style.paint(chart, g, 0, 0, scale);
        g.dispose();
        return image;
    }
}
