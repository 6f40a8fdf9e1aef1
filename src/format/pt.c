/* torch.save zip archives: the zip container, then a restricted pickle
 * machine.  Everything in the file is untrusted: every offset and length is
 * checked against the bytes that hold it with overflow-checked arithmetic,
 * and every refusal names what was refused (opcode, global, entry, field). */
#include "pt.h"

#include "../util/mapfile.h"
#include "../util/sha256.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PT_NAME_MAX 120

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

bool pe_pt_is_zip(const uint8_t *buf, size_t len) {
    return len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0;
}

/* [off, off + n) lies inside [0, len). */
static bool in_file(uint64_t off, uint64_t n, uint64_t len) {
    return off <= len && n <= len - off;
}

/* ================================================================ zip */

typedef struct zentry {
    const char *name;      /* not NUL-terminated: name_len bytes in the file */
    uint16_t name_len;
    uint64_t local;        /* offset of the local header */
    uint64_t data, size;   /* stored bytes */
} zentry;

typedef struct zip {
    const uint8_t *buf;
    uint64_t len;
    zentry *e;             /* sorted by name */
    uint32_t n;
    const char *prefix;    /* "<archive>/" of data.pkl */
    size_t prefix_len;
} zip;

static pe_status zbad(const char *what) {
    return pe_error(PE_ERR_FORMAT, "pt: zip: %s", what);
}

/* Finds the end-of-central-directory record: it must end the file exactly
 * (its comment runs to the last byte). */
static pe_status zip_find_eocd(const zip *z, uint64_t *at) {
    if (z->len < 22) return zbad("file is shorter than an end-of-central-directory record (22 bytes)");
    const uint64_t lo = z->len > 22 + 65535 ? z->len - 22 - 65535 : 0;
    for (uint64_t p = z->len - 22 + 1; p-- > lo;) {
        const uint8_t *r = z->buf + p;
        if (memcmp(r, "PK\x05\x06", 4) == 0 && p + 22 + rd16(r + 20) == z->len) {
            *at = p;
            return PE_OK;
        }
    }
    return zbad("no end-of-central-directory record (truncated file?)");
}

/* Reads the directory location, through the zip64 records when present.
 * torch writes the zip64 records even for small files, so they are read and
 * checked against the classic record rather than refused. */
static pe_status zip_directory(const zip *z, uint64_t eocd, uint64_t *cd_off, uint64_t *cd_size,
                               uint64_t *count, uint64_t *cd_limit) {
    const uint8_t *r = z->buf + eocd;
    if (rd16(r + 4) != 0 || rd16(r + 6) != 0)
        return zbad("multi-disk archives are not supported");
    uint64_t n = rd16(r + 10), size = rd32(r + 12), off = rd32(r + 16);
    if (rd16(r + 8) != rd16(r + 10))
        return zbad("entry counts of this disk and of the archive differ");
    const bool need64 = n == 0xFFFF || size == 0xFFFFFFFFu || off == 0xFFFFFFFFu;
    *cd_limit = eocd;
    if (eocd >= 20 && memcmp(z->buf + eocd - 20, "PK\x06\x07", 4) == 0) {
        const uint8_t *loc = z->buf + eocd - 20;
        const uint64_t at = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) != 1)
            return zbad("zip64 locator: multi-disk archives are not supported");
        if (!in_file(at, 56, eocd - 20) || memcmp(z->buf + at, "PK\x06\x06", 4) != 0)
            return zbad("zip64 locator points outside the file or not at a zip64 record");
        const uint8_t *r64 = z->buf + at;
        if (rd64(r64 + 4) < 44) return zbad("zip64 end record: size field below 44");
        if (rd32(r64 + 16) != 0 || rd32(r64 + 20) != 0)
            return zbad("zip64 end record: multi-disk archives are not supported");
        const uint64_t n64 = rd64(r64 + 32), size64 = rd64(r64 + 40), off64 = rd64(r64 + 48);
        if (rd64(r64 + 24) != n64) return zbad("zip64 end record: entry counts differ");
        if ((n != 0xFFFF && n != n64) || (size != 0xFFFFFFFFu && size != size64) ||
            (off != 0xFFFFFFFFu && off != off64))
            return zbad("zip64 end record disagrees with the end-of-central-directory record");
        n = n64;
        size = size64;
        off = off64;
        *cd_limit = at;
    } else if (need64) {
        return zbad("end record says zip64 (0xFFFF / 0xFFFFFFFF fields) but there is no zip64 locator");
    }
    if (n > PE_PT_MAX_ENTRIES)
        return pe_error(PE_ERR_LIMIT, "pt: zip: %llu entries, above the limit of %d",
                        (unsigned long long)n, PE_PT_MAX_ENTRIES);
    if (!in_file(off, size, *cd_limit))
        return pe_error(PE_ERR_FORMAT,
                        "pt: zip: central directory [%llu, +%llu) runs past its end record at %llu",
                        (unsigned long long)off, (unsigned long long)size,
                        (unsigned long long)*cd_limit);
    *cd_off = off;
    *cd_size = size;
    *count = n;
    return PE_OK;
}

/* Fields of the zip64 extended-information extra field (0x0001), present
 * only for the classic fields saturated at 0xFFFFFFFF, in this order. */
static pe_status zip_extra64(const uint8_t *x, uint32_t xlen, uint64_t *usize, uint64_t *csize,
                             uint64_t *local, const char *name, int nl) {
    uint32_t i = 0;
    while (i + 4 <= xlen) {
        const uint16_t id = rd16(x + i), sz = rd16(x + i + 2);
        if (sz > xlen - i - 4)
            return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': extra field runs past its end", nl, name);
        if (id == 1) {
            const uint8_t *f = x + i + 4, *end = f + sz;
            uint64_t *want[3] = {usize, csize, local};
            for (int k = 0; k < 3; k++) {
                if (*want[k] != 0xFFFFFFFFu) continue;
                if (end - f < 8)
                    return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': zip64 extra field too short",
                                    nl, name);
                *want[k] = rd64(f);
                f += 8;
            }
            return PE_OK;
        }
        i += 4u + sz;
    }
    if (*usize == 0xFFFFFFFFu || *csize == 0xFFFFFFFFu || *local == 0xFFFFFFFFu)
        return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': zip64 marker (0xFFFFFFFF) without a zip64 extra field",
                        nl, name);
    return PE_OK;
}

static int zname_cmp(const char *a, size_t na, const char *b, size_t nb) {
    const int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na < nb ? -1 : na > nb);
}

static int zentry_cmp(const void *pa, const void *pb) {
    const zentry *a = pa, *b = pb;
    return zname_cmp(a->name, a->name_len, b->name, b->name_len);
}

static int zentry_local_cmp(const void *pa, const void *pb) {
    const zentry *a = pa, *b = pb;
    return a->local < b->local ? -1 : a->local > b->local;
}

/* One central-directory entry at *at, checked and followed to its local header. */
static pe_status zip_entry(const zip *z, uint64_t *at, uint64_t cd_end, uint64_t data_limit,
                           zentry *e) {
    if (!in_file(*at, 46, cd_end) || memcmp(z->buf + *at, "PK\x01\x02", 4) != 0)
        return zbad("central directory entry is truncated or lacks its signature");
    const uint8_t *c = z->buf + *at;
    const uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    const uint16_t nl = rd16(c + 28), xl = rd16(c + 30), cl = rd16(c + 32);
    if (!in_file(*at + 46, (uint64_t)nl + xl + cl, cd_end))
        return zbad("central directory entry: name, extra or comment runs past the directory");
    const char *name = (const char *)c + 46;
    const int pn = nl > PT_NAME_MAX ? PT_NAME_MAX : nl;
    if (nl == 0) return zbad("entry with an empty name");
    if (memchr(name, 0, nl)) return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s' name holds a NUL byte", pn, name);
    if (flags & 0x41)
        return pe_error(PE_ERR_UNSUPPORTED, "pt: zip: entry '%.*s' is encrypted", pn, name);
    if (method != 0)
        return pe_error(PE_ERR_UNSUPPORTED,
                        "pt: zip: entry '%.*s' is compressed (method %u%s); only stored entries are read "
                        "(torch.save writes them stored)", pn, name, method, method == 8 ? ", deflate" : "");
    uint64_t usize = rd32(c + 24), csize = rd32(c + 20), local = rd32(c + 42);
    pe_status s = zip_extra64(c + 46 + nl, xl, &usize, &csize, &local, name, pn);
    if (s) return s;
    if (rd16(c + 34) != 0 && rd16(c + 34) != 0xFFFF)
        return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s' starts on another disk", pn, name);
    if (usize != csize)
        return pe_error(PE_ERR_FORMAT, "pt: zip: stored entry '%.*s' has sizes %llu and %llu", pn, name,
                        (unsigned long long)csize, (unsigned long long)usize);
    if (!in_file(local, 30, data_limit) || memcmp(z->buf + local, "PK\x03\x04", 4) != 0)
        return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': local header offset %llu is outside the file "
                        "or not at a local header", pn, name, (unsigned long long)local);
    const uint8_t *l = z->buf + local;
    const uint64_t lnl = rd16(l + 26), lxl = rd16(l + 28);
    if (rd16(l + 8) != method || (rd16(l + 6) & 0x41))
        return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': local header disagrees with the directory "
                        "(method or encryption)", pn, name);
    if (lnl != nl || !in_file(local + 30, lnl + lxl, data_limit) || memcmp(l + 30, name, nl) != 0)
        return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': local header name differs from the directory",
                        pn, name);
    const uint64_t data = local + 30 + lnl + lxl;
    if (!in_file(data, csize, data_limit))
        return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s': data [%llu, +%llu) runs past the end of the "
                        "entries (%llu)", pn, name, (unsigned long long)data, (unsigned long long)csize,
                        (unsigned long long)data_limit);
    e->name = name;
    e->name_len = nl;
    e->local = local;
    e->data = data;
    e->size = csize;
    *at += 46 + (uint64_t)nl + xl + cl;
    return PE_OK;
}

/* Entries must not share bytes: each local header starts after the
 * previous entry's data. */
static pe_status zip_check_overlap(zip *z) {
    qsort(z->e, z->n, sizeof *z->e, zentry_local_cmp);
    for (uint32_t i = 1; i < z->n; i++) {
        const zentry *a = &z->e[i - 1], *b = &z->e[i];
        if (b->local < a->data + a->size)
            return pe_error(PE_ERR_FORMAT, "pt: zip: entry '%.*s' overlaps entry '%.*s'",
                            PE_MIN(b->name_len, PT_NAME_MAX), b->name,
                            PE_MIN(a->name_len, PT_NAME_MAX), a->name);
    }
    qsort(z->e, z->n, sizeof *z->e, zentry_cmp);
    for (uint32_t i = 1; i < z->n; i++)
        if (zentry_cmp(&z->e[i - 1], &z->e[i]) == 0)
            return pe_error(PE_ERR_FORMAT, "pt: zip: duplicate entry '%.*s'",
                            PE_MIN(z->e[i].name_len, PT_NAME_MAX), z->e[i].name);
    return PE_OK;
}

static const zentry *zip_find(const zip *z, const char *suffix, size_t n) {
    char name[512];
    if (z->prefix_len + n > sizeof name) return NULL;
    memcpy(name, z->prefix, z->prefix_len);
    memcpy(name + z->prefix_len, suffix, n);
    const zentry key = {name, (uint16_t)(z->prefix_len + n), 0, 0, 0};
    return bsearch(&key, z->e, z->n, sizeof *z->e, zentry_cmp);
}

static bool ends_with(const zentry *e, const char *s) {
    const size_t n = strlen(s);
    return e->name_len >= n && memcmp(e->name + e->name_len - n, s, n) == 0;
}

/* Locates "<archive>/data.pkl" and refuses TorchScript archives. */
static pe_status zip_layout(zip *z, const zentry **pkl) {
    *pkl = NULL;
    for (uint32_t i = 0; i < z->n; i++) {
        const zentry *e = &z->e[i];
        const int pn = PE_MIN(e->name_len, PT_NAME_MAX);
        if (ends_with(e, "/constants.pkl") || memmem(e->name, e->name_len, "/code/", 6))
            return pe_error(PE_ERR_UNSUPPORTED,
                            "pt: '%.*s': a TorchScript archive (torch.jit.save) is not read; save the "
                            "state_dict with torch.save", pn, e->name);
        if (!ends_with(e, "/data.pkl")) continue;
        const char *slash = memchr(e->name, '/', e->name_len);
        if ((size_t)(slash - e->name) + 9 != e->name_len) continue; /* nested: not the archive's */
        if (*pkl)
            return pe_error(PE_ERR_FORMAT, "pt: two pickles '%.*s' and '%.*s'",
                            PE_MIN((*pkl)->name_len, PT_NAME_MAX), (*pkl)->name, pn, e->name);
        *pkl = e;
    }
    if (!*pkl) return pe_error(PE_ERR_FORMAT, "pt: no '<archive>/data.pkl' entry: not a torch.save file");
    z->prefix = (*pkl)->name;
    z->prefix_len = (*pkl)->name_len - 8;
    const zentry *bo = zip_find(z, "byteorder", 9);
    if (bo && !(bo->size == 6 && memcmp(z->buf + bo->data, "little", 6) == 0))
        return pe_error(PE_ERR_UNSUPPORTED, "pt: byteorder is '%.*s'; only little-endian files are read",
                        (int)PE_MIN(bo->size, 16), (const char *)z->buf + bo->data);
    return PE_OK;
}

static pe_status zip_open(zip *z) {
    uint64_t eocd = 0, cd_off = 0, cd_size = 0, count = 0, limit = 0;
    pe_status s = zip_find_eocd(z, &eocd);
    if (!s) s = zip_directory(z, eocd, &cd_off, &cd_size, &count, &limit);
    if (s) return s;
    if (count > cd_size / 46)
        return pe_error(PE_ERR_FORMAT, "pt: zip: %llu entries cannot fit a central directory of %llu bytes",
                        (unsigned long long)count, (unsigned long long)cd_size);
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!z->e) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
    uint64_t at = cd_off;
    for (uint64_t i = 0; i < count; i++) {
        if ((s = zip_entry(z, &at, cd_off + cd_size, cd_off, &z->e[i]))) return s;
        z->n++;
    }
    if (at != cd_off + cd_size)
        return pe_error(PE_ERR_FORMAT, "pt: zip: central directory holds %llu bytes after its %llu entries",
                        (unsigned long long)(cd_off + cd_size - at), (unsigned long long)count);
    return zip_check_overlap(z);
}

/* ================================================================ pickle */

typedef enum pk_kind {
    PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR
} pk_kind;

static const char *const pk_kind_names[] = {
    "None", "bool", "int", "float", "str", "tuple", "list", "dict", "global", "storage", "tensor",
};

/* The only names a pickle may import. */
typedef enum pk_global {
    G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER,
    G_STORAGE_FIRST,
    G_FLOAT = G_STORAGE_FIRST, G_HALF, G_BFLOAT16, G_DOUBLE, G_LONG, G_INT, G_SHORT, G_CHAR,
    G_BYTE, G_BOOL,
    G_COUNT
} pk_global;

static const struct {
    const char *module, *name;
    pe_dtype dtype;   /* storages */
} pk_globals[G_COUNT] = {
    [G_ORDERED_DICT] = {"collections", "OrderedDict", PE_DT_COUNT},
    [G_REBUILD_TENSOR_V2] = {"torch._utils", "_rebuild_tensor_v2", PE_DT_COUNT},
    [G_REBUILD_PARAMETER] = {"torch._utils", "_rebuild_parameter", PE_DT_COUNT},
    [G_FLOAT] = {"torch", "FloatStorage", PE_DT_F32},
    [G_HALF] = {"torch", "HalfStorage", PE_DT_F16},
    [G_BFLOAT16] = {"torch", "BFloat16Storage", PE_DT_BF16},
    [G_DOUBLE] = {"torch", "DoubleStorage", PE_DT_F64},
    [G_LONG] = {"torch", "LongStorage", PE_DT_I64},
    [G_INT] = {"torch", "IntStorage", PE_DT_I32},
    [G_SHORT] = {"torch", "ShortStorage", PE_DT_I16},
    [G_CHAR] = {"torch", "CharStorage", PE_DT_I8},
    [G_BYTE] = {"torch", "ByteStorage", PE_DT_U8},
    [G_BOOL] = {"torch", "BoolStorage", PE_DT_BOOL},
};

typedef struct pk_tensor {
    uint32_t storage;              /* object index */
    uint64_t offset;               /* in elements */
    int rank;
    int64_t shape[PE_ST_MAX_RANK];
    int64_t stride[PE_ST_MAX_RANK];
} pk_tensor;

typedef struct pk_obj {
    uint8_t kind;
    uint8_t depth;                 /* containers: nesting below this one */
    uint32_t n, cap;               /* containers: items used / allocated */
    union {
        int64_t i;                 /* INT, BOOL, GLOBAL (pk_global), TENSOR (index) */
        double f;
        struct { const char *s; uint32_t len; } str;  /* into data.pkl */
        uint32_t *items;           /* TUPLE, LIST; DICT as key, value pairs */
        struct { const zentry *rec; pe_dtype dtype; uint64_t numel; const char *key; uint32_t key_len; } st;
    } u;
} pk_obj;

typedef struct pk_vm {
    const zip *z;
    const uint8_t *p;              /* data.pkl */
    size_t len, pos, op_at;
    pk_obj *obj;
    uint32_t n_obj, cap_obj;
    uint64_t items_used;
    pk_tensor *ten;
    uint32_t n_ten, cap_ten;
    uint32_t *stack;
    uint32_t sp;
    uint32_t marks[PE_PT_MAX_DEPTH];
    uint32_t n_marks;
    uint32_t *memo;                /* UINT32_MAX: unset */
    uint32_t memo_cap, memo_count;
    uint8_t *rec_dtype;            /* per zip entry: dtype + 1 once used as a storage */
} pk_vm;

#define PK_UNSET UINT32_MAX

static pe_status pk_bad(const pk_vm *vm, pe_status s, const char *fmt, ...) PE_PRINTF(3, 4);
static pe_status pk_bad(const pk_vm *vm, pe_status s, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pe_error(s, "pt: pickle: %s (opcode at byte %zu)", msg, vm->op_at);
}

static pe_status pk_new(pk_vm *vm, pk_kind kind, uint32_t *out) {
    if (vm->n_obj >= PE_PT_MAX_OBJECTS)
        return pk_bad(vm, PE_ERR_LIMIT, "more than %d objects", PE_PT_MAX_OBJECTS);
    if (vm->n_obj == vm->cap_obj) {
        const uint32_t cap = vm->cap_obj ? vm->cap_obj * 2 : 256;
        pk_obj *o = realloc(vm->obj, (size_t)cap * sizeof *o);
        if (!o) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
        vm->obj = o;
        vm->cap_obj = cap;
    }
    memset(&vm->obj[vm->n_obj], 0, sizeof *vm->obj);
    vm->obj[vm->n_obj].kind = (uint8_t)kind;
    *out = vm->n_obj++;
    return PE_OK;
}

static pe_status pk_push(pk_vm *vm, uint32_t id) {
    if (vm->sp >= PE_PT_MAX_STACK)
        return pk_bad(vm, PE_ERR_LIMIT, "stack deeper than %d", PE_PT_MAX_STACK);
    vm->stack[vm->sp++] = id;
    return PE_OK;
}

static pe_status pk_push_new(pk_vm *vm, pk_kind kind, int64_t i) {
    uint32_t id;
    pe_status s = pk_new(vm, kind, &id);
    if (s) return s;
    vm->obj[id].u.i = i;
    return pk_push(vm, id);
}

/* Stack bottom for pops: the innermost mark (marks are not objects). */
static uint32_t pk_floor(const pk_vm *vm) { return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0; }

static pe_status pk_pop(pk_vm *vm, uint32_t *out, const char *op) {
    if (vm->sp <= pk_floor(vm)) return pk_bad(vm, PE_ERR_FORMAT, "%s on an empty stack", op);
    *out = vm->stack[--vm->sp];
    return PE_OK;
}

static pe_status pk_top(pk_vm *vm, uint32_t *out, const char *op) {
    if (vm->sp <= pk_floor(vm)) return pk_bad(vm, PE_ERR_FORMAT, "%s on an empty stack", op);
    *out = vm->stack[vm->sp - 1];
    return PE_OK;
}

/* Appends n items to container c, updating its nesting depth. */
static pe_status pk_add(pk_vm *vm, uint32_t c, const uint32_t *items, uint32_t n) {
    pk_obj *o = &vm->obj[c];
    if (vm->items_used + n > PE_PT_MAX_ITEMS)
        return pk_bad(vm, PE_ERR_LIMIT, "more than %d container items", PE_PT_MAX_ITEMS);
    if ((uint64_t)o->n + n > o->cap) {
        uint64_t cap = o->cap ? o->cap : 4;
        while (cap < (uint64_t)o->n + n) cap *= 2;
        uint32_t *p = realloc(o->u.items, (size_t)cap * sizeof *p);
        if (!p) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
        o->u.items = p;
        o->cap = (uint32_t)cap;
    }
    for (uint32_t k = 0; k < n; k++) {
        const pk_obj *it = &vm->obj[items[k]];
        const uint8_t d = (it->kind == PK_TUPLE || it->kind == PK_LIST || it->kind == PK_DICT) ? it->depth : 0;
        if (d + 1 > PE_PT_MAX_DEPTH)
            return pk_bad(vm, PE_ERR_LIMIT, "containers nested deeper than %d", PE_PT_MAX_DEPTH);
        if (d + 1 > o->depth) o->depth = (uint8_t)(d + 1);
        o->u.items[o->n++] = items[k];
    }
    vm->items_used += n;
    return PE_OK;
}

/* Builds a tuple of the top n stack slots. */
static pe_status pk_tuple(pk_vm *vm, uint32_t n) {
    if (vm->sp - pk_floor(vm) < n) return pk_bad(vm, PE_ERR_FORMAT, "TUPLE%u on a stack of %u", n, vm->sp - pk_floor(vm));
    uint32_t id;
    pe_status s = pk_new(vm, PK_TUPLE, &id);
    if (!s) s = pk_add(vm, id, vm->stack + vm->sp - n, n);
    if (s) return s;
    vm->sp -= n;
    return pk_push(vm, id);
}

static pe_status pk_need(const pk_vm *vm, size_t n) {
    if (n > vm->len - vm->pos)
        return pk_bad(vm, PE_ERR_FORMAT, "argument of %zu bytes runs past the end of data.pkl", n);
    return PE_OK;
}

static pe_status pk_global_named(pk_vm *vm, const char *mod, size_t ml, const char *name, size_t nl) {
    for (int g = 0; g < G_COUNT; g++)
        if (strlen(pk_globals[g].module) == ml && !memcmp(pk_globals[g].module, mod, ml) &&
            strlen(pk_globals[g].name) == nl && !memcmp(pk_globals[g].name, name, nl))
            return pk_push_new(vm, PK_GLOBAL, g);
    return pk_bad(vm, PE_ERR_UNSUPPORTED, "global '%.*s.%.*s' is not allowed", (int)PE_MIN(ml, 64), mod,
                  (int)PE_MIN(nl, 64), name);
}

static bool pk_is(const pk_vm *vm, uint32_t id, pk_kind k) { return vm->obj[id].kind == k; }

static bool pk_str_eq(const pk_vm *vm, uint32_t id, const char *s) {
    const pk_obj *o = &vm->obj[id];
    return o->kind == PK_STR && o->u.str.len == strlen(s) && !memcmp(o->u.str.s, s, o->u.str.len);
}

/* BINPERSID: ('storage', <storage type>, key, location, numel). */
static pe_status pk_persistent(pk_vm *vm, uint32_t pid) {
    const pk_obj *t = &vm->obj[pid];
    if (t->kind != PK_TUPLE || t->n != 5 || !pk_str_eq(vm, t->u.items[0], "storage"))
        return pk_bad(vm, PE_ERR_FORMAT, "persistent id is not ('storage', type, key, location, numel)");
    const uint32_t *a = t->u.items;
    const pk_obj *ty = &vm->obj[a[1]], *key = &vm->obj[a[2]], *n = &vm->obj[a[4]];
    if (ty->kind != PK_GLOBAL || ty->u.i < G_STORAGE_FIRST)
        return pk_bad(vm, PE_ERR_UNSUPPORTED, "persistent id: storage type is a %s, not a torch storage class",
                      ty->kind == PK_GLOBAL ? pk_globals[ty->u.i].name : pk_kind_names[ty->kind]);
    if (key->kind != PK_STR || key->u.str.len == 0 || key->u.str.len > 64 ||
        memchr(key->u.str.s, '/', key->u.str.len) || memchr(key->u.str.s, 0, key->u.str.len))
        return pk_bad(vm, PE_ERR_FORMAT, "persistent id: storage key is not a short name");
    if (!pk_is(vm, a[3], PK_STR)) return pk_bad(vm, PE_ERR_FORMAT, "persistent id: location is not a string");
    if (n->kind != PK_INT || n->u.i < 0)
        return pk_bad(vm, PE_ERR_FORMAT, "persistent id: element count is not a non-negative integer");
    char rec[80];
    const int rl = snprintf(rec, sizeof rec, "data/%.*s", (int)key->u.str.len, key->u.str.s);
    const zentry *e = zip_find(vm->z, rec, (size_t)rl);
    if (!e) return pk_bad(vm, PE_ERR_FORMAT, "storage record '%s' is missing from the archive", rec);
    const pe_dtype dt = pk_globals[ty->u.i].dtype;
    uint64_t bytes;
    if (!pe_mul_u64((uint64_t)n->u.i, pe_dtype_size(dt), &bytes) || bytes != e->size)
        return pk_bad(vm, PE_ERR_FORMAT, "storage '%s' (%s): %llu elements x %zu bytes do not match the "
                      "record's %llu bytes", rec, pk_globals[ty->u.i].name, (unsigned long long)n->u.i,
                      pe_dtype_size(dt), (unsigned long long)e->size);
    /* torch loads a key once: a second id for the same key must agree. */
    uint8_t *tag = &vm->rec_dtype[e - vm->z->e];
    if (*tag && *tag != dt + 1)
        return pk_bad(vm, PE_ERR_FORMAT, "storage '%s' is used as %s and as %s", rec,
                      pe_dtype_name((pe_dtype)(*tag - 1)), pe_dtype_name(dt));
    *tag = (uint8_t)(dt + 1);
    uint32_t id;
    pe_status s = pk_new(vm, PK_STORAGE, &id);
    if (s) return s;
    pk_obj *o = &vm->obj[id];
    o->u.st.rec = e;
    o->u.st.dtype = dt;
    o->u.st.numel = (uint64_t)n->u.i;
    o->u.st.key = key->u.str.s;
    o->u.st.key_len = key->u.str.len;
    return pk_push(vm, id);
}

static pe_status pk_int_tuple(pk_vm *vm, uint32_t id, const char *what, int64_t *out, int *rank) {
    const pk_obj *t = &vm->obj[id];
    if (t->kind != PK_TUPLE) return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: %s is not a tuple", what);
    if (t->n > PE_ST_MAX_RANK)
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: %s has rank %u, above %d", what, t->n, PE_ST_MAX_RANK);
    for (uint32_t i = 0; i < t->n; i++) {
        const pk_obj *d = &vm->obj[t->u.items[i]];
        if (d->kind != PK_INT || d->u.i < 0)
            return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: %s[%u] is not a non-negative integer", what, i);
        out[i] = d->u.i;
    }
    *rank = (int)t->n;
    return PE_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]):
 * the view must lie inside its storage. */
static pe_status pk_rebuild_tensor(pk_vm *vm, uint32_t args) {
    const pk_obj *a = &vm->obj[args];
    if (a->n != 6 && a->n != 7)
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %u", a->n);
    const uint32_t *v = a->u.items;
    if (!pk_is(vm, v[0], PK_STORAGE))
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: argument 1 is a %s, not a storage",
                      pk_kind_names[vm->obj[v[0]].kind]);
    if (!pk_is(vm, v[1], PK_INT) || vm->obj[v[1]].u.i < 0)
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: storage offset is not a non-negative integer");
    pk_tensor t = {.storage = v[0], .offset = (uint64_t)vm->obj[v[1]].u.i};
    int srank;
    pe_status s = pk_int_tuple(vm, v[2], "size", t.shape, &t.rank);
    if (!s) s = pk_int_tuple(vm, v[3], "stride", t.stride, &srank);
    if (s) return s;
    if (srank != t.rank)
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: size has rank %d, stride %d", t.rank, srank);
    const uint64_t numel_st = vm->obj[v[0]].u.st.numel;
    uint64_t numel = 1, last = t.offset;
    for (int i = 0; i < t.rank; i++)
        if (!pe_mul_u64(numel, (uint64_t)t.shape[i], &numel))
            return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: element count overflows");
    for (int i = 0; numel && i < t.rank; i++) {
        uint64_t span;
        if (!pe_mul_u64((uint64_t)t.shape[i] - 1, (uint64_t)t.stride[i], &span) ||
            __builtin_add_overflow(last, span, &last))
            return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: view extent overflows");
    }
    if (numel && last >= numel_st)
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: view reaches element %llu of a storage of %llu",
                      (unsigned long long)last, (unsigned long long)numel_st);
    if (!numel && t.offset > numel_st)
        return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_tensor_v2: offset %llu past a storage of %llu",
                      (unsigned long long)t.offset, (unsigned long long)numel_st);
    if (vm->n_ten == vm->cap_ten) {
        const uint32_t cap = vm->cap_ten ? vm->cap_ten * 2 : 64;
        pk_tensor *p = realloc(vm->ten, (size_t)cap * sizeof *p);
        if (!p) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
        vm->ten = p;
        vm->cap_ten = cap;
    }
    vm->ten[vm->n_ten] = t;
    return pk_push_new(vm, PK_TENSOR, vm->n_ten++);
}

static pe_status pk_reduce(pk_vm *vm) {
    uint32_t args = 0, fn = 0;
    pe_status s = pk_pop(vm, &args, "REDUCE");
    if (!s) s = pk_pop(vm, &fn, "REDUCE");
    if (s) return s;
    if (!pk_is(vm, fn, PK_GLOBAL))
        return pk_bad(vm, PE_ERR_FORMAT, "REDUCE calls a %s", pk_kind_names[vm->obj[fn].kind]);
    if (!pk_is(vm, args, PK_TUPLE)) return pk_bad(vm, PE_ERR_FORMAT, "REDUCE arguments are not a tuple");
    const pk_obj *a = &vm->obj[args];
    switch (vm->obj[fn].u.i) {
    case G_ORDERED_DICT:
        if (a->n != 0) return pk_bad(vm, PE_ERR_FORMAT, "OrderedDict() called with arguments");
        return pk_push_new(vm, PK_DICT, 0);
    case G_REBUILD_TENSOR_V2:
        return pk_rebuild_tensor(vm, args);
    case G_REBUILD_PARAMETER:
        if (a->n != 3 || !pk_is(vm, a->u.items[0], PK_TENSOR))
            return pk_bad(vm, PE_ERR_FORMAT, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
        return pk_push(vm, a->u.items[0]);
    default:
        return pk_bad(vm, PE_ERR_UNSUPPORTED, "global 'torch.%s' cannot be called",
                      pk_globals[vm->obj[fn].u.i].name);
    }
}

/* Pops everything above the innermost mark, and the mark. */
static pe_status pk_pop_mark(pk_vm *vm, uint32_t *from, const char *op) {
    if (!vm->n_marks) return pk_bad(vm, PE_ERR_FORMAT, "%s without a MARK", op);
    *from = vm->marks[--vm->n_marks];
    return PE_OK;
}

static pe_status pk_memo_put(pk_vm *vm, uint64_t key) {
    uint32_t top = 0;
    pe_status s = pk_top(vm, &top, "PUT");
    if (s) return s;
    if (key >= PE_PT_MAX_MEMO)
        return pk_bad(vm, PE_ERR_LIMIT, "memo key %llu above the limit of %d", (unsigned long long)key,
                      PE_PT_MAX_MEMO);
    if (key >= vm->memo_cap) {
        uint64_t cap = vm->memo_cap ? vm->memo_cap : 256;
        while (cap <= key) cap *= 2;
        if (cap > PE_PT_MAX_MEMO) cap = PE_PT_MAX_MEMO;
        uint32_t *m = realloc(vm->memo, (size_t)cap * sizeof *m);
        if (!m) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
        for (uint64_t i = vm->memo_cap; i < cap; i++) m[i] = PK_UNSET;
        vm->memo = m;
        vm->memo_cap = (uint32_t)cap;
    }
    if (vm->memo[key] == PK_UNSET) vm->memo_count++;
    vm->memo[key] = top;
    return PE_OK;
}

static pe_status pk_memo_get(pk_vm *vm, uint64_t key) {
    if (key >= vm->memo_cap || vm->memo[key] == PK_UNSET)
        return pk_bad(vm, PE_ERR_FORMAT, "memo key %llu was never set", (unsigned long long)key);
    return pk_push(vm, vm->memo[key]);
}

static const char *pk_opcode_name(uint8_t op) {
    static const struct { uint8_t op; const char *name; } t[] = {
        {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"},
        {'F', "FLOAT"}, {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"},
        {'M', "BININT2"}, {'N', "NONE"}, {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"},
        {'S', "STRING"}, {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"},
        {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"},
        {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"},
        {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
        {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"},
        {')', "EMPTY_TUPLE"}, {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"},
        {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"},
        {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"},
        {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"},
        {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
        {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
        {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
        {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].op == op) return t[i].name;
    return "unknown";
}

static pe_status pk_string(pk_vm *vm, uint64_t n) {
    if (n > vm->len - vm->pos)
        return pk_bad(vm, PE_ERR_FORMAT, "string of %llu bytes runs past the end of data.pkl",
                      (unsigned long long)n);
    uint32_t id;
    pe_status s;
    if ((s = pk_new(vm, PK_STR, &id))) return s;
    vm->obj[id].u.str.s = (const char *)vm->p + vm->pos;
    vm->obj[id].u.str.len = (uint32_t)n;
    vm->pos += (size_t)n;
    return pk_push(vm, id);
}

/* GLOBAL's "module\nname\n". */
static pe_status pk_line(pk_vm *vm, const char **s, size_t *n) {
    const uint8_t *p = vm->p + vm->pos, *nl = memchr(p, '\n', PE_MIN(vm->len - vm->pos, 256));
    if (!nl) return pk_bad(vm, PE_ERR_FORMAT, "GLOBAL name without a newline within 256 bytes");
    *s = (const char *)p;
    *n = (size_t)(nl - p);
    vm->pos += *n + 1;
    return PE_OK;
}

static pe_status pk_setitems(pk_vm *vm, uint32_t from, const char *op) {
    if (from == 0 || from - 1 < pk_floor(vm)) return pk_bad(vm, PE_ERR_FORMAT, "%s without a target", op);
    const uint32_t d = vm->stack[from - 1], n = vm->sp - from;
    const bool dict = op[0] == 'S';
    if (!pk_is(vm, d, dict ? PK_DICT : PK_LIST))
        return pk_bad(vm, PE_ERR_FORMAT, "%s on a %s", op, pk_kind_names[vm->obj[d].kind]);
    if (dict && n % 2) return pk_bad(vm, PE_ERR_FORMAT, "%s with an odd number of items", op);
    pe_status s = pk_add(vm, d, vm->stack + from, n);
    vm->sp = from;
    return s;
}

/* One opcode.  *stop set at STOP. */
static pe_status pk_step(pk_vm *vm, bool *stop) {
    vm->op_at = vm->pos;
    const uint8_t op = vm->p[vm->pos++];
    const uint8_t *a = vm->p + vm->pos;
    const size_t left = vm->len - vm->pos;
    uint32_t x = 0, y = 0, from = 0;
    pe_status s = PE_OK;
#define NEED(n) do { if ((s = pk_need(vm, (n)))) return s; } while (0)
    switch (op) {
    case 0x80: /* PROTO */
        NEED(1);
        if (a[0] < 2 || a[0] > 5) return pk_bad(vm, PE_ERR_UNSUPPORTED, "protocol %u (2..5 are read)", a[0]);
        vm->pos++;
        return PE_OK;
    case 0x95: /* FRAME: framing is only a hint to buffered readers */
        NEED(8);
        if (rd64(a) > left - 8) return pk_bad(vm, PE_ERR_FORMAT, "FRAME of %llu bytes runs past the end",
                                              (unsigned long long)rd64(a));
        vm->pos += 8;
        return PE_OK;
    case '.': *stop = true; return PE_OK;
    case '(':
        if (vm->n_marks >= PE_PT_MAX_DEPTH) return pk_bad(vm, PE_ERR_LIMIT, "MARKs nested deeper than %d", PE_PT_MAX_DEPTH);
        vm->marks[vm->n_marks++] = vm->sp;
        return PE_OK;
    case '}': return pk_push_new(vm, PK_DICT, 0);
    case ']': return pk_push_new(vm, PK_LIST, 0);
    case ')': return pk_tuple(vm, 0);
    case 0x85: return pk_tuple(vm, 1);
    case 0x86: return pk_tuple(vm, 2);
    case 0x87: return pk_tuple(vm, 3);
    case 't':
        if ((s = pk_pop_mark(vm, &from, "TUPLE"))) return s;
        return pk_tuple(vm, vm->sp - from);
    case 'N': return pk_push_new(vm, PK_NONE, 0);
    case 0x88: return pk_push_new(vm, PK_BOOL, 1);
    case 0x89: return pk_push_new(vm, PK_BOOL, 0);
    case 'K': NEED(1); vm->pos += 1; return pk_push_new(vm, PK_INT, a[0]);
    case 'M': NEED(2); vm->pos += 2; return pk_push_new(vm, PK_INT, rd16(a));
    case 'J': NEED(4); vm->pos += 4; return pk_push_new(vm, PK_INT, (int32_t)rd32(a));
    case 0x8a: { /* LONG1: little-endian two's complement, up to 8 bytes here */
        NEED(1);
        const uint8_t n = a[0];
        if (n > 8) return pk_bad(vm, PE_ERR_UNSUPPORTED, "LONG1 of %u bytes (integers above 64 bits)", n);
        NEED(1u + n);
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--) v = v << 8 | a[1 + i];
        if (n && n < 8 && (a[n] & 0x80)) v |= ~(uint64_t)0 << (8 * n);
        vm->pos += 1u + n;
        return pk_push_new(vm, PK_INT, (int64_t)v);
    }
    case 'G': {
        NEED(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | a[i]; /* big-endian */
        double d;
        memcpy(&d, &bits, sizeof d);
        vm->pos += 8;
        if ((s = pk_new(vm, PK_FLOAT, &x))) return s;
        vm->obj[x].u.f = d;
        return pk_push(vm, x);
    }
    case 'X': NEED(4); vm->pos += 4; return pk_string(vm, rd32(a));
    case 0x8c: NEED(1); vm->pos += 1; return pk_string(vm, a[0]);
    case 0x8d: NEED(8); vm->pos += 8; return pk_string(vm, rd64(a));
    case 'c': {
        const char *mod, *name;
        size_t ml, nl;
        if ((s = pk_line(vm, &mod, &ml)) || (s = pk_line(vm, &name, &nl))) return s;
        return pk_global_named(vm, mod, ml, name, nl);
    }
    case 0x93: /* STACK_GLOBAL */
        if ((s = pk_pop(vm, &y, "STACK_GLOBAL")) || (s = pk_pop(vm, &x, "STACK_GLOBAL"))) return s;
        if (!pk_is(vm, x, PK_STR) || !pk_is(vm, y, PK_STR))
            return pk_bad(vm, PE_ERR_FORMAT, "STACK_GLOBAL operands are not strings");
        return pk_global_named(vm, vm->obj[x].u.str.s, vm->obj[x].u.str.len, vm->obj[y].u.str.s,
                               vm->obj[y].u.str.len);
    case 'Q': /* BINPERSID */
        if ((s = pk_pop(vm, &x, "BINPERSID"))) return s;
        return pk_persistent(vm, x);
    case 'R': return pk_reduce(vm);
    case 'b': /* BUILD: state of an OrderedDict (its _metadata) or a tensor: dropped */
        if ((s = pk_pop(vm, &y, "BUILD")) || (s = pk_top(vm, &x, "BUILD"))) return s;
        if (!pk_is(vm, x, PK_DICT) && !pk_is(vm, x, PK_TENSOR))
            return pk_bad(vm, PE_ERR_UNSUPPORTED, "BUILD on a %s", pk_kind_names[vm->obj[x].kind]);
        return PE_OK;
    case 's':
        if (vm->sp < pk_floor(vm) + 3) return pk_bad(vm, PE_ERR_FORMAT, "SETITEM on a stack of %u", vm->sp - pk_floor(vm));
        return pk_setitems(vm, vm->sp - 2, "SETITEM");
    case 'u':
        if ((s = pk_pop_mark(vm, &from, "SETITEMS"))) return s;
        return pk_setitems(vm, from, "SETITEMS");
    case 'a':
        if (vm->sp < pk_floor(vm) + 2) return pk_bad(vm, PE_ERR_FORMAT, "APPEND on a stack of %u", vm->sp - pk_floor(vm));
        return pk_setitems(vm, vm->sp - 1, "APPEND");
    case 'e':
        if ((s = pk_pop_mark(vm, &from, "APPENDS"))) return s;
        return pk_setitems(vm, from, "APPENDS");
    case '0': return pk_pop(vm, &x, "POP");
    case '1':
        if ((s = pk_pop_mark(vm, &from, "POP_MARK"))) return s;
        vm->sp = from;
        return PE_OK;
    case 'q': NEED(1); vm->pos += 1; return pk_memo_put(vm, a[0]);
    case 'r': NEED(4); vm->pos += 4; return pk_memo_put(vm, rd32(a));
    case 0x94: return pk_memo_put(vm, vm->memo_count);
    case 'h': NEED(1); vm->pos += 1; return pk_memo_get(vm, a[0]);
    case 'j': NEED(4); vm->pos += 4; return pk_memo_get(vm, rd32(a));
    default:
        return pk_bad(vm, PE_ERR_UNSUPPORTED, "opcode 0x%02x '%s' is not allowed", op, pk_opcode_name(op));
    }
#undef NEED
}

/* Pickle item rules on the pops above: SETITEM/APPEND pop one entry's
 * worth above the target, which pk_setitems handles as a mark at sp - k. */

static pe_status pk_run(pk_vm *vm, uint32_t *root) {
    bool stop = false;
    while (!stop) {
        if (vm->pos >= vm->len) {
            vm->op_at = vm->pos;
            return pk_bad(vm, PE_ERR_FORMAT, "data.pkl ends without STOP");
        }
        const pe_status s = pk_step(vm, &stop);
        if (s) return s;
    }
    if (vm->n_marks) return pk_bad(vm, PE_ERR_FORMAT, "STOP with %u open MARKs", vm->n_marks);
    if (vm->sp != 1) return pk_bad(vm, PE_ERR_FORMAT, "STOP with %u values on the stack, not 1", vm->sp);
    if (vm->pos != vm->len)
        return pk_bad(vm, PE_ERR_FORMAT, "%zu bytes after STOP", vm->len - vm->pos);
    *root = vm->stack[0];
    return PE_OK;
}

static void pk_free(pk_vm *vm) {
    for (uint32_t i = 0; i < vm->n_obj; i++) {
        const uint8_t k = vm->obj[i].kind;
        if (k == PK_TUPLE || k == PK_LIST || k == PK_DICT) free(vm->obj[i].u.items);
    }
    free(vm->obj);
    free(vm->ten);
    free(vm->stack);
    free(vm->memo);
    free(vm->rec_dtype);
}

/* ================================================================ result */

/* The state dict: the root, or its "state_dict" / "weights" / "model" /
 * "teacher" (Franca's releases) entry (up to two levels) when the root
 * holds no tensor itself. */
static pe_status pt_state_dict(const pk_vm *vm, uint32_t root, uint32_t *out) {
    static const char *const wrap[] = {"state_dict", "weights", "model", "teacher"};
    for (int level = 0; level < 3; level++) {
        const pk_obj *d = &vm->obj[root];
        if (d->kind != PK_DICT)
            return pe_error(PE_ERR_FORMAT, "pt: the pickle holds a %s, not a dict of tensors", pk_kind_names[d->kind]);
        bool tensors = false;
        for (uint32_t i = 0; i < d->n; i += 2) tensors |= pk_is(vm, d->u.items[i + 1], PK_TENSOR);
        if (tensors) {
            *out = root;
            return PE_OK;
        }
        uint32_t next = PK_UNSET;
        for (int w = 0; w < 4 && next == PK_UNSET; w++)
            for (uint32_t i = 0; i < d->n; i += 2)
                if (pk_str_eq(vm, d->u.items[i], wrap[w]) && pk_is(vm, d->u.items[i + 1], PK_DICT)) {
                    next = d->u.items[i + 1];
                    break;
                }
        if (next == PK_UNSET) break;
        root = next;
    }
    return pe_error(PE_ERR_FORMAT, "pt: no tensors found (neither at the top level nor under "
                    "'state_dict', 'weights', 'model' or 'teacher')");
}

static bool pt_contiguous(const pk_tensor *t) {
    int64_t want = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != want) return false;
        want *= t->shape[i];
    }
    return true;
}

/* Copies a strided view into dst, element by element (rank <= 8). */
static void pt_gather(const pk_tensor *t, const uint8_t *src, size_t es, uint64_t numel, uint8_t *dst) {
    int64_t idx[PE_ST_MAX_RANK] = {0};
    uint64_t off = t->offset;
    for (uint64_t n = 0; n < numel; n++) {
        memcpy(dst + n * es, src + off * es, es);
        for (int d = t->rank - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) {
                off += (uint64_t)t->stride[d];
                break;
            }
            off -= (uint64_t)t->stride[d] * (uint64_t)(t->shape[d] - 1);
            idx[d] = 0;
        }
    }
}

static int pt_name_cmp(const void *a, const void *b) {
    return strcmp((*(const pe_st_tensor *const *)a)->name, (*(const pe_st_tensor *const *)b)->name);
}

/* Names must be unique, also after dropping "module.". */
static pe_status pt_check_names(const pe_safetensors *st) {
    const pe_st_tensor **v = malloc((size_t)(st->n_tensors ? st->n_tensors : 1) * sizeof *v);
    if (!v) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
    for (int i = 0; i < st->n_tensors; i++) v[i] = &st->tensors[i];
    qsort(v, (size_t)st->n_tensors, sizeof *v, pt_name_cmp);
    pe_status s = PE_OK;
    for (int i = 1; i < st->n_tensors && !s; i++)
        if (!strcmp(v[i - 1]->name, v[i]->name))
            s = pe_error(PE_ERR_FORMAT, "pt: duplicate tensor '%.*s'", PT_NAME_MAX, v[i]->name);
    free(v);
    return s;
}

static pe_status pt_fill(pe_safetensors *st, const pk_vm *vm, uint32_t sd) {
    const pk_obj *d = &vm->obj[sd];
    uint32_t n = 0;
    uint64_t owned = 0;
    for (uint32_t i = 0; i < d->n; i += 2) {
        const uint32_t k = d->u.items[i], v = d->u.items[i + 1];
        if (!pk_is(vm, v, PK_TENSOR)) continue; /* e.g. counters kept beside the weights */
        if (!pk_is(vm, k, PK_STR)) return pe_error(PE_ERR_FORMAT, "pt: a tensor's key is a %s, not a string",
                                                   pk_kind_names[vm->obj[k].kind]);
        const pk_tensor *t = &vm->ten[vm->obj[v].u.i];
        const pk_obj *so = &vm->obj[t->storage];
        uint64_t numel = 1, bytes;
        for (int r = 0; r < t->rank; r++) numel *= (uint64_t)t->shape[r]; /* checked at rebuild */
        if (!pt_contiguous(t) && numel) {
            if (!pe_mul_u64(numel, pe_dtype_size(so->u.st.dtype), &bytes) ||
                __builtin_add_overflow(owned, bytes, &owned) || owned > vm->z->len + (64u << 20))
                return pe_error(PE_ERR_LIMIT, "pt: non-contiguous tensors need more memory than the file size");
        }
        n++;
    }
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st->owned = owned ? malloc((size_t)owned) : NULL;
    if (!st->tensors || (owned && !st->owned)) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
    st->owned_size = (size_t)owned;
    uint64_t at = 0;
    for (uint32_t i = 0; i < d->n; i += 2) {
        const uint32_t k = d->u.items[i], v = d->u.items[i + 1];
        if (!pk_is(vm, v, PK_TENSOR)) continue;
        const pk_obj *ko = &vm->obj[k];
        const char *name = ko->u.str.s;
        size_t nl = ko->u.str.len;
        if (nl >= 7 && !memcmp(name, "module.", 7)) name += 7, nl -= 7;
        if (memchr(name, 0, nl))
            return pe_error(PE_ERR_FORMAT, "pt: tensor name '%.*s' holds a NUL byte", (int)PE_MIN(nl, PT_NAME_MAX), name);
        pe_st_tensor *o = &st->tensors[st->n_tensors];
        if (!(o->name = strndup(name, nl))) return pe_error(PE_ERR_NOMEM, "pt: out of memory");
        st->n_tensors++;
        const pk_tensor *t = &vm->ten[vm->obj[v].u.i];
        const pk_obj *so = &vm->obj[t->storage];
        const size_t es = pe_dtype_size(so->u.st.dtype);
        o->dtype = so->u.st.dtype;
        o->rank = t->rank;
        o->numel = 1;
        for (int r = 0; r < t->rank; r++) {
            o->shape[r] = t->shape[r];
            o->numel *= (uint64_t)t->shape[r];
        }
        o->nbytes = o->numel * es;  /* <= storage bytes or counted in owned */
        const uint8_t *src = vm->z->buf + so->u.st.rec->data;
        if (pt_contiguous(t) || !o->numel) {
            o->data = src + (o->numel ? t->offset * es : 0);
            o->offset = (uint64_t)((const uint8_t *)o->data - vm->z->buf);
        } else {
            pt_gather(t, src, es, o->numel, st->owned + at);
            o->data = st->owned + at;
            at += o->nbytes;
        }
    }
    return pt_check_names(st);
}

pe_status pe_pt_parse(pe_safetensors *st, const uint8_t *buf, size_t len) {
    if (!st) return pe_error(PE_ERR_INVALID_ARG, "pt: st is NULL");
    memset(st, 0, sizeof *st);
    if (!buf && len) return pe_error(PE_ERR_INVALID_ARG, "pt: buffer is NULL");
    zip z = {.buf = buf, .len = len};
    pk_vm vm = {.z = &z};
    const zentry *pkl = NULL;
    uint32_t root = 0, sd = 0;
    pe_status s = zip_open(&z);
    if (!s) s = zip_layout(&z, &pkl);
    if (!s && pkl->size > PE_PT_MAX_PICKLE)
        s = pe_error(PE_ERR_LIMIT, "pt: data.pkl of %llu bytes exceeds the limit of %u",
                     (unsigned long long)pkl->size, PE_PT_MAX_PICKLE);
    if (!s) {
        vm.p = buf + pkl->data;
        vm.len = (size_t)pkl->size;
        vm.stack = malloc(PE_PT_MAX_STACK * sizeof *vm.stack);
        vm.rec_dtype = calloc(z.n ? z.n : 1, 1);
        if (!vm.stack || !vm.rec_dtype) s = pe_error(PE_ERR_NOMEM, "pt: out of memory");
    }
    if (!s) s = pk_run(&vm, &root);
    if (!s) s = pt_state_dict(&vm, root, &sd);
    st->base = buf;
    st->size = len;
    if (!s) s = pt_fill(st, &vm, sd);
    pk_free(&vm);
    free(z.e);
    if (s) pe_st_close(st);
    return s;
}

/* ================================================================ opening */

pe_status pe_weights_open(pe_safetensors *st, const char *path, const char *sha256_hex) {
    if (!st || !path) return pe_error(PE_ERR_INVALID_ARG, "weights: st or path is NULL");
    memset(st, 0, sizeof *st);
    uint8_t want[32];
    if (sha256_hex && pe_sha256_parse(sha256_hex, want))
        return pe_error(PE_ERR_INVALID_ARG, "expected SHA-256 '%.70s' is not 64 hex digits", sha256_hex);
    const uint8_t *map;
    size_t size;
    pe_status s = pe_map_file(path, &map, &size);
    if (s) return s;
    /* The bytes hashed are the bytes parsed: one mapping, hashed first. */
    if (sha256_hex) {
        uint8_t got[32];
        char hex[65];
        pe_sha256(map, size, got);
        if (memcmp(got, want, 32) != 0) {
            munmap((void *)map, size);
            pe_sha256_hex(got, hex);
            return pe_error(PE_ERR_CHECKSUM, "%s: SHA-256 is %s, expected %.64s: refusing a corrupt or "
                            "substituted file", path, hex, sha256_hex);
        }
    }
    const uint8_t *b = map;
    if (pe_pt_is_zip(b, size))
        s = pe_pt_parse(st, b, size);
    else if (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
        s = pe_error(PE_ERR_UNSUPPORTED, "a legacy (pre-zip, torch < 1.6) torch.save file; re-save it "
                     "with a recent torch or convert it to safetensors");
    else
        s = pe_st_parse(st, b, size);
    if (s != PE_OK) {
        munmap((void *)map, size);
        return pe_error_prefix(s, "%s", path);
    }
    st->mapped = 1;
    return PE_OK;
}
