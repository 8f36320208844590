package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Integer indexing: embedding lookup (gather of rows) beside its scatter-add backward, one-hot, causal mask. */
public final class Index {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Index() {}

    // ------------------------------------------------------------------------------------------ embedding

    /**
     * Rows of weight [V, D] picked by integer ids; result shape idsShape + [D]. With no idsShape the ids are a
     * flat list (shape [ids.length]). Out-of-range id -> error naming the id, its position and V.
     */
    public static Tensor embedding(Tensor weight, int[] ids, int... idsShape) {
        String op = "Index.embedding";
        if (weight.rank() != 2) {
            throw new ShapeException(op + ": weight must be [V, D], got shape " + Shapes.str(weight.shape()));
        }
        int vocab = weight.size(0);
        int d = weight.size(1);
        checkIdsShape(op, ids, idsShape);
        checkIds(op, ids, vocab);
        Tensor out = switch (idsShape.length) {   // idsShape + [D], built as an array only for many dimensions
            case 0 -> Tensor.zeros(weight.dtype(), ids.length, d);
            case 1 -> Tensor.zeros(weight.dtype(), idsShape[0], d);
            case 2 -> Tensor.zeros(weight.dtype(), idsShape[0], idsShape[1], d);
            default -> {
                int[] outShape = Arrays.copyOf(idsShape, idsShape.length + 1);
                outShape[idsShape.length] = d;
                yield Tensor.zeros(weight.dtype(), outShape);
            }
        };
        int rowStride = weight.stride(0);
        int colStride = weight.stride(1);
        int wo = weight.offset();
        if (weight.dtype() == DType.F32) {
            float[] w = weight.f32Data();
            float[] y = out.f32Data();
            for (int p = 0; p < ids.length; p++) {
                int src = wo + ids[p] * rowStride;
                if (colStride == 1) {
                    System.arraycopy(w, src, y, p * d, d);
                } else {
                    for (int j = 0; j < d; j++) {
                        y[p * d + j] = w[src + j * colStride];
                    }
                }
            }
        } else {
            double[] w = weight.f64Data();
            double[] y = out.f64Data();
            for (int p = 0; p < ids.length; p++) {
                int src = wo + ids[p] * rowStride;
                for (int j = 0; j < d; j++) {
                    y[p * d + j] = w[src + j * colStride];
                }
            }
        }
        return out;
    }

    /**
     * Scatter-add of g (idsShape + [D]) into a zero [vocab, D] gradient (repeated ids accumulate; deterministic
     * order: positions are added in increasing order).
     */
    public static Tensor embeddingBackward(Tensor g, int[] ids, int vocab) {
        String op = "Index.embeddingBackward";
        if (g.rank() == 0) {
            throw new ShapeException(op + ": g must have shape idsShape + [D], got a scalar");
        }
        int d = g.size(-1);
        if (g.numel() != ids.length * d) {
            throw new ShapeException(op + ": g of shape " + Shapes.str(g.shape()) + " holds "
                    + (d == 0 ? "an unknown number of" : String.valueOf(g.numel() / d)) + " rows of " + d
                    + " but there are " + ids.length + " ids");
        }
        if (vocab < 0) {
            throw new IllegalArgumentException(op + ": vocab must be >= 0, got " + vocab);
        }
        checkIds(op, ids, vocab);
        Tensor gs = g.contiguous();
        int go = gs.offset();
        Tensor dw = Tensor.zeros(g.dtype(), vocab, d);
        if (g.dtype() == DType.F32) {
            float[] gd = gs.f32Data();
            float[] w = dw.f32Data();
            for (int p = 0; p < ids.length; p++) {
                addRowF32(gd, go + p * d, w, ids[p] * d, d);
            }
        } else {
            double[] gd = gs.f64Data();
            double[] w = dw.f64Data();
            for (int p = 0; p < ids.length; p++) {
                int dst = ids[p] * d;
                int src = go + p * d;
                for (int j = 0; j < d; j++) {
                    w[dst + j] += gd[src + j];
                }
            }
        }
        return dw;
    }

    private static void addRowF32(float[] src, int so, float[] dst, int dso, int n) {
        int bound = F.loopBound(n);
        int j = 0;
        for (; j < bound; j += F.length()) {
            FloatVector.fromArray(F, dst, dso + j).add(FloatVector.fromArray(F, src, so + j)).intoArray(dst, dso + j);
        }
        for (; j < n; j++) {
            dst[dso + j] += src[so + j];
        }
    }

    /** An empty idsShape stands for [ids.length]; any other must hold exactly the ids. */
    private static void checkIdsShape(String op, int[] ids, int[] idsShape) {
        if (idsShape.length > 0 && Shapes.numel(idsShape) != ids.length) {
            throw new ShapeException(op + ": idsShape " + Shapes.str(idsShape) + " holds " + Shapes.numel(idsShape)
                    + " ids but " + ids.length + " were given");
        }
    }

    private static void checkIds(String op, int[] ids, int vocab) {
        for (int p = 0; p < ids.length; p++) {
            if (ids[p] < 0 || ids[p] >= vocab) {
                throw new IllegalArgumentException(op + ": id " + ids[p] + " at position " + p
                        + " is out of range for a vocabulary of " + vocab + " (valid ids are 0.." + (vocab - 1) + ")");
            }
        }
    }

    // ------------------------------------------------------------------------------------------ masks

    /** [ids.length, numClasses] with a 1 at (i, ids[i]) and 0 elsewhere (not differentiable: ids are integers). */
    public static Tensor oneHot(int[] ids, int numClasses, DType dtype) {
        String op = "Index.oneHot";
        if (numClasses < 0) {
            throw new IllegalArgumentException(op + ": numClasses must be >= 0, got " + numClasses);
        }
        checkIds(op, ids, numClasses);
        Tensor out = Tensor.zeros(dtype, ids.length, numClasses);
        for (int i = 0; i < ids.length; i++) {
            out.set(1, i, ids[i]);
        }
        return out;
    }

    /**
     * [t, t] lower-triangular ones (1 = position may attend, incl. the diagonal), 0 above: use with
     * Binary.maskedFill / where.
     */
    public static Tensor causalMask(DType dtype, int t) {
        if (t < 0) {
            throw new IllegalArgumentException("Index.causalMask: t must be >= 0, got " + t);
        }
        Tensor mask = Tensor.zeros(dtype, t, t);
        for (int query = 0; query < t; query++) {
            mask.narrow(0, query, 1).narrow(1, 0, query + 1).fill(1);
        }
        return mask;
    }
}
