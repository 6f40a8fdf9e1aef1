/* The GEMM driver of the kernel sets whose register tile covers one panel
 * (AVX2 and NEON; float32, f16/bf16 and int8 weights), compiled in each:
 * panels in blocks of about wblock bytes stay in cache while every row tile
 * passes over them (wblock 0: one panel at a time).  The includer defines
 *   PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n)
 * which computes rows m .. m+mr-1 of its operand x (pe_rows for float
 * rows, pe_qrows for int8 ones) times panel w (its first byte) and stores
 * columns n .. n+ncols-1 (c: row m, column n) through the epilogue; v is the
 * caller's variant (f16 or bf16, q8 or q4), passed on. */
#ifndef PE_GEMM_PANELS_H
#define PE_GEMM_PANELS_H

/* The float operand: rows of lda floats, K of them used. */
typedef struct pe_rows {
    const float *A;
    size_t lda;
    int K;
} pe_rows;
#define PE_ROW(x, m) (((const pe_rows *)(x))->A + (size_t)(m) * ((const pe_rows *)(x))->lda)
#define PE_ROWS_LDA(x) (((const pe_rows *)(x))->lda)
#define PE_ROWS_K(x) (((const pe_rows *)(x))->K)

/* PANEL_TILE for tiles that write a stack buffer (tile_, maxr rows), which
 * pe_tile_store then finishes into C (rows scaled by rs when not NULL). */
#define PANEL_TILE_BUFFERED(maxr, call, rs, mr, c, ldc, ncols, ep, m, n)                   \
    do {                                                                                  \
        float tile_[(maxr) * PE_GEMM_NR] __attribute__((aligned(VF_LANES * 4)));          \
        call;                                                                             \
        pe_tile_store(tile_, mr, ncols, rs, c, ldc, ep, m, n);                            \
    } while (0)

/* The int8 operand (a pe_qact's fields, read once): activation codes of
 * ldq bytes a row, nb blocks, the row scales, block sums and row sums. */
typedef struct pe_qrows {
    const int8_t *q;
    size_t ldq;
    int nb;
    const float *s;
    const int32_t *bsum;
    const int32_t *rsum;
} pe_qrows;
#define PE_QROWS(qa) {(qa)->q, (size_t)(qa)->ldq, (qa)->ldq / PE_QK, (qa)->s, (qa)->bsum, (qa)->rsum}
#define PE_QA(x) ((const pe_qrows *)(x))

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
gemm_panels(const void *x, int v, int mr_max, size_t wblock, size_t pbytes, const void *Wp, float *C,
            int ldc, int m0, int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)v; /* unused where PANEL_TILE has one variant */
    if (m1 <= m0 || n1 <= n0) return;
    const int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    if (!wblock) { /* panel by panel: every row tile over one, then the next */
        for (int p = p0; p < p1; p++) {
            const int n = p * PE_GEMM_NR, ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
            const void *w = (const uint8_t *)Wp + (size_t)p * pbytes;
            for (int m = m0; m < m1; m += mr_max)
                PANEL_TILE(x, v, m1 - m < mr_max ? m1 - m : mr_max, m, w, C + (size_t)m * ldc + n, ldc,
                           ncols, ep, n);
        }
        return;
    }
    const size_t fit = wblock / (pbytes + 1);
    const int pblock = fit < 1 ? 1 : fit > 1024 ? 1024 : (int)fit;
    for (int pb = p0; pb < p1; pb += pblock) {
        const int pe = pb + pblock < p1 ? pb + pblock : p1;
        for (int m = m0; m < m1; m += mr_max) {
            const int mr = m1 - m < mr_max ? m1 - m : mr_max;
            for (int p = pb; p < pe; p++) {
                const int n = p * PE_GEMM_NR;
                const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
                PANEL_TILE(x, v, mr, m, (const void *)((const uint8_t *)Wp + (size_t)p * pbytes),
                           C + (size_t)m * ldc + n, ldc, ncols, ep, n);
            }
        }
    }
}

#endif

/* The f16/bf16 and int8 GEMMs of a reduced-precision set, on the driver
 * above: a third include, after the tile tables half_tiles[bf16][r - 1]
 * (HALF_MR rows at most) and q_tiles[q4][r - 1] (Q_MR), with
 * Q_TILE(x, v, mr, m, w) the int8 tile call writing tile_.  Variants 0, 1:
 * f16, bf16 rows of A (pe_rows); 2, 3: q8, q4 activation codes (pe_qrows),
 * scaled per row in the epilogue.  Each call passes a constant variant, so
 * the tile call is resolved at compile time.  Panel by panel (no
 * blocking), every row tile of A over each. */
#if defined(Q_TILE) && !defined(PE_GEMM_PANELS_QGEMM)
#define PE_GEMM_PANELS_QGEMM
#define PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n)                                         \
    do {                                                                                       \
        if ((v) < 2)                                                                           \
            PANEL_TILE_BUFFERED(HALF_MR,                                                       \
                                half_tiles[v][(mr) - 1](PE_ROW(x, m), PE_ROWS_LDA(x), w,       \
                                                        PE_ROWS_K(x), tile_),                  \
                                NULL, mr, c, ldc, ncols, ep, m, n);                            \
        else                                                                                   \
            PANEL_TILE_BUFFERED(Q_MR, Q_TILE(x, v, mr, m, w), PE_QA(x)->s + (m), mr, c, ldc,  \
                                ncols, ep, m, n);                                              \
    } while (0)
#include "gemm_panels.h"

static void gemm_half(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0,
                      int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    const pe_rows x = {A, (size_t)lda, K};
    const size_t pbytes = (size_t)K * PE_GEMM_NR * sizeof(uint16_t);
    if (t == PE_WT_BF16) gemm_panels(&x, 1, HALF_MR, 0, pbytes, Wv, C, ldc, m0, m1, n0, n1, ep);
    else gemm_panels(&x, 0, HALF_MR, 0, pbytes, Wv, C, ldc, m0, m1, n0, n1, ep);
}

static void gemm_q(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    const size_t pbytes = pe_qpack_panel_bytes(t == PE_WT_Q4 ? PE_WT_Q4 : PE_WT_Q8, K);
    const pe_qrows x = PE_QROWS(qa);
    if (t == PE_WT_Q4) gemm_panels(&x, 3, Q_MR, 0, pbytes, Wv, C, ldc, m0, m1, n0, n1, ep);
    else gemm_panels(&x, 2, Q_MR, 0, pbytes, Wv, C, ldc, m0, m1, n0, n1, ep);
}
#endif
