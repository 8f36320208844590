package dev.jgrad.models.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A subcommand's {@code --name value} and {@code --flag} options, checked against what the subcommand accepts.
 * Every problem is a {@link UsageException} naming the option and the value.
 */
final class Options {
    private final String command;
    private final Map<String, String> values = new LinkedHashMap<>();

    private Options(String command) {
        this.command = command;
    }

    /**
     * Parses {@code args[from..]}; {@code withValue} lists the options that take a value, {@code flags} those that
     * do not (names without the leading dashes).
     */
    static Options parse(String command, String[] args, int from, Set<String> withValue, Set<String> flags) {
        Options o = new Options(command);
        for (int i = from; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new UsageException(command + ": unexpected argument '" + arg + "'");
            }
            String name = arg.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flags.contains(name)) {
                if (inline != null) {
                    throw new UsageException(command + ": --" + name + " takes no value");
                }
                o.put(name, "true");
            } else if (withValue.contains(name)) {
                String value = inline;
                if (value == null) {
                    if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                        throw new UsageException(command + ": --" + name + " needs a value");
                    }
                    value = args[++i];
                }
                o.put(name, value);
            } else {
                Set<String> known = new TreeSet<>(withValue);
                known.addAll(flags);
                throw new UsageException(command + ": unknown option --" + name + " (known: --"
                        + String.join(", --", known) + ")");
            }
        }
        return o;
    }

    private void put(String name, String value) {
        if (values.put(name, value) != null) {
            throw new UsageException(command + ": --" + name + " is given twice");
        }
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    String string(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new UsageException(command + ": --" + name + " is required");
        }
        return v;
    }

    String string(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    long positiveLong(String name, long fallback) {
        return has(name) ? positiveLong(name) : fallback;
    }

    long positiveLong(String name) {
        long v = longValue(name);
        if (v < 1) {
            throw new UsageException(command + ": --" + name + " must be at least 1, got " + v);
        }
        return v;
    }

    long longValue(String name) {
        String s = string(name);
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new UsageException(command + ": --" + name + " must be an integer, got '" + s + "'");
        }
    }

    int positiveInt(String name, int fallback) {
        long v = positiveLong(name, fallback);
        if (v > Integer.MAX_VALUE) {
            throw new UsageException(command + ": --" + name + " is too large: " + v);
        }
        return (int) v;
    }

    double positiveDouble(String name, double fallback) {
        if (!has(name)) {
            return fallback;
        }
        String s = string(name);
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new UsageException(command + ": --" + name + " must be a number, got '" + s + "'");
        }
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new UsageException(command + ": --" + name + " must be a positive number, got '" + s + "'");
        }
        return v;
    }

    /** An existing path. */
    Path existing(String name) {
        Path p = Path.of(string(name));
        if (!Files.exists(p)) {
            throw new UsageException(command + ": --" + name + " " + p + " does not exist");
        }
        return p;
    }
}
