/* WebAssembly SIMD128 pixel kernels, bit-identical to pixels.c /
 * preprocess.c's scalar code (tests/test_frame.c compares them under node):
 * the packed-RGB path of pixels_avx2.c at 128 bits.
 *
 *   yuv_rgb    16 pixels a step: the matrix in float with the same products
 *              and sums as the scalar code (SIMD128 has no FMA to fuse
 *              them), rounded by f32x4.nearest (ties to even, exact for
 *              these magnitudes) and clamped by the saturating narrows;
 *              two constant shuffles per 16 output bytes interleave RGB.
 *   packed_rgb 4 pixels a step, one byte swizzle (the channel offsets are
 *              run-time values).
 *   hpass_rgb  per output pixel, four taps a step: taps 0, 1 and 2, 3 of
 *              R, G, B as int16 pairs against the hi / lo halves of the
 *              22-bit weights (i32x4.dot_i16x8_s), so the int32 sums are
 *              exact.
 *   vpass      16 bytes a step, int32 multiply-accumulate over the taps.
 *
 * The planar path (hpass_planes' 128-byte gather) is left to the sets with
 * wide table lookups: i8x16.swizzle reads 16 bytes, so a window would take
 * eight lookups per 16 taps. */
#include "pixels.h"

#include <string.h>
#include <wasm_simd128.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* 8 chroma samples (bytes 0..7) of the 16 pixels from x (even) on; 0 where
 * the only safe load would read past the row (the caller goes scalar). */
static inline int load_chroma(const uint8_t *p, int cps, int x, int left, v128_t *out) {
    const v128_t z = wasm_i8x16_splat(0);
    if (cps == 1) {
        *out = wasm_v128_load64_zero(p);
    } else if (x >= 2) {
        /* 16 bytes ending at the eighth sample: the first is the previous
         * sample's second byte, inside the row */
        const v128_t b = wasm_v128_load(p - 1);
        *out = wasm_i8x16_shuffle(b, z, 1, 3, 5, 7, 9, 11, 13, 15, 16, 16, 16, 16, 16, 16, 16, 16);
    } else if (left > 16) {
        /* at the row start: one byte past the eighth sample, which the pixel
         * after the block reads anyway */
        const v128_t b = wasm_v128_load(p);
        *out = wasm_i8x16_shuffle(b, z, 0, 2, 4, 6, 8, 10, 12, 14, 16, 16, 16, 16, 16, 16, 16, 16);
    } else {
        return 0;
    }
    return 1;
}

/* Bytes 0..3 of v (as uint8) minus off, in float. */
static inline v128_t quad_f32(v128_t v, v128_t off) {
    const v128_t w = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(v));
    return wasm_f32x4_convert_i32x4(wasm_i32x4_sub(w, off));
}

/* 4 + 4 + 4 + 4 floats -> 16 bytes: rounded to nearest even, saturated. */
static inline v128_t narrow16(const v128_t f[4]) {
    v128_t i[4];
    for (int q = 0; q < 4; q++) i[q] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(f[q]));
    const v128_t lo = wasm_i16x8_narrow_i32x4(i[0], i[1]), hi = wasm_i16x8_narrow_i32x4(i[2], i[3]);
    return wasm_u8x16_narrow_i16x8(lo, hi);
}

/* Lanes 0 0 1 1 and 2 2 3 3 of v. */
static inline v128_t dup_lo(v128_t v) { return wasm_i32x4_shuffle(v, v, 0, 0, 1, 1); }
static inline v128_t dup_hi(v128_t v) { return wasm_i32x4_shuffle(v, v, 2, 2, 3, 3); }

/* R, G, B of the 16 pixels from y (chroma samples u8, v8 in bytes 0..7). */
static inline void yuv16(const uint8_t *y, v128_t u8, v128_t v8, const pe_yuv_coef *c, v128_t out[3]) {
    const v128_t yoff = wasm_i32x4_splat(c->yoff), c128 = wasm_i32x4_splat(128);
    const v128_t cy = wasm_f32x4_splat(c->cy), crv = wasm_f32x4_splat(c->crv);
    const v128_t cgu = wasm_f32x4_splat(c->cgu), cgv = wasm_f32x4_splat(c->cgv);
    const v128_t cbu = wasm_f32x4_splat(c->cbu);
    v128_t tr[2], tg[2], tb[2];
    for (int h = 0; h < 2; h++) { /* samples 4h .. 4h+3 */
        const v128_t fu = quad_f32(h ? wasm_u64x2_shr(u8, 32) : u8, c128);
        const v128_t fv = quad_f32(h ? wasm_u64x2_shr(v8, 32) : v8, c128);
        tr[h] = wasm_f32x4_mul(crv, fv);
        tg[h] = wasm_f32x4_add(wasm_f32x4_mul(cgu, fu), wasm_f32x4_mul(cgv, fv));
        tb[h] = wasm_f32x4_mul(cbu, fu);
    }
    const v128_t y16 = wasm_v128_load(y);
    /* bytes 4q .. 4q+3 moved down to 0..3 (quad_f32 reads those) */
    const v128_t yq[4] = {y16, wasm_i32x4_shuffle(y16, y16, 1, 1, 1, 1),
                          wasm_i32x4_shuffle(y16, y16, 2, 2, 2, 2),
                          wasm_i32x4_shuffle(y16, y16, 3, 3, 3, 3)};
    v128_t r[4], g[4], b[4];
    for (int q = 0; q < 4; q++) { /* pixels 4q .. 4q+3 take samples 2q, 2q+1, each twice */
        const v128_t fy = wasm_f32x4_mul(cy, quad_f32(yq[q], yoff));
        const int h = q >> 1, odd = q & 1;
        r[q] = wasm_f32x4_add(fy, odd ? dup_hi(tr[h]) : dup_lo(tr[h]));
        g[q] = wasm_f32x4_add(fy, odd ? dup_hi(tg[h]) : dup_lo(tg[h]));
        b[q] = wasm_f32x4_add(fy, odd ? dup_hi(tb[h]) : dup_lo(tb[h]));
    }
    out[0] = narrow16(r);
    out[1] = narrow16(g);
    out[2] = narrow16(b);
}

/* 16 bytes of each channel -> 48 bytes of RGB: byte j of output vector k is
 * channel (16k+j) % 3 of pixel (16k+j) / 3; R and G are placed first, then
 * B over the lanes left. */
static inline void store_rgb16(uint8_t *out, v128_t r, v128_t g, v128_t b) {
    v128_t t = wasm_i8x16_shuffle(r, g, 0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5);
    t = wasm_i8x16_shuffle(t, b, 0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15);
    wasm_v128_store(out, t);
    t = wasm_i8x16_shuffle(r, g, 21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26);
    t = wasm_i8x16_shuffle(t, b, 0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15);
    wasm_v128_store(out + 16, t);
    t = wasm_i8x16_shuffle(r, g, 0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0);
    t = wasm_i8x16_shuffle(t, b, 26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31);
    wasm_v128_store(out + 32, t);
}

/* 16 pixels a step; the odd first pixel (blocks start even) and the tail
 * in scalar. */
static void yuv_rgb_wasm(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                         int n, const pe_yuv_coef *c, uint8_t *rgb) {
    int x = x0;
    const int end = x0 + n;
    if (x & 1) {
        pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, 1, c, rgb);
        x++;
        rgb += 3;
    }
    for (; end - x >= 16; x += 16, rgb += 48) {
        const size_t ci = (size_t)(x >> 1) * (size_t)cps;
        v128_t u8, v8, o[3];
        if (!load_chroma(u + ci, cps, x, end - x, &u8)) break;
        if (!load_chroma(v + ci, cps, x, end - x, &v8)) break;
        yuv16(y + x, u8, v8, c, o);
        store_rgb16(rgb, o[0], o[1], o[2]);
    }
    if (x < end) pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, end - x, c, rgb);
}

static void packed_rgb_wasm(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb) {
    uint8_t m[16];
    memset(m, 0x80, sizeof m); /* out of range: a zero byte */
    for (int j = 0; j < 4; j++) {
        m[3 * j] = (uint8_t)(4 * j + r);
        m[3 * j + 1] = (uint8_t)(4 * j + g);
        m[3 * j + 2] = (uint8_t)(4 * j + b);
    }
    const v128_t sh = wasm_v128_load(m);
    int i = 0;
    /* 4 pixels a step, stored as 16 bytes of which 12 count: the next step
     * (or the tail) overwrites the rest, so 6 pixels must remain. */
    for (; i + 6 <= n; i += 4)
        wasm_v128_store(rgb + 3 * (size_t)i,
                        wasm_i8x16_swizzle(wasm_v128_load(src + 4 * (size_t)i), sh));
    if (i < n) pe_pixels_scalar.packed_rgb(src + 4 * (size_t)i, n - i, r, g, b, rgb + 3 * (size_t)i);
}

static void hpass_rgb_wasm(const pp_span *span, const int16_t *kp, int W, int col0,
                           const uint8_t *row, uint8_t *dst) {
    const v128_t z = wasm_i8x16_splat(0), half = wasm_i32x4_splat(1 << (PP_PRECISION_BITS - 1));
    for (int o = 0; o < W; o++) {
        const uint8_t *s = row + (size_t)(span[o].min - col0) * 3;
        const int16_t *k = kp + span[o].g * PE_HPACK_GROUP;
        v128_t ah = wasm_i32x4_splat(0), al = ah;
        for (int t = 0; t < span[o].count; t += 4, s += 12, k += PE_HPACK_GROUP) {
            const v128_t px = wasm_v128_load(s);
            /* int16 pairs (R0 R1, G0 G1, B0 B1, 0 0), then the same of taps 2, 3 */
            const v128_t p01 =
                wasm_i8x16_shuffle(px, z, 0, 16, 3, 16, 1, 16, 4, 16, 2, 16, 5, 16, 16, 16, 16, 16);
            const v128_t p23 =
                wasm_i8x16_shuffle(px, z, 6, 16, 9, 16, 7, 16, 10, 16, 8, 16, 11, 16, 16, 16, 16, 16);
            ah = wasm_i32x4_add(ah, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p01, wasm_v128_load(k)),
                                                   wasm_i32x4_dot_i16x8(p23, wasm_v128_load(k + 8))));
            al = wasm_i32x4_add(al, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p01, wasm_v128_load(k + 16)),
                                                   wasm_i32x4_dot_i16x8(p23, wasm_v128_load(k + 24))));
        }
        v128_t ss = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_shl(ah, 11), al), half);
        ss = wasm_i32x4_shr(ss, PP_PRECISION_BITS);
        const v128_t w = wasm_i16x8_narrow_i32x4(ss, ss);
        const uint32_t px3 = wasm_i32x4_extract_lane(wasm_u8x16_narrow_i16x8(w, w), 0);
        memcpy(dst + 3 * (size_t)o, &px3, 3);
    }
}

static void vpass_wasm(const uint8_t *src, size_t stride, const int32_t *k, int count, size_t n,
                       uint8_t *dst) {
    const v128_t half = wasm_i32x4_splat(1 << (PP_PRECISION_BITS - 1));
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t a[4] = {half, half, half, half};
        const uint8_t *s = src + i;
        for (int t = 0; t < count; t++, s += stride) {
            const v128_t kk = wasm_i32x4_splat(k[t]), b = wasm_v128_load(s);
            const v128_t lo = wasm_u16x8_extend_low_u8x16(b), hi = wasm_u16x8_extend_high_u8x16(b);
            a[0] = wasm_i32x4_add(a[0], wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), kk));
            a[1] = wasm_i32x4_add(a[1], wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), kk));
            a[2] = wasm_i32x4_add(a[2], wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), kk));
            a[3] = wasm_i32x4_add(a[3], wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), kk));
        }
        for (int j = 0; j < 4; j++) a[j] = wasm_i32x4_shr(a[j], PP_PRECISION_BITS);
        /* < 0: 0, > 255: 255, as pe_clip8 */
        wasm_v128_store(dst + i, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(a[0], a[1]),
                                                          wasm_i16x8_narrow_i32x4(a[2], a[3])));
    }
    for (; i < n; i++) {
        int64_t ss = 1 << (PP_PRECISION_BITS - 1);
        for (int t = 0; t < count; t++) ss += (int64_t)src[(size_t)t * stride + i] * k[t];
        dst[i] = pe_clip8(ss);
    }
}

const pe_pixels pe_pixels_wasm = {
    .name = "wasm-simd128",
    .yuv_rgb = yuv_rgb_wasm,
    .packed_rgb = packed_rgb_wasm,
    .hpass_rgb = hpass_rgb_wasm,
    .vpass = vpass_wasm,
};
