/* SPDX-License-Identifier: MIT */
/*
 * cmd_ls.c - "hmf ls" and "hmf tree": the children of a group, one per
 * line (with -l their kind, dtype, shape, bytes and attribute count; with
 * -R every group below, under "PATH:" headers as ls -R prints them), and
 * an ASCII drawing of the tree. Names are listed in byte order; a node
 * that cannot be read is reported on stderr and the listing goes on (exit
 * status 1 at the end, as ls does).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define SHAPE_TEXT_MAX (HMF_MAX_NDIM * 21 + 3)

static const char ls_help[] =
	"usage: hmf ls [-l] [-R] ROOT[:/path]\n\n"
	"List the children of a group (an array lists itself), one name per\n"
	"line, in byte order.\n\n"
	"  -l, --long       columns: kind (group/array), dtype, shape, bytes of\n"
	"                   data, number of attributes, name ('-' where a\n"
	"                   column does not apply to groups)\n"
	"  -R, --recursive  list every group below too, each under a PATH: line\n"
	"  -h, --help       show this help\n";

static const char tree_help[] =
	"usage: hmf tree ROOT[:/path]\n\n"
	"Draw the tree below a group in ASCII: groups end in '/', arrays show\n"
	"their dtype and shape. A last line counts the groups and arrays.\n";

/* One line of "ls -l", as text. */
struct row {
	const char *name; /* borrowed from the dirents */
	const char *kind;
	char dtype[HMF_DTYPE_STR_MAX];
	char shape[SHAPE_TEXT_MAX];
	char bytes[24];
	char nattrs[24];
};

struct ls_opts {
	bool lng, rec;
	bool failed; /* some node could not be read */
};

static int cmp_dirents(const void *a, const void *b)
{
	return strcmp(((const struct hmf_dirent *)a)->name,
		      ((const struct hmf_dirent *)b)->name);
}

/* The children of group @n, sorted by name. */
static int list_sorted(struct hmf_node *n, struct hmf_dirent **ents,
		       size_t *count)
{
	int rc = hmf_node_list(n, ents, count);

	if (rc == 0 && *count > 1)
		qsort(*ents, *count, sizeof(**ents), cmp_dirents);
	return rc;
}

/* Report a node that cannot be read, and go on. */
static void complain(struct ls_opts *o, int rc)
{
	const char *msg = hmf_errmsg();

	fprintf(stderr, "hmf: %s\n", msg[0] ? msg : strerrordesc_np(-rc));
	hmf_err_clear();
	o->failed = true;
}

/* Fill @row for node @n. */
static int fill_row(struct hmf_node *n, struct row *row)
{
	struct hmf_meta m;
	struct stat st;
	int rc;

	rc = hmf_node_meta(n, &m);
	if (rc < 0)
		return rc;
	snprintf(row->nattrs, sizeof(row->nattrs), "%zu", m.nattrs);
	if (m.kind == HMF_KIND_GROUP) {
		row->kind = "group";
		strcpy(row->dtype, "-");
		strcpy(row->shape, "-");
		strcpy(row->bytes, "-");
	} else {
		row->kind = "array";
		snprintf(row->dtype, sizeof(row->dtype), "%s", m.dtype.str);
		cli_shape_text(row->shape, sizeof(row->shape), m.ndim, m.shape);
		rc = hmf_node_stat(n, &st);
		if (rc == 0)
			snprintf(row->bytes, sizeof(row->bytes), "%lld",
				 (long long)st.st_size);
	}
	hmf_meta_fini(&m);
	return rc;
}

static void unknown_row(struct row *row)
{
	row->kind = "?";
	strcpy(row->dtype, "?");
	strcpy(row->shape, "?");
	strcpy(row->bytes, "?");
	strcpy(row->nattrs, "?");
}

static int width(size_t w, const char *s)
{
	size_t n = strlen(s);

	return (int)(n > w ? n : w);
}

static void print_rows(const struct row *rows, size_t n)
{
	int wd = 0, ws = 0, wb = 0, wa = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		wd = width((size_t)wd, rows[i].dtype);
		ws = width((size_t)ws, rows[i].shape);
		wb = width((size_t)wb, rows[i].bytes);
		wa = width((size_t)wa, rows[i].nattrs);
	}
	for (i = 0; i < n; i++) {
		printf("%-5s  %-*s  %-*s  %*s  %*s  ", rows[i].kind, wd,
		       rows[i].dtype, ws, rows[i].shape, wb, rows[i].bytes, wa,
		       rows[i].nattrs);
		cli_print_escaped(stdout, rows[i].name, strlen(rows[i].name),
				  false);
		putchar('\n');
	}
}

/* The last name of @path ("/" for the root). */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

static void ls_group(struct hmf_node *n, const char *path, struct ls_opts *o);

/* List the children of group @n at @path; then, with -R, each subgroup. */
static void ls_group(struct hmf_node *n, const char *path, struct ls_opts *o)
{
	struct hmf_dirent *ents;
	struct hmf_node *child;
	struct row *rows = NULL;
	bool *ok = NULL;
	size_t count, i;
	char *sub;
	int rc;

	if (o->rec) {
		cli_print_escaped(stdout, path, strlen(path), false);
		printf(":\n");
	}
	rc = list_sorted(n, &ents, &count);
	if (rc < 0) {
		complain(o, rc);
		return;
	}
	rows = calloc(count ? count : 1, sizeof(*rows));
	ok = calloc(count ? count : 1, sizeof(*ok));
	if (!rows || !ok) {
		complain(o, hmf_err(-ENOMEM, "out of memory"));
		goto out_free;
	}
	for (i = 0; i < count; i++) {
		rows[i].name = ents[i].name;
		ok[i] = true;
		if (!o->lng)
			continue;
		rc = hmf_node_lookup(n, ents[i].name, &child);
		if (rc == 0) {
			rc = fill_row(child, &rows[i]);
			hmf_node_close(child);
		}
		if (rc < 0) {
			complain(o, rc);
			unknown_row(&rows[i]);
			ok[i] = false;
		}
	}
	if (o->lng) {
		print_rows(rows, count);
	} else {
		for (i = 0; i < count; i++) {
			cli_print_escaped(stdout, ents[i].name,
					  strlen(ents[i].name), false);
			putchar('\n');
		}
	}
	for (i = 0; o->rec && i < count; i++) {
		if (ents[i].kind != HMF_KIND_GROUP || !ok[i])
			continue;
		sub = cli_path_join(path, ents[i].name);
		rc = sub ? hmf_node_lookup(n, ents[i].name, &child) : -ENOMEM;
		if (rc == 0) {
			putchar('\n');
			ls_group(child, sub, o);
			hmf_node_close(child);
		} else {
			complain(o, rc);
		}
		free(sub);
	}
out_free:
	free(ok);
	free(rows);
	hmf_dirents_free(ents, count);
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ls_opts o = { 0 };
	struct hmf_root *r = NULL;
	struct hmf_node *n = NULL;
	struct row row;
	char *path = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "lRh", longopts)) != -1) {
		switch (c) {
		case 'l':
			o.lng = true;
			break;
		case 'R':
			o.rec = true;
			break;
		case 'h':
			fputs(ls_help, stdout);
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
	if (rc < 0)
		goto out_close;
	if (hmf_node_is_group(n)) {
		ls_group(n, path, &o);
	} else if (o.lng) {
		/* like ls of a file: its own line */
		memset(&row, 0, sizeof(row));
		row.name = base_name(path);
		rc = fill_row(n, &row);
		if (rc == 0)
			print_rows(&row, 1);
	} else {
		printf("%s\n", base_name(path));
	}
	if (rc == 0 && o.failed)
		rc = CLI_FAILED;
out_close:
	hmf_node_close(n);
	hmf_close(r);
	free(path);
	return rc;
}

struct tree_state {
	size_t groups, arrays;
	bool failed;
	char prefix[HMF_PATH_MAX * 2];
};

/* "  <i8 [9]" for array @n. */
static int array_label(struct hmf_node *n, char *buf, size_t size)
{
	char shape[SHAPE_TEXT_MAX];
	struct hmf_meta m;
	int rc;

	rc = hmf_node_meta(n, &m);
	if (rc < 0)
		return rc;
	cli_shape_text(shape, sizeof(shape), m.ndim, m.shape);
	snprintf(buf, size, "  %s %s", m.dtype.str, shape);
	hmf_meta_fini(&m);
	return 0;
}

static void tree_children(struct hmf_node *n, struct tree_state *t)
{
	char label[SHAPE_TEXT_MAX + HMF_DTYPE_STR_MAX + 8];
	struct hmf_dirent *ents;
	struct hmf_node *child;
	size_t count, i, len;
	bool last;
	int rc;

	rc = list_sorted(n, &ents, &count);
	if (rc < 0) {
		fprintf(stderr, "hmf: %s\n", hmf_errmsg());
		t->failed = true;
		return;
	}
	for (i = 0; i < count; i++) {
		child = NULL;
		last = i + 1 == count;
		printf("%s%s", t->prefix, last ? "`-- " : "|-- ");
		cli_print_escaped(stdout, ents[i].name, strlen(ents[i].name),
				  false);
		rc = hmf_node_lookup(n, ents[i].name, &child);
		if (rc == 0 && hmf_node_is_group(child)) {
			t->groups++;
			printf("/\n");
			len = strlen(t->prefix);
			if (len + 5 < sizeof(t->prefix)) {
				strcpy(t->prefix + len, last ? "    " : "|   ");
				tree_children(child, t);
				t->prefix[len] = '\0';
			}
		} else if (rc == 0) {
			t->arrays++;
			rc = array_label(child, label, sizeof(label));
			printf("%s\n", rc == 0 ? label : "  ?");
		} else {
			printf("  ?\n");
		}
		if (rc < 0) {
			fprintf(stderr, "hmf: %s\n", hmf_errmsg());
			hmf_err_clear();
			t->failed = true;
		}
		hmf_node_close(child);
	}
	hmf_dirents_free(ents, count);
}

int cmd_tree(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char label[SHAPE_TEXT_MAX + HMF_DTYPE_STR_MAX + 8];
	struct tree_state *t = NULL;
	struct hmf_root *r = NULL;
	struct hmf_node *n = NULL;
	char *path = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (c == 'h') {
			fputs(tree_help, stdout);
			return 0;
		}
		return CLI_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], "expects one ROOT[:/path]");
	rc = cli_target_open(argv[optind], "r", &r, &path);
	if (rc < 0)
		return rc;
	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		goto out_close;
	cli_print_escaped(stdout, path, strlen(path), false);
	if (!hmf_node_is_group(n)) {
		rc = array_label(n, label, sizeof(label));
		if (rc == 0)
			printf("%s\n", label);
		goto out_close;
	}
	printf("\n");
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = -ENOMEM;
		goto out_close;
	}
	tree_children(n, t);
	printf("\n%zu group%s, %zu array%s\n", t->groups,
	       t->groups == 1 ? "" : "s", t->arrays, t->arrays == 1 ? "" : "s");
	rc = t->failed ? CLI_FAILED : 0;
out_close:
	free(t);
	hmf_node_close(n);
	hmf_close(r);
	free(path);
	return rc;
}
