package dev.jgrad.tensor.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgrad.tensor.Rng;
import org.junit.jupiter.api.Test;

/**
 * The F32 Vector-API update loops against the F64 reference loops, and vector body against scalar tail: both
 * compute the same float expression, so an element's result must not depend on whether it fell in the vector part
 * (checked bit for bit by updating each element alone, which runs it through the tail).
 */
class OptimizerKernelsTest {
    private static final int[] SIZES = {1, 3, 15, 17, 31, 33, 127, 1000, 1031};
    private static final int P_OFF = 5;
    private static final int G_OFF = 2;

    /** Parameter, gradient and two state arrays, stored at offsets P_OFF / G_OFF like views into larger storage. */
    private record Arrays(double[] p, double[] g, double[] m, double[] v) {
        static Arrays random(Rng rng, int n) {
            double[] p = new double[P_OFF + n + 3];
            double[] g = new double[G_OFF + n + 1];
            double[] m = new double[n];
            double[] v = new double[n];
            for (int i = 0; i < p.length; i++) {
                p[i] = rng.nextGaussian();
            }
            for (int i = 0; i < g.length; i++) {
                g[i] = rng.nextGaussian() * 0.1;
            }
            for (int i = 0; i < n; i++) {
                m[i] = rng.nextGaussian() * 0.01;
                v[i] = Math.abs(rng.nextGaussian()) * 1e-3;
            }
            return new Arrays(p, g, m, v);
        }
    }

    private static float[] f32(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    private static double[] widen(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    @FunctionalInterface
    private interface F32Update {
        void run(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int n);
    }

    @FunctionalInterface
    private interface F64Update {
        void run(double[] p, int pOff, double[] g, int gOff, double[] m, double[] v, int n);
    }

    /** Three steps in both precisions; F32 must stay within float rounding of F64 and match itself element-wise. */
    private static void check(String name, F32Update f32, F64Update f64, double tolerance) {
        Rng rng = new Rng(17);
        for (int n : SIZES) {
            Arrays a = Arrays.random(rng, n);
            float[] p = f32(a.p()), g = f32(a.g()), m = f32(a.m()), v = f32(a.v());
            double[] pd = widen(p), gd = widen(g), md = widen(m), vd = widen(v);
            for (int step = 0; step < 3; step++) {
                f32.run(p, P_OFF, g, G_OFF, m, v, n);
                f64.run(pd, P_OFF, gd, G_OFF, md, vd, n);
            }
            for (int i = 0; i < pd.length; i++) {
                double scale = Math.max(1, Math.abs(pd[i]));
                assertEquals(pd[i], p[i], tolerance * scale, name + " n=" + n + " p[" + i + "]");
            }
            assertArrayEquals(md, widen(m), tolerance, name + " n=" + n + " m");
            assertArrayEquals(vd, widen(v), tolerance, name + " n=" + n + " v");

            // Each element alone (n = 1, the scalar tail) gives exactly the vector loop's bits.
            float[] p1 = f32(a.p()), m1 = f32(a.m()), v1 = f32(a.v());
            for (int step = 0; step < 3; step++) {
                for (int i = 0; i < n; i++) {
                    float[] pi = {p1[P_OFF + i]}, mi = {m1[i]}, vi = {v1[i]};
                    f32.run(pi, 0, new float[] {g[G_OFF + i]}, 0, mi, vi, 1);
                    p1[P_OFF + i] = pi[0];
                    m1[i] = mi[0];
                    v1[i] = vi[0];
                }
            }
            assertArrayEquals(p, p1, name + " n=" + n + ": vector body and scalar tail differ");
            assertArrayEquals(m, m1, name + " n=" + n + " m: vector body and scalar tail differ");
        }
    }

    @Test
    void adamw() {
        check("adamw",
                (p, po, g, go, m, v, n) -> OptimizerKernels.adamw(p, po, g, go, m, v, n, 0.9f, 0.95f, 1e-8f, 0.999f, 0.01f, 0.3f),
                (p, po, g, go, m, v, n) -> OptimizerKernels.adamw(p, po, g, go, m, v, n, 0.9f, 0.95f, 1e-8f, 0.999f, 0.01f, 0.3f),
                1e-5);
    }

    @Test
    void adam() {
        check("adam",
                (p, po, g, go, m, v, n) -> OptimizerKernels.adam(p, po, g, go, m, v, n, 0.8f, 0.99f, 1e-6f, 0.1f, 0.01f, 0.5f),
                (p, po, g, go, m, v, n) -> OptimizerKernels.adam(p, po, g, go, m, v, n, 0.8f, 0.99f, 1e-6f, 0.1f, 0.01f, 0.5f),
                1e-5);
    }

    @Test
    void sgdVariants() {
        // The momentum buffer rides in the m slot; v is unused.
        check("sgd",
                (p, po, g, go, m, v, n) -> OptimizerKernels.sgd(p, po, g, go, null, n, 0.1f, 0.01f, 0, 1, false, 0),
                (p, po, g, go, m, v, n) -> OptimizerKernels.sgd(p, po, g, go, null, n, 0.1f, 0.01f, 0, 1, false, 0),
                1e-6);
        check("sgd momentum",
                (p, po, g, go, m, v, n) -> OptimizerKernels.sgd(p, po, g, go, m, n, 0.1f, 0.01f, 0.9f, 0.75f, false, 0.9f),
                (p, po, g, go, m, v, n) -> OptimizerKernels.sgd(p, po, g, go, m, n, 0.1f, 0.01f, 0.9f, 0.75f, false, 0.9f),
                1e-6);
        check("sgd nesterov",
                (p, po, g, go, m, v, n) -> OptimizerKernels.sgd(p, po, g, go, m, n, 0.1f, 0.01f, 0.9f, 1, true, 0.9f),
                (p, po, g, go, m, v, n) -> OptimizerKernels.sgd(p, po, g, go, m, n, 0.1f, 0.01f, 0.9f, 1, true, 0.9f),
                1e-6);
    }

    @Test
    void updatesTouchOnlyTheirRange() {
        float[] p = {7, 1, 1, 1, 7};
        float[] g = {9, 0.5f, 0.5f, 0.5f, 9};
        OptimizerKernels.sgd(p, 1, g, 1, null, 3, 1, 0, 0, 1, false, 0);
        assertArrayEquals(new float[] {7, 0.5f, 0.5f, 0.5f, 7}, p);
    }

    @Test
    void sumOfSquaresAndScale() {
        Rng rng = new Rng(5);
        for (int n : SIZES) {
            double[] a = new double[n + 3];
            for (int i = 0; i < a.length; i++) {
                a[i] = rng.nextGaussian();
            }
            float[] f = f32(a);
            double[] fd = widen(f);
            double expected = 0;
            for (int i = 2; i < n + 2; i++) {
                expected += fd[i] * fd[i];
            }
            assertEquals(expected, OptimizerKernels.sumOfSquares(f, 2, n), 0.0);
            assertEquals(expected, OptimizerKernels.sumOfSquares(fd, 2, n), 0.0);
            OptimizerKernels.scale(f, 2, n, 0.5f);
            OptimizerKernels.scale(fd, 2, n, 0.5);
            assertArrayEquals(fd, widen(f), 0.0, "scaling by a power of two is exact in both precisions");
        }
    }
}
