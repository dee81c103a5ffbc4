/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ownership and permissions on a real mount.  The daemon runs as root; a
 * process running as another user (nobody, group users) works through
 * /@b/, the mount root on b and the mount root on main: what it creates is
 * its own, set-group-id directories behave, the kernel's permission checks
 * (modes, sticky bit, ACLs) hold, and a commit keeps the owners.  Without
 * -o allow_other nobody but root gets in.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#define USER  65534 /* nobody */
#define GROUP 100   /* users */
#define SGID  1234  /* group of the set-group-id directory */

enum view { AT_BRANCH, ROOT_BRANCH, ROOT_MAIN, NVIEWS };

static struct bfs_mount m;
static enum view V;
static char W[4096];
static char *base0;

/* Let other users walk down to the mount point. */
static void open_path(void)
{
	const char *tmp = getenv("BFS_TEST_TMP");

	if (tmp && tmp[0])
		ck_sys(chmod(tmp, 0711));
	ck_sys(chmod(m.dir, 0711));
}

static void make_base(void)
{
	char p[4096];

	ck_assert_int_eq(bfs_sh(m.base,
				"mkdir -m 0777 pub pub/deep && "
				"mkdir -m 02777 sg && chgrp %d sg && "
				"mkdir -m 02777 sg/sub && chgrp %d sg/sub && "
				"mkdir rootdir && echo r > rootdir/f && "
				"mkdir -m 01777 sticky && echo s > sticky/rootfile && "
				"echo ro > ro.txt && echo secret > secret && chmod 0600 secret && "
				"echo acl > acl.txt && chmod 0640 acl.txt",
				SGID, SGID),
			 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "pub/deep/old"), "old\n"), 0);
	ck_ret(bfs_acl_grant(bfs_path(p, m.base, "acl.txt"), false, USER, 6), 0);
}

static void setup(void)
{
	static const char *const allow[] = { "-o", "allow_other", NULL };

	bfs_mount_prepare(&m);
	open_path();
	make_base();
	base0 = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	bfs_mount_start(&m, allow);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
	free(base0);
}

static void use_view(int v)
{
	char ctl[4096];

	V = v;
	if (V == AT_BRANCH) {
		bfs_branch_dir(W, &m, "b");
		return;
	}
	if (V == ROOT_BRANCH)
		ck_ret(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "switch:b"), 0);
	snprintf(W, sizeof(W), "%s", m.mnt);
}

static const char *wp(const char *rel)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, 4096, "%s/%s", W, rel);
	return p;
}

static const char *bp(const char *rel)
{
	static char buf[4][4096];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, 4096, "%s/%s", m.base, rel);
	return p;
}

/* Operations run as the other user: 0 or -errno. */
static int op_creat(void *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);

	if (fd < 0)
		return -errno;
	if (write(fd, "mine\n", 5) != 5) {
		close(fd);
		return -EIO;
	}
	return close(fd) ? -errno : 0;
}

static int op_mkdir(void *path)
{
	return mkdir(path, 0777) ? -errno : 0;
}

static int op_symlink(void *path)
{
	return symlink("target", path) ? -errno : 0;
}

static int op_mkfifo(void *path)
{
	return mkfifo(path, 0666) ? -errno : 0;
}

static int op_bind(void *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", (const char *)path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		ret = -errno;
	close(fd);
	return ret;
}

static int op_open_write(void *path)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -errno;
	return close(fd) ? -errno : 0;
}

static int op_append(void *path)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "appended by nobody\n", 19) != 19)
		ret = -EIO;
	close(fd);
	return ret;
}

static int op_read(void *path)
{
	char *s = bfs_read_file(path);

	if (!s)
		return -errno;
	free(s);
	return 0;
}

static int op_stat(void *path)
{
	struct stat st;

	return stat(path, &st) ? -errno : 0;
}

static int op_unlink(void *path)
{
	return unlink(path) ? -errno : 0;
}

static int op_chmod(void *path)
{
	return chmod(path, 0777) ? -errno : 0;
}

static int op_chown_root(void *path)
{
	return chown(path, 0, 0) ? -errno : 0;
}

static int op_truncate(void *path)
{
	return truncate(path, 0) ? -errno : 0;
}

static int op_setxattr(void *path)
{
	return setxattr(path, "user.k", "v", 1, 0) ? -errno : 0;
}

static int op_touch_times(void *path)
{
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };

	return utimensat(AT_FDCWD, path, ts, 0) ? -errno : 0;
}

static int op_touch_now(void *path)
{
	return utimensat(AT_FDCWD, path, NULL, 0) ? -errno : 0;
}

static int as_user(int (*fn)(void *), const char *path)
{
	return bfs_run_as(USER, GROUP, fn, (void *)path);
}

/* Check owner, group and permission bits of path. */
static void ck_owner(const char *path, uid_t uid, gid_t gid, mode_t perm)
{
	struct stat st = st_of(path);

	ck_assert_msg(st.st_uid == uid && st.st_gid == gid, "%s: owner %u:%u, expected %u:%u", path,
		      (unsigned int)st.st_uid, (unsigned int)st.st_gid, (unsigned int)uid,
		      (unsigned int)gid);
	if (perm != (mode_t)-1)
		ck_assert_msg((st.st_mode & 07777) == perm, "%s: mode %04o, expected %04o", path,
			      (unsigned int)(st.st_mode & 07777), (unsigned int)perm);
}

/* Bring the case's changes into the base (branch views) and return. */
static void commit_view(void)
{
	char ctl[4096];

	if (V != ROOT_MAIN)
		ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "b")), 0);
}

START_TEST(creations_belong_to_the_caller)
{
	static const char *const names[] = { "pub/file", "pub/dir",  "pub/link",
					     "pub/fifo", "pub/sock", "pub/deep/file" };

	use_view(_i);
	ck_ret(as_user(op_creat, wp("pub/file")), 0);
	ck_ret(as_user(op_mkdir, wp("pub/dir")), 0);
	ck_ret(as_user(op_symlink, wp("pub/link")), 0);
	ck_ret(as_user(op_mkfifo, wp("pub/fifo")), 0);
	ck_ret(as_user(op_bind, wp("pub/sock")), 0);
	ck_ret(as_user(op_creat, wp("pub/deep/file")), 0);
	ck_owner(wp("pub/file"), USER, GROUP, 0644);
	ck_owner(wp("pub/dir"), USER, GROUP, 0755);
	ck_owner(wp("pub/link"), USER, GROUP, -1);
	ck_owner(wp("pub/fifo"), USER, GROUP, 0644);
	ck_owner(wp("pub/sock"), USER, GROUP, -1);
	ck_owner(wp("pub/deep/file"), USER, GROUP, 0644);
	/* Copying up the parents did not change them. */
	ck_owner(wp("pub"), 0, 0, 0777);
	ck_owner(wp("pub/deep"), 0, 0, 0777);
	/* The owner keeps using them. */
	ck_ret(as_user(op_append, wp("pub/file")), 0);
	ck_ret(as_user(op_creat, wp("pub/dir/inner")), 0);
	ck_owner(wp("pub/dir/inner"), USER, GROUP, 0644);
	commit_view();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_owner(bp(names[i]), USER, GROUP, -1);
	ck_owner(bp("pub/dir/inner"), USER, GROUP, 0644);
	ck_owner(bp("pub"), 0, 0, 0777);
	ck_file_eq(bp("pub/file"), "mine\nappended by nobody\n");
}
END_TEST

START_TEST(setgid_directories)
{
	use_view(_i);
	ck_ret(as_user(op_creat, wp("sg/file")), 0);
	ck_ret(as_user(op_mkdir, wp("sg/dir")), 0);
	ck_ret(as_user(op_mkfifo, wp("sg/fifo")), 0);
	ck_ret(as_user(op_creat, wp("sg/sub/file")), 0);
	ck_owner(wp("sg/file"), USER, SGID, 0644);
	ck_owner(wp("sg/fifo"), USER, SGID, 0644);
	ck_owner(wp("sg/sub/file"), USER, SGID, 0644);
	/* New directories inherit the group and the set-group-id bit. */
	ck_owner(wp("sg/dir"), USER, SGID, 02755);
	ck_ret(as_user(op_creat, wp("sg/dir/deeper")), 0);
	ck_owner(wp("sg/dir/deeper"), USER, SGID, 0644);
	ck_owner(wp("sg"), 0, SGID, 02777);
	commit_view();
	ck_owner(bp("sg/file"), USER, SGID, 0644);
	ck_owner(bp("sg/dir"), USER, SGID, 02755);
	ck_owner(bp("sg/dir/deeper"), USER, SGID, 0644);
}
END_TEST

/* One creation of a set-id case: kind 'f' open(O_CREAT), 'd' mkdir,
 * 'p' mknod of a FIFO, 'r' mknod of a regular file. */
struct make {
	const char *path;
	char kind;
	mode_t mode;
};

static int op_make(void *arg)
{
	const struct make *k = arg;
	int fd;

	switch (k->kind) {
	case 'f':
		fd = open(k->path, O_WRONLY | O_CREAT | O_EXCL, k->mode);
		return fd < 0 ? -errno : close(fd) ? -errno : 0;
	case 'd':
		return mkdir(k->path, k->mode) ? -errno : 0;
	case 'p':
		return mknod(k->path, S_IFIFO | k->mode, 0) ? -errno : 0;
	default:
		return mknod(k->path, S_IFREG | k->mode, 0) ? -errno : 0;
	}
}

/*
 * Set-user-id and set-group-id bits at creation, by root and by another
 * user, in a plain and in a set-group-id directory whose group the user is
 * not in: the mount gives exactly the mode and owner a local disk (a
 * directory beside the base) gives for the same call.
 */
START_TEST(setid_bits_at_creation)
{
	static const mode_t modes[] = { 04755, 02755, 06755, 02745, 06777 };
	static const char kinds[] = "fdpr";
	static const char *const dirs[] = { "pub", "sg" };
	char disk[4096], a[4096], b[4096];
	int n = 0;

	use_view(_i);
	bfs_path(disk, m.dir, "disk");
	ck_assert_int_eq(bfs_sh(NULL,
				"mkdir -m 0711 '%s' && mkdir -m 0777 '%s/pub' && "
				"mkdir -m 02777 '%s/sg' && chgrp %d '%s/sg'",
				disk, disk, disk, SGID, disk),
			 0);
	for (size_t u = 0; u < 2; u++) {
		for (size_t d = 0; d < 2; d++) {
			for (size_t k = 0; kinds[k]; k++) {
				for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
					struct make on_disk, on_mount;
					struct stat want, got;

					snprintf(a, sizeof(a), "%s/%s/n%d", disk, dirs[d], n);
					snprintf(b, sizeof(b), "%s/n%d", dirs[d], n++);
					on_disk = (struct make){ a, kinds[k], modes[i] };
					on_mount = (struct make){ wp(b), kinds[k], modes[i] };
					ck_ret(bfs_run_as(u ? USER : 0, u ? GROUP : 0, op_make,
							  &on_disk),
					       0);
					ck_ret(bfs_run_as(u ? USER : 0, u ? GROUP : 0, op_make,
							  &on_mount),
					       0);
					want = st_of(a);
					got = st_of(on_mount.path);
					ck_assert_msg(
						(got.st_mode & 07777) == (want.st_mode & 07777) &&
							got.st_uid == want.st_uid &&
							got.st_gid == want.st_gid,
						"%s %c %04o by uid %u: mount %04o %u:%u, "
						"disk %04o %u:%u",
						dirs[d], kinds[k], (unsigned int)modes[i],
						u ? USER : 0, (unsigned int)(got.st_mode & 07777),
						(unsigned int)got.st_uid, (unsigned int)got.st_gid,
						(unsigned int)(want.st_mode & 07777),
						(unsigned int)want.st_uid,
						(unsigned int)want.st_gid);
				}
			}
		}
	}
	/* A commit carries the bits as they are. */
	commit_view();
	for (int i = 0; i < n; i++) {
		const char *dir = dirs[i / (n / 4) % 2];

		snprintf(a, sizeof(a), "%s/%s/n%d", disk, dir, i);
		snprintf(b, sizeof(b), "%s/n%d", dir, i);
		ck_assert_msg((st_of(bp(b)).st_mode & 07777) == (st_of(a).st_mode & 07777),
			      "%s after commit: %04o, disk %04o", b,
			      (unsigned int)(st_of(bp(b)).st_mode & 07777),
			      (unsigned int)(st_of(a).st_mode & 07777));
	}
}
END_TEST

START_TEST(kernel_permission_checks)
{
	char *base;

	use_view(_i);
	ck_ret(as_user(op_read, wp("ro.txt")), 0);
	ck_ret(as_user(op_open_write, wp("ro.txt")), -EACCES);
	ck_ret(as_user(op_truncate, wp("ro.txt")), -EACCES);
	ck_ret(as_user(op_setxattr, wp("ro.txt")), -EACCES);
	ck_ret(as_user(op_chmod, wp("ro.txt")), -EPERM);
	ck_ret(as_user(op_touch_times, wp("ro.txt")), -EPERM);
	ck_ret(as_user(op_touch_now, wp("ro.txt")), -EACCES);
	ck_ret(as_user(op_read, wp("secret")), -EACCES);
	ck_ret(as_user(op_unlink, wp("rootdir/f")), -EACCES);
	ck_ret(as_user(op_creat, wp("rootdir/new")), -EACCES);
	ck_ret(as_user(op_mkdir, wp("rootdir/new")), -EACCES);
	ck_ret(as_user(op_unlink, wp("sticky/rootfile")), -EPERM);
	ck_ret(as_user(op_creat, wp("pub/own")), 0);
	ck_ret(as_user(op_chown_root, wp("pub/own")), -EPERM);
	ck_ret(as_user(op_unlink, wp("pub/deep/old")), 0);
	/* The same after root changed the file (and so copied it up). */
	ck_ret(bfs_write_file(wp("ro.txt"), "root wrote\n"), 0);
	ck_ret(as_user(op_open_write, wp("ro.txt")), -EACCES);
	ck_ret(as_user(op_read, wp("ro.txt")), 0);
	ck_ret(bfs_write_file(wp("secret"), "still secret\n"), 0);
	ck_ret(as_user(op_read, wp("secret")), -EACCES);
	ck_file_eq(wp("rootdir/f"), "r\n");
	ck_file_eq(wp("sticky/rootfile"), "s\n");
	if (V != ROOT_MAIN) {
		base = bfs_tree_dump(m.base, BFS_DUMP_ALL);
		ck_tree_eq(base, base0);
		free(base);
	}
}
END_TEST

/* An ACL entry for the user opens a file its mode bits would close. */
START_TEST(acl_grants_access)
{
	use_view(_i);
	/* As it does on the plain disk. */
	ck_ret(as_user(op_read, bp("acl.txt")), 0);
	ck_ret(as_user(op_read, wp("acl.txt")), 0);
	ck_ret(as_user(op_append, wp("acl.txt")), 0);
	ck_file_eq(wp("acl.txt"), "acl\nappended by nobody\n");
	ck_ret(as_user(op_read, wp("secret")), -EACCES);
}
END_TEST

START_TEST(allow_other_lets_others_in)
{
	char p[4096];

	ck_ret(as_user(op_stat, m.mnt), 0);
	ck_ret(as_user(op_read, bfs_path(p, m.mnt, "ro.txt")), 0);
	ck_ret(as_user(op_read, bfs_path(p, m.mnt, "@b/ro.txt")), 0);
	ck_ret(as_user(op_stat, bfs_path(p, m.mnt, "@b")), 0);
}
END_TEST

static void setup_private(void)
{
	bfs_mount_prepare(&m);
	open_path();
	make_base();
	bfs_mount_start(&m, NULL);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
}

static void teardown_private(void)
{
	bfs_mount_stop(&m);
}

START_TEST(without_allow_other_only_root_gets_in)
{
	char p[4096];

	/* The way down is open: the refusals below are the mount's. */
	ck_ret(as_user(op_stat, m.dir), 0);
	ck_ret(as_user(op_read, bfs_path(p, m.base, "ro.txt")), 0);
	ck_ret(as_user(op_stat, m.mnt), -EACCES);
	ck_ret(as_user(op_read, bfs_path(p, m.mnt, "ro.txt")), -EACCES);
	ck_ret(as_user(op_read, bfs_path(p, m.mnt, "@b/ro.txt")), -EACCES);
	ck_ret(as_user(op_creat, bfs_path(p, m.mnt, "pub/x")), -EACCES);
	/* Root itself does get in. */
	bfs_path(p, m.mnt, "@b/ro.txt");
	ck_ret(op_read(p), 0);
	ck_ret(op_stat(m.mnt), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ownership");
	TCase *tc = tcase_create("allow_other");
	TCase *tp = tcase_create("private");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 15);
	tcase_add_loop_test(tc, creations_belong_to_the_caller, 0, NVIEWS);
	tcase_add_loop_test(tc, setgid_directories, 0, NVIEWS);
	tcase_add_loop_test(tc, setid_bits_at_creation, 0, NVIEWS);
	tcase_add_loop_test(tc, kernel_permission_checks, 0, NVIEWS);
	tcase_add_loop_test(tc, acl_grants_access, 0, NVIEWS);
	tcase_add_test(tc, allow_other_lets_others_in);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tp, setup_private, teardown_private);
	tcase_set_timeout(tp, 15);
	tcase_add_test(tp, without_allow_other_only_root_gets_in);
	suite_add_tcase(s, tp);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
