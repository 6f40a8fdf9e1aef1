package dev.pecore;

import java.nio.charset.StandardCharsets;

/**
 * A failed pecore call: the C library's status and its one-line message
 * (pe_last_error).  Unchecked, as IllegalStateException is: use after close
 * and wrong sizes are programming errors, a bad model file is not, and
 * callers catch it where they load files.
 */
public final class PecoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final Status status;

    public PecoreException(Status status, String message) {
        super(message);
        this.status = status;
    }

    public Status status() { return status; }

    /* Called from the JNI glue: the message is the library's UTF-8 bytes
     * (modified UTF-8 of NewStringUTF would garble non-BMP characters). */
    static PecoreException fromNative(int code, byte[] message) {
        return new PecoreException(Status.of(code), new String(message, StandardCharsets.UTF_8));
    }
}
