/* SPDX-License-Identifier: MIT */
/*
 * node.c - nodes as directories: lookup, stat, cached metadata, atomic
 * create / remove / rename, listing, attributes and the data file. Every
 * change of the tree is one rename, so readers never see half a node.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil_i.h"
#include "hmf/error.h"
#include "hmf/node.h"
#include "hmf/path.h"
#include "hmf/root.h"
#include "meta_i.h"
#include "node_i.h"
#include "root_i.h"

struct hmf_node {
	struct hmf_root *root; /* borrowed; outlives the node */
	int fd;		       /* O_PATH fd of the node's directory */
	enum hmf_kind kind;    /* immutable */
	char *what;	       /* path for messages (may go stale on rename) */
	pthread_mutex_t lock;  /* protects meta and stamp */
	struct hmf_meta meta;  /* cached copy of .hmf */
	struct stat stamp;     /* .hmf's stat when meta was read */
};

static bool same_stamp(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int readonly(const struct hmf_root *r)
{
	return hmf_err(-EROFS, "%s: opened read-only", r->path);
}

/* Prefix this thread's message with @what, the node that @rc concerns. */
static int with_what(int rc, const char *what)
{
	char why[1024];

	if (rc < 0) {
		snprintf(why, sizeof(why), "%s", hmf_errmsg());
		hmf_err(rc, "%s: %s", what, why);
	}
	return rc;
}

static char *join_what(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s%s", dir,
			 dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
			 name);
	return s;
}

/*
 * Take ownership of @fd and @what; load metadata, or adopt @meta whose
 * .hmf has the stat @stamp.
 */
static int node_new(struct hmf_root *r, int fd, char *what,
		    const struct hmf_meta *meta, const struct stat *stamp,
		    struct hmf_node **out)
{
	struct hmf_node *n = calloc(1, sizeof(*n));
	int rc;

	if (!n || !what) {
		rc = -ENOMEM;
		goto out_free;
	}
	n->root = r;
	n->fd = fd;
	n->what = what;
	if (meta) {
		n->stamp = *stamp;
		rc = hmf_meta_copy(&n->meta, meta);
	} else {
		rc = meta_load_stat(fd, what, &n->meta, &n->stamp);
		if (rc == -ENOTDIR)
			rc = hmf_err(-ENOENT, "%s: not an HMF node", what);
	}
	if (rc < 0)
		goto out_free;
	n->kind = n->meta.kind;
	pthread_mutex_init(&n->lock, NULL);
	*out = n;
	return 0;
out_free:
	free(n);
	free(what);
	close(fd);
	return rc;
}

int hmf_node_open_root(struct hmf_root *r, struct hmf_node **out)
{
	struct hmf_node *n;
	int fd, rc;

	rc = fsu_open_dir(r->fd, ".", &fd);
	if (rc < 0)
		return rc;
	rc = node_new(r, fd, strdup(r->path), NULL, NULL, &n);
	if (rc < 0)
		return rc;
	if (n->kind != HMF_KIND_GROUP) {
		hmf_node_close(n);
		return hmf_err(-EIO, "%s: the root is not a group", r->path);
	}
	*out = n;
	return 0;
}

void hmf_node_close(struct hmf_node *n)
{
	if (!n)
		return;
	close(n->fd);
	hmf_meta_fini(&n->meta);
	pthread_mutex_destroy(&n->lock);
	free(n->what);
	free(n);
}

enum hmf_kind hmf_node_kind(const struct hmf_node *n)
{
	return n->kind;
}

bool hmf_node_is_group(const struct hmf_node *n)
{
	return n->kind == HMF_KIND_GROUP;
}

int hmf_node_fd(const struct hmf_node *n)
{
	return n->fd;
}

struct hmf_root *hmf_node_root(const struct hmf_node *n)
{
	return n->root;
}

int hmf_node_lookup(struct hmf_node *parent, const char *name,
		    struct hmf_node **out)
{
	int fd, rc, tries;

	if (parent->kind != HMF_KIND_GROUP)
		return hmf_err(-ENOTDIR, "%s: is an array, not a group",
			       parent->what);
	rc = with_what(hmf_name_check(name), parent->what);
	if (rc < 0)
		return rc;
	for (tries = 0;; tries++) {
		rc = fsu_open_dir(parent->fd, name, &fd);
		if (rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP)
			return hmf_err(-ENOENT, "%s/%s: no such node",
				       parent->what, name);
		if (rc < 0)
			return hmf_err(rc, "%s/%s: cannot open", parent->what,
				       name);
		rc = node_new(parent->root, fd, join_what(parent->what, name),
			      NULL, NULL, out);
		/*
		 * No .hmf: not a node, or a concurrent replace of @name
		 * emptied the directory after we opened it. Look again, so
		 * that readers find the old node or the new one, never none.
		 */
		if (rc != -ENOENT || tries == 3)
			return rc;
	}
}

int node_open_at(struct hmf_root *r, int dirfd, const char *name,
		 const char *what, struct hmf_node **out)
{
	int fd, rc;

	rc = fsu_open_dir(dirfd, name, &fd);
	if (rc < 0)
		return hmf_err(rc, "%s: cannot open", what);
	return node_new(r, fd, strdup(what), NULL, NULL, out);
}

int hmf_node_open(struct hmf_root *r, const char *path, struct hmf_node **out)
{
	const char *names[HMF_PATH_MAX / 2];
	char buf[HMF_PATH_MAX];
	struct hmf_node *n, *child;
	int count, i, rc;

	count = hmf_path_split(path, buf, sizeof(buf), names, HMF_PATH_MAX / 2);
	if (count < 0)
		return count;
	rc = hmf_node_open_root(r, &n);
	for (i = 0; rc == 0 && i < count; i++) {
		rc = hmf_node_lookup(n, names[i], &child);
		hmf_node_close(n);
		n = rc == 0 ? child : NULL;
	}
	if (rc < 0)
		return rc;
	*out = n;
	return 0;
}

/*
 * True when @n's directory was removed, or hidden for removal (a remove,
 * or the node a rename replaced): a missing .hmf or data then means the
 * node is gone (-ENOENT), not that the tree is corrupt (-EIO).
 */
static bool node_gone(const struct hmf_node *n)
{
	char link[64], path[PATH_MAX];
	const char *base;
	struct stat st;
	ssize_t len;

	if (fstat(n->fd, &st) == 0 && st.st_nlink == 0)
		return true;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", n->fd);
	len = readlink(link, path, sizeof(path) - 1);
	if (len <= 0)
		return false;
	path[len] = '\0';
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, HMF_TMP_PREFIX, strlen(HMF_TMP_PREFIX)) == 0;
}

int hmf_node_stat(struct hmf_node *n, struct stat *st)
{
	int rc;

	if (n->kind == HMF_KIND_GROUP) {
		if (fstatat(n->fd, "", st, AT_EMPTY_PATH) < 0)
			return -errno;
		return 0;
	}
	if (fstatat(n->fd, HMF_DATA_FILE, st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		if (rc == -ENOENT && node_gone(n))
			return hmf_err(-ENOENT, "%s: node was removed",
				       n->what);
		if (rc == -ENOENT)
			return hmf_err(-EIO, "%s: array has no data file",
				       n->what);
		return rc;
	}
	if (!S_ISREG(st->st_mode))
		return hmf_err(-EIO, "%s: data is not a regular file", n->what);
	return 0;
}

/* Re-read .hmf if it changed on disk since it was cached. Under n->lock. */
static int refresh_locked(struct hmf_node *n)
{
	struct hmf_meta m;
	struct stat st;
	int rc;

	if (fstatat(n->fd, HMF_META_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		if (rc == -ENOENT && node_gone(n))
			return hmf_err(-ENOENT, "%s: node was removed",
				       n->what);
		if (rc == -ENOENT)
			return hmf_err(-EIO, "%s: .hmf disappeared", n->what);
		return rc;
	}
	if (same_stamp(&st, &n->stamp))
		return 0;
	rc = hmf_meta_load(n->fd, n->what, &m);
	if (rc < 0)
		return rc;
	if (m.kind != n->kind) {
		hmf_meta_fini(&m);
		return hmf_err(-EIO, "%s: node changed kind on disk", n->what);
	}
	hmf_meta_fini(&n->meta);
	n->meta = m;
	n->stamp = st;
	return 0;
}

/* Derive an array's shape from its data size. */
static int derive_shape(struct hmf_node *n, struct hmf_meta *m)
{
	struct stat st;
	int rc;

	if (n->kind != HMF_KIND_ARRAY)
		return 0;
	rc = hmf_node_stat(n, &st);
	if (rc < 0)
		return rc;
	hmf_meta_derive_shape(m, (uint64_t)st.st_size);
	return 0;
}

int hmf_node_meta(struct hmf_node *n, struct hmf_meta *out)
{
	struct hmf_meta m;
	int rc;

	pthread_mutex_lock(&n->lock);
	rc = refresh_locked(n);
	if (rc == 0)
		rc = hmf_meta_copy(&m, &n->meta);
	pthread_mutex_unlock(&n->lock);
	if (rc < 0)
		return rc;
	rc = derive_shape(n, &m);
	if (rc < 0) {
		hmf_meta_fini(&m);
		return rc;
	}
	*out = m;
	return 0;
}

int hmf_node_update(struct hmf_node *n,
		    int (*fn)(struct hmf_meta *m, void *arg), void *arg)
{
	struct hmf_meta m;
	struct stat st;
	int rc;

	if (n->root->flags & HMF_ROOT_RDONLY)
		return readonly(n->root);
	pthread_mutex_lock(&n->lock);
	rc = refresh_locked(n);
	if (rc < 0)
		goto out_unlock;
	rc = hmf_meta_copy(&m, &n->meta);
	if (rc < 0)
		goto out_unlock;
	rc = fn(&m, arg);
	if (rc == 0)
		rc = meta_save_stat(n->fd, &m, false, &st);
	if (rc == 0) {
		hmf_meta_fini(&n->meta);
		n->meta = m;
		n->stamp = st;
	} else {
		hmf_meta_fini(&m);
	}
out_unlock:
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/* Remove a hidden temporary entry; a failure leaves garbage for fsck. */
static void drop_tmp(int dirfd, const char *tmp, const char *what)
{
	int rc = fsu_rmtree_at(dirfd, tmp);

	if (rc < 0)
		hmf_log(HMF_LOG_WARNING, "%s: cannot remove %s: %s", what, tmp,
			strerrordesc_np(-rc));
}

/* True when creating with @mode under the process umask gives @mode. */
static bool umask_keeps(const struct hmf_root *r, mode_t mode)
{
	return (mode & ~(mode_t)0777) == 0 && (mode & r->umask) == 0;
}

/* True when @owner asks for other ids than a new file gets anyway. */
static bool needs_chown(const struct hmf_root *r, const struct hmf_owner *o)
{
	return (o->uid != (uid_t)-1 && o->uid != r->euid) ||
	       (o->gid != (gid_t)-1 && o->gid != r->egid);
}

/*
 * Copy @len bytes of @src from offset @off to the start of the new file
 * @dst: in the kernel when it can (copy_file_range), else through a
 * buffer. -ENODATA when @src ends first.
 */
static int copy_in(int dst, int src, uint64_t off, uint64_t len)
{
	size_t chunk = 1u << 20;
	off_t in = (off_t)off, out = 0;
	char *buf = NULL;
	ssize_t n;
	int rc = 0;

	while (len > 0) {
		n = copy_file_range(src, &in, dst, &out,
				    len < (1u << 30) ? (size_t)len : 1u << 30,
				    0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EXDEV && errno != EINVAL &&
		    errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		if (n < 0)
			break; /* not between these files: copy by hand */
		if (n == 0)
			return -ENODATA;
		len -= (uint64_t)n;
	}
	if (len > 0 && !(buf = malloc(chunk)))
		return -ENOMEM;
	while (len > 0 && rc == 0) {
		n = pread(src, buf, len < chunk ? (size_t)len : chunk, in);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -ENODATA;
			break;
		}
		rc = fsu_pwrite_all(dst, buf, (size_t)n, (uint64_t)out);
		in += n;
		out += n;
		len -= (uint64_t)n;
	}
	free(buf);
	return rc;
}

/*
 * Fill the fresh temporary directory @tfd with @meta and its @len bytes of
 * data: from @data, else from @srcfd at @srcoff (when >= 0), else zeros.
 * @st gets the stat of the new .hmf.
 */
static int fill_node(const struct hmf_root *r, int tfd,
		     const struct hmf_meta *meta, const void *data, int srcfd,
		     uint64_t srcoff, uint64_t len,
		     const struct hmf_owner *owner, struct stat *st)
{
	mode_t mode = owner ? owner->mode : 0666;
	int fd, rc = 0;

	if (meta->kind == HMF_KIND_ARRAY) {
		fd = openat(tfd, HMF_DATA_FILE,
			    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
		if (fd < 0)
			return -errno;
		if (data)
			rc = fsu_pwrite_all(fd, data, len, 0);
		else if (srcfd >= 0)
			rc = copy_in(fd, srcfd, srcoff, len);
		else if (len && ftruncate(fd, (off_t)len) < 0)
			rc = -errno;
		if (rc == 0 && owner && !umask_keeps(r, mode) &&
		    fchmod(fd, mode) < 0)
			rc = -errno;
		if (rc == 0 && owner && needs_chown(r, owner) &&
		    fchown(fd, owner->uid, owner->gid) < 0)
			rc = -errno;
		close(fd);
		if (rc < 0)
			return rc;
	}
	return meta_write_new(tfd, meta, st);
}

/*
 * The mode to create a node's directory with: the group's own when the
 * creator can still fill it (root, or owner rwx), else private until
 * own_dir() sets it.
 */
static mode_t initial_dir_mode(const struct hmf_root *r, enum hmf_kind kind,
			       const struct hmf_owner *owner)
{
	mode_t mode = kind == HMF_KIND_GROUP ? owner->mode : 0755;

	if (r->euid == 0 || (mode & 0700) == 0700)
		return mode & 0777;
	return 0700;
}

/* Apply @owner to the temporary directory @tmp of @dirfd. */
static int own_dir(const struct hmf_root *r, int dirfd, const char *tmp,
		   enum hmf_kind kind, const struct hmf_owner *owner)
{
	mode_t mode = kind == HMF_KIND_GROUP ? owner->mode : 0755;

	if ((initial_dir_mode(r, kind, owner) != mode ||
	     !umask_keeps(r, mode)) &&
	    fchmodat(dirfd, tmp, mode, 0) < 0)
		return -errno;
	if (needs_chown(r, owner) &&
	    fchownat(dirfd, tmp, owner->uid, owner->gid, AT_SYMLINK_NOFOLLOW) <
		    0)
		return -errno;
	return 0;
}

/* Put @tmp in place of the existing array @name of @parent. */
static int replace_array(struct hmf_node *parent, const char *tmp,
			 const char *name)
{
	struct hmf_node *old;
	int rc;

	rc = hmf_node_lookup(parent, name, &old);
	if (rc == -ENOENT)
		return hmf_err(-EEXIST, "%s/%s: exists and is not a node",
			       parent->what, name);
	if (rc < 0)
		return rc;
	rc = old->kind == HMF_KIND_ARRAY ? 0
					 : hmf_err(-EISDIR, "%s/%s: is a group",
						   parent->what, name);
	hmf_node_close(old);
	if (rc < 0)
		return rc;
	/* readers of @name see the old array, then the new one */
	if (renameat2(parent->fd, tmp, parent->fd, name, RENAME_EXCHANGE) < 0)
		return -errno;
	return 0;
}

/* hmf_node_create(), the array's bytes from @data or @srcfd at @srcoff. */
static int create_node(struct hmf_node *parent, const char *name,
		       const struct hmf_meta *meta, const void *data,
		       uint64_t len, int srcfd, uint64_t srcoff,
		       const struct hmf_owner *owner, unsigned flags,
		       struct hmf_node **out)
{
	char tmp[HMF_TMPNAME_LEN];
	uint64_t nbytes = 0;
	struct stat st;
	int tfd, rc;

	if (parent->root->flags & HMF_ROOT_RDONLY)
		return readonly(parent->root);
	if (parent->kind != HMF_KIND_GROUP)
		return hmf_err(-ENOTDIR, "%s: is an array, not a group",
			       parent->what);
	rc = with_what(hmf_name_check(name), parent->what);
	if (rc < 0)
		return rc;
	if (meta->kind == HMF_KIND_ARRAY) {
		rc = hmf_dtype_nbytes(&meta->dtype, meta->ndim, meta->shape,
				      &nbytes);
		if (rc < 0)
			return rc;
		if (data && len != nbytes)
			return hmf_err(
				-EINVAL,
				"%s/%s: %llu bytes of data for a shape of %llu bytes",
				parent->what, name, (unsigned long long)len,
				(unsigned long long)nbytes);
	}
	do {
		fsu_tmpname(tmp);
		rc = mkdirat(parent->fd, tmp,
			     owner ? initial_dir_mode(parent->root, meta->kind,
						      owner)
				   : 0777);
	} while (rc < 0 && errno == EEXIST);
	if (rc < 0)
		return hmf_err(-errno, "%s: cannot create a node: %s",
			       parent->what, strerrordesc_np(errno));
	rc = fsu_open_dir(parent->fd, tmp, &tfd);
	if (rc < 0)
		goto out_drop;
	rc = fill_node(parent->root, tfd, meta, data, srcfd, srcoff, nbytes,
		       owner, &st);
	if (rc == 0 && owner)
		rc = own_dir(parent->root, parent->fd, tmp, meta->kind, owner);
	if (rc < 0) {
		hmf_err(rc, "%s/%s: cannot create: %s", parent->what, name,
			strerrordesc_np(-rc));
		goto out_close;
	}
	if (renameat2(parent->fd, tmp, parent->fd, name, RENAME_NOREPLACE) <
	    0) {
		rc = -errno;
		if (rc == -EEXIST && (flags & HMF_CREATE_REPLACE) &&
		    meta->kind == HMF_KIND_ARRAY) {
			rc = replace_array(parent, tmp, name);
		} else if (rc == -EEXIST) {
			hmf_err(rc, "%s/%s: exists", parent->what, name);
		}
		if (rc < 0)
			goto out_close;
		/* the old array now sits at @tmp */
		drop_tmp(parent->fd, tmp, parent->what);
	}
	if (!out) {
		close(tfd);
		return 0;
	}
	return node_new(parent->root, tfd, join_what(parent->what, name), meta,
			&st, out);
out_close:
	close(tfd);
out_drop:
	drop_tmp(parent->fd, tmp, parent->what);
	return rc;
}

int hmf_node_create(struct hmf_node *parent, const char *name,
		    const struct hmf_meta *meta, const void *data, uint64_t len,
		    const struct hmf_owner *owner, unsigned flags,
		    struct hmf_node **out)
{
	return create_node(parent, name, meta, data, len, -1, 0, owner, flags,
			   out);
}

int hmf_node_create_fd(struct hmf_node *parent, const char *name,
		       const struct hmf_meta *meta, int fd, uint64_t off,
		       const struct hmf_owner *owner, unsigned flags,
		       struct hmf_node **out)
{
	uint64_t nbytes;
	struct stat st;
	int rc;

	if (meta->kind != HMF_KIND_ARRAY)
		return hmf_err(-EINVAL, "%s/%s: only an array has data",
			       parent->what, name);
	rc = hmf_dtype_nbytes(&meta->dtype, meta->ndim, meta->shape, &nbytes);
	if (rc < 0)
		return rc;
	if (fstat(fd, &st) < 0)
		return hmf_err(-errno, "%s/%s: cannot read the source: %s",
			       parent->what, name, strerrordesc_np(errno));
	/* fail before creating anything when the source is too short */
	if (S_ISREG(st.st_mode) &&
	    ((uint64_t)st.st_size < off || (uint64_t)st.st_size - off < nbytes))
		return hmf_err(
			-EINVAL,
			"%s/%s: the source has %llu bytes after offset %llu, the shape needs %llu",
			parent->what, name,
			(unsigned long long)((uint64_t)st.st_size > off
						     ? (uint64_t)st.st_size -
							       off
						     : 0),
			(unsigned long long)off, (unsigned long long)nbytes);
	return create_node(parent, name, meta, NULL, 0, fd, off, owner, flags,
			   out);
}

static int list_dir(int dirfd, struct hmf_dirent **ents, size_t *count);

/* 1 if group directory @fd holds any node, 0 if not, or -errno. */
static int has_children(int fd)
{
	struct hmf_dirent *ents;
	size_t count;
	int rc;

	rc = list_dir(fd, &ents, &count);
	if (rc < 0)
		return rc;
	hmf_dirents_free(ents, count);
	return count > 0;
}

static int classify(int dirfd, const char *name, enum hmf_kind *kind);

/* Remove hidden array @tmp of @dirfd: its known entries, then itself. */
static void drop_array(int dirfd, const char *tmp, const char *what)
{
	int fd;

	/*
	 * Through a descriptor opened without following: @tmp may have been
	 * swapped for a symlink, and "tmp/data" would then resolve outside.
	 */
	if (fsu_open_dir(dirfd, tmp, &fd) == 0) {
		unlinkat(fd, HMF_DATA_FILE, 0);
		unlinkat(fd, HMF_META_FILE, 0);
		close(fd);
	}
	if (unlinkat(dirfd, tmp, AT_REMOVEDIR) < 0)
		drop_tmp(dirfd, tmp, what); /* strays inside */
}

/* Hide child @name of @dirfd under a fresh temporary name in @tmp. */
static int hide(int dirfd, const char *name, char tmp[HMF_TMPNAME_LEN])
{
	int rc;

	do {
		fsu_tmpname(tmp);
		rc = renameat2(dirfd, name, dirfd, tmp, RENAME_NOREPLACE);
	} while (rc < 0 && errno == EEXIST);
	return rc < 0 ? -errno : 0;
}

int hmf_node_remove(struct hmf_node *parent, const char *name, unsigned flags)
{
	char tmp[HMF_TMPNAME_LEN];
	enum hmf_kind kind;
	struct stat st;
	int fd, rc;

	if (parent->root->flags & HMF_ROOT_RDONLY)
		return readonly(parent->root);
	if (parent->kind != HMF_KIND_GROUP)
		return hmf_err(-ENOTDIR, "%s: is an array, not a group",
			       parent->what);
	rc = with_what(hmf_name_check(name), parent->what);
	if (rc < 0)
		return rc;
	/*
	 * By the entries alone: a node with corrupt metadata can go too. But
	 * classify() looks through @name, so a symlink planted in ROOT must
	 * be refused first: it is no node, and what it points to is not ours.
	 */
	if (fstatat(parent->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode) || classify(parent->fd, name, &kind) < 0)
		return hmf_err(-ENOENT, "%s/%s: no such node", parent->what,
			       name);
	if ((flags & HMF_RM_GROUP) && kind != HMF_KIND_GROUP)
		return hmf_err(-ENOTDIR, "%s/%s: is an array", parent->what,
			       name);
	if ((flags & HMF_RM_ARRAY) && kind != HMF_KIND_ARRAY)
		return hmf_err(-EISDIR, "%s/%s: is a group", parent->what,
			       name);
	if (kind == HMF_KIND_GROUP && !(flags & HMF_RM_RECURSIVE)) {
		rc = fsu_open_dir(parent->fd, name, &fd);
		if (rc < 0)
			return rc;
		rc = has_children(fd);
		close(fd);
		if (rc > 0)
			rc = hmf_err(-ENOTEMPTY, "%s/%s: group is not empty",
				     parent->what, name);
		if (rc < 0)
			return rc;
	}
	/* one rename hides the whole node; then the slow part */
	rc = hide(parent->fd, name, tmp);
	if (rc < 0)
		return hmf_err(rc, "%s/%s: cannot remove", parent->what, name);
	if (kind == HMF_KIND_ARRAY)
		drop_array(parent->fd, tmp, parent->what);
	else
		drop_tmp(parent->fd, tmp, parent->what);
	return 0;
}

/* Is @fd's directory @name in @dirfd? (same inode) */
static bool same_entry(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	return fstatat(dirfd, name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(fd, "", &b, AT_EMPTY_PATH) == 0 &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int hmf_node_rename(struct hmf_node *parent, const char *name,
		    struct hmf_node *newparent, const char *newname,
		    unsigned flags)
{
	struct hmf_node *src, *dst = NULL;
	char tmp[HMF_TMPNAME_LEN];
	int rc;

	if (parent->root->flags & HMF_ROOT_RDONLY)
		return readonly(parent->root);
	if ((flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return hmf_err(-EINVAL, "unsupported rename flags %#x", flags);
	rc = with_what(hmf_name_check(newname), newparent->what);
	if (rc < 0)
		return rc;
	if (newparent->kind != HMF_KIND_GROUP)
		return hmf_err(-ENOTDIR, "%s: is an array", newparent->what);
	rc = hmf_node_lookup(parent, name, &src);
	if (rc < 0)
		return rc;
	if (flags & RENAME_EXCHANGE) {
		rc = hmf_node_lookup(newparent, newname, &dst);
		if (rc == 0 && renameat2(parent->fd, name, newparent->fd,
					 newname, RENAME_EXCHANGE) < 0)
			rc = hmf_err(-errno, "%s: cannot exchange with %s/%s",
				     src->what, newparent->what, newname);
		goto out_close;
	}
	if (renameat2(parent->fd, name, newparent->fd, newname,
		      RENAME_NOREPLACE) == 0)
		goto out_close;
	rc = -errno;
	if (rc != -EEXIST || (flags & RENAME_NOREPLACE)) {
		hmf_err(rc, "%s: cannot rename to %s/%s", src->what,
			newparent->what, newname);
		goto out_close;
	}
	if (same_entry(newparent->fd, newname, src->fd)) {
		rc = 0; /* rename(2) of a name onto itself does nothing */
		goto out_close;
	}
	rc = hmf_node_lookup(newparent, newname, &dst);
	if (rc == -ENOENT) {
		rc = hmf_err(-EEXIST, "%s/%s: exists and is not a node",
			     newparent->what, newname);
		goto out_close;
	}
	if (rc < 0)
		goto out_close;
	if (src->kind == HMF_KIND_ARRAY && dst->kind == HMF_KIND_GROUP)
		rc = hmf_err(-EISDIR, "%s: is a group", dst->what);
	else if (src->kind == HMF_KIND_GROUP && dst->kind == HMF_KIND_ARRAY)
		rc = hmf_err(-ENOTDIR, "%s: is an array", dst->what);
	else if (dst->kind == HMF_KIND_GROUP) {
		rc = has_children(dst->fd);
		if (rc > 0)
			rc = hmf_err(-ENOTEMPTY, "%s: group is not empty",
				     dst->what);
	}
	if (rc < 0)
		goto out_close;
	/*
	 * Exchange, then hide the old node under a temporary name: readers
	 * of @newname never find it missing.
	 */
	if (renameat2(parent->fd, name, newparent->fd, newname,
		      RENAME_EXCHANGE) < 0) {
		rc = hmf_err(-errno, "%s: cannot rename to %s", src->what,
			     dst->what);
		goto out_close;
	}
	if (hide(parent->fd, name, tmp) == 0)
		drop_tmp(parent->fd, tmp, parent->what);
	else
		hmf_log(HMF_LOG_WARNING, "%s: replaced node left at %s/%s",
			dst->what, parent->what, name);
out_close:
	hmf_node_close(dst);
	hmf_node_close(src);
	return rc;
}

static int classify(int dirfd, const char *name, enum hmf_kind *kind)
{
	char sub[HMF_NAME_MAX + 8];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/" HMF_META_FILE, name);
	if (fstatat(dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return -ENOENT;
	snprintf(sub, sizeof(sub), "%s/" HMF_DATA_FILE, name);
	if (fstatat(dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		*kind = HMF_KIND_ARRAY;
	else
		*kind = HMF_KIND_GROUP;
	return 0;
}

static int list_dir(int dirfd, struct hmf_dirent **ents, size_t *count)
{
	struct hmf_dirent *v = NULL, *p;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	enum hmf_kind kind;
	DIR *d;
	int fd, rc = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (hmf_name_is_reserved(e->d_name) ||
					    hmf_name_check(e->d_name) < 0))
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (classify(fd, e->d_name, &kind) < 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[cnt].name = strdup(e->d_name);
		if (!v[cnt].name) {
			rc = -ENOMEM;
			break;
		}
		v[cnt].kind = kind;
		v[cnt].ino = e->d_ino;
		cnt++;
	}
	closedir(d);
	if (rc < 0) {
		hmf_dirents_free(v, cnt);
		return rc;
	}
	*ents = v;
	*count = cnt;
	return 0;
}

int hmf_node_list(struct hmf_node *n, struct hmf_dirent **ents, size_t *count)
{
	if (n->kind != HMF_KIND_GROUP)
		return hmf_err(-ENOTDIR, "%s: is an array", n->what);
	return list_dir(n->fd, ents, count);
}

void hmf_dirents_free(struct hmf_dirent *ents, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(ents[i].name);
	free(ents);
}

int hmf_node_attr_get(struct hmf_node *n, const char *key, void **val,
		      size_t *len)
{
	const struct hmf_attr *a;
	void *copy = NULL;
	int rc;

	pthread_mutex_lock(&n->lock);
	rc = refresh_locked(n);
	if (rc == 0) {
		a = hmf_meta_attr_get(&n->meta, key);
		if (!a)
			rc = hmf_err(-ENODATA, "%s: no attribute '%s'", n->what,
				     key);
		else if (!(copy = malloc(a->len + 1)))
			rc = -ENOMEM;
		else {
			memcpy(copy, a->val, a->len + 1);
			*len = a->len;
		}
	}
	pthread_mutex_unlock(&n->lock);
	if (rc == 0)
		*val = copy;
	return rc;
}

struct attr_set_args {
	const char *what; /* the node, for messages */
	const char *key;
	const void *val;
	size_t len;
	int flags;
};

static int apply_attr_set(struct hmf_meta *m, void *arg)
{
	struct attr_set_args *a = arg;

	return with_what(hmf_meta_attr_set(m, a->key, a->val, a->len, a->flags),
			 a->what);
}

static int apply_attr_remove(struct hmf_meta *m, void *arg)
{
	struct attr_set_args *a = arg;

	return with_what(hmf_meta_attr_remove(m, a->key), a->what);
}

int hmf_node_attr_set(struct hmf_node *n, const char *key, const void *val,
		      size_t len, int flags)
{
	struct attr_set_args a = { n->what, key, val, len, flags };

	return hmf_node_update(n, apply_attr_set, &a);
}

int hmf_node_attr_remove(struct hmf_node *n, const char *key)
{
	struct attr_set_args a = { n->what, key, NULL, 0, 0 };

	return hmf_node_update(n, apply_attr_remove, &a);
}

int hmf_node_attr_list(struct hmf_node *n, char **keys, size_t *len)
{
	size_t i, total = 0, off = 0;
	char *buf;
	int rc;

	pthread_mutex_lock(&n->lock);
	rc = refresh_locked(n);
	if (rc < 0)
		goto out_unlock;
	for (i = 0; i < n->meta.nattrs; i++)
		total += strlen(n->meta.attrs[i].key) + 1;
	buf = malloc(total + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	for (i = 0; i < n->meta.nattrs; i++) {
		size_t k = strlen(n->meta.attrs[i].key) + 1;

		memcpy(buf + off, n->meta.attrs[i].key, k);
		off += k;
	}
	*keys = buf;
	*len = total;
out_unlock:
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/* The path of an O_PATH fd, for calls that have no AT_EMPTY_PATH form. */
static void proc_path(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

int hmf_node_chmod(struct hmf_node *n, mode_t mode)
{
	char p[64];
	int rc;

	if (n->root->flags & HMF_ROOT_RDONLY)
		return readonly(n->root);
	if (n->kind == HMF_KIND_ARRAY)
		rc = fchmodat(n->fd, HMF_DATA_FILE, mode, AT_SYMLINK_NOFOLLOW);
	else {
		proc_path(n->fd, p);
		rc = chmod(p, mode);
	}
	return rc < 0 ? -errno : 0;
}

int hmf_node_chown(struct hmf_node *n, uid_t uid, gid_t gid)
{
	int rc;

	if (n->root->flags & HMF_ROOT_RDONLY)
		return readonly(n->root);
	if (n->kind == HMF_KIND_ARRAY)
		rc = fchownat(n->fd, HMF_DATA_FILE, uid, gid,
			      AT_SYMLINK_NOFOLLOW);
	else
		rc = fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH);
	return rc < 0 ? -errno : 0;
}

int hmf_node_utimens(struct hmf_node *n, const struct timespec ts[2])
{
	char p[64];
	int rc;

	if (n->root->flags & HMF_ROOT_RDONLY)
		return readonly(n->root);
	if (n->kind == HMF_KIND_ARRAY)
		rc = utimensat(n->fd, HMF_DATA_FILE, ts, AT_SYMLINK_NOFOLLOW);
	else {
		proc_path(n->fd, p);
		rc = utimensat(AT_FDCWD, p, ts, 0);
	}
	return rc < 0 ? -errno : 0;
}

static int fsync_at(int dirfd, const char *name, bool datasync)
{
	/* O_NONBLOCK: a FIFO planted in ROOT must not block the caller */
	int fd = openat(dirfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC),
	    rc;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int hmf_node_fsync(struct hmf_node *n, bool datasync)
{
	int rc = 0;

	if (n->kind == HMF_KIND_ARRAY)
		rc = fsync_at(n->fd, HMF_DATA_FILE, datasync);
	if (rc == 0)
		rc = fsync_at(n->fd, HMF_META_FILE, datasync);
	if (rc == 0)
		rc = fsync_at(n->fd, ".", datasync);
	return rc;
}

int hmf_node_data_open(struct hmf_node *n, int flags, int *fd)
{
	struct stat st;
	int f, rc;

	if (n->kind != HMF_KIND_ARRAY)
		return hmf_err(-EISDIR, "%s: is a group", n->what);
	if ((flags & O_ACCMODE) != O_RDONLY &&
	    (n->root->flags & HMF_ROOT_RDONLY))
		return readonly(n->root);
	/* O_NONBLOCK: opening a FIFO planted as data must not block */
	f = openat(n->fd, HMF_DATA_FILE,
		   (flags & ~(O_CREAT | O_EXCL | O_DIRECTORY)) | O_NOFOLLOW |
			   O_NONBLOCK | O_CLOEXEC);
	if (f < 0) {
		rc = -errno;
		/* a symlink, or a FIFO without a reader */
		if (rc == -ELOOP || rc == -ENXIO)
			return hmf_err(-EIO, "%s: data is not a regular file",
				       n->what);
		return hmf_err(rc, "%s: cannot open data", n->what);
	}
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return hmf_err(-EIO, "%s: data is not a regular file", n->what);
	}
	if (!(flags & O_NONBLOCK) &&
	    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = -errno;
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

int hmf_node_resize(struct hmf_node *n, uint64_t size)
{
	int fd, rc;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	rc = hmf_node_data_open(n, O_WRONLY, &fd);
	if (rc < 0)
		return rc;
	rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	/*
	 * The data has its new size, and the size is the truth (DESIGN
	 * section 2): a shape that cannot be stored (a full disk) neither
	 * undoes nor fails the resize. Readers derive it; the next sync or
	 * fsck --repair stores it.
	 */
	if (hmf_node_sync_shape(n) < 0)
		hmf_log(HMF_LOG_WARNING, "%s: resized; shape not stored: %s",
			n->what, hmf_errmsg());
	return 0;
}

static int apply_derived(struct hmf_meta *m, void *arg)
{
	return derive_shape(arg, m);
}

int hmf_node_sync_shape(struct hmf_node *n)
{
	struct hmf_meta m;
	struct hmf_dtype dtype;
	uint64_t shape[HMF_MAX_NDIM];
	bool stale;
	int ndim, rc;

	if (n->kind != HMF_KIND_ARRAY)
		return 0;
	pthread_mutex_lock(&n->lock);
	rc = refresh_locked(n);
	if (rc == 0)
		rc = hmf_meta_copy(&m, &n->meta);
	pthread_mutex_unlock(&n->lock);
	if (rc < 0)
		return rc;
	dtype = m.dtype;
	ndim = m.ndim;
	memcpy(shape, m.shape, sizeof(shape));
	rc = derive_shape(n, &m);
	stale = rc == 0 &&
		(m.ndim != ndim || !hmf_dtype_equal(&m.dtype, &dtype) ||
		 memcmp(m.shape, shape, sizeof(shape[0]) * (size_t)ndim) != 0);
	hmf_meta_fini(&m);
	if (rc < 0 || !stale)
		return rc;
	return hmf_node_update(n, apply_derived, n);
}
