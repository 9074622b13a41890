/* SPDX-License-Identifier: MIT */
/*
 * csv.c - the CSV table reader: RFC 4180 rows, parsed in parallel chunks of
 * a read-only mapping straight into one packed array per wanted column,
 * with pandas.read_csv's type inference (int64, else float64, else
 * |S<longest>) and its float syntax, correctly rounded. Grouping, sorting
 * and writing the arrays are left to the ingest engine.
 *
 * The passes: split the data at row ends (any LF when the file holds no
 * quote, else one sequential quote-aware scan); count the rows of each
 * chunk in parallel, so that each chunk knows its first global row; parse
 * each chunk in parallel into the final arrays. A column is inferred per
 * chunk (int64 -> uint64 -> float64 -> string, converting its own earlier
 * rows in place), the chunks' results are merged, and a last parallel
 * pass converts the chunks that stayed behind and fills string columns.
 *
 * Where this differs from pandas (1.5, C engine) on purpose: a quote
 * inside an unquoted field, text after a closing quote and a row with too
 * few fields are errors (pandas keeps the quote, appends the text, fills
 * NaN); a CR not before LF is data (pandas: a line end); a string column
 * keeps empty fields and NA words as bytes (pandas: NaN); an integer
 * beyond int64 makes the column uint64 (no '-' anywhere) or float64,
 * where pandas may leave the column as objects depending on which row
 * comes first; a table without rows has float64 columns (pandas: object);
 * the INT64_MIN that pandas turns into NaN in an int column with NAs
 * stays a number. pandas also infers bool columns: here they stay |S
 * unless "dtypes" asks for |b1.
 */
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "guard_i.h"
#include "hmf/error.h"
#include "table_i.h"
#ifdef __SIZEOF_INT128__
#include "csv_pow5_i.h"
#endif

#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64
#define HAVE_X87 1
#else
#define HAVE_X87 0
#endif

#define CHUNKS_PER_THREAD 2
/* More chunks than that for big files: progress and stop stay timely. */
#define CHUNK_MAX ((size_t)32 << 20)
/* With automatic threads, small files are not split below this. */
#define AUTO_CHUNK_MIN ((size_t)1 << 20)
#define MSG_MAX 400
/* How much of a bad value a message quotes. */
#define SHOW_MAX 40

/* A field's value as pandas' default converters see it. */
enum val_kind { VAL_INT, VAL_FLOAT, VAL_NA, VAL_STR };

struct val {
	enum val_kind kind;
	bool neg;     /* VAL_INT: written with '-' ("-0" too) */
	bool intovf;  /* an integer beyond 64 bits, read as a float */
	uint64_t mag; /* VAL_INT: the magnitude */
	double d;     /* VAL_FLOAT */
};

/* How a chunk holds a column. */
enum mode {
	M_INT,	 /* int64 */
	M_UINT,	 /* uint64: a value above INT64_MAX and no '-' so far */
	M_DBL,	 /* float64 */
	M_FLT,	 /* float64, "-0" as -0.0 (the string pass, see chunk_col) */
	M_STR,	 /* not numbers: only lengths until the string pass */
	M_FIXED, /* an explicit dtype, parsed and stored as asked */
	M_FILL,	 /* string pass: copy the bytes into the |S array */
};

/* The conversion an explicit dtype asks for. */
enum fixed { FX_BOOL, FX_INT, FX_UINT, FX_F4, FX_F8, FX_STR };

struct csv_col {
	const char *name;
	size_t field; /* index in a row */
	bool infer;
	enum fixed fx;
	struct hmf_dtype dtype; /* explicit, or the inferred one at the end */
	size_t width;		/* bytes per row in buf */
	bool swap;		/* explicit big-endian */
	int64_t imax;		/* FX_INT range: -imax - 1 .. imax */
	uint64_t umax;		/* FX_UINT range */
	unsigned char *buf;
	enum mode final; /* inferred columns, once every chunk is parsed */
};

/* One chunk's view of one column. */
struct chunk_col {
	unsigned char mode; /* enum mode */
	bool neg;	    /* an integer with '-' was stored */
	bool flt;	    /* a float (not an integer, not NA) was seen */
	/*
	 * "-0" was stored as 0 or +0.0. pandas gives +0.0 when a column
	 * holds only integers and NAs (it reads int64, then upcasts), but
	 * -0.0 when it holds a float (it reads every field as a float); in
	 * that case the chunk is parsed again (M_FLT).
	 */
	bool negzero;
	size_t maxlen; /* longest value, unquoted */
};

struct csv_chunk {
	const char *begin, *end; /* end: after an LF, or the end of file */
	uint64_t first_row, nrows;
	uint64_t first_line, nlines; /* physical lines, 1-based */
	bool quotes;		     /* a '"' in it (first count pass) */
	struct chunk_col *cc;	     /* one per column */
	int rc;
	char msg[MSG_MAX];
};

struct csv_ctx {
	const char *file; /* the mapping; a NUL byte follows the data */
	const char *end;  /* end of the file */
	char delim;
	unsigned char cls[256]; /* bytes that end a run of plain field bytes */
	size_t nfields;
	struct csv_col *cols;
	size_t ncols;
	int32_t *colmap; /* per field: index in cols, or -1 */
	struct csv_chunk *chunks;
	size_t nchunks;
	unsigned threads;
	bool quoted; /* some chunk holds a quote: split and count with care */
	const atomic_int *stop;
	struct hmf_table_progress *prog;
	atomic_size_t next;
	atomic_bool failed, stopped;
};

/* A worker's own memory. */
struct scratch {
	char *buf;
	size_t cap;
	int32_t *colmap;      /* string pass: this chunk's columns */
	struct chunk_col *cc; /* string pass: their modes */
};

struct csv_map {
	char *base; /* file bytes, then at least one zero byte */
	size_t len;
	size_t maplen;
};

static pthread_once_t csv_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static bool ld_exact; /* long double has its 64-bit mantissa here */

static void csv_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
#if HAVE_X87
	{
		/* false under emulators (valgrind) that round x87 to 53 bits */
		volatile long double one = 1.0L, eps = LDBL_EPSILON;

		ld_exact = one + eps != one;
	}
#endif
}

/* Numbers */

static const double pow10_d[] = {
	1e0,  1e1,  1e2,  1e3,	1e4,  1e5,  1e6,  1e7,	1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#if HAVE_X87
/* all exact: 5^27 < 2^64 */
static const long double pow10_ld[] = {
	1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,	 1e7L,	1e8L,  1e9L,
	1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
	1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};
#endif

#ifdef __SIZEOF_INT128__
/*
 * @w * 10^@q correctly rounded to a double by the Eisel-Lemire algorithm
 * (D. Lemire, "Number Parsing at a Gigabyte per Second", 2021, as in
 * fast_float): one or two 64 x 64-bit products with a 128-bit power of
 * five, no division. The product is always precise enough (N. Mushtak and
 * D. Lemire, "Fast Number Parsing Without Fallback", 2023). False for a
 * power outside the table, a subnormal or an infinite result: the caller's
 * slower exact paths decide those.
 */
static inline bool eisel_lemire(uint64_t w, long q, double *out)
{
	unsigned __int128 p;
	uint64_t hi, lo, m, h2, bits;
	int lz, upper, shift;
	long e2;

	if (w == 0 || q < CSV_POW5_MIN || q > CSV_POW5_MAX)
		return false;
	lz = __builtin_clzll(w);
	w <<= lz;
	p = (unsigned __int128)w * csv_pow5[q - CSV_POW5_MIN][0];
	hi = (uint64_t)(p >> 64);
	lo = (uint64_t)p;
	/* 55 bits are needed: refine only when the rest could carry */
	if ((hi & 0x1ff) == 0x1ff) {
		p = (unsigned __int128)w * csv_pow5[q - CSV_POW5_MIN][1];
		h2 = (uint64_t)(p >> 64);
		lo += h2;
		hi += h2 > lo;
	}
	upper = (int)(hi >> 63);
	shift = upper + 64 - 52 - 3;
	m = hi >> shift;
	/* floor(q * log2(10)) + 63, in fixed point; the bias of binary64 */
	e2 = ((217706 * q) >> 16) + 63 + upper - lz + 1023;
	if (e2 <= 0)
		return false;
	/* exactly halfway (only possible for these q): round to even */
	if (lo <= 1 && q >= -4 && q <= 23 && (m & 3) == 1 && (m << shift) == hi)
		m &= ~(uint64_t)1;
	m += m & 1;
	m >>= 1;
	if (m >= (uint64_t)2 << 52) {
		m = (uint64_t)1 << 52;
		e2++;
	}
	if (e2 >= 0x7ff)
		return false;
	bits = (m & ~((uint64_t)1 << 52)) | (uint64_t)e2 << 52;
	memcpy(out, &bits, sizeof(bits));
	return true;
}
#endif

/*
 * @w * 10^@e correctly rounded to a double, when that can be done without
 * strtod: Clinger's fast path for a positive power (w and 10^e exact
 * doubles, one rounding), else Eisel-Lemire, else, with x87, the same in
 * 64-bit long double (exact up to 10^27) and a second rounding to double
 * that is only trusted when the long double is not exactly halfway
 * between two doubles.
 */
static bool dec_to_double(uint64_t w, long e, double *out)
{
	if (w == 0) {
		*out = 0.0;
		return true;
	}
	if (w <= (uint64_t)1 << 53 && e >= 0 && e <= 22) {
		*out = (double)w * pow10_d[e];
		return true;
	}
#ifdef __SIZEOF_INT128__
	if (eisel_lemire(w, e, out))
		return true;
#endif
	if (w <= (uint64_t)1 << 53) {
		if (e < 0 && e >= -22) {
			*out = (double)w / pow10_d[-e];
			return true;
		}
		if (e > 22 && e <= 22 + 15) {
			/* 12e30 = 12e8 * 1e22 while the mantissa stays exact */
			uint64_t m = w;
			long k;

			for (k = e - 22; k > 0 && m <= ((uint64_t)1 << 53) / 10;
			     k--)
				m *= 10;
			if (k == 0) {
				*out = (double)m * pow10_d[22];
				return true;
			}
		}
	}
#if HAVE_X87
	if (ld_exact && e >= -27 && e <= 27) {
		long double x = (long double)w;
		uint64_t mant;

		x = e >= 0 ? x * pow10_ld[e] : x / pow10_ld[-e];
		memcpy(&mant, &x, sizeof(mant));
		if ((mant & 0x7ff) != 0x400) {
			*out = (double)x;
			return true;
		}
	}
#endif
	return false;
}

/*
 * Eight digits at a time. A byte is flagged in nondigits() when it is not
 * '0'..'9'; the lowest flag is exact (only bytes above a non-digit can see
 * a borrow), which is all that is used. swar8() is the value of eight
 * digit values (0..9, the first in the lowest byte).
 */
static inline uint64_t load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t nondigits(uint64_t v)
{
	return ((v + 0x4646464646464646ull) | (v - 0x3030303030303030ull)) &
	       0x8080808080808080ull;
}

static inline uint64_t swar8(uint64_t d)
{
	d = d * 10 + (d >> 8);
	return (((d & 0x000000ff000000ffull) * 0x000f424000000064ull) +
		(((d >> 16) & 0x000000ff000000ffull) *
		 0x0000271000000001ull)) >>
	       32;
}

static const uint64_t pow10_u[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

/*
 * The digits at @p appended to *@w (which may wrap: the caller gives up
 * past 19 significant digits), *@nd counting the significant ones (after
 * leading zeros). Reads 8 bytes at a time, so up to 7 bytes past the
 * digits: the callers' buffers have room (see map_file and
 * scratch_reserve). Returns the first byte that is not a digit.
 */
static inline const char *scan_digits(const char *p, uint64_t *w, unsigned *nd)
{
	uint64_t v, d, m;
	unsigned k, lz;

	for (;;) {
		v = load8(p);
		m = nondigits(v);
		d = v - 0x3030303030303030ull;
		k = m ? (unsigned)__builtin_ctzll(m) / 8 : 8;
		if (k == 0)
			return p;
		if (k < 8)
			d <<= 64 - 8 * k; /* the k digits, zeros before */
		if (*nd == 0) {
			/* leading zeros are not significant */
			lz = d ? (unsigned)__builtin_ctzll(d) / 8 - (8 - k) : k;
			*nd = k - lz;
		} else {
			*nd += k;
		}
		*w = *w * pow10_u[k] + swar8(d);
		p += k;
		if (k < 8)
			return p;
	}
}

static inline bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* pandas' isspace_ascii: space, \t, \n, \v, \f, \r */
static inline bool is_space(char c)
{
	return c == ' ' || (unsigned char)(c - '\t') < 5;
}

/*
 * The number at @p in the strict form [+-]digits[.digits][(e|E)[+-]digits]
 * that nearly every numeric CSV uses. Returns the byte after it with @v a
 * VAL_INT or a correctly rounded VAL_FLOAT, or NULL when the slow path
 * must decide (other syntax, over 19 significant digits, or a value that
 * needs strtod). Reads at most up to the first byte that is not part of
 * the number, so the NUL after the mapping bounds it.
 */
static inline const char *fast_num(const char *p, struct val *v)
{
	uint64_t w = 0;
	unsigned dig, nd = 0;
	const char *d0, *f0;
	long e = 0;
	bool neg = false;
	double d;

	if (*p == '-') {
		neg = true;
		p++;
	} else if (*p == '+') {
		p++;
	}
	d0 = p;
	/*
	 * nd counts significant digits (leading zeros do not use up w); past
	 * 19 of them w may have wrapped and the slow path decides.
	 */
	p = scan_digits(p, &w, &nd);
	if (*p != '.' && (*p | 0x20) != 'e') {
		if (p == d0 || nd > 19 || (neg && w > (uint64_t)1 << 63))
			return NULL;
		v->kind = VAL_INT;
		v->neg = neg;
		v->mag = w;
		return p;
	}
	if (*p == '.') {
		f0 = ++p;
		p = scan_digits(p, &w, &nd);
		if (p - f0 > 100000)
			return NULL;
		e = -(long)(p - f0);
		if (f0 - 1 == d0 && p == f0)
			return NULL; /* "." alone */
	} else if (p == d0) {
		return NULL; /* "e5" */
	}
	if (nd > 19)
		return NULL;
	if ((*p | 0x20) == 'e') {
		const char *e0;
		bool eneg = false;
		long x = 0;

		p++;
		if (*p == '-') {
			eneg = true;
			p++;
		} else if (*p == '+') {
			p++;
		}
		e0 = p;
		while ((dig = (unsigned char)(*p - '0')) < 10) {
			if (x < 100000)
				x = x * 10 + dig;
			p++;
		}
		if (p == e0)
			return NULL;
		e += eneg ? -x : x;
	}
	if (!dec_to_double(w, e, &d))
		return NULL;
	v->kind = VAL_FLOAT;
	v->d = neg ? -d : d;
	return p;
}

/* pandas' default na_values (pandas 1.5; "" is handled by the caller) */
static const char *const na_words[] = {
	"#N/A", "#N/A N/A", "#NA",     "-1.#IND", "-1.#QNAN", "-NaN",
	"-nan", "1.#IND",   "1.#QNAN", "<NA>",	  "N/A",      "NA",
	"NULL", "NaN",	    "n/a",     "nan",	  "null",
};

static bool is_na(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return true;
	if (len > 8)
		return false;
	for (i = 0; i < sizeof(na_words) / sizeof(na_words[0]); i++)
		if (strlen(na_words[i]) == len &&
		    memcmp(na_words[i], s, len) == 0)
			return true;
	return false;
}

/*
 * pandas' integer syntax (str_to_int64): spaces, [+-], digits, spaces.
 * Returns 1 with *@neg and *@mag, 0 when not an integer, -1 when an
 * integer that does not fit int64 (negative) or uint64.
 */
static int int_text(const char *s, size_t len, bool *neg, uint64_t *mag)
{
	uint64_t m = 0;
	bool ovf = false;
	size_t i = 0;

	while (i < len && is_space(s[i]))
		i++;
	*neg = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		*neg = s[i++] == '-';
	if (i >= len || !is_digit(s[i]))
		return 0;
	for (; i < len && is_digit(s[i]); i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (m > (UINT64_MAX - d) / 10)
			ovf = true;
		else
			m = m * 10 + d;
	}
	while (i < len && is_space(s[i]))
		i++;
	if (i != len)
		return 0;
	if (ovf || (*neg && m > (uint64_t)1 << 63))
		return -1;
	*mag = m;
	return 1;
}

/*
 * pandas' float syntax (round_trip in its tokenizer.c, then Python's float
 * parser): spaces, [+-], digits, [. digits], [(e|E) [+-] digits], spaces,
 * with at least one mantissa digit and one digit in an exponent. The
 * number without the spaces is [*@num, *@num + *@nlen).
 */
static bool float_text(const char *s, size_t len, const char **num,
		       size_t *nlen)
{
	size_t i = 0, b, nd = 0;

	while (i < len && is_space(s[i]))
		i++;
	b = i;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < len && is_digit(s[i]); i++)
		nd++;
	if (i < len && s[i] == '.')
		for (i++; i < len && is_digit(s[i]); i++)
			nd++;
	if (nd == 0)
		return false;
	if (i < len && (s[i] | 0x20) == 'e') {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return false;
		while (i < len && is_digit(s[i]))
			i++;
	}
	*num = s + b;
	*nlen = i - b;
	while (i < len && is_space(s[i]))
		i++;
	return i == len;
}

/* 1 for pandas' +inf words, -1 for -inf ones (whole field, any case) */
static int inf_word(const char *s, size_t len)
{
	static const char *const words[] = { "inf",	  "+inf", "infinity",
					     "+infinity", "-inf", "-infinity" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == len &&
		    strncasecmp(words[i], s, len) == 0)
			return i < 4 ? 1 : -1;
	return 0;
}

/*
 * Room for @n bytes in the scratch buffer, and 8 more: scan_digits reads
 * 8 bytes at a time.
 */
static int scratch_reserve(struct scratch *sc, size_t n)
{
	char *b;

	n += 8;
	if (n <= sc->cap)
		return 0;
	n = n < 256 ? 256 : n * 2;
	b = realloc(sc->buf, n);
	if (!b)
		return -ENOMEM;
	sc->buf = b;
	sc->cap = n;
	return 0;
}

static void scratch_free(struct scratch *sc)
{
	free(sc->buf);
	free(sc->colmap);
	free(sc->cc);
	memset(sc, 0, sizeof(*sc));
}

/* The number text @num (from float_text) as a correctly rounded double. */
static int text_to_double(struct scratch *sc, const char *num, size_t nlen,
			  double *out)
{
	struct val v;
	const char *q;

	if (scratch_reserve(sc, nlen + 1) < 0)
		return -ENOMEM;
	memcpy(sc->buf, num, nlen);
	/* defined bytes for the 8-byte reads of scan_digits */
	memset(sc->buf + nlen, 0, 8);
	q = fast_num(sc->buf, &v);
	if (q == sc->buf + nlen) {
		if (v.kind == VAL_FLOAT)
			*out = v.d;
		else
			*out = v.neg ? -(double)v.mag : (double)v.mag;
		return 0;
	}
	*out = c_locale ? strtod_l(sc->buf, NULL, c_locale)
			: strtod(sc->buf, NULL);
	return 0;
}

/* The same as a correctly rounded float (never through a double). */
static int text_to_float(struct scratch *sc, const char *num, size_t nlen,
			 float *out)
{
	if (scratch_reserve(sc, nlen + 1) < 0)
		return -ENOMEM;
	memcpy(sc->buf, num, nlen);
	sc->buf[nlen] = '\0';
	*out = c_locale ? strtof_l(sc->buf, NULL, c_locale)
			: strtof(sc->buf, NULL);
	return 0;
}

/*
 * What pandas makes of the unquoted field @s: a missing value, an integer,
 * a float, else a string. pandas reads a positive overflow ("1e400") as
 * not a float (its round_trip flags HUGE_VAL), so the column becomes
 * strings; @explicit_float (a column asked to be float) reads it as inf.
 */
static int classify(struct scratch *sc, const char *s, size_t len,
		    bool explicit_float, struct val *v)
{
	const char *num;
	size_t nlen;
	int r, rc;

	v->intovf = false;
	if (is_na(s, len)) {
		v->kind = VAL_NA;
		return 0;
	}
	r = int_text(s, len, &v->neg, &v->mag);
	if (r == 1) {
		v->kind = VAL_INT;
		return 0;
	}
	v->intovf = r < 0;
	if (float_text(s, len, &num, &nlen)) {
		rc = text_to_double(sc, num, nlen, &v->d);
		if (rc < 0)
			return rc;
		v->kind = v->d == HUGE_VAL && !explicit_float ? VAL_STR
							      : VAL_FLOAT;
		return 0;
	}
	r = inf_word(s, len);
	if (r) {
		v->kind = VAL_FLOAT;
		v->d = r > 0 ? HUGE_VAL : -HUGE_VAL;
		return 0;
	}
	v->kind = VAL_STR;
	return 0;
}

/* @v as a float64 where pandas upcasts an int64 column: "-0" is +0.0 */
static inline double int_double(const struct val *v)
{
	if (v->kind == VAL_INT && v->neg)
		return v->mag ? -(double)v->mag : 0.0;
	return v->kind == VAL_INT     ? (double)v->mag
	       : v->kind == VAL_FLOAT ? v->d
				      : NAN;
}

static inline double val_double(const struct val *v)
{
	if (v->kind == VAL_FLOAT)
		return v->d;
	if (v->kind == VAL_INT)
		return v->neg ? -(double)v->mag : (double)v->mag;
	return NAN;
}

/* Fields and rows */

static int chunk_fail(struct csv_chunk *ch, int rc, uint64_t line,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int chunk_fail(struct csv_chunk *ch, int rc, uint64_t line,
		      const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ch->msg, sizeof(ch->msg),
		     "line %llu: ", (unsigned long long)line);
	va_start(ap, fmt);
	vsnprintf(ch->msg + n, sizeof(ch->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	ch->rc = rc;
	return rc;
}

/* True when @p ends a field: the delimiter, LF, CRLF, or the end of file. */
static inline bool at_term(const struct csv_ctx *c, const char *p)
{
	char ch = *p;

	if (ch == c->delim || ch == '\n')
		return true;
	/* a CR only ends a line before LF (or at the end of the file) */
	if (ch == '\r')
		return p[1] == '\n' || p + 1 >= c->end;
	return p >= c->end;
}

/*
 * The end of the unquoted field at @p (at its terminator). A quote inside
 * sets *@quote (RFC 4180 allows quotes only around a whole field).
 */
static inline const char *scan_plain(const struct csv_ctx *c, const char *p,
				     bool *quote)
{
	for (;;) {
		while (!c->cls[(unsigned char)*p])
			p++;
		if (at_term(c, p))
			return p;
		if (*p == '"') {
			*quote = true;
			return p;
		}
		p++; /* a CR not before LF, or a NUL byte of the data */
	}
}

/*
 * The quoted field at @p (on its opening quote) within @end: returns the
 * byte after the closing quote, or NULL when there is none. *@raw: bytes
 * between the quotes; *@len: the same with each doubled quote once;
 * *@nl: plus the newlines inside.
 */
static const char *scan_quoted(const char *p, const char *end, size_t *raw,
			       size_t *len, uint64_t *nl)
{
	const char *s = ++p, *q;
	size_t dq = 0;
	uint64_t n = 0;

	for (;;) {
		q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			return NULL;
		for (; p < q; p++)
			n += *p == '\n';
		if (q + 1 < end && q[1] == '"') {
			dq++;
			p = q + 2;
			continue;
		}
		*raw = (size_t)(q - s);
		*len = *raw - dq;
		*nl += n;
		return q + 1;
	}
}

/* Copy @raw bytes at @s to @dst, each doubled quote once. */
static void unescape(char *dst, const char *s, size_t raw)
{
	const char *e = s + raw;

	while (s < e) {
		*dst++ = *s;
		s += *s == '"' ? 2 : 1;
	}
}

/*
 * If a blank line starts at @p (spaces and tabs that are not the
 * delimiter, then LF, CRLF or the end), the byte after it, else NULL:
 * pandas skips these (skip_blank_lines), before the header too.
 */
static inline const char *blank_end(const struct csv_ctx *c, const char *p,
				    const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t') && *p != c->delim)
		p++;
	if (p >= end)
		return end;
	if (*p == '\n')
		return p + 1;
	if (*p == '\r' && p + 1 >= end)
		return end;
	if (*p == '\r' && p[1] == '\n')
		return p + 2;
	return NULL;
}

/* A field as the converters get it. */
struct field {
	const char *s; /* first byte (inside the quotes if quoted) */
	size_t raw;    /* bytes from s, doubled quotes still doubled */
	size_t len;    /* bytes once unquoted */
	bool quoted;
};

/* The unquoted bytes of @f, contiguous (in the scratch if need be). */
static int field_bytes(struct scratch *sc, const struct field *f,
		       const char **out)
{
	if (f->raw == f->len) {
		*out = f->s;
		return 0;
	}
	if (scratch_reserve(sc, f->len + 1) < 0)
		return -ENOMEM;
	unescape(sc->buf, f->s, f->raw);
	*out = sc->buf;
	return 0;
}

/*
 * Step over the field at *@pp to its terminator, filling @f. Returns 0 or
 * -EINVAL (recorded in @ch) for a malformed field.
 */
static inline int next_field(const struct csv_ctx *c, struct csv_chunk *ch,
			     const char **pp, uint64_t *line, uint64_t row_line,
			     struct field *f)
{
	const char *p = *pp, *e;
	bool quote = false;

	if (*p != '"') {
		e = scan_plain(c, p, &quote);
		if (quote)
			return chunk_fail(
				ch, -EINVAL, row_line,
				"a quote inside an unquoted field (quote the whole field and double the quote)");
		f->s = p;
		f->raw = f->len = (size_t)(e - p);
		f->quoted = false;
		*pp = e;
		return 0;
	}
	e = scan_quoted(p, ch->end, &f->raw, &f->len, line);
	if (!e)
		return chunk_fail(ch, -EINVAL, row_line,
				  "a quoted field is not closed");
	if (!at_term(c, e))
		return chunk_fail(
			ch, -EINVAL, row_line,
			"a closing quote must be followed by the delimiter or the end of the line");
	f->s = p + 1;
	f->quoted = true;
	*pp = e;
	return 0;
}

static void put(unsigned char *dst, const void *val, size_t n, bool swap)
{
	const unsigned char *s = val;
	size_t i;

	if (!swap) {
		memcpy(dst, val, n);
		return;
	}
	for (i = 0; i < n; i++)
		dst[i] = s[n - 1 - i];
}

/* Store the 64-bit integer @x in the explicit integer column @col. */
static void put_int(const struct csv_col *col, unsigned char *dst, uint64_t x)
{
	uint8_t b = (uint8_t)x;
	uint16_t h = (uint16_t)x;
	uint32_t w = (uint32_t)x;

	switch (col->width) {
	case 1:
		*dst = b;
		break;
	case 2:
		put(dst, &h, 2, col->swap);
		break;
	case 4:
		put(dst, &w, 4, col->swap);
		break;
	default:
		put(dst, &x, 8, col->swap);
	}
}

/* A short excerpt of a bad value for a message. */
static int show_len(size_t len)
{
	return len > SHOW_MAX ? SHOW_MAX : (int)len;
}

/* Switch an inferred column of this chunk to float64, converting its rows. */
static void to_double(const struct csv_chunk *ch, unsigned char *buf,
		      struct chunk_col *cm, uint64_t rows)
{
	unsigned char *p = buf + ch->first_row * 8;
	uint64_t i;
	double d;

	for (i = 0; i < rows; i++, p += 8) {
		if (cm->mode == M_UINT) {
			uint64_t u;

			memcpy(&u, p, 8);
			d = (double)u;
		} else {
			int64_t s;

			memcpy(&s, p, 8);
			d = (double)s;
		}
		memcpy(p, &d, 8);
	}
	cm->mode = M_DBL;
}

/* Store @v in row @row of the inferred column @col, as its mode allows. */
static inline void store_num(const struct csv_chunk *ch,
			     const struct csv_col *col, struct chunk_col *cm,
			     uint64_t row, const struct val *v)
{
	unsigned char *dst = col->buf + (ch->first_row + row) * 8;
	double d;

	cm->flt |= v->kind == VAL_FLOAT;
	switch (cm->mode) {
	case M_INT:
		if (v->kind == VAL_INT) {
			if (v->neg) {
				int64_t x = v->mag == (uint64_t)1 << 63
						    ? INT64_MIN
						    : -(int64_t)v->mag;

				cm->neg = true;
				cm->negzero |= v->mag == 0;
				memcpy(dst, &x, 8);
				return;
			}
			if (v->mag <= INT64_MAX || !cm->neg) {
				/* above INT64_MAX: pandas makes it uint64 */
				if (v->mag > INT64_MAX)
					cm->mode = M_UINT;
				memcpy(dst, &v->mag, 8);
				return;
			}
		} else if (v->kind == VAL_STR) {
			cm->mode = M_STR;
			return;
		}
		to_double(ch, col->buf, cm, row);
		break;
	case M_UINT:
		if (v->kind == VAL_INT && !v->neg) {
			memcpy(dst, &v->mag, 8);
			return;
		}
		if (v->kind == VAL_STR) {
			cm->mode = M_STR;
			return;
		}
		to_double(ch, col->buf, cm, row);
		break;
	case M_DBL:
		if (v->kind == VAL_STR) {
			cm->mode = M_STR;
			return;
		}
		break;
	case M_FLT:
		d = val_double(v);
		memcpy(dst, &d, 8);
		return;
	default:
		return;
	}
	cm->negzero |= v->kind == VAL_INT && v->neg && v->mag == 0;
	d = int_double(v);
	memcpy(dst, &d, 8);
}

/* The integer @v is in the range of the explicit integer column @col. */
static bool int_fits(const struct csv_col *col, const struct val *v)
{
	if (v->kind != VAL_INT)
		return false;
	if (col->fx == FX_UINT)
		return (!v->neg || v->mag == 0) && v->mag <= col->umax;
	/* the most negative value is -(imax + 1) */
	return v->mag <= (uint64_t)col->imax + v->neg;
}

/* Convert and store field @f of the explicit column @col. */
static int store_fixed(struct csv_chunk *ch, struct scratch *sc,
		       const struct csv_col *col, uint64_t row,
		       uint64_t row_line, const struct field *f)
{
	unsigned char *dst = col->buf + (ch->first_row + row) * col->width;
	const char *s, *num;
	struct val v;
	size_t nlen;
	float fl;
	int rc;

	if (col->fx == FX_STR) {
		if (f->len > col->width)
			return chunk_fail(
				ch, -EINVAL, row_line,
				"column '%s': a value of %zu bytes does not fit in %s",
				col->name, f->len, col->dtype.str);
		unescape((char *)dst, f->s, f->raw);
		memset(dst + f->len, 0, col->width - f->len);
		return 0;
	}
	rc = field_bytes(sc, f, &s);
	if (rc < 0)
		return chunk_fail(ch, rc, row_line, "out of memory");
	switch (col->fx) {
	case FX_BOOL:
		if ((f->len == 4 &&
		     (!memcmp(s, "True", 4) || !memcmp(s, "true", 4) ||
		      !memcmp(s, "TRUE", 4))) ||
		    (f->len == 1 && *s == '1')) {
			*dst = 1;
			return 0;
		}
		if ((f->len == 5 &&
		     (!memcmp(s, "False", 5) || !memcmp(s, "false", 5) ||
		      !memcmp(s, "FALSE", 5))) ||
		    (f->len == 1 && *s == '0')) {
			*dst = 0;
			return 0;
		}
		break;
	case FX_INT:
	case FX_UINT:
		rc = classify(sc, s, f->len, false, &v);
		if (rc < 0)
			return chunk_fail(ch, rc, row_line, "out of memory");
		if (v.kind == VAL_NA)
			return chunk_fail(
				ch, -EINVAL, row_line,
				"column '%s': a missing value, which %s cannot hold",
				col->name, col->dtype.str);
		if (v.kind != VAL_INT && !v.intovf)
			break;
		if (!int_fits(col, &v))
			return chunk_fail(
				ch, -EINVAL, row_line,
				"column '%s': '%.*s' is out of range for %s",
				col->name, show_len(f->len), s, col->dtype.str);
		put_int(col, dst, v.neg ? 0 - v.mag : v.mag);
		return 0;
	case FX_F8:
		rc = classify(sc, s, f->len, true, &v);
		if (rc < 0)
			return chunk_fail(ch, rc, row_line, "out of memory");
		if (v.kind == VAL_STR)
			break;
		v.d = val_double(&v);
		put(dst, &v.d, 8, col->swap);
		return 0;
	case FX_F4:
		if (is_na(s, f->len)) {
			fl = NAN;
		} else if (float_text(s, f->len, &num, &nlen)) {
			rc = text_to_float(sc, num, nlen, &fl);
			if (rc < 0)
				return chunk_fail(ch, rc, row_line,
						  "out of memory");
		} else if (inf_word(s, f->len)) {
			fl = inf_word(s, f->len) > 0 ? HUGE_VALF : -HUGE_VALF;
		} else {
			break;
		}
		put(dst, &fl, 4, col->swap);
		return 0;
	default:
		break;
	}
	return chunk_fail(ch, -EINVAL, row_line,
			  "column '%s': '%.*s' is not a valid %s", col->name,
			  show_len(f->len), s, col->dtype.str);
}

/*
 * Store the fast-path number @v in the explicit numeric column @col, if it
 * fits; false sends the field to store_fixed, which explains a misfit.
 */
static inline bool store_fixed_num(const struct csv_chunk *ch,
				   const struct csv_col *col, uint64_t row,
				   const struct val *v)
{
	unsigned char *dst = col->buf + (ch->first_row + row) * col->width;
	double d;

	switch (col->fx) {
	case FX_F8:
		d = val_double(v);
		put(dst, &d, 8, col->swap);
		return true;
	case FX_INT:
	case FX_UINT:
		if (!int_fits(col, v))
			return false;
		put_int(col, dst, v->neg ? 0 - v->mag : v->mag);
		return true;
	default:
		return false;
	}
}

/* Parse the field at *@pp into column @col as @cm says. */
static inline int parse_field(struct csv_chunk *ch, const struct csv_ctx *c,
			      struct scratch *sc, const struct csv_col *col,
			      struct chunk_col *cm, uint64_t row,
			      const char **pp, uint64_t *line,
			      uint64_t row_line)
{
	const char *s, *q;
	struct field f = { 0 };
	struct val v;
	int rc;

	/* the hot path: an unquoted number in an inferred column */
	if (cm->mode <= M_FLT && **pp != '"') {
		q = fast_num(*pp, &v);
		if (q && at_term(c, q)) {
			if ((size_t)(q - *pp) > cm->maxlen)
				cm->maxlen = (size_t)(q - *pp);
			*pp = q;
			store_num(ch, col, cm, row, &v);
			return 0;
		}
	} else if (cm->mode == M_FIXED && **pp != '"') {
		q = fast_num(*pp, &v);
		if (q && at_term(c, q) && store_fixed_num(ch, col, row, &v)) {
			*pp = q;
			return 0;
		}
	}
	rc = next_field(c, ch, pp, line, row_line, &f);
	if (rc < 0)
		return rc;
	switch (cm->mode) {
	case M_INT:
	case M_UINT:
	case M_DBL:
	case M_FLT:
		if (f.len > cm->maxlen)
			cm->maxlen = f.len;
		rc = field_bytes(sc, &f, &s);
		if (rc == 0)
			rc = classify(sc, s, f.len, false, &v);
		if (rc < 0)
			return chunk_fail(ch, rc, row_line, "out of memory");
		store_num(ch, col, cm, row, &v);
		return 0;
	case M_STR:
		if (f.len > cm->maxlen)
			cm->maxlen = f.len;
		return 0;
	case M_FILL: {
		unsigned char *dst =
			col->buf + (ch->first_row + row) * col->width;

		unescape((char *)dst, f.s, f.raw);
		memset(dst + f.len, 0, col->width - f.len);
		return 0;
	}
	default:
		return store_fixed(ch, sc, col, row, row_line, &f);
	}
}

/*
 * Parse the rows of @ch into the columns that @colmap selects, each held
 * as @cc says (pass 2: every wanted column; string pass: some).
 */
static int parse_chunk(const struct csv_ctx *c, struct csv_chunk *ch,
		       struct scratch *sc, const int32_t *colmap,
		       struct chunk_col *cc)
{
	const char *p = ch->begin, *end = ch->end, *q;
	uint64_t line = ch->first_line, row = 0, row_line;
	struct field f = { 0 };
	int32_t ci;
	size_t n;
	int rc;

	while (p < end) {
		q = blank_end(c, p, end);
		if (q) {
			line += q[-1] == '\n';
			p = q;
			continue;
		}
		row_line = line;
		/* only a file that changed under the mapping gets here */
		if (row == ch->nrows)
			return chunk_fail(ch, -EIO, row_line,
					  "the file changed while it was read");
		for (n = 0;; n++) {
			ci = n < c->nfields ? colmap[n] : -1;
			if (ci < 0)
				rc = next_field(c, ch, &p, &line, row_line, &f);
			else
				rc = parse_field(ch, c, sc, &c->cols[ci],
						 &cc[ci], row, &p, &line,
						 row_line);
			if (rc < 0)
				return rc;
			if (*p != c->delim || p >= c->end)
				break;
			p++;
		}
		/* at LF, CRLF, a CR that ends the file, or the end */
		if (*p == '\r')
			p++;
		if (*p == '\n' && p < c->end) {
			p++;
			line++;
		}
		if (n + 1 != c->nfields)
			return chunk_fail(ch, -EINVAL, row_line,
					  "expected %zu fields, found %zu",
					  c->nfields, n + 1);
		row++;
	}
	if (row != ch->nrows)
		return chunk_fail(ch, -EIO, line,
				  "the file changed while it was read");
	return 0;
}

/* Passes */

typedef int (*chunk_fn)(struct csv_ctx *c, struct csv_chunk *ch,
			struct scratch *sc);

struct worker {
	struct csv_ctx *c;
	chunk_fn fn;
	struct scratch sc;
	pthread_t tid;
};

static void work(struct worker *w)
{
	struct csv_ctx *c = w->c;
	size_t i;

	for (;;) {
		if (atomic_load(&c->failed))
			return;
		if (c->stop && atomic_load(c->stop)) {
			atomic_store(&c->stopped, true);
			return;
		}
		/*
		 * Chunks are taken in file order, so when one fails every
		 * earlier chunk has been taken and will finish: the first
		 * error of the file is always found.
		 */
		i = atomic_fetch_add(&c->next, 1);
		if (i >= c->nchunks)
			return;
		if (w->fn(c, &c->chunks[i], &w->sc) < 0)
			atomic_store(&c->failed, true);
	}
}

static void *work_thread(void *arg)
{
	work(arg);
	return NULL;
}

/* Run @fn on every chunk with up to c->threads threads. */
static int run_pass(struct csv_ctx *c, chunk_fn fn, const char *src)
{
	size_t i, n = c->threads < c->nchunks ? c->threads : c->nchunks;
	size_t started;
	struct worker *w;

	if (c->nchunks == 0)
		return 0;
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	atomic_store(&c->next, 0);
	atomic_store(&c->failed, false);
	atomic_store(&c->stopped, false);
	for (i = 0; i < c->nchunks; i++)
		c->chunks[i].rc = 0;
	for (i = 0; i < n; i++) {
		w[i].c = c;
		w[i].fn = fn;
	}
	/* a thread that cannot start leaves its share to the others */
	for (started = 1; started < n; started++)
		if (pthread_create(&w[started].tid, NULL, work_thread,
				   &w[started]) != 0)
			break;
	work(&w[0]);
	for (i = 1; i < started; i++)
		pthread_join(w[i].tid, NULL);
	for (i = 0; i < n; i++)
		scratch_free(&w[i].sc);
	free(w);
	for (i = 0; i < c->nchunks; i++) {
		struct csv_chunk *ch = &c->chunks[i];

		if (ch->rc == -ENOMEM)
			return hmf_err(-ENOMEM, "%s: out of memory", src);
		if (ch->rc < 0)
			return hmf_err(ch->rc, "%s: %s", src, ch->msg);
	}
	if (atomic_load(&c->stopped))
		return hmf_err(-EINTR, "%s: stopped", src);
	return 0;
}

/* Bytes that can start a blank line (blank_end decides). */
static inline bool maybe_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Tallies of count_span. */
struct span_count {
	uint64_t starts, blanks, lines;
	bool inq;
};

/* One quote or LF of count_span at @q. */
static inline bool count_byte(const struct csv_ctx *c, const char *q,
			      const char *end, bool quoted,
			      struct span_count *n)
{
	if (*q == '"') {
		if (!quoted)
			return false;
		n->inq = !n->inq;
		return true;
	}
	n->lines++;
	/* outside quotes, a row may start after the LF */
	if (!n->inq && q + 1 < end) {
		n->starts++;
		n->blanks += maybe_blank(q[1]) && blank_end(c, q + 1, end);
	}
	return true;
}

/*
 * Count the rows (lines that are not blank, a newline in quotes not
 * ending one) and the LFs of [p, end), which starts a row. Without
 * @quoted, returns false at the first quote. Only quotes and LFs are
 * looked at one by one, found 16 bytes at a time where SSE2 exists.
 */
static bool count_span(const struct csv_ctx *c, const char *p, const char *end,
		       bool quoted, uint64_t *rows, uint64_t *lines)
{
	struct span_count n = { 0 };

	if (p < end) {
		n.starts = 1;
		n.blanks = maybe_blank(*p) && blank_end(c, p, end);
	}
#ifdef __SSE2__
	{
		const __m128i lf = _mm_set1_epi8('\n'), qu = _mm_set1_epi8('"');

		for (; end - p >= 16; p += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)p);
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
				_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, qu)));

			for (; m; m &= m - 1)
				if (!count_byte(c, p + __builtin_ctz(m), end,
						quoted, &n))
					return false;
		}
	}
#endif
	for (; p < end; p++)
		if ((*p == '"' || *p == '\n') &&
		    !count_byte(c, p, end, quoted, &n))
			return false;
	*rows = n.starts - n.blanks;
	*lines = n.lines;
	return true;
}

/* Pass 1: rows and lines of a chunk (or only whether it holds a quote). */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/*
 * Map the pages of [begin, end) of the file in one call: a first touch of
 * a file page costs ~2.8 us here, populated ~0.15 us (DESIGN section 8).
 * Only advice: a kernel without it (before 5.14) faults them in as read.
 */
static void populate(const char *begin, const char *end)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)begin & ~(pg - 1);

	if (end > begin)
		madvise((void *)a, (size_t)((uintptr_t)end - a),
			MADV_POPULATE_READ);
}

static int count_chunk(struct csv_ctx *c, struct csv_chunk *ch,
		       struct scratch *sc)
{
	(void)sc;
	/* the first pass over the chunk: its pages are mapped here */
	if (!c->quoted)
		populate(ch->begin, ch->end);
	if (!count_span(c, ch->begin, ch->end, c->quoted, &ch->nrows,
			&ch->nlines))
		ch->quotes = true;
	return 0;
}

/* Pass 2: parse a chunk into the column arrays. */
static int parse_pass(struct csv_ctx *c, struct csv_chunk *ch,
		      struct scratch *sc)
{
	int rc;

	rc = parse_chunk(c, ch, sc, c->colmap, ch->cc);
	if (rc == 0 && c->prog) {
		atomic_fetch_add(&c->prog->rows, ch->nrows);
		atomic_fetch_add(&c->prog->source_bytes_read,
				 (uint64_t)(ch->end - ch->begin));
	}
	return rc;
}

/*
 * Pass 3: bring a chunk's inferred columns to their final type: convert
 * integers to float64 in place, parse again where that would lose "-0",
 * and copy the bytes of string columns.
 */
static int finish_chunk(struct csv_ctx *c, struct csv_chunk *ch,
			struct scratch *sc)
{
	bool scan = false;
	size_t i;

	if (!sc->colmap) {
		sc->colmap = malloc(c->nfields * sizeof(*sc->colmap));
		sc->cc = calloc(c->ncols, sizeof(*sc->cc));
		if (!sc->colmap || !sc->cc)
			return chunk_fail(ch, -ENOMEM, 0, "out of memory");
	}
	for (i = 0; i < c->nfields; i++)
		sc->colmap[i] = -1;
	for (i = 0; i < c->ncols; i++) {
		const struct csv_col *col = &c->cols[i];
		struct chunk_col *cm = &ch->cc[i];

		if (!col->infer)
			continue;
		if (col->final == M_STR ||
		    (col->final == M_FLT && cm->negzero)) {
			sc->colmap[col->field] = (int32_t)i;
			sc->cc[i].mode = col->final == M_STR ? M_FILL : M_FLT;
			scan = true;
		} else if (col->final >= M_DBL && cm->mode != M_DBL) {
			to_double(ch, col->buf, cm, ch->nrows);
		}
	}
	return scan ? parse_chunk(c, ch, sc, sc->colmap, sc->cc) : 0;
}

/* Splitting */

/* Chunks of about @n equal parts of [data, end), cut after an LF. */
static int split_plain(struct csv_ctx *c, const char *data, size_t n)
{
	size_t len = (size_t)(c->end - data), i, k = 0;
	const char *at = data, *t, *nl;

	for (i = 1; i <= n && at < c->end; i++) {
		t = data + (i == n ? len : len / n * i);
		if (t <= at)
			continue;
		nl = t < c->end ? memchr(t - 1, '\n', (size_t)(c->end - t + 1))
				: NULL;
		t = nl ? nl + 1 : c->end;
		c->chunks[k].begin = at;
		c->chunks[k++].end = t;
		at = t;
	}
	c->nchunks = k;
	return 0;
}

/*
 * The same where quotes may hide newlines: one sequential scan keeps the
 * quote parity (a doubled quote flips it twice) and cuts after the first
 * LF outside quotes at or after each target.
 */
static int split_quoted(struct csv_ctx *c, const char *data, size_t n)
{
	size_t len = (size_t)(c->end - data), i, k = 0;
	const char *at = data, *pos = data, *t, *q, *nl;
	bool inq = false;

	for (i = 1; i <= n && at < c->end; i++) {
		t = data + (i == n ? len : len / n * i);
		if (t <= at)
			continue;
		/* the parity up to t */
		while (pos < t) {
			q = memchr(pos, '"', (size_t)(t - pos));
			if (!q) {
				pos = t;
				break;
			}
			inq = !inq;
			pos = q + 1;
		}
		/* the first LF outside quotes from there */
		for (;;) {
			if (inq) {
				q = memchr(pos, '"', (size_t)(c->end - pos));
				if (!q) {
					pos = c->end;
					break;
				}
				inq = false;
				pos = q + 1;
				continue;
			}
			nl = memchr(pos, '\n', (size_t)(c->end - pos));
			q = memchr(pos, '"',
				   (size_t)((nl ? nl : c->end) - pos));
			if (!q) {
				pos = nl ? nl + 1 : c->end;
				break;
			}
			inq = true;
			pos = q + 1;
		}
		if (i == n)
			pos = c->end;
		c->chunks[k].begin = at;
		c->chunks[k++].end = pos;
		at = pos;
	}
	c->nchunks = k;
	return 0;
}

/* Setup */

static int map_file(int fd, const char *src, struct csv_map *m)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *base, *at;
	int rc;

	if (fstat(fd, &st) < 0)
		return hmf_err(-errno, "%s: cannot stat", src);
	if (!S_ISREG(st.st_mode))
		return hmf_err(-EINVAL, "%s: not a regular file", src);
	m->len = (size_t)st.st_size;
	/*
	 * The parser stops at a NUL byte instead of checking for the end
	 * at every byte, so the data must be followed by one: reserve a
	 * page more than the file and map the file over its start (the rest
	 * of a file's last page reads as zeros, and so does the spare page).
	 */
	m->maplen = (m->len + (size_t)pg - 1) / (size_t)pg * (size_t)pg +
		    (size_t)pg;
	base = mmap(NULL, m->maplen, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (base == MAP_FAILED)
		return hmf_err(-ENOMEM, "%s: cannot map %zu bytes", src,
			       m->maplen);
	if (m->len) {
		at = mmap(base, m->len, PROT_READ, MAP_SHARED | MAP_FIXED, fd,
			  0);
		if (at == MAP_FAILED) {
			rc = -errno;
			munmap(base, m->maplen);
			return hmf_err(rc, "%s: cannot map the file", src);
		}
		madvise(base, m->len, MADV_SEQUENTIAL);
	}
	m->base = base;
	return 0;
}

static int check_opts(const struct hmf_table_opts *o, char *delim)
{
	char d = o && o->delimiter ? o->delimiter : ',';

	/* these would be read as part of a number or a quoted field */
	if (d == '"' || d == '\n' || d == '\r' || d == '.' || d == '+' ||
	    d == '-' || (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') ||
	    (d >= 'A' && d <= 'Z'))
		return hmf_err(-EINVAL, "'%c' cannot be the CSV delimiter", d);
	*delim = d;
	return 0;
}

static void ctx_init(struct csv_ctx *c, const struct csv_map *m, char delim)
{
	memset(c, 0, sizeof(*c));
	c->file = m->base;
	c->end = m->base + m->len;
	c->delim = delim;
	c->cls[(unsigned char)delim] = 1;
	c->cls['\n'] = 1;
	c->cls['\r'] = 1;
	c->cls['"'] = 1;
	c->cls[0] = 1;
}

static int add_name(char ***names, size_t *n, const char *s, size_t len,
		    size_t raw)
{
	char **v, *name;

	v = realloc(*names, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*names = v;
	name = malloc(len + 1);
	if (!name)
		return -ENOMEM;
	unescape(name, s, raw);
	name[len] = '\0';
	v[(*n)++] = name;
	return 0;
}

/*
 * The first row (after a UTF-8 BOM and blank lines): its fields as the
 * column names, mangled as pandas does, or "0".."k-1" when there is no
 * header. *@data and *@line: where the data rows start and their line.
 */
static int read_header(struct csv_ctx *c, const char *src, bool header,
		       char ***out, size_t *count, const char **data,
		       uint64_t *line)
{
	const char *p = c->file, *q;
	struct csv_chunk row = { .end = c->end };
	char **names = NULL;
	size_t n = 0, i;
	uint64_t ln = 1, first;
	struct field f = { 0 };
	int rc;

	if (c->end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < c->end && (q = blank_end(c, p, c->end))) {
		ln += q[-1] == '\n';
		p = q;
	}
	if (p >= c->end)
		return hmf_err(-EINVAL, "%s: no rows (the file is empty)", src);
	first = ln;
	*data = p;
	for (;;) {
		rc = next_field(c, &row, &p, &ln, first, &f);
		if (rc < 0) {
			rc = hmf_err(rc, "%s: %s", src, row.msg);
			goto out_free;
		}
		/*
		 * An unquoted CR inside a name: the lines end in CR alone
		 * (classic Mac OS), which RFC 4180 does not know and which
		 * would read as one row. Say so instead.
		 */
		if (header && !f.quoted && memchr(f.s, '\r', f.len)) {
			rc = hmf_err(
				-EINVAL,
				"%s: line %llu: a CR inside a column name (lines must end in LF or CRLF)",
				src, (unsigned long long)first);
			goto out_free;
		}
		rc = add_name(&names, &n, f.s, f.len, f.raw);
		if (rc < 0)
			goto out_free;
		if (*p != c->delim || p >= c->end)
			break;
		p++;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n' && p < c->end) {
		p++;
		ln++;
	}
	if (header) {
		rc = table_mangle_names(names, n);
		if (rc < 0)
			goto out_free;
		*data = p;
		*line = ln;
	} else {
		for (i = 0; i < n; i++) {
			free(names[i]);
			names[i] = malloc(24);
			if (!names[i]) {
				rc = -ENOMEM;
				goto out_free;
			}
			snprintf(names[i], 24, "%zu", i);
		}
		*line = first;
	}
	if (n >= INT32_MAX) {
		rc = hmf_err(-EINVAL, "%s: too many columns", src);
		goto out_free;
	}
	*out = names;
	*count = n;
	return 0;
out_free:
	hmf_table_names_free(names, n);
	return rc;
}

int hmf_csv_names(int fd, const struct hmf_table_opts *o, char ***names,
		  size_t *count)
{
	char src[TABLE_SRC_MAX], delim = ',';
	struct csv_ctx c;
	struct csv_map m;
	const char *data;
	uint64_t line;
	int rc;

	table_source_name(fd, src, sizeof(src));
	rc = check_opts(o, &delim);
	if (rc < 0)
		return rc;
	rc = map_file(fd, src, &m);
	if (rc < 0)
		return rc;
	ctx_init(&c, &m, delim);
	rc = read_header(&c, src, o ? o->header : true, names, count, &data,
			 &line);
	munmap(m.base, m.maplen);
	return rc;
}

/* The columns to parse, their dtypes, and the field -> column map. */
static int plan_columns(struct csv_ctx *c, char **names, const size_t *idx,
			size_t nidx, const struct hmf_table_opts *o,
			const char *src)
{
	size_t i, j;
	int32_t k;
	int rc;

	c->colmap = malloc((c->nfields ? c->nfields : 1) * sizeof(*c->colmap));
	c->cols = calloc(nidx ? nidx : 1, sizeof(*c->cols));
	if (!c->colmap || !c->cols)
		return -ENOMEM;
	for (i = 0; i < c->nfields; i++)
		c->colmap[i] = -1;
	for (i = 0; i < nidx; i++) {
		if (c->colmap[idx[i]] >= 0)
			continue; /* wanted twice: parsed once */
		k = (int32_t)c->ncols++;
		c->colmap[idx[i]] = k;
		c->cols[k].name = names[idx[i]];
		c->cols[k].field = idx[i];
		c->cols[k].infer = true;
		c->cols[k].width = 8;
	}
	for (i = 0; o && i < o->ndtypes; i++) {
		const struct hmf_dtype *d = &o->dtypes[i];
		struct csv_col *col;

		for (j = 0; j < c->nfields; j++)
			if (strcmp(names[j], o->dtype_cols[i]) == 0)
				break;
		if (j == c->nfields)
			return hmf_err(
				-EINVAL,
				"%s: a dtype is given for '%s', which is not a column",
				src, o->dtype_cols[i]);
		if (c->colmap[j] < 0)
			continue;
		col = &c->cols[c->colmap[j]];
		col->infer = false;
		col->dtype = *d;
		col->width = d->itemsize;
		col->swap = d->byteorder == '>';
		rc = 0;
		switch (d->kind) {
		case 'b':
			col->fx = FX_BOOL;
			break;
		case 'i':
			col->fx = FX_INT;
			col->imax = (int64_t)(((uint64_t)1
					       << (8 * d->itemsize - 1)) -
					      1);
			break;
		case 'u':
			col->fx = FX_UINT;
			col->umax = d->itemsize == 8 ? UINT64_MAX
						     : ((uint64_t)1
							<< (8 * d->itemsize)) -
							       1;
			break;
		case 'f':
			if (d->itemsize == 4)
				col->fx = FX_F4;
			else if (d->itemsize == 8)
				col->fx = FX_F8;
			else
				rc = -EINVAL;
			break;
		case 'S':
			col->fx = FX_STR;
			col->swap = false;
			break;
		default:
			rc = -EINVAL;
		}
		if (rc < 0 || d->itemsize == 0 ||
		    (d->kind != 'S' && d->itemsize > 8))
			return hmf_err(
				-EINVAL,
				"%s: column '%s': CSV columns cannot be %s (use b1, i1-i8, u1-u8, f4, f8 or S<n>)",
				src, col->name, d->str);
	}
	return 0;
}

/* Split the data rows and count them (pass 1); sets each chunk's start. */
static int split_and_count(struct csv_ctx *c, const char *data,
			   const struct hmf_table_opts *o, const char *src,
			   uint64_t first_line, uint64_t *nrows)
{
	size_t len = (size_t)(c->end - data), n, i;
	uint64_t rows = 0, line = first_line;
	int rc;

	c->threads = table_threads(o);
	n = (size_t)c->threads * CHUNKS_PER_THREAD;
	if (len / CHUNK_MAX + 1 > n)
		n = len / CHUNK_MAX + 1;
	if (!(o && o->threads) && len / AUTO_CHUNK_MIN + 1 < n)
		n = len / AUTO_CHUNK_MIN + 1;
	if (n > len)
		n = len ? len : 1;
	c->chunks = calloc(n, sizeof(*c->chunks));
	if (!c->chunks)
		return -ENOMEM;
	split_plain(c, data, n);
	rc = run_pass(c, count_chunk, src);
	if (rc < 0)
		return rc;
	for (i = 0; i < c->nchunks; i++)
		c->quoted |= c->chunks[i].quotes;
	if (c->quoted) {
		memset(c->chunks, 0, n * sizeof(*c->chunks));
		split_quoted(c, data, n);
		rc = run_pass(c, count_chunk, src);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < c->nchunks; i++) {
		c->chunks[i].first_row = rows;
		c->chunks[i].first_line = line;
		rows += c->chunks[i].nrows;
		line += c->chunks[i].nlines;
	}
	*nrows = rows;
	return 0;
}

/*
 * A column array of @size bytes, released with free(). Large ones are
 * aligned to 2 MiB and marked for transparent huge pages: filling fresh
 * 4 KiB pages costs one fault each (tens of microseconds on our VMs, more
 * than parsing the rows), a huge page one fault per 512 of them.
 */
static void *col_alloc(size_t size)
{
	const size_t huge = (size_t)2 << 20;
	void *p;

	if (size < 2 * huge)
		return malloc(size ? size : 1);
	if (posix_memalign(&p, huge, size) != 0)
		return NULL;
	madvise(p, size / huge * huge, MADV_HUGEPAGE);
	return p;
}

/* Merge the chunks' views of each inferred column into its final dtype. */
static int settle_columns(struct csv_ctx *c, uint64_t nrows, const char *src,
			  bool *finish)
{
	static const char *const strs[] = { [M_INT] = "<i8",
					    [M_UINT] = "<u8",
					    [M_DBL] = "<f8",
					    [M_FLT] = "<f8" };
	char str[HMF_DTYPE_STR_MAX];
	size_t i, j, maxlen;
	bool any_str, any_dbl, any_uint, any_neg, any_flt;
	struct csv_col *col;

	*finish = false;
	for (i = 0; i < c->ncols; i++) {
		col = &c->cols[i];
		if (!col->infer)
			continue;
		any_str = any_dbl = any_uint = any_neg = any_flt = false;
		maxlen = 0;
		for (j = 0; j < c->nchunks; j++) {
			const struct chunk_col *cm = &c->chunks[j].cc[i];

			any_str |= cm->mode == M_STR;
			any_dbl |= cm->mode == M_DBL;
			any_uint |= cm->mode == M_UINT;
			any_neg |= cm->neg;
			any_flt |= cm->flt;
			if (cm->maxlen > maxlen)
				maxlen = cm->maxlen;
		}
		if (any_str)
			col->final = M_STR;
		else if (any_dbl || (any_uint && any_neg) || nrows == 0)
			col->final = M_DBL; /* an empty column: like numpy */
		else if (any_uint)
			col->final = M_UINT;
		else
			col->final = M_INT;
		if (col->final == M_DBL && any_flt)
			col->final = M_FLT;
		if (col->final == M_STR) {
			unsigned char *buf;

			if (maxlen == 0)
				maxlen = 1;
			if (nrows > SIZE_MAX / maxlen)
				return hmf_err(
					-ENOMEM,
					"%s: column '%s' would need %llu x %zu bytes",
					src, col->name,
					(unsigned long long)nrows, maxlen);
			free(col->buf);
			col->buf = NULL;
			buf = col_alloc(nrows * maxlen);
			if (!buf)
				return hmf_err(-ENOMEM,
					       "%s: no memory for column '%s'",
					       src, col->name);
			col->buf = buf;
			col->width = maxlen;
			snprintf(str, sizeof(str), "|S%zu", maxlen);
		} else {
			snprintf(str, sizeof(str), "%s", strs[col->final]);
		}
		if (hmf_dtype_parse(str, &col->dtype) < 0)
			return hmf_err(-EINVAL, "%s: column '%s': bad dtype %s",
				       src, col->name, str);
		/* only these leave work for the last pass */
		if (col->final == M_STR || col->final == M_DBL ||
		    col->final == M_FLT)
			*finish = true;
	}
	return 0;
}

static void ctx_free(struct csv_ctx *c)
{
	size_t i;

	for (i = 0; c->chunks && i < c->nchunks; i++)
		free(c->chunks[i].cc);
	free(c->chunks);
	for (i = 0; c->cols && i < c->ncols; i++)
		free(c->cols[i].buf);
	free(c->cols);
	free(c->colmap);
}

/* Hand the column arrays over to @t, in the order of @idx. */
static int build_table(struct csv_ctx *c, char **names, const size_t *idx,
		       size_t nidx, uint64_t nrows, struct hmf_table *t)
{
	void **bufs;
	size_t i;
	int rc;

	bufs = malloc((c->ncols ? c->ncols : 1) * sizeof(*bufs));
	if (!bufs)
		return -ENOMEM;
	rc = table_set_columns(t, names, idx, nidx);
	if (rc < 0) {
		free(bufs);
		return rc;
	}
	for (i = 0; i < nidx; i++) {
		const struct csv_col *col = &c->cols[c->colmap[idx[i]]];

		t->cols[i].dtype = col->dtype;
		t->cols[i].data = col->buf;
		t->cols[i].stride = col->width;
	}
	for (i = 0; i < c->ncols; i++) {
		bufs[i] = c->cols[i].buf;
		c->cols[i].buf = NULL;
	}
	t->nrows = nrows;
	t->bufs = bufs;
	t->nbufs = c->ncols;
	return 0;
}

int hmf_csv_read(int fd, const struct hmf_table_opts *o,
		 struct hmf_table_progress *p, struct hmf_table *out)
{
	char src[TABLE_SRC_MAX], delim = ',', **names = NULL;
	size_t nnames = 0, *idx = NULL, nidx, i;
	atomic_bool changed = false;
	uint64_t nrows, line;
	struct csv_ctx c;
	struct csv_map m;
	const char *data;
	unsigned guard;
	bool finish;
	int rc;

	pthread_once(&csv_once, csv_init);
	table_source_name(fd, src, sizeof(src));
	rc = check_opts(o, &delim);
	if (rc < 0)
		return rc;
	rc = map_file(fd, src, &m);
	if (rc < 0)
		return rc;
	/* the file may shrink under the mapping: zeros, then an error */
	guard = ingest_guard_add(m.base, m.len, &changed);
	ctx_init(&c, &m, delim);
	c.stop = o ? o->stop : NULL;
	c.prog = p;
	if (p)
		atomic_store(&p->source_bytes, m.len);
	rc = read_header(&c, src, o ? o->header : true, &names, &nnames, &data,
			 &line);
	if (rc < 0)
		goto out_unmap;
	c.nfields = nnames;
	if (p)
		atomic_fetch_add(&p->source_bytes_read,
				 (uint64_t)(data - c.file));
	rc = table_resolve(names, nnames, o, src, &idx, &nidx);
	if (rc < 0)
		goto out_names;
	rc = plan_columns(&c, names, idx, nidx, o, src);
	if (rc < 0)
		goto out_ctx;
	rc = split_and_count(&c, data, o, src, line, &nrows);
	if (rc < 0)
		goto out_ctx;

	/* one array per column, in final size: no copy of the file */
	for (i = 0; i < c.ncols; i++) {
		struct csv_col *col = &c.cols[i];

		if (nrows > SIZE_MAX / col->width) {
			rc = hmf_err(-ENOMEM, "%s: too many rows", src);
			goto out_ctx;
		}
		col->buf = col_alloc(nrows * col->width);
		if (!col->buf) {
			rc = hmf_err(-ENOMEM, "%s: no memory for column '%s'",
				     src, col->name);
			goto out_ctx;
		}
	}
	for (i = 0; i < c.nchunks; i++) {
		c.chunks[i].cc =
			calloc(c.ncols ? c.ncols : 1, sizeof(*c.chunks[i].cc));
		if (!c.chunks[i].cc) {
			rc = -ENOMEM;
			goto out_ctx;
		}
		/* explicit columns never change mode; the rest start as int64 */
		for (size_t k = 0; k < c.ncols; k++)
			c.chunks[i].cc[k].mode =
				c.cols[k].infer ? M_INT : M_FIXED;
	}
	rc = run_pass(&c, parse_pass, src);
	if (rc < 0)
		goto out_ctx;
	rc = settle_columns(&c, nrows, src, &finish);
	if (rc < 0)
		goto out_ctx;
	if (finish) {
		rc = run_pass(&c, finish_chunk, src);
		if (rc < 0)
			goto out_ctx;
	}
	rc = build_table(&c, names, idx, nidx, nrows, out);
out_ctx:
	ctx_free(&c);
	free(idx);
out_names:
	hmf_table_names_free(names, nnames);
out_unmap:
	ingest_guard_remove(guard);
	munmap(m.base, m.maplen);
	if (atomic_load(&changed)) {
		if (rc == 0)
			hmf_table_fini(out);
		if (o && o->source_changed)
			atomic_store(o->source_changed, true);
		rc = hmf_err(-EIO,
			     "%s: the file changed (shrank) while it was read",
			     src);
	}
	return rc;
}
