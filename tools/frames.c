#include "frames.h"

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_frames_take(cli_frames *fr, const char *a, const char *v) {
    if (!strcmp(a, "--pix-fmt")) fr->pix_fmt = v;
    else if (!strcmp(a, "--yuv")) fr->yuv = v;
    else if (!strcmp(a, "--crop-rect")) fr->crop = v;
    else if (!strcmp(a, "--mirror")) fr->mirror = 1;
    else if (!strcmp(a, "--yuv420-888")) fr->as_888 = 1;
    else if (!strcmp(a, "--video-size")) {
        /* ffmpeg's order: width x height */
        if (cli_parse_size(v, &fr->width, &fr->height) || !strchr(v, 'x')) {
            cli_fail("--video-size must be WxH with 1..16384, not '%s'", v);
            return -1;
        }
    } else if (!strcmp(a, "--row-stride")) {
        if (cli_parse_int(v, 1, 1L << 20, &fr->row_stride)) {
            cli_fail("--row-stride must be 1..1048576 bytes, not '%s'", v);
            return -1;
        }
    } else if (!strcmp(a, "--uv-stride")) {
        if (cli_parse_int(v, 1, 1L << 20, &fr->uv_stride)) {
            cli_fail("--uv-stride must be 1..1048576 bytes, not '%s'", v);
            return -1;
        }
    } else if (!strcmp(a, "--rotate")) {
        if (cli_parse_int(v, 0, 270, &fr->rotate) || fr->rotate % 90) {
            cli_fail("--rotate must be 0, 90, 180 or 270, not '%s'", v);
            return -1;
        }
    } else {
        return 0;
    }
    return 1;
}

static const struct {
    const char *name, *alias;
    pe_frame_format format;
} pix_fmts[] = {
    {"nv12", NULL, PE_FRAME_NV12}, {"nv21", NULL, PE_FRAME_NV21},
    {"i420", "yuv420p", PE_FRAME_I420}, {"bgra", NULL, PE_FRAME_BGRA8},
    {"rgba", NULL, PE_FRAME_RGBA8}, {"bgrx", "bgr0", PE_FRAME_BGRX8},
    {"rgbx", "rgb0", PE_FRAME_RGBX8}, {"gray", NULL, PE_FRAME_GRAY8},
};

static const char *yuv_names[] = {"bt601-limited", "bt601-full", "bt709-limited", "bt709-full"};

int cli_frames_setup(cli_frames *fr) {
    pe_frame *f = &fr->proto;
    memset(f, 0, sizeof *f);
    if (!fr->pix_fmt) return cli_fail("frames: pass --pix-fmt (nv12, nv21, i420, bgra, rgba, bgrx, rgbx, gray)");
    if (!fr->width) return cli_fail("frames: pass --video-size WxH");
    size_t k = 0, nk = sizeof pix_fmts / sizeof pix_fmts[0];
    while (k < nk && strcmp(fr->pix_fmt, pix_fmts[k].name) &&
           !(pix_fmts[k].alias && !strcmp(fr->pix_fmt, pix_fmts[k].alias)))
        k++;
    if (k == nk)
        return cli_fail("--pix-fmt must be nv12, nv21, i420, bgra, rgba, bgrx, rgbx or gray, not '%s'",
                        fr->pix_fmt);
    f->format = pix_fmts[k].format;
    const int yuv = f->format <= PE_FRAME_I420;
    if (fr->yuv) {
        size_t i = 0;
        while (i < 4 && strcmp(fr->yuv, yuv_names[i])) i++;
        if (i == 4)
            return cli_fail("--yuv must be bt601-limited, bt601-full, bt709-limited or bt709-full, not '%s'",
                            fr->yuv);
        if (!yuv) return cli_fail("--yuv applies to nv12, nv21 and i420 frames only");
        f->yuv = (pe_yuv_matrix)i;
    }
    if (fr->as_888 && !yuv) return cli_fail("--yuv420-888 applies to nv12, nv21 and i420 frames only");
    if (fr->uv_stride && !yuv) return cli_fail("--uv-stride applies to nv12, nv21 and i420 frames only");
    const int W = fr->width, H = fr->height, ch = (H + 1) / 2;
    const int bpp = f->format == PE_FRAME_GRAY8 || yuv ? 1 : 4;
    const size_t S = fr->row_stride ? (size_t)fr->row_stride : (size_t)W * bpp;
    if (S < (size_t)W * bpp)
        return cli_fail("--row-stride %zu is less than a row of %d pixels (%zu bytes)", S, W, (size_t)W * bpp);
    f->width = W;
    f->height = H;
    f->rotation = (int)fr->rotate;
    f->mirror = fr->mirror;
    if (fr->crop) {
        char tail;
        if (sscanf(fr->crop, "%d,%d,%d,%d%c", &f->crop.x, &f->crop.y, &f->crop.width, &f->crop.height,
                   &tail) != 4 || f->crop.width <= 0 || f->crop.height <= 0)
            return cli_fail("--crop-rect must be X,Y,W,H with W and H positive, not '%s'", fr->crop);
    }
    /* The chroma row stride: --uv-stride, else the interleaved plane's is
     * the luma plane's (Android's and ffmpeg's padded buffers; a tight odd
     * width needs the one byte more of its last U,V pair) and each I420
     * plane's half of it.  fr->off holds where each plane starts in a frame. */
    const int nv = f->format == PE_FRAME_NV12 || f->format == PE_FRAME_NV21;
    const size_t crow = (size_t)(W + 1) / 2 * (nv ? 2 : 1);
    const size_t cs = fr->uv_stride ? (size_t)fr->uv_stride : !nv ? (S + 1) / 2 : S > crow ? S : crow;
    if (yuv && cs < crow)
        return cli_fail("--uv-stride %zu is less than a chroma row of %d pixels (%zu bytes)", cs, (W + 1) / 2,
                        crow);
    memset(fr->off, 0, sizeof fr->off);
    const size_t ysz = S * (size_t)H;
    f->planes[0] = (pe_plane){NULL, ysz, S, 0};
    if (nv) {
        const size_t uvsz = cs * (size_t)ch;
        f->planes[1] = (pe_plane){NULL, uvsz, cs, 0};
        fr->off[1] = ysz;
        fr->frame_bytes = ysz + uvsz;
        if (fr->as_888) { /* U and V point into the interleaved plane */
            const size_t uo = f->format == PE_FRAME_NV21;
            fr->off[1] = ysz + uo;
            fr->off[2] = ysz + !uo;
            f->planes[1] = (pe_plane){NULL, uvsz - uo, cs, 2};
            f->planes[2] = (pe_plane){NULL, uvsz - !uo, cs, 2};
            f->format = PE_FRAME_YUV420_888;
        }
    } else if (f->format == PE_FRAME_I420) {
        const size_t csz = cs * (size_t)ch;
        f->planes[1] = (pe_plane){NULL, csz, cs, 0};
        f->planes[2] = (pe_plane){NULL, csz, cs, 0};
        fr->off[1] = ysz;
        fr->off[2] = ysz + csz;
        fr->frame_bytes = ysz + 2 * csz;
        if (fr->as_888) {
            f->planes[1].pixel_stride = f->planes[2].pixel_stride = 1;
            f->format = PE_FRAME_YUV420_888;
        }
    } else {
        fr->frame_bytes = ysz;
    }
    return 0;
}

void cli_frames_at(const cli_frames *fr, const uint8_t *data, pe_frame *f) {
    *f = fr->proto;
    for (int i = 0; i < 3; i++)
        if (f->planes[i].size) f->planes[i].data = data + fr->off[i];
}

int cli_frames_open(const cli_frames *fr, const char *path, cli_frame_file *ff) {
    memset(ff, 0, sizeof *ff);
    ff->path = path;
    if (!(ff->f = fopen(path, "rb"))) return cli_fail("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(ff->f), &st) || !S_ISREG(st.st_mode)) {
        cli_frames_close(ff);
        return cli_fail("%s: not a regular file", path);
    }
    const size_t size = (size_t)st.st_size, fb = fr->frame_bytes;
    ff->n = (long)(size / fb);
    if (size % fb) {
        cli_frames_close(ff);
        return cli_fail("%s: frame %ld is truncated (%zu of %zu bytes; frames of %dx%d %s)", path, (long)(size / fb),
                        size % fb, fb, fr->width, fr->height, fr->pix_fmt);
    }
    if (ff->n == 0) {
        cli_frames_close(ff);
        return cli_fail("%s: no frames (empty file)", path);
    }
    if (!(ff->buf = malloc(fb))) {
        cli_frames_close(ff);
        return cli_fail("out of memory");
    }
    return 0;
}

int cli_frames_next(cli_frame_file *ff, const cli_frames *fr, pe_frame *f) {
    if (fread(ff->buf, 1, fr->frame_bytes, ff->f) != fr->frame_bytes)
        return cli_fail("%s: cannot read frame %ld", ff->path, ff->i);
    cli_frames_at(fr, ff->buf, f);
    ff->i++;
    return 0;
}

void cli_frames_close(cli_frame_file *ff) {
    if (ff->f) fclose(ff->f);
    free(ff->buf);
    memset(ff, 0, sizeof *ff);
}
