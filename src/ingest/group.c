/* SPDX-License-Identifier: MIT */
/*
 * group.c - grouping and ordering rows for ingest. Numeric values become
 * order-preserving 64-bit keys (so that equality, grouping and sorting are
 * plain integer work). The rows are cut into parts, one per thread; each
 * part finds its distinct keys in a hash table of its own, and the parts'
 * values are merged and sorted into the groups. The partition then moves
 * the values of every row, in table order, into the slots of its group
 * (a counting sort: each part knows where its rows of each group start),
 * and each group is ordered on its own by a stable radix sort of its keys.
 * Byte strings use memcmp.
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
/* Groups smaller than this are sorted by insertion. */
#define SMALL_SORT 32

/* How a column's keys are made: the common dtypes without plan_load. */
enum key_kind { KEY_ANY, KEY_I8, KEY_U8, KEY_F8, KEY_BYTES };

static bool keyable(const struct hmf_dtype *d)
{
	return strchr("biufMmS", d->kind) != NULL;
}

static enum key_kind key_kind(const struct hmf_dtype *d)
{
	if (d->kind == 'S')
		return KEY_BYTES;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (d->itemsize == 8 && d->byteorder != '>') {
		if (d->kind == 'i')
			return KEY_I8;
		if (d->kind == 'u')
			return KEY_U8;
		if (d->kind == 'f')
			return KEY_F8;
	}
#endif
	return KEY_ANY;
}

static const unsigned char *cell(const struct hmf_column *c, uint64_t row)
{
	return c->data + row * c->stride;
}

/* NaN is NAN_KEY (last); -0.0 and 0.0 are one value. */
static inline uint64_t float_key(double f)
{
	uint64_t b;

	if (isnan(f))
		return NAN_KEY;
	if (f == 0)
		f = 0;
	memcpy(&b, &f, sizeof(b));
	/* negative floats: flip all bits; positive: flip the sign bit */
	return (b >> 63) ? ~b : b | (1ull << 63);
}

/* An order-preserving key of a numeric cell. */
static uint64_t num_key(const struct hmf_column *c, uint64_t row)
{
	struct plan_value v;

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
	return float_key(v.f);
}

static inline uint64_t key_at(enum key_kind k, const struct hmf_column *c,
			      uint64_t row)
{
	const unsigned char *p = c->data + row * c->stride;
	uint64_t b;
	double f;

	switch (k) {
	case KEY_I8:
		memcpy(&b, p, 8);
		return b ^ (1ull << 63);
	case KEY_U8:
		memcpy(&b, p, 8);
		return b;
	case KEY_F8:
		memcpy(&f, p, 8);
		return float_key(f);
	default:
		return num_key(c, row);
	}
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

/* Distinct values: a hash table of indices into rep/key. */
struct distinct {
	const struct hmf_column *c;
	enum key_kind kind;
	uint32_t *table; /* distinct index + 1, or 0 */
	size_t cap;	 /* table slots, a power of 2 */
	uint64_t *rep;	 /* a row of each distinct value */
	uint64_t *key;	 /* its key (numeric columns) */
	uint64_t *cnt;	 /* its rows */
	size_t n, dcap;
};

static void distinct_fini(struct distinct *d)
{
	free(d->table);
	free(d->rep);
	free(d->key);
	free(d->cnt);
}

static uint64_t distinct_hash(const struct distinct *d, uint64_t row,
			      uint64_t key)
{
	if (d->kind == KEY_BYTES)
		return hash_bytes(cell(d->c, row), d->c->dtype.itemsize);
	return hash64(key);
}

static int distinct_grow(struct distinct *d)
{
	size_t cap = d->cap ? d->cap * 2 : 1024, i, slot;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < d->n; i++) {
		slot = distinct_hash(d, d->rep[i], d->key[i]) & (cap - 1);
		while (t[slot])
			slot = (slot + 1) & (cap - 1);
		t[slot] = (uint32_t)(i + 1);
	}
	free(d->table);
	d->table = t;
	d->cap = cap;
	return 0;
}

/*
 * The index in *@idx of the value of @row (key @key) in @d, which counts
 * @cnt more rows of it (a new value is added). Returns 0, -ENOMEM or
 * -EINVAL (too many values).
 */
static int distinct_find(struct distinct *d, uint64_t row, uint64_t key,
			 uint64_t cnt, uint32_t *idx)
{
	size_t mask = d->cap - 1, slot;
	uint32_t e;

	for (slot = distinct_hash(d, row, key) & mask;;
	     slot = (slot + 1) & mask) {
		e = d->table[slot];
		if (!e)
			break;
		if (d->kind == KEY_BYTES ? bytes_cmp(cell(d->c, d->rep[e - 1]),
						     cell(d->c, row),
						     d->c->dtype.itemsize) == 0
					 : d->key[e - 1] == key) {
			d->cnt[e - 1] += cnt;
			*idx = e - 1;
			return 0;
		}
	}
	if (d->n == UINT32_MAX - 1)
		return hmf_err(-EINVAL, "too many groups");
	if (d->n == d->dcap) {
		size_t cap = d->dcap ? d->dcap * 2 : 256;
		uint64_t *r2 = realloc(d->rep, cap * sizeof(*r2)), *k2, *c2;

		if (r2)
			d->rep = r2;
		k2 = r2 ? realloc(d->key, cap * sizeof(*k2)) : NULL;
		if (k2)
			d->key = k2;
		c2 = k2 ? realloc(d->cnt, cap * sizeof(*c2)) : NULL;
		if (!c2)
			return -ENOMEM;
		d->cnt = c2;
		d->dcap = cap;
	}
	d->rep[d->n] = row;
	d->key[d->n] = key;
	d->cnt[d->n] = cnt;
	d->table[slot] = (uint32_t)++d->n;
	*idx = (uint32_t)(d->n - 1);
	if (d->n * 2 > d->cap)
		return distinct_grow(d);
	return 0;
}

/* qsort of distinct values, for naming groups in value order */
static int cmp_distinct(const void *a, const void *b, void *arg)
{
	const struct distinct *d = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (d->kind == KEY_BYTES)
		return bytes_cmp(cell(d->c, d->rep[x]), cell(d->c, d->rep[y]),
				 d->c->dtype.itemsize);
	return d->key[x] < d->key[y] ? -1 : d->key[x] > d->key[y];
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

/* Grouping: each part's distinct values, then the merge. */
struct group_job {
	const struct ingest_groups *g;
	const struct hmf_column *c;
	struct distinct *d; /* one per part */
};

static int distinct_part(void *arg, size_t p)
{
	struct group_job *j = arg;
	struct distinct *d = &j->d[p];
	uint64_t row, hi = j->g->part[p + 1], key = 0;
	uint32_t *gid = j->g->gid;
	int rc;

	d->c = j->c;
	d->kind = key_kind(&j->c->dtype);
	rc = distinct_grow(d);
	for (row = j->g->part[p]; rc == 0 && row < hi; row++) {
		if (d->kind != KEY_BYTES)
			key = key_at(d->kind, d->c, row);
		rc = distinct_find(d, row, key, 1, &gid[row]);
	}
	return rc;
}

static int make_groups(const struct hmf_column *c, unsigned threads,
		       const atomic_int *stop, struct ingest_groups *g)
{
	struct group_job j = { g, c, NULL };
	struct distinct all = { .c = c, .kind = key_kind(&c->dtype) };
	char raw[1024], name[HMF_NAME_MAX + 1];
	uint32_t *order = NULL, *rank = NULL, **local = NULL;
	size_t i, p, n;
	int rc;

	if (!keyable(&c->dtype))
		return hmf_err(-EINVAL,
			       "cannot group by column '%s' of dtype %s",
			       c->name, c->dtype.str);
	j.d = calloc(g->nparts, sizeof(*j.d));
	local = calloc(g->nparts, sizeof(*local));
	if (!j.d || !local) {
		rc = -ENOMEM;
		goto out;
	}
	rc = pool_run(threads, g->nparts, distinct_part, &j, stop);
	if (rc == 0)
		rc = distinct_grow(&all);
	/* merge: the parts' values in the order they first appear */
	for (p = 0; rc == 0 && p < g->nparts; p++) {
		local[p] = malloc((j.d[p].n + 1) * sizeof(**local));
		if (!local[p]) {
			rc = -ENOMEM;
			break;
		}
		for (i = 0; rc == 0 && i < j.d[p].n; i++)
			rc = distinct_find(&all, j.d[p].rep[i], j.d[p].key[i],
					   j.d[p].cnt[i], &local[p][i]);
	}
	if (rc < 0)
		goto out;
	n = all.n;
	order = malloc((n + 1) * sizeof(*order));
	rank = malloc((n + 1) * sizeof(*rank));
	g->names = calloc(n + 1, sizeof(*g->names));
	g->start = calloc(n + 1, sizeof(*g->start));
	g->count = calloc(n + 1, sizeof(*g->count));
	g->first = calloc(g->nparts * (n + 1), sizeof(*g->first));
	if (!order || !rank || !g->names || !g->start || !g->count ||
	    !g->first) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, n, sizeof(*order), cmp_distinct, &all);
	for (i = 0; i < n; i++)
		rank[order[i]] = (uint32_t)i;
	g->ngroups = n;
	for (i = 0; i < n; i++) {
		value_text(c, all.rep[order[i]], raw, sizeof(raw));
		rc = encode_name(raw, name, sizeof(name));
		if (rc < 0)
			goto out;
		g->names[i] = strdup(name);
		if (!g->names[i]) {
			rc = -ENOMEM;
			goto out;
		}
		g->count[i] = all.cnt[order[i]];
	}
	for (i = 1; i < n; i++)
		g->start[i] = g->start[i - 1] + g->count[i - 1];
	/* each part's numbering -> groups, and where its rows start */
	for (i = 0; i < n; i++)
		g->first[i] = g->start[i];
	for (p = 0; p < g->nparts; p++) {
		for (i = 0; i < j.d[p].n; i++) {
			local[p][i] = rank[local[p][i]];
			if (p + 1 < g->nparts)
				g->first[(p + 1) * n + local[p][i]] =
					j.d[p].cnt[i];
		}
		if (p + 1 < g->nparts)
			for (i = 0; i < n; i++)
				g->first[(p + 1) * n + i] +=
					g->first[p * n + i];
		g->rank[p] = local[p];
		local[p] = NULL;
	}
out:
	for (p = 0; local && p < g->nparts; p++)
		free(local[p]);
	free(local);
	for (p = 0; j.d && p < g->nparts; p++)
		distinct_fini(&j.d[p]);
	free(j.d);
	distinct_fini(&all);
	free(order);
	free(rank);
	return rc;
}

int ingest_group(const struct hmf_table *t, ssize_t gcol, unsigned threads,
		 const atomic_int *stop, struct ingest_groups *out)
{
	struct ingest_groups g = { 0 };
	unsigned p;
	int rc = 0;

	g.nrows = t->nrows;
	g.nparts = threads ? threads : 1;
	/* parts of fewer rows than this are not worth a thread */
	if (g.nparts > t->nrows / 4096 + 1)
		g.nparts = (unsigned)(t->nrows / 4096 + 1);
	g.part = calloc(g.nparts + 1, sizeof(*g.part));
	if (!g.part)
		return -ENOMEM;
	for (p = 0; p <= g.nparts; p++)
		g.part[p] = t->nrows / g.nparts * p;
	g.part[g.nparts] = t->nrows;
	if (gcol >= 0) {
		g.gid = ingest_alloc(t->nrows * sizeof(*g.gid));
		g.rank = calloc(g.nparts, sizeof(*g.rank));
		if (!g.gid || !g.rank) {
			rc = -ENOMEM;
			goto out;
		}
		rc = make_groups(&t->cols[gcol], threads, stop, &g);
	} else {
		g.ngroups = 1;
		g.start = calloc(1, sizeof(*g.start));
		g.count = calloc(1, sizeof(*g.count));
		g.first = calloc(g.nparts, sizeof(*g.first));
		if (!g.start || !g.count || !g.first) {
			rc = -ENOMEM;
			goto out;
		}
		g.count[0] = t->nrows;
		for (p = 0; p < g.nparts; p++)
			g.first[p] = g.part[p];
	}
out:
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
	if (g->rank)
		for (i = 0; i < g->nparts; i++)
			free(g->rank[i]);
	free(g->rank);
	free(g->first);
	free(g->part);
	ingest_free(g->gid, g->nrows * sizeof(*g->gid));
	memset(g, 0, sizeof(*g));
}

/* Partition */

int ingest_order_check(const struct hmf_column *c)
{
	if (!keyable(&c->dtype))
		return hmf_err(-EINVAL,
			       "cannot order by column '%s' of dtype %s",
			       c->name, c->dtype.str);
	return 0;
}

/* How one column's values reach an array: the common cases are direct. */
enum conv {
	CONV_COPY8, /* same 8-byte dtype */
	CONV_COPY,  /* same dtype */
	CONV_I8_F8, /* <i8 into <f8 */
	CONV_ANY,
};

static enum conv conv_of(const struct hmf_dtype *from,
			 const struct hmf_dtype *to)
{
	if (hmf_dtype_equal(from, to))
		return to->itemsize == 8 ? CONV_COPY8 : CONV_COPY;
	if (strcmp(from->str, "<i8") == 0 && strcmp(to->str, "<f8") == 0)
		return CONV_I8_F8;
	return CONV_ANY;
}

struct part_job {
	const struct ingest_groups *g;
	struct ingest_order *o;
	const struct ingest_lane *lanes;
	size_t nlanes;
	const atomic_int *stop;
};

/*
 * The slot of each row of part @p, in row order, into @slots (@n rows
 * from @row0): @fill holds the next slot of each group.
 */
static void slots_of(const struct ingest_groups *g, size_t p, uint64_t *fill,
		     uint64_t row0, size_t n, uint64_t *slots)
{
	const uint32_t *gid = g->gid + row0, *rank = g->rank[p];
	size_t i;

	for (i = 0; i < n; i++)
		slots[i] = fill[rank[gid[i]]]++;
}

/* Rows are placed in blocks of this many (their slots fit in L1). */
#define PART_BLOCK 1024

/* The order keys of the rows of block [row0, row0 + n) into their slots. */
static void put_keys(const struct ingest_order *o, enum key_kind kind,
		     uint64_t row0, size_t n, const uint64_t *slots)
{
	const struct hmf_column *c = o->col;
	bool flip = !o->ascending;
	bool keep_nan = strchr("fc", c->dtype.kind) != NULL;
	uint64_t k;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t s = slots ? slots[i] : row0 + i;

		if (kind == KEY_BYTES) {
			o->keys[s] = row0 + i; /* compared in place */
			continue;
		}
		k = key_at(kind, c, row0 + i);
		/* descending: reverse the order; a float NaN stays last */
		if (flip && !(k == NAN_KEY && keep_nan))
			k = ~k;
		o->keys[s] = k;
	}
}

/* The values of lane @l for the rows of the block into their slots. */
static void put_lane(const struct ingest_lane *l, enum conv conv, uint64_t row0,
		     size_t n, const uint64_t *slots)
{
	const struct hmf_column *c = l->col;
	const unsigned char *src = c->data + row0 * c->stride;
	size_t i, ds = l->dst_stride, ss = c->stride, isz = l->to->itemsize;
	unsigned char *dst;
	int64_t x;
	double f;

	for (i = 0; i < n; i++, src += ss) {
		dst = l->dst + (slots ? slots[i] : row0 + i) * ds;
		switch (conv) {
		case CONV_COPY8:
			memcpy(dst, src, 8);
			break;
		case CONV_COPY:
			memcpy(dst, src, isz);
			break;
		case CONV_I8_F8:
			memcpy(&x, src, 8);
			f = (double)x;
			memcpy(dst, &f, 8);
			break;
		case CONV_ANY:
			plan_convert(&c->dtype, src, l->to, dst);
			break;
		}
	}
}

/*
 * Task (part p, lane l): lane l of the rows of part p into their slots,
 * the order keys being lane -1. Each task reads its columns in row order
 * and writes into one stream per group.
 */
static int partition_task(void *arg, size_t task)
{
	struct part_job *j = arg;
	const struct ingest_groups *g = j->g;
	size_t nl = j->nlanes + 1, p = task / nl, n;
	ssize_t l = (ssize_t)(task % nl) - 1;
	uint64_t row, hi = g->part[p + 1], *fill = NULL, *slots = NULL;
	enum key_kind kind = KEY_ANY;
	enum conv conv = CONV_ANY;
	int rc = 0;

	if (l < 0 && !j->o)
		return 0;
	if (l < 0)
		kind = key_kind(&j->o->col->dtype);
	else
		conv = conv_of(&j->lanes[l].col->dtype, j->lanes[l].to);
	if (g->gid) {
		fill = malloc(g->ngroups * sizeof(*fill));
		slots = malloc(PART_BLOCK * sizeof(*slots));
		if (!fill || !slots) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(fill, g->first + p * g->ngroups,
		       g->ngroups * sizeof(*fill));
	}
	for (row = g->part[p]; row < hi; row += n) {
		n = hi - row < PART_BLOCK ? (size_t)(hi - row) : PART_BLOCK;
		if (slots)
			slots_of(g, p, fill, row, n, slots);
		if (l < 0)
			put_keys(j->o, kind, row, n, slots);
		else
			put_lane(&j->lanes[l], conv, row, n, slots);
		if ((row / PART_BLOCK) % 256 == 0 && j->stop &&
		    atomic_load(j->stop)) {
			rc = hmf_err(-EINTR, "stopped");
			break;
		}
	}
out:
	free(fill);
	free(slots);
	return rc;
}

int ingest_partition(const struct ingest_groups *g, struct ingest_order *o,
		     const struct ingest_lane *lanes, size_t nlanes,
		     unsigned threads, const atomic_int *stop)
{
	struct part_job j = { g, o, lanes, nlanes, stop };

	if (o)
		o->bytes = key_kind(&o->col->dtype) == KEY_BYTES;
	return pool_run(threads, g->nparts * (nlanes + 1), partition_task, &j,
			stop);
}

/* Sorting */

/* Stable LSD radix sort of @n (key, idx) pairs, skipping equal bytes. */
static int radix_sort(uint64_t *keys, uint32_t *idx, size_t n)
{
	size_t count[8][256], i, pass, sum, c;
	uint64_t *k2, *ks = keys, *kd, *kt, x;
	uint32_t *i2, *is = idx, *id, *it;
	int rc = 0;

	k2 = ingest_alloc(n * sizeof(*k2));
	i2 = ingest_alloc(n * sizeof(*i2));
	if (!k2 || !i2) {
		rc = -ENOMEM;
		goto out;
	}
	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++) {
		x = keys[i];
		for (pass = 0; pass < 8; pass++)
			count[pass][(x >> (8 * pass)) & 0xff]++;
	}
	kd = k2;
	id = i2;
	for (pass = 0; pass < 8; pass++) {
		unsigned shift = (unsigned)pass * 8;
		size_t *cnt = count[pass];

		if (cnt[(ks[0] >> shift) & 0xff] == n)
			continue; /* this byte is the same in every key */
		for (i = 0, sum = 0; i < 256; i++) {
			c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++) {
			size_t at = cnt[(ks[i] >> shift) & 0xff]++;

			kd[at] = ks[i];
			id[at] = is[i];
		}
		kt = ks, ks = kd, kd = kt;
		it = is, is = id, id = it;
	}
	if (is != idx)
		memcpy(idx, is, n * sizeof(*idx));
out:
	ingest_free(k2, n * sizeof(*k2));
	ingest_free(i2, n * sizeof(*i2));
	return rc;
}

/* Stable insertion sort of a few (key, idx) pairs. */
static void small_sort(uint64_t *keys, uint32_t *idx, size_t n)
{
	size_t i, k;

	for (i = 1; i < n; i++) {
		uint64_t x = keys[i];
		uint32_t y = idx[i];

		for (k = i; k > 0 && keys[k - 1] > x; k--) {
			keys[k] = keys[k - 1];
			idx[k] = idx[k - 1];
		}
		keys[k] = x;
		idx[k] = y;
	}
}

struct bytes_sort {
	const struct hmf_column *c;
	const uint64_t *rows; /* a group's keys: the rows of its slots */
	bool ascending;
};

static int cmp_rows_bytes(const void *a, const void *b, void *arg)
{
	const struct bytes_sort *s = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = bytes_cmp(cell(s->c, s->rows[x]), cell(s->c, s->rows[y]),
			  s->c->dtype.itemsize);

	if (!s->ascending)
		c = -c;
	/* ties keep the table order: a stable sort */
	return c ? c : (x > y) - (x < y);
}

int ingest_sort(const struct ingest_groups *g, const struct ingest_order *o,
		size_t gi)
{
	uint64_t *keys = o->keys + g->start[gi];
	uint32_t *idx = o->idx + g->start[gi];
	size_t n = g->count[gi], i;
	struct bytes_sort s = { o->col, keys, o->ascending };

	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	if (n < 2)
		return 0;
	if (o->bytes) {
		qsort_r(idx, n, sizeof(*idx), cmp_rows_bytes, &s);
		return 0;
	}
	/* the keys are not needed afterwards: sorted in place */
	if (n < SMALL_SORT) {
		small_sort(keys, idx, n);
		return 0;
	}
	return radix_sort(keys, idx, n);
}
