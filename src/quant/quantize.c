/* `pecore quantize`: a copy of a model file with its linear weights stored in
 * the kernels' own layouts (f16 / bf16 panels, q8 / q4 tiles; quant.h), so
 * the loader maps them with zero copy.  The file is safetensors with pecore
 * metadata (load.c, read_packed): format version, weight type, the source's
 * SHA-256, architecture and heads, and per packed tensor its logical shape.
 * Small or sensitive tensors (patch embedding, position embedding, class
 * token, probe, token embedding) are stored as F16 (BF16 for bf16), norms,
 * biases and other vectors as F32; --keep patterns keep tensors as they are.
 * Each linear weight may get its own type (rules, the q4 default policy), and
 * vision_only drops the text tower and writes the vision tower under bare
 * official names, as a vision-only checkpoint is named. */
#include "../model/model.h"
#include "../model/names.h"
#include "quant_internal.h"

#include "../format/pt.h"
#include "../kernels/quant.h"
#include "../util/sha256.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a tensor is used: -1 not a linear weight, 0 linear [N, K], 1 linear
 * stored transposed ([K, N], used as x @ t). */
static int linear_use(const pe_st_tensor *t) {
    if (t->rank != 2) return -1;
    const char *dot = strrchr(t->name, '.');
    const char *base = dot ? dot + 1 : t->name;
    if (!strcmp(base, "proj") || !strcmp(t->name, "text_projection") ||
        strstr(t->name, ".text_projection"))
        return 1;
    if (strstr(t->name, "positional_embedding") || strstr(t->name, "pos_embed") ||
        strstr(t->name, "token_embedding") || !strcmp(t->name, "mask_token"))
        return -1;
    /* SwiGLU's w12 splits at row h: a panel boundary only if h % 16 == 0 */
    if (strstr(t->name, "mlp.w12.weight") && (t->shape[0] / 2) % PE_GEMM_NR) return -1;
    /* official attention pooling splits in_proj at row W: a panel boundary only if W % 16 == 0 */
    if (strstr(t->name, "attn_pool.attn.in_proj_weight") && (t->shape[0] / 3) % PE_GEMM_NR)
        return -1;
    return 0;
}

/* pat matches name: a comma-separated list of fnmatch globs or (substr)
 * substrings. */
static int matches(const char *name, const char *pat, int substr) {
    if (!pat || !*pat) return 0;
    char buf[256];
    while (*pat) {
        size_t n = strcspn(pat, ",");
        if (n && n < sizeof buf) {
            memcpy(buf, pat, n);
            buf[n] = 0;
            if (!fnmatch(buf, name, 0) || (substr && strstr(name, buf))) return 1;
        }
        pat += n + (pat[n] == ',');
    }
    return 0;
}

/* q4's default policy (globs only): these stay q8.  The attention
 * projections of every block, the whole attention pooling head and the
 * output projections, official and timm names.  On the golden T16 pure q4
 * gives cosine 0.959 to the source; this 0.994, for 27% more bytes (README). */
static const char *const q4_keep_q8 =
    "*attn.in_proj_weight,*attn.out_proj.weight,*attn.qkv.weight,*attn.proj.weight,"
    "attn_pool.*,*.attn_pool.*,proj,*.proj,head.weight,*.head.weight,"
    "text_projection,*.text_projection";

static int wtype_of(pe_weight_type t, pe_wtype *wt) {
    *wt = PE_WT_F32;
    switch (t) {
    case PE_WEIGHTS_F16: *wt = PE_WT_F16; return 0;
    case PE_WEIGHTS_BF16: *wt = PE_WT_BF16; return 0;
    case PE_WEIGHTS_Q8: *wt = PE_WT_Q8; return 0;
    case PE_WEIGHTS_Q4: *wt = PE_WT_Q4; return 0;
    default: return -1;
    }
}

/* The type of one linear weight: the base type, then q4's default policy,
 * then the caller's rules in order; the last match wins.  hits (may be
 * NULL) counts the weights each rule matched. */
static pe_wtype type_for(const char *name, const pe_quantize_options *o, int *hits) {
    pe_wtype wt;
    wtype_of(o->type, &wt);
    if (wt == PE_WT_Q4 && matches(name, q4_keep_q8, 0)) wt = PE_WT_Q8;
    for (int r = 0; r < o->n_rules; r++)
        if (matches(name, o->rules[r].patterns, 1)) {
            wtype_of(o->rules[r].type, &wt);
            if (hits) hits[r]++;
        }
    return wt;
}

/* Packs tensor ti of st (as the plan has it) as the linear weight [N, K]
 * (transposed: t is [K, N]); returns how many of its values are NaN or
 * infinite (a damaged checkpoint: the caller refuses it rather than
 * quantizing them to something finite). */
static uint64_t pack_tensor(const pe_qplan *plan, const pe_safetensors *st, int ti, int transposed,
                            pe_wtype wt, uint8_t *dst, float *tmp) {
    const pe_st_tensor *t = &st->tensors[ti];
    const int N = (int)(transposed ? t->shape[1] : t->shape[0]);
    const int K = (int)(t->numel / (uint64_t)N);
    const size_t pb = pe_qpack_panel_bytes(wt, K);
    uint64_t bad = 0;
    for (int p0 = 0; p0 < N; p0 += PE_GEMM_NR) {
        int rows = PE_MIN(PE_GEMM_NR, N - p0);
        for (int j = 0; j < rows; j++)
            for (int k = 0; k < K; k++) {
                float v = pe_qplan_elem(plan, st, ti, transposed ? (uint64_t)k * N + (uint64_t)(p0 + j)
                                                                 : (uint64_t)(p0 + j) * K + (uint64_t)k);
                bad += !isfinite(v);
                tmp[(size_t)j * K + k] = v;
            }
        if (!plan || !plan->t[ti].packed) pe_qpack_panel(wt, dst + (size_t)(p0 / PE_GEMM_NR) * pb, tmp, rows, K, K);
    }
    if (plan && plan->t[ti].packed) memcpy(dst, plan->t[ti].packed, pe_qpack_bytes(wt, N, K));
    return bad;
}

typedef struct qout {
    pe_st_out *t;
    void **bufs;
    pe_st_meta *meta;
    char **strs;              /* owned metadata strings */
    int n, n_meta, n_strs;
} qout;

static char *own(qout *o, const char *fmt, ...) PE_PRINTF(2, 3);
static char *own(qout *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = strdup(buf);
    if (s) o->strs[o->n_strs++] = s;
    return s;
}

static pe_status add_meta(qout *o, const char *k, const char *v) {
    if (!k || !v) return pe_error(PE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < o->n_meta; i++)
        if (!strcmp(o->meta[i].key, k)) { o->meta[i].value = (char *)v; return PE_OK; }
    o->meta[o->n_meta].key = (char *)k;
    o->meta[o->n_meta].value = (char *)v;
    o->n_meta++;
    return PE_OK;
}

/* The name t gets in the output, or NULL when it is left out: with
 * vision_only, everything outside the vision tower (prefix vp) and the
 * tokenizer vocabulary; the vision tower loses its prefix. */
static const char *out_name(const pe_st_tensor *t, const char *vp, int vision_only) {
    if (pe_names_ignored(PE_FAMILY_DINOV2, t->name) && strcmp(t->name, "pecore.vocab_bpe_gz")) return NULL; /* training heads */
    if (!vision_only) return t->name;
    if (!strcmp(t->name, "pecore.vocab_bpe_gz")) return NULL;
    size_t n = strlen(vp);
    return strncmp(t->name, vp, n) ? NULL : t->name + n;
}

/* One output tensor; packed ones are placed first by the caller's order. */
/* The float columns of linear ti (plan) as two tensors beside its weight:
 * NAME.pecore_fcols (I32 indices) and NAME.pecore_fcols_w (F32 [N, n]),
 * NAME its output name without ".weight" (load.c, bind_fcols). */
static pe_status add_fcols(qout *o, const pe_qplan *plan, int ti, const char *name, int N) {
    const int n = plan->t[ti].n_fcols;
    const size_t stem = strlen(name) > 7 ? strlen(name) - 7 : 0;
    pe_st_out *a = &o->t[o->n++], *b = &o->t[o->n++];
    *a = (pe_st_out){.name = own(o, "%.*s.pecore_fcols", (int)stem, name), .dtype = PE_DT_I32, .rank = 1,
                     .shape = {n}, .data = plan->t[ti].fcols};
    *b = (pe_st_out){.name = own(o, "%.*s.pecore_fcols_w", (int)stem, name), .dtype = PE_DT_F32, .rank = 2,
                     .shape = {N, n}, .data = plan->t[ti].fcol_w};
    return a->name && b->name ? PE_OK : pe_error(PE_ERR_NOMEM, "out of memory");
}

static pe_status convert_one(qout *o, const pe_qplan *plan, const pe_safetensors *st, int ti,
                             const char *name, const pe_quantize_options *opt, float *tmp, int want_packed) {
    const pe_st_tensor *t = &st->tensors[ti];
    int use = linear_use(t);
    int keep_it = matches(t->name, opt->keep, 1);
    int packed = use >= 0 && !keep_it;
    if (packed != want_packed) /* float columns go with the vectors: packed tensors stay aligned */
        return packed && plan && plan->t[ti].n_fcols ? add_fcols(o, plan, ti, name, (int)t->shape[0]) : PE_OK;
    pe_wtype base;
    wtype_of(opt->type, &base);
    pe_st_out *out = &o->t[o->n];
    memset(out, 0, sizeof *out);
    out->name = name;
    if (packed) {
        const pe_wtype wt = type_for(t->name, opt, NULL);
        const int N = (int)(use ? t->shape[1] : t->shape[0]);
        const int K = (int)(t->numel / (uint64_t)N);
        size_t bytes = pe_qpack_bytes(wt, N, K);
        if (!bytes) return pe_error(PE_ERR_LIMIT, "tensor %s: too large to pack", t->name);
        uint8_t *buf = malloc(bytes);
        if (!buf) return pe_error(PE_ERR_NOMEM, "out of memory for tensor %s", t->name);
        o->bufs[o->n] = buf;
        uint64_t bad = pack_tensor(plan, st, ti, use, wt, buf, tmp);
        if (bad)
            return pe_error(PE_ERR_FORMAT, "tensor %s: %llu NaN or infinite values; not quantizing a damaged model",
                            t->name, (unsigned long long)bad);
        out->dtype = PE_DT_U8;
        out->rank = 1;
        out->shape[0] = (int64_t)bytes;
        out->data = buf;
        char *key = own(o, "pecore.packed.%s", name);
        char *val = own(o, "%s 2 %lld %lld%s", pe_wtype_name(wt), (long long)t->shape[0],
                        (long long)t->shape[1], use ? " t" : "");
        pe_status s = add_meta(o, key, val);
        if (s) return s;
        o->n++;
        return PE_OK;
    }
    out->rank = t->rank;
    for (int d = 0; d < t->rank; d++) out->shape[d] = t->shape[d];
    /* Vectors stay F32; tables and the patch embedding go to half precision. */
    int half = !keep_it && t->dtype == PE_DT_F32 && t->numel > 4096;
    if (plan && plan->t[ti].val) { /* a vector the plan changed (a smoothed LayerNorm) */
        out->dtype = PE_DT_F32;
        out->data = plan->t[ti].val;
    } else if (!half) {
        out->dtype = t->dtype;
        out->data = t->data;
    } else {
        uint16_t *buf = malloc((size_t)t->numel * 2);
        if (!buf) return pe_error(PE_ERR_NOMEM, "out of memory for tensor %s", t->name);
        o->bufs[o->n] = buf;
        const int bf = base == PE_WT_BF16;
        for (uint64_t i = 0; i < t->numel; i++) {
            float v = pe_qplan_elem(NULL, st, ti, i);
            buf[i] = bf ? pe_f32_to_bf16(v) : pe_f32_to_f16(v);
        }
        out->dtype = bf ? PE_DT_BF16 : PE_DT_F16;
        out->data = buf;
    }
    o->n++;
    return PE_OK;
}

static const char *type_name(pe_weight_type t) {
    pe_wtype wt;
    return wtype_of(t, &wt) ? "?" : pe_wtype_name(wt);
}

/* Arguments, before anything is read. */
static pe_status check_options(const pe_quantize_options *o) {
    pe_wtype wt;
    if (wtype_of(o->type, &wt))
        return pe_error(PE_ERR_INVALID_ARG, "quantize: type must be f16, bf16, q8 or q4");
    if (o->n_rules < 0 || (o->n_rules && !o->rules))
        return pe_error(PE_ERR_INVALID_ARG, "quantize: n_rules is %d but rules is %s", o->n_rules,
                        o->rules ? "set" : "NULL");
    for (int r = 0; r < o->n_rules; r++) {
        const char *p = o->rules[r].patterns;
        if (wtype_of(o->rules[r].type, &wt))
            return pe_error(PE_ERR_INVALID_ARG, "quantize: rule %d: type must be f16, bf16, q8 or q4", r + 1);
        if (!p || !*p)
            return pe_error(PE_ERR_INVALID_ARG, "quantize: rule %d (%s): no pattern", r + 1, type_name(o->rules[r].type));
        for (const char *q = p; *q;) {
            size_t n = strcspn(q, ",");
            if (n == 0 || n > 255)
                return pe_error(PE_ERR_INVALID_ARG, "quantize: rule %s:%s: %s", type_name(o->rules[r].type),
                                p, n ? "a pattern over 255 characters" : "an empty pattern");
            q += n + (q[n] == ',');
            if (q[-1] == ',' && !*q)
                return pe_error(PE_ERR_INVALID_ARG, "quantize: rule %s:%s: an empty pattern",
                                type_name(o->rules[r].type), p);
        }
    }
    return PE_OK;
}

/* Every rule must choose the type of some linear weight of the output: a
 * rule that matches none is almost always a misspelt pattern. */
static pe_status check_rules_hit(const pe_safetensors *st, const char *vp, const pe_quantize_options *o) {
    if (!o->n_rules) return PE_OK;
    int *hits = calloc((size_t)o->n_rules, sizeof *hits);
    if (!hits) return pe_error(PE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < st->n_tensors; i++) {
        const pe_st_tensor *t = &st->tensors[i];
        if (out_name(t, vp, o->vision_only) && linear_use(t) >= 0 && !matches(t->name, o->keep, 1))
            type_for(t->name, o, hits);
    }
    pe_status s = PE_OK;
    for (int r = 0; r < o->n_rules && !s; r++)
        if (!hits[r])
            s = pe_error(PE_ERR_NOT_FOUND, "quantize: rule %s:%s matches no linear weight%s",
                         type_name(o->rules[r].type), o->rules[r].patterns,
                         o->vision_only ? " of the vision tower" : "");
    free(hits);
    return s;
}

/* The type the output gives linear weight ti, or f32 for anything else. */
typedef struct typing {
    const pe_safetensors *st;
    const pe_quantize_options *opt;
} typing;

static pe_wtype type_of_tensor(void *u, int ti) {
    const typing *ty = u;
    const pe_st_tensor *t = &ty->st->tensors[ti];
    if (linear_use(t) < 0 || matches(t->name, ty->opt->keep, 1)) return PE_WT_F32;
    return type_for(t->name, ty->opt, NULL);
}

static int any_int8(const pe_quantize_options *o) {
    int r = o->type == PE_WEIGHTS_Q8 || o->type == PE_WEIGHTS_Q4;
    for (int i = 0; i < o->n_rules; i++) r |= o->rules[i].type == PE_WEIGHTS_Q8 || o->rules[i].type == PE_WEIGHTS_Q4;
    return r;
}

/* The plan for int8 weights: calibration, smoothing, float columns and
 * error-compensated rounding (quant_internal.h).  have_cal says cal was filled. */
static pe_status make_plan(const pe_model *m, const pe_quantize_options *opt, pe_qplan *plan,
                           pe_calib *cal, int *have_cal) {
    typing ty = {&m->st, opt};
    pe_status s = pe_qplan_init(plan, m);
    if (!s && opt->n_calib) {
        s = pe_calib_run(m, opt, cal);
        *have_cal = !s;
    }
    if (!s) s = pe_quant_smooth(plan, m, *have_cal ? cal : NULL, opt->without, type_of_tensor, &ty);
    for (int i = 0; i < plan->layers && !s && *have_cal && !(opt->without & PE_QUANT_NO_GPTQ); i++) {
        const pe_qblock *b = &plan->blk[i];
        const int lin[4] = {b->qkvw, b->outw, b->fcw, b->projw};
        const int site[4] = {PE_OBS_QKV, PE_OBS_OUT, PE_OBS_FC, PE_OBS_PROJ};
        for (int j = 0; j < 4 && !s; j++) {
            const pe_wtype wt = lin[j] >= 0 ? type_of_tensor(&ty, lin[j]) : PE_WT_F32;
            if (pe_wtype_int8(wt))
                s = pe_quant_gptq(plan, &m->st, lin[j], wt, pe_calib_at(cal, i, site[j]));
        }
        if (opt->progress) opt->progress(opt->user, "rounding (GPTQ)", (double)(i + 1) / plan->layers);
    }
    return s;
}

/* The metadata of the output: the source's (less the text heads of a
 * vision-only file), the format, type, source SHA-256, architecture, heads. */
static pe_status add_file_meta(qout *o, const pe_model *m, const pe_quantize_options *opt, pe_wtype wt) {
    const pe_safetensors *st = &m->st;
    const pe_model_info *in = &m->info;
    pe_status s = PE_OK;
    for (int i = 0; i < st->n_meta && !s; i++)
        if (!opt->vision_only || strcmp(st->meta[i].key, "text_heads"))
            s = add_meta(o, st->meta[i].key, st->meta[i].value);
    uint8_t dig[32];
    char hex[65];
    pe_sha256(st->base, st->size, dig);
    pe_sha256_hex(dig, hex);
    if (!s) s = add_meta(o, "pecore_format", PE_QFORMAT);
    if (!s) s = add_meta(o, "pecore_type", pe_wtype_name(wt));
    if (!s) s = add_meta(o, "pecore_source_sha256", own(o, "%s", hex));
    if (!s) s = add_meta(o, "pecore_arch", own(o, "%s", in->arch));
    if (!s) s = add_meta(o, "vision_heads", own(o, "%d", in->heads));
    if (!s && in->pool == PE_POOL_ATTN) s = add_meta(o, "attn_pooler_heads", own(o, "%d", in->pool_heads));
    if (!s && in->has_text) s = add_meta(o, "text_heads", own(o, "%d", in->text_heads));
    if (!s && pe_arch_dinov2(&m->arch) && !pe_st_meta_get(st, "pecore.family"))
        s = add_meta(o, "pecore.family", own(o, "%s", pe_family_name(in->family)));
    return s;
}

pe_status pe_quantize(const char *in_path, const char *out_path, const pe_quantize_options *opt) {
    if (!in_path || !out_path || !opt) return pe_error(PE_ERR_INVALID_ARG, "pe_quantize: NULL argument");
    pe_status s = check_options(opt);
    if (s) return s;
    if (opt->without & ~(unsigned)(PE_QUANT_NO_SMOOTH | PE_QUANT_NO_FCOLS | PE_QUANT_NO_GPTQ))
        return pe_error(PE_ERR_INVALID_ARG, "quantize: unknown methods in without (0x%x)", opt->without);
    if (opt->n_calib < 0 || (opt->n_calib && !opt->calib_image))
        return pe_error(PE_ERR_INVALID_ARG, "quantize: n_calib is %d but calib_image is %s", opt->n_calib,
                        opt->calib_image ? "set" : "NULL");
    pe_wtype wt;
    wtype_of(opt->type, &wt);
    /* Loading first checks the source is a model pecore runs and gives its
     * architecture and heads (a .pt carries none in metadata). */
    pe_model *m;
    pe_model_options lo = {.vision_only = opt->vision_only};
    if ((s = pe_model_load(in_path, &lo, &m))) return s;
    const pe_safetensors *st = &m->st;
    for (int i = 0; i < st->n_meta; i++)
        if (!strncmp(st->meta[i].key, "pecore.packed.", 14)) {
            pe_model_free(m);
            return pe_error(PE_ERR_UNSUPPORTED, "%s is already quantized: quantize the original", in_path);
        }
    const char *vp = m->vision_prefix;
    if ((s = check_rules_hit(st, vp, opt))) { pe_model_free(m); return s; }
    pe_qplan plan_, *plan = NULL;
    pe_calib cal = {0};
    int have_cal = 0;
    if (!opt->plain && any_int8(opt)) {
        plan = &plan_;
        s = make_plan(m, opt, plan, &cal, &have_cal);
    }
    qout o = {0};
    int64_t widest = 1;
    for (int i = 0; i < st->n_tensors; i++)
        for (int d = 0; d < st->tensors[i].rank; d++) widest = PE_MAX(widest, st->tensors[i].shape[d]);
    const size_t n_out = 3 * (size_t)st->n_tensors; /* a linear with float columns writes three */
    o.t = calloc(n_out, sizeof *o.t);
    o.bufs = calloc(n_out, sizeof *o.bufs);
    o.meta = calloc((size_t)(st->n_tensors + st->n_meta + 16), sizeof *o.meta);
    o.strs = calloc(2 * n_out + 16, sizeof *o.strs);
    float *tmp = malloc((size_t)PE_GEMM_NR * (size_t)widest * sizeof(float));
    if (!s && (!o.t || !o.bufs || !o.meta || !o.strs || !tmp)) s = pe_error(PE_ERR_NOMEM, "out of memory");
    if (s) goto done;
    s = add_file_meta(&o, m, opt, wt);
    pe_quant_report rep_;
    pe_quant_report *rep = opt->report ? opt->report : &rep_;
    if (!s) pe_quant_report_init(rep, plan, have_cal ? &cal : NULL, opt->plain || !any_int8(opt));
    if (!s) s = add_meta(&o, "pecore_quant_method", own(&o, "%s", rep->method));
    /* Packed tensors first: their sizes are multiples of 32 bytes, so every
     * tensor after them keeps the alignment of its element size. */
    for (int pass = 1, done_n = 0; pass >= 0 && !s; pass--)
        for (int i = 0; i < st->n_tensors && !s; i++) {
            const char *name = out_name(&st->tensors[i], vp, opt->vision_only);
            if (name) s = convert_one(&o, plan, st, i, name, opt, tmp, pass);
            if (opt->progress) opt->progress(opt->user, "quantizing", (double)++done_n / (2 * st->n_tensors));
        }
    if (!s && have_cal) s = pe_quant_report_measure(rep, plan, m, &cal, type_of_tensor, &(typing){st, opt});
    if (!s) {
        if (opt->progress) opt->progress(opt->user, "writing", 0.0);
        s = pe_st_write(out_path, o.t, o.n, o.meta, o.n_meta);
        if (opt->progress && !s) opt->progress(opt->user, "writing", 1.0);
    }
    /* The figures measured on the written file travel with it: the same
     * tensors written again with them in the metadata. */
    if (!s && have_cal && !(s = pe_quant_report_compare(rep, out_path, &cal, opt))) {
        char line[4096];
        s = add_meta(&o, "pecore_quant_report", own(&o, "%s", pe_quant_report_json(rep, line, sizeof line)));
        if (!s) s = pe_st_write(out_path, o.t, o.n, o.meta, o.n_meta);
    }
done:
    for (size_t i = 0; o.bufs && i < n_out; i++) free(o.bufs[i]); /* a failed tensor leaves its buffer past o.n */
    for (int i = 0; i < o.n_strs; i++) free(o.strs[i]);
    free(o.t);
    free(o.bufs);
    free(o.meta);
    free(o.strs);
    free(tmp);
    if (plan) pe_qplan_free(plan);
    if (have_cal) pe_calib_free(&cal);
    pe_model_free(m);
    return s;
}
