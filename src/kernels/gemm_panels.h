/* The GEMM driver of the kernel sets whose register tile covers one panel
 * (AVX2 and NEON, float32 and f16/bf16 weights), compiled in each: panels
 * in blocks of about wblock bytes (0: one at a time) stay in cache while
 * every row tile of A passes over them.  The includer defines
 *   PANEL_TILE(v, mr, a, lda, w, K, c, ldc, ncols, ep, m, n)
 * which computes rows m .. m+mr-1 (a: the first) times panel w (its first
 * weight) and stores columns n .. n+ncols-1 (c: row m, column n) through
 * the epilogue; v is the caller's variant (e.g. f16 or bf16), passed on. */
#ifndef PE_GEMM_PANELS_H
#define PE_GEMM_PANELS_H

/* PANEL_TILE for tiles (a table by row count, up to maxr rows) that write a
 * stack buffer, which pe_tile_store then finishes into C. */
#define PANEL_TILE_BUFFERED(tiles, maxr, mr, a, lda, w, K, c, ldc, ncols, ep, m, n)       \
    do {                                                                                  \
        float tile_[(maxr) * PE_GEMM_NR] __attribute__((aligned(VF_LANES * 4)));          \
        (tiles)[(mr) - 1](a, lda, w, K, tile_);                                           \
        pe_tile_store(tile_, mr, ncols, NULL, c, ldc, ep, m, n);                          \
    } while (0)

/* The f16/bf16 tiles, half_BF_R, from the includer's inline template
 * half_tile(A, lda, W, K, tile, R, BF), for a table half_tiles[BF][R - 1]. */
typedef void (*half_fn)(const float *A, size_t lda, const uint16_t *W, int K, float *tile);
#define HALF_FN(R, BF)                                                                         \
    static void half_##BF##_##R(const float *A, size_t lda, const uint16_t *W, int K, float *t) { \
        half_tile(A, lda, W, K, t, R, BF);                                                     \
    }
#define HALF_FNS(R) HALF_FN(R, 0) HALF_FN(R, 1)

#endif

/* The driver, once PANEL_TILE is defined (a second include, after the
 * tables it uses). */
#if defined(PANEL_TILE) && !defined(PE_GEMM_PANELS_DRIVER)
#define PE_GEMM_PANELS_DRIVER

static inline __attribute__((always_inline)) void
gemm_panels(int v, int mr_max, size_t wblock, size_t wbytes, const float *A, int lda, const void *Wp,
            int K, float *C, int ldc, int m0, int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)v; /* unused where PANEL_TILE has one variant */
    if (m1 <= m0 || n1 <= n0) return;
    const size_t pbytes = (size_t)K * PE_GEMM_NR * wbytes;
    const int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    const size_t fit = wblock / (pbytes + 1);
    const int pblock = fit < 1 ? 1 : fit > 1024 ? 1024 : (int)fit;
    for (int pb = p0; pb < p1; pb += pblock) {
        const int pe = pb + pblock < p1 ? pb + pblock : p1;
        for (int m = m0; m < m1; m += mr_max) {
            const int mr = m1 - m < mr_max ? m1 - m : mr_max;
            const float *a = A + (size_t)m * lda;
            for (int p = pb; p < pe; p++) {
                const int n = p * PE_GEMM_NR;
                const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
                PANEL_TILE(v, mr, a, (size_t)lda, (const void *)((const char *)Wp + (size_t)p * pbytes),
                           K, C + (size_t)m * ldc + n, ldc, ncols, ep, m, n);
            }
        }
    }
}

#endif
