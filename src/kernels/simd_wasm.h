/* WebAssembly SIMD128 inline helpers shared by the float32 kernels
 * (kernels_wasm.c) and the reduced-precision ones (qgemm_wasm.c): the SIMD
 * vocabulary of simd_avx2.h at 4 lanes, so that kernels_body.h (attention,
 * softmax, LayerNorm) compiles for wasm as it does for AVX2 and AVX-512;
 * exp, erf, GELU, SiLU and the GEMM tile epilogue.  Only in the wasm build
 * (everything there is compiled with -msimd128).
 *
 * SIMD128 has no fused multiply-add (relaxed SIMD's madd is not in Debian's
 * clang 14 / emscripten 3.1.6, and its rounding is left to the engine), so
 * vf_fmadd is a multiply then an add, rounded twice: results agree with the
 * scalar reference within the tests' K-derived tolerances, not bit for bit.
 * The one kernel whose contract is bit for bit, the fast GELU, is
 * evaluated with exactly rounded fmas in float64 lanes (vf_gelu_fast). */
#ifndef PE_SIMD_WASM_H
#define PE_SIMD_WASM_H

#include "kernels.h"
#include "vecmath_coef.h"

#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------- vocabulary */

typedef v128_t vf32;
typedef v128_t vmask; /* all-ones lanes */
#define VF_LANES 4
#define VF_GELU_FAST_K 1 /* vf_gelu_fast reads its table from memory */

INLINE vf32 vf_zero(void) { return wasm_f32x4_splat(0.0f); }
INLINE vf32 vf_set1(float x) { return wasm_f32x4_splat(x); }
INLINE vf32 vf_load(const float *p) { return wasm_v128_load(p); }
INLINE void vf_store(float *p, vf32 v) { wasm_v128_store(p, v); }
INLINE vf32 vf_add(vf32 a, vf32 b) { return wasm_f32x4_add(a, b); }
INLINE vf32 vf_sub(vf32 a, vf32 b) { return wasm_f32x4_sub(a, b); }
INLINE vf32 vf_mul(vf32 a, vf32 b) { return wasm_f32x4_mul(a, b); }
INLINE vf32 vf_div(vf32 a, vf32 b) { return wasm_f32x4_div(a, b); }
/* x86's max / min (a > b ? a : b: the second operand when either is NaN),
 * which the shared bodies were written against.  pmax / pmin are also what
 * engines lower to one maxps / minps; f32x4.max's NaN and -0 rules cost a
 * sequence of instructions. */
INLINE vf32 vf_max(vf32 a, vf32 b) { return wasm_f32x4_pmax(b, a); }
INLINE vf32 vf_min(vf32 a, vf32 b) { return wasm_f32x4_pmin(b, a); }
/* a b + c and c - a b, each a multiply then an add (no FMA in SIMD128) */
INLINE vf32 vf_fmadd(vf32 a, vf32 b, vf32 c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }
INLINE vf32 vf_fnmadd(vf32 a, vf32 b, vf32 c) { return wasm_f32x4_sub(c, wasm_f32x4_mul(a, b)); }
INLINE vf32 vf_abs(vf32 x) { return wasm_f32x4_abs(x); }
/* |r| with the sign of x */
INLINE vf32 vf_signof(vf32 r, vf32 x) {
    return wasm_v128_or(r, wasm_v128_and(x, wasm_f32x4_splat(-0.0f)));
}

/* All ones in the first n lanes (n <= 0: none, n >= 4: all). */
INLINE vmask vm_lanes(int n) {
    return wasm_i32x4_gt(wasm_i32x4_splat(n), wasm_i32x4_make(0, 1, 2, 3));
}
INLINE vmask vm_le(vf32 a, vf32 b) { return wasm_f32x4_le(a, b); }
INLINE vmask vm_gt(vf32 a, vf32 b) { return wasm_f32x4_gt(a, b); }
INLINE vmask vm_eq(vf32 a, vf32 b) { return wasm_f32x4_eq(a, b); }
/* m ? a : b, lane by lane */
INLINE vf32 vf_select(vmask m, vf32 a, vf32 b) { return wasm_v128_bitselect(a, b, m); }

/* The lanes of m at p, zeros elsewhere; reads only the lanes of m (a row's
 * tail must not be read past its end).  No masked loads in SIMD128: a full
 * mask is one load, a partial one lane by lane (tails only). */
INLINE vf32 vf_load_part(const float *p, vmask m) {
    const int bits = wasm_i32x4_bitmask(m);
    if (bits == 15) return wasm_v128_load(p);
    float t[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        if (bits >> i & 1) t[i] = p[i];
    return wasm_v128_load(t);
}

INLINE void vf_store_part(float *p, vmask m, vf32 v) {
    const int bits = wasm_i32x4_bitmask(m);
    if (bits == 15) {
        wasm_v128_store(p, v);
        return;
    }
    float t[4];
    wasm_v128_store(t, v);
    for (int i = 0; i < 4; i++)
        if (bits >> i & 1) p[i] = t[i];
}

/* The first n floats at p, zeros beyond (simd_neon.h's count form). */
INLINE vf32 vf_load_n(const float *p, int n) { return vf_load_part(p, vm_lanes(n)); }
INLINE void vf_store_n(float *p, vf32 v, int n) { vf_store_part(p, vm_lanes(n), v); }

/* (l0 + l2) + (l1 + l3) */
INLINE float vf_reduce_add(vf32 v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1);
}

INLINE float vf_reduce_max(vf32 v) {
    v = vf_max(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = vf_max(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

#include "simd_common.h"

/* ---------------------------------------------------------------- math */

/* exp, the algorithm of the x86 vf_exp (~1 ulp over [-87.3, 88.3]; below
 * that range 0, as softmax's masked keys need). */
INLINE vf32 vf_exp(vf32 x) {
    const vf32 lo = vf_set1(-87.3f);
    const vmask under = wasm_f32x4_lt(x, lo);
    x = vf_min(vf_set1(88.3f), vf_max(lo, x));
    const vf32 n = wasm_f32x4_nearest(vf_mul(x, vf_set1(PE_LOG2E)));
    const v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_v128_andnot(vf_mul(vf_exp_core(x, n), e), under);
}

#include "simd_erf.h" /* vf_erf, vf_gelu, vf_silu */

/* ------------------------------------------------------------ fast GELU */

/* pe_gelu_fast_k by interval as float64 (floats widen exactly): row i
 * holds k3, k2, k1, k0 of interval i, so a lane's 4 coefficients are two
 * loads (kernels_wasm.c fills it at start-up). */
extern double pe_wasm_gelu_k64[16][4];

/* fmaf(p, t, k) of two float lanes held as doubles, rounded to double: p t
 * is exact in a double, so the sum is the exact result rounded once, and
 * rounding it again to float is fmaf's answer unless that double lies
 * exactly half way between two floats (low 29 bits 1 then zeros) or in the
 * float subnormals (a coarser grid; zero counted too, which costs nothing
 * to be wrong about): then *odd gets a lane set and the caller redoes the
 * vector with fmaf. */
INLINE v128_t fma_f64x2(v128_t p, v128_t t, v128_t k, v128_t *odd) {
    const v128_t r = wasm_f64x2_add(wasm_f64x2_mul(p, t), k);
    const v128_t half = wasm_i64x2_eq(wasm_v128_and(r, wasm_i64x2_splat(0x1fffffff)), wasm_i64x2_splat(0x10000000));
    const v128_t tiny = wasm_f64x2_lt(wasm_f64x2_abs(r), wasm_f64x2_splat(0x1p-126));
    *odd = wasm_v128_or(*odd, wasm_v128_or(half, tiny));
    return r;
}

/* r rounded to float's 24 bits (to nearest, ties to even), still a double:
 * on the bits, as demote then promote would, which clang 14 turns into 4
 * scalar conversions each way.  Lanes whose float is subnormal are odd. */
INLINE v128_t round_f64x2_to_f32(v128_t r) {
    const v128_t lsb = wasm_v128_and(wasm_u64x2_shr(r, 29), wasm_i64x2_splat(1));
    const v128_t s = wasm_i64x2_add(wasm_i64x2_add(r, wasm_i64x2_splat(0x0fffffff)), lsb);
    return wasm_v128_and(s, wasm_i64x2_splat(~(int64_t)0x1fffffff));
}

INLINE void vf_gelu_fast_k(vf32 k[VF_GELU_FAST_K]) { k[0] = vf_zero(); }

/* pe_gelu_fast_ref, bit for bit: the interval's cubic by fmaf in Horner
 * order, lanes 0-1 and 2-3 as two float64 pairs (fma_f64x2), each step
 * rounded to float as fmaf rounds it.  Each lane's coefficients are loaded
 * by its interval from pe_wasm_gelu_k64 (4 extracts, 8 loads, 8 shuffles:
 * the byte swizzles of 4 64-byte tables cost 40 operations).  A NaN
 * converts to interval 0 and stays NaN; interval 15 (t = 5) is all zeros,
 * whose zero results are not odd. */
INLINE vf32 vf_gelu_fast(vf32 x, const vf32 kunused[VF_GELU_FAST_K]) {
    (void)kunused;
    const vf32 t = vf_min(vf_set1(PE_GELU_FAST_T), vf_abs(x));
    const v128_t i = wasm_i32x4_trunc_sat_f32x4(vf_mul(t, vf_set1(PE_GELU_FAST_INV_W)));
    const double *k0 = pe_wasm_gelu_k64[wasm_i32x4_extract_lane(i, 0)];
    const double *k1 = pe_wasm_gelu_k64[wasm_i32x4_extract_lane(i, 1)];
    const double *k2 = pe_wasm_gelu_k64[wasm_i32x4_extract_lane(i, 2)];
    const double *k3 = pe_wasm_gelu_k64[wasm_i32x4_extract_lane(i, 3)];
    v128_t k[2][4]; /* [half][power] */
    for (int h = 0; h < 2; h++) {
        const double *a = h ? k2 : k0, *b = h ? k3 : k1;
        const v128_t a32 = wasm_v128_load(a), b32 = wasm_v128_load(b);
        const v128_t a10 = wasm_v128_load(a + 2), b10 = wasm_v128_load(b + 2);
        k[h][3] = wasm_i64x2_shuffle(a32, b32, 0, 2);
        k[h][2] = wasm_i64x2_shuffle(a32, b32, 1, 3);
        k[h][1] = wasm_i64x2_shuffle(a10, b10, 0, 2);
        k[h][0] = wasm_i64x2_shuffle(a10, b10, 1, 3);
    }
    const v128_t th[2] = {wasm_f64x2_promote_low_f32x4(t),
                          wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(t, t, 2, 3, 2, 3))};
    v128_t odd[2] = {wasm_i64x2_splat(0), wasm_i64x2_splat(0)}, p32[2];
    for (int h = 0; h < 2; h++) {
        v128_t p = k[h][3];
        for (int c = 2; c > 0; c--) p = round_f64x2_to_f32(fma_f64x2(p, th[h], k[h][c], &odd[h]));
        p32[h] = wasm_f32x4_demote_f64x2_zero(fma_f64x2(p, th[h], k[h][0], &odd[h]));
    }
    const v128_t p = wasm_i32x4_shuffle(p32[0], p32[1], 0, 1, 4, 5);
    /* odd per float lane (a 64-bit lane's mask is all ones or all zeros) */
    const v128_t odd4 = wasm_v128_and(wasm_i32x4_shuffle(odd[0], odd[1], 0, 2, 4, 6),
                                      wasm_i32x4_ne(i, wasm_i32x4_splat(15)));
    if (wasm_v128_any_true(odd4)) { /* rare: the reference, lane by lane */
        float v[4];
        wasm_v128_store(v, x);
        for (int j = 0; j < 4; j++) v[j] = pe_gelu_fast_ref(v[j]);
        return wasm_v128_load(v);
    }
    return vf_add(vf_max(x, vf_zero()), p);
}

/* ------------------------------------------------------------ halves */

/* IEEE half to float, 4 at a time: the 15 magnitude bits moved to a
 * float's exponent and mantissa and multiplied by 2^112 rebias every
 * finite value exactly (subnormal halves land on float subnormals first,
 * which wasm multiplies exactly); infinities and NaNs get exponent 255. */
INLINE vf32 half4_to_f32(v128_t h32) {
    const v128_t mag = wasm_v128_and(h32, wasm_i32x4_splat(0x7fff));
    const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h32, wasm_i32x4_splat(0x8000)), 16);
    const v128_t f = vf_mul(wasm_i32x4_shl(mag, 13), vf_set1(0x1p112f));
    const v128_t special = wasm_i32x4_ge(mag, wasm_i32x4_splat(0x7c00));
    const v128_t inf_nan = wasm_v128_or(wasm_i32x4_shl(mag, 13), wasm_i32x4_splat(0x7f800000));
    return wasm_v128_or(wasm_v128_bitselect(inf_nan, f, special), sign);
}

/* ---------------------------------------------------------------- epilogue */

/* The tile epilogue (pe_tile_store), shared with simd_x86.h: rows of the
 * stack tile are one panel (16 floats) apart. */
#define PE_TILE_LD PE_GEMM_NR
#include "simd_epilogue.h"

#endif
