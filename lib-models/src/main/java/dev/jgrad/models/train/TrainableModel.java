package dev.jgrad.models.train;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.data.Batch;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.nn.Module;
import dev.jgrad.tensor.Rng;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a {@link Trainer} needs from a model: its parameters (a {@link Module}), a scalar loss over a {@link Batch},
 * and replicas for data-parallel workers. A replica has the same parameter names and shapes; its own values are
 * never read, because each worker runs it with the trained model's tensors swapped in
 * ({@link Module#withParameters}).
 */
public interface TrainableModel {
    Module module();

    /** The mean loss over every target of {@code batch}. */
    Variable loss(Batch batch);

    /** A structurally identical model for another thread (values irrelevant). */
    TrainableModel replica();

    /** The model's configuration as JSON-ready values (saved as the checkpoint's config.json). */
    Map<String, Object> config();

    /** A GPT as a trainable model: its next-token cross-entropy. */
    static TrainableModel of(Gpt gpt) {
        return new GptModel(gpt);
    }

    /** {@link TrainableModel} for {@link Gpt}. */
    record GptModel(Gpt gpt) implements TrainableModel {
        @Override
        public Module module() {
            return gpt;
        }

        @Override
        public Variable loss(Batch batch) {
            return gpt.loss(batch.inputs(), batch.targets(), batch.rows(), batch.context());
        }

        @Override
        public TrainableModel replica() {
            return new GptModel(new Gpt(gpt.config(), gpt.dtype(), new Rng(0)));
        }

        @Override
        public Map<String, Object> config() {
            Map<String, Object> config = new LinkedHashMap<>(gpt.config().toMap());
            config.put("dtype", gpt.dtype().name());
            return config;
        }
    }
}
