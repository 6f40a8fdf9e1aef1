/* NEON (ARMv8.0) pixel kernels, bit-identical to the scalar ones; the same
 * arithmetic as pixels_avx2.c (see there), with ARM's tools for it:
 * vcvtnq_s32_f32 rounds to nearest even, vst3q / vld3 / vld4 interleave.
 * The planar path (pixels.h) too: the conversions store planes, the
 * horizontal pass reads the AVX-512 gather table with table lookups and
 * int16 products (no SDOT/UDOT), rotated frames transpose 16 x 16 tiles. */
#include "pixels.h"

#include <arm_neon.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* 8 chroma samples of the 16 pixels from x (even) on; see yuv_rgb_neon. */
static inline int load_chroma(const uint8_t *p, int cps, int x, int left, uint8x8_t *out) {
    if (cps == 1) {
        *out = vld1_u8(p);
    } else if (x >= 2) {
        *out = vld2_u8(p - 1).val[1]; /* ends at the eighth sample */
    } else if (left > 16) {
        *out = vld2_u8(p).val[0]; /* one byte past it, owned by the next pixel */
    } else {
        return 0;
    }
    return 1;
}

static inline float32x4_t to_f32(uint16x4_t v, int32x4_t off) {
    return vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(vmovl_u16(v)), off));
}

/* 4 + 4 + 4 + 4 rounded values -> 16 bytes, saturated to 0..255. */
static inline uint8x16_t narrow16(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    int16x8_t lo = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(a)), vqmovn_s32(vcvtnq_s32_f32(b)));
    int16x8_t hi = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(c)), vqmovn_s32(vcvtnq_s32_f32(d)));
    return vcombine_u8(vqmovun_s16(lo), vqmovun_s16(hi));
}

/* R, G, B of the 16 pixels from x (even; the chroma loaded for them). */
static inline uint8x16x3_t yuv16(const uint8_t *y, uint8x8_t u8, uint8x8_t v8, int x,
                                 const pe_yuv_coef *c) {
    const int32x4_t yoff = vdupq_n_s32(c->yoff), c128 = vdupq_n_s32(128);
    const uint16x8_t u16 = vmovl_u8(u8), v16 = vmovl_u8(v8);
    float32x4_t tr[2], tg[2], tb[2];
    for (int h = 0; h < 2; h++) { /* samples 4h .. 4h+3 */
        const float32x4_t fu = to_f32(h ? vget_high_u16(u16) : vget_low_u16(u16), c128);
        const float32x4_t fv = to_f32(h ? vget_high_u16(v16) : vget_low_u16(v16), c128);
        tr[h] = vmulq_f32(vdupq_n_f32(c->crv), fv);
        tg[h] = vaddq_f32(vmulq_f32(vdupq_n_f32(c->cgu), fu), vmulq_f32(vdupq_n_f32(c->cgv), fv));
        tb[h] = vmulq_f32(vdupq_n_f32(c->cbu), fu);
    }
    const uint8x16_t y8 = vld1q_u8(y + x);
    const uint16x8_t ylo = vmovl_u8(vget_low_u8(y8)), yhi = vmovl_u8(vget_high_u8(y8));
    float32x4_t fy[4];
    const uint16x4_t yq[4] = {vget_low_u16(ylo), vget_high_u16(ylo), vget_low_u16(yhi), vget_high_u16(yhi)};
    for (int q = 0; q < 4; q++) fy[q] = vmulq_f32(vdupq_n_f32(c->cy), to_f32(yq[q], yoff));
    /* pixel quad q takes samples 2q, 2q+1, each twice */
    float32x4_t r[4], g[4], b[4];
    for (int q = 0; q < 4; q++) {
        const int h = q >> 1, second = q & 1;
        const float32x4_t dr = second ? vzip2q_f32(tr[h], tr[h]) : vzip1q_f32(tr[h], tr[h]);
        const float32x4_t dg = second ? vzip2q_f32(tg[h], tg[h]) : vzip1q_f32(tg[h], tg[h]);
        const float32x4_t db = second ? vzip2q_f32(tb[h], tb[h]) : vzip1q_f32(tb[h], tb[h]);
        r[q] = vaddq_f32(fy[q], dr);
        g[q] = vaddq_f32(fy[q], dg);
        b[q] = vaddq_f32(fy[q], db);
    }
    uint8x16x3_t out;
    out.val[0] = narrow16(r[0], r[1], r[2], r[3]);
    out.val[1] = narrow16(g[0], g[1], g[2], g[3]);
    out.val[2] = narrow16(b[0], b[1], b[2], b[3]);
    return out;
}

static void yuv_rgb_neon(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
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
        uint8x8_t u8, v8;
        if (!load_chroma(u + ci, cps, x, end - x, &u8) || !load_chroma(v + ci, cps, x, end - x, &v8)) break;
        vst3q_u8(rgb, yuv16(y, u8, v8, x, c));
    }
    if (x < end) pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, end - x, c, rgb);
}

/* yuv_rgb_neon into planes. */
static void yuv_planes_neon(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                            int n, const pe_yuv_coef *c, uint8_t *rgb, size_t ps) {
    int x = x0;
    const int end = x0 + n;
    if (x & 1) {
        pe_yuv_planes_scalar(y, u, v, cps, x, 1, c, rgb, ps);
        x++;
        rgb++;
    }
    for (; end - x >= 16; x += 16, rgb += 16) {
        const size_t ci = (size_t)(x >> 1) * (size_t)cps;
        uint8x8_t u8, v8;
        if (!load_chroma(u + ci, cps, x, end - x, &u8) || !load_chroma(v + ci, cps, x, end - x, &v8)) break;
        const uint8x16x3_t o = yuv16(y, u8, v8, x, c);
        vst1q_u8(rgb, o.val[0]);
        vst1q_u8(rgb + ps, o.val[1]);
        vst1q_u8(rgb + 2 * ps, o.val[2]);
    }
    if (x < end) pe_yuv_planes_scalar(y, u, v, cps, x, end - x, c, rgb, ps);
}

static void packed_planes_neon(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb,
                               size_t ps) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8x16x4_t p = vld4q_u8(src + 4 * (size_t)i);
        vst1q_u8(rgb + i, p.val[r]);
        vst1q_u8(rgb + ps + i, p.val[g]);
        vst1q_u8(rgb + 2 * ps + i, p.val[b]);
    }
    if (i < n) pe_packed_planes_scalar(src + 4 * (size_t)i, n - i, r, g, b, rgb + i, ps);
}

static void packed_rgb_neon(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8x16x4_t p = vld4q_u8(src + 4 * (size_t)i);
        uint8x16x3_t o;
        o.val[0] = p.val[r];
        o.val[1] = p.val[g];
        o.val[2] = p.val[b];
        vst3q_u8(rgb + 3 * (size_t)i, o);
    }
    if (i < n) pe_pixels_scalar.packed_rgb(src + 4 * (size_t)i, n - i, r, g, b, rgb + 3 * (size_t)i);
}

/* Taps 0..3 of a packed group half (hi or lo): lanes 0, 1 of the first
 * 8 int16 and of the next 8. */
static inline int16x4_t group_taps(const int16_t *g) {
    const int32x4_t a = vreinterpretq_s32_s16(vld1q_s16(g)), b = vreinterpretq_s32_s16(vld1q_s16(g + 8));
    return vget_low_s16(vreinterpretq_s16_s32(vzip1q_s32(a, b)));
}

static void hpass_rgb_neon(const pp_span *span, const int16_t *kp, int W, int col0,
                           const uint8_t *row, uint8_t *dst) {
    for (int o = 0; o < W; o++) {
        const uint8_t *s = row + (size_t)(span[o].min - col0) * 3;
        const int16_t *k = kp + span[o].g * PE_HPACK_GROUP;
        int32x4_t h[3] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)}, l[3] = {h[0], h[0], h[0]};
        for (int t = 0; t < span[o].count; t += 4, s += 12, k += PE_HPACK_GROUP) {
            const uint8x8x3_t px = vld3_u8(s); /* 8 pixels, 4 used */
            const int16x4_t kh = group_taps(k), kl = group_taps(k + 16);
            for (int c = 0; c < 3; c++) {
                const int16x4_t p = vget_low_s16(vreinterpretq_s16_u16(vmovl_u8(px.val[c])));
                h[c] = vmlal_s16(h[c], p, kh);
                l[c] = vmlal_s16(l[c], p, kl);
            }
        }
        for (int c = 0; c < 3; c++) {
            const int32_t ss = vaddvq_s32(h[c]) * 2048 + vaddvq_s32(l[c]) + (1 << (PP_PRECISION_BITS - 1));
            dst[3 * (size_t)o + c] = pe_clip8(ss);
        }
    }
}

static void vpass_neon(const uint8_t *src, size_t stride, const int32_t *k, int count, size_t n,
                       uint8_t *dst) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int32x4_t a[4];
        for (int j = 0; j < 4; j++) a[j] = vdupq_n_s32(1 << (PP_PRECISION_BITS - 1));
        const uint8_t *s = src + i;
        for (int t = 0; t < count; t++, s += stride) {
            const uint8x16_t b = vld1q_u8(s);
            const uint16x8_t lo = vmovl_u8(vget_low_u8(b)), hi = vmovl_u8(vget_high_u8(b));
            a[0] = vmlaq_n_s32(a[0], vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(lo))), k[t]);
            a[1] = vmlaq_n_s32(a[1], vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(lo))), k[t]);
            a[2] = vmlaq_n_s32(a[2], vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(hi))), k[t]);
            a[3] = vmlaq_n_s32(a[3], vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(hi))), k[t]);
        }
        int16x8_t w0 = vcombine_s16(vqmovn_s32(vshrq_n_s32(a[0], PP_PRECISION_BITS)),
                                    vqmovn_s32(vshrq_n_s32(a[1], PP_PRECISION_BITS)));
        int16x8_t w1 = vcombine_s16(vqmovn_s32(vshrq_n_s32(a[2], PP_PRECISION_BITS)),
                                    vqmovn_s32(vshrq_n_s32(a[3], PP_PRECISION_BITS)));
        vst1q_u8(dst + i, vcombine_u8(vqmovun_s16(w0), vqmovun_s16(w1)));
    }
    for (; i < n; i++) {
        int64_t ss = 1 << (PP_PRECISION_BITS - 1);
        for (int t = 0; t < count; t++) ss += (int64_t)src[(size_t)t * stride + i] * k[t];
        dst[i] = pe_clip8(ss);
    }
}

/* One plane of a group of 16 outputs (pixels.h: pe_hgather): per quad, two
 * table lookups gather each output's four taps from the 128-byte window
 * (vqtbl4q for its first 64 bytes, vqtbx4q for the rest); a tap's products
 * with the weight's three signed bytes are exact in int16 (|p w| <= 32640)
 * and meet in int32 as p w0 + 256 p w1 + 65536 p w2, wrapping as the AVX-512
 * sums do; the lanes hold two taps each until the end. */
static void hgroup_plane(const uint8_t *win, const uint8_t *tq, int quads, uint8_t out[16]) {
    const uint8x16x4_t lo = vld1q_u8_x4(win), hi = vld1q_u8_x4(win + 64);
    int32x4_t acc[8];
    for (int k = 0; k < 8; k++) acc[k] = vdupq_n_s32(0);
    for (int q = 0; q < quads; q++, tq += PE_HG_QUAD) {
        for (int m = 0; m < 4; m++) { /* outputs 4m .. 4m+3 */
            const uint8x16_t idx = vld1q_u8(tq + 16 * m);
            const uint8x16_t px = vqtbx4q_u8(vqtbl4q_u8(lo, idx), hi, vsubq_u8(idx, vdupq_n_u8(64)));
            const int8x16_t w0 = vld1q_s8((const int8_t *)(tq + 64 + 16 * m));
            const int8x16_t w1 = vld1q_s8((const int8_t *)(tq + 128 + 16 * m));
            const int8x16_t w2 = vld1q_s8((const int8_t *)(tq + 192 + 16 * m));
            for (int h = 0; h < 2; h++) { /* outputs 4m + 2h, 4m + 2h + 1 */
                const int16x8_t p = vreinterpretq_s16_u16(h ? vmovl_high_u8(px) : vmovl_u8(vget_low_u8(px)));
                const int16x8_t a0 = vmulq_s16(p, h ? vmovl_high_s8(w0) : vmovl_s8(vget_low_s8(w0)));
                const int16x8_t a1 = vmulq_s16(p, h ? vmovl_high_s8(w1) : vmovl_s8(vget_low_s8(w1)));
                const int16x8_t a2 = vmulq_s16(p, h ? vmovl_high_s8(w2) : vmovl_s8(vget_low_s8(w2)));
                int32x4_t t = vaddq_s32(vshlq_n_s32(vpaddlq_s16(a2), 16), vshlq_n_s32(vpaddlq_s16(a1), 8));
                acc[2 * m + h] = vaddq_s32(acc[2 * m + h], vaddq_s32(t, vpaddlq_s16(a0)));
            }
        }
    }
    const int32x4_t half = vdupq_n_s32(1 << (PP_PRECISION_BITS - 1));
    uint16x4_t o16[4];
    for (int m = 0; m < 4; m++) {
        const int32x4_t s = vaddq_s32(vpaddq_s32(acc[2 * m], acc[2 * m + 1]), half);
        o16[m] = vqmovun_s32(vshrq_n_s32(s, PP_PRECISION_BITS)); /* < 0: 0 */
    }
    const uint16x8_t a = vcombine_u16(o16[0], o16[1]), b = vcombine_u16(o16[2], o16[3]);
    vst1q_u8(out, vcombine_u8(vqmovn_u16(a), vqmovn_u16(b))); /* > 255: 255 */
}

static void hpass_planes_neon(const pe_hgather *t, int W, int C, const uint8_t *row, size_t ps,
                              uint8_t *dst, size_t dps) {
    const size_t qbytes = (size_t)t->quads * PE_HG_QUAD;
    uint8_t out[16];
    for (int g = 0; g < t->groups; g++) {
        const int o = g * PE_HG_OUT, keep = PE_MIN(W - o, PE_HG_OUT);
        for (int c = 0; c < C; c++) {
            hgroup_plane(row + c * ps + t->base[g], t->taps + (size_t)g * qbytes, t->quads, out);
            memcpy(dst + c * dps + o, out, (size_t)keep);
        }
    }
}

static void lut_row_neon(const float *lut, const uint8_t *src, int n, float *dst) {
    for (int i = 0; i < n; i++) dst[i] = lut[src[i]];
}

/* Tiles of 16 x 16 bytes, transposed by four rounds of zips pairing rows i
 * and i + 8 into rows 2i, 2i + 1 (each rotates the 8-bit address (row,
 * byte) left by one bit, see pixels_avx512.c); the edges in scalar. */
static void transpose_neon(const uint8_t *src, ptrdiff_t ss, int rows, int cols, uint8_t *dst,
                           size_t ds) {
    const int rows16 = rows & ~15, cols16 = cols & ~15;
    for (int i0 = 0; i0 < rows16; i0 += 16)
        for (int j0 = 0; j0 < cols16; j0 += 16) {
            uint8x16_t r[16], t[16]; /* unrolled: in registers */
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++) r[i] = vld1q_u8(src + (ptrdiff_t)(i0 + i) * ss + j0);
#pragma GCC unroll 4
            for (int round = 0; round < 4; round++) {
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) {
                    t[2 * i] = vzip1q_u8(r[i], r[i + 8]);
                    t[2 * i + 1] = vzip2q_u8(r[i], r[i + 8]);
                }
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++) r[i] = t[i];
            }
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++) vst1q_u8(dst + (size_t)(j0 + k) * ds + i0, r[k]);
        }
    if (cols16 < cols) /* the right edge, all rows */
        pe_transpose_scalar(src + cols16, ss, rows, cols - cols16, dst + (size_t)cols16 * ds, ds);
    if (rows16 < rows) /* the bottom edge */
        pe_transpose_scalar(src + (ptrdiff_t)rows16 * ss, ss, rows - rows16, cols16, dst + rows16, ds);
}

/* 16 bytes a step from both ends, the middle in scalar. */
static void reverse_neon(uint8_t *p, int n) {
    int i = 0, j = n;
    for (; j - i >= 32; i += 16, j -= 16) {
        const uint8x16_t a = vld1q_u8(p + i), b = vld1q_u8(p + j - 16);
        const uint8x16_t ra = vrev64q_u8(a), rb = vrev64q_u8(b);
        vst1q_u8(p + i, vextq_u8(rb, rb, 8));
        vst1q_u8(p + j - 16, vextq_u8(ra, ra, 8));
    }
    pe_reverse_scalar(p + i, j - i);
}

const pe_pixels pe_pixels_neon = {
    .name = "neon",
    .yuv_rgb = yuv_rgb_neon,
    .packed_rgb = packed_rgb_neon,
    .hpass_rgb = hpass_rgb_neon,
    .vpass = vpass_neon,
    .yuv_planes = yuv_planes_neon,
    .packed_planes = packed_planes_neon,
    .hpass_planes = hpass_planes_neon,
    .lut_row = lut_row_neon,
    .transpose = transpose_neon,
    .reverse = reverse_neon,
};
