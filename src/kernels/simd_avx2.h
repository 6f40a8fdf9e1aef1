/* AVX2 inline helpers shared by the float32 kernels (kernels_avx2.c) and
 * the reduced-precision ones (qgemm_avx2.c): lane masks, exp, erf, GELU and
 * the GEMM epilogue of a register tile.  Include only from files compiled
 * with the AVX2 + FMA + F16C flags. */
#ifndef PE_SIMD_AVX2_H
#define PE_SIMD_AVX2_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* All-ones in the first n (0..8) lanes, for maskload/maskstore. */
INLINE __m256i lanes8(int n) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota);
}

/* ---------------------------------------------------------------- math */

/* exp with ~1 ulp error over [-87.3, 88.3]; results below that range are
 * flushed to 0 (softmax weights of masked keys must be exactly 0).  Larger
 * inputs saturate: neither user (softmax, erf) passes positive values. */
INLINE __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, x);
    x = _mm256_min_ps(_mm256_set1_ps(88.3f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(PE_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(PE_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(PE_LN2_LO), r);
    __m256 p = _mm256_set1_ps(PE_EXP_E4);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP_E3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP_E2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP_E1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP_E0));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* erf: see erf512 in kernels_avx512.c. */
INLINE __m256 erf256(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_andnot_ps(sign, x);
    __m256 s = _mm256_mul_ps(t, t);
    __m256 p = _mm256_set1_ps(PE_ERF_S7);
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S6));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S5));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S4));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S3));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S2));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S1));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(PE_ERF_S0));
    __m256 small = _mm256_fmadd_ps(t, p, t);

    __m256 tc = _mm256_min_ps(_mm256_set1_ps(4.0f), t);
    __m256 u = _mm256_fmadd_ps(tc, _mm256_set1_ps(2.0f / 3.0f), _mm256_set1_ps(-5.0f / 3.0f));
    __m256 b = _mm256_set1_ps(PE_ERF_B12);
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B11));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B10));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B9));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B8));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B7));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B6));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B5));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B4));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B3));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B2));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B1));
    b = _mm256_fmadd_ps(b, u, _mm256_set1_ps(PE_ERF_B0));
    __m256 e = exp256(_mm256_mul_ps(tc, _mm256_sub_ps(_mm256_setzero_ps(), tc)));
    __m256 big = _mm256_fnmadd_ps(e, b, _mm256_set1_ps(1.0f));

    __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(t, _mm256_set1_ps(1.0f), _CMP_LE_OQ));
    return _mm256_or_ps(r, _mm256_and_ps(sign, x));
}

INLINE __m256 gelu256(__m256 x) {
    __m256 h = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(h, erf256(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f))), h);
}

/* The coefficient registers of gelu_fast256: k[2c], k[2c+1] hold entries
 * 0-7, 8-15 of pe_gelu_fast_k[c]. */
INLINE void gelu_fast_k256(__m256 k[8]) {
    for (int c = 0; c < 8; c++) k[c] = _mm256_load_ps(pe_gelu_fast_k[c / 2] + 8 * (c % 2));
}

/* pe_gelu_fast_ref: each coefficient of the interval from its 16 entries
 * as two 8-lane permutes, index bit 3 choosing between them.  A NaN
 * converts to index 0x80000000, which picks interval 0, and stays NaN. */
INLINE __m256 gelu_fast256(__m256 x, const __m256 k[8]) {
    const __m256 t = _mm256_min_ps(_mm256_set1_ps(PE_GELU_FAST_T), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x));
    const __m256i i = _mm256_cvttps_epi32(_mm256_mul_ps(t, _mm256_set1_ps(PE_GELU_FAST_INV_W)));
    const __m256 hi = _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)); /* bit 3 to the sign */
#define GELU_K256(c) \
    _mm256_blendv_ps(_mm256_permutevar8x32_ps(k[2 * (c)], i), _mm256_permutevar8x32_ps(k[2 * (c) + 1], i), hi)
    __m256 p = GELU_K256(3);
    p = _mm256_fmadd_ps(p, t, GELU_K256(2));
    p = _mm256_fmadd_ps(p, t, GELU_K256(1));
    p = _mm256_fmadd_ps(p, t, GELU_K256(0));
#undef GELU_K256
    return _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()), p);
}

/* x / (1 + e^-x); exp256 saturates, so large |x| gives x or -0. */
INLINE __m256 silu256(__m256 x) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* ---------------------------------------------------------------- epilogue */

/* Applies the epilogue to an mr x 16 tile held in a stack buffer (row r
 * first scaled by rs[r] when rs is given: the activation scale of the int8
 * kernels) and stores the valid columns. */
static inline void pe_tile_store256(const float *tile, int mr, int ncols, const float *rs, float *C,
                                    int ldc, const pe_epilogue *ep, int m, int n) {
    __m256 gk[8];
    gelu_fast_k256(gk);
    for (int c0 = 0; c0 < ncols; c0 += 8) {
        __m256i mk = lanes8(ncols - c0);
        __m256 bias = _mm256_setzero_ps(), gamma = _mm256_set1_ps(1.0f);
        int gelu = 0;
        const float *res = NULL, *glu = NULL;
        if (ep) {
            if (ep->bias) bias = _mm256_maskload_ps(ep->bias + n + c0, mk);
            if (ep->gamma) gamma = _mm256_maskload_ps(ep->gamma + n + c0, mk);
            gelu = ep->gelu;
            if (ep->residual) res = ep->residual + (size_t)m * ep->ldr + n + c0;
            if (ep->glu) glu = ep->glu + (size_t)m * ep->ldg + n + c0;
        }
        for (int r = 0; r < mr; r++) {
            __m256 v = _mm256_load_ps(tile + r * 16 + c0);
            v = rs ? _mm256_fmadd_ps(v, _mm256_set1_ps(rs[r]), bias) : _mm256_add_ps(v, bias);
            if (gelu == PE_GELU_EXACT) v = gelu256(v);
            if (gelu == PE_GELU_FAST) v = gelu_fast256(v, gk);
            if (glu) v = _mm256_mul_ps(silu256(v), _mm256_maskload_ps(glu + (size_t)r * ep->ldg, mk));
            if (res) v = _mm256_fmadd_ps(gamma, v, _mm256_maskload_ps(res + (size_t)r * ep->ldr, mk));
            _mm256_maskstore_ps(C + (size_t)r * ldc + c0, mk, v);
        }
    }
}

#endif
