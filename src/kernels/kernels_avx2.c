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

#define PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n) \
    gemm_tiles[(mr) - 1](PE_ROW(x, m), PE_ROWS_LDA(x), w, PE_ROWS_K(x), c, ldc, ncols, ep, m, n)
#include "gemm_panels.h"

/* Panels of W kept hot in cache while every row block of A passes over them. */
static void gemm(const float *A, int lda, const float *Wp, int N, int K, float *C, int ldc, int m0,
                 int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)N;
    const pe_rows x = {A, (size_t)lda, K};
    gemm_panels(&x, 0, GEMM_MR, 384u * 1024u, (size_t)K * PE_GEMM_NR * sizeof(float), Wp, C, ldc, m0,
                m1, n0, n1, ep);
}

/* ----------------------------------------------------------- attention */

/* Up to 16 queries at a time, one per lane of NV = 1 or 2 vectors (the
 * driver and its online softmax: kernels_body.h).  The tiles need dh a
 * multiple of 8; other head sizes go to the reference. */
#define ATT_QB 16
#define ATT_KT 64
#define ATT_DH_OK(dh) ((dh) % 8 == 0)
#define ATT_PV_MASKED 0
/* Scores of 6 keys: 12 accumulators, 2 query vectors and a broadcast fit
 * the 16 ymm registers; P V in head-dim chunks of 24, then 16 or 8, with
 * 12 or 8 accumulators. */
#define ATT_G 6
#define ATT_PV_NC 3
#define ATT_PV_QG(nc) ((nc) == 1 ? 8 : 4)
#define ATT_PV_QG_MAX 8

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
