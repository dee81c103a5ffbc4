/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile and bad input on a real mount.
 *
 * Control files: every malformed ioctl and text command gets the errno
 * docs/ioctl.md documents and changes nothing; a write longer than the
 * kernel's largest request is still one command; control files are 0600 and
 * the mounting user's; names starting with '@' cannot be made at the root.
 *
 * Paths: symlinks in the base that point outside (absolute, "../outside",
 * "../../../..") are shown as links and never followed by the daemon, in
 * main and in branches, through rename, copy-up, attribute changes and
 * commit; a base directory replaced by a symlink behind the mount's back
 * leads nowhere outside; "/@b/.." is the mount root.  An outside sentinel
 * tree is compared before and after every case.
 *
 * Robustness: the mount is private unless allow_other is asked for, the
 * storage is 0700, a flood of bad requests leaves the daemon serving, and a
 * daemon that fails to start (bad mount point, storage in use) never
 * touches the branches of the storage it was given.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <branchfs/ioctl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define NOBODY 65534
#define USERS  100

static struct bfs_mount m;
static char outside[4096];   /* the sentinel tree: nothing may touch it */
static char *outside_before; /* its dump at setup */

static const char *at(const char *root, const char *rel)
{
	static char buf[16][4096];
	static int next;
	char *p = buf[next++ % 16];

	snprintf(p, 4096, "%s/%s", root, rel);
	return p;
}

static const char *br(const char *b)
{
	static char buf[4][4096];
	static int next;

	return bfs_branch_dir(buf[next++ % 4], &m, b);
}

static const char *ctl(const char *b)
{
	static char buf[4][4096];
	static int next;

	return bfs_ctl_path(buf[next++ % 4], &m, b);
}

/* ctime of every object in the sentinel tree, one line each. */
static char *ctimes(const char *dir)
{
	static const char *const names[] = { "", "secret", "sub", "sub/inner" };
	char *out = malloc(1024), line[256];
	struct stat st;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (lstat(at(dir, names[i]), &st))
			snprintf(line, sizeof(line), "%s missing\n", names[i]);
		else
			snprintf(line, sizeof(line), "%s %lld.%09ld\n", names[i],
				 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		strcat(out, line);
	}
	return out;
}

static char *outside_ctimes;

/* The outside tree is exactly as it was (contents, modes, owners, times,
 * xattrs, and no object's ctime moved). */
static void ck_outside_untouched(void)
{
	char *now = bfs_tree_dump(outside, BFS_DUMP_ALL), *ct = ctimes(outside);

	ck_assert_msg(now != NULL, "dump of %s: %s", outside, strerror(errno));
	ck_tree_eq(outside_before, now);
	ck_assert_msg(!strcmp(outside_ctimes, ct),
		      "an outside object changed:\nbefore:\n%safter:\n%s", outside_ctimes, ct);
	free(now);
	free(ct);
}

static void make_outside(void)
{
	bfs_path(outside, m.dir, "outside");
	ck_sys(mkdir(outside, 0755));
	ck_ret(bfs_write_file(at(outside, "secret"), "SECRET\n"), 0);
	ck_sys(mkdir(at(outside, "sub"), 0755));
	ck_ret(bfs_write_file(at(outside, "sub/inner"), "INNER\n"), 0);
	outside_before = bfs_tree_dump(outside, BFS_DUMP_ALL);
	outside_ctimes = ctimes(outside);
}

static const char *preload; /* LD_PRELOAD for the daemon, or NULL */

/* Is the daemon still running (not exited, not a zombie)? */
static bool daemon_alive(void)
{
	int status;

	return m.pid > 0 && waitpid(m.pid, &status, WNOHANG) == 0;
}

static void setup_with(const char *const *extra)
{
	char deep[4096];

	bfs_mount_prepare(&m);
	make_outside();
	ck_assert_int_eq(bfs_sh(m.base, "set -e; echo f > f; mkdir -p dir/sub a; echo x > a/x; "
					"echo s > dir/sub/s"),
			 0);
	/* Links out of the base: absolute, relative, and climbing far. */
	ck_sys(symlink(outside, at(m.base, "abs")));
	ck_sys(symlink("../outside", at(m.base, "rel")));
	snprintf(deep, sizeof(deep), "../../../../../../../../../../../..%s", outside);
	ck_sys(symlink(deep, at(m.base, "deep")));
	ck_sys(symlink(at(outside, "secret"), at(m.base, "file_link")));
	ck_sys(symlink("../../outside/sub", at(m.base, "dir/up")));
	if (preload)
		setenv("LD_PRELOAD", preload, 1);
	bfs_mount_start(&m, extra);
	unsetenv("LD_PRELOAD");
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
}

static void setup(void)
{
	setup_with(NULL);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
	free(outside_before);
	free(outside_ctimes);
}

/* ---- control files ---- */

/* What a user can see of the branch tree and the base. */
static char *state(void)
{
	char *base = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	char *root = bfs_list_dir(m.mnt, 0), *cur = bfs_ctl_read(ctl(NULL));
	char *bdump = bfs_tree_dump(br("b"), BFS_DUMP_ALL | BFS_DUMP_NOCTL);
	size_t n = strlen(base) + strlen(root) + strlen(bdump) + 64;
	char *out = malloc(n);

	ck_assert(base && root && cur && bdump);
	snprintf(out, n, "root: %s\ncurrent: %s\nbase:\n%s@b:\n%s", root, cur, base, bdump);
	free(base);
	free(root);
	free(cur);
	free(bdump);
	return out;
}

static int ioc_on(const char *path, int flags, unsigned long cmd, void *arg)
{
	int fd = open(path, flags);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, arg) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

START_TEST(unknown_ioctls_get_enotty)
{
	static const unsigned long bad[] = {
		_IOR('b', 0, char[64]),	 /* CREATE with a short buffer */
		_IOR('b', 0, char[129]), /* ... and a long one */
		_IO('b', 0),
		_IOW('b', 0, char[128]),
		_IOWR('b', 0, char[128]),
		_IOR('b', 1, int), /* COMMIT and ABORT with an argument */
		_IOW('b', 2, int),
		_IO('b', 3),
		_IO('b', 15),
		_IOR('b', 16, char[16]), /* INFO, short */
		_IOW('b', 17, char),	 /* SET_KEEP, short */
		_IO('b', 18),
		_IO('c', 0),
		0x80086601, /* FS_IOC_GETFLAGS */
		0x12345678,
	};
	const char *ctls[] = { ctl(NULL), ctl("b"), ctl("main") };
	char *before = state(), *after;
	char buf[16384];

	for (size_t c = 0; c < 3; c++)
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int ret = ioc_on(ctls[c], O_RDONLY, bad[i], buf);

			ck_assert_msg(ret == -ENOTTY, "ioctl %#lx on %s: expected ENOTTY, got %s",
				      bad[i], ctls[c], strerror(-ret));
		}
	after = state();
	ck_assert_msg(!strcmp(before, after), "bad ioctls changed something: %s",
		      bfs_str_diff(before, after));
	free(before);
	free(after);
}
END_TEST

START_TEST(our_ioctls_on_other_files_get_enotty)
{
	static const unsigned long ours[] = { FS_IOC_BRANCH_CREATE, FS_IOC_BRANCH_COMMIT,
					      FS_IOC_BRANCH_ABORT, FS_IOC_BRANCH_INFO,
					      FS_IOC_BRANCH_SET_KEEP };
	const char *files[] = {
		at(m.mnt, "f"), at(br("b"), "f"), at(br("b"), "dir/sub/s"), at(m.mnt, "dir"),
		m.mnt,		br("b"),	  at(br("b"), "dir")
	};
	char *before = state(), *after;
	char buf[4096] = { 0 };

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++)
		for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
			int ret = ioc_on(files[f], O_RDONLY, ours[i], buf);

			ck_assert_msg(ret == -ENOTTY, "ioctl %#lx on %s: expected ENOTTY, got %s",
				      ours[i], files[f], strerror(-ret));
		}
	after = state();
	ck_assert_msg(!strcmp(before, after), "ioctls on plain files changed something: %s",
		      bfs_str_diff(before, after));
	free(before);
	free(after);
}
END_TEST

START_TEST(ioctl_arguments_the_kernel_cannot_copy)
{
	struct branchfs_ioc_info info;
	char name[BRANCHFS_NAME_BUF];

	/* SET_KEEP reads its argument before the request is sent: a bad
	 * pointer changes nothing. */
	ck_ret(ioc_on(ctl(NULL), O_RDONLY, FS_IOC_BRANCH_SET_KEEP, NULL), -EFAULT);
	ck_ret(ioc_on(ctl(NULL), O_RDONLY, FS_IOC_BRANCH_INFO, &info), 0);
	ck_assert_int_eq(info.keep, 0);
	ck_ret(ioc_on(ctl(NULL), O_RDONLY, FS_IOC_BRANCH_INFO, NULL), -EFAULT);
	/* CREATE's name is copied out after the daemon answered: EFAULT, and
	 * (a limit of FUSE ioctls, docs/reliability.md) the branch exists. */
	ck_ret(ioc_on(ctl(NULL), O_RDONLY, FS_IOC_BRANCH_CREATE, NULL), -EFAULT);
	/* The mount goes on. */
	ck_ret(ioc_on(ctl(NULL), O_RDONLY, FS_IOC_BRANCH_CREATE, name), 0);
	ck_assert(bfs_exists(br(name)));
	ck_ret(bfs_ioc_abort(ctl(name)), 0);
}
END_TEST

/* Write exactly len bytes of buf to ctl in one write(2): 0 or -errno. */
static int ctl_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	close(fd);
	if (n < 0)
		return -errno;
	ck_assert_msg((size_t)n == len, "write of %zu bytes to %s returned %zd", len, path, n);
	return 0;
}

static int cmd(const char *path, const char *text)
{
	return ctl_write(path, text, strlen(text));
}

START_TEST(malformed_text_commands_change_nothing)
{
	static const char *const einval[] = {
		" ",	     "\n",	     "\t \n",	   "bogus",	 "create:",   "create: ",
		"create:.",  "create:..",    "create:a/b", "create:/",	 "create:@x", "create:main",
		"commit:x",  "abort:x",	     "abort:",	   "switch",	 "switch:",   "createx",
		"create :x", "create;x",     "commit now", ":",		 "create:\t", "switch: ",
		"create:@",  "create:a/",    "create:/a",  "creat",	 "commitx",   "swItch",
		"create: x", "create:\tx\n", "switch: b",  "switch:\tb",
	};
	char *before = state(), *after, name[300];

	for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++) {
		int ret = cmd(ctl(NULL), einval[i]);

		ck_assert_msg(ret == -EINVAL, "\"%s\" on the root ctl: expected EINVAL, got %s",
			      einval[i], strerror(-ret));
		ret = cmd(ctl("b"), einval[i]);
		ck_assert_msg(ret == -EINVAL, "\"%s\" on @b's ctl: expected EINVAL, got %s",
			      einval[i], strerror(-ret));
	}
	/* A NUL inside a command, and names one byte too long. */
	ck_ret(ctl_write(ctl(NULL), "create:a\0b", 10), -EINVAL);
	ck_ret(ctl_write(ctl(NULL), "create\0", 7), 0 /* trailing NULs are whitespace */);
	ck_assert_int_eq(bfs_ioc_abort(ctl(NULL)), -EPERM);
	memset(name, 'n', sizeof(name));
	memcpy(name, "create:", 7);
	ck_ret(ctl_write(ctl(NULL), name, 7 + 256), -EINVAL);
	/* switch: only through the root ctl. */
	ck_ret(cmd(ctl("b"), "switch:main"), -EINVAL);
	ck_ret(cmd(ctl("b"), "switch:b"), -EINVAL);
	/* Names taken, missing, reserved. */
	ck_ret(cmd(ctl(NULL), "create:b"), -EEXIST);
	ck_ret(cmd(ctl("b"), "create:b"), -EEXIST);
	ck_ret(cmd(ctl(NULL), "switch:nope"), -ENOENT);
	ck_ret(cmd(ctl(NULL), "switch:@b"), -ENOENT);
	ck_ret(cmd(ctl(NULL), "commit"), -EPERM);
	ck_ret(cmd(ctl(NULL), "abort"), -EPERM);
	ck_ret(cmd(ctl("main"), "commit"), -EPERM);
	ck_ret(cmd(ctl("main"), "abort"), -EPERM);
	after = state();
	/* "create\0" made one unnamed branch: take it out of the picture. */
	ck_assert_msg(strcmp(before, after) != 0, "\"create\\0\" created nothing");
	free(after);
	{
		char *list = bfs_list_dir(m.mnt, 0), *p, *tok, *save = NULL;

		for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (!strncmp(tok, "@branch-", 8)) {
				p = tok + 1;
				ck_ret(bfs_ioc_abort(ctl(p)), 0);
			}
		free(list);
	}
	after = state();
	ck_assert_msg(!strcmp(before, after), "malformed commands changed something: %s",
		      bfs_str_diff(before, after));
	free(before);
	free(after);
}
END_TEST

/*
 * The command is trimmed (`echo create:x > ctl` writes "create:x\n"), but
 * whitespace between ':' and the name is refused, never dropped: the daemon
 * must not create a branch under a name other than the one written.
 */
START_TEST(whitespace_inside_a_command_is_refused_not_dropped)
{
	struct stat st;
	char *cur;

	ck_ret(cmd(ctl(NULL), "create: ws1"), -EINVAL);
	ck_ret(cmd(ctl("b"), "create:\tws1"), -EINVAL);
	ck_absent(br("ws1"));
	ck_absent(br(" ws1"));
	ck_ret(cmd(ctl(NULL), "create:ws1\n"), 0);
	ck_ret(ctl_write(ctl("b"), " \tcreate:ws2 \n\0", 15), 0);
	ck_assert_int_eq(stat(br("ws1"), &st), 0);
	ck_assert_int_eq(stat(br("ws2"), &st), 0);
	ck_ret(cmd(ctl(NULL), "switch: ws1"), -EINVAL);
	ck_ret(cmd(ctl(NULL), "switch:ws1\n"), 0);
	cur = bfs_ctl_read(ctl(NULL));
	ck_assert_str_eq(cur, "ws1");
	free(cur);
}
END_TEST

START_TEST(commands_on_a_gone_branch_get_enoent)
{
	int fd, fdw;

	ck_ret(bfs_branch_create(&m, NULL, "gone"), 0);
	fd = open(ctl("gone"), O_RDONLY);
	fdw = open(ctl("gone"), O_WRONLY);
	ck_assert(fd >= 0 && fdw >= 0);
	ck_ret(bfs_ioc_abort(ctl("gone")), 0);
	ck_errno(ioctl(fd, FS_IOC_BRANCH_COMMIT), ENOENT);
	ck_errno(ioctl(fd, FS_IOC_BRANCH_ABORT), ENOENT);
	ck_errno(ioctl(fd, FS_IOC_BRANCH_CREATE, (char[BRANCHFS_NAME_BUF]){ 0 }), ENOENT);
	ck_errno(write(fdw, "commit", 6), ENOENT);
	ck_errno(write(fdw, "create:child", 12), ENOENT);
	close(fd);
	close(fdw);
	ck_absent(br("gone"));
	ck_absent(br("child"));
	ck_errno(open(ctl("gone"), O_RDONLY), ENOENT);
}
END_TEST

/* A page-aligned buffer of len bytes: cmd1 at 0, cmd2 at off2, spaces
 * elsewhere. */
static char *aligned_cmds(size_t len, const char *cmd1, size_t off2, const char *cmd2)
{
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert(buf != MAP_FAILED);
	memset(buf, ' ', len);
	memcpy(buf, cmd1, strlen(cmd1));
	if (cmd2)
		memcpy(buf + off2, cmd2, strlen(cmd2));
	return buf;
}

START_TEST(a_long_write_is_one_command)
{
	/* One write(2) is one command, however large: the kernel cuts a big
	 * one into several requests, and none of them may run as a command of
	 * its own. */
	for (size_t span = 4096; span <= 4 * 1024 * 1024; span *= 2) {
		char first[64], second[64], *buf;
		size_t len = span + 64;
		ssize_t n;
		int fd;

		snprintf(first, sizeof(first), "create:first%zu", span);
		snprintf(second, sizeof(second), "create:second%zu", span);
		buf = aligned_cmds(len, first, span, second);
		fd = open(ctl(NULL), O_WRONLY);
		ck_assert_int_ge(fd, 0);
		errno = 0;
		n = write(fd, buf, len);
		close(fd);
		munmap(buf, len);
		/* "first… second…" is no valid command. */
		ck_assert_msg(n == -1 && errno == EINVAL,
			      "a %zu-byte write holding two commands %zu bytes apart returned %zd "
			      "(%s), not EINVAL",
			      len, span, n, n < 0 ? strerror(errno) : "no error");
		ck_assert_msg(!bfs_exists(br(second + 7)),
			      "a %zu-byte write ran a command found %zu bytes in", len, span);
		ck_assert_msg(!bfs_exists(br(first + 7)), "a %zu-byte write that failed created %s",
			      len, first + 7);
	}
}
END_TEST

START_TEST(a_long_valid_write_is_answered_whole)
{
	/* A valid command followed by megabytes of whitespace: the write
	 * succeeds whole or fails whole, never short. */
	size_t len = 4 * 1024 * 1024 + 100;
	char *buf = aligned_cmds(len, "create:padded", 0, NULL);
	int fd = open(ctl(NULL), O_WRONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	errno = 0;
	n = write(fd, buf, len);
	close(fd);
	munmap(buf, len);
	ck_assert_msg(n == (ssize_t)len || n == -1,
		      "a %zu-byte command write returned %zd: neither all nor nothing", len, n);
	if (n == -1)
		ck_absent(br("padded"));
	else
		ck_assert(bfs_exists(br("padded")));
}
END_TEST

START_TEST(control_files_are_private)
{
	const char *ctls[] = { ctl(NULL), ctl("b"), ctl("main") };
	struct stat st;
	char *list;

	for (size_t i = 0; i < 3; i++) {
		ck_sys(stat(ctls[i], &st));
		ck_assert_msg(st.st_mode == (S_IFREG | 0600), "%s: mode %o", ctls[i],
			      (unsigned int)st.st_mode);
		ck_assert_msg(st.st_uid == getuid() && st.st_gid == getgid(),
			      "%s: owner %u:%u, not the mounting user", ctls[i],
			      (unsigned int)st.st_uid, (unsigned int)st.st_gid);
		/* Whatever chmod and chown answer, the file stays private. */
		chmod(ctls[i], 0666);
		chown(ctls[i], NOBODY, USERS);
		ck_sys(stat(ctls[i], &st));
		ck_assert_msg(st.st_mode == (S_IFREG | 0600) && st.st_uid == getuid(),
			      "%s: mode %o owner %u after chmod/chown", ctls[i],
			      (unsigned int)st.st_mode, (unsigned int)st.st_uid);
		ck_errno(unlink(ctls[i]), EPERM);
		ck_errno(rename(ctls[i], at(m.mnt, "stolen")), EPERM);
	}
	ck_errno(mkdir(ctl(NULL), 0755), EEXIST);
	ck_errno(open(ctl(NULL), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	/* Not listed, so tar and git never pick them up. */
	list = bfs_list_dir(m.mnt, 0);
	ck_assert_msg(!strstr(list, ".branchfs_ctl"), "root lists %s", list);
	free(list);
	list = bfs_list_dir(br("b"), 0);
	ck_assert_msg(!strstr(list, ".branchfs_ctl"), "@b lists %s", list);
	free(list);
	ck_absent(at(m.base, ".branchfs_ctl"));
}
END_TEST

START_TEST(no_at_names_at_the_root)
{
	int fd;

	ck_errno(mkdir(at(m.mnt, "@x"), 0755), EPERM);
	ck_errno(open(at(m.mnt, "@x"), O_WRONLY | O_CREAT, 0644), EPERM);
	ck_errno(symlink("f", at(m.mnt, "@x")), EPERM);
	ck_errno(link(at(m.mnt, "f"), at(m.mnt, "@x")), EPERM);
	ck_errno(mknod(at(m.mnt, "@x"), S_IFIFO | 0644, 0), EPERM);
	ck_errno(rename(at(m.mnt, "f"), at(m.mnt, "@x")), EPERM);
	ck_errno(rename(at(m.mnt, "dir"), at(m.mnt, "@x")), EPERM);
	ck_errno(rename(br("b"), at(m.mnt, "@y")), EPERM);
	ck_errno(rmdir(br("b")), EPERM);
	ck_absent(at(m.base, "@x"));
	ck_assert(bfs_exists(at(m.mnt, "f")));
	ck_assert(bfs_exists(br("b")));
	/* On the root of b, too: the mount root shows main, where @ is taken. */
	ck_ret(cmd(ctl(NULL), "switch:b"), 0);
	ck_errno(mkdir(at(m.mnt, "@x"), 0755), EPERM);
	ck_ret(cmd(ctl(NULL), "switch:main"), 0);
	/* Below the root, and inside a branch's own root, '@' is a letter. */
	ck_sys(mkdir(at(m.mnt, "dir/@x"), 0755));
	fd = open(at(br("b"), "@y"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_assert(bfs_exists(at(m.base, "@y")));
	/* @y in the base shows through /@y?  No: /@y is a branch name. */
	ck_absent(at(m.mnt, "@y"));
}
END_TEST

/* ---- paths ---- */

static void ck_link(const char *path, const char *target)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	struct stat st;

	ck_assert_msg(n >= 0, "readlink %s: %s", path, strerror(errno));
	buf[n] = '\0';
	ck_assert_msg(!strcmp(buf, target), "%s -> %s, expected -> %s", path, buf, target);
	ck_sys(lstat(path, &st));
	ck_assert_msg(S_ISLNK(st.st_mode), "%s is not a symlink", path);
}

static const char *target_of(const char *base_rel)
{
	static char buf[4][4096];
	static int next;
	char *p = buf[next++ % 4];
	ssize_t n = readlink(at(m.base, base_rel), p, 4095);

	ck_assert(n > 0);
	p[n] = '\0';
	return p;
}

START_TEST(outside_links_are_shown_as_links)
{
	static const char *const links[] = { "abs", "rel", "deep", "file_link", "dir/up" };
	const char *views[] = { m.mnt, br("b") };

	for (size_t v = 0; v < 2; v++)
		for (size_t i = 0; i < 5; i++) {
			const char *p = at(views[v], links[i]);

			ck_link(p, target_of(links[i]));
			ck_errno(open(p, O_RDONLY | O_NOFOLLOW), ELOOP);
			ck_errno(open(p, O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
		}
	ck_outside_untouched();
}
END_TEST

static void change_links(const char *v, const char *tag)
{
	struct timespec ts[2] = { { 1000000, 0 }, { 2000000, 0 } };
	char name[64];

	/* Rename (a branch copies the link up), attributes of the link
	 * itself, xattrs, links to links, removal, and new outward links. */
	snprintf(name, sizeof(name), "abs_%s", tag);
	ck_sys(rename(at(v, "abs"), at(v, name)));
	ck_sys(lchown(at(v, name), NOBODY, USERS));
	ck_sys(utimensat(AT_FDCWD, at(v, name), ts, AT_SYMLINK_NOFOLLOW));
	ck_sys(lsetxattr(at(v, name), "trusted.bfs_test", "v", 1, 0));
	ck_sys(lchown(at(v, "file_link"), NOBODY, USERS));
	ck_sys(utimensat(AT_FDCWD, at(v, "deep"), ts, AT_SYMLINK_NOFOLLOW));
	ck_sys(link(at(v, "rel"), at(v, "rel_hard")));
	ck_sys(unlink(at(v, "rel")));
	ck_sys(rename(at(v, "dir"), at(v, "dir_moved")));
	ck_sys(chmod(at(v, "dir_moved/sub"), 0700));
	snprintf(name, sizeof(name), "new_%s", tag);
	ck_sys(symlink(at(outside, "sub"), at(v, name)));
	/* Replacing a link by a file replaces the link, not its target. */
	ck_sys(unlink(at(v, "file_link")));
	ck_ret(bfs_write_file(at(v, "file_link"), "inside\n"), 0);
}

static void ck_changed_links(const char *v, const char *tag, const char *abs_target,
			     const char *rel_target)
{
	struct stat st;
	char name[64];

	snprintf(name, sizeof(name), "abs_%s", tag);
	ck_link(at(v, name), abs_target);
	ck_sys(lstat(at(v, name), &st));
	ck_assert_int_eq(st.st_uid, NOBODY);
	ck_assert_int_eq(st.st_mtim.tv_sec, 2000000);
	ck_link(at(v, "rel_hard"), rel_target);
	ck_absent(at(v, "rel"));
	ck_link(at(v, "dir_moved/up"), "../../outside/sub");
	snprintf(name, sizeof(name), "new_%s", tag);
	ck_link(at(v, name), at(outside, "sub"));
	ck_file_eq(at(v, "file_link"), "inside\n");
}

START_TEST(outside_links_are_never_followed_by_changes)
{
	const char *abs_t = target_of("abs"), *rel_t = target_of("rel");
	char abs_target[4096], rel_target[4096];

	snprintf(abs_target, sizeof(abs_target), "%s", abs_t);
	snprintf(rel_target, sizeof(rel_target), "%s", rel_t);
	/* In b, then committed into the base; a sibling keeps its snapshot. */
	ck_ret(bfs_branch_create(&m, NULL, "sib"), 0);
	change_links(br("b"), "b");
	ck_outside_untouched();
	ck_changed_links(br("b"), "b", abs_target, rel_target);
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_changed_links(m.base, "b", abs_target, rel_target);
	ck_outside_untouched();
	ck_link(at(br("sib"), "abs"), abs_target);
	ck_link(at(br("sib"), "file_link"), at(outside, "secret"));
	/* Through main, with sib live (main preserves the links for it). */
	ck_sys(rename(at(m.mnt, "abs_b"), at(m.mnt, "abs")));
	ck_sys(rename(at(m.mnt, "rel_hard"), at(m.mnt, "rel")));
	ck_sys(rename(at(m.mnt, "dir_moved"), at(m.mnt, "dir")));
	change_links(m.mnt, "main");
	ck_changed_links(m.base, "main", abs_target, rel_target);
	ck_link(at(br("sib"), "abs"), abs_target);
	ck_link(at(br("sib"), "rel"), rel_target);
	ck_link(at(br("sib"), "dir/up"), "../../outside/sub");
	ck_outside_untouched();
	/* Aborting and removing the links touches nothing outside either. */
	ck_ret(bfs_ioc_abort(ctl("sib")), 0);
	ck_sys(unlink(at(m.mnt, "abs_main")));
	ck_assert_int_eq(bfs_sh(NULL, "rm -rf '%s/dir_moved' '%s/deep'", m.mnt, m.mnt), 0);
	ck_outside_untouched();
}
END_TEST

static void swap_for_link(const char *dir)
{
	char moved[4096];

	snprintf(moved, sizeof(moved), "%s.orig", at(m.base, dir));
	ck_sys(rename(at(m.base, dir), moved));
	ck_sys(symlink(outside, at(m.base, dir)));
}

/* path must not show the outside: either it fails, or it is not SECRET. */
static void ck_no_leak(const char *path)
{
	char *s = bfs_read_file(path);

	ck_assert_msg(!s || !strstr(s, "SECRET"), "%s reads the file outside the base", path);
	free(s);
}

/* Every change the kernel sends below a cached directory a. */
static void poke(const char *a)
{
	int fd;

	fd = open(at(a, "new"), O_WRONLY | O_CREAT, 0644);
	if (fd >= 0) {
		ck_assert_int_eq(write(fd, "pwn\n", 4), 4);
		close(fd);
	}
	fd = open(at(a, "secret"), O_WRONLY | O_APPEND);
	if (fd >= 0) {
		ck_assert_int_eq(write(fd, "pwn\n", 4), 4);
		close(fd);
	}
	mkdir(at(a, "newdir"), 0755);
	symlink("x", at(a, "newlink"));
	mknod(at(a, "fifo"), S_IFIFO | 0644, 0);
	chmod(at(a, "secret"), 0777);
	truncate(at(a, "secret"), 0);
	setxattr(at(a, "secret"), "user.pwn", "1", 1, 0);
	rename(at(a, "secret"), at(a, "moved"));
	unlink(at(a, "secret"));
	rmdir(at(a, "sub"));
	ck_outside_untouched();
}

/* Cache "a" as a directory in the kernel and the daemon, in both views,
 * then make it a link to the outside behind the mount's back (the mount
 * keeps main's entries for an hour here, branches' for a day). */
static void cache_then_swap(void)
{
	ck_file_eq(at(m.mnt, "a/x"), "x\n");
	ck_file_eq(at(br("b"), "a/x"), "x\n");
	swap_for_link("a");
}

START_TEST(a_base_directory_swapped_for_a_link_is_not_read_through)
{
	cache_then_swap();
	ck_no_leak(at(m.mnt, "a/secret"));
	ck_no_leak(at(br("b"), "a/secret"));
	ck_no_leak(at(br("b"), "a/sub/inner"));
	free(bfs_list_dir(at(br("b"), "a"), 0));
	ck_outside_untouched();
}
END_TEST

START_TEST(a_base_directory_swapped_for_a_link_is_not_written_through)
{
	cache_then_swap();
	poke(at(m.mnt, "a"));
	poke(at(br("b"), "a"));
	/* Committing b puts nothing outside. */
	bfs_ioc_commit(ctl("b"));
	ck_outside_untouched();
	ck_absent(at(outside, "new"));
}
END_TEST

/*
 * a/secret is known to both views (looked up and opened) when a becomes a
 * link to a directory with a file of that name: reopening it by the name
 * they know, for reading and for writing, opens nothing outside.
 */
START_TEST(a_known_file_under_a_swapped_directory_is_not_opened_through)
{
	const char *views[] = { m.mnt, br("b") };

	ck_ret(bfs_write_file(at(m.base, "a/secret"), "inside\n"), 0);
	for (size_t v = 0; v < 2; v++)
		ck_file_eq(at(views[v], "a/secret"), "inside\n");
	swap_for_link("a");
	for (size_t v = 0; v < 2; v++) {
		int fd = open(at(views[v], "a/secret"), O_WRONLY | O_APPEND);

		ck_no_leak(at(views[v], "a/secret"));
		if (fd >= 0) {
			ck_assert_int_eq(write(fd, "pwn\n", 4), 4);
			close(fd);
		}
	}
	ck_outside_untouched();
	/* The file itself is where it was, unchanged but for the writes. */
	ck_assert_int_eq(access(at(m.base, "a.orig/secret"), F_OK), 0);
}
END_TEST

/* A listing of the swapped directory shows nothing of the outside. */
START_TEST(a_base_directory_swapped_for_a_link_is_not_listed_through)
{
	const char *views[] = { m.mnt, br("b") };

	cache_then_swap();
	for (size_t v = 0; v < 2; v++) {
		char *names = bfs_list_dir(at(views[v], "a"), 0);

		ck_assert_msg(!names || (!strstr(names, "secret") && !strstr(names, "sub")),
			      "%s/a lists the outside: %s", views[v], names);
		free(names);
	}
	ck_outside_untouched();
}
END_TEST

/* Main writes through a file opened before its directory was swapped; a
 * new branch makes main preserve the file again first, which must not go
 * through the link. */
START_TEST(a_file_open_in_main_while_its_directory_is_swapped)
{
	int fd;

	ck_ret(bfs_write_file(at(m.base, "a/secret"), "inside\n"), 0);
	fd = open(at(m.mnt, "a/secret"), O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_file_eq(at(br("c"), "a/secret"), "inside\n");
	swap_for_link("a");
	pwrite(fd, "pwn\n", 4, 0);
	close(fd);
	ck_outside_untouched();
	ck_no_leak(at(br("b"), "a/secret"));
	ck_no_leak(at(br("c"), "a/secret"));
	ck_outside_untouched();
}
END_TEST

/* b changed a's attributes and removed a/x; meanwhile main replaced a by
 * a link to outside (b's snapshot keeps the directory): the commit gives
 * the outside nothing. */
START_TEST(a_commit_into_a_directory_main_made_a_link_stays_inside)
{
	ck_sys(chmod(at(br("b"), "a"), 0700));
	ck_sys(unlink(at(br("b"), "a/x")));
	ck_assert_int_eq(bfs_sh(NULL, "rm -r '%s/a'", m.mnt), 0);
	ck_sys(symlink(outside, at(m.mnt, "a")));
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_outside_untouched();
	ck_link(at(m.base, "a"), outside);
}
END_TEST

/*
 * A base file swapped for a link to outside while both views know it as a
 * file: every change acts on the link or fails.  (Calls that do not follow
 * a link themselves: once the kernel learns f is a link, it would follow
 * it for us, with our own rights.)
 */
START_TEST(a_base_file_swapped_for_a_link_is_not_changed_through)
{
	const struct timespec ts[2] = { { 1000000, 0 }, { 2000000, 0 } };
	const char *views[] = { m.mnt, br("b") };

	struct stat st;

	/* Known by stat (a read would make the kernel ask for atime again). */
	for (size_t v = 0; v < 2; v++) {
		ck_sys(lstat(at(views[v], "f"), &st));
		ck_assert(S_ISREG(st.st_mode));
	}
	ck_sys(unlink(at(m.base, "f")));
	ck_sys(symlink(at(outside, "secret"), at(m.base, "f")));
	for (size_t v = 0; v < 2; v++) {
		const char *f = at(views[v], "f");
		int fd;

		fchmodat(AT_FDCWD, f, 0777, AT_SYMLINK_NOFOLLOW);
		lchown(f, NOBODY, USERS);
		utimensat(AT_FDCWD, f, ts, AT_SYMLINK_NOFOLLOW);
		fd = open(f, O_WRONLY | O_APPEND | O_NOFOLLOW);
		if (fd >= 0) {
			ck_assert_int_eq(write(fd, "pwn\n", 4), 4);
			close(fd);
		}
		lsetxattr(f, "trusted.pwn", "1", 1, 0);
		ck_outside_untouched();
	}
}
END_TEST

START_TEST(dotdot_cannot_leave_a_branch)
{
	struct stat root, st;
	int fd, fd2;

	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_ret(bfs_write_file(at(br("c"), "cfile"), "c\n"), 0);
	ck_sys(stat(m.mnt, &root));
	ck_sys(stat(at(br("b"), ".."), &st));
	ck_assert(st.st_ino == root.st_ino && st.st_dev == root.st_dev);
	ck_sys(stat(at(br("b"), "dir/sub/../../.."), &st));
	ck_assert(st.st_ino == root.st_ino && st.st_dev == root.st_dev);
	ck_file_eq(at(br("b"), "../@c/cfile"), "c\n");
	ck_file_eq(at(br("b"), "dir/../../@c/cfile"), "c\n");
	/* From a directory descriptor inside the branch. */
	fd = open(at(br("b"), "dir/sub"), O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	fd2 = openat(fd, "../../..", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd2, 0);
	ck_sys(fstat(fd2, &st));
	ck_assert(st.st_ino == root.st_ino && st.st_dev == root.st_dev);
	close(fd2);
	close(fd);
	/* And the working directory is where it was entered. */
	ck_assert_int_eq(
		bfs_sh(at(br("b"), "dir/sub"), "test \"$(cd ../.. && pwd -P)\" = '%s'", br("b")),
		0);
	/* What b wrote stays in b. */
	ck_ret(bfs_write_file(at(br("b"), "../@c/fromb"), "b\n"), 0);
	ck_absent(at(br("b"), "fromb"));
	ck_file_eq(at(br("c"), "fromb"), "b\n");
	ck_absent(at(m.base, "fromb"));
}
END_TEST

/* ---- privacy and robustness ---- */

START_TEST(storage_is_private)
{
	struct stat st;
	static const char *const entries[] = { "state", "lock", "layers", "work", "trash" };

	ck_sys(stat(m.storage, &st));
	ck_assert_msg((st.st_mode & 07777) == 0700, "storage mode %o", st.st_mode & 07777);
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		ck_sys(stat(at(m.storage, entries[i]), &st));
		ck_assert_msg(!(st.st_mode & 077), "storage/%s mode %o", entries[i],
			      st.st_mode & 07777);
	}
}
END_TEST

/* Storage made open to others (by hand, an older version, a umask) is
 * made private again by the next mount, its branches intact. */
START_TEST(loose_storage_is_made_private_at_mount)
{
	static const char *const dirs[] = { "", "layers", "work", "trash" };
	struct stat st;

	ck_ret(bfs_branch_create(&m, NULL, "kept"), 0);
	ck_ret(bfs_write_file(at(br("kept"), "f"), "kept\n"), 0);
	bfs_mount_crash(&m);
	ck_sys(chmod(m.storage, 0755));
	ck_sys(chmod(at(m.storage, "layers"), 0777));
	ck_sys(chmod(at(m.storage, "work"), 0705));
	ck_sys(chmod(at(m.storage, "trash"), 0750));
	bfs_mount_start(&m, NULL);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		ck_sys(stat(at(m.storage, dirs[i]), &st));
		ck_assert_msg((st.st_mode & 07777) == 0700, "storage/%s mode %o after the mount",
			      dirs[i], st.st_mode & 07777);
	}
	ck_file_eq(at(br("kept"), "f"), "kept\n");
}
END_TEST

static int op_stat(void *path)
{
	struct stat st;

	return stat(path, &st) ? -errno : 0;
}

static int op_open_rd(void *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int op_open_wr(void *path)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int op_create(void *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static bool mount_has_option(const char *opt)
{
	char line[8192], dir[4096], type[256], opts[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	ck_assert(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %4095s %255s %4095s", dir, type, opts) == 3 &&
		    !strcmp(dir, m.mnt))
			found = strstr(opts, opt) != NULL;
	fclose(f);
	return found;
}

static void open_path(void)
{
	const char *tmp = getenv("BFS_TEST_TMP");

	if (tmp && tmp[0])
		ck_sys(chmod(tmp, 0711));
	ck_sys(chmod(m.dir, 0711));
}

START_TEST(the_mount_is_private_unless_asked)
{
	open_path();
	ck_assert(!mount_has_option("allow_other"));
	ck_ret(bfs_run_as(NOBODY, USERS, op_stat, (void *)at(m.base, "f")), 0);
	ck_ret(bfs_run_as(NOBODY, USERS, op_stat, (void *)m.mnt), -EACCES);
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_rd, (void *)at(m.mnt, "f")), -EACCES);
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_rd, (void *)ctl(NULL)), -EACCES);
	ck_ret(bfs_run_as(NOBODY, USERS, op_create, (void *)at(br("b"), "x")), -EACCES);
}
END_TEST

static void setup_shared(void)
{
	static const char *const allow[] = { "-o", "allow_other", NULL };

	setup_with(allow);
}

START_TEST(others_cannot_drive_a_shared_mount)
{
	char *before, *after;

	open_path();
	ck_assert(mount_has_option("allow_other"));
	before = state();
	/* Others see files, but the control files are the owner's alone. */
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_rd, (void *)at(m.mnt, "f")), 0);
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_rd, (void *)ctl(NULL)), -EACCES);
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_wr, (void *)ctl(NULL)), -EACCES);
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_rd, (void *)ctl("b")), -EACCES);
	ck_ret(bfs_run_as(NOBODY, USERS, op_open_wr, (void *)ctl("b")), -EACCES);
	after = state();
	ck_assert_msg(!strcmp(before, after), "%s", bfs_str_diff(before, after));
	free(before);
	free(after);
}
END_TEST

/* One worker of the flood: n rounds of requests that must all fail. */
static void flood_worker(int seed, int rounds)
{
	char longname[4000], path[8192], buf[256];

	memset(longname, 'L', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (int r = 0; r < rounds; r++) {
		int fd = open(ctl(seed & 1 ? "b" : NULL), O_RDWR);

		if (fd >= 0) {
			ioctl(fd, _IO('b', 3 + (r % 12)), buf);
			ioctl(fd, 0xdeadbeef, buf);
			if (write(fd, "bogus", 5) != -1 || write(fd, "create:/", 8) != -1 ||
			    write(fd, "switch:nope", 11) != -1 || write(fd, "create:b", 8) != -1)
				_exit(3);
			lseek(fd, 1 << 20, SEEK_SET);
			pread(fd, buf, sizeof(buf), 1 << 30);
			fallocate(fd, 0, 0, 4096);
			fsetxattr(fd, "user.x", "1", 1, 0);
			ftruncate(fd, 100);
			close(fd);
		}
		snprintf(path, sizeof(path), "%s/%s", m.mnt, longname);
		if (open(path, O_RDONLY) != -1)
			_exit(4);
		snprintf(path, sizeof(path), "%s/dir/%s", br("b"), longname);
		if (mkdir(path, 0755) != -1)
			_exit(5);
		snprintf(path, sizeof(path), "%s/@%s", m.mnt, longname);
		if (access(path, F_OK) != -1)
			_exit(6);
		if (access(at(m.mnt, "@nope/x"), F_OK) != -1 ||
		    readlink(at(m.mnt, "f"), buf, 8) != -1)
			_exit(7);
		getxattr(at(br("b"), "f"), "user.nope", buf, 0);
		getxattr(at(m.mnt, "f"), "trusted.branchfs.origin", buf, sizeof(buf));
		listxattr(at(br("b"), "f"), buf, 1);
		rename(at(br("b"), "dir"), at(br("b"), "dir/sub/inside"));
		rmdir(at(br("b"), "dir"));
		link(at(br("b"), "dir"), at(br("b"), "dirlink"));
		rename(at(m.mnt, "f"), br("b"));
		rename(br("b"), at(br("b"), "x"));
	}
	_exit(0);
}

START_TEST(a_flood_of_bad_requests_leaves_the_daemon_serving)
{
	pid_t kids[4];
	char name[BRANCHFS_NAME_BUF];
	int status;

	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0)
			flood_worker(i, 300);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "flood worker %d: a bad request succeeded (status %d)", i, status);
	}
	ck_assert_msg(daemon_alive(), "the daemon died");
	/* Still serving, reading and writing and branching. */
	ck_file_eq(at(m.mnt, "f"), "f\n");
	ck_file_eq(at(br("b"), "dir/sub/s"), "s\n");
	ck_ret(bfs_write_file(at(br("b"), "after"), "after\n"), 0);
	ck_ret(bfs_ioc_create(ctl("b"), name), 0);
	ck_file_eq(at(br(name), "after"), "after\n");
	ck_ret(bfs_ioc_abort(ctl(name)), 0);
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_file_eq(at(m.base, "after"), "after\n");
	ck_outside_untouched();
}
END_TEST

START_TEST(paths_longer_than_path_max_fail_cleanly)
{
	char name[201], target[4096];
	int dir, next, depth = 0, err = 0;

	/* 200-byte names, deeper than PATH_MAX, through one directory fd. */
	memset(name, 'd', 200);
	name[200] = '\0';
	dir = open(br("b"), O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dir, 0);
	for (depth = 0; depth < 40 && !err; depth++) {
		if (mkdirat(dir, name, 0755) < 0) {
			err = errno;
			break;
		}
		next = openat(dir, name, O_RDONLY | O_DIRECTORY);
		if (next < 0) {
			err = errno;
			break;
		}
		close(dir);
		dir = next;
	}
	close(dir);
	ck_assert_msg(err == 0 || err == ENAMETOOLONG,
		      "a deep path failed with %s at depth %d, not ENAMETOOLONG", strerror(err),
		      depth);
	ck_assert_msg(daemon_alive(), "the daemon died");
	/* Long symlink targets round-trip. */
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	ck_sys(symlink(target, at(br("b"), "longlink")));
	ck_link(at(br("b"), "longlink"), target);
	ck_file_eq(at(br("b"), "f"), "f\n");
}
END_TEST

/* Run the daemon with argv (NULL-terminated, after the binary); it must
 * exit by itself within 10 s: its exit status. */
static int daemon_exit_status(const char *const *args)
{
	const char *argv[32] = { BFS_DAEMON_PATH, "-f" };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int argc = 2, status;
	pid_t pid;

	for (; *args && argc < 30; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_abort_msg("branchfsd with a bad command line did not exit within 10 s");
	return -1;
}

START_TEST(a_daemon_that_cannot_start_leaves_the_storage_alone)
{
	char nowhere[4096], other[4096];

	ck_ret(bfs_branch_create(&m, NULL, "work"), 0);
	ck_ret(bfs_write_file(at(br("work"), "precious"), "precious\n"), 0);
	/* A second daemon on storage in use is refused, harmlessly. */
	bfs_path(other, m.dir, "mnt2");
	ck_sys(mkdir(other, 0755));
	ck_assert_int_ne(daemon_exit_status((const char *const[]){ "--base", m.base, "--storage",
								   m.storage, other, NULL }),
			 0);
	ck_file_eq(at(br("work"), "precious"), "precious\n");
	/* The daemon dies; its branches wait in storage for the next mount. */
	bfs_mount_crash(&m);
	bfs_path(nowhere, m.dir, "no/such/dir");
	ck_assert_int_ne(daemon_exit_status((const char *const[]){ "--base", m.base, "--storage",
								   m.storage, nowhere, NULL }),
			 0);
	ck_assert_int_ne(
		daemon_exit_status((const char *const[]){ "--base", m.base, "--storage", m.storage,
							  "--max-storage", "12Q", m.mnt, NULL }),
		0);
	bfs_mount_start(&m, NULL);
	ck_assert_msg(bfs_exists(br("work")), "@work is gone after failed starts");
	ck_file_eq(at(br("work"), "precious"), "precious\n");
	ck_assert(bfs_exists(br("b")));
}
END_TEST

static void setup_long_main(void)
{
	static const char *const slow[] = { "-o", "main_timeout=3600", NULL };

	setup_with(slow);
}

#ifdef BFS_FAILMALLOC_PATH
static void setup_failmalloc(void)
{
	preload = BFS_FAILMALLOC_PATH;
	setenv("BFS_FAILMALLOC_EVERY", "11", 1);
	setup_with(NULL);
	preload = NULL;
}

static void count_err(int ret, int *enomem)
{
	if (ret == -1 && errno == ENOMEM)
		(*enomem)++;
}

/* One round of ordinary work while allocations fail. */
static void workload(int r, int *enomem)
{
	char name[64], path[4096], buf[256];
	struct stat st;
	int fd;

	count_err(stat(at(m.mnt, "f"), &st), enomem);
	fd = open(at(m.mnt, "f"), O_RDONLY);
	count_err(fd, enomem);
	if (fd >= 0) {
		count_err((int)read(fd, buf, sizeof(buf)), enomem);
		close(fd);
	}
	free(bfs_list_dir(m.mnt, 0));
	free(bfs_list_dir(at(br("b"), "dir"), 0));
	snprintf(name, sizeof(name), "w%d", r);
	fd = open(at(br("b"), name), O_WRONLY | O_CREAT, 0644);
	count_err(fd, enomem);
	if (fd >= 0) {
		count_err((int)write(fd, "data\n", 5), enomem);
		close(fd);
	}
	snprintf(name, sizeof(name), "d%d", r);
	count_err(mkdir(at(br("b"), name), 0755), enomem);
	snprintf(path, sizeof(path), "%s/d%d/w", br("b"), r);
	snprintf(name, sizeof(name), "w%d", r);
	count_err(rename(at(br("b"), name), path), enomem);
	count_err(setxattr(at(br("b"), "f"), "user.k", "v", 1, 0), enomem);
	count_err(stat(at(br("b"), "dir/sub/s"), &st), enomem);
	snprintf(name, sizeof(name), "create:r%d", r);
	errno = -cmd(ctl(NULL), name);
	count_err(errno ? -1 : 0, enomem);
	snprintf(name, sizeof(name), "r%d", r);
	if (bfs_exists(br(name))) {
		bfs_write_file(at(br(name), "rf"), "r\n");
		errno = -cmd(ctl(name), r % 2 ? "abort" : "commit");
		count_err(errno ? -1 : 0, enomem);
	}
	free(bfs_ctl_read(ctl(NULL)));
}

START_TEST(enomem_fails_requests_not_the_daemon)
{
	char *before, *after;
	int enomem = 0;

	ck_sys(kill(m.pid, SIGUSR1));
	usleep(100 * 1000);
	for (int r = 0; r < 200 && daemon_alive(); r++)
		workload(r, &enomem);
	ck_sys(kill(m.pid, SIGUSR2));
	usleep(100 * 1000);
	ck_assert_msg(daemon_alive(), "the daemon died while allocations failed");
	ck_assert_msg(enomem > 0, "no request failed with ENOMEM: the injection did not work");
	fprintf(stderr, "hostile: %d requests failed with ENOMEM\n", enomem);
	/* Every request works again, and what the tree holds is whole. */
	ck_file_eq(at(m.mnt, "f"), "f\n");
	ck_file_eq(at(br("b"), "dir/sub/s"), "s\n");
	ck_ret(bfs_branch_create(&m, "b", "final"), 0);
	ck_ret(bfs_write_file(at(br("final"), "final"), "final\n"), 0);
	ck_ret(bfs_ioc_commit(ctl("final")), 0);
	ck_file_eq(at(br("b"), "final"), "final\n");
	before = bfs_list_dir(m.mnt, 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	after = bfs_list_dir(m.mnt, 0);
	ck_assert_msg(!strcmp(before, after), "branches before the crash: %s\nafter: %s", before,
		      after);
	ck_file_eq(at(br("b"), "final"), "final\n");
	ck_outside_untouched();
	free(before);
	free(after);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("control");
	TCase *tp = tcase_create("paths");
	TCase *ts = tcase_create("swapped");
	TCase *tr = tcase_create("robustness");
	TCase *to = tcase_create("shared");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, unknown_ioctls_get_enotty);
	tcase_add_test(tc, our_ioctls_on_other_files_get_enotty);
	tcase_add_test(tc, ioctl_arguments_the_kernel_cannot_copy);
	tcase_add_test(tc, malformed_text_commands_change_nothing);
	tcase_add_test(tc, whitespace_inside_a_command_is_refused_not_dropped);
	tcase_add_test(tc, commands_on_a_gone_branch_get_enoent);
	tcase_add_test(tc, a_long_write_is_one_command);
	tcase_add_test(tc, a_long_valid_write_is_answered_whole);
	tcase_add_test(tc, control_files_are_private);
	tcase_add_test(tc, no_at_names_at_the_root);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_set_timeout(tp, 30);
	tcase_add_test(tp, outside_links_are_shown_as_links);
	tcase_add_test(tp, outside_links_are_never_followed_by_changes);
	tcase_add_test(tp, dotdot_cannot_leave_a_branch);
	suite_add_tcase(s, tp);

	tcase_add_checked_fixture(ts, setup_long_main, teardown);
	tcase_set_timeout(ts, 30);
	tcase_add_test(ts, a_base_directory_swapped_for_a_link_is_not_read_through);
	tcase_add_test(ts, a_base_directory_swapped_for_a_link_is_not_written_through);
	tcase_add_test(ts, a_base_directory_swapped_for_a_link_is_not_listed_through);
	tcase_add_test(ts, a_known_file_under_a_swapped_directory_is_not_opened_through);
	tcase_add_test(ts, a_file_open_in_main_while_its_directory_is_swapped);
	tcase_add_test(ts, a_commit_into_a_directory_main_made_a_link_stays_inside);
	tcase_add_test(ts, a_base_file_swapped_for_a_link_is_not_changed_through);
	suite_add_tcase(s, ts);

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, storage_is_private);
	tcase_add_test(tr, loose_storage_is_made_private_at_mount);
	tcase_add_test(tr, the_mount_is_private_unless_asked);
	tcase_add_test(tr, a_flood_of_bad_requests_leaves_the_daemon_serving);
	tcase_add_test(tr, paths_longer_than_path_max_fail_cleanly);
	tcase_add_test(tr, a_daemon_that_cannot_start_leaves_the_storage_alone);
	suite_add_tcase(s, tr);

#ifdef BFS_FAILMALLOC_PATH
	{
		TCase *tm = tcase_create("enomem");

		tcase_add_checked_fixture(tm, setup_failmalloc, teardown);
		tcase_set_timeout(tm, 60);
		tcase_add_test(tm, enomem_fails_requests_not_the_daemon);
		suite_add_tcase(s, tm);
	}
#endif

	tcase_add_checked_fixture(to, setup_shared, teardown);
	tcase_set_timeout(to, 30);
	tcase_add_test(to, others_cannot_drive_a_shared_mount);
	suite_add_tcase(s, to);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
