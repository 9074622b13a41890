/* SPDX-License-Identifier: MIT */
/*
 * main.c - hmf-mount: parse options, open the HMF root, mount it and run
 * the multi-threaded FUSE session until unmount or a signal; then flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "hmf/ingest.h"

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_RO,
	KEY_SYNC,
};

#define OPT(t, field)                                                          \
	{                                                                      \
		t, offsetof(struct fs_options, field), 1                       \
	}

static const struct fuse_opt option_specs[] = {
	OPT("create", create),
	OPT("truncate", truncate),
	OPT("exclusive", exclusive),
	OPT("ctldir=visible", ctldir_visible),
	OPT("no_default_permissions", no_default_permissions),
	OPT("cached_writes", cached_writes),
	{ "read=splice", offsetof(struct fs_options, read_splice), 1 },
	{ "read=map", offsetof(struct fs_options, read_splice), 0 },
	{ "timeout=%lf", offsetof(struct fs_options, timeout), 0 },
	{ "readahead_kb=%u", offsetof(struct fs_options, readahead_kb), 0 },
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("sync", KEY_SYNC),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	/*
	 * Generic mount options that an fstab line or mount.fuse3 may pass
	 * and libfuse 3.14 rejects: the kernel's defaults are what they ask.
	 */
	FUSE_OPT_KEY("relatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("norelatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("strictatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nostrictatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("lazytime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nolazytime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("diratime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nodiratime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("iversion", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noiversion", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("mand", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nomand", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("silent", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("loud", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

static bool show_help, show_version;

static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct fs_options *o = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		show_help = true;
		return 0;
	case KEY_VERSION:
		show_version = true;
		return 0;
	case KEY_RO:
		o->readonly = true;
		return 1; /* the kernel enforces it too */
	case KEY_SYNC:
		o->sync = true;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		if (!o->root) {
			o->root = strdup(arg);
			return 0;
		}
		if (!o->mountpoint) {
			o->mountpoint = strdup(arg);
			return 1; /* fuse_parse_cmdline wants it too */
		}
		fprintf(stderr, "hmf-mount: unexpected argument '%s'\n", arg);
		return -1;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s ROOT MOUNTPOINT [options]\n\n"
	       "Mount the HMF root ROOT at MOUNTPOINT: groups are directories, arrays\n"
	       "are files, attributes are extended attributes (user.<key>).\n\n"
	       "HMF options:\n"
	       "    -o create              make ROOT an HMF root if it is missing or empty\n"
	       "    -o truncate            erase ROOT (an HMF root or empty) and start anew\n"
	       "    -o exclusive           no other writer of ROOT: long kernel caching\n"
	       "    -o ctldir=visible      list the control directory /.hmf in readdir\n"
	       "    -o timeout=SECS        entry/attribute cache timeout (default 1, or\n"
	       "                           3600 with exclusive)\n"
	       "    -o read=map|splice     answer reads from a mapping (default) or by\n"
	       "                           splicing from the backing file\n"
	       "    -o readahead_kb=N      kernel readahead for client mmap (default 1024)\n"
	       "    -o cached_writes       write-only opens use the kernel page cache\n"
	       "                           (default: they write directly, which is faster)\n"
	       "    -o no_default_permissions  let the daemon, not the mode bits, decide\n"
	       "    -o ro                  read-only mount\n"
	       "    -o sync                fsync metadata on every change\n\n",
	       prog);
}

static void log_to_syslog(enum hmf_log_level level, const char *msg)
{
	syslog((int)level, "%s", msg);
}

/* Raise the mount's readahead so that client mmaps read in large blocks. */
static void set_readahead(const char *mountpoint, unsigned kb)
{
	char real[PATH_MAX], line[PATH_MAX * 2], mnt[PATH_MAX], dev[64] = "";
	char path[128];
	unsigned major, minor;
	FILE *f;
	int fd;

	if (!realpath(mountpoint, real) ||
	    !(f = fopen("/proc/self/mountinfo", "re")))
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &major, &minor,
			   mnt) == 3 &&
		    strcmp(mnt, real) == 0)
			snprintf(dev, sizeof(dev), "%u:%u", major, minor);
	fclose(f);
	if (!dev[0])
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "%u", kb);
	if (write(fd, line, strlen(line)) < 0)
		hmf_log(HMF_LOG_DEBUG, "cannot set readahead on %s", path);
	close(fd);
}

static void *clean_leftovers(void *arg)
{
	struct fs_daemon *d = arg;
	size_t n = 0;

	/* an hour old: surely not a creation still in progress elsewhere */
	if (hmf_root_clean_stoppable(d->root, 3600, &d->stop_cleaner, &n) ==
		    0 &&
	    n)
		hmf_log(HMF_LOG_INFO, "removed %zu leftover temporary entries",
			n);
	return NULL;
}

/* Add "-ofsname=ROOT", with the commas that would split it escaped. */
static int add_fsname(struct fuse_args *args, const char *root)
{
	char buf[PATH_MAX * 2 + 16], *o = buf;
	const char *p;

	o += sprintf(o, "-ofsname=");
	for (p = root; *p && o < buf + sizeof(buf) - 3; p++) {
		if (*p == ',' || *p == '\\')
			*o++ = '\\';
		*o++ = *p;
	}
	*o = '\0';
	return fuse_opt_add_arg(args, buf);
}

static int run(struct fs_daemon *d, struct fuse_args *args,
	       struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *cfg;
	struct hmf_node *rootnode;
	int rc;

	rc = hmf_node_open_root(d->root, &rootnode);
	if (rc == 0)
		rc = fs_inodes_init(d, rootnode);
	if (rc < 0) {
		fprintf(stderr, "hmf-mount: %s\n", hmf_errmsg());
		return 1;
	}
	d->se = fuse_session_new(args, &fs_mount_ops, sizeof(fs_mount_ops), d);
	if (!d->se)
		return 1;
	rc = 1;
	if (fuse_set_signal_handlers(d->se) != 0)
		goto out_session;
	if (fuse_session_mount(d->se, cmd->mountpoint) != 0)
		goto out_handlers;
	if (geteuid() == 0)
		set_readahead(cmd->mountpoint, d->opt.readahead_kb);
	if (!cmd->foreground) {
		openlog("hmf-mount", LOG_PID, LOG_DAEMON);
		hmf_log_set_handler(log_to_syslog);
	}
	if (fuse_daemonize(cmd->foreground) != 0)
		goto out_unmount;
	if (!d->opt.readonly)
		d->cleaner_started = pthread_create(&d->cleaner, NULL,
						    clean_leftovers, d) == 0;
	if (fs_evictor_start(d) < 0)
		hmf_log(HMF_LOG_WARNING,
			"no evictor thread: the number of inodes is bounded by the fd limit");
	/* a source truncated under a job fails the job, not the daemon */
	if (hmf_ingest_catch_sigbus() < 0)
		hmf_log(HMF_LOG_WARNING,
			"no SIGBUS handler for ingest sources");
	d->singlethread = cmd->singlethread;
	if (cmd->singlethread) {
		rc = fuse_session_loop(d->se);
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, (unsigned)cmd->clone_fd);
		if (cmd->max_idle_threads != UINT_MAX) /* UINT_MAX: unset */
			fuse_loop_cfg_set_idle_threads(cfg,
						       cmd->max_idle_threads);
		fuse_loop_cfg_set_max_threads(
			cfg, cmd->max_threads && cmd->max_threads <= 1000
				     ? cmd->max_threads
				     : 10);
		rc = fuse_session_loop_mt(d->se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* a signal (SIGTERM, SIGINT, SIGHUP) is a normal way to stop */
	rc = rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
	fs_evictor_stop(d);
	fs_jobs_stop(d);
	if (d->cleaner_started) {
		atomic_store(&d->stop_cleaner, 1);
		pthread_join(d->cleaner, NULL);
	}
out_unmount:
	fuse_session_unmount(d->se);
out_handlers:
	fuse_remove_signal_handlers(d->se);
out_session:
	fuse_session_destroy(d->se);
	if (!d->opt.readonly && hmf_sync(d->root) < 0)
		hmf_log(HMF_LOG_ERR, "flushing %s failed", d->opt.root);
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct fs_daemon *d = calloc(1, sizeof(*d));
	unsigned flags = 0;
	int rc = 1;

	if (!d)
		return 1;
	d->opt.timeout = -1;
	d->opt.readahead_kb = 1024;
	if (fuse_opt_parse(&args, &d->opt, option_specs, option_proc) != 0)
		return 2;
	if (show_version) {
		printf("hmf-mount %s (libhmf format %d, FUSE %s)\n",
		       HMF_VERSION, HMF_FORMAT_VERSION, fuse_pkgversion());
		return 0;
	}
	if (show_help) {
		usage(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 0;
	}
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		return 2;
	if (!d->opt.root || !cmd.mountpoint) {
		fprintf(stderr,
			"usage: %s ROOT MOUNTPOINT [options] (see --help)\n",
			argv[0]);
		return 2;
	}
	if (d->opt.timeout < 0)
		d->opt.timeout = d->opt.exclusive ? 3600 : 1;
	if (d->opt.readonly)
		flags |= HMF_ROOT_RDONLY;
	if (d->opt.create)
		flags |= HMF_ROOT_CREATE;
	if (d->opt.truncate)
		flags |= HMF_ROOT_TRUNCATE;
	/*
	 * Modes come from the caller; the daemon's own umask must not bite
	 * (and libhmf reads it at open).
	 */
	umask(0);
	if (hmf_root_open(d->opt.root, flags, &d->root) < 0) {
		fprintf(stderr, "hmf-mount: %s\n", hmf_errmsg());
		goto out_free;
	}
	if ((!d->opt.no_default_permissions &&
	     fuse_opt_add_arg(&args, "-odefault_permissions") != 0) ||
	    add_fsname(&args, d->opt.root) != 0 ||
	    fuse_opt_add_arg(&args, "-osubtype=hmf") != 0)
		goto out_close;
	pthread_mutex_init(&d->log_lock, NULL);
	pthread_mutex_init(&d->jobs_lock, NULL);
	pthread_cond_init(&d->jobs_cond, NULL);
	clock_gettime(CLOCK_REALTIME, &d->started);
	d->is_root = geteuid() == 0;
	rc = run(d, &args, &cmd);
	fs_inodes_fini(d);
	while (d->nlogged > 0)
		free(d->logged[--d->nlogged]);
	free(d->logged);
out_close:
	hmf_close(d->root);
out_free:
	fuse_opt_free_args(&args);
	free(cmd.mountpoint);
	free(d->opt.root);
	free(d->opt.mountpoint);
	free(d);
	return rc;
}
