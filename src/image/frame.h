/* Camera frames as a pixel source for the resampler (preprocess.h): the
 * upright RGB (or gray) rows of a pe_frame, converted on demand. */
#ifndef PE_FRAME_H
#define PE_FRAME_H

#include "pixels.h"
#include "preprocess.h"

typedef struct pe_frame_source {
    pe_pixel_source base;     /* width x height: the upright image          */
    pe_frame f;
    pe_yuv_coef coef;
    int yuv;                  /* a 4:2:0 format                             */
    const uint8_t *u, *v;     /* first chroma samples (YUV)                 */
    size_t us, vs;            /* their row strides                          */
    int cps;                  /* bytes between chroma samples: 1 or 2       */
    int ro, go, bo;           /* byte offsets of R, G, B in a packed pixel  */
    /* upright (x, y) -> buffer: x0 + x * dxx + y * dxy, y0 + x * dyx + y * dyy */
    int bx0, by0, dxx, dxy, dyx, dyy;
    /* rotated 90/270: upright rows are buffer columns, converted in blocks
     * (blk_kind: which fill made the block, frame.c) */
    int blk_y, blk_n, blk_x0, blk_cols, blk_kind;
    /* a block of transposed samples: buffer columns from blk_bx, chroma
     * column k's samples at blk_u / blk_v + k * blk_cstep, sample i's chroma
     * at (i + blk_par) / 2 */
    int blk_bx, blk_par;
    size_t blk_ystep, blk_cstep;
    const uint8_t *blk_u, *blk_v;
} pe_frame_source;

/* Upright rows a 90/270 frame converts at once (the buffer columns of one
 * block are read as short runs of its rows). */
#define PE_FRAME_BLOCK 16
/* The same on the planar path: PE_FRAME_PBLOCK upright rows (packed formats
 * convert PE_FRAME_TILE buffer rows at a time into a tile, then transpose). */
#define PE_FRAME_PBLOCK 64
#define PE_FRAME_TILE 16

/* pe_frame_check, also giving the bytes of each plane that are read (0 for
 * planes the format does not have): what a copy of the frame must keep. */
pe_status pe_frame_check_bytes(const pe_frame *f, size_t used[3]);

/* Checks f (pe_frame_check) and prepares src; src->base.scratch_bytes is
 * what its fetch needs. */
pe_status pe_frame_source_init(const pe_frame *f, pe_frame_source *src);
/* The same with the pixel passes px (tests: a set other than the chosen
 * level's). */
pe_status pe_frame_source_init_px(const pe_frame *f, const pe_pixels *px, pe_frame_source *src);

#endif
