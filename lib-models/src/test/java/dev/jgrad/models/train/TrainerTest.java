package dev.jgrad.models.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Tape;
import dev.jgrad.models.data.Batch;
import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.viz.History;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    static final String TEXT = "the quick brown fox jumps over the lazy dog. ".repeat(40);

    static TokenDataset.Split data() {
        return TokenDataset.of(new ByteTokenizer().encode(TEXT)).split(0.2);
    }

    static GptConfig tinyConfig(double dropout) {
        return GptConfig.gpt2(256, 16, 1, 16, 2).withDropout(dropout);
    }

    static TrainableModel tinyModel(double dropout) {
        return TrainableModel.of(new Gpt(tinyConfig(dropout), new Rng(7)));
    }

    /**
     * The bit-for-bit tests run in F64. Several F32 kernels (softmax, layer norm, attention, cross-entropy) sum
     * vector lanes with {@code reduceLanes(ADD)}, whose order the Vector API leaves unspecified: the interpreted
     * and the C2-compiled versions of one kernel can differ in the last bit, so two F32 runs compared bit for bit
     * can disagree whenever the JIT swaps a kernel in during one of them. The F64 path is plain Java arithmetic,
     * the same in every JIT state, so it tests exactly what these tests are about: the trainer's own determinism.
     */
    static TrainableModel exactModel(double dropout) {
        return TrainableModel.of(new Gpt(tinyConfig(dropout), DType.F64, new Rng(7)));
    }

    /** 4 rows of 16 tokens, split per row, lr 1e-2; no evaluation or checkpoints unless a test asks. */
    static TrainerConfig tinyRun(long steps) {
        return TrainerConfig.defaults().withSteps(steps).withBatch(4, 16).withLr(1e-2, 1e-3, Math.min(2, steps))
                .withEval(0, 2, 0).withCheckpoints(0, 2).withSeed(42);
    }

    @Test
    void trainingLowersTheLossOnRepetitiveText() {
        Trainer t = new Trainer(tinyModel(0), data(), tinyRun(60));
        Trainer.Result r = t.run();
        List<Double> losses = t.losses();
        assertEquals(60, losses.size());
        assertEquals(60, r.steps());
        double first = mean(losses.subList(0, 5));
        double last = mean(losses.subList(55, 60));
        assertTrue(first > 5.0, "an untrained byte model starts near ln 256 = 5.55, got " + first);
        assertTrue(last < first - 2.0, "loss should fall by more than 2 nats, from " + first + " to " + last);
    }

    @Test
    void evaluationIsTheTokenWeightedMeanOverTheFirstValidationWindows() {
        TrainableModel model = tinyModel(0);
        TokenDataset.Split split = data();
        Trainer t = new Trainer(model, split, tinyRun(5).withEval(0, 3, 0));
        t.run();
        Trainer.Evaluation e = t.evaluate();
        // Independently: the same windows, one row at a time.
        double sum = 0;
        int rows = 0;
        try (var noGrad = Tape.noGrad()) {
            model.module().eval();
            for (long w = 0; w < 3 * 4; w++) {
                int[] inputs = new int[16];
                int[] targets = new int[16];
                for (int i = 0; i < 16; i++) {
                    inputs[i] = split.validation().get(w * 16 + i);
                    targets[i] = split.validation().get(w * 16 + i + 1);
                }
                sum += model.loss(new Batch(inputs, targets, 1, 16)).item();
                rows++;
            }
            model.module().train(true);
        }
        assertEquals(3 * 4 * 16, e.tokens());
        assertEquals(sum / rows, e.loss(), 1e-5);
        assertEquals(Math.exp(e.loss()), e.perplexity(), 1e-12 * e.perplexity());
        assertTrue(model.module().isTraining(), "evaluate restores training mode");
    }

    @Test
    void earlyStoppingTriggersWhenValidationStopsImproving() {
        // A zero learning rate never changes the weights: the first evaluation is the best, the next ones tie.
        TrainerConfig cfg = tinyRun(50).withLr(0, 0, 0).withEval(1, 1, 2);
        Trainer t = new Trainer(tinyModel(0), data(), cfg);
        Trainer.Result r = t.run();
        assertTrue(r.stoppedEarly());
        assertEquals(3, r.steps(), "best at step 1, no improvement at steps 2 and 3, patience 2");
        assertEquals(3, t.history().values(History.VAL_LOSS).length);

        Trainer learning = new Trainer(tinyModel(0), data(), tinyRun(6).withEval(1, 1, 2));
        assertFalse(learning.run().stoppedEarly(), "with a real learning rate the validation loss keeps falling");
    }

    @Test
    void historyHasHeadlineMetricsAndPerLayerGradientNorms() {
        Trainer t = new Trainer(tinyModel(0), data(), tinyRun(3).withEval(3, 1, 0));
        t.run();
        History h = t.history();
        for (String m : List.of(History.LOSS, History.LR, History.GRAD_NORM, History.TOKENS_PER_S, History.VAL_LOSS,
                "val_ppl", "grad_norm/transformer.h.0.attn.c_attn", "grad_norm/transformer.h.0.mlp.c_fc",
                "grad_norm/transformer.wte")) {
            assertTrue(h.has(m), m + " missing from " + h.metrics());
        }
        assertArrayEquals(new long[] {0, 1, 2}, h.steps());
        double[] global = h.values(History.GRAD_NORM);
        for (int row = 0; row < 3; row++) {
            double sumOfSquares = 0;
            for (String m : h.metrics()) {
                if (m.startsWith("grad_norm/")) {
                    double n = h.values(m)[row];
                    assertTrue(n > 0, m + " at row " + row + " is " + n);
                    sumOfSquares += n * n;
                }
            }
            assertEquals(global[row], Math.sqrt(sumOfSquares), 1e-9 * global[row], "layers partition the parameters");
        }
        assertEquals(1e-2 * 1 / 3, h.values(History.LR)[0], 1e-15, "warmup: lr * (it + 1) / (warmup + 1)");
    }

    @Test
    void resumedRunRepeatsTheUninterruptedLossesBitForBit(@TempDir Path dir) {
        int k = 4;
        TrainerConfig cfg = tinyRun(2 * k).withEval(2, 1, 0).withAccumulation(2).withShards(2);
        Trainer straight = new Trainer(exactModel(0.1), data(), cfg);
        straight.run();

        Trainer first = new Trainer(exactModel(0.1), data(), cfg).checkpointTo(dir);
        first.run(k);
        assertEquals(List.of(4L), new dev.jgrad.models.io.CheckpointManager(dir, 2).steps());
        Trainer resumed = Trainer.resume(dir, data());
        assertEquals(k, resumed.stepCount());
        resumed.run();

        List<Double> expected = straight.losses();
        List<Double> actual = resumed.losses();
        assertEquals(2 * k, actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(Double.doubleToRawLongBits(expected.get(i)), Double.doubleToRawLongBits(actual.get(i)),
                    "step " + i + ": " + expected.get(i) + " vs " + actual.get(i));
        }
        assertEquals(straight.bestValLoss(), resumed.bestValLoss());
        Map<String, Tensor> a = straight.model().module().stateDict();
        Map<String, Tensor> b = resumed.model().module().stateDict();
        a.forEach((name, value) -> assertEquals(0.0, value.maxAbsDiff(b.get(name)), name));
        assertTrue(Files.isDirectory(dir.resolve("step-000008")), "the resumed run saves into the same root");
    }

    @Test
    void dataParallelLossesAreIdenticalForAnyWorkerCount() {
        TrainerConfig cfg = tinyRun(4).withAccumulation(2);
        List<Double> reference = null;
        Map<String, Tensor> referenceWeights = null;
        for (int workers = 1; workers <= 3; workers++) {
            Trainer t = new Trainer(exactModel(0.1), data(), cfg).workers(workers);
            t.run();
            if (reference == null) {
                reference = t.losses();
                referenceWeights = t.model().module().stateDict();
                continue;
            }
            for (int i = 0; i < reference.size(); i++) {
                assertEquals(Double.doubleToRawLongBits(reference.get(i)), Double.doubleToRawLongBits(t.losses().get(i)),
                        workers + " workers, step " + i);
            }
            Map<String, Tensor> ref = referenceWeights;
            t.model().module().stateDict().forEach((name, v) -> assertEquals(0.0, v.maxAbsDiff(ref.get(name)), name));
        }
    }

    @Test
    void shardingIsTheMeanOfShardLossesAndMatchesTheWholeBatchGradient() {
        // One shard or four: the same loss up to rounding (the mean of equal-size means is the whole mean).
        Trainer whole = new Trainer(tinyModel(0), data(), tinyRun(1).withShards(1));
        Trainer perRow = new Trainer(tinyModel(0), data(), tinyRun(1).withShards(4));
        assertEquals(whole.step().loss(), perRow.step().loss(), 1e-5);
        Map<String, Tensor> ref = whole.model().module().stateDict();
        perRow.model().module().stateDict().forEach((name, v) -> assertTrue(v.allClose(ref.get(name), 1e-4, 1e-6), name));
    }

    @Test
    void checkpointHoldsEverythingToResume(@TempDir Path dir) {
        Trainer t = new Trainer(tinyModel(0), data(), tinyRun(4).withCheckpoints(1, 2)).checkpointTo(dir)
                .tokenizerFiles(Map.of("tokenizer.json", "{\"type\": \"byte\"}".getBytes()));
        t.run();
        assertEquals(List.of(3L, 4L), new dev.jgrad.models.io.CheckpointManager(dir, 2).steps(), "keeps the last 2");
        Checkpoint c = Checkpoint.load(dir.resolve("step-000004"));
        assertEquals(4, c.trainer().step());
        assertEquals(t.losses(), c.trainer().lossHistory());
        assertTrue(c.trainer().rng() != null);
        assertTrue(c.optimizer().containsKey("exp_avg.transformer.wte.weight"));
        assertTrue(c.tokenizer().containsKey("tokenizer.json"));
        assertEquals(tinyConfig(0), GptConfig.fromMap(withoutDtype(c.config())));
        assertEquals(t.config(), TrainerConfig.fromMap(castMap(c.trainer().extra().get(Trainer.CONFIG_KEY))));
    }

    @Test
    void badInputsAreClearErrors(@TempDir Path dir) {
        var tooShort = TokenDataset.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}).split(0.5);
        var e = assertThrows(IllegalArgumentException.class, () -> new Trainer(tinyModel(0), tooShort, tinyRun(1)));
        assertTrue(e.getMessage().contains("context 16"), e.getMessage());
        var noShards = assertThrows(IllegalArgumentException.class, () -> tinyRun(1).withShards(3));
        assertTrue(noShards.getMessage().contains("divide batchSize (4)"), noShards.getMessage());
        var empty = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(dir, data()));
        assertTrue(empty.getMessage().contains("step-*"), empty.getMessage());
    }

    private static Map<String, Object> withoutDtype(Map<String, Object> config) {
        var m = new java.util.LinkedHashMap<>(config);
        assertEquals("F32", m.remove("dtype"));
        return m;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) {
        return (Map<String, Object>) o;
    }

    private static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }
}
