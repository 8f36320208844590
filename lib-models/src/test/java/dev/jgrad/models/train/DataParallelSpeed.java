package dev.jgrad.models.train;

import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import java.util.Locale;

/**
 * Data-parallel speed on GPT-small (not a test: run by hand, prints tokens/s). Batch 16 x 128 split per sequence;
 * compares one worker with kernels on 1 and on all threads against one worker per thread.
 */
public final class DataParallelSpeed {
    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        int[] ids = new int[200_000];
        Rng rng = new Rng(1);
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 32 + rng.nextInt(64);
        }
        var data = TokenDataset.of(ids).split(0.1);
        int cores = Runtime.getRuntime().availableProcessors();
        int[][] setups = {{1, 1}, {1, cores}, {cores, cores}};
        for (int[] s : setups) {
            Parallel.setThreads(s[1]);
            var config = TrainerConfig.defaults().withSteps(steps + 2).withEval(0, 1, 0).withSeed(3);
            Trainer t = new Trainer(TrainableModel.of(new Gpt(GptConfig.small(), new Rng(1))), data, config)
                    .workers(s[0]);
            t.run(2); // warm-up
            long start = System.nanoTime();
            t.run(steps);
            double seconds = (System.nanoTime() - start) / 1e9;
            double tokens = (double) steps * config.batchSize() * config.context();
            System.out.printf(Locale.ROOT, "workers %d, kernel threads %d: %.2f s/step, %.0f tokens/s, last loss %.6f%n",
                    s[0], s[1], seconds / steps, tokens / seconds, t.losses().getLast());
        }
    }
}
