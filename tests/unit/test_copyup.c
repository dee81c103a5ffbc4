/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copyup.c (and the open files of file.c that follow a copy-up): the first
 * change to a lower object copies it into the branch's top layer with its
 * data (sparse stays sparse), mode, owner, nanosecond times and xattrs; its
 * st_ino does not change; O_TRUNC copies no data; open descriptors follow
 * the copy.
 */
#include "core_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static struct ut T;

static void setup(void)
{
	ut_setup(&T);
}

static void teardown(void)
{
	ut_close(&T);
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

/* What a read through f returns now (up to 255 bytes). */
static char *fd_text(struct bfsd_file *f)
{
	char buf[256];
	ssize_t n = pread(f->fd, buf, sizeof(buf) - 1, 0);

	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return strdup(buf);
}

/* A write through f the way the FUSE write path does it. */
static void fd_write(struct bfsd_file *f, const char *path, const char *data)
{
	if (bfsd_file_needs_prepare(T.fs, f))
		ck_assert_int_eq(bfsd_file_prepare_write(T.fs, f, path), 0);
	ck_assert_int_eq(pwrite(f->fd, data, strlen(data), 0), (ssize_t)strlen(data));
}

START_TEST(first_write_copies_the_data)
{
	struct bfsd_branch *b;

	ut_base_write(&T, "f", "hello world");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_pwrite(&T, b, "f", 0, "HELLO"), 0);
	UT_STR_EQ(ut_cat(&T, b, "f"), "HELLO world");
	UT_STR_EQ(ut_cat(&T, T.fs->main, "f"), "hello world");
	UT_STR_EQ(ut_base_read(&T, "f"), "hello world");

	/* Appending after the copy keeps both parts. */
	ck_assert_int_eq(ut_pwrite(&T, b, "f", 11, "!"), 0);
	UT_STR_EQ(ut_cat(&T, b, "f"), "HELLO world!");
}
END_TEST

START_TEST(sparse_file_stays_sparse)
{
	const off_t size = 64 << 20;
	struct bfsd_branch *b;
	struct bfsd_file *f;
	struct stat bst, st;
	char buf[8];
	int fd;

	fd = open(ut_bpath(&T, "sparse"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "head", 4, 0), 4);
	ck_assert_int_eq(pwrite(fd, "tail", 4, size - 4), 4);
	close(fd);
	ck_assert_int_eq(stat(ut_bpath(&T, "sparse"), &bst), 0);
	ck_assert_int_lt(bst.st_blocks, 1024); /* the scratch fs keeps holes */

	/* A mode change copies the data up without writing any. */
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_chmod(&T, b, "sparse", 0600), 0);
	ck_assert_int_eq(ut_stat(&T, b, "sparse", &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, size);
	ck_assert_int_le(st.st_blocks, bst.st_blocks + 8);

	f = open_file(b, "sparse", O_RDONLY);
	ck_assert_int_eq(pread(f->fd, buf, 4, 0), 4);
	ck_assert(!memcmp(buf, "head", 4));
	ck_assert_int_eq(pread(f->fd, buf, 4, size - 4), 4);
	ck_assert(!memcmp(buf, "tail", 4));
	ck_assert_int_eq(pread(f->fd, buf, 4, size / 2), 4);
	ck_assert(!memcmp(buf, "\0\0\0\0", 4));
	bfsd_file_close(T.fs, f);
	/* And the copy is really in the branch, not the base. */
	ck_assert_int_eq(stat(ut_bpath(&T, "sparse"), &bst), 0);
	ck_assert_int_eq(bst.st_mode & 07777, 0644);
}
END_TEST

START_TEST(attributes_are_carried)
{
	const struct timespec ts[2] = { { 900000000, 987654321 }, { 1000000000, 123456789 } };
	struct bfsd_branch *b;
	struct bfsd_file *f;
	struct stat st;
	char val[64];

	ut_base_write(&T, "f", "data");
	ck_assert_int_eq(chmod(ut_bpath(&T, "f"), 0640), 0);
	ck_assert_int_eq(chown(ut_bpath(&T, "f"), 1234, 2345), 0);
	ck_assert_int_eq(setxattr(ut_bpath(&T, "f"), "user.color", "blue", 4, 0), 0);
	ck_assert_int_eq(setxattr(ut_bpath(&T, "f"), "trusted.t", "tv", 2, 0), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, ut_bpath(&T, "f"), ts, 0), 0);
	ut_base_mkdir(&T, "d");
	ck_assert_int_eq(chmod(ut_bpath(&T, "d"), 0710), 0);
	ck_assert_int_eq(chown(ut_bpath(&T, "d"), 1234, 2345), 0);
	ck_assert_int_eq(setxattr(ut_bpath(&T, "d"), "user.dir", "yes", 3, 0), 0);
	ck_assert_int_eq(symlink("f", ut_bpath(&T, "l")), 0);
	ck_assert_int_eq(lchown(ut_bpath(&T, "l"), 1234, 2345), 0);

	b = ut_branch(&T, T.fs->main, "b");
	/* Opening for writing copies up; nothing is written. */
	f = open_file(b, "f", O_WRONLY);
	bfsd_file_close(T.fs, f);
	ck_assert_int_eq(ut_stat(&T, b, "f", &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_gid, 2345);
	ck_assert_int_eq(st.st_mtim.tv_sec, ts[1].tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, ts[1].tv_nsec);
	ck_assert_int_eq(st.st_atim.tv_sec, ts[0].tv_sec);
	ck_assert_int_eq(st.st_atim.tv_nsec, ts[0].tv_nsec);
	ck_assert_int_eq(ut_getxattr(&T, b, "f", "user.color", val, sizeof(val)), 4);
	ck_assert_str_eq(val, "blue");
	ck_assert_int_eq(ut_getxattr(&T, b, "f", "trusted.t", val, sizeof(val)), 2);
	ck_assert_str_eq(val, "tv");
	UT_STR_EQ(ut_listxattr(&T, b, "f"), "trusted.t,user.color");
	UT_STR_EQ(ut_cat(&T, b, "f"), "data");

	/* A directory copied up as a container keeps its attributes too. */
	ck_assert_int_eq(ut_write(&T, b, "d/new", "n"), 0);
	ck_assert_int_eq(ut_stat(&T, b, "d", &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0710);
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_gid, 2345);
	ck_assert_int_eq(ut_getxattr(&T, b, "d", "user.dir", val, sizeof(val)), 3);

	/* A symlink copied up for a time change keeps its owner and target. */
	ck_assert_int_eq(ut_utimens(&T, b, "l", ts), 0);
	ck_assert_int_eq(ut_stat(&T, b, "l", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_mtim.tv_nsec, ts[1].tv_nsec);
	ck_assert_int_eq(ut_readlink(&T, b, "l", val, sizeof(val)), 0);
	ck_assert_str_eq(val, "f");
}
END_TEST

START_TEST(inode_number_survives_copyup)
{
	struct bfsd_branch *b;
	struct stat before, after, dbefore, dafter, rbefore, rafter;

	ut_base_write(&T, "f", "data");
	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_stat(&T, b, "f", &before), 0);
	ck_assert_int_eq(ut_stat(&T, b, "d", &dbefore), 0);
	ck_assert_int_eq(ut_stat(&T, b, "", &rbefore), 0);

	ck_assert_int_eq(ut_pwrite(&T, b, "f", 0, "DATA"), 0);
	ck_assert_int_eq(ut_write(&T, b, "d/y", "y"), 0);
	ck_assert_int_eq(ut_chmod(&T, b, "", 0700), 0);
	ck_assert_int_eq(ut_stat(&T, b, "f", &after), 0);
	ck_assert_int_eq(ut_stat(&T, b, "d", &dafter), 0);
	ck_assert_int_eq(ut_stat(&T, b, "", &rafter), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_uint_eq(dafter.st_ino, dbefore.st_ino);
	ck_assert_uint_eq(rafter.st_ino, rbefore.st_ino);
	ck_assert_int_eq(rafter.st_mode & 07777, 0700);

	/* A rename keeps the number; a hard link shares it. */
	ck_assert_int_eq(ut_rename(&T, b, "f", "g", 0), 0);
	ck_assert_int_eq(ut_stat(&T, b, "g", &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(ut_link(&T, b, "g", "h"), 0);
	ck_assert_int_eq(ut_stat(&T, b, "h", &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(after.st_nlink, 2);

	/* And a file that only moved keeps it in a child branch, too. */
	ck_assert_int_eq(ut_stat(&T, b, "d/x", &before), 0);
	ck_assert_int_eq(ut_rename(&T, b, "d", "e", 0), 0);
	ck_assert_int_eq(ut_stat(&T, b, "e/x", &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(ut_pwrite(&T, b, "e/x", 0, "X"), 0);
	ck_assert_int_eq(ut_stat(&T, b, "e/x", &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
}
END_TEST

START_TEST(hard_linked_base_file_keeps_its_links)
{
	struct bfsd_branch *b;
	struct stat a, l;

	ut_base_write(&T, "a", "one");
	ck_assert_int_eq(link(ut_bpath(&T, "a"), ut_bpath(&T, "a-link")), 0);
	b = ut_branch(&T, T.fs->main, "b");
	/* In the branch, as in any directory, both names are one file. */
	ck_assert_int_eq(ut_pwrite(&T, b, "a", 0, "ONE"), 0);
	UT_STR_EQ(ut_cat(&T, b, "a"), "ONE");
	ck_assert_int_eq(ut_stat(&T, b, "a", &a), 0);
	ck_assert_int_eq(ut_stat(&T, b, "a-link", &l), 0);
	ck_assert_uint_eq(a.st_ino, l.st_ino);
	ck_assert_int_eq(a.st_nlink, 2);
	UT_STR_EQ(ut_cat(&T, b, "a-link"), "ONE");
	UT_STR_EQ(ut_base_read(&T, "a-link"), "one");
}
END_TEST

/*
 * The names a copy-up links are mapped through the branch's moved
 * directories, which are remembered between copy-ups: a directory moved
 * after one copy-up must count for the next.
 */
START_TEST(hard_links_below_a_directory_moved_between_copies)
{
	struct bfsd_branch *b;
	struct stat a, l;

	ut_base_mkdir(&T, "x");
	ut_base_mkdir(&T, "y");
	ut_base_write(&T, "x/p1", "one");
	ut_base_write(&T, "x/p2", "two");
	ck_assert_int_eq(link(ut_bpath(&T, "x/p1"), ut_bpath(&T, "y/p1")), 0);
	ck_assert_int_eq(link(ut_bpath(&T, "x/p2"), ut_bpath(&T, "y/p2")), 0);
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_pwrite(&T, b, "x/p1", 0, "ONE"), 0);
	UT_STR_EQ(ut_cat(&T, b, "y/p1"), "ONE");
	ck_assert_int_eq(ut_rename(&T, b, "y", "z", 0), 0);
	ck_assert_int_eq(ut_pwrite(&T, b, "x/p2", 0, "TWO"), 0);
	UT_STR_EQ(ut_cat(&T, b, "z/p2"), "TWO");
	ck_assert_int_eq(ut_stat(&T, b, "x/p2", &a), 0);
	ck_assert_int_eq(ut_stat(&T, b, "z/p2", &l), 0);
	ck_assert_uint_eq(a.st_ino, l.st_ino);
	ck_assert_int_eq(l.st_nlink, 2);
	UT_STR_EQ(ut_cat(&T, b, "z/p1"), "ONE");
	UT_STR_EQ(ut_base_read(&T, "y/p2"), "two");
}
END_TEST

START_TEST(truncating_open_copies_no_data)
{
	struct bfsd_branch *b;
	struct bfsd_file *f;
	struct stat st;
	char *big = malloc(1 << 20);

	memset(big, 'x', 1 << 20);
	big[(1 << 20) - 1] = '\0';
	ut_base_write(&T, "big", big);
	free(big);
	b = ut_branch(&T, T.fs->main, "b");

	f = open_file(b, "big", O_WRONLY | O_TRUNC);
	ck_assert_int_eq(ut_stat(&T, b, "big", &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(st.st_blocks, 0);
	fd_write(f, "big", "small");
	bfsd_file_close(T.fs, f);
	UT_STR_EQ(ut_cat(&T, b, "big"), "small");
	ck_assert_int_eq(stat(ut_bpath(&T, "big"), &st), 0);
	ck_assert_int_eq(st.st_size, (1 << 20) - 1);

	/* A truncate to zero is the same. */
	ut_base_write(&T, "t", "abcdef");
	ck_assert_int_eq(ut_truncate(&T, b, "t", 0), 0);
	UT_STR_EQ(ut_cat(&T, b, "t"), "");
	UT_STR_EQ(ut_base_read(&T, "t"), "abcdef");
	ck_assert_int_eq(ut_truncate(&T, b, "big", 2), 0);
	UT_STR_EQ(ut_cat(&T, b, "big"), "sm");
}
END_TEST

START_TEST(readers_follow_the_copy)
{
	struct bfsd_branch *b, *sib;
	struct bfsd_file *rb, *rm, *rs, *w;

	ut_base_write(&T, "f", "old");
	ut_base_write(&T, "g", "gold");
	b = ut_branch(&T, T.fs->main, "b");
	sib = ut_branch(&T, T.fs->main, "sib");
	rb = open_file(b, "f", O_RDONLY);
	rm = open_file(T.fs->main, "f", O_RDONLY);
	rs = open_file(sib, "f", O_RDONLY);

	w = open_file(b, "f", O_WRONLY | O_TRUNC);
	fd_write(w, "f", "new");
	bfsd_file_close(T.fs, w);
	/* The branch's earlier reader now reads the branch's file... */
	UT_STR_EQ(fd_text(rb), "new");
	/* ...while main's and a sibling's readers keep theirs. */
	UT_STR_EQ(fd_text(rm), "old");
	UT_STR_EQ(fd_text(rs), "old");
	bfsd_file_close(T.fs, rb);
	bfsd_file_close(T.fs, rm);
	bfsd_file_close(T.fs, rs);

	/* A copy-up for an attribute change re-points readers as well, and
	 * later writes show through them. */
	rb = open_file(b, "g", O_RDONLY);
	ck_assert_int_eq(ut_chmod(&T, b, "g", 0600), 0);
	ck_assert_int_eq(ut_pwrite(&T, b, "g", 0, "G"), 0);
	UT_STR_EQ(fd_text(rb), "Gold");
	bfsd_file_close(T.fs, rb);
}
END_TEST

START_TEST(write_after_freeze_copies_again)
{
	struct bfsd_branch *b, *c;
	struct bfsd_file *w, *rb, *rc;

	ut_base_write(&T, "f", "base");
	b = ut_branch(&T, T.fs->main, "b");
	w = open_file(b, "f", O_WRONLY);
	fd_write(w, "f", "b-1!");
	rb = open_file(b, "f", O_RDONLY);

	/* The child freezes b's top: b's open writer must not write into it. */
	c = ut_branch(&T, b, "c");
	rc = open_file(c, "f", O_RDONLY);
	ck_assert(bfsd_file_needs_prepare(T.fs, w));
	fd_write(w, "f", "b-2!");
	bfsd_file_close(T.fs, w);

	UT_STR_EQ(ut_cat(&T, b, "f"), "b-2!");
	UT_STR_EQ(fd_text(rb), "b-2!");
	UT_STR_EQ(ut_cat(&T, c, "f"), "b-1!");
	UT_STR_EQ(fd_text(rc), "b-1!");
	UT_STR_EQ(ut_base_read(&T, "f"), "base");
	bfsd_file_close(T.fs, rb);
	bfsd_file_close(T.fs, rc);
}
END_TEST

START_TEST(copyup_below_renamed_and_deep_directories)
{
	struct bfsd_branch *b;
	struct stat st;

	ut_base_mkdir(&T, "src");
	ut_base_write(&T, "src/f", "f");
	ut_base_mkdir(&T, "a");
	ut_base_mkdir(&T, "a/b");
	ck_assert_int_eq(chmod(ut_bpath(&T, "a/b"), 0750), 0);
	ut_base_mkdir(&T, "a/b/c");
	ut_base_write(&T, "a/b/c/f", "deep");

	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_rename(&T, b, "src", "dst", 0), 0);
	ck_assert_int_eq(ut_pwrite(&T, b, "dst/f", 0, "F"), 0);
	UT_STR_EQ(ut_cat(&T, b, "dst/f"), "F");
	UT_STR_EQ(ut_base_read(&T, "src/f"), "f");

	ck_assert_int_eq(ut_pwrite(&T, b, "a/b/c/f", 4, "er"), 0);
	UT_STR_EQ(ut_cat(&T, b, "a/b/c/f"), "deeper");
	ck_assert_int_eq(ut_stat(&T, b, "a/b", &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	UT_STR_EQ(ut_ls(&T, b, "a/b/c"), "f");
	UT_STR_EQ(ut_base_read(&T, "a/b/c/f"), "deep");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("copyup");
	TCase *tc = tcase_create("copyup");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, first_write_copies_the_data);
	tcase_add_test(tc, sparse_file_stays_sparse);
	tcase_add_test(tc, attributes_are_carried);
	tcase_add_test(tc, inode_number_survives_copyup);
	tcase_add_test(tc, hard_linked_base_file_keeps_its_links);
	tcase_add_test(tc, hard_links_below_a_directory_moved_between_copies);
	tcase_add_test(tc, truncating_open_copies_no_data);
	tcase_add_test(tc, readers_follow_the_copy);
	tcase_add_test(tc, write_after_freeze_copies_again);
	tcase_add_test(tc, copyup_below_renamed_and_deep_directories);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
