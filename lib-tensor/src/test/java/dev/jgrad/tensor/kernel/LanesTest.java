package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.ops.LayerNorm;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * Lane sums in one fixed order, so float results do not depend on whether the JIT has compiled a kernel yet
 * (FloatVector.reduceLanes(ADD) gives different bits before and after compilation for most inputs). Kernels that
 * use the Vector API's transcendental lanewise ops (EXP, TANH, LOG) are not covered: those round differently
 * before compilation (Math.exp per lane) and after (the JIT's vector routine).
 */
class LanesTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private static float[][] inputs(int count) {
        Rng rng = new Rng(11);
        float[][] out = new float[count][F.length()];
        for (float[] a : out) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (rng.nextGaussian() * Math.pow(10, rng.nextInt(6) - 3));
            }
        }
        return out;
    }

    /** The same halving tree written with scalar adds: lane i of each level is a[i] + a[(i + shift) mod L]. */
    private static float halvingTree(float[] lanes) {
        float[] a = lanes.clone();
        for (int shift = a.length / 2; shift >= 1; shift /= 2) {
            float[] next = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                next[i] = a[i] + a[(i + shift) % a.length];
            }
            a = next;
        }
        return a[0];
    }

    @Test
    void sumsInTheDocumentedOrderExactly() {
        for (float[] a : inputs(300)) {
            float expected = halvingTree(a);
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Lanes.sum(a, 0, a.length)),
                    Arrays.toString(a));
            double exact = 0;
            for (float v : a) {
                exact += v;
            }
            double magnitude = 0;
            for (float v : a) {
                magnitude += Math.abs(v);
            }
            assertEquals(exact, expected, 1e-6 * magnitude);
        }
    }

    @Test
    void resultsAreTheSameBeforeAndAfterTheJitCompilesTheKernels() {
        float[][] in = inputs(200);
        float[] cold = new float[in.length];
        for (int k = 0; k < in.length; k++) {
            cold[k] = Lanes.sum(in[k], 0, in[k].length);
        }
        Rng rng = new Rng(5);
        Tensor x = Tensor.randn(rng, 6, 37).mul(30);
        Tensor w = Tensor.randn(rng, 37);
        Tensor b = Tensor.randn(rng, 37);
        float[] layerNormCold = LayerNorm.forward(x, w, b, 1e-5).out().toFloatArray();

        float sink = 0;
        for (int i = 0; i < 20_000; i++) {   // enough calls for C2 to compile the kernels and Lanes.sum
            sink += Lanes.sum(in[i % in.length], 0, F.length());
            sink += LayerNorm.forward(x, w, b, 1e-5).out().f32Data()[0];
        }
        assertTrue(Float.isFinite(sink));
        for (int k = 0; k < in.length; k++) {
            assertEquals(Float.floatToIntBits(cold[k]), Float.floatToIntBits(Lanes.sum(in[k], 0, in[k].length)));
        }
        assertEquals(Arrays.toString(layerNormCold), Arrays.toString(LayerNorm.forward(x, w, b, 1e-5).out().toFloatArray()));
    }

    @Test
    void dotSumsLaneProductsInTheHalvingTreeThenTheTail() {
        Rng rng = new Rng(5);
        for (int n : LENGTHS) {
            float[] a = gaussians(rng, n + 3);
            float[] b = gaussians(rng, n + 7);
            float expected = model(n, i -> a[3 + i], i -> b[7 + i]);
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Lanes.dot(a, 3, b, 7, n)), "n = " + n);
        }
    }

    @Test
    void sumAddsLanesInTheHalvingTreeThenTheTailInOrder() {
        Rng rng = new Rng(6);
        for (int n : LENGTHS) {
            float[] a = gaussians(rng, n + 5);
            int bound = n / F.length() * F.length();
            float[] lanes = new float[F.length()];
            for (int i = 0; i < bound; i++) {
                lanes[i % F.length()] += a[5 + i];
            }
            float expected = halvingTree(lanes);
            for (int i = bound; i < n; i++) {
                expected += a[5 + i];
            }
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Lanes.sum(a, 5, n)), "n = " + n);
        }
    }

    @Test
    void sumSquaredDeviationsFusesEachSquareIntoItsLane() {
        Rng rng = new Rng(7);
        for (int n : LENGTHS) {
            float[] a = gaussians(rng, n + 2);
            float center = 0.37f;
            float expected = model(n, i -> a[2 + i] - center, i -> a[2 + i] - center);
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Lanes.sumSquaredDeviations(a, 2, n,
                    center)), "n = " + n);
        }
    }

    @Test
    void dotNormalizedIsTheDotProductWithTheNormalisedRow() {
        Rng rng = new Rng(8);
        for (int n : LENGTHS) {
            float[] a = gaussians(rng, n + 1);
            float[] x = gaussians(rng, n + 4);
            float center = -0.2f;
            float scale = 1.7f;
            float expected = model(n, i -> a[1 + i], i -> (x[4 + i] - center) * scale);
            assertEquals(Float.floatToIntBits(expected),
                    Float.floatToIntBits(Lanes.dotNormalized(a, 1, x, 4, n, center, scale)), "n = " + n);
        }
    }

    private static final int[] LENGTHS = {0, 1, F.length() - 1, F.length(), 3 * F.length() + 5, 100};

    private static float[] gaussians(Rng rng, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rng.nextGaussian();
        }
        return a;
    }

    /**
     * The scalar model of a fused reduction: lane l accumulates fma(left(i), right(i)) for i = l, l + L, ... below
     * the vector bound, the lanes are summed in the halving tree, then the tail is fused in order.
     */
    private static float model(int n, IntToFloat left, IntToFloat right) {
        int bound = n / F.length() * F.length();
        float[] lanes = new float[F.length()];
        for (int i = 0; i < bound; i++) {
            lanes[i % F.length()] = Math.fma(left.at(i), right.at(i), lanes[i % F.length()]);
        }
        float sum = halvingTree(lanes);
        for (int i = bound; i < n; i++) {
            sum = Math.fma(left.at(i), right.at(i), sum);
        }
        return sum;
    }

    private interface IntToFloat {
        float at(int i);
    }
}
