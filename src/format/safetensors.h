/* safetensors reader and writer.
 * Format: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
 *  "__metadata__": {"k": "v"}}, then the data section.
 * Every rule of the format is enforced (see pe_st_parse). */
#ifndef PE_SAFETENSORS_H
#define PE_SAFETENSORS_H

#include "../common.h"

typedef enum pe_dtype {
    PE_DT_BOOL, PE_DT_U8, PE_DT_I8, PE_DT_F8_E4M3, PE_DT_F8_E5M2,
    PE_DT_I16, PE_DT_U16, PE_DT_F16, PE_DT_BF16,
    PE_DT_I32, PE_DT_U32, PE_DT_F32,
    PE_DT_I64, PE_DT_U64, PE_DT_F64,
    PE_DT_COUNT
} pe_dtype;

const char *pe_dtype_name(pe_dtype t);   /* "F32" ... */
size_t pe_dtype_size(pe_dtype t);        /* bytes per element */

#define PE_ST_MAX_RANK 8
#define PE_ST_MAX_HEADER (100u << 20)    /* 100 MB, as the reference */

typedef struct pe_st_tensor {
    char *name;
    pe_dtype dtype;
    int rank;
    int64_t shape[PE_ST_MAX_RANK];
    uint64_t numel;
    uint64_t offset;        /* from the start of the data section */
    uint64_t nbytes;
    const void *data;       /* points into the mapping / buffer */
} pe_st_tensor;

typedef struct pe_st_meta {
    char *key, *value;
} pe_st_meta;

typedef struct pe_safetensors {
    const uint8_t *base;    /* whole file */
    size_t size;
    int mapped;             /* base is an mmap we own */
    pe_st_tensor *tensors;  /* in file (offset) order */
    int n_tensors;
    pe_st_meta *meta;
    int n_meta;
    uint8_t *owned;         /* .pt: copies of non-contiguous tensors (freed by close) */
    size_t owned_size;
} pe_safetensors;

/* Parses buf[0:len] (not copied; must outlive st). Checks: length field and
 * header bounds (<= PE_ST_MAX_HEADER, inside the buffer), header is a JSON
 * object, "__metadata__" maps strings to strings, each entry has exactly
 * dtype/shape/data_offsets of the right types, known dtype, rank bound,
 * non-negative dims, numel and byte size overflow-checked, byte size equals
 * dtype size x numel, offsets sorted, contiguous without holes or overlap,
 * starting at 0 and ending exactly at the end of the file (no trailing bytes),
 * duplicate names refused. Errors name the tensor and the field. */
pe_status pe_st_parse(pe_safetensors *st, const uint8_t *buf, size_t len);
/* Opens and memory-maps path, then pe_st_parse. */
pe_status pe_st_open(pe_safetensors *st, const char *path);
void pe_st_close(pe_safetensors *st);

const pe_st_tensor *pe_st_find(const pe_safetensors *st, const char *name);
const char *pe_st_meta_get(const pe_safetensors *st, const char *key);
/* Adds or replaces a metadata entry (e.g. heads given by the caller for a
 * .pt file, which carries none). */
pe_status pe_st_meta_set(pe_safetensors *st, const char *key, const char *value);

/* Writing: tensors are written in the order given, data from each .data
 * (nbytes = dtype size x numel, computed by the writer). The file is written
 * to a temporary name beside path and renamed into place, so a crash never
 * leaves a half-written file. */
typedef struct pe_st_out {
    const char *name;
    pe_dtype dtype;
    int rank;
    int64_t shape[PE_ST_MAX_RANK];
    const void *data;
} pe_st_out;

pe_status pe_st_write(const char *path, const pe_st_out *tensors, int n,
                      const pe_st_meta *meta, int n_meta);

#endif
