/* SPDX-License-Identifier: MIT */
/*
 * bench_csv.c - the speed of hmf_csv_read on a generated numeric table
 * like the ingest examples: id int64, station int64 (1000 distinct), t, a,
 * b, c float64 and flag (read as int32 through an explicit dtype). Floats
 * are written either rounded to 6 decimals (as pandas writes
 * np.round(x, 6)) or with all 17 significant digits (%.17g), the hard case
 * for float parsing. The page cache is warm (the file is read once before
 * timing); each configuration runs N rounds and the median is reported in
 * MB/s of CSV (wall clock) and in MB per CPU-second (user + system time of
 * the process during the read, i.e. per core: other load on the machine
 * hardly moves it). Memory: the anonymous memory held once the table is
 * read (the column arrays) is printed; /usr/bin/time -v on one
 * configuration (--style, --threads) gives the peak RSS, which also
 * counts the page-cache pages of the mapped CSV.
 *
 * Usage: bench_csv [--rows N (4000000)] [--dir DIR (.)] [--rounds N (3)]
 *                  [--threads LIST (1,2)] [--style 6|17|both (both)]
 *                  [--keep (leave the CSV files)]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hmf.h"
#include "hmf/table.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
	/* xorshift64*: reproducible, no libc state */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static double uniform(void)
{
	return (double)(next_u64() >> 11) / 9007199254740992.0;
}

static double randn(void)
{
	double u = uniform(), v = uniform();

	return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* @x as pandas writes a value rounded to 6 decimals ("-0.123457", "2.0") */
static int fmt6(char *buf, size_t size, double x)
{
	int n = snprintf(buf, size, "%.6f", x);

	while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.')
		n--;
	buf[n] = '\0';
	return n;
}

static int fmt_float(char *buf, size_t size, double x, int style)
{
	if (style == 6)
		return fmt6(buf, size, x);
	return snprintf(buf, size, "%.17g", x);
}

static int generate(const char *path, uint64_t rows, int style)
{
	char a[40], b[40], c[40], t[40];
	uint64_t i;
	FILE *f;

	f = fopen(path, "w");
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	fputs("id,station,t,a,b,c,flag\n", f);
	for (i = 0; i < rows; i++) {
		fmt_float(t, sizeof(t), (double)i * 0.25 + uniform(), style);
		fmt_float(a, sizeof(a), randn(), style);
		fmt_float(b, sizeof(b), randn() * 100, style);
		fmt_float(c, sizeof(c), randn() * 1e-3, style);
		fprintf(f, "%llu,%llu,%s,%s,%s,%s,%d\n",
			(unsigned long long)(1000000 + i),
			(unsigned long long)(next_u64() % 1000), t, a, b, c,
			(int)(next_u64() & 1));
	}
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void warm(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* user + system seconds of this process so far (user alone in *@user) */
static double cpu_time(double *user)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
	return *user + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec * 1e-6;
}

/* This process's resident anonymous memory in MB (RssAnon), or -1. */
static double rss_anon_mb(void)
{
	char line[256];
	double kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lf kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * One timed read: returns wall seconds (and CPU seconds in *@cpu), or a
 * negative value on failure.
 */
static double read_once(const char *path, unsigned threads, uint64_t rows,
			double *cpu, double *user, double *anon)
{
	static const char *const dcols[] = { "flag" };
	struct hmf_table_opts o = { .delimiter = ',', .header = true };
	struct hmf_dtype i4;
	struct hmf_table t = { 0 };
	double t0, t1, c0, u0, u1;
	int fd, rc;

	hmf_dtype_parse("<i4", &i4);
	o.threads = threads;
	o.dtype_cols = dcols;
	o.dtypes = &i4;
	o.ndtypes = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	c0 = cpu_time(&u0);
	t0 = now();
	rc = hmf_csv_read(fd, &o, NULL, &t);
	t1 = now();
	*cpu = cpu_time(&u1) - c0;
	*user = u1 - u0;
	*anon = rss_anon_mb();
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "bench_csv: %s\n", hmf_errmsg());
		return -1;
	}
	if (t.nrows != rows || t.ncols != 7 ||
	    strcmp(t.cols[2].dtype.str, "<f8") != 0 ||
	    strcmp(t.cols[0].dtype.str, "<i8") != 0 ||
	    strcmp(t.cols[6].dtype.str, "<i4") != 0) {
		fprintf(stderr, "bench_csv: unexpected table\n");
		hmf_table_fini(&t);
		return -1;
	}
	hmf_table_fini(&t);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rows", required_argument, NULL, 'r' },
		{ "dir", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "style", required_argument, NULL, 's' },
		{ "keep", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ".", *tlist = "1,2", *style = "both";
	unsigned long long rows = 4000000;
	int rounds = 3, keep = 0, c, s, i;
	char path[4096], list[256], *tok, *save;
	double *secs, *cpus, *users, anon = 0;
	struct stat st;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rows = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			rounds = atoi(optarg);
			break;
		case 't':
			tlist = optarg;
			break;
		case 's':
			style = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		default:
			fprintf(stderr,
				"usage: bench_csv [--rows N] [--dir DIR] [--rounds N] [--threads 1,2] [--style 6|17|both] [--keep]\n");
			return 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	secs = calloc((size_t)rounds, sizeof(*secs));
	cpus = calloc((size_t)rounds, sizeof(*cpus));
	users = calloc((size_t)rounds, sizeof(*users));
	if (!secs || !cpus || !users)
		return 1;
	for (s = 6; s <= 17; s += 11) {
		if (strcmp(style, "both") != 0 && atoi(style) != s)
			continue;
		snprintf(path, sizeof(path), "%s/bench_csv_%d_%llu.csv", dir, s,
			 rows);
		if (stat(path, &st) < 0) {
			if (generate(path, rows, s) < 0 ||
			    stat(path, &st) < 0) {
				fprintf(stderr, "bench_csv: cannot write %s\n",
					path);
				return 1;
			}
		}
		warm(path);
		printf("%s: %llu rows, %.1f MB, floats %s\n", path, rows,
		       (double)st.st_size / 1e6,
		       s == 6 ? "rounded to 6 decimals" : "with 17 digits");
		snprintf(list, sizeof(list), "%s", tlist);
		for (tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			unsigned th = (unsigned)atoi(tok);
			double mbs;

			for (i = 0; i < rounds; i++) {
				secs[i] = read_once(path, th, rows, &cpus[i],
						    &users[i], &anon);
				if (secs[i] < 0)
					return 1;
			}
			qsort(secs, (size_t)rounds, sizeof(*secs), cmp_double);
			qsort(cpus, (size_t)rounds, sizeof(*cpus), cmp_double);
			qsort(users, (size_t)rounds, sizeof(*users),
			      cmp_double);
			mbs = (double)st.st_size / 1e6 / secs[rounds / 2];
			printf("  threads %u: %.3f s, %.0f MB/s (%.0f MB/s per thread), %.1f M rows/s; %.3f CPU-s (%.3f user), %.0f MB per CPU-second (%.0f per user-second); %.0f MB anonymous after the read\n",
			       th, secs[rounds / 2], mbs, mbs / (th ? th : 1),
			       (double)rows / 1e6 / secs[rounds / 2],
			       cpus[rounds / 2], users[rounds / 2],
			       (double)st.st_size / 1e6 / cpus[rounds / 2],
			       (double)st.st_size / 1e6 / users[rounds / 2],
			       anon);
			fflush(stdout);
		}
		if (!keep)
			unlink(path);
	}
	free(secs);
	free(cpus);
	free(users);
	return 0;
}
