package dev.jgrad.generation.cli;

import dev.jgrad.generation.BeamSearch;
import dev.jgrad.generation.BeamSettings;
import dev.jgrad.generation.Decoder;
import dev.jgrad.generation.FinishReason;
import dev.jgrad.generation.GenerationResult;
import dev.jgrad.generation.Generator;
import dev.jgrad.generation.SamplingSettings;
import dev.jgrad.generation.TokenListener;
import dev.jgrad.models.cli.Main;
import dev.jgrad.models.cli.UsageException;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.tokenizer.Tokenizer;
import dev.jgrad.models.train.Trainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code ./jgrad generate}: text from a checkpoint, greedy, sampled or by beam search. Prints the prompt and its
 * continuation (token by token with {@code --stream}), then a line with the finish reason and the speed.
 * Exit codes: 0 success, 1 failure while running, 2 bad command line.
 */
public final class GenerateCommand {
    static final String USAGE = """
            usage: generate --checkpoint DIR --prompt TEXT [--strategy greedy|sample|beam] [--max-new N] [--stream]
                            [--temperature T] [--top-k K] [--top-p P] [--min-p M] [--repetition-penalty R]
                            [--seed S]                     (with --strategy sample)
                            [--beams N]                    (with --strategy beam)
                            [--no-cache]                   (recompute every token: the slow reference decoder)
            """;
    private static final Set<String> WITH_VALUE = Set.of("checkpoint", "prompt", "strategy", "max-new",
            "temperature", "top-k", "top-p", "min-p", "repetition-penalty", "seed", "beams");
    private static final Set<String> FLAGS = Set.of("stream", "no-cache");
    private static final List<String> SAMPLING_OPTIONS = List.of("temperature", "top-k", "top-p", "min-p", "seed");

    private GenerateCommand() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command on {@code args} (the options after "generate"); returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            if (args.length == 1 && Set.of("help", "--help", "-h").contains(args[0])) {
                out.print(USAGE);
                return 0;
            }
            generate(parse(args), out);
            out.flush();
            return 0;
        } catch (UsageException e) {
            err.println("error: " + e.getMessage());
            err.print(USAGE);
            return 2;
        } catch (RuntimeException e) {
            out.flush();
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private static void generate(Map<String, String> o, PrintStream out) {
        String prompt = required(o, "prompt");
        if (prompt.isEmpty()) {
            throw new UsageException("generate: --prompt is empty; the model needs at least one token to continue");
        }
        String strategy = o.getOrDefault("strategy", "greedy");
        if (!Set.of("greedy", "sample", "beam").contains(strategy)) {
            throw new UsageException("generate: --strategy must be greedy, sample or beam, got '" + strategy + "'");
        }
        for (String option : SAMPLING_OPTIONS) {
            if (o.containsKey(option) && !strategy.equals("sample")) {
                throw new UsageException("generate: --" + option + " needs --strategy sample (strategy is " + strategy
                        + ")");
            }
        }
        if (o.containsKey("beams") && !strategy.equals("beam")) {
            throw new UsageException("generate: --beams needs --strategy beam (strategy is " + strategy + ")");
        }
        if (o.containsKey("repetition-penalty") && strategy.equals("beam")) {
            throw new UsageException("generate: --repetition-penalty does not apply to beam search");
        }
        int maxNew = (int) integer(o, "max-new", 64);
        Path dir;
        try {
            dir = Trainer.checkpointDirectory(Path.of(required(o, "checkpoint")));
        } catch (IllegalArgumentException e) {
            throw new UsageException("generate: --checkpoint: " + e.getMessage());
        }
        Gpt gpt = Trainer.gptFrom(Checkpoint.load(dir));
        gpt.eval();
        Tokenizer tokenizer = Main.loadTokenizer(dir);
        Decoder decoder = Generator.decoderFor(gpt, !o.containsKey("no-cache"));
        boolean stream = o.containsKey("stream");

        if (strategy.equals("beam")) {
            BeamSettings settings = settings(() -> BeamSettings.of((int) integer(o, "beams", 4)).withMaxNewTokens(maxNew));
            BeamSearch.Result r = new BeamSearch(decoder, tokenizer).search(prompt, settings);
            out.println(prompt + r.best().text());
            out.printf(Locale.ROOT, "[%s, %d beams, score %.4f; %s]%n", reasonName(r.best().finishReason()),
                    settings.width(), r.best().score(), r.timings());
            return;
        }
        SamplingSettings settings = settings(() -> {
            SamplingSettings s = strategy.equals("greedy") ? SamplingSettings.greedy()
                    : SamplingSettings.sampling(decimal(o, "temperature", 1.0))
                            .withTopK((int) integer(o, "top-k", 0))
                            .withTopP(decimal(o, "top-p", 1.0))
                            .withMinP(decimal(o, "min-p", 0.0))
                            .withSeed(integer(o, "seed", 0));
            return s.withRepetitionPenalty(decimal(o, "repetition-penalty", 1.0)).withMaxNewTokens(maxNew);
        });
        out.print(prompt);
        out.flush();
        TokenListener listener = !stream ? null : new TokenListener() {
            @Override
            public void onToken(int id, String text) {
                out.print(text);
                out.flush();
            }

            @Override
            public void onEnd(String text, FinishReason reason) {
                out.print(text);
                out.flush();
            }
        };
        GenerationResult r = new Generator(decoder, tokenizer).generate(prompt, settings, listener);
        if (!stream) {
            out.print(r.text());
        }
        out.println();
        out.printf(Locale.ROOT, "[%s; %s]%n", reasonName(r.finishReason()), r.timings());
    }

    private static String reasonName(FinishReason reason) {
        return reason.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }

    /** Settings records check their values; a bad one is a usage error here. */
    private static <T> T settings(java.util.function.Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw new UsageException("generate: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------ options

    private static Map<String, String> parse(String[] args) {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new UsageException("generate: unexpected argument '" + arg + "'");
            }
            String name = arg.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (FLAGS.contains(name)) {
                if (value != null) {
                    throw new UsageException("generate: --" + name + " takes no value");
                }
                value = "true";
            } else if (WITH_VALUE.contains(name)) {
                if (value == null) {
                    // A prompt may itself start with dashes, so --prompt always takes the next argument.
                    if (i + 1 >= args.length || (args[i + 1].startsWith("--") && !name.equals("prompt"))) {
                        throw new UsageException("generate: --" + name + " needs a value");
                    }
                    value = args[++i];
                }
            } else {
                Set<String> known = new TreeSet<>(WITH_VALUE);
                known.addAll(FLAGS);
                throw new UsageException("generate: unknown option --" + name + " (known: --"
                        + String.join(", --", known) + ")");
            }
            if (o.put(name, value) != null) {
                throw new UsageException("generate: --" + name + " is given twice");
            }
        }
        return o;
    }

    private static String required(Map<String, String> o, String name) {
        String v = o.get(name);
        if (v == null) {
            throw new UsageException("generate: --" + name + " is required");
        }
        return v;
    }

    private static long integer(Map<String, String> o, String name, long fallback) {
        String s = o.get(name);
        if (s == null) {
            return fallback;
        }
        try {
            long v = Long.parseLong(s);
            if (!name.equals("seed") && (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)) {
                throw new UsageException("generate: --" + name + " is out of range: " + s);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException("generate: --" + name + " must be an integer, got '" + s + "'");
        }
    }

    private static double decimal(Map<String, String> o, String name, double fallback) {
        String s = o.get(name);
        if (s == null) {
            return fallback;
        }
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new UsageException("generate: --" + name + " must be a number, got '" + s + "'");
        }
    }
}
