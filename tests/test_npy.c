/* tools/npy: round trips, the golden files, and malformed files refused. */
#include "test.h"
#include "npy.h"

#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

/* Builds a v1 (or v2 when version == 2) file: preamble + header text + data. */
static size_t make_npy(unsigned char *buf, int version, const char *header, const void *data,
                       size_t data_len) {
    const size_t hl = strlen(header);
    size_t n = 0;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    if (version == 1) {
        buf[8] = (unsigned char)hl;
        buf[9] = (unsigned char)(hl >> 8);
        n = 10;
    } else {
        buf[8] = (unsigned char)hl;
        buf[9] = (unsigned char)(hl >> 8);
        buf[10] = buf[11] = 0;
        n = 12;
    }
    memcpy(buf + n, header, hl);
    n += hl;
    if (data_len) memcpy(buf + n, data, data_len);
    return n + data_len;
}

static void test_round_trip(void) {
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/a.npy", g_dir);
    float x[2 * 3 * 5];
    for (int i = 0; i < 30; i++) x[i] = (float)i * 0.25f - 3.0f;
    x[7] = -0.0f;
    x[8] = INFINITY;
    const int64_t shape[3] = {2, 3, 5};
    CHECK(npy_write_f32(path, x, 3, shape, err, sizeof err) == 0, "write: %s", err);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size == 128 + 120, "file size %lld",
          (long long)sb.st_size);
    npy_array a;
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0, "read: %s", err);
    CHECK(a.rank == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 5 && a.numel == 30,
          "shape back");
    CHECK(a.data && memcmp(a.data, x, sizeof x) == 0, "data back bit-exact");
    npy_free(&a);
    CHECK(a.data == NULL && a.numel == 0, "npy_free clears");
    npy_free(NULL);

    /* Overwrite in place (rename over an existing file), rank 1, rank 0, empty. */
    const int64_t s1[1] = {4};
    CHECK(npy_write_f32(path, x, 1, s1, err, sizeof err) == 0, "rewrite: %s", err);
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0 && a.rank == 1 && a.numel == 4 &&
          a.data[3] == x[3], "rank 1: %s", err);
    npy_free(&a);
    CHECK(npy_write_f32(path, x, 0, NULL, err, sizeof err) == 0, "scalar: %s", err);
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0 && a.rank == 0 && a.numel == 1 &&
          a.data[0] == x[0], "rank 0: %s", err);
    npy_free(&a);
    const int64_t s0[2] = {0, 7};
    CHECK(npy_write_f32(path, NULL, 2, s0, err, sizeof err) == 0, "empty: %s", err);
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0 && a.rank == 2 && a.numel == 0 &&
          a.shape[1] == 7, "empty back: %s", err);
    npy_free(&a);
    const int64_t s8[8] = {1, 2, 1, 2, 1, 3, 1, 1};
    CHECK(npy_write_f32(path, x, 8, s8, err, sizeof err) == 0, "rank 8: %s", err);
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0 && a.rank == 8 && a.numel == 12,
          "rank 8 back: %s", err);
    npy_free(&a);

    /* Writer refusals leave no file and no temporary behind. */
    char p2[128];
    snprintf(p2, sizeof p2, "%s/b.npy", g_dir);
    const int64_t neg[1] = {-1};
    CHECK(npy_write_f32(p2, x, 1, neg, err, sizeof err) == -1 && strstr(err, "negative"),
          "negative dim: %s", err);
    CHECK(npy_write_f32(p2, x, 9, s8, err, sizeof err) == -1 && strstr(err, "rank"), "rank 9");
    char p3[160];
    snprintf(p3, sizeof p3, "%s/no/such/dir/c.npy", g_dir);
    CHECK(npy_write_f32(p3, x, 1, s1, err, sizeof err) == -1 && strstr(err, "temporary"),
          "missing dir: %s", err);
    CHECK(access(p2, F_OK) != 0, "nothing written on refusal");
    unlink(path);
}

static void test_golden(void) {
    char path[512], err[256];
    npy_array a;
    golden_path(path, sizeof path, "expected/pe-micro_raw_64x64_embedding.npy");
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0, "golden: %s", err);
    CHECK(a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 32 && a.numel == 64, "[2,32]");
    int finite = 1;
    for (size_t i = 0; i < a.numel; i++) finite &= isfinite(a.data[i]) != 0;
    CHECK(finite, "golden values finite");
    npy_free(&a);
    golden_path(path, sizeof path, "inputs/pe-micro_raw_64x64.npy");
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0 && a.rank == 4 && a.shape[0] == 2 &&
          a.shape[1] == 3 && a.shape[2] == 64 && a.shape[3] == 64, "input [2,3,64,64]: %s", err);
    float lo = 0, hi = 0;
    for (size_t i = 0; i < a.numel; i++) lo = fminf(lo, a.data[i]), hi = fmaxf(hi, a.data[i]);
    CHECK(lo >= -1.0f && hi <= 1.0f, "inputs in [-1,1]: %g..%g", lo, hi);
    npy_free(&a);
    golden_path(path, sizeof path, "expected/pe-micro_raw_64x64_stages.npy");
    CHECK(npy_read_f32(path, &a, err, sizeof err) == 0 && a.rank == 4 && a.shape[0] == 5 &&
          a.shape[3] == 64, "stages: %s", err);
    npy_free(&a);
    golden_path(path, sizeof path, "expected/does-not-exist.npy");
    CHECK(npy_read_f32(path, &a, err, sizeof err) == -1 && strstr(err, "cannot open"), "missing");
}

static void expect_bad(const unsigned char *buf, size_t len, const char *words, int line) {
    char err[256] = "";
    npy_array a;
    const int r = npy_read_f32_mem(buf, len, &a, err, sizeof err);
    CHECK(r == -1, "line %d: accepted", line);
    CHECK(a.data == NULL, "line %d: data left on failure", line);
    CHECK(strstr(err, words) != NULL, "line %d: message '%s' lacks '%s'", line, err, words);
}

#define BAD_HDR(hdr, data, dlen, words)                                              \
    expect_bad(buf, make_npy(buf, 1, hdr, data, dlen), words, __LINE__)

static void test_bad(void) {
    unsigned char buf[1024];
    const float f4[6] = {1, 2, 3, 4, 5, 6};
    const double f8[6] = {1.5, -2, 3, 4, 5, 6};
    npy_array a;
    char err[256];

    /* Accepted variants first: '<f8' converted, v2 preamble, key order, double quotes. */
    size_t n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n",
                        f8, sizeof f8);
    CHECK(npy_read_f32_mem(buf, n, &a, err, sizeof err) == 0 && a.numel == 6 &&
          a.data[0] == 1.5f && a.data[1] == -2.0f, "<f8: %s", err);
    npy_free(&a);
    n = make_npy(buf, 2, "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}", f4,
                 sizeof f4);
    CHECK(npy_read_f32_mem(buf, n, &a, err, sizeof err) == 0 && a.rank == 1 && a.data[5] == 6,
          "v2, reordered: %s", err);
    npy_free(&a);
    /* Unaligned source buffer. */
    memmove(buf + 1, buf, n);
    CHECK(npy_read_f32_mem(buf + 1, n, &a, err, sizeof err) == 0 && a.data[5] == 6,
          "unaligned: %s", err);
    npy_free(&a);

    expect_bad((const unsigned char *)"", 0, "bad magic", __LINE__);
    expect_bad((const unsigned char *)"\x93NUMPY\x01", 7, "bad magic", __LINE__);
    expect_bad((const unsigned char *)"PK\x03\x04xxxxxxxxxx", 14, "bad magic", __LINE__);
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f4, 24);
    buf[6] = 4;
    expect_bad(buf, n, "version 4", __LINE__);
    buf[6] = 1;
    buf[8] = 0xff, buf[9] = 0xff;
    expect_bad(buf, n, "past the end", __LINE__);
    n = make_npy(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f4, 24);
    buf[11] = 0x80;
    expect_bad(buf, n, "past the end", __LINE__);
    expect_bad(buf, 11, "truncated", __LINE__);

    BAD_HDR("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4, 24, "fortran_order True");
    BAD_HDR("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", f4, 24, "big-endian");
    BAD_HDR("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", f8, 48, "big-endian");
    BAD_HDR("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", f4, 24, "not supported");
    BAD_HDR("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", f4, 12, "not supported");
    BAD_HDR("{'descr': 5, 'fortran_order': False, 'shape': (2, 3), }", f4, 24, "'descr'");
    BAD_HDR("{'descr': '', 'fortran_order': False, 'shape': (2, 3), }", f4, 24, "'descr'");
    BAD_HDR("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", f4, 24, "True/False");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", f4, 24, "not a tuple");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", f4, 24, "not a tuple");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", f4, 24, "',' expected");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", f4, 24, "negative");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3), }", f4, 24, "',' expected");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }", f4, 24, "non-integer");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }", f4, 24,
            "rank above 8");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", f4, 24,
            "too large");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
            f4, 24, "overflows");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", f4, 24,
            "overflows");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4, 20, "need 24");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f8, 28, "need 24");
    BAD_HDR("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f4, 24, "need 48");
    BAD_HDR("{'descr': '<f4', 'shape': (2, 3), }", f4, 24, "lacks 'fortran_order'");
    BAD_HDR("{'fortran_order': False, 'shape': (2, 3), }", f4, 24, "lacks 'descr'");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False}", f4, 24, "lacks 'shape'");
    BAD_HDR("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", f4, 24,
            "repeated key 'descr'");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", f4, 24,
            "unexpected or repeated key 'x'");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", f4, 24, "trailing");
    BAD_HDR("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", f4, 24, "',' or '}'");
    BAD_HDR("['descr', '<f4']", f4, 24, "not a dict");
    BAD_HDR("", f4, 24, "not a dict");
    BAD_HDR("{descr: '<f4'}", f4, 24, "key expected");
    BAD_HDR("{'descr' '<f4'}", f4, 24, "':' expected");
    BAD_HDR("{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", f4, 24, "','");

    CHECK(npy_read_f32_mem(buf, 10, NULL, err, sizeof err) == -1, "NULL out");
    CHECK(npy_read_f32(g_dir, &a, err, sizeof err) == -1 && strstr(err, "regular"),
          "directory: %s", err);
    /* Messages of the file reader name the file. */
    char path[128];
    snprintf(path, sizeof path, "%s/bad.npy", g_dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite("\x93NUMPY\x05\x00\x00\x00", 1, 10, f);
        fclose(f);
        CHECK(npy_read_f32(path, &a, err, sizeof err) == -1 && strstr(err, "bad.npy: ") &&
              strstr(err, "version 5"), "file message: %s", err);
        unlink(path);
    }
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/pe_test_npy.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_golden();
    test_bad();
    rmdir(g_dir);
    return test_done("test_npy");
}
