/*
 * pecore.h — the public C API of pecore, an inference engine for vision
 * transformers on CPUs: Meta's Perception Encoder (PE Core / Spatial / Lang)
 * vision towers with the CLIP text tower, and the DINOv2 family (DINOv2,
 * DINOv2 with registers, Franca).  This header is the manual; docs/pe.md and
 * docs/dinov2.md explain what each family computes, docs/design.md the code.
 *
 * Conventions
 *   - Every fallible call returns a pe_status; PE_OK (0) is success.  On failure
 *     pe_last_error() gives a one-line, human-readable message (per thread).
 *   - Handles are opaque; every create/load has a free, and free(NULL) is a no-op.
 *   - The library never prints, exits or aborts.
 *   - A pe_model is immutable once loaded and may be shared by any number of
 *     threads.  A pe_ctx holds the scratch memory and the worker threads of one
 *     caller; use one pe_ctx per calling thread.
 *   - The calling thread runs a share of every pass, and the kernels keep
 *     panel copies on the stack: give it 256 KB of stack or more (a main
 *     thread has it; a thread you start on musl has 128 KB by default).  The
 *     threads pecore starts have 1 MB.
 *   - Tensors are float32, row-major (C order).  Images are NCHW.
 *
 * Typical use
 *   pe_model *m;  pe_model_load("pe-core-t16-384.safetensors", NULL, &m);
 *   pe_ctx *c;    pe_ctx_create(m, NULL, &c);
 *   float emb[512];
 *   pe_image img = { rgb, width, height, width * 3, PE_PIXEL_RGB8 };
 *   pe_encode_image(c, &img, NULL, PE_OUTPUT_EMBEDDING, emb, 512);
 *   pe_ctx_free(c); pe_model_free(m);
 */
#ifndef PECORE_H
#define PECORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PECORE_VERSION_MAJOR 0
#define PECORE_VERSION_MINOR 1
#define PECORE_VERSION_PATCH 0
#define PECORE_VERSION_STRING "0.1.0"

#if defined(_WIN32)
#define PE_API
#else
#define PE_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- status */

typedef enum pe_status {
    PE_OK = 0,
    PE_ERR_INVALID_ARG,   /* a NULL, a size of 0, a value out of range        */
    PE_ERR_IO,            /* a file could not be opened, read, mapped, written */
    PE_ERR_FORMAT,        /* a file is malformed (header, offsets, sizes ...)  */
    PE_ERR_UNSUPPORTED,   /* well-formed but not something pecore can run      */
    PE_ERR_SHAPE,         /* a tensor or input has the wrong shape             */
    PE_ERR_NOMEM,         /* an allocation failed                              */
    PE_ERR_LIMIT,         /* a size limit was hit (pixels, header, nesting)    */
    PE_ERR_NOT_FOUND,     /* a tensor, label, key or file is missing           */
    PE_ERR_CHECKSUM       /* a checksum did not match                          */
} pe_status;

/* Short name of a status ("ok", "format error", ...). Never NULL. */
PE_API const char *pe_status_string(pe_status s);
/* Message of the last failing call on this thread ("" if none). Never NULL. */
PE_API const char *pe_last_error(void);
/* Run-time version, "MAJOR.MINOR.PATCH". */
PE_API const char *pe_version(void);

/* ---------------------------------------------------------------- models */

typedef struct pe_model pe_model;
typedef struct pe_ctx pe_ctx;

/* The model families pecore runs: one architecture with per-family
 * switches (tokens, positions, FFN, pooling; docs/pe.md, docs/dinov2.md). */
typedef enum pe_family {
    PE_FAMILY_PE = 0,     /* Perception Encoder: Core (CLIP), Lang, Spatial  */
    PE_FAMILY_DINOV2 = 1, /* DINOv2, with or without register tokens        */
    PE_FAMILY_FRANCA = 2  /* Franca: DINOv2's computation, SwiGLU FFN        */
} pe_family;

/* "PE", "DINOv2", "Franca" ("unknown" outside the enum). Never NULL. */
PE_API const char *pe_family_name(pe_family f);

typedef enum pe_pool_kind {
    PE_POOL_NONE = 0,     /* output is the token grid (PE-Spatial, PE-Lang) */
    PE_POOL_ATTN = 1,     /* attention-pooling head: one embedding         */
    PE_POOL_CLS = 2       /* the normalised class token is the embedding
                             (the DINOv2 family: DINOv2, Franca)            */
} pe_pool_kind;

/* How a model's learned position grid G x G is resampled to another input
 * grid (the class slot never is). */
typedef enum pe_pos_resample {
    PE_POS_BILINEAR = 0,      /* PE: bilinear, align_corners False          */
    PE_POS_BICUBIC_OFFSET = 1,/* DINOv2 / Franca: bicubic (A = -0.75) with
                                 scale (g + 0.1) / G, borders clamped        */
    PE_POS_BICUBIC_AA = 2     /* DINOv2 with registers: antialiased bicubic
                                 (a = -0.5, PIL's) to the exact size         */
} pe_pos_resample;

/* The image transform a model is evaluated with (pe_preprocess_init). */
typedef enum pe_transform {
    PE_TRANSFORM_PE = 0,         /* squash to the native size, PIL bilinear,
                                    scaled to [-1, 1]                         */
    PE_TRANSFORM_DINOV2_EVAL = 1 /* shorter side to 256 (PIL bicubic),
                                    center-crop 224, ImageNet mean / std      */
} pe_transform;

/* Load options; NULL or a zeroed struct gives the defaults. */
typedef struct pe_model_options {
    /* Expected SHA-256 of the file, 64 hex digits, or NULL.  The file is
     * hashed before it is parsed; a mismatch fails with PE_ERR_CHECKSUM. */
    const char *sha256_hex;
    /* Heads for files that carry none (a .pt of a model outside the known
     * table); 0 = from the file's metadata or the known table. */
    int vision_heads, text_heads, pool_heads;
    /* Non-zero: leave the text tower of a CLIP file unloaded (an app that
     * only embeds images saves its memory and load time). */
    int vision_only;
} pe_model_options;

/* What a loaded model is. Sizes are in elements unless named *_bytes. */
typedef struct pe_model_info {
    char arch[48];          /* "PE-Core-T16-384" when the shapes match a known
                               model, else "custom"                          */
    char naming[16];        /* checkpoint layout: "official", "timm",
                               "DINOv2" (flat) or "Franca" (teacher)         */
    /* vision tower */
    int patch;              /* P                                               */
    int width;              /* W                                               */
    int layers;
    int heads;
    int head_dim;           /* W / heads                                       */
    int mlp;                /* hidden size of the MLP                          */
    int image_size;         /* native square input size (G * P)               */
    int grid;               /* G                                               */
    int has_cls;
    int has_ln_post;
    int has_layerscale;
    pe_pool_kind pool;
    int pool_heads;         /* heads of the attention-pooling head (8)         */
    int has_proj;
    int out_dim;            /* embedding size (D), or W without projection    */
    /* text tower (0 when the file has none) */
    int has_text;
    int text_context;
    int text_width;
    int text_heads;
    int text_layers;
    int text_vocab;
    int text_out_dim;       /* text embedding size                            */
    float logit_scale;      /* exp(logit_scale) of the file, for zero-shot     */
    /* file */
    uint64_t n_params;      /* parameters of all tensors pecore uses           */
    uint64_t file_bytes;
    uint64_t fingerprint;   /* hash of the tensor names, shapes, dtypes and a
                               sample of the weight bytes: tells models apart */
    int n_tensors;
    int n_f32, n_f16, n_bf16; /* tensors of each stored dtype (a quantized
                               file's f16 / bf16 panels count as such)        */
    int n_q8, n_q4;         /* linear weights stored as q8 / q4 (pe_quantize)  */
    /* architecture switches (the DINOv2 family differs from PE in each) */
    pe_family family;       /* pe_family_name() spells it                      */
    int n_registers;        /* register tokens after the class token (0 or 4)  */
    int ffn_swiglu;         /* 1: SwiGLU FFN (mlp = its hidden size h), 0: GELU */
    int rope;               /* 1: 2-D RoPE in attention (PE)                   */
    pe_pos_resample pos_resample;
    float ln_eps;           /* LayerNorm epsilon of the vision tower           */
    pe_transform transform; /* the family's eval transform                     */
} pe_model_info;

/* Loads a safetensors file or a PyTorch checkpoint (torch.save zip, read
 * without Python by a restricted unpickler), told apart by their first bytes;
 * memory-mapped. Official names (bare, "visual.", "module.", wrapped under
 * "state_dict"/"weights"/"model" in a .pt) and timm names; the architecture
 * is inferred from shapes and the "__metadata__" heads. opt may be NULL.
 * The DINOv2 family loads from its release files: DINOv2's flat state dicts
 * (cls_token, pos_embed, register_tokens, blocks.<i>. ...), Franca's
 * {"teacher": ...} with backbone.blocks.<chunk>.<i>. (training heads
 * dino_head / ibot_head ignored), and safetensors with the flat names and
 * the metadata num_heads, num_register_tokens, interpolate_antialias,
 * interpolate_offset (heads default to 64 wide, as every release).
 * Every tensor of a file is used or on an explicit ignore list (training
 * heads, mask_token); a file with tensors no known architecture uses is
 * refused with PE_ERR_UNSUPPORTED naming them. */
PE_API pe_status pe_model_load(const char *path, const pe_model_options *opt,
                               pe_model **out);
PE_API void pe_model_free(pe_model *m);
PE_API pe_status pe_model_get_info(const pe_model *m, pe_model_info *info);

/* ---------------------------------------------------------------- contexts */

/* Which cores a context's worker threads run on.  Phones mix fast cores
 * ("prime", "big") with slow, frugal ones ("LITTLE"); Linux and Android say
 * which is which (sysfs cpuN/cpu_capacity, else cpufreq/cpuinfo_max_freq).
 * A class is the cores within 10% of each other's speed.  Where nothing says
 * (macOS, iOS, Windows, a VM without those files) every core counts as fast.
 * Only the CPUs the calling thread may run on are candidates (Android
 * cpusets, taskset).  The workers restrict themselves to the chosen cores
 * when the OS lets them (sched_setaffinity; refused: they run unrestricted);
 * the calling thread, which takes a share of every step, is never moved:
 * call from a thread on a fast core when latency matters. */
typedef enum pe_cores {
    PE_CORES_FAST = 0,      /* default: all but the slowest class (4+4: the 4
                               big; 1+3+4: prime and big), every core when
                               they are alike.  Lowest latency.              */
    PE_CORES_EFFICIENT = 1, /* the slowest class only: a stream that runs for
                               minutes in the background, at less power      */
    PE_CORES_ALL = 2,       /* every core, unrestricted: throughput of long
                               batches when nothing else runs               */
    PE_CORES_MASK = 3       /* exactly the CPUs of cpu_mask                  */
} pe_cores;

/* The arithmetic of the forward pass (pe_ctx_options.compute).
 * PE_COMPUTE_F16 runs the linears over an image's tokens (the patch
 * embedding, the transformer blocks', the attention pooling's keys and
 * values) and the vision tower's attention products (Q K^T, P V) with
 * half-precision multiply-adds (8 lanes a NEON instruction): each row of
 * activations is rounded to half, slices of 32 products are summed in half
 * and added up in float32; the bias, GELU (fc1's is the int8 path's table
 * GELU, within 7e-6 of erf's), gating, residual and softmax stay in float32
 * (docs/design.md, "fp16 compute").  Weights are used as f16: an f16 file
 * as stored, an f32 or bf16 file's linears converted once per model when
 * its first f16 context is created (half the bytes of those weights again,
 * held until pe_model_free).  A row of activations beyond 1024 in
 * magnitude, a weight beyond the half range and q8/q4 linears stay in their
 * own precision; LayerNorm, the text tower's attention and the heads (but
 * the pooling's kv) stay float32.  Needs ARMv8.2 FP16 arithmetic
 * (Cortex-A76 class and later, Apple M1 and later): elsewhere, or with
 * PECORE_ISA naming a level without fp16 kernels, pe_ctx_create fails with
 * PE_ERR_UNSUPPORTED.  Embeddings differ from float32 by about the rounding
 * of half (cosine to the float64 reference: docs/design.md). */
typedef enum pe_compute {
    PE_COMPUTE_DEFAULT = 0, /* float32 (the weights in their stored type) */
    PE_COMPUTE_F32 = 0,
    PE_COMPUTE_F16 = 1
} pe_compute;

typedef struct pe_ctx_options {
    int n_threads;          /* threads incl. the caller; 0 = one per chosen
                               core (a 4+4 phone: 4)                         */
    pe_cores cores;         /* zeroed: PE_CORES_FAST                         */
    uint64_t cpu_mask;      /* PE_CORES_MASK: bit i = CPU i (CPUs 0..63); a
                               mask naming no usable CPU is an error         */
    int max_batch;          /* images pe_encode_f32 / pe_encode_images run as
                               one batch, 1..PE_MAX_BATCH (a batch's scratch
                               grows with it); 0 = the model's: batches pay
                               when a block's weights outweigh an image's
                               activations (B16 and larger), not for T16 or
                               S16, so 1..8 images, within 64 MiB */
    pe_compute compute;     /* zeroed: float32; PE_COMPUTE_F16 see above     */
} pe_ctx_options;

#define PE_MAX_BATCH 256

PE_API pe_status pe_ctx_create(const pe_model *m, const pe_ctx_options *opt,
                               pe_ctx **out);
PE_API void pe_ctx_free(pe_ctx *c);
/* Threads the context runs on (n_threads, or the count it chose for 0). */
PE_API int pe_ctx_threads(const pe_ctx *c);

/* ---------------------------------------------------------------- encoding */

typedef enum pe_output {
    PE_OUTPUT_EMBEDDING = 0, /* [D] per image (needs pool = attn or cls)     */
    PE_OUTPUT_TOKENS = 1,    /* [T, W] per image: the final normalised tokens
                                (cls first when present, then the registers,
                                then the patches row by row)                 */
    PE_OUTPUT_LINEAR4 = 2    /* [5W] per image, the DINOv2 family's linear-
                                probe input: the normalised class tokens of
                                the last 4 blocks, then the mean of the last
                                block's normalised patch tokens               */
} pe_output;

/* Number of floats one image produces for an input of height x width:
 * D for an embedding, T*W for tokens (T = cls + registers + (h/P)*(w/P)),
 * 5W for linear4.  rows/cols may be NULL.  Fails if h or w is not a
 * positive multiple of the patch, or the model has no pooling head and an
 * embedding is asked for, or linear4 is asked of a model outside the
 * DINOv2 family. */
PE_API pe_status pe_output_shape(const pe_model *m, int height, int width,
                                 pe_output kind, int *rows, int *cols);

/* Encodes a batch of n images already normalised to the model's input range:
 * x is float32 [n, 3, height, width].  out receives n * rows * cols floats
 * (see pe_output_shape); out_len is its capacity in floats.
 * The images run in batches of the context's max_batch: each block's
 * linears (QKV, out, FFN) as one matrix product over all the batch's
 * tokens, attention per image.  The result is bit-identical to encoding
 * the images one at a time (each output row's sums run in the same order
 * whatever the batch). */
PE_API pe_status pe_encode_f32(pe_ctx *c, const float *x, int n, int height,
                               int width, pe_output kind, float *out,
                               size_t out_len);

/* 8-bit pixels, as a camera or an image decoder hands them over. */
typedef enum pe_pixel_format {
    PE_PIXEL_GRAY8 = 0,      /* 1 byte per pixel                              */
    PE_PIXEL_GRAYA8 = 1,     /* gray + alpha                                  */
    PE_PIXEL_RGB8 = 2,
    PE_PIXEL_RGBA8 = 3,      /* straight (not premultiplied) alpha            */
    PE_PIXEL_BGRA8 = 4       /* iOS / Android camera buffers                  */
} pe_pixel_format;

typedef struct pe_image {
    const uint8_t *data;
    int width, height;
    size_t stride;           /* bytes from one row to the next                */
    pe_pixel_format format;
} pe_image;

typedef enum pe_crop {
    PE_CROP_SQUASH = 0,      /* resize to exactly height x width (default)   */
    PE_CROP_CENTER = 1       /* resize the shorter side, then center-crop     */
} pe_crop;

typedef enum pe_resample {
    PE_RESAMPLE_BILINEAR = 0, /* PIL bilinear with antialiasing (default)     */
    PE_RESAMPLE_NEAREST = 1,  /* PIL nearest: what PIL uses for palette images */
    PE_RESAMPLE_BICUBIC = 2   /* PIL bicubic (a = -0.5) with antialiasing     */
} pe_resample;

typedef enum pe_normalize {
    PE_NORM_HALF = 0,        /* (x / 255 - 0.5) / 0.5, in [-1, 1] (PE)        */
    PE_NORM_IMAGENET = 1     /* (x / 255 - mean) / std, ImageNet's mean
                                (0.485, 0.456, 0.406), std (0.229, 0.224,
                                0.225) (DINOv2, Franca)                       */
} pe_normalize;

typedef struct pe_preprocess {
    int height, width;       /* 0 = the model's native size                   */
    pe_crop crop;
    pe_resample resample;
    int resize;              /* PE_CROP_CENTER: the shorter side becomes this
                                before the crop (torchvision Resize(resize));
                                0 = the crop size                             */
    pe_normalize norm;
} pe_preprocess;

/* pp = transform t for a crop of size x size (0 = the transform's own: the
 * model's native size for PE, 224 for DINOv2 eval, whose resize is then
 * size * 256 / 224).  A zeroed pe_preprocess is PE_TRANSFORM_PE. */
PE_API pe_status pe_preprocess_init(pe_transform t, int size, pe_preprocess *pp);

/* Limit on width*height of an input image (decompression-bomb guard). */
#define PE_MAX_IMAGE_PIXELS ((uint64_t)1 << 28)

/* Resizes, crops and normalises one 8-bit image exactly as the reference
 * (PIL 9.4 + torchvision): out is float32 [3, pp->height, pp->width],
 * normalised as pp->norm.  pp->height and pp->width must be set (no model
 * here). */
PE_API pe_status pe_preprocess_image(const pe_image *img, const pe_preprocess *pp,
                                     float *out, size_t out_len);

/* Preprocesses and encodes one image. pp may be NULL: the model's own eval
 * transform (pe_model_info.transform, at its default size).
 * Scratch memory lives in the context: after the first call with a given
 * size nothing is allocated. */
PE_API pe_status pe_encode_image(pe_ctx *c, const pe_image *img,
                                 const pe_preprocess *pp, pe_output kind,
                                 float *out, size_t out_len);

/* Preprocesses n images with one transform (as pe_encode_image) and
 * encodes them as pe_encode_f32 does, in batches of the context's
 * max_batch: out receives n * rows * cols floats, image by image, the
 * same as n calls of pe_encode_image.  An error names the image
 * ("image 3: ...").  After the first call with a given size and batch
 * nothing is allocated. */
PE_API pe_status pe_encode_images(pe_ctx *c, const pe_image *imgs, int n,
                                  const pe_preprocess *pp, pe_output kind,
                                  float *out, size_t out_len);

/* Debugging: per-stage activations of one image, for porting layer by layer.
 * Stage 0: patch embed + cls + position; 1: after ln_pre; 1+i: after block i;
 * last: after ln_post (or the last block).  out holds (layers + 3) * T * W
 * floats; *n_stages receives the count. */
PE_API pe_status pe_encode_stages(pe_ctx *c, const float *x, int height, int width,
                                  float *out, size_t out_len, int *n_stages);

/* ---------------------------------------------------------------- camera frames */

/* A camera frame as the platform hands it over: up to three planes, each
 * with its own row and pixel stride, never copied or converted by the
 * caller.  pe_encode_frame converts, crops, rotates, mirrors, resizes and
 * normalises in one pass over the pixels it needs; the result is exactly
 * the embedding of the upright RGB image pe_frame_to_rgb8 gives.
 *
 * Formats and their planes:
 *   NV12        [0] Y, [1] interleaved U,V (iOS 420v/420f, ffmpeg nv12)
 *   NV21        [0] Y, [1] interleaved V,U (Android NV21)
 *   I420        [0] Y, [1] U, [2] V, chroma planes half size (yuv420p)
 *   YUV420_888  [0] Y, [1] U, [2] V with the plane's pixel_stride 1 or 2
 *               (Android CameraX / Camera2 YUV_420_888; U and V may
 *               interleave in one buffer)
 *   BGRA8, RGBA8, BGRX8, RGBX8   [0] 4 bytes per pixel; alpha ignored
 *               (no premultiply: a camera frame is opaque)
 *   GRAY8       [0] 1 byte per pixel
 * Pixel strides: Y and GRAY8 1, NV12/NV21's UV plane 2, I420's chroma 1,
 * YUV420_888's U and V 1 or 2 (the same for both), packed 4; 0 is always
 * the format's own.  Every row stride must hold a row of samples.
 * Chroma of a 4:2:0 format covers ceil(width/2) x ceil(height/2) samples,
 * each shared by its 2x2 block of luma (nearest upsampling), so odd widths
 * and heights work.  Every plane's size is checked before it is read; the
 * last row of a plane may be shorter than its row stride (Android's
 * buffers end at the last pixel). */
typedef enum pe_frame_format {
    PE_FRAME_NV12 = 0,
    PE_FRAME_NV21 = 1,
    PE_FRAME_I420 = 2,
    PE_FRAME_YUV420_888 = 3,
    PE_FRAME_BGRA8 = 4,
    PE_FRAME_RGBA8 = 5,
    PE_FRAME_BGRX8 = 6,
    PE_FRAME_RGBX8 = 7,
    PE_FRAME_GRAY8 = 8
} pe_frame_format;

/* The YUV -> RGB matrix and range.  The default (0) is BT.601 limited
 * range: what Android cameras, ffmpeg's rgb->yuv default and iOS '420v'
 * produce.  iOS '420f' is BT.601 full range; HD video is usually BT.709.
 *
 * Exactly (Kr, Kb = 0.299, 0.114 for BT.601; 0.2126, 0.0722 for BT.709;
 * Kg = 1 - Kr - Kb; limited: sy = 255/219, sc = 255/224, yoff = 16; full:
 * sy = sc = 1, yoff = 0), with each coefficient computed in double and
 * rounded once to float32:
 *   cy = sy, crv = 2(1-Kr) sc, cbu = 2(1-Kb) sc,
 *   cgu = -2(1-Kb) Kb/Kg sc, cgv = -2(1-Kr) Kr/Kg sc
 * and per pixel, in float32, every product and sum rounded on its own (no
 * fused multiply-add), on every CPU:
 *   y = cy * (Y - yoff)
 *   R = y + crv * (V - 128)
 *   G = y + (cgu * (U - 128) + cgv * (V - 128))
 *   B = y + cbu * (U - 128)
 * each rounded to the nearest integer (ties to even) and clamped to 0..255.
 * (BT.601 limited: cy 1.164384, crv 1.596027, cgu -0.391762,
 * cgv -0.812968, cbu 2.017232.)  On flat chroma this agrees with ffmpeg's
 * swscale (accurate_rnd) within one level; swscale interpolates chroma
 * where pecore takes the 2x2 block's sample, so at chroma edges they part. */
typedef enum pe_yuv_matrix {
    PE_YUV_BT601_LIMITED = 0,
    PE_YUV_BT601_FULL = 1,
    PE_YUV_BT709_LIMITED = 2,
    PE_YUV_BT709_FULL = 3
} pe_yuv_matrix;

typedef struct pe_plane {
    const uint8_t *data;
    size_t size;             /* bytes readable from data                     */
    size_t row_stride;       /* bytes from one row to the next               */
    int pixel_stride;        /* bytes from one sample to the next; 0 = the
                                format's own (1 for Y, 2 for NV12's UV, 4
                                for BGRA8 ...)                               */
} pe_plane;

typedef struct pe_rect {
    int x, y, width, height;
} pe_rect;

typedef struct pe_frame {
    pe_frame_format format;
    int width, height;       /* of the buffer, in pixels (luma)              */
    pe_plane planes[3];      /* as the format says; unused ones zeroed       */
    pe_yuv_matrix yuv;       /* YUV formats only                             */
    pe_rect crop;            /* in buffer coordinates, before rotation, inside
                                the frame; all zero = the whole frame.  Any
                                offset works: chroma stays that of the
                                buffer's 2x2 blocks                           */
    int rotation;            /* clockwise degrees that make the frame
                                upright (CameraX rotationDegrees): 0, 90,
                                180 or 270                                   */
    int mirror;              /* non-zero: flip left-right after rotating
                                (front cameras)                              */
} pe_frame;

/* Checks a frame description (format, sizes, strides, every plane's size,
 * crop, rotation) without reading pixels; PE_ERR_INVALID_ARG or
 * PE_ERR_SHAPE with a message saying what is wrong. */
PE_API pe_status pe_frame_check(const pe_frame *f);

/* Size of the upright image the frame shows: the crop, rotated. */
PE_API pe_status pe_frame_upright_size(const pe_frame *f, int *width, int *height);

/* The upright 8-bit RGB image (crop, rotate, mirror applied; gray frames
 * give R = G = B): what pe_preprocess_frame and pe_encode_frame resize, so
 * writing it to a lossless file and encoding that gives the frame's
 * embedding bit for bit.  rgb receives
 * height rows of width * 3 bytes at the given stride (pe_frame_upright_size);
 * len is the capacity of rgb in bytes. */
PE_API pe_status pe_frame_to_rgb8(const pe_frame *f, uint8_t *rgb, size_t stride, size_t len);

/* Like pe_preprocess_image for a frame: out is float32 [3, pp->height,
 * pp->width] in the model's input range.  pp->height/width must be set. */
PE_API pe_status pe_preprocess_frame(const pe_frame *f, const pe_preprocess *pp, float *out,
                                     size_t out_len);

/* Like pe_encode_image for a frame.  After the first frame of a given size
 * nothing is allocated. */
PE_API pe_status pe_encode_frame(pe_ctx *c, const pe_frame *f, const pe_preprocess *pp,
                                 pe_output kind, float *out, size_t out_len);

/* pe_preprocess_frame with the context's scratch: pp may be NULL (the
 * model's native size, squash) and after the first frame of a given size
 * nothing is allocated.  For callers that time or batch preprocessing
 * apart from encoding; out holds 3 * height * width floats. */
PE_API pe_status pe_ctx_preprocess_frame(pe_ctx *c, const pe_frame *f, const pe_preprocess *pp,
                                         float *out, size_t out_len);

/* ---------------------------------------------------------------- text */

typedef struct pe_tokenizer pe_tokenizer;

#define PE_TOKEN_SOT 49406
#define PE_TOKEN_EOT 49407

/* Loads the CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz, gzip). */
PE_API pe_status pe_tokenizer_load(const char *path, pe_tokenizer **out);
/* Same, from the gzip bytes in memory. */
PE_API pe_status pe_tokenizer_load_mem(const void *gz, size_t len,
                                       pe_tokenizer **out);
PE_API void pe_tokenizer_free(pe_tokenizer *t);
/* Tokenizes UTF-8 text into exactly context_len ids: [sot] ids [eot], padded
 * with 0, truncated with eot forced into the last slot. */
PE_API pe_status pe_tokenize(const pe_tokenizer *t, const char *text,
                             int context_len, int32_t *ids);

/* Encodes n token sequences (ids [n, context_len], from pe_tokenize) with the
 * text tower; out receives n * text_out_dim floats (not normalised).
 * context_len must not exceed the model's text_context. */
PE_API pe_status pe_encode_text(pe_ctx *c, const int32_t *ids, int n, int context_len,
                                float *out, size_t out_len);

/* ---------------------------------------------------------------- performance */

/* Floating-point operations of one forward pass at height x width (GEMMs and
 * attention; 2 per multiply-add), for GFLOP/s reports. */
PE_API pe_status pe_model_flops(const pe_model *m, int height, int width, double *flops);
/* Name of the kernel level in use: "avx512", "avx2", "neon-i8mm", "neon-dot",
 * "neon", "scalar" (PECORE_ISA=<name> forces one; a level this CPU lacks or
 * an unknown name makes pe_model_load and pe_ctx_create fail with
 * PE_ERR_UNSUPPORTED). */
PE_API const char *pe_kernel_isa(void);
/* Measures the machine's FMA throughput with the active kernel set's vector
 * width on n_threads threads (about 0.3 s). GFLOP/s. */
PE_API double pe_measure_peak_gflops(int n_threads);
/* The same for int8 dot products (VNNI VPDPBUSD, ARM SDOT), 2 operations per
 * multiply-add, GOP/s; 0 when the active level has no dot-product
 * instruction. */
PE_API double pe_measure_peak_int8_gops(int n_threads);

/* ---------------------------------------------------------------- progress */

/* Called during long operations with a short stage name and the fraction done
 * in [0, 1]. The library never prints; a CLI can draw a progress line. */
typedef void (*pe_progress_fn)(void *user, const char *stage, double fraction);

/* ---------------------------------------------------------------- synthetic models */

typedef enum pe_weight_type {
    PE_WEIGHTS_F32 = 0,
    PE_WEIGHTS_F16 = 1,
    PE_WEIGHTS_BF16 = 2,
    PE_WEIGHTS_Q8 = 3,       /* int8, one f32 scale per output channel        */
    PE_WEIGHTS_Q4 = 4        /* 4-bit blocks of 32 with an f16 scale          */
} pe_weight_type;

/* Known architectures: PE Core / Lang / Spatial (docs/pe.md) and the DINOv2
 * family's releases (docs/dinov2.md). */
PE_API int pe_arch_list_count(void);
PE_API const char *pe_arch_list_name(int i);

/* Options of pe_synth_write; NULL or a zeroed struct gives the defaults. */
typedef struct pe_synth_options {
    uint64_t seed;
    pe_weight_type type;      /* PE_WEIGHTS_F32 (0), F16 or BF16              */
    /* Non-zero: no text tower even for a CLIP architecture; the vision tower
     * gets bare official names, as a vision-only checkpoint has. */
    int vision_only;
    pe_progress_fn progress;  /* may be NULL                                  */
    void *user;               /* passed to progress                           */
} pe_synth_options;

/* Writes a safetensors file with seeded random weights of a known
 * architecture, in official naming with the heads in __metadata__ (a CLIP
 * file with "visual." and the text tower when the architecture has one,
 * unless vision_only).  The same (arch, seed, type, vision_only) always
 * gives the same bytes, and vision_only gives the same vision tower as the
 * CLIP file. */
PE_API pe_status pe_synth_write(const char *arch, const char *path, const pe_synth_options *opt);

/* ---------------------------------------------------------------- quantized models */

/* The type of the linear weights whose names match patterns: a
 * comma-separated list of fnmatch globs or substrings, e.g.
 * {PE_WEIGHTS_Q8, "*attn.in_proj_weight,*attn.out_proj.weight"}. */
typedef struct pe_quant_rule {
    pe_weight_type type;      /* f16, bf16, q8 or q4                          */
    const char *patterns;
} pe_quant_rule;

/* How far a quantized model is from its source, measured on the
 * calibration images (pe_quantize_options.report). */
typedef struct pe_quant_loss {
    char name[96];          /* a linear weight, by its name in the source     */
    float before;           /* relative error ||y' - y|| / ||y|| of its output
                               on the calibration activations, plain rounding  */
    float after;            /* the same as quantized                           */
    char action[80];        /* what was done about it                          */
} pe_quant_loss;

typedef struct pe_quant_report {
    char method[96];        /* what the quantizer did, e.g. "smooth+fcols+gptq" */
    int n_images;           /* calibration images                             */
    double cos_mean, cos_min; /* cosine of the quantized model's outputs to the
                               source's on those images (embedding, or the
                               token grid of a model without pooling)          */
    int n_linears;          /* quantized linear weights of the vision tower   */
    int n_smoothed;         /* ... with their input channels rescaled          */
    int n_gptq;             /* ... rounded with error compensation             */
    int n_fcols;            /* input columns kept in float, all linears        */
    int n_worst;
    pe_quant_loss worst[3]; /* the linears that lose most, worst first         */
} pe_quant_report;

enum {
    PE_QUANT_NO_SMOOTH = 1,   /* no per-channel scales folded into LayerNorms */
    PE_QUANT_NO_FCOLS = 2,    /* no input columns kept in float               */
    PE_QUANT_NO_GPTQ = 4      /* plain rounding even with calibration images  */
};

typedef struct pe_quantize_options {
    /* Type of the linear weights (f16, bf16, q8 or q4).  q4's default
     * policy keeps at q8 the attention projections of every block
     * (attn.in_proj_weight / attn.out_proj.weight; attn.qkv / attn.proj in
     * timm names), the whole attention pooling head (attn_pool.*) and the
     * output projections (proj, head.weight, text_projection): 4-bit
     * attention costs the most accuracy for the fewest bytes (README). */
    pe_weight_type type;
    /* Then each rule in order, for the linear weights it matches, the last
     * match winning over the earlier ones and over the default policy:
     * {PE_WEIGHTS_Q4, "*"} gives pure q4.  A rule that matches no linear
     * weight of the output fails with PE_ERR_NOT_FOUND (a misspelt
     * pattern).  May be NULL when n_rules is 0. */
    const pe_quant_rule *rules;
    int n_rules;
    /* Comma-separated patterns of tensors kept exactly as they are (may be
     * NULL); they win over the rules. */
    const char *keep;
    /* Non-zero: drop the text tower (token embedding, text positions and
     * blocks, ln_final, text_projection, logit_scale) and a stored
     * tokenizer vocabulary; the vision tower gets bare official names and
     * the metadata no text_heads, as a vision-only checkpoint. */
    int vision_only;
    pe_progress_fn progress;  /* may be NULL                                  */
    void *user;               /* passed to progress and calib_image           */
    /* Calibration: n_calib images, handed over one at a time by calib_image
     * (the pixels stay valid until its next call), run through the source
     * model with its own eval transform.  The quantizer measures the
     * activations every q8 / q4 linear of the vision tower reads and
     * chooses with them: per-channel scales folded into the LayerNorm before
     * qkv and fc (SmoothQuant), input columns of the FFN's output projection
     * kept in float (outlier channels, LLM.int8), and rounding that
     * compensates its own error on those activations (GPTQ).  Without
     * images the first two use the weights alone.  A failing calib_image
     * fails the call with its status. */
    int n_calib;
    pe_status (*calib_image)(void *user, int index, pe_image *img);
    /* Non-zero: plain per-channel rounding (no smoothing, no float
     * columns, no error compensation), for comparison. */
    int plain;
    /* Methods left out (PE_QUANT_NO_*), to measure what each buys. */
    unsigned without;
    /* When not NULL, filled with the quality report (needs calibration
     * images for the measured figures; n_images 0 otherwise). */
    pe_quant_report *report;
} pe_quantize_options;

/* Writes a copy of the model at in_path (any file pe_model_load reads) with
 * its linear weights as opt chooses, stored in the kernels' layouts so
 * pe_model_load maps them without copying.  Patch and position embeddings,
 * class token and token embedding become F16 (BF16 for bf16); norms, biases
 * and other vectors stay F32.  Rule patterns and keep match the names of
 * in_path.  The file records the format version, base type, architecture,
 * heads, the SHA-256 of the source, and each packed tensor's type and shape
 * ("pecore.packed.NAME" = "TYPE 2 N K [t]").  q8 and q4 models run int8
 * kernels with each activation row quantized on the fly, and their vision
 * attention in int8 as well. */
PE_API pe_status pe_quantize(const char *in_path, const char *out_path,
                             const pe_quantize_options *opt);

/* What a file says about itself: the value of key in its safetensors
 * "__metadata__" (e.g. "pecore_type", "pecore_quant_method"), or NULL when
 * it has no such key (a .pt checkpoint has none).  Valid while m lives.
 * The bytes come from the file: escape them before showing them. */
PE_API const char *pe_model_meta(const pe_model *m, const char *key);

/* The quality report pe_quantize stored with a file it wrote from
 * calibration images (metadata "pecore_quant_report"), read back with the
 * library's strict JSON reader into *out: PE_ERR_NOT_FOUND when the file
 * has none, PE_ERR_FORMAT when it is malformed (a field missing, of the
 * wrong type, out of range or too long for its array).  The names and
 * actions are the file's text, untrusted like pe_model_meta's. */
PE_API pe_status pe_model_quant_report(const pe_model *m, pe_quant_report *out);

/* ---------------------------------------------------------------- classification: zero-shot, prototypes, galleries */

/* Three ways to name what an image embedding shows, all on L2-normalised
 * embeddings and cosine similarity:
 *   - zero-shot / prototypes (pe_protos): one embedding per class — built
 *     from text prompts with the text tower, or from anything the app has
 *     (e.g. the mean of some image embeddings).  Scores are the softmax over
 *     classes of logit_scale * cosine; a class may carry a cosine threshold
 *     below which the answer is "unknown".
 *   - k nearest neighbours (pe_gallery): labelled reference embeddings; the
 *     k nearest vote, each weighted by its similarity.
 * Labels are UTF-8, 1..PE_LABEL_MAX-1 bytes, no control characters.  A label
 * "coarse/fine" (split at the first '/') also gives the coarse level: the sum
 * of the fine probabilities (prototypes) or of the vote shares (KNN).
 *
 * Both can be saved to versioned, checksummed binary files that record the
 * model they were made with (architecture, embedding size, fingerprint).
 * Loading checks every size and the CRC-32; pe_protos_check_model and
 * pe_gallery_check_model refuse a file made with another model.  Saving is
 * atomic: a temporary file beside the target, fsync, rename — an
 * interrupted save leaves the previous file as it was. */

#define PE_LABEL_MAX 256          /* bytes of a label, NUL included         */
#define PE_CLASSIFY_MAX_TOP 64    /* entries of each list in a result       */
#define PE_TEMPLATE_DEFAULT "a photo of a {}."

typedef struct pe_protos pe_protos;
typedef struct pe_gallery pe_gallery;

typedef enum pe_metric {
    PE_METRIC_COSINE = 0,     /* rank by cosine similarity                   */
    PE_METRIC_L2 = 1          /* rank by Euclidean distance of the unit vectors */
} pe_metric;

typedef struct pe_label_score {
    const char *label;        /* owned by the pe_protos / pe_gallery: valid
                                 until it is changed or freed               */
    int index;                /* class (or coarse class) index               */
    float score;              /* probability in [0, 1]; KNN: vote share      */
    float logit;              /* logit_scale * cosine; KNN: summed vote
                                 weight; coarse level: log of the score      */
} pe_label_score;

typedef struct pe_neighbor {
    const char *label;        /* owned by the gallery, as above              */
    const char *source;       /* what the entry was made from ("" if unknown) */
    int entry;                /* index in the gallery                        */
    float similarity;         /* cosine similarity                           */
    float distance;           /* Euclidean distance of the unit vectors      */
} pe_neighbor;

typedef struct pe_classification {
    int n_top;                /* classes in top[], best first                */
    pe_label_score top[PE_CLASSIFY_MAX_TOP];
    int unknown;              /* 1: the best class is below its threshold    */
    int n_coarse;             /* 0 unless some label is "coarse/fine"        */
    pe_label_score coarse[PE_CLASSIFY_MAX_TOP];
    int n_neighbors;          /* KNN only: the k nearest, nearest first      */
    pe_neighbor neighbors[PE_CLASSIFY_MAX_TOP];
} pe_classification;

/* Model identity recorded in prototype packs and galleries. */
typedef struct pe_model_identity {
    char arch[48];
    int dim;                  /* embedding size                              */
    uint64_t fingerprint;     /* pe_model_info.fingerprint                   */
} pe_model_identity;

/* One class embedding from text, the CLIP way: each template with "{}"
 * replaced by the label (for "coarse/fine" by the fine part; a template
 * without "{}" gets the label appended after a space) is tokenized and
 * encoded, each embedding L2-normalised, the mean taken and renormalised.
 * templates may be NULL (n_templates 0): PE_TEMPLATE_DEFAULT.
 * out receives text_out_dim floats. */
PE_API pe_status pe_text_class_embedding(pe_ctx *c, const pe_tokenizer *t, const char *label,
                                         const char *const *templates, int n_templates,
                                         float *out, size_t out_len);

/* An empty set of class embeddings of the model's embedding size, with the
 * model's identity and logit scale (100 when the file has none). */
PE_API pe_status pe_protos_create(const pe_model *m, pe_protos **out);
/* Adds a class: emb (dim floats) is L2-normalised and stored.  threshold is
 * the cosine below which the class is "unknown"; pass PE_NO_THRESHOLD (-1)
 * for none.  Duplicate labels are refused. */
#define PE_NO_THRESHOLD (-1.0f)
PE_API pe_status pe_protos_add(pe_protos *p, const char *label, const float *emb, int dim,
                               float threshold);
/* Adds one class per label, each from pe_text_class_embedding.  The context
 * must belong to the model p was created for (same identity). */
PE_API pe_status pe_protos_add_text(pe_protos *p, pe_ctx *c, const pe_tokenizer *t,
                                    const char *const *labels, int n_labels,
                                    const char *const *templates, int n_templates);
PE_API pe_status pe_protos_set_threshold(pe_protos *p, const char *label, float threshold);
PE_API int pe_protos_count(const pe_protos *p);
PE_API const char *pe_protos_label(const pe_protos *p, int i);    /* NULL if out of range */
PE_API float pe_protos_threshold(const pe_protos *p, int i);
/* The unit-length class embedding i (dim floats), NULL if out of range. */
PE_API const float *pe_protos_embedding(const pe_protos *p, int i);
PE_API pe_status pe_protos_identity(const pe_protos *p, pe_model_identity *id);
PE_API pe_status pe_protos_save(const pe_protos *p, const char *path);
PE_API pe_status pe_protos_load(const char *path, pe_protos **out);
/* PE_ERR_UNSUPPORTED with a message naming both models when p was made with
 * another model than m. */
PE_API pe_status pe_protos_check_model(const pe_protos *p, const pe_model *m);
PE_API void pe_protos_free(pe_protos *p);
/* Classifies one image embedding (dim floats, need not be normalised):
 * top_k best classes (1..PE_CLASSIFY_MAX_TOP, clamped to the class count). */
PE_API pe_status pe_protos_classify(const pe_protos *p, const float *emb, int dim, int top_k,
                                    pe_classification *out);

/* Galleries: labelled reference embeddings for KNN. */
PE_API pe_status pe_gallery_create(const pe_model *m, pe_gallery **out);
/* Adds one entry; emb is L2-normalised.  source names what it was made
 * from (a file name; may be NULL). */
PE_API pe_status pe_gallery_add(pe_gallery *g, const char *label, const char *source,
                                const float *emb, int dim);
/* Removes every entry of label; *removed (may be NULL) receives how many.
 * PE_ERR_NOT_FOUND when there is none. */
PE_API pe_status pe_gallery_remove(pe_gallery *g, const char *label, int *removed);
PE_API int pe_gallery_count(const pe_gallery *g);          /* entries          */
PE_API int pe_gallery_label_count(const pe_gallery *g);    /* distinct labels  */
PE_API const char *pe_gallery_label(const pe_gallery *g, int i);
/* Entry i: its label and source (either pointer may be NULL). */
PE_API pe_status pe_gallery_entry(const pe_gallery *g, int i, const char **label,
                                  const char **source);
PE_API pe_status pe_gallery_identity(const pe_gallery *g, pe_model_identity *id);
PE_API pe_status pe_gallery_save(const pe_gallery *g, const char *path);
PE_API pe_status pe_gallery_load(const char *path, pe_gallery **out);
PE_API pe_status pe_gallery_check_model(const pe_gallery *g, const pe_model *m);
PE_API void pe_gallery_free(pe_gallery *g);
/* KNN: the k nearest entries (1..PE_CLASSIFY_MAX_TOP) vote; a neighbour's
 * weight is (1 + cosine) / 2 for PE_METRIC_COSINE and 1 / (1e-6 + distance)
 * for PE_METRIC_L2.  top[] lists the voted labels by vote share (ties: the
 * label with the nearer neighbour first); neighbors[] the k nearest. */
PE_API pe_status pe_gallery_classify(const pe_gallery *g, const float *emb, int dim, int k,
                                     pe_metric metric, int top_k, pe_classification *out);

/* The tokenizer vocabulary stored inside a model file by pe_convert (U8
 * tensor "pecore.vocab_bpe_gz"); PE_ERR_NOT_FOUND when the file has none.
 * The CLI looks for the vocabulary in --vocab, $PECORE_VOCAB, then here. */
PE_API pe_status pe_tokenizer_load_model(const pe_model *m, pe_tokenizer **out);

/* ---------------------------------------------------------------- live streams: smoothing and the frame stream */

/* Temporal smoothing of per-frame class probabilities, usable on its own.
 * Time, not frame counts, drives it (frames drop):
 *   - the smoothed probabilities are an exponential moving average with
 *     time constant tau_ms: a result dt ms after the previous one moves the
 *     average by 1 - exp(-dt / tau_ms) towards the new probabilities;
 *   - the stable label changes only when another class leads it in the
 *     smoothed probabilities by at least switch_margin for min_dwell_ms in
 *     a row (the first update where it leads starts the clock; a different
 *     leader restarts it);
 *   - it becomes "unknown" (-1) when its smoothed probability stays below
 *     unknown_enter for min_dwell_ms, and leaves unknown as soon as the
 *     best class rises above unknown_leave (>= unknown_enter: hysteresis);
 *   - the first update, one after pe_smoother_reset, and a scene cut (the
 *     cosine between consecutive embeddings below scene_cut_cosine) start
 *     the average from the frame's probabilities and let the stable label
 *     follow without the dwell: the best class, or unknown when unknown is
 *     enabled and no class is above unknown_leave. */
typedef struct pe_smoother_options {
    float tau_ms;            /* 0 = 300 ms                                   */
    float switch_margin;     /* 0 = 0.10                                     */
    float min_dwell_ms;      /* 0 = 200 ms                                   */
    float unknown_enter;     /* 0 = never unknown                            */
    float unknown_leave;     /* 0 = unknown_enter + 0.1                      */
    float scene_cut_cosine;  /* 0 = 0.75; negative = no scene cuts           */
} pe_smoother_options;

typedef struct pe_smoother pe_smoother;

typedef struct pe_smoothed {
    const float *probs;      /* [n_classes] smoothed; owned by the smoother,
                                valid until its next update                  */
    int stable;              /* class index of the stable label, -1 unknown  */
    float stable_prob;       /* its smoothed probability (0 when unknown)    */
    int changed;             /* 1: stable differs from the previous update   */
    int scene_cut;           /* 1: this update restarted the average         */
} pe_smoothed;

PE_API pe_status pe_smoother_create(int n_classes, const pe_smoother_options *opt,
                                    pe_smoother **out);
PE_API void pe_smoother_free(pe_smoother *s);
PE_API void pe_smoother_reset(pe_smoother *s);
/* One result at time t_ms (non-decreasing): probs [n_classes], each in
 * [0, 1]; emb (dim floats, may be NULL) feeds the scene-cut test.  Nothing
 * is allocated after the first embedding of a size. */
PE_API pe_status pe_smoother_update(pe_smoother *s, double t_ms, const float *probs,
                                    int n_classes, const float *emb, int dim,
                                    pe_smoothed *out);

/* A live stream: the app pushes camera frames from its callback and gets
 * results through another.  pe_stream_push copies the frame (only the bytes
 * its planes use) into a small ring and returns at once; when the worker is
 * busy the newest frame wins and older waiting ones are dropped (counted),
 * as CameraX's KEEP_ONLY_LATEST: the worker always takes the newest frame.
 * One worker thread (with its own context and pool) encodes, classifies
 * (prototypes / zero-shot labels, or a gallery's k nearest) and smooths,
 * then calls on_result on that thread.  Results come in push order.  After
 * each ring slot has held the largest frame size nothing is allocated per
 * frame by the ring.
 *
 * Threads: push may be called from any thread (concurrent pushes take
 * turns); on_result runs on the worker and may call pe_stream_stats_get but
 * not push, flush or free of its own stream.  free must not race a push. */
typedef struct pe_stream pe_stream;

typedef struct pe_stream_result {
    int64_t frame;           /* index of the frame among those pushed       */
    double t_ms;             /* the timestamp it was pushed with             */
    double latency_ms;       /* from push to this result                     */
    const pe_classification *scores;  /* this frame's own scores             */
    int n_classes;
    const float *smoothed;   /* [n_classes] by class index                   */
    int stable;              /* class index, -1 unknown                      */
    const char *stable_label; /* NULL when unknown                           */
    int changed, scene_cut;  /* as pe_smoothed                               */
    const float *embedding;  /* [dim] this frame's, not normalised           */
    int dim;
} pe_stream_result;          /* valid during the callback only               */

typedef void (*pe_stream_callback)(void *user, const pe_stream_result *r);

typedef struct pe_stream_stats {
    int64_t frames_in, processed, dropped;
    int64_t failed;            /* encode/classify errors (pe_stream_flush
                                  reports the first); frames_in = processed
                                  + dropped + failed once flushed            */
    double latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms;
                               /* push to result, from a log histogram of
                                  every result (within 1%; max exact)        */
    double cpu_ms_per_result;  /* CPU time of the whole process (all its
                                  threads) from the first push to the last
                                  result, per result                         */
    double fps;                /* results per second, first push to last
                                  result                                     */
} pe_stream_stats;

typedef struct pe_stream_options {
    int n_threads;           /* of the encoding context; 0 = one per fast core */
    int all_frames;          /* non-zero: drop nothing, push waits for room
                                (offline video)                              */
    int ring;                /* frames waiting at most, 1..64; 0 = 1 (more
                                matters only with all_frames)                */
    pe_preprocess pp;        /* zeroed = the model's native size             */
    int top_k;               /* entries of scores->top; 0 = 5                */
    int k;                   /* gallery neighbours; 0 = 5                    */
    pe_metric metric;
    pe_smoother_options smooth;
    pe_stream_callback on_result;   /* may be NULL (stats only)              */
    void *user;
    pe_compute compute;      /* of the encoding context (pe_ctx_options)     */
} pe_stream_options;

/* Exactly one of protos and gallery is non-NULL; it must belong to m,
 * outlive the stream and stay unchanged while it runs.  The model needs a
 * pooling head.  The classes (of smoothed[] and stable) are the pack's, at
 * most PE_CLASSIFY_MAX_TOP, or the gallery's distinct labels, by index. */
PE_API pe_status pe_stream_create(const pe_model *m, const pe_protos *protos,
                                  const pe_gallery *gallery, const pe_stream_options *opt,
                                  pe_stream **out);
/* Copies f (checked as pe_frame_check; a bad frame is refused here) and
 * returns; t_ms is its timestamp for the smoother (non-decreasing).  With
 * all_frames it first waits while ring frames are waiting. */
PE_API pe_status pe_stream_push(pe_stream *s, const pe_frame *f, double t_ms);
/* Waits until every frame pushed before the call is processed or dropped;
 * returns the first encode/classify error of the worker since the last
 * flush, with its message. */
PE_API pe_status pe_stream_flush(pe_stream *s);
PE_API pe_status pe_stream_stats_get(const pe_stream *s, pe_stream_stats *out);
/* Stops the worker after the frame in progress; waiting frames are dropped. */
PE_API void pe_stream_free(pe_stream *s);

/* ---------------------------------------------------------------- model files: conversion and integrity */

/* The flow of an app that downloads a model: check the new file against the
 * manifest that came with it (pe_verify_manifest) or load it with
 * pe_model_options.sha256_hex, and keep the bundled model when it fails. */

/* SHA-256 of a file: 64 lowercase hex digits and a NUL in hex[65]. */
PE_API pe_status pe_file_sha256(const char *path, char hex[65]);

/* Checks a file against a JSON manifest
 *   {"models": [{"name": "pe-core-t16-384.pt", "version": "1",
 *                "size": 12301059, "sha256": "<64 hex>"}, ...]}
 * using the entry called name (NULL: the file's base name).  The size is
 * compared first, then the SHA-256: PE_ERR_CHECKSUM when either differs,
 * PE_ERR_NOT_FOUND when no entry has that name.  version (may be NULL)
 * receives the entry's version. */
PE_API pe_status pe_verify_manifest(const char *path, const char *manifest, const char *name,
                                    char *version, size_t version_cap);

/* Converts a model file (.pt or safetensors) into safetensors: the tensors
 * pe_model_load sees (wrappers and "module." removed, views copied), and
 * __metadata__ with format "pt", pecore.arch, vision_heads,
 * attn_pooler_heads, text_heads (CLIP files) and pecore.source_sha256.
 * With vocab_path, the gzip bytes of the BPE vocabulary are stored as the
 * U8 tensor "pecore.vocab_bpe_gz" (pe_tokenizer_load_mem reads them).
 * opt is as for pe_model_load (heads of a .pt outside the known table,
 * expected checksum of the input); the output is written atomically. */
PE_API pe_status pe_convert(const char *in, const char *out, const pe_model_options *opt,
                            const char *vocab_path, pe_progress_fn progress, void *user);

#ifdef __cplusplus
}
#endif
#endif /* PECORE_H */
