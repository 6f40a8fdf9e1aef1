/* The quantization plan (quant_internal.h): the tensors of each vision block that
 * the methods change, and per tensor what replaces the source's values. */
#include "quant_internal.h"

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
    return p && p->t[t].val ? p->t[t].val[i] : src_elem(&st->tensors[t], i);
}

float *pe_qplan_values(pe_qplan *p, const pe_safetensors *st, int t) {
    if (p->t[t].val) return p->t[t].val;
    const pe_st_tensor *s = &st->tensors[t];
    float *v = malloc((size_t)s->numel * sizeof(float));
    if (!v) return NULL;
    for (uint64_t i = 0; i < s->numel; i++) v[i] = src_elem(s, i);
    return p->t[t].val = v;
}

/* Tensor index of slot s of vision block i (the loader's name tables), or -1. */
static int find(const pe_model *m, int i, pe_slot s) {
    const char *slot = pe_names_slot(m->layout, s);
    char name[256];
    snprintf(name, sizeof name, "%s%s%d.%s", m->vision_prefix, pe_names_block(m->layout), i, slot ? slot : "");
    const pe_st_tensor *t = slot ? pe_st_find(&m->st, name) : NULL;
    return t ? (int)(t - m->st.tensors) : -1;
}

static void block_names(const pe_model *m, int i, pe_qblock *b) {
    b->ln1w = find(m, i, PE_SLOT_LN1_W);
    b->ln1b = find(m, i, PE_SLOT_LN1_B);
    b->qkvw = find(m, i, PE_SLOT_QKV_W);
    b->outw = find(m, i, PE_SLOT_OUT_W);
    b->ln2w = find(m, i, PE_SLOT_LN2_W);
    b->ln2b = find(m, i, PE_SLOT_LN2_B);
    const int swiglu = m->arch.ffn == PE_FFN_SWIGLU;
    b->fcw = find(m, i, swiglu ? PE_SLOT_W12_W : PE_SLOT_FC_W);
    b->projw = find(m, i, swiglu ? PE_SLOT_W3_W : PE_SLOT_FC2_W);
}

pe_status pe_qplan_init(pe_qplan *p, const pe_model *m) {
    memset(p, 0, sizeof *p);
    p->n_tensors = m->st.n_tensors;
    p->layers = m->arch.layers;
    p->t = calloc((size_t)PE_MAX(p->n_tensors, 1), sizeof *p->t);
    p->blk = calloc((size_t)PE_MAX(p->layers, 1), sizeof *p->blk);
    if (!p->t || !p->blk) {
        pe_qplan_free(p);
        return pe_error(PE_ERR_NOMEM, "quantize: out of memory");
    }
    for (int i = 0; i < p->layers; i++) block_names(m, i, &p->blk[i]);
    return PE_OK;
}

void pe_qplan_free(pe_qplan *p) {
    for (int i = 0; p->t && i < p->n_tensors; i++) {
        free(p->t[i].val);
        free(p->t[i].fcols);
        free(p->t[i].fcol_w);
        free(p->t[i].packed);
    }
    for (int i = 0; p->blk && i < p->layers; i++) {
        free(p->blk[i].s_qkv);
        free(p->blk[i].s_fc);
    }
    free(p->t);
    free(p->blk);
    memset(p, 0, sizeof *p);
}
