package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

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
    /** Counts registrations in every module: a module's {@link #slots} table is rebuilt when this has moved. */
    private static final AtomicLong REGISTRATIONS = new AtomicLong();

    private final Map<String, Variable> parameters = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;
    /** Where each hierarchical parameter name lives, in {@link #namedParameters()} order; built on demand. */
    private Slots slots;

    /** Registers a trainable parameter under {@code name} and returns it. */
    protected final Variable parameter(String name, Tensor initial) {
        checkName(name);
        Variable p = Variable.param(initial);
        parameters.put(name, p);
        REGISTRATIONS.incrementAndGet();
        return p;
    }

    /**
     * Registers an existing variable under a second name: weight tying, e.g. GPT-2's {@code lm_head.weight} is
     * {@code transformer.wte.weight}. Both names appear in {@link #namedParameters()} and the state dict (as in
     * PyTorch); {@link #parameters()} and {@link #parameterCount()} list the variable once.
     */
    protected final Variable parameter(String name, Variable shared) {
        checkName(name);
        parameters.put(name, shared);
        REGISTRATIONS.incrementAndGet();
        return shared;
    }

    /**
     * This module's own parameter {@code name} as the forward pass should use it: the registered variable, or its
     * stand-in while {@link #withParameters} runs. Layers read their parameters through this, not through fields.
     */
    protected final Variable param(String name) {
        Variable p = parameters.get(name);
        if (p == null) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": no parameter '" + name + "' (has "
                    + parameters.keySet() + ")");
        }
        return p;
    }

    /** Registers a child module under {@code name} (e.g. "attn", or "0" for list entries) and returns it. */
    protected final <M extends Module> M child(String name, M module) {
        checkName(name);
        children.put(name, module);
        REGISTRATIONS.incrementAndGet();
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
        Slots table = slots();
        Map<String, Variable> out = new LinkedHashMap<>();
        table.index.forEach((name, slot) -> out.put(name, table.get(slot)));
        return out;
    }

    /** Every distinct parameter once (tied names share one variable), in registration order: what optimizers take. */
    public final List<Variable> parameters() {
        return new ArrayList<>(distinct(namedParameters()).values());
    }

    /** {@link #namedParameters()} with each tied variable under its first name only. */
    public final Map<String, Variable> distinctNamedParameters() {
        return distinct(namedParameters());
    }

    private static Map<String, Variable> distinct(Map<String, Variable> named) {
        var seen = Collections.newSetFromMap(new IdentityHashMap<Variable, Boolean>());
        Map<String, Variable> out = new LinkedHashMap<>();
        named.forEach((name, p) -> {
            if (seen.add(p)) {
                out.put(name, p);
            }
        });
        return out;
    }

    /** Total number of parameter elements. Tied parameters (the same variable twice) count once. */
    public final long parameterCount() {
        long n = 0;
        for (Variable p : parameters()) {
            n += p.value().numel();
        }
        return n;
    }

    public final Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /**
     * Runs {@code body} with some parameters replaced by other variables of the same shape and dtype (keys are
     * hierarchical names; replacing one name of a tied pair replaces both), then restores the originals. This is
     * PyTorch's {@code torch.func.functional_call}: it lets {@code GradCheck} differentiate a whole model with
     * respect to its parameters. Not thread-safe: the module is modified while {@code body} runs.
     */
    public final <R> R withParameters(Map<String, Variable> replacements, Supplier<R> body) {
        // Data-parallel training calls this for every shard of every step, so the names are resolved through a
        // table kept between calls, and the only thing allocated is the record of what to put back.
        Slots table = slots();
        int n = table.names.length;
        Variable[] swapped = new Variable[2 * n];   // [2i] the original in slot i, [2i + 1] its replacement
        for (var e : replacements.entrySet()) {
            Integer named = table.index.get(e.getKey());
            if (named == null) {
                throw new IllegalArgumentException("withParameters: no parameter '" + e.getKey() + "' in "
                        + getClass().getSimpleName());
            }
            Variable original = table.get(named);
            Tensor v = e.getValue().value();
            if (!original.value().sameShape(v) || original.dtype() != v.dtype()) {
                throw new ShapeException("withParameters: '" + e.getKey() + "' is " + original.dtype() + " "
                        + Shapes.str(original.shape()) + " in the model but the replacement is " + v.dtype() + " "
                        + Shapes.str(v.shape()));
            }
            for (int i = 0; i < n; i++) {   // every name of a tied variable is replaced
                if (table.get(i) == original) {
                    if (swapped[2 * i + 1] != null && swapped[2 * i + 1] != e.getValue()) {
                        throw new IllegalArgumentException("withParameters: '" + e.getKey()
                                + "' is tied to another name that is given a different replacement");
                    }
                    swapped[2 * i] = original;
                    swapped[2 * i + 1] = e.getValue();
                }
            }
        }
        try {
            for (int i = 0; i < n; i++) {
                if (swapped[2 * i + 1] != null) {
                    table.set(i, swapped[2 * i + 1]);
                }
            }
            return body.get();
        } finally {
            for (int i = 0; i < n; i++) {
                if (swapped[2 * i] != null) {
                    table.set(i, swapped[2 * i]);
                }
            }
        }
    }

    /** This module's slot table, rebuilt when a parameter or child was registered anywhere since it was made. */
    private Slots slots() {
        long version = REGISTRATIONS.get();
        if (slots == null || slots.version != version) {
            List<Module> owners = new ArrayList<>();
            List<String> locals = new ArrayList<>();
            Map<String, Integer> index = new LinkedHashMap<>();
            collectSlots("", owners, locals, index);
            slots = new Slots(version, owners.toArray(new Module[0]), locals.toArray(new String[0]), index);
        }
        return slots;
    }

    private void collectSlots(String prefix, List<Module> owners, List<String> locals, Map<String, Integer> index) {
        for (String name : parameters.keySet()) {
            index.put(prefix + name, owners.size());
            owners.add(this);
            locals.add(name);
        }
        children.forEach((name, m) -> m.collectSlots(prefix + name + ".", owners, locals, index));
    }

    /**
     * Every parameter name under a module, as slot i: the module that registered it ({@code owners[i]}) and its
     * name there ({@code names[i]}); {@code index} maps hierarchical names to slots. It records where parameters
     * live, not which variables they hold, so swapping variables in and out does not make it stale.
     */
    private record Slots(long version, Module[] owners, String[] names, Map<String, Integer> index) {
        Variable get(int slot) {
            return owners[slot].parameters.get(names[slot]);
        }

        void set(int slot, Variable v) {
            owners[slot].parameters.put(names[slot], v);
        }
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
     * Copies values into the parameters. With {@code strict}, missing and unexpected names are errors (tied
     * parameters are expected under each of their names, as PyTorch's state dicts hold them); a shape mismatch is
     * always an error naming the parameter and both shapes, and so are two different values for one tied
     * parameter. Nothing is changed unless every entry is valid.
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
        Map<Variable, String> tiedSource = new IdentityHashMap<>();
        for (var e : state.entrySet()) {
            Variable p = own.get(e.getKey());
            if (p == null) {
                continue;
            }
            String first = tiedSource.putIfAbsent(p, e.getKey());
            if (first != null && !state.get(first).allClose(e.getValue(), 0, 0)) {
                throw new IllegalArgumentException("loadStateDict: '" + first + "' and '" + e.getKey()
                        + "' are one tied parameter but the state dict gives them different values");
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
