package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.ops.LayerNorm;
import dev.jgrad.tensor.ops.Reduce;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Kernels that split their work over threads give the same bits for 1, 2 and 3 threads, at sizes large enough
 * (checked against each kernel's threshold) that 2 and 3 threads really do split, with odd lengths so that the
 * slices end in vector tails.
 */
class ThreadSplitTest {
    private int saved;

    @BeforeEach
    void saveThreads() {
        saved = Parallel.threads();
    }

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(saved);
    }

    /** The result's float bits for 1, 2 and 3 threads must all be the same. */
    private static void assertSameForAnyThreadCount(String what, Supplier<float[][]> run) {
        Parallel.setThreads(1);
        float[][] one = run.get();
        for (int threads = 2; threads <= 3; threads++) {
            Parallel.setThreads(threads);
            float[][] other = run.get();
            for (int i = 0; i < one.length; i++) {
                assertArrayEquals(one[i], other[i], what + ", output " + i + ", " + threads + " threads");
            }
        }
    }

    private static float[] gaussian(Rng rng, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rng.nextGaussian() * scale;
        }
        return a;
    }

    @Test
    void adamUpdatesAreTheSameForAnyThreadCount() {
        int n = 3 * OptimizerKernels.MIN_ELEMENTS_PER_TASK + 17;
        Rng rng = new Rng(3);
        float[] p0 = gaussian(rng, n + 7, 1f);
        float[] g0 = gaussian(rng, n + 2, 0.1f);
        float[] m0 = gaussian(rng, n, 0.01f);
        float[] v0 = gaussian(rng, n, 0.01f);
        for (int i = 0; i < n; i++) {
            v0[i] *= v0[i];
        }
        for (boolean decoupled : new boolean[] {true, false}) {
            assertSameForAnyThreadCount(decoupled ? "adamw" : "adam", () -> {
                float[] p = p0.clone();
                float[] m = m0.clone();
                float[] v = v0.clone();
                for (int step = 0; step < 3; step++) {
                    if (decoupled) {
                        OptimizerKernels.adamw(p, 5, g0, 2, m, v, n, 0.9f, 0.999f, 1e-8f, 0.9997f, 3e-4f, 0.04f);
                    } else {
                        OptimizerKernels.adam(p, 5, g0, 2, m, v, n, 0.9f, 0.999f, 1e-8f, 0.01f, 3e-4f, 0.04f);
                    }
                }
                return new float[][] {p, m, v};
            });
        }
    }

    @Test
    void columnSumsOfOneSliceAreTheSameForAnyThreadCount() {
        int cols = 777;
        int rows = (int) (3 * NormRows.MIN_ELEMENTS_PER_TASK / cols) + 5;
        Tensor x = Tensor.randn(new Rng(4), rows, cols);
        Tensor sliced = Tensor.randn(new Rng(5), rows, cols + 9).narrow(1, 4, cols);
        assertSameForAnyThreadCount("sum over rows", () -> new float[][] {
            Reduce.sum(x, false, 0).toFloatArray(), Reduce.mean(x, true, 0).toFloatArray(),
            Reduce.sum(sliced, false, 0).toFloatArray()});
    }

    @Test
    void layerNormOfABatchOfTokensIsTheSameForAnyThreadCount() {
        int d = 131;
        int rows = (int) (3 * NormRows.MIN_ELEMENTS_PER_TASK / d) + 3;
        Rng rng = new Rng(6);
        Tensor x = Tensor.randn(rng, rows, d);
        Tensor w = Tensor.randn(rng, d);
        Tensor b = Tensor.randn(rng, d);
        Tensor g = Tensor.randn(rng, rows, d);
        assertSameForAnyThreadCount("layer norm", () -> {
            var fwd = LayerNorm.forward(x, w, b, 1e-5);
            var grads = LayerNorm.backward(g, x, w, fwd.mean(), fwd.rstd());
            return new float[][] {fwd.out().toFloatArray(), fwd.rstd().toFloatArray(), grads.x().toFloatArray(),
                grads.weight().toFloatArray(), grads.bias().toFloatArray()};
        });
    }
}
