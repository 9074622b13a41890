/* SPDX-License-Identifier: MIT */
/*
 * test_meta.c - the .hmf metadata (meta.h): parsing and validation of
 * hostile files, serialisation (UTF-8 strings, base64 for other bytes,
 * unknown keys kept), atomic load/save, shape derivation from the data size
 * (DESIGN section 2) and the attribute rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

#define WHAT "/some/root/g/node"

static int parse(const char *text, struct hmf_meta *m)
{
	return hmf_meta_parse(text, strlen(text), WHAT, m);
}

/* Parse @text, expecting -EIO (corrupt) and a message naming the file. */
static void expect_corrupt(const char *text)
{
	struct hmf_meta m;
	int rc;

	hmf_err_clear();
	rc = parse(text, &m);
	if (rc != -EIO)
		fail_msg("parsing '%s' gave %d, not -EIO", text, rc);
	assert_true(errmsg_has(WHAT));
	/* a failed parse owns nothing */
	assert_null(m.attrs);
	assert_null(m.extra);
	assert_null(m.npy_header);
}

static void test_meta_init(void **state)
{
	struct hmf_meta m;

	(void)state;
	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_int_equal(m.kind, HMF_KIND_GROUP);
	assert_int_equal(m.nattrs, 0);
	assert_null(m.extra);
	hmf_meta_fini(&m);
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(m.kind, HMF_KIND_ARRAY);
	assert_string_equal(m.dtype.str, "|u1");
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 0);
	assert_int_equal(m.order, 'C');
	hmf_meta_fini(&m);
	/* fini accepts a zeroed struct and NULL */
	hmf_meta_fini(&m);
	hmf_meta_fini(NULL);
}

static void test_meta_parse_group(void **state)
{
	struct hmf_meta m;

	(void)state;
	assert_int_equal(parse("{\"hmf\":1,\"kind\":\"group\","
			       "\"attributes\":{\"a\":\"b\"}}",
			       &m),
			 0);
	assert_int_equal(m.kind, HMF_KIND_GROUP);
	assert_int_equal(m.nattrs, 1);
	assert_string_equal(m.attrs[0].key, "a");
	assert_int_equal(m.attrs[0].len, 1);
	assert_memory_equal(m.attrs[0].val, "b", 2);
	assert_null(m.extra);
	hmf_meta_fini(&m);
	/* "attributes" may be missing */
	assert_int_equal(parse("{\"hmf\":1,\"kind\":\"group\"}", &m), 0);
	assert_int_equal(m.nattrs, 0);
	hmf_meta_fini(&m);
}

static void test_meta_parse_array(void **state)
{
	struct hmf_meta m;

	(void)state;
	assert_int_equal(
		parse("{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"int64\","
		      "\"shape\":[9,2],\"order\":\"F\",\"attributes\":{}}",
		      &m),
		0);
	assert_int_equal(m.kind, HMF_KIND_ARRAY);
	/* canonicalised on read */
	assert_string_equal(m.dtype.str, "<i8");
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 9);
	assert_int_equal(m.shape[1], 2);
	assert_int_equal(m.order, 'F');
	assert_null(m.npy_header);
	hmf_meta_fini(&m);
	/* order defaults to C; 0-d arrays are allowed */
	assert_int_equal(
		parse("{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<f4\","
		      "\"shape\":[],\"npy_header\":\"NPY\"}",
		      &m),
		0);
	assert_int_equal(m.ndim, 0);
	assert_int_equal(m.order, 'C');
	assert_string_equal(m.npy_header, "NPY");
	assert_int_equal(m.npy_header_len, 3);
	hmf_meta_fini(&m);
}

static void test_meta_parse_max_ndim(void **state)
{
	char text[512];
	struct hmf_meta m;
	size_t off;
	int i;

	(void)state;
	off = (size_t)snprintf(
		text, sizeof(text),
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"|u1\","
		"\"shape\":[1");
	for (i = 1; i < HMF_MAX_NDIM; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, ",1");
	snprintf(text + off, sizeof(text) - off, "]}");
	assert_int_equal(parse(text, &m), 0);
	assert_int_equal(m.ndim, HMF_MAX_NDIM);
	hmf_meta_fini(&m);
	/* one more dimension is refused */
	text[off] = '\0';
	snprintf(text + off, sizeof(text) - off, ",1]}");
	expect_corrupt(text);
}

static void test_meta_parse_refuses_bad_json(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"{\"hmf\": ",
		"{\"hmf\":1,\"kind\":\"group\"",
		"{\"hmf\":1,\"kind\":\"group\",}",
		"{'hmf':1,'kind':'group'}",
		"{\"hmf\":1 \"kind\":\"group\"}",
		"null",
		"true",
		"1",
		"\"group\"",
		"[]",
		"[{\"hmf\":1,\"kind\":\"group\"}]",
		"\xff\xfe{}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_corrupt(bad[i]);
}

/*
 * A .hmf is replaced by rename, so bytes after the object mean a damaged
 * file, not a valid one: cJSON stops at the end of the first value, and
 * the rest used to be ignored silently.
 */
static void test_meta_parse_refuses_trailing_garbage(void **state)
{
	static const char text[] = "{\"hmf\":1,\"kind\":\"group\"}\0garbage";
	struct hmf_meta m;

	(void)state;
	expect_corrupt("{\"hmf\":1,\"kind\":\"group\"}x");
	expect_corrupt("{\"hmf\":1,\"kind\":\"group\"}{}");
	expect_corrupt("{\"hmf\":1,\"kind\":\"group\"} }");
	expect_corrupt("{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\","
		       "\"shape\":[1]}]");
	/* an embedded NUL ends the text early: also damage */
	hmf_err_clear();
	assert_int_equal(hmf_meta_parse(text, sizeof(text) - 1, WHAT, &m),
			 -EIO);
	assert_true(errmsg_has(WHAT));
	/* trailing whitespace (an editor's newline) is fine */
	assert_int_equal(parse("{\"hmf\":1,\"kind\":\"group\"}\n \t\r\n", &m),
			 0);
	hmf_meta_fini(&m);
}

static void test_meta_parse_refuses_deep_nesting(void **state)
{
	size_t depth = 100000, i;
	char *text = malloc(2 * depth + 64);
	size_t off;

	(void)state;
	assert_non_null(text);
	off = (size_t)sprintf(text, "{\"hmf\":1,\"kind\":\"group\",\"x\":");
	for (i = 0; i < depth; i++)
		text[off++] = '[';
	for (i = 0; i < depth; i++)
		text[off++] = ']';
	text[off++] = '}';
	text[off] = '\0';
	expect_corrupt(text);
	free(text);
}

static void test_meta_parse_refuses_wrong_types(void **state)
{
	static const char *const bad[] = {
		/* version */
		"{\"kind\":\"group\"}",
		"{\"hmf\":\"1\",\"kind\":\"group\"}",
		"{\"hmf\":null,\"kind\":\"group\"}",
		"{\"hmf\":0,\"kind\":\"group\"}",
		"{\"hmf\":-1,\"kind\":\"group\"}",
		"{\"hmf\":1.5,\"kind\":\"group\"}",
		"{\"hmf\":[1],\"kind\":\"group\"}",
		/* kind */
		"{\"hmf\":1}",
		"{\"hmf\":1,\"kind\":1}",
		"{\"hmf\":1,\"kind\":\"file\"}",
		"{\"hmf\":1,\"kind\":\"\"}",
		"{\"hmf\":1,\"kind\":[\"group\"]}",
		/* dtype */
		"{\"hmf\":1,\"kind\":\"array\",\"shape\":[1]}",
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":8,\"shape\":[1]}",
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"O\",\"shape\":[1]}",
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"i4,i4\",\"shape\":[1]}",
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"\",\"shape\":[1]}",
		/* order */
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\",\"shape\":[1],"
		"\"order\":\"K\"}",
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\",\"shape\":[1],"
		"\"order\":1}",
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\",\"shape\":[1],"
		"\"order\":\"CF\"}",
		/* npy_header */
		"{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\",\"shape\":[1],"
		"\"npy_header\":5}",
		/* attributes */
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":[]}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":[\"a\"]}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":\"a\"}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":null}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"a\":1}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"a\":null}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"a\":[\"b\"]}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"a\":{}}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"a\":{\"base64\":1}}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
		"{\"a\":{\"base64\":\"AA==\",\"x\":1}}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
		"{\"a\":{\"b64\":\"AA==\"}}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"\":\"v\"}}",
		"{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
		"{\"a\":\"1\",\"a\":\"2\"}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_corrupt(bad[i]);
}

static void test_meta_parse_refuses_bad_shapes(void **state)
{
	static const char *const shapes[] = {
		"null",
		"\"3\"",
		"3",
		"{}",
		"[\"3\"]",
		"[-1]",
		"[3,-1]",
		"[-0.5]",
		"[1.5]",
		"[2,0.25]",
		"[1e300]",
		"[1e400]",
		"[-1e400]",
		"[9007199254740992]",
		"[9007199254740993]",
		"[18446744073709551616]",
		"[null]",
		"[[3]]",
		"[true]",
		/* 2^31 * 2^31 * 8 bytes overflows an off_t */
		"[2147483648,2147483648,8]",
		"[4294967296,4294967296]",
	};
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i8\","
			 "\"shape\":%s}",
			 shapes[i]);
		expect_corrupt(text);
	}
}

static void test_meta_parse_refuses_newer_version(void **state)
{
	struct hmf_meta m;

	(void)state;
	hmf_err_clear();
	assert_int_equal(parse("{\"hmf\":2,\"kind\":\"group\"}", &m), -ENOTSUP);
	assert_true(errmsg_has(WHAT));
	assert_int_equal(
		parse("{\"hmf\":99,\"kind\":\"whatever\",\"x\":[}", &m), -EIO);
	assert_int_equal(parse("{\"hmf\":1e300,\"kind\":\"future\"}", &m),
			 -ENOTSUP);
	assert_true(errmsg_has(WHAT));
}

static void test_meta_parse_refuses_bad_attributes(void **state)
{
	char key[HMF_ATTR_KEY_MAX + 2], *text, *val;
	struct hmf_meta m;
	size_t n = HMF_ATTR_VALUE_MAX + 1;

	(void)state;
	/* key of 247 bytes */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	text = malloc(n + 512);
	assert_non_null(text);
	snprintf(text, n + 512,
		 "{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"%s\":\"v\"}}",
		 key);
	expect_corrupt(text);
	/* 246 bytes is fine */
	key[HMF_ATTR_KEY_MAX] = '\0';
	snprintf(text, n + 512,
		 "{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"%s\":\"v\"}}",
		 key);
	assert_int_equal(parse(text, &m), 0);
	hmf_meta_fini(&m);
	/* key that is not UTF-8 */
	expect_corrupt("{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
		       "{\"\xff\":\"v\"}}");
	/* value over 64 KiB, as a string and as base64 */
	val = malloc(n + 1);
	assert_non_null(val);
	memset(val, 'v', n);
	val[n] = '\0';
	snprintf(text, n + 512,
		 "{\"hmf\":1,\"kind\":\"group\",\"attributes\":{\"k\":\"%s\"}}",
		 val);
	expect_corrupt(text);
	memset(val, 'A', n - 1);
	val[n - 1] = '\0'; /* 65536 base64 chars: 49152 bytes */
	snprintf(text, n + 512,
		 "{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
		 "{\"k\":{\"base64\":\"%s\"}}}",
		 val);
	assert_int_equal(parse(text, &m), 0);
	assert_int_equal(m.attrs[0].len, 49152);
	hmf_meta_fini(&m);
	free(val);
	free(text);
}

static void test_meta_parse_refuses_bad_base64(void **state)
{
	static const char *const b64[] = {
		"A",	"AA",	"AAA",	      "AAAAA",	  "====",
		"A===", "AA=A", "A=AA",	      "AA==AA==", "AA\"A",
		"AA A", "AA-_", "AAA\\u0000",
	};
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"hmf\":1,\"kind\":\"group\",\"attributes\":"
			 "{\"k\":{\"base64\":\"%s\"}}}",
			 b64[i]);
		expect_corrupt(text);
	}
}

static void test_meta_parse_keeps_unknown_keys(void **state)
{
	struct hmf_meta m, again;
	char *out;

	(void)state;
	assert_int_equal(
		parse("{\"hmf\":1,\"kind\":\"group\",\"attributes\":{},"
		      "\"future\":{\"x\":[1,2,{\"y\":null}]},"
		      "\"zz\":\"s\"}",
		      &m),
		0);
	assert_non_null(m.extra);
	assert_int_equal(hmf_meta_format(&m, &out), 0);
	assert_non_null(strstr(out, "\"future\":{\"x\":[1,2,{\"y\":null}]}"));
	assert_non_null(strstr(out, "\"zz\":\"s\""));
	/* the known keys are there once */
	assert_non_null(strstr(out, "\"hmf\":1"));
	assert_null(strstr(strstr(out, "\"kind\"") + 1, "\"kind\""));
	assert_int_equal(hmf_meta_parse(out, strlen(out), WHAT, &again), 0);
	assert_string_equal(again.extra, m.extra);
	free(out);
	hmf_meta_fini(&again);
	hmf_meta_fini(&m);
}

static void test_meta_format_array(void **state)
{
	struct hmf_meta m, again;
	char *out;

	(void)state;
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse("float32", &m.dtype), 0);
	m.ndim = 2;
	m.shape[0] = 1000;
	m.shape[1] = 3;
	m.order = 'F';
	assert_int_equal(hmf_meta_format(&m, &out), 0);
	assert_non_null(strstr(out, "\"hmf\":1"));
	assert_non_null(strstr(out, "\"kind\":\"array\""));
	assert_non_null(strstr(out, "\"dtype\":\"<f4\""));
	assert_non_null(strstr(out, "\"shape\":[1000,3]"));
	assert_non_null(strstr(out, "\"order\":\"F\""));
	assert_non_null(strstr(out, "\"attributes\":{}"));
	assert_int_equal(hmf_meta_parse(out, strlen(out), WHAT, &again), 0);
	assert_string_equal(again.dtype.str, "<f4");
	assert_int_equal(again.ndim, 2);
	assert_int_equal(again.shape[0], 1000);
	assert_int_equal(again.shape[1], 3);
	assert_int_equal(again.order, 'F');
	free(out);
	hmf_meta_fini(&again);
	hmf_meta_fini(&m);
}

/* The largest dimension a .hmf can hold survives a round trip. */
static void test_meta_format_large_shape_round_trip(void **state)
{
	struct hmf_meta m, again;
	char *out;

	(void)state;
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	m.shape[0] = (1ull << 53) - 1;
	assert_int_equal(hmf_meta_format(&m, &out), 0);
	assert_non_null(strstr(out, "[9007199254740991]"));
	assert_int_equal(hmf_meta_parse(out, strlen(out), WHAT, &again), 0);
	assert_int_equal(again.shape[0], (1ull << 53) - 1);
	free(out);
	hmf_meta_fini(&again);
	m.shape[0] = 12345678901234ull;
	assert_int_equal(hmf_meta_format(&m, &out), 0);
	assert_int_equal(hmf_meta_parse(out, strlen(out), WHAT, &again), 0);
	assert_int_equal(again.shape[0], 12345678901234ull);
	free(out);
	hmf_meta_fini(&again);
	hmf_meta_fini(&m);
}

static void test_meta_format_utf8_values_as_strings(void **state)
{
	struct hmf_meta m;
	char *out;

	(void)state;
	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_int_equal(hmf_meta_attr_set(&m, "unit", "caf\xc3\xa9", 5, 0), 0);
	assert_int_equal(hmf_meta_attr_set(&m, "quote", "a\"b\\c\n", 6, 0), 0);
	assert_int_equal(hmf_meta_attr_set(&m, "empty", "", 0, 0), 0);
	assert_int_equal(hmf_meta_format(&m, &out), 0);
	assert_non_null(strstr(out, "\"unit\":\"caf\xc3\xa9\""));
	assert_non_null(strstr(out, "\"empty\":\"\""));
	assert_null(strstr(out, "base64"));
	free(out);
	hmf_meta_fini(&m);
}

static void test_meta_format_other_bytes_as_base64(void **state)
{
	static const struct {
		const char *val;
		size_t len;
		const char *b64;
	} cases[] = {
		{ "\xff\x00\x01", 3, "/wAB" },
		{ "\x00", 1, "AA==" },
		{ "a\x00", 2, "YQA=" },
		{ "\xfb\xff", 2, "+/8=" },
		{ "\xc3", 1, "ww==" },		       /* truncated UTF-8 */
		{ "\xc0\x80", 2, "wIA=" },	       /* overlong NUL */
		{ "\xed\xa0\x80", 3, "7aCA" },	       /* a surrogate */
		{ "\xf4\x90\x80\x80", 4, "9JCAgA==" }, /* past U+10FFFF */
	};
	struct hmf_meta m;
	char *out, want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hmf_meta_init(&m, HMF_KIND_GROUP);
		assert_int_equal(hmf_meta_attr_set(&m, "k", cases[i].val,
						   cases[i].len, 0),
				 0);
		assert_int_equal(hmf_meta_format(&m, &out), 0);
		snprintf(want, sizeof(want), "\"k\":{\"base64\":\"%s\"}",
			 cases[i].b64);
		if (!strstr(out, want))
			fail_msg("case %zu: '%s' lacks '%s'", i, out, want);
		free(out);
		hmf_meta_fini(&m);
	}
}

/* Every byte value, every length mod 3, survives format and parse. */
static void test_meta_attr_bytes_round_trip(void **state)
{
	unsigned char all[256 + 5];
	struct hmf_meta m, again;
	char key[16], *out;
	size_t len, i;

	(void)state;
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(i * 7 + 3);
	all[0] = 0;
	hmf_meta_init(&m, HMF_KIND_ARRAY);
	for (len = 0; len <= sizeof(all); len++) {
		snprintf(key, sizeof(key), "k%zu", len);
		assert_int_equal(hmf_meta_attr_set(&m, key, all, len, 0), 0);
	}
	assert_int_equal(hmf_meta_attr_set(&m, "nul", "\0\0\0", 3, 0), 0);
	assert_int_equal(hmf_meta_format(&m, &out), 0);
	assert_int_equal(hmf_meta_parse(out, strlen(out), WHAT, &again), 0);
	assert_int_equal(again.nattrs, m.nattrs);
	for (len = 0; len <= sizeof(all); len++) {
		const struct hmf_attr *a;

		snprintf(key, sizeof(key), "k%zu", len);
		a = hmf_meta_attr_get(&again, key);
		assert_non_null(a);
		assert_int_equal(a->len, len);
		assert_memory_equal(a->val, all, len);
		/* NUL-terminated for convenience */
		assert_int_equal(a->val[len], 0);
	}
	assert_int_equal(hmf_meta_attr_get(&again, "nul")->len, 3);
	assert_memory_equal(hmf_meta_attr_get(&again, "nul")->val, "\0\0\0", 3);
	free(out);
	hmf_meta_fini(&again);
	hmf_meta_fini(&m);
}

static void test_meta_attr_set_get_remove(void **state)
{
	const struct hmf_attr *a;
	struct hmf_meta m;

	(void)state;
	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_null(hmf_meta_attr_get(&m, "a"));
	assert_int_equal(hmf_meta_attr_set(&m, "a", "1", 1, 0), 0);
	assert_int_equal(hmf_meta_attr_set(&m, "b", "22", 2, HMF_ATTR_CREATE),
			 0);
	assert_int_equal(hmf_meta_attr_set(&m, "a", "x", 1, HMF_ATTR_CREATE),
			 -EEXIST);
	assert_true(errmsg_has("'a'"));
	assert_int_equal(hmf_meta_attr_set(&m, "c", "x", 1, HMF_ATTR_REPLACE),
			 -ENODATA);
	assert_true(errmsg_has("'c'"));
	assert_null(hmf_meta_attr_get(&m, "c"));
	assert_int_equal(hmf_meta_attr_set(&m, "a", "333", 3, HMF_ATTR_REPLACE),
			 0);
	a = hmf_meta_attr_get(&m, "a");
	assert_non_null(a);
	assert_int_equal(a->len, 3);
	assert_memory_equal(a->val, "333", 4);
	assert_int_equal(m.nattrs, 2);
	assert_int_equal(hmf_meta_attr_remove(&m, "a"), 0);
	assert_int_equal(hmf_meta_attr_remove(&m, "a"), -ENODATA);
	assert_null(hmf_meta_attr_get(&m, "a"));
	assert_non_null(hmf_meta_attr_get(&m, "b"));
	assert_int_equal(m.nattrs, 1);
	hmf_meta_fini(&m);
}

static void test_meta_attr_limits(void **state)
{
	char key[HMF_ATTR_KEY_MAX + 2];
	unsigned char *big;
	struct hmf_meta m;

	(void)state;
	hmf_meta_init(&m, HMF_KIND_GROUP);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(hmf_meta_attr_set(&m, key, "v", 1, 0), -ERANGE);
	assert_true(errmsg_has("247"));
	key[HMF_ATTR_KEY_MAX] = '\0';
	assert_int_equal(hmf_meta_attr_set(&m, key, "v", 1, 0), 0);
	assert_int_equal(hmf_meta_attr_set(&m, "", "v", 1, 0), -EINVAL);
	assert_int_equal(hmf_meta_attr_set(&m, "\xff", "v", 1, 0), -EINVAL);
	assert_int_equal(hmf_meta_attr_set(&m, "a\xc3", "v", 1, 0), -EINVAL);
	big = calloc(1, HMF_ATTR_VALUE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(
		hmf_meta_attr_set(&m, "big", big, HMF_ATTR_VALUE_MAX + 1, 0),
		-E2BIG);
	assert_true(errmsg_has("big"));
	assert_null(hmf_meta_attr_get(&m, "big"));
	assert_int_equal(
		hmf_meta_attr_set(&m, "big", big, HMF_ATTR_VALUE_MAX, 0), 0);
	assert_int_equal(hmf_meta_attr_get(&m, "big")->len, HMF_ATTR_VALUE_MAX);
	/* too big a replacement leaves the old value */
	assert_int_equal(
		hmf_meta_attr_set(&m, "big", big, HMF_ATTR_VALUE_MAX + 1, 0),
		-E2BIG);
	assert_int_equal(hmf_meta_attr_get(&m, "big")->len, HMF_ATTR_VALUE_MAX);
	free(big);
	hmf_meta_fini(&m);
}

static void test_meta_attr_key_check(void **state)
{
	char key[HMF_ATTR_KEY_MAX + 2];

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(hmf_attr_key_check(key), -ERANGE);
	key[HMF_ATTR_KEY_MAX] = '\0';
	assert_int_equal(hmf_attr_key_check(key), 0);
	assert_int_equal(hmf_attr_key_check("a"), 0);
	assert_int_equal(hmf_attr_key_check("hmf.dtype"), 0);
	assert_int_equal(hmf_attr_key_check("\xe2\x82\xac"), 0);
	assert_int_equal(hmf_attr_key_check(""), -EINVAL);
	assert_int_equal(hmf_attr_key_check("\x80"), -EINVAL);
	assert_int_equal(hmf_attr_key_check("\xe2\x82"), -EINVAL);
	assert_int_equal(hmf_attr_key_check("\xc0\xaf"), -EINVAL);
}

static int shape_text(const char *text, int *ndim, uint64_t *shape)
{
	return hmf_meta_parse_shape(text, strlen(text), ndim, shape);
}

static void test_meta_parse_shape_text(void **state)
{
	static const char *const bad[] = {
		"",
		"x",
		"{}",
		"3",
		"[-1]",
		"[1.5]",
		"[\"3\"]",
		"[null]",
		"[[1]]",
		"[1,",
		"[1e300]",
		"[9007199254740992]",
		"[9007199254740993]",
		/* bytes after the value (found by the dtype fuzzer) */
		"[1,2]xyz",
		"[]1",
		/* 33 dimensions */
		("[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		 "1,1,1]"),
	};
	uint64_t shape[HMF_MAX_NDIM];
	size_t i;
	int ndim = -1;

	(void)state;
	assert_int_equal(shape_text("[1000,3]", &ndim, shape), 0);
	assert_int_equal(ndim, 2);
	assert_int_equal(shape[0], 1000);
	assert_int_equal(shape[1], 3);
	assert_int_equal(shape_text(" [ ] ", &ndim, shape), 0);
	assert_int_equal(ndim, 0);
	assert_int_equal(shape_text("[0,9007199254740991]", &ndim, shape), 0);
	assert_int_equal(shape[1], (1ull << 53) - 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ndim = -1;
		if (shape_text(bad[i], &ndim, shape) != -EINVAL)
			fail_msg("shape '%s' was not refused", bad[i]);
		assert_int_equal(ndim, -1);
	}
}

static int layout(const char *text, bool *has, struct hmf_dtype *dtype,
		  int *ndim, uint64_t *shape, char *order)
{
	has[0] = has[1] = has[2] = false;
	return hmf_meta_parse_layout(text, strlen(text), &has[0], dtype,
				     &has[1], ndim, shape, &has[2], order);
}

static void test_meta_parse_layout(void **state)
{
	uint64_t shape[HMF_MAX_NDIM];
	struct hmf_dtype dtype;
	char order = 0;
	bool has[3];
	int ndim = -1;

	(void)state;
	assert_int_equal(layout("{\"dtype\":\"float32\",\"shape\":[4,2],"
				"\"order\":\"F\"}",
				has, &dtype, &ndim, shape, &order),
			 0);
	assert_true(has[0] && has[1] && has[2]);
	assert_string_equal(dtype.str, "<f4");
	assert_int_equal(ndim, 2);
	assert_int_equal(shape[0], 4);
	assert_int_equal(shape[1], 2);
	assert_int_equal(order, 'F');
	assert_int_equal(
		layout("{\"shape\":[7]}", has, &dtype, &ndim, shape, &order),
		0);
	assert_false(has[0]);
	assert_true(has[1]);
	assert_false(has[2]);
	assert_int_equal(shape[0], 7);
	assert_int_equal(layout("{}", has, &dtype, &ndim, shape, &order), 0);
	assert_false(has[0] || has[1] || has[2]);
	assert_int_equal(
		layout("{\"dtype\":\"O\"}", has, &dtype, &ndim, shape, &order),
		-EINVAL);
	assert_int_equal(
		layout("{\"dtype\":4}", has, &dtype, &ndim, shape, &order),
		-EINVAL);
	assert_int_equal(
		layout("{\"order\":\"K\"}", has, &dtype, &ndim, shape, &order),
		-EINVAL);
	assert_int_equal(
		layout("{\"shape\":[-1]}", has, &dtype, &ndim, shape, &order),
		-EINVAL);
	assert_int_equal(layout("{\"color\":\"red\"}", has, &dtype, &ndim,
				shape, &order),
			 -EINVAL);
	assert_true(errmsg_has("color"));
	assert_int_equal(layout("[1]", has, &dtype, &ndim, shape, &order),
			 -EINVAL);
	assert_int_equal(layout("{", has, &dtype, &ndim, shape, &order),
			 -EINVAL);
	assert_int_equal(layout("", has, &dtype, &ndim, shape, &order),
			 -EINVAL);
}

static void test_meta_copy_is_deep(void **state)
{
	struct hmf_meta m, c;

	(void)state;
	assert_int_equal(
		parse("{\"hmf\":1,\"kind\":\"array\",\"dtype\":\"<i2\","
		      "\"shape\":[4],\"npy_header\":\"H\","
		      "\"attributes\":{\"a\":\"b\"},\"x\":1}",
		      &m),
		0);
	assert_int_equal(hmf_meta_copy(&c, &m), 0);
	hmf_meta_fini(&m);
	assert_string_equal(c.dtype.str, "<i2");
	assert_int_equal(c.shape[0], 4);
	assert_string_equal(c.npy_header, "H");
	assert_string_equal(c.attrs[0].key, "a");
	assert_string_equal((char *)c.attrs[0].val, "b");
	assert_string_equal(c.extra, "{\"x\":1}");
	hmf_meta_fini(&c);
}

static void test_meta_load_and_save(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m, again;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse("<u2", &m.dtype), 0);
	m.shape[0] = 5;
	assert_int_equal(hmf_meta_attr_set(&m, "k", "\x01\xff", 2, 0), 0);
	assert_int_equal(hmf_meta_save(fx->dirfd, &m, false), 0);
	assert_int_equal(hmf_meta_save(fx->dirfd, &m, true), 0);
	assert_int_equal(count_tmp(fx->base), 0);
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &again), 0);
	assert_int_equal(again.kind, HMF_KIND_ARRAY);
	assert_string_equal(again.dtype.str, "<u2");
	assert_int_equal(again.shape[0], 5);
	assert_int_equal(again.attrs[0].len, 2);
	assert_memory_equal(again.attrs[0].val, "\x01\xff", 2);
	hmf_meta_fini(&again);
	hmf_meta_fini(&m);
}

static void test_meta_load_missing(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;

	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -ENOENT);
	assert_true(errmsg_has(fx->root));
}

static void test_meta_load_refuses_truncated_json(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;

	write_text(fx->dirfd, HMF_META_FILE, "{\"dtype\": ");
	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -EIO);
	assert_true(errmsg_has(fx->root));
}

static void test_meta_load_refuses_newer_version(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;

	write_text(fx->dirfd, HMF_META_FILE,
		   "{\"hmf\":2,\"kind\":\"group\",\"attributes\":{}}");
	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -ENOTSUP);
	assert_true(errmsg_has(fx->root));
}

static void test_meta_load_refuses_100mb_file(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;
	int fd;

	fd = openat(fx->dirfd, HMF_META_FILE, O_WRONLY | O_CREAT | O_TRUNC,
		    0644);
	assert_true(fd >= 0);
	/* sparse: 100 MB of NULs that cost no disk space */
	assert_int_equal(ftruncate(fd, 100 << 20), 0);
	close(fd);
	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -EIO);
	assert_true(errmsg_has(fx->root));
	/* just over the limit, too */
	fd = openat(fx->dirfd, HMF_META_FILE, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, HMF_META_MAX_BYTES + 1), 0);
	close(fd);
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -EIO);
}

static void test_meta_load_refuses_non_regular(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;
	char target[256];

	/* a directory */
	assert_int_equal(mkdirat(fx->dirfd, HMF_META_FILE, 0755), 0);
	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -EIO);
	assert_true(errmsg_has(fx->root));
	assert_int_equal(unlinkat(fx->dirfd, HMF_META_FILE, AT_REMOVEDIR), 0);
	/* a symlink to a valid .hmf outside ROOT is not followed */
	snprintf(target, sizeof(target), "%s/.hmf", fx->outside);
	write_text(AT_FDCWD, target, "{\"hmf\":1,\"kind\":\"group\"}");
	assert_int_equal(symlinkat(target, fx->dirfd, HMF_META_FILE), 0);
	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -EIO);
	assert_true(errmsg_has(fx->root));
}

/*
 * A FIFO planted as .hmf must not block the loader (the daemon would hang
 * in lookup): it is refused as corrupt at once. alarm() turns a hang into
 * a failed test.
 */
static void test_meta_load_refuses_fifo(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;

	assert_int_equal(mkfifoat(fx->dirfd, HMF_META_FILE, 0644), 0);
	alarm(10);
	hmf_err_clear();
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), -EIO);
	alarm(0);
	assert_true(errmsg_has(fx->root));
}

static void test_meta_save_keeps_unknown_keys(void **state)
{
	struct fixture *fx = *state;
	struct hmf_meta m;
	char *text;

	write_text(fx->dirfd, HMF_META_FILE,
		   "{\"hmf\":1,\"kind\":\"group\",\"attributes\":{},"
		   "\"x-future\":{\"v\":[1,\"two\",null]}}");
	assert_int_equal(hmf_meta_load(fx->dirfd, fx->root, &m), 0);
	assert_int_equal(hmf_meta_attr_set(&m, "a", "b", 1, 0), 0);
	assert_int_equal(hmf_meta_save(fx->dirfd, &m, false), 0);
	hmf_meta_fini(&m);
	text = read_text(fx->dirfd, HMF_META_FILE, NULL);
	assert_non_null(strstr(text, "\"x-future\":{\"v\":[1,\"two\",null]}"));
	assert_non_null(strstr(text, "\"a\":\"b\""));
	free(text);
	assert_int_equal(count_tmp(fx->base), 0);
}

/* A save that fails half-way leaves the old .hmf and no temporary file. */
static void test_meta_save_failure_is_atomic(void **state)
{
	struct fixture *fx = *state;
	struct rlimit old, lim;
	struct hmf_meta m;
	char *before, *after;
	void (*prev)(int);

	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_int_equal(hmf_meta_save(fx->dirfd, &m, false), 0);
	before = read_text(fx->dirfd, HMF_META_FILE, NULL);
	assert_int_equal(
		hmf_meta_attr_set(&m, "a", "a long value to write", 21, 0), 0);
	/* files may not grow past 16 bytes: the write fails with EFBIG */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 16;
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(hmf_meta_save(fx->dirfd, &m, false), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	after = read_text(fx->dirfd, HMF_META_FILE, NULL);
	assert_string_equal(after, before);
	assert_int_equal(count_tmp(fx->base), 0);
	free(before);
	free(after);
	hmf_meta_fini(&m);
}

static void derive(struct hmf_meta *m, const char *dtype, char order, int ndim,
		   const uint64_t *shape)
{
	hmf_meta_init(m, HMF_KIND_ARRAY);
	assert_int_equal(hmf_dtype_parse(dtype, &m->dtype), 0);
	m->order = order;
	m->ndim = ndim;
	memcpy(m->shape, shape, sizeof(*shape) * (size_t)ndim);
}

static void test_meta_derive_shape_exact_size_keeps_shape(void **state)
{
	const uint64_t shape[2] = { 4, 3 };
	struct hmf_meta m;

	(void)state;
	derive(&m, "<i8", 'C', 2, shape);
	assert_false(hmf_meta_derive_shape(&m, 4 * 3 * 8));
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 4);
	assert_int_equal(m.shape[1], 3);
	hmf_meta_fini(&m);
	/* groups have no shape */
	hmf_meta_init(&m, HMF_KIND_GROUP);
	assert_false(hmf_meta_derive_shape(&m, 100));
	hmf_meta_fini(&m);
}

static void test_meta_derive_shape_leading_dimension(void **state)
{
	const uint64_t shape[3] = { 4, 3, 2 };
	struct hmf_meta m;

	(void)state;
	derive(&m, "<i8", 'C', 3, shape);
	/* truncated to 2 rows of 3x2 */
	assert_true(hmf_meta_derive_shape(&m, 2 * 6 * 8));
	assert_int_equal(m.ndim, 3);
	assert_int_equal(m.shape[0], 2);
	assert_int_equal(m.shape[1], 3);
	assert_int_equal(m.shape[2], 2);
	assert_string_equal(m.dtype.str, "<i8");
	/* extended to 10 rows */
	assert_true(hmf_meta_derive_shape(&m, 10 * 6 * 8));
	assert_int_equal(m.shape[0], 10);
	/* empty */
	assert_true(hmf_meta_derive_shape(&m, 0));
	assert_int_equal(m.ndim, 3);
	assert_int_equal(m.shape[0], 0);
	assert_int_equal(m.shape[1], 3);
	hmf_meta_fini(&m);
}

static void test_meta_derive_shape_fortran_order(void **state)
{
	const uint64_t shape[2] = { 3, 4 };
	struct hmf_meta m;

	(void)state;
	/* in F order the last dimension is the slowest: it absorbs growth */
	derive(&m, "<f4", 'F', 2, shape);
	assert_true(hmf_meta_derive_shape(&m, 3 * 7 * 4));
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 3);
	assert_int_equal(m.shape[1], 7);
	assert_int_equal(m.order, 'F');
	assert_true(hmf_meta_derive_shape(&m, 3 * 1 * 4));
	assert_int_equal(m.shape[0], 3);
	assert_int_equal(m.shape[1], 1);
	hmf_meta_fini(&m);
}

static void test_meta_derive_shape_one_d_fallback(void **state)
{
	const uint64_t shape[2] = { 4, 3 };
	struct hmf_meta m;

	(void)state;
	derive(&m, "<i4", 'C', 2, shape);
	/* 5 elements: not whole rows of 3 */
	assert_true(hmf_meta_derive_shape(&m, 5 * 4));
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 5);
	assert_string_equal(m.dtype.str, "<i4");
	hmf_meta_fini(&m);
	/* 0-d keeps its shape only at the exact size */
	derive(&m, "<i4", 'C', 0, shape);
	assert_false(hmf_meta_derive_shape(&m, 4));
	assert_int_equal(m.ndim, 0);
	assert_true(hmf_meta_derive_shape(&m, 12));
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 3);
	hmf_meta_fini(&m);
}

static void test_meta_derive_shape_u1_fallback(void **state)
{
	const uint64_t shape[1] = { 4 };
	struct hmf_meta m;

	(void)state;
	derive(&m, "<i8", 'C', 1, shape);
	/* 13 bytes: not whole int64s; no byte is lost */
	assert_true(hmf_meta_derive_shape(&m, 13));
	assert_string_equal(m.dtype.str, "|u1");
	assert_int_equal(m.dtype.itemsize, 1);
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 13);
	hmf_meta_fini(&m);
	derive(&m, "U3", 'F', 1, shape);
	assert_true(hmf_meta_derive_shape(&m, 14));
	assert_string_equal(m.dtype.str, "|u1");
	assert_int_equal(m.shape[0], 14);
	hmf_meta_fini(&m);
}

static void test_meta_derive_shape_zero_row(void **state)
{
	const uint64_t shape[2] = { 5, 0 };
	struct hmf_meta m;

	(void)state;
	/* rows of 0 bytes cannot absorb 16 bytes: 1-D of the dtype */
	derive(&m, "<i8", 'C', 2, shape);
	assert_false(hmf_meta_derive_shape(&m, 0));
	assert_true(hmf_meta_derive_shape(&m, 16));
	assert_int_equal(m.ndim, 1);
	assert_int_equal(m.shape[0], 2);
	hmf_meta_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_init),
		cmocka_unit_test(test_meta_parse_group),
		cmocka_unit_test(test_meta_parse_array),
		cmocka_unit_test(test_meta_parse_max_ndim),
		cmocka_unit_test(test_meta_parse_refuses_bad_json),
		cmocka_unit_test(test_meta_parse_refuses_trailing_garbage),
		cmocka_unit_test(test_meta_parse_refuses_deep_nesting),
		cmocka_unit_test(test_meta_parse_refuses_wrong_types),
		cmocka_unit_test(test_meta_parse_refuses_bad_shapes),
		cmocka_unit_test(test_meta_parse_refuses_newer_version),
		cmocka_unit_test(test_meta_parse_refuses_bad_attributes),
		cmocka_unit_test(test_meta_parse_refuses_bad_base64),
		cmocka_unit_test(test_meta_parse_keeps_unknown_keys),
		cmocka_unit_test(test_meta_format_array),
		cmocka_unit_test(test_meta_format_large_shape_round_trip),
		cmocka_unit_test(test_meta_format_utf8_values_as_strings),
		cmocka_unit_test(test_meta_format_other_bytes_as_base64),
		cmocka_unit_test(test_meta_attr_bytes_round_trip),
		cmocka_unit_test(test_meta_attr_set_get_remove),
		cmocka_unit_test(test_meta_attr_limits),
		cmocka_unit_test(test_meta_attr_key_check),
		cmocka_unit_test(test_meta_parse_shape_text),
		cmocka_unit_test(test_meta_parse_layout),
		cmocka_unit_test(test_meta_copy_is_deep),
		cmocka_unit_test_setup_teardown(test_meta_load_and_save,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(test_meta_load_missing,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_meta_load_refuses_truncated_json, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_meta_load_refuses_newer_version, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_meta_load_refuses_100mb_file, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_meta_load_refuses_non_regular, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_meta_load_refuses_fifo,
						fx_setup_bare, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_meta_save_keeps_unknown_keys, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_meta_save_failure_is_atomic, fx_setup_bare,
			fx_teardown),
		cmocka_unit_test(test_meta_derive_shape_exact_size_keeps_shape),
		cmocka_unit_test(test_meta_derive_shape_leading_dimension),
		cmocka_unit_test(test_meta_derive_shape_fortran_order),
		cmocka_unit_test(test_meta_derive_shape_one_d_fallback),
		cmocka_unit_test(test_meta_derive_shape_u1_fallback),
		cmocka_unit_test(test_meta_derive_shape_zero_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
