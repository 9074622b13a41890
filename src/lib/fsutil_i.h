/* SPDX-License-Identifier: MIT */
/*
 * fsutil_i.h - private file helpers of libhmf: whole-file reads and
 * writes, unique temporary names, recursive removal below a directory fd.
 */
#ifndef HMF_FSUTIL_I_H
#define HMF_FSUTIL_I_H

#include <stddef.h>
#include <stdint.h>

#define HMF_TMP_PREFIX ".hmf.tmp."
#define HMF_TMPNAME_LEN 32

/* Fill @buf with ".hmf.tmp.<16 random hex digits>". */
void fsu_tmpname(char buf[HMF_TMPNAME_LEN]);

/*
 * Read all of regular file @fd (at most @max bytes, else -EFBIG) into a
 * malloc'ed, NUL-terminated buffer. @hint: its expected size, or 0.
 */
int fsu_read_all(int fd, size_t max, size_t hint, char **out, size_t *len);

/* Write @len bytes at @off, retrying short writes. */
int fsu_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/*
 * Remove entry @name of @dirfd and, for a directory, all below it, never
 * following symlinks. A missing entry is not an error.
 */
int fsu_rmtree_at(int dirfd, const char *name);

/* Open @name in @dirfd as an O_PATH directory, without following links. */
int fsu_open_dir(int dirfd, const char *name, int *fd);

#endif
