/* SPDX-License-Identifier: MIT */
/*
 * dtype.c - numpy dtype strings: parse numpy's names, aliases and
 * dtype.str forms, and produce the canonical dtype.str that HMF stores.
 * Only fixed-layout dtypes are accepted (no object, no structured ones).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmf/dtype.h"
#include "hmf/error.h"

/* numpy names (and one-letter codes) and the dtype.str they stand for. */
static const struct {
	const char *name;
	const char *str;
} aliases[] = {
	{ "bool", "b1" },     { "bool_", "b1" },      { "bool8", "b1" },
	{ "?", "b1" },	      { "int8", "i1" },	      { "byte", "i1" },
	{ "b", "i1" },	      { "int16", "i2" },      { "short", "i2" },
	{ "h", "i2" },	      { "int32", "i4" },      { "intc", "i4" },
	{ "i", "i4" },	      { "int64", "i8" },      { "int", "i8" },
	{ "int_", "i8" },     { "long", "i8" },	      { "longlong", "i8" },
	{ "intp", "i8" },     { "l", "i8" },	      { "q", "i8" },
	{ "p", "i8" },	      { "uint8", "u1" },      { "ubyte", "u1" },
	{ "B", "u1" },	      { "uint16", "u2" },     { "ushort", "u2" },
	{ "H", "u2" },	      { "uint32", "u4" },     { "uintc", "u4" },
	{ "I", "u4" },	      { "uint64", "u8" },     { "uint", "u8" },
	{ "ulong", "u8" },    { "ulonglong", "u8" },  { "uintp", "u8" },
	{ "L", "u8" },	      { "Q", "u8" },	      { "P", "u8" },
	{ "float16", "f2" },  { "half", "f2" },	      { "e", "f2" },
	{ "float32", "f4" },  { "single", "f4" },     { "f", "f4" },
	{ "float64", "f8" },  { "float", "f8" },      { "double", "f8" },
	{ "float_", "f8" },   { "d", "f8" },	      { "complex64", "c8" },
	{ "csingle", "c8" },  { "F", "c8" },	      { "complex128", "c16" },
	{ "complex", "c16" }, { "cdouble", "c16" },   { "complex_", "c16" },
	{ "D", "c16" },	      { "datetime64", "M8" }, { "timedelta64", "m8" },
	{ "M", "M8" },	      { "m", "m8" },
};

static const char *const time_units[] = { "Y",	"M",  "W",  "D",      "h",
					  "m",	"s",  "ms", "us",     "ns",
					  "ps", "fs", "as", "generic" };

static bool valid_unit(const char *u, size_t len)
{
	size_t i, k = 0;

	/* an optional multiplier, as in "M8[10s]" */
	while (k < len && isdigit((unsigned char)u[k]))
		k++;
	if (k > 0 && u[0] == '0')
		return false;
	for (i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++)
		if (strlen(time_units[i]) == len - k &&
		    strncmp(u + k, time_units[i], len - k) == 0)
			return true;
	return false;
}

static int bad(const char *text, const char *why)
{
	return hmf_err(-EINVAL, "unsupported dtype '%s': %s", text, why);
}

/* Parse "<kind><size>[unit]" after the byte-order character. */
static int parse_core(const char *text, const char *s, char order,
		      struct hmf_dtype *out)
{
	struct hmf_dtype d = { 0 };
	char unit[24] = "";
	unsigned long n = 0;
	const char *p;
	char *end;

	d.kind = s[0];
	p = s + 1;
	if (d.kind == 'a')
		d.kind = 'S';
	if (!strchr("biufcSUVMm", d.kind) || d.kind == '\0')
		return bad(text, "unknown kind");
	if (isdigit((unsigned char)*p)) {
		errno = 0;
		n = strtoul(p, &end, 10);
		if (errno || end == p || n > (1ul << 31))
			return bad(text, "bad item size");
		p = end;
	} else if (strchr("SUV", d.kind)) {
		return bad(text, "flexible dtypes need a size (e.g. S10)");
	}
	if (*p == '[') {
		const char *close = strchr(p, ']');

		/* all of "[unit]" must fit, or the stored str would be cut */
		if ((d.kind != 'M' && d.kind != 'm') || !close ||
		    close[1] != '\0' || (size_t)(close - p + 1) >= sizeof(unit))
			return bad(text, "bad unit");
		if (!valid_unit(p + 1, (size_t)(close - p - 1)))
			return bad(text, "unknown time unit");
		snprintf(unit, sizeof(unit), "%.*s", (int)(close - p + 1), p);
		if (strcmp(unit, "[generic]") == 0)
			unit[0] = '\0';
	} else if (*p != '\0') {
		return bad(text, "trailing characters");
	}

	switch (d.kind) {
	case 'b':
		if (n != 1)
			return bad(text, "bool is 1 byte");
		d.itemsize = 1;
		break;
	case 'i':
	case 'u':
		if (n != 1 && n != 2 && n != 4 && n != 8)
			return bad(text, "integers are 1, 2, 4 or 8 bytes");
		d.itemsize = n;
		break;
	case 'f':
		if (n != 2 && n != 4 && n != 8)
			return bad(text, "floats are 2, 4 or 8 bytes");
		d.itemsize = n;
		break;
	case 'c':
		if (n != 8 && n != 16)
			return bad(text, "complex numbers are 8 or 16 bytes");
		d.itemsize = n;
		break;
	case 'M':
	case 'm':
		if (n != 8)
			return bad(text, "datetime64/timedelta64 are 8 bytes");
		d.itemsize = 8;
		break;
	case 'S':
	case 'V':
		if (n == 0)
			return bad(text, "size 0");
		d.itemsize = n;
		break;
	case 'U':
		if (n == 0)
			return bad(text, "size 0");
		d.itemsize = n * 4;
		break;
	}
	if (d.kind != 'M' && d.kind != 'm' && unit[0])
		return bad(text, "unit on a non-time dtype");

	if (d.itemsize == 1 || d.kind == 'S' || d.kind == 'V')
		d.byteorder = '|';
	else if (order == '>')
		d.byteorder = '>';
	else
		d.byteorder = '<'; /* '<', '=', '|' or none: this host */
	snprintf(d.str, sizeof(d.str), "%c%c%lu%s", d.byteorder, d.kind,
		 d.kind == 'U' ? n : (unsigned long)d.itemsize, unit);
	*out = d;
	return 0;
}

int hmf_dtype_parse(const char *text, struct hmf_dtype *out)
{
	char buf[HMF_DTYPE_STR_MAX + 16];
	const char *s = text;
	char order = '\0';
	size_t i;

	if (strlen(text) >= HMF_DTYPE_STR_MAX)
		return bad(text, "too long");
	if (*s == '<' || *s == '>' || *s == '=' || *s == '|')
		order = *s++;
	/* "datetime64[ns]" -> "M8[ns]" */
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		size_t len = strlen(aliases[i].name);

		if (strncmp(s, aliases[i].name, len) != 0)
			continue;
		if (s[len] == '\0' ||
		    (s[len] == '[' && aliases[i].str[0] != 'b' &&
		     strchr("Mm", aliases[i].str[0]))) {
			snprintf(buf, sizeof(buf), "%s%s", aliases[i].str,
				 s + len);
			return parse_core(text, buf, order, out);
		}
	}
	if (*s == '\0')
		return bad(text, "empty");
	if (strchr("SUVa", *s) && s[1] == '\0')
		return bad(text, "flexible dtypes need a size (e.g. S10)");
	return parse_core(text, s, order, out);
}

bool hmf_dtype_equal(const struct hmf_dtype *a, const struct hmf_dtype *b)
{
	return strcmp(a->str, b->str) == 0;
}

int hmf_dtype_nbytes(const struct hmf_dtype *dtype, int ndim,
		     const uint64_t *shape, uint64_t *nbytes)
{
	uint64_t n = dtype->itemsize;
	int i;

	for (i = 0; i < ndim; i++) {
		/*
		 * .hmf stores shapes as JSON numbers (doubles), exact only
		 * below 2^53 and refused from there on load, even where a 0
		 * elsewhere makes the array empty.
		 */
		if (shape[i] >= (1ull << 53) ||
		    (shape[i] != 0 && n > (uint64_t)INT64_MAX / shape[i]))
			return hmf_err(-EOVERFLOW,
				       "array of dtype %s is too large",
				       dtype->str);
		n *= shape[i];
	}
	if (n > (uint64_t)INT64_MAX)
		return hmf_err(-EOVERFLOW, "array of dtype %s is too large",
			       dtype->str);
	*nbytes = n;
	return 0;
}
