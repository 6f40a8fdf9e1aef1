/* ARMv8.0 NEON kernels.  FIRST CUT: forwards to the scalar set until the NEON
 * code lands. */
#include "kernels.h"

static void gemm_neon(const float *A, int lda, const float *Wp, int N, int K, float *C, int ldc,
                      int m0, int m1, int n0, int n1, const pe_epilogue *ep) {
    pe_kernels_scalar.gemm(A, lda, Wp, N, K, C, ldc, m0, m1, n0, n1, ep);
}

static void attention_neon(const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, float *o, int ldo, int Tq, int Tk, int dh, float scale,
                           int causal, int causal_offset, float *scratch) {
    pe_kernels_scalar.attention(q, ldq, k, ldk, v, ldv, o, ldo, Tq, Tk, dh, scale, causal,
                                causal_offset, scratch);
}

static float softmax_neon(float *x, int n, float scale) {
    return pe_kernels_scalar.softmax(x, n, scale);
}

static void layernorm_neon(const float *x, int ldx, float *y, int ldy, int rows, int n,
                           const float *w, const float *b, float eps) {
    pe_kernels_scalar.layernorm(x, ldx, y, ldy, rows, n, w, b, eps);
}

static void rope_neon(float *x, int ldx, int T, int n, const float *cs) {
    pe_kernels_scalar.rope(x, ldx, T, n, cs);
}

static void f16_to_f32_neon(const uint16_t *src, float *dst, size_t n) {
    pe_kernels_scalar.f16_to_f32(src, dst, n);
}

static void bf16_to_f32_neon(const uint16_t *src, float *dst, size_t n) {
    pe_kernels_scalar.bf16_to_f32(src, dst, n);
}

const pe_kernels pe_kernels_neon = {
    .name = "neon",
    .gemm = gemm_neon,
    .attention = attention_neon,
    .softmax = softmax_neon,
    .layernorm = layernorm_neon,
    .rope = rope_neon,
    .f16_to_f32 = f16_to_f32_neon,
    .bf16_to_f32 = bf16_to_f32_neon,
};
