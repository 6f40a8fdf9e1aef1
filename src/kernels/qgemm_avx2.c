/* AVX2 + FMA + F16C kernels for reduced-precision weights, the fallback for
 * CPUs without AVX-512 VNNI.  qgemm_ref.c is the specification; layouts are
 * in quant.h.  q8 uses the sign trick (|a| times w * sign(a)) so that
 * pmaddubsw never saturates; q4 codes are small enough to go in unsigned. */
#include "quant.h"
#include "simd_avx2.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define MR 6

/* ------------------------------------------------------------ f16 / bf16 */

INLINE __m256 load_half8(const uint16_t *p, const int bf16) {
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

INLINE void half_tile(const float *A, size_t lda, const uint16_t *W, int K, float *tile,
                      const int mr, const int bf16) {
    __m256 acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m256 b0 = load_half8(W + (size_t)k * 16, bf16), b1 = load_half8(W + (size_t)k * 16 + 8, bf16);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m256 av = _mm256_broadcast_ss(A + r * lda + k);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        _mm256_store_ps(tile + r * 16, acc[r][0]);
        _mm256_store_ps(tile + r * 16 + 8, acc[r][1]);
    }
}

#include "gemm_panels.h"

HALF_FNS(1) HALF_FNS(2) HALF_FNS(3) HALF_FNS(4) HALF_FNS(5) HALF_FNS(6)
static const half_fn half_tiles[2][MR] = {
    {half_0_1, half_0_2, half_0_3, half_0_4, half_0_5, half_0_6},
    {half_1_1, half_1_2, half_1_3, half_1_4, half_1_5, half_1_6},
};

/* ------------------------------------------------------------ activations */

static void quantize_rows_avx2(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa) {
    const int nb = qa->ldq / PE_QK;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        int8_t *q = qa->q + (size_t)m * qa->ldq;
        /* |x| as integers: a NaN compares above every finite value and inf */
        __m256i mx = _mm256_setzero_si256();
        for (int k = 0; k < K; k += 8)
            mx = _mm256_max_epu32(mx, _mm256_castps_si256(_mm256_and_ps(absmask, _mm256_maskload_ps(a + k, vm_lanes(K - k)))));
        uint32_t t[8], bits = 0;
        _mm256_storeu_si256((__m256i *)(void *)t, mx);
        for (int i = 0; i < 8; i++) bits = t[i] > bits ? t[i] : bits;
        const float is = pe_qact_row_scale(qa, m, bits);
        if (is < 0.0f) continue;
        const __m256 vis = _mm256_set1_ps(is);
        int32_t total = 0;
        for (int b = 0; b < nb; b++) {
            __m256i sum = _mm256_setzero_si256();
            for (int h = 0; h < 4; h++) {
                int k = b * PE_QK + h * 8;
                __m256i qi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_maskload_ps(a + k, vm_lanes(K - k)), vis));
                sum = _mm256_add_epi32(sum, qi);
                __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
                w = _mm_packs_epi16(w, w);
                _mm_storel_epi64((__m128i *)(void *)(q + k), w);
            }
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_hadd_epi32(s4, s4);
            s4 = _mm_hadd_epi32(s4, s4);
            if (qa->bsum) qa->bsum[(size_t)m * nb + b] = _mm_cvtsi128_si32(s4);
            total += _mm_cvtsi128_si32(s4);
        }
        qa->rsum[m] = total;
    }
}

/* ------------------------------------------------------------ q8 / q4 */

INLINE __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* mr rows x 16 columns of q8: the stored codes flipped back to signed
 * (xor 0x80), int32 dot products over the whole row, then one multiply by
 * the column scales. */
INLINE void q8_tile(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                    int nb, float *tile, const int mr) {
    (void)bs;
    (void)ldb;
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    __m256i acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int b = 0; b < nb; b++) {
        const uint8_t *wq = W + PE_Q8_HEAD + (size_t)b * sizeof(pe_tile_q8);
        const int8_t *qb = q + (size_t)b * PE_QK;
        for (int g = 0; g < 8; g++) {
            __m256i w0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(wq + g * 64)), flip);
            __m256i w1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(wq + g * 64 + 32)), flip);
#pragma GCC unroll 8
            for (int r = 0; r < mr; r++) {
                __m256i a = bcast4(qb + r * ldq + g * 4), aa = _mm256_sign_epi8(a, a);
                __m256i p0 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, a));
                __m256i p1 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, a));
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));
            }
        }
    }
    const __m256 d0 = _mm256_loadu_ps((const float *)(const void *)W);
    const __m256 d1 = _mm256_loadu_ps((const float *)(const void *)W + 8);
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        _mm256_store_ps(tile + r * 16, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), d0));
        _mm256_store_ps(tile + r * 16 + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), d1));
    }
}

/* mr rows x 16 columns of q4; per 32-slice an exact int32 dot product,
 * scaled by the block scales into float accumulators. */
INLINE void q4_tile(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                    int nb, float *tile, const int mr) {
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(15);
    __m256 accf[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) accf[r][0] = accf[r][1] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *t = W + (size_t)b * sizeof(pe_tile_q4), *wq = t + 32;
        const int8_t *qb = q + (size_t)b * PE_QK;
        __m256i acc[MR][2];
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_set1_epi32(-8 * bs[r * ldb + b]);
        for (int g = 0; g < 4; g++) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)(wq + g * 64));
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(wq + g * 64 + 32));
            __m256i l0 = _mm256_and_si256(v0, low4), h0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), low4);
            __m256i l1 = _mm256_and_si256(v1, low4), h1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), low4);
#pragma GCC unroll 8
            for (int r = 0; r < mr; r++) {
                __m256i al = bcast4(qb + r * ldq + g * 4), ah = bcast4(qb + r * ldq + 16 + g * 4);
                __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(l0, al), _mm256_maddubs_epi16(h0, ah));
                __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(l1, al), _mm256_maddubs_epi16(h1, ah));
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(s0, ones));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(s1, ones));
            }
        }
        __m256 d0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)t));
        __m256 d1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(t + 16)));
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            accf[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][0]), d0, accf[r][0]);
            accf[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][1]), d1, accf[r][1]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        _mm256_store_ps(tile + r * 16, accf[r][0]);
        _mm256_store_ps(tile + r * 16 + 8, accf[r][1]);
    }
}

typedef void (*q_fn)(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb, const uint8_t *W,
                     int nb, float *tile);
#define Q_FN(KIND, R)                                                                        \
    static void KIND##_##R(const int8_t *q, size_t ldq, const int32_t *bs, size_t ldb,        \
                           const uint8_t *W, int nb, float *tile) {                          \
        KIND##_tile(q, ldq, bs, ldb, W, nb, tile, R);                                        \
    }
#define Q_FNS(R) Q_FN(q8, R) Q_FN(q4, R)
Q_FNS(1) Q_FNS(2) Q_FNS(3) Q_FNS(4) Q_FNS(5) Q_FNS(6)
static const q_fn q_tiles[2][MR] = {
    {q8_1, q8_2, q8_3, q8_4, q8_5, q8_6},
    {q4_1, q4_2, q4_3, q4_4, q4_5, q4_6},
};

/* The sum pairs of pmaddubsw hold |a| * |w| <= 127 * 127 twice (q8) or
 * 15 * 127 four times (q4): no int16 saturation. */
#define HALF_MR MR
#define Q_MR MR
#define Q_TILE(x, v, mr, m, w)                                                                 \
    q_tiles[(v) - 2][(mr) - 1](PE_QA(x)->q + (size_t)(m) * PE_QA(x)->ldq, PE_QA(x)->ldq,       \
                               (v) == 3 ? PE_QA(x)->bsum + (size_t)(m) * PE_QA(x)->nb : NULL,  \
                               (size_t)PE_QA(x)->nb, w, PE_QA(x)->nb, tile_)
#include "gemm_panels.h" /* gemm_half, gemm_q */

/* The code round(127 2^t) for t <= 0, as exp2_q8 of qgemm_vnni.c:
 * PE_EXP2Q's cubic of t - floor t, with floor t added to the exponent
 * field.  t is clamped to -125 first (a NaN from -inf scores becomes -125,
 * code 0), so the product stays a normal float and the codes in [0, 127]. */
INLINE __m256i exp2_q8(__m256 t) {
    t = _mm256_max_ps(t, _mm256_set1_ps(-125.0f));
    const __m256 f = _mm256_floor_ps(t), r = _mm256_sub_ps(t, f);
    __m256 p = _mm256_set1_ps(PE_EXP2Q_C3);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP2Q_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP2Q_C1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(PE_EXP2Q_C0));
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(f), 23);
    return _mm256_cvtps_epi32(_mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e)));
}

static void softmax_q8_avx2(float *x, int n, float scale, const pe_qact *qa, int m) {
    float mx = x[0];
    if (!pe_softmax_q8_max(x, 0, n, &mx, 1, qa, m)) return;
    /* 127 exp(scale (x - max)) = 127 2^((x - max) c), c = scale log2(e) */
    const __m256 vm = _mm256_set1_ps(mx), vc = _mm256_set1_ps(scale * 1.44269504088896341f);
    int8_t *q = qa->q + (size_t)m * qa->ldq;
    __m256i sum = _mm256_setzero_si256();
    for (int i = 0; i < qa->ldq; i += 8) {
        __m256i mk = vm_lanes(n - i);
        __m256i c = _mm256_and_si256(exp2_q8(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mk), vm), vc)), mk);
        sum = _mm256_add_epi32(sum, c);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i *)(void *)(q + i), _mm_packs_epi16(w, w));
    }
    int32_t t[8], total = 0;
    _mm256_storeu_si256((__m256i *)(void *)t, sum);
    for (int i = 0; i < 8; i++) total += t[i];
    qa->rsum[m] = total;
    qa->s[m] = 1.0f / (float)total;
}

const pe_qkernels pe_qkernels_avx2 = {
    .name = "avx2",
    .gemm_half = gemm_half,
    .quantize_rows = quantize_rows_avx2,
    .gemm_q = gemm_q,
    .softmax_q8 = softmax_q8_avx2,
    .pack_q8_t = pe_pack_q8_t_ref,
};
