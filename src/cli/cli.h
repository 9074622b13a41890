/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the files of the hmf tool share: the subcommands, their
 * return convention, ROOT:/path arguments and output helpers (escaping
 * for humans, JSON strings by hand: only the library touches cJSON).
 *
 * A subcommand returns 0, a negative errno (main() prints "hmf: " and
 * hmf_errmsg(), or strerror when there is no message, and exits 1), or
 * one of the CLI_* codes below. Every message goes through hmf_err(), so
 * that main() is the one place that prints an error and picks the exit
 * status.
 */
#ifndef HMF_CLI_H
#define HMF_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hmf.h"

/* Bad usage: main() prints the message and a hint, exits 2. */
#define CLI_USAGE 1
/* The command already reported its problems on stderr/stdout: exit 1. */
#define CLI_FAILED 2

/* The subcommands (argv[0] is the subcommand's name). */
int cmd_init(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_attr(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_ingest(int argc, char **argv);

/* Record a usage error of @cmd ("ls: ...") and return CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * getopt_long() for a subcommand, with the messages through cli_usage():
 * returns the option, -1 at the end, or '?' after recording a usage error
 * (the caller returns CLI_USAGE). Call with optind = 0 first.
 */
struct option;
int cli_getopt(int argc, char **argv, const char *optstring,
	       const struct option *longopts);

/*
 * Split "ROOT:/a/b" (the first ':' followed by '/' or ending the
 * argument) into malloc'ed *@root and *@path ("/" when absent). Returns 0,
 * -EINVAL (empty ROOT) or -ENOMEM.
 */
int cli_target_split(const char *arg, char **root, char **path);

/*
 * Open the root of @arg with @mode (see hmf_open) and point *@path at the
 * malloc'ed HMF path. Returns 0 or hmf_open()'s error (with a message).
 */
int cli_target_open(const char *arg, const char *mode, struct hmf_root **r,
		    char **path);

/* "@dir/@name" ("/@name" under "/"), malloc'ed; NULL without memory. */
char *cli_path_join(const char *dir, const char *name);

/* True when @len bytes at @s are valid UTF-8 without NUL. */
bool cli_utf8_valid(const void *s, size_t len);

/*
 * Print @len bytes for humans: valid UTF-8 as is, except backslash,
 * control characters and (with @quote) '"' as C escapes; invalid bytes as
 * \xNN. With @quote, wrapped in double quotes.
 */
void cli_print_escaped(FILE *f, const void *s, size_t len, bool quote);

/* Print @len bytes as a JSON string (invalid UTF-8 bytes as \u00NN). */
void cli_json_string(FILE *f, const void *s, size_t len);

/* Print @len bytes as a JSON value: a string, or {"base64":"..."}. */
void cli_json_bytes(FILE *f, const void *s, size_t len);

/* "[3,4]", "[]" for 0-d, into @buf of @size bytes. */
void cli_shape_text(char *buf, size_t size, int ndim, const uint64_t *shape);

/*
 * All of file @path ("-": standard input), at most @max bytes, in a
 * malloc'ed NUL-terminated *@out of *@len bytes. Returns 0, -E2BIG or the
 * -errno of reading, with a message.
 */
int cli_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Copy @len bytes of @src from offset @off to @dst at its current
 * position (copy_file_range / sendfile when possible, else a buffer).
 * Returns 0, -ENODATA (@src ended first) or -errno.
 */
int cli_copy(int dst, int src, uint64_t off, uint64_t len);

#endif
