package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class VectorMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private enum Fn {
        EXP(Math::exp), LOG(Math::log), TANH(Math::tanh);

        final DoubleUnaryOperator reference;

        Fn(DoubleUnaryOperator reference) {
            this.reference = reference;
        }

        float scalar(float x) {
            return switch (this) {
                case EXP -> VectorMath.exp(x);
                case LOG -> VectorMath.log(x);
                case TANH -> VectorMath.tanh(x);
            };
        }

        FloatVector vector(FloatVector x) {
            return switch (this) {
                case EXP -> VectorMath.exp(x);
                case LOG -> VectorMath.log(x);
                case TANH -> VectorMath.tanh(x);
            };
        }
    }

    // ------------------------------------------------------------------------------------------ accuracy

    @Test
    void expIsWithinOneUlpOfTheCorrectlyRoundedResult() {
        assertAccurate(Fn.EXP, inputs(-110f, 95f));
    }

    @Test
    void logIsWithinOneUlpOfTheCorrectlyRoundedResult() {
        assertAccurate(Fn.LOG, inputs(0f, Float.MAX_VALUE));
    }

    @Test
    void tanhIsWithinOneUlpOfTheCorrectlyRoundedResult() {
        assertAccurate(Fn.TANH, inputs(-12f, 12f));
    }

    /**
     * About 3 million inputs: every 2039th float bit pattern (all signs, exponents, subnormals and specials), plus
     * random floats uniform in [lo, hi] and random bit patterns (uniform in exponent) within it.
     */
    private static float[] inputs(float lo, float hi) {
        Random random = new Random(11);
        int strided = (int) ((1L << 32) / 2039);
        float[] x = new float[strided + 2_000_000];
        for (int i = 0; i < strided; i++) {
            x[i] = Float.intBitsToFloat((int) (Integer.MIN_VALUE + (long) i * 2039));
        }
        for (int i = strided; i < x.length; i += 2) {
            x[i] = lo + (hi - lo) * random.nextFloat();
            float bits;
            do {
                bits = Float.intBitsToFloat(random.nextInt());
            } while (!(bits >= lo && bits <= hi));
            x[i + 1] = bits;
        }
        return x;
    }

    /**
     * The vector version's lanes and the scalar version agree bit for bit on every input, and both are within 1 ulp
     * of Math's double result rounded to float (the specials exactly equal to it). Over all 2^32 floats the
     * maximum is 1 ulp for each function too (measured once, too slow for a unit test).
     */
    private static void assertAccurate(Fn fn, float[] x) {
        float[] lanes = new float[x.length];
        int bound = S.loopBound(x.length);
        for (int i = 0; i < bound; i += S.length()) {
            fn.vector(FloatVector.fromArray(S, x, i)).intoArray(lanes, i);
        }
        for (int i = bound; i < x.length; i++) {
            lanes[i] = fn.scalar(x[i]);
        }
        long worst = 0;
        float worstAt = Float.NaN;
        for (int i = 0; i < x.length; i++) {
            float scalar = fn.scalar(x[i]);
            if (i < bound && Float.floatToIntBits(scalar) != Float.floatToIntBits(lanes[i])) {
                throw new AssertionError(fn + "(" + x[i] + "): lane gives " + lanes[i] + ", scalar gives " + scalar);
            }
            float expected = expected(fn, x[i]);
            if (Float.isNaN(expected) || Float.isInfinite(expected) || Float.isInfinite(scalar)) {
                assertEquals(expected, scalar, fn + "(" + x[i] + ")");
                continue;
            }
            long ulps = Math.abs(ordinal(scalar) - ordinal(expected));
            if (ulps > worst) {
                worst = ulps;
                worstAt = x[i];
            }
        }
        System.out.printf("VectorMath.%s: max %d ulp from the correctly rounded result over %d inputs (at x = %s)%n",
                fn.name().toLowerCase(), worst, x.length, worstAt);
        assertTrue(worst <= 1, fn + " is " + worst + " ulp off at x = " + worstAt);
    }

    /** Math's result rounded to float, with exp's results below Float.MIN_NORMAL flushed to 0 as VectorMath does. */
    private static float expected(Fn fn, float x) {
        float rounded = (float) fn.reference.applyAsDouble(x);
        return fn == Fn.EXP && rounded < Float.MIN_NORMAL ? 0f : rounded;
    }

    /** Floats in order as integers, so that the difference of two is their distance in ulps (across zero too). */
    private static long ordinal(float f) {
        int bits = Float.floatToIntBits(f);
        return bits < 0 ? (long) Integer.MIN_VALUE - bits : bits;
    }

    // ------------------------------------------------------------------------------------------ special values

    @Test
    void specialValuesFollowMath() {
        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, Float.MIN_VALUE,
            -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, 1f, -1f,
            88.72283f, 88.72284f, -87.33654f, -103.27893f, -103.97208f, -104f, 1e-30f, -1e-30f, 9.1f, -9.1f};
        for (Fn fn : Fn.values()) {
            float[] lanes = new float[S.length()];
            for (int start = 0; start < specials.length; start += S.length()) {
                float[] chunk = new float[S.length()];
                int n = Math.min(S.length(), specials.length - start);
                System.arraycopy(specials, start, chunk, 0, n);
                fn.vector(FloatVector.fromArray(S, chunk, 0)).intoArray(lanes, 0);
                for (int i = 0; i < n; i++) {
                    float x = chunk[i];
                    float expected = expected(fn, x);
                    String where = fn + "(" + x + ")";
                    assertEquals(Float.floatToIntBits(fn.scalar(x)), Float.floatToIntBits(lanes[i]), where + " lane");
                    if (Float.isNaN(expected) || Float.isInfinite(expected) || expected == 0 || x == 0
                            || Math.abs(expected) == 1f) {
                        // exactly Math's value, including the sign of zero
                        assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(fn.scalar(x)), where);
                    } else {
                        assertTrue(Math.abs(ordinal(fn.scalar(x)) - ordinal(expected)) <= 1,
                                where + " = " + fn.scalar(x) + ", Math gives " + expected);
                    }
                }
            }
        }
        assertEquals(0f, VectorMath.exp(Math.nextDown(-87.33654f)), "exp flushes results below MIN_NORMAL to 0");
        assertTrue(VectorMath.exp(-87.33654f) >= Float.MIN_NORMAL, "exp(-87.33654) is the smallest normal result");
        assertEquals(0f, VectorMath.log(1f), "log(1) is exactly 0");
        assertEquals(1f, VectorMath.exp(0f), "exp(0) is exactly 1");
    }

    @Test
    void expShiftedSumWritesExpOfEachShiftedValueAndSumsThemAsLanesSumDoes() {
        Random random = new Random(4);
        for (int n : new int[] {0, 1, S.length() - 1, S.length(), 2 * S.length() + 3, 100}) {
            float[] x = new float[3 + n];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (random.nextGaussian() * 4);
            }
            float shift = 1.25f;
            float[] out = new float[7 + n];
            float sum = VectorMath.expShiftedSum(x, 3, out, 7, n, shift);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToIntBits(VectorMath.exp(x[3 + i] - shift)), Float.floatToIntBits(out[7 + i]),
                        "element " + i + " of n " + n);
            }
            assertEquals(Float.floatToIntBits(Lanes.sum(out, 7, n)), Float.floatToIntBits(sum), "sum of n " + n);
            assertEquals(Float.floatToIntBits(sum), Float.floatToIntBits(VectorMath.expShiftedSum(x, 3, null, 0, n,
                    shift)), "the sum alone, n " + n);
        }
    }

    @Test
    void expShiftedInPlaceGivesEachElementTheBitsOfExpOfItsShiftedValue() {
        Random random = new Random(3);
        for (int n : new int[] {0, 1, S.length(), 2 * S.length() + 3, 64}) {
            int from = 5;
            float[] x = new float[from + n + 2];
            for (int i = 0; i < x.length; i++) {
                x[i] = random.nextInt(10) == 0 ? Float.NEGATIVE_INFINITY : (float) (random.nextGaussian() * 30);
            }
            x[from] = Float.NaN;
            float shift = 2.5f;
            float[] expected = x.clone();
            for (int i = from; i < from + n; i++) {
                expected[i] = VectorMath.exp(x[i] - shift);
            }
            VectorMath.expShiftedInPlace(x, from, n, shift);
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(x[i]), "element " + i + " of n " + n);
            }
        }
    }
}
