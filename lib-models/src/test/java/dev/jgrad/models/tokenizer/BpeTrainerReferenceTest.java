package dev.jgrad.models.tokenizer;

import dev.jgrad.models.data.Corpora;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The incremental trainer against the textbook algorithm written independently here: pre-tokenize with the
 * GPT-2 regex, then before every merge recount all pairs from scratch and take the most frequent, ties to the
 * smallest (left, right).
 */
class BpeTrainerReferenceTest {
    static List<int[]> referenceMerges(String text, int merges) {
        Map<List<Integer>, Long> words = new HashMap<>();
        for (String piece : Gpt2PreTokenizerTest.regexPieces(text)) {
            List<Integer> ids = new ArrayList<>();
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                ids.add(b & 0xFF);
            }
            words.merge(ids, 1L, Long::sum);
        }
        List<int[]> result = new ArrayList<>();
        for (int step = 0; step < merges; step++) {
            Map<Long, Long> counts = new HashMap<>();
            for (Map.Entry<List<Integer>, Long> word : words.entrySet()) {
                List<Integer> ids = word.getKey();
                for (int i = 0; i + 1 < ids.size(); i++) {
                    counts.merge((long) ids.get(i) << 32 | ids.get(i + 1), word.getValue(), Long::sum);
                }
            }
            long best = -1, bestCount = 0;
            for (Map.Entry<Long, Long> pair : counts.entrySet()) {
                if (pair.getValue() > bestCount || (pair.getValue() == bestCount && pair.getKey() < best)) {
                    best = pair.getKey();
                    bestCount = pair.getValue();
                }
            }
            if (best < 0) {
                break;
            }
            int left = (int) (best >>> 32), right = (int) best, merged = 256 + step;
            result.add(new int[] {left, right});
            Map<List<Integer>, Long> next = new HashMap<>();
            for (Map.Entry<List<Integer>, Long> word : words.entrySet()) {
                List<Integer> ids = word.getKey(), out = new ArrayList<>();
                for (int i = 0; i < ids.size(); i++) {
                    if (i + 1 < ids.size() && ids.get(i) == left && ids.get(i + 1) == right) {
                        out.add(merged);
                        i++;
                    } else {
                        out.add(ids.get(i));
                    }
                }
                next.merge(out, word.getValue(), Long::sum);
            }
            words = next;
        }
        return result;
    }

    private static void assertSameMerges(String text, int merges) {
        List<int[]> expected = referenceMerges(text, merges);
        List<BpeTokenizer.Merge> actual = BpeTokenizer.train(text, 256 + merges, List.of()).merges();
        assertEquals(expected.size(), actual.size(), "number of merges");
        for (int i = 0; i < expected.size(); i++) {
            int rank = i;
            assertEquals(expected.get(i)[0] + "," + expected.get(i)[1],
                    actual.get(i).left() + "," + actual.get(i).right(), () -> "merge " + rank);
        }
    }

    @Test
    void sameMergesAsFullRecountOnRealText() throws IOException {
        String book = Corpora.mobyDick();
        assertSameMerges(book.substring(0, 40_000), 300);
    }

    @Test
    void sameMergesAsFullRecountOnRepetitiveText() {
        // Runs of one letter make overlapping pairs (a,a), the case where incremental updates go wrong most easily.
        assertSameMerges("aaaaaaa aaaa aaa abababab ab aaaabbbb baaab !!!!!! ?!?!?! 1111 11 \n\n\n  \n", 60);
    }
}
