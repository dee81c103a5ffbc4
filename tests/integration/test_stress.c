/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stress-ng's file-system stressors on a real mount, each checking its own
 * results (--verify): renames, links (8,192 names of one file), dentries,
 * deep and wide directories, xattrs, locks of every kind, fallocate and
 * hole punching, mixed I/O and more, all at once, in branch b through the
 * mount root and through /@b/ at the same time, and in main while b is
 * live.  Every stressor must succeed and the mount must stay usable; what
 * they leave must not reach the base (a branch) or b's snapshot (main).
 * The link stressor found that a file's names cost O(names) each (node.c,
 * links.c, preserve.c): one bogo op took 64 s on main instead of 3.4 s.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <stdio.h>
#include <stdlib.h>

static struct bfs_mount m;
static char *base0;

/* The stressors stress-ng 0.15 (Debian 12) has in its file-system class
 * that need no privilege or feature FUSE lacks, one instance each. */
#define STRESSORS                                                                            \
	"--access 1 --chdir 1 --chmod 1 --chown 1 --copy-file 1 --dentry 1 --dir 1 "         \
	"--dirdeep 1 --dirmany 1 --dup 1 --fallocate 1 --fcntl 1 --fiemap 1 --file-ioctl 1 " \
	"--filename 1 --flock 1 --fpunch 1 --fsize 1 --fstat 1 --getdent 1 --hdd 1 --io 1 "  \
	"--iomix 1 --link 1 --locka 1 --lockf 1 --lockofd 1 --mknod 1 --open 1 --rename 1 "  \
	"--symlink 1 --sync-file 1 --touch 1 --utime 1 --xattr 1"

/* stress-ng in dir for secs, in the background of the shell; its status is
 * collected by the caller's `wait`. */
#define STRESS_IN(dir)                                                                     \
	"(cd '" dir "' && timeout -k 5 90 stress-ng " STRESSORS " --timeout %ds --verify " \
	"--temp-path . >'%s/stress-%s.log' 2>&1)"

static bool have_stress_ng(void)
{
	return bfs_have("stress", "stress-ng", "command -v stress-ng >/dev/null");
}

static void setup(void)
{
	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_sh(m.base, "set -e; mkdir -p dir/sub; echo a > dir/a; "
					"echo b > dir/sub/b; echo h > h1; ln h1 h2"),
			 0);
	base0 = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_assert_ptr_nonnull(base0);
	bfs_mount_start(&m, NULL);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	bfs_mount_guard(&m, 120);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
	free(base0);
}

/* Print what the logs of the runs say went wrong (a failed stressor, or
 * stress-ng's own trouble: exit status 7 is bogo-op counters it cannot
 * trust, 5 a stressor killed by a signal), and fail. */
static void ck_stress(int status, const char *which)
{
	if (status)
		bfs_sh(m.dir,
		       "grep -hiE 'fail|error|abort|untrust|killed|skipp|signal' %s | head -30 >&2",
		       which);
	ck_assert_msg(status == 0, "stress-ng failed (%s): exit status %d", which, status);
}

/* Through the mount root (switched to b) and /@b/ at once. */
START_TEST(every_stressor_through_both_views_of_a_branch)
{
	char ctl[4096], at[4096], p[4096];
	char *now;
	int ret;

	if (!have_stress_ng())
		return;
	ck_ret(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "switch:b"), 0);
	ret = bfs_sh(NULL,
		     STRESS_IN("%s") " & a=$!; " STRESS_IN(
			     "%s/@b") " & b=$!; "
				      "wait $a; ra=$?; wait $b; rb=$?; exit $((ra | rb))",
		     m.mnt, 3, m.dir, "root", m.mnt, 3, m.dir, "at");
	ck_stress(ret, "stress-root.log stress-at.log");
	/* Nothing reached the base; the branch shows what it was made from
	 * (stress-ng removes what it makes), and its commit changes nothing. */
	now = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_tree_eq(now, base0);
	free(now);
	ck_list_eq(m.mnt, BFS_DUMP_MOUNT, "dir h1 h2");
	ck_list_eq(bfs_branch_dir(at, &m, "b"), BFS_DUMP_NOCTL, "dir h1 h2");
	ck_file_eq(bfs_path(p, at, "h1"), "h\n");
	ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "b")), 0);
	now = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_tree_eq(now, base0);
	free(now);
}
END_TEST

/* Through main while b is live: b keeps its snapshot. */
START_TEST(every_stressor_in_main_while_a_branch_lives)
{
	char at[4096];
	char *snap, *now;
	int ret;

	if (!have_stress_ng())
		return;
	bfs_branch_dir(at, &m, "b");
	snap = bfs_tree_dump(at, BFS_DUMP_ALL | BFS_DUMP_NOCTL);
	ck_assert_ptr_nonnull(snap);
	ret = bfs_sh(NULL, STRESS_IN("%s") "", m.mnt, 4, m.dir, "main");
	ck_stress(ret, "stress-main.log");
	now = bfs_tree_dump(at, BFS_DUMP_ALL | BFS_DUMP_NOCTL);
	ck_tree_eq(now, snap);
	free(now);
	free(snap);
	/* main is the base. */
	snap = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	now = bfs_tree_dump(m.mnt, BFS_DUMP_ALL | BFS_DUMP_MOUNT);
	ck_tree_eq(now, snap);
	free(now);
	free(snap);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("stress-ng");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, every_stressor_through_both_views_of_a_branch);
	tcase_add_test(tc, every_stressor_in_main_while_a_branch_lives);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
