package dev.jgrad.generation;

import static dev.jgrad.generation.SamplerTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.models.tokenizer.Tokenizer;
import dev.jgrad.tensor.Rng;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    private static final Tokenizer BYTES = new ByteTokenizer();

    /** A byte-level table whose greedy path from each byte of {@code chain} is the next byte of it. */
    private static TableDecoder chainDecoder(int context, byte[] chain) {
        float[][] table = new float[256][256];
        Rng rng = new Rng(17);
        for (float[] row : table) {
            for (int j = 0; j < 256; j++) {
                row[j] = (float) rng.nextGaussian();
            }
        }
        for (int i = 0; i + 1 < chain.length; i++) {
            table[chain[i] & 0xFF][chain[i + 1] & 0xFF] = 10;
        }
        return new TableDecoder(context, table);
    }

    private static TableDecoder randomDecoder(int vocab, int context, long seed) {
        Rng rng = new Rng(seed);
        float[][] table = new float[vocab][vocab];
        for (float[] row : table) {
            for (int j = 0; j < vocab; j++) {
                row[j] = (float) (2 * rng.nextGaussian());
            }
        }
        return new TableDecoder(context, table);
    }

    /** A tokenizer for small test vocabularies: id i is the byte 'a' + i. */
    private static Tokenizer letters(int vocab) {
        return new Tokenizer() {
            public int vocabSize() {
                return vocab;
            }

            public int[] encode(String text) {
                return text.chars().map(c -> c - 'a').toArray();
            }

            public byte[] decodeBytes(int[] ids) {
                byte[] b = new byte[ids.length];
                for (int i = 0; i < ids.length; i++) {
                    b[i] = (byte) ('a' + ids[i]);
                }
                return b;
            }
        };
    }

    @Test
    void greedyFollowsTheTableByHand() {
        // Table rows: after token r the logits are row r; the greedy path from 'a' is a -> c -> b -> d -> c -> b ...
        float[][] table = {
                {0, 1, 3, 2},     // a: c
                {1, 0, 0, 4},     // b: d
                {0, 5, 1, 1},     // c: b
                {0, 0, 2, 1},     // d: c
        };
        var g = new Generator(new TableDecoder(32, table), letters(4));
        GenerationResult r = g.generate("a", SamplingSettings.greedy().withMaxNewTokens(6));
        assertArrayEquals(new int[] {2, 1, 3, 2, 1, 3}, r.ids());
        assertEquals("cbdcbd", r.text());
        assertEquals(FinishReason.MAX_TOKENS, r.finishReason());
        assertEquals(6, r.timings().tokens());
        // A stop token ends generation and is not part of the output.
        r = g.generate("a", SamplingSettings.greedy().withMaxNewTokens(6).withStopTokens(3));
        assertArrayEquals(new int[] {2, 1}, r.ids());
        assertEquals("cb", r.text());
        assertEquals(FinishReason.STOP_TOKEN, r.finishReason());
        assertEquals(3, r.timings().tokens(), "the stop token was generated, then dropped");
        r = g.generate("a", SamplingSettings.greedy().withMaxNewTokens(0));
        assertEquals(0, r.ids().length);
        assertEquals(FinishReason.MAX_TOKENS, r.finishReason());
    }

    @Test
    void aFullContextEndsGenerationAfterItsLastToken() {
        float[][] table = {{0, 1}, {1, 0}};          // a -> b -> a -> ...
        var g = new Generator(new TableDecoder(5, table), letters(2));
        // A 3-token prompt in a context of 5 leaves 5 - 3 + 1 = 3 new tokens: the last is never read back.
        GenerationResult r = g.generate("aba", SamplingSettings.greedy().withMaxNewTokens(10));
        assertEquals("bab", r.text());
        assertEquals(FinishReason.CONTEXT_FULL, r.finishReason());
        r = g.generate("aba", SamplingSettings.greedy().withMaxNewTokens(3));
        assertEquals("bab", r.text());
        assertEquals(FinishReason.MAX_TOKENS, r.finishReason(), "the limit asked for comes first");
        r = g.generate("ababa", SamplingSettings.greedy().withMaxNewTokens(10));
        assertEquals("b", r.text(), "a prompt filling the context still gets one token");
        assertEquals(FinishReason.CONTEXT_FULL, r.finishReason());
    }

    @Test
    void stopStringsAcrossTokenBoundariesCutTheTextAndNeverStream() {
        byte[] chain = "wxyz. fun".getBytes(StandardCharsets.UTF_8);    // distinct bytes: one greedy path
        var g = new Generator(chainDecoder(64, chain), BYTES);
        var pieces = new ArrayList<String>();
        var settings = SamplingSettings.greedy().withMaxNewTokens(20).withStopStrings("q!!", ". fu", "z. f");
        GenerationResult r = g.generate("w", settings, collect(pieces));
        assertEquals("xy", r.text(), "'z. f' completes before '. fu'");
        assertEquals(FinishReason.STOP_STRING, r.finishReason());
        assertEquals("xyz. f", new String(BYTES.decodeBytes(r.ids()), StandardCharsets.UTF_8),
                "ids run to the token that completed the stop string");
        assertEquals(r.text(), String.join("", pieces));
        r = g.generate("w", settings.withStopStrings(". f"), collect(pieces = new ArrayList<>()));
        assertEquals("xyz", r.text());
        assertEquals(r.text(), String.join("", pieces));
        // A held-back start of a stop string that never completes is delivered at the end.
        r = g.generate("w", settings.withStopStrings("unq").withMaxNewTokens(8), collect(pieces = new ArrayList<>()));
        assertEquals("xyz. fun", r.text());
        assertEquals(FinishReason.MAX_TOKENS, r.finishReason());
        assertEquals("un", pieces.get(pieces.size() - 1), "held back until the end: it could have been 'unq'");
        assertEquals(r.text(), String.join("", pieces));
    }

    private static TokenListener collect(List<String> pieces) {
        return new TokenListener() {
            public void onToken(int id, String text) {
                pieces.add(text);
            }

            public void onEnd(String text, FinishReason reason) {
                pieces.add(text);
            }
        };
    }

    @Test
    void streamingHoldsBackCharactersCutBetweenTokens() {
        byte[] chain = "xé🙂!".getBytes(StandardCharsets.UTF_8);     // x, C3 A9, F0 9F 99 82, !
        var g = new Generator(chainDecoder(64, chain), BYTES);
        var pieces = new ArrayList<String>();
        GenerationResult r = g.generate("x", SamplingSettings.greedy().withMaxNewTokens(7), collect(pieces));
        assertEquals("é🙂!", r.text());
        assertEquals(List.of("", "é", "", "", "", "🙂", "!", ""), pieces);
        // Cut inside the emoji: the end of the stream gives what decode() gives for the bytes, U+FFFD.
        pieces.clear();
        r = g.generate("x", SamplingSettings.greedy().withMaxNewTokens(4), collect(pieces));
        assertEquals(BYTES.decode(r.ids()), r.text());
        assertEquals("é\uFFFD", r.text());
        assertEquals(r.text(), String.join("", pieces));
    }

    /** Random bytes (mostly invalid UTF-8): the stream joined equals the ids decoded at once. */
    @Test
    void streamedTextEqualsDecodingAllIdsForRandomByteOutputs() {
        var g = new Generator(randomDecoder(256, 128, 4), BYTES);
        for (long seed = 0; seed < 30; seed++) {
            var pieces = new ArrayList<String>();
            var settings = SamplingSettings.sampling(1.5).withSeed(seed).withMaxNewTokens(60);
            GenerationResult r = g.generate("é", settings, collect(pieces));
            assertEquals(60, r.ids().length);
            assertEquals(BYTES.decode(r.ids()), r.text(), "seed " + seed);
            assertEquals(r.text(), String.join("", pieces), "seed " + seed);
        }
    }

    @Test
    void theSameSeedGivesTheSameOutput() {
        var g = new Generator(randomDecoder(12, 64, 9), letters(12));
        var settings = SamplingSettings.sampling(1).withTopK(8).withTopP(0.95).withSeed(7).withMaxNewTokens(40);
        GenerationResult a = g.generate("abc", settings);
        assertArrayEquals(a.ids(), g.generate("abc", settings).ids());
        assertTrue(!java.util.Arrays.equals(a.ids(), g.generate("abc", settings.withSeed(8)).ids()));
    }

    @Test
    void aBatchEqualsGeneratingEachPromptAlone() {
        var decoder = randomDecoder(10, 40, 21);
        var g = new Generator(decoder, letters(10));
        List<String> prompts = List.of("abc", "j", "fedcba", "ii");
        var base = SamplingSettings.sampling(0.9).withTopP(0.9).withRepetitionPenalty(1.3).withMaxNewTokens(30);
        List<SamplingSettings> settings = List.of(base.withSeed(1), base.withSeed(2).withStopTokens(4),
                base.withSeed(3).withMaxNewTokens(5), base.withSeed(4).withStopStrings("ab"));
        int before = decoder.batchSteps;
        List<GenerationResult> batch = g.generateBatch(prompts, settings);
        assertTrue(decoder.batchSteps > before, "the batch stepped its sequences together");
        for (int i = 0; i < prompts.size(); i++) {
            GenerationResult alone = g.generate(prompts.get(i), settings.get(i));
            assertArrayEquals(alone.ids(), batch.get(i).ids(), "prompt " + i);
            assertEquals(alone.text(), batch.get(i).text());
            assertEquals(alone.finishReason(), batch.get(i).finishReason());
        }
        assertEquals(FinishReason.MAX_TOKENS, batch.get(2).finishReason());
        // One settings for all: every prompt gets that seed.
        List<GenerationResult> same = g.generateBatch(prompts, base.withSeed(5));
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(g.generate(prompts.get(i), base.withSeed(5)).ids(), same.get(i).ids());
        }
    }

    @Test
    void aBatchOnTheKvCacheDecoderEqualsEachPromptAloneAndTheRecomputeReference() {
        var model = new dev.jgrad.models.gpt.Gpt(dev.jgrad.models.gpt.GptConfig.llama(40, 32, 2, 32, 4, 2, 64),
                new dev.jgrad.tensor.Rng(11));
        var tokenizer = letters(40);
        var cached = new Generator(Generator.decoderFor(model, true), tokenizer);
        var reference = new Generator(Generator.decoderFor(model, false), tokenizer);
        assertTrue(cached.decoder() instanceof KvCacheDecoder, cached.decoder().getClass().getName());
        List<String> prompts = List.of("abc", "j", "fedcbaabc", "ii");
        var base = SamplingSettings.sampling(1.0).withTopK(20).withMaxNewTokens(12);
        List<SamplingSettings> settings = List.of(base.withSeed(1), base.withSeed(2), base.withSeed(3), base.withSeed(4));
        List<GenerationResult> batch = cached.generateBatch(prompts, settings);
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(cached.generate(prompts.get(i), settings.get(i)).ids(), batch.get(i).ids(), "prompt " + i);
        }
        // Greedy through the cache follows the full recompute token for token (logits agree within 1e-5; a tie
        // closer than that would be a fluke of this seed, and the test would say so).
        var greedy = SamplingSettings.greedy().withMaxNewTokens(20);
        assertArrayEquals(reference.generate("abc", greedy).ids(), cached.generate("abc", greedy).ids());
    }

    @Test
    void badPromptsAndSettingsAreRefusedWithTheValues() {
        var g = new Generator(randomDecoder(4, 6, 1), letters(4));
        var greedy = SamplingSettings.greedy();
        assertMessage(() -> g.generate("", greedy), "prompt is empty");
        assertMessage(() -> g.generate("abcdabc", greedy), "7 tokens", "context holds 6", "not truncated");
        assertMessage(() -> g.generate("ab", greedy.withStopTokens(4)), "stop token 4", "[0, 4)");
        assertMessage(() -> g.generate(new int[] {1, 9}, greedy, null), "prompt token 9", "index 1");
        assertMessage(() -> g.generateBatch(List.of("a", ""), greedy), "prompt 1", "empty");
        assertMessage(() -> g.generateBatch(List.of("a", "b"), List.of(greedy)), "2 prompts", "1 settings");
        assertMessage(() -> new Generator(randomDecoder(4, 6, 1), BYTES), "256 tokens", "only 4");
    }
}
