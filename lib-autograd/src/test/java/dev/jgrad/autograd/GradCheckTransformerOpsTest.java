package dev.jgrad.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Gradcheck, in F64 with relative tolerance 1e-6, of the fused transformer ops recorded on the tape. */
class GradCheckTransformerOpsTest {
    private final Rng rng = new Rng(2024);

    private Tensor randn(int... shape) {
        return Tensor.randn(DType.F64, rng, shape);
    }

    private static void assertPasses(String name, Function<Variable[], Variable> f, Tensor... inputs) {
        var report = GradCheck.check(name, f, inputs);
        assertTrue(report.passed(), report::toString);
    }

    @Test
    void attention() {
        assertPasses("attention causal", v -> Variable.attention(v[0], v[1], v[2], true, 0.5),
                randn(2, 2, 4, 3), randn(2, 2, 4, 3), randn(2, 2, 4, 3));
        assertPasses("attention full, T != S", v -> Variable.attention(v[0], v[1], v[2], false, 0.4),
                randn(1, 2, 3, 5), randn(1, 2, 6, 5), randn(1, 2, 6, 5));
        assertPasses("attention causal offset, grouped-query", v -> Variable.attention(v[0], v[1], v[2], true, 0.6),
                randn(1, 4, 2, 3), randn(1, 2, 5, 3), randn(1, 2, 5, 3));
        assertPasses("attention multi-query", v -> Variable.attention(v[0], v[1], v[2], true, 0.7),
                randn(1, 3, 3, 2), randn(1, 1, 3, 2), randn(1, 1, 3, 2));
    }

    @Test
    void linear() {
        assertPasses("linear with bias, batched", v -> Variable.linear(v[0], v[1], v[2]),
                randn(2, 3, 4), randn(5, 4), randn(5));
        assertPasses("linear without bias", v -> Variable.linear(v[0], v[1], null), randn(3, 4), randn(2, 4));
        assertPasses("linear of a vector", v -> Variable.linear(v[0], v[1], v[2]), randn(4), randn(3, 4), randn(3));
        assertPasses("linear of a transposed input", v -> Variable.linear(v[0].transpose(0, 1), v[1], v[2]),
                randn(4, 3), randn(2, 4), randn(2));
    }

    @Test
    void linearEqualsMatmulWithTheTransposedWeightPlusBias() {
        Tensor x = randn(2, 3, 4);
        Tensor w = randn(5, 4);
        Tensor b = randn(5);
        Tensor g = randn(2, 3, 5);
        Variable[] fused = {Variable.param(x), Variable.param(w), Variable.param(b)};
        Variable[] composite = {Variable.param(x), Variable.param(w), Variable.param(b)};
        Variable yf = Variable.linear(fused[0], fused[1], fused[2]);
        Variable yc = composite[0].matmul(composite[1].t()).add(composite[2]);
        assertEquals(0.0, yf.value().maxAbsDiff(yc.value()), "the bias is added with the same float additions");
        yf.backward(g);
        yc.backward(g);
        for (int i = 0; i < 3; i++) {
            assertTrue(fused[i].grad().allClose(composite[i].grad(), 1e-12, 1e-12), "gradient " + i);
        }
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.jgrad.tensor.ShapeException.class,
                () -> Variable.linear(Variable.param(randn(3, 4)), Variable.param(randn(5, 3)), null));
        assertTrue(e.getMessage().contains("linear") && e.getMessage().contains("[3, 4]"), e.getMessage());
    }

    @Test
    void attentionPacked() {
        assertPasses("attention from a fused qkv, causal", v -> Variable.attentionPacked(v[0], 2, 2, true, 0.5),
                randn(2, 3, 18));
        assertPasses("attention from a fused qkv, grouped-query, full", v -> Variable.attentionPacked(v[0], 4, 2, false, 0.4),
                randn(1, 4, 16));
    }

    @Test
    void attentionPackedEqualsSplittingIntoHeads() {
        int b = 2;
        int t = 5;
        int hq = 4;
        int hkv = 2;
        int d = 3;
        Tensor x = randn(b, t, (hq + 2 * hkv) * d);
        Tensor g = randn(b, t, hq * d);
        Variable packed = Variable.param(x);
        Variable split = Variable.param(x);
        Variable yp = Variable.attentionPacked(packed, hq, hkv, true, 0.3);
        Variable[] parts = split.split(2, hq * d, hkv * d, hkv * d);
        Variable q = parts[0].reshape(b, t, hq, d).transpose(1, 2);
        Variable k = parts[1].reshape(b, t, hkv, d).transpose(1, 2);
        Variable v = parts[2].reshape(b, t, hkv, d).transpose(1, 2);
        Variable ys = Variable.attention(q, k, v, true, 0.3).transpose(1, 2).reshape(b, t, hq * d);
        assertEquals(0.0, yp.value().maxAbsDiff(ys.value()));
        yp.backward(g);
        ys.backward(g);
        assertEquals(0.0, packed.grad().maxAbsDiff(split.grad()));
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.jgrad.tensor.ShapeException.class,
                () -> Variable.attentionPacked(Variable.param(randn(1, 2, 10)), 2, 2, true, 1));
        assertTrue(e.getMessage().contains("Attention.forwardPacked") && e.getMessage().contains("[1, 2, 10]"),
                e.getMessage());
    }

    @Test
    void rope() {
        assertPasses("rope", v -> v[0].rope(0, 10000), randn(1, 2, 4, 6));
        assertPasses("rope start 9, theta 500000", v -> v[0].rope(9, 500000), randn(2, 1, 3, 8));
    }

    @Test
    void crossEntropy() {
        assertPasses("cross entropy", v -> Variable.crossEntropy(v[0], new int[] {2, 0, 4}, -100, 0), randn(3, 5));
        assertPasses("cross entropy ignore + smoothing",
                v -> Variable.crossEntropy(v[0], new int[] {1, -100, 3, 3}, -100, 0.15), randn(4, 5));
    }

    @Test
    void ropeThenAttentionThenCrossEntropyAsInATransformerBlock() {
        // q and k rotated, attention, then the outputs read as logits over D classes.
        int[] targets = {0, 3, 1, 2, 2, 0};
        assertPasses("rope + attention + cross entropy", v -> {
            Variable q = v[0].rope(0, 10000);
            Variable k = v[1].rope(0, 10000);
            Variable out = Variable.attention(q, k, v[2], true, 0.5);
            return Variable.crossEntropy(out.reshape(6, 4), targets, -100, 0.1);
        }, randn(1, 2, 3, 4), randn(1, 1, 3, 4), randn(1, 1, 3, 4));
    }

    @Test
    void crossEntropyCopiesItsTargetsAndRecordsNamedNodes() {
        int[] targets = {1, 0};
        Variable logits = Variable.param(randn(2, 3));
        Variable loss = Variable.crossEntropy(logits, targets, -100, 0);
        targets[0] = 2;
        loss.backward();
        Variable again = Variable.param(logits.value());
        Variable.crossEntropy(again, new int[] {1, 0}, -100, 0).backward();
        assertArrayEquals(again.grad().toDoubleArray(), logits.grad().toDoubleArray(), 0);
        assertEquals("cross_entropy", loss.op());
        assertEquals(0, loss.rank());
        Variable x = Variable.param(randn(1, 1, 2, 4));
        assertEquals("rope", x.rope(0, 10000).op());
        assertEquals("attention", Variable.attention(x, x, x, true, 1).op());
    }
}
