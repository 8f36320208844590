package dev.jgrad.models.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Trains byte-level BPE. The texts are cut at special tokens and pre-tokenized as {@link BpeTokenizer} does, and
 * identical pieces are counted once with their frequency ("words"). Ids 0..255 are the bytes. Each step merges
 * the adjacent pair with the highest total count over all words into the next id; ties go to the smallest
 * (left id, right id), i.e. to pairs of older tokens, so training is deterministic. Training stops at
 * {@code vocabSize - specials} tokens, or earlier when no pair is left (every word is one token); the special
 * tokens then take the next ids.
 *
 * <p>Counts are updated incrementally: each pair keeps the list of words it occurs in, a merge rewrites only
 * those words and adjusts the counts of the pairs around each merged occurrence. A max-heap holds a count for
 * every pair; since a merge only lowers the counts of existing pairs (new pairs all contain the new token), an
 * entry is an upper bound, and an out-of-date entry popped from the top is pushed back with its current count.
 */
final class BpeTrainer {
    private BpeTrainer() {}

    /** Count and the words (indices, possibly repeated or out of date) of one pair. */
    private static final class PairStats {
        long count;
        int[] words = new int[4];
        int wordCount;

        void addWord(int word) {
            if (wordCount > 0 && words[wordCount - 1] == word) {
                return;
            }
            if (wordCount == words.length) {
                words = Arrays.copyOf(words, wordCount * 2);
            }
            words[wordCount++] = word;
        }
    }

    private record HeapEntry(long count, int left, int right) {}

    private final Map<Long, PairStats> pairs = new HashMap<>();
    private int[][] symbols;
    private int[] lengths;
    private long[] wordCounts;

    static BpeTokenizer train(Iterable<String> texts, int vocabSize, List<String> specialTokens) {
        Set<String> distinct = new HashSet<>();
        for (String special : specialTokens) {
            if (special == null || special.isEmpty()) {
                throw new IllegalArgumentException("BpeTokenizer.train: special tokens cannot be null or empty");
            }
            if (!distinct.add(special)) {
                throw new IllegalArgumentException("BpeTokenizer.train: special token " + special + " is listed twice");
            }
        }
        int minimum = 256 + specialTokens.size();
        if (vocabSize < minimum) {
            throw new IllegalArgumentException("BpeTokenizer.train: vocabSize " + vocabSize + " is below 256 bytes + "
                    + specialTokens.size() + " special tokens = " + minimum);
        }
        BpeTrainer trainer = new BpeTrainer();
        trainer.countWords(texts, specialTokens);
        List<int[]> merges = trainer.merge(vocabSize - minimum);

        int tokens = 256 + merges.size();
        byte[][] tokenBytes = new byte[tokens + specialTokens.size()][];
        for (int b = 0; b < 256; b++) {
            tokenBytes[b] = new byte[] {(byte) b};
        }
        for (int i = 0; i < merges.size(); i++) {
            tokenBytes[256 + i] = BpeTokenizer.concat(tokenBytes[merges.get(i)[0]], tokenBytes[merges.get(i)[1]]);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (int i = 0; i < specialTokens.size(); i++) {
            tokenBytes[tokens + i] = specialTokens.get(i).getBytes(StandardCharsets.UTF_8);
            specials.put(specialTokens.get(i), tokens + i);
        }
        return new BpeTokenizer(tokenBytes, merges, specials);
    }

    /** Pre-tokenizes every text (outside special tokens) and turns distinct pieces into words of byte ids. */
    private void countWords(Iterable<String> texts, List<String> specialTokens) {
        Map<String, long[]> counts = new HashMap<>(); // piece bytes as a Latin-1 string -> count
        byte[][] specials = new byte[specialTokens.size()][];
        for (int i = 0; i < specials.length; i++) {
            specials[i] = specialTokens.get(i).getBytes(StandardCharsets.UTF_8);
        }
        for (String text : texts) {
            byte[] s = text.getBytes(StandardCharsets.UTF_8);
            int p = 0;
            while (p < s.length) {
                int stop = s.length, skip = 0;
                for (byte[] special : specials) { // earliest occurrence; at equal positions the longest
                    int at = indexOf(s, special, p, stop + special.length);
                    if (at >= 0 && (at < stop || special.length > skip)) {
                        stop = at;
                        skip = special.length;
                    }
                }
                while (p < stop) {
                    int end = Gpt2PreTokenizer.pieceEnd(s, p, stop);
                    counts.computeIfAbsent(new String(s, p, end - p, StandardCharsets.ISO_8859_1), k -> new long[1])[0]++;
                    p = end;
                }
                p = stop + skip;
            }
        }
        int n = counts.size();
        symbols = new int[n][];
        lengths = new int[n];
        wordCounts = new long[n];
        int w = 0;
        for (Map.Entry<String, long[]> entry : counts.entrySet()) {
            String piece = entry.getKey();
            int[] ids = new int[piece.length()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = piece.charAt(i);
            }
            symbols[w] = ids;
            lengths[w] = ids.length;
            wordCounts[w] = entry.getValue()[0];
            for (int i = 0; i + 1 < ids.length; i++) {
                PairStats stats = pairs.computeIfAbsent(MergeRanks.key(ids[i], ids[i + 1]), k -> new PairStats());
                stats.count += wordCounts[w];
                stats.addWord(w);
            }
            w++;
        }
    }

    /** First index of {@code pattern} in s[from, to), or -1. */
    private static int indexOf(byte[] s, byte[] pattern, int from, int to) {
        int last = Math.min(to, s.length) - pattern.length;
        for (int i = from; i <= last; i++) {
            if (Arrays.equals(s, i, i + pattern.length, pattern, 0, pattern.length)) {
                return i;
            }
        }
        return -1;
    }

    private List<int[]> merge(int maxMerges) {
        PriorityQueue<HeapEntry> heap = new PriorityQueue<>((a, b) -> a.count != b.count
                ? Long.compare(b.count, a.count)
                : a.left != b.left ? Integer.compare(a.left, b.left) : Integer.compare(a.right, b.right));
        for (Map.Entry<Long, PairStats> entry : pairs.entrySet()) {
            long key = entry.getKey();
            heap.add(new HeapEntry(entry.getValue().count, (int) (key >>> 32), (int) key));
        }
        int[] lastVisit = new int[symbols.length];
        Arrays.fill(lastVisit, -1);
        List<int[]> merges = new ArrayList<>();
        Set<Long> created = new HashSet<>();
        while (merges.size() < maxMerges && !heap.isEmpty()) {
            HeapEntry top = heap.poll();
            PairStats stats = pairs.get(MergeRanks.key(top.left, top.right));
            if (stats.count != top.count) { // out of date: counts only went down since it was pushed
                if (stats.count > 0) {
                    heap.add(new HeapEntry(stats.count, top.left, top.right));
                }
                continue;
            }
            int newId = 256 + merges.size();
            merges.add(new int[] {top.left, top.right});
            created.clear();
            int[] words = Arrays.copyOf(stats.words, stats.wordCount);
            for (int word : words) {
                if (lastVisit[word] != newId) {
                    lastVisit[word] = newId;
                    mergeInWord(word, top.left, top.right, newId, created);
                }
            }
            pairs.remove(MergeRanks.key(top.left, top.right));
            for (long key : created) {
                long count = pairs.get(key).count;
                if (count > 0) {
                    heap.add(new HeapEntry(count, (int) (key >>> 32), (int) key));
                }
            }
        }
        return merges;
    }

    /** Replaces every (left, right) in the word by {@code merged}, left to right, adjusting the pair counts. */
    private void mergeInWord(int word, int left, int right, int merged, Set<Long> created) {
        int[] s = symbols[word];
        int n = lengths[word];
        long c = wordCounts[word];
        for (int i = 0; i + 1 < n; i++) {
            if (s[i] != left || s[i + 1] != right) {
                continue;
            }
            if (i > 0) {
                addCount(s[i - 1], left, -c, word, null);
                addCount(s[i - 1], merged, c, word, created);
            }
            if (i + 2 < n) {
                addCount(right, s[i + 2], -c, word, null);
                addCount(merged, s[i + 2], c, word, created);
            }
            s[i] = merged;
            System.arraycopy(s, i + 2, s, i + 1, n - i - 2);
            n--;
        }
        lengths[word] = n;
    }

    private void addCount(int left, int right, long delta, int word, Set<Long> created) {
        long key = MergeRanks.key(left, right);
        PairStats stats = pairs.computeIfAbsent(key, k -> new PairStats());
        stats.count += delta;
        if (created != null) {
            stats.addWord(word);
            created.add(key);
        }
    }
}
