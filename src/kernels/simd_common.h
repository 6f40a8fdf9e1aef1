/* Helpers written once in the SIMD vocabulary (vf32, vf_*: see
 * simd_avx2.h), for every ISA: included by simd_x86.h and simd_neon.h once
 * the vocabulary is defined.  Each is the sequence of operations every ISA
 * file had in its own intrinsics, so results are unchanged bit for bit. */
#ifndef PE_SIMD_COMMON_H
#define PE_SIMD_COMMON_H

/* p = k[n-1]; p = p x + k[i] for i = n-2 .. 0 (the loop unrolls and the
 * constants fold into broadcasts as if written out). */
INLINE vf32 vf_horner(const float *k, int n, vf32 x) {
    vf32 p = vf_set1(k[n - 1]);
#pragma GCC unroll 16
    for (int i = n - 2; i >= 0; i--) p = vf_fmadd(p, x, vf_set1(k[i]));
    return p;
}

/* The core of every vf_exp: with n = round(x log2 e), r = x - n ln 2 (ln 2
 * in two parts) and e^r = 1 + r + r^2 P(r); the ISA scales by 2^n. */
INLINE vf32 vf_exp_core(vf32 x, vf32 n) {
    static const float ke[] = {PE_EXP_E0, PE_EXP_E1, PE_EXP_E2, PE_EXP_E3, PE_EXP_E4};
    vf32 r = vf_fnmadd(n, vf_set1(PE_LN2_HI), x);
    r = vf_fnmadd(n, vf_set1(PE_LN2_LO), r);
    return vf_add(vf_fmadd(vf_horner(ke, 5, r), vf_mul(r, r), r), vf_set1(1.0f));
}

#endif
