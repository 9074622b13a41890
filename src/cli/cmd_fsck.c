/* SPDX-License-Identifier: MIT */
/*
 * cmd_fsck.c - "hmf fsck [--repair] ROOT": print what hmf_fsck_run()
 * finds, one line per problem ("KIND PATH: MESSAGE [what was done]"),
 * then a summary line. Exit status 0 when the root is clean or every
 * problem was repaired, 1 when problems remain. The checks themselves are
 * the library's (fsck.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char fsck_help[] =
	"usage: hmf fsck [--repair] ROOT\n\n"
	"Check the HMF root ROOT: every node's .hmf, every array's data size\n"
	"against its stored shape, and every entry that is not part of a node.\n"
	"One line per problem: KIND PATH: MESSAGE, where KIND is\n"
	"  bad-meta        .hmf unreadable or corrupt (not repairable)\n"
	"  bad-shape       data size does not match the stored shape; the\n"
	"                  shape the size implies is shown (repairable)\n"
	"  no-data         an array without a data file (not repairable)\n"
	"  stray           a file or directory that is not a node (reported\n"
	"                  only: user data is never deleted)\n"
	"  leftover        .hmf.tmp.* of an interrupted change (repairable)\n"
	"  no-private-dir  ROOT/.hmf.d is missing (repairable)\n"
	"  unreadable      a directory that cannot be listed\n"
	"then a summary. Exit status 0 when the root is clean or everything\n"
	"found was repaired, 1 when problems remain.\n\n"
	"  -r, --repair  store the derived shapes, remove leftovers (of any age;\n"
	"                run it while nothing else writes ROOT, a mount of it\n"
	"                included), create .hmf.d\n"
	"  -h, --help    show this help\n";

struct fsck_out {
	bool repair;
};

static void print_issue(const struct hmf_fsck_issue *is, void *arg)
{
	struct fsck_out *o = arg;

	printf("%s ", hmf_fsck_kind_name(is->kind));
	cli_print_escaped(stdout, is->path, strlen(is->path), false);
	printf(": %s", is->message);
	if (is->repaired)
		printf(" [repaired: %s]", is->repair_message);
	else if (is->repair_error)
		printf(" [repair failed: %s]", is->repair_message);
	else if (is->repairable && !o->repair)
		printf(" [repairable with --repair]");
	printf("\n");
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hmf_fsck_summary sum;
	struct fsck_out o = { 0 };
	struct hmf_root *r;
	size_t remain;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "rh", longopts)) != -1) {
		switch (c) {
		case 'r':
			o.repair = true;
			break;
		case 'h':
			fputs(fsck_help, stdout);
			return 0;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], "expects one ROOT");
	rc = hmf_open(argv[optind], o.repair ? "r+" : "r", &r);
	if (rc < 0)
		return rc;
	rc = hmf_fsck_run(r, o.repair ? HMF_FSCK_REPAIR : 0, print_issue, &o,
			  &sum);
	hmf_close(r);
	if (rc < 0)
		return rc;
	remain = sum.issues - sum.repaired;
	printf("%s: %zu group%s, %zu array%s, %llu bytes of data: ",
	       argv[optind], sum.groups, plural(sum.groups), sum.arrays,
	       plural(sum.arrays), (unsigned long long)sum.data_bytes);
	if (sum.issues == 0) {
		printf("clean\n");
		return 0;
	}
	printf("%zu problem%s, %zu repaired, %zu remain%s", sum.issues,
	       plural(sum.issues), sum.repaired, remain,
	       remain == 1 ? "s" : "");
	if (!o.repair && sum.repairable)
		printf(" (%zu repairable with --repair)", sum.repairable);
	printf("\n");
	return remain ? CLI_FAILED : 0;
}
