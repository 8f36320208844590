package dev.jgrad.models.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.nn.Module;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path root;

    static final class Affine extends Module {
        final Variable weight;
        final Variable bias;

        Affine(Rng rng, int in, int out) {
            weight = parameter("weight", Tensor.randn(DType.F32, rng, out, in));
            bias = parameter("bias", Tensor.randn(DType.F64, rng, out));
        }
    }

    static final class Blocks extends Module {
        Blocks(Rng rng, int count, int width) {
            for (int i = 0; i < count; i++) {
                child(String.valueOf(i), new Affine(rng, width, width));
            }
        }
    }

    static final class Net extends Module {
        final Affine embed;

        Net(Rng rng) {
            this(rng, 3);
        }

        Net(Rng rng, int in) {
            embed = child("embed", new Affine(rng, in, 4));
            child("blocks", new Blocks(rng, 2, 4));
        }
    }

    private static Checkpoint sample(Net net, long step) {
        var rng = new Rng(99);
        rng.nextGaussian(); // leaves a spare normal in the state
        Map<String, Tensor> moments = new LinkedHashMap<>();
        net.stateDict().forEach((name, t) -> moments.put("exp_avg." + name, t.mul(0.5)));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("n_layer", 2L);
        config.put("dropout", 0.1);
        config.put("name", "tiny");
        return Checkpoint.builder()
                .model(net)
                .config(config)
                .tokenizerFile("vocab.json", "{\"a\": 0}".getBytes(StandardCharsets.UTF_8))
                .optimizer(moments)
                .trainer(new Checkpoint.TrainerState(step, rng.snapshot(),
                        List.of(2.5, 1.25, Double.NaN, Double.POSITIVE_INFINITY, -0.0), Map.of("lr", 3e-4)))
                .build();
    }

    @Test
    void roundTripsEveryPartAndLoadsIntoAModel() throws IOException {
        var net = new Net(new Rng(1));
        Path dir = root.resolve("ck");
        sample(net, 42).save(dir);

        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("config.json", "model.safetensors", "optimizer.safetensors", "trainer.json",
                    "vocab.json"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        Checkpoint back = Checkpoint.load(dir);
        assertEquals(List.copyOf(net.stateDict().keySet()), List.copyOf(back.model().keySet()));
        assertEquals(Map.of("n_layer", 2L, "dropout", 0.1, "name", "tiny"), back.config());
        assertArrayEquals("{\"a\": 0}".getBytes(StandardCharsets.UTF_8), back.tokenizer().get("vocab.json"));
        assertEquals(List.of("exp_avg.embed.weight", "exp_avg.embed.bias", "exp_avg.blocks.0.weight",
                "exp_avg.blocks.0.bias", "exp_avg.blocks.1.weight", "exp_avg.blocks.1.bias"),
                List.copyOf(back.optimizer().keySet()));
        assertArrayEquals(net.embed.weight.value().mul(0.5).toDoubleArray(),
                back.optimizer().get("exp_avg.embed.weight").toDoubleArray(), 0.0);

        var trainer = back.trainer();
        assertEquals(42, trainer.step());
        assertEquals(Map.of("lr", 3e-4), trainer.extra());
        List<Double> losses = trainer.lossHistory();
        assertEquals(List.of(2.5, 1.25), losses.subList(0, 2));
        assertTrue(Double.isNaN(losses.get(2)));
        assertEquals(Double.POSITIVE_INFINITY, losses.get(3));
        assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(losses.get(4)));

        // The restored generator continues exactly where the saved one stood, spare normal included.
        var original = new Rng(99);
        original.nextGaussian();
        var resumed = new Rng(0).restore(trainer.rng());
        for (int i = 0; i < 5; i++) {
            assertEquals(original.nextGaussian(), resumed.nextGaussian());
        }

        var fresh = new Net(new Rng(2));
        back.loadInto(fresh);
        for (var e : net.stateDict().entrySet()) {
            Tensor loaded = fresh.stateDict().get(e.getKey());
            assertEquals(e.getValue().dtype(), loaded.dtype(), e.getKey());
            assertArrayEquals(e.getValue().toDoubleArray(), loaded.toDoubleArray(), 0.0, e.getKey());
        }
    }

    @Test
    void loadingIntoTheWrongModelNamesTheParameter() {
        Path dir = root.resolve("ck");
        sample(new Net(new Rng(1)), 1).save(dir);
        var wider = new Net(new Rng(3), 5);
        var e = assertThrows(ShapeException.class, () -> Checkpoint.load(dir).loadInto(wider));
        assertTrue(e.getMessage().contains("embed.weight"), e.getMessage());
    }

    @Test
    void tokenizerDirectoryIsCopiedAndReservedNamesAreRefused() throws IOException {
        Path tok = Files.createDirectories(root.resolve("tok"));
        Files.writeString(tok.resolve("merges.txt"), "a b\n");
        Files.writeString(tok.resolve("vocab.json"), "{}");
        Path dir = root.resolve("ck");
        Checkpoint.builder().model(Map.of("w", Tensor.ones(DType.F32, 2))).tokenizerDirectory(tok).build().save(dir);
        var back = Checkpoint.load(dir);
        assertEquals(List.of("merges.txt", "vocab.json"), List.copyOf(back.tokenizer().keySet()));
        Path out = Files.createDirectories(root.resolve("out"));
        back.writeTokenizerFiles(out);
        assertEquals("a b\n", Files.readString(out.resolve("merges.txt")));
        assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.builder().tokenizerFile("trainer.json", new byte[0]));
        assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.builder().tokenizerFile("../x", new byte[0]));
    }

    @Test
    void aFailedSaveLosesNothingSavedBefore() throws IOException {
        var net = new Net(new Rng(1));
        Path dir = root.resolve("ck");
        sample(net, 1).save(dir);
        byte[] modelBefore = Files.readAllBytes(dir.resolve("model.safetensors"));
        String trainerBefore = Files.readString(dir.resolve("trainer.json"));

        // Injected failure: the config holds a value JSON cannot express, found after model.safetensors is
        // already written into the new directory.
        var broken = Checkpoint.builder().model(Map.of("w", Tensor.zeros(DType.F32, 3)))
                .config(Map.of("bad", new Object())).build();
        assertThrows(IllegalArgumentException.class, () -> broken.save(dir));

        assertArrayEquals(modelBefore, Files.readAllBytes(dir.resolve("model.safetensors")));
        assertEquals(trainerBefore, Files.readString(dir.resolve("trainer.json")));
        assertEquals(1, Checkpoint.load(dir).trainer().step());
        try (Stream<Path> entries = Files.list(root)) {
            assertEquals(List.of(dir), entries.toList(), "no temporary directory left behind");
        }
    }

    @Test
    void managerKeepsTheLastKAndFindsTheLatest() {
        var manager = new CheckpointManager(root.resolve("run"), 2);
        assertEquals(Optional.empty(), manager.latest());
        var net = new Net(new Rng(1));
        for (long step : new long[] {100, 200, 300, 400}) {
            Path dir = manager.save(step, sample(net, step));
            assertEquals(String.format("step-%06d", step), dir.getFileName().toString());
        }
        assertEquals(List.of(300L, 400L), manager.steps());
        assertEquals(Optional.of(manager.directory(400)), manager.latest());
        assertEquals(400, manager.loadLatest().orElseThrow().trainer().step());
        // re-saving an existing step replaces it in place
        manager.save(400, sample(net, 401));
        assertEquals(List.of(300L, 400L), manager.steps());
        assertEquals(401, manager.loadLatest().orElseThrow().trainer().step());
        assertEquals("step-1234567", manager.directory(1_234_567).getFileName().toString());
        assertThrows(IllegalArgumentException.class, () -> new CheckpointManager(root.resolve("x"), 0));
    }

    @Test
    void aFailedOrInterruptedSaveIsNeverTheLatest() throws IOException {
        var manager = new CheckpointManager(root.resolve("run"), 3);
        var net = new Net(new Rng(1));
        manager.save(1, sample(net, 1));
        var broken = Checkpoint.builder().model(net).config(Map.of("bad", new Object())).build();
        assertThrows(IllegalArgumentException.class, () -> manager.save(2, broken));
        assertEquals(List.of(1L), manager.steps());
        assertFalse(Files.exists(manager.directory(2)));

        // A process that died mid-save leaves step-N.tmp: ignored by latest(), swept on the next start.
        Path half = Files.createDirectories(manager.root().resolve("step-000009.tmp"));
        Files.write(half.resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertEquals(Optional.of(manager.directory(1)), manager.latest());
        // A process that died while replacing step-1 (old one moved aside, new one not yet in place).
        Files.move(manager.directory(1), manager.root().resolve("step-000001.old"));
        var restarted = new CheckpointManager(manager.root(), 3);
        assertEquals(List.of(1L), restarted.steps());
        assertFalse(Files.exists(half));
        assertEquals(1, restarted.loadLatest().orElseThrow().trainer().step());
    }

    @Test
    void loadsAHuggingFaceStyleDirectoryAndRejectsNonCheckpoints() throws IOException {
        Path dir = Files.createDirectories(root.resolve("hf"));
        SafeTensors.write(dir.resolve("model.safetensors"), Map.of("w", Tensor.ones(DType.F32, 2)));
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 50257}");
        var ck = Checkpoint.load(dir);
        assertEquals(Map.of("vocab_size", 50257L), ck.config());
        assertEquals(0, ck.trainer().step());
        assertNull(ck.trainer().rng());
        assertTrue(ck.optimizer().isEmpty());

        var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(root.resolve("nothing")));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
        Path empty = Files.createDirectories(root.resolve("empty"));
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(empty));
        assertTrue(e.getMessage().contains("no model.safetensors"), e.getMessage());
        Files.writeString(dir.resolve("trainer.json"), "{\"step\": \"three\"}");
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(dir));
        assertTrue(e.getMessage().contains("trainer.json") && e.getMessage().contains("not a valid"), e.getMessage());
    }
}
