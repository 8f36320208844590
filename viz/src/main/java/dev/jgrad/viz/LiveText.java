package dev.jgrad.viz;

import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * Text that grows while it is produced, such as a sample streamed token by token. In a notebook it is one output
 * replaced in place (at most once per interval, and once more on {@link #close}), so a long stream does not
 * flood the cell; in a terminal each piece is printed and flushed as it comes.
 *
 * <pre>{@code
 * try (var live = LiveText.show("sample")) {
 *     generator.generate(prompt, settings, (id, piece) -> live.append(piece));
 * }
 * }</pre>
 */
public final class LiveText implements AutoCloseable {
    private static final long DEFAULT_INTERVAL_NANOS = 100_000_000L;

    private final DisplaySink sink;
    private final PrintStream terminal;
    private final LongSupplier clock;
    private final long intervalNanos;
    private final String title;
    private final StringBuilder text = new StringBuilder();
    private String displayId;
    private long lastShownNanos;
    private int shownLength = -1;

    LiveText(String title, DisplaySink sink, PrintStream terminal, LongSupplier clock, long intervalNanos) {
        this.title = title;
        this.sink = sink;
        this.terminal = terminal;
        this.clock = clock;
        this.intervalNanos = intervalNanos;
    }

    /** A live text output titled {@code title} (may be empty) in the current {@link Display}'s sink. */
    public static LiveText show(String title) {
        LiveText live = new LiveText(title, Display.sink(), System.out, System::nanoTime, DEFAULT_INTERVAL_NANOS);
        live.redraw();
        return live;
    }

    /** Adds {@code piece} to the text; the notebook output catches up at most once per interval. */
    public synchronized LiveText append(String piece) {
        text.append(piece);
        if (!sink.isNotebook()) {
            terminal.print(piece);
            terminal.flush();
        } else if (displayId == null || clock.getAsLong() - lastShownNanos >= intervalNanos) {
            redraw();
        }
        return this;
    }

    /** Everything appended so far. */
    public synchronized String text() {
        return text.toString();
    }

    /** Shows the final text (in a terminal: ends the line). */
    @Override
    public synchronized void close() {
        if (sink.isNotebook()) {
            if (shownLength != text.length()) {
                redraw();
            }
        } else {
            terminal.println();
            terminal.flush();
        }
    }

    private void redraw() {
        lastShownNanos = clock.getAsLong();
        if (!sink.isNotebook()) {
            if (displayId == null && !title.isEmpty()) {
                terminal.println(title + ":");
            }
            displayId = "terminal";
            return;
        }
        String heading = title.isEmpty() ? "" : "<b>" + escape(title) + "</b><br>";
        var content = DisplayContent.html(heading + "<pre style=\"white-space: pre-wrap; margin: 0\">"
                + escape(text.toString()) + "</pre>", text.toString());
        if (displayId == null) {
            displayId = sink.display(content);
        } else {
            sink.update(displayId, content);
        }
        shownLength = text.length();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
