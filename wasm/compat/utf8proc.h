/* Stand-in for <utf8proc.h> in the WebAssembly builds (make wasm, make web).
 *
 * No Debian binary package ships utf8proc's C source (libutf8proc-dev has
 * the header and the native library only) and emscripten's ports download
 * at build time.  So these builds answer the names src/text/tokenizer.c
 * uses from tables generated from the native libutf8proc
 * (wasm/utf8proc_tables.c, make unicode-tables), checked against it code
 * point by code point.  Only those names are declared; the values are
 * utf8proc's own, so the check compiles the same code against the real
 * header. */
#ifndef PE_WASM_UTF8PROC_H
#define PE_WASM_UTF8PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef int32_t utf8proc_int32_t;
typedef uint8_t utf8proc_uint8_t;
typedef ssize_t utf8proc_ssize_t;

typedef enum {
    UTF8PROC_CATEGORY_CN = 0,
    UTF8PROC_CATEGORY_LU, UTF8PROC_CATEGORY_LL, UTF8PROC_CATEGORY_LT,
    UTF8PROC_CATEGORY_LM, UTF8PROC_CATEGORY_LO,
    UTF8PROC_CATEGORY_MN, UTF8PROC_CATEGORY_MC, UTF8PROC_CATEGORY_ME,
    UTF8PROC_CATEGORY_ND, UTF8PROC_CATEGORY_NL, UTF8PROC_CATEGORY_NO,
    UTF8PROC_CATEGORY_PC, UTF8PROC_CATEGORY_PD, UTF8PROC_CATEGORY_PS,
    UTF8PROC_CATEGORY_PE, UTF8PROC_CATEGORY_PI, UTF8PROC_CATEGORY_PF,
    UTF8PROC_CATEGORY_PO, UTF8PROC_CATEGORY_SM, UTF8PROC_CATEGORY_SC,
    UTF8PROC_CATEGORY_SK, UTF8PROC_CATEGORY_SO, UTF8PROC_CATEGORY_ZS,
    UTF8PROC_CATEGORY_ZL, UTF8PROC_CATEGORY_ZP, UTF8PROC_CATEGORY_CC,
    UTF8PROC_CATEGORY_CF, UTF8PROC_CATEGORY_CS, UTF8PROC_CATEGORY_CO
} utf8proc_category_t;

typedef enum {
    UTF8PROC_NULLTERM = 1 << 0,
    UTF8PROC_STABLE = 1 << 1,
    UTF8PROC_COMPAT = 1 << 2,
    UTF8PROC_COMPOSE = 1 << 3
} utf8proc_option_t;

utf8proc_category_t utf8proc_category(utf8proc_int32_t c);
utf8proc_int32_t utf8proc_tolower(utf8proc_int32_t c);
utf8proc_int32_t utf8proc_toupper(utf8proc_int32_t c);
utf8proc_ssize_t utf8proc_map(const utf8proc_uint8_t *str, utf8proc_ssize_t strlen,
                              utf8proc_uint8_t **dstptr, utf8proc_option_t options);

#endif
