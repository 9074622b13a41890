/* SPDX-License-Identifier: MIT */
/*
 * guard_i.h - mappings of source files that another process may shrink
 * while a job reads them. A read past the new end of a shared file
 * mapping is a SIGBUS, which would kill the daemon; hmf_ingest_on_sigbus
 * (ingest.h) maps zeros over the rest of a guarded mapping instead and
 * sets its flag, and the job then fails before it publishes anything.
 */
#ifndef HMF_INGEST_GUARD_I_H
#define HMF_INGEST_GUARD_I_H

#include <stdatomic.h>
#include <stddef.h>

/*
 * Guard [@start, @start + @len) (page-aligned @start), setting *@changed
 * if the file under it shrinks while it is read. Returns a handle for
 * ingest_guard_remove, or 0 when every slot is taken (then unguarded).
 */
unsigned ingest_guard_add(const void *start, size_t len, atomic_bool *changed);
/* Stop guarding (before the mapping is unmapped). @g 0 does nothing. */
void ingest_guard_remove(unsigned g);

#endif
