package dev.jgrad.tensor;

/**
 * Walks the rows of a strided loop nest over one shape shared by several operands (each with its own strides
 * and offset, stride 0 meaning "broadcast along this dimension"). Dimensions that are laid out back to back for
 * every operand are merged first, so contiguous operands become a single long row that a Vector-API kernel can
 * stream through, and only truly strided operands pay for per-row bookkeeping.
 *
 * <pre>{@code
 * var cur = new StridedCursor(shape, new int[][] {aStrides, outStrides}, new int[] {aOffset, outOffset});
 * int n = cur.innerLength(), sa = cur.innerStride(0), so = cur.innerStride(1);
 * while (cur.next()) {
 *     kernel(a, cur.offset(0), sa, out, cur.offset(1), so, n);
 * }
 * }</pre>
 */
public final class StridedCursor {
    private final int operands;
    private final int[] outerShape;
    private final int[][] outerStrides;
    private final int innerLength;
    private final int[] innerStrides;
    private final int[] offsets;
    private final int[] index;
    private long rowsLeft;
    private boolean started;

    public StridedCursor(int[] shape, int[][] strides, int[] offsets) {
        this.operands = strides.length;
        // Drop size-1 dimensions, then merge neighbours that are contiguous with each other for all operands.
        int rank = shape.length;
        int[] dims = new int[rank];
        int[][] st = new int[operands][rank];
        int kept = 0;
        boolean empty = false;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 0) {
                empty = true;
            }
            if (shape[d] == 1) {
                continue;
            }
            dims[kept] = shape[d];
            for (int k = 0; k < operands; k++) {
                st[k][kept] = strides[k][d];
            }
            kept++;
        }
        int merged = 0;
        for (int d = 0; d < kept; d++) {
            if (merged > 0 && mergeable(st, merged - 1, d, dims[d])) {
                dims[merged - 1] *= dims[d];
                for (int k = 0; k < operands; k++) {
                    st[k][merged - 1] = st[k][d];
                }
            } else {
                dims[merged] = dims[d];
                for (int k = 0; k < operands; k++) {
                    st[k][merged] = st[k][d];
                }
                merged++;
            }
        }
        this.innerStrides = new int[operands];
        if (merged == 0) {
            innerLength = 1;
            outerShape = new int[0];
            outerStrides = new int[operands][0];
        } else {
            innerLength = dims[merged - 1];
            outerShape = java.util.Arrays.copyOf(dims, merged - 1);
            outerStrides = new int[operands][];
            for (int k = 0; k < operands; k++) {
                innerStrides[k] = st[k][merged - 1];
                outerStrides[k] = java.util.Arrays.copyOf(st[k], merged - 1);
            }
        }
        this.offsets = offsets.clone();
        this.index = new int[outerShape.length];
        long rows = 1;
        for (int d : outerShape) {
            rows *= d;
        }
        this.rowsLeft = empty ? 0 : rows;
    }

    private boolean mergeable(int[][] st, int outer, int inner, int innerSize) {
        for (int[] s : st) {
            if (s[outer] != s[inner] * innerSize) {
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
        return innerStrides[k];
    }

    /** Number of rows this cursor visits in all. */
    public long rows() {
        long rows = 1;
        for (int d : outerShape) {
            rows *= d;
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
        for (int d = outerShape.length - 1; d >= 0; d--) {
            if (++index[d] < outerShape[d]) {
                for (int k = 0; k < operands; k++) {
                    offsets[k] += outerStrides[k][d];
                }
                break;
            }
            index[d] = 0;
            for (int k = 0; k < operands; k++) {
                offsets[k] -= outerStrides[k][d] * (outerShape[d] - 1);
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
