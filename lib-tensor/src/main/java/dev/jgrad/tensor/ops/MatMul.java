package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.StridedCursor;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.Dgemm;
import dev.jgrad.tensor.kernel.Sgemm;
import java.util.Arrays;

/**
 * Matrix multiplication with {@code torch.matmul} semantics, and its backward. Operands are read in place through
 * their strides (a transposed weight or an expanded batch costs no copy); F32 runs on {@link Sgemm}, F64 on
 * {@link Dgemm}.
 *
 * <p>Every product is expressed as "out(batch, m, n) (+)= x(batch, m, k) . y(batch, k, n)" over three strided views
 * that share one batch shape. When the layouts allow, the batch is folded into a matrix dimension so that one large
 * GEMM replaces many small ones: a shared weight folds the batch into the rows of x, and a gradient summed over the
 * batch folds it into the contraction.
 */
public final class MatMul {
    private MatMul() {}

    /**
     * torch.matmul semantics: 1-D.1-D dot (scalar), 2-D.2-D, 1-D promoted and removed, batched with broadcast batch
     * dims. Transposed/strided inputs handled via strides, no copies.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        Plan plan = plan("matmul", a, b);
        Tensor out = Tensor.empty(a.dtype(), plan.outShape());   // the product with beta 0 writes every element
        multiplyInto(plan.a(), plan.b(), out, false);
        return out.view(plan.resultShape());
    }

    /** Gradients of {@link #matmul} with respect to a and b, each already in its input's shape. */
    public record Grads(Tensor a, Tensor b) {}

    /**
     * Gradients of matmul w.r.t. a and b given upstream g (shape of matmul(a,b)), reduced over broadcast batch dims.
     * Uses transposed views of a/b/g (no transposing copies): dA = g.B^T and dB = A^T.g, summed over every batch
     * index at which the input was broadcast.
     */
    public static Grads matmulBackward(Tensor g, Tensor a, Tensor b) {
        Plan plan = plan("matmulBackward", a, b);
        if (g.dtype() != a.dtype()) {
            throw new IllegalArgumentException("matmulBackward: gradient dtype " + g.dtype() + " does not match inputs' "
                    + a.dtype());
        }
        if (!Arrays.equals(g.shape(), plan.resultShape())) {
            throw new ShapeException("matmulBackward: gradient shape " + Shapes.str(g.shape()) + " does not match the "
                    + "output shape " + Shapes.str(plan.resultShape()) + " of matmul(" + Shapes.str(a.shape()) + ", "
                    + Shapes.str(b.shape()) + ")");
        }
        Tensor g3 = g.view(plan.outShape());
        int rank = plan.outShape().length;
        // Gradients are accumulated into buffers of the inputs' own (promoted) shapes, seen through expanded views
        // whose stride-0 batch dims make every broadcast copy add into the same place.
        Tensor gradA = Tensor.zeros(a.dtype(), plan.aPromoted());
        Tensor gradB = Tensor.zeros(b.dtype(), plan.bPromoted());
        multiplyInto(g3, plan.b().transpose(rank - 1, rank - 2), gradA.expand(plan.a().shape()), true);
        multiplyInto(plan.a().transpose(rank - 1, rank - 2), g3, gradB.expand(plan.b().shape()), true);
        return new Grads(gradA.view(a.shape()), gradB.view(b.shape()));
    }

    // ------------------------------------------------------------------------------------------ shapes

    /**
     * Operands as expanded views of shape batch+[m,k] and batch+[k,n], the output shape batch+[m,n], and the
     * result shape once promoted 1-D dimensions are removed again.
     */
    private record Plan(Tensor a, Tensor b, int[] aPromoted, int[] bPromoted, int[] outShape, int[] resultShape) {}

    private static Plan plan(String op, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtypes differ, " + a.dtype() + " and " + b.dtype()
                    + " (convert one with to(DType))");
        }
        if (a.rank() == 0 || b.rank() == 0) {
            throw new ShapeException(op + ": both arguments need at least 1 dimension, got shapes "
                    + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        }
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        int[] as = a2.shape();
        int[] bs = b2.shape();
        int m = as[as.length - 2];
        int k = as[as.length - 1];
        int n = bs[bs.length - 1];
        if (bs[bs.length - 2] != k) {
            throw new ShapeException(op + ": shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                    + " cannot be multiplied (inner dimensions " + k + " and " + bs[bs.length - 2] + " differ)");
        }
        int[] batch;
        try {
            batch = Shapes.broadcast(op, Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
        } catch (ShapeException e) {
            throw new ShapeException(op + ": shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                    + " have batch dimensions that cannot be broadcast together");
        }
        int[] aFull = append(batch, m, k);
        int[] bFull = append(batch, k, n);
        int[] outShape = append(batch, m, n);
        int[] resultShape = outShape;
        if (a.rank() == 1 && b.rank() == 1) {
            resultShape = new int[0];
        } else if (a.rank() == 1) {
            resultShape = append(batch, n);
        } else if (b.rank() == 1) {
            resultShape = append(batch, m);
        }
        return new Plan(a2.expand(aFull), b2.expand(bFull), as, bs, outShape, resultShape);
    }

    private static int[] append(int[] head, int... tail) {
        int[] r = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, r, head.length, tail.length);
        return r;
    }

    // ------------------------------------------------------------------------------------------ products

    /**
     * out (+)= x . y for views of shapes batch+[m,k], batch+[k,n] and batch+[m,n]. out's last dimension must have
     * stride 1; its batch dims may have stride 0, in which case (with accumulate) the products are summed into it.
     */
    private static void multiplyInto(Tensor x, Tensor y, Tensor out, boolean accumulate) {
        int rank = out.rank();
        int[] shape = out.shape();
        int m = shape[rank - 2];
        int n = shape[rank - 1];
        int k = x.size(-1);
        int[] batch = Arrays.copyOf(shape, rank - 2);
        int[] xs = x.strides();
        int[] ys = y.strides();
        int[] os = out.strides();
        int ldc = os[rank - 2];
        float beta = accumulate ? 1f : 0f;

        // A shared y (every batch stride 0): fold the batch into the rows of x and out, one (batch*m) x n GEMM.
        long xRows = foldedStride(batch, m, xs, rank - 2);
        long outRows = foldedStride(batch, m, os, rank - 2);
        if (sharedAcrossBatch(batch, ys) && xRows >= 0 && outRows > 0) {
            int rows = Shapes.numel(batch) * m;
            gemm(rows, n, k, x, x.offset(), (int) xRows, xs[rank - 1], y, y.offset(), ys[rank - 2], ys[rank - 1],
                    beta, out, out.offset(), (int) outRows);
            return;
        }
        // A shared out (a gradient summed over the batch): fold the batch into the contraction, one m x n GEMM
        // with batch*k terms per element.
        long xCols = foldedStride(batch, k, xs, rank - 1);
        long yRows = foldedStride(batch, k, ys, rank - 2);
        if (sharedAcrossBatch(batch, os) && xCols >= 0 && yRows >= 0) {
            int depth = Shapes.numel(batch) * k;
            gemm(m, n, depth, x, x.offset(), xs[rank - 2], (int) xCols, y, y.offset(), (int) yRows, ys[rank - 1],
                    beta, out, out.offset(), ldc);
            return;
        }
        // General case: walk the batch, one batched GEMM call per run of uniformly strided batch indices.
        var cursor = new StridedCursor(batch, new int[][] {Arrays.copyOf(xs, rank - 2), Arrays.copyOf(ys, rank - 2),
                Arrays.copyOf(os, rank - 2)}, new int[] {x.offset(), y.offset(), out.offset()});
        int run = cursor.innerLength();
        while (cursor.next()) {
            if (x.dtype() == DType.F32) {
                Sgemm.gemmBatched(run, m, n, k, x.f32Data(), cursor.offset(0), cursor.innerStride(0), xs[rank - 2],
                        xs[rank - 1], y.f32Data(), cursor.offset(1), cursor.innerStride(1), ys[rank - 2], ys[rank - 1],
                        beta, out.f32Data(), cursor.offset(2), cursor.innerStride(2), ldc);
            } else {
                Dgemm.gemmBatched(run, m, n, k, x.f64Data(), cursor.offset(0), cursor.innerStride(0), xs[rank - 2],
                        xs[rank - 1], y.f64Data(), cursor.offset(1), cursor.innerStride(1), ys[rank - 2], ys[rank - 1],
                        beta, out.f64Data(), cursor.offset(2), cursor.innerStride(2), ldc);
            }
        }
    }

    private static void gemm(int m, int n, int k, Tensor x, int xOff, int xRs, int xCs, Tensor y, int yOff, int yRs,
                             int yCs, float beta, Tensor out, int outOff, int ldc) {
        if (x.dtype() == DType.F32) {
            Sgemm.gemm(m, n, k, x.f32Data(), xOff, xRs, xCs, y.f32Data(), yOff, yRs, yCs, beta, out.f32Data(), outOff, ldc);
        } else {
            Dgemm.gemm(m, n, k, x.f64Data(), xOff, xRs, xCs, y.f64Data(), yOff, yRs, yCs, beta, out.f64Data(), outOff, ldc);
        }
    }

    /**
     * The stride of the single dimension made by merging all batch dims (outermost) with dimension {@code inner} of
     * size {@code innerSize}, or -1 when they are not laid out back to back. Size-1 dims are skipped since their
     * stride never matters; when every dim has size 1 any stride works and 1 is returned.
     */
    private static long foldedStride(int[] batch, int innerSize, int[] strides, int inner) {
        long stride = -1;
        long span = 1;
        for (int d = batch.length; d >= 0; d--) {
            int size = d == batch.length ? innerSize : batch[d];
            int st = d == batch.length ? strides[inner] : strides[d];
            if (size == 1) {
                continue;
            }
            if (stride == -1) {
                stride = st;
            } else if (st != stride * span) {
                return -1;
            }
            span *= size;
        }
        return stride == -1 ? 1 : stride;
    }

    /** True when every batch dim of size > 1 has stride 0 (the operand is shared by the whole batch). */
    private static boolean sharedAcrossBatch(int[] batch, int[] strides) {
        for (int d = 0; d < batch.length; d++) {
            if (batch[d] != 1 && strides[d] != 0) {
                return false;
            }
        }
        return true;
    }
}
