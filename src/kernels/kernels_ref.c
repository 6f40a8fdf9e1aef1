/* Plain C reference kernels: the specification every ISA-specific set is
 * tested against, and the fallback where no vector set applies.  Written for
 * clarity; the inner loops are simple enough for the baseline compiler to
 * vectorise, which keeps the fallback usable. */
#include "kernels.h"
#include "vecmath_coef.h"
#include "../common.h"

#include <math.h>
#include <string.h>

float pe_gelu_ref(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

_Alignas(64) const float pe_gelu_fast_k[4][16] = PE_GELU_FAST_K;

float pe_gelu_fast_ref(float x) {
    if (isnan(x)) return x;
    float t = fabsf(x);
    if (t > PE_GELU_FAST_T) t = PE_GELU_FAST_T; /* interval 15: all zero, gelu = max(x, 0) */
    const int i = (int)(t * PE_GELU_FAST_INV_W);
    const float (*k)[16] = pe_gelu_fast_k;
    const float p = fmaf(fmaf(fmaf(k[3][i], t, k[2][i]), t, k[1][i]), t, k[0][i]);
    return (x > 0.0f ? x : 0.0f) + p;
}

float pe_silu_ref(float x) {
    return x / (1.0f + expf(-x));
}

size_t pe_gemm_packed_floats(int N, int K) {
    size_t panels = ((size_t)N + PE_GEMM_NR - 1) / PE_GEMM_NR;
    return panels * (size_t)K * PE_GEMM_NR;
}

void pe_gemm_pack(float *dst, const float *W, int N, int K, int ldw) {
    int panels = (N + PE_GEMM_NR - 1) / PE_GEMM_NR;
    for (int p = 0; p < panels; p++) {
        float *panel = dst + (size_t)p * K * PE_GEMM_NR;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < PE_GEMM_NR; j++) {
                int n = p * PE_GEMM_NR + j;
                panel[(size_t)k * PE_GEMM_NR + j] = n < N ? W[(size_t)n * ldw + k] : 0.0f;
            }
    }
}

/* Every kernel set lays its attention scratch out inside this size: a
 * transposed block of up to 32 queries (dh x 32), a 64-key x 32-query tile of
 * scores, 32 rows of output accumulators (32 x dh), 32 rescale factors, and a
 * cache line of slack so the sets can align it. */
size_t pe_attention_scratch_floats(int dh) {
    return (size_t)64 * (size_t)(dh > 0 ? dh : 1) + 64 * 32 + 32 + 16;
}

/* ------------------------------------------------------------------ gemm */

float pe_epilogue_ref(float v, const pe_epilogue *ep, int m, int n) {
    if (!ep) return v;
    if (ep->bias) v += ep->bias[n];
    if (ep->gelu == PE_GELU_EXACT) v = pe_gelu_ref(v);
    if (ep->gelu == PE_GELU_FAST) v = pe_gelu_fast_ref(v);
    if (ep->glu) v = pe_silu_ref(v) * ep->glu[(size_t)m * ep->ldg + n];
    if (ep->residual) {
        float g = ep->gamma ? ep->gamma[n] : 1.0f;
        v = ep->residual[(size_t)m * ep->ldr + n] + g * v;
    }
    return v;
}

void pe_gemm_ref_panels(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                        int m1, int n0, int n1, const pe_epilogue *ep, int half) {
    const float *wf = Wp;
    const uint16_t *wh = Wp;
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        for (int n = n0; n < n1; n += PE_GEMM_NR) {
            const size_t panel = (size_t)(n / PE_GEMM_NR) * K * PE_GEMM_NR;
            /* Each column is summed in k order, like the textbook loop. */
            float acc[PE_GEMM_NR] = { 0 };
            for (int k = 0; k < K; k++) {
                const size_t at = panel + (size_t)k * PE_GEMM_NR;
                float w[PE_GEMM_NR];
                for (int j = 0; j < PE_GEMM_NR; j++)
                    w[j] = half == 0 ? wf[at + j] : half == 2 ? pe_bf16_to_f32(wh[at + j]) : pe_f16_to_f32(wh[at + j]);
                for (int j = 0; j < PE_GEMM_NR; j++) acc[j] += a[k] * w[j];
            }
            int nj = PE_MIN(PE_GEMM_NR, n1 - n);
            for (int j = 0; j < nj; j++)
                C[(size_t)m * ldc + n + j] = pe_epilogue_ref(acc[j], ep, m, n + j);
        }
    }
}

static void gemm_ref(const float *A, int lda, const float *Wp, int N, int K,
                     float *C, int ldc, int m0, int m1, int n0, int n1,
                     const pe_epilogue *ep) {
    (void)N;
    pe_gemm_ref_panels(A, lda, Wp, K, C, ldc, m0, m1, n0, n1, ep, 0);
}

/* ------------------------------------------------------------- attention */

/* Per query: one pass for the maximum score, a second for the weights and
 * the weighted sum of values (scores are recomputed instead of stored, so
 * only dh floats of scratch are used).  A query with no visible key (possible
 * only with a negative causal offset) gets zeros. */
static void attention_ref(const float *q, int ldq, const float *k, int ldk,
                          const float *v, int ldv, float *o, int ldo, int Tq, int Tk,
                          int dh, float scale, int causal, int causal_offset,
                          float *scratch) {
    float *acc = scratch; /* [dh] */
    for (int i = 0; i < Tq; i++) {
        const float *qi = q + (size_t)i * ldq;
        float *oi = o + (size_t)i * ldo;
        long kend = Tk;
        if (causal) kend = PE_MIN((long)Tk, (long)i + causal_offset + 1);
        if (kend <= 0) {
            memset(oi, 0, (size_t)dh * sizeof(float));
            continue;
        }
        float mx = -INFINITY;
        for (long j = 0; j < kend; j++) {
            const float *kj = k + (size_t)j * ldk;
            float s = 0.0f;
            for (int d = 0; d < dh; d++) s += qi[d] * kj[d];
            mx = fmaxf(mx, s * scale);
        }
        float l = 0.0f;
        memset(acc, 0, (size_t)dh * sizeof(float));
        for (long j = 0; j < kend; j++) {
            const float *kj = k + (size_t)j * ldk;
            const float *vj = v + (size_t)j * ldv;
            float s = 0.0f;
            for (int d = 0; d < dh; d++) s += qi[d] * kj[d];
            float p = expf(s * scale - mx);
            l += p;
            for (int d = 0; d < dh; d++) acc[d] += p * vj[d];
        }
        for (int d = 0; d < dh; d++) oi[d] = acc[d] / l;
    }
}

static float softmax_ref(float *x, int n, float scale) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = fmaxf(mx, x[i]);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += x[i] = expf(scale * (x[i] - mx));
    return sum;
}

/* ------------------------------------------------------------- layernorm */

/* Statistics in double: the reference should be closer to the exact value
 * than any vector set it judges. */
static void layernorm_ref(const float *x, int ldx, float *y, int ldy, int rows, int n,
                          const float *w, const float *b, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *yr = y + (size_t)r * ldy;
        double sum = 0.0;
        for (int i = 0; i < n; i++) sum += xr[i];
        double mean = sum / n;
        double var = 0.0;
        for (int i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= n;
        float meanf = (float)mean;
        float rstd = (float)(1.0 / sqrt(var + eps));
        for (int i = 0; i < n; i++) yr[i] = (xr[i] - meanf) * rstd * w[i] + b[i];
    }
}

/* ------------------------------------------------------------------ rope */

static void rope_ref(float *x, int ldx, int T, int n, const float *cs) {
    int h = n / 2;
    for (int t = 0; t < T; t++) {
        const float *c = cs + (size_t)t * n;
        pe_rope_pairs_ref(x + (size_t)t * ldx, c, c + h, 0, h);
    }
}

/* ----------------------------------------------------------- conversions */

static void f16_to_f32_ref(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = pe_f16_to_f32(src[i]);
}

static void bf16_to_f32_ref(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = pe_bf16_to_f32(src[i]);
}

const pe_kernels pe_kernels_scalar = {
    .name = "scalar",
    .gemm = gemm_ref,
    .attention = attention_ref,
    .softmax = softmax_ref,
    .layernorm = layernorm_ref,
    .rope = rope_ref,
    .f16_to_f32 = f16_to_f32_ref,
    .bf16_to_f32 = bf16_to_f32_ref,
};
