/* Image files -> 8-bit pe_image, decoded the way the reference (PIL 9.4) sees
 * them, so that pe_preprocess_image gives the reference's tensor.
 *
 * The format is sniffed from the magic bytes, never the extension.
 *   JPEG (libjpeg-turbo, default settings: islow IDCT, fancy upsampling):
 *     gray -> GRAY8, colour -> RGB8.  CMYK/YCCK -> RGB8 with PIL's formula for
 *     Adobe (inverted) CMYK; PIL resizes in CMYK and converts afterwards, so
 *     such files can differ from the reference by a rounding step.
 *   PNG (libpng): gray 1/2/4/8 -> GRAY8 (scaled to 0..255 like PIL), gray+alpha
 *     -> GRAYA8, RGB -> RGB8, RGBA -> RGBA8, palette -> RGB8 through PLTE
 *     (tRNS ignored: PIL keeps mode "P" and convert("RGB") drops it);
 *     interlaced files are de-interlaced.  16-bit samples keep their high
 *     byte, which is what PIL does for RGB;16B, RGBA;16B and LA;16B.  (For
 *     16-bit gray PIL opens mode "I" and convert("RGB") clips values to 255,
 *     turning most such images white; we keep the high byte instead.)
 *     tRNS on gray/RGB and gAMA/iCCP are ignored, as PIL does.
 *   resample: NEAREST for palette and 1-bit gray PNGs (PIL modes "P" and "1"
 *   are always resized with NEAREST), else BILINEAR.
 * Images over PE_MAX_IMAGE_PIXELS are refused from the header, before any
 * pixel memory is allocated.  Errors are one line: "<name>: <reason>". */
#ifndef PE_TOOLS_IMAGE_IO_H
#define PE_TOOLS_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "pecore.h"

typedef struct img_buf {
    uint8_t *pixels;      /* owned; image.data points here                  */
    pe_image image;
    pe_resample resample; /* what the reference would resize this file with */
} img_buf;

/* 0 on success; else fills err with "path: reason" and leaves out empty. */
int image_load(const char *path, img_buf *out, char *err, size_t errlen);
/* Same for a file already in memory; errors are prefixed "image". */
int image_load_mem(const void *data, size_t len, img_buf *out, char *err, size_t errlen);
/* Writes 8-bit RGB rows as a PNG; 0 on success, else err says why. */
int image_save_png(const char *path, const uint8_t *rgb, int w, int h, size_t stride, char *err,
                   size_t errlen);
/* Frees the pixels; a zeroed or already freed img_buf is fine. */
void image_free(img_buf *b);

#endif
