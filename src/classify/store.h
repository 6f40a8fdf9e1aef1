/* The on-disk container of prototype packs and galleries, and the model
 * fingerprint they are tied to.
 *
 * Layout (all integers little-endian, floats IEEE binary32 little-endian):
 *   header, PE_STORE_HEADER bytes:
 *     0  magic[8]        "PEPROTOS" or "PEGALLRY"
 *     8  u32 version     PE_STORE_VERSION
 *    12  u32 header_size PE_STORE_HEADER
 *    16  u32 dim         embedding size
 *    20  u32 count       rows of embeddings (classes, gallery entries)
 *    24  u32 n_labels    distinct labels
 *    28  u32 flags       0 (reserved)
 *    32  u64 fingerprint of the model
 *    40  f32 logit_scale
 *    44  u32 n_strings   labels, then (galleries) one source per entry
 *    48  u64 strings_bytes
 *    56  char arch[48]   NUL-padded
 *   104  zero padding to PE_STORE_HEADER
 *   strings: n_strings x (u16 length, bytes), strings_bytes in all
 *   label index: u32[count]           (galleries only)
 *   embeddings:  f32[count, dim]      unit length
 *   thresholds:  f32[n_labels]        (prototypes only; -1 = none)
 *   trailer: u32 CRC-32 (zlib) of every byte before it
 * Readers require the file size to be exactly what the header implies. */
#ifndef PE_CLASSIFY_STORE_H
#define PE_CLASSIFY_STORE_H

#include "../common.h"

#define PE_STORE_VERSION 1
#define PE_STORE_HEADER 128
#define PE_STORE_MAGIC_PROTOS "PEPROTOS"
#define PE_STORE_MAGIC_GALLERY "PEGALLRY"

/* Bounds on what a file may declare: far above real use, low enough that
 * every product below fits in 64 bits and a bad header cannot make us
 * allocate gigabytes. */
#define PE_STORE_MAX_DIM 65536
#define PE_STORE_MAX_COUNT (1u << 22)
#define PE_STORE_MAX_LABELS (1u << 20)
#define PE_STORE_MAX_BYTES ((uint64_t)4 << 30)

typedef struct pe_store {
    int gallery;              /* 1: PEGALLRY, 0: PEPROTOS                    */
    pe_model_identity id;
    float logit_scale;
    int count, n_labels, cap, label_cap;
    char **labels;            /* [n_labels], owned                           */
    float *thresholds;        /* [n_labels] (prototypes)                     */
    char **sources;           /* [count] (galleries), owned, "" allowed      */
    int32_t *label_of;        /* [count] label index per row                 */
    float *emb;               /* [count, dim], unit rows                     */
} pe_store;

/* Serialises s and writes it to path whole or not at all (atomic_file.h). */
pe_status pe_store_save(const pe_store *s, const char *path);
/* Parses buf[0:len] into s (zeroed first).  want_gallery selects the
 * magic.  Messages say what is wrong ("truncated", "bad magic", ...). */
pe_status pe_store_parse(pe_store *s, const uint8_t *buf, size_t len, int want_gallery);
pe_status pe_store_load(pe_store *s, const char *path, int want_gallery);
void pe_store_clear(pe_store *s);

/* Checks a label: 1..PE_LABEL_MAX-1 bytes, no control characters, no
 * empty part around a '/'. what names it in the message. */
pe_status pe_store_check_label(const char *label, size_t len, const char *what);

#endif
