package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DownsampleTest {

    @Test
    void keepsEveryBucketsExtremesInOrderAndAtMostTwoPointsPerBucket() {
        int n = 10_007, buckets = 100;
        var rng = new Random(11);
        double[] x = new double[n], y = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = i;
            y[i] = Math.exp(-i / 3000.0) + 0.1 * rng.nextGaussian();
        }
        y[4321] = 50; // a loss spike must survive thinning
        double[][] d = Downsample.minMax(x, y, buckets);
        assertTrue(d[0].length <= 2 * buckets && d[0].length > buckets, "points: " + d[0].length);
        for (int i = 1; i < d[0].length; i++) assertTrue(d[0][i] > d[0][i - 1], "x increasing at " + i);
        assertEquals(50, Arrays.stream(d[1]).max().orElseThrow());
        assertEquals(Arrays.stream(y).min().orElseThrow(), Arrays.stream(d[1]).min().orElseThrow());
        // Each kept point is an original point.
        for (int i = 0; i < d[0].length; i++) assertEquals(y[(int) d[0][i]], d[1][i]);
        // Every bucket's own max is kept: check bucket 0 by hand.
        int end = n / buckets;
        double bucketMax = Arrays.stream(y, 0, end).max().orElseThrow();
        assertTrue(Arrays.stream(d[1]).anyMatch(v -> v == bucketMax));
    }

    @Test
    void shortCurvesAreUntouched() {
        double[] x = {0, 1, 2}, y = {3, 1, 2};
        assertSame(y, Downsample.minMax(x, y, 2)[1]);
    }
}
