/* The float32 kernels that AVX2 and AVX-512 share but for the vector
 * width, written once in the SIMD vocabulary (simd_avx2.h) and compiled in
 * each ISA file, which includes this last, after its vocabulary and:
 *   PE_KERNELS_SET, PE_KERNELS_NAME  its table and level name
 *   ATT_QB, ATT_KT      queries per block (2 VF_LANES), keys per tile
 *   ATT_DH_OK(dh)       the head sizes its attention takes (others: the
 *                       reference); ATT_PV_MASKED when some are not a
 *                       multiple of VF_LANES
 *   ATT_G               keys per score tile
 *   ATT_PV_NC, ATT_PV_QG(nc), ATT_PV_QG_MAX   the P V tile: up to NC
 *                       column vectors for QG(nc) queries
 *   gemm, rope, f16_to_f32, bf16_to_f32   its own kernels
 *   VF_SOFTMAX_SUM      the lane order of softmax's row sum
 *   PE_KERNELS_OWN_ATTENTION  defined where the file has its own attention
 *                       (wasm: the GEMM tile's; the ATT_ macros unused)
 * Every function here does the operations the two files had in intrinsics,
 * in the same order, so results are unchanged bit for bit. */
#ifndef PE_KERNELS_BODY_H
#define PE_KERNELS_BODY_H

#include <math.h>
#include <string.h>

/* ----------------------------------------------------------- test hooks */

/* The vector erf and fast GELU over n floats (tests: the dense sweeps). */
static void erf_array(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += VF_LANES) {
        const vmask m = vm_lanes(n - i < VF_LANES ? (int)(n - i) : VF_LANES);
        vf_store_part(y + i, m, vf_erf(vf_load_part(x + i, m)));
    }
}

static void gelu_fast_array(const float *x, float *y, size_t n) {
    vf32 k[VF_GELU_FAST_K];
    vf_gelu_fast_k(k);
    for (size_t i = 0; i < n; i += VF_LANES) {
        const vmask m = vm_lanes(n - i < VF_LANES ? (int)(n - i) : VF_LANES);
        vf_store_part(y + i, m, vf_gelu_fast(vf_load_part(x + i, m), k));
    }
}

/* ----------------------------------------------------------- attention */

#ifndef PE_KERNELS_OWN_ATTENTION

/* Scores of up to ATT_G consecutive keys (ng of them) into st[g][lane], NV
 * query vectors each (ATT_G x NV accumulators, the query vectors and a
 * broadcast fill the registers).  Past ng the last key is scored again,
 * unstored, so a tail of keys keeps every accumulator chain (one key alone
 * would be a single chain: FMA latency, not throughput). */
INLINE void att_scores_g(const float *qt, const float *k, size_t ldk, int ng, int dh, float *st,
                         const int NV) {
    const float *kr[ATT_G];
#pragma GCC unroll 8
    for (int g = 0; g < ATT_G; g++) kr[g] = k + (size_t)(g < ng ? g : ng - 1) * ldk;
    vf32 acc[2][ATT_G];
#pragma GCC unroll 2
    for (int u = 0; u < NV; u++)
#pragma GCC unroll 8
        for (int g = 0; g < ATT_G; g++) acc[u][g] = vf_zero();
    for (int d = 0; d < dh; d++) {
        const vf32 q0 = vf_load(qt + (size_t)d * ATT_QB);
        const vf32 q1 = NV > 1 ? vf_load(qt + (size_t)d * ATT_QB + VF_LANES) : q0;
#pragma GCC unroll 8
        for (int g = 0; g < ATT_G; g++) {
            const vf32 kv = vf_set1(kr[g][d]);
            acc[0][g] = vf_fmadd(q0, kv, acc[0][g]);
            if (NV > 1) acc[1][g] = vf_fmadd(q1, kv, acc[1][g]);
        }
    }
#pragma GCC unroll 2
    for (int u = 0; u < NV; u++)
#pragma GCC unroll 8
        for (int g = 0; g < ATT_G; g++)
            if (g < ng) vf_store(st + g * ATT_QB + u * VF_LANES, acc[u][g]);
}

static void att_scores(const float *qt, const float *k, size_t ldk, int nk, int dh, float *st,
                       int nv) {
    for (int j = 0; j < nk; j += ATT_G) {
        const int ng = nk - j < ATT_G ? nk - j : ATT_G;
        if (nv > 1) att_scores_g(qt, k + (size_t)j * ldk, ldk, ng, dh, st + j * ATT_QB, 2);
        else att_scores_g(qt, k + (size_t)j * ldk, ldk, ng, dh, st + j * ATT_QB, 1);
    }
}

/* Column vector c of NC at p; the chunk's last is masked where head sizes
 * that are not a multiple of VF_LANES reach the tiles (ATT_PV_MASKED). */
#define ATT_LOAD(p, c, NC, last) \
    (ATT_PV_MASKED && (c) == (NC) - 1 ? vf_load_part(p, last) : vf_load(p))

/* oacc[q0 .. q0+QG)[d0 .. d0+VF_LANES NC) = alpha * oacc + sum_j p[j][q] v[j]. */
INLINE void att_pv(const float *p, const float *v, size_t ldv, int nk, float *oacc, int dh,
                   const float *alpha, int q0, int d0, vmask last, const int QG, const int NC) {
    vf32 acc[ATT_PV_QG_MAX][ATT_PV_NC];
#pragma GCC unroll 16
    for (int r = 0; r < QG; r++) {
        const vf32 a = vf_set1(alpha[q0 + r]);
        const float *o = oacc + (size_t)(q0 + r) * dh + d0;
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) acc[r][c] = vf_mul(a, ATT_LOAD(o + c * VF_LANES, c, NC, last));
    }
    for (int j = 0; j < nk; j++) {
        const float *vj = v + (size_t)j * ldv + d0;
        vf32 vv[ATT_PV_NC];
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) vv[c] = ATT_LOAD(vj + c * VF_LANES, c, NC, last);
#pragma GCC unroll 16
        for (int r = 0; r < QG; r++) {
            const vf32 pr = vf_set1(p[j * ATT_QB + q0 + r]);
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++) acc[r][c] = vf_fmadd(pr, vv[c], acc[r][c]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < QG; r++) {
        float *o = oacc + (size_t)(q0 + r) * dh + d0;
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) {
            if (ATT_PV_MASKED && c == NC - 1) vf_store_part(o + c * VF_LANES, last, acc[r][c]);
            else vf_store(o + c * VF_LANES, acc[r][c]);
        }
    }
}

/* One tile of keys through PV for queries [0, nq), in head-dim chunks of
 * ATT_PV_NC vectors, the query group sized (ATT_PV_QG) so that the
 * accumulators stay in registers. */
static void att_pv_tile(const float *p, const float *v, size_t ldv, int nk, float *oacc, int dh,
                        const float *alpha, int nq) {
    const int chunk = ATT_PV_NC * VF_LANES;
    for (int d0 = 0; d0 < dh; d0 += chunk) {
        const int rem = dh - d0;
        const vmask last = vm_lanes(rem >= chunk || rem % VF_LANES == 0 ? VF_LANES : rem % VF_LANES);
        const int nc = rem >= chunk ? ATT_PV_NC : (rem + VF_LANES - 1) / VF_LANES;
#define PV_CASE(NC)                                                                             \
    case NC:                                                                                    \
        for (int q0 = 0; q0 < nq; q0 += ATT_PV_QG(NC))                                          \
            att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, last, ATT_PV_QG(NC), NC);           \
        break
        switch (nc) {
#if ATT_PV_NC >= 4
            PV_CASE(4);
#endif
            PV_CASE(3);
            PV_CASE(2);
            PV_CASE(1);
        default: break;
        }
#undef PV_CASE
    }
}

/* Turns a tile of raw scores into weights (in place) and advances the
 * running max m and sum l of each of the nv lane vectors; alpha gets the
 * factor for the old accumulators.  Lane i sees key j of the tile iff
 * i >= j - mask_from.  Not inlined: its exp constants would take the
 * registers the score tile needs (a spill in its inner loop). */
__attribute__((noinline)) static void att_softmax(float *st, int nk, float scale, int mask_from, int nv, vf32 *m, vf32 *l,
                        float *alpha) {
    const vf32 vscale = vf_set1(scale), ninf = vf_set1(-INFINITY);
    for (int u = 0; u < nv; u++) {
        float *su = st + u * VF_LANES;
        vf32 mt = ninf;
        for (int j = 0; j < nk; j++) {
            vf32 s = vf_mul(vf_load(su + j * ATT_QB), vscale);
            const int thr = j - mask_from - u * VF_LANES;
            if (thr > 0) s = vf_select(vm_lanes(thr), ninf, s);
            vf_store(su + j * ATT_QB, s);
            mt = vf_max(mt, s);
        }
        const vf32 mnew = vf_max(m[u], mt);
        /* A lane that has seen only masked keys keeps max -inf; shift by 0
         * instead so that exp gives 0 rather than NaN. */
        const vf32 msafe = vf_select(vm_eq(mnew, ninf), vf_zero(), mnew);
        const vf32 a = vf_exp(vf_sub(m[u], msafe));
        vf32 sum = vf_zero();
        for (int j = 0; j < nk; j++) {
            const vf32 pj = vf_exp(vf_sub(vf_load(su + j * ATT_QB), msafe));
            vf_store(su + j * ATT_QB, pj);
            sum = vf_add(sum, pj);
        }
        l[u] = vf_fmadd(l[u], a, sum);
        m[u] = mnew;
        vf_store(alpha + u * VF_LANES, a);
    }
}

/* Up to ATT_QB queries at a time, one per lane of NV = 1 or 2 vectors: the
 * query block is transposed once (qt[d][lane]) so that the scores of a key
 * come out as vectors, q . k_j = sum_d qt[d] * k_j[d], each broadcast
 * k_j[d] feeding NV FMAs, and the online softmax (running max, sum,
 * rescale) is plain lane-wise arithmetic.  Keys stream in tiles of ATT_KT;
 * a tile of K and V is reused by all queries of the block while it is in
 * L1.  Head sizes the tiles do not take go to the reference. */
static void attention(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                      float *o, int ldo, int Tq, int Tk, int dh, float scale, int causal,
                      int causal_offset, float *scratch) {
    if (!ATT_DH_OK(dh)) {
        pe_kernels_scalar.attention(q, ldq, k, ldk, v, ldv, o, ldo, Tq, Tk, dh, scale, causal,
                                    causal_offset, scratch);
        return;
    }
    float *qt = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [dh][QB] */
    float *st = qt + (size_t)dh * ATT_QB;                              /* [KT][QB] */
    float *oacc = st + ATT_KT * ATT_QB;                                /* [QB][dh] */
    float *alpha = oacc + (size_t)ATT_QB * dh;                         /* [QB] */

    for (int qb = 0; qb < Tq; qb += ATT_QB) {
        const int nq = Tq - qb < ATT_QB ? Tq - qb : ATT_QB;
        const int nv = nq > VF_LANES ? 2 : 1;
        long kend = Tk;
        if (causal && (long)qb + nq + causal_offset < kend) kend = (long)qb + nq + causal_offset;
        if (kend <= 0) {
            for (int i = 0; i < nq; i++) memset(o + (size_t)(qb + i) * ldo, 0, (size_t)dh * 4);
            continue;
        }
        for (int d = 0; d < dh; d++)
            for (int i = 0; i < ATT_QB; i++)
                qt[(size_t)d * ATT_QB + i] = i < nq ? q[(size_t)(qb + i) * ldq + d] : 0.0f;
        memset(oacc, 0, (size_t)ATT_QB * dh * sizeof(float));
        vf32 m[2], l[2];
        m[0] = m[1] = vf_set1(-INFINITY);
        l[0] = l[1] = vf_zero();

        for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
            const int nk = kend - j0 < ATT_KT ? (int)(kend - j0) : ATT_KT;
            att_scores(qt, k + (size_t)j0 * ldk, (size_t)ldk, nk, dh, st, nv);
            /* Query qb+i sees key j0+j iff j0 + j <= qb + i + offset, i.e.
             * i >= j - (qb + offset - j0). */
            long from = causal ? (long)qb + causal_offset - j0 : (long)(1 << 30);
            if (from > (1 << 30)) from = 1 << 30; /* no overflow in j - from */
            att_softmax(st, nk, scale, (int)from, nv, m, l, alpha);
            att_pv_tile(st, v + (size_t)j0 * ldv, (size_t)ldv, nk, oacc, dh, alpha, nq);
        }

        for (int u = 0; u < nv; u++)
            vf_store(alpha + u * VF_LANES,
                     vf_select(vm_gt(l[u], vf_zero()), vf_div(vf_set1(1.0f), l[u]), vf_zero()));
        for (int i = 0; i < nq; i++) {
            const vf32 s = vf_set1(alpha[i]);
            const float *src = oacc + (size_t)i * dh;
            float *dst = o + (size_t)(qb + i) * ldo;
            int d = 0;
            for (; d + VF_LANES <= dh; d += VF_LANES) vf_store(dst + d, vf_mul(vf_load(src + d), s));
            if (d < dh) {
                const vmask mk = vm_lanes(dh - d);
                vf_store_part(dst + d, mk, vf_mul(vf_load_part(src + d, mk), s));
            }
        }
    }
}

#endif /* PE_KERNELS_OWN_ATTENTION */

/* ------------------------------------------------------------- softmax */

static float softmax(float *x, int n, float scale) {
    vf32 mv = vf_set1(-INFINITY);
    int i = 0;
    for (; i + VF_LANES <= n; i += VF_LANES) mv = vf_max(mv, vf_load(x + i));
    float mx = vf_reduce_max(mv);
    for (; i < n; i++) mx = fmaxf(mx, x[i]);
    const vf32 vm = vf_set1(mx), vs = vf_set1(scale);
    vf32 sum = vf_zero();
    for (i = 0; i < n; i += VF_LANES) {
        const vmask mk = vm_lanes(n - i);
        const vf32 p = vf_exp(vf_mul(vf_sub(vf_load_part(x + i, mk), vm), vs));
        vf_store_part(x + i, mk, p);
        sum = vf_add(sum, vf_select(mk, p, vf_zero()));
    }
    return VF_SOFTMAX_SUM(sum);
}

/* ----------------------------------------------------------- layernorm */

/* Two passes over the row: a large mean must not cancel the variance. */
static void layernorm(const float *x, int ldx, float *y, int ldy, int rows, int n, const float *w,
                      const float *b, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *yr = y + (size_t)r * ldy;
        vf32 s0 = vf_zero(), s1 = vf_zero();
        int i = 0;
        for (; i + 2 * VF_LANES <= n; i += 2 * VF_LANES) {
            s0 = vf_add(s0, vf_load(xr + i));
            s1 = vf_add(s1, vf_load(xr + i + VF_LANES));
        }
        for (; i < n; i += VF_LANES) s0 = vf_add(s0, vf_load_part(xr + i, vm_lanes(n - i)));
        const float mean = vf_reduce_add(vf_add(s0, s1)) / (float)n;

        const vf32 vm = vf_set1(mean);
        s0 = s1 = vf_zero();
        for (i = 0; i + 2 * VF_LANES <= n; i += 2 * VF_LANES) {
            const vf32 d0 = vf_sub(vf_load(xr + i), vm), d1 = vf_sub(vf_load(xr + i + VF_LANES), vm);
            s0 = vf_fmadd(d0, d0, s0);
            s1 = vf_fmadd(d1, d1, s1);
        }
        for (; i < n; i += VF_LANES) {
            const vmask mk = vm_lanes(n - i);
            const vf32 d0 = vf_select(mk, vf_sub(vf_load_part(xr + i, mk), vm), vf_zero());
            s0 = vf_fmadd(d0, d0, s0);
        }
        const float var = vf_reduce_add(vf_add(s0, s1)) / (float)n;
        const vf32 rstd = vf_set1(1.0f / sqrtf(var + eps));

        for (i = 0; i < n; i += VF_LANES) {
            const vmask mk = vm_lanes(n - i);
            vf32 t = vf_mul(vf_sub(vf_load_part(xr + i, mk), vm), rstd);
            t = vf_fmadd(t, vf_load_part(w + i, mk), vf_load_part(b + i, mk));
            vf_store_part(yr + i, mk, t);
        }
    }
}

const pe_kernels PE_KERNELS_SET = {
    .name = PE_KERNELS_NAME,
    .gemm = gemm,
    .attention = attention,
    .softmax = softmax,
    .layernorm = layernorm,
    .rope = rope,
    .f16_to_f32 = f16_to_f32,
    .bf16_to_f32 = bf16_to_f32,
    .erf = erf_array,
    .gelu_fast = gelu_fast_array,
};

#endif
