/* AVX2 pixel kernels, bit-identical to pixels.c / preprocess.c's scalar
 * code (tests/test_frame.c compares them on awkward sizes).
 *
 *   yuv_rgb    16 pixels a step: the matrix in float with the same products
 *              and sums as the scalar code (no FMA), rounded by cvtps2dq
 *              (to nearest even, the default MXCSR mode), clamped by the
 *              saturating packs, interleaved to RGB by pshufb.
 *   hpass_rgb  per output pixel, four taps a step: two taps of R, G, B as
 *              int16 pairs against the hi / lo halves of the 22-bit weights
 *              (pmaddwd), so the int32 sums are exact.
 *   vpass      32 bytes a step, int32 multiply-accumulate over the taps. */
#include "pixels.h"

#include <immintrin.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Byte j of output vector k (bytes 16k .. 16k+15 of 16 RGB pixels) comes
 * from channel (16k+j) % 3 of pixel (16k+j) / 3: one mask per vector and
 * channel, -128 where another channel supplies the byte. */
static const int8_t rgb_interleave[3][3][16] = {
    {{0, -128, -128, 1, -128, -128, 2, -128, -128, 3, -128, -128, 4, -128, -128, 5},
     {-128, 0, -128, -128, 1, -128, -128, 2, -128, -128, 3, -128, -128, 4, -128, -128},
     {-128, -128, 0, -128, -128, 1, -128, -128, 2, -128, -128, 3, -128, -128, 4, -128}},
    {{-128, -128, 6, -128, -128, 7, -128, -128, 8, -128, -128, 9, -128, -128, 10, -128},
     {5, -128, -128, 6, -128, -128, 7, -128, -128, 8, -128, -128, 9, -128, -128, 10},
     {-128, 5, -128, -128, 6, -128, -128, 7, -128, -128, 8, -128, -128, 9, -128, -128}},
    {{-128, 11, -128, -128, 12, -128, -128, 13, -128, -128, 14, -128, -128, 15, -128, -128},
     {-128, -128, 11, -128, -128, 12, -128, -128, 13, -128, -128, 14, -128, -128, 15, -128},
     {10, -128, -128, 11, -128, -128, 12, -128, -128, 13, -128, -128, 14, -128, -128, 15}},
};

static inline __m128i mask(const int8_t *m) { return _mm_loadu_si128((const __m128i *)(const void *)m); }

/* 16 bytes of each channel -> 48 bytes of RGB. */
static inline void store_rgb16(uint8_t *out, __m128i r, __m128i g, __m128i b) {
    for (int k = 0; k < 3; k++) {
        __m128i v = _mm_or_si128(_mm_shuffle_epi8(r, mask(rgb_interleave[k][0])),
                                 _mm_or_si128(_mm_shuffle_epi8(g, mask(rgb_interleave[k][1])),
                                              _mm_shuffle_epi8(b, mask(rgb_interleave[k][2]))));
        _mm_storeu_si128((__m128i *)(void *)(out + 16 * k), v);
    }
}

/* Two vectors of 8 int32 -> 16 bytes, saturated to 0..255. */
static inline __m128i pack16(__m256i lo, __m256i hi) {
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    return _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

static inline __m128i load8(const uint8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return _mm_cvtsi64_si128(v);
}

static void yuv_rgb_avx2(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                         int n, const pe_yuv_coef *c, uint8_t *rgb) {
    int x = x0;
    const int end = x0 + n;
    if (x & 1) { /* the second pixel of a chroma pair: blocks start even */
        pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, 1, c, rgb);
        x++;
        rgb += 3;
    }
    const __m256 cy = _mm256_set1_ps(c->cy), crv = _mm256_set1_ps(c->crv);
    const __m256 cgu = _mm256_set1_ps(c->cgu), cgv = _mm256_set1_ps(c->cgv);
    const __m256 cbu = _mm256_set1_ps(c->cbu);
    const __m256i yoff = _mm256_set1_epi32(c->yoff), c128 = _mm256_set1_epi32(128);
    const __m256i dup_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i dup_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -128, -128, -128, -128, -128,
                                       -128, -128, -128);
    const __m128i odd = _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -128, -128, -128, -128, -128,
                                      -128, -128, -128);
    for (; end - x >= 16; x += 16, rgb += 48) {
        const uint8_t *us = u + (size_t)(x >> 1) * (size_t)cps, *vs = v + (size_t)(x >> 1) * (size_t)cps;
        __m128i u8, v8;
        if (cps == 1) {
            u8 = load8(us);
            v8 = load8(vs);
        } else if (x >= 2) {
            /* 16 bytes ending at the eighth sample: the first one is the
             * previous sample's second byte, inside the row */
            u8 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(us - 1)), odd);
            v8 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(vs - 1)), odd);
        } else if (end - x > 16) {
            /* at the row start: one byte past the eighth sample, which the
             * pixel after the block reads anyway */
            u8 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)us), even);
            v8 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)vs), even);
        } else {
            break;
        }
        const __m256 fu = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(u8), c128));
        const __m256 fv = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(v8), c128));
        const __m256 tr = _mm256_mul_ps(crv, fv);
        const __m256 tg = _mm256_add_ps(_mm256_mul_ps(cgu, fu), _mm256_mul_ps(cgv, fv));
        const __m256 tb = _mm256_mul_ps(cbu, fu);
        const __m128i y16 = _mm_loadu_si128((const __m128i *)(const void *)(y + x));
        __m256i r[2], g[2], b[2];
        for (int h = 0; h < 2; h++) {
            const __m128i yb = h ? _mm_srli_si128(y16, 8) : y16;
            const __m256 fy = _mm256_mul_ps(
                cy, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(yb), yoff)));
            const __m256i idx = h ? dup_hi : dup_lo;
            r[h] = _mm256_cvtps_epi32(_mm256_add_ps(fy, _mm256_permutevar8x32_ps(tr, idx)));
            g[h] = _mm256_cvtps_epi32(_mm256_add_ps(fy, _mm256_permutevar8x32_ps(tg, idx)));
            b[h] = _mm256_cvtps_epi32(_mm256_add_ps(fy, _mm256_permutevar8x32_ps(tb, idx)));
        }
        store_rgb16(rgb, pack16(r[0], r[1]), pack16(g[0], g[1]), pack16(b[0], b[1]));
    }
    if (x < end) pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, end - x, c, rgb);
}

static void packed_rgb_avx2(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb) {
    int8_t m[16];
    for (int j = 0; j < 16; j++) m[j] = -128;
    for (int j = 0; j < 4; j++) {
        m[3 * j] = (int8_t)(4 * j + r);
        m[3 * j + 1] = (int8_t)(4 * j + g);
        m[3 * j + 2] = (int8_t)(4 * j + b);
    }
    const __m128i sh = mask(m);
    int i = 0;
    /* 4 pixels a step, stored as 16 bytes of which 12 count: the next step
     * (or the tail) overwrites the rest, so 6 pixels must remain. */
    for (; i + 6 <= n; i += 4)
        _mm_storeu_si128((__m128i *)(void *)(rgb + 3 * (size_t)i),
                         _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(src + 4 * (size_t)i)), sh));
    if (i < n) pe_pixels_scalar.packed_rgb(src + 4 * (size_t)i, n - i, r, g, b, rgb + 3 * (size_t)i);
}

static void hpass_rgb_avx2(const pp_span *span, const int16_t *kp, int W, int col0,
                           const uint8_t *row, uint8_t *dst) {
    /* low lane: taps 0, 1 of a group; high lane: taps 2, 3 (pixels 12 bytes on) */
    const __m256i pairs = _mm256_setr_epi8(0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128, -128,
                                           -128, -128, -128, 6, -128, 9, -128, 7, -128, 10, -128, 8,
                                           -128, 11, -128, -128, -128, -128, -128);
    const __m128i half = _mm_set1_epi32(1 << (PP_PRECISION_BITS - 1));
    for (int o = 0; o < W; o++) {
        const uint8_t *s = row + (size_t)(span[o].min - col0) * 3;
        const __m256i *k = (const __m256i *)(const void *)(kp + span[o].g * PE_HPACK_GROUP);
        __m256i ah = _mm256_setzero_si256(), al = _mm256_setzero_si256();
        for (int t = 0; t < span[o].count; t += 4, s += 12, k += 2) {
            __m256i px = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)s));
            px = _mm256_shuffle_epi8(px, pairs);
            ah = _mm256_add_epi32(ah, _mm256_madd_epi16(px, _mm256_loadu_si256(k)));
            al = _mm256_add_epi32(al, _mm256_madd_epi16(px, _mm256_loadu_si256(k + 1)));
        }
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(ah), _mm256_extracti128_si256(ah, 1));
        __m128i l = _mm_add_epi32(_mm256_castsi256_si128(al), _mm256_extracti128_si256(al, 1));
        __m128i ss = _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(h, 11), l), half);
        ss = _mm_srai_epi32(ss, PP_PRECISION_BITS);
        ss = _mm_packus_epi16(_mm_packs_epi32(ss, ss), ss);
        uint32_t px3 = (uint32_t)_mm_cvtsi128_si32(ss);
        memcpy(dst + 3 * (size_t)o, &px3, 3);
    }
}

static void vpass_avx2(const uint8_t *src, size_t stride, const int32_t *k, int count, size_t n,
                       uint8_t *dst) {
    const __m256i half = _mm256_set1_epi32(1 << (PP_PRECISION_BITS - 1));
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a[4] = {half, half, half, half};
        const uint8_t *s = src + i;
        for (int t = 0; t < count; t++, s += stride) {
            const __m256i kk = _mm256_set1_epi32(k[t]);
            const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)s);
            const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
            a[0] = _mm256_add_epi32(a[0], _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), kk));
            a[1] = _mm256_add_epi32(a[1], _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), kk));
            a[2] = _mm256_add_epi32(a[2], _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), kk));
            a[3] = _mm256_add_epi32(a[3], _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), kk));
        }
        for (int j = 0; j < 4; j++) a[j] = _mm256_srai_epi32(a[j], PP_PRECISION_BITS);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), pack16(a[0], a[1]));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), pack16(a[2], a[3]));
    }
    for (; i < n; i++) {
        int64_t ss = 1 << (PP_PRECISION_BITS - 1);
        for (int t = 0; t < count; t++) ss += (int64_t)src[(size_t)t * stride + i] * k[t];
        dst[i] = pe_clip8(ss);
    }
}

const pe_pixels pe_pixels_avx2 = {
    .name = "avx2",
    .yuv_rgb = yuv_rgb_avx2,
    .packed_rgb = packed_rgb_avx2,
    .hpass_rgb = hpass_rgb_avx2,
    .vpass = vpass_avx2,
};
