/* SPDX-License-Identifier: MIT */
/*
 * npy.h - the NPY file format (numpy.lib.format, versions 1.0 to 3.0):
 * parse a header, write one, and the NPY view of an array (its header, and
 * what writing one does to it). The one NPY parser and writer of the
 * project: the mount's NPY view, hmf import/export and ingest all use it.
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
 * lowest version that holds it (1.0, else 2.0), byte for byte as numpy
 * (>= 1.24) writes it: room for the growing axis to reach 21 digits, then
 * spaces and a newline up to a multiple of 64 bytes. In a malloc'ed buffer
 * (*@out, *@len bytes). Returns 0 or -ENOMEM.
 */
int hmf_npy_format(const struct hmf_dtype *dtype, bool fortran, int ndim,
		   const uint64_t *shape, char **out, size_t *len);

/*
 * The NPY view (DESIGN section 4): an array whose name ends in ".npy" is
 * shown as an NPY file, its header followed by its data. True for such a
 * @name, and for rsync's temporary ".NAME.npy.XXXXXX", which it fills and
 * then renames to NAME.npy (so that it holds the same view throughout).
 */
bool hmf_npy_name(const char *name);

/*
 * The NPY header of array metadata @m (as derived from its data size): its
 * stored npy_header while that is a valid header describing exactly @m's
 * dtype, shape and order (so a file copied in reads back byte-identical);
 * else a new one (hmf_npy_format), padded to the stored header's length
 * when it fits, so that a growing array keeps its data where it was. In a
 * malloc'ed buffer (*@out, *@len bytes). Returns 0, -EISDIR or -ENOMEM.
 */
int hmf_npy_header_for(const struct hmf_meta *m, char **out, size_t *len);

struct hmf_node;

/*
 * The header that the NPY view of array @n shows (hmf_npy_header_for of
 * its metadata), in a malloc'ed *@out of *@len bytes. An empty "|u1"
 * array that has no stored header (a file just created, or truncated to
 * nothing) has none: *@out NULL and *@len 0, so that it reads as an empty
 * file until a header is written. Returns 0, -EISDIR, -EIO, -ENOMEM ...
 * Safe to call concurrently on a shared node.
 */
int hmf_node_npy_header(struct hmf_node *n, char **out, size_t *len);

/*
 * Make array @n what the NPY header @hdr describes: @hdr must be exactly
 * one complete, valid header of @len bytes. Its dtype, shape and order
 * become the array's, @hdr is kept as the node's npy_header, and the data
 * is resized to the header's size (zero-filled growth); with
 * HMF_NPY_DISCARD the old bytes are dropped first (the file was opened
 * with O_TRUNC). @hdr NULL with HMF_NPY_DISCARD empties the array: "|u1"
 * [0], no header (an empty file in the view). The metadata changes all or
 * nothing; the data is resized first (as by hmf_node_set_layout) and keeps
 * its new size should saving the metadata fail. Returns 0, -EINVAL (not
 * one valid header of @len bytes, with a message), -EISDIR, -EROFS,
 * -ENOSPC, -EFBIG ... Serialised with other metadata updates of @n.
 */
#define HMF_NPY_DISCARD 1u
int hmf_node_set_npy(struct hmf_node *n, const void *hdr, size_t len,
		     unsigned flags);

/*
 * Resize the NPY view of array @n to @size bytes, header included: the
 * data becomes @size minus the header's length (the shape follows, and
 * with it the header). 0 empties the array (as hmf_node_set_npy with NULL
 * and HMF_NPY_DISCARD). Returns 0, -EINVAL (@size cuts into the header, or
 * there is no header yet), -EISDIR, -EFBIG, -ENOSPC ...
 */
int hmf_node_npy_resize(struct hmf_node *n, uint64_t size);

#endif
