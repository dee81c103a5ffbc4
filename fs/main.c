/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfsd: the daemon serving one branchfs mount.
 *
 *   branchfsd [--base DIR] [--storage DIR] [--max-storage SIZE] [-o OPTS] [-f] [-d]
 *             [--keep] MNT
 *   branchfsd SOURCE MNT -o base=DIR[,storage=DIR][,OPTS]   (mount.fuse form)
 *
 * The storage is opened (and an interrupted commit finished) before the
 * mount exists, so errors reach the caller; then the daemon detaches (its
 * stdio goes to /dev/null; messages go to syslog) and serves until
 * unmounted.  A clean exit discards branches unless --keep.
 */
#include "ll.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct cmdline {
	const char *base;
	const char *storage;
	const char *mnt;
	struct bfsd_buf fuse_opts; /* passed to libfuse */
	bool foreground;
	bool debug;
	bool keep;
	bool durable;
	const char *max_storage;
	double main_timeout;
	double branch_timeout;
	char storage_buf[PATH_MAX];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: branchfsd [--base DIR] [--storage DIR] [--max-storage SIZE] [-o OPTS]\n"
		"                 [-f] [-d] [--keep] MNT\n"
		"       branchfsd SOURCE MNT -o base=DIR[,storage=DIR][,OPTS]\n"
		"\n"
		"Serve a branchfs mount of DIR (default: MNT itself) at MNT.  OPTS are\n"
		"FUSE mount options\n"
		"(allow_other, ...) and base=, storage=, max_storage=, keep, durable,\n"
		"main_timeout=S,\n"
		"branch_timeout=S.\n");
}

/* Split -o OPTS: ours are taken, the rest go to libfuse. */
static int take_opts(struct cmdline *c, char *opts)
{
	for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
		if (!strncmp(tok, "base=", 5))
			c->base = tok + 5;
		else if (!strncmp(tok, "storage=", 8))
			c->storage = tok + 8;
		else if (!strcmp(tok, "keep"))
			c->keep = true;
		else if (!strcmp(tok, "durable"))
			c->durable = true;
		else if (!strncmp(tok, "max_storage=", 12))
			c->max_storage = tok + 12;
		else if (!strncmp(tok, "main_timeout=", 13))
			c->main_timeout = atof(tok + 13);
		else if (!strncmp(tok, "branch_timeout=", 15))
			c->branch_timeout = atof(tok + 15);
		else if (bfsd_buf_addf(&c->fuse_opts, ",%s", tok))
			return -ENOMEM;
	}
	return 0;
}

static int parse(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "storage", required_argument, NULL, 's' },
		{ "keep", no_argument, NULL, 'k' },
		{ "durable", no_argument, NULL, 'D' },
		{ "max-storage", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	c->main_timeout = 1.0;
	c->branch_timeout = 86400.0;
	while ((opt = getopt_long(argc, argv, "o:fdh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			c->base = optarg;
			break;
		case 's':
			c->storage = optarg;
			break;
		case 'k':
			c->keep = true;
			break;
		case 'D':
			c->durable = true;
			break;
		case 'm':
			c->max_storage = optarg;
			break;
		case 'o':
			if (take_opts(c, optarg))
				return -1;
			break;
		case 'd':
			c->debug = true;
			/* fallthrough */
		case 'f':
			c->foreground = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("branchfsd %s\n", BFS_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	/* "SOURCE MNT" (mount helper) or "MNT". */
	if (argc - optind == 2)
		optind++;
	if (argc - optind != 1) {
		usage(stderr);
		return -1;
	}
	c->mnt = argv[optind];
	/* No base: branch the mount point's own contents, in place. */
	if (!c->base)
		c->base = c->mnt;
	return 0;
}

/* Default storage: one directory per base, under /var/lib/branchfs for
 * root and $XDG_STATE_HOME/branchfs (~/.local/state/branchfs) otherwise. */
static int default_storage(struct cmdline *c)
{
	char real[PATH_MAX], root[PATH_MAX];
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME"), *base;
	int n;

	if (!realpath(c->base, real))
		return -errno;
	if (geteuid() == 0)
		snprintf(root, sizeof(root), "/var/lib/branchfs");
	else if (state && state[0])
		snprintf(root, sizeof(root), "%s/branchfs", state);
	else
		snprintf(root, sizeof(root), "%s/.local/state/branchfs", home ? home : "/tmp");
	base = strrchr(real, '/');
	base = base && base[1] ? base + 1 : "root";
	n = snprintf(c->storage_buf, sizeof(c->storage_buf), "%s/%s-%016llx", root, base,
		     (unsigned long long)bfsd_hash(real, strlen(real)));
	if (n >= (int)sizeof(c->storage_buf))
		return -ENAMETOOLONG;
	c->storage = c->storage_buf;
	return 0;
}

/* The real path of path, or of its parent with its last name appended
 * (a storage directory the first mount makes); false when neither is. */
static bool real_path(const char *path, char *out)
{
	char parent[PATH_MAX];
	const char *name = strrchr(path, '/');
	size_t n;

	if (realpath(path, out))
		return true;
	if (errno != ENOENT || strlen(path) >= sizeof(parent))
		return false;
	n = name ? (size_t)(name - path) : 0;
	memcpy(parent, path, n);
	parent[n] = '\0';
	if (!realpath(n ? parent : name ? "/" : ".", out))
		return false;
	n = strlen(out);
	return snprintf(out + n, PATH_MAX - n, "%s%s", out[n - 1] == '/' ? "" : "/",
			name ? name + 1 : path) < (int)(PATH_MAX - n);
}

/* Is path dir or below it? */
static bool within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strcmp(dir, "/") || (!strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/'));
}

/*
 * Places that cannot work together, refused before anything is made: a
 * storage inside the base would show through main (and be changed and
 * committed through it), and a mount point below the base would show
 * itself inside itself, without end.  Mounting on the base itself (in
 * place) is fine: the daemon reads the base from beneath its own mount.
 */
static int check_places(const struct cmdline *c)
{
	char base[PATH_MAX], storage[PATH_MAX], mnt[PATH_MAX];

	if (!realpath(c->base, base))
		return 0; /* bfsd_fs_open says why */
	if (real_path(c->storage, storage) && within(storage, base)) {
		fprintf(stderr,
			"branchfsd: storage %s is inside the base %s: main would show the "
			"branches' data; choose a storage outside the base\n",
			storage, base);
		return -EINVAL;
	}
	if (realpath(c->mnt, mnt) && within(mnt, base) && strcmp(mnt, base)) {
		fprintf(stderr,
			"branchfsd: %s is inside its base %s: the mount would "
			"contain itself; mount on the base itself or outside it\n",
			mnt, base);
		return -EINVAL;
	}
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Walks of a tree (a commit's plan, main keeping a moved tree for its
 * branches, a fold) recurse once per level, up to 12.5 KiB a level, and a
 * path of PATH_MAX bytes can be 2,048 levels deep: about 26 MiB.  A
 * commit of a change 300 levels deep overran a worker's 8 MiB stack
 * (33 KiB a level then).  Every thread gets BFSD_STACK (libfuse's workers
 * and ours take the default), the main thread too (its stack grows up to
 * the limit).  Address space only: pages are used as they are touched.
 */
#define BFSD_STACK (64UL << 20)

static void raise_stack(void)
{
	pthread_attr_t attr;
	struct rlimit rl;

	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur < BFSD_STACK) {
		rl.rlim_cur = rl.rlim_max < BFSD_STACK ? rl.rlim_max : BFSD_STACK;
		setrlimit(RLIMIT_STACK, &rl);
	}
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setstacksize(&attr, BFSD_STACK);
		pthread_setattr_default_np(&attr);
		pthread_attr_destroy(&attr);
	}
}

static int serve(struct cmdline *c, struct bfsd_mount *m)
{
	char *argv[] = { "branchfsd", "-o", NULL, c->debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(c->debug ? 4 : 3, argv);
	struct fuse_loop_config *cfg;
	struct bfsd_buf opts = { 0 };
	int ret = 1;

	if (bfsd_buf_addf(&opts, "default_permissions,fsname=branchfs,subtype=branchfs%s",
			  c->fuse_opts.data ? c->fuse_opts.data : ""))
		return 1;
	argv[2] = opts.data;
	m->se = fuse_session_new(&args, &bfsd_ll_ops, sizeof(bfsd_ll_ops), m);
	if (!m->se)
		goto out_free;
	if (fuse_set_signal_handlers(m->se))
		goto out_destroy;
	if (fuse_session_mount(m->se, c->mnt)) {
		fprintf(stderr, "branchfsd: cannot mount %s\n", c->mnt);
		goto out_signals;
	}
	if (bfsd_ll_io_attach(m)) {
		fprintf(stderr, "branchfsd: cannot serve %s\n", c->mnt);
		goto out_unmount;
	}
	fuse_daemonize(c->foreground);
	bfsd_log_stderr = c->foreground;
	if (bfsd_store_start_reclaimer(m->fs))
		bfsd_warn("no reclaimer thread: aborted branches are freed at unmount");
	if (bfsd_commits_start(m))
		bfsd_warn("no commit thread: commits run in the session's threads");
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, 32);
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	ret = fuse_session_loop_mt(m->se, cfg) ? 1 : 0;
	fuse_loop_cfg_destroy(cfg);
	bfsd_commits_stop(m);
	bfsd_inval_stop(m);
	m->served = true;
out_unmount:
	fuse_session_unmount(m->se);
out_signals:
	fuse_remove_signal_handlers(m->se);
out_destroy:
	fuse_session_destroy(m->se);
	m->se = NULL;
out_free:
	fuse_opt_free_args(&args);
	bfsd_buf_free(&opts);
	return ret;
}

int main(int argc, char **argv)
{
	struct cmdline c = { 0 };
	struct bfsd_options opt = { 0 };
	struct bfsd_mount m = { 0 };
	int ret;

	openlog("branchfsd", LOG_PID, LOG_DAEMON);
	/* Every object we make gets an explicit mode; callers' umasks are
	 * applied per request (view.c). */
	umask(0);
	/* Why a start fails reaches whoever started us (libbranchfs shows it). */
	bfsd_log_stderr = true;
	if (getenv("BRANCHFSD_DEBUG"))
		bfsd_log_level = BFSD_LOG_DEBUG;
	if (parse(argc, argv, &c))
		return 2;
	if (!c.storage && (ret = default_storage(&c))) {
		fprintf(stderr, "branchfsd: cannot use base %s: %s\n", c.base, bfsd_strerror(-ret));
		return 1;
	}
	if (check_places(&c))
		return 1;
	raise_nofile();
	raise_stack();
	opt.base = c.base;
	opt.storage = c.storage;
	opt.keep = c.keep;
	opt.durable = c.durable;
	if (c.max_storage && bfsd_quota_parse(c.max_storage, &opt.quota)) {
		fprintf(stderr,
			"branchfsd: invalid storage limit '%s': use a size such as 512M or 10G\n",
			c.max_storage);
		return 2;
	}
	ret = bfsd_fs_open(&opt, &m.fs);
	if (ret) {
		fprintf(stderr, "branchfsd: cannot open base %s with storage %s: %s\n", c.base,
			c.storage, bfsd_strerror(-ret));
		return 1;
	}
	m.fs->on_copyup = bfsd_inval_copyup;
	m.fs->on_preserved = bfsd_inval_preserved;
	m.fs->hook_ctx = &m;
	m.uid = getuid();
	m.gid = getgid();
	m.main_timeout = c.main_timeout;
	m.branch_timeout = c.branch_timeout;
	m.debug = c.debug;
	clock_gettime(CLOCK_REALTIME, &m.started);
	ret = bfsd_nodes_init(&m);
	if (!ret)
		ret = serve(&c, &m);
	if (m.served)
		bfsd_fs_unmounted(m.fs);
	bfsd_ll_lists_free(&m);
	bfsd_files_close_all(m.fs);
	bfsd_nodes_free(&m); /* their branch references first */
	bfsd_fs_close(m.fs);
	bfsd_buf_free(&c.fuse_opts);
	return ret;
}
