/* NEON (ARMv8.0 AdvSIMD) inline helpers shared by the float32 kernels
 * (kernels_neon.c) and the reduced-precision ones (qgemm_neon.c and the
 * dot-product / i8mm sets): the SIMD vocabulary of simd_avx2.h at 4 lanes,
 * exp, erf and GELU four vectors at a time (the _x4 forms) and the GEMM
 * epilogue of a register tile.  Include only from files built for
 * aarch64. */
#ifndef PE_SIMD_NEON_H
#define PE_SIMD_NEON_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <arm_neon.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------- vocabulary */

/* The names of simd_avx2.h (see there) at 4 lanes.  NEON has no masked
 * loads: its partial loads and stores take a lane count (vf_load_n), which
 * the x86 headers spell the same way. */
typedef float32x4_t vf32;
typedef uint32x4_t vmask;
#define VF_LANES 4

INLINE vf32 vf_zero(void) { return vdupq_n_f32(0.0f); }
INLINE vf32 vf_set1(float x) { return vdupq_n_f32(x); }
INLINE vf32 vf_load(const float *p) { return vld1q_f32(p); }
INLINE void vf_store(float *p, vf32 v) { vst1q_f32(p, v); }
INLINE vf32 vf_add(vf32 a, vf32 b) { return vaddq_f32(a, b); }
INLINE vf32 vf_sub(vf32 a, vf32 b) { return vsubq_f32(a, b); }
INLINE vf32 vf_mul(vf32 a, vf32 b) { return vmulq_f32(a, b); }
INLINE vf32 vf_max(vf32 a, vf32 b) { return vmaxq_f32(a, b); }
/* a b + c and c - a b, rounded once */
INLINE vf32 vf_fmadd(vf32 a, vf32 b, vf32 c) { return vfmaq_f32(c, a, b); }
INLINE vf32 vf_fnmadd(vf32 a, vf32 b, vf32 c) { return vfmsq_f32(c, a, b); }
INLINE float vf_reduce_add(vf32 v) { return vaddvq_f32(v); }
INLINE float vf_reduce_max(vf32 v) { return vmaxvq_f32(v); }

/* All ones in the first n (0..4) lanes. */
INLINE vmask vm_lanes(int n) {
    static const uint32_t iota[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)(n > 0 ? n : 0)));
}
INLINE vf32 vf_select(vmask m, vf32 a, vf32 b) { return vbslq_f32(m, a, b); }

/* The first n (0..4) floats at p, zeros beyond; never reads past p + n. */
INLINE vf32 vf_load_n(const float *p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {0, 0, 0, 0};
    if (n > 0) memcpy(t, p, (size_t)n * sizeof(float));
    return vld1q_f32(t);
}

INLINE void vf_store_n(float *p, vf32 v, int n) {
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    float t[4];
    vst1q_f32(t, v);
    if (n > 0) memcpy(p, t, (size_t)n * sizeof(float));
}

#include "simd_common.h"

/* ---------------------------------------------------------------- math */

/* exp with ~1 ulp error, the algorithm of the x86 vf_exp: n = round(x log2 e), a
 * polynomial in r = x - n ln 2, times 2^n built in two halves so that
 * n in [-150, 128] (the clamps) neither overflows the exponent field nor
 * flushes gradual underflow.  The clamps keep a NaN input NaN. */
INLINE vf32 vf_exp(vf32 x) {
    x = vminq_f32(vdupq_n_f32(89.0f), vmaxq_f32(vdupq_n_f32(-104.0f), x));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, PE_LOG2E));
    const float32x4_t p = vf_exp_core(x, n);
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

/* The coefficients of vf_erf_x4: [c][i], u^c of interval i (in kernels_neon.c). */
extern const float pe_neon_erf_k[6][16];

/* erf of 4 vectors, in place: erf(t) = P_i(4t - i) for t = |x| in
 * [i/4, (i+1)/4), one quintic per interval (scripts/fit_vecmath.py: 5.9e-8
 * from erf at most, measured on this evaluation), t clamped just under 4
 * (where erf rounds to 1).  Each coefficient is a byte lookup (TBL, 4
 * registers) into its 16 entries, with byte indices 4i .. 4i + 3, as in
 * vf_gelu_fast_x4: 6 lookups and 5 FMLAs a vector, where the odd
 * polynomial, the 1 - exp(-x^2) B(x) tail and the blend of both took ~80
 * instructions.  Interval 0 has no constant term, so a tiny x keeps its
 * relative precision; FMIN keeps a NaN NaN (FCVTZU makes it interval 0). */
INLINE void vf_erf_x4(float32x4_t x[4]) {
    const uint8_t *k = (const uint8_t *)(const void *)pe_neon_erf_k;
    float32x4_t u[4], p[4];
    uint8x16_t b[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const float32x4_t s = vmulq_n_f32(vminq_f32(vabsq_f32(x[j]), vdupq_n_f32(3.99999976f)), 4.0f);
        const float32x4_t f = vrndmq_f32(s);
        u[j] = vsubq_f32(s, f);
        b[j] = vreinterpretq_u8_u32(vmlaq_n_u32(vdupq_n_u32(0x03020100u), vcvtq_u32_f32(f), 0x04040404u));
    }
    const uint8x16x4_t k5 = vld1q_u8_x4(k + 5 * 64);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) p[j] = vreinterpretq_f32_u8(vqtbl4q_u8(k5, b[j]));
#pragma GCC unroll 5
    for (int c = 4; c >= 0; c--) {
        const uint8x16x4_t kc = vld1q_u8_x4(k + c * 64);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) p[j] = vfmaq_f32(vreinterpretq_f32_u8(vqtbl4q_u8(kc, b[j])), p[j], u[j]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) x[j] = vbslq_f32(vdupq_n_u32(0x80000000u), x[j], p[j]);
}

/* gelu of 4 vectors, in place. */
INLINE void vf_gelu_x4(float32x4_t v[4]) {
    float32x4_t e[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) e[j] = vmulq_n_f32(v[j], 0.70710678118654752f);
    vf_erf_x4(e);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const float32x4_t h = vmulq_n_f32(v[j], 0.5f);
        v[j] = vfmaq_f32(h, h, e[j]);
    }
}

/* pe_gelu_fast_ref of 4 vectors, in place: each coefficient of the
 * interval is a byte lookup (TBL, 4 registers) into its 16 entries of
 * pe_gelu_fast_k, with byte indices 4i .. 4i + 3 for interval i.  FCVTZU
 * turns a NaN into 0 (interval 0) and FMIN keeps it NaN. */
INLINE void vf_gelu_fast_x4(float32x4_t v[4]) {
    const uint8_t *k = (const uint8_t *)(const void *)pe_gelu_fast_k;
    float32x4_t t[4], p[4];
    uint8x16_t b[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        t[j] = vminq_f32(vdupq_n_f32(PE_GELU_FAST_T), vabsq_f32(v[j]));
        const uint32x4_t i = vcvtq_u32_f32(vmulq_n_f32(t[j], PE_GELU_FAST_INV_W));
        b[j] = vreinterpretq_u8_u32(vmlaq_n_u32(vdupq_n_u32(0x03020100u), i, 0x04040404u));
    }
    const uint8x16x4_t k3 = vld1q_u8_x4(k + 3 * 64);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) p[j] = vreinterpretq_f32_u8(vqtbl4q_u8(k3, b[j]));
#pragma GCC unroll 3
    for (int c = 2; c >= 0; c--) {
        const uint8x16x4_t kc = vld1q_u8_x4(k + c * 64);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) p[j] = vfmaq_f32(vreinterpretq_f32_u8(vqtbl4q_u8(kc, b[j])), p[j], t[j]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) v[j] = vaddq_f32(vmaxq_f32(v[j], vdupq_n_f32(0.0f)), p[j]);
}

/* silu(x) = x / (1 + e^-x), as the x86 vf_silu (SwiGLU's gate). */
INLINE vf32 vf_silu(vf32 x) {
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), vf_exp(vnegq_f32(x))));
}

/* ---------------------------------------------------------------- epilogue */

/* Sets the mr x nc accumulator vectors of a register tile to v. */
#define PE_TILE_SET(acc, mr, nc, v)                                         \
    _Pragma("GCC unroll 5") for (int r_ = 0; r_ < (mr); r_++)               \
        _Pragma("GCC unroll 8") for (int c_ = 0; c_ < (nc); c_++) (acc)[r_][c_] = (v)

/* Spills the mr x 4 accumulator vectors of a register tile to tile[r][16]
 * (a macro: the accumulators must stay an array of registers). */
#define PE_TILE_SPILL(tile, acc, mr)                                        \
    _Pragma("GCC unroll 5") for (int r_ = 0; r_ < (mr); r_++)               \
        _Pragma("GCC unroll 4") for (int c_ = 0; c_ < 4; c_++)              \
            vst1q_f32((tile) + r_ * PE_GEMM_NR + c_ * 4, (acc)[r_][c_])

/* Applies the epilogue to an mr x 16 tile of accumulators spilled once to a
 * stack buffer (row r first scaled by rs[r] when rs is given: the activation
 * scale of the int8 kernels) and stores the valid columns: C is written once,
 * with every step done in registers.  Kept out of the unrolled microkernels
 * (it runs once per tile against K iterations of the inner loop), and the one
 * place a new epilogue step goes.  A row's 4 vectors go through the GELU
 * together (every tile kernel writes all 16 columns of its rows). */
static inline void pe_tile_store(const float *tile, int mr, int ncols, const float *rs,
                                      float *C, int ldc, const pe_epilogue *ep, int m, int n) {
    const int nv = (ncols + 3) / 4;
    float32x4_t bias[4], gamma[4];
    int gelu = 0;
    const float *res = NULL, *glu = NULL;
    for (int c = 0; c < 4; c++) bias[c] = vdupq_n_f32(0.0f), gamma[c] = vdupq_n_f32(1.0f);
    if (ep) {
        for (int c = 0; c < nv; c++) {
            if (ep->bias) bias[c] = vf_load_n(ep->bias + n + 4 * c, ncols - 4 * c);
            if (ep->gamma) gamma[c] = vf_load_n(ep->gamma + n + 4 * c, ncols - 4 * c);
        }
        gelu = ep->gelu;
        if (ep->residual) res = ep->residual + (size_t)m * ep->ldr + n;
        if (ep->glu) glu = ep->glu + (size_t)m * ep->ldg + n;
    }
    for (int r = 0; r < mr; r++) {
        float32x4_t v[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            v[c] = vld1q_f32(tile + r * PE_GEMM_NR + 4 * c);
            v[c] = rs ? vfmaq_n_f32(bias[c], v[c], rs[r]) : vaddq_f32(v[c], bias[c]);
        }
        if (gelu == PE_GELU_EXACT) vf_gelu_x4(v);
        if (gelu == PE_GELU_FAST) vf_gelu_fast_x4(v);
        if (ncols == PE_GEMM_NR && !glu) { /* the common case, unrolled: v stays in registers */
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                if (res) v[c] = vfmaq_f32(vld1q_f32(res + (size_t)r * ep->ldr + 4 * c), gamma[c], v[c]);
                vst1q_f32(C + (size_t)r * ldc + 4 * c, v[c]);
            }
            continue;
        }
        for (int c = 0; c < nv; c++) {
            const int nc = ncols - 4 * c;
            if (glu) v[c] = vmulq_f32(vf_silu(v[c]), vf_load_n(glu + (size_t)r * ep->ldg + 4 * c, nc));
            if (res) v[c] = vfmaq_f32(vf_load_n(res + (size_t)r * ep->ldr + 4 * c, nc), gamma[c], v[c]);
            vf_store_n(C + (size_t)r * ldc + 4 * c, v[c], nc);
        }
    }
}

#endif
