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
 * The one kernel whose contract is bit for bit, the fast GELU, takes its
 * fmaf steps in float64 lanes (vf_gelu_fast), checked equal to the
 * reference on every float that matters. */
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

/* pe_gelu_fast_k as float64 pairs (floats widen exactly): [a][b][c] holds
 * the coefficient of t^(3 - c) on intervals a and b, so two lanes' 4
 * coefficients are 4 loads, no shuffles (constant data in kernels_wasm.c,
 * 16 KB). */
extern const double pe_wasm_gelu_k64[16][16][4][2];

/* r rounded to float (to nearest even, subnormals too) and widened back:
 * f32x4.demote_f64x2_zero then f64x2.promote_low_f32x4, one instruction
 * each in V8.  The empty asm keeps the pair apart: clang 14 folds it into
 * 2 scalar demotes and promotes per vector (8 wasm instructions). */
INLINE v128_t round_f64x2_to_f32(v128_t r) {
    v128_t f = wasm_f32x4_demote_f64x2_zero(r);
    __asm__("" : "+r"(f));
    return wasm_f64x2_promote_low_f32x4(f);
}

INLINE void vf_gelu_fast_k(vf32 k[VF_GELU_FAST_K]) { k[0] = vf_zero(); }

/* pe_gelu_fast_ref, bit for bit: the interval's cubic in Horner order,
 * lanes 0-1 and 2-3 as two float64 pairs, each step p t + k in float64
 * rounded to float.  p and t are floats, so p t is exact in a double and
 * the sum is rounded twice (to double, then to float) where fmaf rounds
 * once; a double rounding differs only for a sum within 2^-53 of a float
 * tie, and for these coefficients no such sum occurs: `wasm_tile.js
 * --gelu-all` (bench/wasm_tile.c) compares this code with pe_gelu_fast_ref
 * on every float x in [-5, 5] under node (|x| > 5 is t = 5, all zeros) and
 * finds no difference, subnormal results included (the earlier version
 * flagged each step near a tie or a subnormal and redid those vectors by
 * fmaf: 1.5% of all t, none of which needed it).
 * The coefficients of lanes 0-1 and 2-3 are loaded by their intervals
 * from pe_wasm_gelu_k64: the byte offset of a pair is a 1024 + b 64 for
 * intervals a = floor(3 t) of the first lane and b of the second, made by
 * the magic add (t <= 5 keeps it in the table: a NaN x takes t = 5, and
 * pmax(x, 0) passes the NaN to the result). */
INLINE vf32 vf_gelu_fast(vf32 x, const vf32 kunused[VF_GELU_FAST_K]) {
    (void)kunused;
    /* pmin(a, b) = b < a ? b : a: a NaN |x| gives 5 */
    const vf32 t = wasm_f32x4_pmin(vf_set1(PE_GELU_FAST_T), vf_abs(x));
    const vf32 fi = wasm_f32x4_floor(vf_mul(t, vf_set1(PE_GELU_FAST_INV_W)));
    vf32 o = vf_mul(fi, wasm_f32x4_make(1024.0f, 64.0f, 1024.0f, 64.0f)); /* exact: <= 15360 */
    o = vf_add(vf_add(o, wasm_i32x4_shuffle(o, o, 1, 0, 3, 2)), vf_set1(0x1p23f));
    const v128_t off = wasm_i32x4_sub(o, wasm_i32x4_splat(0x4b000000)); /* lanes 0, 2 */
    const char *base = (const char *)pe_wasm_gelu_k64;
    const v128_t *kp[2] = {(const v128_t *)(const void *)(base + wasm_i32x4_extract_lane(off, 0)),
                           (const v128_t *)(const void *)(base + wasm_i32x4_extract_lane(off, 2))};
    const v128_t th[2] = {wasm_f64x2_promote_low_f32x4(t),
                          wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(t, t, 2, 3, 2, 3))};
    v128_t p32[2];
    for (int h = 0; h < 2; h++) {
        v128_t p = wasm_v128_load(kp[h]);
        for (int c = 1; c < 3; c++)
            p = round_f64x2_to_f32(wasm_f64x2_add(wasm_f64x2_mul(p, th[h]), wasm_v128_load(kp[h] + c)));
        p32[h] = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_add(wasm_f64x2_mul(p, th[h]), wasm_v128_load(kp[h] + 3)));
    }
    const v128_t p = wasm_i32x4_shuffle(p32[0], p32[1], 0, 1, 4, 5);
    /* pmax(x, 0) = x < 0 ? 0 : x: x > 0 ? x : 0 of the reference, except
     * that a NaN x stays (the reference returns it) and -0 stays -0, which
     * p = +0 (interval 0 at t = 0) turns into +0 as the reference's 0 + p */
    return vf_add(wasm_f32x4_pmax(x, vf_zero()), p);
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
