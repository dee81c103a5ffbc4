/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branch.c: the branch tree.  Name rules, generated names, abort (layers go
 * to the trash, the reclaimer empties it), O(1) creation, isolation between
 * siblings, staleness, the current branch, the root's attributes in a new
 * top.
 */
#include "core_test.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
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

#define MAIN (T.fs->main)

static int create(struct bfsd_branch *parent, const char *name, char *out)
{
	char buf[BFSD_NAME_MAX + 1];
	int ret;

	pthread_rwlock_wrlock(&T.fs->tree_lock);
	ret = bfsd_branch_create(T.fs, parent, name, out ? out : buf);
	pthread_rwlock_unlock(&T.fs->tree_lock);
	return ret;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(name_rules)
{
	static const char *const bad[] = { "", ".", "..", "a/b", "/a", "a/", "@x", "@" };
	char long_name[BFSD_NAME_MAX + 2], out[BFSD_NAME_MAX + 1];

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert_uint_eq(strlen(long_name), 256);
	ck_assert_int_eq(bfsd_branch_name_valid(long_name), -EINVAL);
	ck_assert_int_eq(create(MAIN, long_name, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(bfsd_branch_name_valid(bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(create(MAIN, bad[i], NULL) == -EINVAL, "created '%s'", bad[i]);
	}
	ck_assert_int_eq(create(MAIN, "main", NULL), -EINVAL);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 0);

	/* 255 bytes, '@' after the first byte, odd bytes: all fine. */
	long_name[BFSD_NAME_MAX] = '\0';
	ck_assert_int_eq(bfsd_branch_name_valid(long_name), 0);
	ck_assert_int_eq(create(MAIN, long_name, out), 0);
	ck_assert_str_eq(out, long_name);
	ck_assert_int_eq(create(MAIN, "a@b", NULL), 0);
	ck_assert_int_eq(create(MAIN, "with space\tand \xc3\xa9", NULL), 0);
	ck_assert_int_eq(create(MAIN, "main2", NULL), 0);
	ck_assert_ptr_nonnull(bfsd_branch_find(T.fs, "with space\tand \xc3\xa9"));
	ck_assert_int_eq(bfsd_branch_count(T.fs), 4);
}
END_TEST

START_TEST(duplicate_names)
{
	struct bfsd_branch *a, *p;

	a = ut_branch(&T, MAIN, "a");
	p = ut_branch(&T, MAIN, "p");
	ck_assert_int_eq(create(MAIN, "a", NULL), -EEXIST);
	/* Names are unique across the whole tree, not per parent. */
	ck_assert_int_eq(create(p, "a", NULL), -EEXIST);
	ck_assert_int_eq(create(a, "p", NULL), -EEXIST);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 2);
	/* A name is free again once its branch is gone. */
	ck_assert_int_eq(ut_abort(&T, a), 0);
	ck_assert_int_eq(create(p, "a", NULL), 0);
	ck_assert_ptr_eq(bfsd_branch_find(T.fs, "a")->parent, p);
}
END_TEST

static void check_uuid_name(const char *name)
{
	const char *u = name + 7;

	ck_assert_msg(strlen(name) == 7 + 36, "bad length: %s", name);
	ck_assert(!strncmp(name, "branch-", 7));
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_msg(u[i] == '-', "no dash at %d: %s", i, name);
		else
			ck_assert_msg(isxdigit((unsigned char)u[i]) &&
					      !isupper((unsigned char)u[i]),
				      "not lowercase hex at %d: %s", i, name);
	}
	ck_assert_msg(u[14] == '4', "not version 4: %s", name);
	ck_assert_msg(strchr("89ab", u[19]) != NULL, "not the RFC 4122 variant: %s", name);
}

START_TEST(generated_names)
{
	char a[BFSD_NAME_MAX + 1], b[BFSD_NAME_MAX + 1], c[BFSD_NAME_MAX + 1];

	ck_assert_int_eq(create(MAIN, NULL, a), 0);
	ck_assert_int_eq(create(MAIN, NULL, b), 0);
	ck_assert_int_eq(create(bfsd_branch_find(T.fs, a), NULL, c), 0);
	check_uuid_name(a);
	check_uuid_name(b);
	check_uuid_name(c);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_ptr_nonnull(bfsd_branch_find(T.fs, a));
	ck_assert_ptr_eq(bfsd_branch_find(T.fs, c)->parent, bfsd_branch_find(T.fs, a));
}
END_TEST

/* UUIDs come from a pool of random bytes: 100 in a row differ, and a forked
 * process (a test's crashed daemon, say) does not repeat its parent's. */
START_TEST(generated_names_do_not_repeat)
{
	char seen[100][37], mine[37], child[37] = "";
	int fds[2], status;
	pid_t pid;

	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(bfsd_uuid(seen[i]), 0);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	}
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(bfsd_uuid(mine) || write(fds[1], mine, sizeof(mine)) != sizeof(mine));
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], child, sizeof(child)), sizeof(child));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(bfsd_uuid(mine), 0);
	ck_assert_str_ne(mine, child);
}
END_TEST

START_TEST(abort_discards_the_branch_and_its_layers)
{
	char layers[PATH_MAX], trash[PATH_MAX], path[32];
	struct bfsd_branch *keep, *b;
	int before, during;
	double t0;

	snprintf(layers, sizeof(layers), "%s/layers", T.storage);
	snprintf(trash, sizeof(trash), "%s/trash", T.storage);
	ut_base_write(&T, "f", "base");
	keep = ut_branch(&T, MAIN, "keep");
	ck_assert_int_eq(ut_write(&T, keep, "k", "k"), 0);
	before = ut_count_entries(layers);

	b = ut_branch(&T, MAIN, "b");
	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		ck_assert_int_eq(ut_write(&T, b, path, path), 0);
	}
	ck_assert_int_eq(ut_write(&T, b, "f", "b"), 0);
	during = ut_count_entries(layers);
	ck_assert_int_gt(during, before + 2000);

	t0 = now_ms();
	ck_assert_int_eq(ut_abort(&T, b), 0);
	/* Quick whatever the branch's size: the layer is only moved away. */
	ck_assert_double_lt(now_ms() - t0, 100);
	ck_assert_ptr_null(bfsd_branch_find(T.fs, "b"));
	ck_assert_int_eq(ut_count_entries(layers), before);
	ck_assert_int_gt(ut_count_entries(trash), 2000);
	bfsd_store_reclaim(T.fs);
	ck_assert_int_eq(ut_count_entries(trash), 0);

	/* Parent and sibling are untouched. */
	UT_STR_EQ(ut_cat(&T, keep, "k"), "k");
	UT_STR_EQ(ut_cat(&T, keep, "f"), "base");
	UT_STR_EQ(ut_cat(&T, MAIN, "f"), "base");
	ck_assert(!ut_base_exists(&T, "f0"));
}
END_TEST

START_TEST(abort_rules)
{
	struct bfsd_branch *p, *c1, *c2, *ref;

	ck_assert_int_eq(ut_abort(&T, MAIN), -EPERM);
	p = ut_branch(&T, MAIN, "p");
	c1 = ut_branch(&T, p, "c1");
	c2 = ut_branch(&T, p, "c2");
	ck_assert_int_eq(ut_abort(&T, p), -ENOTEMPTY);
	ck_assert_int_eq(bfsd_branch_count(T.fs), 3);

	/* c1 commits into p: c2 is now stale and no longer blocks p. */
	ck_assert(!bfsd_branch_is_stale(c2));
	ck_assert_int_eq(ut_commit(&T, c1), 0);
	ck_assert(bfsd_branch_is_stale(c2));
	ref = bfsd_branch_get(p);
	ck_assert_int_eq(ut_abort(&T, p), 0);
	ck_assert_ptr_null(bfsd_branch_find(T.fs, "c2"));
	ck_assert_int_eq(bfsd_branch_count(T.fs), 0);

	/* A branch that is gone takes no children and no second abort. */
	ck_assert_int_eq(create(ref, "late", NULL), -ENOENT);
	ck_assert_int_eq(ut_abort(&T, ref), -ENOENT);
	bfsd_branch_put(ref);
}
END_TEST

START_TEST(creation_cost_does_not_grow_with_the_base)
{
	char path[PATH_MAX], layers[PATH_MAX];
	struct bfsd_branch *b;
	int before;
	double t0, dt;

	snprintf(layers, sizeof(layers), "%s/layers", T.storage);
	ck_assert_int_eq(ut_sh("cd '%s' && mkdir -p a b c && for i in $(seq 1 2500); do "
			       ": > a/$i; : > b/$i; : > c/$i; : > $i; done",
			       T.base),
			 0);
	ck_assert_int_ge(ut_count_entries(T.base), 10000);
	before = ut_count_entries(layers);
	t0 = now_ms();
	b = ut_branch(&T, MAIN, "b");
	dt = now_ms() - t0;
	ck_assert_msg(dt < 20, "creating a branch of a 10,000-file base took %.1f ms", dt);
	ck_assert_int_le(ut_count_entries(layers), before + 4);

	/* The same for a child of a branch with 10,000 changes of its own. */
	for (int i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "%c/n%d", 'a' + i % 3, i);
		ck_assert_int_eq(ut_write(&T, b, path, ""), 0);
	}
	before = ut_count_entries(layers);
	t0 = now_ms();
	ut_branch(&T, b, "c");
	dt = now_ms() - t0;
	ck_assert_msg(dt < 20, "creating a child of a 10,000-change branch took %.1f ms", dt);
	ck_assert_int_le(ut_count_entries(layers), before + 4);
}
END_TEST

START_TEST(siblings_and_parents_are_isolated)
{
	struct bfsd_branch *p, *a, *b;

	ut_base_write(&T, "f", "base");
	p = ut_branch(&T, MAIN, "p");
	a = ut_branch(&T, p, "a");
	b = ut_branch(&T, p, "b");
	ck_assert_int_eq(ut_write(&T, a, "f", "a"), 0);
	ck_assert_int_eq(ut_write(&T, a, "only-a", "a"), 0);
	ck_assert_int_eq(ut_write(&T, b, "f", "b"), 0);
	ck_assert_int_eq(ut_write(&T, p, "f", "p"), 0);
	UT_STR_EQ(ut_cat(&T, a, "f"), "a");
	UT_STR_EQ(ut_cat(&T, b, "f"), "b");
	UT_STR_EQ(ut_cat(&T, p, "f"), "p");
	UT_STR_EQ(ut_cat(&T, MAIN, "f"), "base");
	ck_assert(!ut_exists(&T, b, "only-a"));
	ck_assert(!ut_exists(&T, p, "only-a"));
	ck_assert_ptr_eq(a->parent, p);
	ck_assert_ptr_eq(p->parent, MAIN);
	ck_assert_ptr_eq(bfsd_branch_find_id(T.fs, b->id), b);
	ck_assert_ptr_eq(bfsd_branch_find(T.fs, "main"), MAIN);
}
END_TEST

static void collect(struct bfsd_branch *b, void *arg)
{
	strcat(arg, b->name);
	strcat(arg, " ");
}

START_TEST(tree_walk_and_current_branch)
{
	struct bfsd_branch *p, *c;
	char order[256] = "";

	p = ut_branch(&T, MAIN, "p");
	ut_branch(&T, MAIN, "q");
	c = ut_branch(&T, p, "c");
	ut_branch(&T, c, "gc");
	bfsd_branch_each(T.fs, collect, order);
	ck_assert_str_eq(order, "p c gc q ");

	ck_assert_ptr_eq(T.fs->current, MAIN);
	pthread_rwlock_wrlock(&T.fs->tree_lock);
	ck_assert_int_eq(bfsd_fs_switch(T.fs, c), 0);
	pthread_rwlock_unlock(&T.fs->tree_lock);
	ck_assert_ptr_eq(T.fs->current, c);
	/* Dropping the current branch moves the mount to its parent. */
	ck_assert_int_eq(ut_abort(&T, bfsd_branch_find(T.fs, "gc")), 0);
	ck_assert_int_eq(ut_abort(&T, c), 0);
	ck_assert_ptr_eq(T.fs->current, p);
	ck_assert_int_eq(ut_commit(&T, p), 0);
	ck_assert_ptr_eq(T.fs->current, MAIN);
}
END_TEST

static bool same_times(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec >= b->st_ctim.tv_sec;
}

/* The root as b shows it: mode, and the user xattr user.r ("-" if none). */
static void check_root(struct bfsd_branch *b, mode_t mode, const char *r, const struct stat *times)
{
	char val[16] = "-";
	struct stat st;

	ck_assert_int_eq(ut_stat(&T, b, "", &st), 0);
	ck_assert_msg((st.st_mode & 07777) == mode, "root of %s: mode %o, want %o", b->name,
		      (unsigned)(st.st_mode & 07777), (unsigned)mode);
	if (ut_getxattr(&T, b, "", "user.r", val, sizeof(val)) < 0)
		strcpy(val, "-");
	ck_assert_str_eq(val, r);
	if (times)
		ck_assert_msg(same_times(&st, times), "root of %s: mtime %ld.%09ld, want %ld.%09ld",
			      b->name, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			      (long)times->st_mtim.tv_sec, times->st_mtim.tv_nsec);
}

/*
 * A new branch's top takes the root's attributes only when the branch first
 * changes something (enum bfsd_layer_root): until then they come from the
 * layer below, as they were when the branch was made, across a parent's
 * later changes, a freeze of the parent's top and a remount.
 */
START_TEST(root_attributes_come_from_below_until_the_first_change)
{
	const struct timespec old[2] = { { 1000000000, 5 }, { 1000000000, 5 } };
	struct bfsd_branch *c, *g;
	struct stat base_root, c_root;

	ut_close(&T);
	ut_open(&T, true);
	ck_assert_int_eq(ut_chmod(&T, MAIN, "", 0751), 0);
	ck_assert_int_eq(ut_setxattr(&T, MAIN, "", "user.r", "1"), 0);
	ck_assert_int_eq(ut_utimens(&T, MAIN, "", old), 0);
	ck_assert_int_eq(ut_stat(&T, MAIN, "", &base_root), 0);

	c = ut_branch(&T, MAIN, "c");
	ck_assert(!bfsd_layer_rooted(c->layers[0]));
	check_root(c, 0751, "1", &base_root);
	/* main changes its root afterwards: c keeps what it saw. */
	ck_assert_int_eq(ut_chmod(&T, MAIN, "", 0700), 0);
	ck_assert_int_eq(ut_setxattr(&T, MAIN, "", "user.r", "2"), 0);
	ck_assert_int_eq(ut_write(&T, MAIN, "m", "main"), 0);
	check_root(c, 0751, "1", &base_root);

	/* c's first change gives its top the root's attributes. */
	ck_assert_int_eq(ut_write(&T, c, "f", "c"), 0);
	ck_assert(bfsd_layer_rooted(c->layers[0]));
	check_root(c, 0751, "1", NULL);
	ck_assert_int_eq(ut_stat(&T, c, "", &c_root), 0);
	ck_assert_int_gt(c_root.st_mtim.tv_sec, old[1].tv_sec);

	/* A child of c freezes c's top; both see c's root. */
	g = ut_branch(&T, c, "g");
	ck_assert(!bfsd_layer_rooted(c->layers[0]));
	ck_assert(!bfsd_layer_rooted(g->layers[0]));
	check_root(c, 0751, "1", &c_root);
	check_root(g, 0751, "1", &c_root);
	ck_assert_int_eq(ut_chmod(&T, c, "", 0705), 0);
	check_root(c, 0705, "1", NULL);
	check_root(g, 0751, "1", &c_root);

	/* From disk: the tops with and without the attributes. */
	ut_close(&T);
	ut_open(&T, true);
	c = bfsd_branch_find(T.fs, "c");
	g = bfsd_branch_find(T.fs, "g");
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	check_root(c, 0705, "1", NULL);
	check_root(g, 0751, "1", &c_root);
	check_root(MAIN, 0700, "2", NULL);
	ck_assert(!bfsd_layer_rooted(g->layers[0]));

	/* A commit of a branch that changed its root lands its root's
	 * attributes whole. */
	ck_assert_int_eq(ut_abort(&T, g), 0);
	ck_assert_int_eq(ut_commit(&T, c), 0);
	check_root(MAIN, 0705, "1", NULL);
	UT_STR_EQ(ut_cat(&T, MAIN, "f"), "c");
	UT_STR_EQ(ut_cat(&T, MAIN, "m"), "main");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("branch");
	TCase *tc = tcase_create("branch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, name_rules);
	tcase_add_test(tc, duplicate_names);
	tcase_add_test(tc, generated_names);
	tcase_add_test(tc, generated_names_do_not_repeat);
	tcase_add_test(tc, abort_discards_the_branch_and_its_layers);
	tcase_add_test(tc, abort_rules);
	tcase_add_test(tc, creation_cost_does_not_grow_with_the_base);
	tcase_add_test(tc, siblings_and_parents_are_isolated);
	tcase_add_test(tc, tree_walk_and_current_branch);
	tcase_add_test(tc, root_attributes_come_from_below_until_the_first_change);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
