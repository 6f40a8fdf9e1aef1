/* AVX2 + FMA + F16C kernels, compiled with those flags and reached only
 * through pe_kernels_avx2 after isa.c checked the CPU.  Same structure
 * as kernels_avx512.c at 8 lanes; kernels_ref.c is the specification. */
#include "kernels.h"
#include "simd_avx2.h"
#include "../common.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Test hook: the vector erf on n floats, for the dense sweep. */
void pe_avx2_erf(const float *x, float *y, size_t n);
void pe_avx2_erf(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = lanes8(n - i < 8 ? (int)(n - i) : 8);
        _mm256_maskstore_ps(y + i, m, erf256(_mm256_maskload_ps(x + i, m)));
    }
}

/* The fast GELU over an array (tests: against pe_gelu_fast_ref). */
void pe_avx2_gelu_fast(const float *x, float *y, size_t n);
void pe_avx2_gelu_fast(const float *x, float *y, size_t n) {
    __m256 k[8];
    gelu_fast_k256(k);
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = lanes8(n - i < 8 ? (int)(n - i) : 8);
        _mm256_maskstore_ps(y + i, m, gelu_fast256(_mm256_maskload_ps(x + i, m), k));
    }
}

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
    pe_tile_store256(tile, mr, ncols, NULL, C, ldc, ep, m, n);
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

#define GEMM_W_BLOCK_BYTES (384u * 1024u)

static void gemm_avx2(const float *A, int lda, const float *Wp, int N, int K,
                      float *C, int ldc, int m0, int m1, int n0, int n1,
                      const pe_epilogue *ep) {
    (void)N;
    if (m1 <= m0 || n1 <= n0) return;
    size_t pstride = (size_t)K * PE_GEMM_NR;
    int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    size_t fit = GEMM_W_BLOCK_BYTES / (pstride * sizeof(float) + 1);
    int pblock = fit < 1 ? 1 : (int)(fit < 1024 ? fit : 1024);
    for (int pb = p0; pb < p1; pb += pblock) {
        int pe = pb + pblock < p1 ? pb + pblock : p1;
        for (int m = m0; m < m1; m += GEMM_MR) {
            int mr = m1 - m < GEMM_MR ? m1 - m : GEMM_MR;
            const float *a = A + (size_t)m * lda;
            for (int p = pb; p < pe; p++) {
                int n = p * PE_GEMM_NR;
                int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
                gemm_tiles[mr - 1](a, (size_t)lda, Wp + (size_t)p * pstride, K,
                                   C + (size_t)m * ldc + n, ldc, ncols, ep, m, n);
            }
        }
    }
}

/* ----------------------------------------------------------- attention */

/* Up to 16 queries at a time, one per lane of NV = 1 or 2 vectors (see
 * attention_avx512 for the scheme).  Needs dh a multiple of 8; other head
 * sizes go to the reference. */
#define ATT_QB 16
#define ATT_KT 64

/* Scores of 6 consecutive keys: 12 accumulators, 2 query vectors and a
 * broadcast fit the 16 ymm registers. */
INLINE void att_scores6(const float *qt, const float *k, size_t ldk, int dh, float *st,
                        const int NV) {
    __m256 acc[2][6];
#pragma GCC unroll 2
    for (int u = 0; u < NV; u++)
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) acc[u][g] = _mm256_setzero_ps();
    for (int d = 0; d < dh; d++) {
        __m256 q0 = _mm256_load_ps(qt + (size_t)d * ATT_QB);
        __m256 q1 = NV > 1 ? _mm256_load_ps(qt + (size_t)d * ATT_QB + 8) : q0;
        const float *kd = k + d;
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) {
            __m256 kv = _mm256_broadcast_ss(kd + g * ldk);
            acc[0][g] = _mm256_fmadd_ps(q0, kv, acc[0][g]);
            if (NV > 1) acc[1][g] = _mm256_fmadd_ps(q1, kv, acc[1][g]);
        }
    }
#pragma GCC unroll 2
    for (int u = 0; u < NV; u++)
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) _mm256_store_ps(st + g * ATT_QB + u * 8, acc[u][g]);
}

static void att_scores1(const float *qt, const float *k, int dh, float *st, int nv) {
    for (int u = 0; u < nv; u++) {
        __m256 acc = _mm256_setzero_ps();
        for (int d = 0; d < dh; d++)
            acc = _mm256_fmadd_ps(_mm256_load_ps(qt + (size_t)d * ATT_QB + u * 8),
                                  _mm256_broadcast_ss(k + d), acc);
        _mm256_store_ps(st + u * 8, acc);
    }
}

static void att_scores(const float *qt, const float *k, size_t ldk, int nk, int dh, float *st,
                       int nv) {
    int j = 0;
    for (; j + 6 <= nk; j += 6) {
        if (nv > 1) att_scores6(qt, k + (size_t)j * ldk, ldk, dh, st + j * ATT_QB, 2);
        else att_scores6(qt, k + (size_t)j * ldk, ldk, dh, st + j * ATT_QB, 1);
    }
    for (; j < nk; j++) att_scores1(qt, k + (size_t)j * ldk, dh, st + j * ATT_QB, nv);
}

INLINE void att_pv(const float *p, const float *v, size_t ldv, int nk, float *oacc, int dh,
                   const float *alpha, int q0, int d0, const int QG, const int NC) {
    __m256 acc[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < QG; r++) {
        __m256 a = _mm256_broadcast_ss(alpha + q0 + r);
        const float *o = oacc + (size_t)(q0 + r) * dh + d0;
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_mul_ps(a, _mm256_load_ps(o + c * 8));
    }
    for (int j = 0; j < nk; j++) {
        const float *vj = v + (size_t)j * ldv + d0;
        __m256 vv[3];
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) vv[c] = _mm256_loadu_ps(vj + c * 8);
#pragma GCC unroll 8
        for (int r = 0; r < QG; r++) {
            __m256 pr = _mm256_broadcast_ss(p + j * ATT_QB + q0 + r);
#pragma GCC unroll 3
            for (int c = 0; c < NC; c++) acc[r][c] = _mm256_fmadd_ps(pr, vv[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < QG; r++) {
        float *o = oacc + (size_t)(q0 + r) * dh + d0;
#pragma GCC unroll 3
        for (int c = 0; c < NC; c++) _mm256_store_ps(o + c * 8, acc[r][c]);
    }
}

/* One tile of keys through PV for queries [0, nq): head-dim chunks of 24,
 * then 16 or 8, with 12 or 8 accumulators. */
static void att_pv_tile(const float *p, const float *v, size_t ldv, int nk, float *oacc,
                        int dh, const float *alpha, int nq) {
    int d0 = 0;
    for (; d0 + 24 <= dh; d0 += 24)
        for (int q0 = 0; q0 < nq; q0 += 4) att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, 4, 3);
    if (dh - d0 == 16)
        for (int q0 = 0; q0 < nq; q0 += 4) att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, 4, 2);
    else if (dh - d0 == 8)
        for (int q0 = 0; q0 < nq; q0 += 8) att_pv(p, v, ldv, nk, oacc, dh, alpha, q0, d0, 8, 1);
}

static void att_softmax(float *st, int nk, float scale, int mask_from, int nv, __m256 *m,
                        __m256 *l, float *alpha) {
    const __m256 vscale = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int u = 0; u < nv; u++) {
        float *su = st + u * 8;
        __m256 mt = ninf;
        for (int j = 0; j < nk; j++) {
            __m256 s = _mm256_mul_ps(_mm256_load_ps(su + j * ATT_QB), vscale);
            int thr = j - mask_from - u * 8;
            if (thr > 0) {
                __m256i hide = _mm256_cmpgt_epi32(_mm256_set1_epi32(thr), iota);
                s = _mm256_blendv_ps(s, ninf, _mm256_castsi256_ps(hide));
            }
            _mm256_store_ps(su + j * ATT_QB, s);
            mt = _mm256_max_ps(mt, s);
        }
        __m256 mnew = _mm256_max_ps(m[u], mt);
        __m256 msafe = _mm256_blendv_ps(mnew, _mm256_setzero_ps(),
                                        _mm256_cmp_ps(mnew, ninf, _CMP_EQ_OQ));
        __m256 a = exp256(_mm256_sub_ps(m[u], msafe));
        __m256 sum = _mm256_setzero_ps();
        for (int j = 0; j < nk; j++) {
            __m256 pj = exp256(_mm256_sub_ps(_mm256_load_ps(su + j * ATT_QB), msafe));
            _mm256_store_ps(su + j * ATT_QB, pj);
            sum = _mm256_add_ps(sum, pj);
        }
        l[u] = _mm256_fmadd_ps(l[u], a, sum);
        m[u] = mnew;
        _mm256_store_ps(alpha + u * 8, a);
    }
}

static void attention_avx2(const float *q, int ldq, const float *k, int ldk,
                           const float *v, int ldv, float *o, int ldo, int Tq, int Tk,
                           int dh, float scale, int causal, int causal_offset,
                           float *scratch) {
    if (dh % 8 != 0) {
        pe_kernels_scalar.attention(q, ldq, k, ldk, v, ldv, o, ldo, Tq, Tk, dh, scale, causal,
                                    causal_offset, scratch);
        return;
    }
    float *qt = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [dh][16] */
    float *st = qt + (size_t)dh * ATT_QB;                              /* [64][16] */
    float *oacc = st + ATT_KT * ATT_QB;                                /* [16][dh] */
    float *alpha = oacc + (size_t)ATT_QB * dh;                         /* [16] */

    for (int qb = 0; qb < Tq; qb += ATT_QB) {
        int nq = Tq - qb < ATT_QB ? Tq - qb : ATT_QB;
        int nv = nq > 8 ? 2 : 1;
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
        __m256 m[2], l[2];
        m[0] = m[1] = _mm256_set1_ps(-INFINITY);
        l[0] = l[1] = _mm256_setzero_ps();

        for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
            int nk = kend - j0 < ATT_KT ? (int)(kend - j0) : ATT_KT;
            att_scores(qt, k + (size_t)j0 * ldk, (size_t)ldk, nk, dh, st, nv);
            long from = causal ? (long)qb + causal_offset - j0 : (long)(1 << 30);
            if (from > (1 << 30)) from = 1 << 30; /* no overflow in j - from */
            att_softmax(st, nk, scale, (int)from, nv, m, l, alpha);
            att_pv_tile(st, v + (size_t)j0 * ldv, (size_t)ldv, nk, oacc, dh, alpha, nq);
        }

        for (int u = 0; u < nv; u++) {
            __m256 inv = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), l[u]),
                                       _mm256_cmp_ps(l[u], _mm256_setzero_ps(), _CMP_GT_OQ));
            _mm256_store_ps(alpha + u * 8, inv);
        }
        for (int i = 0; i < nq; i++) {
            __m256 s = _mm256_broadcast_ss(alpha + i);
            const float *src = oacc + (size_t)i * dh;
            float *dst = o + (size_t)(qb + i) * ldo;
            for (int d = 0; d < dh; d += 8)
                _mm256_storeu_ps(dst + d, _mm256_mul_ps(_mm256_load_ps(src + d), s));
        }
    }
}

/* ----------------------------------------------------------- layernorm */

INLINE float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void layernorm_avx2(const float *x, int ldx, float *y, int ldy, int rows, int n,
                           const float *w, const float *b, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *yr = y + (size_t)r * ldy;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(xr + i));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(xr + i + 8));
        }
        for (; i < n; i += 8) s0 = _mm256_add_ps(s0, _mm256_maskload_ps(xr + i, lanes8(n - i)));
        float mean = hsum256(_mm256_add_ps(s0, s1)) / (float)n;

        __m256 vm = _mm256_set1_ps(mean);
        s0 = s1 = _mm256_setzero_ps();
        for (i = 0; i + 16 <= n; i += 16) {
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xr + i), vm);
            __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(xr + i + 8), vm);
            s0 = _mm256_fmadd_ps(d0, d0, s0);
            s1 = _mm256_fmadd_ps(d1, d1, s1);
        }
        for (; i < n; i += 8) {
            __m256i mk = lanes8(n - i);
            __m256 d0 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, mk), vm),
                                      _mm256_castsi256_ps(mk));
            s0 = _mm256_fmadd_ps(d0, d0, s0);
        }
        float var = hsum256(_mm256_add_ps(s0, s1)) / (float)n;
        __m256 rstd = _mm256_set1_ps(1.0f / sqrtf(var + eps));

        for (i = 0; i < n; i += 8) {
            __m256i mk = lanes8(n - i);
            __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, mk), vm), rstd);
            t = _mm256_fmadd_ps(t, _mm256_maskload_ps(w + i, mk), _mm256_maskload_ps(b + i, mk));
            _mm256_maskstore_ps(yr + i, mk, t);
        }
    }
}

/* ---------------------------------------------------------------- rope */

static void rope_avx2(float *x, int ldx, int T, int n, const float *cs) {
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
        for (; i < h; i++) {
            float x0 = xt[2 * i], x1 = xt[2 * i + 1];
            xt[2 * i] = x0 * c[i] - x1 * s[i];
            xt[2 * i + 1] = x1 * c[i] + x0 * s[i];
        }
    }
}

/* --------------------------------------------------------- conversions */

static void f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = pe_f16_to_f32(src[i]);
}

static void bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) dst[i] = pe_bf16_to_f32(src[i]);
}

static float softmax_avx2(float *x, int n, float scale) {
    float mx = x[0];
    int i = 0;
    if (n >= 8) {
        __m256 m = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
        float t[8];
        _mm256_storeu_ps(t, m);
        for (int j = 0; j < 8; j++) mx = fmaxf(mx, t[j]);
    }
    for (; i < n; i++) mx = fmaxf(mx, x[i]);
    const __m256 vm = _mm256_set1_ps(mx), vs = _mm256_set1_ps(scale);
    __m256 sum = _mm256_setzero_ps();
    for (i = 0; i < n; i += 8) {
        __m256i mk = lanes8(n - i);
        __m256 p = exp256(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mk), vm), vs));
        p = _mm256_and_ps(p, _mm256_castsi256_ps(mk));
        _mm256_maskstore_ps(x + i, mk, p);
        sum = _mm256_add_ps(sum, p);
    }
    float t[8], total = 0.0f;
    _mm256_storeu_ps(t, sum);
    for (int j = 0; j < 8; j++) total += t[j];
    return total;
}

const pe_kernels pe_kernels_avx2 = {
    .name = "avx2",
    .gemm = gemm_avx2,
    .attention = attention_avx2,
    .softmax = softmax_avx2,
    .layernorm = layernorm_avx2,
    .rope = rope_avx2,
    .f16_to_f32 = f16_to_f32_avx2,
    .bf16_to_f32 = bf16_to_f32_avx2,
};
