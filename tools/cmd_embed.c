/* pecore embed: embeddings, token grids or linear4 features of images,
 * of float32 input tensors (--raw) or of the frames of a raw video file. */
#include "cli.h"
#include "commands.h"
#include "npy.h"
#include "options.h"

#include <stdlib.h>

static int make_ctx(const pe_model *m, const opts *o, pe_ctx **c) {
    pe_ctx_options co = {.n_threads = (int)o->threads, .max_batch = (int)o->batch, .compute = cli_compute(o->compute)};
    pe_status s = pe_ctx_create(m, &co, c);
    return s ? cli_fail_status(s, "cannot create context") : 0;
}

/* The embeddings [n, cols] or token grids [n, rows, cols] of n inputs. */
static int write_outputs(const opts *o, const float *out, int64_t n, int rows, int cols, pe_output kind) {
    int64_t shape[3] = {n, rows, cols};
    return kind == PE_OUTPUT_TOKENS ? cli_write_npy(o->out, out, 3, shape)
                                    : cli_write_npy(o->out, out, 2, (int64_t[]){n, cols});
}

/* The model's eval transform (--size / --crop / --transform over it) and the
 * output shape of one image at that size. */
static int embed_plan(const opts *o, const pe_model *m, pe_output kind, pe_preprocess *pp, int *rows,
                      int *cols) {
    pe_model_info in;
    pe_model_get_info(m, &in);
    cli_preprocess(o->transform, o->height, o->width, o->crop, &in, pp);
    pe_status s = pe_output_shape(m, pp->height, pp->width, kind, rows, cols);
    return s ? cli_fail_status(s, "cannot encode at this size") : 0;
}

static int embed_raw(const opts *o, pe_model *m, pe_ctx *c, pe_output kind) {
    npy_array in;
    char err[512];
    if (npy_read_f32(o->raw, &in, err, sizeof err)) return cli_fail("%s", err);
    int rc = 1, rows, cols;
    float *out = NULL;
    if (in.rank != 4 || in.shape[1] != 3 || in.shape[0] < 1 || in.shape[2] > 16384 ||
        in.shape[3] > 16384 || in.shape[0] > 65536) {
        cli_fail("%s: expected float32 [N, 3, H, W]", o->raw);
        goto done;
    }
    int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3];
    pe_status s = pe_output_shape(m, H, W, kind, &rows, &cols);
    if (s) { cli_fail_status(s, o->raw); goto done; }
    size_t len = (size_t)n * rows * cols;
    if (!(out = malloc(len * sizeof(float)))) { cli_fail("out of memory"); goto done; }
    if ((s = pe_encode_f32(c, in.data, n, H, W, kind, out, len))) {
        cli_fail_status(s, o->raw);
        goto done;
    }
    rc = write_outputs(o, out, n, rows, cols, kind);
done:
    free(out);
    npy_free(&in);
    return rc;
}

/* What the images and the frames of a file have in common: the transform,
 * one output of rows x cols per input, written when all are encoded. */
typedef struct embed_job {
    const opts *o;
    pe_ctx *c;
    pe_output kind;
    pe_preprocess pp;
    int rows, cols;
    float *x;              /* images: one group's input tensors [b, 3, H, W] */
    cli_frame_file ff;     /* frames: the open file                          */
} embed_job;

/* Encodes inputs [i, i + b) into out (their outputs); 0, or 1 after an error line. */
typedef int (*embed_fn)(embed_job *j, long i, int b, float *out);

/* Encodes n inputs in groups of up to `group`, then writes the outputs. */
static int embed_all(embed_job *j, long n, int group, embed_fn encode) {
    const size_t per = (size_t)j->rows * j->cols;
    float *out = malloc(per * (size_t)n * sizeof(float));
    int rc = out ? 0 : cli_fail("out of memory");
    for (long i = 0; i < n && !rc; i += group) {
        const int b = group < n - i ? group : (int)(n - i);
        rc = encode(j, i, b, out + per * i);
        if (n > 1) cli_progress(NULL, "encoding", (double)(i + b) / n);
    }
    cli_progress_done();
    if (!rc) rc = write_outputs(j->o, out, n, j->rows, j->cols, j->kind);
    free(out);
    return rc;
}

static int encode_images(embed_job *j, long i, int b, float *out) {
    const char *const *paths = j->o->inputs + i;
    if (cli_load_images(paths, b, &j->pp, j->x)) return 1;
    pe_status s = pe_encode_f32(j->c, j->x, b, j->pp.height, j->pp.width, j->kind, out,
                                (size_t)j->rows * j->cols * b);
    return s ? cli_fail_status(s, b == 1 ? paths[0] : "encoding a batch of images") : 0;
}

static int encode_frame(embed_job *j, long i, int b, float *out) {
    (void)b; /* frames go one at a time */
    pe_frame f;
    if (cli_frames_next(&j->ff, &j->o->fr, &f)) return 1;
    pe_status s = pe_encode_frame(j->c, &f, &j->pp, j->kind, out, (size_t)j->rows * j->cols);
    if (!s) return 0;
    char what[600];
    snprintf(what, sizeof what, "%s: frame %ld", j->o->frames, i);
    return cli_fail_status(s, what);
}

/* Groups of --batch images (default 8, which the library runs in its own
 * default batches): each decoded and preprocessed (with its own filter, see
 * cli_image_filter), then encoded together. */
static int embed_images(embed_job *j) {
    const int n = j->o->n_inputs, batch = j->o->batch ? (int)j->o->batch : 8;
    j->x = malloc((size_t)3 * j->pp.height * j->pp.width * (batch < n ? batch : n) * sizeof(float));
    int rc = j->x ? embed_all(j, n, batch, encode_images) : cli_fail("out of memory");
    free(j->x);
    return rc;
}

/* One output per frame of a raw video file. */
static int embed_frames(embed_job *j) {
    if (cli_frames_open(&j->o->fr, j->o->frames, &j->ff)) return 1;
    int rc = embed_all(j, j->ff.n, 1, encode_frame);
    cli_frames_close(&j->ff);
    return rc;
}

static const char EMBED_USAGE[] =
    "usage: pecore embed -m MODEL [--size S|HxW] [--crop squash|center]\n"
    "                    [--transform pe|dinov2-eval] [--output embedding|tokens|linear4]\n"
    "                    [--threads N] [--batch N] [--compute f32|f16] -o OUT.npy IMAGE...\n"
    "       pecore embed -m MODEL --raw IN.npy [--output KIND] [--threads N] [--batch N]\n"
    "                    [--compute f32|f16] -o OUT.npy\n"
    "       pecore embed -m MODEL --frames FILE --pix-fmt F --video-size WxH [frame options]\n"
    "                    [--size S|HxW] [--crop squash|center] [--output KIND] -o OUT.npy\n"
    "Writes float32 [N, D] embeddings (PE's pooled one, the DINOv2 family's normalised\n"
    "class token), [N, T, W] token grids with --output tokens (--tokens; always for\n"
    "models without a pooling head: class, registers, patches), or [N, 5W] linear4,\n"
    "the DINOv2 linear-probe input.  Images go through the model's eval transform\n"
    "(PE: squash to the native size; DINOv2 / Franca: dinov2-eval, resize 256 bicubic,\n"
    "center-crop 224); --size, --crop and --transform override it.\n"
    "--batch N: images encoded together (their linears as one matrix product;\n"
    "the same numbers as one at a time); default: the model's (pe_ctx_options).\n"
    CLI_COMPUTE_HELP
    "--frames: one embedding per frame of a raw video file (frames back to back, as\n"
    "`ffmpeg -f rawvideo` writes them), converted, cropped, rotated and mirrored as\n"
    "the frame options say:\n" CLI_FRAME_HELP;

int cmd_embed(int argc, char **argv) {
    if (cli_help(argc, argv, EMBED_USAGE)) return 0;
    opts o;
    if (cli_parse(argc, argv, " -m --model -o --output --raw --size --crop --transform --tokens --threads"
                  " --batch --compute --frames" CLI_FRAME_OPTIONS, &o))
        return 1;
    if (!o.out) return cli_fail("embed: no output file: pass -o OUT.npy");
    if (!!o.raw + !!o.n_inputs + !!o.frames > 1)
        return cli_fail("embed: give one of --raw IN.npy, --frames FILE or images, not both");
    if (!o.raw && !o.n_inputs && !o.frames)
        return cli_fail("embed: no input: pass images, --raw IN.npy or --frames FILE");
    if (o.frames ? cli_frames_setup(&o.fr) : cli_frames_unused(&o, "embed")) return 1;
    if (o.raw && (o.height || o.crop || o.transform))
        return cli_fail("embed: --size, --crop and --transform apply to images, not to --raw tensors");
    pe_model *m;
    pe_ctx *c = NULL;
    if (cli_load_model(o.model, 1, &m)) return 1;
    pe_model_info in;
    pe_model_get_info(m, &in);
    pe_output kind = cli_output_kind(&o, &in);
    int rc = make_ctx(m, &o, &c);
    embed_job j = {.o = &o, .c = c, .kind = kind};
    if (!rc && o.raw) rc = embed_raw(&o, m, c, kind);
    else if (!rc && !(rc = embed_plan(&o, m, kind, &j.pp, &j.rows, &j.cols)))
        rc = o.frames ? embed_frames(&j) : embed_images(&j);
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}
