package dev.jgrad.models.cli;

import dev.jgrad.autograd.Tape;
import dev.jgrad.autograd.Variable;
import dev.jgrad.models.data.Corpora;
import dev.jgrad.models.data.TextIngest;
import dev.jgrad.models.data.TokenDataset;
import dev.jgrad.models.gpt.Gpt;
import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.models.io.Checkpoint;
import dev.jgrad.models.io.CheckpointManager;
import dev.jgrad.models.io.Json;
import dev.jgrad.models.tokenizer.BpeTokenizer;
import dev.jgrad.models.tokenizer.ByteTokenizer;
import dev.jgrad.models.tokenizer.Tokenizer;
import dev.jgrad.models.tokenizer.TokenizerFiles;
import dev.jgrad.models.train.CurveComparison;
import dev.jgrad.models.train.ReferenceCurve;
import dev.jgrad.models.train.TrainableModel;
import dev.jgrad.models.train.Trainer;
import dev.jgrad.models.train.TrainerConfig;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.viz.TrainingMonitor;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * jgrad's command line for language models ({@code ./jgrad train llm ...}, {@code eval}, {@code logits},
 * {@code tokenize}). Exit codes: 0 success, 1 failure while running, 2 bad command line.
 */
public final class Main {
    static final String USAGE = """
            usage:
              train llm --data PATH|default --steps N --out DIR [--config small|large|gpt2|llama|FILE.json]
                        [--resume] [--batch B] [--context T] [--lr LR] [--threads N] [--seed S]
                        [--eval-every N] [--eval-batches K] [--checkpoint-every N] [--keep K]
                        [--tokenizer byte|gpt2|bpe:VOCAB] [--optimizer adamw|adam|sgd]
                        [--momentum M] [--nesterov] [--no-progress]
                  --optimizer  adamw (default; betas 0.9, 0.95, decoupled weight decay 0.1), adam (L2 weight
                               decay 0.1) or sgd (momentum --momentum, default 0.9; --nesterov; L2 weight decay 0.1)
                  --resume     continues the run in --out from its latest checkpoint with its own settings;
                               --steps N (>= the checkpoint's step) stops at N instead, also past the planned
                               end: the learning-rate schedule is kept, so extra steps run at its final rate
              curve [--reference short|full] [--seeds 0-2] [--threads N] [--plot FILE.png] [--lr LR]
                  trains the reference's recipe (GPT-small on Moby Dick) once per seed and compares the loss
                  curves with PyTorch's for the same recipe (10 / 12 seeds); exit code 1 unless they agree within
                  seed noise (|z| <= 4 at every evaluation). --lr changes the recipe's peak learning rate (and
                  its final rate, a tenth of it), to see the comparison catch a different recipe
              eval --checkpoint DIR --data PATH|default [--batches K]
              logits --checkpoint DIR --tokens 1,2,3
              tokenize --tokenizer byte|gpt2|DIR      (text on stdin, ids on stdout)
            """;

    private static final String BYTE_TOKENIZER_FILE = TokenizerFiles.TOKENIZER_FILE;

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.in, System.out, System.err));
    }

    /** Runs one command; stdin is System.in. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, System.in, out, err);
    }

    public static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
        try {
            if (args.length == 0) {
                throw new UsageException("no command given");
            }
            if (args.length == 2 && Set.of("help", "--help", "-h").contains(args[1])) {
                out.print(USAGE);
                return 0;
            }
            switch (args[0]) {
                case "train" -> train(args, out);
                case "eval" -> eval(args, out);
                case "curve" -> {
                    if (!curve(args, out)) {
                        out.flush();
                        return 1;
                    }
                }
                case "logits" -> logits(args, out);
                case "tokenize" -> tokenize(args, in, out);
                case "help", "--help", "-h" -> out.print(USAGE);
                default -> throw new UsageException("unknown command '" + args[0] + "'");
            }
            out.flush();
            return 0;
        } catch (UsageException e) {
            err.println("error: " + e.getMessage());
            err.print(USAGE);
            return 2;
        } catch (RuntimeException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    // ------------------------------------------------------------------------------------------ train

    private static void train(String[] args, PrintStream out) {
        if (args.length < 2 || !args[1].equals("llm")) {
            throw new UsageException("train: the only model kind is 'llm' (./jgrad train llm ...)");
        }
        Options o = Options.parse("train llm", args, 2,
                Set.of("data", "config", "steps", "out", "batch", "context", "lr", "threads", "seed", "eval-every",
                        "eval-batches", "checkpoint-every", "keep", "tokenizer", "optimizer", "momentum"),
                Set.of("resume", "no-progress", "nesterov"));
        Path outDir = Path.of(o.string("out"));
        String data = o.string("data");
        int threads = o.positiveInt("threads", Parallel.threads());
        Parallel.setThreads(threads);
        boolean hasCheckpoints = Files.isDirectory(outDir) && !new CheckpointManager(outDir, 1).steps().isEmpty();

        Trainer trainer;
        if (o.has("resume")) {
            if (!hasCheckpoints) {
                throw new UsageException("train llm: --resume but " + outDir + " holds no step-* checkpoints");
            }
            for (String fixed : List.of("config", "batch", "context", "lr", "seed", "eval-every", "eval-batches",
                    "checkpoint-every", "keep", "tokenizer")) {
                if (o.has(fixed)) {
                    throw new UsageException("train llm: --" + fixed + " cannot change when resuming; the run in "
                            + outDir + " keeps its own settings");
                }
            }
            Path latest = Trainer.checkpointDirectory(outDir);
            Tokenizer tokenizer = loadTokenizer(latest);
            Checkpoint saved = Checkpoint.load(latest);
            TrainerConfig savedConfig = savedTrainerConfig(saved, latest);
            checkSameOptimizer(o, savedConfig, outDir);
            long done = saved.trainer().step();
            long steps = o.has("steps") ? o.positiveLong("steps") : savedConfig.steps();
            if (steps < done) {
                throw new UsageException("train llm: the run in " + outDir + " is already at step " + done
                        + "; --steps " + steps + " would end before it (give --steps >= " + done + ")");
            }
            var split = TokenDataset.of(tokenizer.encode(readText(data))).split(savedConfig.validationFraction());
            trainer = Trainer.resume(outDir, split, steps);
            out.printf(Locale.ROOT, "resuming %s at step %d of %d%s%n", latest, trainer.stepCount(), steps,
                    steps == savedConfig.steps() ? "" : String.format(Locale.ROOT, " (the run was planned for %d "
                            + "steps; its learning rate decays until step %d and stays at %g after it)",
                            savedConfig.steps(), savedConfig.lrDecaySteps(), savedConfig.minLr()));
        } else {
            if (hasCheckpoints) {
                throw new UsageException("train llm: " + outDir + " already holds checkpoints; pass --resume to "
                        + "continue that run or choose another --out (nothing was changed)");
            }
            long steps = o.positiveLong("steps");
            String text = readText(data);
            Tokenizer tokenizer = tokenizer(o.string("tokenizer", "byte"), text);
            GptConfig modelConfig = modelConfig(o.string("config", "small"), tokenizer.vocabSize(),
                    o.has("context") ? o.positiveInt("context", 0) : -1);
            int context = o.positiveInt("context", Math.min(modelConfig.contextLength(), 128));
            if (context > modelConfig.contextLength()) {
                throw new UsageException("train llm: --context " + context + " exceeds the model's context length "
                        + modelConfig.contextLength());
            }
            long evalEvery = o.positiveLong("eval-every", Math.max(1, steps / 10));
            TrainerConfig.OptimizerKind optimizer = optimizerKind(o);
            boolean sgd = optimizer == TrainerConfig.OptimizerKind.SGD;
            if (!sgd && (o.has("momentum") || o.has("nesterov"))) {
                throw new UsageException("train llm: --momentum and --nesterov apply to --optimizer sgd only, not "
                        + optimizer.id());
            }
            TrainerConfig config = TrainerConfig.defaults()
                    .withSteps(steps)
                    .withOptimizer(optimizer)
                    .withMomentum(sgd ? momentum(o, 0.9) : 0, o.has("nesterov"))
                    .withBatch(o.positiveInt("batch", 16), context)
                    .withLr(o.positiveDouble("lr", 1e-3), o.positiveDouble("lr", 1e-3) / 10, Math.min(100, steps / 10))
                    .withEval(evalEvery, o.positiveInt("eval-batches", 8), 0)
                    .withCheckpoints(o.positiveLong("checkpoint-every", Math.max(1, steps / 5)), o.positiveInt("keep", 3))
                    .withSeed(o.has("seed") ? o.longValue("seed") : 1337);
            var split = TokenDataset.of(tokenizer.encode(text)).split(config.validationFraction());
            Gpt gpt = new Gpt(modelConfig, new Rng(config.seed()));
            trainer = new Trainer(TrainableModel.of(gpt), split, config).tokenizerFiles(tokenizerFiles(tokenizer));
            trainer.checkpointTo(outDir);
            out.printf(Locale.ROOT, "training a %,d-parameter %s model (%d layers, d %d, context %d, vocab %d) for "
                            + "%d steps on %,d tokens (%,d validation), %d thread(s)%n", gpt.parameterCount(),
                    modelConfig.layout().name().toLowerCase(Locale.ROOT), modelConfig.layers(), modelConfig.dModel(),
                    context, modelConfig.vocabSize(), steps, split.train().size(), split.validation().size(), threads);
            out.println("optimizer: " + trainer.optimizer());
        }
        trainer.workers(threads);
        Trainer.Result result;
        if (o.has("no-progress")) {
            result = trainer.run();
        } else {
            try (var monitor = new TrainingMonitor(trainer.config().steps())) {
                trainer.monitor(monitor);
                result = trainer.run();
            }
        }
        Trainer.Evaluation eval = trainer.evaluate();
        out.printf(Locale.ROOT, "step %d: loss %.4f, val_loss %.4f, perplexity %.3f%s%n", result.steps(),
                result.lastLoss(), eval.loss(), eval.perplexity(), result.stoppedEarly() ? " (stopped early)" : "");
        out.println("checkpoint: " + Trainer.checkpointDirectory(outDir));
    }

    // ------------------------------------------------------------------------------------------ curve

    /** Returns whether the curves agree within seed noise. */
    private static boolean curve(String[] args, PrintStream out) {
        Options o = Options.parse("curve", args, 1, Set.of("reference", "seeds", "threads", "plot", "lr"), Set.of());
        String which = o.string("reference", "short");
        ReferenceCurve reference = ReferenceCurve.load(switch (which) {
            case "short" -> ReferenceCurve.SHORT;
            case "full" -> ReferenceCurve.FULL;
            default -> {
                if (!ReferenceCurve.names().contains(which)) {
                    throw new UsageException("curve: --reference must be short, full or one of "
                            + ReferenceCurve.names() + ", got '" + which + "'");
                }
                yield which;
            }
        });
        List<Long> seeds = seeds(o.string("seeds", "0-2"));
        int threads = o.positiveInt("threads", Parallel.threads());
        Parallel.setThreads(threads);
        TrainerConfig recipe = reference.recipe();
        if (o.has("lr")) {
            double lr = o.positiveDouble("lr", 0);
            recipe = recipe.withLr(lr, lr / 10, recipe.warmupSteps());
        }
        out.printf(Locale.ROOT, "%s: %s%n", reference.name(), reference.description());
        out.printf(Locale.ROOT, "jgrad: %d seed(s) %s, %d thread(s)%s%n", seeds.size(), seeds, threads,
                o.has("lr") ? String.format(Locale.ROOT, ", CHANGED RECIPE: lr %g -> %g", reference.recipe().lr(),
                        recipe.lr()) : "");
        var data = reference.split();
        List<ReferenceCurve.SeedCurve> curves = new ArrayList<>();
        for (long seed : seeds) {
            long started = System.nanoTime();
            ReferenceCurve.SeedCurve c = reference.train(seed, data, recipe, null);
            double[] val = c.valLoss();
            out.printf(Locale.ROOT, "seed %d: val_loss %.4f -> %.4f (%.0f s)%n", seed, val[0], val[val.length - 1],
                    (System.nanoTime() - started) / 1e9);
            out.flush();
            curves.add(c);
        }
        CurveComparison comparison = reference.compare(curves);
        out.println(comparison);
        if (o.has("plot")) {
            Path png = Path.of(o.string("plot"));
            try {
                Files.write(png, comparison.plot(CurveComparison.Metric.VAL_LOSS).toPng(1000));
            } catch (IOException e) {
                throw new UncheckedIOException("curve: cannot write " + png + ": " + e, e);
            }
            out.println("plot: " + png);
        }
        return comparison.withinSeedNoise();
    }

    /** "0-2" or "0,3,5". */
    private static List<Long> seeds(String spec) {
        List<Long> seeds = new ArrayList<>();
        try {
            int dash = spec.indexOf('-');
            if (dash > 0) {
                long first = Long.parseLong(spec.substring(0, dash));
                long last = Long.parseLong(spec.substring(dash + 1));
                for (long s = first; s <= last; s++) {
                    seeds.add(s);
                }
            } else {
                for (String s : spec.split(",")) {
                    seeds.add(Long.parseLong(s.trim()));
                }
            }
        } catch (NumberFormatException e) {
            throw new UsageException("curve: --seeds must look like 0-2 or 0,3,5, got '" + spec + "'");
        }
        if (seeds.isEmpty() || seeds.size() > 100) {
            throw new UsageException("curve: --seeds must name 1 to 100 seeds, got '" + spec + "'");
        }
        return seeds;
    }

    private static TrainerConfig.OptimizerKind optimizerKind(Options o) {
        try {
            return TrainerConfig.OptimizerKind.of(o.string("optimizer", "adamw"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("train llm: --optimizer must be adamw, adam or sgd, got '" + o.string("optimizer")
                    + "'");
        }
    }

    private static double momentum(Options o, double fallback) {
        if (!o.has("momentum")) {
            return fallback;
        }
        String s = o.string("momentum");
        double m;
        try {
            m = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new UsageException("train llm: --momentum must be a number, got '" + s + "'");
        }
        if (!(m >= 0 && m <= 1)) {
            throw new UsageException("train llm: --momentum must be in [0, 1], got " + s);
        }
        return m;
    }

    /**
     * A resumed run keeps its optimizer: the saved state (Adam's moments, SGD's momentum buffers) belongs to it
     * and means nothing to another one. Options that restate the saved choice are accepted.
     */
    private static void checkSameOptimizer(Options o, TrainerConfig saved, Path outDir) {
        String was = "the run in " + outDir + " uses " + saved.optimizer().id()
                + (saved.optimizer() == TrainerConfig.OptimizerKind.SGD
                        ? " (momentum " + saved.momentum() + (saved.nesterov() ? ", nesterov" : "") + ")" : "");
        if (o.has("optimizer") && optimizerKind(o) != saved.optimizer()) {
            throw new UsageException("train llm: --optimizer " + o.string("optimizer") + " cannot change when "
                    + "resuming: " + was + " and its checkpoint holds that optimizer's state");
        }
        if ((o.has("momentum") && momentum(o, 0) != saved.momentum()) || (o.has("nesterov") && !saved.nesterov())) {
            throw new UsageException("train llm: --momentum/--nesterov cannot change when resuming: " + was);
        }
    }

    private static TrainerConfig savedTrainerConfig(Checkpoint c, Path dir) {
        if (c.trainer().extra().get("trainer_config") instanceof Map<?, ?> m) {
            @SuppressWarnings("unchecked")
            Map<String, ?> map = (Map<String, ?>) m;
            return TrainerConfig.fromMap(map);
        }
        throw new UsageException(dir + " was not written by the trainer (no trainer_config in trainer.json)");
    }

    /** A named preset with the tokenizer's vocabulary, or a config.json file. */
    static GptConfig modelConfig(String name, int vocabSize, int context) {
        GptConfig base = switch (name) {
            case "small", "large" -> GptConfig.preset(name);
            case "gpt2" -> GptConfig.gpt2Small(vocabSize, 1024);
            // LLaMA-style at the "small" size: RMSNorm, SwiGLU (hidden ~8/3 d), RoPE, 2 key/value heads.
            case "llama" -> GptConfig.llama(vocabSize, 128, 4, 128, 4, 2, 352);
            default -> {
                if (!name.endsWith(".json")) {
                    throw new UsageException("train llm: --config must be small, large, gpt2, llama or a .json file, "
                            + "got '" + name + "'");
                }
                Path file = Path.of(name);
                if (!Files.isRegularFile(file)) {
                    throw new UsageException("train llm: --config file " + file + " does not exist");
                }
                GptConfig fromFile;
                try {
                    fromFile = GptConfig.fromJson(Files.readString(file));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + file + ": " + e, e);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("train llm: --config " + file + ": " + e.getMessage());
                }
                if (fromFile.vocabSize() < vocabSize) {
                    throw new UsageException("train llm: --config " + file + " has vocab_size " + fromFile.vocabSize()
                            + " but the tokenizer has " + vocabSize + " tokens");
                }
                yield fromFile;
            }
        };
        int contextLength = context > 0 && !name.endsWith(".json") ? context : base.contextLength();
        int vocab = name.endsWith(".json") ? base.vocabSize() : vocabSize;
        return new GptConfig(vocab, contextLength, base.layers(), base.dModel(), base.heads(), base.kvHeads(),
                base.mlpHidden(), base.norm(), base.activation(), base.positions(), base.ropeTheta(),
                base.tiedEmbeddings(), base.bias(), base.dropout(), base.eps());
    }

    // ------------------------------------------------------------------------------------------ eval, logits

    private static void eval(String[] args, PrintStream out) {
        Options o = Options.parse("eval", args, 1, Set.of("checkpoint", "data", "batches"), Set.of());
        Path dir = checkpoint(o);
        Checkpoint c = Checkpoint.load(dir);
        Gpt gpt = Trainer.gptFrom(c);
        Tokenizer tokenizer = loadTokenizer(dir);
        double validationFraction = 0.1;
        int batch = 16;
        int context = Math.min(gpt.config().contextLength(), 128);
        if (c.trainer().extra().get("trainer_config") instanceof Map<?, ?>) {
            TrainerConfig tc = savedTrainerConfig(c, dir);
            validationFraction = tc.validationFraction();
            batch = tc.batchSize();
            context = tc.context();
        }
        var split = TokenDataset.of(tokenizer.encode(readText(o.string("data")))).split(validationFraction);
        var e = Trainer.evaluate(TrainableModel.of(gpt), split.validation(), batch, context,
                o.positiveInt("batches", Integer.MAX_VALUE));
        out.printf(Locale.ROOT, "val_loss %.6f%nperplexity %.4f%ntokens %d%n", e.loss(), e.perplexity(), e.tokens());
    }

    private static void logits(String[] args, PrintStream out) {
        Options o = Options.parse("logits", args, 1, Set.of("checkpoint", "tokens"), Set.of());
        Path dir = checkpoint(o);
        Gpt gpt = Trainer.gptFrom(Checkpoint.load(dir));
        int[] ids = parseIds(o.string("tokens"), gpt.config());
        gpt.eval();
        List<Double> last = new ArrayList<>();
        try (var noGrad = Tape.noGrad()) {
            Variable logits = gpt.logits(ids, 1, ids.length);
            int vocab = gpt.config().vocabSize();
            for (int i = 0; i < vocab; i++) {
                last.add(logits.value().get(0, ids.length - 1, i));
            }
        }
        out.println(Json.write(last));
    }

    private static int[] parseIds(String list, GptConfig config) {
        String[] parts = list.split(",");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new UsageException("logits: --tokens must be comma-separated integers, got '" + parts[i] + "'");
            }
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new UsageException("logits: token " + ids[i] + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            }
        }
        if (ids.length > config.contextLength()) {
            throw new UsageException("logits: " + ids.length + " tokens exceed the context length "
                    + config.contextLength());
        }
        return ids;
    }

    /** --checkpoint: a checkpoint directory or a run directory (its latest checkpoint). */
    private static Path checkpoint(Options o) {
        Path dir = Path.of(o.string("checkpoint"));
        try {
            return Trainer.checkpointDirectory(dir);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------ tokenizers, data

    private static void tokenize(String[] args, InputStream in, PrintStream out) {
        Options o = Options.parse("tokenize", args, 1, Set.of("tokenizer"), Set.of());
        String name = o.string("tokenizer");
        Tokenizer tokenizer = switch (name) {
            case "byte" -> new ByteTokenizer();
            case "gpt2" -> BpeTokenizer.gpt2();
            default -> {
                Path dir = Path.of(name);
                if (!Files.isDirectory(dir)) {
                    throw new UsageException("tokenize: --tokenizer must be byte, gpt2 or a checkpoint directory, "
                            + "got '" + name + "'");
                }
                yield loadTokenizer(Files.isRegularFile(dir.resolve(BYTE_TOKENIZER_FILE)) ? dir
                        : Trainer.checkpointDirectory(dir));
            }
        };
        String text;
        try {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("tokenize: cannot read stdin: " + e, e);
        }
        int[] ids = tokenizer.encode(text);
        var sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            sb.append(i == 0 ? "" : ",").append(ids[i]);
        }
        out.println(sb);
    }

    static Tokenizer tokenizer(String spec, String trainingText) {
        if (spec.equals("byte")) {
            return new ByteTokenizer();
        }
        if (spec.equals("gpt2")) {
            return BpeTokenizer.gpt2();
        }
        if (spec.startsWith("bpe:")) {
            int vocab;
            try {
                vocab = Integer.parseInt(spec.substring(4));
            } catch (NumberFormatException e) {
                throw new UsageException("--tokenizer bpe:VOCAB needs an integer vocabulary size, got '" + spec + "'");
            }
            if (vocab < 257) {
                throw new UsageException("--tokenizer bpe:VOCAB needs VOCAB > 256 (the bytes plus merges), got " + vocab);
            }
            return BpeTokenizer.train(trainingText, vocab, List.of(BpeTokenizer.END_OF_TEXT));
        }
        throw new UsageException("--tokenizer must be byte, gpt2 or bpe:VOCAB, got '" + spec + "'");
    }

    /** The files that describe {@code tokenizer}, saved with every checkpoint. */
    static Map<String, byte[]> tokenizerFiles(Tokenizer tokenizer) {
        return TokenizerFiles.of(tokenizer);
    }

    /** The tokenizer saved in a checkpoint directory; a directory without one is a usage error. */
    public static Tokenizer loadTokenizer(Path dir) {
        if (!Files.isRegularFile(dir.resolve(BYTE_TOKENIZER_FILE))) {
            throw new UsageException(dir + " has no " + BYTE_TOKENIZER_FILE + " (not a checkpoint written by "
                    + "./jgrad train)");
        }
        return TokenizerFiles.load(dir);
    }

    /** {@code default} is Moby Dick from the cache; otherwise a text file, or the text files under a directory. */
    static String readText(String data) {
        if (data.equals("default")) {
            return Corpora.mobyDick();
        }
        Path source = Path.of(data);
        if (!Files.exists(source)) {
            throw new UsageException("--data " + source + " does not exist");
        }
        var sb = new StringBuilder();
        for (Path file : TextIngest.textFiles(source)) {
            try {
                if (!sb.isEmpty()) {
                    sb.append('\n');
                }
                sb.append(Files.readString(file, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + " as UTF-8 text: " + e, e);
            }
        }
        if (sb.isEmpty()) {
            throw new UsageException("--data " + source + " holds no text");
        }
        return sb.toString();
    }

}
