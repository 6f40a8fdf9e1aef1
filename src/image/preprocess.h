/* Image preprocessing that matches the reference (PIL 9.4 resize + torchvision
 * ToTensor/Normalize) bit for bit on 8-bit input. */
#ifndef PE_PREPROCESS_H
#define PE_PREPROCESS_H

#include "../common.h"

/* Where the resampler reads its source: an 8-bit image with `channels`
 * channels in the canonical order (1 L, 2 LA, 3 RGB, 4 RGBA; `alpha` says
 * the last one is alpha, resized premultiplied as PIL does).  fetch writes
 * pixels x0 .. x0+n-1 of row y into row (n * channels bytes); rows are asked
 * for in increasing order.  A source that needs working memory sets
 * scratch_bytes and gets `scratch` (16-byte aligned) before the first
 * fetch.  pe_image is one such source; a camera frame (frame.c) another. */
typedef struct pe_pixel_source pe_pixel_source;
struct pe_pixel_source {
    int width, height, channels, alpha;
    void (*fetch)(pe_pixel_source *src, int y, int x0, int n, uint8_t *row);
    /* Optional, for 3 channels: the same pixels as three planes, channel c
     * of pixel x0+i at planes[c * ps + i] (see pixels.h: the planar path). */
    void (*fetch_planes)(pe_pixel_source *src, int y, int x0, int n, uint8_t *planes, size_t ps);
    size_t scratch_bytes;
    uint8_t *scratch;
    /* The pixel passes (pixels.h) the source and the resampler run: the
     * chosen ISA level's unless a test sets another after init. */
    const struct pe_pixels *px;
};

/* An 8-bit image as a pixel source, in canonical channel order. */
typedef struct pe_image_source {
    pe_pixel_source base;
    const pe_image *img;
} pe_image_source;

/* Checks img and makes is read it. */
pe_status pe_image_source_init(const pe_image *img, pe_image_source *is);

/* *bytes: the scratch pe_source_to_tensor needs for src and pp. */
pe_status pe_source_scratch(const pe_pixel_source *src, const pe_preprocess *pp, size_t *bytes);
/* The source resized, cropped and normalised like an image of its pixels:
 * out is float32 [3, pp->height, pp->width]. */
pe_status pe_source_to_tensor(pe_pixel_source *src, const pe_preprocess *pp, float *out,
                              uint8_t *scratch, size_t scratch_len);

/* pe_source_to_tensor with scratch of its own (out_len: floats in out). */
pe_status pe_preprocess_source(pe_pixel_source *src, const pe_preprocess *pp, float *out,
                               size_t out_len);

/* Bytes of scratch pe_image_to_tensor needs for this image and target. */
size_t pe_preprocess_scratch_bytes(const pe_image *img, const pe_preprocess *pp);

/* img -> float32 [3, pp->height, pp->width] in [-1, 1].  pp->height/width
 * must be > 0. scratch: pe_preprocess_scratch_bytes bytes, no allocation. */
pe_status pe_image_to_tensor(const pe_image *img, const pe_preprocess *pp,
                             float *out, uint8_t *scratch, size_t scratch_len);

#endif
