package dev.jgrad.models.gpt;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.io.AtomicFiles;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.train.TrainableModel;
import dev.jgrad.tensor.DType;
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
 * Writes the jgrad side of the jgrad-to-PyTorch parity check (not a test: run by hand, see
 * {@code lib-models/src/test/python/torch_parity.py}). For each variant, a seeded tiny F32 model is saved as a
 * jgrad checkpoint ({@code model.safetensors}, {@code config.json}, ...) under
 * {@code lib-models/src/test/resources/parity/VARIANT/}, plus {@code parity.json}: the token batch, its targets,
 * and the CRC-32 of every saved tensor's little-endian float32 bytes, so the PyTorch side can prove that its
 * state dict holds bit for bit what jgrad saved.
 *
 * <pre>
 * mvn -o -q test-compile -pl lib-models -am
 * java --add-modules jdk.incubator.vector -cp lib-tensor/target/classes:lib-autograd/target/classes:\
 *     viz/target/classes:lib-models/target/classes:lib-models/target/test-classes dev.jgrad.models.gpt.ParityExport
 * /usr/bin/python3 lib-models/src/test/python/torch_parity.py
 * </pre>
 */
public final class ParityExport {
    static final int BATCH = 2;
    static final int TIME = 12;
    static final Path DEFAULT_ROOT = Path.of("lib-models/src/test/resources/parity");

    private ParityExport() {}

    /** The two variants: GPT-2 (LayerNorm, GELU, learned positions, tied head) and LLaMA (RMSNorm, SwiGLU, RoPE, GQA). */
    static Map<String, GptConfig> variants() {
        Map<String, GptConfig> v = new LinkedHashMap<>();
        v.put("gpt2", GptConfig.gpt2(50, TIME, 2, 16, 4));
        // Non-default theta and eps, so a reader that ignores config.json and assumes LLaMA's defaults fails.
        v.put("llama", new GptConfig(50, TIME, 2, 16, 4, 2, 40, GptConfig.Norm.RMS_NORM,
                GptConfig.Activation.SWIGLU, GptConfig.Positions.ROPE, 500.0, false, false, 0.0, 1e-6));
        return v;
    }

    /**
     * A seeded model whose weights are its init plus N(0, 0.2²) noise: large enough that attention is far from
     * uniform and every norm gain and bias matters (the 0.02 init alone would hide a lot).
     */
    static Gpt model(GptConfig config, long seed) {
        Rng rng = new Rng(seed);
        Gpt gpt = new Gpt(config, DType.F32, rng);
        for (Variable p : gpt.parameters()) {
            p.value().copyFrom(p.value().add(Tensor.randn(DType.F32, rng, p.shape()).mul(0.2)));
        }
        return gpt;
    }

    public static void main(String[] args) {
        Path root = args.length > 0 ? Path.of(args[0]) : DEFAULT_ROOT;
        long seed = 20261122;
        for (var e : variants().entrySet()) {
            GptConfig config = e.getValue();
            Gpt gpt = model(config, seed++);
            Path dir = root.resolve(e.getKey());
            Checkpoint.builder().model(gpt).config(TrainableModel.of(gpt).config()).build().save(dir);

            Rng rng = new Rng(seed++);
            List<Integer> ids = new ArrayList<>();
            List<Integer> targets = new ArrayList<>();
            for (int i = 0; i < BATCH * TIME; i++) {
                ids.add(rng.nextInt(config.vocabSize()));
                targets.add(rng.nextInt(config.vocabSize()));
            }
            targets.set(5, -1);   // one ignored position: the mean runs over the other targets only
            Map<String, Object> crc = new LinkedHashMap<>();
            gpt.stateDict().forEach((name, t) -> crc.put(name, crc32(t)));
            Map<String, Object> parity = new LinkedHashMap<>();
            parity.put("batch", BATCH);
            parity.put("time", TIME);
            parity.put("ids", ids);
            parity.put("targets", targets);
            parity.put("ignore_index", -1);
            parity.put("model_crc32", crc);
            AtomicFiles.writeString(dir.resolve("parity.json"), Json.writePretty(parity));
            System.out.printf("wrote %s (%,d parameters)%n", dir, gpt.parameterCount());
        }
    }

    /** CRC-32 of an F32 tensor's values as little-endian bytes in row-major order (what safetensors stores). */
    static long crc32(Tensor t) {
        float[] values = t.toFloatArray();
        ByteBuffer bytes = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            bytes.putFloat(v);
        }
        CRC32 crc = new CRC32();
        crc.update(bytes.array());
        return crc.getValue();
    }
}
