/* Minimal test harness: CHECK counts, FAILs are printed with their location,
 * and test_done() prints the line the CI reads ("name: N passed, N failed"). */
#ifndef PE_TEST_H
#define PE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            t_pass++;                                                        \
        } else {                                                             \
            t_fail++;                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* PE_TEST_REDUCED: the sanitizer builds (make test-asan) run the slowest
 * end-to-end tests on fewer inputs (their figures are held by the plain
 * build's run; what ASan and UBSan watch is the code, which runs the same). */
#if defined(__SANITIZE_ADDRESS__) && !defined(PE_TEST_REDUCED)
#define PE_TEST_REDUCED 1
#elif defined(__has_feature) && !defined(PE_TEST_REDUCED)
#if __has_feature(address_sanitizer)
#define PE_TEST_REDUCED 1
#endif
#endif

static inline int test_done(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* The golden set golden_dir() walks instead of the PE one, when set
 * (golden_dinov2_dir(): tests that judge both sets). */
static const char *t_golden_dir;

/* Root of the golden data: $PECORE_GOLDEN, else ../shared/golden from the
 * repository root (where make runs the tests). */
static inline const char *golden_dir(void) {
    const char *g = getenv("PECORE_GOLDEN");
    if (t_golden_dir) return t_golden_dir;
    return g && *g ? g : "../shared/golden";
}

/* The DINOv2 family's golden set: $PECORE_GOLDEN_DINOV2, else
 * ../shared/golden-dinov2. */
static inline const char *golden_dinov2_dir(void) {
    const char *g = getenv("PECORE_GOLDEN_DINOV2");
    return g && *g ? g : "../shared/golden-dinov2";
}

static inline void golden_path(char *buf, size_t len, const char *rel) {
    snprintf(buf, len, "%s/%s", golden_dir(), rel);
}

/* Reproducible random data: xorshift64; rng_seed() picks the sequence. */
static inline uint64_t *rng_state_(void) {
    static uint64_t state = 0x9e3779b97f4a7c15ull;
    return &state;
}

static inline void rng_seed(uint64_t seed) { *rng_state_() = seed; }

static inline uint32_t rng_u32(void) {
    uint64_t *s = rng_state_();
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 16);
}

/* Uniform in [lo, hi). */
static inline float rng_float(float lo, float hi) {
    return lo + (hi - lo) * (float)(rng_u32() >> 8) * (1.0f / 16777216.0f);
}

#endif
