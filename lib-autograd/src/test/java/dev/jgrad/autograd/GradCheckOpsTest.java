package dev.jgrad.autograd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.ops.Index;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Gradcheck, in F64 with relative tolerance 1e-6, of every differentiable op the tape records. */
class GradCheckOpsTest {
    private final Rng rng = new Rng(1234);

    private Tensor randn(int... shape) {
        return Tensor.randn(DType.F64, rng, shape);
    }

    /** Values bounded away from 0, for log/sqrt/div/pow. */
    private Tensor positive(int... shape) {
        return Tensor.uniform(DType.F64, rng, 0.5, 2.0, shape);
    }

    /** Values bounded away from the kinks of abs/relu/clamp so finite differences are valid. */
    private Tensor awayFromZero(int... shape) {
        Tensor t = Tensor.uniform(DType.F64, rng, 0.2, 1.5, shape);
        double[] d = t.f64Data();
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextDouble() < 0.5 ? -d[i] : d[i];
        }
        return t;
    }

    private static void assertPasses(String name, Function<Variable[], Variable> f, Tensor... inputs) {
        var report = GradCheck.check(name, f, inputs);
        assertTrue(report.passed(), report::toString);
    }

    @Test
    void binaryOpsWithBroadcasting() {
        assertPasses("add", v -> v[0].add(v[1]), randn(3, 4), randn(3, 4));
        assertPasses("add broadcast", v -> v[0].add(v[1]), randn(3, 1, 4), randn(5, 1));
        assertPasses("sub broadcast", v -> v[0].sub(v[1]), randn(4), randn(2, 3, 4));
        assertPasses("mul broadcast", v -> v[0].mul(v[1]), randn(2, 3, 1), randn(1, 3, 4));
        assertPasses("div broadcast", v -> v[0].div(v[1]), randn(3, 4), positive(4));
        assertPasses("pow tensor", v -> v[0].pow(v[1]), positive(3, 4), randn(3, 1));
        assertPasses("scalar ops", v -> v[0].add(2.5).mul(-1.5).div(3).sub(1).pow(3.0), randn(2, 5));
        assertPasses("pow fractional", v -> v[0].pow(0.5), positive(7));
    }

    @Test
    void unaryOps() {
        assertPasses("neg", v -> v[0].neg(), randn(3, 5));
        assertPasses("exp", v -> v[0].exp(), randn(3, 5));
        assertPasses("log", v -> v[0].log(), positive(3, 5));
        assertPasses("sqrt", v -> v[0].sqrt(), positive(3, 5));
        assertPasses("abs", v -> v[0].abs(), awayFromZero(3, 5));
        assertPasses("tanh", v -> v[0].tanh(), randn(3, 5));
        assertPasses("sigmoid", v -> v[0].sigmoid(), randn(3, 5));
        assertPasses("relu", v -> v[0].relu(), awayFromZero(3, 5));
        assertPasses("gelu tanh", v -> v[0].gelu(), randn(3, 17));
        assertPasses("gelu exact", v -> v[0].geluExact(), randn(3, 17));
        assertPasses("silu", v -> v[0].silu(), randn(3, 17));
        assertPasses("clamp", v -> v[0].mul(3).clamp(-1.0, 1.0), Tensor.of(new double[] {-2, -0.5, 0.1, 0.7, 2.5, -0.9}));
    }

    @Test
    void whereAndMaskedFill() {
        Tensor cond = Tensor.of(new double[] {1, 0, 0, 1, 1, 0}, 2, 3);
        assertPasses("where broadcast", v -> Variable.where(cond, v[0], v[1]), randn(2, 3), randn(3));
        Tensor mask = Tensor.of(new double[] {0, 1, 0}, 1, 3);
        assertPasses("masked_fill", v -> v[0].maskedFill(mask, -7.0).mul(v[0]), randn(4, 3));
    }

    @Test
    void reductions() {
        assertPasses("sum all", v -> v[0].sum(), randn(3, 4));
        assertPasses("sum axes keepdim", v -> v[0].sum(true, 0, 2), randn(2, 3, 4));
        assertPasses("sum negative axis", v -> v[0].sum(false, -1), randn(2, 3, 4));
        assertPasses("mean", v -> v[0].mean(false, 1), randn(2, 5, 3));
        assertPasses("mean keepdim", v -> v[0].mean(true, 0, 1), randn(2, 5, 3));
        assertPasses("max", v -> v[0].max(false, 1), randn(4, 6));
        assertPasses("max keepdim all", v -> v[0].max(true), randn(4, 6));
        assertPasses("min", v -> v[0].min(true, 0), randn(4, 6));
        assertPasses("var unbiased", v -> v[0].var(1, false, 1), randn(3, 7));
        assertPasses("var population keepdim", v -> v[0].var(0, true, 0, 2), randn(3, 2, 4));
    }

    @Test
    void softmaxAndLogSoftmax() {
        assertPasses("softmax last", v -> v[0].softmax(-1), randn(3, 7));
        assertPasses("softmax axis 0", v -> v[0].softmax(0), randn(5, 4));
        assertPasses("log_softmax", v -> v[0].logSoftmax(1), randn(2, 6, 3));
    }

    @Test
    void matmulAllShapes() {
        assertPasses("matmul 2d", v -> v[0].matmul(v[1]), randn(3, 4), randn(4, 5));
        assertPasses("matmul batched broadcast", v -> v[0].matmul(v[1]), randn(2, 3, 4), randn(4, 2));
        assertPasses("matmul batch broadcast both", v -> v[0].matmul(v[1]), randn(2, 1, 3, 4), randn(3, 4, 2));
        assertPasses("matmul vector", v -> v[0].matmul(v[1]), randn(3, 4), randn(4));
        assertPasses("matmul dot", v -> v[0].matmul(v[1]), randn(5), randn(5));
        assertPasses("matmul vector-matrix", v -> v[0].matmul(v[1]), randn(4), randn(4, 3));
    }

    @Test
    void norms() {
        assertPasses("layer_norm affine", v -> Variable.layerNorm(v[0], v[1], v[2], 1e-5), randn(3, 6), randn(6), randn(6));
        assertPasses("layer_norm plain", v -> Variable.layerNorm(v[0], null, null, 1e-5), randn(2, 3, 5));
        assertPasses("rms_norm", v -> Variable.rmsNorm(v[0], v[1], 1e-6), randn(4, 8), randn(8));
        assertPasses("rms_norm plain", v -> Variable.rmsNorm(v[0], null, 1e-6), randn(2, 5));
    }

    @Test
    void embeddingConcatStackSplit() {
        int[] ids = {3, 1, 3, 0, 4, 3};
        assertPasses("embedding repeated ids", v -> Variable.embedding(v[0], ids, 2, 3).tanh(), randn(5, 4));
        assertPasses("concat", v -> Variable.concat(1, v[0], v[1], v[0]).tanh(), randn(2, 3), randn(2, 2));
        assertPasses("stack", v -> Variable.stack(0, v[0], v[1]).mul(Variable.stack(2, v[1], v[0]).sum(false, 2).unsqueeze(0)),
                randn(3, 2), randn(3, 2));
        assertPasses("split", v -> {
            Variable[] parts = v[0].split(1, 2, 1, 3);
            return parts[0].sum(false, 1).mul(parts[2].sum(false, 1)).add(parts[1].squeeze(1).exp());
        }, randn(4, 6));
    }

    @Test
    void viewsAndNonContiguousInputs() {
        assertPasses("reshape/view/flatten", v -> v[0].reshape(4, 3).view(2, 6).flatten().tanh(), randn(3, 4));
        assertPasses("transpose and t", v -> v[0].transpose(0, 2).matmul(v[1].t()), randn(2, 3, 4), randn(5, 2));
        assertPasses("permute", v -> v[0].permute(2, 0, 1).mul(v[1]), randn(2, 3, 4), randn(4, 2, 3));
        assertPasses("narrow/slice/select", v -> v[0].narrow(1, 1, 3).slice(0, 0, 5, 2).select(1, -1).exp(), randn(5, 4));
        assertPasses("expand", v -> v[0].expand(3, 4, 5).mul(v[1]), randn(4, 1), randn(3, 4, 5));
        assertPasses("squeeze/unsqueeze", v -> v[0].unsqueeze(1).squeeze(2).sigmoid(), randn(3, 1));
        // Inputs that are themselves strided views: transposed, sliced with a step, and broadcast-expanded.
        Tensor transposed = randn(4, 3).t();
        Tensor stepped = randn(8, 5).slice(0, 0, 8, 2).slice(1, 1, 5, 1); // [4, 4], row stride 10
        assertPasses("non-contiguous inputs", v -> v[0].matmul(v[1]).softmax(-1), transposed, stepped);
        assertPasses("non-contiguous unary+reduce", v -> v[0].gelu().var(1, false, 0), randn(5, 7).t());
        assertPasses("non-contiguous layer_norm", v -> Variable.layerNorm(v[0], v[1], null, 1e-5),
                randn(6, 4).t(), randn(6));
    }

    @Test
    void twoLayerMlpWithLayerNormAndSoftmaxCrossEntropy() {
        int batch = 5;
        int in = 4;
        int hidden = 6;
        int classes = 3;
        int[] targets = {0, 2, 1, 2, 0};
        Tensor oneHot = Index.oneHot(targets, classes, DType.F64);
        Function<Variable[], Variable> mlp = v -> {
            Variable x = v[0];
            Variable h = x.matmul(v[1]).add(v[2]);
            h = Variable.layerNorm(h, v[3], v[4], 1e-5).gelu();
            Variable logits = h.matmul(v[5]).add(v[6]);
            Variable logProbs = logits.logSoftmax(-1);
            return logProbs.mul(Variable.constant(oneHot)).sum().neg().div(batch);
        };
        assertPasses("mlp", mlp, randn(batch, in), randn(in, hidden).mul(0.5), randn(hidden), positive(hidden),
                randn(hidden), randn(hidden, classes).mul(0.5), randn(classes));
    }

    @Test
    void gradcheckCatchesAWrongGradient() {
        // x * detach(x) computes x^2 but the tape sees only one factor, so its gradient is x instead of 2x:
        // the check must notice.
        var report = GradCheck.check("wrong", v -> v[0].mul(v[0].detach()), positive(3));
        assertTrue(!report.passed(), report::toString);
        assertTrue(report.toString().contains("FAILED"), report::toString);
    }
}
