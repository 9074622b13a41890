/* SPDX-License-Identifier: MIT */
/*
 * source.c - opening an ingest source and the checks made before a job
 * starts (columns exist, names do not collide), from the source's header.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hmf/error.h"
#include "hmf/ingest.h"
#include "hmf/node.h"

int hmf_ingest_open_source(struct hmf_root *r,
			   const struct hmf_ingest_request *q, int *fd)
{
	struct hmf_node *n;
	struct stat st;
	int f, rc;

	if (q->format == HMF_INGEST_HMF) {
		rc = hmf_node_open(r, q->source, &n);
		if (rc < 0)
			return rc;
		rc = hmf_node_data_open(n, O_RDONLY, fd);
		hmf_node_close(n);
		return rc;
	}
	f = open(q->source, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f < 0)
		return hmf_err(-errno, "%s: %s", q->source,
			       strerrordesc_np(errno));
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return hmf_err(S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			       "%s: not a regular file", q->source);
	}
	*fd = f;
	return 0;
}

/* Column names of an NPY source, from its header. */
static int npy_names(int fd, char ***names, size_t *count)
{
	char head[16], *buf;
	struct hmf_npy h;
	size_t total, i, k = 0;
	ssize_t n;
	char **v;
	int rc;

	n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return -errno;
	rc = hmf_npy_header_len(head, (size_t)n, &total);
	if (rc == -EAGAIN)
		rc = hmf_err(-EINVAL, "NPY source is truncated");
	if (rc < 0)
		return rc;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, total, 0);
	rc = n == (ssize_t)total ? hmf_npy_parse(buf, total, &h)
				 : hmf_err(-EINVAL, "NPY source is truncated");
	free(buf);
	if (rc < 0)
		return rc;
	if (h.nfields)
		k = h.nfields;
	else if (h.ndim == 2)
		k = h.shape[1];
	else if (h.ndim == 1)
		k = 1;
	else
		rc = hmf_err(-EINVAL, "NPY source must be 1-D or 2-D");
	v = rc == 0 ? calloc(k + 1, sizeof(*v)) : NULL;
	for (i = 0; v && i < k; i++) {
		if (h.nfields)
			v[i] = strdup(h.fields[i].name);
		else if (asprintf(&v[i], "%zu", i) < 0)
			v[i] = NULL;
		if (!v[i])
			break;
	}
	hmf_npy_fini(&h);
	if (rc < 0)
		return rc;
	if (!v || i < k) {
		hmf_table_names_free(v, i);
		return -ENOMEM;
	}
	*names = v;
	*count = k;
	return 0;
}

/* Column names of an "hmf:" source: "0".."k-1" of a 1-D or 2-D array. */
static int hmf_names(struct hmf_root *r, const char *path, char ***names,
		     size_t *count)
{
	struct hmf_node *n;
	struct hmf_meta m;
	size_t k, i;
	char **v;
	int rc;

	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		return rc;
	rc = hmf_node_meta(n, &m);
	hmf_node_close(n);
	if (rc < 0)
		return rc;
	k = m.ndim == 2 ? m.shape[1] : 1;
	if (m.ndim != 1 && m.ndim != 2)
		rc = hmf_err(-EINVAL, "%s: a source array must be 1-D or 2-D",
			     path);
	hmf_meta_fini(&m);
	if (rc < 0)
		return rc;
	v = calloc(k + 1, sizeof(*v));
	for (i = 0; v && i < k; i++)
		if (asprintf(&v[i], "%zu", i) < 0)
			break;
	if (!v || i < k) {
		hmf_table_names_free(v, i);
		return -ENOMEM;
	}
	*names = v;
	*count = k;
	return 0;
}

static bool has(char **names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static int check_columns(const struct hmf_ingest_request *q, char **names,
			 size_t n)
{
	const char *missing = NULL;
	size_t i, k;

	for (i = 0; i < q->narrays && !missing; i++)
		for (k = 0; k < q->arrays[i].ncols && !missing; k++)
			if (!has(names, n, q->arrays[i].cols[k]))
				missing = q->arrays[i].cols[k];
	for (i = 0; i < q->ndtypes && !missing; i++)
		if (!has(names, n, q->dtype_cols[i]))
			missing = q->dtype_cols[i];
	if (!missing && q->groupby && !has(names, n, q->groupby))
		missing = q->groupby;
	if (!missing && q->orderby && !has(names, n, q->orderby))
		missing = q->orderby;
	if (missing)
		return hmf_err(-EINVAL, "no column '%s' in %s%s", missing,
			       q->format == HMF_INGEST_HMF ? "hmf:" : "",
			       q->source);
	return 0;
}

static int check_dest(struct hmf_root *r, const struct hmf_ingest_request *q)
{
	struct hmf_node *d, *c;
	size_t i;
	int rc;

	rc = hmf_node_open(r, q->dest, &d);
	if (rc == -ENOENT)
		return 0; /* made by the job */
	if (rc < 0)
		return rc;
	if (!hmf_node_is_group(d))
		rc = hmf_err(-ENOTDIR, "dest %s is an array", q->dest);
	/* sub-group names are known only once the source is read */
	for (i = 0; rc == 0 && !q->groupby && !q->overwrite && i < q->narrays;
	     i++) {
		if (hmf_node_lookup(d, q->arrays[i].name, &c) == 0) {
			hmf_node_close(c);
			rc = hmf_err(-EEXIST,
				     "%s/%s exists (use \"overwrite\")",
				     q->dest, q->arrays[i].name);
		}
	}
	hmf_node_close(d);
	return rc;
}

int hmf_ingest_validate(struct hmf_root *r, const struct hmf_ingest_request *q,
			int srcfd)
{
	struct hmf_table_opts o = { 0 };
	size_t n = 0;
	char **names = NULL;
	int rc;

	o.delimiter = q->delimiter;
	o.header = q->header;
	o.threads = 1;
	if (q->format == HMF_INGEST_CSV)
		rc = hmf_csv_names(srcfd, &o, &names, &n);
	else if (q->format == HMF_INGEST_NPY)
		rc = npy_names(srcfd, &names, &n);
	else
		rc = hmf_names(r, q->source, &names, &n);
	if (rc == 0)
		rc = check_columns(q, names, n);
	hmf_table_names_free(names, n);
	if (rc == 0)
		rc = check_dest(r, q);
	return rc;
}
