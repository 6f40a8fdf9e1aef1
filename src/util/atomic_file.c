/* Files written whole or not at all (atomic_file.h): the prototype packs,
 * galleries and safetensors files pecore writes. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long pe_afile_fail_after;

pe_status pe_afile_open(pe_afile *f, const char *path) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static unsigned counter; /* two threads in one process get other names */
    *f = (pe_afile){.fd = -1, .path = path};
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 24 ^ (uint64_t)(uintptr_t)f ^
                    (uint64_t)__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) << 40;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            suffix[i] = alnum[(seed >> 33) % (sizeof alnum - 1)];
        }
        suffix[6] = 0;
        if ((size_t)snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%s", path, suffix) >= sizeof f->tmp) {
            errno = ENAMETOOLONG;
            break;
        }
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd >= 0) return PE_OK;
        if (errno != EEXIST) break;
    }
    return pe_error(PE_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                    strerror(errno));
}

void pe_afile_write(pe_afile *f, const void *p, size_t n) {
    const uint8_t *c = p;
    while (n && !f->err) {
        size_t step = n < ((size_t)1 << 30) ? n : (size_t)1 << 30; /* Linux: ~2 GiB a call */
        if (pe_afile_fail_after > 0) {
            const uint64_t cap = (uint64_t)pe_afile_fail_after;
            if (f->written >= cap) {
                f->err = ENOSPC;
                break;
            }
            if (step > cap - f->written) step = (size_t)(cap - f->written);
        }
        const ssize_t w = write(f->fd, c, step);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            f->err = w < 0 ? errno : EIO;
            break;
        }
        c += w;
        n -= (size_t)w;
        f->written += (uint64_t)w;
    }
}

void pe_afile_abort(pe_afile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
}

/* Makes the rename itself durable (best effort: some file systems refuse). */
static void sync_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    const int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

pe_status pe_afile_commit(pe_afile *f) {
    const char *step = "write failed";
    int e = f->err;
    if (!e && fsync(f->fd)) e = errno, step = "cannot sync";
    const int fd = f->fd;
    f->fd = -1;
    if (close(fd) && !e) e = errno, step = "close failed";
    if (!e && rename(f->tmp, f->path)) e = errno, step = "cannot rename into place";
    if (e) {
        unlink(f->tmp);
        return pe_error(PE_ERR_IO, "%s: %s: %s", f->path, step, strerror(e));
    }
    sync_dir(f->path);
    return PE_OK;
}
