package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.util.Map;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * An F32 element gets the same bits whether its kernel computes it in a vector lane or in the scalar tail, so a
 * result does not depend on where an element sits in its row or on the row's length (as it would if the tail used
 * Math.exp and the lanes a different exp). Data-parallel shards rely on this: the same example lands at different
 * positions in differently sized batches.
 */
class PositionIndependenceTest {
    private static final int LANES = FloatVector.SPECIES_PREFERRED.length();

    @Test
    void elementwiseOpsGiveEachElementTheSameBitsAtAnyOffset() {
        Rng rng = new Rng(3);
        int n = 64 * LANES + 3;
        Tensor x = Tensor.randn(DType.F32, rng, n).mul(4.0);
        Tensor g = Tensor.randn(DType.F32, rng, n);
        Map<String, UnaryOperator<Tensor>> ops = Map.of(
                "exp", Unary::exp,
                "log", t -> Unary.log(Unary.abs(t)),
                "tanh", Unary::tanh,
                "sigmoid", Unary::sigmoid,
                "silu", Unary::silu,
                "gelu", Unary::gelu,
                "geluBackward", t -> Unary.geluBackward(g.narrow(0, n - t.size(0), t.size(0)), t),
                "siluBackward", t -> Unary.siluBackward(g.narrow(0, n - t.size(0), t.size(0)), t));
        ops.forEach((name, op) -> {
            float[] whole = op.apply(x).toFloatArray();
            // The view starting at `shift` puts element shift + i at position i: lanes and tail move over it.
            for (int shift = 1; shift < 2 * LANES; shift++) {
                float[] part = op.apply(x.narrow(0, shift, n - shift)).toFloatArray();
                for (int i = 0; i < part.length; i++) {
                    assertEquals(Float.floatToRawIntBits(whole[shift + i]), Float.floatToRawIntBits(part[i]),
                            name + ": element " + (shift + i) + " computed at position " + i);
                }
            }
        });
    }

    /**
     * dx = g - exp(y) * sum(g): with integer g the sum is exact in any order, so element j's bits depend only on
     * its own exp, whether row length n puts it in the tail or padding to 40 puts it in a lane.
     */
    @Test
    void logSoftmaxBackwardGivesAnElementTheSameBitsInAShortAndAPaddedRow() {
        Rng rng = new Rng(5);
        int padded = 40;
        for (int n : new int[] {LANES - 1, LANES, LANES + 1, 2 * LANES + 1}) {
            Tensor y = Tensor.randn(DType.F32, rng, padded).mul(3.0);
            float[] gv = new float[padded];
            for (int j = 0; j < n; j++) {
                gv[j] = (float) (rng.nextInt(7) - 3);
            }
            Tensor g = Tensor.of(gv, padded);
            float[] whole = Softmax.logSoftmaxBackward(g, y, -1).toFloatArray();
            float[] shortRow = Softmax.logSoftmaxBackward(g.narrow(0, 0, n), y.narrow(0, 0, n), -1).toFloatArray();
            for (int j = 0; j < n; j++) {
                assertEquals(Float.floatToRawIntBits(whole[j]), Float.floatToRawIntBits(shortRow[j]),
                        "row of " + n + " vs " + padded + ", element " + j);
            }
        }
    }

    /** The gradient of class j is (exp(x_j - lse) - [j = target]) / N for a given lse, whatever the class count. */
    @Test
    void crossEntropyBackwardGivesAClassTheSameBitsForAnyClassCount() {
        Rng rng = new Rng(8);
        int padded = 40;
        Tensor one = Tensor.scalar(DType.F32, 1.0);
        for (int c : new int[] {LANES - 1, LANES, LANES + 1, 2 * LANES + 1}) {
            Tensor logits = Tensor.randn(DType.F32, rng, 2, padded).mul(2.0);
            Tensor lse = Tensor.of(new float[] {1.25f, -0.5f}, 2);
            int[] targets = {c - 1, 0};
            float[] whole = CrossEntropy.backward(one, logits, targets, lse, -100, 0, 2).toFloatArray();
            float[] narrow = CrossEntropy.backward(one, logits.narrow(1, 0, c), targets, lse, -100, 0, 2).toFloatArray();
            for (int r = 0; r < 2; r++) {
                for (int j = 0; j < c; j++) {
                    assertEquals(Float.floatToRawIntBits(whole[r * padded + j]), Float.floatToRawIntBits(narrow[r * c + j]),
                            c + " classes vs " + padded + ", row " + r + ", class " + j);
                }
            }
        }
    }
}
