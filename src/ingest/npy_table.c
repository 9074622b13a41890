/* SPDX-License-Identifier: MIT */
/*
 * npy_table.c - NPY files and raw array bytes as tables: columns are views
 * into a read-only mapping of the file, never copies. The header is parsed
 * by hmf_npy_parse (lib/npy.c); converting dtypes is left to the engine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guard_i.h"
#include "hmf/error.h"
#include "hmf/npy.h"
#include "table_i.h"

/* What a view table is cut from. */
struct view_src {
	const struct hmf_dtype *dtype;
	const struct hmf_npy_field *fields;
	size_t nfields;
	int ndim;
	const uint64_t *shape;
	bool fortran;
};

static int check_shape(const struct view_src *v, const char *src)
{
	if (v->ndim != 1 && v->ndim != 2)
		return hmf_err(-EINVAL,
			       "%s: a table needs a 1-D or 2-D array, not %d-D",
			       src, v->ndim);
	if (v->nfields && v->ndim != 1)
		return hmf_err(
			-EINVAL,
			"%s: a structured array must be 1-D to be a table",
			src);
	if (v->dtype->itemsize == 0)
		return hmf_err(-EINVAL, "%s: items of 0 bytes", src);
	return 0;
}

/* The column names: field names, or "0".."k-1". */
static int view_names(const struct view_src *v, char ***out, size_t *count)
{
	size_t i, n = v->nfields ? v->nfields : v->ndim == 2 ? v->shape[1] : 1;
	char **names;

	names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (v->nfields) {
			names[i] = strdup(v->fields[i].name);
		} else {
			names[i] = malloc(24);
			if (names[i])
				snprintf(names[i], 24, "%zu", i);
		}
		if (!names[i]) {
			hmf_table_names_free(names, i);
			return -ENOMEM;
		}
	}
	*out = names;
	*count = n;
	return 0;
}

/*
 * Fill @out with views of the items at @data; on success @out owns @map
 * (@maplen bytes, may be NULL for an empty array).
 */
static int view_table(const struct view_src *v, void *map, size_t maplen,
		      const unsigned char *data, const struct hmf_table_opts *o,
		      const char *src, struct hmf_table *out)
{
	size_t i, j, ncols, nnames, *idx = NULL;
	uint64_t nrows = v->shape[0];
	size_t isz = v->dtype->itemsize;
	struct hmf_table t;
	char **names;
	int rc;

	rc = view_names(v, &names, &nnames);
	if (rc < 0)
		return rc;
	rc = table_resolve(names, nnames, o, src, &idx, &ncols);
	if (rc < 0)
		goto out_names;
	rc = table_set_columns(&t, names, idx, ncols);
	if (rc < 0)
		goto out_idx;
	for (i = 0; i < ncols; i++) {
		struct hmf_column *c = &t.cols[i];

		size_t off;

		j = idx[i];
		c->dtype = v->nfields ? v->fields[j].dtype : *v->dtype;
		c->stride = isz;
		if (v->nfields) {
			off = v->fields[j].offset;
		} else if (v->ndim == 1) {
			off = 0;
		} else if (v->fortran) {
			/* column j is contiguous, after j whole columns */
			off = j * (size_t)nrows * isz;
		} else {
			off = j * isz;
			c->stride = (size_t)v->shape[1] * isz;
		}
		/* no rows: no data (and no mapping) */
		c->data = data ? data + off : NULL;
	}
	t.nrows = nrows;
	t.owned = map;
	t.owned_len = maplen;
	t.owned_is_map = map != NULL;
	*out = t;
out_idx:
	free(idx);
out_names:
	hmf_table_names_free(names, nnames);
	return rc;
}

/* Prefix this thread's last message with the source: "SRC: message". */
static int err_in(int rc, const char *src)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", hmf_errmsg());
	return hmf_err(rc, "%s: %s", src, msg);
}

static void progress_done(struct hmf_table_progress *p, uint64_t rows,
			  uint64_t bytes)
{
	if (!p)
		return;
	atomic_store(&p->source_bytes, bytes);
	atomic_store(&p->source_bytes_read, bytes);
	atomic_store(&p->rows, rows);
}

static int raw_read(int fd, uint64_t offset, const struct view_src *v,
		    const struct hmf_table_opts *o,
		    struct hmf_table_progress *p, struct hmf_table *out)
{
	char src[TABLE_SRC_MAX];
	uint64_t nbytes, moff;
	size_t maplen = 0;
	long pg = sysconf(_SC_PAGESIZE);
	void *map = NULL;
	struct stat st;
	unsigned guard;
	int rc;

	table_source_name(fd, src, sizeof(src));
	rc = check_shape(v, src);
	if (rc < 0)
		return rc;
	if (hmf_dtype_nbytes(v->dtype, v->ndim, v->shape, &nbytes) < 0)
		return hmf_err(-EINVAL, "%s: the array is too large", src);
	if (fstat(fd, &st) < 0)
		return hmf_err(-errno, "%s: %s", src, "cannot stat");
	if (!S_ISREG(st.st_mode))
		return hmf_err(-EINVAL, "%s: not a regular file", src);
	if (offset > (uint64_t)st.st_size ||
	    nbytes > (uint64_t)st.st_size - offset)
		return hmf_err(
			-EINVAL,
			"%s: %llu bytes of data expected at offset %llu, the file has %llu",
			src, (unsigned long long)nbytes,
			(unsigned long long)offset,
			(unsigned long long)st.st_size);
	moff = offset & ~(uint64_t)(pg - 1);
	if (nbytes) {
		maplen = (size_t)(offset - moff + nbytes);
		map = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd,
			   (off_t)moff);
		if (map == MAP_FAILED) {
			rc = -errno;
			return hmf_err(rc == -ENODEV ? -EINVAL : rc,
				       "%s: cannot map the data", src);
		}
	}
	/* the views read the mapping until the table is released */
	guard = map && o ? ingest_guard_add(map, maplen, o->source_changed) : 0;
	rc = view_table(v, map, maplen,
			map ? (unsigned char *)map + (offset - moff) : NULL, o,
			src, out);
	if (rc < 0) {
		ingest_guard_remove(guard);
		if (map)
			munmap(map, maplen);
		return rc;
	}
	out->guard = guard;
	progress_done(p, v->shape[0], nbytes);
	return 0;
}

int hmf_raw_read_table(int fd, uint64_t offset, const struct hmf_dtype *dtype,
		       const struct hmf_npy_field *fields, size_t nfields,
		       int ndim, const uint64_t *shape, bool fortran,
		       const struct hmf_table_opts *o,
		       struct hmf_table_progress *p, struct hmf_table *out)
{
	struct view_src v = { dtype, fields, nfields, ndim, shape, fortran };

	return raw_read(fd, offset, &v, o, p, out);
}

int hmf_npy_read_table(int fd, const struct hmf_table_opts *o,
		       struct hmf_table_progress *p, struct hmf_table *out)
{
	char src[TABLE_SRC_MAX];
	unsigned char head[HMF_NPY_MAGIC_LEN + 6];
	unsigned char *buf;
	struct view_src v;
	struct hmf_npy n;
	struct stat st;
	size_t total;
	ssize_t got;
	int rc;

	table_source_name(fd, src, sizeof(src));
	if (fstat(fd, &st) < 0)
		return hmf_err(-errno, "%s: cannot stat", src);
	if (!S_ISREG(st.st_mode))
		return hmf_err(-EINVAL, "%s: not a regular file", src);
	got = pread(fd, head, sizeof(head), 0);
	if (got < 0)
		return hmf_err(-errno, "%s: cannot read", src);
	rc = hmf_npy_header_len(head, (size_t)got, &total);
	if (rc == -EAGAIN)
		return hmf_err(-EINVAL, "%s: not an NPY file (too short)", src);
	if (rc < 0)
		return err_in(rc, src);
	/* the header is at most 1 MiB (hmf_npy_header_len checked) */
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	got = pread(fd, buf, total, 0);
	if (got < 0) {
		rc = hmf_err(-errno, "%s: cannot read", src);
		goto out_buf;
	}
	rc = hmf_npy_parse(buf, (size_t)got, &n);
	if (rc == -EAGAIN)
		rc = hmf_err(-EINVAL, "%s: the NPY header is truncated", src);
	else if (rc == -EINVAL)
		rc = err_in(rc, src);
	if (rc < 0)
		goto out_buf;
	v.dtype = &n.dtype;
	v.fields = n.fields;
	v.nfields = n.nfields;
	v.ndim = n.ndim;
	v.shape = n.shape;
	v.fortran = n.fortran_order;
	rc = raw_read(fd, n.header_len, &v, o, p, out);
	hmf_npy_fini(&n);
out_buf:
	free(buf);
	return rc;
}
