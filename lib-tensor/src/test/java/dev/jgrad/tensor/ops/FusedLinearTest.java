package dev.jgrad.tensor.ops;

import static dev.jgrad.tensor.SameBits.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The linear layer's fused forms against the unfused ops they replace: {@code linear(x, w, bias)} against the
 * product plus the bias, {@code linearGelu} against {@code gelu} of it (and its derivative against
 * {@code geluDerivative}), {@code linearBackwardThroughActivation} against the input gradient times the
 * derivative. Bit for bit in F32 and exactly in F64, at one and two threads, for contiguous, batched, vector and
 * strided inputs.
 */
class FusedLinearTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    /** Inputs x [..., 70] for a weight [53, 70]: rows of 37, batched, one vector, transposed and sliced views. */
    private static List<Tensor> inputs(DType dtype, Rng rng) {
        return List.of(
                Tensor.randn(dtype, rng, 37, 70),
                Tensor.randn(dtype, rng, 3, 5, 70),
                Tensor.randn(dtype, rng, 70),
                Tensor.randn(dtype, rng, 70, 37).t(),                 // a column-major A
                Tensor.randn(dtype, rng, 40, 90).narrow(1, 7, 70),    // rows 90 apart
                Tensor.randn(dtype, rng, 5, 3, 70).transpose(0, 1),  // rows that do not fold: the unfused path
                Tensor.randn(dtype, rng, 300, 70));                   // several row blocks, split at two threads
    }

    @Test
    void fusedFormsGiveTheUnfusedOpsValues() {
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (int threads : new int[] {1, 2}) {
                Parallel.setThreads(threads);
                Rng rng = new Rng(37);
                Tensor w = Tensor.randn(dtype, rng, 53, 70).mul(0.2);
                Tensor bias = Tensor.randn(dtype, rng, 53);
                for (Tensor x : inputs(dtype, rng)) {
                    String what = dtype + " x " + java.util.Arrays.toString(x.shape()) + " at " + threads + " threads";
                    Tensor product = MatMul.linear(x, w);
                    Tensor h = Binary.add(product, bias);
                    assertSameBits(h, MatMul.linear(x, w, bias), what + ": linear with bias");
                    assertSameBits(product, MatMul.linear(x, w, null), what + ": linear without bias");

                    for (Tensor b : new Tensor[] {bias, null}) {
                        Tensor pre = b == null ? product : h;
                        String with = what + (b == null ? " without bias" : " with bias");
                        Tensor derivative = MatMul.emptyLinearOutput(x, w);
                        assertSameBits(Unary.gelu(pre), MatMul.linearGelu(x, w, b, derivative), with + ": gelu");
                        assertSameBits(Unary.geluDerivative(pre), derivative, with + ": gelu's derivative");
                        assertSameBits(Unary.gelu(pre), MatMul.linearGelu(x, w, b, null), with + ": gelu alone");
                    }

                    Tensor g = Tensor.randn(dtype, rng, h.shape());
                    Tensor factor = Unary.geluDerivative(Tensor.randn(dtype, rng, x.shape()));
                    assertSameBits(Binary.mul(MatMul.linearBackwardInput(g, x, w), factor),
                            MatMul.linearBackwardThroughActivation(g, x, w, factor), what + ": through the activation");
                }
            }
        }
    }

    @Test
    void geluDerivativeIsWhatTheBackwardMultipliesBy() {
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Rng rng = new Rng(5);
            Tensor x = Tensor.randn(dtype, rng, 33, 17).mul(4.0);
            Tensor g = Tensor.randn(dtype, rng, 33, 17);
            assertSameBits(Unary.geluBackward(g, x), Binary.mul(g, Unary.geluDerivative(x)), dtype + " g * gelu'");
        }
    }

    @Test
    void badArgumentsNameTheOpAndShapes() {
        Rng rng = new Rng(1);
        Tensor x = Tensor.randn(rng, 4, 6);
        Tensor w = Tensor.randn(rng, 5, 6);
        var wrongBias = assertThrows(ShapeException.class, () -> MatMul.linear(x, w, Tensor.randn(rng, 6)));
        assertTrue(wrongBias.getMessage().contains("linear") && wrongBias.getMessage().contains("[5]")
                && wrongBias.getMessage().contains("[6]"), wrongBias.getMessage());
        var mixed = assertThrows(IllegalArgumentException.class,
                () -> MatMul.linear(x, w, Tensor.randn(DType.F64, rng, 5)));
        assertTrue(mixed.getMessage().contains("F64"), mixed.getMessage());
        var wrongDerivative = assertThrows(ShapeException.class,
                () -> MatMul.linearGelu(x, w, null, Tensor.empty(DType.F32, 4, 6)));
        assertTrue(wrongDerivative.getMessage().contains("linearGelu")
                && wrongDerivative.getMessage().contains("[4, 6]"), wrongDerivative.getMessage());
        var strided = assertThrows(ShapeException.class,
                () -> MatMul.linearGelu(x, w, null, Tensor.empty(DType.F32, 5, 4).t()));
        assertTrue(strided.getMessage().contains("not contiguous"), strided.getMessage());
        var wrongFactor = assertThrows(ShapeException.class,
                () -> MatMul.linearBackwardThroughActivation(Tensor.randn(rng, 4, 5), x, w, Tensor.randn(rng, 4, 5)));
        assertTrue(wrongFactor.getMessage().contains("linearBackwardThroughActivation")
                && wrongFactor.getMessage().contains("[4, 5]"), wrongFactor.getMessage());
    }
}
