/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scale on a real mount: a thousand live branches, nesting 64 deep, aborts
 * of big branches, 12,000 pairs of hard links, and a tree 400 levels deep.
 *
 * 1,000 branches are created through the ioctl, listed at the root, written
 * to (each sees only its own writes), held open all at once, kept across a
 * kill -9, one committed (the rest go stale) and all aborted.  A chain of 64
 * nested branches, each writing its own file, changing a shared one and
 * deleting a base file, is read from the deepest level, kept across a
 * kill -9, and committed level by level into the base.  Abort of a branch of
 * thousands of files and tens of megabytes returns at once and the space
 * comes back in the background, also after a kill -9 right after the abort
 * (a kill in the middle of reclaiming is test_crash.c: crash_during_reclaim).
 *
 * Times are printed and asserted loosely (several times what 2 cores need).
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <branchfs/ioctl.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NBRANCH 1000
#define DEPTH	64

static struct bfs_mount m;

static const char *at(const char *root, const char *rel)
{
	static char buf[16][4096];
	static int next;
	char *p = buf[next++ % 16];

	snprintf(p, 4096, "%s/%s", root, rel);
	return p;
}

static const char *br(const char *b)
{
	static char buf[8][4096];
	static int next;

	return bfs_branch_dir(buf[next++ % 8], &m, b);
}

static const char *ctl(const char *b)
{
	static char buf[4][4096];
	static int next;

	return bfs_ctl_path(buf[next++ % 4], &m, b);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *what, double t0, int n)
{
	double s = now() - t0;

	fprintf(stderr, "scale: %-40s %8.3f s", what, s);
	if (n > 1)
		fprintf(stderr, "  (%.1f us each)", s / n * 1e6);
	fprintf(stderr, "\n");
}

static void setup(void)
{
	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_sh(m.base, "set -e; echo base > f.txt; mkdir -p src/lib; "
					"for i in $(seq 0 63); do echo $i > src/lib/del$i; done; "
					"echo chain > chain.txt"),
			 0);
	bfs_mount_start(&m, NULL);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

/* How many entries of dir start with '@'. */
static int count_at(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		n += de->d_name[0] == '@';
	closedir(d);
	return n;
}

static char (*names)[BRANCHFS_NAME_BUF];

START_TEST(a_thousand_live_branches)
{
	static int fds[NBRANCH];
	char text[64];
	double t0;
	int fd, stale = 0;

	names = calloc(NBRANCH, sizeof(*names));
	ck_assert(names != NULL);
	/* Create through one descriptor of the root ctl, as a tool would. */
	t0 = now();
	fd = open(ctl(NULL), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < NBRANCH; i++)
		ck_assert_msg(ioctl(fd, FS_IOC_BRANCH_CREATE, names[i]) == 0,
			      "creating branch %d of %d: %s", i + 1, NBRANCH, strerror(errno));
	close(fd);
	report("create 1000 branches (ioctl)", t0, NBRANCH);
	ck_assert_msg(now() - t0 < 30, "1000 creations took %.1f s", now() - t0);
	t0 = now();
	ck_assert_int_eq(count_at(m.mnt), NBRANCH);
	report("list the root", t0, 1);
	/* Every tenth branch writes its own file and sees only its own. */
	t0 = now();
	for (int i = 0; i < NBRANCH; i += 10) {
		snprintf(text, sizeof(text), "%d\n", i);
		ck_ret(bfs_write_file(at(br(names[i]), "own.txt"), text), 0);
		ck_ret(bfs_write_file(at(br(names[i]), "f.txt"), text), 0);
	}
	for (int i = 0; i < NBRANCH; i += 10) {
		snprintf(text, sizeof(text), "%d\n", i);
		ck_file_eq(at(br(names[i]), "own.txt"), text);
		ck_file_eq(at(br(names[i + 5]), "f.txt"), "base\n");
		ck_absent(at(br(names[i + 5]), "own.txt"));
	}
	report("write and check 100 branches", t0, 100);
	/* A file open in every branch at once. */
	t0 = now();
	for (int i = 0; i < NBRANCH; i++) {
		fds[i] = open(at(br(names[i]), "f.txt"), O_RDONLY);
		ck_assert_msg(fds[i] >= 0, "open in branch %d: %s", i, strerror(errno));
	}
	for (int i = 0; i < NBRANCH; i++) {
		char buf[16] = { 0 };

		ck_assert_int_gt(pread(fds[i], buf, sizeof(buf) - 1, 0), 0);
		ck_assert(i % 10 == 0 ? atoi(buf) == i : !strcmp(buf, "base\n"));
		close(fds[i]);
	}
	report("open 1000 files at once", t0, NBRANCH);
	/* All of them survive a kill -9. */
	t0 = now();
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	report("kill -9 and remount with 1000 branches", t0, 1);
	ck_assert_int_eq(count_at(m.mnt), NBRANCH);
	ck_file_eq(at(br(names[990]), "own.txt"), "990\n");
	/* One commits; the other 999 are stale. */
	t0 = now();
	ck_ret(bfs_ioc_commit(ctl(names[500])), 0);
	report("commit one of 1000", t0, 1);
	ck_file_eq(at(m.base, "own.txt"), "500\n");
	ck_file_eq(at(m.base, "f.txt"), "500\n");
	ck_file_eq(at(br(names[510]), "own.txt"), "510\n");
	ck_file_eq(at(br(names[1]), "f.txt"), "base\n");
	for (int i = 0; i < NBRANCH; i += 97)
		if (i != 500) {
			ck_ret(bfs_ioc_commit(ctl(names[i])), -ESTALE);
			stale++;
		}
	ck_assert_int_gt(stale, 5);
	t0 = now();
	for (int i = 0; i < NBRANCH; i++)
		if (i != 500)
			ck_ret(bfs_ioc_abort(ctl(names[i])), 0);
	report("abort 999 branches", t0, NBRANCH - 1);
	ck_assert_msg(now() - t0 < 30, "999 aborts took %.1f s", now() - t0);
	ck_assert_int_eq(count_at(m.mnt), 0);
	ck_file_eq(at(m.mnt, "own.txt"), "500\n");
	free(names);
}
END_TEST

/* ---- deep nesting ---- */

static void level_name(char *out, int i)
{
	snprintf(out, 16, "l%02d", i);
}

/* What level i wrote before creating level i+1. */
static void write_level(const char *dir, int i)
{
	char rel[64], text[64];

	snprintf(rel, sizeof(rel), "level%02d", i);
	snprintf(text, sizeof(text), "level %d\n", i);
	ck_ret(bfs_write_file(at(dir, rel), text), 0);
	snprintf(text, sizeof(text), "%d\n", i);
	ck_assert_int_eq(bfs_sh(dir, "echo %d >> chain.txt && rm %s/lib/del%d", i,
				i > 32 ? "src32" : "src", i),
			 0);
	if (i % 8 == 0) {
		snprintf(rel, sizeof(rel), "dir%02d/sub", i);
		ck_assert_int_eq(bfs_mkdirs(at(dir, rel)), 0);
		snprintf(rel, sizeof(rel), "dir%02d/sub/deep", i);
		ck_ret(bfs_write_file(at(dir, rel), text), 0);
	}
	if (i == 32)
		ck_assert_int_eq(bfs_sh(dir, "mv src src32"), 0);
}

/* The tree every level from 0 to last wrote, as seen in dir, with late.txt
 * holding late (NULL: absent). */
static void ck_levels(const char *dir, int last, const char *late)
{
	char rel[64], text[64], expect[1024] = "chain\n";
	const char *src = last >= 32 ? "src32" : "src";

	for (int i = 0; i <= last; i++) {
		snprintf(rel, sizeof(rel), "level%02d", i);
		snprintf(text, sizeof(text), "level %d\n", i);
		ck_file_eq(at(dir, rel), text);
		snprintf(text, sizeof(text), "%d\n", i);
		strcat(expect, text);
		snprintf(rel, sizeof(rel), "%s/lib/del%d", src, i);
		ck_absent(at(dir, rel));
		if (i % 8 == 0) {
			snprintf(rel, sizeof(rel), "dir%02d/sub/deep", i);
			ck_file_eq(at(dir, rel), text);
		}
	}
	ck_file_eq(at(dir, "chain.txt"), expect);
	ck_file_eq(at(dir, "f.txt"), "base\n");
	for (int i = last + 1; i < DEPTH; i++) {
		snprintf(rel, sizeof(rel), "%s/lib/del%d", src, i);
		snprintf(text, sizeof(text), "%d\n", i);
		ck_file_eq(at(dir, rel), text);
		snprintf(rel, sizeof(rel), "level%02d", i);
		ck_absent(at(dir, rel));
	}
	if (late)
		ck_file_eq(at(dir, "late.txt"), late);
	else
		ck_absent(at(dir, "late.txt"));
}

START_TEST(nesting_64_deep)
{
	char name[16], parent[16], late[64];
	double t0 = now();

	for (int i = 0; i < DEPTH; i++) {
		level_name(name, i);
		if (i == 0)
			ck_ret(bfs_branch_create(&m, NULL, name), 0);
		else
			ck_ret(bfs_branch_create(&m, parent, name), 0);
		write_level(br(name), i);
		/* Writes a parent makes after its child exists stay its own. */
		if (i > 0) {
			snprintf(late, sizeof(late), "late from %s\n", parent);
			ck_ret(bfs_write_file(at(br(parent), "late.txt"), late), 0);
		}
		memcpy(parent, name, sizeof(name));
	}
	report("create and write 64 nested levels", t0, DEPTH);
	t0 = now();
	ck_levels(br("l63"), DEPTH - 1, NULL);
	report("read every level from the deepest", t0, 1);
	ck_levels(br("l31"), 31, "late from l31\n");
	/* Kept across a kill -9. */
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_levels(br("l63"), DEPTH - 1, NULL);
	/* Commit all the way up: each parent then holds its child's work. */
	t0 = now();
	for (int i = DEPTH - 1; i >= 0; i--) {
		level_name(name, i);
		ck_ret(bfs_ioc_commit(ctl(name)), 0);
		ck_absent(br(name));
		if (i > 0) {
			level_name(parent, i - 1);
			snprintf(late, sizeof(late), "level%02d", i);
			ck_assert_msg(bfs_exists(at(br(parent), late)) &&
					      bfs_exists(at(br(parent), "level63")),
				      "%s lacks the work of %s", parent, name);
		}
	}
	report("commit 64 levels up, one by one", t0, DEPTH);
	ck_assert_msg(now() - t0 < 30, "64 commits took %.1f s", now() - t0);
	/* The base has every level's work; of the parents' late writes, the
	 * deepest writer's (l62, as l63 wrote none) won on the way up. */
	ck_levels(m.base, DEPTH - 1, "late from l62\n");
	ck_levels(m.mnt, DEPTH - 1, "late from l62\n");
	ck_assert_int_eq(count_at(m.mnt), 0);
}
END_TEST

/* ---- abort of big branches ---- */

/* Disk blocks under dir (bytes), each inode once. */
static long long disk_use(const char *dir)
{
	char cmd[8192], *out;
	long long kb = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sk '%s'", dir);
	p = popen(cmd, "r");
	ck_assert(p != NULL);
	out = fgets(cmd, sizeof(cmd), p);
	if (out)
		kb = atoll(out);
	pclose(p);
	return kb * 1024;
}

/* Wait up to seconds for the storage to come back to at most limit bytes. */
static bool storage_shrinks_to(long long limit, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (disk_use(m.storage) <= limit)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

static void make_big_branch(const char *name)
{
	ck_ret(bfs_branch_create(&m, NULL, name), 0);
	ck_assert_int_eq(bfs_sh(br(name),
				"set -e; for d in $(seq 1 20); do mkdir d$d; "
				"for f in $(seq 1 100); do echo $d$f > d$d/f$f; done; done; "
				"head -c 32M /dev/zero > big"),
			 0);
}

START_TEST(abort_returns_at_once_and_space_comes_back)
{
	long long empty = disk_use(m.storage), full;
	double t0, took;

	make_big_branch("big");
	full = disk_use(m.storage);
	ck_assert_msg(full > empty + 30 * 1024 * 1024, "the branch holds %lld bytes", full - empty);
	t0 = now();
	ck_ret(bfs_ioc_abort(ctl("big")), 0);
	took = now() - t0;
	report("abort a branch of 2000 files + 32 MiB", t0, 1);
	ck_assert_msg(took < 1.0, "abort took %.3f s", took);
	ck_absent(br("big"));
	ck_assert_msg(storage_shrinks_to(empty + 1024 * 1024, 20),
		      "storage still holds %lld bytes 20 s after the abort",
		      disk_use(m.storage) - empty);
	/* A crash right after the abort (the reclaimer may or may not have
	 * started): the next mount finishes the work. */
	make_big_branch("big2");
	ck_ret(bfs_ioc_abort(ctl("big2")), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_absent(br("big2"));
	ck_assert_msg(storage_shrinks_to(empty + 1024 * 1024, 20),
		      "storage still holds %lld bytes 20 s after a crash after the abort",
		      disk_use(m.storage) - empty);
	ck_file_eq(at(m.mnt, "f.txt"), "base\n");
}
END_TEST

/* ---- many hard links ---- */

#define NPAIR 12000

/* The two names of pair i, relative to a view or the base. */
static const char *pair_name(char side, int i)
{
	static char buf[8][64];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, 64, "%c/d%03d/f%05d", side, i / 100, i);
	return p;
}

/* The name of sample pair i written through, and its other name: half of
 * the samples each way, whichever names the link map met first. */
#define W(i) ((i) / 101 % 2 ? 'b' : 'a')
#define O(i) ((i) / 101 % 2 ? 'a' : 'b')

static const char *pair_text(int i, const char *what)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s %d\n", what, i);
	return buf;
}

/*
 * 12,000 pairs of hard links in the base (a package store's layout): every
 * name stat'ed through a branch is one inode with its pair, a write through
 * one name of a pair shows through the other (also in the kernel's cache
 * of the other name, which is the same kernel inode), and main's in-place
 * writes leave the branch's snapshot of both names alone.  The tables that
 * find a pair (the daemon's link map and its table of linked kernel nodes)
 * start at 1,024 slots and grow several times here.
 */
START_TEST(twelve_thousand_hard_link_pairs)
{
	char dir[4096];
	ino_t *ino;
	double t0;

	bfs_mount_stop(&m);
	for (int i = 0; i < NPAIR; i++) {
		if (i % 100 == 0) {
			snprintf(dir, sizeof(dir), "%s/%s", m.base, pair_name('a', i));
			*strrchr(dir, '/') = 0;
			ck_assert_int_eq(bfs_mkdirs(dir), 0);
			snprintf(dir, sizeof(dir), "%s/%s", m.base, pair_name('b', i));
			*strrchr(dir, '/') = 0;
			ck_assert_int_eq(bfs_mkdirs(dir), 0);
		}
		ck_ret(bfs_write_file(at(m.base, pair_name('a', i)), pair_text(i, "base")), 0);
		ck_sys(link(at(m.base, pair_name('a', i)), at(m.base, pair_name('b', i))));
	}
	bfs_mount_start(&m, NULL);
	ck_ret(bfs_branch_create(&m, NULL, "hl"), 0);
	/* All the a names first: the tables grow before any b name joins. */
	ino = calloc(NPAIR, sizeof(*ino));
	ck_assert(ino != NULL);
	t0 = now();
	for (int i = 0; i < NPAIR; i++) {
		struct stat a;

		ck_sys(lstat(at(br("hl"), pair_name('a', i)), &a));
		ck_assert_int_eq(a.st_nlink, 2);
		ino[i] = a.st_ino;
	}
	for (int i = 0; i < NPAIR; i++) {
		struct stat b;

		ck_sys(lstat(at(br("hl"), pair_name('b', i)), &b));
		ck_assert_msg(b.st_ino == ino[i] && b.st_nlink == 2,
			      "pair %d: inodes %llu and %llu, %d links", i,
			      (unsigned long long)ino[i], (unsigned long long)b.st_ino,
			      (int)b.st_nlink);
	}
	free(ino);
	report("stat 24000 linked names in a branch", t0, 2 * NPAIR);
	/* Read one name (into the kernel's cache), write through the other. */
	for (int i = 0; i < NPAIR; i += 101)
		ck_file_eq(at(br("hl"), pair_name(O(i), i)), pair_text(i, "base"));
	t0 = now();
	for (int i = 0; i < NPAIR; i += 101)
		ck_ret(bfs_write_file(at(br("hl"), pair_name(W(i), i)), pair_text(i, "branch's")),
		       0);
	report("first write of 119 linked files in a branch", t0, 119);
	for (int i = 0; i < NPAIR; i += 101) {
		ck_file_eq(at(br("hl"), pair_name(O(i), i)), pair_text(i, "branch's"));
		ck_file_eq(at(m.base, pair_name(O(i), i)), pair_text(i, "base"));
	}
	/* Both names are one kernel inode: a second change through one shows
	 * through the other's cached attributes and pages at once. */
	for (int i = 0; i < NPAIR; i += 101) {
		struct stat b;

		ck_sys(chmod(at(br("hl"), pair_name(W(i), i)), 0600));
		ck_ret(bfs_write_file(at(br("hl"), pair_name(W(i), i)),
				      pair_text(i, "again, the branch's")),
		       0);
		ck_sys(lstat(at(br("hl"), pair_name(O(i), i)), &b));
		ck_assert_int_eq(b.st_mode & 07777, 0600);
		ck_file_eq(at(br("hl"), pair_name(O(i), i)), pair_text(i, "again, the branch's"));
	}
	/* Main writes other pairs in place: the branch keeps its snapshot. */
	for (int i = 50; i < NPAIR; i += 101)
		ck_file_eq(at(br("hl"), pair_name(O(i), i)), pair_text(i, "base"));
	for (int i = 50; i < NPAIR; i += 101)
		ck_ret(bfs_write_file(at(m.mnt, pair_name(W(i), i)), pair_text(i, "main's")), 0);
	for (int i = 50; i < NPAIR; i += 101) {
		ck_file_eq(at(m.base, pair_name(O(i), i)), pair_text(i, "main's"));
		ck_file_eq(at(br("hl"), pair_name(W(i), i)), pair_text(i, "base"));
		ck_file_eq(at(br("hl"), pair_name(O(i), i)), pair_text(i, "base"));
	}
	/* The branch lands: both names of each pair it wrote, still one file. */
	ck_ret(bfs_ioc_commit(ctl("hl")), 0);
	for (int i = 0; i < NPAIR; i += 101) {
		struct stat a, b;

		ck_file_eq(at(m.base, pair_name('a', i)), pair_text(i, "again, the branch's"));
		ck_file_eq(at(m.base, pair_name('b', i)), pair_text(i, "again, the branch's"));
		ck_sys(lstat(at(m.base, pair_name('a', i)), &a));
		ck_sys(lstat(at(m.base, pair_name('b', i)), &b));
		ck_assert_int_eq(a.st_ino, b.st_ino);
	}
}
END_TEST

/* ---- a deep tree ---- */

#define TREE_DEPTH 400

/*
 * A tree 400 directories deep (generated fixtures, a tree copied into
 * itself): a change at its bottom commits, and main then moves the tree
 * while a branch keeps the old one, also across a kill -9.  The daemon's
 * walks of a tree recurse once per level: with 8 MiB thread stacks a
 * commit of a change about 250 levels deep killed it.
 */
START_TEST(a_tree_400_levels_deep)
{
	char *chain = malloc(2 * TREE_DEPTH), file[4096], moved[4096];
	double t0;

	ck_assert_ptr_nonnull(chain);
	for (int i = 0; i < TREE_DEPTH; i++)
		memcpy(chain + 2 * i, "d/", 2);
	chain[2 * TREE_DEPTH - 1] = '\0'; /* d/d/.../d */
	snprintf(file, sizeof(file), "top/%s/f", chain);
	snprintf(moved, sizeof(moved), "moved/%s/f", chain);
	ck_assert_int_eq(bfs_sh(m.base, "mkdir -p top/%s && echo base > '%s'", chain, file), 0);
	ck_ret(bfs_branch_create(&m, NULL, "keep"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	t0 = now();
	ck_ret(bfs_write_file(at(br("b"), file), "changed\n"), 0);
	report("copy up a file 400 levels deep", t0, 1);
	t0 = now();
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	report("commit it", t0, 1);
	ck_file_eq(at(m.base, file), "changed\n");
	t0 = now();
	ck_assert_int_eq(bfs_sh(m.mnt, "mv top moved"), 0);
	report("main moves the tree, a branch keeping it", t0, 1);
	ck_file_eq(at(m.mnt, moved), "changed\n");
	ck_file_eq(at(br("keep"), file), "base\n");
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(br("keep"), file), "base\n");
	ck_file_eq(at(m.base, moved), "changed\n");
	free(chain);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scale");
	TCase *tc = tcase_create("scale");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Per test; the suite's CTest limit covers all four. */
	tcase_set_timeout(tc, 80);
	tcase_add_test(tc, a_thousand_live_branches);
	tcase_add_test(tc, nesting_64_deep);
	tcase_add_test(tc, abort_returns_at_once_and_space_comes_back);
	tcase_add_test(tc, twelve_thousand_hard_link_pairs);
	tcase_add_test(tc, a_tree_400_levels_deep);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
