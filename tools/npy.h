/* NumPy .npy files for the CLI and the tests: float32 in memory, '<f4' or
 * '<f8' on disk (C order, little-endian).  Uses libc only, never src/.
 * Every function returns 0 on success or -1 with a message in err. */
#ifndef PE_NPY_H
#define PE_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_RANK 8

typedef struct npy_array {
    float *data;                    /* [numel], row-major; owned */
    int rank;                       /* 0 for a scalar */
    int64_t shape[NPY_MAX_RANK];
    size_t numel;
} npy_array;

/* Reads a v1/v2/v3 .npy of dtype '<f4' or '<f8' (converted to float).
 * Refuses Fortran order, big-endian and other dtypes, malformed headers,
 * shapes whose element count overflows, and data of the wrong size. */
int npy_read_f32(const char *path, npy_array *out, char *err, size_t errlen);
int npy_read_f32_mem(const void *buf, size_t len, npy_array *out, char *err, size_t errlen);

/* Writes a v1 '<f4' .npy atomically (temporary file beside path, fsync,
 * rename).  rank 0..NPY_MAX_RANK; shape may be NULL when rank is 0. */
int npy_write_f32(const char *path, const float *data, int rank, const int64_t *shape,
                  char *err, size_t errlen);

/* Frees a->data and zeroes a; a may be NULL. */
void npy_free(npy_array *a);

#endif
