/* pecore stream: raw video frames on standard input (as `ffmpeg -f rawvideo`
 * writes them) through a pe_stream, one line per result.  Public API only.
 *
 * The main thread is the reader: it drains standard input as fast as the
 * pipe delivers (a pipe never drops frames, the stream does) and pushes
 * each whole frame; the stream's worker prints the results from its
 * callback.  Timestamps: with --fps N frame i is at i * 1000 / N ms (a file
 * read faster than real time still smooths by video time), else the
 * arrival time since the first frame.  Latency is always push to result,
 * wall time.  End of input: flush, summary, exit 0.  SIGINT: stop reading,
 * flush what was pushed, summary, exit 130 (interrupted, as a shell
 * reports it); a second SIGINT kills at once. */
#include "classifier.h"
#include "cli.h"
#include "commands.h"
#include "frames.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct sopts {
    copts c;
    cli_frames fr;               /* --pix-fmt, --video-size, --rotate ... */
    double fps, smooth_ms, dwell_ms;
    int all_frames;
} sopts;

static int parse_ms(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) return 1;
    *out = x;
    return 0;
}

static int take_sopt(void *user, const char *a, const char *v) {
    sopts *o = user;
    int taken = cli_frames_take(&o->fr, a, v);
    if (taken) return taken < 0;
    if (!strcmp(a, "--all-frames")) o->all_frames = 1;
    else if (!strcmp(a, "--fps")) {
        if (parse_ms(v, 0.001, 10000, &o->fps)) return cli_fail("--fps must be in (0, 10000], not '%s'", v);
    } else if (!strcmp(a, "--smooth-ms")) {
        if (parse_ms(v, 0.001, 1e7, &o->smooth_ms))
            return cli_fail("--smooth-ms must be a positive time, not '%s'", v);
    } else if (!strcmp(a, "--dwell-ms")) {
        if (parse_ms(v, 0.001, 1e7, &o->dwell_ms))
            return cli_fail("--dwell-ms must be a positive time, not '%s'", v);
    } else {
        return copts_take(&o->c, a, v);
    }
    return 0;
}

/* ------------------------------------------------------------ output */

typedef struct printer {
    int json, top;
    const pe_protos *p;
    const pe_gallery *g;
} printer;

static const char *class_label(const printer *pr, int i) {
    return pr->p ? pe_protos_label(pr->p, i) : pe_gallery_label(pr->g, i);
}

/* The n best classes of the smoothed probabilities, best first. */
static int smoothed_top(const float *v, int n_classes, int *idx, int n) {
    int m = 0;
    for (int i = 0; i < n_classes; i++) {
        if (m == n && v[i] <= v[idx[m - 1]]) continue;
        int j = m < n ? m++ : m - 1;
        while (j > 0 && v[idx[j - 1]] < v[i]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
    return m;
}

static void on_result(void *user, const pe_stream_result *r) {
    const printer *pr = user;
    const pe_classification *c = r->scores;
    int idx[PE_CLASSIFY_MAX_TOP];
    int ns = smoothed_top(r->smoothed, r->n_classes, idx, pr->top);
    if (pr->json) {
        printf("{\"frame\": %lld, \"t_ms\": %.3f, \"latency_ms\": %.3f, \"labels\": [",
               (long long)r->frame, r->t_ms, r->latency_ms);
        for (int i = 0; i < c->n_top; i++) {
            printf(i ? ", {\"label\": " : "{\"label\": ");
            cli_json_str(c->top[i].label);
            printf(", \"score\": %.6g}", (double)c->top[i].score);
        }
        printf("], \"smoothed\": [");
        for (int i = 0; i < ns; i++) {
            printf(i ? ", {\"label\": " : "{\"label\": ");
            cli_json_str(class_label(pr, idx[i]));
            printf(", \"score\": %.6g}", (double)r->smoothed[idx[i]]);
        }
        printf("], \"stable\": ");
        if (r->stable_label) cli_json_str(r->stable_label);
        else printf("null");
        printf(", \"changed\": %s, \"scene_cut\": %s}\n", r->changed ? "true" : "false",
               r->scene_cut ? "true" : "false");
        return;
    }
    printf("frame %6lld  t %9.1f ms  latency %6.1f ms  %s ", (long long)r->frame, r->t_ms,
           r->latency_ms, r->changed ? "->" : "  ");
    cli_print_safe(stdout, r->stable_label ? r->stable_label : "(unknown)");
    printf("  |");
    for (int i = 0; i < c->n_top; i++) {
        putchar(' ');
        cli_print_safe(stdout, c->top[i].label);
        printf(" %.2f", (double)c->top[i].score);
    }
    puts(r->scene_cut ? "  (scene cut)" : "");
}

static void print_summary(const pe_stream_stats *s, int json, int interrupted) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0;   /* kB on Linux */
    if (json) {
        printf("{\"summary\": {\"frames_in\": %lld, \"processed\": %lld, \"dropped\": %lld, "
               "\"failed\": %lld, \"fps\": %.2f, \"latency_p50_ms\": %.2f, \"latency_p90_ms\": "
               "%.2f, \"latency_p99_ms\": %.2f, \"latency_max_ms\": %.2f, \"cpu_ms_per_result\": "
               "%.2f, \"peak_rss_mb\": %.1f, \"interrupted\": %s}}\n",
               (long long)s->frames_in, (long long)s->processed, (long long)s->dropped,
               (long long)s->failed, s->fps, s->latency_p50_ms, s->latency_p90_ms,
               s->latency_p99_ms, s->latency_max_ms, s->cpu_ms_per_result, rss_mb,
               interrupted ? "true" : "false");
        return;
    }
    printf("summary: %lld frames in, %lld processed, %lld dropped%s; %.1f results/s; latency "
           "p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU %.1f ms per result; peak RSS %.0f MB%s\n",
           (long long)s->frames_in, (long long)s->processed, (long long)s->dropped,
           s->failed ? " (some failed)" : "", s->fps, s->latency_p50_ms, s->latency_p99_ms,
           s->latency_max_ms, s->cpu_ms_per_result, rss_mb, interrupted ? " (interrupted)" : "");
}

/* ------------------------------------------------------------ reading */

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Reads one whole frame: 1, 0 at the end of input (or on SIGINT), -1 on
 * an error.  *got receives the bytes of a last partial frame. */
static int read_frame(unsigned char *buf, size_t bytes, size_t *got) {
    *got = 0;
    while (*got < bytes) {
        ssize_t n = read(STDIN_FILENO, buf + *got, bytes - *got);
        if (n < 0 && errno == EINTR) {
            if (g_interrupted) return 0;
            continue;
        }
        if (n < 0) return cli_fail("standard input: %s", strerror(errno)), -1;
        if (n == 0) return 0;
        *got += (size_t)n;
    }
    return 1;
}

/* Pushes every frame of standard input; 0, or 1 after printing an error. */
static int pump(pe_stream *s, const cli_frames *fr, unsigned char *buf, double fps) {
    double t0 = 0;
    pe_frame f;
    cli_frames_at(fr, buf, &f);
    for (int64_t i = 0; !g_interrupted; i++) {
        size_t got;
        int r = read_frame(buf, fr->frame_bytes, &got);
        if (r < 0) return 1;
        if (r == 0) {
            if (got && !g_interrupted)
                fprintf(stderr, "pecore: stream: ignoring the last %zu bytes: not a whole frame "
                        "of %zu\n", got, fr->frame_bytes);
            return 0;
        }
        double now = now_ms();
        if (i == 0) t0 = now;
        pe_status st = pe_stream_push(s, &f, fps > 0 ? (double)i * 1000.0 / fps : now - t0);
        if (st) return cli_fail_status(st, "stream");
    }
    return 0;
}

int cmd_stream(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore stream -m MODEL (--labels L | --labels-file F | --prototypes P |\n"
              "                     --gallery G [--k K] [--metric cosine|l2])\n"
              "                     --pix-fmt F --video-size WxH [--fps N] [--size S|HxW]\n"
              "                     [--smooth-ms T] [--dwell-ms T] [--all-frames] [--top K]\n"
              "                     [--threads N] [--compute f32|f16] [--json] [--yuv M] [--row-stride N]\n"
              "                     [--uv-stride N] [--rotate D] [--mirror] [--crop-rect X,Y,W,H]\n"
              "                     < frames\n"
              "Classifies raw video frames from standard input live (ffmpeg -f rawvideo\n"
              "-pix_fmt F -): F is nv12, nv21, i420 (yuv420p), bgra, rgba, bgrx (bgr0), rgbx\n"
              "(rgb0) or gray. The newest frame wins when the model is busy (others are\n"
              "dropped and counted); --all-frames processes every one (offline video).\n"
              "With --fps N frame i has timestamp i*1000/N ms, else its arrival time; the\n"
              "smoother averages over --smooth-ms (300) and changes the stable label after\n"
              "--dwell-ms (200). One line per result; --json: {\"frame\", \"t_ms\",\n"
              "\"latency_ms\", \"labels\", \"smoothed\", \"stable\", \"changed\", \"scene_cut\"},\n"
              "then {\"summary\": {...}}. Ends at end of input (exit 0) or on SIGINT (flushes,\n"
              "prints the summary, exit 130).\n" CLI_COMPUTE_HELP,
              stdout);
        return 0;
    }
    sopts o;
    memset(&o, 0, sizeof o);
    copts_init(&o.c);
    if (cli_scan(argc, argv,
                 " -m --model --labels --labels-file --template --templates-file --vocab "
                 "--thresholds-file --prototypes -p --gallery -g --k --metric --top --threads "
                 "--compute --json --crop --pix-fmt --video-size --fps --size --smooth-ms --dwell-ms "
                 "--all-frames" CLI_FRAME_OPTIONS,
                 " --json --all-frames" CLI_FRAME_FLAGS, o.c.inputs, &o.c.n_inputs, take_sopt, &o))
        return 1;
    if (o.c.n_inputs) return cli_fail("stream: unexpected argument '%s' (frames come on standard input)", o.c.inputs[0]);
    if (cli_frames_setup(&o.fr)) return 1;

    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_protos *p = NULL;
    pe_gallery *g = NULL;
    pe_stream *s = NULL;
    unsigned char *buf = NULL;
    int rc = classifier_open(&o.c, "stream", &m, &c, &p, &g);
    pe_ctx_free(c);   /* the stream has its own */
    printer pr = {o.c.json, (int)o.c.top, p, g};
    pe_model_info in;
    pe_preprocess pp;
    if (!rc) {
        pe_model_get_info(m, &in);   /* the model's eval transform, --size / --crop over it */
        cli_preprocess(NULL, o.c.height, o.c.width, o.c.crop, &in, &pp);
    }
    if (!rc) {
        pe_stream_options so = {
            .n_threads = (int)o.c.threads,
            .all_frames = o.all_frames,
            .ring = o.all_frames ? 4 : 1,
            .pp = pp,
            .top_k = (int)o.c.top,
            .k = (int)o.c.k,
            .metric = o.c.metric,
            .smooth = {.tau_ms = (float)o.smooth_ms, .min_dwell_ms = (float)o.dwell_ms},
            .on_result = on_result,
            .user = &pr,
            .compute = cli_compute(o.c.compute),
        };
        pe_status st = pe_stream_create(m, p, g, &so, &s);
        if (st) rc = cli_fail_status(st, "cannot start the stream");
    }
    if (!rc && !(buf = malloc(o.fr.frame_bytes))) rc = cli_fail("out of memory");
    if (!rc) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sa.sa_flags = SA_RESETHAND;   /* no SA_RESTART: read() returns EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        setvbuf(stdout, NULL, _IOLBF, 0);
        rc = pump(s, &o.fr, buf, o.fps);
        pe_status st = pe_stream_flush(s);
        if (st && !rc) rc = cli_fail_status(st, "stream");
        pe_stream_stats ss;
        pe_stream_stats_get(s, &ss);
        print_summary(&ss, o.c.json, g_interrupted);
        if (!rc && g_interrupted) rc = 130;
    }
    pe_stream_free(s);
    free(buf);
    pe_protos_free(p);
    pe_gallery_free(g);
    pe_model_free(m);
    return rc;
}
