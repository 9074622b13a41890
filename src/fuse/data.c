/* SPDX-License-Identifier: MIT */
/*
 * data.c - arrays as regular files: open, read, write, fsync, fallocate,
 * release. Reads are answered from a shared mapping of the array's data
 * (no copy in the daemon) or, with -o read=splice, spliced from its fd.
 * Writes go to the same page cache with pwrite(), not through the
 * mapping: a store into a shared mapping on a full disk is a SIGBUS that
 * would kill the daemon, while pwrite() reports ENOSPC to the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs.h"

/* Map at least 64 MiB at a time so that appends rarely remap. */
#define MAP_STEP (64ul << 20)

/*
 * The node of @in was replaced by a rename through this mount after the
 * kernel looked it up: open the data kept for that case
 * (fs_inode_preserve), as a local filesystem opens the replaced inode.
 */
static int reopen_preserved(struct fs_inode *in, int acc, int *fd)
{
	char path[64];
	int rc = -ENOENT;

	pthread_mutex_lock(&in->lock);
	if (in->datafd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", in->datafd);
		*fd = open(path,
			   (acc == O_RDONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		rc = *fd < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&in->lock);
	return rc;
}

int fs_file_open(struct fs_daemon *d, struct fs_inode *in, int flags,
		 struct fuse_file_info *fi)
{
	struct fs_file *f;
	struct stat st;
	int acc = flags & O_ACCMODE, rc;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/*
	 * The daemon reads the pages a writer's handle needs too, and
	 * writes at explicit offsets: no O_APPEND, no O_DIRECT (the data
	 * is served from the page cache).
	 */
	/* O_NONBLOCK means nothing to a regular file; asking for it saves
	 * libhmf clearing it again */
	rc = hmf_node_data_open(
		in->node, (acc == O_RDONLY ? O_RDONLY : O_RDWR) | O_NONBLOCK,
		&f->fd);
	if (rc == -ENOENT || rc == -EIO)
		rc = reopen_preserved(in, acc, &f->fd);
	if (rc < 0) {
		free(f);
		return rc;
	}
	if ((flags & O_TRUNC) && acc != O_RDONLY) {
		rc = hmf_node_resize(in->node, 0);
		if (rc < 0) {
			close(f->fd);
			free(f);
			return rc;
		}
	}
	if (fstat(f->fd, &st) == 0) {
		pthread_mutex_lock(&in->lock);
		/* the kernel's cached pages are still right if nobody else
		 * changed the data since we last served it */
		fi->keep_cache =
			d->opt.exclusive || in->opens > 0 ||
			(st.st_size == in->cached_size &&
			 st.st_mtim.tv_sec == in->cached_mtime.tv_sec &&
			 st.st_mtim.tv_nsec == in->cached_mtime.tv_nsec);
		in->cached_size = st.st_size;
		in->cached_mtime = st.st_mtim;
		in->opens++;
		pthread_mutex_unlock(&in->lock);
	}
	/*
	 * A write-only handle (cp, dd, shell redirection) bypasses the
	 * kernel's cache of this file: one copy less, measured 2-3x faster
	 * here. Readers and read-write handles (mmap) stay cached.
	 */
	if (acc == O_WRONLY && !d->opt.cached_writes)
		fi->direct_io = 1;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_get(d, ino);
	int rc;

	atomic_fetch_add(&d->ops, 1);
	if (hmf_node_is_group(in->node)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	rc = fs_file_open(d, in, fi->flags, fi);
	if (rc < 0) {
		fs_report(d, rc);
		fuse_reply_err(req, -rc);
	} else {
		fuse_reply_open(req, fi);
	}
}

/*
 * A reference to a mapping of @in's data that covers @end bytes, or NULL
 * (then *rc says why).
 */
static struct fs_map *map_get(struct fs_inode *in, int fd, uint64_t end,
			      int *rc)
{
	struct fs_map *m, *old = NULL;
	size_t len;

	pthread_mutex_lock(&in->lock);
	m = in->map;
	if (!m || m->len < end) {
		*rc = 0;
		len = (end + MAP_STEP - 1) / MAP_STEP * MAP_STEP;
		m = calloc(1, sizeof(*m));
		if (m) {
			/*
			 * Mapped through the reader's own handle: that works
			 * for an unlinked array too. Beyond EOF stays unused
			 * (reads are clamped to the size).
			 */
			m->addr = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
			if (m->addr == MAP_FAILED) {
				*rc = -errno;
				free(m);
				m = NULL;
			} else {
				m->len = len;
				atomic_init(&m->refs, 1);
				old = in->map;
				in->map = m;
			}
		} else if (*rc == 0) {
			*rc = -ENOMEM;
		}
	}
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&in->lock);
	fs_map_put(old); /* in-flight readers keep it alive */
	return m;
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct fs_map *m;
	struct stat st;
	int rc;

	atomic_fetch_add(&d->ops, 1);
	if (fstat(f->fd, &st) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (off >= st.st_size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((uint64_t)off + size > (uint64_t)st.st_size)
		size = (size_t)(st.st_size - off);
	atomic_fetch_add(&d->bytes_read, size);
	buf.buf[0].size = size;
	if (d->opt.read_splice) {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = f->fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	m = map_get(fs_inode_get(d, ino), f->fd, (uint64_t)off + size, &rc);
	if (!m) {
		fuse_reply_err(req, -rc);
		return;
	}
	buf.buf[0].mem = (char *)m->addr + off;
	/*
	 * Map the pages in one call: a page fault per 64 KiB costs more
	 * here than the copy itself (DESIGN section 8).
	 */
	madvise((char *)m->addr + (off & ~(off_t)4095),
		size + (size_t)(off & 4095), MADV_POPULATE_READ);
	fuse_reply_data(req, &buf, FUSE_BUF_NO_SPLICE);
	fs_map_put(m);
}

void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;

	(void)ino;
	atomic_fetch_add(&d->ops, 1);
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = f->fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	f->written = true;
	atomic_fetch_add(&d->bytes_written, (uint64_t)n);
	fuse_reply_write(req, (size_t)n);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fs_inode *in = fs_inode_get(d, ino);
	struct stat st;
	int rc;

	if (f->written) {
		rc = hmf_node_sync_shape(in->node);
		if (rc < 0)
			hmf_log(HMF_LOG_WARNING, "cannot update the shape: %s",
				hmf_errmsg());
	}
	pthread_mutex_lock(&in->lock);
	/*
	 * Writes through the kernel's cache leave it valid; direct writes
	 * (write-only handles) did not pass through it.
	 */
	if (f->written && !fi->direct_io && fstat(f->fd, &st) == 0) {
		in->cached_size = st.st_size;
		in->cached_mtime = st.st_mtim;
	}
	in->opens--;
	pthread_mutex_unlock(&in->lock);
	close(f->fd);
	free(f);
	fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int rc = 0;

	if (f->written)
		rc = hmf_node_sync_shape(fs_inode_get(d, ino)->node);
	if (rc == 0)
		rc = hmf_node_fsync(fs_inode_get(d, ino)->node, datasync);
	fuse_reply_err(req, -rc);
}

void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int rc = 0;

	atomic_fetch_add(&d->ops, 1);
	if (fallocate(f->fd, mode, off, len) < 0)
		rc = -errno;
	if (rc == 0)
		rc = hmf_node_sync_shape(fs_inode_get(d, ino)->node);
	fuse_reply_err(req, -rc);
}
