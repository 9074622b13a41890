/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the FUSE low-level callbacks for the tree: lookup and forget,
 * attributes, groups as directories, creation, removal and rename. Each
 * converts its arguments, calls libhmf and replies exactly once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"

static struct fs_daemon *daemon_of(fuse_req_t req)
{
	struct fs_daemon *d = fuse_req_userdata(req);

	atomic_fetch_add(&d->ops, 1);
	return d;
}

void fs_report(struct fs_daemon *d, int rc)
{
	const char *msg = hmf_errmsg();
	size_t i;
	char **v;

	if ((rc != -EIO && rc != -ENOTSUP) || !msg[0])
		return;
	pthread_mutex_lock(&d->log_lock);
	for (i = 0; i < d->nlogged; i++)
		if (strcmp(d->logged[i], msg) == 0)
			break;
	if (i == d->nlogged && d->nlogged < 4096) {
		v = realloc(d->logged, (d->nlogged + 1) * sizeof(*v));
		if (v) {
			d->logged = v;
			v[d->nlogged] = strdup(msg);
			if (v[d->nlogged])
				d->nlogged++;
		}
		hmf_log(HMF_LOG_ERR, "%s", msg);
	}
	pthread_mutex_unlock(&d->log_lock);
}

static void reply_err(fuse_req_t req, int rc)
{
	fs_report(fuse_req_userdata(req), rc);
	fuse_reply_err(req, -rc);
}

int fs_stat(struct fs_daemon *d, struct fs_inode *in, struct stat *st)
{
	char *hdr = NULL;
	size_t len;
	int rc;

	(void)d;
	rc = hmf_node_stat(in->node, st);
	if (rc == -ENOENT || rc == -EIO) {
		/* removed or replaced through this mount: as on a local
		 * filesystem, the inode itself is still there */
		pthread_mutex_lock(&in->lock);
		if (in->datafd >= 0)
			rc = fstat(in->datafd, st) < 0 ? -errno : 0;
		pthread_mutex_unlock(&in->lock);
	}
	/* cp and friends size their buffers by st_blksize: one request
	 * of the largest size FUSE carries instead of eight */
	if (rc == 0 && S_ISREG(st->st_mode))
		st->st_blksize = FS_IO_SIZE;
	/* the NPY view: header, then data */
	if (rc == 0 && S_ISREG(st->st_mode) && fs_npy(in)) {
		rc = fs_npy_header(in, &hdr, &len);
		if (rc == 0)
			st->st_size += (off_t)len;
		free(hdr);
	}
	return rc;
}

/* The control directory's inodes (ctl.c) are static; their attributes: */
bool fs_ctl_ino(fuse_ino_t ino)
{
	return ino >= FS_CTL_ROOT && ino <= FS_CTL_JOB_BASE + FS_CTL_JOB_MAX;
}

void fs_ctl_stat(struct fs_daemon *d, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = 1;
	if (ino == FS_CTL_ROOT || ino == FS_CTL_JOBS) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (ino == FS_CTL_INGEST) {
		/* anyone may ask; sources are opened with their rights */
		st->st_mode = S_IFREG | 0666;
	} else {
		st->st_mode = S_IFREG | 0444;
	}
	st->st_atim = st->st_mtim = st->st_ctim = d->started;
	st->st_blksize = 4096;
}

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_daemon *d = userdata;

	/*
	 * Replies may splice from the backing fd (-o read=splice). Receiving
	 * by splice (SPLICE_READ) is not asked for: libfuse 3.14 needs pipes
	 * larger than fs.pipe-max-size for it and silently falls back.
	 */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* writes go through the kernel cache only with our consent */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	if (!d->opt.exclusive && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA))
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_write = FS_IO_SIZE;
	conn->max_readahead = FS_IO_SIZE;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *d = daemon_of(req);
	struct fuse_entry_param e;
	struct hmf_node *n;
	int rc;

	rc = hmf_node_lookup(fs_inode_get(d, parent)->node, name, &n);
	if (rc == -EMFILE || rc == -ENFILE) {
		/* every inode holds an fd: let the evictor free some */
		fs_inodes_wait_room(d);
		rc = hmf_node_lookup(fs_inode_get(d, parent)->node, name, &n);
	}
	if (rc == 0)
		rc = fs_inode_enter(d, parent, name, n, &e);
	if (rc == -ENOENT || rc == -EINVAL) {
		/* a negative entry: the kernel may cache the miss */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = d->opt.exclusive ? d->opt.timeout : 0;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_daemon *d = fuse_req_userdata(req);

	fs_inode_forget(d, fs_inode_get(d, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	size_t i;

	for (i = 0; i < count; i++)
		fs_inode_forget(d, fs_inode_get(d, forgets[i].ino),
				forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs_daemon *d = daemon_of(req);
	struct stat st;
	int rc;

	(void)fi;
	rc = fs_stat(d, fs_inode_get(d, ino), &st);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, d->opt.timeout);
}

#define SET_TIMES                                                              \
	(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | \
	 FUSE_SET_ATTR_MTIME_NOW)

static void times_of(const struct stat *attr, int to_set, struct timespec *ts)
{
	ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
}

static int set_times(struct hmf_node *n, const struct stat *attr, int to_set)
{
	struct timespec ts[2];

	times_of(attr, to_set, ts);
	return hmf_node_utimens(n, ts);
}

/*
 * Mode, owner and times of an array removed or replaced through this mount
 * while the kernel held it: as on a local filesystem they still change, on
 * the data that is left of it (fs_inode_preserve).
 */
static int setattr_kept(struct fs_inode *in, const struct stat *attr,
			int to_set)
{
	struct timespec ts[2];
	int fd;

	pthread_mutex_lock(&in->lock);
	fd = in->datafd; /* set once, closed when the inode is freed */
	pthread_mutex_unlock(&in->lock);
	if ((to_set & FUSE_SET_ATTR_MODE) &&
	    fchmod(fd, attr->st_mode & 07777) < 0)
		return -errno;
	if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    fchown(fd, (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
		   (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1) < 0)
		return -errno;
	times_of(attr, to_set, ts);
	if ((to_set & SET_TIMES) && futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct fs_daemon *d = daemon_of(req);
	struct fs_inode *in = fs_inode_get(d, ino);
	struct stat st;
	int rc = 0;

	(void)fi;
	if ((to_set & ~FUSE_SET_ATTR_SIZE) && fs_inode_gone(in)) {
		rc = setattr_kept(in, attr, to_set);
		to_set &= FUSE_SET_ATTR_SIZE; /* fs_resize knows that case */
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		rc = hmf_node_chmod(in->node, attr->st_mode & 07777);
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		rc = hmf_node_chown(in->node,
				    (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid
								 : (uid_t)-1,
				    (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid
								 : (gid_t)-1);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (hmf_node_is_group(in->node)) {
			rc = -EISDIR;
		} else if (attr->st_size < 0) {
			rc = -EINVAL;
		} else if (fs_npy(in)) { /* the size counts the header */
			pthread_rwlock_wrlock(fs_size_lock(in));
			rc = hmf_node_npy_resize(in->node,
						 (uint64_t)attr->st_size);
			pthread_rwlock_unlock(fs_size_lock(in));
		} else {
			rc = fs_resize(in, (uint64_t)attr->st_size);
		}
	}
	if (rc == 0 && (to_set & SET_TIMES))
		rc = set_times(in->node, attr, to_set);
	if (rc == 0)
		rc = fs_stat(d, in, &st);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, d->opt.timeout);
}

/* The caller's identity for a new node. */
static void owner_of(fuse_req_t req, mode_t mode, struct hmf_owner *o)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	o->mode = mode & 07777;
	o->uid = (uid_t)-1;
	o->gid = (gid_t)-1;
	if (((struct fs_daemon *)fuse_req_userdata(req))->is_root) {
		o->uid = ctx->uid;
		o->gid = ctx->gid;
	}
}

/* Create a child node and enter it into the table. */
static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		     enum hmf_kind kind, mode_t mode,
		     struct fuse_entry_param *e, struct hmf_node **created)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct hmf_owner owner;
	struct hmf_meta m;
	struct hmf_node *n;
	int rc;

	owner_of(req, mode, &owner);
	hmf_meta_init(&m, kind);
	rc = hmf_node_create(fs_inode_get(d, parent)->node, name, &m, NULL, 0,
			     &owner, 0, &n);
	hmf_meta_fini(&m);
	if (rc < 0)
		return rc;
	if (d->opt.sync)
		hmf_node_fsync(fs_inode_get(d, parent)->node, false);
	if (created)
		*created = n;
	return fs_inode_enter(d, parent, name, n, e);
}

static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	struct fuse_entry_param e;
	int rc;

	daemon_of(req);
	rc = make_node(req, parent, name, HMF_KIND_GROUP, mode, &e, NULL);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;
	int rc;

	(void)rdev;
	daemon_of(req);
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM); /* HMF has no devices or fifos */
		return;
	}
	rc = make_node(req, parent, name, HMF_KIND_ARRAY, mode, &e, NULL);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	struct fs_daemon *d = daemon_of(req);
	struct fuse_entry_param e;
	int rc;

	rc = make_node(req, parent, name, HMF_KIND_ARRAY, mode, &e, NULL);
	if (rc == 0) {
		rc = fs_file_open(d, fs_inode_get(d, e.ino), fi->flags, fi);
		if (rc < 0) {
			/* the kernel never saw the entry: return its lookup */
			fs_inode_forget(d, fs_inode_get(d, e.ino), 1);
		}
	}
	if (rc == 0 && fs_npy(fs_inode_get(d, e.ino))) {
		/*
		 * A new NPY file is removed if its header turns out bad:
		 * the kernel must ask again before it trusts this entry.
		 */
		struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

		f->created = true;
		f->state = FS_NPY_PENDING;
		e.entry_timeout = 0;
		e.attr_timeout = 0;
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_create(req, &e, fi);
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM); /* HMF has no links */
}

static void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		       const char *name)
{
	(void)ino;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void remove_node(fuse_req_t req, fuse_ino_t parent, const char *name,
			unsigned flags)
{
	struct fs_daemon *d = daemon_of(req);
	struct hmf_node *p = fs_inode_get(d, parent)->node;
	int rc;

	/* an unlinked array stays usable through the inode the kernel has */
	if (flags & HMF_RM_ARRAY)
		fs_inode_preserve(d, hmf_node_fd(p), name);
	rc = hmf_node_remove(p, name, flags);
	if (rc == 0 && d->opt.sync)
		hmf_node_fsync(p, false);
	if (rc < 0 && rc != -ENOENT && rc != -ENOTEMPTY)
		reply_err(req, rc);
	else
		fuse_reply_err(req, -rc);
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, HMF_RM_ARRAY);
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, HMF_RM_GROUP);
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	struct fs_daemon *d = daemon_of(req);
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags == 0)
		fs_inode_preserve(d,
				  hmf_node_fd(fs_inode_get(d, newparent)->node),
				  newname);
	rc = hmf_node_rename(fs_inode_get(d, parent)->node, name,
			     fs_inode_get(d, newparent)->node, newname, flags);
	/* the view follows the name: NPY for *.npy, raw otherwise */
	if (rc == 0)
		fs_inode_renamed(d,
				 hmf_node_fd(fs_inode_get(d, newparent)->node),
				 newname);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		fs_inode_renamed(d, hmf_node_fd(fs_inode_get(d, parent)->node),
				 name);
	if (rc == 0 && d->opt.sync) {
		hmf_node_fsync(fs_inode_get(d, parent)->node, false);
		hmf_node_fsync(fs_inode_get(d, newparent)->node, false);
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_err(req, 0);
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs_daemon *d = daemon_of(req);
	struct fs_dir *dir = calloc(1, sizeof(*dir));
	int rc;

	if (!dir) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = hmf_node_list(fs_inode_get(d, ino)->node, &dir->ents, &dir->count);
	if (rc < 0) {
		free(dir);
		reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dir;
	if (d->opt.exclusive)
		fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

/*
 * Offsets: 1 after ".", 2 after "..", 3 + i after child i. With @plus,
 * each child is looked up and the kernel receives one reference to it.
 */
static void read_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi, bool plus)
{
	struct fs_daemon *d = daemon_of(req);
	struct fs_dir *dir = (struct fs_dir *)(uintptr_t)fi->fh;
	struct fuse_entry_param e;
	struct hmf_node *n;
	size_t used = 0, len;
	char *buf = malloc(size);
	off_t i;
	int rc;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* -o ctldir=visible lists /.hmf right after ".." */
	off_t ctl = ino == FUSE_ROOT_ID && d->opt.ctldir_visible ? 1 : 0;

	for (i = off; i < (off_t)dir->count + 2 + ctl; i++) {
		const char *name = i == 0	   ? "."
				   : i == 1	   ? ".."
				   : ctl && i == 2 ? FS_CTL_NAME
						   : NULL;

		memset(&e, 0, sizeof(e));
		if (ctl && i == 2) {
			/* a static inode: its lookups need no accounting */
			fs_ctl_stat(d, FS_CTL_ROOT, &e.attr);
			e.ino = FS_CTL_ROOT;
			e.attr_timeout = e.entry_timeout = d->opt.timeout;
		} else if (name) {
			e.attr.st_mode = S_IFDIR;
			e.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
		} else {
			struct hmf_dirent *de = &dir->ents[i - 2 - ctl];

			name = de->name;
			e.attr.st_ino = de->ino;
			e.attr.st_mode =
				de->kind == HMF_KIND_GROUP ? S_IFDIR : S_IFREG;
			if (plus) {
				rc = hmf_node_lookup(fs_inode_get(d, ino)->node,
						     name, &n);
				if (rc == 0)
					rc = fs_inode_enter(d, ino, name, n,
							    &e);
				if (rc == -ENOENT)
					continue; /* vanished meanwhile */
				/* corrupt: listed without attributes, so
				 * that ls shows it and rm can remove it */
				if (rc < 0) {
					fs_report(d, rc);
					memset(&e, 0, sizeof(e));
					e.attr.st_ino = de->ino;
					e.attr.st_mode =
						de->kind == HMF_KIND_GROUP
							? S_IFDIR
							: S_IFREG;
				}
			}
		}
		if (plus)
			len = fuse_add_direntry_plus(
				req, buf + used, size - used, name, &e, i + 1);
		else
			len = fuse_add_direntry(req, buf + used, size - used,
						name, &e.attr, i + 1);
		if (len > size - used) {
			if (plus && e.ino && !fs_ctl_ino(e.ino))
				fs_inode_forget(d, fs_inode_get(d, e.ino), 1);
			break;
		}
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	read_dir(req, ino, size, off, fi, false);
}

static void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, struct fuse_file_info *fi)
{
	read_dir(req, ino, size, off, fi, true);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct fs_dir *dir = (struct fs_dir *)(uintptr_t)fi->fh;

	(void)ino;
	hmf_dirents_free(dir->ents, dir->count);
	free(dir);
	fuse_reply_err(req, 0);
}

static void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			   struct fuse_file_info *fi)
{
	struct fs_daemon *d = daemon_of(req);
	int rc;

	(void)fi;
	rc = hmf_node_fsync(fs_inode_get(d, ino)->node, datasync);
	fuse_reply_err(req, -rc);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_daemon *d = daemon_of(req);
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(hmf_root_fd(d->root), &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.mkdir = fs_op_mkdir,
	.mknod = fs_op_mknod,
	.create = fs_op_create,
	.symlink = fs_op_symlink,
	.link = fs_op_link,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.rename = fs_op_rename,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.fsyncdir = fs_op_fsyncdir,
	.statfs = fs_op_statfs,
	.open = fs_op_open,
	.read = fs_op_read,
	.write_buf = fs_op_write_buf,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.fallocate = fs_op_fallocate,
	.setxattr = fs_op_setxattr,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
};
