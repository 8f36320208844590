package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

class HeadsTest {

    /** Columns [start, start + count·headDim) of x [B, T, W] seen as heads [B, count, T, headDim]. */
    private static Tensor headsView(Tensor x, int start, int count, int headDim) {
        return x.narrow(2, start, count * headDim).contiguous().view(x.size(0), x.size(1), count, headDim)
                .transpose(1, 2);
    }

    /**
     * Every head size (5: the plain row copy; 32: whole vectors), small tensors (one range on the caller) and large
     * ones (split over two threads), contiguous and not.
     */
    @Test
    void splitAndMergeMoveTheSameValuesAsTheStridedView() {
        Rng rng = new Rng(3);
        int savedThreads = Parallel.threads();
        try {
            for (int threads : new int[] {1, 2}) {
                Parallel.setThreads(threads);
                for (int headDim : new int[] {5, 32}) {
                    for (int[] bt : new int[][] {{2, 3}, {4, 300}}) {
                        for (DType dtype : DType.values()) {
                            checkSplitAndMerge(rng, dtype, bt[0], bt[1], headDim);
                        }
                    }
                }
            }
        } finally {
            Parallel.setThreads(savedThreads);
        }
    }

    private static void checkSplitAndMerge(Rng rng, DType dtype, int batch, int time, int headDim) {
        Tensor packed = Tensor.randn(dtype, rng, batch, time, 7 * headDim);                    // [B, T, W]
        Tensor transposed = Tensor.randn(dtype, rng, time, batch, 7 * headDim).transpose(0, 1); // not contiguous
        for (Tensor x : new Tensor[] {packed, transposed}) {
            for (int[] range : new int[][] {{0, 4}, {4 * headDim, 3}, {headDim, 1}}) {
                Tensor heads = Heads.split(x, range[0], range[1], headDim);
                assertArrayEquals(new int[] {batch, range[1], time, headDim}, heads.shape());
                assertTrue(heads.isContiguous());
                assertArrayEquals(headsView(x, range[0], range[1], headDim).toDoubleArray(), heads.toDoubleArray());

                Tensor out = Tensor.full(dtype, -7, batch, time, 7 * headDim);
                assertSame(out, Heads.mergeInto(heads, out, range[0]));
                Tensor expected = Tensor.full(dtype, -7, batch, time, 7 * headDim);
                expected.narrow(2, range[0], range[1] * headDim).copyFrom(x.narrow(2, range[0], range[1] * headDim));
                assertArrayEquals(expected.toDoubleArray(), out.toDoubleArray(), "columns outside stay untouched");
            }
        }
    }

    @Test
    void mergeReadsNonContiguousHeads() {
        Tensor x = Tensor.randn(new Rng(5), 2, 4, 12);
        Tensor heads = Heads.split(x, 0, 3, 4);
        Tensor strided = heads.transpose(0, 1).contiguous().transpose(0, 1);   // same values, other layout
        Tensor out = Heads.mergeInto(strided, Tensor.zeros(2, 4, 12), 0);
        assertArrayEquals(x.toFloatArray(), out.toFloatArray());
    }

    @Test
    void badArgumentsNameTheOpAndShapes() {
        Tensor x = Tensor.zeros(2, 3, 8);
        var e = assertThrows(ShapeException.class, () -> Heads.split(x, 4, 2, 4));
        assertTrue(e.getMessage().contains("Heads.split") && e.getMessage().contains("[2, 3, 8]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Heads.split(Tensor.zeros(6, 8), 0, 2, 4));
        assertTrue(e.getMessage().contains("[6, 8]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> Heads.mergeInto(Tensor.zeros(2, 2, 4, 4), x, 0));
        assertTrue(e.getMessage().contains("Heads.mergeInto") && e.getMessage().contains("[2, 2, 4, 4]"),
                e.getMessage());
        var d = assertThrows(IllegalArgumentException.class,
                () -> Heads.mergeInto(Tensor.zeros(DType.F64, 2, 2, 3, 4), x, 0));
        assertTrue(d.getMessage().contains("F64"), d.getMessage());
        d = assertThrows(IllegalArgumentException.class,
                () -> Heads.mergeInto(Tensor.zeros(2, 2, 3, 4), Tensor.zeros(2, 8, 3).transpose(1, 2), 0));
        assertTrue(d.getMessage().contains("contiguous"), d.getMessage());
    }
}
