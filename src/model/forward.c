/* The forward passes as a graph of steps (ops.c) on a context's planned
 * scratch (plan.c).  Read top to bottom: block() is the transformer block
 * both towers share; tokens_batch() takes images through the patch
 * embedding and the blocks, then pool_one() (attention pooling), the class
 * token or linear4_one() make the outputs (pe_forward_images); text runs
 * tokens -> causal blocks -> the end-of-text row (pe_forward_text).  The
 * DINOv2 family runs the same graph with the switches of its description
 * (arch.h): register tokens, no RoPE, a SwiGLU FFN, LayerNorm eps 1e-6,
 * bicubic position resampling and the class token as embedding. */
#include "forward.h"

#include "ops.h"
#include "plan.h"

#include <string.h>

/* ------------------------------------------------------------ blocks */

/* x [nimg * T, W] += ls1 * attn(ln_1(x)); x += ls2 * mlp(ln_2(x)): the
 * linears and norms see all nimg * T rows at once, attention one image.
 * Every step but attention's packing finishes whole rows, so the norms and
 * int8 rows come out of the step before.  On entry c->h holds ln_1(x) and,
 * when qkv is q8/q4, its int8 rows in PE_QA_NORM (a previous step's post); on
 * return the same for next's ln_1 when next is given (cs: the RoPE table,
 * or NULL). */
static void block(pe_ctx *c, const pe_tower *tw, const pe_block *b, const pe_block *next, float *x,
                  int Ti, int nimg, const float *cs, int causal) {
    const int W = tw->width, T = Ti * nimg, M = tw->mlp;
    const pe_rows r = pe_rows_split(c, Ti, nimg);
    const int qatt = !causal && pe_op_qattention_used(c, tw, Ti);
    const int hatt = !causal && pe_op_hattention_used(c, tw, Ti); /* fp16 compute */
    const int obs = c->observe && tw == &c->m->vis, layer = (int)(b - tw->blocks);
#define OBSERVE(site, rows, n) \
    if (obs) c->observe(c->observe_user, layer, site, rows, T, n)

    OBSERVE(PE_OBS_QKV, c->h, W);

    pe_row_post rope = {.rope = cs, .heads = tw->heads, .dh = tw->head_dim};
    pe_op_linear_rows(c, r, c->h, W, &b->qkv, PE_QA_NORM, 1, c->qkv, 3 * W, NULL, cs && !qatt ? &rope : NULL);

    /* int8 attention owns whole rows and quantizes them for out; the float
     * one splits a row's heads over tasks, so out quantizes its own rows */
    int ready = 0;
    if (qatt) {
        pe_row_post att = {0};
        ready = pe_op_post_quant(c, &att, PE_QA_HID, T, W, &b->out, NULL);
        pe_op_qattention(c, r, c->qkv, c->h, tw, cs, &att); /* rotates while it packs */
    } else if (hatt) {
        pe_op_hattention(c, r, c->qkv, c->h, tw);
    } else {
        pe_op_attention(c, r, c->qkv, c->h, tw, causal);
    }
    OBSERVE(PE_OBS_OUT, c->h, W);

    pe_epilogue res1 = {.gamma = b->ls1, .residual = x, .ldr = W};
    pe_row_post ln2 = {.ln_w = b->ln2_w, .ln_b = b->ln2_b, .eps = tw->eps, .y = c->h};
    pe_op_post_quant(c, &ln2, PE_QA_NORM, T, W, &b->fc, b->fc_up.n ? &b->fc_up : NULL);
    pe_op_linear_rows(c, r, c->h, W, &b->out, PE_QA_HID, ready, x, W, &res1, &ln2);
    OBSERVE(PE_OBS_FC, c->h, W);

    /* FFN hidden layer: gelu(fc(h)), or SwiGLU's silu(fc(h)) * fc_up(h)
     * (fc_up first, then fc gates it in place); its int8 rows for proj */
    pe_row_post hid = {0};
    pe_op_post_quant(c, &hid, PE_QA_HID, T, M, &b->proj, NULL);
    /* int8 rows carry ~1/254 of a row's range, fp16 compute rounds them to
     * half for proj (an rms error of 1.4e-4 for x ~ N(0, 1)): the cheap
     * GELU (7e-6 at most, rms 3e-6) is far inside either */
    const int cheap = pe_linear_quantized(&b->fc) || (c->fk && b->fc.w16 && b->proj.w16);
    pe_epilogue act = {.gelu = cheap ? PE_GELU_FAST : PE_GELU_EXACT};
    if (b->fc_up.n) {
        pe_op_linear_rows(c, r, c->h, W, &b->fc_up, PE_QA_NORM, 1, c->mlp, M, NULL, NULL);
        act = (pe_epilogue){.glu = c->mlp, .ldg = M};
    }
    pe_op_linear_rows(c, r, c->h, W, &b->fc, PE_QA_NORM, 1, c->mlp, M, &act, &hid);
    OBSERVE(PE_OBS_PROJ, c->mlp, M);
#undef OBSERVE

    pe_epilogue res2 = {.gamma = b->ls2, .residual = x, .ldr = W};
    pe_row_post ln1 = {0};
    if (next) {
        ln1 = (pe_row_post){.ln_w = next->ln1_w, .ln_b = next->ln1_b, .eps = tw->eps, .y = c->h};
        pe_op_post_quant(c, &ln1, PE_QA_NORM, T, W, &next->qkv, NULL);
    }
    pe_op_linear_rows(c, r, c->mlp, M, &b->proj, PE_QA_HID, 1, x, W, &res2, next ? &ln1 : NULL);
}

/* c->h = ln_1 of tw's first block over x [nimg * Ti, W], with its int8 rows
 * for qkv: what block() expects on entry. */
static void first_norm(pe_ctx *c, const pe_tower *tw, float *x, int Ti, int nimg) {
    const pe_block *b = &tw->blocks[0];
    pe_row_post ln1 = {.ln_w = b->ln1_w, .ln_b = b->ln1_b, .eps = tw->eps, .y = c->h};
    pe_op_post_quant(c, &ln1, PE_QA_NORM, Ti * nimg, tw->width, &b->qkv, NULL);
    pe_op_rows(c, pe_rows_split(c, Ti, nimg), x, tw->width, &ln1);
}

/* x [nimg * Ti, n] = ln(x) in place. */
static void norm_in_place(pe_ctx *c, float *x, int Ti, int nimg, int n, const float *w, const float *b,
                          float eps) {
    pe_row_post ln = {.ln_w = w, .ln_b = b, .eps = eps, .y = x};
    pe_op_rows(c, pe_rows_split(c, Ti, nimg), x, n, &ln);
}

/* ------------------------------------------------------------ vision */

/* One image [3, H, Wd] into its rows xn [T, W] before the blocks: the class
 * token with its position, the registers, the patches embedded (conv1 as a
 * linear over im2col rows) with theirs. */
static void embed_image(pe_ctx *c, const float *img, int H, int Wd, float *xn) {
    const pe_model *m = c->m;
    const pe_arch *a = &m->arch;
    const int W = a->width, P = a->patch, first = a->cls + a->registers; /* first patch row */
    pe_op_patchify(img, H, Wd, P, c->patches);
    pe_epilogue addpos = {.residual = c->pos_grid, .ldr = W};
    pe_op_linear(c, c->patches, 3 * P * P, &m->patch, xn + (size_t)first * W, W, (H / P) * (Wd / P), &addpos);
    if (a->cls) pe_op_add(m->cls, m->pos, W, xn);
    if (a->registers) memcpy(xn + (size_t)a->cls * W, m->registers, (size_t)a->registers * W * sizeof(float));
}

/* Runs nimg images [nimg, 3, H, Wd] up to their final token grids in c->x
 * ([nimg * T, W], per image: class token, registers, patches).  The patch
 * embedding runs per image, the blocks on all rows at once.  stages (one
 * image only), if not NULL, receives a copy of x after each stage; cls4,
 * if not NULL, per image the class token after each of the last 4 blocks
 * ([nimg, 4, W], not normalised). */
static void tokens_batch(pe_ctx *c, const float *img, int nimg, int H, int Wd, float *stages,
                         float *cls4) {
    const pe_model *m = c->m;
    const pe_arch *a = &m->arch;
    const int W = a->width, T = pe_arch_tokens(a, H / a->patch, Wd / a->patch);
    const size_t TW = (size_t)T * W;
    const float eps = m->vis.eps;
    float *x = c->x; /* [nimg * T, W] */

    for (int n = 0; n < nimg; n++) embed_image(c, img + (size_t)n * 3 * H * Wd, H, Wd, x + n * TW);
    if (stages) memcpy(stages, x, TW * sizeof(float)), stages += TW;

    if (m->ln_pre_w) norm_in_place(c, x, T, nimg, W, m->ln_pre_w, m->ln_pre_b, eps);
    if (stages) memcpy(stages, x, TW * sizeof(float)), stages += TW;

    if (a->layers) first_norm(c, &m->vis, x, T, nimg);
    for (int i = 0; i < a->layers; i++) {
        block(c, &m->vis, &m->vis.blocks[i], i + 1 < a->layers ? &m->vis.blocks[i + 1] : NULL, x, T,
              nimg, a->rope ? c->rope : NULL, 0);
        if (stages) memcpy(stages, x, TW * sizeof(float)), stages += TW;
        if (cls4 && i >= a->layers - 4)
            for (int n = 0; n < nimg; n++)
                memcpy(cls4 + ((size_t)n * 4 + i - a->layers + 4) * W, x + n * TW, W * sizeof(float));
    }
    if (m->ln_post_w) norm_in_place(c, x, T, nimg, W, m->ln_post_w, m->ln_post_b, eps);
    if (stages) memcpy(stages, x, TW * sizeof(float));
}

/* DINOv2's linear-probe input out [5W] of one image's tokens x [T, W]: the
 * last 4 blocks' class tokens (cls4 [4, W], normalised here) and the mean
 * normalised patch token. */
static void linear4_one(pe_ctx *c, const float *x, const float *cls4, int T, float *out) {
    const pe_model *m = c->m;
    const int W = m->arch.width, first = m->arch.cls + m->arch.registers;
    c->k->layernorm(cls4, W, out, W, 4, W, m->ln_post_w, m->ln_post_b, m->vis.eps);
    pe_op_mean_rows(x + (size_t)first * W, T - first, W, out + 4 * (size_t)W);
}

/* Attention pooling of one image's tokens x [T, W] with the probe, then
 * projection: emb [D]. */
static void pool_one(pe_ctx *c, const float *x, int T, float *emb) {
    const pe_model *m = c->m;
    const int W = m->arch.width, ph = m->arch.pool_heads;
    float *kv = c->qkv;                       /* [T, 2W] */
    float *a = c->pool_buf, *y = a + W, *hid = y + W;   /* [W], [W], [M'] */
    pe_op_linear(c, x, W, &m->pool_kv, kv, 2 * W, T, NULL);
    pe_op_probe_attention(c, m->pool_q, kv, T, W, ph, c->h);
    pe_op_linear(c, c->h, W, &m->pool_out, a, W, 1, NULL);
    c->k->layernorm(a, W, y, W, 1, W, m->pool_ln_w, m->pool_ln_b, 1e-5f);
    pe_epilogue act = {.gelu = PE_GELU_EXACT};
    pe_op_linear(c, y, W, &m->pool_fc, hid, m->pool_fc.n, 1, &act);
    pe_epilogue res = {.residual = a, .ldr = W};
    pe_op_linear(c, hid, m->pool_fc.n, &m->pool_proj, y, W, 1, &res);
    if (m->proj.n)
        pe_op_linear(c, y, W, &m->proj, emb, m->proj.n, 1, NULL);
    else
        memcpy(emb, y, (size_t)W * sizeof(float));
}

pe_status pe_forward_check(const pe_model *m, int H, int Wd, pe_output kind, int *rows, int *cols) {
    const pe_arch *a = &m->arch;
    if (H <= 0 || Wd <= 0 || H % a->patch || Wd % a->patch)
        return pe_error(PE_ERR_SHAPE, "input %dx%d: height and width must be positive multiples "
                                      "of the patch size %d", H, Wd, a->patch);
    if ((int64_t)H * Wd > (int64_t)a->patch * a->patch * 65536)
        return pe_error(PE_ERR_LIMIT, "input %dx%d: more than 65536 patches", H, Wd);
    if (kind == PE_OUTPUT_EMBEDDING) {
        if (a->pool == PE_POOL_NONE)
            return pe_error(PE_ERR_UNSUPPORTED, "this model (%s) has no pooling head: ask for "
                                                "tokens", a->name);
        if (rows) *rows = 1;
        if (cols) *cols = a->out_dim;
    } else if (kind == PE_OUTPUT_TOKENS) {
        if (rows) *rows = pe_arch_tokens(a, H / a->patch, Wd / a->patch);
        if (cols) *cols = a->width;
    } else if (kind == PE_OUTPUT_LINEAR4) {
        if (!pe_arch_dinov2(a) || a->layers < 4)
            return pe_error(PE_ERR_UNSUPPORTED, "linear4 is the DINOv2 family's linear-probe input (4+ "
                                                "blocks, a class token); %s has none", a->name);
        if (rows) *rows = 1;
        if (cols) *cols = 5 * a->width;
    } else {
        return pe_error(PE_ERR_INVALID_ARG, "unknown output kind %d", (int)kind);
    }
    return PE_OK;
}

pe_status pe_forward_images(pe_ctx *c, const float *img, int nimg, int H, int Wd, pe_output kind,
                            float *out, float *stages) {
    const pe_arch *a = &c->m->arch;
    pe_status s = pe_plan_vision(c, H / a->patch, Wd / a->patch, nimg);
    if (s) return s;
    const int T = pe_arch_tokens(a, H / a->patch, Wd / a->patch);
    const size_t TW = (size_t)T * a->width;
    /* pool_buf holds the batch's class tokens [nimg, 4, W] until linear4_one
     * reads them, image by image, into out */
    tokens_batch(c, img, nimg, H, Wd, stages, kind == PE_OUTPUT_LINEAR4 ? c->pool_buf : NULL);
    if (!out) return PE_OK;
    int rows, cols;
    pe_forward_check(c->m, H, Wd, kind, &rows, &cols);
    const size_t per = (size_t)rows * cols;
    for (int n = 0; n < nimg; n++) {
        const float *x = c->x + n * TW;
        float *o = out + n * per;
        if (kind == PE_OUTPUT_TOKENS)
            memcpy(o, x, TW * sizeof(float));
        else if (kind == PE_OUTPUT_LINEAR4)
            linear4_one(c, x, c->pool_buf + (size_t)n * 4 * a->width, T, o);
        else if (a->pool == PE_POOL_CLS)
            memcpy(o, x, (size_t)a->width * sizeof(float)); /* the normalised class token */
        else
            pool_one(c, x, T, o);
    }
    return PE_OK;
}

/* ------------------------------------------------------------ text */

pe_status pe_forward_text(pe_ctx *c, const int32_t *ids, int len, float *emb) {
    const pe_model *m = c->m;
    const pe_arch *a = &m->arch;
    const int W = a->text.width;
    pe_status s = pe_plan_text(c);
    if (s) return s;
    /* The pooled row is the first maximal id (end of text); with a causal mask
     * later rows cannot influence it, so they are not computed. */
    int eot = 0;
    for (int t = 0; t < len; t++) {
        if (ids[t] < 0 || ids[t] >= a->text.vocab)
            return pe_error(PE_ERR_INVALID_ARG, "token id %d at position %d is outside the "
                                                "vocabulary (0..%d)", ids[t], t, a->text.vocab - 1);
        if (ids[t] > ids[eot]) eot = t;
    }
    const int T = eot + 1;
    float *x = c->x; /* [T, W] */
    pe_op_embed_ids(c, m->tok_emb, m->tok_emb_dtype, ids, T, W, m->txt_pos, x);
    if (a->text.layers) first_norm(c, &m->txt, x, T, 1);
    for (int i = 0; i < a->text.layers; i++)
        block(c, &m->txt, &m->txt.blocks[i], i + 1 < a->text.layers ? &m->txt.blocks[i + 1] : NULL, x,
              T, 1, NULL, 1);
    float *last = x + (size_t)eot * W;
    c->k->layernorm(last, W, c->h, W, 1, W, m->ln_final_w, m->ln_final_b, m->txt.eps);
    pe_op_linear(c, c->h, W, &m->txt_proj, emb, m->txt_proj.n, 1, NULL);
    return PE_OK;
}
