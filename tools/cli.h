/* Small helpers shared by the pecore commands: error lines, strict number
 * parsing, progress lines, terminal- and JSON-safe text, loading a model,
 * writing .npy, the image transform of a command line.  Option parsing is
 * apart (options.h), above these and the frame options (frames.h). */
#ifndef PE_CLI_H
#define PE_CLI_H

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

/* The image transform of the command line: transform (--transform), else
 * the model's own (in may be NULL: PE's), at height x width (--size; 0:
 * the transform's size, the native one for PE), with crop if not NULL. */
void cli_preprocess(const char *transform, int height, int width, const char *crop,
                    const pe_model_info *in, pe_preprocess *pp);
/* What the reference resizes a decoded image with: the transform's filter,
 * but PIL's NEAREST for palette / 1-bit images (image_io.h). */
void cli_image_filter(pe_preprocess *pp, pe_resample image_resample);
/* Decodes each of n image files and preprocesses it with pp (and its own
 * filter, cli_image_filter) into x + i * 3 * H * W; 0, or 1 after an error
 * line naming the file. */
int cli_load_images(const char *const *paths, int n, const pe_preprocess *pp, float *x);

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

#endif
