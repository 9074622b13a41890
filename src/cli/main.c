/* SPDX-License-Identifier: MIT */
/*
 * main.c - hmf, the command-line tool for HMF roots: the table of
 * subcommands, the general usage and version, and the one place that turns
 * a subcommand's result into a message on stderr ("hmf: ...") and an exit
 * status: 0 ok, 1 failure, 2 usage. The subcommands live in cmd_*.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define EXIT_USAGE 2

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "ROOT",
	  "make ROOT an HMF root (created if missing)" },
	{ "ls", cmd_ls, "[-l] [-R] ROOT[:/path]",
	  "list the children of a group" },
	{ "tree", cmd_tree, "ROOT[:/path]", "draw the tree below a group" },
	{ "info", cmd_info, "[--json] ROOT[:/path]",
	  "show a node: kind, dtype, shape, order, bytes, attributes" },
	{ "attr", cmd_attr, "get|set|rm|list ROOT[:/path] [KEY [VALUE]]",
	  "read and change attributes" },
	{ "fsck", cmd_fsck, "[--repair] ROOT",
	  "check a root; repair what is safe to repair" },
	{ "export", cmd_export, "ROOT:/path OUT.npy",
	  "write an array as an NPY file" },
	{ "import", cmd_import, "[--force] IN.npy ROOT:/path",
	  "store an NPY file as an array" },
	{ "ingest", cmd_ingest, "[-q] ROOT REQUEST.json",
	  "cut a CSV/NPY table into arrays (parallel, all or nothing)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: hmf COMMAND [OPTIONS] ARGS...\n"
		   "       hmf COMMAND --help | hmf --help | hmf --version\n\n"
		   "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-7s %s\n  %-7s   %s\n", commands[i].name,
			commands[i].args, "", commands[i].summary);
	fprintf(f,
		"\nROOT:/a/b names node /a/b of the HMF root in directory ROOT;\n"
		"ROOT alone names its root group \"/\".\n"
		"Exit status: 0 success, 1 failure, 2 wrong usage.\n");
}

static const struct command *find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The exit status for @rc of @c, after printing its message. */
static int status_of(const struct command *c, int rc)
{
	const char *msg;

	if (rc == 0)
		return EXIT_SUCCESS;
	if (rc == CLI_FAILED)
		return EXIT_FAILURE;
	msg = hmf_errmsg();
	if (rc == CLI_USAGE) {
		fprintf(stderr, "hmf: %s\nTry 'hmf %s --help'.\n", msg,
			c->name);
		return EXIT_USAGE;
	}
	fprintf(stderr, "hmf: %s\n", msg[0] ? msg : strerror(-rc));
	return EXIT_FAILURE;
}

/* Flush standard output: a full disk must not pass for success. */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "hmf: write error: %s\n", strerror(errno));
		return status ? status : EXIT_FAILURE;
	}
	return status;
}

int main(int argc, char **argv)
{
	char *help_argv[4];
	const struct command *c;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return finish(EXIT_SUCCESS);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("hmf %s (HMF format %d)\n", HMF_VERSION,
		       HMF_FORMAT_VERSION);
		return finish(EXIT_SUCCESS);
	}
	/* "hmf help [COMMAND]" */
	if (strcmp(argv[1], "help") == 0) {
		if (argc == 2) {
			usage(stdout);
			return finish(EXIT_SUCCESS);
		}
		help_argv[0] = argv[0];
		help_argv[1] = argv[2];
		help_argv[2] = (char *)"--help";
		help_argv[3] = NULL;
		argc = 3;
		argv = help_argv;
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr,
			"hmf: unknown command '%s'\nTry 'hmf --help'.\n",
			argv[1]);
		return EXIT_USAGE;
	}
	optind = 0; /* getopt starts afresh on the subcommand's arguments */
	hmf_err_clear();
	rc = c->run(argc - 1, argv + 1);
	return finish(status_of(c, rc));
}
