package dev.jgrad.tensor.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp, log and tanh for float, each as a vector version and a scalar version that return the same bits for the
 * same input, in every JIT state.
 *
 * <p>Why not {@code lanewise(VectorOperators.EXP)}: the Vector API computes its transcendental lane operations with
 * Java code while a kernel is interpreted and with a different, intrinsic implementation once C2 has compiled it,
 * and the two differ in the last bit. A kernel would then give different results before and after the JIT got to
 * it, so two identical runs, or two data-parallel workers whose kernels were compiled at different moments, would
 * drift apart. The functions here use only IEEE-754 operations that every execution mode performs exactly the
 * same way: + - * / and fused multiply-add (each correctly rounded), comparisons and blends, and integer
 * manipulation of the bits. The scalar versions repeat the vector version operation for operation ({@code Math.fma}
 * where the vector uses {@code fma}), so a vector loop and its scalar tail agree: element i gets the same bits
 * whether it lands in a lane or in the tail, and a row's result does not depend on its length.
 *
 * <p>Accuracy: within 1 ulp of the correctly rounded result ({@code VectorMathTest} checks 4 million inputs
 * against {@link Math} in double; see there for the full-range measurement), except that exp flushes results
 * below {@link Float#MIN_NORMAL} (x &lt; -87.33654) to 0 rather than rounding them into the subnormals. The
 * polynomial coefficients are near-minimax fits computed by {@code lib-tensor/src/test/python/fit_vector_math.py}.
 * NaN gives NaN, and the special values follow {@link Math}: exp(-inf) = 0, exp(+inf) = +inf, log(0) = -inf,
 * log(x &lt; 0) = NaN, log(+inf) = +inf, tanh(+-inf) = +-1, and tanh keeps the sign of zero.
 *
 * <p>The vector versions take vectors of {@link FloatVector#SPECIES_PREFERRED}, the kernels' species: their
 * constants are vectors of that species, built once, which keeps the code C2 must inline small enough that it
 * inlines all of it (otherwise vectors get boxed and the kernel crawls).
 */
public final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private VectorMath() {}

    private static FloatVector v(float c) {
        return FloatVector.broadcast(F, c);
    }

    private static final float LOG2E = 1.442695f;
    // ln 2 split in two floats: n * LN2_HI is exact inside an fma, LN2_LO carries the next 24 bits.
    private static final float LN2_HI = 0.6931472f;
    private static final float LN2_LO = -1.9046542e-09f;
    // Adding 1.5 * 2^23 rounds a float of magnitude < 2^22 to the nearest integer, which then sits in the low
    // bits of the sum: the vector way to round without a rounding instruction.
    private static final float ROUNDER = 12582912f;
    // Package-private: ElementwiseF32's GELU writes exp's lane code out with these (see there).
    static final FloatVector V_ONE = v(1f);
    static final FloatVector V_LOG2E = v(LOG2E);
    static final FloatVector V_ROUNDER = v(ROUNDER);
    static final FloatVector V_MINUS_LN2_HI = v(-LN2_HI);
    static final FloatVector V_MINUS_LN2_LO = v(-LN2_LO);
    private static final FloatVector V_LN2_HI = v(LN2_HI);
    private static final FloatVector V_LN2_LO = v(LN2_LO);

    // ------------------------------------------------------------------------------------------ exp

    // From here down e^x is below Float.MIN_NORMAL (-126 ln 2 rounded up): flushed to 0.
    static final float EXP_LOWEST = -87.33654f;
    // The largest x whose e^x rounds to a finite float.
    static final float EXP_HIGHEST = 88.72283f;
    // exp(r) = 1 + r + r^2 P(r) on |r| <= ln(2)/2, relative error of the fit 2^-28; evaluated by Horner's rule as
    // 1 + r (1 + r (C2 + r (C3 + ...))).
    private static final float EXP_C2 = 0.49999994f;
    private static final float EXP_C3 = 0.16666515f;
    private static final float EXP_C4 = 0.041668456f;
    private static final float EXP_C5 = 0.008369424f;
    private static final float EXP_C6 = 0.0013813133f;
    static final FloatVector V_EXP_C2 = v(EXP_C2);
    static final FloatVector V_EXP_C3 = v(EXP_C3);
    static final FloatVector V_EXP_C4 = v(EXP_C4);
    static final FloatVector V_EXP_C5 = v(EXP_C5);
    static final FloatVector V_EXP_C6 = v(EXP_C6);

    /**
     * e^x per lane. With n = round(x / ln 2) and r = x - n ln 2 (Cody-Waite: ln 2 in two parts, so r is exact to
     * float precision), e^x = 2^n e^r, e^r from a polynomial, and 2^n added to the exponent field of e^r. Inside
     * [EXP_LOWEST, EXP_HIGHEST] the result is a normal float, so that addition is exact; outside it (and for
     * NaN) the lane is replaced by 0, +inf or the NaN.
     */
    public static FloatVector exp(FloatVector x) {
        var shifted = x.fma(V_LOG2E, V_ROUNDER);
        var n = shifted.sub(V_ROUNDER);
        var r = n.fma(V_MINUS_LN2_HI, x);
        r = n.fma(V_MINUS_LN2_LO, r);
        var er = r.fma(V_EXP_C6, V_EXP_C5).fma(r, V_EXP_C4).fma(r, V_EXP_C3).fma(r, V_EXP_C2).fma(r, V_ONE)
                .fma(r, V_ONE);
        // n << 23 for the exponent field: shifted has the bits 0x4B40_0000 + n, and 0x4B40_0000 << 23 overflows to 0.
        var exponent = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
        var result = er.reinterpretAsInts().add(exponent).reinterpretAsFloats();
        result = result.blend(0f, x.compare(VectorOperators.LT, EXP_LOWEST));
        result = result.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HIGHEST));
        return result.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** e^x, the same bits as a lane of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        if (x < EXP_LOWEST) {
            return 0f;
        }
        if (x > EXP_HIGHEST) {
            return Float.POSITIVE_INFINITY;
        }
        if (Float.isNaN(x)) {
            return x;
        }
        float shifted = Math.fma(x, LOG2E, ROUNDER);
        float n = shifted - ROUNDER;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float er = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(
                r, EXP_C6, EXP_C5), r, EXP_C4), r, EXP_C3), r, EXP_C2), r, 1f), r, 1f);
        int exponent = Float.floatToRawIntBits(shifted) << 23;
        return Float.intBitsToFloat(Float.floatToRawIntBits(er) + exponent);
    }

    /**
     * out[oo + i] = e^(x[xo + i] - shift) for i &lt; n, each the bits {@code exp(x[xo + i] - shift)} gives; returns
     * their sum, the lanes summed in {@link Lanes}' fixed order, then the tail in order. {@code out} may be
     * {@code x} itself (in place), or null when only the sum is wanted (a log-sum-exp).
     *
     * <p>Arrays in, a float out, with exp's lane code written out here instead of a call to
     * {@link #exp(FloatVector)}: a method taking a vector must be inlined into its caller or C2 boxes the vector on
     * the heap at the call, and the kernels that call this often sit in compilations past C2's inlining budget
     * ({@code NodeCountInliningCutoff}), where such calls stay out of line (that boxing once was most of a
     * training step's allocation, and whether it happened depended on the JIT's inlining order in each run). Only
     * Vector API calls remain below, which the JIT inlines whatever its budget.
     */
    public static float expShiftedSum(float[] x, int xo, float[] out, int oo, int n, float shift) {
        int i = 0;
        var sum = FloatVector.zero(F);
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            var xs = FloatVector.fromArray(F, x, xo + i).sub(shift);
            var shifted = xs.fma(V_LOG2E, V_ROUNDER);
            var m = shifted.sub(V_ROUNDER);
            var r = m.fma(V_MINUS_LN2_HI, xs);
            r = m.fma(V_MINUS_LN2_LO, r);
            var er = r.fma(V_EXP_C6, V_EXP_C5).fma(r, V_EXP_C4).fma(r, V_EXP_C3).fma(r, V_EXP_C2).fma(r, V_ONE)
                    .fma(r, V_ONE);
            var exponent = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
            var e = er.reinterpretAsInts().add(exponent).reinterpretAsFloats();
            e = e.blend(0f, xs.compare(VectorOperators.LT, EXP_LOWEST));
            e = e.blend(Float.POSITIVE_INFINITY, xs.compare(VectorOperators.GT, EXP_HIGHEST));
            e = e.blend(xs, xs.test(VectorOperators.IS_NAN));
            if (out != null) {   // loop-invariant: C2 compiles the loop once with the store and once without
                e.intoArray(out, oo + i);
            }
            sum = sum.add(e);
        }
        sum = Lanes.LEVELS >= 1 ? sum.add(sum.rearrange(Lanes.HALF)) : sum;
        sum = Lanes.LEVELS >= 2 ? sum.add(sum.rearrange(Lanes.QUARTER)) : sum;
        sum = Lanes.LEVELS >= 3 ? sum.add(sum.rearrange(Lanes.EIGHTH)) : sum;
        sum = Lanes.LEVELS >= 4 ? sum.add(sum.rearrange(Lanes.SIXTEENTH)) : sum;
        float total = sum.lane(0);
        for (; i < n; i++) {
            float e = exp(x[xo + i] - shift);
            if (out != null) {
                out[oo + i] = e;
            }
            total += e;
        }
        return total;
    }

    /** x[i] = e^(x[i] - shift) for i in [from, from + n): {@link #expShiftedSum} in place, the sum unused. */
    public static void expShiftedInPlace(float[] x, int from, int n, float shift) {
        expShiftedSum(x, from, x, from, n, shift);
    }

    // ------------------------------------------------------------------------------------------ log

    // Offsets the exponent split so the mantissa m lands in [sqrt(1/2), sqrt(2)) rather than [1, 2).
    private static final int SQRT_HALF_BITS = 0x3F35_04F3;
    private static final int ONE_BITS = 0x3F80_0000;
    private static final float TWO_POW_23 = 8388608f;
    // log(1 + f) = f + f^2 P(f) on sqrt(1/2) - 1 <= f < sqrt(2) - 1; relative error of the fit 2^-27.9.
    private static final float LOG_C2 = -0.49999988f;
    private static final float LOG_C3 = 0.33333325f;
    private static final float LOG_C4 = -0.25001585f;
    private static final float LOG_C5 = 0.20001984f;
    private static final float LOG_C6 = -0.16609f;
    private static final float LOG_C7 = 0.14181578f;
    private static final float LOG_C8 = -0.13243471f;
    private static final float LOG_C9 = 0.1290634f;
    private static final float LOG_C10 = -0.07622954f;
    private static final FloatVector V_LOG_C2 = v(LOG_C2);
    private static final FloatVector V_LOG_C3 = v(LOG_C3);
    private static final FloatVector V_LOG_C4 = v(LOG_C4);
    private static final FloatVector V_LOG_C5 = v(LOG_C5);
    private static final FloatVector V_LOG_C6 = v(LOG_C6);
    private static final FloatVector V_LOG_C7 = v(LOG_C7);
    private static final FloatVector V_LOG_C8 = v(LOG_C8);
    private static final FloatVector V_LOG_C9 = v(LOG_C9);
    private static final FloatVector V_LOG_C10 = v(LOG_C10);
    private static final FloatVector V_EXPONENT_BIAS = v(127f);
    private static final FloatVector V_SUBNORMAL_EXPONENT_BIAS = v(127f + 23f);

    /**
     * Natural log per lane. x = 2^e m with m in [sqrt(1/2), sqrt(2)) read off the bits (subnormals are first
     * scaled by 2^23); log x = e ln 2 + log(1 + f) with f = m - 1 exact, the last from a polynomial.
     */
    public static FloatVector log(FloatVector x) {
        VectorMask<Float> subnormal = x.compare(VectorOperators.LT, Float.MIN_NORMAL);
        var normal = x.blend(x.mul(TWO_POW_23), subnormal);
        var bits = normal.reinterpretAsInts().add(ONE_BITS - SQRT_HALF_BITS);
        var biasedExponent = (FloatVector) bits.lanewise(VectorOperators.ASHR, 23).convert(VectorOperators.I2F, 0);
        var e = biasedExponent.sub(V_EXPONENT_BIAS.blend(V_SUBNORMAL_EXPONENT_BIAS, subnormal));
        var f = bits.and(0x007F_FFFF).add(SQRT_HALF_BITS).reinterpretAsFloats().sub(V_ONE);
        var p = f.fma(V_LOG_C10, V_LOG_C9).fma(f, V_LOG_C8).fma(f, V_LOG_C7).fma(f, V_LOG_C6).fma(f, V_LOG_C5)
                .fma(f, V_LOG_C4).fma(f, V_LOG_C3).fma(f, V_LOG_C2);
        var logM = f.mul(f).fma(p, f);
        var result = e.fma(V_LN2_HI, e.fma(V_LN2_LO, logM));
        result = result.blend(Float.NEGATIVE_INFINITY, x.compare(VectorOperators.EQ, 0f));
        result = result.blend(Float.NaN, x.compare(VectorOperators.LT, 0f));
        var itself = x.test(VectorOperators.IS_NAN).or(x.compare(VectorOperators.EQ, Float.POSITIVE_INFINITY));
        return result.blend(x, itself);
    }

    /** Natural log, the same bits as a lane of {@link #log(FloatVector)}. */
    public static float log(float x) {
        if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) {
            return x;
        }
        if (x < 0f) {
            return Float.NaN;
        }
        if (x == 0f) {
            return Float.NEGATIVE_INFINITY;
        }
        boolean subnormal = x < Float.MIN_NORMAL;
        float normal = subnormal ? x * TWO_POW_23 : x;
        int bits = Float.floatToRawIntBits(normal) + (ONE_BITS - SQRT_HALF_BITS);
        float e = (float) (bits >> 23) - (subnormal ? 127f + 23f : 127f);
        float f = Float.intBitsToFloat((bits & 0x007F_FFFF) + SQRT_HALF_BITS) - 1f;
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(
                f, LOG_C10, LOG_C9), f, LOG_C8), f, LOG_C7), f, LOG_C6), f, LOG_C5), f, LOG_C4), f, LOG_C3), f, LOG_C2);
        float logM = Math.fma(f * f, p, f);
        return Math.fma(e, LN2_HI, Math.fma(e, LN2_LO, logM));
    }

    // ------------------------------------------------------------------------------------------ tanh

    // Below this |x| tanh comes from its odd polynomial, above it from e^(-2|x|).
    private static final float TANH_SPLIT = 0.625f;
    // tanh(a) = a + a^3 P(a^2) on |a| <= 0.625; relative error of the fit 2^-27.6.
    private static final float TANH_C3 = -0.33333278f;
    private static final float TANH_C5 = 0.13331331f;
    private static final float TANH_C7 = -0.053730007f;
    private static final float TANH_C9 = 0.020606177f;
    private static final float TANH_C11 = -0.0056669773f;
    private static final FloatVector V_TANH_C3 = v(TANH_C3);
    private static final FloatVector V_TANH_C5 = v(TANH_C5);
    private static final FloatVector V_TANH_C7 = v(TANH_C7);
    private static final FloatVector V_TANH_C9 = v(TANH_C9);
    private static final FloatVector V_TANH_C11 = v(TANH_C11);
    private static final FloatVector V_MINUS_TWO = v(-2f);
    private static final int SIGN_BIT = 0x8000_0000;

    /**
     * tanh per lane, on a = |x| with x's sign copied on at the end. Small a: an odd polynomial, accurate where
     * tanh a ~ a. Larger a: with u = e^(-2a) in [0, 0.29], tanh a = (1 - u) / (1 + u) = 1 - 2u / (1 + u), where
     * the rounding errors fall on the small term 2u / (1 + u) only. Both are computed and blended per lane.
     */
    public static FloatVector tanh(FloatVector x) {
        var a = x.abs();
        var z = a.mul(a);
        var p = z.fma(V_TANH_C11, V_TANH_C9).fma(z, V_TANH_C7).fma(z, V_TANH_C5).fma(z, V_TANH_C3);
        var small = a.mul(z).fma(p, a);
        var u = exp(a.mul(V_MINUS_TWO));
        var large = V_ONE.sub(u.add(u).div(u.add(V_ONE)));
        var magnitude = small.blend(large, a.compare(VectorOperators.GE, TANH_SPLIT));
        return magnitude.reinterpretAsInts().or(x.reinterpretAsInts().and(SIGN_BIT)).reinterpretAsFloats();
    }

    /** tanh, the same bits as a lane of {@link #tanh(FloatVector)}. */
    public static float tanh(float x) {
        float a = Math.abs(x);
        float magnitude;
        if (a >= TANH_SPLIT) {
            float u = exp(a * -2f);
            magnitude = 1f - (u + u) / (u + 1f);
        } else {
            float z = a * a;
            float p = Math.fma(Math.fma(Math.fma(Math.fma(z, TANH_C11, TANH_C9), z, TANH_C7), z, TANH_C5), z, TANH_C3);
            magnitude = Math.fma(a * z, p, a);
        }
        return Float.intBitsToFloat(Float.floatToRawIntBits(magnitude) | (Float.floatToRawIntBits(x) & SIGN_BIT));
    }
}
