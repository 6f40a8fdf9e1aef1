/* Field accessors for the golden manifests, shared by the library's and the
 * CLI's golden tests. */
#ifndef PE_TEST_GOLDEN_H
#define PE_TEST_GOLDEN_H

#include "util/json.h"

/* key's string value, NULL when absent or not a string */
static inline const char *jstr(const pe_json *o, const char *key) {
    const pe_json *v = pe_json_get(o, key);
    return v && v->type == PE_JSON_STRING ? v->raw : NULL;
}

/* key's number, dflt when absent or not a number */
static inline double jnum(const pe_json *o, const char *key, double dflt) {
    const pe_json *v = pe_json_get(o, key);
    return v && v->type == PE_JSON_NUMBER ? v->number : dflt;
}

#endif
