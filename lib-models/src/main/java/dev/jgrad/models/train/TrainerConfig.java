package dev.jgrad.models.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The recipe of a training run: what a {@link Trainer} needs besides the model and the data, saved with every
 * checkpoint so that {@link Trainer#resume} continues the same run. The optimizer is AdamW and the learning rate
 * follows a linear warmup then a cosine decay to {@code minLr} at {@code steps} (nanoGPT's recipe).
 *
 * @param steps               optimizer steps of the whole run (also where the cosine reaches minLr)
 * @param batchSize           rows (sequences) per micro-batch
 * @param context             tokens per row
 * @param accumulation        micro-batches per optimizer step (gradient accumulation)
 * @param shards              pieces each micro-batch is split into for data-parallel workers; it must divide
 *                            batchSize. Results depend on this number and never on the worker count.
 * @param lr                  peak learning rate
 * @param minLr               learning rate at the end of the cosine
 * @param warmupSteps         linear warmup steps
 * @param beta1               AdamW beta1
 * @param beta2               AdamW beta2
 * @param weightDecay         AdamW decoupled weight decay (matrices only)
 * @param gradClip            global gradient-norm clip, 0 for none
 * @param evalEvery           steps between validation evaluations, 0 for none
 * @param evalBatches         validation batches per evaluation (the first ones, always the same)
 * @param patience            evaluations without a new best validation loss before stopping early, 0 for never
 * @param checkpointEvery     steps between checkpoints, 0 for only at the end of {@link Trainer#run()}
 * @param keepCheckpoints     how many checkpoints to keep
 * @param seed                seeds batch sampling and dropout
 * @param validationFraction  the tail of the data held out for validation
 */
public record TrainerConfig(long steps, int batchSize, int context, int accumulation, int shards, double lr,
                            double minLr, long warmupSteps, double beta1, double beta2, double weightDecay,
                            double gradClip, long evalEvery, int evalBatches, int patience, long checkpointEvery,
                            int keepCheckpoints, long seed, double validationFraction) {

    public TrainerConfig {
        List<String> problems = new ArrayList<>();
        if (steps < 1) problems.add("steps must be >= 1, got " + steps);
        if (batchSize < 1) problems.add("batchSize must be >= 1, got " + batchSize);
        if (context < 1) problems.add("context must be >= 1, got " + context);
        if (accumulation < 1) problems.add("accumulation must be >= 1, got " + accumulation);
        if (shards < 1 || (batchSize >= 1 && batchSize % shards != 0)) {
            problems.add("shards must be >= 1 and divide batchSize (" + batchSize + "), got " + shards);
        }
        if (!(lr >= 0) || Double.isInfinite(lr)) problems.add("lr must be finite and >= 0, got " + lr);
        if (!(minLr >= 0) || minLr > lr) problems.add("minLr must be in [0, lr], got " + minLr);
        if (warmupSteps < 0 || warmupSteps > steps) problems.add("warmupSteps must be in [0, steps], got " + warmupSteps);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            problems.add("betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
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
     * Defaults for a small character-level run: 1000 steps, batch 16 x 128 split per sequence, lr 1e-3 with 10%
     * warmup down to 1e-4, betas (0.9, 0.95), weight decay 0.1, clip 1.0, evaluation every 100 steps on 8 batches,
     * a checkpoint every 500 steps (3 kept), seed 1337, 10% validation.
     */
    public static TrainerConfig defaults() {
        return new TrainerConfig(1000, 16, 128, 1, 16, 1e-3, 1e-4, 100, 0.9, 0.95, 0.1, 1.0, 100, 8, 0, 500, 3, 1337,
                0.1);
    }

    public TrainerConfig withSteps(long steps) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr,
                Math.min(warmupSteps, steps), beta1, beta2, weightDecay, gradClip, evalEvery, evalBatches, patience,
                checkpointEvery, keepCheckpoints, seed, validationFraction);
    }

    /** A new batch shape; shards follow the rows (one per sequence). */
    public TrainerConfig withBatch(int batchSize, int context) {
        return new TrainerConfig(steps, batchSize, context, accumulation, batchSize, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    public TrainerConfig withShards(int shards) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    public TrainerConfig withAccumulation(int accumulation) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    /** Peak and final learning rate and warmup steps. */
    public TrainerConfig withLr(double lr, double minLr, long warmupSteps) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    public TrainerConfig withOptimizer(double beta1, double beta2, double weightDecay, double gradClip) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    public TrainerConfig withEval(long evalEvery, int evalBatches, int patience) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    public TrainerConfig withCheckpoints(long checkpointEvery, int keepCheckpoints) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    public TrainerConfig withSeed(long seed) {
        return new TrainerConfig(steps, batchSize, context, accumulation, shards, lr, minLr, warmupSteps, beta1,
                beta2, weightDecay, gradClip, evalEvery, evalBatches, patience, checkpointEvery, keepCheckpoints, seed,
                validationFraction);
    }

    // ------------------------------------------------------------------------------------------ JSON

    private static final Set<String> KEYS = Set.of("steps", "batch_size", "context", "accumulation", "shards", "lr",
            "min_lr", "warmup_steps", "beta1", "beta2", "weight_decay", "grad_clip", "eval_every", "eval_batches",
            "patience", "checkpoint_every", "keep_checkpoints", "seed", "validation_fraction");

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("steps", steps);
        m.put("batch_size", batchSize);
        m.put("context", context);
        m.put("accumulation", accumulation);
        m.put("shards", shards);
        m.put("lr", lr);
        m.put("min_lr", minLr);
        m.put("warmup_steps", warmupSteps);
        m.put("beta1", beta1);
        m.put("beta2", beta2);
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

    /** The inverse of {@link #toMap()}; every key is required and unknown keys are errors. */
    public static TrainerConfig fromMap(Map<String, ?> m) {
        var unknown = new TreeSet<>(m.keySet());
        unknown.removeAll(KEYS);
        var missing = new TreeSet<>(KEYS);
        missing.removeAll(m.keySet());
        if (!unknown.isEmpty() || !missing.isEmpty()) {
            throw new IllegalArgumentException("TrainerConfig.fromMap: missing keys " + missing + ", unknown keys "
                    + unknown);
        }
        return new TrainerConfig(integer(m, "steps"), (int) integer(m, "batch_size"), (int) integer(m, "context"),
                (int) integer(m, "accumulation"), (int) integer(m, "shards"), number(m, "lr"), number(m, "min_lr"),
                integer(m, "warmup_steps"), number(m, "beta1"), number(m, "beta2"), number(m, "weight_decay"),
                number(m, "grad_clip"), integer(m, "eval_every"), (int) integer(m, "eval_batches"),
                (int) integer(m, "patience"), integer(m, "checkpoint_every"), (int) integer(m, "keep_checkpoints"),
                integer(m, "seed"), number(m, "validation_fraction"));
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
}
