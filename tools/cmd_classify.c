/* pecore tokenize | text | classify | prototypes | gallery: the CLIP text
 * tower and the classifiers of pecore.h ("classification"), public API only. */
#include "classifier.h"
#include "cli.h"
#include "commands.h"
#include "image_io.h"
#include "npy.h"
#include "pecore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096          /* labels, templates, texts, images */
#define MAX_LINE 4096

/* ------------------------------------------------------------ options */

int copts_take(void *user, const char *a, const char *v) {
    copts *o = user;
    if (!strcmp(a, "--json")) o->json = 1;
    else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) o->out = v;
    else if (!strcmp(a, "--vocab")) o->vocab = v;
    else if (!strcmp(a, "--raw")) o->raw = v;
    else if (!strcmp(a, "--prototypes") || !strcmp(a, "-p")) o->protos = v;
    else if (!strcmp(a, "--gallery") || !strcmp(a, "-g")) o->gallery = v;
    else if (!strcmp(a, "--label")) o->label = v;
    else if (!strcmp(a, "--labels")) o->labels = v;
    else if (!strcmp(a, "--labels-file")) o->labels_file = v;
    else if (!strcmp(a, "--templates-file")) o->templates_file = v;
    else if (!strcmp(a, "--thresholds-file")) o->thresholds_file = v;
    else if (!strcmp(a, "--template")) {
        if (o->n_templates == 64) return cli_fail("too many --template options (max 64)");
        o->templates[o->n_templates++] = v;
    } else if (!strcmp(a, "--size")) {
        if (cli_parse_size(v, &o->height, &o->width))
            return cli_fail("--size must be S or HxW with 1..16384, not '%s'", v);
    } else if (!strcmp(a, "--crop")) {
        if (strcmp(v, "squash") && strcmp(v, "center"))
            return cli_fail("--crop must be squash or center, not '%s'", v);
        o->crop = v;
    } else if (!strcmp(a, "--metric")) {
        if (!strcmp(v, "cosine")) o->metric = PE_METRIC_COSINE;
        else if (!strcmp(v, "l2")) o->metric = PE_METRIC_L2;
        else return cli_fail("--metric must be cosine or l2, not '%s'", v);
        o->metric_set = 1;
    } else if (!strcmp(a, "--top")) {
        if (cli_parse_int(v, 1, PE_CLASSIFY_MAX_TOP, &o->top))
            return cli_fail("--top must be 1..%d, not '%s'", PE_CLASSIFY_MAX_TOP, v);
        o->top_set = 1;
    } else if (!strcmp(a, "--k")) {
        if (cli_parse_int(v, 1, PE_CLASSIFY_MAX_TOP, &o->k))
            return cli_fail("--k must be 1..%d, not '%s'", PE_CLASSIFY_MAX_TOP, v);
        o->k_set = 1;
    } else if (!strcmp(a, "--context-length")) {
        if (cli_parse_int(v, 2, 4096, &o->context_length))
            return cli_fail("--context-length must be 2..4096, not '%s'", v);
    } else if (!strcmp(a, "--threads")) {
        if (cli_parse_int(v, 1, 256, &o->threads))
            return cli_fail("--threads must be 1..256, not '%s'", v);
    } else if (!strcmp(a, "--compute")) {
        if (strcmp(v, "f32") && strcmp(v, "f16"))
            return cli_fail("--compute must be f32 or f16, not '%s'", v);
        o->compute = v;
    }
    return 0;
}

void copts_init(copts *o) {
    memset(o, 0, sizeof *o);
    o->top = 5;
    o->k = 5;
    o->context_length = 77;
}

/* Strict parse (tools/options.h cli_scan) with this file's options. */
static int cparse(int argc, char **argv, const char *allowed, copts *o) {
    copts_init(o);
    return cli_scan(argc, argv, allowed, " --json ", o->inputs, &o->n_inputs, copts_take, o);
}

/* ------------------------------------------------------------ text files */

typedef struct strlist {
    char *items[MAX_ITEMS];
    int n;
} strlist;

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    l->n = 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

static int strlist_push(strlist *l, const char *s, const char *what) {
    if (l->n == MAX_ITEMS) return cli_fail("%s: more than %d entries", what, MAX_ITEMS);
    if (!(l->items[l->n] = strdup(s))) return cli_fail("out of memory");
    l->n++;
    return 0;
}

/* One entry per line; blank lines and lines starting with '#' are skipped. */
static int read_lines(const char *path, strlist *l) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail("%s: %s", path, strerror(errno));
    char line[MAX_LINE + 2];
    int rc = 0, no = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        no++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = cli_fail("%s:%d: line longer than %d bytes", path, no, MAX_LINE);
            break;
        }
        char *t = trim(line);
        if (!*t || *t == '#') continue;
        rc = strlist_push(l, t, path);
    }
    if (!rc && ferror(f)) rc = cli_fail("%s: read error", path);
    fclose(f);
    if (!rc && !l->n) rc = cli_fail("%s: no entries", path);
    return rc;
}

/* "cat, dog ,bird" */
static int split_commas(const char *s, strlist *l) {
    char *copy = strdup(s), *p = copy;
    if (!copy) return cli_fail("out of memory");
    int rc = 0;
    for (;;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        char *t = trim(p);
        if (!*t) { rc = cli_fail("--labels: empty label in '%s'", s); break; }
        if ((rc = strlist_push(l, t, "--labels"))) break;
        if (!c) break;
        p = c + 1;
    }
    free(copy);
    return rc;
}

static int get_labels(const copts *o, strlist *l) {
    if (o->labels && o->labels_file) return cli_fail("give --labels or --labels-file, not both");
    if (o->labels) return split_commas(o->labels, l);
    if (o->labels_file) return read_lines(o->labels_file, l);
    return cli_fail("no labels: pass --labels \"cat,dog\" or --labels-file F");
}

static int get_templates(const copts *o, strlist *l) {
    for (int i = 0; i < o->n_templates; i++)
        if (strlist_push(l, o->templates[i], "--template")) return 1;
    if (o->templates_file && read_lines(o->templates_file, l)) return 1;
    return 0;
}

/* ------------------------------------------------------------ vocabulary */

/* --vocab, then $PECORE_VOCAB, then the model file (pe_convert --vocab
 * stores it there); m may be NULL. */
static int load_tokenizer(const char *vocab, const pe_model *m, pe_tokenizer **t) {
    const char *env = getenv("PECORE_VOCAB");
    const char *path = vocab ? vocab : env && *env ? env : NULL;
    if (!path) {
        pe_status s = m ? pe_tokenizer_load_model(m, t) : PE_ERR_NOT_FOUND;
        if (s == PE_ERR_NOT_FOUND)
            return cli_fail("no vocabulary: pass --vocab bpe_simple_vocab_16e6.txt.gz, set "
                            "PECORE_VOCAB, or store it in the model (pecore convert)");
        return s ? cli_fail_status(s, "cannot load vocabulary") : 0;
    }
    pe_status s = pe_tokenizer_load(path, t);
    return s ? cli_fail_status(s, "cannot load vocabulary") : 0;
}

static int make_ctx(const pe_model *m, const copts *o, pe_ctx **c) {
    pe_ctx_options co = {.n_threads = (int)o->threads, .compute = cli_compute(o->compute)};
    pe_status s = pe_ctx_create(m, &co, c);
    return s ? cli_fail_status(s, "cannot create context") : 0;
}

static int need_text(const pe_model *m, const char *model) {
    pe_model_info in;
    pe_model_get_info(m, &in);
    if (!in.has_text)
        return cli_fail("%s has no text tower: zero-shot and text need a CLIP file "
                        "(use --prototypes or --gallery with a vision-only model)", model);
    return 0;
}

/* ------------------------------------------------------------ tokenize, text */

int cmd_tokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore tokenize [--vocab F | -m MODEL] [--context-length N] TEXT...\n"
              "Prints each text's CLIP token ids on one line ([sot] ids [eot], zero-padded to\n"
              "N, default 77). The vocabulary: --vocab, else $PECORE_VOCAB, else the one a\n"
              "conversion stored in MODEL.\n", stdout);
        return 0;
    }
    copts o;
    if (cparse(argc, argv, " --vocab --context-length -m --model ", &o)) return 1;
    if (!o.n_inputs) return cli_fail("tokenize: no text given");
    pe_tokenizer *t;
    pe_model *m = NULL;
    int bad = o.model && !getenv("PECORE_VOCAB") && !o.vocab && cli_load_model(o.model, 0, &m);
    if (bad || load_tokenizer(o.vocab, m, &t)) {
        pe_model_free(m);
        return 1;
    }
    pe_model_free(m);
    int n = (int)o.context_length, rc = 0;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) rc = cli_fail("out of memory");
    for (int i = 0; !rc && i < o.n_inputs; i++) {
        pe_status s = pe_tokenize(t, o.inputs[i], n, ids);
        if (s) { rc = cli_fail_status(s, "tokenize"); break; }
        for (int j = 0; j < n; j++) printf(j ? " %d" : "%d", (int)ids[j]);
        putchar('\n');
    }
    free(ids);
    pe_tokenizer_free(t);
    return rc;
}

int cmd_text(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore text -m MODEL [--vocab F] [--threads N] [--compute f32|f16] -o OUT.npy TEXT...\n"
              "Writes the text embeddings float32 [N, D] (not normalised).\n" CLI_COMPUTE_HELP, stdout);
        return 0;
    }
    copts o;
    if (cparse(argc, argv, " -m --model -o --output --vocab --threads --compute ", &o)) return 1;
    if (!o.out) return cli_fail("text: no output file: pass -o OUT.npy");
    if (!o.n_inputs) return cli_fail("text: no text given");
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_tokenizer *t = NULL;
    int32_t *ids = NULL;
    float *emb = NULL;
    int rc = cli_load_model(o.model, 0, &m);
    if (!rc) rc = need_text(m, o.model);
    if (!rc) rc = load_tokenizer(o.vocab, m, &t);
    if (!rc) rc = make_ctx(m, &o, &c);
    if (!rc) {
        pe_model_info in;
        pe_model_get_info(m, &in);
        int n = o.n_inputs, ctx = in.text_context, D = in.text_out_dim;
        ids = malloc((size_t)n * ctx * sizeof *ids);
        emb = malloc((size_t)n * D * sizeof *emb);
        if (!ids || !emb) rc = cli_fail("out of memory");
        for (int i = 0; !rc && i < n; i++) {
            pe_status s = pe_tokenize(t, o.inputs[i], ctx, ids + (size_t)i * ctx);
            if (s) rc = cli_fail_status(s, "tokenize");
        }
        pe_status s = rc ? PE_OK : pe_encode_text(c, ids, n, ctx, emb, (size_t)n * D);
        if (s) rc = cli_fail_status(s, "text");
        if (!rc) rc = cli_write_npy(o.out, emb, 2, (int64_t[]){n, D});
    }
    free(ids);
    free(emb);
    pe_ctx_free(c);
    pe_tokenizer_free(t);
    pe_model_free(m);
    return rc;
}

/* ------------------------------------------------------------ image embeddings */

typedef struct embeddings {
    float *data;            /* [n, dim] */
    int n, dim;
    char **names;           /* [n] what each row came from */
} embeddings;

static void embeddings_free(embeddings *e) {
    for (int i = 0; i < e->n && e->names; i++) free(e->names[i]);
    free(e->names);
    free(e->data);
    memset(e, 0, sizeof *e);
}

/* Image files (native size) or a --raw float32 [N, 3, H, W] tensor. */
static int embed_inputs(const copts *o, const pe_model *m, pe_ctx *c, embeddings *e) {
    memset(e, 0, sizeof *e);
    pe_model_info in;
    pe_model_get_info(m, &in);
    if (in.pool == PE_POOL_NONE)
        return cli_fail("%s has no pooling head: it gives token grids, not embeddings", o->model);
    if (o->raw && o->n_inputs) return cli_fail("give either --raw IN.npy or images, not both");
    if (!o->raw && !o->n_inputs) return cli_fail("no input: pass images or --raw IN.npy");
    if (o->raw && (o->crop || o->height))
        return cli_fail("--crop and --size apply to images, not to --raw tensors");
    int D = e->dim = in.out_dim, rc = 0;
    npy_array a = {0};
    char err[512];
    if (o->raw) {
        if (npy_read_f32(o->raw, &a, err, sizeof err)) return cli_fail("%s", err);
        if (a.rank != 4 || a.shape[1] != 3 || a.shape[0] < 1 || a.shape[0] > 65536 ||
            a.shape[2] < 1 || a.shape[2] > 16384 || a.shape[3] < 1 || a.shape[3] > 16384) {
            npy_free(&a);
            return cli_fail("%s: expected float32 [N, 3, H, W]", o->raw);
        }
        e->n = (int)a.shape[0];
    } else {
        e->n = o->n_inputs;
    }
    e->data = malloc((size_t)e->n * D * sizeof(float));
    e->names = calloc((size_t)e->n, sizeof(char *));
    if (!e->data || !e->names) rc = cli_fail("out of memory");
    for (int i = 0; !rc && i < e->n; i++) {
        char name[4200];
        if (o->raw) snprintf(name, sizeof name, "%s[%d]", o->raw, i);
        else snprintf(name, sizeof name, "%s", o->inputs[i]);
        if (!(e->names[i] = strdup(name))) rc = cli_fail("out of memory");
    }
    if (!rc && o->raw) {
        int H = (int)a.shape[2], W = (int)a.shape[3];
        pe_status s = pe_encode_f32(c, a.data, e->n, H, W, PE_OUTPUT_EMBEDDING, e->data,
                                    (size_t)e->n * D);
        if (s) rc = cli_fail_status(s, o->raw);
    }
    pe_preprocess pp;
    cli_preprocess(NULL, o->height, o->width, o->crop, &in, &pp);
    for (int i = 0; !rc && !o->raw && i < e->n; i++) {
        img_buf img;
        if (image_load(o->inputs[i], &img, err, sizeof err)) { rc = cli_fail("%s", err); break; }
        pe_preprocess ip = pp;
        cli_image_filter(&ip, img.resample);
        pe_status s = pe_encode_image(c, &img.image, &ip, PE_OUTPUT_EMBEDDING,
                                      e->data + (size_t)i * D, (size_t)D);
        image_free(&img);
        if (s) rc = cli_fail_status(s, o->inputs[i]);
        if (e->n > 1) cli_progress(NULL, "encoding", (double)(i + 1) / e->n);
    }
    cli_progress_done();
    npy_free(&a);
    if (rc) embeddings_free(e);
    return rc;
}

/* ------------------------------------------------------------ output */

static void json_scores(const char *key, const pe_label_score *v, int n, int with_logit) {
    printf(", ");
    cli_json_str(key);
    printf(": [");
    for (int i = 0; i < n; i++) {
        printf(i ? ", {\"label\": " : "{\"label\": ");
        cli_json_str(v[i].label);
        printf(", \"score\": %.6g", (double)v[i].score);
        if (with_logit) printf(", \"logit\": %.6g", (double)v[i].logit);
        putchar('}');
    }
    putchar(']');
}

/* One object per image per line:
 * {"image": ..., "labels": [{"label": ..., "score": p, "logit": x}, ...]}
 * plus "unknown" (when a threshold applies), "coarse" (hierarchical labels)
 * and "neighbors" (KNN). */
static void print_json(const char *name, const pe_classification *r, int thresholds) {
    printf("{\"image\": ");
    cli_json_str(name);
    json_scores("labels", r->top, r->n_top, 1);
    if (thresholds) printf(", \"unknown\": %s", r->unknown ? "true" : "false");
    if (r->n_coarse) json_scores("coarse", r->coarse, r->n_coarse, 0);
    if (r->n_neighbors) {
        printf(", \"neighbors\": [");
        for (int i = 0; i < r->n_neighbors; i++) {
            const pe_neighbor *nb = &r->neighbors[i];
            printf(i ? ", {\"label\": " : "{\"label\": ");
            cli_json_str(nb->label);
            printf(", \"source\": ");
            cli_json_str(nb->source);
            printf(", \"similarity\": %.6g, \"distance\": %.6g}", (double)nb->similarity,
                   (double)nb->distance);
        }
        putchar(']');
    }
    puts("}");
}

static void print_table(const char *name, const pe_classification *r, int knn) {
    printf("%s%s\n", name, r->unknown ? "  -> unknown (below the class threshold)" : "");
    for (int i = 0; i < r->n_top; i++)
        printf("  %2d. %-32s %s %7.4f   %s %8.4f\n", i + 1, r->top[i].label,
               knn ? "votes" : "p", (double)r->top[i].score, knn ? "weight" : "logit",
               (double)r->top[i].logit);
    for (int i = 0; i < r->n_coarse; i++)
        printf("  %-10s %-27s %s %7.4f\n", i ? "" : "coarse:", r->coarse[i].label,
               knn ? "votes" : "p", (double)r->coarse[i].score);
    for (int i = 0; i < r->n_neighbors; i++)
        printf("  %-10s %-27s cos %7.4f  l2 %7.4f  %s\n", i ? "" : "neighbors:",
               r->neighbors[i].label, (double)r->neighbors[i].similarity,
               (double)r->neighbors[i].distance, r->neighbors[i].source);
}

/* ------------------------------------------------------------ thresholds */

/* Lines "LABEL COSINE": the last whitespace-separated field is the number. */
static int apply_thresholds(const char *path, pe_protos *p) {
    strlist l = {0};
    if (read_lines(path, &l)) return 1;
    int rc = 0;
    for (int i = 0; !rc && i < l.n; i++) {
        char *line = l.items[i], *sp = strrchr(line, ' '), *tb = strrchr(line, '\t');
        if (tb > sp) sp = tb;
        if (!sp) { rc = cli_fail("%s: '%s': expected LABEL COSINE", path, line); break; }
        *sp = 0;
        char *end, *label = trim(line);
        errno = 0;
        float v = strtof(sp + 1, &end);
        if (errno || *end || end == sp + 1 || !(v >= -1 && v <= 1)) {
            rc = cli_fail("%s: threshold '%s' of '%s' is not a cosine in [-1, 1]", path, sp + 1,
                          label);
            break;
        }
        pe_status s = pe_protos_set_threshold(p, label, v);
        if (s) rc = cli_fail_status(s, path);
    }
    strlist_free(&l);
    return rc;
}

/* Zero-shot classes from labels and templates. */
static int build_protos(const copts *o, const pe_model *m, pe_ctx *c, pe_protos **p) {
    strlist labels = {0}, tpl = {0};
    pe_tokenizer *t = NULL;
    int rc = need_text(m, o->model);
    if (!rc) rc = get_labels(o, &labels);
    if (!rc) rc = get_templates(o, &tpl);
    if (!rc) rc = load_tokenizer(o->vocab, m, &t);
    if (!rc) {
        pe_status s = pe_protos_create(m, p);
        if (!s) s = pe_protos_add_text(*p, c, t, (const char *const *)labels.items, labels.n,
                                       (const char *const *)tpl.items, tpl.n);
        if (s) rc = cli_fail_status(s, "cannot build the class embeddings");
    }
    if (!rc && o->thresholds_file) rc = apply_thresholds(o->thresholds_file, *p);
    pe_tokenizer_free(t);
    strlist_free(&labels);
    strlist_free(&tpl);
    return rc;
}

/* ------------------------------------------------------------ classify */

int classifier_open(const copts *o, const char *cmd, pe_model **m, pe_ctx **c, pe_protos **p,
                    pe_gallery **g) {
    *m = NULL, *c = NULL, *p = NULL, *g = NULL;
    int zero_shot = o->labels || o->labels_file;
    if (zero_shot + !!o->protos + !!o->gallery != 1)
        return cli_fail("%s: give exactly one of --labels/--labels-file, --prototypes, "
                        "--gallery", cmd);
    if (!zero_shot && (o->n_templates || o->templates_file || o->vocab || o->thresholds_file))
        return cli_fail("%s: --template, --templates-file, --vocab and --thresholds-file "
                        "go with --labels", cmd);
    if (!o->gallery && (o->k_set || o->metric_set))
        return cli_fail("%s: --k and --metric go with --gallery", cmd);
    int rc = cli_load_model(o->model, !zero_shot, m);
    if (!rc) rc = make_ctx(*m, o, c);
    if (!rc && zero_shot) rc = build_protos(o, *m, *c, p);
    if (!rc && o->protos) {
        pe_status s = pe_protos_load(o->protos, p);
        if (!s) s = pe_protos_check_model(*p, *m);
        if (s) rc = cli_fail_status(s, "cannot use the prototype pack");
    }
    if (!rc && o->gallery) {
        pe_status s = pe_gallery_load(o->gallery, g);
        if (!s) s = pe_gallery_check_model(*g, *m);
        if (s) rc = cli_fail_status(s, "cannot use the gallery");
        else if (!pe_gallery_count(*g)) rc = cli_fail("%s: the gallery is empty", o->gallery);
    }
    if (rc) {
        pe_protos_free(*p);
        pe_gallery_free(*g);
        pe_ctx_free(*c);
        pe_model_free(*m);
        *m = NULL, *c = NULL, *p = NULL, *g = NULL;
    }
    return rc;
}

int cmd_classify(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore classify -m MODEL (--labels \"cat,dog\" | --labels-file F)\n"
              "                       [--template \"a photo of a {}.\"]... [--templates-file F]\n"
              "                       [--vocab F] [--top K] [--json] (IMAGE... | --raw IN.npy)\n"
              "       pecore classify -m MODEL --prototypes P [--top K] [--json] IMAGE...\n"
              "       pecore classify -m MODEL --gallery G [--k 5] [--metric cosine|l2]\n"
              "                       [--top K] [--json] IMAGE...\n"
              "Zero-shot: softmax over logit_scale * cosine with the text embeddings (several\n"
              "templates are averaged the CLIP way). --json prints one object per image per line:\n"
              "{\"image\": ..., \"labels\": [{\"label\": ..., \"score\": p, \"logit\": x}, ...]}.\n"
              "Labels \"coarse/fine\" also give the coarse level. Other options: --crop, --size\n"
              "(S or HxW, default the model's native size), --threads.\n" CLI_COMPUTE_HELP,
              stdout);
        return 0;
    }
    copts o;
    if (cparse(argc, argv,
               " -m --model --labels --labels-file --template --templates-file --vocab --top "
               "--json --raw --prototypes -p --gallery -g --k --metric --crop --size --threads --compute "
               "--thresholds-file ",
               &o))
        return 1;
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_protos *p = NULL;
    pe_gallery *g = NULL;
    embeddings e = {0};
    int rc = classifier_open(&o, "classify", &m, &c, &p, &g);
    if (!rc) rc = embed_inputs(&o, m, c, &e);
    int thresholds = 0;
    for (int i = 0; p && i < pe_protos_count(p); i++)
        thresholds |= pe_protos_threshold(p, i) > PE_NO_THRESHOLD;
    pe_classification *r = rc ? NULL : malloc(sizeof *r);
    if (!rc && !r) rc = cli_fail("out of memory");
    for (int i = 0; !rc && i < e.n; i++) {
        const float *x = e.data + (size_t)i * e.dim;
        pe_status s = p ? pe_protos_classify(p, x, e.dim, (int)o.top, r)
                        : pe_gallery_classify(g, x, e.dim, (int)o.k, o.metric, (int)o.top, r);
        if (s) { rc = cli_fail_status(s, e.names[i]); break; }
        if (o.json) print_json(e.names[i], r, thresholds);
        else print_table(e.names[i], r, g != NULL);
    }
    free(r);
    embeddings_free(&e);
    pe_protos_free(p);
    pe_gallery_free(g);
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}

/* ------------------------------------------------------------ prototypes */

int cmd_prototypes(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore prototypes -m MODEL (--labels \"cat,dog\" | --labels-file F)\n"
              "                         [--template T]... [--templates-file F] [--vocab F]\n"
              "                         [--thresholds-file F] -o PACK\n"
              "Stores the class embeddings from text once (model identity, labels, version,\n"
              "CRC-32), so an app can classify with the vision tower alone. The thresholds file\n"
              "has lines \"LABEL COSINE\": below it a class answers \"unknown\".\n", stdout);
        return 0;
    }
    copts o;
    if (cparse(argc, argv,
               " -m --model -o --output --labels --labels-file --template --templates-file "
               "--vocab --thresholds-file --threads --compute ",
               &o))
        return 1;
    if (o.n_inputs) return cli_fail("prototypes: unexpected argument '%s'", o.inputs[0]);
    if (!o.out) return cli_fail("prototypes: no output file: pass -o PACK");
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_protos *p = NULL;
    int rc = cli_load_model(o.model, 0, &m);
    if (!rc) rc = make_ctx(m, &o, &c);
    if (!rc) rc = build_protos(&o, m, c, &p);
    if (!rc) {
        pe_status s = pe_protos_save(p, o.out);
        if (s) rc = cli_fail_status(s, "cannot write the prototype pack");
        else fprintf(stderr, "wrote %s: %d classes\n", o.out, pe_protos_count(p));
    }
    pe_protos_free(p);
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}

/* ------------------------------------------------------------ gallery */

static int gallery_list(const copts *o) {
    if (!o->gallery) return cli_fail("gallery list: pass -g GALLERY");
    if (o->n_inputs) return cli_fail("gallery list: unexpected argument '%s'", o->inputs[0]);
    pe_gallery *g;
    pe_status s = pe_gallery_load(o->gallery, &g);
    if (s) return cli_fail_status(s, "cannot read the gallery");
    pe_model_identity id;
    pe_gallery_identity(g, &id);
    int nl = pe_gallery_label_count(g), n = pe_gallery_count(g);
    printf("%s: %d entries, %d labels; model %s, dim %d, fingerprint %016llx\n", o->gallery, n,
           nl, id.arch, id.dim, (unsigned long long)id.fingerprint);
    for (int i = 0; i < nl; i++) {
        const char *name = pe_gallery_label(g, i);
        int cnt = 0;
        for (int j = 0; j < n; j++) {
            const char *lj;
            pe_gallery_entry(g, j, &lj, NULL);
            cnt += lj == name;
        }
        printf("%-40s %d\n", name, cnt);
    }
    pe_gallery_free(g);
    return 0;
}

/* Loads G, or makes an empty one when it does not exist yet. */
static int gallery_open(const char *path, const pe_model *m, pe_gallery **g) {
    pe_status s = pe_gallery_load(path, g);
    if (s == PE_ERR_NOT_FOUND) s = pe_gallery_create(m, g);
    else if (!s) s = pe_gallery_check_model(*g, m);
    return s ? cli_fail_status(s, "cannot use the gallery") : 0;
}

int cmd_gallery(int argc, char **argv) {
    if (argc < 1 || cli_wants_help(argc, argv)) {
        fputs("usage: pecore gallery add -m MODEL -g GALLERY --label L [--crop MODE] [--size S]\n"
              "                         IMAGE...\n"
              "       pecore gallery list -g GALLERY\n"
              "       pecore gallery remove -g GALLERY --label L\n"
              "A gallery holds labelled image embeddings for pecore classify --gallery (KNN).\n"
              "It is versioned, checksummed and tied to its model; every write is atomic.\n",
              argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    copts o;
    if (!strcmp(sub, "list")) {
        if (cparse(argc - 1, argv + 1, " -g --gallery ", &o)) return 1;
        return gallery_list(&o);
    }
    if (!strcmp(sub, "remove")) {
        if (cparse(argc - 1, argv + 1, " -g --gallery --label ", &o)) return 1;
        if (!o.gallery) return cli_fail("gallery remove: pass -g GALLERY");
        if (!o.label) return cli_fail("gallery remove: pass --label L");
        if (o.n_inputs) return cli_fail("gallery remove: unexpected argument '%s'", o.inputs[0]);
        pe_gallery *g;
        int removed = 0;
        pe_status s = pe_gallery_load(o.gallery, &g);
        if (s) return cli_fail_status(s, "cannot read the gallery");
        s = pe_gallery_remove(g, o.label, &removed);
        int rc = s ? cli_fail_status(s, o.gallery) : 0;
        if (!rc && (s = pe_gallery_save(g, o.gallery))) rc = cli_fail_status(s, "cannot write the gallery");
        if (!rc) fprintf(stderr, "removed %d entries of '%s'; %d left\n", removed, o.label,
                         pe_gallery_count(g));
        pe_gallery_free(g);
        return rc;
    }
    if (strcmp(sub, "add"))
        return cli_fail("gallery: unknown subcommand '%s' (add, list, remove)", sub);
    if (cparse(argc - 1, argv + 1, " -m --model -g --gallery --label --crop --size --threads --compute --raw ", &o))
        return 1;
    if (!o.gallery) return cli_fail("gallery add: pass -g GALLERY");
    if (!o.label) return cli_fail("gallery add: pass --label L");
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_gallery *g = NULL;
    embeddings e = {0};
    int rc = cli_load_model(o.model, 1, &m);
    if (!rc) rc = gallery_open(o.gallery, m, &g);
    if (!rc) rc = make_ctx(m, &o, &c);
    /* Everything is encoded before the gallery is touched: a bad image
     * leaves the file as it was. */
    if (!rc) rc = embed_inputs(&o, m, c, &e);
    for (int i = 0; !rc && i < e.n; i++) {
        pe_status s = pe_gallery_add(g, o.label, e.names[i], e.data + (size_t)i * e.dim, e.dim);
        if (s) rc = cli_fail_status(s, e.names[i]);
    }
    if (!rc) {
        pe_status s = pe_gallery_save(g, o.gallery);
        if (s) rc = cli_fail_status(s, "cannot write the gallery");
        else fprintf(stderr, "added %d entries of '%s' to %s (%d in all)\n", e.n, o.label,
                     o.gallery, pe_gallery_count(g));
    }
    embeddings_free(&e);
    pe_gallery_free(g);
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}
