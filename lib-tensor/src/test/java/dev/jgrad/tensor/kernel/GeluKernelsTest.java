package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * The GELU kernels give the bits the one-pass kernels they replaced gave: those called VectorMath.exp on a vector,
 * and are copied below as the reference. The rewrite moved the exponential into a pass of its own with exp's lane
 * code written out (so no vector is handed to a helper), shares one exponential between forward and backward by
 * capping e^y instead of y, and added the fused GELU-and-derivative kernel of the linear layers' epilogue.
 */
class GeluKernelsTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_KAPPA = 0.044715f;
    private static final float GELU_EXP_CAP = 88f;

    /** Lengths around the vector width and the kernels' 512-element chunks. */
    private static final int[] SIZES = {1, 3, 15, 16, 17, 31, 33, 127, 511, 512, 513, 1000, 1100, 1537};

    @Test
    void cappingTheExponentialEqualsCappingItsArgument() {
        // min(e^y, e^88) == e^min(y, 88) needs exp monotone where y crosses 88: every float from 87 to past exp's
        // overflow (88.72), plus the special values. Below 87, e^y is far below e^88 (exp is within 1 ulp).
        float capped = VectorMath.exp(GELU_EXP_CAP);
        int from = Float.floatToIntBits(87f);
        int to = Float.floatToIntBits(89f);
        float[] ys = new float[to - from + 1 + 4];
        for (int bits = from; bits <= to; bits++) {
            ys[bits - from] = Float.intBitsToFloat(bits);
        }
        ys[ys.length - 4] = Float.POSITIVE_INFINITY;
        ys[ys.length - 3] = Float.NEGATIVE_INFINITY;
        ys[ys.length - 2] = Float.NaN;
        ys[ys.length - 1] = -0f;
        for (float y : ys) {
            int viaValue = Float.floatToRawIntBits(Math.min(VectorMath.exp(y), capped));
            int viaArgument = Float.floatToRawIntBits(VectorMath.exp(Math.min(y, GELU_EXP_CAP)));
            assertEquals(viaArgument, viaValue, "y = " + y);
        }
    }

    @Test
    void forwardAndBackwardGiveTheFormerKernelsBits() {
        for (int n : SIZES) {
            float[] x = inputs(n, 7 + n);
            float[] g = inputs(n, 11 + n);
            int xo = 3;
            int go = 5;
            float[] xs = shifted(x, xo);
            float[] gs = shifted(g, go);

            float[] expected = new float[n];
            formerGelu(x, 0, expected, 0, n);
            float[] out = new float[n + 2];
            ElementwiseF32.gelu(xs, xo, out, 2, n);
            assertBits(expected, 0, out, 2, n, "gelu, n=" + n);
            float[] inPlace = xs.clone();
            ElementwiseF32.gelu(inPlace, xo, inPlace, xo, n);
            assertBits(expected, 0, inPlace, xo, n, "gelu in place, n=" + n);

            float[] expectedGrad = new float[n];
            formerGeluBackward(g, 0, x, 0, expectedGrad, 0, n);
            ElementwiseF32.geluBackward(gs, go, xs, xo, out, 1, n);
            assertBits(expectedGrad, 0, out, 1, n, "geluBackward, n=" + n);
            float[] onG = gs.clone();
            ElementwiseF32.geluBackward(onG, go, xs, xo, onG, go, n);
            assertBits(expectedGrad, 0, onG, go, n, "geluBackward in place on g, n=" + n);
            float[] onX = xs.clone();
            ElementwiseF32.geluBackward(gs, go, onX, xo, onX, xo, n);
            assertBits(expectedGrad, 0, onX, xo, n, "geluBackward in place on x, n=" + n);
        }
    }

    @Test
    void derivativeIsWhatTheBackwardMultipliesBy() {
        for (int n : SIZES) {
            float[] x = inputs(n, 13 + n);
            float[] g = inputs(n, 17 + n);
            float[] derivative = new float[n];
            ElementwiseF32.geluDerivative(x, 0, derivative, 0, n);
            float[] expected = new float[n];
            formerGeluBackward(g, 0, x, 0, expected, 0, n);
            float[] product = new float[n];
            for (int i = 0; i < n; i++) {
                product[i] = g[i] * derivative[i];
            }
            assertBits(expected, 0, product, 0, n, "g * geluDerivative, n=" + n);
            float[] inPlace = x.clone();
            ElementwiseF32.geluDerivative(inPlace, 0, inPlace, 0, n);
            assertBits(derivative, 0, inPlace, 0, n, "geluDerivative in place, n=" + n);
        }
    }

    @Test
    void geluAndDerivativeTogetherGiveEachAlone() {
        for (int n : SIZES) {
            float[] h = inputs(n, 19 + n);
            float[] gelu = new float[n];
            float[] derivative = new float[n];
            ElementwiseF32.gelu(h, 0, gelu, 0, n);
            ElementwiseF32.geluDerivative(h, 0, derivative, 0, n);

            float[] act = new float[n + 4];
            float[] deriv = new float[n + 1];
            ElementwiseF32.geluAndDerivative(h, 0, act, 4, deriv, 1, n);
            assertBits(gelu, 0, act, 4, n, "act, n=" + n);
            assertBits(derivative, 0, deriv, 1, n, "deriv, n=" + n);

            // In place, as the GEMM epilogue runs it: the derivative replaces the pre-activation.
            float[] both = new float[2 * n + 8];
            System.arraycopy(h, 0, both, 2, n);
            ElementwiseF32.geluAndDerivative(both, 2, both, n + 8, both, 2, n);
            assertBits(derivative, 0, both, 2, n, "deriv in place, n=" + n);
            assertBits(gelu, 0, both, n + 8, n, "act beside it, n=" + n);
        }
    }

    @Test
    void geluAndDerivativeRejectsAnActivationOverlappingItsInput() {
        float[] a = new float[64];
        var e = assertThrows(IllegalArgumentException.class, () -> ElementwiseF32.geluAndDerivative(a, 0, a, 16, a, 0, 32));
        assertEquals(true, e.getMessage().contains("geluAndDerivative") && e.getMessage().contains("[16, 48)"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ElementwiseF32.geluAndDerivative(a, 0, new float[32], 0, a, 8, 32));
    }

    // ------------------------------------------------------------------------------------------ inputs

    /**
     * Gaussian values at three scales, with the special values and the region where GELU's exponent crosses the
     * cap mixed in (x from -10.1 to -9.9: e^(-2u) passes e^88 at x = -10.030 and overflows at -10.061).
     */
    private static float[] inputs(int n, long seed) {
        float[] special = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.MIN_VALUE,
                -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, 1e-30f, -1e-30f, 40f, -40f, -10.03f, -10.0298f,
                -10.06f, -10.061f, -10.07f, 3f, -3f};
        var random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int kind = random.nextInt(8);
            x[i] = switch (kind) {
                case 0 -> special[random.nextInt(special.length)];
                case 1 -> (float) (-9.9 - 0.2 * random.nextDouble());
                case 2 -> (float) (random.nextGaussian() * 10);
                case 3 -> (float) (random.nextGaussian() * 0.5);
                default -> (float) (random.nextGaussian() * 3);
            };
        }
        return x;
    }

    private static float[] shifted(float[] x, int offset) {
        float[] out = new float[x.length + offset + 3];
        Arrays.fill(out, Float.NaN);
        System.arraycopy(x, 0, out, offset, x.length);
        return out;
    }

    /**
     * Equal bits, except that any NaN equals any NaN: which NaN an operation on two NaNs returns depends on the
     * order of its operands, which C2 may swap in a commutative operation, so NaN payloads are not reproducible.
     */
    private static void assertBits(float[] expected, int eo, float[] actual, int ao, int n, String what) {
        for (int i = 0; i < n; i++) {
            int e = Float.floatToIntBits(expected[eo + i]);   // the canonical NaN for every NaN
            int a = Float.floatToIntBits(actual[ao + i]);
            if (e != a) {
                assertEquals(expected[eo + i], actual[ao + i], what + ": element " + i + " (bits " + Integer.toHexString(e)
                        + " expected, " + Integer.toHexString(a) + " actual)");
                assertEquals(e, a, what + ": element " + i + " differs in its bits");
            }
        }
    }

    // ------------------------------------------------------------------------------------------ the former kernels

    /** ElementwiseF32.gelu before the rewrite (at 0fa0e97), unchanged. */
    private static void formerGelu(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var v = FloatVector.fromArray(S, x, xo + i);
            var inner = v.mul(v).mul(v).mul(GELU_KAPPA).add(v).mul(SQRT_2_OVER_PI);
            v.div(one.add(VectorMath.exp(inner.mul(-2f)))).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = x[xo + i];
            float inner = (v * v * v * GELU_KAPPA + v) * SQRT_2_OVER_PI;
            out[oo + i] = v / (1f + VectorMath.exp(inner * -2f));
        }
    }

    /** ElementwiseF32.geluBackward before the rewrite (at 0fa0e97), unchanged. */
    private static void formerGeluBackward(float[] g, int go, float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var two = FloatVector.broadcast(S, 2f);
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var v = FloatVector.fromArray(S, x, xo + i);
            var v2 = v.mul(v);
            var inner = v2.mul(v).mul(GELU_KAPPA).add(v).mul(SQRT_2_OVER_PI);
            var e = VectorMath.exp(inner.mul(-2f).min(GELU_EXP_CAP));
            var s = one.div(one.add(e));
            var right = two.mul(v).mul(s).mul(e.mul(s)).mul(v2.mul(3f * GELU_KAPPA).add(one).mul(SQRT_2_OVER_PI));
            FloatVector.fromArray(S, g, go + i).mul(s.add(right)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = x[xo + i];
            float v2 = v * v;
            float inner = (v2 * v * GELU_KAPPA + v) * SQRT_2_OVER_PI;
            float e = VectorMath.exp(Math.min(inner * -2f, GELU_EXP_CAP));
            float s = 1f / (1f + e);
            float right = 2f * v * s * (e * s) * ((v2 * (3f * GELU_KAPPA) + 1f) * SQRT_2_OVER_PI);
            out[oo + i] = g[go + i] * (s + right);
        }
    }
}
