/* ARMv8.0 NEON kernels for reduced-precision weights: no dot-product
 * instructions, so int8 products are widened (SMULL/SMLAL into int16, SADALP
 * into int32).  qgemm_ref.c is the specification; layouts are in quant.h.
 * The entries of qgemm_neon.h are shared with the dot-product and i8mm sets. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns") /* see kernels_neon.c */
#endif

#include "qgemm_neon.h"
#include "simd_neon.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

INLINE int imin(int a, int b) { return a < b ? a : b; }

/* ------------------------------------------------------------ f16 / bf16 */

/* The f32 tile of kernels_neon.c with the panel row widened as it is
 * loaded: FCVTL for f16 (ARMv8.0), a 16-bit shift for bf16. */
#define HALF_MR 5

INLINE void load_half16(const uint16_t *p, float32x4_t b[4], const int bf16) {
    uint16x8_t h0 = vld1q_u16(p), h1 = vld1q_u16(p + 8);
    if (bf16) {
        b[0] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h0), 16));
        b[1] = vreinterpretq_f32_u32(vshll_high_n_u16(h0, 16));
        b[2] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h1), 16));
        b[3] = vreinterpretq_f32_u32(vshll_high_n_u16(h1, 16));
    } else {
        b[0] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h0)));
        b[1] = vcvt_high_f32_f16(vreinterpretq_f16_u16(h0));
        b[2] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h1)));
        b[3] = vcvt_high_f32_f16(vreinterpretq_f16_u16(h1));
    }
}

/* The 16 floats of panel row k: widened from f16 / bf16 (wide 0 / 1), or
 * from a panel widened beforehand (wide 2, f32). */
INLINE void half_row(const void *W, int k, float32x4_t b[4], const int wide) {
    if (wide == 2) {
        const float32x4x4_t v = vld1q_f32_x4((const float *)W + (size_t)k * PE_GEMM_NR);
        b[0] = v.val[0], b[1] = v.val[1], b[2] = v.val[2], b[3] = v.val[3];
    } else {
        load_half16((const uint16_t *)W + (size_t)k * PE_GEMM_NR, b, wide);
    }
}

#define HALF_STEP(L)                                                                 \
    do {                                                                             \
        float32x4_t b[4];                                                            \
        half_row(W, k + (L), b, wide);                                               \
        _Pragma("GCC unroll 5") for (int r = 0; r < mr; r++)                         \
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)                      \
                acc[r][c] = vfmaq_laneq_f32(acc[r][c], b[c], av[r], L);              \
    } while (0)

INLINE void half_tile_w(const float *A, size_t lda, const void *W, int K, float *tile,
                        const int mr, const int wide) {
    float32x4_t acc[HALF_MR][4];
    PE_TILE_SET(acc, mr, 4, vdupq_n_f32(0.0f));
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        float32x4_t av[HALF_MR];
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) av[r] = vld1q_f32(A + r * lda + k);
        HALF_STEP(0);
        HALF_STEP(1);
        HALF_STEP(2);
        HALF_STEP(3);
    }
    for (; k < K; k++) {
        float32x4_t b[4];
        half_row(W, k, b, wide);
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) acc[r][c] = vfmaq_n_f32(acc[r][c], b[c], A[r * lda + k]);
    }
    PE_TILE_SPILL(tile, acc, mr);
}

INLINE void half_tile(const float *A, size_t lda, const uint16_t *W, int K, float *tile,
                      const int mr, const int bf16) {
    half_tile_w(A, lda, W, K, tile, mr, bf16);
}

/* f16 panels widened to f32 once per panel and call (K up to
 * HALF_WIDE_KMAX, on the stack), so that the row tiles load floats: the
 * FCVTLs were 16 of 113 instructions per 4 k of a 5-row tile (the patch
 * embedding of q8 files, 5-6% of their pass).  The same products and sums
 * in the same order as half_tile's: bit-identical. */
#define HALF_WIDE_KMAX 1024

static void widen_panel(const uint16_t *W, int K, float *Wf) {
    for (size_t i = 0; i < (size_t)K * PE_GEMM_NR; i += 16) {
        float32x4_t b[4];
        load_half16(W + i, b, 0);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) vst1q_f32(Wf + i + 4 * j, b[j]);
    }
}

typedef void (*halfw_fn)(const float *A, size_t lda, const float *Wf, int K, float *tile);
#define HALFW_FN(R)                                                                           \
    static void halfw_##R(const float *A, size_t lda, const float *Wf, int K, float *t) {     \
        half_tile_w(A, lda, Wf, K, t, R, 2);                                                  \
    }
HALFW_FN(1) HALFW_FN(2) HALFW_FN(3) HALFW_FN(4) HALFW_FN(5)
static const halfw_fn halfw_tiles[HALF_MR] = {halfw_1, halfw_2, halfw_3, halfw_4, halfw_5};

static void gemm_half_wide(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0,
                           int m1, int n0, int n1, const pe_epilogue *ep) {
    float Wf[HALF_WIDE_KMAX * PE_GEMM_NR] __attribute__((aligned(16)));
    float tile[HALF_MR * PE_GEMM_NR] __attribute__((aligned(16)));
    const size_t pbytes = (size_t)K * PE_GEMM_NR * sizeof(uint16_t);
    for (int p = n0 / PE_GEMM_NR; p * PE_GEMM_NR < n1; p++) {
        const int n = p * PE_GEMM_NR, ncols = imin(n1 - n, PE_GEMM_NR);
        widen_panel((const uint16_t *)(const void *)((const uint8_t *)Wv + (size_t)p * pbytes), K, Wf);
        for (int m = m0; m < m1; m += HALF_MR) {
            const int mr = imin(m1 - m, HALF_MR);
            halfw_tiles[mr - 1](A + (size_t)m * lda, (size_t)lda, Wf, K, tile);
            pe_tile_store(tile, mr, ncols, NULL, C + (size_t)m * ldc + n, ldc, ep, m, n);
        }
    }
}

#include "gemm_panels.h"

HALF_FNS(1) HALF_FNS(2) HALF_FNS(3) HALF_FNS(4) HALF_FNS(5)
static const half_fn half_tiles[2][HALF_MR] = {
    {half_0_1, half_0_2, half_0_3, half_0_4, half_0_5},
    {half_1_1, half_1_2, half_1_3, half_1_4, half_1_5},
};

/* ------------------------------------------------------------ activations */

/* The low bytes of 16 int32 lanes (codes that fit a byte), in order. */
INLINE int8x16_t narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
    const int16x8_t h0 = vuzp1q_s16(vreinterpretq_s16_s32(a), vreinterpretq_s16_s32(b));
    const int16x8_t h1 = vuzp1q_s16(vreinterpretq_s16_s32(c), vreinterpretq_s16_s32(d));
    return vuzp1q_s8(vreinterpretq_s8_s16(h0), vreinterpretq_s8_s16(h1));
}

/* The 32 floats at a, times is, as codes into q; their pairwise sums (8 int16
 * lanes, |each| <= 4 * 127). */
INLINE int16x8_t quant_block(const float *a, float is, int8_t *q) {
    const float32x4x4_t v0 = vld1q_f32_x4(a), v1 = vld1q_f32_x4(a + 16);
    int32x4_t c[8];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        c[j] = vcvtnq_s32_f32(vmulq_n_f32(v0.val[j], is));
        c[4 + j] = vcvtnq_s32_f32(vmulq_n_f32(v1.val[j], is));
    }
    const int8x16_t q0 = narrow16(c[0], c[1], c[2], c[3]), q1 = narrow16(c[4], c[5], c[6], c[7]);
    vst1q_s8(q, q0);
    vst1q_s8(q + 16, q1);
    return vpadalq_s8(vpaddlq_s8(q0), q1);
}

/* Bit-exact with quantize_rows_ref: the max of |a| taken on the bit
 * patterns (a NaN or an infinity is above every finite value, so one
 * compare finds them; FABS only clears the sign bit, of a NaN too, and
 * unlike the AND with 0x7fffffff (BIC, which overwrites its operand) needs
 * no copy of the loaded vector), the same single rounding of a * (127 / amax), and
 * FCVTNS rounds to nearest even as lrintf does in the default mode. */
void pe_neon_quantize_rows(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa) {
    const int nb = qa->ldq / PE_QK, whole = K / PE_QK;
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        int8_t *q = qa->q + (size_t)m * qa->ldq;
        /* one accumulator, the 4 vectors of a step folded first: GCC 12
         * keeps an array of them with a MOV per vector and step */
        uint32x4_t mx = vdupq_n_u32(0);
        int k = 0;
        for (; k + 16 <= K; k += 16) {
            const float32x4x4_t v = vld1q_f32_x4(a + k);
            const uint32x4_t m01 = vmaxq_u32(vreinterpretq_u32_f32(vabsq_f32(v.val[0])),
                                             vreinterpretq_u32_f32(vabsq_f32(v.val[1])));
            const uint32x4_t m23 = vmaxq_u32(vreinterpretq_u32_f32(vabsq_f32(v.val[2])),
                                             vreinterpretq_u32_f32(vabsq_f32(v.val[3])));
            mx = vmaxq_u32(mx, vmaxq_u32(m01, m23));
        }
        for (; k < K; k += 4) mx = vmaxq_u32(mx, vreinterpretq_u32_f32(vabsq_f32(vf_load_n(a + k, K - k))));
        const uint32_t bits = vmaxvq_u32(mx);
        const float is = pe_qact_row_scale(qa, m, bits);
        if (is < 0.0f) continue;
        int32_t total = 0;
        int b = 0;
        if (!qa->bsum) {
            /* the whole blocks' pairwise sums gathered in one vector, one
             * reduction a row (a SADDLV, a branch and the counters of the
             * general loop below were 16 of 44 instructions a block) */
            int32x4_t sum = vdupq_n_s32(0);
            for (; b < whole; b++) sum = vpadalq_s16(sum, quant_block(a + b * PE_QK, is, q + b * PE_QK));
            total = vaddvq_s32(sum);
        }
        for (; b < nb; b++) {
            const int k0 = b * PE_QK;
            int32_t s;
            if (k0 + PE_QK <= K) { /* a whole block: 32 codes, their sum in int16 (|sum| <= 32 * 127) */
                s = vaddlvq_s16(quant_block(a + k0, is, q + k0));
            } else {
                int32x4_t sum = vdupq_n_s32(0);
                for (int h = 0; h < PE_QK; h += 8) {
                    int kk = k0 + h;
                    int32x4_t c0 = vcvtnq_s32_f32(vmulq_n_f32(vf_load_n(a + kk, K - kk), is));
                    int32x4_t c1 = vcvtnq_s32_f32(vmulq_n_f32(vf_load_n(a + kk + 4, K - kk - 4), is));
                    sum = vaddq_s32(sum, vaddq_s32(c0, c1));
                    int16x8_t w = vcombine_s16(vmovn_s32(c0), vmovn_s32(c1));
                    vst1_s8(q + kk, vmovn_s16(w));
                }
                s = vaddvq_s32(sum);
            }
            if (qa->bsum) qa->bsum[(size_t)m * nb + b] = s;
            total += s;
        }
        qa->rsum[m] = total;
    }
}

/* ------------------------------------------------------------ q8 / q4 */

#define Q_MR 2

INLINE int8x16_t bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

/* Per int32 pair of lanes (column j, k 0+1 | 2+3) to one lane per column. */
INLINE int32x4_t pair_sum(int32x4_t lo, int32x4_t hi) { return vpaddq_s32(lo, hi); }

/* mr rows x 16 columns of q8.  A 16-byte weight vector holds 4 columns x 4
 * k; times the row's 4 activation codes broadcast, SMULL/SMULL2 give 16
 * int16 products, SMLAL/SMLAL2 add those of the next 4 k (two products of
 * |127 * 127| fit int16), and SADALP folds pairs into int32 (two lanes per
 * column, added at the end).  The stored codes are flipped back to signed
 * (xor 0x80), so no offset correction is needed. */
INLINE void q8_tile(const int8_t *q, size_t ldq, const uint8_t *W, int nb, float *tile,
                    const int mr) {
    int32x4_t acc[Q_MR][8];
    PE_TILE_SET(acc, mr, 8, vdupq_n_s32(0));
    const int8x16_t flip = vdupq_n_s8((int8_t)0x80);
    for (int b = 0; b < nb; b++) {
        const uint8_t *wq = W + PE_Q8_HEAD + (size_t)b * sizeof(pe_tile_q8);
        const int8_t *qb = q + (size_t)b * PE_QK;
        for (int g = 0; g < 8; g += 2) {
            int8x16_t w0[4], w1[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                w0[c] = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(wq + g * 64 + c * 16)), flip);
                w1[c] = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(wq + g * 64 + 64 + c * 16)), flip);
            }
#pragma GCC unroll 2
            for (int r = 0; r < mr; r++) {
                int8x16_t a0 = bcast4(qb + r * ldq + g * 4), a1 = bcast4(qb + r * ldq + g * 4 + 4);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    int16x8_t lo = vmlal_s8(vmull_s8(vget_low_s8(w0[c]), vget_low_s8(a0)),
                                            vget_low_s8(w1[c]), vget_low_s8(a1));
                    int16x8_t hi = vmlal_high_s8(vmull_high_s8(w0[c], a0), w1[c], a1);
                    acc[r][2 * c] = vpadalq_s16(acc[r][2 * c], lo);
                    acc[r][2 * c + 1] = vpadalq_s16(acc[r][2 * c + 1], hi);
                }
            }
        }
    }
    float d[PE_GEMM_NR];
    memcpy(d, W, sizeof d);
#pragma GCC unroll 2
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            vst1q_f32(tile + r * PE_GEMM_NR + c * 4,
                      vmulq_f32(vcvtq_f32_s32(pair_sum(acc[r][2 * c], acc[r][2 * c + 1])), vld1q_f32(d + c * 4)));
}

/* mr rows x 16 columns of q4.  The codes minus 8 are signed 4-bit values,
 * so all 8 products a lane sees in one 32-slice (|8 * 127| each) fit int16;
 * per slice one widening pair add, then the block scales in float. */
INLINE void q4_tile(const int8_t *q, size_t ldq, const uint8_t *W, int nb, float *tile,
                    const int mr) {
    float32x4_t accf[Q_MR][4];
    PE_TILE_SET(accf, mr, 4, vdupq_n_f32(0.0f));
    const uint8x16_t low4 = vdupq_n_u8(15);
    const int8x16_t eight = vdupq_n_s8(8);
    for (int b = 0; b < nb; b++) {
        const uint8_t *t = W + (size_t)b * sizeof(pe_tile_q4), *wq = t + 2 * PE_GEMM_NR;
        const int8_t *qb = q + (size_t)b * PE_QK;
        int16x8_t acc[Q_MR][8];
#pragma GCC unroll 2
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++) acc[r][c] = vdupq_n_s16(0);
        for (int g = 0; g < 4; g++) {
            int8x16_t lo[4], hi[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                uint8x16_t v = vld1q_u8(wq + g * 64 + c * 16);
                lo[c] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, low4)), eight);
                hi[c] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
            }
#pragma GCC unroll 2
            for (int r = 0; r < mr; r++) {
                int8x16_t al = bcast4(qb + r * ldq + g * 4), ah = bcast4(qb + r * ldq + 16 + g * 4);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    acc[r][2 * c] = vmlal_s8(acc[r][2 * c], vget_low_s8(lo[c]), vget_low_s8(al));
                    acc[r][2 * c] = vmlal_s8(acc[r][2 * c], vget_low_s8(hi[c]), vget_low_s8(ah));
                    acc[r][2 * c + 1] = vmlal_high_s8(acc[r][2 * c + 1], lo[c], al);
                    acc[r][2 * c + 1] = vmlal_high_s8(acc[r][2 * c + 1], hi[c], ah);
                }
            }
        }
        const uint16x8_t dh0 = vld1q_u16((const uint16_t *)(const void *)t);
        const uint16x8_t dh1 = vld1q_u16((const uint16_t *)(const void *)t + 8);
        const float32x4_t d[4] = {
            vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(dh0))), vcvt_high_f32_f16(vreinterpretq_f16_u16(dh0)),
            vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(dh1))), vcvt_high_f32_f16(vreinterpretq_f16_u16(dh1)),
        };
#pragma GCC unroll 2
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                int32x4_t dot = pair_sum(vpaddlq_s16(acc[r][2 * c]), vpaddlq_s16(acc[r][2 * c + 1]));
                accf[r][c] = vfmaq_f32(accf[r][c], vcvtq_f32_s32(dot), d[c]);
            }
    }
    PE_TILE_SPILL(tile, accf, mr);
}

typedef void (*q_fn)(const int8_t *q, size_t ldq, const uint8_t *W, int nb, float *tile);
#define Q_FN(KIND, R)                                                                         \
    static void KIND##_##R(const int8_t *q, size_t ldq, const uint8_t *W, int nb, float *tile) { \
        KIND##_tile(q, ldq, W, nb, tile, R);                                                  \
    }
Q_FN(q8, 1) Q_FN(q8, 2) Q_FN(q4, 1) Q_FN(q4, 2)
static const q_fn q_tiles[2][Q_MR] = {{q8_1, q8_2}, {q4_1, q4_2}};

#define Q_TILE(x, v, mr, m, w) \
    q_tiles[(v) - 2][(mr) - 1](PE_QA(x)->q + (size_t)(m) * PE_QA(x)->ldq, PE_QA(x)->ldq, w, PE_QA(x)->nb, tile_)
#include "gemm_panels.h" /* gemm_half, gemm_q */

void pe_neon_gemm_half(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0,
                       int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    /* one tile of rows cannot pay for widening the panel */
    if (t == PE_WT_F16 && K <= HALF_WIDE_KMAX && m1 - m0 > HALF_MR && n1 > n0)
        gemm_half_wide(A, lda, Wv, K, C, ldc, m0, m1, n0, n1, ep);
    else
        gemm_half(A, lda, Wv, K, C, ldc, m0, m1, n0, n1, ep, t);
}

/* ------------------------------------------------------------ softmax */

/* The code round(127 2^t) for t <= 0, as exp2_q8 of qgemm_vnni.c:
 * PE_EXP2Q's cubic of the fraction t - floor t (127 folded into its
 * coefficients), with floor t added to the exponent field.  t is clamped to
 * [-125, 0] first (FMAXNM: a NaN becomes -125), so the sum stays a normal
 * float and the codes in [0, 127]. */
INLINE int32x4_t exp2_127(float32x4_t t, const int clamp_hi) {
    t = vmaxnmq_f32(t, vdupq_n_f32(-125.0f));
    if (clamp_hi) t = vminq_f32(t, vdupq_n_f32(0.0f));
    const float32x4_t n = vrndmq_f32(t), r = vsubq_f32(t, n);
    float32x4_t p = vdupq_n_f32(PE_EXP2Q_C3);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP2Q_C2), p, r);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP2Q_C1), p, r);
    p = vfmaq_f32(vdupq_n_f32(PE_EXP2Q_C0), p, r);
    const int32x4_t e = vcvtq_n_s32_f32(n, 23); /* n 2^23, the exponent field's step, in one FCVTZS */
    return vcvtnq_s32_f32(vreinterpretq_f32_s32(vaddq_s32(vreinterpretq_s32_f32(p), e)));
}

/* 16 codes 127 exp(c (x - max)) (c = scale log2 e) into q; their sum added
 * to sum.  Four independent 4-lane chains per call. */
INLINE int32x4_t softmax16(const float *x, float32x4_t vm, float32x4_t vc, int8_t *q, int32x4_t sum,
                           const int clamp_hi) {
    const float32x4x4_t v = vld1q_f32_x4(x);
    const int32x4_t k0 = exp2_127(vmulq_f32(vsubq_f32(v.val[0], vm), vc), clamp_hi);
    const int32x4_t k1 = exp2_127(vmulq_f32(vsubq_f32(v.val[1], vm), vc), clamp_hi);
    const int32x4_t k2 = exp2_127(vmulq_f32(vsubq_f32(v.val[2], vm), vc), clamp_hi);
    const int32x4_t k3 = exp2_127(vmulq_f32(vsubq_f32(v.val[3], vm), vc), clamp_hi);
    const int8x16_t b = narrow16(k0, k1, k2, k3);
    vst1q_s8(q, b);
    return vpadalq_s16(sum, vpaddlq_s8(b));
}

/* The Horner addends of exp2_127 (C2, C1, C0), each 16 times: an FMLA
 * overwrites its addend, so a constant held in one register costs a MOV per
 * use (12 per 16 scores, a sixth of the row loop in GCC's code); one LD1 of
 * 4 gives the 4 copies that 16 scores consume. */
static const float exp2q_addends[3][16] __attribute__((aligned(64))) = {
#define PE_X16(c) {c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c}
    PE_X16(PE_EXP2Q_C2), PE_X16(PE_EXP2Q_C1), PE_X16(PE_EXP2Q_C0),
#undef PE_X16
};

/* softmax16 without the upper clamp (the row loop with scale >= 0) over nb
 * blocks of 16 scores, in assembly: exp2_127's operations in its order on
 * each 4 lanes (bit-identical), the addends of its FMLAs loaded as copies
 * (exp2q_addends).  Lane group J: the scores t in v(16+J), floor t in vJ,
 * the chain C2 + C3 r in v(20+J), then + C1 in v(24+J), + C0 in v(28+J),
 * then the codes there.  GCC's code of the same, MOVs and all, was 65
 * instructions per 16 scores; this is 56. */
#define SM4(OP) OP(16, 0, 20) OP(17, 1, 21) OP(18, 2, 22) OP(19, 3, 23)
#define SM_SUB(T, N, P) "fsub v" #T ".4s, v" #T ".4s, %[vm].4s\n\t"
#define SM_MUL(T, N, P) "fmul v" #T ".4s, v" #T ".4s, %[vc].4s\n\t"
#define SM_LO(T, N, P) "fmaxnm v" #T ".4s, v" #T ".4s, %[lo].4s\n\t"
#define SM_FLOOR(T, N, P) "frintm v" #N ".4s, v" #T ".4s\n\t"
#define SM_FRAC(T, N, P) "fsub v" #T ".4s, v" #T ".4s, v" #N ".4s\n\t"
#define SM_EXP(T, N, P) "fcvtzs v" #N ".4s, v" #N ".4s, #23\n\t"
#define SM_P2(T, N, P) "fmla v" #P ".4s, %[c3].4s, v" #T ".4s\n\t"
static void softmax_rows(const float *x, int8_t *q, long nb, float32x4_t vm, float32x4_t vc,
                         int32x4_t *sum) {
    const float *k2 = exp2q_addends[0], *k1 = exp2q_addends[1], *k0 = exp2q_addends[2];
    const float32x4_t lo = vdupq_n_f32(-125.0f), c3 = vdupq_n_f32(PE_EXP2Q_C3);
    int32x4_t s = *sum;
    __asm__ volatile("1:\n\t"
                     "ld1 {v16.4s-v19.4s}, [%[x]], #64\n\t"
                     "ld1 {v20.4s-v23.4s}, [%[k2]]\n\t"
                     "ld1 {v24.4s-v27.4s}, [%[k1]]\n\t"
                     "ld1 {v28.4s-v31.4s}, [%[k0]]\n\t"
                     SM4(SM_SUB) SM4(SM_MUL) SM4(SM_LO) SM4(SM_FLOOR) SM4(SM_FRAC) SM4(SM_EXP) SM4(SM_P2)
                     "fmla v24.4s, v20.4s, v16.4s\n\t"
                     "fmla v25.4s, v21.4s, v17.4s\n\t"
                     "fmla v26.4s, v22.4s, v18.4s\n\t"
                     "fmla v27.4s, v23.4s, v19.4s\n\t"
                     "fmla v28.4s, v24.4s, v16.4s\n\t"
                     "fmla v29.4s, v25.4s, v17.4s\n\t"
                     "fmla v30.4s, v26.4s, v18.4s\n\t"
                     "fmla v31.4s, v27.4s, v19.4s\n\t"
                     "add v28.4s, v28.4s, v0.4s\n\t"
                     "add v29.4s, v29.4s, v1.4s\n\t"
                     "add v30.4s, v30.4s, v2.4s\n\t"
                     "add v31.4s, v31.4s, v3.4s\n\t"
                     "fcvtns v28.4s, v28.4s\n\t"
                     "fcvtns v29.4s, v29.4s\n\t"
                     "fcvtns v30.4s, v30.4s\n\t"
                     "fcvtns v31.4s, v31.4s\n\t"
                     "uzp1 v0.8h, v28.8h, v29.8h\n\t"
                     "uzp1 v1.8h, v30.8h, v31.8h\n\t"
                     "uzp1 v0.16b, v0.16b, v1.16b\n\t"
                     "st1 {v0.16b}, [%[q]], #16\n\t"
                     "saddlp v0.8h, v0.16b\n\t"
                     "sadalp %[s].4s, v0.8h\n\t"
                     "subs %[nb], %[nb], #1\n\t"
                     "b.ne 1b\n\t"
                     : [x] "+r"(x), [q] "+r"(q), [nb] "+r"(nb), [s] "+w"(s)
                     : [k2] "r"(k2), [k1] "r"(k1), [k0] "r"(k0), [vm] "w"(vm), [vc] "w"(vc), [lo] "w"(lo),
                       [c3] "w"(c3)
                     : "v0", "v1", "v2", "v3", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
                       "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory");
    *sum = s;
}
#undef SM_P2
#undef SM_EXP
#undef SM_FRAC
#undef SM_FLOOR
#undef SM_LO
#undef SM_MUL
#undef SM_SUB
#undef SM4

/* Same contract as softmax_q8_ref (a row with a NaN or an infinity is
 * marked NaN, the codes within the polynomial's error of 127 exp(scale (x -
 * max)), the padding zero).  x - max may overflow to -inf for huge finite
 * scores; times c that is -inf or NaN, and the clamp makes its code 0. */
void pe_neon_softmax_q8(float *x, int n, float scale, const pe_qact *qa, int m) {
    /* the max and the min: FMAX and FMIN return a NaN when either input is
     * one, so the row is finite when max < inf and min > -inf (2 vector
     * instructions per 4 scores, against 3 for the max of |x| beside the
     * max) */
    float32x4_t vmx[4], vmn[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) vmx[j] = vmn[j] = vdupq_n_f32(x[0]);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const float32x4x4_t v = vld1q_f32_x4(x + i);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            vmn[j] = vminq_f32(vmn[j], v.val[j]);
            vmx[j] = vmaxq_f32(vmx[j], v.val[j]);
        }
    }
    float32x4_t vm4 = vmaxq_f32(vmaxq_f32(vmx[0], vmx[1]), vmaxq_f32(vmx[2], vmx[3]));
    float32x4_t vn4 = vminq_f32(vminq_f32(vmn[0], vmn[1]), vminq_f32(vmn[2], vmn[3]));
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        vn4 = vminq_f32(vn4, v);
        vm4 = vmaxq_f32(vm4, v);
    }
    float mx = vmaxvq_f32(vm4);
    if (!pe_softmax_q8_max(x, i, n, &mx, mx < INFINITY && vminvq_f32(vn4) > -INFINITY, qa, m)) return;
    const float32x4_t vm = vdupq_n_f32(mx), vc = vdupq_n_f32(scale * 1.44269504088896341f);
    int8_t *q = qa->q + (size_t)m * qa->ldq;
    int32x4_t sum = vdupq_n_s32(0);
    /* x - max <= 0 exactly (max is the row's), so with scale >= 0 the
     * upper clamp of exp2_127 changes nothing: the row loop goes without it */
    if (scale >= 0.0f) {
        i = n / 16 * 16;
        if (i) softmax_rows(x, q, n / 16, vm, vc, &sum);
    } else
        for (i = 0; i + 16 <= n; i += 16) sum = softmax16(x + i, vm, vc, q + i, sum, 1);
    if (i < n) { /* the tail: its missing scores are -inf, code 0 */
        float t[32] __attribute__((aligned(16)));
        const float32x4_t ninf = vdupq_n_f32(-INFINITY);
        const int rem = n - i;
        if (n >= 16) {
            /* the row's last 16 scores, then 16 -inf: the tail's rem scores
             * and -inf after them start at 16 - rem (no loop over lanes,
             * ~135 instructions a row before) */
            vst1q_f32_x4(t, vld1q_f32_x4(x + n - 16));
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) vst1q_f32(t + 16 + 4 * j, ninf);
            sum = softmax16(t + 16 - rem, vm, vc, q + i, sum, 1);
        } else {
            for (int j = 0; j < 16; j++) t[j] = j < rem ? x[i + j] : -INFINITY;
            sum = softmax16(t, vm, vc, q + i, sum, 1);
        }
        i += 16;
    }
    for (; i < qa->ldq; i += 16) vst1q_s8(q + i, vdupq_n_s8(0)); /* the padding (ldq: a multiple of 32) */
    const int32_t total = vaddvq_s32(sum);
    qa->rsum[m] = total;
    qa->s[m] = 1.0f / (float)total;
}

/* ------------------------------------------------------------ fast GELU */

/* vf_gelu_fast_x4's byte indices start from 0x03020100 (bytes 4i .. 4i + 3
 * of interval i): 4 copies, one LD1 for the 4 MLAs of a row that overwrite
 * them (a MOV each in GCC's code). */
static const uint32_t gelu_index_base[16] __attribute__((aligned(64))) = {
    0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u,
    0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u,
    0x03020100u, 0x03020100u, 0x03020100u, 0x03020100u,
};

/* vf_gelu_fast_x4 on rows of 16 in assembly, its operations in its order
 * (bit-identical), the 4 coefficient tables held in v16-v31 for every row
 * (GCC's code of the fc1 finish reloaded them, the constants and the index
 * bases a row: ~100 instructions a row of 16 with the bias finish, now 62
 * for the GELU).  Two vectors X, Y at a time, their chains interleaved
 * (one after the other, llvm-mca's Cortex-X2 waited on each chain's
 * latency: 59 cycles a row against 35 of TBL and FMLA issue): t = min(|x|,
 * 5) in T, the interval in P, its byte indices in the base copy B, the
 * Horner chain in P / Q (each step's addend a fresh TBL). */
#define GE_PAIR(X, BX, TX, PX, QX, Y, BY, TY, PY, QY)                                            \
    "fabs v" #TX ".4s, v" #X ".4s\n\t"                                                           \
    "fabs v" #TY ".4s, v" #Y ".4s\n\t"                                                           \
    "fmin v" #TX ".4s, %[five].4s, v" #TX ".4s\n\t"                                               \
    "fmin v" #TY ".4s, %[five].4s, v" #TY ".4s\n\t"                                               \
    "fmul v" #PX ".4s, v" #TX ".4s, %[k].s[0]\n\t"                                                \
    "fmul v" #PY ".4s, v" #TY ".4s, %[k].s[0]\n\t"                                                \
    "fcvtzu v" #PX ".4s, v" #PX ".4s\n\t"                                                         \
    "fcvtzu v" #PY ".4s, v" #PY ".4s\n\t"                                                         \
    "mla v" #BX ".4s, v" #PX ".4s, %[k].s[1]\n\t"                                                 \
    "mla v" #BY ".4s, v" #PY ".4s, %[k].s[1]\n\t"                                                 \
    "tbl v" #PX ".16b, {v28.16b-v31.16b}, v" #BX ".16b\n\t"                                       \
    "tbl v" #PY ".16b, {v28.16b-v31.16b}, v" #BY ".16b\n\t"                                       \
    "tbl v" #QX ".16b, {v24.16b-v27.16b}, v" #BX ".16b\n\t"                                       \
    "tbl v" #QY ".16b, {v24.16b-v27.16b}, v" #BY ".16b\n\t"                                       \
    "fmla v" #QX ".4s, v" #PX ".4s, v" #TX ".4s\n\t"                                              \
    "fmla v" #QY ".4s, v" #PY ".4s, v" #TY ".4s\n\t"                                              \
    "tbl v" #PX ".16b, {v20.16b-v23.16b}, v" #BX ".16b\n\t"                                       \
    "tbl v" #PY ".16b, {v20.16b-v23.16b}, v" #BY ".16b\n\t"                                       \
    "fmla v" #PX ".4s, v" #QX ".4s, v" #TX ".4s\n\t"                                              \
    "fmla v" #PY ".4s, v" #QY ".4s, v" #TY ".4s\n\t"                                              \
    "tbl v" #QX ".16b, {v16.16b-v19.16b}, v" #BX ".16b\n\t"                                       \
    "tbl v" #QY ".16b, {v16.16b-v19.16b}, v" #BY ".16b\n\t"                                       \
    "fmla v" #QX ".4s, v" #PX ".4s, v" #TX ".4s\n\t"                                              \
    "fmla v" #QY ".4s, v" #PY ".4s, v" #TY ".4s\n\t"                                              \
    "fmax v" #X ".4s, v" #X ".4s, %[zero].4s\n\t"                                                 \
    "fmax v" #Y ".4s, v" #Y ".4s, %[zero].4s\n\t"                                                 \
    "fadd v" #X ".4s, v" #X ".4s, v" #QX ".4s\n\t"                                                \
    "fadd v" #Y ".4s, v" #Y ".4s, v" #QY ".4s\n\t"
void pe_neon_gelu16_rows(float *c, size_t ldc, long rows) {
    const float *k = &pe_gelu_fast_k[0][0];
    const uint32_t *base = gelu_index_base;
    const size_t ldb = ldc * sizeof(float);
    /* the rows read through their own pointer: through the store's, each
     * row's loads waited (in llvm-mca's model) for the previous row's
     * store, 57 X2 cycles a row instead of ~35 */
    const float *src = c;
    const float32x4_t five = vdupq_n_f32(PE_GELU_FAST_T), zero = vdupq_n_f32(0.0f);
    /* the by-element operands: lane 0 PE_GELU_FAST_INV_W, lane 1 the index step */
    const uint32x4_t kb = {0x40400000u, 0x04040404u, 0, 0};
    const float32x4_t kv = vreinterpretq_f32_u32(kb);
    _Static_assert(PE_GELU_FAST_INV_W == 3.0f, "kb's lane 0 is the bits of PE_GELU_FAST_INV_W");
    __asm__ volatile("ld1 {v16.16b-v19.16b}, [%[tab]], #64\n\t"
                     "ld1 {v20.16b-v23.16b}, [%[tab]], #64\n\t"
                     "ld1 {v24.16b-v27.16b}, [%[tab]], #64\n\t"
                     "ld1 {v28.16b-v31.16b}, [%[tab]]\n\t"
                     "1:\n\t"
                     "ld1 {v4.4s-v7.4s}, [%[src]], %[ldb]\n\t"
                     "ld1 {v8.4s, v9.4s}, [%[base]]\n\t"
                     GE_PAIR(4, 8, 12, 13, 14, 5, 9, 15, 10, 11)
                     "ld1 {v8.4s, v9.4s}, [%[base]]\n\t"
                     GE_PAIR(6, 8, 12, 13, 14, 7, 9, 15, 10, 11)
                     "st1 {v4.4s-v7.4s}, [%[c]], %[ldb]\n\t"
                     "subs %[rows], %[rows], #1\n\t"
                     "b.ne 1b\n\t"
                     : [c] "+r"(c), [src] "+r"(src), [rows] "+r"(rows), [tab] "+r"(k)
                     : [base] "r"(base), [ldb] "r"(ldb), [five] "w"(five), [zero] "w"(zero), [k] "w"(kv)
                     : "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16",
                       "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28",
                       "v29", "v30", "v31", "cc", "memory");
}
#undef GE_PAIR

/* ------------------------------------------------------------ values */

/* The nc (0..16) floats at p as 4 vectors, zeros beyond. */
INLINE float32x4x4_t load16_part(const float *p, int nc) {
    if (nc == 16) return vld1q_f32_x4(p);
    float t[16] = {0};
    memcpy(t, p, (size_t)nc * sizeof(float));
    return vld1q_f32_x4(t);
}

/* Same arithmetic as pe_pack_q8_t_ref (FRINTN rounds to nearest even as
 * rintf; FMAXNM skips a NaN as fmaxf, and sends a NaN product to -127 as
 * the reference's clamp): a panel's 16 columns are 4 vectors per row of W,
 * each row's codes narrow to one byte vector, and ST4 interleaves 4 rows
 * into the 64 bytes of one k-group. */
void pe_neon_pack_q8_t(void *dst, const float *W, int ldw, int T, int n) {
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, T);
    const int Tp = (T + PE_QK - 1) / PE_QK * PE_QK;
    const float32x4_t v127 = vdupq_n_f32(127.0f), lo = vdupq_n_f32(-127.0f), zero = vdupq_n_f32(0.0f);
    for (int c0 = 0; c0 < n; c0 += PE_GEMM_NR) {
        uint8_t *o = (uint8_t *)dst + (size_t)(c0 / PE_GEMM_NR) * pb;
        const int nc = imin(n - c0, PE_GEMM_NR);
        float32x4_t mx[4], nanmx[4], inv[4]; /* nanmx: FMAX, which keeps a NaN */
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) mx[j] = nanmx[j] = zero;
        for (int t = 0; t < T; t++) {
            const float32x4x4_t v = load16_part(W + (size_t)t * ldw + c0, nc);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const float32x4_t a = vabsq_f32(v.val[j]);
                mx[j] = vmaxnmq_f32(mx[j], a);
                nanmx[j] = vmaxq_f32(nanmx[j], a);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const uint32x4_t nz = vcgtq_f32(mx[j], zero), nan = vmvnq_u32(vceqq_f32(nanmx[j], nanmx[j]));
            inv[j] = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(vdivq_f32(v127, mx[j])), nz));
            vst1q_f32((float *)(void *)o + 4 * j, vbslq_f32(nan, vdupq_n_f32(NAN), vdivq_f32(mx[j], v127)));
        }
        for (int t0 = 0; t0 < Tp; t0 += 4) {
            uint8x16x4_t g;
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                const int t = t0 + i;
                float32x4x4_t v = {{zero, zero, zero, zero}};
                if (t < T) v = load16_part(W + (size_t)t * ldw + c0, nc);
                int32x4_t c[4];
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    c[j] = vcvtq_s32_f32(vminq_f32(vmaxnmq_f32(vrndnq_f32(vmulq_f32(v.val[j], inv[j])), lo), v127));
                /* code + 128 is code ^ 0x80 in a byte */
                g.val[i] = veorq_u8(vreinterpretq_u8_s8(narrow16(c[0], c[1], c[2], c[3])), vdupq_n_u8(0x80));
            }
            vst4q_u8(o + PE_Q8_HEAD + (size_t)(t0 / PE_QK) * sizeof(pe_tile_q8) + (size_t)((t0 % PE_QK) / 4) * 64, g);
        }
    }
}

const pe_qkernels pe_qkernels_neon = {
    .name = "neon",
    .gemm_half = pe_neon_gemm_half,
    .quantize_rows = pe_neon_quantize_rows,
    .gemm_q = gemm_q,
    .softmax_q8 = pe_neon_softmax_q8,
    .pack_q8_t = pe_neon_pack_q8_t,
};
