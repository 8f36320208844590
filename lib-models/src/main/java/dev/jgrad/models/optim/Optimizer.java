package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiPredicate;

/**
 * Updates named parameters from their gradients, like {@code torch.optim.Optimizer} with a single parameter group
 * whose weight decay applies only to the parameters a filter selects.
 *
 * <pre>{@code
 * var opt = new AdamW(model.namedParameters(), AdamW.settings(6e-4).betas(0.9, 0.95).weightDecay(0.1));
 * for (int it = 0; it < steps; it++) {
 *     schedule.applyTo(opt, it);
 *     opt.zeroGrad();
 *     loss(batch).backward();
 *     GradClip.clipGlobalNorm(opt.parameters().values(), 1.0);
 *     opt.step();
 * }
 * }</pre>
 *
 * <p>As in PyTorch, a parameter whose gradient is null at {@link #step()} is skipped, and its own step count (which
 * drives Adam's bias correction) does not advance. A parameter registered twice (tied weights) is updated once,
 * under its first name.
 *
 * <p>{@link #stateDict()} and {@link #loadStateDict} capture everything the updates depend on, so training resumed
 * from a saved state continues bit for bit as if it had never stopped.
 */
public abstract class Optimizer {
    /**
     * Decay matrices only (the weights of Linear and Embedding), not biases or normalization gains (rank 1), as
     * nanoGPT does: shrinking a LayerNorm gain or a bias towards zero is not a regularizer anyone wants.
     */
    public static final BiPredicate<String, Variable> DECAY_MATRICES = (name, p) -> p.rank() >= 2;

    /** Decay every parameter (PyTorch's default when all parameters are in one group). */
    public static final BiPredicate<String, Variable> DECAY_ALL = (name, p) -> true;

    /** One trainable parameter with its per-parameter state. */
    protected static final class Slot {
        final String name;
        final Variable param;
        final boolean decays;
        final Tensor[] buffers;
        long steps;

        private Slot(String name, Variable param, boolean decays, int bufferCount) {
            this.name = name;
            this.param = param;
            this.decays = decays;
            this.buffers = new Tensor[bufferCount];
            for (int i = 0; i < bufferCount; i++) {
                buffers[i] = Tensor.zerosLike(param.value());
            }
        }

        /** The parameter's value, updated in place. */
        protected Tensor value() {
            return param.value();
        }

        /** Whether weight decay applies to this parameter. */
        protected boolean decays() {
            return decays;
        }

        /** State buffer {@code i} (in the order of the optimizer's buffer names), same shape and dtype as the parameter. */
        protected Tensor buffer(int i) {
            return buffers[i];
        }

        /** How many updates this parameter has received, counting the one in progress. */
        protected long steps() {
            return steps;
        }
    }

    private final String name;
    private final List<Slot> slots = new ArrayList<>();
    private final List<String> bufferNames;
    private double learningRate;
    private long stepCount;

    /**
     * @param name        optimizer name used in error messages ("AdamW")
     * @param params      parameters by name, e.g. {@code model.namedParameters()}
     * @param decays      which parameters weight decay applies to
     * @param bufferNames names of the per-parameter state tensors, PyTorch's ("exp_avg", "momentum_buffer")
     */
    protected Optimizer(String name, Map<String, Variable> params, double learningRate,
                        BiPredicate<String, Variable> decays, List<String> bufferNames) {
        this.name = name;
        this.bufferNames = List.copyOf(bufferNames);
        setLearningRate(learningRate);
        if (params.isEmpty()) {
            throw new IllegalArgumentException(name + ": no parameters to optimize");
        }
        Set<Variable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (var e : params.entrySet()) {
            Variable p = e.getValue();
            if (!seen.add(p)) {
                continue;
            }
            if (!p.requiresGrad()) {
                throw new IllegalArgumentException(name + ": parameter '" + e.getKey()
                        + "' does not require grad; only Variable.param(...) leaves can be optimized");
            }
            if (!p.value().isContiguous()) {
                throw new IllegalArgumentException(name + ": parameter '" + e.getKey() + "' of shape "
                        + Shapes.str(p.shape()) + " is not contiguous (strides "
                        + Arrays.toString(p.value().strides()) + "); the fused updates need contiguous storage");
            }
            slots.add(new Slot(e.getKey(), p, decays.test(e.getKey(), p), bufferNames.size()));
        }
    }

    /** Names "0", "1", ... for an unnamed parameter list, as PyTorch's optimizer state dict numbers them. */
    protected static Map<String, Variable> indexed(List<Variable> params) {
        Map<String, Variable> named = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            named.put(Integer.toString(i), params.get(i));
        }
        return named;
    }

    /** Applies one update to {@code slot} from {@code grad} (contiguous, same shape and dtype as the parameter). */
    protected abstract void update(Slot slot, Tensor grad);

    /** Updates every parameter that has a gradient. Nothing is modified if any gradient is unusable. */
    public final void step() {
        // Loops by index: an iterator per loop is garbage every training step.
        for (int i = 0; i < slots.size(); i++) {
            Slot s = slots.get(i);
            Tensor g = s.param.grad();
            if (g == null) {
                continue;
            }
            if (g.dtype() != s.param.dtype()) {
                throw new IllegalArgumentException(name + ".step: gradient of '" + s.name + "' is " + g.dtype()
                        + " but the parameter is " + s.param.dtype());
            }
            if (!g.sameShape(s.param.value())) {
                throw new ShapeException(name + ".step: gradient of '" + s.name + "' has shape "
                        + Shapes.str(g.shape()) + ", parameter " + Shapes.str(s.param.shape()));
            }
            if (!g.isContiguous()) {
                throw new IllegalArgumentException(name + ".step: gradient of '" + s.name + "' (shape "
                        + Shapes.str(g.shape()) + ", strides " + Arrays.toString(g.strides())
                        + ") is not contiguous; set a contiguous copy with setGrad(g.contiguous())");
            }
        }
        stepCount++;
        for (int i = 0; i < slots.size(); i++) {
            Slot s = slots.get(i);
            Tensor g = s.param.grad();
            if (g != null) {
                s.steps++;
                update(s, g);
            }
        }
    }

    /**
     * Clears every parameter's gradient (set to null, PyTorch's {@code zero_grad(set_to_none=True)}). The next
     * backward writes into the same gradient tensors ({@link Variable#recycleGrad}), so a training loop allocates
     * its gradients once; copy a {@code grad()} tensor if you need it after this call.
     */
    public final void zeroGrad() {
        for (int i = 0; i < slots.size(); i++) {
            slots.get(i).param.recycleGrad();
        }
    }

    public final double learningRate() {
        return learningRate;
    }

    /** Sets the learning rate used by the next {@link #step()}; a schedule calls this before every step. */
    public final void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(name + ": learning rate must be finite and >= 0, got " + lr);
        }
        this.learningRate = lr;
    }

    /** Number of {@link #step()} calls so far. */
    public final long stepCount() {
        return stepCount;
    }

    /** The optimized parameters by name (tied duplicates removed), in registration order. */
    public final Map<String, Variable> parameters() {
        Map<String, Variable> out = new LinkedHashMap<>();
        for (Slot s : slots) {
            out.put(s.name, s.param);
        }
        return out;
    }

    /** Whether weight decay applies to each parameter, by name. */
    public final Map<String, Boolean> decayedParameters() {
        Map<String, Boolean> out = new LinkedHashMap<>();
        for (Slot s : slots) {
            out.put(s.name, s.decays);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ state

    /**
     * Everything the next updates depend on besides the hyperparameters: copies of the state tensors, named
     * {@code BUFFER.PARAM} (e.g. {@code exp_avg.blocks.0.attn.qkv.weight}), and the scalars {@code step} (calls
     * to step), {@code lr}, and {@code step.PARAM} (updates each parameter received).
     */
    public final OptimizerState stateDict() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, Number> scalars = new LinkedHashMap<>();
        scalars.put("step", stepCount);
        scalars.put("lr", learningRate);
        for (Slot s : slots) {
            for (int b = 0; b < bufferNames.size(); b++) {
                tensors.put(bufferNames.get(b) + "." + s.name, s.buffers[b].copy());
            }
            scalars.put("step." + s.name, s.steps);
        }
        return new OptimizerState(tensors, scalars);
    }

    /**
     * Restores a state from {@link #stateDict()} of an optimizer of the same kind over the same parameters.
     * Missing or unexpected entries and shape mismatches are errors, and nothing changes unless all are valid.
     * Tensors of the other dtype are converted.
     */
    public final void loadStateDict(OptimizerState state) {
        Map<String, Tensor> own = new LinkedHashMap<>();
        Set<String> ownScalars = new TreeSet<>(List.of("step", "lr"));
        for (Slot s : slots) {
            for (int b = 0; b < bufferNames.size(); b++) {
                own.put(bufferNames.get(b) + "." + s.name, s.buffers[b]);
            }
            ownScalars.add("step." + s.name);
        }
        Set<String> missing = new TreeSet<>(own.keySet());
        missing.removeAll(state.tensors().keySet());
        for (String k : ownScalars) {
            if (!state.scalars().containsKey(k)) {
                missing.add(k);
            }
        }
        Set<String> unexpected = new TreeSet<>(state.tensors().keySet());
        unexpected.removeAll(own.keySet());
        for (String k : state.scalars().keySet()) {
            if (!ownScalars.contains(k)) {
                unexpected.add(k);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new IllegalArgumentException(name + ".loadStateDict: missing " + missing + ", unexpected "
                    + unexpected);
        }
        for (var e : own.entrySet()) {
            Tensor src = state.tensors().get(e.getKey());
            if (!Arrays.equals(src.shape(), e.getValue().shape())) {
                throw new ShapeException(name + ".loadStateDict: '" + e.getKey() + "' has shape "
                        + Shapes.str(e.getValue().shape()) + " in the optimizer but " + Shapes.str(src.shape())
                        + " in the state");
            }
        }
        long steps = state.scalars().get("step").longValue();
        double lr = state.scalars().get("lr").doubleValue();
        setLearningRate(lr);
        stepCount = steps;
        for (var e : own.entrySet()) {
            Tensor src = state.tensors().get(e.getKey());
            DType dtype = e.getValue().dtype();
            e.getValue().copyFrom(src.dtype() == dtype ? src : src.to(dtype));
        }
        for (Slot s : slots) {
            s.steps = state.scalars().get("step." + s.name).longValue();
        }
    }

    /** Optimizer name, hyperparameters and parameter count, for logs. */
    @Override
    public String toString() {
        return name + "(" + describeSettings() + ", lr=" + learningRate + ", params=" + slots.size() + ")";
    }

    protected abstract String describeSettings();

    /** The name used in error messages. */
    protected final String name() {
        return name;
    }

    /** Hyperparameter range check shared by the settings records; the message names the optimizer and value. */
    static void checkRange(String optimizer, String what, double value, double min, boolean minInclusive, double max,
                           boolean maxInclusive) {
        boolean ok = (minInclusive ? value >= min : value > min) && (maxInclusive ? value <= max : value < max);
        if (!ok) {
            throw new IllegalArgumentException(optimizer + ": " + what + " must be in " + (minInclusive ? "[" : "(")
                    + min + ", " + max + (maxInclusive ? "]" : ")") + ", got " + value);
        }
    }
}
