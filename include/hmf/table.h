/* SPDX-License-Identifier: MIT */
/*
 * table.h - a table of named, typed columns read from a source file (CSV or
 * NPY) for ingest. The readers live in src/ingest/ (csv.c, npy_table.c);
 * the ingest engine consumes the columns.
 *
 * A column is @nrows values of @dtype, the first at @data, each @stride
 * bytes after the previous one (a CSV column is packed, stride = itemsize;
 * a column of a 2-D C-order NPY source is a strided view into the mapped
 * file). Values keep the source's byte order (see dtype.byteorder).
 */
#ifndef HMF_TABLE_H
#define HMF_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "npy.h"

struct hmf_column {
	char *name;
	struct hmf_dtype dtype; /* <i8, <u8, <f8, |S<n>, or as "dtypes" asked */
	const unsigned char *data;
	size_t stride;
};

struct hmf_table {
	uint64_t nrows;
	size_t ncols;
	struct hmf_column *cols;
	/* private to the reader: what to release */
	void *owned; /* one malloc'ed or mmap'ed block, or NULL */
	size_t owned_len;
	bool owned_is_map;
	unsigned guard; /* the owned map's guard (guard_i.h), or 0 */
	void **bufs;	/* further malloc'ed column buffers */
	size_t nbufs;
};

/* Live counters of a read (may be NULL); updated as the work goes. */
struct hmf_table_progress {
	atomic_uint_fast64_t rows;
	atomic_uint_fast64_t source_bytes_read;
	atomic_uint_fast64_t source_bytes;
};

/* How to read a source. */
struct hmf_table_opts {
	char delimiter;	  /* CSV: one byte; default ',' */
	bool header;	  /* CSV: the first row names the columns (default
			    true; without it columns are "0", "1", ...) */
	unsigned threads; /* 0: online CPUs */
	/*
	 * columns to load (NULL: all), in this order; names as in the header
	 * (a name given twice gives two columns sharing one array)
	 */
	const char *const *want;
	size_t nwant;
	/* explicit dtypes for some columns (parallel arrays) */
	const char *const *dtype_cols;
	const struct hmf_dtype *dtypes;
	size_t ndtypes;
	/* checked between chunks: a non-zero value stops the read (-EINTR) */
	const atomic_int *stop;
	/*
	 * set (NULL: not reported) when the source shrank under a mapping
	 * that the table still uses (hmf_ingest_catch_sigbus, ingest.h): its
	 * values are then partly zeros
	 */
	atomic_bool *source_changed;
};

/*
 * The column names of the CSV at @fd (the header row, or "0".."k-1" from
 * the first row without a header) in a malloc'ed array of malloc'ed
 * strings (free with hmf_table_names_free). Returns 0, -EINVAL (with the
 * line in the message), -EIO, -ENOMEM.
 */
int hmf_csv_names(int fd, const struct hmf_table_opts *o, char ***names,
		  size_t *count);
void hmf_table_names_free(char **names, size_t count);

/*
 * Read the CSV at @fd (RFC 4180: quoted fields with embedded delimiters,
 * quotes and newlines; CRLF; empty fields are NaN in float columns) into
 * @out, in parallel chunks. Column types are inferred: int64 (uint64 when
 * a value exceeds int64 and none is negative, as pandas), else float64,
 * else |S<longest> (or as o->dtypes say: b1, i1-i8, u1-u8, f4, f8 or
 * S<n>). Floats are correctly rounded. Returns 0, -EINVAL (a malformed
 * row or a bad value: the message names its line and column; an unknown
 * wanted column), -EINTR, -ENOMEM, -EIO. Release with hmf_table_fini().
 */
int hmf_csv_read(int fd, const struct hmf_table_opts *o,
		 struct hmf_table_progress *p, struct hmf_table *out);

/*
 * Read the NPY file at @fd as a table: a structured array gives one
 * column per field, a 2-D array columns "0".."k-1", a 1-D array column
 * "0". Columns are views into a read-only mapping of the file (no copy);
 * Fortran order is honoured. Returns 0, -EINVAL (not NPY, unsupported
 * dtype or shape, data shorter than the header says), -ENOMEM, -EIO.
 */
int hmf_npy_read_table(int fd, const struct hmf_table_opts *o,
		       struct hmf_table_progress *p, struct hmf_table *out);

/*
 * The same for raw array bytes at @offset of @fd (an HMF array's data, as
 * for "hmf:/path" sources): items of @dtype (with @nfields @fields when
 * structured, else NULL/0), @ndim (1 or 2) dimensions @shape, @fortran
 * order. hmf_npy_read_table() is this after parsing the header.
 */
int hmf_raw_read_table(int fd, uint64_t offset, const struct hmf_dtype *dtype,
		       const struct hmf_npy_field *fields, size_t nfields,
		       int ndim, const uint64_t *shape, bool fortran,
		       const struct hmf_table_opts *o,
		       struct hmf_table_progress *p, struct hmf_table *out);

/*
 * Release the memory behind column @i now, if it has a buffer of its own
 * that no other column shares (a CSV column); a view into a mapping (NPY)
 * stays until hmf_table_fini(). Either way the column's data must not be
 * read afterwards. For a caller that is done with some columns and needs
 * memory for others: freed pages are the cheap ones to use again.
 */
void hmf_table_drop_column(struct hmf_table *t, size_t i);

/* Release what @t owns. Accepts a zeroed struct. */
void hmf_table_fini(struct hmf_table *t);

#endif
