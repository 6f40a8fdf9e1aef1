/* ARMv8.6 int8 matrix-multiply kernels for q8 weights (compiled with +i8mm;
 * reached only through pe_qkernels_i8mm after isa.c saw I8MM and ASIMDDP
 * in HWCAP).  qgemm_ref.c is the specification; the layouts are in quant.h.
 *
 * USMMLA multiplies a 2x8 block of unsigned bytes by the transpose of a 2x8
 * block of signed ones into 2x2 int32: the stored weights (q + 128) are the
 * unsigned side as they are, the activation codes the signed one, and the
 * accumulators start at -128 * (row sum of the codes), as in the VNNI
 * kernel.  The operand it wants is 2 columns x 8 consecutive k; the stored
 * VNNI layout holds 4 columns x 4 k per 16 bytes (quant.h), so ZIP1/ZIP2 on
 * the 32-bit lanes of the registers of groups g and g + 1 give columns
 * (4c, 4c+1) and (4c+2, 4c+3) x k = 4g..4g+7.  That is 8 ZIPs per 8 k
 * against 16 USMMLAs of a 4-row tile, a third of the vector work; so they
 * are done once per panel and call, by the first row tile as it reads the
 * panel, into a stack copy that every other row tile reads (for K up to
 * ZIP_KMAX), and in registers otherwise.  A layout stored
 * for i8mm would save even that, but quantized files are mapped zero-copy
 * and shared by every ISA, so the file format stays one.  The activation
 * rows are ZIPped on 64 bits (rows 0+1, 2+3) once per call (pack_rows), and
 * the full tiles' K loop and their scale or bias finish are assembly.
 *
 * q4 runs the dot-product set's SDOT kernel (its nibbles need unpacking
 * either way, and a second float accumulator set leaves no registers for
 * the 2x2 blocks); the other entries are the plain NEON set's. */
#include "qgemm_arm.h"

/* 2 pairs of rows x 16 columns: 16 accumulators of 2 columns x 2 rows,
 * lanes (c0 r0, c0 r1, c1 r0, c1 r1). */
#define PAIRS 2
#define Q8MR (2 * PAIRS)
/* A full tile's packed rows (pack_rows): its accumulators' seeds, then its
 * codes */
#define SEED_BYTES 256
#define TILE_BYTES(ldq) ((size_t)SEED_BYTES + (size_t)Q8MR * (ldq))

INLINE uint8x16_t zip1_32(uint8x16_t a, uint8x16_t b) {
    return vreinterpretq_u8_u32(vzip1q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
}

INLINE uint8x16_t zip2_32(uint8x16_t a, uint8x16_t b) {
    return vreinterpretq_u8_u32(vzip2q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
}

/* The ZIPs of one panel's codes done once per call instead of once per
 * tile: 128 bytes per 8 k, the 8 operands (column pairs 0-1, 2-3, ..., 14-15)
 * in order, made by the first tile of the panel (q8_acc_4_asm with dst) into
 * a stack copy Z that the others read.  Held on the stack for K up to
 * ZIP_KMAX (B16's 3072 inputs); longer rows zip in registers. */
#define ZIP_KMAX 3072

/* mr rows (an odd last row is computed twice and stored once) over all of
 * K, 16 at a time: the 16 codes of two rows are ZIPped (on 64 bits) into
 * the operands of two 8-k steps; per step, the weights come pre-zipped from
 * Z or are ZIPped here from the panel (zipped != 0), half a group at a time
 * (the 8 registers of two groups and their ZIPs at once would spill an
 * accumulator). */
/* The K loop alone, its accumulators stored to sp ([pairs][32]): the tiles
 * with a GELU or residual finish call it (below), since with that finish
 * in the same function GCC 12 shuffles the accumulators between registers
 * in the K loop, 12 MOVs per 16 k. */
#define Q8_SPILL 5
typedef void (*q8_acc_fn)(const int8_t *q, size_t ldq, const int32_t *rsum, const uint8_t *W,
                          const uint8_t *Z, int nb, int32_t *sp);
static void q8_acc_1(const int8_t *, size_t, const int32_t *, const uint8_t *, const uint8_t *, int, int32_t *);
static void q8_acc_2(const int8_t *, size_t, const int32_t *, const uint8_t *, const uint8_t *, int, int32_t *);
static void q8_acc_3(const int8_t *, size_t, const int32_t *, const uint8_t *, const uint8_t *, int, int32_t *);
static void q8_acc_4(const int8_t *, size_t, const int32_t *, const uint8_t *, const uint8_t *, int, int32_t *);

/* The K loop of a full zipped tile (4 rows) in assembly, 32 k a trip: 64
 * USMMLAs, the packed rows (pack_rows, below) and the weights by 10
 * post-incremented LD1 of 4 (MM_32K), a SUBS and a branch, against GCC
 * 12's 53 instructions per 16 k for the C loop (it rebuilds the address of
 * each LD1 of 4 and moves an accumulator twice a trip).  The accumulator of pair
 * p, column pair c is v(16 + 8 p + c), so that ST1 of 4 stores them in
 * q8_acc_*'s order; v4-v7 take the packed rows (pair 0 k 0-7, 8-15, pair 1
 * k 0-7, 8-15), v0-v3 the weights.  (An asm statement takes at most 30
 * operands: the accumulators cannot be.)  With dst, the weights come from
 * the stored panel src (2 groups of 4 k in v8-v15 per 8 k), are ZIPped into
 * v0-v3 and stored to dst on the way: the panel's first tile makes the copy
 * Z for the others, 10 instructions per 128 bytes where a separate pass
 * took 17. */
#define MM1(V, C, A) "usmmla v" #V ".4s, v" #C ".16b, v" #A ".16b\n\t"
/* v0-v3 (column pairs 0-1 .. 6-7 or 8-9 .. 14-15 of 8 k) times both row
 * pairs: accumulators P0..P3 (pair 0, operand A0) and Q0..Q3 (pair 1, A1) */
#define MM_OPS(P0, P1, P2, P3, Q0, Q1, Q2, Q3, A0, A1)                                           \
    MM1(P0, 0, A0) MM1(Q0, 0, A1) MM1(P1, 1, A0) MM1(Q1, 1, A1) MM1(P2, 2, A0) MM1(Q2, 2, A1)    \
        MM1(P3, 3, A0) MM1(Q3, 3, A1)
/* 8 k from Z: 2 x 4 operands.  llvm-mca's X2 model makes a post-
 * incremented LD1 of 4 five micro-ops and an LDR q one, and dispatches 6 a
 * cycle: LDR q at immediate offsets models the K loop ~18% faster on the X2
 * (16.4 against 20 cycles per 64 USMMLAs in the 8 x 8 loop below; the
 * A710 issues 2 USMMLAs a cycle and gains nothing) but costs 3 instructions
 * per LD1, taking the pass from 12.1 to 10.6 multiply-adds per instruction
 * (bench/RESULTS.md, "i8mm K loop toward the X2 target").  Kept as LD1
 * until a phone says which counts. */
#define MM_W4 "ld1 {v0.16b-v3.16b}, [%[z]], #64\n\t"
#define MM_8K(A0, A1)                                                                            \
    MM_W4 MM_OPS(16, 17, 18, 19, 24, 25, 26, 27, A0, A1)                                         \
        MM_W4 MM_OPS(20, 21, 22, 23, 28, 29, 30, 31, A0, A1)
/* 16 k: the packed rows (v4-v7), then Z */
#define MM_16K_Z "ld1 {v4.16b-v7.16b}, [%[a]], #64\n\t" MM_8K(4, 6) MM_8K(5, 7)
#define MM_32K MM_16K_Z MM_16K_Z
#define MM_64K MM_32K MM_32K
/* 8 k from the stored panel: groups g0 (v8-v11) and g1 (v12-v15), ZIPped on
 * 32 bits into the operands, stored to dst */
#define MM_ZIP4(X0, X1, Y0, Y1)                                                                  \
    "zip1 v0.4s, v" #X0 ".4s, v" #Y0 ".4s\n\t"                                                   \
    "zip2 v1.4s, v" #X0 ".4s, v" #Y0 ".4s\n\t"                                                   \
    "zip1 v2.4s, v" #X1 ".4s, v" #Y1 ".4s\n\t"                                                   \
    "zip2 v3.4s, v" #X1 ".4s, v" #Y1 ".4s\n\t"                                                   \
    "st1 {v0.16b-v3.16b}, [%[d]], #64\n\t"
#define MM_8K_ZIP(A0, A1)                                                                        \
    "ld1 {v8.16b-v11.16b}, [%[z]], #64\n\t"                                                      \
    "ld1 {v12.16b-v15.16b}, [%[z]], #64\n\t" MM_ZIP4(8, 9, 12, 13)                               \
        MM_OPS(16, 17, 18, 19, 24, 25, 26, 27, A0, A1) MM_ZIP4(10, 11, 14, 15)                   \
            MM_OPS(20, 21, 22, 23, 28, 29, 30, 31, A0, A1)
/* 16 k of the packed rows: the 4 operands in one LD1 (the zipping tile:
 * its loads and stores are post-incremented) */
#define MM_16K(EIGHT) "ld1 {v4.16b-v7.16b}, [%[a]], #64\n\t" EIGHT(4, 6) EIGHT(5, 7)
#define MM_32K_ZIP MM_16K(MM_8K_ZIP) MM_16K(MM_8K_ZIP)
/* the accumulators start at the seeds -128 * (row sum), lanes (c0 r0, c0
 * r1, c1 r0, c1 r1): 8 copies of pair 0's, 8 of pair 1's, stored by
 * pack_rows ahead of the tile's codes (4 loads, where making them from the
 * row sums took 19 instructions a tile) */
#define MM_SEEDS                                                                                 \
    "ld1 {v16.4s-v19.4s}, [%[a]], #64\n\t"                                                       \
    "ld1 {v20.4s-v23.4s}, [%[a]], #64\n\t"                                                       \
    "ld1 {v24.4s-v27.4s}, [%[a]], #64\n\t"                                                       \
    "ld1 {v28.4s-v31.4s}, [%[a]], #64\n\t"
/* the zipping tile: 32 k a trip */
#define MM_LOOP_ZIP(FINISH)                                                                      \
    MM_SEEDS "1:\n\t" MM_32K_ZIP "subs %[n], %[n], #1\n\t"                                       \
             "b.ne 1b\n\t" FINISH
/* from Z: an odd trip count's first 32 k alone, then 64 k a trip */
#define MM_LOOP_Z(FINISH)                                                                        \
    MM_SEEDS "tbz %[n], #0, 1f\n\t" MM_32K "subs %[n], %[n], #1\n\t"                             \
             "b.eq 3f\n\t"                                                                       \
             "1:\n\t" MM_64K "subs %[n], %[n], #2\n\t"                                           \
             "b.ne 1b\n\t"                                                                       \
             "3:\n\t" FINISH
/* the accumulators stored to sp, in q8_acc_*'s order */
#define MM_STORE                                                                                 \
    "st1 {v16.4s-v19.4s}, [%[sp]], #64\n\t"                                                      \
    "st1 {v20.4s-v23.4s}, [%[sp]], #64\n\t"                                                      \
    "st1 {v24.4s-v27.4s}, [%[sp]], #64\n\t"                                                      \
    "st1 {v28.4s-v31.4s}, [%[sp]]\n\t"
/* Row r of pair p from the accumulators A0-A7: the UZP1 (even r) or UZP2
 * (odd r) of its column pairs into D0-D3, converted, times the column
 * scales (v0-v3) */
#define MM_COLS(UZP, D0, D1, D2, D3, A0, A1, A2, A3, A4, A5, A6, A7)                             \
    UZP " v" #D0 ".4s, v" #A0 ".4s, v" #A1 ".4s\n\t" UZP " v" #D1 ".4s, v" #A2 ".4s, v" #A3 ".4s\n\t" \
    UZP " v" #D2 ".4s, v" #A4 ".4s, v" #A5 ".4s\n\t" UZP " v" #D3 ".4s, v" #A6 ".4s, v" #A7 ".4s\n\t" \
    QA_CVT_COLS4(D0, D1, D2, D3)
/* QOUT_SCALE straight from the accumulators: the row (v4-v7) times the
 * row scale (lane r of v8), as pe_qout_row: the products of the stored
 * finish in the same order, without the stores, the LD2s and the call's
 * return to C (~30 instructions a tile) */
#define MM_ROW(UZP, A0, A1, A2, A3, A4, A5, A6, A7, L)                                           \
    MM_COLS(UZP, 4, 5, 6, 7, A0, A1, A2, A3, A4, A5, A6, A7)                                     \
    "fmul v4.4s, v4.4s, v8.s[" #L "]\n\t"                                                        \
    "fmul v5.4s, v5.4s, v8.s[" #L "]\n\t"                                                        \
    "fmul v6.4s, v6.4s, v8.s[" #L "]\n\t"                                                        \
    "fmul v7.4s, v7.4s, v8.s[" #L "]\n\t"                                                        \
    "st1 {v4.4s-v7.4s}, [%[c]], %[ldc]\n\t"
/* QOUT_BIAS: the row's bias (v4-v7) plus its products (v9-v12) times the
 * row scale, FMLA as pe_qout_row's vfmaq_n_f32 */
#define MM_BIAS_FMLA(UZP, A0, A1, A2, A3, A4, A5, A6, A7, L)                                     \
    "ld1 {v4.4s-v7.4s}, [%[bias]]\n\t"                                                           \
    MM_COLS(UZP, 9, 10, 11, 12, A0, A1, A2, A3, A4, A5, A6, A7)                                  \
    "fmla v4.4s, v9.4s, v8.s[" #L "]\n\t"                                                        \
    "fmla v5.4s, v10.4s, v8.s[" #L "]\n\t"                                                       \
    "fmla v6.4s, v11.4s, v8.s[" #L "]\n\t"                                                       \
    "fmla v7.4s, v12.4s, v8.s[" #L "]\n\t"
#define MM_ROW_BIAS(UZP, A0, A1, A2, A3, A4, A5, A6, A7, L)                                      \
    MM_BIAS_FMLA(UZP, A0, A1, A2, A3, A4, A5, A6, A7, L) "st1 {v4.4s-v7.4s}, [%[c]], %[ldc]\n\t"
/* QOUT_RES: the bias row (MM_BIAS_FMLA), then the residual row x (v9-v12,
 * read before the row is stored: C may be the residual) plus gamma (loaded
 * over the column scales, reloaded after) times it, FMLA as pe_qout_row's
 * vfmaq_f32 */
#define MM_ROW_RES(UZP, A0, A1, A2, A3, A4, A5, A6, A7, L)                                       \
    MM_BIAS_FMLA(UZP, A0, A1, A2, A3, A4, A5, A6, A7, L)                                         \
    "ld1 {v9.4s-v12.4s}, [%[res]], %[ldr]\n\t"                                                   \
    "ld1 {v0.4s-v3.4s}, [%[gamma]]\n\t"                                                          \
    "fmla v9.4s, v0.4s, v4.4s\n\t"                                                               \
    "fmla v10.4s, v1.4s, v5.4s\n\t"                                                              \
    "fmla v11.4s, v2.4s, v6.4s\n\t"                                                              \
    "fmla v12.4s, v3.4s, v7.4s\n\t"                                                              \
    "st1 {v9.4s-v12.4s}, [%[c]], %[ldc]\n\t"                                                     \
    "ld1 {v0.4s-v3.4s}, [%[cs]]\n\t"
#define MM_FINISH(ROW)                                                                           \
    "ld1 {v0.4s-v3.4s}, [%[cs]]\n\t"                                                             \
    "ldr q8, [%[rs]], #16\n\t" ROW("uzp1", 16, 17, 18, 19, 20, 21, 22, 23, 0)                    \
        ROW("uzp2", 16, 17, 18, 19, 20, 21, 22, 23, 1) ROW("uzp1", 24, 25, 26, 27, 28, 29, 30, 31, 2) \
            ROW("uzp2", 24, 25, 26, 27, 28, 29, 30, 31, 3)
#define MM_BIAS MM_FINISH(MM_ROW_BIAS)
#define MM_SCALE MM_FINISH(MM_ROW)
#define MM_RES MM_FINISH(MM_ROW_RES)
/* MM_LOOP_Z and FINISH for each of t tiles down the panel: the packed rows
 * (seeds and codes), the row scales and C move on by post-increment; the
 * weights (z) and the trip count start again from z0 and n0 */
#define MM_TILES(FINISH)                                                                         \
    "2:\n\t" MM_LOOP_Z(FINISH)                                                              \
    "mov %[z], %[z0]\n\t"                                                                        \
    "mov %[n], %[n0]\n\t"                                                                        \
    "subs %[t], %[t], #1\n\t"                                                                    \
    "b.ne 2b\n\t"
#define MM_CLOBBERS                                                                              \
    "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21",    \
        "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory"
#define MM_ZIPREGS "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15"

/* Two tiles at once, half a panel at a time: 8 rows x 8 columns, 16
 * accumulators (row pair p, column pair c of the half in v(16 + 4 p + c)),
 * 8 operands loaded per 16 USMMLAs where the 4 x 16 tile loads 10 (4 LD1
 * of 4 per 32 USMMLAs: llvm-mca's X2 ~20 cycles a 64 where the 4 x 16 loop
 * takes 22).  The rows are the two tiles' packed rows as pack_rows stored
 * them (a, a2 = a + TILE_BYTES: v4-v7 and v8-v11 per 16 k), the weights
 * half h's 4 operands of each 8 k in Z (64 bytes at offset 64 h of each
 * 128: the LD1 steps z by 128). */
#define M8_8K(X0, X1, X2, X3)                                                                    \
    MM1(16, 0, X0) MM1(20, 0, X1) MM1(24, 0, X2) MM1(28, 0, X3) MM1(17, 1, X0) MM1(21, 1, X1)   \
        MM1(25, 1, X2) MM1(29, 1, X3) MM1(18, 2, X0) MM1(22, 2, X1) MM1(26, 2, X2)               \
            MM1(30, 2, X3) MM1(19, 3, X0) MM1(23, 3, X1) MM1(27, 3, X2) MM1(31, 3, X3)
#define M8_16K                                                                                   \
    "ld1 {v4.16b-v7.16b}, [%[a]], #64\n\t"                                                        \
    "ld1 {v8.16b-v11.16b}, [%[a2]], #64\n\t"                                                      \
    "ld1 {v0.16b-v3.16b}, [%[z]], %[s128]\n\t" M8_8K(4, 6, 8, 10)                                 \
    "ld1 {v0.16b-v3.16b}, [%[z]], %[s128]\n\t" M8_8K(5, 7, 9, 11)
#define M8_32K M8_16K M8_16K
#define M8_64K M8_32K M8_32K
/* each tile's seeds: pair 0's 8 copies, then pair 1's; 4 of each wanted */
#define M8_SEEDS                                                                                 \
    "ld1 {v16.4s-v19.4s}, [%[a]], %[s128]\n\t"                                                   \
    "ld1 {v20.4s-v23.4s}, [%[a]], %[s128]\n\t"                                                   \
    "ld1 {v24.4s-v27.4s}, [%[a2]], %[s128]\n\t"                                                  \
    "ld1 {v28.4s-v31.4s}, [%[a2]], %[s128]\n\t"
/* Row r (pair p = r / 2, UZP1 even r, UZP2 odd) of the half: its columns
 * into D0, D1, converted, times the column scales (v0, v1) */
#define M8_COLS(UZP, D0, D1, A0, A1, A2, A3)                                                     \
    UZP " v" #D0 ".4s, v" #A0 ".4s, v" #A1 ".4s\n\t"                                            \
    UZP " v" #D1 ".4s, v" #A2 ".4s, v" #A3 ".4s\n\t"                                            \
    QA_CVT_COLS2(D0, D1)
/* the finishes of MM_ROW, MM_ROW_BIAS and MM_ROW_RES on a half row, the
 * row scale in lane L of RS (v12: rows 0-3, v13: rows 4-7), gamma in v2-v3 */
#define M8_ROW(UZP, A0, A1, A2, A3, RS, L)                                                       \
    M8_COLS(UZP, 4, 5, A0, A1, A2, A3)                                                           \
    "fmul v4.4s, v4.4s, v" #RS ".s[" #L "]\n\t"                                                  \
    "fmul v5.4s, v5.4s, v" #RS ".s[" #L "]\n\t"                                                  \
    "st1 {v4.4s-v5.4s}, [%[c]], %[ldc]\n\t"
#define M8_BIAS_FMLA(UZP, A0, A1, A2, A3, RS, L)                                                 \
    "ld1 {v4.4s-v5.4s}, [%[bias]]\n\t" M8_COLS(UZP, 9, 10, A0, A1, A2, A3)                      \
    "fmla v4.4s, v9.4s, v" #RS ".s[" #L "]\n\t"                                                  \
    "fmla v5.4s, v10.4s, v" #RS ".s[" #L "]\n\t"
#define M8_ROW_BIAS(UZP, A0, A1, A2, A3, RS, L)                                                  \
    M8_BIAS_FMLA(UZP, A0, A1, A2, A3, RS, L) "st1 {v4.4s-v5.4s}, [%[c]], %[ldc]\n\t"
#define M8_ROW_RES(UZP, A0, A1, A2, A3, RS, L)                                                   \
    M8_BIAS_FMLA(UZP, A0, A1, A2, A3, RS, L)                                                     \
    "ld1 {v9.4s-v10.4s}, [%[res]], %[ldr]\n\t"                                                   \
    "fmla v9.4s, v2.4s, v4.4s\n\t"                                                               \
    "fmla v10.4s, v3.4s, v5.4s\n\t"                                                              \
    "st1 {v9.4s-v10.4s}, [%[c]], %[ldc]\n\t"
#define M8_FINISH(ROW, PRE)                                                                      \
    "ld1 {v0.4s-v1.4s}, [%[cs]]\n\t" PRE "ld1 {v12.4s-v13.4s}, [%[rs]], #32\n\t"                 \
    ROW("uzp1", 16, 17, 18, 19, 12, 0) ROW("uzp2", 16, 17, 18, 19, 12, 1)                        \
    ROW("uzp1", 20, 21, 22, 23, 12, 2) ROW("uzp2", 20, 21, 22, 23, 12, 3)                        \
    ROW("uzp1", 24, 25, 26, 27, 13, 0) ROW("uzp2", 24, 25, 26, 27, 13, 1)                        \
    ROW("uzp1", 28, 29, 30, 31, 13, 2) ROW("uzp2", 28, 29, 30, 31, 13, 3)
#define M8_SCALE M8_FINISH(M8_ROW, "")
#define M8_BIAS M8_FINISH(M8_ROW_BIAS, "")
#define M8_RES M8_FINISH(M8_ROW_RES, "ld1 {v2.4s-v3.4s}, [%[gamma]]\n\t")
/* t pairs of tiles: seeds, the K loop as MM_LOOP_Z's, FINISH; then the next
 * pair's first tile starts where this pair's second tile's rows started
 * (a ends there), its second TILE_BYTES (tb) later */
#define M8_TILES(FINISH)                                                                         \
    "2:\n\t" M8_SEEDS "tbz %[n], #0, 1f\n\t" M8_32K "subs %[n], %[n], #1\n\t"                    \
    "b.eq 3f\n\t"                                                                                \
    "1:\n\t" M8_64K "subs %[n], %[n], #2\n\t"                                                    \
    "b.ne 1b\n\t"                                                                                \
    "3:\n\t" FINISH "mov %[a], %[a2]\n\t"                                                        \
    "add %[a2], %[a2], %[tb]\n\t"                                                                \
    "mov %[z], %[z0]\n\t"                                                                        \
    "mov %[n], %[n0]\n\t"                                                                        \
    "subs %[t], %[t], #1\n\t"                                                                    \
    "b.ne 2b\n\t"
#define M8_CLOBBERS MM_CLOBBERS, "v8", "v9", "v10", "v11", "v12", "v13"

/* Half h of `pairs` pairs of full tiles (packed rows from ap), the weights
 * at z (Z + 64 h), finished into c (C + 8 h) by o's mode with the half's
 * column scales, bias and gamma (cs, bias, gamma: + 8 h), residual res. */
typedef struct {
    const int8_t *ap;
    const uint8_t *z;
    float *c;
    const float *rs, *res, *cs, *bias, *gamma;
    size_t ldc, ldr, tb; /* bytes */
} q8_half;

static __attribute__((noinline)) void q8_pairs_asm(const q8_half *hf, long nb, long pairs,
                                                   int mode) {
    const int8_t *a = hf->ap, *a2 = hf->ap + hf->tb;
    const uint8_t *z = hf->z, *z0 = hf->z;
    float *c = hf->c;
    const float *rs = hf->rs, *res = hf->res;
    long n = nb, n0 = nb;
    const long s128 = 128;
    if (mode == QOUT_RES)
        __asm__ volatile(M8_TILES(M8_RES)
                         : [z] "+r"(z), [n] "+r"(n), [a] "+r"(a), [a2] "+r"(a2), [c] "+r"(c),
                           [rs] "+r"(rs), [t] "+r"(pairs), [z0] "+r"(z0), [n0] "+r"(n0),
                           [res] "+r"(res)
                         : [cs] "r"(hf->cs), [ldc] "r"(hf->ldc), [bias] "r"(hf->bias),
                           [gamma] "r"(hf->gamma), [ldr] "r"(hf->ldr), [tb] "r"(hf->tb),
                           [s128] "r"(s128)
                         : M8_CLOBBERS);
    else if (mode == QOUT_BIAS)
        __asm__ volatile(M8_TILES(M8_BIAS)
                         : [z] "+r"(z), [n] "+r"(n), [a] "+r"(a), [a2] "+r"(a2), [c] "+r"(c),
                           [rs] "+r"(rs), [t] "+r"(pairs), [z0] "+r"(z0), [n0] "+r"(n0)
                         : [cs] "r"(hf->cs), [ldc] "r"(hf->ldc), [bias] "r"(hf->bias),
                           [tb] "r"(hf->tb), [s128] "r"(s128)
                         : M8_CLOBBERS);
    else
        __asm__ volatile(M8_TILES(M8_SCALE)
                         : [z] "+r"(z), [n] "+r"(n), [a] "+r"(a), [a2] "+r"(a2), [c] "+r"(c),
                           [rs] "+r"(rs), [t] "+r"(pairs), [z0] "+r"(z0), [n0] "+r"(n0)
                         : [cs] "r"(hf->cs), [ldc] "r"(hf->ldc), [tb] "r"(hf->tb), [s128] "r"(s128)
                         : M8_CLOBBERS);
}
#undef M8_CLOBBERS
#undef M8_TILES
#undef M8_RES
#undef M8_BIAS
#undef M8_SCALE
#undef M8_FINISH
#undef M8_ROW_RES
#undef M8_ROW_BIAS
#undef M8_BIAS_FMLA
#undef M8_ROW
#undef M8_COLS
#undef M8_SEEDS
#undef M8_64K
#undef M8_32K
#undef M8_16K
#undef M8_8K

/* A full zipped tile's K loop over its packed rows ap; its accumulators
 * stored to sp, or with o (QOUT_SCALE, QOUT_BIAS or QOUT_RES, straight
 * into C) finished here, the column scales at cs, for `tiles` tiles down the panel
 * (rows packed one after the other): the first with dst zips the panel
 * into dst on the way, the others go by pairs through q8_pairs_asm's loop
 * (one call per half panel; a call and a C loop step per tile were ~30
 * instructions, a tenth of an attention S tile's), an odd last one through
 * the 4 x 16 loop. */
static __attribute__((noinline)) void q8_acc_4_asm(const int8_t *ap, const uint8_t *src,
                                                   uint8_t *dst, int nb, int32_t *sp,
                                                   const pe_qout *o, const float *cs, long tiles) {
    const uint8_t *z = src;
    long n = nb; /* 32 k a trip; nb >= 1 */
    if (!o) {
        if (dst)
            __asm__ volatile(MM_LOOP_ZIP(MM_STORE)
                             : [z] "+r"(z), [d] "+r"(dst), [n] "+r"(n), [sp] "+r"(sp), [a] "+r"(ap)
                             :
                             : MM_ZIPREGS, MM_CLOBBERS);
        else
            __asm__ volatile(MM_LOOP_Z(MM_STORE)
                             : [z] "+r"(z), [n] "+r"(n), [sp] "+r"(sp), [a] "+r"(ap)
                             :
                             : MM_CLOBBERS);
        return;
    }
    float *c = o->C;
    const float *rs = o->rs, *bias = o->bias, *gamma = o->gamma, *res = o->res;
    const size_t ldc = o->ldc * sizeof(float), ldr = o->ldr * sizeof(float);
    const int bmode = o->mode == QOUT_BIAS, rmode = o->mode == QOUT_RES;
    const uint8_t *z0 = dst ? dst : src; /* the weights of every tile after the first */
    if (dst) {
        if (rmode)
            __asm__ volatile(MM_LOOP_ZIP(MM_RES)
                             : [z] "+r"(z), [d] "+r"(dst), [n] "+r"(n), [a] "+r"(ap), [c] "+r"(c),
                               [rs] "+r"(rs), [res] "+r"(res)
                             : [cs] "r"(cs), [ldc] "r"(ldc), [bias] "r"(bias), [gamma] "r"(gamma),
                               [ldr] "r"(ldr)
                             : MM_ZIPREGS, MM_CLOBBERS);
        else if (bmode)
            __asm__ volatile(MM_LOOP_ZIP(MM_BIAS)
                             : [z] "+r"(z), [d] "+r"(dst), [n] "+r"(n), [a] "+r"(ap), [c] "+r"(c),
                               [rs] "+r"(rs)
                             : [cs] "r"(cs), [ldc] "r"(ldc), [bias] "r"(bias)
                             : MM_ZIPREGS, MM_CLOBBERS);
        else
            __asm__ volatile(MM_LOOP_ZIP(MM_SCALE)
                             : [z] "+r"(z), [d] "+r"(dst), [n] "+r"(n), [a] "+r"(ap), [c] "+r"(c),
                               [rs] "+r"(rs)
                             : [cs] "r"(cs), [ldc] "r"(ldc)
                             : MM_ZIPREGS, MM_CLOBBERS);
        if (--tiles == 0) return;
        z = z0;
        n = nb;
    }
    /* pairs of tiles as two 8 x 8 halves (q8_pairs_asm), an odd last one
     * below */
    const long pairs = tiles / 2;
    if (pairs) {
        const size_t tb = TILE_BYTES((size_t)nb * PE_QK);
        for (int h = 0; h < 2; h++) {
            const q8_half hf = {ap, z0 + 64 * h, c + 8 * h, rs, res ? res + 8 * h : NULL,
                                cs + 8 * h, bias ? bias + 8 * h : NULL,
                                gamma ? gamma + 8 * h : NULL, ldc, ldr, tb};
            q8_pairs_asm(&hf, nb, pairs, o->mode);
        }
        tiles -= 2 * pairs;
        if (!tiles) return;
        ap += 2 * pairs * tb;
        c += 8 * pairs * o->ldc;
        rs += 8 * pairs;
        if (res) res += 8 * pairs * o->ldr;
    }
    /* z0 and n0 in-out operands, so that they get registers of their own
     * (as inputs equal to z and n they could share theirs) */
    long n0 = nb;
    if (rmode)
        __asm__ volatile(MM_TILES(MM_RES)
                         : [z] "+r"(z), [n] "+r"(n), [a] "+r"(ap), [c] "+r"(c),
                           [rs] "+r"(rs), [t] "+r"(tiles), [z0] "+r"(z0), [n0] "+r"(n0), [res] "+r"(res)
                         : [cs] "r"(cs), [ldc] "r"(ldc), [bias] "r"(bias), [gamma] "r"(gamma),
                           [ldr] "r"(ldr)
                         : "v8", "v9", "v10", "v11", "v12", MM_CLOBBERS);
    else if (bmode)
        __asm__ volatile(MM_TILES(MM_BIAS)
                         : [z] "+r"(z), [n] "+r"(n), [a] "+r"(ap), [c] "+r"(c),
                           [rs] "+r"(rs), [t] "+r"(tiles), [z0] "+r"(z0), [n0] "+r"(n0)
                         : [cs] "r"(cs), [ldc] "r"(ldc), [bias] "r"(bias)
                         : "v8", "v9", "v10", "v11", "v12", MM_CLOBBERS);
    else
        __asm__ volatile(MM_TILES(MM_SCALE)
                         : [z] "+r"(z), [n] "+r"(n), [a] "+r"(ap), [c] "+r"(c),
                           [rs] "+r"(rs), [t] "+r"(tiles), [z0] "+r"(z0), [n0] "+r"(n0)
                         : [cs] "r"(cs), [ldc] "r"(ldc)
                         : "v8", MM_CLOBBERS);
}
#undef MM_ZIPREGS
#undef MM_CLOBBERS
#undef MM_SCALE
#undef MM_RES
#undef MM_ROW_RES
#undef MM_BIAS
#undef MM_FINISH
#undef MM_ROW_BIAS
#undef MM_ROW
#undef MM_STORE
#undef MM_TILES
#undef MM_LOOP_Z
#undef MM_LOOP_ZIP
#undef MM_SEEDS
#undef MM_16K
#undef MM_8K_ZIP
#undef MM_ZIP4
#undef MM_32K_ZIP
#undef MM_32K
#undef MM_64K
#undef MM_16K_Z
#undef MM_W4
#undef MM_8K
#undef MM_OPS
#undef MM1

INLINE void q8_tile(const int8_t *q, size_t ldq, const int8_t *ap, const int32_t *rsum,
                    const uint8_t *W, uint8_t *Z, int fresh, int nb, const pe_qout *o, const int mr,
                    const int zipped, const int mode, int32_t *sp) {
    const int pairs = (mr + 1) / 2;
    const float *d = (const float *)(const void *)W;
    /* per pair, row 2p (UZP1: columns 4c..4c+3 of each block pair), then
     * row 2p + 1 (UZP2) */
#define Q8_ROW(UZP, R)                                                                           \
    do {                                                                                         \
        float32x4_t v[4];                                                                        \
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)                                      \
            v[c] = vmulq_f32(vcvtq_f32_s32(UZP(a[2 * c], a[2 * c + 1])), dc.val[c]);             \
        pe_qout_row(&ol, R, v, mode);                                                            \
    } while (0)
    /* through the stored accumulators: a residual finish, and every full
     * zipped tile (its K loop is q8_acc_4_asm) */
    if (mode == QOUT_RES || (zipped && mr == Q8MR && mode != Q8_SPILL)) {
        int32_t spill[PAIRS * 32] __attribute__((aligned(16)));
        static const q8_acc_fn accs[Q8MR] = {q8_acc_1, q8_acc_2, q8_acc_3, q8_acc_4};
        /* fresh: the panel is zipped into Z on the way; a full zipped tile
         * has its rows packed (gemm_q) */
        if (mr == Q8MR && (mode == QOUT_SCALE || mode == QOUT_BIAS)) {
            q8_acc_4_asm(ap, fresh ? W + PE_Q8_HEAD : Z, fresh ? Z : NULL, nb, NULL, o, d, 1);
            return;
        }
        if (mr == Q8MR)
            q8_acc_4_asm(ap, fresh ? W + PE_Q8_HEAD : Z, fresh ? Z : NULL, nb, spill, NULL, NULL, 1);
        else accs[mr - 1](q, ldq, rsum, W, Z, nb, spill);
        const pe_qout ol = *o; /* see PE_QOUT_LOCAL */
        const float32x4x4_t dc = vld1q_f32_x4(d);
        /* LD2 of two stored accumulators is their UZP1 and UZP2: each row
         * loads its 4 vectors that way (with the pair's 8 accumulators held
         * in registers, GCC copied them to the stack for the second row) */
#pragma GCC unroll 4
        for (int r = 0; r < mr; r++) {
            float32x4_t v[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                const int32x4x2_t u = vld2q_s32(spill + 32 * (r / 2) + 8 * c);
                v[c] = vmulq_f32(vcvtq_f32_s32(u.val[r % 2]), dc.val[c]);
            }
            pe_qout_row(&ol, r, v, mode);
        }
        return;
    }
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
    /* 8 codes of K are 2 groups of 64 bytes, or 8 operands: offset 16 k */
    for (int k = 0; k < nb * PE_QK; k += 16) {
        int8x16_t a[PAIRS][2];
#pragma GCC unroll 2
        for (int p = 0; p < pairs; p++) {
            const int64x2_t r0 = vreinterpretq_s64_s8(vld1q_s8(row[2 * p] + k));
            const int64x2_t r1 = vreinterpretq_s64_s8(vld1q_s8(row[2 * p + 1] + k));
            a[p][0] = vreinterpretq_s8_s64(vzip1q_s64(r0, r1));
            a[p][1] = vreinterpretq_s8_s64(vzip2q_s64(r0, r1));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const size_t off = (size_t)(k + 8 * h) * 16;
#pragma GCC unroll 2
            for (int c2 = 0; c2 < 4; c2 += 2) {
                uint8x16_t b[4];
                if (zipped) {
                    const uint8x16x4_t z = vld1q_u8_x4(Z + off + 32 * c2);
                    b[0] = z.val[0], b[1] = z.val[1], b[2] = z.val[2], b[3] = z.val[3];
                } else {
                    const uint8x16x2_t g0 = vld1q_u8_x2(t + off + 16 * c2), g1 = vld1q_u8_x2(t + off + 64 + 16 * c2);
                    b[0] = zip1_32(g0.val[0], g1.val[0]), b[1] = zip2_32(g0.val[0], g1.val[0]);
                    b[2] = zip1_32(g0.val[1], g1.val[1]), b[3] = zip2_32(g0.val[1], g1.val[1]);
                }
                LOAD_FENCE();
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
#pragma GCC unroll 2
                    for (int p = 0; p < pairs; p++)
                        acc[p][2 * c2 + i] = vusmmlaq_s32(acc[p][2 * c2 + i], b[i], a[p][h]);
            }
        }
    }
    if (mode == Q8_SPILL) {
#pragma GCC unroll 2
        for (int p = 0; p < pairs; p++) {
#pragma GCC unroll 8 /* not ST1 of 4: it wants 4 consecutive registers, MOVs */
            for (int c = 0; c < 8; c++) vst1q_s32(sp + 32 * p + 4 * c, acc[p][c]);
        }
        return;
    }
    const pe_qout ol = *o;
    const float32x4x4_t dc = vld1q_f32_x4(d);
#pragma GCC unroll 2
    for (int p = 0; p < pairs; p++) {
        const int32x4_t *a = acc[p];
        Q8_ROW(vuzp1q_s32, 2 * p);
        if (2 * p + 1 < mr) Q8_ROW(vuzp2q_s32, 2 * p + 1);
    }
#undef Q8_ROW
}

typedef void (*q8_fn)(const int8_t *q, size_t ldq, const int8_t *ap, const int32_t *rsum,
                      const uint8_t *W, uint8_t *Z, int fresh, int nb, const pe_qout *o, int tiles);

/* One function per row count, weight source and pe_qout mode (a finish
 * chosen at run time inside the tile makes GCC shuffle the accumulators
 * between registers in the K loop: 14 MOVs per 16 k); the unzipped tiles
 * (a few rows, or K beyond ZIP_KMAX) always finish through the stack tile.
 * Each runs `tiles` tiles of MR rows down the panel (1 for QOUT_TILE, whose
 * stack tile is stored after each): a call, a table look-up and pe_qout_at
 * per tile were ~60 instructions, a fifth of an attention S tile (K = 64). */
#define Q8_FN(MR, ZIPPED, MODE)                                                                  \
    static void q8_##MR##_##ZIPPED##_##MODE(const int8_t *q, size_t ldq, const int8_t *ap,       \
                                            const int32_t *rsum, const uint8_t *W, uint8_t *Z,   \
                                            int fresh, int nb, const pe_qout *o, int tiles) {    \
        if ((ZIPPED) && (MR) == Q8MR && (MODE) != QOUT_TILE) {                                   \
            /* the tiles' loop in the asm */                                                     \
            q8_acc_4_asm(ap, fresh ? W + PE_Q8_HEAD : Z, fresh ? Z : NULL, nb, NULL, o,     \
                         (const float *)(const void *)W, tiles);                                 \
            return;                                                                              \
        }                                                                                        \
        pe_qout t = *o;                                                                          \
        for (int i = 0; i < tiles; i++, q += (MR) * ldq, rsum += (MR), pe_qout_down(&t, MR)) {   \
            q8_tile(q, ldq, ap, rsum, W, Z, fresh && i == 0, nb, &t, MR, ZIPPED, MODE, NULL);    \
            if (ap) ap += TILE_BYTES(ldq);                                                       \
        }                                                                                        \
    }
#define Q8_ACC(MR)                                                                               \
    static __attribute__((noinline)) void q8_acc_##MR(const int8_t *q, size_t ldq,               \
                                                      const int32_t *rsum, const uint8_t *W,     \
                                                      const uint8_t *Z, int nb, int32_t *sp) {   \
        q8_tile(q, ldq, NULL, rsum, W, (uint8_t *)Z, 0, nb, NULL, MR, 1, Q8_SPILL, sp);          \
    }
Q8_ACC(1) Q8_ACC(2) Q8_ACC(3) Q8_ACC(4)
#define Q8_FNS(Z, MODE) Q8_FN(1, Z, MODE) Q8_FN(2, Z, MODE) Q8_FN(3, Z, MODE) Q8_FN(4, Z, MODE)
Q8_FNS(0, 0) Q8_FNS(1, 0) Q8_FNS(1, 1) Q8_FNS(1, 2) Q8_FNS(1, 3)
#define Q8_ROW(Z, MODE) {q8_1_##Z##_##MODE, q8_2_##Z##_##MODE, q8_3_##Z##_##MODE, q8_4_##Z##_##MODE}
_Static_assert(QOUT_TILE == 0 && QOUT_SCALE == 1 && QOUT_BIAS == 2 && QOUT_RES == 3 && Q8_MODES == 4,
               "q8_tiles is indexed by the pe_qout mode");
static const q8_fn q8_tiles[2][Q8_MODES][Q8MR] = {
    {Q8_ROW(0, 0)},
    {Q8_ROW(1, 0), Q8_ROW(1, 1), Q8_ROW(1, 2), Q8_ROW(1, 3)},
};
#undef Q8_ROW

/* The row tiles' codes packed for the K loop once per call, not ZIPped in
 * it for every panel (4 row loads, their address step and 4 ZIPs per 16 k
 * of a 4-row tile, 18 of the loop's 92 instructions a trip): per full tile
 * and 16 k, 64 bytes, the operands in the loop's order (rows 0 and 1 on 64
 * bits, k 0-7 then 8-15, then rows 2 and 3), one LD1 of 4 in the loop.
 * PACK_BYTES on the stack beside Z: the rows of a call go in chunks that
 * fit (each chunk re-zips the panels into Z: B16's 3072 inputs, 16 rows). */
#define PACK_BYTES (64 * 1024)

/* 16 k of rows q (4, ldq apart) at k into ap. */
INLINE void pack16(const int8_t *q, size_t ldq, size_t k, int8_t *ap) {
    const int64x2_t r0 = vreinterpretq_s64_s8(vld1q_s8(q + k)), r1 = vreinterpretq_s64_s8(vld1q_s8(q + ldq + k));
    const int64x2_t r2 = vreinterpretq_s64_s8(vld1q_s8(q + 2 * ldq + k));
    const int64x2_t r3 = vreinterpretq_s64_s8(vld1q_s8(q + 3 * ldq + k));
    vst1q_s8(ap, vreinterpretq_s8_s64(vzip1q_s64(r0, r1)));
    vst1q_s8(ap + 16, vreinterpretq_s8_s64(vzip2q_s64(r0, r1)));
    vst1q_s8(ap + 32, vreinterpretq_s8_s64(vzip1q_s64(r2, r3)));
    vst1q_s8(ap + 48, vreinterpretq_s8_s64(vzip2q_s64(r2, r3)));
}

/* A tile's seeds (MM_LOOP) from its 4 row sums into ap: 8 copies of the
 * pair (-128 rsum[0], -128 rsum[1]) twice, then 8 of rows 2 and 3's. */
INLINE void pack_seeds(const int32_t *rsum, int8_t *ap) {
    const int64x2_t s = vreinterpretq_s64_s32(vnegq_s32(vshlq_n_s32(vld1q_s32(rsum), 7)));
    const int32x4_t p0 = vreinterpretq_s32_s64(vdupq_laneq_s64(s, 0));
    const int32x4_t p1 = vreinterpretq_s32_s64(vdupq_laneq_s64(s, 1));
    int32_t *d = (int32_t *)(void *)ap;
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        vst1q_s32(d + 4 * i, p0);
        vst1q_s32(d + 32 + 4 * i, p1);
    }
}

/* Each tile: its seeds, then its codes 32 k a step (ldq is a multiple of
 * 32): one loop count for two 16-k steps */
static void pack_rows(const int8_t *q, size_t ldq, const int32_t *rsum, int tiles, int8_t *ap) {
    for (int t = 0; t < tiles; t++, q += Q8MR * ldq, rsum += Q8MR) {
        pack_seeds(rsum, ap);
        ap += SEED_BYTES;
        for (size_t k = 0; k < ldq; k += 32, ap += 128) {
            pack16(q, ldq, k, ap);
            pack16(q, ldq, k + 16, ap + 64);
        }
    }
}

/* Rows of the chunk starting with `rows` left: all of them when their full
 * tiles fit PACK_BYTES, else as many whole tiles as fit less one, so that
 * the next chunk has more than a tile's rows (its first tile zips Z). */
static int pack_chunk(int rows, size_t ldq) {
    const int cap = ((int)(PACK_BYTES / TILE_BYTES(ldq)) - 1) * Q8MR;
    return rows / Q8MR * Q8MR <= cap + Q8MR ? rows : cap;
}

/* Rows [m0, m1) against every panel of [n0, n1); ap: their full tiles
 * packed (pack_rows), or NULL. */
static void gemm_q8_rows(const pe_qact *qa, const int8_t *ap, const uint8_t *Wp, size_t pstride,
                         float *C, int ldc, int m0, int m1, int n0, int n1, const pe_epilogue *ep,
                         int zipped, uint8_t *Z) {
    const int nb = qa->ldq / PE_QK;
    float tile[Q8MR * PE_GEMM_NR] __attribute__((aligned(16)));
    const int mode = pe_qout_mode(ep);
    for (int n = n0; n < n1; n += PE_GEMM_NR) {
        const uint8_t *w = Wp + (size_t)(n / PE_GEMM_NR) * pstride;
        const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        for (int m = m0; m < m1;) {
            const int mr = m1 - m < Q8MR ? m1 - m : Q8MR;
            pe_qout o;
            pe_qout_at(&o, zipped ? mode : QOUT_TILE, tile, C, ldc, qa->s + m, ep, m, n, ncols);
            /* straight into C: every full tile of the panel in one call */
            const int tiles = o.mode == QOUT_TILE || mr < Q8MR ? 1 : (m1 - m) / Q8MR;
            /* the fast GELU's full tiles: the bias finish in the K loop's
             * asm, then the GELU over their rows in one pass (its tables
             * loaded once a panel); bit for bit pe_qout_row's QOUT_GELU */
            const int gelu = o.mode == QOUT_GELU;
            if (gelu) o.mode = QOUT_BIAS;
            /* zipped: the first tile (full: more than Q8MR rows) zips the panel */
            q8_tiles[zipped][o.mode][mr - 1](qa->q + (size_t)m * qa->ldq, (size_t)qa->ldq,
                                             ap && mr == Q8MR
                                                 ? ap + (size_t)(m - m0) / Q8MR * TILE_BYTES(nb * PE_QK)
                                                 : NULL,
                                             qa->rsum + m, w, Z, zipped && m == m0, nb, &o, tiles);
            if (gelu) pe_neon_gelu16_rows(o.C, o.ldc, (long)tiles * mr);
            if (o.mode == QOUT_TILE) pe_tile_store(tile, mr, ncols, qa->s + m, C + (size_t)m * ldc + n, ldc, ep, m, n);
            m += tiles * mr;
        }
    }
}

static void gemm_q(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    if (m1 <= m0 || n1 <= n0) return;
    if (t == PE_WT_Q4) {
        pe_neondot_gemm_q4(qa, Wv, K, C, ldc, m0, m1, n0, n1, ep);
        return;
    }
    const size_t pstride = pe_qpack_panel_bytes(PE_WT_Q8, K), ldq = (size_t)qa->ldq;
    /* one tile of rows cannot pay for zipping the panel first */
    const int zipped = ldq <= ZIP_KMAX && m1 - m0 > Q8MR;
    uint8_t Z[ZIP_KMAX * PE_GEMM_NR] __attribute__((aligned(16)));
    if (!zipped) {
        gemm_q8_rows(qa, NULL, Wv, pstride, C, ldc, m0, m1, n0, n1, ep, 0, Z);
        return;
    }
    int8_t ap[PACK_BYTES] __attribute__((aligned(16)));
    for (int m = m0, rows; m < m1; m += rows) {
        rows = pack_chunk(m1 - m, ldq);
        pack_rows(qa->q + (size_t)m * ldq, ldq, qa->rsum + m, rows / Q8MR, ap);
        gemm_q8_rows(qa, ap, Wv, pstride, C, ldc, m, m + rows, n0, n1, ep, 1, Z);
    }
}

const pe_qkernels pe_qkernels_i8mm = {
    .name = "neon-i8mm",
    .gemm_half = pe_neon_gemm_half,
    .quantize_rows = pe_neon_quantize_rows,
    .gemm_q = gemm_q,
    .softmax_q8 = pe_neon_softmax_q8,
    .pack_q8_t = pe_neon_pack_q8_t,
    .tile_rows = Q8MR,
};
