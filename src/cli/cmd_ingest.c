/* SPDX-License-Identifier: MIT */
/*
 * cmd_ingest.c - "hmf ingest ROOT REQUEST.json": the mount's ingest
 * without a mount. The same engine runs in a thread while this one shows
 * the progress: a bar with rows, MB/s and ETA on a terminal, one summary
 * line otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hmf/ingest.h"

static const char ingest_help[] =
	"usage: hmf ingest [-q] ROOT REQUEST.json\n\n"
	"Cut a table (CSV or NPY file, or an array of ROOT given as hmf:/path)\n"
	"into arrays of the HMF root ROOT, as the request says (DESIGN section 5:\n"
	"source, format, csv, dest, arrays, dtypes, groupby, orderby, ascending,\n"
	"threads, overwrite). REQUEST.json may be - for standard input. The work\n"
	"runs on a thread pool, is written aside and published all at once: a\n"
	"failed ingest leaves nothing. On a terminal a progress bar shows rows,\n"
	"MB/s and the time left; -q prints only the final line.\n";

struct run {
	struct hmf_root *r;
	struct hmf_ingest_request *q;
	struct hmf_ingest_progress p;
	int fd, rc;
	char msg[1024];
};

static void *run_main(void *arg)
{
	struct run *w = arg;

	w->rc = hmf_ingest_run(w->r, w->q, w->fd, &w->p, NULL);
	if (w->rc < 0)
		snprintf(w->msg, sizeof(w->msg), "%s", hmf_errmsg());
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line of progress, redrawn in place. */
static void draw(const struct hmf_ingest_progress *p, double secs)
{
	uint64_t rd = atomic_load(&p->table.source_bytes_read);
	uint64_t total = atomic_load(&p->table.source_bytes);
	uint64_t aw = atomic_load(&p->arrays_written);
	uint64_t at = atomic_load(&p->arrays_total);
	/* reading is the first half of the work, writing the second */
	double frac = (total ? 0.5 * (double)rd / (double)total : 0) +
		      (at ? 0.5 * (double)aw / (double)at : 0);
	double mbs = secs > 0 ? (double)rd / 1e6 / secs : 0;
	char bar[31];
	int i, fill = (int)(frac * 30);

	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3.0f%% %llu rows %.1f MB/s ", bar, frac * 100,
		(unsigned long long)atomic_load(&p->table.rows), mbs);
	if (frac > 0.02 && frac < 1)
		fprintf(stderr, "ETA %.0f s   ", secs / frac - secs);
	else
		fprintf(stderr, "          ");
}

static int read_request(const char *path, char **text, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	size_t cap = 4096, n = 0, got;
	char *buf, *b;

	if (!f)
		return hmf_err(-errno, "%s: %s", path, strerror(errno));
	buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n > HMF_INGEST_REQUEST_MAX)
			break;
		if (n == cap) {
			b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!buf)
		return -ENOMEM;
	*text = buf;
	*len = n;
	return 0;
}

int cmd_ingest(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct run w = { .fd = -1 };
	bool quiet = false, tty, joined = false;
	pthread_t tid;
	double t0, secs;
	size_t len = 0;
	char *text = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "hq", longopts)) != -1) {
		if (c == 'h') {
			fputs(ingest_help, stdout);
			return 0;
		}
		if (c == 'q') {
			quiet = true;
			continue;
		}
		return CLI_USAGE;
	}
	if (argc - optind != 2)
		return cli_usage(argv[0], "expects ROOT and REQUEST.json");
	rc = read_request(argv[optind + 1], &text, &len);
	if (rc < 0)
		return rc;
	rc = hmf_ingest_request_parse(text, len, &w.q);
	free(text);
	if (rc < 0)
		return rc;
	rc = hmf_open(argv[optind], "r+", &w.r);
	if (rc == 0)
		rc = hmf_ingest_open_source(w.r, w.q, &w.fd);
	if (rc == 0)
		rc = hmf_ingest_validate(w.r, w.q, w.fd);
	if (rc < 0)
		goto out;
	tty = !quiet && isatty(STDERR_FILENO);
	t0 = now();
	/* a source truncated meanwhile: a clear error, not a crash */
	hmf_ingest_catch_sigbus();
	if (pthread_create(&tid, NULL, run_main, &w) != 0) {
		rc = -EAGAIN;
		goto out;
	}
	/* redraw every 200 ms, but go on as soon as the job ends */
	while (tty && !joined) {
		struct timespec until;

		draw(&w.p, now() - t0);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		joined = pthread_timedjoin_np(tid, NULL, &until) == 0;
	}
	if (!joined)
		pthread_join(tid, NULL);
	secs = now() - t0;
	if (tty) {
		draw(&w.p, secs);
		fputc('\n', stderr);
	}
	rc = w.rc;
	if (rc < 0) {
		hmf_err(rc, "%s", w.msg);
		goto out;
	}
	printf("%s: %llu rows, %llu arrays, %.1f MB written in %.2f s (%.1f MB/s of source)\n",
	       w.q->dest, (unsigned long long)atomic_load(&w.p.table.rows),
	       (unsigned long long)atomic_load(&w.p.arrays_written),
	       (double)atomic_load(&w.p.bytes_written) / 1e6, secs,
	       secs > 0 ? (double)atomic_load(&w.p.table.source_bytes) / 1e6 /
				  secs
			: 0);
out:
	if (w.fd >= 0)
		close(w.fd);
	hmf_close(w.r);
	hmf_ingest_request_free(w.q);
	return rc;
}
