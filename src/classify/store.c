/* Prototype-pack and gallery files: writer, strict reader, model
 * fingerprint.  See store.h for the layout. */
#include "store.h"

#include "../util/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ------------------------------------------------------------ little-endian */

static void put_u16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_f32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}
static uint32_t get_u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}
static float get_f32(const uint8_t *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* zlib's crc32 takes a uInt length: feed large buffers in pieces. */
static uint32_t crc_of(const uint8_t *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, step);
        p += step;
        n -= step;
    }
    return (uint32_t)c;
}

/* ------------------------------------------------------------ labels */

pe_status pe_store_check_label(const char *label, size_t len, const char *what) {
    if (len == 0) return pe_error(PE_ERR_INVALID_ARG, "%s: empty label", what);
    if (len >= PE_LABEL_MAX)
        return pe_error(PE_ERR_LIMIT, "%s: label of %zu bytes (max %d)", what, len,
                        PE_LABEL_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)label[i];
        if (ch < 0x20 || ch == 0x7f)
            return pe_error(PE_ERR_INVALID_ARG, "%s: label has a control character (byte %zu)",
                            what, i);
    }
    const char *slash = memchr(label, '/', len);
    if (slash && (slash == label || slash == label + len - 1))
        return pe_error(PE_ERR_INVALID_ARG, "%s: label '%.*s' has an empty part around '/'",
                        what, (int)len, label);
    return PE_OK;
}

/* ------------------------------------------------------------ writing */

static size_t strings_bytes(const pe_store *s) {
    size_t n = 0;
    for (int i = 0; i < s->n_labels; i++) n += 2 + strlen(s->labels[i]);
    if (s->gallery)
        for (int i = 0; i < s->count; i++) n += 2 + strlen(s->sources[i]);
    return n;
}

pe_status pe_store_save(const pe_store *s, const char *path) {
    if (!path) return pe_error(PE_ERR_INVALID_ARG, "save: path is NULL");
    size_t sb = strings_bytes(s), rows = (size_t)s->count * (size_t)s->id.dim;
    size_t total = PE_STORE_HEADER + sb + (s->gallery ? 4 * (size_t)s->count : 0) + 4 * rows +
                   (s->gallery ? 0 : 4 * (size_t)s->n_labels) + 4;
    uint8_t *buf = pe_calloc(1, total), *p = buf;
    if (!buf) return PE_ERR_NOMEM;
    memcpy(p, s->gallery ? PE_STORE_MAGIC_GALLERY : PE_STORE_MAGIC_PROTOS, 8);
    put_u32(p + 8, PE_STORE_VERSION);
    put_u32(p + 12, PE_STORE_HEADER);
    put_u32(p + 16, (uint32_t)s->id.dim);
    put_u32(p + 20, (uint32_t)s->count);
    put_u32(p + 24, (uint32_t)s->n_labels);
    put_u32(p + 28, 0);
    put_u64(p + 32, s->id.fingerprint);
    put_f32(p + 40, s->logit_scale);
    put_u32(p + 44, (uint32_t)(s->n_labels + (s->gallery ? s->count : 0)));
    put_u64(p + 48, sb);
    memcpy(p + 56, s->id.arch, strnlen(s->id.arch, sizeof s->id.arch - 1));
    p += PE_STORE_HEADER;
    for (int i = 0; i < s->n_labels + (s->gallery ? s->count : 0); i++) {
        const char *str = i < s->n_labels ? s->labels[i] : s->sources[i - s->n_labels];
        size_t n = strlen(str);
        put_u16(p, (uint32_t)n);
        memcpy(p + 2, str, n);
        p += 2 + n;
    }
    if (s->gallery)
        for (int i = 0; i < s->count; i++, p += 4) put_u32(p, (uint32_t)s->label_of[i]);
    for (size_t i = 0; i < rows; i++, p += 4) put_f32(p, s->emb[i]);
    if (!s->gallery)
        for (int i = 0; i < s->n_labels; i++, p += 4) put_f32(p, s->thresholds[i]);
    put_u32(p, crc_of(buf, total - 4));
    pe_afile f;
    pe_status st = pe_afile_open(&f, path);
    if (st == PE_OK) {
        pe_afile_write(&f, buf, total);
        st = pe_afile_commit(&f);
    }
    pe_free(buf);
    return st;
}

/* ------------------------------------------------------------ reading */

void pe_store_clear(pe_store *s) {
    if (!s) return;
    for (int i = 0; i < s->n_labels; i++) free(s->labels[i]);
    if (s->sources)
        for (int i = 0; i < s->count; i++) free(s->sources[i]);
    free(s->labels);
    free(s->thresholds);
    free(s->sources);
    free(s->label_of);
    free(s->emb);
    memset(s, 0, sizeof *s);
}

static char *dup_n(const uint8_t *p, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

#define FMT(...) pe_error(PE_ERR_FORMAT, __VA_ARGS__)

pe_status pe_store_parse(pe_store *s, const uint8_t *buf, size_t len, int want_gallery) {
    memset(s, 0, sizeof *s);
    const char *kind = want_gallery ? "gallery" : "prototype pack";
    if (len < 8) return FMT("not a %s: %zu bytes is too short (truncated?)", kind, len);
    const char *magic = want_gallery ? PE_STORE_MAGIC_GALLERY : PE_STORE_MAGIC_PROTOS;
    const char *other = want_gallery ? PE_STORE_MAGIC_PROTOS : PE_STORE_MAGIC_GALLERY;
    if (memcmp(buf, magic, 8)) {
        if (!memcmp(buf, other, 8))
            return FMT("this is a %s, not a %s", want_gallery ? "prototype pack" : "gallery",
                       kind);
        return FMT("not a %s: bad magic (expected \"%s\")", kind, magic);
    }
    if (len < PE_STORE_HEADER + 4)
        return FMT("%s truncated: %zu bytes, the header alone is %d", kind, len,
                   PE_STORE_HEADER + 4);
    uint32_t version = get_u32(buf + 8);
    if (version != PE_STORE_VERSION)
        return pe_error(PE_ERR_UNSUPPORTED, "%s format version %u is not supported (this is %d)",
                        kind, version, PE_STORE_VERSION);
    if (get_u32(buf + 12) != PE_STORE_HEADER)
        return FMT("%s header size %u, expected %d", kind, get_u32(buf + 12), PE_STORE_HEADER);
    uint32_t dim = get_u32(buf + 16), count = get_u32(buf + 20), n_labels = get_u32(buf + 24);
    uint32_t flags = get_u32(buf + 28), n_strings = get_u32(buf + 44);
    uint64_t sb = get_u64(buf + 48);
    if (flags) return FMT("%s: unknown flags 0x%x", kind, flags);
    if (dim < 1 || dim > PE_STORE_MAX_DIM)
        return pe_error(PE_ERR_LIMIT, "%s: embedding size %u out of range 1..%d", kind, dim,
                        PE_STORE_MAX_DIM);
    if (count > PE_STORE_MAX_COUNT)
        return pe_error(PE_ERR_LIMIT, "%s: %u entries is over the limit of %u", kind, count,
                        PE_STORE_MAX_COUNT);
    if (n_labels > PE_STORE_MAX_LABELS)
        return pe_error(PE_ERR_LIMIT, "%s: %u labels is over the limit of %u", kind, n_labels,
                        PE_STORE_MAX_LABELS);
    if (!want_gallery && n_labels != count)
        return FMT("%s: %u labels for %u class embeddings", kind, n_labels, count);
    if (want_gallery && n_labels > count)
        return FMT("%s: %u labels for %u entries", kind, n_labels, count);
    uint64_t want_strings = (uint64_t)n_labels + (want_gallery ? count : 0);
    if (n_strings != want_strings)
        return FMT("%s: %u strings, expected %llu", kind, n_strings,
                   (unsigned long long)want_strings);
    if (sb > PE_STORE_MAX_BYTES || sb < 2 * (uint64_t)n_strings)
        return FMT("%s: string table of %llu bytes is impossible for %u strings", kind,
                   (unsigned long long)sb, n_strings);
    /* All factors are bounded above, so this cannot overflow 64 bits. */
    uint64_t need = PE_STORE_HEADER + sb + (want_gallery ? 4ull * count : 0) +
                    4ull * count * dim + (want_gallery ? 0 : 4ull * n_labels) + 4;
    if (need > PE_STORE_MAX_BYTES)
        return pe_error(PE_ERR_LIMIT, "%s: %llu bytes is over the limit", kind,
                        (unsigned long long)need);
    if ((uint64_t)len < need)
        return FMT("%s truncated: %zu bytes, the header says %llu", kind, len,
                   (unsigned long long)need);
    if ((uint64_t)len > need)
        return FMT("%s has %llu trailing bytes after the checksum", kind,
                   (unsigned long long)(len - need));
    uint32_t crc = get_u32(buf + len - 4), got = crc_of(buf, len - 4);
    if (crc != got)
        return pe_error(PE_ERR_CHECKSUM, "%s checksum mismatch (stored %08x, computed %08x): "
                        "the file is damaged", kind, crc, got);
    if (buf[56 + 47] != 0) return FMT("%s: architecture name is not terminated", kind);

    s->gallery = want_gallery;
    memcpy(s->id.arch, buf + 56, 48);
    s->id.dim = (int)dim;
    s->id.fingerprint = get_u64(buf + 32);
    s->logit_scale = get_f32(buf + 40);
    if (!isfinite(s->logit_scale) || s->logit_scale <= 0 || s->logit_scale > 1e6f)
        return FMT("%s: logit scale %g out of range", kind, (double)s->logit_scale);
    s->labels = calloc(PE_MAX(n_labels, 1), sizeof(char *));
    s->label_of = calloc(PE_MAX(count, 1), sizeof(int32_t));
    s->emb = malloc(PE_MAX((size_t)count * dim, 1) * sizeof(float));
    s->thresholds = want_gallery ? NULL : calloc(PE_MAX(n_labels, 1), sizeof(float));
    s->sources = want_gallery ? calloc(PE_MAX(count, 1), sizeof(char *)) : NULL;
    s->cap = s->label_cap = 0;
    if (!s->labels || !s->label_of || !s->emb || (!want_gallery && !s->thresholds) ||
        (want_gallery && !s->sources)) {
        pe_store_clear(s);
        return pe_error(PE_ERR_NOMEM, "%s: out of memory", kind);
    }
    s->cap = (int)count;
    s->label_cap = (int)n_labels;
    pe_status st = PE_OK;
    const uint8_t *p = buf + PE_STORE_HEADER, *end = p + sb;
    for (uint32_t i = 0; i < n_strings; i++) {
        if (end - p < 2) { st = FMT("%s: string %u runs past the string table", kind, i); break; }
        size_t n = get_u16(p);
        if ((size_t)(end - p - 2) < n) {
            st = FMT("%s: string %u runs past the string table", kind, i);
            break;
        }
        char *str = dup_n(p + 2, n);
        if (!str) { st = pe_error(PE_ERR_NOMEM, "out of memory"); break; }
        if (i < n_labels) {
            s->labels[s->n_labels++] = str;
            char what[64];
            snprintf(what, sizeof what, "%s label %u", kind, i);
            if ((st = pe_store_check_label(str, n, what))) break;
            if (memchr(str, 0, n)) { st = FMT("%s: label %u has a NUL byte", kind, i); break; }
        } else {
            s->sources[s->count++] = str;
            if (memchr(str, 0, n)) { st = FMT("%s: source %u has a NUL byte", kind, i); break; }
        }
        p += 2 + n;
    }
    if (!st && p != end) st = FMT("%s: %td unused bytes in the string table", kind, end - p);
    /* Labels must be distinct: a sort-free O(n log n) check is not worth the
     * code at these sizes, but quadratic over 2^20 labels would be; hash. */
    if (!st && s->n_labels > 1) {
        size_t hcap = 1;
        while (hcap < 2 * (size_t)s->n_labels) hcap <<= 1;
        int32_t *h = malloc(hcap * sizeof *h);
        if (!h) st = pe_error(PE_ERR_NOMEM, "out of memory");
        for (size_t i = 0; h && i < hcap; i++) h[i] = -1;
        for (int i = 0; h && !st && i < s->n_labels; i++) {
            uint32_t x = crc_of((const uint8_t *)s->labels[i], strlen(s->labels[i]));
            size_t j = x & (hcap - 1);
            while (h[j] >= 0 && !st) {
                if (!strcmp(s->labels[h[j]], s->labels[i]))
                    st = FMT("%s: label '%s' appears twice", kind, s->labels[i]);
                j = (j + 1) & (hcap - 1);
            }
            h[j] = i;
        }
        free(h);
    }
    if (want_gallery) {
        for (uint32_t i = 0; !st && i < count; i++, p += 4) {
            uint32_t li = get_u32(p);
            if (li >= n_labels) st = FMT("%s: entry %u has label index %u of %u", kind, i, li, n_labels);
            else s->label_of[i] = (int32_t)li;
        }
    } else {
        s->count = (int)count;
        for (uint32_t i = 0; i < count; i++) s->label_of[i] = (int32_t)i;
    }
    for (uint32_t i = 0; !st && i < count; i++) {
        double nn = 0;
        for (uint32_t j = 0; j < dim; j++, p += 4) {
            float v = get_f32(p);
            s->emb[(size_t)i * dim + j] = v;
            nn += (double)v * v;
        }
        if (!(fabs(nn - 1.0) < 1e-3))
            st = FMT("%s: embedding %u is not unit length (norm^2 %g)", kind, i, nn);
    }
    for (uint32_t i = 0; !st && !want_gallery && i < n_labels; i++, p += 4) {
        float t = get_f32(p);
        if (!(t >= -1.0f && t <= 1.0f))
            st = FMT("%s: threshold %u is %g, not in [-1, 1]", kind, i, (double)t);
        s->thresholds[i] = t;
    }
    if (st) pe_store_clear(s);
    return st;
}

pe_status pe_store_load(pe_store *s, const char *path, int want_gallery) {
    memset(s, 0, sizeof *s);
    if (!path) return pe_error(PE_ERR_INVALID_ARG, "load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return pe_error(errno == ENOENT ? PE_ERR_NOT_FOUND : PE_ERR_IO, "%s: %s", path,
                            strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return pe_error(PE_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > PE_STORE_MAX_BYTES) {
        fclose(f);
        return pe_error(PE_ERR_LIMIT, "%s: %lld bytes is over the limit", path,
                        (long long)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(PE_MAX(n, 1));
    if (!buf) {
        fclose(f);
        return pe_error(PE_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    pe_status s2 = got != n ? pe_error(PE_ERR_IO, "%s: read failed", path)
                            : pe_store_parse(s, buf, n, want_gallery);
    free(buf);
    if (s2 && got == n) pe_error_prefix(s2, "%s", path);
    return s2;
}
