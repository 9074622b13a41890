/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xattr.c - node attributes as the mount's xattrs use them. Each input
 * is a sequence of operations on a fresh array node "a" (replacing the last
 * one) in a root made once per process under $TMPDIR (made again if it
 * went away), through two handles of the node, as two mounts or the CLI
 * and a mount would hold. Each operation byte: bit 7 picks the handle,
 * bits 4-5 are xattr flags, bits 0-3 the operation (set, get, remove,
 * list, layout set, layout get, resize, reopen, load). Keys named
 * "hmf.dtype", "hmf.shape", "hmf.order", "hmf.meta" go through
 * hmf_layout_parse() and hmf_node_set_layout(), as src/fuse/xattr.c does.
 *
 * Checked against a model of the attributes: every return value is the
 * one the contract predicts (0 or that negative errno); what was set reads
 * back, through either handle; lists hold exactly the model's keys; a
 * layout change does what layout.h says or nothing at all; the node's
 * .hmf always loads and holds the model.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "hmf.h"

#define MAX_OPS 48
#define ARRAY_BYTES 24

enum op {
	OP_SET,
	OP_SET2,
	OP_GET,
	OP_REMOVE,
	OP_LIST,
	OP_LAYOUT_SET,
	OP_LAYOUT_GET,
	OP_RESIZE,
	OP_REOPEN,
	OP_LOAD,
};

struct model_attr {
	char *key;
	unsigned char *val;
	size_t len;
};

struct model {
	struct model_attr *a;
	size_t n;
};

static struct hmf_root *root;
static char root_path[4096];
static char key_246[HMF_ATTR_KEY_MAX + 1], key_247[HMF_ATTR_KEY_MAX + 2];
static const char *keys[16];
static unsigned char big[HMF_ATTR_VALUE_MAX + 2];

static void rm_rf_at(int at, const char *name)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rm_rf_at(dirfd(d), e->d_name);
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

static void root_drop(void)
{
	hmf_close(root);
	root = NULL;
	if (root_path[0])
		rm_rf_at(AT_FDCWD, root_path);
	root_path[0] = '\0';
}

static void root_make(void)
{
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(root_path, sizeof(root_path), "%s/hmf-fuzz-xattr.XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(root_path) != NULL, "mkdtemp %s", root_path);
	rc = hmf_root_open(root_path, HMF_ROOT_CREATE, &root);
	FUZZ_CHECK(rc == 0, "cannot make a root in %s: %d", root_path, rc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	memset(key_246, 'k', sizeof(key_246) - 1);
	memset(key_247, 'k', sizeof(key_247) - 1);
	i = 0;
	keys[i++] = "a";
	keys[i++] = "b";
	keys[i++] = "hmf.dtype";
	keys[i++] = "hmf.shape";
	keys[i++] = "hmf.order";
	keys[i++] = "hmf.meta";
	keys[i++] = "hmf.group_names";
	keys[i++] = "hmf.";
	keys[i++] = "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"; /* UTF-8 */
	keys[i++] = "\xff";				/* not UTF-8 */
	keys[i++] = "\xed\xa0\x80";			/* a surrogate */
	keys[i++] = "";
	keys[i++] = key_246;
	keys[i++] = key_247;
	keys[i++] = "user.x";
	keys[i++] = "c";
	atexit(root_drop);
	return 0;
}

static struct model_attr *model_find(struct model *md, const char *key)
{
	size_t i;

	for (i = 0; i < md->n; i++)
		if (strcmp(md->a[i].key, key) == 0)
			return &md->a[i];
	return NULL;
}

static void model_set(struct model *md, const char *key, const void *val,
		      size_t len)
{
	struct model_attr *a = model_find(md, key);

	if (!a) {
		md->a = realloc(md->a, (md->n + 1) * sizeof(*md->a));
		FUZZ_CHECK(md->a != NULL, "out of memory");
		a = &md->a[md->n++];
		a->key = strdup(key);
	} else {
		free(a->val);
	}
	a->val = malloc(len ? len : 1);
	FUZZ_CHECK(a->key && a->val, "out of memory");
	memcpy(a->val, val, len);
	a->len = len;
}

static void model_remove(struct model *md, const char *key)
{
	struct model_attr *a = model_find(md, key);

	free(a->key);
	free(a->val);
	*a = md->a[--md->n];
}

static void model_free(struct model *md)
{
	size_t i;

	for (i = 0; i < md->n; i++) {
		free(md->a[i].key);
		free(md->a[i].val);
	}
	free(md->a);
}

/* @m's attributes are exactly the model's. */
static void check_attrs(struct model *md, const struct hmf_meta *m,
			const char *how)
{
	const struct hmf_attr *a;
	size_t i;

	FUZZ_CHECK(m->nattrs == md->n, "%s: %zu attributes, model %zu", how,
		   m->nattrs, md->n);
	for (i = 0; i < md->n; i++) {
		a = hmf_meta_attr_get(m, md->a[i].key);
		FUZZ_CHECK(a, "%s: attribute '%s' is missing", how,
			   md->a[i].key);
		FUZZ_CHECK(
			a->len == md->a[i].len &&
				memcmp(a->val, md->a[i].val, a->len) == 0,
			"%s: attribute '%s' holds %zu bytes, not the %zu set",
			how, md->a[i].key, a->len, md->a[i].len);
	}
}

/* Read @key through @n and compare with the model. */
static void check_get(struct hmf_node *n, struct model *md, const char *key,
		      const char *how)
{
	struct model_attr *a = model_find(md, key);
	void *val = NULL;
	size_t len = 0;
	int rc;

	rc = hmf_node_attr_get(n, key, &val, &len);
	if (!a) {
		FUZZ_CHECK(rc == -ENODATA, "%s: get of missing '%s': %d (%s)",
			   how, key, rc, fuzz_errno(rc));
		return;
	}
	FUZZ_CHECK(rc == 0, "%s: get '%s': %d (%s)", how, key, rc,
		   fuzz_errno(rc));
	FUZZ_CHECK(len == a->len && memcmp(val, a->val, len) == 0 &&
			   ((unsigned char *)val)[len] == '\0',
		   "%s: '%s' reads back %zu bytes, %zu were set", how, key, len,
		   a->len);
	free(val);
}

static void check_list(struct hmf_node *n, struct model *md)
{
	char *list, *k;
	size_t len, count = 0;
	int rc;

	rc = hmf_node_attr_list(n, &list, &len);
	FUZZ_CHECK(rc == 0, "list: %d", rc);
	for (k = list; k < list + len; k += strlen(k) + 1) {
		FUZZ_CHECK(model_find(md, k), "list has '%s', never set", k);
		count++;
	}
	FUZZ_CHECK(count == md->n, "list has %zu keys, model %zu", count,
		   md->n);
	free(list);
}

static void check_load(struct hmf_node *n, struct model *md)
{
	struct hmf_meta m;
	int rc;

	rc = hmf_meta_load(hmf_node_fd(n), "fuzz node", &m);
	FUZZ_CHECK(rc == 0, ".hmf does not load: %d (%s)", rc, fuzz_errno(rc));
	FUZZ_CHECK(m.kind == HMF_KIND_ARRAY, "kind %d", (int)m.kind);
	check_attrs(md, &m, ".hmf on disk");
	hmf_meta_fini(&m);
	rc = hmf_node_meta(n, &m);
	FUZZ_CHECK(rc == 0, "node meta: %d", rc);
	check_attrs(md, &m, "node meta");
	hmf_meta_fini(&m);
}

static bool layout_key(const char *key, enum hmf_layout_part *part)
{
	return strncmp(key, "hmf.", 4) == 0 &&
	       hmf_layout_part_from_name(key + 4, part) == 0;
}

static uint64_t data_size(struct hmf_node *n)
{
	struct stat st;

	FUZZ_CHECK(hmf_node_stat(n, &st) == 0, "stat");
	return (uint64_t)st.st_size;
}

static void check_meta_equal(const struct hmf_meta *a, const struct hmf_meta *b,
			     const char *how)
{
	FUZZ_CHECK(hmf_dtype_equal(&a->dtype, &b->dtype) &&
			   a->ndim == b->ndim && a->order == b->order &&
			   memcmp(a->shape, b->shape,
				  (size_t)a->ndim * sizeof(a->shape[0])) == 0,
		   "%s: layout %s/%d/%c differs from %s/%d/%c", how,
		   a->dtype.str, a->ndim, a->order, b->dtype.str, b->ndim,
		   b->order);
}

/* The layout of the data: the derived shape holds exactly its bytes. */
static void check_layout_get(struct hmf_node *n, enum hmf_layout_part part)
{
	struct hmf_layout l;
	struct hmf_meta m;
	uint64_t nbytes;
	char *text;
	int rc;

	rc = hmf_node_meta(n, &m);
	FUZZ_CHECK(rc == 0, "meta: %d", rc);
	FUZZ_CHECK(hmf_dtype_nbytes(&m.dtype, m.ndim, m.shape, &nbytes) == 0 &&
			   nbytes == data_size(n),
		   "layout %s of %llu bytes, data %llu", m.dtype.str,
		   (unsigned long long)nbytes,
		   (unsigned long long)data_size(n));
	rc = hmf_layout_format(&m, part, &text);
	FUZZ_CHECK(rc == 0, "layout format: %d", rc);
	rc = hmf_layout_parse(part, text, strlen(text), &l);
	FUZZ_CHECK(rc == 0, "'%s' does not parse back", text);
	if (l.has_dtype)
		FUZZ_CHECK(hmf_dtype_equal(&l.dtype, &m.dtype), "dtype %s",
			   text);
	if (l.has_shape)
		FUZZ_CHECK(l.ndim == m.ndim &&
				   memcmp(l.shape, m.shape,
					  (size_t)m.ndim *
						  sizeof(m.shape[0])) == 0,
			   "shape %s", text);
	if (l.has_order)
		FUZZ_CHECK(l.order == m.order, "order %s", text);
	free(text);
	hmf_meta_fini(&m);
}

/* setxattr of user.hmf.<part>: all or nothing, as layout.h says. */
static void do_layout_set(struct hmf_node *n, struct hmf_node *other,
			  enum hmf_layout_part part, const uint8_t *text,
			  size_t len)
{
	struct hmf_meta before, after, want;
	struct hmf_layout l;
	uint64_t size, new_size, nbytes;
	int rc, expect = 0;

	rc = hmf_layout_parse(part, (const char *)text, len, &l);
	FUZZ_RC(rc, -EINVAL);
	if (rc < 0)
		return;
	FUZZ_CHECK(hmf_node_meta(n, &before) == 0, "meta");
	size = new_size = data_size(n);
	FUZZ_CHECK(hmf_meta_copy(&want, &before) == 0, "copy");
	if (l.has_dtype) {
		if (size % l.dtype.itemsize) {
			expect = -EINVAL;
		} else {
			want.dtype = l.dtype;
			want.ndim = 1;
			want.shape[0] = size / l.dtype.itemsize;
		}
	}
	if (expect == 0 && l.has_shape) {
		if (hmf_dtype_nbytes(&want.dtype, l.ndim, l.shape, &nbytes) <
		    0) {
			expect = -EOVERFLOW;
		} else if (nbytes != size && size != 0) {
			expect = -EINVAL;
		} else {
			want.ndim = l.ndim;
			memcpy(want.shape, l.shape, sizeof(want.shape));
			new_size = nbytes;
		}
	}
	if (expect == 0 && l.has_order)
		want.order = l.order;

	rc = hmf_node_set_layout(n, &l);
	if (expect == 0 && new_size != size && rc < 0) {
		/* a huge empty array may not fit the filesystem */
		FUZZ_RC(rc, -EFBIG, -ENOSPC, -EINVAL);
		expect = rc;
	}
	FUZZ_CHECK(rc == expect, "set layout: %d (%s), expected %d (%s)", rc,
		   fuzz_errno(rc), expect, fuzz_errno(expect));
	FUZZ_CHECK(hmf_node_meta(n, &after) == 0, "meta");
	if (rc == 0) {
		check_meta_equal(&after, &want, "after a layout change");
		FUZZ_CHECK(data_size(n) == new_size, "data of %llu bytes",
			   (unsigned long long)data_size(n));
	} else {
		check_meta_equal(&after, &before, "after a refused change");
		FUZZ_CHECK(data_size(n) == size, "a refused change resized");
	}
	hmf_meta_fini(&after);
	FUZZ_CHECK(hmf_node_meta(other, &after) == 0, "meta");
	check_meta_equal(&after, rc == 0 ? &want : &before, "other handle");
	hmf_meta_fini(&after);
	hmf_meta_fini(&want);
	hmf_meta_fini(&before);
}

static void do_set(struct hmf_node *n, struct hmf_node *other, struct model *md,
		   const char *key, const void *val, size_t len, int flags)
{
	struct model_attr *a = model_find(md, key);
	int rc, expect;

	expect = hmf_attr_key_check(key);
	if (expect == 0 && len > HMF_ATTR_VALUE_MAX)
		expect = -E2BIG;
	else if (expect == 0 && a && (flags & HMF_ATTR_CREATE))
		expect = -EEXIST;
	else if (expect == 0 && !a && (flags & HMF_ATTR_REPLACE))
		expect = -ENODATA;
	rc = hmf_node_attr_set(n, key, val, len, flags);
	FUZZ_CHECK(
		rc == expect,
		"set '%.40s' (%zu bytes, flags %d): %d (%s), expected %d (%s)",
		key, len, flags, rc, fuzz_errno(rc), expect,
		fuzz_errno(expect));
	if (rc == 0)
		model_set(md, key, val, len);
	if (expect == -EINVAL || expect == -ERANGE)
		return; /* not a key: get would refuse it too */
	check_get(n, md, key, "same handle");
	check_get(other, md, key, "other handle");
}

static void do_remove(struct hmf_node *n, struct hmf_node *other,
		      struct model *md, const char *key)
{
	int rc;

	rc = hmf_node_attr_remove(n, key);
	if (model_find(md, key)) {
		FUZZ_CHECK(rc == 0, "remove '%s': %d (%s)", key, rc,
			   fuzz_errno(rc));
		model_remove(md, key);
	} else {
		FUZZ_CHECK(rc == -ENODATA, "remove missing '%.40s': %d (%s)",
			   key, rc, fuzz_errno(rc));
	}
	check_get(other, md, key, "other handle after remove");
}

/* A key: one of the pool, or a length byte and that many input bytes. */
static char *read_key(struct fuzz_in *in)
{
	uint8_t k = fuzz_u8(in);
	const uint8_t *p;
	size_t n;

	if (k < 0xc0)
		return strdup(keys[k % 16]);
	n = fuzz_take(in, fuzz_u8(in), &p);
	return fuzz_strndup(p, n);
}

/* A value: a length byte (0xfe, 0xff: 64 KiB + 1, 64 KiB), then bytes. */
static size_t read_value(struct fuzz_in *in, const uint8_t **out)
{
	uint8_t v = fuzz_u8(in);

	if (v >= 0xfe) {
		memset(big, fuzz_u8(in), sizeof(big));
		*out = big;
		return v == 0xff ? HMF_ATTR_VALUE_MAX : HMF_ATTR_VALUE_MAX + 1;
	}
	return fuzz_take(in, v & 63, out);
}

static void open_handles(struct hmf_node *top, struct hmf_node *h[2])
{
	unsigned char data[ARRAY_BYTES];
	struct hmf_meta m;
	int rc;

	hmf_meta_init(&m, HMF_KIND_ARRAY);
	FUZZ_CHECK(hmf_dtype_parse("<i4", &m.dtype) == 0, "dtype");
	m.ndim = 1;
	m.shape[0] = ARRAY_BYTES / 4;
	memset(data, 7, sizeof(data));
	rc = hmf_node_create(top, "a", &m, data, sizeof(data), NULL,
			     HMF_CREATE_REPLACE, &h[0]);
	FUZZ_CHECK(rc == 0, "create: %d (%s)", rc, fuzz_errno(rc));
	rc = hmf_node_lookup(top, "a", &h[1]);
	FUZZ_CHECK(rc == 0, "lookup: %d (%s)", rc, fuzz_errno(rc));
	hmf_meta_fini(&m);
}

static void run_op(struct fuzz_in *in, struct hmf_node *top,
		   struct hmf_node *h[2], struct model *md)
{
	uint8_t op = fuzz_u8(in);
	int which = op >> 7, flags = (op >> 4) & 3;
	struct hmf_node *n = h[which], *other = h[!which];
	enum hmf_layout_part part;
	const uint8_t *val;
	size_t len;
	char *key;
	int rc;

	switch ((enum op)((op & 15) % (OP_LOAD + 1))) {
	case OP_SET:
	case OP_SET2:
		key = read_key(in);
		len = read_value(in, &val);
		if (layout_key(key, &part)) {
			/* the mount refuses XATTR_CREATE itself */
			if (!(flags & HMF_ATTR_CREATE))
				do_layout_set(n, other, part, val, len);
		} else {
			do_set(n, other, md, key, val, len, flags);
		}
		free(key);
		break;
	case OP_GET:
		key = read_key(in);
		if (layout_key(key, &part))
			check_layout_get(n, part);
		else if (hmf_attr_key_check(key) == 0)
			check_get(n, md, key, "get");
		free(key);
		break;
	case OP_REMOVE:
		key = read_key(in);
		/* the mount refuses to remove a layout part (EPERM) */
		if (!layout_key(key, &part) && hmf_attr_key_check(key) == 0)
			do_remove(n, other, md, key);
		free(key);
		break;
	case OP_LIST:
		check_list(n, md);
		break;
	case OP_LAYOUT_SET:
		part = (enum hmf_layout_part)(fuzz_u8(in) & 3);
		len = fuzz_take(in, fuzz_u8(in) & 63, &val);
		do_layout_set(n, other, part, val, len);
		break;
	case OP_LAYOUT_GET:
		check_layout_get(n, (enum hmf_layout_part)(fuzz_u8(in) & 3));
		break;
	case OP_RESIZE:
		len = fuzz_u16(in) % 2048;
		rc = hmf_node_resize(n, len);
		FUZZ_CHECK(rc == 0, "resize to %zu: %d (%s)", len, rc,
			   fuzz_errno(rc));
		FUZZ_CHECK(data_size(other) == len, "size after resize");
		check_layout_get(n, HMF_LAYOUT_META);
		check_layout_get(other, HMF_LAYOUT_META);
		break;
	case OP_REOPEN:
		hmf_node_close(n);
		rc = hmf_node_lookup(top, "a", &h[which]);
		FUZZ_CHECK(rc == 0, "lookup: %d (%s)", rc, fuzz_errno(rc));
		check_load(h[which], md);
		break;
	case OP_LOAD:
		check_load(n, md);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct model md = { NULL, 0 };
	struct hmf_node *top, *h[2];
	int rc, i;

	if (!root)
		root_make();
	rc = hmf_node_open_root(root, &top);
	if (rc < 0) {
		/* someone removed the temporary root: make another */
		root_drop();
		root_make();
		rc = hmf_node_open_root(root, &top);
		FUZZ_CHECK(rc == 0, "open root: %d", rc);
	}
	open_handles(top, h);
	for (i = 0; i < MAX_OPS && in.n > 0; i++)
		run_op(&in, top, h, &md);
	check_load(h[0], &md);
	check_load(h[1], &md);
	check_list(h[0], &md);
	check_list(h[1], &md);
	hmf_node_close(h[0]);
	hmf_node_close(h[1]);
	hmf_node_close(top);
	model_free(&md);
	return 0;
}
