package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LiveTextTest {
    private static final long MS = 1_000_000L;

    /** A notebook that records what it was asked to show. */
    private static final class Notebook implements DisplaySink {
        final List<String> shown = new ArrayList<>();
        final List<String> ids = new ArrayList<>();

        @Override
        public String display(DisplayContent content) {
            shown.add(content.data().get(DisplayContent.HTML));
            ids.add("new");
            return "id-" + shown.size();
        }

        @Override
        public void update(String displayId, DisplayContent content) {
            shown.add(content.data().get(DisplayContent.HTML));
            ids.add(displayId);
        }

        @Override
        public boolean isNotebook() {
            return true;
        }
    }

    @Test
    void aNotebookOutputIsReplacedInPlaceAtMostOncePerIntervalAndEndsWithTheWholeText() {
        var notebook = new Notebook();
        long[] now = {0};
        var live = new LiveText("sample", notebook, System.out, () -> now[0], 100 * MS);
        live.append("x");                          // 0 ms after the start: the first output
        for (int i = 0; i < 50; i++) {            // 50 pieces over 49 ms: nothing new shown
            now[0] += MS;
            live.append("<a&b>");
        }
        assertEquals(1, notebook.shown.size());
        now[0] += 100 * MS;
        live.append("!");
        assertEquals(2, notebook.shown.size());
        live.append("?");
        live.close();
        assertEquals(3, notebook.shown.size(), "close shows what the interval held back");
        assertEquals(List.of("new", "id-1", "id-1"), notebook.ids, "one output, updated in place");
        String last = notebook.shown.get(2);
        assertTrue(last.contains("<b>sample</b>"), last);
        assertTrue(last.endsWith("&lt;a&amp;b&gt;!?</pre>"), last);
        assertEquals("x" + "<a&b>".repeat(50) + "!?", live.text());
    }

    @Test
    void aTerminalGetsEachPieceAsItComes() {
        var bytes = new ByteArrayOutputStream();
        var out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        var terminal = new FileSink(java.nio.file.Path.of("unused"), out);
        try (var live = new LiveText("", terminal, out, () -> 0, 100 * MS)) {
            live.append("Call ").append("me ");
            assertEquals("Call me ", bytes.toString(StandardCharsets.UTF_8));
            live.append("Ishmael");
        }
        assertEquals("Call me Ishmael" + System.lineSeparator(), bytes.toString(StandardCharsets.UTF_8));
    }
}
