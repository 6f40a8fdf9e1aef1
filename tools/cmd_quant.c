/* pecore quantize: a copy of a model with f16 / bf16 / q8 / q4 weights.
 * pecore compare: how closely two models agree on the same inputs (cosine,
 * absolute error, zero-shot top-1 agreement). */
#include "cli.h"
#include "image_io.h"
#include "npy.h"
#include "options.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int parse_type(const char *s, size_t n, pe_weight_type *t) {
    static const struct { const char *name; pe_weight_type t; } types[] = {
        {"f16", PE_WEIGHTS_F16}, {"bf16", PE_WEIGHTS_BF16}, {"q8", PE_WEIGHTS_Q8}, {"q4", PE_WEIGHTS_Q4}};
    for (size_t i = 0; s && i < sizeof types / sizeof *types; i++)
        if (strlen(types[i].name) == n && !strncmp(s, types[i].name, n)) { *t = types[i].t; return 0; }
    return -1;
}

#define MAX_RULES 32

typedef struct quant_opts {
    const char *in, *out, *type, *keep, *calib;
    pe_quant_rule rules[MAX_RULES];
    int n_rules, vision_only, json, plain;
    unsigned without;
    const char *inputs[MAX_INPUTS];
    int n_inputs;
} quant_opts;

/* --as TYPE:PATTERN[,PATTERN...] */
static int parse_rule(quant_opts *q, const char *v) {
    const char *colon = strchr(v, ':');
    if (!colon)
        return cli_fail("quantize: --as takes TYPE:PATTERN[,PATTERN...] (e.g. q8:'*attn*'), not '%s'", v);
    pe_quant_rule *r = &q->rules[q->n_rules];
    if (parse_type(v, (size_t)(colon - v), &r->type))
        return cli_fail("quantize: --as %s: the type must be f16, bf16, q8 or q4", v);
    r->patterns = colon + 1;
    const char *p = r->patterns;
    if (!*p || *p == ',' || p[strlen(p) - 1] == ',' || strstr(p, ",,"))
        return cli_fail("quantize: --as %s: an empty pattern", v);
    if (q->n_rules == MAX_RULES) return cli_fail("quantize: at most %d --as rules", MAX_RULES);
    q->n_rules++;
    return 0;
}

/* --without smooth,fcols,gptq */
static int parse_without(quant_opts *q, const char *v) {
    static const struct { const char *name; unsigned bit; } methods[] = {
        {"smooth", PE_QUANT_NO_SMOOTH}, {"fcols", PE_QUANT_NO_FCOLS}, {"gptq", PE_QUANT_NO_GPTQ}};
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ","), i = 0;
        while (i < 3 && (strlen(methods[i].name) != n || strncmp(p, methods[i].name, n))) i++;
        if (i == 3) return cli_fail("quantize: --without takes smooth, fcols and gptq, comma-separated");
        q->without |= methods[i].bit;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int take_quant(void *user, const char *a, const char *v) {
    quant_opts *q = user;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) q->in = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) q->out = v;
    else if (!strcmp(a, "--type")) q->type = v;
    else if (!strcmp(a, "--vision-only")) q->vision_only = 1;
    else if (!strcmp(a, "--json")) q->json = 1;
    else if (!strcmp(a, "--plain")) q->plain = 1;
    else if (!strcmp(a, "--calibrate")) q->calib = v;
    else if (!strcmp(a, "--without")) return parse_without(q, v);
    else if (!strcmp(a, "--as")) return parse_rule(q, v);
    else q->keep = v; /* --keep */
    return 0;
}

typedef struct cmp_opts {
    const char *models[2], *raw, *labels, *vocab;
    const char *imgs[MAX_INPUTS];
    int nm, n_imgs, json;
    long threads;
} cmp_opts;

static int take_cmp(void *user, const char *a, const char *v) {
    cmp_opts *c = user;
    if (!strcmp(a, "--json")) c->json = 1;
    else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        if (c->nm == 2) return cli_fail("compare: exactly two models (-m A -m B)");
        c->models[c->nm++] = v;
    } else if (!strcmp(a, "--raw")) c->raw = v;
    else if (!strcmp(a, "--labels-file")) c->labels = v;
    else if (!strcmp(a, "--vocab")) c->vocab = v;
    else if (cli_parse_int(v, 1, 256, &c->threads)) /* --threads */
        return cli_fail("--threads must be 1..256, not '%s'", v);
    return 0;
}

/* ------------------------------------------------------------ calibration */

/* The JPEG and PNG files of a directory, sorted by name, decoded one at a
 * time when the quantizer asks (pe_quantize_options.calib_image). */
typedef struct calib_dir {
    char **paths;
    int n;
    img_buf img;
    int loaded;
    char err[512];          /* why an image could not be read */
} calib_dir;

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int calib_list(const char *dir, calib_dir *cd) {
    DIR *d = opendir(dir);
    if (!d) return cli_fail("quantize: --calibrate %s: not a readable directory", dir);
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name)) continue;
        if (cd->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(cd->paths, (size_t)cap * sizeof *p);
            if (!p) { closedir(d); return cli_fail("quantize: out of memory"); }
            cd->paths = p;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(cd->paths[cd->n] = malloc(len))) { closedir(d); return cli_fail("quantize: out of memory"); }
        snprintf(cd->paths[cd->n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!cd->n) return cli_fail("quantize: --calibrate %s: no .jpg, .jpeg or .png files there", dir);
    qsort(cd->paths, (size_t)cd->n, sizeof *cd->paths, cmp_str);
    return 0;
}

static void calib_free(calib_dir *cd) {
    if (cd->loaded) image_free(&cd->img);
    for (int i = 0; i < cd->n; i++) free(cd->paths[i]);
    free(cd->paths);
}

static pe_status calib_image(void *user, int i, pe_image *img) {
    calib_dir *cd = user;
    if (cd->loaded) image_free(&cd->img);
    cd->loaded = 0;
    if (image_load(cd->paths[i], &cd->img, cd->err, sizeof cd->err)) return PE_ERR_FORMAT;
    cd->loaded = 1;
    *img = cd->img.image;
    return PE_OK;
}

/* The report: one screen, or one JSON object with --json. */
static void print_report(const pe_quant_report *r, int json) {
    if (json) {
        printf("{\"method\": ");
        cli_json_str(r->method);
        printf(", \"images\": %d, \"cos_mean\": %.6f, \"cos_min\": %.6f, \"linears\": %d, "
               "\"smoothed\": %d, \"gptq\": %d, \"float_columns\": %d, \"worst\": [",
               r->n_images, r->cos_mean, r->cos_min, r->n_linears, r->n_smoothed, r->n_gptq, r->n_fcols);
        for (int i = 0; i < r->n_worst; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_str(r->worst[i].name);
            printf(", \"before\": %.5f, \"after\": %.5f, \"action\": ", r->worst[i].before, r->worst[i].after);
            cli_json_str(r->worst[i].action);
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("quality on %d calibration image%s (%s):\n", r->n_images, r->n_images == 1 ? "" : "s", r->method);
    printf("  cosine to the float model   mean %.5f   min %.5f\n", r->cos_mean, r->cos_min);
    printf("  %d int8 linears: %d smoothed, %d with error-compensated rounding, %d input columns in float\n",
           r->n_linears, r->n_smoothed, r->n_gptq, r->n_fcols);
    if (r->n_worst) printf("  losing most (relative output error, plain rounding -> as quantized):\n");
    for (int i = 0; i < r->n_worst; i++) {
        printf("    %-44s %.4f -> %.4f  ", r->worst[i].name, r->worst[i].before, r->worst[i].after);
        cli_print_safe(stdout, r->worst[i].action);
        printf("\n");
    }
    if (r->cos_min < 0.99)
        printf("  below 0.99: check these images with `pecore compare`, or keep the worst linears at f16\n"
               "  (--as 'f16:NAME') or the whole model at f16\n");
}

int cmd_quantize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore quantize -m IN -o OUT.safetensors --type f16|bf16|q8|q4\n"
              "                       [--as TYPE:PATTERN[,PATTERN...]]... [--keep PATTERN[,...]]\n"
              "                       [--vision-only] [--calibrate DIR [--json]] [--plain]\n"
              "Writes a copy of IN (any model file pecore loads) with its linear weights as f16,\n"
              "bf16, q8 (int8, one scale per output channel) or q4 (4-bit blocks of 32), stored\n"
              "in the kernels' layout so loading maps them without a copy.  Patch/position/token\n"
              "embeddings go to half precision, norms and biases stay float32.\n"
              "  --type q4      keeps at q8 the attention projections of every block\n"
              "                 (attn.in_proj_weight, attn.out_proj.weight), the attention pooling\n"
              "                 head and the output projections (proj, text_projection): on the\n"
              "                 golden T16, cosine 0.994 instead of 0.959 for 27% more bytes.\n"
              "                 --as 'q4:*' gives pure q4\n"
              "  --as T:PAT     linear weights whose names match PAT get type T (f16|bf16|q8|q4);\n"
              "                 repeatable, the last match wins; a rule matching nothing is an error\n"
              "  --keep PAT     tensors kept exactly as they are\n"
              "  --vision-only  drop the text tower (CLIP files): a smaller file for image embedding\n"
              "  --calibrate DIR  run the .jpg/.png images of DIR through the model first and choose\n"
              "                 with their activations (smoothing, float columns, GPTQ rounding);\n"
              "                 ends with a quality report: the cosine to the float model on them\n"
              "                 and the linears that lose most.  Without it, q8/q4 smooth and keep\n"
              "                 float columns from what the weights say, where that lowers the error\n"
              "  --json         the report as one JSON object (with --calibrate)\n"
              "  --plain        plain per-channel rounding (no outlier handling), for comparison\n"
              "  --without M    leave out methods M (smooth,fcols,gptq), to measure what each buys\n"
              "Patterns are comma-separated globs or substrings of IN's tensor names; quote globs.\n",
              stdout);
        return 0;
    }
    quant_opts q = {0};
    if (cli_scan(argc, argv, " -m --model -o --output --type --keep --as --vision-only --calibrate --json --plain --without ",
                 " --vision-only --json --plain ",
                 q.inputs, &q.n_inputs, take_quant, &q))
        return 1;
    if (q.n_inputs) return cli_fail("quantize: unexpected argument '%s' (see --help)", q.inputs[0]);
    const char *in = q.in, *out = q.out, *type = q.type;
    pe_quantize_options qo = {.rules = q.rules, .n_rules = q.n_rules, .keep = q.keep,
                              .vision_only = q.vision_only, .progress = cli_progress};
    if (!in || !out) return cli_fail("quantize: pass -m IN and -o OUT");
    if (!type || parse_type(type, strlen(type), &qo.type))
        return cli_fail("quantize: --type must be f16, bf16, q8 or q4");
    if (q.json && !q.calib) return cli_fail("quantize: --json prints the report of --calibrate DIR");
    calib_dir cd = {0};
    if (q.calib && calib_list(q.calib, &cd)) { calib_free(&cd); return 1; }
    pe_quant_report rep;
    qo.n_calib = cd.n;
    qo.calib_image = cd.n ? calib_image : NULL;
    qo.user = &cd;
    qo.plain = q.plain;
    qo.without = q.without;
    qo.report = &rep;
    pe_status s = pe_quantize(in, out, &qo);
    cli_progress_done();
    if (s && cd.err[0]) {
        cli_fail("quantize: calibration: %s", cd.err);
        calib_free(&cd);
        return 1;
    }
    calib_free(&cd);
    if (s) return cli_fail_status(s, "quantize");
    if (q.calib) print_report(&rep, q.json);
    struct stat a, b;
    if (!q.json && !stat(in, &a) && !stat(out, &b))
        printf("%s: %.2f MB -> %s: %.2f MB (%s%s%s)\n", in, a.st_size / 1e6, out, b.st_size / 1e6, type,
               q.n_rules ? ", with --as rules" : !strcmp(type, "q4") ? ", attention and head q8" : "",
               q.vision_only ? ", vision only" : "");
    return 0;
}

/* ------------------------------------------------------------ compare */

/* Encodes every input with model m: out [n, per]. */
static int encode_all(pe_model *m, int threads, const char *raw, const char *const *imgs, int n_imgs,
                      float **out, int *n, size_t *per) {
    pe_ctx_options co = {.n_threads = threads};
    pe_ctx *c;
    pe_status s = pe_ctx_create(m, &co, &c);
    if (s) return cli_fail_status(s, "cannot create context");
    pe_model_info in;
    pe_model_get_info(m, &in);
    pe_output kind = in.pool != PE_POOL_NONE ? PE_OUTPUT_EMBEDDING : PE_OUTPUT_TOKENS;
    int rc = 1, rows, cols;
    *out = NULL;
    if (raw) {
        npy_array a;
        char err[512];
        if (npy_read_f32(raw, &a, err, sizeof err)) { pe_ctx_free(c); return cli_fail("%s", err); }
        if (a.rank != 4 || a.shape[1] != 3 || a.shape[0] < 1 || a.shape[0] > 65536 ||
            a.shape[2] > 16384 || a.shape[3] > 16384) {
            cli_fail("%s: expected float32 [N, 3, H, W]", raw);
        } else if ((s = pe_output_shape(m, (int)a.shape[2], (int)a.shape[3], kind, &rows, &cols))) {
            cli_fail_status(s, raw);
        } else {
            *n = (int)a.shape[0];
            *per = (size_t)rows * cols;
            if (!(*out = malloc(*per * (size_t)*n * sizeof(float)))) cli_fail("out of memory");
            else if ((s = pe_encode_f32(c, a.data, *n, (int)a.shape[2], (int)a.shape[3], kind, *out, *per * *n)))
                cli_fail_status(s, raw);
            else rc = 0;
        }
        npy_free(&a);
    } else {
        if ((s = pe_output_shape(m, in.image_size, in.image_size, kind, &rows, &cols))) {
            pe_ctx_free(c);
            return cli_fail_status(s, "compare");
        }
        *n = n_imgs;
        *per = (size_t)rows * cols;
        if (!(*out = malloc(*per * (size_t)n_imgs * sizeof(float)))) { pe_ctx_free(c); return cli_fail("out of memory"); }
        rc = 0;
        for (int i = 0; i < n_imgs && !rc; i++) {
            img_buf img;
            char err[512];
            if (image_load(imgs[i], &img, err, sizeof err)) { rc = cli_fail("%s", err); break; }
            pe_preprocess pp;
            pe_preprocess_init(in.transform, 0, &pp);
            if (!pp.height) pp.height = pp.width = in.image_size;
            cli_image_filter(&pp, img.resample);
            s = pe_encode_image(c, &img.image, &pp, kind, *out + *per * i, *per);
            image_free(&img);
            if (s) rc = cli_fail_status(s, imgs[i]);
        }
    }
    pe_ctx_free(c);
    return rc;
}

/* Zero-shot top-1 of each embedding with m's own text tower. */
static int top1(pe_model *m, const char *labels_file, const char *vocab, const float *emb, int n,
                int dim, int *best) {
    FILE *f = fopen(labels_file, "r");
    if (!f) return cli_fail("cannot open %s", labels_file);
    char line[PE_LABEL_MAX], *labels[1024];
    int nl = 0;
    while (nl < 1024 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (*line && !(labels[nl] = strdup(line))) break;
        if (*line) nl++;
    }
    fclose(f);
    int rc = 1;
    pe_tokenizer *t = NULL;
    pe_protos *p = NULL;
    pe_ctx *c = NULL;
    const char *env = getenv("PECORE_VOCAB");
    const char *vpath = vocab ? vocab : env && *env ? env : NULL;
    pe_status s = vpath ? pe_tokenizer_load(vpath, &t) : pe_tokenizer_load_model(m, &t);
    if (s) { cli_fail_status(s, "cannot load vocabulary (--vocab F or PECORE_VOCAB)"); goto done; }
    if ((s = pe_ctx_create(m, NULL, &c)) || (s = pe_protos_create(m, &p)) ||
        (s = pe_protos_add_text(p, c, t, (const char *const *)labels, nl, NULL, 0))) {
        cli_fail_status(s, "zero-shot classes");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        pe_classification r;
        if ((s = pe_protos_classify(p, emb + (size_t)i * dim, dim, 1, &r))) { cli_fail_status(s, "classify"); goto done; }
        best[i] = r.top[0].index;
    }
    rc = 0;
done:
    for (int i = 0; i < nl; i++) free(labels[i]);
    pe_protos_free(p);
    pe_ctx_free(c);
    pe_tokenizer_free(t);
    return rc;
}

int cmd_compare(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore compare -m A -m B (--raw IN.npy | IMAGE...) [--labels-file F]\n"
              "                      [--vocab F] [--threads N] [--json]\n"
              "Encodes the same inputs with both models and reports the cosine similarity of\n"
              "the outputs (mean, min), the max and mean absolute error, and with --labels-file\n"
              "how often the zero-shot top-1 classes agree (needs text towers).\n",
              stdout);
        return 0;
    }
    cmp_opts c = {0};
    if (cli_scan(argc, argv, " -m --model --raw --labels-file --vocab --threads --json ", " --json ",
                 c.imgs, &c.n_imgs, take_cmp, &c))
        return 1;
    const char **models = c.models, *raw = c.raw, *labels = c.labels, *vocab = c.vocab;
    const char **imgs = c.imgs;
    int nm = c.nm, n_imgs = c.n_imgs, json = c.json;
    long threads = c.threads;
    if (nm != 2) return cli_fail("compare: pass two models (-m A -m B)");
    if (!raw == !n_imgs) return cli_fail("compare: give either --raw IN.npy or images");
    pe_model *m[2] = {0};
    float *out[2] = {0};
    int n[2] = {0}, rc = 1;
    size_t per[2] = {0};
    for (int k = 0; k < 2; k++)
        if (cli_load_model(models[k], labels == NULL, &m[k]) || encode_all(m[k], (int)threads, raw, imgs, n_imgs, &out[k], &n[k], &per[k]))
            goto done;
    if (per[0] != per[1] || n[0] != n[1]) { cli_fail("compare: the models give outputs of different shapes"); goto done; }
    double cos_sum = 0, cos_min = 2, max_abs = 0, abs_sum = 0;
    for (int i = 0; i < n[0]; i++) {
        const float *a = out[0] + per[0] * i, *b = out[1] + per[0] * i;
        double ab = 0, aa = 0, bb = 0;
        for (size_t j = 0; j < per[0]; j++) {
            ab += (double)a[j] * b[j];
            aa += (double)a[j] * a[j];
            bb += (double)b[j] * b[j];
            double e = fabs((double)a[j] - b[j]);
            max_abs = e > max_abs ? e : max_abs;
            abs_sum += e;
        }
        double cs = ab / (sqrt(aa * bb) + 1e-30);
        cos_sum += cs;
        cos_min = cs < cos_min ? cs : cos_min;
    }
    int agree = -1;
    if (labels) {
        int *b0 = malloc((size_t)n[0] * sizeof(int)), *b1 = malloc((size_t)n[0] * sizeof(int));
        int bad = !b0 || !b1 || top1(m[0], labels, vocab, out[0], n[0], (int)per[0], b0) ||
                  top1(m[1], labels, vocab, out[1], n[0], (int)per[0], b1);
        agree = 0;
        for (int i = 0; !bad && i < n[0]; i++) agree += b0[i] == b1[i];
        free(b0);
        free(b1);
        if (bad) goto done;
    }
    double mean_abs = abs_sum / ((double)per[0] * n[0]);
    if (json) {
        printf("{\"a\": \"%s\", \"b\": \"%s\", \"inputs\": %d, \"cos_mean\": %.6f, \"cos_min\": %.6f, "
               "\"max_abs\": %.6g, \"mean_abs\": %.6g", models[0], models[1], n[0], cos_sum / n[0],
               cos_min, max_abs, mean_abs);
        if (agree >= 0) printf(", \"top1_agree\": %d", agree);
        printf("}\n");
    } else {
        printf("inputs      %d\n", n[0]);
        printf("cosine      mean %.6f, min %.6f\n", cos_sum / n[0], cos_min);
        printf("abs error   max %.4g, mean %.4g\n", max_abs, mean_abs);
        if (agree >= 0) printf("top-1       %d of %d agree (%.1f%%)\n", agree, n[0], 100.0 * agree / n[0]);
    }
    rc = 0;
done:
    for (int k = 0; k < 2; k++) { free(out[k]); pe_model_free(m[k]); }
    return rc;
}
