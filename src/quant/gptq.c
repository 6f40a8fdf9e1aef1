/* Error-compensated rounding (GPTQ): the columns of a weight are rounded
 * one at a time, and the error each leaves is spread over the columns not
 * yet rounded, weighted by the inverse of the inputs' second moments
 * H = sum x x^T (calibration), so that the product with the inputs the
 * linear really sees changes least.  The result is written straight in the
 * packed layouts of kernels/quant.h with the scales it used (re-packing
 * rounded values would pick other scales).
 *
 * The inputs are the ones the int8 product sees: divided by the smoothing
 * scales (H becomes S^-1 H S^-1), without the float columns (rounded to 0
 * with no error to spread). */
#include "quant_internal.h"

/* The row updates below are long independent multiply-subtracts: GCC 12
 * vectorizes them only when asked (clang does at -O2). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAMP 0.01 /* of the mean diagonal, added to it */

static void reverse(double *a, size_t n) {
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
        const double t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* In place: A [K, K] symmetric positive definite -> U upper triangular with
 * A^-1 = U^T U (GPTQ's factor).  With P the reversal, P A P = R^T R (R upper)
 * gives A = V V^T for V = P R^T P, so U = V^-1 = P R^-T P: one Cholesky and
 * one triangular inverse.  Both run as row updates (y -= a x along a row),
 * which vectorize without reordering any sum.  0 on success. */
static int inverse_cholesky_upper(double *A, int K) {
    const size_t n = (size_t)K * K;
    reverse(A, n); /* P A P */
    for (int j = 0; j < K; j++) { /* R in the upper triangle, right-looking */
        double *rj = A + (size_t)j * K;
        if (!(rj[j] > 0)) return -1;
        const double d = sqrt(rj[j]), inv = 1.0 / d;
        rj[j] = d;
        for (int k = j + 1; k < K; k++) rj[k] *= inv;
        for (int i = j + 1; i < K; i++) {
            double *ri = A + (size_t)i * K;
            const double a = rj[i];
            for (int k = i; k < K; k++) ri[k] -= a * rj[k];
        }
    }
    double *X = calloc(n, sizeof *X); /* R^-1, upper, by back substitution */
    if (!X) return -1;
    for (int i = K - 1; i >= 0; i--) {
        const double *ri = A + (size_t)i * K;
        double *xi = X + (size_t)i * K;
        xi[i] = 1.0;
        for (int k = i + 1; k < K; k++) {
            const double a = ri[k], *xk = X + (size_t)k * K;
            for (int c = k; c < K; c++) xi[c] -= a * xk[c];
        }
        const double inv = 1.0 / ri[i];
        for (int c = i; c < K; c++) xi[c] *= inv;
    }
    /* U = P X^T P: U[i][j] = X[K-1-j][K-1-i] */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) A[(size_t)i * K + j] = X[(size_t)(K - 1 - j) * K + (K - 1 - i)];
    free(X);
    return 0;
}

/* Byte of (k, column j) in a q8 panel's tiles (quant.h). */
static size_t q8_at(int k, int j) {
    return PE_Q8_HEAD + (size_t)(k / PE_QK) * sizeof(pe_tile_q8) + (size_t)((k % PE_QK) / 4) * 64 +
           (size_t)j * 4 + (size_t)(k % 4);
}

static void q4_put(uint8_t *panel, int k, int j, int code) {
    pe_tile_q4 *t = (pe_tile_q4 *)(void *)(panel + (size_t)(k / PE_QK) * sizeof(pe_tile_q4));
    const int i = k % PE_QK, lo = i < 16, g = (i % 16) / 4;
    uint8_t *b = &t->q[g * 64 + j * 4 + i % 4];
    *b = lo ? (uint8_t)((*b & 0xf0) | code) : (uint8_t)((*b & 0x0f) | code << 4);
}

pe_status pe_quant_gptq(pe_qplan *p, const pe_safetensors *st, int t, pe_wtype wt,
                        const pe_calib_site *site) {
    const int N = (int)st->tensors[t].shape[0], K = (int)st->tensors[t].shape[1];
    const float *s = NULL;
    for (int i = 0; i < p->layers; i++) { /* the smoothing this linear's inputs had */
        if (p->blk[i].qkvw == t) s = p->blk[i].s_qkv;
        if (p->blk[i].fcw == t) s = p->blk[i].s_fc;
    }
    const size_t bytes = pe_qpack_bytes(wt, N, K), pb = pe_qpack_panel_bytes(wt, K);
    double *U = malloc((size_t)K * K * sizeof *U);
    float *W = malloc((size_t)N * K * sizeof *W), *d = malloc((size_t)N * sizeof *d);
    uint8_t *out = calloc(bytes, 1), *fc = calloc((size_t)K, 1);
    pe_status err = PE_OK;
    if (!U || !W || !d || !out || !fc) {
        err = pe_error(PE_ERR_NOMEM, "quantize: out of memory");
        goto done;
    }
    for (int c = 0; c < p->t[t].n_fcols; c++) fc[p->t[t].fcols[c]] = 1;
    for (size_t i = 0; i < (size_t)N * K; i++) W[i] = pe_qplan_elem(p, st, t, i);
    double mean = 0;
    for (int i = 0; i < K; i++) mean += site->H[(size_t)i * K + i] / ((s ? s[i] * s[i] : 1.0) * K);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double h = fc[i] || fc[j] ? 0 : site->H[(size_t)i * K + j] / (s ? (double)s[i] * s[j] : 1.0);
            U[(size_t)i * K + j] = h + (i == j ? DAMP * mean + (mean > 0 ? 0 : 1) : 0);
        }
    if (inverse_cholesky_upper(U, K)) goto done; /* not positive definite: plain rounding */
    if (wt == PE_WT_Q8) { /* the scales of plain rounding, codes 128 (0) where no column */
        for (int r = 0; r < N; r++) {
            float amax = 0;
            for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(W[(size_t)r * K + k]));
            d[r] = amax / 127.0f;
        }
        for (int p0 = 0; p0 < N; p0 += PE_GEMM_NR) {
            uint8_t *panel = out + (size_t)(p0 / PE_GEMM_NR) * pb;
            memset(panel + PE_Q8_HEAD, 128, pb - PE_Q8_HEAD);
            memcpy(panel, d + p0, (size_t)PE_MIN(PE_GEMM_NR, N - p0) * sizeof(float));
        }
    } else {
        for (int p0 = 0; p0 < N; p0 += PE_GEMM_NR) /* code 8 is 0 */
            for (int k = 0; k < (K + PE_QK - 1) / PE_QK * PE_QK; k++)
                for (int j = 0; j < PE_GEMM_NR; j++) q4_put(out + (size_t)(p0 / PE_GEMM_NR) * pb, k, j, 8);
    }
    float *u = malloc((size_t)K * sizeof *u); /* row k of U, as float */
    if (!u) { err = pe_error(PE_ERR_NOMEM, "quantize: out of memory"); goto done; }
    for (int k = 0; k < K; k++) {
        for (int i = k; i < K; i++) u[i] = (float)U[(size_t)k * K + i];
        for (int r = 0; r < N; r++) {
            float *w = W + (size_t)r * K;
            uint8_t *panel = out + (size_t)(r / PE_GEMM_NR) * pb;
            const int j = r % PE_GEMM_NR;
            if (wt == PE_WT_Q4 && k % PE_QK == 0) { /* the block's scale from its current values */
                float x[PE_QK];
                for (int i = 0; i < PE_QK; i++) x[i] = k + i < K ? w[k + i] : 0.0f;
                pe_block_q4 b;
                pe_quantize_q4_ref(x, &b);
                ((pe_tile_q4 *)(void *)(panel + (size_t)(k / PE_QK) * sizeof(pe_tile_q4)))->d[j] = b.d;
                d[r] = pe_f16_to_f32(b.d);
            }
            float deq = 0;
            if (!fc[k]) {
                const float inv = d[r] != 0 ? 1.0f / d[r] : 0.0f;
                if (wt == PE_WT_Q8) {
                    float q = roundf(w[k] * inv);
                    q = q > 127 ? 127 : q < -127 ? -127 : q;
                    panel[q8_at(k, j)] = (uint8_t)((int)q + 128);
                    deq = d[r] * q;
                } else {
                    float q = roundf(w[k] * inv) + 8;
                    q = q > 15 ? 15 : q < 0 ? 0 : q;
                    q4_put(panel, k, j, (int)q);
                    deq = d[r] * (q - 8);
                }
            }
            const float e = (w[k] - deq) / u[k];
            for (int i = k + 1; i < K; i++) w[i] -= e * u[i];
        }
    }
    free(u);
    p->t[t].packed = out;
    out = NULL;
done:
    free(U);
    free(W);
    free(d);
    free(out);
    free(fc);
    return err;
}
