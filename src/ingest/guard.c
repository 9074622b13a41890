/* SPDX-License-Identifier: MIT */
/*
 * guard.c - guarded source mappings (guard_i.h). The slots are read by a
 * signal handler, so they are lock-free: a slot is taken by moving its end
 * from 0 to 1 (reserved), then its start and flag are set, then its real
 * end published; the handler trusts a slot only while its end is > 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard_i.h"
#include "hmf/ingest.h"

/* more than the jobs that run at once (one source mapping each) */
#define GUARD_SLOTS 64

struct guard {
	atomic_uintptr_t start;
	atomic_uintptr_t end; /* 0: free, 1: being set up */
	_Atomic(atomic_bool *) changed;
};

static struct guard slots[GUARD_SLOTS];

unsigned ingest_guard_add(const void *start, size_t len, atomic_bool *changed)
{
	uintptr_t zero;
	unsigned i;

	if (len == 0)
		return 0;
	for (i = 0; i < GUARD_SLOTS; i++) {
		zero = 0;
		if (atomic_compare_exchange_strong(&slots[i].end, &zero, 1)) {
			atomic_store(&slots[i].start, (uintptr_t)start);
			atomic_store(&slots[i].changed, changed);
			atomic_store(&slots[i].end, (uintptr_t)start + len);
			return i + 1;
		}
	}
	return 0;
}

void ingest_guard_remove(unsigned g)
{
	if (g > 0 && g <= GUARD_SLOTS)
		atomic_store(&slots[g - 1].end, 0);
}

bool hmf_ingest_on_sigbus(void *addr)
{
	uintptr_t a = (uintptr_t)addr, start, end, page;
	long pg = sysconf(_SC_PAGESIZE);
	atomic_bool *changed;
	unsigned i;

	for (i = 0; i < GUARD_SLOTS; i++) {
		end = atomic_load(&slots[i].end);
		start = atomic_load(&slots[i].start);
		if (end <= 1 || a < start || a >= end)
			continue;
		changed = atomic_load(&slots[i].changed);
		/* zeros from the faulting page to the mapping's end */
		page = a & ~(uintptr_t)(pg - 1);
		if (mmap((void *)page, end - page, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			return false;
		if (changed)
			atomic_store(changed, true);
		return true;
	}
	return false;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (hmf_ingest_on_sigbus(si->si_addr))
		return; /* the access is retried and reads zeros */
	/* not ours: the default action when the access is retried */
	signal(sig, SIG_DFL);
}

int hmf_ingest_catch_sigbus(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}
