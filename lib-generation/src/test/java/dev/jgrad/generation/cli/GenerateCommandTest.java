package dev.jgrad.generation.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Tape;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.models.train.TrainableModel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerateCommandTest {
    @TempDir
    static Path tmp;
    static Path checkpoint;
    static Gpt gpt;

    /** An untrained byte-level GPT saved the way ./jgrad train saves one. */
    @BeforeAll
    static void saveATinyModel() {
        gpt = new Gpt(GptConfig.gpt2(256, 24, 1, 16, 2), new Rng(5));
        checkpoint = tmp.resolve("model");
        Checkpoint.builder()
                .model(gpt)
                .config(TrainableModel.of(gpt).config())
                .tokenizerFile("tokenizer.json", "{\"type\": \"byte\"}".getBytes(StandardCharsets.UTF_8))
                .build()
                .save(checkpoint);
    }

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code = GenerateCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Greedy continuation by full forward passes and arg-max, independent of the generation library. */
    static String greedyReference(String prompt, int newTokens) {
        int[] ids = new ByteTokenizer().encode(prompt);
        int promptLength = ids.length;
        for (int t = 0; t < newTokens; t++) {
            int[] seq = ids;
            Tensor logits = Tape.noGrad(() -> gpt.logits(seq, 1, seq.length).value());
            float[] last = logits.select(1, seq.length - 1).toFloatArray();
            int best = 0;
            for (int v = 1; v < last.length; v++) {
                if (last[v] > last[best]) {
                    best = v;
                }
            }
            ids = Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = best;
        }
        return new ByteTokenizer().decode(Arrays.copyOfRange(ids, promptLength, ids.length));
    }

    @Test
    void greedyPrintsThePromptItsContinuationAndTheSpeed() {
        Run r = run("--checkpoint", checkpoint.toString(), "--prompt", "Call me", "--max-new", "6");
        assertEquals(0, r.code, r.err);
        String[] lines = r.out.split("\n", -1);
        String expected = "Call me" + greedyReference("Call me", 6);
        assertTrue(r.out.startsWith(expected + "\n"), () -> "got " + r.out + " expected " + expected);
        String stats = lines[lines.length - 2];
        assertTrue(stats.startsWith("[max tokens; 6 tokens, ") && stats.contains("tokens/s")
                && stats.contains("ms/token") && stats.contains("prefill"), stats);
        Run streamed = run("--checkpoint", checkpoint.toString(), "--prompt", "Call me", "--max-new", "6", "--stream",
                "--no-cache");
        assertEquals(0, streamed.code, streamed.err);
        assertTrue(streamed.out.startsWith(expected + "\n"), streamed.out);
    }

    @Test
    void theContextEndsALongRequest() {
        Run r = run("--checkpoint", checkpoint.toString(), "--prompt", "0123456789", "--max-new", "100");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("[context full; 15 tokens"), r.out);   // 24 - 10 + 1
    }

    @Test
    void samplingWithASeedRepeatsAndBeamSearchRuns() {
        String[] args = {"--checkpoint", checkpoint.toString(), "--prompt", "Ish", "--strategy", "sample",
                "--temperature", "0.8", "--top-k", "20", "--top-p", "0.9", "--min-p", "0.01",
                "--repetition-penalty", "1.1", "--seed", "3", "--max-new", "8"};
        Run a = run(args);
        Run b = run(args);
        assertEquals(0, a.code, a.err);
        assertEquals(a.out.split("\n")[0], b.out.split("\n")[0]);
        Run beam = run("--checkpoint", checkpoint.toString(), "--prompt", "Ish", "--strategy", "beam", "--beams", "3",
                "--max-new", "4");
        assertEquals(0, beam.code, beam.err);
        assertTrue(beam.out.contains("3 beams, score "), beam.out);
    }

    @Test
    void usageErrorsExitWithTwoAndSayWhatIsWrong() {
        String dir = checkpoint.toString();
        expectUsage(run("--checkpoint", dir), "--prompt is required");
        expectUsage(run("--checkpoint", dir, "--prompt", ""), "--prompt is empty");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--strategy", "sample", "--top-p", "1.5"),
                "topP", "1.5");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--strategy", "sample", "--temperature", "-1"),
                "temperature", "-1");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--strategy", "sample", "--top-k", "-2"), "topK", "-2");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--strategy", "sample", "--min-p", "3"), "minP", "3");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--max-new", "-1"), "maxNewTokens", "-1");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--temperature", "0.5"), "--temperature",
                "--strategy sample");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--strategy", "beam", "--beams", "0"), "width", "0");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--strategy", "nucleus"), "--strategy", "nucleus");
        expectUsage(run("--checkpoint", dir, "--prompt", "a", "--top-q", "1"), "unknown option --top-q");
        expectUsage(run("--checkpoint", tmp.resolve("absent").toString(), "--prompt", "a"), "does not exist");
        Run tooLong = run("--checkpoint", dir, "--prompt", "x".repeat(30));
        assertEquals(1, tooLong.code, tooLong.out);
        assertTrue(tooLong.err.contains("30 tokens") && tooLong.err.contains("context holds 24"), tooLong.err);
        assertEquals(0, run("help").code);
    }

    private static void expectUsage(Run r, String... parts) {
        assertEquals(2, r.code, r.out + r.err);
        for (String part : parts) {
            assertTrue(r.err.contains(part), () -> "'" + r.err + "' lacks '" + part + "'");
        }
        assertTrue(r.err.contains("usage: generate"), r.err);
    }
}
