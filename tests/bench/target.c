/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Targets: lay out a workload's files, mount them, and take them down.
 *
 *   native    top/data, used directly
 *   branchfs  branchfsd -f --base top/base --storage top/storage top/mnt,
 *             the workload runs in top/mnt/@B/ (B made with the create ioctl)
 *   overlay   fuse-overlayfs -f -o lowerdir=top/lower,upperdir=..,workdir=..
 *   floor     bench_passthrough top/src top/mnt
 *
 * Daemons run in the foreground as children of the workload process (same
 * process group, SIGTERM when it dies), so the supervisor can always kill
 * them; every mount is below the run's scratch directory, which the
 * supervisor sweeps.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <branchfs/ioctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546
#define MOUNT_WAIT	 15.0 /* seconds for a daemon to answer */
#define UNMOUNT_WAIT	 30.0 /* seconds for a daemon to exit after unmount */

bool bench_target_enabled(const struct bench_opts *o, enum bench_target t)
{
	return t != BT_OVERLAY || o->overlay;
}

const char *bench_ctl_path(char *out, const struct bench_env *e, const char *branch)
{
	if (branch && branch[0])
		snprintf(out, PATH_MAX, "%s/@%s/%s", e->mnt, branch, BRANCHFS_CTL_NAME);
	else
		snprintf(out, PATH_MAX, "%s/%s", e->mnt, BRANCHFS_CTL_NAME);
	return out;
}

int bench_ioc_create(const char *ctl, char name[128])
{
	int fd = open(ctl, O_RDONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	memset(name, 0, BRANCHFS_NAME_BUF);
	if (ioctl(fd, FS_IOC_BRANCH_CREATE, name) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int bench_ioc(const char *ctl, unsigned long cmd)
{
	int fd = open(ctl, O_RDONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, NULL) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int bench_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool is_mounted(const struct bench_env *e)
{
	char ctl[PATH_MAX];
	struct statfs sf;
	struct stat st;

	if (statfs(e->mnt, &sf) || sf.f_type != FUSE_SUPER_MAGIC)
		return false;
	return e->t != BT_BRANCHFS || stat(bench_ctl_path(ctl, e, NULL), &st) == 0;
}

/* Start the daemon of e and wait until its mount answers. */
static int start_daemon(struct bench_env *e, char *const argv[])
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	char log[PATH_MAX];
	double end = bench_now() + MOUNT_WAIT;
	int status;

	e->pid = bench_spawn(bench_join(log, e->top, "daemon.log"), argv);
	if (e->pid < 0) {
		snprintf(e->error, sizeof(e->error), "cannot start %s: %s", argv[0],
			 strerror(-e->pid));
		e->pid = 0;
		return -1;
	}
	while (bench_now() < end) {
		if (is_mounted(e))
			return 0;
		if (bench_reap(e->pid, 0, &status)) {
			snprintf(e->error, sizeof(e->error),
				 "%s exited (status 0x%x) before mounting; see %s", argv[0], status,
				 log);
			e->pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	snprintf(e->error, sizeof(e->error), "%s did not mount within %.0f s", argv[0], MOUNT_WAIT);
	return -1;
}

static int mount_target(struct bench_ctx *c, struct bench_env *e)
{
	char storage[PATH_MAX], up[PATH_MAX], work[PATH_MAX], opt[3 * PATH_MAX + 64];

	switch (e->t) {
	case BT_NATIVE:
		return 0;
	case BT_BRANCHFS: {
		char *argv[] = { (char *)c->o->daemon, "-f",	"--base", e->base,
				 "--storage",	       storage, e->mnt,	  NULL };

		bench_join(storage, e->top, "storage");

		return start_daemon(e, argv);
	}
	case BT_OVERLAY: {
		char *argv[] = { (char *)c->o->overlay, "-f", "-o", opt, e->mnt, NULL };

		if (bench_mkdirs(bench_join(up, e->top, "upper")) ||
		    bench_mkdirs(bench_join(work, e->top, "work")))
			return -1;
		snprintf(opt, sizeof(opt), "lowerdir=%s,upperdir=%s,workdir=%s", e->base, up, work);
		return start_daemon(e, argv);
	}
	case BT_FLOOR: {
		char *argv[] = {
			(char *)c->o->floor, "-o", (char *)c->o->floor_opts, e->base, e->mnt, NULL
		};

		if (c->o->floor_opts)
			return start_daemon(e, argv);
		argv[1] = e->base;
		argv[2] = e->mnt;
		argv[3] = NULL;
		return start_daemon(e, argv);
	}
	default:
		return -1;
	}
}

static const char *base_name[BT_COUNT] = { "data", "base", "lower", "src" };

void bench_env_setup(struct bench_ctx *c, enum bench_target t, const char *tag, bench_fill_fn fill,
		     const void *arg, int flags, struct bench_env *e)
{
	char sub[PATH_MAX], ctl[PATH_MAX];
	int ret;

	memset(e, 0, sizeof(*e));
	e->t = t;
	snprintf(sub, sizeof(sub), "%s/%s-%s", c->dir, tag, bench_target_name[t]);
	snprintf(e->top, sizeof(e->top), "%s", sub);
	bench_join(e->base, e->top, base_name[t]);
	bench_join(e->mnt, e->top, "mnt");
	ret = bench_mkdirs(e->base);
	if (!ret && t != BT_NATIVE)
		ret = bench_mkdirs(e->mnt);
	if (!ret && fill)
		ret = fill(e->base, arg);
	if (ret) {
		snprintf(e->error, sizeof(e->error), "preparing %s: %s", e->base, strerror(-ret));
		return;
	}
	if (mount_target(c, e))
		goto out_teardown;
	snprintf(e->dir, sizeof(e->dir), "%s", t == BT_NATIVE ? e->base : e->mnt);
	if (t == BT_BRANCHFS && !(flags & BENV_NO_BRANCH)) {
		ret = bench_ioc_create(bench_ctl_path(ctl, e, NULL), e->branch);
		if (ret) {
			snprintf(e->error, sizeof(e->error), "FS_IOC_BRANCH_CREATE: %s",
				 strerror(-ret));
			goto out_teardown;
		}
		snprintf(e->dir, sizeof(e->dir), "%s/@%s", e->mnt, e->branch);
	}
	e->ok = true;
	return;
out_teardown:
	bench_env_teardown(e);
}

void bench_envs_setup(struct bench_ctx *c, const char *tag, bench_fill_fn fill, const void *arg,
		      bool only_bfs, struct bench_env *envs)
{
	for (int t = 0; t < BT_COUNT; t++) {
		if (!bench_target_enabled(c->o, t) || (only_bfs && t != BT_BRANCHFS)) {
			memset(&envs[t], 0, sizeof(envs[t]));
			envs[t].t = t;
			continue;
		}
		bench_env_setup(c, t, tag, fill, arg, 0, &envs[t]);
	}
	sync(); /* the trees just filled are not flushed during the samples */
}

/* Is something mounted at path (as /proc/self/mounts spells it)? */
static bool mounted_at(const char *path)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[2 * PATH_MAX], dev[PATH_MAX], mnt[PATH_MAX];
	bool found = false;

	if (!f)
		return true;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%4095s %4095s", dev, mnt) == 2 && !strcmp(mnt, path))
			found = true;
	fclose(f);
	return found;
}

/* Unmount; when busy (or asked), detach lazily.  0 when done. */
static int unmount(const char *mnt, bool lazy)
{
	char *argv[] = { "fusermount3", "-u", (char *)mnt, NULL };

	if (!lazy && bench_run(NULL, NULL, argv) == 0)
		return 0;
	argv[1] = "-uz";
	if (bench_run(NULL, NULL, argv) == 0)
		return 0;
	return umount2(mnt, MNT_DETACH) ? -errno : 0;
}

void bench_env_teardown(struct bench_env *e)
{
	if (e->pid > 0) {
		unmount(e->mnt, false);
		if (!bench_reap(e->pid, UNMOUNT_WAIT, NULL)) {
			kill(e->pid, SIGKILL);
			bench_reap(e->pid, 5, NULL);
		}
		e->pid = 0;
	}
	/* A daemon that died leaves a dead mount (ENOTCONN): detach it. */
	if (e->t != BT_NATIVE && e->mnt[0] && mounted_at(e->mnt))
		unmount(e->mnt, true);
	if (e->top[0])
		bench_rm_rf(e->top);
	e->ok = false;
}

void bench_envs_teardown(struct bench_env *envs)
{
	for (int t = 0; t < BT_COUNT; t++)
		bench_env_teardown(&envs[t]);
}
