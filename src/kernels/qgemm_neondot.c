/* ARMv8.2 dot-product kernels for q8 / q4 weights (compiled with
 * -march=armv8.2-a+dotprod+fp16; reached only through pe_qkernels_neondot
 * after isa.c saw ASIMDDP in HWCAP).  qgemm_ref.c is the specification;
 * the layouts are in quant.h.  The entries without a dot product in them
 * are the plain NEON set's.
 *
 * The VNNI layout of a q8 tile is what UDOT/SDOT by element wants: one
 * 16-byte load at 64 g + 16 c holds columns 4c..4c+3 x codes k = 4g..4g+3,
 * and lane g of a 16-byte load of activations holds the same 4 k of one row.
 * The weights are stored unsigned (q + 128) and the activations are signed;
 * without USDOT (i8mm) one side must change sign.  For K up to FLIP_KMAX
 * the weights do, once per panel and call: the first full row tile EORs
 * them with 0x80 (w - 128 = the code) into a stack copy as its K loop reads
 * them, and every tile multiplies s8 by s8 with no correction (flip_panel
 * does it when a call has no full tile).  Longer rows flip the activations
 * in the K loop (a ^ 0x80 = a + 128, one EOR per row and 16 k), multiply u8
 * by u8 and correct with the column sums of the stored codes, computed once
 * per panel and call:
 *   sum (w - 128) a = sum w (a + 128) - 128 sum w - 128 sum a,
 * in uint32 arithmetic: it may wrap, but the true result fits int32
 * (quant.h: K <= PE_Q8_KMAX), so the wrapped value read as int32 is it. */
#include "qgemm_arm.h"

#include <string.h>

/* The vectors of an epilogue without bias or gamma (pe_qout_at). */
const float pe_qout_zeros[PE_GEMM_NR] __attribute__((aligned(16))) = {0};
const float pe_qout_ones[PE_GEMM_NR] __attribute__((aligned(16))) = {1, 1, 1, 1, 1, 1, 1, 1,
                                                                     1, 1, 1, 1, 1, 1, 1, 1};

/* ------------------------------------------------------------ q8 */

#define Q8MR 5

/* Per-column sums of the stored codes of one q8 panel over nb tiles, stored
 * as the tiles' seed -128 * sum (mod 2^32): once per panel, not per tile. */
static void q8_colsum(const uint8_t *W, int nb, uint32_t sum[PE_GEMM_NR]) {
    const uint8x16_t ones = vdupq_n_u8(1);
    uint32x4_t s0 = vdupq_n_u32(0), s1 = s0, s2 = s0, s3 = s0;
    const uint8_t *t = W + PE_Q8_HEAD;
    for (int g = 0; g < nb * 8; g++) {
        uint8x16x4_t w = vld1q_u8_x4(t + (size_t)g * 64);
        s0 = vdotq_u32(s0, w.val[0], ones);
        s1 = vdotq_u32(s1, w.val[1], ones);
        s2 = vdotq_u32(s2, w.val[2], ones);
        s3 = vdotq_u32(s3, w.val[3], ones);
    }
    const uint32x4_t z = vdupq_n_u32(0);
    vst1q_u32(sum, vsubq_u32(z, vshlq_n_u32(s0, 7)));
    vst1q_u32(sum + 4, vsubq_u32(z, vshlq_n_u32(s1, 7)));
    vst1q_u32(sum + 8, vsubq_u32(z, vshlq_n_u32(s2, 7)));
    vst1q_u32(sum + 12, vsubq_u32(z, vshlq_n_u32(s3, 7)));
}

/* The panel's codes as signed bytes (stored - 128 = the weight code),
 * once per panel and call, into a stack copy that every row tile reads (for
 * K up to FLIP_KMAX, B16's 3072 inputs): then SDOT multiplies the signed
 * codes of both sides, with no correction seeds and no flip of the
 * activations in the K loop (an EOR per row and 16 k, 5 of its 101
 * instructions).  Longer rows run the unsigned form above. */
#define FLIP_KMAX 3072

/* 128 bytes a trip in single vectors (LDP / STP): GCC 12 sent an LD1 of 4
 * whose registers were changed through the stack, 17 instructions per 64
 * bytes. */
static void flip_panel(const uint8_t *W, int nb, int8_t *F) {
    const uint8_t *t = W + PE_Q8_HEAD;
    uint8_t *f = (uint8_t *)F;
    const uint8x16_t flip = vdupq_n_u8(0x80);
    for (size_t i = 0; i < (size_t)nb * sizeof(pe_tile_q8); i += 128) {
        uint8x16_t v[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) v[j] = veorq_u8(vld1q_u8(t + i + 16 * j), flip);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) vst1q_u8(f + i + 16 * j, v[j]);
    }
}

/* The K loop of a full flipped tile (5 rows) in assembly, 32 k a trip: 160
 * SDOTs, 10 row loads and 8 weight loads (LD1 of 4, post-incremented), a
 * SUBS and a branch, 91 instructions per 16 k.  GCC 12 makes 96 of the C
 * loop (an ADD per row pointer and trip, a MOV of an accumulator) and
 * cannot unroll it without spilling.  The accumulator of row r, column
 * vector c is v(12 + 4 r + c), so that ST1 of 4 stores a row; v0-v3 hold a
 * group of weights, v4-v8 the 5 rows.  (An asm statement takes at most 30
 * operands, an in-out one counting twice: the 20 accumulators cannot be
 * operands.)  Stores the accumulators to sp ([5][16]) as q8_acc_*: the
 * stack tile's full tiles (a panel narrower than 16 columns); the others
 * run q8_asm5_tiles (below), the same K loop with the finish after it.
 * With dst, the weights come from the stored panel src instead and are
 * flipped (EOR with v9) and stored to dst on the way: the first tile of a
 * panel makes its flipped copy for the others, 5 instructions per 64 bytes
 * where flip_panel takes 11. */
#define SD1(V, C, R, G) "sdot v" #V ".4s, v" #C ".16b, v" #R ".4b[" #G "]\n\t"
#define SD_ROW(V0, V1, V2, V3, R, G) SD1(V0, 0, R, G) SD1(V1, 1, R, G) SD1(V2, 2, R, G) SD1(V3, 3, R, G)
#define SD_LOAD "ld1 {v0.16b-v3.16b}, [%[w]], #64\n\t"
#define SD_LOAD_FLIP                                                                             \
    SD_LOAD "eor v0.16b, v0.16b, v9.16b\n\t"                                                     \
            "eor v1.16b, v1.16b, v9.16b\n\t"                                                     \
            "eor v2.16b, v2.16b, v9.16b\n\t"                                                     \
            "eor v3.16b, v3.16b, v9.16b\n\t"                                                     \
            "st1 {v0.16b-v3.16b}, [%[f]], #64\n\t"
#define SD_GROUP(G, LOADW)                                                                       \
    LOADW SD_ROW(12, 13, 14, 15, 4, G) SD_ROW(16, 17, 18, 19, 5, G) SD_ROW(20, 21, 22, 23, 6, G) \
        SD_ROW(24, 25, 26, 27, 7, G) SD_ROW(28, 29, 30, 31, 8, G)
#define SD_16K(LOADW)                                                                            \
    "ldr q4, [%[r0], %[k]]\n\t"                                                                   \
    "ldr q5, [%[r1], %[k]]\n\t"                                                                   \
    "ldr q6, [%[r2], %[k]]\n\t"                                                                   \
    "ldr q7, [%[r3], %[k]]\n\t"                                                                   \
    "ldr q8, [%[r4], %[k]]\n\t"                                                                 \
    "add %[k], %[k], #16\n\t" SD_GROUP(0, LOADW) SD_GROUP(1, LOADW) SD_GROUP(2, LOADW)           \
        SD_GROUP(3, LOADW)
#define SD_ZERO4(A, B, C, D) "movi v" #A ".4s, #0\n\tmovi v" #B ".4s, #0\n\tmovi v" #C ".4s, #0\n\tmovi v" #D ".4s, #0\n\t"
#define SD_LOOP_K(LOADW)                                                                         \
    SD_ZERO4(12, 13, 14, 15) SD_ZERO4(16, 17, 18, 19) SD_ZERO4(20, 21, 22, 23)                   \
        SD_ZERO4(24, 25, 26, 27) SD_ZERO4(28, 29, 30, 31) "1:\n\t" SD_16K(LOADW) SD_16K(LOADW)    \
            "subs %[n], %[n], #1\n\t"                                                            \
            "b.ne 1b\n\t"
#define SD_LOOP(LOADW)                                                                           \
    SD_LOOP_K(LOADW)                                                                             \
            "st1 {v12.4s-v15.4s}, [%[sp]], #64\n\t"                                              \
            "st1 {v16.4s-v19.4s}, [%[sp]], #64\n\t"                                              \
            "st1 {v20.4s-v23.4s}, [%[sp]], #64\n\t"                                              \
            "st1 {v24.4s-v27.4s}, [%[sp]], #64\n\t"                                              \
            "st1 {v28.4s-v31.4s}, [%[sp]]\n\t"
#define SD_CLOBBERS                                                                              \
    "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v12", "v13", "v14", "v15", "v16",     \
        "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28",      \
        "v29", "v30", "v31", "cc", "memory"

static __attribute__((noinline)) void q8_asm5(const int8_t *q, size_t ldq, const uint8_t *src, int8_t *dst,
                                              int nb, int32_t *sp) {
    const int8_t *r0 = q, *r1 = q + ldq, *r2 = q + 2 * ldq, *r3 = q + 3 * ldq, *r4 = q + 4 * ldq;
    const uint8_t *w = src;
    long n = nb; /* 32 k a trip; nb >= 1 */
    /* the rows at register offset k: a post-indexed LDR is 3 micro-ops to
     * llvm-mca's X1 / X2 models and slower on its A55 one */
    size_t k = 0;
    if (dst)
        __asm__ volatile("movi v9.16b, #0x80\n\t" SD_LOOP(SD_LOAD_FLIP)
                         : [w] "+r"(w), [f] "+r"(dst), [n] "+r"(n), [sp] "+r"(sp), [k] "+r"(k)
                         : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3), [r4] "r"(r4)
                         : "v9", SD_CLOBBERS);
    else
        __asm__ volatile(SD_LOOP(SD_LOAD)
                         : [w] "+r"(w), [n] "+r"(n), [sp] "+r"(sp), [k] "+r"(k)
                         : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3), [r4] "r"(r4)
                         : SD_CLOBBERS);
}

/* The full flipped tiles of a panel with their finish in the same asm
 * statement, straight into C: `tiles` tiles of 5 rows down the panel, each
 * its K loop (as q8_asm5's), then its rows through o's mode (QOUT_SCALE,
 * QOUT_BIAS or QOUT_RES) as q8_tile and pe_qout_row do them: the integer
 * products converted, times the column scales (v0-v3), then times the row
 * scale (FMUL by element), or FMLA into the bias (vfmaq_n_f32), and for
 * the residual finish FMLA of gamma times that into the residual row
 * (vfmaq_f32), the same operations in the same order.  Where q8_asm5
 * stored its accumulators to the stack for a C finish to reload (10 X1
 * cycles of stores a tile, then a call and ~80 instructions a tile), the
 * finish reads them in place: the accumulators of row r (v12+4r..) are
 * consecutive, so one ST1 of 4 stores a scaled row.  The row pointers are
 * made from r0 per tile (r0 then moves 5 rows on); the weights and trip
 * count start again from w0 and n0.  Registers in the finish: v0-v3 the
 * column scales (gamma, then reloaded, in a residual row), v4-v7 the bias
 * row, v8 the row scales of rows 0-3 and v10 row 4's. */
#define SD_ROW_SCALE(A0, A1, A2, A3, S, L)                                                       \
    QA_CVT_COLS4(A0, A1, A2, A3)                                                                 \
    "fmul v" #A0 ".4s, v" #A0 ".4s, v" #S ".s[" #L "]\n\t"                                       \
    "fmul v" #A1 ".4s, v" #A1 ".4s, v" #S ".s[" #L "]\n\t"                                       \
    "fmul v" #A2 ".4s, v" #A2 ".4s, v" #S ".s[" #L "]\n\t"                                       \
    "fmul v" #A3 ".4s, v" #A3 ".4s, v" #S ".s[" #L "]\n\t"                                       \
    "st1 {v" #A0 ".4s-v" #A3 ".4s}, [%[c]], %[ldc]\n\t"
#define SD_BIAS_FMLA(A0, A1, A2, A3, S, L)                                                       \
    "ld1 {v4.4s-v7.4s}, [%[bias]]\n\t" QA_CVT_COLS4(A0, A1, A2, A3)                              \
    "fmla v4.4s, v" #A0 ".4s, v" #S ".s[" #L "]\n\t"                                             \
    "fmla v5.4s, v" #A1 ".4s, v" #S ".s[" #L "]\n\t"                                             \
    "fmla v6.4s, v" #A2 ".4s, v" #S ".s[" #L "]\n\t"                                             \
    "fmla v7.4s, v" #A3 ".4s, v" #S ".s[" #L "]\n\t"
#define SD_ROW_BIAS(A0, A1, A2, A3, S, L)                                                        \
    SD_BIAS_FMLA(A0, A1, A2, A3, S, L) "st1 {v4.4s-v7.4s}, [%[c]], %[ldc]\n\t"
/* the residual row read into the row's spent accumulators before the row
 * is stored (the pass's C is the residual) */
#define SD_ROW_RES(A0, A1, A2, A3, S, L)                                                         \
    SD_BIAS_FMLA(A0, A1, A2, A3, S, L)                                                           \
    "ld1 {v" #A0 ".4s-v" #A3 ".4s}, [%[res]], %[ldr]\n\t"                                        \
    "ld1 {v0.4s-v3.4s}, [%[gamma]]\n\t"                                                          \
    "fmla v" #A0 ".4s, v0.4s, v4.4s\n\t"                                                         \
    "fmla v" #A1 ".4s, v1.4s, v5.4s\n\t"                                                         \
    "fmla v" #A2 ".4s, v2.4s, v6.4s\n\t"                                                         \
    "fmla v" #A3 ".4s, v3.4s, v7.4s\n\t"                                                         \
    "st1 {v" #A0 ".4s-v" #A3 ".4s}, [%[c]], %[ldc]\n\t"                                          \
    "ld1 {v0.4s-v3.4s}, [%[cs]]\n\t"
#define SD_FINISH(ROW)                                                                           \
    "ld1 {v0.4s-v3.4s}, [%[cs]]\n\t"                                                             \
    "ldr q8, [%[rs]]\n\t"                                                                        \
    "ldr s10, [%[rs], #16]\n\t"                                                                  \
    "add %[rs], %[rs], #20\n\t" ROW(12, 13, 14, 15, 8, 0) ROW(16, 17, 18, 19, 8, 1)              \
        ROW(20, 21, 22, 23, 8, 2) ROW(24, 25, 26, 27, 8, 3) ROW(28, 29, 30, 31, 10, 0)
#define SD_TILES(LOADW, FINISH)                                                                  \
    "2:\n\t"                                                                                     \
    "add %[r1], %[r0], %[ldq]\n\t"                                                               \
    "add %[r2], %[r1], %[ldq]\n\t"                                                               \
    "add %[r3], %[r2], %[ldq]\n\t"                                                               \
    "add %[r4], %[r3], %[ldq]\n\t"                                                               \
    "mov %[w], %[w0]\n\t"                                                                        \
    "mov %[n], %[n0]\n\t"                                                                        \
    "mov %[k], #0\n\t" SD_LOOP_K(LOADW) FINISH                                                   \
    "add %[r0], %[r4], %[ldq]\n\t"                                                               \
    "subs %[t], %[t], #1\n\t"                                                                    \
    "b.ne 2b\n\t"
/* scratch: w, n, k and the rows 1-4 (early clobbers: written before the
 * inputs are last read) */
#define SD_SCRATCH                                                                               \
    [w] "=&r"(w), [n] "=&r"(n), [k] "=&r"(k), [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3),    \
        [r4] "=&r"(r4), [r0] "+r"(r0), [c] "+r"(c), [rs] "+r"(rs), [t] "+r"(tiles)
#define SD_IN [w0] "r"(w0), [n0] "r"(n0), [ldq] "r"(ldq), [cs] "r"(cs), [ldc] "r"(ldc)
#define SD_FCLOBBERS "v10", SD_CLOBBERS

/* tiles >= 1 full flipped tiles from rows q down, finished through o (not
 * QOUT_TILE) with the column scales cs; with dst, the weights come from
 * the stored panel src and are flipped into dst on the way (the panel's
 * first tile: call it with tiles = 1), else from the flipped copy src. */
static __attribute__((noinline)) void q8_asm5_tiles(const int8_t *q, size_t ldq, const uint8_t *src,
                                                    int8_t *dst, int nb, const pe_qout *o,
                                                    const float *cs, long tiles) {
    const int8_t *r0 = q, *r1, *r2, *r3, *r4;
    const uint8_t *w, *w0 = src;
    long n, n0 = nb; /* 32 k a trip; nb >= 1 */
    size_t k;
    float *c = o->C;
    const float *rs = o->rs, *bias = o->bias, *gamma = o->gamma, *res = o->res;
    const size_t ldc = o->ldc * sizeof(float), ldr = o->ldr * sizeof(float);
    if (dst) {
        if (o->mode == QOUT_RES)
            __asm__ volatile("movi v9.16b, #0x80\n\t" SD_TILES(SD_LOAD_FLIP, SD_FINISH(SD_ROW_RES))
                             : SD_SCRATCH, [f] "+r"(dst), [res] "+r"(res)
                             : SD_IN, [bias] "r"(bias), [gamma] "r"(gamma), [ldr] "r"(ldr)
                             : "v9", SD_FCLOBBERS);
        else if (o->mode == QOUT_BIAS)
            __asm__ volatile("movi v9.16b, #0x80\n\t" SD_TILES(SD_LOAD_FLIP, SD_FINISH(SD_ROW_BIAS))
                             : SD_SCRATCH, [f] "+r"(dst)
                             : SD_IN, [bias] "r"(bias)
                             : "v9", SD_FCLOBBERS);
        else
            __asm__ volatile("movi v9.16b, #0x80\n\t" SD_TILES(SD_LOAD_FLIP, SD_FINISH(SD_ROW_SCALE))
                             : SD_SCRATCH, [f] "+r"(dst)
                             : SD_IN
                             : "v9", SD_FCLOBBERS);
    } else if (o->mode == QOUT_RES)
        __asm__ volatile(SD_TILES(SD_LOAD, SD_FINISH(SD_ROW_RES))
                         : SD_SCRATCH, [res] "+r"(res)
                         : SD_IN, [bias] "r"(bias), [gamma] "r"(gamma), [ldr] "r"(ldr)
                         : SD_FCLOBBERS);
    else if (o->mode == QOUT_BIAS)
        __asm__ volatile(SD_TILES(SD_LOAD, SD_FINISH(SD_ROW_BIAS))
                         : SD_SCRATCH
                         : SD_IN, [bias] "r"(bias)
                         : SD_FCLOBBERS);
    else
        __asm__ volatile(SD_TILES(SD_LOAD, SD_FINISH(SD_ROW_SCALE))
                         : SD_SCRATCH
                         : SD_IN
                         : SD_FCLOBBERS);
}
#undef SD_FCLOBBERS
#undef SD_IN
#undef SD_SCRATCH
#undef SD_TILES
#undef SD_FINISH
#undef SD_ROW_RES
#undef SD_ROW_BIAS
#undef SD_BIAS_FMLA
#undef SD_ROW_SCALE
#undef SD_CLOBBERS
#undef SD_LOOP_K
#undef SD_LOOP
#undef SD_ZERO4
#undef SD_16K
#undef SD_GROUP
#undef SD_LOAD_FLIP
#undef SD_LOAD
#undef SD_ROW
#undef SD1

/* mr rows x 16 columns: the accumulators stay in registers over all of K
 * (20 of them, 5 activation rows and 4 weight registers: 29 of the 32),
 * seeded with the correction (none when flipped), then one multiply by the
 * column scales.  flipped: the weights come from flip_panel's copy F. */
/* The K loop alone, its accumulators stored to sp ([mr][16]): the tiles
 * whose finish is more than a multiply call it (below), since with that
 * finish in the same function GCC 12 shuffles accumulators between
 * registers in the K loop (4 MOVs per 16 k). */
#define Q8_SPILL 5
typedef void (*q8_acc_fn)(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W,
                          const uint32_t *colsum, const int8_t *F, int nb, int32_t *sp);
#define Q8_ACC_DECL(MR, FL)                                                                      \
    static void q8_acc_##MR##_##FL(const int8_t *, size_t, const int32_t *, const uint8_t *,     \
                                   const uint32_t *, const int8_t *, int, int32_t *);
#define Q8_ACC_DECLS(FL)                                                                         \
    Q8_ACC_DECL(1, FL) Q8_ACC_DECL(2, FL) Q8_ACC_DECL(3, FL) Q8_ACC_DECL(4, FL) Q8_ACC_DECL(5, FL)
Q8_ACC_DECLS(0) Q8_ACC_DECLS(1)

INLINE void q8_tile(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W,
                    const uint32_t *colsum, int8_t *F, int fresh, int nb, const pe_qout *o,
                    const int mr, const int flipped, const int mode, int32_t *sp) {
    const float *d = (const float *)(const void *)W;
    /* through the stored accumulators: a finish beyond a multiply, and
     * every full flipped tile reaching here (QOUT_TILE: its K loop is
     * q8_asm5's; gemm_q8 sends the others to q8_asm5_tiles) */
    if (mode != Q8_SPILL && (mode != QOUT_SCALE || (flipped && mr == Q8MR))) {
        int32_t spill[Q8MR * 16] __attribute__((aligned(16)));
        static const q8_acc_fn accs[2][Q8MR] = {
            {q8_acc_1_0, q8_acc_2_0, q8_acc_3_0, q8_acc_4_0, q8_acc_5_0},
            {q8_acc_1_1, q8_acc_2_1, q8_acc_3_1, q8_acc_4_1, q8_acc_5_1},
        };
        if (flipped && mr == Q8MR) /* fresh: the panel is flipped into F on the way */
            q8_asm5(q, ldq, fresh ? W + PE_Q8_HEAD : (const uint8_t *)F, fresh ? F : NULL, nb, spill);
        else accs[flipped][mr - 1](q, ldq, rsum, W, colsum, F, nb, spill);
        const pe_qout ol = *o; /* see PE_QOUT_LOCAL */
        const float32x4x4_t dc = vld1q_f32_x4(d);
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) {
            const int32x4x4_t a = vld1q_s32_x4(spill + 16 * r);
            float32x4_t v[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) v[c] = vmulq_f32(vcvtq_f32_s32(a.val[c]), dc.val[c]);
            pe_qout_row(&ol, r, v, mode);
        }
        return;
    }
    int32x4_t acc[Q8MR][4];
    if (flipped) {
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_s32(0);
    } else {
        const uint32x4x4_t sd = vld1q_u32_x4(colsum); /* -128 * column sums (q8_colsum) */
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) {
            uint32x4_t rs = vdupq_n_u32((uint32_t)rsum[r] << 7);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) acc[r][c] = vreinterpretq_s32_u32(vsubq_u32(sd.val[c], rs));
        }
    }
    const uint8_t *t = flipped ? (const uint8_t *)F : W + PE_Q8_HEAD;
    const uint8x16_t flip = vdupq_n_u8(0x80);
    const uint8_t *a0 = (const uint8_t *)q;
    /* 16 codes of K are 4 groups of 64 bytes: byte offset 16 k */
    for (int k = 0; k < nb * PE_QK; k += 16) {
        uint8x16_t a[Q8MR];
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) {
            a[r] = vld1q_u8(a0 + r * ldq + k);
            if (!flipped) a[r] = veorq_u8(a[r], flip);
        }
        const uint8_t *w = t + (size_t)k * 16;
        /* signed x signed when flipped, else unsigned x unsigned (wraps
         * mod 2^32 to the true int32 result, see the top of the file) */
#define Q8_DOT(ACC, WV, AV, G)                                                                   \
    ((ACC) = flipped ? vdotq_laneq_s32((ACC), vreinterpretq_s8_u8(WV), vreinterpretq_s8_u8(AV), G) \
                     : vreinterpretq_s32_u32(vdotq_laneq_u32(vreinterpretq_u32_s32(ACC), (WV), (AV), G)))
#define Q8_GROUP(G)                                                                              \
    do {                                                                                         \
        uint8x16x4_t wg = vld1q_u8_x4(w + (G) * 64);                                             \
        LOAD_FENCE();                                                                            \
        _Pragma("GCC unroll 5") for (int r = 0; r < mr; r++) {                                   \
            Q8_DOT(acc[r][0], wg.val[0], a[r], G);                                               \
            Q8_DOT(acc[r][1], wg.val[1], a[r], G);                                               \
            Q8_DOT(acc[r][2], wg.val[2], a[r], G);                                               \
            Q8_DOT(acc[r][3], wg.val[3], a[r], G);                                               \
        }                                                                                        \
    } while (0)
        Q8_GROUP(0);
        Q8_GROUP(1);
        Q8_GROUP(2);
        Q8_GROUP(3);
#undef Q8_GROUP
#undef Q8_DOT
    }
    if (mode == Q8_SPILL) {
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) {
#pragma GCC unroll 4 /* not ST1 of 4: it wants 4 consecutive registers, 4 MOVs a row */
            for (int c = 0; c < 4; c++) vst1q_s32(sp + 16 * r + 4 * c, acc[r][c]);
        }
        return;
    }
    const pe_qout ol = *o;
    const float32x4x4_t dc = vld1q_f32_x4(d);
#pragma GCC unroll 5
    for (int r = 0; r < mr; r++) {
        float32x4_t v[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) v[c] = vmulq_f32(vcvtq_f32_s32(acc[r][c]), dc.val[c]);
        pe_qout_row(&ol, r, v, mode);
    }
}

typedef void (*q8_fn)(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W,
                      const uint32_t *colsum, int8_t *F, int fresh, int nb, const pe_qout *o, int tiles);

/* One function per row count, weight form and pe_qout mode: a finish chosen
 * at run time inside the tile makes GCC shuffle the accumulators between
 * registers in the K loop.  Each runs `tiles` tiles of MR rows down the
 * panel (1 for QOUT_TILE, whose stack tile is stored after each), which
 * saves a call, a table look-up and pe_qout_at per tile. */
#define Q8_FN(MR, FL, MODE)                                                                      \
    static void q8_##MR##_##FL##_##MODE(const int8_t *q, size_t ldq, const int32_t *rsum,        \
                                        const uint8_t *W, const uint32_t *colsum, int8_t *F,     \
                                        int fresh, int nb, const pe_qout *o, int tiles) {        \
        pe_qout t = *o;                                                                          \
        for (int i = 0; i < tiles; i++, q += (MR) * ldq, rsum += (MR), pe_qout_down(&t, MR))     \
            q8_tile(q, ldq, rsum, W, colsum, F, fresh && i == 0, nb, &t, MR, FL, MODE, NULL);    \
    }
#define Q8_ACC(MR, FL)                                                                           \
    static __attribute__((noinline)) void q8_acc_##MR##_##FL(                                    \
        const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W,                      \
        const uint32_t *colsum, const int8_t *F, int nb, int32_t *sp) {                          \
        q8_tile(q, ldq, rsum, W, colsum, (int8_t *)F, 0, nb, NULL, MR, FL, Q8_SPILL, sp);        \
    }
Q8_ACC(1, 0) Q8_ACC(2, 0) Q8_ACC(3, 0) Q8_ACC(4, 0) Q8_ACC(5, 0)
Q8_ACC(1, 1) Q8_ACC(2, 1) Q8_ACC(3, 1) Q8_ACC(4, 1) Q8_ACC(5, 1)
#define Q8_FNS(FL, MODE)                                                                         \
    Q8_FN(1, FL, MODE) Q8_FN(2, FL, MODE) Q8_FN(3, FL, MODE) Q8_FN(4, FL, MODE) Q8_FN(5, FL, MODE)
/* a full flipped tile finishing straight into C runs q8_asm5_tiles
 * (gemm_q8), so those three have no 5-row function */
#define Q8_FNS4(FL, MODE) Q8_FN(1, FL, MODE) Q8_FN(2, FL, MODE) Q8_FN(3, FL, MODE) Q8_FN(4, FL, MODE)
Q8_FNS(0, 0) Q8_FNS(0, 1) Q8_FNS(0, 2) Q8_FNS(0, 3)
Q8_FNS(1, 0) Q8_FNS4(1, 1) Q8_FNS4(1, 2) Q8_FNS4(1, 3)
#define Q8_ROW(FL, MODE) {q8_1_##FL##_##MODE, q8_2_##FL##_##MODE, q8_3_##FL##_##MODE, q8_4_##FL##_##MODE, q8_5_##FL##_##MODE}
#define Q8_ROW4(FL, MODE) {q8_1_##FL##_##MODE, q8_2_##FL##_##MODE, q8_3_##FL##_##MODE, q8_4_##FL##_##MODE, NULL}
_Static_assert(QOUT_TILE == 0 && QOUT_SCALE == 1 && QOUT_BIAS == 2 && QOUT_RES == 3 && Q8_MODES == 4,
               "q8_tiles is indexed by the pe_qout mode");
static const q8_fn q8_tiles[2][Q8_MODES][Q8MR] = {
    {Q8_ROW(0, 0), Q8_ROW(0, 1), Q8_ROW(0, 2), Q8_ROW(0, 3)},
    {Q8_ROW(1, 0), Q8_ROW4(1, 1), Q8_ROW4(1, 2), Q8_ROW4(1, 3)},
};
#undef Q8_ROW4
#undef Q8_ROW
#undef Q8_FNS4

/* `tiles` full flipped tiles of the panel W from rows q, finished into C
 * by q8_asm5_tiles (o: not QOUT_TILE); fresh: the first flips the panel
 * into F on the way, alone, and the others read F. */
static void q8_tiles_flipped(const int8_t *q, size_t ldq, const uint8_t *W, int8_t *F, int fresh,
                             int nb, const pe_qout *o, long tiles) {
    const float *cs = (const float *)(const void *)W;
    if (!fresh) {
        q8_asm5_tiles(q, ldq, (const uint8_t *)F, NULL, nb, o, cs, tiles);
        return;
    }
    q8_asm5_tiles(q, ldq, W + PE_Q8_HEAD, F, nb, o, cs, 1);
    if (tiles == 1) return;
    pe_qout t = *o;
    pe_qout_down(&t, Q8MR);
    q8_asm5_tiles(q + Q8MR * ldq, ldq, (const uint8_t *)F, NULL, nb, &t, cs, tiles - 1);
}

static void gemm_q8(const pe_qact *qa, const uint8_t *Wp, int K, float *C, int ldc, int m0, int m1,
                    int n0, int n1, const pe_epilogue *ep) {
    const int nb = qa->ldq / PE_QK;
    const size_t pstride = pe_qpack_panel_bytes(PE_WT_Q8, K);
    const int flipped = nb * PE_QK <= FLIP_KMAX;
    int8_t F[FLIP_KMAX * PE_GEMM_NR] __attribute__((aligned(16)));
    float tile[Q8MR * PE_GEMM_NR] __attribute__((aligned(16)));
    uint32_t colsum[PE_GEMM_NR] __attribute__((aligned(16)));
    const int mode = pe_qout_mode(ep);
    for (int n = n0; n < n1; n += PE_GEMM_NR) {
        const uint8_t *w = Wp + (size_t)(n / PE_GEMM_NR) * pstride;
        const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        /* the first full tile flips the panel into F (q8_asm5); with none,
         * flip_panel does */
        const int fresh = flipped && m1 - m0 >= Q8MR;
        if (flipped && !fresh) flip_panel(w, nb, F);
        if (!flipped) q8_colsum(w, nb, colsum);
        for (int m = m0; m < m1;) {
            const int mr = m1 - m < Q8MR ? m1 - m : Q8MR;
            pe_qout o;
            pe_qout_at(&o, mode, tile, C, ldc, qa->s + m, ep, m, n, ncols);
            /* straight into C: every full tile of the panel in one call */
            const int tiles = o.mode == QOUT_TILE || mr < Q8MR ? 1 : (m1 - m) / Q8MR;
            /* the fast GELU: the bias finish, then the GELU over the rows in
             * one pass (pe_neon_gelu16_rows: its tables loaded once) */
            const int gelu = o.mode == QOUT_GELU;
            if (gelu) o.mode = QOUT_BIAS;
            const int8_t *q = qa->q + (size_t)m * qa->ldq;
            if (flipped && mr == Q8MR && o.mode != QOUT_TILE) {
                q8_tiles_flipped(q, (size_t)qa->ldq, w, F, fresh && m == m0, nb, &o, tiles);
            } else
                q8_tiles[flipped][o.mode][mr - 1](q, (size_t)qa->ldq, qa->rsum + m, w, colsum, F,
                                                  fresh && m == m0, nb, &o, tiles);
            if (gelu) pe_neon_gelu16_rows(o.C, o.ldc, (long)tiles * mr);
            if (o.mode == QOUT_TILE) pe_tile_store(tile, mr, ncols, qa->s + m, C + (size_t)m * ldc + n, ldc, ep, m, n);
            m += tiles * mr;
        }
    }
}

/* ------------------------------------------------------------ q4 */

#define Q4MR 4

/* mr rows x 16 columns of q4: per 32-slice, SDOT of the 4-bit codes (0..15,
 * non-negative as s8) with the activations, seeded with -8 * (slice sum);
 * then scaled by the block scales into the float tile, which lives in
 * memory: 16 integer accumulators, 4 activation rows and 4 weight registers
 * leave no room for 16 float ones (5 rows spill under GCC 12).  The
 * half-slice loop loads the weight bytes twice (once per nibble) instead of
 * holding both nibbles. */
INLINE void q4_tile(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                    int nb, float *tile, const int mr) {
    memset(tile, 0, (size_t)mr * PE_GEMM_NR * sizeof(float));
    const uint8x16_t low4 = vdupq_n_u8(15);
    for (int b = 0; b < nb; b++) {
        const uint8_t *t = W + (size_t)b * sizeof(pe_tile_q4);
        int32x4_t acc[Q4MR][4];
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) {
            int32x4_t init = vdupq_n_s32(-8 * bs[r * ldb + b]);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) acc[r][c] = init;
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            int8x16_t a[Q4MR];
#pragma GCC unroll 5
            for (int r = 0; r < mr; r++) a[r] = vld1q_s8(q + r * ldq + (size_t)b * PE_QK + 16 * h);
#define Q4_GROUP(G)                                                                              \
    do {                                                                                         \
        uint8x16x4_t v = vld1q_u8_x4(t + 2 * PE_GEMM_NR + (G) * 64);                             \
        LOAD_FENCE();                                                                            \
        int8x16_t w0, w1, w2, w3;                                                                \
        if (h) {                                                                                 \
            w0 = vreinterpretq_s8_u8(vshrq_n_u8(v.val[0], 4));                                   \
            w1 = vreinterpretq_s8_u8(vshrq_n_u8(v.val[1], 4));                                   \
            w2 = vreinterpretq_s8_u8(vshrq_n_u8(v.val[2], 4));                                   \
            w3 = vreinterpretq_s8_u8(vshrq_n_u8(v.val[3], 4));                                   \
        } else {                                                                                 \
            w0 = vreinterpretq_s8_u8(vandq_u8(v.val[0], low4));                                  \
            w1 = vreinterpretq_s8_u8(vandq_u8(v.val[1], low4));                                  \
            w2 = vreinterpretq_s8_u8(vandq_u8(v.val[2], low4));                                  \
            w3 = vreinterpretq_s8_u8(vandq_u8(v.val[3], low4));                                  \
        }                                                                                        \
        _Pragma("GCC unroll 5") for (int r = 0; r < mr; r++) {                                   \
            acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, a[r], G);                                 \
            acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, a[r], G);                                 \
            acc[r][2] = vdotq_laneq_s32(acc[r][2], w2, a[r], G);                                 \
            acc[r][3] = vdotq_laneq_s32(acc[r][3], w3, a[r], G);                                 \
        }                                                                                        \
    } while (0)
            Q4_GROUP(0);
            Q4_GROUP(1);
            Q4_GROUP(2);
            Q4_GROUP(3);
#undef Q4_GROUP
        }
        float16x8x2_t dh = vld1q_f16_x2((const float16_t *)(const void *)t);
        const float32x4_t d[4] = {vcvt_f32_f16(vget_low_f16(dh.val[0])), vcvt_high_f32_f16(dh.val[0]),
                                  vcvt_f32_f16(vget_low_f16(dh.val[1])), vcvt_high_f32_f16(dh.val[1])};
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                float *o = tile + r * 16 + 4 * c;
                vst1q_f32(o, vfmaq_f32(vld1q_f32(o), vcvtq_f32_s32(acc[r][c]), d[c]));
            }
    }
}

typedef void (*q4_fn)(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                      int nb, float *tile);

#define Q4_FN(MR)                                                                                \
    static void q4_##MR(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb,              \
                        const uint8_t *W, int nb, float *tile) {                                 \
        q4_tile(q, ldq, bs, ldb, W, nb, tile, MR);                                               \
    }
Q4_FN(1) Q4_FN(2) Q4_FN(3) Q4_FN(4)
static const q4_fn q4_tiles[Q4MR] = {q4_1, q4_2, q4_3, q4_4};

void pe_neondot_gemm_q4(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep) {
    const uint8_t *Wp = Wv;
    const int nb = qa->ldq / PE_QK;
    const size_t pstride = pe_qpack_panel_bytes(PE_WT_Q4, K);
    float tile[Q4MR * PE_GEMM_NR] __attribute__((aligned(16)));
    const int mode = pe_qout_mode(ep);
    for (int n = n0; n < n1; n += PE_GEMM_NR) {
        const uint8_t *w = Wp + (size_t)(n / PE_GEMM_NR) * pstride;
        const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        for (int m = m0; m < m1; m += Q4MR) {
            const int mr = m1 - m < Q4MR ? m1 - m : Q4MR;
            q4_tiles[mr - 1](qa->q + (size_t)m * qa->ldq, (size_t)qa->ldq, qa->bsum + (size_t)m * nb,
                             (size_t)nb, w, nb, tile);
            pe_qout o;
            pe_qout_at(&o, mode, tile, C, ldc, qa->s + m, ep, m, n, ncols);
            if (o.mode == QOUT_TILE) pe_tile_store(tile, mr, ncols, qa->s + m, C + (size_t)m * ldc + n, ldc, ep, m, n);
            else pe_qout_tile(&o, tile, mr);
        }
    }
}

static void gemm_q(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    if (m1 <= m0 || n1 <= n0) return;
    if (t == PE_WT_Q4) pe_neondot_gemm_q4(qa, Wp, K, C, ldc, m0, m1, n0, n1, ep);
    else gemm_q8(qa, Wp, K, C, ldc, m0, m1, n0, n1, ep);
}

const pe_qkernels pe_qkernels_neondot = {
    .name = "neon-dot",
    .gemm_half = pe_neon_gemm_half,
    .quantize_rows = pe_neon_quantize_rows,
    .gemm_q = gemm_q,
    .softmax_q8 = pe_neon_softmax_q8,
    .pack_q8_t = pe_neon_pack_q8_t,
    .tile_rows = Q8MR,
};
