/* pecore preprocess: the model input tensors of images or of raw video
 * frames, and a frame's upright RGB as a PNG (--rgb-out). */
#include "cli.h"
#include "commands.h"
#include "image_io.h"
#include "options.h"

#include <stdlib.h>
#include <string.h>

/* name with its first "%d" replaced by i (the name is never a format). */
static int frame_path(char *buf, size_t cap, const char *name, long i) {
    const char *d = strstr(name, "%d");
    int n = d ? snprintf(buf, cap, "%.*s%ld%s", (int)(d - name), name, i, d + 2)
              : snprintf(buf, cap, "%s", name);
    return n < 0 || (size_t)n >= cap;
}

/* The upright RGB of frame i as a PNG: --rgb-out names it, with a %d for
 * the frame index when the file holds more than one. */
static int write_frame_png(const opts *o, const pe_frame *f, long i, long n) {
    int w, h;
    pe_status s = pe_frame_upright_size(f, &w, &h);
    if (s) return cli_fail_status(s, o->frames);
    size_t len = (size_t)w * h * 3;
    uint8_t *rgb = malloc(len);
    if (!rgb) return cli_fail("out of memory");
    char path[4096], err[600];
    int rc = 0;
    if ((s = pe_frame_to_rgb8(f, rgb, (size_t)w * 3, len))) rc = cli_fail_status(s, o->frames);
    else if (n > 1 && !strstr(o->rgb_out, "%d"))
        rc = cli_fail("--rgb-out: %s holds %ld frames: put %%d in the name", o->frames, n);
    else if (frame_path(path, sizeof path, o->rgb_out, i))
        rc = cli_fail("--rgb-out: name too long");
    else if (image_save_png(path, rgb, w, h, (size_t)w * 3, err, sizeof err))
        rc = cli_fail("%s", err);
    free(rgb);
    return rc;
}

static int preprocess_frames(const opts *o, const pe_preprocess *pp) {
    cli_frame_file ff;
    if (cli_frames_open(&o->fr, o->frames, &ff)) return 1;
    size_t per = (size_t)3 * pp->height * pp->width;
    float *out = o->out ? malloc(per * (size_t)ff.n * sizeof(float)) : NULL;
    int rc = o->out && !out ? cli_fail("out of memory") : 0;
    for (long i = 0; !rc && i < ff.n; i++) {
        pe_frame f;
        pe_status s;
        if ((rc = cli_frames_next(&ff, &o->fr, &f))) break;
        if (out && (s = pe_preprocess_frame(&f, pp, out + per * i, per))) rc = cli_fail_status(s, o->frames);
        if (!rc && o->rgb_out) rc = write_frame_png(o, &f, i, ff.n);
    }
    if (!rc && out) rc = cli_write_npy(o->out, out, 4, (int64_t[]){ff.n, 3, pp->height, pp->width});
    free(out);
    cli_frames_close(&ff);
    return rc;
}

static const char PREPROCESS_USAGE[] =
    "usage: pecore preprocess [--size S|HxW] [--crop squash|center]\n"
    "                         [--transform pe|dinov2-eval] -o OUT.npy IMAGE...\n"
    "       pecore preprocess --frames FILE --pix-fmt F --video-size WxH [frame options]\n"
    "                         [--size S|HxW] [--crop MODE] [-o OUT.npy] [--rgb-out PNG]\n"
    "Writes the model input tensors float32 [N, 3, H, W] (default size 224; pe: PIL\n"
    "bilinear to [-1, 1]; dinov2-eval: shorter side to 256 with PIL bicubic, center-crop\n"
    "224, ImageNet mean / std).  --rgb-out writes each frame's upright RGB\n"
    "(pe_frame_to_rgb8) as a PNG (%d in the name for the frame index). Frame options:\n"
    CLI_FRAME_HELP;

int cmd_preprocess(int argc, char **argv) {
    if (cli_help(argc, argv, PREPROCESS_USAGE)) return 0;
    opts o;
    if (cli_parse(argc, argv, " -o --output --size --crop --transform --frames --rgb-out" CLI_FRAME_OPTIONS,
                  &o))
        return 1;
    if (o.frames && o.n_inputs) return cli_fail("preprocess: give --frames FILE or images, not both");
    if (o.frames ? cli_frames_setup(&o.fr) : cli_frames_unused(&o, "preprocess")) return 1;
    if (!o.out && !o.rgb_out) return cli_fail("preprocess: no output file: pass -o OUT.npy");
    if (!o.n_inputs && !o.frames) return cli_fail("preprocess: no input images");
    pe_preprocess pp;
    cli_preprocess(o.transform, o.height, o.width, o.crop, NULL, &pp);
    if (o.frames) return preprocess_frames(&o, &pp);
    size_t per = (size_t)3 * pp.height * pp.width;
    float *out = malloc(per * (size_t)o.n_inputs * sizeof(float));
    if (!out) return cli_fail("out of memory");
    int rc = cli_load_images(o.inputs, o.n_inputs, &pp, out);
    if (!rc) rc = cli_write_npy(o.out, out, 4, (int64_t[]){o.n_inputs, 3, pp.height, pp.width});
    free(out);
    return rc;
}
