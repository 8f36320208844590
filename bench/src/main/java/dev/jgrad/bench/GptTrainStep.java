package dev.jgrad.bench;

import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.optim.AdamW;
import dev.jgrad.models.optim.Optimizer;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Workspace;

/**
 * One GPT training step as the benchmarks time it: forward, mean cross-entropy, backward, AdamW update
 * (lr 3e-4, weight decay 0.1 on every parameter, as {@code torch.optim.AdamW(model.parameters(), ...)} does),
 * and clearing the gradients. The batch is a fixed set of random bytes from a seeded generator; the targets are
 * the inputs shifted by one, so the loss falls as the model memorises them (which does not change the work).
 */
public final class GptTrainStep {
    /** The two benchmark configurations: the {@link GptConfig#preset} name and the batch size. */
    public enum Preset {
        SMALL("small", 8), LARGE("large", 4);

        final String name;
        final int batch;

        Preset(String name, int batch) {
            this.name = name;
            this.batch = batch;
        }

        GptConfig config() {
            return GptConfig.preset(name);
        }

        /** Tokens per step: batch × context. */
        public int tokensPerStep() {
            return batch * config().contextLength();
        }
    }

    private final Gpt model;
    private final AdamW optimizer;
    private final int batch;
    private final int time;
    private final int[] ids;
    private final int[] targets;
    private double lastLoss;

    public GptTrainStep(Preset preset, long seed) {
        GptConfig config = preset.config();
        Rng rng = new Rng(seed);
        model = new Gpt(config, rng);
        optimizer = new AdamW(model.namedParameters(),
                AdamW.settings(3e-4).weightDecay(0.1).decayFilter(Optimizer.DECAY_ALL));
        batch = preset.batch;
        time = config.contextLength();
        int[] stream = new int[batch * time + 1];
        for (int i = 0; i < stream.length; i++) {
            stream[i] = (int) (rng.nextLong() >>> 56);   // a random byte
        }
        ids = new int[batch * time];
        targets = new int[batch * time];
        System.arraycopy(stream, 0, ids, 0, ids.length);
        System.arraycopy(stream, 1, targets, 0, targets.length);
    }

    /**
     * Runs one step and returns the loss before the update. The step runs in a recycling {@link Workspace} scope,
     * so from the second step on its tensors, tape nodes and variables are the objects of the step before, with
     * their storage; nothing of the step is kept past it (the loss is read inside).
     */
    public double step() {
        try (var scope = Workspace.openRecycling()) {
            var loss = model.loss(ids, targets, batch, time);
            loss.backward();
            optimizer.step();
            optimizer.zeroGrad();
            lastLoss = loss.item();
        }
        return lastLoss;
    }

    public double lastLoss() {
        return lastLoss;
    }
}
