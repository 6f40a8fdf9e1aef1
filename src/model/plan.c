/* The context's scratch plan and the position tables of an input grid.
 * Two blocks: the rows every pass works on (x, h, qkv, mlp, attention
 * scratch), grown to the largest vision batch or text planned so far, and
 * the tables of the current vision grid (positions, RoPE, pooling
 * vectors).  Vision plans per grid and batch; the text tower plans once,
 * on its own rows, and never touches the grid. */
#include "plan.h"

#include "ops.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ position tables */

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
 * (docs/dinov2.md, "Learned positions, resampled
 * bicubically"), in double like the float64 reference.  aa:
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

/* Carves n slots of sizes[i] floats (64-byte aligned) out of block p. */
static void carve(float *p, const size_t *sizes, float **const *slots, size_t n) {
    for (size_t i = 0; i < n; i++) {
        *slots[i] = p;
        p += up64(sizes[i]);
    }
}

/* The row slots hold at least rows of width W with an FFN of M (and, in
 * mlp, the im2col patches [patch_floats]); int8 rows for q8/q4 linears. */
static pe_status plan_rows(pe_ctx *c, size_t rows, size_t W, size_t M, size_t patch_floats) {
    const size_t need[PE_ROW_SLOTS] = {
        rows * W,                        /* x */
        rows * W,                        /* h */
        rows * W * 3,                    /* qkv */
        PE_MAX(rows * M, patch_floats),  /* mlp, and before the first block the patches */
        c->att_floats * (size_t)c->n_threads,
    };
    const pe_model *m = c->m;
    pe_status s = PE_OK;
    if (m->q_kmax) /* q8/q4 linears see all rows of a batch (or a text) at once */
        for (int i = 0; i < 2 && !s; i++)
            s = grow(&c->qact[i], &c->qact_bytes[i], pe_qact_bytes((int)rows, m->q_kmax));
    if (m->fcol_max && !s) { /* the float columns of those rows (pe_linear.fcols) */
        void *f = c->fside;
        s = grow(&f, &c->fside_bytes, rows * (size_t)m->fcol_max * sizeof(float));
        c->fside = f;
    }
    size_t size[PE_ROW_SLOTS], total = 0;
    int grown = !c->rows;
    for (int i = 0; i < PE_ROW_SLOTS; i++) {
        size[i] = PE_MAX(need[i], c->row_slot[i]);
        grown |= size[i] > c->row_slot[i];
        total += up64(size[i]);
    }
    if (s || !grown) return s;
    size_t bytes = c->rows_floats * sizeof(float);
    void *block = c->rows;
    memset(c->row_slot, 0, sizeof c->row_slot); /* unplanned until it fits */
    c->text_planned = 0;
    s = grow(&block, &bytes, total * sizeof(float));
    c->rows = block;
    c->rows_floats = bytes / sizeof(float);
    if (s) return s;
    memcpy(c->row_slot, size, sizeof size);
    float **const slots[PE_ROW_SLOTS] = {&c->x, &c->h, &c->qkv, &c->mlp, &c->att_scratch};
    carve(c->rows, c->row_slot, slots, PE_ROW_SLOTS);
    c->patches = c->mlp; /* first-touched memory is load time: share */
    return PE_OK;
}

/* The grid block for nb images of gh x gw patches: positions [T, W], the
 * RoPE table [T, dh], the pooling vectors (attention pooling: [W] x2 +
 * [M']; linear4: [nb, 4, W]), the bicubic resampling's scratch. */
static pe_status plan_grid(pe_ctx *c, int gh, int gw, int nb) {
    const pe_model *m = c->m;
    const pe_arch *a = &m->arch;
    const size_t T = (size_t)pe_arch_tokens(a, gh, gw), W = (size_t)a->width;
    const size_t sizes[] = {
        T * W,
        T * (size_t)a->head_dim,
        PE_MAX(2 * W + (size_t)m->pool_fc.n, 4 * W * nb),
        a->pos_resample == PE_POS_BILINEAR ? 0 : 2 * bicubic_tmp_doubles(a->grid, (int)W, gh, gw),
    };
    size_t total = 0, bytes = c->grid_floats * sizeof(float);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) total += up64(sizes[i]);
    void *block = c->grid;
    pe_status s = grow(&block, &bytes, total * sizeof(float));
    c->grid = block;
    c->grid_floats = bytes / sizeof(float);
    if (s) return s;
    float *pos_tmp;
    float **const slots[] = {&c->pos_grid, &c->rope, &c->pool_buf, &pos_tmp};
    carve(c->grid, sizes, slots, sizeof slots / sizeof *slots);
    c->pos_tmp = (double *)(void *)pos_tmp; /* 64-byte aligned (up64) */
    return PE_OK;
}

/* int8 (or fp16) attention's buffers for nb images of T tokens, when it runs. */
static pe_status plan_qattention(pe_ctx *c, int T, int nb) {
    const pe_model *m = c->m;
    size_t head, thread;
    if (pe_op_qattention_used(c, &m->vis, T)) pe_op_qattention_sizes(T, m->arch.head_dim, &head, &thread);
    else if (pe_op_hattention_used(c, &m->vis, T)) pe_op_hattention_sizes(T, m->arch.head_dim, &head, &thread);
    else return PE_OK;
    void *q = c->qatt;
    pe_status s = grow(&q, &c->qatt_bytes, (size_t)nb * m->arch.heads * head + (size_t)c->n_threads * thread);
    c->qatt = q;
    if (s) return s;
    c->qatt_head = head;
    c->qatt_thread = thread;
    return PE_OK;
}

/* The learned positions on the planned grid, and its RoPE table. */
static void grid_tables(pe_ctx *c) {
    const pe_model *m = c->m;
    const pe_arch *a = &m->arch;
    const int G = a->grid, cls = a->cls, W = a->width, gh = c->gh, gw = c->gw;
    const float *pos = m->pos + (size_t)cls * W; /* [G*G, W], past the class slot */
    if (gh == G && gw == G)
        memcpy(c->pos_grid, pos, (size_t)G * G * W * sizeof(float));
    else if (a->pos_resample == PE_POS_BILINEAR)
        resample_pos(pos, G, W, gh, gw, c->pos_grid);
    else
        resample_pos_bicubic(pos, G, W, gh, gw, a->pos_resample == PE_POS_BICUBIC_AA, c->pos_tmp,
                             c->pos_grid);
    if (a->rope) build_rope(c->rope, cls, gh, gw, a->head_dim);
}

pe_status pe_plan_vision(pe_ctx *c, int gh, int gw, int nb) {
    const pe_arch *a = &c->m->arch;
    if (gh == c->gh && gw == c->gw && nb <= c->nb) return PE_OK;
    const size_t T = (size_t)pe_arch_tokens(a, gh, gw);
    c->gh = c->gw = c->nb = 0; /* unplanned until it all fits */
    pe_status s = plan_rows(c, T * nb, (size_t)a->width, (size_t)a->mlp, T * 3 * (size_t)a->patch * a->patch);
    if (s || (s = plan_grid(c, gh, gw, nb)) || (s = plan_qattention(c, (int)T, nb))) return s;
    c->gh = gh;
    c->gw = gw;
    c->nb = nb;
    grid_tables(c);
    return PE_OK;
}

pe_status pe_plan_text(pe_ctx *c) {
    const pe_model *m = c->m;
    if (c->text_planned) return PE_OK;
    const pe_arch *a = &m->arch;
    pe_status s = plan_rows(c, (size_t)a->text.context, (size_t)a->text.width, (size_t)m->txt.mlp, 0);
    c->text_planned = !s;
    return s;
}
