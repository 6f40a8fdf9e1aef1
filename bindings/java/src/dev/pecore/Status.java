package dev.pecore;

/** pe_status of include/pecore.h, in the same order (ordinal == C value). */
public enum Status {
    OK, INVALID_ARG, IO, FORMAT, UNSUPPORTED, SHAPE, NOMEM, LIMIT, NOT_FOUND, CHECKSUM;

    static Status of(int code) {
        Status[] all = values();
        return code >= 0 && code < all.length ? all[code] : INVALID_ARG;
    }
}
