package dev.jgrad.models.data;

import dev.jgrad.models.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Tokenizes text once into a {@link TokenFile}: a single file, or every file of a directory tree in sorted path
 * order, each file one document. With an end-of-text id, that id follows every document (GPT-2's convention),
 * so a model learns where documents end and a window crossing a boundary sees the separator.
 */
public final class TextIngest {
    private TextIngest() {}

    /** What was written. */
    public record Result(Path tokenFile, int documents, long tokens, int vocabSize, int width) {}

    /**
     * Tokenizes {@code source} (a file or a directory) into {@code out}. {@code endOfText} is -1 for none, or an
     * id; it may lie beyond the tokenizer's vocabulary (e.g. 256 after a byte tokenizer), which then grows by one.
     */
    public static Result tokenize(Path source, Tokenizer tokenizer, Path out, int endOfText) {
        List<Path> files = textFiles(source);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("TextIngest: " + source + " holds no files to tokenize");
        }
        int vocabSize = Math.max(tokenizer.vocabSize(), endOfText + 1);
        try (var writer = TokenFile.Writer.create(out, vocabSize, endOfText)) {
            for (Path file : files) {
                writer.append(tokenizer.encode(readUtf8(file)));
                if (endOfText >= 0) {
                    writer.endDocument();
                }
            }
            writer.commit();
            return new Result(out, files.size(), writer.count(), vocabSize, TokenFile.widthFor(vocabSize));
        }
    }

    /** Documents already in memory, same conventions. */
    public static Result tokenize(List<String> documents, Tokenizer tokenizer, Path out, int endOfText) {
        int vocabSize = Math.max(tokenizer.vocabSize(), endOfText + 1);
        try (var writer = TokenFile.Writer.create(out, vocabSize, endOfText)) {
            for (String doc : documents) {
                writer.append(tokenizer.encode(doc));
                if (endOfText >= 0) {
                    writer.endDocument();
                }
            }
            writer.commit();
            return new Result(out, documents.size(), writer.count(), vocabSize, TokenFile.widthFor(vocabSize));
        }
    }

    /** {@code source} itself if it is a file, else the regular, non-hidden files below it sorted by path. */
    public static List<Path> textFiles(Path source) {
        if (Files.isRegularFile(source)) {
            return List.of(source);
        }
        if (!Files.isDirectory(source)) {
            throw new IllegalArgumentException("TextIngest: " + source + " is neither a file nor a directory");
        }
        try (Stream<Path> walk = Files.walk(source)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> !isHidden(source.relativize(p)))
                    .sorted(Comparator.comparing(p -> source.relativize(p).toString()))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("TextIngest: cannot list " + source + ": " + e, e);
        }
    }

    private static boolean isHidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    /** Strict UTF-8: a malformed byte is an error naming the file, not a silent U+FFFD. */
    static String readUtf8(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("TextIngest: " + file + " is not valid UTF-8 (" + e + ")", e);
        } catch (IOException e) {
            throw new UncheckedIOException("TextIngest: cannot read " + file + ": " + e, e);
        }
    }
}
