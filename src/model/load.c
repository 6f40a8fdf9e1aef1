/* Loading: map the file, infer the architecture from tensor shapes and the
 * "__metadata__" heads, then bind every weight.  Binding runs twice: a dry
 * pass that sizes the arena for converted/packed weights, then the real one,
 * so the arena is one allocation (few page faults, one free). */
#include "model.h"
#include "names.h"

#include "../kernels/kernels.h"
#include "../kernels/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct loader {
    pe_model *m;
    pe_layout nm;             /* the vision tower's names (names.c) */
    const char *vp;           /* vision prefix: "", "visual.", "module.", ... */
    const char *tp;           /* text prefix */
    int dry;                  /* sizing pass: count arena bytes, write nothing */
    size_t used;              /* arena bytes handed out */
    float *tmp;               /* conversion scratch: one panel [PE_GEMM_NR, k] */
    const uint8_t *packed;    /* per tensor: 0, or 1 + pe_wtype | 0x80 when
                                 stored transposed (pecore quantized files) */
    int vision_only;          /* leave a text tower unbound */
    int franca;               /* the file had Franca's teacher layout */
    uint8_t *claimed;         /* per tensor: the loader looked it up by name */
} loader;

/* ------------------------------------------------------------ lookup */

/* Slot s under base (a tower's prefix, or a block's) in layout nm; NULL
 * when absent or when the layout has no such tensor.  A tensor looked up
 * is claimed: read as part of the model. */
static const pe_st_tensor *at(const loader *L, const char *base, pe_layout nm, pe_slot s) {
    const char *slot = pe_names_slot(nm, s);
    if (!slot) return NULL;
    char name[512];
    snprintf(name, sizeof name, "%s%s", base, slot);
    const pe_st_tensor *t = pe_st_find(&L->m->st, name);
    if (t && L->claimed) L->claimed[t - L->m->st.tensors] = 1;
    return t;
}

static const pe_st_tensor *vis(const loader *L, pe_slot s) { return at(L, L->vp, L->nm, s); }
static const pe_st_tensor *txt(const loader *L, pe_slot s) { return at(L, L->tp, PE_LAYOUT_OFFICIAL, s); }

/* Block i's prefix: the tower's, then the layout's block names. */
static void block_base(char *base, size_t cap, const char *prefix, pe_layout nm, int i) {
    snprintf(base, cap, "%s%s%d.", prefix, pe_names_block(nm), i);
}

static int64_t last_dim(const pe_st_tensor *t) { return t->rank ? t->shape[t->rank - 1] : 1; }

static pe_status want(const pe_st_tensor *t, const char *what, uint64_t numel, int64_t last) {
    if (!t) return pe_error(PE_ERR_NOT_FOUND, "missing tensor: %s", what);
    if (t->numel != numel || (last > 0 && last_dim(t) != last))
        return pe_error(PE_ERR_SHAPE, "tensor %s: expected %llu elements (last dim %lld), file has %llu",
                        t->name, (unsigned long long)numel, (long long)last,
                        (unsigned long long)t->numel);
    if (t->dtype != PE_DT_F32 && t->dtype != PE_DT_F16 && t->dtype != PE_DT_BF16)
        return pe_error(PE_ERR_UNSUPPORTED, "tensor %s: dtype %s not supported (F32, F16, BF16)",
                        t->name, pe_dtype_name(t->dtype));
    return PE_OK;
}

/* A tensor written by `pecore quantize` already in a kernel layout. */
static int packed_type(const loader *L, const pe_st_tensor *t, int *transposed) {
    if (!L->packed || !t) return -1;
    uint8_t v = L->packed[t - L->m->st.tensors];
    if (transposed) *transposed = (v & 0x80) != 0;
    return v ? (v & 0x7f) - 1 : -1;
}

/* want() for a linear weight, which may also be a packed tensor (its
 * logical shape was checked against its bytes when the file was opened). */
static pe_status want_w(const loader *L, const pe_st_tensor *t, const char *what, uint64_t numel,
                        int64_t last) {
    if (packed_type(L, t, NULL) < 0) return want(t, what, numel, last);
    if (t->numel != numel || (last > 0 && last_dim(t) != last))
        return pe_error(PE_ERR_SHAPE, "tensor %s: expected %llu elements (last dim %lld), file has %llu",
                        t->name, (unsigned long long)numel, (long long)last,
                        (unsigned long long)t->numel);
    return PE_OK;
}

/* ------------------------------------------------------------ arena */

static void *arena_take_bytes(loader *L, size_t bytes) {
    size_t off = L->used;
    L->used += (bytes + 63) & ~(size_t)63;
    return L->dry ? NULL : L->m->arena + off;
}

static void *arena_take(loader *L, size_t floats) {
    return arena_take_bytes(L, floats * sizeof(float));
}

/* n elements of t starting at element `first` as float32 into dst. */
static void convert(const pe_st_tensor *t, uint64_t first, size_t n, float *dst) {
    const pe_kernels *k = pe_kernels_get();
    if (t->dtype == PE_DT_F32) {
        memcpy(dst, (const float *)t->data + first, n * sizeof(float));
    } else if (t->dtype == PE_DT_F16) {
        k->f16_to_f32((const uint16_t *)t->data + first, dst, n);
    } else {
        k->bf16_to_f32((const uint16_t *)t->data + first, dst, n);
    }
}

/* A vector/table as float32: the mapping itself when F32 and aligned. */
static const float *bind_vec(loader *L, const pe_st_tensor *t, uint64_t first, size_t n) {
    if (t->dtype == PE_DT_F32 && ((uintptr_t)t->data & 3) == 0)
        return (const float *)t->data + first;
    float *dst = arena_take(L, n);
    if (dst) convert(t, first, n, dst);
    return dst;
}

static pe_status opt_vec(loader *L, const pe_st_tensor *t, const char *what, int64_t n,
                         const float **out) {
    *out = NULL;
    if (!t) return PE_OK;
    pe_status s = want(t, what, (uint64_t)n, n);
    if (s) return s;
    *out = bind_vec(L, t, 0, (size_t)n);
    return PE_OK;
}

static pe_status req_vec(loader *L, const pe_st_tensor *t, const char *what, int64_t n,
                         const float **out) {
    if (!t) return pe_error(PE_ERR_NOT_FOUND, "missing tensor: %s", what);
    return opt_vec(L, t, what, n, out);
}

/* Linear weight rows [row0, row0 + n) of t ([*, k], or [k, *] when
 * transposed, i.e. a matrix used as x @ t), packed for the GEMM.  One panel
 * of PE_GEMM_NR rows is converted at a time, so the scratch stays small and
 * no large fresh buffer is faulted in at load.  F16 / BF16 weights stay in
 * half precision (the kernels widen them); packed tensors of a quantized
 * file are used where they lie in the mapping. */
/* After a tensor is copied into the arena its pages in the file mapping are
 * no longer needed: drop them so resident memory is the packed copy only
 * (the file stays in the page cache; a later read just maps it again). */
static void release_source(const loader *L, const pe_st_tensor *t) {
    const pe_safetensors *st = &L->m->st;
    const uint8_t *p = t->data;
    if (L->dry || !st->mapped || p < st->base || p + t->nbytes > st->base + st->size) return;
    const uintptr_t page = 4096, a = (uintptr_t)p & ~(page - 1);
    const uintptr_t b = ((uintptr_t)p + t->nbytes + page - 1) & ~(page - 1);
    madvise((void *)a, b - a, MADV_DONTNEED);
}

static pe_status pack_linear(loader *L, pe_linear *lin, const pe_st_tensor *t, int row0, int n,
                             int k, int transposed) {
    lin->n = n;
    lin->k = k;
    int tr = 0, pt = packed_type(L, t, &tr);
    if (pt >= 0) {
        if (tr != transposed || row0 % PE_GEMM_NR)
            return pe_error(PE_ERR_FORMAT, "tensor %s: packed layout does not fit its use "
                                           "(transposed %d, first row %d)", t->name, transposed, row0);
        lin->wtype = pt;
        lin->w = (const uint8_t *)t->data + (size_t)(row0 / PE_GEMM_NR) * pe_qpack_panel_bytes(pt, k);
        if (pt == PE_WT_Q8 || pt == PE_WT_Q4) L->m->q_kmax = PE_MAX(L->m->q_kmax, k);
        return PE_OK;
    }
    const int64_t cols = last_dim(t);
    if (t->dtype != PE_DT_F32) { /* F16 / BF16: rearranged, never widened */
        const pe_wtype wt = t->dtype == PE_DT_F16 ? PE_WT_F16 : PE_WT_BF16;
        uint16_t *dst = arena_take_bytes(L, pe_qpack_bytes(wt, n, k));
        lin->w = dst;
        lin->wtype = wt;
        if (!dst) return PE_OK;
        const uint16_t *src = t->data;
        for (int p0 = 0; p0 < n; p0 += PE_GEMM_NR) {
            int rows = PE_MIN(PE_GEMM_NR, n - p0);
            uint16_t *panel = dst + (size_t)p0 * (size_t)k;
            for (int i = 0; i < k; i++) {
                uint16_t *o = panel + (size_t)i * PE_GEMM_NR;
                for (int j = 0; j < PE_GEMM_NR; j++) {
                    size_t r = (size_t)(row0 + p0 + j);
                    o[j] = j >= rows ? 0 : transposed ? src[(size_t)i * (size_t)cols + r]
                                                      : src[r * (size_t)k + (size_t)i];
                }
            }
        }
        release_source(L, t);
        return PE_OK;
    }
    float *dst = arena_take(L, pe_gemm_packed_floats(n, k));
    lin->w = dst;
    lin->wtype = PE_WT_F32;
    if (!dst) return PE_OK;
    float *src = L->tmp; /* [PE_GEMM_NR, k] */
    for (int p0 = 0; p0 < n; p0 += PE_GEMM_NR) {
        int rows = PE_MIN(PE_GEMM_NR, n - p0);
        if (!transposed) {
            convert(t, (uint64_t)(row0 + p0) * (uint64_t)k, (size_t)rows * (size_t)k, src);
        } else { /* column c of t becomes row c */
            float buf[PE_GEMM_NR];
            for (int i = 0; i < k; i++) {
                convert(t, (uint64_t)i * (uint64_t)cols + (uint64_t)(row0 + p0), (size_t)rows, buf);
                for (int j = 0; j < rows; j++) src[(size_t)j * (size_t)k + (size_t)i] = buf[j];
            }
        }
        pe_gemm_pack(dst + (size_t)p0 * (size_t)k, src, rows, k, k);
    }
    release_source(L, t);
    return PE_OK;
}

/* y [n] = x [k] lin^T + b at load time, whatever the weight type (the
 * constant probe keeps float activations even for q8/q4 weights). */
static void linear_row(const pe_linear *l, const float *x, float *y) {
    pe_epilogue ep = {.bias = l->b};
    if (l->wtype == PE_WT_F32) {
        pe_kernels_get()->gemm(x, l->k, l->w, l->n, l->k, y, l->n, 0, 1, 0, l->n, &ep);
    } else if (l->wtype == PE_WT_F16 || l->wtype == PE_WT_BF16) {
        pe_qkernels_get()->gemm_half(x, l->k, l->w, l->k, y, l->n, 0, 1, 0, l->n, &ep, l->wtype);
    } else {
        const size_t pb = pe_qpack_panel_bytes(l->wtype, l->k);
        for (int j = 0; j < l->n; j++) {
            const uint8_t *panel = (const uint8_t *)l->w + (size_t)(j / PE_GEMM_NR) * pb;
            double acc = l->b ? l->b[j] : 0.0;
            for (int i = 0; i < l->k; i++)
                acc += (double)x[i] * pe_qpanel_get(l->wtype, panel, l->k, j % PE_GEMM_NR, i);
            y[j] = (float)acc;
        }
    }
}

static pe_status bind_linear(loader *L, pe_linear *lin, const pe_st_tensor *w,
                             const pe_st_tensor *b, const char *what, int n, int k) {
    /* conv1 is [W, 3, P, P]: only a 2-D weight has a meaningful last dim */
    pe_status s = want_w(L, w, what, (uint64_t)n * (uint64_t)k, w && w->rank == 2 ? k : 0);
    if (s || (s = pack_linear(L, lin, w, 0, n, k, 0))) return s;
    lin->b = NULL;
    if (b) {
        if ((s = want(b, what, (uint64_t)n, n))) return s;
        lin->b = bind_vec(L, b, 0, (size_t)n);
    }
    return PE_OK;
}

/* The linear of slots w and b (b may be absent from the file) under base. */
static pe_status bind_slots(loader *L, pe_linear *lin, const char *base, pe_layout nm, pe_slot w, pe_slot b,
                            int n, int k) {
    return bind_linear(L, lin, at(L, base, nm, w), at(L, base, nm, b), pe_names_what(w), n, k);
}

/* The vector [n] of slot s under base: required, or NULL when absent. */
static pe_status vec_slot(loader *L, const char *base, pe_layout nm, pe_slot s, int required, int64_t n,
                          const float **out) {
    const pe_st_tensor *t = at(L, base, nm, s);
    return required ? req_vec(L, t, pe_names_what(s), n, out) : opt_vec(L, t, pe_names_what(s), n, out);
}

/* The float columns `pecore quantize` may give a q8/q4 linear (model.h):
 * NAME.pecore_fcols (I32 [n], ascending column indices) and
 * NAME.pecore_fcols_w ([N, n] their weights), NAME the weight's name (slot
 * w under base) without ".weight". */
static pe_status bind_fcols(loader *L, pe_linear *lin, const char *base, pe_layout nm, pe_slot w) {
    const char *wname = pe_names_slot(nm, w);
    const size_t n = wname && strlen(wname) > 7 ? strlen(wname) - 7 : 0; /* ".weight" */
    char stem[160];
    snprintf(stem, sizeof stem, "%s%.*s", base, (int)n, wname ? wname : "");
    char ni[192], nw[192];
    snprintf(ni, sizeof ni, "%s.pecore_fcols", stem);
    snprintf(nw, sizeof nw, "%s.pecore_fcols_w", stem);
    const pe_st_tensor *ci = pe_st_find(&L->m->st, ni), *cw = pe_st_find(&L->m->st, nw);
    if (ci && L->claimed) L->claimed[ci - L->m->st.tensors] = 1;
    if (cw && L->claimed) L->claimed[cw - L->m->st.tensors] = 1;
    lin->n_fcols = 0;
    if (!ci && !cw) return PE_OK;
    if (!ci || !cw || ci->dtype != PE_DT_I32 || ci->rank != 1 || ci->numel < 1 || ci->numel > 256 ||
        (lin->wtype != PE_WT_Q8 && lin->wtype != PE_WT_Q4))
        return pe_error(PE_ERR_FORMAT, "%s: float columns must be an I32 list of 1..256 beside a q8/q4 "
                        "weight, with their weights", ni);
    const int nc = (int)ci->numel;
    pe_status s = want(cw, "pecore_fcols_w", (uint64_t)lin->n * (uint64_t)nc, nc);
    if (s) return s;
    int32_t prev = -1;
    for (int i = 0; i < nc; i++) {
        int32_t c;
        memcpy(&c, (const uint8_t *)ci->data + 4 * (size_t)i, 4);
        if (c <= prev || c >= lin->k)
            return pe_error(PE_ERR_FORMAT, "%s: column %d is out of order or not below %d", ni, (int)c, lin->k);
        prev = c;
    }
    lin->n_fcols = nc;
    lin->fcols = (const int32_t *)ci->data;
    if (((uintptr_t)ci->data & 3) != 0) {
        int32_t *cp = arena_take_bytes(L, (size_t)nc * 4);
        if (cp) memcpy(cp, ci->data, (size_t)nc * 4);
        lin->fcols = cp;
    }
    float *dst = arena_take(L, pe_gemm_packed_floats(lin->n, nc));
    lin->fcol_w = dst;
    for (int p0 = 0; dst && p0 < lin->n; p0 += PE_GEMM_NR) { /* L->tmp holds [16, k] >= [16, nc] */
        const int rows = PE_MIN(PE_GEMM_NR, lin->n - p0);
        convert(cw, (uint64_t)p0 * (uint64_t)nc, (size_t)rows * (size_t)nc, L->tmp);
        pe_gemm_pack(dst + (size_t)p0 * (size_t)nc, L->tmp, rows, nc, nc);
    }
    L->m->fcol_max = PE_MAX(L->m->fcol_max, nc);
    return PE_OK;
}

/* ------------------------------------------------------------ blocks */

/* The SwiGLU FFN: w12 [2M, W] as its two halves (the first gated), w3. */
static pe_status bind_swiglu(loader *L, const char *base, pe_layout nm, int W, int M, pe_block *blk) {
    const pe_st_tensor *w = at(L, base, nm, PE_SLOT_W12_W), *b = at(L, base, nm, PE_SLOT_W12_B);
    pe_status s;
    if ((s = want_w(L, w, pe_names_what(PE_SLOT_W12_W), 2ull * (uint64_t)M * (uint64_t)W, W)) ||
        (s = want(b, pe_names_what(PE_SLOT_W12_B), 2ull * (uint64_t)M, 0)) ||
        (s = pack_linear(L, &blk->fc, w, 0, M, W, 0)) || (s = pack_linear(L, &blk->fc_up, w, M, M, W, 0)))
        return s;
    blk->fc.b = bind_vec(L, b, 0, (size_t)M);
    blk->fc_up.b = bind_vec(L, b, (uint64_t)M, (size_t)M);
    if ((s = bind_slots(L, &blk->proj, base, nm, PE_SLOT_W3_W, PE_SLOT_W3_B, W, M))) return s;
    return bind_fcols(L, &blk->proj, base, nm, PE_SLOT_W3_W);
}

static pe_status bind_ffn(loader *L, const char *base, pe_layout nm, pe_ffn ffn, int W, int M,
                          pe_block *blk) {
    if (ffn == PE_FFN_SWIGLU) return bind_swiglu(L, base, nm, W, M, blk);
    pe_status s = bind_slots(L, &blk->fc, base, nm, PE_SLOT_FC_W, PE_SLOT_FC_B, M, W);
    if (!s) s = bind_slots(L, &blk->proj, base, nm, PE_SLOT_FC2_W, PE_SLOT_FC2_B, W, M);
    return s ? s : bind_fcols(L, &blk->proj, base, nm, PE_SLOT_FC2_W);
}

static pe_status bind_block(loader *L, const char *prefix, int i, pe_layout nm, pe_ffn ffn, pe_tower *tw,
                            pe_block *blk) {
    const int W = tw->width;
    char base[64];
    block_base(base, sizeof base, prefix, nm, i);
    pe_status s;
    if ((s = bind_ffn(L, base, nm, ffn, W, tw->mlp, blk)) ||
        (s = vec_slot(L, base, nm, PE_SLOT_LN1_W, 1, W, &blk->ln1_w)) ||
        (s = vec_slot(L, base, nm, PE_SLOT_LN1_B, 1, W, &blk->ln1_b)) ||
        (s = vec_slot(L, base, nm, PE_SLOT_LN2_W, 1, W, &blk->ln2_w)) ||
        (s = vec_slot(L, base, nm, PE_SLOT_LN2_B, 1, W, &blk->ln2_b)) ||
        (s = bind_slots(L, &blk->qkv, base, nm, PE_SLOT_QKV_W, PE_SLOT_QKV_B, 3 * W, W)) ||
        (s = bind_slots(L, &blk->out, base, nm, PE_SLOT_OUT_W, PE_SLOT_OUT_B, W, W)) ||
        (s = vec_slot(L, base, nm, PE_SLOT_LS1, 0, W, &blk->ls1)) ||
        (s = vec_slot(L, base, nm, PE_SLOT_LS2, 0, W, &blk->ls2)))
        return pe_error_prefix(s, "block %d", i);
    return PE_OK;
}

/* ------------------------------------------------------------ inference */

static int meta_int(const pe_model *m, const char *key, int *out) {
    const char *v = pe_st_meta_get(&m->st, key);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < 1 || x > 4096) return -1;
    *out = (int)x;
    return 1;
}

/* Blocks of the tower under prefix: those with an ln_1 weight, from 0 on. */
static int count_layers(const loader *L, const char *prefix, pe_layout nm) {
    int n = 0;
    char base[64];
    for (; n < 1000; n++) {
        block_base(base, sizeof base, prefix, nm, n);
        if (!at(L, base, nm, PE_SLOT_LN1_W)) break;
    }
    return n;
}

/* Slot s of the vision tower's block 0. */
static const pe_st_tensor *block0(const loader *L, pe_layout nm, pe_slot s) {
    char base[64];
    block_base(base, sizeof base, L->vp, nm, 0);
    return at(L, base, nm, s);
}

/* Heads for a tower: metadata first, then the known table by width. */
static pe_status heads_for(const pe_model *m, const char *key, int width, int text, int *heads) {
    int r = meta_int(m, key, heads);
    if (r < 0) return pe_error(PE_ERR_FORMAT, "metadata %s: not an integer in 1..4096", key);
    if (r > 0) return PE_OK;
    for (int i = 0; i < pe_arch_count; i++) {
        const pe_arch *a = &pe_arch_table[i];
        if (!text && a->width == width) { *heads = a->heads; return PE_OK; }
        if (text && a->text.width == width) { *heads = a->text.heads; return PE_OK; }
    }
    return pe_error(PE_ERR_UNSUPPORTED,
                    "cannot tell the number of %s heads for width %d: not a known PE model; "
                    "give it (pe_model_options.%s_heads, or pecore convert --%s-heads N) or add \"%s\" "
                    "to the safetensors __metadata__", text ? "text" : "vision", width,
                    text ? "text" : "vision", text ? "text" : "vision", key);
}

static pe_status check_heads(const char *what, int width, int heads, int need_mult4) {
    if (heads < 1 || width % heads)
        return pe_error(PE_ERR_UNSUPPORTED, "%s: width %d is not divisible by %d heads", what,
                        width, heads);
    if (need_mult4 && (width / heads) % 4)
        return pe_error(PE_ERR_UNSUPPORTED, "%s: head size %d is not a multiple of 4 (2-D RoPE)",
                        what, width / heads);
    return PE_OK;
}

/* Size letter of a released DINOv2 / Franca ViT, or NULL. */
static const char *vit_size(int width, int layers) {
    static const struct { int w, l; const char *name; } sizes[] = {
        {384, 12, "S"}, {768, 12, "B"}, {1024, 24, "L"}, {1536, 40, "g"}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (sizes[i].w == width && sizes[i].l == layers) return sizes[i].name;
    return NULL;
}

/* Register tokens [1, R, W], checked against the metadata's count. */
static pe_status infer_registers(loader *L) {
    pe_arch *a = &L->m->arch;
    const int W = a->width;
    const pe_st_tensor *reg = vis(L, PE_SLOT_REGISTERS);
    if (reg && (reg->rank != 3 || reg->shape[0] != 1 || reg->shape[2] != W || reg->shape[1] < 1 ||
                reg->shape[1] > 64))
        return pe_error(PE_ERR_SHAPE, "tensor %s: expected [1, R, %d] with R <= 64", reg->name, W);
    a->registers = reg ? (int)reg->shape[1] : 0;
    const char *nr = pe_st_meta_get(&L->m->st, "num_register_tokens");
    if (nr && strtol(nr, NULL, 10) != a->registers)
        return pe_error(PE_ERR_FORMAT, "metadata num_register_tokens %.16s does not match "
                                       "register_tokens (%d rows)", nr, a->registers);
    return PE_OK;
}

/* Position resampling: registers mean the antialiased mode of the _reg
 * releases, else DINOv2's offset 0.1; metadata may say so explicitly. */
static pe_status infer_resampling(const pe_model *m, pe_arch *a) {
    a->pos_resample = a->registers ? PE_POS_BICUBIC_AA : PE_POS_BICUBIC_OFFSET;
    const char *aa = pe_st_meta_get(&m->st, "interpolate_antialias");
    const char *off = pe_st_meta_get(&m->st, "interpolate_offset");
    if (!aa && !off) return PE_OK;
    const int anti = aa && (!strcmp(aa, "1") || !strcmp(aa, "True") || !strcmp(aa, "true"));
    const double o = off ? strtod(off, NULL) : anti ? 0.0 : 0.1;
    if (anti && o == 0.0) a->pos_resample = PE_POS_BICUBIC_AA;
    else if (!anti && fabs(o - 0.1) < 1e-9) a->pos_resample = PE_POS_BICUBIC_OFFSET;
    else
        return pe_error(PE_ERR_UNSUPPORTED, "position resampling with interpolate_antialias %.8s and "
                        "interpolate_offset %.16s: pecore runs antialiased with offset 0, or offset 0.1",
                        aa ? aa : "(none)", off ? off : "(none)");
    return PE_OK;
}

/* Franca or DINOv2 (Franca's teacher layout, pecore's metadata, or a
 * SwiGLU FFN outside DINOv2's giant), and the name: "DINOv2 ViT-S/14 reg4". */
static void name_dinov2(const loader *L, pe_arch *a) {
    const char *fam = pe_st_meta_get(&L->m->st, "pecore.family");
    const int swiglu = a->ffn == PE_FFN_SWIGLU;
    const int franca = L->franca || (fam && !strcmp(fam, "Franca")) || (swiglu && a->width != 1536);
    a->family = franca ? PE_FAMILY_FRANCA : PE_FAMILY_DINOV2;
    const char *family = pe_family_name(a->family), *sz = vit_size(a->width, a->layers);
    char reg_s[16] = "";
    if (a->registers) snprintf(reg_s, sizeof reg_s, " reg%d", a->registers);
    if (sz) snprintf(a->name, sizeof a->name, "%s ViT-%s/%d%s", family, sz, a->patch, reg_s);
    else
        snprintf(a->name, sizeof a->name, "%s custom (%dx%d)/%d%s", family, a->width, a->layers, a->patch,
                 reg_s);
}

/* The DINOv2 family (docs/dinov2.md): everything infer_vision did not read. */
static pe_status infer_dinov2(loader *L) {
    pe_model *m = L->m;
    pe_arch *a = &m->arch;
    const int W = a->width;
    if (!a->cls) return pe_error(PE_ERR_NOT_FOUND, "DINOv2-family file without cls_token");
    pe_status s = infer_registers(L);
    if (s) return s;
    const pe_st_tensor *w12 = block0(L, L->nm, PE_SLOT_W12_W);
    const pe_st_tensor *fc = w12 ? w12 : block0(L, L->nm, PE_SLOT_FC_W);
    if (!fc || fc->rank != 2 || fc->shape[1] != W || fc->shape[0] < 2 || fc->shape[0] > (1 << 20) ||
        (w12 && fc->shape[0] % 2))
        return pe_error(PE_ERR_SHAPE, "block 0: mlp weight (mlp.fc1 or mlp.w12) missing or not [M, %d]", W);
    a->ffn = w12 ? PE_FFN_SWIGLU : PE_FFN_GELU;
    a->mlp = (int)fc->shape[0] / (w12 ? 2 : 1);
    a->layerscale = block0(L, L->nm, PE_SLOT_LS1) != NULL;
    a->ln_post = 1;
    a->pool = PE_POOL_CLS;
    a->proj = 0;
    a->out_dim = W;
    a->rope = 0;
    a->ln_eps = 1e-6f;
    a->transform = PE_TRANSFORM_DINOV2_EVAL;
    /* Every release has 64-wide heads; files of pecore say so in metadata. */
    int r;
    if ((r = meta_int(m, "num_heads", &a->heads)) < 0 || (!r && (r = meta_int(m, "vision_heads", &a->heads)) < 0))
        return pe_error(PE_ERR_FORMAT, "metadata num_heads: not an integer in 1..4096");
    if (!r) a->heads = W % 64 ? 0 : W / 64;
    if ((s = check_heads("vision tower", W, a->heads, 0)))
        return pe_error_prefix(s, "heads of 64 (the releases')");
    a->head_dim = W / a->heads;
    if ((s = infer_resampling(m, a))) return s;
    name_dinov2(L, a);
    return PE_OK;
}

/* The vision tower's prefix and layout: the first prefix under which the
 * patch embedding has official or timm names; timm names with any of the
 * DINOv2 family's own tensors (a conv bias, ls1.gamma, a SwiGLU FFN,
 * registers) are the DINOv2 layout. */
static const pe_st_tensor *find_vision(loader *L) {
    static const char *const prefixes[] = {"", "visual.", "module.", "module.visual."};
    const pe_st_tensor *conv = NULL;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes && !conv; i++)
        for (int nm = PE_LAYOUT_OFFICIAL; nm <= PE_LAYOUT_TIMM && !conv; nm++) {
            L->vp = prefixes[i];
            L->nm = (pe_layout)nm;
            conv = vis(L, PE_SLOT_CONV1);
        }
    if (conv && L->nm == PE_LAYOUT_TIMM) {
        L->nm = PE_LAYOUT_DINOV2;
        if (!vis(L, PE_SLOT_CONV1_B) && !block0(L, L->nm, PE_SLOT_LS1) && !block0(L, L->nm, PE_SLOT_W12_W) &&
            !vis(L, PE_SLOT_REGISTERS))
            L->nm = PE_LAYOUT_TIMM;
    }
    return conv;
}

/* The class token and the learned position grid G x G. */
static pe_status infer_grid(loader *L) {
    pe_arch *a = &L->m->arch;
    const int W = a->width;
    a->cls = vis(L, PE_SLOT_CLS) != NULL;
    const pe_st_tensor *pos = vis(L, PE_SLOT_POS);
    if (!pos) return pe_error(PE_ERR_NOT_FOUND, "missing tensor: positional_embedding");
    if (last_dim(pos) != W || pos->numel % (uint64_t)W)
        return pe_error(PE_ERR_SHAPE, "tensor %s: last dim must be the width %d", pos->name, W);
    uint64_t t0 = pos->numel / (uint64_t)W, cells = t0 - (uint64_t)a->cls;
    uint64_t g = (uint64_t)llround(sqrt((double)cells));
    if (t0 <= (uint64_t)a->cls || g * g != cells || g > 4096)
        return pe_error(PE_ERR_SHAPE, "tensor %s: %llu rows is not %s a square grid", pos->name,
                        (unsigned long long)t0, a->cls ? "1 + " : "");
    a->grid = (int)g;
    return PE_OK;
}

/* PE (docs/pe.md): everything infer_vision did not read. */
static pe_status infer_pe(loader *L) {
    pe_model *m = L->m;
    pe_arch *a = &m->arch;
    const int W = a->width, timm = L->nm != PE_LAYOUT_OFFICIAL;
    a->family = PE_FAMILY_PE;
    a->rope = 1;
    a->pos_resample = PE_POS_BILINEAR;
    a->ln_eps = 1e-5f;
    a->transform = PE_TRANSFORM_PE;
    const pe_st_tensor *fc = block0(L, L->nm, PE_SLOT_FC_W);
    if (!fc || fc->rank != 2 || fc->shape[1] != W || fc->shape[0] < 1 || fc->shape[0] > (1 << 20))
        return pe_error(PE_ERR_SHAPE, "block 0: mlp weight missing or not [M, %d]", W);
    a->mlp = (int)fc->shape[0];
    a->layerscale = block0(L, L->nm, PE_SLOT_LS1) != NULL;
    a->ln_post = vis(L, PE_SLOT_LN_POST_W) != NULL;
    a->pool = vis(L, PE_SLOT_PROBE) ? PE_POOL_ATTN : PE_POOL_NONE;

    pe_status s = heads_for(m, "vision_heads", W, 0, &a->heads);
    if (s || (s = check_heads("vision tower", W, a->heads, 1))) return s;
    a->head_dim = W / a->heads;
    a->pool_heads = 8;
    if (a->pool == PE_POOL_ATTN) {
        int r = meta_int(m, "attn_pooler_heads", &a->pool_heads);
        if (r < 0) return pe_error(PE_ERR_FORMAT, "metadata attn_pooler_heads: not an integer in 1..4096");
        if ((s = check_heads("attention pooling", W, a->pool_heads, 0))) return s;
    }
    /* the projection is [W, D] in official names, [D, W] in timm's */
    const pe_st_tensor *proj = vis(L, PE_SLOT_PROJ);
    a->proj = proj != NULL;
    a->out_dim = W;
    if (proj) {
        if (proj->rank != 2 || proj->shape[timm ? 1 : 0] != W || proj->shape[timm ? 0 : 1] < 1 ||
            proj->shape[timm ? 0 : 1] > 65536)
            return pe_error(PE_ERR_SHAPE, "tensor %s: expected %s", proj->name,
                            timm ? "[D, W]" : "[W, D]");
        a->out_dim = (int)proj->shape[timm ? 0 : 1];
    }
    return PE_OK;
}

static pe_status infer_vision(loader *L) {
    pe_model *m = L->m;
    pe_arch *a = &m->arch;
    const pe_st_tensor *conv = find_vision(L);
    if (!conv)
        return pe_error(PE_ERR_NOT_FOUND, "no vision tower: found neither conv1.weight nor "
                                          "patch_embed.proj.weight (with or without visual./module.)");
    m->layout = L->nm;
    m->vision_prefix = L->vp;
    static const char *const layout_names[] = {"official", "timm", "DINOv2"};
    snprintf(m->info.naming, sizeof m->info.naming, "%s",
             L->nm == PE_LAYOUT_DINOV2 && L->franca ? "Franca" : layout_names[L->nm]);
    if (conv->rank != 4 || conv->shape[1] != 3 || conv->shape[2] != conv->shape[3] ||
        conv->shape[0] < 1 || conv->shape[0] > 65536 || conv->shape[2] < 1 || conv->shape[2] > 1024)
        return pe_error(PE_ERR_SHAPE, "tensor %s: expected [W, 3, P, P]", conv->name);
    a->width = (int)conv->shape[0];
    a->patch = (int)conv->shape[2];
    pe_status s = infer_grid(L);
    if (s) return s;
    a->layers = count_layers(L, L->vp, L->nm);
    if (a->layers < 1) return pe_error(PE_ERR_NOT_FOUND, "vision tower has no blocks");
    return L->nm == PE_LAYOUT_DINOV2 ? infer_dinov2(L) : infer_pe(L);
}

static pe_status infer_text(loader *L) {
    pe_model *m = L->m;
    pe_arch *a = &m->arch;
    static const char *const prefixes[] = {"", "module."};
    const pe_st_tensor *emb = NULL;
    for (size_t i = 0; i < 2 && !emb; i++) {
        L->tp = prefixes[i];
        emb = txt(L, PE_SLOT_TOK_EMB);
    }
    /* A bare vision file has transformer.* for the vision tower, so a text
     * tower needs token_embedding and a vision tower under visual. */
    if (!emb || strstr(L->vp, "visual.") == NULL) return PE_OK;
    if (emb->rank != 2 || emb->shape[0] < 49408 || emb->shape[1] < 1 || emb->shape[1] > 65536)
        return pe_error(PE_ERR_SHAPE, "tensor %s: expected [V >= 49408, W]", emb->name);
    a->text.vocab = (int)emb->shape[0];
    a->text.width = (int)emb->shape[1];
    const pe_st_tensor *pos = txt(L, PE_SLOT_POS);
    if (!pos || pos->rank != 2 || pos->shape[1] != a->text.width || pos->shape[0] < 2 ||
        pos->shape[0] > 4096)
        return pe_error(PE_ERR_SHAPE, "text positional_embedding missing or not [C, %d]",
                        a->text.width);
    a->text.context = (int)pos->shape[0];
    a->text.layers = count_layers(L, L->tp, PE_LAYOUT_OFFICIAL);
    if (a->text.layers < 1) return pe_error(PE_ERR_NOT_FOUND, "text tower has no blocks");
    pe_status s = heads_for(m, "text_heads", a->text.width, 1, &a->text.heads);
    if (s || (s = check_heads("text tower", a->text.width, a->text.heads, 0))) return s;
    return PE_OK;
}

/* A PE model whose shapes match a known one gets its name (infer_dinov2
 * names the DINOv2 family's). */
static void name_arch(pe_arch *a) {
    if (pe_arch_dinov2(a)) return;
    snprintf(a->name, sizeof a->name, "custom");
    for (int i = 0; i < pe_arch_count; i++) {
        const pe_arch *k = &pe_arch_table[i];
        if (k->family == PE_FAMILY_PE && k->patch == a->patch && k->width == a->width &&
            k->layers == a->layers && k->mlp == a->mlp && k->cls == a->cls && k->grid == a->grid &&
            (k->pool == PE_POOL_ATTN) == (a->pool == PE_POOL_ATTN) && k->heads == a->heads) {
            snprintf(a->name, sizeof a->name, "%s", k->name);
            return;
        }
    }
}

/* ------------------------------------------------------------ binding */

/* Patch embedding, class token, registers, positions, ln_pre / ln_post. */
static pe_status bind_stem(loader *L) {
    pe_model *m = L->m;
    const pe_arch *a = &m->arch;
    const int W = a->width, P = a->patch;
    const char *vp = L->vp;
    const pe_layout nm = L->nm;
    pe_status s;
    if ((s = bind_slots(L, &m->patch, vp, nm, PE_SLOT_CONV1, PE_SLOT_CONV1_B, W, 3 * P * P))) return s;
    const pe_st_tensor *reg = a->registers ? vis(L, PE_SLOT_REGISTERS) : NULL;
    if (a->registers &&
        (s = want(reg, "register_tokens", (uint64_t)a->registers * (uint64_t)W, W)))
        return s;
    m->registers = a->registers ? bind_vec(L, reg, 0, (size_t)a->registers * W) : NULL;
    uint64_t t0 = (uint64_t)a->cls + (uint64_t)a->grid * (uint64_t)a->grid;
    if ((s = vec_slot(L, vp, nm, PE_SLOT_CLS, 0, W, &m->cls))) return s;
    const pe_st_tensor *pos = vis(L, PE_SLOT_POS);
    if ((s = want(pos, "positional_embedding", t0 * (uint64_t)W, W))) return s;
    m->pos = bind_vec(L, pos, 0, (size_t)(t0 * (uint64_t)W));
    if ((s = vec_slot(L, vp, nm, PE_SLOT_LN_PRE_W, 0, W, &m->ln_pre_w)) ||
        (s = vec_slot(L, vp, nm, PE_SLOT_LN_PRE_B, 0, W, &m->ln_pre_b)) ||
        (s = vec_slot(L, vp, nm, PE_SLOT_LN_POST_W, 0, W, &m->ln_post_w)) ||
        (s = vec_slot(L, vp, nm, PE_SLOT_LN_POST_B, 0, W, &m->ln_post_b)))
        return s;
    if (!vis(L, PE_SLOT_LN_PRE_W) != !vis(L, PE_SLOT_LN_PRE_B) ||
        !vis(L, PE_SLOT_LN_POST_W) != !vis(L, PE_SLOT_LN_POST_B))
        return pe_error(PE_ERR_NOT_FOUND, "a LayerNorm has a weight without a bias (or the reverse)");
    return PE_OK;
}

/* The probe's query and key/value projections: one in_proj [3W, W] in
 * official names (rows q | k | v), q and kv in timm's. */
static pe_status bind_pool_qkv(loader *L, pe_linear *q) {
    pe_model *m = L->m;
    const int W = m->arch.width;
    pe_status s;
    if (!pe_names_slot(L->nm, PE_SLOT_POOL_QKV_W)) {
        s = bind_slots(L, q, L->vp, L->nm, PE_SLOT_POOL_Q_W, PE_SLOT_POOL_Q_B, W, W);
        if (s) return s;
        return bind_slots(L, &m->pool_kv, L->vp, L->nm, PE_SLOT_POOL_KV_W, PE_SLOT_POOL_KV_B, 2 * W, W);
    }
    const pe_st_tensor *w = vis(L, PE_SLOT_POOL_QKV_W), *b = vis(L, PE_SLOT_POOL_QKV_B);
    if ((s = want_w(L, w, pe_names_what(PE_SLOT_POOL_QKV_W), 3ull * (uint64_t)W * (uint64_t)W, W)) ||
        (s = want(b, pe_names_what(PE_SLOT_POOL_QKV_B), 3ull * (uint64_t)W, 0)))
        return s;
    if ((s = pack_linear(L, q, w, 0, W, W, 0))) return s;
    q->b = bind_vec(L, b, 0, (size_t)W);
    if ((s = pack_linear(L, &m->pool_kv, w, W, 2 * W, W, 0))) return s;
    m->pool_kv.b = bind_vec(L, b, (uint64_t)W, 2 * (size_t)W);
    return PE_OK;
}

/* Attention pooling: the probe (its query computed here), then out, a
 * LayerNorm and an MLP of its own width M'. */
static pe_status bind_pool(loader *L) {
    pe_model *m = L->m;
    const int W = m->arch.width;
    const char *vp = L->vp;
    const pe_layout nm = L->nm;
    const float *probe;
    pe_linear q;
    pe_status s;
    if ((s = vec_slot(L, vp, nm, PE_SLOT_PROBE, 1, W, &probe)) || (s = bind_pool_qkv(L, &q)) ||
        (s = bind_slots(L, &m->pool_out, vp, nm, PE_SLOT_POOL_OUT_W, PE_SLOT_POOL_OUT_B, W, W)) ||
        (s = vec_slot(L, vp, nm, PE_SLOT_POOL_LN_W, 1, W, &m->pool_ln_w)) ||
        (s = vec_slot(L, vp, nm, PE_SLOT_POOL_LN_B, 1, W, &m->pool_ln_b)))
        return s;
    const pe_st_tensor *fc = vis(L, PE_SLOT_POOL_FC_W);
    if (!fc || fc->rank != 2 || fc->shape[1] != W || fc->shape[0] < 1 || fc->shape[0] > (1 << 20))
        return pe_error(PE_ERR_SHAPE, "attn_pool mlp weight missing or not [M, %d]", W);
    const int pm = (int)fc->shape[0];
    if ((s = bind_slots(L, &m->pool_fc, vp, nm, PE_SLOT_POOL_FC_W, PE_SLOT_POOL_FC_B, pm, W)) ||
        (s = bind_slots(L, &m->pool_proj, vp, nm, PE_SLOT_POOL_FC2_W, PE_SLOT_POOL_FC2_B, W, pm)))
        return s;
    /* The probe is a constant, so its query projection is too. */
    float *pq = arena_take(L, (size_t)W);
    m->pool_q = pq;
    if (pq) linear_row(&q, probe, pq);
    return PE_OK;
}

/* The projection to the embedding: [W, D] official (used transposed),
 * [D, W] with a bias in timm's names. */
static pe_status bind_proj(loader *L) {
    pe_model *m = L->m;
    const int W = m->arch.width, D = m->arch.out_dim, timm = L->nm != PE_LAYOUT_OFFICIAL;
    const pe_st_tensor *proj = vis(L, PE_SLOT_PROJ), *b = vis(L, PE_SLOT_PROJ_B);
    pe_status s;
    if ((s = want_w(L, proj, "proj", (uint64_t)W * (uint64_t)D, timm ? W : D)) ||
        (s = pack_linear(L, &m->proj, proj, 0, D, W, !timm)))
        return s;
    m->proj.b = NULL;
    if (b) {
        if ((s = want(b, "head.bias", (uint64_t)D, D))) return s;
        m->proj.b = bind_vec(L, b, 0, (size_t)D);
    }
    return PE_OK;
}

static pe_status bind_vision(loader *L) {
    pe_model *m = L->m;
    const pe_arch *a = &m->arch;
    pe_status s;
    m->vis = (pe_tower){a->width, a->layers, a->heads, a->head_dim, a->mlp, a->ln_eps, m->vis.blocks};
    if ((s = bind_stem(L))) return s;
    for (int i = 0; i < a->layers; i++)
        if ((s = bind_block(L, L->vp, i, L->nm, a->ffn, &m->vis, &m->vis.blocks[i])))
            return pe_error_prefix(s, "vision");
    if (a->pool == PE_POOL_ATTN && (s = bind_pool(L))) return s;
    return a->proj ? bind_proj(L) : PE_OK;
}

static pe_status bind_text(loader *L) {
    pe_model *m = L->m;
    pe_arch *a = &m->arch;
    const int W = a->text.width;
    pe_status s;
    char base[64];
    block_base(base, sizeof base, L->tp, PE_LAYOUT_OFFICIAL, 0);
    const pe_st_tensor *fc = at(L, base, PE_LAYOUT_OFFICIAL, PE_SLOT_FC_W);
    if (!fc || fc->rank != 2 || fc->shape[1] != W || fc->shape[0] < 1 || fc->shape[0] > (1 << 20))
        return pe_error(PE_ERR_SHAPE, "text block 0: mlp weight missing or not [M, %d]", W);
    m->txt = (pe_tower){W, a->text.layers, a->text.heads, W / a->text.heads, (int)fc->shape[0], 1e-5f,
                        m->txt.blocks};
    const pe_st_tensor *emb = txt(L, PE_SLOT_TOK_EMB);
    if ((s = want(emb, "token_embedding.weight", emb->numel, W))) return s;
    m->tok_emb = emb->data;
    m->tok_emb_dtype = emb->dtype;
    const pe_st_tensor *pos = txt(L, PE_SLOT_POS);
    if ((s = want(pos, "positional_embedding", (uint64_t)a->text.context * (uint64_t)W, W))) return s;
    m->txt_pos = bind_vec(L, pos, 0, (size_t)a->text.context * (size_t)W);
    for (int i = 0; i < a->text.layers; i++)
        if ((s = bind_block(L, L->tp, i, PE_LAYOUT_OFFICIAL, PE_FFN_GELU, &m->txt, &m->txt.blocks[i])))
            return pe_error_prefix(s, "text");
    if ((s = vec_slot(L, L->tp, PE_LAYOUT_OFFICIAL, PE_SLOT_LN_FINAL_W, 1, W, &m->ln_final_w)) ||
        (s = vec_slot(L, L->tp, PE_LAYOUT_OFFICIAL, PE_SLOT_LN_FINAL_B, 1, W, &m->ln_final_b)))
        return s;
    const pe_st_tensor *tp = txt(L, PE_SLOT_TEXT_PROJ);
    if (!tp || tp->rank != 2 || tp->shape[0] != W || tp->shape[1] < 1 || tp->shape[1] > 65536)
        return pe_error(PE_ERR_SHAPE, "text_projection missing or not [%d, D]", W);
    if ((s = want_w(L, tp, "text_projection", tp->numel, 0)) ||
        (s = pack_linear(L, &m->txt_proj, tp, 0, (int)tp->shape[1], W, 1)))
        return s;
    m->txt_proj.b = NULL;
    const float *lsv;
    if ((s = vec_slot(L, L->tp, PE_LAYOUT_OFFICIAL, PE_SLOT_LOGIT_SCALE, 1, 1, &lsv))) return s;
    if (lsv) m->logit_scale = expf(*lsv);
    a->text.out_dim = m->txt_proj.n;
    m->info.logit_scale = m->logit_scale;
    return PE_OK;
}

/* Conversion scratch: one panel of the widest linear row.  A tensor is
 * packed as [shape[0], the product of the rest] (conv1 [W, 3, P, P] has rows
 * of 3*P*P, wider than any one dimension) or as its transpose. */
static size_t panel_scratch_floats(const pe_model *m) {
    int64_t mx = 1;
    for (int i = 0; i < m->st.n_tensors; i++) {
        const pe_st_tensor *t = &m->st.tensors[i];
        int64_t rest = 1;
        for (int d = 1; d < t->rank; d++) rest *= t->shape[d];
        if (t->rank) mx = PE_MAX(mx, PE_MAX(t->shape[0], rest));
    }
    return (size_t)PE_GEMM_NR * (size_t)mx;
}

/* Quantized files (`pecore quantize`): "pecore_format" = PE_QFORMAT, and for every
 * tensor stored in a kernel layout a key "pecore.packed.NAME" = "TYPE RANK
 * D0 .. [t]": the U8 tensor NAME holds the logical tensor [D0, ..] packed as
 * the linear weight [D0, D1*..] (or, with "t", its transpose [D1, D0]) in
 * the layout of quant.h.  The tensor gets its logical shape back here, so
 * the rest of the loader sees the shapes of the original file. */
#define PACKED_KEY "pecore.packed."

static pe_status bind_all(loader *Lp);

static pe_status read_packed(pe_model *m, uint8_t **out) {
    *out = NULL;
    int any = 0;
    for (int i = 0; i < m->st.n_meta; i++) any |= !strncmp(m->st.meta[i].key, PACKED_KEY, strlen(PACKED_KEY));
    if (!any) return PE_OK;
    const char *ver = pe_st_meta_get(&m->st, "pecore_format");
    if (!ver || strcmp(ver, PE_QFORMAT))
        return pe_error(PE_ERR_UNSUPPORTED,
                        "quantized file of pecore format %s (this build reads " PE_QFORMAT
                        "): quantize the original model again",
                        ver ? ver : "(missing)");
    uint8_t *pk = pe_calloc((size_t)m->st.n_tensors, 1);
    if (!pk) return PE_ERR_NOMEM;
    for (int i = 0; i < m->st.n_meta; i++) {
        const char *key = m->st.meta[i].key, *v = m->st.meta[i].value;
        if (strncmp(key, PACKED_KEY, strlen(PACKED_KEY))) continue;
        const char *name = key + strlen(PACKED_KEY);
        pe_st_tensor *t = (pe_st_tensor *)pe_st_find(&m->st, name);
        char type[8], flag[4] = "";
        long d[4] = {0};
        int rank = 0, used = 0;
        pe_wtype wt;
        if (!t) { pe_free(pk); return pe_error(PE_ERR_FORMAT, "metadata %s: no such tensor", key); }
        int got = sscanf(v, "%7s %d %n", type, &rank, &used);
        const char *p = v + used;
        int ok = got == 2 && !pe_wtype_parse(type, &wt) && wt != PE_WT_F32 && rank >= 1 && rank <= 4;
        for (int r = 0; ok && r < rank; r++) {
            int n = 0;
            ok = sscanf(p, "%ld%n", &d[r], &n) == 1 && d[r] >= 1 && d[r] <= (1L << 24);
            p += n;
        }
        if (ok && sscanf(p, " %3s", flag) == 1) ok = !strcmp(flag, "t") && rank == 2;
        int tr = flag[0] == 't';
        uint64_t numel = 1;
        for (int r = 0; ok && r < rank; r++) ok = pe_mul_u64(numel, (uint64_t)d[r], &numel);
        ok = ok && numel <= ((uint64_t)1 << 32);
        int64_t N = tr ? d[1] : d[0], K = ok ? (int64_t)(numel / (uint64_t)N) : 0;
        size_t bytes = ok && K <= (1 << 24) ? pe_qpack_bytes(wt, (int)N, (int)K) : 0;
        if (!ok || !bytes || t->dtype != PE_DT_U8 || t->rank != 1 || t->nbytes != bytes || pk[t - m->st.tensors]) {
            pe_free(pk);
            return pe_error(PE_ERR_FORMAT, "tensor %s: packed description '%s' does not match its "
                                           "%llu bytes of %s", name, v, (unsigned long long)t->nbytes,
                            pe_dtype_name(t->dtype));
        }
        t->rank = rank;
        for (int r = 0; r < rank; r++) t->shape[r] = d[r];
        t->numel = numel;
        pk[t - m->st.tensors] = (uint8_t)((1 + wt) | (tr ? 0x80 : 0));
        m->info.n_f16 += wt == PE_WT_F16;
        m->info.n_bf16 += wt == PE_WT_BF16;
        m->info.n_q8 += wt == PE_WT_Q8;
        m->info.n_q4 += wt == PE_WT_Q4;
    }
    *out = pk;
    return PE_OK;
}

pe_status pe_model_bind(pe_model *m, int vision_only) {
    loader L = {.m = m, .vision_only = vision_only};
    uint8_t *packed;
    pe_status s = pe_names_canonical(&m->st, &L.franca);
    if (s || (s = read_packed(m, &packed))) return s;
    L.packed = packed;
    L.claimed = pe_calloc((size_t)PE_MAX(m->st.n_tensors, 1), 1);
    s = L.claimed ? bind_all(&L) : PE_ERR_NOMEM;
    /* Nothing of the file may be left unread (a text tower skipped on
     * purpose aside): a tensor no part of the architecture uses means the
     * file is something else than what it was taken for. */
    if (!s)
        s = pe_names_check_claimed(&m->st, L.claimed, m->arch.family, L.vision_only ? L.vp : NULL,
                                   m->arch.name);
    if (!s) pe_arch_info(&m->arch, &m->info);
    pe_free(L.claimed);
    pe_free(packed);
    return s;
}

static pe_status bind_all(loader *Lp) {
    loader L = *Lp;
    pe_model *m = L.m;
    pe_status s = infer_vision(&L);
    Lp->vp = L.vp; /* for the check of unread tensors */
    if (s || (!L.vision_only && (s = infer_text(&L)))) return s;
    name_arch(&m->arch);
    const int text = m->arch.text.layers > 0;
    m->vis.blocks = pe_calloc((size_t)m->arch.layers, sizeof(pe_block));
    m->txt.blocks = text ? pe_calloc((size_t)m->arch.text.layers, sizeof(pe_block)) : NULL;
    if (!m->vis.blocks || (text && !m->txt.blocks)) return PE_ERR_NOMEM;

    /* Pass 1 sizes the arena, pass 2 fills it. The conversion scratch sits
     * at its end, so the whole load touches one huge-page-backed region. */
    L.dry = 1;
    if ((s = bind_vision(&L)) || (text && (s = bind_text(&L)))) return s;
    size_t tmp_bytes = panel_scratch_floats(m) * sizeof(float);
    m->arena_bytes = L.used + tmp_bytes;
    const size_t huge = (size_t)2 << 20;
    m->map_bytes = m->arena_bytes + huge;
    void *a = mmap(NULL, m->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return pe_error(PE_ERR_NOMEM, "cannot allocate %zu bytes for the weights", m->arena_bytes);
    m->map = a;
    /* 2 MiB alignment lets the kernel back the arena with huge pages: one
     * fault per 2 MiB instead of per 4 KiB (first touch dominates load). */
    m->arena = (uint8_t *)(((uintptr_t)a + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
    madvise(m->arena, m->arena_bytes, MADV_HUGEPAGE);
#endif
    L.tmp = (float *)(m->arena + L.used);
    L.dry = 0;
    L.used = 0;
    s = bind_vision(&L);
    if (!s && text) s = bind_text(&L);
    return s;
}

void pe_model_unbind(pe_model *m) {
    if (m->map) munmap(m->map, m->map_bytes);
    m->map = NULL;
    m->arena = NULL;
    pe_free(m->f16_arena);
    m->f16_arena = NULL;
    m->f16_ready = 0;
    pe_free(m->vis.blocks);
    pe_free(m->txt.blocks);
    m->vis.blocks = m->txt.blocks = NULL;
}
