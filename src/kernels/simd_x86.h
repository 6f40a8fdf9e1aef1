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

/* erf: odd polynomial up to |x| = 1, 1 - exp(-x^2) B(x) beyond (both are
 * evaluated; this runs once per output element of a GEMM, so accuracy beats
 * the few extra instructions). */
INLINE vf32 vf_erf(vf32 x) {
    static const float ks[] = {PE_ERF_S0, PE_ERF_S1, PE_ERF_S2, PE_ERF_S3,
                               PE_ERF_S4, PE_ERF_S5, PE_ERF_S6, PE_ERF_S7};
    static const float kb[] = {PE_ERF_B0, PE_ERF_B1, PE_ERF_B2, PE_ERF_B3, PE_ERF_B4,
                               PE_ERF_B5, PE_ERF_B6, PE_ERF_B7, PE_ERF_B8, PE_ERF_B9,
                               PE_ERF_B10, PE_ERF_B11, PE_ERF_B12};
    const vf32 t = vf_abs(x);
    const vf32 small = vf_fmadd(t, vf_horner(ks, 8, vf_mul(t, t)), t);
    const vf32 tc = vf_min(vf_set1(4.0f), t);
    const vf32 u = vf_fmadd(tc, vf_set1(2.0f / 3.0f), vf_set1(-5.0f / 3.0f));
    const vf32 e = vf_exp(vf_mul(tc, vf_sub(vf_zero(), tc)));
    const vf32 big = vf_fnmadd(e, vf_horner(kb, 13, u), vf_set1(1.0f));
    return vf_signof(vf_select(vm_le(t, vf_set1(1.0f)), small, big), x);
}

INLINE vf32 vf_gelu(vf32 x) {
    vf32 h = vf_mul(x, vf_set1(0.5f));
    return vf_fmadd(h, vf_erf(vf_mul(x, vf_set1(0.70710678118654752f))), h);
}

/* x / (1 + e^-x); vf_exp saturates, so large |x| gives x or -0. */
INLINE vf32 vf_silu(vf32 x) {
    vf32 e = vf_exp(vf_sub(vf_zero(), x));
    return vf_div(x, vf_add(vf_set1(1.0f), e));
}

/* The tile epilogue (pe_tile_store), shared with simd_wasm.h: rows of the
 * stack tile are two vectors apart. */
#define PE_TILE_LD (2 * VF_LANES)
#include "simd_epilogue.h"

#endif
