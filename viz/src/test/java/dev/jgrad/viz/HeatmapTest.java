package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

class HeatmapTest {

    private static final String[] TOKENS = {"The", "cat", "sat", "on", "the", "mat"};
    private static final int LOW = Heatmap.colormap(0).getRGB() & 0xFFFFFF;
    private static final int HIGH = Heatmap.colormap(1).getRGB() & 0xFFFFFF;

    /** Causal attention with weight 1 on and below the diagonal, 0 above (values in {0, 1} for exact colours). */
    private static Tensor causalOnes(int heads, int t) {
        Tensor a = Tensor.zeros(DType.F32, heads, t, t);
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < t; i++)
                for (int j = 0; j <= i; j++) a.set(1, h, i, j);
        return a;
    }

    private static int count(BufferedImage image, int x0, int y0, int x1, int y1, int rgb) {
        int n = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                if (Pixels.rgb(image, x, y) == rgb) n++;
        return n;
    }

    @Test
    void onePanelPerHeadLaidOutInAGrid() {
        Heatmap map = Plots.heatmap(causalOnes(3, TOKENS.length), TOKENS).columns(2);
        assertEquals(3, map.panels());
        BufferedImage image = Pixels.assertRendered(map.toPng(900), 900);
        int w = image.getWidth(), h = image.getHeight();
        // Three panels in a 2x2 grid: the first three quadrants hold heatmap colours, the fourth stays white.
        assertTrue(count(image, 0, 0, w / 2, h / 2, HIGH) > 500, "panel 0 missing");
        assertTrue(count(image, w / 2, 0, w, h / 2, HIGH) > 500, "panel 1 missing");
        assertTrue(count(image, 0, h / 2, w / 2, h, HIGH) > 500, "panel 2 missing");
        assertEquals(0, count(image, w / 2, h / 2, w, h, HIGH) + count(image, w / 2, h / 2, w, h, LOW), "no panel 3");
    }

    @Test
    void twoDimensionalInputIsOnePanelAndFirstQueryIsTheTopRow() {
        Tensor causal = causalOnes(1, TOKENS.length).select(0, 0);
        Heatmap map = Plots.heatmap(causal, TOKENS);
        assertEquals(1, map.panels());
        BufferedImage image = Pixels.assertRendered(map.toPng(700), 700);
        // Ones sit on and below the diagonal, zeros above: high-colour pixels lie lower-left of low-colour ones.
        double[] high = centroid(image, HIGH), low = centroid(image, LOW);
        assertTrue(high[0] < low[0], "high weights should be left of low weights: " + high[0] + " vs " + low[0]);
        assertTrue(high[1] > low[1], "high weights should be below low weights: " + high[1] + " vs " + low[1]);
    }

    private static double[] centroid(BufferedImage image, int rgb) {
        double sx = 0, sy = 0;
        long n = 0;
        for (int y = 0; y < image.getHeight(); y++)
            for (int x = 0; x < image.getWidth(); x++)
                if (Pixels.rgb(image, x, y) == rgb) {
                    sx += x;
                    sy += y;
                    n++;
                }
        assertTrue(n > 100, "colour " + Integer.toHexString(rgb) + " barely present");
        return new double[] {sx / n, sy / n};
    }

    @Test
    void nonContiguousInputMatchesItsContiguousCopy() {
        Tensor a = Tensor.rand(new dev.jgrad.tensor.Rng(3), 2, 5, 5);
        Tensor transposed = a.transpose(1, 2);
        String[] t = {"a", "b", "c", "d", "e"};
        assertTrue(java.util.Arrays.equals(Plots.heatmap(transposed, t).toPng(500), Plots.heatmap(transposed.contiguous(), t).toPng(500)));
    }

    @Test
    void badShapesAndTokenCountsAreNamed() {
        var rank = assertThrows(ShapeException.class, () -> Plots.heatmap(Tensor.zeros(2, 2, 2, 2), new String[] {"a", "b"}));
        assertTrue(rank.getMessage().contains("Plots.heatmap") && rank.getMessage().contains("[2, 2, 2, 2]"), rank.getMessage());
        var tokens = assertThrows(ShapeException.class, () -> Plots.heatmap(Tensor.zeros(4, 3, 3), new String[] {"a", "b"}));
        assertTrue(tokens.getMessage().contains("[4, 3, 3]") && tokens.getMessage().contains("got 2"), tokens.getMessage());
    }
}
