/* Small helpers shared by the pecore subcommands: strict argument parsing,
 * error reporting, progress lines. */
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

/* Progress line on stderr when it is a terminal ("\r<stage> 42%"). */
void cli_progress(void *user, const char *stage, double fraction);
void cli_progress_done(void);

#endif
