package dev.jgrad.bench;

import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.ops.LayerNorm;
import dev.jgrad.tensor.ops.Softmax;
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
 * Row-wise kernels, forward and backward together as training runs them: softmax over the last axis and layer
 * norm (with weight and bias) of a [size, size] F32 matrix, i.e. size rows of length size, like a transformer's
 * [B*T, C] activations. Rows "softmax" and "layernorm" of the table, in millions of elements per second; the
 * PyTorch side runs the same forward and backward through autograd (bench/pytorch_bench.py).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class NormBench {
    @Param({"64", "128", "256", "512", "1024", "2048"})
    public int size;

    @Param({"1", "2"})
    public int threads;

    private Tensor x;
    private Tensor upstream;
    private Tensor weight;
    private Tensor bias;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        var rng = new Rng(42);
        x = Tensor.randn(rng, size, size);
        upstream = Tensor.randn(rng, size, size);
        weight = Tensor.randn(rng, size);
        bias = Tensor.randn(rng, size);
    }

    @Benchmark
    public Tensor softmax() {
        Tensor y = Softmax.softmax(x, -1);
        return Softmax.softmaxBackward(upstream, y, -1);
    }

    @Benchmark
    public LayerNorm.Grads layernorm() {
        var r = LayerNorm.forward(x, weight, bias, 1e-5);
        return LayerNorm.backward(upstream, x, weight, bias, r.mean(), r.rstd());
    }
}
