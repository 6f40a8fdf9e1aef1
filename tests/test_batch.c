/* Batches: pe_encode_f32 and pe_encode_images on n images run the linears
 * of each block on all the batch's rows at once; the outputs must be
 * bit-identical to one image at a time (every kernel's K loop runs in the
 * same order whatever the rows of its tile, the q8 ones sum exactly in
 * int32), for the float and the q8 model (int8 linears and attention), at
 * the native size and another, in a batch that is not a multiple of the
 * context's max_batch, and for the DINOv2 family (registers, SwiGLU,
 * linear4). */
#include "test.h"

#include "pecore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 5 };
#define PE_MAX_PIX(a, b) ((a) > (b) ? (a) : (b))

/* out of ctx c (max_batch b) for the n images of x against one at a time
 * (ctx c1): bit-identical. */
static void compare(pe_ctx *c, pe_ctx *c1, const pe_model *m, const float *x, int H, int W,
                    pe_output kind, const char *what) {
    int rows, cols;
    if (pe_output_shape(m, H, W, kind, &rows, &cols)) { CHECK(0, "%s: shape", what); return; }
    size_t per = (size_t)rows * cols;
    float *a = calloc(per * N, sizeof(float)), *b = calloc(per * N, sizeof(float));
    pe_status s = pe_encode_f32(c, x, N, H, W, kind, a, per * N);
    for (int i = 0; i < N && !s; i++)
        s = pe_encode_f32(c1, x + (size_t)i * 3 * H * W, 1, H, W, kind, b + per * i, per);
    CHECK(s == PE_OK, "%s: encode: %s", what, pe_last_error());
    size_t diff = 0;
    for (size_t i = 0; i < per * N; i++) diff += a[i] != b[i];
    CHECK(diff == 0, "%s %dx%d kind %d: %zu of %zu floats differ from one image at a time", what, H,
          W, (int)kind, diff, per * N);
    /* and the images really differ, so a batch repeating one would fail */
    CHECK(memcmp(a, a + per, per * sizeof(float)) != 0, "%s: images 0 and 1 give the same output", what);
    free(a);
    free(b);
}

static void run(const char *path, const char *what, int dinov2) {
    pe_model *m = NULL;
    pe_ctx *c = NULL, *c1 = NULL;
    if (pe_model_load(path, NULL, &m) || pe_ctx_create(m, &(pe_ctx_options){.n_threads = 2, .max_batch = 3}, &c) ||
        pe_ctx_create(m, &(pe_ctx_options){.n_threads = 2, .max_batch = 1}, &c1)) {
        CHECK(0, "%s: load: %s", what, pe_last_error());
        goto done;
    }
    pe_model_info in;
    pe_model_get_info(m, &in);
    const int sizes[2][2] = {{in.image_size, in.image_size}, {in.patch * 3, in.patch * 5}};
    size_t big = (size_t)N * 3 * PE_MAX_PIX(in.image_size * in.image_size, 15 * in.patch * in.patch);
    float *x = malloc(big * sizeof(float));
    rng_seed(7);
    for (int z = 0; z < 2; z++) {
        const int H = sizes[z][0], W = sizes[z][1];
        for (size_t i = 0; i < (size_t)N * 3 * H * W; i++) x[i] = rng_float(-1.0f, 1.0f);
        compare(c, c1, m, x, H, W, PE_OUTPUT_EMBEDDING, what);
        compare(c, c1, m, x, H, W, PE_OUTPUT_TOKENS, what);
        if (dinov2) compare(c, c1, m, x, H, W, PE_OUTPUT_LINEAR4, what);
    }
    free(x);

    /* pe_encode_images = pe_encode_image one by one (and errors name the image) */
    enum { IW = 50, IH = 37 };
    static uint8_t rgb[N][IH * IW * 3];
    pe_image imgs[N];
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizeof rgb[i]; k++) rgb[i][k] = (uint8_t)(rng_u32() >> 24);
        imgs[i] = (pe_image){rgb[i], IW, IH, IW * 3, PE_PIXEL_RGB8};
    }
    int rows, cols;
    pe_output_shape(m, in.image_size, in.image_size, PE_OUTPUT_EMBEDDING, &rows, &cols);
    size_t per = (size_t)rows * cols;
    float *a = calloc(per * N, sizeof(float)), *b = calloc(per * N, sizeof(float));
    pe_status s = pe_encode_images(c, imgs, N, NULL, PE_OUTPUT_EMBEDDING, a, per * N);
    for (int i = 0; i < N && !s; i++) s = pe_encode_image(c1, &imgs[i], NULL, PE_OUTPUT_EMBEDDING, b + per * i, per);
    CHECK(s == PE_OK, "%s: encode images: %s", what, pe_last_error());
    CHECK(memcmp(a, b, per * N * sizeof(float)) == 0, "%s: pe_encode_images = pe_encode_image x %d", what, N);
    CHECK(pe_encode_images(c, imgs, N, NULL, PE_OUTPUT_EMBEDDING, a, per * N - 1) == PE_ERR_INVALID_ARG,
          "%s: a short output buffer is refused", what);
    imgs[3].width = 0;
    s = pe_encode_images(c, imgs, N, NULL, PE_OUTPUT_EMBEDDING, a, per * N);
    CHECK(s != PE_OK && strstr(pe_last_error(), "image 3"), "%s: a bad image is named: %s", what,
          pe_last_error());
    pe_ctx *bad = NULL;
    CHECK(pe_ctx_create(m, &(pe_ctx_options){.max_batch = -1}, &bad) == PE_ERR_INVALID_ARG && !bad,
          "%s: a negative max_batch is refused", what);
    free(a);
    free(b);
done:
    pe_ctx_free(c);
    pe_ctx_free(c1);
    pe_model_free(m);
}

int main(void) {
    char path[512], q8[256];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    run(path, "pe-micro f32", 0);
    snprintf(q8, sizeof q8, "/tmp/pecore-batch-%d-q8.safetensors", (int)getpid());
    CHECK(pe_quantize(path, q8, &(pe_quantize_options){.type = PE_WEIGHTS_Q8}) == PE_OK, "quantize: %s",
          pe_last_error());
    run(q8, "pe-micro q8", 0);
    remove(q8);
    snprintf(path, sizeof path, "%s/models/dinov2-micro-reg.safetensors", golden_dinov2_dir());
    run(path, "dinov2-micro-reg f32", 1);
    return test_done("batch");
}
