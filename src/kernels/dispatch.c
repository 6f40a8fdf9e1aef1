/* Chooses the kernel set once per process.  The ISA files are compiled with
 * their own flags and only reached through the tables below, after the CPU
 * (and the OS, for the wider register state) has been checked. */
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define PE_HAVE_X86 1
#include <cpuid.h>
#endif

/* Candidate sets, best first.  A NEON set would be added here under
 * __aarch64__ (with its supported() answering from getauxval/HWCAP). */
typedef struct isa_entry {
    const pe_kernels *set;
    int (*supported)(void);
} isa_entry;

#ifdef PE_HAVE_X86
/* clang 14 has no "f16c" for __builtin_cpu_supports: ask cpuid (leaf 1,
 * ECX bit 29).  F16C uses the YMM state the AVX checks already cover. */
static int x86_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

/* __builtin_cpu_supports checks XCR0 as well, so a CPU with AVX-512 under an
 * OS that does not save ZMM state answers no. */
static int x86_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("fma") && x86_f16c();
}

static int x86_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && x86_f16c();
}
#endif

static int always(void) { return 1; }

static const isa_entry isa_table[] = {
#ifdef PE_HAVE_X86
    { &pe_kernels_avx512, x86_avx512 },
    { &pe_kernels_avx2, x86_avx2 },
#endif
    { &pe_kernels_scalar, always },
};

#define ISA_COUNT (sizeof isa_table / sizeof isa_table[0])

const pe_kernels *pe_kernels_by_name(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < ISA_COUNT; i++)
        if (strcmp(isa_table[i].set->name, name) == 0)
            return isa_table[i].supported() ? isa_table[i].set : NULL;
    return NULL;
}

static const pe_kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

/* PECORE_ISA names a set to use instead of the best one; a name this CPU
 * cannot run, or does not know, leaves the best one in place (the library
 * never prints, so the choice is visible through pe_kernels_get()->name). */
static void choose(void) {
    const char *env = getenv("PECORE_ISA");
    const pe_kernels *forced = env && *env ? pe_kernels_by_name(env) : NULL;
    if (forced) {
        chosen = forced;
        return;
    }
    for (size_t i = 0; i < ISA_COUNT; i++)
        if (isa_table[i].supported()) {
            chosen = isa_table[i].set;
            return;
        }
}

const pe_kernels *pe_kernels_get(void) {
    pthread_once(&chosen_once, choose);
    return chosen;
}
