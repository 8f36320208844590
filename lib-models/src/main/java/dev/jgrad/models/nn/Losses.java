package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Shapes;

/** Training objectives, each a scalar {@link Variable} to call {@code backward()} on. */
public final class Losses {
    private Losses() {}

    /**
     * Mean squared error {@code mean((pred - target)^2)} over every element ({@code torch.nn.MSELoss()}).
     * Shapes must match exactly: a silently broadcast target (say [N] against [N, 1]) is the classic way an MSE
     * trains on the wrong thing, so it is an error here rather than a feature.
     */
    public static Variable mse(Variable pred, Variable target) {
        if (!pred.value().sameShape(target.value())) {
            throw new ShapeException("Losses.mse: pred has shape " + Shapes.str(pred.shape()) + " but target has "
                    + Shapes.str(target.shape()) + "; they must match exactly");
        }
        if (pred.dtype() != target.dtype()) {
            throw new IllegalArgumentException("Losses.mse: pred is " + pred.dtype() + " but target is "
                    + target.dtype());
        }
        Variable diff = pred.sub(target);
        return diff.mul(diff).mean();
    }

    /** Mean cross-entropy of logits [N, C] against class ids (length N); see {@link Functional#crossEntropy}. */
    public static Variable crossEntropy(Variable logits, int[] targets) {
        return Functional.crossEntropy(logits, targets, -1, 0.0);
    }

    /** Cross-entropy skipping targets equal to {@code ignoreIndex}, with torch's label smoothing. */
    public static Variable crossEntropy(Variable logits, int[] targets, int ignoreIndex, double labelSmoothing) {
        return Functional.crossEntropy(logits, targets, ignoreIndex, labelSmoothing);
    }
}
