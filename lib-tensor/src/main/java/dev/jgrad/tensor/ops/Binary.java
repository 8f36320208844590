package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.StridedCursor;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.ElementwiseF32;
import java.util.Arrays;

/**
 * Binary arithmetic with NumPy broadcasting, selection ({@code where}, {@code maskedFill}), each forward beside
 * its backward. Results are new contiguous tensors of the broadcast shape; both operands must have the same
 * dtype. Backwards return gradients already summed back to each operand's own shape.
 *
 * <p>Forwards broadcast both operands as stride-0 views and walk them with a {@link StridedCursor}: contiguous
 * operands merge into one long row that the F32 kernels stream with the Vector API, and a row broadcast from a
 * single value (stride 0) gets its own vector path.
 */
public final class Binary {
    private Binary() {}

    private enum Op {
        ADD("add"), SUB("sub"), MUL("mul"), DIV("div"), POW("pow");

        final String label;

        Op(String label) {
            this.label = label;
        }
    }

    /** Gradients of a binary op with respect to its two operands, each of its operand's shape. */
    public record Grads(Tensor a, Tensor b) {}

    // ------------------------------------------------------------------------------------------ add / sub

    public static Tensor add(Tensor a, Tensor b) {
        return apply(Op.ADD, a, b);
    }

    /** a + s, with s rounded to a's dtype. */
    public static Tensor add(Tensor a, double s) {
        return apply(Op.ADD, a, Tensor.scalar(a.dtype(), s));
    }

    public static Grads addBackward(Tensor g, int[] aShape, int[] bShape) {
        return new Grads(Reduce.sumTo(g, aShape), Reduce.sumTo(g, bShape));
    }

    public static Tensor sub(Tensor a, Tensor b) {
        return apply(Op.SUB, a, b);
    }

    public static Grads subBackward(Tensor g, int[] aShape, int[] bShape) {
        return new Grads(Reduce.sumTo(g, aShape), Unary.neg(Reduce.sumTo(g, bShape)));
    }

    // ------------------------------------------------------------------------------------------ mul / div

    public static Tensor mul(Tensor a, Tensor b) {
        return apply(Op.MUL, a, b);
    }

    /** a * s, with s rounded to a's dtype. */
    public static Tensor mul(Tensor a, double s) {
        return apply(Op.MUL, a, Tensor.scalar(a.dtype(), s));
    }

    /** d(ab)/da = b, d(ab)/db = a. */
    public static Grads mulBackward(Tensor g, Tensor a, Tensor b) {
        return new Grads(reduceFresh(mul(g, b), a.shape()), reduceFresh(mul(g, a), b.shape()));
    }

    public static Tensor div(Tensor a, Tensor b) {
        return apply(Op.DIV, a, b);
    }

    /** d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(g/b) * a / b. */
    public static Grads divBackward(Tensor g, Tensor a, Tensor b) {
        Tensor gOverB = div(g, b);
        Tensor gb = Unary.neg(div(mul(gOverB, a), b));
        return new Grads(reduceFresh(gOverB, a.shape()), reduceFresh(gb, b.shape()));
    }

    // ------------------------------------------------------------------------------------------ pow

    /** a^b elementwise, with Math.pow's (and torch's) conventions: 0^0 = 1, negative^fraction = NaN. */
    public static Tensor pow(Tensor a, Tensor b) {
        return apply(Op.POW, a, b);
    }

    public static Tensor pow(Tensor a, double exponent) {
        if (exponent == 2) {
            return mul(a, a); // exact and vectorized; the common case (squares in variance, MSE)
        }
        return apply(Op.POW, a, Tensor.scalar(a.dtype(), exponent));
    }

    /**
     * As torch: d/da = g * b * a^(b-1), taken as 0 where b == 0 (so 0^0 has no NaN gradient); d/db = g * out *
     * log(a), taken as 0 where a == 0 and b >= 0 (the limit of a^b log a as a goes to 0).
     */
    public static Grads powBackward(Tensor g, Tensor a, Tensor b, Tensor out) {
        checkDtypes("powBackward", a, b);
        checkDtypes("powBackward", g, out);
        checkDtypes("powBackward", g, a);
        int[] shape = out.shape();
        if (!g.hasShape(shape)) {
            throw new ShapeException("powBackward: gradient shape " + Shapes.str(g.shape()) + " differs from output shape "
                    + Shapes.str(shape));
        }
        int[] expected = Shapes.broadcast("powBackward", a.shape(), b.shape());
        if (!Arrays.equals(expected, shape)) {
            throw new ShapeException("powBackward: output shape " + Shapes.str(shape) + " is not the broadcast of "
                    + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        }
        Tensor[] views = {g, a.broadcastTo(shape), b.broadcastTo(shape), out};
        Tensor ga = Tensor.zeros(g.dtype(), shape);
        Tensor gb = Tensor.zeros(g.dtype(), shape);
        var cur = StridedCursor.of(shape, views[0], views[1], views[2], views[3], ga, gb);
        int n = cur.innerLength();
        int[] s = {cur.innerStride(0), cur.innerStride(1), cur.innerStride(2), cur.innerStride(3)};
        boolean f32 = g.dtype() == DType.F32;
        while (cur.next()) {
            for (int i = 0; i < n; i++) {
                double gv = value(views[0], f32, cur.offset(0) + i * s[0]);
                double av = value(views[1], f32, cur.offset(1) + i * s[1]);
                double bv = value(views[2], f32, cur.offset(2) + i * s[2]);
                double ov = value(views[3], f32, cur.offset(3) + i * s[3]);
                double da = bv == 0 ? 0 : gv * bv * Math.pow(av, bv - 1);
                double db = av == 0 && bv >= 0 ? 0 : gv * ov * Math.log(av);
                store(ga, f32, cur.offset(4) + i, da);
                store(gb, f32, cur.offset(5) + i, db);
            }
        }
        return new Grads(reduceFresh(ga, a.shape()), reduceFresh(gb, b.shape()));
    }

    /** d/da a^e = e * a^(e-1); zero everywhere when e == 0, as torch. */
    public static Tensor powScalarBackward(Tensor g, Tensor a, double exponent) {
        if (exponent == 0) {
            return Tensor.zerosLike(g);
        }
        if (exponent == 2) {
            return mul(mul(g, a), 2.0);
        }
        return mul(mul(g, pow(a, exponent - 1)), exponent);
    }

    // ------------------------------------------------------------------------------------------ where

    /** a where cond is nonzero (NaN counts as nonzero), else b; all three broadcast together. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        checkDtypes("where", cond, a);
        checkDtypes("where", a, b);
        int[] shape = broadcast3("where", cond.shape(), a.shape(), b.shape());
        Tensor c = cond.broadcastTo(shape);
        Tensor av = a.broadcastTo(shape);
        Tensor bv = b.broadcastTo(shape);
        Tensor out = Tensor.empty(a.dtype(), shape);   // every element is written
        var cur = StridedCursor.of(shape, c, av, bv, out);
        int n = cur.innerLength();
        int sc = cur.innerStride(0);
        int sa = cur.innerStride(1);
        int sb = cur.innerStride(2);
        if (a.dtype() == DType.F32) {
            float[] cd = c.f32Data();
            float[] ad = av.f32Data();
            float[] bd = bv.f32Data();
            float[] od = out.f32Data();
            while (cur.next()) {
                int oc = cur.offset(0);
                int oa = cur.offset(1);
                int ob = cur.offset(2);
                int oo = cur.offset(3);
                for (int i = 0; i < n; i++) {
                    od[oo + i] = cd[oc + i * sc] != 0 ? ad[oa + i * sa] : bd[ob + i * sb];
                }
            }
        } else {
            double[] cd = c.f64Data();
            double[] ad = av.f64Data();
            double[] bd = bv.f64Data();
            double[] od = out.f64Data();
            while (cur.next()) {
                int oc = cur.offset(0);
                int oa = cur.offset(1);
                int ob = cur.offset(2);
                int oo = cur.offset(3);
                for (int i = 0; i < n; i++) {
                    od[oo + i] = cd[oc + i * sc] != 0 ? ad[oa + i * sa] : bd[ob + i * sb];
                }
            }
        }
        return out;
    }

    /** g flows to a where cond is set and to b elsewhere, each then summed back to its operand's shape. */
    public static Grads whereBackward(Tensor g, Tensor cond, int[] aShape, int[] bShape) {
        checkDtypes("whereBackward", g, cond);
        if (!Arrays.equals(Shapes.broadcast("whereBackward", g.shape(), cond.shape()), g.shape())) {
            throw new ShapeException("whereBackward: condition of shape " + Shapes.str(cond.shape())
                    + " does not broadcast to the gradient's shape " + Shapes.str(g.shape()));
        }
        Tensor zero = Tensor.scalar(g.dtype(), 0);
        return new Grads(reduceFresh(where(cond, g, zero), aShape), reduceFresh(where(cond, zero, g), bShape));
    }

    // ------------------------------------------------------------------------------------------ maskedFill

    /** x with {@code value} wherever mask (broadcast to x's shape) is nonzero. */
    public static Tensor maskedFill(Tensor x, Tensor mask, double value) {
        checkMask("maskedFill", x, mask);
        return where(mask, Tensor.scalar(x.dtype(), value), x);
    }

    /** The filled positions no longer depend on x: their gradient is 0. */
    public static Tensor maskedFillBackward(Tensor g, Tensor mask) {
        checkMask("maskedFillBackward", g, mask);
        return where(mask, Tensor.scalar(g.dtype(), 0), g);
    }

    private static void checkMask(String op, Tensor x, Tensor mask) {
        checkDtypes(op, x, mask);
        int[] shape = Shapes.broadcast(op, x.shape(), mask.shape());
        if (!x.hasShape(shape)) {
            throw new ShapeException(op + ": mask of shape " + Shapes.str(mask.shape())
                    + " does not broadcast to the input's shape " + Shapes.str(x.shape()));
        }
    }

    // ------------------------------------------------------------------------------------------ driver

    private static Tensor apply(Op op, Tensor a, Tensor b) {
        checkDtypes(op.label, a, b);
        if (a.sameShape(b) && a.isContiguous() && b.isContiguous()) {
            // The common case (a residual add, a sum of gradients): each operand is one run of storage, so there
            // is nothing to broadcast and no cursor to build.
            Tensor out = Tensor.emptyLike(a);   // every element is written
            applyRow(op, a, a.offset(), 1, b, b.offset(), 1, out, a.numel());
            return out;
        }
        if (isTrailingBlockOf(b, a) && a.isContiguous() && b.isContiguous()) {
            // b repeats over a's leading dimensions (a position embedding added to every sequence): each block of
            // a is one row against all of b, the rows the cursor below would walk, with no cursor to build.
            Tensor out = Tensor.emptyLike(a);   // every element is written
            int n = b.numel();
            int rows = a.numel() / n;
            if (a.dtype() == DType.F32) {
                float[] ad = a.f32Data();
                float[] bd = b.f32Data();
                float[] od = out.f32Data();
                for (int r = 0; r < rows; r++) {
                    rowF32(op, ad, a.offset() + r * n, 1, bd, b.offset(), 1, od, r * n, n);
                }
            } else {
                double[] ad = a.f64Data();
                double[] bd = b.f64Data();
                double[] od = out.f64Data();
                for (int r = 0; r < rows; r++) {
                    rowF64(op, ad, a.offset() + r * n, 1, bd, b.offset(), 1, od, r * n, n);
                }
            }
            return out;
        }
        int[] shape = Shapes.broadcast(op.label, a.shape(), b.shape());
        Tensor av = a.broadcastTo(shape);
        Tensor bv = b.broadcastTo(shape);
        Tensor out = Tensor.empty(a.dtype(), shape);   // every element is written
        var cur = StridedCursor.of(shape, av, bv, out);
        int n = cur.innerLength();
        int sa = cur.innerStride(0);
        int sb = cur.innerStride(1);
        if (cur.rows() == 1) {
            // One long row (contiguous operands, or a scalar operand): split over the pool.
            cur.next();
            applyRow(op, av, cur.offset(0), sa, bv, cur.offset(1), sb, out, n);
        } else if (a.dtype() == DType.F32) {
            float[] ad = av.f32Data();
            float[] bd = bv.f32Data();
            float[] od = out.f32Data();
            while (cur.next()) {
                rowF32(op, ad, cur.offset(0), sa, bd, cur.offset(1), sb, od, cur.offset(2), n);
            }
        } else {
            double[] ad = av.f64Data();
            double[] bd = bv.f64Data();
            double[] od = out.f64Data();
            while (cur.next()) {
                rowF64(op, ad, cur.offset(0), sa, bd, cur.offset(1), sb, od, cur.offset(2), n);
            }
        }
        return out;
    }

    /** True when b has a's trailing dimensions, at least one, and some elements: a [..., b's shape]. */
    private static boolean isTrailingBlockOf(Tensor b, Tensor a) {
        int lead = a.rank() - b.rank();
        if (b.rank() == 0 || lead < 0 || b.numel() == 0) {
            return false;
        }
        for (int d = 0; d < b.rank(); d++) {
            if (b.size(d) != a.size(lead + d)) {
                return false;
            }
        }
        return true;
    }

    /** out[0, n) = a op b along one row of each operand (F32 split over the pool), for a new contiguous out. */
    private static void applyRow(Op op, Tensor a, int oa, int sa, Tensor b, int ob, int sb, Tensor out, int n) {
        if (a.dtype() == DType.F32) {
            float[] ad = a.f32Data();
            float[] bd = b.f32Data();
            float[] od = out.f32Data();
            if (Unary.isOneChunk(n)) {
                rowF32(op, ad, oa, sa, bd, ob, sb, od, 0, n);
            } else {
                Unary.forChunks(n, ROW_F32.take().set(op, ad, oa, sa, bd, ob, sb, od));
            }
        } else {
            rowF64(op, a.f64Data(), oa, sa, b.f64Data(), ob, sb, out.f64Data(), 0, n);
        }
    }

    /**
     * Chunks [from, to) of {@link #applyRow}'s F32 row as a reusable parallel task (see {@link Parallel.RangeTask}):
     * no closure per call.
     */
    private static final class RowF32 extends Parallel.RangeTask {
        private Op op;
        private float[] a, b, out;
        private int ao, as, bo, bs;

        RowF32 set(Op op, float[] a, int ao, int as, float[] b, int bo, int bs, float[] out) {
            this.op = op;
            this.a = a;
            this.ao = ao;
            this.as = as;
            this.b = b;
            this.bo = bo;
            this.bs = bs;
            this.out = out;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            rowF32(op, a, ao + from * as, as, b, bo + from * bs, bs, out, from, to - from);
        }

        @Override
        protected void clear() {
            a = b = out = null;
        }
    }

    private static final Parallel.TaskCache<RowF32> ROW_F32 = new Parallel.TaskCache<>(RowF32::new);

    private static void rowF32(Op op, float[] a, int ao, int as, float[] b, int bo, int bs, float[] out, int oo, int n) {
        switch (op) {
            case ADD -> ElementwiseF32.add(a, ao, as, b, bo, bs, out, oo, n);
            case SUB -> ElementwiseF32.sub(a, ao, as, b, bo, bs, out, oo, n);
            case MUL -> ElementwiseF32.mul(a, ao, as, b, bo, bs, out, oo, n);
            case DIV -> ElementwiseF32.div(a, ao, as, b, bo, bs, out, oo, n);
            case POW -> ElementwiseF32.pow(a, ao, as, b, bo, bs, out, oo, n);
        }
    }

    private static void rowF64(Op op, double[] a, int ao, int as, double[] b, int bo, int bs, double[] out, int oo, int n) {
        switch (op) {
            case ADD -> {
                for (int i = 0; i < n; i++) {
                    out[oo + i] = a[ao + i * as] + b[bo + i * bs];
                }
            }
            case SUB -> {
                for (int i = 0; i < n; i++) {
                    out[oo + i] = a[ao + i * as] - b[bo + i * bs];
                }
            }
            case MUL -> {
                for (int i = 0; i < n; i++) {
                    out[oo + i] = a[ao + i * as] * b[bo + i * bs];
                }
            }
            case DIV -> {
                for (int i = 0; i < n; i++) {
                    out[oo + i] = a[ao + i * as] / b[bo + i * bs];
                }
            }
            case POW -> {
                for (int i = 0; i < n; i++) {
                    out[oo + i] = Math.pow(a[ao + i * as], b[bo + i * bs]);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    /** sumTo for a gradient this class just allocated: when no reduction is needed it is returned as is. */
    private static Tensor reduceFresh(Tensor fresh, int[] shape) {
        return fresh.hasShape(shape) ? fresh : Reduce.sumTo(fresh, shape);
    }

    static void checkDtypes(String op, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtypes " + a.dtype() + " and " + b.dtype() + " differ");
        }
    }

    private static int[] broadcast3(String op, int[] a, int[] b, int[] c) {
        int[] ab = Shapes.broadcast(op, a, b);
        try {
            return Shapes.broadcast(op, ab, c);
        } catch (ShapeException e) {
            throw new ShapeException(op + ": shapes " + Shapes.str(a) + ", " + Shapes.str(b) + " and " + Shapes.str(c)
                    + " cannot be broadcast together");
        }
    }

    private static double value(Tensor t, boolean f32, int index) {
        return f32 ? t.f32Data()[index] : t.f64Data()[index];
    }

    private static void store(Tensor t, boolean f32, int index, double v) {
        if (f32) {
            t.f32Data()[index] = (float) v;
        } else {
            t.f64Data()[index] = v;
        }
    }
}
