#include "options.h"

#include "cli.h"

#include <stddef.h>
#include <string.h>

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

/* The common options, by what their value is: a name kept as given, one of
 * two words, or a whole number in a range ("%s must be lo..hi" otherwise). */
static const struct { const char *name; size_t at; } str_opts[] = {
    {"-m", offsetof(opts, model)},     {"--model", offsetof(opts, model)},
    {"-o", offsetof(opts, out)},       {"--output", offsetof(opts, out)},
    {"--raw", offsetof(opts, raw)},    {"--frames", offsetof(opts, frames)},
    {"--arch", offsetof(opts, arch)},  {"--rgb-out", offsetof(opts, rgb_out)},
    {"--dtype", offsetof(opts, dtype)},
};
static const struct { const char *name, *one, *other; size_t at; } word_opts[] = {
    {"--crop", "squash", "center", offsetof(opts, crop)},
    {"--transform", "pe", "dinov2-eval", offsetof(opts, transform)},
    {"--compute", "f32", "f16", offsetof(opts, compute)},
};
static const struct { const char *name; long lo, hi; size_t at; } int_opts[] = {
    {"--threads", 1, 256, offsetof(opts, threads)},    {"--runs", 1, 100000, offsetof(opts, runs)},
    {"--batch", 1, PE_MAX_BATCH, offsetof(opts, batch)}, {"--warmup", 0, 100000, offsetof(opts, warmup)},
    {"--seed", 0, 2147483647L, offsetof(opts, seed)},
};
#define FIELD(o, type, at) ((type *)(void *)((char *)(o) + (at)))

static int take_opt(void *user, const char *a, const char *v) {
    opts *o = user;
    int t = cli_frames_take(&o->fr, a, v);
    if (t) return t < 0;
    /* --output names embed's output kind; a file of that name needs -o */
    if (!strcmp(a, "--tokens") || (!strcmp(a, "--output") && (!strcmp(v, "embedding") ||
                                   !strcmp(v, "tokens") || !strcmp(v, "linear4")))) {
        o->kind = v ? v : "tokens";
        return 0;
    }
    if (!strcmp(a, "--vision-only")) o->vision_only = 1;
    if (!strcmp(a, "--json")) o->json = 1;
    if (!strcmp(a, "--size") && cli_parse_size(v, &o->height, &o->width))
        return cli_fail("--size must be S or HxW with 1..16384, not '%s'", v);
    for (size_t i = 0; i < sizeof str_opts / sizeof *str_opts; i++)
        if (!strcmp(a, str_opts[i].name)) *FIELD(o, const char *, str_opts[i].at) = v;
    for (size_t i = 0; i < sizeof word_opts / sizeof *word_opts; i++) {
        if (strcmp(a, word_opts[i].name)) continue;
        if (strcmp(v, word_opts[i].one) && strcmp(v, word_opts[i].other))
            return cli_fail("%s must be %s or %s, not '%s'", a, word_opts[i].one, word_opts[i].other, v);
        *FIELD(o, const char *, word_opts[i].at) = v;
    }
    for (size_t i = 0; i < sizeof int_opts / sizeof *int_opts; i++)
        if (!strcmp(a, int_opts[i].name) &&
            cli_parse_int(v, int_opts[i].lo, int_opts[i].hi, FIELD(o, long, int_opts[i].at)))
            return cli_fail("%s must be %ld..%ld, not '%s'", a, int_opts[i].lo, int_opts[i].hi, v);
    return 0;
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

int cli_help(int argc, char **argv, const char *usage) {
    if (!cli_wants_help(argc, argv)) return 0;
    fputs(usage, stdout);
    return 1;
}

pe_compute cli_compute(const char *v) { return v && !strcmp(v, "f16") ? PE_COMPUTE_F16 : PE_COMPUTE_F32; }

int cli_frames_unused(const opts *o, const char *cmd) {
    const cli_frames *f = &o->fr;
    if (f->pix_fmt || f->width || f->row_stride || f->uv_stride || f->yuv || f->rotate || f->mirror || f->crop ||
        f->as_888 || o->rgb_out)
        return cli_fail("%s: frame options (--pix-fmt, --video-size ...) need --frames FILE", cmd);
    return 0;
}
