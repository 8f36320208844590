package dev.jgrad.bench;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import dev.jgrad.models.data.Corpora;
import dev.jgrad.models.tokenizer.BpeTokenizer;
import dev.jgrad.tensor.Parallel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GPT-2 BPE encoding of real text: jgrad's {@link BpeTokenizer#gpt2()} ({@code gpt2Encode}) against jtokkit's
 * r50k_base ({@code jtokkitEncode}, tiktoken's GPT-2 encoding in Java) on the same text in the same run. The
 * table shows MB/s (10^6 bytes of UTF-8 input per second) with jtokkit as the reference column.
 *
 * <p>The text is Moby Dick from the jgrad cache ({@code ./jgrad fetch moby-dick}) followed by its upper-cased
 * copy (other merges, longer pieces), cut to exactly {@code size} KiB of UTF-8. {@code size} is fixed at 2048
 * (2 MiB); it is a parameter only so the rows fit the table's (op, size, threads) key. Encoding is
 * single-threaded in both libraries: {@code threads} sets jgrad's kernel thread count, which encoding does not
 * use, so its rows should agree. Setup checks that both produce the same ids.
 *
 * <p>jgrad keeps a per-thread cache of pre-token pieces across calls, so after JMH's warmup this is the speed of
 * encoding text whose words have been seen before (as when encoding a large corpus: the cache fills within the
 * first few hundred KB and stays bounded).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmn512m"})
public class TokenizerBench {
    static final int SIZE_KIB = 2048;

    @Param({"2048"})
    public int size;

    @Param({"1"})
    public int threads;

    private String text;
    private BpeTokenizer gpt2;
    private Encoding jtokkit;

    @Setup
    public void setup() {
        if (size != SIZE_KIB) {
            throw new IllegalArgumentException("TokenizerBench: size is the KiB of text encoded, fixed at " + SIZE_KIB
                    + ", got " + size);
        }
        Parallel.setThreads(threads);
        String book = Corpora.mobyDick();
        text = exactBytes(book + book.toUpperCase(Locale.ROOT), size * 1024);
        gpt2 = BpeTokenizer.gpt2();
        jtokkit = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
        if (!Arrays.equals(gpt2.encodeOrdinary(text), jtokkit.encodeOrdinary(text).toArray())) {
            throw new IllegalStateException("TokenizerBench: jgrad and jtokkit disagree on the benchmark text");
        }
    }

    /** The longest prefix of {@code s} (whole code points) within {@code bytes} UTF-8 bytes, padded with spaces. */
    static String exactBytes(String s, int bytes) {
        if (s.getBytes(StandardCharsets.UTF_8).length < bytes) {
            throw new IllegalArgumentException("TokenizerBench: the corpus has fewer than " + bytes + " bytes");
        }
        int used = 0;
        int end = 0;
        while (end < s.length()) {
            int cp = s.codePointAt(end);
            int length = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (used + length > bytes) {
                break;
            }
            used += length;
            end += Character.charCount(cp);
        }
        return s.substring(0, end) + " ".repeat(bytes - used);
    }

    @Benchmark
    public int[] gpt2Encode() {
        return gpt2.encodeOrdinary(text);
    }

    @Benchmark
    public IntArrayList jtokkitEncode() {
        return jtokkit.encodeOrdinary(text);
    }
}
