/* The known models: PE Core (CLIP: vision and text towers), PE Lang and
 * PE Spatial (docs/pe.md), and the DINOv2 family's releases (docs/dinov2.md).
 * Used to name a loaded model, to supply head counts a file does not carry,
 * and by `pecore synth`.  Every field a family fixes comes from its macro;
 * an entry gives the sizes. */
#include "arch.h"

#include <stdio.h>
#include <strings.h>

/* PE: learned positions resampled bilinearly plus 2-D RoPE, GELU FFN. */
#define PE_FIXED                                                                                        \
    .family = PE_FAMILY_PE, .rope = 1, .pos_resample = PE_POS_BILINEAR, .ffn = PE_FFN_GELU,             \
    .ln_eps = 1e-5f, .pool_heads = 8, .transform = PE_TRANSFORM_PE
/* PE Core: attention pooling, then the projection to the CLIP space. */
#define PE_CORE PE_FIXED, .ln_post = 1, .pool = PE_POOL_ATTN, .proj = 1
/* PE Lang / Spatial: LayerScale, the token grid is the output. */
#define PE_TOKENS PE_FIXED, .cls = 1, .layerscale = 1, .pool = PE_POOL_NONE
#define PE_TOKENS_NO_CLS PE_FIXED, .layerscale = 1, .pool = PE_POOL_NONE
#define CLIP_TEXT(ctx, w, h, l, d)                                                                      \
    .text = {.context = ctx, .width = w, .heads = h, .layers = l, .vocab = 49408, .out_dim = d}
/* The DINOv2 family: class token as the embedding, heads of 64, bicubic
 * position resampling (antialiased with registers), LayerScale. */
#define DINOV2_FIXED                                                                                    \
    .cls = 1, .ln_eps = 1e-6f, .layerscale = 1, .ln_post = 1, .pool = PE_POOL_CLS,                     \
    .transform = PE_TRANSFORM_DINOV2_EVAL
#define DINOV2 .family = PE_FAMILY_DINOV2, DINOV2_FIXED, .ffn = PE_FFN_GELU
#define FRANCA                                                                                          \
    .family = PE_FAMILY_FRANCA, DINOV2_FIXED, .ffn = PE_FFN_SWIGLU, .pos_resample = PE_POS_BICUBIC_OFFSET

const pe_arch pe_arch_table[] = {
    {.name = "PE-Core-T16-384", PE_CORE, .cls = 1, .patch = 16, .width = 192, .layers = 12, .heads = 3,
     .head_dim = 64, .mlp = 768, .grid = 384 / 16, .out_dim = 512, CLIP_TEXT(32, 512, 8, 12, 512)},
    {.name = "PE-Core-S16-384", PE_CORE, .cls = 1, .patch = 16, .width = 384, .layers = 12, .heads = 6,
     .head_dim = 64, .mlp = 1536, .grid = 384 / 16, .out_dim = 512, CLIP_TEXT(32, 512, 8, 12, 512)},
    {.name = "PE-Core-B16-224", PE_CORE, .cls = 1, .patch = 16, .width = 768, .layers = 12, .heads = 12,
     .head_dim = 64, .mlp = 3072, .grid = 224 / 16, .out_dim = 1024, CLIP_TEXT(32, 1024, 16, 24, 1024)},
    {.name = "PE-Core-L14-336", PE_CORE, .cls = 1, .patch = 14, .width = 1024, .layers = 24, .heads = 16,
     .head_dim = 64, .mlp = 4096, .grid = 336 / 14, .out_dim = 1024, CLIP_TEXT(32, 1024, 16, 24, 1024)},
    {.name = "PE-Core-G14-448", PE_CORE, .patch = 14, .width = 1536, .layers = 50, .heads = 16,
     .head_dim = 96, .mlp = 8960, .grid = 448 / 14, .out_dim = 1280, CLIP_TEXT(72, 1280, 20, 24, 1280)},
    {.name = "PE-Lang-L14-448", PE_TOKENS, .patch = 14, .width = 1024, .layers = 23, .heads = 16,
     .head_dim = 64, .mlp = 4096, .grid = 448 / 14, .out_dim = 1024},
    {.name = "PE-Lang-G14-448", PE_TOKENS_NO_CLS, .patch = 14, .width = 1536, .layers = 47, .heads = 16,
     .head_dim = 96, .mlp = 8960, .grid = 448 / 14, .out_dim = 1536},
    {.name = "PE-Spatial-G14-448", PE_TOKENS_NO_CLS, .patch = 14, .width = 1536, .layers = 50, .heads = 16,
     .head_dim = 96, .mlp = 8960, .grid = 448 / 14, .out_dim = 1536},
    {.name = "DINOv2-S14", DINOV2, .pos_resample = PE_POS_BICUBIC_OFFSET, .patch = 14, .width = 384,
     .layers = 12, .heads = 6, .head_dim = 64, .mlp = 1536, .grid = 518 / 14, .out_dim = 384},
    {.name = "DINOv2-S14-reg4", DINOV2, .registers = 4, .pos_resample = PE_POS_BICUBIC_AA, .patch = 14,
     .width = 384, .layers = 12, .heads = 6, .head_dim = 64, .mlp = 1536, .grid = 518 / 14, .out_dim = 384},
    {.name = "DINOv2-B14", DINOV2, .pos_resample = PE_POS_BICUBIC_OFFSET, .patch = 14, .width = 768,
     .layers = 12, .heads = 12, .head_dim = 64, .mlp = 3072, .grid = 518 / 14, .out_dim = 768},
    {.name = "DINOv2-L14", DINOV2, .pos_resample = PE_POS_BICUBIC_OFFSET, .patch = 14, .width = 1024,
     .layers = 24, .heads = 16, .head_dim = 64, .mlp = 4096, .grid = 518 / 14, .out_dim = 1024},
    /* mlp is SwiGLU's hidden size h */
    {.name = "Franca-B14", FRANCA, .patch = 14, .width = 768, .layers = 12, .heads = 12, .head_dim = 64,
     .mlp = 2048, .grid = 518 / 14, .out_dim = 768},
    {.name = "Franca-L14", FRANCA, .patch = 14, .width = 1024, .layers = 24, .heads = 16, .head_dim = 64,
     .mlp = 2736, .grid = 224 / 14, .out_dim = 1024},
};
const int pe_arch_count = (int)(sizeof pe_arch_table / sizeof pe_arch_table[0]);

const pe_arch *pe_arch_find(const char *name) {
    for (int i = 0; name && i < pe_arch_count; i++)
        if (strcasecmp(pe_arch_table[i].name, name) == 0) return &pe_arch_table[i];
    return NULL;
}

const char *pe_family_name(pe_family f) {
    switch (f) {
    case PE_FAMILY_PE: return "PE";
    case PE_FAMILY_DINOV2: return "DINOv2";
    case PE_FAMILY_FRANCA: return "Franca";
    }
    return "unknown";
}

void pe_arch_info(const pe_arch *a, pe_model_info *in) {
    const pe_model_info file = *in; /* what the loader counted of the file */
    *in = (pe_model_info){
        .family = a->family, .patch = a->patch, .width = a->width, .layers = a->layers,
        .heads = a->heads, .head_dim = a->head_dim, .mlp = a->mlp, .grid = a->grid,
        .image_size = a->grid * a->patch, .has_cls = a->cls, .n_registers = a->registers,
        .has_ln_post = a->ln_post, .has_layerscale = a->layerscale, .pool = a->pool,
        .pool_heads = a->pool_heads, .has_proj = a->proj, .out_dim = a->out_dim,
        .ffn_swiglu = a->ffn == PE_FFN_SWIGLU, .rope = a->rope, .pos_resample = a->pos_resample,
        .ln_eps = a->ln_eps, .transform = a->transform,
        .has_text = a->text.layers > 0, .text_context = a->text.context, .text_width = a->text.width,
        .text_heads = a->text.heads, .text_layers = a->text.layers, .text_vocab = a->text.vocab,
        .text_out_dim = a->text.out_dim, .logit_scale = file.logit_scale,
        .n_params = file.n_params, .file_bytes = file.file_bytes, .fingerprint = file.fingerprint,
        .n_tensors = file.n_tensors, .n_f32 = file.n_f32, .n_f16 = file.n_f16, .n_bf16 = file.n_bf16,
        .n_q8 = file.n_q8, .n_q4 = file.n_q4,
    };
    snprintf(in->arch, sizeof in->arch, "%s", a->name);
    snprintf(in->naming, sizeof in->naming, "%s", file.naming);
}

static double block_flops(double T, double W, double M, int swiglu) {
    return 2 * T * W * (3 * W) + 2 * T * W * W + 2 * T * W * M * (swiglu ? 3 : 2) /* FFN */
           + 2 * 2 * T * T * W;                                                    /* QK^T and PV */
}

double pe_arch_flops(const pe_arch *a, int gh, int gw, int pool_mlp) {
    const double P = a->patch, W = a->width, grid = (double)gh * gw, T = a->cls + a->registers + grid;
    double f = 2 * grid * 3 * P * P * W + a->layers * block_flops(T, W, a->mlp, a->ffn == PE_FFN_SWIGLU);
    if (a->pool == PE_POOL_ATTN)
        f += 2 * T * W * 2 * W + 2 * 2 * T * W + 2 * W * W + 2 * 2 * W * pool_mlp +
             2 * W * a->out_dim * a->proj;
    return f;
}
