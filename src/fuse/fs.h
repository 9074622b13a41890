/* SPDX-License-Identifier: MIT */
/*
 * fs.h - the hmf-mount daemon's shared state: options, the inode table and
 * open files. The FUSE callbacks (ops.c, data.c, xattr.c) translate
 * requests into libhmf calls; no format logic lives here.
 *
 * Lock order: fs_daemon.lock before fs_inode.lock; never the reverse.
 * fs_file.lock (an NPY view's header phase) comes before both, and
 * fs_size_lock() before fs_inode.lock.
 */
#ifndef HMF_FUSE_FS_H
#define HMF_FUSE_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hmf.h"

/* The largest read or write one FUSE request carries (max_write). */
#define FS_IO_SIZE (1u << 20)

struct fs_options {
	char *root;
	char *mountpoint;
	/* int, not bool: fuse_opt_parse stores an int at each offset */
	int create, truncate, exclusive, ctldir_visible, readonly;
	int no_default_permissions;
	int sync;	   /* -o sync: metadata fsync'ed on every change */
	int read_splice;   /* reply to reads by splice from the fd (1) or from
			    the mapping (0) */
	int cached_writes; /* write-only handles use the page cache too */
	double timeout;	   /* entry/attr timeout in seconds */
	unsigned readahead_kb;
};

/* A mapping of an array's data, shared by concurrent reads. */
struct fs_map {
	void *addr;
	size_t len;
	atomic_int refs; /* the inode's reference plus one per reader */
};

struct fs_inode {
	struct hmf_node *node; /* immutable after insert */
	dev_t dev;	       /* key: backing (dev, ino); immutable */
	ino_t ino;
	uint64_t nlookup;      /* protected by fs_daemon.lock */
	struct fs_inode *next; /* hash chain; protected by fs_daemon.lock */
	bool hashed;	       /* protected by fs_daemon.lock */
	/*
	 * Where the kernel last found it, to ask it to forget the entry
	 * (stale after a rename: the request then just fails). The parent
	 * stays allocated while it has kids, so its node id is never reused
	 * for another inode while a child names it.
	 */
	struct fs_inode *parent; /* protected by fs_daemon.lock */
	char *name;		 /* protected by fs_daemon.lock */
	unsigned kids;		 /* protected by fs_daemon.lock */
	/* LRU of inodes the kernel holds (nlookup > 0), newest first */
	struct fs_inode *lru_prev, *lru_next; /* fs_daemon.lock */
	struct fs_inode *all_prev, *all_next; /* fs_daemon.lock */
	pthread_mutex_t lock;		      /* protects the fields below */
	int datafd; /* data of a node replaced by rename while the kernel
		       still held it (fs_inode_preserve), or -1 */
	struct fs_map *map;	      /* current mapping, or NULL */
	struct timespec cached_mtime; /* data mtime/size at the last open, */
	off_t cached_size;	      /* for keep_cache */
	unsigned opens;
	/*
	 * The NPY view (hmf_npy_name of the name it was last found or
	 * renamed under): reads show a header before the data.
	 */
	bool npy;
	bool view_changed; /* npy flipped: the kernel's pages are stale */
	char *npy_hdr;	   /* the header last shown, for after a removal */
	size_t npy_hdr_len;
};

struct fs_daemon {
	struct fs_options opt;
	bool is_root; /* the daemon runs as root: new nodes get owners */
	/* -s: requests are handled one at a time (immutable) */
	bool singlethread;
	struct hmf_root *root;
	struct fuse_session *se;
	struct fs_inode root_inode;
	pthread_mutex_t lock;	   /* protects the inode table */
	struct fs_inode **buckets; /* protected by lock */
	size_t nbuckets;	   /* protected by lock */
	size_t count;		   /* inodes with nlookup > 0; lock */
	struct fs_inode lru;	   /* list head; protected by lock */
	struct fs_inode all;	   /* every allocated inode; lock */
	/*
	 * Every inode holds a directory fd. Above @high of them the evictor
	 * thread asks the kernel to drop its least recently used entries,
	 * which then come back as forgets.
	 */
	size_t high, low;	   /* immutable after init */
	pthread_cond_t evict_cond; /* with lock: wakes the evictor */
	pthread_cond_t freed_cond; /* with lock: an inode was freed */
	bool stopping;		   /* protected by lock */
	pthread_t evictor;
	bool evictor_started;
	pthread_t cleaner; /* removes old leftovers at start */
	bool cleaner_started;
	atomic_int stop_cleaner;
	pthread_mutex_t log_lock; /* protects logged */
	char **logged;		  /* paths already reported as corrupt */
	size_t nlogged;
	/* statistics, for /.hmf/stats */
	atomic_uint_fast64_t ops, bytes_read, bytes_written;
	/* ingest jobs (ctl.c) */
	pthread_mutex_t jobs_lock; /* protects jobs, njobs, next_job_id and
				      every job's state, rc, msg, waiters */
	struct fs_job *jobs;	   /* newest first */
	size_t njobs;
	uint64_t next_job_id;
	size_t running_jobs;	  /* protected by jobs_lock */
	pthread_cond_t jobs_cond; /* with jobs_lock: a job ended */
	atomic_int stop_jobs;	  /* set at unmount: jobs stop */
	struct timespec started;  /* mount time: the control files' times */
};

/* Where an open NPY view stands with its header (data.c). */
enum fs_npy_state {
	FS_NPY_READY,	/* the header is there: offsets past it are data */
	FS_NPY_PENDING, /* new, truncated or empty: the header comes first */
	FS_NPY_FAILED,	/* its header was refused: writes fail */
};

/* An open array (fi->fh). */
struct fs_file {
	int fd; /* data, opened with the caller's access mode */
	/* size may have changed: re-derive the shape (writes run at once) */
	atomic_bool written;
	bool npy; /* the NPY view (fs_inode.npy at open); immutable */
	/* npy only: serialises the writes of the header phase */
	pthread_mutex_t lock;
	pthread_cond_t cond;	 /* with lock: the state changed */
	enum fs_npy_state state; /* protected by lock */
	bool trunc;   /* O_TRUNC: the old data goes when the header comes */
	bool created; /* made by this create: removed if the header is bad */
	char *head;   /* the header's bytes so far (PENDING); lock */
	size_t head_len, head_total; /* received; expected (0: unknown) */
};

/* An open group (fi->fh): a snapshot of its children. */
struct fs_dir {
	struct hmf_dirent *ents;
	size_t count;
};

/* inode.c */
int fs_inodes_init(struct fs_daemon *d, struct hmf_node *root);
void fs_inodes_fini(struct fs_daemon *d);
struct fs_inode *fs_inode_get(struct fs_daemon *d, fuse_ino_t ino);
fuse_ino_t fs_inode_id(struct fs_daemon *d, struct fs_inode *in);
/*
 * Enter @node (a fresh handle, child @name of @parent; ownership passes)
 * into the table with one more lookup, reusing the inode already there
 * for the same backing node. Fills @e for fuse_reply_entry/create.
 */
int fs_inode_enter(struct fs_daemon *d, fuse_ino_t parent, const char *name,
		   struct hmf_node *node, struct fuse_entry_param *e);
/* Start / stop the thread that keeps the number of inodes bounded. */
int fs_evictor_start(struct fs_daemon *d);
void fs_evictor_stop(struct fs_daemon *d);
/* After EMFILE: wait (briefly) until the evictor freed some inodes. */
void fs_inodes_wait_room(struct fs_daemon *d);
void fs_inode_forget(struct fs_daemon *d, struct fs_inode *in, uint64_t n);
/*
 * Before array @name of directory @dirfd is unlinked or replaced by a
 * rename: if the kernel holds its inode, keep its data open, so that the
 * inode can still be stat'ed, read and opened afterwards (as on a local
 * filesystem).
 */
void fs_inode_preserve(struct fs_daemon *d, int dirfd, const char *name);
/*
 * True when the array of @in was removed or replaced through this mount
 * and only the data kept by fs_inode_preserve is left of it (no metadata).
 */
bool fs_inode_gone(struct fs_inode *in);
/*
 * The lock that keeps the data of @in from shrinking under a read: held
 * shared by a read from its size check until its reply is written (from
 * the mapping), exclusive while the data may shrink (truncate, O_TRUNC,
 * an NPY header, fallocate). A reply from pages cut off meanwhile failed
 * (EFAULT) and the reader got EIO instead of a short read. The one lock
 * held across a reply, so not in the inode (the kernel may forget it as
 * soon as it has the reply): one of a fixed set that inodes share.
 */
pthread_rwlock_t *fs_size_lock(struct fs_inode *in);
/* Drop the node from the name table (it was removed or replaced). */
void fs_inode_unhash(struct fs_daemon *d, struct fs_inode *in);
/*
 * After a rename put array @name into directory @dirfd: its inode takes
 * the view of its new name (NPY or raw) and the kernel re-reads its
 * attributes when that changed.
 */
void fs_inode_renamed(struct fs_daemon *d, int dirfd, const char *name);
/*
 * Remove the array of @in from where the kernel last found it, if that
 * name still holds it (a new NPY file whose header was refused).
 */
int fs_inode_remove(struct fs_daemon *d, struct fs_inode *in);
void fs_map_put(struct fs_map *m);

/* ops.c */
extern const struct fuse_lowlevel_ops fs_ops;

/* ctl.c: the control directory /.hmf, in front of fs_ops */
extern const struct fuse_lowlevel_ops fs_mount_ops;
#define FS_CTL_NAME ".hmf"
#define FS_CTL_ROOT ((fuse_ino_t)2)
#define FS_CTL_INGEST ((fuse_ino_t)3)
#define FS_CTL_JOBS ((fuse_ino_t)4)
#define FS_CTL_STATS ((fuse_ino_t)5)
#define FS_CTL_VERSION ((fuse_ino_t)6)
#define FS_CTL_JOB_BASE ((fuse_ino_t)0x1000)
#define FS_CTL_JOB_MAX ((fuse_ino_t)0xfffff)
bool fs_ctl_ino(fuse_ino_t ino);
void fs_ctl_stat(struct fs_daemon *d, fuse_ino_t ino, struct stat *st);
/* Stop the running jobs and wait for them (at unmount). */
void fs_jobs_stop(struct fs_daemon *d);
int fs_stat(struct fs_daemon *d, struct fs_inode *in, struct stat *st);
/* Log a node error once per path (corrupt metadata). */
void fs_report(struct fs_daemon *d, int rc);

/* data.c: open, read, write, release, fsync, fallocate of arrays */
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *buf,
		     off_t off, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* Start using @fi as an open file of @in (after open or create). */
int fs_file_open(struct fs_daemon *d, struct fs_inode *in, int flags,
		 struct fuse_file_info *fi);
/*
 * Resize the raw data of @in to @size bytes (truncate, ftruncate) and
 * store the shape it implies; also for an array removed or replaced while
 * the kernel held it, as a local filesystem truncates an unlinked file.
 */
int fs_resize(struct fs_inode *in, uint64_t size);
/* True when @in shows the NPY view. */
bool fs_npy(struct fs_inode *in);
/*
 * The header that @in's NPY view shows (hmf_node_npy_header), or the one
 * it showed last when its node was removed or replaced meanwhile. *@hdr
 * is malloc'ed, NULL when there is none (a new file: empty).
 */
int fs_npy_header(struct fs_inode *in, char **hdr, size_t *len);

/* xattr.c */
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
