/* SPDX-License-Identifier: MIT */
/*
 * layout.h - an array's dtype, shape and order as text (the mount's
 * user.hmf.dtype / user.hmf.shape / user.hmf.order / user.hmf.meta
 * attributes), and the rules for changing them on an existing array.
 */
#ifndef HMF_LAYOUT_H
#define HMF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "node.h"

struct hmf_layout {
	bool has_dtype, has_shape, has_order;
	struct hmf_dtype dtype;
	int ndim;
	uint64_t shape[HMF_MAX_NDIM];
	char order;
};

/* Which part of the layout a text names. */
enum hmf_layout_part {
	HMF_LAYOUT_DTYPE,
	HMF_LAYOUT_SHAPE, /* JSON list: "[1000,3]" */
	HMF_LAYOUT_ORDER, /* "C" or "F" */
	HMF_LAYOUT_META,  /* {"dtype":..,"shape":..,"order":..}, any subset */
};

/*
 * The part called @name ("dtype", "shape", "order", "meta") in *@part.
 * Returns 0 or -ENOENT.
 */
int hmf_layout_part_from_name(const char *name, enum hmf_layout_part *part);

/*
 * Parse @len bytes of @text (not NUL-terminated; surrounding white space
 * ignored) as @part into @out. Returns 0 or -EINVAL with a message.
 */
int hmf_layout_parse(enum hmf_layout_part part, const char *text, size_t len,
		     struct hmf_layout *out);

/* @m's @part as text in a malloc'ed string (caller frees). */
int hmf_layout_format(const struct hmf_meta *m, enum hmf_layout_part part,
		      char **out);

/*
 * Apply @l to array @n: a new dtype reinterprets the bytes as a 1-D array
 * (the data size must divide by its itemsize); a new shape must hold
 * exactly the data's bytes, or, on an empty array, allocates zero-filled
 * data of that size; order switches between C and F. All or nothing.
 * Returns 0, -EINVAL (with a message), -EISDIR, -EOVERFLOW, -EROFS ...
 */
int hmf_node_set_layout(struct hmf_node *n, const struct hmf_layout *l);

#endif
