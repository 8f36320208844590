package dev.jgrad.bench;

import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.train.TrainableModel;
import dev.jgrad.models.train.Trainer;
import dev.jgrad.models.train.TrainerConfig;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
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
 * GPT-small and GPT-large training steps through the {@link Trainer} with {@code threads} data-parallel workers
 * (rows "gptSmallDataParallel" and "gptLargeDataParallel"): each step's batch (8 × 128 tokens for small, 4 × 256
 * for large) is cut into one shard per sequence, the workers take
 * shards as they come, and the shard gradients are summed in shard order, so the losses are the same bits for any
 * worker count (DataParallelF32Test). The kernels get the same number of threads. Compared with PyTorch's
 * step of the same model at the same thread count, the row shows what N = 1 and N = 2 workers give.
 *
 * <p>{@code size} is the tokens per step (1024 for both), as in {@link TrainBench}. The Trainer's step also samples the
 * batch, clips the gradient norm and sets the learning rate, which costs well under 1% of a step.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class DataParallelBench {
    private static final int SETUP_WARMUP_STEPS = 5;

    /** One model's trainer with {@code threads} workers; a subclass per preset, so each row has its own name. */
    @State(Scope.Benchmark)
    public abstract static class Workers {
        @Param({"1024"})
        public int size;

        @Param({"1", "2"})
        public int threads;

        Trainer trainer;

        void setup(String preset, int batch) {
            GptConfig config = GptConfig.preset(preset);
            if (size != batch * config.contextLength()) {
                throw new IllegalArgumentException("DataParallelBench (" + preset + "): size is the tokens per step, "
                        + batch * config.contextLength() + ", got " + size);
            }
            Parallel.setThreads(threads);
            int[] ids = new int[200_000];
            Rng rng = new Rng(1);
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (int) (rng.nextLong() >>> 56);   // a random byte
            }
            var recipe = TrainerConfig.defaults().withSteps(Long.MAX_VALUE / 2).withBatch(batch, config.contextLength())
                    .withLr(3e-4, 3e-5, 1).withEval(0, 1, 0).withCheckpoints(0, 1).withSeed(3);
            trainer = new Trainer(TrainableModel.of(new Gpt(config, new Rng(42))), TokenDataset.of(ids).split(0.1),
                    recipe).workers(threads);
            trainer.run(SETUP_WARMUP_STEPS);
        }

        double step() {
            trainer.run(1);
            return trainer.losses().getLast();
        }
    }

    @State(Scope.Benchmark)
    public static class Small extends Workers {
        @Setup
        public void setup() {
            setup("small", 8);
        }
    }

    @State(Scope.Benchmark)
    public static class Large extends Workers {
        @Setup
        public void setup() {
            setup("large", 4);
        }
    }

    @Benchmark
    public double gptSmallDataParallel(Small workers) {
        return workers.step();
    }

    @Benchmark
    public double gptLargeDataParallel(Large workers) {
        return workers.step();
    }
}
