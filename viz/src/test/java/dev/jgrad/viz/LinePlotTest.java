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
