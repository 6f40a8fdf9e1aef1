/* Checkpoint layouts (names.c): renaming to the names the loader binds, the
 * ignore lists, and the check that every tensor of a file was used. */
#ifndef PE_NAMES_H
#define PE_NAMES_H

#include "../format/safetensors.h"
#include "arch.h"

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
