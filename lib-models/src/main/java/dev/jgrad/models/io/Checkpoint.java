package dev.jgrad.models.io;

import dev.jgrad.models.nn.Module;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Everything needed to resume training or to use a model elsewhere, saved as one directory:
 *
 * <pre>
 *   model.safetensors       the model's state dict, PyTorch-style names ({@link Module#stateDict()})
 *   config.json             the model configuration the caller passes (any JSON object)
 *   optimizer.safetensors   optimizer state tensors by name (e.g. Adam moments)
 *   trainer.json            step, RNG state, loss history, plus any extra JSON the trainer keeps
 *   (other files)           tokenizer files, copied as they are (e.g. vocab.json, merges.txt)
 * </pre>
 *
 * {@link #save} builds the directory under a temporary name beside the target and renames it into place only
 * when complete, each file itself written atomically; a failure leaves whatever was there before untouched.
 *
 * @param model      parameter tensors by name
 * @param config     model configuration (JSON-compatible values)
 * @param tokenizer  tokenizer files by file name
 * @param optimizer  optimizer state tensors by name
 * @param trainer    trainer progress
 */
public record Checkpoint(Map<String, Tensor> model, Map<String, Object> config, Map<String, byte[]> tokenizer,
        Map<String, Tensor> optimizer, TrainerState trainer) {

    public static final String MODEL_FILE = "model.safetensors";
    public static final String CONFIG_FILE = "config.json";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String TRAINER_FILE = "trainer.json";
    private static final Set<String> RESERVED = Set.of(MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, TRAINER_FILE);

    public Checkpoint {
        model = Collections.unmodifiableMap(new LinkedHashMap<>(model));
        config = Collections.unmodifiableMap(new LinkedHashMap<>(config));
        tokenizer = Collections.unmodifiableMap(new TreeMap<>(tokenizer));
        optimizer = Collections.unmodifiableMap(new LinkedHashMap<>(optimizer));
        for (String name : tokenizer.keySet()) {
            checkTokenizerFileName(name);
        }
        if (trainer == null) {
            throw new IllegalArgumentException("Checkpoint: trainer state is required (use TrainerState.start())");
        }
    }

    private static void checkTokenizerFileName(String name) {
        if (name.isEmpty() || name.startsWith(".") || name.contains("/") || name.contains("\\")
                || RESERVED.contains(name)) {
            throw new IllegalArgumentException("Checkpoint: '" + name + "' cannot be a tokenizer file name (plain "
                    + "file names only, not hidden, not one of " + new TreeMap<>(Map.of(
                            MODEL_FILE, 0, CONFIG_FILE, 0, OPTIMIZER_FILE, 0, TRAINER_FILE, 0)).keySet() + ")");
        }
    }

    /**
     * Where training stands.
     *
     * @param step        optimizer steps taken
     * @param rng         the trainer's generator state, or null if it has none
     * @param lossHistory training loss per logged step (NaN and infinities allowed)
     * @param extra       anything else, as JSON-compatible values (learning-rate schedule state, best loss, ...)
     */
    public record TrainerState(long step, Rng.State rng, List<Double> lossHistory, Map<String, Object> extra) {
        public TrainerState {
            lossHistory = List.copyOf(lossHistory);
            extra = Collections.unmodifiableMap(new LinkedHashMap<>(extra));
        }

        /** Step 0, no generator, no history. */
        public static TrainerState start() {
            return new TrainerState(0, null, List.of(), Map.of());
        }

        /**
         * The trainer.json object. The RNG's 64-bit state is a hex string so that readers whose numbers are
         * doubles (JavaScript) keep every bit; non-finite losses are the strings "NaN", "Infinity", "-Infinity".
         */
        public Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("step", step);
            if (rng != null) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("state", "0x" + Long.toHexString(rng.state()));
                r.put("has_spare", rng.hasSpare());
                r.put("spare_normal", rng.spareNormal());
                json.put("rng", r);
            }
            List<Object> losses = new ArrayList<>(lossHistory.size());
            for (double loss : lossHistory) {
                losses.add(Double.isFinite(loss) ? (Object) loss : Double.toString(loss));
            }
            json.put("loss_history", losses);
            json.put("extra", extra);
            return json;
        }

        @SuppressWarnings("unchecked")
        public static TrainerState fromJson(Map<String, Object> json, String source) {
            try {
                long step = (Long) json.get("step");
                Rng.State rng = null;
                if (json.get("rng") instanceof Map<?, ?> r) {
                    String hex = (String) r.get("state");
                    if (!hex.startsWith("0x")) {
                        throw new IllegalArgumentException("rng.state '" + hex + "' is not 0x-prefixed hex");
                    }
                    rng = new Rng.State(Long.parseUnsignedLong(hex.substring(2), 16), (Boolean) r.get("has_spare"),
                            ((Number) r.get("spare_normal")).doubleValue());
                }
                List<Double> losses = new ArrayList<>();
                for (Object o : (List<Object>) json.getOrDefault("loss_history", List.of())) {
                    losses.add(o instanceof String s ? Double.parseDouble(s) : ((Number) o).doubleValue());
                }
                var extra = (Map<String, Object>) json.getOrDefault("extra", Map.of());
                return new TrainerState(step, rng, losses, extra);
            } catch (ClassCastException | NullPointerException | NumberFormatException e) {
                throw new IllegalArgumentException("Checkpoint: " + source + " is not a valid trainer state ("
                        + e.getMessage() + "): " + Json.write(json), e);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ building

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private Map<String, Tensor> model = Map.of();
        private Map<String, Object> config = Map.of();
        private final Map<String, byte[]> tokenizer = new TreeMap<>();
        private Map<String, Tensor> optimizer = Map.of();
        private TrainerState trainer = TrainerState.start();

        public Builder model(Module module) {
            return model(module.stateDict());
        }

        public Builder model(Map<String, Tensor> stateDict) {
            this.model = stateDict;
            return this;
        }

        public Builder config(Map<String, Object> config) {
            this.config = config;
            return this;
        }

        /** Copies every regular file of {@code dir} (not recursing) as a tokenizer file. */
        public Builder tokenizerDirectory(Path dir) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    tokenizerFile(f.getFileName().toString(), Files.readAllBytes(f));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("Checkpoint: cannot read tokenizer directory " + dir + ": " + e, e);
            }
            return this;
        }

        public Builder tokenizerFile(String name, byte[] content) {
            checkTokenizerFileName(name);
            tokenizer.put(name, content.clone());
            return this;
        }

        public Builder optimizer(Map<String, Tensor> state) {
            this.optimizer = state;
            return this;
        }

        public Builder trainer(TrainerState state) {
            this.trainer = state;
            return this;
        }

        public Checkpoint build() {
            return new Checkpoint(model, config, tokenizer, optimizer, trainer);
        }
    }

    // ------------------------------------------------------------------------------------------ saving, loading

    /**
     * Writes the checkpoint as directory {@code dir}, replacing any previous one only once the new one is
     * complete. A leftover {@code dir.tmp} from an interrupted save is discarded first. Replacing renames the old
     * directory to {@code dir.old} for the instant of the swap; {@link CheckpointManager} puts it back if a crash
     * happened right then.
     */
    public void save(Path dir) {
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
        AtomicFiles.deleteRecursively(tmp);
        try {
            Files.createDirectories(tmp);
            writeFiles(tmp);
            AtomicFiles.publishDirectory(tmp, dir);
        } catch (IOException e) {
            AtomicFiles.deleteRecursively(tmp);
            throw new UncheckedIOException("Checkpoint: saving " + dir + " failed: " + e, e);
        } catch (RuntimeException | Error e) {
            AtomicFiles.deleteRecursively(tmp);
            throw e;
        }
    }

    private void writeFiles(Path dir) {
        SafeTensors.write(dir.resolve(MODEL_FILE), model, Map.of("format", "pt"));
        AtomicFiles.writeString(dir.resolve(CONFIG_FILE), Json.writePretty(config));
        for (var e : tokenizer.entrySet()) {
            AtomicFiles.write(dir.resolve(e.getKey()), e.getValue());
        }
        SafeTensors.write(dir.resolve(OPTIMIZER_FILE), optimizer);
        AtomicFiles.writeString(dir.resolve(TRAINER_FILE), Json.writePretty(trainer.toJson()));
    }

    /**
     * Reads a checkpoint directory. Only {@code model.safetensors} is required, so a Hugging Face style directory
     * (weights + config.json + tokenizer files) loads too; absent parts come back empty, trainer at step 0.
     */
    public static Checkpoint load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("Checkpoint: " + dir + " is not a directory");
        }
        Path modelFile = dir.resolve(MODEL_FILE);
        if (!Files.isRegularFile(modelFile)) {
            throw new IllegalArgumentException("Checkpoint: " + dir + " has no " + MODEL_FILE);
        }
        try {
            Map<String, Tensor> model = SafeTensors.read(modelFile);
            Map<String, Object> config = Files.exists(dir.resolve(CONFIG_FILE))
                    ? parseJson(dir.resolve(CONFIG_FILE)) : Map.of();
            Map<String, Tensor> optimizer = Files.exists(dir.resolve(OPTIMIZER_FILE))
                    ? SafeTensors.read(dir.resolve(OPTIMIZER_FILE)) : Map.of();
            Path trainerFile = dir.resolve(TRAINER_FILE);
            TrainerState trainer = Files.exists(trainerFile)
                    ? TrainerState.fromJson(parseJson(trainerFile), trainerFile.toString()) : TrainerState.start();
            Map<String, byte[]> tokenizer = new TreeMap<>();
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String name = f.getFileName().toString();
                    if (!RESERVED.contains(name) && !name.startsWith(".")) {
                        tokenizer.put(name, Files.readAllBytes(f));
                    }
                }
            }
            return new Checkpoint(model, config, tokenizer, optimizer, trainer);
        } catch (IOException e) {
            throw new UncheckedIOException("Checkpoint: loading " + dir + " failed: " + e, e);
        }
    }

    private static Map<String, Object> parseJson(Path file) throws IOException {
        try {
            return Json.parseObject(Files.readString(file));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Checkpoint: " + file + ": " + e.getMessage(), e);
        }
    }

    /** Copies the weights into {@code module}; names and shapes must match exactly. */
    public void loadInto(Module module) {
        module.loadStateDict(model, true);
    }

    /** Writes the tokenizer files into {@code dir} (e.g. to hand them to a tokenizer's loader). */
    public void writeTokenizerFiles(Path dir) {
        tokenizer.forEach((name, bytes) -> AtomicFiles.write(dir.resolve(name), bytes));
    }
}
