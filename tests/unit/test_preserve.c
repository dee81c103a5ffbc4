/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preserve.c: main writes the live base directory; before it changes what a
 * live branch still sees, the old version is preserved for that branch.
 * Snapshot isolation against every kind of change through main, branches
 * created at different times, open readers, commits into main, and no
 * preservation at all when no branch is live.
 */
#include "core_test.h"

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

/* The branch shows exactly the tree the base had at setup. */
static void sees_setup_tree(struct bfsd_branch *b)
{
	UT_STR_EQ(ut_ls(&T, b, ""), "d,f,g");
	UT_STR_EQ(ut_ls(&T, b, "d"), "sub,x");
	UT_STR_EQ(ut_ls(&T, b, "d/sub"), "y");
	UT_STR_EQ(ut_cat(&T, b, "f"), "v1");
	UT_STR_EQ(ut_cat(&T, b, "g"), "g");
	UT_STR_EQ(ut_cat(&T, b, "d/x"), "x");
	UT_STR_EQ(ut_cat(&T, b, "d/sub/y"), "y");
}

static struct bfsd_file *open_file(struct bfsd_branch *b, const char *path, int flags)
{
	struct bfsd_file *f = NULL;
	int ret;

	bfsd_lock_op(T.fs, b, true);
	ret = bfsd_file_open(T.fs, b, path, flags, &f);
	bfsd_unlock_op(T.fs, b);
	ck_assert_msg(ret == 0, "open %s: %s", path, strerror(-ret));
	return f;
}

static void fd_write(struct bfsd_file *f, const char *path, off_t off, const char *data)
{
	if (bfsd_file_needs_prepare(T.fs, f))
		ck_assert_int_eq(bfsd_file_prepare_write(T.fs, f, path), 0);
	ck_assert_int_eq(pwrite(f->fd, data, strlen(data), off), (ssize_t)strlen(data));
}

static char *fd_text(struct bfsd_file *f)
{
	char buf[256];
	ssize_t n = pread(f->fd, buf, sizeof(buf) - 1, 0);

	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return strdup(buf);
}

START_TEST(overwrite_through_main)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	struct bfsd_file *f;

	/* In place, through an fd opened for writing. */
	f = open_file(MAIN, "f", O_WRONLY);
	fd_write(f, "f", 0, "V2");
	bfsd_file_close(T.fs, f);
	UT_STR_EQ(ut_base_read(&T, "f"), "V2");
	UT_STR_EQ(ut_cat(&T, MAIN, "f"), "V2");
	/* Truncating. */
	ck_assert_int_eq(ut_write(&T, MAIN, "d/x", "new x"), 0);
	ck_assert_int_eq(ut_truncate(&T, MAIN, "g", 0), 0);
	UT_STR_EQ(ut_base_read(&T, "d/x"), "new x");
	UT_STR_EQ(ut_base_read(&T, "g"), "");
	sees_setup_tree(b);
}
END_TEST

START_TEST(writer_opened_before_the_branch)
{
	struct bfsd_file *f = open_file(MAIN, "f", O_WRONLY);
	struct bfsd_branch *b;

	fd_write(f, "f", 0, "v0");
	b = ut_branch(&T, MAIN, "b");
	/* The branch was made after "v0": that is its snapshot. */
	fd_write(f, "f", 0, "V2");
	bfsd_file_close(T.fs, f);
	UT_STR_EQ(ut_cat(&T, b, "f"), "v0");
	UT_STR_EQ(ut_base_read(&T, "f"), "V2");
}
END_TEST

START_TEST(unlink_and_rmdir_through_main)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_unlink(&T, MAIN, "f"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, MAIN, "d/sub"), 0);
	ck_assert(!ut_base_exists(&T, "f"));
	ck_assert(!ut_base_exists(&T, "d/sub"));
	sees_setup_tree(b);
}
END_TEST

START_TEST(remove_tree_through_main)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	bfsd_lock_op(T.fs, MAIN, true);
	ck_assert_int_eq(bfsd_view_remove_tree(T.fs, MAIN, "d"), 0);
	bfsd_unlock_op(T.fs, MAIN);
	ck_assert(!ut_base_exists(&T, "d"));
	sees_setup_tree(b);
}
END_TEST

START_TEST(rename_file_through_main)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_rename(&T, MAIN, "f", "h", 0), 0);
	/* Over an existing name, and an exchange. */
	ck_assert_int_eq(ut_rename(&T, MAIN, "d/x", "g", 0), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "h", "d/sub/y", RENAME_EXCHANGE), 0);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "d,g,h");
	UT_STR_EQ(ut_base_read(&T, "g"), "x");
	UT_STR_EQ(ut_base_read(&T, "h"), "y");
	UT_STR_EQ(ut_base_read(&T, "d/sub/y"), "v1");
	sees_setup_tree(b);
}
END_TEST

START_TEST(rename_directory_through_main)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_rename(&T, MAIN, "d", "e", 0), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "e/sub", "sub2", 0), 0);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "e,f,g,sub2");
	UT_STR_EQ(ut_base_read(&T, "sub2/y"), "y");
	sees_setup_tree(b);
	ck_assert(!ut_exists(&T, b, "e"));
	ck_assert(!ut_exists(&T, b, "sub2"));
}
END_TEST

START_TEST(creations_through_main)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_mkdir(&T, MAIN, "n", 0755), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "n/f", "nf"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "d/new", "new"), 0);
	ck_assert_int_eq(ut_mkdir(&T, MAIN, "d/sub/deeper", 0755), 0);
	ck_assert_int_eq(ut_symlink(&T, MAIN, "f", "link"), 0);
	ck_assert_int_eq(ut_link(&T, MAIN, "g", "g2"), 0);
	ck_assert_int_eq(ut_mkfifo(&T, MAIN, "fifo"), 0);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "d,f,fifo,g,g2,link,n");
	sees_setup_tree(b);
}
END_TEST

START_TEST(attribute_changes_through_main)
{
	const struct timespec ts[2] = { { 1, 1 }, { 2, 2 } };
	struct bfsd_branch *b;
	struct stat before, dbefore, st;
	char val[16];

	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_stat(&T, b, "f", &before), 0);
	ck_assert_int_eq(ut_stat(&T, b, "d", &dbefore), 0);
	ck_assert_int_eq(ut_chmod(&T, MAIN, "f", 0600), 0);
	ck_assert_int_eq(ut_chown(&T, MAIN, "f", 4321, 4321), 0);
	ck_assert_int_eq(ut_utimens(&T, MAIN, "f", ts), 0);
	ck_assert_int_eq(ut_setxattr(&T, MAIN, "f", "user.k", "v"), 0);
	ck_assert_int_eq(ut_chmod(&T, MAIN, "d", 0700), 0);
	ck_assert_int_eq(stat(ut_bpath(&T, "f"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, 4321);

	ck_assert_int_eq(ut_stat(&T, b, "f", &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, before.st_mode & 07777);
	ck_assert_int_eq(st.st_uid, before.st_uid);
	ck_assert_int_eq(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	ck_assert_int_eq(st.st_ino, before.st_ino);
	ck_assert_int_eq(ut_getxattr(&T, b, "f", "user.k", val, sizeof(val)), -ENODATA);
	ck_assert_int_eq(ut_stat(&T, b, "d", &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, dbefore.st_mode & 07777);
	ck_assert_int_eq(st.st_ino, dbefore.st_ino);
	sees_setup_tree(b);
}
END_TEST

START_TEST(changes_inside_a_directory_then_its_removal)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	/* The directory is partly preserved first, then leaves the base. */
	ck_assert_int_eq(ut_write(&T, MAIN, "d/x", "x2"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "d/extra", "e"), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "d", "gone", 0), 0);
	bfsd_lock_op(T.fs, MAIN, true);
	ck_assert_int_eq(bfsd_view_remove_tree(T.fs, MAIN, "gone"), 0);
	bfsd_unlock_op(T.fs, MAIN);
	ck_assert_int_eq(ut_mkdir(&T, MAIN, "d", 0755), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "d/other", "o"), 0);
	UT_STR_EQ(ut_ls(&T, MAIN, "d"), "other");
	sees_setup_tree(b);
}
END_TEST

START_TEST(directory_moved_onto_an_emptied_name)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "o");
	ut_base_write(&T, "o/oo", "oo");
	b = ut_branch(&T, MAIN, "b");
	/* d/sub is emptied and removed, then another tree takes its name. */
	ck_assert_int_eq(ut_unlink(&T, MAIN, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, MAIN, "d/sub"), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "o", "d/sub", 0), 0);
	UT_STR_EQ(ut_ls(&T, MAIN, "d/sub"), "oo");
	UT_STR_EQ(ut_ls(&T, b, "d/sub"), "y");
	UT_STR_EQ(ut_ls(&T, b, "o"), "oo");
	ck_assert(!ut_exists(&T, b, "d/sub/oo"));
}
END_TEST

START_TEST(hard_linked_base_file_written_in_place)
{
	struct bfsd_branch *b;

	ck_assert_int_eq(link(ut_bpath(&T, "f"), ut_bpath(&T, "f-link")), 0);
	b = ut_branch(&T, MAIN, "b");
	/* main writes one name of the pair in place: the base's other name
	 * changes too, but the branch's snapshot must not. */
	ck_assert_int_eq(ut_pwrite(&T, MAIN, "f", 0, "V2"), 0);
	UT_STR_EQ(ut_base_read(&T, "f-link"), "V2");
	UT_STR_EQ(ut_cat(&T, b, "f"), "v1");
	UT_STR_EQ(ut_cat(&T, b, "f-link"), "v1");
}
END_TEST

START_TEST(hard_link_made_by_main_written_in_place)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_link(&T, MAIN, "g", "g2"), 0);
	ck_assert_int_eq(ut_pwrite(&T, MAIN, "g2", 0, "G"), 0);
	UT_STR_EQ(ut_base_read(&T, "g"), "G");
	UT_STR_EQ(ut_cat(&T, b, "g"), "g");
	ck_assert(!ut_exists(&T, b, "g2"));
}
END_TEST

START_TEST(directory_times_are_preserved)
{
	const struct timespec ts[2] = { { 1200000000, 5 }, { 1100000000, 7 } };
	const char *dirs[] = { "", "d", "d/sub" };
	struct stat before[3], st;
	struct bfsd_branch *b;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(utimensat(AT_FDCWD, ut_bpath(&T, dirs[i]), ts, 0), 0);
	b = ut_branch(&T, MAIN, "b");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ut_stat(&T, b, dirs[i], &before[i]), 0);
	ck_assert_int_eq(before[1].st_mtim.tv_nsec, 7);

	/* Entries removed from and added to the directories, through main. */
	ck_assert_int_eq(ut_unlink(&T, MAIN, "d/x"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "d/sub/new", "n"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "new", "n"), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ut_stat(&T, b, dirs[i], &st), 0);
		ck_assert_msg(st.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
				      st.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec,
			      "mtime of '%s' moved from %ld.%09ld to %ld.%09ld in the branch",
			      dirs[i], (long)before[i].st_mtim.tv_sec,
			      (long)before[i].st_mtim.tv_nsec, (long)st.st_mtim.tv_sec,
			      (long)st.st_mtim.tv_nsec);
	}
	sees_setup_tree(b);
}
END_TEST

START_TEST(later_branches_see_the_changes)
{
	struct bfsd_branch *b1, *b2, *b3;

	b1 = ut_branch(&T, MAIN, "b1");
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v2"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "new", "n"), 0);
	b2 = ut_branch(&T, MAIN, "b2");
	UT_STR_EQ(ut_cat(&T, b2, "f"), "v2");
	UT_STR_EQ(ut_cat(&T, b2, "new"), "n");

	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v3"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "g"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "new"), 0);
	b3 = ut_branch(&T, MAIN, "b3");

	sees_setup_tree(b1);
	ck_assert(!ut_exists(&T, b1, "new"));
	UT_STR_EQ(ut_cat(&T, b2, "f"), "v2");
	UT_STR_EQ(ut_cat(&T, b2, "g"), "g");
	UT_STR_EQ(ut_cat(&T, b2, "new"), "n");
	UT_STR_EQ(ut_cat(&T, b3, "f"), "v3");
	ck_assert(!ut_exists(&T, b3, "g"));
	ck_assert(!ut_exists(&T, b3, "new"));

	/* Dropping the oldest branch keeps the others' snapshots. */
	ck_assert_int_eq(ut_abort(&T, b1), 0);
	UT_STR_EQ(ut_cat(&T, b2, "f"), "v2");
	UT_STR_EQ(ut_cat(&T, b2, "g"), "g");
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v4"), 0);
	UT_STR_EQ(ut_cat(&T, b2, "f"), "v2");
	UT_STR_EQ(ut_cat(&T, b3, "f"), "v3");
	UT_STR_EQ(ut_base_read(&T, "f"), "v4");
}
END_TEST

START_TEST(nested_branches_keep_the_base_snapshot)
{
	struct bfsd_branch *b1, *b2;

	b1 = ut_branch(&T, MAIN, "b1");
	ck_assert_int_eq(ut_write(&T, b1, "own", "o"), 0);
	b2 = ut_branch(&T, b1, "b2");
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v2"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "g"), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "d", "e", 0), 0);
	UT_STR_EQ(ut_cat(&T, b2, "f"), "v1");
	UT_STR_EQ(ut_cat(&T, b2, "g"), "g");
	UT_STR_EQ(ut_cat(&T, b2, "d/sub/y"), "y");
	UT_STR_EQ(ut_cat(&T, b2, "own"), "o");
	ck_assert(!ut_exists(&T, b2, "e"));
	UT_STR_EQ(ut_cat(&T, b1, "f"), "v1");
}
END_TEST

START_TEST(branch_readers_keep_old_data)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");
	struct bfsd_file *rb = open_file(b, "f", O_RDONLY);
	struct bfsd_file *rm = open_file(MAIN, "f", O_RDONLY);
	struct bfsd_file *w = open_file(MAIN, "f", O_WRONLY);

	fd_write(w, "f", 0, "V2");
	bfsd_file_close(T.fs, w);
	UT_STR_EQ(fd_text(rb), "v1");
	UT_STR_EQ(fd_text(rm), "V2");
	bfsd_file_close(T.fs, rb);
	bfsd_file_close(T.fs, rm);
}
END_TEST

START_TEST(commit_into_main_preserves_for_siblings)
{
	struct bfsd_branch *b1, *b2;

	b1 = ut_branch(&T, MAIN, "b1");
	b2 = ut_branch(&T, MAIN, "b2");
	ck_assert_int_eq(ut_write(&T, b1, "f", "b1"), 0);
	ck_assert_int_eq(ut_unlink(&T, b1, "g"), 0);
	ck_assert_int_eq(ut_rename(&T, b1, "d", "e", 0), 0);
	ck_assert_int_eq(ut_write(&T, b1, "e/sub/y", "b1-y"), 0);
	ck_assert_int_eq(ut_commit(&T, b1), 0);
	UT_STR_EQ(ut_base_read(&T, "f"), "b1");
	UT_STR_EQ(ut_base_read(&T, "e/sub/y"), "b1-y");
	ck_assert(!ut_base_exists(&T, "d"));
	sees_setup_tree(b2);
}
END_TEST

START_TEST(commit_deleting_a_tree_preserves_for_siblings)
{
	struct bfsd_branch *b1, *b2;

	b1 = ut_branch(&T, MAIN, "b1");
	b2 = ut_branch(&T, MAIN, "b2");
	ck_assert_int_eq(ut_unlink(&T, b1, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b1, "d/sub"), 0);
	ck_assert_int_eq(ut_unlink(&T, b1, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b1, "d"), 0);
	ck_assert_int_eq(ut_unlink(&T, b1, "f"), 0);
	ck_assert_int_eq(ut_commit(&T, b1), 0);
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "g");
	sees_setup_tree(b2);
}
END_TEST

/* Directories of t that hold a name of a file with a name outside them. */
static char *split_dirs(const char *dir)
{
	char **v, *out;
	size_t n, len = 1;

	ck_assert_int_eq(bfsd_links_split_dirs(T.fs, dir, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	out = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	bfsd_links_free(v, n);
	return out;
}

/* A tree t with a file linked from outside (t/a/deep/f, out/f), a pair of
 * names in two of its subdirectories (t/b/g, t/c/g), a pair in one (t/d)
 * and a subdirectory without links (t/plain). */
static void linked_tree(void)
{
	const char *dirs[] = { "out", "t", "t/a", "t/a/deep", "t/b", "t/c", "t/d", "t/plain" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ut_base_mkdir(&T, dirs[i]);
	ut_base_write(&T, "out/f", "f");
	ut_base_write(&T, "t/b/g", "g");
	ut_base_write(&T, "t/d/h", "h");
	ut_base_write(&T, "t/plain/p", "p");
	ck_assert_int_eq(link(ut_bpath(&T, "out/f"), ut_bpath(&T, "t/a/deep/f")), 0);
	ck_assert_int_eq(link(ut_bpath(&T, "t/b/g"), ut_bpath(&T, "t/c/g")), 0);
	ck_assert_int_eq(link(ut_bpath(&T, "t/d/h"), ut_bpath(&T, "t/d/h2")), 0);
}

/* p and q are the two names of one file in b. */
static void ck_pair(struct bfsd_branch *b, const char *p, const char *q)
{
	struct stat a, c;

	ck_assert_int_eq(ut_stat(&T, b, p, &a), 0);
	ck_assert_int_eq(ut_stat(&T, b, q, &c), 0);
	ck_assert_msg(a.st_ino == c.st_ino && a.st_nlink == 2, "%s and %s", p, q);
}

/* A preservation layer's links are found as it grows: a branch copies up
 * one name of a pair main wrote in place, main then writes a second pair
 * in place (into the same epoch's layer), and the branch's copy of that
 * one keeps its names one file too. */
START_TEST(pairs_preserved_one_after_the_other)
{
	struct bfsd_branch *b;

	ut_base_write(&T, "p1", "one");
	ut_base_write(&T, "p2", "two");
	ck_assert_int_eq(link(ut_bpath(&T, "p1"), ut_bpath(&T, "q1")), 0);
	ck_assert_int_eq(link(ut_bpath(&T, "p2"), ut_bpath(&T, "q2")), 0);
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_pwrite(&T, MAIN, "p1", 0, "ONE"), 0);
	ck_assert_int_eq(ut_pwrite(&T, b, "p1", 0, "b1!"), 0);
	UT_STR_EQ(ut_cat(&T, b, "q1"), "b1!");
	ck_pair(b, "p1", "q1");
	ck_assert_int_eq(ut_pwrite(&T, MAIN, "p2", 0, "TWO"), 0);
	UT_STR_EQ(ut_cat(&T, b, "q2"), "two");
	ck_assert_int_eq(ut_pwrite(&T, b, "p2", 0, "b2!"), 0);
	UT_STR_EQ(ut_cat(&T, b, "q2"), "b2!");
	ck_pair(b, "p2", "q2");
	UT_STR_EQ(ut_base_read(&T, "q2"), "TWO");
}
END_TEST

START_TEST(directories_split_by_hard_links)
{
	linked_tree();
	UT_STR_EQ(split_dirs("t"), "t,t/a,t/a/deep,t/b,t/c");
	UT_STR_EQ(split_dirs("t/a"), "t/a,t/a/deep");
	UT_STR_EQ(split_dirs("t/d"), "");
	UT_STR_EQ(split_dirs("t/plain"), "");
	UT_STR_EQ(split_dirs(""), "out,t,t/a,t/a/deep,t/b,t/c");
}
END_TEST

/* The link map grows past its first 1,024 buckets and keeps every name:
 * 5,000 pairs in two directories, so that the walk meets every first name
 * before any second one. */
START_TEST(link_map_of_many_pairs)
{
	char a[32], b[32];

	ut_base_mkdir(&T, "p");
	ut_base_mkdir(&T, "q");
	for (int i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "p/%d", i);
		snprintf(b, sizeof(b), "q/%d", i);
		ut_base_write(&T, a, "x");
		ck_assert_int_eq(link(ut_bpath(&T, a), ut_bpath(&T, b)), 0);
	}
	for (int i = 0; i < 5000; i++) {
		struct stat st;
		char **names;
		size_t n;

		snprintf(a, sizeof(a), "p/%d", i);
		snprintf(b, sizeof(b), "q/%d", i);
		ck_assert_int_eq(lstat(ut_bpath(&T, a), &st), 0);
		ck_assert_int_eq(bfsd_links_names(T.fs, st.st_dev, st.st_ino, &names, &n), 0);
		ck_assert_msg(n == 2 && ((!strcmp(names[0], a) && !strcmp(names[1], b)) ||
					 (!strcmp(names[0], b) && !strcmp(names[1], a))),
			      "pair %d: %zu names, first %s", i, n, n ? names[0] : "-");
		bfsd_links_free(names, n);
	}
}
END_TEST

/* A commit that drops a tree whose files have names elsewhere: the sibling
 * keeps the tree, its links, and its file with a name outside stays apart
 * from main's later writes through that name. */
START_TEST(commit_dropping_a_tree_split_by_hard_links)
{
	struct bfsd_branch *b1, *b2;
	static const char *const files[] = { "t/a/deep/f", "t/b/g",  "t/c/g",
					     "t/d/h",	   "t/d/h2", "t/plain/p" };
	static const char *const dirs[] = {
		"t/a/deep", "t/a", "t/b", "t/c", "t/d", "t/plain", "t"
	};

	linked_tree();
	b1 = ut_branch(&T, MAIN, "b1");
	b2 = ut_branch(&T, MAIN, "b2");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		ck_assert_int_eq(ut_unlink(&T, b1, files[i]), 0);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ck_assert_int_eq(ut_rmdir(&T, b1, dirs[i]), 0);
	ck_assert_int_eq(ut_commit(&T, b1), 0);
	ck_assert(!ut_base_exists(&T, "t"));
	ck_assert_int_eq(ut_write(&T, MAIN, "out/f", "main"), 0);
	UT_STR_EQ(ut_cat(&T, b2, "t/a/deep/f"), "f");
	UT_STR_EQ(ut_cat(&T, b2, "out/f"), "f");
	UT_STR_EQ(ut_cat(&T, b2, "t/plain/p"), "p");
	ck_pair(b2, "t/b/g", "t/c/g");
	UT_STR_EQ(ut_cat(&T, b2, "t/d/h2"), "h");
	/* The file with a name outside is still one file in b2. */
	ck_pair(b2, "out/f", "t/a/deep/f");
	ck_assert_int_eq(ut_write(&T, b2, "t/a/deep/f", "b2"), 0);
	UT_STR_EQ(ut_cat(&T, b2, "out/f"), "b2");
	UT_STR_EQ(ut_base_read(&T, "out/f"), "main");
}
END_TEST

/* Main replaces a subdirectory (the branch's copy of it is complete), then
 * moves or removes its parent: filling the parent's copy from the base
 * must not add the new subdirectory's entries to the complete copy
 * (found by the differential run with RENAME_EXCHANGE, seed 53). */
START_TEST(directory_moved_after_a_subdirectory_was_replaced)
{
	struct bfsd_branch *b = ut_branch(&T, MAIN, "b");

	ck_assert_int_eq(ut_unlink(&T, MAIN, "d/sub/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, MAIN, "d/sub"), 0);
	ck_assert_int_eq(ut_mkdir(&T, MAIN, "d/sub", 0755), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "d/sub/new", "n"), 0);
	if (_i) {
		ck_assert_int_eq(ut_rename(&T, MAIN, "d", "e", 0), 0);
	} else {
		/* A commit drops the tree: its objects are moved, not copied. */
		struct bfsd_branch *c = ut_branch(&T, MAIN, "c");
		static const char *const gone[] = { "d/sub/new", "d/sub", "d/x", "d" };

		for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
			ck_assert_int_eq(
				i % 2 ? ut_rmdir(&T, c, gone[i]) : ut_unlink(&T, c, gone[i]), 0);
		ck_assert_int_eq(ut_commit(&T, c), 0);
		ck_assert(!ut_base_exists(&T, "d"));
	}
	sees_setup_tree(b);
}
END_TEST

START_TEST(no_preservation_without_live_branches)
{
	char layers[PATH_MAX];
	struct bfsd_branch *b;

	snprintf(layers, sizeof(layers), "%s/layers", T.storage);
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v2"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "g"), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "d", "e", 0), 0);
	ck_assert_int_eq(ut_count_entries(layers), 0);

	/* A branch that came and went leaves nothing to preserve for. */
	b = ut_branch(&T, MAIN, "b");
	ck_assert_int_eq(ut_abort(&T, b), 0);
	bfsd_store_reclaim(T.fs);
	ck_assert_int_eq(ut_count_entries(layers), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v3"), 0);
	ck_assert_int_eq(ut_rename(&T, MAIN, "e", "d", 0), 0);
	ck_assert_int_eq(ut_mkdir(&T, MAIN, "n", 0755), 0);
	ck_assert_int_eq(ut_chmod(&T, MAIN, "f", 0600), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "d/x"), 0);
	ck_assert_int_eq(ut_count_entries(layers), 0);

	/* The same after a commit took the last branch away. */
	b = ut_branch(&T, MAIN, "c");
	ck_assert_int_eq(ut_write(&T, b, "c", "c"), 0);
	ck_assert_int_eq(ut_commit(&T, b), 0);
	bfsd_store_reclaim(T.fs);
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v4"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "c"), 0);
	ck_assert_int_eq(ut_count_entries(layers), 0);
	ck_assert_int_eq(ut_count_entries(ut_spath(&T, "trash")), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("preserve");
	TCase *tc = tcase_create("preserve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, overwrite_through_main);
	tcase_add_test(tc, writer_opened_before_the_branch);
	tcase_add_test(tc, unlink_and_rmdir_through_main);
	tcase_add_test(tc, remove_tree_through_main);
	tcase_add_test(tc, rename_file_through_main);
	tcase_add_test(tc, rename_directory_through_main);
	tcase_add_test(tc, creations_through_main);
	tcase_add_test(tc, attribute_changes_through_main);
	tcase_add_test(tc, changes_inside_a_directory_then_its_removal);
	tcase_add_test(tc, directory_moved_onto_an_emptied_name);
	tcase_add_test(tc, hard_linked_base_file_written_in_place);
	tcase_add_test(tc, pairs_preserved_one_after_the_other);
	tcase_add_test(tc, hard_link_made_by_main_written_in_place);
	tcase_add_test(tc, directory_times_are_preserved);
	tcase_add_test(tc, later_branches_see_the_changes);
	tcase_add_test(tc, nested_branches_keep_the_base_snapshot);
	tcase_add_test(tc, branch_readers_keep_old_data);
	tcase_add_test(tc, commit_into_main_preserves_for_siblings);
	tcase_add_test(tc, commit_deleting_a_tree_preserves_for_siblings);
	tcase_add_test(tc, no_preservation_without_live_branches);
	tcase_add_loop_test(tc, directory_moved_after_a_subdirectory_was_replaced, 0, 2);
	tcase_add_test(tc, directories_split_by_hard_links);
	tcase_add_test(tc, link_map_of_many_pairs);
	tcase_add_test(tc, commit_dropping_a_tree_split_by_hard_links);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
