package dev.jgrad.autograd;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Shapes;
import dev.jgrad.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Checks the tape's analytic gradients against central finite differences, in F64.
 *
 * <pre>{@code
 * GradCheck.check(v -> v[0].matmul(v[1]).tanh().sum(), a, b)   // prints as a table, .passed() to assert
 * }</pre>
 *
 * Inputs are converted to F64 (F64 inputs are used as given, strides and all, so non-contiguous views are
 * checked too; they are perturbed in place and restored bit for bit). A non-scalar output y is reduced to
 * {@code sum(y * r)} with a fixed random r, which checks every output's gradient at once. An element passes when
 * |analytic - numeric| <= atol + rtol * |numeric|.
 */
public final class GradCheck {
    public static final double DEFAULT_EPS = 1e-6;
    public static final double DEFAULT_RTOL = 1e-6;
    public static final double DEFAULT_ATOL = 1e-9;

    private GradCheck() {}

    /** Result for one input. */
    public record InputReport(int input, int[] shape, double maxAbsError, double maxRelError, int failures,
                              int worstIndex, double worstAnalytic, double worstNumeric) {
        public boolean passed() {
            return failures == 0;
        }
    }

    /** Result for a whole check; {@code toString()} is a table. */
    public record Report(String name, List<InputReport> inputs, double rtol, double atol) {
        public boolean passed() {
            return inputs.stream().allMatch(InputReport::passed);
        }

        public double maxRelError() {
            return inputs.stream().mapToDouble(InputReport::maxRelError).max().orElse(0);
        }

        public double maxAbsError() {
            return inputs.stream().mapToDouble(InputReport::maxAbsError).max().orElse(0);
        }

        @Override
        public String toString() {
            var sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "gradcheck %s (rtol %.0e, atol %.0e): %s%n", name, rtol, atol,
                    passed() ? "PASSED" : "FAILED"));
            sb.append(String.format(Locale.ROOT, "%-6s %-16s %12s %12s %9s%n", "input", "shape", "max abs err",
                    "max rel err", "failures"));
            for (InputReport r : inputs) {
                sb.append(String.format(Locale.ROOT, "%-6d %-16s %12.3e %12.3e %9d%n", r.input(),
                        Shapes.str(r.shape()), r.maxAbsError(), r.maxRelError(), r.failures()));
                if (!r.passed()) {
                    sb.append(String.format(Locale.ROOT, "       worst at flat index %d: analytic %.10g, numeric %.10g%n",
                            r.worstIndex(), r.worstAnalytic(), r.worstNumeric()));
                }
            }
            return sb.toString();
        }
    }

    /** Checks every input of {@code f} with default tolerances. */
    public static Report check(Function<Variable[], Variable> f, Tensor... inputs) {
        return check("f", f, DEFAULT_EPS, DEFAULT_RTOL, DEFAULT_ATOL, inputs);
    }

    /** Checks every input of {@code f}, naming the check in the report. */
    public static Report check(String name, Function<Variable[], Variable> f, Tensor... inputs) {
        return check(name, f, DEFAULT_EPS, DEFAULT_RTOL, DEFAULT_ATOL, inputs);
    }

    public static Report check(String name, Function<Variable[], Variable> f, double eps, double rtol, double atol,
                               Tensor... inputs) {
        Tensor[] x = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            x[i] = inputs[i].dtype() == DType.F64 ? inputs[i] : inputs[i].to(DType.F64);
        }
        Tensor projection = projection(f, x);

        // Analytic gradients from one backward pass.
        Variable[] vars = new Variable[x.length];
        for (int i = 0; i < x.length; i++) {
            vars[i] = Variable.param(x[i]);
        }
        Variable out = scalarize(f.apply(vars), projection);
        out.backward();

        List<InputReport> reports = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            Tensor analytic = vars[i].grad() != null ? vars[i].grad() : Tensor.zeros(DType.F64, x[i].shape());
            reports.add(checkInput(i, f, x, projection, analytic, eps, rtol, atol));
        }
        return new Report(name, reports, rtol, atol);
    }

    private static InputReport checkInput(int i, Function<Variable[], Variable> f, Tensor[] x, Tensor projection,
                                          Tensor analytic, double eps, double rtol, double atol) {
        Tensor xi = x[i];
        int[] shape = xi.shape();
        int n = xi.numel();
        int[] idx = new int[shape.length];
        double maxAbs = 0;
        double maxRel = 0;
        int failures = 0;
        int worst = -1;
        double worstScore = -1;
        double worstA = 0;
        double worstN = 0;
        for (int flat = 0; flat < n; flat++) {
            unflatten(flat, shape, idx);
            double original = xi.get(idx);
            xi.set(original + eps, idx);
            double plus = evaluate(f, x, projection);
            xi.set(original - eps, idx);
            double minus = evaluate(f, x, projection);
            xi.set(original, idx);
            double numeric = (plus - minus) / (2 * eps);
            double a = analytic.get(idx);
            double abs = Math.abs(a - numeric);
            double rel = abs / Math.max(Math.abs(numeric), 1e-12);
            maxAbs = Math.max(maxAbs, abs);
            if (abs > atol) {
                maxRel = Math.max(maxRel, rel);
            }
            boolean ok = abs <= atol + rtol * Math.abs(numeric);
            if (!ok || Double.isNaN(abs)) {
                failures++;
            }
            double score = Double.isNaN(abs) ? Double.POSITIVE_INFINITY : abs - atol - rtol * Math.abs(numeric);
            if (score > worstScore || worst < 0) {
                worstScore = score;
                worst = flat;
                worstA = a;
                worstN = numeric;
            }
        }
        return new InputReport(i, shape, maxAbs, maxRel, failures, worst, worstA, worstN);
    }

    private static double evaluate(Function<Variable[], Variable> f, Tensor[] x, Tensor projection) {
        return Tape.noGrad(() -> {
            Variable[] vars = new Variable[x.length];
            for (int i = 0; i < x.length; i++) {
                vars[i] = Variable.constant(x[i]);
            }
            return scalarize(f.apply(vars), projection).item();
        });
    }

    /** Fixed random weights for a non-scalar output (null when the output is already a scalar). */
    private static Tensor projection(Function<Variable[], Variable> f, Tensor[] x) {
        Tensor y = Tape.noGrad(() -> {
            Variable[] vars = new Variable[x.length];
            for (int i = 0; i < x.length; i++) {
                vars[i] = Variable.constant(x[i]);
            }
            return f.apply(vars).value();
        });
        if (y.dtype() != DType.F64) {
            throw new IllegalArgumentException("gradcheck: the function returned " + y.dtype()
                    + " for F64 inputs; it must compute in the inputs' dtype");
        }
        return y.numel() == 1 ? null : Tensor.uniform(DType.F64, new Rng(0x6A6AD), 0.5, 1.5, y.shape());
    }

    private static Variable scalarize(Variable y, Tensor projection) {
        return projection == null ? y.sum() : y.mul(Variable.constant(projection)).sum();
    }

    private static void unflatten(int flat, int[] shape, int[] idx) {
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
    }
}
