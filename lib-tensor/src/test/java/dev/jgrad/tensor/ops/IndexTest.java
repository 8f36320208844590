package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class IndexTest {

    private static int[] ints(Tensor t) {
        double[] v = t.toDoubleArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (int) v[i];
        }
        return out;
    }

    @Test
    void embeddingMatchesTorchIncludingRepeatedIds() {
        Map<String, Tensor> c = Fixtures.load("structural").get("embedding");
        int[] ids = ints(c.get("ids"));
        int[] idsShape = c.get("ids").shape();
        for (DType dtype : DType.values()) {
            Tensor weight = c.get("weight").to(dtype);
            Tensor out = Index.embedding(weight, ids, idsShape);
            assertArrayEquals(new int[] {2, 3, 4}, out.shape());
            // A gather copies values exactly; the scatter-add sums at most three float rows.
            assertNear(c.get("out"), out.to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, dtype + " out");
            Tensor dw = Index.embeddingBackward(c.get("g").to(dtype), ids, 6);
            assertNear(c.get("dweight"), dw.to(DType.F64), 1e-6, dtype == DType.F64 ? 1e-12 : 1e-6, dtype + " dweight");
        }
    }

    @Test
    void float32MatchesFloat64ForOddWidths() {
        Rng rng = new Rng(5);
        for (int d : new int[] {1, 3, 17, 33, 127, 1025}) {
            Tensor weight = Tensor.randn(rng, 7, d);
            int[] ids = {6, 0, 6, 3, 6, 1, 0};
            Tensor g = Tensor.randn(rng, 7, d);
            assertArrayEquals(Index.embedding(weight.to(DType.F64), ids).toFloatArray(),
                    Index.embedding(weight, ids).toFloatArray());
            // Row 6 sums three gradients: two float roundings.
            assertNear(Index.embeddingBackward(g.to(DType.F64), ids, 9),
                    Index.embeddingBackward(g, ids, 9).to(DType.F64), 1e-6, 1e-6, "d=" + d);
        }
    }

    @Test
    void scatterAddAccumulatesRepeatedIdsAndLeavesUnusedRowsZero() {
        Tensor g = Tensor.of(new double[] {1, 2, 10, 20, 100, 200}, 3, 2);
        Tensor dw = Index.embeddingBackward(g, new int[] {2, 0, 2}, 4);
        assertArrayEquals(new double[] {10, 20, 0, 0, 101, 202, 0, 0}, dw.toDoubleArray());
    }

    @Test
    void stridedWeightAndGradientGiveTheSameResultAsContiguousCopies() {
        Rng rng = new Rng(3);
        Tensor weight = Tensor.randn(rng, 5, 8).t();     // [8, 5], rows strided
        int[] ids = {7, 2, 2, 0};
        assertArrayEquals(Index.embedding(weight.copy(), ids, 2, 2).toFloatArray(),
                Index.embedding(weight, ids, 2, 2).toFloatArray());
        Tensor g = Tensor.randn(rng, 5, 4).t();          // [4, 5]
        assertArrayEquals(Index.embeddingBackward(g.copy(), ids, 8).toFloatArray(),
                Index.embeddingBackward(g, ids, 8).toFloatArray());
    }

    @Test
    void oneHotAndCausalMaskMatchTorch() {
        var cases = Fixtures.load("structural");
        Tensor ids = cases.get("one_hot").get("ids");
        for (DType dtype : DType.values()) {
            Tensor oneHot = Index.oneHot(ints(ids), 5, dtype);
            assertNear(cases.get("one_hot").get("out"), oneHot.to(DType.F64), 0, 0, "oneHot " + dtype);
            Tensor mask = Index.causalMask(dtype, 5);
            assertNear(cases.get("causal_mask").get("out"), mask.to(DType.F64), 0, 0, "causalMask " + dtype);
        }
        assertArrayEquals(new int[] {0, 0}, Index.causalMask(DType.F32, 0).shape());
    }

    @Test
    void badIdsAndShapesAreReported() {
        Tensor weight = Tensor.zeros(4, 3);
        var e = assertThrows(IllegalArgumentException.class, () -> Index.embedding(weight, new int[] {0, 1, 4}));
        assertTrue(e.getMessage().contains("Index.embedding") && e.getMessage().contains("id 4")
                && e.getMessage().contains("position 2") && e.getMessage().contains("4"), e.getMessage());
        var neg = assertThrows(IllegalArgumentException.class, () -> Index.embeddingBackward(Tensor.zeros(1, 3),
                new int[] {-1}, 4));
        assertTrue(neg.getMessage().contains("id -1") && neg.getMessage().contains("position 0"), neg.getMessage());
        var shape = assertThrows(ShapeException.class, () -> Index.embedding(weight, new int[] {0, 1, 2}, 2, 2));
        assertTrue(shape.getMessage().contains("[2, 2]") && shape.getMessage().contains("3"), shape.getMessage());
        var rank = assertThrows(ShapeException.class, () -> Index.embedding(Tensor.zeros(4), new int[] {0}));
        assertTrue(rank.getMessage().contains("[4]"), rank.getMessage());
        var rows = assertThrows(ShapeException.class,
                () -> Index.embeddingBackward(Tensor.zeros(2, 3), new int[] {0, 1, 2}, 4));
        assertTrue(rows.getMessage().contains("[2, 3]") && rows.getMessage().contains("3 ids"), rows.getMessage());
        var hot = assertThrows(IllegalArgumentException.class, () -> Index.oneHot(new int[] {5}, 5, DType.F32));
        assertTrue(hot.getMessage().contains("Index.oneHot") && hot.getMessage().contains("id 5"), hot.getMessage());
    }
}
