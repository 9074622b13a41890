/* SPDX-License-Identifier: MIT */
/*
 * group_i.h - ingest's row order: one group per distinct value of a column
 * (sorted), rows ordered by another column within each group.
 */
#ifndef HMF_INGEST_GROUP_I_H
#define HMF_INGEST_GROUP_I_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hmf/table.h"

struct ingest_groups {
	uint64_t *perm; /* every row, in output order */
	uint64_t nrows;
	size_t ngroups;
	uint64_t *start; /* group g is perm[start[g] .. start[g]+count[g]) */
	uint64_t *count;
	char **names; /* percent-encoded sub-group names; NULL without
			 groupby */
};

/*
 * Order the rows of @t: grouped by column @gcol (-1: one group of all
 * rows), each group ordered by column @ocol (-1: source order), ascending
 * or not; the order is stable and NaN sorts last either way. Groups are
 * sorted by value and named after it: integers in decimal, floats in
 * their shortest round-trip form, bools True/False, bytes as they are;
 * '/', '%' and a leading '.' percent-encoded. Returns 0, -EINVAL (a
 * column of a dtype that cannot be grouped or ordered, an empty or too
 * long name), -ENOMEM, -EINTR.
 */
int ingest_group(const struct hmf_table *t, ssize_t gcol, ssize_t ocol,
		 bool ascending, unsigned threads, const atomic_int *stop,
		 struct ingest_groups *out);
void ingest_groups_fini(struct ingest_groups *g);

#endif
