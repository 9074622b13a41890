/* SPDX-License-Identifier: MIT */
/*
 * root.h - an HMF root and the seed's path-based API (DESIGN section 7):
 * hmf_open, hmf_set_group, hmf_set_array, hmf_get_array,
 * hmf_set_node_attr, hmf_get_node_attr, hmf_list, hmf_remove, hmf_rename.
 * Paths start with '/'; parents are created on demand.
 *
 * Thread safety: an open root may be shared by threads. Concurrent writers
 * of one node race as on any filesystem; creation, removal and renames are
 * each one atomic rename.
 */
#ifndef HMF_ROOT_H
#define HMF_ROOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

struct hmf_root;

#define HMF_ROOT_RDONLY 1u   /* refuse every change with -EROFS */
#define HMF_ROOT_CREATE 2u   /* make ROOT an HMF root if missing or empty */
#define HMF_ROOT_TRUNCATE 4u /* erase an HMF root (or empty dir) first */

/*
 * Open the HMF root at @path. Without HMF_ROOT_CREATE a directory that is
 * not an HMF root is -ENOENT (missing) or -EINVAL ("not an HMF root").
 * HMF_ROOT_CREATE / HMF_ROOT_TRUNCATE refuse a non-empty directory that is
 * not an HMF root (-ENOTEMPTY): no foreign data is ever erased. The process
 * umask is read here; a program that changes it later should reopen.
 */
int hmf_root_open(const char *path, unsigned flags, struct hmf_root **out);

/*
 * The seed's open_file: @mode "r" (read-only), "r+" (read-write, must
 * exist), "w+" (create, or erase and recreate), "a" (create if needed).
 * Returns 0 or -EINVAL (bad mode) and the errors of hmf_root_open().
 */
int hmf_open(const char *path, const char *mode, struct hmf_root **out);

/* Close @r (NULL is fine). Data already lives in the page cache. */
void hmf_close(struct hmf_root *r);

/* Flush everything under the root to disk (syncfs). */
int hmf_sync(struct hmf_root *r);

bool hmf_root_is_readonly(const struct hmf_root *r);
/* The root directory's O_PATH descriptor and path; borrowed. */
int hmf_root_fd(const struct hmf_root *r);
const char *hmf_root_path(const struct hmf_root *r);

/*
 * Remove leftover ".hmf.tmp.*" entries older than @min_age seconds
 * anywhere under the root; *@removed counts them (may be NULL).
 */
int hmf_root_clean(struct hmf_root *r, unsigned min_age, size_t *removed);

/*
 * hmf_root_clean() that returns -EINTR as soon as *@stop becomes non-zero
 * (checked between entries), for a walk in a background thread.
 */
int hmf_root_clean_stoppable(struct hmf_root *r, unsigned min_age,
			     const atomic_int *stop, size_t *removed);

#define HMF_STAGE_NAME_LEN 32

/*
 * A fresh private group under ROOT/.hmf.d/staging/ for building nodes out
 * of sight (ingest): *@out is its node (close it with hmf_node_close) and
 * @name its name for hmf_root_unstage(). Children built in it are
 * published with hmf_node_rename() (same filesystem: one rename each).
 */
int hmf_root_stage(struct hmf_root *r, struct hmf_node **out,
		   char name[HMF_STAGE_NAME_LEN]);

/* Remove staging group @name and everything left in it. */
int hmf_root_unstage(struct hmf_root *r, const char *name);

/* Create group @path and missing parents; an existing group is fine. */
int hmf_set_group(struct hmf_root *r, const char *path);

/*
 * Store an array at @path (parents created): dtype @dtype (numpy name or
 * dtype.str), @ndim dimensions @shape, contents @data (prod(shape) *
 * itemsize bytes, C order; NULL: zeros). An existing array at @path is
 * replaced atomically; a group there is -EISDIR.
 */
int hmf_set_array(struct hmf_root *r, const char *path, const char *dtype,
		  int ndim, const uint64_t *shape, const void *data);

/* A memory-mapped array (hmf_get_array fills it; hmf_view_fini frees). */
struct hmf_view {
	void *data; /* NULL when nbytes is 0 */
	uint64_t nbytes;
	struct hmf_dtype dtype;
	int ndim;
	uint64_t shape[HMF_MAX_NDIM];
	char order;
	bool writable;
};

#define HMF_VIEW_RDONLY 0
#define HMF_VIEW_RDWR 1

/*
 * Map the array at @path (a shared mapping of its data: not a copy) with
 * dtype and shape derived as DESIGN section 2 says. HMF_VIEW_RDWR writes
 * go straight to the file (-EROFS on a read-only root).
 */
int hmf_get_array(struct hmf_root *r, const char *path, int flags,
		  struct hmf_view *v);
void hmf_view_fini(struct hmf_view *v);

/* Set attribute @key of node @path to @len bytes of @val. */
int hmf_set_node_attr(struct hmf_root *r, const char *path, const char *key,
		      const void *val, size_t len);

/*
 * Attribute @key of node @path: a malloc'ed copy (NUL-terminated, caller
 * frees) in *@val and its length in *@len (may be NULL). -ENODATA when
 * missing.
 */
int hmf_get_node_attr(struct hmf_root *r, const char *path, const char *key,
		      char **val, size_t *len);

/* Children of group @path (free with hmf_dirents_free). */
int hmf_list(struct hmf_root *r, const char *path, struct hmf_dirent **ents,
	     size_t *count);

/* Remove the node at @path and everything below it. */
int hmf_remove(struct hmf_root *r, const char *path);

/* Move node @from to @to (parents of @to created); @flags as renameat2. */
int hmf_rename(struct hmf_root *r, const char *from, const char *to,
	       unsigned flags);

#endif
