/* The OpenAI CLIP BPE tokenizer (bpe_simple_vocab_16e6.txt.gz), as the
 * reference runs it (open_clip / perception_models SimpleTokenizer):
 *
 *   ftfy.fix_text -> html.unescape x2 -> strip -> \s+ to ' ' -> strip
 *   -> str.lower -> split by the pattern below -> byte-level BPE -> ids
 *
 * Cleaning follows ftfy 6.3 with its default TextFixerConfig, step by step
 * and in its order: the text is fixed one line at a time ("auto" HTML
 * unescaping is off for good from the first line holding a '<'); each line
 * loops to a fixed point through
 *   unescape_html      all 2231 HTML5 names that end in ';', ftfy's
 *                      upper-case variants (&EACUTE; -> É), and numeric
 *                      references &#NN; / &#xHH; (with Python's rules for
 *                      0, C1, surrogates, non-characters, > U+10FFFF)
 *   fix_encoding       mojibake repair: ftfy's whole badness heuristic, the
 *                      ten single-byte codecs in ftfy's order (latin-1,
 *                      sloppy windows-1250/1/2/3/4/7, iso-8859-2, macroman,
 *                      cp437), restore_byte_a0, replace_lossy_sequences,
 *                      the utf-8-variants decoder (CESU-8 pairs, C0 80),
 *                      decode_inconsistent_utf8, latin-1 read as
 *                      windows-1252, fix_c1_controls
 *   fix_c1_controls, fix_latin_ligatures, fix_character_width,
 *   uncurl_quotes, fix_line_breaks, remove_terminal_escapes,
 *   remove_control_chars, NFC.
 * Python's html.unescape (run twice after ftfy) is reproduced exactly: the
 * same 2231 names plus the legacy ones without ';', longest-prefix matching.
 * The tables are generated into tokenizer_data.h by scripts/gen_tokenizer_data.py.
 *
 * What differs from ftfy / Python, and why:
 *  - fix_surrogates does nothing: UTF-8 cannot carry UTF-16 surrogates (they
 *    decode to U+FFFD, see below), so there is nothing to fix.
 *  - decode_inconsistent_utf8's character "clues" are rebuilt from the
 *    codecs by the generator instead of copying ftfy's hand-made table; a
 *    few rare characters may differ (only matters for text that mixes
 *    mojibake with correct non-ASCII text).
 *  - str.lower()'s Final_Sigma rule uses an approximation of the Unicode
 *    Cased / Case_Ignorable properties (categories Lu Ll Lt / Mn Me Cf Lm Sk
 *    plus the Word_Break apostrophes, dots and colons): utf8proc has no
 *    such property tables.
 *  - Unicode data (categories, case, NFC) comes from utf8proc, whose Unicode
 *    version may differ from the reference's Python; the WebAssembly build
 *    has tables generated from the native utf8proc instead
 *    (wasm/utf8proc_tables.c), checked to answer the same.
 *  - Bytes that are not UTF-8 are replaced by U+FFFD, one per maximal
 *    invalid subsequence, exactly like Python's bytes.decode('utf-8',
 *    'replace'); pe_tokenize never refuses text for its encoding.
 *  - Texts over PE_TOKENIZER_MAX_TEXT bytes are refused (PE_ERR_LIMIT), and
 *    fixed-point loops stop after FTFY_MAX_ROUNDS rounds (never reached in
 *    practice; a guard against adversarial input).
 *
 * The tokenizer is immutable after loading and has no cache: pe_tokenize may
 * run on one tokenizer from any number of threads.  Each call allocates its
 * own scratch memory (prompts are short; this is not an inner loop). */
#include "tokenizer.h"

#include "tokenizer_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zlib.h>

#define N_MERGES 48894
#define N_VOCAB (512 + N_MERGES + 2)
#define MAX_GZ_BYTES ((size_t)64 << 20)   /* compressed file              */
#define MAX_VOCAB_BYTES ((size_t)16 << 20) /* decompressed (real: ~1.3 MB) */
#define FTFY_MAX_SEGMENT 1000000            /* ftfy max_decode_length      */
#define FTFY_MAX_ROUNDS 64                  /* fixed-point guard           */

_Static_assert(N_VOCAB == 49408, "CLIP vocabulary size");
_Static_assert(PE_TOKEN_SOT == N_VOCAB - 2 && PE_TOKEN_EOT == N_VOCAB - 1, "special ids");

/* ------------------------------------------------------------ buffers */

typedef struct cpbuf {
    uint32_t *v;
    size_t n, cap;
} cpbuf;

static bool cp_reserve(cpbuf *b, size_t extra) {
    size_t need;
    if (!pe_add_size(b->n, extra, &need)) return false;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (!pe_mul_size(cap, 2, &cap)) return false;
    }
    size_t bytes;
    if (!pe_mul_size(cap, sizeof(uint32_t), &bytes)) return false;
    uint32_t *v = realloc(b->v, bytes);
    if (!v) return false;
    b->v = v;
    b->cap = cap;
    return true;
}

static bool cp_push(cpbuf *b, uint32_t c) {
    if (b->n == b->cap && !cp_reserve(b, 1)) return false;
    b->v[b->n++] = c;
    return true;
}

static bool cp_append(cpbuf *b, const uint32_t *s, size_t n) {
    if (!cp_reserve(b, n)) return false;
    if (n) memcpy(b->v + b->n, s, n * sizeof *s);
    b->n += n;
    return true;
}

static void cp_free(cpbuf *b) {
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

static bool cp_equal(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

typedef struct bytebuf {
    uint8_t *v;
    size_t n, cap;
} bytebuf;

static bool bb_push(bytebuf *b, uint8_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap < b->cap) return false;
        uint8_t *v = realloc(b->v, cap);
        if (!v) return false;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    return true;
}

/* ------------------------------------------------------------ UTF-8 */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 with *bad set to
 * the length of the maximal invalid subpart to replace (Python's rule). */
static int utf8_next(const uint8_t *s, size_t n, uint32_t *cp, size_t *bad) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    for (int k = 1; k < len; k++) {
        if ((size_t)k >= n || s[k] < lo || s[k] > hi) {
            *bad = (size_t)k;
            return 0;
        }
        v = (v << 6) | (s[k] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return len;
}

/* Decodes UTF-8; bad bytes become U+FFFD. */
static bool utf8_decode_replace(const uint8_t *s, size_t n, cpbuf *out) {
    if (!cp_reserve(out, n)) return false;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t bad = 0;
        int k = utf8_next(s + i, n - i, &cp, &bad);
        if (k) {
            out->v[out->n++] = cp;
            i += (size_t)k;
        } else {
            out->v[out->n++] = 0xFFFD;
            i += bad;
        }
    }
    return true;
}

/* Strict decode (ftfy's "utf-8", or "utf-8-variants" when variants is set:
 * CESU-8 surrogate pairs and Java's C0 80 for U+0000).  Returns 0 on success,
 * 1 when the bytes are not (that) UTF-8, -1 when out of memory. */
static int utf8_decode_strict(const uint8_t *s, size_t n, bool variants, cpbuf *out) {
    if (!cp_reserve(out, n)) return -1;
    size_t i = 0;
    while (i < n) {
        if (variants && n - i >= 6 && s[i] == 0xED && s[i + 1] >= 0xA0 && s[i + 1] <= 0xAF &&
            (s[i + 2] & 0xC0) == 0x80 && s[i + 3] == 0xED && s[i + 4] >= 0xB0 &&
            s[i + 4] <= 0xBF && (s[i + 5] & 0xC0) == 0x80) {
            uint32_t hi = 0xD000u | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            uint32_t lo = 0xD000u | ((uint32_t)(s[i + 4] & 0x3F) << 6) | (s[i + 5] & 0x3F);
            out->v[out->n++] = 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u);
            i += 6;
            continue;
        }
        if (variants && n - i >= 2 && s[i] == 0xC0 && s[i + 1] == 0x80) {
            out->v[out->n++] = 0;
            i += 2;
            continue;
        }
        uint32_t cp;
        size_t bad;
        int k = utf8_next(s + i, n - i, &cp, &bad);
        if (!k) return 1;
        out->v[out->n++] = cp;
        i += (size_t)k;
    }
    return 0;
}

static size_t utf8_put(uint32_t c, uint8_t *d) {
    if (c < 0x80) { d[0] = (uint8_t)c; return 1; }
    if (c < 0x800) {
        d[0] = (uint8_t)(0xC0 | (c >> 6)); d[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (c >> 12)); d[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (c >> 18)); d[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F)); d[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* UTF-8 of cps, NUL-terminated, malloc'd. */
static uint8_t *utf8_encode(const uint32_t *s, size_t n, size_t *len) {
    size_t bytes;
    if (!pe_mul_size(n, 4, &bytes) || !pe_add_size(bytes, 1, &bytes)) return NULL;
    uint8_t *out = malloc(bytes), *d = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) d += utf8_put(s[i], d);
    *d = 0;
    *len = (size_t)(d - out);
    return out;
}

/* ------------------------------------------------------------ character classes */

static uint32_t char_class(uint32_t c) {
    size_t lo = 0, hi = sizeof TOK_CLASSES / sizeof TOK_CLASSES[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (TOK_CLASSES[mid].cp == c) return TOK_CLASSES[mid].mask;
        if (TOK_CLASSES[mid].cp < c) lo = mid + 1; else hi = mid;
    }
    return 0;
}

/* Python's str.isspace() (also re's \s on str). */
static bool is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static utf8proc_category_t category(uint32_t c) {
    return c > 0x10FFFF ? UTF8PROC_CATEGORY_CN : utf8proc_category((utf8proc_int32_t)c);
}

static bool is_letter(uint32_t c) {
    utf8proc_category_t k = category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

static bool is_number(uint32_t c) {
    utf8proc_category_t k = category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* Python re's \w on str: alphanumerics and '_'. */
static bool is_word(uint32_t c) { return c == '_' || is_letter(c) || is_number(c); }

static bool is_ascii_alpha(uint32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static bool in_list(uint32_t c, const uint32_t *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (list[i] == c) return true;
    return false;
}
#define IN(c, ...) in_list((c), (const uint32_t[]){__VA_ARGS__}, \
                           sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

/* ------------------------------------------------------------ ftfy: badness */

enum {
    K_C1 = TOKC_C1, K_BAD = TOKC_BAD, K_LAW = TOKC_LAW, K_CUR = TOKC_CURRENCY,
    K_SP = TOKC_START_PUNCTUATION, K_EP = TOKC_END_PUNCTUATION, K_NUM = TOKC_NUMERIC,
    K_KAO = TOKC_KAOMOJI, K_UA = TOKC_UPPER_ACCENTED, K_LA = TOKC_LOWER_ACCENTED,
    K_UC = TOKC_UPPER_COMMON, K_LC = TOKC_LOWER_COMMON, K_BOX = TOKC_BOX,
    K_COMMON = TOKC_COMMON
};

/* Does ftfy's BADNESS_RE match at position i? (badness.py, alternative by
 * alternative.) */
static bool bad_at(const uint32_t *t, size_t n, size_t i) {
    uint32_t a = t[i], b = i + 1 < n ? t[i + 1] : 0, c = i + 2 < n ? t[i + 2] : 0;
    uint32_t d = i + 3 < n ? t[i + 3] : 0;
    bool h1 = i + 1 < n, h2 = i + 2 < n, h3 = i + 3 < n;
    uint32_t ka = char_class(a), kb = h1 ? char_class(b) : 0, kc = h2 ? char_class(c) : 0;

    if (ka & K_C1) return true;
    if (!h1) return false;
    if ((ka & (K_BAD | K_LA | K_UA | K_BOX | K_SP | K_EP | K_CUR | K_NUM | K_LAW)) && (kb & K_BAD))
        return true;
    if (is_ascii_alpha(a) && (kb & (K_LC | K_UC)) && (kc & K_BAD)) return true;
    if ((ka & K_BAD) && (kb & (K_LA | K_UA | K_BOX | K_SP | K_EP | K_CUR | K_NUM | K_LAW)))
        return true;
    if ((ka & (K_LA | K_LC | K_BOX | K_EP | K_CUR | K_NUM)) && (kb & K_UA)) return true;
    if ((ka & (K_BOX | K_EP | K_CUR | K_NUM)) && (kb & K_LA)) return true;
    if ((ka & (K_LA | K_BOX | K_EP)) && (kb & K_CUR)) return true;
    if (is_space(a) && (kb & K_UA) && (kc & K_CUR)) return true;
    if ((ka & (K_UA | K_BOX)) && (kb & (K_NUM | K_LAW))) return true;
    if ((ka & (K_LA | K_UA | K_BOX | K_CUR | K_EP)) && (kb & K_SP) && (kc & K_NUM)) return true;
    if ((ka & (K_LA | K_UA | K_CUR | K_NUM | K_BOX | K_LAW)) && (kb & K_EP) && (kc & K_SP))
        return true;
    if ((ka & (K_CUR | K_NUM | K_BOX)) && (kb & K_SP)) return true;
    if (a >= 'a' && a <= 'z' && (kb & K_UA) && (kc & (K_SP | K_CUR))) return true;
    if ((ka & K_BOX) && (kb & K_KAO)) return true;
    if ((ka & (K_LA | K_UA | K_CUR | K_NUM | K_SP | K_EP | K_LAW)) && (kb & K_BOX)) return true;
    if ((ka & K_BOX) && (kb & K_EP)) return true;
    if ((ka & (K_LA | K_UA)) && (kb & (K_SP | K_EP)) && h2 && is_word(c)) return true;
    if ((a == 0x152 || a == 0x153) && !is_ascii_alpha(b)) return true;
    if ((ka & K_UA) && b == 0xB0) return true;
    if (IN(a, 0xC2, 0xC3, 0xCE, 0xD0) &&
        (IN(b, 0x20AC, 0x153, 0x160, 0x161, 0xA2, 0xA3, 0x178, 0x17E, 0xA0, 0xAD, 0xAE, 0xA9,
            0xB0, 0xB7, 0xBB, 0x2013, 0x2014, 0xB4) || (kb & (K_SP | K_EP))))
        return true;
    if (a == 0xD7 && (b == 0xB2 || b == 0xB3)) return true;
    if (h3 && (a == 0xD8 || a == 0xD9) && (c == 0xD8 || c == 0xD9)) {
        const uint32_t m = K_COMMON | K_CUR | K_BAD | K_NUM | K_SP;
        if (((kb & m) || IN(b, 0x178, 0x160, 0xAE, 0xB0, 0xB5, 0xBB)) &&
            ((char_class(d) & m) || IN(d, 0x178, 0x160, 0xAE, 0xB0, 0xB5, 0xBB)))
            return true;
    }
    if (a == 0xE0 && IN(b, 0xB2, 0xB5, 0xB9, 0xBC, 0xBD, 0xBE)) return true;
    if (a == 0x221A &&
        IN(b, 0xB1, 0x2202, 0x2020, 0x2260, 0xAE, 0x2122, 0xB4, 0x2264, 0x2265, 0xA5, 0xB5, 0xF8))
        return true;
    if (a == 0x2248 && (b == 0xB0 || b == 0xA2)) return true;
    if (a == 0x201A && h2) {
        if (b == 0xC4 && IN(c, 0xEC, 0xEE, 0xEF, 0xF2, 0xF4, 0xFA, 0xF9, 0xFB, 0x2020, 0xB0,
                            0xA2, 0x3C0))
            return true;
        if ((b == 0xE2 || b == 0xF3) && IN(c, 0xE0, 0xE4, 0xB0, 0xEA)) return true;
    }
    if (a == 0x432 && b == 0x402) return true;
    const uint32_t cyr = K_C1 | K_BAD | K_SP | K_EP | K_CUR;
    if (h2 && IN(a, 0x412, 0x413, 0x420, 0x421) && ((kb & cyr) || b == 0xB0 || b == 0xB5) &&
        IN(c, 0x412, 0x413, 0x420, 0x421))
        return true;
    if (i + 6 < n && a == 0x413 && b == 0x45E && c == 0x412 && d == 0x402 && t[i + 4] == 0x412 &&
        t[i + 5] != '\n' && (is_ascii_alpha(t[i + 6]) || t[i + 6] == ' '))
        return true;
    if (a == 0xC3 && (b == 0xA0 || b == 0xA1)) return true;
    if (a >= 'a' && a <= 'z') {
        if (h3 && is_space(b) && (c == 0xC3 || c == 0xC2) && d == ' ') return true;
        if (h2 && (b == 0xC3 || b == 0xC2) && c == ' ') return true;
    }
    if (i == 0 && (a == 0xC3 || a == 0xC2) && b == ' ') return true;
    if (h2 && ((a >= 'a' && a <= 'z') || IN(a, '.', ',', '?', '!') || (ka & K_EP)) && b == 0xC2 &&
        (c == ' ' || (kc & (K_SP | K_EP))))
        return true;
    if (h2 && a == 0x3B2 && b == 0x20AC && IN(c, 0x2122, 0xA0, 0x386, 0xAD, 0xAE, 0xB0))
        return true;
    if (h2 && IN(a, 0x392, 0x393, 0x39E, 0x39F) && ((kb & cyr) || b == 0xB0) &&
        IN(c, 0x392, 0x393, 0x39E, 0x39F))
        return true;
    if (a == 0x101 && b == 0x20AC) return true;
    return false;
}

static bool is_bad(const uint32_t *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (bad_at(t, n, i)) return true;
    return false;
}

/* ------------------------------------------------------------ ftfy: fix_encoding */

enum { CODEC_LATIN1 = 0, CODEC_MACROMAN = 8, N_CODECS = 10 };
_Static_assert(sizeof TOK_CODECS / sizeof TOK_CODECS[0] == N_CODECS, "codec table");

/* Byte for c in codec k, or -1 (charmap_encode, sloppy: U+FFFD -> 0x1A). */
static int codec_encode(int k, uint32_t c) {
    const tok_codec *cd = &TOK_CODECS[k];
    if (c < 0x80) return (c == 0x1A && cd->sloppy) ? -1 : (int)c;
    if (c == 0xFFFD && cd->sloppy) return 0x1A;
    if (c < 0x100 && cd->hi[c - 0x80] == c) return (int)c;
    for (int b = 0; b < 128; b++)
        if (cd->hi[b] == c) return 0x80 + b;
    return -1;
}

static bool codec_possible(int k, const uint32_t *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (codec_encode(k, t[i]) < 0) return false;
    return true;
}

/* Byte-pattern matcher for ftfy's byte regexes: each element is a set of
 * byte ranges. */
typedef struct byteset { uint8_t r[4][2]; } byteset;

static bool bs_has(const byteset *s, uint8_t b) {
    for (int i = 0; i < 4 && (s->r[i][0] | s->r[i][1]); i++)
        if (b >= s->r[i][0] && b <= s->r[i][1]) return true;
    return false;
}

typedef struct bytepat { int len; byteset el[6]; } bytepat;

#define R(a, b) {a, b}
#define SET(...) {{__VA_ARGS__}}
static const byteset B_SP = SET(R(0x20, 0x20));
static const byteset B_CONT = SET(R(0x80, 0xBF));
static const byteset B_CONT_NO85A0 = SET(R(0x80, 0x84), R(0x86, 0x9F), R(0xA1, 0xBF));
static const byteset B_SUB = SET(R(0x1A, 0x1A));
static const byteset B_SUBQ = SET(R(0x1A, 0x1A), R('?', '?'));
static const byteset B_SUBCONT = SET(R(0x1A, 0x1A), R(0x80, 0xBF));
static const byteset B_SUBQCONT = SET(R(0x1A, 0x1A), R('?', '?'), R(0x80, 0xBF));
static const byteset B_ED = SET(R(0xED, 0xED));

/* chardata.ALTERED_UTF8_RE */
static bytepat altered_pat(int k) {
    const byteset lead2 = SET(R(0xC2, 0xC3), R(0xC5, 0xC5), R(0xCE, 0xCE), R(0xD0, 0xD0));
    const byteset lead2b = SET(R(0xD9, 0xD9));
    const byteset e2e3 = SET(R(0xE2, 0xE3)), e0e3 = SET(R(0xE0, 0xE3)), f0 = SET(R(0xF0, 0xF0));
    bytepat p = {0, {{{{0}}}}};
    switch (k) {
    case 0: p.len = 2; p.el[0] = lead2; p.el[1] = B_SP; break;
    case 1: p.len = 2; p.el[0] = lead2b; p.el[1] = B_SP; break;
    case 2: p.len = 3; p.el[0] = e2e3; p.el[1] = B_SP; p.el[2] = B_CONT_NO85A0; break;
    case 3: p.len = 3; p.el[0] = e0e3; p.el[1] = B_CONT_NO85A0; p.el[2] = B_SP; break;
    case 4: p.len = 4; p.el[0] = f0; p.el[1] = B_SP; p.el[2] = B_CONT; p.el[3] = B_CONT; break;
    case 5: p.len = 4; p.el[0] = f0; p.el[1] = B_CONT; p.el[2] = B_SP; p.el[3] = B_CONT; break;
    default: p.len = 4; p.el[0] = f0; p.el[1] = B_CONT; p.el[2] = B_CONT; p.el[3] = B_SP; break;
    }
    return p;
}
#define N_ALTERED 7

/* chardata.LOSSY_UTF8_RE */
static bytepat lossy_pat(int k) {
    const byteset c2df = SET(R(0xC2, 0xDF)), c2c3 = SET(R(0xC2, 0xC3)), q = SET(R('?', '?'));
    const byteset a0af = SET(R(0xA0, 0xAF)), b0bf = SET(R(0xB0, 0xBF));
    const byteset e0ef = SET(R(0xE0, 0xEF)), f0f4 = SET(R(0xF0, 0xF4));
    bytepat p = {0, {{{{0}}}}};
    switch (k) {
    case 0: p.len = 2; p.el[0] = c2df; p.el[1] = B_SUB; break;
    case 1: p.len = 2; p.el[0] = c2c3; p.el[1] = q; break;
    case 2:
        p.len = 6; p.el[0] = B_ED; p.el[1] = a0af; p.el[2] = B_SUBQ; p.el[3] = B_ED;
        p.el[4] = b0bf; p.el[5] = B_SUBQCONT;
        break;
    case 3:
        p.len = 6; p.el[0] = B_ED; p.el[1] = a0af; p.el[2] = B_SUBQCONT; p.el[3] = B_ED;
        p.el[4] = b0bf; p.el[5] = B_SUBQ;
        break;
    case 4: p.len = 3; p.el[0] = e0ef; p.el[1] = B_SUBQ; p.el[2] = B_SUBCONT; break;
    case 5: p.len = 3; p.el[0] = e0ef; p.el[1] = B_SUBCONT; p.el[2] = B_SUBQ; break;
    case 6:
        p.len = 4; p.el[0] = f0f4; p.el[1] = B_SUBQ; p.el[2] = B_SUBCONT; p.el[3] = B_SUBCONT;
        break;
    case 7:
        p.len = 4; p.el[0] = f0f4; p.el[1] = B_SUBCONT; p.el[2] = B_SUBQ; p.el[3] = B_SUBCONT;
        break;
    case 8:
        p.len = 4; p.el[0] = f0f4; p.el[1] = B_SUBCONT; p.el[2] = B_SUBCONT; p.el[3] = B_SUBQ;
        break;
    default: p.len = 1; p.el[0] = B_SUB; break;
    }
    return p;
}
#define N_LOSSY 10

static bool pat_at(const bytepat *p, const uint8_t *s, size_t n, size_t i) {
    if (n - i < (size_t)p->len) return false;
    for (int k = 0; k < p->len; k++)
        if (!bs_has(&p->el[k], s[i + (size_t)k])) return false;
    return true;
}

/* Length of the first of pats matching at i, or 0. */
static int pats_at(bytepat (*pat)(int), int npat, const uint8_t *s, size_t n, size_t i) {
    for (int k = 0; k < npat; k++) {
        bytepat p = pat(k);
        if (pat_at(&p, s, n, i)) return p.len;
    }
    return 0;
}

/* fixes.restore_byte_a0: "\xc3 " -> "\xc3\xa0 " (A_GRAVE_WORD_RE), then
 * spaces inside ALTERED_UTF8_RE matches -> 0xA0. */
static bool restore_byte_a0(bytebuf *b) {
    bytebuf t = {0};
    for (size_t i = 0; i < b->n; i++) {
        if (!bb_push(&t, b->v[i])) goto oom;
        if (b->v[i] == 0xC3 && i + 1 < b->n && b->v[i + 1] == ' ') {
            const uint8_t *r = b->v + i + 2;
            size_t left = b->n - i - 2;
            bool except = (left >= 1 && r[0] == ' ') || (left >= 2 && r[0] == 's' && r[1] == ' ');
            static const char *const words[] = {"quele", "quela", "quilo"};
            for (int w = 0; w < 3 && !except; w++)
                except = left >= 5 && memcmp(r, words[w], 5) == 0;
            if (!except) {
                if (!bb_push(&t, 0xA0) || !bb_push(&t, ' ')) goto oom;
                i++;
            }
        }
    }
    for (size_t i = 0; i < t.n;) {
        int len = pats_at(altered_pat, N_ALTERED, t.v, t.n, i);
        if (!len) { i++; continue; }
        for (int k = 0; k < len; k++)
            if (t.v[i + (size_t)k] == ' ') t.v[i + (size_t)k] = 0xA0;
        i += (size_t)len;
    }
    free(b->v);
    *b = t;
    return true;
oom:
    free(t.v);
    return false;
}

static bool replace_lossy_sequences(bytebuf *b) {
    bytebuf t = {0};
    for (size_t i = 0; i < b->n;) {
        int len = pats_at(lossy_pat, N_LOSSY, b->v, b->n, i);
        if (len) {
            if (!bb_push(&t, 0xEF) || !bb_push(&t, 0xBF) || !bb_push(&t, 0xBD)) goto oom;
            i += (size_t)len;
        } else {
            if (!bb_push(&t, b->v[i])) goto oom;
            i++;
        }
    }
    free(b->v);
    *b = t;
    return true;
oom:
    free(t.v);
    return false;
}

static bool fix_encoding(const uint32_t *t, size_t n, cpbuf *out);

/* fixes.fix_c1_controls: U+0080..U+009F as sloppy windows-1252. */
static void fix_c1_controls(uint32_t *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (t[i] >= 0x80 && t[i] <= 0x9F) t[i] = TOK_CODECS[1].hi[t[i] - 0x80];
}

/* fixes.decode_inconsistent_utf8 with chardata.UTF8_DETECTOR_RE.  Returns
 * -1 on OOM, else whether anything matched. */
static int decode_inconsistent_utf8(const uint32_t *t, size_t n, cpbuf *out) {
    int matched = 0;
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        if (i == 0 || !(char_class(t[i - 1]) & TOKC_UTF8_CONTINUATION_STRICT)) {
            for (;;) {
                static const uint32_t firsts[3] = {TOKC_UTF8_FIRST_OF_2, TOKC_UTF8_FIRST_OF_3,
                                                   TOKC_UTF8_FIRST_OF_4};
                size_t got = 0;
                for (int k = 0; k < 3 && !got; k++) {
                    size_t len = (size_t)k + 2;
                    if (n - end < len || !(char_class(t[end]) & firsts[k])) continue;
                    size_t j = 1;
                    while (j < len && (char_class(t[end + j]) & TOKC_UTF8_CONTINUATION)) j++;
                    if (j == len) got = len;
                }
                if (!got) break;
                end += got;
            }
        }
        if (end == i) {
            if (!cp_push(out, t[i])) return -1;
            i++;
            continue;
        }
        matched = 1;
        if (end - i < n && is_bad(t + i, end - i)) {
            if (!fix_encoding(t + i, end - i, out)) return -1;
        } else if (!cp_append(out, t + i, end - i)) {
            return -1;
        }
        i = end;
    }
    return matched;
}

/* One step of ftfy's fix_encoding.  out receives the (possibly) fixed
 * text.  Returns false on OOM. */
static bool fix_encoding_step(const uint32_t *t, size_t n, cpbuf *out) {
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = t[i] < 0x80;
    if (n == 0 || ascii || !is_bad(t, n)) return cp_append(out, t, n);

    bool possible[N_CODECS] = {false};
    for (int k = 0; k < N_CODECS; k++) {
        if (!codec_possible(k, t, n)) continue;
        possible[k] = true;
        bytebuf b = {0};
        for (size_t i = 0; i < n; i++)
            if (!bb_push(&b, (uint8_t)codec_encode(k, t[i]))) goto oom;
        if (k != CODEC_MACROMAN) {
            bool altered = false;
            for (size_t i = 0; i < b.n && !altered; i++)
                altered = pats_at(altered_pat, N_ALTERED, b.v, b.n, i) != 0;
            if (altered && !restore_byte_a0(&b)) goto oom;
        }
        if (TOK_CODECS[k].sloppy && !replace_lossy_sequences(&b)) goto oom;
        bool variants = memchr(b.v, 0xED, b.n) || memchr(b.v, 0xC0, b.n);
        size_t mark = out->n;
        int r = utf8_decode_strict(b.v, b.n, variants, out);
        free(b.v);
        if (r < 0) return false;
        if (r == 0) return true;
        out->n = mark;
        continue;
    oom:
        free(b.v);
        return false;
    }

    bool detector = false;
    for (size_t i = 0; i + 1 < n && !detector; i++) {
        uint32_t k = char_class(t[i]);
        detector = (k & (TOKC_UTF8_FIRST_OF_2 | TOKC_UTF8_FIRST_OF_3 | TOKC_UTF8_FIRST_OF_4)) != 0;
    }
    if (detector) {
        size_t mark = out->n;
        int r = decode_inconsistent_utf8(t, n, out);
        if (r < 0) return false;
        if (r > 0 && !cp_equal(out->v + mark, out->n - mark, t, n)) return true;
        out->n = mark;
    }

    if (possible[CODEC_LATIN1]) {
        /* latin-1 that was meant as (strict) windows-1252 */
        bool ok = true, changed = false;
        for (size_t i = 0; i < n && ok; i++)
            if (t[i] >= 0x80 && t[i] <= 0x9F) {
                ok = TOK_CP1252[t[i] - 0x80] != 0;
                changed = true;
            }
        if (ok && changed) {
            if (!cp_append(out, t, n)) return false;
            for (size_t i = out->n - n; i < out->n; i++)
                if (out->v[i] >= 0x80 && out->v[i] <= 0x9F)
                    out->v[i] = TOK_CP1252[out->v[i] - 0x80];
            return true;
        }
    }
    size_t mark = out->n;
    if (!cp_append(out, t, n)) return false;
    fix_c1_controls(out->v + mark, n);
    return true;
}

/* ftfy.fix_encoding: steps until nothing changes.  Appends to out. */
static bool fix_encoding(const uint32_t *t, size_t n, cpbuf *out) {
    cpbuf a = {0}, b = {0};
    if (!cp_append(&a, t, n)) return false;
    for (int round = 0; round < FTFY_MAX_ROUNDS; round++) {
        b.n = 0;
        if (!fix_encoding_step(a.v, a.n, &b)) goto oom;
        bool same = cp_equal(a.v, a.n, b.v, b.n);
        cpbuf s = a; a = b; b = s;
        if (same) break;
    }
    bool ok = cp_append(out, a.v, a.n);
    cp_free(&a);
    cp_free(&b);
    return ok;
oom:
    cp_free(&a);
    cp_free(&b);
    return false;
}

/* ------------------------------------------------------------ HTML entities */

static const tok_entity *entity_find(const tok_entity *tab, size_t count, const uint32_t *name,
                                     size_t len) {
    char key[40];
    if (len == 0 || len >= sizeof key) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (name[i] >= 0x80) return NULL; /* all entity names are ASCII */
        key[i] = (char)name[i];
    }
    key[len] = 0;
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(tab[mid].name, key);
        if (c == 0) return &tab[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}
#define HTML5_FIND(s, n) \
    entity_find(TOK_ENTITIES, sizeof TOK_ENTITIES / sizeof TOK_ENTITIES[0], s, n)

static bool push_utf8_str(cpbuf *out, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n) {
        uint32_t cp;
        size_t bad;
        int k = utf8_next((const uint8_t *)s + i, n - i, &cp, &bad);
        if (!k) return false; /* generated tables are valid UTF-8 */
        if (!cp_push(out, cp)) return false;
        i += (size_t)k;
    }
    return true;
}

static bool is_hex(uint32_t c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Python's html.unescape on one reference starting at t[i] == '&'.  Appends
 * the replacement and returns the characters consumed (0: no reference,
 * nothing appended), or -1 on OOM. */
static long py_unescape_one(const uint32_t *t, size_t n, size_t i, cpbuf *out) {
    size_t j = i + 1;
    if (j < n && t[j] == '#') {
        bool hex = j + 1 < n && (t[j + 1] == 'x' || t[j + 1] == 'X');
        size_t d = j + 1;
        size_t k = d;
        /* "#[0-9]+;?" is tried first, then "#[xX][0-9a-fA-F]+;?" */
        while (k < n && t[k] >= '0' && t[k] <= '9') k++;
        if (k == d && hex) {
            d = j + 2;
            k = d;
            while (k < n && is_hex(t[k])) k++;
        } else {
            hex = false;
        }
        if (k == d) return 0;
        uint32_t num = 0;
        for (size_t p = d; p < k; p++) {
            uint32_t v = t[p] <= '9' ? t[p] - '0' : (t[p] | 0x20) - 'a' + 10;
            num = num > 0x10FFFF ? 0x110000 : num * (hex ? 16 : 10) + v;
        }
        if (num > 0x10FFFF) num = 0x110000;
        size_t end = k < n && t[k] == ';' ? k + 1 : k;
        uint32_t r;
        bool drop = false;
        if (num == 0) r = 0xFFFD;
        else if (num == 0x0D) r = 0x0D;
        else if (num >= 0x80 && num <= 0x9F) r = TOK_CODECS[1].hi[num - 0x80];
        else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) r = 0xFFFD;
        else {
            r = num;
            drop = (num >= 0x1 && num <= 0x8) || (num >= 0xE && num <= 0x1F) ||
                   (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) || num == 0xB ||
                   (num & 0xFFFE) == 0xFFFE;
        }
        if (!drop && !cp_push(out, r)) return -1;
        return (long)(end - i);
    }
    size_t k = j;
    while (k < n && k - j < 32 && !IN(t[k], '\t', '\n', '\f', ' ', '<', '&', '#', ';')) k++;
    if (k == j) return 0;
    size_t end = k < n && t[k] == ';' ? k + 1 : k, len = end - j;
    const tok_entity *e = HTML5_FIND(t + j, len);
    if (e) return push_utf8_str(out, e->value) ? (long)(end - i) : -1;
    for (size_t x = len - 1; x > 1; x--) {
        e = HTML5_FIND(t + j, x);
        if (e) {
            if (!push_utf8_str(out, e->value) || !cp_append(out, t + j + x, len - x)) return -1;
            return (long)(end - i);
        }
    }
    return 0;
}

/* Python's html.unescape. */
static bool py_html_unescape(const uint32_t *t, size_t n, cpbuf *out) {
    for (size_t i = 0; i < n;) {
        if (t[i] == '&') {
            long used = py_unescape_one(t, n, i, out);
            if (used < 0) return false;
            if (used > 0) {
                i += (size_t)used;
                continue;
            }
        }
        if (!cp_push(out, t[i])) return false;
        i++;
    }
    return true;
}

/* ftfy's fixes.unescape_html: only "&#?[0-9A-Za-z]{1,24};". */
static bool ftfy_unescape_html(const uint32_t *t, size_t n, cpbuf *out) {
    for (size_t i = 0; i < n;) {
        if (t[i] == '&') {
            size_t j = i + 1 + (i + 1 < n && t[i + 1] == '#'), k = j;
            while (k < n && k - j < 25 && ((t[k] >= '0' && t[k] <= '9') || is_ascii_alpha(t[k])))
                k++;
            if (k > j && k - j <= 24 && k < n && t[k] == ';') {
                size_t end = k + 1;
                const tok_entity *e = t[i + 1] == '#' ? NULL : HTML5_FIND(t + j, end - j);
                if (!e && t[i + 1] != '#')
                    e = entity_find(TOK_ENTITIES_UPPER,
                                    sizeof TOK_ENTITIES_UPPER / sizeof TOK_ENTITIES_UPPER[0],
                                    t + j, end - j);
                if (e) {
                    if (!push_utf8_str(out, e->value)) return false;
                } else if (t[i + 1] == '#') {
                    cpbuf tmp = {0};
                    if (!py_html_unescape(t + i, end - i, &tmp)) { cp_free(&tmp); return false; }
                    bool semi = false;
                    for (size_t p = 0; p < tmp.n; p++) semi |= tmp.v[p] == ';';
                    bool ok = semi ? cp_append(out, t + i, end - i) : cp_append(out, tmp.v, tmp.n);
                    cp_free(&tmp);
                    if (!ok) return false;
                } else if (!cp_append(out, t + i, end - i)) {
                    return false;
                }
                i = end;
                continue;
            }
        }
        if (!cp_push(out, t[i])) return false;
        i++;
    }
    return true;
}

/* ------------------------------------------------------------ ftfy: simple fixers */

/* fix_latin_ligatures: the letters a ligature stands for, or NULL. */
static const char *ligature(uint32_t c) {
    switch (c) {
    case 0x132: return "IJ";
    case 0x133: return "ij";
    case 0x149: return "\xCA\xBCn";
    case 0x1F1: return "DZ";
    case 0x1F2: return "Dz";
    case 0x1F3: return "dz";
    case 0x1C4: return "D\xC5\xBD";
    case 0x1C5: return "D\xC5\xBE";
    case 0x1C6: return "d\xC5\xBE";
    case 0x1C7: return "LJ";
    case 0x1C8: return "Lj";
    case 0x1C9: return "lj";
    case 0x1CA: return "NJ";
    case 0x1CB: return "Nj";
    case 0x1CC: return "nj";
    case 0xFB00: return "ff";
    case 0xFB01: return "fi";
    case 0xFB02: return "fl";
    case 0xFB03: return "ffi";
    case 0xFB04: return "ffl";
    case 0xFB05: return "\xC5\xBFt";
    case 0xFB06: return "st";
    default: return NULL;
    }
}

/* fix_character_width: U+3000 and the NFKC form of U+FF01..U+FFEF. */
static bool width_fix(uint32_t c, cpbuf *out) {
    if (c == 0x3000) return cp_push(out, ' ');
    uint8_t in[5];
    in[utf8_put(c, in)] = 0;
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t len = utf8proc_map(in, 0, &m,
                                        UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                            UTF8PROC_COMPAT);
    if (len < 0) return cp_push(out, c); /* only UTF8PROC_ERROR_NOMEM is possible */
    bool ok = push_utf8_str(out, (const char *)m);
    free(m);
    return ok;
}

/* fix_c1_controls .. remove_control_chars, in ftfy's order, as one pass
 * each over a copy.  t -> out. */
static bool simple_fixes(const uint32_t *t, size_t n, cpbuf *out) {
    cpbuf a = {0}, b = {0};
    bool ok = false;
    if (!cp_append(&a, t, n)) goto done;
    fix_c1_controls(a.v, a.n);
    for (size_t i = 0; i < a.n; i++) { /* fix_latin_ligatures */
        const char *l = ligature(a.v[i]);
        if (!(l ? push_utf8_str(&b, l) : cp_push(&b, a.v[i]))) goto done;
    }
    a.n = 0;
    for (size_t i = 0; i < b.n; i++) { /* fix_character_width */
        uint32_t c = b.v[i];
        bool wide = c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF);
        if (!(wide ? width_fix(c, &a) : cp_push(&a, c))) goto done;
    }
    b.n = 0;
    for (size_t i = 0; i < a.n; i++) { /* uncurl_quotes, fix_line_breaks */
        uint32_t c = a.v[i];
        if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
        else if (c >= 0x201C && c <= 0x201F) c = '"';
        else if (c == '\r' && i + 1 < a.n && a.v[i + 1] == '\n') continue;
        else if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
        if (!cp_push(&b, c)) goto done;
    }
    a.n = 0;
    for (size_t i = 0; i < b.n; i++) { /* remove_terminal_escapes */
        if (b.v[i] == 0x1B && i + 1 < b.n && b.v[i + 1] == '[') {
            size_t k = i + 2;
            while (k < b.n && (b.v[k] == ';' || category(b.v[k]) == UTF8PROC_CATEGORY_ND)) k++;
            if (k < b.n && is_ascii_alpha(b.v[k])) {
                i = k;
                continue;
            }
        }
        if (!cp_push(&a, b.v[i])) goto done;
    }
    for (size_t i = 0; i < a.n; i++) { /* remove_control_chars */
        uint32_t c = a.v[i];
        if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
            (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC))
            continue;
        if (!cp_push(out, c)) goto done;
    }
    ok = true;
done:
    cp_free(&a);
    cp_free(&b);
    return ok;
}

/* Unicode NFC, in place. */
static bool nfc(cpbuf *t) {
    size_t len;
    uint8_t *s = utf8_encode(t->v, t->n, &len);
    if (!s) return false;
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t r = utf8proc_map(s, (utf8proc_ssize_t)len, &m,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(s);
    if (r < 0) return false;
    t->n = 0;
    bool ok = utf8_decode_replace(m, (size_t)r, t);
    free(m);
    return ok;
}

/* ftfy.fix_and_explain on one segment: loops to a fixed point. */
static bool fix_segment(const uint32_t *t, size_t n, bool unescape, cpbuf *out) {
    cpbuf cur = {0}, a = {0}, b = {0};
    bool ok = false;
    if (!cp_append(&cur, t, n)) goto done;
    for (int round = 0; round < FTFY_MAX_ROUNDS; round++) {
        a.n = 0;
        if (unescape) {
            if (!ftfy_unescape_html(cur.v, cur.n, &a)) goto done;
        } else if (!cp_append(&a, cur.v, cur.n)) {
            goto done;
        }
        b.n = 0;
        if (!fix_encoding(a.v, a.n, &b)) goto done;
        a.n = 0;
        if (!simple_fixes(b.v, b.n, &a) || !nfc(&a)) goto done;
        bool same = cp_equal(a.v, a.n, cur.v, cur.n);
        cpbuf s = cur; cur = a; a = s;
        if (same) break;
    }
    ok = cp_append(out, cur.v, cur.n);
done:
    cp_free(&cur);
    cp_free(&a);
    cp_free(&b);
    return ok;
}

/* ftfy.fix_text with the default configuration. */
static bool ftfy_fix_text(const uint32_t *t, size_t n, cpbuf *out) {
    bool unescape = true; /* "auto" until a segment holds '<' */
    for (size_t pos = 0; pos < n;) {
        size_t end = pos;
        while (end < n && t[end] != '\n') end++;
        end = end < n ? end + 1 : n;
        if (end - pos > FTFY_MAX_SEGMENT) end = pos + FTFY_MAX_SEGMENT;
        for (size_t i = pos; i < end && unescape; i++)
            if (t[i] == '<') unescape = false;
        if (!fix_segment(t + pos, end - pos, unescape, out)) return false;
        pos = end;
    }
    return true;
}

/* ------------------------------------------------------------ lower-casing */

static bool is_cased(uint32_t c) {
    utf8proc_category_t k = category(c);
    if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT)
        return true;
    return utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
           utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
}

static bool is_case_ignorable(uint32_t c) {
    utf8proc_category_t k = category(c);
    if (k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
        k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK)
        return true;
    return IN(c, 0x27, 0x2E, 0x3A, 0x5E, 0x60, 0xA8, 0xAD, 0xAF, 0xB4, 0xB7, 0xB8, 0x387, 0x55F,
              0x5F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E,
              0xFF1A);
}

/* Python's str.lower(): full mappings (U+0130 -> "i\u0307") and the
 * Final_Sigma rule. */
static bool py_lower(const uint32_t *t, size_t n, cpbuf *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = t[i];
        if (c < 0x80) {
            if (!cp_push(out, c >= 'A' && c <= 'Z' ? c + 32 : c)) return false;
            continue;
        }
        if (c == 0x130) {
            if (!cp_push(out, 'i') || !cp_push(out, 0x307)) return false;
            continue;
        }
        if (c == 0x3A3) {
            size_t j = i;
            while (j > 0 && is_case_ignorable(t[j - 1])) j--;
            bool final = j > 0 && is_cased(t[j - 1]);
            if (final) {
                j = i + 1;
                while (j < n && is_case_ignorable(t[j])) j++;
                final = j == n || !is_cased(t[j]);
            }
            if (!cp_push(out, final ? 0x3C2 : 0x3C3)) return false;
            continue;
        }
        if (!cp_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c))) return false;
    }
    return true;
}

/* ------------------------------------------------------------ the whole cleaning */

static pe_status clean_cps(const char *text, size_t len, cpbuf *res) {
    cpbuf a = {0}, b = {0};
    pe_status st = pe_error(PE_ERR_NOMEM, "tokenizer: out of memory cleaning text");
    if (!utf8_decode_replace((const uint8_t *)text, len, &a)) goto done;
    if (!ftfy_fix_text(a.v, a.n, &b)) goto done;
    for (int pass = 0; pass < 2; pass++) { /* html.unescape(html.unescape(x)) */
        a.n = 0;
        if (!py_html_unescape(b.v, b.n, &a)) goto done;
        cpbuf s = a; a = b; b = s;
    }
    a.n = 0; /* strip; \s+ -> ' '; strip */
    for (size_t i = 0; i < b.n;) {
        if (!is_space(b.v[i])) {
            if (!cp_push(&a, b.v[i++])) goto done;
            continue;
        }
        while (i < b.n && is_space(b.v[i])) i++;
        if (a.n && i < b.n && !cp_push(&a, ' ')) goto done;
    }
    if (!py_lower(a.v, a.n, res)) goto done;
    st = PE_OK;
    pe_error_clear();
done:
    cp_free(&a);
    cp_free(&b);
    return st;
}

static bool text_too_long(size_t len) { return len > PE_TOKENIZER_MAX_TEXT; }

pe_status pe_text_clean(const char *text, size_t len, char **out, size_t *out_len) {
    if (!text || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_text_clean: NULL argument");
    if (text_too_long(len))
        return pe_error(PE_ERR_LIMIT, "text of %zu bytes exceeds the tokenizer limit of %u",
                        len, PE_TOKENIZER_MAX_TEXT);
    cpbuf c = {0};
    pe_status st = clean_cps(text, len, &c);
    if (st != PE_OK) {
        cp_free(&c);
        return st;
    }
    size_t n = 0;
    uint8_t *s = utf8_encode(c.v, c.n, &n);
    cp_free(&c);
    if (!s) return pe_error(PE_ERR_NOMEM, "tokenizer: out of memory");
    *out = (char *)s;
    if (out_len) *out_len = n;
    return PE_OK;
}

/* ------------------------------------------------------------ vocabulary */

/* (left id, right id) -> merge rank and merged id; open addressing. */
typedef struct merge_slot {
    uint32_t left, right; /* left == UINT32_MAX: empty */
    int32_t rank, merged;
} merge_slot;

struct pe_tokenizer {
    int32_t byte_id[256];   /* byte -> id of its symbol (without </w>)   */
    merge_slot *merges;     /* [merge_cap]                               */
    size_t merge_cap;       /* power of two                              */
};

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static const merge_slot *merge_find(const pe_tokenizer *t, uint32_t l, uint32_t r) {
    size_t mask = t->merge_cap - 1, i = (size_t)mix64(((uint64_t)l << 32) | r) & mask;
    for (;;) {
        const merge_slot *s = &t->merges[i];
        if (s->left == UINT32_MAX) return NULL;
        if (s->left == l && s->right == r) return s;
        i = (i + 1) & mask;
    }
}

/* Load-time string -> id table (the vocabulary as strings). */
typedef struct str_slot { const uint8_t *s; uint32_t len; int32_t id; } str_slot;
typedef struct str_table { str_slot *slot; size_t cap; } str_table;

static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* Inserts or (later ids win, like Python's dict) overwrites. */
static void str_put(str_table *t, const uint8_t *s, size_t n, int32_t id) {
    size_t mask = t->cap - 1, i = (size_t)hash_bytes(s, n) & mask;
    while (t->slot[i].s && !(t->slot[i].len == n && memcmp(t->slot[i].s, s, n) == 0))
        i = (i + 1) & mask;
    t->slot[i].s = s;
    t->slot[i].len = (uint32_t)n;
    t->slot[i].id = id;
}

static int32_t str_get(const str_table *t, const uint8_t *s, size_t n) {
    size_t mask = t->cap - 1, i = (size_t)hash_bytes(s, n) & mask;
    while (t->slot[i].s) {
        if (t->slot[i].len == n && memcmp(t->slot[i].s, s, n) == 0) return t->slot[i].id;
        i = (i + 1) & mask;
    }
    return -1;
}

/* GPT-2's bytes_to_unicode order: printable Latin-1 bytes keep their code
 * point, the rest map to U+0100.. in byte order. */
static void byte_symbols(uint8_t order[256], uint32_t cp[256]) {
    int k = 0, extra = 0;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        if (keep) {
            order[k] = (uint8_t)b;
            cp[k++] = (uint32_t)b;
        }
    }
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        if (!keep) {
            order[k] = (uint8_t)b;
            cp[k++] = 0x100u + (uint32_t)extra++;
        }
    }
}

static pe_status inflate_gz(const void *gz, size_t len, uint8_t **out, size_t *out_len) {
    if (len > MAX_GZ_BYTES)
        return pe_error(PE_ERR_LIMIT, "vocabulary: compressed size %zu exceeds %zu bytes", len,
                        MAX_GZ_BYTES);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return pe_error(PE_ERR_NOMEM, "vocabulary: cannot initialise zlib");
    size_t cap = (size_t)2 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    pe_status st = PE_OK;
    if (!buf) {
        st = pe_error(PE_ERR_NOMEM, "vocabulary: out of memory");
        goto done;
    }
    zs.next_in = (Bytef *)(uintptr_t)gz;
    zs.avail_in = (uInt)len; /* len <= MAX_GZ_BYTES fits in uInt */
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_VOCAB_BYTES) {
                st = pe_error(PE_ERR_LIMIT, "vocabulary: decompresses to more than %zu bytes",
                              MAX_VOCAB_BYTES);
                goto done;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = pe_error(PE_ERR_NOMEM, "vocabulary: out of memory");
                goto done;
            }
            buf = nb;
            cap *= 2;
        }
        zs.next_out = buf + n;
        zs.avail_out = (uInt)(cap - n);
        int r = inflate(&zs, Z_NO_FLUSH);
        n = cap - zs.avail_out;
        if (r == Z_STREAM_END) break;
        if (r == Z_OK) continue;
        if (r == Z_BUF_ERROR && zs.avail_out > 0) {
            st = pe_error(PE_ERR_FORMAT, "vocabulary: truncated gzip stream");
        } else if (r == Z_MEM_ERROR) {
            st = pe_error(PE_ERR_NOMEM, "vocabulary: out of memory");
        } else if (r != Z_BUF_ERROR) {
            st = pe_error(PE_ERR_FORMAT, "vocabulary: not a valid gzip stream (%s)",
                          zs.msg ? zs.msg : "corrupt data");
        } else {
            continue;
        }
        goto done;
    }
done:
    inflateEnd(&zs);
    if (st != PE_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = n;
    return PE_OK;
}

/* Splits line li of the text into its two parts; checks the bytes. */
static pe_status parse_merge(const uint8_t *s, size_t n, int line, size_t *split) {
    size_t sp = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            if (sp != n)
                return pe_error(PE_ERR_FORMAT, "vocabulary line %d: more than two symbols", line);
            sp = i;
        } else if (s[i] < 0x20 || s[i] == 0x7F) {
            return pe_error(PE_ERR_FORMAT, "vocabulary line %d: control byte 0x%02x", line, s[i]);
        }
    }
    if (sp == n || sp == 0 || sp + 1 == n)
        return pe_error(PE_ERR_FORMAT, "vocabulary line %d: expected two symbols", line);
    cpbuf tmp = {0};
    int r = utf8_decode_strict(s, n, false, &tmp);
    cp_free(&tmp);
    if (r < 0) return pe_error(PE_ERR_NOMEM, "vocabulary: out of memory");
    if (r > 0) return pe_error(PE_ERR_FORMAT, "vocabulary line %d: invalid UTF-8", line);
    *split = sp;
    return PE_OK;
}

static void merge_put(pe_tokenizer *t, uint32_t l, uint32_t r, int32_t rank, int32_t merged) {
    size_t mask = t->merge_cap - 1, i = (size_t)mix64(((uint64_t)l << 32) | r) & mask;
    while (t->merges[i].left != UINT32_MAX && !(t->merges[i].left == l && t->merges[i].right == r))
        i = (i + 1) & mask;
    t->merges[i] = (merge_slot){l, r, rank, merged}; /* a repeated pair: the later rank wins */
}

/* Builds the tables from the decompressed merges file. */
static pe_status build(pe_tokenizer *t, const uint8_t *txt, size_t len) {
    uint8_t order[256];
    uint32_t cps[256];
    byte_symbols(order, cps);
    for (int k = 0; k < 256; k++) t->byte_id[order[k]] = k;

    pe_status st = PE_OK;
    size_t *start = malloc(sizeof(size_t) * N_MERGES * 4);
    size_t arena_cap = 512 * 6 + len + 64;
    uint8_t *arena = malloc(arena_cap);
    str_table vocab = {calloc((size_t)1 << 17, sizeof(str_slot)), (size_t)1 << 17};
    t->merge_cap = (size_t)1 << 17;
    t->merges = malloc(t->merge_cap * sizeof(merge_slot));
    if (!start || !arena || !vocab.slot || !t->merges) {
        st = pe_error(PE_ERR_NOMEM, "vocabulary: out of memory");
        goto done;
    }
    for (size_t i = 0; i < t->merge_cap; i++) t->merges[i].left = UINT32_MAX;
    size_t *llen = start + N_MERGES, *split = start + 2 * N_MERGES, *moff = start + 3 * N_MERGES;

    /* lines 1..N_MERGES (line 0 is the "#version" header) */
    const uint8_t *nl = memchr(txt, '\n', len);
    if (!nl) {
        st = pe_error(PE_ERR_FORMAT, "vocabulary: no header line");
        goto done;
    }
    size_t pos = (size_t)(nl - txt) + 1;
    for (int r = 0; r < N_MERGES; r++) {
        if (pos >= len) {
            st = pe_error(PE_ERR_FORMAT, "vocabulary: %d merge lines, %d needed", r, N_MERGES);
            goto done;
        }
        const uint8_t *e = memchr(txt + pos, '\n', len - pos);
        size_t end = e ? (size_t)(e - txt) : len;
        start[r] = pos;
        llen[r] = end - pos;
        st = parse_merge(txt + pos, llen[r], r + 2, &split[r]);
        if (st != PE_OK) goto done;
        pos = end + 1;
    }

    /* the vocabulary as strings: bytes, bytes + "</w>", merges, specials */
    size_t used = 0;
    for (int k = 0; k < 512; k++) {
        uint8_t *s = arena + used;
        size_t n = utf8_put(cps[k % 256], s);
        if (k >= 256) {
            memcpy(s + n, "</w>", 4);
            n += 4;
        }
        str_put(&vocab, s, n, k);
        used += n;
    }
    for (int r = 0; r < N_MERGES; r++) {
        uint8_t *s = arena + used;
        const uint8_t *l = txt + start[r];
        memcpy(s, l, split[r]);
        memcpy(s + split[r], l + split[r] + 1, llen[r] - split[r] - 1);
        str_put(&vocab, s, llen[r] - 1, 512 + r);
        moff[r] = used;
        used += llen[r] - 1;
    }
    str_put(&vocab, (const uint8_t *)"<start_of_text>", 15, PE_TOKEN_SOT);
    str_put(&vocab, (const uint8_t *)"<end_of_text>", 13, PE_TOKEN_EOT);

    for (int r = 0; r < N_MERGES; r++) {
        const uint8_t *l = txt + start[r];
        int32_t a = str_get(&vocab, l, split[r]);
        int32_t b = str_get(&vocab, l + split[r] + 1, llen[r] - split[r] - 1);
        /* a symbol outside the vocabulary can never occur in a word */
        if (a < 0 || b < 0) continue;
        int32_t merged = str_get(&vocab, arena + moff[r], llen[r] - 1);
        merge_put(t, (uint32_t)a, (uint32_t)b, r, merged);
    }
done:
    free(start);
    free(arena);
    free(vocab.slot);
    return st;
}

pe_status pe_tokenizer_load_mem(const void *gz, size_t len, pe_tokenizer **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenizer_load_mem: out is NULL");
    *out = NULL;
    if (!gz || len == 0) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenizer_load_mem: no data");
    uint8_t *txt = NULL;
    size_t n = 0;
    pe_status st = inflate_gz(gz, len, &txt, &n);
    if (st != PE_OK) return st;
    pe_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        free(txt);
        return pe_error(PE_ERR_NOMEM, "tokenizer: out of memory");
    }
    st = build(t, txt, n);
    free(txt);
    if (st != PE_OK) {
        pe_tokenizer_free(t);
        return st;
    }
    *out = t;
    pe_error_clear();
    return PE_OK;
}

pe_status pe_tokenizer_load(const char *path, pe_tokenizer **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenizer_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return pe_error(PE_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    pe_status st = PE_OK;
    for (;;) {
        if (n == cap) {
            if (cap > MAX_GZ_BYTES) {
                st = pe_error(PE_ERR_LIMIT, "%s: larger than %zu bytes", path, MAX_GZ_BYTES);
                break;
            }
            cap = cap ? cap * 2 : (size_t)1 << 20;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                st = pe_error(PE_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) st = pe_error(PE_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == PE_OK && n == 0) st = pe_error(PE_ERR_FORMAT, "%s: empty file", path);
    if (st == PE_OK) {
        st = pe_tokenizer_load_mem(buf, n, out);
        if (st != PE_OK) pe_error_prefix(st, "%s", path);
    }
    free(buf);
    return st;
}

void pe_tokenizer_free(pe_tokenizer *t) {
    if (!t) return;
    free(t->merges);
    free(t);
}

/* ------------------------------------------------------------ BPE */

/* Byte-level BPE of one piece: repeatedly merge the adjacent pair of lowest
 * rank, all its occurrences left to right (what the reference's loop does),
 * using a heap of candidate pairs over a linked list: O(n log n). */
typedef struct bpe_work {
    int32_t *id;    /* [n] symbol ids; -1 once merged into its left neighbour */
    int32_t *next;  /* [n] index of the next live symbol, or -1             */
    int32_t *prev;  /* [n]                                                  */
    uint64_t *heap; /* [3 cap] (rank << 32 | left index)                    */
    uint64_t *pend; /* [2 cap] candidates formed during the current rank    */
    size_t cap, heap_n, pend_n;
} bpe_work;

static void heap_push(bpe_work *w, uint64_t v) {
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (w->heap[p] <= v) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = v;
}

static uint64_t heap_pop(bpe_work *w) {
    uint64_t top = w->heap[0], v = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && w->heap[c + 1] < w->heap[c]) c++;
        if (w->heap[c] >= v) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = v;
    return top;
}

static bool bpe_reserve(bpe_work *w, size_t n) {
    if (n <= w->cap) return true;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    if (cap > (size_t)INT32_MAX) return false;
    int32_t *id = realloc(w->id, cap * sizeof *id);
    if (id) w->id = id;
    int32_t *nx = realloc(w->next, cap * sizeof *nx);
    if (nx) w->next = nx;
    int32_t *pv = realloc(w->prev, cap * sizeof *pv);
    if (pv) w->prev = pv;
    uint64_t *hp = realloc(w->heap, 3 * cap * sizeof *hp);
    if (hp) w->heap = hp;
    uint64_t *pd = realloc(w->pend, 2 * cap * sizeof *pd);
    if (pd) w->pend = pd;
    if (!id || !nx || !pv || !hp || !pd) return false;
    w->cap = cap;
    return true;
}

static void bpe_candidate(const pe_tokenizer *t, bpe_work *w, int32_t i, bool defer) {
    int32_t j = w->next[i];
    if (j < 0) return;
    const merge_slot *m = merge_find(t, (uint32_t)w->id[i], (uint32_t)w->id[j]);
    if (!m) return;
    uint64_t v = ((uint64_t)(uint32_t)m->rank << 32) | (uint32_t)i;
    if (defer) w->pend[w->pend_n++] = v;
    else heap_push(w, v);
}

/* Appends the ids of piece s[0:n] to out (at most room more). */
static bool bpe_piece(const pe_tokenizer *t, bpe_work *w, const uint8_t *s, size_t n,
                      int32_t *out, size_t room, size_t *wrote) {
    *wrote = 0;
    if (!bpe_reserve(w, n)) return false;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = t->byte_id[s[i]] + (i + 1 == n ? 256 : 0);
        w->next[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        w->prev[i] = (int32_t)i - 1;
    }
    w->heap_n = w->pend_n = 0;
    for (size_t i = 0; i + 1 < n; i++) bpe_candidate(t, w, (int32_t)i, false);
    while (w->heap_n) {
        uint64_t top = heap_pop(w);
        int32_t i = (int32_t)(uint32_t)top, rank = (int32_t)(top >> 32), j = w->next[i];
        const merge_slot *m = NULL;
        if (w->id[i] >= 0 && j >= 0) m = merge_find(t, (uint32_t)w->id[i], (uint32_t)w->id[j]);
        if (m && m->rank == rank) { /* else stale: the pair changed since */
            w->id[i] = m->merged;
            w->id[j] = -1;
            w->next[i] = w->next[j];
            if (w->next[j] >= 0) w->prev[w->next[j]] = i;
            if (w->prev[i] >= 0) bpe_candidate(t, w, w->prev[i], true);
            bpe_candidate(t, w, i, true);
        }
        /* The reference merges every occurrence of one pair before it looks
         * for the next pair: pairs formed meanwhile wait for the rank's end. */
        if (w->heap_n == 0 || (int32_t)(w->heap[0] >> 32) != rank) {
            for (size_t k = 0; k < w->pend_n; k++) heap_push(w, w->pend[k]);
            w->pend_n = 0;
        }
    }
    for (int32_t i = 0; i >= 0 && *wrote < room; i = w->next[i]) out[(*wrote)++] = w->id[i];
    return true;
}

/* ------------------------------------------------------------ splitting */

static bool fold_eq(uint32_t c, char a) {
    return c == (uint32_t)a || (a == 's' && c == 0x17F) || (a == 'k' && c == 0x212A);
}

static bool match_lit(const uint32_t *t, size_t n, size_t i, const char *lit) {
    size_t k = 0;
    for (; lit[k]; k++)
        if (i + k >= n || !fold_eq(t[i + k], lit[k])) return false;
    return true;
}

/* Length of the piece at t[i] under
 *   <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * (case-insensitive), 0 for a space; *special gets the id of a special
 * token or -1. */
static size_t next_piece(const uint32_t *t, size_t n, size_t i, int32_t *special) {
    *special = -1;
    if (match_lit(t, n, i, "<start_of_text>")) { *special = PE_TOKEN_SOT; return 15; }
    if (match_lit(t, n, i, "<end_of_text>")) { *special = PE_TOKEN_EOT; return 13; }
    if (t[i] == '\'') {
        static const char *const c[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
        for (int k = 0; k < 7; k++)
            if (match_lit(t, n, i, c[k])) return strlen(c[k]);
    }
    size_t j = i;
    if (is_letter(t[i])) {
        while (j < n && is_letter(t[j])) j++;
        return j - i;
    }
    if (is_number(t[i])) return 1;
    if (is_space(t[i])) return 0;
    while (j < n && !is_space(t[j]) && !is_letter(t[j]) && !is_number(t[j])) j++;
    return j - i;
}

pe_status pe_tokenize(const pe_tokenizer *t, const char *text, int context_len, int32_t *ids) {
    if (!t || !text || !ids) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenize: NULL argument");
    if (context_len < 2)
        return pe_error(PE_ERR_INVALID_ARG, "pe_tokenize: context_len %d < 2", context_len);
    size_t len = strlen(text);
    if (text_too_long(len))
        return pe_error(PE_ERR_LIMIT, "pe_tokenize: text of %zu bytes exceeds %u", len,
                        PE_TOKENIZER_MAX_TEXT);
    cpbuf c = {0};
    pe_status st = clean_cps(text, len, &c);
    if (st != PE_OK) {
        cp_free(&c);
        return st;
    }
    bpe_work w = {0};
    bytebuf piece = {0};
    size_t cl = (size_t)context_len, n = 0;
    ids[n++] = PE_TOKEN_SOT;
    for (size_t i = 0; i < c.n && n < cl;) {
        int32_t special;
        size_t k = next_piece(c.v, c.n, i, &special);
        if (k == 0) {
            i++;
            continue;
        }
        if (special >= 0) {
            ids[n++] = special;
        } else {
            piece.n = 0;
            uint8_t u[4];
            for (size_t p = i; p < i + k; p++) {
                size_t m = utf8_put(c.v[p], u);
                for (size_t q = 0; q < m; q++)
                    if (!bb_push(&piece, u[q])) goto oom;
            }
            size_t wrote;
            if (!bpe_piece(t, &w, piece.v, piece.n, ids + n, cl - n, &wrote)) goto oom;
            n += wrote;
        }
        i += k;
    }
    if (n < cl) {
        ids[n++] = PE_TOKEN_EOT;
        while (n < cl) ids[n++] = 0;
    } else {
        ids[cl - 1] = PE_TOKEN_EOT; /* truncated: eot forced into the last slot */
    }
    st = PE_OK;
    pe_error_clear();
    goto done;
oom:
    st = pe_error(PE_ERR_NOMEM, "pe_tokenize: out of memory");
done:
    cp_free(&c);
    free(piece.v);
    free(w.id);
    free(w.next);
    free(w.prev);
    free(w.heap);
    free(w.pend);
    return st;
}
