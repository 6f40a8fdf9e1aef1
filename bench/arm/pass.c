/* One forward pass of a model file between two insncount phase marks, so
 * that the plugin counts the pass apart from loading (phase 0) and exit
 * (phase 2).  Public API only; 1 thread, the input pecore bench uses.
 *   pass [--compute f16] MODEL [SIZE]
 *                         prints: isa=NAME flops=F height=H width=W ms=WALL
 *                         (compute=f16 before ms with --compute f16)
 *   pass --isa            prints the kernel set PECORE_ISA leads to */
#include <pecore.h>

#include "pe_mark.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int fail(const char *what, pe_status s) {
    fprintf(stderr, "pass: %s: %s (%s)\n", what, pe_status_string(s), pe_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--isa")) {
        puts(pe_kernel_isa());
        return 0;
    }
    pe_ctx_options co = {.n_threads = 1};
    int bad = 0;
    if (argc > 2 && !strcmp(argv[1], "--compute")) {
        bad = strcmp(argv[2], "f16") && strcmp(argv[2], "f32");
        co.compute = !strcmp(argv[2], "f16") ? PE_COMPUTE_F16 : PE_COMPUTE_F32;
        argc -= 2, argv += 2;
    }
    if (bad || argc < 2 || argc > 3) {
        fputs("usage: pass [--compute f32|f16] MODEL [SIZE]\n", stderr);
        return 2;
    }
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_model_options mo = {.vision_only = 1};
    pe_status s = pe_model_load(argv[1], &mo, &m);
    if (s) return fail("load", s);
    if ((s = pe_ctx_create(m, &co, &c))) return fail("context", s);
    pe_model_info in;
    pe_model_get_info(m, &in);
    int hw = argc > 2 ? atoi(argv[2]) : in.image_size, rows, cols;
    pe_output kind = in.pool == PE_POOL_ATTN ? PE_OUTPUT_EMBEDDING : PE_OUTPUT_TOKENS;
    double flops = 0;
    if ((s = pe_output_shape(m, hw, hw, kind, &rows, &cols))) return fail("shape", s);
    if ((s = pe_model_flops(m, hw, hw, &flops))) return fail("flops", s);
    size_t n_in = (size_t)3 * hw * hw, n_out = (size_t)rows * cols;
    float *x = malloc(n_in * sizeof *x), *out = malloc(n_out * sizeof *out);
    if (!x || !out) return fail("input", PE_ERR_NOMEM);
    uint32_t r = 12345;
    for (size_t i = 0; i < n_in; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / 8388608.0f - 1.0f;
    }
    pe_mark();
    double t0 = now_ms();
    s = pe_encode_f32(c, x, 1, hw, hw, kind, out, n_out);
    double ms = now_ms() - t0;
    pe_mark();
    if (s) return fail("encode", s);
    printf("isa=%s flops=%.0f height=%d width=%d %sms=%.1f\n", pe_kernel_isa(), flops, hw, hw,
           co.compute == PE_COMPUTE_F16 ? "compute=f16 " : "", ms);
    free(x);
    free(out);
    pe_ctx_free(c);
    pe_model_free(m);
    return 0;
}
