package dev.jgrad.models.nn;

import java.util.ArrayList;
import java.util.List;

/** Numbered children "0", "1", ... like {@code torch.nn.ModuleList}, so parameters are named {@code h.0.attn...}. */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    public M add(M module) {
        child(String.valueOf(items.size()), module);
        items.add(module);
        return module;
    }

    public M get(int i) {
        return items.get(i);
    }

    public int size() {
        return items.size();
    }

    public List<M> items() {
        return List.copyOf(items);
    }
}
