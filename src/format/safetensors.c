/* safetensors reader and writer.  Files are untrusted: every size goes
 * through overflow-checked arithmetic, every rule of the format is checked,
 * and each refusal names the tensor and the field at fault (the llama.cpp
 * GGUF CVEs are the cautionary tale). */
#include "safetensors.h"

#include "../util/atomic_file.h"
#include "../util/json.h"
#include "../util/mapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const struct {
    const char *name;
    size_t size;
} pe_dtypes[PE_DT_COUNT] = {
    [PE_DT_BOOL] = {"BOOL", 1},       [PE_DT_U8] = {"U8", 1},
    [PE_DT_I8] = {"I8", 1},           [PE_DT_F8_E4M3] = {"F8_E4M3", 1},
    [PE_DT_F8_E5M2] = {"F8_E5M2", 1}, [PE_DT_I16] = {"I16", 2},
    [PE_DT_U16] = {"U16", 2},         [PE_DT_F16] = {"F16", 2},
    [PE_DT_BF16] = {"BF16", 2},       [PE_DT_I32] = {"I32", 4},
    [PE_DT_U32] = {"U32", 4},         [PE_DT_F32] = {"F32", 4},
    [PE_DT_I64] = {"I64", 8},         [PE_DT_U64] = {"U64", 8},
    [PE_DT_F64] = {"F64", 8},
};

/* Names in messages are cut so that the message keeps its tail. */
#define PE_ST_NAME_MAX 120
#define PE_ST_META_KEY "__metadata__"

const char *pe_dtype_name(pe_dtype t) {
    return (unsigned)t < PE_DT_COUNT ? pe_dtypes[t].name : "?";
}

size_t pe_dtype_size(pe_dtype t) {
    return (unsigned)t < PE_DT_COUNT ? pe_dtypes[t].size : 0;
}

static bool pe_dtype_parse(const pe_json *s, pe_dtype *out) {
    for (int i = 0; i < PE_DT_COUNT; i++) {
        if (strlen(pe_dtypes[i].name) == s->len && memcmp(pe_dtypes[i].name, s->raw, s->len) == 0) {
            *out = (pe_dtype)i;
            return true;
        }
    }
    return false;
}

static uint64_t pe_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* "[2,2]" for messages. */
static const char *pe_st_dims(const int64_t *shape, int rank, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* ---------------------------------------------------------------- reading */

static pe_status pe_st_bad(const char *name, const char *what) {
    return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': %s", PE_ST_NAME_MAX, name, what);
}

static pe_status pe_st_parse_shape(pe_st_tensor *t, const pe_json *shape) {
    if (!shape) return pe_st_bad(t->name, "missing field 'shape'");
    if (shape->type != PE_JSON_ARRAY) return pe_st_bad(t->name, "'shape' is not an array");
    if (shape->n > PE_ST_MAX_RANK)
        return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': 'shape' has rank %zu, above %d",
                        PE_ST_NAME_MAX, t->name, shape->n, PE_ST_MAX_RANK);
    t->rank = (int)shape->n;
    t->numel = 1;
    for (int i = 0; i < t->rank; i++) {
        const pe_json *d = &shape->items[i];
        int64_t neg;
        uint64_t v;
        if (pe_json_i64(d, &neg) && neg < 0)
            return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': 'shape' dim %d is negative (%lld)",
                            PE_ST_NAME_MAX, t->name, i, (long long)neg);
        if (!pe_json_u64(d, &v)) {
            const bool digits = d->type == PE_JSON_NUMBER && !strpbrk(d->raw, ".eE");
            return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': 'shape' dim %d is %s",
                            PE_ST_NAME_MAX, t->name, i,
                            digits ? "too large" : "not an integer");
        }
        if (v > (uint64_t)INT64_MAX || !pe_mul_u64(t->numel, v, &t->numel))
            return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': 'shape' element count overflows",
                            PE_ST_NAME_MAX, t->name);
        t->shape[i] = (int64_t)v;
    }
    return PE_OK;
}

/* Checks one header entry on its own; placement is checked later over all. */
static pe_status pe_st_parse_entry(pe_st_tensor *t, const pe_json *e, uint64_t data_len) {
    if (e->type != PE_JSON_OBJECT) return pe_st_bad(t->name, "entry is not an object");
    for (size_t i = 0; i < e->n; i++) {
        const pe_json *k = &e->keys[i];
        if (strcmp(k->raw, "dtype") && strcmp(k->raw, "shape") && strcmp(k->raw, "data_offsets"))
            return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': unknown field '%.*s'",
                            PE_ST_NAME_MAX, t->name, 64, k->raw);
    }
    const pe_json *dt = pe_json_get(e, "dtype");
    if (!dt) return pe_st_bad(t->name, "missing field 'dtype'");
    if (dt->type != PE_JSON_STRING) return pe_st_bad(t->name, "'dtype' is not a string");
    if (!pe_dtype_parse(dt, &t->dtype))
        return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': unknown dtype '%.*s'",
                        PE_ST_NAME_MAX, t->name, 32, dt->raw);
    pe_status st = pe_st_parse_shape(t, pe_json_get(e, "shape"));
    if (st != PE_OK) return st;

    const pe_json *off = pe_json_get(e, "data_offsets");
    uint64_t begin, end;
    if (!off) return pe_st_bad(t->name, "missing field 'data_offsets'");
    if (off->type != PE_JSON_ARRAY || off->n != 2 || !pe_json_u64(&off->items[0], &begin) ||
        !pe_json_u64(&off->items[1], &end))
        return pe_st_bad(t->name, "'data_offsets' is not 2 non-negative integers");
    if (begin > end)
        return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': data_offsets [%llu, %llu) begin after they end",
                        PE_ST_NAME_MAX, t->name, (unsigned long long)begin, (unsigned long long)end);
    char dims[PE_ST_MAX_RANK * 24 + 4];
    if (!pe_mul_u64(t->numel, pe_dtype_size(t->dtype), &t->nbytes))
        return pe_error(PE_ERR_FORMAT, "safetensors: tensor '%.*s': byte size of %s x %s overflows",
                        PE_ST_NAME_MAX, t->name, pe_dtype_name(t->dtype),
                        pe_st_dims(t->shape, t->rank, dims, sizeof dims));
    if (end - begin != t->nbytes)
        return pe_error(PE_ERR_FORMAT,
                        "safetensors: tensor '%.*s': data_offsets [%llu, %llu) do not match %s x %s = %llu bytes",
                        PE_ST_NAME_MAX, t->name, (unsigned long long)begin, (unsigned long long)end,
                        pe_dtype_name(t->dtype), pe_st_dims(t->shape, t->rank, dims, sizeof dims),
                        (unsigned long long)t->nbytes);
    if (end > data_len)
        return pe_error(PE_ERR_FORMAT,
                        "safetensors: tensor '%.*s': data_offsets [%llu, %llu) run past the end of the file (data section is %llu bytes)",
                        PE_ST_NAME_MAX, t->name, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)data_len);
    t->offset = begin;
    return PE_OK;
}

static pe_status pe_st_parse_meta(pe_safetensors *st, const pe_json *m) {
    if (m->type != PE_JSON_OBJECT)
        return pe_error(PE_ERR_FORMAT, "safetensors: '__metadata__' is not an object");
    st->meta = calloc(m->n ? m->n : 1, sizeof *st->meta);
    if (!st->meta) return pe_error(PE_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < m->n; i++) {
        const pe_json *k = &m->keys[i], *v = &m->items[i];
        if (v->type != PE_JSON_STRING)
            return pe_error(PE_ERR_FORMAT, "safetensors: '__metadata__' value of '%.*s' is not a string",
                            PE_ST_NAME_MAX, k->raw);
        /* The API hands out C strings, so an embedded NUL would silently cut them. */
        if (strlen(k->raw) != k->len || strlen(v->raw) != v->len)
            return pe_error(PE_ERR_FORMAT, "safetensors: '__metadata__' entry '%.*s' holds a NUL byte",
                            PE_ST_NAME_MAX, k->raw);
        pe_st_meta *out = &st->meta[st->n_meta];
        out->key = strdup(k->raw);
        out->value = strdup(v->raw);
        st->n_meta++;
        if (!out->key || !out->value) return pe_error(PE_ERR_NOMEM, "safetensors: out of memory");
    }
    return PE_OK;
}

static int pe_st_offset_cmp(const void *a, const void *b) {
    const pe_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    /* Empty tensors share an offset with their successor: put them first. */
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sorted by offset, the tensors must tile [0, data_len) exactly. */
static pe_status pe_st_check_layout(const pe_safetensors *st, uint64_t data_len) {
    uint64_t at = 0;
    const char *prev = NULL;
    for (int i = 0; i < st->n_tensors; i++) {
        const pe_st_tensor *t = &st->tensors[i];
        const unsigned long long b = t->offset, e = t->offset + t->nbytes;
        if (t->offset > at && !prev)
            return pe_error(PE_ERR_FORMAT,
                            "safetensors: tensor '%.*s': data_offsets [%llu, %llu): the data does not start at 0",
                            PE_ST_NAME_MAX, t->name, b, e);
        if (t->offset > at)
            return pe_error(PE_ERR_FORMAT,
                            "safetensors: tensor '%.*s': data_offsets [%llu, %llu) leave a hole of %llu bytes after tensor '%.*s'",
                            PE_ST_NAME_MAX, t->name, b, e, b - at, PE_ST_NAME_MAX, prev);
        if (t->offset < at)
            return pe_error(PE_ERR_FORMAT,
                            "safetensors: tensor '%.*s': data_offsets [%llu, %llu) overlap tensor '%.*s' (ends at %llu)",
                            PE_ST_NAME_MAX, t->name, b, e, PE_ST_NAME_MAX, prev,
                            (unsigned long long)at);
        at = e;
        prev = t->name;
    }
    if (at != data_len && !prev)
        return pe_error(PE_ERR_FORMAT, "safetensors: %llu trailing bytes after a header without tensors",
                        (unsigned long long)data_len);
    if (at != data_len)
        return pe_error(PE_ERR_FORMAT, "safetensors: %llu trailing bytes after the last tensor '%.*s'",
                        (unsigned long long)(data_len - at), PE_ST_NAME_MAX, prev);
    return PE_OK;
}

static pe_status pe_st_parse_tensors(pe_safetensors *st, const pe_json *root, const uint8_t *data,
                                     uint64_t data_len) {
    const pe_json *meta = pe_json_get(root, PE_ST_META_KEY);
    const size_t n = root->n - (meta != NULL);
    if (n > INT32_MAX) return pe_error(PE_ERR_LIMIT, "safetensors: too many tensors (%zu)", n);
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors) return pe_error(PE_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < root->n; i++) {
        const pe_json *k = &root->keys[i];
        if (&root->items[i] == meta) continue;
        if (strlen(k->raw) != k->len)
            return pe_error(PE_ERR_FORMAT, "safetensors: tensor name '%.*s...' holds a NUL byte",
                            PE_ST_NAME_MAX, k->raw);
        pe_st_tensor *t = &st->tensors[st->n_tensors];
        t->name = strdup(k->raw);
        if (!t->name) return pe_error(PE_ERR_NOMEM, "safetensors: out of memory");
        st->n_tensors++;
        const pe_status s = pe_st_parse_entry(t, &root->items[i], data_len);
        if (s != PE_OK) return s;
        t->data = data + t->offset;
    }
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, pe_st_offset_cmp);
    return pe_st_check_layout(st, data_len);
}

static void pe_st_release(pe_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->tensors);
    free(st->meta);
    free(st->owned);
    if (st->mapped && st->base) munmap((void *)st->base, st->size);
    memset(st, 0, sizeof *st);
}

pe_status pe_st_parse(pe_safetensors *st, const uint8_t *buf, size_t len) {
    if (!st) return pe_error(PE_ERR_INVALID_ARG, "safetensors: st is NULL");
    memset(st, 0, sizeof *st);
    if (!buf && len) return pe_error(PE_ERR_INVALID_ARG, "safetensors: buffer is NULL");
    if (len < 8)
        return pe_error(PE_ERR_FORMAT, "safetensors: file is %zu bytes, shorter than the 8-byte header length",
                        len);
    const uint64_t hlen = pe_le64(buf);
    if (hlen == 0) return pe_error(PE_ERR_FORMAT, "safetensors: header length 0 (an empty header)");
    if (hlen > len - 8)
        return pe_error(PE_ERR_FORMAT,
                        "safetensors: header length %llu runs past the end of the file (%zu bytes)",
                        (unsigned long long)hlen, len);
    if (hlen > PE_ST_MAX_HEADER)
        return pe_error(PE_ERR_LIMIT, "safetensors: header length %llu exceeds the limit of %u bytes",
                        (unsigned long long)hlen, PE_ST_MAX_HEADER);
    pe_json *root = NULL;
    pe_status s = pe_json_parse((const char *)buf + 8, (size_t)hlen, &root);
    if (s != PE_OK) return pe_error_prefix(s, "safetensors: header");
    if (root->type != PE_JSON_OBJECT) {
        pe_json_free(root);
        return pe_error(PE_ERR_FORMAT, "safetensors: header is not a JSON object");
    }
    st->base = buf;
    st->size = len;
    const pe_json *meta = pe_json_get(root, PE_ST_META_KEY);
    s = meta ? pe_st_parse_meta(st, meta) : PE_OK;
    if (s == PE_OK) s = pe_st_parse_tensors(st, root, buf + 8 + hlen, len - 8 - hlen);
    pe_json_free(root);
    if (s != PE_OK) pe_st_release(st);
    return s;
}

pe_status pe_st_open(pe_safetensors *st, const char *path) {
    if (!st || !path) return pe_error(PE_ERR_INVALID_ARG, "safetensors: st or path is NULL");
    memset(st, 0, sizeof *st);
    const uint8_t *map;
    size_t size;
    pe_status s = pe_map_file(path, &map, &size);
    if (s) return s;
    if ((s = pe_st_parse(st, map, size)) != PE_OK) {
        munmap((void *)map, size);
        return pe_error_prefix(s, "%s", path);
    }
    st->mapped = 1;
    return PE_OK;
}

void pe_st_close(pe_safetensors *st) {
    if (st) pe_st_release(st);
}

const pe_st_tensor *pe_st_find(const pe_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *pe_st_meta_get(const pe_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
    return NULL;
}

pe_status pe_st_meta_set(pe_safetensors *st, const char *key, const char *value) {
    if (!st || !key || !value) return pe_error(PE_ERR_INVALID_ARG, "safetensors: meta_set: NULL argument");
    char *v = strdup(value);
    if (!v) return pe_error(PE_ERR_NOMEM, "safetensors: out of memory");
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0) {
            free(st->meta[i].value);
            st->meta[i].value = v;
            return PE_OK;
        }
    pe_st_meta *m = realloc(st->meta, (size_t)(st->n_meta + 1) * sizeof *m);
    char *k = strdup(key);
    if (m) st->meta = m;
    if (!m || !k) {
        free(k);
        free(v);
        return pe_error(PE_ERR_NOMEM, "safetensors: out of memory");
    }
    st->meta[st->n_meta].key = k;
    st->meta[st->n_meta].value = v;
    st->n_meta++;
    return PE_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct pe_strbuf {
    char *s;
    size_t len, cap;
    bool oom;
} pe_strbuf;

static void pe_sb_put(pe_strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    size_t need;
    if (!pe_add_size(b->len, n + 1, &need)) {
        b->oom = true;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void pe_sb_str(pe_strbuf *b, const char *s) { pe_sb_put(b, s, strlen(s)); }

static void pe_sb_u64(pe_strbuf *b, uint64_t v) {
    char tmp[24];
    pe_sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v));
}

/* JSON string literal; bytes >= 0x80 pass through (the self-check below
 * refuses invalid UTF-8). */
static void pe_sb_json_string(pe_strbuf *b, const char *s) {
    pe_sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            pe_sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            pe_sb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p));
        } else {
            pe_sb_put(b, (const char *)p, 1);
        }
    }
    pe_sb_put(b, "\"", 1);
}

static pe_status pe_st_check_out(const pe_st_out *t, int i, uint64_t *nbytes) {
    if (!t->name) return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: tensor %d has no name", i);
    if (strcmp(t->name, PE_ST_META_KEY) == 0)
        return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: '__metadata__' is not a tensor name");
    if ((unsigned)t->dtype >= PE_DT_COUNT)
        return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: tensor '%.*s': invalid dtype %d",
                        PE_ST_NAME_MAX, t->name, (int)t->dtype);
    if (t->rank < 0 || t->rank > PE_ST_MAX_RANK)
        return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: tensor '%.*s': rank %d out of 0..%d",
                        PE_ST_NAME_MAX, t->name, t->rank, PE_ST_MAX_RANK);
    uint64_t n = pe_dtype_size(t->dtype);
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] < 0)
            return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: tensor '%.*s': negative dim %d",
                            PE_ST_NAME_MAX, t->name, d);
        if (!pe_mul_u64(n, (uint64_t)t->shape[d], &n))
            return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: tensor '%.*s': size overflows",
                            PE_ST_NAME_MAX, t->name);
    }
    if (n && !t->data)
        return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: tensor '%.*s': data is NULL",
                        PE_ST_NAME_MAX, t->name);
    *nbytes = n;
    return PE_OK;
}

/* Builds the header, padded with spaces to a multiple of 8 bytes so the data
 * section starts 8-aligned (what the reference writer does). */
static pe_status pe_st_header(pe_strbuf *b, const pe_st_out *tensors, int n, const pe_st_meta *meta,
                              int n_meta) {
    pe_sb_put(b, "{", 1);
    if (n_meta > 0) {
        pe_sb_str(b, "\"" PE_ST_META_KEY "\":{");
        for (int i = 0; i < n_meta; i++) {
            if (!meta[i].key || !meta[i].value)
                return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: metadata entry %d is NULL", i);
            if (i) pe_sb_put(b, ",", 1);
            pe_sb_json_string(b, meta[i].key);
            pe_sb_put(b, ":", 1);
            pe_sb_json_string(b, meta[i].value);
        }
        pe_sb_put(b, "}", 1);
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        uint64_t nbytes;
        const pe_status s = pe_st_check_out(&tensors[i], i, &nbytes);
        if (s != PE_OK) return s;
        if (i || n_meta > 0) pe_sb_put(b, ",", 1);
        pe_sb_json_string(b, tensors[i].name);
        pe_sb_str(b, ":{\"dtype\":\"");
        pe_sb_str(b, pe_dtype_name(tensors[i].dtype));
        pe_sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < tensors[i].rank; d++) {
            if (d) pe_sb_put(b, ",", 1);
            pe_sb_u64(b, (uint64_t)tensors[i].shape[d]);
        }
        pe_sb_str(b, "],\"data_offsets\":[");
        pe_sb_u64(b, at);
        pe_sb_put(b, ",", 1);
        if (__builtin_add_overflow(at, nbytes, &at))
            return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: total size overflows");
        pe_sb_u64(b, at);
        pe_sb_str(b, "]}");
    }
    pe_sb_put(b, "}", 1);
    while (!b->oom && b->len % 8) pe_sb_put(b, " ", 1);
    if (b->oom) return pe_error(PE_ERR_NOMEM, "safetensors: write: out of memory for the header");
    if (b->len > PE_ST_MAX_HEADER)
        return pe_error(PE_ERR_LIMIT, "safetensors: write: header of %zu bytes exceeds %u",
                        b->len, PE_ST_MAX_HEADER);
    /* Whatever we write must be readable: this catches duplicate names and
     * invalid UTF-8 in names before any file is touched. */
    pe_json *check = NULL;
    const pe_status s = pe_json_parse(b->s, b->len, &check);
    pe_json_free(check);
    if (s != PE_OK) return pe_error_prefix(PE_ERR_INVALID_ARG, "safetensors: write: bad header");
    return PE_OK;
}

pe_status pe_st_write(const char *path, const pe_st_out *tensors, int n, const pe_st_meta *meta,
                      int n_meta) {
    if (!path || n < 0 || n_meta < 0 || (n > 0 && !tensors) || (n_meta > 0 && !meta))
        return pe_error(PE_ERR_INVALID_ARG, "safetensors: write: bad arguments");
    pe_strbuf hdr = {0};
    pe_status s = pe_st_header(&hdr, tensors, n, meta, n_meta);
    if (s != PE_OK) {
        free(hdr.s);
        return s;
    }
    pe_afile f;
    if ((s = pe_afile_open(&f, path)) != PE_OK) {
        free(hdr.s);
        return s;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr.len >> (8 * i));
    pe_afile_write(&f, len8, 8);
    pe_afile_write(&f, hdr.s, hdr.len);
    free(hdr.s);
    /* Tensor bytes are written as they lie in memory: little-endian hosts. */
    for (int i = 0; i < n; i++) {
        uint64_t nbytes = 0;
        (void)pe_st_check_out(&tensors[i], i, &nbytes); /* already validated */
        pe_afile_write(&f, tensors[i].data, (size_t)nbytes);
    }
    return pe_afile_commit(&f);
}
