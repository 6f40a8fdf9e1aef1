/* Strict RFC 8259 reader.  The input is untrusted (safetensors headers come
 * from downloaded files), so every byte is checked against the grammar, the
 * nesting depth is bounded, strings must be valid UTF-8, and nothing relies on
 * the input being NUL-terminated. */
#include "json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pe_json_parser {
    const char *s;          /* [len] input, not NUL-terminated */
    size_t len;
    size_t pos;
    int depth;
} pe_json_parser;

static pe_status pe_json_value(pe_json_parser *p, pe_json *v);

static pe_status pe_json_fail(const pe_json_parser *p, const char *what) {
    return pe_error(PE_ERR_FORMAT, "json: %s at byte %zu", what, p->pos);
}

static pe_status pe_json_nomem(void) {
    return pe_error(PE_ERR_NOMEM, "json: out of memory");
}

static void pe_json_skip_ws(pe_json_parser *p) {
    while (p->pos < p->len) {
        const char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* Releases what v owns, but not v itself (nodes live inside their parent's
 * items/keys arrays). */
static void pe_json_clear(pe_json *v) {
    if (v->type == PE_JSON_STRING || v->type == PE_JSON_NUMBER) {
        free((char *)v->raw);
    } else if (v->type == PE_JSON_ARRAY || v->type == PE_JSON_OBJECT) {
        for (size_t i = 0; i < v->n; i++) {
            pe_json_clear(&v->items[i]);
            if (v->keys) pe_json_clear(&v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

void pe_json_free(pe_json *j) {
    if (!j) return;
    pe_json_clear(j);
    free(j);
}

static int pe_json_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at s[at:at+4] as a number; -1 if malformed. */
static long pe_json_hex4(const pe_json_parser *p, size_t at) {
    if (p->len - at < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        const int h = pe_json_hex(p->s[at + (size_t)i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t pe_json_put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s[0:n] (n >= 1), or 0.
 * Overlong forms, UTF-16 surrogates and code points above U+10FFFF are
 * refused (Unicode table 3-7). */
static size_t pe_json_utf8_len(const unsigned char *s, size_t n) {
    const unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;  /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* Decodes one escape at p->pos (just after the backslash) into out. */
static pe_status pe_json_escape(pe_json_parser *p, char *out, size_t *n) {
    if (p->pos >= p->len) return pe_json_fail(p, "unterminated escape");
    const char c = p->s[p->pos];
    char simple = 0;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': break;
    default: return pe_json_fail(p, "invalid escape");
    }
    if (simple) {
        out[(*n)++] = simple;
        p->pos++;
        return PE_OK;
    }
    const long hi = pe_json_hex4(p, p->pos + 1);
    if (hi < 0) return pe_json_fail(p, "invalid \\u escape");
    uint32_t cp = (uint32_t)hi;
    if (cp >= 0xdc00 && cp <= 0xdfff) return pe_json_fail(p, "lone low surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        /* A high surrogate is only meaningful with a low one right after it. */
        const size_t at = p->pos + 5;
        if (p->len - at < 2 || p->s[at] != '\\' || p->s[at + 1] != 'u')
            return pe_json_fail(p, "lone high surrogate");
        const long lo = pe_json_hex4(p, at + 2);
        if (lo < 0xdc00 || lo > 0xdfff) return pe_json_fail(p, "lone high surrogate");
        cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
        p->pos += 6;
    }
    p->pos += 5;
    *n += pe_json_put_utf8(out + *n, cp);
    return PE_OK;
}

static pe_status pe_json_string(pe_json_parser *p, pe_json *v) {
    p->pos++; /* opening quote */
    /* Escapes only shrink the text, so the raw span bounds the decoded size. */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return pe_json_fail(p, "unterminated string");
    char *out = malloc(end - p->pos + 1);
    if (!out) return pe_json_nomem();
    size_t n = 0;
    while (p->s[p->pos] != '"') {
        const unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            free(out);
            return pe_json_fail(p, "control character in string");
        }
        if (c == '\\') {
            p->pos++;
            const pe_status st = pe_json_escape(p, out, &n);
            if (st != PE_OK) {
                free(out);
                return st;
            }
            continue;
        }
        const size_t k = pe_json_utf8_len((const unsigned char *)p->s + p->pos, end - p->pos);
        if (k == 0) {
            free(out);
            return pe_json_fail(p, "invalid UTF-8 in string");
        }
        memcpy(out + n, p->s + p->pos, k);
        n += k;
        p->pos += k;
    }
    p->pos++; /* closing quote */
    out[n] = 0;
    v->type = PE_JSON_STRING;
    v->raw = out;
    v->len = n;
    return PE_OK;
}

static bool pe_json_digit(const pe_json_parser *p) {
    return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/* strtod follows LC_NUMERIC; JSON always uses '.', so the text is converted
 * with the locale's radix character swapped in, then restored (raw is kept). */
static double pe_json_strtod(char *text, int *range_err) {
    const char *radix = localeconv()->decimal_point;
    char *dot = strchr(text, '.');
    const bool swap = dot && radix && radix[0] && radix[0] != '.' && !radix[1];
    if (swap) *dot = radix[0];
    errno = 0;
    const double d = strtod(text, NULL);
    *range_err = errno == ERANGE && isinf(d);
    if (swap) *dot = '.';
    return d;
}

static pe_status pe_json_number(pe_json_parser *p, pe_json *v) {
    const size_t start = p->pos;
    bool integer = true;
    if (p->s[p->pos] == '-') p->pos++;
    if (!pe_json_digit(p)) return pe_json_fail(p, "invalid number");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (pe_json_digit(p)) return pe_json_fail(p, "leading zero in number");
    } else {
        while (pe_json_digit(p)) p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        integer = false;
        p->pos++;
        if (!pe_json_digit(p)) return pe_json_fail(p, "digit expected after '.'");
        while (pe_json_digit(p)) p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integer = false;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (!pe_json_digit(p)) return pe_json_fail(p, "digit expected in exponent");
        while (pe_json_digit(p)) p->pos++;
    }
    const size_t n = p->pos - start;
    char *raw = malloc(n + 1);
    if (!raw) return pe_json_nomem();
    memcpy(raw, p->s + start, n);
    raw[n] = 0;
    int range_err = 0;
    double d = 0;
    /* Integers below 10^15 (< 2^53) are exact without strtod and the locale. */
    if (integer && n - (raw[0] == '-') <= 15) {
        const char *q = raw + (raw[0] == '-');
        for (; *q; q++) d = d * 10 + (*q - '0');
        if (raw[0] == '-') d = -d;
    } else {
        d = pe_json_strtod(raw, &range_err);
    }
    if (range_err) {
        free(raw);
        p->pos = start;
        return pe_json_fail(p, "number out of range");
    }
    v->type = PE_JSON_NUMBER;
    v->number = d;
    v->raw = raw;
    v->len = n;
    return PE_OK;
}

static pe_status pe_json_literal(pe_json_parser *p, pe_json *v) {
    static const struct { const char *word; pe_json_type type; int b; } lit[] = {
        {"true", PE_JSON_BOOL, 1}, {"false", PE_JSON_BOOL, 0}, {"null", PE_JSON_NULL, 0},
    };
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        const size_t k = strlen(lit[i].word);
        if (p->len - p->pos >= k && memcmp(p->s + p->pos, lit[i].word, k) == 0) {
            p->pos += k;
            v->type = lit[i].type;
            v->boolean = lit[i].b;
            return PE_OK;
        }
    }
    return pe_json_fail(p, "unexpected character");
}

/* Makes room for one more element in v->items (and v->keys for objects). */
static pe_status pe_json_grow(pe_json *v, size_t *cap) {
    if (v->n < *cap) return PE_OK;
    const size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / sizeof(pe_json)) return pe_json_nomem();
    pe_json *items = realloc(v->items, ncap * sizeof *items);
    if (!items) return pe_json_nomem();
    v->items = items;
    if (v->type == PE_JSON_OBJECT) {
        pe_json *keys = realloc(v->keys, ncap * sizeof *keys);
        if (!keys) return pe_json_nomem();
        v->keys = keys;
    }
    *cap = ncap;
    return PE_OK;
}

static int pe_json_key_cmp(const void *a, const void *b) {
    const pe_json *x = *(const pe_json *const *)a, *y = *(const pe_json *const *)b;
    const int c = memcmp(x->raw, y->raw, PE_MIN(x->len, y->len));
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* RFC 8259 leaves duplicate keys undefined; readers disagree on which one
 * wins, so a file that relies on either is refused. Sorting keeps this
 * O(n log n) for headers with thousands of tensors. */
static pe_status pe_json_check_dups(const pe_json *v, size_t at) {
    if (v->n < 2) return PE_OK;
    const pe_json **sorted = malloc(v->n * sizeof *sorted);
    if (!sorted) return pe_json_nomem();
    for (size_t i = 0; i < v->n; i++) sorted[i] = &v->keys[i];
    qsort(sorted, v->n, sizeof *sorted, pe_json_key_cmp);
    pe_status st = PE_OK;
    for (size_t i = 1; i < v->n && st == PE_OK; i++) {
        if (pe_json_key_cmp(&sorted[i - 1], &sorted[i]) == 0)
            st = pe_error(PE_ERR_FORMAT, "json: duplicate key \"%.*s\" in object at byte %zu",
                          (int)PE_MIN(sorted[i]->len, 200), sorted[i]->raw, at);
    }
    free(sorted);
    return st;
}

/* Arrays and objects share the loop: elements separated by ',', no trailing
 * comma, objects read "key": before each value. */
static pe_status pe_json_container(pe_json_parser *p, pe_json *v, bool object) {
    const size_t start = p->pos;
    const char close = object ? '}' : ']';
    if (++p->depth > PE_JSON_MAX_DEPTH)
        return pe_error(PE_ERR_LIMIT, "json: nesting deeper than %d at byte %zu",
                        PE_JSON_MAX_DEPTH, p->pos);
    v->type = object ? PE_JSON_OBJECT : PE_JSON_ARRAY;
    p->pos++;
    pe_json_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return PE_OK;
    }
    size_t cap = 0;
    for (;;) {
        pe_status st = pe_json_grow(v, &cap);
        if (st != PE_OK) return st;
        pe_json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (object) {
            pe_json *key = &v->keys[v->n];
            memset(key, 0, sizeof *key);
            pe_json_skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return pe_json_fail(p, "object key (string) expected");
            /* Count the element before parsing so a failure frees its parts. */
            v->n++;
            st = pe_json_string(p, key);
            if (st != PE_OK) return st;
            pe_json_skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return pe_json_fail(p, "':' expected");
            p->pos++;
        } else {
            v->n++;
        }
        st = pe_json_value(p, item);
        if (st != PE_OK) return st;
        pe_json_skip_ws(p);
        if (p->pos >= p->len)
            return pe_json_fail(p, object ? "unterminated object" : "unterminated array");
        if (p->s[p->pos] == close) break;
        if (p->s[p->pos] != ',') return pe_json_fail(p, object ? "',' or '}' expected"
                                                               : "',' or ']' expected");
        p->pos++;
    }
    p->pos++;
    p->depth--;
    return object ? pe_json_check_dups(v, start) : PE_OK;
}

static pe_status pe_json_value(pe_json_parser *p, pe_json *v) {
    pe_json_skip_ws(p);
    if (p->pos >= p->len) return pe_json_fail(p, "value expected");
    const char c = p->s[p->pos];
    if (c == '{') return pe_json_container(p, v, true);
    if (c == '[') return pe_json_container(p, v, false);
    if (c == '"') return pe_json_string(p, v);
    if (c == '-' || (c >= '0' && c <= '9')) return pe_json_number(p, v);
    return pe_json_literal(p, v);
}

pe_status pe_json_parse(const char *text, size_t len, pe_json **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "json: out is NULL");
    *out = NULL;
    if (!text && len) return pe_error(PE_ERR_INVALID_ARG, "json: text is NULL");
    pe_json *root = calloc(1, sizeof *root);
    if (!root) return pe_json_nomem();
    pe_json_parser p = { text, len, 0, 0 };
    pe_status st = pe_json_value(&p, root);
    if (st == PE_OK) {
        pe_json_skip_ws(&p);
        if (p.pos != p.len) st = pe_json_fail(&p, "trailing characters after the value");
    }
    if (st != PE_OK) {
        pe_json_free(root);
        return st;
    }
    *out = root;
    return PE_OK;
}

const pe_json *pe_json_get(const pe_json *obj, const char *key) {
    if (!obj || obj->type != PE_JSON_OBJECT || !key) return NULL;
    const size_t k = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i].len == k && memcmp(obj->keys[i].raw, key, k) == 0)
            return &obj->items[i];
    return NULL;
}

/* Exact decimal digits -> uint64 with overflow detection; false on any
 * non-digit (so fractions and exponents are not integers here). */
static bool pe_json_digits_u64(const char *s, size_t n, uint64_t *out) {
    if (n == 0) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (!pe_mul_u64(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

bool pe_json_u64(const pe_json *j, uint64_t *out) {
    if (!j || j->type != PE_JSON_NUMBER || !j->raw || j->raw[0] == '-') return false;
    uint64_t v;
    if (!pe_json_digits_u64(j->raw, j->len, &v)) return false;
    if (out) *out = v;
    return true;
}

bool pe_json_i64(const pe_json *j, int64_t *out) {
    if (!j || j->type != PE_JSON_NUMBER || !j->raw) return false;
    const bool neg = j->raw[0] == '-';
    uint64_t v;
    if (!pe_json_digits_u64(j->raw + neg, j->len - neg, &v)) return false;
    int64_t r;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        r = (int64_t)v;
    }
    if (out) *out = r;
    return true;
}
