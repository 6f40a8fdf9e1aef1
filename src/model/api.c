/* The public API of models and contexts: argument checks, then the forward
 * pass.  Nothing here allocates once a context has seen an input size. */
#include "f16_weights.h"
#include "forward.h"
#include "plan.h"

#include "../format/pt.h"
#include "../kernels/isa.h"
#include "../kernels/quant.h"
#include "../image/frame.h"
#include "../image/preprocess.h"

#include <stdio.h>
#include <string.h>

static pe_status check_out(size_t need, size_t have) {
    if (have < need)
        return pe_error(PE_ERR_INVALID_ARG, "output buffer holds %zu floats, %zu needed", have, need);
    return PE_OK;
}

/* Heads given by the caller override the file's metadata. */
static pe_status set_heads(pe_safetensors *st, const pe_model_options *opt) {
    const struct { int v; const char *key; } h[] = {
        {opt->vision_heads, "vision_heads"}, {opt->text_heads, "text_heads"},
        {opt->pool_heads, "attn_pooler_heads"}};
    for (int i = 0; i < 3; i++) {
        if (!h[i].v) continue;
        if (h[i].v < 0 || h[i].v > 4096)
            return pe_error(PE_ERR_INVALID_ARG, "%s %d out of 1..4096", h[i].key, h[i].v);
        char v[16];
        snprintf(v, sizeof v, "%d", h[i].v);
        pe_status s = pe_st_meta_set(st, h[i].key, v);
        if (s) return s;
    }
    return PE_OK;
}

pe_status pe_model_load(const char *path, const pe_model_options *opt, pe_model **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_model_load: out is NULL");
    *out = NULL;
    if (!path) return pe_error(PE_ERR_INVALID_ARG, "pe_model_load: path is NULL");
    pe_status s = pe_kernels_check();
    if (s) return s;
    pe_model *m = pe_calloc(1, sizeof *m);
    if (!m) return PE_ERR_NOMEM;
    /* By magic bytes: a zip is a torch.save checkpoint, else safetensors.
     * Errors of the open already name the path. */
    s = pe_weights_open(&m->st, path, opt ? opt->sha256_hex : NULL);
    if (!s && opt) s = set_heads(&m->st, opt);
    if (!s && (s = pe_model_bind(m, opt ? opt->vision_only : 0))) pe_error_prefix(s, "%s", path);
    if (s) {
        pe_model_free(m);
        return s;
    }
    pe_model_info *in = &m->info;
    in->file_bytes = m->st.size;
    in->n_tensors = m->st.n_tensors;
    for (int i = 0; i < m->st.n_tensors; i++) {
        const pe_st_tensor *t = &m->st.tensors[i];
        in->n_params += t->numel;
        in->n_f32 += t->dtype == PE_DT_F32;
        in->n_f16 += t->dtype == PE_DT_F16;
        in->n_bf16 += t->dtype == PE_DT_BF16;
    }
    in->fingerprint = pe_model_fingerprint(m);
    *out = m;
    return PE_OK;
}

void pe_model_free(pe_model *m) {
    if (!m) return;
    pe_model_unbind(m);
    pe_st_close(&m->st);
    pe_free(m);
}

pe_status pe_model_get_info(const pe_model *m, pe_model_info *info) {
    if (!m || !info) return pe_error(PE_ERR_INVALID_ARG, "pe_model_get_info: NULL argument");
    *info = m->info;
    return PE_OK;
}

const char *pe_model_meta(const pe_model *m, const char *key) {
    return m && key ? pe_st_meta_get(&m->st, key) : NULL;
}

/* Images per batch when pe_ctx_options leaves it open.  A batch pays when
 * a block's weights outweigh an image's activations (x, h, qkv, mlp): the
 * weights then stream from memory once per batch instead of once per image,
 * while the activations of a batch no longer stay in cache between steps
 * (T16-384 q8, 0.4 MB of weights per block against 4 MB of activations,
 * ran slower in batches of 8, bench/RESULTS.md).  So: about two images per
 * block's weights' worth of activations, 1..8, within 64 MiB. */
static int default_batch(const pe_model *m) {
    const pe_arch *a = &m->arch;
    if (!m->vis.layers) return 1;
    const pe_block *b = &m->vis.blocks[0];
    const pe_linear *l[] = {&b->qkv, &b->out, &b->fc, &b->fc_up, &b->proj};
    double weights = 0;
    for (int i = 0; i < 5; i++) {
        const int t = l[i]->wtype;
        const double bpe = t == PE_WT_F32 ? 4 : t == PE_WT_Q8 ? 1 : t == PE_WT_Q4 ? 0.5 : 2;
        weights += (double)l[i]->n * l[i]->k * bpe;
    }
    const double act = pe_arch_tokens(a, a->grid, a->grid) * (5.0 * a->width + a->mlp) * sizeof(float);
    const double nb = PE_MIN(2 * weights / act + 0.5, PE_MIN(8.0, (double)(64 << 20) / act));
    return nb < 1 ? 1 : (int)nb;
}

pe_status pe_ctx_create(const pe_model *m, const pe_ctx_options *opt, pe_ctx **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_ctx_create: out is NULL");
    *out = NULL;
    if (!m) return pe_error(PE_ERR_INVALID_ARG, "pe_ctx_create: model is NULL");
    pe_status s = pe_kernels_check();
    if (s) return s;
    if (opt && opt->n_threads < 0)
        return pe_error(PE_ERR_INVALID_ARG, "thread count %d is negative", opt->n_threads);
    /* the workers' cores (pe_cores); the default thread count is one per core */
    pe_cpuset cores;
    int n_cores, pin;
    s = pe_cpu_choose(opt ? opt->cores : PE_CORES_FAST, opt ? opt->cpu_mask : 0, &cores, &n_cores, &pin);
    if (s) return s;
    int n = opt && opt->n_threads > 0 ? opt->n_threads : PE_MIN(n_cores, 256);
    if (opt && (opt->max_batch < 0 || opt->max_batch > PE_MAX_BATCH))
        return pe_error(PE_ERR_INVALID_ARG, "max_batch %d out of 0..%d", opt->max_batch, PE_MAX_BATCH);
    const pe_f16kernels *fk = NULL;
    if (opt && opt->compute != PE_COMPUTE_F32 && opt->compute != PE_COMPUTE_F16)
        return pe_error(PE_ERR_INVALID_ARG, "compute %d is not PE_COMPUTE_F32 or PE_COMPUTE_F16", (int)opt->compute);
    if (opt && opt->compute == PE_COMPUTE_F16) {
        if (!(fk = pe_f16kernels_get())) return PE_ERR_UNSUPPORTED; /* the message is set */
        if ((s = pe_model_f16_prepare(m))) return s;
    }
    pe_ctx *c = pe_calloc(1, sizeof *c);
    if (!c) return PE_ERR_NOMEM;
    c->m = m;
    c->fk = fk;
    c->k = pe_kernels_get();
    c->qk = pe_qkernels_get();
    c->n_threads = n;
    int dh = PE_MAX(m->arch.head_dim, m->arch.width / PE_MAX(m->arch.pool_heads, 1));
    if (m->arch.text.layers) dh = PE_MAX(dh, m->txt.head_dim);
    c->att_floats = (pe_attention_scratch_floats(dh) + 15) & ~(size_t)15;
    c->max_batch = opt && opt->max_batch ? opt->max_batch : default_batch(m);
    s = pe_pool_create_on(n, pin ? &cores : NULL, &c->pool);
    /* Plan the scratch for the native size now, so the first image does not
     * pay for it. */
    if (!s) s = pe_plan_vision(c, m->arch.grid, m->arch.grid, 1);
    if (!s && m->arch.text.layers) s = pe_plan_text(c);
    if (s) { pe_ctx_free(c); return s; }
    *out = c;
    return PE_OK;
}

int pe_ctx_threads(const pe_ctx *c) { return c ? c->n_threads : 0; }

void pe_ctx_free(pe_ctx *c) {
    if (!c) return;
    pe_pool_free(c->pool);
    pe_free(c->qact[0]);
    pe_free(c->qact[1]);
    pe_free(c->fside);
    pe_free(c->qatt);
    pe_free(c->rows);
    pe_free(c->grid);
    pe_free(c->img_scratch);
    pe_free(c->img);
    pe_free(c);
}

pe_status pe_model_flops(const pe_model *m, int height, int width, double *flops) {
    if (!m || !flops) return pe_error(PE_ERR_INVALID_ARG, "pe_model_flops: NULL argument");
    pe_output kind = m->arch.pool != PE_POOL_NONE ? PE_OUTPUT_EMBEDDING : PE_OUTPUT_TOKENS;
    pe_status s = pe_forward_check(m, height, width, kind, NULL, NULL);
    if (s) return s;
    *flops = pe_arch_flops(&m->arch, height / m->arch.patch, width / m->arch.patch, m->pool_fc.n);
    return PE_OK;
}

pe_status pe_output_shape(const pe_model *m, int height, int width, pe_output kind, int *rows,
                          int *cols) {
    if (!m) return pe_error(PE_ERR_INVALID_ARG, "pe_output_shape: model is NULL");
    return pe_forward_check(m, height, width, kind, rows, cols);
}

pe_status pe_encode_f32(pe_ctx *c, const float *x, int n, int height, int width, pe_output kind,
                        float *out, size_t out_len) {
    if (!c || !x || !out || n < 1)
        return pe_error(PE_ERR_INVALID_ARG, "pe_encode_f32: NULL argument or batch of %d", n);
    int rows, cols;
    pe_status s = pe_forward_check(c->m, height, width, kind, &rows, &cols);
    if (s) return s;
    size_t per = (size_t)rows * cols, img = (size_t)3 * height * width;
    if ((s = check_out(per * (size_t)n, out_len))) return s;
    for (int i = 0; i < n; i += c->max_batch) {
        int b = PE_MIN(c->max_batch, n - i);
        if ((s = pe_forward_images(c, x + img * i, b, height, width, kind, out + per * i, NULL)))
            return s;
    }
    return PE_OK;
}

pe_status pe_encode_stages(pe_ctx *c, const float *x, int height, int width, float *out,
                           size_t out_len, int *n_stages) {
    if (!c || !x || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_encode_stages: NULL argument");
    int rows, cols;
    pe_status s = pe_forward_check(c->m, height, width, PE_OUTPUT_TOKENS, &rows, &cols);
    if (s) return s;
    int ns = c->m->arch.layers + 3;
    if ((s = check_out((size_t)ns * rows * cols, out_len))) return s;
    if (n_stages) *n_stages = ns;
    return pe_forward_images(c, x, 1, height, width, PE_OUTPUT_TOKENS, NULL, out);
}

/* pp, or the model's eval transform when NULL; sizes of 0 = native. */
static void resolve_pp(const pe_model *m, const pe_preprocess *pp, pe_preprocess *r) {
    if (pp) *r = *pp;
    else pe_preprocess_init(m->arch.transform, 0, r);
    if (r->height == 0) r->height = m->arch.grid * m->arch.patch;
    if (r->width == 0) r->width = m->arch.grid * m->arch.patch;
}

/* The context's input tensor c->img, grown to hold floats. */
static pe_status img_tensor(pe_ctx *c, size_t floats) {
    if (floats <= c->img_floats) return PE_OK;
    pe_free(c->img);
    c->img_floats = 0;
    if (!(c->img = pe_alloc(floats * sizeof(float)))) return PE_ERR_NOMEM;
    c->img_floats = floats;
    return PE_OK;
}

/* Preprocesses a pixel source (an image or a frame) into out (NULL: the
 * context's input tensor) with the context's scratch, which grows only for
 * a larger size. */
static pe_status preprocess_source(pe_ctx *c, pe_pixel_source *src, const pe_preprocess *r,
                                   float *out) {
    size_t need;
    pe_status s = pe_source_scratch(src, r, &need);
    if (s) return s;
    if (need > c->img_scratch_bytes) {
        pe_free(c->img_scratch);
        c->img_scratch_bytes = 0;
        if (!(c->img_scratch = pe_alloc(need))) return PE_ERR_NOMEM;
        c->img_scratch_bytes = need;
    }
    if (!out && (s = img_tensor(c, (size_t)3 * r->height * r->width))) return s;
    return pe_source_to_tensor(src, r, out ? out : c->img, c->img_scratch, c->img_scratch_bytes);
}

static pe_status encode_source(pe_ctx *c, pe_pixel_source *src, const pe_preprocess *pp,
                               pe_output kind, float *out, size_t out_len) {
    pe_preprocess r;
    resolve_pp(c->m, pp, &r);
    int rows, cols;
    pe_status s = pe_forward_check(c->m, r.height, r.width, kind, &rows, &cols);
    if (s || (s = check_out((size_t)rows * cols, out_len))) return s;
    if ((s = preprocess_source(c, src, &r, NULL))) return s;
    return pe_forward_images(c, c->img, 1, r.height, r.width, kind, out, NULL);
}

pe_status pe_encode_image(pe_ctx *c, const pe_image *img, const pe_preprocess *pp,
                          pe_output kind, float *out, size_t out_len) {
    if (!c || !img || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_encode_image: NULL argument");
    pe_image_source src;
    pe_status s = pe_image_source_init(img, &src);
    return s ? s : encode_source(c, &src.base, pp, kind, out, out_len);
}

pe_status pe_encode_images(pe_ctx *c, const pe_image *imgs, int n, const pe_preprocess *pp,
                           pe_output kind, float *out, size_t out_len) {
    if (!c || !imgs || !out || n < 1)
        return pe_error(PE_ERR_INVALID_ARG, "pe_encode_images: NULL argument or batch of %d", n);
    pe_preprocess r;
    resolve_pp(c->m, pp, &r);
    int rows, cols;
    pe_status s = pe_forward_check(c->m, r.height, r.width, kind, &rows, &cols);
    const size_t per = (size_t)rows * cols, floats = (size_t)3 * r.height * r.width;
    if (s || (s = check_out(per * (size_t)n, out_len))) return s;
    if ((s = img_tensor(c, floats * (size_t)PE_MIN(n, c->max_batch)))) return s;
    for (int i = 0; i < n; i += c->max_batch) {
        const int b = PE_MIN(c->max_batch, n - i);
        for (int j = 0; j < b; j++) {
            pe_image_source src;
            if ((s = pe_image_source_init(&imgs[i + j], &src)) ||
                (s = preprocess_source(c, &src.base, &r, c->img + floats * j))) {
                pe_error_prefix(s, "image %d", i + j);
                return s;
            }
        }
        if ((s = pe_forward_images(c, c->img, b, r.height, r.width, kind, out + per * i, NULL)))
            return s;
    }
    return PE_OK;
}

pe_status pe_ctx_preprocess_frame(pe_ctx *c, const pe_frame *f, const pe_preprocess *pp,
                                  float *out, size_t out_len) {
    if (!c || !f || !out)
        return pe_error(PE_ERR_INVALID_ARG, "pe_ctx_preprocess_frame: NULL argument");
    pe_preprocess r;
    resolve_pp(c->m, pp, &r);
    pe_frame_source src;
    pe_status s = pe_frame_source_init(f, &src);
    if (s || (s = check_out((size_t)3 * r.height * r.width, out_len))) return s;
    return preprocess_source(c, &src.base, &r, out);
}

pe_status pe_encode_frame(pe_ctx *c, const pe_frame *f, const pe_preprocess *pp, pe_output kind,
                          float *out, size_t out_len) {
    if (!c || !f || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_encode_frame: NULL argument");
    pe_frame_source src;
    pe_status s = pe_frame_source_init(f, &src);
    return s ? s : encode_source(c, &src.base, pp, kind, out, out_len);
}

pe_status pe_encode_text(pe_ctx *c, const int32_t *ids, int n, int context_len, float *out,
                         size_t out_len) {
    if (!c || !ids || !out || n < 1)
        return pe_error(PE_ERR_INVALID_ARG, "pe_encode_text: NULL argument or batch of %d", n);
    const pe_arch *a = &c->m->arch;
    if (!a->text.layers) return pe_error(PE_ERR_UNSUPPORTED, "this model file has no text tower");
    if (context_len < 1 || context_len > a->text.context)
        return pe_error(PE_ERR_SHAPE, "context length %d: the text tower takes 1..%d tokens",
                        context_len, a->text.context);
    const size_t D = (size_t)a->text.out_dim;
    pe_status s = check_out(D * (size_t)n, out_len);
    for (int i = 0; !s && i < n; i++)
        s = pe_forward_text(c, ids + (size_t)i * context_len, context_len, out + D * i);
    return s;
}
