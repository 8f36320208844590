package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgrad.tensor.ops.Attention;
import dev.jgrad.tensor.ops.LayerNorm;
import org.junit.jupiter.api.Test;

/**
 * Backward kernels that take their gradients from uninitialised storage write every element. Attention's backward
 * takes its gradients from uninitialised storage and has each (batch, kv head) task zero
 * its own slices: with NaN-poisoned recycled storage and any thread count, the gradients must equal those
 * computed outside a workspace.
 */
class UninitialisedGradientsTest {
    @Test
    void gradientsInRecycledStorageAreZeroedByTheirTasks() {
        int saved = Parallel.threads();
        try {
            for (DType dtype : DType.values()) {
                Rng rng = new Rng(8);
                // batch 2, 4 query heads sharing 2 kv heads, 19 queries, 23 keys (causal offset), head dim 24
                Tensor q = Tensor.randn(dtype, rng, 2, 4, 19, 24);
                Tensor k = Tensor.randn(dtype, rng, 2, 2, 23, 24);
                Tensor v = Tensor.randn(dtype, rng, 2, 2, 23, 24);
                Tensor g = Tensor.randn(dtype, rng, 2, 4, 19, 24);
                double scale = 1 / Math.sqrt(24);
                Parallel.setThreads(1);
                var f = Attention.forward(q, k, v, true, scale);
                var fresh = Attention.backward(g, q, k, v, f.out(), f.logSumExp(), true, scale);
                for (int threads = 1; threads <= 3; threads++) {
                    Parallel.setThreads(threads);
                    try (var scope = Workspace.open()) {
                        Attention.backward(g, q, k, v, f.out(), f.logSumExp(), true, scale);
                    }
                    Workspace.current().poisonFreeArrays();
                    try (var scope = Workspace.open()) {
                        var recycled = Attention.backward(g, q, k, v, f.out(), f.logSumExp(), true, scale);
                        String what = dtype + ", " + threads + " threads, ";
                        assertEquals(0.0, recycled.q().maxAbsDiff(fresh.q()), what + "dq");
                        assertEquals(0.0, recycled.k().maxAbsDiff(fresh.k()), what + "dk");
                        assertEquals(0.0, recycled.v().maxAbsDiff(fresh.v()), what + "dv");
                    }
                }
            }
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void layerNormInputGradientInRecycledStorageIsFullyWritten() {
        int saved = Parallel.threads();
        try {
            for (DType dtype : DType.values()) {
                Rng rng = new Rng(9);
                Tensor x = Tensor.randn(dtype, rng, 700, 131);
                Tensor w = Tensor.randn(dtype, rng, 131);
                Tensor g = Tensor.randn(dtype, rng, 700, 131);
                var f = LayerNorm.forward(x, w, null, 1e-5);
                Tensor fresh = LayerNorm.backward(g, x, w, f.mean(), f.rstd()).x();
                for (int threads = 1; threads <= 2; threads++) {
                    Parallel.setThreads(threads);
                    try (var scope = Workspace.open()) {
                        LayerNorm.backward(g, x, w, f.mean(), f.rstd());
                    }
                    Workspace.current().poisonFreeArrays();
                    try (var scope = Workspace.open()) {
                        Tensor recycled = LayerNorm.backward(g, x, w, f.mean(), f.rstd()).x();
                        assertEquals(0.0, recycled.maxAbsDiff(fresh), dtype + ", " + threads + " threads");
                    }
                }
            }
        } finally {
            Parallel.setThreads(saved);
        }
    }
}
