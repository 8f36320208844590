package dev.jgrad.tensor;

/**
 * Element type of a tensor. F32 is the fast path (Vector-API kernels); F64 is the exact path that
 * gradcheck and the kernel tests compare the fast path against.
 */
public enum DType {
    F32(4),
    F64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }
}
