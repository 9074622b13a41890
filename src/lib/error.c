/* SPDX-License-Identifier: MIT */
/*
 * error.c - per-thread error messages and the log sink. The message buffer
 * is thread-local so that a root shared by threads never mixes up whose
 * failure a message explains.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hmf/error.h"

static _Thread_local char errbuf[1024];
/* Set once before threads start (see error.h). */
static hmf_log_fn log_handler;

const char *hmf_errmsg(void)
{
	return errbuf;
}

int hmf_err(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return rc;
}

void hmf_err_clear(void)
{
	errbuf[0] = '\0';
}

void hmf_log_set_handler(hmf_log_fn fn)
{
	log_handler = fn;
}

void hmf_log(enum hmf_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_handler)
		log_handler(level, line);
	else
		fprintf(stderr, "hmf: %s\n", line);
}
