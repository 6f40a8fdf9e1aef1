/* Checkpoint layouts: the name every weight slot has in each layout, how
 * the names of a Franca file map onto them, and which tensors a layout
 * carries without the model using them.
 *
 *   PE official             conv1, transformer.resblocks.<i>., attn_pool.attn
 *   timm                    patch_embed.proj, blocks.<i>., attn_pool.q / kv
 *   DINOv2 flat             cls_token, pos_embed, register_tokens,
 *                           blocks.<i>. with ls1.gamma, mlp.w12 / w3
 *   Franca teacher          backbone.blocks.<chunk>.<i>. ... under an
 *                           optional module., renamed here to the flat
 *                           DINOv2 names (blocks.<i>.), so the loader,
 *                           convert and quantize see one layout
 *
 * A tensor the loader neither binds nor finds on the ignore list of its
 * family is an error (pe_names_check_claimed): a file is read completely
 * or refused. */
#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* One row per slot: its name in the official, timm and DINOv2 layouts. */
static const char *const slot_names[PE_SLOT_COUNT][PE_LAYOUT_COUNT] = {
    [PE_SLOT_CONV1] = {"conv1.weight", "patch_embed.proj.weight", "patch_embed.proj.weight"},
    [PE_SLOT_CONV1_B] = {NULL, NULL, "patch_embed.proj.bias"},
    [PE_SLOT_CLS] = {"class_embedding", "cls_token", "cls_token"},
    [PE_SLOT_REGISTERS] = {NULL, NULL, "register_tokens"},
    [PE_SLOT_POS] = {"positional_embedding", "pos_embed", "pos_embed"},
    [PE_SLOT_LN_PRE_W] = {"ln_pre.weight", "norm_pre.weight", "norm_pre.weight"},
    [PE_SLOT_LN_PRE_B] = {"ln_pre.bias", "norm_pre.bias", "norm_pre.bias"},
    [PE_SLOT_LN_POST_W] = {"ln_post.weight", "norm.weight", "norm.weight"},
    [PE_SLOT_LN_POST_B] = {"ln_post.bias", "norm.bias", "norm.bias"},

    [PE_SLOT_LN1_W] = {"ln_1.weight", "norm1.weight", "norm1.weight"},
    [PE_SLOT_LN1_B] = {"ln_1.bias", "norm1.bias", "norm1.bias"},
    [PE_SLOT_QKV_W] = {"attn.in_proj_weight", "attn.qkv.weight", "attn.qkv.weight"},
    [PE_SLOT_QKV_B] = {"attn.in_proj_bias", "attn.qkv.bias", "attn.qkv.bias"},
    [PE_SLOT_OUT_W] = {"attn.out_proj.weight", "attn.proj.weight", "attn.proj.weight"},
    [PE_SLOT_OUT_B] = {"attn.out_proj.bias", "attn.proj.bias", "attn.proj.bias"},
    [PE_SLOT_LS1] = {"ls_1.gamma", "gamma_1", "ls1.gamma"},
    [PE_SLOT_LN2_W] = {"ln_2.weight", "norm2.weight", "norm2.weight"},
    [PE_SLOT_LN2_B] = {"ln_2.bias", "norm2.bias", "norm2.bias"},
    [PE_SLOT_FC_W] = {"mlp.c_fc.weight", "mlp.fc1.weight", "mlp.fc1.weight"},
    [PE_SLOT_FC_B] = {"mlp.c_fc.bias", "mlp.fc1.bias", "mlp.fc1.bias"},
    [PE_SLOT_FC2_W] = {"mlp.c_proj.weight", "mlp.fc2.weight", "mlp.fc2.weight"},
    [PE_SLOT_FC2_B] = {"mlp.c_proj.bias", "mlp.fc2.bias", "mlp.fc2.bias"},
    [PE_SLOT_W12_W] = {NULL, NULL, "mlp.w12.weight"},
    [PE_SLOT_W12_B] = {NULL, NULL, "mlp.w12.bias"},
    [PE_SLOT_W3_W] = {NULL, NULL, "mlp.w3.weight"},
    [PE_SLOT_W3_B] = {NULL, NULL, "mlp.w3.bias"},
    [PE_SLOT_LS2] = {"ls_2.gamma", "gamma_2", "ls2.gamma"},

    [PE_SLOT_PROBE] = {"attn_pool.probe", "attn_pool.latent", NULL},
    [PE_SLOT_POOL_QKV_W] = {"attn_pool.attn.in_proj_weight", NULL, NULL},
    [PE_SLOT_POOL_QKV_B] = {"attn_pool.attn.in_proj_bias", NULL, NULL},
    [PE_SLOT_POOL_Q_W] = {NULL, "attn_pool.q.weight", NULL},
    [PE_SLOT_POOL_Q_B] = {NULL, "attn_pool.q.bias", NULL},
    [PE_SLOT_POOL_KV_W] = {NULL, "attn_pool.kv.weight", NULL},
    [PE_SLOT_POOL_KV_B] = {NULL, "attn_pool.kv.bias", NULL},
    [PE_SLOT_POOL_OUT_W] = {"attn_pool.attn.out_proj.weight", "attn_pool.proj.weight", NULL},
    [PE_SLOT_POOL_OUT_B] = {"attn_pool.attn.out_proj.bias", "attn_pool.proj.bias", NULL},
    [PE_SLOT_POOL_LN_W] = {"attn_pool.layernorm.weight", "attn_pool.norm.weight", NULL},
    [PE_SLOT_POOL_LN_B] = {"attn_pool.layernorm.bias", "attn_pool.norm.bias", NULL},
    [PE_SLOT_POOL_FC_W] = {"attn_pool.mlp.c_fc.weight", "attn_pool.mlp.fc1.weight", NULL},
    [PE_SLOT_POOL_FC_B] = {"attn_pool.mlp.c_fc.bias", "attn_pool.mlp.fc1.bias", NULL},
    [PE_SLOT_POOL_FC2_W] = {"attn_pool.mlp.c_proj.weight", "attn_pool.mlp.fc2.weight", NULL},
    [PE_SLOT_POOL_FC2_B] = {"attn_pool.mlp.c_proj.bias", "attn_pool.mlp.fc2.bias", NULL},
    [PE_SLOT_PROJ] = {"proj", "head.weight", NULL},
    [PE_SLOT_PROJ_B] = {NULL, "head.bias", NULL},

    [PE_SLOT_TOK_EMB] = {"token_embedding.weight", NULL, NULL},
    [PE_SLOT_LN_FINAL_W] = {"ln_final.weight", NULL, NULL},
    [PE_SLOT_LN_FINAL_B] = {"ln_final.bias", NULL, NULL},
    [PE_SLOT_TEXT_PROJ] = {"text_projection", NULL, NULL},
    [PE_SLOT_LOGIT_SCALE] = {"logit_scale", NULL, NULL},
};

const char *pe_names_slot(pe_layout l, pe_slot s) {
    return (unsigned)l < PE_LAYOUT_COUNT && (unsigned)s < PE_SLOT_COUNT ? slot_names[s][l] : NULL;
}

const char *pe_names_block(pe_layout l) {
    return l == PE_LAYOUT_OFFICIAL ? "transformer.resblocks." : "blocks.";
}

const char *pe_names_what(pe_slot s) {
    for (int l = 0; l < PE_LAYOUT_COUNT; l++)
        if (pe_names_slot((pe_layout)l, s)) return slot_names[s][l];
    return "?";
}

/* Digits then a dot: the length including the dot, else 0. */
static size_t index_dot(const char *s) {
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') n++;
    return n && n < 9 && s[n] == '.' ? n + 1 : 0;
}

/* "[module.]backbone.REST" -> REST, with "blocks.<chunk>.<i>." -> "blocks.<i>.";
 * NULL when name is not a Franca backbone name. */
static const char *franca_rest(const char *name, size_t *skip) {
    const char *p = name;
    if (starts(p, "module.")) p += 7;
    if (!starts(p, "backbone.")) return NULL;
    p += 9;
    *skip = 0;
    if (starts(p, "blocks.")) {
        size_t c = index_dot(p + 7);
        if (c && index_dot(p + 7 + c)) *skip = c; /* the chunk index */
    }
    return p;
}

pe_status pe_names_canonical(pe_safetensors *st, int *franca) {
    *franca = 0;
    for (int i = 0; i < st->n_tensors && !*franca; i++) {
        size_t skip;
        *franca = franca_rest(st->tensors[i].name, &skip) != NULL;
    }
    if (!*franca) return PE_OK;
    for (int i = 0; i < st->n_tensors; i++) {
        pe_st_tensor *t = &st->tensors[i];
        size_t skip;
        const char *rest = franca_rest(t->name, &skip);
        if (!rest) {
            if (starts(t->name, "module.")) memmove(t->name, t->name + 7, strlen(t->name + 7) + 1);
            continue; /* training heads and the like: judged by the ignore list */
        }
        /* rest lies inside name: rewrite in place, "blocks." + "<i>.…" */
        const size_t head = starts(rest, "blocks.") ? 7 : 0;
        char *dst = t->name;
        memmove(dst, rest, head);
        memmove(dst + head, rest + head + skip, strlen(rest + head + skip) + 1);
    }
    for (int i = 0; i < st->n_tensors; i++)
        for (int j = i + 1; j < st->n_tensors; j++)
            if (!strcmp(st->tensors[i].name, st->tensors[j].name))
                return pe_error(PE_ERR_FORMAT, "Franca checkpoint: two tensors are both %.120s once the "
                                "block chunks are removed", st->tensors[i].name);
    return PE_OK;
}

int pe_names_ignored(pe_family family, const char *name) {
    if (!strcmp(name, "pecore.vocab_bpe_gz")) return 1; /* read by pe_tokenizer_load_model */
    if (family == PE_FAMILY_PE) return 0;
    return !strcmp(name, "mask_token") || starts(name, "dino_head.") || starts(name, "ibot_head.");
}

pe_status pe_names_check_claimed(const pe_safetensors *st, const uint8_t *claimed, pe_family family,
                                 const char *skip_outside, const char *what) {
    char list[320];
    size_t at = 0;
    int bad = 0, shown = 0;
    list[0] = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        const char *name = st->tensors[i].name;
        if (claimed[i] || pe_names_ignored(family, name)) continue;
        if (skip_outside && *skip_outside && !starts(name, skip_outside)) continue;
        if (bad++ < 4 && at + 8 < sizeof list) {
            int n = snprintf(list + at, sizeof list - at, "%s%.60s", shown++ ? ", " : "", name);
            at = PE_MIN(at + (size_t)(n > 0 ? n : 0), sizeof list - 1);
        }
    }
    if (!bad) return PE_OK;
    return pe_error(PE_ERR_UNSUPPORTED, "%d tensor%s of this file %s not part of the %s architecture it "
                    "was read as: %s%s; refusing to guess what it is", bad, bad == 1 ? "" : "s",
                    bad == 1 ? "is" : "are", what, list, bad > shown ? ", ..." : "");
}
