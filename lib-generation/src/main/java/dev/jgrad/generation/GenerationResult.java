package dev.jgrad.generation;

/**
 * One generated continuation.
 *
 * @param ids          the generated token ids, without the prompt and without a final stop token; when a stop
 *                     string ended generation they include the token that completed it
 * @param text         the generated text, ending before a stop string; invalid UTF-8 (a character the last token
 *                     cut in two) is U+FFFD, as in {@code Tokenizer.decode}
 * @param finishReason why generation ended
 * @param timings      prefill and per-token times
 */
public record GenerationResult(int[] ids, String text, FinishReason finishReason, Timings timings) {
    public GenerationResult {
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }
}
