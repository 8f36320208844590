package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.Table;

class HistoryTest {

    private static History run() {
        var h = new History();
        for (int step = 0; step < 5; step++) {
            var m = new LinkedHashMap<String, Number>();
            m.put(History.LOSS, 5.0 - step);
            m.put(History.LR, 1e-3);
            h.log(step, m);
            if (step % 2 == 0) h.log(step, History.VAL_LOSS, 6.0 - step);
        }
        h.log(5, 0.5, 1e-4, 2.0, 12345); // loss, lr, grad_norm, tokens/s
        return h;
    }

    @Test
    void loggingAMetricAgainAllocatesOnlyItsStorage() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        var h = new History();
        String[] metrics = new String[30];   // a trainer logs a gradient norm per layer at every step
        for (int i = 0; i < metrics.length; i++) {
            metrics[i] = "grad_norm/layer." + i;
        }
        double perCall = 0;
        for (int round = 0; round < 5; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int step = round * 1000; step < (round + 1) * 1000; step++) {
                for (String m : metrics) {
                    h.log(step, m, step * 0.5);
                }
            }
            perCall = (threads.getCurrentThreadAllocatedBytes() - before) / (1000.0 * metrics.length);
        }
        // About 60 bytes: the columns' storage growing as rows are added. Finding a column through the table
        // instead allocated about 800 per call.
        assertTrue(perCall < 200, perCall + " bytes per History.log call");
        assertEquals(5000, h.size());
        assertEquals(2499.5, h.last("grad_norm/layer.29"));

        // Column names are matched as the table matches them (ignoring case), remembered or not.
        h.log(5000, "GRAD_NORM/LAYER.0", 1.0);
        h.log(5000, "grad_norm/layer.0", 2.0);
        assertEquals(30, h.metrics().size());
        assertEquals(2.0, h.last("grad_norm/layer.0"));
    }

    @Test
    void rowsPerStepColumnsPerMetricMissingAsNaN() {
        History h = run();
        assertEquals(6, h.size());
        assertEquals(List.of("loss", "lr", "val_loss", "grad_norm", "tokens_per_s"), h.metrics());
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5}, h.steps());
        assertArrayEquals(new double[] {5, 4, 3, 2, 1, 0.5}, h.values("loss"), 0);
        double[] val = h.values("val_loss");
        assertEquals(6, val[0]);
        assertTrue(Double.isNaN(val[1]));
        assertEquals(4, val[2]);
        assertTrue(Double.isNaN(val[5]));
        double[] norms = h.values("grad_norm");
        for (int i = 0; i < 5; i++) assertTrue(Double.isNaN(norms[i]), "grad_norm appeared at step 5, row " + i + " must be missing");
        assertEquals(2.0, norms[5]);
        assertEquals(2.0, h.last("val_loss")); // step 4's value: later rows have none
        assertTrue(Double.isNaN(h.last("unknown")));
    }

    @Test
    void tableExposesTheSameDataAsTablesaw() {
        Table t = run().table();
        assertEquals(List.of("step", "loss", "lr", "val_loss", "grad_norm", "tokens_per_s"), t.columnNames());
        assertEquals(6, t.rowCount());
        assertEquals(3.0, t.doubleColumn("loss").getDouble(2));
        assertEquals(12345.0, t.doubleColumn("tokens_per_s").getDouble(5));
        assertEquals(3, t.doubleColumn("val_loss").countMissing()); // logged at steps 0, 2, 4 only
        t.removeColumns("loss"); // a copy: the history keeps its columns
        assertTrue(run().has("loss"));
    }

    @Test
    void printsAlignedTableWithReadableNumbers() {
        String text = run().toString();
        for (String header : new String[] {"step", "loss", "val_loss", "tokens_per_s"}) assertTrue(text.contains(header), text);
        assertTrue(text.contains("0.001") && text.contains("1e-04"), "small learning rates in scientific notation: " + text);
        assertTrue(text.contains("12345"), text);
    }

    @Test
    void htmlTableShowsHeadAndTailRows() {
        var h = new History();
        for (int step = 0; step < 30; step++) h.log(step, "loss", 100 + step);
        String html = h.toHtml(6);
        assertTrue(html.contains("<th") && html.contains(">step<") && html.contains(">loss<"), html);
        for (int step : new int[] {0, 1, 2, 27, 28, 29}) assertTrue(html.contains(">" + (100 + step) + "<"), "row " + step);
        assertTrue(!html.contains(">115<") && html.contains("24 more rows"), html);
        String all = run().toHtml(100);
        assertEquals(1 + 6, all.split("<tr>").length - 1, "header + 6 rows, all shown");
        assertTrue(!all.contains("more rows"), all);
    }

    @Test
    void showPrintsTheTableOutsideANotebook() {
        var printed = new java.io.ByteArrayOutputStream();
        Display.use(new FileSink(java.nio.file.Path.of("unused"), new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8)));
        try {
            run().show();
        } finally {
            Display.reset();
        }
        String text = printed.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(text.contains("tokens_per_s") && text.contains("12345") && !text.contains("<table"), text);
    }

    @Test
    void plotHasOneSeriesPerMetricAndSkipsMissingSteps() {
        LinePlot plot = run().plot("loss", "val_loss");
        assertEquals(2, plot.seriesCount());
        Pixels.assertRendered(plot.toPng(640), 640);
    }

    @Test
    void stepsMustNotGoBackAndMetricNamesMustBeKnown() {
        History h = run();
        var back = assertThrows(IllegalArgumentException.class, () -> h.log(3, "loss", 1));
        assertTrue(back.getMessage().contains("step 3") && back.getMessage().contains("5"), back.getMessage());
        var unknown = assertThrows(IllegalArgumentException.class, () -> h.values("acc"));
        assertTrue(unknown.getMessage().contains("\"acc\"") && unknown.getMessage().contains("loss"), unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> h.log(6, "step", 1));
        assertThrows(IllegalArgumentException.class, () -> h.plot());
        var nullValue = new LinkedHashMap<String, Number>();
        nullValue.put("loss", null);
        assertThrows(IllegalArgumentException.class, () -> h.log(7, nullValue));
        assertEquals(6, h.size(), "failed logs add no rows");
        h.log(6, Map.of("loss", 0.25));
        assertEquals(7, h.size());
    }
}
