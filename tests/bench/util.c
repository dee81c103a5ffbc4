/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers of the benchmark: clock, paths, file trees (fill, walk, remove),
 * cold caches and child processes.  Functions return 0 (or a count) or
 * -errno and never exit: a failing workload records the error and goes on.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <branchfs/ioctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_SIZE (1 << 20)

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int bench_order(int r, int i)
{
	return (i + r) % BT_COUNT;
}

const char *bench_join(char *out, const char *a, const char *b)
{
	snprintf(out, PATH_MAX, "%s/%s", a, b);
	return out;
}

int bench_mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int bench_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT))
		return -errno;
	return lstat(path, &st) == 0 ? -ENOTEMPTY : 0;
}

/* 1 MiB of xorshift data, built once: file contents that are not zeros. */
static const char *pattern(void)
{
	static char *buf;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (buf)
		return buf;
	buf = malloc(PATTERN_SIZE);
	if (!buf)
		abort();
	for (size_t i = 0; i < PATTERN_SIZE; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	return buf;
}

int bench_write_file(const char *path, size_t size, bool sync)
{
	const char *p = pattern();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < size;) {
		size_t n = size - off < PATTERN_SIZE ? size - off : PATTERN_SIZE;
		ssize_t w = write(fd, p, n);

		if (w <= 0) {
			ret = w < 0 ? -errno : -EIO;
			goto out_close;
		}
		off += w;
	}
	if (sync && fsync(fd))
		ret = -errno;
out_close:
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

long long bench_read_file(const char *path, size_t bufsize)
{
	static char *buf;
	static size_t cap;
	long long total = 0;
	ssize_t n;
	int fd;

	if (cap < bufsize) {
		free(buf);
		buf = malloc(bufsize);
		cap = buf ? bufsize : 0;
		if (!buf)
			return -ENOMEM;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, bufsize)) > 0)
		total += n;
	if (n < 0)
		total = -errno;
	close(fd);
	return total;
}

const char *bench_tree_path(char *out, const struct bench_tree *t, int i)
{
	int leaf = t->per_dir ? i / t->per_dir : 0;

	if (!t->per_dir)
		snprintf(out, PATH_MAX, "f%06d.c", i);
	else if (!t->fanout)
		snprintf(out, PATH_MAX, "d%04d/f%06d.c", leaf, i);
	else
		snprintf(out, PATH_MAX, "m%03d/d%04d/f%06d.c", leaf / t->fanout, leaf, i);
	return out;
}

/* Source-like sizes, deterministic: 256 B - 16 KiB. */
static size_t varied_size(int i)
{
	uint32_t h = (uint32_t)i * 2654435761u;

	return 256 + (h >> 8) % (16 * 1024 - 256);
}

int bench_tree_fill(const char *dir, const void *arg)
{
	const struct bench_tree *t = arg;
	char rel[PATH_MAX], path[PATH_MAX + 8];
	int ret;

	for (int i = 0; i < t->files; i++) {
		bench_tree_path(rel, t, i);
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		if (t->per_dir && i % t->per_dir == 0) {
			*strrchr(path, '/') = '\0';
			ret = bench_mkdirs(path);
			if (ret)
				return ret;
			snprintf(path, sizeof(path), "%s/%s", dir, rel);
		}
		ret = bench_write_file(path, t->size ? t->size : varied_size(i), false);
		if (ret)
			return ret;
	}
	return 0;
}

static long walk_fd(int dfd, bool read_files)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	long count = 0, sub;
	char buf[4096];
	struct stat st;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		/* A branch's control file is not part of the tree. */
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, BRANCHFS_CTL_NAME))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			goto out_err;
		count++;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY);

			if (fd < 0)
				goto out_err;
			sub = walk_fd(fd, read_files);
			if (sub < 0) {
				closedir(d);
				return sub;
			}
			count += sub;
		} else if (S_ISREG(st.st_mode) && read_files) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY);

			if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
				goto out_err;
			close(fd);
		}
	}
	if (errno)
		goto out_err;
	closedir(d);
	return count;
out_err:
	sub = -errno;
	closedir(d);
	return sub;
}

long bench_walk(const char *dir, bool read_files)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return -errno;
	return walk_fd(fd, read_files);
}

static int fadvise_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	int fd;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	return 0;
}

bool bench_cold(const char *const *paths, int n)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		bool ok = write(fd, "3", 1) == 1;

		close(fd);
		if (ok)
			return true;
	}
	for (int i = 0; i < n; i++)
		nftw(paths[i], fadvise_one, 32, FTW_PHYS);
	return false;
}

/* Stdout and stderr to log (or /dev/null), nothing else inherited: an
 * inherited descriptor on another mount would keep that mount busy. */
static void child_stdio(const char *log)
{
	int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	close_range(3, ~0u, 0);
}

int bench_run(const char *cwd, const char *log, char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_stdio(log);
		if (cwd && chdir(cwd))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t bench_spawn(const char *log, char *const argv[])
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		child_stdio(log);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

bool bench_reap(pid_t pid, double seconds, int *status)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	double end = bench_now() + seconds;
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD)) {
			if (status)
				*status = r == pid ? st : 0;
			return true;
		}
		nanosleep(&ts, NULL);
	} while (bench_now() < end);
	return false;
}

void bench_ctx_cold(struct bench_ctx *c, const struct bench_env *e)
{
	const char *paths[] = { e->dir, e->base };

	if (bench_cold(paths, 2))
		c->res->cold_dropped++;
	else
		c->res->cold_fadvised++;
}
