/* The weights of fp16 compute (f16.h, pe_ctx_options.compute): the patch
 * embedding (K = 3 P^2, pixels within a few units), the attention pooling's
 * kv and every block linear of the towers get f16 panels once per model,
 * when the first f16 context is created, so a model only ever run in
 * float32 pays nothing.
 * An f16 linear is used as stored; an f32 or bf16 one is converted into
 * one arena (half the bytes of the float32 panels), freed with the model.
 * A linear stays in its own precision (w16 NULL) when it is q8/q4, when K
 * is above PE_F16_KMAX, or when a weight is beyond the half range (65504)
 * or not finite: rounding it would change the model, not its precision. */
#include "f16_weights.h"

#include "../kernels/f16.h"
#include "../kernels/quant.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t f16_lock = PTHREAD_MUTEX_INITIALIZER;

/* The weight as float, element i of its packed panels (same index in both). */
static float weight_at(const pe_linear *l, size_t i) {
    if (l->wtype == PE_WT_BF16) return pe_bf16_to_f32(((const uint16_t *)l->w)[i]);
    return ((const float *)l->w)[i];
}

/* Half panels of l's bytes if it converts (0: it stays as it is, or is f16). */
static size_t convert_bytes(const pe_linear *l) {
    if (!l->n || (l->wtype != PE_WT_F32 && l->wtype != PE_WT_BF16) || l->k > PE_F16_KMAX) return 0;
    const size_t count = pe_qpack_bytes(PE_WT_F16, l->n, l->k) / sizeof(uint16_t);
    for (size_t i = 0; i < count; i++)
        if (!(fabsf(weight_at(l, i)) <= 65504.0f)) return 0;
    return (count * sizeof(uint16_t) + 63) & ~(size_t)63;
}

/* Visits the linears over all of an image's tokens: the patch embedding,
 * the pooling's kv and the block linears of both towers: fn(l, arg). */
static void each_linear(pe_model *m, void (*fn)(pe_linear *, void *), void *arg) {
    fn(&m->patch, arg);
    fn(&m->pool_kv, arg); /* the pooling's keys and values, over all tokens */
    pe_tower *towers[2] = {&m->vis, &m->txt};
    for (int t = 0; t < 2; t++)
        for (int i = 0; towers[t]->blocks && i < towers[t]->layers; i++) {
            pe_block *b = &towers[t]->blocks[i];
            pe_linear *ls[5] = {&b->qkv, &b->out, &b->fc, &b->fc_up, &b->proj};
            for (int j = 0; j < 5; j++) fn(ls[j], arg);
        }
}

static void add_bytes(pe_linear *l, void *arg) { *(size_t *)arg += convert_bytes(l); }

/* Fills w16 of each linear, converting into the arena at *arg. */
static void bind_w16(pe_linear *l, void *arg) {
    uint8_t **at = arg;
    if (l->n && l->wtype == PE_WT_F16 && l->k <= PE_F16_KMAX) l->w16 = l->w;
    const size_t bytes = convert_bytes(l);
    if (!bytes) return;
    uint16_t *dst = (uint16_t *)*at;
    const size_t count = pe_qpack_bytes(PE_WT_F16, l->n, l->k) / sizeof(uint16_t);
    for (size_t i = 0; i < count; i++) dst[i] = pe_f32_to_f16(weight_at(l, i));
    l->w16 = dst;
    *at += bytes;
}

pe_status pe_model_f16_prepare(const pe_model *cm) {
    pe_model *m = (pe_model *)cm; /* the once-per-model cache, under the lock */
    pe_status s = PE_OK;
    pthread_mutex_lock(&f16_lock);
    if (!m->f16_ready) {
        size_t bytes = 0;
        each_linear(m, add_bytes, &bytes);
        uint8_t *arena = bytes ? pe_alloc(bytes) : NULL;
        if (bytes && !arena) s = PE_ERR_NOMEM;
        else {
            m->f16_arena = arena;
            each_linear(m, bind_w16, &arena);
            m->f16_ready = 1;
        }
    }
    pthread_mutex_unlock(&f16_lock);
    return s;
}
