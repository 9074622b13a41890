/* SPDX-License-Identifier: MIT */
/*
 * group.c - grouping and ordering rows for ingest. Numeric values become
 * order-preserving 64-bit keys (so that equality, grouping and sorting are
 * plain integer work); distinct keys go through a hash table; rows are
 * placed by a counting sort on the group and ordered within each group by
 * a stable radix sort, groups in parallel. Byte strings use memcmp.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_i.h"
#include "hmf/error.h"
#include "hmf/path.h"
#include "plan_i.h"
#include "pool_i.h"

#define NAN_KEY UINT64_MAX

static bool keyable(const struct hmf_dtype *d)
{
	return strchr("biufMmS", d->kind) != NULL;
}

static const unsigned char *cell(const struct hmf_column *c, uint64_t row)
{
	return c->data + row * c->stride;
}

/* An order-preserving key of a numeric cell; NaN is NAN_KEY (last). */
static uint64_t num_key(const struct hmf_column *c, uint64_t row)
{
	struct plan_value v;
	uint64_t b;
	double f;

	if (c->dtype.kind == 'M' || c->dtype.kind == 'm') {
		struct hmf_dtype i8;

		hmf_dtype_parse(c->dtype.byteorder == '>' ? ">i8" : "<i8", &i8);
		plan_load(&i8, cell(c, row), &v);
		return (uint64_t)v.i ^ (1ull << 63);
	}
	plan_load(&c->dtype, cell(c, row), &v);
	if (c->dtype.kind == 'u')
		return v.u;
	if (v.is_int)
		return (uint64_t)v.i ^ (1ull << 63);
	f = v.f;
	if (isnan(f))
		return NAN_KEY;
	if (f == 0)
		f = 0; /* -0.0 and 0.0 are one value */
	memcpy(&b, &f, sizeof(b));
	/* negative floats: flip all bits; positive: flip the sign bit */
	return (b >> 63) ? ~b : b | (1ull << 63);
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n && p[n - 1] == 0)
		n--; /* b"a" and b"a\0" are one value, as in numpy */
	while (n--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

static int bytes_cmp(const unsigned char *a, const unsigned char *b, size_t n)
{
	return memcmp(a, b, n);
}

/* Distinct values: a representative row each, and each row's group. */
struct distinct {
	uint64_t *rep; /* first row of each distinct value */
	uint64_t *key; /* its numeric key (numeric columns) */
	size_t n;
	uint32_t *gid; /* per row */
};

static int find_distinct(const struct hmf_column *c, uint64_t nrows,
			 struct distinct *d)
{
	bool str = c->dtype.kind == 'S';
	size_t cap = 1024, mask, i, slot, dcap = 256;
	uint32_t *table; /* distinct index + 1, or 0 */
	uint64_t row, h, k = 0;

	d->gid = ingest_alloc(nrows * sizeof(*d->gid));
	d->rep = malloc(dcap * sizeof(*d->rep));
	d->key = malloc(dcap * sizeof(*d->key));
	table = calloc(cap, sizeof(*table));
	if (!d->gid || !d->rep || !d->key || !table) {
		free(table);
		return -ENOMEM;
	}
	d->n = 0;
	for (row = 0; row < nrows; row++) {
		if (str) {
			h = hash_bytes(cell(c, row), c->dtype.itemsize);
		} else {
			k = num_key(c, row);
			h = hash64(k);
		}
		mask = cap - 1;
		for (slot = h & mask;; slot = (slot + 1) & mask) {
			uint32_t e = table[slot];

			if (!e)
				break;
			if (str ? bytes_cmp(cell(c, d->rep[e - 1]),
					    cell(c, row),
					    c->dtype.itemsize) == 0
				: d->key[e - 1] == k)
				break;
		}
		if (table[slot]) {
			d->gid[row] = table[slot] - 1;
			continue;
		}
		if (d->n == UINT32_MAX - 1) {
			free(table);
			return hmf_err(-EINVAL, "too many groups");
		}
		if (d->n == dcap) {
			uint64_t *r2 = realloc(d->rep, 2 * dcap * sizeof(*r2));
			uint64_t *k2;

			if (r2)
				d->rep = r2;
			k2 = r2 ? realloc(d->key, 2 * dcap * sizeof(*k2))
				: NULL;
			if (!k2) {
				free(table);
				return -ENOMEM;
			}
			d->key = k2;
			dcap *= 2;
		}
		d->rep[d->n] = row;
		d->key[d->n] = k;
		table[slot] = (uint32_t)++d->n;
		d->gid[row] = (uint32_t)(d->n - 1);
		if (d->n * 2 > cap) {
			/* grow and rehash */
			uint32_t *t2 = calloc(cap * 2, sizeof(*t2));

			if (!t2) {
				free(table);
				return -ENOMEM;
			}
			cap *= 2;
			mask = cap - 1;
			for (i = 0; i < d->n; i++) {
				h = str ? hash_bytes(cell(c, d->rep[i]),
						     c->dtype.itemsize)
					: hash64(d->key[i]);
				for (slot = h & mask; t2[slot];
				     slot = (slot + 1) & mask)
					;
				t2[slot] = (uint32_t)(i + 1);
			}
			free(table);
			table = t2;
		}
	}
	free(table);
	return 0;
}

/* qsort of distinct values, for naming groups in value order */
struct dsort {
	const struct distinct *d;
	const struct hmf_column *c;
};

static int cmp_distinct(const void *a, const void *b, void *arg)
{
	const struct dsort *s = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (s->c->dtype.kind == 'S')
		return bytes_cmp(cell(s->c, s->d->rep[x]),
				 cell(s->c, s->d->rep[y]),
				 s->c->dtype.itemsize);
	return s->d->key[x] < s->d->key[y] ? -1 : s->d->key[x] > s->d->key[y];
}

/* The text of a group's value, before percent-encoding. */
static void value_text(const struct hmf_column *c, uint64_t row, char *buf,
		       size_t size)
{
	struct plan_value v;
	int prec;

	if (c->dtype.kind == 'S') {
		size_t n = c->dtype.itemsize;

		while (n && cell(c, row)[n - 1] == 0)
			n--;
		if (n >= size)
			n = size - 1;
		memcpy(buf, cell(c, row), n);
		buf[n] = '\0';
		return;
	}
	if (c->dtype.kind == 'M' || c->dtype.kind == 'm') {
		snprintf(buf, size, "%lld",
			 (long long)(num_key(c, row) ^ (1ull << 63)));
		return;
	}
	plan_load(&c->dtype, cell(c, row), &v);
	if (c->dtype.kind == 'b') {
		snprintf(buf, size, "%s", v.i ? "True" : "False");
	} else if (c->dtype.kind == 'u') {
		snprintf(buf, size, "%llu", (unsigned long long)v.u);
	} else if (v.is_int) {
		snprintf(buf, size, "%lld", (long long)v.i);
	} else if (isnan(v.f)) {
		snprintf(buf, size, "nan");
	} else if (isinf(v.f)) {
		snprintf(buf, size, "%sinf", v.f < 0 ? "-" : "");
	} else {
		/* the shortest text that reads back as the same double */
		for (prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v.f == 0 ? 0.0 : v.f);
			if (strtod(buf, NULL) == v.f)
				break;
		}
	}
}

static int encode_name(const char *raw, char *out, size_t size)
{
	size_t o = 0;
	const char *p;

	for (p = raw; *p; p++) {
		bool esc = *p == '/' || *p == '%' || (p == raw && *p == '.');

		if (o + 4 >= size)
			return hmf_err(
				-ENAMETOOLONG,
				"group name for value '%.40s...' is too long",
				raw);
		if (esc)
			o += (size_t)snprintf(out + o, size - o, "%%%02X",
					      (unsigned char)*p);
		else
			out[o++] = *p;
	}
	out[o] = '\0';
	if (o == 0)
		return hmf_err(-EINVAL,
			       "cannot name a group after an empty value");
	return hmf_name_check(out);
}

static int make_groups(const struct hmf_column *c, uint64_t nrows,
		       struct ingest_groups *g, uint32_t **gid_out)
{
	struct distinct d = { 0 };
	uint32_t *order = NULL, *rank = NULL;
	char raw[1024], name[HMF_NAME_MAX + 1];
	struct dsort s = { &d, c };
	uint64_t row;
	size_t i;
	int rc;

	if (!keyable(&c->dtype))
		return hmf_err(-EINVAL,
			       "cannot group by column '%s' of dtype %s",
			       c->name, c->dtype.str);
	rc = find_distinct(c, nrows, &d);
	if (rc < 0)
		goto out;
	order = malloc((d.n + 1) * sizeof(*order));
	rank = malloc((d.n + 1) * sizeof(*rank));
	g->names = calloc(d.n + 1, sizeof(*g->names));
	g->start = calloc(d.n + 1, sizeof(*g->start));
	g->count = calloc(d.n + 1, sizeof(*g->count));
	if (!order || !rank || !g->names || !g->start || !g->count) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < d.n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, d.n, sizeof(*order), cmp_distinct, &s);
	for (i = 0; i < d.n; i++)
		rank[order[i]] = (uint32_t)i;
	g->ngroups = d.n;
	for (i = 0; i < d.n; i++) {
		value_text(c, d.rep[order[i]], raw, sizeof(raw));
		rc = encode_name(raw, name, sizeof(name));
		if (rc < 0)
			goto out;
		g->names[i] = strdup(name);
		if (!g->names[i]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (row = 0; row < nrows; row++) {
		d.gid[row] = rank[d.gid[row]];
		g->count[d.gid[row]]++;
	}
	for (i = 1; i < d.n; i++)
		g->start[i] = g->start[i - 1] + g->count[i - 1];
	*gid_out = d.gid; /* an ingest_alloc() buffer of nrows entries */
	d.gid = NULL;
out:
	free(order);
	free(rank);
	ingest_free(d.gid, nrows * sizeof(*d.gid));
	free(d.rep);
	free(d.key);
	return rc;
}

struct sort_job {
	const struct hmf_table *t;
	const struct hmf_column *oc;
	struct ingest_groups *g;
	bool ascending;
};

static int cmp_rows_bytes(const void *a, const void *b, void *arg)
{
	const struct sort_job *s = arg;
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	int c = bytes_cmp(cell(s->oc, x), cell(s->oc, y),
			  s->oc->dtype.itemsize);

	if (!s->ascending)
		c = -c;
	/* ties keep the source order: a stable sort */
	return c ? c : (x > y) - (x < y);
}

/* Stable LSD radix sort of @n rows of @rows by @keys (both permuted). */
static int radix_sort(uint64_t *keys, uint64_t *rows, size_t n)
{
	uint64_t *k2 = ingest_alloc(n * sizeof(*k2));
	uint64_t *r2 = ingest_alloc(n * sizeof(*r2));
	size_t count[256], i, pass;

	if (!k2 || !r2) {
		ingest_free(k2, n * sizeof(*k2));
		ingest_free(r2, n * sizeof(*r2));
		return -ENOMEM;
	}
	for (pass = 0; pass < 8; pass++) {
		unsigned shift = (unsigned)pass * 8;
		size_t sum = 0, c;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(keys[i] >> shift) & 0xff]++;
		if (n == 0 || count[(keys[0] >> shift) & 0xff] == n)
			continue; /* this byte is the same in every key */
		for (i = 0; i < 256; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++) {
			size_t b = (keys[i] >> shift) & 0xff, at = count[b]++;

			k2[at] = keys[i];
			r2[at] = rows[i];
		}
		memcpy(keys, k2, n * sizeof(*keys));
		memcpy(rows, r2, n * sizeof(*rows));
	}
	ingest_free(k2, n * sizeof(*k2));
	ingest_free(r2, n * sizeof(*r2));
	return 0;
}

static int sort_group(void *arg, size_t gi)
{
	struct sort_job *s = arg;
	uint64_t *rows = s->g->perm + s->g->start[gi];
	size_t n = s->g->count[gi], i;
	uint64_t *keys;
	int rc;

	if (n < 2)
		return 0;
	if (s->oc->dtype.kind == 'S') {
		qsort_r(rows, n, sizeof(*rows), cmp_rows_bytes, s);
		return 0;
	}
	keys = ingest_alloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t k = num_key(s->oc, rows[i]);

		/* descending: reverse the order; a float NaN stays last */
		if (!s->ascending &&
		    !(k == NAN_KEY && strchr("fc", s->oc->dtype.kind)))
			k = ~k;
		keys[i] = k;
	}
	rc = radix_sort(keys, rows, n);
	ingest_free(keys, n * sizeof(*keys));
	return rc;
}

int ingest_group(const struct hmf_table *t, ssize_t gcol, ssize_t ocol,
		 bool ascending, unsigned threads, const atomic_int *stop,
		 struct ingest_groups *out)
{
	struct ingest_groups g = { 0 };
	uint32_t *gid = NULL;
	uint64_t *fill = NULL, row;
	struct sort_job s;
	int rc = 0;

	g.perm = ingest_alloc(t->nrows * sizeof(*g.perm));
	g.nrows = t->nrows;
	if (!g.perm)
		return -ENOMEM;
	if (gcol >= 0) {
		rc = make_groups(&t->cols[gcol], t->nrows, &g, &gid);
		if (rc < 0)
			goto out;
		/* counting sort by group: stable */
		fill = malloc((g.ngroups + 1) * sizeof(*fill));
		if (!fill) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(fill, g.start, g.ngroups * sizeof(*fill));
		for (row = 0; row < t->nrows; row++)
			g.perm[fill[gid[row]]++] = row;
	} else {
		g.ngroups = 1;
		g.start = calloc(1, sizeof(*g.start));
		g.count = calloc(1, sizeof(*g.count));
		if (!g.start || !g.count) {
			rc = -ENOMEM;
			goto out;
		}
		g.count[0] = t->nrows;
		for (row = 0; row < t->nrows; row++)
			g.perm[row] = row;
	}
	if (ocol >= 0) {
		if (!keyable(&t->cols[ocol].dtype)) {
			rc = hmf_err(-EINVAL,
				     "cannot order by column '%s' of dtype %s",
				     t->cols[ocol].name,
				     t->cols[ocol].dtype.str);
			goto out;
		}
		s.t = t;
		s.oc = &t->cols[ocol];
		s.g = &g;
		s.ascending = ascending;
		rc = pool_run(threads, g.ngroups, sort_group, &s, stop);
	}
out:
	free(fill);
	ingest_free(gid, t->nrows * sizeof(*gid));
	if (rc < 0) {
		ingest_groups_fini(&g);
		return rc;
	}
	*out = g;
	return 0;
}

void ingest_groups_fini(struct ingest_groups *g)
{
	size_t i;

	if (g->names)
		for (i = 0; i < g->ngroups; i++)
			free(g->names[i]);
	free(g->names);
	free(g->start);
	free(g->count);
	ingest_free(g->perm, g->nrows * sizeof(*g->perm));
	memset(g, 0, sizeof(*g));
}
