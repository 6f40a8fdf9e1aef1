/* Classification: template averaging, golden zero-shot logits, prototype
 * and gallery round trips, one broken file per field, atomic saves, KNN
 * voting, thresholds, hierarchy. */
#include "test.h"

#include "classify/store.h"
#include "util/atomic_file.h"
#include "npy.h"
#include "pecore.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

#define D 32

static pe_model *g_model, *g_foreign;
static char g_tmp[64];

static char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 256, "%s/%s", g_tmp, name);
    return b;
}

static void unit(float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    for (int i = 0; i < n; i++) v[i] = (float)(v[i] / sqrt(s));
}

/* e_a * ca + e_b * sb, a direction at a known angle */
static void vec2(float *v, int a, float ca, int b, float cb) {
    memset(v, 0, D * sizeof *v);
    v[a] += ca;
    v[b] += cb;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crc(uint8_t *b, size_t n) { put32(b + n - 4, (uint32_t)crc32(0, b, (uInt)(n - 4))); }

/* ------------------------------------------------------------ text */

static void test_templates(const pe_tokenizer *tok) {
    pe_ctx *c;
    pe_ctx_create(g_model, NULL, &c);
    pe_model_info in;
    pe_model_get_info(g_model, &in);
    const char *tpl[2] = {"a photo of a {}.", "a drawing of {} and another {}"};
    const char *texts[2] = {"a photo of a cat.", "a drawing of cat and another cat"};
    int ctx = in.text_context;
    int32_t ids[2 * 64];
    float e[2 * D], want[D] = {0}, got[D];
    for (int i = 0; i < 2; i++) CHECK(!pe_tokenize(tok, texts[i], ctx, ids + i * ctx), "tokenize");
    CHECK(!pe_encode_text(c, ids, 2, ctx, e, 2 * D), "encode: %s", pe_last_error());
    for (int i = 0; i < 2; i++) {
        unit(e + i * D, D);
        for (int j = 0; j < D; j++) want[j] += e[i * D + j] / 2;
    }
    unit(want, D);
    CHECK(!pe_text_class_embedding(c, tok, "cat", tpl, 2, got, D), "%s", pe_last_error());
    double err = 0, nn = 0;
    for (int j = 0; j < D; j++) err = fmax(err, fabs(got[j] - want[j])), nn += got[j] * got[j];
    CHECK(err < 1e-5, "template average differs by %g", err);
    CHECK(fabs(nn - 1) < 1e-5, "class embedding not unit (%g)", nn);
    /* "coarse/fine" prompts with the fine part */
    float got2[D];
    CHECK(!pe_text_class_embedding(c, tok, "animal/cat", tpl, 2, got2, D), "%s", pe_last_error());
    CHECK(!memcmp(got, got2, sizeof got), "hierarchical label prompts with its fine part");
    /* No templates: the default; a template without {} gets the label appended. */
    const char *plain[1] = {"a photo of a"};
    float d1[D], d2[D];
    CHECK(!pe_text_class_embedding(c, tok, "cat", NULL, 0, d1, D), "%s", pe_last_error());
    CHECK(!pe_text_class_embedding(c, tok, "cat.", plain, 1, d2, D), "%s", pe_last_error());
    CHECK(!memcmp(d1, d2, sizeof d1), "default template = 'a photo of a {}.'");
    CHECK(pe_text_class_embedding(c, tok, "cat", NULL, 0, d1, D - 1) == PE_ERR_INVALID_ARG,
          "short output refused");
    pe_ctx_free(c);
}

/* The manifest's zero-shot logits through pe_protos (template "{}"). */
static void test_golden_logits(const pe_tokenizer *tok) {
    static const char *texts[8] = {"a photo of a cat", "A PHOTO OF A DOG!",
                                   "it's a dog's life, isn't it?", "  lots   of\tspace\n\nhere  ",
                                   "café naïve résumé", "日本語のテキスト", "🐱 cat emoji 🐶",
                                   "&amp; html &lt;entities&gt;"};
    char path[512], err[256];
    npy_array x = {0}, ref = {0};
    golden_path(path, sizeof path, "inputs/pe-micro_raw_64x64.npy");
    int ok = !npy_read_f32(path, &x, err, sizeof err);
    golden_path(path, sizeof path, "expected/pe-micro_logits.npy");
    ok = ok && !npy_read_f32(path, &ref, err, sizeof err);
    CHECK(ok, "golden logits: %s", err);
    if (!ok) return;
    pe_ctx *c;
    pe_ctx_create(g_model, NULL, &c);
    pe_protos *p;
    CHECK(!pe_protos_create(g_model, &p), "%s", pe_last_error());
    const char *tpl[1] = {"{}"};
    for (int i = 0; i < 8; i++) {
        float e[D];
        char label[16];
        snprintf(label, sizeof label, "t%d", i);
        CHECK(!pe_text_class_embedding(c, tok, texts[i], tpl, 1, e, D), "%s", pe_last_error());
        CHECK(!pe_protos_add(p, label, e, D, PE_NO_THRESHOLD), "%s", pe_last_error());
    }
    int n = (int)x.shape[0], H = (int)x.shape[2], W = (int)x.shape[3];
    float *img = malloc((size_t)n * D * sizeof(float));
    CHECK(!pe_encode_f32(c, x.data, n, H, W, PE_OUTPUT_EMBEDDING, img, (size_t)n * D), "encode");
    pe_classification r;
    double worst = 0, psum;
    for (int b = 0; b < n; b++) {
        CHECK(!pe_protos_classify(p, img + b * D, D, 8, &r), "%s", pe_last_error());
        CHECK(r.n_top == 8 && r.n_coarse == 0 && !r.unknown, "8 classes, no hierarchy");
        psum = 0;
        for (int i = 0; i < r.n_top; i++) {
            worst = fmax(worst, fabs(r.top[i].logit - ref.data[b * 8 + r.top[i].index]));
            psum += r.top[i].score;
            if (i) CHECK(r.top[i].score <= r.top[i - 1].score, "sorted by score");
        }
        CHECK(fabs(psum - 1) < 1e-5, "probabilities sum to 1 (%g)", psum);
    }
    CHECK(worst <= 0.01, "zero-shot logits differ from the reference by %g", worst);
    free(img);
    npy_free(&x);
    npy_free(&ref);
    pe_protos_free(p);
    pe_ctx_free(c);
}

/* ------------------------------------------------------------ prototypes */

static pe_protos *make_protos(void) {
    pe_protos *p;
    pe_protos_create(g_model, &p);
    float v[D];
    vec2(v, 0, 1, 1, 0);
    CHECK(!pe_protos_add(p, "animal/cat", v, D, 0.9f), "%s", pe_last_error());
    vec2(v, 1, 2, 0, 0); /* not unit: normalised on add */
    CHECK(!pe_protos_add(p, "animal/dog", v, D, PE_NO_THRESHOLD), "%s", pe_last_error());
    vec2(v, 2, 1, 3, 1);
    CHECK(!pe_protos_add(p, "vehicle/car", v, D, PE_NO_THRESHOLD), "%s", pe_last_error());
    return p;
}

static void test_protos(void) {
    pe_protos *p = make_protos();
    float v[D];
    vec2(v, 0, 1, 0, 0);
    CHECK(pe_protos_add(p, "animal/cat", v, D, -1) == PE_ERR_INVALID_ARG, "duplicate label refused");
    CHECK(pe_protos_add(p, "x", v, D - 1, -1) == PE_ERR_SHAPE, "wrong dim refused");
    CHECK(pe_protos_add(p, "", v, D, -1) != PE_OK, "empty label refused");
    CHECK(pe_protos_add(p, "a\nb", v, D, -1) != PE_OK &&
              strstr(pe_last_error(), "control character"), "control character refused");
    CHECK(pe_protos_add(p, "animal/", v, D, -1) != PE_OK, "empty fine part refused");
    CHECK(pe_protos_add(p, "y", v, D, 1.5f) == PE_ERR_INVALID_ARG, "threshold out of range refused");
    memset(v, 0, sizeof v);
    CHECK(pe_protos_add(p, "zero", v, D, -1) == PE_ERR_INVALID_ARG, "zero embedding refused");
    CHECK(pe_protos_count(p) == 3, "failed adds leave the pack alone (%d)", pe_protos_count(p));
    CHECK(fabs(pe_protos_embedding(p, 1)[1] - 1) < 1e-7, "stored normalised");

    /* Query at cosine 0.8 to cat, 0.6 to dog. */
    pe_classification r;
    vec2(v, 0, 0.8f, 1, 0.6f);
    CHECK(!pe_protos_classify(p, v, D, 5, &r), "%s", pe_last_error());
    CHECK(r.n_top == 3 && !strcmp(r.top[0].label, "animal/cat"), "best is cat");
    pe_model_info in;
    pe_model_get_info(g_model, &in);
    double l0 = in.logit_scale * 0.8, l1 = in.logit_scale * 0.6, l2 = 0, mx = fmax(l0, l1);
    double z = exp(l0 - mx) + exp(l1 - mx) + exp(l2 - mx);
    CHECK(fabs(r.top[0].logit - l0) < 1e-3 * fabs(l0) + 1e-4, "logit = scale * cos");
    CHECK(fabs(r.top[0].score - exp(l0 - mx) / z) < 1e-5, "softmax");
    CHECK(r.unknown == 1, "cos 0.8 < threshold 0.9: unknown");
    CHECK(r.n_coarse == 2 && !strcmp(r.coarse[0].label, "animal") &&
              fabs(r.coarse[0].score - (exp(l0 - mx) + exp(l1 - mx)) / z) < 1e-5 &&
              !strcmp(r.coarse[1].label, "vehicle"), "coarse = sum of fine probabilities");
    CHECK(!pe_protos_set_threshold(p, "animal/cat", 0.5f), "set threshold");
    CHECK(!pe_protos_classify(p, v, D, 1, &r) && !r.unknown && r.n_top == 1, "above threshold");
    CHECK(pe_protos_set_threshold(p, "nope", 0.5f) == PE_ERR_NOT_FOUND, "threshold of unknown label");
    CHECK(pe_protos_classify(p, v, D - 1, 1, &r) == PE_ERR_SHAPE, "query dim checked");
    CHECK(pe_protos_classify(p, v, D, 0, &r) == PE_ERR_INVALID_ARG, "top-k checked");

    /* Round trip. */
    char *path = tmp_path("p.pack");
    CHECK(!pe_protos_save(p, path), "save: %s", pe_last_error());
    pe_protos *q = NULL;
    CHECK(!pe_protos_load(path, &q), "load: %s", pe_last_error());
    if (q) {
        CHECK(pe_protos_count(q) == 3, "count");
        for (int i = 0; i < 3; i++) {
            CHECK(!strcmp(pe_protos_label(p, i), pe_protos_label(q, i)), "label %d", i);
            CHECK(pe_protos_threshold(p, i) == pe_protos_threshold(q, i), "threshold %d", i);
            CHECK(!memcmp(pe_protos_embedding(p, i), pe_protos_embedding(q, i), D * sizeof(float)),
                  "embedding %d", i);
        }
        pe_model_identity a, b;
        pe_protos_identity(p, &a);
        pe_protos_identity(q, &b);
        CHECK(!memcmp(&a, &b, sizeof a) && a.fingerprint == in.fingerprint && a.dim == D,
              "identity kept");
        CHECK(!pe_protos_check_model(q, g_model), "same model accepted");
        CHECK(pe_protos_check_model(q, g_foreign) == PE_ERR_UNSUPPORTED &&
                  strstr(pe_last_error(), "another model"), "foreign model: %s", pe_last_error());
        pe_classification r2;
        pe_protos_classify(q, v, D, 5, &r2);
        pe_protos_classify(p, v, D, 5, &r);
        CHECK(r2.top[0].score == r.top[0].score && r2.n_coarse == 2, "same results after reload");
    }
    pe_protos_free(q);
    pe_protos_free(p);
    pe_protos_free(NULL);
    pe_protos *e;
    pe_protos_create(g_model, &e);
    CHECK(pe_protos_save(e, tmp_path("empty.pack")) == PE_ERR_INVALID_ARG, "empty pack not saved");
    pe_protos_free(e);
}

/* ------------------------------------------------------------ galleries */

static void test_gallery_knn(void) {
    pe_gallery *g;
    CHECK(!pe_gallery_create(g_model, &g), "%s", pe_last_error());
    float v[D];
    /* Two cats near e0, three dogs further away but more of them. */
    vec2(v, 0, 1, 1, 0.1f);  pe_gallery_add(g, "animal/cat", "c1.jpg", v, D);
    vec2(v, 0, 1, 2, 0.2f);  pe_gallery_add(g, "animal/cat", "c2.jpg", v, D);
    vec2(v, 0, 1, 1, 1.0f);  pe_gallery_add(g, "animal/dog", "d1.jpg", v, D);
    vec2(v, 0, 1, 2, 1.0f);  pe_gallery_add(g, "animal/dog", "d2.jpg", v, D);
    vec2(v, 0, 1, 3, 1.0f);  pe_gallery_add(g, "animal/dog", "d3.jpg", v, D);
    vec2(v, 5, 1, 6, 0.0f);  pe_gallery_add(g, "vehicle/car", NULL, v, D);
    CHECK(pe_gallery_count(g) == 6 && pe_gallery_label_count(g) == 3, "6 entries, 3 labels");
    pe_classification r;
    vec2(v, 0, 1, 0, 0);
    CHECK(!pe_gallery_classify(g, v, D, 5, PE_METRIC_COSINE, 5, &r), "%s", pe_last_error());
    /* weights (1+cos)/2: cats cos ~0.995, 0.981; dogs 0.7071 x3 */
    double c1 = 1 / sqrt(1.01), c2 = 1 / sqrt(1.04), cd = 1 / sqrt(2.0);
    double wc = (1 + c1) / 2 + (1 + c2) / 2, wd = 3 * (1 + cd) / 2;
    CHECK(r.n_neighbors == 5 && !strcmp(r.neighbors[0].source, "c1.jpg") &&
              !strcmp(r.neighbors[1].source, "c2.jpg"), "neighbours nearest first");
    CHECK(fabs(r.neighbors[0].similarity - c1) < 1e-5 &&
              fabs(r.neighbors[0].distance - sqrt(2 - 2 * c1)) < 1e-4, "similarity and distance");
    CHECK(r.n_top == 2 && !strcmp(r.top[0].label, "animal/dog") &&
              fabs(r.top[0].score - wd / (wc + wd)) < 1e-5 && fabs(r.top[0].logit - wd) < 1e-5,
          "cosine vote: 3 dogs outweigh 2 cats (%s %g)", r.top[0].label, r.top[0].score);
    CHECK(r.n_coarse == 1 && !strcmp(r.coarse[0].label, "animal") &&
              fabs(r.coarse[0].score - 1) < 1e-6, "coarse vote share");
    /* L2: 1/(1e-6 + d) favours the close cats. */
    CHECK(!pe_gallery_classify(g, v, D, 5, PE_METRIC_L2, 5, &r), "%s", pe_last_error());
    double dc = 1 / (1e-6 + sqrt(2 - 2 * c1)) + 1 / (1e-6 + sqrt(2 - 2 * c2)),
           dd = 3 / (1e-6 + sqrt(2 - 2 * cd));
    CHECK(!strcmp(r.top[0].label, "animal/cat") && fabs(r.top[0].score - dc / (dc + dd)) < 1e-4,
          "l2 vote: the near cats win (%s %g)", r.top[0].label, r.top[0].score);
    /* k = 1: the nearest alone, confidence 1. */
    pe_gallery_classify(g, v, D, 1, PE_METRIC_COSINE, 5, &r);
    CHECK(r.n_top == 1 && r.n_neighbors == 1 && r.top[0].score == 1.0f, "k = 1");
    /* k larger than the gallery is clamped. */
    pe_gallery_classify(g, v, D, 64, PE_METRIC_COSINE, 5, &r);
    CHECK(r.n_neighbors == 6 && r.n_top == 3 && r.n_coarse == 2, "k clamped to the gallery");
    /* Ties: equal weight, the nearer neighbour's label first. */
    pe_gallery *t;
    pe_gallery_create(g_model, &t);
    vec2(v, 0, 1, 1, 1);  pe_gallery_add(t, "b", NULL, v, D);
    vec2(v, 0, 1, 1, -1); pe_gallery_add(t, "a", NULL, v, D);
    vec2(v, 0, 1, 1, 0.01f);
    pe_gallery_classify(t, v, D, 2, PE_METRIC_COSINE, 2, &r);
    CHECK(!strcmp(r.top[0].label, "b"), "nearer label first");
    pe_gallery_free(t);
    CHECK(pe_gallery_classify(g, v, D, 0, PE_METRIC_COSINE, 5, &r) == PE_ERR_INVALID_ARG, "k 0");
    CHECK(pe_gallery_classify(g, v, D, 3, (pe_metric)7, 5, &r) == PE_ERR_INVALID_ARG, "metric");

    /* Remove, round trip. */
    int removed = -1;
    CHECK(!pe_gallery_remove(g, "animal/cat", &removed) && removed == 2, "removed 2");
    CHECK(pe_gallery_remove(g, "animal/cat", &removed) == PE_ERR_NOT_FOUND && removed == 0,
          "second remove: not found");
    CHECK(pe_gallery_count(g) == 4 && pe_gallery_label_count(g) == 2, "4 entries left");
    const char *lab, *src;
    CHECK(!pe_gallery_entry(g, 3, &lab, &src) && !strcmp(lab, "vehicle/car") && !strcmp(src, ""),
          "label indices shifted");
    char *path = tmp_path("g.gal");
    CHECK(!pe_gallery_save(g, path), "save: %s", pe_last_error());
    pe_gallery *h = NULL;
    CHECK(!pe_gallery_load(path, &h), "load: %s", pe_last_error());
    if (h) {
        CHECK(pe_gallery_count(h) == 4 && pe_gallery_label_count(h) == 2, "counts kept");
        CHECK(!pe_gallery_entry(h, 0, &lab, &src) && !strcmp(lab, "animal/dog") &&
                  !strcmp(src, "d1.jpg"), "entry kept");
        CHECK(!pe_gallery_check_model(h, g_model), "same model");
        CHECK(pe_gallery_check_model(h, g_foreign) == PE_ERR_UNSUPPORTED &&
                  strstr(pe_last_error(), "another model"), "foreign: %s", pe_last_error());
        vec2(v, 5, 1, 0, 0);
        pe_gallery_classify(h, v, D, 1, PE_METRIC_COSINE, 1, &r);
        CHECK(!strcmp(r.top[0].label, "vehicle/car"), "classify after reload");
        vec2(v, 0, 1, 0, 0);
        CHECK(!pe_gallery_add(h, "animal/cat", "c3.jpg", v, D) && pe_gallery_label_count(h) == 3,
              "add after load");
    }
    pe_gallery_free(h);
    pe_gallery_free(g);
    pe_gallery_free(NULL);
    pe_gallery *e;
    pe_gallery_create(g_model, &e);
    CHECK(pe_gallery_classify(e, v, D, 1, PE_METRIC_COSINE, 1, &r) == PE_ERR_INVALID_ARG,
          "empty gallery");
    CHECK(!pe_gallery_save(e, tmp_path("empty.gal")), "an empty gallery can be saved");
    pe_gallery_free(e);
    CHECK(!pe_gallery_load(tmp_path("empty.gal"), &e) && pe_gallery_count(e) == 0, "and loaded");
    pe_gallery_free(e);
}

/* ------------------------------------------------------------ broken files */

/* Writes a mutated copy of `orig` and expects loading to fail with `want`
 * in the message. */
static void expect_broken(const uint8_t *orig, size_t n, size_t new_len, int gallery,
                          void (*mutate)(uint8_t *, size_t), int crc, const char *want,
                          const char *what) {
    uint8_t *b = calloc(1, PE_MAX(n, new_len) + 16);
    memcpy(b, orig, n);
    if (mutate) mutate(b, new_len);
    if (crc) fix_crc(b, new_len);
    char *path = tmp_path("broken.bin");
    write_file(path, b, new_len);
    pe_status s;
    if (gallery) {
        pe_gallery *g = NULL;
        s = pe_gallery_load(path, &g);
        CHECK(!g, "%s: no handle on failure", what);
    } else {
        pe_protos *p = NULL;
        s = pe_protos_load(path, &p);
        CHECK(!p, "%s: no handle on failure", what);
    }
    CHECK(s != PE_OK && strstr(pe_last_error(), want), "%s: status %d, message '%s' (wanted '%s')",
          what, s, pe_last_error(), want);
    free(b);
}

static void m_magic(uint8_t *b, size_t n) { (void)n; b[0] = 'X'; }
static void m_version(uint8_t *b, size_t n) { (void)n; put32(b + 8, 2); }
static void m_flip(uint8_t *b, size_t n) { b[n / 2] ^= 0x40; }
static void m_count(uint8_t *b, size_t n) { (void)n; put32(b + 20, 0xffffffffu); }
static void m_labels(uint8_t *b, size_t n) { (void)n; put32(b + 24, 0x7fffffffu); }
static void m_dim(uint8_t *b, size_t n) { (void)n; put32(b + 16, 0); }
static void m_hugedim(uint8_t *b, size_t n) { (void)n; put32(b + 16, 1u << 30); }
static void m_strbytes(uint8_t *b, size_t n) { (void)n; put32(b + 48, 0xfffffff0u); put32(b + 52, 0xffff); }
static void m_strlen(uint8_t *b, size_t n) { (void)n; b[PE_STORE_HEADER] = 0xff; b[PE_STORE_HEADER + 1] = 0xff; }
static void m_ctrl(uint8_t *b, size_t n) { (void)n; b[PE_STORE_HEADER + 2] = '\n'; }
static void m_dup(uint8_t *b, size_t n) {
    (void)n; /* "animal/cat" -> "animal/dog": same as label 1 */
    memcpy(b + PE_STORE_HEADER + 2 + 7, "dog", 3);
}
static void m_scale(uint8_t *b, size_t n) { (void)n; put32(b + 40, 0x7fc00000u); }
static void m_unit(uint8_t *b, size_t n) { put32(b + n - 4 - 3 * 4 - 4, 0x3f800000u); /* +1 in the last dim */ }
static void m_thresh(uint8_t *b, size_t n) { put32(b + n - 8, 0x40000000u); /* 2.0 */ }
static void m_flags(uint8_t *b, size_t n) { (void)n; put32(b + 28, 1); }
static size_t g_label_of_at;
static void m_labelidx(uint8_t *b, size_t n) { (void)n; put32(b + g_label_of_at, 99); }

static void test_broken(void) {
    pe_protos *p = make_protos();
    char *pp = tmp_path("ok.pack");
    pe_protos_save(p, pp);
    pe_protos_free(p);
    size_t n;
    uint8_t *b = read_file(pp, &n);
    CHECK(b && n > PE_STORE_HEADER, "read back");
    if (!b) return;
    expect_broken(b, n, 5, 0, NULL, 0, "too short", "5 bytes");
    expect_broken(b, n, 60, 0, NULL, 0, "truncated", "header cut");
    expect_broken(b, n, n - 1, 0, NULL, 0, "truncated", "last byte cut");
    expect_broken(b, n, n / 2, 0, NULL, 0, "truncated", "half");
    expect_broken(b, n, n + 3, 0, NULL, 0, "trailing", "trailing bytes");
    expect_broken(b, n, n, 0, m_magic, 0, "bad magic", "magic");
    expect_broken(b, n, n, 1, NULL, 0, "is a prototype pack, not a gallery", "pack as gallery");
    expect_broken(b, n, n, 0, m_version, 0, "version 2 is not supported", "version");
    expect_broken(b, n, n, 0, m_flip, 0, "checksum mismatch", "flipped bit");
    expect_broken(b, n, n, 0, m_count, 1, "over the limit", "huge count");
    expect_broken(b, n, n, 0, m_labels, 1, "over the limit", "huge label count");
    expect_broken(b, n, n, 0, m_dim, 1, "embedding size 0", "dim 0");
    expect_broken(b, n, n, 0, m_hugedim, 1, "out of range", "huge dim");
    expect_broken(b, n, n, 0, m_strbytes, 1, "impossible", "huge string table");
    expect_broken(b, n, n, 0, m_strlen, 1, "runs past", "string length");
    expect_broken(b, n, n, 0, m_ctrl, 1, "control character", "label with newline");
    expect_broken(b, n, n, 0, m_dup, 1, "appears twice", "duplicate label");
    expect_broken(b, n, n, 0, m_scale, 1, "logit scale", "NaN logit scale");
    expect_broken(b, n, n, 0, m_unit, 1, "not unit length", "embedding not unit");
    expect_broken(b, n, n, 0, m_thresh, 1, "threshold", "threshold 2");
    expect_broken(b, n, n, 0, m_flags, 1, "unknown flags", "flags");
    free(b);

    /* Gallery: label index out of range. */
    pe_gallery *g;
    pe_gallery_create(g_model, &g);
    float v[D];
    vec2(v, 0, 1, 0, 0);
    pe_gallery_add(g, "a", "x", v, D);
    pe_gallery_add(g, "b", "y", v, D);
    char *gp = tmp_path("ok.gal");
    pe_gallery_save(g, gp);
    pe_gallery_free(g);
    b = read_file(gp, &n);
    /* strings: "a" "b" "x" "y" = 4 * 3 bytes, then u32 label_of[2] */
    g_label_of_at = PE_STORE_HEADER + 12 + 4;
    expect_broken(b, n, n, 1, m_labelidx, 1, "label index 99", "label index");
    expect_broken(b, n, n, 0, NULL, 0, "is a gallery, not a prototype pack", "gallery as pack");
    expect_broken(b, n, n, 1, m_flip, 0, "checksum mismatch", "gallery flipped bit");
    expect_broken(b, n, n - 8, 1, NULL, 0, "truncated", "gallery truncated");
    free(b);
    pe_gallery *none = NULL;
    CHECK(pe_gallery_load(tmp_path("missing.gal"), &none) == PE_ERR_NOT_FOUND && !none,
          "missing file: not found");
}

/* ------------------------------------------------------------ atomic writes */

static int count_tmp_files(void) {
    DIR *d = opendir(g_tmp);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void test_atomic(void) {
    pe_gallery *g;
    pe_gallery_create(g_model, &g);
    float v[D];
    vec2(v, 0, 1, 0, 0);
    pe_gallery_add(g, "kept", "1", v, D);
    char *path = tmp_path("atomic.gal");
    CHECK(!pe_gallery_save(g, path), "first save");
    size_t n0;
    uint8_t *before = read_file(path, &n0);
    for (int i = 0; i < 50; i++) pe_gallery_add(g, "more", "2", v, D);
    /* A crash (here: ENOSPC) half-way through writing the new version. */
    pe_afile_fail_after = 200;
    pe_status s = pe_gallery_save(g, path);
    pe_afile_fail_after = 0;
    CHECK(s == PE_ERR_IO && strstr(pe_last_error(), "write failed"), "failed save reported: %s",
          pe_last_error());
    size_t n1;
    uint8_t *after = read_file(path, &n1);
    CHECK(after && n1 == n0 && !memcmp(before, after, n0), "old file intact after a failed save");
    CHECK(count_tmp_files() == 0, "no temporary file left behind");
    pe_gallery *h = NULL;
    CHECK(!pe_gallery_load(path, &h) && pe_gallery_count(h) == 1, "old gallery still loads");
    pe_gallery_free(h);
    /* A directory that does not exist: nothing created, clear message. */
    s = pe_gallery_save(g, "/nonexistent-dir/x.gal");
    CHECK(s == PE_ERR_IO && strstr(pe_last_error(), "temporary file"), "missing dir: %s",
          pe_last_error());
    CHECK(!pe_gallery_save(g, path), "save succeeds again");
    CHECK(!pe_gallery_load(path, &h) && pe_gallery_count(h) == 51, "new gallery in place");
    pe_gallery_free(h);
    free(before);
    free(after);
    pe_gallery_free(g);
}

int main(void) {
    char mp[512], fp[512], vp[512];
    golden_path(mp, sizeof mp, "models/pe-micro.safetensors");
    golden_path(fp, sizeof fp, "models/pe-micro-timm.safetensors");
    golden_path(vp, sizeof vp, "bpe_simple_vocab_16e6.txt.gz");
    snprintf(g_tmp, sizeof g_tmp, "/tmp/pecore-classify.XXXXXX");
    if (!mkdtemp(g_tmp)) { perror("mkdtemp"); return 1; }
    CHECK(!pe_model_load(mp, NULL, &g_model), "load %s: %s", mp, pe_last_error());
    CHECK(!pe_model_load(fp, NULL, &g_foreign), "load %s: %s", fp, pe_last_error());
    if (!g_model || !g_foreign) return test_done("classify");
    pe_model_info a, b;
    pe_model_get_info(g_model, &a);
    pe_model_get_info(g_foreign, &b);
    CHECK(a.fingerprint && a.fingerprint != b.fingerprint, "fingerprints differ");
    pe_model *again;
    pe_model_load(mp, NULL, &again);
    pe_model_info c;
    pe_model_get_info(again, &c);
    CHECK(c.fingerprint == a.fingerprint, "fingerprint is stable");
    pe_model_free(again);
    CHECK(a.out_dim == D && b.out_dim == D, "pe-micro embeddings are [%d]", D);

    pe_tokenizer *tok = NULL;
    CHECK(pe_tokenizer_load_model(g_model, &tok) == PE_ERR_NOT_FOUND && !tok &&
              strstr(pe_last_error(), "no vocabulary"), "no vocabulary in pe-micro");
    CHECK(!pe_tokenizer_load(vp, &tok), "vocab: %s", pe_last_error());
    if (tok) {
        test_templates(tok);
        test_golden_logits(tok);
    }
    test_protos();
    test_gallery_knn();
    test_broken();
    test_atomic();
    pe_tokenizer_free(tok);
    pe_model_free(g_model);
    pe_model_free(g_foreign);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_tmp);
    return test_done("classify");
}
