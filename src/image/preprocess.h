/* Image preprocessing that matches the reference (PIL 9.4 resize + torchvision
 * ToTensor/Normalize) bit for bit on 8-bit input. */
#ifndef PE_PREPROCESS_H
#define PE_PREPROCESS_H

#include "../common.h"

/* Bytes of scratch pe_image_to_tensor needs for this image and target. */
size_t pe_preprocess_scratch_bytes(const pe_image *img, const pe_preprocess *pp);

/* img -> float32 [3, pp->height, pp->width] in [-1, 1].  pp->height/width
 * must be > 0. scratch: pe_preprocess_scratch_bytes bytes, no allocation. */
pe_status pe_image_to_tensor(const pe_image *img, const pe_preprocess *pp,
                             float *out, uint8_t *scratch, size_t scratch_len);

#endif
