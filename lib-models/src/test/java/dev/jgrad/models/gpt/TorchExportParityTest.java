package dev.jgrad.models.gpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.train.Trainer;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Fixtures;
import dev.jgrad.tensor.Tensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jgrad checkpoints in PyTorch: {@link ParityExport} saved a tiny GPT-2 and a tiny LLaMA (GQA, RoPE, SwiGLU,
 * RMSNorm) as jgrad checkpoints under {@code resources/parity/}; {@code torch_parity.py} loaded them into PyTorch
 * models written independently of jgrad (checking every tensor arrived bit for bit) and recorded the float32
 * logits, loss and parameter gradients in {@code fixtures/torch_parity.txt}. Here jgrad loads the same checkpoints
 * the way {@code ./jgrad eval} does and must compute the same numbers, in F32:
 * <ul>
 *   <li>logits and loss: max |jgrad - torch| &lt;= 1e-4;
 *   <li>gradients, per state-dict entry: max |jgrad - torch| / max |torch| &lt;= 1e-4 (the largest difference
 *       relative to the tensor's own scale, so entries whose gradient is tiny everywhere are not judged against
 *       an absolute bound meant for others).
 * </ul>
 */
class TorchExportParityTest {
    static final Map<String, Map<String, Tensor>> TORCH = Fixtures.load("torch_parity");
    static final double LOGITS_TOLERANCE = 1e-4;
    static final double GRADIENT_TOLERANCE = 1e-4;

    static Path parityDirectory(String variant) {
        try {
            return Path.of(TorchExportParityTest.class.getResource("/parity/" + variant).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void jgradComputesWhatPyTorchComputesFromTheSameCheckpoint(String variant) throws IOException {
        Path dir = parityDirectory(variant);
        Gpt model = Trainer.gptFrom(Checkpoint.load(dir));
        assertEquals(DType.F32, model.dtype());
        assertEquals(ParityExport.variants().get(variant), model.config(), "config.json round trip");
        Map<String, Object> parity = Json.parseObject(Files.readString(dir.resolve("parity.json")));
        int batch = ((Number) parity.get("batch")).intValue();
        int time = ((Number) parity.get("time")).intValue();
        int[] ids = ints(parity.get("ids"));
        int[] targets = ints(parity.get("targets"));
        Map<String, Tensor> torch = TORCH.get(variant);

        Variable logits = model.logits(ids, batch, time);
        double logitsDiff = torch.get("logits").maxAbsDiff(logits.value().to(DType.F64));
        Variable loss = model.loss(ids, targets, batch, time);
        double lossDiff = Math.abs(torch.get("loss").item() - loss.item());
        loss.backward();

        var gradNames = new TreeSet<String>();
        torch.keySet().stream().filter(k -> k.startsWith("grad.")).forEach(k -> gradNames.add(k.substring(5)));
        assertEquals(new TreeSet<>(model.stateDict().keySet()), gradNames, "a torch gradient for every state-dict entry");
        double worst = 0;
        String worstName = "";
        for (var e : model.namedParameters().entrySet()) {
            Tensor expected = torch.get("grad." + e.getKey());
            double scale = expected.abs().max(false).item();
            double relative = expected.maxAbsDiff(e.getValue().grad().to(DType.F64)) / Math.max(scale, 1e-30);
            assertTrue(relative <= GRADIENT_TOLERANCE, variant + " gradient of " + e.getKey()
                    + ": max|jgrad - torch| / max|torch| = " + relative + " (max|torch| = " + scale + ")");
            if (relative > worst) {
                worst = relative;
                worstName = e.getKey();
            }
        }
        System.out.printf("torch parity %s: logits max abs diff %.2e, loss diff %.2e, worst gradient relative "
                + "diff %.2e (%s)%n", variant, logitsDiff, lossDiff, worst, worstName);
        assertTrue(logitsDiff <= LOGITS_TOLERANCE, variant + ": logits max abs diff " + logitsDiff);
        assertTrue(lossDiff <= LOGITS_TOLERANCE, variant + ": loss diff " + lossDiff);
    }

    private static int[] ints(Object list) {
        List<?> values = (List<?>) list;
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).intValue();
        }
        return out;
    }
}
