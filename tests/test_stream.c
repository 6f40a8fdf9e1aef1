/* pe_stream with the golden pe-micro: every frame processed in order in
 * all_frames mode with the embedding pe_encode_frame gives; a producer far
 * faster than the worker is never blocked and its drops are counted (in =
 * processed + dropped); results in push order; sane statistics; flush and
 * free with a slow callback; worker errors through flush; bad arguments. */
#include "test.h"

#include "pecore.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

#define W 96
#define H 64
#define N_SCENES 3

static pe_model *g_model, *g_foreign;
static uint8_t g_pix[N_SCENES][H * W * 4];

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Three RGBA scenes that the model tells apart: a horizontal ramp, a
 * vertical one, a checkerboard, each in its own colours. */
static void make_scenes(void) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p0 = &g_pix[0][(y * W + x) * 4], *p1 = &g_pix[1][(y * W + x) * 4],
                    *p2 = &g_pix[2][(y * W + x) * 4];
            p0[0] = (uint8_t)(x * 255 / W), p0[1] = 40, p0[2] = 200, p0[3] = 255;
            p1[0] = 220, p1[1] = (uint8_t)(y * 255 / H), p1[2] = 30, p1[3] = 255;
            uint8_t c = ((x / 8) ^ (y / 8)) & 1 ? 250 : 5;
            p2[0] = c, p2[1] = c, p2[2] = (uint8_t)(255 - c), p2[3] = 255;
        }
}

static pe_frame scene_frame(int scene) {
    pe_frame f = {.format = PE_FRAME_RGBA8, .width = W, .height = H};
    f.planes[0] = (pe_plane){g_pix[scene], sizeof g_pix[scene], W * 4, 0};
    return f;
}

/* A pack with one class per scene: the scene's own embedding. */
static pe_protos *scene_protos(float emb[N_SCENES][64], int *dim) {
    pe_model_info in;
    pe_model_get_info(g_model, &in);
    *dim = in.out_dim;
    pe_ctx *c = NULL;
    pe_ctx_options co = {.n_threads = 1};
    pe_protos *p = NULL;
    const char *names[N_SCENES] = {"scene/ramp-x", "scene/ramp-y", "scene/checks"};
    pe_status st = pe_ctx_create(g_model, &co, &c);
    if (!st) st = pe_protos_create(g_model, &p);
    for (int i = 0; !st && i < N_SCENES; i++) {
        pe_frame f = scene_frame(i);
        st = pe_encode_frame(c, &f, NULL, PE_OUTPUT_EMBEDDING, emb[i], (size_t)*dim);
        if (!st) st = pe_protos_add(p, names[i], emb[i], *dim, PE_NO_THRESHOLD);
    }
    CHECK(st == PE_OK, "scene pack: %s", pe_last_error());
    pe_ctx_free(c);
    return p;
}

/* ------------------------------------------------------------ callback log */

#define MAX_LOG 4096

typedef struct logrec {
    int64_t frame;
    double t_ms, latency_ms;
    int top, stable, n_classes, n_top;
    float emb0;
    float smoothed_sum;
    const char *stable_label;
} logrec;

typedef struct cblog {
    pthread_mutex_t mu;
    logrec r[MAX_LOG];
    int n;
    int sleep_ms;
    float emb_dev;                       /* max |embedding - expected| */
    float (*expected)[64];               /* [scene] */
    int dim;
} cblog;

static void on_result(void *user, const pe_stream_result *r) {
    cblog *l = user;
    if (l->sleep_ms) sleep_ms(l->sleep_ms);
    pthread_mutex_lock(&l->mu);
    if (l->n < MAX_LOG) {
        float s = 0;
        for (int i = 0; i < r->n_classes; i++) s += r->smoothed[i];
        l->r[l->n++] = (logrec){r->frame, r->t_ms, r->latency_ms, r->scores->top[0].index,
                                r->stable, r->n_classes, r->scores->n_top, r->embedding[0], s,
                                r->stable_label};
        if (l->expected) {
            int scene = (int)(r->frame / 10) % N_SCENES;   /* the pushes below */
            for (int i = 0; i < l->dim && i < r->dim; i++) {
                float d = fabsf(r->embedding[i] - l->expected[scene][i]);
                if (d > l->emb_dev) l->emb_dev = d;
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
}

static cblog *new_log(void) {
    cblog *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

static void free_log(cblog *l) {
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ------------------------------------------------------------ tests */

/* Offline video: 10 frames of each scene, twice; nothing dropped, results
 * in order with the frame's own embedding, the stable label follows. */
static void test_all_frames(pe_protos *p, float emb[N_SCENES][64], int dim) {
    cblog *l = new_log();
    l->expected = emb;
    l->dim = dim;
    pe_stream_options o = {.n_threads = 1, .all_frames = 1, .ring = 3, .top_k = 2,
                           .on_result = on_result, .user = l,
                           .smooth = {.tau_ms = 50, .min_dwell_ms = 60}};
    pe_stream *s = NULL;
    pe_status st = pe_stream_create(g_model, p, NULL, &o, &s);
    CHECK(st == PE_OK, "create: %s", pe_last_error());
    if (st) { free_log(l); return; }
    const int n = 60;
    for (int i = 0; i < n; i++) {
        pe_frame f = scene_frame((i / 10) % N_SCENES);
        st = pe_stream_push(s, &f, i * 33.0);
        CHECK(st == PE_OK, "push %d: %s", i, pe_last_error());
    }
    CHECK(pe_stream_flush(s) == PE_OK, "flush: %s", pe_last_error());
    pe_stream_stats ss;
    CHECK(pe_stream_stats_get(s, &ss) == PE_OK, "stats");
    CHECK(ss.frames_in == n && ss.processed == n && ss.dropped == 0 && ss.failed == 0,
          "all_frames: in %lld processed %lld dropped %lld", (long long)ss.frames_in,
          (long long)ss.processed, (long long)ss.dropped);
    CHECK(l->n == n, "%d callbacks for %d frames", l->n, n);
    int in_order = 1, tops = 1, stable_ok = 1;
    for (int i = 0; i < l->n; i++) {
        logrec *r = &l->r[i];
        int scene = (i / 10) % N_SCENES;
        in_order &= r->frame == i && r->t_ms == i * 33.0;
        tops &= r->top == scene && r->n_top == 2 && r->n_classes == N_SCENES;
        /* the dwell (60 ms) passes within 3 frames of 33 ms after each cut */
        if (i % 10 >= 4) stable_ok &= r->stable == scene;
        CHECK(fabsf(r->smoothed_sum - 1) < 1e-4f, "smoothed probabilities sum to %g",
              (double)r->smoothed_sum);
    }
    CHECK(in_order, "results in push order with their timestamps");
    CHECK(tops, "each frame's top class is its scene, top_k 2 entries");
    CHECK(stable_ok, "the stable label follows the scenes");
    CHECK(l->emb_dev == 0, "the stream's embedding differs from pe_encode_frame by %g",
          (double)l->emb_dev);
    CHECK(ss.latency_p50_ms > 0 && ss.latency_p50_ms <= ss.latency_p90_ms &&
              ss.latency_p90_ms <= ss.latency_p99_ms && ss.latency_p99_ms <= ss.latency_max_ms,
          "latency p50 %g p90 %g p99 %g max %g", ss.latency_p50_ms, ss.latency_p90_ms,
          ss.latency_p99_ms, ss.latency_max_ms);
    double lmax = 0;
    for (int i = 0; i < l->n; i++) lmax = fmax(lmax, l->r[i].latency_ms);
    CHECK(fabs(lmax - ss.latency_max_ms) < 1e-9, "max latency %g, callbacks saw %g",
          ss.latency_max_ms, lmax);
    CHECK(ss.fps > 0 && ss.cpu_ms_per_result > 0, "fps %g cpu %g ms", ss.fps, ss.cpu_ms_per_result);
    pe_stream_free(s);
    free_log(l);
}

/* A producer far faster than the worker (a 40 ms callback, a frame every
 * 2 ms): pushes return at once, the newest frames win, the counts add up. */
static void test_keep_latest(pe_protos *p) {
    cblog *l = new_log();
    l->sleep_ms = 40;
    pe_stream_options o = {.n_threads = 1, .on_result = on_result, .user = l};
    pe_stream *s = NULL;
    if (pe_stream_create(g_model, p, NULL, &o, &s)) {
        CHECK(0, "create: %s", pe_last_error());
        free_log(l);
        return;
    }
    const int n = 200;
    double worst = 0, inside = 0, t0 = now_ms();
    for (int i = 0; i < n; i++) {
        pe_frame f = scene_frame(i % N_SCENES);
        double a = now_ms();
        CHECK(pe_stream_push(s, &f, a - t0) == PE_OK, "push: %s", pe_last_error());
        double d = now_ms() - a;
        worst = fmax(worst, d);
        inside += d;
        sleep_ms(2);                     /* 2 ms a frame: 20x the worker's rate */
    }
    CHECK(pe_stream_flush(s) == PE_OK, "flush");
    pe_stream_stats ss;
    pe_stream_stats_get(s, &ss);
    CHECK(ss.frames_in == n && ss.processed + ss.dropped == n && ss.failed == 0,
          "in %lld = processed %lld + dropped %lld", (long long)ss.frames_in,
          (long long)ss.processed, (long long)ss.dropped);
    CHECK(ss.dropped > n / 2, "only %lld of %d dropped under a 10x producer", (long long)ss.dropped, n);
    CHECK(ss.processed >= 2 && ss.processed == l->n, "processed %lld, callbacks %d",
          (long long)ss.processed, l->n);
    /* The worker takes 40 ms per result: a push held by it would take as long. */
    CHECK(worst < 20, "the slowest push took %.2f ms", worst);
    CHECK(inside < n * 0.5, "%d pushes spent %.1f ms in pe_stream_push", n, inside);
    int ordered = 1;
    for (int i = 1; i < l->n; i++) ordered &= l->r[i].frame > l->r[i - 1].frame;
    CHECK(ordered, "results in push order");
    CHECK(l->n && l->r[l->n - 1].frame == n - 1, "the last frame pushed is processed (newest wins)");
    /* A kept frame waits at most for the result in progress, then its own
     * (two cycles of 40 ms + encode), never for a queue of them.  A cycle is
     * measured, not assumed (under emulation or load an encode takes longer):
     * the longest gap between two results' completions. */
    double cycle = 0;
    for (int i = 1; i < l->n; i++)
        cycle = fmax(cycle, (l->r[i].t_ms + l->r[i].latency_ms) - (l->r[i - 1].t_ms + l->r[i - 1].latency_ms));
    CHECK(cycle >= 40 && ss.latency_max_ms < 2 * cycle + 10,
          "max latency %.1f ms with keep-latest, a result every %.1f ms at most", ss.latency_max_ms, cycle);
    fprintf(stderr, "keep-latest: %d pushes, slowest %.3f ms, %lld processed, %lld dropped, "
            "latency max %.1f ms\n", n, worst, (long long)ss.processed, (long long)ss.dropped,
            ss.latency_max_ms);
    pe_stream_free(s);
    free_log(l);
}

/* A slow callback: all_frames pushes wait for room, flush waits for the
 * last one, and free returns after the frame in progress. */
static void test_slow_callback(pe_protos *p) {
    cblog *l = new_log();
    l->sleep_ms = 30;
    pe_stream_options o = {.n_threads = 1, .all_frames = 1, .ring = 2, .on_result = on_result,
                           .user = l};
    pe_stream *s = NULL;
    if (pe_stream_create(g_model, p, NULL, &o, &s)) {
        CHECK(0, "create: %s", pe_last_error());
        free_log(l);
        return;
    }
    double t0 = now_ms();
    for (int i = 0; i < 6; i++) {
        pe_frame f = scene_frame(0);
        pe_stream_push(s, &f, i);
    }
    double pushed = now_ms() - t0;
    /* 6 frames, 2 may wait and 1 run: the pushes waited for at least 3 results */
    CHECK(pushed > 3 * 30 - 5, "all_frames pushes did not wait for room (%.0f ms)", pushed);
    CHECK(pe_stream_flush(s) == PE_OK && l->n == 6, "flush: %d of 6 results", l->n);
    pe_stream_free(s);
    free_log(l);

    /* free while a 300 ms callback runs and frames wait: no hang, no leak */
    l = new_log();
    l->sleep_ms = 300;
    o.all_frames = 0;
    o.user = l;
    if (pe_stream_create(g_model, p, NULL, &o, &s)) { free_log(l); return; }
    for (int i = 0; i < 4; i++) {
        pe_frame f = scene_frame(1);
        pe_stream_push(s, &f, i);
        sleep_ms(20);
    }
    t0 = now_ms();
    pe_stream_free(s);
    double freed = now_ms() - t0;
    CHECK(freed < 1000 && l->n == 1, "free took %.0f ms after %d results", freed, l->n);
    free_log(l);
}

/* An NV12 frame of odd size with padded rows, its chroma plane ending at
 * its last sample: the ring copies exactly the bytes the planes use, and
 * the stream's embedding is pe_encode_frame's. */
static float g_nv12_emb[64];

static void on_nv12(void *user, const pe_stream_result *r) {
    (void)user;
    memcpy(g_nv12_emb, r->embedding, (size_t)r->dim * sizeof(float));
}

static void test_nv12_copy(pe_protos *p, int dim) {
    enum { FW = 97, FH = 63, STRIDE = 128, CW = (FW + 1) / 2, CH = (FH + 1) / 2 };
    static uint8_t y[STRIDE * FH], uv[STRIDE * (CH - 1) + CW * 2];
    for (size_t i = 0; i < sizeof y; i++) y[i] = (uint8_t)(16 + (i * 31 + i / STRIDE * 7) % 220);
    for (size_t i = 0; i < sizeof uv; i++) uv[i] = (uint8_t)(60 + (i * 13) % 140);
    pe_frame f = {.format = PE_FRAME_NV12, .width = FW, .height = FH, .rotation = 90};
    f.planes[0] = (pe_plane){y, sizeof y, STRIDE, 0};
    f.planes[1] = (pe_plane){uv, sizeof uv, STRIDE, 0};
    float want[64];
    pe_ctx *c = NULL;
    pe_ctx_options co = {.n_threads = 1};
    pe_status st = pe_ctx_create(g_model, &co, &c);
    if (!st) st = pe_encode_frame(c, &f, NULL, PE_OUTPUT_EMBEDDING, want, (size_t)dim);
    pe_ctx_free(c);
    CHECK(st == PE_OK, "NV12 encode: %s", pe_last_error());
    pe_stream_options o = {.n_threads = 1, .all_frames = 1, .on_result = on_nv12};
    pe_stream *s = NULL;
    if (st || pe_stream_create(g_model, p, NULL, &o, &s)) return;
    CHECK(pe_stream_push(s, &f, 0) == PE_OK, "push NV12: %s", pe_last_error());
    memset(y, 0, sizeof y);                    /* the stream holds its own copy */
    memset(uv, 0, sizeof uv);
    CHECK(pe_stream_flush(s) == PE_OK, "flush");
    CHECK(!memcmp(want, g_nv12_emb, (size_t)dim * sizeof(float)),
          "the stream's NV12 embedding differs from pe_encode_frame's");
    f.planes[1].size--;                        /* one byte short of the last sample */
    CHECK(pe_stream_push(s, &f, 1) == PE_ERR_SHAPE, "a short chroma plane: %s", pe_last_error());
    pe_stream_free(s);
}

/* A gallery: its distinct labels are the classes, by label index. */
static void test_gallery(float emb[N_SCENES][64], int dim) {
    pe_gallery *g = NULL;
    CHECK(pe_gallery_create(g_model, &g) == PE_OK, "gallery");
    const char *labels[N_SCENES] = {"x", "y", "c"};
    for (int i = 0; i < N_SCENES; i++) {
        float e2[64];
        for (int j = 0; j < dim; j++) e2[j] = emb[i][j] * (1 + 0.01f * (j % 3));
        pe_gallery_add(g, labels[i], "a", emb[i], dim);
        pe_gallery_add(g, labels[i], "b", e2, dim);
    }
    cblog *l = new_log();
    pe_stream_options o = {.n_threads = 1, .all_frames = 1, .k = 3, .on_result = on_result,
                           .user = l, .smooth = {.tau_ms = 20, .min_dwell_ms = 40}};
    pe_stream *s = NULL;
    pe_status st = pe_stream_create(g_model, NULL, g, &o, &s);
    CHECK(st == PE_OK, "gallery stream: %s", pe_last_error());
    if (st) { pe_gallery_free(g); free_log(l); return; }
    for (int i = 0; i < 30; i++) {
        pe_frame f = scene_frame((i / 10) % N_SCENES);
        pe_stream_push(s, &f, i * 33.0);
    }
    CHECK(pe_stream_flush(s) == PE_OK && l->n == 30, "gallery: %d results", l->n);
    int ok = 1;
    for (int i = 0; i < l->n; i++) {
        int scene = (i / 10) % N_SCENES;
        ok &= l->r[i].n_classes == N_SCENES && l->r[i].top == scene;
        if (i % 10 >= 3)
            ok &= l->r[i].stable == scene && l->r[i].stable_label &&
                  !strcmp(l->r[i].stable_label, labels[scene]);
    }
    CHECK(ok, "gallery: the top and stable labels follow the scenes");
    pe_stream_free(s);
    pe_gallery_free(g);
    free_log(l);
}

static void test_errors(pe_protos *p) {
    pe_stream *s = (pe_stream *)1;
    pe_stream_options o = {.n_threads = 1};
    CHECK(pe_stream_create(g_model, p, NULL, &o, NULL) == PE_ERR_INVALID_ARG, "NULL out");
    CHECK(pe_stream_create(NULL, p, NULL, &o, &s) == PE_ERR_INVALID_ARG && !s, "NULL model");
    CHECK(pe_stream_create(g_model, NULL, NULL, &o, &s) == PE_ERR_INVALID_ARG, "no classifier");
    pe_gallery *g = NULL;
    pe_gallery_create(g_model, &g);
    CHECK(pe_stream_create(g_model, p, g, &o, &s) == PE_ERR_INVALID_ARG &&
              strstr(pe_last_error(), "exactly one"),
          "both protos and gallery: %s", pe_last_error());
    CHECK(pe_stream_create(g_model, NULL, g, &o, &s) == PE_ERR_INVALID_ARG &&
              strstr(pe_last_error(), "empty"),
          "empty gallery: %s", pe_last_error());
    pe_gallery_free(g);
    CHECK(pe_stream_create(g_foreign, p, NULL, &o, &s) == PE_ERR_UNSUPPORTED,
          "a pack of another model: %s", pe_last_error());
    pe_stream_options bad[] = {{.ring = 65}, {.top_k = 65}, {.k = -1}, {.metric = 7},
                               {.pp = {.height = 50, .width = 64}},
                               {.smooth = {.tau_ms = -1}}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = (pe_stream *)1;
        CHECK(pe_stream_create(g_model, p, NULL, &bad[i], &s) != PE_OK && !s && *pe_last_error(),
              "bad options %zu accepted", i);
    }

    cblog *l = new_log();
    o.on_result = on_result;
    o.user = l;
    o.all_frames = 1;
    if (pe_stream_create(g_model, p, NULL, &o, &s)) { free_log(l); return; }
    pe_frame f = scene_frame(0);
    f.planes[0].size = W * 4 * (H - 1);              /* one row short */
    CHECK(pe_stream_push(s, &f, 0) != PE_OK && strstr(pe_last_error(), "pe_stream_push"),
          "a short plane is refused at push: %s", pe_last_error());
    f = scene_frame(0);
    f.width = 0;
    CHECK(pe_stream_push(s, &f, 0) != PE_OK, "width 0 refused");
    f = scene_frame(0);
    CHECK(pe_stream_push(s, &f, NAN) == PE_ERR_INVALID_ARG, "NaN timestamp");
    CHECK(pe_stream_push(s, NULL, 0) == PE_ERR_INVALID_ARG, "NULL frame");
    CHECK(pe_stream_push(NULL, &f, 0) == PE_ERR_INVALID_ARG, "NULL stream");
    pe_stream_stats ss;
    pe_stream_stats_get(s, &ss);
    CHECK(ss.frames_in == 0, "refused frames are not counted in (%lld)", (long long)ss.frames_in);
    /* A timestamp going back fails in the worker's smoother: flush reports it. */
    CHECK(pe_stream_push(s, &f, 100) == PE_OK && pe_stream_push(s, &f, 50) == PE_OK, "pushes");
    CHECK(pe_stream_flush(s) == PE_ERR_INVALID_ARG && strstr(pe_last_error(), "frame 1"),
          "the worker's error comes back through flush: %s", pe_last_error());
    CHECK(pe_stream_flush(s) == PE_OK, "and only once");
    pe_stream_stats_get(s, &ss);
    CHECK(ss.frames_in == 2 && ss.processed == 1 && ss.failed == 1 && ss.dropped == 0,
          "in %lld processed %lld failed %lld", (long long)ss.frames_in, (long long)ss.processed,
          (long long)ss.failed);
    CHECK(pe_stream_flush(NULL) == PE_ERR_INVALID_ARG && pe_stream_stats_get(s, NULL), "NULLs");
    pe_stream_free(s);
    pe_stream_free(NULL);
    free_log(l);
}

int main(void) {
    char path[512];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    pe_model_options mo = {.vision_only = 1};
    if (pe_model_load(path, &mo, &g_model)) {
        CHECK(0, "%s: %s", path, pe_last_error());
        return test_done("test_stream");
    }
    golden_path(path, sizeof path, "models/pe-micro-timm.safetensors");
    CHECK(pe_model_load(path, NULL, &g_foreign) == PE_OK, "%s", pe_last_error());
    make_scenes();
    float emb[N_SCENES][64];
    int dim = 0;
    pe_protos *p = scene_protos(emb, &dim);
    if (p && dim <= 64) {
        test_all_frames(p, emb, dim);
        test_keep_latest(p);
        test_slow_callback(p);
        test_gallery(emb, dim);
        test_nv12_copy(p, dim);
        test_errors(p);
    }
    pe_protos_free(p);
    pe_model_free(g_foreign);
    pe_model_free(g_model);
    return test_done("test_stream");
}
