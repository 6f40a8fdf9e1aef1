/* The DINOv2 family's golden set through the command line: every case of
 * ../shared/golden-dinov2/manifest.json (read from it, never re-listed) runs
 * `pecore embed` (raw inputs with --output, image files with the model's
 * default transform) or `pecore preprocess --transform`, and the .npy the
 * CLI wrote is judged with the manifest's tolerances.  test_golden.c runs
 * the same cases through the C API. */
#include "test.h"

#include "npy.h"
#include "golden.h"
#include "util/json.h"

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[64];

/* Manifest paths are plain relative names: refuse anything a shell would read. */
static int safe(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("/._-", *s)))
            return 0;
    return 1;
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* out vs ref: per row cosine and relative max error (rel_max > 0), or the
 * max absolute difference (abs_max > 0). */
static void judge(const char *id, const npy_array *out, const npy_array *ref, double cos_min,
                  double rel_max, double abs_max) {
    CHECK(out->numel == ref->numel, "%s: the CLI wrote %zu values, expected %zu", id, out->numel, ref->numel);
    if (out->numel != ref->numel || !ref->numel) return;
    if (abs_max > 0) {
        double md = 0;
        for (size_t i = 0; i < ref->numel; i++) md = fmax(md, fabs((double)out->data[i] - ref->data[i]));
        CHECK(md <= abs_max, "%s: max |diff| %g > %g", id, md, abs_max);
        printf("  %-46s max |diff| %.3g\n", id, md);
        return;
    }
    const size_t cols = (size_t)ref->shape[ref->rank - 1], rows = ref->numel / cols;
    double worst_cos = 1, worst_rel = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *a = out->data + r * cols, *b = ref->data + r * cols;
        double ab = 0, aa = 0, bb = 0, md = 0, mr = 0;
        for (size_t i = 0; i < cols; i++) {
            ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
            md = fmax(md, fabs((double)a[i] - b[i]));
            mr = fmax(mr, fabs((double)b[i]));
        }
        worst_cos = fmin(worst_cos, ab / (sqrt(aa) * sqrt(bb) + 1e-30));
        worst_rel = fmax(worst_rel, md / (mr + 1e-30));
    }
    CHECK(worst_cos >= cos_min, "%s: worst cosine %.8f < %.8f", id, worst_cos, cos_min);
    if (rel_max > 0) CHECK(worst_rel <= rel_max, "%s: relative max error %.3g > %.3g", id, worst_rel, rel_max);
    printf("  %-46s cos %.8f  rel %.2e\n", id, worst_cos, worst_rel);
}

static void run_case(const char *pe, const pe_json *c, int i) {
    const char *kind = jstr(c, "kind"), *id = jstr(c, "id"), *model = jstr(c, "model");
    const char *input = jstr(c, "input"), *image = jstr(c, "image"), *expect = jstr(c, "expect");
    const char *output = jstr(c, "output"), *transform = jstr(c, "transform");
    const char *G = golden_dinov2_dir();
    char cmd[2048], out[128];
    snprintf(out, sizeof out, "%s/case%d.npy", g_tmp, i);
    CHECK(kind && id && safe(expect) && safe(G), "case %d: malformed", i);
    if (!kind || !id || !safe(expect) || !safe(G)) return;
    if (!strcmp(kind, "image_raw") && safe(model) && safe(input) && safe(output)) {
        snprintf(cmd, sizeof cmd, "%s embed -m %s/%s --raw %s/%s --output %s --threads 2 -o %s", pe, G, model, G,
                 input, output, out);
    } else if (!strcmp(kind, "image_file") && safe(model) && safe(image)) {
        /* no --transform: the model's own must be the case's */
        snprintf(cmd, sizeof cmd, "%s embed -m %s/%s --threads 2 -o %s %s/%s", pe, G, model, out, G, image);
    } else if (!strcmp(kind, "preprocess") && safe(image) && safe(transform)) {
        snprintf(cmd, sizeof cmd, "%s preprocess --transform %s -o %s %s/%s", pe, transform, out, G, image);
    } else {
        CHECK(0, "%s: case kind '%s' not run through the CLI", id, kind);
        return;
    }
    int rc = run(cmd);
    CHECK(rc == 0, "%s: '%s' exited %d", id, cmd, rc);
    if (rc) return;
    npy_array a = {0}, ref = {0};
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", G, expect);
    int ra = npy_read_f32(out, &a, err, sizeof err);
    CHECK(ra == 0, "%s: %s", id, err);
    int rr = npy_read_f32(path, &ref, err, sizeof err);
    CHECK(rr == 0, "%s: %s", id, err);
    if (!ra && !rr)
        judge(id, &a, &ref, jnum(c, "cos_min", 1), jnum(c, "rel_max", 0), jnum(c, "abs_max", 0));
    npy_free(&a);
    npy_free(&ref);
    unlink(out);
}

int main(void) {
    const char *bin = getenv("PECORE_BIN"), *build = getenv("BUILD");
    char pe[512], path[512];
    if (bin && *bin) snprintf(pe, sizeof pe, "%s", bin);
    else snprintf(pe, sizeof pe, "%s/pecore", build && *build ? build : "build");
    CHECK(safe(pe) && access(pe, X_OK) == 0, "no CLI at %s (set PECORE_BIN)", pe);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/pe_golden_cli_XXXXXX");
    if (!safe(pe) || access(pe, X_OK) || !mkdtemp(g_tmp)) return test_done("golden_cli");
    snprintf(path, sizeof path, "%s/manifest.json", golden_dinov2_dir());
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot read %s", path);
    static char text[1 << 20];
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    pe_json *man = NULL;
    CHECK(len > 0 && pe_json_parse(text, len, &man) == PE_OK, "manifest: %s", pe_last_error());
    const pe_json *cases = man ? pe_json_get(man, "cases") : NULL;
    int n = 0;
    for (size_t i = 0; cases && i < cases->n; i++, n++) run_case(pe, &cases->items[i], (int)i);
    CHECK(n >= 30, "only %d cases in the DINOv2 manifest", n);
    pe_json_free(man);
    rmdir(g_tmp);
    return test_done("golden_cli");
}
