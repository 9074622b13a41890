/* SPDX-License-Identifier: MIT */
/*
 * cmd_info.c - "hmf info": one node in detail, for humans ("key: value"
 * lines, attribute values quoted with C escapes so that any bytes show)
 * or as one JSON object (--json; printed by hand, values that are not
 * UTF-8 as {"base64": ...} like the on-disk format). An array's shape is
 * the one its data size implies; a stale stored shape is pointed out.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define SHAPE_TEXT_MAX (HMF_MAX_NDIM * 21 + 3)

static const char info_help[] =
	"usage: hmf info [--json] ROOT[:/path]\n\n"
	"Show one node: its path and kind; for an array its dtype, shape (as\n"
	"the data size implies it), order (C or F) and bytes of data; for a\n"
	"group its number of children; then its attributes with their values\n"
	"(quoted, bytes that are not printable UTF-8 as C escapes).\n\n"
	"  -j, --json   print one JSON object instead: {\"path\", \"kind\",\n"
	"               \"dtype\", \"shape\", \"order\", \"bytes\" | \"children\",\n"
	"               \"attributes\"}; a value that is not UTF-8 is\n"
	"               {\"base64\": \"...\"}\n"
	"  -h, --help   show this help\n";

/* What info prints about a node. */
struct facts {
	struct hmf_meta m; /* shape derived from the data size */
	uint64_t bytes;	   /* arrays */
	size_t children;   /* groups */
	bool stale;	   /* the stored shape differs from the derived one */
	char stored[SHAPE_TEXT_MAX + HMF_DTYPE_STR_MAX + 2];
};

static int gather(struct hmf_node *n, struct facts *f)
{
	struct hmf_dirent *ents;
	struct hmf_meta stored;
	struct stat st;
	char shape[SHAPE_TEXT_MAX];
	int rc;

	rc = hmf_node_meta(n, &f->m);
	if (rc < 0)
		return rc;
	if (f->m.kind == HMF_KIND_GROUP) {
		rc = hmf_node_list(n, &ents, &f->children);
		if (rc == 0)
			hmf_dirents_free(ents, f->children);
		return rc;
	}
	rc = hmf_node_stat(n, &st);
	if (rc < 0)
		return rc;
	f->bytes = (uint64_t)st.st_size;
	/* the metadata as stored, to point out a stale shape */
	if (hmf_meta_load(hmf_node_fd(n), "", &stored) == 0) {
		f->stale = stored.ndim != f->m.ndim ||
			   !hmf_dtype_equal(&stored.dtype, &f->m.dtype) ||
			   memcmp(stored.shape, f->m.shape,
				  sizeof(stored.shape[0]) *
					  (size_t)stored.ndim) != 0;
		cli_shape_text(shape, sizeof(shape), stored.ndim, stored.shape);
		snprintf(f->stored, sizeof(f->stored), "%s %s",
			 stored.dtype.str, shape);
		hmf_meta_fini(&stored);
	}
	hmf_err_clear();
	return 0;
}

static void print_human(const char *path, const struct facts *f)
{
	const struct hmf_meta *m = &f->m;
	char shape[SHAPE_TEXT_MAX];
	size_t i;

	printf("path:       ");
	cli_print_escaped(stdout, path, strlen(path), false);
	printf("\n");
	if (m->kind == HMF_KIND_GROUP) {
		printf("kind:       group\n");
		printf("children:   %zu\n", f->children);
	} else {
		cli_shape_text(shape, sizeof(shape), m->ndim, m->shape);
		printf("kind:       array\n");
		printf("dtype:      %s\n", m->dtype.str);
		printf("shape:      %s\n", shape);
		printf("order:      %c\n", m->order);
		printf("bytes:      %llu\n", (unsigned long long)f->bytes);
		if (f->stale)
			printf("stored:     %s (does not match the data; 'hmf fsck --repair' stores the shape above)\n",
			       f->stored);
	}
	printf("attributes: %zu\n", m->nattrs);
	for (i = 0; i < m->nattrs; i++) {
		printf("  ");
		cli_print_escaped(stdout, m->attrs[i].key,
				  strlen(m->attrs[i].key), false);
		printf(" = ");
		cli_print_escaped(stdout, m->attrs[i].val, m->attrs[i].len,
				  true);
		printf("\n");
	}
}

static void print_json(const char *path, const struct facts *f)
{
	const struct hmf_meta *m = &f->m;
	size_t i;
	int d;

	printf("{\"path\":");
	cli_json_string(stdout, path, strlen(path));
	if (m->kind == HMF_KIND_GROUP) {
		printf(",\"kind\":\"group\",\"children\":%zu", f->children);
	} else {
		printf(",\"kind\":\"array\",\"dtype\":");
		cli_json_string(stdout, m->dtype.str, strlen(m->dtype.str));
		printf(",\"shape\":[");
		for (d = 0; d < m->ndim; d++)
			printf("%s%llu", d ? "," : "",
			       (unsigned long long)m->shape[d]);
		printf("],\"order\":\"%c\",\"bytes\":%llu", m->order,
		       (unsigned long long)f->bytes);
	}
	printf(",\"attributes\":{");
	for (i = 0; i < m->nattrs; i++) {
		if (i)
			putchar(',');
		cli_json_string(stdout, m->attrs[i].key,
				strlen(m->attrs[i].key));
		putchar(':');
		cli_json_bytes(stdout, m->attrs[i].val, m->attrs[i].len);
	}
	printf("}}\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct facts f = { 0 };
	struct hmf_root *r = NULL;
	struct hmf_node *n = NULL;
	char *path = NULL;
	bool json = false;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "jh", longopts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(info_help, stdout);
			return 0;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], "expects one ROOT[:/path]");
	rc = cli_target_open(argv[optind], "r", &r, &path);
	if (rc < 0)
		return rc;
	rc = hmf_node_open(r, path, &n);
	if (rc == 0)
		rc = gather(n, &f);
	if (rc == 0) {
		if (json)
			print_json(path, &f);
		else
			print_human(path, &f);
	}
	hmf_meta_fini(&f.m);
	hmf_node_close(n);
	hmf_close(r);
	free(path);
	return rc;
}
