package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;

/** Decoding and simple statistics of rendered PNGs. */
final class Pixels {
    private Pixels() {}

    static BufferedImage decode(byte[] png) {
        try {
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
            assertNotNull(image, "bytes did not decode as an image");
            return image;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Variance of grey levels over the whole image: 0 for a blank canvas. */
    static double greyVariance(BufferedImage image) {
        double sum = 0, sumSq = 0;
        long n = (long) image.getWidth() * image.getHeight();
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                double g = grey(image.getRGB(x, y));
                sum += g;
                sumSq += g * g;
            }
        }
        double mean = sum / n;
        return sumSq / n - mean * mean;
    }

    static double grey(int rgb) {
        return (((rgb >> 16) & 0xFF) + ((rgb >> 8) & 0xFF) + (rgb & 0xFF)) / 3.0;
    }

    /** Decodes, checks the width and that the picture is not blank, and returns it. */
    static BufferedImage assertRendered(byte[] png, int width) {
        BufferedImage image = decode(png);
        assertEquals(width, image.getWidth(), "PNG width");
        assertTrue(image.getHeight() > 0, "PNG height");
        assertTrue(greyVariance(image) > 50, "image looks blank: grey variance " + greyVariance(image));
        return image;
    }

    static int rgb(BufferedImage image, int x, int y) {
        return image.getRGB(x, y) & 0xFFFFFF;
    }
}
