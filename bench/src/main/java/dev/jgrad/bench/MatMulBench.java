package dev.jgrad.bench;

import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.kernel.Sgemm;
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
 * Square SGEMM, C = A.B with n x n row-major operands: the row "sgemm" of the jgrad-vs-PyTorch table.
 *
 * <p>Convention for every benchmark in this module (bench/compare.py relies on it): the method name is the row's
 * op, the {@code size} and {@code threads} params are its other two columns, the score is time per op, and
 * bench/pytorch_bench.py has a function measuring the same op on the same size so the two can be compared.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class MatMulBench {
    @Param({"64", "128", "256", "512", "1024", "2048"})
    public int size;

    @Param({"1", "2"})
    public int threads;

    private float[] a;
    private float[] b;
    private float[] c;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        var rng = new SplittableRandom(42);
        a = new float[size * size];
        b = new float[size * size];
        c = new float[size * size];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rng.nextDouble(-1, 1);
            b[i] = (float) rng.nextDouble(-1, 1);
        }
    }

    @Benchmark
    public float[] sgemm() {
        int n = size;
        Sgemm.gemm(n, n, n, a, 0, n, 1, b, 0, n, 1, 0f, c, 0, n);
        return c;
    }
}
