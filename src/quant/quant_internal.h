/* The quantizer's internals: what it learns from calibration images
 * (calib.c), the plan it makes from them and from the weights (plan.c,
 * smooth.c, gptq.c), which quantize.c writes and report.c measures. */
#ifndef PE_QUANT_INTERNAL_H
#define PE_QUANT_INTERNAL_H

#include "../model/forward.h"

/* The rows one linear input site of one block saw (PE_OBS_*). */
typedef struct pe_calib_site {
    int k;                  /* channels */
    float *absmax;          /* [k] max |x| per channel */
    float *H;               /* [k, k] sum over rows of x x^T */
    float *sample;          /* [cap, k] rows kept to measure output errors */
    int n_sample, cap;
    int64_t rows;           /* rows seen */
} pe_calib_site;

typedef struct pe_calib {
    int layers;
    pe_calib_site *site;    /* [layers * PE_OBS_SITES] */
    int n_images;
    pe_output kind;         /* embedding, or tokens for a model without pooling */
    size_t out_len;         /* floats of one output */
    float *out;             /* [n_images, out_len] the source model's outputs */
} pe_calib;

/* Runs the n_calib images of o through m (float weights), collecting every
 * site of the vision tower's blocks and the outputs. */
pe_status pe_calib_run(const pe_model *m, const pe_quantize_options *o, pe_calib *cal);
void pe_calib_free(pe_calib *cal);
static inline pe_calib_site *pe_calib_at(const pe_calib *cal, int layer, int site) {
    return &cal->site[layer * PE_OBS_SITES + site];
}

/* The tensors of one vision block that the methods change, found through
 * the loader's name tables (model/names.h) in the source. */
typedef struct pe_qblock {
    int ln1w, ln1b, qkvw, outw, ln2w, ln2b, fcw, projw; /* tensor indices, -1: none;
                               fcw is SwiGLU's w12 (both halves read ln_2) */
    float *s_qkv, *s_fc;    /* [W] the scales qkv's / fc's inputs were divided
                               by (folded into ln_1 / ln_2), or NULL */
} pe_qblock;

/* The quantization plan: per source tensor what replaces the source's
 * values, filled by smooth.c and gptq.c. */
typedef struct pe_qtensor {
    float *val;             /* new values (the source's layout and shape), or NULL */
    int32_t *fcols;         /* a linear's input columns kept in float (ascending), or NULL */
    int n_fcols;
    float *fcol_w;          /* [N, n_fcols] their weights */
    void *packed;           /* the weight packed here (GPTQ), or NULL */
} pe_qtensor;

typedef struct pe_qplan {
    int n_tensors;
    pe_qtensor *t;          /* [n_tensors] */
    int layers;
    pe_qblock *blk;         /* [layers] */
} pe_qplan;

pe_status pe_qplan_init(pe_qplan *p, const pe_model *m);
void pe_qplan_free(pe_qplan *p);
/* Element i of tensor t as the plan has it. */
float pe_qplan_elem(const pe_qplan *p, const pe_safetensors *st, int t, uint64_t i);
/* The plan's values of tensor t, created from the source on first use. */
float *pe_qplan_values(pe_qplan *p, const pe_safetensors *st, int t);

/* smooth.c: folds per-channel scales into ln_1 -> qkv and ln_2 -> fc, and
 * picks the float columns of each FFN output projection; cal may be NULL
 * (weights alone); without: PE_QUANT_NO_SMOOTH / _NO_FCOLS.  wt_of gives
 * each linear weight's type. */
pe_status pe_quant_smooth(pe_qplan *p, const pe_model *m, const pe_calib *cal, unsigned without,
                          pe_wtype (*wt_of)(void *, int), void *u);

/* gptq.c: packs linear weight t of type wt (q8 / q4) with error
 * compensation on the site's Hessian into p->t[t].packed. */
pe_status pe_quant_gptq(pe_qplan *p, const pe_safetensors *st, int t, pe_wtype wt,
                        const pe_calib_site *site);

/* The relative error ||y' - y|| / ||y|| of y' = the engine's int8 product
 * against y = X W^T for the R rows X [R, K] and W [N, K] (source values):
 * rows divided by s [K] (NULL: 1) and weight columns multiplied by it,
 * columns fcols [nc] kept apart in float, rows quantized per row, the
 * weight as type wt (or as packed_w, already packed, when not NULL). */
double pe_quant_emulate(const float *X, int R, const float *W, int N, int K, pe_wtype wt, const float *s,
                        const int32_t *fcols, int nc, const void *packed_w);


/* report.c: the quality report of pe_quantize_options.report. */
void pe_quant_report_init(pe_quant_report *r, const pe_qplan *p, const pe_calib *cal, int plain);
/* The errors of each int8 linear of the vision blocks, before and after. */
pe_status pe_quant_report_measure(pe_quant_report *r, pe_qplan *p, const pe_model *m, const pe_calib *cal,
                                  pe_wtype (*wt_of)(void *, int), void *u);
/* The cosine of the written model's outputs to the source's. */
pe_status pe_quant_report_compare(pe_quant_report *r, const char *path, const pe_calib *cal,
                                  const pe_quantize_options *o);
/* The report as one JSON object (the file's pecore_quant_report). */
const char *pe_quant_report_json(const pe_quant_report *r, char *buf, size_t n);
/* That JSON read back strictly (text from a file: untrusted): every field
 * present, typed and in range, strings short enough; PE_ERR_FORMAT else. */
pe_status pe_quant_report_parse(const char *text, size_t len, pe_quant_report *r);

#endif
