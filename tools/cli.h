/* Small helpers shared by the pecore subcommands: strict argument parsing,
 * error reporting, progress lines. */
#ifndef PE_CLI_H
#define PE_CLI_H

#include "frames.h"
#include "pecore.h"

#include <stdio.h>

/* Prints "pecore: <message>" to stderr; returns 1 (the exit code). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "pecore: <what>: <pe_last_error()>"; returns 1. */
int cli_fail_status(pe_status s, const char *what);

/* Strict integer parse: whole string, base 10, within [lo, hi]. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* "S" or "HxW". */
int cli_parse_size(const char *s, int *h, int *w);

/* Options shared by the subcommands. */
#define MAX_INPUTS 4096

typedef struct opts {
    const char *model, *out, *raw, *arch, *crop, *dtype;
    const char *transform;  /* --transform pe|dinov2-eval; NULL: the model's */
    const char *kind;       /* embed --output embedding|tokens|linear4 (--tokens) */
    const char *frames, *rgb_out;   /* --frames FILE, --rgb-out PNG */
    cli_frames fr;                  /* the frame options (frames.h) */
    const char *inputs[MAX_INPUTS];   /* positional arguments */
    int n_inputs;
    int height, width;      /* --size; 0: model's native size */
    int json, vision_only;
    long threads, seed, runs, warmup;
    long batch;             /* --batch: images per pass; 0: the library's default */
} opts;

/* Walks argv: positional arguments go to inputs; each option must be in
 * `allowed` (" -m --json ", spaces around each); those in `flags` take no
 * value. take(user, option, value) stores one (value NULL for a flag) and
 * returns non-zero after printing an error. Returns 0, or 1 on an error. */
typedef int (*cli_take_fn)(void *user, const char *option, const char *value);
int cli_scan(int argc, char **argv, const char *allowed, const char *flags, const char **inputs,
             int *n_inputs, cli_take_fn take, void *user);

/* Parses argv; `allowed` lists the options the command accepts, as
 * " -m --model -o " (spaces around each), so a misplaced option is an error. */
int cli_parse(int argc, char **argv, const char *allowed, opts *o);
/* -h or --help anywhere. */
int cli_wants_help(int argc, char **argv);
/* The image transform of the command line: transform (--transform), else
 * the model's own (in may be NULL: PE's), at height x width (--size; 0:
 * the transform's size, the native one for PE), with crop if not NULL. */
void cli_preprocess(const char *transform, int height, int width, const char *crop,
                    const pe_model_info *in, pe_preprocess *pp);
/* What the reference resizes a decoded image with: the transform's filter,
 * but PIL's NEAREST for palette / 1-bit images (image_io.h). */
void cli_image_filter(pe_preprocess *pp, pe_resample image_resample);
/* --output / --tokens, else the model's natural output (embedding when it
 * has one, else tokens). */
pe_output cli_output_kind(const opts *o, const pe_model_info *in);

/* pe_model_load with a one-line error; 0 on success.  vision_only skips the
 * text tower (commands that only embed images). */
int cli_load_model(const char *path, int vision_only, pe_model **m);
/* Writes float32 .npy; 0 on success, else prints the error and returns 1. */
int cli_write_npy(const char *path, const float *data, int rank, const int64_t *shape);

/* A JSON string of s on stdout: quotes, backslashes and control characters
 * (C0 and C1) escaped, bytes that are not UTF-8 as U+FFFD. */
void cli_json_str(const char *s);
/* s for a terminal: printable ASCII and UTF-8 (no C1 controls) as they
 * are, every other byte as \xNN (labels and names come from files). */
void cli_print_safe(FILE *f, const char *s);

/* Progress line on stderr when it is a terminal ("\r<stage> 42%"). */
void cli_progress(void *user, const char *stage, double fraction);
void cli_progress_done(void);

/* Subcommands living in their own files. */
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);   /* tools/cmd_classify.c */
int cmd_text(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_prototypes(int argc, char **argv);
int cmd_gallery(int argc, char **argv);
int cmd_quantize(int argc, char **argv);   /* tools/cmd_quant.c */
int cmd_compare(int argc, char **argv);
int cmd_convert(int argc, char **argv);    /* tools/cmd_model.c */
int cmd_verify(int argc, char **argv);
int cmd_stream(int argc, char **argv);     /* tools/cmd_stream.c */

#endif
