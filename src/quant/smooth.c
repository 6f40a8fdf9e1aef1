/* Outliers, before any rounding (quant_internal.h):
 *
 * Smoothing (SmoothQuant).  A LayerNorm's output channels can differ in
 * range 20-50x in trained ViTs, and an int8 row has one step for all of
 * them.  Channel j of ln_1 (ln_2) is divided by s_j and the matching input
 * column of qkv (fc) multiplied by it: exact in float, free at run time,
 * and s_j = a_j^alpha / w_j^(1 - alpha) (a_j the channel's largest
 * magnitude, w_j that of the weight column) moves part of the range from
 * the activations into the weights, which have a step per output channel.
 * Without calibration a_j comes from the LayerNorm's own gain and bias.
 *
 * Float columns (LLM.int8).  The FFN's hidden layer can have a few channels
 * that dominate every row (biased units) or fire huge on a few tokens, and
 * its output projection a few columns of huge weights (the units that write
 * "massive activations" into the residual stream).  Either makes a row's or
 * an output channel's one step coarse for everything else.  Those input
 * columns of the output projection are taken out of the int8 product and
 * added in float at run time (forward.c, pe_linear.fcols). */
#include "quant_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FCOLS_MAX = 32, SMOOTH_ROWS = 256 };
#define SMOOTH_GAIN 0.97   /* smoothing must cut the emulated error by 3% to be chosen */
#define WEIGHT_OUTLIER 8.0f    /* a column max this many medians is huge */
#define ROW_GAIN 0.03          /* a float column must cut the mean log row max this much */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median(const float *v, int n) {
    float *c = malloc((size_t)n * sizeof *c);
    if (!c) return 0.0f;
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_float);
    float m = c[n / 2];
    free(c);
    return m;
}

/* colmax[j] = max over the rows of t [N, K] of |t[r][j]| (max-combined). */
static void column_max(const pe_qplan *p, const pe_safetensors *st, int t, float *colmax) {
    const pe_st_tensor *s = &st->tensors[t];
    const int K = (int)s->shape[1], N = (int)s->shape[0];
    for (int r = 0; r < N; r++)
        for (int j = 0; j < K; j++) {
            float v = fabsf(pe_qplan_elem(p, st, t, (uint64_t)r * K + j));
            if (v > colmax[j]) colmax[j] = v;
        }
}

/* Rows standing in for a LayerNorm's output when there are no calibration
 * images: unit normals times the gain plus the bias, per channel
 * (deterministic). */
static float *synthetic_rows(const float *g, const float *b, int K, int R) {
    float *x = malloc((size_t)R * K * sizeof *x);
    uint64_t st = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; x && i < (size_t)R * K; i += 2) {
        double u[2];
        for (int j = 0; j < 2; j++) { /* xorshift64*, 53 bits in (0, 1) */
            st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
            u[j] = ((double)((st * 0x2545f4914f6cdd1dull) >> 11) + 0.5) / 9007199254740992.0;
        }
        const double r = sqrt(-2 * log(u[0])), z[2] = {r * cos(6.283185307179586 * u[1]),
                                                        r * sin(6.283185307179586 * u[1])};
        for (size_t j = 0; j < 2 && i + j < (size_t)R * K; j++) {
            const int k = (int)((i + j) % (size_t)K);
            x[i + j] = (float)z[j] * g[k] + b[k];
        }
    }
    return x;
}

/* s [K] for migration strength alpha, geometric mean 1 (only ratios matter). */
static void scales(const float *amax, const float *wmax, int K, float alpha, float *s) {
    double logsum = 0;
    for (int j = 0; j < K; j++) {
        s[j] = amax[j] > 0 && wmax[j] > 0 ? powf(amax[j], alpha) / powf(wmax[j], 1.0f - alpha) : 1.0f;
        logsum += log(s[j]);
    }
    const float norm = (float)exp(-logsum / K);
    for (int j = 0; j < K; j++) s[j] *= norm;
}

/* One LayerNorm (lnw, lnb) and the linear w (type wt) reading it: of no
 * smoothing and ALPHAS, the one whose emulated output error on the rows
 * (the calibration sample, else synthetic rows) is least; folded in, its
 * scales returned in *s_out [K] (NULL: none chosen). */
static pe_status smooth_group(pe_qplan *p, const pe_safetensors *st, int lnw, int lnb, int w, pe_wtype wt,
                              const pe_calib_site *site, float **s_out) {
    static const float alphas[] = {0.25f, 0.5f, 0.75f};
    const int K = (int)st->tensors[w].shape[1], N = (int)st->tensors[w].shape[0];
    /* read, not yet the plan's: a pair left alone keeps the source's tensors */
    float *g = malloc((size_t)K * sizeof *g), *b = malloc((size_t)K * sizeof *b);
    float *W = malloc((size_t)N * K * sizeof *W);
    float *wmax = calloc((size_t)K, sizeof *wmax), *amax = calloc((size_t)K, sizeof *amax);
    float *s = malloc((size_t)K * sizeof *s), *best = malloc((size_t)K * sizeof *best);
    const int R = site ? PE_MIN(site->n_sample, SMOOTH_ROWS) : SMOOTH_ROWS;
    float *X = NULL;
    pe_status err = PE_OK;
    if (g && b)
        for (int j = 0; j < K; j++) g[j] = pe_qplan_elem(p, st, lnw, j), b[j] = pe_qplan_elem(p, st, lnb, j);
    if (g && b) X = site ? site->sample : synthetic_rows(g, b, K, R);
    if (!g || !b || !W || !wmax || !amax || !s || !best || !X) {
        err = pe_error(PE_ERR_NOMEM, "quantize: out of memory");
        goto out;
    }
    for (size_t i = 0; i < (size_t)N * K; i++) W[i] = pe_qplan_elem(p, st, w, i);
    column_max(p, st, w, wmax);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++) amax[j] = fmaxf(amax[j], fabsf(X[(size_t)r * K + j]));
    double least = pe_quant_emulate(X, R, W, N, K, wt, NULL, NULL, 0, NULL);
    int chosen = 0;
    for (size_t a = 0; a < sizeof alphas / sizeof *alphas; a++) {
        scales(site ? site->absmax : amax, wmax, K, alphas[a], s);
        const double e = pe_quant_emulate(X, R, W, N, K, wt, s, NULL, 0, NULL);
        if (e >= 0 && e < least * (chosen ? 1.0 : SMOOTH_GAIN)) {
            least = e;
            chosen = 1;
            memcpy(best, s, (size_t)K * sizeof *s);
        }
    }
    float *pg = chosen ? pe_qplan_values(p, st, lnw) : NULL, *pb = chosen ? pe_qplan_values(p, st, lnb) : NULL;
    float *pw = chosen ? pe_qplan_values(p, st, w) : NULL;
    if (chosen && (!pg || !pb || !pw)) {
        err = pe_error(PE_ERR_NOMEM, "quantize: out of memory");
    } else if (chosen) {
        for (int j = 0; j < K; j++) pg[j] /= best[j], pb[j] /= best[j];
        for (int r = 0; r < N; r++)
            for (int j = 0; j < K; j++) pw[(size_t)r * K + j] *= best[j];
        *s_out = best;
        best = NULL;
    }
out:
    if (!site) free(X);
    free(g);
    free(b);
    free(W);
    free(wmax);
    free(amax);
    free(s);
    free(best);
    return err;
}

/* Greedy: while dropping one more channel from the rows' maxima cuts the
 * mean log row max of the sample by ROW_GAIN, take the channel that cuts it
 * most (the one that holds the row max most often, by how much). */
static int activation_outliers(const pe_calib_site *site, uint8_t *in, int n_in) {
    const int K = site->k, R = site->n_sample;
    double *gain = malloc((size_t)K * sizeof *gain);
    if (!gain || R == 0) { free(gain); return n_in; }
    while (n_in < FCOLS_MAX) {
        memset(gain, 0, (size_t)K * sizeof *gain);
        for (int r = 0; r < R; r++) {
            const float *x = site->sample + (size_t)r * K;
            float m1 = 0, m2 = 0;
            int arg = -1;
            for (int j = 0; j < K; j++) {
                float v = fabsf(x[j]);
                if (in[j]) continue;
                if (v > m1) { m2 = m1; m1 = v; arg = j; } else if (v > m2) m2 = v;
            }
            if (arg >= 0 && m2 > 0) gain[arg] += log(m1 / m2);
        }
        int best = -1;
        for (int j = 0; j < K; j++)
            if (!in[j] && (best < 0 || gain[j] > gain[best])) best = j;
        if (best < 0 || gain[best] / R < ROW_GAIN) break;
        in[best] = 1;
        n_in++;
    }
    free(gain);
    return n_in;
}

/* The input columns of t [N, K] kept in float: huge weight columns, and
 * with calibration the channels that hold the rows' maxima. */
static pe_status float_columns(pe_qplan *p, const pe_safetensors *st, int t, const pe_calib_site *site) {
    const int N = (int)st->tensors[t].shape[0], K = (int)st->tensors[t].shape[1];
    float *colmax = calloc((size_t)K, sizeof *colmax);
    uint8_t *in = calloc((size_t)K, 1);
    if (!colmax || !in) { free(colmax); free(in); return pe_error(PE_ERR_NOMEM, "quantize: out of memory"); }
    column_max(p, st, t, colmax);
    const float med = median(colmax, K);
    int n = 0;
    for (int j = 0; j < K && n < FCOLS_MAX; j++)
        if (colmax[j] > WEIGHT_OUTLIER * med) in[j] = 1, n++;
    if (site) n = activation_outliers(site, in, n);
    free(colmax);
    if (!n) { free(in); return PE_OK; }
    float *W = pe_qplan_values(p, st, t);
    int32_t *cols = malloc((size_t)n * sizeof *cols);
    float *fw = malloc((size_t)N * (size_t)n * sizeof *fw);
    if (!W || !cols || !fw) {
        free(in); free(cols); free(fw);
        return pe_error(PE_ERR_NOMEM, "quantize: out of memory");
    }
    for (int j = 0, c = 0; j < K; j++)
        if (in[j]) cols[c++] = j;
    for (int r = 0; r < N; r++)
        for (int c = 0; c < n; c++) {
            float *w = &W[(size_t)r * K + cols[c]];
            fw[(size_t)r * n + c] = *w;
            *w = 0.0f; /* the int8 product leaves them out */
        }
    free(in);
    p->t[t].fcols = cols;
    p->t[t].n_fcols = n;
    p->t[t].fcol_w = fw;
    return PE_OK;
}

pe_status pe_quant_smooth(pe_qplan *p, const pe_model *m, const pe_calib *cal, unsigned without,
                          pe_wtype (*wt_of)(void *, int), void *u) {
    const pe_safetensors *st = &m->st;
    pe_status s = PE_OK;
    for (int i = 0; i < p->layers && !s; i++) {
        pe_qblock *b = &p->blk[i];
        const pe_calib_site *at = cal ? pe_calib_at(cal, i, 0) : NULL;
        const int smooth = !(without & PE_QUANT_NO_SMOOTH), fcols = !(without & PE_QUANT_NO_FCOLS);
        if (smooth && b->ln1w >= 0 && b->ln1b >= 0 && b->qkvw >= 0 && pe_wtype_int8(wt_of(u, b->qkvw)))
            s = smooth_group(p, st, b->ln1w, b->ln1b, b->qkvw, wt_of(u, b->qkvw), at ? at + PE_OBS_QKV : NULL,
                             &b->s_qkv);
        if (smooth && !s && b->ln2w >= 0 && b->ln2b >= 0 && b->fcw >= 0 && pe_wtype_int8(wt_of(u, b->fcw)))
            s = smooth_group(p, st, b->ln2w, b->ln2b, b->fcw, wt_of(u, b->fcw), at ? at + PE_OBS_FC : NULL,
                             &b->s_fc);
        if (fcols && !s && b->projw >= 0 && pe_wtype_int8(wt_of(u, b->projw)))
            s = float_columns(p, st, b->projw, at ? at + PE_OBS_PROJ : NULL);
    }
    return s;
}
