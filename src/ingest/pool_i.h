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

/* The number of threads to use when a request says 0. */
unsigned pool_default_threads(void);

#endif
