package dev.jgrad.tensor;

/**
 * Walks the rows of a strided loop nest over one shape shared by several operands (each with its own strides
 * and offset, stride 0 meaning "broadcast along this dimension"). Dimensions that are laid out back to back for
 * every operand are merged first, so contiguous operands become a single long row that a Vector-API kernel can
 * stream through, and only truly strided operands pay for per-row bookkeeping.
 *
 * <pre>{@code
 * var cur = StridedCursor.of(shape, a, out);   // or new StridedCursor(shape, strides[][], offsets[])
 * int n = cur.innerLength(), sa = cur.innerStride(0), so = cur.innerStride(1);
 * while (cur.next()) {
 *     kernel(a, cur.offset(0), sa, out, cur.offset(1), so, n);
 * }
 * }</pre>
 *
 * <p>Kernels make one cursor per call, so it keeps its state in four small flat arrays.
 */
public final class StridedCursor {
    private final int operands;
    /** Operand k's stride along merged dimension d is {@code strides[k * width + d]}. */
    private final int width;
    /** Merged dimensions [0, outer) are the ones {@link #next} steps through; dimension {@code outer} is the row. */
    private final int outer;
    private final int[] sizes;
    private final int[] strides;
    private final int innerLength;
    private final int[] offsets;
    private final int[] index;
    private long rowsLeft;
    private boolean started;

    public StridedCursor(int[] shape, int[][] strides, int[] offsets) {
        this.operands = strides.length;
        int rank = shape.length;
        this.width = Math.max(rank, 1);
        this.sizes = new int[width];
        this.strides = new int[operands * width];
        // Drop size-1 dimensions, and merge each dimension into the previous kept one when they are contiguous
        // with each other for all operands.
        int merged = 0;
        boolean empty = false;
        for (int d = 0; d < rank; d++) {
            int size = shape[d];
            if (size == 0) {
                empty = true;
            }
            if (size == 1) {
                continue;
            }
            boolean joins = merged > 0 && mergeable(strides, merged - 1, d, size);
            int target = joins ? merged - 1 : merged++;
            sizes[target] = joins ? sizes[target] * size : size;
            for (int k = 0; k < operands; k++) {
                this.strides[k * width + target] = strides[k][d];
            }
        }
        this.outer = Math.max(merged - 1, 0);
        this.innerLength = merged == 0 ? 1 : sizes[merged - 1];
        this.offsets = offsets.clone();
        this.index = new int[outer];
        long rows = 1;
        for (int d = 0; d < outer; d++) {
            rows *= sizes[d];
        }
        this.rowsLeft = empty ? 0 : rows;
    }

    /** A cursor over {@code shape} for tensors that all have that shape (broadcast views or outputs). */
    public static StridedCursor of(int[] shape, Tensor... operands) {
        int[][] strides = new int[operands.length][];
        int[] offsets = new int[operands.length];
        for (int k = 0; k < operands.length; k++) {
            strides[k] = operands[k].stridesArray();
            offsets[k] = operands[k].offset();
        }
        return new StridedCursor(shape, strides, offsets);
    }

    /** True when dimension {@code next} (of size {@code size}) continues merged dimension {@code last} for all operands. */
    private boolean mergeable(int[][] operandStrides, int last, int next, int size) {
        for (int k = 0; k < operands; k++) {
            if (strides[k * width + last] != operandStrides[k][next] * size) {
                return false;
            }
        }
        return true;
    }

    /** Length of every row (the merged innermost dimension). */
    public int innerLength() {
        return innerLength;
    }

    /** Stride of operand k along a row (0 when it is broadcast along the row). */
    public int innerStride(int k) {
        return strides[k * width + outer];
    }

    /** Number of rows this cursor visits in all. */
    public long rows() {
        long rows = 1;
        for (int d = 0; d < outer; d++) {
            rows *= sizes[d];
        }
        return innerLength == 0 ? 0 : rows;
    }

    /** Moves to the next row; the first call moves to the first row. Returns false once all rows are visited. */
    public boolean next() {
        if (rowsLeft == 0) {
            return false;
        }
        if (!started) {
            started = true;
            rowsLeft--;
            return true;
        }
        for (int d = outer - 1; d >= 0; d--) {
            if (++index[d] < sizes[d]) {
                for (int k = 0; k < operands; k++) {
                    offsets[k] += strides[k * width + d];
                }
                break;
            }
            index[d] = 0;
            for (int k = 0; k < operands; k++) {
                offsets[k] -= strides[k * width + d] * (sizes[d] - 1);
            }
        }
        rowsLeft--;
        return true;
    }

    /** Offset of operand k at the start of the current row. */
    public int offset(int k) {
        return offsets[k];
    }
}
