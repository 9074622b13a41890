/* SPDX-License-Identifier: MIT */
/*
 * ingest.h - parallel bulk ingest (DESIGN section 5): the seed's
 * from_pandas + register_array + close as one JSON request. A table (CSV,
 * NPY, or an array of the root) is cut into arrays, optionally one
 * sub-group per distinct value of a column and ordered by another, written
 * by a thread pool into a private staging area of the root and published
 * by rename: all or nothing.
 *
 * Thread safety: a request is immutable once parsed; hmf_ingest_run() may
 * run for several requests at once on one root.
 */
#ifndef HMF_INGEST_H
#define HMF_INGEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dtype.h"
#include "root.h"
#include "table.h"

/* Requests over this size are refused (the control file's limit too). */
#define HMF_INGEST_REQUEST_MAX (1u << 20)

enum hmf_ingest_format {
	HMF_INGEST_CSV = 1,
	HMF_INGEST_NPY,
	HMF_INGEST_HMF, /* "hmf:/path": an array of the root itself */
};

struct hmf_ingest_array {
	char *name;
	char **cols;
	size_t ncols;
	bool one_column; /* given as a string, not a list: 1-D result */
};

struct hmf_ingest_request {
	char *source; /* host path, or the path after "hmf:" */
	enum hmf_ingest_format format;
	char delimiter;
	bool header;
	char *dest;
	struct hmf_ingest_array *arrays;
	size_t narrays;
	char **dtype_cols; /* explicit column dtypes (parallel arrays) */
	struct hmf_dtype *dtypes;
	size_t ndtypes;
	char *groupby; /* or NULL */
	char *orderby; /* or NULL */
	bool ascending;
	unsigned threads; /* 0: online CPUs */
	bool overwrite;
	char *text; /* the request as received, compacted JSON */
	/*
	 * Who the new nodes belong to (set by a daemon running for others;
	 * not part of the JSON): groups 0755, arrays 0644. Without it they
	 * get the process's defaults.
	 */
	bool owned;
	uid_t uid;
	gid_t gid;
};

/* What a job has done so far; every field may be read while it runs. */
struct hmf_ingest_progress {
	struct hmf_table_progress table; /* rows, source bytes */
	atomic_uint_fast64_t arrays_written;
	atomic_uint_fast64_t bytes_written;
	atomic_uint_fast64_t arrays_total;
};

/*
 * Parse and check a request of @len bytes. Returns 0 and *@out (free
 * with hmf_ingest_request_free), or -EINVAL (not JSON, a missing or
 * mistyped field, a bad name or dtype: the message says which), -EFBIG
 * (over 1 MiB), -ENOMEM.
 */
int hmf_ingest_request_parse(const char *text, size_t len,
			     struct hmf_ingest_request **out);
void hmf_ingest_request_free(struct hmf_ingest_request *q);

/*
 * Open the request's source for reading (a host file, or the data of an
 * array of @r for "hmf:" sources) with the caller's own credentials.
 * Returns 0 and *@fd, or -ENOENT, -EACCES, -EISDIR ...
 */
int hmf_ingest_open_source(struct hmf_root *r,
			   const struct hmf_ingest_request *q, int *fd);

/*
 * Check what can be checked before the work starts: the columns named by
 * the request exist in the source (-EINVAL, naming them), the destination
 * is a group or missing, existing names collide only with "overwrite"
 * (-EEXIST). Cheap: reads only the source's header.
 */
int hmf_ingest_validate(struct hmf_root *r, const struct hmf_ingest_request *q,
			int srcfd);

/*
 * Do the work: read the source at @srcfd, cut, sort, write into staging,
 * publish. Updates @p (may be NULL) as it goes and stops with -EINTR soon
 * after *@stop becomes non-zero (@stop may be NULL). On any failure
 * nothing of the request is left in the tree. Returns 0 or -errno with a
 * message.
 */
int hmf_ingest_run(struct hmf_root *r, const struct hmf_ingest_request *q,
		   int srcfd, struct hmf_ingest_progress *p,
		   const atomic_int *stop);

/*
 * Another process may truncate a source file while a job reads it (the
 * readers map it): the read past its new end is a SIGBUS. A program that
 * runs jobs calls hmf_ingest_catch_sigbus() once at start: it installs a
 * SIGBUS handler that, for a fault in a source mapping of a running job,
 * maps zeros there and marks the job, which then fails ("the source
 * changed while it was read") and publishes nothing; any other SIGBUS
 * keeps its default action. Returns 0 or -errno. A program with its own
 * SIGBUS handler calls hmf_ingest_on_sigbus(si_addr) from it instead:
 * true when the fault was handled so (async-signal-safe).
 */
int hmf_ingest_catch_sigbus(void);
bool hmf_ingest_on_sigbus(void *addr);

/*
 * A job's status as the JSON object of DESIGN section 5, in a malloc'ed
 * string (caller frees): @id, @state ("queued", "running", "done",
 * "failed"), the request, the progress, @seconds and @error (or NULL).
 */
char *hmf_ingest_status_json(uint64_t id, const char *state,
			     const struct hmf_ingest_request *q,
			     const struct hmf_ingest_progress *p,
			     double seconds, const char *error);

#endif
