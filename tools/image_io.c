/* JPEG and PNG decoding for the CLI (see image_io.h for what each file type
 * becomes and why).  Both libraries report fatal errors through longjmp;
 * every longjmp target lives in a function whose caller owns the memory, so
 * nothing that changes after setjmp is a local of the function that called
 * it. */
#include "image_io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* State shared by a decoder and its caller: what survives a longjmp. */
typedef struct dec_state {
    const char *name;
    char *err;
    size_t errlen;
    uint8_t *pixels;   /* the image being built                          */
    uint8_t *rowbuf;   /* a decoder's temporary row                      */
    void *rows;        /* libpng row pointers                            */
} dec_state;

static int fail(dec_state *st, const char *fmt, ...) {
    if (st->err && st->errlen) {
        int n = snprintf(st->err, st->errlen, "%s: ", st->name);
        if (n >= 0 && (size_t)n < st->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int check_size(dec_state *st, uint64_t w, uint64_t h) {
    if (w == 0 || h == 0) return fail(st, "empty image (%llux%llu)",
                                      (unsigned long long)w, (unsigned long long)h);
    if (w * h > PE_MAX_IMAGE_PIXELS)
        return fail(st, "too large: %llux%llu pixels exceeds the limit of %llu",
                    (unsigned long long)w, (unsigned long long)h,
                    (unsigned long long)PE_MAX_IMAGE_PIXELS);
    return 0;
}

/* Allocates w*h*bpp bytes and describes them in out. */
static int alloc_image(dec_state *st, img_buf *out, int w, int h, int bpp,
                       pe_pixel_format fmt) {
    size_t stride = (size_t)w * (size_t)bpp;
    st->pixels = malloc(stride * (size_t)h); /* w*h <= 2^28: no overflow */
    if (!st->pixels) return fail(st, "out of memory for %dx%d pixels", w, h);
    out->image.data = st->pixels;
    out->image.width = w;
    out->image.height = h;
    out->image.stride = stride;
    out->image.format = fmt;
    return 0;
}

/* PIL's MULDIV255: a * b / 255, rounded. */
static unsigned muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are not fatal (PIL decodes through them) except running out of
 * data: libjpeg would pad the image with grey, PIL reports truncation. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(e->msg, sizeof e->msg, "truncated");
        longjmp(e->jb, 1);
    }
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

/* PIL opens every 4-component JPEG as Adobe-inverted CMYK ("CMYK;I") and
 * converts with cmyk2rgb; the two inversions fold into this. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w) {
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        unsigned nk = in[3]; /* 255 - K, with K = 255 - raw */
        for (int c = 0; c < 3; c++) {
            int v = (int)nk - (int)muldiv255(255u - in[c], nk);
            out[c] = (uint8_t)(v < 0 ? 0 : v);
        }
    }
}

static int decode_jpeg(dec_state *st, struct jpeg_decompress_struct *ci, jpeg_err *je,
                       const uint8_t *data, size_t len, img_buf *out) {
    if (setjmp(je->jb)) {
        /* A header that promises a huge image and then ends is a bomb
         * first: say so rather than "truncated". */
        if (ci->image_width && check_size(st, ci->image_width, ci->image_height)) return -1;
        return fail(st, "%s", je->msg);
    }
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    if (check_size(st, ci->image_width, ci->image_height)) return -1;

    int cmyk = 0;
    pe_pixel_format fmt;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; fmt = PE_PIXEL_GRAY8; break;
    case JCS_YCbCr:
    case JCS_RGB: ci->out_color_space = JCS_RGB; fmt = PE_PIXEL_RGB8; break;
    case JCS_CMYK:
    case JCS_YCCK: ci->out_color_space = JCS_CMYK; fmt = PE_PIXEL_RGB8; cmyk = 1; break;
    default:
        return fail(st, "unsupported JPEG colour space (%d components)", ci->num_components);
    }
    jpeg_start_decompress(ci);
    int w = (int)ci->output_width, h = (int)ci->output_height;
    int bpp = fmt == PE_PIXEL_GRAY8 ? 1 : 3;
    if (alloc_image(st, out, w, h, bpp, fmt)) return -1;
    if (cmyk && !(st->rowbuf = malloc((size_t)w * 4)))
        return fail(st, "out of memory");
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = st->pixels + (size_t)ci->output_scanline * out->image.stride;
        JSAMPROW row = cmyk ? st->rowbuf : dst;
        if (jpeg_read_scanlines(ci, &row, 1) != 1) return fail(st, "truncated");
        if (cmyk) cmyk_row_to_rgb(st->rowbuf, dst, w);
    }
    jpeg_finish_decompress(ci);
    out->resample = PE_RESAMPLE_BILINEAR;
    return 0;
}

static int load_jpeg(dec_state *st, const uint8_t *data, size_t len, img_buf *out) {
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    memset(&ci, 0, sizeof ci);
    memset(&je, 0, sizeof je);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    je.pub.emit_message = jpeg_on_message;
    je.pub.output_message = jpeg_quiet;
    int rc = decode_jpeg(st, &ci, &je, data, len, out);
    jpeg_destroy_decompress(&ci);
    return rc;
}

/* ----------------------------------------------------------------- PNG */

typedef struct png_src {
    const uint8_t *data;
    size_t len, pos;
    dec_state *st;
    char msg[200];
} png_src;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_src *src = png_get_error_ptr(png);
    if (src->msg[0] == 0) snprintf(src->msg, sizeof src->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep buf, size_t n) {
    png_src *src = png_get_io_ptr(png);
    if (n > src->len - src->pos) {
        snprintf(src->msg, sizeof src->msg, "truncated");
        png_error(png, "truncated");
    }
    memcpy(buf, src->data + src->pos, n);
    src->pos += n;
}

/* Palette indices (one per byte after png_set_packing) -> RGB.  Indices past
 * the end of PLTE become black. */
static void palette_rows(uint8_t *pixels, int w, int h, const png_color *pal, int npal) {
    for (int y = h - 1; y >= 0; y--) {
        uint8_t *row = pixels + (size_t)y * (size_t)w * 3;
        const uint8_t *idx = pixels + (size_t)y * (size_t)w * 3; /* first w bytes */
        /* Back to front so that the expansion can run in place. */
        for (int x = w - 1; x >= 0; x--) {
            int i = idx[x];
            png_color c = {0, 0, 0};
            if (i < npal) c = pal[i];
            row[3 * x + 0] = c.red;
            row[3 * x + 1] = c.green;
            row[3 * x + 2] = c.blue;
        }
    }
}

static int decode_png(dec_state *st, png_structp png, png_infop info, png_src *src,
                      img_buf *out) {
    if (setjmp(png_jmpbuf(png))) return fail(st, "%s", src->msg[0] ? src->msg : "corrupt PNG");
    /* Per-dimension ceiling; the product limit is checked below. */
    png_set_user_limits(png, (png_uint_32)PE_MAX_IMAGE_PIXELS, (png_uint_32)PE_MAX_IMAGE_PIXELS);
    png_set_chunk_malloc_max(png, 64u << 20); /* text/ICC chunk bombs */
    png_set_read_fn(png, src, png_read_mem);
    png_read_info(png, info);

    png_uint_32 w32, h32;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w32, &h32, &depth, &ctype, &interlace, NULL, NULL);
    if (check_size(st, w32, h32)) return -1;
    int w = (int)w32, h = (int)h32, bpp;
    pe_pixel_format fmt;
    out->resample = PE_RESAMPLE_BILINEAR;
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY:
        fmt = PE_PIXEL_GRAY8;
        bpp = 1;
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (depth == 1) out->resample = PE_RESAMPLE_NEAREST; /* PIL mode "1" */
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: fmt = PE_PIXEL_GRAYA8; bpp = 2; break;
    case PNG_COLOR_TYPE_RGB: fmt = PE_PIXEL_RGB8; bpp = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: fmt = PE_PIXEL_RGBA8; bpp = 4; break;
    case PNG_COLOR_TYPE_PALETTE:
        fmt = PE_PIXEL_RGB8;
        bpp = 3;
        if (depth < 8) png_set_packing(png);
        out->resample = PE_RESAMPLE_NEAREST; /* PIL mode "P" */
        break;
    default: return fail(st, "unsupported PNG colour type %d", ctype);
    }
    if (depth == 16) png_set_strip_16(png); /* high byte, as PIL's ;16B modes */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int palette = ctype == PNG_COLOR_TYPE_PALETTE;
    size_t want = palette ? (size_t)w : (size_t)w * (size_t)bpp;
    if (png_get_rowbytes(png, info) != want)
        return fail(st, "unexpected PNG row size %zu (want %zu)",
                    (size_t)png_get_rowbytes(png, info), want);
    if (alloc_image(st, out, w, h, bpp, fmt)) return -1;
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    st->rows = rows;
    if (!rows) return fail(st, "out of memory");
    for (int y = 0; y < h; y++) rows[y] = st->pixels + (size_t)y * out->image.stride;
    png_read_image(png, rows);
    /* No png_read_end: like PIL, chunks after the image data are not needed. */

    if (palette) {
        png_colorp pal = NULL;
        int npal = 0;
        if (!png_get_PLTE(png, info, &pal, &npal)) return fail(st, "palette image without PLTE");
        palette_rows(st->pixels, w, h, pal, npal);
    }
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int load_png(dec_state *st, const uint8_t *data, size_t len, img_buf *out) {
    /* IHDR must come first: check its size before libpng reads on, so that
     * a bomb is named as such even when nothing follows the header. */
    if (len >= 24 && memcmp(data + 12, "IHDR", 4) == 0 &&
        check_size(st, be32(data + 16), be32(data + 20)))
        return -1;
    png_src src = {data, len, 0, st, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(st, "out of memory");
    }
    int rc = decode_png(st, png, info, &src, out);
    png_destroy_read_struct(&png, &info, NULL);
    return rc;
}

/* -------------------------------------------------------------- public */

static int load(const char *name, const void *data, size_t len, img_buf *out, char *err,
                size_t errlen) {
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    dec_state st = {name, err, errlen, NULL, NULL, NULL};
    const uint8_t *d = data;
    int rc;
    if (err && errlen) err[0] = 0;
    if (!out) return fail(&st, "no output");
    memset(out, 0, sizeof *out);
    if (!data && len) return fail(&st, "no data");
    if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        rc = load_jpeg(&st, d, len, out);
    else if (len >= 8 && memcmp(d, png_magic, 8) == 0)
        rc = load_png(&st, d, len, out);
    else
        return fail(&st, "not a JPEG or PNG file");
    free(st.rowbuf);
    free(st.rows);
    if (rc) {
        free(st.pixels);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->pixels = st.pixels;
    return 0;
}

int image_load_mem(const void *data, size_t len, img_buf *out, char *err, size_t errlen) {
    return load("image", data, len, out, err, errlen);
}

/* Reads the whole file; image files are small next to the pixel limit. */
int image_load(const char *path, img_buf *out, char *err, size_t errlen) {
    dec_state st = {path ? path : "(null)", err, errlen, NULL, NULL, NULL};
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return fail(&st, "no path or output");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&st, "cannot open: %s", strerror(errno));
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
            if (ncap > ((size_t)1 << 31)) {
                free(buf);
                fclose(f);
                return fail(&st, "file larger than 2 GiB");
            }
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return fail(&st, "out of memory reading the file");
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int read_err = ferror(f);
    fclose(f);
    if (read_err) {
        free(buf);
        return fail(&st, "read error");
    }
    int rc = load(path, buf, len, out, err, errlen);
    free(buf);
    return rc;
}

void image_free(img_buf *b) {
    if (!b) return;
    free(b->pixels);
    memset(b, 0, sizeof *b);
}

int image_save_png(const char *path, const uint8_t *rgb, int w, int h, size_t stride, char *err,
                   size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return 1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        snprintf(err, errlen, "%s: cannot write the PNG", path);
        return 1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f)) {
        snprintf(err, errlen, "%s: write failed", path);
        return 1;
    }
    return 0;
}
