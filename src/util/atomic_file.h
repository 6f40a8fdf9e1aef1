/* A file written whole or not at all.  The bytes go to "path.tmp.XXXXXX"
 * beside path, created with O_EXCL and mode 0666 so that the umask applies as
 * to any new file (mkstemp would force 0600); commit syncs it, renames it
 * over path and syncs the directory.  A crash, a full disk or an error at
 * any step leaves path as it was and no temporary file behind.
 *
 *     pe_afile f;
 *     if ((s = pe_afile_open(&f, path))) return s;
 *     pe_afile_write(&f, head, n);  ... more writes ...
 *     return pe_afile_commit(&f);
 */
#ifndef PE_ATOMIC_FILE_H
#define PE_ATOMIC_FILE_H

#include "../common.h"

typedef struct pe_afile {
    int fd;
    int err;          /* errno of the first failed write, else 0 */
    uint64_t written; /* bytes so far (for the test hook below) */
    const char *path; /* the caller's, kept until commit or abort */
    char tmp[4096];
} pe_afile;

/* Creates the temporary file beside path.  Errors name path. */
pe_status pe_afile_open(pe_afile *f, const char *path);
/* Appends n bytes (in chunks of at most 1 GiB, retrying EINTR).  A failure
 * is kept for pe_afile_commit to report; later writes do nothing. */
void pe_afile_write(pe_afile *f, const void *p, size_t n);
/* Syncs, closes and renames into place, then syncs the directory; on a
 * failure here or in an earlier write, removes the temporary file and
 * returns PE_ERR_IO with a message naming path. */
pe_status pe_afile_commit(pe_afile *f);
/* Gives up: closes and removes the temporary file (path is untouched). */
void pe_afile_abort(pe_afile *f);

/* Tests only: when > 0, writes fail with ENOSPC once a file has this many
 * bytes (a simulated full disk or crash half-way). */
extern long pe_afile_fail_after;

#endif
