/* SPDX-License-Identifier: MIT */
/*
 * fuzz_meta.c - the .hmf metadata parser. Whatever hmf_meta_parse()
 * accepts must be valid (a key check, a known dtype, a shape that does not
 * overflow), must format and parse back to an equal struct, and must
 * format to the same text the second time. hmf_meta_copy() must copy it
 * exactly, and hmf_meta_derive_shape() must describe exactly the bytes it
 * is given (DESIGN section 2: metadata never lies, no byte is lost).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hmf.h"

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

	FUZZ_CHECK(strlen(d->str) < HMF_DTYPE_STR_MAX, "dtype str too long");
	FUZZ_CHECK(hmf_dtype_parse(d->str, &again) == 0,
		   "canonical dtype '%s' does not parse", d->str);
	FUZZ_CHECK(strcmp(again.str, d->str) == 0 && again.kind == d->kind &&
			   again.byteorder == d->byteorder &&
			   again.itemsize == d->itemsize,
		   "dtype '%s' parses to '%s'", d->str, again.str);
}

static void check_valid(const struct hmf_meta *m)
{
	uint64_t nbytes;
	size_t i;

	FUZZ_CHECK(m->kind == HMF_KIND_GROUP || m->kind == HMF_KIND_ARRAY,
		   "kind %d", (int)m->kind);
	if (m->kind == HMF_KIND_ARRAY) {
		check_dtype(&m->dtype);
		FUZZ_CHECK(m->ndim >= 0 && m->ndim <= HMF_MAX_NDIM, "ndim %d",
			   m->ndim);
		FUZZ_CHECK(m->order == 'C' || m->order == 'F', "order %d",
			   m->order);
		FUZZ_CHECK(hmf_dtype_nbytes(&m->dtype, m->ndim, m->shape,
					    &nbytes) == 0,
			   "accepted shape overflows");
		FUZZ_CHECK(!m->npy_header_len || m->npy_header,
			   "npy_header_len %zu without a header",
			   m->npy_header_len);
	}
	FUZZ_CHECK(m->nattrs == 0 || m->attrs, "attrs NULL");
	for (i = 0; i < m->nattrs; i++) {
		FUZZ_CHECK(hmf_attr_key_check(m->attrs[i].key) == 0,
			   "accepted a bad key");
		FUZZ_CHECK(m->attrs[i].len <= HMF_ATTR_VALUE_MAX,
			   "value of %zu bytes", m->attrs[i].len);
		FUZZ_CHECK(m->attrs[i].val[m->attrs[i].len] == '\0',
			   "value not NUL-terminated");
		FUZZ_CHECK(hmf_meta_attr_get(m, m->attrs[i].key) ==
				   &m->attrs[i],
			   "duplicate key '%s'", m->attrs[i].key);
	}
}

static void check_equal(const struct hmf_meta *a, const struct hmf_meta *b,
			const char *how)
{
	size_t i;

	FUZZ_CHECK(a->kind == b->kind, "%s: kind", how);
	if (a->kind == HMF_KIND_ARRAY) {
		FUZZ_CHECK(strcmp(a->dtype.str, b->dtype.str) == 0 &&
				   a->dtype.itemsize == b->dtype.itemsize,
			   "%s: dtype %s != %s", how, a->dtype.str,
			   b->dtype.str);
		FUZZ_CHECK(a->ndim == b->ndim &&
				   memcmp(a->shape, b->shape,
					  (size_t)a->ndim *
						  sizeof(a->shape[0])) == 0,
			   "%s: shape", how);
		FUZZ_CHECK(a->order == b->order, "%s: order", how);
		FUZZ_CHECK(!a->npy_header == !b->npy_header, "%s: npy_header",
			   how);
		FUZZ_CHECK(!a->npy_header ||
				   (a->npy_header_len == b->npy_header_len &&
				    memcmp(a->npy_header, b->npy_header,
					   a->npy_header_len) == 0),
			   "%s: npy_header differs", how);
	}
	FUZZ_CHECK(a->nattrs == b->nattrs, "%s: %zu attributes, then %zu", how,
		   a->nattrs, b->nattrs);
	for (i = 0; i < a->nattrs; i++) {
		FUZZ_CHECK(strcmp(a->attrs[i].key, b->attrs[i].key) == 0,
			   "%s: attribute key '%s' became '%s'", how,
			   a->attrs[i].key, b->attrs[i].key);
		FUZZ_CHECK(a->attrs[i].len == b->attrs[i].len &&
				   memcmp(a->attrs[i].val, b->attrs[i].val,
					  a->attrs[i].len) == 0,
			   "%s: value of '%s' changed (%zu -> %zu bytes)", how,
			   a->attrs[i].key, a->attrs[i].len, b->attrs[i].len);
	}
	FUZZ_CHECK(!a->extra == !b->extra &&
			   (!a->extra || strcmp(a->extra, b->extra) == 0),
		   "%s: unknown keys '%s' became '%s'", how,
		   a->extra ? a->extra : "(none)",
		   b->extra ? b->extra : "(none)");
}

static void check_derive(const struct hmf_meta *m, uint64_t size)
{
	struct hmf_meta c;
	uint64_t nbytes = 0;

	FUZZ_CHECK(hmf_meta_copy(&c, m) == 0, "copy");
	hmf_meta_derive_shape(&c, size);
	FUZZ_CHECK(hmf_dtype_nbytes(&c.dtype, c.ndim, c.shape, &nbytes) == 0 &&
			   nbytes == size,
		   "derived shape of %s holds %llu bytes, not %llu",
		   c.dtype.str, (unsigned long long)nbytes,
		   (unsigned long long)size);
	check_dtype(&c.dtype);
	hmf_meta_fini(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hmf_meta m, again, copy;
	char *text, *text2;
	uint64_t nbytes, sizes[8];
	size_t i;
	int rc;

	rc = hmf_meta_parse((const char *)data, size, "fuzz", &m);
	FUZZ_RC(rc, -EIO, -ENOTSUP, -ENOMEM);
	if (rc < 0)
		return 0;
	check_valid(&m);

	rc = hmf_meta_format(&m, &text);
	FUZZ_CHECK(rc == 0, "format: %d", rc);
	rc = hmf_meta_parse(text, strlen(text), "fuzz (formatted)", &again);
	FUZZ_CHECK(rc == 0, "formatted metadata does not parse again: %s",
		   text);
	check_equal(&m, &again, "parse -> format -> parse");
	rc = hmf_meta_format(&again, &text2);
	FUZZ_CHECK(rc == 0, "format: %d", rc);
	FUZZ_CHECK(strcmp(text, text2) == 0,
		   "format is not stable:\n  %s\n  %s", text, text2);
	free(text2);
	free(text);
	hmf_meta_fini(&again);

	rc = hmf_meta_copy(&copy, &m);
	FUZZ_CHECK(rc == 0, "copy: %d", rc);
	check_equal(&m, &copy, "copy");
	hmf_meta_fini(&copy);

	if (m.kind == HMF_KIND_ARRAY) {
		hmf_dtype_nbytes(&m.dtype, m.ndim, m.shape, &nbytes);
		sizes[0] = 0;
		sizes[1] = 1;
		sizes[2] = 7;
		sizes[3] = m.dtype.itemsize;
		sizes[4] = m.dtype.itemsize * 6;
		sizes[5] = nbytes < (1ull << 40) ? nbytes : 4096;
		sizes[6] = nbytes < (1ull << 40) ? nbytes * 2 : 8192;
		sizes[7] = nbytes < (1ull << 40) ? nbytes + 1 : 12288;
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			check_derive(&m, sizes[i]);
	}
	hmf_meta_fini(&m);
	return 0;
}
