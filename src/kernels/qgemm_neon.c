/* ARMv8.0 NEON kernels for reduced-precision weights.  qgemm_ref.c is the
 * specification; layouts are in quant.h.
 * FIRST CUT: entries forward to the scalar set until the NEON code lands. */
#include "qgemm_neon.h"

#include <arm_neon.h>

void pe_neon_gemm_half(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                       int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    pe_qkernels_scalar.gemm_half(A, lda, Wp, K, C, ldc, m0, m1, n0, n1, ep, t);
}

void pe_neon_quantize_rows(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa) {
    pe_qkernels_scalar.quantize_rows(A, lda, K, m0, m1, qa);
}

static void gemm_q_neon(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    pe_qkernels_scalar.gemm_q(qa, Wp, K, C, ldc, m0, m1, n0, n1, ep, t);
}

void pe_neon_softmax_q8(float *x, int n, float scale, const pe_qact *qa, int m) {
    pe_qkernels_scalar.softmax_q8(x, n, scale, qa, m);
}

void pe_neon_pack_q8_t(void *dst, const float *W, int ldw, int T, int n) {
    pe_pack_q8_t_ref(dst, W, ldw, T, n);
}

const pe_qkernels pe_qkernels_neon = {
    .name = "neon",
    .gemm_half = pe_neon_gemm_half,
    .quantize_rows = pe_neon_quantize_rows,
    .gemm_q = gemm_q_neon,
    .softmax_q8 = pe_neon_softmax_q8,
    .pack_q8_t = pe_neon_pack_q8_t,
};
