/* Camera frames: validation, and conversion to upright RGB rows fed straight
 * into the resampler's horizontal pass (nothing the size of the frame is
 * ever stored).
 *
 * Semantics (pecore.h): 4:2:0 chroma is upsampled nearest (pixel (x, y)
 * takes chroma sample (x / 2, y / 2) of the buffer, crop or not); the
 * matrix is pixels.h's pe_yuv_coef; then the crop, the rotation and the
 * mirror pick which converted pixels make the upright image.  Packed
 * formats ignore alpha, gray stays one channel (the resampler replicates it
 * exactly as for an RGB image of equal channels). */
#include "frame.h"

#include <limits.h>
#include <string.h>

/* ------------------------------------------------------------ validation */

static const char *format_name(pe_frame_format f) {
    switch (f) {
    case PE_FRAME_NV12: return "NV12";
    case PE_FRAME_NV21: return "NV21";
    case PE_FRAME_I420: return "I420";
    case PE_FRAME_YUV420_888: return "YUV420_888";
    case PE_FRAME_BGRA8: return "BGRA8";
    case PE_FRAME_RGBA8: return "RGBA8";
    case PE_FRAME_BGRX8: return "BGRX8";
    case PE_FRAME_RGBX8: return "RGBX8";
    case PE_FRAME_GRAY8: return "GRAY8";
    }
    return "?";
}

/* One plane of cols x rows samples of `bytes` each, pixel_stride apart (0:
 * def), must hold every byte that is read: (rows - 1) full rows and the
 * last row up to its last sample. */
static pe_status check_plane(const pe_frame *f, int i, const char *what, int cols, int rows,
                             int bytes, int def, int alt, size_t used[3]) {
    const pe_plane *p = &f->planes[i];
    const char *fmt = format_name(f->format);
    if (!p->data) return pe_error(PE_ERR_INVALID_ARG, "frame: %s plane %d (%s) is NULL", fmt, i, what);
    int ps = p->pixel_stride ? p->pixel_stride : def;
    if (ps != def && ps != alt)
        return pe_error(PE_ERR_INVALID_ARG, "frame: %s plane %d (%s): pixel stride %d, expected %d%s",
                        fmt, i, what, p->pixel_stride, def, alt != def ? " or 2" : "");
    /* cols, rows >= 1 and their product is bounded by the pixel limit */
    size_t row = (size_t)(cols - 1) * (size_t)ps + (size_t)bytes, need;
    if (p->row_stride < row)
        return pe_error(PE_ERR_INVALID_ARG,
                        "frame: %s plane %d (%s): row stride %zu is less than a row (%zu bytes)",
                        fmt, i, what, p->row_stride, row);
    if (!pe_mul_size(p->row_stride, (size_t)rows - 1, &need) || !pe_add_size(need, row, &need))
        return pe_error(PE_ERR_LIMIT, "frame: %s plane %d (%s): row stride %zu x %d rows overflows",
                        fmt, i, what, p->row_stride, rows);
    if (p->size < need)
        return pe_error(PE_ERR_SHAPE,
                        "frame: %s plane %d (%s) holds %zu bytes, %dx%d samples need %zu", fmt, i,
                        what, p->size, cols, rows, need);
    used[i] = need;
    return PE_OK;
}

static pe_status check_planes(const pe_frame *f, size_t used[3]) {
    const int w = f->width, h = f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    pe_status s;
    switch (f->format) {
    case PE_FRAME_NV12:
    case PE_FRAME_NV21:
        if ((s = check_plane(f, 0, "Y", w, h, 1, 1, 1, used))) return s;
        /* the interleaved pair is one 2-byte sample */
        if (f->planes[1].pixel_stride && f->planes[1].pixel_stride != 2)
            return pe_error(PE_ERR_INVALID_ARG, "frame: %s plane 1 (UV): pixel stride %d, expected 2",
                            format_name(f->format), f->planes[1].pixel_stride);
        return check_plane(f, 1, f->format == PE_FRAME_NV12 ? "UV" : "VU", cw, ch, 2, 2, 2, used);
    case PE_FRAME_I420:
    case PE_FRAME_YUV420_888: {
        const int alt = f->format == PE_FRAME_YUV420_888 ? 2 : 1;
        if ((s = check_plane(f, 0, "Y", w, h, 1, 1, 1, used))) return s;
        if ((s = check_plane(f, 1, "U", cw, ch, 1, 1, alt, used))) return s;
        if ((s = check_plane(f, 2, "V", cw, ch, 1, 1, alt, used))) return s;
        if (f->format == PE_FRAME_YUV420_888 &&
            (f->planes[1].pixel_stride ? f->planes[1].pixel_stride : 1) !=
                (f->planes[2].pixel_stride ? f->planes[2].pixel_stride : 1))
            return pe_error(PE_ERR_INVALID_ARG,
                            "frame: YUV420_888: U and V pixel strides differ (%d, %d)",
                            f->planes[1].pixel_stride, f->planes[2].pixel_stride);
        return PE_OK;
    }
    case PE_FRAME_BGRA8:
    case PE_FRAME_RGBA8:
    case PE_FRAME_BGRX8:
    case PE_FRAME_RGBX8: return check_plane(f, 0, "pixels", w, h, 4, 4, 4, used);
    case PE_FRAME_GRAY8: return check_plane(f, 0, "Y", w, h, 1, 1, 1, used);
    }
    return pe_error(PE_ERR_INVALID_ARG, "frame: unknown format %d", (int)f->format);
}

/* The crop rectangle, the whole frame when its width or height is 0. */
static pe_status frame_crop(const pe_frame *f, pe_rect *r) {
    *r = f->crop;
    if (r->width == 0 || r->height == 0) {
        if (r->x || r->y || r->width || r->height)
            return pe_error(PE_ERR_INVALID_ARG,
                            "frame: crop %d,%d %dx%d is empty (all zero means the whole frame)",
                            r->x, r->y, r->width, r->height);
        r->width = f->width;
        r->height = f->height;
        return PE_OK;
    }
    if (r->x < 0 || r->y < 0 || r->width < 0 || r->height < 0 || r->x > f->width - r->width ||
        r->y > f->height - r->height)
        return pe_error(PE_ERR_INVALID_ARG, "frame: crop %d,%d %dx%d is outside the %dx%d frame",
                        r->x, r->y, r->width, r->height, f->width, f->height);
    return PE_OK;
}

pe_status pe_frame_check(const pe_frame *f) {
    size_t used[3];
    return pe_frame_check_bytes(f, used);
}

pe_status pe_frame_check_bytes(const pe_frame *f, size_t used[3]) {
    used[0] = used[1] = used[2] = 0;
    if (!f) return pe_error(PE_ERR_INVALID_ARG, "frame: NULL");
    if ((unsigned)f->format > PE_FRAME_GRAY8)
        return pe_error(PE_ERR_INVALID_ARG, "frame: unknown format %d", (int)f->format);
    if (f->width <= 0 || f->height <= 0)
        return pe_error(PE_ERR_INVALID_ARG, "frame: size %dx%d is empty", f->width, f->height);
    if ((uint64_t)f->width * (uint64_t)f->height > PE_MAX_IMAGE_PIXELS)
        return pe_error(PE_ERR_LIMIT, "frame: %dx%d pixels exceeds the limit of %llu", f->width,
                        f->height, (unsigned long long)PE_MAX_IMAGE_PIXELS);
    if (f->format <= PE_FRAME_YUV420_888 && (unsigned)f->yuv > PE_YUV_BT709_FULL)
        return pe_error(PE_ERR_INVALID_ARG, "frame: unknown YUV matrix %d", (int)f->yuv);
    if (f->rotation != 0 && f->rotation != 90 && f->rotation != 180 && f->rotation != 270)
        return pe_error(PE_ERR_INVALID_ARG, "frame: rotation %d, expected 0, 90, 180 or 270",
                        f->rotation);
    pe_rect r;
    pe_status s = frame_crop(f, &r);
    return s ? s : check_planes(f, used);
}

pe_status pe_frame_upright_size(const pe_frame *f, int *width, int *height) {
    pe_status s = pe_frame_check(f);
    if (s) return s;
    pe_rect r;
    frame_crop(f, &r);
    const int turn = f->rotation == 90 || f->rotation == 270;
    if (width) *width = turn ? r.height : r.width;
    if (height) *height = turn ? r.width : r.height;
    return PE_OK;
}

/* ------------------------------------------------------------ conversion */

/* Buffer pixels bx .. bx+n-1 of buffer row by, converted, into out. */
static void convert_run(const pe_frame_source *s, int bx, int by, int n, uint8_t *out) {
    const pe_plane *p0 = &s->f.planes[0];
    const uint8_t *row = p0->data + (size_t)by * p0->row_stride;
    if (s->yuv) {
        const size_t cy = (size_t)(by >> 1);
        s->base.px->yuv_rgb(row, s->u + cy * s->us, s->v + cy * s->vs, s->cps, bx, n, &s->coef, out);
    } else if (s->base.channels == 1) {
        memcpy(out, row + bx, (size_t)n);
    } else {
        s->base.px->packed_rgb(row + 4 * (size_t)bx, n, s->ro, s->go, s->bo, out);
    }
}

/* convert_run into three planes ps bytes apart (3 channels). */
static void convert_planes(const pe_frame_source *s, int bx, int by, int n, uint8_t *out,
                           size_t ps) {
    const pe_plane *p0 = &s->f.planes[0];
    const uint8_t *row = p0->data + (size_t)by * p0->row_stride;
    if (s->yuv) {
        const size_t cy = (size_t)(by >> 1);
        s->base.px->yuv_planes(row, s->u + cy * s->us, s->v + cy * s->vs, s->cps, bx, n, &s->coef,
                          out, ps);
    } else {
        s->base.px->packed_planes(row + 4 * (size_t)bx, n, s->ro, s->go, s->bo, out, ps);
    }
}

/* Reverses n pixels of C bytes in place. */
static void reverse_pixels(uint8_t *p, int n, int C) {
    for (int i = 0, j = n - 1; i < j; i++, j--)
        for (int c = 0; c < C; c++) {
            uint8_t t = p[(size_t)i * C + c];
            p[(size_t)i * C + c] = p[(size_t)j * C + c];
            p[(size_t)j * C + c] = t;
        }
}

/* Which fill made the block (pe_frame_source.blk_kind). */
enum { BLOCK_NONE, BLOCK_PACKED, BLOCK_PLANES, BLOCK_SAMPLES };

static int block_holds(const pe_frame_source *s, int kind, int y, int x0, int n) {
    return s->blk_kind == kind && y >= s->blk_y && y < s->blk_y + s->blk_n && x0 == s->blk_x0 &&
           n == s->blk_cols;
}

static void block_record(pe_frame_source *s, int kind, int y, int B, int x0, int n) {
    s->blk_kind = kind;
    s->blk_y = y;
    s->blk_n = B;
    s->blk_x0 = x0;
    s->blk_cols = n;
}

static uint64_t round64(uint64_t n) { return (n + 63) & ~(uint64_t)63; }

/* The buffer column of upright row y + j of a block of B rows from y. */
static int block_column(const pe_frame_source *s, int y, int B) {
    return s->bx0 + (s->dxy > 0 ? y : -(y + B - 1));
}

/* Rotated 90/270: upright rows y .. y+B-1 are B adjacent buffer columns; the
 * block holds them (B rows of n pixels) after one short run per buffer row. */
static void fill_block(pe_frame_source *s, int y, int x0, int n) {
    const int C = s->base.channels;
    const int B = PE_MIN(PE_FRAME_BLOCK, s->base.height - y);
    uint8_t *blk = s->base.scratch, *run = blk + (size_t)PE_FRAME_BLOCK * n * C;
    /* buffer column of upright row y + j: bx0 + (y + j) * dxy, dxy = +-1 */
    const int bxa = block_column(s, y, B);
    for (int i = 0; i < n; i++) {
        const int by = s->by0 + (x0 + i) * s->dyx;
        convert_run(s, bxa, by, B, run);
        uint8_t *to = blk + (size_t)i * C;
        const size_t next = (size_t)n * C;
        for (int j = 0; j < B; j++, to += next) {
            const uint8_t *from = run + (size_t)(s->dxy > 0 ? j : B - 1 - j) * C; /* row y + j */
            to[0] = from[0];
            if (C == 3) {
                to[1] = from[1];
                to[2] = from[2];
            }
        }
    }
    block_record(s, BLOCK_PACKED, y, B, x0, n);
}

static void frame_fetch(pe_pixel_source *src, int y, int x0, int n, uint8_t *row) {
    pe_frame_source *s = (pe_frame_source *)(void *)src;
    const int C = src->channels;
    if (s->dyx == 0) { /* upright rows are buffer rows, forwards or backwards */
        const int by = s->by0 + y * s->dyy;
        if (s->dxx > 0) {
            convert_run(s, s->bx0 + x0, by, n, row);
        } else {
            convert_run(s, s->bx0 - (x0 + n - 1), by, n, row);
            reverse_pixels(row, n, C);
        }
        return;
    }
    if (n < PE_FRAME_BLOCK) { /* a few pixels (NEAREST): one at a time */
        for (int i = 0; i < n; i++)
            convert_run(s, s->bx0 + y * s->dxy, s->by0 + (x0 + i) * s->dyx, 1, row + (size_t)i * C);
        return;
    }
    if (!block_holds(s, BLOCK_PACKED, y, x0, n)) fill_block(s, y, x0, n);
    memcpy(row, s->base.scratch + ((size_t)(y - s->blk_y) * n) * C, (size_t)n * C);
}

/* Packed formats on the planar path: plane c of upright row y + j at
 * scratch + (c * B + j) * n, each tile of buffer rows converted into planes
 * after the block and transposed into place.  Upright pixel x0 + i is buffer
 * row by0 + (x0 + i) dyx either way, so only the row order can flip. */
static void fill_planes_block(pe_frame_source *s, int y, int x0, int n) {
    const int B = PE_MIN(PE_FRAME_PBLOCK, s->base.height - y), bxa = block_column(s, y, B);
    const size_t bps = (size_t)B * n, tps = (size_t)PE_FRAME_TILE * PE_FRAME_PBLOCK;
    uint8_t *blk = s->base.scratch, *tile = blk + 3 * bps;
    for (int i = 0; i < n; i += PE_FRAME_TILE) {
        const int rows = PE_MIN(PE_FRAME_TILE, n - i);
        for (int r = 0; r < rows; r++)
            convert_planes(s, bxa, s->by0 + (x0 + i + r) * s->dyx, B,
                           tile + (size_t)r * PE_FRAME_PBLOCK, tps);
        for (int c = 0; c < 3; c++)
            s->base.px->transpose(tile + c * tps, PE_FRAME_PBLOCK, rows, B, blk + c * bps + i, (size_t)n);
    }
    block_record(s, BLOCK_PLANES, y, B, x0, n);
}

/* 4:2:0 and gray on the planar path: the block holds the samples of its B
 * buffer columns transposed (row j: buffer column bxa + j down the buffer
 * rows of upright x0 .. x0+n-1, in upright order, so up the buffer when
 * dyx < 0: row j of the Y block, then its chroma columns), so a fetch
 * converts one such row as if it were a buffer row. */
static void fill_samples_block(pe_frame_source *s, int y, int x0, int n) {
    const int B = PE_MIN(PE_FRAME_PBLOCK, s->base.height - y), bxa = block_column(s, y, B);
    const int by = s->by0 + x0 * s->dyx, d = s->dyx; /* upright x0 + i: buffer row by + i d */
    const pe_plane *p0 = &s->f.planes[0];
    const size_t yn = (size_t)round64((size_t)n);
    uint8_t *yt = s->base.scratch + 64; /* a run may start one byte before a row */
    s->base.px->transpose(p0->data + (size_t)by * p0->row_stride + bxa, d * (ptrdiff_t)p0->row_stride, n,
                     B, yt, yn);
    s->blk_ystep = yn;
    s->blk_bx = bxa;
    /* samples i, i + 1 share a chroma row when i + par is even */
    s->blk_par = d > 0 ? by & 1 : !(by & 1);
    if (s->yuv) {
        const int c0 = bxa >> 1, nc = ((bxa + B - 1) >> 1) - c0 + 1;
        const int r0 = by >> 1, r1 = (by + (n - 1) * d) >> 1, nr = (r1 - r0) * d + 1;
        const size_t cn = (size_t)round64((size_t)nr), cps = (size_t)s->cps;
        const uint8_t *u = s->u + (size_t)r0 * s->us + (size_t)c0 * cps;
        const uint8_t *v = s->v + (size_t)r0 * s->vs + (size_t)c0 * cps;
        uint8_t *ct = yt + (size_t)B * yn;
        if (cps == 2 && s->us == s->vs && (v == u + 1 || u == v + 1)) {
            /* interleaved pairs (NV12, NV21): one transpose, U and V rows alternate */
            const int vfirst = u == v + 1;
            s->base.px->transpose(vfirst ? v : u, d * (ptrdiff_t)s->us, nr, 2 * nc, ct, cn);
            s->blk_u = ct + (size_t)vfirst * cn;
            s->blk_v = ct + (size_t)!vfirst * cn;
        } else {
            const int cols = (nc - 1) * s->cps + 1;
            s->base.px->transpose(u, d * (ptrdiff_t)s->us, nr, cols, ct, cn);
            s->base.px->transpose(v, d * (ptrdiff_t)s->vs, nr, cols, ct + (size_t)cols * cn, cn);
            s->blk_u = ct;
            s->blk_v = ct + (size_t)cols * cn;
        }
        s->blk_cstep = cps * cn;
    }
    block_record(s, BLOCK_SAMPLES, y, B, x0, n);
}

/* Rotated 90/270 upright row y as C planes ps bytes apart, from the block. */
static void fetch_turned_planes(pe_frame_source *s, int y, int x0, int n, uint8_t *planes,
                                size_t ps) {
    const int C = s->base.channels, samples = s->yuv || C == 1;
    if (!block_holds(s, samples ? BLOCK_SAMPLES : BLOCK_PLANES, y, x0, n))
        (samples ? fill_samples_block : fill_planes_block)(s, y, x0, n);
    const int j = y - s->blk_y, col = s->dxy > 0 ? j : s->blk_n - 1 - j;
    if (!samples) {
        const size_t bps = (size_t)s->blk_n * n;
        for (int c = 0; c < 3; c++)
            memcpy(planes + c * ps, s->base.scratch + c * bps + (size_t)col * n, (size_t)n);
        return;
    }
    const uint8_t *yr = s->base.scratch + 64 + (size_t)col * s->blk_ystep;
    if (C == 1) {
        memcpy(planes, yr, (size_t)n);
    } else { /* as a run from x = par: pixel x takes chroma sample x / 2 */
        const int par = s->blk_par;
        const size_t k = (size_t)(((s->blk_bx + col) >> 1) - (s->blk_bx >> 1)) * s->blk_cstep;
        s->base.px->yuv_planes(yr - par, s->blk_u + k, s->blk_v + k, 1, par, n, &s->coef, planes, ps);
    }
}

/* Gray frames on the planar path (the resampler reads one plane through
 * fetch): rotated ones from the planar block. */
static void frame_fetch_gray(pe_pixel_source *src, int y, int x0, int n, uint8_t *row) {
    pe_frame_source *s = (pe_frame_source *)(void *)src;
    if (s->dyx == 0 || n < PE_FRAME_BLOCK) {
        frame_fetch(src, y, x0, n, row);
        return;
    }
    fetch_turned_planes(s, y, x0, n, row, 0);
}

static void frame_fetch_planes(pe_pixel_source *src, int y, int x0, int n, uint8_t *planes,
                               size_t ps) {
    pe_frame_source *s = (pe_frame_source *)(void *)src;
    if (s->dyx != 0) {
        fetch_turned_planes(s, y, x0, n, planes, ps);
        return;
    }
    /* upright rows are buffer rows, forwards or backwards */
    const int by = s->by0 + y * s->dyy;
    if (s->dxx > 0) {
        convert_planes(s, s->bx0 + x0, by, n, planes, ps);
        return;
    }
    convert_planes(s, s->bx0 - (x0 + n - 1), by, n, planes, ps);
    for (int c = 0; c < 3; c++) s->base.px->reverse(planes + (size_t)c * ps, n);
}

pe_status pe_frame_source_init(const pe_frame *f, pe_frame_source *s) {
    return pe_frame_source_init_px(f, pe_pixels_get(), s);
}

pe_status pe_frame_source_init_px(const pe_frame *f, const pe_pixels *px, pe_frame_source *s) {
    memset(s, 0, sizeof *s);
    pe_status st = pe_frame_check(f);
    if (st) return st;
    pe_rect r;
    frame_crop(f, &r);
    s->f = *f;
    s->base.px = px;
    s->base.fetch = frame_fetch;
    s->base.channels = f->format == PE_FRAME_GRAY8 ? 1 : 3;
    switch (f->format) {
    case PE_FRAME_NV12:
    case PE_FRAME_NV21: {
        const pe_plane *uv = &f->planes[1];
        s->yuv = 1;
        s->u = uv->data + (f->format == PE_FRAME_NV21);
        s->v = uv->data + (f->format == PE_FRAME_NV12);
        s->us = s->vs = uv->row_stride;
        s->cps = 2;
        break;
    }
    case PE_FRAME_I420:
    case PE_FRAME_YUV420_888:
        s->yuv = 1;
        s->u = f->planes[1].data;
        s->v = f->planes[2].data;
        s->us = f->planes[1].row_stride;
        s->vs = f->planes[2].row_stride;
        s->cps = f->planes[1].pixel_stride ? f->planes[1].pixel_stride : 1;
        break;
    case PE_FRAME_BGRA8: case PE_FRAME_BGRX8: s->ro = 2; s->go = 1; s->bo = 0; break;
    case PE_FRAME_RGBA8: case PE_FRAME_RGBX8: s->ro = 0; s->go = 1; s->bo = 2; break;
    case PE_FRAME_GRAY8: break;
    }
    if (s->yuv) pe_yuv_coef_init(f->yuv, &s->coef);

    /* Upright (x, y) before the mirror comes from crop pixel
     *   0: (x, y)   90: (y, ch-1-x)   180: (cw-1-x, ch-1-y)   270: (cw-1-y, x)
     * and the mirror reads upright x as uw-1-x. */
    const int cw = r.width, ch = r.height;
    int ox = 0, oy = 0, xx = 0, xy = 0, yx = 0, yy = 0; /* crop = o + x*(xx,yx) + y*(xy,yy) */
    switch (f->rotation) {
    case 0: xx = 1; yy = 1; break;
    case 90: oy = ch - 1; yx = -1; xy = 1; break;
    case 180: ox = cw - 1; oy = ch - 1; xx = -1; yy = -1; break;
    default: ox = cw - 1; yx = 1; xy = -1; break; /* 270 */
    }
    const int turn = f->rotation == 90 || f->rotation == 270;
    s->base.width = turn ? ch : cw;
    s->base.height = turn ? cw : ch;
    if (f->mirror) { /* x -> uw-1-x: the origin moves to x = uw-1, x steps flip */
        ox += (s->base.width - 1) * xx;
        oy += (s->base.width - 1) * yx;
        xx = -xx;
        yx = -yx;
    }
    s->bx0 = r.x + ox;
    s->by0 = r.y + oy;
    s->dxx = xx;
    s->dyx = yx;
    s->dxy = xy;
    s->dyy = yy;
    const int planar = s->base.px->yuv_planes != NULL;
    if (planar && s->base.channels == 3) s->base.fetch_planes = frame_fetch_planes;
    if (planar && s->base.channels == 1) s->base.fetch = frame_fetch_gray;
    /* a reversed run needs no room (in place); a block B rows + one run, on
     * the planar path B planar rows and a tile */
    const uint64_t w = (uint64_t)s->base.width, w3 = 3 * w;
    const uint64_t packed = (PE_FRAME_BLOCK + 1) * w3;
    const uint64_t planes = s->yuv || s->base.channels == 1
                                ? 64 + PE_FRAME_PBLOCK * round64(w) + (2 * PE_FRAME_PBLOCK + 2) * round64(w / 2 + 1)
                                : PE_FRAME_PBLOCK * w3 + 3 * PE_FRAME_TILE * PE_FRAME_PBLOCK;
    const uint64_t need = !turn ? 0 : planar ? PE_MAX(packed, planes) : packed;
    if (need > SIZE_MAX)
        return pe_error(PE_ERR_LIMIT, "frame: rotated rows of %d pixels need %llu bytes of scratch", s->base.width,
                        (unsigned long long)need);
    s->base.scratch_bytes = (size_t)need;
    return PE_OK;
}

/* ------------------------------------------------------------ public */

pe_status pe_frame_to_rgb8(const pe_frame *f, uint8_t *rgb, size_t stride, size_t len) {
    pe_frame_source s;
    pe_status st = pe_frame_source_init(f, &s);
    if (st) return st;
    const int w = s.base.width, h = s.base.height;
    size_t row = (size_t)w * 3, need;
    if (!rgb) return pe_error(PE_ERR_INVALID_ARG, "frame: RGB output is NULL");
    if (stride < row)
        return pe_error(PE_ERR_INVALID_ARG, "frame: RGB stride %zu is less than a row (%zu)", stride, row);
    if (!pe_mul_size(stride, (size_t)h - 1, &need) || !pe_add_size(need, row, &need) || len < need)
        return pe_error(PE_ERR_SHAPE, "frame: RGB output holds %zu bytes, %dx%d needs %zu", len, w, h,
                        need);
    uint8_t *scratch = NULL;
    if (s.base.scratch_bytes && !(scratch = pe_alloc(s.base.scratch_bytes))) return PE_ERR_NOMEM;
    s.base.scratch = scratch;
    for (int y = 0; y < h; y++) {
        uint8_t *out = rgb + (size_t)y * stride;
        s.base.fetch(&s.base, y, 0, w, out);
        if (s.base.channels == 1) /* gray: spread in place, from the end */
            for (int x = w - 1; x >= 0; x--) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = out[x];
    }
    pe_free(scratch);
    return PE_OK;
}

pe_status pe_preprocess_frame(const pe_frame *f, const pe_preprocess *pp, float *out,
                              size_t out_len) {
    pe_frame_source s;
    pe_status st = pe_frame_source_init(f, &s);
    return st ? st : pe_preprocess_source(&s.base, pp, out, out_len);
}
