/* The GEMM epilogue of a register tile (bias, GELU, SwiGLU's gate,
 * LayerScale, residual; the int8 row scale), written once in the SIMD
 * vocabulary of its includer: simd_x86.h (AVX2, AVX-512) and simd_wasm.h
 * include it last, after vf_gelu, vf_gelu_fast and vf_silu, with
 *   PE_TILE_LD   the row stride of the tile buffer, in floats.
 * Not in kernels_body.h: gemm_panels.h and the int8 files (qgemm_*.c),
 * which do not include the body, call it too.  simd_neon.h has its own (a
 * row's 4 vectors through the GELU together). */
#ifndef PE_SIMD_EPILOGUE_H
#define PE_SIMD_EPILOGUE_H

/* Applies the epilogue to an mr x PE_TILE_LD tile held in a stack buffer
 * (row r first scaled by rs[r] when rs is given: the activation scale of the
 * int8 kernels) and stores the valid columns.  Kept out of the unrolled
 * microkernels: it runs once per tile against K iterations of the inner
 * loop. */
static inline void pe_tile_store(const float *tile, int mr, int ncols, const float *rs, float *C,
                                 int ldc, const pe_epilogue *ep, int m, int n) {
    vf32 gk[VF_GELU_FAST_K];
    vf_gelu_fast_k(gk);
    for (int c0 = 0; c0 < ncols; c0 += VF_LANES) {
        const vmask mk = vm_lanes(ncols - c0);
        vf32 bias = vf_zero(), gamma = vf_set1(1.0f);
        int gelu = 0;
        const float *res = NULL, *glu = NULL;
        if (ep) {
            if (ep->bias) bias = vf_load_part(ep->bias + n + c0, mk);
            if (ep->gamma) gamma = vf_load_part(ep->gamma + n + c0, mk);
            gelu = ep->gelu;
            if (ep->residual) res = ep->residual + (size_t)m * ep->ldr + n + c0;
            if (ep->glu) glu = ep->glu + (size_t)m * ep->ldg + n + c0;
        }
        for (int r = 0; r < mr; r++) {
            vf32 v = vf_load(tile + r * PE_TILE_LD + c0);
            v = rs ? vf_fmadd(v, vf_set1(rs[r]), bias) : vf_add(v, bias);
            if (gelu == PE_GELU_EXACT) v = vf_gelu(v);
            if (gelu == PE_GELU_FAST) v = vf_gelu_fast(v, gk);
            if (glu) v = vf_mul(vf_silu(v), vf_load_part(glu + (size_t)r * ep->ldg, mk));
            if (res) v = vf_fmadd(gamma, v, vf_load_part(res + (size_t)r * ep->ldr, mk));
            vf_store_part(C + (size_t)r * ldc + c0, mk, v);
        }
    }
}

#endif
