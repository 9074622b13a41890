/* SPDX-License-Identifier: MIT */
/*
 * cmd_attr.c - "hmf attr get|set|rm|list": a node's attributes. Values
 * are bytes: get prints them unchanged (plus a newline unless --raw), set
 * takes them from the command line or from a file (-f, "-" for standard
 * input), so any bytes can go in and come out.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char attr_help[] =
	"usage: hmf attr list ROOT[:/path]\n"
	"       hmf attr get [--raw] ROOT[:/path] KEY\n"
	"       hmf attr set ROOT[:/path] KEY VALUE\n"
	"       hmf attr set -f FILE ROOT[:/path] KEY\n"
	"       hmf attr rm ROOT[:/path] KEY\n\n"
	"Attributes of a node: KEY is UTF-8 (1..246 bytes), a value is any\n"
	"bytes up to 64 KiB. list prints the keys, one per line; get prints\n"
	"the value as stored, then a newline; set creates or replaces; rm\n"
	"removes (a missing key is an error). Options come before ROOT.\n\n"
	"  -r, --raw        get: no newline after the value (exact bytes)\n"
	"  -f, --file FILE  set: the value is the contents of FILE ('-': stdin)\n"
	"  -h, --help       show this help\n";

enum verb { ATTR_LIST, ATTR_GET, ATTR_SET, ATTR_RM };

static int attr_list(struct hmf_node *n)
{
	size_t len, off, k;
	char *keys;
	int rc;

	rc = hmf_node_attr_list(n, &keys, &len);
	if (rc < 0)
		return rc;
	for (off = 0; off < len; off += k + 1) {
		k = strlen(keys + off);
		cli_print_escaped(stdout, keys + off, k, false);
		putchar('\n');
	}
	free(keys);
	return 0;
}

static int attr_get(struct hmf_node *n, const char *key, bool raw)
{
	size_t len;
	void *val;
	int rc;

	rc = hmf_node_attr_get(n, key, &val, &len);
	if (rc < 0)
		return rc;
	fwrite(val, 1, len, stdout);
	if (!raw)
		putchar('\n');
	free(val);
	return 0;
}

static int attr_set(struct hmf_node *n, const char *key, const char *value,
		    const char *file)
{
	char *buf;
	size_t len;
	int rc;

	if (!file)
		return hmf_node_attr_set(n, key, value, strlen(value), 0);
	rc = cli_read_file(file, HMF_ATTR_VALUE_MAX, &buf, &len);
	if (rc < 0)
		return rc;
	rc = hmf_node_attr_set(n, key, buf, len, 0);
	free(buf);
	return rc;
}

static int parse_verb(const char *s, enum verb *v)
{
	if (strcmp(s, "list") == 0 || strcmp(s, "ls") == 0)
		*v = ATTR_LIST;
	else if (strcmp(s, "get") == 0)
		*v = ATTR_GET;
	else if (strcmp(s, "set") == 0)
		*v = ATTR_SET;
	else if (strcmp(s, "rm") == 0 || strcmp(s, "remove") == 0)
		*v = ATTR_RM;
	else
		return -EINVAL;
	return 0;
}

int cmd_attr(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "raw", no_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* operands after ROOT[:/path] that each verb takes */
	static const int min_args[] = { 0, 1, 1, 1 },
			 max_args[] = { 0, 1, 2, 1 };
	const char *file = NULL, *key, *value;
	struct hmf_root *r = NULL;
	struct hmf_node *n = NULL;
	bool raw = false;
	char *path = NULL, name[32];
	enum verb v;
	int c, rc, nargs;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(attr_help, stdout);
		return 0;
	}
	if (argc < 2)
		return cli_usage(argv[0], "expects get, set, rm or list");
	if (parse_verb(argv[1], &v) < 0)
		return cli_usage(argv[0],
				 "unknown action '%s' (get, set, rm or list)",
				 argv[1]);
	snprintf(name, sizeof(name), "attr %s", argv[1]);
	argc--;
	argv++;
	argv[0] = name; /* for messages: "attr get: ..." */
	/* "+": a VALUE may start with '-' once ROOT has been given */
	while ((c = cli_getopt(argc, argv, "+rf:h", longopts)) != -1) {
		switch (c) {
		case 'r':
			raw = true;
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			fputs(attr_help, stdout);
			return 0;
		default:
			return CLI_USAGE;
		}
	}
	if (raw && v != ATTR_GET)
		return cli_usage(argv[0], "--raw is for get");
	if (file && v != ATTR_SET)
		return cli_usage(argv[0], "--file is for set");
	nargs = argc - optind - 1;
	if (nargs < 0)
		return cli_usage(argv[0], "expects ROOT[:/path]");
	if (nargs < min_args[v] || nargs > max_args[v] - (file ? 1 : 0) ||
	    (v == ATTR_SET && !file && nargs != 2))
		return cli_usage(argv[0], "wrong number of arguments");
	key = nargs >= 1 ? argv[optind + 1] : NULL;
	value = nargs >= 2 ? argv[optind + 2] : NULL;
	rc = cli_target_open(argv[optind],
			     v == ATTR_LIST || v == ATTR_GET ? "r" : "r+", &r,
			     &path);
	if (rc < 0)
		return rc;
	rc = hmf_node_open(r, path, &n);
	if (rc < 0)
		goto out_close;
	switch (v) {
	case ATTR_LIST:
		rc = attr_list(n);
		break;
	case ATTR_GET:
		rc = attr_get(n, key, raw);
		break;
	case ATTR_SET:
		rc = attr_set(n, key, value, file);
		break;
	case ATTR_RM:
		rc = hmf_node_attr_remove(n, key);
		break;
	}
out_close:
	hmf_node_close(n);
	hmf_close(r);
	free(path);
	return rc;
}
