/* The architecture description: what a model is, in one struct that the
 * loader fills (from tensor shapes and metadata) and the known-model table
 * spells out; the forward pass, convert, quantize, synth and the public
 * pe_model_info read it.  The DINOv2 family differs from PE in the family
 * field and in the switches it implies (docs/pe.md, docs/dinov2.md). */
#ifndef PE_ARCH_H
#define PE_ARCH_H

#include "../common.h"

typedef enum pe_ffn {
    PE_FFN_GELU = 0,            /* fc -> GELU -> proj                          */
    PE_FFN_SWIGLU = 1           /* w12 [2h, W] -> silu(a) * b -> w3 (Franca)   */
} pe_ffn;

typedef struct pe_arch {
    char name[48];              /* a known model's name, "custom", or the
                                   DINOv2 family's "DINOv2 ViT-S/14 reg4"    */
    pe_family family;
    /* vision tower */
    int patch, width, layers, heads, head_dim;
    int mlp;                    /* FFN hidden size (SwiGLU: h)                 */
    int grid;                   /* G: learned positions of G x G patches; the
                                   native input is G * patch square          */
    int cls, registers;         /* tokens before the patches                   */
    int rope;                   /* 2-D RoPE in attention (PE)                  */
    pe_pos_resample pos_resample; /* how the learned grid meets another grid   */
    pe_ffn ffn;
    float ln_eps;               /* LayerNorm epsilon of the vision tower       */
    int layerscale, ln_post;
    pe_pool_kind pool;
    int pool_heads;             /* attention pooling's heads (8)               */
    int proj;                   /* a projection W -> out_dim after pooling     */
    int out_dim;                /* embedding size D (W without projection)     */
    pe_transform transform;     /* the family's eval transform                 */
    /* text tower (layers 0: none) */
    struct {
        int context, width, heads, layers, vocab;
        int out_dim;            /* text embedding size (the loader: from the
                                   projection)                               */
    } text;
} pe_arch;

/* The known models: PE Core / Lang / Spatial and the DINOv2 family's
 * releases (pe_arch_list_name, `pecore synth`, naming a loaded model). */
extern const pe_arch pe_arch_table[];
extern const int pe_arch_count;
const pe_arch *pe_arch_find(const char *name);   /* case-insensitive; NULL */

/* Whether a is one of the DINOv2 family (DINOv2, Franca). */
static inline int pe_arch_dinov2(const pe_arch *a) { return a->family != PE_FAMILY_PE; }

/* Tokens of a gh x gw patch grid: class token, registers, patches. */
static inline int pe_arch_tokens(const pe_arch *a, int gh, int gw) { return a->cls + a->registers + gh * gw; }

/* Floating-point operations of one vision pass over a gh x gw patch grid
 * (pool_mlp: the attention pooling's MLP width, which the file gives). */
double pe_arch_flops(const pe_arch *a, int gh, int gw, int pool_mlp);

/* The public view's architecture fields (the file's counts are the
 * loader's). */
void pe_arch_info(const pe_arch *a, pe_model_info *in);

#endif
