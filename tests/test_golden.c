/* End-to-end parity with the reference: every case of
 * ../shared/golden/manifest.json and ../shared/golden-dinov2/manifest.json,
 * read from the manifests (never re-listed),
 * with the manifest's own tolerances.  A case kind this test does not know
 * is a failure, so new golden data cannot be skipped silently. */
#include "test.h"

#include "image_io.h"
#include "npy.h"
#include "pecore.h"
#include "golden.h"
#include "util/json.h"

#include "format/safetensors.h"

#include <math.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* Models are loaded once per path and shared by the cases. */
typedef struct cached { char path[512]; pe_model *m; pe_ctx *c; } cached;
static cached g_models[16];

static pe_output output_kind(const char *name) {
    if (name && !strcmp(name, "tokens")) return PE_OUTPUT_TOKENS;
    if (name && !strcmp(name, "linear4")) return PE_OUTPUT_LINEAR4;
    CHECK(!name || !strcmp(name, "embedding"), "unknown output '%s'", name);
    return PE_OUTPUT_EMBEDDING;
}

static pe_ctx *model_ctx(const char *rel, pe_model **mout) {
    char path[512];
    golden_path(path, sizeof path, rel);
    for (int i = 0; i < 16; i++) {
        if (g_models[i].m && !strcmp(g_models[i].path, path)) {
            if (mout) *mout = g_models[i].m;
            return g_models[i].c;
        }
        if (!g_models[i].m) {
            pe_status s = pe_model_load(path, NULL, &g_models[i].m);
            CHECK(s == PE_OK, "load %s: %s", path, pe_last_error());
            if (s) return NULL;
            pe_ctx_options o = {.n_threads = 2};
            s = pe_ctx_create(g_models[i].m, &o, &g_models[i].c);
            CHECK(s == PE_OK, "ctx %s: %s", path, pe_last_error());
            snprintf(g_models[i].path, sizeof g_models[i].path, "%s", path);
            if (mout) *mout = g_models[i].m;
            return g_models[i].c;
        }
    }
    return NULL;
}

static int load_npy(const char *rel, npy_array *a) {
    char path[512], err[512];
    golden_path(path, sizeof path, rel);
    int rc = npy_read_f32(path, a, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    return rc;
}

/* Per row: cosine >= cos_min; max|out - ref| / max|ref| <= rel_max (if > 0). */
static void compare_rows(const char *id, const float *out, const float *ref, size_t rows,
                         size_t cols, double cos_min, double rel_max) {
    double worst_cos = 1, worst_rel = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *a = out + r * cols, *b = ref + r * cols;
        double ab = 0, aa = 0, bb = 0, maxdiff = 0, maxref = 0;
        for (size_t i = 0; i < cols; i++) {
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
            maxdiff = fmax(maxdiff, fabs((double)a[i] - b[i]));
            maxref = fmax(maxref, fabs((double)b[i]));
        }
        double cs = ab / (sqrt(aa) * sqrt(bb) + 1e-30), rel = maxdiff / (maxref + 1e-30);
        if (!(cs >= worst_cos)) worst_cos = cs;
        if (!(rel <= worst_rel)) worst_rel = rel;
    }
    CHECK(worst_cos >= cos_min, "%s: worst cosine %.8f < %.8f", id, worst_cos, cos_min);
    if (rel_max > 0)
        CHECK(worst_rel <= rel_max, "%s: worst relative max error %.3g > %.3g", id, worst_rel, rel_max);
    printf("  %-44s cos %.8f  rel %.2e\n", id, worst_cos, worst_rel);
}

/* ------------------------------------------------------------ cases */

static void case_image_raw(const pe_json *c, const char *id, const char *model) {
    pe_model *m;
    pe_ctx *ctx = model_ctx(model, &m);
    npy_array in = {0}, exp = {0};
    if (!ctx || load_npy(jstr(c, "input"), &in) || load_npy(jstr(c, "expect"), &exp)) goto done;
    pe_output kind = output_kind(jstr(c, "output"));
    int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3], rows, cols;
    CHECK(pe_output_shape(m, H, W, kind, &rows, &cols) == PE_OK, "%s: %s", id, pe_last_error());
    size_t len = (size_t)n * rows * cols;
    CHECK(len == exp.numel, "%s: output %zu floats, expected %zu", id, len, exp.numel);
    if (len != exp.numel) goto done;
    float *out = malloc(len * sizeof(float));
    pe_status s = pe_encode_f32(ctx, in.data, n, H, W, kind, out, len);
    CHECK(s == PE_OK, "%s: %s", id, pe_last_error());
    if (!s) compare_rows(id, out, exp.data, len / cols, (size_t)cols, jnum(c, "cos_min", 1),
                         jnum(c, "rel_max", 0));
    free(out);
done:
    npy_free(&in);
    npy_free(&exp);
}

static void case_image_file(const pe_json *c, const char *id) {
    pe_model *m;
    pe_ctx *ctx = model_ctx(jstr(c, "model"), &m);
    npy_array exp = {0};
    img_buf img = {0};
    char path[512], err[512];
    golden_path(path, sizeof path, jstr(c, "image"));
    if (!ctx || load_npy(jstr(c, "expect"), &exp)) goto done;
    int rc = image_load(path, &img, err, sizeof err);
    CHECK(rc == 0, "%s: %s", id, err);
    if (rc) goto done;
    int size = (int)jnum(c, "size", 0);
    const char *tr = jstr(c, "transform");
    pe_preprocess pp;
    if (tr) { /* a named transform: the model's own when the case gives no size */
        CHECK(!strcmp(tr, "dinov2-eval"), "%s: unknown transform '%s'", id, tr);
        pe_model_info in;
        pe_model_get_info(m, &in);
        CHECK(in.transform == PE_TRANSFORM_DINOV2_EVAL, "%s: the model's own transform is not dinov2-eval", id);
        pe_preprocess_init(PE_TRANSFORM_DINOV2_EVAL, size, &pp);
    } else {
        pe_preprocess_init(PE_TRANSFORM_PE, size, &pp);
        pp.crop = !strcmp(jstr(c, "crop"), "center") ? PE_CROP_CENTER : PE_CROP_SQUASH;
    }
    if (img.resample == PE_RESAMPLE_NEAREST) pp.resample = PE_RESAMPLE_NEAREST; /* PIL palette images */
    size_t len = exp.numel;
    float *out = malloc(len * sizeof(float));
    /* with a named transform, the model's default (pp NULL) must be that transform */
    pe_status s = pe_encode_image(ctx, &img.image, tr ? NULL : &pp, PE_OUTPUT_EMBEDDING, out, len);
    CHECK(s == PE_OK, "%s: %s", id, pe_last_error());
    if (!s) compare_rows(id, out, exp.data, 1, len, jnum(c, "cos_min", 1), jnum(c, "rel_max", 0));
    free(out);
done:
    image_free(&img);
    npy_free(&exp);
}

static void case_stages(const pe_json *c, const char *id) {
    pe_model *m;
    pe_ctx *ctx = model_ctx(jstr(c, "model"), &m);
    npy_array in = {0}, exp = {0};
    if (!ctx || load_npy(jstr(c, "input"), &in) || load_npy(jstr(c, "expect"), &exp)) goto done;
    int b = (int)jnum(c, "batch_index", 0), H = (int)in.shape[2], W = (int)in.shape[3], n_stages = 0;
    size_t len = exp.numel;
    float *out = malloc(len * sizeof(float));
    pe_status s = pe_encode_stages(ctx, in.data + (size_t)b * 3 * H * W, H, W, out, len, &n_stages);
    CHECK(s == PE_OK, "%s: %s", id, pe_last_error());
    /* expected: [stages, 1, T, W] (or [stages, T, W]) */
    CHECK(exp.rank >= 3 && exp.shape[0] == n_stages, "%s: expected %lld stages, engine has %d", id,
          (long long)exp.shape[0], n_stages);
    size_t cols = (size_t)exp.shape[exp.rank - 1], per = exp.numel / (size_t)exp.shape[0];
    /* Each stage against the image_raw tolerances of the same model. */
    for (int st = 0; !s && st < n_stages && exp.shape[0] == n_stages; st++) {
        char sid[96];
        snprintf(sid, sizeof sid, "%s[%d]", id, st);
        compare_rows(sid, out + per * st, exp.data + per * st, per / cols, cols, 0.99999, 1e-4);
    }
    free(out);
done:
    npy_free(&in);
    npy_free(&exp);
}

static void case_text(const pe_json *c, const char *id) {
    pe_model *m;
    pe_ctx *ctx = model_ctx(jstr(c, "model"), &m);
    npy_array exp = {0};
    const pe_json *ids = pe_json_get(c, "ids");
    if (!ctx || !ids || load_npy(jstr(c, "expect"), &exp)) goto done;
    int n = (int)ids->n, C = (int)ids->items[0].n;
    int32_t *buf = malloc((size_t)n * C * sizeof(int32_t));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) buf[(size_t)i * C + j] = (int32_t)ids->items[i].items[j].number;
    float *out = malloc(exp.numel * sizeof(float));
    pe_status s = pe_encode_text(ctx, buf, n, C, out, exp.numel);
    CHECK(s == PE_OK, "%s: %s", id, pe_last_error());
    if (!s) compare_rows(id, out, exp.data, (size_t)n, exp.numel / n, jnum(c, "cos_min", 1),
                         jnum(c, "rel_max", 0));
    free(out);
    free(buf);
done:
    npy_free(&exp);
}

static void normalize(float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(s));
    for (size_t i = 0; i < n; i++) v[i] *= inv;
}

static void case_logits(const pe_json *c, const char *id) {
    pe_model *m;
    pe_ctx *ctx = model_ctx(jstr(c, "model"), &m);
    npy_array in = {0}, exp = {0};
    pe_tokenizer *tok = NULL;
    char vocab[512];
    golden_path(vocab, sizeof vocab, "bpe_simple_vocab_16e6.txt.gz");
    if (!ctx || load_npy(jstr(c, "input"), &in) || load_npy(jstr(c, "expect"), &exp)) goto done;
    pe_status s = pe_tokenizer_load(vocab, &tok);
    CHECK(s == PE_OK, "%s: tokenizer: %s", id, pe_last_error());
    if (s) goto done;
    pe_model_info info;
    pe_model_get_info(m, &info);
    const pe_json *texts = pe_json_get(c, "texts");
    int n_img = (int)in.shape[0], n_txt = (int)texts->n, D = info.out_dim, C = info.text_context;
    int H = (int)in.shape[2], W = (int)in.shape[3];
    float *img = malloc((size_t)n_img * D * sizeof(float)), *txt = malloc((size_t)n_txt * D * sizeof(float));
    int32_t *ids = malloc((size_t)n_txt * C * sizeof(int32_t));
    for (int i = 0; !s && i < n_txt; i++) s = pe_tokenize(tok, texts->items[i].raw, C, ids + (size_t)i * C);
    if (!s) s = pe_encode_text(ctx, ids, n_txt, C, txt, (size_t)n_txt * D);
    if (!s) s = pe_encode_f32(ctx, in.data, n_img, H, W, PE_OUTPUT_EMBEDDING, img, (size_t)n_img * D);
    CHECK(s == PE_OK, "%s: %s", id, pe_last_error());
    double abs_max = jnum(c, "abs_max", 0), worst = 0;
    CHECK(exp.numel == (size_t)n_img * n_txt, "%s: expected %zu logits", id, exp.numel);
    for (int i = 0; !s && i < n_img; i++) normalize(img + (size_t)i * D, (size_t)D);
    for (int j = 0; !s && j < n_txt; j++) normalize(txt + (size_t)j * D, (size_t)D);
    for (int i = 0; !s && i < n_img && exp.numel == (size_t)n_img * n_txt; i++)
        for (int j = 0; j < n_txt; j++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)img[(size_t)i * D + d] * txt[(size_t)j * D + d];
            worst = fmax(worst, fabs(info.logit_scale * dot - exp.data[(size_t)i * n_txt + j]));
        }
    CHECK(worst <= abs_max, "%s: max logit error %.4g > %.4g", id, worst, abs_max);
    printf("  %-44s max abs %.2e\n", id, worst);
    free(img);
    free(txt);
    free(ids);
done:
    pe_tokenizer_free(tok);
    npy_free(&in);
    npy_free(&exp);
}

/* The .pt twins: every image_raw case again with models/X.pt in place of
 * models/X.safetensors where that file exists.  A .pt carries no metadata,
 * so the heads are passed as an app would (pe_model_options), taken from the
 * safetensors twin's __metadata__. */
static void pt_twin_cases(const pe_json *cases) {
    int ran = 0;
    for (size_t i = 0; cases && i < cases->n; i++) {
        const pe_json *c = &cases->items[i];
        const char *kind = jstr(c, "kind"), *id = jstr(c, "id"), *model = jstr(c, "model");
        const size_t n = model ? strlen(model) : 0;
        if (!kind || strcmp(kind, "image_raw") || n < 12 || strcmp(model + n - 12, ".safetensors"))
            continue;
        char rel[256], path[512], twin[512], pid[160];
        snprintf(rel, sizeof rel, "%.*s.pt", (int)(n - 12), model);
        golden_path(path, sizeof path, rel);
        if (access(path, R_OK)) continue;
        int slot = 0;
        while (slot < 16 && g_models[slot].m && strcmp(g_models[slot].path, path)) slot++;
        if (slot < 16 && !g_models[slot].m) {
            pe_safetensors st;
            golden_path(twin, sizeof twin, model);
            CHECK(pe_st_open(&st, twin) == PE_OK, "%s: %s", twin, pe_last_error());
            const char *vh = pe_st_meta_get(&st, "vision_heads"), *th = pe_st_meta_get(&st, "text_heads"),
                       *ph = pe_st_meta_get(&st, "attn_pooler_heads");
            pe_model_options o = {.vision_heads = vh ? atoi(vh) : 0, .text_heads = th ? atoi(th) : 0,
                                  .pool_heads = ph ? atoi(ph) : 0};
            pe_st_close(&st);
            pe_status s = pe_model_load(path, &o, &g_models[slot].m);
            CHECK(s == PE_OK, "load %s: %s", path, pe_last_error());
            if (s) continue;
            pe_ctx_options co = {.n_threads = 2};
            CHECK(pe_ctx_create(g_models[slot].m, &co, &g_models[slot].c) == PE_OK, "ctx %s", path);
            snprintf(g_models[slot].path, sizeof g_models[slot].path, "%s", path);
        }
        snprintf(pid, sizeof pid, "%s (.pt)", id);
        case_image_raw(c, pid, rel);
        ran++;
    }
    CHECK(ran >= 7, "only %d image_raw cases ran with a .pt twin", ran);
}

/* vision_only leaves the text tower out and changes nothing else. */
static void check_vision_only(void) {
    char path[512];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    pe_model_options mo = {.vision_only = 1};
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_model *full = NULL;
    pe_ctx *fc = model_ctx("models/pe-micro.safetensors", &full);
    pe_status s = pe_model_load(path, &mo, &m);
    CHECK(s == PE_OK, "vision_only load: %s", pe_last_error());
    if (s || !fc) return;
    pe_model_info a, b;
    pe_model_get_info(m, &a);
    pe_model_get_info(full, &b);
    CHECK(!a.has_text && b.has_text, "vision_only: has_text %d (full %d)", a.has_text, b.has_text);
    CHECK(a.fingerprint == b.fingerprint, "vision_only: the model identity must not change");
    pe_ctx_options co = {.n_threads = 2};
    pe_ctx_create(m, &co, &c);
    static float x[3 * 64 * 64], e1[32], e2[32];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)(i % 97) / 48.5f - 1.0f;
    int32_t ids[32] = {PE_TOKEN_SOT, 320, PE_TOKEN_EOT};
    CHECK(pe_encode_f32(c, x, 1, 64, 64, PE_OUTPUT_EMBEDDING, e1, 32) == PE_OK &&
          pe_encode_f32(fc, x, 1, 64, 64, PE_OUTPUT_EMBEDDING, e2, 32) == PE_OK &&
          !memcmp(e1, e2, sizeof e1), "vision_only: embeddings differ");
    CHECK(pe_encode_text(c, ids, 1, 32, e1, 32) == PE_ERR_UNSUPPORTED, "vision_only: text must be refused");
    pe_ctx_free(c);
    pe_model_free(m);
}

/* Every case of the manifest under golden_dir(); returns the model cases. */
static int run_manifest(pe_json **man, char **text) {
    char path[512];
    size_t len = 0;
    golden_path(path, sizeof path, "manifest.json");
    *text = test_read_file(path, &len);
    CHECK(*text != NULL, "cannot read %s", path);
    if (!*text || pe_json_parse(*text, len, man) != PE_OK) {
        CHECK(0, "manifest: %s", pe_last_error());
        return 0;
    }
    const pe_json *cases = pe_json_get(*man, "cases");
    int counted = 0;
    for (size_t i = 0; cases && i < cases->n; i++) {
        const pe_json *c = &cases->items[i];
        const char *kind = jstr(c, "kind"), *id = jstr(c, "id");
        if (!kind || !id) { CHECK(0, "case %zu has no kind or id", i); continue; }
        counted++;
        if (!strcmp(kind, "image_raw")) case_image_raw(c, id, jstr(c, "model"));
        else if (!strcmp(kind, "image_file")) case_image_file(c, id);
        else if (!strcmp(kind, "debug_stages")) case_stages(c, id);
        else if (!strcmp(kind, "text")) case_text(c, id);
        else if (!strcmp(kind, "logits")) case_logits(c, id);
        else if (!strcmp(kind, "preprocess")) counted--; /* tests/test_preprocess.c */
        else CHECK(0, "%s: unknown case kind '%s'", id, kind);
    }
    return counted;
}

static void free_models(void) {
    for (int i = 0; i < 16; i++) {
        pe_ctx_free(g_models[i].c);
        pe_model_free(g_models[i].m);
        memset(&g_models[i], 0, sizeof g_models[i]);
    }
}

int main(void) {
    pe_json *man = NULL;
    char *text = NULL;
    int counted = run_manifest(&man, &text);
    CHECK(counted >= 20, "only %d model cases found in the manifest", counted);
    check_vision_only();
    pt_twin_cases(man ? pe_json_get(man, "cases") : NULL);
    free_models();
    pe_json_free(man);
    free(text);
    /* The DINOv2 family's set: its .pth files are cases of their own. */
    t_golden_dir = golden_dinov2_dir();
    man = NULL;
    counted = run_manifest(&man, &text);
    CHECK(counted >= 25, "only %d model cases found in the DINOv2 manifest", counted);
    free_models();
    pe_json_free(man);
    free(text);
    return test_done("golden");
}
