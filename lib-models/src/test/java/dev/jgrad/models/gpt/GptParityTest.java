package dev.jgrad.models.gpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.GradCheck;
import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * The GPT-2 and LLaMA variants against the PyTorch models of make_fixtures_gpt.py: the same parameters and batch
 * must give the same logits, loss and gradient of every parameter.
 */
class GptParityTest {
    static final Map<String, Map<String, Tensor>> MODELS = Fixtures.load("gpt_models");
    static final int BATCH = 2;
    static final int TIME = 8;

    /** The fixture configs: vocab 11, ctx 8, 2 layers, d 16, 4 heads (2 kv heads for LLaMA). */
    static GptConfig config(String variant) {
        return switch (variant) {
            case "gpt2" -> GptConfig.gpt2(11, 8, 2, 16, 4);
            case "llama" -> GptConfig.llama(11, 8, 2, 16, 4, 2, 24);
            default -> throw new IllegalArgumentException(variant);
        };
    }

    static Map<String, Tensor> prefixed(Map<String, Tensor> c, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        c.forEach((name, t) -> {
            if (name.startsWith(prefix)) {
                out.put(name.substring(prefix.length()), t);
            }
        });
        return out;
    }

    static int[] ints(Tensor t) {
        double[] d = t.toDoubleArray();
        int[] out = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (int) d[i];
        }
        return out;
    }

    /** Largest |a - b| over the reference's largest |b|: relative to the tensor's scale. */
    static double relativeError(Tensor expected, Tensor actual) {
        return expected.maxAbsDiff(actual.to(DType.F64)) / Math.max(1e-30, expected.abs().max(false).item());
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"gpt2, F64, 1e-12, 1e-10", "gpt2, F32, 1e-4, 1e-4", "llama, F64, 1e-12, 1e-10", "llama, F32, 1e-4, 1e-4"})
    void logitsLossAndGradientsMatchTorch(String variant, DType dtype, double logitsTolerance, double gradTolerance) {
        Map<String, Tensor> c = MODELS.get(variant);
        Gpt model = new Gpt(config(variant), dtype, new Rng(1));
        Map<String, Tensor> params = prefixed(c, "param.");
        assertEquals(params.keySet(), model.stateDict().keySet(), "the state dict names are PyTorch's");
        model.loadStateDict(params, true);

        int[] ids = ints(c.get("ids"));
        int[] targets = ints(c.get("targets"));
        Variable logits = model.logits(ids, BATCH, TIME);
        double logitsError = c.get("logits").maxAbsDiff(logits.value().to(DType.F64));
        assertTrue(logitsError <= logitsTolerance, variant + " " + dtype + ": logits max abs diff " + logitsError);

        Variable loss = model.loss(ids, targets, BATCH, TIME);
        assertEquals(c.get("loss").item(), loss.item(), logitsTolerance, "loss");
        loss.backward();
        Map<String, Tensor> grads = prefixed(c, "grad.");
        double worst = 0;
        for (var e : model.namedParameters().entrySet()) {
            double error = relativeError(grads.get(e.getKey()), e.getValue().grad());
            assertTrue(error <= gradTolerance, variant + " " + dtype + " grad " + e.getKey() + ": relative error " + error);
            worst = Math.max(worst, error);
        }
        System.out.printf("parity %s %s: logits max abs diff %.2e, loss diff %.2e, worst grad relative error %.2e%n",
                variant, dtype, logitsError, Math.abs(c.get("loss").item() - loss.item()), worst);
    }

    /** Every distinct parameter of a 1-layer model against central differences (F64). */
    @ParameterizedTest
    @EnumSource(GptConfig.Norm.class)
    void oneLayerModelPassesGradcheck(GptConfig.Norm norm) {
        GptConfig config = norm == GptConfig.Norm.LAYER_NORM
                ? new GptConfig(5, 4, 1, 8, 2, 1, 12, norm, GptConfig.Activation.GELU, GptConfig.Positions.LEARNED,
                        10000, true, true, 0.0, 1e-5)
                : GptConfig.llama(5, 4, 1, 8, 2, 1, 12);
        Gpt model = new Gpt(config, DType.F64, new Rng(7));
        // Weights large enough that every nonlinearity is exercised away from its linear regime.
        Rng rng = new Rng(8);
        model.parameters().forEach(p -> p.value().copyFrom(p.value().add(Tensor.randn(DType.F64, rng, p.shape()).mul(0.5))));
        Map<String, Variable> named = model.distinctNamedParameters();
        String[] names = named.keySet().toArray(String[]::new);
        Tensor[] values = named.values().stream().map(Variable::value).toArray(Tensor[]::new);
        int[] ids = {1, 4, 0, 2, 3, 3, 1, 0};
        int[] targets = {4, 0, -1, 1, 2, 0, 3, 3};
        var report = GradCheck.check("gpt 1 layer " + norm, v -> {
            Map<String, Variable> replacements = new LinkedHashMap<>();
            for (int i = 0; i < names.length; i++) {
                replacements.put(names[i], v[i]);
            }
            return model.withParameters(replacements, () -> model.loss(ids, targets, 2, 4));
        }, 1e-6, 1e-5, 1e-8, values);
        assertTrue(report.passed(), report.toString());
    }

    @Test
    void theF64ModelAgreesWithTheF32Model() {
        GptConfig config = GptConfig.llama(13, 8, 2, 16, 4, 2, 24);
        Gpt f64 = new Gpt(config, DType.F64, new Rng(3));
        Gpt f32 = new Gpt(config, DType.F32, new Rng(3));
        assertEquals(0, f64.stateDict().get("lm_head.weight").maxAbsDiff(f32.stateDict().get("lm_head.weight")), 1e-8,
                "the same seed gives the same initial weights in both dtypes");
        int[] ids = {1, 5, 12, 0, 7, 7, 3, 2};
        double a = f64.loss(ids, ids, 1, 8).item();
        double b = f32.loss(ids, ids, 1, 8).item();
        assertEquals(a, b, 1e-5);
    }
}
