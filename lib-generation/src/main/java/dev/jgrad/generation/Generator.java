package dev.jgrad.generation;

import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Generates text from a prompt with a {@link Decoder} and a {@link Tokenizer}, one {@link Sampler} per sequence.
 *
 * <p>Limits, decided here so they are the same for every caller:
 * <ul>
 *   <li>An empty prompt (no tokens) is refused: the model needs at least one token to condition on.</li>
 *   <li>A prompt longer than the context is refused, not truncated: cutting the user's text silently changes what
 *       is generated. The error names both lengths.</li>
 *   <li>When prompt plus new tokens would not fit, generation stops when the context is full, with
 *       {@link FinishReason#CONTEXT_FULL}. A prompt of {@code L} tokens in a context of {@code C} allows
 *       {@code C - L + 1} new tokens: the last one is chosen from the logits and never needs reading back.</li>
 * </ul>
 *
 * <p>Batches: {@link #generateBatch} runs several prompts side by side, each with its own decoder state and its own
 * sampler seeded with its settings' seed, and one batched {@link Decoder#step(Decoder.State[], int[], float[][])}
 * per token; each result equals generating that prompt alone with the same settings.
 */
public final class Generator {
    private final Decoder decoder;
    private final Tokenizer tokenizer;

    public Generator(Decoder decoder, Tokenizer tokenizer) {
        if (tokenizer.vocabSize() > decoder.vocabSize()) {
            throw new IllegalArgumentException("Generator: the tokenizer has " + tokenizer.vocabSize()
                    + " tokens but the model only " + decoder.vocabSize());
        }
        this.decoder = decoder;
        this.tokenizer = tokenizer;
    }

    /**
     * The decoder to generate with for {@code model}: with {@code kvCache} the one that keeps each sequence's keys
     * and values, otherwise {@link RecomputeDecoder}, the reference that reruns the whole sequence every token.
     * This is the one place the choice is made.
     */
    public static Decoder decoderFor(Gpt model, boolean kvCache) {
        return kvCache ? new KvCacheDecoder(model) : new RecomputeDecoder(model);
    }

    public Decoder decoder() {
        return decoder;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public GenerationResult generate(String prompt, SamplingSettings settings) {
        return generate(prompt, settings, null);
    }

    /** Generates, handing each token and its text to {@code listener} (may be null) as soon as it is chosen. */
    public GenerationResult generate(String prompt, SamplingSettings settings, TokenListener listener) {
        return generate(tokenizer.encode(prompt), settings, listener);
    }

    /** Generates from prompt token ids. */
    public GenerationResult generate(int[] prompt, SamplingSettings settings, TokenListener listener) {
        return run(new int[][] {prompt}, new SamplingSettings[] {settings}, new TokenListener[] {listener}).get(0);
    }

    /** Each prompt with the same settings (and seed); result i equals {@code generate(prompts.get(i), settings)}. */
    public List<GenerationResult> generateBatch(List<String> prompts, SamplingSettings settings) {
        return generateBatch(prompts, java.util.Collections.nCopies(prompts.size(), settings));
    }

    /** Prompt i with settings i (e.g. a different seed each); result i equals generating it alone. */
    public List<GenerationResult> generateBatch(List<String> prompts, List<SamplingSettings> settings) {
        if (prompts.size() != settings.size()) {
            throw new IllegalArgumentException("Generator.generateBatch: " + prompts.size() + " prompts but "
                    + settings.size() + " settings");
        }
        int[][] ids = new int[prompts.size()][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokenizer.encode(prompts.get(i));
        }
        return run(ids, settings.toArray(SamplingSettings[]::new), new TokenListener[ids.length]);
    }

    // ------------------------------------------------------------------------------------------ the loop

    private List<GenerationResult> run(int[][] prompts, SamplingSettings[] settings, TokenListener[] listeners) {
        Sequence[] sequences = new Sequence[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            String op = prompts.length == 1 ? "Generator" : "Generator (prompt " + i + ")";
            checkPrompt(op, prompts[i], settings[i]);
            sequences[i] = new Sequence(prompts[i], settings[i], listeners[i]);
        }
        List<Sequence> active = new ArrayList<>();
        for (Sequence s : sequences) {
            if (s.settings.maxNewTokens() == 0) {
                s.finish(FinishReason.MAX_TOKENS);
                continue;
            }
            long start = System.nanoTime();
            decoder.prefill(s.state, s.prompt, 0, s.prompt.length, s.logits);
            s.prefillNanos = System.nanoTime() - start;
            active.add(s);
        }
        long decodeStart = System.nanoTime();
        Decoder.State[] states = null;
        int[] tokens = null;
        float[][] logits = null;
        while (!active.isEmpty()) {
            // Choose each sequence's next token; those that end drop out of the batch.
            boolean changed = false;
            for (int i = active.size() - 1; i >= 0; i--) {
                Sequence s = active.get(i);
                if (!s.advance(decoder.contextLength())) {
                    s.decodeNanos = System.nanoTime() - decodeStart;
                    active.remove(i);
                    changed = true;
                }
            }
            if (active.isEmpty()) {
                break;
            }
            if (active.size() == 1) {
                Sequence s = active.get(0);
                decoder.step(s.state, s.lastToken, s.logits);
                continue;
            }
            if (states == null || changed) {        // new arrays only when the batch shrinks
                states = new Decoder.State[active.size()];
                tokens = new int[active.size()];
                logits = new float[active.size()][];
                for (int i = 0; i < states.length; i++) {
                    states[i] = active.get(i).state;
                    logits[i] = active.get(i).logits;
                }
            }
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = active.get(i).lastToken;
            }
            decoder.step(states, tokens, logits);
        }
        List<GenerationResult> results = new ArrayList<>(sequences.length);
        for (Sequence s : sequences) {
            results.add(s.result());
        }
        return results;
    }

    private void checkPrompt(String op, int[] prompt, SamplingSettings settings) {
        if (settings == null) {
            throw new IllegalArgumentException(op + ": settings are null");
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException(op + ": the prompt is empty; the model needs at least one token "
                    + "to condition on");
        }
        if (prompt.length > decoder.contextLength()) {
            throw new IllegalArgumentException(op + ": the prompt has " + prompt.length + " tokens but the context "
                    + "holds " + decoder.contextLength() + " (prompts are not truncated; shorten it)");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= decoder.vocabSize()) {
                throw new IllegalArgumentException(op + ": prompt token " + prompt[i] + " at index " + i
                        + " is outside the vocabulary [0, " + decoder.vocabSize() + ")");
            }
        }
        for (int id : settings.stopTokens()) {
            if (id >= decoder.vocabSize()) {
                throw new IllegalArgumentException(op + ": stop token " + id + " is outside the vocabulary [0, "
                        + decoder.vocabSize() + ")");
            }
        }
    }

    /** One sequence being generated: its state, sampler, output so far and what its listener has been given. */
    private final class Sequence {
        final int[] prompt;
        final SamplingSettings settings;
        final TokenListener listener;
        final Decoder.State state = decoder.newState();
        final float[] logits = new float[decoder.vocabSize()];
        final Sampler sampler;
        final Utf8StreamDecoder utf8 = new Utf8StreamDecoder();
        final StringBuilder text = new StringBuilder();
        final int longestStop;
        final int[] oneId = new int[1];
        int[] ids = new int[16];
        int count;
        int lastToken;
        int delivered;          // text[0, delivered) has gone to the listener
        int searchedTo;         // stop strings cannot start before this index of text any more
        FinishReason finishReason;
        long prefillNanos;
        long decodeNanos;

        Sequence(int[] prompt, SamplingSettings settings, TokenListener listener) {
            this.prompt = prompt.clone();
            this.settings = settings;
            this.listener = listener;
            this.sampler = new Sampler(settings, decoder.vocabSize());
            sampler.observe(this.prompt, 0, this.prompt.length);
            int longest = 0;
            for (String stop : settings.stopStrings()) {
                longest = Math.max(longest, stop.length());
            }
            this.longestStop = longest;
        }

        /** Chooses the next token from {@link #logits}; false when the sequence has ended. */
        boolean advance(int contextLength) {
            int id = sampler.next(logits);
            if (settings.isStopToken(id)) {
                return finish(FinishReason.STOP_TOKEN);
            }
            if (count == ids.length) {
                ids = Arrays.copyOf(ids, 2 * count);
            }
            ids[count++] = id;
            lastToken = id;
            sampler.observe(id);
            oneId[0] = id;
            text.append(utf8.feed(tokenizer.decodeBytes(oneId)));
            int stopAt = findStopString();
            if (stopAt >= 0) {
                text.setLength(stopAt);
                deliver(id, stopAt);
                return finish(FinishReason.STOP_STRING);
            }
            deliver(id, text.length() - heldBackForStops());
            if (count == settings.maxNewTokens()) {
                return finish(FinishReason.MAX_TOKENS);
            }
            if (state.length() == contextLength) {
                return finish(FinishReason.CONTEXT_FULL);
            }
            return true;
        }

        /** The index of the first stop string in the text, or -1. Searches only where a new one can start. */
        private int findStopString() {
            int first = -1;
            for (String stop : settings.stopStrings()) {
                int at = text.indexOf(stop, searchedTo);
                if (at >= 0 && (first < 0 || at < first)) {
                    first = at;
                }
            }
            searchedTo = Math.max(0, text.length() - longestStop + 1);
            return first;
        }

        /** The length of the longest end of the text that begins some stop string, so it is not shown yet. */
        private int heldBackForStops() {
            int held = 0;
            for (String stop : settings.stopStrings()) {
                for (int n = Math.min(stop.length() - 1, text.length()); n > held; n--) {
                    if (endsWith(stop, n)) {
                        held = n;
                        break;
                    }
                }
            }
            return held;
        }

        private boolean endsWith(String stop, int n) {
            int from = text.length() - n;
            for (int i = 0; i < n; i++) {
                if (text.charAt(from + i) != stop.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        private void deliver(int id, int upTo) {
            if (listener != null) {
                String piece = upTo > delivered ? text.substring(delivered, upTo) : "";
                delivered = Math.max(delivered, upTo);
                listener.onToken(id, piece);
            }
        }

        boolean finish(FinishReason reason) {
            finishReason = reason;
            if (reason != FinishReason.STOP_STRING) {
                text.append(utf8.finish());   // a character the last token cut in two: U+FFFD, as decode() gives
            }
            if (listener != null) {
                listener.onEnd(text.substring(Math.min(delivered, text.length())), reason);
                delivered = text.length();
            }
            return false;
        }

        GenerationResult result() {
            return new GenerationResult(Arrays.copyOf(ids, count), text.toString(), finishReason,
                    new Timings(prefillNanos, decodeNanos, count + (finishReason == FinishReason.STOP_TOKEN ? 1 : 0)));
        }
    }
}
