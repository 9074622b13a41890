/* SPDX-License-Identifier: MIT */
/*
 * getting_started.c - the seed's "Getting started" in C: build a small
 * root, read it back through memory maps, and show that mode "r" refuses
 * writes. Usage: getting_started [ROOT] (default "myRoot").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmf.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "%s failed: %s (%s)\n", what, strerror(-rc),
		hmf_errmsg());
	return 1;
}

static void print_view(const char *path, const struct hmf_view *v)
{
	const int64_t *x = v->data;
	uint64_t i;

	printf("%s: dtype %s shape [", path, v->dtype.str);
	for (i = 0; i < (uint64_t)v->ndim; i++)
		printf("%s%" PRIu64, i ? ", " : "", v->shape[i]);
	printf("] values");
	for (i = 0; i < v->nbytes / sizeof(*x); i++)
		printf(" %" PRId64, x[i]);
	printf("\n");
}

static void print_tree(struct hmf_root *r, const char *path, int depth)
{
	struct hmf_dirent *e;
	size_t n, i;
	char sub[HMF_PATH_MAX];

	if (hmf_list(r, path, &e, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		printf("%*s%s%s\n", 2 * depth + 2, "", e[i].name,
		       e[i].kind == HMF_KIND_GROUP ? "/" : "");
		snprintf(sub, sizeof(sub), "%s%s%s", path,
			 strcmp(path, "/") ? "/" : "", e[i].name);
		if (e[i].kind == HMF_KIND_GROUP)
			print_tree(r, sub, depth + 1);
	}
	hmf_dirents_free(e, n);
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "myRoot";
	int64_t arange[9];
	uint64_t shape[1] = { 9 };
	struct hmf_root *r;
	struct hmf_view v;
	char *val;
	int i, rc;

	for (i = 0; i < 9; i++)
		arange[i] = i;

	/* write */
	rc = hmf_open(root, "w+", &r);
	if (rc < 0)
		return fail("hmf_open w+", rc);
	if ((rc = hmf_set_group(r, "/groupA")) < 0)
		return fail("set_group /groupA", rc);
	if ((rc = hmf_set_group(r, "/group1/groupA/groupZ")) < 0)
		return fail("set_group /group1/groupA/groupZ", rc);
	if ((rc = hmf_set_array(r, "/groupA/array1", "int64", 1, shape,
				arange)) < 0)
		return fail("set_array", rc);
	if ((rc = hmf_get_array(r, "/groupA/array1", HMF_VIEW_RDONLY, &v)) < 0)
		return fail("get_array", rc);
	print_view("/groupA/array1", &v);
	hmf_view_fini(&v);
	if ((rc = hmf_set_node_attr(r, "/groupA", "someAttribute",
				    "attributeValue", 14)) < 0)
		return fail("set_node_attr", rc);
	if ((rc = hmf_get_node_attr(r, "/groupA", "someAttribute", &val,
				    NULL)) < 0)
		return fail("get_node_attr", rc);
	printf("/groupA someAttribute = %s\n", val);
	free(val);
	hmf_close(r);

	/* read back in mode r+ */
	rc = hmf_open(root, "r+", &r);
	if (rc < 0)
		return fail("hmf_open r+", rc);
	printf("tree of %s:\n", root);
	print_tree(r, "/", 0);
	if ((rc = hmf_get_array(r, "/groupA/array1", HMF_VIEW_RDWR, &v)) < 0)
		return fail("get_array r+", rc);
	print_view("/groupA/array1 (r+)", &v);
	hmf_view_fini(&v);
	if ((rc = hmf_get_node_attr(r, "/groupA", "someAttribute", &val,
				    NULL)) < 0)
		return fail("get_node_attr r+", rc);
	printf("/groupA someAttribute = %s (r+)\n", val);
	free(val);
	hmf_close(r);

	/* mode r refuses writes */
	rc = hmf_open(root, "r", &r);
	if (rc < 0)
		return fail("hmf_open r", rc);
	rc = hmf_set_group(r, "/groupB");
	printf("mode r: set_group -> %s (%s)\n", strerror(-rc), hmf_errmsg());
	hmf_close(r);
	return rc == -EROFS ? 0 : 1;
}
