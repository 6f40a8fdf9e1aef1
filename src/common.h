/* Internal helpers shared by every part of the library: error reporting,
 * overflow-checked arithmetic, half-precision conversion. */
#ifndef PE_COMMON_H
#define PE_COMMON_H

#include "pecore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PE_PRINTF(a, b)
#endif

/* Records a message for pe_last_error() and returns s, so that error paths read
 * `return pe_error(PE_ERR_FORMAT, "tensor %s: ...", name);` */
pe_status pe_error(pe_status s, const char *fmt, ...) PE_PRINTF(2, 3);
/* Prefixes the current message with "context: ". Returns s. */
pe_status pe_error_prefix(pe_status s, const char *fmt, ...) PE_PRINTF(2, 3);
void pe_error_clear(void);

/* Overflow-checked size arithmetic: false on overflow (out untouched). */
static inline bool pe_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool pe_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool pe_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* IEEE binary16 and bfloat16 <-> float32 (round to nearest even). */
float pe_f16_to_f32(uint16_t h);
uint16_t pe_f32_to_f16(float f);
static inline float pe_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}
uint16_t pe_f32_to_bf16(float f);

/* malloc that records PE_ERR_NOMEM on failure; 64-byte aligned. */
void *pe_alloc(size_t bytes);
void *pe_calloc(size_t n, size_t size);
void pe_free(void *p);

#define PE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PE_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
