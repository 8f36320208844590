package dev.jgrad.models.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.data.Batch;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link DataParallel} runs each shard in a recycling {@link Workspace} scope of its worker's thread. Its losses
 * and summed gradients are those of the same shards differentiated one after the other without any workspace,
 * and in plain scopes, bit for bit, over several steps that update the weights in between, with two workers at
 * one and two threads.
 */
class DataParallelRecyclingTest {
    private static final GptConfig CONFIG = GptConfig.gpt2(17, 8, 2, 16, 2);
    private static final int SHARDS = 3;

    private static List<Batch> shards(Rng rng) {
        List<Batch> out = new ArrayList<>();
        for (int s = 0; s < SHARDS; s++) {
            int[] ids = new int[2 * 8];
            int[] targets = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (int) Math.floorMod(rng.nextLong(), CONFIG.vocabSize());
                targets[i] = (int) Math.floorMod(rng.nextLong(), CONFIG.vocabSize());
            }
            out.add(new Batch(ids, targets, 2, 8));
        }
        return out;
    }

    /**
     * The reference: each shard's loss divided by the shard count, differentiated through fresh parameter
     * variables, its gradients summed in shard order with {@code Tensor.add}; in a plain scope per shard or none.
     */
    private static List<float[]> sequential(Gpt model, List<Batch> shards, boolean plainScopes) {
        Map<String, Variable> params = model.distinctNamedParameters();
        Map<String, Tensor> sums = new LinkedHashMap<>();
        List<float[]> out = new ArrayList<>();
        for (Batch shard : shards) {
            Map<String, Variable> fresh = new LinkedHashMap<>();
            params.forEach((name, p) -> fresh.put(name, Variable.param(p.value())));
            Workspace scope = plainScopes ? Workspace.open() : null;
            try {
                out.add(new float[] {(float) (double) model.withParameters(fresh, () -> {
                    Variable loss = model.loss(shard.inputs(), shard.targets(), shard.rows(), shard.context());
                    loss.div(shards.size()).backward();
                    return loss.item();
                })});
            } finally {
                if (scope != null) {
                    scope.close();
                }
            }
            fresh.forEach((name, p) -> sums.merge(name, p.grad(), Tensor::add));
        }
        sums.values().forEach(g -> out.add(g.toFloatArray()));
        return out;
    }

    private static List<float[]> parallel(DataParallel dp, Gpt model, List<Batch> shards) {
        Map<String, Tensor> values = new LinkedHashMap<>();
        model.distinctNamedParameters().forEach((name, p) -> values.put(name, p.value()));
        DataParallel.Gradients grads = dp.run(shards, values, 0);
        List<float[]> out = new ArrayList<>();
        for (double loss : grads.shardLosses()) {
            out.add(new float[] {(float) loss});
        }
        grads.sums().values().forEach(g -> out.add(g.toFloatArray()));
        return out;
    }

    @Test
    void twoWorkersInRecyclingScopesGiveTheSequentialResultsBitForBit() {
        int saved = Parallel.threads();
        try {
            for (int threads : new int[] {1, 2}) {
                Parallel.setThreads(threads);
                Gpt model = new Gpt(CONFIG, DType.F32, new Rng(9));
                DataParallel dp = new DataParallel(TrainableModel.of(model), 2);
                Rng rng = new Rng(4);
                for (int step = 0; step < 4; step++) {
                    List<Batch> shards = shards(rng);
                    List<float[]> expected = sequential(model, shards, false);
                    assertSame(expected, sequential(model, shards, true), threads + " threads, plain, step " + step);
                    List<float[]> actual = parallel(dp, model, shards);
                    assertSame(expected, actual, threads + " threads, recycling, step " + step);
                    // An SGD update between steps, outside every scope, from the data-parallel gradients.
                    var names = new ArrayList<>(model.distinctNamedParameters().values());
                    for (int i = 0; i < names.size(); i++) {
                        Tensor w = names.get(i).value();
                        w.copyFrom(w.sub(Tensor.of(actual.get(SHARDS + i), w.shape()).mul(0.5)));
                    }
                }
            }
        } finally {
            Parallel.setThreads(saved);
        }
    }

    private static void assertSame(List<float[]> expected, List<float[]> actual, String what) {
        assertEquals(expected.size(), actual.size(), what);
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), actual.get(i), what + ": entry " + i);
        }
    }
}
