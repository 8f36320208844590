package dev.jgrad.models.train;

import dev.jgrad.models.data.Corpora;
import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.tensor.Rng;
import dev.jgrad.viz.History;
import dev.jgrad.viz.TrainingMonitor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Another framework's training curves for one recipe (model, data, optimizer, schedule, evaluation), one curve
 * per seed, and jgrad's runs of the same recipe to set beside them. Training quality is judged this way: the same
 * recipe trained in PyTorch and in jgrad should give loss curves that agree within the spread between seeds
 * ({@link CurveComparison}), not merely curves that go down.
 *
 * <pre>{@code
 * var reference = ReferenceCurve.load(ReferenceCurve.SHORT);   // PyTorch, 10 seeds
 * var data = reference.split(Corpora.mobyDick());               // checks it is the text PyTorch trained on
 * var ours = new ArrayList<ReferenceCurve.SeedCurve>();
 * for (long seed = 0; seed < 3; seed++) ours.add(reference.train(seed, data));
 * var comparison = reference.compare(ours);
 * comparison.plot(CurveComparison.Metric.VAL_LOSS).show();
 * comparison.requireWithinSeedNoise();
 * }</pre>
 *
 * <p>The recipe lives in the reference file (written by {@code lib-models/src/test/python/train_curve_reference.py}
 * under {@code dev/jgrad/models/reference/}) and is read from there, so the two sides cannot drift apart: the
 * model config, the {@link TrainerConfig}, the SHA-256 of the training text, and the learning rate PyTorch used at
 * every step (checked against {@link dev.jgrad.models.optim.WarmupCosineSchedule} by the tests). A jgrad seed and a
 * reference seed with the same number are different draws from the same distribution (each framework seeds its
 * own generators), which is why curves are compared over seeds and never one to one.
 *
 * @param name         the reference's name (its file is {@code NAME.json})
 * @param description  one line for people
 * @param framework    what produced it, e.g. "torch 1.13.1"
 * @param corpus       the training text: "moby-dick" ({@link Corpora#mobyDick()})
 * @param dataSha256   SHA-256 (hex) of the text's UTF-8 bytes
 * @param dataTokens   tokens in the text (one per byte: the recipe's tokenizer is bytes)
 * @param modelConfig  the model
 * @param recipe       the trainer configuration (its seed is replaced by each run's)
 * @param lrSchedule   the learning rate the reference used at each step
 * @param evalSteps    steps (1-based counts) after which the validation loss was measured
 * @param runs         one curve per reference seed
 */
public record ReferenceCurve(String name, String description, String framework, String corpus, String dataSha256,
                             long dataTokens, GptConfig modelConfig, TrainerConfig recipe, double[] lrSchedule,
                             long[] evalSteps, List<SeedCurve> runs) {

    /** GPT-small on Moby Dick, 300 steps, evaluated every 25 (what CI and the notebook run). */
    public static final String SHORT = "gpt-small-moby-dick-short";
    /** The same recipe for 2000 steps, evaluated every 100. */
    public static final String FULL = "gpt-small-moby-dick-full";

    private static final String RESOURCE_DIR = "/dev/jgrad/models/reference/";

    /**
     * One seed's run: the validation loss after each evaluation step and the mean training loss over the steps
     * since the previous evaluation (the steps' own losses, one batch each).
     */
    public record SeedCurve(long seed, double[] valLoss, double[] trainLoss) {
        public SeedCurve {
            if (valLoss.length != trainLoss.length) {
                throw new IllegalArgumentException("SeedCurve(seed " + seed + "): " + valLoss.length
                        + " validation losses but " + trainLoss.length + " training-loss means");
            }
            valLoss = valLoss.clone();
            trainLoss = trainLoss.clone();
        }

        @Override
        public double[] valLoss() {
            return valLoss.clone();
        }

        @Override
        public double[] trainLoss() {
            return trainLoss.clone();
        }
    }

    public ReferenceCurve {
        lrSchedule = lrSchedule.clone();
        evalSteps = evalSteps.clone();
        runs = List.copyOf(runs);
        String where = "ReferenceCurve " + name + ": ";
        if (lrSchedule.length != recipe.steps()) {
            throw new IllegalArgumentException(where + "lr_schedule has " + lrSchedule.length + " values for a recipe of "
                    + recipe.steps() + " steps");
        }
        if (recipe.evalEvery() <= 0) {
            throw new IllegalArgumentException(where + "the recipe never evaluates (eval_every 0)");
        }
        long expected = recipe.steps() / recipe.evalEvery();
        if (evalSteps.length != expected) {
            throw new IllegalArgumentException(where + "eval_steps has " + evalSteps.length + " entries; the recipe ("
                    + recipe.steps() + " steps, eval every " + recipe.evalEvery() + ") evaluates " + expected + " times");
        }
        for (int k = 0; k < evalSteps.length; k++) {
            if (evalSteps[k] != (k + 1) * recipe.evalEvery()) {
                throw new IllegalArgumentException(where + "eval_steps[" + k + "] is " + evalSteps[k] + ", expected "
                        + (k + 1) * recipe.evalEvery());
            }
        }
        if (runs.size() < 2) {
            throw new IllegalArgumentException(where + "needs at least 2 seeds to measure seed noise, has " + runs.size());
        }
        for (SeedCurve run : runs) {
            if (run.valLoss.length != evalSteps.length) {
                throw new IllegalArgumentException(where + "seed " + run.seed() + " has " + run.valLoss.length
                        + " validation losses for " + evalSteps.length + " evaluation steps");
            }
        }
    }

    @Override
    public double[] lrSchedule() {
        return lrSchedule.clone();
    }

    @Override
    public long[] evalSteps() {
        return evalSteps.clone();
    }

    // ------------------------------------------------------------------------------------------ loading

    /** The names of the references jgrad ships. */
    public static List<String> names() {
        return List.of(SHORT, FULL);
    }

    /** A shipped reference by name ({@link #SHORT}, {@link #FULL}). */
    public static ReferenceCurve load(String name) {
        if (!names().contains(name)) {
            throw new IllegalArgumentException("ReferenceCurve.load: unknown reference '" + name + "' (known: "
                    + String.join(", ", names()) + ")");
        }
        String resource = RESOURCE_DIR + name + ".json";
        try (InputStream in = ReferenceCurve.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("ReferenceCurve.load: " + resource + " is missing from the classpath");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), resource);
        } catch (IOException e) {
            throw new UncheckedIOException("ReferenceCurve.load: cannot read " + resource + ": " + e, e);
        }
    }

    /** Parses a reference file; {@code source} names it in error messages. */
    public static ReferenceCurve parse(String json, String source) {
        Map<String, Object> m;
        try {
            m = Json.parseObject(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("ReferenceCurve: " + source + " is not a JSON object: " + e.getMessage(), e);
        }
        try {
            Map<String, Object> data = object(m, "data");
            if (!"byte".equals(data.get("tokenizer"))) {
                throw new IllegalArgumentException("data.tokenizer must be \"byte\", got " + data.get("tokenizer"));
            }
            List<SeedCurve> runs = new ArrayList<>();
            for (Object run : list(m, "runs")) {
                if (!(run instanceof Map<?, ?> r)) {
                    throw new IllegalArgumentException("every entry of runs must be an object, got " + run);
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> seedRun = (Map<String, Object>) r;
                runs.add(new SeedCurve(integer(seedRun, "seed"), numbers(seedRun, "val_loss"),
                        numbers(seedRun, "train_loss")));
            }
            double[] steps = numbers(m, "eval_steps");
            long[] evalSteps = new long[steps.length];
            for (int i = 0; i < steps.length; i++) {
                evalSteps[i] = (long) steps[i];
            }
            return new ReferenceCurve(string(m, "name"), string(m, "description"), string(m, "framework"),
                    string(data, "corpus"), string(data, "sha256"), integer(data, "tokens"),
                    GptConfig.fromMap(object(m, "model_config")), TrainerConfig.fromMap(object(m, "trainer_config")),
                    numbers(m, "lr_schedule"), evalSteps, runs);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("ReferenceCurve: " + source + ": " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------------------ data

    /** The recipe's training and validation data from Moby Dick in jgrad's cache ({@code ./jgrad fetch moby-dick}). */
    public TokenDataset.Split split() {
        if (!"moby-dick".equals(corpus)) {
            throw new IllegalStateException("ReferenceCurve " + name + ": unknown corpus '" + corpus + "'");
        }
        return split(Corpora.mobyDick());
    }

    /**
     * {@code text} as the recipe's byte tokens, split into training and validation data as the reference split
     * it. An error unless the text is byte for byte what the reference trained on.
     */
    public TokenDataset.Split split(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        String sha256 = sha256(bytes);
        if (bytes.length != dataTokens || !sha256.equals(dataSha256)) {
            throw new IllegalArgumentException("ReferenceCurve " + name + ": the text is not what " + framework
                    + " trained on: " + bytes.length + " bytes with SHA-256 " + sha256 + ", the reference used "
                    + dataTokens + " bytes with SHA-256 " + dataSha256 + " (" + corpus + ")");
        }
        return TokenDataset.of(new ByteTokenizer().encode(text)).split(recipe.validationFraction());
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    // ------------------------------------------------------------------------------------------ training

    /**
     * Trains a fresh model with the recipe and {@code seed} (init and batches). The kernels use
     * {@link dev.jgrad.tensor.Parallel#threads()} threads; the result is the same for any number.
     */
    public SeedCurve train(long seed, TokenDataset.Split data) {
        return train(seed, data, recipe, null);
    }

    /**
     * Trains a fresh model with {@code recipe} (normally {@link #recipe()}; another one to see what a changed
     * recipe does to the comparison) and {@code seed}, reporting to {@code monitor} if it is not null. The
     * recipe must evaluate at the same steps as the reference.
     */
    public SeedCurve train(long seed, TokenDataset.Split data, TrainerConfig recipe, TrainingMonitor monitor) {
        if (recipe.steps() != this.recipe.steps() || recipe.evalEvery() != this.recipe.evalEvery()) {
            throw new IllegalArgumentException("ReferenceCurve " + name + ".train: the recipe must run "
                    + this.recipe.steps() + " steps and evaluate every " + this.recipe.evalEvery()
                    + " like the reference, got " + recipe.steps() + " and " + recipe.evalEvery());
        }
        Gpt model = new Gpt(modelConfig, new Rng(seed));
        Trainer trainer = new Trainer(TrainableModel.of(model), data, recipe.withSeed(seed));
        if (monitor != null) {
            trainer.monitor(monitor);
        }
        trainer.run();
        return curveOf(seed, trainer.history(), evalSteps);
    }

    /** A run's curve from its history: val_loss at each evaluation step, mean loss over each interval. */
    static SeedCurve curveOf(long seed, History history, long[] evalSteps) {
        long[] rows = history.steps();
        double[] loss = history.values(History.LOSS);
        double[] val = history.values(History.VAL_LOSS);
        double[] valLoss = new double[evalSteps.length];
        double[] trainLoss = new double[evalSteps.length];
        int row = 0;
        for (int k = 0; k < evalSteps.length; k++) {
            double sum = 0;
            int count = 0;
            // History rows are 0-based step indices: evaluation k ran after step evalSteps[k] - 1.
            while (row < rows.length && rows[row] < evalSteps[k]) {
                sum += loss[row];
                count++;
                row++;
            }
            // A diverged run keeps its NaN losses: the comparison then fails and shows where.
            if (count == 0 || rows[row - 1] != evalSteps[k] - 1) {
                throw new IllegalStateException("ReferenceCurve: the run has no evaluation after step " + evalSteps[k]);
            }
            trainLoss[k] = sum / count;
            valLoss[k] = val[row - 1];
        }
        return new SeedCurve(seed, valLoss, trainLoss);
    }

    /** jgrad's runs ({@code ours}, at least one) set against the reference's seeds. */
    public CurveComparison compare(List<SeedCurve> ours) {
        return CurveComparison.of(this, ours);
    }

    // ------------------------------------------------------------------------------------------ JSON helpers

    private static Object required(Map<String, Object> m, String key) {
        if (!m.containsKey(key)) {
            throw new IllegalArgumentException("missing key '" + key + "'");
        }
        return m.get(key);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Map<String, Object> m, String key) {
        if (required(m, key) instanceof Map<?, ?> o) {
            return (Map<String, Object>) o;
        }
        throw new IllegalArgumentException("'" + key + "' must be an object, got " + m.get(key));
    }

    private static List<?> list(Map<String, Object> m, String key) {
        if (required(m, key) instanceof List<?> l) {
            return l;
        }
        throw new IllegalArgumentException("'" + key + "' must be an array, got " + m.get(key));
    }

    private static String string(Map<String, Object> m, String key) {
        if (required(m, key) instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException("'" + key + "' must be a string, got " + m.get(key));
    }

    private static long integer(Map<String, Object> m, String key) {
        if (required(m, key) instanceof Long l) {
            return l;
        }
        throw new IllegalArgumentException("'" + key + "' must be an integer, got " + m.get(key));
    }

    private static double[] numbers(Map<String, Object> m, String key) {
        List<?> values = list(m, key);
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(values.get(i) instanceof Number n) || !Double.isFinite(n.doubleValue())) {
                throw new IllegalArgumentException("'" + key + "'[" + i + "] must be a finite number, got "
                        + values.get(i));
            }
            out[i] = n.doubleValue();
        }
        return out;
    }
}
