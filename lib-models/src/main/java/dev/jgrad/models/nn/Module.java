package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A layer or a model: named parameters plus named child modules, like {@code torch.nn.Module}. Parameter names
 * are hierarchical and match PyTorch's, e.g. {@code blocks.0.attn.qkv.weight}, so a state dict loads into the
 * equivalent PyTorch model unchanged.
 *
 * <pre>{@code
 * final class Linear extends Module {
 *     final Variable weight = parameter("weight", Tensor.zeros(out, in));
 * }
 * }</pre>
 */
public abstract class Module {
    private final Map<String, Variable> parameters = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Registers a trainable parameter under {@code name} and returns it. */
    protected final Variable parameter(String name, Tensor initial) {
        checkName(name);
        Variable p = Variable.param(initial);
        parameters.put(name, p);
        return p;
    }

    /** Registers a child module under {@code name} (e.g. "attn", or "0" for list entries) and returns it. */
    protected final <M extends Module> M child(String name, M module) {
        checkName(name);
        children.put(name, module);
        return module;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": invalid name '" + name
                    + "' (non-empty, no dots)");
        }
        if (parameters.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": name '" + name + "' is already used");
        }
    }

    /** Every parameter of this module and its descendants, by hierarchical name, in registration order. */
    public final Map<String, Variable> namedParameters() {
        Map<String, Variable> out = new LinkedHashMap<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, Map<String, Variable> out) {
        parameters.forEach((name, p) -> out.put(prefix + name, p));
        children.forEach((name, m) -> m.collect(prefix + name + ".", out));
    }

    public final List<Variable> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Total number of parameter elements. Tied parameters (the same variable twice) count once. */
    public final long parameterCount() {
        var seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<Variable, Boolean>());
        long n = 0;
        for (Variable p : namedParameters().values()) {
            if (seen.add(p)) {
                n += p.value().numel();
            }
        }
        return n;
    }

    public final Map<String, Module> children() {
        return java.util.Collections.unmodifiableMap(children);
    }

    /** Training mode (dropout active) for this module and its descendants. */
    public final Module train(boolean on) {
        training = on;
        children.values().forEach(c -> c.train(on));
        return this;
    }

    /** Evaluation mode: {@code train(false)}. */
    public final Module eval() {
        return train(false);
    }

    public final boolean isTraining() {
        return training;
    }

    /** Clears every parameter's gradient. */
    public final void zeroGrad() {
        namedParameters().values().forEach(Variable::zeroGrad);
    }

    /** The parameter values by name (the tensors themselves, not copies). */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        namedParameters().forEach((name, p) -> out.put(name, p.value()));
        return out;
    }

    /**
     * Copies values into the parameters. With {@code strict}, missing and unexpected names are errors; a shape
     * mismatch is always an error naming the parameter and both shapes. Nothing is changed unless every entry
     * is valid.
     */
    public final void loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, Variable> own = namedParameters();
        if (strict) {
            Set<String> missing = new TreeSet<>(own.keySet());
            missing.removeAll(state.keySet());
            Set<String> unexpected = new TreeSet<>(state.keySet());
            unexpected.removeAll(own.keySet());
            if (!missing.isEmpty() || !unexpected.isEmpty()) {
                throw new IllegalArgumentException("loadStateDict: missing " + missing + ", unexpected " + unexpected);
            }
        }
        for (var e : state.entrySet()) {
            Variable p = own.get(e.getKey());
            if (p != null && !Arrays.equals(p.value().shape(), e.getValue().shape())) {
                throw new ShapeException("loadStateDict: '" + e.getKey() + "' has shape "
                        + Shapes.str(p.value().shape()) + " in the model but " + Shapes.str(e.getValue().shape())
                        + " in the state dict");
            }
        }
        for (var e : state.entrySet()) {
            Variable p = own.get(e.getKey());
            if (p != null) {
                p.value().copyFrom(e.getValue());
            }
        }
    }
}
