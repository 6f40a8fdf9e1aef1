/* The utf8proc functions of compat/utf8proc.h for the WebAssembly build,
 * answered from utf8proc_tables.h, which scripts/gen_unicode_tables.c
 * generates from the native libutf8proc and checks against it (make
 * unicode-tables): every code point's category and case, NFC of every code
 * point and of scrambled sequences, NFKC of U+FF01..U+FFEF.
 *
 * Only what src/text/tokenizer.c asks is implemented: utf8proc_map with
 * STABLE|COMPOSE (NFC) and NULLTERM|STABLE|COMPOSE|COMPAT (NFKC) where
 * COMPAT is known for U+FF01..U+FFEF only; any other non-ASCII code point
 * under COMPAT, or another option, is UTF8PROC_ERROR_INVALIDOPTS rather
 * than a wrong answer.  Like utf8proc, malformed UTF-8 (surrogates,
 * overlong forms, past U+10FFFF) is UTF8PROC_ERROR_INVALIDUTF8 and the
 * result is malloc'd and NUL-terminated (the caller frees it).
 *
 * scripts/gen_unicode_tables.c compiles this file in with PE_UT_NAME
 * renaming the functions, to compare them with the real ones. */
#include <stdbool.h>
#include <stdlib.h>

#include <utf8proc.h>

#include "utf8proc_tables.h"

#ifndef PE_UT_NAME
#define PE_UT_NAME(n) n
#endif

#define UT_ERROR_NOMEM (-1)
#define UT_ERROR_INVALIDUTF8 (-3)
#define UT_ERROR_INVALIDOPTS (-5)

#define UT_LEN(a) (sizeof(a) / sizeof *(a))

enum { HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
       HANGUL_LN = 19, HANGUL_VN = 21, HANGUL_TN = 28, HANGUL_N = 11172 };

/* The run of RUNS (start << SHIFT | value, sorted) holding c: its value. */
static uint32_t run_value(const uint32_t *runs, size_t n, int shift, uint32_t c) {
    size_t lo = 0, hi = n; /* runs[0] starts at 0 */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (runs[mid] >> shift <= c) lo = mid;
        else hi = mid;
    }
    return runs[lo] & ((1u << shift) - 1);
}

/* In PAIRS (key, value, sorted by key; n pairs): the value of c, or -1. */
static int64_t pair_find(const uint32_t *pairs, size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pairs[2 * mid] == c) return pairs[2 * mid + 1];
        if (pairs[2 * mid] < c) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

utf8proc_category_t PE_UT_NAME(utf8proc_category)(utf8proc_int32_t c) {
    if (c < 0 || c > 0x10FFFF) return UTF8PROC_CATEGORY_CN;
    return (utf8proc_category_t)run_value(pe_ut_category, UT_LEN(pe_ut_category), 5, (uint32_t)c);
}

utf8proc_int32_t PE_UT_NAME(utf8proc_tolower)(utf8proc_int32_t c) {
    int64_t v = c < 0 ? -1 : pair_find(pe_ut_lower, UT_LEN(pe_ut_lower) / 2, (uint32_t)c);
    return v < 0 ? c : (utf8proc_int32_t)v;
}

utf8proc_int32_t PE_UT_NAME(utf8proc_toupper)(utf8proc_int32_t c) {
    int64_t v = c < 0 ? -1 : pair_find(pe_ut_upper, UT_LEN(pe_ut_upper) / 2, (uint32_t)c);
    return v < 0 ? c : (utf8proc_int32_t)v;
}

static int ccc(uint32_t c) { return (int)run_value(pe_ut_ccc, UT_LEN(pe_ut_ccc), 8, c); }

/* ------------------------------------------------------------ code point buffer */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} ut_buf;

static bool ut_push(ut_buf *b, uint32_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) return false;
        b->v = v, b->cap = cap;
    }
    b->v[b->n++] = c;
    return true;
}

/* UTF-8 -> code points with utf8proc_iterate's rules; bytes used, or -1. */
static int ut_decode(const uint8_t *s, size_t avail, uint32_t *out) {
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t c = s[0];
    int n = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
                                                   : c >= 0xF0 && c < 0xF5   ? 4 : 0;
    if (!n || (size_t)n > avail) return -1;
    if (n > 1) c &= 0x3Fu >> (n - 1);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        c = c << 6 | (s[i] & 0x3Fu);
    }
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *out = c;
    return n;
}

/* ------------------------------------------------------------ NFC, NFKC */

/* In the (cp, offset << 3 | length) index of POOL: c's decomposition. */
static bool decomp_lookup(const uint32_t *idx, size_t n, const uint32_t *pool, uint32_t c,
                          ut_buf *out, bool *found) {
    int64_t v = pair_find(idx, n, c);
    *found = v >= 0;
    for (uint32_t i = 0; *found && i < ((uint32_t)v & 7); i++)
        if (!ut_push(out, pool[((uint32_t)v >> 3) + i])) return false;
    return true;
}

/* c fully decomposed onto out (canonical, or compatibility when compat). */
static int decompose(uint32_t c, bool compat, ut_buf *out) {
    if (c >= HANGUL_S && c < HANGUL_S + HANGUL_N) {
        uint32_t s = c - HANGUL_S, t = s % HANGUL_TN;
        if (!ut_push(out, HANGUL_L + s / (HANGUL_VN * HANGUL_TN)) ||
            !ut_push(out, HANGUL_V + s % (HANGUL_VN * HANGUL_TN) / HANGUL_TN) ||
            (t && !ut_push(out, HANGUL_T + t)))
            return UT_ERROR_NOMEM;
        return 0;
    }
    bool found = false;
    if (compat && c >= 0xFF01 && c <= 0xFFEF) {
        if (!decomp_lookup(pe_ut_compat_index, UT_LEN(pe_ut_compat_index) / 2, pe_ut_compat_pool,
                           c, out, &found))
            return UT_ERROR_NOMEM;
    } else if (compat && c >= 0x80) {
        return UT_ERROR_INVALIDOPTS; /* no compatibility table for it */
    } else if (!decomp_lookup(pe_ut_decomp_index, UT_LEN(pe_ut_decomp_index) / 2,
                              pe_ut_decomp_pool, c, out, &found)) {
        return UT_ERROR_NOMEM;
    }
    return found || ut_push(out, c) ? 0 : UT_ERROR_NOMEM;
}

/* Canonical ordering: each run of non-starters sorted by class, stably. */
static void reorder(ut_buf *b) {
    for (size_t i = 1; i < b->n; i++) {
        uint32_t c = b->v[i];
        int k = ccc(c);
        size_t j = i;
        while (k && j > 0 && ccc(b->v[j - 1]) > k) {
            b->v[j] = b->v[j - 1];
            j--;
        }
        b->v[j] = c;
    }
}

/* The composite of (first, second), or 0. */
static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LN && b >= HANGUL_V && b < HANGUL_V + HANGUL_VN)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VN + (b - HANGUL_V)) * HANGUL_TN;
    /* b == HANGUL_T too: utf8proc 2.8 composes LV + U+11A7 into LV (the
     * U+11A7 is dropped), and this build answers as the native one */
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_N && (a - HANGUL_S) % HANGUL_TN == 0 &&
        b >= HANGUL_T && b < HANGUL_T + HANGUL_TN)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = UT_LEN(pe_ut_compose) / 3;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const uint32_t *p = pe_ut_compose + 3 * mid;
        if (p[0] == a && p[1] == b) return p[2];
        if (p[0] < a || (p[0] == a && p[1] < b)) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* Canonical composition in place: a mark composes with the last starter
 * unless a mark of the same or a higher class (or a starter) came between. */
static void compose(ut_buf *b) {
    size_t w = 0, starter = 0;
    bool have_starter = false;
    int max_ccc = -1;
    for (size_t r = 0; r < b->n; r++) {
        uint32_t c = b->v[r];
        int k = ccc(c);
        if (have_starter && k > max_ccc) {
            uint32_t comp = compose_pair(b->v[starter], c);
            if (comp) {
                b->v[starter] = comp;
                continue;
            }
        }
        b->v[w] = c;
        if (k) {
            if (k > max_ccc) max_ccc = k;
        } else {
            starter = w, have_starter = true, max_ccc = -1;
        }
        w++;
    }
    b->n = w;
}

static size_t ut_encode(uint32_t c, uint8_t *o) {
    if (c < 0x80) return o[0] = (uint8_t)c, 1;
    if (c < 0x800) return o[0] = (uint8_t)(0xC0 | c >> 6), o[1] = (uint8_t)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | c >> 12), o[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
        o[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | c >> 18), o[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
    o[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F)), o[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* Decoded, decomposed and reordered input onto b; 0 or an error. */
static utf8proc_ssize_t decompose_all(const uint8_t *s, utf8proc_ssize_t len, bool nullterm,
                                      bool compat, ut_buf *b) {
    for (size_t p = 0; nullterm ? s[p] != 0 : p < (size_t)len;) {
        uint32_t c;
        int k = ut_decode(s + p, nullterm ? 4 : (size_t)len - p, &c);
        if (k < 0) return UT_ERROR_INVALIDUTF8;
        p += (size_t)k;
        int r = decompose(c, compat, b);
        if (r) return r;
    }
    reorder(b);
    return 0;
}

utf8proc_ssize_t PE_UT_NAME(utf8proc_map)(const utf8proc_uint8_t *str, utf8proc_ssize_t strlen,
                                          utf8proc_uint8_t **dstptr, utf8proc_option_t options) {
    const int known = UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    *dstptr = NULL;
    if (((int)options & ~known) || !((int)options & UTF8PROC_COMPOSE) ||
        !((int)options & UTF8PROC_STABLE) || (!((int)options & UTF8PROC_NULLTERM) && strlen < 0))
        return UT_ERROR_INVALIDOPTS;
    ut_buf b = {0};
    utf8proc_ssize_t r = decompose_all(str, strlen, (int)options & UTF8PROC_NULLTERM,
                                       (int)options & UTF8PROC_COMPAT, &b);
    uint8_t *m = NULL;
    if (!r) {
        compose(&b);
        m = malloc(4 * b.n + 1);
        if (!m) r = UT_ERROR_NOMEM;
    }
    if (r) {
        free(b.v);
        return r;
    }
    size_t n = 0;
    for (size_t i = 0; i < b.n; i++) n += ut_encode(b.v[i], m + n);
    m[n] = 0;
    free(b.v);
    *dstptr = m;
    return (utf8proc_ssize_t)n;
}
