/* Replays every input kept under tests/fuzz/regress/<target>/ through the
 * parser it once broke (the same functions the libFuzzer harnesses call).
 * Passing means no crash; under make test-asan, no sanitizer report. */
#include "test.h"
#include "fuzz/fuzz_targets.h"

#include <dirent.h>

static const struct { const char *dir; int (*fn)(const uint8_t *, size_t); } targets[] = {
    {"pt", fuzz_pt},       {"safetensors", fuzz_safetensors}, {"npy", fuzz_npy},
    {"image", fuzz_image}, {"frame", fuzz_frame}, {"json", fuzz_json},               {"tokenizer", fuzz_tokenizer},
    {"gallery", fuzz_gallery}, {"protos", fuzz_protos},     {"model", fuzz_model},
};

int main(void) {
    int replayed = 0;
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", targets[k].dir);
        DIR *d = opendir(dir);
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char path[600];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            FILE *f = fopen(path, "rb");
            if (!f) continue;
            uint8_t *buf = malloc(1 << 24);
            const size_t n = buf ? fread(buf, 1, 1 << 24, f) : 0;
            fclose(f);
            /* An exact-size copy, so that reading past the input is caught. */
            uint8_t *exact = malloc(n ? n : 1);
            if (buf && exact) {
                memcpy(exact, buf, n);
                targets[k].fn(exact, n);
                replayed++;
                CHECK(1, "%s", path);
            }
            free(exact);
            free(buf);
        }
        closedir(d);
    }
    printf("  replayed %d regression inputs\n", replayed);
    CHECK(1, "done");
    return test_done("fuzz_regress");
}
