package dev.jgrad.models.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A run's checkpoints under one root: {@code step-000123/} directories (see {@link Checkpoint}), keeping only the
 * newest {@code keepLast}. A directory only ever appears under its final name complete, so {@link #latest()} is
 * always safe to resume from, whatever moment a previous process died at.
 */
public final class CheckpointManager {
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");

    private final Path root;
    private final int keepLast;

    public CheckpointManager(Path root, int keepLast) {
        if (keepLast < 1) {
            throw new IllegalArgumentException("CheckpointManager: keepLast must be at least 1, got " + keepLast);
        }
        this.root = root;
        this.keepLast = keepLast;
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("CheckpointManager: cannot create " + root + ": " + e, e);
        }
        recoverInterruptedReplace();
    }

    public Path root() {
        return root;
    }

    public Path directory(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("CheckpointManager: step must be non-negative, got " + step);
        }
        return root.resolve(String.format("step-%06d", step));
    }

    /** Saves {@code checkpoint} as step {@code step} (replacing an existing one), then prunes old ones. */
    public Path save(long step, Checkpoint checkpoint) {
        Path dir = directory(step);
        checkpoint.save(dir);
        prune();
        return dir;
    }

    /** The steps of complete checkpoints, ascending. */
    public List<Long> steps() {
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(Files::isDirectory)
                    .map(p -> STEP_DIR.matcher(p.getFileName().toString()))
                    .filter(Matcher::matches)
                    .map(m -> Long.parseLong(m.group(1)))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("CheckpointManager: cannot list " + root + ": " + e, e);
        }
    }

    /** The newest complete checkpoint directory, if any. */
    public Optional<Path> latest() {
        List<Long> steps = steps();
        return steps.isEmpty() ? Optional.empty() : Optional.of(directory(steps.getLast()));
    }

    public Optional<Checkpoint> loadLatest() {
        return latest().map(Checkpoint::load);
    }

    private void prune() {
        List<Long> steps = steps();
        for (long step : steps.subList(0, Math.max(0, steps.size() - keepLast))) {
            Path dir = directory(step);
            // Rename first, so a crash half way through deleting never leaves a partial step-N behind.
            Path doomed = dir.resolveSibling(dir.getFileName() + ".deleting");
            try {
                AtomicFiles.deleteRecursively(doomed);
                Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new UncheckedIOException("CheckpointManager: cannot retire " + dir + ": " + e, e);
            }
            AtomicFiles.deleteRecursively(doomed);
        }
    }

    /**
     * Replacing step-N renames the old one to step-N.old before moving the new one in; if the process died in
     * between, the old one is put back. Leftover .tmp and .deleting directories are garbage and removed.
     */
    private void recoverInterruptedReplace() {
        try (Stream<Path> entries = Files.list(root)) {
            for (Path p : entries.toList()) {
                String name = p.getFileName().toString();
                if (!name.startsWith("step-")) {
                    continue;
                }
                if (name.endsWith(".old")) {
                    Path original = p.resolveSibling(name.substring(0, name.length() - 4));
                    if (Files.exists(original)) {
                        AtomicFiles.deleteRecursively(p);
                    } else {
                        Files.move(p, original, StandardCopyOption.ATOMIC_MOVE);
                    }
                } else if (name.endsWith(".tmp") || name.endsWith(".deleting")) {
                    AtomicFiles.deleteRecursively(p);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("CheckpointManager: cannot inspect " + root + ": " + e, e);
        }
    }
}
