#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

pe_status pe_map_file(const char *path, const uint8_t **map, size_t *size) {
    *map = NULL;
    *size = 0;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pe_error(errno == ENOENT ? PE_ERR_NOT_FOUND : PE_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pe_error(PE_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return pe_error(PE_ERR_LIMIT, "%s: file too large to map", path);
    }
    const size_t n = (size_t)sb.st_size;
    /* mmap of length 0 fails with EINVAL; say what is really wrong. */
    if (n < 8) {
        close(fd);
        return pe_error(PE_ERR_FORMAT, "%s: file is %zu bytes%s", path, n,
                        n ? ": too short (shorter than the 8-byte header every model format starts with)" : " (empty)");
    }
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_errno = errno;
    close(fd);
    if (m == MAP_FAILED) return pe_error(PE_ERR_IO, "%s: cannot map: %s", path, strerror(map_errno));
    *map = m;
    *size = n;
    return PE_OK;
}
