/* Seeded synthetic weights of a known architecture, so every command can be
 * tried without downloading anything.  Values are scaled so activations stay
 * in a realistic range (unit-variance linears, LayerNorm near identity). */
#include "model.h"
#include "names.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pe_arch_list_count(void) { return pe_arch_count; }

const char *pe_arch_list_name(int i) {
    return i >= 0 && i < pe_arch_count ? pe_arch_table[i].name : NULL;
}

typedef struct synth_tensor {
    char name[96];
    int rank;
    int64_t shape[4];
    float mean, std;        /* values ~ N(mean, std) */
} synth_tensor;

typedef struct synth_list {
    synth_tensor *t;
    int n, cap;
} synth_list;

static int add(synth_list *l, const char *prefix, const char *name, int rank, int64_t d0,
               int64_t d1, int64_t d2, int64_t d3, float mean, float std) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        synth_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (!t) return -1;
        l->t = t;
        l->cap = cap;
    }
    synth_tensor *t = &l->t[l->n++];
    snprintf(t->name, sizeof t->name, "%s%s", prefix, name);
    t->rank = rank;
    int64_t d[4] = {d0, d1, d2, d3};
    memcpy(t->shape, d, sizeof d);
    t->mean = mean;
    t->std = std;
    return 0;
}

/* A block's tensors in the order each layout's releases store them; the
 * FFN of the other kind and LayerScale of a model without it are skipped. */
static const pe_slot official_order[] = {
    PE_SLOT_LN1_W, PE_SLOT_LN1_B, PE_SLOT_QKV_W, PE_SLOT_QKV_B, PE_SLOT_OUT_W, PE_SLOT_OUT_B,
    PE_SLOT_LN2_W, PE_SLOT_LN2_B, PE_SLOT_FC_W,  PE_SLOT_FC_B,  PE_SLOT_FC2_W, PE_SLOT_FC2_B,
    PE_SLOT_LS1,   PE_SLOT_LS2};
static const pe_slot dinov2_order[] = {
    PE_SLOT_LN1_W, PE_SLOT_LN1_B, PE_SLOT_QKV_W, PE_SLOT_QKV_B, PE_SLOT_OUT_W, PE_SLOT_OUT_B,
    PE_SLOT_LS1,   PE_SLOT_LN2_W, PE_SLOT_LN2_B, PE_SLOT_W12_W, PE_SLOT_W12_B, PE_SLOT_W3_W,
    PE_SLOT_W3_B,  PE_SLOT_FC_W,  PE_SLOT_FC_B,  PE_SLOT_FC2_W, PE_SLOT_FC2_B, PE_SLOT_LS2};

static int slot_used(pe_slot s, int ls, pe_ffn ffn) {
    if (s == PE_SLOT_LS1 || s == PE_SLOT_LS2) return ls;
    if (s >= PE_SLOT_W12_W && s <= PE_SLOT_W3_B) return ffn == PE_FFN_SWIGLU;
    if (s >= PE_SLOT_FC_W && s <= PE_SLOT_FC2_B) return ffn == PE_FFN_GELU;
    return 1;
}

/* Block slot s under base: its shape from W and M (SwiGLU's h), values
 * scaled for unit-variance linears and LayerNorms near identity. */
static int add_slot(synth_list *l, const char *base, pe_layout nm, pe_slot s, int W, int M) {
    const float sw = 1.0f / sqrtf((float)W), sm = 1.0f / sqrtf((float)M);
    int64_t rows = W, cols = 0;
    float mean = 0.0f, std = 0.02f; /* biases */
    switch (s) {
    case PE_SLOT_LN1_W: case PE_SLOT_LN2_W: mean = 1.0f; std = 0.05f; break;
    case PE_SLOT_LS1: case PE_SLOT_LS2: mean = 0.1f; std = 0.01f; break;
    case PE_SLOT_QKV_W: rows = 3 * W; cols = W; std = sw; break;
    case PE_SLOT_QKV_B: rows = 3 * W; break;
    case PE_SLOT_OUT_W: cols = W; std = sw; break;
    case PE_SLOT_FC_W: rows = M; cols = W; std = sw; break;
    case PE_SLOT_FC_B: rows = M; break;
    case PE_SLOT_W12_W: rows = 2 * M; cols = W; std = sw; break;
    case PE_SLOT_W12_B: rows = 2 * M; break;
    case PE_SLOT_FC2_W: case PE_SLOT_W3_W: cols = M; std = sm; break;
    default: break;
    }
    return add(l, base, pe_names_slot(nm, s), cols ? 2 : 1, rows, cols, 0, 0, mean, std);
}

/* Block i of the tower under prefix, in layout nm. */
static int add_block(synth_list *l, const char *prefix, pe_layout nm, int i, int W, int M, int ls,
                     pe_ffn ffn) {
    const pe_slot *order = nm == PE_LAYOUT_OFFICIAL ? official_order : dinov2_order;
    const size_t n = nm == PE_LAYOUT_OFFICIAL ? sizeof official_order / sizeof *order
                                              : sizeof dinov2_order / sizeof *order;
    char p[64];
    snprintf(p, sizeof p, "%s%s%d.", prefix, pe_names_block(nm), i);
    int r = 0;
    for (size_t k = 0; k < n; k++)
        if (slot_used(order[k], ls, ffn)) r |= add_slot(l, p, nm, order[k], W, M);
    return r;
}

/* The DINOv2 family under its flat release names. */
static int build_dinov2(const pe_arch *a, synth_list *l) {
    const int W = a->width, P = a->patch, G = a->grid;
    int r = 0;
    r |= add(l, "", "cls_token", 3, 1, 1, W, 0, 0.0f, 0.5f);
    r |= add(l, "", "pos_embed", 3, 1, 1 + G * G, W, 0, 0.0f, 0.1f);
    if (a->registers) r |= add(l, "", "register_tokens", 3, 1, a->registers, W, 0, 0.0f, 0.5f);
    r |= add(l, "", "patch_embed.proj.weight", 4, W, 3, P, P, 0.0f, 1.0f / sqrtf(3.0f * P * P));
    r |= add(l, "", "patch_embed.proj.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
    for (int i = 0; i < a->layers; i++) r |= add_block(l, "", PE_LAYOUT_DINOV2, i, W, a->mlp, 1, a->ffn);
    r |= add(l, "", "norm.weight", 1, W, 0, 0, 0, 1.0f, 0.05f);
    r |= add(l, "", "norm.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
    return r;
}

static int build_list(const pe_arch *a, int with_text, synth_list *l) {
    if (pe_arch_dinov2(a)) return build_dinov2(a, l);
    const int W = a->width, P = a->patch, G = a->grid;
    const char *vp = with_text ? "visual." : "";
    int r = 0;
    if (a->cls) r |= add(l, vp, "class_embedding", 1, W, 0, 0, 0, 0.0f, 0.5f);
    r |= add(l, vp, "positional_embedding", 2, a->cls + G * G, W, 0, 0, 0.0f, 0.1f);
    r |= add(l, vp, "conv1.weight", 4, W, 3, P, P, 0.0f, 1.0f / sqrtf(3.0f * P * P));
    r |= add(l, vp, "ln_pre.weight", 1, W, 0, 0, 0, 1.0f, 0.05f);
    r |= add(l, vp, "ln_pre.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
    for (int i = 0; i < a->layers; i++)
        r |= add_block(l, vp, PE_LAYOUT_OFFICIAL, i, W, a->mlp, a->layerscale, a->ffn);
    if (a->ln_post) {
        r |= add(l, vp, "ln_post.weight", 1, W, 0, 0, 0, 1.0f, 0.05f);
        r |= add(l, vp, "ln_post.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
    }
    if (a->pool == PE_POOL_ATTN) {
        const float sw = 1.0f / sqrtf((float)W), s4 = 1.0f / sqrtf(4.0f * W);
        char p[64];
        snprintf(p, sizeof p, "%sattn_pool.", vp);
        r |= add(l, p, "probe", 3, 1, 1, W, 0, 0.0f, 0.5f);
        r |= add(l, p, "attn.in_proj_weight", 2, 3 * W, W, 0, 0, 0.0f, sw);
        r |= add(l, p, "attn.in_proj_bias", 1, 3 * W, 0, 0, 0, 0.0f, 0.02f);
        r |= add(l, p, "attn.out_proj.weight", 2, W, W, 0, 0, 0.0f, sw);
        r |= add(l, p, "attn.out_proj.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
        r |= add(l, p, "layernorm.weight", 1, W, 0, 0, 0, 1.0f, 0.05f);
        r |= add(l, p, "layernorm.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
        r |= add(l, p, "mlp.c_fc.weight", 2, 4 * W, W, 0, 0, 0.0f, sw);
        r |= add(l, p, "mlp.c_fc.bias", 1, 4 * W, 0, 0, 0, 0.0f, 0.02f);
        r |= add(l, p, "mlp.c_proj.weight", 2, W, 4 * W, 0, 0, 0.0f, s4);
        r |= add(l, p, "mlp.c_proj.bias", 1, W, 0, 0, 0, 0.0f, 0.02f);
    }
    if (a->proj)
        r |= add(l, vp, "proj", 2, W, a->out_dim, 0, 0, 0.0f, 1.0f / sqrtf((float)W));
    if (with_text) {
        const int Wt = a->text.width;
        r |= add(l, "", "token_embedding.weight", 2, 49408, Wt, 0, 0, 0.0f, 0.5f);
        r |= add(l, "", "positional_embedding", 2, a->text.context, Wt, 0, 0, 0.0f, 0.1f);
        for (int i = 0; i < a->text.layers; i++)
            r |= add_block(l, "", PE_LAYOUT_OFFICIAL, i, Wt, 4 * Wt, 0, PE_FFN_GELU);
        r |= add(l, "", "ln_final.weight", 1, Wt, 0, 0, 0, 1.0f, 0.05f);
        r |= add(l, "", "ln_final.bias", 1, Wt, 0, 0, 0, 0.0f, 0.02f);
        r |= add(l, "", "text_projection", 2, Wt, a->out_dim, 0, 0, 0.0f, 1.0f / sqrtf((float)Wt));
        r |= add(l, "", "logit_scale", 0, 0, 0, 0, 0, 4.6052f, 0.0f); /* log(100) */
    }
    return r;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* FNV-1a of prefix then name. */
static uint64_t hash_name(const char *prefix, const char *name) {
    uint64_t h = 1469598103934665603ull;
    for (const char *s = prefix; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    for (const char *s = name; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Normal deviates by Box-Muller, each tensor from its own stream, keyed by
 * its name in the full file (hp: "visual." for the vision tower of a CLIP
 * architecture written vision-only, so both files hold the same tower). */
static void fill(const synth_tensor *t, const char *hp, uint64_t seed, size_t n, pe_weight_type type,
                 void *dst) {
    uint64_t s = seed ^ hash_name(hp, t->name);
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(splitmix64(&s) >> 11) + 1.0) * 0x1.0p-53;
        double u2 = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
        double r = sqrt(-2.0 * log(u1)), z[2] = {r * cos(2 * M_PI * u2), r * sin(2 * M_PI * u2)};
        for (size_t j = 0; j < 2 && i + j < n; j++) {
            float v = t->mean + t->std * (float)z[j];
            if (type == PE_WEIGHTS_F32) ((float *)dst)[i + j] = v;
            else if (type == PE_WEIGHTS_F16) ((uint16_t *)dst)[i + j] = pe_f32_to_f16(v);
            else ((uint16_t *)dst)[i + j] = pe_f32_to_bf16(v);
        }
    }
}

pe_status pe_synth_write(const char *arch, const char *path, const pe_synth_options *opt) {
    if (!arch || !path) return pe_error(PE_ERR_INVALID_ARG, "pe_synth_write: NULL argument");
    const pe_synth_options defaults = {0};
    if (!opt) opt = &defaults;
    const pe_arch *a = pe_arch_find(arch);
    if (!a) return pe_error(PE_ERR_NOT_FOUND, "unknown architecture '%s'", arch);
    const pe_weight_type type = opt->type;
    if (type != PE_WEIGHTS_F32 && type != PE_WEIGHTS_F16 && type != PE_WEIGHTS_BF16)
        return pe_error(PE_ERR_INVALID_ARG, "synthetic weights are f32, f16 or bf16, not type %d", (int)type);
    const int with_text = a->text.layers && !opt->vision_only;
    const uint64_t seed = opt->seed;
    const pe_progress_fn progress = opt->progress;
    void *const user = opt->user;
    synth_list l = {0};
    pe_st_out *outs = NULL;
    void **bufs = NULL;
    pe_status s = PE_OK;
    if (build_list(a, with_text, &l)) { s = pe_error(PE_ERR_NOMEM, "out of memory"); goto done; }
    outs = calloc((size_t)l.n, sizeof *outs);
    bufs = calloc((size_t)l.n, sizeof *bufs);
    if (!outs || !bufs) { s = pe_error(PE_ERR_NOMEM, "out of memory"); goto done; }
    const size_t esz = type == PE_WEIGHTS_F32 ? 4 : 2;
    for (int i = 0; i < l.n; i++) {
        const synth_tensor *t = &l.t[i];
        size_t n = 1;
        for (int d = 0; d < t->rank; d++) n *= (size_t)t->shape[d];
        if (!(bufs[i] = malloc(n * esz))) {
            s = pe_error(PE_ERR_NOMEM, "out of memory for tensor %s", t->name);
            goto done;
        }
        fill(t, a->text.layers && !with_text ? "visual." : "", seed, n, type, bufs[i]);
        outs[i].name = t->name;
        outs[i].dtype = type == PE_WEIGHTS_F32 ? PE_DT_F32 : type == PE_WEIGHTS_F16 ? PE_DT_F16 : PE_DT_BF16;
        outs[i].rank = t->rank;
        for (int d = 0; d < t->rank; d++) outs[i].shape[d] = t->shape[d];
        outs[i].data = bufs[i];
        if (progress) progress(user, "generating", (double)(i + 1) / l.n);
    }
    char vh[16], th[16];
    snprintf(vh, sizeof vh, "%d", a->heads);
    snprintf(th, sizeof th, "%d", a->text.heads);
    pe_st_meta meta[] = {{"format", "pt"}, {"vision_heads", vh}, {"attn_pooler_heads", "8"},
                         {"pecore_arch", (char *)a->name}, {"pecore_synthetic", "1"},
                         {"text_heads", th}};
    if (pe_arch_dinov2(a)) meta[2] = (pe_st_meta){"pecore.family", (char *)pe_family_name(a->family)};
    if (progress) progress(user, "writing", 0.0);
    s = pe_st_write(path, outs, l.n, meta, with_text ? 6 : 5);
    if (progress && !s) progress(user, "writing", 1.0);
done:
    for (int i = 0; bufs && i < l.n; i++) free(bufs[i]);
    free(bufs);
    free(outs);
    free(l.t);
    return s;
}
