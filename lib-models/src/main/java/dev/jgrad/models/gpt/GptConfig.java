package dev.jgrad.models.gpt;

import dev.jgrad.models.io.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The shape and recipe of a decoder-only transformer: GPT-2 (LayerNorm, GELU MLP, learned positions, tied
 * embeddings, biases) and LLaMA (RMSNorm, SwiGLU MLP, rotary positions, grouped-query attention, no biases) are
 * two settings of the same fields.
 *
 * <p>State-dict names follow GPT-2 ({@code transformer.h.0.attn.c_attn.weight}) when {@code norm} is
 * {@link Norm#LAYER_NORM} and LLaMA ({@code model.layers.0.self_attn.q_proj.weight}) when it is
 * {@link Norm#RMS_NORM}; see {@link #layout()} and {@link Gpt}.
 *
 * @param vocabSize      number of token ids
 * @param contextLength  longest sequence the model accepts (the size of the learned position table)
 * @param layers         number of transformer blocks
 * @param dModel         width of the residual stream
 * @param heads          query heads; the head size is dModel / heads
 * @param kvHeads        key/value heads (= heads for multi-head attention, fewer for grouped-query attention)
 * @param mlpHidden      hidden width of the MLP (4 · dModel in GPT-2)
 * @param norm           normalisation layer
 * @param activation     MLP kind
 * @param positions      how positions enter: a learned table added to the token embeddings, or RoPE
 * @param ropeTheta      RoPE base (10000 in LLaMA); ignored with learned positions
 * @param tiedEmbeddings whether the output projection is the token embedding matrix
 * @param bias           biases in the linear layers and LayerNorms
 * @param dropout        dropout probability on the embeddings and on each residual branch, in training mode
 * @param eps            epsilon of the normalisation layers
 */
public record GptConfig(int vocabSize, int contextLength, int layers, int dModel, int heads, int kvHeads,
                        int mlpHidden, Norm norm, Activation activation, Positions positions, double ropeTheta,
                        boolean tiedEmbeddings, boolean bias, double dropout, double eps) {

    public enum Norm { LAYER_NORM, RMS_NORM }

    public enum Activation { GELU, SWIGLU }

    public enum Positions { LEARNED, ROPE }

    /** Which reference model's parameter names the state dict uses. */
    public enum Layout { GPT2, LLAMA }

    public GptConfig {
        List<String> problems = new ArrayList<>();
        positive(problems, "vocabSize", vocabSize);
        positive(problems, "contextLength", contextLength);
        positive(problems, "layers", layers);
        positive(problems, "dModel", dModel);
        positive(problems, "heads", heads);
        positive(problems, "kvHeads", kvHeads);
        positive(problems, "mlpHidden", mlpHidden);
        if (norm == null || activation == null || positions == null) {
            problems.add("norm, activation and positions must not be null");
        }
        if (heads > 0 && dModel > 0 && dModel % heads != 0) {
            problems.add("dModel (" + dModel + ") must be divisible by heads (" + heads + ")");
        }
        if (heads > 0 && kvHeads > 0 && heads % kvHeads != 0) {
            problems.add("heads (" + heads + ") must be a multiple of kvHeads (" + kvHeads + ")");
        }
        if (positions == Positions.ROPE && heads > 0 && dModel % heads == 0 && (dModel / heads) % 2 != 0) {
            problems.add("RoPE needs an even head size, got dModel / heads = " + dModel / heads);
        }
        if (positions == Positions.ROPE && !(ropeTheta > 0)) {
            problems.add("ropeTheta must be > 0 with RoPE, got " + ropeTheta);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            problems.add("dropout must be in [0, 1), got " + dropout);
        }
        if (!(eps > 0)) {
            problems.add("eps must be > 0, got " + eps);
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("GptConfig: " + String.join("; ", problems));
        }
    }

    private static void positive(List<String> problems, String field, int value) {
        if (value <= 0) {
            problems.add(field + " must be > 0, got " + value);
        }
    }

    // ------------------------------------------------------------------------------------------ presets

    /** GPT-2 small (124M with vocab 50257, context 1024): 12 layers, d 768, 12 heads; dropout 0 as in nanoGPT. */
    public static GptConfig gpt2Small(int vocabSize, int contextLength) {
        return gpt2(vocabSize, contextLength, 12, 768, 12);
    }

    /** A GPT-2-style model: LayerNorm, 4x GELU MLP, learned positions, tied embeddings, biases, eps 1e-5. */
    public static GptConfig gpt2(int vocabSize, int contextLength, int layers, int dModel, int heads) {
        return new GptConfig(vocabSize, contextLength, layers, dModel, heads, heads, 4 * dModel, Norm.LAYER_NORM,
                Activation.GELU, Positions.LEARNED, 10000, true, true, 0.0, 1e-5);
    }

    /** A LLaMA-style model: RMSNorm, SwiGLU MLP, RoPE (theta 10000), untied embeddings, no biases, eps 1e-5. */
    public static GptConfig llama(int vocabSize, int contextLength, int layers, int dModel, int heads, int kvHeads,
                                  int mlpHidden) {
        return new GptConfig(vocabSize, contextLength, layers, dModel, heads, kvHeads, mlpHidden, Norm.RMS_NORM,
                Activation.SWIGLU, Positions.ROPE, 10000, false, false, 0.0, 1e-5);
    }

    /** Benchmark config "small": byte vocabulary (256), context 128, 4 layers, d 128, 4 heads, GPT-2 style. */
    public static GptConfig small() {
        return gpt2(256, 128, 4, 128, 4);
    }

    /** Benchmark config "large": byte vocabulary (256), context 256, 6 layers, d 384, 6 heads, GPT-2 style. */
    public static GptConfig large() {
        return gpt2(256, 256, 6, 384, 6);
    }

    /** A benchmark config by name: "small" or "large". */
    public static GptConfig preset(String name) {
        return switch (name) {
            case "small" -> small();
            case "large" -> large();
            default -> throw new IllegalArgumentException("GptConfig.preset: unknown preset '" + name
                    + "' (known: small, large)");
        };
    }

    public GptConfig withDropout(double p) {
        return new GptConfig(vocabSize, contextLength, layers, dModel, heads, kvHeads, mlpHidden, norm, activation,
                positions, ropeTheta, tiedEmbeddings, bias, p, eps);
    }

    // ------------------------------------------------------------------------------------------ derived

    public int headDim() {
        return dModel / heads;
    }

    /** GPT-2 names with LayerNorm, LLaMA names with RMSNorm. */
    public Layout layout() {
        return norm == Norm.LAYER_NORM ? Layout.GPT2 : Layout.LLAMA;
    }

    /** The number of parameters this config gives (tied embeddings counted once), computed without building it. */
    public long parameterCount() {
        long d = dModel;
        long kvWidth = (long) kvHeads * headDim();
        long normSize = norm == Norm.RMS_NORM ? d : bias ? 2 * d : d;
        long attention = d * (d + 2 * kvWidth) + d * d + (bias ? d + 2 * kvWidth + d : 0);
        long mlp = activation == Activation.GELU
                ? 2 * d * mlpHidden + (bias ? mlpHidden + d : 0)
                : 3 * d * mlpHidden + (bias ? 2L * mlpHidden + d : 0);
        long perLayer = 2 * normSize + attention + mlp;
        long embeddings = (long) vocabSize * d + (positions == Positions.LEARNED ? (long) contextLength * d : 0);
        long head = tiedEmbeddings ? 0 : (long) vocabSize * d;
        return embeddings + layers * perLayer + normSize + head;
    }

    // ------------------------------------------------------------------------------------------ config.json

    private static final Set<String> KEYS = Set.of("vocab_size", "context_length", "layers", "d_model", "heads",
            "kv_heads", "mlp_hidden", "norm", "activation", "positions", "rope_theta", "tied_embeddings", "bias",
            "dropout", "eps");

    /** The fields as a JSON-ready map with snake_case keys and lower-case enum names. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab_size", vocabSize);
        m.put("context_length", contextLength);
        m.put("layers", layers);
        m.put("d_model", dModel);
        m.put("heads", heads);
        m.put("kv_heads", kvHeads);
        m.put("mlp_hidden", mlpHidden);
        m.put("norm", norm.name().toLowerCase(Locale.ROOT));
        m.put("activation", activation.name().toLowerCase(Locale.ROOT));
        m.put("positions", positions.name().toLowerCase(Locale.ROOT));
        m.put("rope_theta", ropeTheta);
        m.put("tied_embeddings", tiedEmbeddings);
        m.put("bias", bias);
        m.put("dropout", dropout);
        m.put("eps", eps);
        return m;
    }

    /** The inverse of {@link #toMap()}; every key is required and unknown keys are errors. */
    public static GptConfig fromMap(Map<String, ?> m) {
        var unknown = new java.util.TreeSet<>(m.keySet());
        unknown.removeAll(KEYS);
        var missing = new java.util.TreeSet<>(KEYS);
        missing.removeAll(m.keySet());
        if (!unknown.isEmpty() || !missing.isEmpty()) {
            throw new IllegalArgumentException("GptConfig.fromMap: missing keys " + missing + ", unknown keys " + unknown);
        }
        return new GptConfig(integer(m, "vocab_size"), integer(m, "context_length"), integer(m, "layers"),
                integer(m, "d_model"), integer(m, "heads"), integer(m, "kv_heads"), integer(m, "mlp_hidden"),
                choice(m, "norm", Norm.class), choice(m, "activation", Activation.class),
                choice(m, "positions", Positions.class), number(m, "rope_theta"), flag(m, "tied_embeddings"),
                flag(m, "bias"), number(m, "dropout"), number(m, "eps"));
    }

    public String toJson() {
        return Json.writePretty(toMap());
    }

    public static GptConfig fromJson(String json) {
        return fromMap(Json.parseObject(json));
    }

    private static int integer(Map<String, ?> m, String key) {
        if (m.get(key) instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        throw new IllegalArgumentException("GptConfig.fromMap: '" + key + "' must be an integer, got " + m.get(key));
    }

    private static double number(Map<String, ?> m, String key) {
        if (m.get(key) instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException("GptConfig.fromMap: '" + key + "' must be a number, got " + m.get(key));
    }

    private static boolean flag(Map<String, ?> m, String key) {
        if (m.get(key) instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException("GptConfig.fromMap: '" + key + "' must be true or false, got " + m.get(key));
    }

    private static <E extends Enum<E>> E choice(Map<String, ?> m, String key, Class<E> type) {
        Object v = m.get(key);
        for (E e : type.getEnumConstants()) {
            if (e.name().toLowerCase(Locale.ROOT).equals(v)) {
                return e;
            }
        }
        List<String> allowed = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            allowed.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw new IllegalArgumentException("GptConfig.fromMap: '" + key + "' must be one of " + allowed + ", got " + v);
    }
}
