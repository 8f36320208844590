package dev.jgrad.models.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The recipe of a training run: what a {@link Trainer} needs besides the model and the data, saved with every
 * checkpoint so that {@link Trainer#resume} continues the same run. The optimizer is AdamW (default), Adam or SGD,
 * and the learning rate follows a linear warmup then a cosine decay to {@code minLr} at {@code lrDecaySteps}, then
 * stays at {@code minLr} (nanoGPT's recipe, where {@code lrDecaySteps} is its {@code lr_decay_iters}).
 *
 * <p>A fresh run decays over all its steps ({@link #withSteps} sets both). {@link #extendedTo} raises the step
 * count of a run already under way and keeps its schedule: the steps past the original end run at {@code minLr},
 * as in nanoGPT when {@code max_iters} is raised for a resumed run and {@code lr_decay_iters} is left alone.
 *
 * @param steps               optimizer steps of the whole run
 * @param lrDecaySteps        step at which the cosine reaches minLr (= steps for a fresh run)
 * @param batchSize           rows (sequences) per micro-batch
 * @param context             tokens per row
 * @param accumulation        micro-batches per optimizer step (gradient accumulation)
 * @param shards              pieces each micro-batch is split into for data-parallel workers; it must divide
 *                            batchSize. Results depend on this number and never on the worker count.
 * @param optimizer           which optimizer updates the weights
 * @param lr                  peak learning rate
 * @param minLr               learning rate at the end of the cosine
 * @param warmupSteps         linear warmup steps
 * @param beta1               Adam/AdamW beta1 (unused by SGD)
 * @param beta2               Adam/AdamW beta2 (unused by SGD)
 * @param momentum            SGD momentum (0 for none; must be 0 for Adam and AdamW)
 * @param nesterov            SGD Nesterov momentum (needs momentum &gt; 0)
 * @param weightDecay         weight decay of the matrices only (not biases or norm gains): decoupled for AdamW,
 *                            an L2 term added to the gradient for Adam and SGD, as in PyTorch
 * @param gradClip            global gradient-norm clip, 0 for none
 * @param evalEvery           steps between validation evaluations, 0 for none
 * @param evalBatches         validation batches per evaluation (the first ones, always the same)
 * @param patience            evaluations without a new best validation loss before stopping early, 0 for never
 * @param checkpointEvery     steps between checkpoints, 0 for only at the end of {@link Trainer#run()}
 * @param keepCheckpoints     how many checkpoints to keep
 * @param seed                seeds batch sampling and dropout
 * @param validationFraction  the tail of the data held out for validation
 */
public record TrainerConfig(long steps, long lrDecaySteps, int batchSize, int context, int accumulation, int shards,
                            OptimizerKind optimizer, double lr, double minLr, long warmupSteps, double beta1,
                            double beta2, double momentum, boolean nesterov, double weightDecay, double gradClip,
                            long evalEvery, int evalBatches, int patience, long checkpointEvery, int keepCheckpoints,
                            long seed, double validationFraction) {

    /** The optimizers a run can use; {@link #id()} is the name in JSON and on the command line. */
    public enum OptimizerKind {
        ADAMW, ADAM, SGD;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The kind named {@code id} ("adamw", "adam", "sgd"). */
        public static OptimizerKind of(String id) {
            for (OptimizerKind k : values()) {
                if (k.id().equals(id)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown optimizer '" + id + "' (known: adamw, adam, sgd)");
        }
    }

    public TrainerConfig {
        List<String> problems = new ArrayList<>();
        if (steps < 1) problems.add("steps must be >= 1, got " + steps);
        if (batchSize < 1) problems.add("batchSize must be >= 1, got " + batchSize);
        if (context < 1) problems.add("context must be >= 1, got " + context);
        if (accumulation < 1) problems.add("accumulation must be >= 1, got " + accumulation);
        if (shards < 1 || (batchSize >= 1 && batchSize % shards != 0)) {
            problems.add("shards must be >= 1 and divide batchSize (" + batchSize + "), got " + shards);
        }
        if (optimizer == null) problems.add("optimizer must not be null");
        if (!(lr >= 0) || Double.isInfinite(lr)) problems.add("lr must be finite and >= 0, got " + lr);
        if (!(minLr >= 0) || minLr > lr) problems.add("minLr must be in [0, lr], got " + minLr);
        if (warmupSteps < 0) problems.add("warmupSteps must be >= 0, got " + warmupSteps);
        if (lrDecaySteps < Math.max(1, warmupSteps)) {
            problems.add("lrDecaySteps must be >= 1 and >= warmupSteps (" + warmupSteps + "), got " + lrDecaySteps);
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            problems.add("betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
        if (!(momentum >= 0 && momentum <= 1)) problems.add("momentum must be in [0, 1], got " + momentum);
        if (optimizer != OptimizerKind.SGD && optimizer != null && (momentum != 0 || nesterov)) {
            problems.add("momentum and nesterov apply to sgd only, got momentum " + momentum + ", nesterov "
                    + nesterov + " with " + optimizer.id());
        }
        if (nesterov && momentum == 0) problems.add("nesterov needs momentum > 0");
        if (!(weightDecay >= 0)) problems.add("weightDecay must be >= 0, got " + weightDecay);
        if (!(gradClip >= 0) || Double.isInfinite(gradClip)) problems.add("gradClip must be finite and >= 0, got " + gradClip);
        if (evalEvery < 0) problems.add("evalEvery must be >= 0, got " + evalEvery);
        if (evalBatches < 1) problems.add("evalBatches must be >= 1, got " + evalBatches);
        if (patience < 0) problems.add("patience must be >= 0, got " + patience);
        if (patience > 0 && evalEvery == 0) problems.add("patience needs evalEvery > 0");
        if (checkpointEvery < 0) problems.add("checkpointEvery must be >= 0, got " + checkpointEvery);
        if (keepCheckpoints < 1) problems.add("keepCheckpoints must be >= 1, got " + keepCheckpoints);
        if (!(validationFraction > 0 && validationFraction < 1)) {
            problems.add("validationFraction must be in (0, 1), got " + validationFraction);
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("TrainerConfig: " + String.join("; ", problems));
        }
    }

    /**
     * Defaults for a small character-level run: 1000 steps, batch 16 x 128 split per sequence, AdamW with lr 1e-3,
     * 10% warmup, cosine down to 1e-4, betas (0.9, 0.95), weight decay 0.1, clip 1.0, evaluation every 100 steps
     * on 8 batches, a checkpoint every 500 steps (3 kept), seed 1337, 10% validation.
     */
    public static TrainerConfig defaults() {
        return new TrainerConfig(1000, 1000, 16, 128, 1, 16, OptimizerKind.ADAMW, 1e-3, 1e-4, 100, 0.9, 0.95, 0, false,
                0.1, 1.0, 100, 8, 0, 500, 3, 1337, 0.1);
    }

    /** A run of {@code steps} steps whose cosine ends there (warmup shortened to fit if needed). */
    public TrainerConfig withSteps(long steps) {
        return new TrainerConfig(steps, steps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                Math.min(warmupSteps, steps), beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery,
                evalBatches, patience, checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    /**
     * The same run continued (or stopped) at {@code steps} with its learning-rate schedule unchanged: steps past
     * {@code lrDecaySteps} run at {@code minLr}. This is what {@link Trainer#resume(java.nio.file.Path,
     * dev.jgrad.models.data.TokenDataset.Split, long)} applies.
     */
    public TrainerConfig extendedTo(long steps) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    /** A new batch shape; shards follow the rows (one per sequence). */
    public TrainerConfig withBatch(int batchSize, int context) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, batchSize, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    public TrainerConfig withShards(int shards) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    public TrainerConfig withAccumulation(int accumulation) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    /** Peak and final learning rate and warmup steps. */
    public TrainerConfig withLr(double lr, double minLr, long warmupSteps) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    /**
     * Another optimizer with the same learning rates, betas and weight decay; momentum and Nesterov are kept for
     * SGD and cleared otherwise (see {@link #withMomentum}).
     */
    public TrainerConfig withOptimizer(OptimizerKind optimizer) {
        boolean sgd = optimizer == OptimizerKind.SGD;
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, sgd ? momentum : 0, sgd && nesterov, weightDecay, gradClip, evalEvery,
                evalBatches, patience, checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    /** SGD momentum and Nesterov (an error unless the optimizer is SGD). */
    public TrainerConfig withMomentum(double momentum, boolean nesterov) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    public TrainerConfig withOptimizer(double beta1, double beta2, double weightDecay, double gradClip) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    public TrainerConfig withEval(long evalEvery, int evalBatches, int patience) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    public TrainerConfig withCheckpoints(long checkpointEvery, int keepCheckpoints) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    public TrainerConfig withSeed(long seed) {
        return new TrainerConfig(steps, lrDecaySteps, batchSize, context, accumulation, shards, optimizer, lr, minLr,
                warmupSteps, beta1, beta2, momentum, nesterov, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    // ------------------------------------------------------------------------------------------ JSON

    private static final Set<String> KEYS = Set.of("steps", "lr_decay_steps", "batch_size", "context",
            "accumulation", "shards", "optimizer", "lr", "min_lr", "warmup_steps", "beta1", "beta2", "momentum",
            "nesterov", "weight_decay", "grad_clip", "eval_every", "eval_batches", "patience", "checkpoint_every",
            "keep_checkpoints", "seed", "validation_fraction");

    /** Keys that trainer configurations saved before they existed lack; {@link #fromMap} supplies their defaults. */
    private static final Set<String> ADDED_LATER = Set.of("lr_decay_steps", "optimizer", "momentum", "nesterov");

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("steps", steps);
        m.put("lr_decay_steps", lrDecaySteps);
        m.put("batch_size", batchSize);
        m.put("context", context);
        m.put("accumulation", accumulation);
        m.put("shards", shards);
        m.put("optimizer", optimizer.id());
        m.put("lr", lr);
        m.put("min_lr", minLr);
        m.put("warmup_steps", warmupSteps);
        m.put("beta1", beta1);
        m.put("beta2", beta2);
        m.put("momentum", momentum);
        m.put("nesterov", nesterov);
        m.put("weight_decay", weightDecay);
        m.put("grad_clip", gradClip);
        m.put("eval_every", evalEvery);
        m.put("eval_batches", evalBatches);
        m.put("patience", patience);
        m.put("checkpoint_every", checkpointEvery);
        m.put("keep_checkpoints", keepCheckpoints);
        m.put("seed", seed);
        m.put("validation_fraction", validationFraction);
        return m;
    }

    /**
     * The inverse of {@link #toMap()}. Unknown keys are errors and every key is required, except those a
     * configuration saved by an earlier jgrad lacks: {@code optimizer} (then "adamw", the only one there was),
     * {@code momentum} (0), {@code nesterov} (false) and {@code lr_decay_steps} (then {@code steps}).
     */
    public static TrainerConfig fromMap(Map<String, ?> m) {
        var unknown = new TreeSet<>(m.keySet());
        unknown.removeAll(KEYS);
        var missing = new TreeSet<>(KEYS);
        missing.removeAll(m.keySet());
        missing.removeAll(ADDED_LATER);
        if (!unknown.isEmpty() || !missing.isEmpty()) {
            throw new IllegalArgumentException("TrainerConfig.fromMap: missing keys " + missing + ", unknown keys "
                    + unknown);
        }
        long steps = integer(m, "steps");
        OptimizerKind optimizer;
        try {
            optimizer = OptimizerKind.of(String.valueOf(m.containsKey("optimizer") ? m.get("optimizer") : "adamw"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("TrainerConfig.fromMap: " + e.getMessage(), e);
        }
        return new TrainerConfig(steps, m.containsKey("lr_decay_steps") ? integer(m, "lr_decay_steps") : steps,
                (int) integer(m, "batch_size"), (int) integer(m, "context"), (int) integer(m, "accumulation"),
                (int) integer(m, "shards"), optimizer, number(m, "lr"), number(m, "min_lr"),
                integer(m, "warmup_steps"), number(m, "beta1"), number(m, "beta2"),
                m.containsKey("momentum") ? number(m, "momentum") : 0, m.containsKey("nesterov") && flag(m, "nesterov"),
                number(m, "weight_decay"), number(m, "grad_clip"), integer(m, "eval_every"),
                (int) integer(m, "eval_batches"), (int) integer(m, "patience"), integer(m, "checkpoint_every"),
                (int) integer(m, "keep_checkpoints"), integer(m, "seed"), number(m, "validation_fraction"));
    }

    private static long integer(Map<String, ?> m, String key) {
        if (m.get(key) instanceof Long l) {
            return l;
        }
        if (m.get(key) instanceof Integer i) {
            return i;
        }
        throw new IllegalArgumentException("TrainerConfig.fromMap: '" + key + "' must be an integer, got " + m.get(key));
    }

    private static double number(Map<String, ?> m, String key) {
        if (m.get(key) instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException("TrainerConfig.fromMap: '" + key + "' must be a number, got " + m.get(key));
    }

    private static boolean flag(Map<String, ?> m, String key) {
        if (m.get(key) instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException("TrainerConfig.fromMap: '" + key + "' must be true or false, got "
                + m.get(key));
    }
}
