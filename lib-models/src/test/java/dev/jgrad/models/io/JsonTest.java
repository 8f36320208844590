package dev.jgrad.models.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void parsesEveryValueKindKeepingKeyOrder() {
        var m = Json.parseObject("{\"b\": [1, -2.5e3, true, null], \"a\": \"x\\u00e9\\n\\\"q\\\"\", \"n\": {}}");
        assertEquals(List.of("b", "a", "n"), List.copyOf(m.keySet()));
        List<?> b = (List<?>) m.get("b");
        assertEquals(1L, b.get(0));
        assertEquals(-2500.0, b.get(1));
        assertEquals(Boolean.TRUE, b.get(2));
        assertEquals(null, b.get(3));
        assertEquals("x\u00e9\n\"q\"", m.get("a"));
        assertEquals(Map.of(), m.get("n"));
    }

    @Test
    void roundTripsThroughWriteAndWritePretty() {
        var value = new java.util.LinkedHashMap<String, Object>();
        value.put("dtype", "F32");
        value.put("shape", List.of(2L, 3L));
        value.put("lr", 3.0e-4);
        value.put("steps", 1000L);
        value.put("nested", Map.of("k", "tab\there"));
        assertEquals(value, Json.parse(Json.write(value)));
        assertEquals(value, Json.parse(Json.writePretty(value)));
        assertTrue(Json.writePretty(value).contains("\n  \"dtype\": \"F32\""), Json.writePretty(value));
    }

    @Test
    void errorsSayWhatAndWhere() {
        var e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": [1, 2,, 3]}"));
        assertTrue(e.getMessage().contains("offset 12"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1} x"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("\"unterminated"));
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[1]"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
    }

    @Test
    void doublesRoundTripBitExactlyIncludingNegativeZero() {
        for (double d : new double[] {-0.0, 0.0, 1.0, -3.0, 0.1, 1e300, -2.5e-310, Math.PI, 1e15, 123456789012345.0}) {
            double back = ((Number) Json.parse(Json.write(d))).doubleValue();
            assertEquals(Double.doubleToRawLongBits(d), Double.doubleToRawLongBits(back), Json.write(d));
        }
    }
}
