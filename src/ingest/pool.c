/* SPDX-License-Identifier: MIT */
/*
 * pool.c - a minimal fork-join pool: threads take the next item number
 * from an atomic counter until the items run out or one of them fails.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hmf/error.h"
#include "pool_i.h"

#define POOL_MAX 64
#define INGEST_MAP_MIN ((size_t)1 << 20)

struct pool {
	int (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	const atomic_int *stop;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t lock; /* protects rc and msg */
	int rc;
	char msg[1024];
};

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	size_t i;
	int rc;

	while (!atomic_load(&p->failed) && !(p->stop && atomic_load(p->stop))) {
		i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		rc = p->fn(p->arg, i);
		if (rc < 0) {
			/* the first failure wins; its message goes with it */
			pthread_mutex_lock(&p->lock);
			if (p->rc == 0) {
				p->rc = rc;
				snprintf(p->msg, sizeof(p->msg), "%s",
					 hmf_errmsg());
			}
			pthread_mutex_unlock(&p->lock);
			atomic_store(&p->failed, 1);
		}
	}
	return NULL;
}

int pool_run(unsigned threads, size_t n, int (*fn)(void *arg, size_t i),
	     void *arg, const atomic_int *stop)
{
	struct pool p = { .fn = fn, .arg = arg, .n = n, .stop = stop };
	pthread_t tid[POOL_MAX];
	unsigned k, nt = threads ? threads : 1;

	if (nt > POOL_MAX)
		nt = POOL_MAX;
	if (nt > n)
		nt = n ? (unsigned)n : 1;
	pthread_mutex_init(&p.lock, NULL);
	for (k = 1; k < nt; k++)
		if (pthread_create(&tid[k], NULL, pool_worker, &p) != 0)
			break; /* fewer threads: still correct */
	pool_worker(&p);
	while (--k > 0)
		pthread_join(tid[k], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.rc)
		return hmf_err(p.rc, "%s", p.msg);
	if (stop && atomic_load(stop))
		return hmf_err(-EINTR, "stopped");
	return 0;
}

void *ingest_alloc(size_t size)
{
	void *p;

	/* small ones come from the heap: reused memory, no fresh faults */
	if (size < INGEST_MAP_MIN)
		return malloc(size ? size : 1);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* advice only: without huge pages it is an ordinary mapping */
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

void ingest_free(void *p, size_t size)
{
	if (size < INGEST_MAP_MIN)
		free(p);
	else if (p)
		munmap(p, size);
}

unsigned pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > POOL_MAX ? POOL_MAX : (unsigned)n;
}
