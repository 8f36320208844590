package dev.jgrad.viz;

import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.Locale;

/**
 * Attention weights as heatmaps, drawn with Java2D (XChart's heat map neither labels every cell on both axes nor
 * reads top-down): one panel per head, queries down the rows (first token at the top), keys along
 * the columns, token labels on both axes. All panels share one colour scale so heads can be compared.
 * <pre>{@code
 * Plots.heatmap(attn, tokens).show();            // attn: [heads, T, T] or [T, T]
 * Plots.heatmap(crossAttn, queryTokens, keyTokens).columns(4).show();
 * }</pre>
 */
public final class Heatmap implements Figure {

    private static final String OP = "Plots.heatmap";
    private static final int LOGICAL_PANEL_WIDTH = 440;

    private final double[][][] weights; // [head][query][key]
    private final String[] rowTokens;
    private final String[] colTokens;
    private String title = "attention";
    private int columns;
    private Boolean showValues; // null: decide from the matrix size

    Heatmap(Tensor attention, String[] rowTokens, String[] colTokens) {
        int[] shape = attention.shape();
        if (shape.length != 2 && shape.length != 3) {
            throw new ShapeException(OP + ": expected attention of shape [heads, T, T] or [T, T], got " + Shapes.str(shape));
        }
        Tensor heads = shape.length == 2 ? attention.unsqueeze(0) : attention;
        int h = heads.size(0), rows = heads.size(1), cols = heads.size(2);
        if (h == 0 || rows == 0 || cols == 0) throw new ShapeException(OP + ": empty attention tensor " + Shapes.str(shape));
        if (rowTokens.length != rows || colTokens.length != cols) {
            throw new ShapeException(OP + ": attention " + Shapes.str(shape) + " needs " + rows + " row tokens and " + cols
                    + " column tokens, got " + rowTokens.length + " and " + colTokens.length);
        }
        double[] flat = heads.contiguous().toDoubleArray();
        this.weights = new double[h][rows][cols];
        for (int k = 0; k < h; k++)
            for (int i = 0; i < rows; i++)
                System.arraycopy(flat, (k * rows + i) * cols, weights[k][i], 0, cols);
        this.rowTokens = rowTokens.clone();
        this.colTokens = colTokens.clone();
        this.columns = h == 1 ? 1 : h <= 4 ? 2 : 4;
    }

    public Heatmap title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    /** Panels per row of the composite image. */
    public Heatmap columns(int columns) {
        Style.requirePositive(columns, "columns", OP);
        this.columns = columns;
        return this;
    }

    /** Print each weight inside its cell (default: only for small matrices where the numbers stay legible). */
    public Heatmap showValues(boolean on) {
        this.showValues = on;
        return this;
    }

    /** Number of panels, one per head. */
    public int panels() {
        return weights.length;
    }

    @Override
    public String title() {
        return title.isEmpty() ? "heatmap" : title;
    }

    @Override
    public BufferedImage render(int widthPx) {
        Style.requirePositive(widthPx, "widthPx", "Heatmap.render");
        int heads = weights.length;
        int gridCols = Math.min(columns, heads);
        int gridRows = (heads + gridCols - 1) / gridCols;
        int panelWidth = widthPx / gridCols;
        double scale = Math.clamp(panelWidth / (double) LOGICAL_PANEL_WIDTH, 0.5, 4.0);
        BufferedImage probeImage = Style.canvas(1, 1, "Heatmap.render");
        Graphics2D probe = Style.graphics(probeImage);
        PanelLayout layout = layout(probe, panelWidth, scale);
        probe.dispose();

        double[] range = valueRange();
        BufferedImage image = Style.canvas(widthPx, gridRows * layout.height(), "Heatmap.render");
        Graphics2D g = Style.graphics(image);
        for (int k = 0; k < heads; k++) {
            Graphics2D panel = (Graphics2D) g.create((k % gridCols) * panelWidth, (k / gridCols) * layout.height(),
                    panelWidth, layout.height());
            paintPanel(panel, k, layout, range);
            panel.dispose();
        }
        g.dispose();
        return image;
    }

    /** Pixel geometry shared by all panels: margins for the title and token labels, cell size, colour bar. */
    private record PanelLayout(int width, int height, int left, int top, int cell, int colorBarX, int colorBarWidth,
                               Font titleFont, Font tickFont, Font valueFont) {}

    private PanelLayout layout(Graphics2D g, int panelWidth, double scale) {
        int rows = rowTokens.length, cols = colTokens.length;
        int n = Math.max(rows, cols);
        Font titleFont = new Font(Style.FONT_FAMILY, Font.BOLD, (int) Math.round(14 * scale));
        Font tickFont = new Font(Style.FONT_FAMILY, Font.PLAIN, (int) Math.round((n <= 12 ? 12 : n <= 24 ? 10 : 8) * scale));
        Font valueFont = new Font(Style.FONT_FAMILY, Font.PLAIN, (int) Math.round(10 * scale));
        FontMetrics tick = g.getFontMetrics(tickFont);
        int rowLabelWidth = 0, colLabelHeight = 0;
        for (String t : rowTokens) rowLabelWidth = Math.max(rowLabelWidth, tick.stringWidth(t));
        for (String t : colTokens) colLabelHeight = Math.max(colLabelHeight, tick.stringWidth(t));
        int pad = (int) Math.round(8 * scale);
        int titleHeight = g.getFontMetrics(titleFont).getHeight() + pad;
        int colorBarWidth = (int) Math.round(12 * scale);
        int colorBarLabels = tick.stringWidth("0.00e-00") + pad;
        int left = pad + rowLabelWidth + pad / 2;
        int available = panelWidth - left - pad - colorBarWidth - colorBarLabels;
        int cell = Math.max(1, available / cols);
        // Keep cells square but the panel no taller than it is wide when there are many rows.
        int maxGridHeight = panelWidth - titleHeight - colLabelHeight - 2 * pad;
        if (cell * rows > maxGridHeight) cell = Math.max(1, maxGridHeight / rows);
        int height = titleHeight + cell * rows + pad / 2 + colLabelHeight + pad;
        return new PanelLayout(panelWidth, height, left, titleHeight, cell, left + cell * cols + pad, colorBarWidth,
                titleFont, tickFont, valueFont);
    }

    private void paintPanel(Graphics2D g, int head, PanelLayout p, double[] range) {
        int rows = rowTokens.length, cols = colTokens.length;
        double[][] w = weights[head];
        String panelTitle = weights.length == 1 ? title : (title.isEmpty() ? "" : title + ", ") + "head " + head;
        g.setColor(Style.TEXT);
        g.setFont(p.titleFont());
        FontMetrics tm = g.getFontMetrics();
        g.drawString(panelTitle, (p.width() - tm.stringWidth(panelTitle)) / 2, tm.getAscent() + 2);

        FontMetrics vm = g.getFontMetrics(p.valueFont());
        boolean values = showValues != null ? showValues : p.cell() >= vm.stringWidth("0.00") + 6;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double v = w[i][j];
                int x = p.left() + j * p.cell(), y = p.top() + i * p.cell();
                Color c = Double.isFinite(v) ? colormap((v - range[0]) / (range[1] - range[0])) : Color.LIGHT_GRAY;
                g.setColor(c);
                g.fillRect(x, y, p.cell(), p.cell());
                if (values && Double.isFinite(v)) {
                    String text = String.format(Locale.ROOT, "%.2f", v);
                    g.setFont(p.valueFont());
                    g.setColor(luminance(c) > 0.5 ? Style.TEXT : Color.WHITE);
                    g.drawString(text, x + (p.cell() - vm.stringWidth(text)) / 2,
                            y + (p.cell() + vm.getAscent() - vm.getDescent()) / 2);
                }
            }
        }
        // Token labels: queries right-aligned left of their row, keys rotated under their column.
        g.setFont(p.tickFont());
        g.setColor(Style.TEXT);
        FontMetrics fm = g.getFontMetrics();
        int gap = Math.max(3, fm.getHeight() / 4);
        for (int i = 0; i < rows; i++) {
            int y = p.top() + i * p.cell() + (p.cell() + fm.getAscent() - fm.getDescent()) / 2;
            g.drawString(rowTokens[i], p.left() - gap - fm.stringWidth(rowTokens[i]), y);
        }
        int gridBottom = p.top() + rows * p.cell();
        for (int j = 0; j < cols; j++) {
            Graphics2D r = (Graphics2D) g.create();
            r.translate(p.left() + j * p.cell() + (p.cell() - fm.getAscent() + fm.getDescent()) / 2, gridBottom + gap);
            r.rotate(Math.PI / 2);
            r.drawString(colTokens[j], 0, 0);
            r.dispose();
        }
        // Colour bar with the shared range, so every panel reads on the same scale.
        int barHeight = rows * p.cell();
        for (int y = 0; y < barHeight; y++) {
            g.setColor(colormap(1 - y / (double) Math.max(1, barHeight - 1)));
            g.fillRect(p.colorBarX(), p.top() + y, p.colorBarWidth(), 1);
        }
        g.setColor(Style.AXIS);
        g.drawRect(p.colorBarX(), p.top(), p.colorBarWidth(), barHeight);
        g.setColor(Style.TEXT);
        int labelX = p.colorBarX() + p.colorBarWidth() + gap;
        g.drawString(tickLabel(range[1]), labelX, p.top() + fm.getAscent());
        g.drawString(tickLabel(range[0]), labelX, p.top() + barHeight);
    }

    private static String tickLabel(double v) {
        return Math.abs(v) >= 100 || (v != 0 && Math.abs(v) < 0.01) ? String.format(Locale.ROOT, "%.1e", v)
                : String.format(Locale.ROOT, "%.2f", v);
    }

    /** Viridis, linearly interpolated between its stops; t is clamped to [0, 1]. */
    static Color colormap(double t) {
        Color[] stops = Style.VIRIDIS;
        double x = Math.clamp(t, 0.0, 1.0) * (stops.length - 1);
        int i = Math.min((int) x, stops.length - 2);
        double f = x - i;
        Color a = stops[i], b = stops[i + 1];
        return new Color((int) Math.round(a.getRed() + f * (b.getRed() - a.getRed())),
                (int) Math.round(a.getGreen() + f * (b.getGreen() - a.getGreen())),
                (int) Math.round(a.getBlue() + f * (b.getBlue() - a.getBlue())));
    }

    private static double luminance(Color c) {
        return (0.2126 * c.getRed() + 0.7152 * c.getGreen() + 0.0722 * c.getBlue()) / 255;
    }

    /** Shared colour range over all heads; attention weights get [0, max] so zero is always the darkest colour. */
    private double[] valueRange() {
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (double[][] head : weights)
            for (double[] row : head)
                for (double v : row) {
                    if (!Double.isFinite(v)) continue;
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
        if (min == Double.POSITIVE_INFINITY) return new double[] {0, 1};
        if (min >= 0) min = 0;
        if (max <= min) max = min + 1;
        return new double[] {min, max};
    }
}
