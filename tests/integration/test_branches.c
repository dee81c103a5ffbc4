/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Branch lifecycle on a real mount: create, isolation, commit into the
 * base, first-winner-commit (ESTALE), abort, non-leaf rules, main's rules.
 */
#include "bfs_test.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
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

/* "branch-" and a canonical lowercase UUID: 8-4-4-4-12 lowercase hex
 * digits, version 4, variant 10xx. */
static bool uuid_name(const char *name)
{
	const char *u = name + 7;

	if (strncmp(name, "branch-", 7) || strlen(u) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
			return false;
	}
	return u[14] == '4' && strchr("89ab", u[19]);
}

START_TEST(create_ioctl_returns_uuid_name)
{
	char ctl[4096], name[128], other[128], dir[4096], *list;
	char at_name[160];

	memset(name, 'x', sizeof(name));
	ck_assert_int_eq(bfs_ioc_create(bfs_ctl_path(ctl, &m, NULL), name), 0);
	ck_assert_msg(uuid_name(name), "not branch-<uuid>: %.128s", name);
	/* The rest of the 128-byte buffer is zeroed. */
	for (size_t i = strlen(name); i < sizeof(name); i++)
		ck_assert_int_eq(name[i], 0);
	ck_assert(bfs_exists(bfs_branch_dir(dir, &m, name)));
	/* Listed at the root, and a second one gets another name. */
	ck_assert_int_eq(bfs_ioc_create(ctl, other), 0);
	ck_assert_msg(uuid_name(other), "not branch-<uuid>: %.128s", other);
	ck_assert_str_ne(name, other);
	list = bfs_list_dir(m.mnt, 0);
	snprintf(at_name, sizeof(at_name), "@%s", name);
	ck_assert_msg(list && strstr(list, at_name), "%s not listed: %s", at_name, list);
	free(list);
	/* A child of a branch gets one too, and is flat at the root. */
	ck_assert_int_eq(bfs_ioc_create(bfs_ctl_path(ctl, &m, name), other), 0);
	ck_assert_msg(uuid_name(other), "not branch-<uuid>: %.128s", other);
	ck_assert(bfs_exists(bfs_branch_dir(dir, &m, other)));
}
END_TEST

/*
 * The longest name a user may give (255 bytes) works everywhere: /@NAME is
 * 256 bytes, past NAME_MAX, which FUSE accepts (its own limit is 1024).
 */
START_TEST(longest_name_works)
{
	char name[257], cmd[300], ctl[4096], dir[4096], p[4096], *s;

	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(cmd, sizeof(cmd), "create:%s", name);
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), cmd), -EINVAL);
	name[255] = '\0';
	snprintf(cmd, sizeof(cmd), "create:%s", name);
	ck_assert_int_eq(bfs_ctl(ctl, cmd), 0);
	ck_assert_int_eq(bfs_ctl(ctl, cmd), -EEXIST);
	s = bfs_list_dir(m.mnt, 0);
	snprintf(cmd, sizeof(cmd), "@%s", name);
	ck_assert_msg(s && strstr(s, cmd), "@NAME not listed: %.80s", s);
	free(s);
	bfs_branch_dir(dir, &m, name);
	s = bfs_read_file(bfs_path(p, dir, "a.txt"));
	ck_assert_str_eq(s, "base\n");
	free(s);
	ck_assert_int_eq(bfs_write_file(bfs_path(p, dir, "long.txt"), "long\n"), 0);
	/* Its control file, a child of it, and the root switched to it. */
	s = bfs_ctl_read(bfs_ctl_path(ctl, &m, name));
	ck_assert_str_eq(s, name);
	free(s);
	ck_assert_int_eq(bfs_ctl(ctl, "create:kid"), 0);
	ck_assert_int_eq(bfs_write_file(branch_file("kid", "kid.txt"), "kid\n"), 0);
	ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(p, &m, "kid")), 0);
	snprintf(cmd, sizeof(cmd), "switch:%s", name);
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), cmd), 0);
	s = bfs_ctl_read(ctl);
	ck_assert_str_eq(s, name);
	free(s);
	s = bfs_read_file(bfs_path(p, m.mnt, "kid.txt"));
	ck_assert_str_eq(s, "kid\n");
	free(s);
	/* Committed through the root: the base has both files. */
	ck_assert_int_eq(bfs_ioc_commit(ctl), 0);
	s = bfs_ctl_read(ctl);
	ck_assert_str_eq(s, "main");
	free(s);
	s = bfs_read_file(bfs_path(p, m.base, "long.txt"));
	ck_assert_str_eq(s, "long\n");
	free(s);
	s = bfs_read_file(bfs_path(p, m.base, "kid.txt"));
	ck_assert_str_eq(s, "kid\n");
	free(s);
	ck_assert(!bfs_exists(dir));
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
	tcase_add_test(tc, longest_name_works);
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
