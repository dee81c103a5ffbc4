/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Directory listings on a real mount.  The kernel keeps every listing
 * (directories have no OPENDIR round trip) and branchfsd keeps recent ones:
 * these tests check that what a reader gets is always right.  The mount
 * root shows @NAME entries as branches come and go; main shows what other
 * programs do to the base within its cache timeout; a reader never misses
 * or repeats a name that stayed while others come and go, even with more
 * directories being read at once than branchfsd keeps listings of; seekdir
 * returns to the same place; d_ino is st_ino, also for names listed from
 * the node table.
 */
#define _GNU_SOURCE
#include "bfs_test.h"

#include "bfs_check.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct bfs_mount m;
static char br[4096]; /* @b's directory */

static void setup(void)
{
	char p[4096];

	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_mkdirs(bfs_path(p, m.base, "src/sub")), 0);
	ck_assert_int_eq(bfs_write_file(bfs_path(p, m.base, "src/base.c"), "base\n"), 0);
	bfs_mount_start(&m, NULL);
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(p, &m, NULL), "create:b"), 0);
	bfs_branch_dir(br, &m, "b");
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

static bool listed(const char *dir, const char *name)
{
	char *l = bfs_list_dir(dir, 0), *tok, *save = NULL;
	bool found = false;

	ck_assert_ptr_nonnull(l);
	for (tok = strtok_r(l, " ", &save); tok && !found; tok = strtok_r(NULL, " ", &save))
		found = !strcmp(tok, name);
	free(l);
	return found;
}

/* Whether name is listed in dir within about five seconds. */
static bool listed_soon(const char *dir, const char *name, bool want)
{
	for (int i = 0; i < 100; i++) {
		if (listed(dir, name) == want)
			return true;
		usleep(50000);
	}
	return false;
}

START_TEST(root_listing_follows_branches)
{
	char ctl[4096];

	ck_assert(listed(m.mnt, "@b"));
	ck_assert(!listed(m.mnt, "@c"));
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "create:c"), 0);
	ck_assert_msg(listed(m.mnt, "@c"), "a new branch is listed at once");
	ck_assert_int_eq(bfs_ioc_abort(bfs_ctl_path(ctl, &m, "c")), 0);
	ck_assert_msg(!listed(m.mnt, "@c"), "an aborted branch is gone at once");
	ck_assert_int_eq(bfs_write_file(bfs_path(ctl, br, "new.c"), "new\n"), 0);
	ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "b")), 0);
	ck_assert_msg(!listed(m.mnt, "@b"), "a committed branch is gone at once");
	ck_assert_msg(listed(m.mnt, "new.c"), "its file is listed in main at once");
}
END_TEST

START_TEST(main_listing_shows_changes_behind_the_mount)
{
	char dir[4096], p[4096];

	bfs_path(dir, m.mnt, "src");
	ck_assert(!listed(dir, "outside.c"));
	ck_assert_int_eq(bfs_write_file(bfs_path(p, m.base, "src/outside.c"), "o\n"), 0);
	ck_assert_msg(listed_soon(dir, "outside.c", true), "a file made in the base shows");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_msg(listed_soon(dir, "outside.c", false), "a file removed in the base goes");
	/* The branch's snapshot does not list it either way. */
	ck_assert(!listed(bfs_path(p, br, "src"), "outside.c"));
}
END_TEST

START_TEST(branch_listing_follows_the_root_view)
{
	char ctl[4096], dir[4096], p[4096];

	/* The mount root on b and @b are two views of one directory. */
	bfs_path(dir, br, "src");
	ck_assert(listed(dir, "base.c"));
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "switch:b"), 0);
	ck_assert_int_eq(bfs_write_file(bfs_path(p, m.mnt, "src/via-root.c"), "r\n"), 0);
	ck_assert_int_eq(unlink(bfs_path(p, m.mnt, "src/base.c")), 0);
	ck_assert(listed(dir, "via-root.c"));
	ck_assert(!listed(dir, "base.c"));
	ck_assert(!listed(bfs_path(p, m.base, "src"), "via-root.c"));
}
END_TEST

START_TEST(names_removed_behind_a_view_are_not_listed)
{
	char ctl[4096], dir[4096], p[4096];
	struct stat st;

	/* @b knows src/base.c and src/sub (it looked them up and listed src). */
	bfs_path(dir, br, "src");
	ck_assert_int_eq(lstat(bfs_path(p, br, "src/base.c"), &st), 0);
	ck_assert_int_eq(lstat(bfs_path(p, br, "src/sub"), &st), 0);
	ck_assert(listed(dir, "base.c"));
	/* A child of b deletes one and renames the other; it commits into b. */
	ck_assert_int_eq(bfs_branch_create(&m, "b", "c"), 0);
	ck_assert_int_eq(unlink(bfs_path(p, bfs_branch_dir(ctl, &m, "c"), "src/base.c")), 0);
	snprintf(p, sizeof(p), "%s/src/sub", ctl);
	ck_assert_int_eq(rename(p, bfs_path(dir, ctl, "src/moved")), 0);
	ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "c")), 0);
	bfs_path(dir, br, "src");
	ck_assert(!listed(dir, "base.c"));
	ck_assert(!listed(dir, "sub"));
	ck_assert(listed(dir, "moved"));
	ck_assert_int_eq(lstat(bfs_path(p, br, "src/base.c"), &st), -1);
	/* Through the other view of b: the mount root, switched to b. */
	ck_assert_int_eq(bfs_write_file(bfs_path(p, br, "src/twin.c"), "t\n"), 0);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(listed(dir, "twin.c"));
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "switch:b"), 0);
	ck_assert_int_eq(unlink(bfs_path(p, m.mnt, "src/twin.c")), 0);
	ck_assert(!listed(dir, "twin.c"));
	ck_assert(!listed(bfs_path(p, m.mnt, "src"), "twin.c"));
}
END_TEST

static void make_files(const char *dir, int n)
{
	char p[4096];

	ck_assert_int_eq(bfs_mkdirs(dir), 0);
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/f%05d", dir, i);
		ck_assert_int_eq(bfs_write_file(p, ""), 0);
	}
}

/* Read up to len bytes of entries; the names go into seen[] by number. */
static long read_some(int fd, char *buf, size_t len, int *seen, int n)
{
	long got = syscall(SYS_getdents64, fd, buf, len);

	for (long pos = 0; pos < got;) {
		struct dirent64 *de = (struct dirent64 *)(buf + pos);
		int i;

		if (sscanf(de->d_name, "f%d", &i) == 1 && i >= 0 && i < n)
			seen[i]++;
		pos += de->d_reclen;
	}
	return got;
}

START_TEST(readers_never_skip_or_repeat_what_stays)
{
	enum { N = 3000 };
	static int seen[N];
	char dir[4096], p[4096], buf[2048];
	int fd, removed = 0;

	bfs_path(dir, br, "many");
	make_files(dir, N);
	memset(seen, 0, sizeof(seen));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	/* Small reads; between them, names the reader has not reached come
	 * and go (odd numbers above 1000), and new ones appear. */
	for (int round = 0; read_some(fd, buf, sizeof(buf), seen, N) > 0; round++) {
		for (int k = 0; k < 20 && removed < 500; k++, removed++) {
			snprintf(p, sizeof(p), "%s/f%05d", dir, 1001 + 2 * removed);
			ck_assert_int_eq(unlink(p), 0);
		}
		snprintf(p, sizeof(p), "%s/new%d", dir, round);
		ck_assert_int_eq(bfs_write_file(p, ""), 0);
	}
	close(fd);
	for (int i = 0; i < N; i++) {
		bool gone = i > 1000 && i % 2 && (i - 1001) / 2 < removed;

		if (!gone)
			ck_assert_msg(seen[i] == 1, "f%05d, which stayed, was read %d times", i,
				      seen[i]);
		else
			ck_assert_msg(seen[i] <= 1, "f%05d was read %d times", i, seen[i]);
	}
}
END_TEST

START_TEST(many_readers_at_once)
{
	/* More directories read at once than branchfsd keeps listings of. */
	enum { D = 100, N = 300 };
	static int seen[D][N];
	int fd[D], open_dirs = D;
	char dir[4096], buf[1024];

	memset(seen, 0, sizeof(seen));
	for (int d = 0; d < D; d++) {
		snprintf(dir, sizeof(dir), "%s/d%03d", br, d);
		make_files(dir, N);
	}
	for (int d = 0; d < D; d++) {
		snprintf(dir, sizeof(dir), "%s/d%03d", br, d);
		fd[d] = open(dir, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(fd[d], 0);
	}
	while (open_dirs) {
		for (int d = 0; d < D; d++) {
			if (fd[d] < 0)
				continue;
			if (read_some(fd[d], buf, sizeof(buf), seen[d], N) <= 0) {
				close(fd[d]);
				fd[d] = -1;
				open_dirs--;
			}
		}
	}
	for (int d = 0; d < D; d++)
		for (int i = 0; i < N; i++)
			ck_assert_msg(seen[d][i] == 1, "d%03d/f%05d read %d times", d, i,
				      seen[d][i]);
}
END_TEST

START_TEST(seekdir_returns_to_the_same_place)
{
	enum { N_NAMES = 400 };
	char dir[4096], first[N_NAMES][64];
	struct dirent *de;
	long where;
	DIR *d;
	int n = 0;

	bfs_path(dir, br, "seek");
	make_files(dir, 500);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	for (int i = 0; i < 200; i++)
		ck_assert_ptr_nonnull(readdir(d));
	where = telldir(d);
	while ((de = readdir(d)) && n < N_NAMES)
		snprintf(first[n++], sizeof(first[0]), "%s", de->d_name);
	seekdir(d, where);
	for (int i = 0; i < n; i++) {
		de = readdir(d);
		ck_assert_ptr_nonnull(de);
		ck_assert_str_eq(de->d_name, first[i]);
	}
	closedir(d);
	ck_assert_int_eq(n, 302); /* 500 names, "." and "..", less 200 */
}
END_TEST

START_TEST(d_ino_is_st_ino)
{
	char dir[4096], p[4096];
	struct dirent *de;
	struct stat st;
	int checked = 0;
	DIR *d;

	bfs_path(dir, br, "src");
	/* A copied-up file, a new one, a directory. */
	ck_assert_int_eq(bfs_write_file(bfs_path(p, br, "src/base.c"), "changed\n"), 0);
	ck_assert_int_eq(bfs_write_file(bfs_path(p, br, "src/new.c"), "n\n"), 0);
	for (int pass = 0; pass < 2; pass++) {
		d = opendir(dir);
		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".."))
				continue;
			ck_assert_int_eq(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW),
					 0);
			ck_assert_msg(de->d_ino == st.st_ino, "%s: d_ino %llu, st_ino %llu",
				      de->d_name, (unsigned long long)de->d_ino,
				      (unsigned long long)st.st_ino);
			checked++;
		}
		closedir(d);
	}
	ck_assert_int_eq(checked, 2 * 4); /* ".", base.c, new.c, sub */
}
END_TEST

/* Name i of looked_up_names_list_with_their_numbers: a file, a directory,
 * a file whose name is longer than a node keeps inline. */
static void many_name(char *buf, size_t size, int i)
{
	if (i % 3 == 0)
		snprintf(buf, size, "f%03d", i);
	else if (i % 3 == 1)
		snprintf(buf, size, "d%03d", i);
	else
		snprintf(buf, size, "long-name-past-the-inline-limit-%03d", i);
}

/*
 * Names the kernel looked up are listed from the node table, in batches,
 * without asking the storage: their numbers and types must still be right,
 * for short and long (out of line) names, after renames and removals, in
 * the readdirplus reply that opens a listing and the plain ones after it.
 */
START_TEST(looked_up_names_list_with_their_numbers)
{
	enum { N = 330 };
	char dir[4096], p[4096], name[64];
	static ino_t ino[N];
	static bool seen[N];
	struct dirent *de;
	struct stat st;
	int listed = 0;
	DIR *d;

	ck_assert_int_eq(mkdir(bfs_path(dir, br, "src/many"), 0755), 0);
	for (int i = 0; i < N; i++) {
		many_name(name, sizeof(name), i);
		bfs_path(p, dir, name);
		if (i % 3 == 1)
			ck_assert_int_eq(mkdir(p, 0755), 0);
		else
			ck_assert_int_eq(bfs_write_file(p, "x\n"), 0);
		ck_assert_int_eq(lstat(p, &st), 0);
		ino[i] = st.st_ino;
	}
	/* f000 becomes g000 (same number); f003 and d001 go. */
	ck_assert_int_eq(rename(bfs_path(p, dir, "f000"), bfs_path(name, dir, "g000")), 0);
	ck_assert_int_eq(unlink(bfs_path(p, dir, "f003")), 0);
	ck_assert_int_eq(rmdir(bfs_path(p, dir, "d001")), 0);

	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		int i = -1;

		if (de->d_name[0] == '.')
			continue;
		listed++;
		if (!strcmp(de->d_name, "g000"))
			i = 0;
		else
			for (int j = 0; j < N && i < 0; j++) {
				many_name(name, sizeof(name), j);
				if (!strcmp(name, de->d_name))
					i = j;
			}
		ck_assert_msg(i >= 0 && i != 3 && i != 1, "%s: not expected", de->d_name);
		ck_assert_msg(!seen[i], "%s: listed twice", de->d_name);
		seen[i] = true;
		ck_assert_msg(de->d_ino == ino[i], "%s: d_ino %llu, was %llu", de->d_name,
			      (unsigned long long)de->d_ino, (unsigned long long)ino[i]);
		ck_assert_int_eq(de->d_type, i % 3 == 1 ? DT_DIR : DT_REG);
		ck_assert_int_eq(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert_int_eq(st.st_ino, ino[i]);
		ck_assert_int_eq(S_ISDIR(st.st_mode), i % 3 == 1);
	}
	closedir(d);
	ck_assert_int_eq(listed, N - 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("listing");
	TCase *tc = tcase_create("listing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, root_listing_follows_branches);
	tcase_add_test(tc, main_listing_shows_changes_behind_the_mount);
	tcase_add_test(tc, branch_listing_follows_the_root_view);
	tcase_add_test(tc, names_removed_behind_a_view_are_not_listed);
	tcase_add_test(tc, readers_never_skip_or_repeat_what_stays);
	tcase_add_test(tc, many_readers_at_once);
	tcase_add_test(tc, seekdir_returns_to_the_same_place);
	tcase_add_test(tc, d_ino_is_st_ino);
	tcase_add_test(tc, looked_up_names_list_with_their_numbers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
