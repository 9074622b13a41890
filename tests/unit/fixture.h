/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - what every unit test file shares: a fresh mkdtemp() directory
 * holding an HMF root ("root/") and a sibling that the library must never
 * touch ("outside/"), plus small file helpers that fail the test on error.
 */
#ifndef HMF_TEST_FIXTURE_H
#define HMF_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hmf.h"

struct fixture {
	char base[64];	   /* the mkdtemp() directory; removed at teardown */
	char root[128];	   /* base/root: the HMF root */
	char outside[128]; /* base/outside: must survive every test */
	struct hmf_root
		*r; /* opened "w+" by fx_setup, NULL for fx_setup_bare */
	int dirfd;  /* O_RDONLY descriptor of root/ */
};

/* cmocka setup/teardown: a fresh root opened with mode "w+". */
int fx_setup(void **state);
/* The same directories, but root/ stays an empty plain directory. */
int fx_setup_bare(void **state);
int fx_teardown(void **state);

/* Remove @path and everything below it (no symlink is followed). */
void rm_rf(const char *path);

/* Create or truncate @name in @dirfd with @text. */
void write_text(int dirfd, const char *name, const char *text);
/* Write @len bytes at @data to @name in @dirfd (created or truncated). */
void write_bytes(int dirfd, const char *name, const void *data, size_t len);
/* The whole of @name in @dirfd, NUL-terminated (caller frees). */
char *read_text(int dirfd, const char *name, size_t *len);

/* Open (O_RDONLY | O_DIRECTORY) @name below @dirfd; fails the test if not. */
int open_dir_at(int dirfd, const char *name);

/* How many ".hmf.tmp.*" entries exist anywhere below @path. */
size_t count_tmp(const char *path);

/* True when hmf_errmsg() contains @needle. */
bool errmsg_has(const char *needle);

/* Make the node directory @name (relative to @dirfd) with @hmf as .hmf. */
void make_node_dir(int dirfd, const char *name, const char *hmf);

#endif
