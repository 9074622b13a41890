/* SPDX-License-Identifier: MIT */
/*
 * engine.c - the ingest engine: read the source table, plan each array's
 * dtype, group rows by a column (group.c), move every row's values into
 * one buffer per array, laid out group after group (the partition, which
 * reads the table once, in order), order each group, then write arrays x
 * groups tasks on a thread pool into a staging group of the root and
 * publish by rename. A failure at any step removes the staging group, so a
 * failed job leaves nothing in the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "group_i.h"
#include "hmf/error.h"
#include "hmf/ingest.h"
#include "hmf/node.h"
#include "hmf/path.h"
#include "plan_i.h"
#include "pool_i.h"

/*
 * An ordered array up to this size is gathered whole and created with its
 * data; a larger one is written from a buffer of this size at a time.
 */
#define GATHER_BYTES ((size_t)8 << 20)

struct out_array {
	const struct hmf_ingest_array *spec;
	size_t *cols; /* table column of each of spec->cols */
	struct hmf_dtype dtype;
	size_t rowbytes;      /* one row: ncols items */
	unsigned char *slots; /* every row, by slot (ingest_partition) */
	size_t slots_len;
};

struct job {
	struct hmf_root *r;
	/* the owners of new groups and arrays, or NULL */
	const struct hmf_owner *gowner, *aowner;
	const struct hmf_ingest_request *q;
	struct hmf_ingest_progress *p;
	const atomic_int *stop;
	unsigned threads;
	struct hmf_table t;
	uint64_t nrows;
	struct out_array *arrays;
	struct ingest_groups g;	   /* the groups and where each row goes */
	struct ingest_order order; /* keys and idx set when ordering */
	bool ordered;
	struct hmf_node **gnodes; /* staged node receiving each group */
	struct hmf_node *stage;
	char stage_name[HMF_STAGE_NAME_LEN];
	struct hmf_node *container; /* staged dest, or the stage itself */
	struct hmf_node *dest;	    /* the existing dest group, or NULL */
	/* the source shrank while it was read (guard_i.h) */
	atomic_bool source_changed;
};

/* Prefix this thread's message with @what. */
static int reword(int rc, const char *what)
{
	char why[1024];

	snprintf(why, sizeof(why), "%s", hmf_errmsg());
	return hmf_err(rc, "%s: %s", what, why);
}

static ssize_t find_col(const struct hmf_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* The distinct column names the request uses, in first-use order. */
static int wanted(const struct hmf_ingest_request *q, const char ***out,
		  size_t *count)
{
	size_t cap = 2, n = 0, i, k, m;
	const char **v;

	for (i = 0; i < q->narrays; i++)
		cap += q->arrays[i].ncols;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i <= q->narrays; i++) {
		const char *const *names;
		const char *extra[2] = { q->groupby, q->orderby };

		names = i < q->narrays ? (const char *const *)q->arrays[i].cols
				       : extra;
		m = i < q->narrays ? q->arrays[i].ncols : 2;
		for (k = 0; k < m; k++) {
			size_t x;

			if (!names[k])
				continue;
			for (x = 0; x < n && strcmp(v[x], names[k]); x++)
				;
			if (x == n)
				v[n++] = names[k];
		}
	}
	*out = v;
	*count = n;
	return 0;
}

static void table_opts(struct job *j, const char **want, size_t nwant,
		       struct hmf_table_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->delimiter = j->q->delimiter;
	o->header = j->q->header;
	o->threads = j->threads;
	o->want = want;
	o->nwant = nwant;
	o->dtype_cols = (const char *const *)j->q->dtype_cols;
	o->dtypes = j->q->dtypes;
	o->ndtypes = j->q->ndtypes;
	o->stop = j->stop;
	o->source_changed = &j->source_changed;
}

/* An array of the root as a table (an "hmf:" source). */
static int read_hmf_source(struct job *j, int fd,
			   const struct hmf_table_opts *o)
{
	struct hmf_node *n;
	struct hmf_meta m;
	int rc;

	rc = hmf_node_open(j->r, j->q->source, &n);
	if (rc < 0)
		return rc;
	rc = hmf_node_meta(n, &m);
	hmf_node_close(n);
	if (rc < 0)
		return rc;
	rc = hmf_raw_read_table(fd, 0, &m.dtype, NULL, 0, m.ndim, m.shape,
				m.order == 'F', o, j->p ? &j->p->table : NULL,
				&j->t);
	hmf_meta_fini(&m);
	return rc;
}

static int read_source(struct job *j, int fd)
{
	struct hmf_table_opts o;
	const char **want;
	size_t nwant;
	int rc;

	rc = wanted(j->q, &want, &nwant);
	if (rc < 0)
		return rc;
	table_opts(j, want, nwant, &o);
	switch (j->q->format) {
	case HMF_INGEST_CSV:
		rc = hmf_csv_read(fd, &o, j->p ? &j->p->table : NULL, &j->t);
		break;
	case HMF_INGEST_NPY:
		rc = hmf_npy_read_table(fd, &o, j->p ? &j->p->table : NULL,
					&j->t);
		break;
	case HMF_INGEST_HMF:
		rc = read_hmf_source(j, fd, &o);
		break;
	}
	free(want);
	return rc;
}

/* Each array's columns and dtype. */
static int plan_arrays(struct job *j)
{
	const struct hmf_ingest_request *q = j->q;
	struct out_array *a;
	ssize_t c;
	size_t i, k;
	int rc;

	j->arrays = calloc(q->narrays, sizeof(*j->arrays));
	if (!j->arrays)
		return -ENOMEM;
	for (i = 0; i < q->narrays; i++) {
		a = &j->arrays[i];
		a->spec = &q->arrays[i];
		a->cols = calloc(a->spec->ncols, sizeof(*a->cols));
		if (!a->cols)
			return -ENOMEM;
		for (k = 0; k < a->spec->ncols; k++) {
			c = find_col(&j->t, a->spec->cols[k]);
			if (c < 0)
				return hmf_err(
					-EINVAL,
					"array '%s': no column '%s' in the source",
					a->spec->name, a->spec->cols[k]);
			a->cols[k] = (size_t)c;
			if (k == 0)
				rc = a->spec->ncols == 1
					     ? hmf_dtype_parse(
						       j->t.cols[c].dtype.str,
						       &a->dtype)
					     : make_native(&j->t.cols[c].dtype,
							   &a->dtype);
			else
				rc = plan_promote(&a->dtype,
						  &j->t.cols[c].dtype,
						  &a->dtype);
			if (rc < 0)
				return reword(rc, a->spec->name);
		}
	}
	return 0;
}

/*
 * Stage the dest (a new one is built whole in the staging group and
 * published by one rename); the groups' nodes are made by group_task.
 */
static int stage_groups(struct job *j)
{
	const char *names[HMF_PATH_MAX / 2];
	char buf[HMF_PATH_MAX];
	struct hmf_meta gm;
	int n, rc;

	rc = hmf_node_open(j->r, j->q->dest, &j->dest);
	if (rc == 0 && !hmf_node_is_group(j->dest))
		return hmf_err(-ENOTDIR, "dest %s is an array", j->q->dest);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = hmf_root_stage(j->r, &j->stage, j->stage_name);
	if (rc < 0)
		return rc;
	hmf_meta_init(&gm, HMF_KIND_GROUP);
	j->container = j->stage;
	if (!j->dest) {
		n = hmf_path_split(j->q->dest, buf, sizeof(buf), names,
				   HMF_PATH_MAX / 2);
		rc = n < 0 ? n : 0;
		if (rc == 0)
			rc = hmf_node_create(j->stage, names[n - 1], &gm, NULL,
					     0, j->gowner, 0, &j->container);
	}
	hmf_meta_fini(&gm);
	j->gnodes = calloc(j->g.ngroups ? j->g.ngroups : 1, sizeof(*j->gnodes));
	if (rc == 0 && !j->gnodes)
		rc = -ENOMEM;
	if (rc == 0 && !j->g.names)
		j->gnodes[0] = j->container;
	return rc;
}

/*
 * Release the table's columns that no step from @first_array on reads
 * (nor the order keys, while @keys_pending or when the sort compares the
 * column itself): the next buffers then reuse their pages, and a page
 * used for the first time costs more here than filling it (DESIGN
 * section 8).
 */
static void drop_columns(struct job *j, size_t first_array, bool keys_pending,
			 ssize_t ocol)
{
	size_t c, i, k;
	bool used;

	for (c = 0; c < j->t.ncols; c++) {
		if (!j->t.cols[c].data)
			continue;
		used = (ssize_t)c == ocol && (keys_pending || j->order.bytes);
		for (i = first_array; !used && i < j->q->narrays; i++)
			for (k = 0; k < j->arrays[i].spec->ncols; k++)
				used |= j->arrays[i].cols[k] == c;
		if (!used)
			hmf_table_drop_column(&j->t, c);
	}
}

/*
 * Move the table's rows into their slots: the order keys first, then
 * each array's columns, converted to its dtype, into a buffer of its own,
 * one array at a time so that each can reuse the memory of the columns
 * read before it.
 */
static int partition(struct job *j, ssize_t ocol)
{
	struct ingest_lane *lanes = NULL;
	uint64_t n = j->t.nrows, most = 0;
	size_t i, c;
	int rc = 0;

	drop_columns(j, 0, true, ocol);
	if (ocol >= 0) {
		for (i = 0; i < j->g.ngroups; i++)
			if (j->g.count[i] > most)
				most = j->g.count[i];
		if (most > UINT32_MAX)
			return hmf_err(
				-EFBIG,
				"cannot order a group of %llu rows (at most 2^32)",
				(unsigned long long)most);
		j->order.col = &j->t.cols[ocol];
		j->order.ascending = j->q->ascending;
		j->order.keys = ingest_alloc(n * sizeof(*j->order.keys));
		if (!j->order.keys)
			return -ENOMEM;
		j->ordered = true;
		rc = ingest_partition(&j->g, &j->order, NULL, 0, j->threads,
				      j->stop);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < j->q->narrays; i++) {
		struct out_array *a = &j->arrays[i];

		drop_columns(j, i, false, ocol);
		a->rowbytes = a->spec->ncols * a->dtype.itemsize;
		if (n > SIZE_MAX / (a->rowbytes ? a->rowbytes : 1))
			return hmf_err(-ENOMEM, "%s: too many rows",
				       a->spec->name);
		a->slots_len = n * a->rowbytes;
		a->slots = ingest_alloc(a->slots_len);
		lanes = calloc(a->spec->ncols, sizeof(*lanes));
		if (!a->slots || !lanes) {
			free(lanes);
			return hmf_err(-ENOMEM, "no memory for array %s",
				       a->spec->name);
		}
		for (c = 0; c < a->spec->ncols; c++) {
			lanes[c].col = &j->t.cols[a->cols[c]];
			lanes[c].to = &a->dtype;
			lanes[c].dst = a->slots + c * a->dtype.itemsize;
			lanes[c].dst_stride = a->rowbytes;
		}
		rc = ingest_partition(&j->g, NULL, lanes, a->spec->ncols,
				      j->threads, j->stop);
		free(lanes);
		if (rc < 0)
			return rc;
	}
	drop_columns(j, j->q->narrays, false, ocol);
	if (j->ordered && j->g.gid) {
		/* the groups' numbering is done with: its memory orders them */
		j->order.idx = j->g.gid;
		j->g.gid = NULL;
	} else if (j->ordered) {
		j->order.idx = ingest_alloc(n * sizeof(*j->order.idx));
		if (!j->order.idx)
			return -ENOMEM;
	}
	return 0;
}

/* Group @gi: its node (with groupby), and its rows' order. */
static int group_task(void *arg, size_t gi)
{
	struct job *j = arg;
	struct hmf_meta gm;
	int rc = 0;

	if (j->g.names) {
		hmf_meta_init(&gm, HMF_KIND_GROUP);
		rc = hmf_node_create(j->container, j->g.names[gi], &gm, NULL, 0,
				     j->gowner, 0, &j->gnodes[gi]);
		hmf_meta_fini(&gm);
	}
	if (rc == 0 && j->ordered)
		rc = ingest_sort(&j->g, &j->order, gi);
	return rc;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Rows idx[0..n-1] of @src (@rb bytes each) into @dst, in that order. */
static void gather(unsigned char *dst, const unsigned char *src,
		   const uint32_t *idx, size_t n, size_t rb)
{
	size_t i;

	if (rb == 8) {
		for (i = 0; i < n; i++)
			memcpy(dst + i * 8, src + (size_t)idx[i] * 8, 8);
	} else if (rb == 16) {
		for (i = 0; i < n; i++)
			memcpy(dst + i * 16, src + (size_t)idx[i] * 16, 16);
	} else {
		for (i = 0; i < n; i++)
			memcpy(dst + i * rb, src + (size_t)idx[i] * rb, rb);
	}
}

/* A big ordered array: made empty, then written a buffer at a time. */
static int write_big(const struct job *j, struct hmf_node *gnode,
		     const struct out_array *a, const struct hmf_meta *m,
		     const unsigned char *src, const uint32_t *idx,
		     uint64_t nrows)
{
	size_t rb = a->rowbytes, per = GATHER_BYTES / rb, n;
	struct hmf_node *node;
	unsigned char *buf;
	uint64_t done = 0;
	int fd, rc;

	rc = hmf_node_create(gnode, a->spec->name, m, NULL, 0, j->aowner, 0,
			     &node);
	if (rc < 0)
		return rc;
	rc = hmf_node_data_open(node, O_WRONLY, &fd);
	hmf_node_close(node);
	if (rc < 0)
		return rc;
	if (per == 0)
		per = 1; /* a row of more than GATHER_BYTES */
	buf = malloc(per * rb);
	if (!buf)
		rc = -ENOMEM;
	while (rc == 0 && done < nrows) {
		n = nrows - done < per ? (size_t)(nrows - done) : per;
		gather(buf, src, idx + done, n, rb);
		/* pwrite, not stores into a mapping: a full disk is ENOSPC */
		rc = pwrite_all(fd, buf, n * rb, done * rb);
		done += n;
		if (rc == 0 && j->stop && atomic_load(j->stop))
			rc = hmf_err(-EINTR, "stopped");
	}
	free(buf);
	close(fd);
	if (rc == -ENOSPC || rc == -EDQUOT || rc == -EIO)
		return hmf_err(rc, "writing %s/%s: %s", j->q->dest,
			       a->spec->name, strerrordesc_np(-rc));
	return rc;
}

/* Write array @ai of group @gi: its rows, in order, from its slots. */
static int write_array(struct job *j, size_t gi, size_t ai)
{
	const struct out_array *a = &j->arrays[ai];
	uint64_t start = j->g.start[gi], nrows = j->g.count[gi], nbytes;
	const unsigned char *src = a->slots + start * a->rowbytes;
	unsigned char *buf = NULL;
	struct hmf_meta m;
	int rc;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	m.dtype = a->dtype;
	m.ndim = a->spec->one_column ? 1 : 2;
	m.shape[0] = nrows;
	m.shape[1] = a->spec->ncols;
	rc = hmf_dtype_nbytes(&m.dtype, m.ndim, m.shape, &nbytes);
	if (rc == 0 && j->ordered && nbytes > GATHER_BYTES) {
		rc = write_big(j, j->gnodes[gi], a, &m, src,
			       j->order.idx + start, nrows);
		goto out;
	}
	if (rc == 0 && j->ordered) {
		buf = malloc(nbytes ? nbytes : 1);
		if (!buf)
			rc = -ENOMEM;
		else
			gather(buf, src, j->order.idx + start, nrows,
			       a->rowbytes);
	}
	/* the data goes in as the array is made: no second open */
	if (rc == 0)
		rc = hmf_node_create(j->gnodes[gi], a->spec->name, &m,
				     buf ? buf : src, nbytes, j->aowner, 0,
				     NULL);
	free(buf);
out:
	hmf_meta_fini(&m);
	if (rc < 0)
		return rc;
	if (j->p) {
		atomic_fetch_add(&j->p->arrays_written, 1);
		atomic_fetch_add(&j->p->bytes_written, nbytes);
	}
	return 0;
}

/*
 * Task @task of groups x arrays, the groups varying fastest: threads at
 * work at the same time create in different groups' directories.
 */
static int write_task(void *arg, size_t task)
{
	struct job *j = arg;

	return write_array(j, task % j->g.ngroups, task / j->g.ngroups);
}

/*
 * All of group @gi: its node, its order, its arrays. The node is closed
 * when done: a job of many groups must not hold a descriptor for each.
 */
static int whole_group_task(void *arg, size_t gi)
{
	struct job *j = arg;
	size_t ai;
	int rc;

	rc = group_task(j, gi);
	for (ai = 0; rc == 0 && ai < j->q->narrays; ai++)
		rc = write_array(j, gi, ai);
	if (j->gnodes[gi] != j->container) {
		hmf_node_close(j->gnodes[gi]);
		j->gnodes[gi] = NULL;
	}
	return rc;
}

/* JSON text of a list of names or of numbers, in a malloc'ed string. */
static char *json_list(char **names, const uint64_t *nums, size_t n)
{
	size_t cap = 64, len = 0, i;
	char *s = malloc(cap), *t;
	const char *p;

	if (!s)
		return NULL;
	s[len++] = '[';
	for (i = 0; i < n; i++) {
		/* worst case: every byte of a name escaped as \u00XX */
		size_t need = (names ? strlen(names[i]) * 6 + 4 : 24) + 4;

		if (len + need >= cap) {
			cap = (len + need) * 2;
			t = realloc(s, cap);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
		}
		if (i)
			s[len++] = ',';
		if (!names) {
			len += (size_t)sprintf(s + len, "%llu",
					       (unsigned long long)nums[i]);
			continue;
		}
		s[len++] = '"';
		for (p = names[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				len += (size_t)sprintf(s + len, "\\%c", *p);
			else if ((unsigned char)*p < 0x20)
				len += (size_t)sprintf(s + len, "\\u%04x",
						       (unsigned char)*p);
			else
				s[len++] = *p;
		}
		s[len++] = '"';
	}
	s[len++] = ']';
	s[len] = '\0';
	return s;
}

/* hmf.group_names, hmf.group_sizes and hmf.ingest on @n. */
static int set_dest_attrs(struct job *j, struct hmf_node *n)
{
	char *names = NULL, *sizes = NULL, *ingest = NULL;
	int rc = -ENOMEM;

	if (asprintf(&ingest, "{\"request\":%s,\"rows\":%llu}", j->q->text,
		     (unsigned long long)j->nrows) < 0)
		return -ENOMEM;
	if (j->g.names) {
		names = json_list(j->g.names, NULL, j->g.ngroups);
		sizes = json_list(NULL, j->g.count, j->g.ngroups);
		if (!names || !sizes)
			goto out;
	}
	rc = 0;
	/* attributes are at most 64 KiB: very many groups go unlisted */
	if (names && strlen(names) <= HMF_ATTR_VALUE_MAX &&
	    strlen(sizes) <= HMF_ATTR_VALUE_MAX) {
		rc = hmf_node_attr_set(n, "hmf.group_names", names,
				       strlen(names), 0);
		if (rc == 0)
			rc = hmf_node_attr_set(n, "hmf.group_sizes", sizes,
					       strlen(sizes), 0);
	} else if (names) {
		hmf_log(HMF_LOG_WARNING,
			"%s: %zu groups: too many to list in hmf.group_names",
			j->q->dest, j->g.ngroups);
	}
	if (rc == 0 && strlen(ingest) <= HMF_ATTR_VALUE_MAX)
		rc = hmf_node_attr_set(n, "hmf.ingest", ingest, strlen(ingest),
				       0);
out:
	free(names);
	free(sizes);
	free(ingest);
	return rc;
}

/* The last name of @path, and its parent path, in @parent (a buffer). */
static const char *split_last(const char *path, char *parent, size_t size)
{
	char *slash;

	snprintf(parent, size, "%s", path);
	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	slash = strrchr(parent, '/');
	if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	return path + (slash - parent) + 1;
}

/* Open group @path, creating what is missing (owned as the job's). */
static int open_groups(struct job *j, const char *path, struct hmf_node **out)
{
	const char *names[HMF_PATH_MAX / 2];
	struct hmf_node *n, *child;
	char buf[HMF_PATH_MAX];
	struct hmf_meta gm;
	int count, i, rc;

	count = hmf_path_split(path, buf, sizeof(buf), names, HMF_PATH_MAX / 2);
	if (count < 0)
		return count;
	rc = hmf_node_open_root(j->r, &n);
	hmf_meta_init(&gm, HMF_KIND_GROUP);
	for (i = 0; rc == 0 && i < count; i++) {
		rc = hmf_node_lookup(n, names[i], &child);
		if (rc == -ENOENT) {
			rc = hmf_node_create(n, names[i], &gm, NULL, 0,
					     j->gowner, 0, &child);
			if (rc == -EEXIST) /* made meanwhile */
				rc = hmf_node_lookup(n, names[i], &child);
		}
		hmf_node_close(n);
		n = rc == 0 ? child : NULL;
	}
	hmf_meta_fini(&gm);
	if (rc == 0 && !hmf_node_is_group(n)) {
		hmf_node_close(n);
		rc = hmf_err(-ENOTDIR, "%s: a parent of dest is an array",
			     path);
	}
	if (rc == 0)
		*out = n;
	return rc;
}

/*
 * Move what was staged into the tree: a new dest in one rename, else each
 * staged child into the existing dest, undoing the moves made so far if
 * one fails.
 */
static int publish(struct job *j)
{
	char parent[HMF_PATH_MAX];
	struct hmf_node *pn = NULL;
	const char *base, *name;
	size_t n, i;
	bool *swapped;
	int rc;

	if (!j->dest) {
		base = split_last(j->q->dest, parent, sizeof(parent));
		rc = open_groups(j, parent, &pn);
		if (rc < 0)
			return rc;
		rc = hmf_node_rename(j->stage, base, pn, base,
				     RENAME_NOREPLACE);
		hmf_node_close(pn);
		if (rc == -EEXIST)
			return hmf_err(rc, "%s was created meanwhile",
				       j->q->dest);
		return rc;
	}
	n = j->g.names ? j->g.ngroups : j->q->narrays;
	swapped = calloc(n + 1, sizeof(*swapped));
	if (!swapped)
		return -ENOMEM;
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		name = j->g.names ? j->g.names[i] : j->q->arrays[i].name;
		rc = hmf_node_rename(j->stage, name, j->dest, name,
				     RENAME_NOREPLACE);
		if (rc == -EEXIST && j->q->overwrite) {
			rc = hmf_node_rename(j->stage, name, j->dest, name,
					     RENAME_EXCHANGE);
			swapped[i] = rc == 0;
		} else if (rc == -EEXIST) {
			rc = hmf_err(rc, "%s/%s exists (use \"overwrite\")",
				     j->q->dest, name);
		}
	}
	if (rc < 0) {
		/* all or nothing: put back what moved (i - 1 failed) */
		for (i = i - 1; i-- > 0;) {
			name = j->g.names ? j->g.names[i]
					  : j->q->arrays[i].name;
			if (hmf_node_rename(j->dest, name, j->stage, name,
					    swapped[i] ? RENAME_EXCHANGE
						       : RENAME_NOREPLACE) < 0)
				hmf_log(HMF_LOG_ERR,
					"%s/%s: could not undo a partial ingest",
					j->q->dest, name);
		}
	}
	free(swapped);
	return rc;
}

static void job_fini(struct job *j)
{
	size_t i;

	if (j->gnodes)
		for (i = 0; i < j->g.ngroups; i++)
			if (j->gnodes[i] && j->gnodes[i] != j->container)
				hmf_node_close(j->gnodes[i]);
	free(j->gnodes);
	if (j->container != j->stage)
		hmf_node_close(j->container);
	hmf_node_close(j->stage);
	if (j->stage_name[0] && hmf_root_unstage(j->r, j->stage_name) < 0)
		hmf_log(HMF_LOG_WARNING, "staging %s left behind",
			j->stage_name);
	hmf_node_close(j->dest);
	if (j->arrays)
		for (i = 0; i < j->q->narrays; i++) {
			free(j->arrays[i].cols);
			ingest_free(j->arrays[i].slots, j->arrays[i].slots_len);
		}
	free(j->arrays);
	ingest_free(j->order.keys, j->nrows * sizeof(*j->order.keys));
	ingest_free(j->order.idx, j->nrows * sizeof(*j->order.idx));
	ingest_groups_fini(&j->g);
	hmf_table_fini(&j->t);
}

static int column_index(const struct job *j, const char *name, ssize_t *out)
{
	*out = -1;
	if (!name)
		return 0;
	*out = find_col(&j->t, name);
	if (*out < 0)
		return hmf_err(-EINVAL, "no column '%s' in the source", name);
	return 0;
}

int hmf_ingest_run(struct hmf_root *r, const struct hmf_ingest_request *q,
		   int srcfd, struct hmf_ingest_progress *p,
		   const atomic_int *stop)
{
	struct job j = { .r = r, .q = q, .p = p, .stop = stop };
	struct hmf_owner gowner = { 0755, q->uid, q->gid };
	struct hmf_owner aowner = { 0644, q->uid, q->gid };
	ssize_t gcol, ocol;
	int rc;

	if (q->owned) {
		j.gowner = &gowner;
		j.aowner = &aowner;
	}
	j.threads = q->threads ? q->threads : pool_default_threads();
	rc = read_source(&j, srcfd);
	j.nrows = j.t.nrows;
	if (rc == 0)
		rc = plan_arrays(&j);
	if (rc == 0)
		rc = column_index(&j, q->groupby, &gcol);
	if (rc == 0)
		rc = column_index(&j, q->orderby, &ocol);
	if (rc == 0 && ocol >= 0)
		rc = ingest_order_check(&j.t.cols[ocol]);
	if (rc == 0)
		rc = ingest_group(&j.t, gcol, j.threads, stop, &j.g);
	if (rc == 0 && p)
		atomic_store(&p->arrays_total, q->narrays * j.g.ngroups);
	if (rc == 0)
		rc = stage_groups(&j);
	if (rc == 0 && !j.dest)
		rc = set_dest_attrs(&j, j.container);
	if (rc == 0)
		rc = partition(&j, ocol);
	/* the rest of the table goes, unless the sort still reads it */
	if (rc == 0 && !j.order.bytes) {
		hmf_table_fini(&j.t);
		j.order.col = NULL;
	}
	/*
	 * With a group for every thread, each task does a whole group (the
	 * threads then seldom wait for the same directory, and only as many
	 * groups are open as there are threads); fewer groups are ordered
	 * first, then written array by array.
	 */
	if (rc == 0 && j.g.ngroups >= j.threads) {
		rc = pool_run(j.threads, j.g.ngroups, whole_group_task, &j,
			      stop);
	} else if (rc == 0) {
		rc = pool_run(j.threads, j.g.ngroups, group_task, &j, stop);
		if (rc == 0)
			rc = pool_run(j.threads, q->narrays * j.g.ngroups,
				      write_task, &j, stop);
	}
	/* what was read from a source that shrank meanwhile is partly zeros */
	if (rc == 0 && atomic_load(&j.source_changed))
		rc = hmf_err(
			-EIO,
			"%s: the source changed (shrank) while it was read; nothing was published",
			q->source);
	if (rc == 0)
		rc = publish(&j);
	/* the data is in place now: a missing attribute does not undo it */
	if (rc == 0 && j.dest && set_dest_attrs(&j, j.dest) < 0)
		hmf_log(HMF_LOG_WARNING,
			"%s: cannot set the hmf.* attributes: %s", q->dest,
			hmf_errmsg());
	job_fini(&j);
	return rc;
}
