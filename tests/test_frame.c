/* Camera frames: validation of every kind of bad description (buffers are
 * allocated to the exact byte, so a read past them shows under ASan), the
 * YUV matrix, crop / rotation / mirror, the equivalence of the 4:2:0
 * layouts, bit-exact preprocessing against the image path of the frame's
 * own RGB conversion, and every SIMD kernel set against the scalar one.
 * Needs no image decoder (runs under qemu-aarch64 too). */
#include "test.h"

#include <limits.h>
#include <math.h>

#include "image/frame.h"
#include "image/pixels.h"
#include "image/preprocess.h"
#include "kernels/isa.h"

/* ------------------------------------------------------------ helpers */

/* A 4:2:0 frame's samples, planar, tight: Y w x h, U and V cw x ch. */
typedef struct yuv_img {
    int w, h, cw, ch;
    uint8_t *y, *u, *v;
} yuv_img;

static void yuv_random(yuv_img *m, int w, int h) {
    m->w = w;
    m->h = h;
    m->cw = (w + 1) / 2;
    m->ch = (h + 1) / 2;
    m->y = malloc((size_t)w * h);
    m->u = malloc((size_t)m->cw * m->ch);
    m->v = malloc((size_t)m->cw * m->ch);
    /* smooth content plus noise, and the extremes, so resizing has work */
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            m->y[(size_t)i * w + j] = (uint8_t)((i * 7 + j * 3 + (rng_u32() & 31)) & 255);
    for (size_t i = 0; i < (size_t)m->cw * m->ch; i++) {
        m->u[i] = (uint8_t)rng_u32();
        m->v[i] = (uint8_t)rng_u32();
    }
    m->y[0] = 0;
    m->y[(size_t)w * h - 1] = 255;
}

static void yuv_free(yuv_img *m) {
    free(m->y);
    free(m->u);
    free(m->v);
}

/* Buffers that a frame points into; freed together. */
typedef struct bufs {
    uint8_t *p[3];
} bufs;

static void bufs_free(bufs *b) {
    for (int i = 0; i < 3; i++) free(b->p[i]);
    memset(b, 0, sizeof *b);
}

/* A plane of rows x rowbytes at stride pad bytes, the last row exactly
 * rowbytes long (as Android's buffers), in a buffer of exactly that size. */
static uint8_t *plane_alloc(size_t rowbytes, int rows, size_t stride, size_t *size) {
    *size = stride * (size_t)(rows - 1) + rowbytes;
    uint8_t *p = malloc(*size);
    memset(p, 0xA5, *size);
    return p;
}

/* The frame of m in format fmt (NV12, NV21, I420, YUV420_888 with chroma
 * pixel stride cps), rows padded by pad bytes. */
static pe_frame make_yuv(const yuv_img *m, pe_frame_format fmt, int cps, size_t pad, bufs *b) {
    pe_frame f;
    memset(&f, 0, sizeof f);
    memset(b, 0, sizeof *b);
    f.format = fmt;
    f.width = m->w;
    f.height = m->h;
    size_t ys = (size_t)m->w + pad, sz;
    b->p[0] = plane_alloc((size_t)m->w, m->h, ys, &sz);
    for (int i = 0; i < m->h; i++) memcpy(b->p[0] + i * ys, m->y + (size_t)i * m->w, (size_t)m->w);
    f.planes[0] = (pe_plane){b->p[0], sz, ys, 0};
    if (fmt == PE_FRAME_NV12 || fmt == PE_FRAME_NV21 || (fmt == PE_FRAME_YUV420_888 && cps == 2)) {
        size_t cs = 2 * (size_t)m->cw + pad;
        b->p[1] = plane_alloc(2 * (size_t)m->cw, m->ch, cs, &sz);
        int vfirst = fmt == PE_FRAME_NV21;
        for (int i = 0; i < m->ch; i++)
            for (int j = 0; j < m->cw; j++) {
                b->p[1][i * cs + 2 * j + vfirst] = m->u[(size_t)i * m->cw + j];
                b->p[1][i * cs + 2 * j + !vfirst] = m->v[(size_t)i * m->cw + j];
            }
        if (fmt == PE_FRAME_YUV420_888) { /* U and V interleaved in one buffer, as Android */
            f.planes[1] = (pe_plane){b->p[1], sz - 1, cs, 2};
            f.planes[2] = (pe_plane){b->p[1] + 1, sz - 1, cs, 2};
        } else {
            f.planes[1] = (pe_plane){b->p[1], sz, cs, 0};
        }
    } else {
        size_t cs = (size_t)m->cw + pad;
        for (int k = 1; k <= 2; k++) {
            const uint8_t *src = k == 1 ? m->u : m->v;
            b->p[k] = plane_alloc((size_t)m->cw, m->ch, cs, &sz);
            for (int i = 0; i < m->ch; i++) memcpy(b->p[k] + i * cs, src + (size_t)i * m->cw, (size_t)m->cw);
            f.planes[k] = (pe_plane){b->p[k], sz, cs, fmt == PE_FRAME_YUV420_888 ? 1 : 0};
        }
    }
    return f;
}

/* pe_frame_to_rgb8 into a fresh tight buffer; *w, *h its size. */
static uint8_t *to_rgb(const pe_frame *f, int *w, int *h) {
    if (pe_frame_upright_size(f, w, h)) return NULL;
    size_t len = (size_t)*w * *h * 3;
    uint8_t *rgb = malloc(len);
    if (pe_frame_to_rgb8(f, rgb, (size_t)*w * 3, len)) {
        fprintf(stderr, "to_rgb8: %s\n", pe_last_error());
        free(rgb);
        return NULL;
    }
    return rgb;
}

static float *prep_frame(const pe_frame *f, const pe_preprocess *pp) {
    size_t n = (size_t)3 * pp->width * pp->height;
    float *out = malloc(n * sizeof *out);
    if (pe_preprocess_frame(f, pp, out, n)) {
        fprintf(stderr, "preprocess_frame: %s\n", pe_last_error());
        free(out);
        return NULL;
    }
    return out;
}

static float *prep_rgb(const uint8_t *rgb, int w, int h, const pe_preprocess *pp) {
    pe_image im = {rgb, w, h, (size_t)w * 3, PE_PIXEL_RGB8};
    size_t n = (size_t)3 * pp->width * pp->height;
    float *out = malloc(n * sizeof *out);
    if (pe_preprocess_image(&im, pp, out, n)) {
        free(out);
        return NULL;
    }
    return out;
}

static int same_floats(const float *a, const float *b, size_t n) {
    return a && b && memcmp(a, b, n * sizeof *a) == 0;
}

/* ------------------------------------------------------------ validation */

static void expect_bad(const pe_frame *f, pe_status want, const char *what) {
    pe_status s = pe_frame_check(f);
    CHECK(s == want, "%s: status %d (%s), want %d", what, (int)s, pe_last_error(), (int)want);
    CHECK(s == PE_OK || (strlen(pe_last_error()) > 0 && !strchr(pe_last_error(), '\n')),
          "%s: no one-line message", what);
    /* every entry point refuses it the same way, before reading a pixel */
    uint8_t rgb[64];
    float out[3 * 4 * 4];
    pe_preprocess pp = {.height = 4, .width = 4, .crop = PE_CROP_SQUASH, .resample = PE_RESAMPLE_BILINEAR};
    CHECK(pe_frame_to_rgb8(f, rgb, 24, sizeof rgb) == s, "%s: to_rgb8 disagrees", what);
    CHECK(pe_preprocess_frame(f, &pp, out, 48) == s, "%s: preprocess disagrees", what);
}

static void test_validation(void) {
    yuv_img m;
    yuv_random(&m, 33, 17); /* odd both ways: chroma 17 x 9 */
    bufs b;
    const pe_frame_format fmts[] = {PE_FRAME_NV12, PE_FRAME_NV21, PE_FRAME_I420, PE_FRAME_YUV420_888};
    for (int k = 0; k < 4; k++) {
        for (int cps = 1; cps <= (fmts[k] == PE_FRAME_YUV420_888 ? 2 : 1); cps++) {
            pe_frame f = make_yuv(&m, fmts[k], cps, 5, &b), g;
            CHECK(pe_frame_check(&f) == PE_OK, "fmt %d: good frame refused: %s", k, pe_last_error());
            int nplanes = fmts[k] == PE_FRAME_NV12 || fmts[k] == PE_FRAME_NV21 ? 2 : 3;
            for (int p = 0; p < nplanes; p++) {
                g = f; g.planes[p].size--; /* one byte short at the last pixel */
                expect_bad(&g, PE_ERR_SHAPE, "short plane");
                g = f; g.planes[p].data = NULL;
                expect_bad(&g, PE_ERR_INVALID_ARG, "NULL plane");
                g = f; g.planes[p].row_stride = p ? (size_t)m.cw * (cps == 2 || nplanes == 2 ? 2 : 1) - 2 : (size_t)m.w - 1;
                expect_bad(&g, PE_ERR_INVALID_ARG, "stride < width");
                g = f; g.planes[p].pixel_stride = 3;
                expect_bad(&g, PE_ERR_INVALID_ARG, "pixel stride 3");
                g = f; g.planes[p].row_stride = SIZE_MAX / 4;
                expect_bad(&g, PE_ERR_LIMIT, "stride overflows");
            }
            g = f; g.rotation = 45;
            expect_bad(&g, PE_ERR_INVALID_ARG, "rotation 45");
            g = f; g.rotation = -90;
            expect_bad(&g, PE_ERR_INVALID_ARG, "rotation -90");
            g = f; g.rotation = 360;
            expect_bad(&g, PE_ERR_INVALID_ARG, "rotation 360");
            g = f; g.yuv = (pe_yuv_matrix)7;
            expect_bad(&g, PE_ERR_INVALID_ARG, "yuv 7");
            g = f; g.crop = (pe_rect){1, 1, 33, 16};
            expect_bad(&g, PE_ERR_INVALID_ARG, "crop past the right edge");
            g = f; g.crop = (pe_rect){-1, 0, 4, 4};
            expect_bad(&g, PE_ERR_INVALID_ARG, "crop at -1");
            g = f; g.crop = (pe_rect){INT_MAX, 0, 4, 4};
            expect_bad(&g, PE_ERR_INVALID_ARG, "crop at INT_MAX");
            g = f; g.crop = (pe_rect){0, 0, INT_MAX, 4};
            expect_bad(&g, PE_ERR_INVALID_ARG, "crop of INT_MAX");
            g = f; g.crop = (pe_rect){2, 2, 0, 4};
            expect_bad(&g, PE_ERR_INVALID_ARG, "crop of width 0 at 2,2");
            g = f; g.crop = (pe_rect){32, 16, 1, 1};
            CHECK(pe_frame_check(&g) == PE_OK, "1x1 crop at the corner refused");
            g = f; g.width = 34;
            expect_bad(&g, PE_ERR_SHAPE, "one column more than the last row holds");
            g = f; g.width = 33 + 5 + 1;
            expect_bad(&g, PE_ERR_INVALID_ARG, "width beyond the stride");
            g = f; g.height = 18;
            expect_bad(&g, PE_ERR_SHAPE, "one row more than the planes hold");
            g = f; g.width = 0;
            expect_bad(&g, PE_ERR_INVALID_ARG, "width 0");
            g = f; g.height = -3;
            expect_bad(&g, PE_ERR_INVALID_ARG, "height -3");
            g = f; g.width = 1 << 20; g.height = 1 << 20;
            expect_bad(&g, PE_ERR_LIMIT, "huge size");
            g = f; g.format = (pe_frame_format)9;
            expect_bad(&g, PE_ERR_INVALID_ARG, "format 9");
            g = f; g.format = (pe_frame_format)-1;
            expect_bad(&g, PE_ERR_INVALID_ARG, "format -1");
            bufs_free(&b);
        }
    }
    if (1) { /* YUV420_888: U and V with different pixel strides */
        pe_frame f = make_yuv(&m, PE_FRAME_YUV420_888, 1, 0, &b);
        f.planes[2].pixel_stride = 2;
        expect_bad(&f, PE_ERR_INVALID_ARG, "888 mixed pixel strides");
        bufs_free(&b);
    }
    /* packed and gray: exact sizes */
    const pe_frame_format packed[] = {PE_FRAME_BGRA8, PE_FRAME_RGBA8, PE_FRAME_BGRX8, PE_FRAME_RGBX8,
                                      PE_FRAME_GRAY8};
    for (int k = 0; k < 5; k++) {
        int bpp = packed[k] == PE_FRAME_GRAY8 ? 1 : 4;
        size_t stride = (size_t)7 * bpp + 3, sz;
        uint8_t *p = plane_alloc((size_t)7 * bpp, 5, stride, &sz);
        pe_frame f = {.format = packed[k], .width = 7, .height = 5, .planes = {{p, sz, stride, 0}}};
        CHECK(pe_frame_check(&f) == PE_OK, "packed %d refused: %s", k, pe_last_error());
        pe_frame g = f; g.planes[0].size--;
        expect_bad(&g, PE_ERR_SHAPE, "packed short");
        g = f; g.planes[0].pixel_stride = bpp == 4 ? 3 : 2;
        expect_bad(&g, PE_ERR_INVALID_ARG, "packed pixel stride");
        g = f; g.planes[0].row_stride = (size_t)7 * bpp - 1;
        expect_bad(&g, PE_ERR_INVALID_ARG, "packed stride < row");
        free(p);
    }
    CHECK(pe_frame_check(NULL) == PE_ERR_INVALID_ARG, "NULL frame");
    yuv_free(&m);
}

/* ------------------------------------------------------------ conversion */

/* The matrix of pecore.h in double, for a tolerance check of the float one,
 * and exact values at the ends of the ranges. */
static void test_matrix(void) {
    const double K[2][2] = {{0.299, 0.114}, {0.2126, 0.0722}};
    int worst = 0;
    for (int mtx = 0; mtx < 4; mtx++) {
        pe_yuv_coef c;
        pe_yuv_coef_init((pe_yuv_matrix)mtx, &c);
        const int full = mtx == PE_YUV_BT601_FULL || mtx == PE_YUV_BT709_FULL;
        const double kr = K[mtx >= 2][0], kb = K[mtx >= 2][1], kg = 1 - kr - kb;
        const double sy = full ? 1 : 255.0 / 219, sc = full ? 1 : 255.0 / 224, yo = full ? 0 : 16;
        for (int i = 0; i < 4000; i++) {
            uint8_t y = (uint8_t)rng_u32(), u = (uint8_t)rng_u32(), v = (uint8_t)rng_u32(), rgb[3];
            pe_pixels_scalar.yuv_rgb(&y, &u, &v, 1, 0, 1, &c, rgb);
            double Y = sy * (y - yo), Cb = sc * (u - 128), Cr = sc * (v - 128);
            double ref[3] = {Y + 2 * (1 - kr) * Cr, Y - 2 * (1 - kb) * kb / kg * Cb - 2 * (1 - kr) * kr / kg * Cr,
                             Y + 2 * (1 - kb) * Cb};
            for (int ch = 0; ch < 3; ch++) {
                double r = fmin(255, fmax(0, ref[ch]));
                int d = abs((int)rgb[ch] - (int)lrint(r));
                /* exactly-half cases may round the other way in float */
                if (d > worst) worst = d;
            }
        }
        /* black, white and gray land exactly */
        uint8_t lo = full ? 0 : 16, hi = full ? 255 : 235, mid = 128, rgb[3];
        pe_pixels_scalar.yuv_rgb(&lo, &mid, &mid, 1, 0, 1, &c, rgb);
        CHECK(rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 0, "matrix %d: black is %d,%d,%d", mtx, rgb[0], rgb[1], rgb[2]);
        pe_pixels_scalar.yuv_rgb(&hi, &mid, &mid, 1, 0, 1, &c, rgb);
        CHECK(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255, "matrix %d: white is %d,%d,%d", mtx, rgb[0], rgb[1], rgb[2]);
    }
    CHECK(worst <= 1, "float matrix differs from the double one by %d", worst);
    /* BT.601 limited, by hand: pure red encodes as Y=81 U=90 V=240 (rounded),
     * which decodes to R = 255/219*65 + 1.402*255/224*112 = 254.44, G = -0.48,
     * B = -0.97: (254, 0, 0) */
    pe_yuv_coef c;
    pe_yuv_coef_init(PE_YUV_BT601_LIMITED, &c);
    uint8_t y = 81, u = 90, v = 240, rgb[3];
    pe_pixels_scalar.yuv_rgb(&y, &u, &v, 1, 0, 1, &c, rgb);
    CHECK(rgb[0] == 254 && rgb[1] == 0 && rgb[2] == 0, "BT.601 red is %d,%d,%d", rgb[0], rgb[1], rgb[2]);
}

/* Upright pixel (x, y) of a frame comes from buffer pixel ... (pecore.h) */
static void upright_to_buffer(const pe_frame *f, int uw, int x, int y, int *bx, int *by) {
    pe_rect r = f->crop;
    if (!r.width) r = (pe_rect){0, 0, f->width, f->height};
    if (f->mirror) x = uw - 1 - x;
    int sx, sy;
    switch (f->rotation) {
    case 0: sx = x; sy = y; break;
    case 90: sx = y; sy = r.height - 1 - x; break;
    case 180: sx = r.width - 1 - x; sy = r.height - 1 - y; break;
    default: sx = r.width - 1 - y; sy = x; break;
    }
    *bx = r.x + sx;
    *by = r.y + sy;
}

/* Every 4:2:0 layout gives the same RGB; every pixel is the matrix of its
 * own luma and its 2x2 block's chroma; crop, rotation and mirror move the
 * pixels as pecore.h says. */
static void test_layouts_and_geometry(void) {
    const int sizes[][2] = {{33, 17}, {1, 1}, {2, 3}, {40, 24}, {19, 32}};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        yuv_img m;
        yuv_random(&m, sizes[si][0], sizes[si][1]);
        pe_yuv_coef c;
        pe_yuv_coef_init(PE_YUV_BT601_LIMITED, &c);
        bufs b0;
        pe_frame f0 = make_yuv(&m, PE_FRAME_I420, 0, 0, &b0);
        int w, h;
        uint8_t *ref = to_rgb(&f0, &w, &h);
        CHECK(ref && w == m.w && h == m.h, "%dx%d: I420 conversion", m.w, m.h);
        int bad = 0;
        for (int y = 0; ref && y < m.h; y++)
            for (int x = 0; x < m.w; x++) {
                uint8_t px[3];
                size_t ci = (size_t)(y / 2) * m.cw + x / 2;
                pe_pixels_scalar.yuv_rgb(&m.y[(size_t)y * m.w + x], &m.u[ci], &m.v[ci], 1, 0, 1, &c, px);
                bad += memcmp(px, ref + ((size_t)y * m.w + x) * 3, 3) != 0;
            }
        CHECK(bad == 0, "%dx%d: %d pixels do not take their 2x2 block's chroma", m.w, m.h, bad);
        struct { pe_frame_format f; int cps; size_t pad; } lay[] = {
            {PE_FRAME_NV12, 0, 0}, {PE_FRAME_NV21, 0, 3}, {PE_FRAME_I420, 0, 7},
            {PE_FRAME_YUV420_888, 1, 1}, {PE_FRAME_YUV420_888, 2, 16}};
        for (size_t li = 0; li < sizeof lay / sizeof lay[0]; li++) {
            bufs b;
            pe_frame f = make_yuv(&m, lay[li].f, lay[li].cps, lay[li].pad, &b);
            int w2, h2;
            uint8_t *rgb = to_rgb(&f, &w2, &h2);
            CHECK(rgb && ref && memcmp(rgb, ref, (size_t)w * h * 3) == 0,
                  "%dx%d: layout %zu differs from I420", m.w, m.h, li);
            free(rgb);
            /* geometry on this layout */
            for (int rot = 0; rot < 360; rot += 90)
                for (int mir = 0; mir < 2; mir++)
                    for (int cr = 0; cr < 2; cr++) {
                        pe_frame g = f;
                        g.rotation = rot;
                        g.mirror = mir;
                        if (cr && m.w > 3 && m.h > 3)
                            g.crop = (pe_rect){1, 3 % m.h, m.w - 2, m.h - 3 % m.h - 1};
                        int uw, uh;
                        uint8_t *u = to_rgb(&g, &uw, &uh);
                        CHECK(u != NULL, "rot %d mirror %d crop %d", rot, mir, cr);
                        int miss = 0;
                        for (int y = 0; u && ref && y < uh; y++)
                            for (int x = 0; x < uw; x++) {
                                int bx, by;
                                upright_to_buffer(&g, uw, x, y, &bx, &by);
                                miss += memcmp(u + ((size_t)y * uw + x) * 3,
                                               ref + ((size_t)by * m.w + bx) * 3, 3) != 0;
                            }
                        CHECK(miss == 0, "%dx%d layout %zu rot %d mirror %d crop %d: %d pixels misplaced",
                              m.w, m.h, li, rot, mir, cr, miss);
                        free(u);
                    }
            bufs_free(&b);
        }
        free(ref);
        bufs_free(&b0);
        yuv_free(&m);
    }
}

/* Packed formats: channel order, alpha ignored; gray replicated. */
static void test_packed(void) {
    const int w = 21, h = 6;
    uint8_t *px = malloc((size_t)w * h * 4), *gray = malloc((size_t)w * h);
    for (int i = 0; i < w * h * 4; i++) px[i] = (uint8_t)rng_u32();
    for (int i = 0; i < w * h; i++) gray[i] = (uint8_t)rng_u32();
    const pe_frame_format fm[] = {PE_FRAME_BGRA8, PE_FRAME_RGBA8, PE_FRAME_BGRX8, PE_FRAME_RGBX8};
    for (int k = 0; k < 4; k++) {
        pe_frame f = {.format = fm[k], .width = w, .height = h,
                      .planes = {{px, (size_t)w * h * 4, (size_t)w * 4, 0}}};
        int uw, uh;
        uint8_t *rgb = to_rgb(&f, &uw, &uh);
        int bgr = fm[k] == PE_FRAME_BGRA8 || fm[k] == PE_FRAME_BGRX8, bad = !rgb;
        for (int i = 0; rgb && i < w * h; i++)
            for (int c = 0; c < 3; c++) bad += rgb[3 * i + c] != px[4 * i + (bgr ? 2 - c : c)];
        CHECK(bad == 0, "packed %d: %d wrong bytes", k, bad);
        /* preprocessing ignores alpha: equal to the RGB image's, bit for bit */
        pe_preprocess pp = {.height = 9, .width = 13,
                            .crop = PE_CROP_SQUASH, .resample = PE_RESAMPLE_BILINEAR};
        float *a = prep_frame(&f, &pp), *b = rgb ? prep_rgb(rgb, w, h, &pp) : NULL;
        CHECK(same_floats(a, b, 3 * 9 * 13), "packed %d: preprocessing differs from its RGB", k);
        free(a);
        free(b);
        free(rgb);
    }
    pe_frame g = {.format = PE_FRAME_GRAY8, .width = w, .height = h, .planes = {{gray, (size_t)w * h, (size_t)w, 0}}};
    int uw, uh;
    uint8_t *rgb = to_rgb(&g, &uw, &uh);
    int bad = !rgb;
    for (int i = 0; rgb && i < w * h; i++)
        bad += rgb[3 * i] != gray[i] || rgb[3 * i + 1] != gray[i] || rgb[3 * i + 2] != gray[i];
    CHECK(bad == 0, "gray: %d wrong pixels", bad);
    pe_preprocess pp = {.height = 5, .width = 8, .crop = PE_CROP_CENTER, .resample = PE_RESAMPLE_BILINEAR};
    float *a = prep_frame(&g, &pp), *b = rgb ? prep_rgb(rgb, w, h, &pp) : NULL;
    CHECK(same_floats(a, b, 3 * 5 * 8), "gray: preprocessing differs from its RGB");
    free(a);
    free(b);
    free(rgb);
    free(px);
    free(gray);
}

/* ------------------------------------------------ preprocessing, bit exact */

/* pe_preprocess_frame == pe_preprocess_image(pe_frame_to_rgb8), for every
 * geometry and both resamplers, with the current kernel set. */
static int check_frame_vs_rgb(const pe_frame *f, const pe_preprocess *pp, const char *what) {
    int w, h;
    uint8_t *rgb = to_rgb(f, &w, &h);
    size_t n = (size_t)3 * pp->width * pp->height;
    float *a = prep_frame(f, pp), *b = rgb ? prep_rgb(rgb, w, h, pp) : NULL;
    int ok = same_floats(a, b, n);
    CHECK(ok, "%s: frame %dx%d rot %d mirror %d -> %dx%d crop %d resample %d differs from its RGB",
          what, f->width, f->height, f->rotation, f->mirror, pp->width, pp->height, (int)pp->crop,
          (int)pp->resample);
    free(a);
    free(b);
    free(rgb);
    return ok;
}

static void test_preprocess_exact(void) {
    const int sizes[][2] = {{64, 36}, {41, 23}, {17, 30}, {3, 2}};
    const int targets[][2] = {{16, 16}, {7, 11}, {40, 40}, {96, 64}};
    int n = 0;
    for (size_t si = 0; si < 4; si++) {
        yuv_img m;
        yuv_random(&m, sizes[si][0], sizes[si][1]);
        bufs b;
        pe_frame f = make_yuv(&m, si & 1 ? PE_FRAME_NV12 : PE_FRAME_YUV420_888, 2, 8, &b);
        f.yuv = (pe_yuv_matrix)(si % 4);
        for (size_t ti = 0; ti < 4; ti++)
            for (int rot = 0; rot < 360; rot += 90)
                for (int k = 0; k < 4; k++) {
                    pe_frame g = f;
                    g.rotation = rot;
                    g.mirror = k & 1;
                    if (k & 2 && m.w > 4) g.crop = (pe_rect){3, 1, m.w - 4, m.h - 1};
                    pe_preprocess pp = {.height = targets[ti][0], .width = targets[ti][1],
                                        .crop = (k + ti) & 1 ? PE_CROP_CENTER : PE_CROP_SQUASH,
                                        .resample = ti == 3 && k == 1 ? PE_RESAMPLE_NEAREST : PE_RESAMPLE_BILINEAR};
                    n += check_frame_vs_rgb(&g, &pp, "exact");
                }
        bufs_free(&b);
        yuv_free(&m);
    }
    printf("  %d frame geometries preprocess exactly as their RGB images\n", n);
}

/* ------------------------------------------------ SIMD against scalar */

/* 1 when set p preprocesses f differently from the scalar set. */
static float *prep_frame_px(const pe_frame *f, const pe_preprocess *pp, const pe_pixels *px) {
    size_t n = (size_t)3 * pp->width * pp->height;
    float *out = malloc(n * sizeof *out);
    pe_frame_source s;
    if (pe_frame_source_init_px(f, px, &s) || pe_preprocess_source(&s.base, pp, out, n)) {
        fprintf(stderr, "preprocess_frame (%s): %s\n", px->name, pe_last_error());
        free(out);
        return NULL;
    }
    return out;
}

/* pe_preprocess_image with the pixel passes px. */
static void prep_image_px(const pe_image *im, const pe_preprocess *pp, const pe_pixels *px, float *out,
                          size_t n) {
    pe_image_source is;
    if (pe_image_source_init(im, &is)) return;
    is.base.px = px;
    pe_preprocess_source(&is.base, pp, out, n);
}

static int differs_from_scalar(const pe_frame *f, const pe_preprocess *pp, const pe_pixels *p) {
    float *a = prep_frame_px(f, pp, &pe_pixels_scalar);
    float *b = prep_frame_px(f, pp, p);
    const int bad = !same_floats(a, b, (size_t)3 * pp->width * pp->height);
    free(a);
    free(b);
    return bad;
}

/* The planar kernels (pixels.h) against their scalar forms on runs of every
 * start parity, tail and chroma stride; the passes are checked through
 * whole preprocessings (test_planar_vs_scalar). */
static void test_planar_kernels(const pe_pixels *best) {
    pe_yuv_coef c;
    int bad = 0;
    enum { MAXN = 140, PS = MAXN + 3 };
    uint8_t a[3 * PS], b2[3 * PS];
    for (int mtx = 0; mtx < 4; mtx++) {
        pe_yuv_coef_init((pe_yuv_matrix)mtx, &c);
        for (int it = 0; it < 300; it++) {
            int x0 = (int)(rng_u32() % 9), n = 1 + (int)(rng_u32() % MAXN), cps = 1 + (int)(rng_u32() & 1);
            int cw = (x0 + n + 1) / 2;
            /* the ends of y, u, v are the ends of the allocations */
            uint8_t *y = malloc((size_t)(x0 + n)), *u = malloc((size_t)cw * cps), *v = malloc((size_t)cw * cps);
            for (int i = 0; i < x0 + n; i++) y[i] = (uint8_t)rng_u32();
            for (int i = 0; i < cw * cps; i++) { u[i] = (uint8_t)rng_u32(); v[i] = (uint8_t)rng_u32(); }
            memset(a, 0, sizeof a);
            memset(b2, 0, sizeof b2);
            pe_yuv_planes_scalar(y, u, v, cps, x0, n, &c, a, PS);
            best->yuv_planes(y, u, v, cps, x0, n, &c, b2, PS);
            bad += memcmp(a, b2, sizeof a) != 0; /* nothing written past n either */
            free(y); free(u); free(v);
        }
    }
    CHECK(bad == 0, "%s yuv_planes: %d runs differ from scalar", best->name, bad);
    bad = 0;
    for (int it = 0; it < 100; it++) {
        int n = 1 + (int)(rng_u32() % MAXN), bgr = it & 1;
        uint8_t *src = malloc((size_t)n * 4);
        for (int i = 0; i < n * 4; i++) src[i] = (uint8_t)rng_u32();
        memset(a, 0, sizeof a);
        memset(b2, 0, sizeof b2);
        pe_packed_planes_scalar(src, n, bgr ? 2 : 0, 1, bgr ? 0 : 2, a, PS);
        best->packed_planes(src, n, bgr ? 2 : 0, 1, bgr ? 0 : 2, b2, PS);
        bad += memcmp(a, b2, sizeof a) != 0;
        free(src);
    }
    CHECK(bad == 0, "%s packed_planes: %d runs differ from scalar", best->name, bad);
    float lut[256], fa[MAXN], fb[MAXN];
    uint8_t idx[MAXN];
    for (int i = 0; i < 256; i++) lut[i] = (float)i * 0.37f - 11.0f;
    for (int i = 0; i < MAXN; i++) idx[i] = (uint8_t)rng_u32();
    bad = 0;
    for (int n = 1; n <= MAXN; n += 7) {
        for (int i = 0; i < n; i++) fa[i] = lut[idx[i]];
        best->lut_row(lut, idx, n, fb);
        bad += memcmp(fa, fb, (size_t)n * sizeof *fa) != 0;
    }
    CHECK(bad == 0, "%s lut_row: %d lengths differ", best->name, bad);
    /* transpose: tiles of every shape around 16 x 64, nothing written
     * outside the rows x cols it owns */
    enum { TR = 40, TC = 150, TS = TC + 5, TD = TR + 3 };
    static uint8_t tsrc[TR * TS], ta[TC * TD], tb[TC * TD];
    for (size_t i = 0; i < sizeof tsrc; i++) tsrc[i] = (uint8_t)rng_u32();
    bad = 0;
    for (int it = 0; it < 200; it++) {
        const int rows = 1 + (int)(rng_u32() % TR), cols = 1 + (int)(rng_u32() % TC);
        memset(ta, 0x5A, sizeof ta);
        memset(tb, 0x5A, sizeof tb);
        pe_transpose_scalar(tsrc, TS, rows, cols, ta, TD);
        best->transpose(tsrc, TS, rows, cols, tb, TD);
        bad += memcmp(ta, tb, sizeof ta) != 0;
    }
    CHECK(bad == 0, "%s transpose: %d shapes differ from scalar", best->name, bad);
    bad = 0;
    for (int n = 0; n <= 300; n += 1 + n / 16) {
        memcpy(ta, tsrc, (size_t)n + 8);
        memcpy(tb, tsrc, (size_t)n + 8);
        pe_reverse_scalar(ta, n);
        best->reverse(tb, n);
        bad += memcmp(ta, tb, (size_t)n + 8) != 0;
    }
    CHECK(bad == 0, "%s reverse: %d lengths differ from scalar", best->name, bad);
}

/* Frames of every layout, big enough for the planar path's 32-pixel steps,
 * 16-output groups, 64-column rotation blocks and their tails, in every
 * rotation and mirror, crops from odd x and y: scalar against the set. */
static void test_planar_vs_scalar(const pe_pixels *best) {
    const int sizes[][2] = {{333, 101}, {700, 64}, {45, 300}};
    /* NV12, NV21, YUV420_888 with pixel stride 2 (one buffer, then U and V
     * apart) and 1, I420, then the packed formats and gray */
    const pe_frame_format fm[] = {PE_FRAME_NV12, PE_FRAME_NV21, PE_FRAME_YUV420_888,
                                  PE_FRAME_YUV420_888, PE_FRAME_YUV420_888, PE_FRAME_I420,
                                  PE_FRAME_BGRA8, PE_FRAME_RGBX8, PE_FRAME_GRAY8};
    const int cps[] = {0, 0, 2, 2, 1, 0};
    int bad = 0, runs = 0;
    for (size_t si = 0; si < 3; si++) {
        const int w = sizes[si][0], h = sizes[si][1];
        yuv_img m;
        yuv_random(&m, w, h);
        uint8_t *px = malloc((size_t)w * h * 4);
        for (int i = 0; i < w * h * 4; i++) px[i] = (uint8_t)rng_u32();
        for (int k = 0; k < 9; k++) {
            bufs b;
            memset(&b, 0, sizeof b);
            pe_frame f;
            if (k < 6) {
                f = make_yuv(&m, fm[k], cps[k], (size_t)k, &b);
                if (k == 3) { /* V in a buffer of its own, pixel stride 2 still */
                    b.p[2] = malloc(f.planes[2].size);
                    memcpy(b.p[2], f.planes[2].data, f.planes[2].size);
                    f.planes[2].data = b.p[2];
                }
            } else {
                const int bpp = fm[k] == PE_FRAME_GRAY8 ? 1 : 4;
                f = (pe_frame){.format = fm[k], .width = w, .height = h,
                               .planes = {{px, (size_t)w * h * bpp, (size_t)w * bpp, 0}}};
            }
            for (int v = 0; v < 8; v++) {
                pe_frame g = f;
                g.rotation = 90 * (v & 3);
                g.mirror = v >> 2;
                /* odd starts: x and y, x alone, y alone */
                if (v == 3) g.crop = (pe_rect){3, 1, w - 8, h - 2};
                if (v == 5) g.crop = (pe_rect){1, 0, w - 2, h - 1};
                if (v == 6) g.crop = (pe_rect){4, 3, w - 9, h - 5};
                pe_preprocess pp = {.height = v & 1 ? 77 : 47, .width = v & 1 ? 128 : 61,
                                    .crop = v & 1 ? PE_CROP_CENTER : PE_CROP_SQUASH,
                                    .resample = v & 1 ? PE_RESAMPLE_BICUBIC : PE_RESAMPLE_BILINEAR,
                                    .norm = v == 2 ? PE_NORM_IMAGENET : PE_NORM_HALF};
                bad += differs_from_scalar(&g, &pp, best);
                runs++;
            }
            bufs_free(&b);
        }
        free(px);
        yuv_free(&m);
    }
    CHECK(bad == 0, "%s: %d of %d planar-size frames differ from scalar", best->name, bad, runs);
}

static void test_kernels_vs_scalar(const pe_pixels *best) {
    printf("  pixel kernels: %s\n", best->name);
    if (best == &pe_pixels_scalar) return;
    if (best->hpass_planes) {
        test_planar_kernels(best);
        test_planar_vs_scalar(best);
    }
    /* yuv_rgb on every start parity, length and chroma stride */
    pe_yuv_coef c;
    int bad = 0;
    for (int mtx = 0; mtx < 4; mtx++) {
        pe_yuv_coef_init((pe_yuv_matrix)mtx, &c);
        for (int it = 0; it < 300; it++) {
            int x0 = (int)(rng_u32() % 9), n = 1 + (int)(rng_u32() % 70), cps = 1 + (int)(rng_u32() & 1);
            int cw = (x0 + n + 1) / 2;
            uint8_t *y = malloc((size_t)(x0 + n)), *u = malloc((size_t)cw * cps), *v = malloc((size_t)cw * cps);
            for (int i = 0; i < x0 + n; i++) y[i] = (uint8_t)rng_u32();
            for (int i = 0; i < cw * cps; i++) { u[i] = (uint8_t)rng_u32(); v[i] = (uint8_t)rng_u32(); }
            /* the kernels may read only the samples the run uses: the ends
             * of y, u, v are the ends of the allocations */
            uint8_t a[3 * 80], b2[3 * 80];
            pe_pixels_scalar.yuv_rgb(y, u, v, cps, x0, n, &c, a);
            best->yuv_rgb(y, u, v, cps, x0, n, &c, b2);
            bad += memcmp(a, b2, (size_t)n * 3) != 0;
            free(y); free(u); free(v);
        }
    }
    CHECK(bad == 0, "%s yuv_rgb: %d runs differ from scalar", best->name, bad);
    bad = 0;
    for (int it = 0; it < 100; it++) {
        int n = 1 + (int)(rng_u32() % 70);
        uint8_t *src = malloc((size_t)n * 4), a[3 * 70], b2[3 * 70];
        for (int i = 0; i < n * 4; i++) src[i] = (uint8_t)rng_u32();
        pe_pixels_scalar.packed_rgb(src, n, 2, 1, 0, a);
        best->packed_rgb(src, n, 2, 1, 0, b2);
        bad += memcmp(a, b2, (size_t)n * 3) != 0;
        pe_pixels_scalar.packed_rgb(src, n, 0, 1, 2, a);
        best->packed_rgb(src, n, 0, 1, 2, b2);
        bad += memcmp(a, b2, (size_t)n * 3) != 0;
        free(src);
    }
    CHECK(bad == 0, "%s packed_rgb: %d runs differ from scalar", best->name, bad);

    /* whole preprocessing, frames and images, on awkward sizes */
    const int sizes[][2] = {{97, 61}, {33, 200}, {250, 7}, {64, 64}};
    const int targets[][2] = {{31, 31}, {64, 17}, {128, 128}, {5, 300}};
    bad = 0;
    int runs = 0;
    for (size_t si = 0; si < 4; si++) {
        yuv_img m;
        yuv_random(&m, sizes[si][0], sizes[si][1]);
        bufs b;
        pe_frame f = make_yuv(&m, si & 1 ? PE_FRAME_I420 : PE_FRAME_NV21, 0, 3, &b);
        for (size_t ti = 0; ti < 4; ti++)
            for (int rot = 0; rot < 360; rot += 90) {
                pe_frame g = f;
                g.rotation = rot;
                g.mirror = ti & 1;
                /* bicubic (DINOv2's filter) has negative lobes: sums below 0 and
                 * above 255 that the SIMD passes must clamp as the scalar one */
                pe_preprocess pp = {.height = targets[ti][0], .width = targets[ti][1],
                                    .crop = ti & 2 ? PE_CROP_CENTER : PE_CROP_SQUASH,
                                    .resample = rot == 90 ? PE_RESAMPLE_BICUBIC : PE_RESAMPLE_BILINEAR};
                bad += differs_from_scalar(&g, &pp, best);
                runs++;
            }
        bufs_free(&b);
        yuv_free(&m);
    }
    CHECK(bad == 0, "%s: %d of %d frame preprocessings differ from scalar", best->name, bad, runs);
    /* images of every pixel format through the SIMD passes */
    bad = 0;
    for (int fmt = 0; fmt <= PE_PIXEL_BGRA8; fmt++)
        for (int cubic = 0; cubic < 2; cubic++) {
        const int bpp[] = {1, 2, 3, 4, 4};
        int w = 83, h = 47;
        uint8_t *px = malloc((size_t)w * h * bpp[fmt]);
        for (int i = 0; i < w * h * bpp[fmt]; i++) px[i] = (uint8_t)rng_u32();
        pe_image im = {px, w, h, (size_t)w * bpp[fmt], (pe_pixel_format)fmt};
        pe_preprocess pp = {.height = 29, .width = 120,
                            .crop = PE_CROP_SQUASH,
                            .resample = cubic ? PE_RESAMPLE_BICUBIC : PE_RESAMPLE_BILINEAR};
        size_t n = (size_t)3 * 29 * 120;
        float *a = malloc(n * 4), *b2 = malloc(n * 4);
        prep_image_px(&im, &pp, &pe_pixels_scalar, a, n);
        prep_image_px(&im, &pp, best, b2, n);
        bad += !same_floats(a, b2, n);
        free(a);
        free(b2);
        free(px);
        }
    CHECK(bad == 0, "%s: %d image formats differ from scalar", best->name, bad);
}

/* ------------------------------------------------ encode: frame == image */

static void test_encode(void) {
    char path[1024];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    pe_model *m = NULL;
    if (pe_model_load(path, NULL, &m)) {
        printf("  (no %s: encode test skipped)\n", path);
        return;
    }
    pe_model_info in;
    pe_model_get_info(m, &in);
    pe_ctx *c = NULL;
    CHECK(pe_ctx_create(m, &(pe_ctx_options){.n_threads = 1}, &c) == PE_OK, "ctx: %s", pe_last_error());
    yuv_img y;
    yuv_random(&y, 71, 45);
    bufs b;
    pe_frame f = make_yuv(&y, PE_FRAME_NV12, 0, 9, &b);
    f.rotation = 90;
    f.mirror = 1;
    int w, h;
    uint8_t *rgb = to_rgb(&f, &w, &h);
    size_t D = (size_t)in.out_dim;
    float *e1 = malloc(D * 4), *e2 = malloc(D * 4);
    pe_image im = {rgb, w, h, (size_t)w * 3, PE_PIXEL_RGB8};
    CHECK(c && pe_encode_frame(c, &f, NULL, PE_OUTPUT_EMBEDDING, e1, D) == PE_OK, "encode_frame: %s",
          pe_last_error());
    CHECK(c && pe_encode_image(c, &im, NULL, PE_OUTPUT_EMBEDDING, e2, D) == PE_OK, "encode_image: %s",
          pe_last_error());
    CHECK(same_floats(e1, e2, D), "pe_encode_frame differs from pe_encode_image of its RGB");
    pe_frame g = f;
    g.planes[0].size = 5;
    CHECK(c && pe_encode_frame(c, &g, NULL, PE_OUTPUT_EMBEDDING, e1, D) == PE_ERR_SHAPE,
          "encode_frame takes a short plane");
    free(e1);
    free(e2);
    free(rgb);
    bufs_free(&b);
    yuv_free(&y);
    pe_ctx_free(c);
    pe_model_free(m);
}

int main(void) {
    test_validation();
    test_matrix();
    test_layouts_and_geometry();
    test_packed();
    test_preprocess_exact();
    /* every set this CPU runs, once each (the rows of the ISA registry) */
    const pe_pixels *seen[16];
    int n_seen = 0;
    for (int i = 0; i < pe_isa_count() && n_seen < 16; i++) {
        const pe_isa *row = pe_isa_at(i);
        int dup = 0;
        for (int j = 0; j < n_seen; j++) dup |= seen[j] == row->pixels;
        if (dup || !row->supported()) continue;
        seen[n_seen++] = row->pixels;
        test_kernels_vs_scalar(row->pixels);
    }
    test_encode();
    return test_done("test_frame");
}
