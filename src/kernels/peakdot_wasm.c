/* The int8 peak loop of the wasm row: twelve chains of i32x4.dot_i16x8_s
 * then an add (8 int16 multiply-adds an instruction pair, 16 operations),
 * each step's dot taking the chain's own value so that no engine can hoist
 * it out of the loop.  What the q8 tile can reach at most in SIMD128 (no
 * relaxed SIMD in clang 14: see qgemm_wasm.c). */
#include "peak.h"
#include "simd_wasm.h"

#define PEAK_INT8
typedef v128_t pk_t;
#define PK_OPS (8 * 2)
#define pk_init(i) wasm_i32x4_splat(i)
#define pk_dot(a) wasm_i32x4_add(wasm_i32x4_dot_i16x8(a, wasm_i16x8_splat(3)), wasm_i32x4_splat(1))
#define pk_add(a, b) wasm_i32x4_add(a, b)
/* lanes as unsigned, where wrapping is defined */
static unsigned pk_fold(v128_t s) {
    return (unsigned)wasm_i32x4_extract_lane(s, 0) + (unsigned)wasm_i32x4_extract_lane(s, 1) +
           (unsigned)wasm_i32x4_extract_lane(s, 2) + (unsigned)wasm_i32x4_extract_lane(s, 3);
}
#define PEAK_FN pe_peak_loop_wasm_int8
#define PEAK_N 12
#include "peak_body.h"
