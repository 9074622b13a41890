/* SPDX-License-Identifier: MIT */
/*
 * fuzz.c - helpers of the harnesses (see fuzz.h). A failed check prints
 * its condition and the library's last message before abort(), so that a
 * crash report says which invariant broke, not only where.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hmf/error.h"

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
	       ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: fuzz check failed: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  last libhmf message: %s\n", hmf_errmsg());
	abort();
}

bool fuzz_rc_in(int rc, ...)
{
	va_list ap;
	bool found = rc == 0;
	int e;

	va_start(ap, rc);
	while (!found && (e = va_arg(ap, int)) != 0)
		found = rc == e;
	va_end(ap);
	return found;
}

const char *fuzz_errno(int rc)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ 0, "ok" },
		{ EPERM, "EPERM" },
		{ ENOENT, "ENOENT" },
		{ EIO, "EIO" },
		{ E2BIG, "E2BIG" },
		{ EAGAIN, "EAGAIN" },
		{ ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" },
		{ EEXIST, "EEXIST" },
		{ ENOTDIR, "ENOTDIR" },
		{ EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" },
		{ EFBIG, "EFBIG" },
		{ ENOSPC, "ENOSPC" },
		{ EROFS, "EROFS" },
		{ ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" },
		{ ENODATA, "ENODATA" },
		{ EOVERFLOW, "EOVERFLOW" },
		{ ENOTSUP, "ENOTSUP" },
		{ EINTR, "EINTR" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == -rc)
			return names[i].name;
	return rc > 0 ? "positive" : "another errno";
}

static void quiet(enum hmf_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

void fuzz_quiet(void)
{
	hmf_log_set_handler(quiet);
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL, "out of memory");
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

size_t fuzz_take(struct fuzz_in *in, size_t want, const uint8_t **out)
{
	size_t n = want < in->n ? want : in->n;

	*out = in->p;
	in->p += n;
	in->n -= n;
	return n;
}
