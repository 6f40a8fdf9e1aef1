/* WebAssembly SIMD128 kernels (make wasm builds everything with -msimd128;
 * this file only exists in that build, see the Makefile).  A start: the
 * float32 GEMM tile is vectorised, the other kernels are the scalar
 * reference's.  kernels_ref.c is the specification.
 *
 * SIMD128 has no fused multiply-add (relaxed SIMD's madd is not in
 * emscripten 3.1.6, and its rounding is left to the engine), so a step is a
 * multiply then an add.  Each column is still summed in k order, as
 * gemm_ref does with scalar multiplies and adds, so before the epilogue the
 * tile equals the reference bit for bit. */
#include "kernels.h"
#include "../common.h"

#include <wasm_simd128.h>

/* Register tile: GEMM_MR rows x one packed panel (16 columns) = 8
 * accumulators of 4 floats.  Measured under node 20 (V8, x86-64) on a
 * 197 x 768 x 192 GEMM: 2 x 16 is 1.37x the reference (which clang already
 * vectorises as 1 x 16); 3 x 16, 4 x 8 and 6 x 8 are slower than 2 x 16,
 * 4 x 16 slower than the reference: V8 spills their accumulators. */
#define GEMM_MR 2
#define GEMM_NC PE_GEMM_NR

/* out[r][0:GEMM_NC] = A[r, :K] . panel[:, 0:GEMM_NC] for r < mr; mr is a
 * constant in every instantiation below, so the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void
gemm_tile(const float *A, int lda, const float *panel, int K, float out[GEMM_MR][GEMM_NC],
          const int mr) {
    enum { NV = GEMM_NC / 4 };
    v128_t acc[GEMM_MR][NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_splat(0.0f);
    for (int k = 0; k < K; k++) {
        const float *w = panel + (size_t)k * PE_GEMM_NR;
        v128_t b[NV];
        for (int v = 0; v < NV; v++) b[v] = wasm_v128_load(w + 4 * v);
        for (int r = 0; r < mr; r++) {
            const v128_t a = wasm_f32x4_splat(A[(size_t)r * lda + k]);
            for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_add(acc[r][v], wasm_f32x4_mul(a, b[v]));
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++) wasm_v128_store(out[r] + 4 * v, acc[r][v]);
}

static void gemm_tile_any(const float *A, int lda, const float *panel, int K,
                          float out[GEMM_MR][GEMM_NC], int mr) {
    if (mr == 2) gemm_tile(A, lda, panel, K, out, 2);
    else gemm_tile(A, lda, panel, K, out, 1);
}

/* The epilogue is the reference's, value by value (vectorising it is next). */
static void gemm_wasm(const float *A, int lda, const float *Wp, int N, int K, float *C, int ldc,
                      int m0, int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)N;
    float t[GEMM_MR][GEMM_NC];
    for (int n = n0; n < n1; n += PE_GEMM_NR) {
        const float *panel = Wp + (size_t)(n / PE_GEMM_NR) * K * PE_GEMM_NR;
        const int nj = PE_MIN(PE_GEMM_NR, n1 - n);
        for (int m = m0; m < m1; m += GEMM_MR) {
            const int mr = PE_MIN(GEMM_MR, m1 - m);
            gemm_tile_any(A + (size_t)m * lda, lda, panel, K, t, mr);
            for (int r = 0; r < mr; r++)
                for (int j = 0; j < nj; j++)
                    C[(size_t)(m + r) * ldc + n + j] = pe_epilogue_ref(t[r][j], ep, m + r, n + j);
        }
    }
}

/* ------------------------------------------- the reference's, for now */

static void attention_wasm(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                           float *o, int ldo, int Tq, int Tk, int dh, float scale, int causal,
                           int causal_offset, float *scratch) {
    pe_kernels_scalar.attention(q, ldq, k, ldk, v, ldv, o, ldo, Tq, Tk, dh, scale, causal,
                                causal_offset, scratch);
}

static float softmax_wasm(float *x, int n, float scale) { return pe_kernels_scalar.softmax(x, n, scale); }

static void layernorm_wasm(const float *x, int ldx, float *y, int ldy, int rows, int n,
                           const float *w, const float *b, float eps) {
    pe_kernels_scalar.layernorm(x, ldx, y, ldy, rows, n, w, b, eps);
}

static void rope_wasm(float *x, int ldx, int T, int n, const float *cs) {
    pe_kernels_scalar.rope(x, ldx, T, n, cs);
}

static void f16_to_f32_wasm(const uint16_t *src, float *dst, size_t n) {
    pe_kernels_scalar.f16_to_f32(src, dst, n);
}

static void bf16_to_f32_wasm(const uint16_t *src, float *dst, size_t n) {
    pe_kernels_scalar.bf16_to_f32(src, dst, n);
}

const pe_kernels pe_kernels_wasm = {
    .name = "wasm-simd128",
    .gemm = gemm_wasm,
    .attention = attention_wasm,
    .softmax = softmax_wasm,
    .layernorm = layernorm_wasm,
    .rope = rope_wasm,
    .f16_to_f32 = f16_to_f32_wasm,
    .bf16_to_f32 = bf16_to_f32_wasm,
};
