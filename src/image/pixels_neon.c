/* NEON (ARMv8.0) pixel kernels, bit-identical to the scalar ones; the same
 * arithmetic as pixels_avx2.c (see there), with ARM's tools for it:
 * vcvtnq_s32_f32 rounds to nearest even, vst3q / vld3 / vld4 interleave. */
#include "pixels.h"

#include <arm_neon.h>

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

static void yuv_rgb_neon(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                         int n, const pe_yuv_coef *c, uint8_t *rgb) {
    int x = x0;
    const int end = x0 + n;
    if (x & 1) {
        pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, 1, c, rgb);
        x++;
        rgb += 3;
    }
    const int32x4_t yoff = vdupq_n_s32(c->yoff), c128 = vdupq_n_s32(128);
    for (; end - x >= 16; x += 16, rgb += 48) {
        const size_t ci = (size_t)(x >> 1) * (size_t)cps;
        uint8x8_t u8, v8;
        if (!load_chroma(u + ci, cps, x, end - x, &u8) || !load_chroma(v + ci, cps, x, end - x, &v8)) break;
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
        vst3q_u8(rgb, out);
    }
    if (x < end) pe_pixels_scalar.yuv_rgb(y, u, v, cps, x, end - x, c, rgb);
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

const pe_pixels pe_pixels_neon = {
    .name = "neon",
    .yuv_rgb = yuv_rgb_neon,
    .packed_rgb = packed_rgb_neon,
    .hpass_rgb = hpass_rgb_neon,
    .vpass = vpass_neon,
};
