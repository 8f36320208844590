package dev.jgrad.models.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.optim.WarmupCosineSchedule;
import dev.jgrad.models.train.CurveComparison.Metric;
import dev.jgrad.models.train.ReferenceCurve.SeedCurve;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.viz.History;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ReferenceCurveTest {

    // ------------------------------------------------------------------------------------------ shipped references

    /**
     * The reference files hold PyTorch's side of the recipe; this checks that it is jgrad's recipe: GPT-small's
     * config, and at every step the learning rate PyTorch used is the one jgrad's schedule gives.
     */
    @ParameterizedTest
    @ValueSource(strings = {ReferenceCurve.SHORT, ReferenceCurve.FULL})
    void shippedReferencesUseJgradsModelAndLearningRateAtEveryStep(String name) {
        ReferenceCurve reference = ReferenceCurve.load(name);
        assertEquals(name, reference.name());
        assertEquals(GptConfig.small(), reference.modelConfig());
        TrainerConfig recipe = reference.recipe();
        var schedule = new WarmupCosineSchedule(recipe.lr(), recipe.warmupSteps(), recipe.lrDecaySteps(),
                recipe.minLr());
        double[] used = reference.lrSchedule();
        assertEquals(recipe.steps(), used.length);
        for (int it = 0; it < used.length; it++) {
            assertEquals(schedule.lr(it), used[it], 1e-15, "learning rate at step " + it);
        }
        assertTrue(reference.runs().size() >= 5, name + " has " + reference.runs().size() + " seeds");
        assertEquals("moby-dick", reference.corpus());
        assertEquals(recipe.steps() / recipe.evalEvery(), reference.evalSteps().length);
        for (SeedCurve run : reference.runs()) {
            double[] val = run.valLoss();
            assertTrue(val[0] < Math.log(256) && val[val.length - 1] < val[0],
                    name + " seed " + run.seed() + " learns: " + val[0] + " -> " + val[val.length - 1]);
        }
    }

    @Test
    void unknownReferenceNamesTheKnownOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> ReferenceCurve.load("gpt-huge"));
        assertTrue(e.getMessage().contains("gpt-huge") && e.getMessage().contains(ReferenceCurve.SHORT), e.getMessage());
    }

    // ------------------------------------------------------------------------------------------ a reference made here

    static final String TEXT = "call me ishmael. some years ago, never mind how long precisely. ".repeat(30);

    static GptConfig tinyModel() {
        return GptConfig.gpt2(256, 16, 1, 16, 2);
    }

    static TrainerConfig tinyRecipe() {
        return TrainerConfig.defaults().withSteps(12).withBatch(4, 16).withShards(1).withLr(1e-2, 1e-3, 2)
                .withEval(4, 2, 0).withCheckpoints(0, 1);
    }

    /** A reference file for the tiny recipe on TEXT, with the given per-seed validation curves. */
    static Map<String, Object> referenceJson(double[]... valCurves) {
        TrainerConfig recipe = tinyRecipe();
        var schedule = new WarmupCosineSchedule(recipe.lr(), recipe.warmupSteps(), recipe.lrDecaySteps(), recipe.minLr());
        List<Object> lr = new ArrayList<>();
        for (int it = 0; it < recipe.steps(); it++) {
            lr.add(schedule.lr(it));
        }
        List<Object> runs = new ArrayList<>();
        for (int s = 0; s < valCurves.length; s++) {
            List<Object> val = new ArrayList<>();
            List<Object> train = new ArrayList<>();
            for (double v : valCurves[s]) {
                val.add(v);
                train.add(v + 0.1);
            }
            runs.add(new LinkedHashMap<>(Map.of("seed", (long) s, "val_loss", val, "train_loss", train)));
        }
        byte[] bytes = TEXT.getBytes(StandardCharsets.UTF_8);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "tiny");
        m.put("description", "made by the test");
        m.put("framework", "torch 9.9");
        m.put("data", new LinkedHashMap<>(Map.of("corpus", "test", "tokenizer", "byte", "sha256",
                ReferenceCurve.sha256(bytes), "tokens", (long) bytes.length)));
        m.put("model_config", tinyModel().toMap());
        m.put("trainer_config", recipe.toMap());
        m.put("lr_schedule", lr);
        m.put("eval_steps", List.of(4L, 8L, 12L));
        m.put("runs", runs);
        return m;
    }

    static ReferenceCurve tinyReference(double[]... valCurves) {
        return ReferenceCurve.parse(Json.write(referenceJson(valCurves)), "tiny.json");
    }

    static final double[][] SPREAD = {{3.0, 2.0, 1.0}, {3.2, 2.2, 1.1}, {2.8, 1.8, 0.9}, {3.0, 2.0, 1.0}};

    @Test
    void parsesItsOwnFormat() {
        ReferenceCurve r = tinyReference(SPREAD);
        assertEquals(4, r.runs().size());
        assertArrayEquals(new long[] {4, 8, 12}, r.evalSteps());
        assertArrayEquals(new double[] {3.2, 2.2, 1.1}, r.runs().get(1).valLoss());
        assertArrayEquals(new double[] {3.3, 2.3, 1.2}, r.runs().get(1).trainLoss(), 1e-12);
        assertEquals(tinyRecipe(), r.recipe());
    }

    @Test
    void brokenFilesNameTheFileAndWhatIsWrong() {
        var m = referenceJson(SPREAD);
        m.remove("lr_schedule");
        assertParseError(m, "tiny.json", "missing key 'lr_schedule'");

        m = referenceJson(SPREAD);
        m.put("eval_steps", List.of(4L, 8L, 10L));
        assertParseError(m, "eval_steps[2] is 10, expected 12");

        m = referenceJson(SPREAD[0]);
        assertParseError(m, "needs at least 2 seeds to measure seed noise, has 1");

        m = referenceJson(SPREAD);
        m.put("lr_schedule", List.of(1e-3));
        assertParseError(m, "lr_schedule has 1 values for a recipe of 12 steps");

        m = referenceJson(SPREAD);
        ((Map<String, Object>) m.get("data")).put("tokenizer", "gpt2");
        assertParseError(m, "data.tokenizer must be \"byte\"");

        m = referenceJson(new double[] {3, 2, 1}, new double[] {3, 2});
        assertParseError(m, "seed 1 has 2 validation losses for 3 evaluation steps");
    }

    private static void assertParseError(Map<String, Object> m, String... fragments) {
        var e = assertThrows(IllegalArgumentException.class, () -> ReferenceCurve.parse(Json.write(m), "tiny.json"));
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' missing from: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains("tiny.json"), e.getMessage());
    }

    @Test
    void splitRefusesTextOtherThanTheReferencesAndSplitsItsOwnAsTheTrainerDoes() {
        ReferenceCurve r = tinyReference(SPREAD);
        var e = assertThrows(IllegalArgumentException.class, () -> r.split(TEXT + "!"));
        assertTrue(e.getMessage().contains("not what torch 9.9 trained on") && e.getMessage().contains(
                (TEXT.length() + 1) + " bytes") && e.getMessage().contains(TEXT.length() + " bytes"), e.getMessage());
        TokenDataset.Split split = r.split(TEXT);
        assertEquals((long) (TEXT.length() * 0.9), split.train().size());
        assertEquals(TEXT.length() - (long) (TEXT.length() * 0.9), split.validation().size());
    }

    @Test
    void curveOfTakesTheValidationLossAndTheMeanLossOfEachInterval() {
        History h = new History();
        for (int step = 0; step < 6; step++) {
            h.log(step, History.LOSS, 10 - step);
            if ((step + 1) % 3 == 0) {
                h.log(step, History.VAL_LOSS, 100 + step);
            }
        }
        SeedCurve c = ReferenceCurve.curveOf(7, h, new long[] {3, 6});
        assertArrayEquals(new double[] {102, 105}, c.valLoss());
        assertArrayEquals(new double[] {9, 6}, c.trainLoss());   // (10 + 9 + 8) / 3, (7 + 6 + 5) / 3
        var e = assertThrows(IllegalStateException.class, () -> ReferenceCurve.curveOf(7, h, new long[] {3, 6, 9}));
        assertTrue(e.getMessage().contains("after step 9"), e.getMessage());
    }

    @Test
    void trainingIsDeterministicAndIndependentOfTheThreadCount() {
        ReferenceCurve r = tinyReference(SPREAD);
        var data = r.split(TEXT);
        int threads = Parallel.threads();
        SeedCurve one;
        SeedCurve two;
        try {
            Parallel.setThreads(1);
            one = r.train(3, data);
            Parallel.setThreads(2);
            two = r.train(3, data);
        } finally {
            Parallel.setThreads(threads);
        }
        assertArrayEquals(one.valLoss(), two.valLoss());
        assertArrayEquals(one.trainLoss(), two.trainLoss());
        assertEquals(3, one.valLoss().length);
        assertTrue(one.valLoss()[2] < Math.log(256), "the tiny model learns: " + one.valLoss()[2]);
        SeedCurve other = r.train(4, data);
        assertFalse(other.valLoss()[0] == one.valLoss()[0], "another seed is another draw");

        var e = assertThrows(IllegalArgumentException.class,
                () -> r.train(3, data, tinyRecipe().withSteps(8), null));
        assertTrue(e.getMessage().contains("must run 12 steps and evaluate every 4"), e.getMessage());
    }

    // ------------------------------------------------------------------------------------------ comparison

    @Test
    void zIsTheTwoSampleTStatisticWithPooledVariance() {
        ReferenceCurve r = tinyReference(SPREAD);
        // point 0: reference 3.0, 3.2, 2.8, 3.0 -> mean 3.0, sample std sqrt(0.08 / 3)
        var c = r.compare(List.of(new SeedCurve(0, new double[] {3.1, 2.0, 1.0}, new double[] {3.1, 2.1, 1.1}),
                new SeedCurve(1, new double[] {3.2, 2.0, 1.0}, new double[] {3.2, 2.1, 1.1})));
        double std = Math.sqrt(0.08 / 3);
        // jgrad: 3.1, 3.2 -> variance 0.005; pooled over 4 + 2 - 2 degrees of freedom: (0.08 + 0.005) / 4
        double z = 0.15 / Math.sqrt(0.085 / 4 * (1.0 / 2 + 1.0 / 4));
        assertEquals(z, c.valLoss().z()[0], 1e-12);
        assertEquals(3.0, c.valLoss().referenceMean()[0], 1e-12);
        assertEquals(std, c.valLoss().referenceStd()[0], 1e-12);
        assertEquals(2.8, c.valLoss().referenceMin()[0], 1e-12);
        assertEquals(3.2, c.valLoss().referenceMax()[0], 1e-12);
        assertEquals(3.15, c.valLoss().ourMean()[0], 1e-12);
        assertEquals(0, c.valLoss().z()[1], 1e-12);
        assertEquals(z, c.maxAbsZ(), 1e-12);
        assertTrue(c.withinSeedNoise(), c.summary());
        assertTrue(c.summary().contains("within seed noise"), c.summary());
        c.requireWithinSeedNoise();
    }

    @Test
    void aCurveOutsideTheSeedNoiseFailsAndSaysWhere() {
        ReferenceCurve r = tinyReference(SPREAD);
        // One jgrad seed: the pooled variance is the reference's. 0.5 above it at step 8:
        // z = 0.5 / (sqrt(0.08 / 3) * sqrt(1 + 1/4)) = 2.7; 1.0 above: 5.5
        var close = r.compare(List.of(new SeedCurve(0, new double[] {3.0, 2.5, 1.0}, new double[] {3.1, 2.1, 1.1})));
        assertTrue(close.withinSeedNoise(), close.summary());
        var far = r.compare(List.of(new SeedCurve(0, new double[] {3.0, 3.0, 1.0}, new double[] {3.1, 2.1, 1.1})));
        assertFalse(far.withinSeedNoise());
        var e = assertThrows(IllegalStateException.class, far::requireWithinSeedNoise);
        assertTrue(e.getMessage().contains("NOT within seed noise at 1 point")
                && e.getMessage().contains("validation loss at step 8: jgrad 3.0000, torch 2.0000"), e.getMessage());

        var diverged = r.compare(List.of(new SeedCurve(0, new double[] {3.0, Double.NaN, Double.NaN},
                new double[] {3.1, Double.NaN, Double.NaN})));
        assertFalse(diverged.withinSeedNoise(), "a diverged run is never within seed noise");

        var e2 = assertThrows(IllegalArgumentException.class,
                () -> r.compare(List.of(new SeedCurve(0, new double[] {3.0}, new double[] {3.0}))));
        assertTrue(e2.getMessage().contains("has 1 evaluations, the reference tiny has 3"), e2.getMessage());
    }

    @Test
    void tableAndPlotsShowEveryPoint() {
        var c = tinyReference(SPREAD).compare(List.of(
                new SeedCurve(0, new double[] {3.1, 2.0, 1.0}, new double[] {3.1, 2.1, 1.1}),
                new SeedCurve(1, new double[] {3.0, 2.1, 1.0}, new double[] {3.0, 2.2, 1.1})));
        History table = c.table();
        assertArrayEquals(new long[] {4, 8, 12}, table.steps());
        assertArrayEquals(new double[] {3.05, 2.05, 1.0}, table.values("val_jgrad_mean"), 1e-12);
        assertArrayEquals(new double[] {3.1, 2.1, 1.1}, table.values("loss_torch_mean"), 1e-12);
        for (Metric metric : Metric.values()) {
            for (var plot : List.of(c.plot(metric), c.plotDeviation(metric))) {
                assertEquals(2, plot.seriesCount());
                assertEquals(2, plot.bandCount());
                assertTrue(plot.toPng(600).length > 1000);
            }
        }
    }
}
