package dev.jgrad.bench;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import dev.jgrad.tensor.ops.Attention;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;

/**
 * CPU time of one F32 causal {@link Attention} forward and one backward call at the attention shapes of the GPT
 * presets, on one thread: the best of many short runs, each the mean over as many calls as fit in 0.2 s of CPU
 * time. CPU time rather than wall time, so other jobs on the machine disturb it less; run two builds alternately
 * to compare them. Two layouts: head-major q, k, v [B, H, T, D] ({@link Attention#forward}), and the fused
 * projection's qkv [B, T, 3·H·D] the GPT models train with ({@link Attention#forwardPacked}, output and gradient
 * written straight into [B, T, ·]).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.jgrad.bench.AttentionKernelBench \
 *     [small,large] [runs] [both|forward|backward] [heads,packed]
 * </pre>
 */
public final class AttentionKernelBench {
    private AttentionKernelBench() {}

    /** An attention shape [B, H, T, D], causal, with T = S and as many kv heads as query heads. */
    private record Shape(String name, int batch, int heads, int seq, int headDim) {}

    private static final Shape SMALL = new Shape("small", 8, 4, 128, 32);
    private static final Shape LARGE = new Shape("large", 4, 6, 256, 64);

    public static void main(String[] args) {
        String[] names = (args.length > 0 ? args[0] : "small,large").split(",");
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        String only = args.length > 2 ? args[2] : "both";   // or "forward" / "backward", e.g. for a profiler
        String[] layouts = (args.length > 3 ? args[3] : "heads,packed").split(",");
        Parallel.setThreads(1);
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        for (String name : names) {
            Shape shape = switch (name) {
                case "small" -> SMALL;
                case "large" -> LARGE;
                default -> throw new IllegalArgumentException("AttentionKernelBench: unknown shape " + name
                        + " (small or large)");
            };
            for (String layout : layouts) {
                Runnable[] calls = switch (layout) {
                    case "heads" -> headMajorCalls(shape);
                    case "packed" -> packedCalls(shape);
                    default -> throw new IllegalArgumentException("AttentionKernelBench: unknown layout " + layout
                            + " (heads or packed)");
                };
                double bestForward = Double.MAX_VALUE;
                double bestBackward = Double.MAX_VALUE;
                for (int run = 0; run < runs; run++) {
                    if (!"backward".equals(only)) {
                        bestForward = Math.min(bestForward, cpuMillisPerCall(cpu, calls[0]));
                    }
                    if (!"forward".equals(only)) {
                        bestBackward = Math.min(bestBackward, cpuMillisPerCall(cpu, calls[1]));
                    }
                }
                System.out.printf(Locale.ROOT,
                        "%s B%d H%d T%d D%d causal, %s: forward %s ms, backward %s ms (CPU, best of %d)%n",
                        shape.name(), shape.batch(), shape.heads(), shape.seq(), shape.headDim(), layout,
                        millis(bestForward), millis(bestBackward), runs);
            }
        }
    }

    /**
     * A forward and a backward call on head-major q, k, v [B, H, T, D], each in a workspace scope as in a training
     * step: outputs reuse storage instead of fresh pages.
     */
    private static Runnable[] headMajorCalls(Shape shape) {
        Rng rng = new Rng(7);
        int[] dims = {shape.batch(), shape.heads(), shape.seq(), shape.headDim()};
        Tensor q = Tensor.randn(DType.F32, rng, dims);
        Tensor k = Tensor.randn(DType.F32, rng, dims);
        Tensor v = Tensor.randn(DType.F32, rng, dims);
        Tensor g = Tensor.randn(DType.F32, rng, dims);
        double scale = 1.0 / Math.sqrt(shape.headDim());
        Attention.Result saved = Attention.forward(q, k, v, true, scale);
        Runnable forward = () -> {
            try (var scope = Workspace.open()) {
                Attention.forward(q, k, v, true, scale);
            }
        };
        Runnable backward = () -> {
            try (var scope = Workspace.open()) {
                Attention.backward(g, q, k, v, saved.out(), saved.logSumExp(), true, scale);
            }
        };
        return new Runnable[] {forward, backward};
    }

    /** A forward and a backward call on a fused qkv [B, T, 3·H·D], as the GPT models' attention layers make them. */
    private static Runnable[] packedCalls(Shape shape) {
        Rng rng = new Rng(7);
        int heads = shape.heads();
        int width = heads * shape.headDim();
        Tensor qkv = Tensor.randn(DType.F32, rng, shape.batch(), shape.seq(), 3 * width);
        Tensor g = Tensor.randn(DType.F32, rng, shape.batch(), shape.seq(), width);
        double scale = 1.0 / Math.sqrt(shape.headDim());
        Attention.Result saved = Attention.forwardPacked(qkv, heads, heads, true, scale);
        Runnable forward = () -> {
            try (var scope = Workspace.open()) {
                Attention.forwardPacked(qkv, heads, heads, true, scale);
            }
        };
        Runnable backward = () -> {
            try (var scope = Workspace.open()) {
                Attention.backwardPacked(g, qkv, heads, heads, saved.out(), saved.logSumExp(), true, scale);
            }
        };
        return new Runnable[] {forward, backward};
    }

    /** A time for the table, or "-" for a pass that was not run. */
    private static String millis(double best) {
        return best == Double.MAX_VALUE ? "-" : String.format(Locale.ROOT, "%.3f", best);
    }

    /** Mean CPU milliseconds per call over as many calls as fit in 0.2 s of this thread's CPU time. */
    private static double cpuMillisPerCall(ThreadMXBean cpu, Runnable call) {
        long start = cpu.getCurrentThreadCpuTime();
        long now = start;
        int calls = 0;
        while (now - start < 200_000_000L) {
            call.run();
            calls++;
            now = cpu.getCurrentThreadCpuTime();
        }
        return (now - start) / 1e6 / calls;
    }
}
