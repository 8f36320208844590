package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.util.Arrays;

/**
 * Joining tensors along an axis and splitting them apart. Each forward is a copy into (or views of) slices of
 * one tensor, so each backward is the opposite: views of the gradient, or a copy of the pieces into one tensor.
 */
public final class Join {
    private Join() {}

    // ------------------------------------------------------------------------------------------ concat

    /** The tensors laid end to end along {@code axis}; all other dimensions must match. */
    public static Tensor concat(int axis, Tensor... xs) {
        String op = "Join.concat";
        requireSome(op, xs);
        Tensor first = xs[0];
        int a = Shapes.axis(op, axis, first.rank());
        int total = 0;
        for (int i = 0; i < xs.length; i++) {
            checkDType(op, first, xs[i], i);
            if (!sameExceptAxis(first.shape(), xs[i].shape(), a)) {
                throw new ShapeException(op + ": along axis " + a + ", tensor " + i + " has shape "
                        + Shapes.str(xs[i].shape()) + " but tensor 0 has shape " + Shapes.str(first.shape())
                        + "; all dimensions but the concatenated one must match");
            }
            total += xs[i].size(a);
        }
        int[] shape = first.shape();
        shape[a] = total;
        Tensor out = Tensor.zeros(first.dtype(), shape);
        int start = 0;
        for (Tensor x : xs) {
            out.narrow(a, start, x.size(a)).copyFrom(x);
            start += x.size(a);
        }
        return out;
    }

    /** Gradients of concat's inputs: views (narrow) of g, one per input, with the given sizes along axis. */
    public static Tensor[] concatBackward(Tensor g, int axis, int[] sizes) {
        return pieces("Join.concatBackward", g, axis, sizes);
    }

    // ------------------------------------------------------------------------------------------ stack

    /** The tensors (all of one shape) stacked along a new dimension inserted at {@code axis} (0..rank). */
    public static Tensor stack(int axis, Tensor... xs) {
        String op = "Join.stack";
        requireSome(op, xs);
        Tensor first = xs[0];
        int a = Shapes.axis(op, axis, first.rank() + 1);
        for (int i = 0; i < xs.length; i++) {
            checkDType(op, first, xs[i], i);
            if (!first.sameShape(xs[i])) {
                throw new ShapeException(op + ": tensor " + i + " has shape " + Shapes.str(xs[i].shape())
                        + " but tensor 0 has shape " + Shapes.str(first.shape()) + "; stacked tensors must match");
            }
        }
        int[] in = first.shape();
        int[] shape = new int[in.length + 1];
        for (int d = 0, j = 0; d < shape.length; d++) {
            shape[d] = d == a ? xs.length : in[j++];
        }
        Tensor out = Tensor.zeros(first.dtype(), shape);
        for (int i = 0; i < xs.length; i++) {
            out.select(a, i).copyFrom(xs[i]);
        }
        return out;
    }

    /** Gradients of stack's inputs: views (select) of g along {@code axis}, which must have length count. */
    public static Tensor[] stackBackward(Tensor g, int axis, int count) {
        String op = "Join.stackBackward";
        int a = Shapes.axis(op, axis, g.rank());
        if (g.size(a) != count) {
            throw new ShapeException(op + ": g of shape " + Shapes.str(g.shape()) + " has " + g.size(a)
                    + " entries along axis " + a + ", expected " + count + " (one per stacked tensor)");
        }
        Tensor[] grads = new Tensor[count];
        for (int i = 0; i < count; i++) {
            grads[i] = g.select(a, i);
        }
        return grads;
    }

    // ------------------------------------------------------------------------------------------ split

    /** Views (narrow) of consecutive pieces of x along {@code axis}; sizes must sum to the axis length. */
    public static Tensor[] split(Tensor x, int axis, int... sizes) {
        return pieces("Join.split", x, axis, sizes);
    }

    /**
     * Gradient of split's input (shape inShape): the pieces' gradients written back where the pieces came from.
     * Null entries mean zero gradient; at most one may be null, since a null entry carries no size (use
     * {@link #splitBackward(Tensor[], int, int[], int[])} otherwise). Returns null (zero gradient) when every
     * entry is null, as there is then no dtype to build a tensor with.
     */
    public static Tensor splitBackward(Tensor[] grads, int axis, int[] inShape) {
        String op = "Join.splitBackward";
        int a = Shapes.axis(op, axis, inShape.length);
        int nulls = 0;
        int known = 0;
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] == null) {
                nulls++;
            } else if (grads[i].rank() != inShape.length) {
                throw new ShapeException(op + ": gradient " + i + " has shape " + Shapes.str(grads[i].shape())
                        + " but the split input has shape " + Shapes.str(inShape));
            } else {
                known += grads[i].size(a);
            }
        }
        if (nulls == grads.length) {
            return null;
        }
        if (nulls > 1) {
            throw new IllegalArgumentException(op + ": " + nulls + " of " + grads.length + " gradients are null, so "
                    + "the pieces' sizes along axis " + a + " are unknown; pass the split sizes");
        }
        int[] sizes = new int[grads.length];
        for (int i = 0; i < grads.length; i++) {
            sizes[i] = grads[i] == null ? inShape[a] - known : grads[i].size(a);
        }
        return splitBackward(grads, axis, inShape, sizes);
    }

    /** Gradient of split's input given each piece's size along {@code axis}; null entries mean zero gradient. */
    public static Tensor splitBackward(Tensor[] grads, int axis, int[] inShape, int[] sizes) {
        String op = "Join.splitBackward";
        int a = Shapes.axis(op, axis, inShape.length);
        if (grads.length != sizes.length) {
            throw new IllegalArgumentException(op + ": " + grads.length + " gradients for " + sizes.length + " sizes "
                    + Arrays.toString(sizes));
        }
        checkSizes(op, inShape, a, sizes);
        DType dtype = null;
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] == null) {
                continue;
            }
            int[] expected = inShape.clone();
            expected[a] = sizes[i];
            if (!grads[i].hasShape(expected)) {
                throw new ShapeException(op + ": gradient " + i + " has shape " + Shapes.str(grads[i].shape())
                        + " but piece " + i + " of " + Shapes.str(inShape) + " along axis " + a + " has shape "
                        + Shapes.str(expected));
            }
            if (dtype != null && grads[i].dtype() != dtype) {
                throw new IllegalArgumentException(op + ": gradients mix dtypes " + dtype + " and " + grads[i].dtype());
            }
            dtype = grads[i].dtype();
        }
        if (dtype == null) {
            return null;
        }
        Tensor dx = Tensor.zeros(dtype, inShape);
        int start = 0;
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] != null) {
                dx.narrow(a, start, sizes[i]).copyFrom(grads[i]);
            }
            start += sizes[i];
        }
        return dx;
    }

    // ------------------------------------------------------------------------------------------ helpers

    /** Consecutive narrow views of t along axis with the given sizes (split, and concat's backward). */
    private static Tensor[] pieces(String op, Tensor t, int axis, int[] sizes) {
        int a = Shapes.axis(op, axis, t.rank());
        checkSizes(op, t.shape(), a, sizes);
        Tensor[] out = new Tensor[sizes.length];
        int start = 0;
        for (int i = 0; i < sizes.length; i++) {
            out[i] = t.narrow(a, start, sizes[i]);
            start += sizes[i];
        }
        return out;
    }

    private static void checkSizes(String op, int[] shape, int a, int[] sizes) {
        long sum = 0;
        for (int s : sizes) {
            if (s < 0) {
                throw new ShapeException(op + ": sizes " + Arrays.toString(sizes) + " contain a negative size");
            }
            sum += s;
        }
        if (sum != shape[a]) {
            throw new ShapeException(op + ": sizes " + Arrays.toString(sizes) + " sum to " + sum + " but axis " + a
                    + " of shape " + Shapes.str(shape) + " has length " + shape[a]);
        }
    }

    private static void requireSome(String op, Tensor[] xs) {
        if (xs == null || xs.length == 0) {
            throw new IllegalArgumentException(op + ": needs at least one tensor");
        }
        for (int i = 0; i < xs.length; i++) {
            if (xs[i] == null) {
                throw new IllegalArgumentException(op + ": tensor " + i + " is null");
            }
        }
    }

    private static void checkDType(String op, Tensor first, Tensor x, int i) {
        if (x.dtype() != first.dtype()) {
            throw new IllegalArgumentException(op + ": tensor " + i + " is " + x.dtype() + " but tensor 0 is "
                    + first.dtype());
        }
    }

    private static boolean sameExceptAxis(int[] a, int[] b, int axis) {
        if (a.length != b.length) {
            return false;
        }
        for (int d = 0; d < a.length; d++) {
            if (d != axis && a[d] != b[d]) {
                return false;
            }
        }
        return true;
    }
}
