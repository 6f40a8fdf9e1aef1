/* Context and forward-pass internals. */
#ifndef PE_FORWARD_H
#define PE_FORWARD_H

#include "../kernels/kernels.h"
#include "../kernels/quant.h"
#include "../runtime/threadpool.h"
#include "model.h"

struct pe_ctx {
    const pe_model *m;
    const pe_kernels *k;
    const pe_qkernels *qk;      /* reduced-precision set matching k */
    pe_pool *pool;
    int n_threads;
    size_t att_floats;          /* attention scratch per thread */

    /* One scratch block, planned for a batch of nb inputs of the current
     * grid gh x gw (the rows of all nb images, T each, back to back). */
    float *scratch;
    size_t scratch_floats;
    int gh, gw, nb;
    int max_batch;              /* images one pass runs at most (pe_ctx_options) */
    float *x;                   /* [nb * T, W] residual stream        */
    float *h;                   /* [nb * T, W] normalised / attention */
    float *qkv;                 /* [nb * T, 3W]                       */
    float *mlp;                 /* [nb * T, M]                        */
    float *patches;             /* [gh*gw, 3*P*P], aliases mlp   */
    float *pos_grid;            /* [gh*gw, W] position embedding */
    double *pos_tmp;            /* bicubic resampling: weights [gh + gw, G], a row [G, W] */
    float *rope;                /* [T, dh] cos | sin             */
    float *pool_buf;            /* pooling vectors; linear4: [nb, 4, W] */
    float *att_scratch;         /* [n_threads, att_floats]       */

    /* int8 rows of the inputs of q8/q4 linears (pe_qact, kernels/quant.h),
     * two buffers (forward.c: QA_HID, QA_NORM) of up to nb * T (or a
     * text's) rows of m->q_kmax; planned with the grid. */
    void *qact[2];
    size_t qact_bytes[2];

    /* int8 attention of a vision tower with q8/q4 linears (forward.c,
     * qattention): per head qatt_head bytes (quantized queries, packed keys
     * and values) of each of nb images, then per thread qatt_thread bytes
     * (a query block's scores and their quantized weights); planned with
     * the grid. */
    uint8_t *qatt;
    size_t qatt_bytes, qatt_head, qatt_thread;

    /* 8-bit image preprocessing */
    uint8_t *img_scratch;
    size_t img_scratch_bytes;
    float *img;                 /* [3, H, W] */
    size_t img_floats;
};

/* Sizes the context's scratch for nb inputs of a gh x gw patch grid (and
 * the text tower); allocates only when it grows. */
pe_status pe_forward_plan(pe_ctx *c, int gh, int gw, int nb);
pe_status pe_forward_check(const pe_model *m, int H, int W, pe_output kind, int *rows, int *cols);
/* nimg images [nimg, 3, H, W] -> out, per image an embedding [D], tokens [T, W] or
 * linear4 [5W], as one batch: the linears run on all nimg * T rows at once (the
 * same numbers as one image at a time).  stages (nimg 1 only), if not NULL,
 * receives (layers + 3) * T * W floats. */
pe_status pe_forward_images(pe_ctx *c, const float *img, int nimg, int H, int W, pe_output kind,
                            float *out, float *stages);
/* ids [len] -> emb [D]. */
pe_status pe_forward_text(pe_ctx *c, const int32_t *ids, int len, float *emb);

#endif
