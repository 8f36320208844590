package dev.jgrad.autograd;

import dev.jgrad.autograd.Tape.Backward;
import dev.jgrad.autograd.Tape.Node;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import dev.jgrad.tensor.ops.Attention;
import dev.jgrad.tensor.ops.Binary;
import dev.jgrad.tensor.ops.CrossEntropy;
import dev.jgrad.tensor.ops.Index;
import dev.jgrad.tensor.ops.Join;
import dev.jgrad.tensor.ops.LayerNorm;
import dev.jgrad.tensor.ops.MatMul;
import dev.jgrad.tensor.ops.Reduce;
import dev.jgrad.tensor.ops.RmsNorm;
import dev.jgrad.tensor.ops.Rope;
import dev.jgrad.tensor.ops.Softmax;
import dev.jgrad.tensor.ops.Unary;

/**
 * A tensor on the tape: its value, its gradient, and (when it was computed by an op that should be
 * differentiated) the tape node that produced it. Each op below runs lib-tensor's forward kernel and records
 * lib-tensor's backward kernel for the same op; nothing here computes a derivative itself.
 *
 * <pre>{@code
 * Variable w = Variable.param(Tensor.randn(rng, 3, 2));
 * Variable x = Variable.constant(Tensor.randn(rng, 4, 3));
 * Variable loss = x.matmul(w).tanh().pow(2).mean();
 * loss.backward();
 * w.grad();   // d loss / d w, shape [3, 2]
 * }</pre>
 */
public final class Variable {
    /** Set once, except that a recycling {@link Workspace} scope hands an op's result out again (see result). */
    private Tensor value;
    private boolean requiresGrad;
    private Node node;
    private Tensor grad;
    /** The buffer gradients of this leaf accumulate into, kept across zeroGrad so a training step reallocates none. */
    private Tensor gradStorage;

    private Variable(Tensor value, boolean requiresGrad, Node node) {
        this.value = value;
        this.requiresGrad = requiresGrad;
        this.node = node;
    }

    /** A leaf that requires grad: a parameter or an input you want the gradient of. */
    public static Variable param(Tensor value) {
        return new Variable(value, true, null);
    }

    /** A leaf that does not require grad: data, targets, masks. */
    public static Variable constant(Tensor value) {
        return new Variable(value, false, null);
    }

    /** Op results a recycling {@link Workspace} scope hands out again, step after step. */
    private static final Workspace.Kind<Variable> RESULTS = new Workspace.Kind<>("Variable");

    /**
     * The result of op {@code op} with input {@code a}: recorded if recording is on and the input requires grad,
     * otherwise a constant. The forms for two, three and any number of inputs follow; they take their inputs one
     * by one, so recording an op builds no inputs array (a recycled node keeps its own).
     */
    private static Variable record(String op, Tensor out, Backward backward, Variable a) {
        Workspace w = Workspace.recycling();
        if (!Tape.isRecording() || !a.requiresGrad) {
            return result(w, out, null);
        }
        Node node = Node.of(w, op, backward, 1);
        node.inputs[0] = a;
        return result(w, out, node);
    }

    private static Variable record(String op, Tensor out, Backward backward, Variable a, Variable b) {
        Workspace w = Workspace.recycling();
        if (!Tape.isRecording() || !(a.requiresGrad || b.requiresGrad)) {
            return result(w, out, null);
        }
        Node node = Node.of(w, op, backward, 2);
        node.inputs[0] = a;
        node.inputs[1] = b;
        return result(w, out, node);
    }

    private static Variable record(String op, Tensor out, Backward backward, Variable a, Variable b, Variable c) {
        Workspace w = Workspace.recycling();
        if (!Tape.isRecording() || !(a.requiresGrad || b.requiresGrad || c.requiresGrad)) {
            return result(w, out, null);
        }
        Node node = Node.of(w, op, backward, 3);
        node.inputs[0] = a;
        node.inputs[1] = b;
        node.inputs[2] = c;
        return result(w, out, node);
    }

    private static Variable record(String op, Tensor out, Backward backward, Variable[] inputs) {
        Workspace w = Workspace.recycling();
        if (Tape.isRecording()) {
            for (Variable in : inputs) {
                if (in.requiresGrad) {
                    Node node = Node.of(w, op, backward, inputs.length);
                    System.arraycopy(inputs, 0, node.inputs, 0, inputs.length);
                    return result(w, out, node);
                }
            }
        }
        return result(w, out, null);
    }

    /**
     * An op's result: recorded by {@code node}, or a constant when it is null. In a recycling scope ({@code w}
     * not null) the variable the previous step made at this point, re-initialised, else a new one.
     */
    private static Variable result(Workspace w, Tensor value, Node node) {
        Variable v = w == null ? null : w.reissue(RESULTS);
        if (v == null) {
            v = new Variable(value, node != null, node);
            return w == null ? v : w.issued(RESULTS, v);
        }
        v.value = value;
        v.requiresGrad = node != null;
        v.node = node;
        v.grad = null;
        v.gradStorage = null;
        return v;
    }

    // ------------------------------------------------------------------------------------------ state

    public Tensor value() {
        return value;
    }

    /**
     * The accumulated gradient, or null before any backward reached this leaf (or after {@link #zeroGrad} or
     * {@link #recycleGrad}). Later backward passes add into this same tensor in place.
     */
    public Tensor grad() {
        return grad;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** True for variables created directly (params, constants), false for results of recorded ops. */
    public boolean isLeaf() {
        return node == null;
    }

    Node node() {
        return node;
    }

    /** Name of the op that produced this variable, or null for a leaf. */
    public String op() {
        return node == null ? null : node.op;
    }

    /**
     * Forgets the gradient (PyTorch's {@code zero_grad(set_to_none=True)}): {@link #grad()} is null until the next
     * backward, which allocates a new gradient tensor, so a tensor obtained from {@code grad()} before keeps its
     * values.
     */
    public void zeroGrad() {
        grad = null;
        gradStorage = null;
    }

    /**
     * Forgets the gradient like {@link #zeroGrad}, but the next backward writes into the same tensor instead of
     * allocating another: what a training loop wants, as long as it keeps no {@code grad()} tensor from one step
     * to the next ({@code Optimizer.zeroGrad} uses this).
     */
    public void recycleGrad() {
        grad = null;
    }

    /** Replaces the gradient, e.g. after clipping; shape must match. */
    public void setGrad(Tensor g) {
        if (g != null && !g.sameShape(value)) {
            throw new ShapeException("setGrad: gradient of shape " + Shapes.str(g.shape())
                    + " for a variable of shape " + Shapes.str(value.shape()));
        }
        grad = g;
    }

    /**
     * Adds one gradient contribution into this leaf's own buffer. The first contribution is copied (transposing
     * if it is a transposed view), so .grad never aliases a tensor the backward pass still uses; later ones are
     * added in place, with the same values as a fresh {@code grad + g}. The buffer is allocated once and outside
     * any {@link Workspace} scope, since the gradient outlives the step that computed it.
     */
    void accumulateGrad(Tensor g) {
        if (gradStorage == null || gradStorage.dtype() != g.dtype()) {
            try (var persistent = Workspace.persistent()) {
                gradStorage = Tensor.empty(g.dtype(), value.shape());
            }
        }
        if (grad == null) {
            gradStorage.copyFrom(g);
        } else {
            if (grad != gradStorage) {   // a gradient set with setGrad: start the sum from it
                gradStorage.copyFrom(grad);
            }
            Tape.addInPlace(gradStorage, g);
        }
        grad = gradStorage;
    }

    /** The same value cut from the tape: gradients do not flow through it. */
    public Variable detach() {
        return constant(value);
    }

    public int[] shape() {
        return value.shape();
    }

    public int size(int dim) {
        return value.size(dim);
    }

    public int rank() {
        return value.rank();
    }

    public DType dtype() {
        return value.dtype();
    }

    public double item() {
        return value.item();
    }

    /** Backpropagates from this scalar (d this / d this = 1). */
    public void backward() {
        if (value.numel() != 1) {
            throw new ShapeException("backward: implicit gradient needs a scalar output, got shape "
                    + Shapes.str(value.shape()) + "; pass the upstream gradient explicitly");
        }
        Tape.backward(this, Tensor.onesLike(value));
    }

    /** Backpropagates from this variable with an explicit upstream gradient of the same shape. */
    public void backward(Tensor gradOutput) {
        Tape.backward(this, gradOutput);
    }

    @Override
    public String toString() {
        String v = value.toString();
        String suffix = node != null ? ", grad_fn=" + node.op : requiresGrad ? ", requires_grad=true" : "";
        return v.substring(0, v.length() - 1) + suffix + ")";
    }

    // ------------------------------------------------------------------------------------------ arithmetic

    public Variable add(Variable b) {
        return record("add", Binary.add(value, b.value), (g, in, grads) -> {
            grads[0] = passOrSumTo(g, in[0].value);
            grads[1] = passOrSumTo(g, in[1].value);
        }, this, b);
    }

    /**
     * The gradient of an operand that was broadcast to g's shape: g itself when nothing was broadcast (a residual
     * connection), rather than the copy {@code Reduce.sumTo} returns. The tape never modifies a gradient it is
     * handed, so sharing g between both operands of an add is safe.
     */
    private static Tensor passOrSumTo(Tensor g, Tensor operand) {
        return g.sameShape(operand) ? g : Reduce.sumTo(g, operand.shape());
    }

    public Variable sub(Variable b) {
        int[] as = shape();
        int[] bs = b.shape();
        return record("sub", Binary.sub(value, b.value), (g, in, grads) -> {
            var d = Binary.subBackward(g, as, bs);
            grads[0] = d.a();
            grads[1] = d.b();
        }, this, b);
    }

    public Variable mul(Variable b) {
        return record("mul", Binary.mul(value, b.value), (g, in, grads) -> {
            var d = Binary.mulBackward(g, in[0].value, in[1].value);
            grads[0] = d.a();
            grads[1] = d.b();
        }, this, b);
    }

    public Variable div(Variable b) {
        return record("div", Binary.div(value, b.value), (g, in, grads) -> {
            var d = Binary.divBackward(g, in[0].value, in[1].value);
            grads[0] = d.a();
            grads[1] = d.b();
        }, this, b);
    }

    public Variable pow(Variable exponent) {
        Tensor a = value;
        Tensor e = exponent.value;
        Tensor out = Binary.pow(a, e);
        return record("pow", out, (g, in, grads) -> {
            var d = Binary.powBackward(g, a, e, out);
            grads[0] = d.a();
            grads[1] = d.b();
        }, this, exponent);
    }

    public Variable add(double s) {
        return record("add", Binary.add(value, s), (g, in, grads) -> grads[0] = g, this);
    }

    public Variable sub(double s) {
        return add(-s);
    }

    public Variable mul(double s) {
        return record("mul", Binary.mul(value, s), (g, in, grads) -> grads[0] = Binary.mul(g, s), this);
    }

    public Variable div(double s) {
        return mul(1.0 / s);
    }

    public Variable pow(double exponent) {
        Tensor a = value;
        return record("pow", Binary.pow(a, exponent),
                (g, in, grads) -> grads[0] = Binary.powScalarBackward(g, a, exponent), this);
    }

    // ------------------------------------------------------------------------------------------ elementwise

    public Variable neg() {
        return record("neg", Unary.neg(value), (g, in, grads) -> grads[0] = Unary.negBackward(g), this);
    }

    public Variable exp() {
        Tensor y = Unary.exp(value);
        return record("exp", y, (g, in, grads) -> grads[0] = Unary.expBackward(g, y), this);
    }

    public Variable log() {
        return record("log", Unary.log(value), (g, in, grads) -> grads[0] = Unary.logBackward(g, in[0].value), this);
    }

    public Variable sqrt() {
        Tensor y = Unary.sqrt(value);
        return record("sqrt", y, (g, in, grads) -> grads[0] = Unary.sqrtBackward(g, y), this);
    }

    public Variable abs() {
        return record("abs", Unary.abs(value), (g, in, grads) -> grads[0] = Unary.absBackward(g, in[0].value), this);
    }

    public Variable tanh() {
        Tensor y = Unary.tanh(value);
        return record("tanh", y, (g, in, grads) -> grads[0] = Unary.tanhBackward(g, y), this);
    }

    public Variable sigmoid() {
        Tensor y = Unary.sigmoid(value);
        return record("sigmoid", y, (g, in, grads) -> grads[0] = Unary.sigmoidBackward(g, y), this);
    }

    public Variable relu() {
        return record("relu", Unary.relu(value), (g, in, grads) -> grads[0] = Unary.reluBackward(g, in[0].value), this);
    }

    /** GELU with GPT-2's tanh approximation. */
    public Variable gelu() {
        return record("gelu", Unary.gelu(value), (g, in, grads) -> grads[0] = Unary.geluBackward(g, in[0].value), this);
    }

    /** GELU with the exact erf form. */
    public Variable geluExact() {
        return record("gelu_exact", Unary.geluExact(value),
                (g, in, grads) -> grads[0] = Unary.geluExactBackward(g, in[0].value), this);
    }

    public Variable silu() {
        return record("silu", Unary.silu(value), (g, in, grads) -> grads[0] = Unary.siluBackward(g, in[0].value), this);
    }

    public Variable clamp(double min, double max) {
        Tensor x = value;
        return record("clamp", Unary.clamp(x, min, max),
                (g, in, grads) -> grads[0] = Unary.clampBackward(g, x, min, max), this);
    }

    /** Elementwise {@code cond ? a : b} with broadcasting; cond is data (nonzero = true). */
    public static Variable where(Tensor cond, Variable a, Variable b) {
        int[] as = a.shape();
        int[] bs = b.shape();
        return record("where", Binary.where(cond, a.value, b.value), (g, in, grads) -> {
            var d = Binary.whereBackward(g, cond, as, bs);
            grads[0] = d.a();
            grads[1] = d.b();
        }, a, b);
    }

    /** Sets positions where {@code mask} is nonzero to {@code value} (e.g. -inf before a softmax). */
    public Variable maskedFill(Tensor mask, double fill) {
        return record("masked_fill", Binary.maskedFill(value, mask, fill),
                (g, in, grads) -> grads[0] = Binary.maskedFillBackward(g, mask), this);
    }

    // ------------------------------------------------------------------------------------------ reductions

    /** Sum over the given axes (all axes when none are given). */
    public Variable sum(boolean keepDim, int... axes) {
        int[] inShape = shape();
        return record("sum", Reduce.sum(value, keepDim, axes),
                (g, in, grads) -> grads[0] = Reduce.sumBackward(g, inShape, keepDim, axes), this);
    }

    /** Sum of all elements, a scalar. */
    public Variable sum() {
        return sum(false);
    }

    public Variable mean(boolean keepDim, int... axes) {
        int[] inShape = shape();
        return record("mean", Reduce.mean(value, keepDim, axes),
                (g, in, grads) -> grads[0] = Reduce.meanBackward(g, inShape, keepDim, axes), this);
    }

    /** Mean of all elements, a scalar. */
    public Variable mean() {
        return mean(false);
    }

    public Variable max(boolean keepDim, int... axes) {
        Tensor x = value;
        Tensor y = Reduce.max(x, keepDim, axes);
        return record("max", y, (g, in, grads) -> grads[0] = Reduce.maxBackward(g, x, y, keepDim, axes), this);
    }

    public Variable min(boolean keepDim, int... axes) {
        Tensor x = value;
        Tensor y = Reduce.min(x, keepDim, axes);
        return record("min", y, (g, in, grads) -> grads[0] = Reduce.minBackward(g, x, y, keepDim, axes), this);
    }

    /** Variance with the given correction (1 = unbiased, torch's default). */
    public Variable var(int correction, boolean keepDim, int... axes) {
        Tensor x = value;
        return record("var", Reduce.var(x, correction, keepDim, axes),
                (g, in, grads) -> grads[0] = Reduce.varBackward(g, x, correction, keepDim, axes), this);
    }

    // ------------------------------------------------------------------------------------------ nn kernels

    public Variable softmax(int axis) {
        Tensor y = Softmax.softmax(value, axis);
        return record("softmax", y, (g, in, grads) -> grads[0] = Softmax.softmaxBackward(g, y, axis), this);
    }

    public Variable logSoftmax(int axis) {
        Tensor y = Softmax.logSoftmax(value, axis);
        return record("log_softmax", y, (g, in, grads) -> grads[0] = Softmax.logSoftmaxBackward(g, y, axis), this);
    }

    /** torch.matmul semantics, including batched and broadcast batch dimensions. */
    public Variable matmul(Variable b) {
        Tensor a = value;
        Tensor bv = b.value;
        return record("matmul", MatMul.matmul(a, bv), (g, in, grads) -> {
            var d = MatMul.matmulBackward(g, a, bv);
            grads[0] = d.a();
            grads[1] = d.b();
        }, this, b);
    }

    /**
     * {@code x Wᵀ + b} over the last dimension (torch's {@code F.linear}): x [..., in], weight [out, in], bias
     * [out] or null. One node instead of transpose, matmul and add: the bias is added into the product's own
     * output, and the weight's gradient {@code gᵀ x} is computed directly in the weight's [out, in] layout, so no
     * transposing copy is made when it is accumulated.
     */
    public static Variable linear(Variable x, Variable weight, Variable bias) {
        checkLinear("linear", x, weight, bias);
        Tensor y = MatMul.linear(x.value, weight.value, valueOrNull(bias));
        return record("linear", y, Variable::linearBackward, x, weight, orConstant(bias));
    }

    private static void linearBackward(Tensor g, Variable[] in, Tensor[] grads) {
        Tensor x = in[0].value;
        Tensor w = in[1].value;
        grads[0] = MatMul.linearBackwardInput(g, x, w);
        grads[1] = MatMul.linearBackwardWeight(g, x, w);
        grads[2] = in[2] == ABSENT ? null : Reduce.columnSums(g);
    }

    /**
     * {@code gelu(x Wᵀ + b)} with the tanh GELU: the same values and gradients as {@code linear(x, weight,
     * bias).gelu()}, in one node. The forward computes GELU and its derivative on each block of the product as it
     * is finished and keeps only the derivative for the backward, where the pre-activation's gradient is then
     * {@code g * gelu'}, one multiplication per element instead of a second exponential (see
     * {@link MatMul#linearGelu}). Outside recording, nothing is kept and the derivative is not computed.
     */
    public static Variable linearGelu(Variable x, Variable weight, Variable bias) {
        checkLinear("linearGelu", x, weight, bias);
        Workspace w = Workspace.recycling();
        boolean differentiated = Tape.isRecording()
                && (x.requiresGrad || weight.requiresGrad || (bias != null && bias.requiresGrad));
        Tensor derivative = differentiated ? MatMul.emptyLinearOutput(x.value, weight.value) : null;
        Tensor y = MatMul.linearGelu(x.value, weight.value, valueOrNull(bias), derivative);
        if (!differentiated) {
            return result(w, y, null);
        }
        // The derivative rides along as a fourth input that never requires grad, so the backward reads it from
        // its inputs and the node captures nothing.
        Node node = Node.of(w, "linear_gelu", Variable::linearGeluBackward, 4);
        node.inputs[0] = x;
        node.inputs[1] = weight;
        node.inputs[2] = orConstant(bias);
        node.inputs[3] = result(w, derivative, null);
        return result(w, y, node);
    }

    private static void linearGeluBackward(Tensor g, Variable[] in, Tensor[] grads) {
        Tensor preActivationGrad = Binary.mul(g, in[3].value);   // g * gelu'(h), as Unary.geluBackward(g, h)
        linearBackward(preActivationGrad, in, grads);
    }

    /**
     * GPT-2's feed-forward layer {@code linear(gelu(linear(x, fcWeight, fcBias)), projWeight, projBias)} with the
     * tanh GELU, in one node: the same values and gradients as the three ops, with the GELU and its derivative
     * computed by the first product ({@link MatMul#linearGelu}) and the hidden gradient {@code (g projWeight) *
     * gelu'} by the backward product ({@link MatMul#linearBackwardThroughActivation}), so neither direction makes
     * a separate pass over the [..., hidden] activation. Biases may be null.
     */
    public static Variable geluMlp(Variable x, Variable fcWeight, Variable fcBias, Variable projWeight,
                                   Variable projBias) {
        checkLinear("geluMlp", x, fcWeight, fcBias);
        Tensor pw = projWeight.value;
        if (pw.rank() != 2 || pw.size(1) != fcWeight.size(0)
                || (projBias != null && (projBias.rank() != 1 || projBias.size(0) != pw.size(0)))) {
            throw new ShapeException("geluMlp: expected projWeight [out, " + fcWeight.size(0) + "] and projBias [out]"
                    + " after fcWeight " + Shapes.str(fcWeight.shape()) + ", got projWeight " + Shapes.str(pw.shape())
                    + ", projBias " + (projBias == null ? "none" : Shapes.str(projBias.shape())));
        }
        Workspace w = Workspace.recycling();
        boolean differentiated = Tape.isRecording() && (x.requiresGrad || fcWeight.requiresGrad
                || projWeight.requiresGrad || (fcBias != null && fcBias.requiresGrad)
                || (projBias != null && projBias.requiresGrad));
        Tensor derivative = differentiated ? MatMul.emptyLinearOutput(x.value, fcWeight.value) : null;
        Tensor hidden = MatMul.linearGelu(x.value, fcWeight.value, valueOrNull(fcBias), derivative);
        Tensor y = MatMul.linear(hidden, pw, valueOrNull(projBias));
        if (!differentiated) {
            return result(w, y, null);
        }
        // The hidden activation and GELU's derivative ride along as inputs that never require grad, so the
        // backward reads them from its inputs and the node captures nothing.
        Node node = Node.of(w, "gelu_mlp", Variable::geluMlpBackward, 7);
        node.inputs[0] = x;
        node.inputs[1] = fcWeight;
        node.inputs[2] = orConstant(fcBias);
        node.inputs[3] = projWeight;
        node.inputs[4] = orConstant(projBias);
        node.inputs[5] = result(w, hidden, null);
        node.inputs[6] = result(w, derivative, null);
        return result(w, y, node);
    }

    private static void geluMlpBackward(Tensor g, Variable[] in, Tensor[] grads) {
        Tensor x = in[0].value;
        Tensor fcWeight = in[1].value;
        Tensor projWeight = in[3].value;
        Tensor hidden = in[5].value;
        grads[3] = MatMul.linearBackwardWeight(g, hidden, projWeight);
        grads[4] = in[4] == ABSENT ? null : Reduce.columnSums(g);
        Tensor preActivationGrad = MatMul.linearBackwardThroughActivation(g, hidden, projWeight, in[6].value);
        grads[0] = MatMul.linearBackwardInput(preActivationGrad, x, fcWeight);
        grads[1] = MatMul.linearBackwardWeight(preActivationGrad, x, fcWeight);
        grads[2] = in[2] == ABSENT ? null : Reduce.columnSums(preActivationGrad);
    }

    private static void checkLinear(String op, Variable x, Variable weight, Variable bias) {
        Tensor w = weight.value;
        if (w.rank() != 2) {
            throw new ShapeException(op + ": expected weight [out, in], got " + Shapes.str(w.shape()));
        }
        int inFeatures = w.size(1);
        int outFeatures = w.size(0);
        if (x.rank() < 1 || x.size(-1) != inFeatures
                || (bias != null && (bias.rank() != 1 || bias.size(0) != outFeatures))) {
            throw new ShapeException(op + ": expected x [..., " + inFeatures + "], weight [out, " + inFeatures
                    + "] and bias [" + outFeatures + "], got x " + Shapes.str(x.shape()) + ", weight "
                    + Shapes.str(w.shape()) + ", bias " + (bias == null ? "none" : Shapes.str(bias.shape())));
        }
    }

    /** Layer normalisation over the last dimension; weight and bias may be null. */
    public static Variable layerNorm(Variable x, Variable weight, Variable bias, double eps) {
        Tensor mean = LayerNorm.rowStats(x.value);
        Tensor rstd = LayerNorm.rowStats(x.value);
        Tensor out = LayerNorm.forward(x.value, valueOrNull(weight), valueOrNull(bias), eps, mean, rstd);
        return record("layer_norm", out, (g, in, grads) -> LayerNorm.backward(g, in[0].value, valueOrNull(in[1]),
                valueOrNull(in[2]), mean, rstd, grads), x, orConstant(weight), orConstant(bias));
    }

    /** RMS normalisation over the last dimension (LLaMA); weight may be null. */
    public static Variable rmsNorm(Variable x, Variable weight, double eps) {
        Tensor rstd = RmsNorm.rowStats(x.value);
        Tensor out = RmsNorm.forward(x.value, valueOrNull(weight), eps, rstd);
        return record("rms_norm", out,
                (g, in, grads) -> RmsNorm.backward(g, in[0].value, valueOrNull(in[1]), rstd, grads),
                x, orConstant(weight));
    }

    /**
     * Stands in for an absent optional input (a bias, a norm's weight) so an op's inputs line up with its
     * gradients. It never requires grad, so the tape never reads it, and one instance serves every op and thread.
     */
    private static final Variable ABSENT = constant(Tensor.of(new float[] {0}));

    private static Variable orConstant(Variable v) {
        return v != null ? v : ABSENT;
    }

    /** The value of an optional input: null for null or {@link #ABSENT}. */
    private static Tensor valueOrNull(Variable v) {
        return v == null || v == ABSENT ? null : v.value;
    }

    /** Rows of {@code weight} [V, D] picked by {@code ids}; result shape idsShape + [D]. */
    public static Variable embedding(Variable weight, int[] ids, int... idsShape) {
        int vocab = weight.size(0);
        return record("embedding", Index.embedding(weight.value, ids, idsShape),
                (g, in, grads) -> grads[0] = Index.embeddingBackward(g, ids, vocab), weight);
    }

    public static Variable concat(int axis, Variable... xs) {
        Tensor[] values = new Tensor[xs.length];
        int[] sizes = new int[xs.length];
        for (int i = 0; i < xs.length; i++) {
            values[i] = xs[i].value;
        }
        Tensor out = Join.concat(axis, values);
        int ax = Shapes.axis("concat", axis, out.rank());
        for (int i = 0; i < xs.length; i++) {
            sizes[i] = values[i].size(ax);
        }
        return record("concat", out,
                (g, in, grads) -> System.arraycopy(Join.concatBackward(g, ax, sizes), 0, grads, 0, xs.length), xs);
    }

    public static Variable stack(int axis, Variable... xs) {
        Tensor[] values = new Tensor[xs.length];
        for (int i = 0; i < xs.length; i++) {
            values[i] = xs[i].value;
        }
        Tensor out = Join.stack(axis, values);
        int ax = Shapes.axis("stack", axis, out.rank());
        return record("stack", out,
                (g, in, grads) -> System.arraycopy(Join.stackBackward(g, ax, xs.length), 0, grads, 0, xs.length), xs);
    }

    /** Consecutive pieces of the given sizes along {@code axis}; each piece is a narrow view with its own node. */
    public Variable[] split(int axis, int... sizes) {
        int ax = Shapes.axis("split", axis, rank());
        Tensor[] pieces = Join.split(value, ax, sizes);
        Variable[] out = new Variable[pieces.length];
        for (int i = 0, start = 0; i < pieces.length; start += sizes[i], i++) {
            out[i] = narrow(ax, start, sizes[i]);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ views

    public Variable reshape(int... newShape) {
        int[] inShape = shape();
        return record("reshape", value.reshape(newShape), (g, in, grads) -> grads[0] = g.reshape(inShape), this);
    }

    public Variable view(int... newShape) {
        int[] inShape = shape();
        return record("view", value.view(newShape), (g, in, grads) -> grads[0] = g.reshape(inShape), this);
    }

    public Variable flatten() {
        return reshape(-1);
    }

    public Variable transpose(int dim0, int dim1) {
        return record("transpose", value.transpose(dim0, dim1),
                (g, in, grads) -> grads[0] = g.transpose(dim0, dim1), this);
    }

    /** Transpose of a 2-D variable. */
    public Variable t() {
        return record("t", value.t(), (g, in, grads) -> grads[0] = g.t(), this);
    }

    public Variable permute(int... order) {
        Tensor out = value.permute(order);
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[Shapes.axis("permute", order[i], order.length)] = i;
        }
        return record("permute", out, (g, in, grads) -> grads[0] = g.permute(inverse), this);
    }

    public Variable narrow(int dim, int start, int length) {
        int[] inShape = shape();
        return record("narrow", value.narrow(dim, start, length),
                (g, in, grads) -> grads[0] = scatterInto(g, inShape, z -> z.narrow(dim, start, length)), this);
    }

    public Variable slice(int dim, int start, int end, int step) {
        int[] inShape = shape();
        return record("slice", value.slice(dim, start, end, step),
                (g, in, grads) -> grads[0] = scatterInto(g, inShape, z -> z.slice(dim, start, end, step)), this);
    }

    public Variable select(int dim, int index) {
        int[] inShape = shape();
        return record("select", value.select(dim, index),
                (g, in, grads) -> grads[0] = scatterInto(g, inShape, z -> z.select(dim, index)), this);
    }

    /** Broadcasts to a larger shape without copying; the gradient is summed back. */
    public Variable expand(int... target) {
        int[] inShape = shape();
        return record("expand", value.expand(target), (g, in, grads) -> grads[0] = Reduce.sumTo(g, inShape), this);
    }

    public Variable squeeze(int dim) {
        int[] inShape = shape();
        return record("squeeze", value.squeeze(dim), (g, in, grads) -> grads[0] = g.reshape(inShape), this);
    }

    public Variable unsqueeze(int dim) {
        int[] inShape = shape();
        return record("unsqueeze", value.unsqueeze(dim), (g, in, grads) -> grads[0] = g.reshape(inShape), this);
    }

    /** The gradient of a view: zeros of the input's shape with g written into the viewed region. */
    private static Tensor scatterInto(Tensor g, int[] inShape, java.util.function.UnaryOperator<Tensor> region) {
        Tensor full = Tensor.zeros(g.dtype(), inShape);
        region.apply(full).copyFrom(g);
        return full;
    }

    // ------------------------------------------------------------------------------------------ transformer ops

    /**
     * Fused scaled dot-product attention: q [B, Hq, T, D], k and v [B, Hkv, S, D] (grouped-query when
     * Hkv < Hq); causal lets query i see keys j <= i + (S - T). Only the output and the per-row log-sum-exp are
     * kept for the backward, never the [T, S] probabilities.
     */
    public static Variable attention(Variable q, Variable k, Variable v, boolean causal, double scale) {
        Tensor qv = q.value;
        Tensor kv = k.value;
        Tensor vv = v.value;
        var r = Attention.forward(qv, kv, vv, causal, scale);
        return record("attention", r.out(), (g, in, grads) -> {
            var d = Attention.backward(g, qv, kv, vv, r.out(), r.logSumExp(), causal, scale);
            grads[0] = d.q();
            grads[1] = d.k();
            grads[2] = d.v();
        }, q, k, v);
    }

    /**
     * Causal or full attention straight from a fused projection: {@code qkv} [B, T, (Hq + 2·Hkv)·D] holds the
     * queries, keys and values side by side (GPT-2's {@code c_attn} output), and the result is [B, T, Hq·D] with
     * the heads side by side again. The same values as splitting qkv, viewing it as heads and calling
     * {@link #attention}, without copying q, k, v, the output or the gradients between layouts: the kernels read
     * the heads where qkv has them, write the output where the output projection reads it, and the backward writes
     * the gradients of q, k and v straight into one [B, T, (Hq + 2·Hkv)·D] gradient (see
     * {@link Attention#forwardPacked}).
     */
    public static Variable attentionPacked(Variable qkv, int heads, int kvHeads, boolean causal, double scale) {
        Tensor x = qkv.value;
        var r = Attention.forwardPacked(x, heads, kvHeads, causal, scale);
        return record("attention_packed", r.out(), (g, in, grads) -> grads[0] =
                Attention.backwardPacked(g, x, heads, kvHeads, r.out(), r.logSumExp(), causal, scale), qkv);
    }

    /** Rotary position embedding ("rotate half" layout) of this [..., T, D] variable for positions startPos.. */
    public Variable rope(int startPos, double theta) {
        return record("rope", Rope.forward(value, startPos, theta),
                (g, in, grads) -> grads[0] = Rope.backward(g, startPos, theta), this);
    }

    /**
     * Mean cross-entropy of logits [N, C] against class targets (length N), skipping targets equal to
     * ignoreIndex, with torch's label smoothing; a scalar.
     */
    public static Variable crossEntropy(Variable logits, int[] targets, int ignoreIndex, double labelSmoothing) {
        Tensor x = logits.value;
        int[] t = Workspace.copyOf(targets);   // kept for the backward, safe from later changes to targets
        var r = CrossEntropy.forward(x, t, ignoreIndex, labelSmoothing);
        return record("cross_entropy", r.loss(), (g, in, grads) -> grads[0] =
                CrossEntropy.backward(g, x, t, r.logSumExp(), ignoreIndex, labelSmoothing, r.counted()), logits);
    }
}
