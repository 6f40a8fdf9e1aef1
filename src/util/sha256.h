/* SHA-256 (FIPS 180-4), for model integrity checks without a crypto library. */
#ifndef PE_SHA256_H
#define PE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct pe_sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
} pe_sha256_ctx;

void pe_sha256_init(pe_sha256_ctx *c);
void pe_sha256_update(pe_sha256_ctx *c, const void *data, size_t len);
void pe_sha256_final(pe_sha256_ctx *c, uint8_t out[32]);
/* One shot. */
void pe_sha256(const void *data, size_t len, uint8_t out[32]);
/* 64 lowercase hex digits + NUL. */
void pe_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Parses 64 hex digits (either case) into a digest; 0 on success. */
int pe_sha256_parse(const char *hex, uint8_t digest[32]);

#endif
