package dev.jgrad.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Line chart of one or more curves against a shared x axis (training step by default), e.g.
 * <pre>{@code
 * Plots.lines("loss").series("train", steps, train).series("val", valSteps, val).smoothing(0.9).show();
 * Plots.lines("gradient norm").series("global", steps, norms).logY().show();
 * }</pre>
 * With smoothing on, every curve is drawn faintly as recorded with its TensorBoard-style EMA on top in the same
 * colour. Non-finite points (a diverged loss) are left out of the drawing rather than breaking it.
 */
public final class LinePlot implements Figure {

    private record Series(String name, double[] x, double[] y) {}

    /** A shaded range between two curves, e.g. the spread of a reference run over seeds. */
    private record Band(String name, double[] x, double[] low, double[] high) {}

    /** Curves longer than twice this are thinned to per-bucket min/max before drawing (see {@link Downsample}). */
    private static final int MAX_BUCKETS = 1000;

    /** Name of the hidden helper series of {@link #breakEvenSpacing}; user series may not take it. */
    private static final String TICK_SPACING_SERIES = "jgrad:tick-spacing";

    private final String title;
    private final List<Series> series = new ArrayList<>();
    private final List<Band> bands = new ArrayList<>();
    private String xLabel = "step";
    private String yLabel = "";
    private double smoothing = 0;
    private boolean logY = false;
    private double aspect = 0.5;

    LinePlot(String title) {
        this.title = title == null ? "" : title;
    }

    /** Adds a curve with explicit x values (e.g. the steps at which validation ran). */
    public LinePlot series(String name, double[] x, double[] y) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("LinePlot.series: name must not be blank");
        if (name.equals(TICK_SPACING_SERIES) || name.endsWith(" (raw)")) {
            throw new IllegalArgumentException("LinePlot.series: the name \"" + name + "\" is reserved for jgrad's own series");
        }
        if (x.length != y.length) {
            throw new IllegalArgumentException("LinePlot.series(\"" + name + "\"): x has " + x.length
                    + " values but y has " + y.length);
        }
        if (taken(name)) throw new IllegalArgumentException("LinePlot.series: duplicate series name \"" + name + "\"");
        series.add(new Series(name, x.clone(), y.clone()));
        return this;
    }

    /**
     * Adds a shaded range from {@code low} to {@code high} at each x (e.g. the min and max of a reference run over
     * seeds), drawn under the curves in a light tint of the colour of the first curve whose name starts with
     * {@code name} ("PyTorch" for "PyTorch mean"), or of the next free colour. Points where a bound is not finite
     * are left out.
     */
    public LinePlot band(String name, double[] x, double[] low, double[] high) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("LinePlot.band: name must not be blank");
        if (x.length != low.length || x.length != high.length) {
            throw new IllegalArgumentException("LinePlot.band(\"" + name + "\"): x has " + x.length + " values, low "
                    + low.length + ", high " + high.length);
        }
        for (int i = 0; i < x.length; i++) {
            if (low[i] > high[i]) {
                throw new IllegalArgumentException("LinePlot.band(\"" + name + "\"): low[" + i + "] = " + low[i]
                        + " is above high[" + i + "] = " + high[i]);
            }
        }
        if (name.equals(TICK_SPACING_SERIES) || name.endsWith(" (raw)")) {
            throw new IllegalArgumentException("LinePlot.band: the name \"" + name + "\" is reserved for jgrad's own series");
        }
        if (taken(name)) throw new IllegalArgumentException("LinePlot.band: duplicate name \"" + name + "\"");
        bands.add(new Band(name, x.clone(), low.clone(), high.clone()));
        return this;
    }

    /** Whether a series or band already has this name (the chart keys both by name). */
    private boolean taken(String name) {
        return series.stream().anyMatch(s -> s.name.equals(name)) || bands.stream().anyMatch(b -> b.name.equals(name));
    }

    /** Adds a curve whose x values are 0, 1, 2, ... */
    public LinePlot series(String name, double[] y) {
        double[] x = new double[y.length];
        Arrays.setAll(x, i -> i);
        return series(name, x, y);
    }

    public LinePlot series(String name, List<? extends Number> x, List<? extends Number> y) {
        return series(name, toArray(x), toArray(y));
    }

    public LinePlot series(String name, List<? extends Number> y) {
        return series(name, toArray(y));
    }

    /** TensorBoard-style EMA smoothing weight in [0, 1); 0 turns smoothing off. */
    public LinePlot smoothing(double weight) {
        Smoothing.requireWeight(weight, "LinePlot.smoothing");
        this.smoothing = weight;
        return this;
    }

    /** Logarithmic y axis (gradient norms, learning-rate schedules, losses spanning decades). */
    public LinePlot logY() {
        return logY(true);
    }

    public LinePlot logY(boolean on) {
        this.logY = on;
        return this;
    }

    public LinePlot xLabel(String label) {
        this.xLabel = label == null ? "" : label;
        return this;
    }

    public LinePlot yLabel(String label) {
        this.yLabel = label == null ? "" : label;
        return this;
    }

    /** Height as a fraction of width (default 0.5). */
    public LinePlot aspect(double heightOverWidth) {
        if (!(heightOverWidth > 0.05 && heightOverWidth < 5)) {
            throw new IllegalArgumentException("LinePlot.aspect: height/width must be in (0.05, 5), got " + heightOverWidth);
        }
        this.aspect = heightOverWidth;
        return this;
    }

    public int seriesCount() {
        return series.size();
    }

    public int bandCount() {
        return bands.size();
    }

    @Override
    public String title() {
        return title.isEmpty() ? "lines" : title;
    }

    @Override
    public BufferedImage render(int widthPx) {
        Style.requirePositive(widthPx, "widthPx", "LinePlot.render");
        double scale = Style.scaleFor(widthPx);
        int logicalWidth = (int) Math.round(widthPx / scale);
        int logicalHeight = (int) Math.round(logicalWidth * aspect);
        XYChart chart = buildChart(logicalWidth, logicalHeight);
        BufferedImage image = Style.canvas(widthPx, (int) Math.round(logicalHeight * scale), "LinePlot.render");
        Graphics2D g = Style.graphics(image);
        Style.paint(chart, g, 0, 0, scale);
        g.dispose();
        return image;
    }

    private XYChart buildChart(int width, int height) {
        XYChart chart = new XYChart(width, height);
        chart.setTitle(title);
        chart.setXAxisTitle(xLabel);
        chart.setYAxisTitle(yLabel);
        var styler = chart.getStyler();
        Style.apply(styler);
        styler.setYAxisLogarithmic(logY);
        styler.setMarkerSize(0);
        styler.setLegendVisible(series.size() + bands.size() > 1);
        styler.setLegendPosition(Styler.LegendPosition.InsideNE);
        styler.setXAxisTickMarkSpacingHint(90);

        int drawn = 0;
        for (int i = 0; i < bands.size(); i++) {
            drawn += addBand(chart, bands.get(i), bandColor(bands.get(i), i)) ? 1 : 0;
        }
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            double[][] points = drawablePoints(s);
            if (points[0].length == 0) continue;
            Color color = Style.palette(i);
            double[][] raw = Downsample.minMax(points[0], points[1], MAX_BUCKETS);
            if (smoothing > 0) {
                addLine(chart, s.name + " (raw)", raw[0], raw[1], Style.withAlpha(color, 0.28), 1.2f, false);
                double[][] smooth = Downsample.minMax(points[0], Smoothing.ema(points[1], smoothing), MAX_BUCKETS);
                addLine(chart, s.name, smooth[0], smooth[1], color, 2.2f, true);
            } else {
                addLine(chart, s.name, raw[0], raw[1], color, 2f, true);
            }
            drawn++;
        }
        if (drawn > 0) breakEvenSpacing(chart);
        if (drawn == 0) {
            // XChart needs at least one series to lay out axes; an empty plot still shows title and axes.
            addLine(chart, "(no data)", new double[] {0, 1}, new double[] {logY ? 1 : 0, 1}, new Color(0, 0, 0, 0), 1f, false);
        }
        return chart;
    }

    /**
     * XChart puts ticks on the data points when all x values are evenly spaced (steps 0, 1, 2, ...) and then lets
     * labels like "112126140" run together. A disabled (undrawn, unranged) series with one off-grid x value makes
     * it fall back to its ordinary "nice number" ticks.
     */
    private static void breakEvenSpacing(XYChart chart) {
        XYSeries first = chart.getSeriesMap().values().iterator().next();
        double[] x = first.getXData();
        double[] y = first.getYData();
        double offGrid = x.length > 1 ? x[0] + 0.371 * (x[1] - x[0]) : x[0] + 0.371;
        XYSeries marker = chart.addSeries(TICK_SPACING_SERIES, new double[] {offGrid}, new double[] {y[0]});
        marker.setShowInLegend(false);
        marker.setEnabled(false);
    }

    private static void addLine(XYChart chart, String name, double[] x, double[] y, Color color, float width, boolean legend) {
        XYSeries line = chart.addSeries(name, x, y);
        line.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        line.setMarker(SeriesMarkers.NONE);
        line.setLineColor(color);
        line.setLineStyle(new BasicStroke(width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        line.setShowInLegend(legend);
    }

    /**
     * The colour of the first series whose name starts with the band's ("PyTorch" tints like "PyTorch mean"), else
     * the next palette colour after the series.
     */
    private Color bandColor(Band band, int index) {
        for (int i = 0; i < series.size(); i++) {
            if (series.get(i).name.startsWith(band.name)) return Style.palette(i);
        }
        return Style.palette(series.size() + index);
    }

    /**
     * Draws the band as one closed polygon: along {@code high} left to right, back along {@code low}. Returns
     * whether anything was drawn.
     */
    private boolean addBand(XYChart chart, Band band, Color color) {
        int n = 0;
        double[] x = new double[band.x.length], low = new double[band.x.length], high = new double[band.x.length];
        for (int i = 0; i < band.x.length; i++) {
            if (!Double.isFinite(band.x[i]) || !Double.isFinite(band.low[i]) || !Double.isFinite(band.high[i])) continue;
            if (logY && band.low[i] <= 0) {
                throw new IllegalArgumentException("LinePlot \"" + title() + "\": logY needs positive values, but band \""
                        + band.name + "\" has low[" + i + "] = " + band.low[i]);
            }
            x[n] = band.x[i];
            low[n] = band.low[i];
            high[n++] = band.high[i];
        }
        if (n == 0) return false;
        double[] px = new double[2 * n], py = new double[2 * n];
        for (int i = 0; i < n; i++) {
            px[i] = x[i];
            py[i] = high[i];
            px[2 * n - 1 - i] = x[i];
            py[2 * n - 1 - i] = low[i];
        }
        XYSeries area = chart.addSeries(band.name, px, py);
        area.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
        area.setMarker(SeriesMarkers.NONE);
        area.setFillColor(Style.withAlpha(color, 0.22));
        area.setLineColor(Style.withAlpha(color, 0.45));
        area.setLineStyle(new BasicStroke(0.8f));
        return true;
    }

    /** The finite points of a series; on a log axis a non-positive value is an error rather than a silent gap. */
    private double[][] drawablePoints(Series s) {
        int n = 0;
        double[] x = new double[s.x.length];
        double[] y = new double[s.y.length];
        for (int i = 0; i < s.y.length; i++) {
            if (!Double.isFinite(s.x[i]) || !Double.isFinite(s.y[i])) continue;
            if (logY && s.y[i] <= 0) {
                throw new IllegalArgumentException("LinePlot \"" + title() + "\": logY needs positive values, but series \""
                        + s.name + "\" has y[" + i + "] = " + s.y[i]);
            }
            x[n] = s.x[i];
            y[n] = s.y[i];
            n++;
        }
        return new double[][] {Arrays.copyOf(x, n), Arrays.copyOf(y, n)};
    }

    private static double[] toArray(List<? extends Number> values) {
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) out[i] = values.get(i).doubleValue();
        return out;
    }
}
