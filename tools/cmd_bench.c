/* pecore bench: load time, first-image time, latency percentiles, throughput,
 * peak RSS and achieved GFLOP/s against the machine's measured FMA peak. */
#include "cli.h"
#include "commands.h"
#include "options.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n]. */
static double pct(const double *v, int n, double p) {
    int i = (int)ceil(p / 100.0 * n) - 1;
    return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* Median time of pe_ctx_preprocess_frame on a frame of seeded random bytes,
 * with the model's eval transform at H x W. */
static int bench_frame(const opts *o, pe_ctx *c, const pe_model_info *in, int H, int W, int runs,
                       int warmup, double *ms) {
    size_t n = o->fr.frame_bytes, nf = (size_t)3 * H * W;
    uint8_t *buf = malloc(n);
    float *x = malloc(nf * sizeof(float));
    double *t = malloc((size_t)runs * sizeof(double));
    int rc = 1;
    if (!buf || !x || !t) { cli_fail("out of memory"); goto out; }
    uint32_t r = 777;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(r >> 24);
    }
    pe_frame f;
    cli_frames_at(&o->fr, buf, &f);
    pe_preprocess pp;
    cli_preprocess(NULL, H, W, NULL, in, &pp);
    for (int i = 0; i < warmup + runs; i++) {
        double t0 = now_ms();
        pe_status s = pe_ctx_preprocess_frame(c, &f, &pp, x, nf);
        if (s) { cli_fail_status(s, "bench: frame"); goto out; }
        if (i >= warmup) t[i - warmup] = now_ms() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    *ms = pct(t, runs, 50);
    rc = 0;
out:
    free(buf);
    free(x);
    free(t);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore bench (-m MODEL | --arch NAME) [--size S|HxW] [--threads N]\n"
              "                    [--runs N] [--warmup N] [--json] [--dtype f32|f16|bf16|q8|q4]\n"
              "                    [--batch N] [--compute f32|f16]\n"
              "Times the vision tower on a seeded random input: load, first image, p50/p90/p99,\n"
              "images/s, peak RSS, GFLOP/s and its share of the measured FMA peak.\n"
              "--batch N: each run encodes N images as one batch (pe_encode_f32); the latencies\n"
              "are per batch, images/s counts images.\n"
              CLI_COMPUTE_HELP
              "--arch writes a synthetic model (f32, or --dtype) to a temporary file first.\n"
              "--pix-fmt F --video-size WxH [--rotate R --mirror --crop-rect X,Y,W,H --yuv M\n"
              "--row-stride N --uv-stride N] also times the preprocessing of such a camera frame (seeded\n"
              "random bytes) into the model input, one thread (preprocess_ms: the median).\n",
              stdout);
        return 0;
    }
    opts o;
    if (cli_parse(argc, argv, " -m --model --arch --size --threads --runs --warmup --json --dtype --batch --compute"
                  CLI_FRAME_OPTIONS, &o))
        return 1;
    if ((o.fr.pix_fmt || o.fr.width) && cli_frames_setup(&o.fr)) return 1;
    if (o.n_inputs) return cli_fail("bench: unexpected argument '%s'", o.inputs[0]);
    if (!o.model == !o.arch) return cli_fail("bench: pass either -m MODEL or --arch NAME");
    int runs = o.runs > 0 ? (int)o.runs : 20, warmup = o.warmup >= 0 ? (int)o.warmup : 3;
    int threads = (int)o.threads; /* 0: the context chooses (one per fast core) */
    char tmp[] = "/tmp/pecore-bench-XXXXXX";
    const char *path = o.model;
    if (o.arch) {
        int fd = mkstemp(tmp);
        if (fd < 0) return cli_fail("bench: cannot create a temporary file");
        close(fd);
        pe_weight_type t = o.dtype && !strcmp(o.dtype, "f16") ? PE_WEIGHTS_F16
                           : o.dtype && !strcmp(o.dtype, "bf16") ? PE_WEIGHTS_BF16 : PE_WEIGHTS_F32;
        /* q8 / q4: the synthetic f32 file quantized, in place of it */
        pe_weight_type q = o.dtype && !strcmp(o.dtype, "q8") ? PE_WEIGHTS_Q8
                           : o.dtype && !strcmp(o.dtype, "q4") ? PE_WEIGHTS_Q4 : PE_WEIGHTS_F32;
        /* vision only: bench times the vision tower, a text tower would only
         * cost time to generate, write and quantize */
        pe_synth_options so = {.seed = 1, .type = t, .vision_only = 1, .progress = cli_progress};
        pe_status s = pe_synth_write(o.arch, tmp, &so);
        if (!s && q != PE_WEIGHTS_F32) {
            char qtmp[sizeof tmp + 4];
            snprintf(qtmp, sizeof qtmp, "%s.q", tmp);
            s = pe_quantize(tmp, qtmp, &(pe_quantize_options){.type = q, .progress = cli_progress});
            if (!s && rename(qtmp, tmp)) s = PE_ERR_IO;
            unlink(qtmp);
        }
        cli_progress_done();
        if (s) { unlink(tmp); return cli_fail_status(s, "bench"); }
        path = tmp;
    }
    int rc = 1;
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    float *x = NULL, *out = NULL;
    double *lat = NULL;
    double t0 = now_ms();
    pe_model_options mo = {.vision_only = 1}; /* bench times the vision tower */
    pe_status s = pe_model_load(path, &mo, &m);
    const int batch = o.batch ? (int)o.batch : 1;
    pe_ctx_options co = {.n_threads = threads, .max_batch = batch, .compute = cli_compute(o.compute)};
    const int loaded = !s;
    if (loaded) s = pe_ctx_create(m, &co, &c);
    double load_ms = now_ms() - t0;
    if (o.arch) unlink(tmp);
    /* a context refused (e.g. --compute f16 without FP16 arithmetic) says
     * why first: the model itself loaded */
    if (s && loaded) { cli_fail("%s", *pe_last_error() ? pe_last_error() : pe_status_string(s)); goto done; }
    if (s) { cli_fail_status(s, "cannot load model"); goto done; }
    threads = pe_ctx_threads(c);
    pe_model_info in;
    pe_model_get_info(m, &in);
    int H = o.height ? o.height : in.image_size, W = o.width ? o.width : in.image_size, rows, cols;
    pe_output kind = in.pool != PE_POOL_NONE ? PE_OUTPUT_EMBEDDING : PE_OUTPUT_TOKENS;
    double flops = 0;
    if ((s = pe_output_shape(m, H, W, kind, &rows, &cols)) || (s = pe_model_flops(m, H, W, &flops))) {
        cli_fail_status(s, "bench");
        goto done;
    }
    size_t n_in = (size_t)3 * H * W, n_out = (size_t)rows * cols;
    x = malloc(n_in * batch * sizeof(float));
    out = malloc(n_out * batch * sizeof(float));
    lat = malloc((size_t)runs * sizeof(double));
    if (!x || !out || !lat) { cli_fail("out of memory"); goto done; }
    uint32_t r = 12345;
    for (size_t i = 0; i < n_in * batch; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / 8388608.0f - 1.0f;
    }
    t0 = now_ms();
    s = pe_encode_f32(c, x, batch, H, W, kind, out, n_out * batch);
    double first_ms = now_ms() - t0;
    for (int i = 0; !s && i < warmup + runs; i++) {
        t0 = now_ms();
        s = pe_encode_f32(c, x, batch, H, W, kind, out, n_out * batch);
        if (i >= warmup) lat[i - warmup] = now_ms() - t0;
        cli_progress(NULL, i < warmup ? "warming up" : "timing", (double)(i + 1) / (warmup + runs));
    }
    cli_progress_done();
    if (s) { cli_fail_status(s, "bench"); goto done; }
    double total = 0;
    for (int i = 0; i < runs; i++) total += lat[i];
    qsort(lat, (size_t)runs, sizeof *lat, cmp_double);
    double p50 = pct(lat, runs, 50), p90 = pct(lat, runs, 90), p99 = pct(lat, runs, 99);
    double pre_ms = -1;
    if (o.fr.pix_fmt && bench_frame(&o, c, &in, H, W, runs, warmup, &pre_ms)) goto done;
    double rss = peak_rss_mb();
    double peak = pe_measure_peak_gflops(threads), gflops = flops * batch / (p50 * 1e6);
    /* int8 models: the dot-product peak too (0 where the level has none) */
    double peak8 = in.n_q8 + in.n_q4 ? pe_measure_peak_int8_gops(threads) : 0;
    const char *name = o.arch ? o.arch : path;
    if (o.json) {
        printf("{\"model\": \"%s\", \"arch\": \"%s\", \"synthetic\": %s, \"height\": %d, \"width\": %d, "
               "\"threads\": %d, \"batch\": %d, \"isa\": \"%s\", \"compute\": \"%s\", \"runs\": %d, \"load_ms\": %.3f, \"first_ms\": %.3f, "
               "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, "
               "\"images_per_s\": %.2f, \"peak_rss_mb\": %.1f, \"gflop_per_image\": %.4f, "
               "\"gflops\": %.1f, \"peak_gflops\": %.1f, \"peak_share\": %.3f",
               name, in.arch, o.arch ? "true" : "false", H, W, threads, batch, pe_kernel_isa(), o.compute ? o.compute : "f32", runs,
               load_ms, first_ms, p50, p90, p99, total / runs, 1000.0 * runs * batch / total, rss,
               flops / 1e9, gflops, peak, gflops / peak);
        if (peak8 > 0) printf(", \"peak_int8_gops\": %.1f", peak8);
        if (pre_ms >= 0)
            printf(", \"pix_fmt\": \"%s\", \"video_size\": \"%dx%d\", \"preprocess_ms\": %.3f", o.fr.pix_fmt,
                   o.fr.width, o.fr.height, pre_ms);
        printf("}\n");
    } else {
        printf("model       %s (%s%s), input %dx%d\n", name, in.arch, o.arch ? ", synthetic" : "", H, W);
        printf("kernels     %s, %d thread%s, compute %s\n", pe_kernel_isa(), threads, threads > 1 ? "s" : "",
               o.compute ? o.compute : "f32");
        printf("load        %.1f ms (model + context)\n", load_ms);
        printf("first %s %.1f ms\n", batch > 1 ? "batch" : "image", first_ms);
        if (batch > 1) printf("batch       %d images per pass (latencies per batch)\n", batch);
        printf("latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (%d runs after %d warm-up)\n", p50,
               p90, p99, runs, warmup);
        printf("throughput  %.1f images/s\n", 1000.0 * runs * batch / total);
        printf("peak RSS    %.1f MB\n", rss);
        printf("compute     %.2f GFLOP/image, %.1f GFLOP/s = %.0f%% of the measured FMA peak "
               "(%.0f GFLOP/s, %d thread%s)\n", flops / 1e9, gflops, 100 * gflops / peak, peak,
               threads, threads > 1 ? "s" : "");
        if (peak8 > 0)
            printf("int8 peak   %.0f GOP/s of dot products (%s, %d thread%s)\n", peak8, pe_kernel_isa(),
                   threads, threads > 1 ? "s" : "");
        if (pre_ms >= 0)
            printf("preprocess  %.3f ms per %dx%d %s frame -> %dx%d (median, %d runs, 1 thread) = "
                   "%.1f%% of the p50 pass\n", pre_ms, o.fr.width, o.fr.height, o.fr.pix_fmt, W, H, runs,
                   100 * pre_ms / p50);
    }
    rc = 0;
done:
    free(x);
    free(out);
    free(lat);
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}
