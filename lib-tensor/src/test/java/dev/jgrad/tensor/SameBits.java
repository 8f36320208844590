package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Bit-for-bit comparison of tensors, for tests of fused kernels against the ops they replace (shared via the test-jar). */
public final class SameBits {
    private SameBits() {}

    /** Same shape, dtype and bits (F32) or values (F64), any NaN equal to any NaN. */
    public static void assertSameBits(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            if (Double.doubleToLongBits(e[i]) != Double.doubleToLongBits(a[i])) {
                assertEquals(e[i], a[i], 0.0, what + ": element " + i);
                assertEquals(Double.doubleToLongBits(e[i]), Double.doubleToLongBits(a[i]), what + ": element " + i
                        + " (sign of zero)");
            }
        }
    }
}
