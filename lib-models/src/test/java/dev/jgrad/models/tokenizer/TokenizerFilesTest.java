package dev.jgrad.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerFilesTest {
    @TempDir
    Path dir;

    private static void write(Path dir, Map<String, byte[]> files) throws Exception {
        for (var e : files.entrySet()) {
            Files.write(dir.resolve(e.getKey()), e.getValue());
        }
    }

    @Test
    void aBpeTokenizerComesBackFromItsFilesWithTheSameIds() throws Exception {
        String text = "the whale, the whale! <|endoftext|> the sea and the ship and the whale";
        var bpe = BpeTokenizer.train(text.repeat(20), 300, List.of(BpeTokenizer.END_OF_TEXT));
        write(dir, TokenizerFiles.of(bpe));
        Tokenizer back = TokenizerFiles.load(dir);
        assertInstanceOf(BpeTokenizer.class, back);
        assertArrayEquals(bpe.encode(text), back.encode(text));
    }

    @Test
    void aByteTokenizerIsOneSmallFile() throws Exception {
        var files = TokenizerFiles.of(new ByteTokenizer());
        assertTrue(files.keySet().equals(java.util.Set.of(TokenizerFiles.TOKENIZER_FILE)), files.keySet().toString());
        write(dir, files);
        assertInstanceOf(ByteTokenizer.class, TokenizerFiles.load(dir));
    }

    @Test
    void aDirectoryWithoutTokenizerFilesIsNamedInTheError() {
        var e = assertThrows(IllegalArgumentException.class, () -> TokenizerFiles.load(dir));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}
