/* SPDX-License-Identifier: MIT */
/*
 * table_i.h - what the table readers (csv.c, npy_table.c) share: thread
 * count, the source's name for messages, pandas' column-name mangling,
 * resolving the wanted columns and filling a table's column array.
 */
#ifndef HMF_INGEST_TABLE_I_H
#define HMF_INGEST_TABLE_I_H

#include <stddef.h>

#include "hmf/table.h"

/* Room for a source path in messages. */
#define TABLE_SRC_MAX 512

/* The threads to use: o->threads, else the online CPUs (at least 1). */
unsigned table_threads(const struct hmf_table_opts *o);

/*
 * The path of the file open at @fd (from /proc/self/fd) into @buf, or
 * "fd N" when the link cannot be read: only for messages.
 */
void table_source_name(int fd, char *buf, size_t size);

/*
 * Rename header names as pandas does: an empty name at index i becomes
 * "Unnamed: i"; a name seen before becomes "name.1", "name.2", ...
 * (pandas' mangle_dupe_cols). Replaces entries of @names (malloc'ed
 * strings) in place. Returns 0 or -ENOMEM.
 */
int table_mangle_names(char **names, size_t n);

/*
 * Map o->want onto @names: *@idx (malloc'ed, *@count entries) gets the
 * index in @names of each output column, in the order of o->want (every
 * column in order when o->want is NULL). Returns 0, -EINVAL naming an
 * unknown column (with @src in the message) or -ENOMEM.
 */
int table_resolve(char *const *names, size_t n, const struct hmf_table_opts *o,
		  const char *src, size_t **idx, size_t *count);

/*
 * Give @t @count columns named @names[@idx[i]] (copied), all other fields
 * zero. Returns 0 or -ENOMEM (then @t is unchanged).
 */
int table_set_columns(struct hmf_table *t, char *const *names,
		      const size_t *idx, size_t count);

#endif
