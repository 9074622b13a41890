/* SPDX-License-Identifier: MIT */
/*
 * fuzz_request.c - the ingest request parser (DESIGN section 5). An
 * accepted request must be complete and checked (a source, a destination
 * that splits, valid array names, non-empty column lists, canonical
 * dtypes); its compacted text (q->text, what job status shows) must parse
 * to an equal request; and hmf_ingest_status_json() must describe it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hmf.h"
#include "hmf/ingest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_valid(const struct hmf_ingest_request *q)
{
	const char *names[HMF_PATH_MAX / 2];
	char buf[HMF_PATH_MAX];
	struct hmf_dtype d;
	size_t i, k;

	FUZZ_CHECK(q->source && q->source[0] == '/', "source '%s'",
		   q->source ? q->source : "(null)");
	FUZZ_CHECK(q->format == HMF_INGEST_CSV || q->format == HMF_INGEST_NPY ||
			   q->format == HMF_INGEST_HMF,
		   "format %d", (int)q->format);
	if (q->format == HMF_INGEST_HMF)
		FUZZ_CHECK(hmf_path_split(q->source, buf, sizeof(buf), names,
					  HMF_PATH_MAX / 2) >= 0,
			   "hmf: source '%s' does not split", q->source);
	FUZZ_CHECK(q->dest && hmf_path_split(q->dest, buf, sizeof(buf), names,
					     HMF_PATH_MAX / 2) >= 0,
		   "dest does not split");
	FUZZ_CHECK(q->delimiter && !strchr("\"\r\n", q->delimiter),
		   "delimiter %d", q->delimiter);
	FUZZ_CHECK(q->narrays > 0 && q->arrays, "no arrays");
	for (i = 0; i < q->narrays; i++) {
		const struct hmf_ingest_array *a = &q->arrays[i];

		FUZZ_CHECK(a->name && hmf_name_check(a->name) == 0,
			   "array name");
		FUZZ_CHECK(a->ncols > 0 && (!a->one_column || a->ncols == 1),
			   "array '%s': %zu columns", a->name, a->ncols);
		for (k = 0; k < a->ncols; k++)
			FUZZ_CHECK(a->cols[k] && a->cols[k][0],
				   "array '%s': empty column name", a->name);
	}
	for (i = 0; i < q->ndtypes; i++) {
		FUZZ_CHECK(q->dtype_cols[i], "dtype column %zu", i);
		FUZZ_CHECK(hmf_dtype_parse(q->dtypes[i].str, &d) == 0 &&
				   hmf_dtype_equal(&d, &q->dtypes[i]),
			   "dtype '%s' is not canonical", q->dtypes[i].str);
	}
	FUZZ_CHECK(!q->groupby || q->groupby[0], "empty groupby");
	FUZZ_CHECK(!q->orderby || q->orderby[0], "empty orderby");
	FUZZ_CHECK(q->threads <= 1024, "threads %u", q->threads);
	FUZZ_CHECK(q->text != NULL, "no text");
}

static void check_equal(const struct hmf_ingest_request *a,
			const struct hmf_ingest_request *b)
{
	size_t i, k;

	FUZZ_CHECK(same_str(a->source, b->source) && a->format == b->format,
		   "source or format changed: '%s' -> '%s'", a->source,
		   b->source);
	FUZZ_CHECK(a->delimiter == b->delimiter && a->header == b->header,
		   "csv options changed");
	FUZZ_CHECK(same_str(a->dest, b->dest), "dest changed");
	FUZZ_CHECK(a->narrays == b->narrays, "%zu arrays became %zu",
		   a->narrays, b->narrays);
	for (i = 0; i < a->narrays; i++) {
		FUZZ_CHECK(same_str(a->arrays[i].name, b->arrays[i].name) &&
				   a->arrays[i].ncols == b->arrays[i].ncols &&
				   a->arrays[i].one_column ==
					   b->arrays[i].one_column,
			   "array %zu changed", i);
		for (k = 0; k < a->arrays[i].ncols; k++)
			FUZZ_CHECK(same_str(a->arrays[i].cols[k],
					    b->arrays[i].cols[k]),
				   "array %zu column %zu changed", i, k);
	}
	FUZZ_CHECK(a->ndtypes == b->ndtypes, "dtypes count changed");
	for (i = 0; i < a->ndtypes; i++)
		FUZZ_CHECK(
			same_str(a->dtype_cols[i], b->dtype_cols[i]) &&
				hmf_dtype_equal(&a->dtypes[i], &b->dtypes[i]),
			"dtype %zu changed", i);
	FUZZ_CHECK(same_str(a->groupby, b->groupby) &&
			   same_str(a->orderby, b->orderby) &&
			   a->ascending == b->ascending,
		   "groupby/orderby changed");
	FUZZ_CHECK(a->threads == b->threads && a->overwrite == b->overwrite,
		   "threads/overwrite changed");
	FUZZ_CHECK(same_str(a->text, b->text), "text not stable:\n  %s\n  %s",
		   a->text, b->text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hmf_ingest_request *q, *again;
	struct hmf_ingest_progress p;
	char *status;
	int rc;

	rc = hmf_ingest_request_parse((const char *)data, size, &q);
	/* path checks may also say ENAMETOOLONG or E2BIG (too deep) */
	FUZZ_RC(rc, -EINVAL, -EFBIG, -ENOMEM, -ENAMETOOLONG, -E2BIG);
	if (rc < 0)
		return 0;
	check_valid(q);
	rc = hmf_ingest_request_parse(q->text, strlen(q->text), &again);
	FUZZ_CHECK(rc == 0, "the request's own text does not parse: %s",
		   q->text);
	check_equal(q, again);
	hmf_ingest_request_free(again);

	memset(&p, 0, sizeof(p));
	status = hmf_ingest_status_json(7, "running", q, &p, 1.5, "an error");
	FUZZ_CHECK(status && strstr(status, "\"request\":{"),
		   "status without the request: %s",
		   status ? status : "(null)");
	free(status);
	hmf_ingest_request_free(q);
	return 0;
}
