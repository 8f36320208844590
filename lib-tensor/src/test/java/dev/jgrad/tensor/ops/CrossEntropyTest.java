package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CrossEntropyTest {
    private static final int IGNORE = -100;

    private static int[] ints(Tensor t) {
        double[] d = t.toDoubleArray();
        int[] out = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (int) d[i];
        }
        return out;
    }

    private static int[] randomTargets(Rng rng, int n, int classes, double ignoredFraction) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rng.nextDouble() < ignoredFraction ? IGNORE : (int) (rng.nextDouble() * classes);
        }
        return t;
    }

    @Test
    void matchesTorchWithIgnoreIndexAndLabelSmoothing() {
        int checked = 0;
        for (Map.Entry<String, Map<String, Tensor>> e : Fixtures.load("transformer").entrySet()) {
            if (!e.getKey().startsWith("cross_entropy")) {
                continue;
            }
            Map<String, Tensor> c = e.getValue();
            int[] targets = ints(c.get("targets"));
            int ignore = (int) c.get("ignore_index").item();
            double smoothing = c.get("smoothing").item();
            int expectedCount = 0;
            for (int t : targets) {
                expectedCount += t == ignore ? 0 : 1;
            }
            for (DType dtype : DType.values()) {
                Tensor logits = c.get("logits").to(dtype);
                var fwd = CrossEntropy.forward(logits, targets, ignore, smoothing);
                Tensor dlogits = CrossEntropy.backward(c.get("g").to(dtype), logits, targets, fwd.logSumExp(), ignore,
                        smoothing, fwd.counted());
                double rtol = dtype == DType.F64 ? 1e-6 : 1e-5;
                double atol = dtype == DType.F64 ? 1e-12 : 1e-5;
                String what = e.getKey() + " " + dtype;
                assertEquals(expectedCount, fwd.counted(), what + " counted");
                assertEquals(0, fwd.loss().rank(), what + " loss is a scalar");
                assertNear(c.get("loss"), fwd.loss().to(DType.F64), rtol, atol, what + " loss");
                assertNear(c.get("lse"), fwd.logSumExp().to(DType.F64), rtol, atol, what + " logSumExp");
                assertNear(c.get("dlogits"), dlogits.to(DType.F64), rtol, atol, what + " dlogits");
            }
            checked++;
        }
        assertEquals(4, checked, "cross-entropy fixture cases");
    }

    @Test
    void matchesLogSoftmaxThenPickInFloat64() {
        // An independent route: Softmax.logSoftmax, then the formula picked element by element.
        Rng rng = new Rng(31);
        int n = 9;
        int c = 13;
        double smoothing = 0.2;
        Tensor logits = SoftmaxTest.scaled(Tensor.randn(DType.F64, rng, n, c), 4);
        int[] targets = randomTargets(rng, n, c, 0.3);
        Tensor logp = Softmax.logSoftmax(logits, -1);
        double total = 0;
        int counted = 0;
        for (int r = 0; r < n; r++) {
            if (targets[r] == IGNORE) {
                continue;
            }
            double meanLogp = 0;
            for (int j = 0; j < c; j++) {
                meanLogp += logp.get(r, j) / c;
            }
            total += -(1 - smoothing) * logp.get(r, targets[r]) - smoothing * meanLogp;
            counted++;
        }
        var fwd = CrossEntropy.forward(logits, targets, IGNORE, smoothing);
        assertEquals(counted, fwd.counted());
        assertEquals(total / counted, fwd.loss().item(), 1e-12);
    }

    @Test
    void float32MatchesFloat64ForOddClassCounts() {
        Rng rng = new Rng(32);
        for (int c : new int[] {1, 3, 15, 17, 33, 127, 1025}) {
            Tensor logits = SoftmaxTest.scaled(Tensor.randn(DType.F64, rng, 7, c), 5);
            int[] targets = randomTargets(rng, 7, c, 0.25);
            targets[0] = c - 1;
            for (double smoothing : new double[] {0, 0.1}) {
                var f64 = CrossEntropy.forward(logits, targets, IGNORE, smoothing);
                var f32 = CrossEntropy.forward(logits.to(DType.F32), targets, IGNORE, smoothing);
                String what = "C=" + c + " smoothing=" + smoothing;
                // A float log-sum-exp over C terms: a few 1e-7 relative, the loss a difference of O(10) numbers.
                assertNear(f64.loss(), f32.loss().to(DType.F64), 1e-5, 1e-5, what + " loss");
                assertNear(f64.logSumExp(), f32.logSumExp().to(DType.F64), 1e-6, 1e-5, what + " logSumExp");
                Tensor g = Tensor.scalar(DType.F64, 0.8);
                Tensor d64 = CrossEntropy.backward(g, logits, targets, f64.logSumExp(), IGNORE, smoothing, f64.counted());
                Tensor d32 = CrossEntropy.backward(g.to(DType.F32), logits.to(DType.F32), targets, f32.logSumExp(), IGNORE,
                        smoothing, f32.counted());
                assertNear(d64, d32.to(DType.F64), 1e-4, 1e-6, what + " dlogits");
            }
        }
    }

    @Test
    void ignoredRowsGetZeroGradientAndAllIgnoredGivesNaNLikeTorch() {
        Tensor logits = Tensor.randn(DType.F64, new Rng(33), 4, 5);
        int[] targets = {2, IGNORE, 0, IGNORE};
        var fwd = CrossEntropy.forward(logits, targets, IGNORE, 0.1);
        Tensor d = CrossEntropy.backward(Tensor.scalar(DType.F64, 1), logits, targets, fwd.logSumExp(), IGNORE, 0.1, 2);
        for (int r : new int[] {1, 3}) {
            for (int j = 0; j < 5; j++) {
                assertEquals(0.0, d.get(r, j), "ignored row " + r);
            }
        }
        // Each counted row's gradient sums to 0: softmax and the smoothed one-hot both sum to 1.
        for (int r : new int[] {0, 2}) {
            double sum = 0;
            for (int j = 0; j < 5; j++) {
                sum += d.get(r, j);
            }
            assertEquals(0.0, sum, 1e-15);
        }
        int[] none = {IGNORE, IGNORE, IGNORE, IGNORE};
        var empty = CrossEntropy.forward(logits, none, IGNORE, 0);
        assertEquals(0, empty.counted());
        assertTrue(Double.isNaN(empty.loss().item()));
        Tensor dz = CrossEntropy.backward(Tensor.scalar(DType.F64, 1), logits, none, empty.logSumExp(), IGNORE, 0, 0);
        assertArrayEquals(new double[20], dz.toDoubleArray());
    }

    @Test
    void nonContiguousLogitsGiveTheSameResultAsTheirContiguousCopy() {
        Rng rng = new Rng(34);
        for (DType dtype : DType.values()) {
            Tensor logits = Tensor.randn(dtype, rng, 37, 6).t();
            int[] targets = randomTargets(rng, 6, 37, 0.2);
            var strided = CrossEntropy.forward(logits, targets, IGNORE, 0.05);
            var copied = CrossEntropy.forward(logits.copy(), targets, IGNORE, 0.05);
            assertEquals(copied.loss().item(), strided.loss().item(), 0);
            // The saved log-sum-exp as a contiguous view at an offset into a larger storage.
            Tensor lseView = Tensor.zeros(dtype, 2, 6).select(0, 1).copyFrom(strided.logSumExp());
            assertTrue(lseView.isContiguous() && lseView.offset() > 0);
            Tensor g0 = Tensor.scalar(dtype, 1);
            assertArrayEquals(
                    CrossEntropy.backward(g0, logits, targets, strided.logSumExp(), IGNORE, 0.05, strided.counted()).toDoubleArray(),
                    CrossEntropy.backward(g0, logits, targets, lseView, IGNORE, 0.05, strided.counted()).toDoubleArray(), 0);
            Tensor g = Tensor.scalar(dtype, 1);
            assertArrayEquals(
                    CrossEntropy.backward(g, logits.copy(), targets, copied.logSumExp(), IGNORE, 0.05, copied.counted()).toDoubleArray(),
                    CrossEntropy.backward(g, logits, targets, strided.logSumExp(), IGNORE, 0.05, strided.counted()).toDoubleArray(), 0);
        }
    }

    @Test
    void resultsAreBitIdenticalForOneAndTwoThreads() {
        Rng rng = new Rng(35);
        Tensor logits = Tensor.randn(rng, 512, 257);
        int[] targets = randomTargets(rng, 512, 257, 0.1);
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            var one = CrossEntropy.forward(logits, targets, IGNORE, 0.1);
            double[] dOne = CrossEntropy.backward(Tensor.scalar(1f), logits, targets, one.logSumExp(), IGNORE, 0.1, one.counted())
                    .toDoubleArray();
            Parallel.setThreads(2);
            var two = CrossEntropy.forward(logits, targets, IGNORE, 0.1);
            double[] dTwo = CrossEntropy.backward(Tensor.scalar(1f), logits, targets, two.logSumExp(), IGNORE, 0.1, two.counted())
                    .toDoubleArray();
            assertEquals(one.loss().item(), two.loss().item(), 0);
            assertArrayEquals(dOne, dTwo, 0);
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void badTargetsAndShapesNameTheOpPositionValueAndClassCount() {
        Tensor logits = Tensor.zeros(3, 4);
        var range = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.forward(logits, new int[] {1, 4, 0}, IGNORE, 0));
        assertTrue(range.getMessage().contains("CrossEntropy.forward: target 4 at position 1 is out of range for 4 classes"),
                range.getMessage());
        var negative = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.forward(logits, new int[] {1, 2, -1}, IGNORE, 0));
        assertTrue(negative.getMessage().contains("target -1 at position 2"), negative.getMessage());
        var count = assertThrows(ShapeException.class, () -> CrossEntropy.forward(logits, new int[] {1, 2}, IGNORE, 0));
        assertTrue(count.getMessage().contains("2 targets for logits [3, 4]"), count.getMessage());
        var rank = assertThrows(ShapeException.class, () -> CrossEntropy.forward(Tensor.zeros(2, 3, 4), new int[] {0, 1}, IGNORE, 0));
        assertTrue(rank.getMessage().contains("logits must be [N, C]"), rank.getMessage());
        var smoothing = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.forward(logits, new int[] {0, 1, 2}, IGNORE, 1.0));
        assertTrue(smoothing.getMessage().contains("labelSmoothing must be in [0, 1), got 1.0"), smoothing.getMessage());
        var lse = assertThrows(ShapeException.class, () -> CrossEntropy.backward(Tensor.scalar(1f), logits,
                new int[] {0, 1, 2}, Tensor.zeros(4), IGNORE, 0, 3));
        assertTrue(lse.getMessage().contains("logSumExp must have shape [3]"), lse.getMessage());
    }
}
