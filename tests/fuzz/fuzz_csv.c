/* SPDX-License-Identifier: MIT */
/*
 * fuzz_csv.c - the CSV reader. Two option bytes, then the file:
 *   byte 0: bit 0 no header; bits 1-3 the delimiter; bits 4-7 which
 *           columns are wanted (all, first, last, first twice, reversed,
 *           an unknown one)
 *   byte 1: an explicit dtype (low 4 bits) for one column (high 4 bits)
 * The file goes into a memfd (the reader maps it); hmf_csv_read() runs
 * with 1 and 2 threads (so 2 and 4 chunks: a small input is cut in odd
 * places) and must give the same result both times: the same error and
 * message, or the same columns, dtypes and bytes. hmf_csv_names() must
 * agree with the header row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "hmf.h"
#include "hmf/table.h"

static const char delimiters[8] = { ',', ';', '\t', '|', ' ', ':', 0, 'x' };
static const char *const dtypes[16] = {
	NULL,  "|b1", "|i1", "<i2", ">i4", "<i8", "|u1", "<u2",
	">u8", "<f4", ">f8", "|S1", "|S8", "<f2", "<c8", NULL,
};
static const unsigned thread_counts[] = { 1, 2 };

static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	memfd = memfd_create("fuzz.csv", MFD_CLOEXEC);
	FUZZ_CHECK(memfd >= 0, "memfd_create");
	return 0;
}

struct result {
	int rc;
	char msg[1024];
	struct hmf_table t;
};

static void read_csv(const struct hmf_table_opts *o, struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->rc = hmf_csv_read(memfd, o, NULL, &r->t);
	FUZZ_RC(r->rc, -EINVAL, -ENOMEM, -EIO);
	snprintf(r->msg, sizeof(r->msg), "%s", r->rc < 0 ? hmf_errmsg() : "");
	if (r->rc < 0)
		FUZZ_CHECK(r->t.ncols == 0 && r->t.cols == NULL,
			   "a failed read filled the table");
}

static void check_table(const struct hmf_table *t)
{
	const struct hmf_column *c;
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		c = &t->cols[i];
		FUZZ_CHECK(c->name != NULL, "column %zu has no name", i);
		FUZZ_CHECK(c->stride == c->dtype.itemsize,
			   "column '%s': stride %zu, item %zu", c->name,
			   c->stride, c->dtype.itemsize);
		FUZZ_CHECK(t->nrows == 0 || c->data, "column '%s': no data",
			   c->name);
	}
}

static void check_same(const struct result *a, const struct result *b,
		       unsigned threads)
{
	const struct hmf_column *x, *y;
	size_t i;

	FUZZ_CHECK(a->rc == b->rc, "1 thread: %d (%s), %u threads: %d (%s)",
		   a->rc, a->msg, threads, b->rc, b->msg);
	FUZZ_CHECK(strcmp(a->msg, b->msg) == 0,
		   "messages differ:\n  1 thread:  %s\n  %u threads: %s",
		   a->msg, threads, b->msg);
	if (a->rc < 0)
		return;
	FUZZ_CHECK(a->t.nrows == b->t.nrows && a->t.ncols == b->t.ncols,
		   "1 thread: %llu rows x %zu, %u threads: %llu x %zu",
		   (unsigned long long)a->t.nrows, a->t.ncols, threads,
		   (unsigned long long)b->t.nrows, b->t.ncols);
	for (i = 0; i < a->t.ncols; i++) {
		x = &a->t.cols[i];
		y = &b->t.cols[i];
		FUZZ_CHECK(strcmp(x->name, y->name) == 0, "column names");
		FUZZ_CHECK(hmf_dtype_equal(&x->dtype, &y->dtype),
			   "column '%s': %s with 1 thread, %s with %u", x->name,
			   x->dtype.str, y->dtype.str, threads);
		FUZZ_CHECK(a->t.nrows == 0 ||
				   memcmp(x->data, y->data,
					  a->t.nrows * x->stride) == 0,
			   "column '%s' (%s): values differ with %u threads",
			   x->name, x->dtype.str, threads);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hmf_table_opts o = { 0 };
	struct hmf_dtype dt;
	struct result first, other;
	const char *want[2], *dtype_col[1];
	char **names = NULL;
	size_t nnames = 0, i;
	uint8_t b0, b1;
	int rc;

	if (size < 2)
		return 0;
	b0 = data[0];
	b1 = data[1];
	data += 2;
	size -= 2;
	FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
	FUZZ_CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");

	o.header = !(b0 & 1);
	o.delimiter = delimiters[(b0 >> 1) & 7];
	rc = hmf_csv_names(memfd, &o, &names, &nnames);
	FUZZ_RC(rc, -EINVAL, -ENOMEM, -EIO);
	if (rc == 0) {
		FUZZ_CHECK(nnames > 0, "no columns");
		for (i = 0; i < nnames; i++)
			FUZZ_CHECK(names[i] != NULL, "name %zu is NULL", i);
		switch (b0 >> 4) {
		case 1:
			want[0] = names[0];
			o.nwant = 1;
			break;
		case 2:
			want[0] = names[nnames - 1];
			o.nwant = 1;
			break;
		case 3:
			want[0] = want[1] = names[0];
			o.nwant = 2;
			break;
		case 4:
			want[0] = names[nnames - 1];
			want[1] = names[0];
			o.nwant = 2;
			break;
		case 5:
			want[0] = "no such column";
			o.nwant = 1;
			break;
		}
		if (o.nwant)
			o.want = want;
		if (dtypes[b1 & 15]) {
			FUZZ_CHECK(hmf_dtype_parse(dtypes[b1 & 15], &dt) == 0,
				   "dtype table");
			dtype_col[0] = names[(b1 >> 4) % nnames];
			o.dtype_cols = dtype_col;
			o.dtypes = &dt;
			o.ndtypes = 1;
		}
	}

	o.threads = 1;
	read_csv(&o, &first);
	if (rc < 0)
		FUZZ_CHECK(first.rc == rc, "names failed (%d) but read %d", rc,
			   first.rc);
	if (first.rc == 0) {
		check_table(&first.t);
		if (!o.want)
			for (i = 0; i < first.t.ncols; i++)
				FUZZ_CHECK(
					i < nnames &&
						strcmp(first.t.cols[i].name,
						       names[i]) == 0,
					"column %zu: names and read disagree",
					i);
	}
	for (i = 1; i < sizeof(thread_counts) / sizeof(thread_counts[0]); i++) {
		o.threads = thread_counts[i];
		read_csv(&o, &other);
		check_same(&first, &other, o.threads);
		hmf_table_fini(&other.t);
	}
	hmf_table_fini(&first.t);
	hmf_table_names_free(names, nnames);
	return 0;
}
