/* ARMv8.0 NEON kernels (AdvSIMD is part of every AArch64 CPU), compiled with
 * -march=armv8-a and reached only through pe_kernels_neon.  kernels_ref.c is
 * the specification; comments here say why, not what. */
/* GCC 12's pre-allocation scheduler hoists the panel loads of later k steps
 * and runs the 5 x 16 tile out of registers (a spill and reloads in the
 * inner loop, seen in its assembly); without it the tile stays in
 * registers.  Clang does not need it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

#include "kernels.h"
#include "simd_neon.h"

#include <arm_neon.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* vf_erf_x4's quintics, u^c of interval i at [c][i]: scripts/fit_vecmath.py
 * (PE_NEON_ERF). */
const float pe_neon_erf_k[6][16] __attribute__((aligned(16))) = {
    {0.0f, 0.276326388f, 0.520499885f, 0.711155653f, 0.842700779f, 0.92290014f, 0.966105163f,
     0.986671686f, 0.995322287f, 0.998537302f, 0.999593019f, 0.999899387f, 0.999977887f,
     0.999995708f, 0.999999285f, 0.999999881f},
    {0.282094657f, 0.265003115f, 0.219695285f, 0.160732672f, 0.103776999f, 0.0591304712f,
     0.0297326986f, 0.0131937861f, 0.00516673177f, 0.00178555318f, 0.000544551527f,
     0.000146559294f, 3.48092508e-05f, 7.29594512e-06f, 1.3494996e-06f, 2.20275751e-07f},
    {1.71781653e-06f, -0.0165577997f, -0.0274577253f, -0.0301361848f, -0.0259456653f,
     -0.0184804257f, -0.0111512085f, -0.00577272568f, -0.00258321315f, -0.00100407843f,
     -0.000340126222f, -0.000100647063f, -2.60618399e-05f, -5.91322168e-06f, -1.17680077e-06f,
     -2.05585039e-07f},
    {-0.00588432327f, -0.00485160435f, -0.00230685249f, 0.000412960857f, 0.00216792524f,
     0.00262719812f, 0.00217452226f, 0.00141079817f, 0.000752854045f, 0.000338123122f,
     0.000129469554f, 4.26082661e-05f, 1.21173125e-05f, 2.98930695e-06f, 6.415288e-07f,
     1.20024751e-07f},
    {1.30535063e-05f, 0.000535540399f, 0.000751394837f, 0.000600788335f, 0.000259666587f,
     -4.22940393e-05f, -0.000187213998f, -0.000192309206f, -0.000133499881f, -7.19983436e-05f,
     -3.17044796e-05f, -1.16783031e-05f, -3.64859375e-06f, -9.75418061e-07f, -2.24490719e-07f,
     -4.46693811e-08f},
    {0.000101281119f, 4.42430428e-05f, -2.63489073e-05f, -6.50759102e-05f, -5.95936253e-05f,
     -2.99308958e-05f, -2.27265673e-06f, 1.10438159e-05f, 1.21454532e-05f, 8.16505235e-06f,
     4.13969929e-06f, 1.68922929e-06f, 5.71589339e-07f, 1.63068805e-07f, 3.96342017e-08f,
     8.26392732e-09f},
};

/* The vector erf and fast GELU over n floats (tests: the dense sweeps). */
static void erf_array(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        const int left = n - i < 16 ? (int)(n - i) : 16; /* vf_load_n takes a count <= 0 as none */
        float32x4_t v[4];
        for (int j = 0; j < 4; j++) v[j] = vf_load_n(x + i + 4 * j, left - 4 * j);
        vf_erf_x4(v);
        for (int j = 0; j < 4; j++) vf_store_n(y + i + 4 * j, v[j], left - 4 * j);
    }
}

static void gelu_fast_array(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        const int left = n - i < 16 ? (int)(n - i) : 16;
        float32x4_t v[4];
        for (int j = 0; j < 4; j++) v[j] = vf_load_n(x + i + 4 * j, left - 4 * j);
        vf_gelu_fast_x4(v);
        for (int j = 0; j < 4; j++) vf_store_n(y + i + 4 * j, v[j], left - 4 * j);
    }
}

/* ---------------------------------------------------------------- gemm */

/* Register tile: MR rows x 16 columns (one panel) = 20 accumulators of 4
 * floats.  Per 4 steps of k: one 4-float load of A per row (kept in a
 * register and used by element), 16 loads of the panel, 80 by-element
 * FMLAs; 20 + 5 + 4 of the 32 vector registers. */
#define GEMM_MR 5

/* One k of the tile: the panel row (4 vectors) times lane L of each row's
 * A vector.  A macro because the lane must be a constant before unrolling. */
#define GEMM_STEP(L)                                                                     \
    do {                                                                                 \
        const float *wl = w + (L) * PE_GEMM_NR;                                          \
        float32x4_t b0 = vld1q_f32(wl), b1 = vld1q_f32(wl + 4), b2 = vld1q_f32(wl + 8),  \
                    b3 = vld1q_f32(wl + 12);                                             \
        _Pragma("GCC unroll 5") for (int r = 0; r < mr; r++) {                           \
            acc[r][0] = vfmaq_laneq_f32(acc[r][0], b0, av[r], L);                        \
            acc[r][1] = vfmaq_laneq_f32(acc[r][1], b1, av[r], L);                        \
            acc[r][2] = vfmaq_laneq_f32(acc[r][2], b2, av[r], L);                        \
            acc[r][3] = vfmaq_laneq_f32(acc[r][3], b3, av[r], L);                        \
        }                                                                                \
    } while (0)

/* The microkernel, instantiated for every row count so that the
 * accumulator array lives in registers (the loops over rows and columns are
 * fully unrolled; GCC 12 spills otherwise). */
INLINE void gemm_tile(const float *A, size_t lda, const float *W, int K, float *tile, const int mr) {
    float32x4_t acc[GEMM_MR][4];
    PE_TILE_SET(acc, mr, 4, vdupq_n_f32(0.0f));
    const float *a[GEMM_MR];
#pragma GCC unroll 5
    for (int r = 0; r < mr; r++) a[r] = A + r * lda;

    int k = 0;
    for (; k + 4 <= K; k += 4) {
        float32x4_t av[GEMM_MR];
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) av[r] = vld1q_f32(a[r] + k);
        const float *w = W + (size_t)k * PE_GEMM_NR;
        GEMM_STEP(0);
        GEMM_STEP(1);
        GEMM_STEP(2);
        GEMM_STEP(3);
    }
    for (; k < K; k++) {
        const float *w = W + (size_t)k * PE_GEMM_NR;
        float32x4_t b0 = vld1q_f32(w), b1 = vld1q_f32(w + 4), b2 = vld1q_f32(w + 8),
                    b3 = vld1q_f32(w + 12);
#pragma GCC unroll 5
        for (int r = 0; r < mr; r++) {
            float ak = a[r][k];
            acc[r][0] = vfmaq_n_f32(acc[r][0], b0, ak);
            acc[r][1] = vfmaq_n_f32(acc[r][1], b1, ak);
            acc[r][2] = vfmaq_n_f32(acc[r][2], b2, ak);
            acc[r][3] = vfmaq_n_f32(acc[r][3], b3, ak);
        }
    }
    PE_TILE_SPILL(tile, acc, mr);
}

typedef void (*gemm_tile_fn)(const float *A, size_t lda, const float *W, int K, float *tile);

#define TILE_FN(MR)                                                                       \
    static void gemm_tile_##MR(const float *A, size_t lda, const float *W, int K, float *t) { \
        gemm_tile(A, lda, W, K, t, MR);                                                   \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4)

/* The 5-row tile's assembly, one panel vector b (v5-v8, column group c)
 * times lane l of the 5 A vectors into the accumulators r0-r4; a step of k
 * loads the panel row and does it for the 4 column groups; 4 steps share
 * one load of A. */
#define T5_FMLA(b, l, r0, r1, r2, r3, r4)                                       \
    "fmla v" #r0 ".4s, v" #b ".4s, v0.s[" #l "]\n"                              \
    "fmla v" #r1 ".4s, v" #b ".4s, v1.s[" #l "]\n"                              \
    "fmla v" #r2 ".4s, v" #b ".4s, v2.s[" #l "]\n"                              \
    "fmla v" #r3 ".4s, v" #b ".4s, v3.s[" #l "]\n"                              \
    "fmla v" #r4 ".4s, v" #b ".4s, v4.s[" #l "]\n"
#define T5_STEP(l)                                                              \
    "ldp q5, q6, [%[w]], #32\n"                                                 \
    "ldp q7, q8, [%[w]], #32\n"                                                 \
    T5_FMLA(5, l, 12, 16, 20, 24, 28) T5_FMLA(6, l, 13, 17, 21, 25, 29)         \
    T5_FMLA(7, l, 14, 18, 22, 26, 30) T5_FMLA(8, l, 15, 19, 23, 27, 31)
#define T5_FOUR_STEPS                                                           \
    "ldr q0, [%[a0]], #16\n"                                                    \
    "ldr q1, [%[a1]], #16\n"                                                    \
    "ldr q2, [%[a2]], #16\n"                                                    \
    "ldr q3, [%[a3]], #16\n"                                                    \
    "ldr q4, [%[a4]], #16\n"                                                    \
    T5_STEP(0) T5_STEP(1) T5_STEP(2) T5_STEP(3)

/* The 5-row tile in assembly: GCC 12 keeps the 20 accumulators, 5 A and 4
 * panel vectors (29 of the 32 registers) but adds 4 register moves to
 * every 4 steps of k (101 instructions for 80 FMLAs); here 4 steps are 93
 * (5 post-indexed loads of A, 8 LDPs of the panel, 80 by-element FMLAs)
 * and the loop test comes once per 8 steps: 3.4 multiply-adds an
 * instruction (XNNPACK's 6x8 kernels run 48 FMLAs in 62).  The FMAs are
 * those of gemm_tile in the same order.  Registers: accumulators v12-v31
 * (row r in v(12+4r) .. v(15+4r)), A v0-v4, the panel row v5-v8.  k past
 * the last multiple of 4 is added to the stored tile in C. */
static void gemm_tile_5(const float *A, size_t lda, const float *W, int K, float *t) {
    const int K4 = K & ~3;
    if (K4 == 0) {
        gemm_tile(A, lda, W, K, t, 5);
        return;
    }
    const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * lda, *a3 = A + 3 * lda, *a4 = A + 4 * lda;
    const float *w = W;
    long n = K4 / 4;
    __asm__ volatile(
        "movi v12.16b, #0\n" "movi v13.16b, #0\n" "movi v14.16b, #0\n" "movi v15.16b, #0\n"
        "movi v16.16b, #0\n" "movi v17.16b, #0\n" "movi v18.16b, #0\n" "movi v19.16b, #0\n"
        "movi v20.16b, #0\n" "movi v21.16b, #0\n" "movi v22.16b, #0\n" "movi v23.16b, #0\n"
        "movi v24.16b, #0\n" "movi v25.16b, #0\n" "movi v26.16b, #0\n" "movi v27.16b, #0\n"
        "movi v28.16b, #0\n" "movi v29.16b, #0\n" "movi v30.16b, #0\n" "movi v31.16b, #0\n"
        "tbz %[n], #0, 2f\n" /* an odd 4 steps first, then pairs */
        T5_FOUR_STEPS
        "subs %[n], %[n], #1\n"
        "b.eq 3f\n"
        "2:\n"
        T5_FOUR_STEPS
        T5_FOUR_STEPS
        "subs %[n], %[n], #2\n"
        "b.ne 2b\n"
        "3:\n"
        "stp q12, q13, [%[t], #0]\n"
        "stp q14, q15, [%[t], #32]\n"
        "stp q16, q17, [%[t], #64]\n"
        "stp q18, q19, [%[t], #96]\n"
        "stp q20, q21, [%[t], #128]\n"
        "stp q22, q23, [%[t], #160]\n"
        "stp q24, q25, [%[t], #192]\n"
        "stp q26, q27, [%[t], #224]\n"
        "stp q28, q29, [%[t], #256]\n"
        "stp q30, q31, [%[t], #288]\n"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [w] "+r"(w),
          [n] "+r"(n)
        : [t] "r"(t)
        : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v12", "v13",
          "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",
          "v26", "v27", "v28", "v29", "v30", "v31");
    for (int k = K4; k < K; k++) {
        const float *wk = W + (size_t)k * PE_GEMM_NR;
        for (int r = 0; r < 5; r++) {
            const float ak = A[r * lda + k];
            for (int c = 0; c < 4; c++)
                vst1q_f32(t + r * PE_GEMM_NR + 4 * c,
                          vfmaq_n_f32(vld1q_f32(t + r * PE_GEMM_NR + 4 * c), vld1q_f32(wk + 4 * c), ak));
        }
    }
}

static const gemm_tile_fn gemm_tiles[GEMM_MR] = {gemm_tile_1, gemm_tile_2, gemm_tile_3,
                                                 gemm_tile_4, gemm_tile_5};

/* The tile to a buffer, then through the epilogue (pe_tile_store). */
#define PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n)                                       \
    PANEL_TILE_BUFFERED(GEMM_MR, gemm_tiles[(mr) - 1](PE_ROW(x, m), PE_ROWS_LDA(x), w, PE_ROWS_K(x), tile_), \
                        NULL, mr, c, ldc, ncols, ep, m, n)
#include "gemm_panels.h"

/* Panels of W kept hot in L2 while every row block of A passes over them
 * (phone cores: 256-512 KiB of L2 per core, half of it for W). */
#ifndef GEMM_W_BLOCK_BYTES
#define GEMM_W_BLOCK_BYTES (128u * 1024u)
#endif

static void gemm_neon(const float *A, int lda, const float *Wp, int N, int K, float *C, int ldc,
                      int m0, int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)N;
    const pe_rows x = {A, (size_t)lda, K};
    gemm_panels(&x, 0, GEMM_MR, GEMM_W_BLOCK_BYTES, (size_t)K * PE_GEMM_NR * sizeof(float), Wp, C, ldc,
                m0, m1, n0, n1, ep);
}

/* ----------------------------------------------------------- attention */

/* Blocks of 16 queries stream over tiles of up to 120 keys (a multiple of
 * the 5-row tile).  The block's queries, times the scale, are packed once
 * as a GEMM panel qt[d][16]; the scores of a key tile are then the GEMM
 * microkernel with 5 keys as the rows of A, st[j][i] (query i of key j, at
 * the rate of the GEMM).  A query's keys are one lane of every row, so the
 * online softmax (max, exp, sum) is lane-wise with no horizontal step, and
 * P V takes query i's weight of key j as lane i of row j, by element. */
#define ATT_QB PE_GEMM_NR
#define ATT_KT 120

/* qt[d][i] = scale q[i][d] for the nq (<= 16) rows of q; zero lanes past
 * nq score 0 and are never stored.  4 x 4 blocks go through registers
 * (one load and one store a row), the rest element by element. */
static void att_pack_q(const float *q, size_t ldq, int nq, int dh, float scale, float *qt) {
    const float32x4_t vs = vdupq_n_f32(scale);
    int i0 = 0;
    for (; i0 + 4 <= nq; i0 += 4) {
        const float *r0 = q + (size_t)i0 * ldq, *r1 = r0 + ldq, *r2 = r1 + ldq, *r3 = r2 + ldq;
        int d = 0;
        for (; d + 4 <= dh; d += 4) {
            /* a 4 x 4 transpose: pairs of rows interleaved, then halves */
            const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(r0 + d), vld1q_f32(r1 + d));
            const float32x4x2_t t23 = vtrnq_f32(vld1q_f32(r2 + d), vld1q_f32(r3 + d));
            float *dst = qt + (size_t)d * ATT_QB + i0;
            vst1q_f32(dst, vmulq_f32(vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])), vs));
            vst1q_f32(dst + ATT_QB,
                      vmulq_f32(vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])), vs));
            vst1q_f32(dst + 2 * ATT_QB,
                      vmulq_f32(vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])), vs));
            vst1q_f32(dst + 3 * ATT_QB,
                      vmulq_f32(vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])), vs));
        }
        for (; d < dh; d++)
            for (int i = 0; i < 4; i++) qt[(size_t)d * ATT_QB + i0 + i] = q[(size_t)(i0 + i) * ldq + d] * scale;
    }
    for (int d = 0; d < dh; d++)
        for (int i = i0; i < ATT_QB; i++)
            qt[(size_t)d * ATT_QB + i] = i < nq ? q[(size_t)i * ldq + d] * scale : 0.0f;
}

/* st[j][0..16) for the nk keys of the tile: 5 at a time through the GEMM
 * tile (A = the key rows, the panel = qt). */
static void att_scores(const float *qt, const float *k, size_t ldk, int nk, int dh, float *st) {
    int j = 0;
    for (; j + GEMM_MR <= nk; j += GEMM_MR) gemm_tile_5(k + (size_t)j * ldk, ldk, qt, dh, st + j * ATT_QB);
    if (j < nk) gemm_tiles[nk - j - 1](k + (size_t)j * ldk, ldk, qt, dh, st + j * ATT_QB);
}

/* exp(x) for x <= 0 (a score minus its running max): vf_exp's polynomial
 * with 2^n added to the exponent field in one step, which stays normal
 * because x is clamped at -87 (weights under e^-87 of the largest become
 * e^-87, nothing a sum of them can see; -inf, a masked key, is zeroed by
 * the caller).  NaN stays NaN (FMAX). */
INLINE float32x4_t att_exp(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-87.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, PE_LOG2E));
    float32x4_t r = vfmsq_n_f32(x, n, PE_LN2_HI);
    r = vfmsq_n_f32(r, n, PE_LN2_LO);
    /* e^r = 1 + r + r^2 P(r), P in Estrin's order: (E0 + E1 r) + r^2 (E2 +
     * E3 r) + r^4 E4, one instruction fewer than Horner's (each Horner step
     * copies its constant into the register FMLA overwrites) */
    const float32x4_t r2 = vmulq_f32(r, r);
    float32x4_t a = vfmaq_n_f32(vdupq_n_f32(PE_EXP_E0), r, PE_EXP_E1);
    const float32x4_t b = vfmaq_n_f32(vdupq_n_f32(PE_EXP_E2), r, PE_EXP_E3);
    a = vfmaq_f32(a, r2, b);
    a = vfmaq_n_f32(a, vmulq_f32(r2, r2), PE_EXP_E4);
    const float32x4_t p = vaddq_f32(vfmaq_f32(r, r2, a), vdupq_n_f32(1.0f));
    const int32x4_t sc = vshlq_n_s32(vcvtq_s32_f32(n), 23);
    return vreinterpretq_f32_s32(vaddq_s32(vreinterpretq_s32_f32(p), sc));
}

/* Lane-wise online softmax over the nk rows of st, 4 queries (column c) at
 * a time: advances the running max m[c] and sum l[c], turns the scores
 * into weights in place and sets alpha[c], the factor for the old
 * accumulators.  CAUSAL: lane i of column c sees row j iff j < vis[c][i].
 * Out of line (att_softmax_all, _causal): inlined into the attention, the
 * exp constants lose their registers to its state and are reloaded for
 * every vector. */
INLINE void att_softmax(float *st, int nk, float32x4_t m[4], float32x4_t l[4], float32x4_t alpha[4],
                        const int32x4_t *vis, const int CAUSAL) {
    const float32x4_t ninf = vdupq_n_f32(-INFINITY), zero = vdupq_n_f32(0.0f);
    float32x4_t mxs[4] = {ninf, ninf, ninf, ninf};
    if (!CAUSAL) /* whole rows: two LDPs and 4 FMAXs for 16 scores */
#pragma GCC unroll 2
        for (int j = 0; j < nk; j++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) mxs[c] = vmaxq_f32(mxs[c], vld1q_f32(st + j * ATT_QB + 4 * c));
    for (int c = 0; c < 4; c++) {
        float *s = st + 4 * c;
        float32x4_t mx = mxs[c];
        int j = 0;
        if (CAUSAL)
            for (; j < nk; j++)
                mx = vmaxq_f32(mx, vbslq_f32(vcltq_s32(vdupq_n_s32(j), vis[c]), vld1q_f32(s + j * ATT_QB), ninf));
        const float32x4_t mnew = vmaxq_f32(m[c], mx);
        /* a lane that has seen only masked keys keeps max -inf: shift by 0
         * so that its weights are exp(-inf) (zeroed below), not NaN */
        const float32x4_t msafe = vbslq_f32(vceqq_f32(mnew, ninf), zero, mnew);
        alpha[c] = vbslq_f32(vceqq_f32(m[c], ninf), zero, att_exp(vsubq_f32(m[c], msafe)));
        float32x4_t sum = zero, sum1 = zero;
        j = 0;
        if (!CAUSAL)
            for (; j + 2 <= nk; j += 2) {
                const float32x4_t p = att_exp(vsubq_f32(vld1q_f32(s + j * ATT_QB), msafe));
                const float32x4_t p1 = att_exp(vsubq_f32(vld1q_f32(s + (j + 1) * ATT_QB), msafe));
                vst1q_f32(s + j * ATT_QB, p);
                vst1q_f32(s + (j + 1) * ATT_QB, p1);
                sum = vaddq_f32(sum, p);
                sum1 = vaddq_f32(sum1, p1);
            }
        for (; j < nk; j++) {
            float32x4_t p = att_exp(vsubq_f32(vld1q_f32(s + j * ATT_QB), msafe));
            if (CAUSAL) p = vbslq_f32(vcltq_s32(vdupq_n_s32(j), vis[c]), p, zero);
            vst1q_f32(s + j * ATT_QB, p);
            sum = vaddq_f32(sum, p);
        }
        l[c] = vfmaq_f32(vaddq_f32(sum, sum1), l[c], alpha[c]);
        m[c] = mnew;
    }
}

__attribute__((noinline)) static void att_softmax_all(float *st, int nk, float32x4_t m[4], float32x4_t l[4],
                                                      float32x4_t alpha[4]) {
    att_softmax(st, nk, m, l, alpha, NULL, 0);
}

__attribute__((noinline)) static void att_softmax_causal(float *st, int nk, float32x4_t m[4], float32x4_t l[4],
                                                         float32x4_t alpha[4], const int32x4_t vis[4]) {
    att_softmax(st, nk, m, l, alpha, vis, 1);
}

/* The 8 accumulators of one column vector: row r of 8 queries += v times
 * lane r % 4 of p0 (rows 0-3) or p1 (rows 4-7). */
#define PV_LANES(acc, c, vv, p0, p1)                                       \
    do {                                                                   \
        acc[0][c] = vfmaq_laneq_f32(acc[0][c], vv, p0, 0);                 \
        acc[1][c] = vfmaq_laneq_f32(acc[1][c], vv, p0, 1);                 \
        acc[2][c] = vfmaq_laneq_f32(acc[2][c], vv, p0, 2);                 \
        acc[3][c] = vfmaq_laneq_f32(acc[3][c], vv, p0, 3);                 \
        acc[4][c] = vfmaq_laneq_f32(acc[4][c], vv, p1, 0);                 \
        acc[5][c] = vfmaq_laneq_f32(acc[5][c], vv, p1, 1);                 \
        acc[6][c] = vfmaq_laneq_f32(acc[6][c], vv, p1, 2);                 \
        acc[7][c] = vfmaq_laneq_f32(acc[7][c], vv, p1, 3);                 \
    } while (0)

/* o[r][d0 .. d0 + 4 NC) = alpha_r o + sum_j p[j][r] v_j for 8 queries
 * (o: their accumulator rows, dh apart; p: st + the first query): per key
 * one LDP of weights, one LD1 of NC value vectors and 8 NC by-element
 * FMLAs.  NC = 3, the common case, is att_pv8x3. */
INLINE void att_pv8(const float *p, const float *v, size_t ldv, int nk, float *o, int dh,
                    float32x4_t a0, float32x4_t a1, int d0, const int NC) {
    float32x4_t acc[8][2];
#pragma GCC unroll 3
    for (int c = 0; c < NC; c++) {
        const float *oc = o + d0 + 4 * c;
        acc[0][c] = vmulq_laneq_f32(vld1q_f32(oc + 0 * (size_t)dh), a0, 0);
        acc[1][c] = vmulq_laneq_f32(vld1q_f32(oc + 1 * (size_t)dh), a0, 1);
        acc[2][c] = vmulq_laneq_f32(vld1q_f32(oc + 2 * (size_t)dh), a0, 2);
        acc[3][c] = vmulq_laneq_f32(vld1q_f32(oc + 3 * (size_t)dh), a0, 3);
        acc[4][c] = vmulq_laneq_f32(vld1q_f32(oc + 4 * (size_t)dh), a1, 0);
        acc[5][c] = vmulq_laneq_f32(vld1q_f32(oc + 5 * (size_t)dh), a1, 1);
        acc[6][c] = vmulq_laneq_f32(vld1q_f32(oc + 6 * (size_t)dh), a1, 2);
        acc[7][c] = vmulq_laneq_f32(vld1q_f32(oc + 7 * (size_t)dh), a1, 3);
    }
    const float *vj = v + d0;
#pragma GCC unroll 4
    for (int j = 0; j < nk; j++, vj += ldv) {
        const float32x4_t p0 = vld1q_f32(p + j * ATT_QB), p1 = vld1q_f32(p + j * ATT_QB + 4);
        if (NC == 2) {
            const float32x4x2_t vv = vld1q_f32_x2(vj);
            PV_LANES(acc, 0, vv.val[0], p0, p1);
            PV_LANES(acc, 1, vv.val[1], p0, p1);
        } else {
            PV_LANES(acc, 0, vld1q_f32(vj), p0, p1);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) vst1q_f32(o + r * (size_t)dh + d0 + 4 * c, acc[r][c]);
}

/* att_pv8x3's assembly: value vector b (v2-v4, column group c) times the
 * 8 queries' weights (v0 lanes, then v1 lanes) into the accumulators
 * v(r), v(r+3), ... v(r+21); a key loads 8 weights and 12 values. */
#define PV_FMLA(b, r0, r1, r2, r3, r4, r5, r6, r7)                              \
    "fmla v" #r0 ".4s, v" #b ".4s, v0.s[0]\n"                                   \
    "fmla v" #r1 ".4s, v" #b ".4s, v0.s[1]\n"                                   \
    "fmla v" #r2 ".4s, v" #b ".4s, v0.s[2]\n"                                   \
    "fmla v" #r3 ".4s, v" #b ".4s, v0.s[3]\n"                                   \
    "fmla v" #r4 ".4s, v" #b ".4s, v1.s[0]\n"                                   \
    "fmla v" #r5 ".4s, v" #b ".4s, v1.s[1]\n"                                   \
    "fmla v" #r6 ".4s, v" #b ".4s, v1.s[2]\n"                                   \
    "fmla v" #r7 ".4s, v" #b ".4s, v1.s[3]\n"
#define PV_KEY                                                                  \
    "ldp q0, q1, [%[p]], #64\n"                                                 \
    "ld1 {v2.4s, v3.4s, v4.4s}, [%[v]], %[ldvb]\n"                              \
    PV_FMLA(2, 8, 11, 14, 17, 20, 23, 26, 29)                                   \
    PV_FMLA(3, 9, 12, 15, 18, 21, 24, 27, 30)                                   \
    PV_FMLA(4, 10, 13, 16, 19, 22, 25, 28, 31)

/* query row r's 12 output columns (v r0-r2) loaded and scaled by its alpha
 * (lane l of a) */
#define PV_SCALE(r0, r1, r2, a, l)                                              \
    "ld1 {v" #r0 ".4s, v" #r1 ".4s, v" #r2 ".4s}, [%[oi]], %[ldob]\n"          \
    "fmul v" #r0 ".4s, v" #r0 ".4s, %[" #a "].s[" #l "]\n"                     \
    "fmul v" #r1 ".4s, v" #r1 ".4s, %[" #a "].s[" #l "]\n"                     \
    "fmul v" #r2 ".4s, v" #r2 ".4s, %[" #a "].s[" #l "]\n"

/* att_pv8 for 12 columns (NC = 3, the common case) in assembly: GCC adds an
 * ADD a key for the value pointer and a loop test every 4 keys (111
 * instructions for 96 FMLAs); here the post-indexed loads advance both
 * pointers and 2 keys are 54 instructions for 48 FMLAs (one LDP of 8
 * weights, one LD1 of 12 values and 24 by-element FMLAs a key, 3.56
 * multiply-adds an instruction).  The same FMAs in the same order as
 * att_pv8.  Accumulators v8-v31 (query r, columns 4c.. in v(8 + 3r + c)),
 * weights v0-v1, values v2-v4; nk >= 1. */
static void att_pv8x3(const float *p, const float *v, size_t ldv, int nk, float *o, int dh,
                      float32x4_t a0, float32x4_t a1, int d0) {
    const float *pj = p, *vj = v + d0;
    float *oi = o + d0, *oo = o + d0;
    int n = nk;
    __asm__ volatile(
        PV_SCALE(8, 9, 10, a0, 0) PV_SCALE(11, 12, 13, a0, 1)
        PV_SCALE(14, 15, 16, a0, 2) PV_SCALE(17, 18, 19, a0, 3)
        PV_SCALE(20, 21, 22, a1, 0) PV_SCALE(23, 24, 25, a1, 1)
        PV_SCALE(26, 27, 28, a1, 2) PV_SCALE(29, 30, 31, a1, 3)
        "tbz %w[n], #0, 2f\n" /* an odd key first, then pairs */
        PV_KEY
        "subs %w[n], %w[n], #1\n"
        "b.eq 3f\n"
        "2:\n"
        PV_KEY
        PV_KEY
        "subs %w[n], %w[n], #2\n"
        "b.ne 2b\n"
        "3:\n"
        "st1 {v8.4s, v9.4s, v10.4s}, [%[oo]], %[ldob]\n"
        "st1 {v11.4s, v12.4s, v13.4s}, [%[oo]], %[ldob]\n"
        "st1 {v14.4s, v15.4s, v16.4s}, [%[oo]], %[ldob]\n"
        "st1 {v17.4s, v18.4s, v19.4s}, [%[oo]], %[ldob]\n"
        "st1 {v20.4s, v21.4s, v22.4s}, [%[oo]], %[ldob]\n"
        "st1 {v23.4s, v24.4s, v25.4s}, [%[oo]], %[ldob]\n"
        "st1 {v26.4s, v27.4s, v28.4s}, [%[oo]], %[ldob]\n"
        "st1 {v29.4s, v30.4s, v31.4s}, [%[oo]], %[ldob]\n"
        : [oi] "+r"(oi), [oo] "+r"(oo), [p] "+r"(pj), [v] "+r"(vj), [n] "+r"(n)
        : [ldob] "r"((size_t)dh * sizeof(float)), [ldvb] "r"(ldv * sizeof(float)), [a0] "w"(a0),
          [a1] "w"(a1)
        : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v8", "v9", "v10", "v11", "v12",
          "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
          "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
}

/* One key tile through P V for the block's queries (8 at a time, the
 * second 8 only when the block has them): head dims 12 at a time, then
 * 8 or 4, then one by one. */
static void att_pv(const float *st, const float *v, size_t ldv, int nk, float *oacc, int dh, int nq,
                   const float32x4_t alpha[4]) {
    float al[ATT_QB];
    for (int c = 0; c < 4; c++) vst1q_f32(al + 4 * c, alpha[c]);
    for (int h = 0; h < 2 && 8 * h < nq; h++) {
        const float *p = st + 8 * h;
        float *o = oacc + (size_t)(8 * h) * dh;
        const float32x4_t a0 = alpha[2 * h], a1 = alpha[2 * h + 1];
        int d0 = 0;
        for (; d0 + 12 <= dh; d0 += 12) att_pv8x3(p, v, ldv, nk, o, dh, a0, a1, d0);
        if (d0 + 8 <= dh) att_pv8(p, v, ldv, nk, o, dh, a0, a1, d0, 2), d0 += 8;
        else if (d0 + 4 <= dh) att_pv8(p, v, ldv, nk, o, dh, a0, a1, d0, 1), d0 += 4;
        for (; d0 < dh; d0++)
            for (int r = 0; r < 8; r++) {
                float s = o[(size_t)r * dh + d0] * al[8 * h + r];
                for (int j = 0; j < nk; j++) s += p[j * ATT_QB + r] * v[(size_t)j * ldv + d0];
                o[(size_t)r * dh + d0] = s;
            }
    }
}

static void attention_neon(const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, float *o, int ldo, int Tq, int Tk, int dh, float scale,
                           int causal, int causal_offset, float *scratch) {
    /* inside pe_attention_scratch_floats: 16 dh + 120 x 16 + 16 dh + slack */
    float *qt = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [dh][16] */
    float *st = qt + (size_t)dh * ATT_QB;                                /* [120][16] */
    float *oacc = st + ATT_KT * ATT_QB;                                  /* [16][dh] */

    for (int qb = 0; qb < Tq; qb += ATT_QB) {
        const int nq = Tq - qb < ATT_QB ? Tq - qb : ATT_QB;
        long kend = Tk;
        if (causal && (long)qb + nq + causal_offset < kend) kend = (long)qb + nq + causal_offset;
        if (kend <= 0) {
            for (int i = 0; i < nq; i++) memset(o + (size_t)(qb + i) * ldo, 0, (size_t)dh * 4);
            continue;
        }
        att_pack_q(q + (size_t)qb * ldq, (size_t)ldq, nq, dh, scale, qt);
        memset(oacc, 0, (size_t)ATT_QB * dh * sizeof(float));
        float32x4_t m[4], l[4], alpha[4];
        for (int c = 0; c < 4; c++) m[c] = vdupq_n_f32(-INFINITY), l[c] = vdupq_n_f32(0.0f);
        static const int32_t iota[4] = {0, 1, 2, 3};

        for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
            const int nk = kend - j0 < ATT_KT ? (int)(kend - j0) : ATT_KT;
            att_scores(qt, k + (size_t)j0 * ldk, (size_t)ldk, nk, dh, st);
            /* query qb+i sees key j0+j iff j0 + j <= qb + i + offset, so
             * row j is visible to lane i iff j < qb + i + offset - j0 + 1 */
            const long first = (long)qb + causal_offset - j0 + 1;
            if (causal && first < nk) {
                int32x4_t vis[4];
                for (int c = 0; c < 4; c++) {
                    const long b = first + 4 * c;
                    const int32_t bc = b < -8 ? -8 : b > ATT_KT ? ATT_KT : (int32_t)b;
                    vis[c] = vaddq_s32(vld1q_s32(iota), vdupq_n_s32(bc));
                }
                att_softmax_causal(st, nk, m, l, alpha, vis);
            } else {
                att_softmax_all(st, nk, m, l, alpha);
            }
            att_pv(st, v + (size_t)j0 * ldv, (size_t)ldv, nk, oacc, dh, nq, alpha);
        }

        float lsum[ATT_QB];
        for (int c = 0; c < 4; c++) vst1q_f32(lsum + 4 * c, l[c]);
        for (int i = 0; i < nq; i++) {
            const float inv = lsum[i] > 0.0f ? 1.0f / lsum[i] : 0.0f;
            const float *src = oacc + (size_t)i * dh;
            float *dst = o + (size_t)(qb + i) * ldo;
            for (int d = 0; d < dh; d += 4) {
                const int c = dh - d < 4 ? dh - d : 4;
                vf_store_n(dst + d, vmulq_n_f32(vf_load_n(src + d, c), inv), c);
            }
        }
    }
}

/* max x[0 .. n), n >= 1 */
INLINE float row_max(const float *x, int n) {
    float32x4_t mx = vdupq_n_f32(-INFINITY);
    int i = 0;
    for (; i + 4 <= n; i += 4) mx = vmaxq_f32(mx, vld1q_f32(x + i));
    float m = vmaxvq_f32(mx);
    for (; i < n; i++) m = fmaxf(m, x[i]);
    return m;
}

/* x[i] = exp((x[i] - m) scale) for i < n, in place; returns their sum. */
INLINE float exp_row(float *x, int n, float m, float scale) {
    const float32x4_t vm = vdupq_n_f32(m), vs = vdupq_n_f32(scale);
    float32x4_t sum = vdupq_n_f32(0.0f), sum1 = sum;
    int i = 0;
    /* whole vectors two at a time: two independent exp chains, no lane
     * masks (the masked loop alone was 52 modelled X1 cycles a vector) */
    for (; i + 8 <= n; i += 8) {
        const float32x4_t p0 = vf_exp(vmulq_f32(vsubq_f32(vld1q_f32(x + i), vm), vs));
        const float32x4_t p1 = vf_exp(vmulq_f32(vsubq_f32(vld1q_f32(x + i + 4), vm), vs));
        vst1q_f32(x + i, p0);
        vst1q_f32(x + i + 4, p1);
        sum = vaddq_f32(sum, p0);
        sum1 = vaddq_f32(sum1, p1);
    }
    sum = vaddq_f32(sum, sum1);
    for (; i < n; i += 4) {
        const int c = n - i < 4 ? n - i : 4;
        const float32x4_t v = vf_load_n(x + i, c);
        float32x4_t p = vf_exp(vmulq_f32(vsubq_f32(v, vm), vs));
        p = vbslq_f32(vm_lanes(c), p, vdupq_n_f32(0.0f));
        vf_store_n(x + i, p, c);
        sum = vaddq_f32(sum, p);
    }
    return vaddvq_f32(sum);
}

static float softmax_neon(float *x, int n, float scale) { return exp_row(x, n, row_max(x, n), scale); }

/* ----------------------------------------------------------- layernorm */

static void layernorm_neon(const float *x, int ldx, float *y, int ldy, int rows, int n,
                           const float *w, const float *b, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *yr = y + (size_t)r * ldy;
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            s0 = vaddq_f32(s0, vld1q_f32(xr + i));
            s1 = vaddq_f32(s1, vld1q_f32(xr + i + 4));
        }
        for (; i < n; i += 4) s0 = vaddq_f32(s0, vf_load_n(xr + i, n - i));
        const float mean = vaddvq_f32(vaddq_f32(s0, s1)) / (float)n;

        /* two passes: a large mean must not cancel the variance */
        const float32x4_t vm = vdupq_n_f32(mean);
        s0 = s1 = vdupq_n_f32(0.0f);
        for (i = 0; i + 8 <= n; i += 8) {
            float32x4_t d0 = vsubq_f32(vld1q_f32(xr + i), vm), d1 = vsubq_f32(vld1q_f32(xr + i + 4), vm);
            s0 = vfmaq_f32(s0, d0, d0);
            s1 = vfmaq_f32(s1, d1, d1);
        }
        float tail = 0.0f;
        for (; i < n; i++) tail += (xr[i] - mean) * (xr[i] - mean);
        const float var = (vaddvq_f32(vaddq_f32(s0, s1)) + tail) / (float)n;
        const float32x4_t rstd = vdupq_n_f32(1.0f / sqrtf(var + eps));

        /* whole vectors 8 at a time (the loop over partial loads kept rstd
         * on the stack: 17 instructions per 4 values), the tail after */
        for (i = 0; i + 8 <= n; i += 8) {
            const float32x4_t t0 = vmulq_f32(vsubq_f32(vld1q_f32(xr + i), vm), rstd);
            const float32x4_t t1 = vmulq_f32(vsubq_f32(vld1q_f32(xr + i + 4), vm), rstd);
            vst1q_f32(yr + i, vfmaq_f32(vld1q_f32(b + i), t0, vld1q_f32(w + i)));
            vst1q_f32(yr + i + 4, vfmaq_f32(vld1q_f32(b + i + 4), t1, vld1q_f32(w + i + 4)));
        }
        for (; i < n; i += 4) {
            int c = n - i < 4 ? n - i : 4;
            float32x4_t t = vmulq_f32(vsubq_f32(vf_load_n(xr + i, c), vm), rstd);
            t = vfmaq_f32(vf_load_n(b + i, c), t, vf_load_n(w + i, c));
            vf_store_n(yr + i, t, c);
        }
    }
}

/* ---------------------------------------------------------------- rope */

static void rope_neon(float *x, int ldx, int T, int n, const float *cs) {
    const int h = n / 2;
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * ldx;
        const float *c = cs + (size_t)t * n, *s = c + h;
        int i = 0;
        /* 4 pairs at a time, left interleaved: x c + swap(x) (-s, s), with
         * c and s doubled into the pairs' lanes by ZIP and the pair swapped
         * by REV64 (LD2 / ST2 are 16 modelled cycles per 4 pairs on
         * Cortex-X2); per lane the same FMUL and fused FMLA / FMLS as the
         * de-interleaved form */
        for (; i + 4 <= h; i += 4) {
            const float32x4_t cv = vld1q_f32(c + i), sv = vld1q_f32(s + i), nv = vnegq_f32(sv);
            const float32x4_t x0 = vld1q_f32(xt + 2 * i), x1 = vld1q_f32(xt + 2 * i + 4);
            const float32x4_t o0 = vfmaq_f32(vmulq_f32(x0, vzip1q_f32(cv, cv)), vrev64q_f32(x0), vzip1q_f32(nv, sv));
            const float32x4_t o1 = vfmaq_f32(vmulq_f32(x1, vzip2q_f32(cv, cv)), vrev64q_f32(x1), vzip2q_f32(nv, sv));
            vst1q_f32(xt + 2 * i, o0);
            vst1q_f32(xt + 2 * i + 4, o1);
        }
        pe_rope_pairs_ref(xt, c, s, i, h);
    }
}

/* --------------------------------------------------------- conversions */

/* FCVTL (half to single) is in ARMv8.0 AdvSIMD; the half is reinterpreted
 * from its bits, no fp16 arithmetic is involved. */
static void f16_to_f32_neon(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t h = vld1q_u16(src + i);
        vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h))));
        vst1q_f32(dst + i + 4, vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(h))));
    }
    for (; i < n; i += 4) {
        int c = n - i < 4 ? (int)(n - i) : 4;
        uint16_t t[4] = {0, 0, 0, 0};
        memcpy(t, src + i, (size_t)c * 2);
        vf_store_n(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(t))), c);
    }
}

static void bf16_to_f32_neon(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t h = vld1q_u16(src + i);
        vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
        vst1q_f32(dst + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
    }
    for (; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(dst + i, &u, 4);
    }
}

const pe_kernels pe_kernels_neon = {
    .name = "neon",
    .gemm = gemm_neon,
    .attention = attention_neon,
    .softmax = softmax_neon,
    .layernorm = layernorm_neon,
    .rope = rope_neon,
    .f16_to_f32 = f16_to_f32_neon,
    .bf16_to_f32 = bf16_to_f32_neon,
    .erf = erf_array,
    .gelu_fast = gelu_fast_array,
};
