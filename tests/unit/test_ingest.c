/* SPDX-License-Identifier: MIT */
/*
 * test_ingest.c - the ingest engine through its public API, without a
 * mount: requests, grouping, stable ordering (both ways, NaN last),
 * dtype promotion, overwrite, "hmf:" sources, and that a failed job
 * leaves nothing behind. Sources are written here (NPY via libhmf's own
 * writer, small CSVs by hand); equivalence with pandas on generated
 * tables is the integration test's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"
#include "hmf/ingest.h"

/* Write @text as @name in the fixture's base directory; its path. */
static char *source(struct fixture *fx, const char *name, const void *data,
		    size_t len)
{
	int fd = open(fx->base, O_RDONLY | O_DIRECTORY);
	char *path;

	assert_true(fd >= 0);
	write_bytes(fd, name, data, len);
	close(fd);
	assert_true(asprintf(&path, "%s/%s", fx->base, name) > 0);
	return path;
}

/* @json with its first "%s" replaced by @src (malloc'ed). */
static char *subst(const char *json, const char *src)
{
	const char *at = strstr(json, "%s");
	char *out;

	assert_non_null(at);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(at - json), json, src,
			     at + 2) > 0);
	return out;
}

/* Run @json (with %s for the source path) on the fixture's root. */
static int run(struct fixture *fx, const char *json, const char *src)
{
	struct hmf_ingest_request *q;
	struct hmf_ingest_progress p = { 0 };
	char *text;
	int fd, rc;

	text = subst(json, src);
	rc = hmf_ingest_request_parse(text, strlen(text), &q);
	free(text);
	if (rc < 0)
		return rc;
	rc = hmf_ingest_open_source(fx->r, q, &fd);
	if (rc == 0) {
		rc = hmf_ingest_validate(fx->r, q, fd);
		if (rc == 0)
			rc = hmf_ingest_run(fx->r, q, fd, &p, NULL);
		close(fd);
	}
	if (rc == 0)
		assert_int_equal(atomic_load(&p.arrays_written),
				 atomic_load(&p.arrays_total));
	hmf_ingest_request_free(q);
	return rc;
}

/* The whole array at @path: its view (caller runs hmf_view_fini). */
static void get(struct fixture *fx, const char *path, struct hmf_view *v)
{
	int rc = hmf_get_array(fx->r, path, HMF_VIEW_RDONLY, v);

	if (rc < 0)
		fail_msg("%s: %s", path, hmf_errmsg());
}

static const char csv[] = "k,t,x,s\n"
			  "2,0.5,1,ab\n"
			  "1,0.25,2,c\n"
			  "2,,3,de\n"
			  "1,0.25,4,f\n"
			  "2,0.125,5,g\n";

static void test_ingest_groupby_orderby(void **state)
{
	struct fixture *fx = *state;
	char *src = source(fx, "t.csv", csv, strlen(csv));
	struct hmf_view v;
	char *val;
	const double *d;

	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/g\",\"arrays\":{\"xt\":[\"x\",\"t\"],\"s\":\"s\"},\"groupby\":\"k\",\"orderby\":\"t\"}",
		    src),
		0);
	/* group 1: t 0.25 (x=2), 0.25 (x=4): ties keep the source order */
	get(fx, "/g/1/xt", &v);
	assert_string_equal(v.dtype.str, "<f8");
	assert_int_equal(v.ndim, 2);
	assert_int_equal(v.shape[0], 2);
	assert_int_equal(v.shape[1], 2);
	d = v.data;
	assert_true(d[0] == 2 && d[1] == 0.25 && d[2] == 4 && d[3] == 0.25);
	hmf_view_fini(&v);
	/* group 2: t 0.125 (x=5), 0.5 (x=1), NaN (x=3) last */
	get(fx, "/g/2/xt", &v);
	d = v.data;
	assert_true(d[0] == 5 && d[2] == 1 && d[4] == 3 && isnan(d[5]));
	hmf_view_fini(&v);
	get(fx, "/g/2/s", &v);
	assert_string_equal(v.dtype.str, "|S2");
	assert_int_equal(v.ndim, 1);
	assert_memory_equal(v.data, "g\0abde", 6);
	hmf_view_fini(&v);
	assert_int_equal(
		hmf_get_node_attr(fx->r, "/g", "hmf.group_names", &val, NULL),
		0);
	assert_string_equal(val, "[\"1\",\"2\"]");
	free(val);
	assert_int_equal(
		hmf_get_node_attr(fx->r, "/g", "hmf.group_sizes", &val, NULL),
		0);
	assert_string_equal(val, "[2,3]");
	free(val);
	assert_int_equal(count_tmp(fx->root), 0);
	free(src);
}

static void test_ingest_descending_keeps_ties_and_nan_last(void **state)
{
	struct fixture *fx = *state;
	char *src = source(fx, "t.csv", csv, strlen(csv));
	struct hmf_view v;
	const int64_t *x;

	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/d\",\"arrays\":{\"x\":\"x\"},\"orderby\":\"t\",\"ascending\":false}",
		    src),
		0);
	get(fx, "/d/x", &v);
	assert_string_equal(v.dtype.str, "<i8");
	x = v.data;
	/* t: 0.5 (1), 0.25 (2), 0.25 (4), 0.125 (5), NaN (3) */
	assert_true(x[0] == 1 && x[1] == 2 && x[2] == 4 && x[3] == 5 &&
		    x[4] == 3);
	hmf_view_fini(&v);
	free(src);
}

static void test_ingest_npy_source_and_hmf_source(void **state)
{
	struct fixture *fx = *state;
	struct hmf_dtype dt;
	uint64_t shape[2] = { 4, 2 };
	int32_t vals[8] = { 3, 30, 1, 10, 2, 20, 1, 11 };
	struct hmf_view v;
	char *hdr, *buf, *src;
	size_t hlen;
	const int32_t *o;

	hmf_dtype_parse("<i4", &dt);
	assert_int_equal(hmf_npy_format(&dt, false, 2, shape, &hdr, &hlen), 0);
	buf = malloc(hlen + sizeof(vals));
	memcpy(buf, hdr, hlen);
	memcpy(buf + hlen, vals, sizeof(vals));
	src = source(fx, "t.npy", buf, hlen + sizeof(vals));
	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/n\",\"arrays\":{\"b\":\"1\"},\"orderby\":\"0\"}",
		    src),
		0);
	get(fx, "/n/b", &v);
	assert_string_equal(v.dtype.str, "<i4");
	o = v.data;
	assert_true(o[0] == 10 && o[1] == 11 && o[2] == 20 && o[3] == 30);
	hmf_view_fini(&v);
	/* an array of the root as the source */
	assert_int_equal(hmf_set_array(fx->r, "/src", "<i4", 2, shape, vals),
			 0);
	assert_int_equal(
		run(fx,
		    "{\"source\":\"hmf:%s\",\"dest\":\"/h\",\"arrays\":{\"a\":[\"0\",\"1\"]},\"groupby\":\"0\"}",
		    "/src"),
		0);
	get(fx, "/h/1/a", &v);
	o = v.data;
	assert_int_equal(v.shape[0], 2);
	assert_true(o[0] == 1 && o[1] == 10 && o[2] == 1 && o[3] == 11);
	hmf_view_fini(&v);
	free(hdr);
	free(buf);
	free(src);
}

static void test_ingest_failures_leave_no_trace(void **state)
{
	struct fixture *fx = *state;
	char *src = source(fx, "t.csv", csv, strlen(csv));
	struct hmf_dirent *e;
	size_t n;

	/* a bad request, an unknown column, a dtype that cannot hold */
	assert_int_equal(run(fx, "not json %s", src), -EINVAL);
	assert_int_equal(
		run(fx, "{\"source\":\"%s\",\"arrays\":{\"a\":\"nope\"}}", src),
		-EINVAL);
	assert_true(errmsg_has("nope"));
	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/m\",\"arrays\":{\"a\":[\"x\",\"s\"]}}",
		    src),
		-EINVAL);
	assert_int_equal(
		run(fx, "{\"source\":\"%s.missing\",\"arrays\":{\"a\":\"x\"}}",
		    src),
		-ENOENT);
	assert_int_equal(hmf_list(fx->r, "/", &e, &n), 0);
	hmf_dirents_free(e, n);
	assert_int_equal(n, 0);
	assert_int_equal(count_tmp(fx->root), 0);
	free(src);
}

static void test_ingest_overwrite(void **state)
{
	struct fixture *fx = *state;
	char *src = source(fx, "t.csv", csv, strlen(csv));
	static const char req[] =
		"{\"source\":\"%s\",\"dest\":\"/o\",\"arrays\":{\"x\":\"x\"},\"groupby\":\"k\"}";
	static const char req_over[] =
		"{\"source\":\"%s\",\"dest\":\"/o\",\"arrays\":{\"x\":\"x\"},\"groupby\":\"k\",\"overwrite\":true}";
	struct hmf_view v;

	assert_int_equal(run(fx, req, src), 0);
	/* the groups exist now: without overwrite the whole job fails */
	assert_int_equal(run(fx, req, src), -EEXIST);
	assert_int_equal(run(fx, req_over, src), 0);
	get(fx, "/o/2/x", &v);
	assert_int_equal(v.shape[0], 3);
	hmf_view_fini(&v);
	assert_int_equal(count_tmp(fx->root), 0);
	free(src);
}

/* Ordered by a string column: the sort compares the table's bytes. */
static void test_ingest_orderby_string(void **state)
{
	static const char text[] = "k,s,x\n"
				   "1,pear,1\n"
				   "2,fig,2\n"
				   "1,apple,3\n"
				   "1,pear,4\n"
				   "2,date,5\n";
	struct fixture *fx = *state;
	char *src = source(fx, "s.csv", text, strlen(text));
	struct hmf_view v;
	const int64_t *x;

	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/s\",\"arrays\":{\"x\":\"x\"},\"groupby\":\"k\",\"orderby\":\"s\",\"ascending\":false}",
		    src),
		0);
	/* group 1: pear (1), pear (4), apple (3): ties in table order */
	get(fx, "/s/1/x", &v);
	x = v.data;
	assert_int_equal(v.shape[0], 3);
	assert_true(x[0] == 1 && x[1] == 4 && x[2] == 3);
	hmf_view_fini(&v);
	get(fx, "/s/2/x", &v);
	x = v.data;
	assert_true(x[0] == 2 && x[1] == 5);
	hmf_view_fini(&v);
	free(src);
}

/* A table without rows: no groups, and empty arrays without groupby. */
static void test_ingest_no_rows(void **state)
{
	struct fixture *fx = *state;
	char *src = source(fx, "e.csv", "k,t\n", 4);
	struct hmf_view v;
	char *val;

	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/e\",\"arrays\":{\"t\":\"t\"},\"groupby\":\"k\",\"orderby\":\"t\"}",
		    src),
		0);
	assert_int_equal(
		hmf_get_node_attr(fx->r, "/e", "hmf.group_names", &val, NULL),
		0);
	assert_string_equal(val, "[]");
	free(val);
	assert_int_equal(
		run(fx,
		    "{\"source\":\"%s\",\"dest\":\"/f\",\"arrays\":{\"t\":[\"k\",\"t\"]},\"orderby\":\"t\"}",
		    src),
		0);
	get(fx, "/f/t", &v);
	assert_int_equal(v.shape[0], 0);
	assert_int_equal(v.shape[1], 2);
	hmf_view_fini(&v);
	free(src);
}

/*
 * A table big enough to be cut into several parts: one thread and three
 * give the same bytes (groups found per part and merged, rows moved by
 * several threads; a big group, middling ones and some of a few rows;
 * NaN, ties, -0.0 and 0.0 as one group, integers promoted to float64).
 */
static void test_ingest_threads_agree(void **state)
{
	struct fixture *fx = *state;
	const int rows = 30000;
	uint64_t x = 88172645463325252ull;
	char *text, *p, *src, req[512], path[64];
	struct hmf_dirent *e;
	struct hmf_view v1, v3;
	size_t n, i;
	int row, k;

	text = malloc((size_t)rows * 48 + 16);
	assert_non_null(text);
	p = text + sprintf(text, "g,t,x,s\n");
	for (row = 0; row < rows; row++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (x % 1000 == 1)
			p += sprintf(p, "%d,", 100 + (int)(x >> 12 & 3));
		else if (x % 3)
			p += sprintf(p, "%s,", x & 64 ? "0.0" : "-0.0");
		else
			p += sprintf(p, "%d,", (int)(x >> 8 & 31) - 16);
		if ((x >> 20) % 500 == 7)
			p += sprintf(p, ",");
		else
			p += sprintf(p, "%d.5,", (int)((x >> 20) % 500));
		p += sprintf(p, "%d,%c%c\n", row, 'a' + (int)(x >> 30 & 15),
			     'a' + (int)(x >> 40 & 15));
	}
	src = source(fx, "m.csv", text, (size_t)(p - text));
	free(text);
	for (k = 1; k <= 3; k += 2) {
		snprintf(
			req, sizeof(req),
			"{\"source\":\"%%s\",\"dest\":\"/t%d\",\"arrays\":{\"a\":[\"x\",\"t\"],\"b\":\"s\"},\"groupby\":\"g\",\"orderby\":\"t\",\"ascending\":false,\"threads\":%d}",
			k, k);
		assert_int_equal(run(fx, req, src), 0);
	}
	assert_int_equal(hmf_list(fx->r, "/t1", &e, &n), 0);
	/* -16..15 (0.0 and -0.0 among them) and 100..103 */
	assert_int_equal(n, 36);
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "/t1/%s/%s", e[i].name,
				 k ? "b" : "a");
			get(fx, path, &v1);
			path[2] = '3';
			get(fx, path, &v3);
			assert_string_equal(v1.dtype.str, k ? "|S2" : "<f8");
			assert_int_equal(v1.shape[0], v3.shape[0]);
			assert_memory_equal(v1.data, v3.data,
					    v1.shape[0] * (k ? 2 : 16));
			hmf_view_fini(&v1);
			hmf_view_fini(&v3);
		}
	}
	hmf_dirents_free(e, n);
	free(src);
}

/*
 * More groups than the process may open files: a job holds only the
 * groups it is writing open, not all of them until the end.
 */
static void test_ingest_many_groups_few_fds(void **state)
{
	struct fixture *fx = *state;
	struct rlimit old, low;
	char *text, *p, *src, *val;
	int row;

	text = malloc(600 * 16);
	assert_non_null(text);
	p = text + sprintf(text, "g,x\n");
	for (row = 0; row < 600; row++)
		p += sprintf(p, "%d,%d\n", row % 300, row);
	src = source(fx, "g.csv", text, (size_t)(p - text));
	free(text);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 128;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	row = run(
		fx,
		"{\"source\":\"%s\",\"dest\":\"/g\",\"arrays\":{\"x\":\"x\"},\"groupby\":\"g\",\"threads\":2}",
		src);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (row < 0)
		fail_msg("%s", hmf_errmsg());
	assert_int_equal(
		hmf_get_node_attr(fx->r, "/g", "hmf.group_sizes", &val, NULL),
		0);
	assert_int_equal(strncmp(val, "[2,2,2,", 7), 0);
	free(val);
	free(src);
}

static void test_ingest_request_parse(void **state)
{
	struct hmf_ingest_request *q;
	static const char ok[] =
		"{\"source\":\"/x.csv\",\"format\":\"csv\",\"csv\":{\"delimiter\":\";\",\"header\":false},\"dest\":\"/a\",\"arrays\":{\"A\":[\"b\",\"c\"],\"B\":\"a\"},\"dtypes\":{\"a\":\"int32\"},\"groupby\":\"g\",\"orderby\":null,\"ascending\":false,\"threads\":2,\"overwrite\":true}";

	(void)state;
	assert_int_equal(hmf_ingest_request_parse(ok, strlen(ok), &q), 0);
	assert_int_equal(q->delimiter, ';');
	assert_false(q->header);
	assert_int_equal(q->narrays, 2);
	assert_true(q->arrays[1].one_column);
	assert_string_equal(q->dtypes[0].str, "<i4");
	assert_string_equal(q->groupby, "g");
	assert_null(q->orderby);
	assert_false(q->ascending);
	hmf_ingest_request_free(q);
#define BAD(s)                                                                 \
	assert_int_equal(hmf_ingest_request_parse(s, strlen(s), &q), -EINVAL)
	BAD("{\"arrays\":{\"a\":\"b\"}}"); /* no source */
	BAD("{\"source\":\"rel.csv\",\"arrays\":{\"a\":\"b\"}}"); /* relative */
	BAD("{\"source\":\"/x\",\"arrays\":{}}");
	BAD("{\"source\":\"/x\",\"arrays\":{\".hmfx\":\"b\"}}");
	BAD("{\"source\":\"/x\",\"arrays\":{\"a\":\"b\"},\"typo\":1}");
	BAD("{\"source\":\"/x\",\"arrays\":{\"a\":\"b\"},\"dtypes\":{\"b\":\"O\"}}");
	BAD("{\"source\":\"/x\",\"arrays\":{\"a\":\"b\"},\"dest\":\"/../x\"}");
	/* repeated keys (found by the request fuzzer: leaks, overflows) */
	BAD("{\"dest\":\"/\",\"dest\":\"o\"}");
	BAD("{\"arrays\":{\"a\":\"x\",\"b\":\"x\"},\"arrays\":{\"\":\"x\"}}");
	BAD("{\"dtypes\":{\"a\":\"i1\"},\"dtypes\":{\"a\":\"i1\"}}");
	BAD("{\"source\":\"/x\",\"arrays\":{\"a\":\"b\",\"a\":\"c\"}}");
	/* "format": "hmf" checks a plain source path too (request fuzzer) */
	BAD("{\"source\":\"/.\",\"format\":\"hmf\",\"arrays\":{\"a\":[\"01\"]}}");
#undef BAD
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest_request_parse),
		cmocka_unit_test_setup_teardown(test_ingest_groupby_orderby,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_ingest_descending_keeps_ties_and_nan_last,
			fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_ingest_npy_source_and_hmf_source, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_ingest_failures_leave_no_trace, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_overwrite, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_orderby_string,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_no_rows, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_threads_agree,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_many_groups_few_fds,
						fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
