package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorCoreTest {

    @Test
    void reshapeOfContiguousIsAView() {
        Tensor t = Tensor.arange(12);
        Tensor r = t.reshape(3, -1);
        assertArrayEquals(new int[] {3, 4}, r.shape());
        assertTrue(r.sharesStorageWith(t));
        assertEquals(7.0, r.get(1, 3));
    }

    @Test
    void reshapeOfTransposeCopiesAndViewRefuses() {
        Tensor t = Tensor.arange(6).reshape(2, 3).t();
        assertFalse(t.isContiguous());
        Tensor r = t.reshape(6);
        assertFalse(r.sharesStorageWith(t));
        assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, r.toFloatArray());
        var e = assertThrows(ShapeException.class, () -> t.view(6));
        assertTrue(e.getMessage().contains("Tensor.view") && e.getMessage().contains("[3, 2]"), e.getMessage());
    }

    @Test
    void viewSplitsAndMergesCompatibleDimensionsOfAStridedTensor() {
        // [4, 6] narrowed to columns 0..3: rows are still 6 apart, so [4, 3] -> [2, 2, 3] is a view.
        Tensor base = Tensor.arange(24).reshape(4, 6);
        Tensor cols = base.narrow(1, 0, 3);
        Tensor v = cols.view(2, 2, 3);
        assertTrue(v.sharesStorageWith(base));
        assertEquals(base.get(3, 2), v.get(1, 1, 2));
        assertThrows(ShapeException.class, () -> cols.view(12));
    }

    @Test
    void permuteSelectSliceAndExpandIndexTheRightElements() {
        Tensor t = Tensor.arange(24).reshape(2, 3, 4);
        Tensor p = t.permute(2, 0, 1);
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        assertEquals(t.get(1, 2, 3), p.get(3, 1, 2));
        Tensor s = t.slice(2, 1, 4, 2); // columns 1 and 3
        assertArrayEquals(new int[] {2, 3, 2}, s.shape());
        assertEquals(t.get(1, 1, 3), s.get(1, 1, 1));
        Tensor sel = t.select(1, -1);
        assertArrayEquals(new int[] {2, 4}, sel.shape());
        assertEquals(t.get(0, 2, 1), sel.get(0, 1));
        Tensor e = Tensor.of(new float[] {1, 2, 3}, 3, 1).expand(2, 3, 4);
        assertEquals(3.0, e.get(1, 2, 3));
        assertEquals(0, e.stride(0));
        assertArrayEquals(new int[] {1, 3}, Tensor.arange(3).unsqueeze(0).shape());
        assertArrayEquals(new int[] {3}, Tensor.zeros(1, 3, 1).squeeze().shape());
    }

    @Test
    void contiguousCopyOfBroadcastAndNegativeStepFreeViews() {
        Tensor e = Tensor.of(new double[] {1, 2}, 2, 1).expand(2, 3);
        assertArrayEquals(new double[] {1, 1, 1, 2, 2, 2}, e.contiguous().toDoubleArray());
        Tensor strided = Tensor.arange(20).reshape(4, 5).slice(0, 0, 4, 2).slice(1, 1, 5, 3);
        assertArrayEquals(new float[] {1, 4, 11, 14}, strided.toFloatArray());
    }

    @Test
    void arraysOfViewsHoldOnlyTheViewsElements() {
        Tensor stacked = Tensor.arange(12).reshape(3, 4);
        assertArrayEquals(new float[] {4, 5, 6, 7}, stacked.select(0, 1).toFloatArray());
        assertArrayEquals(new double[] {8, 9, 10, 11}, stacked.narrow(0, 2, 1).toDoubleArray());
        Tensor f64 = Tensor.arange(DType.F64, 0, 6, 1).reshape(2, 3);
        assertArrayEquals(new double[] {3, 4, 5}, f64.select(0, 1).toDoubleArray());
        assertArrayEquals(new float[] {3, 4, 5}, f64.select(0, 1).toFloatArray());
    }

    @Test
    void fillAndCopyOfContiguousViewsTouchOnlyTheirOwnElements() {
        // A narrowed row is contiguous but starts inside its storage: the single-run fast paths must respect that.
        Tensor base = Tensor.arange(12).reshape(3, 4);
        Tensor row = base.narrow(0, 1, 1);
        assertTrue(row.isContiguous());
        row.fill(-1);
        assertArrayEquals(new float[] {0, 1, 2, 3, -1, -1, -1, -1, 8, 9, 10, 11}, base.toFloatArray());
        Tensor source = Tensor.arange(DType.F32, 20, 28, 1).reshape(2, 4).narrow(0, 1, 1);
        row.copyFrom(source);
        assertArrayEquals(new float[] {0, 1, 2, 3, 24, 25, 26, 27, 8, 9, 10, 11}, base.toFloatArray());
        Tensor wide = Tensor.zeros(DType.F64, 2, 3);
        wide.narrow(0, 1, 1).copyFrom(Tensor.of(new double[] {4, 5, 6}, 1, 3));
        assertArrayEquals(new double[] {0, 0, 0, 4, 5, 6}, wide.toDoubleArray());
        // Other dtype, broadcast and strided sources still go through the general path.
        row.copyFrom(Tensor.of(new double[] {7, 8, 9, 10}, 1, 4));
        row.copyFrom(Tensor.of(new float[] {0.5f}, 1, 1).expand(1, 4));
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, row.toFloatArray());
        base.narrow(1, 0, 2).fill(3);
        assertArrayEquals(new float[] {3, 3, 2, 3, 3, 3, 0.5f, 0.5f, 3, 3, 10, 11}, base.toFloatArray());
    }

    @Test
    void shapeComparisonsWithoutCopies() {
        Tensor t = Tensor.zeros(2, 3);
        assertTrue(t.hasShape(2, 3));
        assertFalse(t.hasShape(3, 2));
        assertFalse(t.hasShape(2, 3, 1));
        assertTrue(t.sameShape(Tensor.zeros(DType.F64, 2, 3)));
        assertTrue(t.sameShape(Tensor.zeros(3, 2).t()));
        assertFalse(t.sameShape(Tensor.zeros(6)));
        assertTrue(Tensor.scalar(1).hasShape());
    }

    @Test
    void badShapesNameTheOpAndTheShapes() {
        var e = assertThrows(ShapeException.class, () -> Shapes.broadcast("add", new int[] {2, 3}, new int[] {4, 3}));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 3]"));
        var r = assertThrows(ShapeException.class, () -> Tensor.arange(6).reshape(4, -1));
        assertTrue(r.getMessage().contains("Tensor.reshape"), r.getMessage());
        assertThrows(ShapeException.class, () -> Tensor.zeros(2, 3).get(2, 0));
        assertThrows(ShapeException.class, () -> Tensor.zeros(2, 3).expand(4, 3));
    }

    @Test
    void toStringPrintsLikePyTorch() {
        assertEquals("tensor([[0., 1., 2.],\n        [3., 4., 5.]], shape=[2, 3], dtype=F32)",
                Tensor.arange(6).reshape(2, 3).toString());
        assertEquals("tensor([ 0.5000, -1.2500], shape=[2], dtype=F64)", Tensor.of(new double[] {0.5, -1.25}).toString());
        String big = Tensor.arange(2000).toString();
        assertTrue(big.startsWith("tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.]"), big);
        assertEquals("tensor(3.5000, shape=[], dtype=F32)", Tensor.scalar(3.5).toString());
    }

    @Test
    void seededCreationIsReproducibleAndRngStateRestores() {
        assertArrayEquals(Tensor.randn(new Rng(7), 5).toFloatArray(), Tensor.randn(new Rng(7), 5).toFloatArray());
        Rng a = new Rng(3);
        a.nextGaussian();
        var saved = a.snapshot();
        double next = a.nextGaussian();
        assertEquals(next, new Rng(0).restore(saved).nextGaussian());
        Tensor n = Tensor.randn(DType.F64, new Rng(1), 20000);
        double mean = 0;
        for (double v : n.toDoubleArray()) {
            mean += v / 20000;
        }
        assertEquals(0.0, mean, 0.03);
    }

    @Test
    void stridedCursorMergesContiguousDimensions() {
        Tensor t = Tensor.zeros(4, 5, 6);
        var cur = new StridedCursor(t.shape(), new int[][] {t.strides()}, new int[] {0});
        assertEquals(120, cur.innerLength());
        assertEquals(1, cur.rows());
        Tensor tr = t.transpose(0, 2);
        var cur2 = new StridedCursor(tr.shape(), new int[][] {tr.strides()}, new int[] {0});
        assertEquals(4, cur2.innerLength());
        int rows = 0;
        while (cur2.next()) {
            rows++;
        }
        assertEquals(30, rows);
    }

    @Test
    void stridedCursorVisitsEveryElementInRowMajorOrder() {
        Tensor base = Tensor.arange(DType.F64, 0, 120, 1).reshape(2, 3, 4, 5);
        Tensor reversed = Tensor.arange(DType.F64, 0, 120, 1).reshape(5, 4, 3, 2).permute(3, 2, 1, 0);
        Tensor[][] pairs = {
            {base, Tensor.zeros(2, 3, 4, 5)},
            {reversed, base.transpose(1, 2).transpose(1, 2)},
            {base.narrow(2, 1, 2), Tensor.arange(5).expand(2, 3, 2, 5)},
            {base.slice(3, 0, 5, 2).select(0, 1), Tensor.zeros(4, 3).t().unsqueeze(2).expand(3, 4, 3)},
            {Tensor.arange(4).reshape(1, 4, 1), Tensor.zeros(4, 1).t().unsqueeze(2)},
            {Tensor.scalar(3), Tensor.scalar(4)},
            {Tensor.zeros(2, 0, 3), Tensor.zeros(2, 0, 3)},
        };
        for (Tensor[] pair : pairs) {
            int[] shape = pair[0].shape();
            var cur = StridedCursor.of(shape, pair[0], pair[1]);
            int n = cur.innerLength();
            int visited = 0;
            while (cur.next()) {
                for (int j = 0; j < n; j++, visited++) {
                    for (int k = 0; k < 2; k++) {
                        assertEquals(rowMajorOffset(pair[k], visited), cur.offset(k) + j * cur.innerStride(k),
                                "operand " + k + " of shape " + Shapes.str(shape) + ", element " + visited);
                    }
                }
            }
            assertEquals(Shapes.numel(shape), visited, Shapes.str(shape));
            assertEquals(Shapes.numel(shape), cur.rows() * n, Shapes.str(shape));
        }
    }

    /** Storage offset of element {@code flat} (in row-major order) of t, computed from its strides. */
    private static int rowMajorOffset(Tensor t, int flat) {
        int[] shape = t.shape();
        int[] strides = t.strides();
        int offset = t.offset();
        for (int d = shape.length - 1; d >= 0; d--) {
            offset += flat % shape[d] * strides[d];
            flat /= shape[d];
        }
        return offset;
    }

    @Test
    void likeFactoriesMakeRowMajorTensorsOfTheSameShape() {
        Tensor transposed = Tensor.zeros(DType.F64, 2, 3).t();
        Tensor oddStrides = Tensor.zeros(4, 1).t();   // contiguous [1, 4] with stride 1 on its size-1 dimension
        for (Tensor t : new Tensor[] {transposed, oddStrides, Tensor.zeros(3, 4), Tensor.scalar(2)}) {
            for (Tensor like : new Tensor[] {Tensor.emptyLike(t), Tensor.zerosLike(t), Tensor.onesLike(t)}) {
                assertArrayEquals(t.shape(), like.shape());
                assertEquals(t.dtype(), like.dtype());
                assertArrayEquals(Shapes.contiguousStrides(t.shape()), like.strides());
                assertEquals(0, like.offset());
            }
        }
        // Recycled storage: zerosLike and onesLike must overwrite what the previous step left in it.
        for (int step = 0; step < 2; step++) {
            try (var scope = Workspace.open()) {
                Tensor template = Tensor.zeros(3, 2);
                assertArrayEquals(new float[6], Tensor.zerosLike(template).toFloatArray());
                assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, Tensor.onesLike(template).toFloatArray());
                Tensor.emptyLike(template).fill(7);
            }
        }
    }
}
