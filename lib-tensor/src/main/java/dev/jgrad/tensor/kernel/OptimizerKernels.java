package dev.jgrad.tensor.kernel;

import dev.jgrad.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * In-place parameter updates: one fused pass per optimizer step over a parameter, its gradient and its state, so a
 * step reads each array once and allocates nothing. The parameter and gradient live at offsets inside their
 * storage ({@code p[pOff .. pOff + n)}, {@code g[gOff .. gOff + n)}); the state arrays belong to the optimizer and
 * start at 0.
 *
 * <p>Each update follows {@code torch.optim} 1.13's single-tensor formulas operation by operation (same order of
 * multiplies and adds), so the F64 loops reproduce PyTorch's float64 trajectories to rounding and are the
 * reference the F32 Vector-API loops are tested against. The per-step scalars (bias corrections, step size) are
 * computed by the caller in double and passed in already combined, as PyTorch does in Python.
 *
 * <p>Every F32 loop has a scalar tail computing exactly the same expression as its vector body, so the result
 * does not depend on the vector width or on where an array's tail starts.
 *
 * <p>The Adam updates of a large parameter are split into slices over {@link Parallel}'s threads. Each element
 * is updated by exactly one slice with the same expression, and slices start on multiples of the vector length,
 * so the result is bit-identical for any thread count.
 */
public final class OptimizerKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /**
     * Below this many elements per slice a fork-join handoff (5 to 10 us, more when the other core is busy) costs
     * more than the slice saves: an Adam update runs at about 1 ns per element on one core.
     */
    static final int MIN_ELEMENTS_PER_TASK = 1 << 15;

    private OptimizerKernels() {}

    /** How many slices to split an update of n elements into: 1 means run it on the calling thread. */
    private static int sliceCount(int n) {
        int blocks = (n + S.length() - 1) / S.length();
        return Math.min(blocks, Parallel.chunks(n, MIN_ELEMENTS_PER_TASK));
    }

    /**
     * An Adam or AdamW update handed to threads in slices that start on multiples of the vector length: a
     * reusable task (see {@link Parallel.RangeTask}), so that updating a large parameter allocates nothing.
     */
    private static final class AdamSlices extends Parallel.RangeTask {
        private boolean decoupled;
        private float[] p, g, m, v;
        private int pOff, gOff;
        private float beta1, beta2, eps, decay, stepSize, sqrtBias2;

        /** decay is the weight decay for Adam and the decay factor for AdamW (decoupled). */
        AdamSlices set(boolean decoupled, float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, float beta1,
                       float beta2, float eps, float decay, float stepSize, float sqrtBias2) {
            this.decoupled = decoupled;
            this.p = p;
            this.pOff = pOff;
            this.g = g;
            this.gOff = gOff;
            this.m = m;
            this.v = v;
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.eps = eps;
            this.decay = decay;
            this.stepSize = stepSize;
            this.sqrtBias2 = sqrtBias2;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            if (decoupled) {
                adamwSlice(p, pOff + from, g, gOff + from, m, v, from, to - from, beta1, beta2, eps, decay, stepSize,
                        sqrtBias2);
            } else {
                adamSlice(p, pOff + from, g, gOff + from, m, v, from, to - from, beta1, beta2, eps, decay, stepSize,
                        sqrtBias2);
            }
        }

        @Override
        protected void clear() {
            p = g = m = v = null;
        }
    }

    private static final Parallel.TaskCache<AdamSlices> ADAM_SLICES = new Parallel.TaskCache<>(AdamSlices::new);

    // ------------------------------------------------------------------------------------------ sgd

    /**
     * SGD with optional L2 weight decay, momentum, dampening and Nesterov (torch.optim.SGD):
     * <pre>
     *   d = g + weightDecay * p
     *   buf = bufScale * buf + bufInput * d      (first step: bufScale 0, bufInput 1, i.e. buf = d)
     *   d = nesterov ? d + momentum * buf : buf   (only with momentum)
     *   p = p - lr * d
     * </pre>
     * With {@code buf == null} there is no momentum and {@code p = p - lr * d}. The caller passes
     * {@code bufScale = momentum, bufInput = 1 - dampening} after the first step.
     */
    public static void sgd(float[] p, int pOff, float[] g, int gOff, float[] buf, int n, float lr, float weightDecay,
                           float bufScale, float bufInput, boolean nesterov, float momentum) {
        int i = 0;
        int bound = S.loopBound(n);
        if (buf == null) {
            for (; i < bound; i += S.length()) {
                var vp = FloatVector.fromArray(S, p, pOff + i);
                var d = FloatVector.fromArray(S, g, gOff + i).add(vp.mul(weightDecay));
                vp.sub(d.mul(lr)).intoArray(p, pOff + i);
            }
            for (; i < n; i++) {
                float d = g[gOff + i] + weightDecay * p[pOff + i];
                p[pOff + i] = p[pOff + i] - lr * d;
            }
            return;
        }
        if (nesterov) {
            for (; i < bound; i += S.length()) {
                var vp = FloatVector.fromArray(S, p, pOff + i);
                var d = FloatVector.fromArray(S, g, gOff + i).add(vp.mul(weightDecay));
                var b = FloatVector.fromArray(S, buf, i).mul(bufScale).add(d.mul(bufInput));
                b.intoArray(buf, i);
                vp.sub(d.add(b.mul(momentum)).mul(lr)).intoArray(p, pOff + i);
            }
            for (; i < n; i++) {
                float d = g[gOff + i] + weightDecay * p[pOff + i];
                float b = buf[i] * bufScale + d * bufInput;
                buf[i] = b;
                p[pOff + i] = p[pOff + i] - (d + b * momentum) * lr;
            }
        } else {
            for (; i < bound; i += S.length()) {
                var vp = FloatVector.fromArray(S, p, pOff + i);
                var d = FloatVector.fromArray(S, g, gOff + i).add(vp.mul(weightDecay));
                var b = FloatVector.fromArray(S, buf, i).mul(bufScale).add(d.mul(bufInput));
                b.intoArray(buf, i);
                vp.sub(b.mul(lr)).intoArray(p, pOff + i);
            }
            for (; i < n; i++) {
                float d = g[gOff + i] + weightDecay * p[pOff + i];
                float b = buf[i] * bufScale + d * bufInput;
                buf[i] = b;
                p[pOff + i] = p[pOff + i] - b * lr;
            }
        }
    }

    /** F64 reference of {@link #sgd(float[], int, float[], int, float[], int, float, float, float, float, boolean, float)}. */
    public static void sgd(double[] p, int pOff, double[] g, int gOff, double[] buf, int n, double lr,
                           double weightDecay, double bufScale, double bufInput, boolean nesterov, double momentum) {
        for (int i = 0; i < n; i++) {
            double d = g[gOff + i] + weightDecay * p[pOff + i];
            if (buf != null) {
                double b = buf[i] * bufScale + d * bufInput;
                buf[i] = b;
                d = nesterov ? d + b * momentum : b;
            }
            p[pOff + i] = p[pOff + i] - d * lr;
        }
    }

    // ------------------------------------------------------------------------------------------ adam

    /**
     * Adam with L2 weight decay folded into the gradient (torch.optim.Adam):
     * <pre>
     *   d = g + weightDecay * p
     *   m = beta1 * m + (1 - beta1) * d
     *   v = beta2 * v + (1 - beta2) * d * d
     *   p = p - stepSize * m / (sqrt(v) / sqrtBias2 + eps)
     * </pre>
     * where {@code stepSize = lr / (1 - beta1^t)} and {@code sqrtBias2 = sqrt(1 - beta2^t)} at step t (from 1):
     * eps is added to the bias-corrected root of v, as PyTorch does.
     */
    public static void adam(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int n, float beta1,
                            float beta2, float eps, float weightDecay, float stepSize, float sqrtBias2) {
        int tasks = sliceCount(n);
        if (tasks <= 1) {
            adamSlice(p, pOff, g, gOff, m, v, 0, n, beta1, beta2, eps, weightDecay, stepSize, sqrtBias2);
            return;
        }
        Parallel.forEachRange(n, tasks, S.length(), ADAM_SLICES.take().set(false, p, pOff, g, gOff, m, v, beta1, beta2,
                eps, weightDecay, stepSize, sqrtBias2));
    }

    /** {@link #adam} on n elements, the state arrays read and written from {@code mvOff}. */
    private static void adamSlice(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int mvOff, int n,
                                  float beta1, float beta2, float eps, float weightDecay, float stepSize,
                                  float sqrtBias2) {
        float oneMinusBeta1 = 1f - beta1;
        float oneMinusBeta2 = 1f - beta2;
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            var vp = FloatVector.fromArray(S, p, pOff + i);
            var d = FloatVector.fromArray(S, g, gOff + i).add(vp.mul(weightDecay));
            var vm = FloatVector.fromArray(S, m, mvOff + i).mul(beta1).add(d.mul(oneMinusBeta1));
            var vv = FloatVector.fromArray(S, v, mvOff + i).mul(beta2).add(d.mul(oneMinusBeta2).mul(d));
            vm.intoArray(m, mvOff + i);
            vv.intoArray(v, mvOff + i);
            var denom = vv.sqrt().div(sqrtBias2).add(eps);
            vp.sub(vm.div(denom).mul(stepSize)).intoArray(p, pOff + i);
        }
        for (; i < n; i++) {
            float d = g[gOff + i] + weightDecay * p[pOff + i];
            float mi = m[mvOff + i] * beta1 + d * oneMinusBeta1;
            float vi = v[mvOff + i] * beta2 + d * oneMinusBeta2 * d;
            m[mvOff + i] = mi;
            v[mvOff + i] = vi;
            float denom = (float) Math.sqrt(vi) / sqrtBias2 + eps;
            p[pOff + i] = p[pOff + i] - mi / denom * stepSize;
        }
    }

    /** F64 reference of {@link #adam(float[], int, float[], int, float[], float[], int, float, float, float, float, float, float)}. */
    public static void adam(double[] p, int pOff, double[] g, int gOff, double[] m, double[] v, int n, double beta1,
                            double beta2, double eps, double weightDecay, double stepSize, double sqrtBias2) {
        double oneMinusBeta1 = 1 - beta1;
        double oneMinusBeta2 = 1 - beta2;
        for (int i = 0; i < n; i++) {
            double d = g[gOff + i] + weightDecay * p[pOff + i];
            m[i] = m[i] * beta1 + d * oneMinusBeta1;
            v[i] = v[i] * beta2 + d * oneMinusBeta2 * d;
            double denom = Math.sqrt(v[i]) / sqrtBias2 + eps;
            p[pOff + i] = p[pOff + i] - m[i] / denom * stepSize;
        }
    }

    // ------------------------------------------------------------------------------------------ adamw

    /**
     * AdamW: decoupled weight decay, applied to the parameter before the Adam update and never seen by the
     * moments (torch.optim.AdamW):
     * <pre>
     *   p = p * decayFactor                       (decayFactor = 1 - lr * weightDecay)
     *   m = beta1 * m + (1 - beta1) * g
     *   v = beta2 * v + (1 - beta2) * g * g
     *   p = p - stepSize * m / (sqrt(v) / sqrtBias2 + eps)
     * </pre>
     */
    public static void adamw(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int n, float beta1,
                             float beta2, float eps, float decayFactor, float stepSize, float sqrtBias2) {
        int tasks = sliceCount(n);
        if (tasks <= 1) {
            adamwSlice(p, pOff, g, gOff, m, v, 0, n, beta1, beta2, eps, decayFactor, stepSize, sqrtBias2);
            return;
        }
        Parallel.forEachRange(n, tasks, S.length(), ADAM_SLICES.take().set(true, p, pOff, g, gOff, m, v, beta1, beta2,
                eps, decayFactor, stepSize, sqrtBias2));
    }

    /** {@link #adamw} on n elements, the state arrays read and written from {@code mvOff}. */
    private static void adamwSlice(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int mvOff, int n,
                                   float beta1, float beta2, float eps, float decayFactor, float stepSize,
                                   float sqrtBias2) {
        float oneMinusBeta1 = 1f - beta1;
        float oneMinusBeta2 = 1f - beta2;
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            var vp = FloatVector.fromArray(S, p, pOff + i).mul(decayFactor);
            var vg = FloatVector.fromArray(S, g, gOff + i);
            var vm = FloatVector.fromArray(S, m, mvOff + i).mul(beta1).add(vg.mul(oneMinusBeta1));
            var vv = FloatVector.fromArray(S, v, mvOff + i).mul(beta2).add(vg.mul(oneMinusBeta2).mul(vg));
            vm.intoArray(m, mvOff + i);
            vv.intoArray(v, mvOff + i);
            var denom = vv.sqrt().div(sqrtBias2).add(eps);
            vp.sub(vm.div(denom).mul(stepSize)).intoArray(p, pOff + i);
        }
        for (; i < n; i++) {
            float pi = p[pOff + i] * decayFactor;
            float gi = g[gOff + i];
            float mi = m[mvOff + i] * beta1 + gi * oneMinusBeta1;
            float vi = v[mvOff + i] * beta2 + gi * oneMinusBeta2 * gi;
            m[mvOff + i] = mi;
            v[mvOff + i] = vi;
            float denom = (float) Math.sqrt(vi) / sqrtBias2 + eps;
            p[pOff + i] = pi - mi / denom * stepSize;
        }
    }

    /** F64 reference of {@link #adamw(float[], int, float[], int, float[], float[], int, float, float, float, float, float, float)}. */
    public static void adamw(double[] p, int pOff, double[] g, int gOff, double[] m, double[] v, int n, double beta1,
                             double beta2, double eps, double decayFactor, double stepSize, double sqrtBias2) {
        double oneMinusBeta1 = 1 - beta1;
        double oneMinusBeta2 = 1 - beta2;
        for (int i = 0; i < n; i++) {
            double pi = p[pOff + i] * decayFactor;
            double gi = g[gOff + i];
            m[i] = m[i] * beta1 + gi * oneMinusBeta1;
            v[i] = v[i] * beta2 + gi * oneMinusBeta2 * gi;
            double denom = Math.sqrt(v[i]) / sqrtBias2 + eps;
            p[pOff + i] = pi - m[i] / denom * stepSize;
        }
    }

    // ------------------------------------------------------------------------------------------ clipping

    /**
     * Sum of squares in double, strictly left to right: the order is fixed so a gradient norm (and therefore
     * whether and how much it is clipped) is the same on every machine and thread count.
     */
    public static double sumOfSquares(float[] a, int off, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double x = a[off + i];
            sum += x * x;
        }
        return sum;
    }

    public static double sumOfSquares(double[] a, int off, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += a[off + i] * a[off + i];
        }
        return sum;
    }

    /** a *= s in place. */
    public static void scale(float[] a, int off, int n, float s) {
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, a, off + i).mul(s).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] *= s;
        }
    }

    public static void scale(double[] a, int off, int n, double s) {
        for (int i = 0; i < n; i++) {
            a[off + i] *= s;
        }
    }
}
