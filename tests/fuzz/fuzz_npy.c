/* SPDX-License-Identifier: MIT */
/*
 * fuzz_npy.c - the NPY header parser. hmf_npy_header_len() and
 * hmf_npy_parse() must agree; every prefix of an accepted header is
 * "incomplete" (-EAGAIN), as the mount's NPY view relies on while a header
 * is being written; and what parses must format (hmf_npy_format()) into a
 * header that parses to the same dtype, shape and order, and formats to
 * the same bytes again.
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

static void check_valid(const struct hmf_npy *n, size_t total)
{
	struct hmf_dtype again;
	size_t i, sum = 0;

	FUZZ_CHECK(n->header_len == total, "header_len %zu, expected %zu",
		   n->header_len, total);
	FUZZ_CHECK(n->major >= 1 && n->major <= 3 && n->minor == 0,
		   "version %d.%d", n->major, n->minor);
	FUZZ_CHECK(n->ndim >= 0 && n->ndim <= HMF_MAX_NDIM, "ndim %d", n->ndim);
	FUZZ_CHECK(hmf_dtype_parse(n->dtype.str, &again) == 0 &&
			   hmf_dtype_equal(&again, &n->dtype),
		   "dtype '%s' is not canonical", n->dtype.str);
	FUZZ_CHECK(n->nfields <= HMF_NPY_FIELD_MAX, "%zu fields", n->nfields);
	for (i = 0; i < n->nfields; i++) {
		FUZZ_CHECK(n->fields[i].name && n->fields[i].name[0],
			   "field %zu has no name", i);
		FUZZ_CHECK(n->fields[i].offset == sum,
			   "field %zu at %zu, expected %zu", i,
			   n->fields[i].offset, sum);
		sum += n->fields[i].dtype.itemsize;
	}
	if (n->nfields)
		FUZZ_CHECK(n->dtype.kind == 'V' && n->dtype.itemsize == sum,
			   "structured item '%s' of %zu field bytes",
			   n->dtype.str, sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hmf_npy n, again;
	size_t total = 0, total2, len, len2, cuts[5], i;
	char *buf, *buf2;
	int rc, rc_len;

	rc_len = hmf_npy_header_len(data, size, &total);
	FUZZ_RC(rc_len, -EAGAIN, -EINVAL);
	if (rc_len == 0)
		FUZZ_CHECK(total >= 10 && total <= HMF_NPY_HEADER_MAX,
			   "header length %zu", total);
	rc = hmf_npy_parse(data, size, &n);
	FUZZ_RC(rc, -EAGAIN, -EINVAL, -ENOMEM);
	if (rc_len < 0)
		FUZZ_CHECK(rc == rc_len, "header_len %d but parse %d", rc_len,
			   rc);
	else if (size < total)
		FUZZ_CHECK(rc == -EAGAIN, "incomplete header: %d", rc);
	if (rc < 0)
		return 0;
	check_valid(&n, total);

	/* every prefix is incomplete, never an error */
	cuts[0] = 0;
	cuts[1] = 7;
	cuts[2] = 9;
	cuts[3] = 11;
	cuts[4] = total - 1;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct hmf_npy part;
		char *copy;

		if (cuts[i] >= total)
			continue;
		/* a copy of exactly that size, so that ASan sees overreads */
		copy = malloc(cuts[i] ? cuts[i] : 1);
		FUZZ_CHECK(copy != NULL, "out of memory");
		memcpy(copy, data, cuts[i]);
		rc = hmf_npy_parse(copy, cuts[i], &part);
		FUZZ_CHECK(rc == -EAGAIN, "prefix of %zu bytes of %zu: %d (%s)",
			   cuts[i], total, rc, fuzz_errno(rc));
		free(copy);
	}

	rc = hmf_npy_format(&n.dtype, n.fortran_order, n.ndim, n.shape, &buf,
			    &len);
	FUZZ_CHECK(rc == 0, "format: %d", rc);
	FUZZ_CHECK(len % 64 == 0 && len >= 64 && buf[len - 1] == '\n',
		   "formatted header of %zu bytes", len);
	FUZZ_CHECK(hmf_npy_header_len(buf, len, &total2) == 0 && total2 == len,
		   "formatted header's length field");
	rc = hmf_npy_parse(buf, len, &again);
	FUZZ_CHECK(rc == 0, "formatted header does not parse: %.*s", (int)len,
		   buf);
	check_valid(&again, len);
	FUZZ_CHECK(hmf_dtype_equal(&n.dtype, &again.dtype) &&
			   n.fortran_order == again.fortran_order &&
			   n.ndim == again.ndim &&
			   memcmp(n.shape, again.shape,
				  (size_t)n.ndim * sizeof(n.shape[0])) == 0 &&
			   again.nfields == 0,
		   "formatted header differs: %.*s", (int)len, buf);
	rc = hmf_npy_format(&again.dtype, again.fortran_order, again.ndim,
			    again.shape, &buf2, &len2);
	FUZZ_CHECK(rc == 0 && len2 == len && memcmp(buf, buf2, len) == 0,
		   "format is not stable");
	free(buf2);
	free(buf);
	hmf_npy_fini(&again);
	hmf_npy_fini(&n);
	return 0;
}
