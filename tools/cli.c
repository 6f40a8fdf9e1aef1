#include "cli.h"
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    if (!isatty(STDERR_FILENO)) return;
    fprintf(stderr, "\r%-24s %3d%%", stage, (int)(fraction * 100 + 0.5));
    fflush(stderr);
    g_progress_shown = 1;
}

void cli_progress_done(void) {
    if (g_progress_shown) fputs("\r\033[K", stderr);
    g_progress_shown = 0;
}

int cli_scan(int argc, char **argv, const char *allowed, const char *flags, const char **inputs,
             int *n_inputs, cli_take_fn take, void *user) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (*n_inputs == MAX_INPUTS) return cli_fail("too many inputs (max %d)", MAX_INPUTS);
            inputs[(*n_inputs)++] = a;
            continue;
        }
        char key[40];
        snprintf(key, sizeof key, " %s ", a);
        if (strlen(a) > 30 || !strstr(allowed, key))
            return cli_fail("unknown option %s (see --help)", a);
        const char *v = NULL;
        if (!strstr(flags, key)) {
            if (i + 1 >= argc) return cli_fail("option %s needs a value", a);
            v = argv[++i];
        }
        if (take(user, a, v)) return 1;
    }
    return 0;
}

static int take_opt(void *user, const char *a, const char *v) {
    opts *o = user;
    int t = cli_frames_take(&o->fr, a, v);
    if (t) return t < 0;
    if (!strcmp(a, "--tokens")) o->kind = "tokens";
    else if (!strcmp(a, "--output") && v && (!strcmp(v, "embedding") || !strcmp(v, "tokens") ||
                                             !strcmp(v, "linear4")))
        o->kind = v; /* embed's output kind; a file of that name needs -o */
    else if (!strcmp(a, "--transform")) {
        if (strcmp(v, "pe") && strcmp(v, "dinov2-eval"))
            return cli_fail("--transform must be pe or dinov2-eval, not '%s'", v);
        o->transform = v;
    }
    else if (!strcmp(a, "--vision-only")) o->vision_only = 1;
    else if (!strcmp(a, "--json")) o->json = 1;
    else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) o->out = v;
    else if (!strcmp(a, "--raw")) o->raw = v;
    else if (!strcmp(a, "--frames")) o->frames = v;
    else if (!strcmp(a, "--rgb-out")) o->rgb_out = v;
    else if (!strcmp(a, "--arch")) o->arch = v;
    else if (!strcmp(a, "--dtype")) o->dtype = v;
    else if (!strcmp(a, "--crop")) {
        if (strcmp(v, "squash") && strcmp(v, "center"))
            return cli_fail("--crop must be squash or center, not '%s'", v);
        o->crop = v;
    } else if (!strcmp(a, "--size")) {
        if (cli_parse_size(v, &o->height, &o->width))
            return cli_fail("--size must be S or HxW with 1..16384, not '%s'", v);
    } else if (!strcmp(a, "--threads")) {
        if (cli_parse_int(v, 1, 256, &o->threads))
            return cli_fail("--threads must be 1..256, not '%s'", v);
    } else if (!strcmp(a, "--runs")) {
        if (cli_parse_int(v, 1, 100000, &o->runs))
            return cli_fail("--runs must be 1..100000, not '%s'", v);
    } else if (!strcmp(a, "--batch")) {
        if (cli_parse_int(v, 1, PE_MAX_BATCH, &o->batch))
            return cli_fail("--batch must be 1..%d, not '%s'", PE_MAX_BATCH, v);
    } else if (!strcmp(a, "--warmup")) {
        if (cli_parse_int(v, 0, 100000, &o->warmup))
            return cli_fail("--warmup must be 0..100000, not '%s'", v);
    } else if (!strcmp(a, "--seed")) {
        if (cli_parse_int(v, 0, 2147483647L, &o->seed))
            return cli_fail("--seed must be 0..2147483647, not '%s'", v);
    }
    return 0;
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

pe_output cli_output_kind(const opts *o, const pe_model_info *in) {
    if (o->kind && !strcmp(o->kind, "tokens")) return PE_OUTPUT_TOKENS;
    if (o->kind && !strcmp(o->kind, "linear4")) return PE_OUTPUT_LINEAR4;
    if (o->kind) return PE_OUTPUT_EMBEDDING;
    return in->pool == PE_POOL_NONE ? PE_OUTPUT_TOKENS : PE_OUTPUT_EMBEDDING;
}

int cli_parse(int argc, char **argv, const char *allowed, opts *o) {
    memset(o, 0, sizeof *o);
    o->warmup = -1; /* unset */
    return cli_scan(argc, argv, allowed, " --tokens --json --vision-only" CLI_FRAME_FLAGS, o->inputs,
                    &o->n_inputs, take_opt, o);
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
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
