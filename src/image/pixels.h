/* The per-pixel kernels of the image path: YUV -> RGB conversion of a run of
 * frame pixels and the two passes of the PIL-exact bilinear resampler.
 *
 * pixels.c holds the scalar versions, which are the specification; the
 * per-ISA files (pixels_avx2.c, pixels_avx512.c, pixels_neon.c,
 * pixels_wasm.c) give
 * bit-identical results and are reached only through a row of the ISA
 * registry (src/kernels/isa.h). */
#ifndef PE_PIXELS_H
#define PE_PIXELS_H

#include "../common.h"

/* Pillow's PRECISION_BITS: 8 bits of result, 2 of headroom in an int32. */
#define PP_PRECISION_BITS (32 - 8 - 2)

/* Coefficients of one output index: taps k[off .. off+count) apply to input
 * positions min .. min+count-1; the SIMD table (pe_hpack) holds the same
 * taps from group g on (see pe_hpack_taps). */
typedef struct pp_span {
    int32_t min, count;
    size_t off;
    size_t g;
} pp_span;

/* The SIMD form of a horizontal weight table: each output's taps in groups
 * of four (zero-padded), every weight w split into hi = w >> 11 and
 * lo = w & 2047 (w = hi * 2048 + lo, both int16), laid out for a
 * multiply-add of int16 pairs:
 *   group: hi[k0 k1 k0 k1 k0 k1 k0 k1  k2 k3 k2 k3 k2 k3 k2 k3]
 *          lo[the same]                         (32 int16 = 64 bytes)
 * The sums stay exact in int32 as long as no output has more than
 * PE_HPACK_MAX_TAPS taps (255 * (2^22 + taps) fits); wider spans use the
 * scalar pass. */
#define PE_HPACK_GROUP 32 /* int16 per group of four taps */
#define PE_HPACK_MAX_TAPS 4096

/* The YUV -> RGB matrix in float (see pecore.h: pe_yuv_matrix):
 *   y = cy * (Y - yoff)
 *   R = y + crv * (V - 128)
 *   G = y + (cgu * (U - 128) + cgv * (V - 128))
 *   B = y + cbu * (U - 128)
 * each product and sum one float32 rounding (no fused multiply-add), then
 * rounded to nearest (ties to even) and clamped to 0..255. */
typedef struct pe_yuv_coef {
    float cy, crv, cgu, cgv, cbu;
    int yoff;
} pe_yuv_coef;

void pe_yuv_coef_init(pe_yuv_matrix m, pe_yuv_coef *c);

/* The gather form of a horizontal weight table, for planar rows (one byte a
 * sample): outputs in groups of PE_HG_OUT, each group reading the
 * PE_HG_WIN bytes of the row from base[g] on.  Its taps come in quads of
 * four, 256 bytes each at taps + (g * quads + q) * 256:
 *   idx[64]  byte 4j+b: the row byte (from base[g]) of tap 4q+b of output
 *            PE_HG_OUT*g + j; taps past an output's count have weight 0
 *   w0[64], w1[64], w2[64]  int8: that tap's 22-bit weight
 *            w = w2 * 65536 + w1 * 256 + w0 (w0, w1 in -128..127)
 * so the sums are three dot products of unsigned pixels and signed bytes,
 * exact in int32 for the spans PE_HPACK_MAX_TAPS allows (the combination
 * wraps mod 2^32 but the true sum fits).  A table exists only where every
 * group's taps fit its window (a downscale of up to about 7x). */
#define PE_HG_OUT 16
#define PE_HG_WIN 128
#define PE_HG_QUAD 256
typedef struct pe_hgather {
    int groups, quads;
    const int32_t *base; /* [groups] */
    const uint8_t *taps; /* [groups * quads * PE_HG_QUAD] */
} pe_hgather;

typedef struct pe_pixels {
    const char *name;
    /* Pixels x0 .. x0+n-1 of one row of a 4:2:0 frame to packed RGB:
     * y points at the row's first luma sample, u and v at its chroma row's
     * first samples, cps bytes apart (1 or 2); pixel x takes chroma sample
     * x / 2.  Reads only the samples those pixels use. */
    void (*yuv_rgb)(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                    int n, const pe_yuv_coef *c, uint8_t *rgb);
    /* n 4-byte pixels to packed RGB; r, g, b: byte offsets in a pixel. */
    void (*packed_rgb)(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb);
    /* Horizontal pass of one row of 3-channel pixels into W outputs, with the
     * packed table (row: the fetched columns from col0 on, readable 16
     * bytes past the last tap of every output). NULL: the scalar pass. */
    void (*hpass_rgb)(const pp_span *span, const int16_t *kp, int W, int col0,
                      const uint8_t *row, uint8_t *dst);
    /* Vertical pass: dst[i] = clip8(2^21 + sum_t k[t] * src[t * stride + i])
     * for i < n, count taps; exact in int32 for count <= PE_HPACK_MAX_TAPS. */
    void (*vpass)(const uint8_t *src, size_t stride, const int32_t *k, int count, size_t n,
                  uint8_t *dst);
    /* The planar path (all NULL in a set without it): rows are C planes of
     * one byte per sample, ps bytes apart.  yuv_planes / packed_planes are
     * yuv_rgb / packed_rgb writing R at rgb[i], G at rgb[ps + i], B at
     * rgb[2 ps + i]. */
    void (*yuv_planes)(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                       int n, const pe_yuv_coef *c, uint8_t *rgb, size_t ps);
    void (*packed_planes)(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb, size_t ps);
    /* Horizontal pass of C planes of row (each readable PE_HG_WIN bytes
     * past every base) into C planes of W outputs, dps bytes apart. */
    void (*hpass_planes)(const pe_hgather *t, int W, int C, const uint8_t *row, size_t ps,
                         uint8_t *dst, size_t dps);
    /* dst[i] = lut[src[i]] for i < n: the normalisation of one plane row. */
    void (*lut_row)(const float *lut, const uint8_t *src, int n, float *dst);
    /* dst[j * ds + i] = src[i * ss + j] for i < rows, j < cols (ss < 0:
     * the rows upwards): the byte transpose that turns buffer columns into
     * upright rows (rotated frames); fastest for tiles of 16 x 64. */
    void (*transpose)(const uint8_t *src, ptrdiff_t ss, int rows, int cols, uint8_t *dst, size_t ds);
    /* p[0 .. n) reversed in place (mirrored plane rows). */
    void (*reverse)(uint8_t *p, int n);
} pe_pixels;

extern const pe_pixels pe_pixels_scalar;
#if defined(__x86_64__)
extern const pe_pixels pe_pixels_avx2;
/* AVX-512 with VBMI (byte permutes) and VNNI (byte dot products) */
extern const pe_pixels pe_pixels_avx512;
#endif
#if defined(__aarch64__)
extern const pe_pixels pe_pixels_neon;
#endif
#if defined(__wasm_simd128__)
/* the packed-RGB passes (no planar path) */
extern const pe_pixels pe_pixels_wasm;
#endif

/* The set of the chosen ISA level (src/kernels/isa.h: its row's pixels). */
const pe_pixels *pe_pixels_get(void);

/* The scalar planar conversions (the SIMD ones' tails and specification). */
void pe_yuv_planes_scalar(const uint8_t *y, const uint8_t *u, const uint8_t *v, int cps, int x0,
                          int n, const pe_yuv_coef *c, uint8_t *rgb, size_t ps);
void pe_packed_planes_scalar(const uint8_t *src, int n, int r, int g, int b, uint8_t *rgb,
                             size_t ps);
void pe_transpose_scalar(const uint8_t *src, ptrdiff_t ss, int rows, int cols, uint8_t *dst,
                         size_t ds);
void pe_reverse_scalar(uint8_t *p, int n);

/* The three signed bytes of a 22-bit weight (see pe_hgather):
 * w = b[2] * 65536 + b[1] * 256 + b[0]. */
static inline void pe_weight_bytes(int32_t w, int32_t b[3]) {
    b[0] = ((w & 255) ^ 128) - 128;
    const int32_t r = (w - b[0]) / 256; /* exact */
    b[1] = ((r & 255) ^ 128) - 128;
    b[2] = (r - b[1]) / 256;
}

/* Pillow's clip8 on an int64 sum. */
static inline uint8_t pe_clip8(int64_t ss) {
    if (ss < 0) return 0;
    ss >>= PP_PRECISION_BITS;
    return ss > 255 ? 255 : (uint8_t)ss;
}

#endif
