package dev.pecore;

import java.nio.charset.StandardCharsets;

/**
 * One native object: its pointer, freed once by close().  Every use goes
 * through get() under the object's lock, so a close() racing a call waits
 * for it, and a call after close() throws instead of touching freed memory.
 */
abstract class Handle implements AutoCloseable {
    private long ptr;
    private final String what;

    Handle(long ptr, String what) {
        this.ptr = ptr;
        this.what = what;
    }

    /** The pointer; the caller holds this object's lock. */
    final long get() {
        if (ptr == 0) throw new PecoreException(Status.INVALID_ARG, what + " is closed");
        return ptr;
    }

    final boolean isOpen() { return ptr != 0; }

    abstract void free(long ptr);

    @Override
    public synchronized void close() {
        if (ptr == 0) return;
        long p = ptr;
        ptr = 0;
        free(p);
    }

    static byte[] utf8(String s) {
        if (s == null) return null;
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return z;
    }

    static byte[][] utf8(String[] s) {
        if (s == null) return null;
        byte[][] out = new byte[s.length][];
        for (int i = 0; i < s.length; i++) {
            if (s[i] == null) throw new PecoreException(Status.INVALID_ARG, "string " + i + " is null");
            out[i] = utf8(s[i]);
        }
        return out;
    }

    static String string(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }
}
