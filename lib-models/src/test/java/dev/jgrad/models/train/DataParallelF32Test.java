package dev.jgrad.models.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.ops.Attention;
import dev.jgrad.tensor.ops.CrossEntropy;
import dev.jgrad.tensor.ops.Unary;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Data-parallel training in F32 is bit-identical for any number of workers, as it is in F64
 * ({@link TrainerTest#dataParallelLossesAreIdenticalForAnyWorkerCount}). In F32 this needs more than the trainer's
 * fixed shard order: every kernel must give the same bits before and after the JIT compiles it (fixed-order lane
 * sums, VectorMath instead of the Vector API's exp/log/tanh) and for any thread count (one worker lets its kernels
 * use the whole pool, several run them inline). The first run starts with the kernels cold; then the kernels the
 * model uses are called enough times for C2 to compile them, and the other runs, the last with the first's worker
 * count again, use the compiled code. With the Vector API's EXP and TANH in the kernels this test fails.
 */
class DataParallelF32Test {

    @Test
    void f32LossesAndWeightsAreIdenticalForAnyWorkerCount() {
        // Two accumulation micro-batches of four one-row shards, dropout on, 5 AdamW steps.
        TrainerConfig cfg = TrainerTest.tinyRun(5).withAccumulation(2);
        List<Double> reference = null;
        Map<String, Tensor> referenceWeights = null;
        for (int workers : new int[] {1, 2, 3, 1}) {
            Gpt gpt = new Gpt(TrainerTest.tinyConfig(0.1), DType.F32, new Rng(7));
            Trainer t = new Trainer(TrainableModel.of(gpt), TrainerTest.data(), cfg).workers(workers);
            t.run();
            if (reference == null) {
                reference = t.losses();
                referenceWeights = t.model().module().stateDict();
                warmUpKernels();
                continue;
            }
            for (int i = 0; i < reference.size(); i++) {
                assertEquals(Double.doubleToRawLongBits(reference.get(i)), Double.doubleToRawLongBits(t.losses().get(i)),
                        workers + " workers, step " + i + ": " + reference.get(i) + " vs " + t.losses().get(i));
            }
            Map<String, Tensor> ref = referenceWeights;
            t.model().module().stateDict().forEach((name, v) -> {
                assertEquals(DType.F32, v.dtype(), name);
                assertEquals(0.0, v.maxAbsDiff(ref.get(name)), workers + " workers: " + name);
            });
        }
    }

    /** Calls the F32 kernels the tiny GPT uses, at its shapes, until C2 has compiled them (about 2 s). */
    private static void warmUpKernels() {
        Rng rng = new Rng(1);
        Tensor logits = Tensor.randn(DType.F32, rng, 16, 256);
        int[] targets = new int[16];
        Tensor q = Tensor.randn(DType.F32, rng, 1, 2, 16, 8);
        Tensor hidden = Tensor.randn(DType.F32, rng, 16, 64);
        Tensor one = Tensor.scalar(DType.F32, 1.0);
        for (int i = 0; i < 20_000; i++) {
            CrossEntropy.Result ce = CrossEntropy.forward(logits, targets, -100, 0);
            CrossEntropy.backward(one, logits, targets, ce.logSumExp(), -100, 0, ce.counted());
            Attention.Result a = Attention.forward(q, q, q, true, 0.35);
            Attention.backward(q, q, q, q, a.out(), a.logSumExp(), true, 0.35);
            Unary.geluBackward(hidden, Unary.gelu(hidden));
        }
    }
}
