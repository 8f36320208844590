package dev.jgrad.models.gpt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GptTest {
    static final GptConfig TINY_GPT2 = GptConfig.gpt2(11, 8, 2, 16, 4);
    static final GptConfig TINY_LLAMA = GptConfig.llama(11, 8, 2, 16, 4, 2, 24);

    static Map<String, List<Integer>> shapes(Gpt model) {
        Map<String, List<Integer>> out = new LinkedHashMap<>();
        model.namedParameters().forEach((name, p) -> {
            List<Integer> s = new ArrayList<>();
            for (int d : p.shape()) {
                s.add(d);
            }
            out.put(name, s);
        });
        return out;
    }

    @Test
    void gpt2NamesAndShapesAreNanoGpts() {
        var s = shapes(new Gpt(TINY_GPT2, new Rng(0)));
        List<String> expected = new ArrayList<>(List.of("transformer.wte.weight", "transformer.wpe.weight"));
        for (int i = 0; i < 2; i++) {
            for (String n : List.of("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
                    "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")) {
                expected.add("transformer.h." + i + "." + n);
            }
        }
        expected.addAll(List.of("transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"));
        assertEquals(expected, List.copyOf(s.keySet()));
        assertEquals(List.of(11, 16), s.get("transformer.wte.weight"));
        assertEquals(List.of(8, 16), s.get("transformer.wpe.weight"));
        assertEquals(List.of(48, 16), s.get("transformer.h.1.attn.c_attn.weight"));
        assertEquals(List.of(16, 64), s.get("transformer.h.0.mlp.c_proj.weight"));
        assertEquals(List.of(11, 16), s.get("lm_head.weight"));
    }

    @Test
    void llamaNamesAndShapesAreHuggingFaces() {
        var s = shapes(new Gpt(TINY_LLAMA, new Rng(0)));
        List<String> expected = new ArrayList<>(List.of("model.embed_tokens.weight"));
        for (int i = 0; i < 2; i++) {
            for (String n : List.of("input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                    "self_attn.v_proj.weight", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                    "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")) {
                expected.add("model.layers." + i + "." + n);
            }
        }
        expected.addAll(List.of("model.norm.weight", "lm_head.weight"));
        assertEquals(expected, List.copyOf(s.keySet()));
        assertEquals(List.of(16, 16), s.get("model.layers.0.self_attn.q_proj.weight"));
        assertEquals(List.of(8, 16), s.get("model.layers.0.self_attn.k_proj.weight"), "2 kv heads of size 4");
        assertEquals(List.of(24, 16), s.get("model.layers.1.mlp.up_proj.weight"));
        assertEquals(List.of(16, 24), s.get("model.layers.1.mlp.down_proj.weight"));
    }

    @Test
    void parameterCountsMatchTheConfigFormula() {
        List<GptConfig> configs = List.of(TINY_GPT2, TINY_LLAMA, GptConfig.small(),
                // GQA with a fused c_attn, untied, no biases, RoPE in the GPT-2 layout
                new GptConfig(7, 6, 3, 24, 6, 2, 40, GptConfig.Norm.LAYER_NORM, GptConfig.Activation.SWIGLU,
                        GptConfig.Positions.ROPE, 500, false, false, 0.1, 1e-6),
                // learned positions and biases in the LLaMA layout
                new GptConfig(7, 6, 1, 12, 3, 3, 20, GptConfig.Norm.RMS_NORM, GptConfig.Activation.GELU,
                        GptConfig.Positions.LEARNED, 10000, true, true, 0.0, 1e-5));
        for (GptConfig c : configs) {
            Gpt model = new Gpt(c, new Rng(0));
            long elements = 0;
            for (Variable p : model.parameters()) {
                elements += p.value().numel();
            }
            assertEquals(elements, model.parameterCount(), c.toString());
            assertEquals(c.parameterCount(), model.parameterCount(), c.toString());
        }
        // Tiny GPT-2 by hand: wte 11*16 + wpe 8*16 + 2 * (2 LN 64 + c_attn 16*48+48 + c_proj 16*16+16
        //                     + c_fc 16*64+64 + c_proj 64*16+16) + ln_f 32, lm_head tied.
        assertEquals(11 * 16 + 8 * 16 + 2 * (64 + 816 + 272 + 1088 + 1040) + 32, new Gpt(TINY_GPT2, new Rng(0)).parameterCount());
    }

    @Test
    void tiedHeadIsTheTokenEmbeddingUnderBothNames() {
        Gpt model = new Gpt(TINY_GPT2, new Rng(0));
        var named = model.namedParameters();
        assertSame(named.get("transformer.wte.weight"), named.get("lm_head.weight"));
        assertSame(model.stateDict().get("transformer.wte.weight"), model.stateDict().get("lm_head.weight"));
        assertEquals(named.size() - 1, model.parameters().size(), "an optimizer sees the tied weight once");
        assertEquals(named.size() - 1, model.distinctNamedParameters().size());
        assertTrue(model.distinctNamedParameters().containsKey("transformer.wte.weight"));

        // The tied gradient is the sum of the two uses' gradients: compare with an untied copy holding equal values.
        GptConfig c = TINY_GPT2;
        Gpt untied = new Gpt(new GptConfig(c.vocabSize(), c.contextLength(), c.layers(), c.dModel(), c.heads(),
                c.kvHeads(), c.mlpHidden(), c.norm(), c.activation(), c.positions(), c.ropeTheta(), false, c.bias(),
                c.dropout(), c.eps()), new Rng(5));
        untied.loadStateDict(model.stateDict(), true);
        int[] ids = {1, 2, 3, 4};
        int[] targets = {2, 3, 4, 5};
        model.loss(ids, targets, 1, 4).backward();
        untied.loss(ids, targets, 1, 4).backward();
        Tensor sum = untied.namedParameters().get("transformer.wte.weight").grad()
                .add(untied.namedParameters().get("lm_head.weight").grad());
        assertEquals(0, sum.maxAbsDiff(named.get("lm_head.weight").grad()), 1e-6);

        assertNotEquals(untied.namedParameters().get("transformer.wte.weight"), untied.namedParameters().get("lm_head.weight"));
    }

    @Test
    void strictLoadWantsBothTiedNamesWithEqualValues() {
        Gpt a = new Gpt(TINY_GPT2, new Rng(1));
        Gpt b = new Gpt(TINY_GPT2, new Rng(2));
        b.loadStateDict(a.stateDict(), true);
        assertEquals(0, a.stateDict().get("lm_head.weight").maxAbsDiff(b.stateDict().get("lm_head.weight")));

        Map<String, Tensor> withoutHead = new LinkedHashMap<>(a.stateDict());
        withoutHead.remove("lm_head.weight");
        var missing = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(withoutHead, true));
        assertTrue(missing.getMessage().contains("lm_head.weight"), missing.getMessage());
        b.loadStateDict(withoutHead, false);

        Map<String, Tensor> conflicting = new LinkedHashMap<>(a.stateDict());
        conflicting.put("lm_head.weight", Tensor.zeros(11, 16));
        var conflict = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(conflicting, true));
        assertTrue(conflict.getMessage().contains("transformer.wte.weight") && conflict.getMessage().contains("lm_head.weight"),
                conflict.getMessage());
    }

    @Test
    void wrongShapesAreRefusedAndChangeNothing() {
        Gpt a = new Gpt(TINY_LLAMA, new Rng(1));
        Gpt b = new Gpt(GptConfig.llama(11, 8, 2, 16, 4, 4, 24), new Rng(1));   // 4 kv heads instead of 2
        Tensor before = a.stateDict().get("model.embed_tokens.weight").copy();
        var e = assertThrows(ShapeException.class, () -> a.loadStateDict(b.stateDict(), true));
        assertTrue(e.getMessage().contains("k_proj.weight") && e.getMessage().contains("[8, 16]")
                && e.getMessage().contains("[16, 16]"), e.getMessage());
        assertEquals(0, before.maxAbsDiff(a.stateDict().get("model.embed_tokens.weight")));
    }

    @Test
    void initialisationFollowsGpt2() {
        GptConfig c = GptConfig.small();
        Gpt model = new Gpt(c, new Rng(42));
        var p = model.stateDict();
        double residualStd = 0.02 / Math.sqrt(2 * c.layers());
        for (var e : p.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name.endsWith(".bias")) {
                assertEquals(0, t.abs().max(false).item(), name);
            } else if (name.contains(".ln_")) {
                assertEquals(0, t.sub(1).abs().max(false).item(), name);
            } else {
                double std = name.endsWith("c_proj.weight") ? residualStd : 0.02;
                double mean = t.mean().item();
                double sampleStd = Math.sqrt(t.var(1, false).item());
                // numel >= 16384 here, so the sample std is within a few percent of the true one.
                assertEquals(0, mean, 4 * std / Math.sqrt(t.numel()), name + " mean");
                assertEquals(std, sampleStd, 0.05 * std, name + " std");
            }
        }
        Gpt again = new Gpt(c, new Rng(42));
        assertEquals(0, p.get("transformer.h.3.mlp.c_fc.weight").maxAbsDiff(again.stateDict().get("transformer.h.3.mlp.c_fc.weight")),
                "the same seed gives the same model");
        Gpt other = new Gpt(c, new Rng(43));
        assertTrue(p.get("transformer.h.3.mlp.c_fc.weight").maxAbsDiff(other.stateDict().get("transformer.h.3.mlp.c_fc.weight")) > 0);
    }

    @Test
    void llamaInitScalesResidualProjectionsAndSetsNormsToOne() {
        Gpt model = new Gpt(GptConfig.llama(64, 16, 2, 64, 4, 2, 128), new Rng(5));
        var p = model.stateDict();
        double residual = Math.sqrt(p.get("model.layers.0.self_attn.o_proj.weight").var(1, false).item());
        double down = Math.sqrt(p.get("model.layers.1.mlp.down_proj.weight").var(1, false).item());
        double gate = Math.sqrt(p.get("model.layers.1.mlp.gate_proj.weight").var(1, false).item());
        assertEquals(0.01, residual, 0.001);
        assertEquals(0.01, down, 0.001);
        assertEquals(0.02, gate, 0.002);
        assertEquals(1.0, p.get("model.norm.weight").min(false).item());
        assertEquals(1.0, p.get("model.layers.0.input_layernorm.weight").max(false).item());
    }

    @Test
    void logitsHaveTheRightShapeAndAreCausal() {
        Gpt model = new Gpt(TINY_LLAMA, new Rng(4));
        int[] ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        Tensor logits = model.logits(ids, 2, 5).value();
        assertArrayEquals(new int[] {2, 5, 11}, logits.shape());
        int[] changedLast = ids.clone();
        changedLast[4] = 0;
        Tensor other = model.logits(changedLast, 2, 5).value();
        assertEquals(0, logits.narrow(1, 0, 4).maxAbsDiff(other.narrow(1, 0, 4)), "earlier positions do not see a later token");
        assertTrue(logits.narrow(1, 4, 1).narrow(0, 0, 1).maxAbsDiff(other.narrow(1, 4, 1).narrow(0, 0, 1)) > 0);
        assertEquals(0, logits.narrow(0, 1, 1).maxAbsDiff(other.narrow(0, 1, 1)), "batch rows are independent");
    }

    @Test
    void dropoutIsSeededAndOffInEvalMode() {
        GptConfig c = TINY_GPT2.withDropout(0.3);
        int[] ids = {1, 2, 3, 4, 5, 6};
        Gpt a = new Gpt(c, new Rng(9));
        Gpt b = new Gpt(c, new Rng(9));
        Tensor trainA = a.logits(ids, 1, 6).value();
        assertEquals(0, trainA.maxAbsDiff(b.logits(ids, 1, 6).value()), "the same seed drops the same units");
        Tensor trainA2 = a.logits(ids, 1, 6).value();
        assertTrue(trainA.maxAbsDiff(trainA2) > 1e-4, "each forward draws a new mask");

        a.eval();
        b.eval();
        Tensor evalA = a.logits(ids, 1, 6).value();
        assertEquals(0, evalA.maxAbsDiff(a.logits(ids, 1, 6).value()), "eval mode is deterministic");
        Gpt noDropout = new Gpt(TINY_GPT2, new Rng(9));
        assertEquals(0, evalA.maxAbsDiff(noDropout.logits(ids, 1, 6).value()), 1e-6,
                "in eval mode dropout is the identity (same init, the dropout rate does not change it)");
    }

    @Test
    void badInputsAreNamed() {
        Gpt model = new Gpt(TINY_GPT2, new Rng(0));
        var length = assertThrows(IllegalArgumentException.class, () -> model.logits(new int[5], 2, 3));
        assertTrue(length.getMessage().contains("ids.length (5)"), length.getMessage());
        var context = assertThrows(IllegalArgumentException.class, () -> model.logits(new int[9], 1, 9));
        assertTrue(context.getMessage().contains("context length 8"), context.getMessage());
        var vocab = assertThrows(IllegalArgumentException.class, () -> model.logits(new int[] {1, 11}, 1, 2));
        assertTrue(vocab.getMessage().contains("11"), vocab.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.loss(new int[4], new int[3], 1, 4));
        var target = assertThrows(IllegalArgumentException.class, () -> model.loss(new int[2], new int[] {0, 12}, 1, 2));
        assertTrue(target.getMessage().contains("target 12"), target.getMessage());
    }

    @Test
    void withParametersSwapsTiedWeightsAndRestores() {
        Gpt model = new Gpt(TINY_GPT2, new Rng(0));
        Variable original = model.namedParameters().get("lm_head.weight");
        Variable zero = Variable.param(Tensor.zeros(11, 16));
        Tensor logits = model.withParameters(Map.of("transformer.wte.weight", zero),
                () -> model.logits(new int[] {1, 2}, 1, 2)).value();
        assertEquals(0, logits.abs().max(false).item(), "a zero tied embedding makes the head output zero logits");
        assertSame(original, model.namedParameters().get("lm_head.weight"), "restored afterwards");
        var bad = assertThrows(ShapeException.class,
                () -> model.withParameters(Map.of("lm_head.weight", Variable.param(Tensor.zeros(3, 3))), () -> 0));
        assertTrue(bad.getMessage().contains("lm_head.weight") && bad.getMessage().contains("[3, 3]"), bad.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> model.withParameters(Map.of("nope", zero), () -> 0));
    }
}
