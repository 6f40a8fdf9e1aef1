/* NEON (ARMv8.0 AdvSIMD) inline helpers shared by the float32 kernels
 * (kernels_neon.c) and the reduced-precision ones (qgemm_neon.c and the
 * dot-product / i8mm sets): partial loads and stores, exp, erf, GELU and the
 * GEMM epilogue of a register tile.  Mirrors simd_avx512.h; include only
 * from files built for aarch64. */
#ifndef PE_SIMD_NEON_H
#define PE_SIMD_NEON_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <arm_neon.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------- partial */

/* All ones in the first n (0..4) lanes. */
INLINE uint32x4_t lanes4(int n) {
    static const uint32_t iota[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)(n > 0 ? n : 0)));
}

/* The first n (0..4) floats at p, zeros beyond; never reads past p + n. */
INLINE float32x4_t load4_part(const float *p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {0, 0, 0, 0};
    if (n > 0) memcpy(t, p, (size_t)n * sizeof(float));
    return vld1q_f32(t);
}

INLINE void store4_part(float *p, float32x4_t v, int n) {
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    float t[4];
    vst1q_f32(t, v);
    if (n > 0) memcpy(p, t, (size_t)n * sizeof(float));
}

/* ---------------------------------------------------------------- math */

/* exp with ~1 ulp error, the algorithm of exp512: n = round(x log2 e), a
 * polynomial in r = x - n ln 2, times 2^n built in two halves so that
 * n in [-150, 128] (the clamps) neither overflows the exponent field nor
 * flushes gradual underflow.  The clamps keep a NaN input NaN. */
INLINE float32x4_t exp_neon(float32x4_t x) {
    x = vmaxq_f32(vdupq_n_f32(-104.0f), x);
    x = vminq_f32(vdupq_n_f32(89.0f), x);
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, PE_LOG2E));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(PE_LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(PE_LN2_LO));
    float32x4_t p = vdupq_n_f32(PE_EXP_E4);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP_E3), p, r);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP_E2), p, r);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP_E1), p, r);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP_E0), p, r);
    p = vfmaq_f32(r, p, vmulq_f32(r, r));
    p = vaddq_f32(p, vdupq_n_f32(1.0f));
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

/* erf as erf512: odd polynomial up to |x| = 1, 1 - exp(-x^2) B(x) beyond. */
INLINE float32x4_t erf_neon(float32x4_t x) {
    float32x4_t t = vabsq_f32(x);
    float32x4_t s = vmulq_f32(t, t);
    float32x4_t p = vdupq_n_f32(PE_ERF_S7);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S6), p, s);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S5), p, s);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S4), p, s);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S3), p, s);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S2), p, s);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S1), p, s);
    p = vfmaq_f32(vdupq_n_f32(PE_ERF_S0), p, s);
    float32x4_t small = vfmaq_f32(t, t, p);

    float32x4_t tc = vminq_f32(vdupq_n_f32(4.0f), t);
    float32x4_t u = vfmaq_f32(vdupq_n_f32(-5.0f / 3.0f), tc, vdupq_n_f32(2.0f / 3.0f));
    float32x4_t b = vdupq_n_f32(PE_ERF_B12);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B11), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B10), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B9), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B8), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B7), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B6), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B5), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B4), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B3), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B2), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B1), b, u);
    b = vfmaq_f32(vdupq_n_f32(PE_ERF_B0), b, u);
    float32x4_t e = exp_neon(vnegq_f32(vmulq_f32(tc, tc)));
    float32x4_t big = vfmsq_f32(vdupq_n_f32(1.0f), e, b);

    /* t <= 1 is false for NaN: big, which is NaN as well */
    float32x4_t r = vbslq_f32(vcleq_f32(t, vdupq_n_f32(1.0f)), small, big);
    return vbslq_f32(vdupq_n_u32(0x80000000u), x, r);
}

INLINE float32x4_t gelu_neon(float32x4_t x) {
    float32x4_t h = vmulq_n_f32(x, 0.5f);
    return vfmaq_f32(h, h, erf_neon(vmulq_n_f32(x, 0.70710678118654752f)));
}

/* ---------------------------------------------------------------- epilogue */

/* Applies the epilogue to an mr x 16 tile of accumulators spilled once to a
 * stack buffer (row r first scaled by rs[r] when rs is given: the activation
 * scale of the int8 kernels) and stores the valid columns: C is written once,
 * with every step done in registers.  Kept out of the unrolled microkernels
 * (it runs once per tile against K iterations of the inner loop), and the one
 * place a new epilogue step goes. */
static inline void pe_tile_store_neon(const float *tile, int mr, int ncols, const float *rs,
                                      float *C, int ldc, const pe_epilogue *ep, int m, int n) {
    for (int c0 = 0; c0 < ncols; c0 += 4) {
        const int nc = ncols - c0;
        float32x4_t bias = vdupq_n_f32(0.0f), gamma = vdupq_n_f32(1.0f);
        int gelu = 0;
        const float *res = NULL;
        if (ep) {
            if (ep->bias) bias = load4_part(ep->bias + n + c0, nc);
            if (ep->gamma) gamma = load4_part(ep->gamma + n + c0, nc);
            gelu = ep->gelu;
            if (ep->residual) res = ep->residual + (size_t)m * ep->ldr + n + c0;
        }
        for (int r = 0; r < mr; r++) {
            float32x4_t v = vld1q_f32(tile + r * PE_GEMM_NR + c0);
            v = rs ? vfmaq_n_f32(bias, v, rs[r]) : vaddq_f32(v, bias);
            if (gelu) v = gelu_neon(v);
            if (res) v = vfmaq_f32(load4_part(res + (size_t)r * ep->ldr, nc), gamma, v);
            store4_part(C + (size_t)r * ldc + c0, v, nc);
        }
    }
}

#endif
