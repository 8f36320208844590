package dev.jgrad.tensor.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API kernels for F32 elementwise ops. Binary kernels process one row of a strided loop nest (see
 * {@link dev.jgrad.tensor.StridedCursor}): an operand stride of 1 is streamed, a stride of 0 is a value broadcast
 * along the row, anything else falls to the plain strided loop. The output row is always contiguous. Unary
 * kernels work on contiguous ranges {@code [offset, offset + n)}.
 *
 * <p>Every hot loop is written out by hand (no lambdas or operator parameters) so that C2 compiles each to
 * straight vector code; the scalar tail of every loop computes exactly the same expression.
 */
public final class ElementwiseF32 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_KAPPA = 0.044715f;
    private static final float GELU_EXP_CAP = 88f;   // e^88 is finite in float

    private ElementwiseF32() {}

    // ------------------------------------------------------------------------------------------ binary rows

    public static void add(float[] a, int ao, int as, float[] b, int bo, int bs, float[] out, int oo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        if (as == 1 && bs == 1) {
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).add(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 0 && bs == 1) {
            var va = FloatVector.broadcast(S, a[ao]);
            for (; i < bound; i += S.length()) {
                va.add(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 1 && bs == 0) {
            var vb = FloatVector.broadcast(S, b[bo]);
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).add(vb).intoArray(out, oo + i);
            }
        }
        for (; i < n; i++) {
            out[oo + i] = a[ao + i * as] + b[bo + i * bs];
        }
    }

    public static void sub(float[] a, int ao, int as, float[] b, int bo, int bs, float[] out, int oo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        if (as == 1 && bs == 1) {
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).sub(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 0 && bs == 1) {
            var va = FloatVector.broadcast(S, a[ao]);
            for (; i < bound; i += S.length()) {
                va.sub(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 1 && bs == 0) {
            var vb = FloatVector.broadcast(S, b[bo]);
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).sub(vb).intoArray(out, oo + i);
            }
        }
        for (; i < n; i++) {
            out[oo + i] = a[ao + i * as] - b[bo + i * bs];
        }
    }

    public static void mul(float[] a, int ao, int as, float[] b, int bo, int bs, float[] out, int oo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        if (as == 1 && bs == 1) {
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).mul(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 0 && bs == 1) {
            var va = FloatVector.broadcast(S, a[ao]);
            for (; i < bound; i += S.length()) {
                va.mul(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 1 && bs == 0) {
            var vb = FloatVector.broadcast(S, b[bo]);
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).mul(vb).intoArray(out, oo + i);
            }
        }
        for (; i < n; i++) {
            out[oo + i] = a[ao + i * as] * b[bo + i * bs];
        }
    }

    public static void div(float[] a, int ao, int as, float[] b, int bo, int bs, float[] out, int oo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        if (as == 1 && bs == 1) {
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).div(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 0 && bs == 1) {
            var va = FloatVector.broadcast(S, a[ao]);
            for (; i < bound; i += S.length()) {
                va.div(FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
            }
        } else if (as == 1 && bs == 0) {
            var vb = FloatVector.broadcast(S, b[bo]);
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, a, ao + i).div(vb).intoArray(out, oo + i);
            }
        }
        for (; i < n; i++) {
            out[oo + i] = a[ao + i * as] / b[bo + i * bs];
        }
    }

    /** pow is rare and accuracy-sensitive: computed in double and rounded once, like torch's float opmath. */
    public static void pow(float[] a, int ao, int as, float[] b, int bo, int bs, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            out[oo + i] = (float) Math.pow(a[ao + i * as], b[bo + i * bs]);
        }
    }

    // ------------------------------------------------------------------------------------------ unary forward

    public static void neg(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).neg().intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = -x[xo + i];
        }
    }

    public static void exp(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            VectorMath.exp(FloatVector.fromArray(S, x, xo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = VectorMath.exp(x[xo + i]);
        }
    }

    public static void log(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            VectorMath.log(FloatVector.fromArray(S, x, xo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = VectorMath.log(x[xo + i]);
        }
    }

    public static void sqrt(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).sqrt().intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = (float) Math.sqrt(x[xo + i]);
        }
    }

    public static void abs(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).abs().intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = Math.abs(x[xo + i]);
        }
    }

    public static void tanh(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            VectorMath.tanh(FloatVector.fromArray(S, x, xo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = VectorMath.tanh(x[xo + i]);
        }
    }

    public static void sigmoid(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var e = VectorMath.exp(FloatVector.fromArray(S, x, xo + i).neg());
            one.div(one.add(e)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = 1f / (1f + VectorMath.exp(-x[xo + i]));
        }
    }

    public static void relu(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var zero = FloatVector.zero(S);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).max(zero).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = Math.max(x[xo + i], 0f);
        }
    }

    // GELU (tanh approximation) and its derivative share e = e^(-2u), u = sqrt(2/pi) (x + 0.044715 x^3). Each
    // kernel works through chunks that stay in L1, in two passes: geluExponentials writes a chunk's e into a buffer
    // (the output itself when that overlaps no input), then a second loop computes the result from x and e. No
    // vector crosses a method call of ours: these kernels also run in the GEMM's epilogue (Sgemm.gemmBiasGelu), a
    // compile unit big enough for C2 to stop inlining, and a vector handed to a helper left out of line is boxed
    // on the heap. So geluExponentials has VectorMath.exp's lane code written out, with VectorMath's own
    // (package-private) constants; its scalar tail calls VectorMath.exp, and GeluKernelsTest holds the lanes to
    // the same bits.

    /** Elements per chunk: a chunk of the input, the exponentials and the output sit in L1 across both passes. */
    private static final int GELU_CHUNK = 512;
    /**
     * e^GELU_EXP_CAP. The derivative caps e^(-2u) (see geluBackward) as min(e^y, e^CAP), which equals
     * e^min(y, CAP) because VectorMath.exp is monotone around CAP (GeluKernelsTest checks every float from 87 to
     * past exp's overflow): so forward and backward share the one exponential.
     */
    private static final float GELU_EXP_CAP_VALUE = VectorMath.exp(GELU_EXP_CAP);
    /** Buffers for the exponentials of calls whose output overlaps an input (a GELU in place). */
    private static final ThreadLocal<float[]> GELU_SCRATCH = ThreadLocal.withInitial(() -> new float[GELU_CHUNK]);

    /**
     * GELU, tanh approximation: 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), computed as the equal
     * x / (1 + e^(-2u)): one exp instead of a tanh, and no cancellation in 1 + tanh(u) for negative x. out may be
     * x itself (in place).
     */
    public static void gelu(float[] x, int xo, float[] out, int oo, int n) {
        boolean outIsFree = !overlaps(out, oo, x, xo, n);
        float[] e = outIsFree ? out : GELU_SCRATCH.get();
        var one = FloatVector.broadcast(S, 1f);
        for (int from = 0; from < n; from += GELU_CHUNK) {
            int len = Math.min(GELU_CHUNK, n - from);
            int xi = xo + from, oi = oo + from, ei = outIsFree ? oi : 0;
            geluExponentials(x, xi, e, ei, len);
            int i = 0;
            for (int bound = S.loopBound(len); i < bound; i += S.length()) {
                var v = FloatVector.fromArray(S, x, xi + i);
                v.div(one.add(FloatVector.fromArray(S, e, ei + i))).intoArray(out, oi + i);
            }
            for (; i < len; i++) {
                out[oi + i] = x[xi + i] / (1f + e[ei + i]);
            }
        }
    }

    /**
     * GELU and its derivative in one go, for a layer whose backward needs only the derivative: act = gelu(h) and
     * deriv = gelu'(h), the same bits as {@link #gelu} and {@link #geluDerivative}. deriv may be h itself (in
     * place); act must not overlap h or deriv (it holds the exponentials until the second pass).
     */
    public static void geluAndDerivative(float[] h, int ho, float[] act, int ao, float[] deriv, int dOff, int n) {
        if (overlaps(act, ao, h, ho, n) || overlaps(act, ao, deriv, dOff, n)
                || (deriv == h && dOff != ho && overlaps(deriv, dOff, h, ho, n))) {
            throw new IllegalArgumentException("geluAndDerivative: act [" + ao + ", " + (ao + n)
                    + ") must not overlap h [" + ho + ", " + (ho + n) + ") or deriv [" + dOff + ", " + (dOff + n)
                    + "), and deriv must be h itself or apart from it");
        }
        var one = FloatVector.broadcast(S, 1f);
        var two = FloatVector.broadcast(S, 2f);
        for (int from = 0; from < n; from += GELU_CHUNK) {
            int len = Math.min(GELU_CHUNK, n - from);
            int hi = ho + from, ai = ao + from, di = dOff + from;
            geluExponentials(h, hi, act, ai, len);
            int i = 0;
            for (int bound = S.loopBound(len); i < bound; i += S.length()) {
                var v = FloatVector.fromArray(S, h, hi + i);
                var e = FloatVector.fromArray(S, act, ai + i);
                var v2 = v.mul(v);
                var capped = e.min(GELU_EXP_CAP_VALUE);
                var s = one.div(one.add(capped));
                var right = two.mul(v).mul(s).mul(capped.mul(s)).mul(v2.mul(3f * GELU_KAPPA).add(one).mul(SQRT_2_OVER_PI));
                v.div(one.add(e)).intoArray(act, ai + i);
                s.add(right).intoArray(deriv, di + i);
            }
            for (; i < len; i++) {
                float v = h[hi + i];
                float e = act[ai + i];
                act[ai + i] = v / (1f + e);
                deriv[di + i] = geluDerivative(v, e);
            }
        }
    }

    /**
     * e[eo + i] = e^(-2u) for v = x[xo + i], u = sqrt(2/pi) (v + 0.044715 v^3): the lanes run VectorMath.exp's code
     * (see the note above gelu), the tail VectorMath.exp.
     */
    private static void geluExponentials(float[] x, int xo, float[] e, int eo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var v = FloatVector.fromArray(S, x, xo + i);
            var y = v.mul(v).mul(v).mul(GELU_KAPPA).add(v).mul(SQRT_2_OVER_PI).mul(-2f);
            var shifted = y.fma(VectorMath.V_LOG2E, VectorMath.V_ROUNDER);
            var m = shifted.sub(VectorMath.V_ROUNDER);
            var r = m.fma(VectorMath.V_MINUS_LN2_HI, y);
            r = m.fma(VectorMath.V_MINUS_LN2_LO, r);
            var er = r.fma(VectorMath.V_EXP_C6, VectorMath.V_EXP_C5).fma(r, VectorMath.V_EXP_C4).fma(r, VectorMath.V_EXP_C3).fma(r, VectorMath.V_EXP_C2).fma(r, VectorMath.V_ONE).fma(r, VectorMath.V_ONE);
            var exponent = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
            var exp = er.reinterpretAsInts().add(exponent).reinterpretAsFloats();
            exp = exp.blend(0f, y.compare(VectorOperators.LT, VectorMath.EXP_LOWEST));
            exp = exp.blend(Float.POSITIVE_INFINITY, y.compare(VectorOperators.GT, VectorMath.EXP_HIGHEST));
            exp.blend(y, y.test(VectorOperators.IS_NAN)).intoArray(e, eo + i);
        }
        for (; i < n; i++) {
            float v = x[xo + i];
            e[eo + i] = VectorMath.exp((v * v * v * GELU_KAPPA + v) * SQRT_2_OVER_PI * -2f);   // the lanes' order
        }
    }

    /** gelu'(v) from e = e^(-2u), uncapped: the scalar form of the lanes that compute it. */
    private static float geluDerivative(float v, float e) {
        float v2 = v * v;
        float capped = Math.min(e, GELU_EXP_CAP_VALUE);
        float s = 1f / (1f + capped);
        float right = 2f * v * s * (capped * s) * ((v2 * (3f * GELU_KAPPA) + 1f) * SQRT_2_OVER_PI);
        return s + right;
    }

    /** True when [ao, ao + n) of a and [bo, bo + n) of b share an element. */
    private static boolean overlaps(float[] a, int ao, float[] b, int bo, int n) {
        return a == b && ao < bo + n && bo < ao + n;
    }

    /** SiLU (swish): x * sigmoid(x). */
    public static void silu(float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var v = FloatVector.fromArray(S, x, xo + i);
            v.div(one.add(VectorMath.exp(v.neg()))).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = x[xo + i];
            out[oo + i] = v / (1f + VectorMath.exp(-v));
        }
    }

    /** min(max(x, lo), hi); NaN stays NaN (max/min propagate it, as torch.clamp does). */
    public static void clamp(float[] x, int xo, float lo, float hi, float[] out, int oo, int n) {
        int i = 0;
        var vlo = FloatVector.broadcast(S, lo);
        var vhi = FloatVector.broadcast(S, hi);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).max(vlo).min(vhi).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = Math.min(Math.max(x[xo + i], lo), hi);
        }
    }

    // ------------------------------------------------------------------------------------------ unary backward
    // Each takes the upstream gradient g and the saved forward tensor (input x or output y), all contiguous.

    /** g * y * (1 - y) */
    public static void sigmoidBackward(float[] g, int go, float[] y, int yo, float[] out, int oo, int n) {
        int i = 0;
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var vy = FloatVector.fromArray(S, y, yo + i);
            FloatVector.fromArray(S, g, go + i).mul(vy).mul(one.sub(vy)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = y[yo + i];
            out[oo + i] = g[go + i] * v * (1f - v);
        }
    }

    /** g * (1 - y^2) */
    public static void tanhBackward(float[] g, int go, float[] y, int yo, float[] out, int oo, int n) {
        int i = 0;
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var vy = FloatVector.fromArray(S, y, yo + i);
            FloatVector.fromArray(S, g, go + i).mul(one.sub(vy.mul(vy))).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = y[yo + i];
            out[oo + i] = g[go + i] * (1f - v * v);
        }
    }

    /** g where x > 0, else 0 (torch's threshold_backward: zero at exactly 0). */
    public static void reluBackward(float[] g, int go, float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var zero = FloatVector.zero(S);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            VectorMask<Float> off = FloatVector.fromArray(S, x, xo + i).compare(VectorOperators.LE, 0f);
            FloatVector.fromArray(S, g, go + i).blend(zero, off).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            out[oo + i] = x[xo + i] <= 0f ? 0f : g[go + i];
        }
    }

    /**
     * Derivative of the tanh-approximated GELU: with t = tanh(u), u = k (x + c x^3),
     * d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2). With s = 1 / (1 + e^(-2u)) = 0.5 (1 + t), so that
     * 1 - t^2 = 4 s (1 - s), this is s + 2 x s (1 - s) k (1 + 3 c x^2): one exp, as in the forward. 1 - s is
     * computed as e^(-2u) s, which it equals, to avoid the cancellation of 1 - s as s approaches 1; capping
     * e^(-2u) at e^GELU_EXP_CAP keeps it finite, so that e^(-2u) s never becomes inf * 0. out may be g or x
     * itself (in place).
     */
    public static void geluBackward(float[] g, int go, float[] x, int xo, float[] out, int oo, int n) {
        boolean outIsFree = !overlaps(out, oo, x, xo, n) && !overlaps(out, oo, g, go, n);
        float[] e = outIsFree ? out : GELU_SCRATCH.get();
        var one = FloatVector.broadcast(S, 1f);
        var two = FloatVector.broadcast(S, 2f);
        for (int from = 0; from < n; from += GELU_CHUNK) {
            int len = Math.min(GELU_CHUNK, n - from);
            int gi = go + from, xi = xo + from, oi = oo + from, ei = outIsFree ? oi : 0;
            geluExponentials(x, xi, e, ei, len);
            int i = 0;
            for (int bound = S.loopBound(len); i < bound; i += S.length()) {
                var v = FloatVector.fromArray(S, x, xi + i);
                var v2 = v.mul(v);
                var capped = FloatVector.fromArray(S, e, ei + i).min(GELU_EXP_CAP_VALUE);
                var s = one.div(one.add(capped));
                var right = two.mul(v).mul(s).mul(capped.mul(s)).mul(v2.mul(3f * GELU_KAPPA).add(one).mul(SQRT_2_OVER_PI));
                FloatVector.fromArray(S, g, gi + i).mul(s.add(right)).intoArray(out, oi + i);
            }
            for (; i < len; i++) {
                out[oi + i] = g[gi + i] * geluDerivative(x[xi + i], e[ei + i]);
            }
        }
    }

    /**
     * out = gelu'(x), the factor {@link #geluBackward} multiplies g by; out may be x itself (in place). Computed
     * with GELU itself (into a scratch buffer): the kernel for layers that keep it is {@link #geluAndDerivative}.
     */
    public static void geluDerivative(float[] x, int xo, float[] out, int oo, int n) {
        float[] act = GELU_SCRATCH.get();
        for (int from = 0; from < n; from += GELU_CHUNK) {
            int len = Math.min(GELU_CHUNK, n - from);
            geluAndDerivative(x, xo + from, act, 0, out, oo + from, len);
        }
    }

    /** With s = sigmoid(x): d/dx x s = s (1 + x (1 - s)). */
    public static void siluBackward(float[] g, int go, float[] x, int xo, float[] out, int oo, int n) {
        int i = 0;
        var one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var v = FloatVector.fromArray(S, x, xo + i);
            var s = one.div(one.add(VectorMath.exp(v.neg())));
            FloatVector.fromArray(S, g, go + i).mul(s).mul(v.mul(one.sub(s)).add(one)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = x[xo + i];
            float s = 1f / (1f + VectorMath.exp(-v));
            out[oo + i] = g[go + i] * s * (1f + v * (1f - s));
        }
    }

    /** g where lo <= x <= hi (torch passes the gradient at the bounds), else 0; NaN x gets 0. */
    public static void clampBackward(float[] g, int go, float[] x, int xo, float lo, float hi, float[] out, int oo, int n) {
        int i = 0;
        var zero = FloatVector.zero(S);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            var v = FloatVector.fromArray(S, x, xo + i);
            VectorMask<Float> inside = v.compare(VectorOperators.GE, lo).and(v.compare(VectorOperators.LE, hi));
            zero.blend(FloatVector.fromArray(S, g, go + i), inside).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float v = x[xo + i];
            out[oo + i] = v >= lo && v <= hi ? g[go + i] : 0f;
        }
    }
}
