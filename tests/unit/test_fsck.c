/* SPDX-License-Identifier: MIT */
/*
 * test_fsck.c - the checker (fsck.h): every kind of problem made by hand in
 * a fresh root is found with its path, repaired when the kind allows it
 * and left alone when not; a clean root reports nothing; user data and
 * everything outside ROOT survive a repair.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

#define MAX_ISSUES 32

struct seen {
	enum hmf_fsck_kind kind;
	char *path;
	char *message;
	int error;
	bool repairable, repaired;
	int repair_error;
	char *repair_message;
};

struct findings {
	struct seen v[MAX_ISSUES];
	size_t n;
	struct hmf_fsck_summary sum;
};

static void collect(const struct hmf_fsck_issue *is, void *arg)
{
	struct findings *f = arg;
	struct seen *s;

	assert_true(f->n < MAX_ISSUES);
	s = &f->v[f->n++];
	s->kind = is->kind;
	s->path = strdup(is->path);
	s->message = strdup(is->message);
	s->error = is->error;
	s->repairable = is->repairable;
	s->repaired = is->repaired;
	s->repair_error = is->repair_error;
	s->repair_message = strdup(is->repair_message);
	assert_non_null(s->path);
	assert_non_null(s->message);
	assert_non_null(s->repair_message);
}

static void findings_fini(struct findings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].message);
		free(f->v[i].repair_message);
	}
	memset(f, 0, sizeof(*f));
}

/* Run the checker on @r into @f (reset first); asserts it completed. */
static void run(struct hmf_root *r, unsigned flags, struct findings *f)
{
	findings_fini(f);
	assert_int_equal(hmf_fsck_run(r, flags, collect, f, &f->sum), 0);
	assert_int_equal(f->sum.issues, f->n);
}

/* The only finding at @path; fails the test when there is none. */
static const struct seen *at(const struct findings *f, const char *path)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].path, path) == 0)
			return &f->v[i];
	fail_msg("no finding at %s", path);
	return NULL;
}

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

/* A sample tree: groups, a 2-D array, a 0-d one, an F-order one, attrs. */
static void make_sample(struct fixture *fx)
{
	const int64_t v[6] = { 1, 2, 3, 4, 5, 6 };
	uint64_t shape[2] = { 3, 2 };
	struct hmf_node *g;
	struct hmf_meta m;

	assert_int_equal(hmf_set_group(fx->r, "/g/h/i"), 0);
	assert_int_equal(hmf_set_array(fx->r, "/g/a", "<i8", 2, shape, v), 0);
	assert_int_equal(hmf_set_array(fx->r, "/zero", "<f8", 0, NULL, v), 0);
	assert_int_equal(hmf_set_node_attr(fx->r, "/g", "k", "v", 1), 0);
	assert_int_equal(hmf_node_open(fx->r, "/g/h", &g), 0);
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse("<i4", &m.dtype), 0);
	m.ndim = 2;
	m.shape[0] = 2;
	m.shape[1] = 3;
	m.order = 'F';
	assert_int_equal(hmf_node_create(g, "f", &m, v, 24, NULL, 0, NULL), 0);
	hmf_meta_fini(&m);
	hmf_node_close(g);
}

static void test_fsck_clean_root_reports_nothing(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };

	run(fx->r, 0, &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.sum.groups, 1);
	assert_int_equal(f.sum.arrays, 0);
	make_sample(fx);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 0);
	/* ROOT, g, g/h, g/h/i */
	assert_int_equal(f.sum.groups, 4);
	assert_int_equal(f.sum.arrays, 3);
	assert_int_equal(f.sum.data_bytes, 48 + 8 + 24);
	assert_int_equal(f.sum.repaired, 0);
	assert_int_equal(f.sum.repairable, 0);
	/* repairing a clean root changes nothing and finds nothing */
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 0);
	/* the report callback and the summary are optional */
	assert_int_equal(hmf_fsck_run(fx->r, 0, NULL, NULL, NULL), 0);
	findings_fini(&f);
}

static void test_fsck_kind_names(void **state)
{
	(void)state;
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_BAD_META), "bad-meta");
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_BAD_SHAPE),
			    "bad-shape");
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_NO_DATA), "no-data");
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_STRAY), "stray");
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_LEFTOVER), "leftover");
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_NO_PRIVATE_DIR),
			    "no-private-dir");
	assert_string_equal(hmf_fsck_kind_name(HMF_FSCK_UNREADABLE),
			    "unreadable");
	assert_string_equal(hmf_fsck_kind_name(0), "?");
	assert_string_equal(hmf_fsck_kind_name(99), "?");
}

static void test_fsck_bad_meta_is_reported_not_repaired(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	const struct seen *s;
	char *before, *after;
	int fd;

	make_sample(fx);
	make_node_dir(fx->dirfd, "bad", "{\"hmf\":1,\"kind\":");
	/* below a corrupt node nothing is checked (it may not be a group) */
	fd = open_dir_at(fx->dirfd, "bad");
	write_text(fd, "junk", "x");
	close(fd);
	make_node_dir(fx->dirfd, "g/newer", "{\"hmf\":99,\"kind\":\"group\"}");
	before = read_text(fx->dirfd, "bad/.hmf", NULL);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 2);
	s = at(&f, "/bad");
	assert_int_equal(s->kind, HMF_FSCK_BAD_META);
	assert_int_equal(s->error, -EIO);
	assert_false(s->repairable);
	assert_false(s->repaired);
	/* the message names the file and the errno */
	assert_non_null(strstr(s->message, fx->root));
	assert_non_null(strstr(s->message, "/bad"));
	assert_non_null(strstr(s->message, "Input/output error"));
	s = at(&f, "/g/newer");
	assert_int_equal(s->kind, HMF_FSCK_BAD_META);
	assert_int_equal(s->error, -ENOTSUP);
	/* repair leaves both alone, and they remain problems */
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.sum.repaired, 0);
	assert_false(at(&f, "/bad")->repaired);
	after = read_text(fx->dirfd, "bad/.hmf", NULL);
	assert_string_equal(before, after);
	assert_true(exists_at(fx->dirfd, "bad/junk"));
	free(before);
	free(after);
	findings_fini(&f);
}

static void test_fsck_bad_shape_repaired_to_derived(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	const struct seen *s;
	struct hmf_view v;
	char *text;

	make_sample(fx);
	/* 48 -> 64 bytes: 4 rows of 2 <i8 */
	set_size(fx, "g/a/data", 64);
	/* 24 -> 7 bytes: no longer whole <i4 items: |u1 */
	set_size(fx, "g/h/f/data", 7);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 2);
	s = at(&f, "/g/a");
	assert_int_equal(s->kind, HMF_FSCK_BAD_SHAPE);
	assert_true(s->repairable);
	assert_false(s->repaired);
	assert_string_equal(
		s->message,
		"data is 64 bytes, the stored shape <i8 [3,2] needs 48; derived: <i8 [4,2]");
	s = at(&f, "/g/h/f");
	assert_string_equal(
		s->message,
		"data is 7 bytes, the stored shape <i4 [2,3] needs 24; derived: |u1 [7]");
	assert_int_equal(f.sum.repairable, 2);
	/* without --repair the stored shape stays */
	text = read_text(fx->dirfd, "g/a/.hmf", NULL);
	assert_non_null(strstr(text, "\"shape\":[3,2]"));
	free(text);

	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.sum.repaired, 2);
	s = at(&f, "/g/a");
	assert_true(s->repaired);
	assert_int_equal(s->repair_error, 0);
	assert_string_equal(s->repair_message, "stored shape now <i8 [4,2]");
	text = read_text(fx->dirfd, "g/a/.hmf", NULL);
	assert_non_null(strstr(text, "\"shape\":[4,2]"));
	free(text);
	text = read_text(fx->dirfd, "g/h/f/.hmf", NULL);
	assert_non_null(strstr(text, "\"dtype\":\"|u1\""));
	assert_non_null(strstr(text, "\"shape\":[7]"));
	free(text);
	/* the data is untouched; the attributes too */
	assert_int_equal(hmf_get_array(fx->r, "/g/a", HMF_VIEW_RDONLY, &v), 0);
	assert_int_equal(v.nbytes, 64);
	assert_int_equal(((int64_t *)v.data)[5], 6);
	hmf_view_fini(&v);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 0);
	findings_fini(&f);
}

static void test_fsck_array_without_data(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	const struct seen *s;
	int fd;

	make_sample(fx);
	assert_int_equal(unlinkat(fx->dirfd, "g/a/data", 0), 0);
	/* data that is a symlink (to a real file outside ROOT) */
	make_node_dir(fx->dirfd, "ln",
		      "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"|u1\","
		      "\"shape\":[4],\"order\":\"C\",\"attributes\":{}}");
	fd = open_dir_at(fx->dirfd, "ln");
	assert_int_equal(symlinkat("../../outside/keep", fd, "data"), 0);
	close(fd);
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 2);
	s = at(&f, "/g/a");
	assert_int_equal(s->kind, HMF_FSCK_NO_DATA);
	assert_false(s->repairable);
	assert_false(s->repaired);
	assert_non_null(strstr(s->message, "without a data file"));
	s = at(&f, "/ln");
	assert_int_equal(s->kind, HMF_FSCK_NO_DATA);
	assert_string_equal(s->message,
			    "data is a symlink, not a regular file");
	assert_int_equal(f.sum.repaired, 0);
	/* nothing created, nothing removed */
	assert_false(exists_at(fx->dirfd, "g/a/data"));
	assert_true(exists_at(fx->dirfd, "g/a/.hmf"));
	assert_true(exists_at(fx->dirfd, "ln/data"));
	findings_fini(&f);
}

static void test_fsck_strays_reported_never_deleted(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	const struct seen *s;
	int fd;

	make_sample(fx);
	write_text(fx->dirfd, "notes.txt", "mine");
	assert_int_equal(mkdirat(fx->dirfd, "g/plain", 0755), 0);
	fd = open_dir_at(fx->dirfd, "g/plain");
	write_text(fd, "inside", "mine too");
	close(fd);
	assert_int_equal(symlinkat(fx->outside, fx->dirfd, "g/link"), 0);
	write_text(fx->dirfd, "g/a/extra", "x");
	assert_int_equal(mkfifoat(fx->dirfd, "fifo", 0600), 0);
	/* a "data" file in a group is no part of it */
	write_text(fx->dirfd, "g/data", "x");
	/* reserved names are the system's: not strays */
	write_text(fx->dirfd, "g/.hmf.lock", "x");
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 6);
	assert_int_equal(f.sum.repaired, 0);
	assert_int_equal(f.sum.repairable, 0);
	s = at(&f, "/notes.txt");
	assert_int_equal(s->kind, HMF_FSCK_STRAY);
	assert_false(s->repairable);
	assert_string_equal(s->message,
			    "a regular file, not a node (left alone)");
	assert_string_equal(
		at(&f, "/g/plain")->message,
		"a directory without .hmf, not a node (left alone)");
	assert_string_equal(at(&f, "/g/link")->message,
			    "a symlink, not a node (left alone)");
	assert_string_equal(
		at(&f, "/g/a/extra")->message,
		"a regular file inside an array, not part of it (left alone)");
	assert_string_equal(at(&f, "/fifo")->message,
			    "a FIFO, not a node (left alone)");
	assert_int_equal(at(&f, "/g/data")->kind, HMF_FSCK_STRAY);
	/* reported in name order */
	assert_string_equal(f.v[0].path, "/fifo");
	assert_string_equal(f.v[1].path, "/g/a/extra");
	assert_string_equal(f.v[2].path, "/g/data");
	assert_string_equal(f.v[3].path, "/g/link");
	assert_string_equal(f.v[4].path, "/g/plain");
	assert_string_equal(f.v[5].path, "/notes.txt");
	/* all still there; the symlink was not followed */
	assert_true(exists_at(fx->dirfd, "notes.txt"));
	assert_true(exists_at(fx->dirfd, "g/plain/inside"));
	assert_true(exists_at(fx->dirfd, "g/link"));
	assert_true(exists_at(fx->dirfd, "g/a/extra"));
	assert_true(exists_at(fx->dirfd, "g/.hmf.lock"));
	findings_fini(&f);
}

static void test_fsck_leftovers_removed_on_repair(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	const struct seen *s;
	int fd;

	make_sample(fx);
	/* an interrupted creation, metadata save and removal */
	make_node_dir(fx->dirfd, ".hmf.tmp.0123456789abcdef",
		      "{\"hmf\":1,\"kind\":\"group\",\"attributes\":{}}");
	write_text(fx->dirfd, "g/.hmf.tmp.1111111111111111", "{");
	fd = open_dir_at(fx->dirfd, "g/a");
	write_text(fd, ".hmf.tmp.2222222222222222", "{");
	close(fd);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 3);
	s = at(&f, "/.hmf.tmp.0123456789abcdef");
	assert_int_equal(s->kind, HMF_FSCK_LEFTOVER);
	assert_true(s->repairable);
	assert_false(s->repaired);
	assert_string_equal(s->repair_message, "");
	assert_int_equal(at(&f, "/g/.hmf.tmp.1111111111111111")->kind,
			 HMF_FSCK_LEFTOVER);
	assert_int_equal(at(&f, "/g/a/.hmf.tmp.2222222222222222")->kind,
			 HMF_FSCK_LEFTOVER);
	assert_int_equal(count_tmp(fx->root), 3);

	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.sum.repaired, 3);
	s = at(&f, "/g/a/.hmf.tmp.2222222222222222");
	assert_true(s->repaired);
	assert_string_equal(s->repair_message, "removed");
	assert_int_equal(count_tmp(fx->root), 0);
	/* the nodes around them are intact */
	assert_true(exists_at(fx->dirfd, "g/a/data"));
	assert_true(exists_at(fx->dirfd, "g/a/.hmf"));
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 0);
	findings_fini(&f);
}

static void test_fsck_missing_private_dir(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	const struct seen *s;
	struct stat st;

	assert_int_equal(unlinkat(fx->dirfd, ".hmf.d", AT_REMOVEDIR), 0);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 1);
	s = at(&f, "/.hmf.d");
	assert_int_equal(s->kind, HMF_FSCK_NO_PRIVATE_DIR);
	assert_true(s->repairable);
	assert_false(exists_at(fx->dirfd, ".hmf.d"));
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 1);
	assert_true(f.v[0].repaired);
	assert_string_equal(f.v[0].repair_message, "created");
	assert_int_equal(fstatat(fx->dirfd, ".hmf.d", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 0);
	/* something else under the name: reported, never replaced */
	assert_int_equal(unlinkat(fx->dirfd, ".hmf.d", AT_REMOVEDIR), 0);
	write_text(fx->dirfd, ".hmf.d", "not a directory");
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.v[0].kind, HMF_FSCK_NO_PRIVATE_DIR);
	assert_false(f.v[0].repairable);
	assert_false(f.v[0].repaired);
	assert_int_equal(fstatat(fx->dirfd, ".hmf.d", &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	findings_fini(&f);
}

static void test_fsck_readonly_root(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };
	struct hmf_root *ro;

	make_sample(fx);
	write_text(fx->dirfd, "g/.hmf.tmp.3333333333333333", "{");
	set_size(fx, "g/a/data", 8);
	assert_int_equal(hmf_open(fx->root, "r", &ro), 0);
	hmf_err_clear();
	assert_int_equal(hmf_fsck_run(ro, HMF_FSCK_REPAIR, collect, &f, NULL),
			 -EROFS);
	assert_true(errmsg_has("read-only"));
	assert_int_equal(f.n, 0);
	/* checking works read-only */
	run(ro, 0, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.sum.repairable, 2);
	assert_int_equal(count_tmp(fx->root), 1);
	hmf_close(ro);
	findings_fini(&f);
}

static void test_fsck_many_problems_at_once(void **state)
{
	struct fixture *fx = *state;
	struct findings f = { 0 };

	make_sample(fx);
	assert_int_equal(unlinkat(fx->dirfd, ".hmf.d", AT_REMOVEDIR), 0);
	make_node_dir(fx->dirfd, "g/h/bad", "[]");
	set_size(fx, "zero/data", 16);
	assert_int_equal(unlinkat(fx->dirfd, "g/h/f/data", 0), 0);
	write_text(fx->dirfd, "g/h/i/stray", "x");
	write_text(fx->dirfd, "g/h/i/.hmf.tmp.4444444444444444", "x");
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 6);
	assert_int_equal(f.sum.repairable, 3);
	assert_int_equal(f.sum.repaired, 0);
	assert_int_equal(at(&f, "/zero")->kind, HMF_FSCK_BAD_SHAPE);
	assert_string_equal(
		at(&f, "/zero")->message,
		"data is 16 bytes, the stored shape <f8 [] needs 8; derived: <f8 [2]");
	run(fx->r, HMF_FSCK_REPAIR, &f);
	assert_int_equal(f.n, 6);
	assert_int_equal(f.sum.repaired, 3);
	/* what remains: the corrupt node, the array without data, the stray */
	run(fx->r, 0, &f);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.sum.repairable, 0);
	assert_int_equal(at(&f, "/g/h/bad")->kind, HMF_FSCK_BAD_META);
	assert_int_equal(at(&f, "/g/h/f")->kind, HMF_FSCK_NO_DATA);
	assert_int_equal(at(&f, "/g/h/i/stray")->kind, HMF_FSCK_STRAY);
	findings_fini(&f);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fsck_clean_root_reports_nothing),
		cmocka_unit_test(test_fsck_kind_names),
		T(test_fsck_bad_meta_is_reported_not_repaired),
		T(test_fsck_bad_shape_repaired_to_derived),
		T(test_fsck_array_without_data),
		T(test_fsck_strays_reported_never_deleted),
		T(test_fsck_leftovers_removed_on_repair),
		T(test_fsck_missing_private_dir),
		T(test_fsck_readonly_root),
		T(test_fsck_many_problems_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
