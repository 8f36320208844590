package dev.jgrad.viz;

import java.util.Arrays;

/**
 * Thins long curves before drawing: a 100k-step loss curve has far more points than a 900 px plot has columns,
 * and drawing them all makes every live redraw slow. Each bucket of consecutive points keeps its minimum and
 * maximum (in x order), so spikes survive and the drawn envelope looks the same as the full curve.
 */
final class Downsample {
    private Downsample() {}

    /** Returns {x, y} with at most {@code 2 * buckets} points; input with fewer points is returned as is. */
    static double[][] minMax(double[] x, double[] y, int buckets) {
        int n = y.length;
        if (buckets < 1) throw new IllegalArgumentException("Downsample.minMax: buckets must be positive, got " + buckets);
        if (n <= 2 * buckets) return new double[][] {x, y};
        double[] outX = new double[2 * buckets], outY = new double[2 * buckets];
        int m = 0;
        for (int b = 0; b < buckets; b++) {
            int from = (int) ((long) b * n / buckets), to = (int) ((long) (b + 1) * n / buckets);
            int lo = from, hi = from;
            for (int i = from + 1; i < to; i++) {
                if (y[i] < y[lo]) lo = i;
                if (y[i] > y[hi]) hi = i;
            }
            int first = Math.min(lo, hi), second = Math.max(lo, hi);
            outX[m] = x[first];
            outY[m++] = y[first];
            if (second != first) {
                outX[m] = x[second];
                outY[m++] = y[second];
            }
        }
        return new double[][] {Arrays.copyOf(outX, m), Arrays.copyOf(outY, m)};
    }
}
