/* SPDX-License-Identifier: MIT */
/*
 * path.h - node names and HMF paths. A name is one path component of
 * 1..255 bytes without '/' or NUL, not "." or "..", and not starting with
 * the reserved prefix ".hmf". A path starts with '/' and is a sequence of
 * names ("/" alone is the root group).
 */
#ifndef HMF_PATH_H
#define HMF_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define HMF_NAME_MAX 255
#define HMF_PATH_MAX 4096
#define HMF_RESERVED_PREFIX ".hmf"

/* True when @name starts with the reserved ".hmf" prefix. */
bool hmf_name_is_reserved(const char *name);

/*
 * Check that @name may name a node. Returns 0, or -EINVAL (empty, ".",
 * "..", contains '/', reserved) or -ENAMETOOLONG, with a message.
 */
int hmf_name_check(const char *name);

/*
 * Split @path into its names. Returns the number of names (0 for "/") and
 * fills @names (at most @max entries) with pointers into @buf, a copy of the
 * path of @buflen bytes that the caller provides. Returns -EINVAL (not
 * absolute, a bad name), -ENAMETOOLONG, or -E2BIG (more than @max names).
 * Repeated and trailing slashes are ignored.
 */
int hmf_path_split(const char *path, char *buf, size_t buflen,
		   const char **names, int max);

#endif
