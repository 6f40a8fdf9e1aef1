/* Calibration: the source model runs the calibration images with its own
 * eval transform while the blocks of its vision tower hand every linear's
 * input rows to observe() (pe_ctx.observe).  Per site it keeps what the
 * methods need: the largest magnitude of each channel (smoothing, float
 * columns), the sum of x x^T (GPTQ's Hessian) and a sample of rows (the
 * errors of the report). */
#include "quant_internal.h"

#include <stdlib.h>
#include <string.h>

enum { SAMPLE_ROWS = 1024 };

typedef struct observer {
    pe_calib *cal;
    const pe_kernels *k;
    float *xt, *xp;         /* [k, rows] transposed rows, their packed panels */
    size_t xt_floats;
    int image, n_images;
    pe_status err;
} observer;

/* H [k, k] += X^T X for X [rows, k], on the float GEMM: A = X^T [k, rows]
 * against the same matrix packed as a weight [k, rows]. */
static pe_status add_gram(observer *ob, pe_calib_site *s, const float *x, int rows) {
    const int k = s->k;
    const size_t need = (size_t)k * (size_t)rows;
    const size_t packed = pe_gemm_packed_floats(k, rows);
    if (need > ob->xt_floats || packed > ob->xt_floats) {
        size_t n = PE_MAX(need, packed);
        free(ob->xt);
        free(ob->xp);
        ob->xt = malloc(n * sizeof(float));
        ob->xp = malloc(n * sizeof(float));
        ob->xt_floats = ob->xt && ob->xp ? n : 0;
        if (!ob->xt_floats) return pe_error(PE_ERR_NOMEM, "calibration: out of memory");
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < k; c++) ob->xt[(size_t)c * rows + r] = x[(size_t)r * k + c];
    pe_gemm_pack(ob->xp, ob->xt, k, rows, rows);
    pe_epilogue ep = {.residual = s->H, .ldr = k};
    ob->k->gemm(ob->xt, rows, ob->xp, k, rows, s->H, k, 0, k, 0, k, &ep);
    return PE_OK;
}

static pe_status site_init(pe_calib_site *s, int k) {
    s->k = k;
    s->cap = SAMPLE_ROWS;
    s->absmax = calloc((size_t)k, sizeof(float));
    s->H = calloc((size_t)k * (size_t)k, sizeof(float));
    s->sample = malloc((size_t)s->cap * (size_t)k * sizeof(float));
    return s->absmax && s->H && s->sample ? PE_OK : pe_error(PE_ERR_NOMEM, "calibration: out of memory");
}

static void observe(void *user, int layer, int site, const float *x, int rows, int n) {
    observer *ob = user;
    pe_calib_site *s = pe_calib_at(ob->cal, layer, site);
    if (ob->err || n != s->k) return;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < n; c++) {
            float v = x[(size_t)r * n + c];
            v = v < 0 ? -v : v;
            if (v > s->absmax[c]) s->absmax[c] = v;
        }
    s->rows += rows;
    /* an equal share of the sample per image, rows spread over the image */
    const int share = s->cap / ob->n_images, take = PE_MIN(rows, PE_MAX(share, 1));
    for (int i = 0; i < take && s->n_sample < s->cap; i++) {
        const int r = (int)((int64_t)i * rows / take);
        memcpy(s->sample + (size_t)s->n_sample++ * n, x + (size_t)r * n, (size_t)n * sizeof(float));
    }
    ob->err = add_gram(ob, s, x, rows);
}

/* The output calibration compares: the embedding, or the token grid. */
static pe_status output_of(const pe_model *m, pe_calib *cal) {
    pe_preprocess pp;
    pe_status s = pe_preprocess_init(m->info.transform, 0, &pp);
    cal->kind = m->info.pool == PE_POOL_NONE ? PE_OUTPUT_TOKENS : PE_OUTPUT_EMBEDDING;
    int rows, cols;
    const int h = pp.height ? pp.height : m->info.image_size, w = pp.width ? pp.width : m->info.image_size;
    if (!s) s = pe_output_shape(m, h, w, cal->kind, &rows, &cols);
    cal->out_len = s ? 0 : (size_t)rows * (size_t)cols;
    return s;
}

pe_status pe_calib_run(const pe_model *m, const pe_quantize_options *o, pe_calib *cal) {
    memset(cal, 0, sizeof *cal);
    const pe_model_info *in = &m->info;
    cal->layers = in->layers;
    cal->n_images = o->n_calib;
    cal->site = calloc((size_t)in->layers * PE_OBS_SITES, sizeof *cal->site);
    pe_status s = cal->site ? output_of(m, cal) : pe_error(PE_ERR_NOMEM, "calibration: out of memory");
    for (int l = 0; l < in->layers && !s; l++)
        for (int k = 0; k < PE_OBS_SITES && !s; k++)
            s = site_init(pe_calib_at(cal, l, k), k == PE_OBS_PROJ ? in->mlp : in->width);
    if (!s && !(cal->out = malloc((size_t)o->n_calib * cal->out_len * sizeof(float))))
        s = pe_error(PE_ERR_NOMEM, "calibration: out of memory");
    pe_ctx *c = NULL;
    if (!s) s = pe_ctx_create(m, NULL, &c);
    observer ob = {.cal = cal, .k = pe_kernels_get(), .n_images = o->n_calib};
    if (c) {
        c->observe = observe;
        c->observe_user = &ob;
    }
    for (int i = 0; i < o->n_calib && !s; i++) {
        pe_image img;
        if ((s = o->calib_image(o->user, i, &img))) break;
        s = pe_encode_image(c, &img, NULL, cal->kind, cal->out + (size_t)i * cal->out_len, cal->out_len);
        if (!s && ob.err) s = ob.err;
        if (s) pe_error_prefix(s, "calibration image %d", i + 1);
        if (o->progress) o->progress(o->user, "calibrating", (double)(i + 1) / o->n_calib);
    }
    pe_ctx_free(c);
    free(ob.xt);
    free(ob.xp);
    if (s) pe_calib_free(cal);
    return s;
}

void pe_calib_free(pe_calib *cal) {
    for (int i = 0; cal->site && i < cal->layers * PE_OBS_SITES; i++) {
        free(cal->site[i].absmax);
        free(cal->site[i].H);
        free(cal->site[i].sample);
    }
    free(cal->site);
    free(cal->out);
    memset(cal, 0, sizeof *cal);
}
