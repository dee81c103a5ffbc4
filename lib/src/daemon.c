/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting and stopping the daemon of a mount.
 *
 * Start: run "branchfsd --base DIR [--storage DIR] [-o OPTS] MNT" with its
 * stdout and stderr on a pipe.  The daemon mounts, then detaches (its stdio
 * goes to /dev/null and its first process exits 0), so the pipe's EOF and
 * that exit mean "mounted" or "failed, and here is why".  We then wait for
 * the control file to answer.
 *
 * Stop: optionally ask the daemon to keep its branches, unmount, and wait
 * until both the mount and the daemon process are gone, so that a new mount
 * on the same storage right after cannot race the old daemon.
 *
 * Detach: a mount whose daemon died answers everything with ENOTCONN and
 * cannot be opened; it is lazily unmounted (fusermount3 -uz), which is all
 * there is left to do.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS   10000
#define UNMOUNT_TIMEOUT_MS 60000
#define MESSAGE_MAX	   4096

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* mkdir -p path. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

struct argv {
	const char *v[16];
	int n;
	char *opts;
	char *base;
	char *storage;
};

static int build_argv(struct argv *a, const char *mnt, const struct bfs_daemon_options *o)
{
	const char *daemon = o->daemon ? o->daemon : getenv("BRANCHFSD");
	int ret;

	a->v[a->n++] = daemon && daemon[0] ? daemon : "branchfsd";
	if (o->base) {
		a->base = realpath(o->base, NULL);
		if (!a->base)
			return -errno;
	}
	a->v[a->n++] = "--base";
	a->v[a->n++] = a->base ? a->base : mnt;
	if (o->storage) {
		ret = bfs__absolute(&a->storage, o->storage);
		if (ret)
			return ret;
		a->v[a->n++] = "--storage";
		a->v[a->n++] = a->storage;
	}
	if (o->max_storage || (o->options && o->options[0])) {
		if (asprintf(&a->opts, "%s%s%s%s", o->max_storage ? "max_storage=" : "",
			     o->max_storage ? o->max_storage : "",
			     o->max_storage && o->options && o->options[0] ? "," : "",
			     o->options ? o->options : "") < 0)
			return -ENOMEM;
		a->v[a->n++] = "-o";
		a->v[a->n++] = a->opts;
	}
	a->v[a->n++] = mnt;
	a->v[a->n] = NULL;
	return 0;
}

static void free_argv(struct argv *a)
{
	free(a->opts);
	free(a->base);
	free(a->storage);
}

static pid_t spawn(const struct argv *a, int *out_fd)
{
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int ret = -errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return ret;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execvp(a->v[0], (char *const *)a->v);
		dprintf(2, "cannot run %s: %s\n", a->v[0], bfs_syserr(errno));
		_exit(127);
	}
	close(pipefd[1]);
	*out_fd = pipefd[0];
	return pid;
}

/* Collect the daemon's output until EOF (it detached or died) or deadline. */
static void collect(int fd, char *buf, size_t size, int64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		char chunk[512];
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if ((size_t)n > size - 1 - len)
			n = (ssize_t)(size - 1 - len);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
}

/* Wait for pid (our child) until deadline: its wait status, or -ETIMEDOUT. */
static int reap(pid_t pid, int64_t deadline)
{
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -errno;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		nap();
	}
}

static int wait_mounted(const char *mnt, int64_t deadline)
{
	while (!bfs__mounted(mnt)) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nap();
	}
	return 0;
}

static int run_daemon(char **message, const char *mnt, const struct bfs_daemon_options *o)
{
	int64_t deadline = now_ms() + (o->timeout_ms ? o->timeout_ms : START_TIMEOUT_MS);
	struct argv a = { 0 };
	char *msg = malloc(MESSAGE_MAX);
	int fd = -1, ret, status;
	pid_t pid;

	ret = msg ? build_argv(&a, mnt, o) : -ENOMEM;
	pid = ret ? ret : spawn(&a, &fd);
	if (pid < 0) {
		ret = pid;
		goto out_free;
	}
	collect(fd, msg, MESSAGE_MAX, deadline);
	close(fd);
	status = reap(pid, deadline);
	if (status < 0)
		ret = status;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ret = wait_mounted(mnt, deadline);
	else
		ret = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
	if (ret && msg[0] && message) {
		*message = msg;
		msg = NULL;
	}
out_free:
	free(msg);
	free_argv(&a);
	return ret;
}

/*
 * Is a mount whose daemon is gone at mnt (every request fails ENOTCONN)?
 * statfs() always asks the daemon; stat() may be answered from the
 * kernel's attribute cache.
 */
static bool dead_mount(const char *mnt)
{
	struct statfs sfs;

	return statfs(mnt, &sfs) < 0 && errno == ENOTCONN;
}

int bfs_daemon_start(struct bfs_mount **out, char **message, const char *mnt,
		     const struct bfs_daemon_options *opts)
{
	struct bfs_daemon_options none = BFS_DAEMON_OPTIONS_INIT;
	char *abs = NULL;
	int ret;

	if (message)
		*message = NULL;
	if (!opts)
		opts = &none;
	if (!mnt || opts->version != BFS_DAEMON_OPTIONS_VERSION)
		return -EINVAL;
	ret = bfs__absolute(&abs, mnt);
	if (!ret)
		ret = make_dirs(abs);
	if (!ret && bfs__mounted(abs))
		ret = -EBUSY;
	if (!ret && dead_mount(abs))
		ret = -ENOTCONN;
	if (!ret)
		ret = run_daemon(message, abs, opts);
	if (!ret && out)
		ret = bfs_open(out, abs);
	free(abs);
	return ret;
}

/* Has pid exited (gone, or a zombie nobody reaped yet)? */
static bool exited(int pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	if (pid <= 0)
		return true;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Is root still a mount point (of any kind)? */
static bool still_mounted(const char *root)
{
	char *mnt = NULL, *type = NULL;
	bool ret;

	if (bfs__mount_of(&mnt, &type, root))
		return false;
	ret = !strcmp(mnt, root);
	free(mnt);
	free(type);
	return ret;
}

static int do_unmount(const char *root, bool lazy)
{
	pid_t pid;
	int status;

	if (geteuid() == 0) {
		if (umount2(root, lazy ? MNT_DETACH : 0) == 0 || errno == EINVAL)
			return 0;
		return -errno;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("fusermount3", "fusermount3", lazy ? "-uz" : "-u", root, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return still_mounted(root) ? -EBUSY : 0;
}

int bfs_unmount(struct bfs_mount *m, unsigned int flags)
{
	int64_t deadline;
	int ret;

	bool was_keep = false;

	if (flags & ~BFS_UNMOUNT_KEEP)
		return -EINVAL;
	if (flags & BFS_UNMOUNT_KEEP) {
		ret = bfs__get_keep(m, &was_keep);
		if (!ret)
			ret = bfs_set_keep(m, true);
		if (ret)
			return ret;
	}
	/* The pid may be stale if the mount was restarted since bfs_open(). */
	bfs__refresh_info(m);
	ret = do_unmount(m->root, false);
	if (ret) {
		/*
		 * Still mounted (busy): the keep asked for this unmount must
		 * not outlive it, or a later plain unmount would keep the
		 * branches it is documented to discard.
		 */
		if ((flags & BFS_UNMOUNT_KEEP) && !was_keep)
			bfs_set_keep(m, false);
		return ret;
	}
	deadline = now_ms() + UNMOUNT_TIMEOUT_MS;
	while (still_mounted(m->root) || !exited(m->pid)) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nap();
	}
	return 0;
}

/*
 * Where mnt (absolute) is, resolving what still resolves: a dead mount
 * point itself cannot be resolved (ENOTCONN), its parent can.
 */
static int dead_path(char *out, const char *mnt)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(mnt, '/');

	if (realpath(mnt, out))
		return 0;
	if (errno != ENOTCONN)
		return -errno;
	if (slash && slash != mnt && (size_t)(slash - mnt) < sizeof(dir)) {
		memcpy(dir, mnt, slash - mnt);
		dir[slash - mnt] = '\0';
		if (realpath(dir, real) &&
		    snprintf(out, PATH_MAX, "%s%s", strcmp(real, "/") ? real : "", slash) <
			    PATH_MAX)
			return 0;
	}
	if (snprintf(out, PATH_MAX, "%s", mnt) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int bfs_detach(const char *mnt)
{
	char path[PATH_MAX], *abs = NULL, *root = NULL, *type = NULL;
	struct statfs sfs;
	int ret = mnt ? bfs__absolute(&abs, mnt) : -EINVAL;

	if (!ret)
		ret = dead_path(path, abs);
	if (!ret)
		ret = bfs__mount_of(&root, &type, path);
	if (ret == -ENOENT || (!ret && strcmp(type, BRANCHFS_FSTYPE)))
		ret = -EMEDIUMTYPE;
	/*
	 * Only a mount nobody serves: a live one is bfs_unmount()'s.  statfs()
	 * always asks the daemon; stat() may be answered from the kernel's
	 * attribute cache.
	 */
	if (!ret && statfs(root, &sfs) == 0)
		ret = -EISCONN;
	else if (!ret && errno != ENOTCONN)
		ret = -errno;
	if (!ret)
		ret = do_unmount(root, true);
	if (!ret && still_mounted(root))
		ret = -EBUSY;
	free(abs);
	free(root);
	free(type);
	return ret;
}
