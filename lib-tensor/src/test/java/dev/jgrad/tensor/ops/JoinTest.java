package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.ops.SoftmaxTest.assertNear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JoinTest {

    @Test
    void concatAndItsBackwardMatchTorch() {
        Map<String, Tensor> c = Fixtures.load("structural").get("concat_axis1");
        for (DType dtype : DType.values()) {
            Tensor out = Join.concat(1, c.get("a").to(dtype), c.get("b").to(dtype), c.get("c").to(dtype));
            assertNear(c.get("out"), out.to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, "concat " + dtype);
            Tensor[] grads = Join.concatBackward(c.get("g").to(dtype), -2, new int[] {3, 1, 2});
            assertEquals(3, grads.length);
            String[] names = {"da", "db", "dc"};
            for (int i = 0; i < 3; i++) {
                assertNear(c.get(names[i]), grads[i].to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, names[i]);
            }
        }
    }

    @Test
    void stackAndItsBackwardMatchTorch() {
        Map<String, Tensor> c = Fixtures.load("structural").get("stack_axis2");
        Tensor out = Join.stack(2, c.get("p"), c.get("q"));
        assertNear(c.get("out"), out, 0, 0, "stack");
        assertNear(c.get("out"), Join.stack(-1, c.get("p"), c.get("q")), 0, 0, "stack axis -1");
        Tensor[] grads = Join.stackBackward(c.get("g"), 2, 2);
        assertNear(c.get("dp"), grads[0], 0, 0, "dp");
        assertNear(c.get("dq"), grads[1], 0, 0, "dq");
    }

    @Test
    void splitAndItsBackwardWithAZeroGradientMatchTorch() {
        Map<String, Tensor> c = Fixtures.load("structural").get("split_axis1");
        for (DType dtype : DType.values()) {
            Tensor x = c.get("x").to(dtype);
            Tensor[] pieces = Join.split(x, 1, 1, 3, 2);
            assertNear(c.get("s0"), pieces[0].to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, "s0");
            assertNear(c.get("s1"), pieces[1].to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, "s1");
            assertNear(c.get("s2"), pieces[2].to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, "s2");
            assertTrue(pieces[1].sharesStorageWith(x), "split returns views");
            Tensor[] grads = {c.get("g0").to(dtype), null, c.get("g2").to(dtype)};
            Tensor dx = Join.splitBackward(grads, 1, x.shape());
            assertNear(c.get("dx"), dx.to(DType.F64), 0, dtype == DType.F64 ? 0 : 1e-7, "dx " + dtype);
            assertNear(dx, Join.splitBackward(grads, 1, x.shape(), new int[] {1, 3, 2}), 0, 0, "dx with sizes");
        }
    }

    @Test
    void backwardsOfConcatAndStackAreViewsOfTheGradient() {
        Tensor g = Tensor.randn(new Rng(2), 4, 5);
        Tensor[] parts = Join.concatBackward(g, 0, new int[] {1, 3});
        assertTrue(parts[0].sharesStorageWith(g) && parts[1].sharesStorageWith(g));
        assertEquals(g.get(3, 4), parts[1].get(2, 4));
        Tensor[] rows = Join.stackBackward(g, 1, 5);
        assertArrayEquals(new int[] {4}, rows[3].shape());
        assertEquals(g.get(2, 3), rows[3].get(2));
        assertTrue(rows[3].sharesStorageWith(g));
    }

    @Test
    void concatOfStridedInputsEqualsConcatOfTheirCopies() {
        Rng rng = new Rng(4);
        Tensor a = Tensor.randn(rng, 5, 3).t();                // [3, 5] transposed
        Tensor b = Tensor.randn(rng, 3, 1).expand(3, 4);       // broadcast
        Tensor c = Tensor.randn(rng, 3, 12).slice(1, 0, 12, 4); // [3, 3] strided
        Tensor joined = Join.concat(1, a, b, c);
        assertArrayEquals(Join.concat(1, a.copy(), b.copy(), c.copy()).toFloatArray(), joined.toFloatArray());
        assertArrayEquals(new int[] {3, 12}, joined.shape());
        assertEquals(b.get(2, 0), joined.get(2, 5));
        Tensor stacked = Join.stack(0, a, a.copy());
        assertArrayEquals(new int[] {2, 3, 5}, stacked.shape());
        assertEquals(a.get(1, 4), stacked.get(1, 1, 4));
    }

    @Test
    void splitBackwardEdgeCases() {
        int[] shape = {2, 5};
        assertNull(Join.splitBackward(new Tensor[] {null, null}, 1, shape), "all-null gradients are zero");
        var ambiguous = assertThrows(IllegalArgumentException.class,
                () -> Join.splitBackward(new Tensor[] {null, null, Tensor.zeros(2, 1)}, 1, shape));
        assertTrue(ambiguous.getMessage().contains("Join.splitBackward") && ambiguous.getMessage().contains("2 of 3"),
                ambiguous.getMessage());
        Tensor dx = Join.splitBackward(new Tensor[] {null, null, Tensor.ones(2, 1)}, 1, shape, new int[] {2, 2, 1});
        assertArrayEquals(new float[] {0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, dx.toFloatArray());
        var wrong = assertThrows(ShapeException.class,
                () -> Join.splitBackward(new Tensor[] {Tensor.zeros(2, 2), Tensor.zeros(3, 3)}, 1, shape));
        assertTrue(wrong.getMessage().contains("[3, 3]") && wrong.getMessage().contains("[2, 3]"), wrong.getMessage());
    }

    @Test
    void badShapesAreReportedWithTheOpAndShapes() {
        var off = assertThrows(ShapeException.class, () -> Join.concat(0, Tensor.zeros(2, 3), Tensor.zeros(2, 4)));
        assertTrue(off.getMessage().contains("Join.concat") && off.getMessage().contains("[2, 3]")
                && off.getMessage().contains("[2, 4]"), off.getMessage());
        var rank = assertThrows(ShapeException.class, () -> Join.concat(0, Tensor.zeros(2, 3), Tensor.zeros(3)));
        assertTrue(rank.getMessage().contains("[3]"), rank.getMessage());
        var dtype = assertThrows(IllegalArgumentException.class,
                () -> Join.concat(0, Tensor.zeros(2), Tensor.zeros(DType.F64, 2)));
        assertTrue(dtype.getMessage().contains("F64") && dtype.getMessage().contains("F32"), dtype.getMessage());
        var none = assertThrows(IllegalArgumentException.class, () -> Join.concat(0));
        assertTrue(none.getMessage().contains("Join.concat"), none.getMessage());
        var stack = assertThrows(ShapeException.class, () -> Join.stack(0, Tensor.zeros(2, 3), Tensor.zeros(3, 2)));
        assertTrue(stack.getMessage().contains("Join.stack") && stack.getMessage().contains("[3, 2]"),
                stack.getMessage());
        var axis = assertThrows(ShapeException.class, () -> Join.stack(3, Tensor.zeros(2, 3)));
        assertTrue(axis.getMessage().contains("axis 3"), axis.getMessage());
        var sizes = assertThrows(ShapeException.class, () -> Join.split(Tensor.zeros(2, 5), 1, 2, 2));
        assertTrue(sizes.getMessage().contains("Join.split") && sizes.getMessage().contains("sum to 4")
                && sizes.getMessage().contains("[2, 5]"), sizes.getMessage());
        var count = assertThrows(ShapeException.class, () -> Join.stackBackward(Tensor.zeros(2, 3), 0, 3));
        assertTrue(count.getMessage().contains("Join.stackBackward") && count.getMessage().contains("expected 3"),
                count.getMessage());
        var cb = assertThrows(ShapeException.class, () -> Join.concatBackward(Tensor.zeros(4, 2), 0, new int[] {1, 2}));
        assertTrue(cb.getMessage().contains("Join.concatBackward"), cb.getMessage());
    }
}
