/* .pt checkpoints: a tiny zip and pickle writer builds a valid torch.save
 * file (shared storage, a view at an offset, a transposed view, a "module."
 * prefix), then one deliberately broken file per field of the zip and of the
 * pickle (after llama.cpp's test-gguf.cpp), each refused with its own
 * message; every truncation is refused; the golden .pt files load. */
#include "test.h"
#include "format/pt.h"
#include "util/sha256.h"

#include <stdint.h>
#include <unistd.h>

/* ------------------------------------------------------------ byte buffers */

typedef struct buf { uint8_t *p; size_t n, cap; } buf;

static void put(buf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(1);
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void putle(buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) put8(b, (uint8_t)(v >> (8 * i)));
}
static void setle(buf *b, size_t at, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b->p[at + i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------------ zip writer */

typedef struct zent { const char *name; const uint8_t *data; size_t len; int x64; } zent;
typedef struct zfile {
    buf b;
    size_t local[8], central[8], x64[8], eocd, z64, loc;
    int n;
} zfile;

/* Stored entries, central directory, torch's zip64 end records (when zip64),
 * end record.  x64 entries carry their sizes and offset in a zip64 extra. */
static void zip_write(zfile *z, const zent *e, int n, int zip64) {
    memset(z, 0, sizeof *z);
    z->n = n;
    for (int i = 0; i < n; i++) {
        z->local[i] = z->b.n;
        put(&z->b, "PK\x03\x04", 4);
        putle(&z->b, 20, 2); putle(&z->b, 0, 2); putle(&z->b, 0, 2); putle(&z->b, 0, 4);
        putle(&z->b, 0, 4); putle(&z->b, e[i].len, 4); putle(&z->b, e[i].len, 4);
        putle(&z->b, strlen(e[i].name), 2); putle(&z->b, 0, 2);
        put(&z->b, e[i].name, strlen(e[i].name));
        put(&z->b, e[i].data, e[i].len);
    }
    const size_t cd = z->b.n;
    for (int i = 0; i < n; i++) {
        z->central[i] = z->b.n;
        const uint64_t sz = e[i].x64 ? 0xFFFFFFFFu : e[i].len, off = e[i].x64 ? 0xFFFFFFFFu : z->local[i];
        put(&z->b, "PK\x01\x02", 4);
        putle(&z->b, 20, 2); putle(&z->b, 20, 2); putle(&z->b, 0, 2); putle(&z->b, 0, 2);
        putle(&z->b, 0, 4); putle(&z->b, 0, 4); putle(&z->b, sz, 4); putle(&z->b, sz, 4);
        putle(&z->b, strlen(e[i].name), 2); putle(&z->b, e[i].x64 ? 28 : 0, 2); putle(&z->b, 0, 2);
        putle(&z->b, 0, 2); putle(&z->b, 0, 2); putle(&z->b, 0, 4); putle(&z->b, off, 4);
        put(&z->b, e[i].name, strlen(e[i].name));
        if (e[i].x64) {
            putle(&z->b, 1, 2); putle(&z->b, 24, 2);
            z->x64[i] = z->b.n;
            putle(&z->b, e[i].len, 8); putle(&z->b, e[i].len, 8); putle(&z->b, z->local[i], 8);
        }
    }
    const size_t cd_size = z->b.n - cd;
    if (zip64) {
        z->z64 = z->b.n;
        put(&z->b, "PK\x06\x06", 4);
        putle(&z->b, 44, 8); putle(&z->b, 45, 2); putle(&z->b, 45, 2); putle(&z->b, 0, 4);
        putle(&z->b, 0, 4); putle(&z->b, n, 8); putle(&z->b, n, 8); putle(&z->b, cd_size, 8);
        putle(&z->b, cd, 8);
        z->loc = z->b.n;
        put(&z->b, "PK\x06\x07", 4);
        putle(&z->b, 0, 4); putle(&z->b, z->z64, 8); putle(&z->b, 1, 4);
    }
    z->eocd = z->b.n;
    put(&z->b, "PK\x05\x06", 4);
    putle(&z->b, 0, 2); putle(&z->b, 0, 2); putle(&z->b, n, 2); putle(&z->b, n, 2);
    putle(&z->b, cd_size, 4); putle(&z->b, cd, 4); putle(&z->b, 0, 2);
}

/* ------------------------------------------------------------ pickle writer */

static void p_str(buf *b, const char *s) {
    put8(b, 'X');
    putle(b, strlen(s), 4);
    put(b, s, strlen(s));
}
static void p_int(buf *b, int64_t v) {
    if (v >= 0 && v < 256) { put8(b, 'K'); put8(b, (uint8_t)v); }
    else if (v >= INT32_MIN && v <= INT32_MAX) { put8(b, 'J'); putle(b, (uint64_t)v, 4); }
    else { put8(b, 0x8a); put8(b, 8); putle(b, (uint64_t)v, 8); }
}
static void p_global(buf *b, const char *mod, const char *name) {
    put8(b, 'c');
    put(b, mod, strlen(mod)); put8(b, '\n');
    put(b, name, strlen(name)); put8(b, '\n');
}
static void p_ints(buf *b, int n, const int64_t *v) {
    put8(b, '(');
    for (int i = 0; i < n; i++) p_int(b, v[i]);
    put8(b, 't');
}

typedef struct tspec {
    const char *name, *stype, *key;
    int64_t numel, offset;
    int rank, srank;
    int64_t shape[10], stride[10];
    int nargs;          /* 6 or 7; other values for the broken case */
    int param;          /* wrap in _rebuild_parameter */
} tspec;

static void p_tensor(buf *b, const tspec *t) {
    if (t->param) p_global(b, "torch._utils", "_rebuild_parameter");
    if (t->param) put8(b, '(');
    p_global(b, "torch._utils", "_rebuild_tensor_v2");
    put8(b, '(');
    put8(b, '(');
    p_str(b, "storage");
    p_global(b, "torch", t->stype);
    p_str(b, t->key);
    p_str(b, "cpu");
    p_int(b, t->numel);
    put8(b, 't');
    put8(b, 'Q');
    p_int(b, t->offset);
    p_ints(b, t->rank, t->shape);
    p_ints(b, t->srank, t->stride);
    if (t->nargs >= 5) put8(b, 0x89);
    if (t->nargs >= 6) { p_global(b, "collections", "OrderedDict"); put8(b, ')'); put8(b, 'R'); }
    if (t->nargs >= 7) put8(b, 'N');
    put8(b, 't');
    put8(b, 'R');
    if (t->param) { put8(b, 0x89); put8(b, '}'); put8(b, 't'); put8(b, 'R'); }
}

static void p_dict(buf *b, const tspec *t, int n) {
    p_global(b, "collections", "OrderedDict");
    put8(b, ')');
    put8(b, 'R');
    put8(b, 'q'); put8(b, 0);
    put8(b, '(');
    for (int i = 0; i < n; i++) {
        p_str(b, t[i].name);
        p_tensor(b, &t[i]);
    }
    put8(b, 'u');
}

/* The template: a [2,3] F32 tensor, a view [2] at offset 2 of the same
 * storage, its transpose (non-contiguous), an F16 tensor under "module.". */
static tspec T[4];
static void template_tensors(void) {
    const tspec t[4] = {
        {"a", "FloatStorage", "0", 6, 0, 2, 2, {2, 3}, {3, 1}, 6, 0},
        {"b", "FloatStorage", "0", 6, 2, 1, 1, {2}, {1}, 7, 0},
        {"t", "FloatStorage", "0", 6, 0, 2, 2, {3, 2}, {1, 3}, 6, 1},
        {"module.h", "HalfStorage", "1", 4, 0, 1, 1, {4}, {1}, 6, 0},
    };
    memcpy(T, t, sizeof t);
}

static const float g_f32[6] = {0, 1, 2, 3, 4, 5};
static const uint16_t g_f16[4] = {0x3c00, 0x4000, 0x4200, 0x4400};

typedef struct fspec {
    const char *wrap;       /* NULL: the dict is the root */
    const char *byteorder;  /* NULL: no entry */
    const char *extra;      /* an extra entry name */
    int zip64, x64;
    const uint8_t *pkl;     /* raw pickle instead of the template's */
    size_t pkl_len;
} fspec;

/* A whole file from tensors ts (or a raw pickle). Returns z (caller frees z->b.p). */
static void build(zfile *z, const tspec *ts, int n, const fspec *f) {
    buf pk = {0};
    if (f->pkl) {
        put(&pk, f->pkl, f->pkl_len);
    } else {
        put8(&pk, 0x80); put8(&pk, 2);
        if (f->wrap) { put8(&pk, '}'); p_str(&pk, "epoch"); p_int(&pk, 3); put8(&pk, 's'); p_str(&pk, f->wrap); }
        p_dict(&pk, ts, n);
        if (f->wrap) put8(&pk, 's');
        put8(&pk, '.');
    }
    zent e[6];
    int k = 0;
    e[k++] = (zent){"archive/data.pkl", pk.p, pk.n, f->x64};
    e[k++] = (zent){"archive/data/0", (const uint8_t *)g_f32, sizeof g_f32, f->x64};
    e[k++] = (zent){"archive/data/1", (const uint8_t *)g_f16, sizeof g_f16, 0};
    e[k++] = (zent){"archive/version", (const uint8_t *)"3\n", 2, 0};
    if (f->byteorder) e[k++] = (zent){"archive/byteorder", (const uint8_t *)f->byteorder, strlen(f->byteorder), 0};
    if (f->extra) e[k++] = (zent){f->extra, (const uint8_t *)"x", 1, 0};
    zip_write(z, e, k, f->zip64);
    free(pk.p);
}

/* ------------------------------------------------------------ expectations */

static int expect(const uint8_t *p, size_t n, pe_status want, const char *w1, const char *w2, int line) {
    pe_safetensors st;
    pe_error_clear();
    const pe_status got = pe_pt_parse(&st, p, n);
    if (getenv("PE_TEST_VERBOSE")) printf("  %d: %s\n", line, pe_last_error());
    CHECK(got == want, "line %d: status '%s', want '%s' (%s)", line, pe_status_string(got),
          pe_status_string(want), pe_last_error());
    if (w1) CHECK(strstr(pe_last_error(), w1) != NULL, "line %d: message '%s' lacks '%s'", line, pe_last_error(), w1);
    if (w2) CHECK(strstr(pe_last_error(), w2) != NULL, "line %d: message '%s' lacks '%s'", line, pe_last_error(), w2);
    if (got == PE_OK) pe_st_close(&st);
    else CHECK(st.tensors == NULL && st.n_tensors == 0 && st.owned == NULL, "line %d: st not cleared", line);
    return got == want;
}

#define EXPECT(z, st, w1, w2) expect((z)->b.p, (z)->b.n, st, w1, w2, __LINE__)
#define FMT PE_ERR_FORMAT
#define UNS PE_ERR_UNSUPPORTED
#define LIM PE_ERR_LIMIT

static const fspec F0 = {0};

/* The template with one tensor replaced. */
static void tensor_case(tspec t, pe_status want, const char *w1, const char *w2, int line) {
    zfile z;
    template_tensors();
    T[0] = t;
    build(&z, T, 4, &F0);
    expect(z.b.p, z.b.n, want, w1, w2, line);
    free(z.b.p);
}
#define TENSOR(t, st, w1, w2) tensor_case(t, st, w1, w2, __LINE__)

/* A file whose data.pkl is raw bytes. */
static void pickle_case(const uint8_t *p, size_t n, pe_status want, const char *w1, const char *w2, int line) {
    zfile z;
    fspec f = {0};
    f.pkl = p;
    f.pkl_len = n;
    build(&z, NULL, 0, &f);
    expect(z.b.p, z.b.n, want, w1, w2, line);
    free(z.b.p);
}
#define PICKLE(s, st, w1, w2) pickle_case((const uint8_t *)(s), sizeof(s) - 1, st, w1, w2, __LINE__)

/* ------------------------------------------------------------ tests */

static void test_valid(void) {
    zfile z;
    template_tensors();
    for (int zip64 = 0; zip64 < 2; zip64++) {
        fspec f = {0};
        f.zip64 = zip64;
        f.byteorder = zip64 ? "little" : NULL;
        build(&z, T, 4, &f);
        pe_safetensors st;
        pe_status s = pe_pt_parse(&st, z.b.p, z.b.n);
        CHECK(s == PE_OK, "template (zip64 %d): %s", zip64, pe_last_error());
        if (!s) {
            CHECK(st.n_tensors == 4, "4 tensors, got %d", st.n_tensors);
            const pe_st_tensor *a = pe_st_find(&st, "a"), *b = pe_st_find(&st, "b"),
                               *t = pe_st_find(&st, "t"), *h = pe_st_find(&st, "h");
            CHECK(a && b && t && h && !pe_st_find(&st, "module.h"), "names (module. dropped)");
            if (a && b && t && h) {
                CHECK(a->dtype == PE_DT_F32 && a->rank == 2 && a->shape[0] == 2 && a->shape[1] == 3 &&
                      a->numel == 6 && a->nbytes == 24, "a's shape");
                CHECK(memcmp(a->data, g_f32, 24) == 0, "a's data");
                CHECK((const uint8_t *)a->data >= z.b.p && (const uint8_t *)a->data < z.b.p + z.b.n,
                      "contiguous tensors point into the file");
                CHECK((const float *)b->data == (const float *)a->data + 2 && b->numel == 2,
                      "b is a view of a's storage at offset 2");
                const float *tv = t->data;
                CHECK(t->rank == 2 && t->shape[0] == 3 && tv[0] == 0 && tv[1] == 3 && tv[2] == 1 &&
                      tv[3] == 4 && tv[4] == 2 && tv[5] == 5, "transposed view copied in order");
                CHECK((const uint8_t *)tv == st.owned && st.owned_size == 24, "copy lives in st.owned");
                CHECK(h->dtype == PE_DT_F16 && memcmp(h->data, g_f16, 8) == 0, "h is F16");
            }
            pe_st_close(&st);
        }
        free(z.b.p);
    }
    /* Wrappers, zip64 extra fields, scalars, empty tensors, stride 0. */
    const char *wraps[] = {"state_dict", "weights", "model"};
    for (int i = 0; i < 3; i++) {
        fspec f = {0};
        f.wrap = wraps[i];
        f.x64 = i == 0;
        f.zip64 = i == 0;
        build(&z, T, 4, &f);
        expect(z.b.p, z.b.n, PE_OK, NULL, NULL, __LINE__);
        free(z.b.p);
    }
    TENSOR(((tspec){"s", "FloatStorage", "0", 6, 5, 0, 0, {0}, {0}, 6, 0}), PE_OK, NULL, NULL);
    TENSOR(((tspec){"e", "FloatStorage", "0", 6, 6, 2, 2, {0, 3}, {3, 1}, 6, 0}), PE_OK, NULL, NULL);
    TENSOR(((tspec){"z", "FloatStorage", "0", 6, 1, 2, 2, {3, 4}, {0, 0}, 6, 0}), PE_OK, NULL, NULL);
    TENSOR(((tspec){"i", "IntStorage", "0", 6, 0, 1, 1, {6}, {1}, 6, 0}), FMT, "is used as", NULL);
}

static void test_zip(void) {
    zfile z;
    template_tensors();
    build(&z, T, 4, &(fspec){.zip64 = 1});
    const size_t len = z.b.n;
    uint8_t *orig = malloc(len);
    memcpy(orig, z.b.p, len);
#define RESET() memcpy(z.b.p, orig, len)

    /* Every truncation is refused, and so is an empty buffer. */
    int all = 1;
    for (size_t cut = 0; cut < len; cut++) {
        pe_safetensors st;
        all &= pe_pt_parse(&st, orig, cut) != PE_OK;
    }
    CHECK(all, "a truncated file was accepted");
    expect(orig, 0, FMT, "shorter than an end-of-central-directory", NULL, __LINE__);
    expect(orig, len - 1, FMT, "no end-of-central-directory record", NULL, __LINE__);
    expect(orig, len / 2, FMT, "no end-of-central-directory", NULL, __LINE__);

    /* End record and zip64 records. */
    setle(&z.b, z.eocd + 4, 1, 2);
    EXPECT(&z, FMT, "multi-disk", NULL); RESET();
    setle(&z.b, z.eocd + 8, 2, 2);
    EXPECT(&z, FMT, "entry counts", NULL); RESET();
    setle(&z.b, z.eocd + 20, 5, 2);
    EXPECT(&z, FMT, "no end-of-central-directory", NULL); RESET();
    setle(&z.b, z.eocd + 16, 7, 4);
    EXPECT(&z, FMT, "zip64 end record disagrees", NULL); RESET();
    setle(&z.b, z.loc + 8, (uint64_t)1 << 63, 8);
    EXPECT(&z, FMT, "zip64 locator points outside", NULL); RESET();
    setle(&z.b, z.loc + 8, UINT64_MAX, 8);
    EXPECT(&z, FMT, "zip64 locator points outside", NULL); RESET();
    setle(&z.b, z.loc + 16, 2, 4);
    EXPECT(&z, FMT, "zip64 locator: multi-disk", NULL); RESET();
    setle(&z.b, z.z64 + 4, 0, 8);
    EXPECT(&z, FMT, "size field below 44", NULL); RESET();
    setle(&z.b, z.z64 + 24, 5, 8);
    EXPECT(&z, FMT, "zip64 end record: entry counts differ", NULL); RESET();
    /* Saturated classic fields defer to the zip64 record: 0, 2^32, 2^63, 2^64-1 there. */
    setle(&z.b, z.eocd + 8, 0xFFFF, 2); setle(&z.b, z.eocd + 10, 0xFFFF, 2);
    setle(&z.b, z.eocd + 12, 0xFFFFFFFF, 4); setle(&z.b, z.eocd + 16, 0xFFFFFFFF, 4);
    EXPECT(&z, PE_OK, NULL, NULL);
    RESET();
#define SAT() (setle(&z.b, z.eocd + 8, 0xFFFF, 2), setle(&z.b, z.eocd + 10, 0xFFFF, 2), \
               setle(&z.b, z.eocd + 12, 0xFFFFFFFF, 4), setle(&z.b, z.eocd + 16, 0xFFFFFFFF, 4))
    const uint64_t big[] = {(uint64_t)1 << 32, (uint64_t)1 << 63, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        SAT(); setle(&z.b, z.z64 + 48, big[i], 8);
        EXPECT(&z, FMT, "central directory", "runs past its end record"); RESET();
        SAT(); setle(&z.b, z.z64 + 40, big[i], 8);
        EXPECT(&z, FMT, "central directory", "runs past its end record"); RESET();
        SAT(); setle(&z.b, z.z64 + 24, big[i], 8); setle(&z.b, z.z64 + 32, big[i], 8);
        EXPECT(&z, LIM, "entries, above the limit", NULL); RESET();
    }
    SAT();
    setle(&z.b, z.z64 + 40, 0, 8);
    EXPECT(&z, FMT, "cannot fit a central directory of 0 bytes", NULL);
    setle(&z.b, z.z64 + 40, 46 * 4 + 16, 8);
    EXPECT(&z, FMT, "central directory", NULL); RESET();
    setle(&z.b, z.eocd + 8, 0, 2); setle(&z.b, z.eocd + 10, 0, 2); setle(&z.b, z.eocd + 12, 0, 4);
    setle(&z.b, z.z64 + 24, 0, 8); setle(&z.b, z.z64 + 32, 0, 8); setle(&z.b, z.z64 + 40, 0, 8);
    EXPECT(&z, FMT, "no '<archive>/data.pkl' entry", NULL); RESET();
    memcpy(z.b.p + z.loc, "PK\x06\x08", 4);
    setle(&z.b, z.eocd + 16, 0xFFFFFFFF, 4);
    EXPECT(&z, FMT, "no zip64 locator", NULL); RESET();

    /* Central directory entries. */
    const size_t c0 = z.central[0], c1 = z.central[1];
    memcpy(z.b.p + c1, "PK\x01\x03", 4);
    EXPECT(&z, FMT, "lacks its signature", NULL); RESET();
    setle(&z.b, c0 + 10, 8, 2);
    EXPECT(&z, UNS, "'archive/data.pkl' is compressed (method 8, deflate)", NULL); RESET();
    setle(&z.b, c0 + 10, 12, 2);
    EXPECT(&z, UNS, "compressed (method 12", NULL); RESET();
    setle(&z.b, c0 + 8, 1, 2);
    EXPECT(&z, UNS, "'archive/data.pkl' is encrypted", NULL); RESET();
    setle(&z.b, c0 + 28, 0, 2);
    EXPECT(&z, FMT, "empty name", NULL); RESET();
    setle(&z.b, c0 + 28, 0xFFFF, 2);
    EXPECT(&z, FMT, "runs past the directory", NULL); RESET();
    setle(&z.b, c0 + 30, 0xFFFF, 2);
    EXPECT(&z, FMT, "runs past the directory", NULL); RESET();
    z.b.p[c0 + 46 + 3] = 0;
    EXPECT(&z, FMT, "holds a NUL byte", NULL); RESET();
    setle(&z.b, c0 + 20, 7, 4);
    EXPECT(&z, FMT, "has sizes 7 and", NULL); RESET();
    const uint32_t lens[] = {0, 0xFFFFFFF0u, 0x7FFFFFFFu};
    for (int i = 0; i < 3; i++) {
        setle(&z.b, c1 + 20, lens[i], 4); setle(&z.b, c1 + 24, lens[i], 4);
        EXPECT(&z, FMT, lens[i] ? "runs past the end of the entries" : "record's 0 bytes", NULL);
    }
    RESET();
    setle(&z.b, c1 + 20, 0xFFFFFFFF, 4); setle(&z.b, c1 + 24, 0xFFFFFFFF, 4);
    EXPECT(&z, FMT, "'archive/data/0': zip64 marker (0xFFFFFFFF) without a zip64 extra field", NULL); RESET();
    setle(&z.b, c1 + 42, 0xFFFFFFFF, 4);
    EXPECT(&z, FMT, "zip64 marker", NULL); RESET();
    setle(&z.b, c1 + 42, len - 10, 4);
    EXPECT(&z, FMT, "'archive/data/0': local header offset", NULL); RESET();
    setle(&z.b, c1 + 42, z.local[0], 4);
    EXPECT(&z, FMT, "local header name differs", NULL); RESET();
    setle(&z.b, c1 + 42, z.local[1] + 1, 4);
    EXPECT(&z, FMT, "not at a local header", NULL); RESET();
    setle(&z.b, c1 + 20, 24 + 30 + 14 + 8, 4); setle(&z.b, c1 + 24, 24 + 30 + 14 + 8, 4);
    EXPECT(&z, FMT, "'archive/data/1' overlaps entry 'archive/data/0'", NULL); RESET();
    memcpy(z.b.p + c1 + 46, "archive/data.pkl", 14); /* name "archive/data.p" vs local */
    EXPECT(&z, FMT, "local header name differs", NULL); RESET();
    setle(&z.b, c0 + 34, 3, 2);
    EXPECT(&z, FMT, "starts on another disk", NULL); RESET();
    setle(&z.b, z.local[0] + 8, 8, 2);
    EXPECT(&z, FMT, "local header disagrees", NULL); RESET();
    setle(&z.b, z.local[0] + 6, 1, 2);
    EXPECT(&z, FMT, "local header disagrees", NULL); RESET();
    setle(&z.b, z.local[0] + 28, 0xFFFF, 2);
    EXPECT(&z, FMT, "local header name differs", NULL); RESET();
    free(z.b.p);
    free(orig);

    /* zip64 extra fields: sizes of 2^32, 2^63, 2^64-1, and a short field. */
    build(&z, T, 4, &(fspec){.zip64 = 1, .x64 = 1});
    EXPECT(&z, PE_OK, NULL, NULL);
    const size_t x = z.x64[1];
    for (int i = 0; i < 3; i++) {
        setle(&z.b, x, big[i], 8); setle(&z.b, x + 8, big[i], 8);
        EXPECT(&z, FMT, "'archive/data/0': data", "runs past the end of the entries");
        setle(&z.b, x, 24, 8); setle(&z.b, x + 8, 24, 8);
        setle(&z.b, x + 16, big[i], 8);
        EXPECT(&z, FMT, "local header offset", NULL);
        setle(&z.b, x + 16, z.local[1], 8);
    }
    setle(&z.b, z.central[1] + 30, 12, 2); /* the extra shrinks: the directory has bytes left over */
    EXPECT(&z, FMT, NULL, NULL);
    setle(&z.b, x - 2, 8, 2);
    setle(&z.b, z.central[1] + 30, 28, 2);
    EXPECT(&z, FMT, "zip64 extra field too short", NULL);
    setle(&z.b, x - 2, 200, 2);
    EXPECT(&z, FMT, "extra field runs past its end", NULL);
    free(z.b.p);

    /* Layout of the archive. */
    build(&z, T, 4, &(fspec){.extra = "archive/constants.pkl"});
    EXPECT(&z, UNS, "TorchScript archive", "archive/constants.pkl");
    free(z.b.p);
    build(&z, T, 4, &(fspec){.extra = "archive/code/__torch__/m.py"});
    EXPECT(&z, UNS, "TorchScript archive", NULL);
    free(z.b.p);
    build(&z, T, 4, &(fspec){.extra = "other/data.pkl"});
    EXPECT(&z, FMT, "two pickles", NULL);
    free(z.b.p);
    build(&z, T, 4, &(fspec){.extra = "archive/data/0"});
    EXPECT(&z, FMT, "duplicate entry 'archive/data/0'", NULL);
    free(z.b.p);
    build(&z, T, 4, &(fspec){.byteorder = "big"});
    EXPECT(&z, UNS, "byteorder is 'big'", NULL);
    free(z.b.p);
    build(&z, T, 4, &(fspec){.byteorder = "littl"});
    EXPECT(&z, UNS, "byteorder is 'littl'", NULL);
    free(z.b.p);
}

static void test_tensors(void) {
    template_tensors();
    const tspec a = T[0];
    tspec t;
#define WITH(field, value) (t = a, t.field = value, t)
    TENSOR(WITH(stype, "LongStorage"), FMT, "storage 'data/0' (LongStorage): 6 elements x 8 bytes",
           "record's 24 bytes");
    TENSOR(WITH(stype, "DoubleStorage"), FMT, "do not match", NULL);
    TENSOR(WITH(stype, "HalfStorage"), FMT, "6 elements x 2 bytes", NULL);
    TENSOR(WITH(numel, 0), FMT, "0 elements x 4 bytes", NULL);
    TENSOR(WITH(numel, (int64_t)1 << 32), FMT, "4294967296 elements", NULL);
    TENSOR(WITH(numel, INT64_MAX), FMT, "do not match", NULL);
    TENSOR(WITH(numel, -1), FMT, "element count is not a non-negative integer", NULL);
    TENSOR(WITH(numel, INT64_MIN), FMT, "element count is not a non-negative integer", NULL);
    TENSOR(WITH(stype, "Storage"), UNS, "global 'torch.Storage' is not allowed", NULL);
    TENSOR(WITH(stype, "ComplexFloatStorage"), UNS, "global 'torch.ComplexFloatStorage' is not allowed", NULL);
    TENSOR(WITH(key, "9"), FMT, "storage record 'data/9' is missing", NULL);
    TENSOR(WITH(key, "../0"), FMT, "storage key is not a short name", NULL);
    TENSOR(WITH(key, ""), FMT, "storage key is not a short name", NULL);
    TENSOR(WITH(offset, 1), FMT, "view reaches element 6 of a storage of 6", NULL);
    TENSOR(WITH(offset, -1), FMT, "storage offset is not a non-negative integer", NULL);
    TENSOR(WITH(offset, INT64_MAX), FMT, "view", NULL);
    TENSOR(WITH(nargs, 5), FMT, "takes 6 or 7 arguments, not 5", NULL);
    t = a; t.rank = 9; t.srank = 9;
    for (int i = 0; i < 9; i++) t.shape[i] = 1, t.stride[i] = 1;
    TENSOR(t, FMT, "size has rank 9, above 8", NULL);
    t = a; t.srank = 1;
    TENSOR(t, FMT, "size has rank 2, stride 1", NULL);
    t = a; t.shape[0] = -1;
    TENSOR(t, FMT, "size[0] is not a non-negative integer", NULL);
    t = a; t.shape[1] = 7;
    TENSOR(t, FMT, "view reaches element 9 of a storage of 6", NULL);
    t = a; t.rank = t.srank = 3; t.shape[0] = t.shape[1] = t.shape[2] = (int64_t)1 << 31;
    TENSOR(t, FMT, "element count overflows", NULL);
    t = a; t.shape[0] = (int64_t)1 << 32; t.shape[1] = (int64_t)1 << 32;
    TENSOR(t, FMT, "element count overflows", NULL);
    t = a; t.shape[0] = INT64_MAX; t.stride[0] = 0; t.shape[1] = 1;
    TENSOR(t, LIM, "non-contiguous tensors need more memory", NULL);
    t = a; t.stride[0] = (int64_t)1 << 62; t.shape[0] = 5;
    TENSOR(t, FMT, "view extent overflows", NULL);
    t = a; t.stride[1] = -1;
    TENSOR(t, FMT, "stride[1] is not a non-negative integer", NULL);
    TENSOR(WITH(name, "h"), FMT, "duplicate tensor 'h'", NULL);
    TENSOR(WITH(name, "module.t"), FMT, "duplicate tensor 't'", NULL);
}

/* Pickle programs: opcodes and globals outside the allow-list, memo, stack
 * and nesting abuse, budgets. */
static void test_pickle(void) {
    /* Globals. */
    PICKLE("\x80\x02" "cos\nsystem\n" "X\x02\0\0\0id" "\x85R.", UNS, "global 'os.system' is not allowed", NULL);
    PICKLE("\x80\x02" "cbuiltins\neval\n.", UNS, "global 'builtins.eval' is not allowed", NULL);
    PICKLE("\x80\x02" "c__builtin__\ngetattr\n.", UNS, "global '__builtin__.getattr' is not allowed", NULL);
    PICKLE("\x80\x04\x8c\x05posix\x8c\x06system\x93.", UNS, "global 'posix.system' is not allowed", NULL);
    PICKLE("\x80\x04\x8c\x05torch\x8c\x04load\x93.", UNS, "global 'torch.load' is not allowed", NULL);
    PICKLE("\x80\x02" "ctorch\nFloatStorage\n)R.", UNS, "global 'torch.FloatStorage' cannot be called", NULL);
    PICKLE("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", FMT, "OrderedDict() called with arguments", NULL);
    PICKLE("\x80\x02" "ccollections\nOrderedDict", FMT, "without a newline", NULL);
    PICKLE("\x80\x04K\x01K\x02\x93.", FMT, "STACK_GLOBAL operands are not strings", NULL);
    /* Opcodes. */
    PICKLE("\x80\x02(cos\nsystem\ni.", UNS, "global 'os.system'", NULL);
    PICKLE("\x80\x02(i.", UNS, "opcode 0x69 'INST' is not allowed", NULL);
    PICKLE("\x80\x02)\x81.", UNS, "opcode 0x81 'NEWOBJ' is not allowed", NULL);
    PICKLE("\x80\x02(o.", UNS, "opcode 0x6f 'OBJ' is not allowed", NULL);
    PICKLE("\x80\x02Pfoo\n.", UNS, "opcode 0x50 'PERSID' is not allowed", NULL);
    PICKLE("\x80\x02I1\n.", UNS, "opcode 0x49 'INT' is not allowed", NULL);
    PICKLE("\x80\x02\x82\x01.", UNS, "opcode 0x82 'EXT1' is not allowed", NULL);
    PICKLE("\x80\x05\x97.", UNS, "opcode 0x97 'NEXT_BUFFER' is not allowed", NULL);
    PICKLE("\x80\x02\xff.", UNS, "opcode 0xff 'unknown' is not allowed", NULL);
    PICKLE("\x80\x01}.", UNS, "protocol 1", NULL);
    PICKLE("\x80\x06}.", UNS, "protocol 6", NULL);
    PICKLE("\x80\x02\x8a\x09\0\0\0\0\0\0\0\0\0.", UNS, "LONG1 of 9 bytes", NULL);
    PICKLE("\x80\x02\x8a\x08\0\0", FMT, "runs past the end of data.pkl", NULL);
    PICKLE("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff}.", FMT, "FRAME of 18446744073709551615 bytes", NULL);
    /* Strings of 0, 2^32-1, 2^63, 2^64-1 bytes. */
    PICKLE("\x80\x02X\0\0\0\0.", FMT, "holds a str, not a dict", NULL);
    PICKLE("\x80\x02X\xff\xff\xff\xff.", FMT, "string of 4294967295 bytes runs past", NULL);
    PICKLE("\x80\x04\x8d\0\0\0\0\0\0\0\x80.", FMT, "string of 9223372036854775808 bytes runs past", NULL);
    PICKLE("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", FMT, "string of 18446744073709551615 bytes", NULL);
    PICKLE("\x80\x02X\x05\0\0\0ab", FMT, "runs past the end", NULL);
    /* Memo. */
    PICKLE("\x80\x02h\x05.", FMT, "memo key 5 was never set", NULL);
    PICKLE("\x80\x02j\xff\xff\xff\xff.", FMT, "memo key 4294967295 was never set", NULL);
    PICKLE("\x80\x02}r\xff\xff\xff\xff.", LIM, "memo key 4294967295 above the limit", NULL);
    PICKLE("\x80\x02}r\0\0\x10\0.", LIM, "memo key 1048576 above the limit", NULL);
    PICKLE("\x80\x02q\x00.", FMT, "PUT on an empty stack", NULL);
    PICKLE("\x80\x02}r\xff\xff\x0f\0" "0j\xff\xff\x0f\0.", FMT, "no tensors found", NULL);
    PICKLE("\x80\x02}\x94" "0h\x00.", FMT, "no tensors found", NULL);
    /* Stack and marks. */
    PICKLE("\x80\x02" "0.", FMT, "POP on an empty stack", NULL);
    PICKLE("\x80\x02" "R.", FMT, "REDUCE on an empty stack", NULL);
    PICKLE("\x80\x02" "t.", FMT, "TUPLE without a MARK", NULL);
    PICKLE("\x80\x02" "u.", FMT, "SETITEMS without a MARK", NULL);
    PICKLE("\x80\x02" "(K\x01u.", FMT, "SETITEMS without a target", NULL);
    PICKLE("\x80\x02" "}(K\x01u.", FMT, "SETITEMS with an odd number of items", NULL);
    PICKLE("\x80\x02" "](K\x01K\x02u.", FMT, "SETITEMS on a list", NULL);
    PICKLE("\x80\x02" "}K\x01s.", FMT, "SETITEM on a stack of 2", NULL);
    PICKLE("\x80\x02" "}(K\x01K\x02s.", FMT, "SETITEM on a stack of 2", NULL);
    PICKLE("\x80\x02" "K\x01K\x02K\x03s.", FMT, "SETITEM on a int", NULL);
    PICKLE("\x80\x02" "K\x01K\x02" "a.", FMT, "APPEND on a int", NULL);
    PICKLE("\x80\x02" "]K\x01K\x02\x86" "(K\x01" "e.", FMT, "APPENDS on a tuple", NULL);
    PICKLE("\x80\x02" "K\x01" "(" "\x85.", FMT, "TUPLE1 on a stack of 0", NULL);
    PICKLE("\x80\x02" "}(.", FMT, "STOP with 1 open MARKs", NULL);
    PICKLE("\x80\x02" "}}.", FMT, "STOP with 2 values on the stack", NULL);
    PICKLE("\x80\x02" ".", FMT, "STOP with 0 values", NULL);
    PICKLE("\x80\x02" "}.x", FMT, "1 bytes after STOP", NULL);
    PICKLE("\x80\x02" "}", FMT, "data.pkl ends without STOP", NULL);
    PICKLE("", FMT, "data.pkl ends without STOP", NULL);
    PICKLE("\x80\x02" "N(1(0}.", FMT, "POP on an empty stack", NULL);
    PICKLE("\x80\x02" "}K\x01K\x02" "b.", UNS, "BUILD on a int", NULL);
    PICKLE("\x80\x02" "K\x01)R.", FMT, "REDUCE calls a int", NULL);
    PICKLE("\x80\x02" "ccollections\nOrderedDict\nK\x01R.", FMT, "REDUCE arguments are not a tuple", NULL);
    PICKLE("\x80\x02" "K\x01Q.", FMT, "persistent id is not", NULL);
    PICKLE("\x80\x02" "(X\x07\0\0\0storageccollections\nOrderedDict\nX\x01\0\0\0" "0X\x03\0\0\0cpuK\x06tQ.",
           UNS, "storage type is a OrderedDict", NULL);
    PICKLE("\x80\x02" "ctorch._utils\n_rebuild_parameter\n(K\x01\x89}tR.", FMT, "_rebuild_parameter takes", NULL);
    PICKLE("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x02K\x03K\x04K\x05K\x06tR.", FMT,
           "argument 1 is a int, not a storage", NULL);
    /* Root objects without tensors. */
    PICKLE("\x80\x02" "].", FMT, "holds a list, not a dict", NULL);
    PICKLE("\x80\x02" "}.", FMT, "no tensors found", NULL);
    PICKLE("\x80\x02" "}X\x0a\0\0\0state_dict}s.", FMT, "no tensors found", NULL);
    PICKLE("\x80\x02" "}X\x05\0\0\0model]s.", FMT, "no tensors found", NULL);

    /* Budgets: nesting, marks, stack, objects. */
    buf b = {0};
    put(&b, "\x80\x02", 2);
    put8(&b, ')');
    for (int i = 0; i < 40; i++) put8(&b, 0x85);
    put8(&b, '.');
    pickle_case(b.p, b.n, LIM, "containers nested deeper than 32", NULL, __LINE__);
    b.n = 2;
    for (int i = 0; i < 40; i++) put8(&b, '(');
    pickle_case(b.p, b.n, LIM, "MARKs nested deeper than 32", NULL, __LINE__);
    /* A dict set into itself through the memo: nesting still bounded. */
    b.n = 2;
    put(&b, "}q\x00", 3);
    for (int i = 0; i < 40; i++) put(&b, "K\x01h\x00s", 5);
    put8(&b, '.');
    pickle_case(b.p, b.n, LIM, "containers nested deeper than 32", NULL, __LINE__);
    b.n = 2;
    for (int i = 0; i < PE_PT_MAX_STACK + 1; i++) put8(&b, 'N');
    pickle_case(b.p, b.n, LIM, "stack deeper than 65536", NULL, __LINE__);
    b.n = 2;
    for (int i = 0; i < PE_PT_MAX_OBJECTS + 1; i++) put(&b, "N0", 2);
    pickle_case(b.p, b.n, LIM, "objects", NULL, __LINE__);
    /* Items without objects: one memoized None appended again and again. */
    b.n = 2;
    put(&b, "]Nq\x00" "0", 5);
    for (int i = 0; i <= PE_PT_MAX_ITEMS / 60000; i++) {
        put8(&b, '(');
        for (int k = 0; k < 60000; k++) put(&b, "h\x00", 2);
        put8(&b, 'e');
    }
    put8(&b, '.');
    pickle_case(b.p, b.n, LIM, "container items", NULL, __LINE__);
    free(b.p);

    /* Names: a NUL inside, a key that is not a string. */
    zfile z;
    template_tensors();
    T[0].name = "a\xff";
    build(&z, T, 4, &F0);
    for (size_t i = z.local[0]; i + 2 < z.central[0]; i++)
        if (z.b.p[i] == 'a' && z.b.p[i + 1] == 0xff) { z.b.p[i + 1] = 0; break; }
    EXPECT(&z, FMT, "holds a NUL byte", NULL);
    free(z.b.p);
}

/* pe_weights_open: magic bytes, checksums, legacy files. */
static void test_open(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/pecore-test-pt.%d", (int)getpid());
    zfile z;
    template_tensors();
    build(&z, T, 4, &F0);
    FILE *f = fopen(path, "wb");
    fwrite(z.b.p, 1, z.b.n, f);
    fclose(f);
    uint8_t d[32];
    char hex[65];
    pe_sha256(z.b.p, z.b.n, d);
    pe_sha256_hex(d, hex);
    pe_safetensors st;
    CHECK(pe_weights_open(&st, path, NULL) == PE_OK && st.n_tensors == 4 && st.mapped, "open .pt: %s",
          pe_last_error());
    pe_st_close(&st);
    CHECK(pe_weights_open(&st, path, hex) == PE_OK, "right checksum: %s", pe_last_error());
    pe_st_close(&st);
    hex[10] ^= 1;
    CHECK(pe_weights_open(&st, path, hex) == PE_ERR_CHECKSUM && strstr(pe_last_error(), "SHA-256 is"),
          "wrong checksum: %s", pe_last_error());
    CHECK(pe_weights_open(&st, path, "abc") == PE_ERR_INVALID_ARG && strstr(pe_last_error(), "64 hex"),
          "bad hex: %s", pe_last_error());
    f = fopen(path, "wb");
    fwrite("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 1, 15, f);
    fclose(f);
    CHECK(pe_weights_open(&st, path, NULL) == PE_ERR_UNSUPPORTED && strstr(pe_last_error(), "legacy"),
          "legacy: %s", pe_last_error());
    f = fopen(path, "wb");
    fwrite("PK\x03\x04", 1, 4, f);
    fclose(f);
    CHECK(pe_weights_open(&st, path, NULL) == PE_ERR_FORMAT && strstr(pe_last_error(), "too short"),
          "4 bytes: %s", pe_last_error());
    unlink(path);
    free(z.b.p);

    /* The golden twins: same tensors, same bytes, as their safetensors. */
    const char *names[] = {"models/pe-micro", "models/pe-core-t16-384"};
    for (int i = 0; i < 2; i++) {
        char p1[512], p2[512], r[128];
        snprintf(r, sizeof r, "%s.pt", names[i]);
        golden_path(p1, sizeof p1, r);
        snprintf(r, sizeof r, "%s.safetensors", names[i]);
        golden_path(p2, sizeof p2, r);
        pe_safetensors a, s;
        if (pe_weights_open(&a, p1, NULL) != PE_OK) { CHECK(0, "%s", pe_last_error()); continue; }
        if (pe_weights_open(&s, p2, NULL) != PE_OK) { CHECK(0, "%s", pe_last_error()); pe_st_close(&a); continue; }
        CHECK(a.n_tensors == s.n_tensors, "%s: %d vs %d tensors", p1, a.n_tensors, s.n_tensors);
        int same = 1;
        for (int k = 0; k < s.n_tensors; k++) {
            const pe_st_tensor *t = &s.tensors[k], *u = pe_st_find(&a, t->name);
            char vn[300];
            snprintf(vn, sizeof vn, "visual.%s", t->name);
            if (!u) u = pe_st_find(&a, vn);
            same &= u && u->dtype == t->dtype && u->rank == t->rank && u->nbytes == t->nbytes &&
                    !memcmp(u->data, t->data, t->nbytes);
        }
        CHECK(same, "%s: tensors differ from the safetensors twin", p1);
        pe_st_close(&a);
        pe_st_close(&s);
    }
    /* A known architecture needs no options; pe-micro needs its heads. */
    char p[512];
    golden_path(p, sizeof p, "models/pe-core-t16-384.pt");
    pe_model *m = NULL;
    CHECK(pe_model_load(p, NULL, &m) == PE_OK, "t16 .pt without options: %s", pe_last_error());
    pe_model_info info;
    if (m) {
        pe_model_get_info(m, &info);
        CHECK(!strcmp(info.arch, "PE-Core-T16-384") && info.heads == 3, "t16 info: %s", info.arch);
    }
    pe_model_free(m);
    golden_path(p, sizeof p, "models/pe-micro.pt");
    CHECK(pe_model_load(p, NULL, &m) == PE_ERR_UNSUPPORTED && strstr(pe_last_error(), "heads"),
          "pe-micro .pt without heads: %s", pe_last_error());
    pe_model_options o = {.vision_heads = 2, .text_heads = 2};
    CHECK(pe_model_load(p, &o, &m) == PE_OK, "pe-micro .pt with heads: %s", pe_last_error());
    pe_model_free(m);
    o.vision_heads = -3;
    CHECK(pe_model_load(p, &o, &m) == PE_ERR_INVALID_ARG && m == NULL, "negative heads");
}

/* pe_convert and pe_verify_manifest on the golden .pt. */
static void test_convert(void) {
    char in[512], vocab[512], out[64], man[64], hex[65], ver[32];
    golden_path(in, sizeof in, "models/pe-core-t16-384.pt");
    golden_path(vocab, sizeof vocab, "bpe_simple_vocab_16e6.txt.gz");
    snprintf(out, sizeof out, "/tmp/pecore-test-conv.%d.safetensors", (int)getpid());
    snprintf(man, sizeof man, "/tmp/pecore-test-man.%d.json", (int)getpid());
    CHECK(pe_convert(in, out, NULL, vocab, NULL, NULL) == PE_OK, "convert: %s", pe_last_error());
    pe_safetensors st;
    if (pe_st_open(&st, out) == PE_OK) {
        const char *arch = pe_st_meta_get(&st, "pecore.arch"), *vh = pe_st_meta_get(&st, "vision_heads");
        CHECK(arch && !strcmp(arch, "PE-Core-T16-384") && vh && !strcmp(vh, "3"), "converted metadata");
        const pe_st_tensor *v = pe_st_find(&st, "pecore.vocab_bpe_gz");
        CHECK(v && v->dtype == PE_DT_U8 && v->nbytes > 1000000, "vocabulary tensor");
        pe_tokenizer *tok = NULL;
        CHECK(v && pe_tokenizer_load_mem(v->data, (size_t)v->nbytes, &tok) == PE_OK, "vocabulary loads: %s",
              pe_last_error());
        pe_tokenizer_free(tok);
        pe_st_close(&st);
    } else {
        CHECK(0, "open converted: %s", pe_last_error());
    }
    pe_model *m = NULL;
    CHECK(pe_model_load(out, NULL, &m) == PE_OK, "load converted: %s", pe_last_error());
    pe_model_free(m);
    CHECK(pe_convert(in, out, &(pe_model_options){.sha256_hex = "00"}, NULL, NULL, NULL) == PE_ERR_INVALID_ARG,
          "convert with a bad checksum argument");
    CHECK(pe_convert(in, out, NULL, in, NULL, NULL) == PE_ERR_FORMAT && strstr(pe_last_error(), "not a gzip"),
          "vocabulary that is not gzip: %s", pe_last_error());

    CHECK(pe_file_sha256(in, hex) == PE_OK, "sha256: %s", pe_last_error());
    FILE *f = fopen(man, "w");
    fprintf(f, "{\"models\":[{\"name\":\"pe-core-t16-384.pt\",\"version\":\"7\",\"size\":12301059,"
               "\"sha256\":\"%s\"},{\"name\":\"x\",\"version\":\"1\",\"size\":1,\"sha256\":\"%s\"}]}", hex, hex);
    fclose(f);
    CHECK(pe_verify_manifest(in, man, NULL, ver, sizeof ver) == PE_OK && !strcmp(ver, "7"), "manifest: %s",
          pe_last_error());
    CHECK(pe_verify_manifest(in, man, "x", NULL, 0) == PE_ERR_CHECKSUM && strstr(pe_last_error(), "bytes"),
          "size differs: %s", pe_last_error());
    CHECK(pe_verify_manifest(in, man, "y", NULL, 0) == PE_ERR_NOT_FOUND, "no entry");
    CHECK(pe_verify_manifest(out, man, "pe-core-t16-384.pt", NULL, 0) == PE_ERR_CHECKSUM, "other file");
    hex[0] = hex[0] == '0' ? '1' : '0';
    f = fopen(man, "w");
    fprintf(f, "{\"models\":[{\"name\":\"pe-core-t16-384.pt\",\"version\":\"7\",\"size\":12301059,"
               "\"sha256\":\"%s\"}]}", hex);
    fclose(f);
    CHECK(pe_verify_manifest(in, man, NULL, NULL, 0) == PE_ERR_CHECKSUM && strstr(pe_last_error(), "SHA-256"),
          "tampered: %s", pe_last_error());
    pe_model_options o = {.sha256_hex = hex};
    CHECK(pe_model_load(in, &o, &m) == PE_ERR_CHECKSUM && m == NULL, "load refuses a wrong checksum");
    f = fopen(man, "w");
    fputs("{\"models\":[{\"name\":\"pe-core-t16-384.pt\",\"size\":1}]}", f);
    fclose(f);
    CHECK(pe_verify_manifest(in, man, NULL, NULL, 0) == PE_ERR_FORMAT, "incomplete entry");
    unlink(man);
    unlink(out);
}

int main(int argc, char **argv) {
    /* make fuzz: a small valid .pt as a seed for the harness. */
    if (argc == 3 && !strcmp(argv[1], "--write-seed")) {
        zfile z;
        template_tensors();
        build(&z, T, 4, &(fspec){.zip64 = 1, .wrap = "state_dict"});
        FILE *f = fopen(argv[2], "wb");
        const int ok = f && fwrite(z.b.p, 1, z.b.n, f) == z.b.n;
        if (f) fclose(f);
        free(z.b.p);
        return ok ? 0 : 1;
    }
    test_valid();
    test_zip();
    test_tensors();
    test_pickle();
    test_open();
    test_convert();
    return test_done("pt");
}
