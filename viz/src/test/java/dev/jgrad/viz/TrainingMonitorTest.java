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

    /** A notebook sink that records calls and charges {@code costMs} of fake time per call. */
    private static final class RecordingNotebook implements DisplaySink {
        final FakeClock clock;
        final long cost;
        final List<String> displayed = new ArrayList<>();
        final List<String> updatedIds = new ArrayList<>();
        DisplayContent last;

        RecordingNotebook(FakeClock clock, long costMs) {
            this.clock = clock;
            this.cost = costMs * MS;
        }

        @Override
        public String display(DisplayContent content) {
            clock.now += cost;
            last = content;
            displayed.add("id-" + displayed.size());
            return displayed.getLast();
        }

        @Override
        public void update(String displayId, DisplayContent content) {
            clock.now += cost;
            last = content;
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
    void slowRendersAreSpacedToKeepOverheadUnderBudget() {
        var clock = new FakeClock();
        var notebook = new RecordingNotebook(clock, 30);
        var monitor = new TrainingMonitor(10_000, notebook, clock::read, sinkStream(new ByteArrayOutputStream()))
                .every(Duration.ofMillis(500)).maxOverhead(0.02);
        train(monitor, clock, 10_000, 1);

        int n = monitor.renderCount();
        double elapsedMs = monitor.elapsed().toNanos() / (double) MS;
        // The first redraw (warm-up) is followed after the 500 ms interval, later ones are spaced
        // max(500 ms interval, 30 ms cost / 0.02) = 1500 ms apart; steps advance the clock 1 ms at a time.
        long spacingMs = 1500;
        assertTrue(n <= 2 + (elapsedMs - 500) / spacingMs, n + " renders in " + elapsedMs + " ms");
        assertTrue(n >= 2 + Math.floor((elapsedMs - 501 - 30) / (spacingMs + 1)), n + " renders in " + elapsedMs + " ms");
        assertEquals(30L * n, monitor.renderTime().toMillis());
        assertEquals(30.0 * n / elapsedMs, monitor.overhead(), 1e-9);
        assertTrue(monitor.overhead() <= 0.02 * n / (n - 2.0), "overhead " + monitor.overhead());

        // In place: one display, every later redraw updates that same output.
        assertEquals(1, notebook.displayed.size());
        assertEquals(n - 1, notebook.updatedIds.size());
        assertTrue(notebook.updatedIds.stream().allMatch("id-0"::equals));
        String html = notebook.last.get(DisplayContent.HTML);
        assertTrue(html.contains("data:image/png;base64,") && html.contains("loss"), "live view shows a loss plot");
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
    void throttleSchedulesFromRenderStart() {
        var t = new Throttle(500 * MS, 0.02);
        assertTrue(t.isDue(0));
        t.rendered(0, 900 * MS); // first (warm-up) render: only the interval applies
        assertFalse(t.isDue(499 * MS));
        assertTrue(t.isDue(500 * MS));
        t.rendered(500 * MS, 505 * MS); // 5 ms render: 5/0.02 = 250 ms < 500 ms interval
        assertFalse(t.isDue(999 * MS));
        assertTrue(t.isDue(1000 * MS));
        t.rendered(1000 * MS, 1040 * MS); // 40 ms render needs 2 s spacing
        assertFalse(t.isDue(2999 * MS));
        assertTrue(t.isDue(3000 * MS));
        assertThrows(IllegalArgumentException.class, () -> new Throttle(-1, 0.02));
        assertThrows(IllegalArgumentException.class, () -> new Throttle(0, 0));
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
