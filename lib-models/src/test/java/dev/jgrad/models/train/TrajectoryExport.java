package dev.jgrad.models.train;

import dev.jgrad.models.data.Batch;
import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.AtomicFiles;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * The jgrad side of the training-trajectory parity check (not a test: run by hand, see
 * {@code lib-models/src/test/python/train_trajectory_reference.py}). For each variant it saves the initial weights
 * of a seeded tiny model and every batch the {@link Trainer} will draw in {@link #STEPS} steps, so PyTorch can
 * train the same model on the same batches with the same recipe; {@code TrainingTrajectoryParityTest} then holds
 * jgrad's per-step losses and gradient norms to PyTorch's. The curves of {@link ReferenceCurve} compare
 * distributions over seeds; this compares one run step by step, where any difference of recipe shows from the
 * step it starts.
 *
 * <pre>
 * mvn -o -q test-compile -pl lib-models -am
 * java --add-modules jdk.incubator.vector -cp lib-tensor/target/classes:lib-autograd/target/classes:\
 *     viz/target/classes:lib-models/target/classes:lib-models/target/test-classes \
 *     dev.jgrad.models.train.TrajectoryExport /tmp/trajectory
 * /usr/bin/python3 lib-models/src/test/python/train_trajectory_reference.py /tmp/trajectory
 * </pre>
 */
public final class TrajectoryExport {
    static final int STEPS = 150;
    static final long SEED = 11;

    private TrajectoryExport() {}

    /** GPT-2 and LLaMA layouts, small enough that a run of {@link #STEPS} steps takes a second. */
    static Map<String, GptConfig> variants() {
        Map<String, GptConfig> v = new LinkedHashMap<>();
        v.put("gpt2", GptConfig.gpt2(256, 32, 2, 32, 4));
        v.put("llama", GptConfig.llama(256, 32, 2, 32, 4, 2, 88));
        return v;
    }

    /**
     * The recipe of the ReferenceCurve runs at this size: AdamW (betas 0.9, 0.95, weight decay 0.1 on matrices),
     * a warmup of 15 steps to 1e-3 and a cosine to 1e-4, clipping at 1; batches of 4 x 32 in one shard.
     */
    static TrainerConfig recipe() {
        return TrainerConfig.defaults().withSteps(STEPS).withBatch(4, 32).withShards(1).withLr(1e-3, 1e-4, 15)
                .withEval(0, 1, 0).withCheckpoints(0, 1).withSeed(SEED);
    }

    /** A text the test makes itself: 4,000 words drawn from a small vocabulary with a fixed generator. */
    static String text() {
        String[] words = {"the", "whale", "sea", "ship", "captain", "white", "a", "of", "and", "to", "in", "his",
                "old", "man", "harpoon", "deck", "wind", "boat", "said", "was", "ahab", "starbuck", "queequeg", "."};
        Rng rng = new Rng(2026);
        var sb = new StringBuilder();
        int previous = 0;
        for (int i = 0; i < 4000; i++) {
            // Half the time the word after the previous one in the list: structure a model can learn.
            int w = rng.nextInt(2) == 0 ? (previous + 1) % words.length : rng.nextInt(words.length);
            sb.append(words[w]).append(w == words.length - 1 ? "\n" : " ");
            previous = w;
        }
        return sb.toString();
    }

    static TokenDataset.Split data() {
        return TokenDataset.of(new ByteTokenizer().encode(text())).split(recipe().validationFraction());
    }

    static Gpt model(GptConfig config) {
        return new Gpt(config, new Rng(SEED));
    }

    /** The batches a Trainer with {@link #recipe()} draws, in order (its sampler, replayed). */
    static List<Batch> batches(TokenDataset.Split data) {
        TrainerConfig recipe = recipe();
        Rng sampler = new Rng(DataParallel.hash(recipe.seed(), Trainer.SAMPLER_STREAM));
        List<Batch> out = new ArrayList<>();
        for (int step = 0; step < recipe.steps(); step++) {
            out.add(data.train().sample(sampler, recipe.batchSize(), recipe.context()));
        }
        return out;
    }

    /** CRC-32 of every tensor's little-endian float32 bytes, in state-dict order. */
    static long weightsCrc(Gpt model) {
        CRC32 crc = new CRC32();
        for (Tensor t : model.stateDict().values()) {
            float[] values = t.toFloatArray();
            ByteBuffer bytes = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                bytes.putFloat(v);
            }
            crc.update(bytes.array());
        }
        return crc.getValue();
    }

    /** CRC-32 of every batch's inputs then targets as little-endian int32. */
    static long batchesCrc(List<Batch> batches) {
        CRC32 crc = new CRC32();
        for (Batch b : batches) {
            ByteBuffer bytes = ByteBuffer.allocate(8 * b.inputs().length).order(ByteOrder.LITTLE_ENDIAN);
            for (int v : b.inputs()) {
                bytes.putInt(v);
            }
            for (int v : b.targets()) {
                bytes.putInt(v);
            }
            crc.update(bytes.array());
        }
        return crc.getValue();
    }

    public static void main(String[] args) {
        Path root = Path.of(args.length > 0 ? args[0] : "lib-models/target/trajectory");
        var data = data();
        List<Batch> batches = batches(data);
        for (var e : variants().entrySet()) {
            Gpt model = model(e.getValue());
            Path dir = root.resolve(e.getKey());
            Checkpoint.builder().model(model).config(TrainableModel.of(model).config()).build().save(dir);
            List<Object> inputs = new ArrayList<>();
            List<Object> targets = new ArrayList<>();
            for (Batch b : batches) {
                for (int i = 0; i < b.inputs().length; i++) {
                    inputs.add(b.inputs()[i]);
                    targets.add(b.targets()[i]);
                }
            }
            Map<String, Object> run = new LinkedHashMap<>();
            run.put("trainer_config", recipe().toMap());
            run.put("weights_crc32", weightsCrc(model));
            run.put("batches_crc32", batchesCrc(batches));
            run.put("inputs", inputs);
            run.put("targets", targets);
            AtomicFiles.writeString(dir.resolve("trajectory.json"), Json.write(run));
            System.out.printf("wrote %s (%,d parameters, %d batches)%n", dir, model.parameterCount(), batches.size());
        }
    }
}
