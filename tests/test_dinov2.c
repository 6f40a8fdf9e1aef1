/* The DINOv2 family's loader: what it infers from the release files, and
 * that no file is misread: altered copies of the golden micro models (an
 * extra tensor, a missing one, a DINOv2 file stripped down to look like a
 * timm PE tower, a broken Franca chunk layout) are refused with a message
 * that names what was not understood, escaped. */
#include "test.h"

#include "pecore.h"
#include "format/safetensors.h"

#include <unistd.h>

static char g_tmp[64];

static pe_status load(const char *path, pe_model **m) {
    *m = NULL;
    return pe_model_load(path, NULL, m);
}

/* Copies the golden file rel to name, with tensor `drop` left out, tensor
 * `rename_from` renamed to `rename_to`, and `extra` (if not NULL) added as
 * a copy of the first tensor. */
static void variant(const char *rel, const char *name, const char *drop, const char *rename_from,
                    const char *rename_to, const char *extra, char *out, size_t cap) {
    char src[512];
    snprintf(src, sizeof src, "%s/%s", golden_dinov2_dir(), rel);
    snprintf(out, cap, "%s/%s", g_tmp, name);
    pe_safetensors st;
    CHECK(pe_st_open(&st, src) == PE_OK, "%s: %s", src, pe_last_error());
    pe_st_out *t = calloc((size_t)st.n_tensors + 1, sizeof *t);
    int n = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const pe_st_tensor *a = &st.tensors[i];
        if (drop && !strcmp(a->name, drop)) continue;
        t[n] = (pe_st_out){a->name, a->dtype, a->rank, {0}, a->data};
        memcpy(t[n].shape, a->shape, sizeof t[n].shape);
        if (rename_from && !strcmp(a->name, rename_from)) t[n].name = rename_to;
        n++;
    }
    if (extra) {
        t[n] = t[0];
        t[n++].name = extra;
    }
    CHECK(pe_st_write(out, t, n, st.meta, st.n_meta) == PE_OK, "write %s: %s", out, pe_last_error());
    free(t);
    pe_st_close(&st);
}

static void expect_refused(const char *path, const char *what, const char *words) {
    pe_model *m;
    pe_status s = load(path, &m);
    CHECK(s != PE_OK, "%s: loaded, should be refused", what);
    CHECK(strstr(pe_last_error(), words) != NULL, "%s: message '%s' lacks '%s'", what, pe_last_error(), words);
    for (const char *p = pe_last_error(); *p; p++)
        CHECK(*p >= 0x20 && *p < 0x7f, "%s: unprintable byte 0x%02x in the message", what, (unsigned char)*p);
    pe_model_free(m);
}

static void test_release_files(void) {
    static const struct {
        const char *file, *arch, *family;
        int regs, swiglu, mlp;
        pe_pos_resample pos;
    } files[] = {
        {"models/franca-micro.pth", "Franca custom (128x4)/14", "Franca", 0, 1, 344, PE_POS_BICUBIC_OFFSET},
        {"models/franca-micro.safetensors", "Franca custom (128x4)/14", "Franca", 0, 1, 344, PE_POS_BICUBIC_OFFSET},
        {"models/dinov2-micro-reg.pth", "DINOv2 custom (128x4)/14 reg4", "DINOv2", 4, 0, 512, PE_POS_BICUBIC_AA},
        {"models/dinov2-vits14.safetensors", "DINOv2 ViT-S/14", "DINOv2", 0, 0, 1536, PE_POS_BICUBIC_OFFSET},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", golden_dinov2_dir(), files[i].file);
        pe_model *m;
        pe_status s = load(path, &m);
        CHECK(s == PE_OK, "%s: %s", path, pe_last_error());
        if (s) continue;
        pe_model_info in;
        pe_model_get_info(m, &in);
        CHECK(!strcmp(in.arch, files[i].arch), "%s: arch '%s'", files[i].file, in.arch);
        CHECK(!strcmp(pe_family_name(in.family), files[i].family), "%s: family '%s'", files[i].file,
              pe_family_name(in.family));
        CHECK(in.n_registers == files[i].regs && in.ffn_swiglu == files[i].swiglu && in.mlp == files[i].mlp,
              "%s: registers %d swiglu %d mlp %d", files[i].file, in.n_registers, in.ffn_swiglu, in.mlp);
        CHECK(in.pos_resample == files[i].pos && !in.rope && in.ln_eps == 1e-6f && in.head_dim == 64 &&
                  in.pool == PE_POOL_CLS && in.transform == PE_TRANSFORM_DINOV2_EVAL,
              "%s: switches", files[i].file);
        int rows, cols;
        CHECK(pe_output_shape(m, 28, 42, PE_OUTPUT_TOKENS, &rows, &cols) == PE_OK &&
                  rows == 1 + files[i].regs + 6 && cols == in.width,
              "%s: tokens %dx%d", files[i].file, rows, cols);
        CHECK(pe_output_shape(m, 28, 42, PE_OUTPUT_LINEAR4, &rows, &cols) == PE_OK && rows == 1 &&
                  cols == 5 * in.width, "%s: linear4 %dx%d", files[i].file, rows, cols);
        pe_model_free(m);
    }
    /* linear4 is the DINOv2 family's: PE models refuse it */
    char path[512];
    snprintf(path, sizeof path, "%s/models/pe-micro.safetensors", golden_dir());
    pe_model *m;
    if (load(path, &m) == PE_OK) {
        CHECK(pe_output_shape(m, 64, 64, PE_OUTPUT_LINEAR4, NULL, NULL) == PE_ERR_UNSUPPORTED, "PE linear4");
        pe_model_info in;
        pe_model_get_info(m, &in);
        CHECK(in.family == PE_FAMILY_PE && in.rope && in.ln_eps == 1e-5f && !in.n_registers, "PE switches");
        pe_model_free(m);
    }
}

static void test_misreads(void) {
    char p[512];
    /* an unknown tensor, with an escape sequence in its name */
    variant("models/dinov2-micro-reg.safetensors", "extra.safetensors", NULL, NULL, NULL,
            "blocks.0.attn.q_norm\x1b[31m", p, sizeof p);
    expect_refused(p, "extra tensor", "blocks.0.attn.q_norm\\x1b[31m");
    /* the timm PE reading of a DINOv2 file: no conv bias, no ls*.gamma, no
     * registers -> what is left (mask_token) is not a PE tensor */
    char a[512], b[512];
    variant("models/dinov2-vits14.safetensors", "s1.safetensors", "patch_embed.proj.bias", NULL, NULL, NULL, a,
            sizeof a);
    /* stripping every ls gamma by hand is long: rename block 0's, which
     * also leaves a name no table knows */
    variant("models/franca-micro.safetensors", "s2.safetensors", NULL, "blocks.0.ls1.gamma", "blocks.0.ls1.scale",
            NULL, b, sizeof b);
    expect_refused(b, "renamed LayerScale", "blocks.0.ls1.scale");
    {
        pe_model *m;
        pe_status s = load(a, &m);
        /* still DINOv2 (ls1.gamma says so) but its conv has no bias: fine to
         * load only if nothing is left over; it must not become a PE tower */
        if (s == PE_OK) {
            pe_model_info in;
            pe_model_get_info(m, &in);
            CHECK(in.family == PE_FAMILY_DINOV2 && !in.rope, "bias-less DINOv2 read as %s",
                  pe_family_name(in.family));
            pe_model_free(m);
        }
    }
    /* a missing SwiGLU tensor */
    variant("models/franca-micro.safetensors", "s3.safetensors", "blocks.2.mlp.w3.weight", NULL, NULL, NULL, p,
            sizeof p);
    expect_refused(p, "missing w3", "mlp.w3.weight");
    /* a training head outside the ignore list */
    variant("models/franca-micro.safetensors", "s4.safetensors", NULL, NULL, NULL, "student_head.mlp.0.weight", p,
            sizeof p);
    expect_refused(p, "unknown head", "student_head.mlp.0.weight");
    /* Franca's chunks: two chunks holding the same block index */
    variant("models/franca-micro.safetensors", "s5.safetensors", NULL, NULL, NULL,
            "backbone.blocks.0.1.norm1.weight", p, sizeof p);
    {
        /* the flat file plus one backbone name: canonicalised, block 1's
         * norm1 is then there twice */
        expect_refused(p, "duplicate after chunks", "blocks.1.norm1.weight");
    }
    /* metadata that contradicts the file */
    char src[512];
    snprintf(src, sizeof src, "%s/models/dinov2-micro-reg.safetensors", golden_dinov2_dir());
    pe_safetensors st;
    if (pe_st_open(&st, src) == PE_OK) {
        pe_st_out *t = calloc((size_t)st.n_tensors, sizeof *t);
        for (int i = 0; i < st.n_tensors; i++) {
            t[i] = (pe_st_out){st.tensors[i].name, st.tensors[i].dtype, st.tensors[i].rank, {0}, st.tensors[i].data};
            memcpy(t[i].shape, st.tensors[i].shape, sizeof t[i].shape);
        }
        pe_st_meta meta[] = {{"num_heads", "2"}, {"num_register_tokens", "2"}, {"interpolate_antialias", "1"},
                             {"interpolate_offset", "0.0"}};
        snprintf(p, sizeof p, "%s/meta.safetensors", g_tmp);
        CHECK(pe_st_write(p, t, st.n_tensors, meta, 4) == PE_OK, "write meta");
        expect_refused(p, "register count in metadata", "num_register_tokens");
        pe_st_meta meta2[] = {{"num_heads", "2"}, {"interpolate_antialias", "0"}, {"interpolate_offset", "0.5"}};
        CHECK(pe_st_write(p, t, st.n_tensors, meta2, 3) == PE_OK, "write meta2");
        expect_refused(p, "unknown resampling", "interpolate_offset");
        free(t);
        pe_st_close(&st);
    }
}

/* --write-seed DIR: two tiny files of the family for the fuzz corpora
 * (tests/fuzz/run.sh): DINOv2 with 4 registers and GELU, and Franca's
 * SwiGLU under its teacher names (the golden micro files exceed the
 * fuzzers' input size).  W 64, one block, 28 px grid. */
static int write_seeds(const char *dir) {
    static float buf[64 * 3 * 14 * 14];
    for (size_t i = 0; i < sizeof buf / sizeof *buf; i++) buf[i] = (float)((i * 2654435761u) % 1000) / 5000.0f - 0.1f;
    for (int franca = 0; franca < 2; franca++) {
        const char *pre = franca ? "backbone." : "", *blk = franca ? "backbone.blocks.0.0." : "blocks.0.";
        const char *f1 = franca ? "mlp.w12" : "mlp.fc1", *f2 = franca ? "mlp.w3" : "mlp.fc2";
        const int M = franca ? 176 : 256, up = franca ? 2 * M : M;
        char names[24][64];
        pe_st_out t[24];
        int n = 0;
#define T(nm, r, a, b, c, d) (snprintf(names[n], 64, "%s", nm), \
        t[n] = (pe_st_out){names[n], PE_DT_F32, r, {a, b, c, d}, buf}, n++)
        char nm[64];
        snprintf(nm, 64, "%scls_token", pre); T(nm, 3, 1, 1, 64, 0);
        snprintf(nm, 64, "%spos_embed", pre); T(nm, 3, 1, 5, 64, 0);
        if (!franca) T("register_tokens", 3, 1, 4, 64, 0);
        snprintf(nm, 64, "%smask_token", pre); T(nm, 2, 1, 64, 0, 0);
        snprintf(nm, 64, "%spatch_embed.proj.weight", pre); T(nm, 4, 64, 3, 14, 14);
        snprintf(nm, 64, "%spatch_embed.proj.bias", pre); T(nm, 1, 64, 0, 0, 0);
        static const char *vec[] = {"norm1.weight", "norm1.bias", "ls1.gamma", "norm2.weight", "norm2.bias",
                                    "ls2.gamma", "attn.proj.bias"};
        for (int i = 0; i < 7; i++) { snprintf(nm, 64, "%s%s", blk, vec[i]); T(nm, 1, 64, 0, 0, 0); }
        snprintf(nm, 64, "%sattn.qkv.weight", blk); T(nm, 2, 192, 64, 0, 0);
        snprintf(nm, 64, "%sattn.qkv.bias", blk); T(nm, 1, 192, 0, 0, 0);
        snprintf(nm, 64, "%sattn.proj.weight", blk); T(nm, 2, 64, 64, 0, 0);
        snprintf(nm, 64, "%s%s.weight", blk, f1); T(nm, 2, up, 64, 0, 0);
        snprintf(nm, 64, "%s%s.bias", blk, f1); T(nm, 1, up, 0, 0, 0);
        snprintf(nm, 64, "%s%s.weight", blk, f2); T(nm, 2, 64, M, 0, 0);
        snprintf(nm, 64, "%s%s.bias", blk, f2); T(nm, 1, 64, 0, 0, 0);
        snprintf(nm, 64, "%snorm.weight", pre); T(nm, 1, 64, 0, 0, 0);
        snprintf(nm, 64, "%snorm.bias", pre); T(nm, 1, 64, 0, 0, 0);
        if (franca) T("dino_head.mlp.0.weight", 2, 8, 64, 0, 0);
#undef T
        char path[512];
        snprintf(path, sizeof path, "%s/tiny-%s.safetensors", dir, franca ? "franca" : "dinov2-reg4");
        pe_st_meta meta[] = {{"num_heads", "1"}};
        if (pe_st_write(path, t, n, meta, 1) != PE_OK) {
            fprintf(stderr, "%s: %s\n", path, pe_last_error());
            return 1;
        }
        pe_model *m;
        if (pe_model_load(path, NULL, &m) != PE_OK) {
            fprintf(stderr, "seed %s does not load: %s\n", path, pe_last_error());
            return 1;
        }
        pe_model_free(m);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-seed")) return write_seeds(argv[2]);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/pe_dinov2_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    test_release_files();
    test_misreads();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", g_tmp);
    return test_done("dinov2");
}
