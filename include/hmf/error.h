/* SPDX-License-Identifier: MIT */
/*
 * error.h - how libhmf reports failures and logs. Every fallible function
 * returns 0 or a negative errno; the explanation (naming the path involved)
 * is kept per thread and read with hmf_errmsg().
 */
#ifndef HMF_ERROR_H
#define HMF_ERROR_H

#include <stdarg.h>

enum hmf_log_level {
	HMF_LOG_ERR = 3,
	HMF_LOG_WARNING = 4,
	HMF_LOG_INFO = 6,
	HMF_LOG_DEBUG = 7,
};

/*
 * The message of the last failed libhmf call made by this thread ("" if
 * none). Borrowed; valid until this thread's next libhmf call.
 */
const char *hmf_errmsg(void);

/*
 * Record @fmt as this thread's error message and return @rc (a negative
 * errno), so that callers can write "return hmf_err(-EINVAL, ...)".
 */
int hmf_err(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget this thread's error message. */
void hmf_err_clear(void);

typedef void (*hmf_log_fn)(enum hmf_log_level level, const char *msg);

/*
 * Route log lines to @fn (NULL restores the default: stderr). Call once,
 * before other threads use the library.
 */
void hmf_log_set_handler(hmf_log_fn fn);

/* Log one line (no trailing newline needed). Thread-safe. */
void hmf_log(enum hmf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
