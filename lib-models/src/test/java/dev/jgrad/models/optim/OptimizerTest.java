package dev.jgrad.models.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Update formulas against textbook forms computed here in double, the no-decay rule, state round trips and
 * argument errors. (Parity with torch.optim itself is {@link TorchParityTest}.)
 */
class OptimizerTest {
    private static final double[] P0 = {0.5, -1.0, 2.0};
    private static final double[][] GRADS = {{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.05}, {0.2, 0.2, -0.1}};

    /** A [1, 3] parameter (rank 2, so weight decay applies by default) stepped with the fixed GRADS. */
    private static double[][] run(DType dtype, Function<Map<String, Variable>, Optimizer> make) {
        Variable p = Variable.param(Tensor.of(P0, 1, 3).to(dtype));
        Optimizer opt = make.apply(Map.of("p", p));
        double[][] trajectory = new double[GRADS.length][];
        for (int t = 0; t < GRADS.length; t++) {
            p.setGrad(Tensor.of(GRADS[t], 1, 3).to(dtype));
            opt.step();
            trajectory[t] = p.value().toDoubleArray();
        }
        return trajectory;
    }

    private static void assertTrajectory(double[][] expected, double[][] actual, double tolerance) {
        for (int t = 0; t < expected.length; t++) {
            for (int i = 0; i < expected[t].length; i++) {
                assertEquals(expected[t][i], actual[t][i], tolerance, "step " + (t + 1) + ", element " + i);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ sgd

    /** torch's documented SGD, coordinate by coordinate. */
    private static double[][] sgdExpected(double lr, double mu, double dampening, boolean nesterov, double wd) {
        double[] p = P0.clone();
        double[] buf = new double[p.length];
        double[][] out = new double[GRADS.length][];
        for (int t = 0; t < GRADS.length; t++) {
            for (int i = 0; i < p.length; i++) {
                double d = GRADS[t][i] + wd * p[i];
                if (mu != 0) {
                    buf[i] = t == 0 ? d : mu * buf[i] + (1 - dampening) * d;
                    d = nesterov ? d + mu * buf[i] : buf[i];
                }
                p[i] -= lr * d;
            }
            out[t] = p.clone();
        }
        return out;
    }

    @Test
    void plainSgdStepsAgainstTheGradient() {
        double[][] got = run(DType.F64, ps -> new Sgd(ps, Sgd.settings(0.1)));
        // By hand: 0.5 - 0.1 * 0.1 = 0.49, then 0.49 + 0.04 = 0.53, then 0.53 - 0.02 = 0.51.
        assertEquals(0.49, got[0][0], 1e-15);
        assertEquals(0.53, got[1][0], 1e-15);
        assertEquals(0.51, got[2][0], 1e-15);
        assertTrajectory(sgdExpected(0.1, 0, 0, false, 0), got, 1e-15);
    }

    @Test
    void sgdMomentumDampeningNesterovAndWeightDecayMatchTheFormula() {
        for (DType dtype : DType.values()) {
            double tol = dtype == DType.F64 ? 1e-15 : 1e-6;
            assertTrajectory(sgdExpected(0.1, 0.9, 0, false, 0),
                    run(dtype, ps -> new Sgd(ps, Sgd.settings(0.1).momentum(0.9))), tol);
            assertTrajectory(sgdExpected(0.1, 0.9, 0.3, false, 0.05),
                    run(dtype, ps -> new Sgd(ps, Sgd.settings(0.1).momentum(0.9).dampening(0.3).weightDecay(0.05))), tol);
            assertTrajectory(sgdExpected(0.2, 0.8, 0, true, 0.1),
                    run(dtype, ps -> new Sgd(ps, Sgd.settings(0.2).momentum(0.8).nesterov(true).weightDecay(0.1))), tol);
        }
    }

    @Test
    void sgdMomentumBufferStartsAsTheFirstGradientEvenWithDampening() {
        // torch copies d into the buffer on the first step; dampening applies from the second step on.
        double[][] got = run(DType.F64, ps -> new Sgd(ps, Sgd.settings(1).momentum(0.5).dampening(0.5)));
        assertEquals(0.5 - 0.1, got[0][0], 1e-15);
        assertEquals(0.4 - (0.5 * 0.1 + 0.5 * -0.4), got[1][0], 1e-15);
    }

    // ------------------------------------------------------------------------------------------ adam

    /** Adam / AdamW in the textbook form: bias-corrected moments m^, v^, then p -= lr m^ / (sqrt(v^) + eps). */
    private static double[][] adamExpected(double lr, double b1, double b2, double eps, double wd, boolean decoupled) {
        double[] p = P0.clone();
        double[] m = new double[p.length];
        double[] v = new double[p.length];
        double[][] out = new double[GRADS.length][];
        for (int t = 1; t <= GRADS.length; t++) {
            for (int i = 0; i < p.length; i++) {
                double g = GRADS[t - 1][i];
                if (decoupled) {
                    p[i] -= lr * wd * p[i];
                } else {
                    g += wd * p[i];
                }
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mHat = m[i] / (1 - Math.pow(b1, t));
                double vHat = v[i] / (1 - Math.pow(b2, t));
                p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
            }
            out[t - 1] = p.clone();
        }
        return out;
    }

    @Test
    void adamFirstStepMovesEachCoordinateByAboutLr() {
        // At t = 1 the corrected moments are g and g^2: the step is lr * g / (|g| + eps).
        double[][] got = run(DType.F64, ps -> new Adam(ps, Adam.settings(0.01).eps(1e-3)));
        for (int i = 0; i < P0.length; i++) {
            double g = GRADS[0][i];
            assertEquals(P0[i] - 0.01 * g / (Math.abs(g) + 1e-3), got[0][i], 1e-15);
        }
    }

    @Test
    void adamAndAdamWMatchTheTextbookFormula() {
        for (DType dtype : DType.values()) {
            double tol = dtype == DType.F64 ? 1e-14 : 1e-6;
            assertTrajectory(adamExpected(0.01, 0.9, 0.999, 1e-8, 0, false),
                    run(dtype, ps -> new Adam(ps, Adam.settings(0.01))), tol);
            assertTrajectory(adamExpected(0.05, 0.8, 0.95, 1e-3, 0.2, false),
                    run(dtype, ps -> new Adam(ps, Adam.settings(0.05).betas(0.8, 0.95).eps(1e-3).weightDecay(0.2))), tol);
            assertTrajectory(adamExpected(0.05, 0.9, 0.95, 1e-8, 0.1, true),
                    run(dtype, ps -> new AdamW(ps, AdamW.settings(0.05).betas(0.9, 0.95).weightDecay(0.1))), tol);
            assertTrajectory(adamExpected(0.01, 0.9, 0.999, 1e-8, 0.01, true),
                    run(dtype, ps -> new AdamW(ps, AdamW.settings(0.01))), tol);
        }
    }

    @Test
    void adamWDecayIsDecoupledFromTheMoments() {
        // Same gradients, different weight decay: AdamW's moments are identical, Adam's differ.
        Function<Double, OptimizerState> adamW = wd -> stateAfterOneStep(ps -> new AdamW(ps, AdamW.settings(0.1).weightDecay(wd)));
        Function<Double, OptimizerState> adam = wd -> stateAfterOneStep(ps -> new Adam(ps, Adam.settings(0.1).weightDecay(wd)));
        assertArrayEquals(adamW.apply(0.0).tensors().get("exp_avg.p").toDoubleArray(),
                adamW.apply(0.5).tensors().get("exp_avg.p").toDoubleArray());
        assertFalse(java.util.Arrays.equals(adam.apply(0.0).tensors().get("exp_avg.p").toDoubleArray(),
                adam.apply(0.5).tensors().get("exp_avg.p").toDoubleArray()));
    }

    private static OptimizerState stateAfterOneStep(Function<Map<String, Variable>, Optimizer> make) {
        Variable p = Variable.param(Tensor.of(P0, 1, 3));
        Optimizer opt = make.apply(Map.of("p", p));
        p.setGrad(Tensor.of(GRADS[0], 1, 3));
        opt.step();
        return opt.stateDict();
    }

    // ------------------------------------------------------------------------------------------ decay rule

    private static Map<String, Variable> layerLike() {
        Map<String, Variable> ps = new LinkedHashMap<>();
        ps.put("fc.weight", Variable.param(Tensor.full(DType.F64, 1.0, 2, 2)));
        ps.put("fc.bias", Variable.param(Tensor.full(DType.F64, 1.0, 2)));
        ps.put("ln.weight", Variable.param(Tensor.full(DType.F64, 1.0, 2)));
        for (Variable p : ps.values()) {
            p.setGrad(Tensor.zerosLike(p.value()));
        }
        return ps;
    }

    @Test
    void weightDecayAppliesToMatricesOnlyByDefault() {
        // With zero gradients the only change is the decay: (1 - lr * wd) = 0.99 for AdamW, 1 - lr * wd * p for SGD.
        Map<String, Variable> ps = layerLike();
        AdamW adamW = new AdamW(ps, AdamW.settings(0.1).weightDecay(0.1));
        assertEquals(Map.of("fc.weight", true, "fc.bias", false, "ln.weight", false), adamW.decayedParameters());
        adamW.step();
        assertEquals(0.99, ps.get("fc.weight").value().get(0, 0), 1e-15);
        assertEquals(1.0, ps.get("fc.bias").value().get(0));
        assertEquals(1.0, ps.get("ln.weight").value().get(0));

        Map<String, Variable> qs = layerLike();
        new Sgd(qs, Sgd.settings(0.1).weightDecay(0.1)).step();
        assertEquals(0.99, qs.get("fc.weight").value().get(1, 1), 1e-15);
        assertEquals(1.0, qs.get("fc.bias").value().get(1));
    }

    @Test
    void decayFilterIsConfigurable() {
        Map<String, Variable> ps = layerLike();
        AdamW opt = new AdamW(ps, AdamW.settings(0.1).weightDecay(0.1).decayFilter((name, p) -> !name.endsWith("bias")));
        assertEquals(Map.of("fc.weight", true, "fc.bias", false, "ln.weight", true), opt.decayedParameters());
        opt.step();
        assertEquals(0.99, ps.get("ln.weight").value().get(0), 1e-15);
        assertEquals(1.0, ps.get("fc.bias").value().get(0));
    }

    // ------------------------------------------------------------------------------------------ bookkeeping

    @Test
    void parametersWithoutGradientAreSkippedAndKeepTheirOwnStepCount() {
        Variable a = Variable.param(Tensor.of(P0, 1, 3));
        Variable b = Variable.param(Tensor.of(P0, 1, 3));
        Map<String, Variable> ps = new LinkedHashMap<>();
        ps.put("a", a);
        ps.put("b", b);
        Adam opt = new Adam(ps, Adam.settings(0.01).eps(1e-3));
        a.setGrad(Tensor.of(GRADS[0], 1, 3));
        opt.step();
        assertArrayEquals(P0, b.value().toDoubleArray());
        b.setGrad(Tensor.of(GRADS[0], 1, 3));
        opt.step();
        // b's first update uses t = 1 bias correction, like a's first one did.
        assertEquals(P0[0] - 0.01 * 0.1 / (0.1 + 1e-3), b.value().get(0, 0), 1e-15);
        var scalars = opt.stateDict().scalars();
        assertEquals(2L, scalars.get("step"));
        assertEquals(2L, scalars.get("step.a"));
        assertEquals(1L, scalars.get("step.b"));
    }

    @Test
    void tiedParametersAreUpdatedOnce() {
        Variable shared = Variable.param(Tensor.of(P0, 1, 3));
        Map<String, Variable> ps = new LinkedHashMap<>();
        ps.put("wte.weight", shared);
        ps.put("lm_head.weight", shared);
        Sgd opt = new Sgd(ps, Sgd.settings(0.1));
        assertEquals(List.of("wte.weight"), List.copyOf(opt.parameters().keySet()));
        shared.setGrad(Tensor.of(GRADS[0], 1, 3));
        opt.step();
        assertEquals(0.49, shared.value().get(0, 0), 1e-15);
    }

    @Test
    void zeroGradClearsGradientsAndListsAreNamedByIndex() {
        Variable a = Variable.param(Tensor.of(P0));
        Variable b = Variable.param(Tensor.of(P0));
        Adam opt = new Adam(List.of(a, b), Adam.settings(0.1));
        assertEquals(List.of("0", "1"), List.copyOf(opt.parameters().keySet()));
        a.setGrad(Tensor.of(P0));
        opt.zeroGrad();
        assertNull(a.grad());
    }

    // ------------------------------------------------------------------------------------------ state

    /** Deterministic mini-problem: loss = mean((tanh(x w + b) - y)^2) on fixed random data. */
    private static final class Problem {
        final Tensor x;
        final Tensor y;
        final Map<String, Variable> params = new LinkedHashMap<>();

        Problem(DType dtype) {
            Rng rng = new Rng(7);
            x = Tensor.randn(dtype, rng, 5, 3);
            y = Tensor.randn(dtype, rng, 5, 4).mul(0.5);
            params.put("w", Variable.param(Tensor.randn(dtype, rng, 3, 4)));
            params.put("b", Variable.param(Tensor.randn(dtype, rng, 4).mul(0.1)));
        }

        void steps(Optimizer opt, LrSchedule schedule, int n) {
            for (int i = 0; i < n; i++) {
                schedule.applyTo(opt, opt.stepCount());
                opt.zeroGrad();
                Variable.constant(x).matmul(params.get("w")).add(params.get("b")).tanh()
                        .sub(Variable.constant(y)).pow(2).mean().backward();
                GradClip.clipGlobalNorm(params.values(), 0.5);
                opt.step();
            }
        }

        Map<String, Tensor> snapshot() {
            Map<String, Tensor> out = new LinkedHashMap<>();
            params.forEach((k, v) -> out.put(k, v.value().copy()));
            return out;
        }
    }

    @Test
    void resumingFromAStateDictContinuesBitForBit() {
        LrSchedule schedule = new WarmupCosineSchedule(0.05, 2, 8, 0.005);
        List<Function<Map<String, Variable>, Optimizer>> makers = List.of(
                ps -> new AdamW(ps, AdamW.settings(0.05).betas(0.9, 0.95).weightDecay(0.1)),
                ps -> new Adam(ps, Adam.settings(0.05).weightDecay(0.01)),
                ps -> new Sgd(ps, Sgd.settings(0.05).momentum(0.9).nesterov(true).weightDecay(0.01)));
        for (DType dtype : DType.values()) {
            for (var make : makers) {
                Problem uninterrupted = new Problem(dtype);
                Optimizer opt = make.apply(uninterrupted.params);
                uninterrupted.steps(opt, schedule, 3);
                OptimizerState saved = opt.stateDict();
                Map<String, Tensor> savedParams = uninterrupted.snapshot();
                uninterrupted.steps(opt, schedule, 5);

                Problem resumed = new Problem(dtype);
                resumed.params.forEach((k, v) -> v.value().copyFrom(savedParams.get(k)));
                Optimizer fresh = make.apply(resumed.params);
                fresh.loadStateDict(saved);
                assertEquals(3, fresh.stepCount());
                resumed.steps(fresh, schedule, 5);

                for (String k : uninterrupted.params.keySet()) {
                    assertArrayEquals(uninterrupted.params.get(k).value().toDoubleArray(),
                            resumed.params.get(k).value().toDoubleArray(), 0.0, opt + " " + dtype + " " + k);
                }
                // Without the state the continuation differs: the test can tell.
                Problem cold = new Problem(dtype);
                cold.params.forEach((k, v) -> v.value().copyFrom(savedParams.get(k)));
                Optimizer coldOpt = make.apply(cold.params);
                coldOpt.loadStateDict(zeroedCopy(saved));
                cold.steps(coldOpt, schedule, 5);
                assertFalse(java.util.Arrays.equals(uninterrupted.params.get("w").value().toDoubleArray(),
                        cold.params.get("w").value().toDoubleArray()), opt + " " + dtype);
            }
        }
    }

    /** The same keys with zeroed tensors and unchanged scalars. */
    private static OptimizerState zeroedCopy(OptimizerState s) {
        Map<String, Tensor> zeros = new LinkedHashMap<>();
        s.tensors().forEach((k, t) -> zeros.put(k, Tensor.zerosLike(t)));
        return new OptimizerState(zeros, s.scalars());
    }

    @Test
    void stateDictIsASnapshotNotAView() {
        Problem problem = new Problem(DType.F32);
        AdamW opt = new AdamW(problem.params, AdamW.settings(0.01));
        problem.steps(opt, new ConstantSchedule(0.01), 1);
        OptimizerState state = opt.stateDict();
        double[] before = state.tensors().get("exp_avg.w").toDoubleArray();
        problem.steps(opt, new ConstantSchedule(0.01), 1);
        assertArrayEquals(before, state.tensors().get("exp_avg.w").toDoubleArray());
        assertEquals(List.of("exp_avg.w", "exp_avg_sq.w", "exp_avg.b", "exp_avg_sq.b"),
                List.copyOf(state.tensors().keySet()));
        assertEquals(List.of("step", "lr", "step.w", "step.b"), List.copyOf(state.scalars().keySet()));
    }

    @Test
    void loadStateDictRejectsMismatchedStateAndChangesNothing() {
        Problem problem = new Problem(DType.F64);
        Adam opt = new Adam(problem.params, Adam.settings(0.01));
        problem.steps(opt, new ConstantSchedule(0.01), 2);
        OptimizerState good = opt.stateDict();

        Map<String, Tensor> missing = new LinkedHashMap<>(good.tensors());
        missing.remove("exp_avg_sq.b");
        var e = assertThrows(IllegalArgumentException.class,
                () -> opt.loadStateDict(new OptimizerState(missing, good.scalars())));
        assertTrue(e.getMessage().contains("missing [exp_avg_sq.b]"), e.getMessage());

        Map<String, Tensor> wrongShape = new LinkedHashMap<>(good.tensors());
        wrongShape.put("exp_avg.w", Tensor.zeros(DType.F64, 4, 3));
        var s = assertThrows(ShapeException.class,
                () -> opt.loadStateDict(new OptimizerState(wrongShape, good.scalars())));
        assertTrue(s.getMessage().contains("exp_avg.w") && s.getMessage().contains("[3, 4]"), s.getMessage());

        Map<String, Number> extra = new LinkedHashMap<>(good.scalars());
        extra.put("momentum", 0.9);
        var u = assertThrows(IllegalArgumentException.class,
                () -> opt.loadStateDict(new OptimizerState(good.tensors(), extra)));
        assertTrue(u.getMessage().contains("unexpected [momentum]"), u.getMessage());

        Sgd sgd = new Sgd(problem.params, Sgd.settings(0.1).momentum(0.9));
        assertThrows(IllegalArgumentException.class, () -> sgd.loadStateDict(good));
        assertArrayEquals(good.tensors().get("exp_avg.w").toDoubleArray(),
                opt.stateDict().tensors().get("exp_avg.w").toDoubleArray());
    }

    // ------------------------------------------------------------------------------------------ errors

    @Test
    void badHyperparametersAreRejectedWithTheirValue() {
        assertMessage(() -> Sgd.settings(-0.1), "lr", "-0.1");
        assertMessage(() -> Adam.settings(0.1).betas(1.0, 0.999), "beta1", "1.0");
        assertMessage(() -> AdamW.settings(0.1).betas(0.9, -0.5), "beta2", "-0.5");
        assertMessage(() -> Adam.settings(0.1).eps(-1e-8), "eps", "-1.0E-8");
        assertMessage(() -> AdamW.settings(0.1).weightDecay(-0.1), "weightDecay", "-0.1");
        assertMessage(() -> Sgd.settings(0.1).nesterov(true), "Nesterov", "momentum 0.0");
        assertMessage(() -> Sgd.settings(0.1).momentum(0.9).dampening(0.1).nesterov(true), "Nesterov", "dampening 0.1");
        Sgd sgd = new Sgd(Map.of("p", Variable.param(Tensor.of(P0))), Sgd.settings(0.1));
        assertMessage(() -> sgd.setLearningRate(-1), "learning rate", "-1.0");
        assertMessage(() -> sgd.setLearningRate(Double.NaN), "learning rate", "NaN");
    }

    @Test
    void unusableParametersAndGradientsAreRejected() {
        Variable transposed = Variable.param(Tensor.zeros(3, 4).t());
        assertMessage(() -> new AdamW(Map.of("w", transposed), AdamW.settings(0.1)), "'w'", "not contiguous");
        Variable constant = Variable.constant(Tensor.zeros(3));
        assertMessage(() -> new Sgd(Map.of("x", constant), Sgd.settings(0.1)), "'x'", "does not require grad");
        assertMessage(() -> new Sgd(Map.of(), Sgd.settings(0.1)), "Sgd", "no parameters");

        Variable square = Variable.param(Tensor.zeros(3, 3));
        Variable other = Variable.param(Tensor.zeros(2));
        Map<String, Variable> ps = new LinkedHashMap<>();
        ps.put("other", other);
        ps.put("sq", square);
        Adam opt = new Adam(ps, Adam.settings(0.1));
        other.setGrad(Tensor.ones(2));
        square.setGrad(Tensor.arange(9).reshape(3, 3).to(DType.F32).t());
        assertMessage(opt::step, "'sq'", "not contiguous");
        square.setGrad(Tensor.zeros(DType.F64, 3, 3));
        assertMessage(opt::step, "'sq'", "F64");
        // Nothing was updated by the failed steps, not even the valid parameter listed first.
        assertArrayEquals(new double[2], other.value().toDoubleArray());
        assertEquals(0, opt.stepCount());
    }

    private static void assertMessage(Runnable r, String... parts) {
        var e = assertThrows(IllegalArgumentException.class, r::run);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should mention '" + part + "'");
        }
    }
}
