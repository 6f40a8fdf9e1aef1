/* Read-only memory mapping of a whole model file. */
#ifndef PE_MAPFILE_H
#define PE_MAPFILE_H

#include "../common.h"

/* Maps path (a regular file of at least 8 bytes: every format pecore reads
 * starts with more) read-only; unmap with munmap(*map, *size).  Errors name
 * the path. */
pe_status pe_map_file(const char *path, const uint8_t **map, size_t *size);

#endif
