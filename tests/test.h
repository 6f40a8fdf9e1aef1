/* Minimal test harness: CHECK counts, FAILs are printed with their location,
 * and test_done() prints the line the CI reads ("name: N passed, N failed"). */
#ifndef PE_TEST_H
#define PE_TEST_H

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

static inline int test_done(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* Root of the golden data: $PECORE_GOLDEN, else ../shared/golden from the
 * repository root (where make runs the tests). */
static inline const char *golden_dir(void) {
    const char *g = getenv("PECORE_GOLDEN");
    return g && *g ? g : "../shared/golden";
}

static inline void golden_path(char *buf, size_t len, const char *rel) {
    snprintf(buf, len, "%s/%s", golden_dir(), rel);
}

#endif
