package dev.jgrad.bench;

import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.kernel.Sgemm;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The three products of one linear layer in a GPT training step, with the operand layouts {@code Variable.linear}
 * hands to Sgemm (through MatMul): x [rows, in], weight [out, in] and upstream gradient g [rows, out], all
 * row-major.
 * <ul>
 *   <li>{@code forward}: y = x.Wᵀ, [rows x in] . [in x out], B read column-major (the transposed weight);</li>
 *   <li>{@code inputGrad}: dx = g.W, [rows x out] . [out x in], both row-major;</li>
 *   <li>{@code weightGrad}: dW = gᵀ.x, [out x rows] . [rows x in], A read column-major, contraction over rows.</li>
 * </ul>
 * {@code shape} is "rows,in,out"; the defaults are every linear layer of GPT-small (d = 128) and GPT-large
 * (d = 384) at 1024 tokens per step: qkv, attention output, MLP up, MLP down, and the tied head (vocabulary 256).
 * Each product is 2.rows.in.out floating-point operations. Not a row of the PyTorch table: bench/gemm_shapes.py
 * times torch.mm on the same shapes and layouts.
 *
 * <p>{@link #main} measures the same products on one thread in CPU time rather than wall time, which other jobs on
 * a shared machine disturb far less: {@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar
 * dev.jgrad.bench.LinearGemmBench [rows,in,out ...]} prints GFLOP/s per shape and product.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class LinearGemmBench {
    private static final String[] DEFAULT_SHAPES = {"1024,128,384", "1024,128,128", "1024,128,512", "1024,512,128",
            "1024,128,256", "1024,384,1152", "1024,384,384", "1024,384,1536", "1024,1536,384", "1024,384,256"};

    @Param({"1024,128,384", "1024,128,128", "1024,128,512", "1024,512,128", "1024,128,256",
            "1024,384,1152", "1024,384,384", "1024,384,1536", "1024,1536,384", "1024,384,256"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private int rows;
    private int in;
    private int out;
    private float[] x;
    private float[] w;
    private float[] g;
    private float[] y;
    private float[] dx;
    private float[] dw;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        String[] parts = shape.split(",");
        rows = Integer.parseInt(parts[0]);
        in = Integer.parseInt(parts[1]);
        out = Integer.parseInt(parts[2]);
        var rng = new SplittableRandom(42);
        x = random(rng, rows * in);
        w = random(rng, out * in);
        g = random(rng, rows * out);
        y = new float[rows * out];
        dx = new float[rows * in];
        dw = new float[out * in];
    }

    private static float[] random(SplittableRandom rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextDouble(-1, 1);
        }
        return v;
    }

    @Benchmark
    public float[] forward() {
        Sgemm.gemm(rows, out, in, x, 0, in, 1, w, 0, 1, in, 0f, y, 0, out);
        return y;
    }

    @Benchmark
    public float[] inputGrad() {
        Sgemm.gemm(rows, in, out, g, 0, out, 1, w, 0, in, 1, 0f, dx, 0, in);
        return dx;
    }

    @Benchmark
    public float[] weightGrad() {
        Sgemm.gemm(out, in, rows, g, 0, 1, out, x, 0, in, 1, 0f, dw, 0, in);
        return dw;
    }

    /**
     * One thread, each product warmed up for 1.5 s and then timed over seven runs of 0.1 s of CPU time; the fastest
     * run counts, as the least disturbed by other jobs (CPU time still includes cache and memory contention).
     */
    public static void main(String[] args) {
        String[] shapes = args.length > 0 ? args : DEFAULT_SHAPES;
        var threadCpu = ManagementFactory.getThreadMXBean();
        System.out.println("| rows, in, out | forward x.Wᵀ | input grad g.W | weight grad gᵀ.x |");
        System.out.println("|---|---:|---:|---:|");
        for (String shape : shapes) {
            var bench = new LinearGemmBench();
            bench.shape = shape;
            bench.threads = 1;
            bench.setup();
            double flops = 2.0 * bench.rows * bench.in * bench.out;
            StringBuilder row = new StringBuilder("| " + shape.replace(",", ", ") + " |");
            for (int product = 0; product < 3; product++) {
                Runnable op = switch (product) {
                    case 0 -> bench::forward;
                    case 1 -> bench::inputGrad;
                    default -> bench::weightGrad;
                };
                for (long start = System.nanoTime(); System.nanoTime() - start < 1_500_000_000L; ) {
                    op.run();
                }
                double bestNanos = Double.MAX_VALUE;
                for (int run = 0; run < 7; run++) {
                    long start = threadCpu.getCurrentThreadCpuTime();
                    long now;
                    int calls = 0;
                    do {
                        op.run();
                        calls++;
                        now = threadCpu.getCurrentThreadCpuTime();
                    } while (now - start < 100_000_000L);
                    bestNanos = Math.min(bestNanos, (now - start) / (double) calls);
                }
                row.append(String.format(" %.0f GFLOP/s |", flops / bestNanos));
            }
            System.out.println(row);
        }
    }
}
