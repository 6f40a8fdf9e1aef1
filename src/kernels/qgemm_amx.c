/* AMX-INT8 q8 GEMM (Intel Sapphire Rapids and later): the VNNI set
 * (qgemm_vnni.c) with its q8 GEMM run on the tile unit.  One TDPBSUD
 * multiplies 16 rows of int8 activations (64 k) by 16 columns of unsigned
 * weights, 16K multiply-adds against VNNI's 1K for 16 instructions.
 *
 * The packed q8 layout (quant.h) is already AMX's B layout: a 32-k tile of
 * a panel is 8 rows of 64 bytes (k = 4g + i of column j at g * 64 + j * 4 +
 * i), and consecutive tiles are contiguous, so two of them are a 16-row B
 * tile at stride 64.  The activation rows (stride ldq) are the A tile.  The
 * int32 sums are those of the VNNI kernel (s8 x u8 over the row, minus 128
 * times the row's code sum), converted and scaled the same way, so the
 * outputs are bit-identical to it.  What the tiles cannot take (q4, a K of
 * an odd number of 32-slices) runs on the VNNI kernel. */
#include "peak.h"
#include "quant.h"
#include "simd_avx512.h"

#include <immintrin.h>
#include <stdint.h>

/* Tile registers (the intrinsics paste the number into the instruction):
 * C[r][p] += A[r] x B[p] for row tiles r and panels p. */
#define C00 0
#define C01 1
#define C10 2
#define C11 3
#define A0 4
#define A1 5
#define B0 6
#define B1 7

typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Tiles of 64 bytes a row: C [rows, 16 int32], A [rows, 64 k], B [16 k/4,
 * 16 columns x 4], for blocks of `rows` activation rows (the first row
 * tile up to 16, the second the rest). */
static tile_config config_for(int rows) {
    tile_config c = {.palette = 1};
    for (int i = 0; i < 8; i++) c.colsb[i] = 64;
    c.rows[C00] = c.rows[C01] = c.rows[A0] = (uint8_t)(rows < 16 ? rows : 16);
    c.rows[C10] = c.rows[C11] = c.rows[A1] = (uint8_t)(rows > 16 ? rows - 16 : 16);
    c.rows[B0] = c.rows[B1] = 16;
    return c;
}

/* Rows [m, m + rows) (1..32, as configured) x panels p, p + 1 (np 1 or 2)
 * -> C, through the epilogue. */
static void amx_block(const pe_qact *qa, const uint8_t *w, size_t pstride, int nb, int m, int rows,
                      int np, float *C, int ldc, int n, int ncols, const pe_epilogue *ep) {
    const int8_t *a = qa->q + (size_t)m * qa->ldq;
    const size_t lda = (size_t)qa->ldq, ld16 = 16 * lda;
    const int rt = rows > 16 ? 2 : 1;
    _tile_zero(C00);
    _tile_zero(C01);
    _tile_zero(C10);
    _tile_zero(C11);
    for (int b = 0; b < nb; b += 2) {
        const uint8_t *w0 = w + PE_Q8_HEAD + (size_t)b * sizeof(pe_tile_q8);
        _tile_loadd(A0, a + (size_t)b * PE_QK, lda);
        _tile_loadd(B0, w0, 64);
        _tile_dpbsud(C00, A0, B0);
        if (np > 1) {
            _tile_loadd(B1, w0 + pstride, 64);
            _tile_dpbsud(C01, A0, B1);
        }
        if (rt > 1) {
            _tile_loadd(A1, a + ld16 + (size_t)b * PE_QK, lda);
            _tile_dpbsud(C10, A1, B0);
            if (np > 1) _tile_dpbsud(C11, A1, B1);
        }
    }
    int32_t acc[32 * 32] __attribute__((aligned(64)));
    _tile_stored(C00, acc, 128);
    _tile_stored(C01, acc + 16, 128);
    _tile_stored(C10, acc + 16 * 32, 128);
    _tile_stored(C11, acc + 16 * 32 + 16, 128);
    const __m512 d0 = _mm512_loadu_ps(w), d1 = np > 1 ? _mm512_loadu_ps(w + pstride) : d0;
    float tile[32 * 32] __attribute__((aligned(64)));
    for (int r = 0; r < rows; r++) {
        const __m512i off = _mm512_set1_epi32(-128 * qa->rsum[m + r]);
        __m512i s0 = _mm512_add_epi32(off, _mm512_load_si512(acc + r * 32));
        __m512i s1 = _mm512_add_epi32(off, _mm512_load_si512(acc + r * 32 + 16));
        _mm512_store_ps(tile + r * 32, _mm512_mul_ps(_mm512_cvtepi32_ps(s0), d0));
        _mm512_store_ps(tile + r * 32 + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(s1), d1));
    }
    /* pe_tile_store takes at most 32 rows of 32 columns */
    pe_tile_store(tile, rows, ncols, qa->s + m, C + (size_t)m * ldc + n, ldc, ep, m, n);
}

/* Blocks of `rows` rows from m0 to m1 (a multiple of them) over every panel
 * pair of [n0, n1), panels outer so a pair's weights serve all blocks. */
static void amx_rows(const pe_qact *qa, const uint8_t *Wp, size_t pstride, int nb, int m0, int m1,
                     int rows, float *C, int ldc, int n0, int n1, const pe_epilogue *ep) {
    const tile_config cfg __attribute__((aligned(64))) = config_for(rows);
    const int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    _tile_loadconfig(&cfg);
    for (int p = p0; p < p1; p += 2) {
        const int np = p1 - p < 2 ? p1 - p : 2, n = p * PE_GEMM_NR;
        const int ncols = n1 - n < np * PE_GEMM_NR ? n1 - n : np * PE_GEMM_NR;
        for (int m = m0; m < m1; m += rows)
            amx_block(qa, Wp + (size_t)p * pstride, pstride, nb, m, rows, np, C, ldc, n, ncols, ep);
    }
}

void pe_gemm_q_amx(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    const int nb = qa->ldq / PE_QK;
    if (t != PE_WT_Q8 || nb % 2 || m1 <= m0 || n1 <= n0) {
        pe_qkernels_vnni.gemm_q(qa, Wv, K, C, ldc, m0, m1, n0, n1, ep, t);
        return;
    }
    const size_t pstride = pe_qpack_panel_bytes(PE_WT_Q8, K);
    const int m32 = m0 + (m1 - m0) / 32 * 32; /* 32-row blocks, then the rest as one */
    if (m32 > m0) amx_rows(qa, Wv, pstride, nb, m0, m32, 32, C, ldc, n0, n1, ep);
    if (m32 < m1) amx_rows(qa, Wv, pstride, nb, m32, m1, m1 - m32, C, ldc, n0, n1, ep);
    _tile_release(); /* no tile state for the OS to save between calls */
}

/* The int8 peak of the tile unit (peak.c): four independent TDPBSUD, 16 x
 * 16 x 64 multiply-adds each. */
double pe_peak_loop_amx(long iters) {
    const tile_config cfg __attribute__((aligned(64))) = config_for(32);
    _tile_loadconfig(&cfg);
    _tile_zero(A0);
    _tile_zero(B0);
    _tile_zero(C00);
    _tile_zero(C01);
    _tile_zero(C10);
    _tile_zero(C11);
    for (long it = 0; it < iters; it++) {
        _tile_dpbsud(C00, A0, B0);
        _tile_dpbsud(C01, A0, B0);
        _tile_dpbsud(C10, A0, B0);
        _tile_dpbsud(C11, A0, B0);
    }
    int32_t sink[16 * 16] __attribute__((aligned(64)));
    _tile_stored(C00, sink, 64);
    _tile_release();
    volatile int32_t keep = sink[0];
    (void)keep;
    return (double)iters * 4 * 16 * 16 * 64 * 2;
}
