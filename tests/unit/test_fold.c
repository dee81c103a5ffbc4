/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fold.c: adjacent frozen layers held by the same stacks become one.  Every
 * stack shows the same tree, inode numbers and times after a fold as
 * before, across a reopen too; a layer a live child holds alone, or one
 * holding a renamed directory, is left alone; a branch that writes between
 * child creations keeps a shallow stack.
 */
#include "core_test.h"

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
	ut_base_mkdir(&T, "keep");
	ut_base_write(&T, "keep/a", "a0");
	ut_base_write(&T, "keep/b", "b0");
	ut_base_mkdir(&T, "dir");
	ut_base_mkdir(&T, "dir/sub");
	ut_base_write(&T, "dir/sub/y", "y0");
	ut_base_write(&T, "gone", "g0");
	ut_base_write(&T, "plain", "p0");
	ut_base_mkdir(&T, "olddir");
	ut_base_write(&T, "olddir/old", "o0");
	ut_open(&T, true);
}

static void teardown(void)
{
	ut_close(&T);
}

#define MAIN	 (T.fs->main)
#define OK(expr) ck_assert_int_eq((expr), 0)

static struct bfsd_branch *find(const char *name)
{
	struct bfsd_branch *b = bfsd_branch_find(T.fs, name);

	ck_assert_ptr_nonnull(b);
	return b;
}

/* P's changes before its first child: they end up in the lower layer. */
static void first_round(struct bfsd_branch *p)
{
	OK(ut_write(&T, p, "keep/a", "a1"));
	OK(ut_write(&T, p, "new1", "n1"));
	OK(ut_mkdir(&T, p, "newdir", 0755));
	OK(ut_write(&T, p, "newdir/f", "nf"));
	OK(ut_unlink(&T, p, "gone"));
	OK(ut_setxattr(&T, p, "dir", "user.k", "v1"));
	OK(ut_write(&T, p, "dir/sub/y", "y1"));
	OK(ut_write(&T, p, "f2d", "file first"));
	OK(ut_mkdir(&T, p, "d2f", 0755));
	OK(ut_write(&T, p, "d2f/in", "in a dir"));
	OK(ut_symlink(&T, p, "target1", "ln"));
	OK(ut_unlink(&T, p, "olddir/old"));
	OK(ut_rmdir(&T, p, "olddir"));
}

/* P's changes over them: each kind of object over each kind below. */
static void second_round(struct bfsd_branch *p)
{
	OK(ut_write(&T, p, "keep/a", "a2")); /* file over file */
	OK(ut_write(&T, p, "gone", "back")); /* file over whiteout */
	OK(ut_unlink(&T, p, "new1"));	     /* whiteout over file */
	OK(ut_unlink(&T, p, "newdir/f"));    /* opaque dir over dir */
	OK(ut_rmdir(&T, p, "newdir"));
	OK(ut_mkdir(&T, p, "newdir", 0700));
	OK(ut_write(&T, p, "newdir/g", "ng"));
	OK(ut_unlink(&T, p, "f2d")); /* dir over file */
	OK(ut_mkdir(&T, p, "f2d", 0755));
	OK(ut_write(&T, p, "f2d/x", "now a dir"));
	OK(ut_unlink(&T, p, "d2f/in")); /* file over dir */
	OK(ut_rmdir(&T, p, "d2f"));
	OK(ut_write(&T, p, "d2f", "now a file"));
	OK(ut_setxattr(&T, p, "dir", "user.k", "v2")); /* merged dir, new attrs */
	OK(ut_chmod(&T, p, "dir", 0750));
	OK(ut_write(&T, p, "dir/new2", "n2"));
	OK(ut_link(&T, p, "keep/b", "keep/b2")); /* hard link */
	OK(ut_mkfifo(&T, p, "fifo"));
	OK(ut_unlink(&T, p, "ln"));
	OK(ut_symlink(&T, p, "target2", "ln"));
	OK(ut_mkdir(&T, p, "olddir", 0755)); /* dir over whiteout */
	OK(ut_write(&T, p, "olddir/new", "new"));
	OK(ut_chmod(&T, p, "", 0751)); /* the root's own attributes */
}

static const char *const watched[] = { "",	 "keep", "keep/a", "keep/b2", "dir", "dir/sub/y",
				       "newdir", "f2d",	 "d2f",	   "ln",      "gone" };
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))

/* What a user sees of b: the tree, and numbers and times of some names. */
struct seen {
	char *tree;
	struct stat st[NWATCHED]; /* zeroed where the name is absent */
};

static void see(struct bfsd_branch *b, struct seen *s)
{
	s->tree = ut_view_tree(&T, b);
	for (size_t i = 0; i < NWATCHED; i++) {
		int ret = ut_stat(&T, b, watched[i], &s->st[i]);

		ck_assert_msg(!ret || ret == -ENOENT, "stat %s: %s", watched[i], strerror(-ret));
		if (ret)
			memset(&s->st[i], 0, sizeof(s->st[i]));
	}
}

static void ck_same(struct bfsd_branch *b, struct seen *before, const char *when)
{
	struct seen now;

	see(b, &now);
	ck_assert_msg(!strcmp(before->tree, now.tree), "%s %s:\n%s\nbecame\n%s", b->name, when,
		      before->tree, now.tree);
	for (size_t i = 0; i < NWATCHED; i++) {
		const struct stat *a = &before->st[i], *c = &now.st[i];

		ck_assert_msg(a->st_ino == c->st_ino && a->st_mode == c->st_mode &&
				      a->st_mtim.tv_sec == c->st_mtim.tv_sec &&
				      a->st_mtim.tv_nsec == c->st_mtim.tv_nsec,
			      "%s %s: '%s' was ino %llu mode %o mtime %lld.%09ld, is %llu %o "
			      "%lld.%09ld",
			      b->name, when, watched[i], (unsigned long long)a->st_ino, a->st_mode,
			      (long long)a->st_mtim.tv_sec, a->st_mtim.tv_nsec,
			      (unsigned long long)c->st_ino, c->st_mode,
			      (long long)c->st_mtim.tv_sec, c->st_mtim.tv_nsec);
	}
	free(now.tree);
}

/* P with two frozen layers of its own, both held by P and C. */
static void two_frozen(void)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1;

	first_round(p);
	c1 = ut_branch(&T, p, "C1");
	OK(ut_write(&T, c1, "from-c1", "c1"));
	OK(ut_abort(&T, c1));
	second_round(p);
	ut_branch(&T, p, "C");
	ck_assert_int_eq(p->nlayers, 3);
	ck_assert_int_eq(p->nown, 3);
	ck_assert_int_eq(find("C")->nlayers, 3);
}

START_TEST(a_fold_shows_every_stack_the_same_tree)
{
	struct bfsd_branch *p, *c;
	struct seen sp, sc, sm;
	char *tree;

	two_frozen();
	p = find("P");
	c = find("C");
	see(p, &sp);
	see(c, &sc);
	see(MAIN, &sm);
	ck_assert_int_eq(bfsd_fold(T.fs), 1);
	ck_assert_int_eq(p->nlayers, 2);
	ck_assert_int_eq(p->nown, 2);
	ck_assert_int_eq(c->nlayers, 2);
	ck_assert_int_eq(c->nown, 1);
	ck_same(p, &sp, "after the fold");
	ck_same(c, &sc, "after the fold");
	ck_same(MAIN, &sm, "after the fold");
	ck_assert_int_eq(bfsd_fold(T.fs), 0);

	/* The log names the new stacks. */
	ut_close(&T);
	ut_open(&T, true);
	p = find("P");
	c = find("C");
	ck_assert_int_eq(p->nlayers, 2);
	ck_assert_int_eq(c->nlayers, 2);
	ck_same(p, &sp, "reopened");
	ck_same(c, &sc, "reopened");

	/* Both keep working: C's commit lands in P as it would have. */
	OK(ut_write(&T, c, "dir/sub/y", "from C"));
	OK(ut_unlink(&T, c, "keep/a"));
	OK(ut_commit(&T, c));
	UT_STR_EQ(ut_cat(&T, p, "dir/sub/y"), "from C");
	ck_assert(!ut_exists(&T, p, "keep/a"));
	UT_STR_EQ(ut_cat(&T, p, "d2f"), "now a file");
	UT_STR_EQ(ut_ls(&T, p, "newdir"), "g");
	UT_STR_EQ(ut_ls(&T, p, "f2d"), "x");
	tree = ut_view_tree(&T, MAIN);
	ck_assert_str_eq(tree, sm.tree);
	free(tree);
	free(sp.tree);
	free(sc.tree);
	free(sm.tree);
}
END_TEST

START_TEST(a_layer_a_live_child_holds_alone_stays)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1, *c2;
	char *tree;

	first_round(p);
	c1 = ut_branch(&T, p, "C1");
	second_round(p);
	c2 = ut_branch(&T, p, "C2");
	tree = ut_view_tree(&T, c1);
	ck_assert_int_eq(bfsd_fold(T.fs), 0);
	ck_assert_int_eq(p->nlayers, 3);
	UT_STR_EQ(ut_view_tree(&T, c1), tree);
	free(tree);
	/* Once C1 is gone, the two layers have the same holders. */
	OK(ut_abort(&T, c1));
	ck_assert_int_eq(bfsd_fold(T.fs), 1);
	ck_assert_int_eq(p->nlayers, 2);
	ck_assert_int_eq(c2->nlayers, 2);
	UT_STR_EQ(ut_cat(&T, c2, "keep/a"), "a2");
	UT_STR_EQ(ut_cat(&T, c2, "newdir/g"), "ng");
}
END_TEST

/* A renamed directory reads the layer below at its old path: no fold. */
START_TEST(a_layer_with_a_renamed_directory_stays)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1, *c;
	char *tree;

	first_round(p);
	c1 = ut_branch(&T, p, "C1");
	OK(ut_abort(&T, c1));
	OK(ut_rename(&T, p, "dir", "moved", 0));
	OK(ut_write(&T, p, "keep/a", "a2"));
	c = ut_branch(&T, p, "C");
	tree = ut_view_tree(&T, c);
	ck_assert_int_eq(bfsd_fold(T.fs), 0);
	ck_assert_int_eq(p->nlayers, 3);
	UT_STR_EQ(ut_view_tree(&T, c), tree);
	UT_STR_EQ(ut_view_tree(&T, p), tree);
	UT_STR_EQ(ut_cat(&T, c, "moved/sub/y"), "y1");
	free(tree);
}
END_TEST

/*
 * A harness's loop: a working branch writes, makes a child, and takes its
 * result back or drops it, 150 times.  Its stack stays at its top and one
 * or two frozen layers, it shows every round's writes, and the versions it
 * wrote over are not kept.
 */
START_TEST(a_working_branch_stays_shallow)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P");
	char name[64], data[4097];
	int most = 0;

	for (int i = 0; i < 150; i++) {
		struct bfsd_branch *c;

		memset(data, 'a' + i % 26, 4096);
		data[4096] = '\0';
		OK(ut_write(&T, p, "state", data));
		snprintf(data, sizeof(data), "round %d", i);
		snprintf(name, sizeof(name), "p%d", i % 7);
		OK(ut_write(&T, p, name, data));
		c = ut_branch(&T, p, NULL);
		snprintf(name, sizeof(name), "c%d", i % 5);
		OK(ut_write(&T, c, name, data));
		OK(i % 3 ? ut_commit(&T, c) : ut_abort(&T, c));
		bfsd_fold(T.fs);
		most = p->nlayers > most ? p->nlayers : most;
	}
	ck_assert_int_le(most, 3);
	UT_STR_EQ(ut_cat(&T, p, "p2"), "round 149");
	UT_STR_EQ(ut_cat(&T, p, "c4"), "round 149"); /* 149 % 3 != 0: committed */
	UT_STR_EQ(ut_cat(&T, p, "c0"), "round 145");
	UT_STR_EQ(ut_ls(&T, p, "."),
		  "c0,c1,c2,c3,c4,dir,gone,keep,olddir,p0,p1,p2,p3,p4,p5,p6,plain,state");
	/* 150 versions of state were written; a few are kept, not 150. */
	ck_assert_int_le(bfsd_quota_tree_bytes(T.fs->layers_fd, "."), 4 * 4096 + 4096);
}
END_TEST

/*
 * A file made in P has its own inode number as its identity, and a copy of
 * it carries that number: the fold takes the original out of P's tree but
 * keeps the number taken, so no new file shows the copy's st_ino.
 */
START_TEST(a_folded_away_file_keeps_its_inode_number)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1;
	struct stat x, st;
	char name[32];

	OK(ut_write(&T, p, "x", "first"));
	c1 = ut_branch(&T, p, "C1");
	OK(ut_abort(&T, c1));
	OK(ut_write(&T, p, "x", "second"));
	OK(ut_stat(&T, p, "x", &x));
	ut_branch(&T, p, "C");
	ck_assert_int_eq(bfsd_fold(T.fs), 1);
	bfsd_store_reclaim(T.fs);
	ck_assert_msg(ut_number_in_storage(&T, p, x.st_ino), "x's number was freed");
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		OK(ut_write(&T, p, name, "n"));
		OK(ut_stat(&T, p, name, &st));
		ck_assert_msg(st.st_ino != x.st_ino, "%s has the st_ino of x", name);
	}
	OK(ut_stat(&T, p, "x", &st));
	ck_assert_uint_eq(st.st_ino, x.st_ino);
}
END_TEST

/* The same after the layer that keeps the number is folded in turn. */
START_TEST(a_held_number_stays_held_when_its_layer_folds)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1, *c2;
	struct stat y, st;
	char name[32];

	OK(ut_write(&T, p, "x", "1"));
	c1 = ut_branch(&T, p, "C1"); /* holds the lowest layer alone */
	OK(ut_write(&T, p, "y", "first"));
	c2 = ut_branch(&T, p, "C2");
	OK(ut_abort(&T, c2));
	OK(ut_write(&T, p, "y", "second"));
	OK(ut_stat(&T, p, "y", &y));
	ut_branch(&T, p, "C3");
	ck_assert_int_eq(bfsd_fold(T.fs), 1); /* y's first object is held */
	ck_assert_int_eq(p->nlayers, 3);
	OK(ut_abort(&T, c1));
	ck_assert_int_eq(bfsd_fold(T.fs), 1); /* and that layer goes */
	ck_assert_int_eq(p->nlayers, 2);
	bfsd_store_tidy(T.fs);
	bfsd_store_reclaim(T.fs);
	ck_assert_msg(ut_number_in_storage(&T, p, y.st_ino), "y's number was freed");
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		OK(ut_write(&T, p, name, "n"));
		OK(ut_stat(&T, p, name, &st));
		ck_assert_msg(st.st_ino != y.st_ino, "%s has the st_ino of y", name);
	}
	UT_STR_EQ(ut_cat(&T, p, "y"), "second");
}
END_TEST

/* A fold of more entries than one chunk: requests run between chunks, and
 * a directory folded over several keeps the times U's copy had. */
START_TEST(a_big_fold_goes_in_chunks)
{
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1, *c;
	static const char *const dirs[] = { "many", "many/sub" };
	struct stat before[2], after[2];
	char name[64], *tree;

	OK(ut_mkdir(&T, p, "many", 0755));
	OK(ut_mkdir(&T, p, "many/sub", 0755));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 900; i++) {
			snprintf(name, sizeof(name), "many/%sf%d", i < 300 ? "sub/" : "", i);
			OK(ut_write(&T, p, name, round ? "second" : "first"));
		}
		if (!round) {
			c1 = ut_branch(&T, p, "C1");
			OK(ut_abort(&T, c1));
		}
	}
	c = ut_branch(&T, p, "C");
	tree = ut_view_tree(&T, c);
	for (int i = 0; i < 2; i++)
		OK(ut_stat(&T, c, dirs[i], &before[i]));
	ck_assert_int_eq(bfsd_fold(T.fs), 1);
	ck_assert_int_eq(c->nlayers, 2);
	UT_STR_EQ(ut_view_tree(&T, c), tree);
	for (int i = 0; i < 2; i++) {
		OK(ut_stat(&T, c, dirs[i], &after[i]));
		ck_assert_msg(before[i].st_mtim.tv_sec == after[i].st_mtim.tv_sec &&
				      before[i].st_mtim.tv_nsec == after[i].st_mtim.tv_nsec,
			      "%s: mtime changed", dirs[i]);
	}
	free(tree);
}
END_TEST

/*
 * A chain of directories deeper than a chunk has entries, its bottom file
 * rewritten in both rounds: the fold walks the whole chain.  Each level
 * holds little and only moves spend the chunk's budget, so it gets through
 * (it once overran the stack, and a chain deeper than a chunk restarted
 * forever).
 */
START_TEST(a_deep_chain_folds)
{
	enum { DEPTH = 1500 };
	struct bfsd_branch *p = ut_branch(&T, MAIN, "P"), *c1, *c;
	char *path = malloc(2 * DEPTH + 16), *file = malloc(2 * DEPTH + 16);
	size_t len = 0;

	ck_assert_ptr_nonnull(path);
	ck_assert_ptr_nonnull(file);
	for (int i = 0; i < DEPTH; i++) {
		len += (size_t)sprintf(path + len, "%sd", i ? "/" : "");
		ut_base_mkdir(&T, path);
	}
	sprintf(file, "%s/bottom", path);
	ut_base_write(&T, file, "base");
	OK(ut_write(&T, p, file, "first")); /* copies up the whole chain */
	c1 = ut_branch(&T, p, "C1");
	OK(ut_abort(&T, c1));
	OK(ut_write(&T, p, file, "second")); /* and again, into the new top */
	c = ut_branch(&T, p, "C");
	ck_assert_int_eq(bfsd_fold(T.fs), 1);
	ck_assert_int_eq(p->nlayers, 2);
	ck_assert_int_eq(c->nlayers, 2);
	UT_STR_EQ(ut_cat(&T, c, file), "second");
	UT_STR_EQ(ut_ls(&T, c, path), "bottom");
	free(path);
	free(file);
}
END_TEST

/* A file open in P while its object moves down keeps reading it, and a
 * write through a new descriptor copies it up as before. */
START_TEST(an_open_file_follows_the_fold)
{
	struct bfsd_branch *p, *c;
	struct bfsd_file *f;
	char buf[16] = "";

	two_frozen();
	p = find("P");
	c = find("C");
	OK(bfsd_file_open(T.fs, p, "keep/a", O_RDONLY, &f));
	ck_assert_int_eq(bfsd_fold(T.fs), 1);
	ck_assert_ptr_eq(f->layer, p->layers[1]);
	ck_assert_int_eq(pread(f->fd, buf, sizeof(buf) - 1, 0), 2);
	ck_assert_str_eq(buf, "a2");
	OK(ut_write(&T, p, "keep/a", "a3"));
	UT_STR_EQ(ut_cat(&T, c, "keep/a"), "a2");
	UT_STR_EQ(ut_cat(&T, p, "keep/a"), "a3");
	bfsd_file_close(T.fs, f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fold");
	TCase *tc = tcase_create("fold");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_fold_shows_every_stack_the_same_tree);
	tcase_add_test(tc, a_layer_a_live_child_holds_alone_stays);
	tcase_add_test(tc, a_layer_with_a_renamed_directory_stays);
	tcase_add_test(tc, a_working_branch_stays_shallow);
	tcase_add_test(tc, a_folded_away_file_keeps_its_inode_number);
	tcase_add_test(tc, a_held_number_stays_held_when_its_layer_folds);
	tcase_add_test(tc, a_big_fold_goes_in_chunks);
	tcase_add_test(tc, a_deep_chain_folds);
	tcase_add_test(tc, an_open_file_follows_the_fold);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
