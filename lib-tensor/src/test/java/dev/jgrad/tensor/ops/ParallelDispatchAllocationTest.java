package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import dev.jgrad.tensor.kernel.OptimizerKernels;
import dev.jgrad.tensor.kernel.Sgemm;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Handing a kernel's work to the second thread allocates nothing: each kernel that splits its work over threads
 * allocates exactly as many bytes per call at two threads as at one. A lambda capturing the kernel's arguments is a
 * new object on every parallel call (40 to 100 bytes, a few hundred calls a training step); this test fails when
 * one comes back. Every call runs inside a {@link Workspace}, so its output tensors reuse their storage and what a
 * call allocates is a handful of small objects, the same at one and two threads.
 *
 * <p>The sizes are several times each kernel's threshold for splitting, so at two threads every call is split in
 * two (it runs inline only when the team is busy with another caller, which in this test it is not).
 */
class ParallelDispatchAllocationTest {
    private int savedThreads;

    @BeforeEach
    void saveThreads() {
        savedThreads = Parallel.threads();
    }

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
        Workspace.current().trim();
    }

    private record Kernel(String name, Runnable call) {}

    /** Kernels of a training step, F32, each large enough to be split over two threads. */
    private static List<Kernel> kernels() {
        Rng rng = new Rng(11);
        int rows = 256;
        int d = 512;
        Tensor x = Tensor.randn(rng, rows, d);
        Tensor g = Tensor.randn(rng, rows, d);
        Tensor w = Tensor.randn(rng, d);
        Tensor b = Tensor.randn(rng, d);
        var ln = LayerNorm.forward(x, w, b, 1e-5);
        var rms = RmsNorm.forward(x, w, 1e-5);
        Tensor sm = Softmax.softmax(x, -1);
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) {
            targets[r] = (r * 7) % d;
        }
        var ce = CrossEntropy.forward(x, targets, -100, 0.0);
        Tensor one = Tensor.scalar(DType.F32, 1.0);
        Tensor packed = Tensor.randn(rng, 4, 64, 3 * 256);   // [B, T, 3·H·headDim] with 4 heads of 64
        Tensor heads = Tensor.randn(rng, 4, 4, 64, 64);     // [B, H, T, headDim]
        Tensor packedG = Tensor.randn(rng, 4, 64, 256);     // [B, T, H·headDim]
        // Products split by rows, by columns (8 rows: too few row strips to go round), and a batch of small
        // products split by entry.
        float[] a = x.f32Data();
        float[] bm = g.f32Data();
        float[] c = new float[rows * d];
        float[] wide = Tensor.randn(rng, d, 4 * d).f32Data();
        float[] cube = Tensor.randn(rng, 64, 64, 64).f32Data();
        float[] smallC = new float[64 * 64 * 64];
        // AdamW and Adam updates of a parameter of 4 minimum slices.
        int n = 1 << 17;
        float[] p = Tensor.randn(rng, n).f32Data();
        float[] grad = Tensor.randn(rng, n).f32Data();
        float[] m = new float[n];
        float[] v = new float[n];

        var kernels = new ArrayList<Kernel>();
        kernels.add(new Kernel("Sgemm rows", () -> Sgemm.gemm(rows, d, 128, a, 0, d, 1, bm, 0, d, 1, 0f, c, 0, d)));
        kernels.add(new Kernel("Sgemm columns", () -> Sgemm.gemm(8, 4 * d, d, a, 0, d, 1, wide, 0, 4 * d, 1, 0f, c, 0,
                4 * d)));
        float[] bias = Tensor.randn(rng, d).f32Data();
        float[] act = new float[rows * d];
        kernels.add(new Kernel("Sgemm.gemmBiasGelu rows", () -> Sgemm.gemmBiasGelu(rows, d, 128, a, 0, d, 1, bm, 0, d, 1,
                c, 0, d, bias, 0, act, 0, true)));
        kernels.add(new Kernel("Sgemm.gemmTimes rows", () -> Sgemm.gemmTimes(rows, d, 128, a, 0, d, 1, bm, 0, d, 1, c, 0,
                d, act, 0)));
        kernels.add(new Kernel("Sgemm.gemmBias columns", () -> Sgemm.gemmBias(8, 4 * d, d, a, 0, d, 1, wide, 0, 4 * d,
                1, c, 0, 4 * d, wide, 0)));
        kernels.add(new Kernel("Sgemm batched", () -> Sgemm.gemmBatched(64, 64, 64, 64, cube, 0, 64 * 64, 64, 1, cube,
                0, 64 * 64, 64, 1, 0f, smallC, 0, 64 * 64, 64)));
        kernels.add(new Kernel("OptimizerKernels.adamw", () -> OptimizerKernels.adamw(p, 0, grad, 0, m, v, n, 0.9f,
                0.999f, 1e-8f, 0.9999f, 1e-6f, 0.5f)));
        kernels.add(new Kernel("OptimizerKernels.adam", () -> OptimizerKernels.adam(p, 0, grad, 0, m, v, n, 0.9f,
                0.999f, 1e-8f, 0.01f, 1e-6f, 0.5f)));
        kernels.add(new Kernel("LayerNorm.forward", () -> LayerNorm.forward(x, w, b, 1e-5)));
        kernels.add(new Kernel("LayerNorm.backward", () -> LayerNorm.backward(g, x, w, b, ln.mean(), ln.rstd())));
        kernels.add(new Kernel("RmsNorm.forward", () -> RmsNorm.forward(x, w, 1e-5)));
        kernels.add(new Kernel("RmsNorm.backward", () -> RmsNorm.backward(g, x, w, rms.rstd())));
        kernels.add(new Kernel("Softmax.softmax", () -> Softmax.softmax(x, -1)));
        kernels.add(new Kernel("Softmax.softmaxBackward", () -> Softmax.softmaxBackward(g, sm, -1)));
        kernels.add(new Kernel("CrossEntropy.forward", () -> CrossEntropy.forward(x, targets, -100, 0.0)));
        kernels.add(new Kernel("CrossEntropy.backward", () -> CrossEntropy.backward(one, x, targets, ce.logSumExp(),
                -100, 0.0, ce.counted())));
        kernels.add(new Kernel("Unary.gelu", () -> Unary.gelu(x)));
        kernels.add(new Kernel("Unary.geluBackward", () -> Unary.geluBackward(g, x)));
        kernels.add(new Kernel("Binary.add", () -> Binary.add(x, g)));
        kernels.add(new Kernel("Reduce.sum over rows", () -> Reduce.sum(x, false, 0)));
        kernels.add(new Kernel("Reduce.sum of slices", () -> Reduce.sum(x.reshape(rows, 8, d / 8), false, 1)));
        kernels.add(new Kernel("Rope.forward", () -> Rope.forward(heads, 0, 10_000)));
        var attention = Attention.forward(heads, heads, heads, true, 0.125);
        kernels.add(new Kernel("Attention.forward", () -> Attention.forward(heads, heads, heads, true, 0.125)));
        kernels.add(new Kernel("Attention.backward", () -> Attention.backward(heads, heads, heads, heads,
                attention.out(), attention.logSumExp(), true, 0.125)));
        var fused = Attention.forwardPacked(packed, 4, 4, true, 0.125);
        kernels.add(new Kernel("Attention.forwardPacked", () -> Attention.forwardPacked(packed, 4, 4, true, 0.125)));
        kernels.add(new Kernel("Attention.backwardPacked", () -> Attention.backwardPacked(packedG, packed, 4, 4,
                fused.out(), fused.logSumExp(), true, 0.125)));
        return kernels;
    }

    /** The fewest bytes one call allocated on this thread, over {@code calls} calls after {@code warmup}. */
    private static long fewestBytesPerCall(Runnable call, int warmup, int calls) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        long fewest = Long.MAX_VALUE;
        for (int i = 0; i < warmup + calls; i++) {
            try (var scope = Workspace.open()) {
                long before = threads.getThreadAllocatedBytes(id);
                call.run();
                long bytes = threads.getThreadAllocatedBytes(id) - before;
                if (i >= warmup) {
                    fewest = Math.min(fewest, bytes);
                }
            }
        }
        return fewest;
    }

    @Test
    void splittingAKernelOverTwoThreadsAllocatesNothingMore() {
        var failures = new ArrayList<String>();
        for (Kernel kernel : kernels()) {
            // Warm up at both thread counts first, so that C2 has compiled the kernel before either is measured
            // (interpreted and C1 code box every vector).
            for (int threads : new int[] {1, 2, 1, 2}) {
                Parallel.setThreads(threads);
                fewestBytesPerCall(kernel.call(), 0, 100);
            }
            Parallel.setThreads(1);
            long one = fewestBytesPerCall(kernel.call(), 0, 30);
            Parallel.setThreads(2);
            long two = fewestBytesPerCall(kernel.call(), 0, 30);
            if (two > one) {
                failures.add(kernel.name() + ": " + one + " bytes per call at 1 thread, " + two + " at 2");
            }
        }
        assertTrue(failures.isEmpty(), "parallel calls allocate:\n" + String.join("\n", failures));
    }
}
