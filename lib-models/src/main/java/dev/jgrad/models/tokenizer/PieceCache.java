package dev.jgrad.models.tokenizer;

import java.util.Arrays;

/**
 * Pre-token bytes to their BPE ids, keyed by a range of the input array so a hit allocates nothing. Natural text
 * repeats a small set of words, so most pieces are hits. Bounded: when full it starts over. One per thread.
 */
final class PieceCache {
    static final int MAX_PIECE_BYTES = 64; // longer pieces are rare and would crowd out the common ones
    private static final int CAPACITY = 1 << 16;
    private static final int MAX_ENTRIES = CAPACITY / 2;

    private final byte[][] keys = new byte[CAPACITY][];
    private final int[][] values = new int[CAPACITY][];
    private int size;

    static int hash(byte[] s, int from, int to) {
        int h = 0x811C9DC5;
        for (int i = from; i < to; i++) {
            h = (h ^ s[i]) * 0x01000193;
        }
        return h ^ (h >>> 16);
    }

    int[] get(byte[] s, int from, int to, int hash) {
        int mask = CAPACITY - 1;
        for (int slot = hash & mask; ; slot = (slot + 1) & mask) {
            byte[] key = keys[slot];
            if (key == null) {
                return null;
            }
            if (Arrays.equals(key, 0, key.length, s, from, to)) {
                return values[slot];
            }
        }
    }

    void put(byte[] s, int from, int to, int hash, int[] ids) {
        if (size >= MAX_ENTRIES) {
            Arrays.fill(keys, null);
            Arrays.fill(values, null);
            size = 0;
        }
        int mask = CAPACITY - 1;
        int slot = hash & mask;
        while (keys[slot] != null) {
            slot = (slot + 1) & mask;
        }
        keys[slot] = Arrays.copyOfRange(s, from, to);
        values[slot] = ids;
        size++;
    }
}
