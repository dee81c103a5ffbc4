/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Persistence on a real mount: after kill -9 of the daemon, a new daemon on
 * the same storage brings back every branch (names, trees, stale or not,
 * parents) and the base holds every commit; a clean unmount discards the
 * branches (and their storage) unless --keep.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static struct bfs_mount m;

static void setup(void)
{
	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_sh(m.base, "set -e; echo base > f.txt; mkdir -p dir/sub; "
					"echo a > dir/a; echo b > dir/sub/b; mkdir empty"),
			 0);
	bfs_mount_start(&m, NULL);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

static const char *at(const char *root, const char *rel)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, 4096, "%s/%s", root, rel);
	return p;
}

static const char *branch(const char *name)
{
	static char buf[4][4096];
	static int next;

	return bfs_branch_dir(buf[next++ % 4], &m, name);
}

static const char *ctl_of(const char *name)
{
	static char buf[4][4096];
	static int next;

	return bfs_ctl_path(buf[next++ % 4], &m, name);
}

static char *dump_of(const char *name)
{
	char *d = bfs_tree_dump(branch(name), BFS_DUMP_ALL | BFS_DUMP_NOCTL);

	ck_assert_msg(d != NULL, "dump of @%s: %s", name, strerror(errno));
	return d;
}

/* A tree of branches: s2 stale, one with a child nested, clean untouched. */
static void make_branches(void)
{
	ck_ret(bfs_branch_create(&m, NULL, "s1"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "s2"), 0);
	ck_ret(bfs_write_file(at(branch("s1"), "f.txt"), "from s1\n"), 0);
	ck_ret(bfs_write_file(at(branch("s2"), "f.txt"), "from s2\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("s1")), 0);
	ck_ret(bfs_branch_create(&m, NULL, "one"), 0);
	ck_ret(bfs_write_file(at(branch("one"), "new"), "one's\n"), 0);
	ck_sys(unlink(at(branch("one"), "dir/a")));
	ck_sys(rename(at(branch("one"), "dir/sub"), at(branch("one"), "moved")));
	ck_sys(mkdir(at(branch("one"), "nd"), 0700));
	ck_sys(symlink("new", at(branch("one"), "link")));
	ck_sys(chmod(at(branch("one"), "f.txt"), 0600));
	ck_sys(setxattr(at(branch("one"), "empty"), "user.k", "v", 1, 0));
	ck_ret(bfs_branch_create(&m, "one", "nested"), 0);
	ck_ret(bfs_write_file(at(branch("nested"), "moved/b"), "nested b\n"), 0);
	ck_ret(bfs_write_file(at(branch("nested"), "n.txt"), "nested\n"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "clean"), 0);
}

static const char *const names[] = { "one", "nested", "s2", "clean" };
#define NNAMES (sizeof(names) / sizeof(names[0]))

START_TEST(crash_keeps_every_branch)
{
	char *before[NNAMES], *base, *now;

	make_branches();
	for (size_t i = 0; i < NNAMES; i++)
		before[i] = dump_of(names[i]);
	base = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	/* _i + 1 crashes in a row. */
	for (int i = 0; i <= _i; i++) {
		bfs_mount_crash(&m);
		bfs_mount_start(&m, NULL);
	}
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "@clean @nested @one @s2 dir empty f.txt");
	for (size_t i = 0; i < NNAMES; i++) {
		now = dump_of(names[i]);
		ck_tree_eq(now, before[i]);
		free(now);
		free(before[i]);
	}
	now = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_tree_eq(now, base);
	free(now);
	free(base);
	ck_file_eq(at(m.base, "f.txt"), "from s1\n");
	/* Stale stays stale; the parent still has its live child. */
	ck_ret(bfs_ioc_commit(ctl_of("s2")), -ESTALE);
	ck_ret(bfs_ioc_abort(ctl_of("s2")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("one")), -ENOTEMPTY);
	ck_ret(bfs_ioc_commit(ctl_of("nested")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("one")), 0);
	ck_file_eq(at(m.base, "moved/b"), "nested b\n");
	ck_file_eq(at(m.base, "n.txt"), "nested\n");
	ck_file_eq(at(m.base, "new"), "one's\n");
	ck_absent(at(m.base, "dir/a"));
	/* clean is now stale, as one's commit moved main on. */
	ck_ret(bfs_ioc_commit(ctl_of("clean")), -ESTALE);
}
END_TEST

START_TEST(crash_right_after_commit)
{
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "sibling"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "committed\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	bfs_mount_crash(&m);
	ck_file_eq(at(m.base, "f.txt"), "committed\n");
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(m.base, "f.txt"), "committed\n");
	ck_file_eq(at(m.mnt, "f.txt"), "committed\n");
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "@sibling dir empty f.txt");
	ck_absent(branch("b"));
	ck_file_eq(at(branch("sibling"), "f.txt"), "base\n");
	ck_ret(bfs_ioc_commit(ctl_of("sibling")), -ESTALE);
}
END_TEST

START_TEST(crash_keeps_current_branch)
{
	char *cur;

	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "b's\n"), 0);
	ck_ret(bfs_ctl(ctl_of(NULL), "switch:b"), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	cur = bfs_ctl_read(ctl_of(NULL));
	ck_assert_str_eq(cur, "b");
	free(cur);
	ck_file_eq(at(m.mnt, "f.txt"), "b's\n");
}
END_TEST

START_TEST(crash_then_new_branches)
{
	char name[128];

	ck_ret(bfs_branch_create(&m, NULL, "old"), 0);
	ck_ret(bfs_ioc_create(ctl_of(NULL), name), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_assert(bfs_exists(branch(name)));
	ck_ret(bfs_branch_create(&m, NULL, "old"), -EEXIST);
	ck_ret(bfs_branch_create(&m, NULL, "new"), 0);
	ck_ret(bfs_write_file(at(branch("new"), "f.txt"), "new\n"), 0);
	ck_file_eq(at(branch("old"), "f.txt"), "base\n");
	ck_file_eq(at(branch(name), "f.txt"), "base\n");
	ck_ret(bfs_ioc_commit(ctl_of("new")), 0);
	ck_file_eq(at(m.base, "f.txt"), "new\n");
	ck_ret(bfs_ioc_commit(ctl_of("old")), -ESTALE);
}
END_TEST

/*
 * Creating a child freezes the parent's top and gives the parent a new one:
 * the parent's writes after that, and a second child's freeze, come back
 * after kill -9 in the parent and nowhere else.
 */
START_TEST(crash_keeps_parent_writes_after_nested_create)
{
	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	ck_ret(bfs_write_file(at(branch("p"), "a"), "a1\n"), 0);
	ck_ret(bfs_branch_create(&m, "p", "c1"), 0);
	ck_ret(bfs_write_file(at(branch("p"), "a"), "a2\n"), 0);
	ck_ret(bfs_write_file(at(branch("p"), "late"), "late\n"), 0);
	ck_sys(unlink(at(branch("p"), "dir/a")));
	ck_ret(bfs_write_file(at(branch("c1"), "c"), "c1's\n"), 0);
	ck_ret(bfs_branch_create(&m, "p", "c2"), 0);
	ck_ret(bfs_write_file(at(branch("p"), "later"), "later\n"), 0);
	ck_ret(bfs_branch_create(&m, "c1", "g"), 0);
	ck_ret(bfs_write_file(at(branch("c1"), "c"), "c1's again\n"), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(branch("p"), "a"), "a2\n");
	ck_file_eq(at(branch("p"), "late"), "late\n");
	ck_file_eq(at(branch("p"), "later"), "later\n");
	ck_absent(at(branch("p"), "dir/a"));
	ck_file_eq(at(branch("c1"), "a"), "a1\n");
	ck_absent(at(branch("c1"), "late"));
	ck_file_eq(at(branch("c1"), "c"), "c1's again\n");
	ck_file_eq(at(branch("c1"), "dir/a"), "a\n");
	ck_file_eq(at(branch("c2"), "a"), "a2\n");
	ck_file_eq(at(branch("c2"), "late"), "late\n");
	ck_absent(at(branch("c2"), "later"));
	ck_file_eq(at(branch("g"), "c"), "c1's\n");
	/* And they still commit level by level into the base. */
	ck_ret(bfs_ioc_abort(ctl_of("g")), 0);
	ck_ret(bfs_ioc_abort(ctl_of("c2")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c1")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("p")), 0);
	ck_file_eq(at(m.base, "c"), "c1's again\n");
	ck_file_eq(at(m.base, "later"), "later\n");
	ck_file_eq(at(m.base, "a"), "a2\n"); /* c1 never touched a */
	ck_absent(at(m.base, "dir/a"));
}
END_TEST

/* The last branch goes (commit or abort) and main's preservation layers
 * with it; a crash right after must not leave a storage that cannot be
 * mounted. */
START_TEST(crash_after_the_last_branch_goes)
{
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "b's\n"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "dir/a"), "main's\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(m.mnt, "f.txt"), "b's\n");
	ck_file_eq(at(m.mnt, "dir/a"), "main's\n");
	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "dir/a"), "main's again\n"), 0);
	ck_file_eq(at(branch("c"), "dir/a"), "main's\n");
	ck_ret(bfs_ioc_abort(ctl_of("c")), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(m.mnt, "dir/a"), "main's again\n");
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "dir empty f.txt");
}
END_TEST

/*
 * With --durable a commit syncs what it moved before its record: with the
 * base on another filesystem than the storage (objects are copied, not
 * renamed) the commit lands whole, and survives a crash.  (A power loss
 * cannot be tested here; this runs the durable path end to end.)
 */
START_TEST(durable_commit_into_a_base_on_another_filesystem)
{
	static const char *const durable[] = { "--durable", NULL };

	bfs_mount_stop(&m);
	ck_sys(mount("tmpfs", m.base, "tmpfs", 0, "size=16m,mode=0755"));
	ck_assert_int_eq(bfs_sh(m.base, "echo base > f.txt; mkdir dir; echo a > dir/a"), 0);
	bfs_mount_start(&m, durable);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "sibling"), 0);
	ck_assert_int_eq(bfs_sh(branch("b"), "set -e; echo b > f.txt; rm dir/a; mkdir new; "
					     "seq 1 100000 > new/big; ln -s f.txt link"),
			 0);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	bfs_mount_crash(&m);
	ck_file_eq(at(m.base, "f.txt"), "b\n");
	ck_absent(at(m.base, "dir/a"));
	ck_assert_int_eq(bfs_sh(m.base, "seq 1 100000 | cmp -s - new/big && test -L link"), 0);
	bfs_mount_start(&m, durable);
	ck_absent(branch("b"));
	ck_ret(bfs_ioc_commit(ctl_of("sibling")), -ESTALE);
	ck_file_eq(at(branch("sibling"), "f.txt"), "base\n");
	bfs_mount_stop(&m);
	ck_sys(umount2(m.base, MNT_DETACH));
	bfs_mount_start(&m, NULL);
}
END_TEST

/* Storage in use, in KiB. */
static long long usage_kib(void)
{
	char out[4096], *s;
	long long kib;

	bfs_path(out, m.dir, "du.out");
	ck_assert_int_eq(bfs_sh(NULL, "du -sk '%s' | cut -f1 > '%s'", m.storage, out), 0);
	s = bfs_read_file(out);
	ck_assert_ptr_nonnull(s);
	kib = atoll(s);
	free(s);
	return kib;
}

START_TEST(clean_unmount_discards_branches)
{
	char *base;
	long long idle = usage_kib();

	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_branch_create(&m, "b", "child"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "uncommitted\n"), 0);
	ck_assert_int_eq(bfs_sh(branch("child"), "head -c 8388608 /dev/zero > big"), 0);
	ck_ret(bfs_write_file(at(branch("c"), "c.txt"), "committed\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	base = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_assert_msg(bfs_mount_stop(&m), "no clean exit (a killed daemon keeps its branches)");
	bfs_mount_start(&m, NULL);
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "c.txt dir empty f.txt");
	ck_absent(branch("b"));
	ck_absent(branch("child"));
	ck_assert_int_ne(bfs_ctl(ctl_of(NULL), "switch:b"), 0);
	{
		char *now = bfs_tree_dump(m.base, BFS_DUMP_ALL);

		ck_tree_eq(now, base);
		free(now);
	}
	ck_file_eq(at(m.base, "f.txt"), "base\n");
	ck_file_eq(at(m.base, "c.txt"), "committed\n");
	/* The discarded branches' space comes back. */
	for (int i = 0; i < 100 && usage_kib() - idle >= 1024; i++)
		usleep(50000);
	ck_assert_int_lt(usage_kib() - idle, 1024);
	/* The names are free again. */
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_file_eq(at(branch("b"), "f.txt"), "base\n");
	free(base);
}
END_TEST

START_TEST(keep_survives_clean_unmount)
{
	static const char *const keep[] = { "--keep", NULL };

	bfs_mount_stop(&m);
	bfs_mount_start(&m, keep);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_branch_create(&m, "b", "child"), 0);
	ck_ret(bfs_write_file(at(branch("child"), "f.txt"), "kept\n"), 0);
	ck_assert_msg(bfs_mount_stop(&m), "no clean exit (a killed daemon keeps its branches)");
	bfs_mount_start(&m, NULL);
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "@b @child dir empty f.txt");
	ck_file_eq(at(branch("child"), "f.txt"), "kept\n");
	ck_ret(bfs_ioc_commit(ctl_of("child")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	ck_file_eq(at(m.base, "f.txt"), "kept\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("persistence");
	TCase *tc = tcase_create("restart");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, crash_keeps_every_branch, 0, 2);
	tcase_add_test(tc, crash_right_after_commit);
	tcase_add_test(tc, crash_keeps_current_branch);
	tcase_add_test(tc, crash_then_new_branches);
	tcase_add_test(tc, crash_keeps_parent_writes_after_nested_create);
	tcase_add_test(tc, crash_after_the_last_branch_goes);
	tcase_add_test(tc, durable_commit_into_a_base_on_another_filesystem);
	tcase_add_test(tc, clean_unmount_discards_branches);
	tcase_add_test(tc, keep_survives_clean_unmount);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
