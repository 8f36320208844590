package dev.jgrad.models.optim;

import dev.jgrad.tensor.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A snapshot of an optimizer's state: tensors by name (saved next to the model's, e.g. in
 * {@code optimizer.safetensors}) and a few scalars (step counts as {@code Long}, the learning rate as
 * {@code Double}; saved as JSON, e.g. in {@code trainer.json}). See {@link Optimizer#stateDict()}.
 */
public record OptimizerState(Map<String, Tensor> tensors, Map<String, Number> scalars) {
    public OptimizerState {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        scalars = Collections.unmodifiableMap(new LinkedHashMap<>(scalars));
    }
}
