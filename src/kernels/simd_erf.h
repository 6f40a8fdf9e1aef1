/* The exact erf, GELU and SiLU in the SIMD vocabulary, for the ISAs whose
 * erf is the two-piece polynomial: x86 (simd_x86.h) and WebAssembly
 * (simd_wasm.h), each including it once vf_exp and vf_select exist.  NEON
 * has its own (a quintic per quarter interval by TBL, simd_neon.h). */
#ifndef PE_SIMD_ERF_H
#define PE_SIMD_ERF_H

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

#endif
