/* SPDX-License-Identifier: MIT */
/*
 * root.c - opening, creating and erasing an HMF root, and the seed's
 * path-based API on top of node.c (parents created on demand). Erasing
 * refuses any directory that is not already an HMF root or empty.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil_i.h"
#include "hmf/error.h"
#include "hmf/path.h"
#include "hmf/root.h"
#include "meta_i.h"
#include "node_i.h"
#include "root_i.h"

#define HMF_PRIVATE_DIR ".hmf.d"
#define HMF_STAGING_DIR HMF_PRIVATE_DIR "/staging"

/* 1 if directory @fd has no entries, 0 if it has, or -errno. */
static int dir_is_empty(int fd)
{
	struct dirent *e;
	int dfd, rc = 1;
	DIR *d;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			rc = 0;
			break;
		}
	closedir(d);
	return rc;
}

/* Remove every entry of directory @fd. */
static int erase_all(int fd)
{
	struct dirent *e;
	int dfd, rc = 0, r;
	DIR *d;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		r = fsu_rmtree_at(dfd, e->d_name);
		if (r < 0 && rc == 0)
			rc = r;
	}
	closedir(d);
	return rc;
}

static int make_root(int fd, const char *path)
{
	struct hmf_meta m;
	int rc;

	hmf_meta_init(&m, HMF_KIND_GROUP);
	if (mkdirat(fd, HMF_PRIVATE_DIR, 0700) < 0 && errno != EEXIST)
		return hmf_err(-errno, "%s: cannot create %s", path,
			       HMF_PRIVATE_DIR);
	rc = hmf_meta_save(fd, &m, false);
	if (rc < 0)
		return hmf_err(rc, "%s: cannot write .hmf", path);
	return 0;
}

/* The process umask, without the race of setting it to read it. */
static mode_t read_umask(void)
{
	char line[128];
	unsigned mask;
	FILE *f = fopen("/proc/self/status", "re");
	mode_t m = 07777; /* unknown: always chmod */

	if (!f)
		return m;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &mask) == 1) {
			m = (mode_t)mask;
			break;
		}
	fclose(f);
	return m;
}

/* Create, erase or check ROOT as @flags say; @fd is its O_PATH fd. */
static int prepare(int fd, const char *path, unsigned flags)
{
	struct stat st;
	bool is_root;
	int empty, rc;

	is_root = fstatat(fd, HMF_META_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!(flags & (HMF_ROOT_CREATE | HMF_ROOT_TRUNCATE))) {
		if (!is_root)
			return hmf_err(
				-EINVAL,
				"%s: not an HMF root (no .hmf); create one with mode \"w+\"/\"a\" or -o create",
				path);
		return 0;
	}
	if (is_root && !(flags & HMF_ROOT_TRUNCATE))
		return 0;
	empty = dir_is_empty(fd);
	if (empty < 0)
		return hmf_err(empty, "%s: cannot read directory", path);
	if (!is_root && !empty)
		return hmf_err(
			-ENOTEMPTY,
			"%s: not an HMF root and not empty; refusing to use or erase it",
			path);
	if (is_root && (flags & HMF_ROOT_TRUNCATE)) {
		rc = erase_all(fd);
		if (rc < 0)
			return hmf_err(rc, "%s: cannot erase", path);
	}
	return make_root(fd, path);
}

int hmf_root_open(const char *path, unsigned flags, struct hmf_root **out)
{
	struct hmf_root *r;
	struct hmf_meta m;
	int fd, rc;

	hmf_err_clear();
	if ((flags & HMF_ROOT_RDONLY) &&
	    (flags & (HMF_ROOT_CREATE | HMF_ROOT_TRUNCATE)))
		return hmf_err(-EINVAL, "%s: cannot create a read-only root",
			       path);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT &&
	    (flags & (HMF_ROOT_CREATE | HMF_ROOT_TRUNCATE))) {
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return hmf_err(-errno, "%s: cannot create: %s", path,
				       strerrordesc_np(errno));
		fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return hmf_err(-errno, "%s: %s", path, strerrordesc_np(errno));
	rc = prepare(fd, path, flags);
	if (rc < 0)
		goto out_close;
	rc = hmf_meta_load(fd, path, &m);
	if (rc == 0 && m.kind != HMF_KIND_GROUP)
		rc = hmf_err(-EIO, "%s: the root's .hmf is not a group", path);
	hmf_meta_fini(&m);
	if (rc < 0)
		goto out_close;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		rc = -ENOMEM;
		goto out_close;
	}
	r->fd = fd;
	r->flags = flags & HMF_ROOT_RDONLY;
	r->umask = read_umask();
	r->euid = geteuid();
	r->egid = getegid();
	*out = r;
	return 0;
out_close:
	close(fd);
	return rc;
}

int hmf_open(const char *path, const char *mode, struct hmf_root **out)
{
	unsigned flags;

	if (strcmp(mode, "r") == 0)
		flags = HMF_ROOT_RDONLY;
	else if (strcmp(mode, "r+") == 0)
		flags = 0;
	else if (strcmp(mode, "w+") == 0 || strcmp(mode, "w") == 0)
		flags = HMF_ROOT_TRUNCATE;
	else if (strcmp(mode, "a") == 0)
		flags = HMF_ROOT_CREATE;
	else
		return hmf_err(
			-EINVAL,
			"bad mode '%s' (use \"r\", \"r+\", \"w+\" or \"a\")",
			mode);
	return hmf_root_open(path, flags, out);
}

void hmf_close(struct hmf_root *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->path);
	free(r);
}

int hmf_sync(struct hmf_root *r)
{
	int fd = openat(r->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (syncfs(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

bool hmf_root_is_readonly(const struct hmf_root *r)
{
	return r->flags & HMF_ROOT_RDONLY;
}

int hmf_root_fd(const struct hmf_root *r)
{
	return r->fd;
}

const char *hmf_root_path(const struct hmf_root *r)
{
	return r->path;
}

static int clean_dir(int fd, time_t cutoff, const atomic_int *stop,
		     size_t *removed, int depth)
{
	struct dirent *e;
	struct stat st;
	int dfd, sub, rc = 0;
	DIR *d;

	if (depth > 256)
		return 0;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((e = readdir(d))) {
		if (stop && atomic_load(stop)) {
			rc = -EINTR;
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (strncmp(e->d_name, HMF_TMP_PREFIX,
			    strlen(HMF_TMP_PREFIX)) == 0) {
			if (st.st_mtime <= cutoff &&
			    fsu_rmtree_at(dfd, e->d_name) == 0)
				(*removed)++;
			continue;
		}
		if (!S_ISDIR(st.st_mode) || hmf_name_is_reserved(e->d_name))
			continue;
		if (fsu_open_dir(dfd, e->d_name, &sub) == 0) {
			rc = clean_dir(sub, cutoff, stop, removed, depth + 1);
			close(sub);
			if (rc == -EINTR)
				break;
			rc = 0;
		}
	}
	closedir(d);
	return rc;
}

static int staging_dir(struct hmf_root *r, bool create, int *fd);

/* Jobs left in staging by a crash: old ones are garbage too. */
static int clean_staging(struct hmf_root *r, time_t cutoff, size_t *removed)
{
	struct dirent *e;
	struct stat st;
	int sfd, dfd, rc = 0;
	DIR *d;

	if (staging_dir(r, false, &sfd) < 0)
		return 0;
	dfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(sfd);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "job-", 4) == 0 &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
		    st.st_mtime <= cutoff &&
		    fsu_rmtree_at(dirfd(d), e->d_name) == 0)
			(*removed)++;
	closedir(d);
	return rc;
}

int hmf_root_clean(struct hmf_root *r, unsigned min_age, size_t *removed)
{
	return hmf_root_clean_stoppable(r, min_age, NULL, removed);
}

int hmf_root_clean_stoppable(struct hmf_root *r, unsigned min_age,
			     const atomic_int *stop, size_t *removed)
{
	size_t n = 0;
	int rc;

	if (r->flags & HMF_ROOT_RDONLY)
		return hmf_err(-EROFS, "%s: opened read-only", r->path);
	rc = clean_dir(r->fd, time(NULL) - (time_t)min_age, stop, &n, 0);
	if (rc == 0)
		rc = clean_staging(r, time(NULL) - (time_t)min_age, &n);
	if (removed)
		*removed = n;
	return rc;
}

/*
 * Open the parent group of @path and point *@name at its last name (in
 * @buf). With @create, missing groups on the way are made.
 */
static int open_parent(struct hmf_root *r, const char *path, bool create,
		       char *buf, size_t buflen, struct hmf_node **parent,
		       const char **name)
{
	const char *names[HMF_PATH_MAX / 2];
	struct hmf_node *n, *child;
	struct hmf_meta gm;
	int count, i, rc;

	count = hmf_path_split(path, buf, buflen, names, HMF_PATH_MAX / 2);
	if (count < 0)
		return count;
	if (count == 0)
		return hmf_err(-EINVAL, "'%s': the root has no parent", path);
	rc = hmf_node_open_root(r, &n);
	hmf_meta_init(&gm, HMF_KIND_GROUP);
	for (i = 0; rc == 0 && i < count - 1; i++) {
		rc = hmf_node_lookup(n, names[i], &child);
		if (rc == -ENOENT && create) {
			rc = hmf_node_create(n, names[i], &gm, NULL, 0, NULL, 0,
					     &child);
			if (rc == -EEXIST) /* another thread made it first */
				rc = hmf_node_lookup(n, names[i], &child);
		}
		hmf_node_close(n);
		n = rc == 0 ? child : NULL;
	}
	hmf_meta_fini(&gm);
	if (rc < 0)
		return rc;
	if (!hmf_node_is_group(n)) {
		hmf_node_close(n);
		return hmf_err(-ENOTDIR, "'%s': a parent is an array", path);
	}
	*parent = n;
	*name = names[count - 1];
	return 0;
}

/* Open (creating if needed) ROOT/.hmf.d/staging as an O_PATH fd. */
static int staging_dir(struct hmf_root *r, bool create, int *fd)
{
	if (create) {
		if (mkdirat(r->fd, HMF_PRIVATE_DIR, 0700) < 0 &&
		    errno != EEXIST)
			return -errno;
		if (mkdirat(r->fd, HMF_STAGING_DIR, 0700) < 0 &&
		    errno != EEXIST)
			return -errno;
	}
	*fd = openat(r->fd, HMF_STAGING_DIR,
		     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

int hmf_root_stage(struct hmf_root *r, struct hmf_node **out,
		   char name[HMF_STAGE_NAME_LEN])
{
	char tmp[HMF_TMPNAME_LEN], what[HMF_PATH_MAX];
	struct hmf_meta m;
	struct stat st;
	int sfd, jfd, rc;

	if (r->flags & HMF_ROOT_RDONLY)
		return hmf_err(-EROFS, "%s: opened read-only", r->path);
	rc = staging_dir(r, true, &sfd);
	if (rc < 0)
		return hmf_err(rc, "%s: cannot create %s", r->path,
			       HMF_STAGING_DIR);
	do {
		fsu_tmpname(tmp);
		/* "job-<hex>": not a .hmf.tmp name, so start-up cleaning of
		 * the tree never touches a job that is still running */
		snprintf(name, HMF_STAGE_NAME_LEN, "job-%s",
			 tmp + strlen(HMF_TMP_PREFIX));
		rc = mkdirat(sfd, name, 0700);
	} while (rc < 0 && errno == EEXIST);
	if (rc < 0) {
		rc = -errno;
		goto out_close;
	}
	rc = fsu_open_dir(sfd, name, &jfd);
	if (rc == 0) {
		hmf_meta_init(&m, HMF_KIND_GROUP);
		rc = meta_write_new(jfd, &m, &st);
		hmf_meta_fini(&m);
		close(jfd);
	}
	snprintf(what, sizeof(what), "%s/%s/%s", r->path, HMF_STAGING_DIR,
		 name);
	if (rc == 0)
		rc = node_open_at(r, sfd, name, what, out);
	if (rc < 0)
		fsu_rmtree_at(sfd, name);
out_close:
	close(sfd);
	if (rc < 0)
		return hmf_err(rc, "%s: cannot stage: %s", r->path,
			       strerrordesc_np(-rc));
	return 0;
}

int hmf_root_unstage(struct hmf_root *r, const char *name)
{
	int sfd, rc;

	if (strchr(name, '/') || name[0] == '.' || !name[0])
		return hmf_err(-EINVAL, "bad staging name '%s'", name);
	rc = staging_dir(r, false, &sfd);
	if (rc < 0)
		return rc;
	rc = fsu_rmtree_at(sfd, name);
	close(sfd);
	return rc;
}

int hmf_set_group(struct hmf_root *r, const char *path)
{
	struct hmf_node *parent, *n = NULL;
	struct hmf_meta gm;
	char buf[HMF_PATH_MAX];
	const char *name;
	int rc;

	if (strspn(path, "/") == strlen(path) && path[0] == '/')
		return 0; /* the root group always exists */
	rc = open_parent(r, path, true, buf, sizeof(buf), &parent, &name);
	if (rc < 0)
		return rc;
	hmf_meta_init(&gm, HMF_KIND_GROUP);
	rc = hmf_node_create(parent, name, &gm, NULL, 0, NULL, 0, NULL);
	hmf_meta_fini(&gm);
	if (rc == -EEXIST) {
		rc = hmf_node_lookup(parent, name, &n);
		if (rc == 0 && !hmf_node_is_group(n))
			rc = hmf_err(-EEXIST, "%s: exists and is an array",
				     path);
		else if (rc == -ENOENT)
			rc = hmf_err(-EEXIST, "%s: exists and is not a node",
				     path);
		hmf_node_close(n);
	}
	hmf_node_close(parent);
	return rc;
}

int hmf_set_array(struct hmf_root *r, const char *path, const char *dtype,
		  int ndim, const uint64_t *shape, const void *data)
{
	struct hmf_node *parent;
	struct hmf_meta m;
	char buf[HMF_PATH_MAX];
	const char *name;
	uint64_t nbytes;
	int rc;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	rc = hmf_dtype_parse(dtype, &m.dtype);
	if (rc < 0)
		return rc;
	if (ndim < 0 || ndim > HMF_MAX_NDIM)
		return hmf_err(-EINVAL, "%s: %d dimensions (0..%d allowed)",
			       path, ndim, HMF_MAX_NDIM);
	m.ndim = ndim;
	if (ndim)
		memcpy(m.shape, shape, sizeof(*shape) * (size_t)ndim);
	rc = hmf_dtype_nbytes(&m.dtype, ndim, m.shape, &nbytes);
	if (rc < 0)
		return rc;
	rc = open_parent(r, path, true, buf, sizeof(buf), &parent, &name);
	if (rc < 0)
		return rc;
	rc = hmf_node_create(parent, name, &m, data, nbytes, NULL,
			     HMF_CREATE_REPLACE, NULL);
	hmf_node_close(parent);
	return rc;
}

/* Map array @n (opened at @path) into @v. */
static int map_array(struct hmf_node *n, const char *path, int flags,
		     struct hmf_view *v)
{
	struct hmf_meta m;
	struct stat st;
	void *p = NULL;
	int fd, rc, prot = PROT_READ;

	rc = hmf_node_data_open(n, (flags & HMF_VIEW_RDWR) ? O_RDWR : O_RDONLY,
				&fd);
	if (rc < 0)
		return rc;
	rc = hmf_node_meta(n, &m);
	if (rc < 0)
		goto out_fd;
	/* map what the metadata was derived from, not a later size */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_meta;
	}
	if (hmf_meta_derive_shape(&m, (uint64_t)st.st_size))
		hmf_log(HMF_LOG_DEBUG, "%s: size changed while opening", path);
	if (flags & HMF_VIEW_RDWR)
		prot |= PROT_WRITE;
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			rc = hmf_err(-errno, "%s: cannot map %lld bytes", path,
				     (long long)st.st_size);
			goto out_meta;
		}
	}
	memset(v, 0, sizeof(*v));
	v->data = p;
	v->nbytes = (uint64_t)st.st_size;
	v->dtype = m.dtype;
	v->ndim = m.ndim;
	memcpy(v->shape, m.shape, sizeof(v->shape));
	v->order = m.order;
	v->writable = flags & HMF_VIEW_RDWR;
out_meta:
	hmf_meta_fini(&m);
out_fd:
	close(fd);
	return rc;
}

/*
 * After a failure on node @n of @path: 1 if @path now names another
 * directory (then in *@again), 0 if not (the message of the failure kept),
 * or the -errno of looking @path up again.
 */
static int replaced(struct hmf_root *r, const char *path, struct hmf_node *n,
		    struct hmf_node **again)
{
	struct stat a, b;
	char why[1024];
	int rc;

	snprintf(why, sizeof(why), "%s", hmf_errmsg());
	rc = hmf_node_open(r, path, again);
	if (rc < 0)
		return rc;
	if (fstat(hmf_node_fd(n), &a) == 0 &&
	    fstat(hmf_node_fd(*again), &b) == 0 &&
	    (a.st_ino != b.st_ino || a.st_dev != b.st_dev))
		return 1;
	hmf_node_close(*again);
	hmf_err(-EIO, "%s", why);
	return 0;
}

int hmf_get_array(struct hmf_root *r, const char *path, int flags,
		  struct hmf_view *v)
{
	struct hmf_node *n, *again;
	int rc, r2;

	if ((flags & HMF_VIEW_RDWR) && (r->flags & HMF_ROOT_RDONLY))
		return hmf_err(-EROFS, "%s: opened read-only", r->path);
	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		return rc;
	while ((rc = map_array(n, path, flags, v)) < 0) {
		/*
		 * Replacing @path empties the directory we opened; readers
		 * see the old array or the new one, never neither: retry
		 * while @path names another directory (each retry means a
		 * writer completed a replace, so this cannot spin idly).
		 */
		r2 = replaced(r, path, n, &again);
		if (r2 <= 0) {
			rc = r2 < 0 ? r2 : rc;
			break;
		}
		hmf_node_close(n);
		n = again;
	}
	hmf_node_close(n);
	return rc;
}

void hmf_view_fini(struct hmf_view *v)
{
	if (v && v->data)
		munmap(v->data, (size_t)v->nbytes);
	if (v)
		memset(v, 0, sizeof(*v));
}

int hmf_set_node_attr(struct hmf_root *r, const char *path, const char *key,
		      const void *val, size_t len)
{
	struct hmf_node *n;
	int rc;

	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		return rc;
	rc = hmf_node_attr_set(n, key, val, len, 0);
	hmf_node_close(n);
	return rc;
}

int hmf_get_node_attr(struct hmf_root *r, const char *path, const char *key,
		      char **val, size_t *len)
{
	struct hmf_node *n;
	size_t l;
	void *v;
	int rc;

	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		return rc;
	rc = hmf_node_attr_get(n, key, &v, &l);
	hmf_node_close(n);
	if (rc < 0)
		return rc;
	*val = v;
	if (len)
		*len = l;
	return 0;
}

int hmf_list(struct hmf_root *r, const char *path, struct hmf_dirent **ents,
	     size_t *count)
{
	struct hmf_node *n;
	int rc;

	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		return rc;
	rc = hmf_node_list(n, ents, count);
	hmf_node_close(n);
	return rc;
}

int hmf_remove(struct hmf_root *r, const char *path)
{
	struct hmf_node *parent;
	char buf[HMF_PATH_MAX];
	const char *name;
	int rc;

	rc = open_parent(r, path, false, buf, sizeof(buf), &parent, &name);
	if (rc == -EINVAL && path[0] == '/' &&
	    strspn(path, "/") == strlen(path))
		return hmf_err(-EBUSY, "cannot remove the root group");
	if (rc < 0)
		return rc;
	rc = hmf_node_remove(parent, name, HMF_RM_RECURSIVE);
	hmf_node_close(parent);
	return rc;
}

int hmf_rename(struct hmf_root *r, const char *from, const char *to,
	       unsigned flags)
{
	char fbuf[HMF_PATH_MAX], tbuf[HMF_PATH_MAX];
	struct hmf_node *fp, *tp;
	const char *fname, *tname;
	int rc;

	rc = open_parent(r, from, false, fbuf, sizeof(fbuf), &fp, &fname);
	if (rc < 0)
		return rc;
	rc = open_parent(r, to, true, tbuf, sizeof(tbuf), &tp, &tname);
	if (rc == 0) {
		rc = hmf_node_rename(fp, fname, tp, tname, flags);
		hmf_node_close(tp);
	}
	hmf_node_close(fp);
	return rc;
}
