/* SPDX-License-Identifier: MIT */
/*
 * path.c - validation of node names and splitting of HMF paths. Every name
 * that reaches a *at() call has passed hmf_name_check(), which is what
 * keeps the library inside ROOT ("..", "/" and reserved names never pass).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hmf/error.h"
#include "hmf/path.h"

bool hmf_name_is_reserved(const char *name)
{
	return strncmp(name, HMF_RESERVED_PREFIX,
		       strlen(HMF_RESERVED_PREFIX)) == 0;
}

int hmf_name_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return hmf_err(-EINVAL, "empty name");
	if (len > HMF_NAME_MAX)
		return hmf_err(-ENAMETOOLONG,
			       "name of %zu bytes is over %d bytes", len,
			       HMF_NAME_MAX);
	if (strchr(name, '/'))
		return hmf_err(-EINVAL, "name '%s' contains '/'", name);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return hmf_err(-EINVAL, "name '%s' is not allowed", name);
	if (hmf_name_is_reserved(name))
		return hmf_err(
			-EINVAL,
			"name '%s' is reserved (names starting with '.hmf' are HMF's own)",
			name);
	return 0;
}

int hmf_path_split(const char *path, char *buf, size_t buflen,
		   const char **names, int max)
{
	size_t len = strlen(path);
	char *p, *save;
	int n = 0, rc;

	if (path[0] != '/')
		return hmf_err(-EINVAL, "path '%s' does not start with '/'",
			       path);
	if (len >= buflen || len >= HMF_PATH_MAX)
		return hmf_err(-ENAMETOOLONG, "path of %zu bytes is too long",
			       len);
	memcpy(buf, path, len + 1);
	for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		rc = hmf_name_check(p);
		if (rc < 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", hmf_errmsg());
			return hmf_err(rc, "path '%s': %s", path, why);
		}
		if (n == max)
			return hmf_err(-E2BIG, "path '%s' is too deep", path);
		names[n++] = p;
	}
	return n;
}
