package dev.jgrad.models.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.GradCheck;
import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FunctionalTest {
    static final Map<String, Map<String, Tensor>> OPS = Fixtures.load("gpt_ops");

    /** Runs the op on the fixture's inputs in {@code dtype}, backward from sum(out * upstream). */
    private static void checkAgainstTorch(String caseName, DType dtype, double tolerance,
                                          Function<Variable[], Variable> op, String... inputNames) {
        Map<String, Tensor> c = OPS.get(caseName);
        Variable[] inputs = new Variable[inputNames.length];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = Variable.param(c.get(inputNames[i]).to(dtype));
        }
        Variable out = op.apply(inputs);
        out.mul(Variable.constant(c.get("upstream").to(dtype))).sum().backward();
        assertClose(caseName + " out", c.get("out"), out.value(), tolerance);
        for (int i = 0; i < inputs.length; i++) {
            assertClose(caseName + " grad " + inputNames[i], c.get("grad_" + inputNames[i]), inputs[i].grad(), tolerance);
        }
    }

    /** Max abs difference relative to the reference's largest magnitude (so tiny entries do not dominate). */
    static void assertClose(String what, Tensor expected, Tensor actual, double tolerance) {
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        double scale = Math.max(1e-30, expected.abs().max(false).item());
        double error = expected.maxAbsDiff(actual.to(DType.F64)) / scale;
        assertTrue(error <= tolerance, what + ": relative error " + error + " > " + tolerance);
    }

    static double tolerance(DType dtype) {
        return dtype == DType.F64 ? 1e-12 : 1e-5;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void attentionMatchesTorch(DType dtype) {
        double tol = tolerance(dtype);
        checkAgainstTorch("attention_mha_causal", dtype, tol,
                v -> Functional.attention(v[0], v[1], v[2], true, 0.5), "q", "k", "v");
        checkAgainstTorch("attention_gqa_causal", dtype, tol,
                v -> Functional.attention(v[0], v[1], v[2], true, 1 / Math.sqrt(6)), "q", "k", "v");
        checkAgainstTorch("attention_cached_causal", dtype, tol,
                v -> Functional.attention(v[0], v[1], v[2], true, 0.4), "q", "k", "v");
        checkAgainstTorch("attention_full", dtype, tol,
                v -> Functional.attention(v[0], v[1], v[2], false, 0.3), "q", "k", "v");
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void ropeMatchesTorch(DType dtype) {
        checkAgainstTorch("rope_start0", dtype, tolerance(dtype), v -> Functional.rope(v[0], 0, 10000), "x");
        checkAgainstTorch("rope_start7", dtype, tolerance(dtype), v -> Functional.rope(v[0], 7, 500), "x");
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void crossEntropyMatchesTorch(DType dtype) {
        int[] targets = ints(OPS.get("cross_entropy").get("targets"));
        checkAgainstTorch("cross_entropy", dtype, tolerance(dtype),
                v -> Functional.crossEntropy(v[0], targets, -100, 0), "logits");
        checkAgainstTorch("cross_entropy_smoothed", dtype, tolerance(dtype),
                v -> Functional.crossEntropy(v[0], targets, -100, 0.15), "logits");
    }

    static int[] ints(Tensor t) {
        double[] d = t.toDoubleArray();
        int[] out = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (int) d[i];
        }
        return out;
    }

    @Test
    void gradchecks() {
        Rng rng = new Rng(11);
        var gqa = GradCheck.check("attention gqa causal",
                v -> Functional.attention(v[0], v[1], v[2], true, 0.7),
                Tensor.randn(DType.F64, rng, 2, 4, 3, 2), Tensor.randn(DType.F64, rng, 2, 2, 3, 2),
                Tensor.randn(DType.F64, rng, 2, 2, 3, 2));
        assertTrue(gqa.passed(), gqa.toString());
        var cached = GradCheck.check("attention cached causal",
                v -> Functional.attention(v[0], v[1], v[2], true, 0.5),
                Tensor.randn(DType.F64, rng, 1, 3, 2, 4), Tensor.randn(DType.F64, rng, 1, 1, 5, 4),
                Tensor.randn(DType.F64, rng, 1, 1, 5, 4));
        assertTrue(cached.passed(), cached.toString());
        var rope = GradCheck.check("rope", v -> Functional.rope(v[0], 3, 100), Tensor.randn(DType.F64, rng, 2, 2, 3, 6));
        assertTrue(rope.passed(), rope.toString());
        int[] targets = {2, -1, 0, 3};
        var ce = GradCheck.check("cross entropy smoothed", v -> Functional.crossEntropy(v[0], targets, -1, 0.2),
                Tensor.randn(DType.F64, rng, 4, 5));
        assertTrue(ce.passed(), ce.toString());
    }

    @Test
    void causalMaskHidesTheFuture() {
        // Changing a later key or value must not change an earlier query's output.
        Rng rng = new Rng(3);
        Tensor q = Tensor.randn(DType.F64, rng, 1, 1, 4, 3);
        Tensor k = Tensor.randn(DType.F64, rng, 1, 1, 4, 3);
        Tensor v = Tensor.randn(DType.F64, rng, 1, 1, 4, 3);
        Tensor before = Functional.attention(Variable.constant(q), Variable.constant(k), Variable.constant(v), true, 1).value();
        k.set(50, 0, 0, 3, 0);
        v.set(-50, 0, 0, 3, 1);
        Tensor after = Functional.attention(Variable.constant(q), Variable.constant(k), Variable.constant(v), true, 1).value();
        assertEquals(0, before.narrow(2, 0, 3).maxAbsDiff(after.narrow(2, 0, 3)));
        assertTrue(before.narrow(2, 3, 1).maxAbsDiff(after.narrow(2, 3, 1)) > 1e-3, "the last query sees the last key");
        // Query 0 sees only key 0, so its output is value 0.
        assertEquals(0, before.narrow(2, 0, 1).maxAbsDiff(v.narrow(2, 0, 1)), 1e-15);
    }

    @Test
    void ropeAtPositionZeroIsIdentityAndPreservesNorms() {
        Rng rng = new Rng(5);
        Tensor x = Tensor.randn(DType.F64, rng, 1, 2, 3, 8);
        Tensor y = Functional.rope(Variable.constant(x), 0, 10000).value();
        assertEquals(0, x.narrow(2, 0, 1).maxAbsDiff(y.narrow(2, 0, 1)), 1e-15);
        // A rotation of each (x[i], x[i + D/2]) pair keeps that pair's length.
        Tensor pairX = x.narrow(3, 0, 4).pow(2).add(x.narrow(3, 4, 4).pow(2));
        Tensor pairY = y.narrow(3, 0, 4).pow(2).add(y.narrow(3, 4, 4).pow(2));
        assertEquals(0, pairX.maxAbsDiff(pairY), 1e-12);
        assertTrue(x.narrow(2, 1, 2).maxAbsDiff(y.narrow(2, 1, 2)) > 1e-3);
    }

    @Test
    void crossEntropyAllIgnoredIsNaNLikeTorch() {
        Variable logits = Variable.param(Tensor.randn(DType.F64, new Rng(1), 2, 3));
        assertTrue(Double.isNaN(Functional.crossEntropy(logits, new int[] {-1, -1}, -1, 0).item()));
    }

    @Test
    void badInputsAreNamed() {
        Variable q = Variable.constant(Tensor.zeros(1, 3, 4, 2));
        Variable kv = Variable.constant(Tensor.zeros(1, 2, 4, 2));
        var heads = assertThrows(ShapeException.class, () -> Functional.attention(q, kv, kv, true, 1));
        assertTrue(heads.getMessage().contains("Attention.forward") && heads.getMessage().contains("[1, 3, 4, 2]"),
                heads.getMessage());
        Variable fewKeys = Variable.constant(Tensor.zeros(1, 3, 2, 2));
        assertThrows(ShapeException.class, () -> Functional.attention(q, fewKeys, fewKeys, true, 1));
        var odd = assertThrows(ShapeException.class,
                () -> Functional.rope(Variable.constant(Tensor.zeros(1, 1, 2, 3)), 0, 10000));
        assertTrue(odd.getMessage().contains("Rope.forward") && odd.getMessage().contains("[1, 1, 2, 3]"), odd.getMessage());
        Variable logits = Variable.constant(Tensor.zeros(2, 3));
        var range = assertThrows(IllegalArgumentException.class,
                () -> Functional.crossEntropy(logits, new int[] {0, 3}, -1, 0));
        assertTrue(range.getMessage().contains("target 3") && range.getMessage().contains("3 classes"), range.getMessage());
        assertThrows(ShapeException.class, () -> Functional.crossEntropy(logits, new int[] {0}, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> Functional.crossEntropy(logits, new int[] {0, 1}, -1, 1.5));
    }
}
