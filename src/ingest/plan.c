/* SPDX-License-Identifier: MIT */
/*
 * plan.c - what each ingested array will be: numpy's type promotion for
 * several columns, and the conversion of one value between dtypes. Kept
 * apart from the engine so that the rules can be tested on their own.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hmf/error.h"
#include "plan_i.h"

static bool is_num(char k)
{
	return k == 'b' || k == 'i' || k == 'u' || k == 'f' || k == 'c';
}

/* The float size that holds every value of an integer of @size bytes. */
static size_t float_for_int(size_t size)
{
	return size <= 1 ? 2 : size == 2 ? 4 : 8;
}

static int make(char kind, size_t size, struct hmf_dtype *out)
{
	char s[32];

	snprintf(s, sizeof(s), "<%c%zu", kind, size);
	return hmf_dtype_parse(s, out);
}

int plan_promote(const struct hmf_dtype *a, const struct hmf_dtype *b,
		 struct hmf_dtype *out)
{
	char ka = a->kind, kb = b->kind;
	size_t sa = a->itemsize, sb = b->itemsize, s;

	if (hmf_dtype_equal(a, b)) {
		*out = *a;
		return 0;
	}
	if (!is_num(ka) || !is_num(kb)) {
		if (ka == kb && (ka == 'S' || ka == 'U'))
			return hmf_dtype_parse(sa >= sb ? a->str : b->str, out);
		if (ka == kb && (ka == 'M' || ka == 'm') &&
		    strcmp(a->str + 1, b->str + 1) == 0)
			return make_native(a, out);
		return hmf_err(
			-EINVAL,
			"cannot put columns of dtypes %s and %s in one array (strings and numbers do not mix)",
			a->str, b->str);
	}
	/* order the pair so that ka <= kb in b < i,u < f < c */
	if (ka == 'b')
		return kb == 'b' ? make('b', 1, out) : make_native(b, out);
	if (kb == 'b')
		return make_native(a, out);
	if ((ka == 'f' || ka == 'c') && (kb == 'i' || kb == 'u'))
		return plan_promote(b, a, out);
	if (ka == 'c' && kb == 'f')
		return plan_promote(b, a, out);
	if (ka == kb && (ka == 'i' || ka == 'u' || ka == 'f' || ka == 'c'))
		return make(ka, sa > sb ? sa : sb, out);
	if ((ka == 'i' && kb == 'u') || (ka == 'u' && kb == 'i')) {
		size_t si = ka == 'i' ? sa : sb, su = ka == 'u' ? sa : sb;

		if (si > su)
			return make('i', si, out);
		if (su < 8)
			return make('i', su * 2, out);
		return make('f', 8, out);
	}
	if ((ka == 'i' || ka == 'u') && kb == 'f') {
		s = float_for_int(sa);
		return make('f', s > sb ? s : sb, out);
	}
	if ((ka == 'i' || ka == 'u') && kb == 'c') {
		s = 2 * float_for_int(sa);
		s = s < 8 ? 8 : s;
		return make('c', s > sb ? s : sb, out);
	}
	/* f with c */
	s = 2 * sa;
	return make('c', s > sb ? s : sb, out);
}

int make_native(const struct hmf_dtype *d, struct hmf_dtype *out)
{
	char s[HMF_DTYPE_STR_MAX];

	snprintf(s, sizeof(s), "%s", d->str);
	if (s[0] == '>')
		s[0] = '<';
	return hmf_dtype_parse(s, out);
}

static void swap_bytes(unsigned char *p, size_t n)
{
	size_t i;
	unsigned char t;

	for (i = 0; i < n / 2; i++) {
		t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

/* IEEE binary16, by hand: not every compiler here has _Float16. */
static double half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f;
	double m = h & 0x3ff, x;

	if (e == 0)
		x = ldexp(m, -24);
	else if (e == 31)
		x = m ? NAN : INFINITY;
	else
		x = ldexp(m + 1024, e - 25);
	return (h & 0x8000) ? -x : x;
}

static uint16_t double_to_half(double x)
{
	uint16_t sign = signbit(x) ? 0x8000 : 0;
	double a = fabs(x), m;
	int e;

	if (isnan(x))
		return 0x7e00;
	if (a >= 65520.0) /* rounds to infinity */
		return sign | 0x7c00;
	if (a < ldexp(1, -14)) {
		/* subnormal: units of 2^-24, rounded to nearest even */
		return sign | (uint16_t)nearbyint(ldexp(a, 24));
	}
	m = frexp(a, &e);	     /* a = m * 2^e, m in [0.5, 1) */
	m = nearbyint(ldexp(m, 11)); /* 11 significant bits */
	if (m == 2048) {
		m = 1024;
		e++;
	}
	return sign | (uint16_t)((e + 14) << 10) | ((uint16_t)m & 0x3ff);
}

/* Read a numeric value into the widest forms. */
static void load(const struct hmf_dtype *d, const unsigned char *src,
		 struct plan_value *v)
{
	unsigned char b[16];
	size_t n = d->itemsize;

	memcpy(b, src, n);
	if (d->byteorder == '>' && d->kind == 'c') {
		swap_bytes(b, n / 2);
		swap_bytes(b + n / 2, n / 2);
	} else if (d->byteorder == '>') {
		swap_bytes(b, n);
	}
	v->im = 0;
	switch (d->kind) {
	case 'b':
		v->i = b[0] != 0;
		v->f = (double)v->i;
		v->is_int = true;
		break;
	case 'i':
		if (n == 1)
			v->i = (int8_t)b[0];
		else if (n == 2)
			v->i = *(int16_t *)(void *)b;
		else if (n == 4)
			v->i = *(int32_t *)(void *)b;
		else
			v->i = *(int64_t *)(void *)b;
		v->f = (double)v->i;
		v->is_int = true;
		v->is_unsigned = false;
		break;
	case 'u':
		if (n == 1)
			v->u = b[0];
		else if (n == 2)
			v->u = *(uint16_t *)(void *)b;
		else if (n == 4)
			v->u = *(uint32_t *)(void *)b;
		else
			v->u = *(uint64_t *)(void *)b;
		v->i = (int64_t)v->u;
		v->f = (double)v->u;
		v->is_int = true;
		v->is_unsigned = true;
		break;
	case 'f':
		if (n == 2)
			v->f = half_to_double(*(uint16_t *)(void *)b);
		else if (n == 4)
			v->f = *(float *)(void *)b;
		else
			v->f = *(double *)(void *)b;
		v->is_int = false;
		break;
	case 'c':
		if (n == 8) {
			v->f = ((float *)(void *)b)[0];
			v->im = ((float *)(void *)b)[1];
		} else {
			v->f = ((double *)(void *)b)[0];
			v->im = ((double *)(void *)b)[1];
		}
		v->is_int = false;
		break;
	}
}

/* Store @v as native @d at @dst, with C's conversions (numpy's casts). */
static void store(const struct hmf_dtype *d, const struct plan_value *v,
		  unsigned char *dst)
{
	size_t n = d->itemsize;

	switch (d->kind) {
	case 'b':
		dst[0] = v->is_int ? v->i != 0 : v->f != 0;
		break;
	case 'i': {
		int64_t x = v->is_int ? v->i : (int64_t)v->f;

		if (n == 1)
			*(int8_t *)dst = (int8_t)x;
		else if (n == 2)
			*(int16_t *)(void *)dst = (int16_t)x;
		else if (n == 4)
			*(int32_t *)(void *)dst = (int32_t)x;
		else
			*(int64_t *)(void *)dst = x;
		break;
	}
	case 'u': {
		uint64_t x = v->is_int ? (uint64_t)v->i : (uint64_t)v->f;

		if (n == 1)
			*dst = (uint8_t)x;
		else if (n == 2)
			*(uint16_t *)(void *)dst = (uint16_t)x;
		else if (n == 4)
			*(uint32_t *)(void *)dst = (uint32_t)x;
		else
			*(uint64_t *)(void *)dst = x;
		break;
	}
	case 'f': {
		double x = v->is_int ? (v->is_unsigned ? (double)v->u
						       : (double)v->i)
				     : v->f;

		if (n == 2)
			*(uint16_t *)(void *)dst = double_to_half(x);
		else if (n == 4)
			*(float *)(void *)dst = (float)x;
		else
			*(double *)(void *)dst = x;
		break;
	}
	case 'c': {
		double re = v->is_int ? (v->is_unsigned ? (double)v->u
							: (double)v->i)
				      : v->f;

		if (n == 8) {
			((float *)(void *)dst)[0] = (float)re;
			((float *)(void *)dst)[1] = (float)v->im;
		} else {
			((double *)(void *)dst)[0] = re;
			((double *)(void *)dst)[1] = v->im;
		}
		break;
	}
	}
}

void plan_convert(const struct hmf_dtype *from, const unsigned char *src,
		  const struct hmf_dtype *to, unsigned char *dst)
{
	struct plan_value v;

	if (hmf_dtype_equal(from, to)) {
		memcpy(dst, src, to->itemsize);
		return;
	}
	if (!is_num(from->kind) || !is_num(to->kind)) {
		/* strings to wider strings, same-unit times: pad */
		size_t n = from->itemsize < to->itemsize ? from->itemsize
							 : to->itemsize;

		memcpy(dst, src, n);
		memset(dst + n, 0, to->itemsize - n);
		if (from->byteorder == '>' && to->byteorder != '>' &&
		    (from->kind == 'M' || from->kind == 'm'))
			swap_bytes(dst, n);
		return;
	}
	load(from, src, &v);
	store(to, &v, dst);
}

void plan_load(const struct hmf_dtype *d, const unsigned char *src,
	       struct plan_value *v)
{
	load(d, src, v);
}
