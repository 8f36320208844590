package dev.jgrad.bench;

import dev.jgrad.generation.Decoder;
import dev.jgrad.generation.KvCacheDecoder;
import dev.jgrad.generation.RecomputeDecoder;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
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
 * Greedy generation with GPT-small ({@code GptConfig.preset("small")}: 4 layers, d 128, context 128, byte
 * vocabulary; random weights from seed 42): each of {@code size} sequences gets a one-token prompt, then 127 new
 * tokens are generated (the prompt's prefill gives the first, 126 steps the rest). Rows "generateKvCache"
 * ({@link KvCacheDecoder}, the batch stepped as one pass) and "generateRecompute" ({@link RecomputeDecoder}, the
 * whole sequence recomputed every token); the table shows generated tokens per second summed over the batch.
 *
 * <p>{@code size} is the batch (1 or 8). The same loop in PyTorch is in bench/pytorch_bench.py.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class GenerationBench {
    static final int NEW_TOKENS = 127;

    @Param({"1", "8"})
    public int size;

    @Param({"1", "2"})
    public int threads;

    private Decoder kvCache;
    private Decoder recompute;
    private Decoder.State[] kvCacheStates;
    private Decoder.State[] recomputeStates;
    private int[] tokens;
    private float[][] logits;
    private int[] prompts;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Gpt model = new Gpt(GptConfig.preset("small"), new Rng(42));
        model.eval();
        kvCache = new KvCacheDecoder(model);
        recompute = new RecomputeDecoder(model);
        tokens = new int[size];
        logits = new float[size][model.config().vocabSize()];
        prompts = new int[size];
        kvCacheStates = new Decoder.State[size];
        recomputeStates = new Decoder.State[size];
        for (int i = 0; i < size; i++) {
            prompts[i] = (31 * i + 10) % model.config().vocabSize();   // a different first byte per sequence
            kvCacheStates[i] = kvCache.newState();
            recomputeStates[i] = recompute.newState();
        }
    }

    @Benchmark
    public int generateKvCache() {
        return generate(kvCache, kvCacheStates);
    }

    @Benchmark
    public int generateRecompute() {
        return generate(recompute, recomputeStates);
    }

    /** Returns a checksum of the generated tokens, so nothing can be optimised away. */
    private int generate(Decoder decoder, Decoder.State[] states) {
        int checksum = 0;
        for (int i = 0; i < size; i++) {
            states[i].reset();
            decoder.prefill(states[i], prompts, i, 1, logits[i]);
            tokens[i] = argmax(logits[i]);
            checksum += tokens[i];
        }
        for (int t = 1; t < NEW_TOKENS; t++) {
            decoder.step(states, tokens, logits);
            for (int i = 0; i < size; i++) {
                tokens[i] = argmax(logits[i]);
                checksum = 31 * checksum + tokens[i];
            }
        }
        return checksum;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }
}
