package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class WorkspaceTest {
    /** A small "step": a few ops of different output sizes, returning the sum as a double. */
    private static double step(Tensor x, Tensor w) {
        Tensor h = x.matmul(w).tanh();
        Tensor y = h.mul(h).add(1.0).softmax(-1);
        return y.sum().item() + h.t().contiguous().mean().item();
    }

    @Test
    void theSecondStepIsServedEntirelyFromFreeLists() {
        Rng rng = new Rng(1);
        Tensor x = Tensor.randn(rng, 5, 7);
        Tensor w = Tensor.randn(rng, 7, 3);
        Workspace ws = Workspace.current();
        double first;
        long hits0 = ws.hits();
        long misses0 = ws.misses();
        try (var scope = Workspace.open()) {
            first = step(x, w);
        }
        long firstMisses = ws.misses() - misses0;
        assertTrue(firstMisses > 0, "the first step allocates");
        long hits1 = ws.hits();
        long misses1 = ws.misses();
        double second;
        try (var scope = Workspace.open()) {
            second = step(x, w);
        }
        assertEquals(0, ws.misses() - misses1, "the second step allocates no storage");
        assertEquals(firstMisses + (hits1 - hits0), ws.hits() - hits1, "it reuses one array per request");
        assertEquals(Double.doubleToRawLongBits(first), Double.doubleToRawLongBits(second));
        assertEquals(Double.doubleToRawLongBits(first), Double.doubleToRawLongBits(step(x, w)), "same without a scope");
    }

    /** Ops whose outputs come from {@link Tensor#empty}: each must write every element it returns. */
    private static Tensor[] opsWithUninitialisedOutputs(Tensor x, Tensor w, Tensor b) {
        var ln = dev.jgrad.tensor.ops.LayerNorm.forward(x, b, b, 1e-5);
        Tensor heads = x.view(1, 1, x.size(0), x.size(1));
        var causal = dev.jgrad.tensor.ops.Attention.forward(heads, heads, heads, true, 0.2);
        var full = dev.jgrad.tensor.ops.Attention.forward(heads, heads, heads, false, 0.2);
        return new Tensor[] {
            x.matmul(w), x.t().matmul(x), w.t().matmul(x.t()), x.add(b), x.mul(2.0),
            dev.jgrad.tensor.ops.Binary.where(x.sub(b).relu(), x, b), x.tanh(), x.gelu(),
            dev.jgrad.tensor.ops.Unary.geluBackward(x, x.t().contiguous().t()), x.softmax(-1), x.softmax(0),
            ln.out(), ln.mean(), ln.rstd(), x.t().copy(), x.to(x.dtype() == DType.F32 ? DType.F64 : DType.F32),
            Tensor.full(x.dtype(), 3, 5), causal.out(), causal.logSumExp(), full.out(), full.logSumExp()
        };
    }

    @Test
    void outputsFromRecycledStorageAreFullyWritten() {
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Rng rng = new Rng(5);
            Tensor x = Tensor.randn(dtype, rng, 37, 37);
            Tensor w = Tensor.randn(dtype, rng, 37, 19);
            Tensor b = Tensor.randn(dtype, rng, 37);
            Tensor[] fresh = opsWithUninitialisedOutputs(x, w, b);
            try (var scope = Workspace.open()) {
                opsWithUninitialisedOutputs(x, w, b);
            }
            Workspace.current().poisonFreeArrays();
            try (var scope = Workspace.open()) {
                Tensor[] recycled = opsWithUninitialisedOutputs(x, w, b);
                for (int i = 0; i < fresh.length; i++) {
                    assertTrue(recycled[i].isScoped(), "op " + i);
                    assertEquals(0.0, recycled[i].maxAbsDiff(fresh[i]), dtype + " op " + i);
                }
            }
        }
    }

    @Test
    void recycledStorageIsReallyTheSameArrayUntilTrimmed() {
        float[] data;
        try (var scope = Workspace.open()) {
            data = Tensor.zeros(DType.F32, 1234).f32Data();
        }
        try (var scope = Workspace.open()) {
            Tensor t = Tensor.zeros(DType.F32, 2, 617);
            assertSame(data, t.f32Data());
            assertTrue(t.isScoped());
        }
        Workspace ws = Workspace.current();
        assertTrue(ws.retainedBytes() >= 1234L * Float.BYTES);
        ws.trim();
        assertEquals(0, ws.retainedBytes(), "trim gives the free arrays back");
        long misses = ws.misses();
        try (var scope = Workspace.open()) {
            Tensor.zeros(DType.F32, 1234);
        }
        assertEquals(misses + 1, ws.misses(), "after trim the next request allocates again");
    }

    @Test
    void integerCopiesAreRecycledWithTheStep() {
        int[] targets = {3, 1, 4, 1, 5};
        int[] outside = Workspace.copyOf(targets);
        assertArrayEquals(targets, outside);
        assertNotSame(targets, outside);
        int[] first;
        int[] other;
        try (var scope = Workspace.open()) {
            first = Workspace.copyOf(targets);
            other = Workspace.copyOf(targets);
            assertArrayEquals(targets, first);
            assertNotSame(first, other, "two copies in one step are two arrays");
        }
        Workspace ws = Workspace.current();
        assertTrue(ws.retainedBytes() >= 2L * targets.length * Integer.BYTES);
        long misses = ws.misses();
        int[] second;
        try (var scope = Workspace.open()) {
            second = Workspace.copyOf(new int[] {9, 2, 6, 5, 3});
            assertArrayEquals(new int[] {9, 2, 6, 5, 3}, second);
        }
        assertEquals(misses, ws.misses(), "the next step's copy reuses an array of the step before");
        assertTrue(second == first || second == other, "the recycled array is one of the previous step's");
        ws.trim();
        assertEquals(0, ws.retainedBytes());
    }

    @Test
    void tensorsOfOneShapeShareTheirShapeArraysInsideAScope() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int[][] shapes = {{8, 128, 384}, {8, 128}, {384}, {8, 4, 128, 32}};
        int count = 400;
        long bytes = 0;
        for (int step = 0; step < 3; step++) {
            try (var scope = Workspace.open()) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < count; i++) {
                    Tensor.empty(DType.F32, shapes[i % shapes.length]);
                }
                bytes = threads.getCurrentThreadAllocatedBytes() - before;
            }
        }
        // A steady-state step: storage from the free lists and shape and strides shared, so each tensor costs its
        // own object (40 bytes) and nothing else; with two small arrays of its own it would be about 100.
        assertTrue(bytes <= 64L * count, bytes + " bytes for " + count + " tensors");

        int[] shape = {2, 3};
        try (var scope = Workspace.open()) {
            Tensor a = Tensor.zeros(shape);
            shape[0] = 5;   // the caller's array is not the one remembered
            Tensor b = Tensor.zeros(shape);
            assertArrayEquals(new int[] {2, 3}, a.shape());
            assertArrayEquals(new int[] {5, 3}, b.shape());
            assertArrayEquals(new int[] {3, 1}, b.strides());
            assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(-1, 3));
            for (int n = 1; n <= Workspace.MAX_SHAPES + 10; n++) {   // more shapes than are shared still work
                Tensor t = Tensor.empty(DType.F64, n, 2);
                assertArrayEquals(new int[] {n, 2}, t.shape());
                assertArrayEquals(new int[] {2, 1}, t.strides());
            }
        }
        Workspace.current().trim();
    }

    @Test
    void theOneByOneShapeFormsBuildNoShapeArrayInsideAScope() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int count = 400;
        long bytes = 0;
        for (int step = 0; step < 20; step++) {   // enough for C2 to compile the loop
            try (var scope = Workspace.open()) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < count; i += 8) {
                    Tensor.empty(DType.F32, 384);
                    Tensor.empty(DType.F32, 8, 128);
                    Tensor.empty(DType.F32, 8, 128, 384);
                    Tensor.empty(DType.F32, 8, 4, 128, 32);
                    Tensor.zeros(DType.F32, 5);
                    Tensor.zeros(DType.F32, 8, 5);
                    Tensor.zeros(DType.F32, 8, 128, 5);
                    Tensor.zeros(DType.F32, 8, 4, 128, 5);
                }
                bytes = threads.getCurrentThreadAllocatedBytes() - before;
            }
        }
        // Each tensor costs its own object (40 bytes) and nothing else: the varargs forms cost a shape array
        // of 24 to 32 bytes on top of it.
        assertTrue(bytes <= 48L * count, bytes + " bytes for " + count + " tensors");

        try (var scope = Workspace.open()) {
            Tensor.full(DType.F32, 3.0, 2, 3, 4);
        }
        try (var scope = Workspace.open()) {
            Tensor[] made = {Tensor.zeros(DType.F32, 24), Tensor.zeros(DType.F32, 4, 6), Tensor.zeros(DType.F32, 2, 3, 4),
                    Tensor.zeros(DType.F64, 1, 2, 3, 4), Tensor.empty(DType.F64, 7), Tensor.empty(DType.F32, 3, 1),
                    Tensor.empty(DType.F32, 2, 3, 4), Tensor.empty(DType.F32, 2, 3, 4, 1)};
            int[][] shapes = {{24}, {4, 6}, {2, 3, 4}, {1, 2, 3, 4}, {7}, {3, 1}, {2, 3, 4}, {2, 3, 4, 1}};
            for (int i = 0; i < made.length; i++) {
                assertArrayEquals(shapes[i], made[i].shape());
                assertArrayEquals(Shapes.contiguousStrides(shapes[i]), made[i].strides());
            }
            for (int i = 0; i < 4; i++) {
                assertEquals(0.0, made[i].abs().sum().item(), "zeros in recycled storage");
            }
            assertTrue(made[2].isScoped());
            var e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.F32, 2, -3));
            assertTrue(e.getMessage().contains("[2, -3]"), e.getMessage());
        }
        Tensor outside = Tensor.zeros(DType.F64, 2, 3);
        assertFalse(outside.isScoped());
        assertArrayEquals(new int[] {2, 3}, outside.shape());
        Workspace.current().trim();
    }

    @Test
    void zerosAreZeroEvenInRecycledStorage() {
        try (var scope = Workspace.open()) {
            Tensor.full(DType.F64, 7.0, 333);
            Tensor.full(DType.F32, 7.0, 333);
        }
        try (var scope = Workspace.open()) {
            assertEquals(0.0, Tensor.zeros(DType.F64, 333).sum().item());
            assertEquals(0.0, Tensor.zeros(DType.F32, 333).sum().item());
        }
    }

    @Test
    void usingATensorAfterItsScopeClosedIsALoudError() {
        Tensor kept;
        Tensor view;
        try (var scope = Workspace.open()) {
            kept = Tensor.ones(4, 4).mul(2.0);
            assertEquals(2.0, kept.sum().div(16).item());
            view = kept.t();
            assertEquals(2.0, view.get(1, 2));
        }
        var e = assertThrows(IllegalStateException.class, () -> kept.get(0, 0));
        assertTrue(e.getMessage().contains("after the scope closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> view.get(0, 0));
        assertThrows(IllegalStateException.class, () -> kept.add(1.0));
        assertThrows(IllegalStateException.class, kept::f32Data);
        assertThrows(IllegalStateException.class, kept::toString);
        assertThrows(IllegalStateException.class, () -> Tensor.zeros(4, 4).copyFrom(kept));
    }

    @Test
    void arraysHandedToTheCallerAreNeverWorkspaceStorage() {
        float[] f;
        double[] d;
        try (var scope = Workspace.open()) {
            Tensor t = Tensor.arange(DType.F64, 0, 6, 1).mul(3.0).reshape(2, 3);
            f = t.t().toFloatArray();
            d = t.toDoubleArray();
        }
        for (int s = 0; s < 2; s++) {
            try (var scope = Workspace.open()) {   // the next steps overwrite every recycled array
                Tensor.full(DType.F32, -1, 6);
                Tensor.full(DType.F64, -1, 6);
                Tensor.full(DType.F64, -1, 2, 3).t().contiguous();
            }
        }
        assertArrayEquals(new float[] {0, 9, 3, 12, 6, 15}, f);
        assertArrayEquals(new double[] {0, 3, 6, 9, 12, 15}, d);
    }

    @Test
    void outsideAScopeNothingChanges() {
        Tensor t = Tensor.ones(3).mul(2.0);
        assertFalse(t.isScoped());
        assertFalse(Workspace.current().isOpen());
        try (var scope = Workspace.open()) {
            assertTrue(Workspace.current().isOpen());
        }
        assertEquals(6.0, t.sum().item(), "a tensor made outside every scope stays valid");
    }

    @Test
    void persistentAllocationsInsideAScopeOutliveIt() {
        Tensor state;
        try (var scope = Workspace.open()) {
            try (var persistent = Workspace.persistent()) {
                state = Tensor.zeros(DType.F32, 8);
            }
            assertTrue(Tensor.zeros(DType.F32, 8).isScoped(), "allocation is scoped again after persistent()");
            state.copyFrom(Tensor.ones(8));
        }
        assertFalse(state.isScoped());
        assertEquals(8.0, state.sum().item());
    }

    @Test
    void nestedScopesJoinTheOutermost() {
        Tensor inner;
        try (var outer = Workspace.open()) {
            try (var nested = Workspace.open()) {
                inner = Tensor.ones(5);
            }
            assertEquals(5.0, inner.sum().item(), "still valid: only the outermost close takes storage back");
        }
        assertThrows(IllegalStateException.class, () -> inner.get(0));
    }

    @Test
    void closingTwiceOrFromAnotherThreadIsAnError() throws InterruptedException {
        Workspace ws = Workspace.open();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                ws.close();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        other.start();
        other.join();
        assertTrue(failure.get() instanceof IllegalStateException, String.valueOf(failure.get()));
        ws.close();
        assertThrows(IllegalStateException.class, ws::close);
    }

    @Test
    void eachThreadHasItsOwnWorkspace() throws InterruptedException {
        AtomicReference<Workspace> seen = new AtomicReference<>();
        Thread other = new Thread(() -> seen.set(Workspace.current()));
        other.start();
        other.join();
        assertNotSame(Workspace.current(), seen.get());
        try (var scope = Workspace.open()) {
            AtomicReference<Boolean> scoped = new AtomicReference<>();
            Thread t = new Thread(() -> scoped.set(Tensor.zeros(3).isScoped()));
            t.start();
            t.join();
            assertFalse(scoped.get(), "another thread's allocations do not come from this thread's scope");
        }
    }

    @Test
    void emptyOutsideAScopeIsZeroAndHasTheShape() {
        Tensor t = Tensor.empty(DType.F64, 2, 3);
        assertArrayEquals(new int[] {2, 3}, t.shape());
        assertEquals(0.0, t.sum().item());
    }

    // ------------------------------------------------------------------------------------------ recycling scopes

    /** A step creating outputs, copies and views: the tensor objects it returns, in creation order. */
    private static List<Tensor> objectsOfAStep(Tensor x, Tensor w) {
        List<Tensor> made = new ArrayList<>();
        Tensor h = x.matmul(w);
        made.add(h);
        made.add(h.tanh());
        made.add(h.t());
        made.add(made.get(2).contiguous());
        made.add(h.reshape(-1));
        made.add(made.get(1).narrow(0, 1, 2));
        return made;
    }

    @Test
    void aRecyclingStepHandsOutThePreviousStepsObjectsWithTheSameValues() {
        Rng rng = new Rng(4);
        Tensor x = Tensor.randn(rng, 5, 7);
        Tensor w = Tensor.randn(rng, 7, 3);
        List<float[]> expected = new ArrayList<>();
        for (Tensor t : objectsOfAStep(x, w)) {
            expected.add(t.toFloatArray());
        }
        List<Tensor> first;
        try (var scope = Workspace.openRecycling()) {
            assertTrue(scope.isRecycling());
            first = objectsOfAStep(x, w);
        }
        for (int step = 0; step < 3; step++) {
            try (var scope = Workspace.openRecycling()) {
                List<Tensor> again = objectsOfAStep(x, w);
                for (int i = 0; i < again.size(); i++) {
                    assertSame(first.get(i), again.get(i), "object " + i + " is reissued");
                    assertArrayEquals(expected.get(i), again.get(i).toFloatArray(), "values of object " + i);
                }
            }
        }
        assertFalse(Workspace.current().isRecycling());
    }

    @Test
    void betweenTheCloseAndTheReissueAKeptTensorThrows() {
        Tensor kept;
        Tensor keptView;
        try (var scope = Workspace.openRecycling()) {
            kept = Tensor.full(DType.F32, 2, 4, 4);   // the step's first tensor object
            keptView = kept.t();                     // its second
        }
        var e = assertThrows(IllegalStateException.class, () -> kept.get(0, 0));
        assertTrue(e.getMessage().contains("after the scope closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> keptView.get(0, 0));
        try (var scope = Workspace.openRecycling()) {
            Tensor first = Tensor.full(DType.F32, 7, 2);
            assertSame(kept, first, "the contract: a reference kept past its step now shows this step's tensor");
            assertEquals(7.0, kept.get(1));
            assertThrows(IllegalStateException.class, () -> keptView.get(0, 0), "not reissued yet");
        }
        assertThrows(IllegalStateException.class, () -> kept.get(0));
    }

    @Test
    void aStepOfOtherShapesOrMoreOrFewerTensorsStillComputesTheRightValues() {
        Rng rng = new Rng(5);
        Tensor x = Tensor.randn(rng, 5, 7);
        Tensor w = Tensor.randn(rng, 7, 3);
        Tensor x2 = Tensor.randn(rng, 2, 7);
        double big = step(x, w);
        double small = step(x2, w);
        for (int round = 0; round < 2; round++) {
            try (var scope = Workspace.openRecycling()) {
                assertEquals(Double.doubleToRawLongBits(big), Double.doubleToRawLongBits(step(x, w)));
            }
            try (var scope = Workspace.openRecycling()) {   // other shapes
                assertEquals(Double.doubleToRawLongBits(small), Double.doubleToRawLongBits(step(x2, w)));
            }
            try (var scope = Workspace.openRecycling()) {   // fewer tensors
                assertEquals(6.0, Tensor.full(DType.F64, 2, 3).sum().item());
            }
            try (var scope = Workspace.openRecycling()) {   // more tensors than any step before
                double sum = 0;
                for (int i = 0; i < 200; i++) {
                    sum += Tensor.full(DType.F32, i, 2).sum().item();
                }
                assertEquals(199 * 200, sum);
                assertEquals(Double.doubleToRawLongBits(big), Double.doubleToRawLongBits(step(x, w)));
            }
        }
    }

    @Test
    void persistentAllocationsInARecyclingStepAreNeverReissued() {
        Tensor state;
        try (var scope = Workspace.openRecycling()) {
            try (var persistent = Workspace.persistent()) {
                state = Tensor.ones(DType.F32, 8);
                assertNull(Workspace.recycling());
            }
            assertSame(Workspace.current(), Workspace.recycling());
        }
        for (int s = 0; s < 2; s++) {
            try (var scope = Workspace.openRecycling()) {
                assertNotSame(state, Tensor.zeros(DType.F32, 8));
            }
        }
        assertEquals(8.0, state.sum().item());
    }

    @Test
    void thePlainScopeNeverReissuesAndAlwaysThrowsOnUseAfterClose() {
        List<Tensor> kept = new ArrayList<>();
        for (int s = 0; s < 3; s++) {
            try (var scope = Workspace.open()) {
                assertFalse(scope.isRecycling());
                assertNull(Workspace.recycling());
                Tensor t = Tensor.ones(3).mul(2.0);
                for (Tensor old : kept) {
                    assertNotSame(old, t);
                }
                kept.add(t);
            }
            for (Tensor old : kept) {
                assertThrows(IllegalStateException.class, old::sum, "step " + s);
            }
        }
    }

    @Test
    void theOutermostOpenDecidesWhetherAScopeRecycles() {
        try (var outer = Workspace.open()) {
            try (var inner = Workspace.openRecycling()) {
                assertFalse(inner.isRecycling());
            }
        }
        try (var outer = Workspace.openRecycling()) {
            try (var inner = Workspace.open()) {
                assertTrue(inner.isRecycling());
            }
            assertTrue(outer.isRecycling());
        }
        assertFalse(Workspace.current().isRecycling());
    }

    @Test
    void tensorsMadeByOtherThreadsDuringARecyclingStepAreNotReissued() throws InterruptedException {
        try (var scope = Workspace.openRecycling()) {
            Tensor x = Tensor.ones(4, 4);
            AtomicReference<Tensor> made = new AtomicReference<>();
            Thread t = new Thread(() -> made.set(x.t()));   // a view of this thread's tensor, made elsewhere
            t.start();
            t.join();
            assertNotSame(x, made.get());
            assertEquals(16.0, made.get().sum().item());
        }
    }
}
