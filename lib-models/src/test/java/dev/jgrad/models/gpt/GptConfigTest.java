package dev.jgrad.models.gpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.models.io.Json;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GptConfigTest {
    @Test
    void gpt2SmallHasThePublishedParameterCount() {
        // HF's GPT2LMHeadModel "gpt2" reports 124,439,808 parameters (tied head counted once).
        assertEquals(124_439_808L, GptConfig.gpt2Small(50257, 1024).parameterCount());
        // The same number from the architecture, term by term.
        long d = 768;
        long perLayer = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
        assertEquals(50257 * d + 1024 * d + 12 * perLayer + 2 * d, GptConfig.gpt2Small(50257, 1024).parameterCount());
    }

    @Test
    void benchmarkPresets() {
        GptConfig small = GptConfig.preset("small");
        assertEquals(new GptConfig(256, 128, 4, 128, 4, 4, 512, GptConfig.Norm.LAYER_NORM, GptConfig.Activation.GELU,
                GptConfig.Positions.LEARNED, 10000, true, true, 0.0, 1e-5), small);
        GptConfig large = GptConfig.preset("large");
        assertEquals(256, large.vocabSize());
        assertEquals(256, large.contextLength());
        assertEquals(6, large.layers());
        assertEquals(384, large.dModel());
        assertEquals(6, large.heads());
        assertEquals(1536, large.mlpHidden());
        assertEquals(64, large.headDim());
        var unknown = assertThrows(IllegalArgumentException.class, () -> GptConfig.preset("medium"));
        assertTrue(unknown.getMessage().contains("medium"), unknown.getMessage());
        GptConfig llama = GptConfig.llama(100, 64, 2, 32, 4, 2, 86);
        assertEquals(GptConfig.Layout.LLAMA, llama.layout());
        assertEquals(GptConfig.Positions.ROPE, llama.positions());
        assertEquals(GptConfig.Layout.GPT2, small.layout());
    }

    @Test
    void validationNamesTheFields() {
        var divisible = assertThrows(IllegalArgumentException.class, () -> GptConfig.gpt2(10, 8, 1, 30, 4));
        assertTrue(divisible.getMessage().contains("dModel (30)") && divisible.getMessage().contains("heads (4)"),
                divisible.getMessage());
        var groups = assertThrows(IllegalArgumentException.class, () -> GptConfig.llama(10, 8, 1, 24, 6, 4, 32));
        assertTrue(groups.getMessage().contains("heads (6)") && groups.getMessage().contains("kvHeads (4)"),
                groups.getMessage());
        var odd = assertThrows(IllegalArgumentException.class, () -> GptConfig.llama(10, 8, 1, 12, 4, 4, 32));
        assertTrue(odd.getMessage().contains("RoPE") && odd.getMessage().contains("3"), odd.getMessage());
        var several = assertThrows(IllegalArgumentException.class, () -> new GptConfig(0, 8, -1, 16, 4, 4, 32,
                GptConfig.Norm.LAYER_NORM, GptConfig.Activation.GELU, GptConfig.Positions.LEARNED, 0, true, true,
                1.0, 0));
        String m = several.getMessage();
        assertTrue(m.contains("vocabSize") && m.contains("layers") && m.contains("dropout") && m.contains("eps"), m);
        assertTrue(!m.contains("ropeTheta"), "ropeTheta is unused with learned positions: " + m);
    }

    @Test
    void jsonRoundTrip() {
        GptConfig c = new GptConfig(7, 6, 3, 24, 6, 2, 40, GptConfig.Norm.RMS_NORM, GptConfig.Activation.SWIGLU,
                GptConfig.Positions.ROPE, 500000, false, false, 0.1, 1e-6);
        String json = c.toJson();
        assertTrue(json.contains("\"kv_heads\": 2") && json.contains("\"norm\": \"rms_norm\""), json);
        assertEquals(c, GptConfig.fromJson(json));
        assertEquals(GptConfig.small(), GptConfig.fromMap(Json.parseObject(Json.write(GptConfig.small().toMap()))));
    }

    @Test
    void fromMapRejectsMissingUnknownAndMistypedKeys() {
        Map<String, Object> m = new LinkedHashMap<>(GptConfig.small().toMap());
        m.remove("eps");
        m.put("n_embd", 5);
        var keys = assertThrows(IllegalArgumentException.class, () -> GptConfig.fromMap(m));
        assertTrue(keys.getMessage().contains("[eps]") && keys.getMessage().contains("[n_embd]"), keys.getMessage());

        Map<String, Object> typed = new LinkedHashMap<>(GptConfig.small().toMap());
        typed.put("heads", 2.5);
        var integer = assertThrows(IllegalArgumentException.class, () -> GptConfig.fromMap(typed));
        assertTrue(integer.getMessage().contains("'heads'"), integer.getMessage());
        typed.put("heads", 4);
        typed.put("norm", "batch_norm");
        var choice = assertThrows(IllegalArgumentException.class, () -> GptConfig.fromMap(typed));
        assertTrue(choice.getMessage().contains("layer_norm") && choice.getMessage().contains("batch_norm"), choice.getMessage());
    }
}
