/* The phase mark between a measured program and the insncount plugin: the
 * plugin starts a new phase when the guest makes this system call.  No Linux
 * syscall has this number, so natively the call fails with ENOSYS and the
 * program runs anywhere. */
#ifndef PE_BENCH_MARK_H
#define PE_BENCH_MARK_H

#define PE_MARK_NR 0x7065
#define PE_MARK_MAGIC 0x70656d61726bULL

#ifndef PE_MARK_NO_CALL
#include <unistd.h>
static inline void pe_mark(void) { syscall(PE_MARK_NR, PE_MARK_MAGIC); }
#endif

#endif
