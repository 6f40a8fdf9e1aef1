/* Shared by the ARM64 int8 kernel sets with dot-product instructions
 * (qgemm_neondot.c, qgemm_i8mm.c); the epilogue of their tiles is
 * pe_tile_store (simd_neon.h).  Include only from files compiled for
 * ARMv8.2 or later. */
#ifndef PE_QGEMM_ARM_H
#define PE_QGEMM_ARM_H

#include "qgemm_neon.h"
#include "quant.h"
#include "simd_neon.h"

/* GCC 12 schedules every weight load of an unrolled inner loop before the
 * first multiply, which needs more than 32 registers and spills the
 * accumulators; a compiler barrier after a group's loads keeps the next
 * group's loads from moving above its multiplies (it emits nothing). */
#define LOAD_FENCE() __asm__ volatile("" ::: "memory")

/* Asm text shared by both int8 sets' tile finishes: the int32 sums in
 * v<D..> converted to float and multiplied by the column scales v0-v3
 * (v0-v1 for two), as pe_qout_row's first two steps. */
#define QA_CVT_COLS2(D0, D1)                                                                     \
    "scvtf v" #D0 ".4s, v" #D0 ".4s\n\t"                                                         \
    "scvtf v" #D1 ".4s, v" #D1 ".4s\n\t"                                                         \
    "fmul v" #D0 ".4s, v" #D0 ".4s, v0.4s\n\t"                                                   \
    "fmul v" #D1 ".4s, v" #D1 ".4s, v1.4s\n\t"
#define QA_CVT_COLS4(D0, D1, D2, D3)                                                             \
    "scvtf v" #D0 ".4s, v" #D0 ".4s\n\t"                                                         \
    "scvtf v" #D1 ".4s, v" #D1 ".4s\n\t"                                                         \
    "scvtf v" #D2 ".4s, v" #D2 ".4s\n\t"                                                         \
    "scvtf v" #D3 ".4s, v" #D3 ".4s\n\t"                                                         \
    "fmul v" #D0 ".4s, v" #D0 ".4s, v0.4s\n\t"                                                   \
    "fmul v" #D1 ".4s, v" #D1 ".4s, v1.4s\n\t"                                                   \
    "fmul v" #D2 ".4s, v" #D2 ".4s, v2.4s\n\t"                                                   \
    "fmul v" #D3 ".4s, v" #D3 ".4s, v3.4s\n\t"

/* ------------------------------------------------------------ epilogue */

/* How a tile of the dot-product / i8mm sets finishes its rows, chosen once
 * per GEMM call from the pe_epilogue (pe_qout_mode): the int8 GEMMs of a pass
 * are the attention's S and P V (rows scaled only), qkv (bias), fc1 (bias,
 * fast GELU) and the projections (bias, gamma, residual), and each of these
 * runs on the tile's registers straight into C.  Anything else (exact GELU, SwiGLU gate, GELU with a
 * residual) and a panel narrower than 16 columns goes through the stack
 * tile and pe_tile_store (QOUT_TILE): the same arithmetic as
 * pe_epilogue_ref, in the same order. */
enum { QOUT_TILE, QOUT_SCALE, QOUT_BIAS, QOUT_RES, QOUT_GELU };
/* The q8 tiles take the first four (QOUT_GELU runs as QOUT_BIAS, then
 * pe_neon_gelu16_rows over the panel's rows); QOUT_GELU reaches
 * pe_qout_row through q4's float tiles only. */
enum { Q8_MODES = QOUT_GELU };

typedef struct pe_qout {
    int mode;
    float *C;            /* row 0 of the tile at its first column, or the stack tile (QOUT_TILE) */
    size_t ldc;          /* PE_GEMM_NR for the stack tile */
    const float *rs;     /* the tile's row scales (qa->s + m) */
    const float *bias;   /* [16] at the first column (zeros when the epilogue has none) */
    const float *gamma;  /* [16] at the first column (ones when none) */
    const float *res;    /* residual at the tile's first row and column */
    size_t ldr;
} pe_qout;

static inline int pe_qout_mode(const pe_epilogue *ep) {
    if (!ep) return QOUT_SCALE;
    if (ep->glu || ep->gelu == PE_GELU_EXACT || (ep->gelu && ep->residual)) return QOUT_TILE;
    if (ep->gelu == PE_GELU_FAST) return QOUT_GELU;
    if (ep->residual) return QOUT_RES;
    return ep->bias ? QOUT_BIAS : QOUT_SCALE;
}

/* PE_QOUT_LOCAL: a tile copies its pe_qout to a local and loads the column
 * scales once before its rows: the NEON stores of a row may alias anything
 * (GCC's vst1q builtins), so through the caller's pointer every row reloaded
 * C, ldc, rs and the 4 column-scale vectors (~8 instructions a row). */

/* One row's 16 values (the integer products times the column scales) through
 * mode (a constant where inlined) into row r of o->C. */
INLINE void pe_qout_row(const pe_qout *o, int r, float32x4_t v[4], const int mode) {
    float *c = o->C + (size_t)r * o->ldc;
    if (mode != QOUT_TILE) {
        const float s = o->rs[r];
        if (mode == QOUT_SCALE) {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) v[j] = vmulq_n_f32(v[j], s);
        } else {
            const float32x4x4_t b = vld1q_f32_x4(o->bias);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) v[j] = vfmaq_n_f32(b.val[j], v[j], s);
        }
        if (mode == QOUT_GELU) vf_gelu_fast_x4(v);
        if (mode == QOUT_RES) {
            const float32x4x4_t g = vld1q_f32_x4(o->gamma), x = vld1q_f32_x4(o->res + (size_t)r * o->ldr);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) v[j] = vfmaq_f32(x.val[j], g.val[j], v[j]);
        }
    }
    /* 4 stores (2 STP) rather than one ST1 of 4, which wants 4 consecutive
     * registers: MOVs into them */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) vst1q_f32(c + 4 * j, v[j]);
}

/* The vectors of an epilogue without bias or gamma (qgemm_neondot.c). */
extern const float pe_qout_zeros[PE_GEMM_NR], pe_qout_ones[PE_GEMM_NR];

/* Sets o for the tile at rows m.., columns n.. of C (ncols valid columns),
 * the epilogue's vectors at n; the stack tile when mode cannot run
 * straight into C. */
static inline void pe_qout_at(pe_qout *o, int mode, float *tile, float *C, int ldc, const float *rs,
                              const pe_epilogue *ep, int m, int n, int ncols) {
    o->mode = ncols == PE_GEMM_NR ? mode : QOUT_TILE;
    o->rs = rs;
    o->C = o->mode == QOUT_TILE ? tile : C + (size_t)m * ldc + n;
    o->ldc = o->mode == QOUT_TILE ? PE_GEMM_NR : (size_t)ldc;
    o->bias = ep && ep->bias ? ep->bias + n : pe_qout_zeros;
    o->gamma = ep && ep->gamma ? ep->gamma + n : pe_qout_ones;
    o->res = ep && ep->residual ? ep->residual + (size_t)m * ep->ldr + n : NULL;
    o->ldr = ep ? (size_t)ep->ldr : 0;
}

/* o moved down mr rows: the next tile of the same panel (not QOUT_TILE). */
INLINE void pe_qout_down(pe_qout *o, int mr) {
    o->rs += mr;
    o->C += (size_t)mr * o->ldc;
    if (o->res) o->res += (size_t)mr * o->ldr;
}

/* The rows of a float tile in memory (q4: its block sums) through o. */
INLINE void pe_qout_tile(const pe_qout *o, const float *tile, int mr) {
    for (int r = 0; r < mr; r++) {
        const float32x4x4_t t = vld1q_f32_x4(tile + r * PE_GEMM_NR);
        float32x4_t v[4] = {t.val[0], t.val[1], t.val[2], t.val[3]};
        switch (o->mode) {
        case QOUT_SCALE: pe_qout_row(o, r, v, QOUT_SCALE); break;
        case QOUT_BIAS: pe_qout_row(o, r, v, QOUT_BIAS); break;
        case QOUT_GELU: pe_qout_row(o, r, v, QOUT_GELU); break;
        case QOUT_RES: pe_qout_row(o, r, v, QOUT_RES); break;
        default: break;
        }
    }
}

/* The q4 GEMM of the dot-product set (SDOT by element), which the i8mm set
 * reuses: rows [m0, m1), columns [n0, n1) as gemm_q. */
void pe_neondot_gemm_q4(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep);

#endif
