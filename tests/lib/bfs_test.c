/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers: scratch directories and real branchfs mounts (see
 * bfs_test.h).  Failures that make a test meaningless abort the process
 * with a message; Check reports the test as failed.
 */
#define _GNU_SOURCE
#include "bfs_test.h"

#include <branchfs/ioctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
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
	pid_t test = getpid();

	for (; extra && *extra && argc < 62; extra++)
		argv[argc++] = *extra;
	argv[argc++] = m->mnt;
	argv[argc] = NULL;
	m->pid = fork();
	if (m->pid < 0)
		die("fork: %s", strerror(errno));
	if (m->pid == 0) {
		/* The daemon goes with its test, and cleanly: a failed
		 * assertion ends the test process with _exit (no teardown
		 * runs) and Check then SIGKILLs the test's process group, which
		 * would leave a dead mount.  Out of that group, the daemon gets
		 * SIGTERM when the test process ends, and unmounts. */
		if (setpgid(0, 0) || prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != test)
			_exit(127);
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

/* Runs prog quietly; its wait status, or -1. */
static int run(const char *prog, const char *a1, const char *a2)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execlp(prog, prog, a1, a2, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	return status;
}

/* Wait up to seconds for pid to exit: true once it has, its wait status
 * in *status when it is not NULL (-1 when another wait took it). */
static bool reap_status(pid_t pid, int seconds, int *status)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < seconds * 100; i++) {
		int st = -1;
		pid_t got = waitpid(pid, &st, WNOHANG);

		if (got == pid || (got < 0 && errno == ECHILD)) {
			if (status)
				*status = got == pid ? st : -1;
			return true;
		}
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool reap(pid_t pid, int seconds)
{
	return reap_status(pid, seconds, NULL);
}

/* Check's CK_TIMEOUT_MULTIPLIER (BFS_TIME_SCALE under ctest), or 1. */
static int time_scale(void)
{
	const char *scale = getenv("CK_TIMEOUT_MULTIPLIER");

	return scale && atoi(scale) > 1 ? atoi(scale) : 1;
}

void bfs_mount_guard(struct bfs_mount *m, int seconds)
{
	char abort_path[128];
	struct stat st;

	seconds *= time_scale();
	if (stat(m->mnt, &st))
		die("stat %s: %s", m->mnt, strerror(errno));
	snprintf(abort_path, sizeof(abort_path), "/sys/fs/fuse/connections/%u/abort",
		 (unsigned int)st.st_dev);
	m->guard = fork();
	if (m->guard < 0)
		die("fork: %s", strerror(errno));
	if (m->guard == 0) {
		int fd;

		/* Out of the test's process group, which Check kills when the
		 * test fails; with the test until the deadline. */
		if (setpgid(0, 0) || prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(127);
		sleep((unsigned int)seconds);
		prctl(PR_SET_PDEATHSIG, 0); /* the test ends once it is aborted */
		if (access(abort_path, W_OK))
			mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL);
		fd = open(abort_path, O_WRONLY);
		if (fd >= 0 && write(fd, "1", 1) == 1)
			fprintf(stderr, "%s wedged for %d s: aborted\n", m->mnt, seconds);
		/* An aborted mount is not unmounted by its daemon. */
		execlp("fusermount3", "fusermount3", "-uz", m->mnt, (char *)NULL);
		_exit(0);
	}
}

bool bfs_mount_stop(struct bfs_mount *m)
{
	int limit = 10 * time_scale(), unmount, status = -1;
	struct timespec t0, t1;
	bool exited, clean;

	if (m->guard > 0) {
		kill(m->guard, SIGKILL);
		waitpid(m->guard, NULL, 0);
		m->guard = 0;
	}
	if (m->pid <= 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unmount = run("fusermount3", "-u", m->mnt);
	/* A clean exit discards branches: not cut short on a busy machine. */
	exited = reap_status(m->pid, limit, &status);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clean = exited && status == 0;
	if (!clean || t1.tv_sec - t0.tv_sec >= 2)
		fprintf(stderr,
			"%s: fusermount3 -u: status %d; daemon %s (status %d) after %ld s\n",
			m->mnt, unmount, exited ? "exited" : "still running: killed", status,
			(long)(t1.tv_sec - t0.tv_sec));
	if (!exited) {
		kill(m->pid, SIGKILL);
		reap(m->pid, 5);
		run("fusermount3", "-uz", m->mnt);
	}
	m->pid = 0;
	return clean;
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

bool bfs_mount_wait_killed(struct bfs_mount *m, int seconds)
{
	int status = -1;

	if (m->pid <= 0 || !reap_status(m->pid, seconds, &status))
		return false;
	run("fusermount3", "-uz", m->mnt);
	m->pid = 0;
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
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

bool bfs_have(const char *who, const char *what, const char *check)
{
	if (bfs_sh(NULL, "%s", check) == 0)
		return true;
	fprintf(stderr, "%s: no %s, case skipped\n", who, what);
	return false;
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

char *bfs_ctl_read(const char *ctl)
{
	return bfs_read_file(ctl);
}

int bfs_branch_create(const struct bfs_mount *m, const char *parent, const char *name)
{
	char ctl[4096], cmd[512];

	snprintf(cmd, sizeof(cmd), "create:%s", name);
	return bfs_ctl(bfs_ctl_path(ctl, m, parent), cmd);
}

int bfs_pwrite_file(const char *path, const void *data, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, data, len, off);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? -errno : -EIO;

		close(fd);
		return e;
	}
	return close(fd) ? -errno : 0;
}

/* One object of a dump: its line (without the link group) and inode. */
struct dump_ent {
	char *path;
	char *line;
	ino_t ino;
	nlink_t nlink;
	bool dir;
};

struct dump {
	struct dump_ent *e;
	size_t n, cap;
	unsigned int flags;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

static int hash_file(int dirfd, const char *name, uint64_t *out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW);
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		h = fnv1a(h, buf, n);
	close(fd);
	if (n < 0)
		return -EIO;
	*out = h;
	return 0;
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append " x:NAME=HEX" for each xattr (sorted) to line. */
static void dump_xattrs(const char *path, char *line, size_t size)
{
	char names[8192], *sorted[256];
	ssize_t len = llistxattr(path, names, sizeof(names));
	size_t n = 0;

	for (ssize_t off = 0; len > 0 && off < len && n < 256; off += strlen(names + off) + 1)
		sorted[n++] = names + off;
	qsort(sorted, n, sizeof(*sorted), strcmp_ptr);
	for (size_t i = 0; i < n; i++) {
		unsigned char val[4096];
		ssize_t vl = lgetxattr(path, sorted[i], val, sizeof(val));
		size_t at = strlen(line);

		snprintf(line + at, size - at, " x:%s=", sorted[i]);
		for (ssize_t j = 0; j < vl; j++) {
			at = strlen(line);
			snprintf(line + at, size - at, "%02x", val[j]);
		}
		if (vl < 0) {
			at = strlen(line);
			snprintf(line + at, size - at, "<%s>", strerror(errno));
		}
	}
}

static void dump_add(struct dump *d, const char *path, const struct stat *st, const char *line)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		d->e = realloc(d->e, d->cap * sizeof(*d->e));
		if (!d->e)
			die("out of memory");
	}
	d->e[d->n].path = strdup(path);
	d->e[d->n].line = strdup(line);
	d->e[d->n].ino = st->st_ino;
	d->e[d->n].nlink = st->st_nlink;
	d->e[d->n].dir = S_ISDIR(st->st_mode);
	d->n++;
}

static char type_char(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return 'f';
	case S_IFDIR:
		return 'd';
	case S_IFLNK:
		return 'l';
	case S_IFIFO:
		return 'p';
	case S_IFSOCK:
		return 's';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	}
	return '?';
}

/* The line of one object: "path type perm [uid gid] [mtime] data [xattrs]". */
static void dump_line(struct dump *d, int dirfd, const char *name, const char *full,
		      const char *rel, const struct stat *st, char *line, size_t size)
{
	uint64_t h = 0;
	size_t at;

	snprintf(line, size, "%s %c %04o", rel, type_char(st->st_mode),
		 (unsigned int)(st->st_mode & 07777));
	at = strlen(line);
	if (d->flags & BFS_DUMP_OWNER)
		snprintf(line + at, size - at, " %u:%u", (unsigned int)st->st_uid,
			 (unsigned int)st->st_gid);
	at = strlen(line);
	if ((d->flags & BFS_DUMP_MTIME) && !S_ISDIR(st->st_mode))
		snprintf(line + at, size - at, " t%lld.%09ld", (long long)st->st_mtim.tv_sec,
			 st->st_mtim.tv_nsec);
	at = strlen(line);
	if (S_ISREG(st->st_mode)) {
		int ret = d->flags & BFS_DUMP_NODATA ? 0 : hash_file(dirfd, name, &h);

		snprintf(line + at, size - at, " %lld:%016llx%s", (long long)st->st_size,
			 (unsigned long long)h, ret ? "<unreadable>" : "");
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		target[n < 0 ? 0 : n] = '\0';
		snprintf(line + at, size - at, " -> %s", n < 0 ? "<unreadable>" : target);
	}
	if (d->flags & BFS_DUMP_XATTR)
		dump_xattrs(full, line, size);
}

static int dump_walk(struct dump *d, const char *full, const char *rel, int depth)
{
	struct dirent *de;
	DIR *dir = opendir(full);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (!dir) {
		ret = -errno;
		fprintf(stderr, "bfs_test: dump: opendir %s: %s\n", full, strerror(-ret));
		return ret;
	}
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (depth == 0 && (d->flags & (BFS_DUMP_MOUNT | BFS_DUMP_NOCTL)) &&
		    !strcmp(de->d_name, ".branchfs_ctl"))
			continue;
		if (depth == 0 && (d->flags & BFS_DUMP_MOUNT) && de->d_name[0] == '@')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				die("out of memory");
		}
		names[n++] = strdup(de->d_name);
	}
	for (size_t i = 0; i < n && !ret; i++) {
		char cfull[4096], crel[4096], line[16384];
		struct stat st;

		snprintf(cfull, sizeof(cfull), "%s/%s", full, names[i]);
		snprintf(crel, sizeof(crel), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		if (fstatat(dirfd(dir), names[i], &st, AT_SYMLINK_NOFOLLOW)) {
			ret = -errno;
			fprintf(stderr, "bfs_test: dump: lstat %s (listed): %s\n", cfull,
				strerror(-ret));
			break;
		}
		dump_line(d, dirfd(dir), names[i], cfull, crel, &st, line, sizeof(line));
		dump_add(d, crel, &st, line);
		if (S_ISDIR(st.st_mode))
			ret = dump_walk(d, cfull, crel, depth + 1);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return ret;
}

static int ent_cmp(const void *a, const void *b);

char *bfs_list_dir(const char *dir, unsigned int flags)
{
	struct dump d = { .flags = flags };
	struct dirent *de;
	DIR *dh = opendir(dir);
	size_t len = 1;
	char *out;

	if (!dh)
		return NULL;
	while ((de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((flags & (BFS_DUMP_MOUNT | BFS_DUMP_NOCTL)) &&
		    !strcmp(de->d_name, ".branchfs_ctl"))
			continue;
		if ((flags & BFS_DUMP_MOUNT) && de->d_name[0] == '@')
			continue;
		dump_add(&d, de->d_name, &(struct stat){ 0 }, "");
		len += strlen(de->d_name) + 1;
	}
	closedir(dh);
	if (d.n) /* d.e is NULL for an empty directory */
		qsort(d.e, d.n, sizeof(*d.e), ent_cmp);
	out = malloc(len);
	if (!out)
		die("out of memory");
	out[0] = '\0';
	for (size_t i = 0; i < d.n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, d.e[i].path);
		free(d.e[i].path);
		free(d.e[i].line);
	}
	free(d.e);
	return out;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dump_ent *)a)->path, ((const struct dump_ent *)b)->path);
}

/* Join the sorted lines; with BFS_DUMP_LINKS a non-directory with more than
 * one link also names the first path (in order) sharing its inode. */
static char *dump_join(struct dump *d)
{
	size_t len = 1, at = 0;
	char *out;

	if (d->n)
		qsort(d->e, d->n, sizeof(*d->e), ent_cmp);
	for (size_t i = 0; i < d->n; i++)
		len += strlen(d->e[i].line) + strlen(d->e[i].path) + 32;
	out = malloc(len);
	if (!out)
		die("out of memory");
	out[0] = '\0';
	for (size_t i = 0; i < d->n; i++) {
		const struct dump_ent *e = &d->e[i];

		at += sprintf(out + at, "%s", e->line);
		if ((d->flags & BFS_DUMP_LINKS) && !e->dir) {
			size_t first = i;

			for (size_t j = 0; j < i; j++) {
				if (d->e[j].ino == e->ino) {
					first = j;
					break;
				}
			}
			at += sprintf(out + at, " n%lu", (unsigned long)e->nlink);
			if (e->nlink > 1)
				at += sprintf(out + at, " =%s", d->e[first].path);
		}
		out[at++] = '\n';
		out[at] = '\0';
	}
	return out;
}

char *bfs_tree_dump(const char *dir, unsigned int flags)
{
	struct dump d = { .flags = flags };
	char *out = NULL;
	int ret = dump_walk(&d, dir, "", 0);

	if (!ret)
		out = dump_join(&d);
	for (size_t i = 0; i < d.n; i++) {
		free(d.e[i].path);
		free(d.e[i].line);
	}
	free(d.e);
	if (ret)
		errno = -ret;
	return out;
}

/* Does the text t hold the line l (len bytes) as a whole line? */
static bool has_line(const char *t, const char *l, size_t len)
{
	for (const char *p = t; *p;) {
		size_t n = strcspn(p, "\n");

		if (n == len && !memcmp(p, l, len))
			return true;
		p += n + (p[n] != '\0');
	}
	return false;
}

/* Append "  <mark> line" for each line of a missing from b (at most 12). */
static void add_missing(char *msg, size_t size, const char *a, const char *b, char mark)
{
	int shown = 0;

	for (const char *p = a; *p && shown < 12;) {
		size_t n = strcspn(p, "\n"), at = strlen(msg);

		if (!has_line(b, p, n)) {
			snprintf(msg + at, size - at, "\n  %c %.*s", mark, (int)n, p);
			shown++;
		}
		p += n + (p[n] != '\0');
	}
}

const char *bfs_str_diff(const char *a, const char *b)
{
	static char msg[16384];

	if (!a || !b) {
		snprintf(msg, sizeof(msg), "the %s text is NULL", a ? "second" : "first");
		return msg;
	}
	snprintf(msg, sizeof(msg), "lines only in the first (<) and only in the second (>):");
	add_missing(msg, sizeof(msg), a, b, '<');
	add_missing(msg, sizeof(msg), b, a, '>');
	return msg;
}

/* The ACL xattr format of Linux (include/uapi/linux/posix_acl_xattr.h),
 * little-endian on every machine these tests run on. */
#define ACL_XATTR_VERSION 0x0002
enum {
	ACL_TAG_USER_OBJ = 0x01,
	ACL_TAG_USER = 0x02,
	ACL_TAG_GROUP_OBJ = 0x04,
	ACL_TAG_MASK = 0x10,
	ACL_TAG_OTHER = 0x20
};

struct acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

static const char *acl_name(bool dflt)
{
	return dflt ? "system.posix_acl_default" : "system.posix_acl_access";
}

int bfs_acl_grant(const char *path, bool dflt, uid_t uid, unsigned int perm)
{
	struct {
		uint32_t version;
		struct acl_entry e[5];
	} __attribute__((packed)) acl;
	struct stat st;
	unsigned int group;

	if (stat(path, &st))
		return -errno;
	group = (st.st_mode >> 3) & 7;
	acl.version = ACL_XATTR_VERSION;
	acl.e[0] = (struct acl_entry){ ACL_TAG_USER_OBJ, (st.st_mode >> 6) & 7, (uint32_t)-1 };
	acl.e[1] = (struct acl_entry){ ACL_TAG_USER, perm & 7, uid };
	acl.e[2] = (struct acl_entry){ ACL_TAG_GROUP_OBJ, group, (uint32_t)-1 };
	acl.e[3] = (struct acl_entry){ ACL_TAG_MASK, (perm | group) & 7, (uint32_t)-1 };
	acl.e[4] = (struct acl_entry){ ACL_TAG_OTHER, st.st_mode & 7, (uint32_t)-1 };
	return setxattr(path, acl_name(dflt), &acl, sizeof(acl), 0) ? -errno : 0;
}

int bfs_acl_perm(const char *path, bool dflt, uid_t uid)
{
	unsigned char buf[4096];
	ssize_t n = getxattr(path, acl_name(dflt), buf, sizeof(buf));

	if (n < 0)
		return errno == ENODATA ? -ENOENT : -errno;
	for (ssize_t off = 4; off + (ssize_t)sizeof(struct acl_entry) <= n;
	     off += sizeof(struct acl_entry)) {
		struct acl_entry e;

		memcpy(&e, buf + off, sizeof(e));
		if (e.tag == ACL_TAG_USER && e.id == uid)
			return e.perm;
	}
	return -ENOENT;
}

int bfs_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg)
{
	int pfd[2], result = -ECHILD, status;
	pid_t pid;

	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int ret;

		close(pfd[0]);
		umask(022);
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
			ret = -errno;
		else
			ret = fn(arg);
		if (write(pfd[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &result, sizeof(result)) != sizeof(result))
		result = -ECHILD;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return result;
}
