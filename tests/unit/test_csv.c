/* SPDX-License-Identifier: MIT */
/*
 * test_csv.c - the CSV table reader (src/ingest/csv.c): RFC 4180 quoting,
 * line ends, pandas' type inference, float syntax and NA words, explicit
 * dtypes, every error with its errno and line, chunked parallel reads
 * against one thread, correct rounding against strtod, and equivalence
 * with pandas.read_csv(float_precision="round_trip") itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"
#include "hmf/table.h"

#define PYTHON "/usr/bin/python3"

static struct hmf_table_opts opts(unsigned threads)
{
	struct hmf_table_opts o = { .delimiter = ',', .header = true };

	o.threads = threads;
	return o;
}

/* Write @len bytes to @name in the test root and open it. */
static int open_data(struct fixture *fx, const char *name, const void *data,
		     size_t len)
{
	int fd;

	write_bytes(fx->dirfd, name, data, len);
	fd = openat(fx->dirfd, name, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Read @len bytes of CSV with @o (NULL: defaults) into @t. */
static int read_csv_n(struct fixture *fx, const char *text, size_t len,
		      const struct hmf_table_opts *o, struct hmf_table *t)
{
	int fd = open_data(fx, "t.csv", text, len);
	int rc = hmf_csv_read(fd, o, NULL, t);

	close(fd);
	return rc;
}

static int read_csv(struct fixture *fx, const char *text,
		    const struct hmf_table_opts *o, struct hmf_table *t)
{
	return read_csv_n(fx, text, strlen(text), o, t);
}

static const struct hmf_column *col(const struct hmf_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	fail_msg("no column '%s'", name);
	return NULL;
}

static int64_t get_i64(const struct hmf_column *c, uint64_t row)
{
	int64_t v;

	assert_string_equal(c->dtype.str, "<i8");
	memcpy(&v, c->data + row * c->stride, 8);
	return v;
}

static uint64_t get_u64(const struct hmf_column *c, uint64_t row)
{
	uint64_t v;

	assert_string_equal(c->dtype.str, "<u8");
	memcpy(&v, c->data + row * c->stride, 8);
	return v;
}

static double get_f64(const struct hmf_column *c, uint64_t row)
{
	double v;

	assert_string_equal(c->dtype.str, "<f8");
	memcpy(&v, c->data + row * c->stride, 8);
	return v;
}

static uint64_t bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	return u;
}

/* Row @row of the |S column @c is exactly @s (NUL padded). */
static void assert_str(const struct hmf_column *c, uint64_t row, const char *s)
{
	const unsigned char *p = c->data + row * c->stride;
	size_t n = strlen(s), i;

	assert_int_equal(c->dtype.kind, 'S');
	assert_true(n <= c->dtype.itemsize);
	assert_memory_equal(p, s, n);
	for (i = n; i < c->dtype.itemsize; i++)
		assert_int_equal(p[i], 0);
}

static void assert_f64_bits(const struct hmf_column *c, uint64_t row, double d)
{
	double v = get_f64(c, row);

	if (isnan(d)) {
		assert_true(isnan(v));
		return;
	}
	if (bits(v) != bits(d))
		fail_msg("row %llu: %.17g (%016llx), expected %.17g (%016llx)",
			 (unsigned long long)row, v,
			 (unsigned long long)bits(v), d,
			 (unsigned long long)bits(d));
}

/* Two tables hold the same columns, dtypes and bytes. */
static void assert_tables_equal(const struct hmf_table *a,
				const struct hmf_table *b)
{
	size_t i;
	uint64_t r;

	assert_int_equal(a->nrows, b->nrows);
	assert_int_equal(a->ncols, b->ncols);
	for (i = 0; i < a->ncols; i++) {
		const struct hmf_column *x = &a->cols[i], *y = &b->cols[i];

		assert_string_equal(x->name, y->name);
		assert_string_equal(x->dtype.str, y->dtype.str);
		for (r = 0; r < a->nrows; r++)
			if (memcmp(x->data + r * x->stride,
				   y->data + r * y->stride,
				   x->dtype.itemsize) != 0)
				fail_msg("column %s differs at row %llu",
					 x->name, (unsigned long long)r);
	}
}

static void test_csv_infers_int_float_and_strings(void **state)
{
	struct fixture *fx = *state;
	const char *text = "id,x,name\n1,1.5,abc\n2,2,de\n-3,-0.25,\n";
	struct hmf_table t;
	unsigned th;

	for (th = 1; th <= 4; th++) {
		struct hmf_table_opts o = opts(th);

		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_int_equal(t.nrows, 3);
		assert_int_equal(t.ncols, 3);
		assert_string_equal(t.cols[0].name, "id");
		assert_int_equal(get_i64(col(&t, "id"), 0), 1);
		assert_int_equal(get_i64(col(&t, "id"), 2), -3);
		assert_int_equal(col(&t, "id")->stride, 8);
		assert_f64_bits(col(&t, "x"), 0, 1.5);
		assert_f64_bits(col(&t, "x"), 1, 2.0);
		assert_f64_bits(col(&t, "x"), 2, -0.25);
		assert_string_equal(col(&t, "name")->dtype.str, "|S3");
		assert_int_equal(col(&t, "name")->stride, 3);
		assert_str(col(&t, "name"), 0, "abc");
		assert_str(col(&t, "name"), 1, "de");
		assert_str(col(&t, "name"), 2, "");
		hmf_table_fini(&t);
	}
}

static void test_csv_quoted_fields(void **state)
{
	struct fixture *fx = *state;
	const char *text = "s,n\n"
			   "\"a,b\",\"5\"\n"
			   "\"say \"\"hi\"\"\",6\n"
			   "\"two\nlines\",7\n"
			   "\"cr\r\nlf\",8\n"
			   "\"\",9\n"
			   "\"\"\"\",10\n";
	struct hmf_table t;
	unsigned th;

	for (th = 1; th <= 6; th++) {
		struct hmf_table_opts o = opts(th);

		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_int_equal(t.nrows, 6);
		assert_str(col(&t, "s"), 0, "a,b");
		assert_str(col(&t, "s"), 1, "say \"hi\"");
		assert_str(col(&t, "s"), 2, "two\nlines");
		assert_str(col(&t, "s"), 3, "cr\r\nlf");
		assert_str(col(&t, "s"), 4, "");
		assert_str(col(&t, "s"), 5, "\"");
		/* a quoted number is a number, as in pandas */
		assert_int_equal(get_i64(col(&t, "n"), 0), 5);
		assert_int_equal(get_i64(col(&t, "n"), 5), 10);
		hmf_table_fini(&t);
	}
}

static void test_csv_line_ends(void **state)
{
	struct fixture *fx = *state;
	static const char *const texts[] = {
		"a,b\n1,x\n2,y\n",	 "a,b\n1,x\n2,y",
		"a,b\r\n1,x\r\n2,y\r\n", "a,b\r\n1,x\r\n2,y",
		"a,b\r\n1,x\r\n2,y\r",
	};
	struct hmf_table_opts o = opts(2);
	struct hmf_table t;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(read_csv(fx, texts[i], &o, &t), 0);
		assert_int_equal(t.nrows, 2);
		assert_int_equal(get_i64(col(&t, "a"), 1), 2);
		assert_string_equal(col(&t, "b")->dtype.str, "|S1");
		assert_str(col(&t, "b"), 0, "x");
		assert_str(col(&t, "b"), 1, "y");
		hmf_table_fini(&t);
	}
	/* lines ending in CR alone: refused, not read as one row */
	assert_int_equal(read_csv(fx, "a,b\r1,x\r2,y\r", &o, &t), -EINVAL);
	assert_true(errmsg_has("line 1: a CR inside a column name"));
	/* a CR that is not before LF is data, like any byte */
	assert_int_equal(read_csv(fx, "a\nx\ry\n", &o, &t), 0);
	assert_str(col(&t, "a"), 0, "x\ry");
	hmf_table_fini(&t);
}

static void test_csv_empty_fields(void **state)
{
	struct fixture *fx = *state;
	const char *text = "a,b,c\n1,,x\n,2.5,\n\"\",3.5,\"\"\n";
	struct hmf_table_opts o = opts(1);
	struct hmf_table t;

	assert_int_equal(read_csv(fx, text, &o, &t), 0);
	assert_int_equal(t.nrows, 3);
	/* an int column with a missing value is float64, as in pandas */
	assert_f64_bits(col(&t, "a"), 0, 1.0);
	assert_f64_bits(col(&t, "a"), 1, NAN);
	assert_f64_bits(col(&t, "a"), 2, NAN);
	assert_f64_bits(col(&t, "b"), 0, NAN);
	assert_f64_bits(col(&t, "b"), 2, 3.5);
	assert_str(col(&t, "c"), 0, "x");
	assert_str(col(&t, "c"), 1, "");
	assert_str(col(&t, "c"), 2, "");
	hmf_table_fini(&t);
}

static void test_csv_na_words(void **state)
{
	struct fixture *fx = *state;
	static const char *const na[] = {
		"#N/A", "#N/A N/A", "#NA",     "-1.#IND", "-1.#QNAN", "-NaN",
		"-nan", "1.#IND",   "1.#QNAN", "<NA>",	  "N/A",      "NA",
		"NULL", "NaN",	    "n/a",     "nan",	  "null",
	};
	struct hmf_table_opts o = opts(1);
	struct hmf_table t;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(na) / sizeof(na[0]); i++) {
		snprintf(text, sizeof(text), "f,i,s\n1.5,1,x\n%s,%s,%s\n",
			 na[i], na[i], na[i]);
		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_f64_bits(col(&t, "f"), 1, NAN);
		assert_f64_bits(col(&t, "i"), 0, 1.0);
		assert_f64_bits(col(&t, "i"), 1, NAN);
		/* a string column keeps the bytes (pandas has NaN there) */
		assert_str(col(&t, "s"), 1, na[i]);
		hmf_table_fini(&t);
	}
	/* not NA words: another case, spaces around */
	static const char *const not_na[] = { "NAN",  "None", " NaN",
					      "nan ", "Nan",  "+nan" };
	for (i = 0; i < sizeof(not_na) / sizeof(not_na[0]); i++) {
		snprintf(text, sizeof(text), "f\n1.5\n%s\n", not_na[i]);
		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_int_equal(col(&t, "f")->dtype.kind, 'S');
		assert_str(col(&t, "f"), 1, not_na[i]);
		hmf_table_fini(&t);
	}
}

struct float_case {
	const char *text;
	double value;
};

static void test_csv_float_syntax(void **state)
{
	struct fixture *fx = *state;
	static const struct float_case ok[] = {
		{ ".5", 0.5 },
		{ "5.", 5.0 },
		{ "+.5", 0.5 },
		{ "1e5", 1e5 },
		{ "1E-5", 1e-5 },
		{ "1e0005", 1e5 },
		{ "+1.5", 1.5 },
		{ "-0.0", -0.0 },
		{ "0e0", 0.0 },
		{ " 1.5", 1.5 },
		{ "2.5 ", 2.5 },
		{ "\t3.5\t", 3.5 },
		{ "inf", INFINITY },
		{ "-inf", -INFINITY },
		{ "+inf", INFINITY },
		{ "INF", INFINITY },
		{ "Infinity", INFINITY },
		{ "-Infinity", -INFINITY },
		{ "+INFINITY", INFINITY },
		{ "-iNf", -INFINITY },
		{ "1e-400", 0.0 },
		{ "2e-324", 0.0 },
		{ "-1e400", -INFINITY },
		{ "4.9e-324", 4.9e-324 },
		{ "2.2250738585072014e-308", 2.2250738585072014e-308 },
		{ "1.7976931348623157e308", 1.7976931348623157e308 },
		{ "0.1", 0.1 },
		{ "0.30000000000000004", 0.30000000000000004 },
		{ "123456789012345678901234567890", 1.2345678901234568e29 },
		{ "9007199254740993", 9007199254740992.0 },
		{ "0.000000000000000000000000000001", 1e-30 },
	};
	/* what pandas does not read as a float: the column is strings */
	static const char *const bad[] = {
		"1e",	   "1e+",   "e5",   ".",    "-",   "+",	      "1.5.3",
		"0x10",	   "1_000", " inf", "inf ", "1d5", "5 5",     "1e400",
		"1.8e308", "- 1",   "1,5",  "++1",  ".e5", "infinit",
	};
	struct hmf_table_opts o = opts(1);
	struct hmf_table t;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "f\n0.5\n%s\n", ok[i].text);
		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_f64_bits(col(&t, "f"), 1, ok[i].value);
		hmf_table_fini(&t);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "f\n0.5\n\"%s\"\n", bad[i]);
		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_int_equal(col(&t, "f")->dtype.kind, 'S');
		assert_str(col(&t, "f"), 1, bad[i]);
		hmf_table_fini(&t);
	}
}

static void test_csv_int_syntax(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(1);
	struct hmf_table t;

	assert_int_equal(
		read_csv(fx,
			 "a\n+5\n\" 7 \"\n007\n-0\n9223372036854775807\n"
			 "-9223372036854775808\n-00000000000000000000001\n",
			 &o, &t),
		0);
	assert_int_equal(get_i64(col(&t, "a"), 0), 5);
	assert_int_equal(get_i64(col(&t, "a"), 1), 7);
	assert_int_equal(get_i64(col(&t, "a"), 2), 7);
	assert_int_equal(get_i64(col(&t, "a"), 3), 0);
	assert_int_equal(get_i64(col(&t, "a"), 4), INT64_MAX);
	assert_int_equal(get_i64(col(&t, "a"), 5), INT64_MIN);
	assert_int_equal(get_i64(col(&t, "a"), 6), -1);
	hmf_table_fini(&t);

	/* above int64 and no sign: uint64, as pandas */
	assert_int_equal(
		read_csv(fx,
			 "a\n9223372036854775808\n3\n18446744073709551615\n",
			 &o, &t),
		0);
	assert_int_equal(get_u64(col(&t, "a"), 0), (uint64_t)1 << 63);
	assert_int_equal(get_u64(col(&t, "a"), 1), 3);
	assert_int_equal(get_u64(col(&t, "a"), 2), UINT64_MAX);
	hmf_table_fini(&t);

	/* with a negative value, or beyond 64 bits: float64 */
	assert_int_equal(read_csv(fx, "a\n9223372036854775808\n-1\n", &o, &t),
			 0);
	assert_f64_bits(col(&t, "a"), 0, 9223372036854775808.0);
	assert_f64_bits(col(&t, "a"), 1, -1.0);
	hmf_table_fini(&t);
	assert_int_equal(read_csv(fx, "a\n18446744073709551616\n1\n", &o, &t),
			 0);
	assert_f64_bits(col(&t, "a"), 0, 18446744073709551616.0);
	hmf_table_fini(&t);
	assert_int_equal(read_csv(fx, "a\n-9223372036854775809\n1\n", &o, &t),
			 0);
	assert_f64_bits(col(&t, "a"), 0, -9223372036854775808.0);
	hmf_table_fini(&t);
	/* an integer with a float becomes float64 with its exact rounding */
	assert_int_equal(read_csv(fx, "a\n9007199254740993\n0.5\n", &o, &t), 0);
	assert_f64_bits(col(&t, "a"), 0, 9007199254740992.0);
	hmf_table_fini(&t);
}

/*
 * pandas gives -0.0 for "-0" in a column with a float (it parses every
 * field as a float) but +0.0 in a column of integers and NAs (it parses
 * int64, then upcasts). Both also when the "-0" sits in a chunk of
 * integers only.
 */
static void test_csv_negative_zero(void **state)
{
	struct fixture *fx = *state;
	char text[4096];
	struct hmf_table t;
	unsigned th;
	size_t n;
	int i;

	for (th = 1; th <= 8; th++) {
		struct hmf_table_opts o = opts(th);

		n = (size_t)snprintf(text, sizeof(text), "a,b,c\n");
		for (i = 0; i < 100; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "%s,%s,%s\n",
					      i % 10 == 3 ? "-0" : "4",
					      i % 10 == 3   ? "-0"
					      : i % 10 == 1 ? "NA"
							    : "4",
					      i % 10 == 3 ? "-0" : "4");
		n += (size_t)snprintf(text + n, sizeof(text) - n, "1.5,,4\n");
		assert_int_equal(read_csv_n(fx, text, n, &o, &t), 0);
		assert_f64_bits(col(&t, "a"), 3, -0.0);
		assert_f64_bits(col(&t, "a"), 93, -0.0);
		assert_f64_bits(col(&t, "a"), 100, 1.5);
		assert_f64_bits(col(&t, "b"), 1, NAN);
		assert_f64_bits(col(&t, "b"), 3, 0.0);
		assert_f64_bits(col(&t, "b"), 93, 0.0);
		assert_f64_bits(col(&t, "b"), 100, NAN);
		assert_int_equal(get_i64(col(&t, "c"), 3), 0);
		hmf_table_fini(&t);
	}
}

static void test_csv_overflow_and_strings(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(3);
	struct hmf_table t;

	/* pandas reads "1e400" as no float at all (but "-1e400" as -inf) */
	assert_int_equal(read_csv(fx, "a,b\n1e400,-1e400\n2,3\n", &o, &t), 0);
	assert_string_equal(col(&t, "a")->dtype.str, "|S5");
	assert_str(col(&t, "a"), 0, "1e400");
	assert_str(col(&t, "a"), 1, "2");
	assert_f64_bits(col(&t, "b"), 0, -INFINITY);
	hmf_table_fini(&t);
	/* a string column keeps every field's text as written */
	assert_int_equal(read_csv(fx, "a\n1.50\nx\n007\n \n", &o, &t), 0);
	assert_string_equal(col(&t, "a")->dtype.str, "|S4");
	assert_str(col(&t, "a"), 0, "1.50");
	assert_str(col(&t, "a"), 2, "007");
	hmf_table_fini(&t);
}

static void test_csv_blank_lines_bom_and_nul(void **state)
{
	struct fixture *fx = *state;
	const char text[] = "\xef\xbb\xbf\n  \na,b\n1,2\n\n \t \r\n3,4\n\n";
	struct hmf_table_opts o = opts(2);
	struct hmf_table t;

	assert_int_equal(read_csv(fx, text, &o, &t), 0);
	assert_int_equal(t.nrows, 2);
	assert_string_equal(t.cols[0].name, "a");
	assert_int_equal(get_i64(col(&t, "a"), 1), 3);
	assert_int_equal(get_i64(col(&t, "b"), 1), 4);
	hmf_table_fini(&t);
	/* a delimiter-only line is a row of missing values */
	assert_int_equal(read_csv(fx, "a,b\n1,2\n,\n", &o, &t), 0);
	assert_int_equal(t.nrows, 2);
	assert_f64_bits(col(&t, "b"), 1, NAN);
	hmf_table_fini(&t);
	/* a tab-delimited line of one tab too: tabs are not blank there */
	o.delimiter = '\t';
	assert_int_equal(read_csv(fx, "a\tb\n1\t2\n\t\n", &o, &t), 0);
	assert_int_equal(t.nrows, 2);
	assert_f64_bits(col(&t, "a"), 1, NAN);
	hmf_table_fini(&t);
	/* NUL bytes are data */
	o.delimiter = ',';
	assert_int_equal(read_csv_n(fx, "a\nx\0y\n", 6, &o, &t), 0);
	assert_string_equal(col(&t, "a")->dtype.str, "|S3");
	assert_memory_equal(col(&t, "a")->data, "x\0y", 3);
	hmf_table_fini(&t);
}

static void test_csv_no_header(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(2);
	struct hmf_table t;

	o.header = false;
	assert_int_equal(read_csv(fx, "a,1\nb,2\n", &o, &t), 0);
	assert_int_equal(t.nrows, 2);
	assert_string_equal(t.cols[0].name, "0");
	assert_string_equal(t.cols[1].name, "1");
	assert_str(col(&t, "0"), 0, "a");
	assert_int_equal(get_i64(col(&t, "1"), 1), 2);
	hmf_table_fini(&t);
}

static void test_csv_delimiters(void **state)
{
	struct fixture *fx = *state;
	static const char ok[] = { ';', '\t', '|', ' ', ':' };
	static const char bad[] = { '"', '\n', '\r', '.', '-', '+', '7', 'e' };
	struct hmf_table_opts o = opts(1);
	struct hmf_table t;
	char text[64];
	size_t i;

	for (i = 0; i < sizeof(ok); i++) {
		snprintf(text, sizeof(text), "a%cb\n1%c\"x%cy\"\n", ok[i],
			 ok[i], ok[i]);
		o.delimiter = ok[i];
		assert_int_equal(read_csv(fx, text, &o, &t), 0);
		assert_int_equal(get_i64(col(&t, "a"), 0), 1);
		assert_int_equal(col(&t, "b")->data[1], ok[i]);
		hmf_table_fini(&t);
	}
	for (i = 0; i < sizeof(bad); i++) {
		o.delimiter = bad[i];
		assert_int_equal(read_csv(fx, "a\n1\n", &o, &t), -EINVAL);
	}
	/* the zero byte means the default: ',' */
	o.delimiter = '\0';
	assert_int_equal(read_csv(fx, "a,b\n1,2\n", &o, &t), 0);
	assert_int_equal(t.ncols, 2);
	hmf_table_fini(&t);
}

static void test_csv_names(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(1);
	char **names;
	size_t n;
	int fd;

	fd = open_data(fx, "n.csv", "a,a,a.1,,\"x,y\",a\n1,2,3,4,5,6\n", 29);
	assert_int_equal(hmf_csv_names(fd, &o, &names, &n), 0);
	/* pandas: a, a.2, a.1 (a.1 was taken), Unnamed: 3, "x,y", a.3 */
	assert_int_equal(n, 6);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "a.2");
	assert_string_equal(names[2], "a.1");
	assert_string_equal(names[3], "Unnamed: 3");
	assert_string_equal(names[4], "x,y");
	assert_string_equal(names[5], "a.3");
	hmf_table_names_free(names, n);
	close(fd);
	/* unnamed columns are mangled last; a.1 given is kept */
	fd = open_data(fx, "m.csv", "a.1,a,,Unnamed: 2,a,\n", 21);
	assert_int_equal(hmf_csv_names(fd, &o, &names, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(names[0], "a.1");
	assert_string_equal(names[1], "a");
	assert_string_equal(names[2], "Unnamed: 2.1");
	assert_string_equal(names[3], "Unnamed: 2");
	assert_string_equal(names[4], "a.2");
	assert_string_equal(names[5], "Unnamed: 5");
	hmf_table_names_free(names, n);
	o.header = false;
	assert_int_equal(hmf_csv_names(fd, &o, &names, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(names[0], "0");
	assert_string_equal(names[5], "5");
	hmf_table_names_free(names, n);
	close(fd);
	assert_int_equal(hmf_csv_names(fd, NULL, &names, &n), -EBADF);

	fd = open_data(fx, "e.csv", "", 0);
	assert_int_equal(hmf_csv_names(fd, NULL, &names, &n), -EINVAL);
	close(fd);
	fd = open_data(fx, "b.csv", "\n\n  \n", 5);
	assert_int_equal(hmf_csv_names(fd, NULL, &names, &n), -EINVAL);
	close(fd);
	fd = open_data(fx, "q.csv", "\n\"a,b\n1\n", 8);
	assert_int_equal(hmf_csv_names(fd, NULL, &names, &n), -EINVAL);
	assert_true(errmsg_has("line 2"));
	assert_true(errmsg_has("q.csv"));
	close(fd);
}

static void test_csv_want(void **state)
{
	struct fixture *fx = *state;
	static const char *const want[] = { "c", "a", "c" };
	static const char *const unknown[] = { "a", "nope" };
	struct hmf_table_opts o = opts(2);
	struct hmf_table t;

	o.want = want;
	o.nwant = 3;
	assert_int_equal(read_csv(fx, "a,b,c\n1,x,2.5\n2,y,3\n", &o, &t), 0);
	assert_int_equal(t.ncols, 3);
	assert_string_equal(t.cols[0].name, "c");
	assert_string_equal(t.cols[1].name, "a");
	assert_string_equal(t.cols[2].name, "c");
	assert_ptr_equal(t.cols[0].data, t.cols[2].data);
	assert_f64_bits(&t.cols[0], 1, 3.0);
	assert_int_equal(get_i64(&t.cols[1], 1), 2);
	hmf_table_fini(&t);

	o.want = unknown;
	o.nwant = 2;
	assert_int_equal(read_csv(fx, "a,b\n1,2\n", &o, &t), -EINVAL);
	assert_true(errmsg_has("'nope'"));
	/* an empty list loads no column but still counts the rows */
	o.nwant = 0;
	assert_int_equal(read_csv(fx, "a,b\n1,2\n3,4\n", &o, &t), 0);
	assert_int_equal(t.ncols, 0);
	assert_int_equal(t.nrows, 2);
	hmf_table_fini(&t);
}

/* Read @text with one explicit @dtype for column "v". */
static int read_typed(struct fixture *fx, const char *text, const char *dtype,
		      unsigned threads, struct hmf_table *t)
{
	static const char *const cols[] = { "v" };
	struct hmf_table_opts o = opts(threads);
	struct hmf_dtype d;

	assert_int_equal(hmf_dtype_parse(dtype, &d), 0);
	o.dtype_cols = cols;
	o.dtypes = &d;
	o.ndtypes = 1;
	return read_csv(fx, text, &o, t);
}

static void test_csv_explicit_dtypes(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table t;
	int8_t i1[2];
	uint16_t u2;
	float f4;
	unsigned char be[8];

	assert_int_equal(
		read_typed(fx,
			   "v\nTrue\nFalse\ntrue\nfalse\nTRUE\nFALSE\n1\n0\n",
			   "?", 2, &t),
		0);
	assert_string_equal(col(&t, "v")->dtype.str, "|b1");
	assert_memory_equal(col(&t, "v")->data, "\1\0\1\0\1\0\1\0", 8);
	hmf_table_fini(&t);

	assert_int_equal(read_typed(fx, "v\n-128\n 127 \n", "i1", 1, &t), 0);
	memcpy(i1, col(&t, "v")->data, 2);
	assert_int_equal(i1[0], -128);
	assert_int_equal(i1[1], 127);
	assert_int_equal(col(&t, "v")->stride, 1);
	hmf_table_fini(&t);
	assert_int_equal(read_typed(fx, "v\n65535\n", "u2", 1, &t), 0);
	memcpy(&u2, col(&t, "v")->data, 2);
	assert_int_equal(u2, 65535);
	hmf_table_fini(&t);
	assert_int_equal(
		read_typed(fx, "v\n18446744073709551615\n-0\n", "u8", 1, &t),
		0);
	hmf_table_fini(&t);
	assert_int_equal(
		read_typed(fx, "v\n-9223372036854775808\n", "i8", 1, &t), 0);
	hmf_table_fini(&t);

	/* float32 is rounded once, from the text (not through a double) */
	assert_int_equal(read_typed(fx,
				    "v\n0.1\n1.00000005960464477539062500001\n",
				    "f4", 1, &t),
			 0);
	memcpy(&f4, col(&t, "v")->data, 4);
	assert_true(f4 == 0.1f);
	memcpy(&f4, col(&t, "v")->data + 4, 4);
	assert_true(f4 == strtof("1.00000005960464477539062500001", NULL));
	hmf_table_fini(&t);
	/* asked for float64, an overflow is inf */
	assert_int_equal(read_typed(fx, "v\n1e400\nNA\n-0\n", "f8", 1, &t), 0);
	assert_f64_bits(col(&t, "v"), 0, INFINITY);
	assert_f64_bits(col(&t, "v"), 1, NAN);
	assert_f64_bits(col(&t, "v"), 2, -0.0);
	hmf_table_fini(&t);

	/* big-endian dtypes keep their byte order */
	assert_int_equal(read_typed(fx, "v\n258\n", ">i4", 1, &t), 0);
	assert_string_equal(col(&t, "v")->dtype.str, ">i4");
	assert_memory_equal(col(&t, "v")->data, "\0\0\1\2", 4);
	hmf_table_fini(&t);
	assert_int_equal(read_typed(fx, "v\n1.5\n", ">f8", 1, &t), 0);
	memcpy(be, col(&t, "v")->data, 8);
	assert_memory_equal(be, "\x3f\xf8\0\0\0\0\0\0", 8);
	hmf_table_fini(&t);

	assert_int_equal(read_typed(fx, "v\nabc\n\"a,\"\n\n", "S3", 2, &t), 0);
	assert_string_equal(col(&t, "v")->dtype.str, "|S3");
	assert_str(col(&t, "v"), 0, "abc");
	assert_str(col(&t, "v"), 1, "a,");
	hmf_table_fini(&t);
}

struct typed_error {
	const char *text;
	const char *dtype;
	const char *msg;
};

static void test_csv_explicit_dtype_errors(void **state)
{
	struct fixture *fx = *state;
	static const struct typed_error cases[] = {
		{ "v\n1\n128\n", "i1", "line 3" },
		{ "v\n1\n-129\n", "i1", "out of range" },
		{ "v\n1\n-1\n", "u1", "out of range" },
		{ "v\n1\n256\n", "u1", "out of range" },
		{ "v\n1\n65536\n", "u2", "out of range" },
		{ "v\n1\n4294967296\n", "u4", "out of range" },
		{ "v\n1\n2147483648\n", "i4", "out of range" },
		{ "v\n1\n18446744073709551616\n", "u8", "out of range" },
		{ "v\n1\n9223372036854775808\n", "i8", "out of range" },
		{ "v\n1\n\"\"\n", "i8", "missing value" },
		{ "v\n1\nNA\n", "i4", "missing value" },
		{ "v\n1\n1.0\n", "i8", "not a valid <i8" },
		{ "v\n1\nx\n", "f8", "not a valid <f8" },
		{ "v\n1\nx\n", "f4", "not a valid <f4" },
		{ "v\nTrue\nyes\n", "?", "'yes' is not a valid |b1" },
		{ "v\nTrue\n\"\"\n", "?", "line 3" },
		{ "v\nab\nabcd\n", "S3",
		  "a value of 4 bytes does not fit in |S3" },
	};
	static const char *const unsupported[] = { "c16", "f2",	   "M8[ns]",
						   "U3",  "m8[s]", "V8" };
	struct hmf_table t;
	unsigned th;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (th = 1; th <= 2; th++) {
			assert_int_equal(read_typed(fx, cases[i].text,
						    cases[i].dtype, th, &t),
					 -EINVAL);
			if (!errmsg_has(cases[i].msg) ||
			    !errmsg_has("line 3") ||
			    !errmsg_has("column 'v'") || !errmsg_has("t.csv"))
				fail_msg("%s as %s: '%s'", cases[i].text,
					 cases[i].dtype, hmf_errmsg());
		}
	}
	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		assert_int_equal(
			read_typed(fx, "v\n1\n", unsupported[i], 1, &t),
			-EINVAL);
	/* a dtype for a column the file lacks */
	assert_int_equal(read_typed(fx, "w\n1\n", "i8", 1, &t), -EINVAL);
	assert_true(errmsg_has("'v'"));
}

struct row_error {
	const char *text;
	const char *msg;
};

static void test_csv_malformed_rows(void **state)
{
	struct fixture *fx = *state;
	static const struct row_error cases[] = {
		{ "a,b\n1,2\n3,4,5\n", "line 3: expected 2 fields, found 3" },
		{ "a,b\n1,2\n3,4\n5\n", "line 4: expected 2 fields, found 1" },
		{ "a,b\n1,2\n3,x\"y\n", "line 3: a quote inside an unquoted" },
		{ "a,b\n1,2\n3, \"y\"\n",
		  "line 3: a quote inside an unquoted" },
		{ "a,b\n\"x\ny\",2\n3,\"open\n4,5\n",
		  "line 4: a quoted field is not closed" },
		{ "a,b\n1,\"ab\"c\n",
		  "line 2: a closing quote must be followed" },
		{ "a,b\r\n1,2\r\n\r\n3,4,\r\n",
		  "line 4: expected 2 fields, found 3" },
		{ "a,b\n1,2\n3,\"4", "line 3: a quoted field is not closed" },
		{ "a,\"b\n", "line 1: a quoted field is not closed" },
	};
	struct hmf_table t;
	unsigned th;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (th = 1; th <= 6; th++) {
			struct hmf_table_opts o = opts(th);

			assert_int_equal(read_csv(fx, cases[i].text, &o, &t),
					 -EINVAL);
			if (!errmsg_has(cases[i].msg) || !errmsg_has("t.csv"))
				fail_msg("case %zu, %u threads: '%s'", i, th,
					 hmf_errmsg());
		}
	}
}

/* With many chunks and two bad rows, the first one is always reported. */
static void test_csv_first_error_wins(void **state)
{
	struct fixture *fx = *state;
	size_t cap = 64 << 10, n = 0;
	char *text = malloc(cap);
	struct hmf_table t;
	unsigned th;
	int i;

	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "a,b\n");
	for (i = 2; i <= 2000; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      i == 1500 ? "%d,\"x\n"
				      : i == 50 ? "%d\n"
						: "%d,1.5\n",
				      i);
	for (th = 1; th <= 8; th++) {
		struct hmf_table_opts o = opts(th);

		assert_int_equal(read_csv_n(fx, text, n, &o, &t), -EINVAL);
		if (!errmsg_has("line 50: expected 2 fields, found 1"))
			fail_msg("%u threads: '%s'", th, hmf_errmsg());
	}
	free(text);
}

/* A reproducible random stream (xorshift64*). */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double rnd_normal(void)
{
	return sqrt(-2.0 * log(rnd_unit() + 1e-300)) *
	       cos(6.283185307179586 * rnd_unit());
}

/* A buffer that grows. */
struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->p) {
		t->cap = 4096;
		t->p = malloc(t->cap);
		assert_non_null(t->p);
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n + 64;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	t->len += (size_t)n;
}

/* A random field for the chunk tests: every kind a chunk can settle on. */
static void chunk_field(struct text *t, unsigned kind, int row)
{
	static const char *const strs[] = {
		"\"a\nb\"", "\"c\r\nd\"", "\"e,f\"",  "\"\"\"g\"\"\"",
		"h",	    "\"\"",	  "\"\n\n\"", "i j",
	};
	static const char *const odd[] = { "1.5", "", "-0", "NA" };

	switch (kind) {
	case 0: /* strings, quoted newlines everywhere */
		add(t, "%s", strs[rnd_below(8)]);
		break;
	case 1: /* ints with a float, an NA and "-0" here and there */
		if (rnd_below(40) == 0)
			add(t, "%s", odd[rnd_below(4)]);
		else
			add(t, "%d", (int)rnd_below(2000) - 1000);
		break;
	case 2: /* uint64 unless a chunk has a negative */
		if (rnd_below(60) == 0)
			add(t, "-1");
		else
			add(t, "%llu",
			    (unsigned long long)(rnd() | 1ull << 63));
		break;
	case 3: /* numbers, strings in a few rows */
		if (rnd_below(50) == 0)
			add(t, "x%d", row);
		else
			add(t, "%.17g", rnd_normal());
		break;
	default: /* quoted numbers */
		add(t, "\"%d\"", row);
	}
}

/* Every thread count gives the table of one thread. */
static void check_chunks(struct fixture *fx, const struct text *t)
{
	struct hmf_table one, many;
	struct hmf_table_opts o = opts(1);
	char msg[1024];
	unsigned th;
	int rc;

	rc = read_csv_n(fx, t->p, t->len, &o, &one);
	snprintf(msg, sizeof(msg), "%s", hmf_errmsg());
	for (th = 2; th <= 8; th++) {
		o = opts(th);
		assert_int_equal(read_csv_n(fx, t->p, t->len, &o, &many), rc);
		if (rc < 0) {
			assert_string_equal(hmf_errmsg(), msg);
			continue;
		}
		assert_tables_equal(&one, &many);
		hmf_table_fini(&many);
	}
	if (rc == 0)
		hmf_table_fini(&one);
}

static void test_csv_chunks_match_one_thread(void **state)
{
	struct fixture *fx = *state;
	struct text t = { 0 };
	unsigned seed, kinds[4], k, nrows;
	const char *eol;
	int r;

	for (seed = 1; seed <= 120; seed++) {
		rnd_state = 0x9e3779b97f4a7c15ull * seed;
		t.len = 0;
		nrows = 1 + rnd_below(80);
		eol = rnd_below(2) ? "\r\n" : "\n";
		for (k = 0; k < 4; k++)
			kinds[k] = rnd_below(5);
		add(&t, "c0,c1,c2,c3%s", eol);
		for (r = 0; r < (int)nrows; r++) {
			for (k = 0; k < 4; k++) {
				/* quotes only late in some files */
				if (seed % 3 == 0 && kinds[k] == 0 &&
				    r < (int)nrows / 2)
					add(&t, "p%d", r);
				else
					chunk_field(&t, kinds[k], r);
				add(&t, k < 3 ? "," : "%s", eol);
			}
			if (rnd_below(30) == 0)
				add(&t, "%s", rnd_below(2) ? eol : "  \n");
		}
		/* and a malformed row at times: the same error everywhere */
		if (seed % 10 == 0)
			add(&t, "1,2\n");
		if (rnd_below(3) == 0)
			t.len -= strlen(eol);
		check_chunks(fx, &t);
	}
	free(t.p);
}

/* Quoted newlines right at each place a chunk could be cut. */
static void test_csv_chunk_cut_in_quotes(void **state)
{
	struct fixture *fx = *state;
	struct text t = { 0 };
	unsigned pad, i;

	for (pad = 0; pad < 40; pad++) {
		t.len = 0;
		add(&t, "s,n\n");
		for (i = 0; i < 12; i++)
			add(&t, "\"%.*s\n\n\n%.*s\",%u\n", (int)(pad % 7),
			    "xxxxxxx", (int)((pad + i) % 5), "yyyyy", i);
		check_chunks(fx, &t);
	}
	free(t.p);
}

static void test_csv_stop_and_progress(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_progress p = { 0 };
	struct hmf_table_opts o = opts(2);
	const char *text = "a,b\n1,2\n3,4\n5,6\n";
	atomic_int stop = 1;
	struct hmf_table t;
	int fd;

	o.stop = &stop;
	assert_int_equal(read_csv(fx, text, &o, &t), -EINTR);
	stop = 0;
	fd = open_data(fx, "p.csv", text, strlen(text));
	assert_int_equal(hmf_csv_read(fd, &o, &p, &t), 0);
	close(fd);
	assert_int_equal(atomic_load(&p.rows), 3);
	assert_int_equal(atomic_load(&p.source_bytes), strlen(text));
	assert_int_equal(atomic_load(&p.source_bytes_read), strlen(text));
	hmf_table_fini(&t);
	/* a zeroed table is fine to release, twice too */
	memset(&t, 0, sizeof(t));
	hmf_table_fini(&t);
	hmf_table_fini(&t);
	hmf_table_fini(NULL);
}

static void test_csv_odd_files(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(2);
	struct hmf_table t;
	int fds[2];
	char *big;
	size_t n;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(hmf_csv_read(fds[0], &o, NULL, &t), -EINVAL);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(read_csv(fx, "", &o, &t), -EINVAL);
	assert_int_equal(read_csv(fx, "\n \n", &o, &t), -EINVAL);
	/* a header only: no rows, float64 columns (as numpy's empty array) */
	assert_int_equal(read_csv(fx, "a,b", &o, &t), 0);
	assert_int_equal(t.nrows, 0);
	assert_string_equal(col(&t, "a")->dtype.str, "<f8");
	hmf_table_fini(&t);

	/* a number that ends a file of exactly one page, no final LF */
	n = (size_t)sysconf(_SC_PAGESIZE);
	big = malloc(n);
	assert_non_null(big);
	memset(big, '1', n);
	memcpy(big, "a\n", 2);
	assert_int_equal(read_csv_n(fx, big, n, &o, &t), 0);
	assert_int_equal(t.nrows, 1);
	assert_string_equal(col(&t, "a")->dtype.str, "|S4094");
	hmf_table_fini(&t);
	/* a long quoted field across every chunk */
	memset(big, 'x', n);
	memcpy(big, "a,b\n1,\"", 7);
	big[n - 1] = '"';
	assert_int_equal(read_csv_n(fx, big, n, &o, &t), 0);
	assert_int_equal(t.nrows, 1);
	assert_int_equal(col(&t, "b")->dtype.itemsize, n - 8);
	hmf_table_fini(&t);
	free(big);
}

/*
 * Random decimal texts of every shape (short, 17-21 digits, near halfway
 * between two doubles, tiny and huge exponents) read exactly as strtod.
 */
static void test_csv_floats_round_like_strtod(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(2);
	struct text t = { 0 };
	const struct hmf_column *c;
	struct hmf_table tab;
	char **texts;
	const int n = 60000;
	char buf[128];
	int i, k, nd, e;

	texts = calloc((size_t)n, sizeof(*texts));
	assert_non_null(texts);
	rnd_state = 42;
	add(&t, "v\n");
	for (i = 0; i < n; i++) {
		switch (rnd_below(6)) {
		case 0: {
			/* the midpoint of two doubles, a few digits shown */
			double d = (1.0 + rnd_unit()) *
				   ldexp(1.0, (int)rnd_below(200) - 100);
			long double m =
				((long double)d + nextafter(d, 2 * d)) / 2;

			snprintf(buf, sizeof(buf), "%.*Le",
				 16 + (int)rnd_below(6), m);
			break;
		}
		case 1:
			snprintf(buf, sizeof(buf), "%.17g", rnd_normal());
			break;
		case 2:
			snprintf(buf, sizeof(buf), "%.6f", rnd_normal() * 100);
			break;
		default:
			/* nd random digits times 10^e, below the overflow */
			nd = 1 + (int)rnd_below(25);
			for (k = 0; k < nd; k++)
				buf[k] = (char)('0' + rnd_below(10));
			e = (int)rnd_below(660) - 350;
			if (e + nd > 308)
				e = 308 - nd;
			snprintf(buf + nd, sizeof(buf) - (size_t)nd, "e%d", e);
		}
		texts[i] = strdup(buf);
		assert_non_null(texts[i]);
		add(&t, "%s\n", buf);
	}
	assert_int_equal(read_csv_n(fx, t.p, t.len, &o, &tab), 0);
	c = col(&tab, "v");
	for (i = 0; i < n; i++) {
		double want = strtod(texts[i], NULL),
		       got = get_f64(c, (uint64_t)i);

		if (bits(want) != bits(got))
			fail_msg("'%s': %.17g, strtod %.17g", texts[i], got,
				 want);
		free(texts[i]);
	}
	hmf_table_fini(&tab);
	free(texts);
	free(t.p);
}

/*
 * The Eisel-Lemire range (up to 19 digits, 10^-128 .. 10^128): random
 * 16-19 digit mantissas, and exact midpoints between two doubles written
 * out in full ((2m + 1) * 2^e, i.e. (2m + 1) * 5^-e * 10^e), where only
 * round-half-to-even decides. Every text read exactly as strtod.
 */
static void test_csv_floats_halfway_and_19_digits(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(2);
	struct text t = { 0 };
	const struct hmf_column *c;
	struct hmf_table tab;
	char **texts;
	const int n = 40000;
	char buf[128];
	int i, k, nd;

	texts = calloc((size_t)n, sizeof(*texts));
	assert_non_null(texts);
	rnd_state = 4242;
	add(&t, "v\n");
	for (i = 0; i < n; i++) {
		if (i % 2) {
			nd = 16 + (int)rnd_below(4);
			buf[0] = (char)('1' + rnd_below(9));
			for (k = 1; k < nd; k++)
				buf[k] = (char)('0' + rnd_below(10));
			snprintf(buf + nd, sizeof(buf) - (size_t)nd, "e%d",
				 (int)rnd_below(257) - 128 - nd);
		} else {
			/* (2m + 1) * 2^-s with 2m + 1 < 2^54: exactly between
			 * two doubles; printed as an integer times 10^-s */
			uint64_t m = (rnd() >> 11) | ((uint64_t)1 << 52);
			unsigned __int128 x = 2 * (unsigned __int128)m + 1;
			int sh = (int)rnd_below(10);

			for (k = 0; k < sh; k++)
				x *= 5;
			if (x >= (unsigned __int128)10000000000000000000ull) {
				sh = 0;
				x = 2 * (unsigned __int128)m + 1;
			}
			snprintf(buf, sizeof(buf), "%llue-%d",
				 (unsigned long long)x, sh);
		}
		texts[i] = strdup(buf);
		assert_non_null(texts[i]);
		add(&t, "%s\n", buf);
	}
	assert_int_equal(read_csv_n(fx, t.p, t.len, &o, &tab), 0);
	c = col(&tab, "v");
	for (i = 0; i < n; i++) {
		double want = strtod(texts[i], NULL),
		       got = get_f64(c, (uint64_t)i);

		if (bits(want) != bits(got))
			fail_msg("'%s': %.17g, strtod %.17g", texts[i], got,
				 want);
		free(texts[i]);
	}
	hmf_table_fini(&tab);
	free(texts);
	free(t.p);
}

/*
 * hmf_table_drop_column: a column's buffer goes with the last column that
 * reads it (a column wanted twice shares one), the others stay readable.
 */
static void test_csv_drop_column(void **state)
{
	static const char *const want[] = { "a", "b", "a" };
	struct fixture *fx = *state;
	struct hmf_table_opts o = opts(1);
	struct hmf_table t;

	o.want = want;
	o.nwant = 3;
	assert_int_equal(read_csv(fx, "a,b\n1,2.5\n3,4.5\n", &o, &t), 0);
	assert_int_equal(t.ncols, 3);
	assert_ptr_equal(t.cols[0].data, t.cols[2].data);
	hmf_table_drop_column(&t, 0);
	assert_null(t.cols[0].data);
	/* still there for the other column that reads it */
	assert_int_equal(get_i64(&t.cols[2], 1), 3);
	hmf_table_drop_column(&t, 1);
	assert_null(t.cols[1].data);
	hmf_table_drop_column(&t, 2);
	hmf_table_drop_column(&t, 2); /* twice: nothing more happens */
	assert_null(t.cols[2].data);
	hmf_table_fini(&t);
}

/* pandas */

static int run_python(char *const argv[])
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(PYTHON, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* pandas is needed; only a CI run may not do without it. */
static bool pandas_present(void)
{
	char *const argv[] = { (char *)"python3", (char *)"-c",
			       (char *)"import pandas", NULL };

	if (access(PYTHON, X_OK) == 0 && run_python(argv) == 0)
		return true;
	if (getenv("CI"))
		fail_msg(PYTHON " with pandas is required when CI is set");
	return false;
}

/*
 * For each CSV path: what pandas reads, as "ncols nrows", then per column
 * "<name hex> <dtype|O>" and one line of values (ints in decimal, floats
 * as the hex of their 8 little-endian bytes, strings "S<hex>" or "N" for
 * NaN), in PATH.pd.
 */
static const char pandas_script[] =
	"import sys, struct\n"
	"import pandas as pd\n"
	"for path in sys.argv[1:]:\n"
	"    out = []\n"
	"    try:\n"
	"        df = pd.read_csv(path, float_precision='round_trip')\n"
	"        out.append('%d %d' % (len(df.columns), len(df)))\n"
	"        for name in df.columns:\n"
	"            s = df[name]\n"
	"            k = s.dtype.kind\n"
	"            out.append(str(name).encode().hex() + ' ' +\n"
	"                       ('|O' if k == 'O' else s.dtype.str))\n"
	"            if k in 'iu':\n"
	"                out.append(' '.join(str(int(v)) for v in s))\n"
	"            elif k == 'f':\n"
	"                out.append(' '.join(struct.pack('<d', v).hex()\n"
	"                                    for v in s))\n"
	"            else:\n"
	"                out.append(' '.join('N' if isinstance(v, float)\n"
	"                                    and v != v else\n"
	"                                    'S' + v.encode().hex()\n"
	"                                    for v in s))\n"
	"    except Exception as e:\n"
	"        out = ['ERR ' + str(e).replace('\\n', ' ')]\n"
	"    with open(path + '.pd', 'w') as f:\n"
	"        f.write('\\n'.join(out) + '\\n')\n";

static const char *const special_floats[] = {
	".5",
	"5.",
	"1e5",
	"1E-5",
	"-0.0",
	"+1.5",
	"inf",
	"-inf",
	"Infinity",
	"-Infinity",
	"INF",
	"+inf",
	"nan",
	"NaN",
	"NA",
	"",
	"-1e400",
	"4.9e-324",
	"0.0",
	"-0",
	"0e0",
	"+.5",
	" 1.5",
	"2.5 ",
	"1e-400",
	"N/A",
	"null",
	"2.2250738585072014e-308",
	"1.7976931348623157e308",
};

static void pandas_float(struct text *t)
{
	unsigned k = rnd_below(12), i, nd;
	double d;

	switch (k) {
	case 0:
		add(t, "%.17g", rnd_normal());
		break;
	case 1:
		add(t, "%.6f", rnd_normal() * 100);
		break;
	case 2:
		add(t, "%.17g",
		    (rnd_unit() - 0.5) * pow(10.0, (int)rnd_below(600) - 300));
		break;
	case 3:
		add(t, "%s",
		    special_floats[rnd_below(sizeof(special_floats) /
					     sizeof(special_floats[0]))]);
		break;
	case 4: /* 19 digits: an int64 overflow pandas then reads as float */
		add(t, "%llue%d",
		    (unsigned long long)(1000000000000000000ull +
					 rnd() % 8000000000000000000ull),
		    (int)rnd_below(80) - 40);
		break;
	case 5:
		add(t, "%u.%ue%d", rnd_below(1000000000), rnd_below(1000000000),
		    (int)rnd_below(60) - 30);
		break;
	case 6:
		add(t, "%.25e", rnd_unit());
		break;
	case 7:
		add(t, "0.");
		for (i = rnd_below(30); i > 0; i--)
			add(t, "0");
		for (nd = 1 + rnd_below(20); nd > 0; nd--)
			add(t, "%u", rnd_below(10));
		break;
	case 8: {
		long double m;

		d = (1.0 + rnd_unit()) * ldexp(1.0, (int)rnd_below(120) - 60);
		m = ((long double)d + nextafter(d, 2 * d)) / 2;
		add(t, "%.*Le", 16 + (int)rnd_below(6), m);
		break;
	}
	case 9:
		/* subnormal */
		add(t, "%.17g", rnd_unit() * 4e-308);
		break;
	default:
		add(t, "%d", (int)rnd_below(2000000) - 1000000);
	}
}

static void pandas_int(struct text *t, bool with_na)
{
	static const char *const special[] = { "+5",
					       " 7 ",
					       "007",
					       "-0",
					       "0",
					       "9223372036854775807",
					       "-00000000000000000000001" };
	static const char *const na[] = { "", "NA", ".5" };
	int64_t v;

	if (with_na && rnd_below(12) == 0) {
		add(t, "%s", na[rnd_below(3)]);
		return;
	}
	switch (rnd_below(8)) {
	case 0:
		v = (int64_t)rnd();
		/* pandas turns INT64_MIN into NaN when it upcasts (a bug) */
		if (with_na && v == INT64_MIN)
			v = 0;
		add(t, "%" PRId64, v);
		break;
	case 1:
		add(t, "%s", special[rnd_below(7)]);
		break;
	default:
		add(t, "%d", (int)rnd_below(2000) - 1000);
	}
}

static void pandas_string(struct text *t)
{
	static const char *const raw[] = {
		"\"a,b\"",
		"\"say \"\"hi\"\"\"",
		"\"line1\nline2\"",
		"\"cr\r\nlf\"",
		"",
		"NA",
		" lead",
		"trail ",
		"1.5",
		"12",
		"\xc3\xa9t\xc3\xa9",
		"\"\"",
		"\"5\"",
		"NAN",
		"1e400",
		"inf ",
		"0x10",
		"1_0",
	};
	unsigned i, n;

	if (rnd_below(2)) {
		add(t, "%s", raw[rnd_below(sizeof(raw) / sizeof(raw[0]))]);
		return;
	}
	for (i = 0, n = 1 + rnd_below(12); i < n; i++)
		add(t, "%c", 'a' + rnd_below(10));
}

static void pandas_file(struct fixture *fx, const char *name)
{
	static const char *const blank[] = { "\n", "  \n", "\t\r\n" };
	struct text t = { 0 };
	unsigned ncol = 1 + rnd_below(6), nrow = 1 + rnd_below(60);
	unsigned kinds[6], i, r;
	const char *eol = rnd_below(2) ? "\r\n" : "\n";
	size_t start;

	for (i = 0; i < ncol; i++)
		kinds[i] = rnd_below(7);
	for (i = 0; i < ncol; i++)
		add(&t, "c%u%s", i, i + 1 < ncol ? "," : eol);
	for (r = 0; r < nrow; r++) {
		start = t.len;
		for (i = 0; i < ncol; i++) {
			switch (kinds[i]) {
			case 0:
			case 1:
				pandas_float(&t);
				break;
			case 2:
				pandas_int(&t, false);
				break;
			case 3:
				pandas_int(&t, true);
				break;
			case 4:
				if (rnd_below(2))
					add(&t, "%llu",
					    (unsigned long long)(rnd() |
								 1ull << 63));
				else
					add(&t, "%u", rnd_below(100));
				break;
			case 5:
				pandas_string(&t);
				break;
			default:
				if (rnd_below(2))
					pandas_int(&t, false);
				else
					pandas_float(&t);
			}
			add(&t, "%s", i + 1 < ncol ? "," : eol);
		}
		/* a one-column row can be blank: both skip it, keep one */
		if (t.len - start <= strlen(eol) + 2 &&
		    strspn(t.p + start, " \t\r\n") == t.len - start) {
			t.len = start;
			add(&t, "\"x\"%s", eol);
		}
		if (rnd_below(25) == 0)
			add(&t, "%s", blank[rnd_below(3)]);
	}
	if (rnd_below(5) == 0)
		t.len -= strlen(eol);
	write_bytes(fx->dirfd, name, t.p, t.len);
	free(t.p);
}

/* The hex digits at @s as bytes into @out; returns their count. */
static size_t unhex(const char *s, size_t len, unsigned char *out)
{
	size_t i;
	unsigned v;

	for (i = 0; i + 1 < len + 1 && 2 * i < len; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	return len / 2;
}

/* Our value of row @r of @c against pandas' token @tok. */
static bool same_value(const struct hmf_column *c, uint64_t r, const char *tok,
		       size_t len, const char *dtype)
{
	static const char *const na[] = {
		"",	"#N/A", "#N/A N/A", "#NA",     "-1.#IND", "-1.#QNAN",
		"-NaN", "-nan", "1.#IND",   "1.#QNAN", "<NA>",	  "N/A",
		"NA",	"NULL", "NaN",	    "n/a",     "nan",	  "null",
	};
	const unsigned char *p = c->data + r * c->stride;
	unsigned char want[512];
	double x, y;
	size_t n, i;

	if (strcmp(dtype, "|O") == 0) {
		n = strnlen((const char *)p, c->dtype.itemsize);
		if (len == 1 && tok[0] == 'N') {
			for (i = 0; i < sizeof(na) / sizeof(na[0]); i++)
				if (strlen(na[i]) == n &&
				    memcmp(na[i], p, n) == 0)
					return true;
			return false;
		}
		assert_true(len / 2 < sizeof(want));
		return tok[0] == 'S' && unhex(tok + 1, len - 1, want) == n &&
		       memcmp(want, p, n) == 0;
	}
	if (strcmp(dtype, "<f8") == 0) {
		assert_int_equal(unhex(tok, len, want), 8);
		memcpy(&x, want, 8);
		memcpy(&y, p, 8);
		return memcmp(&x, &y, 8) == 0 || (isnan(x) && isnan(y));
	}
	memcpy(&n, p, 8);
	if (strcmp(dtype, "<i8") == 0)
		return (int64_t)n == strtoll(tok, NULL, 10);
	return n == strtoull(tok, NULL, 10);
}

/* Compare our read of @name with pandas' @name.pd. */
static void compare_with_pandas(struct fixture *fx, const char *name,
				unsigned threads)
{
	struct hmf_table_opts o = opts(threads);
	char pd_name[64], *exp, *line, *next, *tok, *sp;
	unsigned long long nrows;
	struct hmf_table t;
	size_t ncols, i, len;
	uint64_t r;
	int fd;

	snprintf(pd_name, sizeof(pd_name), "%s.pd", name);
	exp = read_text(fx->dirfd, pd_name, &len);
	fd = openat(fx->dirfd, name, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (strncmp(exp, "ERR", 3) == 0)
		fail_msg("%s: pandas failed: %s", name, exp);
	assert_int_equal(hmf_csv_read(fd, &o, NULL, &t), 0);
	close(fd);
	line = exp;
	next = strchr(line, '\n');
	*next = '\0';
	assert_int_equal(sscanf(line, "%zu %llu", &ncols, &nrows), 2);
	assert_int_equal(t.ncols, ncols);
	assert_int_equal(t.nrows, nrows);
	for (i = 0; i < ncols; i++) {
		const struct hmf_column *c = &t.cols[i];
		const char *dtype;

		line = next + 1;
		next = strchr(line, '\n');
		*next = '\0';
		sp = strchr(line, ' ');
		dtype = sp + 1;
		if (strcmp(dtype, "|O") == 0 ? c->dtype.kind != 'S'
					     : strcmp(dtype, c->dtype.str) != 0)
			fail_msg("%s column %zu: %s, pandas %s", name, i,
				 c->dtype.str, dtype);
		line = next + 1;
		next = strchr(line, '\n');
		*next = '\0';
		for (r = 0, tok = line; r < t.nrows; r++) {
			sp = strchr(tok, ' ');
			len = sp ? (size_t)(sp - tok) : strlen(tok);
			if (!same_value(c, r, tok, len, dtype))
				fail_msg(
					"%s (%u threads): column %zu row %llu differs from pandas' %.*s",
					name, threads, i, (unsigned long long)r,
					(int)len, tok);
			tok += len + 1;
		}
	}
	hmf_table_fini(&t);
	free(exp);
}

static void test_csv_matches_pandas(void **state)
{
	struct fixture *fx = *state;
	enum { NFILES = 80 };
	char *argv[NFILES + 4], names[NFILES][64], paths[NFILES][256];
	int i;

	if (!pandas_present())
		skip();
	rnd_state = 20240611;
	argv[0] = (char *)"python3";
	argv[1] = (char *)"-c";
	argv[2] = (char *)pandas_script;
	for (i = 0; i < NFILES; i++) {
		snprintf(names[i], sizeof(names[i]), "pd%d.csv", i);
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", fx->root,
			 names[i]);
		pandas_file(fx, names[i]);
		argv[3 + i] = paths[i];
	}
	argv[3 + NFILES] = NULL;
	assert_int_equal(run_python(argv), 0);
	for (i = 0; i < NFILES; i++) {
		compare_with_pandas(fx, names[i], 1);
		compare_with_pandas(fx, names[i], 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_csv_infers_int_float_and_strings, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_quoted_fields,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_line_ends,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_empty_fields,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_na_words,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_float_syntax,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_int_syntax,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_negative_zero,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_overflow_and_strings,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_csv_blank_lines_bom_and_nul, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_no_header,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_delimiters,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_names, fx_setup_bare,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_want, fx_setup_bare,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_explicit_dtypes,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_explicit_dtype_errors,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_malformed_rows,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_first_error_wins,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_csv_chunks_match_one_thread, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_chunk_cut_in_quotes,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_stop_and_progress,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_odd_files,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_csv_floats_round_like_strtod, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_csv_floats_halfway_and_19_digits, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_drop_column,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_csv_matches_pandas,
						fx_setup_bare, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
