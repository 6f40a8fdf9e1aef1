/* Checkpoint layouts (names.c): the name of each weight slot in each
 * layout, the renaming of Franca's teacher layout to the flat DINOv2 one,
 * the ignore lists, and the check that every tensor of a file was used. */
#ifndef PE_NAMES_H
#define PE_NAMES_H

#include "../format/safetensors.h"
#include "arch.h"

typedef enum pe_layout {
    PE_LAYOUT_OFFICIAL = 0,     /* PE's release: conv1, transformer.resblocks.<i>. */
    PE_LAYOUT_TIMM = 1,         /* timm's PE: patch_embed.proj, blocks.<i>.     */
    PE_LAYOUT_DINOV2 = 2,       /* DINOv2's flat names (timm's plus ls1.gamma,
                                   mlp.w12 / w3, register_tokens); Franca's
                                   teacher layout once pe_names_canonical ran */
    PE_LAYOUT_COUNT
} pe_layout;

/* The weights of a model, one slot each.  Block slots are named after a
 * block's prefix (pe_names_block); the text tower has the official layout. */
typedef enum pe_slot {
    /* vision stem and head */
    PE_SLOT_CONV1, PE_SLOT_CONV1_B, PE_SLOT_CLS, PE_SLOT_REGISTERS, PE_SLOT_POS,
    PE_SLOT_LN_PRE_W, PE_SLOT_LN_PRE_B, PE_SLOT_LN_POST_W, PE_SLOT_LN_POST_B,
    /* a transformer block */
    PE_SLOT_LN1_W, PE_SLOT_LN1_B, PE_SLOT_QKV_W, PE_SLOT_QKV_B, PE_SLOT_OUT_W, PE_SLOT_OUT_B,
    PE_SLOT_LS1, PE_SLOT_LN2_W, PE_SLOT_LN2_B, PE_SLOT_FC_W, PE_SLOT_FC_B, PE_SLOT_FC2_W,
    PE_SLOT_FC2_B, PE_SLOT_W12_W, PE_SLOT_W12_B, PE_SLOT_W3_W, PE_SLOT_W3_B, PE_SLOT_LS2,
    /* attention pooling: the probe's q | k | v as one in_proj (official) or
     * as q and kv (timm) */
    PE_SLOT_PROBE, PE_SLOT_POOL_QKV_W, PE_SLOT_POOL_QKV_B, PE_SLOT_POOL_Q_W, PE_SLOT_POOL_Q_B,
    PE_SLOT_POOL_KV_W, PE_SLOT_POOL_KV_B, PE_SLOT_POOL_OUT_W, PE_SLOT_POOL_OUT_B, PE_SLOT_POOL_LN_W,
    PE_SLOT_POOL_LN_B, PE_SLOT_POOL_FC_W, PE_SLOT_POOL_FC_B, PE_SLOT_POOL_FC2_W, PE_SLOT_POOL_FC2_B,
    /* projection to the embedding: [W, D] official, [D, W] + bias timm */
    PE_SLOT_PROJ, PE_SLOT_PROJ_B,
    /* text tower (official names; its positions are PE_SLOT_POS) */
    PE_SLOT_TOK_EMB, PE_SLOT_LN_FINAL_W, PE_SLOT_LN_FINAL_B, PE_SLOT_TEXT_PROJ, PE_SLOT_LOGIT_SCALE,
    PE_SLOT_COUNT
} pe_slot;

/* The name of slot s in layout l (after a block's prefix for block slots),
 * or NULL when the layout has no such tensor. */
const char *pe_names_slot(pe_layout l, pe_slot s);
/* The prefix of block i's names before its index: "transformer.resblocks."
 * or "blocks.". */
const char *pe_names_block(pe_layout l);
/* How errors call slot s: its official name, else the first layout's that
 * has one. */
const char *pe_names_what(pe_slot s);

/* Renames a Franca release layout ([module.]backbone.blocks.<chunk>.<i>.)
 * in place to the flat DINOv2 names; *franca says whether it was one. */
pe_status pe_names_canonical(pe_safetensors *st, int *franca);

/* Whether a tensor is carried by its layout without being part of the
 * model: training heads and mask_token of the DINOv2 family, the
 * vocabulary pecore stores beside a model. */
int pe_names_ignored(pe_family family, const char *name);

/* PE_ERR_UNSUPPORTED naming (escaped) the tensors neither claimed[i] nor
 * ignored; with skip_outside (a prefix), names outside it are not judged
 * (the text tower of a vision-only load).  what names the architecture. */
pe_status pe_names_check_claimed(const pe_safetensors *st, const uint8_t *claimed, pe_family family,
                                 const char *skip_outside, const char *what);

#endif
