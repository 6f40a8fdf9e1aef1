/* The ISA registry (isa.h): the rows of each architecture, the CPU
 * features behind their predicates, and the one reading of PECORE_ISA.  The
 * ISA files are compiled with their own flags and only reached through a row
 * whose predicate holds, so nothing runs an instruction the CPU (or the OS,
 * for the wider register state) lacks. */
#include "isa.h"

#include "peak.h"
#include "../common.h"
#include "../image/pixels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define PE_HAVE_X86 1
#include <cpuid.h>
#endif

#if defined(__aarch64__)
#define PE_HAVE_ARM64 1
#if defined(__APPLE__)
#include <sys/sysctl.h>
#elif defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

static int always(void) { return 1; }

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

static int x86_avx512vnni(void) {
    return x86_avx512() && __builtin_cpu_supports("avx512vnni");
}

/* The AVX-512 pixel passes also use VBMI's byte permutes (and VNNI). */
static int x86_vbmi(void) { return __builtin_cpu_supports("avx512vbmi"); }
static int x86_vnni_vbmi(void) { return x86_avx512vnni() && x86_vbmi(); }

/* AMX-TILE and AMX-INT8 (cpuid leaf 7: EDX bits 24, 25), and Linux's
 * permission to use the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM,
 * asked once for the process; an OS that does not grant it gets VNNI). */
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
static int amx_granted;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static void amx_request(void) {
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    amx_granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}
#endif

static int x86_avx512amx(void) {
    unsigned a, b, c, d;
    if (!x86_avx512vnni() || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) ||
        !(d & (1u << 25)))
        return 0;
#if defined(__linux__)
    pthread_once(&amx_once, amx_request);
    return amx_granted;
#else
    return 0;
#endif
}

static int x86_amx_vbmi(void) { return x86_avx512amx() && x86_vbmi(); }

static int x86_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && x86_f16c();
}
#endif

#ifdef PE_HAVE_ARM64
/* Linux/Android: the kernel's hwcap bits (asm/hwcap.h), defined here for
 * older headers. */
#define PE_HWCAP_FPHP (1ul << 9)
#define PE_HWCAP_ASIMDHP (1ul << 10)
#define PE_HWCAP_ASIMDDP (1ul << 20)
#define PE_HWCAP2_I8MM (1ul << 13)
#define PE_HWCAP2_BF16 (1ul << 14)

typedef struct arm_features { int dot, fp16, i8mm, bf16; } arm_features;

#if defined(__APPLE__)
static int apple_has(const char *name) {
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname(name, &v, &len, NULL, 0) == 0 && v != 0;
}
#endif

static arm_features arm_detect(void) {
    arm_features f = {0, 0, 0, 0};
#if defined(__APPLE__)
    f.dot = apple_has("hw.optional.arm.FEAT_DotProd");
    f.fp16 = apple_has("hw.optional.arm.FEAT_FP16");
    f.i8mm = apple_has("hw.optional.arm.FEAT_I8MM");
    f.bf16 = apple_has("hw.optional.arm.FEAT_BF16");
#elif defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f.dot = (hw & PE_HWCAP_ASIMDDP) != 0;
    f.fp16 = (hw & PE_HWCAP_FPHP) && (hw & PE_HWCAP_ASIMDHP);
    f.i8mm = (hw2 & PE_HWCAP2_I8MM) != 0;
    f.bf16 = (hw2 & PE_HWCAP2_BF16) != 0;
#endif
    return f;
}

static arm_features arm_feat;
static pthread_once_t arm_once = PTHREAD_ONCE_INIT;
static void arm_init(void) { arm_feat = arm_detect(); }
static arm_features arm_features_get(void) {
    pthread_once(&arm_once, arm_init);
    return arm_feat;
}

/* The dot-product and i8mm files are built with +fp16 as well (Makefile), so
 * their levels ask for it; every CPU with FEAT_DotProd shipped so far has it. */
static int arm_dot(void) {
    arm_features f = arm_features_get();
    return f.dot && f.fp16;
}
static int arm_i8mm(void) { return arm_dot() && arm_features_get().i8mm; }
/* FEAT_FP16 arithmetic, scalar and vector (HWCAP_FPHP and HWCAP_ASIMDHP,
 * FEAT_FP16 on Apple): what the fp16 compute set runs. */
static int arm_fp16(void) { return arm_features_get().fp16; }
#endif

/* Best first; the first supported row of a name wins, so a name's rows go
 * from the most the CPU must have to the least.  The AVX-512 pixel passes
 * also need VBMI and VNNI (a Cascade Lake has VNNI, no VBMI: AVX2 pixels).
 * avx512-vnni is avx512 with the VNNI int8 set even where AMX is there (to
 * compare the two). */
static const pe_isa levels[] = {
#ifdef PE_HAVE_X86
    {"avx512", &pe_kernels_avx512, &pe_qkernels_amx, &pe_pixels_avx512, pe_peak_loop_avx512,
     pe_peak_loop_amx, x86_amx_vbmi, "AVX-512", NULL, NULL},
    {"avx512", &pe_kernels_avx512, &pe_qkernels_vnni, &pe_pixels_avx512, pe_peak_loop_avx512,
     pe_peak_loop_vnni, x86_vnni_vbmi, "AVX-512", NULL, NULL},
    {"avx512", &pe_kernels_avx512, &pe_qkernels_vnni, &pe_pixels_avx2, pe_peak_loop_avx512,
     pe_peak_loop_vnni, x86_avx512vnni, "AVX-512", NULL, NULL},
    {"avx512", &pe_kernels_avx512, &pe_qkernels_avx2, &pe_pixels_avx2, pe_peak_loop_avx512, NULL,
     x86_avx512, "AVX-512", NULL, NULL},
    {"avx512-vnni", &pe_kernels_avx512, &pe_qkernels_vnni, &pe_pixels_avx512, pe_peak_loop_avx512,
     pe_peak_loop_vnni, x86_vnni_vbmi, "AVX-512 VNNI", NULL, NULL},
    {"avx512-vnni", &pe_kernels_avx512, &pe_qkernels_vnni, &pe_pixels_avx2, pe_peak_loop_avx512,
     pe_peak_loop_vnni, x86_avx512vnni, "AVX-512 VNNI", NULL, NULL},
    {"avx2", &pe_kernels_avx2, &pe_qkernels_avx2, &pe_pixels_avx2, pe_peak_loop_avx2, NULL, x86_avx2,
     "AVX2+FMA+F16C", NULL, NULL},
#endif
#ifdef PE_HAVE_ARM64
    {"neon-i8mm", &pe_kernels_neon, &pe_qkernels_i8mm, &pe_pixels_neon, pe_peak_loop_neon,
     pe_peak_loop_neondot, arm_i8mm, "i8mm", &pe_f16kernels_neon, arm_fp16},
    {"neon-dot", &pe_kernels_neon, &pe_qkernels_neondot, &pe_pixels_neon, pe_peak_loop_neon,
     pe_peak_loop_neondot, arm_dot, "dotprod+fp16", &pe_f16kernels_neon, arm_fp16},
    {"neon", &pe_kernels_neon, &pe_qkernels_neon, &pe_pixels_neon, pe_peak_loop_neon, NULL, always,
     "NEON", NULL, NULL},
#endif
#ifdef __wasm_simd128__
    /* make wasm: the whole module is built with SIMD128, so an engine that
     * runs it has it */
    {"wasm-simd128", &pe_kernels_wasm, &pe_qkernels_wasm, &pe_pixels_wasm, pe_peak_loop_wasm,
     pe_peak_loop_wasm_int8, always, "SIMD128", NULL, NULL},
#endif
    {"scalar", &pe_kernels_scalar, &pe_qkernels_scalar, &pe_pixels_scalar, pe_peak_loop_scalar, NULL,
     always, "", NULL, NULL},
};

#define LEVEL_COUNT (sizeof levels / sizeof levels[0])

int pe_isa_count(void) { return (int)LEVEL_COUNT; }

const pe_isa *pe_isa_at(int i) { return i >= 0 && i < (int)LEVEL_COUNT ? &levels[i] : NULL; }

const pe_isa *pe_isa_by_name(const char *name) {
    for (size_t i = 0; name && i < LEVEL_COUNT; i++)
        if (!strcmp(levels[i].name, name) && levels[i].supported()) return &levels[i];
    return NULL;
}

const pe_kernels *pe_kernels_by_name(const char *name) {
    const pe_isa *l = pe_isa_by_name(name);
    return l ? l->f32 : NULL;
}

/* A level name, or the name of a reduced-precision set some supported level
 * uses ("avx512vnni"). */
const pe_qkernels *pe_qkernels_by_name(const char *name) {
    const pe_isa *l = pe_isa_by_name(name);
    if (l) return l->q;
    for (size_t i = 0; name && i < LEVEL_COUNT; i++)
        if (!strcmp(levels[i].q->name, name) && levels[i].supported()) return levels[i].q;
    return NULL;
}

static const pe_isa *chosen;
static char forced_error[192]; /* set when PECORE_ISA could not be honoured */
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

/* The supported level names, best first, each once. */
static void list_supported(char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < LEVEL_COUNT; i++) {
        if (pe_isa_by_name(levels[i].name) != &levels[i]) continue; /* first supported of its name */
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", levels[i].name);
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
    }
}

/* PECORE_ISA names a level to use instead of the best one.  One this CPU
 * lacks, or an unknown name, is an error that pe_kernels_check() reports (the
 * library never prints); the kernels themselves stay on the best level, so
 * nothing can run an instruction the CPU does not have. */
static void choose(void) {
    for (size_t i = 0; i < LEVEL_COUNT && !chosen; i++)
        if (levels[i].supported()) chosen = &levels[i];
    const char *env = getenv("PECORE_ISA");
    if (!env || !*env) return;
    const pe_isa *forced = pe_isa_by_name(env);
    if (forced) {
        chosen = forced;
        return;
    }
    /* the value is echoed: printable ASCII only, and short */
    char shown[33], has[96];
    size_t n = 0;
    for (; env[n] && n < sizeof shown - 1; n++)
        shown[n] = env[n] >= 0x20 && env[n] < 0x7f ? env[n] : '?';
    shown[n] = 0;
    list_supported(has, sizeof has);
    const pe_isa *known = NULL;
    for (size_t i = 0; i < LEVEL_COUNT && !known; i++)
        if (!strcmp(levels[i].name, env)) known = &levels[i];
    if (known)
        snprintf(forced_error, sizeof forced_error, "PECORE_ISA=%s: this CPU lacks %s (it has: %s)",
                 shown, known->needs, has);
    else
        snprintf(forced_error, sizeof forced_error,
                 "PECORE_ISA=%s: not a kernel set of this build (this CPU has: %s)", shown, has);
}

const pe_isa *pe_isa_get(void) {
    pthread_once(&chosen_once, choose);
    return chosen;
}

const pe_kernels *pe_kernels_get(void) {
    pthread_once(&chosen_once, choose);
    return chosen->f32;
}

const pe_qkernels *pe_qkernels_get(void) {
    pthread_once(&chosen_once, choose);
    return chosen->q;
}

const char *pe_kernel_isa(void) {
    pthread_once(&chosen_once, choose);
    return chosen->name;
}

/* The refusal says which of the three it is: the level has fp16 kernels
 * but the CPU lacks the arithmetic; the CPU has them at another level than
 * the one PECORE_ISA forced; or no level of this build has any (x86). */
const pe_f16kernels *pe_f16kernels_get(void) {
    const pe_isa *l = pe_isa_get();
    if (l->f16 && l->fp16_supported()) return l->f16;
    const pe_isa *other = NULL;
    for (size_t i = 0; i < LEVEL_COUNT && !other; i++)
        if (levels[i].f16 && levels[i].supported() && levels[i].fp16_supported()) other = &levels[i];
    if (l->f16 || (!other && levels[0].f16))
        pe_error(PE_ERR_UNSUPPORTED, "compute f16: this CPU lacks FP16 arithmetic (ARMv8.2 FEAT_FP16)");
    else if (other)
        pe_error(PE_ERR_UNSUPPORTED, "compute f16: kernel level %s has no fp16 kernels (%s has; unset PECORE_ISA)",
                 l->name, other->name);
    else
        pe_error(PE_ERR_UNSUPPORTED, "compute f16: no fp16 kernels for this CPU (ARMv8.2 FEAT_FP16 only)");
    return NULL;
}

pe_status pe_kernels_check(void) {
    pthread_once(&chosen_once, choose);
    return forced_error[0] ? pe_error(PE_ERR_UNSUPPORTED, "%s", forced_error) : PE_OK;
}
