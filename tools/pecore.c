/* pecore — command-line front end. Uses only the public API (pecore.h) plus
 * the CLI helpers for images (libjpeg-turbo, libpng) and .npy files. */
#include "cli.h"
#include "image_io.h"
#include "npy.h"
#include "pecore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static const char *USAGE =
    "usage: pecore <command> [options]\n"
    "\n"
    "commands:\n"
    "  info       -m MODEL                         architecture, dtypes, size\n"
    "  embed      -m MODEL [--size S|HxW] [--crop squash|center] [--transform T]\n"
    "             [--output embedding|tokens|linear4] [--threads N] [--batch N] -o OUT.npy IMAGE...\n"
    "                                              image embeddings [N, D]\n"
    "  embed      -m MODEL --raw IN.npy [--output KIND] -o OUT.npy\n"
    "                                              float32 [N,3,H,W] input\n"
    "  preprocess [--size S|HxW] [--crop MODE] [--transform pe|dinov2-eval]\n"
    "             -o OUT.npy IMAGE...              model input tensors [N,3,H,W]\n"
    "  embed      -m MODEL --frames FILE --pix-fmt F --video-size WxH [--rotate R] ...\n"
    "             -o OUT.npy                       one embedding per raw video frame\n"
    "                                              model input tensors [N,3,H,W]\n"
    "  synth      --arch NAME [--seed N] [--dtype f32|f16|bf16] [--vision-only]\n"
    "             -o FILE.safetensors              seeded synthetic weights\n"
    "  bench      (-m MODEL | --arch NAME) [--size S|HxW] [--threads N] [--runs N]\n"
    "             [--warmup N] [--json]             latency, throughput, memory, GFLOP/s\n"
    "  tokenize   [--vocab F] [--context-length N] TEXT...   CLIP token ids\n"
    "  text       -m MODEL [--vocab F] -o OUT.npy TEXT...     text embeddings [N, D]\n"
    "  classify   -m MODEL (--labels L | --labels-file F | --prototypes P | --gallery G)\n"
    "             [--top K] [--json] (IMAGE... | --raw IN.npy)  zero-shot, prototypes, KNN\n"
    "  prototypes -m MODEL --labels-file F [--templates-file F] -o PACK\n"
    "                                              class embeddings from text, stored\n"
    "  gallery    add|list|remove -g GALLERY ...    labelled reference images for KNN\n"
    "  stream     -m MODEL (--labels L | --prototypes P | --gallery G) --pix-fmt F\n"
    "             --video-size WxH [--fps N] [--all-frames] [--json] < frames\n"
    "                                              live labels for raw video (ffmpeg)\n"
    "  convert    -m IN.pt -o OUT.safetensors [--vocab F] [--vision-heads N]\n"
    "                                              .pt checkpoint to safetensors\n"
    "  verify     -m MODEL (--sha256 HEX | --manifest models.json [--name N])\n"
    "                                              check a model file's integrity\n"
    "  quantize   -m IN -o OUT --type f16|bf16|q8|q4 [--as TYPE:PATTERN]\n"
    "             [--keep PATTERN] [--vision-only] smaller model, in-kernel conversion\n"
    "  compare    -m A -m B (--raw IN.npy | IMAGE...) [--labels-file F]\n"
    "                                              cosine / error / top-1 agreement\n"
    "  archs                                       list known architectures\n"
    "  version                                     print the version\n"
    "\n"
    "Run 'pecore <command> --help' for the options of one command.\n";

/* ------------------------------------------------------------ info */

/* What pe_quantize wrote into a file it made: the type, the method and the
 * quality report measured on the calibration images.  Every string is the
 * file's, shown escaped. */
static void print_quantized(const pe_model *m) {
    const char *type = pe_model_meta(m, "pecore_type"), *method = pe_model_meta(m, "pecore_quant_method");
    if (!type) return;
    printf("quantized     ");
    cli_print_safe(stdout, type);
    if (method) {
        printf(" (");
        cli_print_safe(stdout, method);
        printf(")");
    }
    printf("\n");
    pe_quant_report r;
    pe_status s = pe_model_quant_report(m, &r);
    if (s == PE_ERR_NOT_FOUND) return;
    if (s) {
        printf("quality       unreadable report: ");
        cli_print_safe(stdout, pe_last_error());
        printf("\n");
        return;
    }
    printf("quality       cosine to the float model mean %.5f, min %.5f on %d calibration image%s\n",
           r.cos_mean, r.cos_min, r.n_images, r.n_images == 1 ? "" : "s");
    printf("              %d int8 linears: %d smoothed, %d error-compensated, %d input columns in float\n",
           r.n_linears, r.n_smoothed, r.n_gptq, r.n_fcols);
    for (int i = 0; i < r.n_worst; i++) {
        printf("%s", i ? "              " : "losing most   ");
        cli_print_safe(stdout, r.worst[i].name);
        printf("  %.4f -> %.4f  ", r.worst[i].before, r.worst[i].after);
        cli_print_safe(stdout, r.worst[i].action);
        printf("\n");
    }
}

static int cmd_info(int argc, char **argv) {
    opts o;
    if (cli_wants_help(argc, argv)) { puts("usage: pecore info -m MODEL"); return 0; }
    if (cli_parse(argc, argv, " -m --model ", &o)) return 1;
    if (o.n_inputs) return cli_fail("info: unexpected argument '%s'", o.inputs[0]);
    pe_model *m;
    if (cli_load_model(o.model, 0, &m)) return 1;
    pe_model_info in;
    pe_model_get_info(m, &in);
    printf("file          %s (%.2f MB, %d tensors: %d F32, %d F16, %d BF16", o.model, in.file_bytes / 1e6,
           in.n_tensors, in.n_f32, in.n_f16, in.n_bf16);
    if (in.n_q8 || in.n_q4) printf(", %d q8, %d q4", in.n_q8, in.n_q4);
    printf(")\n");
    printf("architecture  %s (%s names)\n", in.arch, in.naming);
    printf("family        %s\n", in.family);
    if (in.pool == PE_POOL_CLS)
        printf("variant       %s FFN, %d register tokens, LayerScale %s, learned position grid "
               "(bicubic%s)\n", in.ffn_swiglu ? "SwiGLU" : "GELU", in.n_registers,
               in.has_layerscale ? "yes" : "no",
               in.pos_resample == PE_POS_BICUBIC_AA ? ", antialiased" : " with offset 0.1");
    else
    printf("variant       %s\n", in.pool == PE_POOL_ATTN
                                    ? (in.has_text ? "Core CLIP (vision + text towers)" : "Core (pooled embedding)")
                                    : in.has_layerscale ? "Lang / Spatial (token grid, LayerScale)"
                                                        : "token grid (no pooling head)");
    printf("parameters    %llu (%.2f M)\n", (unsigned long long)in.n_params, in.n_params / 1e6);
    printf("vision        patch %d, width %d, %d layers, %d heads of %d, mlp %d\n", in.patch,
           in.width, in.layers, in.heads, in.head_dim, in.mlp);
    printf("input         %dx%d native (grid %dx%d), any multiple of %d works\n", in.image_size,
           in.image_size, in.grid, in.grid, in.patch);
    printf("tokens        %s cls token, ln_post %s, LayerScale %s\n", in.has_cls ? "with" : "no",
           in.has_ln_post ? "yes" : "no", in.has_layerscale ? "yes" : "no");
    if (in.pool == PE_POOL_CLS)
        printf("output        normalised class token [%d]; tokens [1 + %d + patches, %d]; "
               "linear4 [%d]\n", in.width, in.n_registers, in.width, 5 * in.width);
    else if (in.pool == PE_POOL_ATTN)
        printf("output        attention pooling (%d heads)%s -> embedding [%d]\n", in.pool_heads,
               in.has_proj ? " + projection" : "", in.out_dim);
    else
        printf("output        token grid [T, %d] (no pooling head)\n", in.width);
    if (in.has_text)
        printf("text          context %d, width %d, %d layers, %d heads -> [%d], logit scale %.2f\n",
               in.text_context, in.text_width, in.text_layers, in.text_heads, in.text_out_dim,
               in.logit_scale);
    else
        printf("text          none (vision tower only)\n");
    print_quantized(m);
    pe_model_free(m);
    return 0;
}

/* ------------------------------------------------------------ embed */

#define FRAME_HELP                                                                            \
    "  --pix-fmt nv12|nv21|i420|bgra|rgba|bgrx|rgbx|gray  (ffmpeg's yuv420p, bgr0, rgb0 too)\n" \
    "  --video-size WxH        the buffer's size\n"                                           \
    "  --row-stride N          bytes per luma (or packed) row; chroma rows padded alike\n"    \
    "  --yuv bt601-limited|bt601-full|bt709-limited|bt709-full   (default bt601-limited)\n"   \
    "  --rotate 0|90|180|270   clockwise degrees that make the frame upright\n"               \
    "  --mirror                flip left-right after rotating\n"                              \
    "  --crop-rect X,Y,W,H     in buffer coordinates, before rotation\n"                      \
    "  --yuv420-888            describe the same bytes as Android's 3-plane YUV_420_888\n"

/* Frame options without --frames are a mistake, not something to ignore. */
static int frame_options_unused(const opts *o, const char *cmd) {
    const cli_frames *f = &o->fr;
    if (f->pix_fmt || f->width || f->row_stride || f->yuv || f->rotate || f->mirror || f->crop ||
        f->as_888 || o->rgb_out)
        return cli_fail("%s: frame options (--pix-fmt, --video-size ...) need --frames FILE", cmd);
    return 0;
}

static int make_ctx(const pe_model *m, long threads, long batch, pe_ctx **c) {
    pe_ctx_options co = {.n_threads = (int)threads, .max_batch = (int)batch};
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

static int embed_images(const opts *o, pe_model *m, pe_ctx *c, pe_output kind) {
    pe_preprocess pp;
    int rows, cols;
    if (embed_plan(o, m, kind, &pp, &rows, &cols)) return 1;
    pe_status s;
    /* Groups of --batch images (default 8, which the library runs in its
     * own default batches): each decoded and preprocessed (with its own
     * filter, see cli_image_filter), then encoded together. */
    const int batch = o->batch ? (int)o->batch : 8;
    size_t per = (size_t)rows * cols, nx = (size_t)3 * pp.height * pp.width;
    float *out = malloc(per * (size_t)o->n_inputs * sizeof(float));
    float *x = malloc(nx * (size_t)(batch < o->n_inputs ? batch : o->n_inputs) * sizeof(float));
    int rc = out && x ? 0 : cli_fail("out of memory");
    for (int i0 = 0; i0 < o->n_inputs && !rc; i0 += batch) {
        const int b = batch < o->n_inputs - i0 ? batch : o->n_inputs - i0;
        for (int j = 0; j < b && !rc; j++) {
            img_buf img;
            char err[512];
            if (image_load(o->inputs[i0 + j], &img, err, sizeof err)) { rc = cli_fail("%s", err); break; }
            pe_preprocess ip = pp;
            cli_image_filter(&ip, img.resample);
            s = pe_preprocess_image(&img.image, &ip, x + nx * j, nx);
            image_free(&img);
            if (s) rc = cli_fail_status(s, o->inputs[i0 + j]);
        }
        if (!rc && (s = pe_encode_f32(c, x, b, pp.height, pp.width, kind, out + per * i0, per * b)))
            rc = cli_fail_status(s, b == 1 ? o->inputs[i0] : "encoding a batch of images");
        if (o->n_inputs > 1) cli_progress(NULL, "encoding", (double)(i0 + b) / o->n_inputs);
    }
    cli_progress_done();
    if (!rc) rc = write_outputs(o, out, o->n_inputs, rows, cols, kind);
    free(out);
    free(x);
    return rc;
}

/* One embedding per frame of a raw video file. */
static int embed_frames(const opts *o, pe_model *m, pe_ctx *c, pe_output kind) {
    pe_preprocess pp;
    int rows, cols;
    if (embed_plan(o, m, kind, &pp, &rows, &cols)) return 1;
    pe_status s;
    cli_frame_file ff;
    if (cli_frames_open(&o->fr, o->frames, &ff)) return 1;
    size_t per = (size_t)rows * cols;
    float *out = malloc(per * (size_t)ff.n * sizeof(float));
    int rc = out ? 0 : cli_fail("out of memory");
    for (long i = 0; !rc && i < ff.n; i++) {
        pe_frame f;
        if ((rc = cli_frames_next(&ff, &o->fr, &f))) break;
        if ((s = pe_encode_frame(c, &f, &pp, kind, out + per * i, per))) {
            char what[600];
            snprintf(what, sizeof what, "%s: frame %ld", o->frames, i);
            rc = cli_fail_status(s, what);
        }
        if (ff.n > 1) cli_progress(NULL, "encoding", (double)(i + 1) / ff.n);
    }
    cli_progress_done();
    if (!rc) rc = write_outputs(o, out, ff.n, rows, cols, kind);
    free(out);
    cli_frames_close(&ff);
    return rc;
}

static int cmd_embed(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore embed -m MODEL [--size S|HxW] [--crop squash|center]\n"
              "                    [--transform pe|dinov2-eval] [--output embedding|tokens|linear4]\n"
              "                    [--threads N] [--batch N] -o OUT.npy IMAGE...\n"
              "       pecore embed -m MODEL --raw IN.npy [--output KIND] [--threads N] [--batch N]\n"
              "                    -o OUT.npy\n"
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
              "--frames: one embedding per frame of a raw video file (frames back to back, as\n"
              "`ffmpeg -f rawvideo` writes them), converted, cropped, rotated and mirrored as\n"
              "the frame options say:\n" FRAME_HELP,
              stdout);
        return 0;
    }
    opts o;
    if (cli_parse(argc, argv, " -m --model -o --output --raw --size --crop --transform --tokens --threads"
                  " --batch --frames" CLI_FRAME_OPTIONS, &o))
        return 1;
    if (!o.out) return cli_fail("embed: no output file: pass -o OUT.npy");
    if (!!o.raw + !!o.n_inputs + !!o.frames > 1)
        return cli_fail("embed: give one of --raw IN.npy, --frames FILE or images, not both");
    if (!o.raw && !o.n_inputs && !o.frames)
        return cli_fail("embed: no input: pass images, --raw IN.npy or --frames FILE");
    if (o.frames ? cli_frames_setup(&o.fr) : frame_options_unused(&o, "embed")) return 1;
    if (o.raw && (o.height || o.crop || o.transform))
        return cli_fail("embed: --size, --crop and --transform apply to images, not to --raw tensors");
    pe_model *m;
    pe_ctx *c = NULL;
    if (cli_load_model(o.model, 1, &m)) return 1;
    pe_model_info in;
    pe_model_get_info(m, &in);
    pe_output kind = cli_output_kind(&o, &in);
    int rc = make_ctx(m, o.threads, o.batch, &c);
    if (!rc)
        rc = o.raw ? embed_raw(&o, m, c, kind)
                   : o.frames ? embed_frames(&o, m, c, kind) : embed_images(&o, m, c, kind);
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}

/* ------------------------------------------------------------ preprocess */

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

static int cmd_preprocess(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore preprocess [--size S|HxW] [--crop squash|center]\n"
              "                         [--transform pe|dinov2-eval] -o OUT.npy IMAGE...\n"
              "       pecore preprocess --frames FILE --pix-fmt F --video-size WxH [frame options]\n"
              "                         [--size S|HxW] [--crop MODE] [-o OUT.npy] [--rgb-out PNG]\n"
              "Writes the model input tensors float32 [N, 3, H, W] (default size 224; pe: PIL\n"
              "bilinear to [-1, 1]; dinov2-eval: shorter side to 256 with PIL bicubic, center-crop\n"
              "224, ImageNet mean / std).  --rgb-out writes each frame's upright RGB\n"
              "(pe_frame_to_rgb8) as a PNG (%d in the name for the frame index). Frame options:\n"
              FRAME_HELP, stdout);
        return 0;
    }
    opts o;
    if (cli_parse(argc, argv, " -o --output --size --crop --transform --frames --rgb-out" CLI_FRAME_OPTIONS,
                  &o))
        return 1;
    if (o.frames && o.n_inputs) return cli_fail("preprocess: give --frames FILE or images, not both");
    if (o.frames ? cli_frames_setup(&o.fr) : frame_options_unused(&o, "preprocess")) return 1;
    if (!o.out && !o.rgb_out) return cli_fail("preprocess: no output file: pass -o OUT.npy");
    if (!o.n_inputs && !o.frames) return cli_fail("preprocess: no input images");
    pe_preprocess pp;
    cli_preprocess(o.transform, o.height, o.width, o.crop, NULL, &pp);
    if (o.frames) return preprocess_frames(&o, &pp);
    size_t per = (size_t)3 * pp.height * pp.width;
    float *out = malloc(per * (size_t)o.n_inputs * sizeof(float));
    if (!out) return cli_fail("out of memory");
    int rc = 0;
    for (int i = 0; i < o.n_inputs && !rc; i++) {
        img_buf img;
        char err[512];
        if (image_load(o.inputs[i], &img, err, sizeof err)) { rc = cli_fail("%s", err); break; }
        pe_preprocess ip = pp;
        cli_image_filter(&ip, img.resample);
        pe_status s = pe_preprocess_image(&img.image, &ip, out + per * i, per);
        image_free(&img);
        if (s) rc = cli_fail_status(s, o.inputs[i]);
    }
    if (!rc) rc = cli_write_npy(o.out, out, 4, (int64_t[]){o.n_inputs, 3, pp.height, pp.width});
    free(out);
    return rc;
}

/* ------------------------------------------------------------ synth */

static int cmd_archs(void) {
    for (int i = 0; i < pe_arch_list_count(); i++) puts(pe_arch_list_name(i));
    return 0;
}

static int cmd_synth(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: pecore synth --arch NAME [--seed N] [--dtype f32|f16|bf16] [--vision-only]\n"
              "                    -o FILE.safetensors\n"
              "Writes seeded random weights of a known architecture (pecore archs lists them).\n"
              "A CLIP architecture gets its text tower unless --vision-only (the same vision\n"
              "tower, under bare official names).\n",
              stdout);
        return 0;
    }
    opts o;
    if (cli_parse(argc, argv, " --arch --seed --dtype --vision-only -o --output ", &o)) return 1;
    if (o.n_inputs) return cli_fail("synth: unexpected argument '%s'", o.inputs[0]);
    if (!o.arch) return cli_fail("synth: pass --arch NAME (pecore archs lists them)");
    if (!o.out) return cli_fail("synth: no output file: pass -o FILE.safetensors");
    pe_weight_type t = PE_WEIGHTS_F32;
    if (o.dtype && !strcmp(o.dtype, "f16")) t = PE_WEIGHTS_F16;
    else if (o.dtype && !strcmp(o.dtype, "bf16")) t = PE_WEIGHTS_BF16;
    else if (o.dtype && strcmp(o.dtype, "f32"))
        return cli_fail("--dtype must be f32, f16 or bf16, not '%s'", o.dtype);
    pe_synth_options so = {.seed = (uint64_t)o.seed, .type = t, .vision_only = o.vision_only,
                           .progress = cli_progress};
    pe_status s = pe_synth_write(o.arch, o.out, &so);
    cli_progress_done();
    if (s) return cli_fail_status(s, "synth");
    fprintf(stderr, "wrote %s: synthetic %s (seed %ld, %s%s)\n", o.out, o.arch, o.seed,
            o.dtype ? o.dtype : "f32", o.vision_only ? ", vision only" : "");
    return 0;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv) {
    if (argc < 2) { fputs(USAGE, stderr); return 2; }
    const char *cmd = argv[1];
    int n = argc - 2;
    char **rest = argv + 2;
    if (!strcmp(cmd, "info")) return cmd_info(n, rest);
    if (!strcmp(cmd, "embed")) return cmd_embed(n, rest);
    if (!strcmp(cmd, "preprocess")) return cmd_preprocess(n, rest);
    if (!strcmp(cmd, "synth")) return cmd_synth(n, rest);
    if (!strcmp(cmd, "archs")) return cmd_archs();
    if (!strcmp(cmd, "bench")) return cmd_bench(n, rest);
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(n, rest);
    if (!strcmp(cmd, "text")) return cmd_text(n, rest);
    if (!strcmp(cmd, "classify")) return cmd_classify(n, rest);
    if (!strcmp(cmd, "prototypes")) return cmd_prototypes(n, rest);
    if (!strcmp(cmd, "gallery")) return cmd_gallery(n, rest);
    if (!strcmp(cmd, "stream")) return cmd_stream(n, rest);
    if (!strcmp(cmd, "quantize")) return cmd_quantize(n, rest);
    if (!strcmp(cmd, "compare")) return cmd_compare(n, rest);
    if (!strcmp(cmd, "convert")) return cmd_convert(n, rest);
    if (!strcmp(cmd, "verify")) return cmd_verify(n, rest);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("pecore %s\n", pe_version());
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(USAGE, stdout);
        return 0;
    }
    cli_fail("unknown command '%s' (run 'pecore help' for the list)", cmd);
    return 2;
}
