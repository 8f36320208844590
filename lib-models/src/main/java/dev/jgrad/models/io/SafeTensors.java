package dev.jgrad.models.io;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format, as Hugging Face's reference implementation writes and checks it:
 *
 * <pre>
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   UTF-8 JSON object, padded with spaces to a multiple of 8:
 *             {"__metadata__": {"k": "v", ...},                                  (optional, strings only)
 *              "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 *   rest      the data section: each tensor's elements, row-major, little-endian, at [begin, end) relative to
 *             the start of this section; tensors tile it with no gap and no overlap
 * </pre>
 *
 * jgrad writes tensors in the order given (a state dict's order), {@code __metadata__} first when present, with
 * compact JSON. It reads F32, F64 and the 16-bit floats F16 and BF16 (widened to F32), and I32/I64 as integer
 * arrays. Reading maps the file and copies each tensor once, straight into its Java array.
 */
public final class SafeTensors {
    /** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    private static final int IO_CHUNK_BYTES = 1 << 20;
    /** Reads map at most this much at once, so tensors beyond 2 GB need no single giant mapping. */
    private static final int MAP_CHUNK_BYTES = 1 << 28;

    private SafeTensors() {}

    /** Every dtype name of the format, with its element size. jgrad converts the ones {@link Reader} lists. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4),
        I64(8), U64(8), F64(8);

        public final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }

        static Dtype of(DType dtype) {
            return dtype == DType.F32 ? F32 : F64;
        }
    }

    /** One header entry: where a tensor's bytes are, relative to the data section. */
    public record Info(String name, Dtype dtype, int[] shape, long begin, long end) {
        /** Element count; {@link ArithmeticException} if the shape's product overflows a long. */
        public long numel() {
            long n = 1;
            for (int d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        @Override
        public String toString() {
            return name + ": " + dtype + Arrays.toString(shape) + " @ [" + begin + ", " + end + ")";
        }
    }

    // ------------------------------------------------------------------------------------------ writing

    /** Writes {@code tensors} (F32/F64, any layout) to {@code file} atomically. */
    public static void write(Path file, Map<String, Tensor> tensors) {
        write(file, tensors, Map.of());
    }

    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        var writer = new Writer().metadata(metadata);
        tensors.forEach(writer::put);
        writer.write(file);
    }

    /** Collects tensors and integer arrays, then writes them in the order they were put. */
    public static final class Writer {
        private record Entry(Dtype dtype, int[] shape, Object array, int from) {}

        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private final Map<String, String> metadata = new LinkedHashMap<>();

        public Writer metadata(String key, String value) {
            metadata.put(key, value);
            return this;
        }

        public Writer metadata(Map<String, String> all) {
            all.forEach(this::metadata);
            return this;
        }

        /** Adds a tensor as F32 or F64 (its own dtype); a non-contiguous view is copied once here. */
        public Writer put(String name, Tensor tensor) {
            Tensor t = tensor.contiguous();
            Object array = t.dtype() == DType.F32 ? t.f32Data() : t.f64Data();
            return add(name, new Entry(Dtype.of(t.dtype()), t.shape(), array, t.offset()));
        }

        /** Adds int32 data, e.g. token ids, as I32. */
        public Writer putInts(String name, int[] data, int... shape) {
            return add(name, new Entry(Dtype.I32, checkedShape(name, data.length, shape), data, 0));
        }

        /** Adds int64 data as I64. */
        public Writer putLongs(String name, long[] data, int... shape) {
            return add(name, new Entry(Dtype.I64, checkedShape(name, data.length, shape), data, 0));
        }

        private static int[] checkedShape(String name, int length, int[] shape) {
            long n = 1;
            for (int d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("SafeTensors.Writer: '" + name + "' has a negative dimension in "
                            + Arrays.toString(shape));
                }
                n *= d;
            }
            if (n != length) {
                throw new IllegalArgumentException("SafeTensors.Writer: '" + name + "' has " + length
                        + " values but shape " + Arrays.toString(shape) + " holds " + n);
            }
            return shape.clone();
        }

        private Writer add(String name, Entry entry) {
            if (name.isEmpty() || name.equals("__metadata__")) {
                throw new IllegalArgumentException("SafeTensors.Writer: '" + name + "' cannot be a tensor name");
            }
            if (entries.putIfAbsent(name, entry) != null) {
                throw new IllegalArgumentException("SafeTensors.Writer: tensor '" + name + "' was already added");
            }
            return this;
        }

        /** The header as written: length-prefix excluded, JSON padded with spaces to a multiple of 8 bytes. */
        public byte[] header() {
            Map<String, Object> json = new LinkedHashMap<>();
            if (!metadata.isEmpty()) {
                json.put("__metadata__", metadata);
            }
            long offset = 0;
            for (var e : entries.entrySet()) {
                Entry entry = e.getValue();
                long size = entry.dtype.bytes * numel(entry.shape);
                Map<String, Object> info = new LinkedHashMap<>();
                info.put("dtype", entry.dtype.name());
                info.put("shape", entry.shape);
                info.put("data_offsets", new long[] {offset, offset + size});
                json.put(e.getKey(), info);
                offset += size;
            }
            byte[] text = Json.write(json).getBytes(StandardCharsets.UTF_8);
            int padded = (text.length + 7) / 8 * 8;
            byte[] header = Arrays.copyOf(text, padded);
            Arrays.fill(header, text.length, padded, (byte) ' ');
            return header;
        }

        /** Writes the file atomically (temporary file in the same directory, then rename). */
        public void write(Path file) {
            AtomicFiles.write(file, this::writeTo);
        }

        /** Writes the whole file's bytes at the channel's position. */
        public void writeTo(FileChannel channel) throws IOException {
            byte[] header = header();
            ByteBuffer buffer = ByteBuffer.allocateDirect(IO_CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            buffer.putLong(header.length).flip();
            AtomicFiles.writeFully(channel, buffer);
            AtomicFiles.writeFully(channel, ByteBuffer.wrap(header));
            for (Entry entry : entries.values()) {
                int n = Math.toIntExact(numel(entry.shape));
                int perChunk = IO_CHUNK_BYTES / entry.dtype.bytes;
                for (int done = 0; done < n; done += perChunk) {
                    int k = Math.min(perChunk, n - done);
                    int from = entry.from + done;
                    buffer.clear();
                    switch (entry.array) {
                        case float[] a -> buffer.asFloatBuffer().put(a, from, k);
                        case double[] a -> buffer.asDoubleBuffer().put(a, from, k);
                        case int[] a -> buffer.asIntBuffer().put(a, from, k);
                        case long[] a -> buffer.asLongBuffer().put(a, from, k);
                        default -> throw new IllegalStateException("unreachable: " + entry.array.getClass());
                    }
                    buffer.limit(k * entry.dtype.bytes);
                    AtomicFiles.writeFully(channel, buffer);
                }
            }
        }
    }

    private static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------ reading

    /** Reads every tensor (see {@link Reader#tensor} for the conversions), in file order. */
    public static Map<String, Tensor> read(Path file) {
        try (Reader reader = open(file)) {
            return reader.tensors();
        }
    }

    /** Opens a file and checks its whole header; tensors are read on request. */
    public static Reader open(Path file) {
        return new Reader(file);
    }

    /** An open safetensors file whose header has been fully validated. */
    public static final class Reader implements AutoCloseable {
        private final Path file;
        private final FileChannel channel;
        private final long dataStart;
        private final Map<String, String> metadata;
        private final Map<String, Info> infos;

        private Reader(Path file) {
            this.file = file;
            try {
                this.channel = FileChannel.open(file, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                throw new UncheckedIOException("SafeTensors: " + file + " does not exist", e);
            } catch (IOException e) {
                throw new UncheckedIOException("SafeTensors: cannot open " + file + ": " + e, e);
            }
            try {
                long fileSize = channel.size();
                if (fileSize < 8) {
                    throw error("truncated: " + fileSize + " bytes, too short for the 8-byte header length");
                }
                long headerLength = readBytes(0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                if (headerLength < 2 || headerLength > fileSize - 8) {
                    throw error("header length " + Long.toUnsignedString(headerLength) + " does not fit in a file of "
                            + fileSize + " bytes (truncated or not a safetensors file)");
                }
                if (headerLength > MAX_HEADER_BYTES) {
                    throw error("header length " + headerLength + " exceeds the " + MAX_HEADER_BYTES + "-byte limit");
                }
                this.dataStart = 8 + headerLength;
                Map<String, Object> header = parseHeader(readBytes(8, (int) headerLength));
                this.metadata = parseMetadata(header.remove("__metadata__"));
                this.infos = parseInfos(header, fileSize - dataStart);
            } catch (IOException e) {
                closeQuietly();
                throw new UncheckedIOException("SafeTensors: reading " + file + " failed: " + e, e);
            } catch (RuntimeException e) {
                closeQuietly();
                throw e;
            }
        }

        private IllegalArgumentException error(String message) {
            return new IllegalArgumentException("SafeTensors: " + file + ": " + message);
        }

        private IllegalArgumentException error(String tensor, String message) {
            return error("tensor '" + tensor + "': " + message);
        }

        private ByteBuffer readBytes(long position, int length) throws IOException {
            ByteBuffer buffer = ByteBuffer.allocate(length);
            while (buffer.hasRemaining()) {
                if (channel.read(buffer, position + buffer.position()) < 0) {
                    throw error("unexpected end of file at byte " + (position + buffer.position()));
                }
            }
            return buffer.flip();
        }

        private Map<String, Object> parseHeader(ByteBuffer bytes) {
            String text;
            try {
                CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(bytes);
                text = chars.toString();
            } catch (CharacterCodingException e) {
                throw error("the header is not valid UTF-8");
            }
            try {
                return Json.parseObject(text);
            } catch (IllegalArgumentException e) {
                throw error("invalid JSON header: " + e.getMessage());
            }
        }

        private Map<String, String> parseMetadata(Object value) {
            if (value == null) {
                return Map.of();
            }
            if (!(value instanceof Map<?, ?> map)) {
                throw error("__metadata__ must be an object of strings, got " + value);
            }
            Map<String, String> out = new LinkedHashMap<>();
            for (var e : map.entrySet()) {
                if (!(e.getValue() instanceof String s)) {
                    throw error("__metadata__ value of '" + e.getKey() + "' must be a string, got " + e.getValue());
                }
                out.put((String) e.getKey(), s);
            }
            return Collections.unmodifiableMap(out);
        }

        private Map<String, Info> parseInfos(Map<String, Object> header, long dataLength) {
            Map<String, Info> out = new LinkedHashMap<>();
            for (var e : header.entrySet()) {
                out.put(e.getKey(), parseInfo(e.getKey(), e.getValue()));
            }
            // The reference implementation's rule: sorted by offset, the tensors tile the data section exactly.
            List<Info> byOffset = new ArrayList<>(out.values());
            byOffset.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
            long expected = 0;
            String previous = null;
            for (Info info : byOffset) {
                if (info.begin < expected) {
                    throw error(info.name, "data_offsets [" + info.begin + ", " + info.end + "] overlap tensor '"
                            + previous + "', which ends at " + expected);
                }
                if (info.begin > expected) {
                    throw error(info.name, "data_offsets [" + info.begin + ", " + info.end + "] leave a gap after "
                            + (previous == null ? "the start of the data section" : "tensor '" + previous + "'")
                            + ", which ends at " + expected);
                }
                if (info.end > dataLength) {
                    throw error(info.name, "data_offsets [" + info.begin + ", " + info.end + "] run past the data "
                            + "section's " + dataLength + " bytes (truncated file?)");
                }
                expected = info.end;
                previous = info.name;
            }
            if (expected != dataLength) {
                throw error("the tensors cover " + expected + " bytes of data but the data section has " + dataLength);
            }
            return Collections.unmodifiableMap(out);
        }

        private Info parseInfo(String name, Object value) {
            if (!(value instanceof Map<?, ?> entry)) {
                throw error(name, "expected an object with dtype, shape and data_offsets, got " + value);
            }
            if (!(entry.get("dtype") instanceof String dtypeName)) {
                throw error(name, "missing or non-string dtype: " + entry.get("dtype"));
            }
            Dtype dtype;
            try {
                dtype = Dtype.valueOf(dtypeName);
            } catch (IllegalArgumentException e) {
                throw error(name, "unknown dtype '" + dtypeName + "' (known: " + Arrays.toString(Dtype.values()) + ")");
            }
            if (!(entry.get("shape") instanceof List<?> dims)) {
                throw error(name, "missing or non-array shape: " + entry.get("shape"));
            }
            int[] shape = new int[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(dims.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE) {
                    throw error(name, "shape " + dims + " must hold non-negative integers below 2^31");
                }
                shape[i] = (int) (long) d;
            }
            if (!(entry.get("data_offsets") instanceof List<?> offsets) || offsets.size() != 2
                    || !(offsets.get(0) instanceof Long begin) || !(offsets.get(1) instanceof Long end)) {
                throw error(name, "data_offsets must be [begin, end], got " + entry.get("data_offsets"));
            }
            if (begin < 0 || end < begin) {
                throw error(name, "data_offsets [" + begin + ", " + end + "] are not an ascending range");
            }
            Info info = new Info(name, dtype, shape, begin, end);
            long numel;
            try {
                numel = info.numel();
            } catch (ArithmeticException e) {
                throw error(name, "shape " + Arrays.toString(shape) + " has more elements than a long counts");
            }
            if (numel != (end - begin) / dtype.bytes || (end - begin) % dtype.bytes != 0) {
                throw error(name, "data_offsets [" + begin + ", " + end + "] span " + (end - begin) + " bytes but "
                        + dtype + " " + Arrays.toString(shape) + " needs " + numel * dtype.bytes);
            }
            return info;
        }

        public Path file() {
            return file;
        }

        public Map<String, String> metadata() {
            return metadata;
        }

        /** Header entries in the header's order. */
        public Map<String, Info> infos() {
            return infos;
        }

        public Info info(String name) {
            Info info = infos.get(name);
            if (info == null) {
                throw error("no tensor named '" + name + "' (has " + infos.keySet() + ")");
            }
            return info;
        }

        /** Every tensor, in header order, converted as {@link #tensor} does. */
        public Map<String, Tensor> tensors() {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : infos.keySet()) {
                out.put(name, tensor(name));
            }
            return out;
        }

        /**
         * The tensor as F32 (from F32, F16, BF16) or F64 (from F64, and from I32/I64 when every value is exactly
         * representable, which F64 guarantees for I32 and checks for I64).
         */
        public Tensor tensor(String name) {
            Info info = info(name);
            int n = elementCount(info);
            int[] shape = info.shape;
            return switch (info.dtype) {
                case F32, F16, BF16 -> wrap(floats(info, n), shape);
                case F64 -> wrap(doubles(info, n), shape);
                case I32 -> {
                    int[] ints = ints(name);
                    double[] d = new double[n];
                    for (int i = 0; i < n; i++) {
                        d[i] = ints[i];
                    }
                    yield wrap(d, shape);
                }
                case I64 -> {
                    long[] longs = longs(name);
                    double[] d = new double[n];
                    for (int i = 0; i < n; i++) {
                        if (Math.abs(longs[i]) > (1L << 53)) {
                            throw error(name, "I64 value " + longs[i] + " at index " + i + " has no exact F64 form");
                        }
                        d[i] = longs[i];
                    }
                    yield wrap(d, shape);
                }
                default -> throw error(name, "dtype " + info.dtype + " is not supported as a tensor (jgrad reads "
                        + "F32, F64, F16, BF16, I32, I64)");
            };
        }

        /** I32 data as is; I64 data when every value fits in an int. */
        public int[] ints(String name) {
            Info info = info(name);
            int n = elementCount(info);
            int[] out = new int[n];
            switch (info.dtype) {
                case I32 -> readChunks(info, 4, (buffer, from, count) -> buffer.asIntBuffer().get(out, from, count));
                case I64 -> {
                    long[] longs = longs(name);
                    for (int i = 0; i < n; i++) {
                        if (longs[i] != (int) longs[i]) {
                            throw error(name, "I64 value " + longs[i] + " at index " + i + " does not fit in an int");
                        }
                        out[i] = (int) longs[i];
                    }
                }
                default -> throw error(name, "is " + info.dtype + ", not an integer dtype jgrad reads (I32, I64)");
            }
            return out;
        }

        /** I64 data as is; I32 data widened. */
        public long[] longs(String name) {
            Info info = info(name);
            int n = elementCount(info);
            long[] out = new long[n];
            switch (info.dtype) {
                case I64 -> readChunks(info, 8, (buffer, from, count) -> buffer.asLongBuffer().get(out, from, count));
                case I32 -> {
                    int[] ints = ints(name);
                    for (int i = 0; i < n; i++) {
                        out[i] = ints[i];
                    }
                }
                default -> throw error(name, "is " + info.dtype + ", not an integer dtype jgrad reads (I32, I64)");
            }
            return out;
        }

        private int elementCount(Info info) {
            long n = info.numel();
            if (n > Integer.MAX_VALUE - 8) {
                throw error(info.name, Arrays.toString(info.shape) + " has " + n + " elements, more than a Java "
                        + "array holds");
            }
            return (int) n;
        }

        private float[] floats(Info info, int n) {
            float[] out = new float[n];
            switch (info.dtype) {
                case F32 -> readChunks(info, 4, (buffer, from, count) -> buffer.asFloatBuffer().get(out, from, count));
                case F16 -> readChunks(info, 2, (buffer, from, count) -> {
                    for (int i = 0; i < count; i++) {
                        out[from + i] = Float.float16ToFloat(buffer.getShort(2 * i));
                    }
                });
                // bfloat16 is the top half of a float32, so widening is a shift.
                case BF16 -> readChunks(info, 2, (buffer, from, count) -> {
                    for (int i = 0; i < count; i++) {
                        out[from + i] = Float.intBitsToFloat(buffer.getShort(2 * i) << 16);
                    }
                });
                default -> throw new IllegalStateException("unreachable: " + info.dtype);
            }
            return out;
        }

        private double[] doubles(Info info, int n) {
            double[] out = new double[n];
            readChunks(info, 8, (buffer, from, count) -> buffer.asDoubleBuffer().get(out, from, count));
            return out;
        }

        private interface ChunkReader {
            /** {@code buffer} is little-endian, positioned at element {@code from}, holding {@code count} elements. */
            void read(ByteBuffer buffer, int from, int count);
        }

        private void readChunks(Info info, int elementBytes, ChunkReader reader) {
            long n = info.numel();
            int perChunk = MAP_CHUNK_BYTES / elementBytes;
            try {
                for (long done = 0; done < n; done += perChunk) {
                    int count = (int) Math.min(perChunk, n - done);
                    ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY,
                            dataStart + info.begin + done * elementBytes, (long) count * elementBytes);
                    reader.read(mapped.order(ByteOrder.LITTLE_ENDIAN), (int) done, count);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("SafeTensors: " + file + ": reading tensor '" + info.name
                        + "' failed: " + e, e);
            }
        }

        private static Tensor wrap(float[] data, int[] shape) {
            return shape.length == 0 ? Tensor.scalar(DType.F32, data[0]) : Tensor.wrap(data, shape);
        }

        private static Tensor wrap(double[] data, int[] shape) {
            return shape.length == 0 ? Tensor.scalar(DType.F64, data[0]) : Tensor.wrap(data, shape);
        }

        private void closeQuietly() {
            try {
                channel.close();
            } catch (IOException ignored) {
                // reporting the error that made us close matters more
            }
        }

        @Override
        public void close() {
            try {
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("SafeTensors: closing " + file + " failed", e);
            }
        }
    }
}
