#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_errmsg[512];

/* Messages quote names and strings read from files: bytes outside
 * printable ASCII become \xHH, so no file can send a terminal an escape
 * sequence through an error message. */
static void escape_message(void) {
    char out[sizeof g_errmsg];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)g_errmsg; *p && o + 5 < sizeof out; p++) {
        if (*p >= 0x20 && *p < 0x7f) {
            out[o++] = (char)*p;
        } else {
            snprintf(out + o, 5, "\\x%02x", *p);
            o += 4;
        }
    }
    out[o] = 0;
    memcpy(g_errmsg, out, o + 1);
}

pe_status pe_error(pe_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    escape_message();
    return s;
}

pe_status pe_error_prefix(pe_status s, const char *fmt, ...) {
    char old[sizeof g_errmsg];
    memcpy(old, g_errmsg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : PE_MIN((size_t)n, sizeof g_errmsg - 1);
    size_t room = sizeof g_errmsg - 1 - used;
    size_t take = PE_MIN(strlen(old), room > 2 ? room - 2 : 0);
    if (take) {
        memcpy(g_errmsg + used, ": ", 2);
        memcpy(g_errmsg + used + 2, old, take);
        g_errmsg[used + 2 + take] = 0;
    }
    escape_message();
    return s;
}

void pe_error_clear(void) { g_errmsg[0] = 0; }

const char *pe_last_error(void) { return g_errmsg; }

const char *pe_version(void) { return PECORE_VERSION_STRING; }

const char *pe_status_string(pe_status s) {
    switch (s) {
    case PE_OK: return "ok";
    case PE_ERR_INVALID_ARG: return "invalid argument";
    case PE_ERR_IO: return "i/o error";
    case PE_ERR_FORMAT: return "format error";
    case PE_ERR_UNSUPPORTED: return "unsupported";
    case PE_ERR_SHAPE: return "shape error";
    case PE_ERR_NOMEM: return "out of memory";
    case PE_ERR_LIMIT: return "limit exceeded";
    case PE_ERR_NOT_FOUND: return "not found";
    case PE_ERR_CHECKSUM: return "checksum mismatch";
    }
    return "unknown status";
}

float pe_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    union { uint32_t u; float f; } v = { bits };
    return v.f;
}

uint16_t pe_f32_to_f16(float f) {
#if defined(__aarch64__)
    /* FCVT (ARMv8.0, round to nearest even as below): one instruction for
     * the f16 packing of keys and values under fp16 compute, where the bit
     * version was 4% of a pass.  A NaN keeps the canonical code below. */
    if (f == f) {
        const __fp16 h = (__fp16)f;
        uint16_t u;
        memcpy(&u, &h, sizeof u);
        return u;
    }
#endif
    union { float f; uint32_t u; } v = { f };
    uint32_t x = v.u, sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) /* inf / nan */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
        uint32_t r = man >> shift;
        if (rest > half || (rest == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((uint32_t)exp << 10) | (man >> 13), rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++; /* may carry into exp: correct */
    return (uint16_t)(sign | r);
}

uint16_t pe_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7fffffff) > 0x7f800000) return (uint16_t)((v.u >> 16) | 0x40);
    uint32_t r = v.u + 0x7fff + ((v.u >> 16) & 1);
    return (uint16_t)(r >> 16);
}

void *pe_alloc(size_t bytes) {
    void *p = NULL;
    size_t n = bytes ? (bytes + 63) & ~(size_t)63 : 64;
    if (n < bytes || posix_memalign(&p, 64, n) != 0) {
        pe_error(PE_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

void *pe_calloc(size_t n, size_t size) {
    size_t bytes;
    if (!pe_mul_size(n, size, &bytes)) {
        pe_error(PE_ERR_NOMEM, "allocation size overflows");
        return NULL;
    }
    void *p = pe_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void pe_free(void *p) { free(p); }
