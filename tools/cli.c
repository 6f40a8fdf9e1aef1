#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("pecore: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_status(pe_status s, const char *what) {
    const char *msg = pe_last_error();
    return cli_fail("%s: %s", what, *msg ? msg : pe_status_string(s));
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, int *h, int *w) {
    long a, b;
    const char *x = s ? strchr(s, 'x') : NULL;
    if (!x) {
        if (cli_parse_int(s, 1, 16384, &a)) return -1;
        *h = *w = (int)a;
        return 0;
    }
    char buf[32];
    size_t n = (size_t)(x - s);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (cli_parse_int(buf, 1, 16384, &a) || cli_parse_int(x + 1, 1, 16384, &b)) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

static int g_progress_shown;

void cli_progress(void *user, const char *stage, double fraction) {
    (void)user;
    if (!isatty(STDERR_FILENO)) return;
    fprintf(stderr, "\r%-24s %3d%%", stage, (int)(fraction * 100 + 0.5));
    fflush(stderr);
    g_progress_shown = 1;
}

void cli_progress_done(void) {
    if (g_progress_shown) fputs("\r\033[K", stderr);
    g_progress_shown = 0;
}
