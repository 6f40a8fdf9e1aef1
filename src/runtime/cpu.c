#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>
#endif

int pe_cpuset_count(const pe_cpuset *s) {
    int n = 0;
    for (int w = 0; w < PE_CPU_MAX / 64; w++) n += __builtin_popcountll(s->bits[w]);
    return n;
}

int pe_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

/* One unsigned number from a sysfs file; 0 when absent or unreadable. */
static unsigned long read_ulong(const char *root, int cpu, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/cpu%d/%s", root, cpu, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long v = 0;
    if (fscanf(f, "%lu", &v) != 1) v = 0;
    fclose(f);
    return v;
}

/* root/online, a list such as "0-3,6,8-11"; 0 when absent or malformed. */
static int read_online(const char *root, pe_cpuset *s) {
    char path[512], buf[4096];
    snprintf(path, sizeof path, "%s/online", root);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    memset(s, 0, sizeof *s);
    for (const char *p = buf; *p && *p != '\n';) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || a < 0 || a >= PE_CPU_MAX) return 0;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b >= PE_CPU_MAX) return 0;
            p = end;
        }
        for (long c = a; c <= b; c++) pe_cpuset_add(s, (int)c);
        if (*p == ',') p++;
        else if (*p && *p != '\n') return 0;
    }
    return pe_cpuset_count(s) > 0;
}

/* The speed class of every CPU in cand by one sysfs metric: *fast gets the
 * CPUs above the slowest class, *slow that class.  0 when a CPU lacks the
 * metric (then the next one is tried). */
static int split_by(const char *root, const char *name, const pe_cpuset *cand, pe_cpuset *fast,
                    pe_cpuset *slow) {
    unsigned long v[PE_CPU_MAX];
    unsigned long lo = 0;
    for (int c = 0; c < PE_CPU_MAX; c++) {
        if (!pe_cpuset_has(cand, c)) continue;
        if (!(v[c] = read_ulong(root, c, name))) return 0;
        if (!lo || v[c] < lo) lo = v[c];
    }
    memset(fast, 0, sizeof *fast);
    memset(slow, 0, sizeof *slow);
    for (int c = 0; c < PE_CPU_MAX; c++)
        if (pe_cpuset_has(cand, c)) pe_cpuset_add(v[c] * 10 > lo * 11 ? fast : slow, c);
    return 1;
}

pe_status pe_cpu_select(const char *root, const pe_cpuset *allowed, pe_cores mode, uint64_t mask,
                        pe_cpuset *out, int *n) {
    pe_cpuset cand, fast, slow;
    if (!read_online(root, &cand)) {
        memset(&cand, 0, sizeof cand);
        for (int c = 0, k = pe_cpu_count(); c < k; c++) pe_cpuset_add(&cand, c);
    }
    if (allowed) {
        pe_cpuset both;
        for (int w = 0; w < PE_CPU_MAX / 64; w++) both.bits[w] = cand.bits[w] & allowed->bits[w];
        if (pe_cpuset_count(&both)) cand = both;
    }
    *out = cand;
    switch (mode) {
    case PE_CORES_ALL:
        break;
    case PE_CORES_MASK:
        memset(out, 0, sizeof *out);
        out->bits[0] = cand.bits[0] & mask;
        if (!pe_cpuset_count(out))
            return pe_error(PE_ERR_INVALID_ARG, "cpu_mask 0x%llx names no CPU this thread may run on",
                            (unsigned long long)mask);
        break;
    case PE_CORES_FAST:
    case PE_CORES_EFFICIENT:
        /* every CPU alike, or no metric: all of them */
        if ((split_by(root, "cpu_capacity", &cand, &fast, &slow) ||
             split_by(root, "cpufreq/cpuinfo_max_freq", &cand, &fast, &slow)) &&
            pe_cpuset_count(&fast))
            *out = mode == PE_CORES_FAST ? fast : slow;
        break;
    default:
        return pe_error(PE_ERR_INVALID_ARG, "unknown cores choice %d", (int)mode);
    }
    *n = pe_cpuset_count(out);
    return PE_OK;
}

/* The calling thread's affinity; 0 where the OS does not say. */
static int thread_allowed(pe_cpuset *s) {
#ifdef __linux__
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) != 0) return 0;
    memset(s, 0, sizeof *s);
    for (int c = 0; c < CPU_SETSIZE && c < PE_CPU_MAX; c++)
        if (CPU_ISSET(c, &cs)) pe_cpuset_add(s, c);
    return pe_cpuset_count(s) > 0;
#else
    (void)s;
    return 0;
#endif
}

/* The kernel's CPU list.  Under Emscripten /sys is the host's (node with
 * NODERAWFS) or absent (a browser), never the CPUs the module may use: a
 * root that cannot exist makes pe_cpu_select count sysconf's CPUs (1
 * without pthreads). */
#ifdef __EMSCRIPTEN__
#define SYS_CPU "/nonexistent/pecore-wasm"
#else
#define SYS_CPU "/sys/devices/system/cpu"
#endif

pe_status pe_cpu_choose(pe_cores mode, uint64_t mask, pe_cpuset *out, int *n, int *pin) {
    pe_cpuset allowed, all;
    const int known = thread_allowed(&allowed);
    pe_status s = pe_cpu_select(SYS_CPU, known ? &allowed : NULL, mode, mask, out, n);
    if (s) return s;
    int n_all;
    pe_cpu_select(SYS_CPU, known ? &allowed : NULL, PE_CORES_ALL, 0, &all, &n_all);
    *pin = *n < n_all;
    return PE_OK;
}

int pe_cpu_pin(const pe_cpuset *s) {
#ifdef __linux__
    cpu_set_t cs;
    CPU_ZERO(&cs);
    for (int c = 0; c < CPU_SETSIZE && c < PE_CPU_MAX; c++)
        if (pe_cpuset_has(s, c)) CPU_SET(c, &cs);
    return sched_setaffinity(0, sizeof cs, &cs) == 0 ? 0 : -1;
#else
    (void)s;
    return -1;
#endif
}
