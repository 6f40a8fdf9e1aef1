/* Checkpoint layouts: how the names of a file map onto the names the loader
 * binds, and which tensors a layout carries without the model using them.
 *
 *   PE official / timm      used as they are (load.c picks the naming)
 *   DINOv2 flat             cls_token, pos_embed, register_tokens,
 *                           blocks.<i>. ... (load.c: NAMING_DINOV2)
 *   Franca teacher          backbone.blocks.<chunk>.<i>. ... under an
 *                           optional module., renamed here to the flat
 *                           DINOv2 names (blocks.<i>.), so the rest of the
 *                           loader, convert and quantize see one layout
 *
 * A tensor the loader neither binds nor finds on the ignore list of its
 * family is an error (pe_names_check_claimed): a file is read completely
 * or refused. */
#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

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
