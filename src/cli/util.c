/* SPDX-License-Identifier: MIT */
/*
 * util.c - helpers of the hmf tool: option parsing with messages that go
 * through hmf_err(), ROOT:/path arguments, escaping bytes for terminals
 * and for JSON (by hand: the CLI does not include cJSON), copying data.
 * No format logic here: anything about the on-disk layout is libhmf's.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define COPY_CHUNK (1u << 20)

int cli_usage(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hmf_err(-EINVAL, "%s: %s", cmd, msg);
	return CLI_USAGE;
}

int cli_getopt(int argc, char **argv, const char *optstring,
	       const struct option *longopts)
{
	char spec[64];
	bool plus = optstring[0] == '+';
	int c;

	/* a leading ':' (after '+') makes a missing value return ':' */
	snprintf(spec, sizeof(spec), "%s:%s", plus ? "+" : "",
		 optstring + plus);
	opterr = 0;
	c = getopt_long(argc, argv, spec, longopts, NULL);
	if (c == '?') {
		if (optopt)
			cli_usage(argv[0], "unknown option '-%c'", optopt);
		else
			cli_usage(argv[0], "unknown option '%s'",
				  argv[optind - 1]);
	} else if (c == ':') {
		if (argv[optind - 1][1] == '-')
			cli_usage(argv[0], "option '%s' needs a value",
				  argv[optind - 1]);
		else
			cli_usage(argv[0], "option '-%c' needs a value",
				  optopt);
		c = '?';
	}
	return c;
}

/* @path with repeated and trailing slashes dropped, malloc'ed. */
static int normalize(const char *path, char **out)
{
	const char *names[HMF_PATH_MAX / 2];
	char buf[HMF_PATH_MAX], *s;
	size_t off = 0;
	int n, i;

	n = hmf_path_split(path, buf, sizeof(buf), names, HMF_PATH_MAX / 2);
	if (n < 0)
		return n;
	s = malloc(strlen(path) + 2);
	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(s + off, "/%s", names[i]);
	if (n == 0)
		strcpy(s, "/");
	*out = s;
	return 0;
}

int cli_target_split(const char *arg, char **root, char **path)
{
	const char *p;
	size_t n = strlen(arg);
	char *r;
	int rc;

	for (p = arg; (p = strchr(p, ':')); p++)
		if (p[1] == '/' || p[1] == '\0') {
			n = (size_t)(p - arg);
			break;
		}
	if (n == 0)
		return hmf_err(-EINVAL, "'%s': no ROOT before the ':'", arg);
	rc = normalize(p && p[1] ? p + 1 : "/", path);
	if (rc < 0)
		return rc;
	r = strndup(arg, n);
	if (!r) {
		free(*path);
		return -ENOMEM;
	}
	*root = r;
	return 0;
}

int cli_target_open(const char *arg, const char *mode, struct hmf_root **r,
		    char **path)
{
	char *root, *p;
	int rc;

	rc = cli_target_split(arg, &root, &p);
	if (rc < 0)
		return rc;
	rc = hmf_open(root, mode, r);
	free(root);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*path = p;
	return 0;
}

char *cli_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", strcmp(dir, "/") ? dir : "", name);
	return s;
}

/* Length of the valid UTF-8 sequence (no NUL) at @s, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, k;
	uint32_t c;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF */
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && c < 0x10000) || (c >= 0xd800 && c <= 0xdfff) ||
	    c > 0x10ffff)
		return 0;
	return n;
}

bool cli_utf8_valid(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void cli_print_escaped(FILE *f, const void *s, size_t len, bool quote)
{
	const unsigned char *p = s;
	size_t i = 0, n;

	if (quote)
		fputc('"', f);
	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n > 1) {
			fwrite(p + i, 1, n, f);
			i += n;
			continue;
		}
		if (n == 1 && p[i] == '\\')
			fputs("\\\\", f);
		else if (n == 1 && p[i] == '"' && quote)
			fputs("\\\"", f);
		else if (n == 1 && p[i] == '\n')
			fputs("\\n", f);
		else if (n == 1 && p[i] == '\t')
			fputs("\\t", f);
		else if (n == 1 && p[i] == '\r')
			fputs("\\r", f);
		else if (n == 1 && p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
		i++;
	}
	if (quote)
		fputc('"', f);
}

void cli_json_string(FILE *f, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n > 1) {
			fwrite(p + i, 1, n, f);
			i += n;
			continue;
		}
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] == '\r')
			fputs("\\r", f);
		else if (n == 1 && p[i] >= 0x20)
			fputc(p[i], f);
		else /* control characters, and invalid bytes as Latin-1 */
			fprintf(f, "\\u%04x", p[i]);
		i++;
	}
	fputc('"', f);
}

void cli_json_bytes(FILE *f, const void *s, size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = s;
	uint32_t v;
	size_t i;

	if (cli_utf8_valid(s, len)) {
		cli_json_string(f, s, len);
		return;
	}
	/* the on-disk convention of DESIGN section 2 */
	fputs("{\"base64\":\"", f);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		fprintf(f, "%c%c%c%c", b64[v >> 18], b64[(v >> 12) & 63],
			b64[(v >> 6) & 63], b64[v & 63]);
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		fprintf(f, "%c%c==", b64[v >> 18], b64[(v >> 12) & 63]);
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		fprintf(f, "%c%c%c=", b64[v >> 18], b64[(v >> 12) & 63],
			b64[(v >> 6) & 63]);
	}
	fputs("\"}", f);
}

void cli_shape_text(char *buf, size_t size, int ndim, const uint64_t *shape)
{
	size_t off = 1;
	int i;

	snprintf(buf, size, "[");
	for (i = 0; i < ndim && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%llu",
					i ? "," : "",
					(unsigned long long)shape[i]);
	if (off < size)
		snprintf(buf + off, size - off, "]");
}

int cli_read_file(const char *path, size_t max, char **out, size_t *len)
{
	bool is_stdin = strcmp(path, "-") == 0;
	size_t n = 0, cap = 4096;
	char *buf, *p;
	ssize_t got;
	int fd, rc = 0;

	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hmf_err(-errno, "%s: %s", path, strerrordesc_np(errno));
	buf = malloc(cap + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				rc = hmf_err(-E2BIG, "%s: more than %zu bytes",
					     path, max);
				break;
			}
			cap *= 2;
			p = realloc(buf, cap + 1);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = hmf_err(-errno, "%s: %s", path,
				     strerrordesc_np(errno));
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (rc == 0 && n > max)
		rc = hmf_err(-E2BIG, "%s: more than %zu bytes", path, max);
	if (rc < 0) {
		free(buf);
		goto out_close;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
out_close:
	if (!is_stdin)
		close(fd);
	return rc;
}

/* Through a buffer: any pair of descriptors. */
static int copy_buffered(int dst, int src, off_t in, uint64_t len)
{
	char *buf = malloc(COPY_CHUNK);
	ssize_t n, w;
	size_t done;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (len > 0 && rc == 0) {
		n = pread(src, buf, len < COPY_CHUNK ? (size_t)len : COPY_CHUNK,
			  in);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -ENODATA;
			break;
		}
		for (done = 0; done < (size_t)n && rc == 0; done += (size_t)w) {
			w = write(dst, buf + done, (size_t)n - done);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				rc = -errno;
		}
		in += n;
		len -= (uint64_t)n;
	}
	free(buf);
	return rc;
}

static bool try_another_way(int err)
{
	return err == EXDEV || err == EINVAL || err == ENOSYS ||
	       err == EOPNOTSUPP || err == EBADF;
}

int cli_copy(int dst, int src, uint64_t off, uint64_t len)
{
	off_t in = (off_t)off;
	ssize_t n;
	size_t chunk;

	/* in the kernel: reflinks and server-side copies where possible */
	while (len > 0) {
		chunk = len < (1u << 30) ? (size_t)len : 1u << 30;
		n = copy_file_range(src, &in, dst, NULL, chunk, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && try_another_way(errno))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		len -= (uint64_t)n;
	}
	/* sendfile() also writes to pipes (hmf export ... - | ...) */
	while (len > 0) {
		chunk = len < (1u << 30) ? (size_t)len : 1u << 30;
		n = sendfile(dst, src, &in, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && try_another_way(errno))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		len -= (uint64_t)n;
	}
	return len > 0 ? copy_buffered(dst, src, in, len) : 0;
}
