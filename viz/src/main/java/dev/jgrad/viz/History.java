package dev.jgrad.viz;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;
import tech.tablesaw.columns.numbers.NumberColumnFormatter;

/**
 * Metric history of a training run: one row per step, one column per metric, stored in a Tablesaw {@link Table}.
 * Metrics may appear at any step (validation loss every 100 steps, say); cells never logged are missing (NaN).
 * Logging a metric at the same step as the last row fills that row, a later step starts a new one.
 * <pre>{@code
 * var history = new History();
 * history.log(step, Map.of(History.LOSS, loss, History.LR, lr));
 * history.log(step, History.VAL_LOSS, valLoss);
 * history.plot(History.LOSS, History.VAL_LOSS).smoothing(0.9).show();
 * System.out.println(history);
 * }</pre>
 */
public final class History {

    public static final String STEP = "step";
    public static final String LOSS = "loss";
    public static final String VAL_LOSS = "val_loss";
    public static final String LR = "lr";
    public static final String GRAD_NORM = "grad_norm";
    public static final String TOKENS_PER_S = "tokens_per_s";

    private final Table table;
    private final LongColumn steps = LongColumn.create(STEP);
    /**
     * Each metric's column under the exact name it was logged by. A training step logs dozens of metrics, and
     * finding a column in the table (names compared one by one, through a stream) allocates on every call.
     */
    private final Map<String, DoubleColumn> columnsByName = new HashMap<>();

    public History() {
        this("history");
    }

    public History(String name) {
        this.table = Table.create(name, steps);
    }

    /** Records {@code value} for {@code metric} at {@code step}. */
    public History log(long step, String metric, double value) {
        int row = rowFor(step, metric);
        column(metric).set(row, value);
        return this;
    }

    /** Records several metrics for one step. */
    public History log(long step, Map<String, ? extends Number> metrics) {
        for (var e : metrics.entrySet()) {
            if (e.getValue() == null) throw new IllegalArgumentException("History.log: metric \"" + e.getKey() + "\" is null at step " + step);
        }
        for (var e : metrics.entrySet()) log(step, e.getKey(), e.getValue().doubleValue());
        return this;
    }

    /** Convenience for the usual per-step metrics of a language-model run. */
    public History log(long step, double loss, double lr, double gradNorm, double tokensPerSecond) {
        log(step, LOSS, loss);
        log(step, LR, lr);
        log(step, GRAD_NORM, gradNorm);
        return log(step, TOKENS_PER_S, tokensPerSecond);
    }

    public int size() {
        return table.rowCount();
    }

    public boolean isEmpty() {
        return table.rowCount() == 0;
    }

    /** Metric names in the order they were first logged (without "step"). */
    public List<String> metrics() {
        List<String> names = new ArrayList<>(table.columnNames());
        names.remove(STEP);
        return names;
    }

    public boolean has(String metric) {
        return !STEP.equals(metric) && table.containsColumn(metric);
    }

    public long[] steps() {
        return steps.asLongArray();
    }

    /** All values of {@code metric}, NaN where it was not logged. */
    public double[] values(String metric) {
        return existing(metric, "History.values").asDoubleArray();
    }

    /** Last step recorded, or -1 when empty. */
    public long lastStep() {
        return steps.isEmpty() ? -1 : steps.getLong(steps.size() - 1);
    }

    /** Most recent logged (non-missing) value of {@code metric}, or NaN if it has none. */
    public double last(String metric) {
        if (!has(metric)) return Double.NaN;
        DoubleColumn c = (DoubleColumn) table.column(metric);
        for (int i = c.size() - 1; i >= 0; i--) if (!c.isMissing(i)) return c.getDouble(i);
        return Double.NaN;
    }

    /** A copy of the history as a Tablesaw table (columns "step" then metrics), free to filter, join, or save. */
    public Table table() {
        return table.copy();
    }

    /** A line plot of the given metrics against step, skipping steps where a metric was not logged. */
    public LinePlot plot(String... metrics) {
        if (metrics.length == 0) throw new IllegalArgumentException("History.plot: name at least one metric, have " + metrics());
        LinePlot plot = Plots.lines(String.join(", ", metrics));
        long[] s = steps();
        for (String metric : metrics) {
            double[] v = values(metric);
            int n = 0;
            double[] x = new double[v.length], y = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                if (Double.isNaN(v[i])) continue;
                x[n] = s[i];
                y[n++] = v[i];
            }
            plot.series(metric, Arrays.copyOf(x, n), Arrays.copyOf(y, n));
        }
        return plot;
    }

    /** An HTML table of the first and last rows (at most {@code maxRows} in all), for notebook display. */
    public String toHtml(int maxRows) {
        Style.requirePositive(maxRows, "maxRows", "History.toHtml");
        var html = new StringBuilder(1024);
        html.append("<table style=\"font-family:monospace;font-size:12px;border-collapse:collapse\"><thead><tr>");
        for (String name : table.columnNames()) {
            html.append("<th style=\"text-align:right;padding:2px 10px;border-bottom:1px solid #999\">").append(escape(name)).append("</th>");
        }
        html.append("</tr></thead><tbody>");
        int rows = size(), head = rows <= maxRows ? rows : (maxRows + 1) / 2, tail = rows <= maxRows ? 0 : maxRows / 2;
        for (int r = 0; r < head; r++) htmlRow(html, r);
        if (tail > 0 || head < rows) {
            html.append("<tr><td colspan=\"").append(table.columnCount()).append("\" style=\"text-align:center;color:#888\">&hellip; ")
                    .append(rows - head - tail).append(" more rows &hellip;</td></tr>");
        }
        for (int r = rows - tail; r < rows; r++) htmlRow(html, r);
        return html.append("</tbody></table>").toString();
    }

    /** Shows the table inline in a notebook (HTML), or prints it outside one. */
    public void show() {
        Display.sink().display(DisplayContent.html(toHtml(20), toString()));
    }

    private void htmlRow(StringBuilder html, int row) {
        html.append("<tr>");
        html.append("<td style=\"text-align:right;padding:2px 10px\">").append(steps.getLong(row)).append("</td>");
        for (String metric : metrics()) {
            double v = ((DoubleColumn) table.column(metric)).getDouble(row);
            html.append("<td style=\"text-align:right;padding:2px 10px\">").append(MetricFormat.format5(v)).append("</td>");
        }
        html.append("</tr>");
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /** The first and last rows as an aligned text table (Tablesaw's printer). */
    public String print(int maxRows) {
        return table.print(maxRows);
    }

    @Override
    public String toString() {
        return print(20);
    }

    private int rowFor(long step, String metric) {
        if (STEP.equals(metric)) throw new IllegalArgumentException("History.log: \"step\" is the row key, not a metric");
        long last = lastStep();
        if (!steps.isEmpty() && step < last) {
            throw new IllegalArgumentException("History.log: step " + step + " for \"" + metric + "\" is before the last recorded step " + last);
        }
        if (steps.isEmpty() || step > last) {
            steps.append(step);
            for (Column<?> c : table.columns()) if (c != steps) c.appendMissing();
        }
        return steps.size() - 1;
    }

    private DoubleColumn column(String metric) {
        DoubleColumn known = columnsByName.get(metric);
        if (known != null) return known;
        if (metric == null || metric.isBlank()) throw new IllegalArgumentException("History.log: metric name must not be blank");
        DoubleColumn c;
        if (table.containsColumn(metric)) {
            c = (DoubleColumn) table.column(metric);
        } else {
            c = DoubleColumn.create(metric);
            c.setPrintFormatter(new NumberColumnFormatter(new MetricFormat()));
            for (int i = 0; i < steps.size(); i++) c.appendMissing();
            table.addColumns(c);
        }
        columnsByName.put(metric, c);
        return c;
    }

    private DoubleColumn existing(String metric, String op) {
        if (!has(metric)) throw new IllegalArgumentException(op + ": no metric \"" + metric + "\", have " + metrics());
        return (DoubleColumn) table.column(metric);
    }
}
