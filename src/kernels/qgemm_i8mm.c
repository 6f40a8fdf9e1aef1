/* ARMv8.6 int8 matrix-multiply kernels for q8 weights (compiled with +i8mm;
 * reached only through pe_qkernels_i8mm after dispatch saw I8MM and ASIMDDP
 * in HWCAP).  qgemm_ref.c is the specification; the layouts are in quant.h.
 *
 * USMMLA multiplies a 2x8 block of unsigned bytes by the transpose of a 2x8
 * block of signed ones into 2x2 int32: the stored weights (q + 128) are the
 * unsigned side as they are, the activation codes the signed one, and the
 * accumulators start at -128 * (row sum of the codes), as in the VNNI
 * kernel.  The operand it wants is 2 columns x 8 consecutive k; the stored
 * VNNI layout holds 4 columns x 4 k per 16 bytes (quant.h), so ZIP1/ZIP2 on
 * the 32-bit lanes of the registers of groups g and g + 1 give columns
 * (4c, 4c+1) and (4c+2, 4c+3) x k = 4g..4g+7.  That is 8 ZIPs per 8 k,
 * shared by the 16 USMMLAs of the 4 rows of a tile; a layout stored for
 * i8mm would save them, but quantized files are mapped zero-copy and shared
 * by every ISA, so the file format stays one.
 *
 * q4 runs the dot-product set's SDOT kernel (its nibbles need unpacking
 * either way, and a second float accumulator set leaves no registers for
 * the 2x2 blocks); the other entries are the plain NEON set's. */
#include "qgemm_arm.h"

#include <arm_neon.h>

/* 2 pairs of rows x 16 columns: 16 accumulators of 2 columns x 2 rows,
 * lanes (c0 r0, c0 r1, c1 r0, c1 r1). */
#define PAIRS 2
#define Q8MR (2 * PAIRS)

INLINE int8x16_t rows8(const int8_t *r0, const int8_t *r1) { return vcombine_s8(vld1_s8(r0), vld1_s8(r1)); }

INLINE uint8x16_t zip1_32(uint8x16_t a, uint8x16_t b) {
    return vreinterpretq_u8_u32(vzip1q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
}

INLINE uint8x16_t zip2_32(uint8x16_t a, uint8x16_t b) {
    return vreinterpretq_u8_u32(vzip2q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
}

/* mr rows (an odd last row is computed twice and stored once). */
INLINE void q8_tile(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W, int nb,
                    float *tile, const int mr) {
    const int pairs = (mr + 1) / 2;
    const int8_t *row[Q8MR];
    int32x4_t acc[PAIRS][8];
#pragma GCC unroll 2
    for (int p = 0; p < pairs; p++) {
        const int r0 = 2 * p, r1 = 2 * p + 1 < mr ? 2 * p + 1 : 2 * p;
        row[r0] = q + r0 * ldq;
        row[2 * p + 1] = q + r1 * ldq;
        const int32x2_t s = {-128 * rsum[r0], -128 * rsum[r1]};
        const int32x4_t init = vcombine_s32(s, s);
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) acc[p][c] = init;
    }
    const uint8_t *t = W + PE_Q8_HEAD;
    /* 8 codes of K are 2 groups of 64 bytes: byte offset 16 k */
    for (int k = 0; k < nb * PE_QK; k += 8) {
        int8x16_t a[PAIRS];
#pragma GCC unroll 2
        for (int p = 0; p < pairs; p++) a[p] = rows8(row[2 * p] + k, row[2 * p + 1] + k);
        const uint8_t *w = t + (size_t)k * 16;
        /* half a group (8 columns) at a time: all 8 registers of the two
         * groups and their 8 ZIPs at once would spill an accumulator */
#pragma GCC unroll 2
        for (int c2 = 0; c2 < 4; c2 += 2) {
            const uint8x16x2_t g0 = vld1q_u8_x2(w + 16 * c2), g1 = vld1q_u8_x2(w + 64 + 16 * c2);
            LOAD_FENCE();
#pragma GCC unroll 2
            for (int i = 0; i < 2; i++) {
                const int c = c2 + i;
                const uint8x16_t lo = zip1_32(g0.val[i], g1.val[i]), hi = zip2_32(g0.val[i], g1.val[i]);
#pragma GCC unroll 2
                for (int p = 0; p < pairs; p++) {
                    acc[p][2 * c] = vusmmlaq_s32(acc[p][2 * c], lo, a[p]);
                    acc[p][2 * c + 1] = vusmmlaq_s32(acc[p][2 * c + 1], hi, a[p]);
                }
            }
        }
    }
    const float *d = (const float *)(const void *)W;
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        const float32x4_t dc = vld1q_f32(d + 4 * c);
#pragma GCC unroll 2
        for (int p = 0; p < pairs; p++) {
            /* columns 4c..4c+3 of row 2p, then of row 2p + 1 */
            vst1q_f32(tile + 2 * p * 16 + 4 * c,
                      vmulq_f32(vcvtq_f32_s32(vuzp1q_s32(acc[p][2 * c], acc[p][2 * c + 1])), dc));
            if (2 * p + 1 < mr)
                vst1q_f32(tile + (2 * p + 1) * 16 + 4 * c,
                          vmulq_f32(vcvtq_f32_s32(vuzp2q_s32(acc[p][2 * c], acc[p][2 * c + 1])), dc));
        }
    }
}

typedef void (*q8_fn)(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W, int nb,
                      float *tile);

#define Q8_FN(MR)                                                                                \
    static void q8_##MR(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W,      \
                        int nb, float *tile) {                                                   \
        q8_tile(q, ldq, rsum, W, nb, tile, MR);                                                  \
    }
Q8_FN(1) Q8_FN(2) Q8_FN(3) Q8_FN(4)
static const q8_fn q8_tiles[Q8MR] = {q8_1, q8_2, q8_3, q8_4};

static void gemm_q(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    if (m1 <= m0 || n1 <= n0) return;
    if (t == PE_WT_Q4) {
        pe_neondot_gemm_q4(qa, Wv, K, C, ldc, m0, m1, n0, n1, ep);
        return;
    }
    const uint8_t *Wp = Wv;
    const int nb = qa->ldq / PE_QK;
    const size_t pstride = pe_qpack_panel_bytes(PE_WT_Q8, K);
    float tile[Q8MR * PE_GEMM_NR] __attribute__((aligned(16)));
    for (int n = n0; n < n1; n += PE_GEMM_NR) {
        const uint8_t *w = Wp + (size_t)(n / PE_GEMM_NR) * pstride;
        const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        for (int m = m0; m < m1; m += Q8MR) {
            const int mr = m1 - m < Q8MR ? m1 - m : Q8MR;
            q8_tiles[mr - 1](qa->q + (size_t)m * qa->ldq, (size_t)qa->ldq, qa->rsum + m, w, nb, tile);
            pe_arm_qtile_store(tile, mr, ncols, qa->s + m, C + (size_t)m * ldc + n, ldc, ep, m, n);
        }
    }
}

const pe_qkernels pe_qkernels_i8mm = {
    .name = "neon-i8mm",
    .gemm_half = pe_neon_gemm_half,
    .quantize_rows = pe_neon_quantize_rows,
    .gemm_q = gemm_q,
    .softmax_q8 = pe_neon_softmax_q8,
    .pack_q8_t = pe_neon_pack_q8_t,
};
