/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the control directory /.hmf of the mount (DESIGN section 5):
 * /.hmf/ingest takes ingest requests (write one JSON request, read the
 * answer on the same handle), /.hmf/jobs/<id> shows each job, /.hmf/stats
 * the counters and /.hmf/version the versions. Its inodes are static (small
 * node ids that no heap address can be); fs_mount_ops routes them here
 * and everything else to fs_ops.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "hmf/ingest.h"

#define CTL_INGEST FS_CTL_INGEST
#define CTL_JOBS FS_CTL_JOBS
#define CTL_STATS FS_CTL_STATS
#define CTL_VERSION FS_CTL_VERSION
#define CTL_JOB_BASE FS_CTL_JOB_BASE
#define CTL_JOB_MAX FS_CTL_JOB_MAX
/* finished jobs kept for /.hmf/jobs beyond this are forgotten */
#define JOBS_KEPT 1000

/*
 * A read of /.hmf/ingest waiting for its job to end. It has an interrupt
 * callback (Ctrl-C in the client) from before it is queued until it is
 * answered. Lock order: libfuse's request lock (held around the callback)
 * before d->jobs_lock; nobody calls fuse_req_interrupt_func holding
 * jobs_lock. queued and interrupted are protected by jobs_lock.
 */
struct waiter {
	fuse_req_t req;
	size_t size;
	off_t off;
	bool queued;	    /* in job's list: the job answers it */
	bool interrupted;   /* interrupted before it was queued */
	struct fs_job *job; /* set when queued */
	struct fs_daemon *d;
	struct waiter *next;
};

/* One ingest job; the fields marked d are protected by d->jobs_lock. */
struct fs_job {
	uint64_t id;		      /* immutable */
	struct hmf_ingest_request *q; /* immutable */
	int srcfd;		      /* the job thread's */
	struct hmf_ingest_progress progress;
	struct timespec start, end; /* d */
	const char *state;	    /* d: queued, running, done, failed */
	char *error;		    /* d */
	struct waiter *waiters;	    /* d */
	unsigned refs;		    /* d: the list, the thread, handles */
	struct fs_job *next;	    /* d */
	struct fs_daemon *d;
};

/* An open control file (fi->fh). */
struct ctl_file {
	fuse_ino_t ino;
	char *buf; /* /.hmf/ingest: the request so far */
	size_t len;
	char *error;	    /* why the request was refused */
	struct fs_job *job; /* the accepted job (a reference) */
	/*
	 * What reads of this handle show: made afresh by a read at offset 0
	 * (or the first), so that a reader taking a document in pieces gets
	 * one consistent version of it. Protected by snap_lock.
	 */
	pthread_mutex_t snap_lock;
	char *snap;
};

static double seconds_between(struct timespec a, struct timespec b)
{
	return (double)(b.tv_sec - a.tv_sec) +
	       (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void job_put_locked(struct fs_job *j)
{
	if (--j->refs)
		return;
	hmf_ingest_request_free(j->q);
	free(j->error);
	free(j);
}

static void job_put(struct fs_daemon *d, struct fs_job *j)
{
	pthread_mutex_lock(&d->jobs_lock);
	job_put_locked(j);
	pthread_mutex_unlock(&d->jobs_lock);
}

/* The job's status document. Under d->jobs_lock. */
static char *status_locked(struct fs_job *j)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (strcmp(j->state, "done") == 0 || strcmp(j->state, "failed") == 0)
		now = j->end;
	return hmf_ingest_status_json(
		j->id, j->state, j->q, &j->progress,
		strcmp(j->state, "queued") ? seconds_between(j->start, now) : 0,
		j->error);
}

/* Reply @size bytes at @off of @text (which may be NULL: ENOMEM). */
static void reply_text(fuse_req_t req, const char *text, size_t size, off_t off)
{
	size_t len;

	if (!text) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	len = strlen(text);
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off,
			       len - (size_t)off < size ? len - (size_t)off
							: size);
}

static void *job_main(void *arg)
{
	struct fs_job *j = arg;
	struct fs_daemon *d = j->d;
	struct waiter *w, *next;
	char *text;
	int rc;

	rc = hmf_ingest_run(d->root, j->q, j->srcfd, &j->progress,
			    &d->stop_jobs);
	close(j->srcfd);
	pthread_mutex_lock(&d->jobs_lock);
	clock_gettime(CLOCK_MONOTONIC, &j->end);
	j->state = rc == 0 ? "done" : "failed";
	if (rc < 0)
		j->error = strdup(hmf_errmsg());
	w = j->waiters;
	j->waiters = NULL;
	for (next = w; next; next = next->next)
		next->queued = false; /* this thread answers them */
	text = status_locked(j);
	d->running_jobs--;
	pthread_cond_broadcast(&d->jobs_cond);
	job_put_locked(j); /* the thread's reference */
	pthread_mutex_unlock(&d->jobs_lock);
	if (rc < 0)
		hmf_log(HMF_LOG_INFO, "ingest job %llu failed: %s",
			(unsigned long long)j->id, hmf_errmsg());
	for (; w; w = next) {
		next = w->next;
		/* waits for a running callback; none can start after it */
		fuse_req_interrupt_func(w->req, NULL, NULL);
		reply_text(w->req, text, w->size, w->off);
		free(w);
	}
	free(text);
	return NULL;
}

/* Keep the job list bounded: forget the oldest finished jobs. */
static void trim_jobs_locked(struct fs_daemon *d)
{
	struct fs_job **p = &d->jobs, *j;
	size_t n = 0;

	while ((j = *p)) {
		if (++n > JOBS_KEPT && (strcmp(j->state, "done") == 0 ||
					strcmp(j->state, "failed") == 0)) {
			*p = j->next;
			d->njobs--;
			job_put_locked(j);
			continue;
		}
		p = &j->next;
	}
}

/*
 * Open the request's source as the requesting user: the daemon may be
 * root, but nobody reads through it what they could not read themselves.
 * fsuid, fsgid and (by the raw system call) the groups are per thread.
 */
static int open_as_caller(struct fs_daemon *d, fuse_req_t req,
			  const struct hmf_ingest_request *q, int *fd)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[256];
	int ng = 0, rc;

	if (!d->is_root)
		return hmf_ingest_open_source(d->root, q, fd);
	ng = fuse_req_getgroups(req, 256, groups);
	if (ng < 0 || ng > 256)
		ng = 0;
	if (syscall(SYS_setgroups, (size_t)ng, groups) < 0)
		return -errno;
	setfsgid(ctx->gid);
	setfsuid(ctx->uid);
	rc = hmf_ingest_open_source(d->root, q, fd);
	setfsuid(0);
	setfsgid(0);
	syscall(SYS_setgroups, (size_t)0, groups);
	return rc;
}

/* Validate and start the request in @f. Returns 0 or -errno. */
static int submit(struct fs_daemon *d, fuse_req_t req, struct ctl_file *f)
{
	struct hmf_ingest_request *q;
	pthread_attr_t attr;
	struct fs_job *j;
	pthread_t tid;
	int fd, rc;

	rc = hmf_ingest_request_parse(f->buf, f->len, &q);
	if (rc < 0)
		return rc;
	if (d->is_root) {
		/* what the job makes belongs to whoever asked */
		q->owned = true;
		q->uid = fuse_req_ctx(req)->uid;
		q->gid = fuse_req_ctx(req)->gid;
	}
	rc = open_as_caller(d, req, q, &fd);
	if (rc == 0) {
		rc = hmf_ingest_validate(d->root, q, fd);
		if (rc < 0)
			close(fd);
	}
	if (rc < 0) {
		hmf_ingest_request_free(q);
		return rc;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		close(fd);
		hmf_ingest_request_free(q);
		return -ENOMEM;
	}
	j->q = q;
	j->srcfd = fd;
	j->d = d;
	j->state = "running";
	clock_gettime(CLOCK_MONOTONIC, &j->start);
	pthread_mutex_lock(&d->jobs_lock);
	j->id = ++d->next_job_id;
	j->refs = 3; /* the list, the thread, the handle */
	j->next = d->jobs;
	d->jobs = j;
	d->njobs++;
	d->running_jobs++;
	trim_jobs_locked(d);
	pthread_mutex_unlock(&d->jobs_lock);
	f->job = j;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, job_main, j) != 0)
		job_main(j); /* run it here rather than fail an accepted job */
	pthread_attr_destroy(&attr);
	return 0;
}

static void ctl_write(fuse_req_t req, struct ctl_file *f, const char *data,
		      size_t size)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	size_t start = 0, end;
	char *b;
	int rc;

	if (f->ino != CTL_INGEST) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (f->job || f->error) {
		fuse_reply_err(req, EBUSY); /* one request per open */
		return;
	}
	if (f->len + size > HMF_INGEST_REQUEST_MAX) {
		f->error = strdup("request over 1 MiB");
		fuse_reply_err(req, EFBIG);
		return;
	}
	b = realloc(f->buf, f->len + size + 1);
	if (!b) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->buf = b;
	memcpy(f->buf + f->len, data, size);
	f->len += size;
	f->buf[f->len] = '\0';
	/* a request is one JSON object: complete when it ends with '}' */
	while (start < f->len && strchr(" \t\r\n", f->buf[start]))
		start++;
	end = f->len;
	while (end > start && strchr(" \t\r\n", f->buf[end - 1]))
		end--;
	if (start < f->len && f->buf[start] == '{' &&
	    (end == start || f->buf[end - 1] != '}')) {
		fuse_reply_write(req, size); /* more to come */
		return;
	}
	rc = start == f->len ? 0 : submit(d, req, f);
	if (rc < 0) {
		f->error =
			strdup(hmf_errmsg()[0] ? hmf_errmsg() : strerror(-rc));
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_write(req, size);
}

static struct fs_job *job_by_ino_locked(struct fs_daemon *d, fuse_ino_t ino)
{
	struct fs_job *j;

	for (j = d->jobs; j; j = j->next)
		if (CTL_JOB_BASE + j->id == ino)
			return j;
	return NULL;
}

static char *stats_text(struct fs_daemon *d)
{
	size_t running = 0, done = 0, failed = 0, inodes;
	struct fs_job *j;
	char *s;

	pthread_mutex_lock(&d->jobs_lock);
	for (j = d->jobs; j; j = j->next) {
		if (strcmp(j->state, "done") == 0)
			done++;
		else if (strcmp(j->state, "failed") == 0)
			failed++;
		else
			running++;
	}
	pthread_mutex_unlock(&d->jobs_lock);
	pthread_mutex_lock(&d->lock);
	inodes = d->count;
	pthread_mutex_unlock(&d->lock);
	if (asprintf(
		    &s,
		    "{\"operations\":%llu,\"bytes_read\":%llu,\"bytes_written\":%llu,\"inodes\":%zu,\"jobs\":{\"running\":%zu,\"done\":%zu,\"failed\":%zu}}\n",
		    (unsigned long long)atomic_load(&d->ops),
		    (unsigned long long)atomic_load(&d->bytes_read),
		    (unsigned long long)atomic_load(&d->bytes_written), inodes,
		    running, done, failed) < 0)
		return NULL;
	return s;
}

/*
 * The client gave up a waiting read (FUSE_INTERRUPT): answer it EINTR if
 * it is still queued; if it is not queued yet, ctl_read sees the flag.
 */
static void waiter_interrupted(fuse_req_t req, void *data)
{
	struct waiter *w = data, **p;
	bool found = false;

	pthread_mutex_lock(&w->d->jobs_lock);
	if (w->queued) {
		for (p = &w->job->waiters; *p; p = &(*p)->next)
			if (*p == w) {
				*p = w->next;
				found = true;
				break;
			}
		w->queued = false;
	} else {
		w->interrupted = true;
	}
	pthread_mutex_unlock(&w->d->jobs_lock);
	if (found) {
		/* the reply unregisters this callback: w is ours now */
		fuse_reply_err(req, EINTR);
		free(w);
	}
}

/* Let go of @w, which was never queued or was taken back. */
static void waiter_drop(struct waiter *w)
{
	if (w) {
		fuse_req_interrupt_func(w->req, NULL, NULL);
		free(w);
	}
}

static void ctl_read(fuse_req_t req, struct ctl_file *f, size_t size, off_t off,
		     int flags)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct waiter *w = NULL;
	struct fs_job *j;
	char *text = NULL;

	/*
	 * The answer follows the request on the same handle: the writer's
	 * file position is past the request, and that is where it begins.
	 */
	if (f->ino == CTL_INGEST && (size_t)off >= f->len)
		off -= (off_t)f->len;
	if (f->ino == CTL_VERSION) {
		if (asprintf(&text, "hmf-mount %s\nformat %d\nlibfuse %s\n",
			     HMF_VERSION, HMF_FORMAT_VERSION,
			     fuse_pkgversion()) < 0)
			text = NULL;
	} else if (f->ino == CTL_STATS) {
		text = stats_text(d);
	} else if (f->ino == CTL_INGEST && !f->job) {
		text = f->error ? hmf_ingest_status_json(0, "failed", NULL,
							 NULL, 0, f->error)
				: strdup("");
	} else {
		/*
		 * A read that may wait gets its interrupt callback before
		 * it is queued: once queued, the job may answer (and libfuse
		 * free) @req at any moment.
		 */
		if (f->ino == CTL_INGEST && !(flags & O_NONBLOCK) &&
		    (w = calloc(1, sizeof(*w)))) {
			w->req = req;
			w->size = size;
			w->off = off;
			w->d = d;
			fuse_req_interrupt_func(req, waiter_interrupted, w);
		}
		pthread_mutex_lock(&d->jobs_lock);
		j = f->ino == CTL_INGEST ? f->job
					 : job_by_ino_locked(d, f->ino);
		if (!j) {
			pthread_mutex_unlock(&d->jobs_lock);
			waiter_drop(w);
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (w && w->interrupted) {
			pthread_mutex_unlock(&d->jobs_lock);
			waiter_drop(w);
			fuse_reply_err(req, EINTR);
			return;
		}
		if (w && strcmp(j->state, "running") == 0) {
			/* answered by the job thread when it ends */
			w->queued = true;
			w->job = j;
			w->next = j->waiters;
			j->waiters = w;
			pthread_mutex_unlock(&d->jobs_lock);
			return;
		}
		text = status_locked(j);
		pthread_mutex_unlock(&d->jobs_lock);
		waiter_drop(w);
		if (text && f->ino != CTL_INGEST) {
			char *t2;

			if (asprintf(&t2, "%s\n", text) >= 0) {
				free(text);
				text = t2;
			}
		}
	}
	pthread_mutex_lock(&f->snap_lock);
	if (off == 0 || !f->snap) {
		free(f->snap);
		f->snap = text;
		text = NULL;
	}
	free(text);
	text = f->snap ? strdup(f->snap) : NULL;
	pthread_mutex_unlock(&f->snap_lock);
	/* after the reply the handle may be released at any moment */
	reply_text(req, text, size, off);
	free(text);
}

/* Lookups and attributes */

static void ctl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	char *end;
	unsigned long long id;

	memset(&e, 0, sizeof(e));
	if (parent == FUSE_ROOT_ID) {
		ino = FS_CTL_ROOT;
	} else if (parent == FS_CTL_ROOT) {
		if (strcmp(name, "ingest") == 0)
			ino = CTL_INGEST;
		else if (strcmp(name, "jobs") == 0)
			ino = CTL_JOBS;
		else if (strcmp(name, "stats") == 0)
			ino = CTL_STATS;
		else if (strcmp(name, "version") == 0)
			ino = CTL_VERSION;
	} else if (parent == CTL_JOBS) {
		id = strtoull(name, &end, 10);
		if (*name && !*end && id > 0 && id <= CTL_JOB_MAX) {
			pthread_mutex_lock(&d->jobs_lock);
			if (job_by_ino_locked(d, CTL_JOB_BASE + id))
				ino = CTL_JOB_BASE + id;
			pthread_mutex_unlock(&d->jobs_lock);
		}
	}
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_ctl_stat(d, ino, &e.attr);
	e.ino = ino;
	/* job files come and go: no caching of entries or sizes */
	e.attr_timeout = 0;
	e.entry_timeout = ino == FS_CTL_ROOT ? d->opt.timeout : 0;
	fuse_reply_entry(req, &e);
}

static void ctl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctl_file *f;

	if (ino == FS_CTL_ROOT || ino == CTL_JOBS) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino != CTL_INGEST && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->ino = ino;
	pthread_mutex_init(&f->snap_lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)f;
	/* contents are made at read time; sizes are unknown */
	fi->direct_io = 1;
	fi->nonseekable = 0;
	fuse_reply_open(req, fi);
}

static void ctl_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct ctl_file *f = (struct ctl_file *)(uintptr_t)fi->fh;

	if (f->job)
		job_put(fuse_req_userdata(req), f->job);
	free(f->buf);
	free(f->error);
	free(f->snap);
	pthread_mutex_destroy(&f->snap_lock);
	free(f);
	fuse_reply_err(req, 0);
}

static void ctl_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			bool plus)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	static const char *const top[] = { "ingest", "jobs", "stats",
					   "version" };
	static const fuse_ino_t top_ino[] = { CTL_INGEST, CTL_JOBS, CTL_STATS,
					      CTL_VERSION };
	char *buf = malloc(size), name[32];
	size_t used = 0, len, n = 0, i;
	uint64_t *ids = NULL;
	struct fs_job *j;
	struct stat st;
	off_t k;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (ino == CTL_JOBS) {
		pthread_mutex_lock(&d->jobs_lock);
		ids = calloc(d->njobs + 1, sizeof(*ids));
		for (j = d->jobs; ids && j; j = j->next)
			ids[n++] = j->id;
		pthread_mutex_unlock(&d->jobs_lock);
	} else {
		n = 4;
	}
	for (k = off; k < (off_t)n + 2; k++) {
		memset(&st, 0, sizeof(st));
		if (k < 2) {
			snprintf(name, sizeof(name), "%s", k ? ".." : ".");
			st.st_mode = S_IFDIR;
			st.st_ino = k ? FUSE_ROOT_ID : ino;
		} else if (ino == CTL_JOBS) {
			/* oldest first, as ls expects of numbered files */
			i = n - 1 - (size_t)(k - 2);
			snprintf(name, sizeof(name), "%llu",
				 (unsigned long long)ids[i]);
			fs_ctl_stat(d, CTL_JOB_BASE + ids[i], &st);
		} else {
			snprintf(name, sizeof(name), "%s", top[k - 2]);
			fs_ctl_stat(d, top_ino[k - 2], &st);
		}
		if (plus) {
			/* static inodes: the kernel's lookups need no count */
			struct fuse_entry_param e = { .attr = st };

			e.ino = k < 2 ? 0 : st.st_ino;
			len = fuse_add_direntry_plus(
				req, buf + used, size - used, name, &e, k + 1);
		} else {
			len = fuse_add_direntry(req, buf + used, size - used,
						name, &st, k + 1);
		}
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(ids);
	free(buf);
}

void fs_jobs_stop(struct fs_daemon *d)
{
	struct fs_job *j;

	atomic_store(&d->stop_jobs, 1);
	pthread_mutex_lock(&d->jobs_lock);
	while (d->running_jobs > 0)
		pthread_cond_wait(&d->jobs_cond, &d->jobs_lock);
	while ((j = d->jobs)) {
		d->jobs = j->next;
		job_put_locked(j); /* the list's reference */
	}
	pthread_mutex_unlock(&d->jobs_lock);
}

/*
 * fs_mount_ops: the control inodes are answered here, the tree by fs_ops.
 * A control inode is never a parent of nodes, never renamed or linked.
 */

static struct fs_daemon *counted(fuse_req_t req)
{
	struct fs_daemon *d = fuse_req_userdata(req);

	atomic_fetch_add(&d->ops, 1);
	return d;
}

static void m_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (fs_ctl_ino(parent) ||
	    (parent == FUSE_ROOT_ID && strcmp(name, FS_CTL_NAME) == 0)) {
		counted(req);
		ctl_lookup(req, parent, name);
	} else {
		fs_ops.lookup(req, parent, name);
	}
}

static void m_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (fs_ctl_ino(ino))
		fuse_reply_none(req); /* static: nothing to free */
	else
		fs_ops.forget(req, ino, nlookup);
}

static void m_forget_multi(fuse_req_t req, size_t count,
			   struct fuse_forget_data *forgets)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	size_t i;

	for (i = 0; i < count; i++)
		if (!fs_ctl_ino(forgets[i].ino))
			fs_inode_forget(d, fs_inode_get(d, forgets[i].ino),
					forgets[i].nlookup);
	fuse_reply_none(req);
}

static void m_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (!fs_ctl_ino(ino)) {
		fs_ops.getattr(req, ino, fi);
		return;
	}
	fs_ctl_stat(counted(req), ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void m_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	struct stat st;

	if (!fs_ctl_ino(ino)) {
		fs_ops.setattr(req, ino, attr, to_set, fi);
		return;
	}
	/* "echo ... > /.hmf/ingest" truncates first: that is harmless */
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW |
		       FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_ATIME |
		       FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fs_ctl_stat(counted(req), ino, &st);
	fuse_reply_attr(req, &st, 0);
}

/* Creating, removing or moving anything in or as a control inode. */
static bool refuse(fuse_req_t req, fuse_ino_t a, fuse_ino_t b, const char *name)
{
	if (fs_ctl_ino(a) || fs_ctl_ino(b) ||
	    (a == FUSE_ROOT_ID && name && strcmp(name, FS_CTL_NAME) == 0)) {
		fuse_reply_err(req, EPERM);
		return true;
	}
	return false;
}

static void m_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	if (!refuse(req, parent, 0, name))
		fs_ops.mkdir(req, parent, name, mode);
}

static void m_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, dev_t rdev)
{
	if (!refuse(req, parent, 0, name))
		fs_ops.mknod(req, parent, name, mode, rdev);
}

static void m_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	if (!refuse(req, parent, 0, name))
		fs_ops.create(req, parent, name, mode, fi);
}

static void m_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!refuse(req, parent, 0, name))
		fs_ops.unlink(req, parent, name);
}

static void m_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!refuse(req, parent, 0, name))
		fs_ops.rmdir(req, parent, name);
}

static void m_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	if (!refuse(req, parent, newparent, name) &&
	    !refuse(req, newparent, 0, newname))
		fs_ops.rename(req, parent, name, newparent, newname, flags);
}

static void m_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		   const char *name)
{
	fuse_reply_err(req, EPERM); /* HMF has no links */
	(void)ino;
	(void)parent;
	(void)name;
}

static void m_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino)) {
		counted(req);
		ctl_open(req, ino, fi);
	} else {
		fs_ops.open(req, ino, fi);
	}
}

static void m_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino)) {
		counted(req);
		ctl_read(req, (struct ctl_file *)(uintptr_t)fi->fh, size, off,
			 fi->flags);
	} else {
		fs_ops.read(req, ino, size, off, fi);
	}
}

static void m_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
			off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	char *data;
	ssize_t n;

	if (!fs_ctl_ino(ino)) {
		fs_ops.write_buf(req, ino, in, off, fi);
		return;
	}
	counted(req);
	data = malloc(out.buf[0].size + 1);
	if (!data) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	out.buf[0].mem = data;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		ctl_write(req, (struct ctl_file *)(uintptr_t)fi->fh, data,
			  (size_t)n);
	free(data);
}

static void m_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, 0);
	else
		fs_ops.flush(req, ino, fi);
}

static void m_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		ctl_release(req, fi);
	else
		fs_ops.release(req, ino, fi);
}

static void m_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, 0);
	else
		fs_ops.fsync(req, ino, datasync, fi);
}

static void m_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			off_t len, struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, EPERM);
	else
		fs_ops.fallocate(req, ino, mode, off, len, fi);
}

static void m_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!fs_ctl_ino(ino)) {
		fs_ops.opendir(req, ino, fi);
		return;
	}
	counted(req);
	if (ino != FS_CTL_ROOT && ino != CTL_JOBS) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

static void m_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		ctl_readdir(req, ino, size, off, false);
	else
		fs_ops.readdir(req, ino, size, off, fi);
}

static void m_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		ctl_readdir(req, ino, size, off, true);
	else
		fs_ops.readdirplus(req, ino, size, off, fi);
}

static void m_releasedir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, 0);
	else
		fs_ops.releasedir(req, ino, fi);
}

static void m_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, 0);
	else
		fs_ops.fsyncdir(req, ino, datasync, fi);
}

static void m_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, ENOTSUP);
	else
		fs_ops.setxattr(req, ino, name, value, size, flags);
}

static void m_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req,
			       strncmp(name, "user.", 5) ? ENOTSUP : ENODATA);
	else
		fs_ops.getxattr(req, ino, name, size);
}

static void m_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	if (!fs_ctl_ino(ino))
		fs_ops.listxattr(req, ino, size);
	else if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void m_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (fs_ctl_ino(ino))
		fuse_reply_err(req, ENOTSUP);
	else
		fs_ops.removexattr(req, ino, name);
}

static void m_init(void *userdata, struct fuse_conn_info *conn)
{
	fs_ops.init(userdata, conn);
}

static void m_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		      const char *name)
{
	fs_ops.symlink(req, link, parent, name);
}

static void m_statfs(fuse_req_t req, fuse_ino_t ino)
{
	fs_ops.statfs(req, fs_ctl_ino(ino) ? FUSE_ROOT_ID : ino);
}

const struct fuse_lowlevel_ops fs_mount_ops = {
	.init = m_init,
	.lookup = m_lookup,
	.forget = m_forget,
	.forget_multi = m_forget_multi,
	.getattr = m_getattr,
	.setattr = m_setattr,
	.mkdir = m_mkdir,
	.mknod = m_mknod,
	.create = m_create,
	.symlink = m_symlink,
	.link = m_link,
	.unlink = m_unlink,
	.rmdir = m_rmdir,
	.rename = m_rename,
	.opendir = m_opendir,
	.readdir = m_readdir,
	.readdirplus = m_readdirplus,
	.releasedir = m_releasedir,
	.fsyncdir = m_fsyncdir,
	.statfs = m_statfs,
	.open = m_open,
	.read = m_read,
	.write_buf = m_write_buf,
	.flush = m_flush,
	.release = m_release,
	.fsync = m_fsync,
	.fallocate = m_fallocate,
	.setxattr = m_setxattr,
	.getxattr = m_getxattr,
	.listxattr = m_listxattr,
	.removexattr = m_removexattr,
};
