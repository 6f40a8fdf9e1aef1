/* XNNPACK's fully-connected operator on one GEMM shape of PE-Core-T16-384,
 * run once between two insncount phase marks (creating the operator, which
 * packs the weights, is outside them), single-threaded (no pthreadpool).
 *   xnn_fc f32|qs8|qu8 qkv|proj|fc1|fc2
 * prints: type=T shape=S m=M k=K n=N macs=M*K*N
 * Built against Debian's arm64 libxnnpack (bench/arm/xnnpack_fetch.sh,
 * bench/arm/xnn_run.sh); never committed with it. */
#include <xnnpack.h>

#include "pe_mark.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* T16-384: 577 tokens (24 x 24 patches + cls), width 192, MLP 768. */
static const struct {
    const char *name;
    size_t k, n;
} shapes[] = {{"qkv", 192, 576}, {"proj", 192, 192}, {"fc1", 192, 768}, {"fc2", 768, 192}};
enum { TOKENS = 577 };

static uint32_t rng = 1;
static float frand(void) { /* [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static int check(enum xnn_status s, const char *what) {
    if (s == xnn_status_success) return 0;
    fprintf(stderr, "xnn_fc: %s failed (xnn_status %d)\n", what, (int)s);
    return 1;
}

int main(int argc, char **argv) {
    int si = -1;
    for (int i = 0; argc == 3 && i < (int)(sizeof shapes / sizeof *shapes); i++)
        if (!strcmp(argv[2], shapes[i].name)) si = i;
    const char *type = argc == 3 ? argv[1] : "";
    int f32 = !strcmp(type, "f32"), qs8 = !strcmp(type, "qs8"), qu8 = !strcmp(type, "qu8");
    if (si < 0 || !(f32 || qs8 || qu8)) {
        fputs("usage: xnn_fc f32|qs8|qu8 qkv|proj|fc1|fc2\n", stderr);
        return 2;
    }
    const size_t m = TOKENS, k = shapes[si].k, n = shapes[si].n;
    const size_t esz = f32 ? sizeof(float) : 1;
    void *x = malloc(m * k * esz), *w = malloc(n * k * esz), *y = malloc(m * n * esz);
    float *bias_f = malloc(n * sizeof(float));
    int32_t *bias_i = malloc(n * sizeof(int32_t));
    if (!x || !w || !y || !bias_f || !bias_i) return 1;
    for (size_t i = 0; i < m * k; i++) {
        float v = frand();
        if (f32) ((float *)x)[i] = v;
        else if (qs8) ((int8_t *)x)[i] = (int8_t)lrintf(v * 127);
        else ((uint8_t *)x)[i] = (uint8_t)lrintf(v * 127 + 128);
    }
    for (size_t i = 0; i < n * k; i++) {
        float v = frand() * 0.07f; /* about 1/sqrt(K) */
        if (f32) ((float *)w)[i] = v;
        else if (qs8) ((int8_t *)w)[i] = (int8_t)lrintf(v * 1800);
        else ((uint8_t *)w)[i] = (uint8_t)lrintf(v * 1800 + 128);
    }
    for (size_t i = 0; i < n; i++) bias_f[i] = frand() * 0.1f, bias_i[i] = 0;

    if (check(xnn_initialize(NULL), "xnn_initialize")) return 1;
    xnn_operator_t op = NULL;
    enum xnn_status s;
    if (f32)
        s = xnn_create_fully_connected_nc_f32(k, n, k, n, w, bias_f, -INFINITY, INFINITY, 0, &op);
    else if (qs8)
        s = xnn_create_fully_connected_nc_qs8(k, n, k, n, 0, 1.0f / 127, 1.0f / 1800, w, bias_i, 0,
                                              0.05f, -128, 127, 0, &op);
    else
        s = xnn_create_fully_connected_nc_qu8(k, n, k, n, 128, 1.0f / 127, 128, 1.0f / 1800, w,
                                              bias_i, 128, 0.05f, 0, 255, 0, &op);
    if (check(s, "create")) return 1;
    if (f32) s = xnn_setup_fully_connected_nc_f32(op, m, x, y, NULL);
    else if (qs8) s = xnn_setup_fully_connected_nc_qs8(op, m, x, y, NULL);
    else s = xnn_setup_fully_connected_nc_qu8(op, m, x, y, NULL);
    if (check(s, "setup")) return 1;
    pe_mark();
    s = xnn_run_operator(op, NULL);
    pe_mark();
    if (check(s, "run")) return 1;
    /* a checksum, so that the run cannot be optimised into nothing unseen */
    double sum = 0;
    for (size_t i = 0; i < m * n; i++)
        sum += f32 ? ((float *)y)[i] : qs8 ? ((int8_t *)y)[i] : ((uint8_t *)y)[i];
    printf("type=%s shape=%s m=%zu k=%zu n=%zu macs=%zu checksum=%.6g\n", type, shapes[si].name, m,
           k, n, m * k * n, sum);
    xnn_delete_operator(op);
    xnn_deinitialize();
    return 0;
}
