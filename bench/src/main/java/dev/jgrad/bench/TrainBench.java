package dev.jgrad.bench;

import dev.jgrad.tensor.Parallel;
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
 * One full GPT training step (forward, cross-entropy, backward, AdamW, zero grads; see {@link GptTrainStep}) of
 * the two benchmark configurations: "small" (4 layers, d 128, batch 8 × context 128) and "large" (6 layers,
 * d 384, batch 4 × context 256). Rows "gptSmallTrain" and "gptLargeTrain", in tokens per second.
 *
 * <p>{@code size} is the number of tokens per step, batch × context, which is 1024 for both configurations; it is
 * a parameter only so the rows fit the table's (op, size, threads) key, and any other value is an error.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class TrainBench {
    /** Steps run in setup before JMH's own warmup: a large step takes about a second, and C2 needs a few. */
    private static final int SETUP_WARMUP_STEPS = 5;

    @Param({"1024"})
    public int size;

    @Param({"1", "2"})
    public int threads;

    private GptTrainStep small;
    private GptTrainStep large;

    @Setup
    public void setup(org.openjdk.jmh.infra.BenchmarkParams params) {
        Parallel.setThreads(threads);
        String method = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
        var preset = method.equals("gptLargeTrain") ? GptTrainStep.Preset.LARGE : GptTrainStep.Preset.SMALL;
        if (size != preset.tokensPerStep()) {
            throw new IllegalArgumentException(method + ": size is the tokens per step, " + preset.tokensPerStep()
                    + " for this configuration, got " + size);
        }
        var step = new GptTrainStep(preset, 42);
        for (int i = 0; i < SETUP_WARMUP_STEPS; i++) {
            step.step();
        }
        if (preset == GptTrainStep.Preset.LARGE) {
            large = step;
        } else {
            small = step;
        }
    }

    @Benchmark
    public double gptSmallTrain() {
        return small.step();
    }

    @Benchmark
    public double gptLargeTrain() {
        return large.step();
    }
}
