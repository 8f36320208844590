package dev.jgrad.models.optim;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.OptimizerKernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Gradient norms and clipping by global norm ({@code torch.nn.utils.clip_grad_norm_}). Norms are accumulated in
 * double in a fixed order (parameters in iteration order, elements in storage order), so they do not depend on
 * the machine or the thread count. Parameters without a gradient are skipped; a variable listed twice (tied
 * weights) counts once.
 */
public final class GradClip {
    /** Added to the norm before dividing, as PyTorch does, so a zero gradient never divides by zero. */
    private static final double EPS = 1e-6;

    private GradClip() {}

    /**
     * Scales every gradient by {@code maxNorm / (norm + 1e-6)} when that factor is below 1, where {@code norm} is
     * the L2 norm of all gradients together. Returns the norm before clipping (the value to log).
     */
    public static double clipGlobalNorm(Iterable<Variable> params, double maxNorm) {
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("clipGlobalNorm: maxNorm must be finite and > 0, got " + maxNorm);
        }
        double norm = globalNorm(params);
        double scale = maxNorm / (norm + EPS);
        if (scale < 1) {
            for (Variable p : distinct(params)) {
                Tensor g = p.grad();
                if (g == null) {
                    continue;
                }
                if (g.dtype() == DType.F32) {
                    OptimizerKernels.scale(g.f32Data(), g.offset(), g.numel(), (float) scale);
                } else {
                    OptimizerKernels.scale(g.f64Data(), g.offset(), g.numel(), scale);
                }
            }
        }
        return norm;
    }

    /** The L2 norm of all gradients together, as one long vector. */
    public static double globalNorm(Iterable<Variable> params) {
        double sumOfSquares = 0;
        for (Variable p : distinct(params)) {
            sumOfSquares += sumOfSquares(p.grad());
        }
        return Math.sqrt(sumOfSquares);
    }

    /** The L2 norm of each parameter's gradient by name (NaN where there is no gradient), e.g. per layer. */
    public static Map<String, Double> norms(Map<String, Variable> params) {
        Map<String, Double> out = new LinkedHashMap<>();
        params.forEach((name, p) -> out.put(name, p.grad() == null ? Double.NaN : Math.sqrt(sumOfSquares(p.grad()))));
        return out;
    }

    private static double sumOfSquares(Tensor g) {
        if (g == null) {
            return 0;
        }
        if (!g.isContiguous()) {
            throw new IllegalArgumentException("GradClip: gradient of shape " + Shapes.str(g.shape()) + " (strides "
                    + Arrays.toString(g.strides()) + ") is not contiguous; set a contiguous copy with setGrad");
        }
        return g.dtype() == DType.F32
                ? OptimizerKernels.sumOfSquares(g.f32Data(), g.offset(), g.numel())
                : OptimizerKernels.sumOfSquares(g.f64Data(), g.offset(), g.numel());
    }

    private static Iterable<Variable> distinct(Iterable<Variable> params) {
        Set<Variable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        var out = new ArrayList<Variable>();
        for (Variable p : params) {
            if (seen.add(p)) {
                out.add(p);
            }
        }
        return out;
    }
}
