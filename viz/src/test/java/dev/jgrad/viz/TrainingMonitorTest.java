package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Throttling and in-place updates, driven by a fake clock: no test here depends on real timing. */
class TrainingMonitorTest {

    private static final long MS = 1_000_000L;

    /** A clock the test advances by hand; "rendering" advances it by a fixed cost. */
    private static final class FakeClock {
        long now = 123 * MS;

        long read() {
            return now;
        }
    }

    /**
     * A notebook sink that records calls and charges fake time per call: {@code plotCostMs} when the output
     * carries a plot image it has not seen before (the monitor rendered a new plot), {@code textCostMs} otherwise.
     */
    private static final class RecordingNotebook implements DisplaySink {
        final FakeClock clock;
        final long textCost;
        final long plotCost;
        final List<String> displayed = new ArrayList<>();
        final List<String> updatedIds = new ArrayList<>();
        DisplayContent last;
        String lastImage;
        int newImages;

        RecordingNotebook(FakeClock clock, long costMs) {
            this(clock, costMs, costMs);
        }

        RecordingNotebook(FakeClock clock, long textCostMs, long plotCostMs) {
            this.clock = clock;
            this.textCost = textCostMs * MS;
            this.plotCost = plotCostMs * MS;
        }

        private void charge(DisplayContent content) {
            String html = content.get(DisplayContent.HTML);
            int at = html == null ? -1 : html.indexOf("base64,");
            String image = at < 0 ? null : html.substring(at, html.indexOf('"', at));
            boolean fresh = image != null && !image.equals(lastImage);
            if (fresh) newImages++;
            lastImage = image;
            clock.now += fresh ? plotCost : textCost;
            last = content;
        }

        @Override
        public String display(DisplayContent content) {
            charge(content);
            displayed.add("id-" + displayed.size());
            return displayed.getLast();
        }

        @Override
        public void update(String displayId, DisplayContent content) {
            charge(content);
            updatedIds.add(displayId);
        }

        @Override
        public boolean isNotebook() {
            return true;
        }
    }

    private static PrintStream sinkStream(ByteArrayOutputStream bytes) {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }

    /** Runs {@code steps} fake steps of {@code stepMs} each, logging a loss per step. */
    private static void train(TrainingMonitor monitor, FakeClock clock, int steps, long stepMs) {
        for (int step = 0; step < steps; step++) {
            clock.now += stepMs * MS;
            monitor.log(step, Map.of("loss", 5.0 / (1 + step), "lr", 3e-4));
        }
    }

    @Test
    void plotRedrawsStayWithinTheOverheadBudgetWhileProgressStaysLive() {
        var clock = new FakeClock();
        var notebook = new RecordingNotebook(clock, 1, 30);
        var monitor = new TrainingMonitor(10_000, notebook, clock::read, sinkStream(new ByteArrayOutputStream()))
                .every(Duration.ofMillis(500)).maxOverhead(0.02);
        TrainingMonitor.awaitChartWarmUp();
        train(monitor, clock, 10_000, 1);

        int n = monitor.renderCount();
        int plots = monitor.plotRenderCount();
        double elapsedMs = monitor.elapsed().toNanos() / (double) MS;
        // Progress text: the first step, then once per 500 ms interval (steps advance the clock 1 ms at a time).
        assertTrue(n <= 1 + elapsedMs / 500 && n >= elapsedMs / 502, n + " redraws in " + elapsedMs + " ms");
        // Plots: new images only while all drawing fits in 2% of the elapsed time.
        assertEquals(plots, notebook.newImages);
        assertEquals(30L * plots + (n - plots), monitor.renderTime().toMillis());
        assertTrue(monitor.overhead() <= 0.02, "overhead " + monitor.overhead());
        // About 200 ms of budget in 10 s: several plots, so the live view really moves.
        assertTrue(plots >= 4, plots + " plot redraws");

        // In place: one display, every later redraw updates that same output, and the plot stays visible.
        assertEquals(1, notebook.displayed.size());
        assertEquals(n - 1, notebook.updatedIds.size());
        assertTrue(notebook.updatedIds.stream().allMatch("id-0"::equals));
        String html = notebook.last.get(DisplayContent.HTML);
        assertTrue(html.contains("data:image/png;base64,") && html.contains("loss"), "live view shows a loss plot");

        // close() draws the final state with a fresh plot after the loop; the loop's overhead is unchanged.
        double before = monitor.overhead();
        monitor.close();
        assertEquals(plots + 1, monitor.plotRenderCount());
        assertEquals(before, monitor.overhead(), 1e-12);
    }

    @Test
    void cheapRendersAreLimitedByTheInterval() {
        var clock = new FakeClock();
        var notebook = new RecordingNotebook(clock, 1);
        var monitor = new TrainingMonitor(5_000, notebook, clock::read, sinkStream(new ByteArrayOutputStream()))
                .every(Duration.ofMillis(1000)).plot("lr");
        train(monitor, clock, 5_000, 2);
        int n = monitor.renderCount();
        double elapsedMs = monitor.elapsed().toNanos() / (double) MS;
        assertTrue(n <= 1 + elapsedMs / 1000 && n >= Math.floor(elapsedMs / 1002), n + " renders in " + elapsedMs + " ms");
        monitor.close();
        assertEquals(n + 1, monitor.renderCount(), "close draws the final state");
        assertTrue(notebook.last.get(DisplayContent.TEXT).contains("step 5000/5000"), notebook.last.get(DisplayContent.TEXT));
        monitor.close();
        monitor.log(5_000, "loss", 1);
        assertEquals(n + 1, monitor.renderCount(), "nothing redraws after close");
    }

    @Test
    void outsideANotebookItPrintsThrottledProgressLines() {
        var clock = new FakeClock();
        var out = new ByteArrayOutputStream();
        var terminal = new FileSink(java.nio.file.Path.of("unused"), sinkStream(new ByteArrayOutputStream()));
        var monitor = new TrainingMonitor(3_000, terminal, clock::read, sinkStream(out)).every(Duration.ofMillis(500));
        train(monitor, clock, 3_000, 1);
        monitor.close();
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(monitor.renderCount() + 1, lines.size(), "one line per redraw plus the summary");
        assertTrue(monitor.renderCount() <= 1 + 3_000 / 500 + 1, "renders: " + monitor.renderCount());
        assertTrue(lines.getFirst().startsWith("step 1/3000 ["), lines.getFirst());
        assertTrue(lines.get(lines.size() - 2).startsWith("step 3000/3000 [####################] 100%"), lines.get(lines.size() - 2));
        assertTrue(lines.getLast().contains("monitor overhead"), lines.getLast());
        assertFalse(java.nio.file.Files.exists(java.nio.file.Path.of("unused")), "terminal mode writes no files");
    }

    @Test
    void throttleKeepsPlotsWithinTheBudgetAndProgressOnTheInterval() {
        var t = new Throttle(500 * MS, 0.02, 0);
        assertTrue(t.isDue(0));
        assertFalse(t.plotAffordable(0), "no time has passed, so there is no budget yet");
        t.rendered(0, MS, false); // 1 ms of progress text
        assertFalse(t.isDue(499 * MS));
        assertTrue(t.isDue(500 * MS));
        // Before any plot is measured the expected cost is 60 ms: 1 ms + 60 ms <= 2% of elapsed from 3.05 s on.
        assertFalse(t.plotAffordable(3_049 * MS));
        assertTrue(t.plotAffordable(3_050 * MS));
        t.rendered(3_050 * MS, 3_950 * MS, true); // a slow first plot (warm-up): 900 ms
        assertTrue(t.isDue(4_450 * MS), "progress text keeps its interval");
        // 901 ms spent, next plot expected to cost 900 ms: affordable once 2% of elapsed reaches 1801 ms.
        assertFalse(t.plotAffordable(90_049 * MS));
        assertTrue(t.plotAffordable(90_050 * MS));
        assertEquals(901 * MS, t.spentNanos());
        assertThrows(IllegalArgumentException.class, () -> new Throttle(-1, 0.02, 0));
        assertThrows(IllegalArgumentException.class, () -> new Throttle(0, 0, 0));
    }

    @Test
    void invalidConfigurationIsRejected() {
        var sink = new RecordingNotebook(new FakeClock(), 0);
        assertThrows(IllegalArgumentException.class, () -> new TrainingMonitor(0, sink));
        assertThrows(IllegalArgumentException.class, () -> new TrainingMonitor(10, sink).maxOverhead(0));
        assertThrows(IllegalArgumentException.class, () -> new TrainingMonitor(10, sink).every(Duration.ofMillis(-1)));
        assertThrows(IllegalArgumentException.class, () -> new TrainingMonitor(10, sink).smoothing(1));
    }
}
