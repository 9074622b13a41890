/* SPDX-License-Identifier: MIT */
/*
 * data.c - arrays as regular files: open, read, write, fsync, fallocate,
 * release. Reads are answered from a shared mapping of the array's data
 * (no copy in the daemon) or, with -o read=splice, spliced from its fd.
 * Writes go to the same page cache with pwrite(), not through the
 * mapping: a store into a shared mapping on a full disk is a SIGBUS that
 * would kill the daemon, while pwrite() reports ENOSPC to the caller.
 *
 * An array named *.npy is shown as an NPY file (DESIGN section 4): the
 * header that libhmf gives (hmf_node_npy_header) and then the data, so
 * offsets below the header's length are the header's. A new or truncated
 * one collects its first bytes until the header is complete, then hands
 * it to hmf_node_set_npy; everything after it is data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

/* Map at least 64 MiB at a time so that appends rarely remap. */
#define MAP_STEP (64ul << 20)
/*
 * How long a write past the part of an NPY header received so far waits
 * for the rest (parallel in-order writes); then it fails with EINVAL.
 */
#define NPY_WAIT_SEC 2

bool fs_npy(struct fs_inode *in)
{
	bool npy;

	pthread_mutex_lock(&in->lock);
	npy = in->npy;
	pthread_mutex_unlock(&in->lock);
	return npy;
}

int fs_npy_header(struct fs_inode *in, char **hdr, size_t *len)
{
	char *copy;
	int rc;

	rc = hmf_node_npy_header(in->node, hdr, len);
	pthread_mutex_lock(&in->lock);
	if (rc == 0 && (*len != in->npy_hdr_len ||
			(*len && memcmp(*hdr, in->npy_hdr, *len) != 0))) {
		copy = *len ? malloc(*len) : NULL;
		if (copy || !*len) {
			if (copy)
				memcpy(copy, *hdr, *len);
			free(in->npy_hdr);
			in->npy_hdr = copy;
			in->npy_hdr_len = *len;
		}
	} else if ((rc == -ENOENT || rc == -EIO) && in->datafd >= 0) {
		/* removed or replaced: the inode reads as it did */
		*hdr = NULL;
		*len = in->npy_hdr_len;
		rc = 0;
		if (*len && !(*hdr = malloc(*len)))
			rc = -ENOMEM;
		else if (*len)
			memcpy(*hdr, in->npy_hdr, *len);
	}
	pthread_mutex_unlock(&in->lock);
	return rc;
}

/*
 * Store the shape the data size implies. An array removed or replaced
 * through this mount has no metadata left: nothing to store.
 */
static int sync_shape(struct fs_inode *in)
{
	int rc = hmf_node_sync_shape(in->node);

	return rc < 0 && fs_inode_gone(in) ? 0 : rc;
}

int fs_resize(struct fs_inode *in, uint64_t size)
{
	int rc, fd;

	pthread_rwlock_wrlock(fs_size_lock(in));
	rc = hmf_node_resize(in->node, size);
	if (rc < 0 && size <= (uint64_t)INT64_MAX && fs_inode_gone(in)) {
		/* set once, closed only when the inode is freed */
		pthread_mutex_lock(&in->lock);
		fd = in->datafd;
		pthread_mutex_unlock(&in->lock);
		rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	}
	pthread_rwlock_unlock(fs_size_lock(in));
	return rc;
}

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
	f->npy = fs_npy(in);
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
	if ((flags & O_TRUNC) && acc != O_RDONLY && f->npy) {
		/*
		 * Not yet: the old array stays until a valid header has
		 * arrived (or the file is closed without one).
		 */
		f->trunc = true;
		f->state = FS_NPY_PENDING;
	} else if ((flags & O_TRUNC) && acc != O_RDONLY) {
		pthread_rwlock_wrlock(fs_size_lock(in));
		rc = hmf_node_resize(in->node, 0);
		pthread_rwlock_unlock(fs_size_lock(in));
		if (rc < 0) {
			close(f->fd);
			free(f);
			return rc;
		}
	}
	if (f->npy) {
		pthread_mutex_init(&f->lock, NULL);
		pthread_cond_init(&f->cond, NULL);
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
		/* renamed between the NPY and the raw view */
		if (in->view_changed)
			fi->keep_cache = 0;
		in->view_changed = false;
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

/*
 * A reference to a mapping of @in's data with [@off, @off + @size) in
 * it, populated, or NULL (then *rc says why).
 */
static struct fs_map *map_range(struct fs_inode *in, int fd, off_t off,
				size_t size, int *rc)
{
	struct fs_map *m = map_get(in, fd, (uint64_t)off + size, rc);

	/*
	 * Map the pages in one call: a page fault per 64 KiB costs more
	 * here than the copy itself (DESIGN section 8).
	 */
	if (m &&
	    madvise((char *)m->addr + (off & ~(off_t)4095),
		    size + (size_t)(off & 4095), MADV_POPULATE_READ) < 0 &&
	    errno != EINVAL) {
		/*
		 * Pages that cannot be faulted in (EFAULT: a hole of a full
		 * tmpfs needs a new page): a reply from them would fail in
		 * the kernel (EFAULT, the reader gets EIO): callers fall
		 * back to reply_copy().
		 */
		*rc = -errno;
		fs_map_put(m);
		return NULL;
	}
	return m;
}

/*
 * Reply @head (may be NULL), then @size bytes at @off of @fd read with
 * pread(), which reads a hole as zeros where the mapping cannot.
 */
static void reply_copy(fuse_req_t req, const struct iovec *head, int fd,
		       size_t size, off_t off)
{
	struct iovec iov[2];
	size_t got = 0;
	ssize_t n = 0;
	char *buf;
	int cnt = 0, rc;

	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	while (got < size) {
		n = pread(fd, buf + got, size - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* an error, or the file shrank meanwhile */
			break;
		got += (size_t)n;
	}
	if (n < 0) {
		rc = errno;
		free(buf);
		fuse_reply_err(req, rc);
		return;
	}
	if (head)
		iov[cnt++] = *head;
	iov[cnt].iov_base = buf;
	iov[cnt++].iov_len = got;
	fuse_reply_iov(req, iov, cnt);
	free(buf);
}

/* Reply with @size bytes of data at @off (all inside the file). */
static void reply_data(fuse_req_t req, struct fs_daemon *d, struct fs_inode *in,
		       struct fs_file *f, size_t size, off_t off)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct fs_map *m;
	int rc;

	if (d->opt.read_splice) {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = f->fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	m = map_range(in, f->fd, off, size, &rc);
	if (!m) {
		reply_copy(req, NULL, f->fd, size, off);
		return;
	}
	buf.buf[0].mem = (char *)m->addr + off;
	fuse_reply_data(req, &buf, FUSE_BUF_NO_SPLICE);
	fs_map_put(m);
}

/* A read of the NPY view: header bytes below its length, then data. */
static void npy_read(fuse_req_t req, struct fs_daemon *d, struct fs_inode *in,
		     struct fs_file *f, size_t size, off_t off)
{
	struct fs_map *m = NULL;
	struct iovec iov[2];
	size_t hlen, part;
	char *hdr = NULL;
	struct stat st;
	int rc;

	rc = fs_npy_header(in, &hdr, &hlen);
	if (rc == 0 && fstat(f->fd, &st) < 0)
		rc = -errno;
	if (rc < 0) {
		free(hdr);
		fuse_reply_err(req, -rc);
		return;
	}
	if ((uint64_t)off >= hlen + (uint64_t)st.st_size) {
		fuse_reply_buf(req, NULL, 0);
		goto out_free;
	}
	if ((uint64_t)off + size > hlen + (uint64_t)st.st_size)
		size = (size_t)(hlen + (uint64_t)st.st_size - (uint64_t)off);
	atomic_fetch_add(&d->bytes_read, size);
	if ((uint64_t)off >= hlen) {
		reply_data(req, d, in, f, size, off - (off_t)hlen);
		goto out_free;
	}
	/* the header's part, then the data's from the mapping: no copy */
	part = hlen - (size_t)off < size ? hlen - (size_t)off : size;
	iov[0].iov_base = hdr + off;
	iov[0].iov_len = part;
	if (size > part) {
		m = map_range(in, f->fd, 0, size - part, &rc);
		if (!m) {
			reply_copy(req, &iov[0], f->fd, size - part, 0);
			goto out_free;
		}
		iov[1].iov_base = m->addr;
		iov[1].iov_len = size - part;
	}
	fuse_reply_iov(req, iov, size > part ? 2 : 1);
	fs_map_put(m);
out_free:
	free(hdr);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fs_inode *in = fs_inode_get(d, ino);
	pthread_rwlock_t *size_lock = fs_size_lock(in);
	struct stat st;

	atomic_fetch_add(&d->ops, 1);
	/* the size stays until the reply is written; then @in may be gone */
	pthread_rwlock_rdlock(size_lock);
	if (f->npy) {
		npy_read(req, d, in, f, size, off);
	} else if (fstat(f->fd, &st) < 0) {
		fuse_reply_err(req, errno);
	} else if (off >= st.st_size) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		if ((uint64_t)off + size > (uint64_t)st.st_size)
			size = (size_t)(st.st_size - off);
		atomic_fetch_add(&d->bytes_read, size);
		reply_data(req, d, in, f, size, off);
	}
	pthread_rwlock_unlock(size_lock);
}

/* Copy the next @len bytes of @in (it advances) to memory at @dst. */
static ssize_t take(struct fuse_bufvec *in, void *dst, size_t len)
{
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(len);

	mem.buf[0].mem = dst;
	return fuse_buf_copy(&mem, in, 0);
}

/* Write the next @len bytes of @in (it advances) to the data at @pos. */
static ssize_t put(struct fs_file *f, struct fuse_bufvec *in, size_t len,
		   off_t pos)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(len);

	if (len == 0)
		return 0;
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = f->fd;
	out.buf[0].pos = pos;
	return fuse_buf_copy(&out, in, 0);
}

/*
 * The header of @f was refused (f->lock held): its writes fail from now
 * on, and no array is left behind: a file this open created goes, an
 * existing one keeps its old content (O_TRUNC waited for the header).
 */
static int refuse(struct fs_daemon *d, struct fs_inode *in, struct fs_file *f,
		  int rc)
{
	hmf_log(HMF_LOG_INFO, "NPY file refused: %s", hmf_errmsg());
	f->state = FS_NPY_FAILED;
	free(f->head);
	f->head = NULL;
	f->head_len = f->head_total = 0;
	pthread_cond_broadcast(&f->cond);
	if (f->created)
		fs_inode_remove(d, in);
	/*
	 * The kernel took the size for 0 at the O_TRUNC open: it must ask
	 * again (attributes only, -1: that takes no lock in the kernel).
	 */
	if (f->trunc)
		fuse_lowlevel_notify_inval_inode(d->se, fs_inode_id(d, in), -1,
						 0);
	return rc;
}

/*
 * A write while the header is coming (f->lock held, @off within what has
 * arrived): its bytes join f->head until the header is complete; then
 * libhmf applies it and the rest goes to the data. Returns the number of
 * bytes taken or -errno.
 */
static ssize_t write_head(struct fs_daemon *d, struct fs_inode *in,
			  struct fs_file *f, struct fuse_bufvec *buf,
			  size_t size, off_t off)
{
	size_t cap, k, total;
	ssize_t n, rest;
	char *p;
	int rc;

	cap = f->head_total ? f->head_total : HMF_NPY_HEADER_MAX;
	k = cap - (size_t)off < size ? cap - (size_t)off : size;
	if (k == 0)
		return 0;
	if ((size_t)off + k > f->head_len) {
		p = realloc(f->head, (size_t)off + k);
		if (!p)
			return -ENOMEM;
		f->head = p;
	}
	n = take(buf, f->head + off, k);
	if (n <= 0)
		return n;
	k = (size_t)n;
	if ((size_t)off + k > f->head_len)
		f->head_len = (size_t)off + k;
	if (!f->head_total) {
		rc = hmf_npy_header_len(f->head, f->head_len, &total);
		if (rc == -EAGAIN)
			return (ssize_t)k;
		if (rc < 0)
			return refuse(d, in, f, rc);
		f->head_total = total;
	}
	total = f->head_total;
	if (f->head_len < total)
		return (ssize_t)k;
	pthread_rwlock_wrlock(fs_size_lock(in)); /* it may shrink the data */
	rc = hmf_node_set_npy(in->node, f->head, total,
			      f->trunc ? HMF_NPY_DISCARD : 0);
	pthread_rwlock_unlock(fs_size_lock(in));
	if (rc < 0)
		return refuse(d, in, f, rc);
	/* the bytes that came with the header are the data's first */
	if (f->head_len > total) {
		n = pwrite(f->fd, f->head + total, f->head_len - total, 0);
		if (n < 0)
			rc = -errno;
		else if ((size_t)n < f->head_len - total)
			rc = -ENOSPC; /* a short write to a regular file */
	}
	f->trunc = false;
	f->state = FS_NPY_READY;
	free(f->head);
	f->head = NULL;
	f->head_len = f->head_total = 0;
	pthread_cond_broadcast(&f->cond);
	if (rc < 0)
		return rc;
	rest = put(f, buf, size - k, (off_t)((size_t)off + k - total));
	return rest < 0 ? (ssize_t)k : (ssize_t)(k + (size_t)rest);
}

/*
 * A write once the header @hdr (@hlen bytes) is there: past it, data;
 * into it, the header must stay a valid one of the same length (a tool
 * that appends rows rewrites the shape in place), else EINVAL.
 */
static ssize_t write_ready(struct fs_inode *in, struct fs_file *f,
			   struct fuse_bufvec *buf, size_t size, off_t off,
			   const char *hdr, size_t hlen)
{
	ssize_t n, rest;
	char *copy;
	size_t k;
	int rc;

	if ((uint64_t)off >= hlen)
		return put(f, buf, size, off - (off_t)hlen);
	k = hlen - (size_t)off < size ? hlen - (size_t)off : size;
	copy = malloc(hlen);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, hdr, hlen);
	n = take(buf, copy + off, k);
	if (n >= 0 && memcmp(copy, hdr, hlen) != 0) {
		pthread_rwlock_wrlock(fs_size_lock(in));
		rc = hmf_node_set_npy(in->node, copy, hlen, 0);
		pthread_rwlock_unlock(fs_size_lock(in));
		if (rc < 0) {
			hmf_log(HMF_LOG_INFO, "NPY header not rewritten: %s",
				hmf_errmsg());
			n = rc;
		}
	}
	free(copy);
	if (n < 0)
		return n;
	rest = put(f, buf, size - k, 0);
	return rest < 0 ? (ssize_t)k : (ssize_t)(k + (size_t)rest);
}

static ssize_t npy_write(struct fs_daemon *d, struct fs_inode *in,
			 struct fs_file *f, struct fuse_bufvec *buf, off_t off)
{
	size_t size = fuse_buf_size(buf), hlen;
	struct timespec until = { 0, 0 };
	char *hdr = NULL;
	ssize_t n;
	int rc;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (f->state == FS_NPY_READY) {
			/* an empty file: what comes first must be a header */
			rc = fs_npy_header(in, &hdr, &hlen);
			if (rc == 0 && hlen == 0) {
				f->state = FS_NPY_PENDING;
			} else {
				pthread_mutex_unlock(&f->lock);
				n = rc < 0 ? rc
					   : write_ready(in, f, buf, size, off,
							 hdr, hlen);
				free(hdr);
				return n;
			}
		}
		if (f->state == FS_NPY_FAILED) {
			pthread_mutex_unlock(&f->lock);
			return -EINVAL;
		}
		if ((uint64_t)off <= f->head_len)
			break;
		/*
		 * Past what has arrived: a later request of an in-order
		 * stream that another thread took first. Wait for the
		 * header; a writer that starts elsewhere gets EINVAL. (With
		 * one thread, nobody else could bring the header.)
		 */
		if (!until.tv_sec) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += NPY_WAIT_SEC;
		}
		rc = d->singlethread ? ETIMEDOUT
				     : pthread_cond_timedwait(&f->cond,
							      &f->lock, &until);
		if (rc == ETIMEDOUT) {
			pthread_mutex_unlock(&f->lock);
			hmf_log(HMF_LOG_INFO,
				"NPY file: a write at %lld before its header",
				(long long)off);
			return -EINVAL;
		}
	}
	n = write_head(d, in, f, buf, size, off);
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	ssize_t n;

	atomic_fetch_add(&d->ops, 1);
	if (f->npy)
		n = npy_write(d, fs_inode_get(d, ino), f, in, off);
	else
		n = put(f, in, fuse_buf_size(in), off);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	f->written = true;
	atomic_fetch_add(&d->bytes_written, (uint64_t)n);
	fuse_reply_write(req, (size_t)n);
}

/*
 * Closing an NPY view: a header left incomplete is refused (close fails
 * with EINVAL). At the @last close, an O_TRUNC open that wrote nothing
 * empties the file (not at a flush: a shell's "> x.npy" opens, dup2()s
 * and closes the first descriptor before it writes).
 */
static int npy_close(struct fs_daemon *d, struct fs_inode *in,
		     struct fs_file *f, bool last)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (f->state == FS_NPY_PENDING && f->head_len > 0) {
		rc = refuse(
			d, in, f,
			hmf_err(-EINVAL,
				"the file ends inside its NPY header (%zu bytes)",
				f->head_len));
	} else if (last && f->state == FS_NPY_PENDING && f->trunc) {
		pthread_rwlock_wrlock(fs_size_lock(in));
		rc = hmf_node_set_npy(in->node, NULL, 0, HMF_NPY_DISCARD);
		pthread_rwlock_unlock(fs_size_lock(in));
		if (rc == 0)
			f->trunc = false;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	bool failed = false;
	int rc = 0, src;

	if (f->npy) {
		rc = npy_close(d, fs_inode_get(d, ino), f, false);
		pthread_mutex_lock(&f->lock);
		failed = f->state == FS_NPY_FAILED;
		pthread_mutex_unlock(&f->lock);
	}
	/*
	 * close() waits for the flush but not for the release: store the
	 * shape now, or a daemon killed after close() returned leaves a
	 * stale one (release syncs again after later writes).
	 */
	if (rc == 0 && f->written && !failed) {
		src = sync_shape(fs_inode_get(d, ino));
		if (src < 0)
			hmf_log(HMF_LOG_WARNING, "cannot update the shape: %s",
				hmf_errmsg());
	}
	fuse_reply_err(req, -rc);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fs_inode *in = fs_inode_get(d, ino);
	struct stat st;
	int rc;

	if (f->npy)
		npy_close(d, in, f, true);
	/* (a refused new file is gone already) */
	if (f->written && !(f->npy && f->state == FS_NPY_FAILED)) {
		rc = sync_shape(in);
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
	if (f->npy) {
		free(f->head);
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
	}
	free(f);
	fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fs_inode *in = fs_inode_get(d, ino);
	int rc = 0;

	if (f->written)
		rc = sync_shape(in);
	if (rc == 0)
		rc = hmf_node_fsync(in->node, datasync);
	/* removed or replaced meanwhile: only its data is left to flush */
	if (rc < 0 && fs_inode_gone(in))
		rc = (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0 ? -errno
								      : 0;
	fuse_reply_err(req, -rc);
}

void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	char *hdr = NULL;
	size_t hlen = 0;
	int rc = 0;

	atomic_fetch_add(&d->ops, 1);
	/* an NPY view's offsets count its header, which is not data */
	if (f->npy)
		rc = fs_npy_header(fs_inode_get(d, ino), &hdr, &hlen);
	free(hdr);
	if (rc == 0 && f->npy && hlen == 0 && !(mode & FALLOC_FL_KEEP_SIZE))
		rc = -EINVAL; /* the header must come first */
	if (rc == 0 && (uint64_t)off < hlen) {
		if (mode & ~FALLOC_FL_KEEP_SIZE)
			rc = -EINVAL;
		len -= (off_t)hlen - off < len ? (off_t)hlen - off : len;
		off = (off_t)hlen;
	}
	off -= (off_t)hlen;
	pthread_rwlock_wrlock(fs_size_lock(fs_inode_get(d, ino)));
	if (rc == 0 && len > 0 && fallocate(f->fd, mode, off, len) < 0)
		rc = -errno;
	pthread_rwlock_unlock(fs_size_lock(fs_inode_get(d, ino)));
	if (rc == 0)
		rc = sync_shape(fs_inode_get(d, ino));
	fuse_reply_err(req, -rc);
}
