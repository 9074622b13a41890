/* SPDX-License-Identifier: MIT */
/*
 * npy.h - the NPY file format (numpy.lib.format, versions 1.0 to 3.0):
 * parse a header, write one. The one NPY parser and writer of the project:
 * the mount's NPY view, hmf import/export and ingest all use it.
 */
#ifndef HMF_NPY_H
#define HMF_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "meta.h"

#define HMF_NPY_MAGIC "\x93NUMPY"
#define HMF_NPY_MAGIC_LEN 6
/* Refuse headers larger than this as hostile. */
#define HMF_NPY_HEADER_MAX (1u << 20)
#define HMF_NPY_FIELD_MAX 256

struct hmf_npy_field {
	char *name;
	struct hmf_dtype dtype;
	size_t offset;
};

struct hmf_npy {
	int major, minor;
	size_t header_len; /* bytes before the data: magic, length, dict */
	/* the item: a plain dtype, or "|V<itemsize>" for a structured one */
	struct hmf_dtype dtype;
	struct hmf_npy_field *fields; /* structured dtypes only */
	size_t nfields;
	bool fortran_order;
	int ndim;
	uint64_t shape[HMF_MAX_NDIM];
};

/*
 * The total header length of the NPY bytes at @buf (@len available) in
 * *@total. Returns 0, -EAGAIN when fewer than the first 12 bytes have
 * arrived, or -EINVAL (not NPY, unknown version, over 1 MiB).
 */
int hmf_npy_header_len(const void *buf, size_t len, size_t *total);

/*
 * Parse the NPY header at @buf (@len bytes available) into @out. Returns
 * 0, -EAGAIN (the header is not complete yet), -EINVAL with a message (bad
 * magic, version, syntax, object or nested dtypes, bad shape) or -ENOMEM.
 * Release with hmf_npy_fini().
 */
int hmf_npy_parse(const void *buf, size_t len, struct hmf_npy *out);
void hmf_npy_fini(struct hmf_npy *n);

/*
 * A header for @dtype, @ndim dimensions @shape and @fortran order, in the
 * lowest version that holds it (1.0, else 2.0), padded with spaces to a
 * multiple of 64 bytes, in a malloc'ed buffer (*@out, *@len bytes).
 */
int hmf_npy_format(const struct hmf_dtype *dtype, bool fortran, int ndim,
		   const uint64_t *shape, char **out, size_t *len);

#endif
