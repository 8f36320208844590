package dev.jgrad.models.train;

import dev.jgrad.autograd.Tape;
import dev.jgrad.autograd.Variable;
import dev.jgrad.models.data.Batch;
import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.io.Checkpoint.TrainerState;
import dev.jgrad.models.io.CheckpointManager;
import dev.jgrad.models.optim.Adam;
import dev.jgrad.models.optim.AdamW;
import dev.jgrad.models.optim.GradClip;
import dev.jgrad.models.optim.LrSchedule;
import dev.jgrad.models.optim.Optimizer;
import dev.jgrad.models.optim.OptimizerState;
import dev.jgrad.models.optim.Sgd;
import dev.jgrad.models.optim.WarmupCosineSchedule;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.viz.History;
import dev.jgrad.viz.TrainingMonitor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Trains a language model on a token dataset: AdamW, Adam or SGD ({@link TrainerConfig#optimizer()}) with
 * warmup and cosine decay, gradient clipping and accumulation, seeded batch sampling, validation with early stopping, metrics in a {@link History}, checkpoints
 * that resume bit for bit, and data-parallel workers whose number never changes a single bit of the result.
 *
 * <pre>{@code
 * var trainer = new Trainer(TrainableModel.of(gpt), TokenDataset.of(ids).split(0.1), TrainerConfig.defaults())
 *         .workers(2)
 *         .checkpointTo(Path.of("runs/moby"));
 * trainer.run();
 * trainer.history().plot("loss", "val_loss").show();
 * // later, or after a crash:
 * Trainer.resume(Path.of("runs/moby"), data).run();
 * // or run on past the planned end, at the schedule's final learning rate:
 * Trainer.resume(Path.of("runs/moby"), data, 2000).run();
 * }</pre>
 *
 * <p>Everything random is a function of the seed and the step: the batch sampler is one {@link Rng} saved in the
 * checkpoint, and dropout masks are drawn from a generator re-seeded for every (step, shard). A resumed run
 * therefore sees the same batches, masks, learning rates, weights and optimizer moments as an uninterrupted one.
 *
 * <p>Metrics (row = 0-based index of the step): {@code loss}, {@code lr}, {@code grad_norm} (global, before
 * clipping), {@code tokens_per_s}, {@code grad_norm/LAYER} for each layer (parameters grouped by their module,
 * e.g. {@code grad_norm/transformer.h.0.attn.c_attn}), and at evaluations {@code val_loss} and {@code val_ppl}.
 */
public final class Trainer {
    /** Keys of the trainer's entries in a checkpoint's trainer.json "extra" object. */
    static final String CONFIG_KEY = "trainer_config";
    static final String OPTIMIZER_KEY = "optimizer";
    static final String OPTIMIZER_SCALARS_KEY = "optimizer_scalars";
    static final String BEST_VAL_KEY = "best_val_loss";
    static final String STALE_EVALS_KEY = "evals_without_improvement";
    static final String VAL_HISTORY_KEY = "val_history";
    static final String STOPPED_KEY = "stopped_early";

    static final long SAMPLER_STREAM = 1;
    private static final long DROPOUT_STREAM = 2;

    private final TrainableModel model;
    private final TrainerConfig config;
    private final TokenDataset train;
    private final TokenDataset validation;
    private final Optimizer optimizer;
    private final LrSchedule schedule;
    private final Rng sampler;
    private final Map<String, Variable> parameters;
    private final Map<String, List<String>> layers;
    /** Each layer's history metric, {@code grad_norm/LAYER}, built once instead of on every step. */
    private final Map<String, String> layerMetrics = new LinkedHashMap<>();
    private final History history = new History("training");
    private final List<Double> lossHistory = new ArrayList<>();
    private final List<List<Double>> valHistory = new ArrayList<>();
    private DataParallel parallel;
    private TrainingMonitor monitor;
    private CheckpointManager checkpoints;
    private Map<String, byte[]> tokenizerFiles = Map.of();
    private long step;
    private double bestValLoss = Double.POSITIVE_INFINITY;
    private int evalsWithoutImprovement;
    private boolean stoppedEarly;
    private long lastSavedStep = -1;

    /** One optimizer step's numbers. */
    public record StepResult(long step, double loss, double lr, double gradNorm, double tokensPerSecond) {}

    /** A validation pass: mean loss per token over {@code tokens} tokens and its perplexity exp(loss). */
    public record Evaluation(double loss, double perplexity, long tokens) {}

    /** How a {@link #run} ended. */
    public record Result(long steps, double lastLoss, double bestValLoss, boolean stoppedEarly) {}

    public Trainer(TrainableModel model, TokenDataset.Split data, TrainerConfig config) {
        this.model = model;
        this.config = config;
        this.train = data.train();
        this.validation = data.validation();
        checkData("training", train);
        checkData("validation", validation);
        this.parameters = model.module().distinctNamedParameters();
        this.optimizer = newOptimizer(config, parameters);
        this.schedule = new WarmupCosineSchedule(config.lr(), config.warmupSteps(), config.lrDecaySteps(),
                config.minLr());
        this.sampler = new Rng(DataParallel.hash(config.seed(), SAMPLER_STREAM));
        this.layers = layersOf(parameters.keySet());
        layers.keySet().forEach(layer -> layerMetrics.put(layer, "grad_norm/" + layer));
        this.parallel = new DataParallel(model, 1);
        model.module().train(true);
    }

    /** The optimizer the config names; weight decay applies to matrices only, as nanoGPT configures it. */
    private static Optimizer newOptimizer(TrainerConfig config, Map<String, Variable> parameters) {
        return switch (config.optimizer()) {
            case ADAMW -> new AdamW(parameters, AdamW.settings(config.lr()).betas(config.beta1(), config.beta2())
                    .weightDecay(config.weightDecay()));
            case ADAM -> new Adam(parameters, Adam.settings(config.lr()).betas(config.beta1(), config.beta2())
                    .weightDecay(config.weightDecay()));
            case SGD -> new Sgd(parameters, Sgd.settings(config.lr()).momentum(config.momentum())
                    .nesterov(config.nesterov()).weightDecay(config.weightDecay()));
        };
    }

    private void checkData(String which, TokenDataset data) {
        if (data.size() < config.context() + 1L) {
            throw new IllegalArgumentException("Trainer: the " + which + " data has " + data.size()
                    + " tokens but a window of context " + config.context() + " needs " + (config.context() + 1)
                    + "; use more text or a shorter context");
        }
    }

    /** Parameters grouped by the module that owns them (the name without its last part), in parameter order. */
    private static Map<String, List<String>> layersOf(Iterable<String> names) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String name : names) {
            int dot = name.lastIndexOf('.');
            out.computeIfAbsent(dot < 0 ? name : name.substring(0, dot), k -> new ArrayList<>()).add(name);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ settings

    /** Spreads each step's shards over {@code n} worker threads; changes speed only, never the results. */
    public Trainer workers(int n) {
        if (n != parallel.workers()) {
            parallel = new DataParallel(model, n);
        }
        return this;
    }

    /** Also logs the headline metrics (not the per-layer norms) to a live view. */
    public Trainer monitor(TrainingMonitor monitor) {
        this.monitor = monitor;
        return this;
    }

    /** Saves checkpoints as {@code root/step-NNNNNN/}, every {@code checkpointEvery} steps and at the end of a run. */
    public Trainer checkpointTo(Path root) {
        this.checkpoints = new CheckpointManager(root, config.keepCheckpoints());
        return this;
    }

    /** Tokenizer files saved with every checkpoint (file name to content). */
    public Trainer tokenizerFiles(Map<String, byte[]> files) {
        this.tokenizerFiles = new TreeMap<>(files);
        return this;
    }

    // ------------------------------------------------------------------------------------------ training

    /** Trains until {@code config.steps()} steps are done or early stopping triggers; saves a final checkpoint. */
    public Result run() {
        return run(config.steps() - step);
    }

    /** At most {@code maxSteps} more steps (never past {@code config.steps()}); saves a checkpoint at the end. */
    public Result run(long maxSteps) {
        long end = Math.min(config.steps(), step + Math.max(0, maxSteps));
        while (step < end && !stoppedEarly) {
            step();
        }
        if (checkpoints != null && lastSavedStep != step) {
            saveCheckpoint();
        }
        double last = lossHistory.isEmpty() ? Double.NaN : lossHistory.getLast();
        return new Result(step, last, bestValLoss, stoppedEarly);
    }

    /** One optimizer step (with evaluation and checkpoint when due). */
    public StepResult step() {
        long started = System.nanoTime();
        schedule.applyTo(optimizer, step);
        double lr = optimizer.learningRate();
        List<Batch> shards = new ArrayList<>(config.accumulation() * config.shards());
        for (int a = 0; a < config.accumulation(); a++) {
            shards.addAll(split(train.sample(sampler, config.batchSize(), config.context()), config.shards()));
        }
        Map<String, Tensor> values = new LinkedHashMap<>();
        parameters.forEach((name, p) -> values.put(name, p.value()));
        DataParallel.Gradients grads = parallel.run(shards, values,
                DataParallel.hash(DataParallel.hash(config.seed(), DROPOUT_STREAM), step));
        optimizer.zeroGrad();
        parameters.forEach((name, p) -> p.setGrad(grads.sums().get(name)));

        Map<String, Double> layerNorms = layerNorms();
        double gradNorm = config.gradClip() > 0
                ? GradClip.clipGlobalNorm(parameters.values(), config.gradClip())
                : GradClip.globalNorm(parameters.values());
        optimizer.step();
        optimizer.zeroGrad();
        double loss = grads.loss();
        lossHistory.add(loss);
        long index = step++;
        long tokens = (long) config.accumulation() * config.batchSize() * config.context();
        double tokensPerSecond = tokens / Math.max(1e-9, (System.nanoTime() - started) / 1e9);

        Map<String, Double> headline = new LinkedHashMap<>();
        headline.put(History.LOSS, loss);
        headline.put(History.LR, lr);
        headline.put(History.GRAD_NORM, gradNorm);
        headline.put(History.TOKENS_PER_S, tokensPerSecond);
        history.log(index, headline);
        layerNorms.forEach((layer, norm) -> history.log(index, layerMetrics.get(layer), norm));
        if (config.evalEvery() > 0 && step % config.evalEvery() == 0) {
            Evaluation eval = evaluate();
            recordEvaluation(index, eval);
            headline.put(History.VAL_LOSS, eval.loss());
            headline.put("val_ppl", eval.perplexity());
        }
        if (monitor != null) {
            monitor.log(index, headline);
        }
        if (checkpoints != null && config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0) {
            saveCheckpoint();
        }
        return new StepResult(step, loss, lr, gradNorm, tokensPerSecond);
    }

    private static List<Batch> split(Batch batch, int pieces) {
        int rows = batch.rows() / pieces;
        int n = rows * batch.context();
        List<Batch> out = new ArrayList<>(pieces);
        for (int i = 0; i < pieces; i++) {
            out.add(new Batch(Arrays.copyOfRange(batch.inputs(), i * n, (i + 1) * n),
                    Arrays.copyOfRange(batch.targets(), i * n, (i + 1) * n), rows, batch.context()));
        }
        return out;
    }

    private Map<String, Double> layerNorms() {
        Map<String, Double> perParameter = GradClip.norms(parameters);
        Map<String, Double> out = new LinkedHashMap<>();
        layers.forEach((layer, names) -> {
            double sumOfSquares = 0;
            for (String name : names) {
                double n = perParameter.get(name);
                sumOfSquares += Double.isNaN(n) ? 0 : n * n;
            }
            out.put(layer, Math.sqrt(sumOfSquares));
        });
        return out;
    }

    private void recordEvaluation(long index, Evaluation eval) {
        history.log(index, History.VAL_LOSS, eval.loss());
        history.log(index, "val_ppl", eval.perplexity());
        valHistory.add(List.of((double) step, eval.loss()));
        if (eval.loss() < bestValLoss) {
            bestValLoss = eval.loss();
            evalsWithoutImprovement = 0;
        } else {
            evalsWithoutImprovement++;
            if (config.patience() > 0 && evalsWithoutImprovement >= config.patience()) {
                stoppedEarly = true;
            }
        }
    }

    /**
     * Mean loss per token over the first {@code config.evalBatches()} validation batches (consecutive
     * non-overlapping windows, so every evaluation scores the same text), in eval mode without a tape.
     */
    public Evaluation evaluate() {
        return evaluate(model, validation, config.batchSize(), config.context(), config.evalBatches());
    }

    /** Mean loss per token of {@code model} over the first {@code maxBatches} batches of {@code data}'s windows. */
    public static Evaluation evaluate(TrainableModel model, TokenDataset data, int batchSize, int context,
                                      int maxBatches) {
        boolean wasTraining = model.module().isTraining();
        model.module().eval();
        double weightedLoss = 0;
        long tokens = 0;
        try (var noGrad = Tape.noGrad()) {
            int batches = 0;
            for (Batch b : data.windows(batchSize, context)) {
                if (batches++ == maxBatches) {
                    break;
                }
                long n = (long) b.rows() * b.context();
                weightedLoss += model.loss(b).item() * n;
                tokens += n;
            }
        } finally {
            model.module().train(wasTraining);
        }
        double loss = weightedLoss / tokens;
        return new Evaluation(loss, Math.exp(loss), tokens);
    }

    // ------------------------------------------------------------------------------------------ checkpoints

    /** Saves model, optimizer, trainer state and tokenizer files as the checkpoint of the current step. */
    public Path saveCheckpoint() {
        if (checkpoints == null) {
            throw new IllegalStateException("Trainer.saveCheckpoint: no checkpoint directory; call checkpointTo(root)");
        }
        Path dir = checkpoints.save(step, checkpoint());
        lastSavedStep = step;
        return dir;
    }

    /** The current state as a {@link Checkpoint} (tensors copied where they keep changing). */
    public Checkpoint checkpoint() {
        OptimizerState opt = optimizer.stateDict();
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put(CONFIG_KEY, config.toMap());
        extra.put(OPTIMIZER_KEY, config.optimizer().id());
        extra.put(OPTIMIZER_SCALARS_KEY, new LinkedHashMap<>(opt.scalars()));
        extra.put(BEST_VAL_KEY, Double.isFinite(bestValLoss) ? bestValLoss : null);
        extra.put(STALE_EVALS_KEY, (long) evalsWithoutImprovement);
        extra.put(VAL_HISTORY_KEY, valHistory);
        extra.put(STOPPED_KEY, stoppedEarly);
        var builder = Checkpoint.builder()
                .model(model.module())
                .config(model.config())
                .optimizer(opt.tensors())
                .trainer(new TrainerState(step, sampler.snapshot(), lossHistory, extra));
        tokenizerFiles.forEach(builder::tokenizerFile);
        return builder.build();
    }

    /**
     * Continues the run saved in {@code dir}: a checkpoint directory, or a run's root (its latest checkpoint is
     * used, and new checkpoints go there). The model is rebuilt from config.json; it must be a {@link Gpt}.
     */
    public static Trainer resume(Path dir, TokenDataset.Split data) {
        Path checkpointDir = checkpointDirectory(dir);
        Checkpoint c = Checkpoint.load(checkpointDir);
        return resume(dir, c, data, TrainableModel.of(gptFrom(c)));
    }

    /**
     * {@link #resume(Path, TokenDataset.Split)} with the run's length changed to {@code totalSteps}, which may
     * be more than the run was started for (but not fewer than the checkpoint has done). The learning-rate
     * schedule is kept ({@link TrainerConfig#extendedTo}): steps past the original cosine run at {@code minLr},
     * so resuming a finished N-step run to M steps gives exactly a fresh M-step run whose cosine ends at N.
     */
    public static Trainer resume(Path dir, TokenDataset.Split data, long totalSteps) {
        Path checkpointDir = checkpointDirectory(dir);
        Checkpoint c = Checkpoint.load(checkpointDir);
        return resume(dir, c, data, TrainableModel.of(gptFrom(c)), totalSteps);
    }

    /** {@link #resume(Path, TokenDataset.Split)} for any model: {@code model} receives the saved weights. */
    public static Trainer resume(Path dir, TokenDataset.Split data, TrainableModel model) {
        return resume(dir, Checkpoint.load(checkpointDirectory(dir)), data, model);
    }

    private static Trainer resume(Path dir, Checkpoint c, TokenDataset.Split data, TrainableModel model) {
        return resume(dir, c, data, model, savedConfig(dir, c).steps());
    }

    /** The trainer configuration a checkpoint was written with. */
    @SuppressWarnings("unchecked")
    public static TrainerConfig savedConfig(Path dir, Checkpoint c) {
        if (!(c.trainer().extra().get(CONFIG_KEY) instanceof Map<?, ?> configMap)) {
            throw new IllegalArgumentException("Trainer.resume: " + dir + " has no trainer configuration ('"
                    + CONFIG_KEY + "' in trainer.json): it was not written by a Trainer");
        }
        return TrainerConfig.fromMap((Map<String, ?>) configMap);
    }

    @SuppressWarnings("unchecked")
    private static Trainer resume(Path dir, Checkpoint c, TokenDataset.Split data, TrainableModel model,
                                  long totalSteps) {
        TrainerState state = c.trainer();
        Map<String, Object> extra = state.extra();
        TrainerConfig saved = savedConfig(dir, c);
        if (totalSteps < state.step()) {
            throw new IllegalArgumentException("Trainer.resume: " + dir + " is at step " + state.step()
                    + "; it cannot be resumed to a total of " + totalSteps + " steps");
        }
        Object savedKind = extra.getOrDefault(OPTIMIZER_KEY, TrainerConfig.OptimizerKind.ADAMW.id());
        if (!saved.optimizer().id().equals(savedKind)) {
            throw new IllegalArgumentException("Trainer.resume: " + dir + " holds " + savedKind + " optimizer state "
                    + "but its trainer configuration says " + saved.optimizer().id());
        }
        c.loadInto(model.module());
        Trainer t = new Trainer(model, data, saved.extendedTo(totalSteps));
        try {
            t.optimizer.loadStateDict(new OptimizerState(c.optimizer(),
                    (Map<String, Number>) extra.get(OPTIMIZER_SCALARS_KEY)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Trainer.resume: the optimizer state in " + dir + " does not fit a "
                    + saved.optimizer().id() + " optimizer over this model: " + e.getMessage(), e);
        }
        if (state.rng() == null) {
            throw new IllegalArgumentException("Trainer.resume: " + dir + " has no sampler state in trainer.json");
        }
        t.sampler.restore(state.rng());
        t.step = state.step();
        t.lastSavedStep = state.step();
        t.lossHistory.addAll(state.lossHistory());
        Map<Long, Double> valByIndex = new TreeMap<>();
        for (Object o : (List<Object>) extra.getOrDefault(VAL_HISTORY_KEY, List.of())) {
            List<Number> entry = (List<Number>) o;
            t.valHistory.add(List.of(entry.get(0).doubleValue(), entry.get(1).doubleValue()));
            valByIndex.put(entry.get(0).longValue() - 1, entry.get(1).doubleValue());
        }
        for (int i = 0; i < state.lossHistory().size(); i++) {
            t.history.log(i, History.LOSS, state.lossHistory().get(i));
            Double val = valByIndex.get((long) i);
            if (val != null) {
                t.history.log(i, History.VAL_LOSS, val);
                t.history.log(i, "val_ppl", Math.exp(val));
            }
        }
        t.bestValLoss = extra.get(BEST_VAL_KEY) instanceof Number n ? n.doubleValue() : Double.POSITIVE_INFINITY;
        t.evalsWithoutImprovement = ((Number) extra.getOrDefault(STALE_EVALS_KEY, 0L)).intValue();
        t.stoppedEarly = Boolean.TRUE.equals(extra.get(STOPPED_KEY));
        t.tokenizerFiles = new TreeMap<>(c.tokenizer());
        if (!Files.isRegularFile(dir.resolve(Checkpoint.MODEL_FILE))) {
            t.checkpointTo(dir);
        }
        return t;
    }

    /** {@code dir} itself if it holds model.safetensors, else the latest {@code step-*} checkpoint under it. */
    public static Path checkpointDirectory(Path dir) {
        if (Files.isRegularFile(dir.resolve(Checkpoint.MODEL_FILE))) {
            return dir;
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("Trainer: checkpoint directory " + dir + " does not exist");
        }
        return new CheckpointManager(dir, 1).latest().orElseThrow(() -> new IllegalArgumentException(
                "Trainer: " + dir + " holds neither " + Checkpoint.MODEL_FILE + " nor step-* checkpoints"));
    }

    /** The GPT described by a checkpoint's config.json, with its weights loaded. */
    public static Gpt gptFrom(Checkpoint c) {
        Map<String, Object> config = new LinkedHashMap<>(c.config());
        Object dtype = config.remove("dtype");
        Gpt gpt = new Gpt(GptConfig.fromMap(config), dtype == null ? DType.F32 : DType.valueOf(dtype.toString()),
                new Rng(0));
        c.loadInto(gpt);
        return gpt;
    }

    // ------------------------------------------------------------------------------------------ accessors

    public long stepCount() {
        return step;
    }

    /** The training loss of every step so far (a resumed run includes the steps before the checkpoint). */
    public List<Double> losses() {
        return List.copyOf(lossHistory);
    }

    public History history() {
        return history;
    }

    public TrainerConfig config() {
        return config;
    }

    public TrainableModel model() {
        return model;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    public double bestValLoss() {
        return bestValLoss;
    }

    public boolean stoppedEarly() {
        return stoppedEarly;
    }

    public int workerCount() {
        return parallel.workers();
    }
}
