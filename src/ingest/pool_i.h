/* SPDX-License-Identifier: MIT */
/*
 * pool_i.h - run numbered work items on a few threads (ingest's pool).
 */
#ifndef HMF_INGEST_POOL_I_H
#define HMF_INGEST_POOL_I_H

#include <stdatomic.h>
#include <stddef.h>

/*
 * Call @fn(@arg, i) for every i in 0..@n-1 on up to @threads threads (the
 * caller's one included). Stops handing out items after the first failure
 * or once *@stop is set. Returns 0, the first failure's -errno (with its
 * message as this thread's hmf_errmsg()), or -EINTR when stopped.
 */
int pool_run(unsigned threads, size_t n, int (*fn)(void *arg, size_t i),
	     void *arg, const atomic_int *stop);

/*
 * A buffer of @size bytes; a large one (1 MiB and up) is a zeroed mapping
 * of its own in huge pages where the kernel allows, since a page fault
 * costs more here than filling a 4 KiB page (DESIGN section 8). Free with
 * ingest_free() and the same @size. NULL: no memory.
 */
void *ingest_alloc(size_t size);
void ingest_free(void *p, size_t size);

/* The number of threads to use when a request says 0. */
unsigned pool_default_threads(void);

#endif
