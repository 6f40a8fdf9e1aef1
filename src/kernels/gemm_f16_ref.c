/* The scalar reference of the fp16 compute GEMM (f16.h): half-precision
 * multiply-adds emulated exactly in double, then the float32 epilogue of
 * the other references. */
#include "f16.h"

#include "../common.h"
#include "vecmath_coef.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

float pe_f16_round_ref(double x) {
    if (x == 0.0 || !isfinite(x)) return (float)x;
    int e;
    frexp(x, &e); /* |x| in [2^(e-1), 2^e): 11 significant bits, or the subnormal step 2^-24 */
    const int step = e - 11 > -24 ? e - 11 : -24;
    const double r = ldexp(nearbyint(ldexp(x, -step)), step); /* default mode: ties to even */
    return fabs(r) > 65504.0 ? (float)copysign(INFINITY, r) : (float)r;
}

/* max |a| of a row within PE_F16_AMAX (a NaN compares false: not within). */
static int row_fits(const float *a, int K) {
    for (int k = 0; k < K; k++)
        if (!(fabsf(a[k]) <= PE_F16_AMAX)) return 0;
    return 1;
}

/* One output: slices of half multiply-adds (a * w is exact in double, 22
 * bits, and so is its sum with a half within the exponent range that can
 * round differently), the first widened as the float total, each next one
 * added to it. */
static float dot_f16(const float *a16, const uint16_t *w, int K) {
    float total = 0.0f; /* K = 0 */
    for (int k0 = 0; k0 < K; k0 += PE_F16_SLICE) {
        const int k1 = k0 + PE_F16_SLICE < K ? k0 + PE_F16_SLICE : K;
        float h = -0.0f; /* -0 + p = p: the first step is the product (FMUL) */
        for (int k = k0; k < k1; k++)
            h = pe_f16_round_ref((double)a16[k] * pe_f16_to_f32(w[(size_t)k * PE_GEMM_NR]) + h);
        total = k0 ? total + h : h;
    }
    return total;
}

void pe_gemm_f16_ref(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                     int m1, int n0, int n1, const pe_epilogue *ep) {
    float a16[PE_F16_KMAX];
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        if (K > PE_F16_KMAX || !row_fits(a, K)) {
            pe_gemm_ref_panels(A, lda, Wp, K, C, ldc, m, m + 1, n0, n1, ep, 1);
            continue;
        }
        for (int k = 0; k < K; k++) a16[k] = pe_f16_to_f32(pe_f32_to_f16(a[k]));
        for (int n = n0; n < n1; n++) {
            const uint16_t *w = (const uint16_t *)Wp + (size_t)(n / PE_GEMM_NR) * K * PE_GEMM_NR +
                                n % PE_GEMM_NR;
            C[(size_t)m * ldc + n] = pe_epilogue_ref(dot_f16(a16, w, K), ep, m, n);
        }
    }
}

/* e(t) before rounding to half (f16.h); fmaf and separate statements: each
 * step rounds once to float32, as the vector lanes do. */
static float softmax_exp(float t) {
    if (t != t) return t;
    t = t > PE_F16_EXP_MIN ? t : PE_F16_EXP_MIN;
    const float tl = t * PE_LOG2E;
    const float n = nearbyintf(tl);
    const float r = fmaf(-n, PE_LN2_F, t);
    const float r2 = r * r, a = r + 1.0f;
    float b = fmaf(r, 1.0f / 6, 1.0f / 2);
    const float c = fmaf(r, 1.0f / 120, 1.0f / 24);
    b = fmaf(r2, c, b);
    const float q = fmaf(r2, b, a);
    union { uint32_t u; float f; } s = {(uint32_t)((int32_t)n + 127) << 23};
    return q * s.f;
}

float pe_softmax_f16_exp_ref(float t) { return pe_f16_to_f32(pe_f32_to_f16(softmax_exp(t))); }

float pe_softmax_f16_ref(const float *x, int n, float scale, uint16_t *p) {
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    const float ms = -(m * scale);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        const float e = softmax_exp(fmaf(x[i], scale, ms));
        p[i] = pe_f32_to_f16(e);
        sum += e;
    }
    return sum;
}
