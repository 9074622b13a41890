/* SPDX-License-Identifier: MIT */
/*
 * fsck.c - walk an HMF root by directory descriptors and report what does
 * not follow the format: bad metadata, shapes that no longer match the
 * data, arrays without data, stray entries, leftover temporaries and a
 * missing private directory. Repairs only rewrite metadata, remove
 * ".hmf.tmp.*" garbage or create ".hmf.d"; nothing else is ever deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil_i.h"
#include "hmf/error.h"
#include "hmf/fsck.h"
#include "hmf/meta.h"
#include "hmf/node.h"
#include "hmf/path.h"
#include "hmf/root.h"

#define HMF_PRIVATE_DIR ".hmf.d"
#define MSG_MAX 1536

struct walk {
	struct hmf_root *r;
	bool repair;
	void (*report)(const struct hmf_fsck_issue *issue, void *arg);
	void *arg;
	struct hmf_fsck_summary sum;
};

static const char *const kind_names[] = {
	[HMF_FSCK_BAD_META] = "bad-meta",
	[HMF_FSCK_BAD_SHAPE] = "bad-shape",
	[HMF_FSCK_NO_DATA] = "no-data",
	[HMF_FSCK_STRAY] = "stray",
	[HMF_FSCK_LEFTOVER] = "leftover",
	[HMF_FSCK_NO_PRIVATE_DIR] = "no-private-dir",
	[HMF_FSCK_UNREADABLE] = "unreadable",
};

const char *hmf_fsck_kind_name(enum hmf_fsck_kind kind)
{
	if ((size_t)kind >= sizeof(kind_names) / sizeof(kind_names[0]) ||
	    !kind_names[kind])
		return "?";
	return kind_names[kind];
}

/* Count @is and hand it to the caller. */
static void found(struct walk *w, struct hmf_fsck_issue *is)
{
	if (!is->repair_message)
		is->repair_message = "";
	w->sum.issues++;
	if (is->repairable)
		w->sum.repairable++;
	if (is->repaired)
		w->sum.repaired++;
	if (w->report)
		w->report(is, w->arg);
}

/* Report a problem that no repair applies to. */
static void __attribute__((format(printf, 5, 6)))
found_plain(struct walk *w, enum hmf_fsck_kind kind, const char *path,
	    int error, const char *fmt, ...)
{
	struct hmf_fsck_issue is = { .kind = kind, .path = path };
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	is.message = msg;
	is.error = error;
	found(w, &is);
}

/* "@dir/@name" into @buf ("/@name" under ROOT). Returns -ENAMETOOLONG. */
static int join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", strcmp(dir, "/") ? dir : "", name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The file system path of @rel (for messages that name files). */
static void fs_path(struct walk *w, const char *rel, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", hmf_root_path(w->r),
		 strcmp(rel, "/") ? rel : "");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The entries of directory @fd (an O_PATH fd is fine), sorted, in *@names;
 * *@dfd gets a readable descriptor of it for *at() calls (caller closes).
 */
static int list_names(int fd, char ***names, size_t *count, int *dfd)
{
	size_t n = 0, cap = 0;
	char **v = NULL, **p;
	struct dirent *e;
	int rfd, rc = 0;
	DIR *d;

	rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	*dfd = fcntl(rfd, F_DUPFD_CLOEXEC, 0);
	if (*dfd < 0) {
		rc = -errno;
		close(rfd);
		return rc;
	}
	d = fdopendir(rfd);
	if (!d) {
		rc = -errno;
		close(rfd);
		goto out_fail;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[n] = strdup(e->d_name);
		if (!v[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc < 0)
		goto out_fail;
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*names = v;
	*count = n;
	return 0;
out_fail:
	free_names(v, n);
	close(*dfd);
	return rc;
}

static bool is_leftover(const char *name)
{
	return strncmp(name, HMF_TMP_PREFIX, strlen(HMF_TMP_PREFIX)) == 0;
}

static void check_leftover(struct walk *w, int dfd, const char *path,
			   const char *name)
{
	struct hmf_fsck_issue is = { .kind = HMF_FSCK_LEFTOVER, .path = path };
	char msg[MSG_MAX];
	int rc;

	is.message = "temporary entry of an interrupted change";
	is.repairable = true;
	if (w->repair) {
		rc = fsu_rmtree_at(dfd, name);
		if (rc == 0) {
			is.repaired = true;
			is.repair_message = "removed";
		} else {
			is.repair_error = rc;
			snprintf(msg, sizeof(msg), "cannot remove: %s",
				 strerrordesc_np(-rc));
			is.repair_message = msg;
		}
	}
	found(w, &is);
}

static const char *file_type(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symlink";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a device";
}

static void shape_text(const struct hmf_meta *m, char *buf, size_t size)
{
	size_t off = 0;
	int i;

	off += (size_t)snprintf(buf, size, "%s [", m->dtype.str);
	for (i = 0; i < m->ndim && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%llu",
					i ? "," : "",
					(unsigned long long)m->shape[i]);
	if (off < size)
		snprintf(buf + off, size - off, "]");
}

/* Data of the array at @path (its dir @fd) against its stored metadata. */
static void check_data(struct walk *w, int fd, const char *path,
		       const struct hmf_meta *m)
{
	struct hmf_fsck_issue is = { .kind = HMF_FSCK_BAD_SHAPE, .path = path };
	char msg[MSG_MAX], rmsg[MSG_MAX], stored[256], derived[256];
	struct hmf_meta d;
	struct hmf_node *n;
	struct stat st;
	uint64_t want;
	int rc;

	if (fstatat(fd, HMF_DATA_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		found_plain(w, HMF_FSCK_NO_DATA, path, rc,
			    "array without a data file (%s)",
			    strerrordesc_np(-rc));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		found_plain(w, HMF_FSCK_NO_DATA, path, 0,
			    "data is %s, not a regular file",
			    file_type(st.st_mode));
		return;
	}
	w->sum.data_bytes += (uint64_t)st.st_size;
	if (hmf_dtype_nbytes(&m->dtype, m->ndim, m->shape, &want) == 0 &&
	    want == (uint64_t)st.st_size)
		return;
	if (hmf_meta_copy(&d, m) < 0) {
		found_plain(w, HMF_FSCK_BAD_SHAPE, path, 0, "out of memory");
		return;
	}
	hmf_meta_derive_shape(&d, (uint64_t)st.st_size);
	shape_text(m, stored, sizeof(stored));
	shape_text(&d, derived, sizeof(derived));
	hmf_meta_fini(&d);
	snprintf(
		msg, sizeof(msg),
		"data is %llu bytes, the stored shape %s needs %llu; derived: %s",
		(unsigned long long)st.st_size, stored,
		(unsigned long long)want, derived);
	is.message = msg;
	is.repairable = true;
	if (w->repair) {
		rc = hmf_node_open(w->r, path, &n);
		if (rc == 0) {
			rc = hmf_node_sync_shape(n);
			hmf_node_close(n);
		}
		if (rc == 0) {
			is.repaired = true;
			snprintf(rmsg, sizeof(rmsg), "stored shape now %s",
				 derived);
		} else {
			is.repair_error = rc;
			snprintf(rmsg, sizeof(rmsg), "%s", hmf_errmsg());
		}
		is.repair_message = rmsg;
	}
	found(w, &is);
}

static void check_dir(struct walk *w, int fd, const char *path,
		      enum hmf_kind kind, int depth);

/*
 * Load the metadata of node directory @fd at @path into @m; a failure is
 * reported. Kept out of check_entry() so that the recursion stays small.
 */
static int load_meta(struct walk *w, int fd, const char *path,
		     struct hmf_meta *m)
{
	char where[HMF_PATH_MAX + 512];
	int rc;

	fs_path(w, path, where, sizeof(where));
	rc = hmf_meta_load(fd, where, m);
	if (rc < 0)
		found_plain(w, HMF_FSCK_BAD_META, path, rc,
			    "%s (%s); not checked below", hmf_errmsg(),
			    strerrordesc_np(-rc));
	return rc;
}

/* Entry @name of the node directory @dfd, whose path is @dir. */
static void check_entry(struct walk *w, int dfd, const char *dir,
			enum hmf_kind dirkind, const char *name, int depth)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	enum hmf_kind kind;
	struct hmf_meta m;
	struct stat st;
	char *path;
	int fd, rc;

	/* on the heap: the recursion may be thousands of levels deep */
	path = malloc(len);
	if (!path || join(path, len, dir, name) < 0) {
		found_plain(w, HMF_FSCK_UNREADABLE, dir, -ENOMEM,
			    "entry '%s': out of memory", name);
		free(path);
		return;
	}
	if (is_leftover(name)) {
		check_leftover(w, dfd, path, name);
		goto out_free;
	}
	/* the node's own files, and names reserved for the system */
	if (hmf_name_is_reserved(name) ||
	    (dirkind == HMF_KIND_ARRAY && strcmp(name, HMF_DATA_FILE) == 0))
		goto out_free;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto out_free; /* gone meanwhile */
	if (dirkind == HMF_KIND_ARRAY) {
		found_plain(w, HMF_FSCK_STRAY, path, 0,
			    "%s inside an array, not part of it (left alone)",
			    file_type(st.st_mode));
		goto out_free;
	}
	if (!S_ISDIR(st.st_mode)) {
		found_plain(w, HMF_FSCK_STRAY, path, 0,
			    "%s, not a node (left alone)",
			    file_type(st.st_mode));
		goto out_free;
	}
	rc = fsu_open_dir(dfd, name, &fd);
	if (rc < 0) {
		found_plain(w, HMF_FSCK_UNREADABLE, path, rc, "cannot open: %s",
			    strerrordesc_np(-rc));
		goto out_free;
	}
	if (fstatat(fd, HMF_META_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT) {
		found_plain(
			w, HMF_FSCK_STRAY, path, 0,
			"a directory without .hmf, not a node (left alone)");
		goto out_close;
	}
	if (load_meta(w, fd, path, &m) < 0)
		goto out_close;
	kind = m.kind;
	if (kind == HMF_KIND_ARRAY) {
		w->sum.arrays++;
		check_data(w, fd, path, &m);
	} else {
		w->sum.groups++;
	}
	hmf_meta_fini(&m);
	check_dir(w, fd, path, kind, depth + 1);
out_close:
	close(fd);
out_free:
	free(path);
}

/* Every entry of node directory @fd (its path @path, of kind @kind). */
static void check_dir(struct walk *w, int fd, const char *path,
		      enum hmf_kind kind, int depth)
{
	char **names;
	size_t n, i;
	int dfd, rc;

	if (depth > HMF_PATH_MAX / 2) {
		found_plain(w, HMF_FSCK_UNREADABLE, path, -ELOOP,
			    "nested too deeply to check");
		return;
	}
	rc = list_names(fd, &names, &n, &dfd);
	if (rc < 0) {
		found_plain(w, HMF_FSCK_UNREADABLE, path, rc, "cannot list: %s",
			    strerrordesc_np(-rc));
		return;
	}
	for (i = 0; i < n; i++)
		check_entry(w, dfd, path, kind, names[i], depth);
	free_names(names, n);
	close(dfd);
}

static void check_private_dir(struct walk *w)
{
	struct hmf_fsck_issue is = { .kind = HMF_FSCK_NO_PRIVATE_DIR };
	char msg[MSG_MAX];
	struct stat st;
	int fd = hmf_root_fd(w->r);

	is.path = "/" HMF_PRIVATE_DIR;
	if (fstatat(fd, HMF_PRIVATE_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return;
		/* a reserved name, but still never delete what is there */
		found_plain(w, HMF_FSCK_NO_PRIVATE_DIR, is.path, 0,
			    "the private directory is %s (left alone)",
			    file_type(st.st_mode));
		return;
	}
	is.message = "the private directory is missing";
	is.repairable = true;
	if (w->repair) {
		if (mkdirat(fd, HMF_PRIVATE_DIR, 0700) == 0) {
			is.repaired = true;
			is.repair_message = "created";
		} else {
			is.repair_error = -errno;
			snprintf(msg, sizeof(msg), "cannot create: %s",
				 strerrordesc_np(errno));
			is.repair_message = msg;
		}
	}
	found(w, &is);
}

/* After the walk: what else the library counts as garbage (staging). */
static void clean_rest(struct walk *w)
{
	struct hmf_fsck_issue is = { .kind = HMF_FSCK_LEFTOVER };
	char msg[MSG_MAX];
	size_t n = 0;
	int rc;

	rc = hmf_root_clean(w->r, 0, &n);
	if (rc == 0 && n == 0)
		return;
	is.path = "/" HMF_PRIVATE_DIR;
	is.repairable = true;
	if (rc == 0) {
		snprintf(msg, sizeof(msg),
			 "%zu more leftover entries (interrupted jobs)", n);
		is.repaired = true;
		is.repair_message = "removed";
	} else {
		snprintf(msg, sizeof(msg), "leftover entries: %s",
			 hmf_errmsg());
		is.repair_error = rc;
		is.repair_message = "cannot remove all of them";
	}
	is.message = msg;
	found(w, &is);
}

int hmf_fsck_run(struct hmf_root *r, unsigned flags,
		 void (*report)(const struct hmf_fsck_issue *issue, void *arg),
		 void *arg, struct hmf_fsck_summary *out)
{
	struct walk w = { .r = r, .report = report, .arg = arg };
	char **names;
	size_t n, i;
	int dfd, rc;

	w.repair = flags & HMF_FSCK_REPAIR;
	if (w.repair && hmf_root_is_readonly(r))
		return hmf_err(-EROFS, "%s: opened read-only; cannot repair",
			       hmf_root_path(r));
	rc = list_names(hmf_root_fd(r), &names, &n, &dfd);
	if (rc < 0)
		return hmf_err(rc, "%s: cannot list: %s", hmf_root_path(r),
			       strerrordesc_np(-rc));
	w.sum.groups = 1;
	check_private_dir(&w);
	for (i = 0; i < n; i++)
		check_entry(&w, dfd, "/", HMF_KIND_GROUP, names[i], 0);
	free_names(names, n);
	close(dfd);
	if (w.repair)
		clean_rest(&w);
	if (out)
		*out = w.sum;
	return 0;
}
