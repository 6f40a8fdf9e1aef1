/* The context, and the forward pass (forward.c: the graph; its steps are
 * ops.c, its scratch plan.c). */
#ifndef PE_FORWARD_H
#define PE_FORWARD_H

#include "../kernels/f16.h"
#include "../kernels/kernels.h"
#include "../kernels/quant.h"
#include "../runtime/threadpool.h"
#include "model.h"

/* Row slots of a context: x, h, qkv, mlp, attention scratch. */
enum { PE_ROW_SLOTS = 5 };

struct pe_ctx {
    const pe_model *m;
    const pe_kernels *k;
    const pe_qkernels *qk;      /* reduced-precision set matching k */
    const pe_f16kernels *fk;    /* PE_COMPUTE_F16: the fp16 set, else NULL */
    pe_pool *pool;
    int n_threads;
    size_t att_floats;          /* attention scratch per thread */
    int max_batch;              /* images one pass runs at most (pe_ctx_options) */

    /* The rows every pass works on (plan.c): one block of PE_ROW_SLOTS
     * slots, row_slot[i] floats each, grown to the largest vision batch
     * (nb * T rows) or text (its context) planned so far. */
    float *rows;
    size_t rows_floats, row_slot[PE_ROW_SLOTS];
    float *x;                   /* [rows, W] residual stream        */
    float *h;                   /* [rows, W] normalised / attention */
    float *qkv;                 /* [rows, 3W]                       */
    float *mlp;                 /* [rows, M]                        */
    float *patches;             /* [gh*gw, 3*P*P], aliases mlp      */
    float *att_scratch;         /* [n_threads, att_floats]          */
    int text_planned;           /* the rows fit the text tower      */

    /* The tables of the current vision grid gh x gw, planned for a batch
     * of nb inputs (the rows of all nb images, T each, back to back). */
    float *grid;
    size_t grid_floats;
    int gh, gw, nb;
    float *pos_grid;            /* [gh*gw, W] position embedding */
    double *pos_tmp;            /* bicubic resampling: weights [gh + gw, G], a row [G, W] */
    float *rope;                /* [T, dh] cos | sin             */
    float *pool_buf;            /* pooling vectors; linear4: [nb, 4, W] */

    /* int8 rows of the inputs of q8/q4 linears (pe_qact, kernels/quant.h),
     * two buffers (ops.h: PE_QA_HID, PE_QA_NORM) of as many rows as the
     * row slots, of m->q_kmax; planned with them. */
    void *qact[2];
    size_t qact_bytes[2];
    /* The float columns of a q8/q4 linear's input rows (pe_linear.fcols,
     * ops.c): [rows, m->fcol_max]; planned with the row slots. */
    float *fside;
    size_t fside_bytes;

    /* int8 attention of a vision tower with q8/q4 linears (ops.c,
     * pe_op_qattention): per head qatt_head bytes (quantized queries,
     * packed keys and values) of each of nb images, then per thread
     * qatt_thread bytes (a query block's scores and their quantized
     * weights); planned with the grid. */
    uint8_t *qatt;
    size_t qatt_bytes, qatt_head, qatt_thread;

    /* Calibration (quant/calib.c): when set, called by the vision tower's
     * blocks with the rows each linear reads (PE_OBS_*), once they are
     * final; x [rows, n]. */
    void (*observe)(void *user, int layer, int site, const float *x, int rows, int n);
    void *observe_user;

    /* 8-bit image preprocessing */
    uint8_t *img_scratch;
    size_t img_scratch_bytes;
    float *img;                 /* [3, H, W] */
    size_t img_floats;
};

/* The inputs of a block's linears, as pe_ctx.observe sees them. */
enum { PE_OBS_QKV = 0, PE_OBS_OUT = 1, PE_OBS_FC = 2, PE_OBS_PROJ = 3, PE_OBS_SITES = 4 };

/* pe_output_shape: whether m gives kind for an H x W input, and its size. */
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
