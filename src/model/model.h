/* The in-memory model: weights bound to the blocks of the forward pass.
 * Linear weights are packed for the GEMM kernels once at load; vectors that
 * are F32 and aligned in the file point straight into the mapping. */
#ifndef PE_MODEL_H
#define PE_MODEL_H

#include "../common.h"
#include "../format/safetensors.h"
#include "arch.h"
#include "names.h"

typedef struct pe_linear {
    const void *w;          /* packed [n, k] in wtype's layout (kernels.h, quant.h) */
    const float *b;         /* [n] or NULL */
    int n, k;
    int wtype;              /* pe_wtype: f32, f16, bf16, q8, q4 */
    /* q8/q4 only (pecore quantize's float columns): input columns left out
     * of the int8 product (zero in w) and added in float at run time */
    int n_fcols;
    const int32_t *fcols;   /* [n_fcols] ascending column indices */
    const float *fcol_w;    /* [n, n_fcols] packed as a float32 weight */
    /* fp16 compute (f16.h): f16 panels of w (w itself for an f16 linear,
     * else a converted copy in pe_model.f16_arena), or NULL: the linear
     * runs in its own precision then */
    const void *w16;
} pe_linear;

typedef struct pe_block {
    const float *ln1_w, *ln1_b;   /* [W] */
    pe_linear qkv;                /* [3W, W] rows q | k | v */
    pe_linear out;                /* [W, W] */
    const float *ls1, *ls2;       /* [W] LayerScale or NULL */
    const float *ln2_w, *ln2_b;   /* [W] */
    pe_linear fc;                 /* [M, W] GELU fc1, or SwiGLU's gated half w12[:M] */
    pe_linear fc_up;              /* [M, W] SwiGLU's other half w12[M:]; n = 0 for GELU */
    pe_linear proj;               /* [W, M] fc2 / w3 */
} pe_block;

typedef struct pe_tower {
    int width, layers, heads, head_dim, mlp;
    float eps;                    /* LayerNorm epsilon */
    pe_block *blocks;             /* [layers] */
} pe_tower;

struct pe_model {
    pe_safetensors st;
    pe_arch arch;                 /* what the file is (the loader fills it)  */
    pe_layout layout;             /* the vision tower's checkpoint layout ... */
    const char *vision_prefix;    /* ... under this prefix ("", "visual.", ...) */
    pe_model_info info;           /* its public view, plus the file's counts */
    uint8_t *arena;               /* converted and packed weights (in map) */
    size_t arena_bytes;
    void *map;                    /* the anonymous mapping holding the arena */
    size_t map_bytes;
    int q_kmax;                   /* widest k of a q8/q4 linear; 0: none */
    int fcol_max;                 /* most float columns of a linear; 0: none */
    void *f16_arena;              /* the f16 panels of fp16 compute (pe_linear.w16), */
    int f16_ready;                /* made by the first f16 context (f16_weights.c) */

    /* vision */
    pe_tower vis;
    pe_linear patch;              /* conv1 as [W, 3*P*P], bias in the DINOv2 family */
    const float *cls;             /* [W] or NULL */
    const float *registers;       /* [R, W] or NULL (arch.registers) */
    const float *pos;             /* [T0, W], T0 = cls + G*G */
    const float *ln_pre_w, *ln_pre_b;    /* [W] or NULL */
    const float *ln_post_w, *ln_post_b;  /* [W] or NULL */
    /* attention pooling (arch.pool == PE_POOL_ATTN) */
    const float *pool_q;          /* [W] probe Wq^T + bq, computed at load */
    pe_linear pool_kv;            /* [2W, W] */
    pe_linear pool_out;           /* [W, W] */
    const float *pool_ln_w, *pool_ln_b;  /* [W] */
    pe_linear pool_fc, pool_proj; /* [M, W], [W, M] */
    pe_linear proj;               /* [D, W] (proj transposed) or n = 0 */

    /* text (arch.text.layers) */
    pe_tower txt;
    const void *tok_emb;          /* [V, Wt] in its stored dtype */
    pe_dtype tok_emb_dtype;
    const float *txt_pos;         /* [C, Wt] */
    const float *ln_final_w, *ln_final_b;
    pe_linear txt_proj;           /* [D, Wt] (text_projection transposed) */
    float logit_scale;            /* already exp()'d */
};

/* Hash of the tensor names, shapes, dtypes and a sample of the weight
 * bytes (fingerprint.c): tells models apart. */
uint64_t pe_model_fingerprint(const pe_model *m);

/* Loader internals shared with synth.c. */
pe_status pe_model_bind(pe_model *m, int vision_only);
void pe_model_unbind(pe_model *m);

#endif
