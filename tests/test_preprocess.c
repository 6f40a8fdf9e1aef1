/* Preprocessing against the reference (every `preprocess` case of the golden
 * manifest), the PIL quirks it must reproduce, and the image decoder on
 * generated, truncated, corrupt and oversized files. */
#include "test.h"

#include <stdint.h>
#include <math.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "image/preprocess.h"
#include "util/json.h"
#include "image_io.h"
#include "npy.h"

static char g_tmp[64]; /* mkdtemp directory for generated files */

static uint32_t g_rng = 12345;
static uint8_t rnd8(void) {
    g_rng = g_rng * 1664525u + 1013904223u;
    return (uint8_t)(g_rng >> 24);
}

static void tmp_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", g_tmp, name);
}

static void write_all(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

/* Preprocesses into a fresh buffer (caller frees); NULL on failure. */
static float *run_pp(const pe_image *img, const pe_preprocess *pp) {
    size_t n = 3 * (size_t)pp->height * (size_t)pp->width;
    float *out = malloc(n * sizeof *out);
    if (pe_preprocess_image(img, pp, out, n) != PE_OK) {
        fprintf(stderr, "preprocess: %s\n", pe_last_error());
        free(out);
        return NULL;
    }
    return out;
}

static float *run(const pe_image *img, int h, int w, pe_crop crop, pe_resample rs) {
    pe_preprocess pp = {.height = h, .width = w, .crop = crop, .resample = rs};
    return run_pp(img, &pp);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

/* Output value of byte v at channel c, pixel (y, x). */
static int byte_at(const float *out, int H, int W, int c, int y, int x) {
    float f = out[((size_t)c * H + y) * W + x];
    return (int)lrintf((f * 0.5f + 0.5f) * 255.0f);
}

/* ------------------------------------------------------------ golden */

static void test_golden(void) {
    char path[1024];
    size_t len = 0;
    golden_path(path, sizeof path, "manifest.json");
    char *text = test_read_file(path, &len);
    CHECK(text != NULL, "cannot read %s", path);
    if (!text) return;
    pe_json *root = NULL;
    CHECK(pe_json_parse(text, len, &root) == PE_OK, "manifest: %s", pe_last_error());
    const pe_json *cases = root ? pe_json_get(root, "cases") : NULL;
    int ran = 0;
    double worst = 0;
    for (size_t i = 0; cases && i < cases->n; i++) {
        const pe_json *c = &cases->items[i];
        const pe_json *kind = pe_json_get(c, "kind");
        if (!kind || kind->type != PE_JSON_STRING || strcmp(kind->raw, "preprocess")) continue;
        const pe_json *id = pe_json_get(c, "id"), *image = pe_json_get(c, "image"),
                      *crop = pe_json_get(c, "crop"), *expect = pe_json_get(c, "expect"),
                      *tol = pe_json_get(c, "abs_max");
        uint64_t size = 0;
        if (!id || !image || !crop || !expect || !tol || tol->type != PE_JSON_NUMBER ||
            !pe_json_u64(pe_json_get(c, "size"), &size) || size == 0 || size > 4096) {
            CHECK(0, "malformed preprocess case %zu", i);
            continue;
        }
        ran++;
        char err[512];
        img_buf b;
        golden_path(path, sizeof path, image->raw);
        if (image_load(path, &b, err, sizeof err)) {
            CHECK(0, "%s: %s", id->raw, err);
            continue;
        }
        int S = (int)size;
        pe_crop cm = strcmp(crop->raw, "center") == 0 ? PE_CROP_CENTER : PE_CROP_SQUASH;
        const pe_json *tr = pe_json_get(c, "transform");
        pe_preprocess pp = {.height = S, .width = S, .crop = cm, .resample = b.resample};
        if (tr) { /* a named transform: pe_preprocess_init must give what the case spells out */
            uint64_t resize = 0;
            pe_json_u64(pe_json_get(c, "resize"), &resize);
            CHECK(tr->type == PE_JSON_STRING && !strcmp(tr->raw, "dinov2-eval"), "%s: unknown transform", id->raw);
            pe_preprocess_init(PE_TRANSFORM_DINOV2_EVAL, S, &pp);
            const pe_json *rs = pe_json_get(c, "resample"), *mean = pe_json_get(c, "mean");
            CHECK(pp.resize == (int)resize && pp.crop == cm && rs && !strcmp(rs->raw, "bicubic") &&
                  pp.resample == PE_RESAMPLE_BICUBIC && pp.norm == PE_NORM_IMAGENET && mean &&
                  mean->n == 3 && fabs(mean->items[0].number - 0.485) < 1e-9,
                  "%s: pe_preprocess_init does not match the case", id->raw);
            if (b.resample == PE_RESAMPLE_NEAREST) pp.resample = PE_RESAMPLE_NEAREST;
        }
        float *out = run_pp(&b.image, &pp);
        npy_array ref = {0};
        golden_path(path, sizeof path, expect->raw);
        int rc = npy_read_f32(path, &ref, err, sizeof err);
        CHECK(rc == 0, "%s: %s", id->raw, err);
        CHECK(out != NULL, "%s: preprocess failed", id->raw);
        if (rc == 0 && out) {
            CHECK(ref.numel == 3 * (size_t)S * S, "%s: expected %zu values", id->raw, ref.numel);
            if (ref.numel == 3 * (size_t)S * S) {
                double md = max_diff(out, ref.data, ref.numel);
                worst = fmax(worst, md);
                printf("  %-40s max |diff| %.6g (%.2f steps of 1/127.5)\n", id->raw, md,
                       md * 127.5);
                CHECK(md <= tol->number, "%s: max diff %g > %g", id->raw, md, tol->number);
            }
        }
        npy_free(&ref);
        free(out);
        image_free(&b);
    }
    CHECK(ran >= (t_golden_dir ? 3 : 16), "only %d preprocess cases in the manifest", ran);
    printf("  golden preprocess: %d cases, worst max |diff| %.6g\n", ran, worst);
    pe_json_free(root);
    free(text);
}

/* ------------------------------------------------- PIL arithmetic by hand */

/* Values worked out from Pillow's formulas (see preprocess.c). */
static void test_hand_values(void) {
    uint8_t up[2] = {0, 255};
    pe_image im = {up, 2, 1, 2, PE_PIXEL_GRAY8};
    float *o = run(&im, 1, 4, PE_CROP_SQUASH, PE_RESAMPLE_BILINEAR);
    CHECK(o && byte_at(o, 1, 4, 0, 0, 0) == 0 && byte_at(o, 1, 4, 0, 0, 1) == 64 &&
              byte_at(o, 1, 4, 0, 0, 2) == 191 && byte_at(o, 1, 4, 0, 0, 3) == 255,
          "upscale [0,255] -> 4");
    free(o);

    uint8_t down[4] = {0, 0, 255, 255};
    pe_image im2 = {down, 4, 1, 4, PE_PIXEL_GRAY8};
    o = run(&im2, 1, 2, PE_CROP_SQUASH, PE_RESAMPLE_BILINEAR);
    CHECK(o && byte_at(o, 1, 2, 0, 0, 0) == 36 && byte_at(o, 1, 2, 0, 0, 1) == 219,
          "downscale [0,0,255,255] -> 2");
    free(o);

    /* Exact float32 values: (v / 255 - 0.5) / 0.5. */
    uint8_t one[3] = {0, 128, 255};
    pe_image im3 = {one, 1, 1, 3, PE_PIXEL_RGB8};
    o = run(&im3, 1, 1, PE_CROP_SQUASH, PE_RESAMPLE_BILINEAR);
    CHECK(o && o[0] == -1.0f && o[1] == ((128.0f / 255.0f) - 0.5f) / 0.5f && o[2] == 1.0f,
          "normalisation");
    free(o);
}

/* RGBA is resized premultiplied: transparent pixels do not bleed colour. */
static void test_premultiplied(void) {
    uint8_t px[8] = {255, 0, 0, 255, 0, 0, 255, 0};
    pe_image im = {px, 2, 1, 8, PE_PIXEL_RGBA8};
    float *o = run(&im, 1, 4, PE_CROP_SQUASH, PE_RESAMPLE_BILINEAR);
    int ok = o != NULL;
    for (int x = 0; ok && x < 3; x++)
        ok = byte_at(o, 1, 4, 0, 0, x) == 255 && byte_at(o, 1, 4, 2, 0, x) == 0;
    ok = ok && byte_at(o, 1, 4, 0, 0, 3) == 0 && byte_at(o, 1, 4, 2, 0, 3) == 0;
    CHECK(ok, "premultiplied RGBA upscale");
    free(o);

    /* The RGBA -> RGBa -> RGBA round trip truncates: (200,100,50)@128 comes
     * back as (199,99,49) once the size changes, and untouched when not. */
    uint8_t half[8] = {200, 100, 50, 128, 200, 100, 50, 128};
    pe_image im2 = {half, 2, 1, 8, PE_PIXEL_RGBA8};
    o = run(&im2, 1, 3, PE_CROP_SQUASH, PE_RESAMPLE_BILINEAR);
    CHECK(o && byte_at(o, 1, 3, 0, 0, 1) == 199 && byte_at(o, 1, 3, 1, 0, 1) == 99 &&
              byte_at(o, 1, 3, 2, 0, 1) == 49,
          "premultiply round trip");
    free(o);
    o = run(&im2, 1, 2, PE_CROP_SQUASH, PE_RESAMPLE_BILINEAR);
    CHECK(o && byte_at(o, 1, 2, 0, 0, 1) == 200 && byte_at(o, 1, 2, 1, 0, 1) == 100,
          "same size: no round trip");
    free(o);
    /* NEAREST does not premultiply either (PIL checks resample != NEAREST). */
    o = run(&im2, 1, 3, PE_CROP_SQUASH, PE_RESAMPLE_NEAREST);
    CHECK(o && byte_at(o, 1, 3, 0, 0, 1) == 200, "nearest keeps straight alpha");
    free(o);
}

/* Same pixels in every layout give the same tensor. */
static void test_format_equivalence(void) {
    enum { w = 37, h = 23 };
    static uint8_t gray[w * h], ga[w * h * 2], rgb[w * h * 3], rgba[w * h * 4], bgra[w * h * 4],
        rgba_gray[w * h * 4], rgb_opaque[w * h * 4], padded[(w * 3 + 13) * h];
    for (int i = 0; i < w * h; i++) {
        uint8_t g = rnd8(), a = rnd8(), r = rnd8(), gg = rnd8(), b = rnd8();
        gray[i] = g;
        ga[2 * i] = g, ga[2 * i + 1] = a;
        rgba_gray[4 * i] = rgba_gray[4 * i + 1] = rgba_gray[4 * i + 2] = g;
        rgba_gray[4 * i + 3] = a;
        rgb[3 * i] = r, rgb[3 * i + 1] = gg, rgb[3 * i + 2] = b;
        rgba[4 * i] = r, rgba[4 * i + 1] = gg, rgba[4 * i + 2] = b, rgba[4 * i + 3] = a;
        bgra[4 * i] = b, bgra[4 * i + 1] = gg, bgra[4 * i + 2] = r, bgra[4 * i + 3] = a;
        rgb_opaque[4 * i] = r, rgb_opaque[4 * i + 1] = gg, rgb_opaque[4 * i + 2] = b;
        rgb_opaque[4 * i + 3] = 255;
    }
    for (int y = 0; y < h; y++) memcpy(padded + (size_t)y * (w * 3 + 13), rgb + y * w * 3, w * 3);
    uint8_t gray3[w * h * 3];
    for (int i = 0; i < w * h; i++) gray3[3 * i] = gray3[3 * i + 1] = gray3[3 * i + 2] = gray[i];

    const int sizes[][2] = {{16, 16}, {64, 64}, {11, 50}, {23, 37}, {5, 80}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int crop = 0; crop < 2; crop++) {
            int H = sizes[s][0], W = sizes[s][1];
            size_t n = 3 * (size_t)H * W;
            pe_image a = {gray, w, h, w, PE_PIXEL_GRAY8}, b = {gray3, w, h, w * 3, PE_PIXEL_RGB8};
            float *oa = run(&a, H, W, crop, 0), *ob = run(&b, H, W, crop, 0);
            CHECK(oa && ob && max_diff(oa, ob, n) == 0, "gray == RGB(g,g,g) %dx%d", H, W);
            free(oa), free(ob);

            pe_image c = {ga, w, h, w * 2, PE_PIXEL_GRAYA8}, d = {rgba_gray, w, h, w * 4, PE_PIXEL_RGBA8};
            oa = run(&c, H, W, crop, 0), ob = run(&d, H, W, crop, 0);
            CHECK(oa && ob && max_diff(oa, ob, n) == 0, "gray+alpha == RGBA(g,g,g,a) %dx%d", H, W);
            free(oa), free(ob);

            pe_image e = {rgba, w, h, w * 4, PE_PIXEL_RGBA8}, f = {bgra, w, h, w * 4, PE_PIXEL_BGRA8};
            oa = run(&e, H, W, crop, 0), ob = run(&f, H, W, crop, 0);
            CHECK(oa && ob && max_diff(oa, ob, n) == 0, "RGBA == BGRA %dx%d", H, W);
            free(oa), free(ob);

            pe_image g = {rgb, w, h, w * 3, PE_PIXEL_RGB8}, k = {rgb_opaque, w, h, w * 4, PE_PIXEL_RGBA8};
            pe_image p = {padded, w, h, w * 3 + 13, PE_PIXEL_RGB8};
            float *og = run(&g, H, W, crop, 0);
            oa = run(&k, H, W, crop, 0), ob = run(&p, H, W, crop, 0);
            CHECK(og && oa && max_diff(og, oa, n) == 0, "opaque RGBA == RGB %dx%d", H, W);
            CHECK(og && ob && max_diff(og, ob, n) == 0, "stride %d == packed %dx%d", w * 3 + 13, H, W);
            free(og), free(oa), free(ob);
        }
    }
}

/* The crop only selects a window: center == squash to the covering size,
 * then the window at the documented offset (halves round to even). */
static int round_half_even_half(int d) {
    int k = d / 2;
    return (d % 2 == 0 || k % 2 == 0) ? k : k + 1;
}

static void test_center_is_window(void) {
    const int cases[][4] = {/* w, h, H, W */
                            {45, 30, 16, 16}, {30, 45, 16, 16}, {7, 5, 32, 32},  {100, 50, 32, 48},
                            {50, 100, 48, 32}, {33, 33, 20, 20}, {9, 40, 12, 7}, {64, 16, 8, 8},
                            {17, 13, 13, 17},  {3, 200, 6, 6}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w = cases[i][0], h = cases[i][1], H = cases[i][2], W = cases[i][3], rw, rh;
        if ((int64_t)w * H >= (int64_t)h * W)
            rh = H, rw = (int)((double)((int64_t)H * w) / h);
        else
            rw = W, rh = (int)((double)((int64_t)W * h) / w);
        int cx = round_half_even_half(rw - W), cy = round_half_even_half(rh - H);
        uint8_t *px = malloc((size_t)w * h * 4);
        for (int k = 0; k < w * h * 4; k++) px[k] = rnd8();
        for (int fmt = 0; fmt < 2; fmt++) {
            pe_image im = {px, w, h, (size_t)w * (fmt ? 4 : 3), fmt ? PE_PIXEL_RGBA8 : PE_PIXEL_RGB8};
            for (int rs = 0; rs < 2; rs++) {
                float *c = run(&im, H, W, PE_CROP_CENTER, rs);
                float *s = run(&im, rh, rw, PE_CROP_SQUASH, rs);
                int ok = c && s;
                for (int ch = 0; ok && ch < 3; ch++)
                    for (int y = 0; ok && y < H; y++)
                        for (int x = 0; ok && x < W; x++)
                            ok = c[((size_t)ch * H + y) * W + x] ==
                                 s[((size_t)ch * rh + y + cy) * rw + x + cx];
                CHECK(ok, "center %dx%d -> %dx%d (via %dx%d +%d+%d) fmt %d rs %d", w, h, W, H, rw,
                      rh, cx, cy, fmt, rs);
                free(c), free(s);
            }
        }
        free(px);
    }
    /* torchvision's offset: int(round(1.5)) = 2, int(round(0.5)) = 0. */
    CHECK(round_half_even_half(3) == 2 && round_half_even_half(1) == 0 &&
              round_half_even_half(5) == 2 && round_half_even_half(4) == 2,
          "half to even");
}

static void test_small_and_nearest(void) {
    uint8_t one[3] = {10, 200, 77};
    pe_image im = {one, 1, 1, 3, PE_PIXEL_RGB8};
    for (int crop = 0; crop < 2; crop++)
        for (int rs = 0; rs < 2; rs++) {
            float *o = run(&im, 7, 5, crop, rs);
            int ok = o != NULL;
            for (int i = 0; ok && i < 35; i++)
                ok = byte_at(o, 7, 5, 0, i / 5, i % 5) == 10 &&
                     byte_at(o, 7, 5, 1, i / 5, i % 5) == 200 &&
                     byte_at(o, 7, 5, 2, i / 5, i % 5) == 77;
            CHECK(ok, "1x1 -> 5x7 crop %d resample %d", crop, rs);
            free(o);
        }

    /* PIL nearest: source x = floor(0.5 s + x s), positions accumulated. */
    uint8_t row5[5] = {0, 50, 100, 150, 200};
    pe_image r5 = {row5, 5, 1, 5, PE_PIXEL_GRAY8};
    float *o = run(&r5, 1, 2, PE_CROP_SQUASH, PE_RESAMPLE_NEAREST);
    CHECK(o && byte_at(o, 1, 2, 0, 0, 0) == 50 && byte_at(o, 1, 2, 0, 0, 1) == 150,
          "nearest 5 -> 2");
    free(o);
    uint8_t row2[2] = {0, 255};
    pe_image r2 = {row2, 2, 1, 2, PE_PIXEL_GRAY8};
    o = run(&r2, 1, 5, PE_CROP_SQUASH, PE_RESAMPLE_NEAREST);
    const int want[5] = {0, 0, 255, 255, 255};
    int ok = o != NULL;
    for (int x = 0; ok && x < 5; x++) ok = byte_at(o, 1, 5, 0, 0, x) == want[x];
    CHECK(ok, "nearest 2 -> 5");
    free(o);
}

static void test_errors(void) {
    uint8_t px[64] = {0};
    float out[3 * 4 * 4];
    pe_preprocess pp = {.height = 4, .width = 4};
    pe_image ok = {px, 4, 4, 4, PE_PIXEL_GRAY8};
    CHECK(pe_preprocess_image(&ok, &pp, out, 48) == PE_OK, "valid call");
    CHECK(pe_preprocess_image(NULL, &pp, out, 48) == PE_ERR_INVALID_ARG, "NULL image");
    CHECK(pe_preprocess_image(&ok, NULL, out, 48) == PE_ERR_INVALID_ARG, "NULL options");
    CHECK(pe_preprocess_image(&ok, &pp, NULL, 48) == PE_ERR_INVALID_ARG, "NULL output");
    CHECK(pe_preprocess_image(&ok, &pp, out, 47) == PE_ERR_SHAPE, "short output");
    pe_image bad = ok;
    bad.data = NULL;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_INVALID_ARG, "NULL data");
    bad = ok, bad.width = 0;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_INVALID_ARG, "zero width");
    bad = ok, bad.height = -3;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_INVALID_ARG, "negative height");
    bad = ok, bad.stride = 3;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_INVALID_ARG &&
              strstr(pe_last_error(), "stride"),
          "stride too small: %s", pe_last_error());
    bad = ok, bad.format = PE_PIXEL_RGB8, bad.stride = 11;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_INVALID_ARG, "RGB stride");
    bad = ok, bad.format = (pe_pixel_format)99;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_INVALID_ARG, "bad format");
    bad = ok, bad.width = 30000, bad.height = 30000, bad.stride = 30000;
    CHECK(pe_preprocess_image(&bad, &pp, out, 48) == PE_ERR_LIMIT &&
              strstr(pe_last_error(), "too large"),
          "pixel limit: %s", pe_last_error());
    pe_preprocess bp = pp;
    bp.width = 0;
    CHECK(pe_preprocess_image(&ok, &bp, out, 48) == PE_ERR_INVALID_ARG, "zero target");
    bp = pp, bp.crop = (pe_crop)7;
    CHECK(pe_preprocess_image(&ok, &bp, out, 48) == PE_ERR_INVALID_ARG, "bad crop");
    bp = pp, bp.resample = (pe_resample)7;
    CHECK(pe_preprocess_image(&ok, &bp, out, 48) == PE_ERR_INVALID_ARG, "bad resample");

    /* Scratch: the size asked for works anywhere, one byte less does not. */
    pe_image big = {px, 8, 8, 8, PE_PIXEL_GRAY8};
    size_t need = pe_preprocess_scratch_bytes(&big, &pp);
    uint8_t *scratch = malloc(need + 1);
    CHECK(need > 0 && pe_image_to_tensor(&big, &pp, out, scratch + 1, need) == PE_OK,
          "unaligned scratch");
    CHECK(pe_image_to_tensor(&big, &pp, out, scratch, need - 1) == PE_ERR_INVALID_ARG,
          "short scratch");
    free(scratch);
    CHECK(pe_preprocess_scratch_bytes(NULL, &pp) == 0, "scratch of NULL image");
}

/* ------------------------------------------------------------- decoding */

typedef struct png_spec {
    int w, h, depth, ctype, interlace;
    const png_color *palette;
    int npal;
    const uint8_t *trns;
    int ntrns;
} png_spec;

/* rows: packed samples as libpng wants them (16-bit big-endian). */
static int write_png(const char *path, const png_spec *s, uint8_t *const *rows) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->ctype,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->npal);
    if (s->trns) png_set_tRNS(png, info, s->trns, s->ntrns, NULL);
    png_write_info(png, info);
    png_write_image(png, (png_bytepp)rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

static uint8_t **alloc_rows(int h, size_t bytes) {
    uint8_t **rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++) {
        rows[y] = malloc(bytes);
        for (size_t i = 0; i < bytes; i++) rows[y][i] = rnd8();
    }
    return rows;
}

static void free_rows(uint8_t **rows, int h) {
    for (int y = 0; y < h; y++) free(rows[y]);
    free(rows);
}

static void test_png_kinds(void) {
    char path[256], err[512];
    img_buf b;
    enum { W = 19, H = 13 };
    /* 16-bit: PIL keeps the high byte of RGB;16B / RGBA;16B / LA;16B. */
    const struct { int ctype, ch; pe_pixel_format fmt; } k16[] = {
        {PNG_COLOR_TYPE_RGB, 3, PE_PIXEL_RGB8},
        {PNG_COLOR_TYPE_RGB_ALPHA, 4, PE_PIXEL_RGBA8},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 2, PE_PIXEL_GRAYA8},
        {PNG_COLOR_TYPE_GRAY, 1, PE_PIXEL_GRAY8}};
    for (size_t t = 0; t < sizeof k16 / sizeof k16[0]; t++) {
        for (int il = 0; il < 2; il++) {
            png_spec s = {W, H, 16, k16[t].ctype, il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                          NULL, 0, NULL, 0};
            uint8_t **rows = alloc_rows(H, (size_t)W * k16[t].ch * 2);
            tmp_path(path, sizeof path, "p16.png");
            CHECK(write_png(path, &s, rows) == 0, "write 16-bit png");
            int rc = image_load(path, &b, err, sizeof err);
            CHECK(rc == 0, "16-bit type %d: %s", k16[t].ctype, err);
            int ok = rc == 0 && b.image.format == k16[t].fmt && b.image.width == W &&
                     b.image.height == H && b.resample == PE_RESAMPLE_BILINEAR;
            for (int y = 0; ok && y < H; y++)
                for (int i = 0; ok && i < W * k16[t].ch; i++)
                    ok = b.image.data[y * b.image.stride + i] == rows[y][2 * i];
            CHECK(ok, "16-bit png type %d interlace %d keeps the high byte", k16[t].ctype, il);
            image_free(&b);
            free_rows(rows, H);
        }
    }

    /* 8-bit RGB, Adam7: same pixels as written. */
    {
        png_spec s = {W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0};
        uint8_t **rows = alloc_rows(H, W * 3);
        tmp_path(path, sizeof path, "il.png");
        write_png(path, &s, rows);
        int rc = image_load(path, &b, err, sizeof err);
        int ok = rc == 0 && b.image.format == PE_PIXEL_RGB8;
        for (int y = 0; ok && y < H; y++) ok = !memcmp(b.image.data + y * b.image.stride, rows[y], W * 3);
        CHECK(ok, "interlaced RGB png: %s", err);
        image_free(&b);
        free_rows(rows, H);
    }

    /* Low-bit gray scales to 0..255 (PIL's L;2 / L;4); 1-bit is PIL mode "1",
     * resized with NEAREST. */
    for (int depth = 1; depth <= 4; depth *= 2) {
        png_spec s = {W, H, depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, NULL, 0, NULL, 0};
        size_t rb = ((size_t)W * depth + 7) / 8;
        uint8_t **rows = alloc_rows(H, rb);
        tmp_path(path, sizeof path, "lowgray.png");
        write_png(path, &s, rows);
        int rc = image_load(path, &b, err, sizeof err);
        int ok = rc == 0 && b.image.format == PE_PIXEL_GRAY8 &&
                 b.resample == (depth == 1 ? PE_RESAMPLE_NEAREST : PE_RESAMPLE_BILINEAR);
        int maxv = (1 << depth) - 1;
        for (int y = 0; ok && y < H; y++)
            for (int x = 0; ok && x < W; x++) {
                int bit = x * depth, v = (rows[y][bit / 8] >> (8 - depth - bit % 8)) & maxv;
                ok = b.image.data[y * b.image.stride + x] == v * 255 / maxv;
            }
        CHECK(ok, "gray depth %d: %s", depth, err);
        image_free(&b);
        free_rows(rows, H);
    }

    /* Palette (4-bit, with tRNS, interlaced): RGB through PLTE, alpha ignored,
     * NEAREST recommended. */
    {
        png_color pal[16];
        uint8_t trns[16];
        for (int i = 0; i < 16; i++) {
            pal[i].red = rnd8(), pal[i].green = rnd8(), pal[i].blue = rnd8();
            trns[i] = rnd8();
        }
        png_spec s = {W, H, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_ADAM7, pal, 16, trns, 16};
        uint8_t **rows = alloc_rows(H, (W + 1) / 2);
        tmp_path(path, sizeof path, "pal.png");
        write_png(path, &s, rows);
        int rc = image_load(path, &b, err, sizeof err);
        int ok = rc == 0 && b.image.format == PE_PIXEL_RGB8 && b.resample == PE_RESAMPLE_NEAREST;
        for (int y = 0; ok && y < H; y++)
            for (int x = 0; ok && x < W; x++) {
                int idx = (rows[y][x / 2] >> (x % 2 ? 0 : 4)) & 15;
                const uint8_t *p = b.image.data + y * b.image.stride + 3 * x;
                ok = p[0] == pal[idx].red && p[1] == pal[idx].green && p[2] == pal[idx].blue;
            }
        CHECK(ok, "palette png: %s", err);
        /* And preprocess it the way the reference does. */
        float *o = ok ? run(&b.image, 8, 8, PE_CROP_SQUASH, b.resample) : NULL;
        CHECK(o != NULL, "palette preprocess");
        free(o);
        image_free(&b);
        free_rows(rows, H);
    }
}

static int write_jpeg(const char *path, int w, int h, int comps, J_COLOR_SPACE cs,
                      const uint8_t *px) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = cs;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * comps);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    return 0;
}

static void test_jpeg_kinds(void) {
    char path[256], err[512];
    img_buf b;
    enum { W = 32, H = 16 };
    /* CMYK with PIL's Adobe (inverted) reading: flat blocks survive q100. */
    static const uint8_t raw[4][4] = {
        {255, 255, 255, 255}, {0, 255, 255, 255}, {255, 128, 255, 200}, {40, 90, 160, 100}};
    uint8_t px[W * H * 4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) memcpy(px + (y * W + x) * 4, raw[(y / 8) * 2 + x / 16], 4);
    tmp_path(path, sizeof path, "cmyk.jpg");
    write_jpeg(path, W, H, 4, JCS_CMYK, px);
    int rc = image_load(path, &b, err, sizeof err);
    int ok = rc == 0 && b.image.format == PE_PIXEL_RGB8;
    for (int q = 0; ok && q < 4; q++) {
        int x = (q % 2) * 16 + 8, y = (q / 2) * 8 + 4;
        const uint8_t *p = b.image.data + y * b.image.stride + 3 * x;
        for (int c = 0; c < 3; c++) {
            int nk = raw[q][3], cc = 255 - raw[q][c];
            int t = cc * nk + 128, want = nk - (((t >> 8) + t) >> 8);
            if (abs(p[c] - want) > 2) ok = 0;
        }
    }
    CHECK(ok, "CMYK jpeg as PIL converts it: %s", err);
    const uint8_t *p0 = ok ? b.image.data + 4 * b.image.stride + 3 * 8 : NULL;
    CHECK(p0 && p0[0] >= 253 && p0[1] >= 253 && p0[2] >= 253, "CMYK 255s read as white");
    image_free(&b);

    /* Gray JPEG -> GRAY8. */
    uint8_t g[W * H];
    for (int i = 0; i < W * H; i++) g[i] = (uint8_t)(i * 7);
    tmp_path(path, sizeof path, "gray.jpg");
    write_jpeg(path, W, H, 1, JCS_GRAYSCALE, g);
    rc = image_load(path, &b, err, sizeof err);
    CHECK(rc == 0 && b.image.format == PE_PIXEL_GRAY8 && b.image.width == W, "gray jpeg: %s", err);
    image_free(&b);
}

/* PNG chunk with its CRC. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t n) {
    p[0] = (uint8_t)(n >> 24), p[1] = (uint8_t)(n >> 16), p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uLong crc = crc32(0, p + 4, 4 + n);
    p[8 + n] = (uint8_t)(crc >> 24), p[9 + n] = (uint8_t)(crc >> 16);
    p[10 + n] = (uint8_t)(crc >> 8), p[11 + n] = (uint8_t)crc;
    return 12 + n;
}

static int load_expect_fail(const char *path, const char *needle, const char *what) {
    char err[512] = "";
    img_buf b;
    int rc = image_load(path, &b, err, sizeof err);
    CHECK(rc != 0 && strstr(err, needle) && strncmp(err, path, strlen(path)) == 0,
          "%s: rc %d, message \"%s\" (want \"%s\")", what, rc, err, needle);
    CHECK(b.pixels == NULL, "%s: no pixels on failure", what);
    return rc;
}

static void test_bad_files(void) {
    char path[256], src[1024];
    size_t len;
    /* Truncated copies of the golden files. */
    const char *files[] = {"images/astronaut.jpg", "images/coffee_progressive.jpg",
                           "images/chelsea.png", "images/camera_gray.png"};
    for (size_t i = 0; i < 4; i++) {
        golden_path(src, sizeof src, files[i]);
        uint8_t *data = (uint8_t *)test_read_file(src, &len);
        CHECK(data != NULL, "read %s", src);
        if (!data) continue;
        tmp_path(path, sizeof path, strstr(files[i], ".png") ? "trunc.png" : "trunc.jpg");
        write_all(path, data, len / 2);
        load_expect_fail(path, "truncated", files[i]);
        write_all(path, data, 40);
        char err[512];
        img_buf b;
        CHECK(image_load(path, &b, err, sizeof err) != 0, "%s cut at 40 bytes", files[i]);
        free(data);
    }

    /* Corrupt: a flipped IHDR byte (CRC), JPEG garbage after SOI, random. */
    golden_path(src, sizeof src, "images/chelsea.png");
    uint8_t *png = (uint8_t *)test_read_file(src, &len);
    if (png) {
        png[18] ^= 0x5a;
        tmp_path(path, sizeof path, "crc.png");
        write_all(path, png, len);
        load_expect_fail(path, "CRC", "corrupt png");
        free(png);
    }
    uint8_t junk[300] = {0xff, 0xd8, 0xff, 0xc0, 0x00, 0x05};
    for (size_t i = 6; i < sizeof junk; i++) junk[i] = rnd8();
    tmp_path(path, sizeof path, "junk.jpg");
    write_all(path, junk, sizeof junk);
    char err[512];
    img_buf b;
    CHECK(image_load(path, &b, err, sizeof err) != 0 && err[0], "corrupt jpeg: %s", err);
    tmp_path(path, sizeof path, "text.png");
    write_all(path, "hello, world", 12);
    load_expect_fail(path, "not a JPEG or PNG file", "text file");
    write_all(path, "", 0);
    load_expect_fail(path, "not a JPEG or PNG file", "empty file");
    tmp_path(path, sizeof path, "missing.png");
    load_expect_fail(path, "cannot open", "missing file");
    CHECK(image_load_mem("\x89PNG", 4, &b, err, sizeof err) != 0 &&
              strncmp(err, "image: ", 7) == 0,
          "memory: %s", err);

    /* Decompression bombs: headers only, refused before any allocation. */
    uint8_t bomb[128];
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0, 0x01, 0x86, 0xa0, 0, 0x01, 0x86, 0xa0, 8, 2, 0, 0, 0}; /* 100000^2 */
    memcpy(bomb, sig, 8);
    size_t n = 8 + put_chunk(bomb + 8, "IHDR", ihdr, 13);
    tmp_path(path, sizeof path, "bomb.png");
    write_all(path, bomb, n); /* header only */
    load_expect_fail(path, "too large: 100000x100000 pixels exceeds the limit of 268435456",
                     "png bomb");
    n += put_chunk(bomb + n, "IDAT", (const uint8_t *)"\x78\x9c", 2);
    write_all(path, bomb, n);
    load_expect_fail(path, "too large: 100000x100000", "png bomb with data");
    /* JPEG: SOI, SOF0 65000x65000x3, SOS header. */
    static const uint8_t jb[] = {0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xfd, 0xe8, 0xfd,
                                 0xe8, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11,
                                 0x00, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11,
                                 0x03, 0x11, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00};
    tmp_path(path, sizeof path, "bomb.jpg");
    write_all(path, jb, sizeof jb);
    load_expect_fail(path, "too large: 65000x65000", "jpeg bomb");
    write_all(path, jb, 21); /* SOF only */
    load_expect_fail(path, "too large: 65000x65000", "jpeg bomb, header only");
}

static void cleanup_tmp(void) {
    static const char *names[] = {"p16.png", "il.png", "lowgray.png", "pal.png", "cmyk.jpg",
                                  "gray.jpg", "trunc.png", "trunc.jpg", "crc.png", "junk.jpg",
                                  "text.png", "bomb.png", "bomb.jpg"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tmp_path(path, sizeof path, names[i]);
        unlink(path);
    }
    rmdir(g_tmp);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/pe_preprocess_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_golden();
    t_golden_dir = golden_dinov2_dir();
    test_golden(); /* dinov2-eval: bicubic, resize 256, crop 224, ImageNet */
    t_golden_dir = NULL;
    test_hand_values();
    test_premultiplied();
    test_format_equivalence();
    test_center_is_window();
    test_small_and_nearest();
    test_errors();
    test_png_kinds();
    test_jpeg_kinds();
    test_bad_files();
    cleanup_tmp();
    return test_done("test_preprocess");
}
