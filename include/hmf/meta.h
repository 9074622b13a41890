/* SPDX-License-Identifier: MIT */
/*
 * meta.h - a node's metadata (the JSON file ".hmf" in its directory):
 * kind, dtype, shape, order and attributes. Loading validates everything
 * (a hostile file gives -EIO and a message naming it); saving is atomic
 * (temporary file, then rename) and keeps keys this version does not know.
 * A struct hmf_meta is owned by one thread at a time.
 */
#ifndef HMF_META_H
#define HMF_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

#define HMF_META_FILE ".hmf"
#define HMF_DATA_FILE "data"
#define HMF_FORMAT_VERSION 1
#define HMF_MAX_NDIM 32
/* A .hmf larger than this is refused as hostile. */
#define HMF_META_MAX_BYTES (16u << 20)
/* "user." + key must fit XATTR_NAME_MAX (255). */
#define HMF_ATTR_KEY_MAX 246
#define HMF_ATTR_VALUE_MAX (64u << 10)

enum hmf_kind {
	HMF_KIND_GROUP = 1,
	HMF_KIND_ARRAY = 2,
};

struct hmf_attr {
	char *key;	    /* UTF-8, 1..HMF_ATTR_KEY_MAX bytes */
	unsigned char *val; /* any bytes; NUL-terminated for convenience */
	size_t len;
};

struct hmf_meta {
	enum hmf_kind kind;
	/* arrays only: */
	struct hmf_dtype dtype;
	int ndim;
	uint64_t shape[HMF_MAX_NDIM];
	char order;	  /* 'C' or 'F' */
	char *npy_header; /* NPY view header last written, or NULL */
	size_t npy_header_len;
	/* every node: */
	struct hmf_attr *attrs;
	size_t nattrs;
	char *extra; /* JSON text of unknown keys, or NULL */
};

/* Initialise @m as an empty group (or an empty "|u1" array [0]). */
void hmf_meta_init(struct hmf_meta *m, enum hmf_kind kind);

/* Release what @m owns. Accepts a zeroed struct. */
void hmf_meta_fini(struct hmf_meta *m);

/* Deep copy @src into @dst (uninitialised). Returns 0 or -ENOMEM. */
int hmf_meta_copy(struct hmf_meta *dst, const struct hmf_meta *src);

/*
 * Parse JSON @text of @len bytes into @m (uninitialised). @what names the
 * file in messages. Returns 0, -EIO (malformed, wrong types, bad values),
 * -ENOTSUP (newer format version) or -ENOMEM.
 */
int hmf_meta_parse(const char *text, size_t len, const char *what,
		   struct hmf_meta *m);

/*
 * Serialise @m to a malloc'ed NUL-terminated JSON text in *@out (caller
 * frees). Returns 0 or -ENOMEM.
 */
int hmf_meta_format(const struct hmf_meta *m, char **out);

/*
 * Load "@dirfd/.hmf". @what names the directory in messages. Returns 0,
 * -ENOENT (no .hmf: not a node), -EIO, -ENOTSUP, -ENOMEM or another -errno.
 */
int hmf_meta_load(int dirfd, const char *what, struct hmf_meta *m);

/*
 * Atomically replace "@dirfd/.hmf" with @m: write ".hmf.tmp.<unique>",
 * then rename. With @durable, fsync the file and the directory.
 */
int hmf_meta_save(int dirfd, const struct hmf_meta *m, bool durable);

/*
 * The shape that the data size @size implies (DESIGN section 2): keep the
 * row shape when @size divides into rows, else 1-D of the dtype, else
 * "|u1" of @size bytes. Updates @m's dtype, ndim and shape; returns true
 * when anything changed. 0-d arrays keep their shape only at the exact size.
 */
bool hmf_meta_derive_shape(struct hmf_meta *m, uint64_t size);

/* Find attribute @key; NULL when missing. Borrowed from @m. */
const struct hmf_attr *hmf_meta_attr_get(const struct hmf_meta *m,
					 const char *key);

/*
 * Set attribute @key to @len bytes at @val. @flags: 0, HMF_ATTR_CREATE
 * (fail with -EEXIST if present) or HMF_ATTR_REPLACE (-ENODATA if
 * missing). Returns 0, -EINVAL (bad key), -E2BIG (value over 64 KiB),
 * -ENOMEM.
 */
#define HMF_ATTR_CREATE 1
#define HMF_ATTR_REPLACE 2
int hmf_meta_attr_set(struct hmf_meta *m, const char *key, const void *val,
		      size_t len, int flags);

/* Remove attribute @key. Returns 0 or -ENODATA. */
int hmf_meta_attr_remove(struct hmf_meta *m, const char *key);

/*
 * Parse a JSON list of non-negative integers ("[1000,3]", "[]") of @len
 * bytes into @shape / *@ndim. Returns 0 or -EINVAL.
 */
int hmf_meta_parse_shape(const char *text, size_t len, int *ndim,
			 uint64_t shape[HMF_MAX_NDIM]);

/*
 * Parse a JSON object with any of "dtype" (string), "shape" (list) and
 * "order" ("C"/"F"): each found key sets its *@has_* flag and value.
 * Returns 0 or -EINVAL (bad JSON, unknown key, bad value).
 */
int hmf_meta_parse_layout(const char *text, size_t len, bool *has_dtype,
			  struct hmf_dtype *dtype, bool *has_shape, int *ndim,
			  uint64_t shape[HMF_MAX_NDIM], bool *has_order,
			  char *order);

/* Check an attribute key: 0, or -EINVAL (empty, not UTF-8) / -ERANGE. */
int hmf_attr_key_check(const char *key);

#endif
