/* The steps of the forward pass (ops.h): each a job for the thread pool
 * over row blocks or output tiles, calling the kernels.  forward.c strings
 * them together; nothing here knows which model it runs. */
#include "ops.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* Rows of a block at most; tiles of a GEMM split over columns; queries
 * per int8 attention task. */
enum { ROW_MB = 64, GEMM_MB = 96, GEMM_NB = 64, ATT_QB = ROW_MB };

/* ------------------------------------------------------------ row blocks */

pe_rows pe_rows_split(const pe_ctx *c, int T, int nimg) {
    const int n = c->n_threads, per = n * ((T + n * ROW_MB - 1) / (n * ROW_MB));
    pe_rows r = {T, nimg, PE_MAX(1, PE_MIN(per, T)), 1}; /* no empty blocks */
    /* fp16 compute's GEMM tile has 4 rows, the int8 sets' tile_rows (i8mm
     * 4, SDOT 5): blocks of multiples of it leave one short tile an image,
     * not one a block (577 tokens in blocks of 57-58 ran a 1- or 2-row tile,
     * at half the multiply-adds an instruction or less, in every block).
     * Rounding a start down moves it by < a rows: a block grows by a - 1 at
     * most (kept within ROW_MB) and one of >= 2a rows stays non-empty.  The
     * blocks only split the rows: each row's arithmetic is the same. */
    const int a = c->fk ? 4 : c->qk && c->qk->tile_rows > 1 ? c->qk->tile_rows : 1;
    if (a > 1 && T >= 2 * a * r.per && (T + r.per - 1) / r.per + a - 1 <= ROW_MB) r.align = a;
    return r;
}

static int row_tasks(pe_rows r) { return r.nimg * r.per; }

/* Rows [*r0, *r1) of block task (at most ROW_MB; empty only when T is 0). */
static void row_range(pe_rows r, int task, int *r0, int *r1) {
    const int img = task / r.per, b = task % r.per;
    const int a = r.align > 1 ? r.align : 1;
    *r0 = img * r.T + (int)((int64_t)b * r.T / r.per) / a * a;
    *r1 = img * r.T + (b + 1 == r.per ? r.T : (int)((int64_t)(b + 1) * r.T / r.per) / a * a);
}

static void row_post_run(const pe_ctx *c, const pe_row_post *p, float *C, int ldc, int n, int T, int r0,
                         int r1) {
    if (p->rope) {
        const int W = n / 3;
        const float *cs = p->rope + (size_t)(r0 % T) * p->dh; /* blocks never span images */
        for (int h = 0; h < p->heads; h++) {
            c->k->rope(C + (size_t)r0 * ldc + h * p->dh, ldc, r1 - r0, p->dh, cs);
            c->k->rope(C + (size_t)r0 * ldc + W + h * p->dh, ldc, r1 - r0, p->dh, cs);
        }
    }
    const float *src = C;
    int lds = ldc;
    if (p->ln_w) {
        c->k->layernorm(C + (size_t)r0 * ldc, ldc, p->y + (size_t)r0 * n, n, r1 - r0, n, p->ln_w,
                        p->ln_b, p->eps);
        src = p->y;
        lds = n;
    }
    if (p->split) { /* the columns the next linear adds in float, out of its int8 rows */
        const int nc = p->split->n_fcols;
        float *rows = (float *)src; /* C or y: this step's own rows */
        for (int r = r0; r < r1; r++)
            for (int i = 0; i < nc; i++) {
                float *v = rows + (size_t)r * lds + p->split->fcols[i];
                p->side[(size_t)r * nc + i] = *v;
                *v = 0.0f;
            }
    }
    if (p->quant) c->qk->quantize_rows(src, lds, n, r0, r1, &p->qa);
}

/* ------------------------------------------------------------ int8 rows */

int pe_linear_quantized(const pe_linear *lin) { return pe_wtype_int8((pe_wtype)lin->wtype); }

/* Buffer buf bound for M rows of K; with slice sums when a q4 linear reads
 * them (q8 kernels read row sums only). */
static pe_qact qbind(const pe_ctx *c, int buf, int M, int K, int q4) {
    pe_qact qa = pe_qact_bind(c->qact[buf], M, K);
    if (!q4) qa.bsum = NULL;
    return qa;
}

int pe_op_post_quant(const pe_ctx *c, pe_row_post *post, int buf, int M, int K, const pe_linear *a,
                     const pe_linear *b) {
    post->quant = pe_linear_quantized(a) || (b && pe_linear_quantized(b));
    if (post->quant)
        post->qa = qbind(c, buf, M, K, a->wtype == PE_WT_Q4 || (b && b->wtype == PE_WT_Q4));
    if (post->quant && a->n_fcols) {
        post->split = a;
        post->side = c->fside;
    }
    return post->quant;
}

/* ------------------------------------------------------------ linears */

typedef struct lin_job {
    const pe_ctx *c;
    const float *A; int lda;
    const pe_linear *lin;
    float *C; int ldc;
    int n;                    /* columns of C */
    pe_rows r;
    pe_epilogue ep;
    pe_qact qa;               /* q8/q4: A's rows, quantized */
    int quantize;             /* ... by the task that owns them */
    const pe_row_post *post;
} lin_job;

static void gemm_range(const lin_job *j, int m0, int m1, int n0, int n1) {
    const pe_linear *l = j->lin;
    if (j->c->fk && l->w16) { /* fp16 compute */
        j->c->fk->gemm(j->A, j->lda, l->w16, l->k, j->C, j->ldc, m0, m1, n0, n1, &j->ep);
        return;
    }
    switch (l->wtype) {
    case PE_WT_F16:
    case PE_WT_BF16:
        j->c->qk->gemm_half(j->A, j->lda, l->w, l->k, j->C, j->ldc, m0, m1, n0, n1, &j->ep, l->wtype);
        break;
    case PE_WT_Q8:
    case PE_WT_Q4:
        j->c->qk->gemm_q(&j->qa, l->w, l->k, j->C, j->ldc, m0, m1, n0, n1, &j->ep, l->wtype);
        if (l->n_fcols) { /* C += gamma * side fcol_w^T, after the residual epilogue */
            const pe_epilogue add = {.gamma = j->ep.gamma, .residual = j->C, .ldr = j->ldc};
            j->c->k->gemm(j->c->fside, l->n_fcols, l->fcol_w, l->n, l->n_fcols, j->C, j->ldc, m0, m1, n0,
                          n1, &add);
        }
        break;
    default:
        j->c->k->gemm(j->A, j->lda, l->w, l->n, l->k, j->C, j->ldc, m0, m1, n0, n1, &j->ep);
    }
}

/* A row block whole: its int8 rows, all columns, then post. */
static void row_task(void *arg, int task, int thread) {
    (void)thread;
    const lin_job *j = arg;
    int r0, r1;
    row_range(j->r, task, &r0, &r1);
    if (r1 <= r0) return;
    if (j->quantize) j->c->qk->quantize_rows(j->A, j->lda, j->lin->k, r0, r1, &j->qa);
    gemm_range(j, r0, r1, 0, j->n);
    if (j->post) row_post_run(j->c, j->post, j->C, j->ldc, j->n, j->r.T, r0, r1);
}

/* Few rows (the pooling head, short texts): GEMM_MB x GEMM_NB tiles, row
 * blocks outer, so that the columns are split too; the int8 rows and post
 * are steps of their own. */
static void tile_task(void *arg, int task, int thread) {
    (void)thread;
    const lin_job *j = arg;
    const int M = j->r.T * j->r.nimg, n = j->n, nblocks = (n + GEMM_NB - 1) / GEMM_NB;
    const int m0 = task / nblocks * GEMM_MB, n0 = task % nblocks * GEMM_NB;
    gemm_range(j, m0, PE_MIN(M, m0 + GEMM_MB), n0, PE_MIN(n, n0 + GEMM_NB));
}

static void quant_task(void *arg, int task, int thread) {
    (void)thread;
    const lin_job *j = arg;
    int r0, r1;
    row_range(j->r, task, &r0, &r1);
    if (r1 > r0) j->c->qk->quantize_rows(j->A, j->lda, j->lin->k, r0, r1, &j->qa);
}

static void post_task(void *arg, int task, int thread) {
    (void)thread;
    const lin_job *j = arg;
    int r0, r1;
    row_range(j->r, task, &r0, &r1);
    if (r1 > r0) row_post_run(j->c, j->post, j->C, j->ldc, j->n, j->r.T, r0, r1);
}

/* Whether row blocks of r keep every thread busy (else tiles split the columns). */
static int rows_owned(const pe_ctx *c, pe_rows r) { return c->n_threads == 1 || r.T >= 16 * c->n_threads; }

void pe_op_linear_rows(pe_ctx *c, pe_rows r, const float *A, int lda, const pe_linear *lin, int buf,
                       int ready, float *C, int ldc, const pe_epilogue *ep, const pe_row_post *post) {
    const int M = r.T * r.nimg, quant = pe_linear_quantized(lin);
    lin_job j = {c, A, lda, lin, C, ldc, lin->n, r, {0}, {0}, 0, post};
    if (ep) j.ep = *ep;
    j.ep.bias = lin->b;
    if (quant) j.qa = qbind(c, buf, M, lin->k, lin->wtype == PE_WT_Q4);
    if (rows_owned(c, r)) {
        j.quantize = quant && !ready;
        pe_pool_run(c->pool, row_task, &j, row_tasks(r));
        return;
    }
    if (quant && !ready) pe_pool_run(c->pool, quant_task, &j, row_tasks(r));
    pe_pool_run(c->pool, tile_task, &j, (M + GEMM_MB - 1) / GEMM_MB * ((lin->n + GEMM_NB - 1) / GEMM_NB));
    if (post) pe_pool_run(c->pool, post_task, &j, row_tasks(r));
}

void pe_op_linear(pe_ctx *c, const float *A, int lda, const pe_linear *lin, float *C, int ldc, int M,
                  const pe_epilogue *ep) {
    pe_op_linear_rows(c, pe_rows_split(c, M, 1), A, lda, lin, PE_QA_HID, 0, C, ldc, ep, NULL);
}

void pe_op_rows(pe_ctx *c, pe_rows r, float *x, int n, const pe_row_post *post) {
    lin_job j = {c, NULL, 0, NULL, x, n, n, r, {0}, {0}, 0, post};
    pe_pool_run(c->pool, post_task, &j, row_tasks(r));
}

typedef struct attn_job {
    pe_ctx *c;
    const float *qkv;   /* [nimg * T, 3W] */
    float *out;         /* [nimg * T, W] */
    pe_rows r;
    int W, heads, dh, causal;
} attn_job;

/* Task (row block, head), heads inner. */
static void attn_task(void *arg, int task, int thread) {
    const attn_job *j = arg;
    const int h = task % j->heads, T = j->r.T, ld = 3 * j->W;
    int r0, r1;
    row_range(j->r, task / j->heads, &r0, &r1);
    if (r1 <= r0) return;
    const int img = r0 / T, q0 = r0 - img * T, nq = r1 - r0;
    const float *qkv = j->qkv + (size_t)img * T * ld;
    const float *q = qkv + (size_t)q0 * ld + h * j->dh;
    const float *k = qkv + j->W + h * j->dh, *v = qkv + 2 * j->W + h * j->dh;
    /* Causal: query q0+i sees keys 0..q0+i, so later keys are not even read. */
    int tk = j->causal ? q0 + nq : T;
    j->c->k->attention(q, ld, k, ld, v, ld, j->out + (size_t)r0 * j->W + h * j->dh, j->W, nq, tk,
                       j->dh, 1.0f / sqrtf((float)j->dh), j->causal, q0,
                       j->c->att_scratch + (size_t)thread * j->c->att_floats);
}

void pe_op_attention(pe_ctx *c, pe_rows r, const float *qkv, float *out, const pe_tower *tw, int causal) {
    attn_job j = {c, qkv, out, r, tw->width, tw->heads, tw->head_dim, causal};
    pe_pool_run(c->pool, attn_task, &j, row_tasks(r) * tw->heads);
}

void pe_op_probe_attention(pe_ctx *c, const float *q, const float *kv, int T, int W, int heads, float *out) {
    const int dh = W / heads;
    for (int h = 0; h < heads; h++)
        c->k->attention(q + h * dh, W, kv + h * dh, 2 * W, kv + W + h * dh, 2 * W, out + h * dh, W, 1, T, dh,
                        1.0f / sqrtf((float)dh), 0, 0, c->att_scratch);
}

/* ------------------------------------------------------------ int8 attention */

/* Vision towers whose linears are q8/q4 run attention in int8 too (the
 * float attention is otherwise half of a q8 pass at 384 px).  Per head:
 * the queries are quantized per row and the keys per row into a q8 weight
 * (pe_qpack_q8_qact), so S = Q K^T is the q8 GEMM; the values are quantized
 * per channel over the tokens into the q8 weight of P V (pack_q8_t).  Per
 * query block, the softmax weights of the float scores go straight to int8
 * (softmax_q8: largest 127, row scale 1 / sum of the codes, so the quantized
 * weights are exactly normalised), and O = P V is the q8 GEMM again,
 * written straight into the output. */
typedef struct qatt_job {
    pe_ctx *c;
    const pe_qkernels *qk;
    float *qkv;         /* [nimg * T, 3W], Q and K rotated in place when cs */
    float *out;         /* [nimg * T, W] */
    pe_rows r;       /* r.nimg images of r.T tokens */
    int W, dh, heads;
    float scale;
    const float *cs;    /* RoPE table [T, dh] or NULL */
    const pe_row_post *post; /* on out's rows: their int8 rows for the output projection */
} qatt_job;

/* Bytes of a query block's scores, the first part of a thread's area. */
static size_t qatt_scores_bytes(int T) { return ((size_t)ATT_QB * T * sizeof(float) + 63) & ~(size_t)63; }

/* Rows of Q and K a packing task rotates and quantizes (a multiple of 16, so
 * it owns whole key panels). */
enum { QATT_ROWS = 64 };

/* Per head: queries (pe_qact), keys (q8 [T, dh]), values (q8 [dh, T]);
 * per thread: the keys' pe_qact of a packing task, scores and weights
 * after. */
void pe_op_qattention_sizes(int T, int dh, size_t *head, size_t *thread) {
    *head = pe_qact_bytes(T, dh) + pe_qpack_bytes(PE_WT_Q8, T, dh) + pe_qpack_bytes(PE_WT_Q8, dh, T);
    *thread = PE_MAX(pe_qact_bytes(QATT_ROWS, dh), qatt_scores_bytes(T) + pe_qact_bytes(ATT_QB, T));
}

/* Head h of image img; the heads of all images come first, then the threads' areas. */
static uint8_t *qatt_head(const qatt_job *j, int img, int h) {
    return j->c->qatt + ((size_t)img * j->heads + h) * j->c->qatt_head;
}

static uint8_t *qatt_thread(const qatt_job *j, int thread) {
    return qatt_head(j, j->r.nimg, 0) + (size_t)thread * j->c->qatt_thread;
}

/* Per image (outermost): row tasks (row chunks outer, heads inner), then
 * value tasks: per head ceil(T / QATT_ROWS) of the first kind and
 * ceil(dh / 16) of the second. */
static int qatt_row_tasks(const qatt_job *j) { return (j->r.T + QATT_ROWS - 1) / QATT_ROWS; }
static int qatt_value_tasks(const qatt_job *j) { return (j->dh + PE_GEMM_NR - 1) / PE_GEMM_NR; }

/* A row task rotates (RoPE) and quantizes QATT_ROWS queries and keys of a
 * head and packs those keys' panels; a value task packs 16 channels of the
 * head's values over all tokens. */
static void qatt_pack_task(void *arg, int task, int thread) {
    const qatt_job *j = arg;
    const int T = j->r.T, dh = j->dh, ld = 3 * j->W, rtasks = qatt_row_tasks(j) * j->heads;
    const int img = task / (rtasks + qatt_value_tasks(j) * j->heads);
    task %= rtasks + qatt_value_tasks(j) * j->heads;
    const int h = task < rtasks ? task % j->heads : (task - rtasks) / qatt_value_tasks(j);
    uint8_t *hp = qatt_head(j, img, h), *kp = hp + pe_qact_bytes(T, dh);
    float *q = j->qkv + (size_t)img * T * ld + h * dh, *k = q + j->W;
    if (task >= rtasks) {
        const int c0 = (task - rtasks) % qatt_value_tasks(j) * PE_GEMM_NR;
        j->qk->pack_q8_t(kp + pe_qpack_bytes(PE_WT_Q8, T, dh) + (size_t)(c0 / PE_GEMM_NR) *
                             pe_qpack_panel_bytes(PE_WT_Q8, T),
                         k + j->W + c0, ld, T, PE_MIN(PE_GEMM_NR, dh - c0));
        return;
    }
    const int r0 = task / j->heads * QATT_ROWS, rows = PE_MIN(QATT_ROWS, T - r0);
    if (j->cs) {
        j->c->k->rope(q + (size_t)r0 * ld, ld, rows, dh, j->cs + (size_t)r0 * dh);
        j->c->k->rope(k + (size_t)r0 * ld, ld, rows, dh, j->cs + (size_t)r0 * dh);
    }
    pe_qact qq = pe_qact_bind(hp, T, dh), qk = pe_qact_bind(qatt_thread(j, thread), rows, dh);
    qq.bsum = qk.bsum = NULL; /* only q8 GEMMs read them */
    j->qk->quantize_rows(q, ld, dh, r0, r0 + rows, &qq);
    j->qk->quantize_rows(k + (size_t)r0 * ld, ld, dh, 0, rows, &qk);
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, dh);
    for (int r = 0; r < rows; r += PE_GEMM_NR)
        pe_qpack_q8_qact(kp + (size_t)((r0 + r) / PE_GEMM_NR) * pb, &qk, r, PE_MIN(PE_GEMM_NR, rows - r));
}

/* Task: a row block of queries of one image, every head, then post on its
 * (complete) output rows. */
static void qatt_task(void *arg, int task, int thread) {
    const qatt_job *j = arg;
    int r0, r1;
    row_range(j->r, task, &r0, &r1);
    if (r1 <= r0) return;
    const int T = j->r.T, dh = j->dh, img = r0 / T, q0 = r0 - img * T, nq = r1 - r0;
    uint8_t *tp = qatt_thread(j, thread);
    float *S = (float *)(void *)tp;
    pe_qact qp = pe_qact_bind(tp + qatt_scores_bytes(T), nq, T);
    for (int h = 0; h < j->heads; h++) {
        uint8_t *hp = qatt_head(j, img, h), *kp = hp + pe_qact_bytes(T, dh);
        pe_qact qq = pe_qact_bind(hp, T, dh);
        pe_qact qv = {qq.q + (size_t)q0 * qq.ldq, qq.s + q0, qq.rsum + q0, NULL, qq.ldq};
        j->qk->gemm_q(&qv, kp, dh, S, T, 0, nq, 0, T, NULL, PE_WT_Q8);
        for (int r = 0; r < nq; r++) j->qk->softmax_q8(S + (size_t)r * T, T, j->scale, &qp, r);
        j->qk->gemm_q(&qp, kp + pe_qpack_bytes(PE_WT_Q8, T, dh), T, j->out + (size_t)r0 * j->W + h * dh,
                      j->W, 0, nq, 0, dh, NULL, PE_WT_Q8);
    }
    if (j->post) row_post_run(j->c, j->post, j->out, j->W, j->W, T, r0, r1);
}

void pe_op_qattention(pe_ctx *c, pe_rows r, float *qkv, float *out, const pe_tower *tw, const float *cs,
                      const pe_row_post *post) {
    qatt_job j = {c, c->qk, qkv, out, r, tw->width, tw->head_dim, tw->heads,
                  1.0f / sqrtf((float)tw->head_dim), cs, post};
    pe_pool_run(c->pool, qatt_pack_task, &j,
                r.nimg * tw->heads * (qatt_row_tasks(&j) + qatt_value_tasks(&j)));
    pe_pool_run(c->pool, qatt_task, &j, row_tasks(r));
}

/* Whether tower tw runs int8 attention (the plan sized c->qatt when it
 * does; rows of P V are at most PE_Q8_KMAX keys). */
int pe_op_qattention_used(const pe_ctx *c, const pe_tower *tw, int T) {
    const pe_wtype wt = tw->layers ? tw->blocks[0].qkv.wtype : PE_WT_F32;
    return tw == &c->m->vis && pe_wtype_int8(wt) && T <= PE_Q8_KMAX;
}

/* ------------------------------------------------------------ fp16 attention */

/* With fp16 compute (f16.h) a vision tower's attention is two fp16 GEMMs
 * per head and query block, laid out as the int8 attention above (its
 * buffer c->qatt, planned by the same step): per head the keys (already
 * rotated by the qkv linear's RoPE post) as f16 panels [T, dh] and the
 * values as f16 panels of V^T [dh, T]; per query block S = Q K^T (the
 * queries rounded to half inside the GEMM), the float32 softmax weights
 * (unnormalised), then O = P V straight into the output, each row divided
 * by its weights' sum.  The half sums of the
 * GEMMs are the contract of f16.h: 32 terms at most, then float32. */
typedef struct hatt_job {
    pe_ctx *c;
    const float *qkv;   /* [nimg * T, 3W] */
    float *out;         /* [nimg * T, W] */
    pe_rows r;
    int W, dh, heads;
    float scale;
} hatt_job;

int pe_op_hattention_used(const pe_ctx *c, const pe_tower *tw, int T) {
    return c->fk && tw == &c->m->vis && !pe_op_qattention_used(c, tw, T) && T <= PE_F16_KMAX &&
           tw->head_dim <= PE_F16_KMAX;
}

/* The half softmax weights P of a query block: rows of hatt_ldp(T) halves,
 * interleaved by tiles of PE_F16_TILE rows (ATT_QB is a multiple). */
static int hatt_ldp(int T) { return (T + 7) & ~7; }
static size_t hatt_weights_bytes(int T) { return (size_t)ATT_QB * hatt_ldp(T) * sizeof(uint16_t); }

void pe_op_hattention_sizes(int T, int dh, size_t *head, size_t *thread) {
    *head = pe_qpack_bytes(PE_WT_F16, T, dh) + pe_qpack_bytes(PE_WT_F16, dh, T);
    *thread = qatt_scores_bytes(T) + hatt_weights_bytes(T);
}

static uint8_t *hatt_head(const hatt_job *j, int img, int h) {
    return j->c->qatt + ((size_t)img * j->heads + h) * j->c->qatt_head;
}

/* Per image and head: ceil(T / 16) key panels, then ceil(dh / 16) value
 * panels (16 channels over all tokens). */
static int hatt_pack_tasks(const hatt_job *j) {
    return (j->r.T + PE_GEMM_NR - 1) / PE_GEMM_NR + (j->dh + PE_GEMM_NR - 1) / PE_GEMM_NR;
}

static void hatt_pack_task(void *arg, int task, int thread) {
    (void)thread;
    const hatt_job *j = arg;
    const int T = j->r.T, dh = j->dh, ld = 3 * j->W, per = hatt_pack_tasks(j), kt = (T + PE_GEMM_NR - 1) / PE_GEMM_NR;
    const int img = task / per / j->heads, h = task / per % j->heads, i = task % per;
    uint8_t *hp = hatt_head(j, img, h);
    const float *k = j->qkv + (size_t)img * T * ld + j->W + h * dh, *v = k + j->W;
    if (i < kt) {
        j->c->fk->pack(k + (size_t)i * PE_GEMM_NR * ld, (size_t)ld, PE_MIN(PE_GEMM_NR, T - i * PE_GEMM_NR), dh,
                       (uint16_t *)(void *)(hp + (size_t)i * pe_qpack_panel_bytes(PE_WT_F16, dh)));
        return;
    }
    const int c0 = (i - kt) * PE_GEMM_NR;
    j->c->fk->pack_t(v + c0, (size_t)ld, T, PE_MIN(PE_GEMM_NR, dh - c0),
                     (uint16_t *)(void *)(hp + pe_qpack_bytes(PE_WT_F16, T, dh) +
                                          (size_t)(i - kt) * pe_qpack_panel_bytes(PE_WT_F16, T)));
}

/* Task: a row block of queries of one image, every head. */
static void hatt_task(void *arg, int task, int thread) {
    const hatt_job *j = arg;
    int r0, r1;
    row_range(j->r, task, &r0, &r1);
    if (r1 <= r0) return;
    const int T = j->r.T, dh = j->dh, ld = 3 * j->W, img = r0 / T, nq = r1 - r0;
    uint8_t *tp = hatt_head(j, j->r.nimg, 0) + (size_t)thread * j->c->qatt_thread;
    float *S = (float *)(void *)tp;
    uint16_t *P = (uint16_t *)(void *)(tp + qatt_scores_bytes(T));
    const int ldp = hatt_ldp(T);
    const pe_f16kernels *fk = j->c->fk;
    /* The weights stay unnormalised (largest exactly 1, which half holds
     * well), written in half by the softmax for P V, and each output row is
     * divided by its sum after P V: dh multiplies a row instead of T. */
    float inv[ROW_MB];
    assert(nq <= ROW_MB && nq <= ATT_QB);
    for (int h = 0; h < j->heads; h++) {
        const uint8_t *hp = hatt_head(j, img, h);
        fk->gemm(j->qkv + (size_t)r0 * ld + h * dh, ld, hp, dh, S, T, 0, nq, 0, T, NULL);
        for (int r = 0; r < nq; r++) /* P interleaved by tiles of 4 rows (PE_F16_IL), as gemm_h reads it */
            inv[r] = 1.0f / fk->softmax(S + (size_t)r * T, T, j->scale,
                                        P + (size_t)(r & ~(PE_F16_TILE - 1)) * ldp + (size_t)(r % PE_F16_TILE) * 8);
        float *o = j->out + (size_t)r0 * j->W + h * dh;
        fk->gemm_h(P, ldp, hp + pe_qpack_bytes(PE_WT_F16, T, dh), T, o, j->W, 0, nq, 0, dh, inv);
    }
}

void pe_op_hattention(pe_ctx *c, pe_rows r, const float *qkv, float *out, const pe_tower *tw) {
    hatt_job j = {c, qkv, out, r, tw->width, tw->head_dim, tw->heads, 1.0f / sqrtf((float)tw->head_dim)};
    pe_pool_run(c->pool, hatt_pack_task, &j, r.nimg * tw->heads * hatt_pack_tasks(&j));
    pe_pool_run(c->pool, hatt_task, &j, row_tasks(r));
}

/* im2col: patches[gy * gw + gx][ch * P*P + ky * P + kx], the conv1 weight order. */
void pe_op_patchify(const float *img, int H, int Wd, int P, float *patches) {
    const int gh = H / P, gw = Wd / P;
    for (int gy = 0; gy < gh; gy++)
        for (int gx = 0; gx < gw; gx++) {
            float *dst = patches + ((size_t)gy * gw + gx) * 3 * P * P;
            for (int ch = 0; ch < 3; ch++)
                for (int ky = 0; ky < P; ky++) {
                    memcpy(dst, img + ((size_t)ch * H + (size_t)gy * P + ky) * Wd + (size_t)gx * P,
                           (size_t)P * sizeof(float));
                    dst += P;
                }
        }
}

/* ------------------------------------------------------------ vectors */

void pe_op_add(const float *a, const float *b, int n, float *y) {
    for (int i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void pe_op_mean_rows(const float *x, int rows, int W, float *mean) {
    for (int i = 0; i < W; i++) {
        double s = 0;
        for (int t = 0; t < rows; t++) s += x[(size_t)t * W + i];
        mean[i] = (float)(s / rows);
    }
}

void pe_op_embed_ids(const pe_ctx *c, const void *emb, pe_dtype dtype, const int32_t *ids, int T, int W,
                     const float *pos, float *x) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * W;
        const size_t off = (size_t)ids[t] * W;
        if (dtype == PE_DT_F32)
            memcpy(row, (const float *)emb + off, (size_t)W * sizeof(float));
        else if (dtype == PE_DT_F16)
            c->k->f16_to_f32((const uint16_t *)emb + off, row, (size_t)W);
        else
            c->k->bf16_to_f32((const uint16_t *)emb + off, row, (size_t)W);
        for (int i = 0; i < W; i++) row[i] += pos[(size_t)t * W + i];
    }
}
