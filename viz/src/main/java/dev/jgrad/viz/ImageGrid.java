package dev.jgrad.viz;

import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/**
 * A batch of images laid out in a grid, drawn directly with Java2D. Small images (MNIST, CIFAR, ViT patches) are
 * upscaled with nearest-neighbour sampling so pixels stay crisp.
 * <pre>{@code
 * Plots.images(batch, 8).captions(labels).show();   // batch: [N, C, H, W] with C = 1 or 3, or [N, H, W]
 * }</pre>
 */
public final class ImageGrid implements Figure {

    /** How tensor values become intensities in [0, 1]. */
    public enum Scaling {
        /** Values already in [0, 1] are used as they are; otherwise each image is min-max normalised. */
        AUTO,
        /** Each image min-max normalised to [0, 1] on its own (all channels together). */
        PER_IMAGE,
        /** Values used as they are, clamped to [0, 1]. */
        CLAMP
    }

    /** Pixel geometry of a rendered grid: cell i is at {@link #cell(int)}. */
    public record Layout(int width, int height, int rows, int cols, int cellWidth, int cellHeight, int gap, int captionHeight) {
        public Rectangle cell(int i) {
            int r = i / cols, c = i % cols;
            return new Rectangle(gap + c * (cellWidth + gap), gap + r * (cellHeight + captionHeight + gap), cellWidth, cellHeight);
        }
    }

    private static final String OP = "Plots.images";
    private static final Color BACKGROUND = Color.WHITE;

    private final float[] pixels; // [n][channels][height][width], contiguous
    private final int count, channels, height, width;
    private int cols;
    private String[] captions;
    private Scaling scaling = Scaling.AUTO;
    private String title = "images";

    ImageGrid(Tensor batch, int cols) {
        int[] shape = batch.shape();
        Tensor nchw = switch (shape.length) {
            case 3 -> batch.unsqueeze(1);
            case 4 -> batch;
            default -> throw new ShapeException(OP + ": expected [N, C, H, W] or [N, H, W], got " + Shapes.str(shape));
        };
        this.count = nchw.size(0);
        this.channels = nchw.size(1);
        this.height = nchw.size(2);
        this.width = nchw.size(3);
        if (channels != 1 && channels != 3) {
            throw new ShapeException(OP + ": expected 1 (grey) or 3 (RGB) channels, got shape " + Shapes.str(shape));
        }
        if (count == 0 || height == 0 || width == 0) throw new ShapeException(OP + ": empty image batch " + Shapes.str(shape));
        Style.requirePositive(cols, "cols", OP);
        this.pixels = nchw.contiguous().toFloatArray();
        this.cols = Math.min(cols, count);
    }

    /** One caption per image, drawn under it. */
    public ImageGrid captions(String... captions) {
        if (captions.length != count) {
            throw new IllegalArgumentException(OP + ": " + count + " images but " + captions.length + " captions");
        }
        this.captions = captions.clone();
        return this;
    }

    public ImageGrid scaling(Scaling scaling) {
        this.scaling = scaling;
        return this;
    }

    public ImageGrid title(String title) {
        this.title = title;
        return this;
    }

    @Override
    public String title() {
        return title;
    }

    public Layout layout(int widthPx) {
        Style.requirePositive(widthPx, "widthPx", "ImageGrid.layout");
        int rows = (count + cols - 1) / cols;
        int gap = Math.max(2, widthPx / 200);
        int cellWidth = (widthPx - gap * (cols + 1)) / cols;
        if (cellWidth < 1) {
            throw new IllegalArgumentException("ImageGrid.layout: width " + widthPx + " px is too narrow for " + cols + " columns");
        }
        int cellHeight = Math.max(1, (int) Math.round(cellWidth * (double) height / width));
        int captionHeight = captions == null ? 0 : captionFontSize(cellWidth) * 3 / 2 + 2;
        int totalHeight = gap + rows * (cellHeight + captionHeight + gap);
        return new Layout(widthPx, totalHeight, rows, cols, cellWidth, cellHeight, gap, captionHeight);
    }

    @Override
    public BufferedImage render(int widthPx) {
        Layout layout = layout(widthPx);
        BufferedImage out = Style.canvas(layout.width(), layout.height(), "ImageGrid.render");
        Graphics2D g = Style.graphics(out);
        g.setColor(BACKGROUND);
        g.fillRect(0, 0, layout.width(), layout.height());
        boolean upscale = layout.cellWidth() >= width;
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, upscale
                ? RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR
                : RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        Font font = new Font(Style.FONT_FAMILY, Font.PLAIN, captionFontSize(layout.cellWidth()));
        g.setFont(font);
        FontMetrics metrics = g.getFontMetrics();
        for (int i = 0; i < count; i++) {
            Rectangle cell = layout.cell(i);
            g.drawImage(toImage(i), cell.x, cell.y, cell.width, cell.height, null);
            if (captions != null) {
                String text = fit(captions[i], metrics, cell.width);
                g.setColor(Style.TEXT);
                int x = cell.x + (cell.width - metrics.stringWidth(text)) / 2;
                g.drawString(text, x, cell.y + cell.height + metrics.getAscent() + 1);
            }
        }
        g.dispose();
        return out;
    }

    private static int captionFontSize(int cellWidth) {
        return Math.clamp(cellWidth / 8, 9, 16);
    }

    private static String fit(String text, FontMetrics metrics, int maxWidth) {
        if (metrics.stringWidth(text) <= maxWidth) return text;
        String s = text;
        while (!s.isEmpty() && metrics.stringWidth(s + "…") > maxWidth) s = s.substring(0, s.length() - 1);
        return s + "…";
    }

    private BufferedImage toImage(int index) {
        int plane = height * width;
        int base = index * channels * plane;
        double lo = 0, hi = 1;
        if (scaling != Scaling.CLAMP) {
            double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
            for (int p = base; p < base + channels * plane; p++) {
                float v = pixels[p];
                if (!Float.isFinite(v)) continue;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            boolean inUnitRange = min >= 0 && max <= 1;
            if (min <= max && (scaling == Scaling.PER_IMAGE || !inUnitRange)) {
                lo = min;
                hi = max > min ? max : min + 1;
            }
        }
        var image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = base + y * width + x;
                int r = intensity(pixels[p], lo, hi);
                int gg = channels == 3 ? intensity(pixels[p + plane], lo, hi) : r;
                int b = channels == 3 ? intensity(pixels[p + 2 * plane], lo, hi) : r;
                image.setRGB(x, y, (r << 16) | (gg << 8) | b);
            }
        }
        return image;
    }

    private static int intensity(float value, double lo, double hi) {
        if (!Float.isFinite(value)) return 0;
        double t = (value - lo) / (hi - lo);
        return (int) Math.round(255 * Math.clamp(t, 0.0, 1.0));
    }
}
