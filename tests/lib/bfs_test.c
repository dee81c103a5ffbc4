/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers: scratch directories and real branchfs mounts (see
 * bfs_test.h).  Failures that make a test meaningless abort the process
 * with a message; Check reports the test as failed.
 */
#define _GNU_SOURCE
#include "bfs_test.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bfs_test: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

void bfs_scratch(char *out, size_t n)
{
	const char *root = getenv("BFS_TEST_TMP");

	snprintf(out, n, "%s/t.XXXXXX", root && root[0] ? root : "/tmp");
	if (!mkdtemp(out))
		die("mkdtemp %s: %s", out, strerror(errno));
}

const char *bfs_path(char *out, const char *a, const char *b)
{
	snprintf(out, 4096, "%s/%s", a, b);
	return out;
}

void bfs_mount_prepare(struct bfs_mount *m)
{
	memset(m, 0, sizeof(*m));
	bfs_scratch(m->dir, sizeof(m->dir));
	bfs_path(m->base, m->dir, "base");
	bfs_path(m->storage, m->dir, "storage");
	bfs_path(m->mnt, m->dir, "mnt");
	if (mkdir(m->base, 0755) || mkdir(m->mnt, 0755))
		die("mkdir in %s: %s", m->dir, strerror(errno));
}

static bool mounted(const struct bfs_mount *m)
{
	struct statfs sf;
	char ctl[4096];
	struct stat st;

	if (statfs(m->mnt, &sf) || sf.f_type != FUSE_SUPER_MAGIC)
		return false;
	return stat(bfs_path(ctl, m->mnt, ".branchfs_ctl"), &st) == 0;
}

void bfs_mount_start(struct bfs_mount *m, const char *const *extra)
{
	bfs_mount_start_daemon(m, BFS_DAEMON_PATH, NULL, extra);
}

void bfs_mount_start_daemon(struct bfs_mount *m, const char *daemon, const char *fault,
			    const char *const *extra)
{
	const char *argv[64] = { daemon, "-f", "--base", m->base, "--storage", m->storage };
	int argc = 6;
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (; extra && *extra && argc < 62; extra++)
		argv[argc++] = *extra;
	argv[argc++] = m->mnt;
	argv[argc] = NULL;
	m->pid = fork();
	if (m->pid < 0)
		die("fork: %s", strerror(errno));
	if (m->pid == 0) {
		if (fault)
			setenv("BRANCHFSD_FAULT", fault, 1);
		else
			unsetenv("BRANCHFSD_FAULT");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		int status;

		if (mounted(m))
			return;
		if (waitpid(m->pid, &status, WNOHANG) == m->pid)
			die("branchfsd exited with status %d before mounting", status);
		nanosleep(&ts, NULL);
	}
	kill(m->pid, SIGKILL);
	die("branchfsd did not mount %s within 10 s", m->mnt);
}

void bfs_mount_setup(struct bfs_mount *m)
{
	bfs_mount_prepare(m);
	bfs_mount_start(m, NULL);
}

static void run(const char *prog, const char *a1, const char *a2)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execlp(prog, prog, a1, a2, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
}

static bool reap(pid_t pid, int seconds)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < seconds * 100; i++) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid || errno == ECHILD)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

void bfs_mount_stop(struct bfs_mount *m)
{
	if (m->pid <= 0)
		return;
	run("fusermount3", "-u", m->mnt);
	if (!reap(m->pid, 10)) {
		kill(m->pid, SIGKILL);
		reap(m->pid, 5);
		run("fusermount3", "-uz", m->mnt);
	}
	m->pid = 0;
}

void bfs_mount_crash(struct bfs_mount *m)
{
	if (m->pid <= 0)
		return;
	kill(m->pid, SIGKILL);
	reap(m->pid, 10);
	run("fusermount3", "-uz", m->mnt);
	m->pid = 0;
}

int bfs_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t len = strlen(data);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? -errno : -EIO;

		close(fd);
		return e;
	}
	return close(fd) ? -errno : 0;
}

char *bfs_read_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t cap = 4096, len = 0;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

bool bfs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int bfs_mkdirs(const char *path)
{
	return bfs_sh(NULL, "mkdir -p '%s'", path) ? -EIO : 0;
}

int bfs_rm_rf(const char *path)
{
	return bfs_sh(NULL, "rm -rf '%s'", path) ? -EIO : 0;
}

int bfs_ctl(const char *ctl, const char *cmd)
{
	int fd = open(ctl, O_WRONLY);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, cmd, strlen(cmd));
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

const char *bfs_ctl_path(char *out, const struct bfs_mount *m, const char *branch)
{
	if (branch)
		snprintf(out, 4096, "%s/@%s/.branchfs_ctl", m->mnt, branch);
	else
		snprintf(out, 4096, "%s/.branchfs_ctl", m->mnt);
	return out;
}

const char *bfs_branch_dir(char *out, const struct bfs_mount *m, const char *branch)
{
	snprintf(out, 4096, "%s/@%s", m->mnt, branch);
	return out;
}

static int ioc(const char *ctl, unsigned long cmd, void *arg)
{
	int fd = open(ctl, O_RDONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, arg) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int bfs_ioc_create(const char *ctl, char *name)
{
	return ioc(ctl, FS_IOC_BRANCH_CREATE, name);
}

int bfs_ioc_commit(const char *ctl)
{
	return ioc(ctl, FS_IOC_BRANCH_COMMIT, NULL);
}

int bfs_ioc_abort(const char *ctl)
{
	return ioc(ctl, FS_IOC_BRANCH_ABORT, NULL);
}

int bfs_sh(const char *dir, const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	pid_t pid;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	pid = fork();
	if (pid == 0) {
		if (dir && chdir(dir))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
