/* Raw video frames for the CLI (`--frames FILE --pix-fmt F --video-size WxH`
 * ...): the options, ffmpeg's names for them, and the layout of one frame in
 * a file of frames back to back (as `ffmpeg -f rawvideo` writes them). */
#ifndef PE_TOOLS_FRAMES_H
#define PE_TOOLS_FRAMES_H

#include "pecore.h"

#include <stddef.h>
#include <stdio.h>

typedef struct cli_frames {
    const char *pix_fmt;       /* nv12 nv21 i420 (yuv420p) bgra rgba bgrx (bgr0) rgbx (rgb0) gray */
    int width, height;         /* --video-size WxH                                   */
    long row_stride;           /* --row-stride: luma / packed row bytes; 0 = tight   */
    long uv_stride;            /* --uv-stride: chroma row bytes; 0 = the default     */
    const char *yuv;           /* --yuv bt601-limited ... (default bt601-limited)    */
    long rotate;               /* --rotate 0|90|180|270                              */
    int mirror;                /* --mirror                                           */
    const char *crop;          /* --crop-rect X,Y,W,H                                */
    int as_888;                /* --yuv420-888: the same bytes as Android's 3-plane form */
    /* resolved by cli_frames_setup */
    pe_frame proto;            /* the frame, its plane pointers NULL                  */
    size_t off[3];             /* where each plane starts in a frame's bytes          */
    size_t frame_bytes;        /* one frame in the file                               */
} cli_frames;

/* Stores option a (value v) if it is one of the frame options above:
 * returns 1 when taken, 0 when not a frame option, -1 after an error line. */
int cli_frames_take(cli_frames *fr, const char *a, const char *v);
/* The options every frame command accepts, for cli_scan's lists. */
#define CLI_FRAME_OPTIONS " --pix-fmt --video-size --row-stride --uv-stride --yuv --rotate --mirror --crop-rect --yuv420-888 "
#define CLI_FRAME_FLAGS " --mirror --yuv420-888 "
/* Their --help lines. */
#define CLI_FRAME_HELP                                                                        \
    "  --pix-fmt nv12|nv21|i420|bgra|rgba|bgrx|rgbx|gray  (ffmpeg's yuv420p, bgr0, rgb0 too)\n" \
    "  --video-size WxH        the buffer's size\n"                                           \
    "  --row-stride N          bytes per luma (or packed) row (default: the row, tight)\n"    \
    "  --uv-stride N           bytes per chroma row (default: nv12 / nv21 the luma stride,\n" \
    "                          as Android and ffmpeg pad; i420 half of it, rounded up)\n"    \
    "  --yuv bt601-limited|bt601-full|bt709-limited|bt709-full   (default bt601-limited)\n"   \
    "  --rotate 0|90|180|270   clockwise degrees that make the frame upright\n"               \
    "  --mirror                flip left-right after rotating\n"                              \
    "  --crop-rect X,Y,W,H     in buffer coordinates, before rotation\n"                      \
    "  --yuv420-888            describe the same bytes as Android's 3-plane YUV_420_888\n"
/* Checks the options and computes the layout; 0, or 1 after an error line. */
int cli_frames_setup(cli_frames *fr);
/* The frame whose bytes start at data (fr->frame_bytes of them). */
void cli_frames_at(const cli_frames *fr, const uint8_t *data, pe_frame *f);

/* A file of frames: opening checks its size is a whole number of frames
 * (a truncated last frame is an error naming it). */
typedef struct cli_frame_file {
    FILE *f;
    const char *path;
    long n, i;                 /* frames in the file, frames read */
    uint8_t *buf;              /* one frame                       */
} cli_frame_file;

int cli_frames_open(const cli_frames *fr, const char *path, cli_frame_file *ff);
/* Reads the next frame into ff->buf and describes it in f; 0 or 1 (error). */
int cli_frames_next(cli_frame_file *ff, const cli_frames *fr, pe_frame *f);
void cli_frames_close(cli_frame_file *ff);

#endif
