/* .npy reader and writer (format: numpy/lib/format.py).  The header is a
 * Python dict literal; only the subset numpy itself writes is accepted. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

static int npy_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int npy_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void npy_free(npy_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- header */

typedef struct npy_header {
    char descr[8];
    int fortran;                    /* -1 until seen */
    int rank;                       /* -1 until seen */
    int64_t shape[NPY_MAX_RANK];
} npy_header;

typedef struct npy_cursor {
    const char *s;                  /* [len] header text */
    size_t len, pos;
} npy_cursor;

static void npy_skip_ws(npy_cursor *c) {
    while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                               c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
}

static bool npy_eat(npy_cursor *c, char ch) {
    npy_skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == ch) {
        c->pos++;
        return true;
    }
    return false;
}

/* A quoted Python string without escapes (numpy never writes any). */
static bool npy_string(npy_cursor *c, char *out, size_t cap) {
    npy_skip_ws(c);
    if (c->pos >= c->len || (c->s[c->pos] != '\'' && c->s[c->pos] != '"')) return false;
    const char q = c->s[c->pos++];
    size_t n = 0;
    while (c->pos < c->len && c->s[c->pos] != q) {
        if (c->s[c->pos] == '\\' || n + 1 >= cap) return false;
        out[n++] = c->s[c->pos++];
    }
    if (c->pos >= c->len) return false;
    c->pos++;
    out[n] = 0;
    return true;
}

static bool npy_word(npy_cursor *c, const char *w) {
    npy_skip_ws(c);
    const size_t k = strlen(w);
    if (c->len - c->pos < k || memcmp(c->s + c->pos, w, k) != 0) return false;
    c->pos += k;
    return true;
}

/* "(2, 32)", "(5,)" or "()": Python's tuple syntax, so one element needs
 * its trailing comma. */
static int npy_shape(npy_cursor *c, npy_header *h, char *err, size_t errlen) {
    if (!npy_eat(c, '(')) return npy_fail(err, errlen, "npy: 'shape' is not a tuple");
    int rank = 0;
    bool comma = false;
    while (!npy_eat(c, ')')) {
        if (rank > 0 && !comma) return npy_fail(err, errlen, "npy: ',' expected in 'shape'");
        if (rank == NPY_MAX_RANK)
            return npy_fail(err, errlen, "npy: rank above %d", NPY_MAX_RANK);
        npy_skip_ws(c);
        if (c->pos < c->len && c->s[c->pos] == '-')
            return npy_fail(err, errlen, "npy: negative dimension in 'shape'");
        int64_t d = 0;
        size_t digits = 0;
        while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
            if (d > (INT64_MAX - 9) / 10)
                return npy_fail(err, errlen, "npy: dimension in 'shape' too large");
            d = d * 10 + (c->s[c->pos++] - '0');
            digits++;
        }
        if (!digits) return npy_fail(err, errlen, "npy: 'shape' holds a non-integer");
        h->shape[rank++] = d;
        comma = npy_eat(c, ',');
    }
    if (rank == 1 && !comma) return npy_fail(err, errlen, "npy: 'shape' (n) is not a tuple");
    h->rank = rank;
    return 0;
}

static int npy_parse_header(const char *s, size_t len, npy_header *h, char *err, size_t errlen) {
    npy_cursor c = { s, len, 0 };
    h->descr[0] = 0;
    h->fortran = -1;
    h->rank = -1;
    if (!npy_eat(&c, '{')) return npy_fail(err, errlen, "npy: header is not a dict");
    while (!npy_eat(&c, '}')) {
        char key[32];
        if (!npy_string(&c, key, sizeof key))
            return npy_fail(err, errlen, "npy: header key expected at byte %zu", c.pos);
        if (!npy_eat(&c, ':')) return npy_fail(err, errlen, "npy: ':' expected after '%s'", key);
        if (!strcmp(key, "descr") && !h->descr[0]) {
            if (!npy_string(&c, h->descr, sizeof h->descr) || !h->descr[0])
                return npy_fail(err, errlen, "npy: 'descr' is not a dtype string");
        } else if (!strcmp(key, "fortran_order") && h->fortran < 0) {
            if (npy_word(&c, "True")) h->fortran = 1;
            else if (npy_word(&c, "False")) h->fortran = 0;
            else return npy_fail(err, errlen, "npy: 'fortran_order' is not True/False");
        } else if (!strcmp(key, "shape") && h->rank < 0) {
            if (npy_shape(&c, h, err, errlen)) return -1;
        } else {
            return npy_fail(err, errlen, "npy: unexpected or repeated key '%s' in header", key);
        }
        if (!npy_eat(&c, ',')) {
            if (!npy_eat(&c, '}')) return npy_fail(err, errlen, "npy: ',' or '}' expected in header");
            break;
        }
    }
    npy_skip_ws(&c);
    if (c.pos != c.len) return npy_fail(err, errlen, "npy: trailing characters after the header dict");
    if (!h->descr[0] || h->fortran < 0 || h->rank < 0)
        return npy_fail(err, errlen, "npy: header lacks %s",
                        !h->descr[0] ? "'descr'" : h->fortran < 0 ? "'fortran_order'" : "'shape'");
    return 0;
}

/* ---------------------------------------------------------------- reading */

static uint32_t npy_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t npy_le64(const unsigned char *p) {
    return (uint64_t)npy_le32(p) | (uint64_t)npy_le32(p + 4) << 32;
}

int npy_read_f32_mem(const void *buf, size_t len, npy_array *out, char *err, size_t errlen) {
    const unsigned char *b = buf;
    if (!out) return npy_fail(err, errlen, "npy: out is NULL");
    memset(out, 0, sizeof *out);
    if (!buf && len) return npy_fail(err, errlen, "npy: buffer is NULL");
    if (len < 10 || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return npy_fail(err, errlen, "npy: not a .npy file (bad magic)");
    const int major = b[6];
    size_t hstart, hlen;
    if (major == 1) {
        hstart = 10;
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else if (major == 2 || major == 3) {
        if (len < 12) return npy_fail(err, errlen, "npy: file truncated in the preamble");
        hstart = 12;
        hlen = npy_le32(b + 8);
    } else {
        return npy_fail(err, errlen, "npy: unsupported format version %d.%d", major, b[7]);
    }
    if (hlen > len - hstart)
        return npy_fail(err, errlen, "npy: header length %zu runs past the end of the file", hlen);

    npy_header h;
    if (npy_parse_header((const char *)b + hstart, hlen, &h, err, errlen)) return -1;
    if (h.fortran) return npy_fail(err, errlen, "npy: fortran_order True is not supported");
    size_t item;
    if (!strcmp(h.descr, "<f4")) item = 4;
    else if (!strcmp(h.descr, "<f8")) item = 8;
    else if (h.descr[0] == '>')
        return npy_fail(err, errlen, "npy: big-endian dtype '%s' is not supported", h.descr);
    else return npy_fail(err, errlen, "npy: dtype '%s' is not supported (want <f4 or <f8)", h.descr);

    size_t numel = 1;
    for (int i = 0; i < h.rank; i++) {
        if ((uint64_t)h.shape[i] > SIZE_MAX ||
            __builtin_mul_overflow(numel, (size_t)h.shape[i], &numel))
            return npy_fail(err, errlen, "npy: shape element count overflows");
    }
    size_t nbytes;
    if (__builtin_mul_overflow(numel, item, &nbytes))
        return npy_fail(err, errlen, "npy: shape byte size overflows");
    const size_t data_at = hstart + hlen;
    if (nbytes != len - data_at)
        return npy_fail(err, errlen, "npy: data is %zu bytes, shape and dtype '%s' need %zu",
                        len - data_at, h.descr, nbytes);

    float *data = malloc(numel ? numel * sizeof(float) : 1);
    if (!data) return npy_fail(err, errlen, "npy: out of memory for %zu floats", numel);
    const unsigned char *p = b + data_at;
    for (size_t i = 0; i < numel; i++) {
        if (item == 4) {
            const uint32_t u = npy_le32(p + 4 * i);
            memcpy(&data[i], &u, 4);
        } else {
            const uint64_t u = npy_le64(p + 8 * i);
            double d;
            memcpy(&d, &u, 8);
            data[i] = (float)d;
        }
    }
    out->data = data;
    out->rank = h.rank;
    memcpy(out->shape, h.shape, sizeof h.shape[0] * (size_t)h.rank);
    out->numel = numel;
    return 0;
}

int npy_read_f32(const char *path, npy_array *out, char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return npy_fail(err, errlen, "npy: path or out is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return npy_fail(err, errlen, "npy: cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > SIZE_MAX) {
        fclose(f);
        return npy_fail(err, errlen, "npy: '%s' is not a regular file", path);
    }
    const size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return npy_fail(err, errlen, "npy: out of memory reading '%s'", path);
    }
    const size_t got = fread(buf, 1, len, f);
    const int rerr = ferror(f);
    fclose(f);
    if (got != len || rerr) {
        free(buf);
        return npy_fail(err, errlen, "npy: cannot read '%s'", path);
    }
    const int r = npy_read_f32_mem(buf, len, out, err, errlen);
    free(buf);
    if (r && err && errlen) {
        /* Name the file: "npy: x.npy: <reason>". */
        char reason[256];
        snprintf(reason, sizeof reason, "%s", err);
        snprintf(err, errlen, "npy: %s: %s", path, strncmp(reason, "npy: ", 5) ? reason : reason + 5);
    }
    return r;
}

/* ---------------------------------------------------------------- writing */

/* Creates "path.tmp.XXXXXX" with O_EXCL and mode 0666, so the final file gets
 * the user's umask like any other new file (mkstemp would force 0600). */
static int npy_open_temp(const char *path, char *tmp, size_t cap) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)tmp;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            suffix[i] = alnum[(seed >> 33) % (sizeof alnum - 1)];
        }
        suffix[6] = 0;
        if ((size_t)snprintf(tmp, cap, "%s.tmp.%s", path, suffix) >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

static int npy_write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        const ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Header text padded with spaces and a final '\n' so that the data starts at
 * a multiple of 64 bytes, as numpy writes it. Returns the full preamble size. */
static size_t npy_make_header(char *hdr, size_t cap, int rank, const int64_t *shape) {
    char dims[NPY_MAX_RANK * 24 + 4];
    size_t n = 0;
    for (int i = 0; i < rank; i++)
        n += (size_t)snprintf(dims + n, sizeof dims - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (rank == 1) n += (size_t)snprintf(dims + n, sizeof dims - n, ",");
    dims[n] = 0;
    int body = snprintf(hdr + 10, cap - 10,
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t total = 10 + (size_t)body + 1;
    total = (total + 63) / 64 * 64;
    memset(hdr + 10 + body, ' ', total - 10 - (size_t)body - 1);
    hdr[total - 1] = '\n';
    memcpy(hdr, NPY_MAGIC "\x01\x00", 8);
    const size_t hlen = total - 10;
    hdr[8] = (char)(hlen & 0xff);
    hdr[9] = (char)(hlen >> 8);
    return total;
}

int npy_write_f32(const char *path, const float *data, int rank, const int64_t *shape,
                  char *err, size_t errlen) {
    if (!path) return npy_fail(err, errlen, "npy: path is NULL");
    if (rank < 0 || rank > NPY_MAX_RANK || (rank > 0 && !shape))
        return npy_fail(err, errlen, "npy: rank %d out of range 0..%d", rank, NPY_MAX_RANK);
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return npy_fail(err, errlen, "npy: negative dimension %lld",
                                          (long long)shape[i]);
        if ((uint64_t)shape[i] > SIZE_MAX ||
            __builtin_mul_overflow(numel, (size_t)shape[i], &numel) ||
            numel > SIZE_MAX / sizeof(float))
            return npy_fail(err, errlen, "npy: shape element count overflows");
    }
    if (numel && !data) return npy_fail(err, errlen, "npy: data is NULL");

    char hdr[512];
    const size_t hsize = npy_make_header(hdr, sizeof hdr, rank, shape);
    char tmp[4096];
    const int fd = npy_open_temp(path, tmp, sizeof tmp);
    if (fd < 0)
        return npy_fail(err, errlen, "npy: cannot create a temporary file for '%s': %s", path,
                        strerror(errno));
    int ok = npy_write_all(fd, hdr, hsize) == 0;
    /* Little-endian on disk whatever the host: convert through a small buffer. */
    unsigned char chunk[4096];
    for (size_t i = 0; ok && i < numel;) {
        const size_t m = numel - i < sizeof chunk / 4 ? numel - i : sizeof chunk / 4;
        for (size_t k = 0; k < m; k++) {
            uint32_t u;
            memcpy(&u, &data[i + k], 4);
            chunk[4 * k] = (unsigned char)u;
            chunk[4 * k + 1] = (unsigned char)(u >> 8);
            chunk[4 * k + 2] = (unsigned char)(u >> 16);
            chunk[4 * k + 3] = (unsigned char)(u >> 24);
        }
        ok = npy_write_all(fd, chunk, 4 * m) == 0;
        i += m;
    }
    if (ok && fsync(fd) != 0) ok = 0;
    int e = ok ? 0 : errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) == 0) return 0;
    if (ok) e = errno;
    unlink(tmp);
    return npy_fail(err, errlen, "npy: cannot write '%s': %s", path, strerror(e));
}
