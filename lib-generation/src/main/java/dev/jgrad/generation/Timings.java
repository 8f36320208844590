package dev.jgrad.generation;

import java.util.Locale;

/**
 * How long one generation took.
 *
 * @param prefillNanos reading the prompt (one batched pass, which also gives the first token's logits)
 * @param decodeNanos  everything after: choosing every new token and reading all but the last back in
 * @param tokens       tokens generated (a stop token counts: it was produced, then dropped)
 */
public record Timings(long prefillNanos, long decodeNanos, int tokens) {
    public double prefillMs() {
        return prefillNanos / 1e6;
    }

    public double decodeMs() {
        return decodeNanos / 1e6;
    }

    /** Decode time per generated token (0 when none was generated). */
    public double msPerToken() {
        return tokens == 0 ? 0 : decodeMs() / tokens;
    }

    /** Generated tokens per second of decode time (0 when none was generated). */
    public double tokensPerSecond() {
        return tokens == 0 || decodeNanos == 0 ? 0 : tokens * 1e9 / decodeNanos;
    }

    /** For example {@code "42 tokens, 118.3 tokens/s, 8.45 ms/token (prefill 12.1 ms)"}. */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d tokens, %.1f tokens/s, %.2f ms/token (prefill %.1f ms)", tokens,
                tokensPerSecond(), msPerToken(), prefillMs());
    }
}
