/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - "hmf init ROOT": make a directory an HMF root (hmf_open
 * mode "a"). The library refuses a non-empty directory that is not one
 * already, so nothing foreign is ever taken over.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"

static const char init_help[] =
	"usage: hmf init ROOT\n\n"
	"Make the directory ROOT an HMF root: create it if it is missing, and\n"
	"write its root group's .hmf and the private directory .hmf.d. An HMF\n"
	"root is left as it is. A non-empty directory that is not an HMF root\n"
	"is refused: nothing that is not HMF data is ever taken over.\n";

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hmf_root *r;
	struct stat st;
	char *meta;
	bool existed;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (c == 'h') {
			fputs(init_help, stdout);
			return 0;
		}
		return CLI_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], "expects exactly one ROOT");
	meta = cli_path_join(argv[optind], HMF_META_FILE);
	if (!meta)
		return -ENOMEM;
	existed = lstat(meta, &st) == 0;
	free(meta);
	rc = hmf_open(argv[optind], "a", &r);
	if (rc < 0)
		return rc;
	hmf_close(r);
	if (existed)
		printf("%s: already an HMF root\n", argv[optind]);
	else
		printf("%s: initialised an empty HMF root\n", argv[optind]);
	return 0;
}
