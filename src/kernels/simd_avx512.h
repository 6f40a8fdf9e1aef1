/* AVX-512 inline helpers shared by the float32 kernels (kernels_avx512.c)
 * and the reduced-precision ones (qgemm_vnni.c, qgemm_amx.c): the SIMD
 * vocabulary of simd_avx2.h at 16 lanes, exp and the fast GELU;
 * simd_common.h adds the rest.  Include only from files
 * compiled with the AVX-512 flags. */
#ifndef PE_SIMD_AVX512_H
#define PE_SIMD_AVX512_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------- vocabulary */

/* The names of simd_avx2.h (see there) at 16 lanes. */
typedef __m512 vf32;
typedef __mmask16 vmask;
#define VF_GELU_FAST_K 4 /* registers of vf_gelu_fast's coefficients */
#define VF_LANES 16

#define PE_MM(op) _mm512_##op
#include "simd_x86.h"

INLINE vmask vm_lanes(int n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n > 0 ? n : 0)) - 1u);
}
INLINE vmask vm_le(vf32 a, vf32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
INLINE vmask vm_gt(vf32 a, vf32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
INLINE vmask vm_eq(vf32 a, vf32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
INLINE vf32 vf_select(vmask m, vf32 a, vf32 b) { return _mm512_mask_blend_ps(m, b, a); }
INLINE vf32 vf_load_part(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
INLINE void vf_store_part(float *p, vmask m, vf32 v) { _mm512_mask_storeu_ps(p, m, v); }
INLINE float vf_reduce_add(vf32 v) { return _mm512_reduce_add_ps(v); }
INLINE float vf_reduce_max(vf32 v) { return _mm512_reduce_max_ps(v); }

/* ---------------------------------------------------------------- math */

/* exp with ~1 ulp error; scalef handles overflow and gradual underflow, and
 * the clamps are ordered so that a NaN input stays NaN. */
INLINE vf32 vf_exp(vf32 x) {
    x = vf_min(vf_set1(89.0f), vf_max(vf_set1(-104.0f), x));
    const vf32 n = _mm512_roundscale_ps(vf_mul(x, vf_set1(PE_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_scalef_ps(vf_exp_core(x, n), n);
}

/* The coefficient registers of vf_gelu_fast: k[c] = pe_gelu_fast_k[c]. */
INLINE void vf_gelu_fast_k(vf32 k[VF_GELU_FAST_K]) {
    for (int c = 0; c < 4; c++) k[c] = _mm512_load_ps(pe_gelu_fast_k[c]);
}

/* pe_gelu_fast_ref: the interval's coefficients picked by vpermps from the
 * 16 lanes of k[c].  A NaN converts to index 0x80000000, whose low 4 bits
 * pick interval 0, and stays NaN through the polynomial. */
INLINE vf32 vf_gelu_fast(vf32 x, const vf32 k[VF_GELU_FAST_K]) {
    const __m512 t = _mm512_min_ps(_mm512_set1_ps(PE_GELU_FAST_T), _mm512_abs_ps(x));
    const __m512i i = _mm512_cvttps_epi32(_mm512_mul_ps(t, _mm512_set1_ps(PE_GELU_FAST_INV_W)));
    __m512 p = _mm512_permutexvar_ps(i, k[3]);
    p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(i, k[2]));
    p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(i, k[1]));
    p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(i, k[0]));
    return _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), p);
}

#endif
