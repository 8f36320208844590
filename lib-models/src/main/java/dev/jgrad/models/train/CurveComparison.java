package dev.jgrad.models.train;

import dev.jgrad.viz.History;
import dev.jgrad.viz.LinePlot;
import dev.jgrad.viz.Plots;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * jgrad's curves for a recipe set against a reference framework's curves for the same recipe, point by point
 * (each evaluation step), for the validation loss and the mean training loss of each interval.
 *
 * <p>At each point, with {@code n_ref} reference seeds of mean {@code m_ref} and sample variance {@code s_ref²},
 * and {@code n} jgrad seeds of mean {@code m} and sample variance {@code s²}, {@code z} is the two-sample t
 * statistic for equal means:
 * <pre>
 *   z = (m - m_ref) / (s_pooled * sqrt(1/n + 1/n_ref)),
 *   s_pooled² = ((n_ref - 1) s_ref² + (n - 1) s²) / (n_ref + n - 2)
 * </pre>
 * If both frameworks draw their curves from the same distribution (the same training, up to the seed), {@code z}
 * follows a Student t with {@code n_ref + n - 2} degrees of freedom. Pooling both sides' spread matters at these
 * seed counts: one side's variance at one point, from a handful of seeds, is itself noisy (with a single jgrad
 * seed the pooled spread is the reference's alone). The curves are <b>within seed noise</b> when {@code |z| <= 4}
 * at every point: with 10 reference seeds and 3 jgrad seeds (11 degrees of freedom) one point passes that bound by
 * chance with probability 0.2%. A changed recipe fails it (the notebook and README show a learning rate 30% lower
 * doing so), as would a wrong gradient, optimizer or initialisation.
 *
 * @param referenceName   the reference's name
 * @param framework       what produced the reference, e.g. "torch 1.13.1"
 * @param steps           the evaluation steps (1-based step counts)
 * @param referenceSeeds  how many reference seeds
 * @param ourSeeds        how many jgrad seeds
 * @param valLoss         the validation loss at each point
 * @param trainLoss       the mean training loss over the steps up to each point since the previous one
 */
public record CurveComparison(String referenceName, String framework, long[] steps, int referenceSeeds, int ourSeeds,
                              Points valLoss, Points trainLoss) {

    /** The largest |z| still called seed noise. */
    public static final double Z_LIMIT = 4.0;

    /** The two compared curves. */
    public enum Metric {
        VAL_LOSS("val", "validation loss"),
        TRAIN_LOSS("loss", "training loss (interval means)");

        private final String column;
        private final String title;

        Metric(String column, String title) {
            this.column = column;
            this.title = title;
        }
    }

    /** Per-point statistics of one metric over the reference's seeds and jgrad's. */
    public record Points(double[] referenceMean, double[] referenceStd, double[] referenceMin, double[] referenceMax,
                         double[] ourMean, double[] ourMin, double[] ourMax, double[] z) {

        static Points of(double[][] reference, double[][] ours) {
            int points = reference[0].length;
            double[] refMean = new double[points], refStd = new double[points], refMin = new double[points],
                    refMax = new double[points], ourMean = new double[points], ourMin = new double[points],
                    ourMax = new double[points], z = new double[points];
            for (int k = 0; k < points; k++) {
                double[] ref = column(reference, k);
                double[] our = column(ours, k);
                refMean[k] = mean(ref);
                refStd[k] = sampleStd(ref, refMean[k]);
                refMin[k] = min(ref);
                refMax[k] = max(ref);
                ourMean[k] = mean(our);
                ourMin[k] = min(our);
                ourMax[k] = max(our);
                double difference = ourMean[k] - refMean[k];
                double ourStd = sampleStd(our, ourMean[k]);
                double pooledVariance = ((ref.length - 1) * refStd[k] * refStd[k]
                        + (our.length - 1) * ourStd * ourStd) / (ref.length + our.length - 2);
                double scale = Math.sqrt(pooledVariance * (1.0 / our.length + 1.0 / ref.length));
                z[k] = difference == 0 ? 0 : difference / scale;
            }
            return new Points(refMean, refStd, refMin, refMax, ourMean, ourMin, ourMax, z);
        }

        /** The largest |z|, NaN if any z is NaN (a diverged run). */
        public double maxAbsZ() {
            double worst = 0;
            for (double v : z) {
                if (Double.isNaN(v)) {
                    return Double.NaN;
                }
                worst = Math.max(worst, Math.abs(v));
            }
            return worst;
        }
    }

    static CurveComparison of(ReferenceCurve reference, List<ReferenceCurve.SeedCurve> ours) {
        if (ours.isEmpty()) {
            throw new IllegalArgumentException("CurveComparison: no jgrad runs to compare with " + reference.name());
        }
        int points = reference.evalSteps().length;
        for (var run : ours) {
            if (run.valLoss().length != points) {
                throw new IllegalArgumentException("CurveComparison: jgrad seed " + run.seed() + " has "
                        + run.valLoss().length + " evaluations, the reference " + reference.name() + " has " + points);
            }
        }
        return new CurveComparison(reference.name(), reference.framework(), reference.evalSteps(),
                reference.runs().size(), ours.size(),
                Points.of(matrix(reference.runs(), true), matrix(ours, true)),
                Points.of(matrix(reference.runs(), false), matrix(ours, false)));
    }

    private static double[][] matrix(List<ReferenceCurve.SeedCurve> runs, boolean validation) {
        double[][] out = new double[runs.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = validation ? runs.get(i).valLoss() : runs.get(i).trainLoss();
        }
        return out;
    }

    public Points points(Metric metric) {
        return metric == Metric.VAL_LOSS ? valLoss : trainLoss;
    }

    /** The largest |z| over both metrics and all points (NaN if a run diverged). */
    public double maxAbsZ() {
        double v = valLoss.maxAbsZ();
        double t = trainLoss.maxAbsZ();
        return Double.isNaN(v) || Double.isNaN(t) ? Double.NaN : Math.max(v, t);
    }

    /** Whether every point of both curves has |z| within {@link #Z_LIMIT}. */
    public boolean withinSeedNoise() {
        return maxAbsZ() <= Z_LIMIT;
    }

    /** Throws, with {@link #summary()} and the table, unless the curves agree within seed noise. */
    public CurveComparison requireWithinSeedNoise() {
        if (!withinSeedNoise()) {
            throw new IllegalStateException(summary() + "\n" + table().print(100));
        }
        return this;
    }

    /** The framework's short name for labels ("torch" for "torch 1.13.1"). */
    public String referenceLabel() {
        int space = framework.indexOf(' ');
        return space < 0 ? framework : framework.substring(0, space);
    }

    /**
     * One line: how many seeds on each side, the worst point, and the verdict; then every point outside the
     * bound, if any.
     */
    public String summary() {
        var sb = new StringBuilder(String.format(Locale.ROOT,
                "jgrad (%d seed%s) vs %s (%d seeds), %s, %d evaluations: max |z| %.2f",
                ourSeeds, ourSeeds == 1 ? "" : "s", framework, referenceSeeds, referenceName, steps.length, maxAbsZ()));
        List<String> outside = new ArrayList<>();
        for (Metric metric : Metric.values()) {
            Points p = points(metric);
            for (int k = 0; k < steps.length; k++) {
                if (!(Math.abs(p.z[k]) <= Z_LIMIT)) {
                    outside.add(String.format(Locale.ROOT, "%s at step %d: jgrad %.4f, %s %.4f +- %.4f (z %.2f)",
                            metric.title, steps[k], p.ourMean[k], referenceLabel(), p.referenceMean[k],
                            p.referenceStd[k], p.z[k]));
                }
            }
        }
        if (outside.isEmpty()) {
            sb.append(String.format(Locale.ROOT, ": within seed noise (|z| <= %.0f at every point)", Z_LIMIT));
        } else {
            sb.append(String.format(Locale.ROOT, ": NOT within seed noise at %d point%s (|z| > %.0f):", outside.size(),
                    outside.size() == 1 ? "" : "s", Z_LIMIT));
            outside.forEach(line -> sb.append("\n  ").append(line));
        }
        return sb.toString();
    }

    /**
     * Every point as a table (a {@link History} keyed by step): the reference's mean and standard deviation,
     * jgrad's mean and z, for the validation loss ({@code val_*}) and the training loss ({@code loss_*}).
     */
    public History table() {
        String ref = referenceLabel();
        History table = new History("jgrad vs " + framework);
        for (int k = 0; k < steps.length; k++) {
            for (Metric metric : Metric.values()) {
                Points p = points(metric);
                table.log(steps[k], metric.column + "_" + ref + "_mean", p.referenceMean[k]);
                table.log(steps[k], metric.column + "_" + ref + "_std", p.referenceStd[k]);
                table.log(steps[k], metric.column + "_jgrad_mean", p.ourMean[k]);
                table.log(steps[k], metric.column + "_z", p.z[k]);
            }
        }
        return table;
    }

    /** Both sides' means over their min-to-max bands (over seeds) against the step. */
    public LinePlot plot(Metric metric) {
        return plot(metric, false);
    }

    /**
     * The same with the reference's mean subtracted at every step, so that the seed noise, invisible next to the
     * fall of the loss, fills the plot: the reference's band around 0 and jgrad's band and mean within it.
     */
    public LinePlot plotDeviation(Metric metric) {
        return plot(metric, true);
    }

    private LinePlot plot(Metric metric, boolean deviation) {
        Points p = points(metric);
        int n = steps.length;
        double[] x = new double[n];
        double[] shift = new double[n];
        for (int k = 0; k < n; k++) {
            x[k] = steps[k];
            shift[k] = deviation ? p.referenceMean[k] : 0;
        }
        String ref = referenceLabel();
        // Shaded: min to max over each side's seeds.
        String title = deviation
                ? String.format(Locale.ROOT, "%s \u2212 %s mean (jgrad %d, %s %d seeds)", metric.title, ref, ourSeeds,
                        ref, referenceSeeds)
                : String.format(Locale.ROOT, "%s: jgrad (%d seeds) vs %s (%d seeds)", metric.title, ourSeeds,
                        framework, referenceSeeds);
        LinePlot plot = Plots.lines(title)
                .band(ref, x, minus(p.referenceMin, shift), minus(p.referenceMax, shift))
                .series(ref + " mean", x, minus(p.referenceMean, shift));
        if (ourSeeds > 1) {
            plot.band("jgrad", x, minus(p.ourMin, shift), minus(p.ourMax, shift));
        }
        return plot.series("jgrad mean", x, minus(p.ourMean, shift))
                .yLabel(deviation ? "difference (nats/token)" : metric.title);
    }

    private static double[] minus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = a[i] - b[i];
        }
        return out;
    }

    @Override
    public String toString() {
        return summary() + "\n" + table().print(100);
    }

    // ------------------------------------------------------------------------------------------ statistics

    private static double[] column(double[][] runs, int k) {
        double[] out = new double[runs.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = runs[i][k];
        }
        return out;
    }

    private static double mean(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        return sum / v.length;
    }

    /** The n - 1 standard deviation; 0 for a single value. */
    private static double sampleStd(double[] v, double mean) {
        if (v.length < 2) {
            return 0;
        }
        double sum = 0;
        for (double x : v) {
            sum += (x - mean) * (x - mean);
        }
        return Math.sqrt(sum / (v.length - 1));
    }

    private static double min(double[] v) {
        double m = Double.POSITIVE_INFINITY;
        for (double x : v) {
            m = Math.min(m, x);
        }
        return m;
    }

    private static double max(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            m = Math.max(m, x);
        }
        return m;
    }
}
