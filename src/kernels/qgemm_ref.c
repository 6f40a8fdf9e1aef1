/* Scalar reference for the reduced-precision GEMMs: the specification the
 * vector sets are tested against, and the fallback.  Integer sums are exact,
 * so a vector set must match these to float rounding of the scale products. */
#include "quant.h"
#include "../common.h"

#include <math.h>
#include <string.h>

static void gemm_half(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0,
                      int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    pe_gemm_ref_panels(A, lda, Wv, K, C, ldc, m0, m1, n0, n1, ep, t == PE_WT_BF16 ? 2 : 1);
}

/* s = max|a| / 127 (a row of zeros gets s = 0 and q = 0); q = round(a / s). */
static void quantize_rows_ref(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa) {
    const int nb = qa->ldq / PE_QK;
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        int8_t *q = qa->q + (size_t)m * qa->ldq;
        float amax = 0.0f;
        int finite = 1;
        for (int k = 0; k < K; k++) {
            amax = fmaxf(amax, fabsf(a[k]));
            finite &= isfinite(a[k]) != 0;
        }
        if (!finite) {
            pe_qact_row_nan(qa, m);
            continue;
        }
        float s = amax / 127.0f, is = amax > 0.0f ? 127.0f / amax : 0.0f;
        qa->s[m] = s;
        for (int k = 0; k < K; k++) q[k] = (int8_t)lrintf(a[k] * is);
        memset(q + K, 0, (size_t)(qa->ldq - K));
        int32_t total = 0;
        for (int b = 0; b < nb; b++) {
            int32_t sum = 0;
            for (int i = 0; i < PE_QK; i++) sum += q[b * PE_QK + i];
            if (qa->bsum) qa->bsum[(size_t)m * nb + b] = sum;
            total += sum;
        }
        qa->rsum[m] = total;
    }
}

/* q8: per output column an exact integer dot product of the stored codes
 * (q + 128) with the activation codes over the whole row, minus 128 * (row
 * sum of the codes), times the column scale and the row scale. */
static void gemm_q8_ref(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep) {
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, K);
    for (int m = m0; m < m1; m++) {
        const int8_t *q = qa->q + (size_t)m * qa->ldq;
        const int32_t rsum = qa->rsum[m];
        for (int n = n0; n < n1; n += PE_GEMM_NR) {
            const uint8_t *panel = (const uint8_t *)Wp + (size_t)(n / PE_GEMM_NR) * pb;
            float d[PE_GEMM_NR];
            memcpy(d, panel, sizeof d);
            int nj = PE_MIN(PE_GEMM_NR, n1 - n);
            for (int j = 0; j < nj; j++) {
                int32_t dot = -128 * rsum;
                for (int k = 0; k < qa->ldq; k++)
                    dot += panel[PE_Q8_HEAD + (size_t)(k / PE_QK) * sizeof(pe_tile_q8) +
                                 (size_t)((k % PE_QK) / 4) * 64 + (size_t)j * 4 + (size_t)(k % 4)] *
                           q[k];
                C[(size_t)m * ldc + n + j] = pe_epilogue_ref((float)dot * d[j] * qa->s[m], ep, m, n + j);
            }
        }
    }
}

/* q4: per tile an exact integer dot product of the 4-bit codes with the
 * activation codes, minus 8 * (slice sum), times the block scale; the row
 * scale is applied once at the end. */
static void gemm_q4_ref(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep) {
    const int nb = qa->ldq / PE_QK;
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q4, K);
    for (int m = m0; m < m1; m++) {
        const int8_t *q = qa->q + (size_t)m * qa->ldq;
        for (int n = n0; n < n1; n += PE_GEMM_NR) {
            const uint8_t *panel = (const uint8_t *)Wp + (size_t)(n / PE_GEMM_NR) * pb;
            float acc[PE_GEMM_NR] = {0};
            for (int b = 0; b < nb; b++) {
                const uint8_t *tile = panel + (size_t)b * sizeof(pe_tile_q4);
                const uint16_t *d = (const uint16_t *)(const void *)tile;
                const uint8_t *w = tile + 2 * PE_GEMM_NR;
                const int8_t *qb = q + b * PE_QK;
                for (int j = 0; j < PE_GEMM_NR; j++) {
                    int32_t dot = 0;
                    for (int i = 0; i < PE_QK; i++) {
                        int byte = w[((i % 16) / 4) * 64 + j * 4 + i % 4];
                        dot += (i < 16 ? byte & 15 : byte >> 4) * qb[i];
                    }
                    dot -= 8 * qa->bsum[(size_t)m * nb + b];
                    acc[j] += pe_f16_to_f32(d[j]) * (float)dot;
                }
            }
            int nj = PE_MIN(PE_GEMM_NR, n1 - n);
            for (int j = 0; j < nj; j++)
                C[(size_t)m * ldc + n + j] = pe_epilogue_ref(acc[j] * qa->s[m], ep, m, n + j);
        }
    }
}

static void gemm_q_ref(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                       int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    (t == PE_WT_Q4 ? gemm_q4_ref : gemm_q8_ref)(qa, Wp, K, C, ldc, m0, m1, n0, n1, ep);
}

static void softmax_q8_ref(float *x, int n, float scale, const pe_qact *qa, int m) {
    float mx = x[0];
    if (!pe_softmax_q8_max(x, 0, n, &mx, 1, qa, m)) return;
    int8_t *q = qa->q + (size_t)m * qa->ldq;
    int32_t sum = 0;
    for (int i = 0; i < n; i++) sum += q[i] = (int8_t)lrintf(127.0f * expf(scale * (x[i] - mx)));
    memset(q + n, 0, (size_t)(qa->ldq - n));
    qa->rsum[m] = sum;
    qa->s[m] = 1.0f / (float)sum;
}

void pe_pack_q8_t_ref(void *dst, const float *W, int ldw, int T, int n) {
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, T);
    const int nb = (T + PE_QK - 1) / PE_QK;
    for (int c0 = 0; c0 < n; c0 += PE_GEMM_NR) {
        uint8_t *o = (uint8_t *)dst + (size_t)(c0 / PE_GEMM_NR) * pb;
        float d[PE_GEMM_NR] = {0};
        memset(o + PE_Q8_HEAD, 128, (size_t)nb * sizeof(pe_tile_q8));
        for (int j = 0; j < PE_GEMM_NR && c0 + j < n; j++) {
            float amax = 0.0f;
            int nan = 0;
            for (int t = 0; t < T; t++) {
                amax = fmaxf(amax, fabsf(W[(size_t)t * ldw + c0 + j]));
                nan |= isnan(W[(size_t)t * ldw + c0 + j]) != 0;
            }
            float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
            /* a NaN or an infinity makes the column's scale NaN (NaN, or inf
             * times the 0 codes of inv = 0): its outputs are NaN as in float */
            d[j] = nan ? NAN : amax / 127.0f;
            for (int t = 0; t < T; t++) {
                float v = rintf(W[(size_t)t * ldw + c0 + j] * inv);
                v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : -127.0f;
                o[PE_Q8_HEAD + (size_t)(t / PE_QK) * sizeof(pe_tile_q8) + (size_t)((t % PE_QK) / 4) * 64 +
                  (size_t)j * 4 + (size_t)(t % 4)] = (uint8_t)((int)v + 128);
            }
        }
        memcpy(o, d, sizeof d);
    }
}

const pe_qkernels pe_qkernels_scalar = {
    .name = "scalar",
    .gemm_half = gemm_half,
    .quantize_rows = quantize_rows_ref,
    .gemm_q = gemm_q_ref,
    .softmax_q8 = softmax_q8_ref,
    .pack_q8_t = pe_pack_q8_t_ref,
};
