/* Reduced-precision weights: f16 and bf16 panels converted inside the GEMM,
 * and q8 / q4 blocks multiplied with int8 activations.
 *
 * Reference formats (fixed blocks, and the scalar quantizer is the
 * specification):
 *   q8: one float32 scale d per output row (per channel) over all of K:
 *       w = d * q, q in [-127, 127], d = max|row| / 127.  Per channel
 *       measured better than blocks of 32 with an f16 scale: 8.0 instead of
 *       8.5 bits per weight, and the integer dot product runs over the whole
 *       row with one scale at the end, at a cosine cost the golden T16 shows
 *       in the 5th decimal (README, Quantization).
 *   q4: 32 consecutive weights of one output row share an f16 scale d:
 *       w = d * (q - 8), q in [0, 15]  (d = signed max / -8, as q4_0)
 *
 * Packed layouts (what the kernels read, what `pecore quantize` stores, so
 * the loader maps them with zero copy).  As for float32 (kernels.h), a weight
 * W [N, K] is cut into panels of PE_GEMM_NR = 16 output columns.
 *   f16 / bf16: panel p is K rows of 16 halves, k-major, like the float32
 *     panels: packed[p * K * 16 + k * 16 + j] = W[16p + j][k].
 *   q8: panel p is float d[16] (the scales of its columns, 64 bytes) then
 *     ceil(K / 32) tiles of 512 bytes, one per 32-deep slice of K, byte
 *     (g * 64 + j * 4 + i) holding q + 128 (as u8) of k = 4g + i of column j
 *     (g < 8), interleaved for VNNI.
 *   q4: panel p is ceil(K / 32) tiles, each the 16 f16 scales d[j] of its
 *     column blocks then 256 bytes: byte (g * 64 + j * 4 + i) holds k = 4g + i
 *     of column j in the low nibble and k = 16 + 4g + i in the high (g < 4).
 *   Weights beyond N or K are zero.  K is at most PE_Q8_KMAX for q8, so the
 *   int32 dot products (|sum| <= 255 * 127 * K) cannot overflow.
 *
 * Activations for q8/q4 are quantized per row, symmetric: a = s * qa with
 * qa in [-127, 127] and s = max|a| / 127; each row is padded with zeros to a
 * multiple of 32 and carries the sum of qa of each 32-slice, so the kernels
 * can multiply unsigned weights (q + 128, or the 4-bit q) by signed
 * activations and subtract offset * sum afterwards (per slice for q4, per
 * row for q8). */
#ifndef PE_QUANT_H
#define PE_QUANT_H

#include "kernels.h"

#include <assert.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PE_QK 32

/* Version of these packed layouts, stored as "pecore_format" in quantized
 * files; bumped whenever a layout changes (2: q8 per channel). */
#define PE_QFORMAT "2"

typedef enum pe_wtype {
    PE_WT_F32 = 0,
    PE_WT_F16 = 1,
    PE_WT_BF16 = 2,
    PE_WT_Q8 = 3,
    PE_WT_Q4 = 4,
    PE_WT_COUNT
} pe_wtype;

/* q8 or q4: weights multiplied with int8 activation rows. */
static inline int pe_wtype_int8(pe_wtype t) { return t == PE_WT_Q8 || t == PE_WT_Q4; }

const char *pe_wtype_name(pe_wtype t);        /* "f32", "f16", "bf16", "q8", "q4" */
int pe_wtype_parse(const char *s, pe_wtype *t); /* 0 on success */

#define PE_Q8_KMAX 65536

typedef struct pe_block_q4 {
    uint16_t d;             /* f16 scale */
    uint8_t qs[PE_QK / 2];  /* element i in the low nibble of byte i, i + 16 in the high */
} pe_block_q4;
static_assert(sizeof(pe_block_q4) == 2 + PE_QK / 2, "q4 block is 18 bytes");

typedef struct pe_tile_q8 {
    uint8_t q[PE_QK * PE_GEMM_NR];
} pe_tile_q8;
static_assert(sizeof(pe_tile_q8) == 512, "q8 tile is 16 columns x 32 codes");
/* Bytes of a q8 panel's scale header (float d[16]), before its tiles. */
#define PE_Q8_HEAD (PE_GEMM_NR * 4)

typedef struct pe_tile_q4 {
    uint16_t d[PE_GEMM_NR];
    uint8_t q[PE_QK * PE_GEMM_NR / 2];
} pe_tile_q4;
static_assert(sizeof(pe_tile_q4) == 288, "q4 tile is 16 blocks of 18 bytes");

/* Scalar reference quantizers.  q8: a row x of n floats to codes q, returns
 * its scale d; q4: one block of PE_QK floats. */
float pe_quantize_q8_ref(const float *x, int n, int8_t *q);
void pe_dequantize_q8_ref(const int8_t *q, int n, float d, float *x);
void pe_quantize_q4_ref(const float *x, pe_block_q4 *b);
void pe_dequantize_q4_ref(const pe_block_q4 *b, float *x);

/* Bytes of a packed [N, K] weight of type t (0 on overflow or a bad type). */
size_t pe_qpack_bytes(pe_wtype t, int N, int K);
/* Bytes of one panel (16 output columns) of a packed weight with K inputs. */
size_t pe_qpack_panel_bytes(pe_wtype t, int K);
/* Packs rows (<= 16) rows of W (row stride ldw) into one panel of type t at
 * dst (pe_qpack_panel_bytes); missing rows are zero.  For f32 this is
 * pe_gemm_pack of one panel. */
void pe_qpack_panel(pe_wtype t, void *dst, const float *W, int rows, int K, int ldw);
/* Row j < 16, element k of a packed panel, back to float (tests, tools). */
float pe_qpanel_get(pe_wtype t, const void *panel, int K, int j, int k);

/* Per-row quantized activations: q [M, ldq] int8 (ldq = K rounded up to 32),
 * s [M] scales, rsum [M] sums of q per row, bsum [M, ldq / 32] sums of q
 * per 32-slice.  q8 kernels read rsum, q4 kernels bsum; a caller that runs
 * only q8 may set bsum to NULL and quantize_rows skips those sums.  A row
 * holding a NaN or an infinity gets s = NaN and all codes and sums 0, so
 * its outputs are NaN as in float (and no integer sum can overflow). */
typedef struct pe_qact {
    int8_t *q;
    float *s;
    int32_t *rsum;
    int32_t *bsum;
    int ldq;
} pe_qact;

/* Bytes of pe_qact storage for M rows of K (64-byte aligned parts). */
size_t pe_qact_bytes(int M, int K);
/* Lays out a pe_qact for M rows of K in mem (pe_qact_bytes, 64-aligned). */
pe_qact pe_qact_bind(void *mem, int M, int K);
/* Row m of qa as a row holding a NaN or an infinity: s = NaN, codes and sums
 * 0 (see pe_qact). */
void pe_qact_row_nan(const pe_qact *qa, int m);
/* Row m's scale from the bits of max|x| (as integers a NaN compares above
 * every finite value and infinity): qa->s[m] = max / 127 and returns
 * 127 / max (0 for an all-zero row); a row with a NaN or an infinity is
 * set to NaN (pe_qact_row_nan) and gets -1, for the caller to skip it. */
static inline float pe_qact_row_scale(const pe_qact *qa, int m, uint32_t amax_bits) {
    float amax;
    memcpy(&amax, &amax_bits, 4);
    if (!isfinite(amax)) {
        pe_qact_row_nan(qa, m);
        return -1.0f;
    }
    qa->s[m] = amax / 127.0f;
    return amax > 0.0f ? 127.0f / amax : 0.0f;
}

/* softmax_q8's first pass: folds x[i0 .. n) into *mx (fmaxf) and finite
 * (all of them finite); 0, with code row m set to NaN, when finite ends 0. */
static inline int pe_softmax_q8_max(const float *x, int i0, int n, float *mx, int finite,
                                    const pe_qact *qa, int m) {
    float v = *mx;
    for (int i = i0; i < n; i++) {
        v = fmaxf(v, x[i]);
        finite &= isfinite(x[i]) != 0;
    }
    *mx = v;
    if (!finite) pe_qact_row_nan(qa, m);
    return finite;
}

/* Packs rows [r0, r0 + rows) (rows <= 16) of quantized activations as one q8
 * panel over K = qa->ldq inputs: the codes and row scales become the weight
 * codes and column scales (int8 attention: the keys as the weight of
 * Q K^T). */
void pe_qpack_q8_qact(void *dst, const pe_qact *qa, int r0, int rows);

typedef struct pe_qkernels {
    const char *name;       /* "scalar", "avx2", "avx512vnni", "neon", ... */

    /* C[m0:m1, n0:n1] = epilogue(A W^T) with W [*, K] packed as t = f16 or
     * bf16 panels; otherwise the contract of pe_kernels.gemm. */
    void (*gemm_half)(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                      int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t);

    /* Rows [m0, m1) of A [*, K] into qa (see pe_qact; bsum may be NULL). */
    void (*quantize_rows)(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa);

    /* C[m0:m1, n0:n1] = epilogue(dequant(qa) W^T), W [*, K] packed as t =
     * q8 or q4 tiles; n0 a multiple of 16. */
    void (*gemm_q)(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t);

    /* Softmax weights of scores x [n] quantized into row m of qa (K = n):
     * q[i] = round(127 * exp(scale * (x[i] - max x))) (so the largest is
     * 127), rsum[m] = sum of q, s[m] = 1 / rsum[m]: the quantized weights,
     * normalised.  The vector sets round 127 exp() within a relative 1e-4
     * (PE_EXP2Q's cubic), so a code may differ from the scalar one by 1.
     * bsum is not written.  x is used as scratch. */
    void (*softmax_q8)(float *x, int n, float scale, const pe_qact *qa, int m);

    /* dst (pe_qpack_bytes(PE_WT_Q8, n, T)) = the q8 weight W^T [n, T] of
     * W [T, n] (row stride ldw): column c of W quantized over its T values
     * with rounding to nearest even (int8 attention: the values as the
     * weight of P V). */
    void (*pack_q8_t)(void *dst, const float *W, int ldw, int T, int n);

    /* Rows of gemm_q's full q8 tile, or 0: the pass's row blocks then start
     * at multiples of it within an image (pe_rows_split), so that an image
     * has one short tile per panel, not one per block. */
    int tile_rows;
} pe_qkernels;

/* The AMX-INT8 gemm_q of pe_qkernels_amx (qgemm_amx.c); what the tiles do
 * not take goes to pe_qkernels_vnni's.  Only on CPUs (and kernels) that
 * grant AMX (isa.c). */
void pe_gemm_q_amx(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t);

/* The scalar pack_q8_t, shared by the sets without their own. */
void pe_pack_q8_t_ref(void *dst, const float *W, int ldw, int T, int n);

extern const pe_qkernels pe_qkernels_scalar;
extern const pe_qkernels pe_qkernels_avx2;
extern const pe_qkernels pe_qkernels_vnni;
extern const pe_qkernels pe_qkernels_amx;   /* vnni with an AMX-INT8 q8 GEMM */
extern const pe_qkernels pe_qkernels_neon;
extern const pe_qkernels pe_qkernels_neondot;
extern const pe_qkernels pe_qkernels_i8mm;
extern const pe_qkernels pe_qkernels_wasm;

/* The set of the level pe_kernels_get() comes from (so PECORE_ISA applies):
 * avx512 picks avx512vnni when the CPU has VNNI, else avx2. Never NULL. */
const pe_qkernels *pe_qkernels_get(void);
/* The set of a named level ("neon-dot"), or a set named so ("avx512vnni"),
 * if this CPU runs it, else NULL (tests). */
const pe_qkernels *pe_qkernels_by_name(const char *name);

#endif
