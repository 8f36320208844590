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
import dev.jgrad.models.optim.Adam;
import dev.jgrad.models.optim.AdamW;
import dev.jgrad.models.optim.Sgd;
import dev.jgrad.models.train.TrainerConfig.OptimizerKind;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

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
     * The trainer's bit-for-bit tests run in F64, the plain-Java reference path, so they test exactly what they are
     * about: the trainer's own determinism. That F32 training is bit-identical too, for any worker count and across
     * the JIT compiling the kernels, is {@code DataParallelF32Test}'s subject.
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

    /** {@link #tinyRun} with {@code kind}; SGD with Nesterov momentum so that its state (the buffers) matters. */
    static TrainerConfig tinyRun(long steps, OptimizerKind kind) {
        TrainerConfig c = tinyRun(steps).withOptimizer(kind);
        return kind == OptimizerKind.SGD ? c.withMomentum(0.9, true).withLr(0.1, 0.01, Math.min(2, steps)) : c;
    }

    @ParameterizedTest
    @EnumSource(OptimizerKind.class)
    void resumedRunRepeatsTheUninterruptedLossesBitForBit(OptimizerKind kind, @TempDir Path dir) {
        int k = 4;
        TrainerConfig cfg = tinyRun(2 * k, kind).withEval(2, 1, 0).withAccumulation(2).withShards(2);
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
        Class<?> expectedType = switch (kind) {
            case ADAMW -> AdamW.class;
            case ADAM -> Adam.class;
            case SGD -> Sgd.class;
        };
        assertEquals(expectedType, resumed.optimizer().getClass());
    }

    @Test
    void theOptimizersReallyDiffer() {
        double[] last = new double[OptimizerKind.values().length];
        for (OptimizerKind kind : OptimizerKind.values()) {
            Trainer t = new Trainer(exactModel(0), data(), tinyRun(3, kind));
            t.run();
            last[kind.ordinal()] = t.losses().get(2);
        }
        assertTrue(last[0] != last[1] && last[1] != last[2] && last[0] != last[2],
                "adamw, adam and sgd give different third losses: " + java.util.Arrays.toString(last));
    }

    /**
     * Resuming a finished N-step run with a larger total keeps its schedule: it equals, bit for bit, one
     * uninterrupted M-step run whose cosine ends at N ({@link TrainerConfig#extendedTo}).
     */
    @ParameterizedTest
    @EnumSource(value = OptimizerKind.class, names = {"ADAMW", "SGD"})
    void extendingAFinishedRunEqualsOneRunWhoseScheduleEndsEarlier(OptimizerKind kind, @TempDir Path dir) {
        int n = 4;
        int m = 7;
        TrainerConfig planned = tinyRun(n, kind).withEval(2, 1, 0);
        Trainer straight = new Trainer(exactModel(0.1), data(), planned.extendedTo(m));
        straight.run();
        assertEquals(m, straight.losses().size());
        assertEquals(planned.minLr(), straight.history().values(History.LR)[m - 1], 0.0, "past N the lr is minLr");

        new Trainer(exactModel(0.1), data(), planned).checkpointTo(dir).run();
        assertEquals(List.of((long) n), new dev.jgrad.models.io.CheckpointManager(dir, 2).steps());
        Trainer finished = Trainer.resume(dir, data());
        assertEquals(0, finished.run().steps() - n, "resuming without a new total runs nothing more");
        Trainer extended = Trainer.resume(dir, data(), m);
        assertEquals(m, extended.config().steps());
        assertEquals(n, extended.config().lrDecaySteps());
        extended.run();
        assertEquals(m, extended.stepCount());
        for (int i = 0; i < m; i++) {
            assertEquals(Double.doubleToRawLongBits(straight.losses().get(i)),
                    Double.doubleToRawLongBits(extended.losses().get(i)), "step " + i);
        }
        Map<String, Tensor> b = extended.model().module().stateDict();
        straight.model().module().stateDict().forEach((name, v) -> assertEquals(0.0, v.maxAbsDiff(b.get(name)), name));
        Checkpoint saved = Checkpoint.load(dir.resolve("step-000007"));
        assertEquals(m, saved.trainer().step(), "the extended run saved its final checkpoint");
        assertEquals(planned.extendedTo(m), TrainerConfig.fromMap(castMap(saved.trainer().extra().get(Trainer.CONFIG_KEY))));

        var tooFew = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(dir, data(), m - 1));
        assertTrue(tooFew.getMessage().contains("at step 7") && tooFew.getMessage().contains("total of 6"),
                tooFew.getMessage());
    }

    @Test
    void resumingAgainstOptimizerStateOfAnotherKindIsAClearError(@TempDir Path dir) {
        new Trainer(tinyModel(0), data(), tinyRun(2, OptimizerKind.SGD)).checkpointTo(dir).run();
        Path step = dir.resolve("step-000002");
        // Hand-edit the saved configuration to claim AdamW: the SGD momentum buffers cannot serve it.
        Checkpoint c = Checkpoint.load(step);
        Map<String, Object> extra = new java.util.LinkedHashMap<>(c.trainer().extra());
        extra.put(Trainer.CONFIG_KEY, tinyRun(2).toMap());
        new Checkpoint(c.model(), c.config(), c.tokenizer(), c.optimizer(), new Checkpoint.TrainerState(
                c.trainer().step(), c.trainer().rng(), c.trainer().lossHistory(), extra)).save(step);
        var mismatch = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(dir, data()));
        assertTrue(mismatch.getMessage().contains("holds sgd optimizer state")
                && mismatch.getMessage().contains("says adamw"), mismatch.getMessage());
        extra.remove(Trainer.OPTIMIZER_KEY);
        new Checkpoint(c.model(), c.config(), c.tokenizer(), c.optimizer(), new Checkpoint.TrainerState(
                c.trainer().step(), c.trainer().rng(), c.trainer().lossHistory(), extra)).save(step);
        var unfit = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(dir, data()));
        assertTrue(unfit.getMessage().contains("does not fit a adamw optimizer")
                && unfit.getMessage().contains("momentum_buffer"), unfit.getMessage());
    }

    @Test
    void trainerConfigRoundTripsThroughJsonAndReadsOlderConfigs() {
        TrainerConfig sgd = tinyRun(9, OptimizerKind.SGD).extendedTo(12);
        assertEquals(sgd, TrainerConfig.fromMap(sgd.toMap()));
        assertEquals("sgd", sgd.toMap().get("optimizer"));
        Map<String, Object> older = new java.util.LinkedHashMap<>(tinyRun(9).toMap());
        for (String key : List.of("optimizer", "momentum", "nesterov", "lr_decay_steps")) {
            older.remove(key);
        }
        TrainerConfig back = TrainerConfig.fromMap(older);
        assertEquals(OptimizerKind.ADAMW, back.optimizer());
        assertEquals(9, back.lrDecaySteps());
        assertEquals(tinyRun(9), back);
        older.put("optimizer", "lion");
        var unknown = assertThrows(IllegalArgumentException.class, () -> TrainerConfig.fromMap(older));
        assertTrue(unknown.getMessage().contains("unknown optimizer 'lion'"), unknown.getMessage());
        var adamMomentum = assertThrows(IllegalArgumentException.class,
                () -> tinyRun(3).withOptimizer(OptimizerKind.ADAM).withMomentum(0.9, false));
        assertTrue(adamMomentum.getMessage().contains("apply to sgd only"), adamMomentum.getMessage());
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
