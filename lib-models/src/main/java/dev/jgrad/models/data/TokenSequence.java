package dev.jgrad.models.data;

import java.util.Objects;

/** A read-only run of token ids, in memory ({@link #of}) or memory-mapped from disk ({@link TokenFile}). */
public interface TokenSequence {
    long length();

    /** The id at {@code index}, in [0, {@link #length()}). */
    int get(long index);

    /** Copies {@code count} ids starting at {@code from} into {@code dst[dstOffset...]}. */
    default void copy(long from, int[] dst, int dstOffset, int count) {
        Objects.checkFromIndexSize(from, count, length());
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = get(from + i);
        }
    }

    /** Views {@code ids} (not copied). */
    static TokenSequence of(int[] ids) {
        return new Array(ids);
    }

    /** An in-memory sequence. */
    record Array(int[] ids) implements TokenSequence {
        @Override
        public long length() {
            return ids.length;
        }

        @Override
        public int get(long index) {
            return ids[Math.toIntExact(Objects.checkIndex(index, ids.length))];
        }

        @Override
        public void copy(long from, int[] dst, int dstOffset, int count) {
            Objects.checkFromIndexSize(from, count, ids.length);
            System.arraycopy(ids, (int) from, dst, dstOffset, count);
        }
    }
}
