/* SPDX-License-Identifier: MIT */
/*
 * test_ingest_guard.c - a source file truncated under a job's mapping:
 * the guarded read gets zeros and the flag, any other SIGBUS still kills.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard_i.h"
#include "hmf/ingest.h"

#define PAGES 4

/* A file of PAGES pages of 'x', already unlinked, mapped shared. */
static int map_file(unsigned char **map, size_t *len)
{
	char path[] = "/tmp/hmf-guard-XXXXXX";
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *buf;
	int fd;

	*len = (size_t)pg * PAGES;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	buf = malloc(*len);
	assert_non_null(buf);
	memset(buf, 'x', *len);
	assert_int_equal(write(fd, buf, *len), (ssize_t)*len);
	free(buf);
	*map = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(*map != MAP_FAILED);
	return fd;
}

static void test_guarded_truncation_reads_zeros(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	atomic_bool changed = false;
	volatile unsigned char *v;
	unsigned char *map;
	unsigned g;
	size_t len;
	int fd;

	(void)state;
	assert_int_equal(hmf_ingest_catch_sigbus(), 0);
	fd = map_file(&map, &len);
	g = ingest_guard_add(map, len, &changed);
	assert_true(g > 0);
	assert_int_equal(ftruncate(fd, pg), 0); /* another process's doing */
	v = map;
	assert_int_equal(v[0], 'x'); /* still the file */
	assert_false(atomic_load(&changed));
	assert_int_equal(v[2 * pg + 7], 0); /* SIGBUS: zeros instead */
	assert_true(atomic_load(&changed));
	assert_int_equal(v[(PAGES - 1) * pg], 0); /* the rest as well */
	ingest_guard_remove(g);
	munmap(map, len);
	close(fd);
}

/* In a child: a SIGBUS in @map at page 2, guarded or not; exits 0 if it
 * survived. */
static int child_faults(bool guarded, bool removed)
{
	long pg = sysconf(_SC_PAGESIZE);
	atomic_bool changed = false;
	volatile unsigned char *v;
	unsigned char *map;
	int status, fd;
	unsigned g = 0;
	size_t len;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hmf_ingest_catch_sigbus();
		fd = map_file(&map, &len);
		if (guarded)
			g = ingest_guard_add(map, len, &changed);
		if (removed)
			ingest_guard_remove(g);
		if (ftruncate(fd, pg) < 0)
			_exit(3);
		v = map;
		_exit(v[2 * pg] == 0 && atomic_load(&changed) ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_other_sigbus_keeps_default(void **state)
{
	int status;

	(void)state;
	status = child_faults(false, false);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	/* a guard removed before the fault does not catch it either */
	status = child_faults(true, true);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	status = child_faults(true, false);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guarded_truncation_reads_zeros),
		cmocka_unit_test(test_other_sigbus_keeps_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
