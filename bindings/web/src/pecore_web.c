/* The C side of the browser binding (bindings/web): a few flat calls over
 * include/pecore.h that JavaScript makes with numbers and pointers alone, so
 * the JS never depends on a struct's layout.  A session holds what a page
 * works with: the model, its context, a gallery, prototype classes (from
 * embeddings or zero-shot labels) and the temporal smoother.  Results come
 * back as JSON in a buffer the session owns (valid until its next call);
 * a failed call returns non-zero (or NULL) and pw_error() says why, in the
 * library's words.
 *
 * Built only by the browser builds (make web); uses the public API only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emscripten/emscripten.h>

#include "pecore.h"

#define PW_KEEP EMSCRIPTEN_KEEPALIVE

typedef struct pw_session {
    pe_model *model;
    pe_ctx *ctx;
    pe_model_info info;
    pe_preprocess pp;
    pe_gallery *gallery;     /* entries added from frames                     */
    pe_protos *protos;       /* classes from embeddings or zero-shot labels   */
    pe_smoother *smoother;   /* over the classes in use; NULL until needed    */
    int smooth_classes;      /* class count the smoother was made for         */
    int smooth_protos;       /* 1: it smooths the prototypes, 0: the gallery  */
    float *emb;              /* [out_dim] the last embedding                  */
    float probs[PE_CLASSIFY_MAX_TOP]; /* per-class scores of the last frame  */
    char *json;              /* the last result                               */
    size_t json_len, json_cap;
    int json_failed;         /* an append ran out of memory                   */
} pw_session;

static char g_error[512];

static int fail_msg(pe_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return (int)s;
}

/* The library's own message when it left one, else the status's name. */
static int fail(pe_status s) {
    const char *m = pe_last_error();
    return fail_msg(s, "%s", m && m[0] ? m : pe_status_string(s));
}

/* The message of the last failed call. */
PW_KEEP const char *pw_error(void) { return g_error; }

/* ---------------------------------------------------------------- JSON out */

static void js_raw(pw_session *w, const char *s, size_t n) {
    if (w->json_failed) return;
    if (w->json_len + n + 1 > w->json_cap) {
        size_t cap = (w->json_len + n + 1) * 2;
        char *p = realloc(w->json, cap);
        if (!p) { w->json_failed = 1; return; }
        w->json = p, w->json_cap = cap;
    }
    memcpy(w->json + w->json_len, s, n);
    w->json_len += n;
    w->json[w->json_len] = 0;
}

static void js_fmt(pw_session *w, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) js_raw(w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A JSON string: labels are the user's text, so quotes, backslashes and
 * control characters are escaped (UTF-8 passes through). */
static void js_str(pw_session *w, const char *s) {
    js_raw(w, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') js_fmt(w, "\\%c", c);
        else if (c < 0x20) js_fmt(w, "\\u%04x", c);
        else js_raw(w, (const char *)&c, 1);
    }
    js_raw(w, "\"", 1);
}

static void js_begin(pw_session *w) {
    w->json_len = 0;
    w->json_failed = 0;
    js_raw(w, "", 0);
}

static const char *js_end(pw_session *w) {
    if (w->json_failed || !w->json) { fail_msg(PE_ERR_NOMEM, "out of memory"); return NULL; }
    return w->json;
}

/* ---------------------------------------------------------------- sessions */

PW_KEEP void pw_session_free(pw_session *w) {
    if (!w) return;
    pe_smoother_free(w->smoother);
    pe_protos_free(w->protos);
    pe_gallery_free(w->gallery);
    pe_ctx_free(w->ctx);
    pe_model_free(w->model);
    free(w->emb);
    free(w->json);
    free(w);
}

/* A page built for one family refuses another's file with a sentence, not
 * with embeddings that silently mean something else. */
static pe_status check_family(const pw_session *w, const char *family) {
    if (!family || !family[0]) return PE_OK;
    const char *got = pe_family_name(w->info.family);
    if (strcmp(got, family) == 0) return PE_OK;
    fail_msg(PE_ERR_UNSUPPORTED, "the model is a %s model (%s); this page expects a %s model", got,
             w->info.arch, family);
    return PE_ERR_UNSUPPORTED;
}

static pe_status session_open(pw_session *w, const char *path, const char *sha256, const char *family,
                              int n_threads, int size, pw_session *replace) {
    pe_model_options mo = {.sha256_hex = sha256 && sha256[0] ? sha256 : NULL};
    pe_status s = pe_model_load(path, &mo, &w->model);
    if (!s) s = pe_model_get_info(w->model, &w->info);
    if (s) return fail(s);
    if ((s = check_family(w, family))) return s;
    if (w->info.pool == PE_POOL_NONE)
        return fail_msg(PE_ERR_UNSUPPORTED, "%s has no pooling head (token outputs only); the browser "
                        "binding needs one embedding per image", w->info.arch);
    pe_ctx_options co = {.n_threads = n_threads};
    if ((s = pe_preprocess_init(w->info.transform, size, &w->pp))) return fail(s);
    /* The threaded build has a fixed pool of workers: the old context gives
     * its threads back before the new one asks for them. */
    if (replace) {
        pe_ctx_free(replace->ctx);
        replace->ctx = NULL;
    }
    if ((s = pe_ctx_create(w->model, &co, &w->ctx))) return fail(s);
    if ((s = pe_gallery_create(w->model, &w->gallery))) return fail(s);
    if ((s = pe_protos_create(w->model, &w->protos))) return fail(s);
    w->emb = calloc((size_t)w->info.out_dim, sizeof *w->emb);
    if (!w->emb) return fail_msg(PE_ERR_NOMEM, "out of memory");
    return PE_OK;
}

/* Loads the model file at path (the JS wrote it into the in-memory file
 * system) on n_threads threads (0: one per core) at size x size pixels (0:
 * the model's native size).  sha256 ("" for none) is checked before the file
 * is parsed; family ("" for any: "PE", "DINOv2", "Franca") is required.
 * replace (may be NULL) is the session in use: a file that fails to load or
 * check leaves it as it was; once the new model is loaded, replace's context
 * is freed (pw_session_ready says 0) and the caller frees replace. */
PW_KEEP pw_session *pw_session_create(const char *path, const char *sha256, const char *family,
                                      int n_threads, int size, pw_session *replace) {
    pw_session *w = calloc(1, sizeof *w);
    if (!w) { fail_msg(PE_ERR_NOMEM, "out of memory"); return NULL; }
    if (session_open(w, path, sha256, family, n_threads, size, replace)) { pw_session_free(w); return NULL; }
    return w;
}

/* 1 while the session can embed (its context was not handed over). */
PW_KEEP int pw_session_ready(pw_session *w) { return w && w->ctx; }

/* What the model is, as JSON. */
PW_KEEP const char *pw_info(pw_session *w) {
    const pe_model_info *i = &w->info;
    js_begin(w);
    js_raw(w, "{\"arch\":", 8);
    js_str(w, i->arch);
    js_raw(w, ",\"family\":", 10);
    js_str(w, pe_family_name(i->family));
    js_raw(w, ",\"isa\":", 7);
    js_str(w, pe_kernel_isa());
    js_fmt(w, ",\"dim\":%d,\"imageSize\":%d,\"inputSize\":%d,\"patch\":%d,\"layers\":%d,\"width\":%d",
           i->out_dim, i->image_size, w->pp.height, i->patch, i->layers, i->width);
    js_fmt(w, ",\"hasText\":%s,\"threads\":%d,\"params\":%.0f,\"fileBytes\":%.0f,\"fingerprint\":\"%016llx\"}",
           i->has_text ? "true" : "false", pe_ctx_threads(w->ctx), (double)i->n_params,
           (double)i->file_bytes, (unsigned long long)i->fingerprint);
    return js_end(w);
}

/* Embeds width x height RGBA pixels (rows of stride bytes, len bytes in
 * all) into the session's embedding (pw_embedding, dim floats). */
PW_KEEP int pw_embed_rgba(pw_session *w, const uint8_t *rgba, int width, int height, int stride,
                          int len) {
    pe_frame f = {.format = PE_FRAME_RGBA8, .width = width, .height = height};
    f.planes[0] = (pe_plane){.data = rgba, .size = (size_t)len, .row_stride = (size_t)stride};
    pe_status s = pe_encode_frame(w->ctx, &f, &w->pp, PE_OUTPUT_EMBEDDING, w->emb,
                                  (size_t)w->info.out_dim);
    return s ? fail(s) : 0;
}

/* Embeds a camera frame as VideoFrame.copyTo lays it out in data (len
 * bytes): format a pe_frame_format, plane i at offset off[i] with rows of
 * stride[i] bytes (unused planes 0), yuv a pe_yuv_matrix.  The library
 * converts YUV itself, so a frame is never drawn to a canvas. */
PW_KEEP int pw_embed_frame(pw_session *w, int format, int width, int height, const uint8_t *data,
                           int len, const int *off, const int *stride, int yuv) {
    pe_frame f = {.format = (pe_frame_format)format, .width = width, .height = height,
                  .yuv = (pe_yuv_matrix)yuv};
    for (int i = 0; i < 3; i++) {
        if (stride[i] <= 0) continue;
        if (off[i] < 0 || off[i] > len)
            return fail_msg(PE_ERR_INVALID_ARG, "frame: plane %d starts at %d, past the %d bytes", i, off[i], len);
        f.planes[i] = (pe_plane){.data = data + off[i], .size = (size_t)(len - off[i]),
                                 .row_stride = (size_t)stride[i]};
    }
    pe_status s = pe_encode_frame(w->ctx, &f, &w->pp, PE_OUTPUT_EMBEDDING, w->emb,
                                  (size_t)w->info.out_dim);
    return s ? fail(s) : 0;
}

PW_KEEP float *pw_embedding(pw_session *w) { return w->emb; }
PW_KEEP int pw_dim(pw_session *w) { return w->info.out_dim; }

/* ---------------------------------------------------------------- classes */

/* The classes change: the smoother's history means nothing any more. */
static void classes_changed(pw_session *w) {
    pe_smoother_free(w->smoother);
    w->smoother = NULL;
}

/* Adds the last embedding to the gallery as label (from source). */
PW_KEEP int pw_gallery_add(pw_session *w, const char *label, const char *source) {
    pe_status s = pe_gallery_add(w->gallery, label, source, w->emb, w->info.out_dim);
    if (s) return fail(s);
    classes_changed(w);
    return 0;
}

PW_KEEP int pw_gallery_remove(pw_session *w, const char *label) {
    pe_status s = pe_gallery_remove(w->gallery, label, NULL);
    if (s) return fail(s);
    classes_changed(w);
    return 0;
}

PW_KEEP int pw_gallery_clear(pw_session *w) {
    pe_gallery *g = NULL;
    pe_status s = pe_gallery_create(w->model, &g);
    if (s) return fail(s);
    pe_gallery_free(w->gallery);
    w->gallery = g;
    classes_changed(w);
    return 0;
}

PW_KEEP int pw_gallery_count(pw_session *w) { return pe_gallery_count(w->gallery); }

/* Drops every prototype class. */
PW_KEEP int pw_protos_clear(pw_session *w) {
    pe_protos *p = NULL;
    pe_status s = pe_protos_create(w->model, &p);
    if (s) return fail(s);
    pe_protos_free(w->protos);
    w->protos = p;
    classes_changed(w);
    return 0;
}

/* Adds a prototype class from an embedding (dim floats). */
PW_KEEP int pw_protos_add(pw_session *w, const char *label, const float *emb, int dim, float threshold) {
    pe_status s = pe_protos_add(w->protos, label, emb, dim, threshold);
    if (s) return fail(s);
    classes_changed(w);
    return 0;
}

/* Zero-shot classes: labels separated by '\n', each encoded by the text
 * tower with the default template; the tokenizer is the one stored in the
 * model file (pe_convert --vocab). */
PW_KEEP int pw_protos_add_text(pw_session *w, const char *labels_nl) {
    const char *labels[PE_CLASSIFY_MAX_TOP];
    int n = 0;
    char *copy = strdup(labels_nl ? labels_nl : "");
    if (!copy) return fail_msg(PE_ERR_NOMEM, "out of memory");
    for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
        if (n == PE_CLASSIFY_MAX_TOP) { free(copy); return fail_msg(PE_ERR_LIMIT, "more than %d labels", n); }
        labels[n++] = t;
    }
    pe_status s = PE_OK;
    pe_tokenizer *tok = NULL;
    if (n == 0) s = fail_msg(PE_ERR_INVALID_ARG, "no labels");
    else if (!w->info.has_text)
        s = fail_msg(PE_ERR_UNSUPPORTED, "%s has no text tower: zero-shot labels need a CLIP model",
                     w->info.arch);
    else if ((s = pe_tokenizer_load_model(w->model, &tok))) fail(s);
    else if ((s = pe_protos_add_text(w->protos, w->ctx, tok, labels, n, NULL, 0))) fail(s);
    pe_tokenizer_free(tok);
    free(copy);
    if (!s) classes_changed(w);
    return (int)s;
}

PW_KEEP int pw_protos_count(pw_session *w) { return pe_protos_count(w->protos); }

/* ---------------------------------------------------------------- classify */

static pe_status ensure_smoother(pw_session *w, int n, int protos) {
    if (w->smoother && w->smooth_classes == n && w->smooth_protos == protos) return PE_OK;
    classes_changed(w);
    pe_smoother_options o = {0};
    pe_status s = pe_smoother_create(n, &o, &w->smoother);
    if (s) return s;
    w->smooth_classes = n, w->smooth_protos = protos;
    return PE_OK;
}

static void js_scores(pw_session *w, const pe_classification *c) {
    js_raw(w, "\"top\":[", 7);
    for (int i = 0; i < c->n_top; i++) {
        js_raw(w, i ? ",{\"label\":" : "{\"label\":", i ? 10 : 9);
        js_str(w, c->top[i].label);
        js_fmt(w, ",\"score\":%.5f}", c->top[i].score);
    }
    js_raw(w, "]", 1);
}

/* Classifies the last embedding against the prototypes when there are any,
 * else the gallery (its k nearest entries vote); with t_ms >= 0 the scores
 * also feed the smoother, whose stable label the JSON carries. */
PW_KEEP const char *pw_classify(pw_session *w, int k, double t_ms) {
    const int protos = pe_protos_count(w->protos) > 0;
    const int n = protos ? pe_protos_count(w->protos) : pe_gallery_label_count(w->gallery);
    if (n == 0) {
        fail_msg(PE_ERR_INVALID_ARG, "no classes yet: add gallery entries, prototypes or zero-shot labels");
        return NULL;
    }
    if (n > PE_CLASSIFY_MAX_TOP) {
        fail_msg(PE_ERR_LIMIT, "%d classes: at most %d are smoothed", n, PE_CLASSIFY_MAX_TOP);
        return NULL;
    }
    static pe_classification c;  /* 20 KB: off the stack; one caller at a time */
    const int dim = w->info.out_dim;
    pe_status s = protos ? pe_protos_classify(w->protos, w->emb, dim, n, &c)
                         : pe_gallery_classify(w->gallery, w->emb, dim, k > 0 ? k : 5, PE_METRIC_COSINE,
                                               n, &c);
    if (s) { fail(s); return NULL; }
    js_begin(w);
    js_raw(w, "{", 1);
    js_scores(w, &c);
    if (t_ms >= 0) {
        if ((s = ensure_smoother(w, n, protos))) { fail(s); return NULL; }
        memset(w->probs, 0, sizeof w->probs);
        for (int i = 0; i < c.n_top; i++)
            if (c.top[i].index >= 0 && c.top[i].index < n) w->probs[c.top[i].index] = c.top[i].score;
        pe_smoothed sm;
        if ((s = pe_smoother_update(w->smoother, t_ms, w->probs, n, w->emb, dim, &sm))) { fail(s); return NULL; }
        const char *label = sm.stable < 0 ? NULL
                          : protos ? pe_protos_label(w->protos, sm.stable)
                                   : pe_gallery_label(w->gallery, sm.stable);
        js_raw(w, ",\"stable\":", 10);
        if (label) js_str(w, label);
        else js_raw(w, "null", 4);
        js_fmt(w, ",\"stableScore\":%.5f,\"changed\":%s,\"sceneCut\":%s", sm.stable_prob,
               sm.changed ? "true" : "false", sm.scene_cut ? "true" : "false");
    }
    js_raw(w, "}", 1);
    return js_end(w);
}

/* Starts the smoother afresh (a new video). */
PW_KEEP void pw_smooth_reset(pw_session *w) {
    if (w->smoother) pe_smoother_reset(w->smoother);
}
