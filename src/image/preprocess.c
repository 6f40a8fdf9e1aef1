/* Image preprocessing, bit-exact with the reference pipeline on 8-bit input:
 *
 *   squash: PIL 9.4 Image.resize((W, H), BILINEAR or BICUBIC)
 *   center: torchvision Resize(S or resize) + CenterCrop(S)  (see plan_geometry)
 *   then convert("RGB"), ToTensor (/255), Normalize(0.5, 0.5) or ImageNet's.
 *
 * What "bit-exact" takes, all of it PIL behaviour:
 *   - Bilinear and bicubic are separable: a horizontal pass into an 8-bit rounded
 *     intermediate, then a vertical pass.  A pass is skipped when the size
 *     along its axis does not change, and no resize at all happens when
 *     neither does (PIL returns a copy).
 *   - They differ only in the filter: bilinear's triangle (support 1) or
 *     the Keys cubic with a = -0.5 (support 2), as PIL's filters table.
 *   - The filter support grows with the downscale factor (antialiasing); the
 *     weights of each output pixel are normalised to sum 1 in double, then
 *     rounded to 22-bit fixed point; sums start at half an LSB and are
 *     truncated and clamped to 0..255.
 *   - Gray+alpha and RGBA are resized premultiplied (RGBA -> RGBa -> resize
 *     -> RGBA, with PIL's MULDIV255 and truncating 255*c/a), then convert
 *     ("RGB") drops alpha.  NEAREST skips the premultiplication, as PIL does.
 *   - NEAREST maps output x to floor(x0 + 0.5*s + x*s) with the position
 *     accumulated by repeated addition (PIL's ImagingScaleAffine).
 * Only the output window (the crop) is computed: every output pixel of the
 * resize depends on its own index only, so cropping first changes nothing.
 */
#include "preprocess.h"

#include "pixels.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#ifdef __clang__
/* The weights must be computed with separate roundings, as Pillow's build
 * does; a fused multiply-add would change the last bit of some of them.
 * (GCC in ISO C mode, which the Makefile uses, does not contract.) */
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------ one axis */

/* Resampling geometry along one axis: input size, resized size, and the
 * window [first, first + n) of resized indices that survives the crop. */
typedef struct pp_axis {
    int in, out;
    int first, n;
    double scale;      /* in / out                                     */
    double support;    /* filter support times max(scale, 1)          */
    double inv_fscale; /* 1 / max(scale, 1)                            */
    int cubic;         /* bicubic filter, else bilinear                */
} pp_axis;

static void axis_init(pp_axis *a, int in, int out, int first, int n, int cubic) {
    a->in = in;
    a->out = out;
    a->first = first;
    a->n = n;
    a->cubic = cubic;
    /* Pillow computes (float)(in1 - in0) / outSize in double; the box is
     * (0, in), exact in float for any size that passes the pixel limit. */
    a->scale = (double)in / out;
    double fscale = a->scale < 1.0 ? 1.0 : a->scale;
    a->support = (cubic ? 2.0 : 1.0) * fscale;
    a->inv_fscale = 1.0 / fscale;
}

static double axis_center(const pp_axis *a, int xx) {
    return 0.0 + (xx + 0.5) * a->scale;
}

/* Input range of resized index xx, rounded and clamped the way Pillow's
 * precompute_coeffs does (truncation toward zero of value + 0.5). */
static void axis_range(const pp_axis *a, int xx, int *xmin, int *count) {
    double center = axis_center(a, xx);
    int lo = (int)(center - a->support + 0.5);
    int hi = (int)(center + a->support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > a->in) hi = a->in;
    *xmin = lo;
    *count = hi - lo;
}

/* The input positions outputs first .. first+n-1 read: returns the first,
 * *count how many (at least 1). */
static int axis_window(const pp_axis *a, int first, int n, int *count) {
    int lo, cnt, lo2, cnt2;
    axis_range(a, first, &lo, &cnt);
    axis_range(a, first + n - 1, &lo2, &cnt2);
    *count = PE_MAX(lo2 + cnt2 - lo, 1);
    return lo;
}

/* Sum of the tap counts over the window: the size of the weight table;
 * *groups: the groups of four of its SIMD form, *widest: the largest count. */
static size_t axis_taps(const pp_axis *a, size_t *groups, int *widest) {
    size_t total = 0;
    *groups = 0;
    *widest = 0;
    for (int i = 0; i < a->n; i++) {
        int lo, cnt;
        axis_range(a, a->first + i, &lo, &cnt);
        total += (size_t)cnt;
        *groups += (size_t)(cnt + 3) / 4;
        *widest = PE_MAX(*widest, cnt);
    }
    return total;
}

static double bilinear_weight(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's bicubic_filter, a = -0.5, written with its association. */
static double bicubic_weight(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double axis_weight(const pp_axis *a, int pos, double center) {
    /* Same association as Pillow: ((x + xmin) - center + 0.5) * ss. */
    double t = (double)pos - center;
    t = t + 0.5;
    t = t * a->inv_fscale;
    return a->cubic ? bicubic_weight(t) : bilinear_weight(t);
}

/* Fills span[n] and k[axis_taps] with 22-bit fixed-point weights.  The
 * weights are computed twice (once for their sum) instead of being kept in
 * a double buffer: the computation is deterministic, so the values agree. */
static void axis_coeffs(const pp_axis *a, pp_span *span, int32_t *k) {
    size_t off = 0, g = 0;
    for (int i = 0; i < a->n; i++) {
        int xx = a->first + i, lo, cnt;
        axis_range(a, xx, &lo, &cnt);
        double center = axis_center(a, xx), ww = 0.0;
        for (int x = 0; x < cnt; x++) ww += axis_weight(a, lo + x, center);
        for (int x = 0; x < cnt; x++) {
            double w = axis_weight(a, lo + x, center);
            if (ww != 0.0) w /= ww;
            double f = w * (1 << PP_PRECISION_BITS);
            k[off + (size_t)x] = (int32_t)(w < 0 ? -0.5 + f : 0.5 + f);
        }
        span[i].min = lo;
        span[i].count = cnt;
        span[i].off = off;
        span[i].g = g;
        off += (size_t)cnt;
        g += (size_t)(cnt + 3) / 4;
    }
}

/* The SIMD form of the weights (pixels.h: pe_hpack). */
static void axis_pack(const pp_span *span, int n, const int32_t *k, int16_t *kp) {
    for (int i = 0; i < n; i++) {
        const int32_t *kk = k + span[i].off;
        int16_t *g = kp + span[i].g * PE_HPACK_GROUP;
        for (int t0 = 0; t0 < span[i].count; t0 += 4, g += PE_HPACK_GROUP)
            for (int t = 0; t < 4; t++) {
                int32_t w = t0 + t < span[i].count ? kk[t0 + t] : 0;
                int16_t hi = (int16_t)(w >> 11), lo = (int16_t)(w & 2047);
                int half = t >> 1, odd = t & 1; /* taps 0,1 low half; 2,3 high */
                for (int r = 0; r < 4; r++) {
                    g[half * 8 + 2 * r + odd] = hi;
                    g[16 + half * 8 + 2 * r + odd] = lo;
                }
            }
    }
}

/* Groups and quads of the gather form of the table (pixels.h: pe_hgather),
 * or 0 when a group's taps do not fit its window. */
static int axis_gather_size(const pp_axis *a, int widest, int *groups, int *quads) {
    *groups = (a->n + PE_HG_OUT - 1) / PE_HG_OUT;
    *quads = (widest + 3) / 4;
    for (int g = 0; g < *groups; g++) {
        int lo, cnt, lo2, cnt2;
        axis_range(a, a->first + g * PE_HG_OUT, &lo, &cnt);
        axis_range(a, a->first + PE_MIN(a->n - 1, g * PE_HG_OUT + PE_HG_OUT - 1), &lo2, &cnt2);
        if (lo2 + cnt2 - lo > PE_HG_WIN) return 0;
    }
    return 1;
}

/* The gather form of the weights: base[] relative to column col0. */
static void axis_gather(const pp_span *span, int n, const int32_t *k, int col0, int32_t *base,
                        uint8_t *taps, int quads) {
    const int groups = (n + PE_HG_OUT - 1) / PE_HG_OUT;
    memset(taps, 0, (size_t)groups * quads * PE_HG_QUAD);
    for (int g = 0; g < groups; g++) {
        const int b = span[g * PE_HG_OUT].min;
        base[g] = b - col0;
        for (int j = 0; j < PE_HG_OUT && g * PE_HG_OUT + j < n; j++) {
            const pp_span *sp = &span[g * PE_HG_OUT + j];
            for (int t = 0; t < sp->count; t++) {
                uint8_t *q = taps + ((size_t)g * quads + (size_t)(t / 4)) * PE_HG_QUAD;
                int32_t w[3];
                pe_weight_bytes(k[sp->off + (size_t)t], w);
                const int at = 4 * j + (t & 3);
                q[at] = (uint8_t)(sp->min - b + t);
                for (int i = 0; i < 3; i++) q[64 * (i + 1) + at] = (uint8_t)(int8_t)w[i];
            }
        }
    }
}

/* Pillow's clip8: drop the fraction, clamp to a byte.  int64 sums keep
 * absurd aspect ratios (millions of taps) from overflowing. */
static uint8_t clip8(int64_t ss) { return pe_clip8(ss); }

/* --------------------------------------------------------------- plan */

typedef struct pp_plan {
    int w, h;            /* source size                                    */
    int C;               /* channels of the canonical layout: L, LA, RGB, RGBA */
    int alpha;           /* last channel is alpha                          */
    int W, H;            /* output size                                    */
    int rw, rh;          /* size after resize (before the crop)            */
    int cx, cy;          /* crop offset in the resized image               */
    int nearest;
    int need_h, need_v;  /* bilinear / bicubic passes Pillow would run     */
    pe_normalize norm;
    int premul;          /* RGBA -> RGBa round trip                        */
    pp_axis ax, ay;
    int col0, ncols;     /* source columns the horizontal stage reads      */
    int row0, nrows;     /* source rows the vertical stage reads           */
    size_t xtaps, ytaps;
    const pe_pixels *px;  /* the kernel set                                */
    int simd_h, simd_v;   /* its passes apply (3 channels, spans in range) */
    size_t xgroups;       /* of the packed horizontal table                */
    /* the planar path (pixels.h): rows as C planes ps bytes apart, the
     * horizontal table in gather form */
    int planar, hg_groups, hg_quads;
    size_t ps;
    /* scratch layout (byte offsets) */
    size_t o_xspan, o_yspan, o_xk, o_yk, o_xkp, o_hgb, o_hgt, o_xin, o_row, o_tmp, o_acc, o_src,
        bytes;
} pp_plan;

static int format_channels(pe_pixel_format f, int *bpp, int *alpha) {
    switch (f) {
    case PE_PIXEL_GRAY8: *bpp = 1; *alpha = 0; return 1;
    case PE_PIXEL_GRAYA8: *bpp = 2; *alpha = 1; return 2;
    case PE_PIXEL_RGB8: *bpp = 3; *alpha = 0; return 3;
    case PE_PIXEL_RGBA8:
    case PE_PIXEL_BGRA8: *bpp = 4; *alpha = 1; return 4;
    }
    return 0;
}

static pe_status check_image(const pe_image *img, int *C, int *alpha) {
    if (!img) return pe_error(PE_ERR_INVALID_ARG, "preprocess: image is NULL");
    if (!img->data) return pe_error(PE_ERR_INVALID_ARG, "preprocess: image data is NULL");
    if (img->width <= 0 || img->height <= 0)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: image size %dx%d is empty",
                        img->width, img->height);
    uint64_t px = (uint64_t)img->width * (uint64_t)img->height;
    if (px > PE_MAX_IMAGE_PIXELS)
        return pe_error(PE_ERR_LIMIT,
                        "preprocess: image too large: %dx%d pixels exceeds the limit of %llu",
                        img->width, img->height, (unsigned long long)PE_MAX_IMAGE_PIXELS);
    int bpp;
    *C = format_channels(img->format, &bpp, alpha);
    if (!*C)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: unknown pixel format %d",
                        (int)img->format);
    size_t row = (size_t)img->width * (size_t)bpp;
    if (img->stride < row)
        return pe_error(PE_ERR_INVALID_ARG,
                        "preprocess: stride %zu is less than a row (%d pixels x %d bytes)",
                        img->stride, img->width, bpp);
    size_t span;
    if (!pe_mul_size(img->stride, (size_t)img->height - 1, &span) ||
        !pe_add_size(span, row, &span))
        return pe_error(PE_ERR_LIMIT, "preprocess: stride %zu x %d rows overflows",
                        img->stride, img->height);
    return PE_OK;
}

/* Python's round() of d / 2 for d >= 0: halves go to the even neighbour. */
static int half_round_even(int d) {
    int k = d / 2;
    if (d % 2 == 0) return k;
    return (k % 2 == 0) ? k : k + 1;
}

/* Resized size and crop offset.  squash: resize to exactly W x H.
 * center: for a square target this is torchvision's Resize(S) (the shorter
 * side becomes S, the longer int(S * long / short)) and CenterCrop(S) (offset
 * int(round((len - S) / 2))).  For a non-square target we generalise: the
 * side that limits coverage (the image is wider than the target's aspect ->
 * height) is scaled to its target length, the other to int(T * len / len'),
 * which is then >= its target, and the crop is centred the same way.
 * With W == H both readings coincide. */
static pe_status plan_geometry(pp_plan *p, pe_crop crop, int resize) {
    p->cx = p->cy = 0;
    if (crop == PE_CROP_SQUASH) {
        p->rw = p->W;
        p->rh = p->H;
        return PE_OK;
    }
    int64_t w = p->w, h = p->h;
    /* resize: torchvision Resize(resize) before CenterCrop(H, W). */
    const int RH = resize ? resize : p->H, RW = resize ? resize : p->W;
    double side;
    if (w * RH >= h * RW) { /* height limits: it becomes RH */
        p->rh = RH;
        side = (double)((int64_t)RH * w) / (double)h;
        if (side >= (double)INT_MAX)
            return pe_error(PE_ERR_LIMIT, "preprocess: resized width overflows");
        p->rw = (int)side;
    } else {
        p->rw = RW;
        side = (double)((int64_t)RW * h) / (double)w;
        if (side >= (double)INT_MAX)
            return pe_error(PE_ERR_LIMIT, "preprocess: resized height overflows");
        p->rh = (int)side;
    }
    if (p->rw < p->W || p->rh < p->H)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: resize %d is smaller than the crop %dx%d",
                        resize, p->W, p->H);
    p->cx = half_round_even(p->rw - p->W);
    p->cy = half_round_even(p->rh - p->H);
    return PE_OK;
}

/* Rounds a scratch offset up so that every table starts 16-byte aligned. */
static bool layout_add(size_t *at, size_t n, size_t elem, size_t *off) {
    size_t bytes, end;
    *at = (*at + 15) & ~(size_t)15;
    if (!pe_mul_size(n, elem, &bytes) || !pe_add_size(*at, bytes, &end)) return false;
    *off = *at;
    *at = end;
    return true;
}

static pe_status plan_make(const pe_pixel_source *src, const pe_preprocess *pp, pp_plan *p) {
    memset(p, 0, sizeof *p);
    pe_status s;
    p->C = src->channels;
    p->alpha = src->alpha;
    if (!pp) return pe_error(PE_ERR_INVALID_ARG, "preprocess: options are NULL");
    if (pp->width <= 0 || pp->height <= 0)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: target size %dx%d must be positive",
                        pp->width, pp->height);
    if ((uint64_t)pp->width * (uint64_t)pp->height > PE_MAX_IMAGE_PIXELS)
        return pe_error(PE_ERR_LIMIT, "preprocess: target %dx%d exceeds the pixel limit",
                        pp->width, pp->height);
    if (pp->crop != PE_CROP_SQUASH && pp->crop != PE_CROP_CENTER)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: unknown crop mode %d", (int)pp->crop);
    if (pp->resample != PE_RESAMPLE_BILINEAR && pp->resample != PE_RESAMPLE_NEAREST &&
        pp->resample != PE_RESAMPLE_BICUBIC)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: unknown resample filter %d",
                        (int)pp->resample);
    if (pp->norm != PE_NORM_HALF && pp->norm != PE_NORM_IMAGENET)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: unknown normalisation %d", (int)pp->norm);
    if (pp->resize < 0 || pp->resize > (1 << 20))
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: resize %d out of range", pp->resize);

    p->w = src->width;
    p->h = src->height;
    p->W = pp->width;
    p->H = pp->height;
    p->norm = pp->norm;
    s = plan_geometry(p, pp->crop, pp->resize);
    if (s) return s;

    int resize = p->rw != p->w || p->rh != p->h;
    p->nearest = resize && pp->resample == PE_RESAMPLE_NEAREST;
    if (!p->nearest) {
        p->need_h = p->rw != p->w;
        p->need_v = p->rh != p->h;
        p->premul = resize && p->alpha;
    }
    const int cubic = pp->resample == PE_RESAMPLE_BICUBIC;
    axis_init(&p->ax, p->w, p->rw, p->cx, p->W, cubic);
    axis_init(&p->ay, p->h, p->rh, p->cy, p->H, cubic);

    /* Source columns read per row, and rows kept for the vertical pass. */
    if (p->need_h) {
        p->col0 = axis_window(&p->ax, p->cx, p->W, &p->ncols);
        int widest;
        p->xtaps = axis_taps(&p->ax, &p->xgroups, &widest);
        p->px = src->px ? src->px : pe_pixels_get();
        p->planar = p->px->hpass_planes && !p->premul &&
                    (p->C == 1 || (p->C == 3 && src->fetch_planes)) &&
                    axis_gather_size(&p->ax, widest, &p->hg_groups, &p->hg_quads);
        p->simd_h = !p->planar && p->px->hpass_rgb && p->C == 3 && widest <= PE_HPACK_MAX_TAPS;
        /* every group reads PE_HG_WIN bytes from its base */
        if (p->planar) p->ps = ((size_t)p->ncols + PE_HG_WIN + 63) & ~(size_t)63;
    } else {
        p->col0 = p->cx;
        p->ncols = p->W;
    }
    if (p->need_v) {
        p->row0 = axis_window(&p->ay, p->cy, p->H, &p->nrows);
        size_t groups;
        int widest;
        p->ytaps = axis_taps(&p->ay, &groups, &widest);
        p->px = src->px ? src->px : pe_pixels_get();
        p->simd_v = p->px->vpass && widest <= PE_HPACK_MAX_TAPS;
    } else {
        p->row0 = p->cy;
        p->nrows = 1; /* rows go straight to the output, one at a time */
    }

    size_t at = 0, rowbytes;
    bool ok = true;
    if (p->nearest) {
        ok = layout_add(&at, (size_t)p->W, sizeof(int32_t), &p->o_xin);
    } else {
        ok = ok && layout_add(&at, p->need_h ? (size_t)p->W : 0, sizeof(pp_span), &p->o_xspan);
        ok = ok && layout_add(&at, p->xtaps, sizeof(int32_t), &p->o_xk);
        ok = ok && layout_add(&at, p->simd_h ? p->xgroups : 0, PE_HPACK_GROUP * sizeof(int16_t),
                              &p->o_xkp);
        ok = ok && layout_add(&at, p->planar ? (size_t)p->hg_groups : 0, sizeof(int32_t), &p->o_hgb);
        ok = ok && layout_add(&at, p->planar ? (size_t)p->hg_groups * p->hg_quads : 0, PE_HG_QUAD,
                              &p->o_hgt);
        ok = ok && layout_add(&at, p->need_v ? (size_t)p->H : 0, sizeof(pp_span), &p->o_yspan);
        ok = ok && layout_add(&at, p->ytaps, sizeof(int32_t), &p->o_yk);
        ok = ok && pe_mul_size((size_t)p->W, (size_t)p->C, &rowbytes);
        /* The fetch row doubles as the vertical pass's output line; the
         * SIMD horizontal pass reads up to 4 taps + 16 bytes past a span. */
        size_t fetch = p->planar ? p->ps * p->C : (size_t)p->ncols * p->C + (p->simd_h ? 32 : 0);
        ok = ok && layout_add(&at, PE_MAX(fetch, rowbytes), 1, &p->o_row);
        ok = ok && layout_add(&at, (size_t)p->nrows, rowbytes, &p->o_tmp);
        ok = ok && layout_add(&at, p->need_v ? rowbytes : 0, sizeof(int64_t), &p->o_acc);
    }
    ok = ok && layout_add(&at, src->scratch_bytes, 1, &p->o_src);
    if (!ok) return pe_error(PE_ERR_LIMIT, "preprocess: scratch size overflows");
    p->bytes = at + 16; /* room to align the scratch base */
    return PE_OK;
}

/* ------------------------------------------------------------- pixels */

static unsigned muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static void image_fetch(pe_pixel_source *src, int y, int x0, int n, uint8_t *row) {
    const pe_image *img = ((const pe_image_source *)(void *)src)->img;
    const uint8_t *s = img->data + (size_t)y * img->stride;
    if (img->format == PE_PIXEL_BGRA8) {
        s += 4 * (size_t)x0;
        for (int i = 0; i < n; i++, s += 4, row += 4) {
            row[0] = s[2]; row[1] = s[1]; row[2] = s[0]; row[3] = s[3];
        }
    } else {
        const size_t C = (size_t)src->channels;
        memcpy(row, s + (size_t)x0 * C, (size_t)n * C);
    }
}

pe_status pe_image_source_init(const pe_image *img, pe_image_source *is) {
    memset(is, 0, sizeof *is);
    pe_status s = check_image(img, &is->base.channels, &is->base.alpha);
    if (s) return s;
    is->img = img;
    is->base.width = img->width;
    is->base.height = img->height;
    is->base.fetch = image_fetch;
    is->base.px = pe_pixels_get();
    return PE_OK;
}

/* Source columns [col0, col0 + ncols) of row y, premultiplied (PIL's
 * RGBA -> RGBa) when the plan says so. */
static void fetch_row(pe_pixel_source *src, const pp_plan *p, int y, uint8_t *row) {
    const int C = p->C, n = p->ncols;
    src->fetch(src, y, p->col0, n, row);
    if (!p->premul) return;
    for (int i = 0; i < n; i++, row += C)
        for (int c = 0; c < C - 1; c++) row[c] = (uint8_t)muldiv255(row[c], row[C - 1]);
}

/* Normalised value of each byte per channel, as torch computes it in
 * float32: (v / 255 - mean) / std. */
static void make_lut(pe_normalize norm, float lut[3][256]) {
    static const float mean[2][3] = {{0.5f, 0.5f, 0.5f}, {0.485f, 0.456f, 0.406f}};
    static const float std[2][3] = {{0.5f, 0.5f, 0.5f}, {0.229f, 0.224f, 0.225f}};
    const int n = norm == PE_NORM_IMAGENET;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float t = (float)v / 255.0f;
            t = t - mean[n][c];
            lut[c][v] = t / std[n][c];
        }
}

/* Writes one output pixel: undo the premultiplication (PIL's RGBa -> RGBA,
 * truncating), then convert("RGB") (gray is replicated, alpha dropped). */
static void emit(const pp_plan *p, float lut[3][256], uint8_t *px, float *out, int oy, int ox) {
    const size_t plane = (size_t)p->W * (size_t)p->H;
    const size_t at = (size_t)oy * (size_t)p->W + (size_t)ox;
    if (p->premul) {
        unsigned a = px[p->C - 1];
        if (a != 0 && a != 255)
            for (int c = 0; c < p->C - 1; c++) {
                unsigned v = 255u * px[c] / a;
                px[c] = (uint8_t)(v > 255 ? 255 : v);
            }
    }
    const int g = p->C <= 2; /* gray: one byte for all three channels */
    out[at] = lut[0][px[0]];
    out[plane + at] = lut[1][px[g ? 0 : 1]];
    out[2 * plane + at] = lut[2][px[g ? 0 : 2]];
}

/* emit for a row of C planes of W bytes (the planar path: no alpha). */
static void emit_planes(const pp_plan *p, float lut[3][256], const uint8_t *line, float *out,
                        int oy) {
    const size_t plane = (size_t)p->W * (size_t)p->H, at = (size_t)oy * (size_t)p->W;
    for (int c = 0; c < 3; c++)
        p->px->lut_row(lut[c], line + (p->C == 1 ? 0 : (size_t)c * p->W), p->W,
                       out + c * plane + at);
}

/* --------------------------------------------------------- resampling */

/* Horizontal pass of one fetched row into W output pixels.  C is a
 * constant at each call site (see pass_h) so the channel loop unrolls. */
static inline void pass_h_c(const pp_plan *p, const pp_span *span, const int32_t *k,
                            const uint8_t *row, uint8_t *dst, const int C) {
    for (int ox = 0; ox < p->W; ox++) {
        const pp_span *sp = &span[ox];
        const int32_t *kk = k + sp->off;
        const uint8_t *src = row + (size_t)(sp->min - p->col0) * C;
        int64_t ss[4];
        for (int c = 0; c < C; c++) ss[c] = 1 << (PP_PRECISION_BITS - 1);
        for (int x = 0; x < sp->count; x++)
            for (int c = 0; c < C; c++) ss[c] += (int64_t)src[(size_t)x * C + c] * kk[x];
        for (int c = 0; c < C; c++) dst[(size_t)ox * C + c] = clip8(ss[c]);
    }
}

static void pass_h(const pp_plan *p, const pp_span *span, const int32_t *k,
                   const uint8_t *row, uint8_t *dst) {
    switch (p->C) {
    case 1: pass_h_c(p, span, k, row, dst, 1); break;
    case 2: pass_h_c(p, span, k, row, dst, 2); break;
    case 3: pass_h_c(p, span, k, row, dst, 3); break;
    default: pass_h_c(p, span, k, row, dst, 4); break;
    }
}

/* Vertical pass for output row oy: taps run down the rows of tmp, summed
 * for the whole row at once (acc: W*C sums) so the inner loop is linear. */
static void pass_v(const pp_plan *p, const pp_span *sp, const int32_t *kk,
                   const uint8_t *tmp, int64_t *acc, uint8_t *dst) {
    const size_t rowbytes = (size_t)p->W * (size_t)p->C;
    const uint8_t *src = tmp + (size_t)(sp->min - p->row0) * rowbytes;
    for (size_t i = 0; i < rowbytes; i++) acc[i] = 1 << (PP_PRECISION_BITS - 1);
    for (int y = 0; y < sp->count; y++) {
        const uint8_t *s = src + (size_t)y * rowbytes;
        const int64_t k = kk[y];
        for (size_t i = 0; i < rowbytes; i++) acc[i] += s[i] * k;
    }
    for (size_t i = 0; i < rowbytes; i++) dst[i] = clip8(acc[i]);
}

static void run_bilinear(pe_pixel_source *src, const pp_plan *p, float *out, uint8_t *base) {
    const int C = p->C;
    const size_t rowbytes = (size_t)p->W * C;
    pp_span *xspan = (pp_span *)(void *)(base + p->o_xspan);
    pp_span *yspan = (pp_span *)(void *)(base + p->o_yspan);
    int32_t *xk = (int32_t *)(void *)(base + p->o_xk);
    int32_t *yk = (int32_t *)(void *)(base + p->o_yk);
    uint8_t *row = base + p->o_row, *tmp = base + p->o_tmp;
    float lut[3][256];
    uint8_t px[4];
    make_lut(p->norm, lut);
    int16_t *xkp = (int16_t *)(void *)(base + p->o_xkp);
    if (p->need_h) axis_coeffs(&p->ax, xspan, xk);
    if (p->need_v) axis_coeffs(&p->ay, yspan, yk);
    if (p->simd_h) {
        axis_pack(xspan, p->W, xk, xkp);
        /* the pass reads past the last column (zero weights): keep it defined */
        memset(row + (size_t)p->ncols * C, 0, 32);
    }
    int32_t *hgb = (int32_t *)(void *)(base + p->o_hgb);
    const pe_hgather hg = {p->hg_groups, p->hg_quads, hgb, base + p->o_hgt};
    if (p->planar) {
        axis_gather(xspan, p->W, xk, p->col0, hgb, base + p->o_hgt, p->hg_quads);
        memset(row, 0, p->ps * (size_t)C); /* the windows read past the columns */
    }

    /* Without a vertical pass each source row is one output row. */
    const int nrows = p->need_v ? p->nrows : p->H;
    for (int r = 0; r < nrows; r++) {
        uint8_t *dst = tmp + (p->need_v ? (size_t)r * rowbytes : 0);
        if (p->planar) {
            if (C == 1)
                src->fetch(src, p->row0 + r, p->col0, p->ncols, row);
            else
                src->fetch_planes(src, p->row0 + r, p->col0, p->ncols, row, p->ps);
            p->px->hpass_planes(&hg, p->W, C, row, p->ps, dst, (size_t)p->W);
            if (!p->need_v) emit_planes(p, lut, dst, out, r);
            continue;
        }
        fetch_row(src, p, p->row0 + r, row);
        if (p->simd_h)
            p->px->hpass_rgb(xspan, xkp, p->W, p->col0, row, dst);
        else if (p->need_h)
            pass_h(p, xspan, xk, row, dst);
        else
            memcpy(dst, row, rowbytes);
        if (!p->need_v)
            for (int ox = 0; ox < p->W; ox++) {
                memcpy(px, dst + (size_t)ox * C, (size_t)C);
                emit(p, lut, px, out, r, ox);
            }
    }
    if (!p->need_v) return;

    int64_t *acc = (int64_t *)(void *)(base + p->o_acc);
    uint8_t *line = base + p->o_row; /* the fetch row is free by now */
    for (int oy = 0; oy < p->H; oy++) {
        const pp_span *sp = &yspan[oy];
        if (p->simd_v)
            p->px->vpass(tmp + (size_t)(sp->min - p->row0) * rowbytes, rowbytes, yk + sp->off,
                         sp->count, rowbytes, line);
        else
            pass_v(p, sp, yk + sp->off, tmp, acc, line);
        if (p->planar) {
            emit_planes(p, lut, line, out, oy);
            continue;
        }
        for (int ox = 0; ox < p->W; ox++) {
            memcpy(px, line + (size_t)ox * C, (size_t)C);
            emit(p, lut, px, out, oy, ox);
        }
    }
}

/* PIL's coordinate truncation: negative positions are outside (-1). */
static int coord(double v) { return v < 0.0 ? -1 : (int)v; }

/* PIL NEAREST (ImagingScaleAffine): positions start at half a step and are
 * advanced by repeated addition, so we walk from index 0 to the crop window
 * instead of multiplying.  Pixels that fall outside stay zero (fill). */
static void run_nearest(pe_pixel_source *src, const pp_plan *p, float *out, uint8_t *base) {
    int32_t *xin = (int32_t *)(void *)(base + p->o_xin);
    const double sx = (double)p->w / p->rw, sy = (double)p->h / p->rh;
    float lut[3][256];
    make_lut(p->norm, lut);
    double xo = 0.0 + sx * 0.5;
    for (int x = 0; x < p->cx + p->W; x++) {
        int xi = coord(xo);
        if (x >= p->cx) xin[x - p->cx] = (xi >= 0 && xi < p->w) ? xi : -1;
        xo += sx;
    }
    double yo = 0.0 + sy * 0.5;
    for (int y = 0; y < p->cy; y++) yo += sy;
    for (int oy = 0; oy < p->H; oy++, yo += sy) {
        int yi = coord(yo);
        for (int ox = 0; ox < p->W; ox++) {
            uint8_t px[4] = {0, 0, 0, 0};
            if (yi >= 0 && yi < p->h && xin[ox] >= 0) src->fetch(src, yi, xin[ox], 1, px);
            emit(p, lut, px, out, oy, ox);
        }
    }
}

/* ------------------------------------------------------------- public */

pe_status pe_source_scratch(const pe_pixel_source *src, const pe_preprocess *pp, size_t *bytes) {
    pp_plan p;
    pe_status s = plan_make(src, pp, &p);
    *bytes = s ? 0 : p.bytes;
    return s;
}

pe_status pe_source_to_tensor(pe_pixel_source *src, const pe_preprocess *pp, float *out,
                              uint8_t *scratch, size_t scratch_len) {
    pp_plan p;
    pe_status s = plan_make(src, pp, &p);
    if (s) return s;
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "preprocess: output is NULL");
    if (!scratch || scratch_len < p.bytes)
        return pe_error(PE_ERR_INVALID_ARG, "preprocess: scratch of %zu bytes, need %zu",
                        scratch_len, p.bytes);
    uint8_t *base = scratch + ((16 - ((uintptr_t)scratch & 15)) & 15);
    src->scratch = base + p.o_src;
    if (p.nearest)
        run_nearest(src, &p, out, base);
    else
        run_bilinear(src, &p, out, base);
    return PE_OK;
}

size_t pe_preprocess_scratch_bytes(const pe_image *img, const pe_preprocess *pp) {
    pe_image_source is;
    size_t bytes = 0;
    if (!pe_image_source_init(img, &is)) pe_source_scratch(&is.base, pp, &bytes);
    return bytes;
}

pe_status pe_image_to_tensor(const pe_image *img, const pe_preprocess *pp, float *out,
                             uint8_t *scratch, size_t scratch_len) {
    pe_image_source is;
    pe_status s = pe_image_source_init(img, &is);
    return s ? s : pe_source_to_tensor(&is.base, pp, out, scratch, scratch_len);
}

pe_status pe_preprocess_source(pe_pixel_source *src, const pe_preprocess *pp, float *out,
                               size_t out_len) {
    pp_plan p;
    pe_status s = plan_make(src, pp, &p);
    if (s) return s;
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "preprocess: output is NULL");
    size_t need;
    if (!pe_mul_size((size_t)p.W * (size_t)p.H, 3, &need) || out_len < need)
        return pe_error(PE_ERR_SHAPE, "preprocess: output holds %zu floats, need 3x%dx%d",
                        out_len, p.H, p.W);
    uint8_t *scratch = pe_alloc(p.bytes);
    if (!scratch) return PE_ERR_NOMEM;
    s = pe_source_to_tensor(src, pp, out, scratch, p.bytes);
    pe_free(scratch);
    return s;
}

pe_status pe_preprocess_image(const pe_image *img, const pe_preprocess *pp, float *out,
                              size_t out_len) {
    pe_image_source is;
    pe_status s = pe_image_source_init(img, &is);
    return s ? s : pe_preprocess_source(&is.base, pp, out, out_len);
}

pe_status pe_preprocess_init(pe_transform t, int size, pe_preprocess *pp) {
    if (!pp) return pe_error(PE_ERR_INVALID_ARG, "pe_preprocess_init: pp is NULL");
    if (size < 0 || size > 65536) return pe_error(PE_ERR_INVALID_ARG, "pe_preprocess_init: size %d", size);
    memset(pp, 0, sizeof *pp);
    pp->height = pp->width = size;
    if (t == PE_TRANSFORM_PE) return PE_OK;
    if (t != PE_TRANSFORM_DINOV2_EVAL)
        return pe_error(PE_ERR_INVALID_ARG, "pe_preprocess_init: unknown transform %d", (int)t);
    /* DINOv2's make_classification_eval_transform: Resize(256), CenterCrop(224). */
    if (!size) pp->height = pp->width = 224;
    pp->resize = pp->height * 256 / 224;
    pp->crop = PE_CROP_CENTER;
    pp->resample = PE_RESAMPLE_BICUBIC;
    pp->norm = PE_NORM_IMAGENET;
    return PE_OK;
}
