package dev.jgrad.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;

/**
 * The shared look of every jgrad chart, and the one place that turns an XChart chart into pixels.
 *
 * <p>Charts are laid out on a logical canvas about {@link #LOGICAL_WIDTH} wide and then painted with a scale
 * transform to the requested pixel width. Layout (fonts, paddings, line widths) therefore looks the same at any
 * output width, and a wider PNG is simply sharper instead of having relatively smaller text.
 */
final class Style {
    private Style() {}

    static final int LOGICAL_WIDTH = 720;
    static final String FONT_FAMILY = Font.SANS_SERIF;

    static final Color BACKGROUND = Color.WHITE;
    static final Color TEXT = new Color(0x33, 0x33, 0x33);
    static final Color GRID = new Color(0xE4, 0xE4, 0xE4);
    static final Color AXIS = new Color(0x99, 0x99, 0x99);

    /** Tableau 10: distinct, colour-blind friendlier than AWT primaries, readable on white. */
    static final Color[] PALETTE = {
        new Color(0x4E79A7), new Color(0xF28E2B), new Color(0xE15759), new Color(0x76B7B2), new Color(0x59A14F),
        new Color(0xEDC948), new Color(0xB07AA1), new Color(0xFF9DA7), new Color(0x9C755F), new Color(0xBAB0AC)
    };

    /** Viridis sampled at 9 stops: perceptually uniform, dark = low, bright = high. */
    static final Color[] VIRIDIS = {
        new Color(0x440154), new Color(0x472D7B), new Color(0x3B528B), new Color(0x2C728E), new Color(0x21918C),
        new Color(0x28AE80), new Color(0x5EC962), new Color(0xADDC30), new Color(0xFDE725)
    };

    static Color palette(int i) {
        return PALETTE[Math.floorMod(i, PALETTE.length)];
    }

    static Color withAlpha(Color c, double alpha) {
        return new Color(c.getRed(), c.getGreen(), c.getBlue(), (int) Math.round(255 * alpha));
    }

    /** Fonts, colours and grid shared by line, bar and heatmap charts. */
    static void apply(AxesChartStyler s) {
        s.setChartBackgroundColor(BACKGROUND);
        s.setPlotBackgroundColor(BACKGROUND);
        s.setChartFontColor(TEXT);
        s.setChartTitleFont(new Font(FONT_FAMILY, Font.BOLD, 15));
        s.setChartTitleBoxVisible(false);
        s.setChartPadding(10);
        s.setAxisTitleFont(new Font(FONT_FAMILY, Font.PLAIN, 13));
        s.setAxisTickLabelsFont(new Font(FONT_FAMILY, Font.PLAIN, 11));
        s.setAxisTickLabelsColor(TEXT);
        s.setAxisTickMarksColor(AXIS);
        s.setLegendFont(new Font(FONT_FAMILY, Font.PLAIN, 12));
        s.setLegendBorderColor(GRID);
        s.setLegendBackgroundColor(new Color(255, 255, 255, 220));
        s.setPlotBorderVisible(true);
        s.setPlotBorderColor(AXIS);
        s.setPlotGridLinesColor(GRID);
        s.setPlotGridLinesStroke(new BasicStroke(1f));
        s.setPlotMargin(4);
        s.setAntiAlias(true);
        s.setToolTipsEnabled(false);
        s.setSeriesColors(PALETTE);
    }

    /** Scale from logical to device pixels for a chart rendered {@code widthPx} wide, within legible bounds. */
    static double scaleFor(int widthPx) {
        return Math.clamp(widthPx / (double) LOGICAL_WIDTH, 0.6, 4.0);
    }

    /** A white opaque canvas (RGB: smaller and faster to encode than ARGB). */
    static BufferedImage canvas(int widthPx, int heightPx, String op) {
        requirePositive(widthPx, "widthPx", op);
        requirePositive(heightPx, "heightPx", op);
        var image = new BufferedImage(widthPx, heightPx, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(BACKGROUND);
        g.fillRect(0, 0, widthPx, heightPx);
        g.dispose();
        return image;
    }

    static Graphics2D graphics(BufferedImage image) {
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
        g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
        return g;
    }

    /** Paints {@code chart} (laid out at its own logical size) into the rectangle at (x, y) scaled by {@code scale}. */
    static void paint(Chart<?, ?> chart, Graphics2D g, int x, int y, double scale) {
        Graphics2D sub = (Graphics2D) g.create();
        sub.translate(x, y);
        sub.scale(scale, scale);
        chart.paint(sub, chart.getWidth(), chart.getHeight());
        sub.dispose();
    }

    static void requirePositive(int value, String name, String op) {
        if (value <= 0) throw new IllegalArgumentException(op + ": " + name + " must be positive, got " + value);
    }
}
