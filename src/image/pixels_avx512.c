/* AVX-512 pixel kernels (with VBMI and VNNI): the planar path, bit-identical
 * to pixels.c / preprocess.c's scalar code (tests/test_frame.c compares
 * them on awkward sizes).  The packed kernels are the AVX2 set's.
 *
 *   yuv_planes    32 pixels a step, the last one masked: even and odd
 *                 pixels in separate vectors, so each lines up with its
 *                 chroma sample and the
 *                 chroma terms are computed once per pair; the same float
 *                 products and sums as the scalar code (no FMA), rounded by
 *                 cvtps2dq, clamped by the saturating packs, put in order
 *                 by one byte permute per two planes.
 *   hpass_planes  16 outputs a vector (pixels.h: pe_hgather): a two-table
 *                 byte permute gathers four taps of each output into its
 *                 int32 lane, three vpdpbusd multiply them by the weight's
 *                 three signed bytes; the table is read once for all planes.
 *   lut_row       16 floats a gather. */
#include "pixels.h"

#include <immintrin.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* The Makefile's AVX-512 flags stop at BW/VL/DQ; the kernel choice checks
 * these two before this set is used. */
#define PX512 __attribute__((target("avx512vbmi,avx512vnni")))

/* Byte i of 32 output pixels (i < 32) of the first plane and 32 + i of the
 * second, in the vector packus(packs(e1, o1), packs(e2, o2)) makes of even
 * pixels e (pixel 2k: lane k) and odd ones o: per 128-bit lane L, bytes
 * [e 4L..4L+3, o 4L..4L+3] of the first plane, then of the second. */
static const uint8_t plane_order[64] = {
    0, 4, 1, 5, 2, 6, 3, 7, 16, 20, 17, 21, 18, 22, 19, 23,
    32, 36, 33, 37, 34, 38, 35, 39, 48, 52, 49, 53, 50, 54, 51, 55,
    8, 12, 9, 13, 10, 14, 11, 15, 24, 28, 25, 29, 26, 30, 27, 31,
    40, 44, 41, 45, 42, 46, 43, 47, 56, 60, 57, 61, 58, 62, 59, 63};

PX512 static void yuv_planes_avx512(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps,
                                    int x0, int n, const pe_yuv_coef *c, uint8_t *rgb, size_t ps) {
    int x = x0;
    const int end = x0 + n;
    if (x & 1) { /* the second pixel of a chroma pair: blocks start even */
        pe_yuv_planes_scalar(y, u, v, cps, x, 1, c, rgb, ps);
        x++;
        rgb++;
    }
    const __m512 cy = _mm512_set1_ps(c->cy), crv = _mm512_set1_ps(c->crv);
    const __m512 cgu = _mm512_set1_ps(c->cgu), cgv = _mm512_set1_ps(c->cgv);
    const __m512 cbu = _mm512_set1_ps(c->cbu);
    const __m512i yoff = _mm512_set1_epi32(c->yoff), c128 = _mm512_set1_epi32(128);
    const __m512i low = _mm512_set1_epi32(255);
    const __m512i order = _mm512_loadu_si512(plane_order);
    for (; x < end; x += 32, rgb += 32) {
        const int m = PE_MIN(32, end - x); /* pixels this step; under 32: masked */
        const uint8_t *us = u + (size_t)(x >> 1) * (size_t)cps, *vs = v + (size_t)(x >> 1) * (size_t)cps;
        __m512i ui, vi; /* 16 chroma samples, one a lane */
        if (cps == 1) {
            const __mmask16 cm = (__mmask16)((1u << ((m + 1) / 2)) - 1);
            ui = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(cm, us));
            vi = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(cm, vs));
        } else if (m == 32 && x >= 2) {
            /* 32 bytes ending at the 16th sample: the first is the previous
             * sample's second byte, inside the row; samples are high bytes */
            ui = _mm512_srli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(us - 1))), 8);
            vi = _mm512_srli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(vs - 1))), 8);
        } else {
            /* the samples' bytes, up to the last sample's first byte */
            const __mmask32 cm = (__mmask32)((1ull << ((m + 1) / 2 * 2 - 1)) - 1);
            ui = _mm512_and_si512(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi8(cm, us)), low);
            vi = _mm512_and_si512(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi8(cm, vs)), low);
        }
        const __m512 fu = _mm512_cvtepi32_ps(_mm512_sub_epi32(ui, c128));
        const __m512 fv = _mm512_cvtepi32_ps(_mm512_sub_epi32(vi, c128));
        const __m512 tr = _mm512_mul_ps(crv, fv);
        const __m512 tg = _mm512_add_ps(_mm512_mul_ps(cgu, fu), _mm512_mul_ps(cgv, fv));
        const __m512 tb = _mm512_mul_ps(cbu, fu);
        const __mmask32 pm = m == 32 ? ~(__mmask32)0 : (__mmask32)((1u << m) - 1);
        const __m512i yw = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi8(pm, y + x));
        const __m512i yi[2] = {_mm512_and_si512(yw, low), _mm512_srli_epi32(yw, 8)};
        __m512i r[2], g[2], b[2];
        for (int h = 0; h < 2; h++) { /* even pixels, then odd */
            const __m512 fy = _mm512_mul_ps(cy, _mm512_cvtepi32_ps(_mm512_sub_epi32(yi[h], yoff)));
            r[h] = _mm512_cvtps_epi32(_mm512_add_ps(fy, tr));
            g[h] = _mm512_cvtps_epi32(_mm512_add_ps(fy, tg));
            b[h] = _mm512_cvtps_epi32(_mm512_add_ps(fy, tb));
        }
        const __m512i rw = _mm512_packs_epi32(r[0], r[1]), gw = _mm512_packs_epi32(g[0], g[1]);
        const __m512i bw = _mm512_packs_epi32(b[0], b[1]);
        const __m512i rg = _mm512_permutexvar_epi8(order, _mm512_packus_epi16(rw, gw));
        const __m512i bb = _mm512_permutexvar_epi8(order, _mm512_packus_epi16(bw, bw));
        _mm256_mask_storeu_epi8(rgb, pm, _mm512_castsi512_si256(rg));
        _mm256_mask_storeu_epi8(rgb + ps, pm, _mm512_extracti64x4_epi64(rg, 1));
        _mm256_mask_storeu_epi8(rgb + 2 * ps, pm, _mm512_castsi512_si256(bb));
    }
}

PX512 static void packed_planes_avx512(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb,
                                       size_t ps) {
    uint8_t m[64];
    for (int j = 0; j < 16; j++) {
        m[j] = (uint8_t)(4 * j + r);
        m[16 + j] = (uint8_t)(4 * j + g);
        m[32 + j] = (uint8_t)(4 * j + b);
        m[48 + j] = 0;
    }
    const __m512i sh = _mm512_loadu_si512(m);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i v = _mm512_permutexvar_epi8(sh, _mm512_loadu_si512(src + 4 * (size_t)i));
        _mm_storeu_si128((__m128i *)(void *)(rgb + i), _mm512_castsi512_si128(v));
        _mm_storeu_si128((__m128i *)(void *)(rgb + ps + i), _mm512_extracti32x4_epi32(v, 1));
        _mm_storeu_si128((__m128i *)(void *)(rgb + 2 * ps + i), _mm512_extracti32x4_epi32(v, 2));
    }
    if (i < n) pe_packed_planes_scalar(src + 4 * (size_t)i, n - i, r, g, b, rgb + i, ps);
}

/* Four taps of one plane's 16 outputs: px gathered from the window lo:hi,
 * times the weight's three bytes. */
#define HTAPS(lo, hi, a0, a1, a2)                                                                  \
    do {                                                                                           \
        const __m512i px_ = _mm512_permutex2var_epi8(lo, idx, hi);                                 \
        a0 = _mm512_dpbusd_epi32(a0, px_, w0);                                                     \
        a1 = _mm512_dpbusd_epi32(a1, px_, w1);                                                     \
        a2 = _mm512_dpbusd_epi32(a2, px_, w2);                                                     \
    } while (0)

/* clip8(2^21 + a2 * 65536 + a1 * 256 + a0) of 16 outputs, the kept ones stored. */
PX512 static inline void hstore(__m512i a0, __m512i a1, __m512i a2, __mmask16 keep, uint8_t *dst) {
    __m512i s = _mm512_add_epi32(_mm512_slli_epi32(a2, 16), _mm512_slli_epi32(a1, 8));
    s = _mm512_add_epi32(_mm512_add_epi32(s, a0), _mm512_set1_epi32(1 << (PP_PRECISION_BITS - 1)));
    s = _mm512_max_epi32(_mm512_srai_epi32(s, PP_PRECISION_BITS), _mm512_setzero_si512());
    _mm512_mask_cvtusepi32_storeu_epi8(dst, keep, s); /* > 255: 255 */
}

#define HLOAD_QUAD(tq)                                                                             \
    const __m512i idx = _mm512_loadu_si512(tq), w0 = _mm512_loadu_si512((tq) + 64);                \
    const __m512i w1 = _mm512_loadu_si512((tq) + 128), w2 = _mm512_loadu_si512((tq) + 192)

PX512 static void hpass_planes_avx512(const pe_hgather *t, int W, int C, const uint8_t *row,
                                      size_t ps, uint8_t *dst, size_t dps) {
    const size_t qbytes = (size_t)t->quads * PE_HG_QUAD;
    for (int g = 0; g < t->groups; g++) {
        const int o = g * PE_HG_OUT, left = W - o;
        const __mmask16 keep = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const uint8_t *tq = t->taps + (size_t)g * qbytes, *r = row + t->base[g];
        const __m512i z = _mm512_setzero_si512();
        if (C == 3) { /* the table is read once for the three planes */
            const __m512i lr = _mm512_loadu_si512(r), hr = _mm512_loadu_si512(r + 64);
            const __m512i lg = _mm512_loadu_si512(r + ps), hg = _mm512_loadu_si512(r + ps + 64);
            const __m512i lb = _mm512_loadu_si512(r + 2 * ps), hb = _mm512_loadu_si512(r + 2 * ps + 64);
            __m512i r0 = z, r1 = z, r2 = z, g0 = z, g1 = z, g2 = z, b0 = z, b1 = z, b2 = z;
            for (int q = 0; q < t->quads; q++, tq += PE_HG_QUAD) {
                HLOAD_QUAD(tq);
                HTAPS(lr, hr, r0, r1, r2);
                HTAPS(lg, hg, g0, g1, g2);
                HTAPS(lb, hb, b0, b1, b2);
            }
            hstore(r0, r1, r2, keep, dst + o);
            hstore(g0, g1, g2, keep, dst + dps + o);
            hstore(b0, b1, b2, keep, dst + 2 * dps + o);
        } else {
            const __m512i l = _mm512_loadu_si512(r), h = _mm512_loadu_si512(r + 64);
            __m512i a0 = z, a1 = z, a2 = z;
            for (int q = 0; q < t->quads; q++, tq += PE_HG_QUAD) {
                HLOAD_QUAD(tq);
                HTAPS(l, h, a0, a1, a2);
            }
            hstore(a0, a1, a2, keep, dst + o);
        }
    }
}

PX512 static void lut_row_avx512(const float *lut, const uint8_t *src, int n, float *dst) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(src + i)));
        _mm512_storeu_ps(dst + i, _mm512_i32gather_ps(idx, lut, 4));
    }
    for (; i < n; i++) dst[i] = lut[src[i]];
}

/* A 16x16 byte transpose in each 128-bit lane of r[0..15]: byte c of row i
 * ends as byte i of row c.  One round of unpacks pairing rows i and i + 8
 * into rows 2i, 2i + 1 rotates the 8-bit address (row, byte) left by one
 * bit; four rounds swap its halves. */
PX512 static inline void unpack_round(const __m512i *a, __m512i *b) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        b[2 * i] = _mm512_unpacklo_epi8(a[i], a[i + 8]);
        b[2 * i + 1] = _mm512_unpackhi_epi8(a[i], a[i + 8]);
    }
}

PX512 static inline void transpose16_lanes(__m512i r[16]) {
    __m512i t[16];
    unpack_round(r, t);
    unpack_round(t, r);
    unpack_round(r, t);
    unpack_round(t, r);
}

/* Tiles of 16 rows x 64 columns: lane L of row k after the transpose is
 * column 16 L + k; short tiles load zeros and store only what is there. */
PX512 static void transpose_avx512(const uint8_t *src, ptrdiff_t ss, int rows, int cols, uint8_t *dst,
                                   size_t ds) {
    for (int i0 = 0; i0 < rows; i0 += 16) {
        const int nr = PE_MIN(16, rows - i0);
        const __mmask16 sm = (__mmask16)((1u << nr) - 1);
        for (int j0 = 0; j0 < cols; j0 += 64) {
            const int nc = PE_MIN(64, cols - j0);
            const __mmask64 lm = nc == 64 ? ~(__mmask64)0 : ((__mmask64)1 << nc) - 1;
            __m512i r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = i < nr ? _mm512_maskz_loadu_epi8(lm, src + (ptrdiff_t)(i0 + i) * ss + j0)
                              : _mm512_setzero_si512();
            transpose16_lanes(r);
            uint8_t *d = dst + (size_t)j0 * ds + i0;
            if (nr == 16 && nc == 64) { /* plain stores: an extract into memory needs no shuffle */
#pragma GCC unroll 16
                for (int k = 0; k < 16; k++) {
                    uint8_t *dk = d + (size_t)k * ds;
                    _mm_storeu_si128((__m128i *)(void *)dk, _mm512_castsi512_si128(r[k]));
                    _mm_storeu_si128((__m128i *)(void *)(dk + 16 * ds), _mm512_extracti32x4_epi32(r[k], 1));
                    _mm_storeu_si128((__m128i *)(void *)(dk + 32 * ds), _mm512_extracti32x4_epi32(r[k], 2));
                    _mm_storeu_si128((__m128i *)(void *)(dk + 48 * ds), _mm512_extracti32x4_epi32(r[k], 3));
                }
                continue;
            }
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++) {
                if (k >= nc) break;
                _mm_mask_storeu_epi8(d + (size_t)k * ds, sm, _mm512_castsi512_si128(r[k]));
                if (16 + k < nc)
                    _mm_mask_storeu_epi8(d + (size_t)(16 + k) * ds, sm, _mm512_extracti32x4_epi32(r[k], 1));
                if (32 + k < nc)
                    _mm_mask_storeu_epi8(d + (size_t)(32 + k) * ds, sm, _mm512_extracti32x4_epi32(r[k], 2));
                if (48 + k < nc)
                    _mm_mask_storeu_epi8(d + (size_t)(48 + k) * ds, sm, _mm512_extracti32x4_epi32(r[k], 3));
            }
        }
    }
}

/* 64 bytes a step from both ends; the middle (under 128 bytes) as two
 * overlapping vectors, or one masked one under 64. */
PX512 static void reverse_avx512(uint8_t *p, int n) {
    uint8_t m[64];
    for (int k = 0; k < 64; k++) m[k] = (uint8_t)(63 - k);
    const __m512i rev = _mm512_loadu_si512(m);
    int i = 0, j = n;
    for (; j - i >= 64; i += 64, j -= 64) { /* j - i < 128 the last time: overlapping, still right */
        const __m512i a = _mm512_loadu_si512(p + i), b = _mm512_loadu_si512(p + j - 64);
        _mm512_storeu_si512(p + i, _mm512_permutexvar_epi8(rev, b));
        _mm512_storeu_si512(p + j - 64, _mm512_permutexvar_epi8(rev, a));
    }
    if (j - i > 1) { /* byte k from len - 1 - k */
        const int len = j - i;
        const __mmask64 lm = ((__mmask64)1 << len) - 1;
        const __m512i idx = _mm512_sub_epi8(rev, _mm512_set1_epi8((char)(64 - len)));
        const __m512i a = _mm512_maskz_loadu_epi8(lm, p + i);
        _mm512_mask_storeu_epi8(p + i, lm, _mm512_permutexvar_epi8(idx, a));
    }
}

/* The packed path (rotated frames, images) stays the AVX2 set's. */
static void yuv_rgb_avx512(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                           int n, const pe_yuv_coef *c, uint8_t *rgb) {
    pe_pixels_avx2.yuv_rgb(y, u, v, cps, x0, n, c, rgb);
}

static void packed_rgb_avx512(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb) {
    pe_pixels_avx2.packed_rgb(src, n, r, g, b, rgb);
}

static void hpass_rgb_avx512(const pp_span *span, const int16_t *kp, int W, int col0,
                             const uint8_t *row, uint8_t *dst) {
    pe_pixels_avx2.hpass_rgb(span, kp, W, col0, row, dst);
}

/* Taps of the vertical pass up to which its weights are split on the
 * stack; wider ones (extreme downscales) take the AVX2 pass. */
#define VPASS_MAX_TAPS 256

#define VACC(d, a0, a1, a2)                                                                        \
    do {                                                                                           \
        a0 = _mm512_dpbusd_epi32(a0, d, w0);                                                       \
        a1 = _mm512_dpbusd_epi32(a1, d, w1);                                                       \
        a2 = _mm512_dpbusd_epi32(a2, d, w2);                                                       \
    } while (0)

PX512 static inline __m512i vfinish(__m512i a0, __m512i a1, __m512i a2) {
    __m512i s = _mm512_add_epi32(_mm512_slli_epi32(a2, 16), _mm512_slli_epi32(a1, 8));
    s = _mm512_add_epi32(_mm512_add_epi32(s, a0), _mm512_set1_epi32(1 << (PP_PRECISION_BITS - 1)));
    return _mm512_srai_epi32(s, PP_PRECISION_BITS);
}

/* The vertical pass, 64 bytes a step: four rows' bytes interleaved into
 * int32 lanes (byte q of lane j: row t+q, column j) meet the four taps'
 * weight bytes in vpdpbusd, as in the horizontal pass; the unpacks work
 * within 128-bit lanes and the packs undo their order. */
PX512 static void vpass_avx512(const uint8_t *src, size_t stride, const int32_t *k, int count,
                               size_t n, uint8_t *dst) {
    if (count > VPASS_MAX_TAPS) {
        pe_pixels_avx2.vpass(src, stride, k, count, n, dst);
        return;
    }
    uint32_t wq[VPASS_MAX_TAPS / 4][3] = {{0}}; /* per quad of taps: its weights' bytes */
    const uint8_t *rows[VPASS_MAX_TAPS + 3];
    for (int t = 0; t < (count + 3) / 4 * 4; t++) {
        /* a tap past the count: weight 0 on the last row, in bounds */
        rows[t] = src + (size_t)(t < count ? t : count - 1) * stride;
        if (t >= count) continue;
        int32_t b[3];
        pe_weight_bytes(k[t], b);
        for (int j = 0; j < 3; j++) wq[t / 4][j] |= (uint32_t)(uint8_t)b[j] << (8 * (t & 3));
    }
    const __m512i z = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 64) {
        const __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - i)) - 1;
        __m512i a0 = z, a1 = z, a2 = z, b0 = z, b1 = z, b2 = z;
        __m512i c0 = z, c1 = z, c2 = z, d0 = z, d1 = z, d2 = z;
        for (int t = 0; t < count; t += 4) {
            const __m512i r0 = _mm512_maskz_loadu_epi8(m, rows[t] + i);
            const __m512i r1 = _mm512_maskz_loadu_epi8(m, rows[t + 1] + i);
            const __m512i r2 = _mm512_maskz_loadu_epi8(m, rows[t + 2] + i);
            const __m512i r3 = _mm512_maskz_loadu_epi8(m, rows[t + 3] + i);
            const __m512i t0 = _mm512_unpacklo_epi8(r0, r1), t1 = _mm512_unpackhi_epi8(r0, r1);
            const __m512i t2 = _mm512_unpacklo_epi8(r2, r3), t3 = _mm512_unpackhi_epi8(r2, r3);
            const __m512i w0 = _mm512_set1_epi32((int)wq[t / 4][0]);
            const __m512i w1 = _mm512_set1_epi32((int)wq[t / 4][1]);
            const __m512i w2 = _mm512_set1_epi32((int)wq[t / 4][2]);
            VACC(_mm512_unpacklo_epi16(t0, t2), a0, a1, a2); /* columns 0-3 of each lane */
            VACC(_mm512_unpackhi_epi16(t0, t2), b0, b1, b2); /* 4-7 */
            VACC(_mm512_unpacklo_epi16(t1, t3), c0, c1, c2); /* 8-11 */
            VACC(_mm512_unpackhi_epi16(t1, t3), d0, d1, d2); /* 12-15 */
        }
        const __m512i lo = _mm512_packs_epi32(vfinish(a0, a1, a2), vfinish(b0, b1, b2));
        const __m512i hi = _mm512_packs_epi32(vfinish(c0, c1, c2), vfinish(d0, d1, d2));
        _mm512_mask_storeu_epi8(dst + i, m, _mm512_packus_epi16(lo, hi));
    }
}

const pe_pixels pe_pixels_avx512 = {
    .name = "avx512",
    .yuv_rgb = yuv_rgb_avx512,
    .packed_rgb = packed_rgb_avx512,
    .hpass_rgb = hpass_rgb_avx512,
    .vpass = vpass_avx512,
    .yuv_planes = yuv_planes_avx512,
    .packed_planes = packed_planes_avx512,
    .hpass_planes = hpass_planes_avx512,
    .lut_row = lut_row_avx512,
    .transpose = transpose_avx512,
    .reverse = reverse_avx512,
};
