package dev.jgrad.models.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
    private final WarmupCosineSchedule s = new WarmupCosineSchedule(1e-3, 100, 1100, 1e-4);

    @Test
    void warmupIsLinearFromTheFirstStep() {
        assertEquals(1e-3 * 1 / 101, s.lr(0), 1e-18);              // step 0 already moves
        assertEquals(1e-3 * 50 / 101, s.lr(49), 1e-18);
        assertEquals(1e-3 * 100 / 101, s.lr(99), 1e-18);           // just below the peak
        for (int it = 1; it < 100; it++) {
            assertTrue(s.lr(it) > s.lr(it - 1), "warmup rises at " + it);
        }
    }

    @Test
    void cosineGoesFromPeakThroughMidpointToFloor() {
        assertEquals(1e-3, s.lr(100), 1e-18);                      // warmup end: the peak
        assertEquals((1e-3 + 1e-4) / 2, s.lr(600), 1e-18);         // halfway: cos(pi/2) = 0
        // A quarter of the way: floor + (peak - floor) * (1 + cos(pi/4)) / 2.
        assertEquals(1e-4 + 9e-4 * (1 + Math.sqrt(0.5)) / 2, s.lr(350), 1e-17);
        assertEquals(1e-4, s.lr(1100), 1e-18);                     // end: the floor
        assertEquals(1e-4, s.lr(1101));                           // past the end: stays there
        assertEquals(1e-4, s.lr(1_000_000));
        for (int it = 101; it <= 1100; it++) {
            assertTrue(s.lr(it) <= s.lr(it - 1), "decay never rises at " + it);
        }
    }

    @Test
    void degenerateSchedules() {
        var noWarmup = new WarmupCosineSchedule(1.0, 0, 10, 0.0);
        assertEquals(1.0, noWarmup.lr(0));
        assertEquals(0.0, noWarmup.lr(10));
        var noDecay = new WarmupCosineSchedule(1.0, 4, 4, 0.1);
        assertEquals(0.8, noDecay.lr(3), 1e-15);
        assertEquals(0.1, noDecay.lr(4));
        assertEquals(0.25, new ConstantSchedule(0.25).lr(123));
    }

    @Test
    void applyToSetsTheOptimizersRate() {
        Sgd opt = new Sgd(Map.of("p", Variable.param(Tensor.zeros(2))), Sgd.settings(0.5));
        s.applyTo(opt, 600);
        assertEquals(s.lr(600), opt.learningRate());
    }

    @Test
    void invalidSchedulesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new WarmupCosineSchedule(1e-3, 10, 5, 0));
        assertThrows(IllegalArgumentException.class, () -> new WarmupCosineSchedule(1e-3, -1, 5, 0));
        var e = assertThrows(IllegalArgumentException.class, () -> new WarmupCosineSchedule(1e-3, 0, 5, 1e-2));
        assertTrue(e.getMessage().contains("minLr 0.01"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ConstantSchedule(-1));
        assertThrows(IllegalArgumentException.class, () -> s.lr(-1));
    }
}
