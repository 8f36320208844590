package dev.jgrad.viz;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Live view of a training loop: a progress bar, the latest metrics and a loss plot that redraw in place.
 * <pre>{@code
 * try (var monitor = new TrainingMonitor(steps)) {
 *     for (int step = 0; step < steps; step++) {
 *         ...
 *         monitor.log(step, Map.of("loss", loss, "lr", lr));
 *     }
 * }
 * monitor.history().plot("loss").smoothing(0.9).show();
 * }</pre>
 * In a notebook it shows one output and replaces it with update_display_data; elsewhere it prints a compact
 * progress line. Redraws are throttled by wall-clock time (see {@link Throttle}): at most every
 * {@link #every(Duration) interval} and never more than {@link #maxOverhead(double) a fraction} of elapsed time.
 * {@link #overhead()} reports the fraction actually spent drawing.
 */
public final class TrainingMonitor implements AutoCloseable {

    private static final int PLOT_WIDTH = 860;

    /**
     * The first chart a JVM renders pays for class loading and JIT of the chart library (hundreds of milliseconds,
     * 10 to 20 times a steady-state redraw). A notebook monitor starts this once per JVM on a daemon thread, and
     * plots only once it is done, so that cost never lands on the training thread.
     */
    private static final CompletableFuture<Void> CHART_WARM_UP = new CompletableFuture<>();
    private static final AtomicBoolean WARM_UP_STARTED = new AtomicBoolean();
    /** Cost of a warm plot render measured by the warm-up (0 until known): the first plot's expected cost. */
    private static volatile long warmPlotNanos;

    private static void startChartWarmUp() {
        if (!WARM_UP_STARTED.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                var sample = new History("warm-up");
                for (int i = 0; i < 200; i++) {
                    sample.log(i, Map.of("loss", 1.0 / (1 + i), "val_loss", 1.2 / (1 + i)));
                }
                sample.plot("loss", "val_loss").smoothing(0.6).aspect(0.4).toPng(PLOT_WIDTH);   // cold: class loading, JIT
                long start = System.nanoTime();
                sample.plot("loss", "val_loss").smoothing(0.6).aspect(0.4).toPng(PLOT_WIDTH);   // warm: what a redraw costs
                warmPlotNanos = System.nanoTime() - start;
            } finally {
                CHART_WARM_UP.complete(null);
            }
        }, "jgrad-chart-warm-up");
        t.setDaemon(true);
        t.start();
    }

    /** Waits for the chart warm-up (tests drive a fake clock and must not race the real warm-up thread). */
    static void awaitChartWarmUp() {
        CHART_WARM_UP.join();
    }

    private final long totalSteps;
    private final DisplaySink sink;
    private final LongSupplier nanoClock;
    private final PrintStream out;
    private final long startNanos;
    private final History history = new History("training");

    private Duration interval = Duration.ofMillis(750);
    private double maxOverhead = 0.02;
    private double smoothing = 0.6;
    private List<String> plotted = List.of();
    private Throttle throttle;

    private String displayId;
    private long renderedStep = Long.MIN_VALUE;
    private int renderCount;
    private int plotRenderCount;
    private String lastPlotBase64;
    private long finalRenderNanos;
    private long closedAtNanos = -1;
    private boolean closed;

    /** A monitor displaying through {@link Display#sink()}. */
    public TrainingMonitor(long totalSteps) {
        this(totalSteps, Display.sink());
    }

    public TrainingMonitor(long totalSteps, DisplaySink sink) {
        this(totalSteps, sink, SYSTEM_CLOCK, System.out);
    }

    private static final LongSupplier SYSTEM_CLOCK = System::nanoTime;

    /** Full control, for tests: {@code nanoClock} replaces System.nanoTime, {@code out} the terminal. */
    TrainingMonitor(long totalSteps, DisplaySink sink, LongSupplier nanoClock, PrintStream out) {
        if (totalSteps <= 0) throw new IllegalArgumentException("TrainingMonitor: totalSteps must be positive, got " + totalSteps);
        this.totalSteps = totalSteps;
        this.sink = sink;
        this.nanoClock = nanoClock;
        this.out = out;
        this.startNanos = nanoClock.getAsLong();
        if (sink.isNotebook()) {
            startChartWarmUp();
        }
    }

    /** Minimum wall-clock time between redraws (default 750 ms). */
    public TrainingMonitor every(Duration interval) {
        if (interval.isNegative()) throw new IllegalArgumentException("TrainingMonitor.every: interval must be >= 0, got " + interval);
        this.interval = interval;
        this.throttle = null;
        return this;
    }

    /** Largest fraction of wall-clock time redraws may take (default 0.02). */
    public TrainingMonitor maxOverhead(double fraction) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("TrainingMonitor.maxOverhead: fraction must be in (0, 1], got " + fraction);
        }
        this.maxOverhead = fraction;
        this.throttle = null;
        return this;
    }

    /** Metrics drawn in the live plot (default: every metric whose name contains "loss"). */
    public TrainingMonitor plot(String... metrics) {
        this.plotted = List.of(metrics);
        return this;
    }

    /** EMA weight for the live plot (default 0.6, like TensorBoard); 0 draws raw curves only. */
    public TrainingMonitor smoothing(double weight) {
        Smoothing.requireWeight(weight, "TrainingMonitor.smoothing");
        this.smoothing = weight;
        return this;
    }

    /** Records one metric for {@code step} (the 0-based index of the step just finished) and maybe redraws. */
    public void log(long step, String metric, double value) {
        history.log(step, metric, value);
        maybeRender();
    }

    /** Records several metrics for {@code step} and maybe redraws. */
    public void log(long step, Map<String, ? extends Number> metrics) {
        history.log(step, metrics);
        maybeRender();
    }

    public History history() {
        return history;
    }

    /** Redraws so far, including the final one at {@link #close()}. */
    public int renderCount() {
        return renderCount;
    }

    /** Redraws that rendered a new plot image (the others updated only the progress text). */
    public int plotRenderCount() {
        return plotRenderCount;
    }

    /** Time spent drawing during the loop (rendering plus handing output to the notebook or terminal). */
    public Duration renderTime() {
        return Duration.ofNanos(throttle().spentNanos());
    }

    /** Wall-clock time from construction to now, or to {@link #close()} once closed. */
    public Duration elapsed() {
        return Duration.ofNanos(loopEndNanos() - startNanos);
    }

    /** Fraction of the loop's wall-clock time spent drawing (the final redraw at close comes after the loop). */
    public double overhead() {
        long elapsed = loopEndNanos() - startNanos;
        return elapsed <= 0 ? 0 : throttle().spentNanos() / (double) elapsed;
    }

    private long loopEndNanos() {
        return closedAtNanos >= 0 ? closedAtNanos : nanoClock.getAsLong();
    }

    private Throttle throttle() {
        if (throttle == null) throttle = new Throttle(interval.toNanos(), maxOverhead, startNanos);
        return throttle;
    }

    /** Draws the final state with a fresh plot and stops redrawing. */
    @Override
    public void close() {
        if (closed) return;
        closedAtNanos = nanoClock.getAsLong();
        if (!history.isEmpty() && (history.lastStep() != renderedStep || lastPlotBase64 == null)) {
            long start = nanoClock.getAsLong();
            draw(true);
            finalRenderNanos = nanoClock.getAsLong() - start;
        }
        closed = true;
        if (!sink.isNotebook()) out.println(summary());
    }

    public String summary() {
        return String.format(Locale.ROOT,
                "%d/%d steps in %s, monitor overhead %.2f%% (%d redraws, %d with a new plot, %s; final draw %s)",
                Math.min(totalSteps, history.lastStep() + 1), totalSteps, clock(elapsed()), 100 * overhead(),
                renderCount, plotRenderCount, clock(renderTime()), clock(Duration.ofNanos(finalRenderNanos)));
    }

    private void maybeRender() {
        if (closed) return;
        long now = nanoClock.getAsLong();
        Throttle t = throttle();
        if (t.isDue(now)) {
            if (warmPlotNanos > 0 && nanoClock == SYSTEM_CLOCK) {   // a real-time measurement, for a real-time view
                t.expectPlotCost(warmPlotNanos);
            }
            boolean withPlot = sink.isNotebook() && CHART_WARM_UP.isDone() && t.plotAffordable(now);
            long start = nanoClock.getAsLong();
            draw(withPlot);
            t.rendered(start, nanoClock.getAsLong(), withPlot);
        }
    }

    private void draw(boolean withPlot) {
        if (sink.isNotebook()) {
            DisplayContent content = DisplayContent.html(html(withPlot), progressLine());
            if (displayId == null) displayId = sink.display(content);
            else sink.update(displayId, content);
        } else {
            out.println(progressLine());
        }
        renderCount++;
        renderedStep = history.lastStep();
    }

    private String progressLine() {
        long done = Math.min(totalSteps, history.lastStep() + 1);
        int barWidth = 20;
        int filled = (int) (barWidth * done / totalSteps);
        var line = new StringBuilder();
        line.append(String.format(Locale.ROOT, "step %d/%d [%s%s] %3d%%", done, totalSteps, "#".repeat(filled),
                "-".repeat(barWidth - filled), 100 * done / totalSteps));
        for (String metric : history.metrics()) line.append(' ').append(metric).append(' ').append(format(history.last(metric)));
        line.append(" | ").append(timing(done));
        return line.toString();
    }

    private String timing(long done) {
        double seconds = (nanoClock.getAsLong() - startNanos) / 1e9;
        double rate = seconds > 0 ? done / seconds : 0;
        String eta = rate > 0 ? clock(Duration.ofMillis((long) (1000 * (totalSteps - done) / rate))) : "?";
        return String.format(Locale.ROOT, "%.1f it/s, elapsed %s, eta %s", rate, clock(Duration.ofMillis((long) (1000 * seconds))), eta);
    }

    private String html(boolean withPlot) {
        long done = Math.min(totalSteps, history.lastStep() + 1);
        double percent = 100.0 * done / totalSteps;
        var html = new StringBuilder(256);
        html.append("<div style=\"font-family:monospace;font-size:13px;max-width:").append(PLOT_WIDTH).append("px\">");
        html.append(String.format(Locale.ROOT, "<div>step %d / %d &middot; %s</div>", done, totalSteps, escape(timing(done))));
        html.append(String.format(Locale.ROOT,
                "<div style=\"background:#e4e4e4;height:10px;border-radius:5px;margin:4px 0\">"
                        + "<div style=\"background:#4e79a7;height:10px;border-radius:5px;width:%.1f%%\"></div></div>", percent));
        html.append("<div>");
        for (String metric : history.metrics()) {
            html.append("<span style=\"margin-right:14px\"><b>").append(escape(metric)).append("</b> ")
                    .append(format(history.last(metric))).append("</span>");
        }
        html.append("</div>");
        List<String> curves = plottedMetrics();
        if (withPlot && !curves.isEmpty()) {
            byte[] png = history.plot(curves.toArray(String[]::new)).smoothing(smoothing).aspect(0.4).toPng(PLOT_WIDTH);
            lastPlotBase64 = Base64.getEncoder().encodeToString(png);
            plotRenderCount++;
        }
        if (lastPlotBase64 != null) {
            // Between plot redraws the previous image is sent again: re-encoding nothing keeps text updates cheap.
            html.append("<img style=\"max-width:100%\" width=\"").append(PLOT_WIDTH).append("\" src=\"data:image/png;base64,")
                    .append(lastPlotBase64).append("\"/>");
        }
        html.append(String.format(Locale.ROOT, "<div style=\"color:#888\">monitor overhead %.2f%% over %d redraws</div>",
                100 * overhead(), renderCount));
        html.append("</div>");
        return html.toString();
    }

    private List<String> plottedMetrics() {
        List<String> wanted = plotted.isEmpty()
                ? history.metrics().stream().filter(m -> m.contains("loss")).toList()
                : plotted;
        List<String> present = new ArrayList<>();
        for (String m : wanted) if (history.has(m)) present.add(m);
        return present;
    }

    private static String format(double v) {
        return Double.isNaN(v) ? "-" : MetricFormat.format5(v);
    }

    private static String clock(Duration d) {
        long s = d.toSeconds();
        if (s < 60) return String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0);
        return s < 3600 ? String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
