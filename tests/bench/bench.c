/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench: the branchfs performance benchmark (not a timed test).
 *
 *   bench [--quick] [--repeat N] [--only W[,W...]] [--json FILE]
 *         [--daemon PATH] [--floor PATH] [--floor-opts OPTS] [--overlay PATH]
 *         [--timeout S] [--dir DIR] [--keep] [--markdown] [--list]
 *
 * Runs every workload of the performance issue on a plain directory,
 * through a branch of branchfs, on fuse-overlayfs and on a trivial FUSE
 * passthrough, prints medians and speed ratios, and the latency tables of
 * branch operations.  This file is the supervisor: each workload runs in a
 * child (its own process group) with a time limit; whatever the child leaves
 * mounted or running is removed here, also on SIGINT/SIGTERM.
 *
 * Exit status: 0 every workload ran, 1 some workload failed or timed out
 * (missed performance targets are reported, not failures), 2 usage.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const bench_target_name[BT_COUNT] = { "native", "branchfs", "overlay", "floor" };

struct workload {
	const char *name;
	const char *what;
	void (*run)(struct bench_ctx *c);
};

static const struct workload workloads[] = {
	{ "roundtrip", "one FUSE request, and a process wake-up: the latency floor",
	  bench_wl_roundtrip },
	{ "create", "branch creation latency against base size and parent changes",
	  bench_wl_create },
	{ "commit", "commit latency against change size", bench_wl_commit },
	{ "abort", "abort latency against branch size", bench_wl_abort },
	{ "depth", "first read of a base file against nesting depth", bench_wl_depth },
	{ "read-warm", "warm re-reads of files the branch did not change", bench_wl_read_warm },
	{ "read-cold", "cold sequential reads of files the branch did not change",
	  bench_wl_read_cold },
	{ "write-fsync", "sequential writes then fsync", bench_wl_write_fsync },
	{ "small-write", "4 KiB buffered writes", bench_wl_small_write },
	{ "meta", "create, stat, readdir, unlink of small files", bench_wl_meta },
	{ "links", "many hard links to one file, made then removed", bench_wl_links },
	{ "walk", "walk of a source tree, cold and cached", bench_wl_walk },
	{ "walk-linked", "walk of a tree whose files are hard-linked from a store (pnpm)",
	  bench_wl_walk_linked },
	{ "git-status", "git status in a checkout", bench_wl_git_status },
	{ "walk-100k", "a 100,000-file tree walked twice (file descriptors)", bench_wl_walk_100k },
};
#define NWL ((int)(sizeof(workloads) / sizeof(workloads[0])))

static volatile sig_atomic_t stop_signal;
static pid_t child_pgid;
static const struct bench_opts *cleanup_opts;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench [--quick] [--repeat N] [--only W[,W...]] [--json FILE]\n"
		"             [--daemon PATH] [--floor PATH] [--floor-opts OPTS] [--overlay PATH]\n"
		"             [--timeout S] [--dir DIR] [--keep] [--markdown] [--list]\n"
		"\n"
		"  --quick         tiny sizes (CI smoke run)\n"
		"  --repeat N      repetitions per workload and target (default 5, quick 3)\n"
		"  --only LIST     run only these workloads (see --list)\n"
		"  --json FILE     also write the results as JSON\n"
		"  --daemon PATH   branchfsd to measure (default: the one built with this)\n"
		"  --floor PATH    the trivial passthrough (default: bench_passthrough beside "
		"this)\n"
		"  --overlay PATH  fuse-overlayfs (default: from PATH; skipped when missing)\n"
		"  --timeout S     time limit per workload (default 1800, quick 40)\n"
		"  --dir DIR       where to make the scratch directory (default $BFS_TEST_TMP,\n"
		"                  $TMPDIR or /tmp); storage and base share its filesystem\n"
		"  --keep          keep the scratch directory\n"
		"  --markdown      print the tables as Markdown\n"
		"  --list          list the workloads\n");
}

static bool selected(const char *only, const char *name)
{
	size_t len = strlen(name);

	if (!only)
		return true;
	for (const char *p = only; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len && !strncmp(p, name, n))
			return true;
		p += n + (end ? 1 : 0);
	}
	return false;
}

static const char *find_in_path(const char *prog, char *out)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (char *dir = strtok(buf, ":"); dir; dir = strtok(NULL, ":")) {
		snprintf(out, PATH_MAX, "%s/%s", dir, prog);
		if (access(out, X_OK) == 0)
			return out;
	}
	return NULL;
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'w' },
		{ "json", required_argument, NULL, 'j' },
		{ "daemon", required_argument, NULL, 'd' },
		{ "floor", required_argument, NULL, 'f' },
		{ "overlay", required_argument, NULL, 'O' },
		{ "floor-opts", required_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 't' },
		{ "dir", required_argument, NULL, 'D' },
		{ "keep", no_argument, NULL, 'k' },
		{ "list", no_argument, NULL, 'l' },
		{ "markdown", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char floor_buf[PATH_MAX], overlay_buf[PATH_MAX], self[PATH_MAX];
	const char *dir = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			o->quick = true;
			break;
		case 'r':
			o->repeat = atoi(optarg);
			if (o->repeat < 1 || o->repeat > 100)
				return -1;
			break;
		case 'w':
			o->only = optarg;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'd':
			o->daemon = optarg;
			break;
		case 'f':
			o->floor = optarg;
			break;
		case 'O':
			o->overlay = optarg;
			break;
		case 'F':
			o->floor_opts = optarg;
			break;
		case 't':
			o->timeout = atoi(optarg);
			if (o->timeout < 1)
				return -1;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'm':
			o->markdown = true;
			break;
		case 'l':
			for (int i = 0; i < NWL; i++)
				printf("%-12s %s\n", workloads[i].name, workloads[i].what);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	for (const char *p = o->only; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int i;

		for (i = 0; i < NWL; i++)
			if (strlen(workloads[i].name) == n && !strncmp(p, workloads[i].name, n))
				break;
		if (i == NWL) {
			fprintf(stderr, "bench: unknown workload '%.*s' (see --list)\n", (int)n, p);
			return -1;
		}
		p += n + (end ? 1 : 0);
	}
	if (!o->repeat)
		o->repeat = o->quick ? 3 : 5;
	if (!o->timeout)
		o->timeout = o->quick ? 40 : 1800;
	if (!o->daemon)
		o->daemon = BFS_DAEMON_PATH;
	if (!o->floor) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[n > 0 ? n : 0] = '\0';
		snprintf(floor_buf, sizeof(floor_buf), "%s/bench_passthrough", dirname(self));
		o->floor = floor_buf;
	}
	if (!o->overlay)
		o->overlay = find_in_path("fuse-overlayfs", overlay_buf);
	if (!dir)
		dir = getenv("BFS_TEST_TMP");
	if (!dir || !dir[0])
		dir = getenv("TMPDIR");
	if (!dir || !dir[0])
		dir = "/tmp";
	snprintf(o->scratch, sizeof(o->scratch), "%s/bench.XXXXXX", dir);
	return 0;
}

/* Detach every mount below the scratch directory, deepest first. */
static void sweep_mounts(const char *scratch)
{
	char line[2 * PATH_MAX], dev[PATH_MAX], mnt[PATH_MAX];
	char found[64][PATH_MAX];
	size_t len = strlen(scratch);
	int n = 0;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return;
	while (n < 64 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%4095s %4095s", dev, mnt) == 2 && !strncmp(mnt, scratch, len) &&
		    mnt[len] == '/')
			snprintf(found[n++], PATH_MAX, "%s", mnt);
	fclose(f);
	while (n-- > 0) {
		char *argv[] = { "fusermount3", "-uz", found[n], NULL };

		if (bench_run(NULL, NULL, argv) != 0)
			umount2(found[n], MNT_DETACH);
	}
}

/* Kill what the current workload child left, detach its mounts. */
static void cleanup_child(void)
{
	if (child_pgid > 0) {
		kill(-child_pgid, SIGKILL);
		while (waitpid(-child_pgid, NULL, WNOHANG) > 0)
			;
		child_pgid = 0;
	}
	if (cleanup_opts && cleanup_opts->scratch[0])
		sweep_mounts(cleanup_opts->scratch);
}

static void cleanup_all(void)
{
	cleanup_child();
	if (cleanup_opts && cleanup_opts->scratch[0] && !cleanup_opts->keep)
		bench_rm_rf(cleanup_opts->scratch);
}

static void run_child(const struct bench_opts *o, struct bench_results *res, int wl)
{
	struct bench_ctx c = { .o = o, .res = res, .wl = wl, .wl_name = workloads[wl].name };
	struct sigaction sa = { .sa_handler = SIG_DFL };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	snprintf(c.dir, sizeof(c.dir), "%s/%s", o->scratch, workloads[wl].name);
	if (bench_mkdirs(c.dir)) {
		bench_wl_error(&c, "cannot make %s", c.dir);
		_exit(1);
	}
	/* What earlier workloads wrote and deleted is on disk before this
	 * one starts, so the kernel does not flush it during its samples. */
	sync();
	workloads[wl].run(&c);
	bench_rm_rf(c.dir);
	fflush(NULL);
	_exit(0);
}

/* Run workload wl in a child bounded by o->timeout. */
static void run_workload(const struct bench_opts *o, struct bench_results *res, int wl)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	double start = bench_now(), end = start + o->timeout;
	char dir[PATH_MAX];
	int status = 0;
	pid_t pid;

	fprintf(stderr, "bench: %-12s ...\n", workloads[wl].name);
	res->wl_ran[wl] = true;
	pid = fork();
	if (pid < 0) {
		snprintf(res->wl_error[wl], sizeof(res->wl_error[wl]), "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		setpgid(0, 0);
		run_child(o, res, wl);
	}
	setpgid(pid, pid);
	child_pgid = pid;
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (stop_signal || bench_now() > end) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			if (!stop_signal)
				snprintf(res->wl_error[wl], sizeof(res->wl_error[wl]),
					 "timed out after %d s and was killed", o->timeout);
			break;
		}
		nanosleep(&ts, NULL);
	}
	res->wl_seconds[wl] = bench_now() - start;
	if (!res->wl_error[wl][0] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		snprintf(res->wl_error[wl], sizeof(res->wl_error[wl]), "child %s %d",
			 WIFSIGNALED(status) ? "killed by signal" : "exited with status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	cleanup_child();
	bench_rm_rf(bench_join(dir, o->scratch, workloads[wl].name));
	fprintf(stderr, "bench: %-12s %.1f s%s%s\n", workloads[wl].name, res->wl_seconds[wl],
		res->wl_error[wl][0] ? ": " : "", res->wl_error[wl]);
}

static bool failed(const struct bench_results *res)
{
	for (int i = 0; i < NWL; i++)
		if (res->wl_error[i][0])
			return true;
	for (int i = 0; i < res->nrows; i++) {
		const struct bench_row *r = &res->row[i];

		if (r->error[BT_NATIVE][0] || r->error[BT_BRANCHFS][0] || r->error[BT_FLOOR][0])
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	static struct bench_opts o;
	const char *names[NWL];
	struct bench_results *res;
	struct sigaction sa = { .sa_handler = on_signal };
	char real[PATH_MAX];
	int ret = 0;

	if (parse(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	if (access(o.daemon, X_OK) || access(o.floor, X_OK)) {
		fprintf(stderr, "bench: cannot run %s\n",
			access(o.daemon, X_OK) ? o.daemon : o.floor);
		return 1;
	}
	if (!o.overlay)
		fprintf(stderr, "bench: fuse-overlayfs not found, the overlay column is skipped\n");
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED || !mkdtemp(o.scratch) || !realpath(o.scratch, real)) {
		fprintf(stderr, "bench: cannot set up: %s\n", strerror(errno));
		return 1;
	}
	snprintf(o.scratch, sizeof(o.scratch), "%s", real);
	cleanup_opts = &o;
	atexit(cleanup_all);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (int i = 0; i < NWL; i++) {
		names[i] = workloads[i].name;
		if (selected(o.only, workloads[i].name) && !stop_signal)
			run_workload(&o, res, i);
	}
	if (stop_signal) {
		fprintf(stderr, "bench: interrupted by signal %d\n", (int)stop_signal);
		return 128 + stop_signal;
	}
	bench_report_print(res, &o, names, NWL);
	if (o.json && bench_report_json(res, &o, names, NWL, o.json)) {
		fprintf(stderr, "bench: cannot write %s: %s\n", o.json, strerror(errno));
		ret = 1;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "bench: cannot write the report: %s\n", strerror(errno));
		ret = 1;
	}
	return ret ? ret : failed(res) ? 1 : 0;
}
