package dev.jgrad.models.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    static final Path FIXTURES = Path.of("src/test/resources/safetensors");

    @TempDir
    Path dir;

    @Test
    void roundTripsF32AndF64ScalarsEmptyAndManyTensors() {
        var rng = new Rng(7);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("w32", Tensor.randn(DType.F32, rng, 3, 5));
        tensors.put("w64", Tensor.randn(DType.F64, rng, 2, 3, 4));
        tensors.put("scalar32", Tensor.scalar(DType.F32, -1.5));
        tensors.put("scalar64", Tensor.scalar(DType.F64, Math.PI));
        tensors.put("empty", Tensor.zeros(DType.F32, 0, 7));
        tensors.put("empty64", Tensor.zeros(DType.F64, 4, 0));
        tensors.put("special", Tensor.of(new float[] {Float.NaN, Float.POSITIVE_INFINITY, -0.0f, Float.MIN_VALUE}));
        for (int i = 0; i < 200; i++) {
            tensors.put("blocks." + i + ".bias", Tensor.randn(i % 2 == 0 ? DType.F32 : DType.F64, rng, 1 + i % 9));
        }
        Path file = dir.resolve("m.safetensors");
        SafeTensors.write(file, tensors, Map.of("format", "pt"));

        try (var reader = SafeTensors.open(file)) {
            assertEquals(Map.of("format", "pt"), reader.metadata());
            assertEquals(List.copyOf(tensors.keySet()), List.copyOf(reader.infos().keySet()));
            Map<String, Tensor> back = reader.tensors();
            for (var e : tensors.entrySet()) {
                Tensor want = e.getValue();
                Tensor got = back.get(e.getKey());
                assertEquals(want.dtype(), got.dtype(), e.getKey());
                assertArrayEquals(want.shape(), got.shape(), e.getKey());
                assertArrayEquals(want.toDoubleArray(), got.toDoubleArray(), 0.0, e.getKey());
            }
        }
        // bit-exact, including NaN payload, -0 and subnormals
        float[] special = SafeTensors.read(file).get("special").toFloatArray();
        assertEquals(Float.floatToRawIntBits(Float.NaN), Float.floatToRawIntBits(special[0]));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(special[2]));
        assertEquals(Float.MIN_VALUE, special[3]);
        assertEquals(0, SafeTensors.read(file).get("scalar64").rank());
    }

    @Test
    void writesViewsByTheirLogicalOrder() {
        Tensor base = Tensor.arange(DType.F64, 0, 12, 1).reshape(3, 4);
        Tensor view = base.t().narrow(0, 1, 2); // non-contiguous, non-zero offset
        Path file = dir.resolve("v.safetensors");
        SafeTensors.write(file, Map.of("v", view));
        Tensor back = SafeTensors.read(file).get("v");
        assertArrayEquals(new int[] {2, 3}, back.shape());
        assertArrayEquals(view.toDoubleArray(), back.toDoubleArray(), 0.0);
        assertArrayEquals(new double[] {1, 5, 9, 2, 6, 10}, back.toDoubleArray(), 0.0);
    }

    @Test
    void headerIsCompactJsonPaddedWithSpacesToEightBytes() throws IOException {
        Path file = dir.resolve("a.safetensors");
        SafeTensors.write(file, Map.of("a", Tensor.of(new float[] {1f, 2f})));
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"; // 54 bytes
        byte[] expected = ByteBuffer.allocate(8 + 56 + 8).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(56)
                .put(json.getBytes(StandardCharsets.US_ASCII)).put((byte) ' ').put((byte) ' ')
                .put(new byte[] {0, 0, (byte) 0x80, 0x3F}) // 1.0f little-endian
                .put(new byte[] {0, 0, 0, 0x40}) // 2.0f
                .array();
        assertArrayEquals(expected, Files.readAllBytes(file));
    }

    @Test
    void metadataComesFirstAndOffsetsFollowInsertionOrder() {
        var w = new SafeTensors.Writer().metadata("k", "v")
                .put("z", Tensor.zeros(DType.F64, 2))
                .putInts("ids", new int[] {1, 2, 3}, 3);
        String header = new String(w.header(), StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"k\":\"v\"},"
                + "\"z\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"ids\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[16,28]}}", header.stripTrailing());
        assertEquals(0, w.header().length % 8);
    }

    @Test
    void integerArraysRoundTripAndConvertOnlyWhenExact() {
        Path file = dir.resolve("ints.safetensors");
        new SafeTensors.Writer()
                .putInts("tokens", new int[] {0, 65535, -7, Integer.MAX_VALUE}, 2, 2)
                .putLongs("big", new long[] {1L << 60, -3}, 2)
                .putLongs("small", new long[] {5, -6}, 2)
                .write(file);
        try (var r = SafeTensors.open(file)) {
            assertArrayEquals(new int[] {0, 65535, -7, Integer.MAX_VALUE}, r.ints("tokens"));
            assertArrayEquals(new long[] {0, 65535, -7, Integer.MAX_VALUE}, r.longs("tokens"));
            assertArrayEquals(new long[] {1L << 60, -3}, r.longs("big"));
            assertArrayEquals(new int[] {5, -6}, r.ints("small"));
            Tensor t = r.tensor("tokens");
            assertEquals(DType.F64, t.dtype());
            assertArrayEquals(new double[] {0, 65535, -7, Integer.MAX_VALUE}, t.toDoubleArray(), 0.0);
            var e = assertThrows(IllegalArgumentException.class, () -> r.ints("big"));
            assertTrue(e.getMessage().contains("'big'") && e.getMessage().contains("does not fit"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> r.tensor("big"));
            assertTrue(e.getMessage().contains("no exact F64"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> r.tensor("nope"));
            assertTrue(e.getMessage().contains("no tensor named 'nope'"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------ interop

    /** The tensors of from_jgrad.safetensors; check_safetensors.py checks the same formulas in numpy. */
    static SafeTensors.Writer interopWriter() {
        float[] embed = new float[12];
        for (int i = 0; i < 12; i++) {
            embed[i] = (i - 5) * 0.375f;
        }
        double[] bias = new double[5];
        for (int i = 0; i < 5; i++) {
            bias[i] = 1.0 / (i + 1);
        }
        int[] tokens = new int[6];
        for (int i = 0; i < 6; i++) {
            tokens[i] = i * 1000 - 2500;
        }
        return new SafeTensors.Writer()
                .metadata("format", "pt").metadata("producer", "jgrad")
                .put("embed.weight", Tensor.of(embed, 3, 4))
                .put("head.bias", Tensor.of(bias))
                .put("scale", Tensor.scalar(DType.F32, -2.5))
                .put("empty", Tensor.zeros(DType.F32, 0, 3))
                .putInts("tokens", tokens, 2, 3)
                .putLongs("step", new long[] {(1L << 40) + 7}, 1);
    }

    @Test
    void jgradStillWritesTheFileThePythonCheckVerified() throws IOException {
        Path file = dir.resolve("from_jgrad.safetensors");
        interopWriter().write(file);
        assertArrayEquals(Files.readAllBytes(FIXTURES.resolve("from_jgrad.safetensors")), Files.readAllBytes(file));
    }

    @Test
    @SuppressWarnings("unchecked")
    void readsTheFileTorchWrote() throws IOException {
        var expected = Json.parseObject(Files.readString(FIXTURES.resolve("from_torch.expected.json")));
        var tensors = (Map<String, Object>) expected.get("tensors");
        try (var r = SafeTensors.open(FIXTURES.resolve("from_torch.safetensors"))) {
            assertEquals(expected.get("metadata"), r.metadata());
            assertEquals(tensors.keySet(), r.infos().keySet());
            for (var e : tensors.entrySet()) {
                String name = e.getKey();
                var want = (Map<String, Object>) e.getValue();
                var info = r.info(name);
                assertEquals(want.get("dtype"), info.dtype().name(), name);
                List<Object> shape = (List<Object>) want.get("shape");
                assertArrayEquals(shape.stream().mapToInt(o -> ((Long) o).intValue()).toArray(), info.shape(), name);
                List<Object> values = (List<Object>) want.get("values");
                switch (info.dtype()) {
                    case I32, I64 -> assertArrayEquals(
                            values.stream().mapToLong(o -> (Long) o).toArray(), r.longs(name), name);
                    case F64 -> assertArrayEquals(values.stream().mapToDouble(o -> ((Number) o).doubleValue())
                            .toArray(), r.tensor(name).toDoubleArray(), 0.0, name);
                    default -> { // F32, F16, BF16 all arrive as F32, exactly the float32 torch computed
                        Tensor t = r.tensor(name);
                        assertEquals(DType.F32, t.dtype(), name);
                        float[] got = t.toFloatArray();
                        assertEquals(values.size(), got.length, name);
                        for (int i = 0; i < got.length; i++) {
                            assertEquals((float) ((Number) values.get(i)).doubleValue(), got[i], 0.0f, name + "[" + i + "]");
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ corruption

    /** A file with the given header text (padded) and data bytes, lengths as stated. */
    private Path craft(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path file = dir.resolve(name);
        Files.write(file, b.array());
        return file;
    }

    private IllegalArgumentException readFails(Path file) {
        return assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(file));
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void truncatedFilesAreNamed() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertMentions(readFails(tiny), tiny.toString(), "truncated", "3 bytes");

        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, Map.of("w", Tensor.ones(DType.F32, 4)));
        byte[] bytes = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length - 3));
        assertMentions(readFails(cut), cut.toString(), "tensor 'w'", "run past", "13 bytes");
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        Path f = dir.resolve("h.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        assertMentions(readFails(f), f.toString(), "header length 1000", "16 bytes");
        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).array());
        assertMentions(readFails(huge), "header length 18446744073709551615");
    }

    @Test
    void invalidJsonAndInvalidUtf8() throws IOException {
        assertMentions(readFails(craft("j.safetensors", "{\"w\": {\"dtype\": \"F32\",}  ", new byte[0])),
                "j.safetensors", "invalid JSON header", "offset");
        assertMentions(readFails(craft("arr.safetensors", "[1, 2]  ", new byte[0])), "invalid JSON header");
        Path bad = dir.resolve("u.safetensors");
        Files.write(bad, new byte[] {8, 0, 0, 0, 0, 0, 0, 0, '{', '"', (byte) 0xFF, '"', ':', '1', '}', ' '});
        assertMentions(readFails(bad), "not valid UTF-8");
    }

    @Test
    void offsetErrorsNameTheTensor() throws IOException {
        byte[] data16 = new byte[16];
        assertMentions(readFails(craft("overlap.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data16)),
                "overlap.safetensors", "tensor 'b'", "overlap tensor 'a'");
        assertMentions(readFails(craft("gap.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data16)),
                "tensor 'a'", "gap");
        assertMentions(readFails(craft("size.safetensors",
                        "{\"a\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,16]}}", data16)),
                "tensor 'a'", "span 16 bytes", "F64 [3] needs 24");
        assertMentions(readFails(craft("range.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", data16)),
                "tensor 'a'", "run past", "16 bytes");
        assertMentions(readFails(craft("desc.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", data16)),
                "tensor 'a'", "not an ascending range");
        assertMentions(readFails(craft("extra.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data16)),
                "cover 8 bytes", "has 16");
        assertMentions(readFails(craft("badoffsets.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", data16)),
                "tensor 'a'", "data_offsets must be [begin, end]");
        assertMentions(readFails(craft("badshape.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data16)),
                "tensor 'a'", "shape [-2]");
    }

    @Test
    void unknownAndUnsupportedDtypes() throws IOException {
        assertMentions(readFails(craft("dt.safetensors",
                        "{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", new byte[16])),
                "dt.safetensors", "tensor 'a'", "unknown dtype 'F128'");
        Path u8 = craft("u8.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                new byte[2]);
        try (var r = SafeTensors.open(u8)) { // the header is valid, only the conversion is refused
            assertMentions(assertThrows(IllegalArgumentException.class, () -> r.tensor("a")), "tensor 'a'", "U8");
        }
        assertMentions(readFails(craft("meta.safetensors", "{\"__metadata__\":{\"k\":1}}", new byte[0])),
                "__metadata__", "'k'");
    }

    @Test
    void missingFileAndWriterMisuse() {
        var e = assertThrows(UncheckedIOException.class, () -> SafeTensors.read(dir.resolve("none.safetensors")));
        assertMentions(e, "none.safetensors", "does not exist");
        var w = new SafeTensors.Writer().put("a", Tensor.zeros(DType.F32, 1));
        assertMentions(assertThrows(IllegalArgumentException.class, () -> w.put("a", Tensor.zeros(DType.F32, 1))),
                "'a'", "already added");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> w.putInts("b", new int[3], 2, 2)),
                "'b'", "3 values", "[2, 2]");
        assertThrows(IllegalArgumentException.class, () -> w.put("__metadata__", Tensor.zeros(DType.F32, 1)));
    }

    @Test
    void writeIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("w.safetensors");
        SafeTensors.write(file, Map.of("a", Tensor.ones(DType.F32, 3)));
        byte[] before = Files.readAllBytes(file);
        // a writer that fails half way through leaves the previous file untouched and no temporary behind
        var failing = new SafeTensors.Writer().put("a", Tensor.zeros(DType.F32, 3));
        assertThrows(UncheckedIOException.class, () -> AtomicFiles.write(file, channel -> {
            failing.writeTo(channel);
            throw new IOException("disk full (injected)");
        }));
        assertArrayEquals(before, Files.readAllBytes(file));
        try (var listing = Files.list(dir)) {
            assertEquals(List.of(file), listing.toList());
        }
    }
}
