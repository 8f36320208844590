package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

class BarPlotTest {

    @Test
    void rendersLabelledBarsAtRequestedWidth() {
        String[] vocab = {" the", " a", " mat", " dog", " floor"};
        double[] p = {0.4, 0.1, 0.3, 0.05, 0.15};
        Pixels.assertRendered(Plots.bars(vocab, p).top(3).title("next token").toPng(900), 900);
        Pixels.assertRendered(Plots.bars(vocab, Tensor.of(new float[] {0.4f, 0.1f, 0.3f, 0.05f, 0.15f}, 5)).toPng(640), 640);
    }

    @Test
    void mismatchedOrNonFiniteInputIsRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> Plots.bars(new String[] {"a", "b"}, new double[] {1}));
        assertTrue(e.getMessage().contains("2 labels but 1 values"), e.getMessage());
        var nan = assertThrows(IllegalArgumentException.class, () -> Plots.bars(new String[] {"a"}, new double[] {Double.NaN}));
        assertTrue(nan.getMessage().contains("\"a\""), nan.getMessage());
        assertThrows(ShapeException.class, () -> Plots.bars(new String[] {"a"}, Tensor.zeros(1, 1)));
    }
}
