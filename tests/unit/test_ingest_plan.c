/* SPDX-License-Identifier: MIT */
/*
 * test_ingest_plan.c - ingest's dtype promotion and value conversion
 * against numpy: the table below is np.promote_types() of numpy 1.24
 * (native byte order), generated once with Debian's python3-numpy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plan_i.h"

static const char *const promotions[][3] = {
	{ "|b1", "|b1", "|b1" },   { "|b1", "|i1", "|i1" },
	{ "|b1", "<i2", "<i2" },   { "|b1", "<i4", "<i4" },
	{ "|b1", "<i8", "<i8" },   { "|b1", "|u1", "|u1" },
	{ "|b1", "<u2", "<u2" },   { "|b1", "<u4", "<u4" },
	{ "|b1", "<u8", "<u8" },   { "|b1", "<f2", "<f2" },
	{ "|b1", "<f4", "<f4" },   { "|b1", "<f8", "<f8" },
	{ "|b1", "<c8", "<c8" },   { "|b1", "<c16", "<c16" },
	{ "|b1", ">f8", "<f8" },   { "|b1", ">i4", "<i4" },
	{ "|i1", "|b1", "|i1" },   { "|i1", "|i1", "|i1" },
	{ "|i1", "<i2", "<i2" },   { "|i1", "<i4", "<i4" },
	{ "|i1", "<i8", "<i8" },   { "|i1", "|u1", "<i2" },
	{ "|i1", "<u2", "<i4" },   { "|i1", "<u4", "<i8" },
	{ "|i1", "<u8", "<f8" },   { "|i1", "<f2", "<f2" },
	{ "|i1", "<f4", "<f4" },   { "|i1", "<f8", "<f8" },
	{ "|i1", "<c8", "<c8" },   { "|i1", "<c16", "<c16" },
	{ "|i1", ">f8", "<f8" },   { "|i1", ">i4", "<i4" },
	{ "<i2", "|b1", "<i2" },   { "<i2", "|i1", "<i2" },
	{ "<i2", "<i2", "<i2" },   { "<i2", "<i4", "<i4" },
	{ "<i2", "<i8", "<i8" },   { "<i2", "|u1", "<i2" },
	{ "<i2", "<u2", "<i4" },   { "<i2", "<u4", "<i8" },
	{ "<i2", "<u8", "<f8" },   { "<i2", "<f2", "<f4" },
	{ "<i2", "<f4", "<f4" },   { "<i2", "<f8", "<f8" },
	{ "<i2", "<c8", "<c8" },   { "<i2", "<c16", "<c16" },
	{ "<i2", ">f8", "<f8" },   { "<i2", ">i4", "<i4" },
	{ "<i4", "|b1", "<i4" },   { "<i4", "|i1", "<i4" },
	{ "<i4", "<i2", "<i4" },   { "<i4", "<i4", "<i4" },
	{ "<i4", "<i8", "<i8" },   { "<i4", "|u1", "<i4" },
	{ "<i4", "<u2", "<i4" },   { "<i4", "<u4", "<i8" },
	{ "<i4", "<u8", "<f8" },   { "<i4", "<f2", "<f8" },
	{ "<i4", "<f4", "<f8" },   { "<i4", "<f8", "<f8" },
	{ "<i4", "<c8", "<c16" },  { "<i4", "<c16", "<c16" },
	{ "<i4", ">f8", "<f8" },   { "<i4", ">i4", "<i4" },
	{ "<i8", "|b1", "<i8" },   { "<i8", "|i1", "<i8" },
	{ "<i8", "<i2", "<i8" },   { "<i8", "<i4", "<i8" },
	{ "<i8", "<i8", "<i8" },   { "<i8", "|u1", "<i8" },
	{ "<i8", "<u2", "<i8" },   { "<i8", "<u4", "<i8" },
	{ "<i8", "<u8", "<f8" },   { "<i8", "<f2", "<f8" },
	{ "<i8", "<f4", "<f8" },   { "<i8", "<f8", "<f8" },
	{ "<i8", "<c8", "<c16" },  { "<i8", "<c16", "<c16" },
	{ "<i8", ">f8", "<f8" },   { "<i8", ">i4", "<i8" },
	{ "|u1", "|b1", "|u1" },   { "|u1", "|i1", "<i2" },
	{ "|u1", "<i2", "<i2" },   { "|u1", "<i4", "<i4" },
	{ "|u1", "<i8", "<i8" },   { "|u1", "|u1", "|u1" },
	{ "|u1", "<u2", "<u2" },   { "|u1", "<u4", "<u4" },
	{ "|u1", "<u8", "<u8" },   { "|u1", "<f2", "<f2" },
	{ "|u1", "<f4", "<f4" },   { "|u1", "<f8", "<f8" },
	{ "|u1", "<c8", "<c8" },   { "|u1", "<c16", "<c16" },
	{ "|u1", ">f8", "<f8" },   { "|u1", ">i4", "<i4" },
	{ "<u2", "|b1", "<u2" },   { "<u2", "|i1", "<i4" },
	{ "<u2", "<i2", "<i4" },   { "<u2", "<i4", "<i4" },
	{ "<u2", "<i8", "<i8" },   { "<u2", "|u1", "<u2" },
	{ "<u2", "<u2", "<u2" },   { "<u2", "<u4", "<u4" },
	{ "<u2", "<u8", "<u8" },   { "<u2", "<f2", "<f4" },
	{ "<u2", "<f4", "<f4" },   { "<u2", "<f8", "<f8" },
	{ "<u2", "<c8", "<c8" },   { "<u2", "<c16", "<c16" },
	{ "<u2", ">f8", "<f8" },   { "<u2", ">i4", "<i4" },
	{ "<u4", "|b1", "<u4" },   { "<u4", "|i1", "<i8" },
	{ "<u4", "<i2", "<i8" },   { "<u4", "<i4", "<i8" },
	{ "<u4", "<i8", "<i8" },   { "<u4", "|u1", "<u4" },
	{ "<u4", "<u2", "<u4" },   { "<u4", "<u4", "<u4" },
	{ "<u4", "<u8", "<u8" },   { "<u4", "<f2", "<f8" },
	{ "<u4", "<f4", "<f8" },   { "<u4", "<f8", "<f8" },
	{ "<u4", "<c8", "<c16" },  { "<u4", "<c16", "<c16" },
	{ "<u4", ">f8", "<f8" },   { "<u4", ">i4", "<i8" },
	{ "<u8", "|b1", "<u8" },   { "<u8", "|i1", "<f8" },
	{ "<u8", "<i2", "<f8" },   { "<u8", "<i4", "<f8" },
	{ "<u8", "<i8", "<f8" },   { "<u8", "|u1", "<u8" },
	{ "<u8", "<u2", "<u8" },   { "<u8", "<u4", "<u8" },
	{ "<u8", "<u8", "<u8" },   { "<u8", "<f2", "<f8" },
	{ "<u8", "<f4", "<f8" },   { "<u8", "<f8", "<f8" },
	{ "<u8", "<c8", "<c16" },  { "<u8", "<c16", "<c16" },
	{ "<u8", ">f8", "<f8" },   { "<u8", ">i4", "<f8" },
	{ "<f2", "|b1", "<f2" },   { "<f2", "|i1", "<f2" },
	{ "<f2", "<i2", "<f4" },   { "<f2", "<i4", "<f8" },
	{ "<f2", "<i8", "<f8" },   { "<f2", "|u1", "<f2" },
	{ "<f2", "<u2", "<f4" },   { "<f2", "<u4", "<f8" },
	{ "<f2", "<u8", "<f8" },   { "<f2", "<f2", "<f2" },
	{ "<f2", "<f4", "<f4" },   { "<f2", "<f8", "<f8" },
	{ "<f2", "<c8", "<c8" },   { "<f2", "<c16", "<c16" },
	{ "<f2", ">f8", "<f8" },   { "<f2", ">i4", "<f8" },
	{ "<f4", "|b1", "<f4" },   { "<f4", "|i1", "<f4" },
	{ "<f4", "<i2", "<f4" },   { "<f4", "<i4", "<f8" },
	{ "<f4", "<i8", "<f8" },   { "<f4", "|u1", "<f4" },
	{ "<f4", "<u2", "<f4" },   { "<f4", "<u4", "<f8" },
	{ "<f4", "<u8", "<f8" },   { "<f4", "<f2", "<f4" },
	{ "<f4", "<f4", "<f4" },   { "<f4", "<f8", "<f8" },
	{ "<f4", "<c8", "<c8" },   { "<f4", "<c16", "<c16" },
	{ "<f4", ">f8", "<f8" },   { "<f4", ">i4", "<f8" },
	{ "<f8", "|b1", "<f8" },   { "<f8", "|i1", "<f8" },
	{ "<f8", "<i2", "<f8" },   { "<f8", "<i4", "<f8" },
	{ "<f8", "<i8", "<f8" },   { "<f8", "|u1", "<f8" },
	{ "<f8", "<u2", "<f8" },   { "<f8", "<u4", "<f8" },
	{ "<f8", "<u8", "<f8" },   { "<f8", "<f2", "<f8" },
	{ "<f8", "<f4", "<f8" },   { "<f8", "<f8", "<f8" },
	{ "<f8", "<c8", "<c16" },  { "<f8", "<c16", "<c16" },
	{ "<f8", ">f8", "<f8" },   { "<f8", ">i4", "<f8" },
	{ "<c8", "|b1", "<c8" },   { "<c8", "|i1", "<c8" },
	{ "<c8", "<i2", "<c8" },   { "<c8", "<i4", "<c16" },
	{ "<c8", "<i8", "<c16" },  { "<c8", "|u1", "<c8" },
	{ "<c8", "<u2", "<c8" },   { "<c8", "<u4", "<c16" },
	{ "<c8", "<u8", "<c16" },  { "<c8", "<f2", "<c8" },
	{ "<c8", "<f4", "<c8" },   { "<c8", "<f8", "<c16" },
	{ "<c8", "<c8", "<c8" },   { "<c8", "<c16", "<c16" },
	{ "<c8", ">f8", "<c16" },  { "<c8", ">i4", "<c16" },
	{ "<c16", "|b1", "<c16" }, { "<c16", "|i1", "<c16" },
	{ "<c16", "<i2", "<c16" }, { "<c16", "<i4", "<c16" },
	{ "<c16", "<i8", "<c16" }, { "<c16", "|u1", "<c16" },
	{ "<c16", "<u2", "<c16" }, { "<c16", "<u4", "<c16" },
	{ "<c16", "<u8", "<c16" }, { "<c16", "<f2", "<c16" },
	{ "<c16", "<f4", "<c16" }, { "<c16", "<f8", "<c16" },
	{ "<c16", "<c8", "<c16" }, { "<c16", "<c16", "<c16" },
	{ "<c16", ">f8", "<c16" }, { "<c16", ">i4", "<c16" },
	{ ">f8", "|b1", "<f8" },   { ">f8", "|i1", "<f8" },
	{ ">f8", "<i2", "<f8" },   { ">f8", "<i4", "<f8" },
	{ ">f8", "<i8", "<f8" },   { ">f8", "|u1", "<f8" },
	{ ">f8", "<u2", "<f8" },   { ">f8", "<u4", "<f8" },
	{ ">f8", "<u8", "<f8" },   { ">f8", "<f2", "<f8" },
	{ ">f8", "<f4", "<f8" },   { ">f8", "<f8", "<f8" },
	{ ">f8", "<c8", "<c16" },  { ">f8", "<c16", "<c16" },
	{ ">f8", ">f8", "<f8" },   { ">f8", ">i4", "<f8" },
	{ ">i4", "|b1", "<i4" },   { ">i4", "|i1", "<i4" },
	{ ">i4", "<i2", "<i4" },   { ">i4", "<i4", "<i4" },
	{ ">i4", "<i8", "<i8" },   { ">i4", "|u1", "<i4" },
	{ ">i4", "<u2", "<i4" },   { ">i4", "<u4", "<i8" },
	{ ">i4", "<u8", "<f8" },   { ">i4", "<f2", "<f8" },
	{ ">i4", "<f4", "<f8" },   { ">i4", "<f8", "<f8" },
	{ ">i4", "<c8", "<c16" },  { ">i4", "<c16", "<c16" },
	{ ">i4", ">f8", "<f8" },   { ">i4", ">i4", "<i4" },
};

static void test_plan_promote_matches_numpy(void **state)
{
	struct hmf_dtype a, b, out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(promotions) / sizeof(promotions[0]); i++) {
		assert_int_equal(hmf_dtype_parse(promotions[i][0], &a), 0);
		assert_int_equal(hmf_dtype_parse(promotions[i][1], &b), 0);
		/* the engine promotes from a native first column */
		assert_int_equal(make_native(&a, &a), 0);
		assert_int_equal(plan_promote(&a, &b, &out), 0);
		if (strcmp(out.str, promotions[i][2]) != 0)
			fail_msg("promote(%s, %s): %s, numpy says %s",
				 promotions[i][0], promotions[i][1], out.str,
				 promotions[i][2]);
	}
}

static void test_plan_promote_refuses_strings_with_numbers(void **state)
{
	struct hmf_dtype a, b, out;

	(void)state;
	hmf_dtype_parse("|S4", &a);
	hmf_dtype_parse("<f8", &b);
	assert_int_equal(plan_promote(&a, &b, &out), -EINVAL);
	hmf_dtype_parse("|S9", &b);
	assert_int_equal(plan_promote(&a, &b, &out), 0);
	assert_string_equal(out.str, "|S9");
}

static void test_plan_convert_values(void **state)
{
	struct hmf_dtype i8, f8, f2, u1, bef8, b1;
	unsigned char out[16];
	int64_t i = -3;
	double f = 2.5, g;
	uint16_t h;
	unsigned char be[8] = { 0x40, 0x04, 0, 0, 0, 0, 0, 0 }; /* 2.5 */

	(void)state;
	hmf_dtype_parse("<i8", &i8);
	hmf_dtype_parse("<f8", &f8);
	hmf_dtype_parse("<f2", &f2);
	hmf_dtype_parse("|u1", &u1);
	hmf_dtype_parse(">f8", &bef8);
	hmf_dtype_parse("|b1", &b1);
	plan_convert(&i8, (unsigned char *)&i, &f8, out);
	memcpy(&g, out, 8);
	assert_true(g == -3.0);
	plan_convert(&f8, (unsigned char *)&f, &i8, out);
	assert_int_equal(*(int64_t *)(void *)out, 2);
	plan_convert(&bef8, be, &f8, out);
	memcpy(&g, out, 8);
	assert_true(g == 2.5);
	plan_convert(&f8, (unsigned char *)&f, &f2, out);
	memcpy(&h, out, 2);
	assert_int_equal(h, 0x4100); /* 2.5 in binary16 */
	plan_convert(&f2, out, &f8, out + 8);
	memcpy(&g, out + 8, 8);
	assert_true(g == 2.5);
	plan_convert(&i8, (unsigned char *)&i, &b1, out);
	assert_int_equal(out[0], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_promote_matches_numpy),
		cmocka_unit_test(
			test_plan_promote_refuses_strings_with_numbers),
		cmocka_unit_test(test_plan_convert_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
