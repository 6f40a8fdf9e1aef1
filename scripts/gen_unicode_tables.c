/* The Unicode tables of the WebAssembly build (wasm/utf8proc_tables.h) and
 * their check, both from the native libutf8proc, so that the wasm build's
 * tokenizer answers exactly as the native one.
 *
 * Built twice by `make unicode-tables` (native, -lutf8proc):
 *   - without PE_UT_CHECK it asks utf8proc about every code point and writes
 *     the header: general-category runs, the case mappings that differ,
 *     canonical combining-class runs, full canonical decompositions (Hangul
 *     is algorithmic), the composition pairs utf8proc composes under
 *     UTF8PROC_STABLE, and the compatibility decompositions of
 *     U+FF01..U+FFEF (the only code points the tokenizer maps with COMPAT);
 *   - with PE_UT_CHECK it compiles wasm/utf8proc_tables.c in under pe_ut_*
 *     names and compares it with utf8proc: category and case of every code
 *     point, NFC of every code point alone and of scrambled sequences, NFKC
 *     of U+FF01..U+FFEF, and the rejection of malformed UTF-8.  Any
 *     difference fails (exit 1) with the first few printed.
 * usage: gen_unicode_tables OUT.h  |  check_unicode_tables */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define MAX_CP 0x110000
#define SYLLABLE_0 0xAC00
#define SYLLABLES 11172

static int is_scalar(int32_t c) { return c < 0xD800 || (c > 0xDFFF && c < MAX_CP); }
static inline int is_syllable(int32_t c) { return c >= SYLLABLE_0 && c < SYLLABLE_0 + SYLLABLES; }

/* utf8proc's decomposition of one code point (full, recursive), n cps. */
static int utf8proc_decomp(int32_t c, int compat, int32_t *out, int cap) {
    int last = 0;
    utf8proc_option_t o = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    utf8proc_ssize_t n = utf8proc_decompose_char(c, out, cap, o, &last);
    if (n < 0 || n > cap) {
        fprintf(stderr, "gen_unicode_tables: U+%04X: decomposition failed\n", (unsigned)c);
        exit(1);
    }
    return (int)n;
}

#ifndef PE_UT_CHECK

/* utf8proc_map of a code point sequence with OPTS, as code points; n or -1. */
static int map_cps(const int32_t *in, int n, utf8proc_option_t opts, int32_t *out, int cap) {
    uint8_t buf[256];
    size_t len = 0;
    for (int i = 0; i < n; i++) len += (size_t)utf8proc_encode_char(in[i], buf + len);
    uint8_t *m = NULL;
    utf8proc_ssize_t r = utf8proc_map(buf, (utf8proc_ssize_t)len, &m, opts);
    if (r < 0) return -1;
    int k = 0;
    for (utf8proc_ssize_t p = 0; p < r && k < cap;) {
        int32_t c;
        p += utf8proc_iterate(m + p, r - p, &c);
        out[k++] = c;
    }
    free(m);
    return k;
}

static FILE *out;

static void emit_array(const char *type, const char *name, const uint32_t *v, size_t n,
                       const char *why) {
    fprintf(out, "\n/* %s */\nstatic const %s %s[%zu] = {", why, type, name, n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s0x%X,", i % 8 ? " " : "\n    ", (unsigned)v[i]);
    fprintf(out, "\n};\n");
}

static uint32_t *grow(uint32_t *v, size_t n) {
    v = realloc(v, (n + 1) * sizeof *v);
    if (!v) {
        fputs("gen_unicode_tables: out of memory\n", stderr);
        exit(1);
    }
    return v;
}

#define PUSH(v, n, x) ((v) = grow((v), (n)), (v)[(n)++] = (uint32_t)(x))

/* Runs of one property over all code points: start << SHIFT | value. */
static void runs(const char *name, int shift, int (*prop)(int32_t), const char *why) {
    uint32_t *v = NULL;
    size_t n = 0;
    int prev = -1;
    for (int32_t c = 0; c < MAX_CP; c++) {
        int p = prop(c);
        if (p != prev) PUSH(v, n, (uint32_t)c << shift | (uint32_t)p);
        prev = p;
    }
    emit_array("uint32_t", name, v, n, why);
    free(v);
}

static int prop_category(int32_t c) { return (int)utf8proc_category(c); }
static int prop_ccc(int32_t c) { return utf8proc_get_property(c)->combining_class; }

/* (c, f(c)) for every code point where f(c) != c. */
static void case_pairs(const char *name, utf8proc_int32_t (*f)(utf8proc_int32_t), const char *why) {
    uint32_t *v = NULL;
    size_t n = 0;
    for (int32_t c = 0; c < MAX_CP; c++)
        if (f(c) != c) {
            PUSH(v, n, c);
            PUSH(v, n, f(c));
        }
    emit_array("uint32_t", name, v, n, why);
    free(v);
}

/* Decompositions of the code points in [lo, hi] that have one: an index of
 * (cp, offset << 3 | length) pairs into a pool of code points. */
static void decomps(const char *name, int32_t lo, int32_t hi, int compat, const char *why) {
    uint32_t *idx = NULL, *pool = NULL;
    size_t ni = 0, np = 0;
    for (int32_t c = lo; c <= hi; c++) {
        int32_t d[32];
        if (!is_scalar(c) || is_syllable(c)) continue;
        int k = utf8proc_decomp(c, compat, d, 32);
        if (k == 1 && d[0] == c) continue;
        if (k > 7) {
            fprintf(stderr, "gen_unicode_tables: U+%04X decomposes into %d\n", (unsigned)c, k);
            exit(1);
        }
        PUSH(idx, ni, c);
        PUSH(idx, ni, (uint32_t)np << 3 | (uint32_t)k);
        for (int i = 0; i < k; i++) PUSH(pool, np, d[i]);
    }
    char nm[64];
    snprintf(nm, sizeof nm, "%s_index", name);
    emit_array("uint32_t", nm, idx, ni, why);
    snprintf(nm, sizeof nm, "%s_pool", name);
    emit_array("uint32_t", nm, pool, np, "their code points");
    free(idx);
    free(pool);
}

/* The pairs utf8proc composes: for each code point c whose canonical
 * decomposition is x.. y, the first part's NFC as one code point x' such
 * that utf8proc composes (x', y) into c.  The composition step only ever
 * holds an NFC starter, so these are all it can meet; the check proves it. */
static int cmp_pair(const void *a, const void *b) {
    const uint32_t *p = a, *q = b;
    if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
    return p[1] < q[1] ? -1 : p[1] > q[1];
}

static void compositions(void) {
    uint32_t *v = NULL;
    size_t n = 0;
    for (int32_t c = 0; c < MAX_CP; c++) {
        int32_t d[32], x[32], r[32];
        if (!is_scalar(c) || is_syllable(c)) continue;
        int k = utf8proc_decomp(c, 0, d, 32);
        if (k < 2) continue;
        if (map_cps(d, k - 1, UTF8PROC_STABLE | UTF8PROC_COMPOSE, x, 32) != 1) continue;
        int32_t pair[2] = {x[0], d[k - 1]};
        if (map_cps(pair, 2, UTF8PROC_STABLE | UTF8PROC_COMPOSE, r, 32) != 1 || r[0] != c) continue;
        PUSH(v, n, x[0]);
        PUSH(v, n, d[k - 1]);
        PUSH(v, n, c);
    }
    qsort(v, n / 3, 3 * sizeof *v, cmp_pair);
    emit_array("uint32_t", "pe_ut_compose", v, n,
               "composition pairs (first, second, composite), sorted by first, second");
    free(v);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: gen_unicode_tables OUT.h\n", stderr);
        return 2;
    }
    out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out, "/* Generated by scripts/gen_unicode_tables.c from utf8proc %s (Unicode %s):\n"
                 " * make unicode-tables.  Do not edit. */\n"
                 "#define PE_UT_UTF8PROC_VERSION \"%s\"\n",
            utf8proc_version(), utf8proc_unicode_version(), utf8proc_version());
    runs("pe_ut_category", 5, prop_category,
         "general category: runs over all code points, start << 5 | category");
    case_pairs("pe_ut_lower", utf8proc_tolower, "utf8proc_tolower: (cp, lower) where they differ");
    case_pairs("pe_ut_upper", utf8proc_toupper, "utf8proc_toupper: (cp, upper) where they differ");
    runs("pe_ut_ccc", 8, prop_ccc, "canonical combining class: runs, start << 8 | class");
    decomps("pe_ut_decomp", 0, MAX_CP - 1, 0,
            "full canonical decompositions (Hangul aside): (cp, offset << 3 | length)");
    compositions();
    decomps("pe_ut_compat", 0xFF01, 0xFFEF, 1,
            "full compatibility decompositions of U+FF01..U+FFEF: (cp, offset << 3 | length)");
    if (fclose(out)) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}

#else /* PE_UT_CHECK */

#define PE_UT_NAME(n) pe_ut_##n
#include "../wasm/utf8proc_tables.c"

static long diffs;

static void differ(const char *what, const int32_t *in, int n) {
    if (++diffs > 10) return;
    fprintf(stderr, "check_unicode_tables: %s differs for", what);
    for (int i = 0; i < n; i++) fprintf(stderr, " U+%04X", (unsigned)in[i]);
    fputc('\n', stderr);
}

/* Both utf8proc_maps of the sequence must give the same bytes. */
static void same_map(const char *what, const int32_t *in, int n, utf8proc_option_t opts) {
    uint8_t buf[512];
    size_t len = 0;
    for (int i = 0; i < n; i++) len += (size_t)utf8proc_encode_char(in[i], buf + len);
    buf[len] = 0;
    if (opts & UTF8PROC_NULLTERM) len = 0;
    uint8_t *a = NULL, *b = NULL;
    utf8proc_ssize_t ra = utf8proc_map(buf, (utf8proc_ssize_t)len, &a, opts);
    utf8proc_ssize_t rb = pe_ut_utf8proc_map(buf, (utf8proc_ssize_t)len, &b, opts);
    if (ra != rb || (ra >= 0 && memcmp(a, b, (size_t)ra + 1))) differ(what, in, n);
    free(a);
    free(b);
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t next(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Every code point alone. */
static void check_each(void) {
    for (int32_t c = 0; c < MAX_CP; c++) {
        if (utf8proc_category(c) != pe_ut_utf8proc_category(c)) differ("category", &c, 1);
        if (utf8proc_tolower(c) != pe_ut_utf8proc_tolower(c)) differ("tolower", &c, 1);
        if (utf8proc_toupper(c) != pe_ut_utf8proc_toupper(c)) differ("toupper", &c, 1);
        if (c && is_scalar(c)) same_map("NFC", &c, 1, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    }
    for (int32_t c = 0xFF01; c <= 0xFFEF; c++)
        same_map("NFKC", &c, 1, UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                    UTF8PROC_COMPAT);
    int32_t out_of_range[] = {-1, MAX_CP, 0x7FFFFFFF};
    for (int i = 0; i < 3; i++) {
        int32_t c = out_of_range[i];
        if (utf8proc_category(c) != pe_ut_utf8proc_category(c)) differ("category", &c, 1);
    }
}

/* The NFD of each decomposable code point, then marks of mixed classes in
 * a scrambled order; Hangul syllables and jamo sequences; random mixes of
 * starters, decomposables and marks. */
static void check_sequences(void) {
    int32_t marks[4096], pieces[16384];
    int nm = 0, np = 0;
    for (int32_t c = 0; c < MAX_CP && nm < 4096; c++)
        if (utf8proc_get_property(c)->combining_class) marks[nm++] = c;
    for (int32_t c = 0; c < MAX_CP && np < 16384; c++) {
        int32_t d[32];
        if (!is_scalar(c) || utf8proc_decomp(c, 0, d, 32) == 1) continue;
        pieces[np++] = c;
    }
    int32_t s[40];
    for (int32_t c = 0; c < MAX_CP; c++) {
        if (!is_scalar(c)) continue;
        int k = utf8proc_decomp(c, 0, s, 32);
        if (k == 1 && s[0] == c) continue;
        for (int round = 0; round < 3; round++) {
            int n = k;
            for (int m = 1 + (int)next(4); m > 0; m--) s[n++] = marks[next((uint32_t)nm)];
            if (next(2)) s[n++] = pieces[next((uint32_t)np)];
            same_map("NFC of a sequence", s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        }
    }
    for (int32_t l = 0x1100; l < 0x1113; l++)
        for (int32_t v = 0x1161; v < 0x1176; v++) {
            int32_t h[4] = {l, v, 0x11A7 + (int32_t)next(29), marks[next((uint32_t)nm)]};
            same_map("NFC of jamo", h, 2 + (int)next(3), UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        }
    for (int32_t c = SYLLABLE_0; c < SYLLABLE_0 + SYLLABLES; c++) {
        int32_t h[3] = {c, 0x11A7 + (int32_t)next(30), 0x0300 + (int32_t)next(5)};
        same_map("NFC of Hangul", h, 1 + (int)next(3), UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    }
    for (int i = 0; i < 300000; i++) {
        int n = 1 + (int)next(10);
        for (int k = 0; k < n; k++) {
            uint32_t w = next(4);
            s[k] = w == 0 ? (int32_t)next(0x250) : w == 1 ? marks[next((uint32_t)nm)]
                                                          : pieces[next((uint32_t)np)];
            if (!s[k]) s[k] = 'a';
        }
        same_map("NFC of a random mix", s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    }
    printf("check_unicode_tables: %d marks, %d decomposables in the sequences\n", nm, np);
}

/* Malformed UTF-8 is an error in both, and NULLTERM stops at the 0. */
static void check_bytes(void) {
    static const char *bad[] = {"\x80", "\xC0\xAF", "\xC2", "\xE0\x80\xAF", "\xED\xA0\x80",
                                "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "a\xFF", "\xE2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t *a = NULL, *b = NULL;
        utf8proc_ssize_t len = (utf8proc_ssize_t)strlen(bad[i]);
        utf8proc_ssize_t ra = utf8proc_map((const uint8_t *)bad[i], len, &a,
                                           UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        utf8proc_ssize_t rb = pe_ut_utf8proc_map((const uint8_t *)bad[i], len, &b,
                                                 UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (ra != rb || a || b) differ("malformed UTF-8", (const int32_t[]){(int32_t)i}, 1);
        free(a);
        free(b);
    }
    uint8_t *e = NULL;
    if (pe_ut_utf8proc_map((const uint8_t *)"", 0, &e, UTF8PROC_STABLE | UTF8PROC_COMPOSE) != 0 ||
        !e || e[0])
        differ("empty input", (const int32_t[]){0}, 1);
    free(e);
}

int main(void) {
    check_each();
    check_sequences();
    check_bytes();
    if (diffs) {
        fprintf(stderr, "check_unicode_tables: FAIL: %ld differences from utf8proc %s\n", diffs,
                utf8proc_version());
        return 1;
    }
    printf("check_unicode_tables: wasm/utf8proc_tables.c answers as utf8proc %s (Unicode %s)\n",
           utf8proc_version(), utf8proc_unicode_version());
    return 0;
}

#endif
