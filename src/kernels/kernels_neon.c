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

#define K16(c) {c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c}
const float pe_neon_erf_k[ERF_NK][16] __attribute__((aligned(16))) = {
    K16(PE_ERF_S0), K16(PE_ERF_S1), K16(PE_ERF_S2), K16(PE_ERF_S3), K16(PE_ERF_S4), K16(PE_ERF_S5),
    K16(PE_ERF_S6), K16(PE_ERF_S7), K16(PE_ERF_B0), K16(PE_ERF_B1), K16(PE_ERF_B2), K16(PE_ERF_B3),
    K16(PE_ERF_B4), K16(PE_ERF_B5), K16(PE_ERF_B6), K16(PE_ERF_B7), K16(PE_ERF_B8), K16(PE_ERF_B9),
    K16(PE_ERF_B10), K16(PE_ERF_B11), K16(PE_ERF_B12), K16(-5.0f / 3.0f), K16(PE_EXP_E0),
    K16(PE_EXP_E1), K16(PE_EXP_E2), K16(PE_EXP_E3), K16(PE_EXP_E4), K16(1.0f),
};
#undef K16

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
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5)
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

/* Blocks of up to 32 queries stream over tiles of 64 keys.  Scores come
 * query-major (st[i][j]) from 4 x 4 blocks of dot products whose lanes run
 * along the head dimension (16 accumulators, one pairwise-add tree at the
 * end), so neither q nor k needs a transpose; the online softmax is then a
 * row operation, and P V is the GEMM tile again with P as A (used by
 * element) and the value rows as the panel. */
#define ATT_QB 32
#define ATT_KT 64

/* Scores of 4 queries (rows q[0..3]) against 4 keys (rows k[0..3]) into
 * st[i][j0 + j], dh any. */
static void att_scores4x4(const float *const q[4], const float *const k[4], int dh, float *st,
                          int j0) {
    float32x4_t acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);
    int d = 0;
    for (; d + 4 <= dh; d += 4) {
        float32x4_t qv[4], kv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) qv[i] = vld1q_f32(q[i] + d), kv[i] = vld1q_f32(k[i] + d);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) acc[i][j] = vfmaq_f32(acc[i][j], qv[i], kv[j]);
    }
    float tail[4][4] = {{0}};
    for (; d < dh; d++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) tail[i][j] += q[i][d] * k[j][d];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        float32x4_t s = vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]), vpaddq_f32(acc[i][2], acc[i][3]));
        vst1q_f32(st + i * ATT_KT + j0, vaddq_f32(s, vld1q_f32(tail[i])));
    }
}

/* st[i][0..nk) for queries [0, nq) of the block; rows past nq or nk are
 * clamped to the last one and their results dropped. */
static void att_scores(const float *q, size_t ldq, int nq, const float *k, size_t ldk, int nk,
                       int dh, float *st) {
    float tmp[4 * ATT_KT];
    for (int i0 = 0; i0 < nq; i0 += 4) {
        const float *qr[4], *kr[4];
        for (int i = 0; i < 4; i++) qr[i] = q + (size_t)(i0 + i < nq ? i0 + i : nq - 1) * ldq;
        const int full = nq - i0 >= 4;
        float *dst = full ? st + i0 * ATT_KT : tmp;
        for (int j0 = 0; j0 < nk; j0 += 4) {
            for (int j = 0; j < 4; j++) kr[j] = k + (size_t)(j0 + j < nk ? j0 + j : nk - 1) * ldk;
            if (j0 + 4 <= nk) {
                att_scores4x4(qr, kr, dh, dst, j0);
            } else {
                float part[4 * ATT_KT];
                att_scores4x4(qr, kr, dh, part, 0);
                for (int i = 0; i < 4; i++)
                    memcpy(dst + i * ATT_KT + j0, part + i * ATT_KT, (size_t)(nk - j0) * sizeof(float));
            }
        }
        if (!full)
            for (int i = 0; i < nq - i0; i++)
                memcpy(st + (i0 + i) * ATT_KT, tmp + i * ATT_KT, (size_t)nk * sizeof(float));
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

/* x[i] = exp(x[i] scale - m) (scaled_first, attention) or
 * exp((x[i] - m) scale) (softmax) for i < n, in place; returns their sum. */
INLINE float exp_row(float *x, int n, float m, float scale, const int scaled_first) {
    const float32x4_t vm = vdupq_n_f32(m), vs = vdupq_n_f32(scale);
    float32x4_t sum = vdupq_n_f32(0.0f);
    for (int i = 0; i < n; i += 4) {
        const int c = n - i < 4 ? n - i : 4;
        const float32x4_t v = vf_load_n(x + i, c);
        float32x4_t p = vf_exp(scaled_first ? vsubq_f32(vmulq_f32(v, vs), vm) : vmulq_f32(vsubq_f32(v, vm), vs));
        p = vbslq_f32(vm_lanes(c), p, vdupq_n_f32(0.0f));
        vf_store_n(x + i, p, c);
        sum = vaddq_f32(sum, p);
    }
    return vaddvq_f32(sum);
}

/* Row i of the tile: scores to weights in place (zero past `vis`, the keys
 * this query sees), advancing its running max m and sum l; returns the
 * factor for its old accumulator. */
static float att_softmax_row(float *s, int nk, int vis, float scale, float *m, float *l) {
    if (vis <= 0) {
        memset(s, 0, (size_t)nk * sizeof(float));
        return 1.0f;
    }
    const float mnew = fmaxf(*m, row_max(s, vis) * scale);
    const float alpha = expf(*m - mnew); /* 0 for the first tile (m = -inf) */
    const float sum = exp_row(s, vis, mnew, scale, 1);
    if (nk > vis) memset(s + vis, 0, (size_t)(nk - vis) * sizeof(float));
    *l = *l * alpha + sum;
    *m = mnew;
    return alpha;
}

/* oacc[i][d0 .. d0 + 4 NC) = alpha_i oacc + sum_j p[i][j] v_j[...] for 4
 * query rows (clamped like the scores; the rows past nq are scratch). */
INLINE void att_pv4(const float *const p[4], const float *v, size_t ldv, int nk, float *const o[4],
                    const float alpha[4], int d0, const int NC) {
    float32x4_t acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) acc[r][c] = vmulq_n_f32(vld1q_f32(o[r] + d0 + c * 4), alpha[r]);
    int j = 0;
#define PV_STEP(L)                                                                        \
    do {                                                                                  \
        const float *vj = v + (size_t)(j + (L)) * ldv + d0;                               \
        float32x4_t vv[4];                                                                \
        _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++) vv[c] = vld1q_f32(vj + c * 4); \
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++)                               \
            _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++)                          \
                acc[r][c] = vfmaq_laneq_f32(acc[r][c], vv[c], pv[r], L);                  \
    } while (0)
    for (; j + 4 <= nk; j += 4) {
        float32x4_t pv[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) pv[r] = vld1q_f32(p[r] + j);
        PV_STEP(0);
        PV_STEP(1);
        PV_STEP(2);
        PV_STEP(3);
    }
#undef PV_STEP
    for (; j < nk; j++) {
        const float *vj = v + (size_t)j * ldv + d0;
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) {
            float32x4_t vv = vld1q_f32(vj + c * 4);
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) acc[r][c] = vfmaq_n_f32(acc[r][c], vv, p[r][j]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) vst1q_f32(o[r] + d0 + c * 4, acc[r][c]);
}

static void att_pv(const float *st, int nq, const float *v, size_t ldv, int nk, float *oacc,
                   int dh, const float *alpha) {
    for (int i0 = 0; i0 < nq; i0 += 4) {
        const float *p[4];
        float *o[4], al[4];
        for (int r = 0; r < 4; r++) {
            int i = i0 + r < nq ? i0 + r : nq - 1;
            p[r] = st + i * ATT_KT;
            o[r] = oacc + (size_t)(i0 + r) * dh; /* rows < ATT_QB exist */
            al[r] = alpha[i];
        }
        int d0 = 0;
        for (; d0 + 16 <= dh; d0 += 16) att_pv4(p, v, ldv, nk, o, al, d0, 4);
        switch ((dh - d0) / 4) {
        case 3: att_pv4(p, v, ldv, nk, o, al, d0, 3); break;
        case 2: att_pv4(p, v, ldv, nk, o, al, d0, 2); break;
        case 1: att_pv4(p, v, ldv, nk, o, al, d0, 1); break;
        default: break;
        }
        for (int d = d0 + (dh - d0) / 4 * 4; d < dh; d++)
            for (int r = 0; r < 4; r++) {
                float s = o[r][d] * al[r];
                for (int j = 0; j < nk; j++) s += p[r][j] * v[(size_t)j * ldv + d];
                o[r][d] = s;
            }
    }
}

static void attention_neon(const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, float *o, int ldo, int Tq, int Tk, int dh, float scale,
                           int causal, int causal_offset, float *scratch) {
    float *st = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [32][64] */
    float *oacc = st + ATT_QB * ATT_KT;                                  /* [32][dh] */
    float m[ATT_QB], l[ATT_QB], alpha[ATT_QB];

    for (int qb = 0; qb < Tq; qb += ATT_QB) {
        int nq = Tq - qb < ATT_QB ? Tq - qb : ATT_QB;
        long kend = Tk;
        if (causal && (long)qb + nq + causal_offset < kend) kend = (long)qb + nq + causal_offset;
        if (kend <= 0) {
            for (int i = 0; i < nq; i++) memset(o + (size_t)(qb + i) * ldo, 0, (size_t)dh * 4);
            continue;
        }
        memset(oacc, 0, (size_t)ATT_QB * dh * sizeof(float));
        for (int i = 0; i < nq; i++) m[i] = -INFINITY, l[i] = 0.0f;

        for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
            int nk = kend - j0 < ATT_KT ? (int)(kend - j0) : ATT_KT;
            att_scores(q + (size_t)qb * ldq, (size_t)ldq, nq, k + (size_t)j0 * ldk, (size_t)ldk, nk,
                       dh, st);
            for (int i = 0; i < nq; i++) {
                /* query qb+i sees key j0+j iff j0 + j <= qb + i + offset */
                long vis = causal ? (long)qb + i + causal_offset - j0 + 1 : nk;
                vis = vis < 0 ? 0 : vis > nk ? nk : vis;
                alpha[i] = att_softmax_row(st + i * ATT_KT, nk, (int)vis, scale, &m[i], &l[i]);
            }
            att_pv(st, nq, v + (size_t)j0 * ldv, (size_t)ldv, nk, oacc, dh, alpha);
        }

        for (int i = 0; i < nq; i++) {
            const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
            const float *src = oacc + (size_t)i * dh;
            float *dst = o + (size_t)(qb + i) * ldo;
            for (int d = 0; d < dh; d += 4) {
                int c = dh - d < 4 ? dh - d : 4;
                vf_store_n(dst + d, vmulq_n_f32(vf_load_n(src + d, c), inv), c);
            }
        }
    }
}

static float softmax_neon(float *x, int n, float scale) { return exp_row(x, n, row_max(x, n), scale, 0); }

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

        for (i = 0; i < n; i += 4) {
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
        /* 4 pairs at a time: de-interleave, rotate, interleave back */
        for (; i + 4 <= h; i += 4) {
            float32x4x2_t p = vld2q_f32(xt + 2 * i);
            float32x4_t cv = vld1q_f32(c + i), sv = vld1q_f32(s + i);
            float32x4x2_t o;
            o.val[0] = vfmsq_f32(vmulq_f32(p.val[0], cv), p.val[1], sv);
            o.val[1] = vfmaq_f32(vmulq_f32(p.val[1], cv), p.val[0], sv);
            vst2q_f32(xt + 2 * i, o);
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
