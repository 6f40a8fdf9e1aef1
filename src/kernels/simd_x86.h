/* What AVX2 and AVX-512 share: the part of the SIMD vocabulary (see
 * simd_avx2.h) they spell alike but for the width prefix, and erf, GELU,
 * SiLU and the GEMM tile epilogue written in that vocabulary.  Included by
 * simd_avx2.h and simd_avx512.h after they define vf32, vmask, VF_LANES,
 * VF_GELU_FAST_K and PE_MM(op) (_mm256_op, _mm512_op); they define the
 * rest (declared below) after it. */
#ifndef PE_SIMD_X86_H
#define PE_SIMD_X86_H

INLINE vf32 vf_zero(void) { return PE_MM(setzero_ps)(); }
INLINE vf32 vf_set1(float x) { return PE_MM(set1_ps)(x); }
INLINE vf32 vf_load(const float *p) { return PE_MM(loadu_ps)(p); }
INLINE void vf_store(float *p, vf32 v) { PE_MM(storeu_ps)(p, v); }
INLINE vf32 vf_add(vf32 a, vf32 b) { return PE_MM(add_ps)(a, b); }
INLINE vf32 vf_sub(vf32 a, vf32 b) { return PE_MM(sub_ps)(a, b); }
INLINE vf32 vf_mul(vf32 a, vf32 b) { return PE_MM(mul_ps)(a, b); }
INLINE vf32 vf_div(vf32 a, vf32 b) { return PE_MM(div_ps)(a, b); }
INLINE vf32 vf_max(vf32 a, vf32 b) { return PE_MM(max_ps)(a, b); }
INLINE vf32 vf_min(vf32 a, vf32 b) { return PE_MM(min_ps)(a, b); }
INLINE vf32 vf_fmadd(vf32 a, vf32 b, vf32 c) { return PE_MM(fmadd_ps)(a, b, c); }
INLINE vf32 vf_fnmadd(vf32 a, vf32 b, vf32 c) { return PE_MM(fnmadd_ps)(a, b, c); }
INLINE vf32 vf_abs(vf32 x) { return PE_MM(andnot_ps)(vf_set1(-0.0f), x); }
/* |r| with the sign of x */
INLINE vf32 vf_signof(vf32 r, vf32 x) { return PE_MM(or_ps)(r, PE_MM(and_ps)(vf_set1(-0.0f), x)); }

/* Per width, in simd_avx2.h / simd_avx512.h. */
INLINE vmask vm_lanes(int n); /* the first n lanes (none for n <= 0, all past the width) */
INLINE vmask vm_le(vf32 a, vf32 b);
INLINE vf32 vf_select(vmask m, vf32 a, vf32 b); /* m ? a : b per lane */
INLINE vf32 vf_load_part(const float *p, vmask m); /* zeros outside m, reads only m */
INLINE void vf_store_part(float *p, vmask m, vf32 v);
INLINE vf32 vf_exp(vf32 x);
INLINE void vf_gelu_fast_k(vf32 k[VF_GELU_FAST_K]);
INLINE vf32 vf_gelu_fast(vf32 x, const vf32 k[VF_GELU_FAST_K]);

/* The first n lanes at p, zeros beyond (simd_neon.h's count form). */
INLINE vf32 vf_load_n(const float *p, int n) { return vf_load_part(p, vm_lanes(n)); }
INLINE void vf_store_n(float *p, vf32 v, int n) { vf_store_part(p, vm_lanes(n), v); }

#include "simd_common.h"

#include "simd_erf.h" /* vf_erf, vf_gelu, vf_silu */

/* The tile epilogue (pe_tile_store), shared with simd_wasm.h: rows of the
 * stack tile are two vectors apart. */
#define PE_TILE_LD (2 * VF_LANES)
#include "simd_epilogue.h"

#endif
