package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The tiled transpose path of copyFrom against element-by-element reads, over shapes that hit tile edges. */
class StridedCopyTest {

    private static void assertSameElements(Tensor view) {
        Tensor copy = view.contiguous();
        int[] shape = view.shape();
        int[] idx = new int[shape.length];
        for (int flat = 0; flat < view.numel(); flat++) {
            int f = flat;
            for (int d = shape.length - 1; d >= 0; d--) {
                idx[d] = f % shape[d];
                f /= shape[d];
            }
            assertEquals(view.get(idx), copy.get(idx), "element " + java.util.Arrays.toString(idx));
        }
    }

    @Test
    void transposedCopiesMatchElementwiseReads() {
        Rng rng = new Rng(5);
        assertSameElements(Tensor.randn(rng, 70, 33).t());
        assertSameElements(Tensor.randn(DType.F64, rng, 64, 96).t());
        assertSameElements(Tensor.randn(rng, 3, 40, 37).transpose(1, 2));
        assertSameElements(Tensor.randn(rng, 40, 2, 50).permute(1, 2, 0));
        assertSameElements(Tensor.randn(rng, 2, 45, 3, 40).permute(0, 2, 3, 1));
        assertSameElements(Tensor.randn(rng, 100, 64).t().slice(0, 1, 64, 2));
    }
}
