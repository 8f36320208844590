package dev.jgrad.models.tokenizer;

import dev.jgrad.models.io.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A tokenizer as the files a checkpoint carries beside the model, and back. {@code tokenizer.json} says which
 * kind it is: {@code {"type": "byte"}} alone for {@link ByteTokenizer}; a {@link BpeTokenizer} adds the files of
 * {@link BpeTokenizer#save}.
 */
public final class TokenizerFiles {
    /** The file that names the tokenizer's kind. */
    public static final String TOKENIZER_FILE = "tokenizer.json";

    private TokenizerFiles() {}

    /** File name to content, for {@code Trainer.tokenizerFiles} or {@code Checkpoint.Builder.tokenizerFile}. */
    public static Map<String, byte[]> of(Tokenizer tokenizer) {
        Map<String, byte[]> files = new TreeMap<>();
        switch (tokenizer) {
            case ByteTokenizer b -> files.put(TOKENIZER_FILE,
                    Json.writePretty(Map.of("type", "byte")).getBytes(StandardCharsets.UTF_8));
            case BpeTokenizer bpe -> {
                try {
                    Path tmp = Files.createTempDirectory("jgrad-tokenizer");
                    try {
                        bpe.save(tmp);
                        try (Stream<Path> list = Files.list(tmp)) {
                            for (Path f : list.toList()) {
                                files.put(f.getFileName().toString(), Files.readAllBytes(f));
                            }
                        }
                    } finally {
                        try (Stream<Path> walk = Files.walk(tmp)) {
                            for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) {
                                Files.delete(f);
                            }
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("TokenizerFiles.of: cannot save the tokenizer: " + e, e);
                }
            }
            default -> throw new IllegalArgumentException("TokenizerFiles.of: no file format for tokenizer "
                    + tokenizer.getClass().getName());
        }
        return files;
    }

    /** The tokenizer saved in {@code dir} (a checkpoint directory); an error names what is missing. */
    public static Tokenizer load(Path dir) {
        Path meta = dir.resolve(TOKENIZER_FILE);
        if (!Files.isRegularFile(meta)) {
            throw new IllegalArgumentException("TokenizerFiles.load: " + dir + " has no " + TOKENIZER_FILE
                    + " (not a checkpoint saved with its tokenizer)");
        }
        Map<String, Object> json;
        try {
            json = Json.parseObject(Files.readString(meta));
        } catch (IOException e) {
            throw new UncheckedIOException("TokenizerFiles.load: cannot read " + meta + ": " + e, e);
        }
        return "byte".equals(json.get("type")) ? new ByteTokenizer() : BpeTokenizer.load(dir);
    }
}
