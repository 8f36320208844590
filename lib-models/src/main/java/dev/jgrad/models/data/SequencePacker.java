package dev.jgrad.models.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Turns a stream of documents, each usually much shorter than a context window, into full batches: documents
 * are concatenated with an end-of-text id after each, the stream is cut into windows of {@code context + 1}
 * tokens that overlap by one (so every token is a target exactly once, as in {@link TokenDataset#windows}),
 * and windows are held back until {@code batchSize} of them make a batch. No padding is ever produced.
 */
public final class SequencePacker {
    private final int batchSize;
    private final int context;
    private final int endOfText;
    /** Tokens not yet in a window; the first is the last target of the previous window. */
    private int[] pending = new int[64];
    private int pendingLength;
    private final List<int[]> windows = new ArrayList<>();
    private long documents;

    public SequencePacker(int batchSize, int context, int endOfText) {
        if (batchSize <= 0 || context <= 0) {
            throw new IllegalArgumentException("SequencePacker: batch size and context must be positive, got "
                    + batchSize + " and " + context);
        }
        if (endOfText < 0) {
            throw new IllegalArgumentException("SequencePacker: end-of-text id must be non-negative, got " + endOfText);
        }
        this.batchSize = batchSize;
        this.context = context;
        this.endOfText = endOfText;
    }

    /** Adds one document (followed by end-of-text) and returns the batches it completed, usually none or one. */
    public List<Batch> add(int[] document) {
        ensureCapacity(pendingLength + document.length + 1);
        System.arraycopy(document, 0, pending, pendingLength, document.length);
        pendingLength += document.length;
        pending[pendingLength++] = endOfText;
        documents++;

        int start = 0;
        while (pendingLength - start >= context + 1) {
            windows.add(Arrays.copyOfRange(pending, start, start + context + 1));
            start += context;
        }
        System.arraycopy(pending, start, pending, 0, pendingLength - start);
        pendingLength -= start;

        List<Batch> ready = new ArrayList<>();
        while (windows.size() >= batchSize) {
            ready.add(batchOf(windows.subList(0, batchSize)));
        }
        return ready;
    }

    /**
     * The full windows still waiting, as a batch with fewer than {@code batchSize} rows, if any. Tokens that do
     * not fill a window stay pending (see {@link #pendingTokens()}); they would need padding, which this packer
     * never invents.
     */
    public Optional<Batch> flush() {
        return windows.isEmpty() ? Optional.empty() : Optional.of(batchOf(windows.subList(0, windows.size())));
    }

    private Batch batchOf(List<int[]> rows) {
        int n = rows.size();
        int[] inputs = new int[n * context];
        int[] targets = new int[n * context];
        for (int r = 0; r < n; r++) {
            System.arraycopy(rows.get(r), 0, inputs, r * context, context);
            System.arraycopy(rows.get(r), 1, targets, r * context, context);
        }
        rows.clear(); // removes them from the backing list
        return new Batch(inputs, targets, n, context);
    }

    private void ensureCapacity(int needed) {
        if (needed > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(needed, 2 * pending.length));
        }
    }

    /** Tokens received but not yet part of any window. */
    public int pendingTokens() {
        return pendingLength;
    }

    /** Complete windows waiting for a batch. */
    public int pendingWindows() {
        return windows.size();
    }

    public long documents() {
        return documents;
    }
}
