package dev.jgrad.viz;

/**
 * Decides when a live view redraws, and whether a redraw may re-render its plot.
 *
 * <p>Progress text (bar, step, latest metrics) is cheap, about a millisecond, and is redrawn at most once per
 * interval. The plot image is what costs: tens of milliseconds steady state, and the first one also pays for
 * class loading and JIT warm-up of the chart library. So the plot is re-rendered only while all the time spent
 * drawing so far, plus the expected cost of this plot, stays within {@code maxOverhead} of the wall-clock time
 * since the view started. The expected cost is the last plot's measured cost, or {@link #INITIAL_PLOT_COST_NANOS}
 * before the first. The budget holds whatever the plot costs; a slow first plot only delays the next one.
 */
final class Throttle {
    /** Expected plot cost before one has been measured (steady-state plot redraws took 30 to 130 ms here). */
    static final long INITIAL_PLOT_COST_NANOS = 60_000_000L;

    private final long minIntervalNanos;
    private final double maxOverhead;
    private final long startNanos;
    private boolean renderedOnce;
    private long lastRenderNanos;
    private long spentNanos;
    private long expectedPlotNanos = INITIAL_PLOT_COST_NANOS;
    private boolean plotMeasured;

    Throttle(long minIntervalNanos, double maxOverhead, long startNanos) {
        if (minIntervalNanos < 0) throw new IllegalArgumentException("Throttle: interval must be >= 0, got " + minIntervalNanos + " ns");
        if (!(maxOverhead > 0 && maxOverhead <= 1)) {
            throw new IllegalArgumentException("Throttle: max overhead must be in (0, 1], got " + maxOverhead);
        }
        this.minIntervalNanos = minIntervalNanos;
        this.maxOverhead = maxOverhead;
        this.startNanos = startNanos;
    }

    /** True when a redraw (at least of the progress text) is due: the first one, then once per interval. */
    boolean isDue(long nowNanos) {
        return !renderedOnce || nowNanos - lastRenderNanos >= minIntervalNanos;
    }

    /** True when re-rendering the plot now keeps total drawing time within the overhead budget. */
    boolean plotAffordable(long nowNanos) {
        return spentNanos + expectedPlotNanos <= maxOverhead * (nowNanos - startNanos);
    }

    /** Sets the expected plot cost from an outside measurement, until a plot of this view has been timed. */
    void expectPlotCost(long nanos) {
        if (!plotMeasured) {
            expectedPlotNanos = nanos;
        }
    }

    /** Records a redraw from {@code startNanos} to {@code endNanos}, with or without a new plot. */
    void rendered(long renderStart, long renderEnd, boolean withPlot) {
        long cost = Math.max(0, renderEnd - renderStart);
        spentNanos += cost;
        if (withPlot) {
            expectedPlotNanos = cost;
            plotMeasured = true;
        }
        lastRenderNanos = renderStart;
        renderedOnce = true;
    }

    /** Total time spent drawing so far. */
    long spentNanos() {
        return spentNanos;
    }
}
