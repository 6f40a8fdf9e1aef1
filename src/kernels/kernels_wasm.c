/* WebAssembly SIMD128 kernels (make wasm builds everything with -msimd128;
 * this file only exists in that build, see the Makefile).  The GEMM tile,
 * rope and the conversions are this file's; attention, softmax and
 * LayerNorm are kernels_body.h at 4 lanes over simd_wasm.h, and the GEMM
 * epilogue (bias, GELU, SwiGLU's gate, LayerScale, residual) is
 * simd_wasm.h's pe_tile_store.  kernels_ref.c is the specification.
 *
 * SIMD128 has no fused multiply-add (simd_wasm.h), so a step is a multiply
 * then an add.  Each GEMM column is still summed in k order, as gemm_ref
 * does with scalar multiplies and adds, so before the epilogue the tile
 * equals the reference bit for bit. */
#include "kernels.h"
#include "simd_wasm.h"
#include "../common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- gemm */

/* Register tile: GEMM_MR rows x one packed panel (16 columns) = 8
 * accumulators of 4 floats.  Measured under node 20 (V8, x86-64) on a
 * 197 x 768 x 192 GEMM: 2 x 16 is 1.37x the reference (which clang already
 * vectorises as 1 x 16); 3 x 16, 4 x 8 and 6 x 8 are slower than 2 x 16,
 * 4 x 16 slower than the reference: V8 spills their accumulators (it has 16
 * xmm registers). */
#define GEMM_MR 2
#define GEMM_NV (PE_GEMM_NR / 4)

/* tile[r][0:16] = A[r, :K] . panel[:, 0:16] for r < mr; mr is a constant
 * in every instantiation below, so the accumulators stay in registers. */
INLINE void gemm_tile(const float *A, size_t lda, const float *panel, int K, float *tile,
                      const int mr) {
    v128_t acc[GEMM_MR][GEMM_NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < GEMM_NV; v++) acc[r][v] = vf_zero();
    for (int k = 0; k < K; k++) {
        const float *w = panel + (size_t)k * PE_GEMM_NR;
        v128_t b[GEMM_NV];
        for (int v = 0; v < GEMM_NV; v++) b[v] = wasm_v128_load(w + 4 * v);
        for (int r = 0; r < mr; r++) {
            const v128_t a = wasm_v128_load32_splat(A + (size_t)r * lda + k);
            for (int v = 0; v < GEMM_NV; v++) acc[r][v] = vf_fmadd(a, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < GEMM_NV; v++) wasm_v128_store(tile + r * PE_GEMM_NR + 4 * v, acc[r][v]);
}

static void gemm_tile_1(const float *A, size_t lda, const float *W, int K, float *t) {
    gemm_tile(A, lda, W, K, t, 1);
}
static void gemm_tile_2(const float *A, size_t lda, const float *W, int K, float *t) {
    gemm_tile(A, lda, W, K, t, 2);
}
typedef void (*gemm_tile_fn)(const float *A, size_t lda, const float *W, int K, float *tile);
static const gemm_tile_fn gemm_tiles[GEMM_MR] = {gemm_tile_1, gemm_tile_2};

/* The tile to a buffer, then through the epilogue (pe_tile_store). */
#define PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n)                                       \
    PANEL_TILE_BUFFERED(GEMM_MR, gemm_tiles[(mr) - 1](PE_ROW(x, m), PE_ROWS_LDA(x), w, PE_ROWS_K(x), tile_), \
                        NULL, mr, c, ldc, ncols, ep, m, n)
#include "gemm_panels.h"

/* Panels of W kept in cache while every row pair of A passes over them. */
static void gemm(const float *A, int lda, const float *Wp, int N, int K, float *C, int ldc, int m0,
                 int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)N;
    const pe_rows x = {A, (size_t)lda, K};
    gemm_panels(&x, 0, GEMM_MR, 256u * 1024u, (size_t)K * PE_GEMM_NR * sizeof(float), Wp, C, ldc, m0,
                m1, n0, n1, ep);
}

/* ----------------------------------------------------------- attention */

/* kernels_body.h's flash attention at 4 lanes: 8 queries a block (two
 * vectors), scores of 6 keys at a time (12 accumulators, two query vectors
 * and a broadcast: V8's 16 xmm registers), P V in head-dim chunks of 12,
 * 8 or 4 floats for 4 queries. */
#define ATT_QB 8
#define ATT_KT 64
#define ATT_DH_OK(dh) ((dh) % 4 == 0)
#define ATT_PV_MASKED 0
#define ATT_G 6
#define ATT_PV_NC 3
#define ATT_PV_QG(nc) ((nc) == 1 ? 8 : 4)
#define ATT_PV_QG_MAX 8

/* ---------------------------------------------------------------- rope */

/* Two pairs a vector: (x0 c - x1 s, x1 c + x0 s) as x * (c, c) + (x1, x0) *
 * (-s, s), the same products and sums as the reference, so bit for bit. */
static void rope(float *x, int ldx, int T, int n, const float *cs) {
    const int h = n / 2;
    const v128_t sign = wasm_f32x4_make(-0.0f, 0.0f, -0.0f, 0.0f);
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * ldx;
        const float *c = cs + (size_t)t * n, *s = c + h;
        int i = 0;
        for (; i + 2 <= h; i += 2) {
            const v128_t cv = wasm_v128_load64_splat(c + i), sv = wasm_v128_load64_splat(s + i);
            const v128_t c2 = wasm_i32x4_shuffle(cv, cv, 0, 0, 1, 1);
            const v128_t s2 = wasm_v128_xor(wasm_i32x4_shuffle(sv, sv, 0, 0, 1, 1), sign);
            const v128_t xv = wasm_v128_load(xt + 2 * i);
            const v128_t xs = wasm_i32x4_shuffle(xv, xv, 1, 0, 3, 2);
            wasm_v128_store(xt + 2 * i, vf_add(vf_mul(xv, c2), vf_mul(xs, s2)));
        }
        pe_rope_pairs_ref(xt, c, s, i, h);
    }
}

/* --------------------------------------------------------- conversions */

static void f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(src + i);
        wasm_v128_store(dst + i, half4_to_f32(wasm_u32x4_extend_low_u16x8(h)));
        wasm_v128_store(dst + i + 4, half4_to_f32(wasm_u32x4_extend_high_u16x8(h)));
    }
    for (; i < n; i++) dst[i] = pe_f16_to_f32(src[i]);
}

static void bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(src + i);
        wasm_v128_store(dst + i, wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16));
        wasm_v128_store(dst + i + 4, wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16));
    }
    for (; i < n; i++) dst[i] = pe_bf16_to_f32(src[i]);
}

/* softmax's row sum: (l0 + l2) + (l1 + l3) */
#define VF_SOFTMAX_SUM vf_reduce_add
#define PE_KERNELS_SET pe_kernels_wasm
#define PE_KERNELS_NAME "wasm-simd128"
#include "kernels_body.h"
