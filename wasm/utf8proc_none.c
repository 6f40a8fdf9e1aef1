/* The utf8proc functions of compat/utf8proc.h for the WebAssembly build:
 * the tokenizer refuses to start without Unicode tables (PE_NO_UTF8PROC),
 * so these are unreachable; if that ever changes they stop the program with
 * a message rather than answer wrongly. */
#include <stdio.h>
#include <stdlib.h>

#include <utf8proc.h>

static _Noreturn void no_tables(const char *fn) {
    fprintf(stderr, "pecore: %s: this WebAssembly build has no Unicode tables (utf8proc)\n", fn);
    abort();
}

utf8proc_category_t utf8proc_category(utf8proc_int32_t c) {
    (void)c;
    no_tables("utf8proc_category");
}

utf8proc_int32_t utf8proc_tolower(utf8proc_int32_t c) {
    (void)c;
    no_tables("utf8proc_tolower");
}

utf8proc_int32_t utf8proc_toupper(utf8proc_int32_t c) {
    (void)c;
    no_tables("utf8proc_toupper");
}

utf8proc_ssize_t utf8proc_map(const utf8proc_uint8_t *str, utf8proc_ssize_t strlen,
                              utf8proc_uint8_t **dstptr, utf8proc_option_t options) {
    (void)str, (void)strlen, (void)dstptr, (void)options;
    no_tables("utf8proc_map");
}
