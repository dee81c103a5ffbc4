/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c, load.c and the storage side of fs.c: what survives a close with
 * keep, a close without it, and a crash; a torn or corrupt tail of the
 * state log; the storage lock and its base; leftovers in work/ and layers/.
 */
#include "core_test.h"

#include "bfs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ut T;

static void setup(void)
{
	ut_init(&T);
	ut_base_write(&T, "f", "v1");
	ut_base_write(&T, "g", "g");
}

static void teardown(void)
{
	ut_close(&T);
}

#define MAIN	 (T.fs->main)
#define ODD_NAME "with space\tand \xc3\xa9"

static struct bfsd_branch *find(const char *name)
{
	return bfsd_branch_find(T.fs, name);
}

/* p (own file, a committed child c2), c (stale child of p), q (current),
 * plus main changes after p's creation. */
static void build_tree(void)
{
	struct bfsd_branch *p, *c, *c2, *q;

	p = ut_branch(&T, MAIN, "p");
	ck_assert_int_eq(ut_write(&T, p, "pf", "p"), 0);
	c = ut_branch(&T, p, "c");
	ck_assert_int_eq(ut_write(&T, c, "cf", "c"), 0);
	c2 = ut_branch(&T, p, "c2");
	ck_assert_int_eq(ut_write(&T, c2, "c2f", "c2"), 0);
	ck_assert_int_eq(ut_commit(&T, c2), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v2"), 0);
	ck_assert_int_eq(ut_unlink(&T, MAIN, "g"), 0);
	q = ut_branch(&T, MAIN, ODD_NAME);
	ck_assert_int_eq(ut_write(&T, q, "qf", "q"), 0);
	pthread_rwlock_wrlock(&T.fs->tree_lock);
	ck_assert_int_eq(bfsd_fs_switch(T.fs, q), 0);
	pthread_rwlock_unlock(&T.fs->tree_lock);
}

/* The tree build_tree() made, with q current (as built, and after a crash,
 * which resumes) or main (after a clean close with keep). */
static void check_tree(bool q_current)
{
	struct bfsd_branch *p = find("p"), *c = find("c"), *q = find(ODD_NAME);

	ck_assert_int_eq(bfsd_branch_count(T.fs), 3);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_null(find("c2"));
	ck_assert_ptr_eq(c->parent, p);
	ck_assert_ptr_eq(p->parent, MAIN);
	ck_assert_uint_eq(p->gen, 1);
	ck_assert(bfsd_branch_is_stale(c));
	ck_assert(!bfsd_branch_is_stale(p));
	ck_assert_ptr_eq(T.fs->current, q_current ? q : MAIN);

	UT_STR_EQ(ut_ls(&T, p, ""), "c2f,f,g,pf");
	UT_STR_EQ(ut_cat(&T, p, "f"), "v1");
	UT_STR_EQ(ut_cat(&T, p, "c2f"), "c2");
	UT_STR_EQ(ut_ls(&T, c, ""), "cf,f,g,pf");
	UT_STR_EQ(ut_cat(&T, c, "cf"), "c");
	UT_STR_EQ(ut_ls(&T, q, ""), "f,qf");
	UT_STR_EQ(ut_cat(&T, q, "f"), "v2");
	UT_STR_EQ(ut_ls(&T, MAIN, ""), "f");
	UT_STR_EQ(ut_base_read(&T, "f"), "v2");
}

START_TEST(keep_restores_the_tree)
{
	uint64_t created;

	ut_open(&T, true);
	build_tree();
	created = find("p")->created_ns;
	check_tree(true);
	ut_close(&T);

	ut_open(&T, true);
	check_tree(false);
	ck_assert_uint_eq(find("p")->created_ns, created);
	/* Preservation for the restored branches goes on. */
	ck_assert_int_eq(ut_write(&T, MAIN, "f", "v3"), 0);
	UT_STR_EQ(ut_cat(&T, find("p"), "f"), "v1");
	UT_STR_EQ(ut_cat(&T, find(ODD_NAME), "f"), "v2");
	ck_assert_int_eq(ut_commit(&T, find("c")), -ESTALE);
	ut_close(&T);

	/* Twice: the compacted log must load as well. */
	ut_open(&T, true);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 3);
	UT_STR_EQ(ut_cat(&T, find("p"), "f"), "v1");
	ck_assert_int_eq(ut_abort(&T, find("c")), 0);
	ck_assert_int_eq(ut_commit(&T, find("p")), 0);
	UT_STR_EQ(ut_base_read(&T, "c2f"), "c2");
	UT_STR_EQ(ut_base_read(&T, "pf"), "p");
	/* p never touched f or g: main's changes to them stay. */
	UT_STR_EQ(ut_base_read(&T, "f"), "v3");
	ck_assert(!ut_base_exists(&T, "g"));
	ck_assert_uint_eq(MAIN->gen, 1);
	ut_close(&T);

	ut_open(&T, false);
	ck_assert_uint_eq(MAIN->gen, 1);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 1);
	ck_assert_ptr_eq(T.fs->current, MAIN);
}
END_TEST

START_TEST(close_without_keep_discards_everything)
{
	ut_open(&T, false);
	build_tree();
	ut_close(&T);
	ck_assert_int_eq(ut_count_entries(ut_spath(&T, "layers")), 0);
	ck_assert_int_eq(ut_count_entries(ut_spath(&T, "trash")), 0);

	ut_open(&T, true);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 0);
	ck_assert_ptr_eq(T.fs->current, MAIN);
	/* Only what went through main or was committed into main is left. */
	UT_STR_EQ(ut_base_read(&T, "f"), "v2");
	ck_assert(!ut_base_exists(&T, "g"));
	ck_assert(!ut_base_exists(&T, "pf"));
}
END_TEST

static void crash_after_commits(struct ut *t, void *arg)
{
	struct bfsd_branch *b1, *b2;

	(void)arg;
	b1 = ut_branch(t, t->fs->main, "b1");
	ck_assert_int_eq(ut_write(t, b1, "b1f", "b1"), 0);
	b2 = ut_branch(t, t->fs->main, "b2");
	ck_assert_int_eq(ut_write(t, b2, "b2f", "b2"), 0);
	ck_assert_int_eq(ut_commit(t, b2), 0);
	ck_assert_int_eq(ut_write(t, t->fs->main, "f", "main"), 0);
}

START_TEST(crash_keeps_branches_and_commits)
{
	struct bfsd_branch *b1;

	ck_assert_int_eq(ut_crash(&T, crash_after_commits, NULL), 0);
	ut_open(&T, false);
	b1 = find("b1");
	ck_assert_ptr_nonnull(b1);
	ck_assert_ptr_null(find("b2"));
	ck_assert_uint_eq(MAIN->gen, 1);
	ck_assert(bfsd_branch_is_stale(b1));
	UT_STR_EQ(ut_base_read(&T, "b2f"), "b2");
	UT_STR_EQ(ut_base_read(&T, "f"), "main");
	UT_STR_EQ(ut_cat(&T, b1, "b1f"), "b1");
	UT_STR_EQ(ut_cat(&T, b1, "f"), "v1");
	ck_assert(!ut_exists(&T, b1, "b2f"));
}
END_TEST

static void crash_after_two_creates(struct ut *t, void *arg)
{
	struct bfsd_branch *b1, *b2;

	(void)arg;
	b1 = ut_branch(t, t->fs->main, "b1");
	ck_assert_int_eq(ut_write(t, b1, "b1f", "b1"), 0);
	b2 = ut_branch(t, t->fs->main, "b2");
	ck_assert_int_eq(ut_write(t, b2, "b2f", "b2"), 0);
}

static char *read_state(size_t *len)
{
	char *s = bfs_read_file(ut_spath(&T, "state"));

	ck_assert_ptr_nonnull(s);
	*len = strlen(s);
	return s;
}

static void write_state(const char *s, size_t len)
{
	int fd = open(ut_spath(&T, "state"), O_WRONLY | O_TRUNC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, len), (ssize_t)len);
	close(fd);
}

/* Offset of the last transaction in the log text. */
static size_t last_tx(const char *s, size_t len)
{
	size_t pos = 0;

	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '\n' && s[i + 1] == 'T')
			pos = i + 1;
	return pos;
}

/* Damage the log after the crash in one of several ways: b1 must survive,
 * b2 (the last transaction) must not.  Way 4 leaves the log intact (both
 * survive), to show the crash alone loses nothing. */
static void damaged_tail(int how)
{
	size_t len, last;
	char *s;

	ck_assert_int_eq(ut_crash(&T, crash_after_two_creates, NULL), 0);
	s = read_state(&len);
	last = last_tx(s, len);
	ck_assert_int_gt(last, 0);
	switch (how) {
	case 0: /* torn in the middle of the last transaction */
		write_state(s, last + (len - last) / 2);
		break;
	case 1: /* torn after its header */
		write_state(s, strchr(s + last, '\n') + 1 - s);
		break;
	case 2: /* a flipped byte in its body */
		s[len - 3] ^= 0x01;
		write_state(s, len);
		break;
	case 3: /* garbage appended after it, then its own last byte lost */
		write_state(s, len - 1);
		{
			int fd = open(ut_spath(&T, "state"), O_WRONLY | O_APPEND);

			ck_assert_int_eq(write(fd, "T 9 deadbeef\nB 7", 16), 16);
			close(fd);
		}
		break;
	}
	free(s);

	ut_open(&T, true);
	ck_assert_ptr_nonnull(find("b1"));
	UT_STR_EQ(ut_cat(&T, find("b1"), "b1f"), "b1");
	if (how == 4) {
		UT_STR_EQ(ut_cat(&T, find("b2"), "b2f"), "b2");
		ck_assert_int_eq(ut_abort(&T, find("b2")), 0);
	}
	ck_assert_ptr_null(find("b2"));
	ck_assert_int_eq(bfsd_branch_count(T.fs), 1);
	/* A new branch gets fresh ids and layers, not b2's leftovers. */
	ut_branch(&T, MAIN, "b3");
	UT_STR_EQ(ut_ls(&T, find("b3"), ""), "f,g");
	ut_close(&T);
	ut_open(&T, true);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 2);
	UT_STR_EQ(ut_ls(&T, find("b3"), ""), "f,g");
	UT_STR_EQ(ut_cat(&T, find("b1"), "b1f"), "b1");
}

START_TEST(torn_tail_is_dropped)
{
	damaged_tail(_i);
}
END_TEST

START_TEST(storage_lock_and_base)
{
	struct bfsd_options opt = { .base = T.base, .storage = T.storage };
	char other[PATH_MAX];
	struct bfsd_fs *fs2 = NULL;

	ut_open(&T, true);
	ut_branch(&T, MAIN, "b");
	/* One daemon per storage. */
	ck_assert_int_eq(bfsd_fs_open(&opt, &fs2), -EBUSY);
	ut_close(&T);
	/* A storage with branches belongs to its base. */
	snprintf(other, sizeof(other), "%s/other", T.dir);
	ck_assert_int_eq(mkdir(other, 0755), 0);
	opt.base = other;
	ck_assert_int_eq(bfsd_fs_open(&opt, &fs2), -EXDEV);
	ut_open(&T, false);
	ck_assert_ptr_nonnull(find("b"));
}
END_TEST

START_TEST(leftovers_are_cleaned_at_open)
{
	ut_open(&T, true);
	ut_branch(&T, MAIN, "b");
	ut_close(&T);
	ck_assert_int_eq(mkdir(ut_spath(&T, "layers/999"), 0700), 0);
	ck_assert_int_eq(bfs_write_file(ut_spath(&T, "layers/999/junk"), "j"), 0);
	ck_assert_int_eq(bfs_write_file(ut_spath(&T, "work/half-built"), "h"), 0);
	ut_open(&T, true);
	ck_assert(!bfs_exists(ut_spath(&T, "layers/999")));
	ck_assert(!bfs_exists(ut_spath(&T, "work/half-built")));
	ck_assert_ptr_nonnull(find("b"));
	UT_STR_EQ(ut_ls(&T, find("b"), ""), "f,g");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, keep_restores_the_tree);
	tcase_add_test(tc, close_without_keep_discards_everything);
	tcase_add_test(tc, crash_keeps_branches_and_commits);
	tcase_add_loop_test(tc, torn_tail_is_dropped, 0, 5);
	tcase_add_test(tc, storage_lock_and_base);
	tcase_add_test(tc, leftovers_are_cleaned_at_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
