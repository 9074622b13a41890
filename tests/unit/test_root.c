/* SPDX-License-Identifier: MIT */
/*
 * test_root.c - opening roots (modes "r", "r+", "w+", "a") and the seed's
 * path-based API (root.h): groups, arrays and their memory-mapped views,
 * attributes, list, remove, rename, cleaning of leftover temporaries,
 * hostile trees, and many threads changing one group of a shared root.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static bool exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void set_size(struct fixture *fx, const char *name, off_t size)
{
	int fd = openat(fx->dirfd, name, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static int set_i64(struct hmf_root *r, const char *path, int64_t v)
{
	uint64_t shape[1] = { 1 };

	return hmf_set_array(r, path, "<i8", 1, shape, &v);
}

/* The single int64 stored at @path, or -1. */
static int64_t get_i64(struct hmf_root *r, const char *path)
{
	struct hmf_view v;
	int64_t x = -1;

	if (hmf_get_array(r, path, HMF_VIEW_RDONLY, &v) < 0)
		return -1;
	if (v.nbytes == sizeof(x))
		memcpy(&x, v.data, sizeof(x));
	hmf_view_fini(&v);
	return x;
}

static void test_root_open_w_plus_creates(void **state)
{
	struct fixture *fx = *state;
	struct hmf_root *r;
	char path[256];
	char *text;
	int fd;

	/* a missing directory */
	snprintf(path, sizeof(path), "%s/new", fx->base);
	assert_int_equal(hmf_open(path, "w+", &r), 0);
	assert_string_equal(hmf_root_path(r), path);
	assert_true(hmf_root_fd(r) >= 0);
	assert_false(hmf_root_is_readonly(r));
	hmf_close(r);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	text = read_text(fd, ".hmf", NULL);
	assert_non_null(strstr(text, "\"kind\":\"group\""));
	free(text);
	assert_true(exists_at(fd, ".hmf.d"));
	close(fd);
	/* an empty directory */
	assert_int_equal(hmf_open(fx->root, "w+", &r), 0);
	assert_true(exists_at(fx->dirfd, ".hmf"));
	hmf_close(r);
	hmf_close(NULL);
}

static void test_root_open_missing_or_foreign(void **state)
{
	struct fixture *fx = *state;
	struct hmf_root *r = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/missing", fx->base);
	hmf_err_clear();
	assert_int_equal(hmf_open(path, "r+", &r), -ENOENT);
	assert_true(errmsg_has(path));
	assert_int_equal(hmf_open(path, "r", &r), -ENOENT);
	assert_false(exists_at(AT_FDCWD, path));
	/* an empty plain directory is not an HMF root */
	hmf_err_clear();
	assert_int_equal(hmf_open(fx->root, "r+", &r), -EINVAL);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(hmf_open(fx->root, "r", &r), -EINVAL);
	assert_false(exists_at(fx->dirfd, ".hmf"));
	/* a file */
	snprintf(path, sizeof(path), "%s/keep", fx->outside);
	assert_int_equal(hmf_open(path, "w+", &r), -ENOTDIR);
	assert_int_equal(hmf_open(path, "r", &r), -ENOTDIR);
	/* bad modes */
	hmf_err_clear();
	assert_int_equal(hmf_open(fx->root, "x", &r), -EINVAL);
	assert_true(errmsg_has("'x'"));
	assert_int_equal(hmf_open(fx->root, "", &r), -EINVAL);
	assert_int_equal(hmf_open(fx->root, "rw", &r), -EINVAL);
	assert_int_equal(
		hmf_root_open(fx->root, HMF_ROOT_RDONLY | HMF_ROOT_CREATE, &r),
		-EINVAL);
	assert_false(exists_at(fx->dirfd, ".hmf"));
	assert_null(r);
}

/* "w+" and "a" never take over (or erase) a directory of someone else's. */
static void test_root_w_plus_refuses_foreign_directory(void **state)
{
	struct fixture *fx = *state;
	struct hmf_root *r = NULL;
	char *text;

	write_text(fx->dirfd, "thesis.tex", "years of work");
	assert_int_equal(mkdirat(fx->dirfd, "sub", 0755), 0);
	write_text(fx->dirfd, "sub/data", "more");
	hmf_err_clear();
	assert_int_equal(hmf_open(fx->root, "w+", &r), -ENOTEMPTY);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(hmf_open(fx->root, "w", &r), -ENOTEMPTY);
	assert_int_equal(hmf_open(fx->root, "a", &r), -ENOTEMPTY);
	assert_int_equal(hmf_root_open(fx->root, HMF_ROOT_TRUNCATE, &r),
			 -ENOTEMPTY);
	assert_null(r);
	text = read_text(fx->dirfd, "thesis.tex", NULL);
	assert_string_equal(text, "years of work");
	free(text);
	text = read_text(fx->dirfd, "sub/data", NULL);
	assert_string_equal(text, "more");
	free(text);
	assert_false(exists_at(fx->dirfd, ".hmf"));
	assert_false(exists_at(fx->dirfd, ".hmf.d"));
}

static void test_root_w_plus_erases_hmf_root(void **state)
{
	struct fixture *fx = *state;
	struct hmf_root *r;
	struct hmf_dirent *e;
	char target[256], *val;
	size_t n;

	assert_int_equal(hmf_set_group(fx->r, "/g/h"), 0);
	assert_int_equal(set_i64(fx->r, "/a", 1), 0);
	assert_int_equal(hmf_set_node_attr(fx->r, "/", "k", "v", 1), 0);
	write_text(fx->dirfd, "stray", "x");
	/* a symlink inside ROOT to outside: erased, never followed */
	assert_int_equal(symlinkat(fx->outside, fx->dirfd, "link"), 0);
	snprintf(target, sizeof(target), "%s/keep", fx->outside);
	assert_int_equal(symlinkat(target, fx->dirfd, "g/filelink"), 0);
	assert_int_equal(hmf_open(fx->root, "w+", &r), 0);
	assert_int_equal(hmf_list(r, "/", &e, &n), 0);
	assert_int_equal(n, 0);
	hmf_dirents_free(e, n);
	assert_false(exists_at(fx->dirfd, "stray"));
	assert_false(exists_at(fx->dirfd, "link"));
	assert_false(exists_at(fx->dirfd, "g"));
	assert_true(exists_at(fx->dirfd, ".hmf"));
	assert_int_equal(hmf_get_node_attr(r, "/", "k", &val, &n), -ENODATA);
	hmf_close(r);
	/* (the teardown checks the sentinel outside) */
}

static void test_root_open_a_keeps_contents(void **state)
{
	struct fixture *fx = *state;
	struct hmf_root *r;

	assert_int_equal(set_i64(fx->r, "/a", 42), 0);
	assert_int_equal(hmf_open(fx->root, "a", &r), 0);
	assert_int_equal(get_i64(r, "/a"), 42);
	hmf_close(r);
	assert_int_equal(hmf_open(fx->root, "r+", &r), 0);
	assert_int_equal(get_i64(r, "/a"), 42);
	hmf_close(r);
}

static void test_root_open_refuses_bad_root_metadata(void **state)
{
	struct fixture *fx = *state;
	struct hmf_root *r = NULL;

	write_text(fx->dirfd, ".hmf", "{\"hmf\":1,\"kind\":");
	hmf_err_clear();
	assert_int_equal(hmf_open(fx->root, "r+", &r), -EIO);
	assert_true(errmsg_has(fx->root));
	write_text(fx->dirfd, ".hmf",
		   "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"|u1\","
		   "\"shape\":[0]}");
	hmf_err_clear();
	assert_int_equal(hmf_open(fx->root, "r", &r), -EIO);
	assert_true(errmsg_has(fx->root));
	write_text(fx->dirfd, ".hmf", "{\"hmf\":3,\"kind\":\"group\"}");
	hmf_err_clear();
	assert_int_equal(hmf_open(fx->root, "r+", &r), -ENOTSUP);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(hmf_open(fx->root, "a", &r), -ENOTSUP);
	assert_null(r);
}

static void test_root_set_group_creates_parents(void **state)
{
	struct fixture *fx = *state;
	struct hmf_dirent *e;
	size_t n;

	assert_int_equal(hmf_set_group(fx->r, "/a/b/c"), 0);
	assert_true(exists_at(fx->dirfd, "a/.hmf"));
	assert_true(exists_at(fx->dirfd, "a/b/.hmf"));
	assert_true(exists_at(fx->dirfd, "a/b/c/.hmf"));
	/* existing groups are fine */
	assert_int_equal(hmf_set_group(fx->r, "/a/b"), 0);
	assert_int_equal(hmf_set_group(fx->r, "/a/b/c/"), 0);
	assert_int_equal(hmf_set_group(fx->r, "/"), 0);
	assert_int_equal(hmf_set_group(fx->r, "//"), 0);
	assert_int_equal(hmf_list(fx->r, "/a", &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].name, "b");
	assert_int_equal(e[0].kind, HMF_KIND_GROUP);
	hmf_dirents_free(e, n);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_set_group_conflicts(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(set_i64(fx->r, "/arr", 1), 0);
	hmf_err_clear();
	assert_int_equal(hmf_set_group(fx->r, "/arr"), -EEXIST);
	assert_true(errmsg_has("/arr"));
	assert_int_equal(hmf_set_group(fx->r, "/arr/sub"), -ENOTDIR);
	assert_true(errmsg_has("/arr"));
	assert_int_equal(mkdirat(fx->dirfd, "plain", 0755), 0);
	assert_int_equal(hmf_set_group(fx->r, "/plain"), -EEXIST);
	assert_false(exists_at(fx->dirfd, "plain/.hmf"));
	/* "plain" is no node, so it is no parent either */
	assert_int_equal(hmf_set_group(fx->r, "/plain/sub"), -ENOENT);
	assert_false(exists_at(fx->dirfd, "plain/sub"));
	assert_int_equal(get_i64(fx->r, "/arr"), 1);
	assert_int_equal(count_tmp(fx->root), 0);
}

/* Bad paths: a negative errno and a message naming the path. */
static void test_root_refuses_bad_paths(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
		"/a/../b",   "/..",	      "/a/./b",
		"a/b",	     "relative",      "/.hmf",
		"/g/.hmf.d", "/.hmf.tmp.123", "/a/.hmf/b",
	};
	char path[HMF_NAME_MAX + 16];
	uint64_t shape[1] = { 1 };
	struct hmf_dirent *e;
	struct hmf_view v;
	char *val;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hmf_err_clear();
		assert_int_equal(hmf_set_group(fx->r, bad[i]), -EINVAL);
		assert_true(errmsg_has(bad[i]));
		hmf_err_clear();
		assert_int_equal(
			hmf_set_array(fx->r, bad[i], "|u1", 1, shape, "x"),
			-EINVAL);
		assert_true(errmsg_has(bad[i]));
		assert_int_equal(hmf_get_array(fx->r, bad[i], 0, &v), -EINVAL);
		assert_int_equal(hmf_set_node_attr(fx->r, bad[i], "k", "v", 1),
				 -EINVAL);
		assert_int_equal(
			hmf_get_node_attr(fx->r, bad[i], "k", &val, NULL),
			-EINVAL);
		assert_int_equal(hmf_list(fx->r, bad[i], &e, &n), -EINVAL);
		assert_int_equal(hmf_remove(fx->r, bad[i]), -EINVAL);
		assert_int_equal(hmf_rename(fx->r, bad[i], "/x", 0), -EINVAL);
		hmf_err_clear();
		assert_int_equal(hmf_rename(fx->r, "/", bad[i], 0), -EINVAL);
	}
	/* a name over 255 bytes */
	path[0] = '/';
	memset(path + 1, 'n', HMF_NAME_MAX + 1);
	path[HMF_NAME_MAX + 2] = '\0';
	hmf_err_clear();
	assert_int_equal(hmf_set_group(fx->r, path), -ENAMETOOLONG);
	assert_true(errmsg_has(path));
	hmf_err_clear();
	assert_int_equal(hmf_set_array(fx->r, path, "|u1", 1, shape, "x"),
			 -ENAMETOOLONG);
	assert_true(errmsg_has(path));
	/* the empty path */
	hmf_err_clear();
	assert_int_equal(hmf_set_group(fx->r, ""), -EINVAL);
	assert_true(errmsg_has("''"));
	/* nothing was created anywhere */
	assert_int_equal(hmf_list(fx->r, "/", &e, &n), 0);
	assert_int_equal(n, 0);
	hmf_dirents_free(e, n);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_set_get_array(void **state)
{
	struct fixture *fx = *state;
	const int64_t vals[9] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t shape[2] = { 3, 3 };
	struct hmf_view v;
	char *text;

	assert_int_equal(
		hmf_set_array(fx->r, "/g/h/a", "int64", 2, shape, vals), 0);
	assert_true(exists_at(fx->dirfd, "g/h/.hmf"));
	text = read_text(fx->dirfd, "g/h/a/.hmf", NULL);
	assert_non_null(strstr(text, "\"dtype\":\"<i8\""));
	assert_non_null(strstr(text, "\"shape\":[3,3]"));
	free(text);
	assert_int_equal(hmf_get_array(fx->r, "/g/h/a", HMF_VIEW_RDONLY, &v),
			 0);
	assert_string_equal(v.dtype.str, "<i8");
	assert_int_equal(v.ndim, 2);
	assert_int_equal(v.shape[0], 3);
	assert_int_equal(v.shape[1], 3);
	assert_int_equal(v.order, 'C');
	assert_int_equal(v.nbytes, sizeof(vals));
	assert_false(v.writable);
	assert_memory_equal(v.data, vals, sizeof(vals));
	hmf_view_fini(&v);
	assert_null(v.data);
	hmf_view_fini(&v);
	hmf_view_fini(NULL);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_get_array_rdwr_writes_through(void **state)
{
	struct fixture *fx = *state;
	uint64_t shape[1] = { 4 };
	struct hmf_view v;
	char *text;

	assert_int_equal(hmf_set_array(fx->r, "/a", "|S1", 1, shape, "abcd"),
			 0);
	assert_int_equal(hmf_get_array(fx->r, "/a", HMF_VIEW_RDWR, &v), 0);
	assert_true(v.writable);
	assert_string_equal(v.dtype.str, "|S1");
	((char *)v.data)[2] = 'X';
	hmf_view_fini(&v);
	text = read_text(fx->dirfd, "a/data", NULL);
	assert_string_equal(text, "abXd");
	free(text);
}

static void test_root_set_array_zeros_and_0d(void **state)
{
	struct fixture *fx = *state;
	uint64_t shape[1] = { 16 };
	struct hmf_view v;
	size_t i;

	assert_int_equal(hmf_set_array(fx->r, "/z", "float32", 1, shape, NULL),
			 0);
	assert_int_equal(hmf_get_array(fx->r, "/z", 0, &v), 0);
	assert_int_equal(v.nbytes, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(((unsigned char *)v.data)[i], 0);
	hmf_view_fini(&v);
	/* 0-d */
	assert_int_equal(hmf_set_array(fx->r, "/s", "f8", 0, NULL, NULL), 0);
	assert_int_equal(hmf_get_array(fx->r, "/s", 0, &v), 0);
	assert_int_equal(v.ndim, 0);
	assert_int_equal(v.nbytes, 8);
	hmf_view_fini(&v);
	/* empty */
	shape[0] = 0;
	assert_int_equal(hmf_set_array(fx->r, "/e", "<i2", 1, shape, NULL), 0);
	assert_int_equal(hmf_get_array(fx->r, "/e", 0, &v), 0);
	assert_null(v.data);
	assert_int_equal(v.nbytes, 0);
	assert_int_equal(v.ndim, 1);
	assert_int_equal(v.shape[0], 0);
	hmf_view_fini(&v);
}

static void test_root_set_array_replaces_atomically(void **state)
{
	struct fixture *fx = *state;
	uint64_t shape[1] = { 2 };

	assert_int_equal(set_i64(fx->r, "/a", 1), 0);
	assert_int_equal(hmf_set_node_attr(fx->r, "/a", "k", "v", 1), 0);
	assert_int_equal(set_i64(fx->r, "/a", 2), 0);
	assert_int_equal(get_i64(fx->r, "/a"), 2);
	assert_int_equal(hmf_set_array(fx->r, "/a", "|u1", 1, shape, "hi"), 0);
	assert_int_equal(count_tmp(fx->root), 0);
	assert_int_equal(hmf_set_group(fx->r, "/g"), 0);
	hmf_err_clear();
	assert_int_equal(set_i64(fx->r, "/g", 1), -EISDIR);
	assert_true(errmsg_has("/g"));
	assert_true(exists_at(fx->dirfd, "g/.hmf"));
	assert_false(exists_at(fx->dirfd, "g/data"));
	assert_int_equal(set_i64(fx->r, "/a/x", 1), -ENOTDIR);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_set_array_refuses_bad_dtype_and_shape(void **state)
{
	struct fixture *fx = *state;
	uint64_t shape[HMF_MAX_NDIM + 1];
	size_t i;

	for (i = 0; i < HMF_MAX_NDIM + 1; i++)
		shape[i] = 1;
	assert_int_equal(hmf_set_array(fx->r, "/a", "O", 1, shape, NULL),
			 -EINVAL);
	assert_int_equal(hmf_set_array(fx->r, "/a", "i4,f8", 1, shape, NULL),
			 -EINVAL);
	assert_int_equal(
		hmf_set_array(fx->r, "/a", "[('x','<i4')]", 1, shape, NULL),
		-EINVAL);
	hmf_err_clear();
	assert_int_equal(hmf_set_array(fx->r, "/a", "<i8", HMF_MAX_NDIM + 1,
				       shape, NULL),
			 -EINVAL);
	assert_true(errmsg_has("/a"));
	assert_int_equal(hmf_set_array(fx->r, "/a", "<i8", -1, shape, NULL),
			 -EINVAL);
	assert_int_equal(
		hmf_set_array(fx->r, "/a", "<i8", HMF_MAX_NDIM, shape, NULL),
		0);
	shape[0] = 1ull << 31;
	shape[1] = 1ull << 31;
	shape[2] = 8;
	assert_int_equal(hmf_set_array(fx->r, "/b", "<i8", 3, shape, NULL),
			 -EOVERFLOW);
	/* no dimension of 2^53 or more (JSON's limit), even for 0 bytes */
	shape[0] = 0;
	shape[1] = 1ull << 60;
	assert_int_equal(hmf_set_array(fx->r, "/b", "|u1", 2, shape, NULL),
			 -EOVERFLOW);
	assert_false(exists_at(fx->dirfd, "b"));
	assert_int_equal(count_tmp(fx->root), 0);
}

/* DESIGN section 2: the data size is the truth for the leading dimension. */
static void test_root_get_array_derives_shape(void **state)
{
	struct fixture *fx = *state;
	uint64_t shape[3] = { 4, 2, 3 };
	struct hmf_view v;

	assert_int_equal(hmf_set_array(fx->r, "/a", "<i2", 3, shape, NULL), 0);
	/* shrunk to 1 row */
	set_size(fx, "a/data", 1 * 6 * 2);
	assert_int_equal(hmf_get_array(fx->r, "/a", 0, &v), 0);
	assert_string_equal(v.dtype.str, "<i2");
	assert_int_equal(v.ndim, 3);
	assert_int_equal(v.shape[0], 1);
	assert_int_equal(v.shape[1], 2);
	assert_int_equal(v.shape[2], 3);
	assert_int_equal(v.nbytes, 12);
	hmf_view_fini(&v);
	/* grown to 9 rows */
	set_size(fx, "a/data", 9 * 6 * 2);
	assert_int_equal(hmf_get_array(fx->r, "/a", 0, &v), 0);
	assert_int_equal(v.ndim, 3);
	assert_int_equal(v.shape[0], 9);
	assert_int_equal(v.nbytes, 108);
	hmf_view_fini(&v);
	/* 7 elements: 1-D of the dtype */
	set_size(fx, "a/data", 7 * 2);
	assert_int_equal(hmf_get_array(fx->r, "/a", 0, &v), 0);
	assert_string_equal(v.dtype.str, "<i2");
	assert_int_equal(v.ndim, 1);
	assert_int_equal(v.shape[0], 7);
	hmf_view_fini(&v);
	/* 15 bytes: |u1 */
	set_size(fx, "a/data", 15);
	assert_int_equal(hmf_get_array(fx->r, "/a", 0, &v), 0);
	assert_string_equal(v.dtype.str, "|u1");
	assert_int_equal(v.ndim, 1);
	assert_int_equal(v.shape[0], 15);
	assert_int_equal(v.nbytes, 15);
	hmf_view_fini(&v);
	/* truncated to nothing */
	set_size(fx, "a/data", 0);
	assert_int_equal(hmf_get_array(fx->r, "/a", 0, &v), 0);
	assert_int_equal(v.ndim, 3);
	assert_int_equal(v.shape[0], 0);
	assert_null(v.data);
	hmf_view_fini(&v);
}

static void test_root_get_array_fortran_order(void **state)
{
	struct fixture *fx = *state;
	struct hmf_view v;

	make_node_dir(fx->dirfd, "f",
		      "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<u4\","
		      "\"shape\":[2,3],\"order\":\"F\",\"attributes\":{}}");
	write_bytes(fx->dirfd, "f/data", "0123456789abcdefghijklmnopqrstuvwxyz",
		    2 * 4 * 4);
	assert_int_equal(hmf_get_array(fx->r, "/f", 0, &v), 0);
	assert_int_equal(v.order, 'F');
	assert_int_equal(v.ndim, 2);
	assert_int_equal(v.shape[0], 2);
	assert_int_equal(v.shape[1], 4);
	hmf_view_fini(&v);
}

static void test_root_get_array_errors(void **state)
{
	struct fixture *fx = *state;
	struct hmf_view v;

	assert_int_equal(hmf_set_group(fx->r, "/g"), 0);
	hmf_err_clear();
	assert_int_equal(hmf_get_array(fx->r, "/g", 0, &v), -EISDIR);
	assert_true(errmsg_has("/g"));
	assert_int_equal(hmf_get_array(fx->r, "/", 0, &v), -EISDIR);
	hmf_err_clear();
	assert_int_equal(hmf_get_array(fx->r, "/missing", 0, &v), -ENOENT);
	assert_true(errmsg_has("missing"));
	assert_int_equal(hmf_get_array(fx->r, "/g/missing/x", 0, &v), -ENOENT);
}

/*
 * A FIFO planted as an array's "data" must not block hmf_get_array (the
 * daemon would hang). alarm() turns a hang into a failed test.
 */
static void test_root_get_array_refuses_fifo_data(void **state)
{
	struct fixture *fx = *state;
	struct hmf_view v;

	assert_int_equal(set_i64(fx->r, "/a", 1), 0);
	assert_int_equal(unlinkat(fx->dirfd, "a/data", 0), 0);
	assert_int_equal(mkfifoat(fx->dirfd, "a/data", 0644), 0);
	alarm(10);
	hmf_err_clear();
	assert_int_equal(hmf_get_array(fx->r, "/a", HMF_VIEW_RDONLY, &v), -EIO);
	assert_true(errmsg_has("/a"));
	assert_int_equal(hmf_get_array(fx->r, "/a", HMF_VIEW_RDWR, &v), -EIO);
	alarm(0);
}

static void test_root_attrs(void **state)
{
	struct fixture *fx = *state;
	const char bytes[] = { 'a', 0, (char)0xff, 0, 'z' };
	char *val, *text;
	size_t len;

	assert_int_equal(hmf_set_group(fx->r, "/g"), 0);
	assert_int_equal(
		hmf_set_node_attr(fx->r, "/g", "utf8", "\xc3\xa9t\xc3\xa9", 5),
		0);
	assert_int_equal(
		hmf_set_node_attr(fx->r, "/g", "bin", bytes, sizeof(bytes)), 0);
	assert_int_equal(hmf_set_node_attr(fx->r, "/", "top", "1", 1), 0);
	assert_int_equal(hmf_get_node_attr(fx->r, "/g", "bin", &val, &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(val, bytes, sizeof(bytes));
	assert_int_equal(val[len], 0);
	free(val);
	assert_int_equal(hmf_get_node_attr(fx->r, "/g", "utf8", &val, NULL), 0);
	assert_string_equal(val, "\xc3\xa9t\xc3\xa9");
	free(val);
	assert_int_equal(hmf_get_node_attr(fx->r, "/", "top", &val, &len), 0);
	assert_string_equal(val, "1");
	free(val);
	/* UTF-8 as a JSON string; other bytes as base64 */
	text = read_text(fx->dirfd, "g/.hmf", NULL);
	assert_non_null(strstr(text, "\"utf8\":\"\xc3\xa9t\xc3\xa9\""));
	assert_non_null(strstr(text, "\"bin\":{\"base64\":\"YQD/AHo=\"}"));
	free(text);
	/* overwrite */
	assert_int_equal(hmf_set_node_attr(fx->r, "/g", "utf8", "", 0), 0);
	assert_int_equal(hmf_get_node_attr(fx->r, "/g", "utf8", &val, &len), 0);
	assert_int_equal(len, 0);
	free(val);
	hmf_err_clear();
	assert_int_equal(hmf_get_node_attr(fx->r, "/g", "nope", &val, &len),
			 -ENODATA);
	assert_true(errmsg_has("/g"));
	assert_int_equal(hmf_set_node_attr(fx->r, "/missing", "k", "v", 1),
			 -ENOENT);
	assert_int_equal(hmf_get_node_attr(fx->r, "/missing", "k", &val, &len),
			 -ENOENT);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_attr_limits_name_the_node(void **state)
{
	struct fixture *fx = *state;
	char key[HMF_ATTR_KEY_MAX + 2], *big, *val;
	size_t len;

	assert_int_equal(set_i64(fx->r, "/grp_arr", 3), 0);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	hmf_err_clear();
	assert_int_equal(hmf_set_node_attr(fx->r, "/grp_arr", key, "v", 1),
			 -ERANGE);
	assert_true(errmsg_has("/grp_arr"));
	hmf_err_clear();
	assert_int_equal(hmf_set_node_attr(fx->r, "/grp_arr", "", "v", 1),
			 -EINVAL);
	assert_true(errmsg_has("/grp_arr"));
	hmf_err_clear();
	assert_int_equal(
		hmf_set_node_attr(fx->r, "/grp_arr", "\xff\xfe", "v", 1),
		-EINVAL);
	assert_true(errmsg_has("/grp_arr"));
	big = malloc(HMF_ATTR_VALUE_MAX + 1);
	assert_non_null(big);
	memset(big, 'b', HMF_ATTR_VALUE_MAX + 1);
	hmf_err_clear();
	assert_int_equal(hmf_set_node_attr(fx->r, "/grp_arr", "big", big,
					   HMF_ATTR_VALUE_MAX + 1),
			 -E2BIG);
	assert_true(errmsg_has("/grp_arr"));
	assert_int_equal(hmf_set_node_attr(fx->r, "/grp_arr", "big", big,
					   HMF_ATTR_VALUE_MAX),
			 0);
	assert_int_equal(
		hmf_get_node_attr(fx->r, "/grp_arr", "big", &val, &len), 0);
	assert_int_equal(len, HMF_ATTR_VALUE_MAX);
	free(val);
	free(big);
	/* the array is untouched by attribute changes */
	assert_int_equal(get_i64(fx->r, "/grp_arr"), 3);
}

static void test_root_list_and_remove(void **state)
{
	struct fixture *fx = *state;
	struct hmf_dirent *e;
	size_t n;

	assert_int_equal(hmf_set_group(fx->r, "/g/sub/deeper"), 0);
	assert_int_equal(set_i64(fx->r, "/g/sub/a", 1), 0);
	assert_int_equal(set_i64(fx->r, "/g/b", 2), 0);
	assert_int_equal(hmf_list(fx->r, "/g", &e, &n), 0);
	assert_int_equal(n, 2);
	hmf_dirents_free(e, n);
	assert_int_equal(hmf_list(fx->r, "/g/b", &e, &n), -ENOTDIR);
	assert_int_equal(hmf_list(fx->r, "/nope", &e, &n), -ENOENT);
	/* removal is recursive */
	assert_int_equal(hmf_remove(fx->r, "/g/sub"), 0);
	assert_false(exists_at(fx->dirfd, "g/sub"));
	assert_int_equal(hmf_remove(fx->r, "/g/b"), 0);
	assert_int_equal(hmf_list(fx->r, "/g", &e, &n), 0);
	assert_int_equal(n, 0);
	hmf_dirents_free(e, n);
	hmf_err_clear();
	assert_int_equal(hmf_remove(fx->r, "/g/b"), -ENOENT);
	assert_true(errmsg_has("b"));
	assert_int_equal(hmf_remove(fx->r, "/nope/b"), -ENOENT);
	assert_int_equal(hmf_remove(fx->r, "/"), -EBUSY);
	assert_true(exists_at(fx->dirfd, ".hmf"));
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_rename(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(set_i64(fx->r, "/a", 1), 0);
	assert_int_equal(set_i64(fx->r, "/b", 2), 0);
	assert_int_equal(hmf_set_group(fx->r, "/g/full"), 0);
	assert_int_equal(set_i64(fx->r, "/g/full/x", 3), 0);
	assert_int_equal(hmf_set_group(fx->r, "/h"), 0);
	assert_int_equal(set_i64(fx->r, "/h/y", 4), 0);
	/* parents of the target are created */
	assert_int_equal(hmf_rename(fx->r, "/a", "/new/deep/a", 0), 0);
	assert_int_equal(get_i64(fx->r, "/new/deep/a"), 1);
	assert_false(exists_at(fx->dirfd, "a"));
	/* over an existing array */
	assert_int_equal(hmf_rename(fx->r, "/new/deep/a", "/b", 0), 0);
	assert_int_equal(get_i64(fx->r, "/b"), 1);
	assert_int_equal(set_i64(fx->r, "/c", 5), 0);
	assert_int_equal(hmf_rename(fx->r, "/c", "/b", RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(get_i64(fx->r, "/b"), 1);
	assert_int_equal(get_i64(fx->r, "/c"), 5);
	assert_int_equal(hmf_rename(fx->r, "/c", "/b", RENAME_EXCHANGE), 0);
	assert_int_equal(get_i64(fx->r, "/b"), 5);
	assert_int_equal(get_i64(fx->r, "/c"), 1);
	/* a group over a non-empty group */
	assert_int_equal(hmf_rename(fx->r, "/h", "/g/full", 0), -ENOTEMPTY);
	assert_int_equal(get_i64(fx->r, "/g/full/x"), 3);
	assert_int_equal(get_i64(fx->r, "/h/y"), 4);
	assert_int_equal(hmf_rename(fx->r, "/h", "/b", 0), -ENOTDIR);
	assert_int_equal(hmf_rename(fx->r, "/b", "/h", 0), -EISDIR);
	assert_int_equal(hmf_rename(fx->r, "/missing", "/z", 0), -ENOENT);
	assert_int_equal(hmf_rename(fx->r, "/", "/z", 0), -EINVAL);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_readonly_refuses_every_change(void **state)
{
	struct fixture *fx = *state;
	uint64_t shape[1] = { 1 };
	struct hmf_root *ro;
	struct hmf_view v;
	size_t removed = 7;
	char *before, *after, *val;
	int64_t x = 9;

	assert_int_equal(set_i64(fx->r, "/g/a", 1), 0);
	assert_int_equal(hmf_set_node_attr(fx->r, "/g", "k", "v", 1), 0);
	assert_int_equal(mkdirat(fx->dirfd, ".hmf.tmp.old", 0755), 0);
	before = read_text(fx->dirfd, "g/.hmf", NULL);
	assert_int_equal(hmf_open(fx->root, "r", &ro), 0);
	hmf_err_clear();
	assert_int_equal(hmf_set_group(ro, "/new"), -EROFS);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(hmf_set_group(ro, "/g/new/deeper"), -EROFS);
	assert_int_equal(hmf_set_group(ro, "/g"), -EROFS);
	assert_int_equal(hmf_set_array(ro, "/g/a", "<i8", 1, shape, &x),
			 -EROFS);
	assert_int_equal(hmf_set_array(ro, "/n/a", "<i8", 1, shape, &x),
			 -EROFS);
	assert_int_equal(hmf_set_node_attr(ro, "/g", "k", "w", 1), -EROFS);
	assert_int_equal(hmf_set_node_attr(ro, "/g/a", "k", "w", 1), -EROFS);
	assert_int_equal(hmf_remove(ro, "/g/a"), -EROFS);
	assert_int_equal(hmf_remove(ro, "/g"), -EROFS);
	assert_int_equal(hmf_rename(ro, "/g/a", "/g/b", 0), -EROFS);
	assert_int_equal(hmf_rename(ro, "/g/a", "/x/b", 0), -EROFS);
	assert_int_equal(hmf_get_array(ro, "/g/a", HMF_VIEW_RDWR, &v), -EROFS);
	assert_int_equal(hmf_root_clean(ro, 0, &removed), -EROFS);
	assert_int_equal(removed, 7);
	/* reads work */
	assert_int_equal(get_i64(ro, "/g/a"), 1);
	assert_int_equal(hmf_get_node_attr(ro, "/g", "k", &val, NULL), 0);
	assert_string_equal(val, "v");
	free(val);
	hmf_close(ro);
	after = read_text(fx->dirfd, "g/.hmf", NULL);
	assert_string_equal(after, before);
	assert_int_equal(get_i64(fx->r, "/g/a"), 1);
	assert_false(exists_at(fx->dirfd, "new"));
	assert_false(exists_at(fx->dirfd, "n"));
	assert_false(exists_at(fx->dirfd, "x"));
	assert_false(exists_at(fx->dirfd, "g/new"));
	assert_false(exists_at(fx->dirfd, "g/b"));
	assert_true(exists_at(fx->dirfd, ".hmf.tmp.old"));
	free(before);
	free(after);
}

/* A hostile tree: every bad node is an error naming it; the rest works. */
static void test_root_hostile_metadata(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *name;
		const char *hmf;
		int rc;
	} cases[] = {
		{ "badjson", "{\"hmf\":1,", -EIO },
		{ "notobj", "[1,2,3]", -EIO },
		{ "wrongtype",
		  "{\"hmf\":1,\"kind\":\"array\",\"dtype\":8,"
		  "\"shape\":[1]}",
		  -EIO },
		{ "negshape",
		  "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\","
		  "\"shape\":[-4]}",
		  -EIO },
		{ "fracshape",
		  "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\","
		  "\"shape\":[2.5]}",
		  -EIO },
		{ "hugeshape",
		  "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\","
		  "\"shape\":[1e30,1e30]}",
		  -EIO },
		{ "overflow",
		  "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<c16\","
		  "\"shape\":[4294967296,4294967296]}",
		  -EIO },
		{ "objdtype",
		  "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"O\","
		  "\"shape\":[1]}",
		  -EIO },
		{ "newer", "{\"hmf\":2,\"kind\":\"group\"}", -ENOTSUP },
	};
	struct hmf_dirent *e;
	struct hmf_view v;
	char want[256], path[64], *val;
	size_t i, n;
	int fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		make_node_dir(fx->dirfd, cases[i].name, cases[i].hmf);
	/* a 100 MB .hmf (sparse) */
	assert_int_equal(mkdirat(fx->dirfd, "big", 0755), 0);
	fd = openat(fx->dirfd, "big/.hmf", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 100 << 20), 0);
	close(fd);
	assert_int_equal(set_i64(fx->r, "/good", 7), 0);
	for (i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = i < sizeof(cases) / sizeof(cases[0])
					   ? cases[i].name
					   : "big";
		int rc = i < sizeof(cases) / sizeof(cases[0]) ? cases[i].rc
							      : -EIO;

		snprintf(path, sizeof(path), "/%s", name);
		snprintf(want, sizeof(want), "%s/%s", fx->root, name);
		hmf_err_clear();
		assert_int_equal(hmf_get_array(fx->r, path, 0, &v), rc);
		assert_true(errmsg_has(want));
		hmf_err_clear();
		assert_int_equal(
			hmf_get_node_attr(fx->r, path, "k", &val, NULL), rc);
		assert_true(errmsg_has(want));
		assert_int_equal(hmf_set_node_attr(fx->r, path, "k", "v", 1),
				 rc);
		assert_int_equal(hmf_set_group(fx->r, path), rc);
		snprintf(path, sizeof(path), "/%s/child", name);
		assert_int_equal(hmf_set_group(fx->r, path), rc);
	}
	/* the rest of the tree works */
	assert_int_equal(get_i64(fx->r, "/good"), 7);
	assert_int_equal(hmf_list(fx->r, "/", &e, &n), 0);
	assert_int_equal(n, sizeof(cases) / sizeof(cases[0]) + 2);
	hmf_dirents_free(e, n);
	assert_int_equal(count_tmp(fx->root), 0);
}

/* Symlinks planted in ROOT lead nowhere outside it. */
static void test_root_symlinks_stay_inside(void **state)
{
	struct fixture *fx = *state;
	struct hmf_dirent *e;
	struct hmf_view v;
	char target[256];
	size_t n;
	int ofd;

	ofd = open(fx->outside, O_RDONLY | O_DIRECTORY);
	assert_true(ofd >= 0);
	make_node_dir(ofd, "grp", "{\"hmf\":1,\"kind\":\"group\"}");
	make_node_dir(ofd, "grp/arr",
		      "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"|u1\","
		      "\"shape\":[3]}");
	write_text(ofd, "grp/arr/data", "abc");
	snprintf(target, sizeof(target), "%s/grp", fx->outside);
	assert_int_equal(symlinkat(target, fx->dirfd, "evil"), 0);
	assert_int_equal(hmf_set_group(fx->r, "/g"), 0);
	assert_int_equal(symlinkat(target, fx->dirfd, "g/evil2"), 0);
	assert_int_equal(symlinkat("../../outside/grp", fx->dirfd, "g/rel"), 0);
	snprintf(target, sizeof(target), "%s/grp/arr", fx->outside);
	assert_int_equal(symlinkat(target, fx->dirfd, "g/evil_arr"), 0);

	assert_int_equal(hmf_get_array(fx->r, "/evil/arr", HMF_VIEW_RDWR, &v),
			 -ENOENT);
	assert_int_equal(hmf_get_array(fx->r, "/g/rel/arr", 0, &v), -ENOENT);
	assert_int_equal(hmf_remove(fx->r, "/evil"), -ENOENT);
	assert_int_equal(hmf_remove(fx->r, "/evil/arr"), -ENOENT);
	assert_int_equal(hmf_remove(fx->r, "/g/evil2/arr"), -ENOENT);
	assert_int_equal(hmf_remove(fx->r, "/g/evil_arr"), -ENOENT);
	assert_int_equal(hmf_remove(fx->r, "/g/rel"), -ENOENT);
	assert_int_equal(hmf_rename(fx->r, "/g/evil_arr", "/stolen", 0),
			 -ENOENT);
	assert_int_equal(set_i64(fx->r, "/evil/new", 1), -ENOENT);
	assert_int_equal(set_i64(fx->r, "/evil/arr", 1), -ENOENT);
	assert_int_equal(hmf_set_group(fx->r, "/g/rel/new"), -ENOENT);
	assert_int_equal(hmf_set_node_attr(fx->r, "/evil", "k", "v", 1),
			 -ENOENT);
	assert_int_equal(hmf_set_node_attr(fx->r, "/evil/arr", "k", "v", 1),
			 -ENOENT);
	assert_int_equal(hmf_rename(fx->r, "/evil/arr", "/stolen", 0), -ENOENT);
	assert_int_equal(hmf_rename(fx->r, "/g", "/evil/g", 0), -ENOENT);
	assert_int_equal(hmf_list(fx->r, "/evil", &e, &n), -ENOENT);
	assert_int_equal(hmf_list(fx->r, "/", &e, &n), 0);
	assert_int_equal(n, 1);
	hmf_dirents_free(e, n);
	/* removing the group that holds links removes the links only */
	assert_int_equal(hmf_remove(fx->r, "/g"), 0);
	assert_int_equal(hmf_root_clean(fx->r, 0, NULL), 0);
	{
		char *text = read_text(ofd, "grp/arr/data", NULL);

		assert_string_equal(text, "abc");
		free(text);
		text = read_text(ofd, "grp/arr/.hmf", NULL);
		assert_null(strstr(text, "\"k\""));
		free(text);
	}
	assert_false(exists_at(ofd, "grp/new"));
	assert_false(exists_at(ofd, "grp/g"));
	assert_true(exists_at(fx->dirfd, "evil"));
	close(ofd);
}

static void make_tmp(struct fixture *fx, const char *name, bool dir, time_t age)
{
	struct timespec ts[2];

	if (dir) {
		char sub[256];

		assert_int_equal(mkdirat(fx->dirfd, name, 0755), 0);
		snprintf(sub, sizeof(sub), "%s/.hmf", name);
		write_text(fx->dirfd, sub, "{}");
		snprintf(sub, sizeof(sub), "%s/data", name);
		write_text(fx->dirfd, sub, "partial");
	} else {
		write_text(fx->dirfd, name, "{}");
	}
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(fx->dirfd, name, ts, AT_SYMLINK_NOFOLLOW),
			 0);
}

static void test_root_clean_removes_old_temporaries(void **state)
{
	struct fixture *fx = *state;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char target[256];
	size_t removed = 0;

	assert_int_equal(hmf_set_group(fx->r, "/g/h"), 0);
	assert_int_equal(set_i64(fx->r, "/g/h/a", 1), 0);
	make_tmp(fx, ".hmf.tmp.0000000000000001", true, 3600);
	make_tmp(fx, ".hmf.tmp.0000000000000002", false, 3600);
	make_tmp(fx, "g/.hmf.tmp.0000000000000003", true, 3600);
	make_tmp(fx, "g/h/.hmf.tmp.0000000000000004", false, 3600);
	make_tmp(fx, "g/h/a/.hmf.tmp.0000000000000005", false, 3600);
	/* young: maybe a writer at work */
	make_tmp(fx, "g/.hmf.tmp.0000000000000006", true, 0);
	/* an old temporary symlink to outside: removed, not followed */
	snprintf(target, sizeof(target), "%s", fx->outside);
	assert_int_equal(
		symlinkat(target, fx->dirfd, "g/.hmf.tmp.0000000000000007"), 0);
	assert_int_equal(utimensat(fx->dirfd, "g/.hmf.tmp.0000000000000007",
				   old, AT_SYMLINK_NOFOLLOW),
			 0);
	assert_int_equal(count_tmp(fx->root), 7);
	assert_int_equal(hmf_root_clean(fx->r, 60, &removed), 0);
	assert_int_equal(removed, 6);
	assert_int_equal(count_tmp(fx->root), 1);
	assert_true(exists_at(fx->dirfd, "g/.hmf.tmp.0000000000000006"));
	/* the nodes are intact */
	assert_int_equal(get_i64(fx->r, "/g/h/a"), 1);
	assert_true(exists_at(fx->dirfd, ".hmf"));
	assert_true(exists_at(fx->dirfd, ".hmf.d"));
	/* min_age 0: everything */
	assert_int_equal(hmf_root_clean(fx->r, 0, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_tmp(fx->root), 0);
	assert_int_equal(hmf_root_clean(fx->r, 0, NULL), 0);
}

static void test_root_clean_stoppable(void **state)
{
	struct fixture *fx = *state;
	atomic_int stop = 1;
	size_t removed = 99;

	make_tmp(fx, ".hmf.tmp.0000000000000001", true, 3600);
	/* told to stop: -EINTR before the first entry */
	assert_int_equal(hmf_root_clean_stoppable(fx->r, 0, &stop, &removed),
			 -EINTR);
	assert_int_equal(removed, 0);
	assert_int_equal(count_tmp(fx->root), 1);
	stop = 0;
	assert_int_equal(hmf_root_clean_stoppable(fx->r, 0, &stop, &removed),
			 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_tmp(fx->root), 0);
	make_tmp(fx, ".hmf.tmp.0000000000000002", false, 3600);
	assert_int_equal(hmf_root_clean_stoppable(fx->r, 0, NULL, NULL), 0);
	assert_int_equal(count_tmp(fx->root), 0);
}

static void test_root_sync(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(set_i64(fx->r, "/a", 1), 0);
	assert_int_equal(hmf_sync(fx->r), 0);
}

#define NTHREADS 4
#define ROUNDS 40

struct worker {
	pthread_t tid;
	struct hmf_root *r;
	pthread_barrier_t *start;
	int id;
	int won[ROUNDS]; /* 1 where this thread claimed shared_<i> */
	int failures;
	char first[512]; /* the first failure, for the test log */
};

static void failed(struct worker *w, const char *op, const char *path, int rc)
{
	if (w->failures++ == 0)
		snprintf(w->first, sizeof(w->first),
			 "thread %d: %s %s: %d (%s)", w->id, op, path, rc,
			 hmf_errmsg());
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char a[64], b[64], mine[64], shared[64];
	int i, rc;

	pthread_barrier_wait(w->start);
	for (i = 0; i < ROUNDS; i++) {
		/* this thread's own names */
		snprintf(a, sizeof(a), "/g/t%d_%d", w->id, i);
		snprintf(b, sizeof(b), "/g/t%d_%d_moved", w->id, i);
		rc = set_i64(w->r, a, w->id * 1000 + i);
		if (rc < 0)
			failed(w, "set_array", a, rc);
		rc = hmf_rename(w->r, a, b, 0);
		if (rc < 0)
			failed(w, "rename", a, rc);
		if (i % 2 && (rc = hmf_remove(w->r, b)) < 0)
			failed(w, "remove", b, rc);
		/* every thread tries to claim the same name; one wins */
		snprintf(mine, sizeof(mine), "/g/claim%d_%d", w->id, i);
		snprintf(shared, sizeof(shared), "/g/shared_%d", i);
		rc = set_i64(w->r, mine, w->id);
		if (rc < 0)
			failed(w, "set_array", mine, rc);
		rc = hmf_rename(w->r, mine, shared, RENAME_NOREPLACE);
		if (rc == 0)
			w->won[i] = 1;
		else if (rc != -EEXIST)
			failed(w, "rename noreplace", mine, rc);
		else if ((rc = hmf_remove(w->r, mine)) < 0)
			failed(w, "remove", mine, rc);
		/* shared parents and one array replaced by everyone */
		rc = hmf_set_group(w->r, "/g/common/sub");
		if (rc < 0)
			failed(w, "set_group", "/g/common/sub", rc);
		rc = set_i64(w->r, "/g/hot", w->id);
		if (rc < 0)
			failed(w, "set_array", "/g/hot", rc);
	}
	return NULL;
}

static void test_root_threads_share_one_group(void **state)
{
	struct fixture *fx = *state;
	struct worker w[NTHREADS];
	pthread_barrier_t start;
	struct hmf_dirent *e;
	char name[64];
	size_t n, want, i, k;
	int t, winners, j;
	int64_t x;

	memset(w, 0, sizeof(w));
	assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
	for (t = 0; t < NTHREADS; t++) {
		w[t].r = fx->r;
		w[t].id = t;
		w[t].start = &start;
		assert_int_equal(pthread_create(&w[t].tid, NULL, work, &w[t]),
				 0);
	}
	for (t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(w[t].tid, NULL), 0);
	pthread_barrier_destroy(&start);
	for (t = 0; t < NTHREADS; t++)
		if (w[t].failures)
			fail_msg("%d failures; first: %s", w[t].failures,
				 w[t].first);

	/* exactly one winner per shared name, and it holds the winner's id */
	for (j = 0; j < ROUNDS; j++) {
		winners = 0;
		for (t = 0; t < NTHREADS; t++)
			winners += w[t].won[j];
		assert_int_equal(winners, 1);
		snprintf(name, sizeof(name), "/g/shared_%d", j);
		x = get_i64(fx->r, name);
		assert_true(x >= 0 && x < NTHREADS);
		assert_int_equal(w[x].won[j], 1);
	}
	/* no lost, no duplicated, no stray node */
	assert_int_equal(hmf_list(fx->r, "/g", &e, &n), 0);
	want = NTHREADS * (ROUNDS / 2) + ROUNDS + 2;
	assert_int_equal(n, want);
	for (i = 0; i < n; i++) {
		for (k = i + 1; k < n; k++)
			assert_string_not_equal(e[i].name, e[k].name);
		assert_null(strstr(e[i].name, "claim"));
	}
	hmf_dirents_free(e, n);
	for (t = 0; t < NTHREADS; t++)
		for (j = 0; j < ROUNDS; j++) {
			snprintf(name, sizeof(name), "/g/t%d_%d_moved", t, j);
			x = get_i64(fx->r, name);
			assert_int_equal(x, j % 2 ? -1 : t * 1000 + j);
			snprintf(name, sizeof(name), "/g/t%d_%d", t, j);
			assert_int_equal(get_i64(fx->r, name), -1);
		}
	x = get_i64(fx->r, "/g/hot");
	assert_true(x >= 0 && x < NTHREADS);
	assert_int_equal(hmf_list(fx->r, "/g/common", &e, &n), 0);
	assert_int_equal(n, 1);
	hmf_dirents_free(e, n);
	/* no temporary entry anywhere */
	assert_int_equal(count_tmp(fx->root), 0);
}

#define READER_ROUNDS 300

struct reader {
	pthread_t tid;
	struct hmf_root *r;
	volatile int *stop;
	long reads;
	int failures;
	char first[512];
};

static void *read_loop(void *arg)
{
	struct reader *rd = arg;
	struct hmf_view v;
	int rc;

	while (!__atomic_load_n(rd->stop, __ATOMIC_ACQUIRE)) {
		rc = hmf_get_array(rd->r, "/t", HMF_VIEW_RDONLY, &v);
		if (rc == 0 && v.nbytes != 8)
			rc = -EBADMSG;
		if (rc == 0)
			hmf_view_fini(&v);
		if (rc < 0 && rd->failures++ == 0)
			snprintf(rd->first, sizeof(rd->first),
				 "get_array /t: %d (%s)", rc, hmf_errmsg());
		rd->reads++;
	}
	return NULL;
}

/*
 * Replacing an array (set_array over it, or rename over it) is atomic for
 * readers: while one thread replaces "/t" again and again, readers never
 * find it missing or half made.
 */
static void test_root_replace_is_atomic_for_readers(void **state)
{
	struct fixture *fx = *state;
	struct reader rd[2];
	volatile int stop = 0;
	int i, t;

	assert_int_equal(set_i64(fx->r, "/t", 0), 0);
	memset(rd, 0, sizeof(rd));
	for (t = 0; t < 2; t++) {
		rd[t].r = fx->r;
		rd[t].stop = &stop;
		assert_int_equal(
			pthread_create(&rd[t].tid, NULL, read_loop, &rd[t]), 0);
	}
	for (i = 1; i <= READER_ROUNDS; i++) {
		assert_int_equal(set_i64(fx->r, "/t", i), 0);
		assert_int_equal(set_i64(fx->r, "/src", -i), 0);
		assert_int_equal(hmf_rename(fx->r, "/src", "/t", 0), 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (t = 0; t < 2; t++) {
		assert_int_equal(pthread_join(rd[t].tid, NULL), 0);
		if (rd[t].failures)
			fail_msg("%d of %ld reads failed; first: %s",
				 rd[t].failures, rd[t].reads, rd[t].first);
	}
	assert_int_equal(get_i64(fx->r, "/t"), -READER_ROUNDS);
	assert_int_equal(count_tmp(fx->root), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
#define TB(f) cmocka_unit_test_setup_teardown(f, fx_setup_bare, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TB(test_root_open_w_plus_creates),
		TB(test_root_open_missing_or_foreign),
		TB(test_root_w_plus_refuses_foreign_directory),
		T(test_root_w_plus_erases_hmf_root),
		T(test_root_open_a_keeps_contents),
		T(test_root_open_refuses_bad_root_metadata),
		T(test_root_set_group_creates_parents),
		T(test_root_set_group_conflicts),
		T(test_root_refuses_bad_paths),
		T(test_root_set_get_array),
		T(test_root_get_array_rdwr_writes_through),
		T(test_root_set_array_zeros_and_0d),
		T(test_root_set_array_replaces_atomically),
		T(test_root_set_array_refuses_bad_dtype_and_shape),
		T(test_root_get_array_derives_shape),
		T(test_root_get_array_fortran_order),
		T(test_root_get_array_errors),
		T(test_root_get_array_refuses_fifo_data),
		T(test_root_attrs),
		T(test_root_attr_limits_name_the_node),
		T(test_root_list_and_remove),
		T(test_root_rename),
		T(test_root_readonly_refuses_every_change),
		T(test_root_hostile_metadata),
		T(test_root_symlinks_stay_inside),
		T(test_root_clean_removes_old_temporaries),
		T(test_root_clean_stoppable),
		T(test_root_sync),
		T(test_root_threads_share_one_group),
		T(test_root_replace_is_atomic_for_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
