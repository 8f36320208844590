package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

class RopeTest {

    @Test
    void matchesHuggingFaceRotateHalfForwardAndBackward() {
        int checked = 0;
        for (Map.Entry<String, Map<String, Tensor>> e : Fixtures.load("transformer").entrySet()) {
            if (!e.getKey().startsWith("rope")) {
                continue;
            }
            Map<String, Tensor> c = e.getValue();
            int startPos = (int) c.get("start_pos").item();
            double theta = c.get("theta").item();
            for (DType dtype : DType.values()) {
                double rtol = dtype == DType.F64 ? 1e-6 : 1e-5;
                double atol = dtype == DType.F64 ? 1e-12 : 1e-5;
                String what = e.getKey() + " " + dtype;
                assertNear(c.get("out"), Rope.forward(c.get("x").to(dtype), startPos, theta).to(DType.F64), rtol, atol,
                        what + " out");
                assertNear(c.get("dx"), Rope.backward(c.get("g").to(dtype), startPos, theta).to(DType.F64), rtol, atol,
                        what + " dx");
            }
            checked++;
        }
        assertEquals(3, checked, "rope fixture cases");
    }

    @Test
    void float32MatchesFloat64ForOddHalfWidths() {
        Rng rng = new Rng(21);
        // D/2 = 1, 3, 17, 33, 65: all-scalar rows, vector tails and several whole vectors.
        for (int d : new int[] {2, 6, 34, 66, 130}) {
            for (int startPos : new int[] {0, 1000}) {
                Tensor x = Tensor.randn(DType.F64, rng, 2, 3, 5, d);
                // Angles up to ~1000 rad: the float32 sin/cos tables carry ~1e-7 relative error of 1.
                assertNear(Rope.forward(x, startPos, 10000), Rope.forward(x.to(DType.F32), startPos, 10000).to(DType.F64),
                        1e-5, 1e-5, "d=" + d + " start=" + startPos + " forward");
                assertNear(Rope.backward(x, startPos, 10000), Rope.backward(x.to(DType.F32), startPos, 10000).to(DType.F64),
                        1e-5, 1e-5, "d=" + d + " start=" + startPos + " backward");
            }
        }
    }

    @Test
    void backwardIsTheAdjointAndTheInverseOfForward() {
        Rng rng = new Rng(22);
        Tensor x = Tensor.randn(DType.F64, rng, 2, 2, 7, 10);
        Tensor g = Tensor.randn(DType.F64, rng, 2, 2, 7, 10);
        // <forward(x), g> = <x, backward(g)> says backward is the transpose of the linear map forward...
        double lhs = Reduce.sum(Binary.mul(Rope.forward(x, 3, 10000), g), false).item();
        double rhs = Reduce.sum(Binary.mul(x, Rope.backward(g, 3, 10000)), false).item();
        assertEquals(lhs, rhs, 1e-12 * Math.abs(lhs) + 1e-12);
        // ... and, a rotation being orthogonal, also its inverse.
        assertNear(x, Rope.backward(Rope.forward(x, 3, 10000), 3, 10000), 1e-12, 1e-12, "backward(forward(x))");
        assertFalse(Rope.forward(x, 3, 10000).allClose(x, 1e-3, 1e-3), "the rotation must actually move x");
    }

    @Test
    void positionsContinueFromStartPosAsInAKvCache() {
        // Rotating the last 4 of 9 positions alone, starting at 5, equals the last 4 rows of rotating all 9.
        Rng rng = new Rng(23);
        for (DType dtype : DType.values()) {
            Tensor x = Tensor.randn(dtype, rng, 1, 2, 9, 12);
            Tensor all = Rope.forward(x, 0, 10000);
            Tensor tail = Rope.forward(x.narrow(2, 5, 4), 5, 10000);
            assertNear(all.narrow(2, 5, 4).to(DType.F64), tail.to(DType.F64), 0, 0, dtype + "");
        }
    }

    @Test
    void nonContiguousInputGivesTheSameResultAsItsContiguousCopy() {
        Rng rng = new Rng(24);
        for (DType dtype : DType.values()) {
            // [B, T, H, D] as a projection writes it, viewed as [B, H, T, D].
            Tensor x = Tensor.randn(dtype, rng, 2, 6, 3, 36).permute(0, 2, 1, 3);
            assertFalse(x.isContiguous());
            assertArrayEquals(Rope.forward(x.copy(), 2, 10000).toDoubleArray(), Rope.forward(x, 2, 10000).toDoubleArray(), 0);
            assertArrayEquals(Rope.backward(x.copy(), 2, 10000).toDoubleArray(), Rope.backward(x, 2, 10000).toDoubleArray(), 0);
        }
    }

    @Test
    void resultsAreBitIdenticalForOneAndTwoThreads() {
        Tensor x = Tensor.randn(new Rng(25), 4, 8, 64, 64);
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            double[] one = Rope.forward(x, 0, 10000).toDoubleArray();
            Parallel.setThreads(2);
            assertArrayEquals(one, Rope.forward(x, 0, 10000).toDoubleArray(), 0);
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void badArgumentsNameTheOpAndTheValue() {
        var odd = assertThrows(ShapeException.class, () -> Rope.forward(Tensor.zeros(1, 2, 3, 7), 0, 10000));
        assertTrue(odd.getMessage().contains("Rope.forward") && odd.getMessage().contains("D = 7"), odd.getMessage());
        var rank = assertThrows(ShapeException.class, () -> Rope.backward(Tensor.zeros(8), 0, 10000));
        assertTrue(rank.getMessage().contains("Rope.backward") && rank.getMessage().contains("[8]"), rank.getMessage());
        var start = assertThrows(IllegalArgumentException.class, () -> Rope.forward(Tensor.zeros(1, 2, 3, 4), -1, 10000));
        assertTrue(start.getMessage().contains("startPos must be >= 0, got -1"), start.getMessage());
        var theta = assertThrows(IllegalArgumentException.class, () -> Rope.forward(Tensor.zeros(1, 2, 3, 4), 0, 0));
        assertTrue(theta.getMessage().contains("theta"), theta.getMessage());
    }
}
