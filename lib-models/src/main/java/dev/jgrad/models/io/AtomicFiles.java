package dev.jgrad.models.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes that a crash cannot leave half done: the content goes to a temporary file in the target's own directory
 * (so the final rename never crosses file systems), is forced to disk, then renamed over the target with
 * {@code ATOMIC_MOVE}. Readers see either the old file or the complete new one, never a prefix.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Fills a freshly created, empty channel; may write, position and truncate as it likes. */
    @FunctionalInterface
    public interface ChannelWriter {
        void writeTo(FileChannel channel) throws IOException;
    }

    /** Writes {@code target} atomically with whatever {@code writer} puts in the channel. */
    public static void write(Path target, ChannelWriter writer) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.writeTo(channel);
                channel.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
            syncDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + target + " failed: " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure is the one worth reporting
                }
            }
        }
    }

    public static void write(Path target, byte[] content) {
        write(target, channel -> writeFully(channel, ByteBuffer.wrap(content)));
    }

    public static void writeString(Path target, String content) {
        write(target, content.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /**
     * Renames a completed directory into place. If {@code target} already exists it is first renamed aside and
     * deleted only after the new one is in place, so at every instant one complete version exists on disk.
     */
    public static void publishDirectory(Path completed, Path target) {
        Path aside = target.resolveSibling(target.getFileName() + ".old");
        try {
            boolean replacing = Files.exists(target);
            if (replacing) {
                deleteRecursively(aside);
                Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(completed, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                if (replacing) {
                    Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
                }
                throw e;
            }
            syncDirectory(target.toAbsolutePath().getParent());
            if (replacing) {
                deleteRecursively(aside);
            }
        } catch (AtomicMoveNotSupportedException e) {
            throw new UncheckedIOException("publishing " + target + ": the file system cannot rename atomically", e);
        } catch (DirectoryNotEmptyException e) {
            throw new UncheckedIOException("publishing " + target + ": " + e.getFile() + " is in the way", e);
        } catch (IOException e) {
            throw new UncheckedIOException("publishing " + completed + " as " + target + " failed: " + e, e);
        }
    }

    /** Deletes a file or a directory tree; a missing path is not an error. */
    public static void deleteRecursively(Path path) {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.delete(p);
                } catch (NoSuchFileException ignored) {
                    // already gone: that is what we wanted
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("deleting " + path + " failed: " + e, e);
        }
    }

    /** Makes a rename durable: on Linux the directory entry itself must be forced. Best effort elsewhere. */
    static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // some platforms cannot open or force a directory; the rename itself is still atomic there
        }
    }
}
