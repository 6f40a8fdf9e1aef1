/* Core selection (pe_ctx_options.cores) against fake sysfs trees of phone
 * layouts, then on this machine: pinning a thread, a pinned pool, and
 * contexts created with each choice. */
#include "test.h"

#include "pecore.h"
#include "runtime/cpu.h"
#include "runtime/threadpool.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

static char g_root[64];
static int g_tree;

/* Writes root/rel (creating its directories) holding text. */
static void put(const char *root, const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(path, 0755); *p = '/'; }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "create %s", path);
    if (f) { fputs(text, f); fclose(f); }
}

/* A fresh tree: online list, then per CPU range [a, b] a capacity and / or
 * a maximum frequency (0: file absent). */
typedef struct cls { int a, b; unsigned long capacity, max_freq; } cls;

static const char *tree(const char *online, const cls *c, int n) {
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/t%d", g_root, g_tree++);
    mkdir(dir, 0755);
    if (online) put(dir, "online", online);
    for (int i = 0; i < n; i++)
        for (int cpu = c[i].a; cpu <= c[i].b; cpu++) {
            char rel[64], v[32];
            if (c[i].capacity) {
                snprintf(rel, sizeof rel, "cpu%d/cpu_capacity", cpu);
                snprintf(v, sizeof v, "%lu\n", c[i].capacity);
                put(dir, rel, v);
            }
            if (c[i].max_freq) {
                snprintf(rel, sizeof rel, "cpu%d/cpufreq/cpuinfo_max_freq", cpu);
                snprintf(v, sizeof v, "%lu\n", c[i].max_freq);
                put(dir, rel, v);
            }
        }
    return dir;
}

static uint64_t low_bits(const pe_cpuset *s) { return s->bits[0]; }

/* The selection of mode in root is exactly want (CPUs 0..63). */
static void expect(const char *what, const char *root, const pe_cpuset *allowed, pe_cores mode,
                   uint64_t mask, uint64_t want) {
    pe_cpuset got;
    int n = -1;
    pe_status s = pe_cpu_select(root, allowed, mode, mask, &got, &n);
    CHECK(s == PE_OK, "%s: %s", what, pe_last_error());
    if (s) return;
    int high = 0;
    for (int w = 1; w < PE_CPU_MAX / 64; w++) high |= got.bits[w] != 0;
    CHECK(low_bits(&got) == want && !high && n == __builtin_popcountll(want),
          "%s: got 0x%llx (%d CPUs), want 0x%llx", what, (unsigned long long)low_bits(&got), n,
          (unsigned long long)want);
}

static pe_cpuset set_of(uint64_t bits) {
    pe_cpuset s;
    memset(&s, 0, sizeof s);
    s.bits[0] = bits;
    return s;
}

static void test_layouts(void) {
    const cls uniform[] = {{0, 3, 1024, 0}};
    const char *r = tree("0-3\n", uniform, 1);
    expect("uniform fast", r, NULL, PE_CORES_FAST, 0, 0xf);
    expect("uniform efficient", r, NULL, PE_CORES_EFFICIENT, 0, 0xf);
    expect("uniform all", r, NULL, PE_CORES_ALL, 0, 0xf);

    const cls bl44[] = {{0, 3, 446, 1800000}, {4, 7, 1024, 2800000}};
    r = tree("0-7\n", bl44, 2);
    expect("4+4 fast", r, NULL, PE_CORES_FAST, 0, 0xf0);
    expect("4+4 efficient", r, NULL, PE_CORES_EFFICIENT, 0, 0x0f);
    expect("4+4 all", r, NULL, PE_CORES_ALL, 0, 0xff);
    expect("4+4 mask", r, NULL, PE_CORES_MASK, 0x30, 0x30);
    expect("4+4 mask, offline bits dropped", r, NULL, PE_CORES_MASK, 0x3c0, 0xc0);
    pe_cpuset got;
    int n;
    CHECK(pe_cpu_select(r, NULL, PE_CORES_MASK, 0x300, &got, &n) == PE_ERR_INVALID_ARG &&
          strstr(pe_last_error(), "0x300"), "a mask of absent CPUs is refused: %s", pe_last_error());
    CHECK(pe_cpu_select(r, NULL, (pe_cores)99, 0, &got, &n) == PE_ERR_INVALID_ARG, "unknown mode");
    /* the thread's affinity first: all little, one of each, or outside */
    pe_cpuset a = set_of(0x3);
    expect("4+4 allowed little only", r, &a, PE_CORES_FAST, 0, 0x3);
    a = set_of(0x18);
    expect("4+4 allowed one of each, fast", r, &a, PE_CORES_FAST, 0, 0x10);
    expect("4+4 allowed one of each, efficient", r, &a, PE_CORES_EFFICIENT, 0, 0x08);
    a = set_of(1ull << 40);
    expect("4+4 allowed offline CPU only: ignored", r, &a, PE_CORES_FAST, 0, 0xf0);

    /* prime + big + little: the fast choice keeps prime and big */
    const cls pbl[] = {{0, 3, 325, 0}, {4, 6, 801, 0}, {7, 7, 1024, 0}};
    r = tree("0-7\n", pbl, 3);
    expect("1+3+4 fast", r, NULL, PE_CORES_FAST, 0, 0xf0);
    expect("1+3+4 efficient", r, NULL, PE_CORES_EFFICIENT, 0, 0x0f);

    /* no cpu_capacity (older kernels): cpufreq decides; a capacity on only
     * some CPUs is not used */
    const cls freq[] = {{0, 0, 512, 1800000}, {1, 3, 0, 1800000}, {4, 5, 0, 2400000}};
    r = tree("0-5\n", freq, 3);
    expect("cpufreq 4+2 fast", r, NULL, PE_CORES_FAST, 0, 0x30);
    expect("cpufreq 4+2 efficient", r, NULL, PE_CORES_EFFICIENT, 0, 0x0f);

    /* within 10%: one class (x86 favoured cores, Turbo Boost Max) */
    const cls near[] = {{0, 1, 980, 0}, {2, 3, 1024, 0}};
    expect("within 10% is alike", tree("0-3\n", near, 2), NULL, PE_CORES_FAST, 0, 0xf);

    /* offline CPUs are skipped, even the fast ones */
    const cls gaps[] = {{0, 3, 400, 0}, {4, 7, 1024, 0}};
    r = tree("0-3,6-7\n", gaps, 2);
    expect("offline 4-5 fast", r, NULL, PE_CORES_FAST, 0, 0xc0);
    expect("offline 4-5 all", r, NULL, PE_CORES_ALL, 0, 0xcf);

    /* nothing at all, or a malformed list: every CPU sysconf counts */
    const uint64_t all = pe_cpu_count() >= 64 ? ~0ull : (1ull << pe_cpu_count()) - 1;
    const cls caps2[] = {{0, 1, 1024, 0}};
    if (pe_cpu_count() < 64) {
        expect("empty tree", tree(NULL, NULL, 0), NULL, PE_CORES_FAST, 0, all);
        expect("malformed online list", tree("0-x\n", caps2, 1), NULL, PE_CORES_ALL, 0, all);
    }
    expect("one CPU", tree("0\n", caps2, 1), NULL, PE_CORES_FAST, 0, 0x1);
}

/* ------------------------------------------------------- this machine */

#ifdef __linux__
static int first_allowed(void) {
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs)) return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &cs)) return c;
    return -1;
}

typedef struct probe { int cpu, ok; } probe;

static void *pin_thread(void *arg) {
    probe *p = arg;
    pe_cpuset s = set_of(0);
    pe_cpuset_add(&s, p->cpu);
    cpu_set_t cs;
    p->ok = pe_cpu_pin(&s) == 0 && sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) == 1 &&
            CPU_ISSET(p->cpu, &cs);
    return NULL;
}

/* Each task records whether its thread is restricted to exactly one CPU. */
typedef struct seen { int ran[2], single[2], cpu; } seen;

static void record(void *arg, int task, int thread) {
    (void)task;
    seen *s = arg;
    cpu_set_t cs;
    int one = sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) == 1 && CPU_ISSET(s->cpu, &cs);
    s->ran[thread] = 1;
    s->single[thread] = one;
    usleep(20000); /* long enough that the worker wakes and takes its half */
}

static void test_pinning(void) {
    const int cpu = first_allowed();
    CHECK(cpu >= 0, "sched_getaffinity");
    if (cpu < 0) return;
    probe p = {cpu, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, pin_thread, &p) == 0, "thread");
    pthread_join(th, NULL);
    CHECK(p.ok, "a thread pinned to CPU %d runs there only", cpu);

    pe_cpuset one = set_of(0);
    pe_cpuset_add(&one, cpu);
    cpu_set_t before, after;
    CHECK(sched_getaffinity(0, sizeof before, &before) == 0, "caller affinity");
    pe_pool *pool;
    CHECK(pe_pool_create_on(2, &one, &pool) == PE_OK, "pinned pool");
    seen s = {{0, 0}, {0, 0}, cpu};
    pe_pool_run(pool, record, &s, 8);
    pe_pool_free(pool);
    CHECK(s.ran[1] && s.single[1], "the pinned worker runs on CPU %d only (ran %d)", cpu, s.ran[1]);
    CHECK(sched_getaffinity(0, sizeof after, &after) == 0 && CPU_EQUAL(&before, &after),
          "the calling thread is not moved");
}
#endif

/* Contexts: the default count follows the choice, a one-CPU mask gives one
 * thread, a bad mask is refused, and a pinned context computes the same. */
static void test_contexts(void) {
    char path[512];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    pe_model *m;
    pe_status s = pe_model_load(path, NULL, &m);
    CHECK(s == PE_OK, "load %s: %s", path, pe_last_error());
    if (s) return;
    pe_cpuset fast;
    int n_fast, pin;
    CHECK(pe_cpu_choose(PE_CORES_FAST, 0, &fast, &n_fast, &pin) == PE_OK && n_fast >= 1, "choose");
    pe_ctx *c = NULL;
    CHECK(pe_ctx_create(m, NULL, &c) == PE_OK && pe_ctx_threads(c) == n_fast,
          "default: one thread per fast core (%d, got %d)", n_fast, pe_ctx_threads(c));
    pe_ctx_free(c);

    uint64_t first = 0;
    for (int i = 0; i < 64 && !first; i++)
        if (pe_cpuset_has(&fast, i)) first = 1ull << i;
    pe_ctx_options o = {.cores = PE_CORES_MASK, .cpu_mask = first};
    CHECK(first && pe_ctx_create(m, &o, &c) == PE_OK && pe_ctx_threads(c) == 1, "one-CPU mask: 1 thread");
    pe_ctx_free(c);
    o.cpu_mask = 0;
    c = NULL;
    CHECK(pe_ctx_create(m, &o, &c) == PE_ERR_INVALID_ARG && !c && strstr(pe_last_error(), "cpu_mask"),
          "empty mask refused");
    CHECK(pe_ctx_threads(NULL) == 0, "pe_ctx_threads(NULL)");

    /* the same image, unpinned and with two threads on one CPU */
    enum { S = 64 };
    int rows, cols;
    s = pe_output_shape(m, S, S, PE_OUTPUT_EMBEDDING, &rows, &cols);
    CHECK(s == PE_OK, "%s", pe_last_error());
    const size_t D = s ? 1 : (size_t)rows * cols;
    float *x = malloc(3 * S * S * sizeof(float)), *a = malloc(D * sizeof(float)), *b = malloc(D * sizeof(float));
    for (int i = 0; i < 3 * S * S; i++) x[i] = rng_float(-1, 1);
    pe_ctx_options all = {.n_threads = 2, .cores = PE_CORES_ALL};
    pe_ctx_options one = {.n_threads = 2, .cores = PE_CORES_MASK, .cpu_mask = first};
    pe_ctx *ca = NULL, *cb = NULL;
    if (!s && !pe_ctx_create(m, &all, &ca) && !pe_ctx_create(m, &one, &cb)) {
        CHECK(pe_encode_f32(ca, x, 1, S, S, PE_OUTPUT_EMBEDDING, a, D) == PE_OK &&
              pe_encode_f32(cb, x, 1, S, S, PE_OUTPUT_EMBEDDING, b, D) == PE_OK, "%s", pe_last_error());
        double md = 0;
        for (size_t i = 0; i < D; i++) md = fmax(md, fabs((double)a[i] - b[i]));
        CHECK(md == 0, "pinned and unpinned contexts agree (max diff %g)", md);
    }
    pe_ctx_free(ca);
    pe_ctx_free(cb);
    free(x);
    free(a);
    free(b);
    pe_model_free(m);
}

int main(void) {
    snprintf(g_root, sizeof g_root, "/tmp/pecore-cpu-XXXXXX");
    if (!mkdtemp(g_root)) { CHECK(0, "mkdtemp: %s", strerror(errno)); return test_done("test_cpu"); }
    test_layouts();
#ifdef __linux__
    test_pinning();
#endif
    test_contexts();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_done("test_cpu");
}
