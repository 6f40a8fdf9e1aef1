/* tools/image_io.h for the WebAssembly build (make wasm): no JPEG or PNG
 * codec.  libjpeg-turbo and libpng ship in Debian as headers and native
 * libraries only, and emscripten's ports (USE_LIBJPEG, USE_LIBPNG) download
 * their sources at build time, which this project's builds may not do.  So
 * every image file is refused with one line that says what to do instead
 * (pass decoded pixels: embed --raw); nothing is guessed. */
#include "../tools/image_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int no_codec(const char *name, char *err, size_t errlen) {
    if (err && errlen)
        snprintf(err, errlen,
                 "%s: this WebAssembly build decodes no JPEG or PNG; pass the pixels with --raw "
                 "(an .npy made by `pecore preprocess` or numpy)",
                 name);
    return -1;
}

int image_load(const char *path, img_buf *out, char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    return no_codec(path ? path : "(null)", err, errlen);
}

int image_load_mem(const void *data, size_t len, img_buf *out, char *err, size_t errlen) {
    (void)data, (void)len;
    if (out) memset(out, 0, sizeof *out);
    return no_codec("image", err, errlen);
}

int image_save_png(const char *path, const uint8_t *rgb, int w, int h, size_t stride, char *err,
                   size_t errlen) {
    (void)rgb, (void)w, (void)h, (void)stride;
    if (err && errlen)
        snprintf(err, errlen, "%s: this WebAssembly build writes no PNG", path ? path : "(null)");
    return -1;
}

void image_free(img_buf *b) {
    if (!b) return;
    free(b->pixels);
    memset(b, 0, sizeof *b);
}
