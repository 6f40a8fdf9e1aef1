/* The hot path allocates nothing: after the first image of a size (and
 * batch), encoding (float input, 8-bit image input, text) performs zero
 * heap allocations, for the float model and its q8 copy (int8 linears and
 * attention).  Linked with -Wl,--wrap for malloc, calloc, realloc and
 * posix_memalign. */
#include "test.h"

#include "pecore.h"

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_long g_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

void *__wrap_malloc(size_t n) { atomic_fetch_add(&g_allocs, 1); return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { atomic_fetch_add(&g_allocs, 1); return __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { atomic_fetch_add(&g_allocs, 1); return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) {
    atomic_fetch_add(&g_allocs, 1);
    return __real_posix_memalign(p, a, n);
}

/* compute: pe_ctx_options.compute; PE_COMPUTE_F16 where the CPU lacks it
 * is skipped (test_f16 checks the refusal). */
static void run_as(const char *path, const char *what, pe_compute compute) {
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_ctx_options co = {.n_threads = 2, .compute = compute};
    long at_start = atomic_load(&g_allocs);
    pe_status ls = pe_model_load(path, NULL, &m);
    if (!ls && (ls = pe_ctx_create(m, &co, &c)) == PE_ERR_UNSUPPORTED && compute == PE_COMPUTE_F16) {
        printf("%s: skipped: %s\n", what, pe_last_error());
        pe_model_free(m);
        return;
    }
    if (ls) {
        CHECK(0, "%s: load: %s", what, pe_last_error());
        pe_model_free(m);
        return;
    }
    CHECK(atomic_load(&g_allocs) > at_start, "the allocation counter sees the library's allocations");
    static float x[2 * 3 * 96 * 96], out[2 * 37 * 64];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)((i * 37) % 255) / 127.5f - 1.0f;
    static uint8_t rgba[120 * 90 * 4];
    for (size_t i = 0; i < sizeof rgba; i++) rgba[i] = (uint8_t)(i * 7);
    pe_image img = {rgba, 120, 90, 120 * 4, PE_PIXEL_RGBA8};
    int32_t ids[32] = {PE_TOKEN_SOT, 320, 1125, 539, 320, 2368, PE_TOKEN_EOT};

    for (int round = 0; round < 3; round++) {
        long before = atomic_load(&g_allocs);
        pe_status s = pe_encode_f32(c, x, 2, 64, 64, PE_OUTPUT_EMBEDDING, out, sizeof out / sizeof *out);
        s |= pe_encode_f32(c, x, 1, 64, 64, PE_OUTPUT_TOKENS, out, sizeof out / sizeof *out);
        s |= pe_encode_image(c, &img, NULL, PE_OUTPUT_EMBEDDING, out, sizeof out / sizeof *out);
        /* a batch: planned once for (size, 2 images), then reused */
        s |= pe_encode_images(c, (pe_image[]){img, img}, 2, NULL, PE_OUTPUT_EMBEDDING, out,
                              sizeof out / sizeof *out);
        s |= pe_encode_text(c, ids, 1, 32, out, sizeof out / sizeof *out);
        long n = atomic_load(&g_allocs) - before;
        CHECK(s == PE_OK, "%s: encode: %s", what, pe_last_error());
        /* round 0 may size the image scratch; later rounds must not allocate */
        if (round > 0) CHECK(n == 0, "%s: round %d: %ld allocations on the hot path", what, round, n);
    }
    /* A new size plans once, then it is allocation-free again. */
    pe_encode_f32(c, x, 1, 96, 96, PE_OUTPUT_EMBEDDING, out, sizeof out / sizeof *out);
    long before = atomic_load(&g_allocs);
    pe_status s = pe_encode_f32(c, x, 1, 96, 96, PE_OUTPUT_EMBEDDING, out, sizeof out / sizeof *out);
    CHECK(s == PE_OK && atomic_load(&g_allocs) == before, "%s: 96x96: allocations after planning", what);
    pe_ctx_free(c);
    pe_model_free(m);
}

/* The DINOv2 family: SwiGLU, bicubic position resampling (planned once
 * per size), linear4 and the dinov2-eval image transform (pp NULL). */
static void run_dinov2(const char *path, const char *what) {
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_ctx_options co = {.n_threads = 2};
    if (pe_model_load(path, NULL, &m) || pe_ctx_create(m, &co, &c)) {
        CHECK(0, "%s: load: %s", what, pe_last_error());
        pe_model_free(m);
        return;
    }
    static float x[3 * 70 * 98], out[64 * 128];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)((i * 37) % 255) / 127.5f - 1.0f;
    static uint8_t rgb[300 * 260 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    pe_image img = {rgb, 300, 260, 300 * 3, PE_PIXEL_RGB8};
    for (int round = 0; round < 3; round++) {
        long before = atomic_load(&g_allocs);
        pe_status s = pe_encode_f32(c, x, 1, 70, 98, PE_OUTPUT_EMBEDDING, out, sizeof out / sizeof *out);
        s |= pe_encode_f32(c, x, 1, 70, 98, PE_OUTPUT_LINEAR4, out, sizeof out / sizeof *out);
        s |= pe_encode_f32(c, x, 1, 70, 98, PE_OUTPUT_TOKENS, out, sizeof out / sizeof *out);
        s |= pe_encode_image(c, &img, NULL, PE_OUTPUT_EMBEDDING, out, sizeof out / sizeof *out);
        long n = atomic_load(&g_allocs) - before;
        CHECK(s == PE_OK, "%s: encode: %s", what, pe_last_error());
        /* round 0 plans the sizes; later rounds (each switches grids twice) must not allocate */
        if (round > 0) CHECK(n == 0, "%s: round %d: %ld allocations on the hot path", what, round, n);
    }
    pe_ctx_free(c);
    pe_model_free(m);
}

static void run(const char *path, const char *what) { run_as(path, what, PE_COMPUTE_F32); }

int main(void) {
    char path[512], q8[256];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    run(path, "f32");
    run_as(path, "compute f16", PE_COMPUTE_F16);
    snprintf(q8, sizeof q8, "/tmp/pecore-noalloc-%d-q8.safetensors", (int)getpid());
    pe_quantize_options qo = {.type = PE_WEIGHTS_Q8};
    CHECK(pe_quantize(path, q8, &qo) == PE_OK, "quantize: %s", pe_last_error());
    run(q8, "q8");
    remove(q8);
    snprintf(path, sizeof path, "%s/models/franca-micro.pth", golden_dinov2_dir());
    run_dinov2(path, "franca f32");
    return test_done("noalloc");
}
