package dev.jgrad.models.data;

import dev.jgrad.tensor.Rng;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A contiguous range of a token sequence to train or evaluate on, as nanoGPT uses its {@code train.bin}: random
 * windows for training ({@link #sample}), every non-overlapping window for evaluation ({@link #windows}).
 * A window of context {@code T} starting at {@code s} reads {@code T + 1} tokens: inputs {@code [s, s+T)},
 * targets {@code [s+1, s+T]}.
 */
public final class TokenDataset {
    private final TokenSequence tokens;
    private final long from;
    private final long to;

    private TokenDataset(TokenSequence tokens, long from, long to) {
        this.tokens = tokens;
        this.from = from;
        this.to = to;
    }

    public static TokenDataset of(TokenSequence tokens) {
        return new TokenDataset(tokens, 0, tokens.length());
    }

    public static TokenDataset of(int[] ids) {
        return of(TokenSequence.of(ids));
    }

    /** A dataset over a memory-mapped token file. */
    public static TokenDataset open(Path tokenFile) {
        return of(TokenFile.open(tokenFile));
    }

    public long size() {
        return to - from;
    }

    public int get(long index) {
        if (index < 0 || index >= size()) {
            throw new IndexOutOfBoundsException("TokenDataset: index " + index + " outside [0, " + size() + ")");
        }
        return tokens.get(from + index);
    }

    /** Training and validation halves. */
    public record Split(TokenDataset train, TokenDataset validation) {}

    /**
     * The first {@code floor(size * (1 - validationFraction))} tokens train, the rest validate (nanoGPT takes the
     * last 10%): a fixed cut, so the validation text never leaks into training whatever the seed.
     */
    public Split split(double validationFraction) {
        if (!(validationFraction > 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("TokenDataset.split: validation fraction must be in (0, 1), got "
                    + validationFraction);
        }
        long cut = from + (long) (size() * (1 - validationFraction));
        return new Split(new TokenDataset(tokens, from, cut), new TokenDataset(tokens, cut, to));
    }

    /**
     * {@code batchSize} windows at uniformly random starts in {@code [0, size - context)}, drawn from {@code rng}
     * in row order, so the same seed gives the same batch.
     */
    public Batch sample(Rng rng, int batchSize, int context) {
        checkWindow("sample", batchSize, context);
        long starts = size() - context;
        int[] inputs = new int[batchSize * context];
        int[] targets = new int[batchSize * context];
        int[] window = new int[context + 1];
        for (int r = 0; r < batchSize; r++) {
            long start = starts <= Integer.MAX_VALUE ? rng.nextInt((int) starts) : Math.floorMod(rng.nextLong(), starts);
            fill(start, window, inputs, targets, r, context);
        }
        return new Batch(inputs, targets, batchSize, context);
    }

    private void fill(long start, int[] window, int[] inputs, int[] targets, int row, int context) {
        tokens.copy(from + start, window, 0, context + 1);
        System.arraycopy(window, 0, inputs, row * context, context);
        System.arraycopy(window, 1, targets, row * context, context);
    }

    /** How many non-overlapping windows {@link #windows} yields. */
    public long windowCount(int context) {
        if (context <= 0) {
            throw new IllegalArgumentException("TokenDataset.windowCount: context must be positive, got " + context);
        }
        return Math.max(0, (size() - 1) / context);
    }

    /**
     * Every window starting at a multiple of {@code context} (the last target of one window is the first input of
     * the next), in order, {@code batchSize} per batch; the last batch may have fewer rows. Together they score
     * each token after the first exactly once, except a tail shorter than a window.
     */
    public Iterable<Batch> windows(int batchSize, int context) {
        checkWindow("windows", batchSize, context);
        long total = windowCount(context);
        return () -> new Iterator<>() {
            private long next;

            @Override
            public boolean hasNext() {
                return next < total;
            }

            @Override
            public Batch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int rows = (int) Math.min(batchSize, total - next);
                int[] inputs = new int[rows * context];
                int[] targets = new int[rows * context];
                int[] window = new int[context + 1];
                for (int r = 0; r < rows; r++) {
                    fill((next + r) * context, window, inputs, targets, r, context);
                }
                next += rows;
                return new Batch(inputs, targets, rows, context);
            }
        };
    }

    private void checkWindow(String op, int batchSize, int context) {
        if (batchSize <= 0 || context <= 0) {
            throw new IllegalArgumentException("TokenDataset." + op + ": batch size and context must be positive, got "
                    + batchSize + " and " + context);
        }
        if (size() < context + 1L) {
            throw new IllegalArgumentException("TokenDataset." + op + ": a window of context " + context + " needs "
                    + (context + 1) + " tokens but the dataset has " + size());
        }
    }

    @Override
    public String toString() {
        return "TokenDataset[" + size() + " tokens, [" + from + ", " + to + ") of " + tokens + "]";
    }
}
