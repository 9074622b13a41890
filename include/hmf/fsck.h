/* SPDX-License-Identifier: MIT */
/*
 * fsck.h - check an HMF root against the on-disk format (DESIGN section 2)
 * and repair what can be repaired without losing a byte: stale shapes,
 * leftover temporaries, a missing private directory. Corrupt metadata,
 * arrays without data and stray entries are only reported: deciding what
 * they should be is the user's call, and user data is never deleted.
 * Printing the findings is left to the caller (hmf fsck).
 */
#ifndef HMF_FSCK_H
#define HMF_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmf_root;

enum hmf_fsck_kind {
	/* ".hmf" unreadable or corrupt: not repairable; not descended into */
	HMF_FSCK_BAD_META = 1,
	/* data size differs from the stored shape: repair stores the shape
	 * that the size implies (hmf_node_sync_shape) */
	HMF_FSCK_BAD_SHAPE,
	/* an array without a regular "data" file: not repairable */
	HMF_FSCK_NO_DATA,
	/* a file, link or directory in a group (or array) that is not a node
	 * nor a part of one: reported only, never deleted */
	HMF_FSCK_STRAY,
	/* a ".hmf.tmp.*" entry left by an interrupted change: repair removes it */
	HMF_FSCK_LEFTOVER,
	/* ROOT/.hmf.d is missing (or not a directory): repair creates it */
	HMF_FSCK_NO_PRIVATE_DIR,
	/* a node directory that cannot be listed: not repairable */
	HMF_FSCK_UNREADABLE,
};

/* One problem, as passed to the report callback (valid during the call). */
struct hmf_fsck_issue {
	enum hmf_fsck_kind kind;
	const char *path; /* relative to ROOT, "/a/b" ("/" is ROOT) */
	const char
		*message; /* what is wrong; for BAD_SHAPE the derived shape */
	int error;	  /* BAD_META, UNREADABLE: the -errno; else 0 */
	bool repairable;  /* HMF_FSCK_REPAIR fixes this kind */
	bool repaired;	  /* ... and did */
	int repair_error; /* 0, or the -errno of a repair that failed */
	const char *repair_message; /* "" or what the repair did / why not */
};

struct hmf_fsck_summary {
	size_t groups, arrays; /* nodes checked (ROOT counts as a group) */
	uint64_t data_bytes;   /* total size of the arrays' data */
	size_t issues;	       /* problems found */
	size_t repaired;       /* ... of which repaired */
	size_t repairable;     /* ... of which HMF_FSCK_REPAIR would repair */
};

#define HMF_FSCK_REPAIR 1u

/*
 * A short, stable, greppable name for @kind ("bad-meta", "bad-shape",
 * "no-data", "stray", "leftover", "no-private-dir", "unreadable"), or "?".
 */
const char *hmf_fsck_kind_name(enum hmf_fsck_kind kind);

/*
 * Walk the whole tree of @r (never following symlinks, never entering
 * ROOT/.hmf.d) and call @report (may be NULL) once per problem found, in
 * name order. With HMF_FSCK_REPAIR, repairable problems are repaired
 * before they are reported, and afterwards hmf_root_clean() with age 0
 * removes every other leftover (an interrupted ingest's staging too): run
 * it only while no other program writes the root. Fills *@out (may be
 * NULL). Returns 0 when the walk completed, whatever it found; -EROFS
 * (repairing a read-only root), -ENOMEM, or the -errno of listing ROOT.
 * Not meant to run concurrently with itself on one root.
 */
int hmf_fsck_run(struct hmf_root *r, unsigned flags,
		 void (*report)(const struct hmf_fsck_issue *issue, void *arg),
		 void *arg, struct hmf_fsck_summary *out);

#endif
