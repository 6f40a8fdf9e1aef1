/* Scalar pixel kernels: the specification the SIMD files match.  Which set
 * runs is the chosen ISA level's (src/kernels/isa.c). */
#include "pixels.h"

#include "../kernels/isa.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* the matrix is separate roundings; see pixels.h */
#endif

/* Kr, Kb of each standard; the matrix follows from them (ITU-R BT.601 /
 * BT.709 section 3): R = Y + 2(1-Kr) Cr, B = Y + 2(1-Kb) Cb,
 * G = Y - 2(1-Kb) Kb/Kg Cb - 2(1-Kr) Kr/Kg Cr.  Limited range first maps
 * Y 16..235 and Cb, Cr 16..240 onto 0..255 (factors 255/219, 255/224). */
void pe_yuv_coef_init(pe_yuv_matrix m, pe_yuv_coef *c) {
    const int bt709 = m == PE_YUV_BT709_LIMITED || m == PE_YUV_BT709_FULL;
    const int full = m == PE_YUV_BT601_FULL || m == PE_YUV_BT709_FULL;
    const double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114;
    const double kg = 1.0 - kr - kb;
    const double sy = full ? 1.0 : 255.0 / 219.0, sc = full ? 1.0 : 255.0 / 224.0;
    c->cy = (float)sy;
    c->yoff = full ? 0 : 16;
    c->crv = (float)(2.0 * (1.0 - kr) * sc);
    c->cbu = (float)(2.0 * (1.0 - kb) * sc);
    c->cgu = (float)(-2.0 * (1.0 - kb) * kb / kg * sc);
    c->cgv = (float)(-2.0 * (1.0 - kr) * kr / kg * sc);
}

/* To nearest, ties to even, as the SIMD conversions do: adding 1.5 * 2^23
 * leaves no fraction bits, so the float addition itself rounds (|v| is far
 * below 2^22 here).  lrintf would do the same through a libm call. */
static uint8_t round8(float v) {
    const float t = v + 12582912.0f; /* not folded: IEEE forbids it */
    const int r = (int)(t - 12582912.0f);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* Pixel x of a 4:2:0 row: R, G, B at rgb[0], rgb[ps], rgb[2 ps]. */
static void yuv_pixel(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x,
                      const pe_yuv_coef *c, uint8_t *rgb, size_t ps) {
    const size_t ci = (size_t)(x >> 1) * (size_t)cps;
    const float fy = c->cy * (float)(y[x] - c->yoff);
    const float fu = (float)(u[ci] - 128), fv = (float)(v[ci] - 128);
    rgb[0] = round8(fy + c->crv * fv);
    rgb[ps] = round8(fy + (c->cgu * fu + c->cgv * fv));
    rgb[2 * ps] = round8(fy + c->cbu * fu);
}

static void yuv_rgb_scalar(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                           int n, const pe_yuv_coef *c, uint8_t *rgb) {
    for (int x = x0; x < x0 + n; x++, rgb += 3) yuv_pixel(y, u, v, cps, x, c, rgb, 1);
}

void pe_yuv_planes_scalar(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                          int n, const pe_yuv_coef *c, uint8_t *rgb, size_t ps) {
    for (int x = x0; x < x0 + n; x++, rgb++) yuv_pixel(y, u, v, cps, x, c, rgb, ps);
}

static void packed_rgb_scalar(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb) {
    for (int i = 0; i < n; i++, src += 4, rgb += 3) {
        rgb[0] = src[r];
        rgb[1] = src[g];
        rgb[2] = src[b];
    }
}

void pe_packed_planes_scalar(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb,
                             size_t ps) {
    for (int i = 0; i < n; i++, src += 4) {
        rgb[i] = src[r];
        rgb[ps + i] = src[g];
        rgb[2 * ps + i] = src[b];
    }
}

void pe_transpose_scalar(const uint8_t *src, ptrdiff_t ss, int rows, int cols, uint8_t *dst,
                         size_t ds) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * ds + i] = src[(ptrdiff_t)i * ss + j];
}

void pe_reverse_scalar(uint8_t *p, int n) {
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        const uint8_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* The resampler's own scalar passes (preprocess.c) are the reference: a
 * NULL here sends it to them. */
const pe_pixels pe_pixels_scalar = {
    .name = "scalar",
    .yuv_rgb = yuv_rgb_scalar,
    .packed_rgb = packed_rgb_scalar,
    .hpass_rgb = NULL,
    .vpass = NULL,
};

/* The pixel passes of the chosen ISA level (PECORE_ISA=scalar selects the
 * scalar ones). */
const pe_pixels *pe_pixels_get(void) { return pe_isa_get()->pixels; }
