/* SPDX-License-Identifier: MIT */
/*
 * table.c - the table type's lifecycle (hmf_table_fini, the names list)
 * and the helpers both readers share: the wanted-column mapping, pandas'
 * name mangling and the source name used in messages.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard_i.h"
#include "hmf/error.h"
#include "table_i.h"

void hmf_table_fini(struct hmf_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->ncols && t->cols; i++)
		free(t->cols[i].name);
	free(t->cols);
	if (t->owned) {
		ingest_guard_remove(t->guard);
		if (t->owned_is_map)
			munmap(t->owned, t->owned_len);
		else
			free(t->owned);
	}
	for (i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	free(t->bufs);
	memset(t, 0, sizeof(*t));
}

void hmf_table_drop_column(struct hmf_table *t, size_t i)
{
	const unsigned char *data = t->cols[i].data;
	size_t k;

	t->cols[i].data = NULL;
	for (k = 0; data && k < t->ncols; k++)
		if (t->cols[k].data == data)
			return; /* another column still reads it */
	for (k = 0; data && k < t->nbufs; k++) {
		if (t->bufs[k] == data) {
			free(t->bufs[k]);
			t->bufs[k] = NULL;
			return;
		}
	}
}

void hmf_table_names_free(char **names, size_t count)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

unsigned table_threads(const struct hmf_table_opts *o)
{
	long n;

	if (o && o->threads)
		return o->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 1024 ? 1024 : (unsigned)n;
}

void table_source_name(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n <= 0) {
		snprintf(buf, size, "fd %d", fd);
		return;
	}
	buf[n] = '\0';
}

/*
 * A string -> count map for the mangling (open addressing). pandas keeps
 * a dict of how often each name (original or generated) has been used.
 */
struct name_count {
	char *name; /* NULL: free slot; owned by the map */
	size_t count;
};

struct name_map {
	struct name_count *slots;
	size_t cap, used;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct name_count *map_find(struct name_map *m, const char *name)
{
	size_t i = (size_t)hash_str(name) & (m->cap - 1);

	while (m->slots[i].name && strcmp(m->slots[i].name, name) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static size_t map_get(struct name_map *m, const char *name)
{
	struct name_count *e;

	if (m->cap == 0)
		return 0;
	e = map_find(m, name);
	return e->name ? e->count : 0;
}

static int map_set(struct name_map *m, const char *name, size_t count)
{
	struct name_count *e;

	/* keep the load under a half so that probes stay short */
	if ((m->used + 1) * 2 > m->cap) {
		struct name_map bigger = { .cap = m->cap ? m->cap * 2 : 16 };
		size_t i;

		bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
		if (!bigger.slots)
			return -ENOMEM;
		for (i = 0; i < m->cap; i++)
			if (m->slots[i].name)
				*map_find(&bigger, m->slots[i].name) =
					m->slots[i];
		bigger.used = m->used;
		free(m->slots);
		*m = bigger;
	}
	e = map_find(m, name);
	if (!e->name) {
		e->name = strdup(name);
		if (!e->name)
			return -ENOMEM;
		m->used++;
	}
	e->count = count;
	return 0;
}

static void map_free(struct name_map *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].name);
	free(m->slots);
}

/* "@base.@k" in a new string. */
static char *suffixed(const char *base, size_t k)
{
	size_t len = strlen(base) + 24;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "%s.%zu", base, k);
	return s;
}

/* Count one more (@d = 1) or one less (-1) @name in the header. */
static int present_add(struct name_map *m, const char *name, int d)
{
	return map_set(m, name, map_get(m, name) + (size_t)d);
}

int table_mangle_names(char **names, size_t n)
{
	struct name_map counts = { 0 }, present = { 0 };
	size_t i, k, cur, *order;
	char *name;
	int rc = 0;

	order = malloc((n ? n : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	/* named columns first, then the unnamed ones, as pandas' C parser */
	for (i = 0, k = 0; i < n; i++)
		if (names[i][0] != '\0')
			order[k++] = i;
	for (i = 0; i < n; i++) {
		if (names[i][0] != '\0')
			continue;
		order[k++] = i;
		name = malloc(32);
		if (!name) {
			rc = -ENOMEM;
			goto out_free;
		}
		snprintf(name, 32, "Unnamed: %zu", i);
		free(names[i]);
		names[i] = name;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = present_add(&present, names[i], 1);
	/*
	 * pandas (parsers.pyx, _get_header): a name seen before becomes
	 * "name.<count>", skipping any that the header holds at that time,
	 * so "a,a,a.1" gives a, a.2, a.1.
	 */
	for (k = 0; k < n && rc == 0; k++) {
		const char *old = names[order[k]];

		cur = map_get(&counts, old);
		name = NULL;
		while (cur > 0) {
			rc = map_set(&counts, old, cur + 1);
			if (rc < 0)
				goto out_free;
			free(name);
			name = suffixed(old, cur);
			if (!name) {
				rc = -ENOMEM;
				goto out_free;
			}
			if (map_get(&present, name) > 0)
				cur++;
			else
				cur = map_get(&counts, name);
		}
		if (name) {
			rc = present_add(&present, old, -1);
			if (rc == 0)
				rc = present_add(&present, name, 1);
			if (rc < 0) {
				free(name);
				goto out_free;
			}
			free(names[order[k]]);
			names[order[k]] = name;
		}
		rc = map_set(&counts, names[order[k]], cur + 1);
	}
out_free:
	map_free(&counts);
	map_free(&present);
	free(order);
	return rc;
}

int table_resolve(char *const *names, size_t n, const struct hmf_table_opts *o,
		  const char *src, size_t **idx, size_t *count)
{
	size_t i, j, k = o && o->want ? o->nwant : n;
	size_t *v;

	v = malloc((k ? k : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < k; i++) {
		if (!(o && o->want)) {
			v[i] = i;
			continue;
		}
		for (j = 0; j < n; j++)
			if (strcmp(names[j], o->want[i]) == 0)
				break;
		if (j == n) {
			free(v);
			return hmf_err(-EINVAL, "%s: no column named '%s'", src,
				       o->want[i]);
		}
		v[i] = j;
	}
	*idx = v;
	*count = k;
	return 0;
}

int table_set_columns(struct hmf_table *t, char *const *names,
		      const size_t *idx, size_t count)
{
	struct hmf_column *cols;
	size_t i;

	cols = calloc(count ? count : 1, sizeof(*cols));
	if (!cols)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		cols[i].name = strdup(names[idx[i]]);
		if (!cols[i].name)
			goto out_free;
	}
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = count;
	return 0;
out_free:
	while (i-- > 0)
		free(cols[i].name);
	free(cols);
	return -ENOMEM;
}
