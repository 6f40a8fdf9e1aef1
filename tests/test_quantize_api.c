/* pe_quantize and pe_synth_write options through the public API: bad
 * arguments refused before anything is written, the q4 default policy, the
 * rules (last match wins), vision-only output.  The kernels' accuracy is
 * test_quant.c's; the CLI's spelling of all this is test_cli.sh's. */
#include "pecore.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

static char micro[512], out[256];

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* The "TYPE ..." value of "pecore.packed.NAME" in the header of path, or "". */
static const char *packed_type(const char *path, const char *name) {
    static char hdr[1 << 20], val[8];
    val[0] = 0;
    FILE *f = fopen(path, "rb");
    uint64_t n = 0;
    if (!f) return val;
    if (fread(&n, 8, 1, f) == 1 && n < sizeof hdr && fread(hdr, 1, n, f) == n) {
        hdr[n] = 0;
        char key[300];
        snprintf(key, sizeof key, "\"pecore.packed.%s\":\"", name);
        const char *p = strstr(hdr, key);
        if (p) sscanf(p + strlen(key), "%7[a-z0-9]", val);
    }
    fclose(f);
    return val;
}

static void test_refused(void) {
    pe_quantize_options o = {.type = PE_WEIGHTS_Q4};
    CHECK(pe_quantize(micro, out, NULL) == PE_ERR_INVALID_ARG, "NULL options");
    o.type = PE_WEIGHTS_F32;
    CHECK(pe_quantize(micro, out, &o) == PE_ERR_INVALID_ARG, "type f32");
    o.type = PE_WEIGHTS_Q4;
    o.n_rules = 1;
    CHECK(pe_quantize(micro, out, &o) == PE_ERR_INVALID_ARG, "n_rules 1, rules NULL");
    o.n_rules = -1;
    CHECK(pe_quantize(micro, out, &o) == PE_ERR_INVALID_ARG, "n_rules -1");
    char longpat[300];
    memset(longpat, 'a', sizeof longpat - 1);
    longpat[sizeof longpat - 1] = 0;
    const struct { pe_quant_rule r; pe_status want; const char *what; } bad[] = {
        {{(pe_weight_type)9, "*attn*"}, PE_ERR_INVALID_ARG, "rule type 9"},
        {{PE_WEIGHTS_F32, "*attn*"}, PE_ERR_INVALID_ARG, "rule type f32"},
        {{PE_WEIGHTS_Q8, NULL}, PE_ERR_INVALID_ARG, "NULL pattern"},
        {{PE_WEIGHTS_Q8, ""}, PE_ERR_INVALID_ARG, "empty pattern"},
        {{PE_WEIGHTS_Q8, "*attn*,,*mlp*"}, PE_ERR_INVALID_ARG, "empty pattern between commas"},
        {{PE_WEIGHTS_Q8, ",*attn*"}, PE_ERR_INVALID_ARG, "leading comma"},
        {{PE_WEIGHTS_Q8, "*attn*,"}, PE_ERR_INVALID_ARG, "trailing comma"},
        {{PE_WEIGHTS_Q8, longpat}, PE_ERR_INVALID_ARG, "pattern over 255 characters"},
        {{PE_WEIGHTS_Q8, "*no_such_tensor*"}, PE_ERR_NOT_FOUND, "pattern matching nothing"},
        {{PE_WEIGHTS_Q8, "ln_1"}, PE_ERR_NOT_FOUND, "pattern matching only vectors"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o.rules = &bad[i].r;
        o.n_rules = 1;
        remove(out);
        pe_status s = pe_quantize(micro, out, &o);
        CHECK(s == bad[i].want, "%s: got %s (%s)", bad[i].what, pe_status_string(s), pe_last_error());
        CHECK(*pe_last_error(), "%s: no message", bad[i].what);
        CHECK(!exists(out), "%s: a file was written", bad[i].what);
    }
    pe_synth_options so = {.type = PE_WEIGHTS_Q8};
    CHECK(pe_synth_write("PE-Core-T16-384", out, &so) == PE_ERR_INVALID_ARG, "synth type q8");
    CHECK(pe_synth_write("PE-Core-X1", out, NULL) == PE_ERR_NOT_FOUND, "synth unknown arch");
    CHECK(!exists(out), "refused synth wrote a file");
}

static void test_policy(void) {
    char b[300];
    snprintf(b, sizeof b, "%s.b", out);
    pe_quantize_options o = {.type = PE_WEIGHTS_Q4};
    CHECK(pe_quantize(micro, b, &o) == PE_OK, "%s", pe_last_error());
    const struct { const char *name, *type; } want[] = {
        {"visual.transformer.resblocks.0.attn.in_proj_weight", "q8"},
        {"visual.transformer.resblocks.1.attn.out_proj.weight", "q8"},
        {"visual.transformer.resblocks.0.mlp.c_fc.weight", "q4"},
        {"visual.attn_pool.attn.in_proj_weight", "q8"},
        {"visual.attn_pool.mlp.c_fc.weight", "q8"},
        {"visual.proj", "q8"},
        {"transformer.resblocks.0.attn.in_proj_weight", "q8"},
        {"transformer.resblocks.0.mlp.c_proj.weight", "q4"},
        {"text_projection", "q8"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK(!strcmp(packed_type(b, want[i].name), want[i].type), "q4 default: %s is '%s', not %s",
              want[i].name, packed_type(b, want[i].name), want[i].type);
    /* Rules: the last match wins, over the default policy too. */
    const pe_quant_rule rules[] = {{PE_WEIGHTS_Q4, "*"}, {PE_WEIGHTS_F16, "*mlp.c_fc*"},
                                   {PE_WEIGHTS_Q8, "visual.transformer.resblocks.1.*"}};
    o.rules = rules;
    o.n_rules = 3;
    CHECK(pe_quantize(micro, b, &o) == PE_OK, "%s", pe_last_error());
    CHECK(!strcmp(packed_type(b, "visual.transformer.resblocks.0.attn.in_proj_weight"), "q4"), "rule 1");
    CHECK(!strcmp(packed_type(b, "visual.transformer.resblocks.0.mlp.c_fc.weight"), "f16"), "rule 2");
    CHECK(!strcmp(packed_type(b, "visual.transformer.resblocks.1.mlp.c_fc.weight"), "q8"), "rule 3");
    CHECK(!strcmp(packed_type(b, "visual.proj"), "q4"), "rule 1 over the default");
    pe_model *m = NULL;
    CHECK(pe_model_load(b, NULL, &m) == PE_OK, "load a mixed file: %s", pe_last_error());
    pe_model_free(m);
    remove(b);
}

static void test_vision_only(void) {
    pe_quantize_options o = {.type = PE_WEIGHTS_Q8, .vision_only = 1};
    CHECK(pe_quantize(micro, out, &o) == PE_OK, "%s", pe_last_error());
    pe_model *m = NULL;
    pe_model_info in;
    CHECK(pe_model_load(out, NULL, &m) == PE_OK, "load vision-only: %s", pe_last_error());
    if (m) {
        pe_model_get_info(m, &in);
        CHECK(!in.has_text, "vision-only quantized file has a text tower");
        CHECK(!strcmp(in.naming, "official") && in.pool == PE_POOL_ATTN, "naming %s", in.naming);
        CHECK(!strcmp(packed_type(out, "transformer.resblocks.0.attn.in_proj_weight"), "q8"), "bare names");
    }
    pe_model_free(m);
    /* A rule that only the text tower would match finds nothing. */
    const pe_quant_rule r = {PE_WEIGHTS_Q8, "text_projection"};
    o.rules = &r;
    o.n_rules = 1;
    CHECK(pe_quantize(micro, out, &o) == PE_ERR_NOT_FOUND, "text rule on a vision-only output");
    remove(out);
}

/* Calibration images made here: a few smooth colour patterns. */
static uint8_t calib_px[3][48 * 40 * 3];

static pe_status calib_image(void *user, int i, pe_image *img) {
    int *calls = user;
    ++*calls;
    if (i < 0 || i > 2) return PE_ERR_INVALID_ARG;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 48; x++)
            for (int c = 0; c < 3; c++)
                calib_px[i][(y * 48 + x) * 3 + c] = (uint8_t)((x * (3 + i) + y * (c + 1) * 5 + 40 * i * c) & 255);
    *img = (pe_image){calib_px[i], 48, 40, 48 * 3, PE_PIXEL_RGB8};
    return PE_OK;
}

static pe_status calib_fails(void *user, int i, pe_image *img) {
    (void)user, (void)img;
    return i == 1 ? PE_ERR_FORMAT : calib_image(&(int){0}, i, img);
}

/* Replaces the first `from` in the header of path by `to` (same length), in
 * place: a corrupted report with the file still loadable. */
static int patch_header(const char *path, const char *from, const char *to) {
    static char hdr[1 << 20];
    FILE *f = fopen(path, "r+b");
    uint64_t n = 0;
    int rc = -1;
    if (f && fread(&n, 8, 1, f) == 1 && n < sizeof hdr && fread(hdr, 1, n, f) == n) {
        hdr[n] = 0;
        char *p = strstr(hdr, from);
        if (p && strlen(from) == strlen(to)) {
            memcpy(p, to, strlen(to));
            rc = fseek(f, 8, SEEK_SET) || fwrite(hdr, 1, n, f) != n ? -1 : 0;
        }
    }
    if (f) fclose(f);
    return rc;
}

/* The report pe_quantize returns is the one the file carries
 * (pe_model_quant_report), and its metadata says how it was made
 * (pe_model_meta); a corrupted report is refused, not half read. */
static void test_report(void) {
    int calls = 0;
    pe_quant_report rep, back;
    pe_quantize_options o = {.type = PE_WEIGHTS_Q8, .n_calib = 3, .calib_image = calib_image,
                             .user = &calls, .report = &rep};
    CHECK(pe_quantize(micro, out, &o) == PE_OK, "calibrated q8: %s", pe_last_error());
    CHECK(calls >= 3, "calib_image called %d times for 3 images", calls);
    CHECK(rep.n_images == 3 && rep.cos_min > 0.99 && rep.cos_min <= rep.cos_mean && rep.n_worst == 3,
          "report: %d images, cos %.5f / %.5f, %d worst", rep.n_images, rep.cos_mean, rep.cos_min, rep.n_worst);
    pe_model *m = NULL;
    CHECK(pe_model_load(out, NULL, &m) == PE_OK, "load: %s", pe_last_error());
    if (m) {
        const char *t = pe_model_meta(m, "pecore_type"), *meth = pe_model_meta(m, "pecore_quant_method");
        CHECK(t && !strcmp(t, "q8"), "pecore_type %s", t ? t : "(none)");
        CHECK(meth && !strcmp(meth, rep.method), "pecore_quant_method %s, report %s", meth ? meth : "(none)",
              rep.method);
        CHECK(!pe_model_meta(m, "no_such_key") && !pe_model_meta(m, NULL) && !pe_model_meta(NULL, "pecore_type"),
              "absent key, NULL arguments");
        CHECK(pe_model_quant_report(m, &back) == PE_OK, "read back: %s", pe_last_error());
        CHECK(!strcmp(back.method, rep.method) && back.n_images == 3 && back.n_linears == rep.n_linears &&
              back.n_smoothed == rep.n_smoothed && back.n_gptq == rep.n_gptq && back.n_fcols == rep.n_fcols &&
              fabs(back.cos_mean - rep.cos_mean) < 1e-6 && fabs(back.cos_min - rep.cos_min) < 1e-6 &&
              back.n_worst == rep.n_worst, "read back differs from the returned report");
        for (int i = 0; i < back.n_worst && i < rep.n_worst; i++)
            CHECK(!strcmp(back.worst[i].name, rep.worst[i].name) && !strcmp(back.worst[i].action, rep.worst[i].action) &&
                  fabsf(back.worst[i].before - rep.worst[i].before) < 1e-5 &&
                  fabsf(back.worst[i].after - rep.worst[i].after) < 1e-5, "worst %d: %s", i, back.worst[i].name);
        CHECK(pe_model_quant_report(m, NULL) == PE_ERR_INVALID_ARG, "NULL out");
    }
    pe_model_free(m);
    /* Corruptions the strict reader refuses: a missing field, a wrong type,
     * a cosine out of range, a cut string. */
    const struct { const char *from, *to; } bad[] = {
        {"cos_min", "cos_mix"}, {"\\\"images\\\": 3", "\\\"images\\\":-3"},
        {"\\\"cos_mean\\\": 0.", "\\\"cos_mean\\\": 7."}, {"\\\"worst\\\": [", "\\\"worst\\\": {"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char b[300];
        snprintf(b, sizeof b, "%s.bad", out);
        FILE *src = fopen(out, "rb"), *dst = fopen(b, "wb");
        char buf[1 << 16];
        size_t n;
        while (src && dst && (n = fread(buf, 1, sizeof buf, src)) > 0) fwrite(buf, 1, n, dst);
        if (src) fclose(src);
        if (dst) fclose(dst);
        CHECK(!patch_header(b, bad[i].from, bad[i].to), "corruption %zu: '%s' not found", i, bad[i].from);
        m = NULL;
        CHECK(pe_model_load(b, NULL, &m) == PE_OK, "corruption %zu: the file no longer loads: %s", i, pe_last_error());
        if (m) {
            pe_status s = pe_model_quant_report(m, &back);
            CHECK(s == PE_ERR_FORMAT, "corruption %zu: %s", i, pe_status_string(s));
            CHECK(back.n_worst == 0 && !back.method[0], "corruption %zu: half a report", i);
        }
        pe_model_free(m);
        remove(b);
    }
    /* Without calibration: the method, no report. */
    o = (pe_quantize_options){.type = PE_WEIGHTS_Q4, .plain = 1};
    CHECK(pe_quantize(micro, out, &o) == PE_OK, "plain q4: %s", pe_last_error());
    m = NULL;
    CHECK(pe_model_load(out, NULL, &m) == PE_OK, "load: %s", pe_last_error());
    if (m) {
        const char *meth = pe_model_meta(m, "pecore_quant_method");
        CHECK(meth && !strcmp(meth, "plain"), "plain method %s", meth ? meth : "(none)");
        CHECK(pe_model_quant_report(m, &back) == PE_ERR_NOT_FOUND, "a report without calibration");
    }
    pe_model_free(m);
    /* A failing image fails the call with its status and writes nothing. */
    remove(out);
    o = (pe_quantize_options){.type = PE_WEIGHTS_Q8, .n_calib = 3, .calib_image = calib_fails};
    CHECK(pe_quantize(micro, out, &o) == PE_ERR_FORMAT, "failing calib_image");
    CHECK(!exists(out), "a failed calibration wrote a file");
    remove(out);
}

int main(void) {
    golden_path(micro, sizeof micro, "models/pe-micro.safetensors");
    snprintf(out, sizeof out, "/tmp/pecore-test-qapi-%d.safetensors", (int)getpid());
    test_refused();
    test_policy();
    test_vision_only();
    test_report();
    return test_done("test_quantize_api");
}
