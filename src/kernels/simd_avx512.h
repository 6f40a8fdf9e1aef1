/* AVX-512 inline helpers shared by the float32 kernels (kernels_avx512.c)
 * and the reduced-precision ones (qgemm_vnni.c): lane masks, exp, erf, GELU
 * and the GEMM epilogue of a register tile.  Include only from files
 * compiled with the AVX-512 flags. */
#ifndef PE_SIMD_AVX512_H
#define PE_SIMD_AVX512_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* Mask of the first n (0..16) lanes. */
INLINE __mmask16 lanes16(int n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n > 0 ? n : 0)) - 1u);
}

/* ---------------------------------------------------------------- math */

/* exp with ~1 ulp error; scalef handles overflow and gradual underflow, and
 * the clamps are ordered so that a NaN input stays NaN. */
INLINE __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(PE_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(PE_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(PE_LN2_LO), r);
    __m512 p = _mm512_set1_ps(PE_EXP_E4);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP_E3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP_E2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP_E1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP_E0));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* erf: odd polynomial up to |x| = 1, 1 - exp(-x^2) B(x) beyond (both are
 * evaluated; this runs once per output element of a GEMM, so accuracy beats
 * the few extra instructions). */
INLINE __m512 erf512(__m512 x) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 t = _mm512_andnot_ps(sign, x);
    __m512 s = _mm512_mul_ps(t, t);
    __m512 p = _mm512_set1_ps(PE_ERF_S7);
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S6));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S5));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S4));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S3));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S2));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S1));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(PE_ERF_S0));
    __m512 small = _mm512_fmadd_ps(t, p, t);

    __m512 tc = _mm512_min_ps(_mm512_set1_ps(4.0f), t);
    __m512 u = _mm512_fmadd_ps(tc, _mm512_set1_ps(2.0f / 3.0f), _mm512_set1_ps(-5.0f / 3.0f));
    __m512 b = _mm512_set1_ps(PE_ERF_B12);
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B11));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B10));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B9));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B8));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B7));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B6));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B5));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B4));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B3));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B2));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B1));
    b = _mm512_fmadd_ps(b, u, _mm512_set1_ps(PE_ERF_B0));
    __m512 e = exp512(_mm512_mul_ps(tc, _mm512_sub_ps(_mm512_setzero_ps(), tc)));
    __m512 big = _mm512_fnmadd_ps(e, b, _mm512_set1_ps(1.0f));

    __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(1.0f), _CMP_LE_OQ),
                                    big, small);
    return _mm512_or_ps(r, _mm512_and_ps(sign, x));
}

INLINE __m512 gelu512(__m512 x) {
    __m512 h = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(h, erf512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f))), h);
}

/* The coefficient registers of gelu_fast512: k[c] = pe_gelu_fast_k[c]. */
INLINE void gelu_fast_k512(__m512 k[4]) {
    for (int c = 0; c < 4; c++) k[c] = _mm512_load_ps(pe_gelu_fast_k[c]);
}

/* pe_gelu_fast_ref: the interval's coefficients picked by vpermps from the
 * 16 lanes of k[c].  A NaN converts to index 0x80000000, whose low 4 bits
 * pick interval 0, and stays NaN through the polynomial. */
INLINE __m512 gelu_fast512(__m512 x, const __m512 k[4]) {
    const __m512 t = _mm512_min_ps(_mm512_set1_ps(PE_GELU_FAST_T), _mm512_abs_ps(x));
    const __m512i i = _mm512_cvttps_epi32(_mm512_mul_ps(t, _mm512_set1_ps(PE_GELU_FAST_INV_W)));
    __m512 p = _mm512_permutexvar_ps(i, k[3]);
    p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(i, k[2]));
    p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(i, k[1]));
    p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(i, k[0]));
    return _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), p);
}

/* x / (1 + e^-x); exp512 saturates, so large |x| gives x or -0. */
INLINE __m512 silu512(__m512 x) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* ---------------------------------------------------------------- epilogue */

/* Applies the epilogue to an mr x 32 tile held in a stack buffer (row r
 * first scaled by rs[r] when rs is given: the activation scale of the int8
 * kernels) and stores the valid columns.  Kept out of the unrolled
 * microkernels: it runs once per tile against K iterations of the inner
 * loop. */
static inline void pe_tile_store512(const float *tile, int mr, int ncols, const float *rs, float *C,
                                    int ldc, const pe_epilogue *ep, int m, int n) {
    __m512 gk[4];
    gelu_fast_k512(gk);
    for (int c0 = 0; c0 < ncols; c0 += 16) {
        __mmask16 mk = lanes16(ncols - c0);
        __m512 bias = _mm512_setzero_ps(), gamma = _mm512_set1_ps(1.0f);
        int gelu = 0;
        const float *res = NULL, *glu = NULL;
        if (ep) {
            if (ep->bias) bias = _mm512_maskz_loadu_ps(mk, ep->bias + n + c0);
            if (ep->gamma) gamma = _mm512_maskz_loadu_ps(mk, ep->gamma + n + c0);
            gelu = ep->gelu;
            if (ep->residual) res = ep->residual + (size_t)m * ep->ldr + n + c0;
            if (ep->glu) glu = ep->glu + (size_t)m * ep->ldg + n + c0;
        }
        for (int r = 0; r < mr; r++) {
            __m512 v = _mm512_load_ps(tile + r * 32 + c0);
            v = rs ? _mm512_fmadd_ps(v, _mm512_set1_ps(rs[r]), bias) : _mm512_add_ps(v, bias);
            if (gelu == PE_GELU_EXACT) v = gelu512(v);
            if (gelu == PE_GELU_FAST) v = gelu_fast512(v, gk);
            if (glu) v = _mm512_mul_ps(silu512(v), _mm512_maskz_loadu_ps(mk, glu + (size_t)r * ep->ldg));
            if (res) v = _mm512_fmadd_ps(gamma, v,
                                         _mm512_maskz_loadu_ps(mk, res + (size_t)r * ep->ldr));
            _mm512_mask_storeu_ps(C + (size_t)r * ldc + c0, mk, v);
        }
    }
}

#endif
