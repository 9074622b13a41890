/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - the shared test fixture: a fresh mkdtemp() tree per test with
 * an HMF root and an "outside" sentinel whose contents and mode are checked
 * at teardown, so every test also proves that nothing outside ROOT changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

#define SENTINEL "keep"
#define SENTINEL_TEXT "outside ROOT: never touched\n"

static void rm_rf_at(int at, const char *name)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return;
	/* a test may leave a directory without write or search permission */
	fchmod(fd, 0700);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rm_rf_at(dirfd(d), e->d_name);
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

void rm_rf(const char *path)
{
	rm_rf_at(AT_FDCWD, path);
}

static int make_dirs(struct fixture **out)
{
	const char *tmp = getenv("TMPDIR");
	struct fixture *fx = calloc(1, sizeof(*fx));
	int fd;

	if (!fx)
		return -1;
	fx->dirfd = -1;
	snprintf(fx->base, sizeof(fx->base), "%s/hmf-unit-XXXXXX",
		 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(fx->base)) {
		free(fx);
		return -1;
	}
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->base);
	snprintf(fx->outside, sizeof(fx->outside), "%s/outside", fx->base);
	if (mkdir(fx->root, 0755) < 0 || mkdir(fx->outside, 0755) < 0)
		goto out_rm;
	fd = open(fx->outside, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		goto out_rm;
	write_text(fd, SENTINEL, SENTINEL_TEXT);
	fchmodat(fd, SENTINEL, 0644, 0);
	close(fd);
	*out = fx;
	return 0;
out_rm:
	rm_rf(fx->base);
	free(fx);
	return -1;
}

static int open_root_dirfd(struct fixture *fx)
{
	fx->dirfd = open(fx->root, O_RDONLY | O_DIRECTORY);
	return fx->dirfd < 0 ? -1 : 0;
}

int fx_setup(void **state)
{
	struct fixture *fx;

	if (make_dirs(&fx) < 0)
		return -1;
	if (hmf_open(fx->root, "w+", &fx->r) < 0 || open_root_dirfd(fx) < 0) {
		fx_teardown((void **)&fx);
		return -1;
	}
	*state = fx;
	return 0;
}

int fx_setup_bare(void **state)
{
	struct fixture *fx;

	if (make_dirs(&fx) < 0)
		return -1;
	if (open_root_dirfd(fx) < 0) {
		fx_teardown((void **)&fx);
		return -1;
	}
	*state = fx;
	return 0;
}

/* 0 when the sentinel outside ROOT is exactly as fx_setup left it. */
static int sentinel_intact(const struct fixture *fx)
{
	char path[256], buf[128];
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/" SENTINEL, fx->outside);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n >= 0 && fstat(fd, &st) == 0) {
		buf[n] = '\0';
		if (strcmp(buf, SENTINEL_TEXT) == 0 &&
		    (st.st_mode & 07777) == 0644)
			rc = 0;
	}
	close(fd);
	return rc;
}

int fx_teardown(void **state)
{
	struct fixture *fx = *state;
	int rc;

	if (!fx)
		return 0;
	hmf_close(fx->r);
	if (fx->dirfd >= 0)
		close(fx->dirfd);
	rc = sentinel_intact(fx);
	if (rc < 0)
		fprintf(stderr, "%s: the sentinel outside ROOT was changed\n",
			fx->outside);
	rm_rf(fx->base);
	free(fx);
	*state = NULL;
	return rc;
}

void write_bytes(int dirfd, const char *name, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
		    0644);
	assert_true(fd >= 0);
	while (len > 0) {
		n = write(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

void write_text(int dirfd, const char *name, const char *text)
{
	write_bytes(dirfd, name, text, strlen(text));
}

char *read_text(int dirfd, const char *name, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		assert_true(n > 0);
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	if (len)
		*len = off;
	return buf;
}

int open_dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

	assert_true(fd >= 0);
	return fd;
}

static size_t count_tmp_at(int at)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d;
	int fd;

	fd = openat(at, ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strncmp(e->d_name, ".hmf.tmp.", 9) == 0)
			n++;
		fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd >= 0) {
			n += count_tmp_at(fd);
			close(fd);
		}
	}
	closedir(d);
	return n;
}

size_t count_tmp(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	size_t n;

	assert_true(fd >= 0);
	n = count_tmp_at(fd);
	close(fd);
	return n;
}

bool errmsg_has(const char *needle)
{
	if (strstr(hmf_errmsg(), needle))
		return true;
	fprintf(stderr, "hmf_errmsg() \"%s\" does not contain \"%s\"\n",
		hmf_errmsg(), needle);
	return false;
}

void make_node_dir(int dirfd, const char *name, const char *hmf)
{
	int fd;

	assert_int_equal(mkdirat(dirfd, name, 0755), 0);
	fd = open_dir_at(dirfd, name);
	write_text(fd, ".hmf", hmf);
	close(fd);
}
