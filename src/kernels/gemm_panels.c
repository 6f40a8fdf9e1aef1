/* The GEMM driver of the kernel sets whose register tile covers one panel
 * (kernels.h: pe_gemm_panels).  Plain C: the tiles it calls are the ISA
 * code, once per tile of K multiply-adds per output. */
#include "kernels.h"

void pe_gemm_panels(const pe_panel_tile *tiles, int mr_max, size_t wblock, size_t wbytes,
                    const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                    int m1, int n0, int n1, const pe_epilogue *ep) {
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
                tiles[mr - 1](a, (size_t)lda, (const char *)Wp + (size_t)p * pbytes, K,
                              C + (size_t)m * ldc + n, ldc, ncols, ep, m, n);
            }
        }
    }
}
