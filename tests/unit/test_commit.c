/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commit.c: a branch's own changes land in its parent.  After a commit into
 * main the base directory must hold exactly the tree the branch showed
 * (files, deletions, empty directories, renames, type changes, hard links,
 * symlinks, modes, owners, nanosecond times, xattrs).  Nested commits, the
 * first-winner rule, non-leaf rules, and parent changes the branch did not
 * touch.
 */
#include "core_test.h"

#include "bfs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static struct ut T;

static void setup(void)
{
	ut_setup(&T);
	ut_base_write(&T, "f", "v1");
	ut_base_write(&T, "g", "g");
	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ut_base_mkdir(&T, "d/sub");
	ut_base_write(&T, "d/sub/y", "y");
}

static void teardown(void)
{
	ut_close(&T);
}

#define MAIN (T.fs->main)

/* Commit b into main and check that the base is now exactly b's view. */
static void commit_and_compare(struct bfsd_branch *b)
{
	char *view = ut_view_tree(&T, b);
	char name[BFSD_NAME_MAX + 1];

	snprintf(name, sizeof(name), "%s", b->name);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	ck_assert_ptr_null(bfsd_branch_find(T.fs, name));
	UT_STR_EQ(ut_tree(T.base), view);
	free(view);
}

START_TEST(files_deletions_and_new_directories)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_write(&T, b, "f", "v2"), 0);
	ck_assert_int_eq(ut_write(&T, b, "new", "n"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "g"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "empty", 0755), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "n1", 0755), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "n1/n2", 0700), 0);
	ck_assert_int_eq(ut_write(&T, b, "n1/n2/f", "deep"), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/sub/z", "z"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_base_read(&T, "f"), "v2");
	ck_assert(!ut_base_exists(&T, "g"));
	ck_assert_int_eq(ut_count_entries(ut_bpath(&T, "empty")), 0);
	UT_STR_EQ(ut_base_read(&T, "n1/n2/f"), "deep");
	UT_STR_EQ(ut_ls(&T, MAIN, "d"), "sub");
	UT_STR_EQ(ut_ls(&T, MAIN, "d/sub"), "y,z");
	ck_assert_uint_eq(MAIN->gen, 1);
}
END_TEST

START_TEST(deleted_directory_trees)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_unlink(&T, b, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d/sub"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	commit_and_compare(b);
	ck_assert(!ut_base_exists(&T, "d"));

	ut_base_mkdir(&T, "t");
	ut_base_write(&T, "t/a", "a");
	b = ut_branch(&T, MAIN, "b2");
	bfsd_lock_op(T.fs, b, true);
	ck_assert_int_eq(bfsd_view_remove_tree(T.fs, b, "t"), 0);
	bfsd_unlock_op(T.fs, b);
	commit_and_compare(b);
	ck_assert(!ut_base_exists(&T, "t"));
}
END_TEST

START_TEST(renamed_files_and_directories)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_rename(&T, b, "d", "e", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "f", "e/f2", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "e/sub", "sub", 0), 0);
	ck_assert_int_eq(ut_write(&T, b, "sub/new", "new"), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "e,g,sub");
	UT_STR_EQ(ut_ls(&T, MAIN, "e"), "f2,x");
	UT_STR_EQ(ut_ls(&T, MAIN, "sub"), "new,y");
	UT_STR_EQ(ut_base_read(&T, "e/f2"), "v1");
}
END_TEST

START_TEST(renamed_directory_in_a_new_directory)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_mkdir(&T, b, "n", 0755), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d/sub", "n/moved", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d", "n/d2", 0), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, "n"), "d2,moved");
	UT_STR_EQ(ut_base_read(&T, "n/moved/y"), "y");
	UT_STR_EQ(ut_base_read(&T, "n/d2/x"), "x");
}
END_TEST

START_TEST(directories_moved_between_new_and_copied_up_directories)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	/* As above, with the sources' parent copied up first. */
	ck_assert_int_eq(ut_chmod(&T, b, "d", 0750), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "n", 0755), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d/sub", "n/moved", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d", "n/d2", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "n/moved", "n/d2/back", 0), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "f,g,n");
	UT_STR_EQ(ut_ls(&T, MAIN, "n"), "d2");
	UT_STR_EQ(ut_ls(&T, MAIN, "n/d2"), "back,x");
	UT_STR_EQ(ut_base_read(&T, "n/d2/back/y"), "y");
}
END_TEST

START_TEST(directories_exchanged)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "e");
	ut_base_write(&T, "e/ee", "ee");
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_rename(&T, b, "d", "e", RENAME_EXCHANGE), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "ee");
	UT_STR_EQ(ut_ls(&T, b, "e"), "sub,x");
	commit_and_compare(b);
	UT_STR_EQ(ut_base_read(&T, "d/ee"), "ee");
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "y");
}
END_TEST

START_TEST(renamed_directory_and_a_file_at_its_old_name)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_rename(&T, b, "d", "e", 0), 0);
	ck_assert_int_eq(ut_write(&T, b, "d", "file at the old name"), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_base_read(&T, "d"), "file at the old name");
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "y");
}
END_TEST

START_TEST(renamed_directory_that_main_removed)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	bfsd_lock_op(T.fs, MAIN, true);
	ck_assert_int_eq(bfsd_view_remove_tree(T.fs, MAIN, "d"), 0);
	bfsd_unlock_op(T.fs, MAIN);
	ck_assert_int_eq(ut_rename(&T, b, "d", "e", 0), 0);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	/* The branch's moved tree is rebuilt from its snapshot. */
	ck_assert(!ut_base_exists(&T, "d"));
	UT_STR_EQ(ut_base_read(&T, "e/x"), "x");
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "y");
}
END_TEST

START_TEST(nested_renames_over_the_parents_renames)
{
	struct bfsd_branch *p, *c;
	char *view;

	p = ut_branch(&T, MAIN, "p");
	ck_assert_int_eq(ut_rename(&T, p, "d", "e", 0), 0);
	c = ut_branch(&T, p, "c");
	ck_assert_int_eq(ut_rename(&T, c, "e", "f2", 0), 0);
	ck_assert_int_eq(ut_rename(&T, c, "f2/sub", "sub", 0), 0);
	ck_assert_int_eq(ut_write(&T, c, "f2/x", "c-x"), 0);
	view = ut_view_tree(&T, c);
	ck_assert_int_eq(ut_commit(&T, c), 0);
	UT_STR_EQ(ut_view_tree(&T, p), view);
	free(view);
	commit_and_compare(p);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "f,f2,g,sub");
	UT_STR_EQ(ut_base_read(&T, "f2/x"), "c-x");
	UT_STR_EQ(ut_base_read(&T, "sub/y"), "y");
}
END_TEST

START_TEST(nested_rename_keeps_the_parents_changes_inside)
{
	struct bfsd_branch *p, *c;

	p = ut_branch(&T, MAIN, "p");
	ck_assert_int_eq(ut_write(&T, p, "d/x", "p-x"), 0);
	c = ut_branch(&T, p, "c");
	ck_assert_int_eq(ut_write(&T, p, "d/sub/y", "p-y"), 0);
	ck_assert_int_eq(ut_rename(&T, c, "d", "e", 0), 0);
	ck_assert_int_eq(ut_commit(&T, c), 0);
	UT_STR_EQ(ut_ls(&T, p, ""), "e,f,g");
	UT_STR_EQ(ut_cat(&T, p, "e/x"), "p-x");
	UT_STR_EQ(ut_cat(&T, p, "e/sub/y"), "p-y");
	commit_and_compare(p);
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "p-y");
}
END_TEST

START_TEST(commit_stays_inside_the_base)
{
	char outside[PATH_MAX], victim[PATH_MAX];
	struct bfsd_branch *b;
	struct stat before, after;

	snprintf(outside, sizeof(outside), "%s/outside", T.dir);
	snprintf(victim, sizeof(victim), "%s/outside/x", T.dir);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_eq(bfs_write_file(victim, "not the base's"), 0);
	ck_assert_int_eq(stat(outside, &before), 0);

	/* The branch deletes d/x; meanwhile main replaces the directory d by
	 * a symlink to a directory outside the base that has an x too. */
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	bfsd_lock_op(T.fs, MAIN, true);
	ck_assert_int_eq(bfsd_view_remove_tree(T.fs, MAIN, "d"), 0);
	bfsd_unlock_op(T.fs, MAIN);
	ck_assert_int_eq(ut_symlink(&T, MAIN, outside, "d"), 0);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	/* Nothing outside the base is touched, not even d's attributes. */
	ck_assert_msg(bfs_exists(victim), "the commit deleted %s", victim);
	ck_assert_int_eq(stat(outside, &after), 0);
	ck_assert_msg(before.st_ctim.tv_sec == after.st_ctim.tv_sec &&
			      before.st_ctim.tv_nsec == after.st_ctim.tv_nsec,
		      "the commit changed the attributes of %s", outside);
}
END_TEST

START_TEST(many_files_in_new_and_old_directories)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	char path[64];

	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "n%d", i);
		ck_assert_int_eq(ut_mkdir(&T, b, path, 0755), 0);
		for (int j = 0; j < 25; j++) {
			snprintf(path, sizeof(path), "n%d/f%d", i, j);
			ck_assert_int_eq(ut_write(&T, b, path, path), 0);
			snprintf(path, sizeof(path), "d/sub/f%d-%d", i, j);
			ck_assert_int_eq(ut_write(&T, b, path, path), 0);
		}
	}
	commit_and_compare(b);
	UT_STR_EQ(ut_base_read(&T, "n19/f24"), "n19/f24");
	ck_assert_int_eq(ut_count_entries(ut_bpath(&T, "d/sub")), 501);
}
END_TEST

START_TEST(directory_recreated_over_a_frozen_whiteout)
{
	struct bfsd_branch *b, *c;

	/* b deletes d; a child freezes that layer; b makes d again (in its
	 * fresh top, so no whiteout is in the way). */
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d/sub"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	c = ut_branch(&T, b, "c");
	ck_assert_int_eq(ut_abort(&T, c), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "d", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/new", "new"), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "new");
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, "d"), "new");
}
END_TEST

START_TEST(directory_recreated_by_a_child_over_its_parents_whiteout)
{
	struct bfsd_branch *b, *c;

	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d/sub"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	c = ut_branch(&T, b, "c");
	ck_assert_int_eq(ut_mkdir(&T, c, "d", 0755), 0);
	ck_assert_int_eq(ut_write(&T, c, "d/new", "new"), 0);
	UT_STR_EQ(ut_ls(&T, c, "d"), "new");
	ck_assert_int_eq(ut_commit(&T, c), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "new");
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, "d"), "new");
}
END_TEST

START_TEST(directory_replaced_by_file_and_back)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b1");

	ck_assert_int_eq(ut_unlink(&T, b, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d/sub"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	ck_assert_int_eq(ut_write(&T, b, "d", "a file"), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_base_read(&T, "d"), "a file");

	b = ut_branch(&T, MAIN, "b2");
	ck_assert_int_eq(ut_unlink(&T, b, "d"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "d", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/z", "z"), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, "d"), "z");
}
END_TEST

START_TEST(type_changes_by_exchange)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	/* A directory becomes a file and a file a directory, by exchange. */
	ck_assert_int_eq(ut_mkdir(&T, b, "tmp", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "tmp/z", "z"), 0);
	ck_assert_int_eq(ut_rename(&T, b, "tmp", "f", RENAME_EXCHANGE), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "tmp"), 0);
	ck_assert_int_eq(ut_rename(&T, b, "g", "d", RENAME_EXCHANGE), 0);
	commit_and_compare(b);
	UT_STR_EQ(ut_ls(&T, MAIN, "f"), "z");
	UT_STR_EQ(ut_base_read(&T, "d"), "g");
	UT_STR_EQ(ut_base_read(&T, "g/sub/y"), "y");
}
END_TEST

START_TEST(hard_links_stay_one_inode)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	struct stat a, a2, h, h2;

	ck_assert_int_eq(ut_write(&T, b, "a", "A"), 0);
	ck_assert_int_eq(ut_link(&T, b, "a", "a2"), 0);
	ck_assert_int_eq(ut_link(&T, b, "g", "d/g2"), 0);
	commit_and_compare(b);
	ck_assert_int_eq(lstat(ut_bpath(&T, "a"), &a), 0);
	ck_assert_int_eq(lstat(ut_bpath(&T, "a2"), &a2), 0);
	ck_assert_int_eq(lstat(ut_bpath(&T, "g"), &h), 0);
	ck_assert_int_eq(lstat(ut_bpath(&T, "d/g2"), &h2), 0);
	ck_assert_uint_eq(a.st_ino, a2.st_ino);
	ck_assert_int_eq(a.st_nlink, 2);
	ck_assert_uint_eq(h.st_ino, h2.st_ino);
	ck_assert_int_eq(h.st_nlink, 2);
}
END_TEST

START_TEST(symlinks_and_fifos)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	char buf[64];
	ssize_t n;

	ck_assert_int_eq(ut_symlink(&T, b, "d/x", "l"), 0);
	ck_assert_int_eq(ut_symlink(&T, b, "nowhere", "d/dangling"), 0);
	ck_assert_int_eq(ut_symlink(&T, b, "d", "ldir"), 0);
	ck_assert_int_eq(ut_mkfifo(&T, b, "fifo"), 0);
	commit_and_compare(b);
	n = readlink(ut_bpath(&T, "l"), buf, sizeof(buf));
	ck_assert_int_eq(n, 3);
	ck_assert(!memcmp(buf, "d/x", 3));
	n = readlink(ut_bpath(&T, "d/dangling"), buf, sizeof(buf));
	ck_assert_int_eq(n, 7);
}
END_TEST

START_TEST(attributes_land_in_the_base)
{
	const struct timespec ts[2] = { { 1500000000, 111111111 }, { 1600000000, 222222222 } };
	const struct timespec dts[2] = { { 1400000000, 333333333 }, { 1300000000, 444444444 } };
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	struct stat st;
	char val[16], *view;

	ck_assert_int_eq(ut_chmod(&T, b, "f", 0600), 0);
	ck_assert_int_eq(ut_chown(&T, b, "f", 1234, 2345), 0);
	ck_assert_int_eq(ut_setxattr(&T, b, "f", "user.k", "v"), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/new", "n"), 0);
	ck_assert_int_eq(ut_chmod(&T, b, "d", 0700), 0);
	ck_assert_int_eq(ut_setxattr(&T, b, "d", "user.dk", "dv"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "n", 0750), 0);
	ck_assert_int_eq(ut_chown(&T, b, "n", 99, 98), 0);
	ck_assert_int_eq(ut_write(&T, b, "n/f", "f"), 0);
	ck_assert_int_eq(ut_chmod(&T, b, "", 0711), 0);
	view = ut_view_tree(&T, b);
	/* Times last: reading (as the tree description does) moves atimes. */
	ck_assert_int_eq(ut_utimens(&T, b, "f", ts), 0);
	ck_assert_int_eq(ut_utimens(&T, b, "d", dts), 0);
	ck_assert_int_eq(ut_utimens(&T, b, "n", dts), 0);
	ck_assert_int_eq(ut_commit(&T, b), 0);

	ck_assert_int_eq(lstat(ut_bpath(&T, "f"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_gid, 2345);
	ck_assert_int_eq(st.st_mtim.tv_sec, ts[1].tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, ts[1].tv_nsec);
	ck_assert_int_eq(st.st_atim.tv_sec, ts[0].tv_sec);
	ck_assert_int_eq(st.st_atim.tv_nsec, ts[0].tv_nsec);
	ck_assert_int_eq(lstat(ut_bpath(&T, "d"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(st.st_mtim.tv_sec, dts[1].tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, dts[1].tv_nsec);
	ck_assert_int_eq(lstat(ut_bpath(&T, "n"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	ck_assert_int_eq(st.st_uid, 99);
	ck_assert_int_eq(st.st_gid, 98);
	ck_assert_int_eq(st.st_mtim.tv_sec, dts[1].tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, dts[1].tv_nsec);
	ck_assert_int_eq(lstat(T.base, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0711);
	ck_assert_int_eq(getxattr(ut_bpath(&T, "f"), "user.k", val, sizeof(val)), 1);
	ck_assert_int_eq(getxattr(ut_bpath(&T, "d"), "user.dk", val, sizeof(val)), 2);
	UT_STR_EQ(ut_tree(T.base), view);
	free(view);
}
END_TEST

START_TEST(nested_commit)
{
	struct bfsd_branch *c, *g;
	char *view;

	c = ut_branch(&T, MAIN, "child");
	ck_assert_int_eq(ut_write(&T, c, "f", "c"), 0);
	g = ut_branch(&T, c, "grandchild");
	ck_assert_int_eq(ut_write(&T, g, "gfile", "g"), 0);
	ck_assert_int_eq(ut_unlink(&T, g, "g"), 0);
	ck_assert_int_eq(ut_rename(&T, g, "d", "e", 0), 0);
	ck_assert_int_eq(ut_write(&T, g, "e/sub/y", "gy"), 0);
	ck_assert_int_eq(ut_mkdir(&T, g, "empty", 0700), 0);

	view = ut_view_tree(&T, g);
	ck_assert_int_eq(ut_commit(&T, g), 0);
	ck_assert_ptr_null(bfsd_branch_find(T.fs, "grandchild"));
	UT_STR_EQ(ut_view_tree(&T, c), view);
	free(view);
	ck_assert_uint_eq(c->gen, 1);
	/* Nothing reached main yet. */
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "d,f,g");
	UT_STR_EQ(ut_base_read(&T, "f"), "v1");

	commit_and_compare(c);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "e,empty,f,gfile");
	UT_STR_EQ(ut_base_read(&T, "f"), "c");
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "gy");
}
END_TEST

START_TEST(first_winner_commits)
{
	struct bfsd_branch *one, *two;
	char *before;

	one = ut_branch(&T, MAIN, "one");
	two = ut_branch(&T, MAIN, "two");
	ck_assert_int_eq(ut_write(&T, one, "f", "one"), 0);
	ck_assert_int_eq(ut_write(&T, one, "g", "one-g"), 0);
	ck_assert_int_eq(ut_write(&T, two, "f", "two"), 0);
	ck_assert_int_eq(ut_write(&T, two, "only2", "2"), 0);
	ck_assert_int_eq(ut_unlink(&T, two, "d/x"), 0);

	ck_assert_int_eq(ut_commit(&T, one), 0);
	ck_assert(bfsd_branch_is_stale(two));
	before = ut_tree(T.base);
	ck_assert_int_eq(ut_commit(&T, two), -ESTALE);
	/* Nothing changed... */
	UT_STR_EQ(ut_tree(T.base), before);
	free(before);
	ck_assert_uint_eq(MAIN->gen, 1);
	UT_STR_EQ(ut_base_read(&T, "f"), "one");
	ck_assert(!ut_base_exists(&T, "only2"));
	/* ...and the loser still reads and writes its own snapshot. */
	ck_assert_ptr_eq(bfsd_branch_find(T.fs, "two"), two);
	UT_STR_EQ(ut_cat(&T, two, "f"), "two");
	UT_STR_EQ(ut_cat(&T, two, "g"), "g");
	UT_STR_EQ(ut_cat(&T, two, "only2"), "2");
	ck_assert(!ut_exists(&T, two, "d/x"));
	ck_assert_int_eq(ut_write(&T, two, "later", "l"), 0);
	UT_STR_EQ(ut_cat(&T, two, "later"), "l");
	ck_assert_int_eq(ut_commit(&T, two), -ESTALE);
	ck_assert_int_eq(ut_abort(&T, two), 0);
	ck_assert_ptr_null(bfsd_branch_find(T.fs, "two"));
	ck_assert(!ut_base_exists(&T, "later"));
}
END_TEST

START_TEST(first_winner_between_nested_siblings)
{
	struct bfsd_branch *p, *a, *b;

	p = ut_branch(&T, MAIN, "p");
	a = ut_branch(&T, p, "a");
	b = ut_branch(&T, p, "b");
	ck_assert_int_eq(ut_write(&T, a, "f", "a"), 0);
	ck_assert_int_eq(ut_write(&T, b, "f", "b"), 0);
	ck_assert_int_eq(ut_commit(&T, a), 0);
	ck_assert_int_eq(ut_commit(&T, b), -ESTALE);
	UT_STR_EQ(ut_cat(&T, p, "f"), "a");
	UT_STR_EQ(ut_cat(&T, b, "f"), "b");
	/* The stale child is dropped automatically when p commits. */
	ck_assert_int_eq(ut_commit(&T, p), 0);
	ck_assert_ptr_null(bfsd_branch_find(T.fs, "b"));
	ck_assert_int_eq(bfsd_branch_count(T.fs), 0);
	UT_STR_EQ(ut_base_read(&T, "f"), "a");
}
END_TEST

START_TEST(live_children_block_commit)
{
	struct bfsd_branch *p, *c;
	char *before;

	p = ut_branch(&T, MAIN, "p");
	ck_assert_int_eq(ut_write(&T, p, "f", "p"), 0);
	c = ut_branch(&T, p, "c");
	before = ut_tree(T.base);
	ck_assert_int_eq(ut_commit(&T, p), -ENOTEMPTY);
	ck_assert_int_eq(ut_abort(&T, p), -ENOTEMPTY);
	UT_STR_EQ(ut_tree(T.base), before);
	free(before);
	ck_assert_ptr_eq(bfsd_branch_find(T.fs, "c"), c);
	ck_assert_ptr_eq(bfsd_branch_find(T.fs, "p"), p);
	ck_assert_uint_eq(MAIN->gen, 0);
	UT_STR_EQ(ut_cat(&T, p, "f"), "p");

	ck_assert_int_eq(ut_abort(&T, c), 0);
	ck_assert_int_eq(ut_commit(&T, p), 0);
	UT_STR_EQ(ut_base_read(&T, "f"), "p");
}
END_TEST

START_TEST(main_cannot_be_committed)
{
	ck_assert_int_eq(ut_commit(&T, MAIN), -EPERM);
	ck_assert_int_eq(ut_abort(&T, MAIN), -EPERM);
	ck_assert_uint_eq(MAIN->gen, 0);
}
END_TEST

START_TEST(parent_changes_the_branch_did_not_touch_survive)
{
	struct bfsd_branch *p, *c, *b;

	/* Into a branch: p changes f after c was made; c changes only g. */
	p = ut_branch(&T, MAIN, "p");
	c = ut_branch(&T, p, "c");
	ck_assert_int_eq(ut_write(&T, p, "f", "p-late"), 0);
	ck_assert_int_eq(ut_write(&T, c, "g", "c-g"), 0);
	ck_assert_int_eq(ut_commit(&T, c), 0);
	UT_STR_EQ(ut_cat(&T, p, "f"), "p-late");
	UT_STR_EQ(ut_cat(&T, p, "g"), "c-g");
	ck_assert_int_eq(ut_abort(&T, p), 0);

	/* Into main: main changes, deletes and creates after b was made. */
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "main-late"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "g"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "m", "m"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "d/sub/y", "main-y"), 0);
	ck_assert_int_eq(ut_write(&T, b, "h", "b-h"), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/x", "b-x"), 0);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	UT_STR_EQ(ut_base_read(&T, "f"), "main-late");
	ck_assert(!ut_base_exists(&T, "g"));
	UT_STR_EQ(ut_base_read(&T, "m"), "m");
	UT_STR_EQ(ut_base_read(&T, "h"), "b-h");
	UT_STR_EQ(ut_base_read(&T, "d/x"), "b-x");
	UT_STR_EQ(ut_base_read(&T, "d/sub/y"), "main-y");
}
END_TEST

START_TEST(parent_change_inside_a_renamed_directory_survives)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_write(&T, MAIN, "d/sub/y", "main-y"), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d", "e", 0), 0);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	ck_assert(!ut_base_exists(&T, "d"));
	UT_STR_EQ(ut_base_read(&T, "e/x"), "x");
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "main-y");
}
END_TEST

START_TEST(empty_commit_bumps_the_generation)
{
	struct bfsd_branch *a, *b;
	char *before = ut_tree(T.base);

	a = ut_branch(&T, MAIN, "a");
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_commit(&T, a), 0);
	UT_STR_EQ(ut_tree(T.base), before);
	free(before);
	ck_assert_int_eq(ut_commit(&T, b), -ESTALE);
}
END_TEST

START_TEST(commit_moves_files_into_the_base)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	struct bfsd_res *r;
	struct stat stored, landed;

	ck_assert_int_eq(ut_write(&T, b, "big", "payload"), 0);
	bfsd_lock_op(T.fs, b, false);
	ck_assert_int_eq(bfsd_resolve_existing(T.fs, b, "big", &r), 0);
	ck_assert_int_eq(fstatat(r->loc[0].layer->dirfd, r->loc[0].phys, &stored, 0), 0);
	bfsd_res_put(r);
	bfsd_unlock_op(T.fs, b);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	ck_assert_int_eq(lstat(ut_bpath(&T, "big"), &landed), 0);
	/* Storage and base share a filesystem here: the file moved. */
	ck_assert_uint_eq(landed.st_dev, stored.st_dev);
	ck_assert_uint_eq(landed.st_ino, stored.st_ino);
	bfsd_store_reclaim(T.fs);
	ck_assert_int_eq(ut_count_entries(ut_spath(&T, "layers")), 0);
}
END_TEST

/*
 * Below gp: P makes x, P's child C changes it and is committed into P,
 * and P into gp.  gp's copy of x carries the number of P's original.
 */
static void made_below_changed_and_committed(struct bfsd_branch *gp)
{
	struct bfsd_branch *p = ut_branch(&T, gp, "P"), *c;

	ck_assert_int_eq(ut_write(&T, p, "x", "first"), 0);
	c = ut_branch(&T, p, "C");
	ck_assert_int_eq(ut_write(&T, c, "x", "second"), 0);
	ck_assert_int_eq(ut_commit(&T, c), 0);
	ck_assert_int_eq(ut_commit(&T, p), 0);
}

/* Once everything let go of is reclaimed, the number x shows in b is
 * still taken (which number a new file gets is the filesystem's choice). */
static void ck_number_of_x_taken(struct bfsd_branch *b, struct stat *x)
{
	ck_assert_int_eq(ut_stat(&T, b, "x", x), 0);
	bfsd_store_tidy(T.fs);
	bfsd_store_reclaim(T.fs);
	ck_assert_msg(ut_number_in_storage(&T, b, x->st_ino), "x's number was freed");
	UT_STR_EQ(ut_cat(&T, b, "x"), "second");
}

/*
 * The original's number must stay taken so that no new file of GP is
 * given it (one was, before: new1 of 200 showed the copy's st_ino once
 * P's layers were reclaimed).
 */
START_TEST(a_nested_commit_keeps_the_numbers_it_carries)
{
	struct bfsd_branch *gp = ut_branch(&T, T.fs->main, "GP");
	struct stat x, st;
	char name[32];

	ck_assert_int_eq(ut_write(&T, gp, "g", "g"), 0);
	made_below_changed_and_committed(gp);
	ck_number_of_x_taken(gp, &x);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		ck_assert_int_eq(ut_write(&T, gp, name, "n"), 0);
		ck_assert_int_eq(ut_stat(&T, gp, name, &st), 0);
		ck_assert_msg(st.st_ino != x.st_ino, "%s has the st_ino of x", name);
	}
}
END_TEST

/* The same one level up: what GP's top holds goes with GP's commit into
 * its own parent branch, though the top itself is not kept. */
START_TEST(a_held_number_follows_the_next_commit)
{
	struct bfsd_branch *g = ut_branch(&T, T.fs->main, "G"), *gp;
	struct stat x;

	ck_assert_int_eq(ut_write(&T, g, "g", "g"), 0);
	gp = ut_branch(&T, g, "GP");
	made_below_changed_and_committed(gp);
	ck_assert_int_eq(ut_commit(&T, gp), 0);
	ck_number_of_x_taken(g, &x);
}
END_TEST

/* P's commit into GP with a file of P's open on an object of P's frozen
 * layer, and a crash before it is closed. */
static void commit_with_a_file_open(struct ut *t, void *arg)
{
	struct bfsd_branch *gp = ut_branch(t, t->fs->main, "GP"), *p = ut_branch(t, gp, "P"), *c;
	struct bfsd_file *f;

	(void)arg;
	ck_assert_int_eq(ut_write(t, p, "x", "first"), 0);
	ck_assert_int_eq(ut_write(t, p, "y", "in P's frozen layer"), 0);
	c = ut_branch(t, p, "C");
	ck_assert_int_eq(ut_write(t, c, "x", "second"), 0);
	ck_assert_int_eq(ut_commit(t, c), 0);
	ck_assert_int_eq(bfsd_file_open(t->fs, p, "y", O_RDONLY, &f), 0);
	ck_assert_int_eq(ut_commit(t, p), 0);
}

/*
 * The layers kept for their numbers are kept when the commit returns, not
 * when the last file open on them closes: a crash meanwhile left them to
 * the next mount's sweep, which freed the numbers.
 */
START_TEST(a_number_stays_taken_across_a_crash_with_a_file_open)
{
	struct stat x;

	ut_close(&T);
	ck_assert_int_eq(ut_crash(&T, commit_with_a_file_open, NULL), 0);
	ut_open(&T, true);
	ck_number_of_x_taken(bfsd_branch_find(T.fs, "GP"), &x);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("commit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, files_deletions_and_new_directories);
	tcase_add_test(tc, deleted_directory_trees);
	tcase_add_test(tc, renamed_files_and_directories);
	tcase_add_test(tc, renamed_directory_in_a_new_directory);
	tcase_add_test(tc, directories_moved_between_new_and_copied_up_directories);
	tcase_add_test(tc, directories_exchanged);
	tcase_add_test(tc, renamed_directory_and_a_file_at_its_old_name);
	tcase_add_test(tc, renamed_directory_that_main_removed);
	tcase_add_test(tc, nested_renames_over_the_parents_renames);
	tcase_add_test(tc, nested_rename_keeps_the_parents_changes_inside);
	tcase_add_test(tc, commit_stays_inside_the_base);
	tcase_add_test(tc, many_files_in_new_and_old_directories);
	tcase_add_test(tc, directory_recreated_over_a_frozen_whiteout);
	tcase_add_test(tc, directory_recreated_by_a_child_over_its_parents_whiteout);
	tcase_add_test(tc, directory_replaced_by_file_and_back);
	tcase_add_test(tc, type_changes_by_exchange);
	tcase_add_test(tc, hard_links_stay_one_inode);
	tcase_add_test(tc, symlinks_and_fifos);
	tcase_add_test(tc, attributes_land_in_the_base);
	tcase_add_test(tc, nested_commit);
	tcase_add_test(tc, first_winner_commits);
	tcase_add_test(tc, first_winner_between_nested_siblings);
	tcase_add_test(tc, live_children_block_commit);
	tcase_add_test(tc, main_cannot_be_committed);
	tcase_add_test(tc, parent_changes_the_branch_did_not_touch_survive);
	tcase_add_test(tc, parent_change_inside_a_renamed_directory_survives);
	tcase_add_test(tc, empty_commit_bumps_the_generation);
	tcase_add_test(tc, commit_moves_files_into_the_base);
	tcase_add_test(tc, a_nested_commit_keeps_the_numbers_it_carries);
	tcase_add_test(tc, a_held_number_follows_the_next_commit);
	tcase_add_test(tc, a_number_stays_taken_across_a_crash_with_a_file_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
