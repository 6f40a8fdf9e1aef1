/* Internal entry points of the CLIP tokenizer, for tests and tools. */
#ifndef PE_TEXT_TOKENIZER_H
#define PE_TEXT_TOKENIZER_H

#include "../common.h"

/* Largest text pe_tokenize accepts, in bytes (PE_ERR_LIMIT beyond). */
#define PE_TOKENIZER_MAX_TEXT (1u << 20)

/* The cleaning the reference applies before splitting: ftfy.fix_text,
 * html.unescape twice, whitespace collapsed and stripped, lower-cased.
 * text is UTF-8 (bad bytes become U+FFFD); *out is NUL-terminated UTF-8 to
 * be released with free(). */
pe_status pe_text_clean(const char *text, size_t len, char **out, size_t *out_len);

#endif
