/* Option parsing of the pecore commands: a strict argv walk (cli_scan) that
 * every command shares, and the options of the commands that take the
 * common set (opts: info, embed, preprocess, synth, bench).  Commands with
 * options of their own (classify, stream, quantize ...) pass cli_scan their
 * own take function. */
#ifndef PE_TOOLS_OPTIONS_H
#define PE_TOOLS_OPTIONS_H

#include "frames.h"
#include "pecore.h"

#define MAX_INPUTS 4096

/* Walks argv: positional arguments go to inputs; each option must be in
 * `allowed` (" -m --json ", spaces around each); those in `flags` take no
 * value. take(user, option, value) stores one (value NULL for a flag) and
 * returns non-zero after printing an error. Returns 0, or 1 on an error. */
typedef int (*cli_take_fn)(void *user, const char *option, const char *value);
int cli_scan(int argc, char **argv, const char *allowed, const char *flags, const char **inputs,
             int *n_inputs, cli_take_fn take, void *user);
/* -h or --help anywhere. */
int cli_wants_help(int argc, char **argv);
/* With -h or --help anywhere, prints usage on stdout and returns 1 (the
 * command then exits 0); else 0. */
int cli_help(int argc, char **argv, const char *usage);

/* The common options. */
typedef struct opts {
    const char *model, *out, *raw, *arch, *crop, *dtype;
    const char *transform;  /* --transform pe|dinov2-eval; NULL: the model's */
    const char *compute;    /* --compute f32|f16; NULL: f32 */
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

/* Parses argv; `allowed` lists the options the command accepts, as
 * " -m --model -o " (spaces around each), so a misplaced option is an error. */
int cli_parse(int argc, char **argv, const char *allowed, opts *o);
/* --output / --tokens, else the model's natural output (embedding when it
 * has one, else tokens). */
pe_output cli_output_kind(const opts *o, const pe_model_info *in);
/* Frame options without --frames are a mistake, not something to ignore:
 * 0, or 1 after an error line naming cmd. */
int cli_frames_unused(const opts *o, const char *cmd);
/* The precision of --compute f32|f16 (NULL: f32), for pe_ctx_options. */
pe_compute cli_compute(const char *v);
/* The usage line of --compute, for every command that runs a model. */
#define CLI_COMPUTE_HELP                                                                     \
    "--compute f16: block linears and attention in half precision (ARMv8.2 FP16 CPUs;\n" \
    "elsewhere an error), f32 (default): float32 throughout.\n"

#endif
