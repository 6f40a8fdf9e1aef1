/* The forward passes: vision tower (patch embed -> blocks -> pooling) and
 * text tower, on a context's planned scratch.  Read top to bottom:
 * tokens_one() + pool_one() are the whole vision model, pe_forward_text()
 * the whole text model; block() is the transformer block both share, its
 * attention() running qattention() (int8) in q8/q4 vision towers.
 * The DINOv2 family runs the same code with the switches of its
 * pe_model_info: register tokens, no RoPE, a SwiGLU FFN, LayerNorm eps
 * 1e-6, bicubic position resampling and the class token as embedding. */
#include "forward.h"

#include "../image/preprocess.h"
#include "../kernels/quant.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ row blocks */

/* The steps of a block cut the rows of each image (T tokens) into the same
 * blocks: as many as a multiple of the thread count, of ROW_MB rows at most,
 * never spanning two images.  The pool runs each thread's contiguous share
 * of the tasks first, so in consecutive steps a thread works on the same
 * rows (on this VM a core reads what the other wrote at ~1/4 speed), and a
 * task that owns whole rows can finish them: the epilogue, then LayerNorm
 * and the int8 quantization for the next linear (row_post), with no step of
 * its own. */
enum { ROW_MB = 64, GEMM_MB = 96, GEMM_NB = 64, ATT_QB = ROW_MB };

typedef struct row_blocks {
    int T, nimg;    /* nimg images of T rows each */
    int per;        /* blocks per image */
} row_blocks;

static row_blocks row_split(const pe_ctx *c, int T, int nimg) {
    const int n = c->n_threads, per = n * ((T + n * ROW_MB - 1) / (n * ROW_MB));
    row_blocks r = {T, nimg, PE_MAX(1, PE_MIN(per, T))}; /* no empty blocks */
    return r;
}

static int row_tasks(row_blocks r) { return r.nimg * r.per; }

/* Rows [*r0, *r1) of block task (at most ROW_MB; empty only when T is 0). */
static void row_range(row_blocks r, int task, int *r0, int *r1) {
    const int img = task / r.per, b = task % r.per;
    *r0 = img * r.T + (int)((int64_t)b * r.T / r.per);
    *r1 = img * r.T + (int)((int64_t)(b + 1) * r.T / r.per);
}

/* What a step does to each output row of C [*, n] once it is final, in this
 * order: RoPE on the query and key parts of a qkv row ([q | k | v], n =
 * 3W); y = ln(row) (y [*, n] may be C itself); the int8 quantization of y
 * (or of C without LayerNorm) into qa, for the q8/q4 linear that reads
 * those rows next. */
typedef struct row_post {
    const float *rope; int heads, dh;   /* rope: table [T, dh] or NULL */
    const float *ln_w, *ln_b;           /* ln_w NULL: no LayerNorm */
    float eps;
    float *y;
    int quant;
    pe_qact qa;
} row_post;

static void row_post_run(const pe_ctx *c, const row_post *p, float *C, int ldc, int n, int T, int r0,
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
    if (p->quant) c->qk->quantize_rows(src, lds, n, r0, r1, &p->qa);
}

/* ------------------------------------------------------------ int8 rows */

/* The int8 rows of a q8/q4 linear's input live in one of two buffers, so a
 * step can quantize its output rows for the next linear while its other
 * tasks still read their input rows: QA_NORM holds normalised rows (the
 * inputs of qkv and fc), QA_HID the others (attention output, FFN hidden,
 * the pooling head). */
enum { QA_HID = 0, QA_NORM = 1 };

static int is_quant(const pe_linear *lin) { return lin->wtype == PE_WT_Q8 || lin->wtype == PE_WT_Q4; }

/* Buffer buf bound for M rows of K; with slice sums when a q4 linear reads
 * them (q8 kernels read row sums only). */
static pe_qact qbind(const pe_ctx *c, int buf, int M, int K, int q4) {
    pe_qact qa = pe_qact_bind(c->qact[buf], M, K);
    if (!q4) qa.bsum = NULL;
    return qa;
}

/* post quantizes its rows (M of K) into buf for the linears a and b (b may
 * be NULL) when either is q8/q4; returns whether it does. */
static int post_quant(const pe_ctx *c, row_post *post, int buf, int M, int K, const pe_linear *a,
                      const pe_linear *b) {
    post->quant = is_quant(a) || (b && is_quant(b));
    if (post->quant)
        post->qa = qbind(c, buf, M, K, a->wtype == PE_WT_Q4 || (b && b->wtype == PE_WT_Q4));
    return post->quant;
}

/* ------------------------------------------------------------ linears */

typedef struct lin_job {
    const pe_ctx *c;
    const float *A; int lda;
    const pe_linear *lin;
    float *C; int ldc;
    int n;                    /* columns of C */
    row_blocks r;
    pe_epilogue ep;
    pe_qact qa;               /* q8/q4: A's rows, quantized */
    int quantize;             /* ... by the task that owns them */
    const row_post *post;
} lin_job;

static void gemm_range(const lin_job *j, int m0, int m1, int n0, int n1) {
    const pe_linear *l = j->lin;
    switch (l->wtype) {
    case PE_WT_F16:
    case PE_WT_BF16:
        j->c->qk->gemm_half(j->A, j->lda, l->w, l->k, j->C, j->ldc, m0, m1, n0, n1, &j->ep, l->wtype);
        break;
    case PE_WT_Q8:
    case PE_WT_Q4:
        j->c->qk->gemm_q(&j->qa, l->w, l->k, j->C, j->ldc, m0, m1, n0, n1, &j->ep, l->wtype);
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
static int rows_owned(const pe_ctx *c, row_blocks r) { return c->n_threads == 1 || r.T >= 16 * c->n_threads; }

/* C [M, n] = epilogue(A lin^T + bias) for the M = r.T * r.nimg rows of r,
 * then post (NULL: none) on each row of C.  ep may be NULL; its bias is
 * replaced by the linear's.  q8/q4: ready says that int8 buffer buf holds
 * A's rows already (a previous step's post quantized them); otherwise they
 * are quantized into it here. */
static void linear_rows(pe_ctx *c, row_blocks r, const float *A, int lda, const pe_linear *lin, int buf,
                        int ready, float *C, int ldc, const pe_epilogue *ep, const row_post *post) {
    const int M = r.T * r.nimg, quant = is_quant(lin);
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

/* The same for M rows of one input, nothing quantized yet, no post. */
static void linear(pe_ctx *c, const float *A, int lda, const pe_linear *lin, float *C, int ldc, int M,
                   const pe_epilogue *ep) {
    linear_rows(c, row_split(c, M, 1), A, lda, lin, QA_HID, 0, C, ldc, ep, NULL);
}

/* post on the rows of x [M, n] (a LayerNorm step of its own). */
static void rows_step(pe_ctx *c, row_blocks r, float *x, int n, const row_post *post) {
    lin_job j = {c, NULL, 0, NULL, x, n, n, r, {0}, {0}, 0, post};
    pe_pool_run(c->pool, post_task, &j, row_tasks(r));
}

typedef struct attn_job {
    pe_ctx *c;
    const float *qkv;   /* [nimg * T, 3W] */
    float *out;         /* [nimg * T, W] */
    row_blocks r;
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
    row_blocks r;       /* r.nimg images of r.T tokens */
    int W, dh, heads;
    float scale;
    const float *cs;    /* RoPE table [T, dh] or NULL */
    const row_post *post; /* on out's rows: their int8 rows for the output projection */
} qatt_job;

/* Bytes of a query block's scores, the first part of a thread's area. */
static size_t qatt_scores_bytes(int T) { return ((size_t)ATT_QB * T * sizeof(float) + 63) & ~(size_t)63; }

/* Rows of Q and K a packing task rotates and quantizes (a multiple of 16, so
 * it owns whole key panels). */
enum { QATT_ROWS = 64 };

/* Per head: queries (pe_qact), keys (q8 [T, dh]), values (q8 [dh, T]);
 * per thread: the keys' pe_qact of a packing task, scores and weights
 * after. */
static void qatt_sizes(int T, int dh, size_t *head, size_t *thread) {
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

static void qattention(pe_ctx *c, row_blocks r, float *qkv, float *out, const pe_tower *tw, const float *cs,
                       const row_post *post) {
    qatt_job j = {c, c->qk, qkv, out, r, tw->width, tw->head_dim, tw->heads,
                  1.0f / sqrtf((float)tw->head_dim), cs, post};
    pe_pool_run(c->pool, qatt_pack_task, &j,
                r.nimg * tw->heads * (qatt_row_tasks(&j) + qatt_value_tasks(&j)));
    pe_pool_run(c->pool, qatt_task, &j, row_tasks(r));
}

/* Whether tower tw runs int8 attention (pe_forward_plan sized c->qatt when
 * it does; rows of P V are at most PE_Q8_KMAX keys). */
static int use_qatt(const pe_ctx *c, const pe_tower *tw, int T) {
    const pe_wtype wt = tw->layers ? tw->blocks[0].qkv.wtype : PE_WT_F32;
    return tw == &c->m->vis && (wt == PE_WT_Q8 || wt == PE_WT_Q4) && T <= PE_Q8_KMAX;
}

/* x [nimg * T, W] += ls1 * attn(ln_1(x)); x += ls2 * mlp(ln_2(x)): the
 * linears and norms see all nimg * T rows at once, attention one image.
 * Every step but attention's packing finishes whole rows, so the norms and
 * int8 rows come out of the step before.  On entry c->h holds ln_1(x) and,
 * when qkv is q8/q4, its int8 rows in QA_NORM (a previous step's post); on
 * return the same for next's ln_1 when next is given (cs: the RoPE table,
 * or NULL). */
static void block(pe_ctx *c, const pe_tower *tw, const pe_block *b, const pe_block *next, float *x,
                  int Ti, int nimg, const float *cs, int causal) {
    const int W = tw->width, T = Ti * nimg, M = tw->mlp;
    const row_blocks r = row_split(c, Ti, nimg);
    const int qatt = !causal && use_qatt(c, tw, Ti);

    row_post rope = {.rope = cs, .heads = tw->heads, .dh = tw->head_dim};
    linear_rows(c, r, c->h, W, &b->qkv, QA_NORM, 1, c->qkv, 3 * W, NULL, cs && !qatt ? &rope : NULL);

    /* int8 attention owns whole rows and quantizes them for out; the float
     * one splits a row's heads over tasks, so out quantizes its own rows */
    int ready = 0;
    if (qatt) {
        row_post att = {0};
        ready = post_quant(c, &att, QA_HID, T, W, &b->out, NULL);
        qattention(c, r, c->qkv, c->h, tw, cs, &att); /* rotates while it packs */
    } else {
        attn_job j = {c, c->qkv, c->h, r, W, tw->heads, tw->head_dim, causal};
        pe_pool_run(c->pool, attn_task, &j, row_tasks(r) * tw->heads);
    }

    pe_epilogue res1 = {.gamma = b->ls1, .residual = x, .ldr = W};
    row_post ln2 = {.ln_w = b->ln2_w, .ln_b = b->ln2_b, .eps = tw->eps, .y = c->h};
    post_quant(c, &ln2, QA_NORM, T, W, &b->fc, b->fc_up.n ? &b->fc_up : NULL);
    linear_rows(c, r, c->h, W, &b->out, QA_HID, ready, x, W, &res1, &ln2);

    /* FFN hidden layer: gelu(fc(h)), or SwiGLU's silu(fc(h)) * fc_up(h)
     * (fc_up first, then fc gates it in place); its int8 rows for proj */
    row_post hid = {0};
    post_quant(c, &hid, QA_HID, T, M, &b->proj, NULL);
    /* int8 rows carry ~1/254 of a row's range: the cheap GELU is far inside that */
    pe_epilogue act = {.gelu = is_quant(&b->fc) ? PE_GELU_FAST : PE_GELU_EXACT};
    if (b->fc_up.n) {
        linear_rows(c, r, c->h, W, &b->fc_up, QA_NORM, 1, c->mlp, M, NULL, NULL);
        act = (pe_epilogue){.glu = c->mlp, .ldg = M};
    }
    linear_rows(c, r, c->h, W, &b->fc, QA_NORM, 1, c->mlp, M, &act, &hid);

    pe_epilogue res2 = {.gamma = b->ls2, .residual = x, .ldr = W};
    row_post ln1 = {0};
    if (next) {
        ln1 = (row_post){.ln_w = next->ln1_w, .ln_b = next->ln1_b, .eps = tw->eps, .y = c->h};
        post_quant(c, &ln1, QA_NORM, T, W, &next->qkv, NULL);
    }
    linear_rows(c, r, c->mlp, M, &b->proj, QA_HID, 1, x, W, &res2, next ? &ln1 : NULL);
}

/* c->h = ln_1 of tw's first block over x [nimg * Ti, W], with its int8 rows
 * for qkv: what block() expects on entry. */
static void first_norm(pe_ctx *c, const pe_tower *tw, float *x, int Ti, int nimg) {
    const pe_block *b = &tw->blocks[0];
    row_post ln1 = {.ln_w = b->ln1_w, .ln_b = b->ln1_b, .eps = tw->eps, .y = c->h};
    post_quant(c, &ln1, QA_NORM, Ti * nimg, tw->width, &b->qkv, NULL);
    rows_step(c, row_split(c, Ti, nimg), x, tw->width, &ln1);
}

/* x [nimg * Ti, n] = ln(x) in place. */
static void norm_in_place(pe_ctx *c, float *x, int Ti, int nimg, int n, const float *w, const float *b,
                          float eps) {
    row_post ln = {.ln_w = w, .ln_b = b, .eps = eps, .y = x};
    rows_step(c, row_split(c, Ti, nimg), x, n, &ln);
}

/* ------------------------------------------------------------ grids */

/* Bilinear resampling of the G x G position grid to gh x gw, as
 * torch.nn.functional.interpolate(align_corners=False, antialias=False). */
static void resample_pos(const float *src, int G, int W, int gh, int gw, float *dst) {
    for (int y = 0; y < gh; y++) {
        double sy = ((double)y + 0.5) * G / gh - 0.5;
        if (sy < 0) sy = 0;
        int y0 = (int)sy, y1 = y0 + (y0 < G - 1);
        float ly = (float)(sy - y0);
        for (int x = 0; x < gw; x++) {
            double sx = ((double)x + 0.5) * G / gw - 0.5;
            if (sx < 0) sx = 0;
            int x0 = (int)sx, x1 = x0 + (x0 < G - 1);
            float lx = (float)(sx - x0);
            const float *a = src + ((size_t)y0 * G + x0) * W, *b = src + ((size_t)y0 * G + x1) * W;
            const float *cc = src + ((size_t)y1 * G + x0) * W, *d = src + ((size_t)y1 * G + x1) * W;
            float *o = dst + ((size_t)y * gw + x) * W;
            for (int i = 0; i < W; i++)
                o[i] = (1 - ly) * ((1 - lx) * a[i] + lx * b[i]) + ly * ((1 - lx) * cc[i] + lx * d[i]);
        }
    }
}

/* Weights [g, G] of one axis of the DINOv2 family's bicubic resampling
 * (SPEC-dinov2.md, step 3), in double like the float64 reference.  aa:
 * antialiased (PIL's a = -0.5, support 2 max(G / g, 1), normalised); else
 * cubic convolution A = -0.75 at x = (i + 0.5) G / (g + 0.1) - 0.5 with
 * the taps clamped to the border. */
static void bicubic_axis(int G, int g, int aa, double *w) {
    memset(w, 0, (size_t)g * G * sizeof *w);
    for (int i = 0; i < g; i++) {
        double *row = w + (size_t)i * G;
        if (aa) {
            const double scale = (double)G / g, fs = scale > 1 ? scale : 1, support = 2 * fs;
            const double center = scale * (i + 0.5);
            int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
            lo = lo < 0 ? 0 : lo;
            hi = hi > G ? G : hi;
            double sum = 0;
            for (int j = lo; j < hi; j++) {
                double t = fabs((j - center + 0.5) / fs), a = -0.5;
                double v = t < 1 ? ((a + 2) * t - (a + 3)) * t * t + 1
                                 : t < 2 ? (((t - 5) * t + 8) * t - 4) * a : 0;
                row[j] = v;
                sum += v;
            }
            for (int j = lo; j < hi && sum != 0; j++) row[j] /= sum;
        } else {
            const double A = -0.75, x = (i + 0.5) * G / (g + 0.1) - 0.5, x0 = floor(x), t = x - x0;
            const double tw[4] = {((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
                                  ((A + 2) * t - (A + 3)) * t * t + 1,
                                  ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1,
                                  ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A};
            for (int k = 0; k < 4; k++) {
                int j = (int)x0 - 1 + k;
                row[j < 0 ? 0 : j >= G ? G - 1 : j] += tw[k];
            }
        }
    }
}

/* Doubles of resample_pos_bicubic's scratch. */
static size_t bicubic_tmp_doubles(int G, int W, int gh, int gw) {
    return (size_t)(gh + gw) * G + (size_t)G * W;
}

/* Separable bicubic resampling of the G x G grid src [G*G, W] to gh x gw;
 * tmp holds bicubic_tmp_doubles. */
static void resample_pos_bicubic(const float *src, int G, int W, int gh, int gw, int aa, double *tmp,
                                 float *dst) {
    double *wy = tmp, *wx = wy + (size_t)gh * G, *row = wx + (size_t)gw * G; /* row: [G, W] before the x pass */
    bicubic_axis(G, gh, aa, wy);
    bicubic_axis(G, gw, aa, wx);
    for (int y = 0; y < gh; y++) {
        memset(row, 0, (size_t)G * W * sizeof(double));
        for (int j = 0; j < G; j++) {
            const double wj = wy[(size_t)y * G + j];
            if (wj == 0) continue;
            for (int x = 0; x < G; x++)
                for (int i = 0; i < W; i++) row[(size_t)x * W + i] += wj * src[((size_t)j * G + x) * W + i];
        }
        for (int x = 0; x < gw; x++) {
            float *o = dst + ((size_t)y * gw + x) * W;
            for (int i = 0; i < W; i++) {
                double acc = 0;
                for (int k = 0; k < G; k++) acc += wx[(size_t)x * G + k] * row[(size_t)k * W + i];
                o[i] = (float)acc;
            }
        }
    }
}

/* RoPE table [T, dh]: per token dh/2 cosines then dh/2 sines, pair i of a
 * head rotating by x * f_i for i < dh/4 and by y * f_(i - dh/4) after. */
static void build_rope(float *cs, int has_cls, int gh, int gw, int dh) {
    const int half = dh / 2, quarter = dh / 4, o = has_cls ? 1 : 0;
    int t = 0;
    if (has_cls) {
        for (int i = 0; i < half; i++) { cs[i] = 1.0f; cs[half + i] = 0.0f; }
        t = 1;
    }
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++, t++) {
            float *row = cs + (size_t)t * dh;
            for (int i = 0; i < half; i++) {
                int j = i < quarter ? i : i - quarter;
                double f = pow(10000.0, -2.0 * j / (double)half);
                double a = (i < quarter ? x + o : y + o) * f;
                row[i] = (float)cos(a);
                row[half + i] = (float)sin(a);
            }
        }
}

/* ------------------------------------------------------------ planning */

static size_t up64(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* Grows *p (holding *have bytes) to need bytes, touched now: first-touch
 * page faults belong to planning, not to the first image. */
static pe_status grow(void **p, size_t *have, size_t need) {
    if (need <= *have) return PE_OK;
    pe_free(*p);
    *p = pe_alloc(need);
    *have = *p ? need : 0;
    if (!*p) return PE_ERR_NOMEM;
    memset(*p, 0, need);
    return PE_OK;
}

/* Sizes the scratch for nb vision inputs of gh x gw patches (and the text
 * tower), reallocating only when it grows. */
pe_status pe_forward_plan(pe_ctx *c, int gh, int gw, int nb) {
    const pe_model *m = c->m;
    const pe_arch *a = &m->arch;
    if (gh == c->gh && gw == c->gw && nb <= c->nb) return PE_OK;
    size_t T = (size_t)pe_arch_tokens(a, gh, gw), W = (size_t)a->width;
    size_t need_T = T * nb, need_W = W, need_M = (size_t)a->mlp;
    if (a->text.layers) {
        need_T = PE_MAX(need_T, (size_t)a->text.context);
        need_W = PE_MAX(need_W, (size_t)a->text.width);
        need_M = PE_MAX(need_M, (size_t)m->txt.mlp);
    }
    /* attention pooling: [W] x2 + [M']; linear4: 4 class tokens */
    size_t rows_pool = PE_MAX(2 * W + (size_t)m->pool_fc.n, 4 * W * nb);
    size_t sizes[] = {
        need_T * need_W,                 /* x */
        need_T * need_W,                 /* h */
        need_T * need_W * 3,             /* qkv */
        /* mlp, and before the first block the im2col patches */
        PE_MAX(need_T * need_M, T * 3 * (size_t)a->patch * a->patch),
        T * W,                           /* pos grid */
        T * (size_t)a->head_dim,        /* rope table */
        rows_pool,                       /* pool vectors */
        c->att_floats * (size_t)c->n_threads,
        a->pos_resample == PE_POS_BILINEAR ? 0 : 2 * bicubic_tmp_doubles(a->grid, (int)W, gh, gw),
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) total += up64(sizes[i]);
    size_t bytes = c->scratch_floats * sizeof(float);
    c->gh = c->gw = c->nb = 0; /* unplanned until it all fits */
    void *scratch = c->scratch;
    pe_status s = grow(&scratch, &bytes, total * sizeof(float));
    c->scratch = scratch;
    c->scratch_floats = bytes / sizeof(float);
    if (s) return s;
    if (use_qatt(c, &m->vis, (int)T)) {
        size_t head, thread;
        qatt_sizes((int)T, a->head_dim, &head, &thread);
        void *q = c->qatt;
        s = grow(&q, &c->qatt_bytes, (size_t)nb * a->heads * head + (size_t)c->n_threads * thread);
        c->qatt = q;
        if (s) return s;
        c->qatt_head = head;
        c->qatt_thread = thread;
    }
    /* int8 rows of q8/q4 linears, which see all rows of a batch (or a text) at once */
    if (m->q_kmax)
        for (int i = 0; i < 2; i++)
            if ((s = grow(&c->qact[i], &c->qact_bytes[i], pe_qact_bytes((int)need_T, m->q_kmax)))) return s;
    float *p = c->scratch;
    float *pos_tmp;
    float **slots[] = {&c->x, &c->h, &c->qkv, &c->mlp, &c->pos_grid, &c->rope, &c->pool_buf,
                       &c->att_scratch, &pos_tmp};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *slots[i] = p;
        p += up64(sizes[i]);
    }
    c->patches = c->mlp; /* first-touched memory is load time: share */
    c->pos_tmp = (double *)(void *)pos_tmp; /* 64-byte aligned (up64) */
    c->gh = gh;
    c->gw = gw;
    c->nb = nb;
    /* Grid-dependent tables, computed once per input size. */
    const int G = a->grid, cls = a->cls;
    if (gh == G && gw == G)
        memcpy(c->pos_grid, m->pos + (size_t)cls * W, (size_t)G * G * W * sizeof(float));
    else if (a->pos_resample == PE_POS_BILINEAR)
        resample_pos(m->pos + (size_t)cls * W, G, (int)W, gh, gw, c->pos_grid);
    else
        resample_pos_bicubic(m->pos + (size_t)cls * W, G, (int)W, gh, gw,
                             a->pos_resample == PE_POS_BICUBIC_AA, c->pos_tmp, c->pos_grid);
    if (a->rope) build_rope(c->rope, cls, gh, gw, a->head_dim);
    return PE_OK;
}

/* ------------------------------------------------------------ vision */

/* im2col: patches[gy * gw + gx][ch * P*P + ky * P + kx], the conv1 weight order. */
static void patchify(const float *img, int H, int Wd, int P, float *patches) {
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
    const int W = a->width, P = a->patch, cls = a->cls, R = a->registers;
    const int T = pe_arch_tokens(a, H / P, Wd / P), first = cls + R; /* first patch row */
    const size_t TW = (size_t)T * W;
    const float eps = m->vis.eps;
    float *x = c->x;

    for (int n = 0; n < nimg; n++) {
        float *xn = x + n * TW;
        patchify(img + (size_t)n * 3 * H * Wd, H, Wd, P, c->patches);
        pe_epilogue addpos = {.residual = c->pos_grid, .ldr = W};
        linear(c, c->patches, 3 * P * P, &m->patch, xn + (size_t)first * W, W, T - first, &addpos);
        if (cls)
            for (int i = 0; i < W; i++) xn[i] = m->cls[i] + m->pos[i];
        if (R) memcpy(xn + (size_t)cls * W, m->registers, (size_t)R * W * sizeof(float));
    }
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
    float *mean = out + 4 * (size_t)W;
    for (int i = 0; i < W; i++) {
        double s = 0;
        for (int t = first; t < T; t++) s += x[(size_t)t * W + i];
        mean[i] = (float)(s / (T - first));
    }
}

/* Attention pooling of one image's tokens x [T, W] with the probe, then
 * projection: emb [D]. */
static void pool_one(pe_ctx *c, const float *x, int T, float *emb) {
    const pe_model *m = c->m;
    const int W = m->arch.width, ph = m->arch.pool_heads, dh = W / ph;
    float *kv = c->qkv;                       /* [T, 2W] */
    float *a = c->pool_buf, *y = a + W, *hid = y + W;   /* [W], [W], [M'] */
    linear(c, x, W, &m->pool_kv, kv, 2 * W, T, NULL);
    for (int h = 0; h < ph; h++)
        c->k->attention(m->pool_q + h * dh, W, kv + h * dh, 2 * W, kv + W + h * dh, 2 * W,
                        c->h + h * dh, W, 1, T, dh, 1.0f / sqrtf((float)dh), 0, 0, c->att_scratch);
    linear(c, c->h, W, &m->pool_out, a, W, 1, NULL);
    c->k->layernorm(a, W, y, W, 1, W, m->pool_ln_w, m->pool_ln_b, 1e-5f);
    pe_epilogue act = {.gelu = PE_GELU_EXACT};
    linear(c, y, W, &m->pool_fc, hid, m->pool_fc.n, 1, &act);
    pe_epilogue res = {.residual = a, .ldr = W};
    linear(c, hid, m->pool_fc.n, &m->pool_proj, y, W, 1, &res);
    if (m->proj.n)
        linear(c, y, W, &m->proj, emb, m->proj.n, 1, NULL);
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
    pe_status s = pe_forward_plan(c, H / a->patch, Wd / a->patch, nimg);
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
    pe_status s = pe_forward_plan(c, c->gh ? c->gh : a->grid, c->gw ? c->gw : a->grid, PE_MAX(c->nb, 1));
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
    float *x = c->x;
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * W;
        size_t off = (size_t)ids[t] * W;
        if (m->tok_emb_dtype == PE_DT_F32)
            memcpy(row, (const float *)m->tok_emb + off, (size_t)W * sizeof(float));
        else if (m->tok_emb_dtype == PE_DT_F16)
            c->k->f16_to_f32((const uint16_t *)m->tok_emb + off, row, (size_t)W);
        else
            c->k->bf16_to_f32((const uint16_t *)m->tok_emb + off, row, (size_t)W);
        for (int i = 0; i < W; i++) row[i] += m->txt_pos[(size_t)t * W + i];
    }
    if (a->text.layers) first_norm(c, &m->txt, x, T, 1);
    for (int i = 0; i < a->text.layers; i++)
        block(c, &m->txt, &m->txt.blocks[i], i + 1 < a->text.layers ? &m->txt.blocks[i + 1] : NULL, x,
              T, 1, NULL, 1);
    float *last = x + (size_t)eot * W;
    c->k->layernorm(last, W, c->h, W, 1, W, m->ln_final_w, m->ln_final_b, m->txt.eps);
    linear(c, c->h, W, &m->txt_proj, emb, m->txt_proj.n, 1, NULL);
    return PE_OK;
}

/* ------------------------------------------------------------ cost */

static double block_flops(double T, double W, double M, int swiglu) {
    return 2 * T * W * (3 * W) + 2 * T * W * W + 2 * T * W * M * (swiglu ? 3 : 2) /* FFN */
           + 2 * 2 * T * T * W;                                                    /* QK^T and PV */
}

pe_status pe_model_flops(const pe_model *m, int height, int width, double *flops) {
    if (!m || !flops) return pe_error(PE_ERR_INVALID_ARG, "pe_model_flops: NULL argument");
    pe_output kind = m->arch.pool != PE_POOL_NONE ? PE_OUTPUT_EMBEDDING : PE_OUTPUT_TOKENS;
    pe_status s = pe_forward_check(m, height, width, kind, NULL, NULL);
    if (s) return s;
    const pe_arch *a = &m->arch;
    double P = a->patch, W = a->width, grid = (double)(height / a->patch) * (width / a->patch);
    double T = a->cls + a->registers + grid;
    double f = 2 * grid * 3 * P * P * W + a->layers * block_flops(T, W, a->mlp, a->ffn == PE_FFN_SWIGLU);
    if (a->pool == PE_POOL_ATTN)
        f += 2 * T * W * 2 * W + 2 * 2 * T * W + 2 * W * W + 2 * 2 * W * m->pool_fc.n +
             2 * W * a->out_dim * a->proj;
    *flops = f;
    return PE_OK;
}
