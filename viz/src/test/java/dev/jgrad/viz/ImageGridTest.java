package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

class ImageGridTest {

    /** n solid-colour RGB images, image i coloured (i/n, 1 - i/n, 0.5). */
    private static Tensor solidColours(int n, int h, int w) {
        Tensor t = Tensor.zeros(DType.F32, n, 3, h, w);
        for (int i = 0; i < n; i++) {
            t.select(0, i).select(0, 0).fill(i / (double) n);
            t.select(0, i).select(0, 1).fill(1 - i / (double) n);
            t.select(0, i).select(0, 2).fill(0.5);
        }
        return t;
    }

    private static int expectedRgb(int i, int n) {
        int r = (int) Math.round(255 * (double) (float) (i / (double) n));
        int g = (int) Math.round(255 * (double) (float) (1 - i / (double) n));
        int b = (int) Math.round(255 * 0.5);
        return (r << 16) | (g << 8) | b;
    }

    @Test
    void gridHasRequestedWidthRowsColumnsAndEachImageInItsCell() {
        int n = 6, cols = 4;
        ImageGrid grid = Plots.images(solidColours(n, 8, 12), cols);
        ImageGrid.Layout layout = grid.layout(900);
        assertEquals(2, layout.rows());
        assertEquals(4, layout.cols());
        assertEquals(Math.round(layout.cellWidth() * 8 / 12.0), layout.cellHeight(), 1, "cells keep the images' aspect");
        BufferedImage image = Pixels.decode(grid.toPng(900));
        assertEquals(900, image.getWidth());
        assertEquals(layout.height(), image.getHeight());
        assertTrue(layout.cell(cols - 1).getMaxX() <= 900);
        for (int i = 0; i < 8; i++) {
            Rectangle c = layout.cell(i);
            int centre = Pixels.rgb(image, (int) c.getCenterX(), (int) c.getCenterY());
            if (i < n) assertEquals(Integer.toHexString(expectedRgb(i, n)), Integer.toHexString(centre), "image " + i);
            else assertEquals(0xFFFFFF, centre, "cell " + i + " has no image and stays white");
        }
    }

    @Test
    void captionsAddABandUnderEachRow() {
        Tensor batch = solidColours(3, 10, 10);
        ImageGrid plain = Plots.images(batch, 3);
        ImageGrid captioned = Plots.images(batch, 3).captions("zero", "one", "two");
        assertTrue(captioned.layout(600).height() > plain.layout(600).height());
        BufferedImage image = Pixels.assertRendered(captioned.toPng(600), 600);
        Rectangle cell = captioned.layout(600).cell(0);
        int band = captioned.layout(600).captionHeight();
        int dark = 0;
        for (int y = cell.y + cell.height; y < cell.y + cell.height + band; y++)
            for (int x = cell.x; x < cell.x + cell.width; x++)
                if (Pixels.grey(image.getRGB(x, y)) < 128) dark++;
        assertTrue(dark > 10, "caption text missing under the first image");
        assertThrows(IllegalArgumentException.class, () -> Plots.images(batch, 3).captions("only one"));
    }

    @Test
    void greyImagesAndScalingModes() {
        // One [N, H, W] grey image with values in [-1, 1]: AUTO min-max normalises, CLAMP cuts at 0 and 1.
        Tensor grey = Tensor.zeros(DType.F64, 1, 2, 2);
        grey.set(-1, 0, 0, 0).set(1, 0, 0, 1).set(0, 0, 1, 0).set(0.5, 0, 1, 1);
        ImageGrid auto = Plots.images(grey, 1);
        Rectangle c = auto.layout(200).cell(0);
        BufferedImage a = Pixels.decode(auto.toPng(200));
        int q = c.width / 4;
        assertEquals(0x000000, Pixels.rgb(a, c.x + q, c.y + q), "min -> black");
        assertEquals(0xFFFFFF, Pixels.rgb(a, c.x + 3 * q, c.y + q), "max -> white");
        assertEquals(0x808080, Pixels.rgb(a, c.x + q, c.y + 3 * q), "0 -> mid grey");
        BufferedImage clamped = Pixels.decode(Plots.images(grey, 1).scaling(ImageGrid.Scaling.CLAMP).toPng(200));
        assertEquals(0x000000, Pixels.rgb(clamped, c.x + q, c.y + 3 * q), "0 stays black when clamped");
        assertEquals(0x808080, Pixels.rgb(clamped, c.x + 3 * q, c.y + 3 * q), "0.5 -> mid grey when clamped");
    }

    @Test
    void badShapesAreNamed() {
        var channels = assertThrows(ShapeException.class, () -> Plots.images(Tensor.zeros(2, 4, 5, 5), 2));
        assertTrue(channels.getMessage().contains("[2, 4, 5, 5]"), channels.getMessage());
        var rank = assertThrows(ShapeException.class, () -> Plots.images(Tensor.zeros(5, 5), 2));
        assertTrue(rank.getMessage().contains("Plots.images") && rank.getMessage().contains("[5, 5]"), rank.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Plots.images(Tensor.zeros(2, 5, 5), 0));
    }
}
