/* AVX-512 kernels (F, BW, VL, DQ + FMA + F16C), compiled with those flags and
 * reached only through pe_kernels_avx512 after isa.c checked the CPU.  The
 * GEMM and attention tiles are its own; the rest is kernels_body.h at 16
 * lanes.  kernels_ref.c is the specification; comments say why, not what. */
#include "kernels.h"
#include "simd_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- gemm */

/* Register tile: MR rows x 32 columns (two adjacent panels) = 24 zmm
 * accumulators; per k, two panel loads and MR broadcasts feed 2*MR FMAs. */
#define GEMM_MR 12
#define GEMM_NP 2

/* Cache blocking.  Without it every tile streams its 2 x K x 16 floats of W
 * from L2 or beyond (at K = 384 they alone fill a 48 KB L1), 64 bytes per 12
 * FMAs, and evicts the tile's rows of A on the way.  Instead K is cut into
 * blocks of about GEMM_KC so that one block of a panel pair (KC x 32 floats, 16 KB) stays in
 * L1 while the row tiles of a chunk of GEMM_MC rows pass over it, and only A
 * (MR floats per k, shared by 32 columns) comes from L2.  The chunk's
 * partial sums wait in a stack buffer between K blocks; the epilogue runs
 * from that buffer after the last one, so C (which residual and glu may
 * alias) is written once, as before, and each sum is accumulated in the
 * same order as without blocking.  A tile's rows of A serve GEMM_NG panel
 * pairs in a row (their W blocks, 2 x 16 KB, share L1), halving A's trips
 * from L2. */
#ifndef GEMM_KC
#define GEMM_KC 128
#endif
#ifndef GEMM_MC
#define GEMM_MC (8 * GEMM_MR)
#endif
#ifndef GEMM_NG
#define GEMM_NG 2
#endif

/* W is prefetched this many k (one line per panel each) ahead: the first
 * row tile of a K block meets its W lines from L2 or L3, and in the last
 * tile the prefetch runs on into the next K block of the same panels. */
#ifndef GEMM_PFW
#define GEMM_PFW 24
#endif

/* The microkernel, instantiated for every (rows, panels) pair so that the
 * accumulator array lives in registers.  part holds the tile's partial sums
 * as [mr][32]: read unless first, written unless last (then the tile is
 * finished into C). */
INLINE void gemm_tile(const float *A, size_t lda, const float *W, size_t pstride, int kc,
                      float *part, int first, int last, float *C, int ldc, int ncols,
                      const pe_epilogue *ep, int m, int n, const int mr, const int np) {
    __m512 acc[GEMM_MR][GEMM_NP];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < np; c++)
            acc[r][c] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + r * 32 + c * 16);

    const float *w0 = W, *w1 = W + pstride;
    for (int k = 0; k < kc; k++) {
        _mm_prefetch((const char *)(w0 + (size_t)(k + GEMM_PFW) * 16), _MM_HINT_T0);
        if (np > 1) _mm_prefetch((const char *)(w1 + (size_t)(k + GEMM_PFW) * 16), _MM_HINT_T0);
        __m512 b0 = _mm512_loadu_ps(w0 + (size_t)k * 16);
        __m512 b1 = np > 1 ? _mm512_loadu_ps(w1 + (size_t)k * 16) : b0;
        const float *a = A + k;
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            if (np > 1) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }

#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < np; c++) _mm512_store_ps(part + r * 32 + c * 16, acc[r][c]);
    if (last) pe_tile_store(part, mr, ncols, NULL, C, ldc, ep, m, n);
}

typedef void (*gemm_tile_fn)(const float *A, size_t lda, const float *W, size_t pstride,
                             int kc, float *part, int first, int last, float *C, int ldc,
                             int ncols, const pe_epilogue *ep, int m, int n);

#define TILE_FN(MR, NP)                                                                    \
    static void gemm_tile_##MR##_##NP(const float *A, size_t lda, const float *W,          \
                                      size_t pstride, int kc, float *part, int first,      \
                                      int last, float *C, int ldc, int ncols,              \
                                      const pe_epilogue *ep, int m, int n) {               \
        gemm_tile(A, lda, W, pstride, kc, part, first, last, C, ldc, ncols, ep, m, n, MR,  \
                  NP);                                                                     \
    }
#define TILE_FNS(MR) TILE_FN(MR, 1) TILE_FN(MR, 2)
TILE_FNS(1) TILE_FNS(2) TILE_FNS(3) TILE_FNS(4) TILE_FNS(5) TILE_FNS(6)
TILE_FNS(7) TILE_FNS(8) TILE_FNS(9) TILE_FNS(10) TILE_FNS(11) TILE_FNS(12)

#define TILE_ROW(MR) { gemm_tile_##MR##_1, gemm_tile_##MR##_2 }
static const gemm_tile_fn gemm_tiles[GEMM_MR][GEMM_NP] = {
    TILE_ROW(1), TILE_ROW(2), TILE_ROW(3), TILE_ROW(4), TILE_ROW(5), TILE_ROW(6),
    TILE_ROW(7), TILE_ROW(8), TILE_ROW(9), TILE_ROW(10), TILE_ROW(11), TILE_ROW(12),
};

static void gemm(const float *A, int lda, const float *Wp, int N, int K,
                        float *C, int ldc, int m0, int m1, int n0, int n1,
                        const pe_epilogue *ep) {
    (void)N;
    if (m1 <= m0 || n1 <= n0) return;
    float part[GEMM_MC * 32 * GEMM_NG] __attribute__((aligned(64)));
    size_t pstride = (size_t)K * PE_GEMM_NR;
    int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    /* Equal K blocks, so that no short last block pays the reload alone. */
    int nkb = (K + GEMM_KC - 1) / GEMM_KC, kc = nkb ? (K + nkb - 1) / nkb : 0;
    /* Row chunks of equal whole tiles (197 rows: 72, 72, 53, not 96, 96, 5),
     * so that no chunk of a few rows streams the W blocks for itself. */
    int nmc = (m1 - m0 + GEMM_MC - 1) / GEMM_MC, tiles = (m1 - m0 + GEMM_MR - 1) / GEMM_MR;
    int mcs = (tiles + nmc - 1) / nmc * GEMM_MR;
    for (int mc = m0; mc < m1; mc += mcs) {
        int mce = m1 - mc < mcs ? m1 : mc + mcs;
        for (int pg = p0; pg < p1; pg += GEMM_NP * GEMM_NG) {
            int pge = p1 - pg < GEMM_NP * GEMM_NG ? p1 : pg + GEMM_NP * GEMM_NG;
            int k0 = 0;
            do {
                int kn = K - k0 < kc ? K - k0 : kc;
                for (int m = mc; m < mce; m += GEMM_MR) {
                    int mr = mce - m < GEMM_MR ? mce - m : GEMM_MR;
                    for (int p = pg; p < pge; p += GEMM_NP) {
                        int np = pge - p < GEMM_NP ? pge - p : GEMM_NP;
                        int n = p * PE_GEMM_NR;
                        int ncols = n1 - n < np * PE_GEMM_NR ? n1 - n : np * PE_GEMM_NR;
                        const float *w = Wp + (size_t)p * pstride + (size_t)k0 * PE_GEMM_NR;
                        float *pt = part + ((size_t)(p - pg) / GEMM_NP * mcs + (m - mc)) * 32;
                        gemm_tiles[mr - 1][np - 1](A + (size_t)m * lda + k0, (size_t)lda, w,
                                                   pstride, kn, pt, k0 == 0, k0 + kn >= K,
                                                   C + (size_t)m * ldc + n, ldc, ncols, ep, m, n);
                    }
                }
                k0 += kn;
            } while (k0 < K);
        }
    }
}

/* ----------------------------------------------------------- attention */

/* Up to 32 queries at a time, one per lane of NV = 1 or 2 vectors (the
 * driver and its online softmax: kernels_body.h); any head size. */
#define ATT_QB 32
#define ATT_KT 64
#define ATT_DH_OK(dh) ((void)(dh), 1)
#define ATT_PV_MASKED 1
/* Scores of 8 keys: 16 accumulators; P V in head-dim chunks of up to 64
 * floats, the query group sized so that ~16 accumulators stay in
 * registers. */
#define ATT_G 8
#define ATT_PV_NC 4
#define ATT_PV_QG(nc) ((nc) >= 3 ? 4 : (nc) == 2 ? 8 : 16)
#define ATT_PV_QG_MAX 16

/* ---------------------------------------------------------------- rope */

static void rope(float *x, int ldx, int T, int n, const float *cs) {
    const int h = n / 2;
    /* Each of 8 cos/sin values serves one interleaved pair (two lanes). */
    const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * ldx;
        const float *c = cs + (size_t)t * n, *s = c + h;
        for (int i = 0; i < h; i += 8) {
            int np = h - i < 8 ? h - i : 8;
            __mmask8 m8 = (__mmask8)((1u << np) - 1u);
            __mmask16 m16 = vm_lanes(2 * np);
            __m512 cv = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(m8, c + i)));
            __m512 sv = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(m8, s + i)));
            __m512 xv = _mm512_maskz_loadu_ps(m16, xt + 2 * i);
            __m512 xs = _mm512_permute_ps(xv, 0xB1); /* swap within pairs */
            /* even lanes x0 c - x1 s, odd lanes x1 c + x0 s */
            _mm512_mask_storeu_ps(xt + 2 * i, m16, _mm512_fmaddsub_ps(xv, cv, _mm512_mul_ps(xs, sv)));
        }
    }
}

/* --------------------------------------------------------- conversions */

static void f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n) {
        __mmask16 mk = vm_lanes((int)(n - i));
        _mm512_mask_storeu_ps(dst + i, mk, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, src + i)));
    }
}

static void bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
    if (i < n) {
        __mmask16 mk = vm_lanes((int)(n - i));
        __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk, src + i));
        _mm512_mask_storeu_ps(dst + i, mk, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
}

#define VF_SOFTMAX_SUM vf_reduce_add
#define PE_KERNELS_SET pe_kernels_avx512
#define PE_KERNELS_NAME "avx512"
#include "kernels_body.h"
