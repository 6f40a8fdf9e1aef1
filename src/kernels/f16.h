/* fp16 compute (pe_ctx_options.compute = PE_COMPUTE_F16): GEMMs whose
 * multiply-adds run on 8 halves at a time (ARMv8.2 FEAT_FP16 FMLA), for the
 * linears over an image's tokens (patch embedding, blocks, the pooling's
 * kv) and the vision tower's attention.
 *
 * Semantics (the scalar reference pe_gemm_f16_ref is the specification, and
 * the vector sets compute it bit for bit up to the epilogue):
 *   - each row of A (float32) is rounded to half, to nearest even;
 *   - the weight is an f16 panel (quant.h layout);
 *   - along K, slices of PE_F16_SLICE products are summed in half, each
 *     step one fused multiply-add rounded to half, starting from -0 at each
 *     slice; the first slice's sum, widened, is the float32 total (not
 *     +0 plus it: a -0 stays -0), each next one is widened and added to it,
 *     in order.  Long dot products (K = 768 .. 4096) so stay accurate: a half
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
#define PE_F16_EXP_MIN -17.5f /* softmax: e^t for t below rounds to a half 0 */
#define PE_LN2_F 0.693147182f  /* ln 2 to float32 */

/* Activations in half for the kernels, interleaved by tiles of
 * PE_F16_TILE rows: the 8 halves k = 8j .. 8j + 7 of a tile's rows lie
 * together, row after row, so one load brings all its rows' next 8.
 * Element (row r of the tile, k) is at PE_F16_IL(r, k). */
#define PE_F16_TILE 4
#define PE_F16_IL(r, k) ((size_t)((k) >> 3) * (PE_F16_TILE * 8) + (size_t)(r) * 8 + (size_t)((k) & 7))

typedef struct pe_f16kernels {
    const char *name;
    /* C[m0:m1, n0:n1] = epilogue(A W^T), W [*, K] packed as f16 panels,
     * computed as above; otherwise the contract of pe_kernels.gemm. */
    void (*gemm)(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                 int n0, int n1, const pe_epilogue *ep);
    /* The same GEMM on rows already in half, interleaved (PE_F16_IL): the
     * tile of rows 4t .. 4t + 3 at A16 + 4t lda, lda a multiple of 8 and at
     * least K; values within PE_F16_AMAX, K <= PE_F16_KMAX, m0 a multiple
     * of PE_F16_TILE), no epilogue, row m's totals times rs[m] (one float32
     * multiply) when rs is given: the attention's P V on the weights
     * softmax below wrote, divided by their sums. */
    void (*gemm_h)(const uint16_t *A16, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                   int m1, int n0, int n1, const float *rs);
    /* One row of unnormalised softmax weights in half, for P V:
     * p[PE_F16_IL(0, i)] = half(e(x[i] scale - m scale)) (p: the row's
     * place in its tile of gemm_h's A, nothing else written), m = max x,
     * e the exp of pe_softmax_f16_ref (exact to it); returns the float32
     * sum of the e values before rounding (the caller divides P V's rows
     * by it). */
    float (*softmax)(const float *x, int n, float scale, uint16_t *p);
    /* The attention's f16 panels, as pe_qpack_panel(PE_WT_F16) and its
     * transpose, bit for bit but for a NaN's payload: pack, the panel of
     * rows 0 .. rows - 1 (<= 16) of src (K = cols floats each, rows ld
     * apart), dst[k * 16 + j] = half(src[j * ld + k]) (the keys); pack_t,
     * dst[t * 16 + c] = half(src[t * ld + c]) for c < cols (<= 16), 0
     * beyond, t < T (16 channels of the values over all tokens). */
    void (*pack)(const float *src, size_t ld, int rows, int cols, uint16_t *dst);
    void (*pack_t)(const float *src, size_t ld, int T, int cols, uint16_t *dst);
} pe_f16kernels;

/* The specification (gemm_f16_ref.c); in no registry row, since a CPU
 * without fp16 arithmetic gains nothing from emulating it. */
void pe_gemm_f16_ref(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                     int m1, int n0, int n1, const pe_epilogue *ep);

/* The specification of pe_f16kernels.softmax's weights: e(t) for
 * t = fma(x, scale, -(m scale)), all in float32 (each step one rounding,
 * written out in gemm_f16_ref.c): t clamped to >= -17.5 (e^-17.5 is below
 * half the smallest half: it rounds to 0 as any smaller weight would),
 * n = round(t log2 e), r = t - n ln 2, the degree-5 Taylor polynomial in r
 * as (1 + r) + r^2 ((1/2 + r/6) + r^2 (1/24 + r/120)) (|r| <= 0.35: 3e-6
 * relative, a hundredth of a half's rounding) times
 * 2^n in one multiply (n >= -26: no underflow to guard against, which
 * is what the general exp's two-part scale and clamps are for).  Returns
 * the weight rounded to half, as a float. */
float pe_softmax_f16_exp_ref(float t);
/* The row: p and the sum (in index order; the vector sets sum in another
 * order, so the sum matches to float32 rounding, p bit for bit). */
float pe_softmax_f16_ref(const float *x, int n, float scale, uint16_t *p);

/* x rounded to the nearest half (ties to even), as a float: exact for a
 * double holding the exact result of one half multiply-add. */
float pe_f16_round_ref(double x);

extern const pe_f16kernels pe_f16kernels_neon; /* kernels_neonfp16.c */

#endif
