/* SPDX-License-Identifier: MIT */
/*
 * bench_lib.c - libhmf against plain syscalls on the same bytes, side by
 * side in one run. The contenders come in groups (write new, write
 * replace, read+sum); each group runs an untimed warm-up round and then N
 * rounds, every round running each contender once in an order that
 * rotates from round to round. The median of the rounds is reported.
 *
 * Writes: hmf_set_array() of an int64 buffer against open() + write() of
 * the same bytes, both as a new file and replacing an existing one. No
 * fsync in the timed part; an untimed syncfs() before every case so that
 * the writeback of one case does not slow down the next.
 * Reads: the sum over an hmf_get_array() view against read() in 1 MiB
 * chunks, and plain mmap of the plain file (as is, with MAP_POPULATE and
 * with MADV_POPULATE_READ) to show what pre-faulting would buy.
 * The page cache stays hot (nothing is dropped; each read case follows an
 * untimed read() pass over both files), so this compares the CPU cost of
 * each path, not the disk.
 *
 * Usage: bench_lib [--size-mb N (1024)] [--rounds N (5)] [--dir DIR (.)]
 *                  [--verbose (every round)]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hmf.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

#define CHUNK (1u << 20)
#define MAX_ROUNDS 101
#define ARRAY_PATH "/bench/a"

struct bench {
	char root[HMF_PATH_MAX];  /* the HMF root */
	char plain[HMF_PATH_MAX]; /* the plain file, next to it */
	int dirfd;		  /* the directory holding both, for syncfs */
	struct hmf_root *r;
	int64_t *buf; /* what every write writes: 0, 1, 2, ... */
	char *chunk;  /* read() buffer */
	uint64_t nbytes;
	uint64_t expect; /* sum of buf, mod 2^64 */
};

/* One contender: fills *secs with the timed part; 0 or -errno. */
struct bench_case {
	const char *group; /* cases of one group are compared */
	const char *label;
	int (*run)(struct bench *b, double *secs);
	bool base; /* the group's baseline (ratio 1.00) */
	bool warm; /* read both files once, untimed, before the case */
};

/* What one case measured, round by round. */
struct bench_result {
	double secs[MAX_ROUNDS];
	long faults[MAX_ROUNDS];
	bool failed; /* e.g. MADV_POPULATE_READ unsupported */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static uint64_t sum_i64(const void *p, uint64_t nbytes)
{
	const int64_t *x = p;
	uint64_t i, n = nbytes / sizeof(*x), s = 0;

	for (i = 0; i < n; i++)
		s += (uint64_t)x[i];
	return s;
}

static int check_sum(const struct bench *b, uint64_t s, const char *what)
{
	if (s == b->expect)
		return 0;
	fprintf(stderr, "%s: sum %" PRIu64 ", expected %" PRIu64 "\n", what, s,
		b->expect);
	return -EIO;
}

static int write_all(int fd, const void *buf, uint64_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Read up to @len bytes (less only at end of file). */
static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Flush earlier writes (untimed) before each case, so that no case pays for
 * the background writeback of the one before it. Cached pages stay.
 */
static int settle(struct bench *b)
{
	return syncfs(b->dirfd) < 0 ? -errno : 0;
}

/* read() all of @path once, to take first-touch costs out of the timing. */
static int read_through(struct bench *b, const char *path)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = read_full(fd, b->chunk, CHUNK)) > 0)
		;
	close(fd);
	return n < 0 ? (int)n : 0;
}

/*
 * The first read of freshly written pages costs several times the later
 * ones here (whichever case comes first after the writes pays it), so
 * each read case starts after one untimed pass over both files.
 */
static int warm_up(struct bench *b)
{
	char data[HMF_PATH_MAX + 32];
	int rc;

	/* the array's raw bytes, as DESIGN section 2 lays them out */
	snprintf(data, sizeof(data), "%s%s/data", b->root, ARRAY_PATH);
	rc = read_through(b, data);
	return rc < 0 ? rc : read_through(b, b->plain);
}

static int lib_write(struct bench *b, double *secs)
{
	uint64_t shape[1] = { b->nbytes / sizeof(int64_t) };
	double t0;
	int rc;

	t0 = now();
	rc = hmf_set_array(b->r, ARRAY_PATH, "<i8", 1, shape, b->buf);
	*secs = now() - t0;
	return rc;
}

static int plain_write(struct bench *b, double *secs)
{
	double t0;
	int fd, rc;

	t0 = now();
	fd = open(b->plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, b->buf, b->nbytes);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	*secs = now() - t0;
	return rc;
}

static int lib_write_new(struct bench *b, double *secs)
{
	int rc = hmf_remove(b->r, ARRAY_PATH);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	return lib_write(b, secs);
}

static int plain_write_new(struct bench *b, double *secs)
{
	if (unlink(b->plain) < 0 && errno != ENOENT)
		return -errno;
	return plain_write(b, secs);
}

/* hmf_get_array view; @populate: pre-fault it with MADV_POPULATE_READ. */
static int lib_read(struct bench *b, bool populate, double *secs)
{
	struct hmf_view v;
	uint64_t s;
	double t0;
	int rc;

	t0 = now();
	rc = hmf_get_array(b->r, ARRAY_PATH, HMF_VIEW_RDONLY, &v);
	if (rc < 0)
		return rc;
	if (populate && madvise(v.data, v.nbytes, MADV_POPULATE_READ) < 0) {
		rc = -errno;
		hmf_view_fini(&v);
		return rc;
	}
	s = sum_i64(v.data, v.nbytes);
	hmf_view_fini(&v);
	*secs = now() - t0;
	return check_sum(b, s, "hmf_get_array");
}

static int lib_read_plain(struct bench *b, double *secs)
{
	return lib_read(b, false, secs);
}

static int lib_read_populate(struct bench *b, double *secs)
{
	return lib_read(b, true, secs);
}

static int plain_read(struct bench *b, double *secs)
{
	uint64_t s = 0;
	double t0;
	ssize_t n;
	int fd;

	t0 = now();
	fd = open(b->plain, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = read_full(fd, b->chunk, CHUNK)) > 0)
		s += sum_i64(b->chunk, (uint64_t)n);
	close(fd);
	*secs = now() - t0;
	if (n < 0)
		return (int)n;
	return check_sum(b, s, "read()");
}

/* Plain mmap of the plain file with @flags added, then @advice if >= 0. */
static int plain_mmap(struct bench *b, int flags, int advice, double *secs)
{
	uint64_t s;
	double t0;
	void *p;
	int fd, rc = 0;

	t0 = now();
	fd = open(b->plain, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	p = mmap(NULL, b->nbytes, PROT_READ, MAP_SHARED | flags, fd, 0);
	if (p == MAP_FAILED)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	if (advice >= 0 && madvise(p, b->nbytes, advice) < 0) {
		rc = -errno;
		munmap(p, b->nbytes);
		return rc;
	}
	s = sum_i64(p, b->nbytes);
	munmap(p, b->nbytes);
	*secs = now() - t0;
	return check_sum(b, s, "mmap");
}

static int mmap_as_is(struct bench *b, double *secs)
{
	return plain_mmap(b, 0, -1, secs);
}

static int mmap_map_populate(struct bench *b, double *secs)
{
	return plain_mmap(b, MAP_POPULATE, -1, secs);
}

static int mmap_madv_populate(struct bench *b, double *secs)
{
	return plain_mmap(b, 0, MADV_POPULATE_READ, secs);
}

static const struct bench_case cases[] = {
	{ "write new", "hmf_set_array", lib_write_new, false, false },
	{ "write new", "open+write()", plain_write_new, true, false },
	{ "write replace", "hmf_set_array", lib_write, false, false },
	{ "write replace", "open(O_TRUNC)+write()", plain_write, true, false },
	{ "read+sum", "hmf_get_array view", lib_read_plain, false, true },
	{ "read+sum", "hmf_get_array + POPULATE_READ", lib_read_populate, false,
	  true },
	{ "read+sum", "read() 1 MiB chunks", plain_read, true, true },
	{ "read+sum", "mmap", mmap_as_is, false, true },
	{ "read+sum", "mmap MAP_POPULATE", mmap_map_populate, false, true },
	{ "read+sum", "mmap + MADV_POPULATE_READ", mmap_madv_populate, false,
	  true },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static struct bench_result results[NCASES];

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, sizeof(*v) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static long median_faults(const long *v, int n)
{
	double d[MAX_ROUNDS];
	int i;

	for (i = 0; i < n; i++)
		d[i] = (double)v[i];
	return (long)median(d, n);
}

/*
 * Run case @i for round @round (-1: a warm-up, not recorded); an
 * unsupported advice marks the case instead of failing the run.
 */
static int run_case(struct bench *b, size_t i, int round)
{
	const struct bench_case *c = &cases[i];
	struct bench_result *res = &results[i];
	double secs = 0;
	long f0;
	int rc;

	rc = settle(b);
	if (rc == 0 && c->warm)
		rc = warm_up(b);
	if (rc < 0)
		return rc;
	f0 = minor_faults();
	rc = c->run(b, &secs);
	if (round >= 0) {
		res->secs[round] = secs;
		res->faults[round] = minor_faults() - f0;
	}
	if (rc == -EINVAL && strstr(c->label, "POPULATE_READ")) {
		res->failed = true; /* kernel older than 5.14 */
		return 0;
	}
	if (rc < 0)
		fprintf(stderr, "%s / %s: %s (%s)\n", c->group, c->label,
			strerror(-rc), hmf_errmsg());
	return rc;
}

/*
 * The @n cases from @first (one group): an untimed warm-up round, then
 * @rounds rounds, each running every case once in an order rotated by
 * the round, so that no case always follows the same one.
 */
static int run_group(struct bench *b, size_t first, size_t n, int rounds)
{
	size_t k;
	int round, rc;

	for (round = -1; round < rounds; round++) {
		for (k = 0; k < n; k++) {
			rc = run_case(b, first + (k + (size_t)(round + 1)) % n,
				      round);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Every group in turn: writes first (they create the files), then reads. */
static int run_all(struct bench *b, int rounds)
{
	size_t first = 0, end;
	int rc;

	while (first < NCASES) {
		for (end = first; end < NCASES; end++)
			if (strcmp(cases[end].group, cases[first].group))
				break;
		rc = run_group(b, first, end - first, rounds);
		if (rc < 0)
			return rc;
		first = end;
	}
	return 0;
}

/* The index of the case labelled @label in @group, or NCASES. */
static size_t find_case(const char *group, const char *label)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].group, group) &&
		    !strcmp(cases[i].label, label))
			break;
	return i;
}

/* Median (or, with @best, the fastest) seconds of a case; 0 if none. */
static double secs_of(const char *group, const char *label, int rounds,
		      bool best)
{
	size_t i = find_case(group, label);
	double s[MAX_ROUNDS];

	if (i == NCASES || results[i].failed)
		return 0;
	memcpy(s, results[i].secs, sizeof(*s) * (size_t)rounds);
	qsort(s, (size_t)rounds, sizeof(*s), cmp_double);
	return best ? s[0] : median(s, rounds);
}

static double median_of(const char *group, const char *label, int rounds)
{
	return secs_of(group, label, rounds, false);
}

static double group_base(const char *group, int rounds)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (cases[i].base && !strcmp(cases[i].group, group))
			return median_of(group, cases[i].label, rounds);
	return 0;
}

static void print_row(const struct bench *b, size_t i, bool first, int rounds)
{
	const struct bench_case *c = &cases[i];
	const struct bench_result *res = &results[i];
	double s[MAX_ROUNDS], m;

	printf("%-14s %-30s", first ? c->group : "", c->label);
	if (res->failed) {
		printf(" unsupported here\n");
		return;
	}
	memcpy(s, res->secs, sizeof(*s) * (size_t)rounds);
	qsort(s, (size_t)rounds, sizeof(*s), cmp_double);
	m = median(s, rounds);
	printf(" %9.3f %9.3f %9.3f %7.2f %7.2f%s %9ld\n", m, s[0],
	       s[rounds - 1], (double)b->nbytes / 1e9 / m,
	       group_base(c->group, rounds) / m, c->base ? "*" : " ",
	       median_faults(res->faults, rounds));
}

static void print_table(const struct bench *b, int rounds)
{
	size_t i;

	printf("%-14s %-30s %9s %9s %9s %7s %8s %9s\n", "operation", "variant",
	       "median s", "min s", "max s", "GB/s", "vs base", "faults");
	for (i = 0; i < NCASES; i++)
		print_row(b, i,
			  i == 0 || strcmp(cases[i].group, cases[i - 1].group),
			  rounds);
}

/* Throughput of @lib relative to @plain: plain seconds / lib seconds. */
static double ratio(const char *group, const char *lib, const char *plain,
		    int rounds, bool best)
{
	double tl = secs_of(group, lib, rounds, best);

	return tl > 0 ? secs_of(group, plain, rounds, best) / tl : 0;
}

static void print_verdict(int rounds)
{
	static const struct {
		const char *what, *group, *lib, *plain;
	} v[] = {
		{ "write new", "write new", "hmf_set_array", "open+write()" },
		{ "write replace", "write replace", "hmf_set_array",
		  "open(O_TRUNC)+write()" },
		{ "read vs read()", "read+sum", "hmf_get_array view",
		  "read() 1 MiB chunks" },
		{ "read vs mmap", "read+sum", "hmf_get_array view", "mmap" },
	};
	size_t i;
	double q, qb;

	printf("\nlib/plain throughput ratio (goal >= 0.9): median of "
	       "rounds, and best round against best round\n");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		q = ratio(v[i].group, v[i].lib, v[i].plain, rounds, false);
		qb = ratio(v[i].group, v[i].lib, v[i].plain, rounds, true);
		printf("  %-16s %5.2f  %-10s best %5.2f\n", v[i].what, q,
		       q >= 0.9 ? "ok" : "BELOW GOAL", qb);
	}
}

/* Every round's seconds, for judging the noise behind a median. */
static void print_rounds(int rounds)
{
	size_t i;
	int k;

	printf("\nseconds in rounds 1, 2, ... (each round rotates the order within a group):\n");
	for (i = 0; i < NCASES; i++) {
		printf("  %-14s %-30s", cases[i].group, cases[i].label);
		for (k = 0; k < rounds && !results[i].failed; k++)
			printf(" %7.3f", results[i].secs[k]);
		printf("\n");
	}
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--size-mb N] [--rounds N (1..%d)] [--dir DIR] [--verbose]\n",
		argv0, MAX_ROUNDS);
	return 2;
}

static int bench_init(struct bench *b, const char *dir, uint64_t size_mb)
{
	uint64_t i, n;
	int rc;

	memset(b, 0, sizeof(*b));
	b->dirfd = -1;
	b->nbytes = size_mb << 20;
	n = b->nbytes / sizeof(int64_t);
	/* sum of 0..n-1 without overflowing before the halving */
	b->expect = n % 2 ? n * ((n - 1) / 2) : (n / 2) * (n - 1);
	snprintf(b->root, sizeof(b->root), "%s/bench-root", dir);
	snprintf(b->plain, sizeof(b->plain), "%s/bench-plain.bin", dir);
	b->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->dirfd < 0)
		return -errno;
	b->buf = malloc(b->nbytes);
	b->chunk = malloc(CHUNK);
	if (!b->buf || !b->chunk)
		return -ENOMEM;
	/* touch every page now, so no write pays for faulting its source */
	for (i = 0; i < n; i++)
		b->buf[i] = (int64_t)i;
	memset(b->chunk, 0, CHUNK);
	rc = hmf_open(b->root, "w+", &b->r);
	return rc;
}

static void bench_fini(struct bench *b)
{
	if (b->r) {
		hmf_remove(b->r, "/bench");
		hmf_close(b->r);
	}
	unlink(b->plain);
	if (b->dirfd >= 0)
		close(b->dirfd);
	free(b->buf);
	free(b->chunk);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size-mb", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "dir", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size_mb = 1024, nrounds = 5;
	const char *dir = ".";
	bool verbose = false;
	struct bench b;
	int c, rc;

	while ((c = getopt_long(argc, argv, "s:r:d:vh", opts, NULL)) != -1) {
		if (c == 's' && parse_u64(optarg, 1u << 20, &size_mb) == 0)
			continue;
		if (c == 'r' && parse_u64(optarg, MAX_ROUNDS, &nrounds) == 0)
			continue;
		if (c == 'd') {
			dir = optarg;
			continue;
		}
		if (c == 'v') {
			verbose = true;
			continue;
		}
		return usage(argv[0]);
	}
	if (optind != argc)
		return usage(argv[0]);

	rc = bench_init(&b, dir, size_mb);
	if (rc < 0) {
		fprintf(stderr, "setup in %s failed: %s (%s)\n", dir,
			strerror(-rc), hmf_errmsg());
		bench_fini(&b);
		return 1;
	}
	printf("bench_lib: %" PRIu64 " MiB of int64 in %s, %" PRIu64
	       " rounds per group after a warm-up round (order rotates), median shown\n",
	       size_mb, dir, nrounds);
	printf("page cache kept hot (nothing dropped; an untimed read() pass "
	       "over both files before each read case);\nwrites not fsync'ed "
	       "(an untimed syncfs before every case)\n\n");
	rc = run_all(&b, (int)nrounds);
	if (rc == 0) {
		print_table(&b, (int)nrounds);
		printf("(vs base: base median / median, i.e. throughput "
		       "relative to the * row; faults: minor page faults)\n");
		print_verdict((int)nrounds);
		if (verbose)
			print_rounds((int)nrounds);
	}
	bench_fini(&b);
	return rc < 0 ? 1 : 0;
}
