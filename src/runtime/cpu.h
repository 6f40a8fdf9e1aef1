/* Which CPUs a context's workers run on (pe_ctx_options.cores).  Phones mix
 * core classes (prime / big / LITTLE); Linux and Android say which is which
 * in sysfs: cpuN/cpu_capacity (the scheduler's relative speed), else
 * cpuN/cpufreq/cpuinfo_max_freq.  Elsewhere, or when neither is readable,
 * every core counts as alike. */
#ifndef PE_CPU_H
#define PE_CPU_H

#include "../common.h"

enum { PE_CPU_MAX = 1024 };

typedef struct pe_cpuset { uint64_t bits[PE_CPU_MAX / 64]; } pe_cpuset;

static inline int pe_cpuset_has(const pe_cpuset *s, int cpu) {
    return (int)(s->bits[cpu / 64] >> (cpu % 64)) & 1;
}
static inline void pe_cpuset_add(pe_cpuset *s, int cpu) { s->bits[cpu / 64] |= 1ull << (cpu % 64); }
int pe_cpuset_count(const pe_cpuset *s);

/* Number of online CPUs (>= 1, at most 256: the pool's limit). */
int pe_cpu_count(void);

/* The CPUs `mode` picks among the online ones of the sysfs tree at root
 * (normally "/sys/devices/system/cpu"; the tests pass fake trees) that are
 * also in allowed (NULL: no restriction; a restriction that leaves none is
 * ignored).  PE_CORES_FAST: every CPU faster than the slowest class, where a
 * class is the CPUs within 10% of the slowest one's metric; all of them when
 * every CPU is in that class.  PE_CORES_EFFICIENT: the slowest class.
 * PE_CORES_MASK: the CPUs of mask; an error when it names none.  Sets *n to
 * the count (>= 1). */
pe_status pe_cpu_select(const char *root, const pe_cpuset *allowed, pe_cores mode, uint64_t mask,
                        pe_cpuset *out, int *n);

/* pe_cpu_select on this machine's sysfs and the calling thread's affinity;
 * *pin says whether the choice leaves out a CPU the thread may use (then the
 * workers restrict themselves to it). */
pe_status pe_cpu_choose(pe_cores mode, uint64_t mask, pe_cpuset *out, int *n, int *pin);

/* Restricts the calling thread to s; 0 on success, -1 where the OS refuses
 * (an Android cpuset, a sandbox) or has no such call: then it runs as before. */
int pe_cpu_pin(const pe_cpuset *s);

#endif
