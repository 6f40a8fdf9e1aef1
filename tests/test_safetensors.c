/* safetensors: a round trip through the writer, one deliberately broken file
 * per rule of the format (after llama.cpp's test-gguf.cpp), and the golden
 * model files. */
#include "test.h"
#include "format/safetensors.h"
#include "util/atomic_file.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void write_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (len && fwrite(buf, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* Files in g_dir other than the ones a test left on purpose. */
static int count_files(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Opens path and expects status want with every word in the message. */
static void expect_open_fails(const char *path, pe_status want, const char *w1, const char *w2,
                              int line) {
    pe_safetensors st;
    pe_error_clear();
    const pe_status got = pe_st_open(&st, path);
    if (getenv("PE_TEST_VERBOSE")) printf("  %s\n", pe_last_error());
    CHECK(got == want, "line %d: status '%s', want '%s' (%s)", line, pe_status_string(got),
          pe_status_string(want), pe_last_error());
    CHECK(strstr(pe_last_error(), w1) != NULL, "line %d: message '%s' lacks '%s'", line,
          pe_last_error(), w1);
    if (w2) CHECK(strstr(pe_last_error(), w2) != NULL, "line %d: message '%s' lacks '%s'", line,
                  pe_last_error(), w2);
    CHECK(st.tensors == NULL && st.base == NULL && st.n_tensors == 0, "line %d: st not cleared",
          line);
    if (got == PE_OK) pe_st_close(&st);
}

/* A file of: header length, header text, data_len zero bytes. */
static void broken(const char *header, size_t data_len, pe_status want, const char *w1,
                   const char *w2, int line) {
    char path[128];
    snprintf(path, sizeof path, "%s/broken.safetensors", g_dir);
    const size_t hl = strlen(header);
    uint8_t *buf = calloc(1, 8 + hl + data_len);
    if (!buf) exit(1);
    put_le64(buf, hl);
    memcpy(buf + 8, header, hl);
    write_file(path, buf, 8 + hl + data_len);
    free(buf);
    expect_open_fails(path, want, w1, w2, line);
    unlink(path);
}

/* A raw file whose first 8 bytes say hlen, followed by tail. */
static void broken_len(uint64_t hlen, const char *tail, pe_status want, const char *w1, int line) {
    char path[128];
    uint8_t buf[256];
    snprintf(path, sizeof path, "%s/broken.safetensors", g_dir);
    put_le64(buf, hlen);
    const size_t tl = strlen(tail);
    memcpy(buf + 8, tail, tl);
    write_file(path, buf, 8 + tl);
    expect_open_fails(path, want, w1, NULL, line);
    unlink(path);
}

#define BROKEN(h, n, w1, w2) broken(h, n, PE_ERR_FORMAT, w1, w2, __LINE__)

/* Entry of a tensor 'a' with the given body, then a valid 'b' of F16 [3]. */
#define A_F32_2x2 "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}"
#define B_F16_3 "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]}"

static void test_broken(void) {
    /* The template itself is valid. */
    char path[128];
    snprintf(path, sizeof path, "%s/ok.safetensors", g_dir);
    {
        const char *h = "{" A_F32_2x2 "," B_F16_3 "}";
        uint8_t buf[256] = {0};
        put_le64(buf, strlen(h));
        memcpy(buf + 8, h, strlen(h));
        write_file(path, buf, 8 + strlen(h) + 22);
        pe_safetensors st;
        CHECK(pe_st_open(&st, path) == PE_OK, "template: %s", pe_last_error());
        CHECK(st.n_tensors == 2 && st.mapped, "template tensors");
        pe_st_close(&st);
        unlink(path);
    }

    /* Length field and file size. */
    broken_len(0, "{}", PE_ERR_FORMAT, "header length 0", __LINE__);
    broken_len((uint64_t)1 << 32, "{}", PE_ERR_FORMAT, "runs past the end", __LINE__);
    broken_len((uint64_t)1 << 63, "{}", PE_ERR_FORMAT, "runs past the end", __LINE__);
    broken_len(UINT64_MAX, "{}", PE_ERR_FORMAT, "runs past the end", __LINE__);
    broken_len(3, "{}", PE_ERR_FORMAT, "header length 3 runs past the end", __LINE__);
    write_file(path, "", 0);
    expect_open_fails(path, PE_ERR_FORMAT, "empty", NULL, __LINE__);
    write_file(path, "\x02\0\0\0\0", 5);
    expect_open_fails(path, PE_ERR_FORMAT, "shorter than the 8-byte", NULL, __LINE__);
    unlink(path);
    snprintf(path, sizeof path, "%s/missing.safetensors", g_dir);
    expect_open_fails(path, PE_ERR_NOT_FOUND, "missing.safetensors", "cannot open", __LINE__);
    expect_open_fails(g_dir, PE_ERR_IO, "not a regular file", NULL, __LINE__);

    /* Header limit (in memory: the buffer is never touched past the length). */
    const size_t big = (size_t)PE_ST_MAX_HEADER + 1 + 8;
    uint8_t *huge = malloc(big);
    if (huge) {
        pe_safetensors st;
        put_le64(huge, PE_ST_MAX_HEADER + 1);
        CHECK(pe_st_parse(&st, huge, big) == PE_ERR_LIMIT, "header over the limit");
        CHECK(strstr(pe_last_error(), "exceeds the limit"), "%s", pe_last_error());
        free(huge);
    }

    /* Header document. */
    BROKEN("{not json}", 0, "header: json:", "at byte 1");
    BROKEN("{\"a\":{}} x", 0, "json: trailing characters", NULL);
    BROKEN("[1,2]", 0, "header is not a JSON object", NULL);
    BROKEN("\"a\"", 0, "header is not a JSON object", NULL);
    BROKEN("{\"a\":5}", 0, "tensor 'a'", "entry is not an object");
    BROKEN("{\"a\":[0,16]}", 16, "tensor 'a'", "entry is not an object");
    {
        char bomb[300];
        memset(bomb, 0, sizeof bomb);
        strcpy(bomb, "{\"a\":");
        for (int i = 0; i < 100; i++) strcat(bomb, "[");
        for (int i = 0; i < 100; i++) strcat(bomb, "]");
        strcat(bomb, "}");
        broken(bomb, 0, PE_ERR_LIMIT, "nesting deeper", NULL, __LINE__);
    }

    /* Fields of an entry. */
    BROKEN("{\"a\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "missing field 'dtype'");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "missing field 'shape'");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", 16, "tensor 'a'",
           "missing field 'data_offsets'");
    BROKEN("{\"a\":{\"dtype\":\"F33\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "unknown dtype 'F33'");
    BROKEN("{\"a\":{\"dtype\":\"f32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "unknown dtype 'f32'");
    BROKEN("{\"a\":{\"dtype\":32,\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "'dtype' is not a string");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "'shape' is not an array");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "'shape' is not an array");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "dim 1 is negative (-2)");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0,2],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "dim 0 is not an integer");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\",2],\"data_offsets\":[0,16]}}", 16,
           "tensor 'a'", "dim 0 is not an integer");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2e0],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "dim 1 is not an integer");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,null],\"data_offsets\":[0,16]}}", 16,
           "tensor 'a'", "dim 1 is not an integer");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,4],\"data_offsets\":[0,16]}}", 16,
           "tensor 'a'", "rank 9, above 8");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}",
           16, "tensor 'a'", "element count overflows");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,16]}}",
           16, "tensor 'a'", "dim 0 is too large");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,16]}}",
           16, "tensor 'a'", "element count overflows");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,16]}}",
           16, "tensor 'a'", "byte size of F32 x [4611686018427387904] overflows");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}}", 16, "tensor 'a'",
           "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16,16]}}", 16,
           "tensor 'a'", "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,\"16\"]}}", 16,
           "tensor 'a'", "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16.0]}}", 16,
           "tensor 'a'", "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[-1,15]}}", 16,
           "tensor 'a'", "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":{\"b\":0}}}", 16,
           "tensor 'a'", "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16, "tensor 'a'",
           "data_offsets [16, 0) begin after they end");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12, "tensor 'a'",
           "data_offsets [0, 12) do not match F32 x [2,2] = 16 bytes");
    BROKEN("{\"a\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a'",
           "do not match BF16 x [] = 2 bytes");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"foo\":1}}", 16,
           "tensor 'a'", "unknown field 'foo'");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
           16, "duplicate key \"dtype\"", NULL);

    /* Placement of the data. */
    BROKEN("{" A_F32_2x2 "}", 10, "tensor 'a'", "run past the end of the file (data section is 10");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[18446744073709551600,"
           "18446744073709551616]}}", 16, "tensor 'a'", "'data_offsets' is not 2");
    BROKEN("{\"a\":{\"dtype\":\"U8\",\"shape\":[15],\"data_offsets\":[18446744073709551600,"
           "18446744073709551615]}}", 16, "tensor 'a'", "run past the end");
    BROKEN("{" A_F32_2x2 ",\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[10,16]}}", 16,
           "tensor 'b'", "overlap tensor 'a' (ends at 16)");
    BROKEN("{" A_F32_2x2 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
           "overlap", NULL);
    BROKEN("{" A_F32_2x2 ",\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[20,26]}}", 26,
           "tensor 'b'", "hole of 4 bytes after tensor 'a'");
    BROKEN("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[4,20]},"
           "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[20,26]}}", 26, "tensor 'a'",
           "does not start at 0");
    BROKEN("{" A_F32_2x2 "," B_F16_3 "}", 30, "8 trailing bytes after the last tensor 'b'", NULL);
    BROKEN("{}", 4, "4 trailing bytes after a header without tensors", NULL);
    BROKEN("{" A_F32_2x2 "," A_F32_2x2 "}", 16, "duplicate key \"a\"", NULL);

    /* Names and metadata. */
    BROKEN("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
           "holds a NUL byte", NULL);
    BROKEN("{\"__metadata__\":{\"k\":1}}", 0, "'__metadata__' value of 'k' is not a string", NULL);
    BROKEN("{\"__metadata__\":{\"k\":\"v\",\"n\":null}}", 0, "value of 'n' is not a string", NULL);
    BROKEN("{\"__metadata__\":{\"k\":[\"v\"]}}", 0, "not a string", NULL);
    BROKEN("{\"__metadata__\":[\"k\",\"v\"]}", 0, "'__metadata__' is not an object", NULL);
    BROKEN("{\"__metadata__\":\"v\"}", 0, "'__metadata__' is not an object", NULL);
    BROKEN("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "holds a NUL byte", NULL);
    BROKEN("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key", NULL);
    BROKEN("{\"\xff\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
           "invalid UTF-8", NULL);

    /* Accepted edge cases: empty header object, empty tensors, scalars,
     * metadata without tensors, entries written out of offset order. */
    const struct { const char *h; size_t n; int count; } ok[] = {
        {"{}", 0, 0},
        {"  {}  ", 0, 0},
        {"{\"__metadata__\":{}}", 0, 0},
        {"{\"__metadata__\":{\"format\":\"pt\"}}", 0, 0},
        {"{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}", 0, 1},
        {"{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8, 1},
        {"{" B_F16_3 "," A_F32_2x2 "}", 22, 2},
        {"{\"data_offsets\":[0,16],\"shape\":[2,2],\"dtype\":\"F32\"}", 0, -1}, /* refused */
        {"{" A_F32_2x2 ",\"z\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[16,16]},"
         "\"y\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 16, 3},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const size_t hl = strlen(ok[i].h);
        uint8_t buf[512] = {0};
        put_le64(buf, hl);
        memcpy(buf + 8, ok[i].h, hl);
        pe_safetensors st;
        const pe_status s = pe_st_parse(&st, buf, 8 + hl + ok[i].n);
        if (ok[i].count < 0) {
            CHECK(s == PE_ERR_FORMAT, "case %zu accepted", i);
            continue;
        }
        CHECK(s == PE_OK && st.n_tensors == ok[i].count, "case %zu: %s", i, pe_last_error());
        if (s == PE_OK && ok[i].count == 2) {
            CHECK(!strcmp(st.tensors[0].name, "a") && !strcmp(st.tensors[1].name, "b"),
                  "tensors in offset order");
            CHECK(st.tensors[1].data == buf + 8 + hl + 16, "data pointer of b");
        }
        if (s == PE_OK && ok[i].count == 3)
            CHECK(!strcmp(st.tensors[0].name, "y") && !strcmp(st.tensors[2].name, "z"),
                  "empty tensors ordered around their neighbours");
        pe_st_close(&st);
    }
    pe_st_close(NULL);
}

static void test_round_trip(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/rt.safetensors", g_dir);
    float a[4] = {1.5f, -2.0f, 3.25f, 1e-30f};
    uint16_t b[3] = {0x3f80, 0xbf80, 0x7f80};
    float s = 2.5f;
    uint8_t u[5] = {1, 2, 3, 4, 255};
    double d[2] = {3.141592653589793, -1e300};
    const char *weird = "we\"ird\\na\nme \xc3\xa9 \x01";
    pe_st_out t[] = {
        {"visual.a", PE_DT_F32, 2, {2, 2}, a},
        {"b", PE_DT_BF16, 1, {3}, b},          /* 6 bytes: misaligns what follows */
        {"scalar", PE_DT_F32, 0, {0}, &s},
        {"empty", PE_DT_F16, 2, {0, 3}, NULL},
        {"u", PE_DT_U8, 1, {5}, u},
        {weird, PE_DT_F64, 1, {2}, d},
    };
    const int n = (int)(sizeof t / sizeof t[0]);
    pe_st_meta meta[] = {{"vision_heads", "2"}, {"quote\"key", "line\nvalue \\ \xe2\x82\xac"}};
    CHECK(pe_st_write(path, t, n, meta, 2) == PE_OK, "write: %s", pe_last_error());
    CHECK(count_files() == 1, "no temporary file left (%d files)", count_files());

    pe_safetensors st;
    CHECK(pe_st_open(&st, path) == PE_OK, "open: %s", pe_last_error());
    if (st.base) {
        const uint64_t hlen = (uint64_t)st.base[0] | (uint64_t)st.base[1] << 8;
        CHECK(hlen % 8 == 0, "header padded to 8 bytes (%llu)", (unsigned long long)hlen);
        CHECK(st.base[8] == '{' && (st.base[8 + hlen - 1] == ' ' || st.base[8 + hlen - 1] == '}'),
              "padding is spaces");
        CHECK(memcmp(st.base + 8, "{\"__metadata__\"", 15) == 0, "__metadata__ first");
        CHECK(st.n_tensors == n && st.n_meta == 2, "counts %d %d", st.n_tensors, st.n_meta);
        for (int i = 0; i < n && i < st.n_tensors; i++) {
            /* Written in order, so offset order is the given order (empty before u). */
            const pe_st_tensor *r = pe_st_find(&st, t[i].name);
            CHECK(r != NULL, "find '%s'", t[i].name);
            if (!r) continue;
            CHECK(r->dtype == t[i].dtype && r->rank == t[i].rank, "'%s' dtype/rank", t[i].name);
            uint64_t numel = 1;
            for (int k = 0; k < r->rank; k++) {
                CHECK(r->shape[k] == t[i].shape[k], "'%s' dim %d", t[i].name, k);
                numel *= (uint64_t)t[i].shape[k];
            }
            CHECK(r->numel == numel && r->nbytes == numel * pe_dtype_size(t[i].dtype),
                  "'%s' sizes", t[i].name);
            CHECK(r->nbytes == 0 || memcmp(r->data, t[i].data, r->nbytes) == 0, "'%s' data",
                  t[i].name);
        }
        CHECK(!strcmp(st.tensors[0].name, "visual.a") && !strcmp(st.tensors[n - 1].name, weird),
              "file order");
        CHECK(st.tensors[1].offset == 16 && st.tensors[2].offset == 22, "offsets follow");
        CHECK(pe_st_find(&st, "nope") == NULL && pe_st_find(&st, "visual") == NULL, "find misses");
        const char *v = pe_st_meta_get(&st, "vision_heads");
        CHECK(v && !strcmp(v, "2"), "meta vision_heads");
        v = pe_st_meta_get(&st, "quote\"key");
        CHECK(v && !strcmp(v, meta[1].value), "escaped meta round trip");
        CHECK(pe_st_meta_get(&st, "text_heads") == NULL, "meta miss");
        pe_st_close(&st);
        CHECK(st.base == NULL && st.tensors == NULL, "close clears");
    }

    /* Overwrite in place; no metadata; no tensors. */
    CHECK(pe_st_write(path, t, 1, NULL, 0) == PE_OK, "rewrite: %s", pe_last_error());
    CHECK(pe_st_open(&st, path) == PE_OK && st.n_tensors == 1 && st.n_meta == 0,
          "rewrite read: %s", pe_last_error());
    if (st.base) CHECK(st.base[8] == '{' && st.base[9] == '"' && st.base[10] == 'v', "no __metadata__");
    pe_st_close(&st);
    CHECK(pe_st_write(path, NULL, 0, NULL, 0) == PE_OK, "empty write: %s", pe_last_error());
    CHECK(pe_st_open(&st, path) == PE_OK && st.n_tensors == 0 && st.size == 16,
          "empty read: %s (size %zu)", pe_last_error(), st.size);
    pe_st_close(&st);
    unlink(path);

    /* Writer refusals: nothing created, nothing left behind. */
    char p2[128];
    snprintf(p2, sizeof p2, "%s/refused.safetensors", g_dir);
    pe_st_out dup[2] = {t[0], t[0]};
    CHECK(pe_st_write(p2, dup, 2, NULL, 0) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "duplicate key"), "duplicate: %s", pe_last_error());
    pe_st_out bad = t[0];
    bad.dtype = PE_DT_COUNT;
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "invalid dtype"), "dtype: %s", pe_last_error());
    bad = t[0];
    bad.shape[1] = -1;
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "negative"), "negative: %s", pe_last_error());
    bad = t[0];
    bad.rank = 9;
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG, "rank 9");
    bad = t[0];
    bad.data = NULL;
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "data is NULL"), "NULL data: %s", pe_last_error());
    bad = t[0];
    bad.name = "__metadata__";
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG, "__metadata__ as a name");
    bad = t[0];
    bad.name = "\xc3(";
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "UTF-8"), "bad UTF-8 name: %s", pe_last_error());
    bad = t[0];
    bad.shape[0] = INT64_MAX;
    CHECK(pe_st_write(p2, &bad, 1, NULL, 0) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "overflows"), "size overflow: %s", pe_last_error());
    pe_st_meta mdup[2] = {{"k", "1"}, {"k", "2"}};
    CHECK(pe_st_write(p2, t, 1, mdup, 2) == PE_ERR_INVALID_ARG, "duplicate metadata key");
    pe_st_meta mnull[1] = {{"k", NULL}};
    CHECK(pe_st_write(p2, t, 1, mnull, 1) == PE_ERR_INVALID_ARG, "NULL metadata value");
    CHECK(pe_st_write(NULL, t, 1, NULL, 0) == PE_ERR_INVALID_ARG, "NULL path");
    CHECK(pe_st_write(p2, NULL, 1, NULL, 0) == PE_ERR_INVALID_ARG, "NULL tensors");
    CHECK(count_files() == 0, "refusals leave no file (%d files)", count_files());
    char p3[160];
    snprintf(p3, sizeof p3, "%s/no/such/dir/x.safetensors", g_dir);
    CHECK(pe_st_write(p3, t, 1, NULL, 0) == PE_ERR_IO && strstr(pe_last_error(), "temporary"),
          "missing directory: %s", pe_last_error());

    CHECK(!strcmp(pe_dtype_name(PE_DT_BF16), "BF16") && !strcmp(pe_dtype_name(PE_DT_F8_E4M3),
                                                                 "F8_E4M3"), "dtype names");
    CHECK(!strcmp(pe_dtype_name(PE_DT_COUNT), "?") && pe_dtype_size(PE_DT_COUNT) == 0,
          "out-of-range dtype");
    CHECK(pe_dtype_size(PE_DT_F64) == 8 && pe_dtype_size(PE_DT_F16) == 2 &&
          pe_dtype_size(PE_DT_BOOL) == 1, "dtype sizes");
}

/* A write that fails half-way (a full disk, simulated) leaves the old file
 * as it was and nothing else; a new file gets the umask's mode, not 0600. */
static void test_interrupted(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/int.safetensors", g_dir);
    float a[4] = {1, 2, 3, 4}, big[256] = {0};
    pe_st_out t1 = {"a", PE_DT_F32, 1, {4}, a}, t2 = {"a", PE_DT_F32, 1, {256}, big};
    CHECK(pe_st_write(path, &t1, 1, NULL, 0) == PE_OK, "first write: %s", pe_last_error());
    /* the mode of any new file here: fopen's (under node, the host's umask
     * applies, not the one wasm's umask() emulates) */
    char ref[160];
    snprintf(ref, sizeof ref, "%s/ref", g_dir);
    write_file(ref, "", 0);
    struct stat sb, sr;
    CHECK(!stat(path, &sb) && !stat(ref, &sr) && (sb.st_mode & 0777) == (sr.st_mode & 0777),
          "mode %o, a new file's %o", (unsigned)sb.st_mode & 0777, (unsigned)sr.st_mode & 0777);
    unlink(ref);
    size_t n0 = 0;
    char *before = test_read_file(path, &n0);

    pe_afile_fail_after = 200; /* past the header, inside the tensor */
    const pe_status s = pe_st_write(path, &t2, 1, NULL, 0);
    pe_afile_fail_after = 0;
    CHECK(s == PE_ERR_IO && strstr(pe_last_error(), "write failed") && strstr(pe_last_error(), path),
          "failed write reported: %s", pe_last_error());
    size_t n1 = 0;
    char *after = test_read_file(path, &n1);
    CHECK(before && after && n1 == n0 && !memcmp(before, after, n0), "old file intact");
    CHECK(count_files() == 1, "no temporary file left (%d files)", count_files());
    free(before);
    free(after);
    CHECK(pe_st_write(path, &t2, 1, NULL, 0) == PE_OK, "write again: %s", pe_last_error());
    pe_safetensors st;
    CHECK(pe_st_open(&st, path) == PE_OK && st.n_tensors == 1 && st.tensors[0].shape[0] == 256,
          "the new file in place");
    pe_st_close(&st);
    unlink(path);
}

static void check_tensor(const pe_safetensors *st, const char *name, pe_dtype dt, int rank,
                         const int64_t *shape) {
    const pe_st_tensor *t = pe_st_find(st, name);
    CHECK(t != NULL, "golden tensor '%s' missing", name);
    if (!t) return;
    CHECK(t->dtype == dt, "'%s' dtype %s", name, pe_dtype_name(t->dtype));
    CHECK(t->rank == rank, "'%s' rank %d", name, t->rank);
    for (int i = 0; i < rank && i < t->rank; i++)
        CHECK(t->shape[i] == shape[i], "'%s' dim %d = %lld", name, i, (long long)t->shape[i]);
}

static void test_golden(void) {
    char path[512];
    pe_safetensors st;
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    CHECK(pe_st_open(&st, path) == PE_OK, "%s", pe_last_error());
    if (st.base) {
        check_tensor(&st, "visual.conv1.weight", PE_DT_F32, 4, (const int64_t[]){64, 3, 16, 16});
        check_tensor(&st, "logit_scale", PE_DT_F32, 0, NULL);
        check_tensor(&st, "token_embedding.weight", PE_DT_F32, 2, (const int64_t[]){49408, 64});
        const char *h = pe_st_meta_get(&st, "vision_heads");
        CHECK(h && !strcmp(h, "2"), "pe-micro vision_heads");
        h = pe_st_meta_get(&st, "text_heads");
        CHECK(h && !strcmp(h, "2"), "pe-micro text_heads");
        const pe_st_tensor *last = &st.tensors[st.n_tensors - 1];
        CHECK((const uint8_t *)last->data + last->nbytes == st.base + st.size,
              "last tensor ends at the end of the file");
        CHECK(st.tensors[0].offset == 0, "first tensor at 0");
        pe_st_close(&st);
    }
    golden_path(path, sizeof path, "models/pe-micro-timm.safetensors");
    CHECK(pe_st_open(&st, path) == PE_OK, "%s", pe_last_error());
    if (st.base) {
        check_tensor(&st, "patch_embed.proj.weight", PE_DT_BF16, 4, (const int64_t[]){64, 3, 16, 16});
        check_tensor(&st, "cls_token", PE_DT_BF16, 3, (const int64_t[]){1, 1, 64});
        check_tensor(&st, "pos_embed", PE_DT_BF16, 3, (const int64_t[]){1, 17, 64});
        CHECK(st.n_tensors == 46, "timm tensor count %d", st.n_tensors);
        const char *h = pe_st_meta_get(&st, "attn_pooler_heads");
        CHECK(h && !strcmp(h, "8"), "timm attn_pooler_heads");
        pe_st_close(&st);
    }
    golden_path(path, sizeof path, "models/pe-core-t16-384.safetensors");
    CHECK(pe_st_open(&st, path) == PE_OK, "%s", pe_last_error());
    if (st.base) {
        check_tensor(&st, "conv1.weight", PE_DT_F16, 4, (const int64_t[]){192, 3, 16, 16});
        check_tensor(&st, "positional_embedding", PE_DT_F16, 2, (const int64_t[]){577, 192});
        check_tensor(&st, "proj", PE_DT_F16, 2, (const int64_t[]){192, 512});
        CHECK(st.n_tensors == 163, "t16 tensor count %d", st.n_tensors);
        const char *h = pe_st_meta_get(&st, "vision_heads");
        CHECK(h && !strcmp(h, "3"), "t16 vision_heads");
        pe_st_close(&st);
    }
    /* A golden file cut short must be refused with a layout error. */
    golden_path(path, sizeof path, "models/pe-micro-timm.safetensors");
    FILE *f = fopen(path, "rb");
    if (f) {
        uint8_t *buf = malloc(1 << 20);
        const size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        if (n > 100) {
            CHECK(pe_st_parse(&st, buf, n - 1) == PE_ERR_FORMAT &&
                  strstr(pe_last_error(), "run past the end"), "truncated golden: %s",
                  pe_last_error());
        }
        free(buf);
    }
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/pe_test_st.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_broken();
    test_round_trip();
    test_interrupted();
    test_golden();
    rmdir(g_dir);
    return test_done("test_safetensors");
}
