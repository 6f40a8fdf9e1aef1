/* WebAssembly SIMD128 kernels (make wasm builds everything with -msimd128;
 * this file only exists in that build, see the Makefile).  The GEMM tile,
 * attention, rope and the conversions are this file's; softmax and
 * LayerNorm are kernels_body.h at 4 lanes over simd_wasm.h, and the GEMM
 * epilogue (bias, GELU, SwiGLU's gate, LayerScale, residual) is
 * simd_epilogue.h's pe_tile_store.  kernels_ref.c is the specification.
 *
 * SIMD128 has no fused multiply-add (simd_wasm.h), so a step is a multiply
 * then an add.  Each GEMM column is still summed in k order, as gemm_ref
 * does with scalar multiplies and adds, so before the epilogue the tile
 * equals the reference bit for bit. */
#include "kernels.h"
#include "simd_wasm.h"
#include "../common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- gemm */

/* Register tile: GEMM_MR rows x one packed panel (16 columns) = 8
 * accumulators of 4 floats.  Measured under node 20 (V8, x86-64) on a
 * 197 x 768 x 192 GEMM: 2 x 16 is 1.37x the reference (which clang already
 * vectorises as 1 x 16); 3 x 16, 4 x 8 and 6 x 8 are slower than 2 x 16,
 * 4 x 16 slower than the reference: V8 spills their accumulators (it has 16
 * xmm registers). */
#define GEMM_MR 2
#define GEMM_NV (PE_GEMM_NR / 4)
#define GEMM_KRUN 64

/* tile[r][0:16] = A[r, :K] . panel[:, 0:16] for r < mr; mr is a constant
 * in every instantiation below, so the accumulators stay in registers. */
INLINE void gemm_tile(const float *A, size_t lda, const float *panel, int K, float *tile,
                      const int mr) {
    v128_t acc[GEMM_MR][GEMM_NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < GEMM_NV; v++) acc[r][v] = vf_zero();
    /* k in runs of GEMM_KRUN, a loop in a loop: V8 unrolls a loop by its
     * depth (min((depth + 1) 50 / size, 5) copies, size in graph nodes:
     * compiler/loop-unrolling.h), and alone this one ran as written, its
     * stack check and steps every 16 multiply-adds.  The same k order. */
    for (int k0 = 0; k0 < K; k0 += GEMM_KRUN) {
        const int k1 = K - k0 < GEMM_KRUN ? K : k0 + GEMM_KRUN;
        for (int k = k0; k < k1; k++) {
            const float *w = panel + (size_t)k * PE_GEMM_NR;
            v128_t b[GEMM_NV];
            for (int v = 0; v < GEMM_NV; v++) b[v] = wasm_v128_load(w + 4 * v);
            for (int r = 0; r < mr; r++) {
                const v128_t a = wasm_v128_load32_splat(A + (size_t)r * lda + k);
                for (int v = 0; v < GEMM_NV; v++) acc[r][v] = vf_fmadd(a, b[v], acc[r][v]);
            }
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < GEMM_NV; v++) wasm_v128_store(tile + r * PE_GEMM_NR + 4 * v, acc[r][v]);
}

static void gemm_tile_1(const float *A, size_t lda, const float *W, int K, float *t) {
    gemm_tile(A, lda, W, K, t, 1);
}
static void gemm_tile_2(const float *A, size_t lda, const float *W, int K, float *t) {
    gemm_tile(A, lda, W, K, t, 2);
}
typedef void (*gemm_tile_fn)(const float *A, size_t lda, const float *W, int K, float *tile);
static const gemm_tile_fn gemm_tiles[GEMM_MR] = {gemm_tile_1, gemm_tile_2};

/* The tile to a buffer, then through the epilogue (pe_tile_store). */
#define PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n)                                       \
    PANEL_TILE_BUFFERED(GEMM_MR, gemm_tiles[(mr) - 1](PE_ROW(x, m), PE_ROWS_LDA(x), w, PE_ROWS_K(x), tile_), \
                        NULL, mr, c, ldc, ncols, ep, m, n)
/* vf_gelu_fast's table (simd_wasm.h): for each pair of intervals (a, b),
 * each coefficient of PE_GELU_FAST_K (vecmath_coef.h) for a and for b as
 * doubles (floats widen exactly), k3 first, so that two lanes' coefficients
 * are 4 loads.  Built by the preprocessor from vecmath_coef.h's entries by
 * name (PE_GK<power>_<interval>: C cannot index a brace initializer);
 * test_kernels checks every entry against pe_gelu_fast_k. */
#define GK_PAIR(a, b) {{PE_GK3_##a, PE_GK3_##b}, {PE_GK2_##a, PE_GK2_##b}, {PE_GK1_##a, PE_GK1_##b}, {PE_GK0_##a, PE_GK0_##b}}
#define GK_PAIRS(a)                                                                                  \
    {GK_PAIR(a, 0), GK_PAIR(a, 1), GK_PAIR(a, 2),   GK_PAIR(a, 3),   GK_PAIR(a, 4),   GK_PAIR(a, 5),  \
     GK_PAIR(a, 6), GK_PAIR(a, 7), GK_PAIR(a, 8),   GK_PAIR(a, 9),   GK_PAIR(a, 10),  GK_PAIR(a, 11), \
     GK_PAIR(a, 12), GK_PAIR(a, 13), GK_PAIR(a, 14), GK_PAIR(a, 15)}
_Alignas(16) const double pe_wasm_gelu_k64[16][16][4][2] = {
    GK_PAIRS(0),  GK_PAIRS(1),  GK_PAIRS(2),  GK_PAIRS(3),  GK_PAIRS(4),  GK_PAIRS(5),  GK_PAIRS(6),  GK_PAIRS(7),
    GK_PAIRS(8),  GK_PAIRS(9),  GK_PAIRS(10), GK_PAIRS(11), GK_PAIRS(12), GK_PAIRS(13), GK_PAIRS(14), GK_PAIRS(15)};

#include "gemm_panels.h"

/* Panels of W kept in cache while every row pair of A passes over them. */
static void gemm(const float *A, int lda, const float *Wp, int N, int K, float *C, int ldc, int m0,
                 int m1, int n0, int n1, const pe_epilogue *ep) {
    (void)N;
    const pe_rows x = {A, (size_t)lda, K};
    gemm_panels(&x, 0, GEMM_MR, 256u * 1024u, (size_t)K * PE_GEMM_NR * sizeof(float), Wp, C, ldc, m0,
                m1, n0, n1, ep);
}

/* ----------------------------------------------------------- attention */

/* Blocks of 16 queries stream over tiles of up to ATT_KT keys, as the NEON
 * set does.  The block's queries, times the scale, are packed once as a
 * GEMM panel qt[d][16]; the scores of a key tile are then the GEMM tile
 * with keys as the rows of A (st[j][i]: query i, key j), at the rate of
 * the GEMM.  A query's keys are one lane of every row, so the online
 * softmax (max, exp, sum) is lane-wise with no horizontal step, and P V is
 * a tile of its own: 2 queries x 16 head dims, each key's weight a
 * broadcast, its value row the panel.  Both tiles keep 8 accumulators,
 * which V8 holds in its 16 xmm registers (the 12 of kernels_body.h's
 * score tile and P V, with their operands and the product that SIMD128's
 * missing FMA needs, did not fit). */
#define ATT_QB PE_GEMM_NR
#define ATT_NV (ATT_QB / 4)
#define ATT_KT 128 /* inside pe_attention_scratch_floats: 32 dh + 16 KT + 16 */

/* qt[d][i] = scale q[i][d]; lanes past nq are 0 (they score 0, unread). */
static void att_pack_q(const float *q, size_t ldq, int nq, int dh, float scale, float *qt) {
    for (int d = 0; d < dh; d++)
        for (int i = 0; i < ATT_QB; i++)
            qt[(size_t)d * ATT_QB + i] = i < nq ? q[(size_t)i * ldq + d] * scale : 0.0f;
}

/* st[j][0..16) for the nk keys of the tile, two at a time. */
static void att_scores(const float *qt, const float *k, size_t ldk, int nk, int dh, float *st) {
    int j = 0;
    for (; j + GEMM_MR <= nk; j += GEMM_MR) gemm_tile_2(k + (size_t)j * ldk, ldk, qt, dh, st + j * ATT_QB);
    if (j < nk) gemm_tile_1(k + (size_t)j * ldk, ldk, qt, dh, st + j * ATT_QB);
}

/* exp(x) for x <= 0 (a score minus its running max): vf_exp without its
 * upper clamp and underflow mask; x is clamped at -87 so that 2^n added to
 * the exponent field stays normal (a weight under e^-87 of the largest is
 * nothing a sum can see; masked keys are zeroed by the caller). */
INLINE vf32 att_exp(vf32 x) {
    x = vf_max(x, vf_set1(-87.0f));
    const vf32 n = wasm_f32x4_nearest(vf_mul(x, vf_set1(PE_LOG2E)));
    const v128_t sc = wasm_i32x4_shl(wasm_i32x4_trunc_sat_f32x4(n), 23);
    return wasm_i32x4_add(vf_exp_core(x, n), sc);
}

/* Lane-wise online softmax over the nk rows of st, 4 queries (column c) at
 * a time: advances the running max m[c] and sum l[c], turns the scores
 * into weights in place and sets alpha (the factor for the old
 * accumulators).  CAUSAL: lane i of column c sees row j iff j < vis[c][i]. */
INLINE void att_softmax(float *st, int nk, vf32 *m, vf32 *l, float *alpha, const v128_t *vis,
                        const int CAUSAL) {
    const vf32 ninf = vf_set1(-INFINITY), zero = vf_zero();
    for (int c = 0; c < ATT_NV; c++) {
        float *s = st + 4 * c;
        vf32 mx0 = ninf, mx1 = ninf;
        int j = 0;
        if (!CAUSAL)
            for (; j + 2 <= nk; j += 2) {
                mx0 = vf_max(mx0, vf_load(s + j * ATT_QB));
                mx1 = vf_max(mx1, vf_load(s + (j + 1) * ATT_QB));
            }
        for (; j < nk; j++) {
            vf32 x = vf_load(s + j * ATT_QB);
            if (CAUSAL) x = vf_select(wasm_i32x4_lt(wasm_i32x4_splat(j), vis[c]), x, ninf);
            mx0 = vf_max(mx0, x);
        }
        const vf32 mnew = vf_max(m[c], vf_max(mx0, mx1));
        /* a lane that has seen only masked keys keeps max -inf: shift by 0
         * so that its weights are exp(-inf) (zeroed), not NaN */
        const vf32 msafe = vf_select(vm_eq(mnew, ninf), zero, mnew);
        const vf32 a = vf_select(vm_eq(m[c], ninf), zero, att_exp(vf_sub(m[c], msafe)));
        vf32 sum0 = zero, sum1 = zero;
        j = 0;
        if (!CAUSAL)
            for (; j + 2 <= nk; j += 2) { /* two exp chains */
                const vf32 p0 = att_exp(vf_sub(vf_load(s + j * ATT_QB), msafe));
                const vf32 p1 = att_exp(vf_sub(vf_load(s + (j + 1) * ATT_QB), msafe));
                vf_store(s + j * ATT_QB, p0);
                vf_store(s + (j + 1) * ATT_QB, p1);
                sum0 = vf_add(sum0, p0);
                sum1 = vf_add(sum1, p1);
            }
        for (; j < nk; j++) {
            vf32 p = att_exp(vf_sub(vf_load(s + j * ATT_QB), msafe));
            if (CAUSAL) p = vf_select(wasm_i32x4_lt(wasm_i32x4_splat(j), vis[c]), p, zero);
            vf_store(s + j * ATT_QB, p);
            sum0 = vf_add(sum0, p);
        }
        l[c] = vf_fmadd(l[c], a, vf_add(sum0, sum1));
        m[c] = mnew;
        vf_store(alpha + 4 * c, a);
    }
}

/* Out of line: inlined into the attention, the exp constants would lose
 * their registers to its state. */
__attribute__((noinline)) static void att_softmax_all(float *st, int nk, vf32 *m, vf32 *l, float *alpha) {
    att_softmax(st, nk, m, l, alpha, NULL, 0);
}
__attribute__((noinline)) static void att_softmax_causal(float *st, int nk, vf32 *m, vf32 *l, float *alpha,
                                                         const v128_t *vis) {
    att_softmax(st, nk, m, l, alpha, vis, 1);
}

/* o[r][0 .. 4 NV) = al[r] o[r] + sum_j p[j][r] v_j for MR queries (o: their
 * accumulator rows, dh apart; p: st + the first query; v: the value rows
 * from the first column): per key NV loads of values, MR broadcasts of
 * weights, MR NV multiply-adds. */
INLINE void att_pv_tile(const float *p, const float *v, size_t ldv, int nk, float *o, int dh,
                        const float *al, const int MR, const int NV) {
    v128_t acc[2][ATT_NV];
    for (int r = 0; r < MR; r++) {
        const vf32 a = vf_set1(al[r]);
        for (int c = 0; c < NV; c++) acc[r][c] = vf_mul(vf_load(o + (size_t)r * dh + 4 * c), a);
    }
    for (int j = 0; j < nk; j++) {
        const float *vj = v + (size_t)j * ldv;
        v128_t b[ATT_NV];
        for (int c = 0; c < NV; c++) b[c] = wasm_v128_load(vj + 4 * c);
        for (int r = 0; r < MR; r++) {
            const v128_t pr = wasm_v128_load32_splat(p + j * ATT_QB + r);
            for (int c = 0; c < NV; c++) acc[r][c] = vf_fmadd(pr, b[c], acc[r][c]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int c = 0; c < NV; c++) vf_store(o + (size_t)r * dh + 4 * c, acc[r][c]);
}

/* One instantiation per (queries, column vectors): the tile's shape is a
 * constant, so its accumulators stay in registers. */
typedef void (*att_pv_fn)(const float *p, const float *v, size_t ldv, int nk, float *o, int dh,
                          const float *al);
#define ATT_PV_FN(MR, NV)                                                                        \
    static void att_pv_##MR##x##NV(const float *p, const float *v, size_t ldv, int nk, float *o, \
                                   int dh, const float *al) {                                    \
        att_pv_tile(p, v, ldv, nk, o, dh, al, MR, NV);                                           \
    }
ATT_PV_FN(1, 1) ATT_PV_FN(1, 2) ATT_PV_FN(1, 3) ATT_PV_FN(1, 4)
ATT_PV_FN(2, 1) ATT_PV_FN(2, 2) ATT_PV_FN(2, 3) ATT_PV_FN(2, 4)
static const att_pv_fn att_pv_fns[2][ATT_NV] = {
    {att_pv_1x1, att_pv_1x2, att_pv_1x3, att_pv_1x4},
    {att_pv_2x1, att_pv_2x2, att_pv_2x3, att_pv_2x4},
};

/* One key tile through P V for the block's nq queries: pairs of queries,
 * head dims 16 at a time, then the 4, 8 or 12 left (dh % 4 == 0). */
static void att_pv(const float *st, const float *v, size_t ldv, int nk, float *oacc, int dh,
                   int nq, const float *alpha) {
    for (int r0 = 0; r0 < nq; r0 += 2) {
        const int mr = nq - r0 < 2 ? 1 : 2;
        float *o = oacc + (size_t)r0 * dh;
        for (int d0 = 0; d0 < dh; d0 += 16) {
            const int nv = dh - d0 < 16 ? (dh - d0) / 4 : ATT_NV;
            att_pv_fns[mr - 1][nv - 1](st + r0, v + d0, ldv, nk, o + d0, dh, alpha + r0);
        }
    }
}

/* Head sizes that are not a multiple of 4 go to the reference. */
static void attention(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                      float *o, int ldo, int Tq, int Tk, int dh, float scale, int causal,
                      int causal_offset, float *scratch) {
    if (dh % 4 != 0) {
        pe_kernels_scalar.attention(q, ldq, k, ldk, v, ldv, o, ldo, Tq, Tk, dh, scale, causal,
                                    causal_offset, scratch);
        return;
    }
    float *qt = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [dh][16] */
    float *st = qt + (size_t)dh * ATT_QB;                              /* [KT][16] */
    float *oacc = st + ATT_KT * ATT_QB;                                /* [16][dh] */
    float alpha[ATT_QB];

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
        vf32 m[ATT_NV], l[ATT_NV];
        for (int c = 0; c < ATT_NV; c++) m[c] = vf_set1(-INFINITY), l[c] = vf_zero();

        for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
            const int nk = kend - j0 < ATT_KT ? (int)(kend - j0) : ATT_KT;
            att_scores(qt, k + (size_t)j0 * ldk, (size_t)ldk, nk, dh, st);
            /* query qb+i sees key j0+j iff j0 + j <= qb + i + offset, so
             * row j is visible to lane i iff j < qb + i + offset - j0 + 1 */
            const long first = (long)qb + causal_offset - j0 + 1;
            if (causal && first < nk) {
                v128_t vis[ATT_NV];
                for (int c = 0; c < ATT_NV; c++) {
                    const long b = first + 4 * c;
                    const int32_t bc = b < -ATT_QB ? -ATT_QB : b > ATT_KT ? ATT_KT : (int32_t)b;
                    vis[c] = wasm_i32x4_add(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat(bc));
                }
                att_softmax_causal(st, nk, m, l, alpha, vis);
            } else {
                att_softmax_all(st, nk, m, l, alpha);
            }
            att_pv(st, v + (size_t)j0 * ldv, (size_t)ldv, nk, oacc, dh, nq, alpha);
        }

        float lsum[ATT_QB];
        for (int c = 0; c < ATT_NV; c++) vf_store(lsum + 4 * c, l[c]);
        for (int i = 0; i < nq; i++) {
            const vf32 inv = vf_set1(lsum[i] > 0.0f ? 1.0f / lsum[i] : 0.0f);
            const float *src = oacc + (size_t)i * dh;
            float *dst = o + (size_t)(qb + i) * ldo;
            for (int d = 0; d < dh; d += 4) vf_store(dst + d, vf_mul(vf_load(src + d), inv));
        }
    }
}

/* ---------------------------------------------------------------- rope */

/* Two pairs a vector: (x0 c - x1 s, x1 c + x0 s) as x * (c, c) + (x1, x0) *
 * (-s, s), the same products and sums as the reference, so bit for bit. */
static void rope(float *x, int ldx, int T, int n, const float *cs) {
    const int h = n / 2;
    const v128_t sign = wasm_f32x4_make(-0.0f, 0.0f, -0.0f, 0.0f);
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * ldx;
        const float *c = cs + (size_t)t * n, *s = c + h;
        int i = 0;
        for (; i + 2 <= h; i += 2) {
            const v128_t cv = wasm_v128_load64_splat(c + i), sv = wasm_v128_load64_splat(s + i);
            const v128_t c2 = wasm_i32x4_shuffle(cv, cv, 0, 0, 1, 1);
            const v128_t s2 = wasm_v128_xor(wasm_i32x4_shuffle(sv, sv, 0, 0, 1, 1), sign);
            const v128_t xv = wasm_v128_load(xt + 2 * i);
            const v128_t xs = wasm_i32x4_shuffle(xv, xv, 1, 0, 3, 2);
            wasm_v128_store(xt + 2 * i, vf_add(vf_mul(xv, c2), vf_mul(xs, s2)));
        }
        pe_rope_pairs_ref(xt, c, s, i, h);
    }
}

/* --------------------------------------------------------- conversions */

static void f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(src + i);
        wasm_v128_store(dst + i, half4_to_f32(wasm_u32x4_extend_low_u16x8(h)));
        wasm_v128_store(dst + i + 4, half4_to_f32(wasm_u32x4_extend_high_u16x8(h)));
    }
    for (; i < n; i++) dst[i] = pe_f16_to_f32(src[i]);
}

static void bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(src + i);
        wasm_v128_store(dst + i, wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16));
        wasm_v128_store(dst + i + 4, wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16));
    }
    for (; i < n; i++) dst[i] = pe_bf16_to_f32(src[i]);
}

/* softmax's row sum: (l0 + l2) + (l1 + l3) */
#define PE_KERNELS_OWN_ATTENTION
#define VF_SOFTMAX_SUM vf_reduce_add
#define PE_KERNELS_SET pe_kernels_wasm
#define PE_KERNELS_NAME "wasm-simd128"
#include "kernels_body.h"
