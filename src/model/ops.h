/* The steps of the forward pass (ops.c): linears with their epilogues and
 * row posts, LayerNorm over rows, float and int8 attention, im2col.  Each
 * runs on the context's thread pool and scratch; forward.c is the graph
 * that strings them together. */
#ifndef PE_OPS_H
#define PE_OPS_H

#include "forward.h"

/* The steps of a block cut the rows of each image (T tokens) into the same
 * blocks: as many as a multiple of the thread count, of 64 rows at most
 * (ops.c: ROW_MB), never spanning two images.  The pool runs each thread's
 * contiguous share of the tasks first, so in consecutive steps a thread
 * works on the same rows (on this VM a core reads what the other wrote at
 * ~1/4 speed), and a task that owns whole rows can finish them: the
 * epilogue, then LayerNorm and the int8 quantization for the next linear
 * (pe_row_post), with no step of its own. */
typedef struct pe_rows {
    int T, nimg;    /* nimg images of T rows each */
    int per;        /* blocks per image */
    int align;      /* blocks start at multiples of it within an image (0: 1) */
} pe_rows;

/* r for nimg images of T rows on c's threads. */
pe_rows pe_rows_split(const pe_ctx *c, int T, int nimg);

/* What a step does to each output row of C [*, n] once it is final, in this
 * order: RoPE on the query and key parts of a qkv row ([q | k | v], n =
 * 3W); y = ln(row) (y [*, n] may be C itself); the int8 quantization of y
 * (or of C without LayerNorm) into qa, for the q8/q4 linear that reads
 * those rows next. */
typedef struct pe_row_post {
    const float *rope; int heads, dh;   /* rope: table [T, dh] or NULL */
    const float *ln_w, *ln_b;           /* ln_w NULL: no LayerNorm */
    float eps;
    float *y;
    int quant;
    pe_qact qa;
    const pe_linear *split;             /* its float columns leave the int8 rows */
    float *side;                        /* ... into side [*, split->n_fcols] */
} pe_row_post;

/* The int8 rows of a q8/q4 linear's input live in one of two buffers, so a
 * step can quantize its output rows for the next linear while its other
 * tasks still read their input rows: PE_QA_NORM holds normalised rows (the
 * inputs of qkv and fc), PE_QA_HID the others (attention output, FFN hidden,
 * the pooling head). */
enum { PE_QA_HID = 0, PE_QA_NORM = 1 };

int pe_linear_quantized(const pe_linear *lin); /* q8 or q4 */

/* post quantizes its rows (M of K) into buf for the linears a and b (b may
 * be NULL) when either is q8/q4; returns whether it does.  The float
 * columns of a (pe_linear.fcols) go to c->fside instead, zero in the rows. */
int pe_op_post_quant(const pe_ctx *c, pe_row_post *post, int buf, int M, int K, const pe_linear *a,
                     const pe_linear *b);

/* C [M, n] = epilogue(A lin^T + bias) for the M = r.T * r.nimg rows of r,
 * then post (NULL: none) on each row of C.  ep may be NULL; its bias is
 * replaced by the linear's.  q8/q4: ready says that int8 buffer buf holds
 * A's rows already (a previous step's post quantized them); otherwise they
 * are quantized into it here. */
void pe_op_linear_rows(pe_ctx *c, pe_rows r, const float *A, int lda, const pe_linear *lin, int buf, int ready,
                       float *C, int ldc, const pe_epilogue *ep, const pe_row_post *post);
/* The same for M rows of one input, nothing quantized yet, no post. */
void pe_op_linear(pe_ctx *c, const float *A, int lda, const pe_linear *lin, float *C, int ldc, int M,
                  const pe_epilogue *ep);
/* post on the rows of x [M, n] (a LayerNorm step of its own). */
void pe_op_rows(pe_ctx *c, pe_rows r, float *x, int n, const pe_row_post *post);

/* out [r.nimg * r.T, W] = softmax(q k^T / sqrt(dh)) v per image and head of
 * tw, from qkv [r.nimg * r.T, 3W]; causal: each query sees the keys up to
 * its own (the text tower). */
void pe_op_attention(pe_ctx *c, pe_rows r, const float *qkv, float *out, const pe_tower *tw, int causal);

/* out [W] = attention of the one query q [W] (heads of W / heads) over the
 * keys and values kv [T, 2W] (k | v): attention pooling's probe. */
void pe_op_probe_attention(pe_ctx *c, const float *q, const float *kv, int T, int W, int heads, float *out);

/* The same in int8 for a vision tower with q8/q4 linears, rotating q and k
 * by the RoPE table cs [T, dh] (NULL: none) while it packs them, then post
 * on out's rows.  Used when pe_op_qattention_used; the plan sizes c->qatt
 * with pe_op_qattention_sizes (bytes per head, per thread). */
void pe_op_qattention(pe_ctx *c, pe_rows r, float *qkv, float *out, const pe_tower *tw, const float *cs,
                      const pe_row_post *post);
int pe_op_qattention_used(const pe_ctx *c, const pe_tower *tw, int T);
void pe_op_qattention_sizes(int T, int dh, size_t *head, size_t *thread);

/* fp16 compute's attention (ops.c) of a vision tower whose linears are not
 * int8: out = attention of qkv's heads (RoPE already applied), per head two
 * fp16 GEMMs.  Used when pe_op_hattention_used; the plan sizes c->qatt with
 * pe_op_hattention_sizes. */
void pe_op_hattention(pe_ctx *c, pe_rows r, const float *qkv, float *out, const pe_tower *tw);
int pe_op_hattention_used(const pe_ctx *c, const pe_tower *tw, int T);
void pe_op_hattention_sizes(int T, int dh, size_t *head, size_t *thread);

/* im2col of one image [3, H, W] into patches [(H/P) * (W/P), 3*P*P]. */
void pe_op_patchify(const float *img, int H, int W, int P, float *patches);
/* y [n] = a + b. */
void pe_op_add(const float *a, const float *b, int n, float *y);
/* mean [W] of the rows of x [rows, W], summed in double. */
void pe_op_mean_rows(const float *x, int rows, int W, float *mean);
/* x [T, W] = the rows ids[0..T) of the table emb [V, W] (stored as dtype)
 * plus the positions pos [T, W]. */
void pe_op_embed_ids(const pe_ctx *c, const void *emb, pe_dtype dtype, const int32_t *ids, int T, int W,
                     const float *pos, float *x);

#endif
