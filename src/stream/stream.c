/* pe_stream: camera frames pushed from the app's callback, encoded,
 * classified and smoothed on one worker thread (pecore.h, "live streams").
 *
 * The ring.  ring + 2 slots, each holding one frame's plane bytes: at most
 * `ring` WAITING, one BUSY (the worker's), one FILLING (the producer's copy,
 * made outside the stream lock so that the worker never waits for a copy).
 * A slot's buffer grows only when a bigger frame arrives: after each slot
 * has seen the largest size, pushes allocate nothing.
 *
 * Keep-latest (default): a push that finds `ring` frames waiting drops the
 * oldest, and the worker takes the newest waiting frame and drops the older
 * ones: the result is always about the latest frame the app gave.  The
 * producer never waits for the worker, only for the stream lock, which is
 * held for a few slot-state changes.  all_frames: a push waits for room,
 * the worker takes frames oldest first, nothing is dropped.
 *
 * Threads and locks.  push_mu serialises producers (pushes from several
 * threads are allowed; they take turns), so at most one slot is FILLING.
 * mu guards every slot state, the counters, the latency histogram and the
 * first worker error; `work` wakes the worker (a frame waits, or stop),
 * `room` wakes pushes waiting for space and flushes (a slot became free).
 * The worker owns its BUSY slot, the context, the smoother and the result
 * buffers without the lock; a FILLING slot belongs to its producer alone.
 * on_result runs on the worker without any lock held, so it may call
 * pe_stream_stats_get, but not push, flush or free on its own stream (an
 * all_frames push would wait for the worker that is running it). */
#include "../common.h"
#include "../image/frame.h"
#include "../runtime/threadpool.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOT_FREE, SLOT_FILLING, SLOT_WAITING, SLOT_BUSY };

typedef struct slot {
    uint8_t *buf;           /* [cap] the planes, each 64-byte aligned      */
    size_t cap;
    pe_frame f;             /* the pushed frame, planes pointing into buf  */
    double t_ms;            /* the caller's timestamp                      */
    double pushed_ms;       /* monotonic clock at push                     */
    int64_t index;          /* among the frames pushed                     */
    int state;
} slot;

/* Latency histogram: bin b holds [LAT_MIN * LAT_STEP^b, LAT_MIN * LAT_STEP^(b+1))
 * ms; percentiles are the geometric middle of their bin (within 1%). */
#define LAT_BINS 1100
#define LAT_MIN 0.01
#define LAT_STEP 1.02

struct pe_stream {
    pe_stream_options o;    /* defaults filled in                          */
    const pe_protos *protos;
    const pe_gallery *gallery;
    int n_classes, dim;
    pe_ctx *ctx;            /* worker only                                 */
    pe_smoother *sm;        /* worker only                                 */
    float *emb;             /* [dim] worker only                           */
    float *dense;           /* [n_classes] worker only                     */
    pe_classification cls;  /* worker only                                 */

    slot *slots;            /* [n_slots]                                   */
    int n_slots;
    pthread_mutex_t push_mu, mu;
    pthread_cond_t work, room;
    pthread_t thread;
    int running, stop;      /* the thread was started / is asked to end    */

    /* under mu */
    int64_t frames_in, processed, dropped, failed;
    int64_t lat_hist[LAT_BINS];
    double lat_max;
    double t0_ms, t_last_ms;  /* first push, last result (monotonic)       */
    double cpu0_ms, cpu_last_ms;
    pe_status err;          /* first worker error since the last flush     */
    char err_msg[256];
};

static double clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Copies the used bytes of f's planes (used[], from pe_frame_check_bytes)
 * into s (which the caller holds FILLING), growing its buffer when the frame
 * is bigger than any before. */
static pe_status slot_fill(slot *s, const pe_frame *f, const size_t used[3]) {
    size_t need = 0, off[3];
    for (int i = 0; i < 3; i++) {
        off[i] = need;
        need += align64(used[i]);
    }
    if (need > s->cap) {
        uint8_t *b = pe_alloc(need);
        if (!b) return PE_ERR_NOMEM;
        pe_free(s->buf);
        s->buf = b;
        s->cap = need;
    }
    s->f = *f;
    for (int i = 0; i < 3; i++) {
        size_t n = used[i];
        if (n) memcpy(s->buf + off[i], f->planes[i].data, n);
        s->f.planes[i].data = n ? s->buf + off[i] : NULL;
        s->f.planes[i].size = n;
    }
    return PE_OK;
}

/* ------------------------------------------------------------ worker */

static int count_state(const pe_stream *s, int state) {
    int n = 0;
    for (int i = 0; i < s->n_slots; i++) n += s->slots[i].state == state;
    return n;
}

/* The waiting slot with the lowest (oldest) or highest (newest) index. */
static slot *pick_waiting(pe_stream *s, int newest) {
    slot *best = NULL;
    for (int i = 0; i < s->n_slots; i++) {
        slot *x = &s->slots[i];
        if (x->state == SLOT_WAITING &&
            (!best || (newest ? x->index > best->index : x->index < best->index)))
            best = x;
    }
    return best;
}

static void record_latency(pe_stream *s, double ms) {
    int b = ms > LAT_MIN ? (int)(log(ms / LAT_MIN) / log(LAT_STEP)) : 0;
    s->lat_hist[PE_MIN(PE_MAX(b, 0), LAT_BINS - 1)]++;
    if (ms > s->lat_max) s->lat_max = ms;
}

/* Encodes, classifies and smooths the frame in x, then calls on_result;
 * *latency receives push to result (before the callback).  Runs on the
 * worker without the lock. */
static pe_status process(pe_stream *s, const slot *x, double *latency) {
    pe_status st = pe_encode_frame(s->ctx, &x->f, &s->o.pp, PE_OUTPUT_EMBEDDING, s->emb,
                                   (size_t)s->dim);
    /* PE_CLASSIFY_MAX_TOP covers every class of the dense vector: a pack
     * has at most that many (pe_stream_create), and a gallery's k <= 64
     * neighbours vote for at most k labels, every other label scoring 0. */
    if (!st) st = s->protos ? pe_protos_classify(s->protos, s->emb, s->dim, PE_CLASSIFY_MAX_TOP, &s->cls)
                            : pe_gallery_classify(s->gallery, s->emb, s->dim, s->o.k, s->o.metric,
                                                  PE_CLASSIFY_MAX_TOP, &s->cls);
    if (st) return st;
    memset(s->dense, 0, (size_t)s->n_classes * sizeof *s->dense);
    for (int i = 0; i < s->cls.n_top; i++) {
        float p = s->cls.top[i].score;
        s->dense[s->cls.top[i].index] = p < 0 ? 0 : p > 1 ? 1 : p;
    }
    pe_smoothed sm;
    st = pe_smoother_update(s->sm, x->t_ms, s->dense, s->n_classes, s->emb, s->dim, &sm);
    if (st) return st;
    *latency = clock_ms(CLOCK_MONOTONIC) - x->pushed_ms;
    s->cls.n_top = PE_MIN(s->cls.n_top, s->o.top_k);
    s->cls.n_coarse = PE_MIN(s->cls.n_coarse, s->o.top_k);
    s->cls.n_neighbors = PE_MIN(s->cls.n_neighbors, s->o.k);
    if (s->o.on_result) {
        const char *label = sm.stable < 0 ? NULL
                            : s->protos ? pe_protos_label(s->protos, sm.stable)
                                        : pe_gallery_label(s->gallery, sm.stable);
        pe_stream_result r = {x->index, x->t_ms, *latency, &s->cls, s->n_classes, sm.probs,
                              sm.stable, label, sm.changed, sm.scene_cut, s->emb, s->dim};
        s->o.on_result(s->o.user, &r);
    }
    return PE_OK;
}

static void *worker(void *arg) {
    pe_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !count_state(s, SLOT_WAITING)) pthread_cond_wait(&s->work, &s->mu);
        if (s->stop) break;
        slot *x = pick_waiting(s, !s->o.all_frames);
        x->state = SLOT_BUSY;
        for (slot *old; !s->o.all_frames && (old = pick_waiting(s, 0));) {
            old->state = SLOT_FREE;   /* stale: a newer frame was pushed */
            s->dropped++;
        }
        pthread_cond_broadcast(&s->room);
        pthread_mutex_unlock(&s->mu);

        double latency = 0;
        pe_status st = process(s, x, &latency);

        pthread_mutex_lock(&s->mu);
        if (st) {
            s->failed++;
            if (!s->err) {
                s->err = st;
                snprintf(s->err_msg, sizeof s->err_msg, "frame %lld: %s", (long long)x->index,
                         pe_last_error());
            }
        } else {
            s->processed++;
            record_latency(s, latency);
            s->t_last_ms = clock_ms(CLOCK_MONOTONIC);
            s->cpu_last_ms = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        }
        x->state = SLOT_FREE;
        pthread_cond_broadcast(&s->room);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------ API */

pe_status pe_stream_create(const pe_model *m, const pe_protos *protos, const pe_gallery *gallery,
                           const pe_stream_options *opt, pe_stream **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: out is NULL");
    *out = NULL;
    if (!m) return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: model is NULL");
    if (!protos == !gallery)
        return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: give exactly one of a prototype "
                                            "pack and a gallery");
    pe_stream_options o = opt ? *opt : (pe_stream_options){0};
    if (o.ring == 0) o.ring = 1;
    if (o.top_k == 0) o.top_k = 5;
    if (o.k == 0) o.k = 5;
    if (o.ring < 1 || o.ring > 64)
        return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: ring %d is not in 1..64", o.ring);
    if (o.top_k < 1 || o.top_k > PE_CLASSIFY_MAX_TOP || o.k < 1 || o.k > PE_CLASSIFY_MAX_TOP)
        return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: top_k %d or k %d is not in 1..%d",
                        o.top_k, o.k, PE_CLASSIFY_MAX_TOP);
    if (o.metric != PE_METRIC_COSINE && o.metric != PE_METRIC_L2)
        return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: unknown metric %d", (int)o.metric);
    pe_status st = protos ? pe_protos_check_model(protos, m) : pe_gallery_check_model(gallery, m);
    if (st) return st;
    int n_classes = protos ? pe_protos_count(protos) : pe_gallery_label_count(gallery);
    if (n_classes < 1)
        return pe_error(PE_ERR_INVALID_ARG, "pe_stream_create: the %s is empty",
                        protos ? "prototype pack" : "gallery");
    if (protos && n_classes > PE_CLASSIFY_MAX_TOP)
        return pe_error(PE_ERR_LIMIT, "pe_stream_create: %d classes, a stream smooths at most %d",
                        n_classes, PE_CLASSIFY_MAX_TOP);
    pe_model_info info;
    pe_model_get_info(m, &info);
    if (o.pp.height == 0) o.pp.height = info.image_size;
    if (o.pp.width == 0) o.pp.width = info.image_size;
    int dim;
    if ((st = pe_output_shape(m, o.pp.height, o.pp.width, PE_OUTPUT_EMBEDDING, NULL, &dim)))
        return pe_error_prefix(st, "pe_stream_create");

    pe_stream *s = pe_calloc(1, sizeof *s);
    if (!s) return PE_ERR_NOMEM;
    s->o = o;
    s->protos = protos;
    s->gallery = gallery;
    s->n_classes = n_classes;
    s->dim = dim;
    s->n_slots = o.ring + 2;
    pthread_mutex_init(&s->push_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->room, NULL);
    pe_ctx_options co = {.n_threads = o.n_threads, .compute = o.compute};
    st = pe_ctx_create(m, &co, &s->ctx);
    if (!st) st = pe_smoother_create(n_classes, &o.smooth, &s->sm);
    if (!st) {
        s->emb = pe_calloc((size_t)dim, sizeof *s->emb);
        s->dense = pe_calloc((size_t)n_classes, sizeof *s->dense);
        s->slots = pe_calloc((size_t)s->n_slots, sizeof *s->slots);
        if (!s->emb || !s->dense || !s->slots) st = PE_ERR_NOMEM;
    }
    if (!st && pe_thread_start(&s->thread, worker, s))
        st = pe_error(PE_ERR_NOMEM, "pe_stream_create: cannot start the worker thread");
    if (st) {
        pe_stream_free(s);   /* not running: frees what was made */
        return st;
    }
    s->running = 1;
    *out = s;
    return PE_OK;
}

pe_status pe_stream_push(pe_stream *s, const pe_frame *f, double t_ms) {
    if (!s || !f) return pe_error(PE_ERR_INVALID_ARG, "pe_stream_push: NULL argument");
    if (!isfinite(t_ms)) return pe_error(PE_ERR_INVALID_ARG, "pe_stream_push: timestamp is not finite");
    size_t used[3];
    pe_status st = pe_frame_check_bytes(f, used);
    if (st) return pe_error_prefix(st, "pe_stream_push");
    double now = clock_ms(CLOCK_MONOTONIC);

    pthread_mutex_lock(&s->push_mu);
    pthread_mutex_lock(&s->mu);
    if (!s->frames_in) {
        s->t0_ms = now;
        s->cpu0_ms = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    }
    while (count_state(s, SLOT_WAITING) >= s->o.ring) {
        if (s->o.all_frames) {
            pthread_cond_wait(&s->room, &s->mu);
        } else {
            pick_waiting(s, 0)->state = SLOT_FREE;   /* the newest frame wins */
            s->dropped++;
        }
    }
    /* ring + 2 slots, at most ring waiting, one busy, none filling (push_mu):
     * a free slot exists. */
    slot *x = NULL;
    for (int i = 0; !x; i++)
        if (s->slots[i].state == SLOT_FREE) x = &s->slots[i];
    x->state = SLOT_FILLING;
    pthread_mutex_unlock(&s->mu);

    st = slot_fill(x, f, used);

    pthread_mutex_lock(&s->mu);
    if (st) {
        x->state = SLOT_FREE;
    } else {
        x->t_ms = t_ms;
        x->pushed_ms = now;
        x->index = s->frames_in++;
        x->state = SLOT_WAITING;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->push_mu);
    return st ? pe_error(st, "pe_stream_push: out of memory for a frame copy") : PE_OK;
}

/* Is a frame pushed before index `end` still waiting or being processed? */
static int pending_before(const pe_stream *s, int64_t end) {
    for (int i = 0; i < s->n_slots; i++) {
        const slot *x = &s->slots[i];
        if ((x->state == SLOT_WAITING || x->state == SLOT_BUSY) && x->index < end) return 1;
    }
    return 0;
}

pe_status pe_stream_flush(pe_stream *s) {
    if (!s) return pe_error(PE_ERR_INVALID_ARG, "pe_stream_flush: NULL argument");
    pthread_mutex_lock(&s->mu);
    int64_t end = s->frames_in;   /* frames pushed later do not hold us */
    while (pending_before(s, end)) pthread_cond_wait(&s->room, &s->mu);
    pe_status st = s->err;
    char msg[sizeof s->err_msg];
    memcpy(msg, s->err_msg, sizeof msg);
    s->err = PE_OK;
    pthread_mutex_unlock(&s->mu);
    return st ? pe_error(st, "%s", msg) : PE_OK;
}

/* The latency below which a fraction q of the results fall. */
static double percentile(const pe_stream *s, double q) {
    int64_t n = 0, seen = 0;
    for (int b = 0; b < LAT_BINS; b++) n += s->lat_hist[b];
    if (!n) return 0;
    int64_t want = (int64_t)ceil(q * (double)n);
    for (int b = 0; b < LAT_BINS; b++) {
        seen += s->lat_hist[b];
        if (seen >= want && seen > 0) return PE_MIN(LAT_MIN * pow(LAT_STEP, b + 0.5), s->lat_max);
    }
    return s->lat_max;
}

pe_status pe_stream_stats_get(const pe_stream *cs, pe_stream_stats *out) {
    if (!cs || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_stream_stats_get: NULL argument");
    pe_stream *s = (pe_stream *)cs;   /* the lock is the only thing written */
    pthread_mutex_lock(&s->mu);
    double wall = s->t_last_ms - s->t0_ms;
    *out = (pe_stream_stats){
        .frames_in = s->frames_in,
        .processed = s->processed,
        .dropped = s->dropped,
        .failed = s->failed,
        .latency_p50_ms = percentile(s, 0.50),
        .latency_p90_ms = percentile(s, 0.90),
        .latency_p99_ms = percentile(s, 0.99),
        .latency_max_ms = s->lat_max,
        .cpu_ms_per_result = s->processed ? (s->cpu_last_ms - s->cpu0_ms) / s->processed : 0,
        .fps = s->processed && wall > 0 ? s->processed * 1e3 / wall : 0,
    };
    pthread_mutex_unlock(&s->mu);
    return PE_OK;
}

void pe_stream_free(pe_stream *s) {
    if (!s) return;
    if (s->running) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        for (int i = 0; i < s->n_slots; i++)
            if (s->slots[i].state == SLOT_WAITING) {
                s->slots[i].state = SLOT_FREE;
                s->dropped++;
            }
        pthread_cond_broadcast(&s->work);
        pthread_cond_broadcast(&s->room);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; s->slots && i < s->n_slots; i++) pe_free(s->slots[i].buf);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->room);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->push_mu);
    pe_smoother_free(s->sm);
    pe_ctx_free(s->ctx);
    pe_free(s->emb);
    pe_free(s->dense);
    pe_free(s->slots);
    pe_free(s);
}
