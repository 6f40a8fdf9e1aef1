/* module_check.c — the C API through the CPecore Clang module, as Swift sees
 * it (tests/test_swift_module.sh builds it with clang -fmodules).  Loads a
 * model, encodes an image, and checks pe_frame_set_orientation against the
 * EXIF definitions of the eight orientations through pe_frame_to_rgb8. */
#pragma clang module import CPecore
#include <stdio.h>
#include <string.h>

static int failures, passes;
#define CHECK(c, ...) do { if (c) passes++; else { failures++; printf("FAIL: " __VA_ARGS__); puts(""); } } while (0)

/* Pixel (r, c) of the upright image, as EXIF orientation o defines it, of a
 * stored image H x W whose pixel (r, c) has value r * W + c. */
static int exif_expect(int o, int H, int W, int r, int c) {
    switch (o) {
    case 1: return r * W + c;
    case 2: return r * W + (W - 1 - c);
    case 3: return (H - 1 - r) * W + (W - 1 - c);
    case 4: return (H - 1 - r) * W + c;
    case 5: return c * W + r;                        /* transpose   */
    case 6: return (H - 1 - c) * W + r;              /* 90 CW       */
    case 7: return (H - 1 - c) * W + (W - 1 - r);    /* transverse  */
    default: return c * W + (W - 1 - r);             /* 8: 270 CW   */
    }
}

static void orientations(void) {
    pe_frame f;
    memset(&f, 0, sizeof f);
    CHECK(pe_frame_set_orientation(&f, 0) == PE_ERR_INVALID_ARG, "orientation 0 refused");
    CHECK(pe_frame_set_orientation(&f, 9) == PE_ERR_INVALID_ARG, "orientation 9 refused");
    CHECK(pe_frame_set_orientation(NULL, 1) == PE_ERR_INVALID_ARG, "NULL frame refused");
    enum { H = 3, W = 5 };
    uint8_t gray[H * W], rgb[W * H * 3];
    for (int i = 0; i < H * W; i++) gray[i] = (uint8_t)(i * 10);
    for (int o = 1; o <= 8; o++) {
        f.format = PE_FRAME_GRAY8;
        f.width = W;
        f.height = H;
        f.planes[0] = (pe_plane){gray, sizeof gray, W, 1};
        CHECK(pe_frame_set_orientation(&f, o) == PE_OK, "orientation %d", o);
        int uw, uh;
        CHECK(pe_frame_upright_size(&f, &uw, &uh) == PE_OK && uw == (o >= 5 ? H : W) &&
                  uh == (o >= 5 ? W : H), "orientation %d: upright size %dx%d", o, uw, uh);
        CHECK(pe_frame_to_rgb8(&f, rgb, (size_t)uw * 3, sizeof rgb) == PE_OK, "to_rgb8: %s",
              pe_last_error());
        int bad = 0;
        for (int r = 0; r < uh; r++)
            for (int c = 0; c < uw; c++)
                bad += rgb[(r * uw + c) * 3] != exif_expect(o, H, W, r, c) * 10;
        CHECK(bad == 0, "orientation %d: %d pixels not where EXIF puts them", o, bad);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { puts("usage: module_check MODEL"); return 2; }
    CHECK(strcmp(pe_version(), PECORE_VERSION_STRING) == 0, "version %s", pe_version());
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    CHECK(pe_model_load(argv[1], NULL, &m) == PE_OK, "load: %s", pe_last_error());
    CHECK(m && pe_ctx_create(m, NULL, &c) == PE_OK, "ctx: %s", pe_last_error());
    if (c) {
        enum { S = 64 };
        static uint8_t bgra[S * S * 4];
        for (int i = 0; i < S * S * 4; i++) bgra[i] = (uint8_t)(i * 7);
        pe_image img = {bgra, S, S, S * 4, PE_PIXEL_BGRA8};
        pe_model_info in;
        pe_model_get_info(m, &in);
        float emb[1024];
        CHECK(in.out_dim <= 1024 && pe_encode_image(c, &img, NULL, PE_OUTPUT_EMBEDDING, emb,
                                                    (size_t)in.out_dim) == PE_OK,
              "encode: %s", pe_last_error());
        pe_model *missing = NULL;   /* not m: a failed load sets its out to NULL */
        CHECK(pe_model_load("/nonexistent.safetensors", NULL, &missing) != PE_OK && !missing &&
                  pe_last_error()[0],
              "a missing model fails with a message");
    }
    if (m) { /* Encoder(compute: .f16): made, or refused with the reason (this host: x86) */
        pe_ctx *c16 = NULL;
        pe_ctx_options o = {.n_threads = 1, .compute = PE_COMPUTE_F16};
        pe_status s = pe_ctx_create(m, &o, &c16);
        CHECK(s == PE_OK ? c16 != NULL : s == PE_ERR_UNSUPPORTED && !c16 && strstr(pe_last_error(), "compute f16"),
              "compute f16: %d %s", (int)s, pe_last_error());
        pe_ctx_free(c16);
    }
    orientations();
    pe_ctx_free(c);
    pe_model_free(m);
    printf("module_check: %d passed, %d failed\n", passes, failures);
    return failures != 0;
}
