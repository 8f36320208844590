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
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Lanes.sum(FloatVector.fromArray(F, a, 0))),
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
            cold[k] = Lanes.sum(FloatVector.fromArray(F, in[k], 0));
        }
        Rng rng = new Rng(5);
        Tensor x = Tensor.randn(rng, 6, 37).mul(30);
        Tensor w = Tensor.randn(rng, 37);
        Tensor b = Tensor.randn(rng, 37);
        float[] layerNormCold = LayerNorm.forward(x, w, b, 1e-5).out().toFloatArray();

        float sink = 0;
        for (int i = 0; i < 20_000; i++) {   // enough calls for C2 to compile the kernels and Lanes.sum
            sink += Lanes.sum(FloatVector.fromArray(F, in[i % in.length], 0));
            sink += LayerNorm.forward(x, w, b, 1e-5).out().f32Data()[0];
        }
        assertTrue(Float.isFinite(sink));
        for (int k = 0; k < in.length; k++) {
            assertEquals(Float.floatToIntBits(cold[k]), Float.floatToIntBits(Lanes.sum(FloatVector.fromArray(F, in[k], 0))));
        }
        assertEquals(Arrays.toString(layerNormCold), Arrays.toString(LayerNorm.forward(x, w, b, 1e-5).out().toFloatArray()));
    }

    @Test
    void dotSumsLaneProductsInTheHalvingTreeThenTheTail() {
        Rng rng = new Rng(5);
        for (int n : new int[] {0, 1, F.length() - 1, F.length(), 3 * F.length() + 5, 100}) {
            float[] a = new float[n + 3];
            float[] b = new float[n + 7];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rng.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) rng.nextGaussian();
            }
            // Scalar model: lane l accumulates the fmas of elements l, l + L, ... below the vector bound.
            int bound = n / F.length() * F.length();
            float[] lanes = new float[F.length()];
            for (int i = 0; i < bound; i++) {
                lanes[i % F.length()] = Math.fma(a[3 + i], b[7 + i], lanes[i % F.length()]);
            }
            float expected = halvingTree(lanes);
            for (int i = bound; i < n; i++) {
                expected = Math.fma(a[3 + i], b[7 + i], expected);
            }
            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Lanes.dot(a, 3, b, 7, n)), "n = " + n);
        }
    }
}
