/* fp16 compute (pe_ctx_options.compute = PE_COMPUTE_F16): GEMMs whose
 * multiply-adds run on 8 halves at a time (ARMv8.2 FEAT_FP16 FMLA), for the
 * linears of the transformer blocks.
 *
 * Semantics (the scalar reference pe_gemm_f16_ref is the specification, and
 * the vector sets compute it bit for bit up to the epilogue):
 *   - each row of A (float32) is rounded to half, to nearest even;
 *   - the weight is an f16 panel (quant.h layout);
 *   - along K, slices of PE_F16_SLICE products are summed in half, each
 *     step one fused multiply-add rounded to half, starting from 0 at each
 *     slice; each slice's sum is widened and added to a float32 total, in
 *     order.  Long dot products (K = 768 .. 4096) so stay accurate: a half
 *     sum never holds more than 32 terms (f16 has 11 bits);
 *   - the epilogue (pe_epilogue) runs in float32 on that total.
 * A row whose max |a| exceeds PE_F16_AMAX (or holds a NaN or an infinity)
 * could overflow the half sums (65504): that row runs the float32 GEMM on
 * the same f16 panel (pe_qkernels.gemm_half) instead.  K is at most
 * PE_F16_KMAX (the kernels hold a row tile of A in half on the stack). */
#ifndef PE_F16_H
#define PE_F16_H

#include "kernels.h"

#define PE_F16_SLICE 32
#define PE_F16_AMAX 1024.0f
#define PE_F16_KMAX 8192

typedef struct pe_f16kernels {
    const char *name;
    /* C[m0:m1, n0:n1] = epilogue(A W^T), W [*, K] packed as f16 panels,
     * computed as above; otherwise the contract of pe_kernels.gemm. */
    void (*gemm)(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                 int n0, int n1, const pe_epilogue *ep);
} pe_f16kernels;

/* The specification (gemm_f16_ref.c); in no registry row, since a CPU
 * without fp16 arithmetic gains nothing from emulating it. */
void pe_gemm_f16_ref(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                     int m1, int n0, int n1, const pe_epilogue *ep);

/* x rounded to the nearest half (ties to even), as a float: exact for a
 * double holding the exact result of one half multiply-add. */
float pe_f16_round_ref(double x);

extern const pe_f16kernels pe_f16kernels_neon; /* kernels_neonfp16.c */

#endif
