/* SPDX-License-Identifier: MIT */
/*
 * npy.c - NPY headers: the magic, a version, a little-endian length and a
 * Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': ...}.
 * The parser reads exactly that subset of Python literals (strings, ints,
 * True/False, tuples and lists) and refuses anything else. Also the NPY
 * view of an array node: which header it shows, and what writing one
 * does to it (the mount only moves bytes around it).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hmf/error.h"
#include "hmf/node.h"
#include "hmf/npy.h"

static uint32_t le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return le16(p) | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int hmf_npy_header_len(const void *buf, size_t len, size_t *total)
{
	const unsigned char *p = buf;
	size_t n;

	if (len < HMF_NPY_MAGIC_LEN + 2)
		return memcmp(p, HMF_NPY_MAGIC, len < 6 ? len : 6)
			       ? hmf_err(-EINVAL, "not an NPY file (bad magic)")
			       : -EAGAIN;
	if (memcmp(p, HMF_NPY_MAGIC, HMF_NPY_MAGIC_LEN) != 0)
		return hmf_err(-EINVAL, "not an NPY file (bad magic)");
	if (p[7] != 0 || p[6] < 1 || p[6] > 3)
		return hmf_err(-EINVAL, "NPY version %u.%u is not supported",
			       p[6], p[7]);
	if (p[6] == 1) {
		if (len < 10)
			return -EAGAIN;
		n = 10 + le16(p + 8);
	} else {
		if (len < 12)
			return -EAGAIN;
		n = 12 + (size_t)le32(p + 8);
	}
	if (n > HMF_NPY_HEADER_MAX)
		return hmf_err(-EINVAL, "NPY header of %zu bytes is too large",
			       n);
	*total = n;
	return 0;
}

/* A cursor over the header dict. */
struct lex {
	const char *p, *end;
};

static void skip_ws(struct lex *l)
{
	while (l->p < l->end && isspace((unsigned char)*l->p))
		l->p++;
}

static bool eat(struct lex *l, char c)
{
	skip_ws(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return true;
	}
	return false;
}

/* A quoted string ('...' or "...", no escapes) into @buf. */
static bool read_str(struct lex *l, char *buf, size_t size)
{
	const char *s;
	char q;

	skip_ws(l);
	if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
		return false;
	q = *l->p++;
	for (s = l->p; l->p < l->end && *l->p != q; l->p++)
		if (*l->p == '\\')
			return false;
	if (l->p >= l->end || (size_t)(l->p - s) >= size)
		return false;
	memcpy(buf, s, (size_t)(l->p - s));
	buf[l->p - s] = '\0';
	l->p++;
	return true;
}

static bool read_uint(struct lex *l, uint64_t *v)
{
	uint64_t x = 0;
	const char *s;

	skip_ws(l);
	for (s = l->p; l->p < l->end && isdigit((unsigned char)*l->p); l->p++) {
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*l->p - '0');
	}
	if (l->p == s)
		return false;
	/* numpy may write 3L in old files */
	if (l->p < l->end && *l->p == 'L')
		l->p++;
	*v = x;
	return true;
}

static bool read_word(struct lex *l, const char *w)
{
	size_t n = strlen(w);

	skip_ws(l);
	if ((size_t)(l->end - l->p) < n || strncmp(l->p, w, n) != 0)
		return false;
	l->p += n;
	return true;
}

/* "(3, 4)", "(3,)", "()" */
static int read_shape(struct lex *l, struct hmf_npy *n)
{
	uint64_t v;

	if (!eat(l, '('))
		return -EINVAL;
	n->ndim = 0;
	while (!eat(l, ')')) {
		if (n->ndim == HMF_MAX_NDIM || !read_uint(l, &v))
			return -EINVAL;
		n->shape[n->ndim++] = v;
		if (!eat(l, ',')) {
			if (!eat(l, ')'))
				return -EINVAL;
			break;
		}
	}
	return 0;
}

/* [('name', '<i8'), ...]: plain fields only (no nesting, no sub-arrays) */
static int read_fields(struct lex *l, struct hmf_npy *n)
{
	char name[256], descr[HMF_DTYPE_STR_MAX];
	struct hmf_npy_field *f;
	size_t offset = 0;
	int rc;

	while (!eat(l, ']')) {
		if (n->nfields == HMF_NPY_FIELD_MAX || !eat(l, '(') ||
		    !read_str(l, name, sizeof(name)) || !eat(l, ',') ||
		    !read_str(l, descr, sizeof(descr)))
			return hmf_err(
				-EINVAL,
				"NPY: unsupported structured dtype (nested fields, sub-arrays or titles)");
		eat(l, ',');
		if (!eat(l, ')'))
			return hmf_err(
				-EINVAL,
				"NPY: unsupported structured dtype (sub-array fields)");
		f = realloc(n->fields, (n->nfields + 1) * sizeof(*f));
		if (!f)
			return -ENOMEM;
		n->fields = f;
		f = &n->fields[n->nfields];
		rc = hmf_dtype_parse(descr, &f->dtype);
		if (rc < 0)
			return rc;
		f->name = strdup(name[0] ? name : "f");
		if (!f->name)
			return -ENOMEM;
		f->offset = offset;
		offset += f->dtype.itemsize;
		n->nfields++;
		if (!eat(l, ',')) {
			if (!eat(l, ']'))
				return -EINVAL;
			break;
		}
	}
	if (n->nfields == 0)
		return hmf_err(-EINVAL, "NPY: structured dtype without fields");
	snprintf(name, sizeof(name), "|V%zu", offset);
	return hmf_dtype_parse(name, &n->dtype);
}

static int parse_dict(struct lex *l, struct hmf_npy *n)
{
	bool have_descr = false, have_order = false, have_shape = false;
	char key[32], descr[HMF_DTYPE_STR_MAX + 8];
	int rc;

	if (!eat(l, '{'))
		return hmf_err(-EINVAL, "NPY header is not a dict");
	while (!eat(l, '}')) {
		if (!read_str(l, key, sizeof(key)) || !eat(l, ':'))
			return hmf_err(-EINVAL, "NPY header: bad syntax");
		if (strcmp(key, "descr") == 0 && !have_descr) {
			skip_ws(l);
			if (eat(l, '[')) {
				rc = read_fields(l, n);
			} else if (read_str(l, descr, sizeof(descr))) {
				rc = hmf_dtype_parse(descr, &n->dtype);
			} else {
				rc = hmf_err(-EINVAL, "NPY header: bad descr");
			}
			if (rc < 0)
				return rc;
			have_descr = true;
		} else if (strcmp(key, "fortran_order") == 0 && !have_order) {
			if (read_word(l, "True"))
				n->fortran_order = true;
			else if (read_word(l, "False"))
				n->fortran_order = false;
			else
				return hmf_err(-EINVAL,
					       "NPY header: bad fortran_order");
			have_order = true;
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			if (read_shape(l, n) < 0)
				return hmf_err(-EINVAL,
					       "NPY header: bad shape");
			have_shape = true;
		} else {
			return hmf_err(-EINVAL,
				       "NPY header: unexpected key '%s'", key);
		}
		if (!eat(l, ',')) {
			if (!eat(l, '}'))
				return hmf_err(-EINVAL,
					       "NPY header: bad syntax");
			break;
		}
	}
	if (!have_descr || !have_order || !have_shape)
		return hmf_err(
			-EINVAL,
			"NPY header lacks descr, fortran_order or shape");
	skip_ws(l);
	if (l->p != l->end)
		return hmf_err(-EINVAL, "NPY header: bytes after the dict");
	return 0;
}

void hmf_npy_fini(struct hmf_npy *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->nfields; i++)
		free(n->fields[i].name);
	free(n->fields);
	memset(n, 0, sizeof(*n));
}

int hmf_npy_parse(const void *buf, size_t len, struct hmf_npy *out)
{
	const unsigned char *p = buf;
	struct hmf_npy n;
	struct lex l;
	uint64_t nbytes;
	size_t total, start;
	int rc;

	rc = hmf_npy_header_len(buf, len, &total);
	if (rc < 0)
		return rc;
	if (len < total)
		return -EAGAIN;
	memset(&n, 0, sizeof(n));
	n.major = p[6];
	n.minor = p[7];
	n.header_len = total;
	start = n.major == 1 ? 10 : 12;
	if (total <= start || p[total - 1] != '\n') {
		rc = hmf_err(-EINVAL, "NPY header does not end in a newline");
		goto out_fail;
	}
	if (n.major < 3) {
		size_t i;

		for (i = start; i < total; i++)
			if (p[i] >= 0x80) {
				rc = hmf_err(-EINVAL,
					     "NPY %d.0 header is not ASCII",
					     n.major);
				goto out_fail;
			}
	}
	l.p = (const char *)p + start;
	l.end = (const char *)p + total;
	rc = parse_dict(&l, &n);
	if (rc == 0 && hmf_dtype_nbytes(&n.dtype, n.ndim, n.shape, &nbytes) < 0)
		rc = hmf_err(-EINVAL, "NPY header: the array is too large");
	if (rc < 0)
		goto out_fail;
	*out = n;
	return 0;
out_fail:
	hmf_npy_fini(&n);
	return rc;
}

/*
 * hmf_npy_format(), made at least @min bytes long when the version allows
 * (to keep the length of a header that it replaces).
 */
static int format_header(const struct hmf_dtype *dtype, bool fortran, int ndim,
			 const uint64_t *shape, size_t min, char **out,
			 size_t *len)
{
	char dict[HMF_MAX_NDIM * 24 + 128], num[24], *buf;
	size_t off, total, pre, grow = 0, used;
	int i, major = 1;

	off = (size_t)snprintf(
		dict, sizeof(dict),
		"{'descr': '%s', 'fortran_order': %s, 'shape': (", dtype->str,
		fortran ? "True" : "False");
	for (i = 0; i < ndim; i++)
		off += (size_t)snprintf(dict + off, sizeof(dict) - off,
					"%llu%s", (unsigned long long)shape[i],
					ndim == 1 || i < ndim - 1 ? ", " : "");
	/* numpy writes "(3,)" and "(3, 4)" */
	if (ndim == 1)
		off -= 1;
	off += (size_t)snprintf(dict + off, sizeof(dict) - off, "), }");
	/*
	 * numpy leaves room for the growing axis (the first; the last in
	 * Fortran order) to reach 21 digits, so that appending rows can
	 * rewrite the header in place.
	 */
	if (ndim > 0) {
		used = (size_t)snprintf(
			num, sizeof(num), "%llu",
			(unsigned long long)shape[fortran ? ndim - 1 : 0]);
		grow = used < 21 ? 21 - used : 0;
	}
	/* then at least one space, a newline, and a multiple of 64 bytes */
	pre = 10;
	used = pre + off + grow + 1;
	total = used + 64 - used % 64;
	if (total - pre > 65535) {
		major = 2;
		pre = 12;
		used = pre + off + grow + 1;
		total = used + 64 - used % 64;
	}
	if (min > total && (major == 2 || min - pre <= 65535))
		total = min;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, HMF_NPY_MAGIC, HMF_NPY_MAGIC_LEN);
	buf[6] = (char)major;
	buf[7] = 0;
	if (major == 1) {
		buf[8] = (char)((total - 10) & 0xff);
		buf[9] = (char)((total - 10) >> 8);
	} else {
		for (i = 0; i < 4; i++)
			buf[8 + i] = (char)(((total - 12) >> (8 * i)) & 0xff);
	}
	memcpy(buf + pre, dict, off);
	memset(buf + pre + off, ' ', total - pre - off - 1);
	buf[total - 1] = '\n';
	*out = buf;
	*len = total;
	return 0;
}

int hmf_npy_format(const struct hmf_dtype *dtype, bool fortran, int ndim,
		   const uint64_t *shape, char **out, size_t *len)
{
	return format_header(dtype, fortran, ndim, shape, 0, out, len);
}

bool hmf_npy_name(const char *name)
{
	size_t n = strlen(name), i;

	if (n > 4 && strcmp(name + n - 4, ".npy") == 0)
		return true;
	/* rsync's temporary: "." NAME ".npy" "." and six letters or digits */
	if (n < 13 || name[0] != '.' || memcmp(name + n - 11, ".npy.", 5) != 0)
		return false;
	for (i = n - 6; i < n; i++)
		if (!isalnum((unsigned char)name[i]))
			return false;
	return true;
}

/* True when header @h describes exactly @m's dtype, shape and order. */
static bool describes(const struct hmf_npy *h, const struct hmf_meta *m)
{
	return hmf_dtype_equal(&h->dtype, &m->dtype) &&
	       h->fortran_order == (m->order == 'F') && h->ndim == m->ndim &&
	       memcmp(h->shape, m->shape,
		      sizeof(h->shape[0]) * (size_t)h->ndim) == 0;
}

int hmf_npy_header_for(const struct hmf_meta *m, char **out, size_t *len)
{
	struct hmf_npy h;
	size_t min = 0;
	bool fits;
	char *buf;

	if (m->kind != HMF_KIND_ARRAY)
		return hmf_err(-EISDIR, "a group has no NPY header");
	if (m->npy_header) {
		if (hmf_npy_parse(m->npy_header, m->npy_header_len, &h) == 0) {
			fits = h.header_len == m->npy_header_len &&
			       describes(&h, m);
			hmf_npy_fini(&h);
			if (fits) {
				buf = malloc(m->npy_header_len);
				if (!buf)
					return -ENOMEM;
				memcpy(buf, m->npy_header, m->npy_header_len);
				*out = buf;
				*len = m->npy_header_len;
				return 0;
			}
			min = m->npy_header_len;
		}
		/* a stale or damaged header is simply replaced */
		hmf_err_clear();
	}
	return format_header(&m->dtype, m->order == 'F', m->ndim, m->shape, min,
			     out, len);
}

/* A new array's metadata before anything is written: "|u1" [0]. */
static bool is_blank(const struct hmf_meta *m)
{
	return !m->npy_header && strcmp(m->dtype.str, "|u1") == 0 &&
	       m->ndim == 1 && m->shape[0] == 0;
}

int hmf_node_npy_header(struct hmf_node *n, char **out, size_t *len)
{
	struct hmf_meta m;
	int rc;

	if (hmf_node_kind(n) != HMF_KIND_ARRAY)
		return hmf_err(-EISDIR, "a group has no NPY header");
	rc = hmf_node_meta(n, &m);
	if (rc < 0)
		return rc;
	if (is_blank(&m)) {
		*out = NULL;
		*len = 0;
	} else {
		rc = hmf_npy_header_for(&m, out, len);
	}
	hmf_meta_fini(&m);
	return rc;
}

struct set_args {
	struct hmf_node *n;
	const struct hmf_npy *h; /* NULL: empty the array */
	const void *hdr;
	size_t len;
	unsigned flags;
};

static int apply_npy(struct hmf_meta *m, void *arg)
{
	const struct set_args *a = arg;
	uint64_t want = 0;
	char *copy = NULL;
	struct stat st;
	int fd, rc;

	if (a->h) {
		/* the parser checked that it fits an off_t */
		hmf_dtype_nbytes(&a->h->dtype, a->h->ndim, a->h->shape, &want);
		copy = malloc(a->len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, a->hdr, a->len);
		copy[a->len] = '\0';
	}
	rc = hmf_node_data_open(a->n, O_WRONLY, &fd);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	if ((a->flags & HMF_NPY_DISCARD) && ftruncate(fd, 0) < 0)
		rc = -errno;
	/* a header rewritten in place must not touch the data's times */
	if (rc == 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_size != want) &&
	    ftruncate(fd, (off_t)want) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0) {
		free(copy);
		return hmf_err(rc, "cannot resize the data to %llu bytes",
			       (unsigned long long)want);
	}
	free(m->npy_header);
	m->npy_header = copy;
	m->npy_header_len = copy ? a->len : 0;
	if (a->h) {
		m->dtype = a->h->dtype;
		m->ndim = a->h->ndim;
		memcpy(m->shape, a->h->shape, sizeof(m->shape));
		m->order = a->h->fortran_order ? 'F' : 'C';
	} else {
		hmf_dtype_parse("|u1", &m->dtype);
		m->ndim = 1;
		m->shape[0] = 0;
		m->order = 'C';
	}
	return 0;
}

int hmf_node_set_npy(struct hmf_node *n, const void *hdr, size_t len,
		     unsigned flags)
{
	struct set_args a = { n, NULL, hdr, len, flags };
	struct hmf_npy h;
	int rc;

	if (hmf_node_kind(n) != HMF_KIND_ARRAY)
		return hmf_err(-EISDIR, "a group is not an NPY file");
	if (!hdr) {
		if (!(flags & HMF_NPY_DISCARD))
			return hmf_err(-EINVAL, "no NPY header given");
		return hmf_node_update(n, apply_npy, &a);
	}
	rc = hmf_npy_parse(hdr, len, &h);
	if (rc == -EAGAIN)
		return hmf_err(-EINVAL, "truncated NPY header");
	if (rc < 0)
		return rc;
	if (h.header_len != len) {
		rc = hmf_err(-EINVAL,
			     "NPY header of %zu bytes where %zu were expected",
			     h.header_len, len);
	} else {
		a.h = &h;
		rc = hmf_node_update(n, apply_npy, &a);
	}
	hmf_npy_fini(&h);
	return rc;
}

int hmf_node_npy_resize(struct hmf_node *n, uint64_t size)
{
	char *hdr;
	size_t len;
	int rc;

	rc = hmf_node_npy_header(n, &hdr, &len);
	if (rc < 0)
		return rc;
	free(hdr);
	if (size == 0)
		return hmf_node_set_npy(n, NULL, 0, HMF_NPY_DISCARD);
	if (len == 0)
		return hmf_err(
			-EINVAL,
			"an NPY file starts with its header: write it first");
	if (size < len)
		return hmf_err(
			-EINVAL,
			"%llu bytes would cut into the NPY header of %zu bytes",
			(unsigned long long)size, len);
	return hmf_node_resize(n, size - len);
}
