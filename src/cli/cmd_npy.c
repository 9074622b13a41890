/* SPDX-License-Identifier: MIT */
/*
 * cmd_npy.c - "hmf export" and "hmf import": arrays to and from NPY files
 * through the library's one NPY parser and writer (npy.h). Data is never
 * loaded whole: export copies from the array's data file, import creates
 * the array from the file's descriptor (hmf_node_create_fd), so that it
 * appears complete or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define SHAPE_TEXT_MAX (HMF_MAX_NDIM * 21 + 3)

static const char export_help[] =
	"usage: hmf export ROOT:/path OUT.npy\n\n"
	"Write the array at /path as the NPY file OUT.npy ('-': standard\n"
	"output): a header with its dtype, shape and order, then its bytes.\n"
	"The header last written through the mount's NPY view is reused while\n"
	"it still describes the array, so such a file comes back\n"
	"byte-identical; otherwise a version 1.0 header is written, as numpy\n"
	"writes it. An existing OUT.npy is replaced.\n";

static const char import_help[] =
	"usage: hmf import [--force] IN.npy ROOT:/path\n\n"
	"Store the NPY file IN.npy as the array /path (missing parent groups\n"
	"are created): its dtype and shape, order F when the file is in Fortran\n"
	"order, and its bytes, copied before the array appears (readers see it\n"
	"whole or not at all). Structured dtypes are refused. IN.npy must be a\n"
	"regular file holding exactly the bytes its header describes.\n\n"
	"  -f, --force  replace an existing array at /path\n"
	"  -h, --help   show this help\n";

/* Prefix this thread's message with @what (a file name). */
static int about(int rc, const char *what)
{
	char why[1024];

	snprintf(why, sizeof(why), "%s", hmf_errmsg());
	return hmf_err(rc, "%s: %s", what, why[0] ? why : strerrordesc_np(-rc));
}

/* Append "(@text)" to this thread's message. */
static int hint(int rc, const char *text)
{
	char why[1024];

	snprintf(why, sizeof(why), "%s", hmf_errmsg());
	return hmf_err(rc, "%s (%s)", why, text);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write the header for @m, then @size bytes of @dfd, to @out. */
static int write_npy(int out, const struct hmf_meta *m, int dfd, uint64_t size)
{
	char *hdr = NULL;
	size_t hlen;
	int rc;

	/* the same header the mount's NPY view shows */
	rc = hmf_npy_header_for(m, &hdr, &hlen);
	if (rc == 0)
		rc = write_all(out, hdr, hlen);
	free(hdr);
	if (rc == 0)
		rc = cli_copy(out, dfd, 0, size);
	return rc;
}

static int export_array(struct hmf_node *n, const char *path, const char *out)
{
	bool to_stdout = strcmp(out, "-") == 0;
	struct hmf_meta m;
	struct stat st;
	int dfd, ofd = -1, rc;

	if (hmf_node_is_group(n))
		return hmf_err(-EISDIR, "%s: is a group; export takes an array",
			       path);
	rc = hmf_node_data_open(n, O_RDONLY, &dfd);
	if (rc < 0)
		return rc;
	rc = hmf_node_meta(n, &m);
	if (rc < 0)
		goto out_data;
	if (fstat(dfd, &st) < 0) {
		rc = -errno;
		goto out_meta;
	}
	/* describe exactly the bytes about to be copied */
	hmf_meta_derive_shape(&m, (uint64_t)st.st_size);
	ofd = to_stdout ? STDOUT_FILENO
			: open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			       0666);
	if (ofd < 0) {
		rc = hmf_err(-errno, "%s: %s", out, strerrordesc_np(errno));
		goto out_meta;
	}
	rc = write_npy(ofd, &m, dfd, (uint64_t)st.st_size);
	if (rc == -ENODATA)
		rc = hmf_err(-EIO, "%s: the data shrank while exporting", path);
	else if (rc < 0)
		rc = hmf_err(rc, "%s: %s", out, strerrordesc_np(-rc));
	if (!to_stdout) {
		if (close(ofd) < 0 && rc == 0)
			rc = hmf_err(-errno, "%s: %s", out,
				     strerrordesc_np(errno));
		/* no half-written file that looks like an array */
		if (rc < 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
			unlink(out);
	}
out_meta:
	hmf_meta_fini(&m);
out_data:
	close(dfd);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hmf_root *r = NULL;
	struct hmf_node *n = NULL;
	char *path = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (c == 'h') {
			fputs(export_help, stdout);
			return 0;
		}
		return CLI_USAGE;
	}
	if (argc - optind != 2)
		return cli_usage(argv[0], "expects ROOT:/path and OUT.npy");
	rc = cli_target_open(argv[optind], "r", &r, &path);
	if (rc < 0)
		return rc;
	rc = hmf_node_open(r, path, &n);
	if (rc == 0)
		rc = export_array(n, path, argv[optind + 1]);
	hmf_node_close(n);
	hmf_close(r);
	free(path);
	return rc;
}

/* Parse the NPY header of @fd (@size bytes) into @h. */
static int read_header(int fd, uint64_t size, const char *in, struct hmf_npy *h)
{
	unsigned char first[12];
	size_t total, got;
	ssize_t n;
	char *buf;
	int rc;

	n = pread(fd, first, sizeof(first), 0);
	if (n < 0)
		return hmf_err(-errno, "%s: %s", in, strerrordesc_np(errno));
	got = (size_t)n;
	rc = hmf_npy_header_len(first, got, &total);
	if (rc == -EAGAIN)
		return hmf_err(-EINVAL, "%s: too short for an NPY file", in);
	if (rc < 0)
		return about(rc, in);
	if (total > size)
		return hmf_err(-EINVAL, "%s: truncated NPY header", in);
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, total, 0);
	if (n < 0)
		rc = hmf_err(-errno, "%s: %s", in, strerrordesc_np(errno));
	else if ((size_t)n != total)
		rc = hmf_err(-EINVAL, "%s: truncated NPY header", in);
	else if ((rc = hmf_npy_parse(buf, total, h)) < 0)
		rc = about(rc == -EAGAIN ? -EINVAL : rc, in);
	free(buf);
	return rc;
}

/* Check @h against the file's @size and fill @m for the new array. */
static int check_npy(const struct hmf_npy *h, uint64_t size, const char *in,
		     struct hmf_meta *m)
{
	char shape[SHAPE_TEXT_MAX];
	uint64_t nbytes;
	int rc;

	if (h->nfields)
		return hmf_err(
			-EINVAL,
			"%s: structured dtype (%zu fields): import takes plain dtypes only",
			in, h->nfields);
	rc = hmf_dtype_nbytes(&h->dtype, h->ndim, h->shape, &nbytes);
	if (rc < 0)
		return about(rc, in);
	if (size - h->header_len != nbytes) {
		cli_shape_text(shape, sizeof(shape), h->ndim, h->shape);
		return hmf_err(
			-EINVAL,
			"%s: %llu bytes of data after the header, but dtype %s and shape %s need %llu",
			in, (unsigned long long)(size - h->header_len),
			h->dtype.str, shape, (unsigned long long)nbytes);
	}
	hmf_meta_init(m, HMF_KIND_ARRAY);
	m->dtype = h->dtype;
	m->ndim = h->ndim;
	memcpy(m->shape, h->shape, sizeof(m->shape));
	m->order = h->fortran_order ? 'F' : 'C';
	return 0;
}

/* Create array @path of @r from @fd (its data from offset @off). */
static int store(struct hmf_root *r, const char *path, const struct hmf_meta *m,
		 int fd, uint64_t off, bool force)
{
	struct hmf_node *parent;
	char *dir, *name;
	int rc;

	if (strcmp(path, "/") == 0)
		return hmf_err(-EISDIR, "cannot import over the root group");
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	name = strrchr(dir, '/');
	*name++ = '\0';
	rc = hmf_set_group(r, dir[0] ? dir : "/");
	if (rc == 0)
		rc = hmf_node_open(r, dir[0] ? dir : "/", &parent);
	if (rc == 0) {
		rc = hmf_node_create_fd(parent, name, m, fd, off, NULL,
					force ? HMF_CREATE_REPLACE : 0, NULL);
		if (rc == -EEXIST && !force)
			rc = hint(rc, "use --force to replace an array");
		hmf_node_close(parent);
	}
	free(dir);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hmf_root *r = NULL;
	struct hmf_meta m = { 0 };
	struct hmf_npy h = { 0 };
	bool force = false;
	char *path = NULL;
	const char *in;
	struct stat st;
	int c, fd, rc;

	while ((c = cli_getopt(argc, argv, "fh", longopts)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(import_help, stdout);
			return 0;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage(argv[0], "expects IN.npy and ROOT:/path");
	in = argv[optind];
	fd = open(in, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hmf_err(-errno, "%s: %s", in, strerrordesc_np(errno));
	if (fstat(fd, &st) < 0) {
		rc = hmf_err(-errno, "%s: %s", in, strerrordesc_np(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = hmf_err(-EINVAL, "%s: not a regular file", in);
		goto out_close;
	}
	rc = read_header(fd, (uint64_t)st.st_size, in, &h);
	if (rc == 0)
		rc = check_npy(&h, (uint64_t)st.st_size, in, &m);
	if (rc < 0)
		goto out_close;
	rc = cli_target_open(argv[optind + 1], "r+", &r, &path);
	if (rc == 0)
		rc = store(r, path, &m, fd, h.header_len, force);
	hmf_close(r);
	free(path);
out_close:
	hmf_meta_fini(&m);
	hmf_npy_fini(&h);
	close(fd);
	return rc;
}
