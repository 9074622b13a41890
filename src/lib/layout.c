/* SPDX-License-Identifier: MIT */
/*
 * layout.c - an array's dtype/shape/order as text, and the rules for
 * changing them in place (reinterpret, reshape, or allocate an empty
 * array). These are what the mount's user.hmf.* attributes mean.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmf/error.h"
#include "hmf/layout.h"

static const char *const part_names[] = { "dtype", "shape", "order", "meta" };

int hmf_layout_part_from_name(const char *name, enum hmf_layout_part *part)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(name, part_names[i]) == 0) {
			*part = (enum hmf_layout_part)i;
			return 0;
		}
	return -ENOENT;
}

int hmf_layout_parse(enum hmf_layout_part part, const char *text, size_t len,
		     struct hmf_layout *out)
{
	char buf[HMF_DTYPE_STR_MAX];
	struct hmf_layout l;
	int rc = 0;

	memset(&l, 0, sizeof(l));
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	while (len && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	switch (part) {
	case HMF_LAYOUT_DTYPE:
		if (len >= sizeof(buf))
			return hmf_err(-EINVAL, "dtype too long");
		memcpy(buf, text, len);
		buf[len] = '\0';
		rc = hmf_dtype_parse(buf, &l.dtype);
		l.has_dtype = true;
		break;
	case HMF_LAYOUT_SHAPE:
		rc = hmf_meta_parse_shape(text, len, &l.ndim, l.shape);
		l.has_shape = true;
		break;
	case HMF_LAYOUT_ORDER:
		if (len != 1 || (text[0] != 'C' && text[0] != 'F'))
			return hmf_err(-EINVAL, "order must be C or F");
		l.order = text[0];
		l.has_order = true;
		break;
	case HMF_LAYOUT_META:
		rc = hmf_meta_parse_layout(text, len, &l.has_dtype, &l.dtype,
					   &l.has_shape, &l.ndim, l.shape,
					   &l.has_order, &l.order);
		break;
	}
	if (rc < 0)
		return rc;
	*out = l;
	return 0;
}

static int format_shape(const struct hmf_meta *m, char *buf, size_t size)
{
	size_t off = 0;
	int i;

	off += (size_t)snprintf(buf, size, "[");
	for (i = 0; i < m->ndim && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%llu",
					i ? "," : "",
					(unsigned long long)m->shape[i]);
	if (off < size)
		off += (size_t)snprintf(buf + off, size - off, "]");
	return off < size ? 0 : -ERANGE;
}

int hmf_layout_format(const struct hmf_meta *m, enum hmf_layout_part part,
		      char **out)
{
	char shape[HMF_MAX_NDIM * 21 + 4], *s = NULL;
	int rc;

	if (m->kind != HMF_KIND_ARRAY)
		return -ENODATA;
	rc = format_shape(m, shape, sizeof(shape));
	if (rc < 0)
		return rc;
	switch (part) {
	case HMF_LAYOUT_DTYPE:
		s = strdup(m->dtype.str);
		break;
	case HMF_LAYOUT_SHAPE:
		s = strdup(shape);
		break;
	case HMF_LAYOUT_ORDER:
		s = strdup(m->order == 'F' ? "F" : "C");
		break;
	case HMF_LAYOUT_META:
		if (asprintf(&s,
			     "{\"dtype\":\"%s\",\"shape\":%s,\"order\":\"%c\"}",
			     m->dtype.str, shape, m->order) < 0)
			s = NULL;
		break;
	}
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

struct apply_args {
	struct hmf_node *n;
	const struct hmf_layout *l;
};

static int apply_layout(struct hmf_meta *m, void *arg)
{
	const struct hmf_layout *l = ((struct apply_args *)arg)->l;
	struct hmf_node *n = ((struct apply_args *)arg)->n;
	struct hmf_meta next = *m;
	uint64_t size, want;
	struct stat st;
	int fd, rc;

	rc = hmf_node_stat(n, &st);
	if (rc < 0)
		return rc;
	size = (uint64_t)st.st_size;
	if (l->has_dtype) {
		if (size % l->dtype.itemsize)
			return hmf_err(
				-EINVAL,
				"dtype %s: %llu bytes of data do not divide into items of %zu bytes",
				l->dtype.str, (unsigned long long)size,
				l->dtype.itemsize);
		next.dtype = l->dtype;
		next.ndim = 1;
		next.shape[0] = size / l->dtype.itemsize;
	}
	if (l->has_shape) {
		next.ndim = l->ndim;
		memcpy(next.shape, l->shape, sizeof(next.shape));
		rc = hmf_dtype_nbytes(&next.dtype, next.ndim, next.shape,
				      &want);
		if (rc < 0)
			return rc;
		if (want != size && size != 0)
			return hmf_err(
				-EINVAL,
				"shape of %llu bytes does not fit the array's %llu bytes of data",
				(unsigned long long)want,
				(unsigned long long)size);
		if (want != size) {
			/* an empty array takes the shape: zero-filled data */
			rc = hmf_node_data_open(n, O_WRONLY, &fd);
			if (rc < 0)
				return rc;
			rc = ftruncate(fd, (off_t)want) < 0 ? -errno : 0;
			close(fd);
			if (rc < 0)
				return hmf_err(rc, "cannot allocate %llu bytes",
					       (unsigned long long)want);
		}
	}
	if (l->has_order)
		next.order = l->order;
	/*
	 * npy_header stays: the NPY view shows it only while it describes
	 * the layout (hmf_npy_header_for), so that cp -a, which sets
	 * user.hmf.dtype and then user.hmf.shape, still copies it.
	 */
	*m = next;
	return 0;
}

int hmf_node_set_layout(struct hmf_node *n, const struct hmf_layout *l)
{
	struct apply_args a = { n, l };

	if (hmf_node_kind(n) != HMF_KIND_ARRAY)
		return hmf_err(-EISDIR, "a group has no dtype or shape");
	return hmf_node_update(n, apply_layout, &a);
}
