package dev.jgrad.autograd;

import static dev.jgrad.tensor.SameBits.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Variable#linearGelu} and {@link Variable#geluMlp} against the ops they fuse ({@code linear(...).gelu()},
 * and the second linear after it): the same output and the same gradients for every input, bit for bit in F32
 * and exactly in F64, at one and two threads, with and without biases; and gradcheck in F64.
 */
class FusedLinearGeluTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    /** x [.., 70] through a [53, 70] layer and a [37, 53] projection (odd sizes: vector tails and edge tiles). */
    private record Case(Tensor x, Tensor fcWeight, Tensor fcBias, Tensor projWeight, Tensor projBias) {
        static Case random(DType dtype, Rng rng, int[] xShape, boolean biases) {
            return new Case(Tensor.randn(dtype, rng, xShape), Tensor.randn(dtype, rng, 53, 70).mul(0.2),
                    biases ? Tensor.randn(dtype, rng, 53) : null, Tensor.randn(dtype, rng, 37, 53).mul(0.2),
                    biases ? Tensor.randn(dtype, rng, 37) : null);
        }

        Variable[] params() {
            return new Variable[] {Variable.param(x), Variable.param(fcWeight),
                    fcBias == null ? null : Variable.param(fcBias), Variable.param(projWeight),
                    projBias == null ? null : Variable.param(projBias)};
        }
    }

    private static final int[][] X_SHAPES = {{37, 70}, {2, 150, 70}, {70}};

    @Test
    void linearGeluGivesLinearThenGelusValuesAndGradients() {
        compare((v, fused) -> fused ? Variable.linearGelu(v[0], v[1], v[2]) : Variable.linear(v[0], v[1], v[2]).gelu(),
                53, 3);
    }

    @Test
    void geluMlpGivesTheThreeOpsValuesAndGradients() {
        compare((v, fused) -> fused ? Variable.geluMlp(v[0], v[1], v[2], v[3], v[4])
                : Variable.linear(Variable.linear(v[0], v[1], v[2]).gelu(), v[3], v[4]), 37, 5);
    }

    private interface Layer {
        Variable apply(Variable[] params, boolean fused);
    }

    /** Runs the fused and the unfused form on the same inputs and upstream gradient; compares everything. */
    private static void compare(Layer layer, int outFeatures, int inputs) {
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (int threads : new int[] {1, 2}) {
                Parallel.setThreads(threads);
                for (int[] xShape : X_SHAPES) {
                    for (boolean biases : new boolean[] {true, false}) {
                        Rng rng = new Rng(xShape.length * 31L + (biases ? 1 : 0));
                        Case c = Case.random(dtype, rng, xShape, biases);
                        int[] outShape = xShape.clone();
                        outShape[outShape.length - 1] = outFeatures;
                        Tensor g = Tensor.randn(dtype, rng, outShape);
                        String what = dtype + " x " + java.util.Arrays.toString(xShape) + (biases ? "" : " no biases")
                                + " at " + threads + " threads";
                        Variable[] fused = c.params();
                        Variable[] unfused = c.params();
                        Variable yf = layer.apply(fused, true);
                        Variable yu = layer.apply(unfused, false);
                        assertSameBits(yu.value(), yf.value(), what + ": output");
                        yf.backward(g);
                        yu.backward(g);
                        for (int i = 0; i < inputs; i++) {
                            if (fused[i] != null) {
                                assertSameBits(unfused[i].grad(), fused[i].grad(), what + ": gradient of input " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void withoutRecordingTheValuesAreTheSameAndNothingIsKept() {
        Rng rng = new Rng(9);
        Case c = Case.random(DType.F32, rng, new int[] {4, 70}, true);
        Variable[] v = c.params();
        Variable recorded = Variable.geluMlp(v[0], v[1], v[2], v[3], v[4]);
        Variable plain;
        Variable plainLinearGelu;
        try (var scope = Tape.noGrad()) {
            plain = Variable.geluMlp(v[0], v[1], v[2], v[3], v[4]);
            plainLinearGelu = Variable.linearGelu(v[0], v[1], v[2]);
        }
        assertSameBits(recorded.value(), plain.value(), "gelu mlp under noGrad");
        assertFalse(plain.requiresGrad());
        assertFalse(plainLinearGelu.requiresGrad());
        assertSameBits(Variable.linearGelu(v[0], v[1], v[2]).value(), plainLinearGelu.value(), "linearGelu under noGrad");
        Variable constants = Variable.geluMlp(Variable.constant(c.x()), Variable.constant(c.fcWeight()), null,
                Variable.constant(c.projWeight()), null);
        assertFalse(constants.requiresGrad(), "no input requires grad");
    }

    @Test
    void gradcheck() {
        Rng rng = new Rng(2024);
        assertPasses("linearGelu with bias, batched", v -> Variable.linearGelu(v[0], v[1], v[2]),
                randn(rng, 2, 3, 4), randn(rng, 5, 4), randn(rng, 5));
        assertPasses("linearGelu without bias", v -> Variable.linearGelu(v[0], v[1], null), randn(rng, 3, 4),
                randn(rng, 2, 4));
        assertPasses("geluMlp with biases", v -> Variable.geluMlp(v[0], v[1], v[2], v[3], v[4]),
                randn(rng, 2, 3, 4), randn(rng, 6, 4), randn(rng, 6), randn(rng, 3, 6), randn(rng, 3));
        assertPasses("geluMlp without biases, of a transposed input", v -> Variable.geluMlp(v[0].t(), v[1], null, v[2],
                null), randn(rng, 4, 5), randn(rng, 7, 4), randn(rng, 2, 7));
    }

    @Test
    void badShapesNameTheOpAndShapes() {
        Rng rng = new Rng(1);
        Variable x = Variable.param(randn(rng, 3, 4));
        Variable fc = Variable.param(randn(rng, 6, 4));
        var e = assertThrows(ShapeException.class,
                () -> Variable.geluMlp(x, fc, null, Variable.param(randn(rng, 3, 5)), null));
        assertTrue(e.getMessage().contains("geluMlp") && e.getMessage().contains("[3, 5]"), e.getMessage());
        var wrongX = assertThrows(ShapeException.class, () -> Variable.linearGelu(Variable.param(randn(rng, 3, 5)), fc,
                null));
        assertTrue(wrongX.getMessage().contains("linearGelu") && wrongX.getMessage().contains("[3, 5]"),
                wrongX.getMessage());
    }

    private static Tensor randn(Rng rng, int... shape) {
        return Tensor.randn(DType.F64, rng, shape);
    }

    private static void assertPasses(String name, Function<Variable[], Variable> f, Tensor... inputs) {
        var report = GradCheck.check(name, f, inputs);
        assertTrue(report.passed(), report::toString);
    }
}
