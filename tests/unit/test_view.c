/* SPDX-License-Identifier: Apache-2.0 */
/*
 * view.c, rename.c and attr.c: namespace operations as a branch's (or
 * main's) users see them.  Every object kind, delete-then-recreate,
 * whiteouts, renames of base-only directories, RENAME_NOREPLACE and
 * RENAME_EXCHANGE, ENOTEMPTY from lower layers, '@' names below the root,
 * hard links and the escaping of xattr names that look like markers.
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

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE	 (1 << 1)
#endif

static struct ut T;

static void setup(void)
{
	ut_setup(&T);
}

static void teardown(void)
{
	ut_close(&T);
}

static mode_t type_of(struct bfsd_branch *b, const char *path)
{
	struct stat st;

	return ut_stat(&T, b, path, &st) ? 0 : st.st_mode & S_IFMT;
}

/* Make one object of every kind named <p>file, <p>dir, ... in v. */
static void make_all(struct bfsd_branch *v, const char *p)
{
	char a[64], b[64];

	snprintf(a, sizeof(a), "%sfile", p);
	ck_assert_int_eq(ut_write(&T, v, a, "content"), 0);
	snprintf(a, sizeof(a), "%sdir", p);
	ck_assert_int_eq(ut_mkdir(&T, v, a, 0755), 0);
	snprintf(a, sizeof(a), "%sfifo", p);
	ck_assert_int_eq(ut_mkfifo(&T, v, a), 0);
	snprintf(a, sizeof(a), "%sfile", p);
	snprintf(b, sizeof(b), "%slink", p);
	ck_assert_int_eq(ut_symlink(&T, v, a, b), 0);
	snprintf(b, sizeof(b), "%shard", p);
	ck_assert_int_eq(ut_link(&T, v, a, b), 0);
}

static void check_all(struct bfsd_branch *v, const char *p)
{
	char a[64], buf[64];
	struct stat st;

	snprintf(a, sizeof(a), "%sfile", p);
	ck_assert_int_eq(type_of(v, a), S_IFREG);
	UT_STR_EQ(ut_cat(&T, v, a), "content");
	snprintf(a, sizeof(a), "%sdir", p);
	ck_assert_int_eq(type_of(v, a), S_IFDIR);
	snprintf(a, sizeof(a), "%sfifo", p);
	ck_assert_int_eq(type_of(v, a), S_IFIFO);
	snprintf(a, sizeof(a), "%slink", p);
	ck_assert_int_eq(type_of(v, a), S_IFLNK);
	ck_assert_int_eq(ut_readlink(&T, v, a, buf, sizeof(buf)), 0);
	snprintf(a, sizeof(a), "%sfile", p);
	ck_assert_str_eq(buf, a);
	snprintf(a, sizeof(a), "%shard", p);
	ck_assert_int_eq(ut_stat(&T, v, a, &st), 0);
	ck_assert_int_eq(st.st_nlink, 2);
	UT_STR_EQ(ut_cat(&T, v, a), "content");
}

START_TEST(every_kind_of_object)
{
	struct bfsd_branch *b = ut_branch(&T, T.fs->main, "b");
	struct stat st;

	make_all(b, "b-");
	check_all(b, "b-");
	make_all(T.fs->main, "m-");
	check_all(T.fs->main, "m-");

	/* Main writes the base at once; the branch's objects stay its own and
	 * main's new names never show in the branch. */
	ck_assert_int_eq(lstat(ut_bpath(&T, "m-fifo"), &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert(ut_base_exists(&T, "m-link"));
	UT_STR_EQ(ut_ls(&T, T.fs->main, ""), "m-dir,m-fifo,m-file,m-hard,m-link");
	UT_STR_EQ(ut_ls(&T, b, ""), "b-dir,b-fifo,b-file,b-hard,b-link");

	for (int i = 0; i < 2; i++) {
		struct bfsd_branch *v = i ? T.fs->main : b;
		const char *p = i ? "m-" : "b-";
		char a[64];

		snprintf(a, sizeof(a), "%sdir", p);
		ck_assert_int_eq(ut_unlink(&T, v, a), -EISDIR);
		ck_assert_int_eq(ut_rmdir(&T, v, a), 0);
		snprintf(a, sizeof(a), "%sfile", p);
		ck_assert_int_eq(ut_rmdir(&T, v, a), -ENOTDIR);
		ck_assert_int_eq(ut_unlink(&T, v, a), 0);
		snprintf(a, sizeof(a), "%sfifo", p);
		ck_assert_int_eq(ut_unlink(&T, v, a), 0);
		snprintf(a, sizeof(a), "%slink", p);
		ck_assert_int_eq(ut_unlink(&T, v, a), 0);
		snprintf(a, sizeof(a), "%shard", p);
		ck_assert_int_eq(ut_stat(&T, v, a, &st), 0);
		ck_assert_int_eq(st.st_nlink, 1);
		UT_STR_EQ(ut_cat(&T, v, a), "content");
		ck_assert_int_eq(ut_unlink(&T, v, a), 0);
		UT_STR_EQ(ut_ls(&T, v, ""), "");
		ck_assert_int_eq(ut_unlink(&T, v, a), -ENOENT);
	}
	ck_assert_int_eq(ut_count_entries(T.base), 0);
}
END_TEST

START_TEST(delete_then_recreate_a_file)
{
	struct bfsd_branch *b;
	struct stat st;

	ut_base_write(&T, "f", "old");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "f"), 0);
	ck_assert_int_eq(ut_stat(&T, b, "f", &st), -ENOENT);
	ck_assert_int_eq(ut_write(&T, b, "f", "new"), 0);
	UT_STR_EQ(ut_cat(&T, b, "f"), "new");
	UT_STR_EQ(ut_ls(&T, b, ""), "f");

	/* Again, as other kinds of object. */
	ck_assert_int_eq(ut_unlink(&T, b, "f"), 0);
	ck_assert_int_eq(ut_symlink(&T, b, "target", "f"), 0);
	ck_assert_int_eq(type_of(b, "f"), S_IFLNK);
	ck_assert_int_eq(ut_unlink(&T, b, "f"), 0);
	ck_assert_int_eq(ut_mkfifo(&T, b, "f"), 0);
	ck_assert_int_eq(type_of(b, "f"), S_IFIFO);
	ck_assert_int_eq(ut_unlink(&T, b, "f"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "f", 0700), 0);
	ck_assert_int_eq(type_of(b, "f"), S_IFDIR);
	UT_STR_EQ(ut_ls(&T, b, "f"), "");
	UT_STR_EQ(ut_base_read(&T, "f"), "old");
}
END_TEST

START_TEST(delete_then_recreate_a_directory)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	ck_assert_int_eq(type_of(b, "d"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "d", 0755), 0);
	ck_assert_int_eq(type_of(b, "d"), S_IFDIR);
	UT_STR_EQ(ut_ls(&T, b, "d"), "");
	ck_assert_int_eq(ut_write(&T, b, "d/y", "y"), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "y");
	UT_STR_EQ(ut_ls(&T, T.fs->main, "d"), "x");
}
END_TEST

START_TEST(delete_directory_recreate_as_file)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	ck_assert_int_eq(ut_write(&T, b, "d", "file now"), 0);
	ck_assert_int_eq(type_of(b, "d"), S_IFREG);
	UT_STR_EQ(ut_cat(&T, b, "d"), "file now");
	ck_assert_int_eq(type_of(T.fs->main, "d/x"), S_IFREG);
}
END_TEST

START_TEST(whiteout_hides_base_file_from_branch_only)
{
	struct bfsd_branch *b, *c;

	ut_base_write(&T, "f", "base");
	ut_base_write(&T, "keep", "k");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_unlink(&T, b, "f"), 0);
	ck_assert(!ut_exists(&T, b, "f"));
	UT_STR_EQ(ut_ls(&T, b, ""), "keep");
	c = ut_branch(&T, b, "c");
	ck_assert(!ut_exists(&T, c, "f"));
	UT_STR_EQ(ut_ls(&T, c, ""), "keep");

	ck_assert(ut_exists(&T, T.fs->main, "f"));
	UT_STR_EQ(ut_cat(&T, T.fs->main, "f"), "base");
	UT_STR_EQ(ut_ls(&T, T.fs->main, ""), "f,keep");
	UT_STR_EQ(ut_base_read(&T, "f"), "base");
}
END_TEST

START_TEST(rename_base_only_directory)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "src");
	ut_base_write(&T, "src/a", "a");
	ut_base_mkdir(&T, "src/sub");
	ut_base_write(&T, "src/sub/b", "b");
	ut_base_mkdir(&T, "other");

	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_rename(&T, b, "src", "dst", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, ""), "dst,other");
	UT_STR_EQ(ut_ls(&T, b, "dst"), "a,sub");
	UT_STR_EQ(ut_cat(&T, b, "dst/sub/b"), "b");
	ck_assert(!ut_exists(&T, b, "src"));
	ck_assert(!ut_exists(&T, b, "src/a"));

	/* Into another base directory, and a file inside it. */
	ck_assert_int_eq(ut_rename(&T, b, "dst", "other/in", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "other/in/a", "other/in/sub/a2", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, ""), "other");
	UT_STR_EQ(ut_ls(&T, b, "other/in"), "sub");
	UT_STR_EQ(ut_ls(&T, b, "other/in/sub"), "a2,b");
	UT_STR_EQ(ut_cat(&T, b, "other/in/sub/a2"), "a");

	/* Main and the base never moved. */
	UT_STR_EQ(ut_ls(&T, T.fs->main, ""), "other,src");
	UT_STR_EQ(ut_ls(&T, T.fs->main, "src"), "a,sub");
	UT_STR_EQ(ut_ls(&T, T.fs->main, "other"), "");
}
END_TEST

START_TEST(rename_out_of_a_lower_directory)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ut_base_mkdir(&T, "d/sub");
	ut_base_write(&T, "d/sub/y", "y");
	b = ut_branch(&T, T.fs->main, "b");
	/* The source's directory exists only in the base. */
	ck_assert_int_eq(ut_rename(&T, b, "d/x", "x", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, ""), "d,x");
	UT_STR_EQ(ut_ls(&T, b, "d"), "sub");
	UT_STR_EQ(ut_cat(&T, b, "x"), "x");
	ck_assert_int_eq(ut_rename(&T, b, "d/sub", "sub", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, ""), "d,sub,x");
	UT_STR_EQ(ut_ls(&T, b, "d"), "");
	UT_STR_EQ(ut_cat(&T, b, "sub/y"), "y");
}
END_TEST

START_TEST(rename_directory_back_to_its_old_name)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_rename(&T, b, "d", "e", 0), 0);
	ck_assert_int_eq(ut_rename(&T, b, "e", "d", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, ""), "d");
	UT_STR_EQ(ut_cat(&T, b, "d/x"), "x");
}
END_TEST

START_TEST(rename_noreplace)
{
	for (int i = 0; i < 2; i++) {
		struct bfsd_branch *v;

		if (i == 0) {
			ut_base_write(&T, "a", "A");
			ut_base_write(&T, "b", "B");
			v = ut_branch(&T, T.fs->main, "br");
		} else {
			v = T.fs->main;
		}
		ck_assert_int_eq(ut_rename(&T, v, "a", "b", RENAME_NOREPLACE), -EEXIST);
		UT_STR_EQ(ut_cat(&T, v, "a"), "A");
		UT_STR_EQ(ut_cat(&T, v, "b"), "B");
		ck_assert_int_eq(ut_rename(&T, v, "a", "c", RENAME_NOREPLACE), 0);
		UT_STR_EQ(ut_ls(&T, v, ""), "b,c");
		UT_STR_EQ(ut_cat(&T, v, "c"), "A");
		/* And a plain rename replaces. */
		ck_assert_int_eq(ut_rename(&T, v, "c", "b", 0), 0);
		UT_STR_EQ(ut_ls(&T, v, ""), "b");
		UT_STR_EQ(ut_cat(&T, v, "b"), "A");
		if (i == 0) {
			/* The branch left the base alone. */
			UT_STR_EQ(ut_ls(&T, T.fs->main, ""), "a,b");
			ck_assert_int_eq(ut_abort(&T, v), 0);
		}
	}
	UT_STR_EQ(ut_base_read(&T, "b"), "A");
	ck_assert(!ut_base_exists(&T, "a"));
}
END_TEST

START_TEST(rename_exchange)
{
	for (int i = 0; i < 2; i++) {
		struct bfsd_branch *v;

		if (i == 0) {
			ut_base_write(&T, "a", "A");
			ut_base_write(&T, "b", "B");
			ut_base_mkdir(&T, "d");
			ut_base_write(&T, "d/x", "x");
			v = ut_branch(&T, T.fs->main, "br");
		} else {
			v = T.fs->main;
		}
		ck_assert_int_eq(ut_rename(&T, v, "a", "b", RENAME_EXCHANGE), 0);
		UT_STR_EQ(ut_cat(&T, v, "a"), "B");
		UT_STR_EQ(ut_cat(&T, v, "b"), "A");
		ck_assert_int_eq(ut_rename(&T, v, "a", "nope", RENAME_EXCHANGE), -ENOENT);
		/* A file and a directory trade places, content and all. */
		ck_assert_int_eq(ut_rename(&T, v, "a", "d", RENAME_EXCHANGE), 0);
		ck_assert_int_eq(type_of(v, "a"), S_IFDIR);
		UT_STR_EQ(ut_ls(&T, v, "a"), "x");
		UT_STR_EQ(ut_cat(&T, v, "a/x"), "x");
		UT_STR_EQ(ut_cat(&T, v, "d"), "B");
		UT_STR_EQ(ut_ls(&T, v, ""), "a,b,d");
		if (i == 0) {
			UT_STR_EQ(ut_cat(&T, T.fs->main, "a"), "A");
			UT_STR_EQ(ut_ls(&T, T.fs->main, "d"), "x");
			ck_assert_int_eq(ut_abort(&T, v), 0);
		}
	}
	ck_assert(S_ISDIR(type_of(T.fs->main, "a")));
	UT_STR_EQ(ut_base_read(&T, "d"), "B");
}
END_TEST

START_TEST(rename_directory_over_non_empty_directory)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "s");
	ut_base_write(&T, "s/y", "y");
	ut_base_mkdir(&T, "t");
	ut_base_write(&T, "t/x", "x");
	ut_base_write(&T, "f", "f");
	b = ut_branch(&T, T.fs->main, "b");

	/* t's only entry comes from the base: still not empty. */
	ck_assert_int_eq(ut_rename(&T, b, "s", "t", 0), -ENOTEMPTY);
	ck_assert_int_eq(ut_rename(&T, T.fs->main, "s", "t", 0), -ENOTEMPTY);
	ck_assert_int_eq(ut_rename(&T, b, "s", "f", 0), -ENOTDIR);
	ck_assert_int_eq(ut_rename(&T, b, "f", "s", 0), -EISDIR);
	ck_assert_int_eq(ut_rename(&T, b, "s", "s/in", 0), -EINVAL);
	UT_STR_EQ(ut_ls(&T, b, "t"), "x");
	UT_STR_EQ(ut_ls(&T, b, "s"), "y");

	/* Emptied in the branch (a whiteout remains below): now it may be
	 * replaced, and nothing of the old t comes back. */
	ck_assert_int_eq(ut_unlink(&T, b, "t/x"), 0);
	ck_assert_int_eq(ut_rename(&T, b, "s", "t", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, ""), "f,t");
	UT_STR_EQ(ut_ls(&T, b, "t"), "y");
	ck_assert(!ut_exists(&T, b, "t/x"));
	UT_STR_EQ(ut_ls(&T, T.fs->main, "t"), "x");
}
END_TEST

START_TEST(opaque_directory_made_by_rename)
{
	struct bfsd_branch *b, *c;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_mkdir(&T, b, "new", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "new/z", "z"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	/* A directory with nothing below moves onto a name the base has. */
	ck_assert_int_eq(ut_rename(&T, b, "new", "d", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "z");
	c = ut_branch(&T, b, "c");
	UT_STR_EQ(ut_ls(&T, c, "d"), "z");
	ck_assert(!ut_exists(&T, c, "d/x"));
}
END_TEST

START_TEST(rmdir_of_non_empty_directory)
{
	struct bfsd_branch *b, *c;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ut_base_write(&T, "f", "f");
	b = ut_branch(&T, T.fs->main, "b");

	ck_assert_int_eq(ut_rmdir(&T, b, "d"), -ENOTEMPTY);
	ck_assert_int_eq(ut_rmdir(&T, T.fs->main, "d"), -ENOTEMPTY);
	ck_assert_int_eq(ut_rmdir(&T, b, "f"), -ENOTDIR);
	ck_assert_int_eq(ut_rmdir(&T, b, ""), -EBUSY);
	ck_assert_int_eq(ut_rmdir(&T, b, "nope"), -ENOENT);
	ck_assert_int_eq(ut_mkdir(&T, b, "n", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "n/f", "f"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "n"), -ENOTEMPTY);

	/* Entries from a frozen ancestor layer count too. */
	c = ut_branch(&T, b, "c");
	ck_assert_int_eq(ut_rmdir(&T, c, "n"), -ENOTEMPTY);
	ck_assert_int_eq(ut_rmdir(&T, c, "d"), -ENOTEMPTY);
	ck_assert_int_eq(ut_unlink(&T, c, "n/f"), 0);
	ck_assert_int_eq(ut_rmdir(&T, c, "n"), 0);
	ck_assert_int_eq(ut_unlink(&T, c, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, c, "d"), 0);
	UT_STR_EQ(ut_ls(&T, c, ""), "f");
	UT_STR_EQ(ut_ls(&T, b, ""), "d,f,n");
	UT_STR_EQ(ut_ls(&T, T.fs->main, "d"), "x");
}
END_TEST

START_TEST(at_names_are_ordinary_below_the_root)
{
	struct bfsd_branch *b;

	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_mkdir(&T, b, "d", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/@x", "at"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "d/@dir", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/@dir/@y", "y"), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d/@x", "d/@z", 0), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "@dir,@z");
	UT_STR_EQ(ut_cat(&T, b, "d/@z"), "at");
	UT_STR_EQ(ut_cat(&T, b, "d/@dir/@y"), "y");
	ck_assert_int_eq(ut_commit(&T, b), 0);
	UT_STR_EQ(ut_base_read(&T, "d/@z"), "at");
	UT_STR_EQ(ut_base_read(&T, "d/@dir/@y"), "y");

	ck_assert_int_eq(ut_write(&T, T.fs->main, "d/@m", "m"), 0);
	UT_STR_EQ(ut_base_read(&T, "d/@m"), "m");
	ck_assert_int_eq(ut_unlink(&T, T.fs->main, "d/@z"), 0);
	UT_STR_EQ(ut_ls(&T, T.fs->main, "d"), "@dir,@m");
}
END_TEST

START_TEST(xattr_names_like_markers_are_escaped)
{
	char name[128], val[64], wh[128], opaque[128], redirect[128], buf[4096];
	const char *prefix = T.fs->xattr_prefix;
	struct bfsd_branch *b;
	ssize_t n;

	ck_assert_str_eq(prefix, geteuid() == 0 ? "trusted.branchfs." : "user.branchfs.");
	snprintf(name, sizeof(name), "%sfoo", prefix);
	snprintf(wh, sizeof(wh), "%swh", prefix);
	snprintf(opaque, sizeof(opaque), "%sopaque", prefix);
	snprintf(redirect, sizeof(redirect), "%sredirect", prefix);
	ut_base_write(&T, "f", "f");
	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ut_base_mkdir(&T, "src");
	ut_base_write(&T, "src/s", "s");
	b = ut_branch(&T, T.fs->main, "b");

	/* A user xattr in the private namespace round-trips... */
	ck_assert_int_eq(ut_setxattr(&T, b, "f", name, "v"), 0);
	ck_assert_int_eq(ut_getxattr(&T, b, "f", name, val, sizeof(val)), 1);
	ck_assert_str_eq(val, "v");
	/* ...and is the only private-looking name listed (the copy-up's
	 * origin marker never is). */
	UT_STR_EQ(ut_listxattr(&T, b, "f"), name);

	/* Users cannot forge markers: these change nothing. */
	ck_assert_int_eq(ut_setxattr(&T, b, "d", opaque, "1"), 0);
	ck_assert_int_eq(ut_setxattr(&T, b, "d", redirect, "src"), 0);
	UT_STR_EQ(ut_ls(&T, b, "d"), "x");
	ck_assert_int_eq(ut_write(&T, b, "e", ""), 0);
	ck_assert_int_eq(ut_chmod(&T, b, "e", 0), 0);
	ck_assert_int_eq(ut_setxattr(&T, b, "e", wh, "1"), 0);
	ck_assert(ut_exists(&T, b, "e"));
	UT_STR_EQ(ut_ls(&T, b, ""), "d,e,f,src");
	ck_assert_int_eq(ut_getxattr(&T, b, "d", redirect, val, sizeof(val)), 3);
	ck_assert_str_eq(val, "src");

	/* A renamed directory's redirect marker is not listed either. */
	ck_assert_int_eq(ut_rename(&T, b, "src", "moved", 0), 0);
	UT_STR_EQ(ut_listxattr(&T, b, "moved"), "");
	ck_assert_int_lt(ut_getxattr(&T, b, "moved", redirect, val, sizeof(val)), 0);

	/* Removal works on the escaped name. */
	ck_assert_int_eq(ut_setxattr(&T, b, "f", "user.plain", "p"), 0);
	bfsd_lock_op(T.fs, b, true);
	ck_assert_int_eq(bfsd_view_removexattr(T.fs, b, "f", "user.plain"), 0);
	bfsd_unlock_op(T.fs, b);
	UT_STR_EQ(ut_listxattr(&T, b, "f"), name);

	/* Committed into the base, the user's name is stored as the user gave
	 * it and no marker reaches the base. */
	ck_assert_int_eq(ut_commit(&T, b), 0);
	n = getxattr(ut_bpath(&T, "f"), name, val, sizeof(val));
	ck_assert_int_eq(n, 1);
	n = llistxattr(ut_bpath(&T, "f"), buf, sizeof(buf));
	ck_assert_int_eq(n, (ssize_t)strlen(name) + 1);
	ck_assert_str_eq(buf, name);
	n = llistxattr(ut_bpath(&T, "moved"), buf, sizeof(buf));
	ck_assert_int_eq(n, 0);
	UT_STR_EQ(ut_base_read(&T, "moved/s"), "s");

	/* Main keeps such a name on the base object as is. */
	ck_assert_int_eq(ut_setxattr(&T, T.fs->main, "d", name, "m"), 0);
	ck_assert_int_eq(getxattr(ut_bpath(&T, "d"), name, val, sizeof(val)), 1);
	ck_assert_int_eq(ut_getxattr(&T, T.fs->main, "d", name, val, sizeof(val)), 1);
}
END_TEST

START_TEST(hard_links_share_one_object)
{
	struct bfsd_branch *b;
	struct stat st;

	ut_base_write(&T, "f", "one");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_link(&T, b, "f", "g"), 0);
	ck_assert_int_eq(ut_pwrite(&T, b, "g", 0, "ONE"), 0);
	UT_STR_EQ(ut_cat(&T, b, "f"), "ONE");
	ck_assert_int_eq(ut_unlink(&T, b, "f"), 0);
	UT_STR_EQ(ut_cat(&T, b, "g"), "ONE");
	ck_assert_int_eq(ut_stat(&T, b, "g", &st), 0);
	ck_assert_int_eq(st.st_nlink, 1);
	ck_assert_int_eq(ut_link(&T, b, "g", "nope/h"), -ENOENT);
	ck_assert_int_eq(ut_link(&T, b, "g", "g"), -EEXIST);
	ck_assert_int_eq(ut_mkdir(&T, b, "dir", 0755), 0);
	ck_assert_int_eq(ut_link(&T, b, "dir", "dir2"), -EPERM);
	/* Links and renames onto a name deleted in the branch. */
	ut_base_write(&T, "del1", "d1");
	ut_base_write(&T, "del2", "d2");
	ck_assert_int_eq(ut_unlink(&T, b, "del1"), 0);
	ck_assert_int_eq(ut_unlink(&T, b, "del2"), 0);
	ck_assert_int_eq(ut_link(&T, b, "g", "del1"), 0);
	UT_STR_EQ(ut_cat(&T, b, "del1"), "ONE");
	ut_base_write(&T, "mv", "mv");
	ck_assert_int_eq(ut_rename(&T, b, "mv", "del2", 0), 0);
	UT_STR_EQ(ut_cat(&T, b, "del2"), "mv");
	ck_assert(!ut_exists(&T, b, "mv"));
	UT_STR_EQ(ut_base_read(&T, "f"), "one");
	ck_assert(!ut_base_exists(&T, "g"));
}
END_TEST

START_TEST(creation_errors)
{
	struct bfsd_branch *b;

	ut_base_write(&T, "f", "f");
	ut_base_mkdir(&T, "d");
	b = ut_branch(&T, T.fs->main, "b");
	for (int i = 0; i < 2; i++) {
		struct bfsd_branch *v = i ? T.fs->main : b;

		ck_assert_int_eq(ut_mkdir(&T, v, "d", 0755), -EEXIST);
		ck_assert_int_eq(ut_mkdir(&T, v, "f", 0755), -EEXIST);
		ck_assert_int_eq(ut_mkfifo(&T, v, "d"), -EEXIST);
		ck_assert_int_eq(ut_symlink(&T, v, "x", "f"), -EEXIST);
		ck_assert_int_eq(ut_mkdir(&T, v, "nope/x", 0755), -ENOENT);
		ck_assert_int_eq(ut_mkdir(&T, v, "f/x", 0755), -ENOTDIR);
		ck_assert_int_eq(ut_write(&T, v, "f/x", "x"), -ENOTDIR);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("view");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, every_kind_of_object);
	tcase_add_test(tc, delete_then_recreate_a_file);
	tcase_add_test(tc, delete_then_recreate_a_directory);
	tcase_add_test(tc, delete_directory_recreate_as_file);
	tcase_add_test(tc, whiteout_hides_base_file_from_branch_only);
	tcase_add_test(tc, rename_base_only_directory);
	tcase_add_test(tc, rename_out_of_a_lower_directory);
	tcase_add_test(tc, rename_directory_back_to_its_old_name);
	tcase_add_test(tc, rename_noreplace);
	tcase_add_test(tc, rename_exchange);
	tcase_add_test(tc, rename_directory_over_non_empty_directory);
	tcase_add_test(tc, opaque_directory_made_by_rename);
	tcase_add_test(tc, rmdir_of_non_empty_directory);
	tcase_add_test(tc, at_names_are_ordinary_below_the_root);
	tcase_add_test(tc, xattr_names_like_markers_are_escaped);
	tcase_add_test(tc, hard_links_share_one_object);
	tcase_add_test(tc, creation_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
