package dev.jgrad.models.optim;

/**
 * Linear warmup, then half a cosine down to a floor, then the floor: nanoGPT's {@code get_lr}.
 * <pre>
 *   it &lt; warmupSteps:                peakLr * (it + 1) / (warmupSteps + 1)
 *   warmupSteps &lt;= it &lt;= totalSteps:  minLr + (peakLr - minLr) * (1 + cos(pi * r)) / 2,
 *                                     r = (it - warmupSteps) / (totalSteps - warmupSteps)
 *   it &gt; totalSteps:                 minLr
 * </pre>
 * The warmup counts from {@code it + 1} so the very first step already moves (a rate of 0 would waste it) and
 * rises to {@code peakLr * warmupSteps / (warmupSteps + 1)} at {@code it = warmupSteps - 1}, just under the peak
 * reached at {@code it = warmupSteps}; {@code minLr} is reached exactly at {@code it = totalSteps}. With
 * {@code totalSteps == warmupSteps} there is no decay phase: the rate drops to {@code minLr} after warmup.
 */
public record WarmupCosineSchedule(double peakLr, long warmupSteps, long totalSteps, double minLr)
        implements LrSchedule {
    public WarmupCosineSchedule {
        if (!(peakLr >= 0) || Double.isInfinite(peakLr) || !(minLr >= 0) || minLr > peakLr) {
            throw new IllegalArgumentException("WarmupCosineSchedule: need 0 <= minLr <= peakLr (finite), got peakLr "
                    + peakLr + ", minLr " + minLr);
        }
        if (warmupSteps < 0 || totalSteps < warmupSteps) {
            throw new IllegalArgumentException("WarmupCosineSchedule: need 0 <= warmupSteps <= totalSteps, got "
                    + "warmupSteps " + warmupSteps + ", totalSteps " + totalSteps);
        }
    }

    @Override
    public double lr(long it) {
        if (it < 0) {
            throw new IllegalArgumentException("WarmupCosineSchedule: step " + it + " is negative");
        }
        if (it < warmupSteps) {
            return peakLr * (it + 1) / (warmupSteps + 1);
        }
        if (it >= totalSteps) {
            return minLr;
        }
        double decayRatio = (double) (it - warmupSteps) / (totalSteps - warmupSteps);
        double coeff = 0.5 * (1.0 + Math.cos(Math.PI * decayRatio));
        return minLr + coeff * (peakLr - minLr);
    }
}
