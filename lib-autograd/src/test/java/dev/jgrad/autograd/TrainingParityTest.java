package dev.jgrad.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The whole training loop against PyTorch: the same MLP, data, initial weights and SGD-with-momentum recipe
 * (fixture from src/test/python/make_fixtures_mlp_training.py) must give the same loss at every step and the same
 * final weights: in F64 to rounding, in F32 within float32 drift over 60 steps.
 */
class TrainingParityTest {
    private static final double LR = 0.1;
    private static final double MOMENTUM = 0.9;

    private static Variable forward(Variable x, Variable[] p) {
        Variable h = x.matmul(p[0]).add(p[1]).relu();
        h = h.matmul(p[2]).add(p[3]).relu();
        return h.matmul(p[4]).add(p[5]);
    }

    /** Trains like torch.optim.SGD(momentum): v = momentum * v + g (v = g on the first step); p -= lr * v. */
    private static double[] train(Map<String, Tensor> fixture, DType dtype, Variable[] params) {
        Tensor x = fixture.get("x").to(dtype);
        Tensor oneHot = fixture.get("one_hot").to(dtype);
        int steps = fixture.get("losses").numel();
        Tensor[] velocity = new Tensor[params.length];
        double[] losses = new double[steps];
        for (int step = 0; step < steps; step++) {
            for (Variable p : params) {
                p.zeroGrad();
            }
            Variable logits = forward(Variable.constant(x), params);
            Variable loss = logits.logSoftmax(-1).mul(Variable.constant(oneHot)).sum().neg().div(x.size(0));
            loss.backward();
            losses[step] = loss.item();
            for (int i = 0; i < params.length; i++) {
                Tensor g = params[i].grad();
                velocity[i] = velocity[i] == null ? g : velocity[i].mul(MOMENTUM).add(g);
                params[i].value().copyFrom(params[i].value().sub(velocity[i].mul(LR)));
            }
        }
        return losses;
    }

    private static Variable[] initialParams(Map<String, Tensor> fixture, DType dtype) {
        Variable[] params = new Variable[6];
        for (int i = 0; i < 6; i++) {
            params[i] = Variable.param(fixture.get("init" + i).to(dtype).copy());
        }
        return params;
    }

    @Test
    void f64TrainingFollowsPyTorchStepForStep() {
        var fixture = Fixtures.load("mlp_training").get("sgd_momentum");
        Variable[] params = initialParams(fixture, DType.F64);
        double[] losses = train(fixture, DType.F64, params);
        double[] expected = fixture.get("losses").toDoubleArray();
        for (int step = 0; step < losses.length; step++) {
            assertEquals(expected[step], losses[step], 1e-10 * Math.max(1, Math.abs(expected[step])), "loss at step " + step);
        }
        for (int i = 0; i < 6; i++) {
            double diff = params[i].value().maxAbsDiff(fixture.get("final" + i));
            assertTrue(diff < 1e-9, "final parameter " + i + " differs from PyTorch by " + diff);
        }
        assertTrue(expected[expected.length - 1] < 0.5 * expected[0], "the reference run actually learns");
    }

    @Test
    void f32TrainingStaysWithinFloatDriftOfPyTorch() {
        var fixture = Fixtures.load("mlp_training").get("sgd_momentum");
        Variable[] params = initialParams(fixture, DType.F32);
        double[] losses = train(fixture, DType.F32, params);
        double[] expected = fixture.get("losses").toDoubleArray();
        for (int step = 0; step < losses.length; step++) {
            assertEquals(expected[step], losses[step], 1e-4 * Math.max(1, Math.abs(expected[step])), "loss at step " + step);
        }
    }
}
