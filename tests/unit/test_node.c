/* SPDX-License-Identifier: MIT */
/*
 * test_node.c - nodes by handle (node.h): atomic create, lookup, stat,
 * listing, remove, rename (replace, NOREPLACE, EXCHANGE), attributes, the
 * data file and its derived shape, and the refusal to follow anything that
 * a hostile tree plants (symlinks, FIFOs, corrupt .hmf) out of ROOT.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static struct hmf_node *open_root(struct fixture *fx)
{
	struct hmf_node *n = NULL;

	assert_int_equal(hmf_node_open_root(fx->r, &n), 0);
	assert_non_null(n);
	return n;
}

static int create_group(struct hmf_node *parent, const char *name,
			struct hmf_node **out)
{
	struct hmf_meta m;
	int rc;

	hmf_meta_init(&m, HMF_KIND_GROUP);
	rc = hmf_node_create(parent, name, &m, NULL, 0, NULL, 0, out);
	hmf_meta_fini(&m);
	return rc;
}

static int create_array(struct hmf_node *parent, const char *name,
			const char *dtype, int ndim, const uint64_t *shape,
			const void *data, uint64_t len, unsigned flags,
			struct hmf_node **out)
{
	struct hmf_meta m;
	int rc;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse(dtype, &m.dtype), 0);
	m.ndim = ndim;
	if (ndim)
		memcpy(m.shape, shape, sizeof(*shape) * (size_t)ndim);
	rc = hmf_node_create(parent, name, &m, data, len, NULL, flags, out);
	hmf_meta_fini(&m);
	return rc;
}

/* A 1-D "|u1" array @name holding @text. */
static int create_text(struct hmf_node *parent, const char *name,
		       const char *text, unsigned flags)
{
	uint64_t shape[1] = { strlen(text) };

	return create_array(parent, name, "|u1", 1, shape, text, shape[0],
			    flags, NULL);
}

/* The data of array @path (relative to ROOT) as a string. */
static char *data_of(struct fixture *fx, const char *path)
{
	char name[512];

	snprintf(name, sizeof(name), "%s/data", path);
	return read_text(fx->dirfd, name, NULL);
}

static void assert_data(struct fixture *fx, const char *path, const char *text)
{
	char *got = data_of(fx, path);

	assert_string_equal(got, text);
	free(got);
}

static bool exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_node_open_root(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	struct stat st, want;

	assert_int_equal(hmf_node_kind(root), HMF_KIND_GROUP);
	assert_true(hmf_node_is_group(root));
	assert_ptr_equal(hmf_node_root(root), fx->r);
	assert_true(hmf_node_fd(root) >= 0);
	assert_int_equal(hmf_node_stat(root, &st), 0);
	assert_int_equal(stat(fx->root, &want), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_ino, want.st_ino);
	hmf_node_close(root);
	hmf_node_close(NULL);
}

static void test_node_create_group_and_lookup(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g, *again;
	struct hmf_meta m;
	struct stat st;
	char *text;

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(hmf_node_kind(g), HMF_KIND_GROUP);
	assert_int_equal(hmf_node_lookup(root, "g", &again), 0);
	assert_int_equal(hmf_node_kind(again), HMF_KIND_GROUP);
	assert_int_equal(hmf_node_stat(again, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(hmf_node_meta(again, &m), 0);
	assert_int_equal(m.kind, HMF_KIND_GROUP);
	hmf_meta_fini(&m);
	/* the on-disk form of DESIGN section 2 */
	text = read_text(fx->dirfd, "g/.hmf", NULL);
	assert_non_null(strstr(text, "\"hmf\":1"));
	assert_non_null(strstr(text, "\"kind\":\"group\""));
	assert_non_null(strstr(text, "\"attributes\":{}"));
	free(text);
	assert_false(exists_at(fx->dirfd, "g/data"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(again);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_create_array_and_stat(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a, *again;
	const int64_t vals[6] = { 0, 1, 2, 3, 4, -5 };
	uint64_t shape[2] = { 3, 2 };
	struct hmf_meta m;
	struct stat st;
	char *text;
	size_t len;

	assert_int_equal(create_array(root, "a", "int64", 2, shape, vals,
				      sizeof(vals), 0, &a),
			 0);
	assert_int_equal(hmf_node_kind(a), HMF_KIND_ARRAY);
	assert_false(hmf_node_is_group(a));
	assert_int_equal(hmf_node_lookup(root, "a", &again), 0);
	assert_int_equal(hmf_node_stat(again, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, sizeof(vals));
	assert_int_equal(hmf_node_meta(again, &m), 0);
	assert_string_equal(m.dtype.str, "<i8");
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 3);
	assert_int_equal(m.shape[1], 2);
	assert_int_equal(m.order, 'C');
	hmf_meta_fini(&m);
	text = read_text(fx->dirfd, "a/data", &len);
	assert_int_equal(len, sizeof(vals));
	assert_memory_equal(text, vals, sizeof(vals));
	free(text);
	text = read_text(fx->dirfd, "a/.hmf", NULL);
	assert_non_null(strstr(text, "\"kind\":\"array\""));
	assert_non_null(strstr(text, "\"dtype\":\"<i8\""));
	assert_non_null(strstr(text, "\"shape\":[3,2]"));
	assert_non_null(strstr(text, "\"order\":\"C\""));
	free(text);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(again);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_create_array_zero_filled(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	uint64_t shape[1] = { 1000 };
	struct stat st;
	char *text;
	size_t len, i;

	assert_int_equal(
		create_array(root, "z", "<f4", 1, shape, NULL, 0, 0, &a), 0);
	assert_int_equal(hmf_node_stat(a, &st), 0);
	assert_int_equal(st.st_size, 4000);
	text = read_text(fx->dirfd, "z/data", &len);
	assert_int_equal(len, 4000);
	for (i = 0; i < len; i++)
		assert_int_equal(text[i], 0);
	free(text);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_create_with_owner(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	struct hmf_owner own = { .mode = 0640, .uid = 1234, .gid = 5678 };
	struct hmf_meta m;
	struct stat st;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	m.shape[0] = 4;
	assert_int_equal(
		hmf_node_create(root, "a", &m, "abcd", 4, &own, 0, NULL), 0);
	assert_int_equal(fstatat(fx->dirfd, "a/data", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	if (geteuid() == 0) {
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 5678);
	}
	hmf_meta_fini(&m);
	own.mode = 0750;
	own.uid = (uid_t)-1;
	own.gid = (gid_t)-1;
	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_int_equal(hmf_node_create(root, "g", &m, NULL, 0, &own, 0, NULL),
			 0);
	assert_int_equal(fstatat(fx->dirfd, "g", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, geteuid());
	hmf_meta_fini(&m);
	hmf_node_close(root);
}

static void test_node_create_existing_is_eexist(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);

	assert_int_equal(create_text(root, "a", "old", 0), 0);
	assert_int_equal(create_group(root, "g", NULL), 0);
	hmf_err_clear();
	assert_int_equal(create_text(root, "a", "new", 0), -EEXIST);
	assert_true(errmsg_has("/a"));
	assert_int_equal(create_group(root, "a", NULL), -EEXIST);
	assert_int_equal(create_group(root, "g", NULL), -EEXIST);
	assert_int_equal(create_text(root, "g", "new", 0), -EEXIST);
	/* a group is never replaced, even when asked to */
	assert_int_equal(create_text(root, "g", "new", HMF_CREATE_REPLACE),
			 -EISDIR);
	assert_true(errmsg_has("/g"));
	assert_true(exists_at(fx->dirfd, "g/.hmf"));
	assert_false(exists_at(fx->dirfd, "g/data"));
	assert_data(fx, "a", "old");
	/* the failed attempts left no temporary entry behind */
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_create_replace_array(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	struct hmf_meta m;

	assert_int_equal(create_text(root, "a", "old contents", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(create_text(root, "a", "new", HMF_CREATE_REPLACE), 0);
	assert_data(fx, "a", "new");
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(a);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_meta(a, &m), 0);
	assert_int_equal(m.shape[0], 3);
	hmf_meta_fini(&m);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_create_replace_refuses_non_node(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);

	/* a plain directory and a plain file of the same name: not ours */
	assert_int_equal(mkdirat(fx->dirfd, "plain", 0755), 0);
	write_text(fx->dirfd, "plain/precious", "user data");
	write_text(fx->dirfd, "file", "user file");
	assert_int_equal(create_text(root, "plain", "x", HMF_CREATE_REPLACE),
			 -EEXIST);
	assert_int_equal(create_text(root, "file", "x", HMF_CREATE_REPLACE),
			 -EEXIST);
	assert_int_equal(create_group(root, "plain", NULL), -EEXIST);
	{
		char *t = read_text(fx->dirfd, "plain/precious", NULL);

		assert_string_equal(t, "user data");
		free(t);
		t = read_text(fx->dirfd, "file", NULL);
		assert_string_equal(t, "user file");
		free(t);
	}
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_create_refuses_length_mismatch(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	uint64_t shape[1] = { 4 };
	struct hmf_node *a = NULL;

	hmf_err_clear();
	assert_int_equal(
		create_array(root, "a", "<i8", 1, shape, "short", 5, 0, &a),
		-EINVAL);
	assert_null(a);
	assert_true(errmsg_has("/a"));
	assert_false(exists_at(fx->dirfd, "a"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_create_refuses_overflow(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	uint64_t shape[2] = { 1ull << 32, 1ull << 32 };

	assert_int_equal(
		create_array(root, "a", "<i8", 2, shape, NULL, 0, 0, NULL),
		-EOVERFLOW);
	assert_false(exists_at(fx->dirfd, "a"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

/*
 * Failures after the temporary directory exists (here: the data cannot be
 * written because RLIMIT_FSIZE forbids it) remove it again.
 */
static void test_node_create_failure_leaves_no_tmp(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	uint64_t shape[1] = { 1 << 20 };
	struct rlimit old, lim;
	void (*prev)(int);
	char *data;

	data = calloc(1, 1 << 20);
	assert_non_null(data);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 4096;
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	hmf_err_clear();
	/* zero-filled (ftruncate) and written (pwrite) data */
	assert_int_equal(
		create_array(root, "big", "|u1", 1, shape, NULL, 0, 0, NULL),
		-EFBIG);
	assert_true(errmsg_has("/big"));
	assert_int_equal(create_array(root, "big", "|u1", 1, shape, data,
				      1 << 20, 0, NULL),
			 -EFBIG);
	assert_int_equal(create_array(root, "big", "|u1", 1, shape, data,
				      1 << 20, HMF_CREATE_REPLACE, NULL),
			 -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_false(exists_at(fx->dirfd, "big"));
	assert_int_equal(count_tmp(fx->root), 0);
	free(data);
	hmf_node_close(root);
}

static void test_node_create_refuses_bad_names(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	char name[HMF_NAME_MAX + 2];

	hmf_err_clear();
	assert_int_equal(create_group(root, ".hmf", NULL), -EINVAL);
	assert_int_equal(create_group(root, ".hmf.d", NULL), -EINVAL);
	assert_int_equal(create_text(root, ".hmf.tmp.x", "x", 0), -EINVAL);
	assert_int_equal(create_group(root, "..", NULL), -EINVAL);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(create_group(root, ".", NULL), -EINVAL);
	assert_int_equal(create_group(root, "a/b", NULL), -EINVAL);
	hmf_err_clear();
	assert_int_equal(create_group(root, "", NULL), -EINVAL);
	assert_true(errmsg_has(fx->root));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	hmf_err_clear();
	assert_int_equal(create_group(root, name, NULL), -ENAMETOOLONG);
	assert_true(errmsg_has(fx->root));
	name[HMF_NAME_MAX] = '\0';
	assert_int_equal(create_group(root, name, NULL), 0);
	assert_int_equal(count_tmp(fx->root), 0);
	/* the root's .hmf and .hmf.d are untouched */
	assert_true(exists_at(fx->dirfd, ".hmf"));
	hmf_node_close(root);
}

static void test_node_create_in_array_is_enotdir(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	uint64_t shape[1] = { 1 };

	assert_int_equal(
		create_array(root, "a", "|u1", 1, shape, "x", 1, 0, &a), 0);
	assert_int_equal(create_group(a, "g", NULL), -ENOTDIR);
	assert_int_equal(hmf_node_lookup(a, "g", &root), -ENOTDIR);
	assert_false(exists_at(fx->dirfd, "a/g"));
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_lookup_missing_and_non_nodes(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *n = NULL;

	assert_int_equal(mkdirat(fx->dirfd, "plain", 0755), 0);
	write_text(fx->dirfd, "file", "x");
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, "missing", &n), -ENOENT);
	assert_true(errmsg_has("missing"));
	assert_int_equal(hmf_node_lookup(root, "plain", &n), -ENOENT);
	assert_true(errmsg_has("plain"));
	assert_int_equal(hmf_node_lookup(root, "file", &n), -ENOENT);
	assert_null(n);
	hmf_node_close(root);
}

static void test_node_lookup_refuses_bad_names(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *n = NULL;
	char name[HMF_NAME_MAX + 2];

	assert_int_equal(hmf_node_lookup(root, ".hmf.d", &n), -EINVAL);
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, "..", &n), -EINVAL);
	assert_true(errmsg_has(fx->root));
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, "", &n), -EINVAL);
	assert_true(errmsg_has(fx->root));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, name, &n), -ENAMETOOLONG);
	assert_true(errmsg_has(fx->root));
	assert_null(n);
	hmf_node_close(root);
}

/*
 * A symlink inside ROOT to a node-looking directory outside is no node:
 * lookup, remove, create and rename neither follow nor act through it.
 * Removal once classified the entry by "evil/.hmf" (which follows the
 * link) and then unlinked "<hidden>/data" and "<hidden>/.hmf" by path,
 * deleting the files of an array outside ROOT.
 */
static void test_node_symlinks_are_not_followed(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *n = NULL;
	static const unsigned rm_flags[] = { 0, HMF_RM_ARRAY, HMF_RM_GROUP,
					     HMF_RM_RECURSIVE };
	char target[256];
	size_t i;
	int ofd;

	ofd = open(fx->outside, O_RDONLY | O_DIRECTORY);
	assert_true(ofd >= 0);
	make_node_dir(ofd, "victim", "{\"hmf\":1,\"kind\":\"group\"}");
	write_text(ofd, "victim/.keep", "x");
	make_node_dir(ofd, "varr",
		      "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"|u1\","
		      "\"shape\":[3]}");
	write_text(ofd, "varr/data", "abc");
	snprintf(target, sizeof(target), "%s/victim", fx->outside);
	assert_int_equal(symlinkat(target, fx->dirfd, "evil"), 0);
	snprintf(target, sizeof(target), "%s/varr", fx->outside);
	assert_int_equal(symlinkat(target, fx->dirfd, "evil_arr"), 0);
	assert_int_equal(hmf_node_lookup(root, "evil", &n), -ENOENT);
	assert_int_equal(hmf_node_lookup(root, "evil_arr", &n), -ENOENT);
	assert_int_equal(hmf_node_open(fx->r, "/evil", &n), -ENOENT);
	for (i = 0; i < sizeof(rm_flags) / sizeof(rm_flags[0]); i++) {
		assert_int_equal(hmf_node_remove(root, "evil", rm_flags[i]),
				 -ENOENT);
		assert_int_equal(hmf_node_remove(root, "evil_arr", rm_flags[i]),
				 -ENOENT);
	}
	assert_int_equal(create_group(root, "evil", NULL), -EEXIST);
	assert_int_equal(create_text(root, "evil_arr", "x", HMF_CREATE_REPLACE),
			 -EEXIST);
	assert_int_equal(hmf_node_rename(root, "evil", root, "moved", 0),
			 -ENOENT);
	assert_int_equal(create_group(root, "g", &n), 0);
	assert_int_equal(hmf_node_rename(root, "g", root, "evil", 0), -EEXIST);
	assert_int_equal(
		hmf_node_rename(root, "g", root, "evil_arr", RENAME_EXCHANGE),
		-ENOENT);
	hmf_node_close(n);
	/* the symlinks and everything they point to are as they were */
	assert_true(exists_at(fx->dirfd, "evil"));
	assert_true(exists_at(fx->dirfd, "evil_arr"));
	assert_true(exists_at(ofd, "victim/.keep"));
	assert_true(exists_at(ofd, "victim/.hmf"));
	assert_false(exists_at(ofd, "victim/g"));
	assert_true(exists_at(ofd, "varr/.hmf"));
	assert_true(exists_at(ofd, "varr/data"));
	assert_int_equal(count_tmp(fx->root), 0);
	close(ofd);
	hmf_node_close(root);
}

static void test_node_lookup_corrupt_child_names_path(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *n = NULL;
	char want[256];

	make_node_dir(fx->dirfd, "bad", "{\"hmf\":1,\"kind\":\"array\"");
	make_node_dir(fx->dirfd, "newer", "{\"hmf\":7,\"kind\":\"group\"}");
	make_node_dir(fx->dirfd, "good", "{\"hmf\":1,\"kind\":\"group\"}");
	snprintf(want, sizeof(want), "%s/bad", fx->root);
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, "bad", &n), -EIO);
	assert_true(errmsg_has(want));
	snprintf(want, sizeof(want), "%s/newer", fx->root);
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, "newer", &n), -ENOTSUP);
	assert_true(errmsg_has(want));
	assert_null(n);
	/* the rest of the tree works */
	assert_int_equal(hmf_node_lookup(root, "good", &n), 0);
	hmf_node_close(n);
	hmf_node_close(root);
}

static void test_node_open_paths(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g, *n = NULL;
	uint64_t shape[1] = { 2 };

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(
		create_array(g, "a", "|u1", 1, shape, "hi", 2, 0, NULL), 0);
	assert_int_equal(hmf_node_open(fx->r, "/g/a", &n), 0);
	assert_int_equal(hmf_node_kind(n), HMF_KIND_ARRAY);
	hmf_node_close(n);
	assert_int_equal(hmf_node_open(fx->r, "//g//", &n), 0);
	assert_int_equal(hmf_node_kind(n), HMF_KIND_GROUP);
	hmf_node_close(n);
	assert_int_equal(hmf_node_open(fx->r, "/", &n), 0);
	hmf_node_close(n);
	n = NULL;
	assert_int_equal(hmf_node_open(fx->r, "/g/a/x", &n), -ENOTDIR);
	assert_int_equal(hmf_node_open(fx->r, "/g/missing", &n), -ENOENT);
	assert_int_equal(hmf_node_open(fx->r, "/g/../g", &n), -EINVAL);
	assert_true(errmsg_has("/g/../g"));
	assert_int_equal(hmf_node_open(fx->r, "g/a", &n), -EINVAL);
	assert_int_equal(hmf_node_open(fx->r, "/g/.hmf", &n), -EINVAL);
	assert_null(n);
	hmf_node_close(g);
	hmf_node_close(root);
}

static int find_ent(const struct hmf_dirent *e, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(e[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void test_node_list_shows_only_nodes(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	struct hmf_dirent *e;
	uint64_t shape[1] = { 1 };
	struct stat st;
	size_t n;
	int i;

	assert_int_equal(create_group(root, "g", NULL), 0);
	assert_int_equal(
		create_array(root, "a", "|u1", 1, shape, "x", 1, 0, &a), 0);
	assert_int_equal(mkdirat(fx->dirfd, "plain", 0755), 0);
	write_text(fx->dirfd, "file", "x");
	assert_int_equal(mkdirat(fx->dirfd, ".hmf.tmp.0123", 0755), 0);
	write_text(fx->dirfd, ".hmf.tmp.0123/.hmf",
		   "{\"hmf\":1,\"kind\":\"group\"}");
	assert_int_equal(symlinkat("g", fx->dirfd, "link"), 0);
	assert_int_equal(hmf_node_list(root, &e, &n), 0);
	assert_int_equal(n, 2);
	i = find_ent(e, n, "g");
	assert_true(i >= 0);
	assert_int_equal(e[i].kind, HMF_KIND_GROUP);
	assert_int_equal(fstatat(fx->dirfd, "g", &st, 0), 0);
	assert_int_equal(e[i].ino, st.st_ino);
	i = find_ent(e, n, "a");
	assert_true(i >= 0);
	assert_int_equal(e[i].kind, HMF_KIND_ARRAY);
	hmf_dirents_free(e, n);
	assert_int_equal(hmf_node_list(a, &e, &n), -ENOTDIR);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_remove_array_and_group(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;

	assert_int_equal(create_text(root, "a", "x", 0), 0);
	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(hmf_node_remove(root, "a", HMF_RM_ARRAY), 0);
	assert_false(exists_at(fx->dirfd, "a"));
	assert_int_equal(hmf_node_remove(root, "g", HMF_RM_GROUP), 0);
	assert_false(exists_at(fx->dirfd, "g"));
	hmf_err_clear();
	assert_int_equal(hmf_node_remove(root, "g", 0), -ENOENT);
	assert_true(errmsg_has("g"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_remove_kind_mismatch(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);

	assert_int_equal(create_text(root, "a", "x", 0), 0);
	assert_int_equal(create_group(root, "g", NULL), 0);
	assert_int_equal(hmf_node_remove(root, "a", HMF_RM_GROUP), -ENOTDIR);
	assert_true(errmsg_has("/a"));
	assert_int_equal(hmf_node_remove(root, "g", HMF_RM_ARRAY), -EISDIR);
	assert_true(errmsg_has("/g"));
	assert_true(exists_at(fx->dirfd, "a/data"));
	assert_true(exists_at(fx->dirfd, "g/.hmf"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_remove_non_empty_group(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(create_text(g, "a", "x", 0), 0);
	assert_int_equal(hmf_node_remove(root, "g", HMF_RM_GROUP), -ENOTEMPTY);
	assert_true(errmsg_has("/g"));
	assert_int_equal(hmf_node_remove(root, "g", 0), -ENOTEMPTY);
	assert_true(exists_at(fx->dirfd, "g/a/data"));
	/* non-node entries do not make a group non-empty */
	assert_int_equal(hmf_node_remove(g, "a", 0), 0);
	write_text(fx->dirfd, "g/stray", "x");
	assert_int_equal(hmf_node_remove(root, "g", HMF_RM_GROUP), 0);
	assert_false(exists_at(fx->dirfd, "g"));
	hmf_node_close(g);
	assert_int_equal(create_group(root, "h", &g), 0);
	assert_int_equal(create_group(g, "sub", NULL), 0);
	assert_int_equal(
		hmf_node_remove(root, "h", HMF_RM_GROUP | HMF_RM_RECURSIVE), 0);
	assert_false(exists_at(fx->dirfd, "h"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(g);
	hmf_node_close(root);
}

/* Removing a group never follows a symlink inside it out of ROOT. */
static void test_node_remove_recursive_stays_inside(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;
	char target[256];
	int ofd;

	ofd = open(fx->outside, O_RDONLY | O_DIRECTORY);
	assert_true(ofd >= 0);
	assert_int_equal(mkdirat(ofd, "dir", 0755), 0);
	write_text(ofd, "dir/file", "precious");
	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(create_group(g, "sub", NULL), 0);
	snprintf(target, sizeof(target), "%s/dir", fx->outside);
	assert_int_equal(symlinkat(target, fx->dirfd, "g/sub/link"), 0);
	assert_int_equal(symlinkat(target, fx->dirfd, "g/link"), 0);
	assert_int_equal(hmf_node_remove(root, "g", HMF_RM_RECURSIVE), 0);
	assert_false(exists_at(fx->dirfd, "g"));
	assert_true(exists_at(ofd, "dir/file"));
	assert_int_equal(count_tmp(fx->root), 0);
	close(ofd);
	hmf_node_close(g);
	hmf_node_close(root);
}

/* An open data descriptor keeps working after its array is removed. */
static void test_node_remove_keeps_open_data(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	char buf[8] = { 0 };
	int fd;

	assert_int_equal(create_text(root, "a", "payload", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_data_open(a, O_RDONLY, &fd), 0);
	assert_int_equal(hmf_node_remove(root, "a", HMF_RM_ARRAY), 0);
	assert_false(exists_at(fx->dirfd, "a"));
	assert_int_equal(pread(fd, buf, 7, 0), 7);
	assert_string_equal(buf, "payload");
	close(fd);
	hmf_node_close(a);
	hmf_node_close(root);
}

/*
 * A handle of a removed or replaced node answers -ENOENT, not -EIO: the
 * mount's getxattr racing an unlink is no corrupt tree.
 */
static void test_node_removed_handle_is_enoent(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a, *b;
	struct hmf_meta m;
	struct stat st;
	size_t len;
	char *keys;
	void *val;

	assert_int_equal(create_text(root, "a", "payload", 0), 0);
	assert_int_equal(create_text(root, "b", "old", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_lookup(root, "b", &b), 0);
	assert_int_equal(hmf_node_attr_set(a, "k", "v", 1, 0), 0);
	assert_int_equal(hmf_node_remove(root, "a", HMF_RM_ARRAY), 0);
	assert_int_equal(hmf_node_attr_get(a, "k", &val, &len), -ENOENT);
	assert_int_equal(hmf_node_attr_list(a, &keys, &len), -ENOENT);
	assert_int_equal(hmf_node_attr_set(a, "k", "w", 1, 0), -ENOENT);
	assert_int_equal(hmf_node_meta(a, &m), -ENOENT);
	assert_int_equal(hmf_node_stat(a, &st), -ENOENT);
	assert_int_equal(hmf_node_sync_shape(a), -ENOENT);
	/* the node a rename replaced */
	assert_int_equal(create_text(root, "c", "new", 0), 0);
	assert_int_equal(hmf_node_rename(root, "c", root, "b", 0), 0);
	assert_int_equal(hmf_node_stat(b, &st), -ENOENT);
	assert_int_equal(hmf_node_meta(b, &m), -ENOENT);
	hmf_node_close(b);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_rename_moves(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g, *h, *a;
	struct hmf_meta m;

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(create_group(root, "h", &h), 0);
	assert_int_equal(create_text(g, "a", "data", 0), 0);
	assert_int_equal(hmf_node_lookup(g, "a", &a), 0);
	assert_int_equal(hmf_node_rename(g, "a", h, "b", 0), 0);
	assert_false(exists_at(fx->dirfd, "g/a"));
	assert_data(fx, "h/b", "data");
	/* a handle follows its node across renames */
	assert_int_equal(hmf_node_meta(a, &m), 0);
	assert_int_equal(m.shape[0], 4);
	hmf_meta_fini(&m);
	assert_int_equal(hmf_node_attr_set(a, "k", "v", 1, 0), 0);
	assert_int_equal(hmf_node_rename(root, "h", g, "h2", 0), 0);
	assert_data(fx, "g/h2/b", "data");
	/* a rename onto itself does nothing */
	assert_int_equal(hmf_node_rename(g, "h2", g, "h2", 0), 0);
	assert_true(exists_at(fx->dirfd, "g/h2/b/data"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(a);
	hmf_node_close(h);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_rename_replaces_array(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *dst;
	struct hmf_meta m;

	assert_int_equal(create_text(root, "src", "new", 0), 0);
	assert_int_equal(create_text(root, "dst", "old contents", 0), 0);
	assert_int_equal(hmf_node_rename(root, "src", root, "dst", 0), 0);
	assert_false(exists_at(fx->dirfd, "src"));
	assert_data(fx, "dst", "new");
	assert_int_equal(hmf_node_lookup(root, "dst", &dst), 0);
	assert_int_equal(hmf_node_meta(dst, &m), 0);
	assert_int_equal(m.shape[0], 3);
	hmf_meta_fini(&m);
	hmf_node_close(dst);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_rename_noreplace(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);

	assert_int_equal(create_text(root, "a", "A", 0), 0);
	assert_int_equal(create_text(root, "b", "B", 0), 0);
	hmf_err_clear();
	assert_int_equal(
		hmf_node_rename(root, "a", root, "b", RENAME_NOREPLACE),
		-EEXIST);
	assert_true(errmsg_has("/a"));
	assert_data(fx, "a", "A");
	assert_data(fx, "b", "B");
	assert_int_equal(
		hmf_node_rename(root, "a", root, "c", RENAME_NOREPLACE), 0);
	assert_data(fx, "c", "A");
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_rename_exchange(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g, *n;

	assert_int_equal(create_text(root, "a", "A", 0), 0);
	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(create_text(g, "b", "B", 0), 0);
	assert_int_equal(hmf_node_rename(root, "a", g, "b", RENAME_EXCHANGE),
			 0);
	assert_data(fx, "a", "B");
	assert_data(fx, "g/b", "A");
	/* an array and a group swap too */
	assert_int_equal(hmf_node_rename(root, "a", root, "g", RENAME_EXCHANGE),
			 0);
	assert_int_equal(hmf_node_lookup(root, "g", &n), 0);
	assert_int_equal(hmf_node_kind(n), HMF_KIND_ARRAY);
	hmf_node_close(n);
	assert_data(fx, "g", "B");
	assert_data(fx, "a/b", "A");
	/* both must exist */
	assert_int_equal(
		hmf_node_rename(root, "g", root, "missing", RENAME_EXCHANGE),
		-ENOENT);
	assert_int_equal(
		hmf_node_rename(root, "missing", root, "g", RENAME_EXCHANGE),
		-ENOENT);
	assert_int_equal(hmf_node_rename(root, "g", root, "a",
					 RENAME_EXCHANGE | RENAME_NOREPLACE),
			 -EINVAL);
	assert_data(fx, "g", "B");
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_rename_group_rules(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(create_text(g, "in_g", "x", 0), 0);
	assert_int_equal(create_group(root, "full", NULL), 0);
	{
		struct hmf_node *full;

		assert_int_equal(hmf_node_lookup(root, "full", &full), 0);
		assert_int_equal(create_text(full, "child", "x", 0), 0);
		hmf_node_close(full);
	}
	assert_int_equal(create_group(root, "empty", NULL), 0);
	assert_int_equal(create_text(root, "arr", "x", 0), 0);
	/* over a non-empty group */
	hmf_err_clear();
	assert_int_equal(hmf_node_rename(root, "g", root, "full", 0),
			 -ENOTEMPTY);
	assert_true(errmsg_has("/full"));
	assert_true(exists_at(fx->dirfd, "full/child/data"));
	assert_true(exists_at(fx->dirfd, "g/in_g/data"));
	/* kind mismatches */
	assert_int_equal(hmf_node_rename(root, "g", root, "arr", 0), -ENOTDIR);
	assert_int_equal(hmf_node_rename(root, "arr", root, "empty", 0),
			 -EISDIR);
	assert_data(fx, "arr", "x");
	assert_true(exists_at(fx->dirfd, "empty/.hmf"));
	/* into itself */
	assert_int_equal(hmf_node_rename(root, "g", g, "inside", 0), -EINVAL);
	assert_true(exists_at(fx->dirfd, "g/in_g"));
	/* over an empty group */
	assert_int_equal(hmf_node_rename(root, "g", root, "empty", 0), 0);
	assert_false(exists_at(fx->dirfd, "g"));
	assert_true(exists_at(fx->dirfd, "empty/in_g/data"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_rename_refuses_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	char name[HMF_NAME_MAX + 2];

	assert_int_equal(create_text(root, "a", "x", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_rename(root, "a", root, ".hmf", 0), -EINVAL);
	assert_int_equal(hmf_node_rename(root, "a", root, ".hmf.d", 0),
			 -EINVAL);
	assert_int_equal(hmf_node_rename(root, "a", root, "..", 0), -EINVAL);
	hmf_err_clear();
	assert_int_equal(hmf_node_rename(root, "a", root, "", 0), -EINVAL);
	assert_true(errmsg_has(fx->root));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	hmf_err_clear();
	assert_int_equal(hmf_node_rename(root, "a", root, name, 0),
			 -ENAMETOOLONG);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(hmf_node_rename(root, ".hmf", root, "b", 0), -EINVAL);
	assert_int_equal(hmf_node_rename(root, "a", a, "b", 0), -ENOTDIR);
	assert_int_equal(hmf_node_rename(root, "a", root, "b", 0x100), -EINVAL);
	assert_int_equal(hmf_node_rename(root, "missing", root, "b", 0),
			 -ENOENT);
	/* over a directory that is not a node */
	assert_int_equal(mkdirat(fx->dirfd, "plain", 0755), 0);
	assert_int_equal(hmf_node_rename(root, "a", root, "plain", 0), -EEXIST);
	assert_true(exists_at(fx->dirfd, "plain"));
	assert_data(fx, "a", "x");
	assert_true(exists_at(fx->dirfd, ".hmf"));
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_attrs(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g, *again;
	char *keys;
	void *val;
	size_t len;

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(hmf_node_attr_list(g, &keys, &len), 0);
	assert_int_equal(len, 0);
	free(keys);
	assert_int_equal(hmf_node_attr_set(g, "a", "1", 1, 0), 0);
	assert_int_equal(
		hmf_node_attr_set(g, "b", "\xff\x00z", 3, HMF_ATTR_CREATE), 0);
	assert_int_equal(hmf_node_attr_set(g, "a", "2", 1, HMF_ATTR_CREATE),
			 -EEXIST);
	assert_int_equal(hmf_node_attr_set(g, "c", "2", 1, HMF_ATTR_REPLACE),
			 -ENODATA);
	assert_int_equal(hmf_node_attr_set(g, "a", "22", 2, HMF_ATTR_REPLACE),
			 0);
	/* another handle (the file on disk) sees the change */
	assert_int_equal(hmf_node_lookup(root, "g", &again), 0);
	assert_int_equal(hmf_node_attr_get(again, "a", &val, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(val, "22", 3);
	free(val);
	assert_int_equal(hmf_node_attr_get(again, "b", &val, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "\xff\x00z", 3);
	free(val);
	assert_int_equal(hmf_node_attr_list(again, &keys, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(keys, "a\0b\0", 4);
	free(keys);
	hmf_err_clear();
	assert_int_equal(hmf_node_attr_get(again, "zz", &val, &len), -ENODATA);
	assert_true(errmsg_has("/g"));
	assert_int_equal(hmf_node_attr_remove(again, "a"), 0);
	assert_int_equal(hmf_node_attr_remove(again, "a"), -ENODATA);
	/* and the first handle sees the removal */
	assert_int_equal(hmf_node_attr_get(g, "a", &val, &len), -ENODATA);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(again);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_attr_limits(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;
	char key[HMF_ATTR_KEY_MAX + 2], *big;
	void *val;
	size_t len;

	assert_int_equal(create_group(root, "g", &g), 0);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	hmf_err_clear();
	assert_int_equal(hmf_node_attr_set(g, key, "v", 1, 0), -ERANGE);
	assert_true(errmsg_has("/g"));
	key[HMF_ATTR_KEY_MAX] = '\0';
	assert_int_equal(hmf_node_attr_set(g, key, "v", 1, 0), 0);
	hmf_err_clear();
	assert_int_equal(hmf_node_attr_set(g, "", "v", 1, 0), -EINVAL);
	assert_true(errmsg_has("/g"));
	big = calloc(1, HMF_ATTR_VALUE_MAX + 1);
	assert_non_null(big);
	memset(big, 0xfe, HMF_ATTR_VALUE_MAX + 1);
	hmf_err_clear();
	assert_int_equal(
		hmf_node_attr_set(g, "big", big, HMF_ATTR_VALUE_MAX + 1, 0),
		-E2BIG);
	assert_true(errmsg_has("/g"));
	assert_int_equal(
		hmf_node_attr_set(g, "big", big, HMF_ATTR_VALUE_MAX, 0), 0);
	assert_int_equal(hmf_node_attr_get(g, "big", &val, &len), 0);
	assert_int_equal(len, HMF_ATTR_VALUE_MAX);
	assert_memory_equal(val, big, len);
	free(val);
	free(big);
	hmf_node_close(g);
	hmf_node_close(root);
}

/* Attribute updates rewrite .hmf atomically and keep unknown keys. */
static void test_node_attr_set_keeps_unknown_keys(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *n;
	char *text;

	make_node_dir(fx->dirfd, "x",
		      "{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"old\":"
		      "\"kept\"},\"added_by_v2\":{\"list\":[1,2,3]}}");
	assert_int_equal(hmf_node_lookup(root, "x", &n), 0);
	assert_int_equal(hmf_node_attr_set(n, "new", "\x80", 1, 0), 0);
	text = read_text(fx->dirfd, "x/.hmf", NULL);
	assert_non_null(strstr(text, "\"added_by_v2\":{\"list\":[1,2,3]}"));
	assert_non_null(strstr(text, "\"old\":\"kept\""));
	/* not UTF-8: base64 */
	assert_non_null(strstr(text, "\"new\":{\"base64\":\"gA==\"}"));
	free(text);
	assert_int_equal(hmf_node_attr_remove(n, "old"), 0);
	text = read_text(fx->dirfd, "x/.hmf", NULL);
	assert_non_null(strstr(text, "\"added_by_v2\":{\"list\":[1,2,3]}"));
	free(text);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(n);
	hmf_node_close(root);
}

static int fail_update(struct hmf_meta *m, void *arg)
{
	(void)arg;
	hmf_meta_attr_set(m, "half", "done", 4, 0);
	return -ECANCELED;
}

static void test_node_update_failure_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;
	char *before, *after;
	void *val;
	size_t len;

	assert_int_equal(create_group(root, "g", &g), 0);
	before = read_text(fx->dirfd, "g/.hmf", NULL);
	assert_int_equal(hmf_node_update(g, fail_update, NULL), -ECANCELED);
	after = read_text(fx->dirfd, "g/.hmf", NULL);
	assert_string_equal(after, before);
	assert_int_equal(hmf_node_attr_get(g, "half", &val, &len), -ENODATA);
	assert_int_equal(count_tmp(fx->root), 0);
	free(before);
	free(after);
	hmf_node_close(g);
	hmf_node_close(root);
}

/* Truncate or extend @path/data (relative to ROOT) by hand. */
static void set_size(struct fixture *fx, const char *path, off_t size)
{
	char name[512];
	int fd;

	snprintf(name, sizeof(name), "%s/data", path);
	fd = openat(fx->dirfd, name, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void test_node_meta_derives_shape_from_size(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	uint64_t shape[2] = { 4, 3 };
	struct hmf_meta m;
	struct stat st;

	assert_int_equal(
		create_array(root, "a", "<i4", 2, shape, NULL, 0, 0, &a), 0);
	/* two whole rows */
	set_size(fx, "a", 2 * 3 * 4);
	assert_int_equal(hmf_node_stat(a, &st), 0);
	assert_int_equal(st.st_size, 24);
	assert_int_equal(hmf_node_meta(a, &m), 0);
	assert_string_equal(m.dtype.str, "<i4");
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 2);
	assert_int_equal(m.shape[1], 3);
	hmf_meta_fini(&m);
	/* seven elements: 1-D */
	set_size(fx, "a", 7 * 4);
	assert_int_equal(hmf_node_meta(a, &m), 0);
	assert_string_equal(m.dtype.str, "<i4");
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 7);
	hmf_meta_fini(&m);
	/* 29 bytes: |u1 */
	set_size(fx, "a", 29);
	assert_int_equal(hmf_node_meta(a, &m), 0);
	assert_string_equal(m.dtype.str, "|u1");
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 29);
	hmf_meta_fini(&m);
	/* the stored metadata is not rewritten by reading */
	{
		char *text = read_text(fx->dirfd, "a/.hmf", NULL);

		assert_non_null(strstr(text, "\"shape\":[4,3]"));
		free(text);
	}
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_meta_fortran_order(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	struct hmf_meta m;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse("<f8", &m.dtype), 0);
	m.ndim = 2;
	m.shape[0] = 3;
	m.shape[1] = 2;
	m.order = 'F';
	assert_int_equal(hmf_node_create(root, "f", &m, NULL, 0, NULL, 0, &a),
			 0);
	hmf_meta_fini(&m);
	set_size(fx, "f", 3 * 5 * 8);
	assert_int_equal(hmf_node_meta(a, &m), 0);
	assert_int_equal(m.order, 'F');
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 3);
	assert_int_equal(m.shape[1], 5);
	hmf_meta_fini(&m);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_resize_and_sync_shape(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a, *g;
	uint64_t shape[2] = { 2, 2 };
	struct stat st;
	char *text;

	assert_int_equal(
		create_array(root, "a", "<i8", 2, shape, NULL, 0, 0, &a), 0);
	assert_int_equal(hmf_node_resize(a, 5 * 16), 0);
	assert_int_equal(hmf_node_stat(a, &st), 0);
	assert_int_equal(st.st_size, 80);
	text = read_text(fx->dirfd, "a/.hmf", NULL);
	assert_non_null(strstr(text, "\"shape\":[5,2]"));
	free(text);
	/* changed behind the library's back, then synced */
	set_size(fx, "a", 3 * 8);
	assert_int_equal(hmf_node_sync_shape(a), 0);
	text = read_text(fx->dirfd, "a/.hmf", NULL);
	assert_non_null(strstr(text, "\"shape\":[3]"));
	assert_non_null(strstr(text, "\"dtype\":\"<i8\""));
	free(text);
	assert_int_equal(hmf_node_sync_shape(a), 0);
	assert_int_equal(hmf_node_resize(a, (uint64_t)INT64_MAX + 1), -EFBIG);
	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(hmf_node_resize(g, 10), -EISDIR);
	assert_int_equal(hmf_node_sync_shape(g), 0);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(g);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_data_open(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	char buf[4] = { 0 };
	int fd;

	assert_int_equal(create_text(root, "a", "abc", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_data_open(a, O_RDWR, &fd), 0);
	assert_int_equal(pwrite(fd, "X", 1, 1), 1);
	assert_int_equal(pread(fd, buf, 3, 0), 3);
	assert_string_equal(buf, "aXc");
	close(fd);
	assert_data(fx, "a", "aXc");
	assert_int_equal(hmf_node_data_open(root, O_RDONLY, &fd), -EISDIR);
	assert_int_equal(hmf_node_fsync(a, false), 0);
	assert_int_equal(hmf_node_fsync(a, true), 0);
	assert_int_equal(hmf_node_fsync(root, false), 0);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_chmod_chown_utimens(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a, *g;
	struct timespec ts[2] = { { 1000000000, 5 }, { 1200000000, 7 } };
	struct stat st;

	assert_int_equal(create_text(root, "a", "abc", 0), 0);
	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_chmod(a, 0604), 0);
	assert_int_equal(hmf_node_chmod(g, 0711), 0);
	assert_int_equal(hmf_node_utimens(a, ts), 0);
	assert_int_equal(hmf_node_utimens(g, ts), 0);
	assert_int_equal(hmf_node_stat(a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_mtim.tv_sec, 1200000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	assert_int_equal(hmf_node_stat(g, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(st.st_mtim.tv_sec, 1200000000);
	if (geteuid() == 0) {
		assert_int_equal(hmf_node_chown(a, 4321, 8765), 0);
		assert_int_equal(hmf_node_chown(g, 4321, (gid_t)-1), 0);
		assert_int_equal(hmf_node_stat(a, &st), 0);
		assert_int_equal(st.st_uid, 4321);
		assert_int_equal(st.st_gid, 8765);
		assert_int_equal(hmf_node_stat(g, &st), 0);
		assert_int_equal(st.st_uid, 4321);
	}
	hmf_node_close(g);
	hmf_node_close(a);
	hmf_node_close(root);
}

/*
 * A "data" that is a symlink to a file outside ROOT: nothing may reach the
 * target. chmod used fchmodat() without AT_SYMLINK_NOFOLLOW, which follows
 * the link and changed the mode of the outside file.
 */
static void test_node_data_symlink_is_not_followed(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	char target[256];
	struct stat st, before;
	int fd = -1;

	assert_int_equal(create_text(root, "a", "abc", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	snprintf(target, sizeof(target), "%s/keep", fx->outside);
	assert_int_equal(stat(target, &before), 0);
	assert_int_equal(unlinkat(fx->dirfd, "a/data", 0), 0);
	assert_int_equal(symlinkat(target, fx->dirfd, "a/data"), 0);
	hmf_err_clear();
	assert_int_equal(hmf_node_stat(a, &st), -EIO);
	assert_true(errmsg_has("/a"));
	hmf_err_clear();
	assert_int_equal(hmf_node_data_open(a, O_RDWR, &fd), -EIO);
	assert_true(errmsg_has("/a"));
	assert_int_equal(hmf_node_data_open(a, O_RDONLY, &fd), -EIO);
	assert_int_equal(fd, -1);
	assert_int_equal(hmf_node_resize(a, 0), -EIO);
	/* a symlink's own mode cannot be changed on Linux */
	assert_int_equal(hmf_node_chmod(a, 0600), -EOPNOTSUPP);
	/* these act on the link itself, which lives inside ROOT */
	(void)hmf_node_utimens(a, ts);
	(void)hmf_node_chown(a, 1, 1);
	(void)hmf_node_fsync(a, false);
	/* the outside file keeps its mode, owner, times and contents */
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_mode, before.st_mode);
	assert_int_equal(st.st_uid, before.st_uid);
	assert_int_equal(st.st_size, before.st_size);
	assert_int_equal(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
	hmf_node_close(a);
	hmf_node_close(root);
}

/*
 * A FIFO planted as "data" or ".hmf" must not block any call (the daemon
 * would hang). alarm() turns a hang into a failed test.
 */
static void test_node_fifo_never_blocks(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a, *n = NULL;
	struct stat st;
	int fd = -1;

	assert_int_equal(create_text(root, "a", "abc", 0), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(unlinkat(fx->dirfd, "a/data", 0), 0);
	assert_int_equal(mkfifoat(fx->dirfd, "a/data", 0644), 0);
	assert_int_equal(mkdirat(fx->dirfd, "f", 0755), 0);
	assert_int_equal(mkfifoat(fx->dirfd, "f/.hmf", 0644), 0);
	alarm(10);
	assert_int_equal(hmf_node_stat(a, &st), -EIO);
	hmf_err_clear();
	assert_int_equal(hmf_node_data_open(a, O_RDONLY, &fd), -EIO);
	assert_true(errmsg_has("/a"));
	assert_int_equal(hmf_node_data_open(a, O_RDWR, &fd), -EIO);
	assert_int_equal(fd, -1);
	/* what fsync(2) says of a FIFO */
	assert_int_equal(hmf_node_fsync(a, false), -EINVAL);
	hmf_err_clear();
	assert_int_equal(hmf_node_lookup(root, "f", &n), -EIO);
	assert_true(errmsg_has("/f"));
	assert_null(n);
	assert_int_equal(hmf_node_remove(root, "a", 0), 0);
	alarm(0);
	hmf_node_close(a);
	hmf_node_close(root);
}

static void test_node_array_without_data_is_eio(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	struct hmf_meta m;
	struct stat st;

	make_node_dir(fx->dirfd, "a",
		      "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\","
		      "\"shape\":[2]}");
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	hmf_err_clear();
	assert_int_equal(hmf_node_stat(a, &st), -EIO);
	assert_true(errmsg_has("/a"));
	assert_int_equal(hmf_node_meta(a, &m), -EIO);
	hmf_node_close(a);
	hmf_node_close(root);
}

/* A .hmf rewritten by someone else is re-read; a corrupted one is EIO. */
static void test_node_refreshes_changed_metadata(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *g;
	struct timespec later[2] = { { 0, UTIME_OMIT }, { 2000000000, 0 } };
	void *val;
	size_t len;

	assert_int_equal(create_group(root, "g", &g), 0);
	assert_int_equal(hmf_node_attr_set(g, "k", "1", 1, 0), 0);
	write_text(fx->dirfd, "g/.hmf",
		   "{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
		   "{\"k\":\"from another writer\"}}");
	assert_int_equal(utimensat(fx->dirfd, "g/.hmf", later, 0), 0);
	assert_int_equal(hmf_node_attr_get(g, "k", &val, &len), 0);
	assert_string_equal(val, "from another writer");
	free(val);
	write_text(fx->dirfd, "g/.hmf", "{\"hmf\":1,\"kind\":\"array\"}");
	hmf_err_clear();
	assert_int_equal(hmf_node_attr_get(g, "k", &val, &len), -EIO);
	assert_true(errmsg_has("/g"));
	assert_int_equal(hmf_node_attr_set(g, "k", "2", 1, 0), -EIO);
	write_text(fx->dirfd, "g/.hmf",
		   "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"|u1\","
		   "\"shape\":[0]}");
	/* a node never changes kind under a handle */
	assert_int_equal(hmf_node_attr_get(g, "k", &val, &len), -EIO);
	hmf_node_close(g);
	hmf_node_close(root);
}

static void test_node_readonly_root_refuses_changes(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root, *a, *g;
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	struct hmf_root *ro;
	struct hmf_meta m;
	uint64_t shape[1] = { 3 };
	char *before, *after;
	void *val;
	size_t len;
	int fd = -1;

	root = open_root(fx);
	assert_int_equal(create_text(root, "a", "abc", 0), 0);
	assert_int_equal(create_group(root, "g", NULL), 0);
	assert_int_equal(hmf_node_attr_set(root, "k", "v", 1, 0), 0);
	hmf_node_close(root);
	assert_int_equal(hmf_open(fx->root, "r", &ro), 0);
	assert_true(hmf_root_is_readonly(ro));
	before = read_text(fx->dirfd, ".hmf", NULL);
	assert_int_equal(hmf_node_open_root(ro, &root), 0);
	assert_int_equal(hmf_node_lookup(root, "a", &a), 0);
	assert_int_equal(hmf_node_lookup(root, "g", &g), 0);
	hmf_meta_init(&m, HMF_KIND_GROUP);
	hmf_err_clear();
	assert_int_equal(
		hmf_node_create(root, "new", &m, NULL, 0, NULL, 0, NULL),
		-EROFS);
	assert_true(errmsg_has(fx->root));
	hmf_meta_fini(&m);
	assert_int_equal(create_array(root, "a", "|u1", 1, shape, "xyz", 3,
				      HMF_CREATE_REPLACE, NULL),
			 -EROFS);
	assert_int_equal(hmf_node_remove(root, "a", 0), -EROFS);
	assert_int_equal(hmf_node_remove(root, "g", HMF_RM_RECURSIVE), -EROFS);
	assert_int_equal(hmf_node_rename(root, "a", root, "b", 0), -EROFS);
	assert_int_equal(hmf_node_rename(root, "a", root, "g", RENAME_EXCHANGE),
			 -EROFS);
	assert_int_equal(hmf_node_attr_set(root, "k", "w", 1, 0), -EROFS);
	assert_int_equal(hmf_node_attr_set(g, "n", "w", 1, 0), -EROFS);
	assert_int_equal(hmf_node_attr_remove(root, "k"), -EROFS);
	assert_int_equal(hmf_node_chmod(a, 0600), -EROFS);
	assert_int_equal(hmf_node_chmod(g, 0700), -EROFS);
	assert_int_equal(hmf_node_chown(a, 0, 0), -EROFS);
	assert_int_equal(hmf_node_utimens(a, ts), -EROFS);
	assert_int_equal(hmf_node_utimens(g, ts), -EROFS);
	assert_int_equal(hmf_node_resize(a, 10), -EROFS);
	assert_int_equal(hmf_node_data_open(a, O_RDWR, &fd), -EROFS);
	assert_int_equal(hmf_node_data_open(a, O_WRONLY, &fd), -EROFS);
	assert_int_equal(fd, -1);
	/* reading still works */
	assert_int_equal(hmf_node_attr_get(root, "k", &val, &len), 0);
	free(val);
	assert_int_equal(hmf_node_data_open(a, O_RDONLY, &fd), 0);
	close(fd);
	/* nothing changed */
	after = read_text(fx->dirfd, ".hmf", NULL);
	assert_string_equal(after, before);
	assert_data(fx, "a", "abc");
	assert_true(exists_at(fx->dirfd, "g/.hmf"));
	assert_false(exists_at(fx->dirfd, "new"));
	assert_false(exists_at(fx->dirfd, "b"));
	assert_int_equal(count_tmp(fx->root), 0);
	free(before);
	free(after);
	hmf_node_close(g);
	hmf_node_close(a);
	hmf_node_close(root);
	hmf_close(ro);
}

/* A file of @len bytes: @off bytes of 'h', then bytes i % 251 (memfd). */
static int make_source(uint64_t off, size_t len)
{
	unsigned char *buf = malloc(off + len);
	size_t i;
	int fd;

	assert_non_null(buf);
	memset(buf, 'h', off);
	for (i = 0; i < len; i++)
		buf[off + i] = (unsigned char)(i % 251);
	fd = memfd_create("src", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, off + len), (ssize_t)(off + len));
	free(buf);
	return fd;
}

static void test_node_create_fd_copies_from_offset(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx), *a;
	/* 3 MiB and a bit: more than one buffer of the copy */
	const size_t n = (3u << 20) + 12;
	struct hmf_meta m;
	struct stat st;
	char *text, path[256];
	size_t len, i;
	int src, fd;

	/* from a memfd (another filesystem: may need the buffered copy) */
	src = make_source(128, n);
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse("<u2", &m.dtype), 0);
	m.ndim = 2;
	m.shape[0] = n / 4;
	m.shape[1] = 2;
	m.order = 'F';
	assert_int_equal(
		hmf_node_create_fd(root, "a", &m, src, 128, NULL, 0, &a), 0);
	assert_int_equal(hmf_node_stat(a, &st), 0);
	assert_int_equal(st.st_size, n);
	text = read_text(fx->dirfd, "a/data", &len);
	assert_int_equal(len, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)text[i] != i % 251)
			fail_msg("byte %zu differs", i);
	free(text);
	hmf_node_close(a);
	text = read_text(fx->dirfd, "a/.hmf", NULL);
	assert_non_null(strstr(text, "\"order\":\"F\""));
	free(text);
	close(src);

	/* from a regular file on the same filesystem, replacing "a" */
	snprintf(path, sizeof(path), "%s/src", fx->base);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	m.ndim = 1;
	m.shape[0] = 3;
	m.order = 'C';
	assert_int_equal(
		hmf_node_create_fd(root, "a", &m, fd, 4, NULL, 0, NULL),
		-EEXIST);
	assert_int_equal(hmf_node_create_fd(root, "a", &m, fd, 4, NULL,
					    HMF_CREATE_REPLACE, NULL),
			 0);
	assert_data(fx, "a", "456789");
	/* the file position is neither used nor moved */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 10);
	close(fd);
	unlink(path);
	hmf_meta_fini(&m);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

static void test_node_create_fd_refuses_short_source(void **state)
{
	struct fixture *fx = *state;
	struct hmf_node *root = open_root(fx);
	struct hmf_meta m;
	int src = make_source(0, 100);

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse("<f8", &m.dtype), 0);
	m.ndim = 1;
	m.shape[0] = 13; /* 104 bytes */
	hmf_err_clear();
	assert_int_equal(
		hmf_node_create_fd(root, "a", &m, src, 0, NULL, 0, NULL),
		-EINVAL);
	assert_true(errmsg_has(
		"the source has 100 bytes after offset 0, the shape needs 104"));
	assert_int_equal(
		hmf_node_create_fd(root, "a", &m, src, 200, NULL, 0, NULL),
		-EINVAL);
	assert_false(exists_at(fx->dirfd, "a"));
	/* exactly enough, and a 0-d array */
	m.shape[0] = 12;
	assert_int_equal(
		hmf_node_create_fd(root, "a", &m, src, 4, NULL, 0, NULL), 0);
	m.ndim = 0;
	assert_int_equal(
		hmf_node_create_fd(root, "s", &m, src, 92, NULL, 0, NULL), 0);
	/* a group has no data */
	hmf_meta_fini(&m);
	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_int_equal(
		hmf_node_create_fd(root, "g", &m, src, 0, NULL, 0, NULL),
		-EINVAL);
	assert_false(exists_at(fx->dirfd, "g"));
	/* a source that cannot be read */
	hmf_meta_fini(&m);
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	m.ndim = 1;
	m.shape[0] = 1;
	assert_int_equal(
		hmf_node_create_fd(root, "b", &m, -1, 0, NULL, 0, NULL),
		-EBADF);
	assert_false(exists_at(fx->dirfd, "b"));
	hmf_meta_fini(&m);
	close(src);
	assert_int_equal(count_tmp(fx->root), 0);
	hmf_node_close(root);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_node_open_root),
		T(test_node_create_group_and_lookup),
		T(test_node_create_array_and_stat),
		T(test_node_create_array_zero_filled),
		T(test_node_create_with_owner),
		T(test_node_create_existing_is_eexist),
		T(test_node_create_replace_array),
		T(test_node_create_replace_refuses_non_node),
		T(test_node_create_refuses_length_mismatch),
		T(test_node_create_refuses_overflow),
		T(test_node_create_failure_leaves_no_tmp),
		T(test_node_create_refuses_bad_names),
		T(test_node_create_in_array_is_enotdir),
		T(test_node_lookup_missing_and_non_nodes),
		T(test_node_lookup_refuses_bad_names),
		T(test_node_symlinks_are_not_followed),
		T(test_node_lookup_corrupt_child_names_path),
		T(test_node_open_paths),
		T(test_node_list_shows_only_nodes),
		T(test_node_remove_array_and_group),
		T(test_node_remove_kind_mismatch),
		T(test_node_remove_non_empty_group),
		T(test_node_remove_recursive_stays_inside),
		T(test_node_remove_keeps_open_data),
		T(test_node_removed_handle_is_enoent),
		T(test_node_rename_moves),
		T(test_node_rename_replaces_array),
		T(test_node_rename_noreplace),
		T(test_node_rename_exchange),
		T(test_node_rename_group_rules),
		T(test_node_rename_refuses_bad_arguments),
		T(test_node_attrs),
		T(test_node_attr_limits),
		T(test_node_attr_set_keeps_unknown_keys),
		T(test_node_update_failure_changes_nothing),
		T(test_node_meta_derives_shape_from_size),
		T(test_node_meta_fortran_order),
		T(test_node_resize_and_sync_shape),
		T(test_node_data_open),
		T(test_node_chmod_chown_utimens),
		T(test_node_data_symlink_is_not_followed),
		T(test_node_fifo_never_blocks),
		T(test_node_array_without_data_is_eio),
		T(test_node_refreshes_changed_metadata),
		T(test_node_readonly_root_refuses_changes),
		T(test_node_create_fd_copies_from_offset),
		T(test_node_create_fd_refuses_short_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
