/* SPDX-License-Identifier: MIT */
/*
 * dtype.h - numpy dtypes as HMF stores them: numpy's dtype.str with an
 * explicit byte order ("<i8", "|b1", "|S10", "<M8[ns]"). Parsing accepts
 * numpy's names and aliases ("int64", "float", "f8", "bool") and yields the
 * canonical form; structured and object dtypes are refused.
 */
#ifndef HMF_DTYPE_H
#define HMF_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMF_DTYPE_STR_MAX 32

struct hmf_dtype {
	char kind;	/* numpy kind: b i u f c S U V M m */
	char byteorder; /* '<', '>' or '|' (order does not apply) */
	size_t itemsize;
	char str[HMF_DTYPE_STR_MAX]; /* canonical dtype.str */
};

/*
 * Parse @text (a dtype.str or numpy name) into @out, canonicalised.
 * Returns 0 or -EINVAL with a message.
 */
int hmf_dtype_parse(const char *text, struct hmf_dtype *out);

/* True when both describe the same stored layout. */
bool hmf_dtype_equal(const struct hmf_dtype *a, const struct hmf_dtype *b);

/*
 * The number of bytes of an array of @dtype and @shape (@ndim entries) in
 * *@nbytes. Returns 0 or -EOVERFLOW when it does not fit in an off_t or a
 * dimension is 2^53 or more (a .hmf holds them exactly only below that).
 */
int hmf_dtype_nbytes(const struct hmf_dtype *dtype, int ndim,
		     const uint64_t *shape, uint64_t *nbytes);

#endif
