/* SPDX-License-Identifier: MIT */
/*
 * xattr.c - extended attributes: "user.<key>" is node attribute <key>;
 * arrays also show their layout as user.hmf.dtype, user.hmf.shape and
 * user.hmf.order (listed, so cp -a and rsync -X carry them) and
 * user.hmf.meta (by name only). Other namespaces are not supported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs.h"

#define USER_PREFIX "user."
#define LAYOUT_PREFIX "hmf."
static const char layout_list[] =
	"user.hmf.dtype\0user.hmf.shape\0user.hmf.order";

/* The attribute key of @name, or NULL when not in the user namespace. */
static const char *user_key(const char *name)
{
	if (strncmp(name, USER_PREFIX, strlen(USER_PREFIX)) != 0)
		return NULL;
	return name + strlen(USER_PREFIX);
}

/* True (and *@part set) when @key names an array's layout. */
static bool layout_key(struct fs_inode *in, const char *key,
		       enum hmf_layout_part *part)
{
	if (hmf_node_is_group(in->node) ||
	    strncmp(key, LAYOUT_PREFIX, strlen(LAYOUT_PREFIX)) != 0)
		return false;
	return hmf_layout_part_from_name(key + strlen(LAYOUT_PREFIX), part) ==
	       0;
}

static void reply_value(fuse_req_t req, const void *val, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_get(d, ino);
	enum hmf_layout_part part;
	const char *key = user_key(name);
	struct hmf_meta m;
	void *val = NULL;
	size_t len = 0;
	int rc;

	atomic_fetch_add(&d->ops, 1);
	if (!key) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (layout_key(in, key, &part)) {
		rc = hmf_node_meta(in->node, &m);
		if (rc == 0) {
			rc = hmf_layout_format(&m, part, (char **)&val);
			hmf_meta_fini(&m);
		}
		if (rc == 0)
			len = strlen(val);
	} else {
		rc = hmf_node_attr_get(in->node, key, &val, &len);
	}
	if (rc < 0) {
		fs_report(d, rc);
		fuse_reply_err(req, -rc);
	} else {
		reply_value(req, val, len, size);
	}
	free(val);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_get(d, ino);
	size_t klen, len = 0, off = 0, extra;
	char *keys, *buf, *k;
	int rc;

	atomic_fetch_add(&d->ops, 1);
	rc = hmf_node_attr_list(in->node, &keys, &klen);
	if (rc < 0) {
		fs_report(d, rc);
		fuse_reply_err(req, -rc);
		return;
	}
	for (k = keys; k < keys + klen; k += strlen(k) + 1)
		len += strlen(USER_PREFIX) + strlen(k) + 1;
	extra = hmf_node_is_group(in->node) ? 0 : sizeof(layout_list);
	buf = malloc(len + extra + 1);
	if (!buf) {
		free(keys);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(buf, layout_list, extra);
	off = extra;
	for (k = keys; k < keys + klen; k += strlen(k) + 1) {
		/* the layout names come first; skip stored duplicates */
		if (extra && strncmp(k, LAYOUT_PREFIX, 4) == 0 &&
		    hmf_layout_part_from_name(
			    k + 4, &(enum hmf_layout_part){ 0 }) == 0)
			continue;
		off += (size_t)sprintf(buf + off, USER_PREFIX "%s", k) + 1;
	}
	reply_value(req, buf, off, size);
	free(buf);
	free(keys);
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_get(d, ino);
	const char *key = user_key(name);
	enum hmf_layout_part part;
	struct hmf_layout l;
	int rc, hflags = 0;

	atomic_fetch_add(&d->ops, 1);
	if (!key) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (layout_key(in, key, &part)) {
		if (flags & XATTR_CREATE) {
			fuse_reply_err(req, EEXIST); /* it always exists */
			return;
		}
		rc = hmf_layout_parse(part, value, size, &l);
		if (rc == 0)
			rc = hmf_node_set_layout(in->node, &l);
		/* the size may have changed: the kernel must ask again */
		if (rc == 0)
			fuse_lowlevel_notify_inval_inode(d->se, ino, 0, 0);
		if (rc == -EINVAL)
			hmf_log(HMF_LOG_INFO, "setxattr %s: %s", name,
				hmf_errmsg());
	} else {
		if (flags & XATTR_CREATE)
			hflags |= HMF_ATTR_CREATE;
		if (flags & XATTR_REPLACE)
			hflags |= HMF_ATTR_REPLACE;
		rc = hmf_node_attr_set(in->node, key, value, size, hflags);
	}
	if (rc == 0 && d->opt.sync)
		rc = hmf_node_fsync(in->node, false);
	fs_report(d, rc);
	fuse_reply_err(req, -rc);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_get(d, ino);
	const char *key = user_key(name);
	enum hmf_layout_part part;
	int rc;

	atomic_fetch_add(&d->ops, 1);
	if (!key) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (layout_key(in, key, &part)) {
		fuse_reply_err(req, EPERM); /* an array always has a layout */
		return;
	}
	rc = hmf_node_attr_remove(in->node, key);
	fs_report(d, rc);
	fuse_reply_err(req, -rc);
}
