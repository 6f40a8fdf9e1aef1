/* The float32 kernels that AVX2 and AVX-512 share but for the vector
 * width, written once in the SIMD vocabulary (simd_avx2.h) and compiled in
 * each ISA file, which includes this last, after its vocabulary and:
 *   PE_KERNELS_SET, PE_KERNELS_NAME  its table and level name
 *   ATT_QB, ATT_KT      queries per block (2 VF_LANES), keys per tile
 *   ATT_DH_OK(dh)       the head sizes its attention tiles take
 *   att_scores()        a key tile's scores, st[j][lane] (qt transposed)
 *   att_pv_tile()       a key tile's weights times values into oacc
 *   gemm, rope, f16_to_f32, bf16_to_f32   its own kernels
 *   VF_SOFTMAX_SUM      the lane order of softmax's row sum
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
