package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.ElementwiseF32;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * Elementwise functions and activations, each forward beside its backward. Forwards take any layout and return a
 * new contiguous tensor of the same shape; backwards take the upstream gradient g plus the saved input x or
 * output y (whichever makes the derivative cheaper), of the same shape. F32 runs Vector-API kernels
 * ({@link ElementwiseF32}); F64 runs the plain formulas below, which are the reference the F32 path is tested
 * against.
 */
public final class Unary {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_KAPPA = 0.044715;
    private static final double INV_SQRT_2 = 1.0 / Math.sqrt(2.0);
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2.0 * Math.PI);
    /** Below this many elements a parallel split costs more than it saves. */
    private static final int PARALLEL_GRAIN = 1 << 15;

    private Unary() {}

    // ------------------------------------------------------------------------------------------ neg

    public static Tensor neg(Tensor x) {
        return map(x, ElementwiseF32::neg, v -> -v);
    }

    public static Tensor negBackward(Tensor g) {
        return neg(g);
    }

    // ------------------------------------------------------------------------------------------ exp

    public static Tensor exp(Tensor x) {
        return map(x, ElementwiseF32::exp, Math::exp);
    }

    /** d/dx e^x = e^x = y. */
    public static Tensor expBackward(Tensor g, Tensor y) {
        return zip("expBackward", g, y, ElementwiseF32Binary::mul, (gv, yv) -> gv * yv);
    }

    // ------------------------------------------------------------------------------------------ log

    /** Natural log; log(0) = -inf and log(x < 0) = NaN, as in torch. */
    public static Tensor log(Tensor x) {
        return map(x, ElementwiseF32::log, Math::log);
    }

    public static Tensor logBackward(Tensor g, Tensor x) {
        return zip("logBackward", g, x, ElementwiseF32Binary::div, (gv, xv) -> gv / xv);
    }

    // ------------------------------------------------------------------------------------------ sqrt

    public static Tensor sqrt(Tensor x) {
        return map(x, ElementwiseF32::sqrt, Math::sqrt);
    }

    /** d/dx sqrt(x) = 1 / (2 sqrt(x)) = 1 / (2y); inf at x = 0, as in torch. */
    public static Tensor sqrtBackward(Tensor g, Tensor y) {
        return zip("sqrtBackward", g, y, Unary::sqrtBackwardF32, (gv, yv) -> gv / (2 * yv));
    }

    private static void sqrtBackwardF32(float[] g, int go, float[] y, int yo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            out[oo + i] = g[go + i] / (2f * y[yo + i]);
        }
    }

    // ------------------------------------------------------------------------------------------ abs

    public static Tensor abs(Tensor x) {
        return map(x, ElementwiseF32::abs, Math::abs);
    }

    /** g * sign(x), with sign(0) = 0 like torch. */
    public static Tensor absBackward(Tensor g, Tensor x) {
        return zip("absBackward", g, x, Unary::absBackwardF32, (gv, xv) -> gv * Math.signum(xv));
    }

    private static void absBackwardF32(float[] g, int go, float[] x, int xo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            out[oo + i] = g[go + i] * Math.signum(x[xo + i]);
        }
    }

    // ------------------------------------------------------------------------------------------ tanh

    public static Tensor tanh(Tensor x) {
        return map(x, ElementwiseF32::tanh, Math::tanh);
    }

    public static Tensor tanhBackward(Tensor g, Tensor y) {
        return zip("tanhBackward", g, y, ElementwiseF32::tanhBackward, (gv, yv) -> gv * (1 - yv * yv));
    }

    // ------------------------------------------------------------------------------------------ sigmoid

    public static Tensor sigmoid(Tensor x) {
        return map(x, ElementwiseF32::sigmoid, Unary::sigmoid);
    }

    public static Tensor sigmoidBackward(Tensor g, Tensor y) {
        return zip("sigmoidBackward", g, y, ElementwiseF32::sigmoidBackward, (gv, yv) -> gv * yv * (1 - yv));
    }

    private static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }

    // ------------------------------------------------------------------------------------------ relu

    /** max(x, 0); NaN stays NaN, as in torch. */
    public static Tensor relu(Tensor x) {
        return map(x, ElementwiseF32::relu, v -> Double.isNaN(v) ? v : Math.max(v, 0));
    }

    /** g where x > 0; the gradient at exactly 0 is 0, as in torch. */
    public static Tensor reluBackward(Tensor g, Tensor x) {
        return zip("reluBackward", g, x, ElementwiseF32::reluBackward, (gv, xv) -> xv <= 0 ? 0 : gv);
    }

    // ------------------------------------------------------------------------------------------ gelu (tanh)

    /** GELU with GPT-2's tanh approximation, as torch's {@code gelu(approximate='tanh')}. */
    public static Tensor gelu(Tensor x) {
        return map(x, ElementwiseF32::gelu,
                v -> 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_KAPPA * v * v * v))));
    }

    public static Tensor geluBackward(Tensor g, Tensor x) {
        return zip("geluBackward", g, x, ElementwiseF32::geluBackward, (gv, v) -> gv * geluDerivative(v));
    }

    /**
     * d gelu / dx at x, elementwise: what {@link #geluBackward} multiplies g by, so that {@code g * geluDerivative(x)}
     * is the same bits as {@code geluBackward(g, x)}. A layer that keeps it from its forward needs no x and no
     * exponential in its backward ({@link MatMul#linearGelu}).
     */
    public static Tensor geluDerivative(Tensor x) {
        return map(x, ElementwiseF32::geluDerivative, Unary::geluDerivative);
    }

    private static double geluDerivative(double v) {
        double t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_KAPPA * v * v * v));
        double left = 0.5 * (1 + t);
        double right = 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * v * v);
        return left + right;
    }

    // ------------------------------------------------------------------------------------------ gelu (exact)

    /** GELU x * Phi(x) with the exact normal CDF, as torch's default {@code gelu}. */
    public static Tensor geluExact(Tensor x) {
        return map(x, Unary::geluExactF32, v -> v * normalCdf(v));
    }

    /** d/dx x Phi(x) = Phi(x) + x phi(x). */
    public static Tensor geluExactBackward(Tensor g, Tensor x) {
        return zip("geluExactBackward", g, x, Unary::geluExactBackwardF32,
                (gv, v) -> gv * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v)));
    }

    // erf has no Vector-API operator; the double formula rounded once is both simple and exact to float.
    private static void geluExactF32(float[] x, int xo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xo + i];
            out[oo + i] = (float) (v * normalCdf(v));
        }
    }

    private static void geluExactBackwardF32(float[] g, int go, float[] x, int xo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xo + i];
            out[oo + i] = (float) (g[go + i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v)));
        }
    }

    /** Standard normal CDF; via erfc on the left so tiny tail values keep their relative accuracy. */
    static double normalCdf(double v) {
        return 0.5 * erfc(-v * INV_SQRT_2);
    }

    /**
     * The error function to within a few ulps in double (checked against a 100-digit series in UnaryTest):
     * Taylor polynomials built from the everywhere-positive series erf(x) = 2/sqrt(pi) e^(-x^2) sum_n (2x^2)^n x /
     * (1*3*...*(2n+1)), which has no cancellation, for |x| < 2.5, and 1 - erfc(x) beyond.
     */
    static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double ax = Math.abs(x);
        double r = ax < ERF_TABLE_END ? taylor(ERF_TAYLOR, 0, ax) : 1 - erfc(ax);
        return x < 0 ? -r : r;
    }

    /** Complementary error function 1 - erf(x), accurate in relative terms far into the right tail. */
    static double erfc(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        if (x < 0) {
            return 2 - erfc(-x);
        }
        // 1 - erf would lose erfc's relative accuracy as erfc shrinks, so from 1.5 on erfc has its own table
        if (x < ERFC_TABLE_START) {
            return 1 - taylor(ERF_TAYLOR, 0, x);
        }
        return x < ERFC_TABLE_END ? taylor(ERFC_TAYLOR, ERFC_TABLE_START, x) : erfcContinuedFraction(x);
    }

    /*
     * erf on [0, 2.5) and erfc on [1.5, 4) are evaluated from Taylor polynomials around the centers j/32, built
     * once from the slow exact formulas below: erf's k-th derivative is (2/sqrt(pi)) (-1)^(k-1) H_(k-1)(c) e^(-c^2)
     * (physicists' Hermite H) and erfc's is its negative; with |x - c| <= 1/64 the terms past degree 9 are below
     * 1e-16 relative. Ten fused multiply-adds per call instead of dozens of dependent steps (or divisions).
     */
    private static final int TAYLOR_PER_UNIT = 32;
    private static final int TAYLOR_TERMS = 10;
    private static final double ERF_TABLE_END = 2.5;
    private static final double ERFC_TABLE_START = 1.5;
    private static final double ERFC_TABLE_END = 4;
    private static final double[] ERF_TAYLOR = taylorTable(0, ERF_TABLE_END, false);
    private static final double[] ERFC_TAYLOR = taylorTable(ERFC_TABLE_START, ERFC_TABLE_END, true);

    /** Coefficients of erf (or erfc) around each center j/32 in [from, to], TAYLOR_TERMS per center. */
    private static double[] taylorTable(double from, double to, boolean complement) {
        int first = (int) (from * TAYLOR_PER_UNIT);
        int centers = (int) (to * TAYLOR_PER_UNIT) - first + 1;
        double[] table = new double[centers * TAYLOR_TERMS];
        for (int i = 0; i < centers; i++) {
            double c = (double) (first + i) / TAYLOR_PER_UNIT;
            double scale = (complement ? -2 : 2) / Math.sqrt(Math.PI) * Math.exp(-c * c);
            table[i * TAYLOR_TERMS] = complement ? erfcContinuedFraction(c) : erfSeries(c);
            double hPrev = 0; // H_(k-2)
            double h = 1; // H_(k-1), starting at H_0
            double factorial = 1;
            for (int k = 1; k < TAYLOR_TERMS; k++) {
                factorial *= k;
                double sign = (k - 1) % 2 == 0 ? 1 : -1;
                table[i * TAYLOR_TERMS + k] = sign * scale * h / factorial;
                double next = 2 * c * h - 2 * (k - 1) * hPrev; // H_k = 2c H_(k-1) - 2(k-1) H_(k-2)
                hPrev = h;
                h = next;
            }
        }
        return table;
    }

    /** The Taylor polynomial of the center nearest x, from a table whose first center is {@code from}. */
    private static double taylor(double[] table, double from, double x) {
        int j = (int) Math.rint(x * TAYLOR_PER_UNIT);
        double d = x - (double) j / TAYLOR_PER_UNIT;
        int base = (j - (int) (from * TAYLOR_PER_UNIT)) * TAYLOR_TERMS;
        double r = table[base + TAYLOR_TERMS - 1];
        for (int k = TAYLOR_TERMS - 2; k >= 0; k--) {
            r = Math.fma(r, d, table[base + k]);
        }
        return r;
    }

    /** The series itself: exact to a few ulps, but a few dozen dependent steps, so only used to build the table. */
    private static double erfSeries(double x) {
        double x2 = x * x;
        double term = x;
        double sum = x;
        for (int n = 1; term > sum * 1e-17; n++) {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x2) * sum;
    }

    /**
     * erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up from a depth
     * that converges to double precision for x >= 1.5 (the fraction converges faster as x grows). Used directly
     * beyond 4 and to build the erfc table.
     */
    private static double erfcContinuedFraction(double x) {
        if (x > 27) {
            return 0; // below the smallest double
        }
        int depth = x < 2 ? 100 : x < 3 ? 60 : x < 4 ? 30 : 20;
        double f = x;
        for (int k = depth; k >= 1; k--) {
            f = x + 0.5 * k / f;
        }
        // e^(-x^2) as e^(-z^2) e^(-(x-z)(x+z)) with z = x rounded to 1/16, so x^2's rounding error is not amplified.
        double z = Math.rint(x * 16) / 16;
        double e = Math.exp(-z * z) * Math.exp(-(x - z) * (x + z));
        return e / Math.sqrt(Math.PI) / f;
    }

    // ------------------------------------------------------------------------------------------ silu

    public static Tensor silu(Tensor x) {
        return map(x, ElementwiseF32::silu, v -> v * sigmoid(v));
    }

    public static Tensor siluBackward(Tensor g, Tensor x) {
        return zip("siluBackward", g, x, ElementwiseF32::siluBackward, (gv, v) -> {
            double s = sigmoid(v);
            return gv * s * (1 + v * (1 - s));
        });
    }

    // ------------------------------------------------------------------------------------------ clamp

    /** min(max(x, min), max), as torch.clamp (NaN stays NaN; min > max gives max everywhere). */
    public static Tensor clamp(Tensor x, double min, double max) {
        if (Double.isNaN(min) || Double.isNaN(max)) {
            throw new IllegalArgumentException("clamp: bounds must not be NaN, got min=" + min + ", max=" + max);
        }
        float lo = (float) min;
        float hi = (float) max;
        return map(x, (xs, xo, out, oo, n) -> ElementwiseF32.clamp(xs, xo, lo, hi, out, oo, n),
                v -> Double.isNaN(v) ? v : Math.min(Math.max(v, min), max));
    }

    /** g where min <= x <= max (the bounds themselves pass the gradient, as in torch), else 0. */
    public static Tensor clampBackward(Tensor g, Tensor x, double min, double max) {
        float lo = (float) min;
        float hi = (float) max;
        return zip("clampBackward", g, x,
                (gs, go, xs, xo, out, oo, n) -> ElementwiseF32.clampBackward(gs, go, xs, xo, lo, hi, out, oo, n),
                (gv, xv) -> xv >= min && xv <= max ? gv : 0);
    }

    // ------------------------------------------------------------------------------------------ drivers

    /** An F32 kernel over contiguous ranges: out[oo + i] = f(x[xo + i]) for i < n. */
    @FunctionalInterface
    interface F32Map {
        void apply(float[] x, int xo, float[] out, int oo, int n);
    }

    /** An F32 kernel over contiguous ranges: out[oo + i] = f(a[ao + i], b[bo + i]) for i < n. */
    @FunctionalInterface
    interface F32Zip {
        void apply(float[] a, int ao, float[] b, int bo, float[] out, int oo, int n);
    }

    /** Adapters from the strided binary row kernels to unit-stride zip kernels. */
    private static final class ElementwiseF32Binary {
        static void mul(float[] a, int ao, float[] b, int bo, float[] out, int oo, int n) {
            ElementwiseF32.mul(a, ao, 1, b, bo, 1, out, oo, n);
        }

        static void div(float[] a, int ao, float[] b, int bo, float[] out, int oo, int n) {
            ElementwiseF32.div(a, ao, 1, b, bo, 1, out, oo, n);
        }
    }

    static Tensor map(Tensor x, F32Map f32, DoubleUnaryOperator f64) {
        Tensor src = x.contiguous();
        int n = src.numel();
        Tensor out = Tensor.emptyLike(x);   // every element is written
        int so = src.offset();
        if (x.dtype() == DType.F32) {
            float[] in = src.f32Data();
            float[] o = out.f32Data();
            if (isOneChunk(n)) {
                f32.apply(in, so, o, 0, n);
            } else {
                forChunks(n, CHUNKS_F32.take().map(f32, in, so, o));
            }
        } else {
            double[] in = src.f64Data();
            double[] o = out.f64Data();
            forChunks(n, (from, to) -> {
                for (int i = from; i < to; i++) {
                    o[i] = f64.applyAsDouble(in[so + i]);
                }
            });
        }
        return out;
    }

    static Tensor zip(String op, Tensor a, Tensor b, F32Zip f32, DoubleBinaryOperator f64) {
        if (!a.sameShape(b)) {
            throw new ShapeException(op + ": gradient shape " + Shapes.str(a.shape()) + " differs from saved tensor shape "
                    + Shapes.str(b.shape()));
        }
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtypes " + a.dtype() + " and " + b.dtype() + " differ");
        }
        Tensor ac = a.contiguous();
        Tensor bc = b.contiguous();
        int n = ac.numel();
        int ao = ac.offset();
        int bo = bc.offset();
        Tensor out = Tensor.emptyLike(a);   // every element is written
        if (a.dtype() == DType.F32) {
            float[] av = ac.f32Data();
            float[] bv = bc.f32Data();
            float[] o = out.f32Data();
            if (isOneChunk(n)) {
                f32.apply(av, ao, bv, bo, o, 0, n);
            } else {
                forChunks(n, CHUNKS_F32.take().zip(f32, av, ao, bv, bo, o));
            }
        } else {
            double[] av = ac.f64Data();
            double[] bv = bc.f64Data();
            double[] o = out.f64Data();
            forChunks(n, (from, to) -> {
                for (int i = from; i < to; i++) {
                    o[i] = f64.applyAsDouble(av[ao + i], bv[bo + i]);
                }
            });
        }
        return out;
    }

    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    /**
     * Chunks [from, to) of an F32 map (x to out) or zip (a and b to out), as a reusable parallel task (see
     * {@link Parallel.RangeTask}): no closure per call.
     */
    private static final class ChunksF32 extends Parallel.RangeTask {
        private F32Map map;
        private F32Zip zip;
        private float[] a, b, out;
        private int ao, bo;

        ChunksF32 map(F32Map f, float[] x, int xo, float[] out) {
            return set(f, null, x, xo, null, 0, out);
        }

        ChunksF32 zip(F32Zip f, float[] a, int ao, float[] b, int bo, float[] out) {
            return set(null, f, a, ao, b, bo, out);
        }

        private ChunksF32 set(F32Map map, F32Zip zip, float[] a, int ao, float[] b, int bo, float[] out) {
            this.map = map;
            this.zip = zip;
            this.a = a;
            this.ao = ao;
            this.b = b;
            this.bo = bo;
            this.out = out;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            if (map != null) {
                map.apply(a, ao + from, out, from, to - from);
            } else {
                zip.apply(a, ao + from, b, bo + from, out, from, to - from);
            }
        }

        @Override
        protected void clear() {
            map = null;
            zip = null;
            a = b = out = null;
        }
    }

    private static final Parallel.TaskCache<ChunksF32> CHUNKS_F32 = new Parallel.TaskCache<>(ChunksF32::new);

    /**
     * True when {@link #forChunks} would run all of [0, n) as one chunk on the calling thread (always so with one
     * thread). The F32 paths then call their kernel directly, and otherwise hand over a reusable
     * {@link Parallel.RangeTask}: a closure is an allocation per call, which a training step would pay for every
     * elementwise op.
     */
    static boolean isOneChunk(int n) {
        return Parallel.chunks(n, PARALLEL_GRAIN) <= 1;
    }

    /** Runs task over [0, n) in equal chunks over the threads; elementwise results do not depend on the split. */
    static void forChunks(int n, Parallel.RangeTask task) {
        Parallel.forEachRange(n, Parallel.chunks(n, PARALLEL_GRAIN), 1, task);
    }

    /** The same with a lambda, a new object per call: for the F64 reference paths. */
    static void forChunks(int n, Range body) {
        int chunks = Parallel.chunks(n, PARALLEL_GRAIN);
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        Parallel.forEachTask(chunks, c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }
}
