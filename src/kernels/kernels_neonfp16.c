/* fp16 compute GEMM for ARMv8.2 FEAT_FP16 (built with +fp16; reached only
 * through a registry row whose fp16 predicate holds).  f16.h gives the
 * semantics and gemm_f16_ref.c the specification, matched bit for bit up
 * to the epilogue.
 *
 * Register tile: 4 rows x 16 columns.  Each k step is half a load of the
 * panel (one LD1 of 4 vectors: two k rows of 16 halves) and 8 FMLA .8h by
 * element: 64 multiply-adds for 8.5 instructions plus an eighth of a load
 * of A (all 4 rows).  The half sums (8 vectors) are widened into float32
 * accumulators (16 vectors) every PE_F16_SLICE k: 16 FCVTL / FCVTL2 and 16
 * FADD per 32 k steps of 256 FMLA.  A row tile of A is rounded to half
 * once (into a stack buffer, interleaved: each 8-k block holds the 4 rows'
 * 8 halves together, one LD1 of 4 vectors) and reused by every panel of
 * the call; P V's A, the softmax's P, is written in that layout (PE_F16_IL)
 * by the softmax itself: one tile family for both. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns") /* see kernels_neon.c */
#endif

#include "f16.h"
#include "gemm_panels.h"
#include "qgemm_neon.h"
#include "simd_neon.h"
#include "vecmath_coef.h"

#include <arm_neon.h>
#include <string.h>

#define F16_MR PE_F16_TILE

/* Eight k steps of a 4-row tile in assembly (a short last slice): GCC 12
 * spells vfmaq_laneq_f16 as a DUP and a vector FMLA (one more instruction
 * per multiply-add pair) once the lane is used twice.  FMLA .8h by element
 * takes its element from V0-V15 ("x"). */
/* (h and a: the caller's tile names) */
#define F16_ASM_OPERANDS(HC)                                                                   \
    : [w0] "=&w"(w0_), [w1] "=&w"(w1_), [h00] HC(h[0][0]), [h01] HC(h[0][1]), [h10] HC(h[1][0]), \
      [h11] HC(h[1][1]), [h20] HC(h[2][0]), [h21] HC(h[2][1]), [h30] HC(h[3][0]), [h31] HC(h[3][1]) \
    : [a0] "x"(a[0]), [a1] "x"(a[1]), [a2] "x"(a[2]), [a3] "x"(a[3]), [wp] "r"(wk_),           \
      "m"(*(const float16_t(*)[8 * PE_GEMM_NR])wk_)
#define F16_RW(x) "+w"(x)
#define F16_STEP8_4(h, a, Wk)                                                                  \
    do {                                                                                       \
        float16x8_t w0_, w1_;                                                                  \
        const float16_t *wk_ = (Wk);                                                           \
        __asm__(F16_G("fmla", 0, 0) F16_ASM_7 F16_ASM_OPERANDS(F16_RW));                      \
    } while (0)
/* Step L (lane L of A, panel row L at byte OFF = 32 L): 8 OP by element. */
#define F16_G(OP, L, OFF)                                       \
    "ldp %q[w0], %q[w1], [%[wp], #" #OFF "]\n"                  \
    OP " %[h00].8h, %[w0].8h, %[a0].h[" #L "]\n"                \
    OP " %[h01].8h, %[w1].8h, %[a0].h[" #L "]\n"                \
    OP " %[h10].8h, %[w0].8h, %[a1].h[" #L "]\n"                \
    OP " %[h11].8h, %[w1].8h, %[a1].h[" #L "]\n"                \
    OP " %[h20].8h, %[w0].8h, %[a2].h[" #L "]\n"                \
    OP " %[h21].8h, %[w1].8h, %[a2].h[" #L "]\n"                \
    OP " %[h30].8h, %[w0].8h, %[a3].h[" #L "]\n"                \
    OP " %[h31].8h, %[w1].8h, %[a3].h[" #L "]\n"
#define F16_ASM_7                                                                              \
    F16_G("fmla", 1, 32) F16_G("fmla", 2, 64) F16_G("fmla", 3, 96) F16_G("fmla", 4, 128)      \
    F16_G("fmla", 5, 160) F16_G("fmla", 6, 192) F16_G("fmla", 7, 224)

/* Eight k steps (one vector of A per row, lane L = step L) of one slice. */
#define F16_STEP(L)                                                                         \
    do {                                                                                    \
        const float16x8_t w0 = vld1q_f16(W + (size_t)(k + (L)) * PE_GEMM_NR);               \
        const float16x8_t w1 = vld1q_f16(W + (size_t)(k + (L)) * PE_GEMM_NR + 8);           \
        _Pragma("GCC unroll 4") for (int r = 0; r < mr; r++) {                              \
            h[r][0] = vfmaq_laneq_f16(h[r][0], w0, a[r], L);                                \
            h[r][1] = vfmaq_laneq_f16(h[r][1], w1, a[r], L);                                \
        }                                                                                   \
    } while (0)

/* A whole 32-k slice of a 4-row tile and its flush, as one asm statement
 * with fixed registers: A in V0-V3 (FMLA by element takes its element from
 * V0-V15), the half sums in V4-V11, two panel rows in V28-V31 (one LD1 of
 * four consecutive registers for two k steps, where two LDPs were: no
 * operand can name a run of registers), leaving V12-V27 to the 16 float32
 * totals.  The A rows and the panel are read with post-increment, so the
 * slice needs no address arithmetic.  Its first step multiplies (FMUL):
 * the sums start from -0 (f16.h), and -0 + p is p, sign of a zero
 * included, so nothing is zeroed; then F16_STEP8_4's FMLAs in the same
 * order. */
#define F16_SG(OP, L, W0, W1)                                                                  \
    OP " v4.8h, " W0 ".8h, v0.h[" #L "]\n" OP " v5.8h, " W1 ".8h, v0.h[" #L "]\n"            \
    OP " v6.8h, " W0 ".8h, v1.h[" #L "]\n" OP " v7.8h, " W1 ".8h, v1.h[" #L "]\n"            \
    OP " v8.8h, " W0 ".8h, v2.h[" #L "]\n" OP " v9.8h, " W1 ".8h, v2.h[" #L "]\n"            \
    OP " v10.8h, " W0 ".8h, v3.h[" #L "]\n" OP " v11.8h, " W1 ".8h, v3.h[" #L "]\n"
#define F16_SPAIR(OP, L, L1)                                                                   \
    "ld1 {v28.8h, v29.8h, v30.8h, v31.8h}, [%[wp]], #64\n" F16_SG(OP, L, "v28", "v29")       \
        F16_SG("fmla", L1, "v30", "v31")
#define F16_LDA_IL "ld1 {v0.8h, v1.8h, v2.8h, v3.8h}, [%[p0]], #64\n"
#define F16_S8(LDA, OP)                                                                        \
    LDA F16_SPAIR(OP, 0, 1) F16_SPAIR("fmla", 2, 3) F16_SPAIR("fmla", 4, 5) F16_SPAIR("fmla", 6, 7)
#define F16_S32(LDA) F16_S8(LDA, "fmul") F16_S8(LDA, "fmla") F16_S8(LDA, "fmla") F16_S8(LDA, "fmla")
#define F16_S_HSUMS                                                                            \
    "=w"(h00), "=w"(h01), "=w"(h10), "=w"(h11), "=w"(h20), "=w"(h21), "=w"(h30), "=w"(h31)
#define F16_S_CLOBBERS "v0", "v1", "v2", "v3", "v28", "v29", "v30", "v31"
/* The slice's half sums h widened into the float32 totals of rows r < mr:
 * the first slice's are the totals (f16.h: no +0 to start from), the
 * others are added in order. */
INLINE void f16_flush(float32x4_t acc[F16_MR][4], const float16x8_t h[F16_MR][2], const int mr,
                      const int first) {
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++) {
        const float32x4_t w[4] = {vcvt_f32_f16(vget_low_f16(h[r][0])), vcvt_high_f32_f16(h[r][0]),
                                  vcvt_f32_f16(vget_low_f16(h[r][1])), vcvt_high_f32_f16(h[r][1])};
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[r][c] = first ? w[c] : vaddq_f32(acc[r][c], w[c]);
    }
}

/* The half sums leave the asm in V4-V11 (register variables: an asm
 * statement can name at most 30 operands, too few for the 16 totals in
 * and out); the flush is C's FCVTL + FADD.  A interleaved (PE_F16_IL): the
 * 4 rows' 8 halves of a k block in one LD1. */
static inline __attribute__((always_inline)) void f16_slice_flush_4(float32x4_t acc[F16_MR][4],
                                                                    const float16_t **pa, const float16_t **pw,
                                                                    const int first) {
    const float16_t *p0 = *pa, *wk = *pw;
    register float16x8_t h00 __asm__("v4"), h01 __asm__("v5"), h10 __asm__("v6"), h11 __asm__("v7");
    register float16x8_t h20 __asm__("v8"), h21 __asm__("v9"), h30 __asm__("v10"), h31 __asm__("v11");
    __asm__(F16_S32(F16_LDA_IL)
            : [wp] "+r"(wk), [p0] "+r"(p0), F16_S_HSUMS
            : "m"(*(const float16_t(*)[PE_F16_SLICE * PE_GEMM_NR])wk),
              "m"(*(const float16_t(*)[F16_MR * PE_F16_SLICE])p0)
            : F16_S_CLOBBERS);
    *pa = p0, *pw = wk;
    const float16x8_t h[F16_MR][2] = {{h00, h01}, {h10, h11}, {h20, h21}, {h30, h31}};
    f16_flush(acc, h, F16_MR, first);
}

/* Any slice k0 .. ke of an mr-row tile (the last, short one; tiles of
 * fewer rows): h = its half sums, 8 steps at a time, then one by one. */
INLINE void f16_slice(float16x8_t h[F16_MR][2], const float16_t *A16, const float16_t *W, int k0, int ke,
                      const int mr) {
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++) h[r][0] = h[r][1] = vdupq_n_f16(-0.0f); /* -0 + p = p, as FMUL */
    int k = k0;
    for (; k + 8 <= ke; k += 8) {
        float16x8_t a[F16_MR];
#pragma GCC unroll 4
        for (int r = 0; r < mr; r++) a[r] = vld1q_f16(A16 + PE_F16_IL(r, k));
        if (mr == F16_MR) {
            F16_STEP8_4(h, a, W + (size_t)k * PE_GEMM_NR);
            continue;
        }
        F16_STEP(0);
        F16_STEP(1);
        F16_STEP(2);
        F16_STEP(3);
        F16_STEP(4);
        F16_STEP(5);
        F16_STEP(6);
        F16_STEP(7);
    }
    for (; k < ke; k++) { /* K's last few, in the same order */
        const float16x8_t w0 = vld1q_f16(W + (size_t)k * PE_GEMM_NR);
        const float16x8_t w1 = vld1q_f16(W + (size_t)k * PE_GEMM_NR + 8);
#pragma GCC unroll 4
        for (int r = 0; r < mr; r++) {
            h[r][0] = vfmaq_n_f16(h[r][0], w0, A16[PE_F16_IL(r, k)]);
            h[r][1] = vfmaq_n_f16(h[r][1], w1, A16[PE_F16_IL(r, k)]);
        }
    }
}

/* The epilogue of a tile's 16 columns, resolved for its panel (column n,
 * row m of the tile): pe_tile_store's steps in the same order, applied to
 * the float32 totals while they are still in registers. */
typedef struct f16_ep {
    const float *bias, *gamma; /* at column n, or NULL */
    const float *res;          /* residual at row m, column n, or NULL */
    size_t ldr;
    int gelu;
} f16_ep;

/* Row v of a tile (its 4 vectors) through fe, into out; b, g: bias and
 * gamma of the panel (0 and 1 where fe has none). */
INLINE void f16_row_ep(float32x4_t v[4], const float32x4_t b[4], const float32x4_t g[4], const float *res,
                       float *out, const int gelu) {
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) v[c] = vaddq_f32(v[c], b[c]);
    if (gelu == PE_GELU_EXACT) vf_gelu_x4(v);
    else if (gelu == PE_GELU_FAST) vf_gelu_fast_x4(v);
    if (res) {
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) v[c] = vfmaq_f32(vld1q_f32(res + 4 * c), g[c], v[c]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) vst1q_f32(out + 4 * c, v[c]);
}

INLINE void f16_ep_vectors(const f16_ep *fe, float32x4_t b[4], float32x4_t g[4]) {
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        b[c] = fe->bias ? vld1q_f32(fe->bias + 4 * c) : vdupq_n_f32(0.0f);
        g[c] = fe->gamma ? vld1q_f32(fe->gamma + 4 * c) : vdupq_n_f32(1.0f);
    }
}

/* A GELU tile, its totals spilled to t (16 floats a row), row by row: the
 * GELU's temporaries beside one row's totals, where beside all 16 they
 * would spill anyway, and one copy of its code for all tile shapes. */
static void __attribute__((noinline)) f16_rows_gelu(const float *t, int mr, float *out, size_t ldo,
                                                    const f16_ep *fe) {
    float32x4_t b[4], g[4];
    f16_ep_vectors(fe, b, g);
#pragma GCC unroll 1
    for (int r = 0; r < mr; r++) {
        float32x4_t v[4] = {vld1q_f32(t + r * PE_GEMM_NR), vld1q_f32(t + r * PE_GEMM_NR + 4),
                            vld1q_f32(t + r * PE_GEMM_NR + 8), vld1q_f32(t + r * PE_GEMM_NR + 12)};
        f16_row_ep(v, b, g, fe->res ? fe->res + r * fe->ldr : NULL, out + r * ldo, fe->gelu);
    }
}

/* out[r * ldo + 0 .. 16) = the totals of rows r < mr through fe:
 * bias, GELU, gamma * v + residual (FMLA, as pe_tile_store). */
INLINE void f16_store_ep(float32x4_t acc[F16_MR][4], const int mr, float *out, size_t ldo,
                         const f16_ep *fe) {
    if (fe->gelu) {
        float t[F16_MR * PE_GEMM_NR] __attribute__((aligned(16)));
        PE_TILE_SPILL(t, acc, mr);
        f16_rows_gelu(t, mr, out, ldo, fe);
        return;
    }
    float32x4_t b[4], g[4];
    f16_ep_vectors(fe, b, g);
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
        f16_row_ep(acc[r], b, g, fe->res ? fe->res + r * fe->ldr : NULL, out + r * ldo, PE_GELU_NONE);
}

/* out[r * ldo + 0 .. 16) = the float32 totals of rows r < mr of A16 (a
 * tile interleaved, PE_F16_IL, K used) times panel W, times rs[r] when rs
 * is given, or through the epilogue fe when given. */
INLINE void f16_tile(const float16_t *A16, const float16_t *W, int K, float *out, size_t ldo,
                     const float *rs, const f16_ep *fe, const int mr) {
    float32x4_t acc[F16_MR][4];
    PE_TILE_SET(acc, mr, 4, vdupq_n_f32(0.0f)); /* K = 0; dead where the first flush sets them */
    int k0 = 0;
    if (mr == F16_MR && K >= PE_F16_SLICE) { /* whole slices, unrolled, flushed; the asm steps the pointers */
        const float16_t *pa = A16, *pw = W;
        f16_slice_flush_4(acc, &pa, &pw, 1);
        for (k0 = PE_F16_SLICE; k0 + PE_F16_SLICE <= K; k0 += PE_F16_SLICE) f16_slice_flush_4(acc, &pa, &pw, 0);
    }
    for (; k0 < K; k0 += PE_F16_SLICE) {
        const int ke = K - k0 < PE_F16_SLICE ? K : k0 + PE_F16_SLICE;
        float16x8_t h[F16_MR][2];
        f16_slice(h, A16, W, k0, ke, mr);
        if (k0 == 0) f16_flush(acc, h, mr, 1);
        else f16_flush(acc, h, mr, 0);
    }
    if (fe) {
        f16_store_ep(acc, mr, out, ldo, fe);
        return;
    }
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) vst1q_f32(out + r * ldo + 4 * c, rs ? vmulq_n_f32(acc[r][c], rs[r]) : acc[r][c]);
}

/* f16_tile over np consecutive panels (W, out and fe's column pointers
 * step by a panel): one call, one save of V8-V15, for a row tile's run of
 * whole panels. */
INLINE void f16_tile_run(const float16_t *A16, const float16_t *W, int np, int K, float *out, size_t ldo,
                         const float *rs, const f16_ep *fe, const int mr) {
    f16_ep e = fe ? *fe : (f16_ep){0};
    for (int p = 0; p < np; p++, W += (size_t)K * PE_GEMM_NR, out += PE_GEMM_NR) {
        f16_tile(A16, W, K, out, ldo, rs, fe ? &e : NULL, mr);
        if (!fe) continue;
        if (e.bias) e.bias += PE_GEMM_NR;
        if (e.gamma) e.gamma += PE_GEMM_NR;
        if (e.res) e.res += PE_GEMM_NR;
    }
}

typedef void (*f16_fn)(const float16_t *A16, const float16_t *W, int np, int K, float *out, size_t ldo,
                       const float *rs, const f16_ep *fe);
#define F16_FN(R)                                                                              \
    static void f16_tile_##R(const float16_t *A16, const float16_t *W, int np, int K, float *o, size_t ldo, \
                             const float *rs, const f16_ep *fe) {                              \
        f16_tile_run(A16, W, np, K, o, ldo, rs, fe, R);                                        \
    }
F16_FN(1) F16_FN(2) F16_FN(3) F16_FN(4)
static const f16_fn f16_tiles[F16_MR] = {f16_tile_1, f16_tile_2, f16_tile_3, f16_tile_4};

/* Row a rounded to half into a16, interleaved (PE_F16_IL: its blocks of 8
 * k F16_MR * 8 halves apart; FCVTN: to nearest even, as the reference);
 * returns whether max |a| <= PE_F16_AMAX (NaN: no). */
static int row_to_f16(const float *a, int K, float16_t *a16) {
    uint32x4_t fit = vdupq_n_u32(~0u);
    const float32x4_t lim = vdupq_n_f32(PE_F16_AMAX);
    int k = 0;
    float16_t *d = a16; /* block k / 8 */
    for (; k + 8 <= K; k += 8, d += F16_MR * 8) {
        const float32x4_t x0 = vld1q_f32(a + k), x1 = vld1q_f32(a + k + 4);
        fit = vandq_u32(fit, vandq_u32(vcaleq_f32(x0, lim), vcaleq_f32(x1, lim)));
        vst1q_f16(d, vcvt_high_f16_f32(vcvt_f16_f32(x0), x1));
    }
    int ok = vminvq_u32(fit) != 0;
    for (; k < K; k++) {
        ok &= fabsf(a[k]) <= PE_F16_AMAX;
        a16[PE_F16_IL(0, k)] = (float16_t)a[k];
    }
    return ok;
}

/* A tile through the stack buffer and pe_tile_store (fewer than 16
 * columns, a glu operand; without an epilogue copied as it is, where
 * pe_tile_store would add a zero bias to a -0): out of f16_panels' loop,
 * whose registers then serve the common case. */
static void __attribute__((noinline)) f16_panel_buffered(f16_fn tile, const float16_t *a16, const float16_t *w,
                                                         int K, float *c, int ldc, int mr, int ncols,
                                                         const pe_epilogue *ep, int m, int n, const float *rs) {
    if (ep) {
        PANEL_TILE_BUFFERED(F16_MR, tile(a16, w, 1, K, tile_, PE_GEMM_NR, NULL, NULL), rs, mr, c, ldc, ncols, ep,
                            m, n);
        return;
    }
    float t[F16_MR * PE_GEMM_NR] __attribute__((aligned(16))); /* no epilogue: the totals as they are */
    tile(a16, w, 1, K, t, PE_GEMM_NR, NULL, NULL);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < ncols; j++) {
            const float v = t[r * PE_GEMM_NR + j];
            c[(size_t)r * ldc + j] = rs ? v * rs[r] : v;
        }
}

/* Rows m .. m + mr of C (at most F16_MR, in half in a16, interleaved:
 * PE_F16_IL) for panels [n0, n1), row m scaled by rs[m] when rs is given:
 * the whole panels go straight into C in one call, through their epilogue
 * on the tile's registers (f16_ep); a narrower last one, or all with a
 * glu operand, through the stack tile (f16_panel_buffered). */
static void f16_panels(const float16_t *a16, int mr, const void *Wp, int K,
                       float *C, int ldc, int m, int n0, int n1, const pe_epilogue *ep, const float *rs) {
    const size_t pbytes = (size_t)K * PE_GEMM_NR * sizeof(uint16_t);
    const int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    const f16_fn tile = f16_tiles[mr - 1];
    /* f16_ep holds bias, GELU, gamma and residual: a pe_epilogue step
     * beyond those (glu, or one added later) must go the buffered way */
    const int direct = !ep || (!ep->glu && !rs);
    f16_ep fe = {0};
    if (ep) {
        fe.gelu = ep->gelu;
        fe.ldr = (size_t)ep->ldr;
        fe.res = ep->residual ? ep->residual + (size_t)m * ep->ldr : NULL;
    }
    int p = p0;
    if (direct && (n1 - n0) / PE_GEMM_NR > 0) { /* n0 is a panel's first column */
        const int np = (n1 - n0) / PE_GEMM_NR;
        const float16_t *w = (const float16_t *)((const uint8_t *)Wp + (size_t)p0 * pbytes);
        float *c = C + (size_t)m * ldc + n0;
        if (ep) {
            fe.bias = ep->bias ? ep->bias + n0 : NULL;
            fe.gamma = ep->gamma ? ep->gamma + n0 : NULL;
            fe.res = fe.res ? fe.res + n0 : NULL;
        }
        tile(a16, w, np, K, c, (size_t)ldc, rs ? rs + m : NULL, ep ? &fe : NULL);
        p += np;
    }
    for (; p < p1; p++) {
        const int n = p * PE_GEMM_NR, ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        const float16_t *w = (const float16_t *)((const uint8_t *)Wp + (size_t)p * pbytes);
        f16_panel_buffered(tile, a16, w, K, C + (size_t)m * ldc + n, ldc, mr, ncols, ep, m, n, rs ? rs + m : NULL);
    }
}

static void gemm_f16(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                     int m1, int n0, int n1, const pe_epilogue *ep) {
    if (m1 <= m0 || n1 <= n0) return;
    if (K > PE_F16_KMAX) {
        pe_neon_gemm_half(A, lda, Wp, K, C, ldc, m0, m1, n0, n1, ep, PE_WT_F16);
        return;
    }
    float16_t a16[F16_MR * PE_F16_KMAX] __attribute__((aligned(16))); /* interleaved */
    for (int m = m0; m < m1; m += F16_MR) {
        const int mr = m1 - m < F16_MR ? m1 - m : F16_MR;
        int fits[F16_MR], all = 1;
        for (int r = 0; r < mr; r++) all &= fits[r] = row_to_f16(A + (size_t)(m + r) * lda, K, a16 + r * 8);
        if (all) {
            f16_panels(a16, mr, Wp, K, C, ldc, m, n0, n1, ep, NULL);
            continue;
        }
        for (int r = 0; r < mr; r++) /* a tile with an outsized row: row by row, that row in float32 */
            if (fits[r]) f16_panels(a16 + r * 8, 1, Wp, K, C, ldc, m + r, n0, n1, ep, NULL);
            else pe_neon_gemm_half(A, lda, Wp, K, C, ldc, m + r, m + r + 1, n0, n1, ep, PE_WT_F16);
    }
}

static void gemm_f16h(const uint16_t *A16, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                      int m1, int n0, int n1, const float *rs) {
    if (n1 <= n0) return;
    for (int m = m0; m < m1; m += F16_MR)
        f16_panels((const float16_t *)A16 + (size_t)m * lda, m1 - m < F16_MR ? m1 - m : F16_MR, Wp, K, C, ldc, m,
                   n0, n1, NULL, rs);
}

/* e(t) of f16.h on 4 lanes, before the rounding to half: the reference's
 * steps, one rounding each (FMAX keeps a NaN NaN, as the reference).  The
 * polynomial in Estrin's form: two of its FMLAs accumulate into a
 * computed value, where Horner's would each copy a constant first (MOV);
 * 2^n is FCVTZS with 23 fraction bits (n << 23) plus 127 << 23. */
INLINE float32x4_t softmax_exp4(float32x4_t t) {
    t = vmaxq_f32(t, vdupq_n_f32(PE_F16_EXP_MIN));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(t, PE_LOG2E));
    const float32x4_t r = vfmsq_f32(t, n, vdupq_n_f32(PE_LN2_F)), r2 = vmulq_f32(r, r);
    const float32x4_t a = vaddq_f32(r, vdupq_n_f32(1.0f));
    float32x4_t b = vfmaq_f32(vdupq_n_f32(1.0f / 2), r, vdupq_n_f32(1.0f / 6));
    const float32x4_t c = vfmaq_f32(vdupq_n_f32(1.0f / 24), r, vdupq_n_f32(1.0f / 120));
    b = vfmaq_f32(b, r2, c);
    const float32x4_t q = vfmaq_f32(a, r2, b);
    const int32x4_t e = vaddq_s32(vcvtq_n_s32_f32(n, 23), vdupq_n_s32(127 << 23));
    return vmulq_f32(q, vreinterpretq_f32_s32(e));
}

/* pe_f16kernels.softmax: the max (FMAXNM skips a NaN, as fmaxf in the
 * reference), then 8 weights a step, written in half (FCVTN) for P V, a
 * block of 8 every F16_MR * 8 halves (PE_F16_IL), with two sums. */
static float softmax_f16(const float *x, int n, float scale, uint16_t *p16) {
    float16_t *p = (float16_t *)p16;
    float32x4_t mx = vdupq_n_f32(-INFINITY), m1 = mx, m2 = mx, m3 = mx;
    int i = 0;
    for (; i + 16 <= n; i += 16) { /* 4 loads a branch; the max of any order is the max */
        mx = vmaxnmq_f32(mx, vld1q_f32(x + i));
        m1 = vmaxnmq_f32(m1, vld1q_f32(x + i + 4));
        m2 = vmaxnmq_f32(m2, vld1q_f32(x + i + 8));
        m3 = vmaxnmq_f32(m3, vld1q_f32(x + i + 12));
    }
    mx = vmaxnmq_f32(vmaxnmq_f32(mx, m1), vmaxnmq_f32(m2, m3));
    for (; i + 4 <= n; i += 4) mx = vmaxnmq_f32(mx, vld1q_f32(x + i));
    float m = vmaxnmvq_f32(mx);
    for (; i < n; i++) m = fmaxf(m, x[i]);
    const float32x4_t ms = vdupq_n_f32(-(m * scale)), vs = vdupq_n_f32(scale);
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    float16_t *d = p;
    for (i = 0; i + 8 <= n; i += 8, d += F16_MR * 8) {
        const float32x4_t e0 = softmax_exp4(vfmaq_f32(ms, vld1q_f32(x + i), vs));
        const float32x4_t e1 = softmax_exp4(vfmaq_f32(ms, vld1q_f32(x + i + 4), vs));
        vst1q_f16(d, vcvt_high_f16_f32(vcvt_f16_f32(e0), e1));
        s0 = vaddq_f32(s0, e0);
        s1 = vaddq_f32(s1, e1);
    }
    float sum = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) { /* the last few, one lane each */
        const float e = vgetq_lane_f32(softmax_exp4(vdupq_n_f32(fmaf(x[i], scale, -(m * scale)))), 0);
        p[PE_F16_IL(0, i)] = (float16_t)e;
        sum += e;
    }
    return sum;
}

/* pe_f16kernels.pack: each row's 8 values converted together (FCVTN),
 * stored one half each to its k row of the panel; rows beyond zeroed. */
static void pack_f16(const float *src, size_t ld, int rows, int cols, uint16_t *dst16) {
    float16_t *dst = (float16_t *)dst16;
    for (int j = 0; j < PE_GEMM_NR; j++) {
        const float *s = src + (size_t)j * ld;
        float16_t *d = dst + j;
        int k = 0;
        if (j >= rows) {
            for (; k < cols; k++) d[(size_t)k * PE_GEMM_NR] = 0;
            continue;
        }
        for (; k + 8 <= cols; k += 8) {
            const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(s + k)), vld1q_f32(s + k + 4));
            float16_t *o = d + (size_t)k * PE_GEMM_NR;
            vst1q_lane_f16(o, h, 0);
            vst1q_lane_f16(o + 1 * PE_GEMM_NR, h, 1);
            vst1q_lane_f16(o + 2 * PE_GEMM_NR, h, 2);
            vst1q_lane_f16(o + 3 * PE_GEMM_NR, h, 3);
            vst1q_lane_f16(o + 4 * PE_GEMM_NR, h, 4);
            vst1q_lane_f16(o + 5 * PE_GEMM_NR, h, 5);
            vst1q_lane_f16(o + 6 * PE_GEMM_NR, h, 6);
            vst1q_lane_f16(o + 7 * PE_GEMM_NR, h, 7);
        }
        for (; k < cols; k++) d[(size_t)k * PE_GEMM_NR] = (float16_t)s[k];
    }
}

/* pe_f16kernels.pack_t: a token's 16 channels are 4 vectors in, 2 out. */
static void pack_t_f16(const float *src, size_t ld, int T, int cols, uint16_t *dst16) {
    float16_t *dst = (float16_t *)dst16;
    if (cols < PE_GEMM_NR) {
        for (int t = 0; t < T; t++)
            for (int c = 0; c < PE_GEMM_NR; c++)
                dst[(size_t)t * PE_GEMM_NR + c] = c < cols ? (float16_t)src[(size_t)t * ld + c] : 0;
        return;
    }
    for (int t = 0; t < T; t++) {
        const float *s = src + (size_t)t * ld;
        float16_t *d = dst + (size_t)t * PE_GEMM_NR;
        vst1q_f16(d, vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(s)), vld1q_f32(s + 4)));
        vst1q_f16(d + 8, vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(s + 8)), vld1q_f32(s + 12)));
    }
}

const pe_f16kernels pe_f16kernels_neon = {
    .name = "neon-fp16",
    .gemm = gemm_f16,
    .gemm_h = gemm_f16h,
    .softmax = softmax_f16,
    .pack = pack_f16,
    .pack_t = pack_t_f16,
};
