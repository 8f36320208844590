package dev.jgrad.viz;

/** Curve smoothing for noisy training metrics. */
public final class Smoothing {
    private Smoothing() {}

    /**
     * TensorBoard's smoothing: an exponential moving average with weight {@code weight} on the past, debiased so
     * that early points are not pulled towards zero. Point i is the weighted mean of the finite values so far with
     * weight {@code weight^(age)}; non-finite values (a diverged loss) pass through unchanged and are skipped by
     * the average.
     *
     * @param weight in [0, 1): 0 returns the input, 0.9 to 0.99 is typical for per-step losses
     */
    public static double[] ema(double[] values, double weight) {
        requireWeight(weight, "Smoothing.ema");
        double[] smoothed = new double[values.length];
        double last = 0;
        int finiteCount = 0;
        for (int i = 0; i < values.length; i++) {
            double v = values[i];
            if (!Double.isFinite(v)) {
                smoothed[i] = v;
                continue;
            }
            last = last * weight + (1 - weight) * v;
            finiteCount++;
            double debias = 1 - Math.pow(weight, finiteCount);
            smoothed[i] = last / debias;
        }
        return smoothed;
    }

    /** Checks an EMA weight is in [0, 1); {@code op} names the caller in the message. */
    static void requireWeight(double weight, String op) {
        if (!(weight >= 0 && weight < 1)) throw new IllegalArgumentException(op + ": weight must be in [0, 1), got " + weight);
    }
}
