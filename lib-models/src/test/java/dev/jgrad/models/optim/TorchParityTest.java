package dev.jgrad.models.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays torch.optim trajectories (make_fixtures_optim.py): same data, initial parameters, hyperparameters and
 * per-step learning rates; gradients come from jgrad's own autograd. F64 must follow PyTorch's float64 run to
 * rounding; F32 must stay within float32 rounding of it.
 */
class TorchParityTest {
    private static final Map<String, Map<String, Tensor>> CASES = Fixtures.load("optim");

    static Iterable<String> cases() {
        return CASES.keySet();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void f64FollowsTorchToRounding(String name) {
        double worst = replay(name, DType.F64);
        // Seen: at most 3e-16, a few ulps of the O(1) parameters.
        assertTrue(worst < 1e-13, name + ": max |jgrad - torch| = " + worst);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void f32StaysWithinFloatRoundingOfTorch(String name) {
        // SGD moves by lr * g, so float32 rounding of g and p (6e-8 relative) stays at the 1e-7 level over ten
        // steps (seen: <= 1.4e-7). Adam moves by about lr * g / |g| per coordinate: a gradient coordinate that is
        // small next to the rounding of the forward pass gets its relative error scaled up to an O(lr) step
        // (seen: <= 2.7e-6 at lr 0.05), hence the looser bound.
        double worst = replay(name, DType.F32);
        double tolerance = name.startsWith("sgd") ? 5e-7 : 1e-5;
        assertTrue(worst < tolerance, name + ": max |jgrad f32 - torch f64| = " + worst);
    }

    /** Runs the case's recipe in {@code dtype} and returns the largest deviation from torch over all steps. */
    private static double replay(String name, DType dtype) {
        Map<String, Tensor> c = CASES.get(name);
        Tensor x = c.get("x").to(dtype);
        Tensor y = c.get("y").to(dtype);
        Variable w = Variable.param(c.get("w0").to(dtype));
        Variable b = Variable.param(c.get("b0").to(dtype));
        Map<String, Variable> params = new LinkedHashMap<>();
        params.put("w", w);
        params.put("b", b);
        Optimizer opt = build(name, c, params);
        double[] lrs = c.get("lrs").toDoubleArray();
        double worst = 0;
        for (int step = 0; step < lrs.length; step++) {
            opt.setLearningRate(lrs[step]);
            opt.zeroGrad();
            Variable.constant(x).matmul(w).add(b).tanh().sub(Variable.constant(y)).pow(2).mean().backward();
            opt.step();
            worst = Math.max(worst, w.value().to(DType.F64).maxAbsDiff(c.get("w" + (step + 1))));
            worst = Math.max(worst, b.value().to(DType.F64).maxAbsDiff(c.get("b" + (step + 1))));
        }
        assertEquals(lrs.length, opt.stepCount());
        return worst;
    }

    private static Optimizer build(String name, Map<String, Tensor> c, Map<String, Variable> params) {
        double lr = c.get("lrs").get(0);
        double wd = c.get("weight_decay").item();
        var decay = c.get("decay_bias").item() == 1 ? Optimizer.DECAY_ALL : Optimizer.DECAY_MATRICES;
        String kind = name.substring(0, name.indexOf('_') < 0 ? name.length() : name.indexOf('_'));
        return switch (kind) {
            case "sgd" -> new Sgd(params, Sgd.settings(lr)
                    .momentum(scalar(c, "momentum", 0))
                    .dampening(scalar(c, "dampening", 0))
                    .nesterov(scalar(c, "nesterov", 0) == 1)
                    .weightDecay(wd)
                    .decayFilter(decay));
            case "adam" -> new Adam(params, Adam.settings(lr)
                    .betas(c.get("beta1").item(), c.get("beta2").item())
                    .eps(c.get("eps").item())
                    .weightDecay(wd)
                    .decayFilter(decay));
            case "adamw" -> new AdamW(params, AdamW.settings(lr)
                    .betas(c.get("beta1").item(), c.get("beta2").item())
                    .eps(c.get("eps").item())
                    .weightDecay(wd)
                    .decayFilter(decay));
            default -> throw new IllegalStateException("unknown optimizer in fixture case " + name);
        };
    }

    private static double scalar(Map<String, Tensor> c, String key, double absent) {
        return c.containsKey(key) ? c.get(key).item() : absent;
    }
}
