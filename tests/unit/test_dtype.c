/* SPDX-License-Identifier: MIT */
/*
 * test_dtype.c - dtype parsing (numpy names, aliases and dtype.str forms)
 * into numpy's canonical dtype.str, refusal of object and structured
 * dtypes, and the byte-size overflow checks (DESIGN section 3).
 */
#include <errno.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

struct dtype_case {
	const char *text;
	const char *str;
	size_t itemsize;
};

/* What numpy's np.dtype(text).str and .itemsize say (little-endian host). */
static const struct dtype_case canonical[] = {
	{ "bool", "|b1", 1 },
	{ "bool_", "|b1", 1 },
	{ "?", "|b1", 1 },
	{ "b1", "|b1", 1 },
	{ "|b1", "|b1", 1 },
	{ "int8", "|i1", 1 },
	{ "i1", "|i1", 1 },
	{ "b", "|i1", 1 },
	{ "int16", "<i2", 2 },
	{ "short", "<i2", 2 },
	{ "int32", "<i4", 4 },
	{ "i4", "<i4", 4 },
	{ "i", "<i4", 4 },
	{ "intc", "<i4", 4 },
	{ "int64", "<i8", 8 },
	{ "int", "<i8", 8 },
	{ "int_", "<i8", 8 },
	{ "long", "<i8", 8 },
	{ "intp", "<i8", 8 },
	{ "q", "<i8", 8 },
	{ "i8", "<i8", 8 },
	{ "<i8", "<i8", 8 },
	{ "=i8", "<i8", 8 },
	{ "|i8", "<i8", 8 },
	{ "uint8", "|u1", 1 },
	{ "B", "|u1", 1 },
	{ "u1", "|u1", 1 },
	{ ">u1", "|u1", 1 },
	{ "uint16", "<u2", 2 },
	{ "uint32", "<u4", 4 },
	{ "uint64", "<u8", 8 },
	{ "uint", "<u8", 8 },
	{ "float16", "<f2", 2 },
	{ "half", "<f2", 2 },
	{ "e", "<f2", 2 },
	{ "float32", "<f4", 4 },
	{ "single", "<f4", 4 },
	{ "f", "<f4", 4 },
	{ "f4", "<f4", 4 },
	{ "float64", "<f8", 8 },
	{ "float", "<f8", 8 },
	{ "double", "<f8", 8 },
	{ "d", "<f8", 8 },
	{ "f8", "<f8", 8 },
	{ "complex64", "<c8", 8 },
	{ "F", "<c8", 8 },
	{ "complex128", "<c16", 16 },
	{ "complex", "<c16", 16 },
	{ "D", "<c16", 16 },
	{ "c16", "<c16", 16 },
	{ ">i4", ">i4", 4 },
	{ ">f8", ">f8", 8 },
	{ ">c16", ">c16", 16 },
	{ ">b1", "|b1", 1 },
	{ "S10", "|S10", 10 },
	{ "|S10", "|S10", 10 },
	{ ">S3", "|S3", 3 },
	{ "a5", "|S5", 5 },
	{ "U5", "<U5", 20 },
	{ "<U5", "<U5", 20 },
	{ ">U2", ">U2", 8 },
	{ "V16", "|V16", 16 },
	{ "datetime64[ns]", "<M8[ns]", 8 },
	{ "datetime64[D]", "<M8[D]", 8 },
	{ "datetime64", "<M8", 8 },
	{ "M8", "<M8", 8 },
	{ "M8[generic]", "<M8", 8 },
	{ "<M8[us]", "<M8[us]", 8 },
	{ ">M8[s]", ">M8[s]", 8 },
	{ "M8[10s]", "<M8[10s]", 8 },
	{ "timedelta64[ms]", "<m8[ms]", 8 },
	{ "m8[h]", "<m8[h]", 8 },
};

static void test_dtype_parse_canonicalises_numpy_names(void **state)
{
	struct hmf_dtype d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		memset(&d, 0, sizeof(d));
		if (hmf_dtype_parse(canonical[i].text, &d) != 0)
			fail_msg("'%s' refused: %s", canonical[i].text,
				 hmf_errmsg());
		if (strcmp(d.str, canonical[i].str) != 0)
			fail_msg("'%s' gave '%s', numpy says '%s'",
				 canonical[i].text, d.str, canonical[i].str);
		if (d.itemsize != canonical[i].itemsize)
			fail_msg("'%s' gave itemsize %zu, numpy says %zu",
				 canonical[i].text, d.itemsize,
				 canonical[i].itemsize);
		assert_int_equal(d.byteorder, canonical[i].str[0]);
		assert_int_equal(d.kind, canonical[i].str[1]);
	}
}

/* A stored dtype.str must parse back to itself: .hmf files depend on it. */
static void test_dtype_parse_canonical_form_is_a_fixed_point(void **state)
{
	struct hmf_dtype d, again;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		assert_int_equal(hmf_dtype_parse(canonical[i].text, &d), 0);
		assert_int_equal(hmf_dtype_parse(d.str, &again), 0);
		assert_string_equal(again.str, d.str);
		assert_true(hmf_dtype_equal(&d, &again));
	}
}

static void test_dtype_parse_key_examples(void **state)
{
	struct hmf_dtype d;

	(void)state;
	assert_int_equal(hmf_dtype_parse("int64", &d), 0);
	assert_string_equal(d.str, "<i8");
	assert_int_equal(hmf_dtype_parse("float", &d), 0);
	assert_string_equal(d.str, "<f8");
	assert_int_equal(hmf_dtype_parse("bool", &d), 0);
	assert_string_equal(d.str, "|b1");
	assert_int_equal(hmf_dtype_parse("S10", &d), 0);
	assert_string_equal(d.str, "|S10");
	assert_int_equal(d.itemsize, 10);
	assert_int_equal(hmf_dtype_parse("U5", &d), 0);
	assert_string_equal(d.str, "<U5");
	assert_int_equal(d.itemsize, 20);
	assert_int_equal(hmf_dtype_parse(">i4", &d), 0);
	assert_string_equal(d.str, ">i4");
	assert_int_equal(d.byteorder, '>');
	assert_int_equal(hmf_dtype_parse("datetime64[ns]", &d), 0);
	assert_string_equal(d.str, "<M8[ns]");
}

static const char *const refused[] = {
	"O",
	"object",
	"|O",
	"O8",
	"i4,f8",
	"[('a', '<i4')]",
	"{'names': ['a']}",
	"(2,)i4",
	"",
	"<",
	"S",
	"U",
	"V",
	"S0",
	"U0",
	"i3",
	"i16",
	"u3",
	"f1",
	"f16",
	"float128",
	"longdouble",
	"g",
	"c4",
	"b2",
	"M4",
	"M8[",
	"M8[]",
	"M8[ns",
	"M8[ns]x",
	"M8[parsec]",
	"M8[0s]",
	"i8[ns]",
	"bool[ns]",
	"i8 ",
	" i8",
	"<<i8",
	"int65",
	"S99999999999999999999",
	"S4294967296",
	"xyz",
	"str",
	"bytes",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static void test_dtype_parse_refuses_object_structured_and_junk(void **state)
{
	struct hmf_dtype d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		memset(&d, 0x5a, sizeof(d));
		hmf_err_clear();
		if (hmf_dtype_parse(refused[i], &d) != -EINVAL)
			fail_msg("'%s' was not refused with -EINVAL (got '%s')",
				 refused[i], d.str);
		/* the message names what was refused */
		assert_true(errmsg_has("unsupported dtype"));
		if (strlen(refused[i]) > 0)
			assert_true(errmsg_has(refused[i]));
		/* *out is written only on success */
		assert_int_equal(d.kind, 0x5a);
	}
}

/*
 * The canonical form of every accepted time unit must itself parse: a long
 * multiplier once produced a truncated "<M8[1234..." that was stored in
 * .hmf and then refused on every later load.
 */
static void test_dtype_parse_long_time_unit_never_truncated(void **state)
{
	char text[HMF_DTYPE_STR_MAX];
	struct hmf_dtype d, again;
	size_t digits;
	int rc;

	(void)state;
	for (digits = 1; digits < HMF_DTYPE_STR_MAX; digits++) {
		size_t len;

		memcpy(text, "M8[", 3);
		memset(text + 3, '1', digits);
		len = 3 + digits;
		if (len + 3 > sizeof(text))
			break;
		memcpy(text + len, "s]", 3);
		rc = hmf_dtype_parse(text, &d);
		if (rc == -EINVAL)
			continue;
		assert_int_equal(rc, 0);
		if (hmf_dtype_parse(d.str, &again) != 0)
			fail_msg("'%s' canonicalised to '%s', which is refused",
				 text, d.str);
		assert_string_equal(again.str, d.str);
		assert_int_equal(strncmp(d.str, "<M8[", 4), 0);
		assert_int_equal(d.str[strlen(d.str) - 1], ']');
	}
}

static void test_dtype_equal(void **state)
{
	struct hmf_dtype a, b;

	(void)state;
	assert_int_equal(hmf_dtype_parse("int64", &a), 0);
	assert_int_equal(hmf_dtype_parse("<i8", &b), 0);
	assert_true(hmf_dtype_equal(&a, &b));
	assert_int_equal(hmf_dtype_parse(">i8", &b), 0);
	assert_false(hmf_dtype_equal(&a, &b));
	assert_int_equal(hmf_dtype_parse("M8[ns]", &a), 0);
	assert_int_equal(hmf_dtype_parse("M8[us]", &b), 0);
	assert_false(hmf_dtype_equal(&a, &b));
}

static void test_dtype_nbytes(void **state)
{
	uint64_t shape[3] = { 3, 4, 5 }, n = 0;
	struct hmf_dtype d;

	(void)state;
	assert_int_equal(hmf_dtype_parse("<f8", &d), 0);
	assert_int_equal(hmf_dtype_nbytes(&d, 3, shape, &n), 0);
	assert_int_equal(n, 3 * 4 * 5 * 8);
	/* 0-d: one element */
	assert_int_equal(hmf_dtype_nbytes(&d, 0, shape, &n), 0);
	assert_int_equal(n, 8);
	shape[1] = 0;
	assert_int_equal(hmf_dtype_nbytes(&d, 3, shape, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(hmf_dtype_parse("U5", &d), 0);
	shape[0] = 7;
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), 0);
	assert_int_equal(n, 7 * 20);
}

static void test_dtype_nbytes_fits_off_t(void **state)
{
	uint64_t shape[3], n = 0;
	struct hmf_dtype d;

	(void)state;
	assert_int_equal(hmf_dtype_parse("<i8", &d), 0);
	/* 2^30 * 2^22 * 8 = 2^55 bytes: large, but an off_t holds it */
	shape[0] = 1ull << 30;
	shape[1] = 1ull << 22;
	assert_int_equal(hmf_dtype_nbytes(&d, 2, shape, &n), 0);
	assert_int_equal(n, 1ull << 55);
	shape[0] = 7;
	shape[1] = 1ull << 30;
	shape[2] = 1ull << 26;
	assert_int_equal(hmf_dtype_nbytes(&d, 3, shape, &n), 0);
	assert_int_equal(n, 7ull << 59);
}

static void test_dtype_nbytes_overflow(void **state)
{
	uint64_t shape[3], n = 1234;
	struct hmf_dtype d;

	(void)state;
	assert_int_equal(hmf_dtype_parse("<i8", &d), 0);
	/* 2^30 * 2^30 * 8 * 8 = 2^63 bytes: one past INT64_MAX */
	shape[0] = 1ull << 30;
	shape[1] = 1ull << 30;
	shape[2] = 8;
	assert_int_equal(hmf_dtype_nbytes(&d, 3, shape, &n), -EOVERFLOW);
	assert_true(errmsg_has("<i8"));
	/* *nbytes is written only on success */
	assert_int_equal(n, 1234);
	/* products that wrap around 2^64 */
	shape[0] = 1ull << 32;
	shape[1] = 1ull << 32;
	assert_int_equal(hmf_dtype_nbytes(&d, 2, shape, &n), -EOVERFLOW);
	shape[0] = (1ull << 21) + 1;
	shape[1] = (1ull << 21) + 1;
	shape[2] = (1ull << 21) + 1;
	assert_int_equal(hmf_dtype_nbytes(&d, 3, shape, &n), -EOVERFLOW);
	shape[0] = UINT64_MAX;
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), -EOVERFLOW);
	assert_int_equal(hmf_dtype_parse("|u1", &d), 0);
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), -EOVERFLOW);
	shape[0] = 1ull << 63;
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), -EOVERFLOW);
	assert_int_equal(hmf_dtype_parse("U5", &d), 0);
	shape[0] = 1ull << 40;
	shape[1] = 1ull << 20;
	assert_int_equal(hmf_dtype_nbytes(&d, 2, shape, &n), -EOVERFLOW);
	assert_int_equal(n, 1234);
}

/*
 * A shape is stored as JSON numbers (doubles), exact only below 2^53, and a
 * .hmf holding a larger one is refused as corrupt on load. So no dimension
 * may reach 2^53, even when a zero elsewhere makes the array empty: [0, 2^60]
 * used to be accepted, written, and then unreadable.
 */
static void test_dtype_nbytes_refuses_dimension_over_2p53(void **state)
{
	uint64_t shape[2], n = 1234;
	struct hmf_dtype d;

	(void)state;
	assert_int_equal(hmf_dtype_parse("|u1", &d), 0);
	shape[0] = (1ull << 53) - 1;
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), 0);
	assert_int_equal(n, (1ull << 53) - 1);
	shape[0] = 1ull << 53;
	n = 1234;
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), -EOVERFLOW);
	assert_int_equal(n, 1234);
	shape[0] = (uint64_t)INT64_MAX;
	assert_int_equal(hmf_dtype_nbytes(&d, 1, shape, &n), -EOVERFLOW);
	assert_int_equal(hmf_dtype_parse("<i8", &d), 0);
	shape[0] = 0;
	shape[1] = 1ull << 60;
	assert_int_equal(hmf_dtype_nbytes(&d, 2, shape, &n), -EOVERFLOW);
	shape[0] = 1ull << 60;
	shape[1] = 0;
	assert_int_equal(hmf_dtype_nbytes(&d, 2, shape, &n), -EOVERFLOW);
	assert_int_equal(n, 1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dtype_parse_canonicalises_numpy_names),
		cmocka_unit_test(
			test_dtype_parse_canonical_form_is_a_fixed_point),
		cmocka_unit_test(test_dtype_parse_key_examples),
		cmocka_unit_test(
			test_dtype_parse_refuses_object_structured_and_junk),
		cmocka_unit_test(
			test_dtype_parse_long_time_unit_never_truncated),
		cmocka_unit_test(test_dtype_equal),
		cmocka_unit_test(test_dtype_nbytes),
		cmocka_unit_test(test_dtype_nbytes_fits_off_t),
		cmocka_unit_test(test_dtype_nbytes_overflow),
		cmocka_unit_test(test_dtype_nbytes_refuses_dimension_over_2p53),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
