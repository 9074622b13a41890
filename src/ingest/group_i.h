/* SPDX-License-Identifier: MIT */
/*
 * group_i.h - ingest's row order: one group per distinct value of a column
 * (sorted), rows ordered by another column within each group. The rows are
 * moved once, in table order, into their group's slots (ingest_partition),
 * and each group is then ordered on its own (ingest_sort): both passes
 * stay within memory that the caches can hold, instead of reading the
 * table at random.
 */
#ifndef HMF_INGEST_GROUP_I_H
#define HMF_INGEST_GROUP_I_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hmf/table.h"

struct ingest_groups {
	uint64_t nrows;
	size_t ngroups;
	/* group g owns the slots start[g] .. start[g] + count[g] - 1 */
	uint64_t *start;
	uint64_t *count;
	char **names; /* percent-encoded sub-group names; NULL without
			 groupby */
	/*
	 * Where each row goes. The rows are cut into @nparts parts
	 * (part[p] .. part[p + 1] - 1), one per thread. gid[row] numbers a
	 * row's group within its part, rank[p] maps that to the group, and
	 * first[p * ngroups + g] is the slot of the first row of part p in
	 * group g. Without groupby: gid and rank are NULL, slot = row.
	 */
	unsigned nparts;
	uint64_t *part;
	uint32_t *gid;
	uint32_t **rank;
	uint64_t *first;
};

/*
 * Group the rows of @t by column @gcol (-1: one group of all rows) on up
 * to @threads threads. Groups are sorted by value and named after it:
 * integers in decimal, floats in their shortest round-trip form, bools
 * True/False, bytes as they are; '/', '%' and a leading '.'
 * percent-encoded. Returns 0, -EINVAL (a column of a dtype that cannot be
 * grouped, an empty or too long name, too many groups), -ENOMEM, -EINTR.
 */
int ingest_group(const struct hmf_table *t, ssize_t gcol, unsigned threads,
		 const atomic_int *stop, struct ingest_groups *out);
void ingest_groups_fini(struct ingest_groups *g);

/* One column going into one array: item c of each row of the array. */
struct ingest_lane {
	const struct hmf_column *col;
	const struct hmf_dtype *to; /* the array's dtype */
	unsigned char *dst;	    /* slot s is at dst + s * dst_stride */
	size_t dst_stride;
};

/*
 * The order keys of the rows: @keys (nrows entries, by slot) and, once
 * sorted, @idx (nrows entries, by slot: slot start[g] + i of the output
 * takes the row in slot start[g] + idx[start[g] + i]).
 */
struct ingest_order {
	const struct hmf_column *col;
	bool ascending;
	/*
	 * set by ingest_partition: the keys are rows, compared in @col by
	 * the sort (byte strings), so the table must stay until then
	 */
	bool bytes;
	uint64_t *keys;
	uint32_t *idx;
};

/* -EINVAL (with a message) when column @c cannot order rows. */
int ingest_order_check(const struct hmf_column *c);

/*
 * Move every row of the table into its slot: for each lane, the column's
 * values converted into the array's dtype; with @o, each row's order key
 * into o->keys. Stable: a group's slots hold its rows in table order.
 * Runs on up to @threads threads. Returns 0, -ENOMEM or -EINTR.
 */
int ingest_partition(const struct ingest_groups *g, struct ingest_order *o,
		     const struct ingest_lane *lanes, size_t nlanes,
		     unsigned threads, const atomic_int *stop);

/*
 * Order group @gi by o->keys into o->idx (o->col is only read when
 * o->bytes): stable, NaN last either way. Returns 0 or -ENOMEM.
 */
int ingest_sort(const struct ingest_groups *g, const struct ingest_order *o,
		size_t gi);

#endif
