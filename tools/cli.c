#include "cli.h"

#include "image_io.h"
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
/* Emscripten's isatty() answers yes for the standard streams whatever they
 * are (a pipe, a file); node knows. */
EM_JS(int, stderr_is_tty, (void), {
    return typeof process !== 'undefined' && process.stderr && process.stderr.isTTY ? 1 : 0;
});
#else
static int stderr_is_tty(void) { return isatty(STDERR_FILENO); }
#endif

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("pecore: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_status(pe_status s, const char *what) {
    const char *msg = pe_last_error();
    return cli_fail("%s: %s", what, *msg ? msg : pe_status_string(s));
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, int *h, int *w) {
    long a, b;
    const char *x = s ? strchr(s, 'x') : NULL;
    if (!x) {
        if (cli_parse_int(s, 1, 16384, &a)) return -1;
        *h = *w = (int)a;
        return 0;
    }
    char buf[32];
    size_t n = (size_t)(x - s);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (cli_parse_int(buf, 1, 16384, &a) || cli_parse_int(x + 1, 1, 16384, &b)) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

static int g_progress_shown;

void cli_progress(void *user, const char *stage, double fraction) {
    (void)user;
    if (!stderr_is_tty()) return;
    /* a bar of 24 cells, the stage name before it (library text, ASCII) */
    const int pct = (int)(fraction * 100 + 0.5), full = (int)(fraction * 24 + 0.5);
    char bar[25];
    for (int i = 0; i < 24; i++) bar[i] = i < full ? '#' : '.';
    bar[24] = 0;
    fprintf(stderr, "\r%-14.14s [%s] %3d%%", stage, bar, pct < 0 ? 0 : pct > 100 ? 100 : pct);
    fflush(stderr);
    g_progress_shown = 1;
}

void cli_progress_done(void) {
    if (g_progress_shown) fputs("\r\033[K", stderr);
    g_progress_shown = 0;
}

void cli_preprocess(const char *transform, int height, int width, const char *crop,
                    const pe_model_info *in, pe_preprocess *pp) {
    pe_transform t = transform ? (!strcmp(transform, "dinov2-eval") ? PE_TRANSFORM_DINOV2_EVAL
                                                                    : PE_TRANSFORM_PE)
                     : in ? in->transform : PE_TRANSFORM_PE;
    pe_preprocess_init(t, height == width ? height : 0, pp);
    if (height) pp->height = height, pp->width = width;
    if (!pp->height) pp->height = pp->width = in ? in->image_size : 224;
    if (crop) pp->crop = !strcmp(crop, "center") ? PE_CROP_CENTER : PE_CROP_SQUASH;
}

void cli_image_filter(pe_preprocess *pp, pe_resample image_resample) {
    if (image_resample == PE_RESAMPLE_NEAREST) pp->resample = PE_RESAMPLE_NEAREST;
}

int cli_load_images(const char *const *paths, int n, const pe_preprocess *pp, float *x) {
    const size_t per = (size_t)3 * pp->height * pp->width;
    for (int i = 0; i < n; i++) {
        img_buf img;
        char err[512];
        if (image_load(paths[i], &img, err, sizeof err)) return cli_fail("%s", err);
        pe_preprocess ip = *pp;
        cli_image_filter(&ip, img.resample);
        pe_status s = pe_preprocess_image(&img.image, &ip, x + per * i, per);
        image_free(&img);
        if (s) return cli_fail_status(s, paths[i]);
    }
    return 0;
}

int cli_load_model(const char *path, int vision_only, pe_model **m) {
    if (!path) return cli_fail("no model: pass -m MODEL (pecore synth makes one)");
    pe_model_options mo = {.vision_only = vision_only};
    pe_status s = pe_model_load(path, &mo, m);
    return s ? cli_fail_status(s, "cannot load model") : 0;
}

int cli_write_npy(const char *path, const float *data, int rank, const int64_t *shape) {
    char err[512];
    if (npy_write_f32(path, data, rank, shape, err, sizeof err)) return cli_fail("%s", err);
    return 0;
}


/* Length (2..4) of the valid UTF-8 sequence at p, with its code point in
 * *cp, or 0 (ASCII, a stray byte, an overlong or surrogate form). */
static int utf8_seq(const unsigned char *p, uint32_t *cp) {
    int n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
          : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (!n) return 0;
    uint32_t c = p[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

void cli_json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        int n = utf8_seq(p, &cp);
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) printf("\\u%04x", *p);
        else if (*p < 0x80) putchar(*p);
        else if (!n) fputs("\\ufffd", stdout);           /* not UTF-8 */
        else if (cp < 0xa0) printf("\\u%04x", (unsigned)cp); /* C1 controls */
        else fwrite(p, 1, (size_t)n, stdout);
        p += n ? n : 1;
    }
    putchar('"');
}

void cli_print_safe(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        int n = utf8_seq(p, &cp);
        if (*p >= 0x20 && *p < 0x7f) fputc(*p, f);
        else if (n && cp >= 0xa0) fwrite(p, 1, (size_t)n, f);
        else { fprintf(f, "\\x%02x", *p); n = 1; }
        p += n ? n : 1;
    }
}
