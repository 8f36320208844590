package dev.jgrad.models.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.GradCheck;
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

class LayersTest {
    static final DType F64 = DType.F64;

    /**
     * Gradchecks {@code forward(x)} of a layer with respect to x and every parameter, through
     * {@link Module#withParameters}. Parameters get random values so no gradient hides behind a 0 or a 1.
     */
    static void gradcheck(String name, Module layer, Function<Variable, Variable> forward, Tensor x) {
        Rng rng = new Rng(name.hashCode());
        Map<String, Variable> params = layer.distinctNamedParameters();
        String[] names = params.keySet().toArray(String[]::new);
        Tensor[] inputs = new Tensor[names.length + 1];
        inputs[0] = x;
        for (int i = 0; i < names.length; i++) {
            inputs[i + 1] = Tensor.randn(F64, rng, params.get(names[i]).shape()).mul(0.7);
        }
        var report = GradCheck.check(name, v -> {
            Map<String, Variable> replacements = new LinkedHashMap<>();
            for (int i = 0; i < names.length; i++) {
                replacements.put(names[i], v[i + 1]);
            }
            return layer.withParameters(replacements, () -> forward.apply(v[0]));
        }, 1e-6, 1e-5, 1e-8, inputs);
        assertTrue(report.passed(), report.toString());
        assertEquals(names.length + 1, report.inputs().size());
    }

    static List<String> names(Module m) {
        return List.copyOf(m.namedParameters().keySet());
    }

    @Test
    void linearIsXTimesWeightTransposedPlusBias() {
        Linear linear = new Linear(3, 2, true, F64, new Rng(1));
        assertEquals(List.of("weight", "bias"), names(linear));
        assertArrayEquals(new int[] {2, 3}, linear.weight().shape());
        linear.weight().value().copyFrom(Tensor.of(new double[][] {{1, 2, 3}, {4, 5, 6}}));
        linear.bias().value().copyFrom(Tensor.of(new double[] {10, 20}, 2));
        Tensor y = linear.forward(Variable.constant(Tensor.of(new double[][] {{1, 0, -1}}))).value();
        assertEquals(1 - 3 + 10, y.get(0, 0));
        assertEquals(4 - 6 + 20, y.get(0, 1));
        // PyTorch's default init: U(-1/sqrt(in), 1/sqrt(in)).
        Linear wide = new Linear(400, 300, true, F64, new Rng(2));
        double bound = 1 / Math.sqrt(400);
        assertTrue(wide.weight().value().abs().max(false).item() <= bound);
        assertEquals(bound / Math.sqrt(3), Math.sqrt(wide.weight().value().var(1, false).item()), 0.01 * bound);
        var e = assertThrows(ShapeException.class, () -> linear.forward(Variable.constant(Tensor.zeros(F64, 2, 4))));
        assertTrue(e.getMessage().contains("Linear.forward") && e.getMessage().contains("[2, 4]"), e.getMessage());
    }

    @Test
    void layerGradchecks() {
        Rng rng = new Rng(3);
        Linear linear = new Linear(4, 3, true, F64, rng);
        gradcheck("linear", linear, linear::forward, Tensor.randn(F64, rng, 2, 3, 4));
        LayerNorm layerNorm = new LayerNorm(5, 1e-5, true, F64);
        gradcheck("layer norm", layerNorm, layerNorm::forward, Tensor.randn(F64, rng, 3, 5));
        LayerNorm biasFree = new LayerNorm(5, 1e-5, true, false, F64);
        assertEquals(List.of("weight"), names(biasFree));
        gradcheck("layer norm without bias", biasFree, biasFree::forward, Tensor.randn(F64, rng, 3, 5));
        RmsNorm rmsNorm = new RmsNorm(5, 1e-6, F64);
        gradcheck("rms norm", rmsNorm, rmsNorm::forward, Tensor.randn(F64, rng, 2, 2, 5));
        Mlp gelu = Mlp.gelu(4, 6, true, 0, null, F64, rng);
        assertEquals(List.of("c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias"), names(gelu));
        gradcheck("gelu mlp", gelu, gelu::forward, Tensor.randn(F64, rng, 2, 3, 4));
        Mlp swiGlu = Mlp.swiGlu(4, 6, false, 0, null, F64, rng);
        assertEquals(List.of("gate_proj.weight", "up_proj.weight", "down_proj.weight"), names(swiGlu));
        gradcheck("swiglu mlp", swiGlu, swiGlu::forward, Tensor.randn(F64, rng, 2, 3, 4));
    }

    @Test
    void embeddingGradcheckAndShape() {
        Embedding embedding = new Embedding(5, 3, F64, new Rng(4));
        int[] ids = {4, 0, 4, 2, 1, 4};
        Variable rows = embedding.forward(ids, 2, 3);
        assertArrayEquals(new int[] {2, 3, 3}, rows.shape());
        assertEquals(0, rows.value().select(0, 0).select(0, 0).maxAbsDiff(embedding.weight().value().select(0, 4)));
        var report = GradCheck.check("embedding", v -> embedding.withParameters(Map.of("weight", v[0]),
                () -> embedding.forward(ids, 2, 3)), Tensor.randn(F64, new Rng(5), 5, 3));
        assertTrue(report.passed(), report.toString());
    }

    @Test
    void attentionLayoutsAndGradchecks() {
        Rng rng = new Rng(6);
        var fused = new CausalSelfAttention(8, 4, 2, CausalSelfAttention.Projections.FUSED, true, false, 0, 0, null, F64, rng);
        assertEquals(List.of("c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"), names(fused));
        assertArrayEquals(new int[] {8 + 2 * 2 * 2, 8}, fused.namedParameters().get("c_attn.weight").shape());
        gradcheck("fused gqa attention", fused, fused::forward, Tensor.randn(F64, rng, 2, 3, 8));

        var separate = new CausalSelfAttention(8, 2, 1, CausalSelfAttention.Projections.SEPARATE, false, true, 100, 0,
                null, F64, rng);
        assertEquals(List.of("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"), names(separate));
        assertArrayEquals(new int[] {4, 8}, separate.namedParameters().get("k_proj.weight").shape());
        assertSame(separate.outputProjection().weight(), separate.namedParameters().get("o_proj.weight"));
        gradcheck("separate rope attention", separate, separate::forward, Tensor.randn(F64, rng, 1, 4, 8));

        var e = assertThrows(IllegalArgumentException.class, () -> new CausalSelfAttention(8, 3, 1,
                CausalSelfAttention.Projections.FUSED, true, false, 0, 0, null, F64, rng));
        assertTrue(e.getMessage().contains("heads 3"), e.getMessage());
        var shape = assertThrows(ShapeException.class, () -> fused.forward(Variable.constant(Tensor.zeros(F64, 2, 8))));
        assertTrue(shape.getMessage().contains("[2, 8]"), shape.getMessage());
    }

    @Test
    void dropoutIsSeededInvertedAndIdentityInEval() {
        Tensor ones = Tensor.ones(F64, 100, 100);
        Dropout a = new Dropout(0.25, new Rng(7));
        Dropout b = new Dropout(0.25, new Rng(7));
        Tensor ya = a.forward(Variable.constant(ones)).value();
        assertEquals(0, ya.maxAbsDiff(b.forward(Variable.constant(ones)).value()), "same seed, same mask");
        assertTrue(ya.maxAbsDiff(a.forward(Variable.constant(ones)).value()) > 0, "a new mask per call");
        double dropped = 0;
        for (double v : ya.toDoubleArray()) {
            assertTrue(v == 0 || Math.abs(v - 1 / 0.75) < 1e-12, "kept values are scaled by 1 / (1 - p): " + v);
            dropped += v == 0 ? 1 : 0;
        }
        // 10,000 Bernoulli(0.25) draws: std of the fraction is 0.0043.
        assertEquals(0.25, dropped / 10_000, 0.02);
        assertEquals(1.0, ya.mean().item(), 0.03, "inverted dropout keeps the expectation");

        Variable x = Variable.param(Tensor.randn(F64, new Rng(8), 4, 5));
        a.eval();
        assertSame(x, a.forward(x), "eval mode is the identity");
        a.train(true);
        assertSame(x, new Dropout(0, null).forward(x), "p = 0 is the identity");
        assertEquals(0, new Dropout(1, new Rng(1)).forward(x).value().abs().max(false).item(), "p = 1 drops everything");

        // The gradient flows through the kept units only, with the same scale.
        Variable y = new Dropout(0.5, new Rng(9)).forward(x);
        y.sum().backward();
        assertEquals(0, x.grad().maxAbsDiff(y.value().div(x.value())), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> new Dropout(1.5, new Rng(1)));
        assertThrows(IllegalArgumentException.class, () -> new Dropout(0.1, null));
    }

    @Test
    void moduleListNamesChildrenByIndex() {
        ModuleList<Linear> list = new ModuleList<>();
        Rng rng = new Rng(1);
        list.add(new Linear(2, 2, false, F64, rng));
        list.add(new Linear(2, 3, true, F64, rng));
        assertEquals(List.of("0.weight", "1.weight", "1.bias"), names(list));
        assertEquals(2, list.size());
        assertEquals(3, list.get(1).out());
    }
}
