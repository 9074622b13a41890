/* SPDX-License-Identifier: MIT */
/*
 * test_path.c - node names and HMF paths (path.h): the reserved ".hmf"
 * prefix, ".", "..", '/', empty and over-long names, and path splitting.
 * These checks are what keeps every *at() call of the library inside ROOT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static void test_path_reserved_prefix(void **state)
{
	(void)state;
	assert_true(hmf_name_is_reserved(".hmf"));
	assert_true(hmf_name_is_reserved(".hmf.d"));
	assert_true(hmf_name_is_reserved(".hmf.tmp.0123456789abcdef"));
	assert_true(hmf_name_is_reserved(".hmfanything"));
	assert_false(hmf_name_is_reserved("hmf"));
	assert_false(hmf_name_is_reserved(".hm"));
	assert_false(hmf_name_is_reserved(".HMF"));
	assert_false(hmf_name_is_reserved("a.hmf"));
	assert_false(hmf_name_is_reserved(""));
}

static void test_path_name_check_accepts_ordinary_names(void **state)
{
	char longest[HMF_NAME_MAX + 1];

	(void)state;
	memset(longest, 'x', HMF_NAME_MAX);
	longest[HMF_NAME_MAX] = '\0';
	assert_int_equal(hmf_name_check("a"), 0);
	assert_int_equal(hmf_name_check("array1"), 0);
	assert_int_equal(hmf_name_check(".hidden"), 0);
	assert_int_equal(hmf_name_check("..."), 0);
	assert_int_equal(hmf_name_check(".hm"), 0);
	assert_int_equal(hmf_name_check("with space"), 0);
	assert_int_equal(hmf_name_check("x.npy"), 0);
	assert_int_equal(hmf_name_check("\xc3\xa9t\xc3\xa9"), 0);
	assert_int_equal(hmf_name_check(longest), 0);
}

static void test_path_name_check_refuses_reserved(void **state)
{
	(void)state;
	assert_int_equal(hmf_name_check(".hmf"), -EINVAL);
	assert_true(errmsg_has(".hmf"));
	assert_int_equal(hmf_name_check(".hmf.d"), -EINVAL);
	assert_int_equal(hmf_name_check(".hmf.tmp.1"), -EINVAL);
	assert_true(errmsg_has(".hmf.tmp.1"));
	assert_int_equal(hmf_name_check(".hmfx"), -EINVAL);
}

static void test_path_name_check_refuses_dots_slash_empty(void **state)
{
	(void)state;
	assert_int_equal(hmf_name_check(""), -EINVAL);
	assert_true(errmsg_has("empty"));
	assert_int_equal(hmf_name_check("."), -EINVAL);
	assert_int_equal(hmf_name_check(".."), -EINVAL);
	assert_true(errmsg_has(".."));
	assert_int_equal(hmf_name_check("a/b"), -EINVAL);
	assert_true(errmsg_has("a/b"));
	assert_int_equal(hmf_name_check("/"), -EINVAL);
	assert_int_equal(hmf_name_check("../etc"), -EINVAL);
}

static void test_path_name_check_refuses_over_255_bytes(void **state)
{
	char name[HMF_NAME_MAX + 2];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(hmf_name_check(name), -ENAMETOOLONG);
	assert_true(errmsg_has("256"));
}

static void test_path_split_root(void **state)
{
	const char *names[4];
	char buf[64];

	(void)state;
	assert_int_equal(hmf_path_split("/", buf, sizeof(buf), names, 4), 0);
	assert_int_equal(hmf_path_split("///", buf, sizeof(buf), names, 4), 0);
}

static void test_path_split_names(void **state)
{
	const char *names[4];
	char buf[64];

	(void)state;
	assert_int_equal(hmf_path_split("/a/bc/d", buf, sizeof(buf), names, 4),
			 3);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "bc");
	assert_string_equal(names[2], "d");
	/* repeated and trailing slashes are ignored */
	assert_int_equal(hmf_path_split("//a///b/", buf, sizeof(buf), names, 4),
			 2);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "b");
}

static void test_path_split_refuses_relative(void **state)
{
	const char *names[4];
	char buf[64];

	(void)state;
	assert_int_equal(hmf_path_split("a/b", buf, sizeof(buf), names, 4),
			 -EINVAL);
	assert_true(errmsg_has("a/b"));
	assert_int_equal(hmf_path_split("", buf, sizeof(buf), names, 4),
			 -EINVAL);
}

static void test_path_split_refuses_dotdot(void **state)
{
	const char *names[8];
	char buf[64];

	(void)state;
	assert_int_equal(hmf_path_split("/a/../b", buf, sizeof(buf), names, 8),
			 -EINVAL);
	assert_true(errmsg_has("/a/../b"));
	assert_int_equal(hmf_path_split("/..", buf, sizeof(buf), names, 8),
			 -EINVAL);
	assert_int_equal(hmf_path_split("/a/./b", buf, sizeof(buf), names, 8),
			 -EINVAL);
	assert_true(errmsg_has("/a/./b"));
}

static void test_path_split_refuses_reserved_component(void **state)
{
	const char *names[8];
	char buf[64];

	(void)state;
	assert_int_equal(hmf_path_split("/a/.hmf", buf, sizeof(buf), names, 8),
			 -EINVAL);
	assert_true(errmsg_has("/a/.hmf"));
	assert_int_equal(
		hmf_path_split("/.hmf.d/staging", buf, sizeof(buf), names, 8),
		-EINVAL);
}

static void test_path_split_refuses_long_name(void **state)
{
	char path[HMF_NAME_MAX + 8], buf[HMF_PATH_MAX];
	const char *names[8];

	(void)state;
	path[0] = '/';
	path[1] = 'g';
	path[2] = '/';
	memset(path + 3, 'L', HMF_NAME_MAX + 1);
	path[HMF_NAME_MAX + 4] = '\0';
	assert_int_equal(hmf_path_split(path, buf, sizeof(buf), names, 8),
			 -ENAMETOOLONG);
	assert_true(errmsg_has(path));
}

static void test_path_split_refuses_long_path(void **state)
{
	char *path = malloc(HMF_PATH_MAX + 2), *buf = malloc(HMF_PATH_MAX * 2);
	const char *names[HMF_PATH_MAX];
	size_t i;

	(void)state;
	assert_non_null(path);
	assert_non_null(buf);
	for (i = 0; i < HMF_PATH_MAX; i += 2) {
		path[i] = '/';
		path[i + 1] = 'a';
	}
	path[HMF_PATH_MAX] = '\0';
	assert_int_equal(hmf_path_split(path, buf, HMF_PATH_MAX * 2, names,
					HMF_PATH_MAX),
			 -ENAMETOOLONG);
	/* a buffer too small for the path is refused, never overrun */
	assert_int_equal(hmf_path_split("/abc/def", buf, 8, names, 4),
			 -ENAMETOOLONG);
	free(path);
	free(buf);
}

static void test_path_split_refuses_too_deep(void **state)
{
	const char *names[2];
	char buf[64];

	(void)state;
	assert_int_equal(hmf_path_split("/a/b/c", buf, sizeof(buf), names, 2),
			 -E2BIG);
	assert_true(errmsg_has("/a/b/c"));
	assert_int_equal(hmf_path_split("/a/b", buf, sizeof(buf), names, 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_reserved_prefix),
		cmocka_unit_test(test_path_name_check_accepts_ordinary_names),
		cmocka_unit_test(test_path_name_check_refuses_reserved),
		cmocka_unit_test(test_path_name_check_refuses_dots_slash_empty),
		cmocka_unit_test(test_path_name_check_refuses_over_255_bytes),
		cmocka_unit_test(test_path_split_root),
		cmocka_unit_test(test_path_split_names),
		cmocka_unit_test(test_path_split_refuses_relative),
		cmocka_unit_test(test_path_split_refuses_dotdot),
		cmocka_unit_test(test_path_split_refuses_reserved_component),
		cmocka_unit_test(test_path_split_refuses_long_name),
		cmocka_unit_test(test_path_split_refuses_long_path),
		cmocka_unit_test(test_path_split_refuses_too_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
