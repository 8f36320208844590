package dev.jgrad.models.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A tokenized corpus on disk, read back memory-mapped so that a corpus larger than the heap costs no heap.
 * The format, all integers little-endian:
 *
 * <pre>
 *   offset  size  field
 *        0     8  magic, the ASCII bytes "JGTOKENS"
 *        8     4  format version, 1
 *       12     4  token width in bytes: 2 (unsigned 16-bit ids, vocabulary up to 65536) or 4 (signed 32-bit)
 *       16     8  token count
 *       24     4  vocabulary size; every id is in [0, vocabulary size)
 *       28     4  end-of-text id separating documents, or -1 when the file holds one undivided stream
 *       32     .  the ids, count x width bytes; nothing follows
 * </pre>
 *
 * The width is the smallest that holds the vocabulary, so byte- and GPT-2-sized vocabularies take 2 bytes a
 * token, as in nanoGPT's {@code train.bin}, but with a header saying so.
 */
public final class TokenFile implements TokenSequence {
    static final byte[] MAGIC = "JGTOKENS".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int HEADER_BYTES = 32;
    /** Token bytes are mapped in windows of this size (a multiple of both widths): no single 2 GB mapping limit. */
    private static final long MAP_CHUNK_BYTES = 1L << 30;

    private final Path path;
    private final int width;
    private final long length;
    private final int vocabSize;
    private final int endOfText;
    private final MappedByteBuffer[] chunks;

    private TokenFile(Path path, int width, long length, int vocabSize, int endOfText, MappedByteBuffer[] chunks) {
        this.path = path;
        this.width = width;
        this.length = length;
        this.vocabSize = vocabSize;
        this.endOfText = endOfText;
        this.chunks = chunks;
    }

    /** 2 when every id of a vocabulary of this size fits in an unsigned 16-bit integer, else 4. */
    public static int widthFor(int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("TokenFile: vocabulary size must be positive, got " + vocabSize);
        }
        return vocabSize <= 65536 ? 2 : 4;
    }

    // ------------------------------------------------------------------------------------------ writing

    /** Writes {@code ids} as a token file, atomically. */
    public static void write(Path file, int[] ids, int vocabSize, int endOfText) {
        try (Writer w = Writer.create(file, vocabSize, endOfText)) {
            w.append(ids);
            w.commit();
        }
    }

    /**
     * Streams ids into a new token file: written to a temporary file beside the target, and renamed into place
     * by {@link #commit()}; closing without committing discards it, so a failed ingest leaves no partial file.
     */
    public static final class Writer implements AutoCloseable {
        private final Path target;
        private final Path tmp;
        private final FileChannel channel;
        private final int width;
        private final int vocabSize;
        private final int endOfText;
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long count;
        private boolean finished;

        private Writer(Path target, int vocabSize, int endOfText) throws IOException {
            this.target = target;
            this.width = widthFor(vocabSize);
            this.vocabSize = vocabSize;
            if (endOfText < -1 || endOfText >= vocabSize) {
                throw new IllegalArgumentException("TokenFile: end-of-text id " + endOfText + " is outside the "
                        + "vocabulary of " + vocabSize + " (use -1 for none)");
            }
            this.endOfText = endOfText;
            Path dir = target.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            this.tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            this.channel = FileChannel.open(tmp, StandardOpenOption.WRITE);
            channel.position(HEADER_BYTES);
        }

        public static Writer create(Path target, int vocabSize, int endOfText) {
            try {
                return new Writer(target, vocabSize, endOfText);
            } catch (IOException e) {
                throw new UncheckedIOException("TokenFile: cannot create " + target + ": " + e, e);
            }
        }

        public long count() {
            return count;
        }

        /** Appends ids; each must be in [0, vocabSize). */
        public Writer append(int[] ids) {
            checkOpen();
            for (int i = 0; i < ids.length; i++) { // all checked before any is written: a rejected call adds nothing
                if (ids[i] < 0 || ids[i] >= vocabSize) {
                    throw new IllegalArgumentException("TokenFile: id " + ids[i] + " at position " + i + " of the "
                            + "appended array is outside the vocabulary of " + vocabSize + " (writing " + target + ")");
                }
            }
            for (int id : ids) {
                if (buffer.remaining() < width) {
                    drain();
                }
                if (width == 2) {
                    buffer.putShort((short) id);
                } else {
                    buffer.putInt(id);
                }
            }
            count += ids.length;
            return this;
        }

        /** Appends the end-of-text id, closing a document. */
        public Writer endDocument() {
            if (endOfText < 0) {
                throw new IllegalStateException("TokenFile: " + target + " was created without an end-of-text id");
            }
            return append(new int[] {endOfText});
        }

        private void drain() {
            buffer.flip();
            try {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("TokenFile: writing " + tmp + " failed: " + e, e);
            }
            buffer.clear();
        }

        private void checkOpen() {
            if (finished) {
                throw new IllegalStateException("TokenFile: writer for " + target + " is already closed");
            }
        }

        /** Writes the header, forces the data to disk and renames the file into place. */
        public void commit() {
            checkOpen();
            drain();
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                    .put(MAGIC).putInt(VERSION).putInt(width).putLong(count).putInt(vocabSize).putInt(endOfText)
                    .flip();
            try {
                while (header.hasRemaining()) {
                    channel.write(header, header.position());
                }
                channel.force(true);
                channel.close();
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                close();
                throw new UncheckedIOException("TokenFile: finishing " + target + " failed: " + e, e);
            }
            finished = true;
        }

        /** Discards the file unless {@link #commit()} succeeded. */
        @Override
        public void close() {
            if (finished) {
                return;
            }
            finished = true;
            try {
                channel.close();
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                throw new UncheckedIOException("TokenFile: discarding " + tmp + " failed: " + e, e);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ reading

    /** Maps a token file after checking its header against its size. */
    public static TokenFile open(Path file) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < HEADER_BYTES) {
                throw error(file, "truncated: " + size + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
            }
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining()) {
                channel.read(header, header.position());
            }
            header.flip();
            byte[] magic = new byte[MAGIC.length];
            header.get(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw error(file, "not a token file (magic " + Arrays.toString(magic) + ", expected \"JGTOKENS\")");
            }
            int version = header.getInt();
            if (version != VERSION) {
                throw error(file, "format version " + version + ", this jgrad reads version " + VERSION);
            }
            int width = header.getInt();
            long count = header.getLong();
            int vocabSize = header.getInt();
            int endOfText = header.getInt();
            if ((width != 2 && width != 4) || count < 0 || vocabSize <= 0 || width != widthFor(vocabSize)
                    || endOfText < -1 || endOfText >= vocabSize) {
                throw error(file, "inconsistent header: width " + width + ", count " + count + ", vocabulary "
                        + vocabSize + ", end-of-text " + endOfText);
            }
            long expected = HEADER_BYTES + count * width;
            if (size != expected) {
                throw error(file, "holds " + size + " bytes but its header promises " + count + " tokens of "
                        + width + " bytes (" + expected + " bytes)" + (size < expected ? ": truncated" : ""));
            }
            long tokenBytes = count * width;
            var chunks = new MappedByteBuffer[(int) ((tokenBytes + MAP_CHUNK_BYTES - 1) / MAP_CHUNK_BYTES)];
            for (int c = 0; c < chunks.length; c++) {
                long begin = c * MAP_CHUNK_BYTES;
                chunks[c] = channel.map(FileChannel.MapMode.READ_ONLY, HEADER_BYTES + begin,
                        Math.min(MAP_CHUNK_BYTES, tokenBytes - begin));
                chunks[c].order(ByteOrder.LITTLE_ENDIAN);
            }
            return new TokenFile(file, width, count, vocabSize, endOfText, chunks);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("TokenFile: " + file + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("TokenFile: reading " + file + " failed: " + e, e);
        }
    }

    private static IllegalArgumentException error(Path file, String message) {
        return new IllegalArgumentException("TokenFile: " + file + ": " + message);
    }

    public Path path() {
        return path;
    }

    /** Bytes per token on disk: 2 or 4. */
    public int width() {
        return width;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public OptionalInt endOfText() {
        return endOfText < 0 ? OptionalInt.empty() : OptionalInt.of(endOfText);
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public int get(long index) {
        Objects.checkIndex(index, length);
        long byteIndex = index * width;
        MappedByteBuffer chunk = chunks[(int) (byteIndex / MAP_CHUNK_BYTES)];
        int at = (int) (byteIndex % MAP_CHUNK_BYTES);
        return width == 2 ? Short.toUnsignedInt(chunk.getShort(at)) : chunk.getInt(at);
    }

    /** Every id, copied into the heap: for small corpora and tests. */
    public int[] toArray() {
        int[] out = new int[Math.toIntExact(length)];
        copy(0, out, 0, out.length);
        return out;
    }

    @Override
    public String toString() {
        return "TokenFile[" + path + ": " + length + " tokens x " + width + " bytes, vocabulary " + vocabSize
                + (endOfText < 0 ? "" : ", end-of-text " + endOfText) + "]";
    }
}
