/* The model fingerprint (pe_model_info.fingerprint): what ties a gallery
 * or a prototype pack to the model that made its embeddings (classify
 * compares it), so it must not change for the same file across versions. */
#include "model.h"

#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* v as `bytes` little-endian bytes at p. */
static void put_le(uint8_t *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Names, dtypes and shapes of every tensor plus 32 bytes at the start,
 * middle and end of each: a few pages touched, yet two checkpoints of the
 * same architecture (or a fine-tune) get different fingerprints. */
uint64_t pe_model_fingerprint(const pe_model *m) {
    uint64_t h = 0xcbf29ce484222325ull;
    const pe_safetensors *st = &m->st;
    for (int i = 0; i < st->n_tensors; i++) {
        const pe_st_tensor *t = &st->tensors[i];
        uint8_t meta[8 + 8 * PE_ST_MAX_RANK]; /* dtype u32, rank u32, shape u64 [PE_ST_MAX_RANK] */
        memset(meta, 0, sizeof meta);
        put_le(meta, (uint32_t)t->dtype, 4);
        put_le(meta + 4, (uint32_t)t->rank, 4);
        for (int d = 0; d < t->rank && d < PE_ST_MAX_RANK; d++)
            put_le(meta + 8 + 8 * d, (uint64_t)t->shape[d], 8);
        h = fnv(h, t->name, strlen(t->name) + 1);
        h = fnv(h, meta, sizeof meta);
        if (!t->data || !t->nbytes) continue;
        const uint8_t *d = t->data;
        size_t n = (size_t)t->nbytes, k = PE_MIN(n, (size_t)32);
        h = fnv(h, d, k);
        h = fnv(h, d + (n - k) / 2, k);
        h = fnv(h, d + n - k, k);
    }
    return h;
}
