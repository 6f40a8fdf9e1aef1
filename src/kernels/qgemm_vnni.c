/* AVX-512 + VNNI kernels for reduced-precision weights (compiled with
 * -mavx512vnni on top of the AVX-512 flags; reached only through
 * pe_qkernels_vnni after quant.c checked the CPU).  qgemm_ref.c is the
 * specification; layouts are in quant.h. */
#include "quant.h"
#include "simd_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

INLINE int imin(int a, int b) { return a < b ? a : b; }

#define MR_MAX 12
#define NP 2

/* ------------------------------------------------------------ f16 / bf16 */

INLINE __m512 load_half(const uint16_t *p, const int bf16) {
    __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
    if (bf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* The float32 microkernel with the panel loads widened in registers. */
INLINE void half_tile(const float *A, size_t lda, const uint16_t *W, size_t pstride, int K,
                      float *C, int ldc, int ncols, const pe_epilogue *ep, int m, int n,
                      const int mr, const int np, const int bf16) {
    __m512 acc[MR_MAX][NP];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < np; c++) acc[r][c] = _mm512_setzero_ps();
    const uint16_t *w0 = W, *w1 = W + pstride;
    for (int k = 0; k < K; k++) {
        __m512 b0 = load_half(w0 + (size_t)k * 16, bf16);
        __m512 b1 = np > 1 ? load_half(w1 + (size_t)k * 16, bf16) : b0;
        const float *a = A + k;
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            if (np > 1) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    float tile[MR_MAX * 32] __attribute__((aligned(64)));
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < np; c++) _mm512_store_ps(tile + r * 32 + c * 16, acc[r][c]);
    pe_tile_store(tile, mr, ncols, NULL, C, ldc, ep, m, n);
}

typedef void (*half_fn)(const float *A, size_t lda, const uint16_t *W, size_t pstride, int K,
                        float *C, int ldc, int ncols, const pe_epilogue *ep, int m, int n);

#define HALF_FN(MR, P, BF)                                                                    \
    static void half_##BF##_##MR##_##P(const float *A, size_t lda, const uint16_t *W,         \
                                       size_t pstride, int K, float *C, int ldc, int ncols,   \
                                       const pe_epilogue *ep, int m, int n) {                 \
        half_tile(A, lda, W, pstride, K, C, ldc, ncols, ep, m, n, MR, P, BF);                 \
    }
#define HALF_FNS(MR) HALF_FN(MR, 1, 0) HALF_FN(MR, 2, 0) HALF_FN(MR, 1, 1) HALF_FN(MR, 2, 1)
HALF_FNS(1) HALF_FNS(2) HALF_FNS(3) HALF_FNS(4) HALF_FNS(5) HALF_FNS(6)
HALF_FNS(7) HALF_FNS(8) HALF_FNS(9) HALF_FNS(10) HALF_FNS(11) HALF_FNS(12)

#define HALF_ROW(MR, BF) { half_##BF##_##MR##_1, half_##BF##_##MR##_2 }
static const half_fn half_tiles[2][MR_MAX][NP] = {
    {HALF_ROW(1, 0), HALF_ROW(2, 0), HALF_ROW(3, 0), HALF_ROW(4, 0), HALF_ROW(5, 0), HALF_ROW(6, 0),
     HALF_ROW(7, 0), HALF_ROW(8, 0), HALF_ROW(9, 0), HALF_ROW(10, 0), HALF_ROW(11, 0), HALF_ROW(12, 0)},
    {HALF_ROW(1, 1), HALF_ROW(2, 1), HALF_ROW(3, 1), HALF_ROW(4, 1), HALF_ROW(5, 1), HALF_ROW(6, 1),
     HALF_ROW(7, 1), HALF_ROW(8, 1), HALF_ROW(9, 1), HALF_ROW(10, 1), HALF_ROW(11, 1), HALF_ROW(12, 1)},
};

static void gemm_half(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0,
                      int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    const uint16_t *Wp = Wv;
    const int bf16 = t == PE_WT_BF16;
    if (m1 <= m0 || n1 <= n0) return;
    const size_t pstride = (size_t)K * PE_GEMM_NR;
    const int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    for (int m = m0; m < m1; m += MR_MAX) {
        int mr = imin(m1 - m, MR_MAX);
        for (int p = p0; p < p1; p += NP) {
            int np = p1 - p < NP ? p1 - p : NP, n = p * PE_GEMM_NR;
            int ncols = n1 - n < np * PE_GEMM_NR ? n1 - n : np * PE_GEMM_NR;
            half_tiles[bf16][mr - 1][np - 1](A + (size_t)m * lda, (size_t)lda, Wp + (size_t)p * pstride,
                                             pstride, K, C + (size_t)m * ldc + n, ldc, ncols, ep, m, n);
        }
    }
}

/* ------------------------------------------------------------ activations */

/* Same arithmetic as the reference (max, 127 / max, round to nearest even),
 * so the codes are identical. */
INLINE __m512 load_tail(const float *a, int k, int K) {
    return k + 16 <= K ? _mm512_loadu_ps(a + k) : _mm512_maskz_loadu_ps(vm_lanes(K - k), a + k);
}

static void quantize_rows_vnni(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa) {
    const int nb = qa->ldq / PE_QK;
    const __m512 signbit = _mm512_set1_ps(-0.0f);
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        int8_t *q = qa->q + (size_t)m * qa->ldq;
        /* |x| as integers: a NaN compares above every finite value and inf */
        __m512i mx0 = _mm512_setzero_si512(), mx1 = mx0;
        int k = 0;
        for (; k + 32 <= K; k += 32) {
            mx0 = _mm512_max_epu32(mx0, _mm512_castps_si512(_mm512_andnot_ps(signbit, _mm512_loadu_ps(a + k))));
            mx1 = _mm512_max_epu32(mx1, _mm512_castps_si512(_mm512_andnot_ps(signbit, _mm512_loadu_ps(a + k + 16))));
        }
        for (; k < K; k += 16)
            mx0 = _mm512_max_epu32(mx0, _mm512_castps_si512(_mm512_andnot_ps(signbit, load_tail(a, k, K))));
        uint32_t bits = _mm512_reduce_max_epu32(_mm512_max_epu32(mx0, mx1));
        const float is = pe_qact_row_scale(qa, m, bits);
        if (is < 0.0f) continue;
        __m512 vis = _mm512_set1_ps(is);
        __m512i total = _mm512_setzero_si512();
        for (int b = 0; b < nb; b++) {
            k = b * PE_QK;
            __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(load_tail(a, k, K), vis));
            __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(load_tail(a, k + 16, K), vis));
            _mm_storeu_si128((__m128i *)(void *)(q + k), _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(void *)(q + k + 16), _mm512_cvtepi32_epi8(q1));
            __m512i sum = _mm512_add_epi32(q0, q1);
            if (qa->bsum) qa->bsum[(size_t)m * nb + b] = _mm512_reduce_add_epi32(sum);
            total = _mm512_add_epi32(total, sum);
        }
        qa->rsum[m] = _mm512_reduce_add_epi32(total);
    }
}

/* ------------------------------------------------------------ q8 */

#define Q8MR 12

/* mr rows x np panels of q8: int32 dot products over the whole row, seeded
 * with -128 * (row sum of the activation codes, bs[r * ldb]), then one
 * multiply by the column scales. */
INLINE void q8_tile(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                    size_t pstride, int nb, float *tile, const int mr, const int np) {
    __m512i acc[Q8MR][NP];
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++) {
        __m512i init = _mm512_set1_epi32(-128 * bs[r * ldb]);
        acc[r][0] = init;
        if (np > 1) acc[r][1] = init;
    }
    const uint8_t *t0 = W + PE_Q8_HEAD, *t1 = t0 + pstride;
    for (int b = 0; b < nb; b++) {
        const int8_t *qb = q + (size_t)b * PE_QK;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            size_t o = (size_t)b * sizeof(pe_tile_q8) + (size_t)g * 64;
            __m512i w0 = _mm512_loadu_si512(t0 + o);
            __m512i w1 = np > 1 ? _mm512_loadu_si512(t1 + o) : w0;
#pragma GCC unroll 12
            for (int r = 0; r < mr; r++) {
                int32_t a4;
                memcpy(&a4, qb + r * ldq + g * 4, 4);
                __m512i av = _mm512_set1_epi32(a4);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], w0, av);
                if (np > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], w1, av);
            }
        }
    }
    __m512 d0 = _mm512_loadu_ps(W), d1 = np > 1 ? _mm512_loadu_ps(W + pstride) : d0;
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++) {
        _mm512_store_ps(tile + r * 32, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][0]), d0));
        if (np > 1) _mm512_store_ps(tile + r * 32 + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][1]), d1));
    }
}

/* ------------------------------------------------------------ q4 */

#define Q4MR 6

/* mr rows x np panels of q4: per 32-slice, integer dot products seeded with
 * -8 * (slice sum of the activation codes), then scaled by the block scales
 * into float accumulators. */
INLINE void q4_tile(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                    size_t pstride, int nb, float *tile, const int mr, const int np) {
    __m512 accf[Q4MR][NP];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < np; c++) accf[r][c] = _mm512_setzero_ps();
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int b = 0; b < nb; b++) {
        const uint8_t *t0 = W + (size_t)b * sizeof(pe_tile_q4), *t1 = t0 + pstride;
        __m512i acc[Q4MR][NP];
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m512i init = _mm512_set1_epi32(-8 * bs[r * ldb + b]);
            acc[r][0] = init;
            if (np > 1) acc[r][1] = init;
        }
        const int8_t *qb = q + (size_t)b * PE_QK;
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m512i v0 = _mm512_loadu_si512(t0 + 32 + g * 64);
            __m512i v1 = np > 1 ? _mm512_loadu_si512(t1 + 32 + g * 64) : v0;
            __m512i l0 = _mm512_and_si512(v0, low4), h0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4);
            __m512i l1 = _mm512_and_si512(v1, low4), h1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4);
#pragma GCC unroll 8
            for (int r = 0; r < mr; r++) {
                int32_t lo, hi;
                memcpy(&lo, qb + r * ldq + g * 4, 4);
                memcpy(&hi, qb + r * ldq + 16 + g * 4, 4);
                __m512i al = _mm512_set1_epi32(lo), ah = _mm512_set1_epi32(hi);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], l0, al);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], h0, ah);
                if (np > 1) {
                    acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], l1, al);
                    acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], h1, ah);
                }
            }
        }
        __m512 d0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)t0));
        __m512 d1 = np > 1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)t1)) : d0;
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            accf[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][0]), d0, accf[r][0]);
            if (np > 1) accf[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][1]), d1, accf[r][1]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < np; c++) _mm512_store_ps(tile + r * 32 + c * 16, accf[r][c]);
}

typedef void (*q_fn)(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                     size_t pstride, int nb, float *tile);

#define Q_FN(KIND, MR, P)                                                                    \
    static void KIND##_##MR##_##P(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb,  \
                                  const uint8_t *W, size_t pstride, int nb, float *tile) {     \
        KIND##_tile(q, ldq, bs, ldb, W, pstride, nb, tile, MR, P);                           \
    }
#define Q_FNS(KIND, MR) Q_FN(KIND, MR, 1) Q_FN(KIND, MR, 2)
Q_FNS(q8, 1) Q_FNS(q8, 2) Q_FNS(q8, 3) Q_FNS(q8, 4) Q_FNS(q8, 5) Q_FNS(q8, 6)
Q_FNS(q8, 7) Q_FNS(q8, 8) Q_FNS(q8, 9) Q_FNS(q8, 10) Q_FNS(q8, 11) Q_FNS(q8, 12)
Q_FNS(q4, 1) Q_FNS(q4, 2) Q_FNS(q4, 3) Q_FNS(q4, 4) Q_FNS(q4, 5) Q_FNS(q4, 6)

#define Q_ROW(KIND, MR) { KIND##_##MR##_1, KIND##_##MR##_2 }
static const q_fn q8_tiles[Q8MR][NP] = {
    Q_ROW(q8, 1), Q_ROW(q8, 2), Q_ROW(q8, 3), Q_ROW(q8, 4), Q_ROW(q8, 5), Q_ROW(q8, 6),
    Q_ROW(q8, 7), Q_ROW(q8, 8), Q_ROW(q8, 9), Q_ROW(q8, 10), Q_ROW(q8, 11), Q_ROW(q8, 12)};
static const q_fn q4_tiles[Q4MR][NP] = {
    Q_ROW(q4, 1), Q_ROW(q4, 2), Q_ROW(q4, 3), Q_ROW(q4, 4), Q_ROW(q4, 5), Q_ROW(q4, 6)};

static void gemm_q(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                   int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    const uint8_t *Wp = Wv;
    const int q4 = t == PE_WT_Q4;
    if (m1 <= m0 || n1 <= n0) return;
    const int nb = qa->ldq / PE_QK;
    const size_t pstride = pe_qpack_panel_bytes(q4 ? PE_WT_Q4 : PE_WT_Q8, K);
    const int p0 = n0 / PE_GEMM_NR, p1 = (n1 + PE_GEMM_NR - 1) / PE_GEMM_NR;
    float tile[Q8MR * 32] __attribute__((aligned(64)));
    for (int p = p0; p < p1; p += NP) {
        int np = p1 - p < NP ? p1 - p : NP, n = p * PE_GEMM_NR;
        int ncols = n1 - n < np * PE_GEMM_NR ? n1 - n : np * PE_GEMM_NR;
        const uint8_t *w = Wp + (size_t)p * pstride;
        /* per row: q4 reads the slice sums, q8 the row sum */
        for (int m = m0; m < m1; m += q4 ? Q4MR : Q8MR) {
            const int8_t *q = qa->q + (size_t)m * qa->ldq;
            int mr;
            if (q4) {
                mr = imin(m1 - m, Q4MR);
                q4_tiles[mr - 1][np - 1](q, (size_t)qa->ldq, qa->bsum + (size_t)m * nb, (size_t)nb, w,
                                         pstride, nb, tile);
            } else {
                mr = imin(m1 - m, Q8MR);
                q8_tiles[mr - 1][np - 1](q, (size_t)qa->ldq, qa->rsum + m, 1, w, pstride, nb, tile);
            }
            pe_tile_store(tile, mr, ncols, qa->s + m, C + (size_t)m * ldc + n, ldc, ep, m, n);
        }
    }
}

/* The code round(127 2^t) for t <= 0: PE_EXP2Q's cubic of the fraction
 * t - floor t (one VREDUCEPS), times 2^floor(t) by scalef, which takes the
 * floor itself.  t is clamped to -126 first, which also turns the NaN of
 * -inf scores into code 0; the cubic stays below 127.5 on [0, 1), so the
 * codes lie in [0, 127] with no clamp. */
INLINE __m512i exp2_q8(__m512 t) {
    t = _mm512_max_ps(t, _mm512_set1_ps(-126.0f));
    const __m512 r = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_set1_ps(PE_EXP2Q_C3);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP2Q_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP2Q_C1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(PE_EXP2Q_C0));
    return _mm512_cvtps_epi32(_mm512_scalef_ps(p, t));
}

static void softmax_q8_vnni(float *x, int n, float scale, const pe_qact *qa, int m) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    __mmask16 bad = 0; /* lanes that saw a NaN or an infinity */
    const __m512 inf = _mm512_set1_ps(INFINITY), signbit = _mm512_set1_ps(-0.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        bad |= _mm512_cmp_ps_mask(_mm512_andnot_ps(signbit, v), inf, _CMP_NLT_UQ);
        mx = _mm512_max_ps(mx, v);
    }
    if (i < n) {
        __mmask16 mk = vm_lanes(n - i);
        __m512 v = _mm512_mask_loadu_ps(mx, mk, x + i);
        bad |= _mm512_mask_cmp_ps_mask(mk, _mm512_andnot_ps(signbit, v), inf, _CMP_NLT_UQ);
        mx = _mm512_max_ps(mx, v);
    }
    if (bad) {
        pe_qact_row_nan(qa, m);
        return;
    }
    int8_t *q = qa->q + (size_t)m * qa->ldq;
    /* 127 exp(scale (x - max)) = 127 2^((x - max) c), c = scale log2(e);
     * x - max may overflow to -inf for huge finite scores, which exp2_q8
     * clamps to code 0. */
    const __m512 vc = _mm512_set1_ps(scale * 1.44269504088896341f), vm = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512i sum = _mm512_setzero_si512();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512i k = exp2_q8(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vc));
        sum = _mm512_add_epi32(sum, k);
        _mm_storeu_si128((__m128i *)(void *)(q + i), _mm512_cvtepi32_epi8(k));
    }
    for (; i < qa->ldq; i += 16) { /* the tail, then zeros up to ldq */
        __mmask16 mk = vm_lanes(n - i);
        __m512i k = _mm512_maskz_mov_epi32(mk, exp2_q8(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), vm), vc)));
        sum = _mm512_add_epi32(sum, k);
        _mm_storeu_si128((__m128i *)(void *)(q + i), _mm512_cvtepi32_epi8(k));
    }
    int32_t total = _mm512_reduce_add_epi32(sum);
    qa->rsum[m] = total;
    qa->s[m] = 1.0f / (float)total;
}

/* Same arithmetic as pe_pack_q8_t_ref: a panel's 16 columns are one vector
 * per row of W, and the codes of 4 consecutive rows interleave into the 64
 * bytes of one VNNI group with shifts. */
static void pack_q8_t_vnni(void *dst, const float *W, int ldw, int T, int n) {
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, T);
    const int Tp = (T + PE_QK - 1) / PE_QK * PE_QK;
    const __m512 signbit = _mm512_set1_ps(-0.0f);
    for (int c0 = 0; c0 < n; c0 += PE_GEMM_NR) {
        uint8_t *o = (uint8_t *)dst + (size_t)(c0 / PE_GEMM_NR) * pb;
        const __mmask16 mk = vm_lanes(n - c0);
        __m512 mx = _mm512_setzero_ps();
        __mmask16 nan = 0;
        for (int t = 0; t < T; t++) {
            __m512 v = _mm512_maskz_loadu_ps(mk, W + (size_t)t * ldw + c0);
            nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            /* NaN in the first operand gives the second: NaN is skipped, as fmaxf does */
            mx = _mm512_max_ps(_mm512_andnot_ps(signbit, v), mx);
        }
        const __mmask16 nz = _mm512_cmp_ps_mask(mx, _mm512_setzero_ps(), _CMP_GT_OQ);
        const __m512 inv = _mm512_maskz_div_ps(nz, _mm512_set1_ps(127.0f), mx);
        __m512 d = _mm512_div_ps(mx, _mm512_set1_ps(127.0f));
        _mm512_storeu_ps(o, _mm512_mask_mov_ps(d, nan, _mm512_set1_ps(NAN)));
        const __m512i off = _mm512_set1_epi32(128), byte = _mm512_set1_epi32(255);
        const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
        for (int t0 = 0; t0 < Tp; t0 += 4) {
            __m512i g = _mm512_setzero_si512();
            for (int i = 0; i < 4; i++) {
                int t = t0 + i;
                __m512i q = off;
                if (t < T) {
                    __m512i c = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, W + (size_t)t * ldw + c0), inv));
                    c = _mm512_min_epi32(_mm512_max_epi32(c, lo), hi);
                    q = _mm512_add_epi32(c, off);
                }
                g = _mm512_or_si512(g, _mm512_slli_epi32(_mm512_and_si512(q, byte), 8 * i));
            }
            _mm512_storeu_si512(o + PE_Q8_HEAD + (size_t)(t0 / PE_QK) * sizeof(pe_tile_q8) +
                                    (size_t)((t0 % PE_QK) / 4) * 64, g);
        }
    }
}

const pe_qkernels pe_qkernels_vnni = {
    .name = "avx512vnni",
    .gemm_half = gemm_half,
    .quantize_rows = quantize_rows_vnni,
    .gemm_q = gemm_q,
    .softmax_q8 = softmax_q8_vnni,
    .pack_q8_t = pack_q8_t_vnni,
};

/* The same with the q8 GEMM on AMX tiles (qgemm_amx.c). */
const pe_qkernels pe_qkernels_amx = {
    .name = "avx512amx",
    .gemm_half = gemm_half,
    .quantize_rows = quantize_rows_vnni,
    .gemm_q = pe_gemm_q_amx,
    .softmax_q8 = softmax_q8_vnni,
    .pack_q8_t = pack_q8_t_vnni,
};
