/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dtype.c - dtype and shape texts: hmf_dtype_parse() of the input as
 * a string, hmf_meta_parse_shape() of its bytes, and hmf_layout_parse()
 * of them as each layout part (the mount's user.hmf.* values). Accepted
 * values must be canonical and in range, accepted JSON must be the whole
 * text, and values must come back unchanged from their formatted text
 * (hmf_layout_format()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hmf.h"

#define DIM_LIMIT (1ull << 53) /* what a .hmf holds exactly */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static void check_dtype(const struct hmf_dtype *d)
{
	struct hmf_dtype again;
	uint64_t nbytes;
	uint64_t one = 1;

	FUZZ_CHECK(strlen(d->str) < HMF_DTYPE_STR_MAX, "str too long");
	FUZZ_CHECK(d->kind && strchr("biufcSUVMm", d->kind), "kind %d",
		   d->kind);
	FUZZ_CHECK(d->byteorder == '<' || d->byteorder == '>' ||
			   d->byteorder == '|',
		   "byteorder %d", d->byteorder);
	FUZZ_CHECK(d->itemsize > 0, "itemsize 0 for %s", d->str);
	FUZZ_CHECK(d->str[0] == d->byteorder && d->str[1] == d->kind,
		   "str '%s' does not match kind and byte order", d->str);
	FUZZ_CHECK(hmf_dtype_parse(d->str, &again) == 0,
		   "canonical '%s' does not parse", d->str);
	FUZZ_CHECK(strcmp(again.str, d->str) == 0 && again.kind == d->kind &&
			   again.byteorder == d->byteorder &&
			   again.itemsize == d->itemsize,
		   "'%s' parses to '%s'", d->str, again.str);
	FUZZ_CHECK(hmf_dtype_equal(d, &again), "not equal to itself");
	FUZZ_CHECK(hmf_dtype_nbytes(d, 1, &one, &nbytes) == 0 &&
			   nbytes == d->itemsize,
		   "nbytes of one item");
}

static void check_shape(int ndim, const uint64_t *shape)
{
	int i;

	FUZZ_CHECK(ndim >= 0 && ndim <= HMF_MAX_NDIM, "ndim %d", ndim);
	for (i = 0; i < ndim; i++)
		FUZZ_CHECK(shape[i] < DIM_LIMIT, "dimension %llu",
			   (unsigned long long)shape[i]);
}

/*
 * An accepted JSON text is one value and nothing else: white space aside
 * (cJSON skips every byte up to ' '), it ends with the value's @close.
 */
static void check_whole(const uint8_t *data, size_t size, char close)
{
	while (size && data[size - 1] <= ' ')
		size--;
	FUZZ_CHECK(size && data[size - 1] == close,
		   "accepted '%.*s', which has bytes after the JSON value",
		   (int)size, (const char *)data);
}

static void check_parse_shape(const uint8_t *data, size_t size)
{
	uint64_t shape[HMF_MAX_NDIM], again[HMF_MAX_NDIM], nbytes;
	char text[HMF_MAX_NDIM * 24 + 4];
	struct hmf_dtype u1;
	size_t off;
	int ndim, ndim2, i, rc;

	rc = hmf_meta_parse_shape((const char *)data, size, &ndim, shape);
	FUZZ_RC(rc, -EINVAL, -ENOMEM);
	if (rc < 0)
		return;
	check_whole(data, size, ']');
	check_shape(ndim, shape);
	off = (size_t)snprintf(text, sizeof(text), "[");
	for (i = 0; i < ndim; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"%s%llu", i ? ", " : "",
					(unsigned long long)shape[i]);
	snprintf(text + off, sizeof(text) - off, "]");
	rc = hmf_meta_parse_shape(text, strlen(text), &ndim2, again);
	FUZZ_CHECK(rc == 0 && ndim2 == ndim &&
			   memcmp(shape, again,
				  (size_t)ndim * sizeof(*shape)) == 0,
		   "shape %s does not parse back", text);
	/* no overflow check here; the size computation must not trap */
	FUZZ_CHECK(hmf_dtype_parse("|u1", &u1) == 0, "|u1");
	rc = hmf_dtype_nbytes(&u1, ndim, shape, &nbytes);
	FUZZ_RC(rc, -EOVERFLOW);
}

static void check_layout(enum hmf_layout_part part, const uint8_t *data,
			 size_t size)
{
	struct hmf_layout l, again;
	struct hmf_meta m;
	char *text;
	int rc;

	rc = hmf_layout_parse(part, (const char *)data, size, &l);
	FUZZ_RC(rc, -EINVAL, -ENOMEM);
	if (rc < 0)
		return;
	switch (part) {
	case HMF_LAYOUT_DTYPE:
		FUZZ_CHECK(l.has_dtype && !l.has_shape && !l.has_order,
			   "dtype part sets other parts");
		break;
	case HMF_LAYOUT_SHAPE:
		FUZZ_CHECK(!l.has_dtype && l.has_shape && !l.has_order,
			   "shape part sets other parts");
		check_whole(data, size, ']');
		break;
	case HMF_LAYOUT_ORDER:
		FUZZ_CHECK(!l.has_dtype && !l.has_shape && l.has_order,
			   "order part sets other parts");
		break;
	case HMF_LAYOUT_META:
		check_whole(data, size, '}');
		break;
	}
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	if (l.has_dtype) {
		check_dtype(&l.dtype);
		m.dtype = l.dtype;
	}
	if (l.has_shape) {
		check_shape(l.ndim, l.shape);
		m.ndim = l.ndim;
		memcpy(m.shape, l.shape, sizeof(m.shape));
	}
	if (l.has_order) {
		FUZZ_CHECK(l.order == 'C' || l.order == 'F', "order %d",
			   l.order);
		m.order = l.order;
	}
	rc = hmf_layout_format(&m, part, &text);
	FUZZ_CHECK(rc == 0, "format part %d: %d", (int)part, rc);
	rc = hmf_layout_parse(part, text, strlen(text), &again);
	FUZZ_CHECK(rc == 0, "formatted part %d '%s' does not parse", (int)part,
		   text);
	if (l.has_dtype || part == HMF_LAYOUT_META)
		FUZZ_CHECK(again.has_dtype &&
				   strcmp(again.dtype.str, m.dtype.str) == 0,
			   "dtype '%s' -> '%s'", m.dtype.str, text);
	if (l.has_shape || part == HMF_LAYOUT_META)
		FUZZ_CHECK(again.has_shape && again.ndim == m.ndim &&
				   memcmp(again.shape, m.shape,
					  (size_t)m.ndim *
						  sizeof(m.shape[0])) == 0,
			   "shape -> '%s' differs", text);
	if (l.has_order || part == HMF_LAYOUT_META)
		FUZZ_CHECK(again.has_order && again.order == m.order,
			   "order '%c' -> '%s'", m.order, text);
	free(text);
	hmf_meta_fini(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum hmf_layout_part part;
	struct hmf_dtype d;
	char *s = fuzz_strndup(data, size);
	int rc;

	rc = hmf_dtype_parse(s, &d);
	FUZZ_RC(rc, -EINVAL);
	if (rc == 0)
		check_dtype(&d);
	rc = hmf_layout_part_from_name(s, &part);
	FUZZ_RC(rc, -ENOENT);
	free(s);

	check_parse_shape(data, size);
	check_layout(HMF_LAYOUT_DTYPE, data, size);
	check_layout(HMF_LAYOUT_SHAPE, data, size);
	check_layout(HMF_LAYOUT_ORDER, data, size);
	check_layout(HMF_LAYOUT_META, data, size);
	return 0;
}
