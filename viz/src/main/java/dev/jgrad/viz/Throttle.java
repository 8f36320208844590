package dev.jgrad.viz;

/**
 * Decides when a live view may redraw. Two limits, whichever is later: at most one redraw per minimum interval,
 * and redraws spaced so that their own cost stays under a fraction of wall-clock time (a 30 ms render with a 2%
 * budget waits 1.5 s), which keeps monitoring cheap however slow a render turns out to be. The first redraw's
 * cost is not used for pacing: it is dominated by one-off class loading and JIT warm-up (measured at 10-20x a
 * steady-state redraw under the notebook kernel) and would otherwise freeze the view for minutes.
 */
final class Throttle {

    private final long minIntervalNanos;
    private final double maxOverhead;
    private int renders = 0;
    private long nextDueNanos;

    Throttle(long minIntervalNanos, double maxOverhead) {
        if (minIntervalNanos < 0) throw new IllegalArgumentException("Throttle: interval must be >= 0, got " + minIntervalNanos + " ns");
        if (!(maxOverhead > 0 && maxOverhead <= 1)) {
            throw new IllegalArgumentException("Throttle: max overhead must be in (0, 1], got " + maxOverhead);
        }
        this.minIntervalNanos = minIntervalNanos;
        this.maxOverhead = maxOverhead;
    }

    boolean isDue(long nowNanos) {
        return renders == 0 || nowNanos - nextDueNanos >= 0;
    }

    /** Records a redraw that ran from {@code startNanos} to {@code endNanos} and schedules the next one. */
    void rendered(long startNanos, long endNanos) {
        long cost = renders == 0 ? 0 : Math.max(0, endNanos - startNanos);
        long spacing = Math.max(minIntervalNanos, (long) Math.ceil(cost / maxOverhead));
        nextDueNanos = startNanos + spacing;
        renders++;
    }
}
