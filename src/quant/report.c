/* The quality report (pe_quant_report): per int8 linear of the vision
 * blocks, the relative error of its output on the calibration activations
 * with plain rounding and as quantized (the engine's int8 path emulated on
 * the sample rows); the cosine of the written model's outputs to the
 * source's on the calibration images; what was done. */
#include "quant_internal.h"
#include "../util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ERR_ROWS = 256 };

/* Y [R, N] = X [R, K] W^T on the float kernels. */
static void matmul(const float *X, int R, const float *W, int N, int K, float *Y, float *packed) {
    pe_gemm_pack(packed, W, N, K, K);
    const pe_epilogue none = {0};
    pe_kernels_get()->gemm(X, K, packed, N, K, Y, N, 0, R, 0, N, &none);
}

double pe_quant_emulate(const float *X, int R, const float *W, int N, int K, pe_wtype wt, const float *s,
                        const int32_t *fcols, int nc, const void *packed_w) {
    const size_t nk = (size_t)N * K;
    float *Wd = malloc(nk * sizeof(float)), *packed = malloc(pe_gemm_packed_floats(N, K) * sizeof(float));
    float *Xq = malloc((size_t)R * K * sizeof(float)), *Y = malloc((size_t)R * N * sizeof(float));
    float *Yq = malloc((size_t)R * N * sizeof(float)), *rows16 = malloc((size_t)PE_GEMM_NR * K * sizeof(float));
    const size_t pb = pe_qpack_panel_bytes(wt, K);
    void *panel = malloc(pb);
    int8_t *q = malloc((size_t)K);
    uint8_t *fc = calloc((size_t)K, 1);
    double err = -1;
    if (!Wd || !packed || !Xq || !Y || !Yq || !rows16 || !panel || !q || !fc || R <= 0) goto out;
    for (int c = 0; c < nc; c++) fc[fcols[c]] = 1;
    matmul(X, R, W, N, K, Y, packed);
    for (int p0 = 0; p0 < N; p0 += PE_GEMM_NR) { /* the weight as stored, back in float */
        const int rows = PE_MIN(PE_GEMM_NR, N - p0);
        const void *src = packed_w ? (const uint8_t *)packed_w + (size_t)(p0 / PE_GEMM_NR) * pb : panel;
        if (!packed_w) {
            for (int j = 0; j < rows; j++)
                for (int k = 0; k < K; k++)
                    rows16[(size_t)j * K + k] = fc[k] ? 0.0f : W[(size_t)(p0 + j) * K + k] * (s ? s[k] : 1.0f);
            pe_qpack_panel(wt, panel, rows16, rows, K, K);
        }
        for (int j = 0; j < rows; j++)
            for (int k = 0; k < K; k++) Wd[(size_t)(p0 + j) * K + k] = pe_qpanel_get(wt, src, K, j, k);
    }
    for (int r = 0; r < R; r++) { /* the row as the engine quantizes it */
        float *x = Xq + (size_t)r * K;
        for (int k = 0; k < K; k++) x[k] = fc[k] ? 0.0f : X[(size_t)r * K + k] / (s ? s[k] : 1.0f);
        pe_dequantize_q8_ref(q, K, pe_quantize_q8_ref(x, K, q), x);
    }
    matmul(Xq, R, Wd, N, K, Yq, packed);
    double num = 0, den = 0;
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) {
            double y = Yq[(size_t)r * N + n];
            for (int c = 0; c < nc; c++) /* float columns: exact */
                y += (double)X[(size_t)r * K + fcols[c]] * W[(size_t)n * K + fcols[c]];
            const double d = y - Y[(size_t)r * N + n];
            num += d * d;
            den += (double)Y[(size_t)r * N + n] * Y[(size_t)r * N + n];
        }
    err = den > 0 ? sqrt(num / den) : 0;
out:
    free(Wd); free(packed); free(Xq); free(Y); free(Yq); free(rows16); free(panel); free(q); free(fc);
    return err;
}

/* The relative output error of linear t as quantized (wt), on the site's
 * sample rows: rows divided by in_scale (NULL: 1) with their float columns
 * apart, or (plain) the source's weights and rows rounded as plain
 * quantization does. */
static double linear_error(const pe_qplan *p, const pe_safetensors *st, int t, pe_wtype wt,
                             const pe_calib_site *site, const float *in_scale, int plain) {
    const int N = (int)st->tensors[t].shape[0], K = (int)st->tensors[t].shape[1];
    float *W = malloc((size_t)N * K * sizeof(float));
    if (!W) return -1;
    for (size_t i = 0; i < (size_t)N * K; i++) W[i] = pe_qplan_elem(NULL, st, t, i);
    const double e = pe_quant_emulate(site->sample, PE_MIN(site->n_sample, ERR_ROWS), W, N, K, wt,
                                      plain ? NULL : in_scale, plain ? NULL : p->t[t].fcols,
                                      plain ? 0 : p->t[t].n_fcols, plain ? NULL : p->t[t].packed);
    free(W);
    return e;
}

void pe_quant_report_init(pe_quant_report *r, const pe_qplan *p, const pe_calib *cal, int plain) {
    memset(r, 0, sizeof *r);
    r->n_images = cal ? cal->n_images : 0;
    if (plain || !p) {
        snprintf(r->method, sizeof r->method, "plain");
        return;
    }
    int smoothed = 0, gptq = 0;
    for (int i = 0; i < p->layers; i++) smoothed += (p->blk[i].s_qkv != NULL) + (p->blk[i].s_fc != NULL);
    for (int t = 0; t < p->n_tensors; t++) {
        r->n_fcols += p->t[t].n_fcols;
        gptq += p->t[t].packed != NULL;
    }
    r->n_smoothed = smoothed;
    r->n_gptq = gptq;
    snprintf(r->method, sizeof r->method, "%s%s%s%s%s, %s", smoothed ? "smooth" : "",
             smoothed && r->n_fcols ? "+" : "", r->n_fcols ? "fcols" : "", (smoothed || r->n_fcols) && gptq ? "+" : "",
             gptq ? "gptq" : "", cal ? "calibrated" : "from the weights");
    if (r->method[0] == ',') /* nothing found to do */
        snprintf(r->method, sizeof r->method, "plain, %s", cal ? "calibrated" : "from the weights");
}

/* "smoothed, gptq, 5 float columns", or "rounded" when nothing was done. */
static void describe(const pe_qplan *p, int t, const float *scale, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = 0;
    if (scale) at += (size_t)snprintf(buf + at, n - at, "smoothed");
    if (p->t[t].packed) at += (size_t)snprintf(buf + at, n - at, "%sgptq", at ? ", " : "");
    if (p->t[t].n_fcols)
        at += (size_t)snprintf(buf + at, n - at, "%s%d float column%s", at ? ", " : "", p->t[t].n_fcols,
                               p->t[t].n_fcols == 1 ? "" : "s");
    if (!at) snprintf(buf, n, "rounded");
}

pe_status pe_quant_report_measure(pe_quant_report *r, pe_qplan *p, const pe_model *m, const pe_calib *cal,
                                  pe_wtype (*wt_of)(void *, int), void *u) {
    const pe_safetensors *st = &m->st;
    for (int i = 0; i < p->layers; i++) {
        const pe_qblock *b = &p->blk[i];
        const int lin[4] = {b->qkvw, b->outw, b->fcw, b->projw};
        const float *scale[4] = {b->s_qkv, NULL, b->s_fc, NULL};
        for (int j = 0; j < 4; j++) {
            const int t = lin[j];
            const pe_wtype wt = t >= 0 ? wt_of(u, t) : PE_WT_F32;
            if (!pe_wtype_int8(wt)) continue;
            const pe_calib_site *site = pe_calib_at(cal, i, j);
            const float before = (float)linear_error(p, st, t, wt, site, scale[j], 1);
            const float after = (float)linear_error(p, st, t, wt, site, scale[j], 0);
            r->n_linears++;
            /* keep the three worst (after), worst first */
            int at = r->n_worst < 3 ? r->n_worst++ : 3;
            while (at > 0 && r->worst[at - 1].after < after) {
                if (at < 3) r->worst[at] = r->worst[at - 1];
                at--;
            }
            if (at < 3) {
                pe_quant_loss *w = &r->worst[at];
                snprintf(w->name, sizeof w->name, "%s", st->tensors[t].name);
                w->before = before;
                w->after = after;
                describe(p, t, scale[j], w->action, sizeof w->action);
            }
        }
    }
    return PE_OK;
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

pe_status pe_quant_report_compare(pe_quant_report *r, const char *path, const pe_calib *cal,
                                  const pe_quantize_options *o) {
    pe_model *q;
    pe_ctx *c = NULL;
    float *out = malloc(cal->out_len * sizeof(float));
    pe_status s = out ? pe_model_load(path, NULL, &q) : pe_error(PE_ERR_NOMEM, "out of memory");
    if (s) { free(out); return s; }
    if (!(s = pe_ctx_create(q, NULL, &c))) {
        r->cos_mean = 0;
        r->cos_min = 1;
        for (int i = 0; i < cal->n_images && !s; i++) {
            pe_image img;
            if (!(s = o->calib_image(o->user, i, &img)))
                s = pe_encode_image(c, &img, NULL, cal->kind, out, cal->out_len);
            if (s) break;
            const double cs = cosine(out, cal->out + (size_t)i * cal->out_len, cal->out_len);
            r->cos_mean += cs / cal->n_images;
            r->cos_min = PE_MIN(r->cos_min, cs);
            if (o->progress) o->progress(o->user, "checking", (double)(i + 1) / cal->n_images);
        }
    }
    pe_ctx_free(c);
    pe_model_free(q);
    free(out);
    return s;
}

/* s as a JSON string body: quotes, backslashes and control bytes escaped. */
static size_t json_str(char *dst, size_t n, const char *s) {
    size_t at = 0;
    for (; *s && at + 7 < n; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') { dst[at++] = '\\'; dst[at++] = (char)ch; }
        else if (ch < 0x20) at += (size_t)snprintf(dst + at, n - at, "\\u%04x", ch);
        else dst[at++] = (char)ch;
    }
    dst[at] = 0;
    return at;
}

const char *pe_quant_report_json(const pe_quant_report *r, char *buf, size_t n) {
    size_t at = (size_t)snprintf(buf, n, "{\"method\": \"%s\", \"images\": %d, \"cos_mean\": %.6f, "
                                 "\"cos_min\": %.6f, \"linears\": %d, \"smoothed\": %d, \"gptq\": %d, "
                                 "\"float_columns\": %d, \"worst\": [", r->method, r->n_images, r->cos_mean,
                                 r->cos_min, r->n_linears, r->n_smoothed, r->n_gptq, r->n_fcols);
    for (int i = 0; i < r->n_worst && at + 200 < n; i++) {
        char name[200], action[200];
        json_str(name, sizeof name, r->worst[i].name);
        json_str(action, sizeof action, r->worst[i].action);
        at += (size_t)snprintf(buf + at, n - at, "%s{\"name\": \"%s\", \"before\": %.5f, \"after\": %.5f, "
                               "\"action\": \"%s\"}", i ? ", " : "", name, r->worst[i].before,
                               r->worst[i].after, action);
    }
    if (at + 3 < n) snprintf(buf + at, n - at, "]}");
    return buf;
}

/* ---------------------------------------------------------------- reading it back */

static int rd_str(const pe_json *o, const char *key, char *dst, size_t n) {
    const pe_json *v = pe_json_get(o, key);
    if (!v || v->type != PE_JSON_STRING || v->len >= n || strlen(v->raw) != v->len) return -1;
    memcpy(dst, v->raw, v->len + 1);
    return 0;
}

static int rd_num(const pe_json *o, const char *key, double lo, double hi, double *out) {
    const pe_json *v = pe_json_get(o, key);
    if (!v || v->type != PE_JSON_NUMBER || !(v->number >= lo && v->number <= hi)) return -1;
    *out = v->number;
    return 0;
}

static int rd_int(const pe_json *o, const char *key, int *out) {
    int64_t i;
    const pe_json *v = pe_json_get(o, key);
    if (!v || !pe_json_i64(v, &i) || i < 0 || i > 1000000000) return -1;
    *out = (int)i;
    return 0;
}

pe_status pe_quant_report_parse(const char *text, size_t len, pe_quant_report *r) {
    memset(r, 0, sizeof *r);
    pe_json *j = NULL;
    pe_status s = pe_json_parse(text, len, &j);
    if (s) {
        char why[200];
        snprintf(why, sizeof why, "%s", pe_last_error());
        return pe_error(PE_ERR_FORMAT, "pecore_quant_report: not JSON (%s)", why);
    }
    const pe_json *w = pe_json_get(j, "worst");
    int bad = j->type != PE_JSON_OBJECT || rd_str(j, "method", r->method, sizeof r->method) ||
              rd_int(j, "images", &r->n_images) || rd_num(j, "cos_mean", -1, 1, &r->cos_mean) ||
              rd_num(j, "cos_min", -1, 1, &r->cos_min) || rd_int(j, "linears", &r->n_linears) ||
              rd_int(j, "smoothed", &r->n_smoothed) || rd_int(j, "gptq", &r->n_gptq) ||
              rd_int(j, "float_columns", &r->n_fcols) || !w || w->type != PE_JSON_ARRAY ||
              w->n > sizeof r->worst / sizeof *r->worst;
    for (size_t i = 0; !bad && i < w->n; i++) {
        pe_quant_loss *l = &r->worst[i];
        double before = 0, after = 0;
        bad = w->items[i].type != PE_JSON_OBJECT || rd_str(&w->items[i], "name", l->name, sizeof l->name) ||
              rd_str(&w->items[i], "action", l->action, sizeof l->action) ||
              rd_num(&w->items[i], "before", 0, 1e30, &before) || rd_num(&w->items[i], "after", 0, 1e30, &after);
        l->before = (float)before;
        l->after = (float)after;
        r->n_worst = (int)i + 1;
    }
    pe_json_free(j);
    if (bad) {
        memset(r, 0, sizeof *r);
        return pe_error(PE_ERR_FORMAT, "pecore_quant_report: a field is missing, of the wrong type, "
                        "out of range or too long");
    }
    return PE_OK;
}

/* The report a quantized file carries (pe_quantize wrote it). */
pe_status pe_model_quant_report(const pe_model *m, pe_quant_report *out) {
    if (!m || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_model_quant_report: NULL argument");
    memset(out, 0, sizeof *out);
    const char *v = pe_st_meta_get(&m->st, "pecore_quant_report");
    if (!v) return pe_error(PE_ERR_NOT_FOUND, "the file has no quantization report");
    return pe_quant_report_parse(v, strlen(v), out);
}
