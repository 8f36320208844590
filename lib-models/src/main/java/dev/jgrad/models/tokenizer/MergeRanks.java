package dev.jgrad.models.tokenizer;

/**
 * (left id, right id) to merge rank, an open-addressing hash table on primitive keys: encoding looks up every
 * adjacent pair of a new word, so this lookup is the inner loop of BPE.
 */
final class MergeRanks {
    static final int NONE = Integer.MAX_VALUE;

    private final long[] keys;
    private final int[] ranks;
    private final int mask;

    MergeRanks(int[] left, int[] right) {
        int capacity = Integer.highestOneBit(Math.max(4, left.length * 2 + 1)) << 1; // load factor below 1/2
        keys = new long[capacity];
        ranks = new int[capacity];
        java.util.Arrays.fill(ranks, NONE);
        mask = capacity - 1;
        for (int rank = 0; rank < left.length; rank++) {
            long key = key(left[rank], right[rank]);
            int slot = slot(key);
            while (ranks[slot] != NONE && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            if (ranks[slot] == NONE) { // a repeated pair keeps its first (lowest) rank
                keys[slot] = key;
                ranks[slot] = rank;
            }
        }
    }

    static long key(int left, int right) {
        return (long) left << 32 | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }

    /** The rank of merging {@code left, right}, or {@link #NONE}. */
    int rank(int left, int right) {
        long key = key(left, right);
        int slot = slot(key);
        while (true) {
            int rank = ranks[slot];
            if (rank == NONE || keys[slot] == key) {
                return rank;
            }
            slot = (slot + 1) & mask;
        }
    }
}
