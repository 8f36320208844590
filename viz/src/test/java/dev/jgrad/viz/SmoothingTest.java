package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SmoothingTest {

    @Test
    void debiasedEmaMatchesHandComputedValues() {
        // weight 0.5 on [1, 2, 3]: point i is the mean of the values so far weighted 0.5^age:
        // 1; (0.5*1 + 1*2) / 1.5 = 5/3; (0.25*1 + 0.5*2 + 1*3) / 1.75 = 17/7.
        assertArrayEquals(new double[] {1, 5.0 / 3, 17.0 / 7}, Smoothing.ema(new double[] {1, 2, 3}, 0.5), 1e-12);
    }

    @Test
    void emaIsTheAgeWeightedMeanOfThePast() {
        var rng = new Random(7);
        double[] y = new double[200];
        for (int i = 0; i < y.length; i++) y[i] = rng.nextGaussian() * 3 + 10;
        for (double w : new double[] {0.1, 0.6, 0.9, 0.99}) {
            double[] s = Smoothing.ema(y, w);
            for (int i = 0; i < y.length; i++) {
                double num = 0, den = 0;
                for (int j = 0; j <= i; j++) {
                    double weight = Math.pow(w, i - j);
                    num += weight * y[j];
                    den += weight;
                }
                assertEquals(num / den, s[i], 1e-9 * Math.abs(num / den), "w=" + w + " i=" + i);
            }
        }
    }

    @Test
    void constantSeriesStaysConstantAndZeroWeightIsIdentity() {
        double[] c = {4, 4, 4, 4, 4};
        assertArrayEquals(c, Smoothing.ema(c, 0.95), 1e-12);
        double[] y = {3, -1, 2.5, 7};
        assertArrayEquals(y, Smoothing.ema(y, 0), 0);
    }

    @Test
    void nonFiniteValuesPassThroughAndAreSkipped() {
        double[] s = Smoothing.ema(new double[] {1, Double.NaN, 3}, 0.5);
        assertEquals(1, s[0], 1e-12);
        assertTrue(Double.isNaN(s[1]));
        assertEquals((0.5 * 1 + 3) / 1.5, s[2], 1e-12); // the NaN does not age the first value
    }

    @Test
    void rejectsWeightsOutsideUnitInterval() {
        var e = assertThrows(IllegalArgumentException.class, () -> Smoothing.ema(new double[] {1}, 1.0));
        assertTrue(e.getMessage().contains("Smoothing.ema") && e.getMessage().contains("1.0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Smoothing.ema(new double[] {1}, -0.1));
        assertThrows(IllegalArgumentException.class, () -> Smoothing.ema(new double[] {1}, Double.NaN));
    }
}
