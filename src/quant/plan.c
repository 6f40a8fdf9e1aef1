/* The quantization plan (calib.h): the tensors of each vision block that
 * the methods change, and per tensor what replaces the source's values. */
#include "calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float src_elem(const pe_st_tensor *t, uint64_t i) {
    if (t->dtype == PE_DT_F32) { float v; memcpy(&v, (const uint8_t *)t->data + 4 * i, 4); return v; }
    uint16_t h;
    memcpy(&h, (const uint8_t *)t->data + 2 * i, 2);
    return t->dtype == PE_DT_F16 ? pe_f16_to_f32(h) : pe_bf16_to_f32(h);
}

float pe_qplan_elem(const pe_qplan *p, const pe_safetensors *st, int t, uint64_t i) {
    return p && p->val[t] ? p->val[t][i] : src_elem(&st->tensors[t], i);
}

float *pe_qplan_values(pe_qplan *p, const pe_safetensors *st, int t) {
    if (p->val[t]) return p->val[t];
    const pe_st_tensor *s = &st->tensors[t];
    float *v = malloc((size_t)s->numel * sizeof(float));
    if (!v) return NULL;
    for (uint64_t i = 0; i < s->numel; i++) v[i] = src_elem(s, i);
    return p->val[t] = v;
}

static int find(const pe_safetensors *st, const char *fmt, const char *vp, int i, const char *rest) {
    char name[256];
    snprintf(name, sizeof name, fmt, vp, i, rest);
    const pe_st_tensor *t = pe_st_find(st, name);
    return t ? (int)(t - st->tensors) : -1;
}

/* The block tensors by their names in the three layouts the loader reads
 * (Franca's was renamed to DINOv2's flat names when the model loaded). */
static void block_names(const pe_safetensors *st, const char *vp, int i, pe_qblock *b) {
    const int official = find(st, "%stransformer.resblocks.%d.%s", vp, i, "ln_1.weight") >= 0;
    const char *fmt = official ? "%stransformer.resblocks.%d.%s" : "%sblocks.%d.%s";
#define T(off, timm) find(st, fmt, vp, i, official ? (off) : (timm))
    b->ln1w = T("ln_1.weight", "norm1.weight");
    b->ln1b = T("ln_1.bias", "norm1.bias");
    b->qkvw = T("attn.in_proj_weight", "attn.qkv.weight");
    b->qkvb = T("attn.in_proj_bias", "attn.qkv.bias");
    b->outw = T("attn.out_proj.weight", "attn.proj.weight");
    b->ln2w = T("ln_2.weight", "norm2.weight");
    b->ln2b = T("ln_2.bias", "norm2.bias");
    b->fcw = T("mlp.c_fc.weight", "mlp.fc1.weight");
    b->fcb = T("mlp.c_fc.bias", "mlp.fc1.bias");
    b->projw = T("mlp.c_proj.weight", "mlp.fc2.weight");
    b->swiglu = 0;
    if (b->fcw < 0 && (b->fcw = T("-", "mlp.w12.weight")) >= 0) {
        b->swiglu = 1;
        b->fcb = T("-", "mlp.w12.bias");
        b->projw = T("-", "mlp.w3.weight");
    }
#undef T
}

pe_status pe_qplan_init(pe_qplan *p, const pe_model *m, const char *vp) {
    memset(p, 0, sizeof *p);
    const int n = m->st.n_tensors;
    p->n_tensors = n;
    p->layers = m->info.layers;
    p->val = calloc((size_t)n, sizeof *p->val);
    p->fcols = calloc((size_t)n, sizeof *p->fcols);
    p->n_fcols = calloc((size_t)n, sizeof *p->n_fcols);
    p->fcol_w = calloc((size_t)n, sizeof *p->fcol_w);
    p->packed = calloc((size_t)n, sizeof *p->packed);
    p->err_before = malloc((size_t)n * sizeof *p->err_before);
    p->err_after = malloc((size_t)n * sizeof *p->err_after);
    p->action = calloc((size_t)n, sizeof *p->action);
    p->blk = calloc((size_t)PE_MAX(p->layers, 1), sizeof *p->blk);
    if (!p->val || !p->fcols || !p->n_fcols || !p->fcol_w || !p->packed || !p->err_before ||
        !p->err_after || !p->action || !p->blk) {
        pe_qplan_free(p);
        return pe_error(PE_ERR_NOMEM, "quantize: out of memory");
    }
    for (int i = 0; i < n; i++) p->err_before[i] = p->err_after[i] = -1.0f;
    for (int i = 0; i < p->layers; i++) block_names(&m->st, vp, i, &p->blk[i]);
    return PE_OK;
}

void pe_qplan_free(pe_qplan *p) {
    for (int i = 0; i < p->n_tensors; i++) {
        if (p->val) free(p->val[i]);
        if (p->fcols) free(p->fcols[i]);
        if (p->fcol_w) free(p->fcol_w[i]);
        if (p->packed) free(p->packed[i]);
        if (p->action) free(p->action[i]);
    }
    for (int i = 0; p->blk && i < p->layers; i++) {
        free(p->blk[i].s_qkv);
        free(p->blk[i].s_fc);
    }
    free(p->val);
    free(p->fcols);
    free(p->n_fcols);
    free(p->fcol_w);
    free(p->packed);
    free(p->err_before);
    free(p->err_after);
    free(p->action);
    free(p->blk);
    memset(p, 0, sizeof *p);
}
