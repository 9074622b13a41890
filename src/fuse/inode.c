/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the daemon's inode table. A FUSE node id is the address of its
 * struct fs_inode (the root is FUSE_ROOT_ID). An inode lives as long as
 * the kernel holds lookups on it: +1 per entry replied, -n per forget; it
 * is freed at zero, never at unlink.
 *
 * Each inode keeps its node's directory open, so their number is bounded
 * by RLIMIT_NOFILE: an evictor thread asks the kernel to drop the least
 * recently used entries (fuse_lowlevel_notify_inval_entry), and the
 * kernel's forgets then free them. That also keeps memory flat after a
 * walk over a large tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

/* fds kept for open files, mappings, the session and libhmf's work */
#define FD_RESERVE 256

/* fs_size_lock(): one daemon per process, so a fixed set will do */
#define SIZE_LOCKS 64
static pthread_rwlock_t size_locks[SIZE_LOCKS];

pthread_rwlock_t *fs_size_lock(struct fs_inode *in)
{
	return &size_locks[in->ino % SIZE_LOCKS];
}

static size_t bucket_of(struct fs_daemon *d, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h >> 17) & (d->nbuckets - 1);
}

static void inode_setup(struct fs_inode *in, struct hmf_node *node,
			const struct stat *st)
{
	in->node = node;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->datafd = -1;
	pthread_mutex_init(&in->lock, NULL);
}

/* Raise the fd limit as far as allowed and derive the inode budget. */
static void set_budget(struct fs_daemon *d)
{
	struct rlimit rl;
	size_t max = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY)
			max = (size_t)rl.rlim_cur;
		else
			max = 1u << 20;
	}
	max = max > 2 * FD_RESERVE ? max - FD_RESERVE : max / 2;
	d->high = max * 3 / 4;
	d->low = max / 2;
}

int fs_inodes_init(struct fs_daemon *d, struct hmf_node *root)
{
	struct stat st;
	int rc, i;

	rc = hmf_node_stat(root, &st);
	if (rc < 0)
		return rc;
	for (i = 0; i < SIZE_LOCKS; i++)
		pthread_rwlock_init(&size_locks[i], NULL);
	d->nbuckets = 1024;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->buckets)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->evict_cond, NULL);
	pthread_cond_init(&d->freed_cond, NULL);
	d->lru.lru_next = d->lru.lru_prev = &d->lru;
	d->all.all_next = d->all.all_prev = &d->all;
	set_budget(d);
	inode_setup(&d->root_inode, root, &st);
	d->root_inode.nlookup = 1; /* never forgotten */
	return 0;
}

void fs_map_put(struct fs_map *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
		munmap(m->addr, m->len);
		free(m);
	}
}

static void inode_free(struct fs_inode *in)
{
	fs_map_put(in->map);
	if (in->datafd >= 0)
		close(in->datafd);
	hmf_node_close(in->node);
	pthread_mutex_destroy(&in->lock);
	free(in->name);
	free(in->npy_hdr);
	free(in);
}

static void list_unlink(struct fs_inode **prev_next,
			struct fs_inode **next_prev, struct fs_inode **prev,
			struct fs_inode **next)
{
	*prev_next = *next;
	*next_prev = *prev;
	*prev = *next = NULL;
}

static void lru_unlink(struct fs_inode *in)
{
	if (in->lru_next)
		list_unlink(&in->lru_prev->lru_next, &in->lru_next->lru_prev,
			    &in->lru_prev, &in->lru_next);
}

static void lru_push(struct fs_daemon *d, struct fs_inode *in)
{
	lru_unlink(in);
	in->lru_next = d->lru.lru_next;
	in->lru_prev = &d->lru;
	d->lru.lru_next->lru_prev = in;
	d->lru.lru_next = in;
}

static void all_add(struct fs_daemon *d, struct fs_inode *in)
{
	in->all_next = d->all.all_next;
	in->all_prev = &d->all;
	d->all.all_next->all_prev = in;
	d->all.all_next = in;
}

void fs_inodes_fini(struct fs_daemon *d)
{
	struct fs_inode *in, *next;
	int i;

	for (in = d->all.all_next; in && in != &d->all; in = next) {
		next = in->all_next;
		inode_free(in);
	}
	free(d->buckets);
	fs_map_put(d->root_inode.map);
	hmf_node_close(d->root_inode.node);
	pthread_mutex_destroy(&d->root_inode.lock);
	pthread_cond_destroy(&d->evict_cond);
	pthread_cond_destroy(&d->freed_cond);
	pthread_mutex_destroy(&d->lock);
	for (i = 0; i < SIZE_LOCKS; i++)
		pthread_rwlock_destroy(&size_locks[i]);
}

struct fs_inode *fs_inode_get(struct fs_daemon *d, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &d->root_inode;
	return (struct fs_inode *)(uintptr_t)ino;
}

fuse_ino_t fs_inode_id(struct fs_daemon *d, struct fs_inode *in)
{
	return in == &d->root_inode ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

static void unhash_locked(struct fs_daemon *d, struct fs_inode *in)
{
	struct fs_inode **p;

	if (!in->hashed)
		return;
	for (p = &d->buckets[bucket_of(d, in->dev, in->ino)]; *p;
	     p = &(*p)->next)
		if (*p == in) {
			*p = in->next;
			break;
		}
	in->hashed = false;
}

static void grow_locked(struct fs_daemon *d)
{
	struct fs_inode **old = d->buckets, *in, *next;
	size_t oldn = d->nbuckets, i, b;
	struct fs_inode **nb = calloc(oldn * 2, sizeof(*nb));

	if (!nb)
		return; /* longer chains; still correct */
	d->buckets = nb;
	d->nbuckets = oldn * 2;
	for (i = 0; i < oldn; i++)
		for (in = old[i]; in; in = next) {
			next = in->next;
			b = bucket_of(d, in->dev, in->ino);
			in->next = nb[b];
			nb[b] = in;
		}
	free(old);
}

/*
 * Detach @in and its ancestors that nobody holds any more; they are
 * chained on *@dead (through ->next) to be freed outside the lock.
 */
static void release_locked(struct fs_daemon *d, struct fs_inode *in,
			   struct fs_inode **dead)
{
	struct fs_inode *p;

	while (in && in != &d->root_inode && in->nlookup == 0 &&
	       in->kids == 0) {
		p = in->parent;
		unhash_locked(d, in);
		lru_unlink(in);
		list_unlink(&in->all_prev->all_next, &in->all_next->all_prev,
			    &in->all_prev, &in->all_next);
		in->next = *dead;
		*dead = in;
		if (p)
			p->kids--;
		in = p;
	}
}

static void free_dead(struct fs_inode *dead)
{
	struct fs_inode *next;

	for (; dead; dead = next) {
		next = dead->next;
		inode_free(dead);
	}
}

/* Remember where the kernel found @in. Under d->lock. */
static void set_name_locked(struct fs_daemon *d, struct fs_inode *in,
			    struct fs_inode *parent, char *name,
			    struct fs_inode **dead)
{
	struct fs_inode *old = in->parent;

	if (!name)
		return; /* out of memory: eviction skips it */
	free(in->name);
	in->name = name;
	if (parent == old)
		return;
	parent->kids++;
	in->parent = parent;
	if (old) {
		old->kids--;
		release_locked(d, old, dead);
	}
}

int fs_inode_enter(struct fs_daemon *d, fuse_ino_t parent, const char *name,
		   struct hmf_node *node, struct fuse_entry_param *e)
{
	struct fs_inode *in, *fresh, *dead = NULL;
	struct fs_inode *pin = fs_inode_get(d, parent);
	bool npy = !hmf_node_is_group(node) && hmf_npy_name(name);
	char *copy, *hdr;
	size_t b, hlen;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = hmf_node_stat(node, &e->attr);
	if (rc < 0) {
		hmf_node_close(node);
		return rc;
	}
	if (S_ISREG(e->attr.st_mode))
		e->attr.st_blksize = FS_IO_SIZE;
	fresh = calloc(1, sizeof(*fresh));
	copy = strdup(name);
	if (!fresh) {
		free(copy);
		hmf_node_close(node);
		return -ENOMEM;
	}
	inode_setup(fresh, node, &e->attr);
	fresh->npy = npy;

	pthread_mutex_lock(&d->lock);
	b = bucket_of(d, fresh->dev, fresh->ino);
	for (in = d->buckets[b]; in; in = in->next)
		if (in->ino == fresh->ino && in->dev == fresh->dev)
			break;
	if (in && hmf_node_kind(in->node) == hmf_node_kind(node)) {
		/*
		 * The same backing node: the kernel must see one inode. A
		 * deleted one whose number was reused has nlink 0 (its data
		 * or directory is gone) and is replaced.
		 */
		struct stat cur;

		if (hmf_node_stat(in->node, &cur) == 0 && cur.st_nlink > 0) {
			if (in->nlookup++ == 0)
				d->count++;
			set_name_locked(d, in, pin, copy, &dead);
			/* the view follows the name (renamed elsewhere) */
			pthread_mutex_lock(&in->lock);
			if (in->npy != npy)
				in->view_changed = true;
			in->npy = npy;
			pthread_mutex_unlock(&in->lock);
			lru_push(d, in);
			pthread_mutex_unlock(&d->lock);
			inode_free(fresh);
			free_dead(dead);
			goto out_reply;
		}
	}
	if (in)
		unhash_locked(d, in);
	if (d->count >= d->nbuckets * 2)
		grow_locked(d);
	b = bucket_of(d, fresh->dev, fresh->ino);
	fresh->next = d->buckets[b];
	d->buckets[b] = fresh;
	fresh->hashed = true;
	fresh->nlookup = 1;
	all_add(d, fresh);
	set_name_locked(d, fresh, pin, copy, &dead);
	lru_push(d, fresh);
	d->count++;
	if (d->count > d->high)
		pthread_cond_signal(&d->evict_cond);
	pthread_mutex_unlock(&d->lock);
	free_dead(dead);
	in = fresh;
out_reply:
	/* the NPY view counts its header too */
	if (npy && fs_npy_header(in, &hdr, &hlen) == 0) {
		e->attr.st_size += (off_t)hlen;
		free(hdr);
	}
	e->ino = fs_inode_id(d, in);
	e->generation = 1;
	e->attr_timeout = d->opt.timeout;
	e->entry_timeout = d->opt.timeout;
	return 0;
}

void fs_inode_preserve(struct fs_daemon *d, int dirfd, const char *name)
{
	struct fs_inode *in, *dead = NULL;
	char sub[HMF_NAME_MAX + 8];
	struct stat st;
	int fd;

	snprintf(sub, sizeof(sub), "%s/" HMF_DATA_FILE, name);
	if (fstatat(dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return; /* not an array: nothing a reader could open */
	pthread_mutex_lock(&d->lock);
	for (in = d->buckets[bucket_of(d, st.st_dev, st.st_ino)]; in;
	     in = in->next)
		if (in->ino == st.st_ino && in->dev == st.st_dev)
			break;
	if (!in || in->datafd >= 0) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	in->kids++; /* pinned while we open without the lock */
	pthread_mutex_unlock(&d->lock);
	fd = openat(dirfd, sub, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	pthread_mutex_lock(&in->lock);
	if (fd >= 0 && in->datafd < 0) {
		in->datafd = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&in->lock);
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&d->lock);
	in->kids--;
	release_locked(d, in, &dead);
	pthread_mutex_unlock(&d->lock);
	free_dead(dead);
}

bool fs_inode_gone(struct fs_inode *in)
{
	struct stat st;
	bool kept;

	pthread_mutex_lock(&in->lock);
	kept = in->datafd >= 0;
	pthread_mutex_unlock(&in->lock);
	return kept && hmf_node_stat(in->node, &st) < 0;
}

/* The inode of the array @name in @dirfd, pinned (kids + 1), or NULL. */
static struct fs_inode *find_pinned(struct fs_daemon *d, int dirfd,
				    const char *name)
{
	char sub[HMF_NAME_MAX + 8];
	struct fs_inode *in;
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/" HMF_DATA_FILE, name);
	if (fstatat(dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return NULL;
	pthread_mutex_lock(&d->lock);
	for (in = d->buckets[bucket_of(d, st.st_dev, st.st_ino)]; in;
	     in = in->next)
		if (in->ino == st.st_ino && in->dev == st.st_dev)
			break;
	if (in)
		in->kids++;
	pthread_mutex_unlock(&d->lock);
	return in;
}

static void unpin(struct fs_daemon *d, struct fs_inode *in)
{
	struct fs_inode *dead = NULL;

	pthread_mutex_lock(&d->lock);
	in->kids--;
	release_locked(d, in, &dead);
	pthread_mutex_unlock(&d->lock);
	free_dead(dead);
}

void fs_inode_renamed(struct fs_daemon *d, int dirfd, const char *name)
{
	struct fs_inode *in = find_pinned(d, dirfd, name);
	bool npy = hmf_npy_name(name), flipped;

	if (!in)
		return; /* the kernel holds no inode of it */
	pthread_mutex_lock(&in->lock);
	flipped = in->npy != npy;
	in->npy = npy;
	if (flipped)
		in->view_changed = true;
	pthread_mutex_unlock(&in->lock);
	/*
	 * Its size changed: attributes only (-1), which takes no lock in the
	 * kernel; the pages go at the next open (view_changed) or when the
	 * kernel sees the new size.
	 */
	if (flipped)
		fuse_lowlevel_notify_inval_inode(d->se, fs_inode_id(d, in), -1,
						 0);
	unpin(d, in);
}

int fs_inode_remove(struct fs_daemon *d, struct fs_inode *in)
{
	char sub[HMF_NAME_MAX + 8];
	struct fs_inode *p;
	struct stat st;
	char *name;
	int rc = -ENOENT;

	pthread_mutex_lock(&d->lock);
	p = in->parent;
	name = p && in->name ? strdup(in->name) : NULL;
	if (name)
		p->kids++; /* pinned while we remove without the lock */
	pthread_mutex_unlock(&d->lock);
	if (!name)
		return -ENOENT;
	/* only if that name still holds this very array */
	snprintf(sub, sizeof(sub), "%s/" HMF_DATA_FILE, name);
	if (fstatat(hmf_node_fd(p->node), sub, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == in->dev && st.st_ino == in->ino)
		rc = hmf_node_remove(p->node, name, HMF_RM_ARRAY);
	unpin(d, p);
	free(name);
	return rc;
}

void fs_inode_unhash(struct fs_daemon *d, struct fs_inode *in)
{
	if (in == &d->root_inode)
		return;
	pthread_mutex_lock(&d->lock);
	unhash_locked(d, in);
	pthread_mutex_unlock(&d->lock);
}

void fs_inode_forget(struct fs_daemon *d, struct fs_inode *in, uint64_t n)
{
	struct fs_inode *dead = NULL;

	if (in == &d->root_inode)
		return;
	pthread_mutex_lock(&d->lock);
	if (in->nlookup > 0) {
		in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
		if (in->nlookup == 0) {
			lru_unlink(in);
			d->count--;
			pthread_cond_broadcast(&d->freed_cond);
			release_locked(d, in, &dead);
		}
	}
	pthread_mutex_unlock(&d->lock);
	free_dead(dead);
}

struct victim {
	struct fs_inode *parent; /* pinned (kids + 1) while in flight */
	char *name;
};

/* Pick up to @max of the oldest idle inodes. Under d->lock. */
static size_t pick_victims(struct fs_daemon *d, struct victim *v, size_t max)
{
	struct fs_inode *in;
	size_t n = 0;
	bool busy;

	for (in = d->lru.lru_prev; in != &d->lru && n < max;
	     in = in->lru_prev) {
		/* open files stay (d->lock before in->lock: the lock order) */
		pthread_mutex_lock(&in->lock);
		busy = in->opens > 0;
		pthread_mutex_unlock(&in->lock);
		if (!in->name || busy)
			continue;
		v[n].parent = in->parent;
		v[n].name = strdup(in->name);
		if (v[n].name) {
			/* its node id must not be reused before the notify */
			in->parent->kids++;
			n++;
		}
	}
	return n;
}

static void *evictor_main(void *arg)
{
	struct fs_daemon *d = arg;
	struct fs_inode *dead = NULL;
	struct timespec ts;
	struct victim *v;
	size_t n, i, max = 4096;

	v = calloc(max, sizeof(*v));
	if (!v)
		return NULL;
	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		if (d->count <= d->high) {
			pthread_cond_wait(&d->evict_cond, &d->lock);
			continue;
		}
		n = pick_victims(d, v,
				 d->count - d->low < max ? d->count - d->low
							 : max);
		pthread_mutex_unlock(&d->lock);
		/* never under d->lock: the kernel may call us back */
		for (i = 0; i < n; i++) {
			fuse_lowlevel_notify_inval_entry(
				d->se, fs_inode_id(d, v[i].parent), v[i].name,
				strlen(v[i].name));
			free(v[i].name);
		}
		pthread_mutex_lock(&d->lock);
		for (i = 0; i < n; i++) {
			v[i].parent->kids--;
			release_locked(d, v[i].parent, &dead);
		}
		if (dead) {
			pthread_mutex_unlock(&d->lock);
			free_dead(dead);
			dead = NULL;
			pthread_mutex_lock(&d->lock);
		}
		/* let the forgets arrive before looking again */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&d->evict_cond, &d->lock, &ts);
	}
	pthread_mutex_unlock(&d->lock);
	free(v);
	return NULL;
}

int fs_evictor_start(struct fs_daemon *d)
{
	int rc = pthread_create(&d->evictor, NULL, evictor_main, d);

	if (rc)
		return -rc;
	d->evictor_started = true;
	return 0;
}

void fs_evictor_stop(struct fs_daemon *d)
{
	if (!d->evictor_started)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->evict_cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->evictor, NULL);
	d->evictor_started = false;
}

void fs_inodes_wait_room(struct fs_daemon *d)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	pthread_mutex_lock(&d->lock);
	pthread_cond_signal(&d->evict_cond);
	pthread_cond_timedwait(&d->freed_cond, &d->lock, &ts);
	pthread_mutex_unlock(&d->lock);
}
