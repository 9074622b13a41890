/* SPDX-License-Identifier: MIT */
/*
 * fsutil.c - file helpers shared by the library modules. Everything works
 * relative to directory descriptors and refuses to follow symlinks, so no
 * helper can be steered outside ROOT by a hostile tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil_i.h"

void fsu_tmpname(char buf[HMF_TMPNAME_LEN])
{
	/* seeded once per thread; names only need to be rare, since every
	 * use is O_EXCL / RENAME_NOREPLACE and retried on a clash */
	static _Thread_local uint64_t state;
	static atomic_uint_fast64_t counter;
	uint64_t r;

	if (state == 0) {
		struct timespec ts;

		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) !=
		    sizeof(state)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			state = ((uint64_t)getpid() << 40) ^
				(uint64_t)ts.tv_nsec ^
				(atomic_fetch_add(&counter, 1) << 20);
		}
		state |= 1;
	}
	/* xorshift64* */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	r = state * 0x2545f4914f6cdd1dull;
	snprintf(buf, HMF_TMPNAME_LEN, HMF_TMP_PREFIX "%016llx",
		 (unsigned long long)r);
}

int fsu_read_all(int fd, size_t max, size_t hint, char **out, size_t *len)
{
	size_t cap = hint < max ? hint + 1 : 4096, n = 0;
	char *buf = malloc(cap + 1), *p;
	ssize_t got;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			p = realloc(buf, cap + 1);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0) {
			int rc = -errno;

			if (rc == -EINTR)
				continue;
			free(buf);
			return rc;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		/* a short read of a regular file is its end */
		if (n < cap)
			break;
	}
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int fsu_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int rmtree_children(int fd)
{
	struct dirent *e;
	DIR *d;
	int rc = 0, r;

	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r = fsu_rmtree_at(dirfd(d), e->d_name);
		if (r < 0 && rc == 0)
			rc = r;
	}
	closedir(d);
	return rc;
}

int fsu_rmtree_at(int dirfd, const char *name)
{
	int fd, rc;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = rmtree_children(fd);
	if (rc < 0)
		return rc;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int fsu_open_dir(int dirfd, const char *name, int *fd)
{
	int f = openat(dirfd, name,
		       O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (f < 0)
		return -errno;
	*fd = f;
	return 0;
}
