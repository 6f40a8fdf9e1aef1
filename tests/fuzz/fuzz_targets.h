/* The parsers under fuzzing, one function each, shared by the libFuzzer
 * harnesses (fuzz_*.c) and by tests/test_fuzz_regress.c, which replays
 * tests/fuzz/regress/<target>/ in the normal (and sanitizer) test suite.
 * Each returns 0; a bug shows as a crash or a sanitizer report. */
#ifndef PE_FUZZ_TARGETS_H
#define PE_FUZZ_TARGETS_H

#include "format/pt.h"
#include "image_io.h"
#include "npy.h"
#include "pecore.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int fuzz_safetensors(const uint8_t *d, size_t n) {
    pe_safetensors st;
    if (pe_st_parse(&st, d, n) == PE_OK) {
        for (int i = 0; i < st.n_tensors; i++) {
            const pe_st_tensor *t = &st.tensors[i];
            volatile uint8_t x = t->nbytes ? ((const uint8_t *)t->data)[t->nbytes - 1] : 0;
            (void)x;
        }
        pe_st_close(&st);
    }
    return 0;
}

/* Every byte of every tensor is read, so a view outside its record shows. */
static inline int fuzz_pt(const uint8_t *d, size_t n) {
    pe_safetensors st;
    if (pe_pt_parse(&st, d, n) == PE_OK) {
        unsigned sum = 0;
        for (int i = 0; i < st.n_tensors; i++)
            for (uint64_t k = 0; k < st.tensors[i].nbytes; k++) sum += ((const uint8_t *)st.tensors[i].data)[k];
        volatile unsigned keep = sum;
        (void)keep;
        pe_st_close(&st);
    }
    return 0;
}

static inline int fuzz_npy(const uint8_t *d, size_t n) {
    npy_array a = {0};
    char err[256];
    if (npy_read_f32_mem(d, n, &a, err, sizeof err) == 0) npy_free(&a);
    return 0;
}

static inline int fuzz_image(const uint8_t *d, size_t n) {
    img_buf b = {0};
    char err[256];
    if (image_load_mem(d, n, &b, err, sizeof err) == 0) {
        float out[3 * 16 * 16];
        pe_preprocess pp = {.height = 16, .width = 16, .crop = PE_CROP_CENTER, .resample = b.resample};
        (void)pe_preprocess_image(&b.image, &pp, out, sizeof out / sizeof out[0]);
        /* the DINOv2 family's: bicubic, resize 18 then crop 16, ImageNet */
        pe_preprocess_init(PE_TRANSFORM_DINOV2_EVAL, 16, &pp);
        pp.resize = 18;
        (void)pe_preprocess_image(&b.image, &pp, out, sizeof out / sizeof out[0]);
    }
    image_free(&b);
    return 0;
}

/* A frame description from the first 40 bytes (format, size, strides,
 * pixel strides, plane sizes, crop, rotation, mirror, matrix), its planes
 * in the rest; each plane a separate exact-size copy, so a read past what
 * the description allows shows under ASan.  Check, then preprocess. */
static inline int fuzz_frame(const uint8_t *d, size_t n) {
    if (n < 40) return 0;
    const uint8_t *h = d;
    pe_frame f;
    memset(&f, 0, sizeof f);
    f.format = (pe_frame_format)(h[0] % 10);
    f.width = 1 + (h[1] | (h[2] & 1) << 8);
    f.height = 1 + (h[3] | (h[4] & 1) << 8);
    f.yuv = (pe_yuv_matrix)(h[5] % 5);
    f.rotation = (h[6] % 5) * 90 - (h[6] == 255);
    f.mirror = h[7] & 1;
    if (h[8] & 1) f.crop = (pe_rect){h[9] - 8, h[10] - 8, h[11], h[12]};
    const uint8_t *rest = d + 40;
    size_t left = n - 40;
    uint8_t *copy[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        const uint8_t *p = h + 13 + 9 * i;
        size_t want = (size_t)(p[0] | p[1] << 8 | p[2] << 16);
        size_t size = want < left ? want : left;
        copy[i] = malloc(size ? size : 1);
        if (size) memcpy(copy[i], rest, size);
        rest += size;
        left -= size;
        f.planes[i].data = p[3] == 0xFF ? NULL : copy[i];
        f.planes[i].size = size;
        f.planes[i].row_stride = (size_t)(p[4] | p[5] << 8) + (p[6] == 0xFF ? SIZE_MAX / 2 : 0);
        f.planes[i].pixel_stride = p[7] % 5;
    }
    if (pe_frame_check(&f) == PE_OK) {
        float out[3 * 12 * 10];
        pe_preprocess pp = {.height = 12, .width = 10,
                            .crop = (pe_crop)(h[39] & 1), .resample = (pe_resample)((h[39] >> 1) & 1)};
        (void)pe_preprocess_frame(&f, &pp, out, sizeof out / sizeof out[0]);
        int w, ht;
        if (pe_frame_upright_size(&f, &w, &ht) == PE_OK && (size_t)w * ht <= 1 << 16) {
            uint8_t *rgb = malloc((size_t)w * ht * 3);
            (void)pe_frame_to_rgb8(&f, rgb, (size_t)w * 3, (size_t)w * ht * 3);
            free(rgb);
        }
    }
    for (int i = 0; i < 3; i++) free(copy[i]);
    return 0;
}

static inline int fuzz_json(const uint8_t *d, size_t n) {
    pe_json *j = NULL;
    if (pe_json_parse((const char *)d, n, &j) == PE_OK) pe_json_free(j);
    return 0;
}

/* First byte 0: the rest is text for the real vocabulary ($PECORE_GOLDEN);
 * otherwise the rest is a vocabulary file, then a fixed text. */
static inline int fuzz_tokenizer(const uint8_t *d, size_t n) {
    static pe_tokenizer *golden;
    static int tried;
    if (n < 1) return 0;
    int32_t ids[77];
    if (d[0] == 0) {
        if (!tried) {
            const char *g = getenv("PECORE_GOLDEN");
            char path[512];
            snprintf(path, sizeof path, "%s/bpe_simple_vocab_16e6.txt.gz", g && *g ? g : "../shared/golden");
            tried = 1;
            (void)pe_tokenizer_load(path, &golden);
        }
        char *text = malloc(n);
        if (!text) return 0;
        memcpy(text, d + 1, n - 1);
        text[n - 1] = 0;
        if (golden) (void)pe_tokenize(golden, text, 77, ids);
        free(text);
        return 0;
    }
    pe_tokenizer *t = NULL;
    if (pe_tokenizer_load_mem(d + 1, n - 1, &t) == PE_OK) {
        (void)pe_tokenize(t, "a photo of a cat, 日本語 &amp; émoji 🙂", 77, ids);
        pe_tokenizer_free(t);
    }
    return 0;
}

/* Prototype packs and galleries are loaded from paths: the input goes
 * through an in-memory file (memfd), so nothing touches the disk. */
#include <sys/mman.h>
#include <unistd.h>

static inline int fuzz_path(const uint8_t *d, size_t n, char *path, size_t cap) {
    const int fd = memfd_create("pecore-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (n && write(fd, d, n) != (ssize_t)n) { close(fd); return -1; }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static inline int fuzz_protos(const uint8_t *d, size_t n) {
    char path[64];
    const int fd = fuzz_path(d, n, path, sizeof path);
    if (fd < 0) return 0;
    pe_protos *p = NULL;
    if (pe_protos_load(path, &p) == PE_OK) pe_protos_free(p);
    close(fd);
    return 0;
}

static inline int fuzz_gallery(const uint8_t *d, size_t n) {
    char path[64];
    const int fd = fuzz_path(d, n, path, sizeof path);
    if (fd < 0) return 0;
    pe_gallery *g = NULL;
    if (pe_gallery_load(path, &g) == PE_OK) pe_gallery_free(g);
    close(fd);
    return 0;
}

/* A whole model file: load (safetensors or .pt, packed quantized tensors
 * included), and when it loads, plan a context and run one image of one
 * patch grid row (kept small: the point is the binding and planning of
 * hostile shapes, not the arithmetic). */
static inline int fuzz_model(const uint8_t *d, size_t n) {
    char path[64];
    const int fd = fuzz_path(d, n, path, sizeof path);
    if (fd < 0) return 0;
    pe_model *m = NULL;
    if (pe_model_load(path, NULL, &m) == PE_OK) {
        pe_model_info in;
        pe_model_get_info(m, &in);
        pe_ctx *c = NULL;
        pe_ctx_options co = {.n_threads = 1};
        int rows, cols;
        const int H = in.patch, W = 2 * in.patch;
        if (in.patch <= 64 && in.image_size <= 1024 && pe_ctx_create(m, &co, &c) == PE_OK &&
            pe_output_shape(m, H, W, PE_OUTPUT_TOKENS, &rows, &cols) == PE_OK) {
            size_t nin = (size_t)3 * H * W, nout = (size_t)rows * cols;
            float *img = calloc(nin, sizeof *img), *out = malloc(nout * sizeof *out);
            if (img && out) (void)pe_encode_f32(c, img, 1, H, W, PE_OUTPUT_TOKENS, out, nout);
            free(img);
            free(out);
        }
        pe_ctx_free(c);
        pe_model_free(m);
    }
    close(fd);
    return 0;
}

#endif
