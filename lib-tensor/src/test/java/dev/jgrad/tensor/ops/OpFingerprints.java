package dev.jgrad.tensor.ops;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Run in a child JVM by {@link JitIndependenceTest}: computes every F32 op whose kernel uses exp, log or tanh
 * (plus the norms and matmul, which share the same lane sums) on fixed inputs, and prints one hash of the output
 * bits per op. {@code cold} computes each op once, as early as the JVM allows; {@code warm} prints those same
 * first-call hashes, then calls every op {@code warmCalls} times so that C2 compiles its kernels, prints
 * {@value #WARM_MARKER}, and prints the hashes again.
 *
 * <p>Sizes are odd (17 keys, 33 and 45 classes, 37 and 101 elements) so every kernel runs both its vector loop
 * and its scalar tail.
 */
public final class OpFingerprints {
    static final String WARM_MARKER = "== warmed up";

    private OpFingerprints() {}

    public static void main(String[] args) {
        Map<String, Supplier<List<Tensor>>> ops = ops();
        print(ops);
        if (args.length > 0 && args[0].equals("warm")) {
            int warmCalls = Integer.parseInt(args[1]);
            for (int i = 0; i < warmCalls; i++) {
                ops.values().forEach(Supplier::get);
            }
            System.out.println(WARM_MARKER);
            print(ops);
        }
        System.out.flush();
    }

    private static void print(Map<String, Supplier<List<Tensor>>> ops) {
        ops.forEach((name, op) -> System.out.println("op " + name + " " + Long.toHexString(hash(op.get()))));
    }

    /** A hash of every output element's bits, in order. */
    static long hash(List<Tensor> outputs) {
        long h = 0x9E3779B97F4A7C15L;
        for (Tensor t : outputs) {
            for (float v : t.contiguous().toFloatArray()) {
                h = (h ^ Float.floatToRawIntBits(v)) * 0xBF58476D1CE4E5B9L;
                h ^= h >>> 31;
            }
        }
        return h;
    }

    static Map<String, Supplier<List<Tensor>>> ops() {
        Rng rng = new Rng(2024);
        Tensor x = Tensor.randn(DType.F32, rng, 101).mul(3.0);
        Tensor positive = Unary.abs(x).add(1e-3);
        Tensor g = Tensor.randn(DType.F32, rng, 101);
        Tensor rows = Tensor.randn(DType.F32, rng, 5, 33).mul(4.0);
        Tensor rowsG = Tensor.randn(DType.F32, rng, 5, 33);
        Tensor logits = Tensor.randn(DType.F32, rng, 6, 45).mul(2.0);
        int[] targets = {0, 44, 7, 16, 3, 31};
        Tensor q = Tensor.randn(DType.F32, rng, 1, 2, 17, 8);
        Tensor k = Tensor.randn(DType.F32, rng, 1, 2, 17, 8);
        Tensor v = Tensor.randn(DType.F32, rng, 1, 2, 17, 8);
        Tensor attnG = Tensor.randn(DType.F32, rng, 1, 2, 17, 8);
        Tensor normX = Tensor.randn(DType.F32, rng, 3, 37);
        Tensor normW = Tensor.randn(DType.F32, rng, 37);
        Tensor normB = Tensor.randn(DType.F32, rng, 37);
        Tensor a = Tensor.randn(DType.F32, rng, 19, 37);
        Tensor b = Tensor.randn(DType.F32, rng, 37, 23);
        Tensor bT = b.t();   // a weight [23, 37]
        Tensor bias = Tensor.randn(DType.F32, rng, 23);

        Map<String, Supplier<List<Tensor>>> ops = new LinkedHashMap<>();
        ops.put("exp", () -> List.of(Unary.exp(x)));
        ops.put("log", () -> List.of(Unary.log(positive)));
        ops.put("tanh", () -> List.of(Unary.tanh(x)));
        ops.put("sigmoid", () -> List.of(Unary.sigmoid(x)));
        ops.put("silu", () -> List.of(Unary.silu(x), Unary.siluBackward(g, x)));
        ops.put("gelu", () -> List.of(Unary.gelu(x), Unary.geluBackward(g, x)));
        ops.put("softmax", () -> {
            Tensor y = Softmax.softmax(rows, -1);
            return List.of(y, Softmax.softmaxBackward(rowsG, y, -1));
        });
        ops.put("logSoftmax", () -> {
            Tensor y = Softmax.logSoftmax(rows, -1);
            return List.of(y, Softmax.logSoftmaxBackward(rowsG, y, -1));
        });
        ops.put("crossEntropy", () -> {
            CrossEntropy.Result r = CrossEntropy.forward(logits, targets, -100, 0.1);
            Tensor d = CrossEntropy.backward(Tensor.scalar(DType.F32, 1.0), logits, targets, r.logSumExp(), -100, 0.1,
                    r.counted());
            return List.of(r.loss(), r.logSumExp(), d);
        });
        ops.put("attention", () -> {
            Attention.Result r = Attention.forward(q, k, v, true, 1 / Math.sqrt(8));
            Attention.Grads d = Attention.backward(attnG, q, k, v, r.out(), r.logSumExp(), true, 1 / Math.sqrt(8));
            return List.of(r.out(), r.logSumExp(), d.q(), d.k(), d.v());
        });
        ops.put("layerNorm", () -> {
            LayerNorm.Result r = LayerNorm.forward(normX, normW, normB, 1e-5);
            LayerNorm.Grads d = LayerNorm.backward(normX, normX, normW, normB, r.mean(), r.rstd());
            return List.of(r.out(), d.x(), d.weight(), d.bias());
        });
        ops.put("matmul", () -> {
            Tensor c = MatMul.matmul(a, b);
            MatMul.Grads d = MatMul.matmulBackward(c, a, b);
            return List.of(c, d.a(), d.b());
        });
        ops.put("linearGelu", () -> {   // GELU and its derivative in the product's epilogue
            Tensor derivative = MatMul.emptyLinearOutput(a, bT);
            return List.of(MatMul.linearGelu(a, bT, bias, derivative), derivative, MatMul.linear(a, bT, bias));
        });
        return ops;
    }
}
