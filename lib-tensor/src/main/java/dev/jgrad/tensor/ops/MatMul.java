package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.StridedCursor;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.Dgemm;
import dev.jgrad.tensor.kernel.ElementwiseF32;
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
        Tensor product = b.rank() == 2 ? byMatrix(a, b, b.size(0), b.size(1), b.stride(0), b.stride(1)) : null;
        if (product != null) {
            return product;
        }
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
        if (!g.hasShape(plan.resultShape())) {
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

    /**
     * a [..., k] . B for a matrix B [k, n] given by its strides (b itself, or a transposed weight read in place), as
     * one (rows x n) GEMM when a's leading dimensions fold into rows (a linear layer's input and its gradients);
     * null when they do not, or when a dimension is 0 or the dtypes differ. It is the GEMM call, with the same
     * strides, that the general path makes for such operands, so it gives the same bits, without building a plan,
     * expanded views and shape arrays on every call.
     */
    private static Tensor byMatrix(Tensor a, Tensor b, int k, int n, int bRowStride, int bColStride) {
        int rank = a.rank();
        if (rank == 0 || a.dtype() != b.dtype() || a.size(-1) != k || k == 0 || n == 0 || a.numel() == 0
                || foldedRowStride(a) < 0) {
            return null;
        }
        return multiplyRows(a, b, bRowStride, bColStride, emptyRows(a, n));
    }

    /**
     * A new [..., n] tensor for a [..., k]: a's leading dimensions and a last dimension n, its values unspecified.
     * The usual ranks pass the shape dimension by dimension, so a training step builds no shape array for it.
     */
    private static Tensor emptyRows(Tensor a, int n) {
        return switch (a.rank()) {
            case 1 -> Tensor.empty(a.dtype(), n);
            case 2 -> Tensor.empty(a.dtype(), a.size(0), n);
            case 3 -> Tensor.empty(a.dtype(), a.size(0), a.size(1), n);
            default -> {
                int[] shape = a.shape();
                shape[shape.length - 1] = n;
                yield Tensor.empty(a.dtype(), shape);
            }
        };
    }

    /**
     * out [..., n] = a [..., k] . B as one GEMM over a's folded rows, for an a that {@link #byMatrix} accepts and a
     * new contiguous out (beta 0 writes every element).
     */
    private static Tensor multiplyRows(Tensor a, Tensor b, int bRowStride, int bColStride, Tensor out) {
        int k = a.size(-1);
        int n = out.size(-1);
        int rows = a.numel() / k;
        gemm(rows, n, k, a, a.offset(), (int) foldedRowStride(a), a.stride(-1), b, b.offset(), bRowStride, bColStride,
                0f, out, 0, rows == 1 ? 1 : n);
        return out;
    }

    /**
     * {@link #foldedStride} of a's leading dimensions merged with its rows (dimension rank - 2; a 1-D a is one row),
     * read from the tensor without copying its shape and strides.
     */
    private static long foldedRowStride(Tensor a) {
        long stride = -1;
        long span = 1;
        for (int d = a.rank() - 2; d >= 0; d--) {
            int size = a.size(d);
            if (size == 1) {
                continue;
            }
            if (stride == -1) {
                stride = a.stride(d);
            } else if (a.stride(d) != stride * span) {
                return -1;
            }
            span *= size;
        }
        return stride == -1 ? 1 : stride;
    }

    // ------------------------------------------------------------------------------------------ linear layers

    /**
     * {@code x wᵀ} for x [..., in] and a weight w [out, in] (torch's {@code F.linear} without the bias), shape
     * [..., out]. w is read in place through swapped strides, so no transposed view is made.
     */
    public static Tensor linear(Tensor x, Tensor w) {
        checkLinear("linear", x, w);
        Tensor y = byMatrix(x, w, w.size(1), w.size(0), w.stride(1), w.stride(0));
        return y != null ? y : matmul(x, w.t());
    }

    /**
     * {@code x wᵀ + bias} (torch's {@code F.linear}) for a bias [out], or null for none. In F32 the bias is added
     * by the product itself to each block of the output as it is finished ({@link Sgemm#gemmBias}), rather than
     * in a second pass over the whole output; either way each element is the product's sum plus the bias, one
     * float addition, the same bits as {@code linear(x, w).add(bias)}.
     */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        checkLinear("linear", x, w);
        checkBias("linear", w, bias);
        if (bias == null) {
            return linear(x, w);
        }
        if (!fusable(x, w)) {
            Tensor y = linear(x, w);   // a new contiguous tensor: the bias may be added into it
            addRowsInPlace(y, bias);
            return y;
        }
        Tensor y = emptyRows(x, w.size(0));   // the product writes every element
        fusedProduct(x, w, bias, y, null, false);
        return y;
    }

    /**
     * {@code gelu(x wᵀ + bias)} with the tanh GELU ({@link Unary#gelu}), bias [out] or null, and, when
     * {@code derivative} is not null, {@code gelu'(x wᵀ + bias)} written into it (a contiguous tensor of the
     * result's shape, see {@link #emptyLinearOutput}): all the backward of the pair needs, since the gradient of
     * the pre-activation is then {@code g * derivative}. In F32 GELU and its derivative are computed by the
     * product on each block of the output as it is finished ({@link Sgemm#gemmBiasGelu}), while the block is in
     * cache, so the pre-activation is not read back from memory. The values are the bits of
     * {@code Unary.gelu(linear(x, w, bias))} and of {@link Unary#geluDerivative} of the same pre-activation.
     */
    public static Tensor linearGelu(Tensor x, Tensor w, Tensor bias, Tensor derivative) {
        checkLinear("linearGelu", x, w);
        checkBias("linearGelu", w, bias);
        if (derivative != null && (derivative.dtype() != x.dtype() || !derivative.isContiguous()
                || derivative.rank() != x.rank() || derivative.size(-1) != w.size(0) || !sameLeadingDims(derivative, x))) {
            throw new ShapeException("linearGelu: derivative must be a contiguous " + x.dtype() + " tensor of the "
                    + "output's shape [..., " + w.size(0) + "] for x " + Shapes.str(x.shape()) + ", got "
                    + derivative.dtype() + " " + Shapes.str(derivative.shape())
                    + (derivative.isContiguous() ? "" : " (not contiguous)"));
        }
        if (!fusable(x, w)) {
            Tensor h = linear(x, w, bias);
            if (derivative != null) {
                derivative.copyFrom(Unary.geluDerivative(h));
            }
            return Unary.gelu(h);
        }
        Tensor act = emptyRows(x, w.size(0));
        Tensor h = derivative != null ? derivative : emptyRows(x, w.size(0));   // the pre-activation, or gelu' of it
        fusedProduct(x, w, bias, h, act, derivative != null);
        return act;
    }

    /** A new tensor of the shape linear(x, w) returns, [..., out], its values unspecified (an output to fill). */
    public static Tensor emptyLinearOutput(Tensor x, Tensor w) {
        checkLinear("emptyLinearOutput", x, w);
        return emptyRows(x, w.size(0));
    }

    /**
     * True when the fused F32 product applies: F32 operands of nonzero size whose rows fold into one matrix, so
     * that the product is the GEMM call {@link #linear(Tensor, Tensor)} makes (other cases, and F64, add and
     * activate afterwards, giving the same values).
     */
    private static boolean fusable(Tensor x, Tensor w) {
        return x.dtype() == DType.F32 && x.numel() > 0 && w.numel() > 0 && foldedRowStride(x) >= 0;
    }

    /**
     * c = x wᵀ (+ bias) as one GEMM over x's folded rows, c contiguous; with act, act = gelu(c) and, with
     * derivative, c = gelu'(c) afterwards (see {@link Sgemm#gemmBiasGelu}).
     */
    private static void fusedProduct(Tensor x, Tensor w, Tensor bias, Tensor c, Tensor act, boolean derivative) {
        Tensor b = bias == null ? null : bias.contiguous();
        int k = w.size(1);
        int n = w.size(0);
        int rows = x.numel() / k;
        if (act == null) {
            Sgemm.gemmBias(rows, n, k, x.f32Data(), x.offset(), (int) foldedRowStride(x), x.stride(-1), w.f32Data(),
                    w.offset(), w.stride(1), w.stride(0), c.f32Data(), c.offset(), n, b.f32Data(), b.offset());
        } else {
            Sgemm.gemmBiasGelu(rows, n, k, x.f32Data(), x.offset(), (int) foldedRowStride(x), x.stride(-1),
                    w.f32Data(), w.offset(), w.stride(1), w.stride(0), c.f32Data(), c.offset(), n,
                    b == null ? null : b.f32Data(), b == null ? 0 : b.offset(), act.f32Data(), act.offset(), derivative);
        }
    }

    /** y[r, :] += b for every row r of a contiguous y [..., n] and b [n]: the same sums as {@code y.add(b)}. */
    private static void addRowsInPlace(Tensor y, Tensor b) {
        int n = b.numel();
        int rows = y.numel() / n;
        Tensor bc = b.contiguous();
        if (y.dtype() == DType.F32) {
            float[] ys = y.f32Data();
            float[] bs = bc.f32Data();
            for (int r = 0, o = y.offset(); r < rows; r++, o += n) {
                ElementwiseF32.add(ys, o, 1, bs, bc.offset(), 1, ys, o, n);
            }
        } else {
            double[] ys = y.f64Data();
            double[] bs = bc.f64Data();
            for (int r = 0, o = y.offset(); r < rows; r++, o += n) {
                for (int j = 0; j < n; j++) {
                    ys[o + j] += bs[bc.offset() + j];
                }
            }
        }
    }

    private static void checkBias(String op, Tensor w, Tensor bias) {
        if (bias == null) {
            return;
        }
        if (bias.dtype() != w.dtype()) {
            throw new IllegalArgumentException(op + ": dtypes differ, w " + w.dtype() + " and bias " + bias.dtype());
        }
        if (bias.rank() != 1 || bias.size(0) != w.size(0)) {
            throw new ShapeException(op + ": expected bias [" + w.size(0) + "] for w " + Shapes.str(w.shape())
                    + ", got bias " + Shapes.str(bias.shape()));
        }
    }

    /**
     * Gradients of {@link #linear} given g [..., out]: {@code dx = g w} [..., in] and {@code dw = gᵀ x} [out, in],
     * summed over every row, computed straight into w's layout (no transposing copy). The same GEMM calls as
     * {@link #matmul} on the two-dimensional views {@code g.reshape(-1, out)} and {@code x.reshape(-1, in)}.
     */
    public static Grads linearBackward(Tensor g, Tensor x, Tensor w) {
        return new Grads(linearBackwardInput(g, x, w), linearBackwardWeight(g, x, w));
    }

    /**
     * The {@code dx = g w} [..., in] of {@link #linearBackward} alone: the tape asks for the two gradients one by
     * one, so a recorded linear layer makes no result object per step.
     */
    public static Tensor linearBackwardInput(Tensor g, Tensor x, Tensor w) {
        checkLinearGradient("linearBackward", g, x, w);
        int out = w.size(0);
        if (x.numel() == 0 || w.numel() == 0) {   // nothing to multiply: the general path handles empty shapes
            return matmul(g.reshape(-1, out), w).view(x.shape());
        }
        Tensor gRows = foldedRowStride(g) >= 0 ? g : g.contiguous();   // as reshape(-1, out): a view, else a copy
        return multiplyRows(gRows, w, w.stride(0), w.stride(1), Tensor.emptyLike(x));
    }

    /**
     * {@code (g w) * derivative} [..., in]: the input gradient of {@link #linear} carried back through the
     * elementwise activation that produced x, given its derivative at the pre-activation (saved by
     * {@link #linearGelu}, say), so the pre-activation's gradient comes straight out of the product. The same
     * bits as {@code Binary.mul(linearBackwardInput(g, x, w), derivative)}; in F32 the product multiplies each
     * block of its output as it is finished ({@link Sgemm#gemmTimes}) instead of in a pass over the whole of it.
     */
    public static Tensor linearBackwardThroughActivation(Tensor g, Tensor x, Tensor w, Tensor derivative) {
        checkLinearGradient("linearBackwardThroughActivation", g, x, w);
        if (!derivative.sameShape(x) || derivative.dtype() != x.dtype()) {
            throw new ShapeException("linearBackwardThroughActivation: derivative " + derivative.dtype() + " "
                    + Shapes.str(derivative.shape()) + " does not match x " + x.dtype() + " " + Shapes.str(x.shape()));
        }
        if (x.dtype() != DType.F32 || x.numel() == 0 || w.numel() == 0) {
            return Binary.mul(linearBackwardInput(g, x, w), derivative);
        }
        Tensor gRows = foldedRowStride(g) >= 0 ? g : g.contiguous();
        Tensor factor = derivative.contiguous();
        Tensor dx = Tensor.emptyLike(x);   // the product writes every element
        int in = w.size(1);
        int out = w.size(0);
        int rows = x.numel() / in;
        Sgemm.gemmTimes(rows, in, out, gRows.f32Data(), gRows.offset(), (int) foldedRowStride(gRows), gRows.stride(-1),
                w.f32Data(), w.offset(), w.stride(0), w.stride(1), dx.f32Data(), 0, in, factor.f32Data(),
                factor.offset());
        return dx;
    }

    /** The {@code dw = gᵀ x} [out, in] of {@link #linearBackward} alone, summed over every row. */
    public static Tensor linearBackwardWeight(Tensor g, Tensor x, Tensor w) {
        checkLinearGradient("linearBackward", g, x, w);
        int out = w.size(0);
        int in = w.size(1);
        if (x.numel() == 0 || w.numel() == 0) {
            return matmul(g.reshape(-1, out).t(), x.reshape(-1, in));
        }
        Tensor gRows = foldedRowStride(g) >= 0 ? g : g.contiguous();
        Tensor xRows = foldedRowStride(x) >= 0 ? x : x.contiguous();
        int rows = x.numel() / in;
        Tensor dw = Tensor.emptyLike(w);   // the product with beta 0 writes every element
        gemm(out, in, rows, gRows, gRows.offset(), out == 1 ? 1 : gRows.stride(-1), (int) foldedRowStride(gRows),
                xRows, xRows.offset(), (int) foldedRowStride(xRows), xRows.stride(-1), 0f, dw, 0, out == 1 ? 1 : in);
        return dw;
    }

    private static void checkLinearGradient(String op, Tensor g, Tensor x, Tensor w) {
        checkLinear(op, x, w);
        if (g.dtype() != x.dtype() || g.rank() != x.rank() || g.size(-1) != w.size(0) || !sameLeadingDims(g, x)) {
            throw new ShapeException(op + ": gradient " + g.dtype() + " " + Shapes.str(g.shape())
                    + " does not match the output of linear(x " + x.dtype() + " " + Shapes.str(x.shape())
                    + ", w " + Shapes.str(w.shape()) + ")");
        }
    }

    private static void checkLinear(String op, Tensor x, Tensor w) {
        if (x.dtype() != w.dtype()) {
            throw new IllegalArgumentException(op + ": dtypes differ, x " + x.dtype() + " and w " + w.dtype());
        }
        if (w.rank() != 2 || x.rank() < 1 || x.size(-1) != w.size(1)) {
            throw new ShapeException(op + ": expected x [..., in] and w [out, in], got x " + Shapes.str(x.shape())
                    + " and w " + Shapes.str(w.shape()));
        }
    }

    /** True when a and b (of one rank) agree on every dimension but the last. */
    private static boolean sameLeadingDims(Tensor a, Tensor b) {
        for (int d = 0; d < a.rank() - 1; d++) {
            if (a.size(d) != b.size(d)) {
                return false;
            }
        }
        return true;
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
