/* AVX2 + FMA + F16C kernels, compiled with those flags and reached only
 * through pe_kernels_avx2 after isa.c checked the CPU.  The GEMM and
 * attention tiles are its own; the rest is kernels_body.h at 8 lanes.
 * kernels_ref.c is the specification. */
#include "kernels.h"
#include "simd_avx2.h"
#include "../common.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- gemm */

/* Register tile: 6 rows x one 16-column panel = 12 ymm accumulators; per k,
 * two loads and six broadcasts feed twelve FMAs. */
#define GEMM_MR 6

INLINE void gemm_tile(const float *A, size_t lda, const float *W, int K, float *C, int ldc,
                      int ncols, const pe_epilogue *ep, int m, int n, const int mr) {
    __m256 acc[GEMM_MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m256 b0 = _mm256_loadu_ps(W + (size_t)k * 16);
        __m256 b1 = _mm256_loadu_ps(W + (size_t)k * 16 + 8);
        const float *a = A + k;
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m256 av = _mm256_broadcast_ss(a + r * lda);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    float tile[GEMM_MR * 16] __attribute__((aligned(32)));
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        _mm256_store_ps(tile + r * 16, acc[r][0]);
        _mm256_store_ps(tile + r * 16 + 8, acc[r][1]);
    }
    pe_tile_store(tile, mr, ncols, NULL, C, ldc, ep, m, n);
}

typedef void (*gemm_tile_fn)(const float *A, size_t lda, const float *W, int K, float *C,
                             int ldc, int ncols, const pe_epilogue *ep, int m, int n);

#define TILE_FN(MR)                                                                        \
    static void gemm_tile_##MR(const float *A, size_t lda, const float *W, int K, float *C, \
                               int ldc, int ncols, const pe_epilogue *ep, int m, int n) {   \
        gemm_tile(A, lda, W, K, C, ldc, ncols, ep, m, n, MR);                              \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)

static const gemm_tile_fn gemm_tiles[GEMM_MR] = {
    gemm_tile_1, gemm_tile_2, gemm_tile_3, gemm_tile_4, gemm_tile_5, gemm_tile_6,
};

#define GEMM_W_BLOCK_BYTES (384u * 1024u)

static void gemm(const float *A, int lda, const float *Wp, int N, int K,
                      float *C, int ldc, int m0, int m1, int n0, int n1,
                      const pe_epilogue *ep) {
    (void)N;
    if (m1 <= m0 || n1 <= n0) return;
    size_t pstride = (size_t)K * PE_GEMM_NR;
    int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    size_t fit = GEMM_W_BLOCK_BYTES / (pstride * sizeof(float) + 1);
    int pblock = fit < 1 ? 1 : (int)(fit < 1024 ? fit : 1024);
    for (int pb = p0; pb < p1; pb += pblock) {
        int pe = pb + pblock < p1 ? pb + pblock : p1;
        for (int m = m0; m < m1; m += GEMM_MR) {
            int mr = m1 - m < GEMM_MR ? m1 - m : GEMM_MR;
            const float *a = A + (size_t)m * lda;
            for (int p = pb; p < pe; p++) {
                int n = p * PE_GEMM_NR;
                int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
                gemm_tiles[mr - 1](a, (size_t)lda, Wp + (size_t)p * pstride, K,
                                   C + (size_t)m * ldc + n, ldc, ncols, ep, m, n);
            }
        }
    }
}

/* ----------------------------------------------------------- attention */

/* Up to 16 queries at a time, one per lane of NV = 1 or 2 vectors (the
 * driver and its online softmax: kernels_body.h).  The tiles need dh a
 * multiple of 8; other head sizes go to the reference. */
#define ATT_QB 16
#define ATT_KT 64
#define ATT_DH_OK(dh) ((dh) % 8 == 0)

/* Scores of 6 consecutive keys: 12 accumulators, 2 query vectors and a
 * broadcast fit the 16 ymm registers. */
INLINE void att_scores6(const float *qt, const float *k, size_t ldk, int dh, float *st,
                        const int NV) {
    __m256 acc[2][6];
#pragma GCC unroll 2
    for (int u = 0; u < NV; u++)
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) acc[u][g] = _mm256_setzero_ps();
    for (int d = 0; d < dh; d++) {
        __m256 q0 = _mm256_load_ps(qt + (size_t)d * ATT_QB);
        __m256 q1 = NV > 1 ? _mm256_load_ps(qt + (size_t)d * ATT_QB + 8) : q0;
        const float *kd = k + d;
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) {
            __m256 kv = _mm256_broadcast_ss(kd + g * ldk);
            acc[0][g] = _mm256_fmadd_ps(q0, kv, acc[0][g]);
            if (NV > 1) acc[1][g] = _mm256_fmadd_ps(q1, kv, acc[1][g]);
        }
    }
#pragma GCC unroll 2
    for (int u = 0; u < NV; u++)
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) _mm256_store_ps(st + g * ATT_QB + u * 8, acc[u][g]);
}

static void att_scores1(const float *qt, const float *k, int dh, float *st, int nv) {
    for (int u = 0; u < nv; u++) {
        __m256 acc = _mm256_setzero_ps();
        for (int d = 0; d < dh; d++)
            acc = _mm256_fmadd_ps(_mm256_load_ps(qt + (size_t)d * ATT_QB + u * 8),
                                  _mm256_broadcast_ss(k + d), acc);
        _mm256_store_ps(st + u * 8, acc);
    }
}

static void att_scores(const float *qt, const float *k, size_t ldk, int nk, int dh, float *st,
                       int nv) {
    int j = 0;
    for (; j + 6 <= nk; j += 6) {
        if (nv > 1) att_scores6(qt, k + (size_t)j * ldk, ldk, dh, st + j * ATT_QB, 2);
        else att_scores6(qt, k + (size_t)j * ldk, ldk, dh, st + j * ATT_QB, 1);
    }
    for (; j < nk; j++) att_scores1(qt, k + (size_t)j * ldk, dh, st + j * ATT_QB, nv);
}

INLINE void att_pv(const float *p, const float *v, size_t ldv, int nk, float *oacc, int dh,
                   const float *alpha, int q0, int d0, const int QG, const int NC) {
    __m256 acc[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < QG; r++) {
        __m256 a = _mm256_broadcast_ss(alpha + q0 + r);
        const float *o = oacc + (size_t)(q0 + r) * dh + d0;
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_mul_ps(a, _mm256_load_ps(o + c * 8));
    }
    for (int j = 0; j < nk; j++) {
        const float *vj = v + (size_t)j * ldv + d0;
        __m256 vv[3];
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) vv[c] = _mm256_loadu_ps(vj + c * 8);
#pragma GCC unroll 8
        for (int r = 0; r < QG; r++) {
            __m256 pr = _mm256_broadcast_ss(p + j * ATT_QB + q0 + r);
#pragma GCC unroll 3
            for (int c = 0; c < NC; c++) acc[r][c] = _mm256_fmadd_ps(pr, vv[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < QG; r++) {
        float *o = oacc + (size_t)(q0 + r) * dh + d0;
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) _mm256_store_ps(o + c * 8, acc[r][c]);
    }
}

/* One tile of keys through PV for queries [0, nq): head-dim chunks of 24,
 * then 16 or 8, with 12 or 8 accumulators. */
static void att_pv_tile(const float *p, const float *v, size_t ldv, int nk, float *oacc,
                        int dh, const float *alpha, int nq) {
    int d0 = 0;
    for (; d0 + 24 <= dh; d0 += 24)
        for (int q0 = 0; q0 < nq; q0 += 4) att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, 4, 3);
    if (dh - d0 == 16)
        for (int q0 = 0; q0 < nq; q0 += 4) att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, 4, 2);
    else if (dh - d0 == 8)
        for (int q0 = 0; q0 < nq; q0 += 8) att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, 8, 1);
}

/* ---------------------------------------------------------------- rope */

static void rope(float *x, int ldx, int T, int n, const float *cs) {
    const int h = n / 2;
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * ldx;
        const float *c = cs + (size_t)t * n, *s = c + h;
        int i = 0;
        for (; i + 4 <= h; i += 4) {
            __m256 cv = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(c + i)), dup);
            __m256 sv = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + i)), dup);
            __m256 xv = _mm256_loadu_ps(xt + 2 * i);
            __m256 xs = _mm256_permute_ps(xv, 0xB1);
            _mm256_storeu_ps(xt + 2 * i, _mm256_fmaddsub_ps(xv, cv, _mm256_mul_ps(xs, sv)));
        }
        pe_rope_pairs_ref(xt, c, s, i, h);
    }
}

/* --------------------------------------------------------- conversions */

static void f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = pe_f16_to_f32(src[i]);
}

static void bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) dst[i] = pe_bf16_to_f32(src[i]);
}

/* softmax's row sum: lane 0 first, then 1, ... as this file always added it */
#define VF_SOFTMAX_SUM vf_reduce_add_seq
#define PE_KERNELS_SET pe_kernels_avx2
#define PE_KERNELS_NAME "avx2"
#include "kernels_body.h"
