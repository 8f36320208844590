package dev.jgrad.models.gpt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class AttentionMapsTest {

    @Test
    void mapsAreCausalDistributionsPerLayerAndHead() {
        for (String preset : new String[] {"gpt2", "llama"}) {
            GptConfig config = preset.equals("gpt2") ? GptConfig.fromMap(tinyGpt2()) : GptConfig.llama(10, 8, 2, 16, 4, 2, 32);
            Gpt model = new Gpt(config, DType.F64, new Rng(3));
            int[] ids = {1, 5, 2, 7, 3, 3, 0, 9};
            List<Tensor> maps = model.attentionMaps(ids, 2, 4);
            assertEquals(config.layers(), maps.size());
            for (Tensor m : maps) {
                assertArrayEquals(new int[] {2, config.heads(), 4, 4}, m.shape());
                Tensor rowSums = m.sum(false, -1);
                assertTrue(rowSums.allClose(Tensor.ones(DType.F64, 2, config.heads(), 4), 1e-12, 1e-12), preset);
                for (int t = 0; t < 4; t++) {
                    for (int s = t + 1; s < 4; s++) {
                        assertEquals(0.0, m.get(1, 0, t, s), preset + ": query " + t + " sees the later key " + s);
                    }
                }
                // Query 0 can only attend to key 0.
                assertEquals(1.0, m.get(0, config.heads() - 1, 0, 0), 1e-12);
            }
            // The first layer's map is what its attention uses: changing the last token changes only the last row.
            int[] changed = ids.clone();
            changed[3] = 8;
            Tensor before = maps.get(0);
            Tensor after = model.attentionMaps(changed, 2, 4).get(0);
            assertEquals(0.0, before.narrow(2, 0, 3).maxAbsDiff(after.narrow(2, 0, 3)), 0.0);
            assertTrue(before.select(0, 0).select(1, 3).maxAbsDiff(after.select(0, 0).select(1, 3)) > 1e-6);
        }
    }

    /** The benchmark "small" config (GPT-2 style) shrunk to a few parameters. */
    private static java.util.Map<String, Object> tinyGpt2() {
        var map = new java.util.LinkedHashMap<>(GptConfig.preset("small").toMap());
        map.put("vocab_size", 10L);
        map.put("context_length", 8L);
        map.put("layers", 2L);
        map.put("d_model", 16L);
        map.put("mlp_hidden", 32L);
        return map;
    }
}
