package dev.jgrad.models.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The fused kernels behind {@link Functional} against the same operations composed from basic tape ops
 * ({@link CompositeReference}): values and every input's gradient, in F64, over the shapes the models use.
 */
class FusedVersusCompositeTest {
    private final Rng rng = new Rng(77);

    private void assertSame(String name, Function<Variable[], Variable> fused, Function<Variable[], Variable> composite,
                            Tensor... inputs) {
        Variable[] a = new Variable[inputs.length];
        Variable[] b = new Variable[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            a[i] = Variable.param(inputs[i]);
            b[i] = Variable.param(inputs[i]);
        }
        Variable ya = fused.apply(a);
        Variable yb = composite.apply(b);
        Tensor upstream = Tensor.randn(DType.F64, rng, ya.shape());
        double valueDiff = ya.value().maxAbsDiff(yb.value());
        assertTrue(valueDiff < 1e-12, name + ": values differ by " + valueDiff);
        ya.backward(upstream);
        yb.backward(upstream);
        for (int i = 0; i < inputs.length; i++) {
            double gradDiff = a[i].grad().maxAbsDiff(b[i].grad());
            assertTrue(gradDiff < 1e-12, name + ": gradient of input " + i + " differs by " + gradDiff);
        }
    }

    private Tensor randn(int... shape) {
        return Tensor.randn(DType.F64, rng, shape);
    }

    @Test
    void attentionMatchesTheComposition() {
        for (boolean causal : new boolean[] {true, false}) {
            assertSame("mha causal=" + causal, v -> Functional.attention(v[0], v[1], v[2], causal, 0.35),
                    v -> CompositeReference.attention(v[0], v[1], v[2], causal, 0.35), randn(2, 4, 5, 8), randn(2, 4, 5, 8),
                    randn(2, 4, 5, 8));
            assertSame("gqa 4/2 odd D causal=" + causal, v -> Functional.attention(v[0], v[1], v[2], causal, 0.5),
                    v -> CompositeReference.attention(v[0], v[1], v[2], causal, 0.5), randn(1, 4, 3, 7), randn(1, 2, 3, 7),
                    randn(1, 2, 3, 7));
        }
        assertSame("mqa with more keys than queries", v -> Functional.attention(v[0], v[1], v[2], true, 0.4),
                v -> CompositeReference.attention(v[0], v[1], v[2], true, 0.4), randn(2, 3, 2, 33), randn(2, 1, 6, 33),
                randn(2, 1, 6, 33));
        assertSame("long rows past one key block", v -> Functional.attention(v[0], v[1], v[2], true, 0.2),
                v -> CompositeReference.attention(v[0], v[1], v[2], true, 0.2), randn(1, 2, 70, 4), randn(1, 2, 70, 4),
                randn(1, 2, 70, 4));
    }

    @Test
    void ropeMatchesTheComposition() {
        assertSame("rope", v -> Functional.rope(v[0], 0, 10000), v -> CompositeReference.rope(v[0], 0, 10000), randn(2, 3, 5, 8));
        assertSame("rope offset", v -> Functional.rope(v[0], 11, 500), v -> CompositeReference.rope(v[0], 11, 500),
                randn(1, 2, 4, 6));
    }

    @Test
    void crossEntropyMatchesTheComposition() {
        int[] targets = {2, 0, -100, 4, 4, 1};
        for (double smoothing : new double[] {0, 0.1}) {
            assertSame("cross entropy smoothing=" + smoothing, v -> Functional.crossEntropy(v[0], targets, -100, smoothing),
                    v -> CompositeReference.crossEntropy(v[0], targets, -100, smoothing), randn(6, 5));
        }
    }
}
