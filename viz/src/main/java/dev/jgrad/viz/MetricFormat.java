package dev.jgrad.viz;

import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.util.Locale;

/**
 * Prints metric values the way one reads them in a log: 5 significant digits, scientific notation for very small
 * or large magnitudes (learning rates, token rates), so a column of losses lines up without 17-digit tails.
 */
final class MetricFormat extends NumberFormat {
    private static final long serialVersionUID = 1L;

    static String format5(double v) {
        if (Double.isNaN(v)) return "";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        double a = Math.abs(v);
        if (a == 0) return "0";
        if (a < 1e-3 || a >= 1e6) return String.format(Locale.ROOT, "%.4e", v).replaceAll("\\.?0+e", "e");
        String s = String.format(Locale.ROOT, "%.5g", v);
        if (s.contains(".")) s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return s;
    }

    @Override
    public StringBuffer format(double number, StringBuffer toAppendTo, FieldPosition pos) {
        return toAppendTo.append(format5(number));
    }

    @Override
    public StringBuffer format(long number, StringBuffer toAppendTo, FieldPosition pos) {
        return toAppendTo.append(number);
    }

    @Override
    public Number parse(String source, ParsePosition parsePosition) {
        throw new UnsupportedOperationException("MetricFormat only prints");
    }
}
