/* AVX2 inline helpers shared by the float32 kernels (kernels_avx2.c) and
 * the reduced-precision ones (qgemm_avx2.c): the SIMD vocabulary at 8
 * lanes, exp and the fast GELU; simd_common.h adds erf, GELU, SiLU and the
 * GEMM epilogue of a register tile in that vocabulary.  Include only from files compiled
 * with the AVX2 + FMA + F16C flags. */
#ifndef PE_SIMD_AVX2_H
#define PE_SIMD_AVX2_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------- vocabulary */

/* The names every simd_<isa>.h gives its vectors (see simd_common.h):
 * vf32 (VF_LANES floats), vmask (a lane mask), loads and stores (_part:
 * the lanes of a mask, zeros elsewhere; never touches the others),
 * arithmetic, vf_fmadd(a, b, c) = a b + c rounded once, selects and
 * reductions.  Bodies written in them compile to the same instructions as
 * when they were written in intrinsics per file. */
typedef __m256 vf32;
typedef __m256i vmask; /* all-ones lanes, as maskload/maskstore take them */
#define VF_GELU_FAST_K 8 /* registers of vf_gelu_fast's coefficients */
#define VF_LANES 8

#define PE_MM(op) _mm256_##op
#include "simd_x86.h"

/* All-ones in the first n lanes (n <= 0: none, n >= 8: all). */
INLINE vmask vm_lanes(int n) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota);
}
INLINE vmask vm_le(vf32 a, vf32 b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LE_OQ)); }
INLINE vmask vm_gt(vf32 a, vf32 b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
INLINE vmask vm_eq(vf32 a, vf32 b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_EQ_OQ)); }
/* m ? a : b, lane by lane */
INLINE vf32 vf_select(vmask m, vf32 a, vf32 b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m)); }
INLINE vf32 vf_load_part(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
INLINE void vf_store_part(float *p, vmask m, vf32 v) { _mm256_maskstore_ps(p, m, v); }

/* ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) */
INLINE float vf_reduce_add(vf32 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float vf_reduce_max(vf32 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* l0 + l1 + ... + l7 in that order */
INLINE float vf_reduce_add_seq(vf32 v) {
    float t[8], s = 0.0f;
    _mm256_storeu_ps(t, v);
    for (int j = 0; j < 8; j++) s += t[j];
    return s;
}

/* ---------------------------------------------------------------- math */

/* exp with ~1 ulp error over [-87.3, 88.3]; results below that range are
 * flushed to 0 (softmax weights of masked keys must be exactly 0).  Larger
 * inputs saturate: neither user (softmax, erf) passes positive values. */
INLINE vf32 vf_exp(vf32 x) {
    const vf32 lo = vf_set1(-87.3f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = vf_min(vf_set1(88.3f), vf_max(lo, x));
    const vf32 n = _mm256_round_ps(vf_mul(x, vf_set1(PE_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, vf_mul(vf_exp_core(x, n), _mm256_castsi256_ps(e)));
}

/* The coefficient registers of vf_gelu_fast: k[2c], k[2c+1] hold entries
 * 0-7, 8-15 of pe_gelu_fast_k[c]. */
INLINE void vf_gelu_fast_k(vf32 k[VF_GELU_FAST_K]) {
    for (int c = 0; c < 8; c++) k[c] = _mm256_load_ps(pe_gelu_fast_k[c / 2] + 8 * (c % 2));
}

/* pe_gelu_fast_ref: each coefficient of the interval from its 16 entries
 * as two 8-lane permutes, index bit 3 choosing between them.  A NaN
 * converts to index 0x80000000, which picks interval 0, and stays NaN. */
INLINE vf32 vf_gelu_fast(vf32 x, const vf32 k[VF_GELU_FAST_K]) {
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

#endif
