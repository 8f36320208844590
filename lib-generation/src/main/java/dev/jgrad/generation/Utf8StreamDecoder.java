package dev.jgrad.generation;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns bytes arriving in pieces (one token's bytes at a time) into text as soon as each character is complete.
 * A token may end inside a multi-byte character (a byte-level tokenizer splits "é" into two tokens, an emoji into
 * four); those bytes are held back until the character completes. Invalid bytes become U+FFFD exactly as
 * {@code new String(allBytes, UTF_8)} would make them, so the pieces joined equal the whole output decoded at once.
 */
public final class Utf8StreamDecoder {
    // The JDK's own UTF-8 decoder in streaming mode: it stops before an incomplete trailing sequence and applies the
    // same replacement rules as String's constructor.
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(16).flip();   // read mode: the held-back bytes
    private CharBuffer chars = CharBuffer.allocate(16);

    /** The text completed by {@code bytes} (possibly empty); an incomplete trailing character is held back. */
    public String feed(byte[] bytes) {
        return feed(bytes, 0, bytes.length);
    }

    public String feed(byte[] bytes, int from, int count) {
        if (pending.capacity() - pending.remaining() < count) {
            ByteBuffer larger = ByteBuffer.allocate(Math.max(2 * pending.capacity(), pending.remaining() + count));
            larger.put(pending).flip();
            pending = larger;
        }
        pending.compact().put(bytes, from, count).flip();
        return decode(false);
    }

    /** The text of the held-back bytes, if any (each invalid piece as U+FFFD), and a fresh start. */
    public String finish() {
        String rest = decode(true);
        decoder.reset();
        pending.clear().flip();
        return rest;
    }

    /** True while bytes of an incomplete character are held back. */
    public boolean hasPending() {
        return pending.hasRemaining();
    }

    private String decode(boolean endOfInput) {
        // Every byte yields at most one char (a 4-byte sequence yields two), plus room for a replacement.
        int needed = pending.remaining() + 2;
        if (chars.capacity() < needed) {
            chars = CharBuffer.allocate(Math.max(needed, 2 * chars.capacity()));
        }
        chars.clear();
        decoder.decode(pending, chars, endOfInput);
        if (endOfInput) {
            decoder.flush(chars);
        }
        return chars.flip().toString();
    }
}
