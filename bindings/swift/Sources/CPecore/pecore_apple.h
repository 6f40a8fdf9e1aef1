/* pecore_apple.h — include/pecore.h plus what an Apple camera pipeline needs
 * that is plain C: EXIF / CGImagePropertyOrientation as pe_frame rotation and
 * mirror.  Tested from C by tests/test_swift_module.sh. */
#ifndef PECORE_APPLE_H
#define PECORE_APPLE_H
#include "../../../../include/pecore.h"

/* Orientation 1..8 (kCGImagePropertyOrientation{Up, UpMirrored, Down,
 * DownMirrored, LeftMirrored, Right, RightMirrored, Left}) -> the clockwise
 * rotation that makes the image upright and whether to flip it left-right
 * after.  PE_ERR_INVALID_ARG for another value. */
static inline pe_status pe_frame_set_orientation(pe_frame *f, int orientation) {
    static const int rotation[8] = {0, 0, 180, 180, 90, 90, 270, 270};
    static const int mirror[8] = {0, 1, 0, 1, 1, 0, 1, 0};
    if (!f || orientation < 1 || orientation > 8) return PE_ERR_INVALID_ARG;
    f->rotation = rotation[orientation - 1];
    f->mirror = mirror[orientation - 1];
    return PE_OK;
}
#endif
