package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

class LinePlotTest {

    private static double[] decay(int n, double scale) {
        double[] y = new double[n];
        for (int i = 0; i < n; i++) y[i] = scale * Math.exp(-i / 40.0) + 0.1 * Math.sin(i);
        return y;
    }

    @Test
    void pngHasRequestedWidthAndIsNotBlank() {
        LinePlot plot = Plots.lines("loss").series("train", decay(300, 4)).series("val", decay(300, 4.5)).smoothing(0.9);
        for (int width : new int[] {900, 450, 1800}) {
            BufferedImage image = Pixels.assertRendered(plot.toPng(width), width);
            assertEquals(Math.round(width * 0.5), image.getHeight(), 2, "default aspect 0.5");
        }
        assertEquals(2, plot.seriesCount());
    }

    @Test
    void seriesAreDrawnInTheirPaletteColours() {
        BufferedImage image = Pixels.decode(Plots.lines("two").series("a", decay(100, 4)).series("b", decay(100, 2)).toPng(900));
        assertTrue(countColour(image, Style.palette(0).getRGB()) > 200, "first series colour missing");
        assertTrue(countColour(image, Style.palette(1).getRGB()) > 200, "second series colour missing");
    }

    private static int countColour(BufferedImage image, int argb) {
        int target = argb & 0xFFFFFF, count = 0;
        for (int y = 0; y < image.getHeight(); y++)
            for (int x = 0; x < image.getWidth(); x++)
                if (Pixels.rgb(image, x, y) == target) count++;
        return count;
    }

    @Test
    void bandIsShadedBetweenItsBoundsInATintOfItsCurvesColour() {
        int n = 50;
        double[] x = new double[n], mid = new double[n], low = new double[n], high = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = 10 * i;
            mid[i] = 3 - i / 25.0;
            low[i] = mid[i] - 0.6;
            high[i] = mid[i] + 0.6;
        }
        LinePlot plot = Plots.lines("band").band("ref", x, low, high).series("ref mean", x, mid);
        BufferedImage image = Pixels.decode(plot.toPng(900));
        assertEquals(1, plot.bandCount());
        assertEquals(1, plot.seriesCount());
        var tint = Style.palette(0);
        int tinted = 0;
        for (int py = 0; py < image.getHeight(); py++) {
            for (int px = 0; px < image.getWidth(); px++) {
                int rgb = Pixels.rgb(image, px, py);
                int r = (rgb >> 16) & 0xFF, g = (rgb >> 8) & 0xFF, b = rgb & 0xFF;
                // 22% of the curve's colour over a white background
                if (Math.abs(r - (255 - 0.22 * (255 - tint.getRed()))) < 6
                        && Math.abs(g - (255 - 0.22 * (255 - tint.getGreen()))) < 6
                        && Math.abs(b - (255 - 0.22 * (255 - tint.getBlue()))) < 6) {
                    tinted++;
                }
            }
        }
        assertTrue(tinted > 5000, "the band covers a large tinted area, found " + tinted + " pixels");
        assertTrue(countColour(image, tint.getRGB()) > 200, "the curve is drawn over the band in full colour");
    }

    @Test
    void badBandsAreRejectedWithTheirNameAndValues() {
        double[] x = {0, 1, 2};
        var e = assertThrows(IllegalArgumentException.class,
                () -> Plots.lines("b").band("ref", x, new double[] {1, 3, 1}, new double[] {2, 2, 2}));
        assertTrue(e.getMessage().contains("ref") && e.getMessage().contains("low[1] = 3.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Plots.lines("b").band("ref", x, new double[] {1, 1}, new double[] {2, 2, 2}));
        assertTrue(e.getMessage().contains("x has 3 values, low 2, high 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Plots.lines("b").series("ref", x, x).band("ref", x, x, x));
        assertTrue(e.getMessage().contains("duplicate name \"ref\""), e.getMessage());
    }

    @Test
    void logScaleRendersPositiveDataAndRejectsNonPositiveWithAClearMessage() {
        double[] norms = {10, 3, 1, 0.3, 0.1, 0.05};
        Pixels.assertRendered(Plots.lines("grad norm").series("global", norms).logY().toPng(600), 600);
        var e = assertThrows(IllegalArgumentException.class,
                () -> Plots.lines("grad norm").series("global", new double[] {1, 0, 2}).logY().toPng(600));
        assertTrue(e.getMessage().contains("global") && e.getMessage().contains("y[1] = 0.0"), e.getMessage());
    }

    @Test
    void divergedLossWithNaNAndInfinityStillRenders() {
        double[] y = decay(50, 3);
        y[30] = Double.NaN;
        y[40] = Double.POSITIVE_INFINITY;
        Pixels.assertRendered(Plots.lines("diverged").series("train", y).smoothing(0.5).toPng(500), 500);
        Pixels.assertRendered(Plots.lines("empty").series("train", new double[] {Double.NaN}).toPng(500), 500);
    }

    @Test
    void badInputIsRejectedWithNamesAndSizes() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> Plots.lines("x").series("val", new double[] {1, 2, 3}, new double[] {1, 2}));
        assertTrue(e.getMessage().contains("\"val\"") && e.getMessage().contains("3") && e.getMessage().contains("2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Plots.lines("x").series("a", new double[] {1}).series("a", new double[] {2}));
        assertThrows(IllegalArgumentException.class, () -> Plots.lines("x").smoothing(1));
        assertThrows(IllegalArgumentException.class, () -> Plots.lines("x").series("a", new double[] {1}).toPng(0));
    }
}
