/* A small, strict JSON reader (RFC 8259) for safetensors headers, manifests
 * and pecore's own files.  Input is untrusted: nesting depth, sizes and
 * escapes are checked; nothing is assumed to be NUL-terminated. */
#ifndef PE_JSON_H
#define PE_JSON_H

#include "../common.h"

typedef enum pe_json_type {
    PE_JSON_NULL, PE_JSON_BOOL, PE_JSON_NUMBER, PE_JSON_STRING,
    PE_JSON_ARRAY, PE_JSON_OBJECT
} pe_json_type;

typedef struct pe_json pe_json;
struct pe_json {
    pe_json_type type;
    int boolean;            /* BOOL */
    double number;          /* NUMBER */
    const char *raw;        /* NUMBER: its text (for exact integers); STRING:
                               the decoded UTF-8 (NUL-terminated, may hold NUL) */
    size_t len;             /* STRING: decoded length; NUMBER: text length */
    size_t n;               /* ARRAY / OBJECT: element count */
    pe_json *items;         /* ARRAY / OBJECT: elements (values) */
    pe_json *keys;          /* OBJECT: keys (STRING nodes), parallel to items */
};

#define PE_JSON_MAX_DEPTH 64

/* Parses text[0:len] (whole input must be one value plus whitespace).
 * On success *out owns all memory; free with pe_json_free. */
pe_status pe_json_parse(const char *text, size_t len, pe_json **out);
void pe_json_free(pe_json *j);

/* Object member by key, or NULL (also NULL if obj is not an object). */
const pe_json *pe_json_get(const pe_json *obj, const char *key);
/* A NUMBER that is a non-negative integer written without fraction/exponent
 * and fits in uint64_t. */
bool pe_json_u64(const pe_json *j, uint64_t *out);
/* A NUMBER that is an integer in int64 range. */
bool pe_json_i64(const pe_json *j, int64_t *out);

#endif
