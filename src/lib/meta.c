/* SPDX-License-Identifier: MIT */
/*
 * meta.c - per-node JSON metadata: parse, validate, serialise, load, save.
 * The only file that touches cJSON. Everything read from disk is checked
 * here (types, ranges, dtype, shape overflow), so the rest of the library
 * works on plain structs it can trust.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil_i.h"
#include "hmf/error.h"
#include "hmf/meta.h"
#include "meta_i.h"

static const char *const known_keys[] = { "hmf",       "kind",	"dtype",
					  "shape",     "order", "npy_header",
					  "attributes" };

static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t c;

	while (i < len) {
		unsigned char b = s[i];

		if (b < 0x80) {
			if (b == 0)
				return false;
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			n = 1;
			c = b & 0x1f;
		} else if ((b & 0xf0) == 0xe0) {
			n = 2;
			c = b & 0x0f;
		} else if ((b & 0xf8) == 0xf0) {
			n = 3;
			c = b & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates and values past U+10FFFF */
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) ||
		    (n == 3 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64chars[p[i] >> 2];
		*o++ = b64chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64chars[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = b64chars[p[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64chars[p[i] >> 2];
		if (i + 1 < len) {
			*o++ = b64chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = b64chars[(p[i + 1] & 15) << 2];
		} else {
			*o++ = b64chars[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decode @s; -EINVAL if it is not canonical padded base64. */
static int b64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(s), i, n = 0;
	unsigned char *buf;
	int v[4], k;

	if (len % 4)
		return -EINVAL;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		int pad = 0;

		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = pad ? -1 : b64_value(s[i + k]);
			if (v[k] < 0) {
				free(buf);
				return -EINVAL;
			}
		}
		buf[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			buf[n++] =
				(unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			buf[n++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

int hmf_attr_key_check(const char *key)
{
	size_t len = strlen(key);

	if (len == 0)
		return hmf_err(-EINVAL, "empty attribute key");
	if (len > HMF_ATTR_KEY_MAX)
		return hmf_err(-ERANGE,
			       "attribute key of %zu bytes is over %d bytes",
			       len, HMF_ATTR_KEY_MAX);
	if (!utf8_valid((const unsigned char *)key, len))
		return hmf_err(-EINVAL, "attribute key is not UTF-8");
	return 0;
}

void hmf_meta_init(struct hmf_meta *m, enum hmf_kind kind)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->order = 'C';
	if (kind == HMF_KIND_ARRAY) {
		hmf_dtype_parse("|u1", &m->dtype);
		m->ndim = 1;
	}
}

void hmf_meta_fini(struct hmf_meta *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nattrs; i++) {
		free(m->attrs[i].key);
		free(m->attrs[i].val);
	}
	free(m->attrs);
	free(m->npy_header);
	free(m->extra);
	memset(m, 0, sizeof(*m));
}

static int attr_dup(struct hmf_attr *dst, const char *key, const void *val,
		    size_t len)
{
	dst->key = strdup(key);
	dst->val = malloc(len + 1);
	if (!dst->key || !dst->val) {
		free(dst->key);
		free(dst->val);
		return -ENOMEM;
	}
	if (len)
		memcpy(dst->val, val, len);
	dst->val[len] = '\0';
	dst->len = len;
	return 0;
}

int hmf_meta_copy(struct hmf_meta *dst, const struct hmf_meta *src)
{
	size_t i;

	*dst = *src;
	dst->attrs = NULL;
	dst->nattrs = 0;
	dst->npy_header = NULL;
	dst->extra = NULL;
	if (src->nattrs) {
		dst->attrs = calloc(src->nattrs, sizeof(*dst->attrs));
		if (!dst->attrs)
			goto out_nomem;
	}
	for (i = 0; i < src->nattrs; i++) {
		if (attr_dup(&dst->attrs[i], src->attrs[i].key,
			     src->attrs[i].val, src->attrs[i].len) < 0)
			goto out_nomem;
		dst->nattrs++;
	}
	if (src->npy_header) {
		dst->npy_header = malloc(src->npy_header_len + 1);
		if (!dst->npy_header)
			goto out_nomem;
		memcpy(dst->npy_header, src->npy_header,
		       src->npy_header_len + 1);
	}
	if (src->extra && !(dst->extra = strdup(src->extra)))
		goto out_nomem;
	return 0;
out_nomem:
	hmf_meta_fini(dst);
	return -ENOMEM;
}

static int corrupt(const char *what, const char *why)
{
	int rc = hmf_err(-EIO, "%s: corrupt metadata: %s", what, why);

	return rc;
}

static bool is_known_key(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strcmp(k, known_keys[i]) == 0)
			return true;
	return false;
}

static int parse_shape(const cJSON *shape, const char *what, struct hmf_meta *m)
{
	const cJSON *e;
	uint64_t nbytes;
	int n = 0;

	if (!cJSON_IsArray(shape))
		return corrupt(what, "\"shape\" is not a list");
	cJSON_ArrayForEach(e, shape)
	{
		double v;

		if (n == HMF_MAX_NDIM)
			return corrupt(what,
				       "\"shape\" has over 32 dimensions");
		if (!cJSON_IsNumber(e))
			return corrupt(what, "\"shape\" holds a non-number");
		v = e->valuedouble;
		/* from 2^53 on, a double may hold a neighbour of the text */
		if (!(v >= 0) || v >= 9007199254740992.0 || floor(v) != v)
			return corrupt(
				what,
				"\"shape\" holds a negative, fractional or huge value");
		m->shape[n++] = (uint64_t)v;
	}
	m->ndim = n;
	if (hmf_dtype_nbytes(&m->dtype, n, m->shape, &nbytes) < 0)
		return corrupt(what, "\"shape\" overflows");
	return 0;
}

static int parse_attrs(const cJSON *attrs, const char *what, struct hmf_meta *m)
{
	const cJSON *e;
	int n = cJSON_GetArraySize(attrs), rc;

	if (!cJSON_IsObject(attrs))
		return corrupt(what, "\"attributes\" is not an object");
	if (n == 0)
		return 0;
	m->attrs = calloc((size_t)n, sizeof(*m->attrs));
	if (!m->attrs)
		return -ENOMEM;
	cJSON_ArrayForEach(e, attrs)
	{
		unsigned char *val = NULL;
		size_t len;

		if (!e->string || hmf_attr_key_check(e->string) < 0)
			return corrupt(what, "bad attribute key");
		if (hmf_meta_attr_get(m, e->string))
			return corrupt(what, "duplicate attribute key");
		if (cJSON_IsString(e)) {
			rc = attr_dup(&m->attrs[m->nattrs], e->string,
				      e->valuestring, strlen(e->valuestring));
		} else {
			const cJSON *b =
				cJSON_GetObjectItemCaseSensitive(e, "base64");

			if (!cJSON_IsObject(e) || !cJSON_IsString(b) ||
			    cJSON_GetArraySize(e) != 1)
				return corrupt(
					what,
					"attribute value is neither a string nor {\"base64\": ...}");
			rc = b64_decode(b->valuestring, &val, &len);
			if (rc == -EINVAL)
				return corrupt(what, "bad base64 attribute");
			if (rc == 0) {
				rc = attr_dup(&m->attrs[m->nattrs], e->string,
					      val, len);
				free(val);
			}
		}
		if (rc < 0)
			return rc;
		if (m->attrs[m->nattrs].len > HMF_ATTR_VALUE_MAX) {
			m->nattrs++;
			return corrupt(what, "attribute value over 64 KiB");
		}
		m->nattrs++;
	}
	return 0;
}

static int parse_array(const cJSON *j, const char *what, struct hmf_meta *m)
{
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(j, "dtype");
	const cJSON *order = cJSON_GetObjectItemCaseSensitive(j, "order");
	const cJSON *npy = cJSON_GetObjectItemCaseSensitive(j, "npy_header");
	int rc;

	if (!cJSON_IsString(dtype))
		return corrupt(what, "\"dtype\" is missing or not a string");
	if (hmf_dtype_parse(dtype->valuestring, &m->dtype) < 0)
		return corrupt(what, "unsupported \"dtype\"");
	rc = parse_shape(cJSON_GetObjectItemCaseSensitive(j, "shape"), what, m);
	if (rc < 0)
		return rc;
	m->order = 'C';
	if (order) {
		if (!cJSON_IsString(order) ||
		    (strcmp(order->valuestring, "C") != 0 &&
		     strcmp(order->valuestring, "F") != 0))
			return corrupt(what, "\"order\" is not \"C\" or \"F\"");
		m->order = order->valuestring[0];
	}
	if (npy) {
		/* NPY headers hold NUL bytes: stored as {"base64": ...} */
		const cJSON *b =
			cJSON_GetObjectItemCaseSensitive(npy, "base64");
		unsigned char *val;
		size_t len;

		if (cJSON_IsString(npy)) {
			len = strlen(npy->valuestring);
			val = (unsigned char *)strdup(npy->valuestring);
			rc = val ? 0 : -ENOMEM;
		} else if (cJSON_IsObject(npy) && cJSON_IsString(b) &&
			   cJSON_GetArraySize(npy) == 1) {
			rc = b64_decode(b->valuestring, &val, &len);
		} else {
			rc = -EINVAL;
		}
		if (rc == -EINVAL)
			return corrupt(
				what,
				"\"npy_header\" is neither a string nor {\"base64\": ...}");
		if (rc < 0)
			return rc;
		m->npy_header = (char *)val;
		m->npy_header_len = len;
	}
	return 0;
}

static int collect_extra(const cJSON *j, struct hmf_meta *m)
{
	cJSON *extra = NULL, *copy;
	const cJSON *e;

	cJSON_ArrayForEach(e, j)
	{
		if (!e->string || is_known_key(e->string))
			continue;
		if (!extra && !(extra = cJSON_CreateObject()))
			return -ENOMEM;
		copy = cJSON_Duplicate(e, true);
		if (!copy || !cJSON_AddItemToObject(extra, e->string, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(extra);
			return -ENOMEM;
		}
	}
	if (!extra)
		return 0;
	m->extra = cJSON_PrintUnformatted(extra);
	cJSON_Delete(extra);
	return m->extra ? 0 : -ENOMEM;
}

int hmf_meta_parse(const char *text, size_t len, const char *what,
		   struct hmf_meta *m)
{
	const cJSON *ver, *kind;
	const char *end = NULL;
	cJSON *j;
	int rc;

	memset(m, 0, sizeof(*m));
	j = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!j)
		return corrupt(what, "not valid JSON");
	/*
	 * cJSON stops after the first value; a .hmf is replaced whole, so
	 * anything but whitespace after it means a damaged file.
	 */
	while (end < text + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != text + len) {
		rc = corrupt(what, "bytes after the JSON object");
		goto out_free;
	}
	rc = -EIO;
	if (!cJSON_IsObject(j)) {
		rc = corrupt(what, "not a JSON object");
		goto out_free;
	}
	ver = cJSON_GetObjectItemCaseSensitive(j, "hmf");
	kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
	if (!cJSON_IsNumber(ver) || ver->valuedouble < 1 ||
	    floor(ver->valuedouble) != ver->valuedouble) {
		rc = corrupt(what,
			     "\"hmf\" version is missing or not a number");
		goto out_free;
	}
	if (ver->valuedouble > HMF_FORMAT_VERSION) {
		rc = hmf_err(-ENOTSUP, "%s: format version %g is newer than %d",
			     what, ver->valuedouble, HMF_FORMAT_VERSION);
		goto out_free;
	}
	if (!cJSON_IsString(kind)) {
		rc = corrupt(what, "\"kind\" is missing or not a string");
		goto out_free;
	}
	if (strcmp(kind->valuestring, "group") == 0) {
		m->kind = HMF_KIND_GROUP;
		m->order = 'C';
		rc = 0;
	} else if (strcmp(kind->valuestring, "array") == 0) {
		m->kind = HMF_KIND_ARRAY;
		rc = parse_array(j, what, m);
	} else {
		rc = corrupt(what,
			     "\"kind\" is neither \"group\" nor \"array\"");
	}
	if (rc == 0) {
		const cJSON *attrs =
			cJSON_GetObjectItemCaseSensitive(j, "attributes");

		if (attrs)
			rc = parse_attrs(attrs, what, m);
	}
	if (rc == 0)
		rc = collect_extra(j, m);
out_free:
	cJSON_Delete(j);
	if (rc < 0)
		hmf_meta_fini(m);
	return rc;
}

static cJSON *attr_value_json(const struct hmf_attr *a)
{
	cJSON *obj;
	char *b64;

	if (utf8_valid(a->val, a->len))
		return cJSON_CreateString((const char *)a->val);
	b64 = b64_encode(a->val, a->len);
	if (!b64)
		return NULL;
	obj = cJSON_CreateObject();
	if (obj && !cJSON_AddStringToObject(obj, "base64", b64)) {
		cJSON_Delete(obj);
		obj = NULL;
	}
	free(b64);
	return obj;
}

static int build_json(const struct hmf_meta *m, cJSON *j)
{
	cJSON *attrs, *shape, *v, *extra, *e;
	size_t i;

	if (!cJSON_AddNumberToObject(j, "hmf", HMF_FORMAT_VERSION) ||
	    !cJSON_AddStringToObject(
		    j, "kind", m->kind == HMF_KIND_ARRAY ? "array" : "group"))
		return -ENOMEM;
	if (m->kind == HMF_KIND_ARRAY) {
		char order[2] = { m->order, '\0' };

		if (!cJSON_AddStringToObject(j, "dtype", m->dtype.str))
			return -ENOMEM;
		shape = cJSON_AddArrayToObject(j, "shape");
		if (!shape)
			return -ENOMEM;
		for (i = 0; i < (size_t)m->ndim; i++) {
			char num[24];

			/*
			 * Exact digits: cJSON's own printing of large doubles
			 * may round (9007199254740991 became ...990).
			 */
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)m->shape[i]);
			v = cJSON_CreateRaw(num);
			if (!v || !cJSON_AddItemToArray(shape, v))
				return -ENOMEM;
		}
		if (!cJSON_AddStringToObject(j, "order", order))
			return -ENOMEM;
		if (m->npy_header) {
			struct hmf_attr a = {
				.val = (unsigned char *)m->npy_header,
				.len = m->npy_header_len,
			};

			v = attr_value_json(&a);
			if (!v || !cJSON_AddItemToObject(j, "npy_header", v)) {
				cJSON_Delete(v);
				return -ENOMEM;
			}
		}
	}
	attrs = cJSON_AddObjectToObject(j, "attributes");
	if (!attrs)
		return -ENOMEM;
	for (i = 0; i < m->nattrs; i++) {
		v = attr_value_json(&m->attrs[i]);
		if (!v || !cJSON_AddItemToObject(attrs, m->attrs[i].key, v)) {
			cJSON_Delete(v);
			return -ENOMEM;
		}
	}
	if (!m->extra)
		return 0;
	extra = cJSON_Parse(m->extra);
	if (!extra)
		return -ENOMEM;
	while ((e = extra->child)) {
		cJSON_DetachItemViaPointer(extra, e);
		if (!cJSON_AddItemToObject(j, e->string, e)) {
			cJSON_Delete(e);
			cJSON_Delete(extra);
			return -ENOMEM;
		}
	}
	cJSON_Delete(extra);
	return 0;
}

int hmf_meta_format(const struct hmf_meta *m, char **out)
{
	cJSON *j = cJSON_CreateObject();
	char *text;
	int rc;

	if (!j)
		return -ENOMEM;
	rc = build_json(m, j);
	if (rc == 0) {
		text = cJSON_PrintUnformatted(j);
		if (text)
			*out = text;
		else
			rc = -ENOMEM;
	}
	cJSON_Delete(j);
	return rc;
}

int hmf_meta_load(int dirfd, const char *what, struct hmf_meta *m)
{
	struct stat st;

	return meta_load_stat(dirfd, what, m, &st);
}

int meta_load_stat(int dirfd, const char *what, struct hmf_meta *m,
		   struct stat *stp)
{
	char *text = NULL;
	struct stat st;
	size_t len;
	int fd, rc;

	/* O_NONBLOCK: a FIFO planted as .hmf must not block the loader */
	fd = openat(dirfd, HMF_META_FILE,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			return corrupt(what, ".hmf is a symlink");
		return hmf_err(rc, "%s: cannot open .hmf: %s", what,
			       rc == -ENOENT ? "not an HMF node" : "error");
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = corrupt(what, ".hmf is not a regular file");
		goto out_close;
	}
	if ((uint64_t)st.st_size > HMF_META_MAX_BYTES) {
		rc = corrupt(what, ".hmf is larger than 16 MiB");
		goto out_close;
	}
	rc = fsu_read_all(fd, HMF_META_MAX_BYTES, (size_t)st.st_size, &text,
			  &len);
	if (rc == -EFBIG)
		rc = corrupt(what, ".hmf is larger than 16 MiB");
	if (rc < 0)
		goto out_close;
	rc = hmf_meta_parse(text, len, what, m);
	free(text);
	if (rc == 0)
		*stp = st;
out_close:
	close(fd);
	return rc;
}

int hmf_meta_save(int dirfd, const struct hmf_meta *m, bool durable)
{
	struct stat st;

	return meta_save_stat(dirfd, m, durable, &st);
}

int meta_save_stat(int dirfd, const struct hmf_meta *m, bool durable,
		   struct stat *st)
{
	char tmp[HMF_TMPNAME_LEN];
	char *text;
	int fd, rc;

	rc = hmf_meta_format(m, &text);
	if (rc < 0)
		return rc;
	do {
		fsu_tmpname(tmp);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0644);
	} while (fd < 0 && errno == EEXIST);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = fsu_pwrite_all(fd, text, strlen(text), 0);
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0 && fstat(fd, st) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, HMF_META_FILE) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dirfd, tmp, 0);
		hmf_err(rc, "cannot write metadata: %s",
			rc == -ENOSPC ? "no space left" : "I/O error");
		goto out_free;
	}
	if (durable) {
		int dfd =
			openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			if (fsync(dfd) < 0)
				rc = -errno;
			close(dfd);
		}
	}
out_free:
	free(text);
	return rc;
}

int meta_write_new(int dirfd, const struct hmf_meta *m, struct stat *st)
{
	char *text;
	int fd, rc;

	rc = hmf_meta_format(m, &text);
	if (rc < 0)
		return rc;
	fd = openat(dirfd, HMF_META_FILE,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = fsu_pwrite_all(fd, text, strlen(text), 0);
	if (rc == 0 && fstat(fd, st) < 0)
		rc = -errno;
	close(fd);
out_free:
	free(text);
	return rc;
}

bool hmf_meta_derive_shape(struct hmf_meta *m, uint64_t size)
{
	uint64_t row = m->dtype.itemsize, want;
	int i, first = m->order == 'F' ? m->ndim - 1 : 0;

	if (m->kind != HMF_KIND_ARRAY)
		return false;
	if (hmf_dtype_nbytes(&m->dtype, m->ndim, m->shape, &want) == 0 &&
	    want == size)
		return false;
	/* row bytes: every dimension but the leading one (last in F order) */
	for (i = 0; i < m->ndim; i++)
		if (i != first) {
			if (m->shape[i] && row > UINT64_MAX / m->shape[i]) {
				row = 0;
				break;
			}
			row *= m->shape[i];
		}
	if (m->ndim >= 1 && row > 0 && size % row == 0) {
		m->shape[first] = size / row;
		return true;
	}
	if (size % m->dtype.itemsize == 0) {
		m->ndim = 1;
		m->shape[0] = size / m->dtype.itemsize;
		return true;
	}
	hmf_dtype_parse("|u1", &m->dtype);
	m->ndim = 1;
	m->shape[0] = size;
	return true;
}

const struct hmf_attr *hmf_meta_attr_get(const struct hmf_meta *m,
					 const char *key)
{
	size_t i;

	for (i = 0; i < m->nattrs; i++)
		if (strcmp(m->attrs[i].key, key) == 0)
			return &m->attrs[i];
	return NULL;
}

int hmf_meta_attr_set(struct hmf_meta *m, const char *key, const void *val,
		      size_t len, int flags)
{
	struct hmf_attr *a = (struct hmf_attr *)hmf_meta_attr_get(m, key), na;
	int rc;

	rc = hmf_attr_key_check(key);
	if (rc < 0)
		return rc;
	if (len > HMF_ATTR_VALUE_MAX)
		return hmf_err(
			-E2BIG,
			"attribute '%s': value of %zu bytes is over 64 KiB",
			key, len);
	if (a && (flags & HMF_ATTR_CREATE))
		return hmf_err(-EEXIST, "attribute '%s' exists", key);
	if (!a && (flags & HMF_ATTR_REPLACE))
		return hmf_err(-ENODATA, "no attribute '%s'", key);
	rc = attr_dup(&na, key, val, len);
	if (rc < 0)
		return rc;
	if (a) {
		free(a->key);
		free(a->val);
		*a = na;
		return 0;
	}
	a = realloc(m->attrs, (m->nattrs + 1) * sizeof(*a));
	if (!a) {
		free(na.key);
		free(na.val);
		return -ENOMEM;
	}
	m->attrs = a;
	m->attrs[m->nattrs++] = na;
	return 0;
}

int hmf_meta_attr_remove(struct hmf_meta *m, const char *key)
{
	struct hmf_attr *a = (struct hmf_attr *)hmf_meta_attr_get(m, key);
	size_t i;

	if (!a)
		return hmf_err(-ENODATA, "no attribute '%s'", key);
	i = (size_t)(a - m->attrs);
	free(a->key);
	free(a->val);
	memmove(a, a + 1, (m->nattrs - i - 1) * sizeof(*a));
	m->nattrs--;
	return 0;
}

/*
 * Parse @len bytes that must be one JSON value and nothing else but white
 * space (cJSON alone stops after the first value); NULL otherwise.
 */
static cJSON *parse_whole(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);

	while (j && end < text + len && strchr(" \t\r\n", *end) && *end)
		end++;
	if (j && end != text + len) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int shape_from_json(const cJSON *j, int *ndim,
			   uint64_t shape[HMF_MAX_NDIM])
{
	struct hmf_meta m;
	int rc;

	/* the same checks as a shape read from disk, minus the overflow */
	memset(&m, 0, sizeof(m));
	hmf_dtype_parse("|u1", &m.dtype);
	rc = parse_shape(j, "shape", &m);
	if (rc < 0)
		return hmf_err(
			-EINVAL,
			"bad shape: want a list of at most 32 non-negative integers");
	*ndim = m.ndim;
	memcpy(shape, m.shape, sizeof(m.shape[0]) * (size_t)m.ndim);
	return 0;
}

int hmf_meta_parse_shape(const char *text, size_t len, int *ndim,
			 uint64_t shape[HMF_MAX_NDIM])
{
	cJSON *j = parse_whole(text, len);
	int rc;

	if (!j)
		return hmf_err(-EINVAL, "bad shape: not a JSON list");
	rc = shape_from_json(j, ndim, shape);
	cJSON_Delete(j);
	return rc;
}

int hmf_meta_parse_layout(const char *text, size_t len, bool *has_dtype,
			  struct hmf_dtype *dtype, bool *has_shape, int *ndim,
			  uint64_t shape[HMF_MAX_NDIM], bool *has_order,
			  char *order)
{
	cJSON *j = parse_whole(text, len);
	const cJSON *e;
	int rc = 0;

	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return hmf_err(-EINVAL, "bad layout: not a JSON object");
	}
	cJSON_ArrayForEach(e, j)
	{
		if (strcmp(e->string, "dtype") == 0 && cJSON_IsString(e)) {
			rc = hmf_dtype_parse(e->valuestring, dtype);
			*has_dtype = rc == 0;
		} else if (strcmp(e->string, "shape") == 0) {
			rc = shape_from_json(e, ndim, shape);
			*has_shape = rc == 0;
		} else if (strcmp(e->string, "order") == 0 &&
			   cJSON_IsString(e) &&
			   (strcmp(e->valuestring, "C") == 0 ||
			    strcmp(e->valuestring, "F") == 0)) {
			*order = e->valuestring[0];
			*has_order = true;
		} else {
			rc = hmf_err(-EINVAL, "bad layout key '%s'", e->string);
		}
		if (rc < 0)
			break;
	}
	cJSON_Delete(j);
	return rc;
}
