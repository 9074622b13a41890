/* SPDX-License-Identifier: MIT */
/*
 * test_npy_table.c - NPY files and raw array bytes as tables
 * (src/ingest/npy_table.c): 1-D, 2-D in C and Fortran order, structured
 * dtypes, both byte orders, the wanted columns, views into the mapping
 * (no copy), every refusal with its errno, and equality with numpy's own
 * columns of np.save'd files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A v1.0 NPY header around the dict text @dict (padded as numpy pads). */
static size_t make_header(const char *dict, char *out, size_t size)
{
	size_t n = strlen(dict), total = (10 + n + 1 + 63) / 64 * 64;

	assert_true(total <= size);
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (char)((total - 10) & 0xff);
	out[9] = (char)((total - 10) >> 8);
	memcpy(out + 10, dict, n);
	memset(out + 10 + n, ' ', total - 10 - n - 1);
	out[total - 1] = '\n';
	return total;
}

/* Write the NPY file @name: header @dict and @len bytes of @data. */
static int open_npy(struct fixture *fx, const char *name, const char *dict,
		    const void *data, size_t len)
{
	char *buf = malloc(4096 + len);
	size_t h;
	int fd;

	assert_non_null(buf);
	h = make_header(dict, buf, 4096);
	memcpy(buf + h, data, len);
	write_bytes(fx->dirfd, name, buf, h + len);
	free(buf);
	fd = openat(fx->dirfd, name, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static int read_npy(struct fixture *fx, const char *dict, const void *data,
		    size_t len, const struct hmf_table_opts *o,
		    struct hmf_table *t)
{
	int fd = open_npy(fx, "t.npy", dict, data, len);
	int rc = hmf_npy_read_table(fd, o, NULL, t);

	close(fd);
	return rc;
}

/* Row @r of column @c (any stride) equals @len bytes at @want. */
static void assert_cell(const struct hmf_column *c, uint64_t r,
			const void *want, size_t len)
{
	assert_int_equal(c->dtype.itemsize, len);
	assert_memory_equal(c->data + r * c->stride, want, len);
}

static void test_npy_table_1d(void **state)
{
	struct fixture *fx = *state;
	int32_t v[5] = { 1, -2, 3, 40000, -5 };
	struct hmf_table t;
	int i;

	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }",
			v, sizeof(v), NULL, &t),
		0);
	assert_int_equal(t.nrows, 5);
	assert_int_equal(t.ncols, 1);
	assert_string_equal(t.cols[0].name, "0");
	assert_string_equal(t.cols[0].dtype.str, "<i4");
	assert_int_equal(t.cols[0].stride, 4);
	for (i = 0; i < 5; i++)
		assert_cell(&t.cols[0], (uint64_t)i, &v[i], 4);
	hmf_table_fini(&t);
}

static void test_npy_table_2d_c_and_fortran(void **state)
{
	struct fixture *fx = *state;
	double c[4][3], f[3][4];
	struct hmf_table t;
	int r, j;

	for (r = 0; r < 4; r++)
		for (j = 0; j < 3; j++)
			f[j][r] = c[r][j] = r * 10 + j + 0.5;
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }",
			c, sizeof(c), NULL, &t),
		0);
	assert_int_equal(t.nrows, 4);
	assert_int_equal(t.ncols, 3);
	for (j = 0; j < 3; j++) {
		assert_int_equal(t.cols[j].stride, 24);
		for (r = 0; r < 4; r++)
			assert_cell(&t.cols[j], (uint64_t)r, &c[r][j], 8);
	}
	assert_string_equal(t.cols[2].name, "2");
	hmf_table_fini(&t);

	/* Fortran order: each column is contiguous */
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }",
			f, sizeof(f), NULL, &t),
		0);
	for (j = 0; j < 3; j++) {
		assert_int_equal(t.cols[j].stride, 8);
		for (r = 0; r < 4; r++)
			assert_cell(&t.cols[j], (uint64_t)r, &c[r][j], 8);
	}
	hmf_table_fini(&t);
}

static void test_npy_table_structured_and_byte_order(void **state)
{
	struct fixture *fx = *state;
	unsigned char rec[3][15];
	struct hmf_table t;
	int r;

	/* a: <i4 at 0, b: >f8 at 4, c: |S3 at 12 (packed, 15 bytes) */
	for (r = 0; r < 3; r++) {
		memset(rec[r], r + 1, 4);
		memset(rec[r] + 4, 0x40 + r, 8);
		memcpy(rec[r] + 12, "xyz", 3);
	}
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': [('a', '<i4'), ('b', '>f8'), ('c', '|S3')], 'fortran_order': False, 'shape': (3,), }",
			rec, sizeof(rec), NULL, &t),
		0);
	assert_int_equal(t.nrows, 3);
	assert_int_equal(t.ncols, 3);
	assert_string_equal(t.cols[0].name, "a");
	assert_string_equal(t.cols[1].name, "b");
	assert_string_equal(t.cols[1].dtype.str, ">f8");
	assert_string_equal(t.cols[2].dtype.str, "|S3");
	for (r = 0; r < 3; r++) {
		assert_int_equal(t.cols[0].stride, 15);
		assert_cell(&t.cols[0], (uint64_t)r, rec[r], 4);
		assert_cell(&t.cols[1], (uint64_t)r, rec[r] + 4, 8);
		assert_cell(&t.cols[2], (uint64_t)r, rec[r] + 12, 3);
	}
	hmf_table_fini(&t);

	/* big-endian plain arrays keep their bytes and dtype */
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }",
			"\0\0\1\2\0\0\0\3", 8, NULL, &t),
		0);
	assert_string_equal(t.cols[0].dtype.str, ">i4");
	assert_cell(&t.cols[0], 1, "\0\0\0\3", 4);
	hmf_table_fini(&t);
}

static void test_npy_table_want(void **state)
{
	struct fixture *fx = *state;
	static const char *const want[] = { "2", "0", "2" };
	static const char *const unknown[] = { "0", "3" };
	int16_t v[2][3] = { { 1, 2, 3 }, { 4, 5, 6 } };
	struct hmf_table_opts o = { 0 };
	struct hmf_table t;

	o.want = want;
	o.nwant = 3;
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }",
			v, sizeof(v), &o, &t),
		0);
	assert_int_equal(t.ncols, 3);
	assert_string_equal(t.cols[0].name, "2");
	assert_string_equal(t.cols[1].name, "0");
	assert_cell(&t.cols[0], 1, &v[1][2], 2);
	assert_cell(&t.cols[1], 1, &v[1][0], 2);
	assert_ptr_equal(t.cols[0].data, t.cols[2].data);
	hmf_table_fini(&t);
	o.want = unknown;
	o.nwant = 2;
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }",
			v, sizeof(v), &o, &t),
		-EINVAL);
	assert_true(errmsg_has("'3'"));
	assert_true(errmsg_has("t.npy"));
}

static void test_npy_table_refuses_bad_files(void **state)
{
	struct fixture *fx = *state;
	static const char *const shapes[] = {
		"{'descr': '<i4', 'fortran_order': False, 'shape': (), }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 1), }",
		"{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1, 1), }",
	};
	char zeros[16] = { 0 };
	struct hmf_table t;
	size_t i;
	int fd, fds[2];

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		assert_int_equal(read_npy(fx, shapes[i], zeros, 16, NULL, &t),
				 -EINVAL);
	/* data shorter than the header says */
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }",
			zeros, 16, NULL, &t),
		-EINVAL);
	assert_true(errmsg_has("20 bytes"));
	/* not NPY, a cut header, an empty file, a pipe */
	write_text(fx->dirfd, "x.npy", "hello, world");
	fd = openat(fx->dirfd, "x.npy", O_RDONLY);
	assert_int_equal(hmf_npy_read_table(fd, NULL, NULL, &t), -EINVAL);
	close(fd);
	write_bytes(fx->dirfd, "y.npy", "\x93NUMPY\x01\x00\x76\x00{'descr'",
		    19);
	fd = openat(fx->dirfd, "y.npy", O_RDONLY);
	assert_int_equal(hmf_npy_read_table(fd, NULL, NULL, &t), -EINVAL);
	close(fd);
	write_text(fx->dirfd, "z.npy", "");
	fd = openat(fx->dirfd, "z.npy", O_RDONLY);
	assert_int_equal(hmf_npy_read_table(fd, NULL, NULL, &t), -EINVAL);
	close(fd);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "\x93NUMPY", 6), 6);
	close(fds[1]);
	assert_int_equal(hmf_npy_read_table(fds[0], NULL, NULL, &t), -EINVAL);
	close(fds[0]);
}

static void test_npy_table_raw_and_views(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table_progress p = { 0 };
	unsigned char buf[9000];
	struct hmf_dtype d;
	struct hmf_table t;
	uint64_t shape[2] = { 3, 2 };
	uint32_t v;
	int fd;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	write_bytes(fx->dirfd, "raw", buf, sizeof(buf));
	fd = openat(fx->dirfd, "raw", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(hmf_dtype_parse("<u4", &d), 0);
	/* at an offset that is not page aligned, and one that is */
	assert_int_equal(hmf_raw_read_table(fd, 101, &d, NULL, 0, 2, shape,
					    false, NULL, &p, &t),
			 0);
	assert_int_equal(t.nrows, 3);
	assert_int_equal(t.ncols, 2);
	assert_cell(&t.cols[1], 2, buf + 101 + 2 * 8 + 4, 4);
	assert_int_equal(atomic_load(&p.rows), 3);
	assert_int_equal(atomic_load(&p.source_bytes), 24);
	assert_int_equal(atomic_load(&p.source_bytes_read), 24);
	hmf_table_fini(&t);
	assert_int_equal(hmf_raw_read_table(fd, 8192, &d, NULL, 0, 1, shape,
					    true, NULL, NULL, &t),
			 0);
	assert_cell(&t.cols[0], 2, buf + 8192 + 8, 4);

	/* a view, not a copy: a write to the file shows through */
	v = 0xdeadbeef;
	close(fd);
	fd = openat(fx->dirfd, "raw", O_WRONLY);
	assert_int_equal(pwrite(fd, &v, 4, 8192 + 8), 4);
	assert_cell(&t.cols[0], 2, &v, 4);
	hmf_table_fini(&t);

	/* beyond the end of the file */
	assert_int_equal(hmf_raw_read_table(fd, 8990, &d, NULL, 0, 1, shape,
					    false, NULL, NULL, &t),
			 -EINVAL);
	assert_int_equal(hmf_raw_read_table(fd, 1 << 20, &d, NULL, 0, 1, shape,
					    false, NULL, NULL, &t),
			 -EINVAL);
	close(fd);
}

static void test_npy_table_empty(void **state)
{
	struct fixture *fx = *state;
	struct hmf_table t;

	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }",
			"", 0, NULL, &t),
		0);
	assert_int_equal(t.nrows, 0);
	assert_int_equal(t.ncols, 3);
	hmf_table_fini(&t);
	assert_int_equal(
		read_npy(
			fx,
			"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 0), }",
			"", 0, NULL, &t),
		0);
	assert_int_equal(t.nrows, 4);
	assert_int_equal(t.ncols, 0);
	hmf_table_fini(&t);
	memset(&t, 0, sizeof(t));
	hmf_table_fini(&t);
}

/* numpy */

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

static bool numpy_present(void)
{
	char *const argv[] = { (char *)"python3", (char *)"-c",
			       (char *)"import numpy", NULL };

	if (access(PYTHON, X_OK) == 0 && run_python(argv) == 0)
		return true;
	if (getenv("CI"))
		fail_msg(PYTHON " with numpy is required when CI is set");
	return false;
}

/*
 * np.save files of many dtypes and layouts in DIR, each NAME.npy with
 * NAME.txt: "ncols nrows", then per column "name dtype.str hex-of-bytes".
 */
static const char numpy_script[] =
	"import sys, os\n"
	"import numpy as np\n"
	"d = sys.argv[1]\n"
	"rng = np.random.default_rng(7)\n"
	"st = np.zeros(25, dtype=[('x', '<i8'), ('y', '>f4'), ('s', 'S3'),\n"
	"                         ('b', '?')])\n"
	"st['x'] = rng.integers(-2**62, 2**62, 25)\n"
	"st['y'] = rng.standard_normal(25)\n"
	"st['s'] = [b'ab', b'xyz', b''] * 8 + [b'q']\n"
	"st['b'] = rng.integers(0, 2, 25)\n"
	"arrays = {\n"
	"    'i1': rng.integers(-128, 127, 50, dtype=np.int8),\n"
	"    'u2': rng.integers(0, 65535, 50, dtype=np.uint16),\n"
	"    'i4c': rng.integers(-10**9, 10**9, (40, 3), dtype=np.int32),\n"
	"    'f8f': np.asfortranarray(rng.standard_normal((30, 4))),\n"
	"    'f4be': rng.standard_normal((20, 2)).astype('>f4'),\n"
	"    'f8bef': np.asfortranarray(\n"
	"        rng.standard_normal((10, 3)).astype('>f8')),\n"
	"    'b1': rng.integers(0, 2, 33).astype(bool),\n"
	"    's5': np.array([b'a', b'hello', b'xy', b''], dtype='S5'),\n"
	"    'st': st,\n"
	"    'c16': rng.standard_normal((5, 2)) + 1j,\n"
	"    'm8': np.arange(7).astype('M8[s]'),\n"
	"    'u8_1col': rng.integers(0, 2**63, (6, 1), dtype=np.uint64),\n"
	"    'empty2d': np.zeros((0, 3)),\n"
	"}\n"
	"for name, a in arrays.items():\n"
	"    np.save(os.path.join(d, name + '.npy'), a)\n"
	"    if a.dtype.names:\n"
	"        cols = [(n, a[n]) for n in a.dtype.names]\n"
	"    elif a.ndim == 2:\n"
	"        cols = [(str(j), a[:, j]) for j in range(a.shape[1])]\n"
	"    else:\n"
	"        cols = [('0', a)]\n"
	"    with open(os.path.join(d, name + '.txt'), 'w') as f:\n"
	"        f.write('%d %d\\n' % (len(cols), a.shape[0]))\n"
	"        for n, c in cols:\n"
	"            f.write('%s %s %s\\n' % (n, c.dtype.str,\n"
	"                    np.ascontiguousarray(c).tobytes().hex()))\n";

static void compare_with_numpy(struct fixture *fx, const char *name)
{
	char file[64], *exp, *line, *next, cname[64], dtype[32], *hex;
	size_t ncols, nrows, i, k, len;
	struct hmf_table t;
	unsigned v;
	uint64_t r;
	int fd;

	snprintf(file, sizeof(file), "%s.txt", name);
	exp = read_text(fx->dirfd, file, &len);
	snprintf(file, sizeof(file), "%s.npy", name);
	fd = openat(fx->dirfd, file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (hmf_npy_read_table(fd, NULL, NULL, &t) < 0)
		fail_msg("%s: %s", file, hmf_errmsg());
	close(fd);
	line = exp;
	next = strchr(line, '\n');
	*next = '\0';
	assert_int_equal(sscanf(line, "%zu %zu", &ncols, &nrows), 2);
	assert_int_equal(t.ncols, ncols);
	assert_int_equal(t.nrows, nrows);
	for (i = 0; i < ncols; i++) {
		const struct hmf_column *c = &t.cols[i];

		line = next + 1;
		next = strchr(line, '\n');
		*next = '\0';
		assert_int_equal(sscanf(line, "%63s %31s", cname, dtype), 2);
		hex = strrchr(line, ' ') + 1;
		assert_string_equal(c->name, cname);
		if (strcmp(c->dtype.str, dtype) != 0)
			fail_msg("%s column %s: %s, numpy %s", name, cname,
				 c->dtype.str, dtype);
		assert_int_equal(strlen(hex), 2 * nrows * c->dtype.itemsize);
		for (r = 0; r < nrows; r++)
			for (k = 0; k < c->dtype.itemsize; k++) {
				assert_int_equal(sscanf(hex, "%2x", &v), 1);
				hex += 2;
				if (c->data[r * c->stride + k] != v)
					fail_msg(
						"%s column %s row %llu byte %zu differs from numpy",
						name, cname,
						(unsigned long long)r, k);
			}
	}
	hmf_table_fini(&t);
	free(exp);
}

static void test_npy_table_matches_numpy(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {
		"i1", "u2", "i4c", "f8f", "f4be",    "f8bef",  "b1",
		"s5", "st", "c16", "m8",  "u8_1col", "empty2d"
	};
	char *argv[] = { (char *)"python3", (char *)"-c", (char *)numpy_script,
			 fx->root, NULL };
	size_t i;

	if (!numpy_present())
		skip();
	assert_int_equal(run_python(argv), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		compare_with_numpy(fx, names[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_npy_table_1d,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_npy_table_2d_c_and_fortran,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_npy_table_structured_and_byte_order, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_npy_table_want,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_npy_table_refuses_bad_files, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_npy_table_raw_and_views,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_npy_table_empty,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_npy_table_matches_numpy,
						fx_setup_bare, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
