/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the daemon's inode table. A FUSE node id is the address of its
 * struct fs_inode (the root is FUSE_ROOT_ID). An inode lives as long as
 * the kernel holds lookups on it: +1 per entry replied, -n per forget; it
 * is freed at zero, never at unlink.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs.h"

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

int fs_inodes_init(struct fs_daemon *d, struct hmf_node *root)
{
	struct stat st;
	int rc;

	rc = hmf_node_stat(root, &st);
	if (rc < 0)
		return rc;
	d->nbuckets = 1024;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->buckets)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
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
	free(in);
}

void fs_inodes_fini(struct fs_daemon *d)
{
	struct fs_inode *in, *next;
	size_t i;

	for (i = 0; i < d->nbuckets; i++)
		for (in = d->buckets[i]; in; in = next) {
			next = in->next;
			inode_free(in);
		}
	free(d->buckets);
	fs_map_put(d->root_inode.map);
	hmf_node_close(d->root_inode.node);
	pthread_mutex_destroy(&d->root_inode.lock);
	pthread_mutex_destroy(&d->lock);
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
	d->count--;
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

int fs_inode_enter(struct fs_daemon *d, struct hmf_node *node,
		   struct fuse_entry_param *e)
{
	struct fs_inode *in, *fresh;
	size_t b;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = hmf_node_stat(node, &e->attr);
	if (rc < 0) {
		hmf_node_close(node);
		return rc;
	}
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		hmf_node_close(node);
		return -ENOMEM;
	}
	inode_setup(fresh, node, &e->attr);

	pthread_mutex_lock(&d->lock);
	b = bucket_of(d, fresh->dev, fresh->ino);
	for (in = d->buckets[b]; in; in = in->next)
		if (in->ino == fresh->ino && in->dev == fresh->dev)
			break;
	if (in && in->node && hmf_node_kind(in->node) == hmf_node_kind(node)) {
		/*
		 * The same backing node: the kernel must see one inode. A
		 * deleted one whose number was reused has nlink 0 and does
		 * not match (we stat'ed the new one above).
		 */
		struct stat cur;

		if (hmf_node_stat(in->node, &cur) == 0 && cur.st_nlink > 0) {
			in->nlookup++;
			pthread_mutex_unlock(&d->lock);
			inode_free(fresh);
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
	d->count++;
	pthread_mutex_unlock(&d->lock);
	in = fresh;
out_reply:
	e->ino = fs_inode_id(d, in);
	e->generation = 1;
	e->attr_timeout = d->opt.timeout;
	e->entry_timeout = d->opt.timeout;
	return 0;
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
	bool dead;

	if (in == &d->root_inode)
		return;
	pthread_mutex_lock(&d->lock);
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	dead = in->nlookup == 0;
	if (dead)
		unhash_locked(d, in);
	pthread_mutex_unlock(&d->lock);
	if (dead)
		inode_free(in);
}
