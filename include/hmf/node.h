/* SPDX-License-Identifier: MIT */
/*
 * node.h - nodes by handle, for callers that walk the tree themselves (the
 * mount keeps one per inode). A node holds an O_PATH descriptor of its
 * directory, so it follows renames. Once the node is removed or replaced,
 * the handle answers -ENOENT (like a stale NFS handle; -EIO stays for a
 * node whose .hmf or data is missing in the tree); data descriptors opened
 * before keep working. Its metadata is cached and re-read only when ".hmf"
 * changed on disk.
 *
 * Thread safety: a struct hmf_node may be shared by threads; metadata
 * updates through it are serialised by its internal lock. Two handles of
 * one node (or two processes) race like any read-modify-write on files.
 */
#ifndef HMF_NODE_H
#define HMF_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "meta.h"

struct hmf_root;
struct hmf_node;

/* Who owns a new node and with which permission bits. */
struct hmf_owner {
	mode_t mode; /* permission bits (07777), umask already applied */
	uid_t uid;   /* (uid_t)-1: leave as the creating process */
	gid_t gid;   /* (gid_t)-1: likewise */
};

struct hmf_dirent {
	char *name;
	enum hmf_kind kind;
	ino_t ino; /* of the child's backing directory */
};

/* The root group. Caller closes it with hmf_node_close(). */
int hmf_node_open_root(struct hmf_root *r, struct hmf_node **out);

/*
 * Open the node at @path (see path.h). Returns 0, -ENOENT, -ENOTDIR (an
 * array on the way), -EINVAL, -EIO (corrupt metadata; logged) ...
 */
int hmf_node_open(struct hmf_root *r, const char *path, struct hmf_node **out);

/*
 * Open child @name of group @parent. Returns 0, -ENOENT (missing, or not
 * a node), -ENOTDIR (@parent is an array), -EINVAL / -ENAMETOOLONG (bad
 * name), -EIO (corrupt metadata) ...
 */
int hmf_node_lookup(struct hmf_node *parent, const char *name,
		    struct hmf_node **out);

/* Release @n (NULL is fine). */
void hmf_node_close(struct hmf_node *n);

enum hmf_kind hmf_node_kind(const struct hmf_node *n);
bool hmf_node_is_group(const struct hmf_node *n);

/* The node's O_PATH directory descriptor; borrowed. */
int hmf_node_fd(const struct hmf_node *n);

/* The root that @n belongs to; borrowed. */
struct hmf_root *hmf_node_root(const struct hmf_node *n);

/*
 * stat() as the mount shows it: a group is its backing directory; an array
 * is a regular file with the mode, owner, times and size of its "data".
 */
int hmf_node_stat(struct hmf_node *n, struct stat *st);

/*
 * A copy of the node's metadata in @out (caller runs hmf_meta_fini). For an
 * array, shape is derived from the data size (DESIGN section 2).
 */
int hmf_node_meta(struct hmf_node *n, struct hmf_meta *out);

/*
 * Read-modify-write the metadata under the node's lock: @fn edits the
 * current metadata as stored (the shape is not re-derived first); if it
 * returns 0 the result is saved atomically, else its negative errno is
 * returned and nothing changes.
 */
int hmf_node_update(struct hmf_node *n,
		    int (*fn)(struct hmf_meta *m, void *arg), void *arg);

/*
 * Create child @name of group @parent from @meta (kind, and for arrays
 * dtype/shape/order), atomically: a temporary directory is filled, then
 * renamed into place without replacing anything. For an array, @data of
 * @len bytes becomes its contents (NULL: zero-filled to the shape's size).
 * @owner may be NULL (process defaults under the umask). With
 * HMF_CREATE_REPLACE an existing array of that name is replaced atomically
 * (readers see the old or the new one, never neither); otherwise an
 * existing name is -EEXIST. @out may be NULL. Returns 0, -EEXIST,
 * -EISDIR, -ENOTDIR, -EINVAL, -EOVERFLOW, -EROFS, -ENOSPC ...
 */
#define HMF_CREATE_REPLACE 1u
int hmf_node_create(struct hmf_node *parent, const char *name,
		    const struct hmf_meta *meta, const void *data, uint64_t len,
		    const struct hmf_owner *owner, unsigned flags,
		    struct hmf_node **out);

/*
 * hmf_node_create() for an array whose contents come from file @fd: the
 * shape's bytes starting at offset @off (copy_file_range, else pread), so
 * a large array is never held in memory, and copied before the node
 * appears, so readers never see it half-filled. @fd's file position is
 * not used. Returns hmf_node_create()'s errors, -EINVAL (@meta is not an
 * array, or the file ends before the shape's bytes; with a message), -EIO
 * or another -errno of reading @fd.
 */
int hmf_node_create_fd(struct hmf_node *parent, const char *name,
		       const struct hmf_meta *meta, int fd, uint64_t off,
		       const struct hmf_owner *owner, unsigned flags,
		       struct hmf_node **out);

/*
 * Remove child @name of @parent. @flags: HMF_RM_GROUP (must be a group,
 * else -ENOTDIR; like rmdir), HMF_RM_ARRAY (must be an array, else
 * -EISDIR; like unlink), HMF_RM_RECURSIVE (a group with children too;
 * otherwise a non-empty group is -ENOTEMPTY). The node disappears in one
 * rename; open handles of it keep working.
 */
#define HMF_RM_GROUP 1u
#define HMF_RM_ARRAY 2u
#define HMF_RM_RECURSIVE 4u
int hmf_node_remove(struct hmf_node *parent, const char *name, unsigned flags);

/*
 * Move child @name of @parent to @newname in @newparent. @flags as
 * renameat2: 0 replaces an existing target of the same kind (an array, or
 * an empty group) atomically for readers of the target; RENAME_NOREPLACE
 * fails with -EEXIST; RENAME_EXCHANGE swaps the two. Kind mismatches give
 * -EISDIR / -ENOTDIR, a non-empty target group -ENOTEMPTY, moving a group
 * into itself -EINVAL.
 */
int hmf_node_rename(struct hmf_node *parent, const char *name,
		    struct hmf_node *newparent, const char *newname,
		    unsigned flags);

/*
 * The children of group @n, in directory order, in a malloc'ed array of
 * *@count entries (free with hmf_dirents_free). Entries that are not nodes
 * are skipped.
 */
int hmf_node_list(struct hmf_node *n, struct hmf_dirent **ents, size_t *count);
void hmf_dirents_free(struct hmf_dirent *ents, size_t count);

/* Attribute access (values are bytes; see meta.h for the limits). */
int hmf_node_attr_get(struct hmf_node *n, const char *key, void **val,
		      size_t *len);
int hmf_node_attr_set(struct hmf_node *n, const char *key, const void *val,
		      size_t len, int flags);
int hmf_node_attr_remove(struct hmf_node *n, const char *key);
/* All keys, each NUL-terminated, back to back, in *@keys (malloc'ed). */
int hmf_node_attr_list(struct hmf_node *n, char **keys, size_t *len);

/* chmod/chown/utimens of the backing directory (group) or data (array). */
int hmf_node_chmod(struct hmf_node *n, mode_t mode);
int hmf_node_chown(struct hmf_node *n, uid_t uid, gid_t gid);
int hmf_node_utimens(struct hmf_node *n, const struct timespec ts[2]);

/* Flush the node's metadata (and an array's data) and directory to disk. */
int hmf_node_fsync(struct hmf_node *n, bool datasync);

/* Open an array's data file with @flags (O_RDONLY / O_RDWR ...). */
int hmf_node_data_open(struct hmf_node *n, int flags, int *fd);

/*
 * Resize an array's data to @size bytes (zero-filled growth) and re-derive
 * its shape. Returns 0, -EISDIR, -EFBIG, -ENOSPC ... A shape that cannot
 * be stored once the data is resized (a full disk) is logged, not
 * returned: the data's size is the truth.
 */
int hmf_node_resize(struct hmf_node *n, uint64_t size);

/*
 * After writes changed an array's size, store the shape its size implies
 * (cheap when nothing changed).
 */
int hmf_node_sync_shape(struct hmf_node *n);

#endif
