/* The ARMv8.0 NEON reduced-precision kernels that the dot-product and i8mm
 * sets (qgemm_neondot.c, qgemm_i8mm.c) reuse for the entries they do not
 * replace.  Signatures are those of the pe_qkernels members (quant.h).
 * Only for files built for aarch64. */
#ifndef PE_QGEMM_NEON_H
#define PE_QGEMM_NEON_H

#include "quant.h"

void pe_neon_gemm_half(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                       int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t);
void pe_neon_quantize_rows(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa);
void pe_neon_softmax_q8(float *x, int n, float scale, const pe_qact *qa, int m);
void pe_neon_pack_q8_t(void *dst, const float *W, int ldw, int T, int n);
/* The fast GELU in place on rows (>= 1) of 16 floats at c, ldc floats
 * apart: bit for bit vf_gelu_fast_x4 (pe_gelu_fast_ref), for the int8 sets'
 * fc1 rows after their bias finish. */
void pe_neon_gelu16_rows(float *c, size_t ldc, long rows);

#endif
