package dev.jgrad.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Tape;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

class RecomputeDecoderTest {
    private final Gpt model = new Gpt(GptConfig.gpt2(40, 16, 2, 32, 4), new Rng(7));
    private final RecomputeDecoder decoder = new RecomputeDecoder(model);

    @Test
    void prefillThenStepsGiveTheLastRowOfAFullForward() {
        // Within float rounding: the GEMM blocks rows differently for a sequence of 3 than for one of 6.
        int[] ids = {3, 14, 15, 9, 2, 6};
        Tensor full = Tape.noGrad(() -> model.logits(ids, 1, ids.length).value());
        Decoder.State state = decoder.newState();
        float[] logits = new float[40];
        decoder.prefill(state, ids, 0, 3, logits);
        assertArrayEquals(full.select(1, 2).toFloatArray(), logits, 1e-5f);
        for (int t = 3; t < ids.length; t++) {
            decoder.step(state, ids[t], logits);
            assertArrayEquals(full.select(1, t).toFloatArray(), logits, 1e-5f);
        }
        assertEquals(ids.length, state.length());
    }

    @Test
    void badInputNamesTheOpAndTheValues() {
        Decoder.State state = decoder.newState();
        float[] logits = new float[40];
        var unknown = assertThrows(IllegalArgumentException.class, () -> decoder.step(state, 40, logits));
        assertTrue(unknown.getMessage().contains("token id 40"), unknown.getMessage());
        var tooLong = assertThrows(IllegalArgumentException.class,
                () -> decoder.prefill(state, new int[17], 0, 17, logits));
        assertTrue(tooLong.getMessage().contains("context length 16"), tooLong.getMessage());
        var wrongRow = assertThrows(IllegalArgumentException.class, () -> decoder.step(state, 1, new float[3]));
        assertTrue(wrongRow.getMessage().contains("float[40]"), wrongRow.getMessage());
        assertEquals(0, state.length(), "a refused call leaves the state unchanged");
    }
}
