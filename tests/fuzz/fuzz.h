/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer harnesses share: checks that abort with a
 * message (libFuzzer then keeps the input as a crash file), a silent log,
 * and a reader that decodes the fuzzer's bytes into small decisions. The
 * harnesses test libhmf through its public headers only.
 */
#ifndef HMF_FUZZ_H
#define HMF_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print where and why, with the library's last message, and abort(). */
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5), noreturn));

/* FUZZ_CHECK(cond, fmt, ...): an invariant of the code under test. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
	} while (0)

/* True when @rc is 0 or one of the negative errnos listed (end with 0). */
bool fuzz_rc_in(int rc, ...);

/* FUZZ_RC(rc, -EINVAL, -ENOMEM): rc is 0 or one of these. */
#define FUZZ_RC(rc, ...)                                                       \
	FUZZ_CHECK(fuzz_rc_in((rc), __VA_ARGS__, 0),                           \
		   "unexpected return value %d (%s)", (rc), fuzz_errno((rc)))

/* The name of negative errno @rc ("EINVAL"), for messages. */
const char *fuzz_errno(int rc);

/* Send the library's log lines nowhere (call once, at initialisation). */
void fuzz_quiet(void);

/* A malloc'ed NUL-terminated copy of @size bytes at @data. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* A cursor over the input; reads past the end give zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
/* Up to @want bytes: *@out points into the input; returns how many. */
size_t fuzz_take(struct fuzz_in *in, size_t want, const uint8_t **out);

#endif
