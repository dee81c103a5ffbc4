/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Branch lifecycle on a real mount: create, isolation, commit into the
 * base, first-winner-commit (ESTALE), abort, non-leaf rules, main's rules.
 */
#include "bfs_test.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct bfs_mount m;

static void setup(void)
{
	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_write_file(bfs_path((char[4096]){ 0 }, m.base, "a.txt"), "base\n"), 0);
	bfs_mount_start(&m, NULL);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

static char *branch_file(const char *branch, const char *name)
{
	static char p[4096];

	snprintf(p, sizeof(p), "%s/@%s/%s", m.mnt, branch, name);
	return p;
}

START_TEST(commit_lands_in_base_and_sibling_goes_stale)
{
	char ctl[4096], *s;

	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "create:one"), 0);
	ck_assert_int_eq(bfs_ctl(ctl, "create:two"), 0);
	ck_assert_int_eq(bfs_write_file(branch_file("one", "a.txt"), "one\n"), 0);
	ck_assert_int_eq(bfs_write_file(branch_file("two", "a.txt"), "two\n"), 0);

	ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "one")), 0);
	/* The base directory itself holds the winner's file. */
	s = bfs_read_file(bfs_path((char[4096]){ 0 }, m.base, "a.txt"));
	ck_assert_str_eq(s, "one\n");
	free(s);
	/* The loser cannot commit, and still reads its own snapshot. */
	ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "two")), -ESTALE);
	s = bfs_read_file(branch_file("two", "a.txt"));
	ck_assert_str_eq(s, "two\n");
	free(s);
	/* Aborting a stale branch succeeds and removes it. */
	ck_assert_int_eq(bfs_ioc_abort(ctl), 0);
	ck_assert(!bfs_exists(bfs_branch_dir(ctl, &m, "two")));
}
END_TEST

START_TEST(create_ioctl_returns_uuid_name)
{
	char ctl[4096], name[128], dir[4096];

	memset(name, 'x', sizeof(name));
	ck_assert_int_eq(bfs_ioc_create(bfs_ctl_path(ctl, &m, NULL), name), 0);
	ck_assert_int_eq(strlen(name), strlen("branch-") + 36);
	ck_assert(!strncmp(name, "branch-", 7));
	ck_assert(bfs_exists(bfs_branch_dir(dir, &m, name)));
}
END_TEST

START_TEST(main_cannot_be_committed_or_aborted)
{
	char ctl[4096];

	ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(ctl, &m, NULL)), -EPERM);
	ck_assert_int_eq(bfs_ioc_abort(ctl), -EPERM);
	ck_assert_int_eq(bfs_ctl(ctl, "commit"), -EPERM);
}
END_TEST

START_TEST(live_children_block_commit)
{
	char ctl[4096], pctl[4096];

	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "create:parent"), 0);
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(pctl, &m, "parent"), "create:child"), 0);
	ck_assert_int_eq(bfs_ioc_commit(pctl), -ENOTEMPTY);
	ck_assert_int_eq(bfs_ioc_abort(pctl), -ENOTEMPTY);
	ck_assert(bfs_exists(bfs_branch_dir(ctl, &m, "child")));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("branches");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, commit_lands_in_base_and_sibling_goes_stale);
	tcase_add_test(tc, create_ioctl_returns_uuid_name);
	tcase_add_test(tc, main_cannot_be_committed_or_aborted);
	tcase_add_test(tc, live_children_block_commit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	/* A run that executed nothing proves nothing. */
	if (srunner_ntests_run(sr) == 0)
		failed = 1;
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
