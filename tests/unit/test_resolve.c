/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve.c: where a logical path lives in a branch's layer stack, and the
 * per-branch cache of those answers.  Stacks of branches, whiteouts, opaque
 * and redirected directories, cache correctness after changes, errors for
 * missing and non-directory ancestors.
 */
#include "core_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Resolve path in b under the request locks; the type (0 absent) or -errno. */
static int rtype(struct bfsd_branch *b, const char *path)
{
	struct bfsd_res *r;
	int ret;

	bfsd_lock_op(T.fs, b, false);
	ret = bfsd_resolve(T.fs, b, path, &r);
	bfsd_unlock_op(T.fs, b);
	if (ret)
		return ret;
	ret = (int)r->type;
	bfsd_res_put(r);
	return ret;
}

static struct bfsd_res *resolve(struct bfsd_branch *b, const char *path)
{
	struct bfsd_res *r = NULL;
	int ret;

	bfsd_lock_op(T.fs, b, false);
	ret = bfsd_resolve(T.fs, b, path, &r);
	bfsd_unlock_op(T.fs, b);
	ck_assert_msg(ret == 0, "resolve %s: %s", path, strerror(-ret));
	return r;
}

START_TEST(stack_of_three_branches)
{
	struct bfsd_branch *b1, *b2, *b3;
	struct bfsd_res *r;

	ut_base_write(&T, "f", "base-f");
	ut_base_write(&T, "g", "base-g");
	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "base-x");

	b1 = ut_branch(&T, T.fs->main, "b1");
	ck_assert_int_eq(ut_write(&T, b1, "f", "b1-f"), 0);
	b2 = ut_branch(&T, b1, "b2");
	ck_assert_int_eq(ut_write(&T, b2, "g", "b2-g"), 0);
	b3 = ut_branch(&T, b2, "b3");

	/* Each name comes from the topmost layer that has it. */
	UT_STR_EQ(ut_cat(&T, b3, "f"), "b1-f");
	UT_STR_EQ(ut_cat(&T, b3, "g"), "b2-g");
	UT_STR_EQ(ut_cat(&T, b3, "d/x"), "base-x");
	r = resolve(b3, "f");
	ck_assert_int_eq(r->type, S_IFREG);
	ck_assert(!bfsd_res_in_top(T.fs, b3, r));
	bfsd_res_put(r);

	/* Later writes of an ancestor do not reach its descendants. */
	ck_assert_int_eq(ut_write(&T, b1, "f", "b1-late"), 0);
	ck_assert_int_eq(ut_write(&T, b2, "d/x", "b2-x"), 0);
	UT_STR_EQ(ut_cat(&T, b1, "f"), "b1-late");
	UT_STR_EQ(ut_cat(&T, b2, "f"), "b1-f");
	UT_STR_EQ(ut_cat(&T, b3, "f"), "b1-f");
	UT_STR_EQ(ut_cat(&T, b2, "d/x"), "b2-x");
	UT_STR_EQ(ut_cat(&T, b3, "d/x"), "base-x");

	/* A descendant's writes stay its own. */
	ck_assert_int_eq(ut_write(&T, b3, "g", "b3-g"), 0);
	UT_STR_EQ(ut_cat(&T, b3, "g"), "b3-g");
	UT_STR_EQ(ut_cat(&T, b2, "g"), "b2-g");
	UT_STR_EQ(ut_cat(&T, b1, "g"), "base-g");
	UT_STR_EQ(ut_cat(&T, T.fs->main, "g"), "base-g");
	UT_STR_EQ(ut_ls(&T, b3, ""), "d,f,g");
}
END_TEST

START_TEST(whiteout_hides_lower_names)
{
	struct bfsd_branch *b1, *b2;
	struct bfsd_res *r;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ut_base_write(&T, "d/y", "y");
	ut_base_write(&T, "t", "t");

	b1 = ut_branch(&T, T.fs->main, "b1");
	ck_assert_int_eq(ut_unlink(&T, b1, "d/x"), 0);
	ck_assert_int_eq(ut_unlink(&T, b1, "t"), 0);
	r = resolve(b1, "d/x");
	ck_assert_int_eq(r->type, 0);
	ck_assert(r->top_whiteout);
	bfsd_res_put(r);

	b2 = ut_branch(&T, b1, "b2");
	for (int i = 0; i < 2; i++) {
		struct bfsd_branch *b = i ? b2 : b1;
		struct bfsd_res *e;

		ck_assert_int_eq(rtype(b, "d/x"), 0);
		ck_assert_int_eq(rtype(b, "t"), 0);
		bfsd_lock_op(T.fs, b, false);
		ck_assert_int_eq(bfsd_resolve_existing(T.fs, b, "d/x", &e), -ENOENT);
		bfsd_unlock_op(T.fs, b);
		UT_STR_EQ(ut_ls(&T, b, "d"), "y");
		UT_STR_EQ(ut_ls(&T, b, ""), "d");
		UT_STR_EQ(ut_cat(&T, b, "d/x"), "<No such file or directory>");
	}
	/* Main and the base are untouched. */
	UT_STR_EQ(ut_ls(&T, T.fs->main, "d"), "x,y");
	ck_assert(ut_base_exists(&T, "t"));

	/* A child can bring the name back without its parent seeing it. */
	ck_assert_int_eq(ut_write(&T, b2, "d/x", "again"), 0);
	UT_STR_EQ(ut_cat(&T, b2, "d/x"), "again");
	ck_assert_int_eq(rtype(b1, "d/x"), 0);
}
END_TEST

START_TEST(opaque_directory_hides_lower_content)
{
	struct bfsd_branch *b1, *b2;
	struct bfsd_res *r;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ut_base_write(&T, "d/y", "y");

	b1 = ut_branch(&T, T.fs->main, "b1");
	ck_assert_int_eq(ut_unlink(&T, b1, "d/x"), 0);
	ck_assert_int_eq(ut_unlink(&T, b1, "d/y"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b1, "d"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b1, "d", 0755), 0);
	ck_assert_int_eq(ut_write(&T, b1, "d/z", "z"), 0);

	r = resolve(b1, "d");
	ck_assert_int_eq(r->type, S_IFDIR);
	ck_assert(r->opaque);
	bfsd_res_put(r);
	UT_STR_EQ(ut_ls(&T, b1, "d"), "z");

	b2 = ut_branch(&T, b1, "b2");
	UT_STR_EQ(ut_ls(&T, b2, "d"), "z");
	ck_assert_int_eq(rtype(b2, "d/x"), 0);
	ck_assert_int_eq(rtype(b2, "d/y"), 0);
	UT_STR_EQ(ut_ls(&T, T.fs->main, "d"), "x,y");
}
END_TEST

START_TEST(renamed_directory_keeps_lower_content)
{
	struct bfsd_branch *b1, *b2;

	ut_base_mkdir(&T, "src");
	ut_base_write(&T, "src/a", "a");
	ut_base_mkdir(&T, "src/sub");
	ut_base_write(&T, "src/sub/b", "b");

	b1 = ut_branch(&T, T.fs->main, "b1");
	ck_assert_int_eq(ut_rename(&T, b1, "src", "dst", 0), 0);
	UT_STR_EQ(ut_ls(&T, b1, ""), "dst");
	UT_STR_EQ(ut_ls(&T, b1, "dst"), "a,sub");
	UT_STR_EQ(ut_cat(&T, b1, "dst/a"), "a");
	UT_STR_EQ(ut_cat(&T, b1, "dst/sub/b"), "b");
	ck_assert_int_eq(rtype(b1, "src"), 0);
	ck_assert_int_eq(rtype(b1, "src/a"), -ENOENT);

	/* A rename inside the renamed directory composes with it. */
	ck_assert_int_eq(ut_rename(&T, b1, "dst/sub", "dst/sub2", 0), 0);
	UT_STR_EQ(ut_ls(&T, b1, "dst"), "a,sub2");
	UT_STR_EQ(ut_cat(&T, b1, "dst/sub2/b"), "b");

	/* A child sees it, and can rename it again over its parent's redirect. */
	b2 = ut_branch(&T, b1, "b2");
	UT_STR_EQ(ut_cat(&T, b2, "dst/sub2/b"), "b");
	ck_assert_int_eq(ut_rename(&T, b2, "dst", "final", 0), 0);
	UT_STR_EQ(ut_ls(&T, b2, ""), "final");
	UT_STR_EQ(ut_ls(&T, b2, "final"), "a,sub2");
	UT_STR_EQ(ut_cat(&T, b2, "final/a"), "a");
	UT_STR_EQ(ut_cat(&T, b2, "final/sub2/b"), "b");
	ck_assert_int_eq(ut_write(&T, b2, "final/a", "a2"), 0);
	UT_STR_EQ(ut_cat(&T, b2, "final/a"), "a2");

	/* Nobody else moved. */
	UT_STR_EQ(ut_ls(&T, b1, ""), "dst");
	UT_STR_EQ(ut_cat(&T, b1, "dst/a"), "a");
	UT_STR_EQ(ut_ls(&T, T.fs->main, ""), "src");
	UT_STR_EQ(ut_ls(&T, T.fs->main, "src"), "a,sub");
}
END_TEST

START_TEST(cache_follows_changes)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "a");
	ut_base_mkdir(&T, "a/b");
	b = ut_branch(&T, T.fs->main, "b");

	/* A cached "absent" answer must not outlive the creation. */
	ck_assert_int_eq(rtype(b, "a/b/c"), 0);
	ck_assert_int_eq(ut_write(&T, b, "a/b/c", "c"), 0);
	ck_assert_int_eq(rtype(b, "a/b/c"), S_IFREG);

	/* Nor cached answers below a directory that moves. */
	ck_assert_int_eq(ut_rename(&T, b, "a", "z", 0), 0);
	ck_assert_int_eq(rtype(b, "a/b/c"), -ENOENT);
	ck_assert_int_eq(rtype(b, "a"), 0);
	ck_assert_int_eq(rtype(b, "z/b/c"), S_IFREG);
	UT_STR_EQ(ut_cat(&T, b, "z/b/c"), "c");

	ck_assert_int_eq(ut_unlink(&T, b, "z/b/c"), 0);
	ck_assert_int_eq(rtype(b, "z/b/c"), 0);
	ck_assert_int_eq(ut_mkdir(&T, b, "z/b/c", 0755), 0);
	ck_assert_int_eq(rtype(b, "z/b/c"), S_IFDIR);
	ck_assert_int_eq(ut_rmdir(&T, b, "z/b/c"), 0);
	ck_assert_int_eq(rtype(b, "z/b/c"), 0);

	/* And back: the old name shows the same content again. */
	ck_assert_int_eq(ut_rename(&T, b, "z", "a", 0), 0);
	ck_assert_int_eq(rtype(b, "a/b"), S_IFDIR);
	ck_assert_int_eq(rtype(b, "z/b"), -ENOENT);
	UT_STR_EQ(ut_ls(&T, b, "a/b"), "");
}
END_TEST

START_TEST(cache_after_parent_freeze_and_main_changes)
{
	struct bfsd_branch *p, *c;

	ut_base_write(&T, "m", "base-m");
	ut_base_write(&T, "f", "base-f");
	p = ut_branch(&T, T.fs->main, "p");
	ck_assert_int_eq(ut_write(&T, p, "f", "p1"), 0);
	UT_STR_EQ(ut_cat(&T, p, "f"), "p1");
	UT_STR_EQ(ut_cat(&T, p, "m"), "base-m");

	/* Creating a child freezes p's top: p's cached answers must move on. */
	c = ut_branch(&T, p, "c");
	ck_assert_int_eq(ut_write(&T, p, "f", "p2"), 0);
	UT_STR_EQ(ut_cat(&T, p, "f"), "p2");
	UT_STR_EQ(ut_cat(&T, c, "f"), "p1");

	/* Main changing the base must not change the cached answers' meaning. */
	ck_assert_int_eq(ut_write(&T, T.fs->main, "m", "main-m"), 0);
	UT_STR_EQ(ut_cat(&T, p, "m"), "base-m");
	UT_STR_EQ(ut_cat(&T, c, "m"), "base-m");
	ck_assert_int_eq(ut_unlink(&T, T.fs->main, "m"), 0);
	UT_STR_EQ(ut_cat(&T, p, "m"), "base-m");
	UT_STR_EQ(ut_cat(&T, c, "m"), "base-m");
	ck_assert(!ut_exists(&T, T.fs->main, "m"));
}
END_TEST

START_TEST(cache_growth_keeps_answers)
{
	char name[32], want[32];
	struct bfsd_branch *b;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(want, sizeof(want), "%d", i);
		ut_base_write(&T, name, want);
	}
	b = ut_branch(&T, T.fs->main, "b");
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(rtype(b, name), S_IFREG);
	}
	for (int i = 1; i < 3000; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(ut_write(&T, b, name, "odd"), 0);
	}
	for (int i = 0; i < 3000; i += 3) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(ut_unlink(&T, b, name), 0);
	}
	for (int i = 0; i < 3000; i++) {
		char *s;

		snprintf(name, sizeof(name), "f%d", i);
		snprintf(want, sizeof(want), "%d", i);
		s = ut_cat(&T, b, name);
		if (i % 3 == 0)
			ck_assert_str_eq(s, "<No such file or directory>");
		else
			ck_assert_str_eq(s, i % 2 ? "odd" : want);
		free(s);
	}
}
END_TEST

/* More names than the cache holds (absent ones are cached too): it is
 * emptied when full, and answers stay right across the emptying. */
START_TEST(cache_past_its_cap_keeps_answers)
{
	struct bfsd_branch *b;
	char name[32];
	size_t most = 0;

	ut_base_write(&T, "kept", "base");
	b = ut_branch(&T, T.fs->main, "b");
	ck_assert_int_eq(ut_write(&T, b, "mine", "b"), 0);
	ck_assert_int_eq(rtype(b, "kept"), S_IFREG);
	for (int i = 0; i < BFSD_RES_CACHE_MAX + 1000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(rtype(b, name), 0);
		pthread_mutex_lock(&b->cache_lock);
		if (b->cache_n > most)
			most = b->cache_n;
		pthread_mutex_unlock(&b->cache_lock);
	}
	ck_assert_uint_eq(most, BFSD_RES_CACHE_MAX);
	ck_assert_uint_lt(b->cache_n, 2000);
	UT_STR_EQ(ut_cat(&T, b, "kept"), "base");
	UT_STR_EQ(ut_cat(&T, b, "mine"), "b");
	ck_assert_int_eq(rtype(b, "n7"), 0);
	ck_assert_int_eq(ut_write(&T, b, "n7", "now"), 0);
	UT_STR_EQ(ut_cat(&T, b, "n7"), "now");
}
END_TEST

/* The caches of many branches together stay bounded: each branch's share
 * of the total shrinks as branches are added, down to the floor. */
START_TEST(cache_limit_shares_a_total)
{
	char name[32];
	int i;

	ck_assert_uint_eq(bfsd_res_cache_limit(T.fs), BFSD_RES_CACHE_MAX);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		ut_branch(&T, T.fs->main, name);
	}
	ck_assert_uint_eq(bfsd_res_cache_limit(T.fs), BFSD_RES_CACHE_TOTAL / 4);
	for (; i < 8; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		ut_branch(&T, T.fs->main, name);
	}
	ck_assert_uint_eq(bfsd_res_cache_limit(T.fs), BFSD_RES_CACHE_TOTAL / 8);
	for (; i < 40; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		ut_branch(&T, T.fs->main, name);
	}
	ck_assert_uint_eq(bfsd_res_cache_limit(T.fs), BFSD_RES_CACHE_MIN);
}
END_TEST

START_TEST(missing_and_non_directory_ancestors)
{
	struct bfsd_branch *b;
	struct bfsd_res *r;
	struct stat st;

	ut_base_write(&T, "file", "f");
	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	b = ut_branch(&T, T.fs->main, "b");

	for (int i = 0; i < 2; i++) {
		struct bfsd_branch *v = i ? b : T.fs->main;

		ck_assert_int_eq(rtype(v, "nope/x"), -ENOENT);
		ck_assert_int_eq(rtype(v, "nope/x/y"), -ENOENT);
		ck_assert_int_eq(rtype(v, "file/x"), -ENOTDIR);
		ck_assert_int_eq(rtype(v, "nope"), 0);
		bfsd_lock_op(T.fs, v, false);
		ck_assert_int_eq(bfsd_resolve_existing(T.fs, v, "nope", &r), -ENOENT);
		ck_assert_int_eq(bfsd_resolve_existing(T.fs, v, "file/x", &r), -ENOTDIR);
		bfsd_unlock_op(T.fs, v);
		ck_assert_int_eq(ut_stat(&T, v, "file/x", &st), -ENOTDIR);
	}

	/* A deleted directory is a missing ancestor; one replaced by a file is
	 * a non-directory one. */
	ck_assert_int_eq(ut_unlink(&T, b, "d/x"), 0);
	ck_assert_int_eq(ut_rmdir(&T, b, "d"), 0);
	ck_assert_int_eq(rtype(b, "d/x"), -ENOENT);
	ck_assert_int_eq(ut_write(&T, b, "d", "now a file"), 0);
	ck_assert_int_eq(rtype(b, "d/x"), -ENOTDIR);
	ck_assert_int_eq(rtype(T.fs->main, "d/x"), S_IFREG);
}
END_TEST

START_TEST(symlink_ancestor_is_not_a_directory)
{
	struct bfsd_branch *b;

	ut_base_mkdir(&T, "d");
	ut_base_write(&T, "d/x", "x");
	ck_assert_int_eq(symlink("d", ut_bpath(&T, "link")), 0);
	b = ut_branch(&T, T.fs->main, "b");

	/* Resolution never follows a symlink in the middle of a path. */
	ck_assert_int_eq(rtype(b, "link"), S_IFLNK);
	ck_assert_int_eq(rtype(b, "link/x"), -ENOTDIR);
	ck_assert_int_eq(rtype(T.fs->main, "link"), S_IFLNK);
	ck_assert_int_eq(rtype(T.fs->main, "link/x"), -ENOTDIR);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("resolve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stack_of_three_branches);
	tcase_add_test(tc, whiteout_hides_lower_names);
	tcase_add_test(tc, opaque_directory_hides_lower_content);
	tcase_add_test(tc, renamed_directory_keeps_lower_content);
	tcase_add_test(tc, cache_follows_changes);
	tcase_add_test(tc, cache_after_parent_freeze_and_main_changes);
	tcase_add_test(tc, cache_growth_keeps_answers);
	tcase_add_test(tc, cache_past_its_cap_keeps_answers);
	tcase_add_test(tc, cache_limit_shares_a_total);
	tcase_add_test(tc, missing_and_non_directory_ancestors);
	tcase_add_test(tc, symlink_ancestor_is_not_a_directory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
