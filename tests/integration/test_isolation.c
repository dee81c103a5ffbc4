/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot isolation on a real mount: a branch shows its parent as it was
 * when the branch was made, whatever the parent, main (writes through the
 * mount root land in the base) or a sibling's commit do later; creating a
 * branch copies nothing; a stale branch stays usable until aborted.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static struct bfs_mount m;

static void make_base(void)
{
	char p[4096], block[4096];

	ck_ret(bfs_write_file(bfs_path(p, m.base, "f.txt"), "base\n"), 0);
	ck_ret(bfs_mkdirs(bfs_path(p, m.base, "dir/sub")), 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "dir/a"), "a\n"), 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "dir/sub/b"), "b\n"), 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "hl1"), "hard\n"), 0);
	ck_assert_int_eq(bfs_sh(m.base, "ln hl1 hl2 && ln -s f.txt sym && mkdir empty"), 0);
	memset(block, '.', sizeof(block));
	ck_ret(bfs_pwrite_file(bfs_path(p, m.base, "mm.bin"), block, sizeof(block), 0), 0);
}

static void setup(void)
{
	bfs_mount_prepare(&m);
	make_base();
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

static off_t st_of_size(const char *path)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st.st_size;
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

static char *dump_branch(const char *name)
{
	char *d = bfs_tree_dump(branch(name), BFS_DUMP_ALL | BFS_DUMP_NOCTL);

	ck_assert_msg(d != NULL, "dump of @%s: %s", name, strerror(errno));
	return d;
}

/* Every kind of change to the tree at root r. */
static void change_everything(const char *r)
{
	char *p;
	int fd;

	ck_ret(bfs_write_file(at(r, "f.txt"), "changed later\n"), 0);
	ck_sys(fd = open(at(r, "dir/a"), O_WRONLY | O_APPEND));
	ck_assert_int_eq(write(fd, "more\n", 5), 5);
	ck_sys(close(fd));
	ck_sys(unlink(at(r, "dir/sub/b")));
	ck_sys(rename(at(r, "dir/sub"), at(r, "moved")));
	ck_sys(chmod(at(r, "f.txt"), 0600));
	ck_sys(setxattr(at(r, "dir/a"), "user.k", "v", 1, 0));
	ck_sys(truncate(at(r, "dir/a"), 2));
	ck_ret(bfs_write_file(at(r, "new"), "new\n"), 0);
	ck_sys(mkdir(at(r, "newdir"), 0755));
	ck_sys(unlink(at(r, "sym")));
	ck_sys(symlink("dir/a", at(r, "sym")));
	ck_sys(rmdir(at(r, "empty")));
	ck_sys(fd = open(at(r, "mm.bin"), O_RDWR));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED);
	memcpy(p, "MAPPED", 6);
	ck_sys(msync(p, 4096, MS_SYNC));
	munmap(p, 4096);
	close(fd);
}

START_TEST(parent_writes_invisible_to_child)
{
	char *before, *after, *parent;

	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	ck_ret(bfs_write_file(at(branch("p"), "early"), "before the child\n"), 0);
	before = dump_branch("p");
	ck_ret(bfs_branch_create(&m, "p", "c"), 0);
	change_everything(branch("p"));
	after = dump_branch("c");
	ck_tree_eq(after, before);
	free(after);
	ck_file_eq(at(branch("c"), "early"), "before the child\n");
	/* And the child's writes do not reach the parent. */
	parent = dump_branch("p");
	ck_ret(bfs_write_file(at(branch("c"), "f.txt"), "child\n"), 0);
	ck_ret(bfs_write_file(at(branch("c"), "c-only"), "c\n"), 0);
	after = dump_branch("p");
	ck_tree_eq(after, parent);
	free(after);
	free(parent);
	free(before);
}
END_TEST

START_TEST(main_writes_invisible_to_branches)
{
	char *before, *after, *base;

	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_branch_create(&m, "b", "nested"), 0);
	before = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	after = dump_branch("b");
	ck_tree_eq(after, before);
	free(after);
	change_everything(m.mnt);
	/* The writes are in the base ... */
	ck_file_eq(at(m.base, "f.txt"), "changed later\n");
	base = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	after = bfs_tree_dump(m.mnt, BFS_DUMP_ALL | BFS_DUMP_MOUNT);
	ck_tree_eq(after, base);
	free(after);
	/* ... and neither branch sees any of them. */
	after = dump_branch("b");
	ck_tree_eq(after, before);
	free(after);
	after = dump_branch("nested");
	ck_tree_eq(after, before);
	free(after);
	/* A branch made now starts from the new state. */
	ck_ret(bfs_branch_create(&m, NULL, "later"), 0);
	after = dump_branch("later");
	ck_tree_eq(after, base);
	free(after);
	free(base);
	free(before);
}
END_TEST

/* main writing one name of a pair of links: the other name in a branch
 * keeps the snapshot too. */
START_TEST(main_write_through_hard_link)
{
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "hl1"), "main wrote\n"), 0);
	ck_sys(chmod(at(m.mnt, "hl1"), 0600));
	ck_file_eq(at(m.base, "hl2"), "main wrote\n");
	ck_file_eq(at(branch("b"), "hl1"), "hard\n");
	ck_file_eq(at(branch("b"), "hl2"), "hard\n");
	ck_assert_int_eq(bfs_sh(branch("b"), "stat -c %%a hl2 | grep -qx 644"), 0);
}
END_TEST

/*
 * main taking one name of a pair away (unlink, rename from it, rename
 * over it, link over it): in a branch made before, both names stay one
 * file, two links.  The name that went was kept as a file of its own: a write
 * through it in the branch did not show through the other, and each
 * counted one link.  And the name the branch looked up before is the same
 * kernel inode as the one looked up after: they were two, and the first
 * kept its old size and pages after a write through the second.
 */
START_TEST(main_removes_one_name_of_a_pair)
{
	static const char *const how[] = { "rm hl1", "mv hl1 moved", "mv f.txt hl1",
					   "ln -f f.txt hl1" };
	const char *b = branch("b");

	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	/* The kernel knows hl2 before main's change, hl1 only after. */
	ck_assert_int_eq(st_of(at(b, "hl2")).st_nlink, 2);
	ck_assert_int_eq(bfs_sh(m.mnt, "%s", how[_i]), 0);
	ck_assert_int_eq(st_of(at(b, "hl1")).st_nlink, 2);
	ck_assert_int_eq(st_of(at(b, "hl2")).st_nlink, 2);
	ck_assert_int_eq(st_of(at(b, "hl1")).st_ino, st_of(at(b, "hl2")).st_ino);
	ck_file_eq(at(b, "hl1"), "hard\n");
	ck_ret(bfs_write_file(at(b, "hl1"), "branch wrote\n"), 0);
	ck_file_eq(at(b, "hl2"), "branch wrote\n");
	ck_file_eq(at(m.mnt, "hl2"), "hard\n");
}
END_TEST

/*
 * Main renames a directory while a branch is live (the branch keeps a copy
 * of the tree), then writes the files it moved.  The branch's descriptors
 * opened before the rename keep reading the snapshot, and links stay links
 * in the branch: a pair inside the tree, and a pair with one name outside
 * it.  Two branches of two epochs (c made after main wrote dir/one).
 * Before, the tree copy left the descriptors on the base's files, so they
 * read main's writes, and made each name a file of its own.
 */
START_TEST(main_moves_a_directory_under_open_files_and_links)
{
	const char *b = branch("b");
	char buf[64] = { 0 };
	int fa, fb;

	ck_assert_int_eq(bfs_sh(m.base, "ln dir/a dir/sub/a2 && ln dir/sub/b b-out"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_sys(fa = open(at(b, "dir/sub/b"), O_RDONLY));
	ck_ret(bfs_write_file(at(m.mnt, "dir/one"), "one\n"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_sys(fb = open(at(branch("c"), "dir/one"), O_RDONLY));
	ck_assert_int_eq(bfs_sh(m.mnt, "mv dir moved && echo MAIN > moved/one && "
				       "echo MAIN > moved/sub/b && echo MAIN > moved/a"),
			 0);
	ck_assert_int_eq(pread(fa, buf, sizeof(buf) - 1, 0), 2);
	ck_assert_str_eq(buf, "b\n");
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(pread(fb, buf, sizeof(buf) - 1, 0), 4);
	ck_assert_str_eq(buf, "one\n");
	close(fa);
	close(fb);
	ck_file_eq(at(b, "dir/sub/b"), "b\n");
	ck_file_eq(at(branch("c"), "dir/one"), "one\n");
	ck_absent(at(b, "moved"));
	/* Both pairs are one file, two links, in each branch. */
	for (int i = 0; i < 2; i++) {
		const char *v = i ? branch("c") : b;

		ck_assert_int_eq(st_of(at(v, "dir/a")).st_nlink, 2);
		ck_assert_int_eq(st_of(at(v, "dir/a")).st_ino, st_of(at(v, "dir/sub/a2")).st_ino);
		ck_assert_int_eq(st_of(at(v, "b-out")).st_nlink, 2);
		ck_assert_int_eq(st_of(at(v, "dir/sub/b")).st_ino, st_of(at(v, "b-out")).st_ino);
		ck_ret(bfs_write_file(at(v, "dir/sub/a2"), i ? "c wrote\n" : "b wrote\n"), 0);
		ck_file_eq(at(v, "dir/a"), i ? "c wrote\n" : "b wrote\n");
		ck_ret(bfs_write_file(at(v, "b-out"), i ? "c out\n" : "b out\n"), 0);
		ck_file_eq(at(v, "dir/sub/b"), i ? "c out\n" : "b out\n");
	}
	/* Main has its own writes, none of the branches'. */
	ck_file_eq(at(m.mnt, "moved/a"), "MAIN\n");
	ck_file_eq(at(m.mnt, "moved/sub/a2"), "MAIN\n");
	ck_file_eq(at(m.mnt, "b-out"), "MAIN\n");
	ck_assert_int_eq(st_of(at(m.mnt, "b-out")).st_nlink, 2);
}
END_TEST

/*
 * A commit into main removes a directory holding one name of a pair whose
 * other name is outside it, while a branch is live; then main writes the
 * outside name.  The branch keeps both names, one file with the old data.
 * Before, the tree was moved whole out of the base into the snapshot: its
 * name stayed the same object as the outside name, so main's write
 * changed the branch's copy of the removed directory.
 */
START_TEST(main_commit_drops_a_tree_sharing_a_file)
{
	const char *b = branch("b");

	ck_assert_int_eq(bfs_sh(m.base, "ln dir/sub/b b-out"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_assert_int_eq(bfs_sh(branch("c"), "rm -rf dir"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_absent(at(m.base, "dir"));
	ck_ret(bfs_write_file(at(m.mnt, "b-out"), "MAIN\n"), 0);
	ck_file_eq(at(b, "dir/sub/b"), "b\n");
	ck_file_eq(at(b, "b-out"), "b\n");
	ck_file_eq(at(b, "dir/a"), "a\n");
	ck_assert_int_eq(st_of(at(b, "b-out")).st_nlink, 2);
	ck_assert_int_eq(st_of(at(b, "dir/sub/b")).st_ino, st_of(at(b, "b-out")).st_ino);
	ck_ret(bfs_write_file(at(b, "dir/sub/b"), "b wrote\n"), 0);
	ck_file_eq(at(b, "b-out"), "b wrote\n");
	ck_file_eq(at(m.mnt, "b-out"), "MAIN\n");
}
END_TEST

/*
 * Main changes a directory's attributes (kept for the branch as a copy),
 * then removes it: the branch still shows it with its old mode and no
 * xattr.  The removal copied the base's directory, with main's changes,
 * over the one kept when that was empty (found by the differential run
 * with xattrs, 2 of 100 seeds).  The same for one main empties first.
 */
START_TEST(main_removes_a_directory_it_changed)
{
	const char *dir = _i ? "dir" : "empty";
	const char *b = branch("b");
	char v[16];

	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_sys(setxattr(at(m.mnt, dir), "user.main", "m", 1, 0));
	ck_sys(chmod(at(m.mnt, dir), 0700));
	if (_i)
		ck_assert_int_eq(bfs_sh(m.mnt, "rm -r dir/a dir/sub"), 0);
	ck_sys(rmdir(at(m.mnt, dir)));
	ck_absent(at(m.base, dir));
	ck_assert_int_eq(st_of(at(b, dir)).st_mode & 07777, 0755);
	ck_assert_int_eq(getxattr(at(b, dir), "user.main", v, sizeof(v)), -1);
	ck_assert_int_eq(errno, ENODATA);
	if (_i) {
		ck_file_eq(at(b, "dir/a"), "a\n");
		ck_file_eq(at(b, "dir/sub/b"), "b\n");
	}
}
END_TEST

/*
 * Main writes files (the branch keeps copies, numbered as the base files
 * were) and then removes them, so the filesystem frees their numbers; the
 * branch then makes new files and symlinks, which may take those numbers
 * underneath.  No two objects of the branch show one st_ino: storage on the
 * base's filesystem numbered its objects like base files, and a symlink the
 * branch made showed the number of a kept link pair (the differential run
 * on main, 2 of 37 runs of one seed under load).
 */
START_TEST(inode_numbers_stay_apart_after_main_frees_them)
{
	const char *b = branch("b");
	char name[64];
	ino_t seen[60 + 2 * 70];
	int n = 0;

	ck_assert_int_eq(bfs_sh(m.base, "mkdir many && for i in $(seq 60); do "
					"echo $i > many/f$i; done"),
			 0);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_assert_int_eq(bfs_sh(m.mnt, "for i in $(seq 60); do echo main >> many/f$i; done && "
				       "rm -r many"),
			 0);
	ck_assert_int_eq(bfs_sh(b, "for i in $(seq 70); do echo b > n$i; ln -s n$i s$i; done"), 0);
	for (int i = 1; i <= 60; i++) {
		snprintf(name, sizeof(name), "many/f%d", i);
		seen[n++] = st_of(at(b, name)).st_ino;
	}
	for (int i = 1; i <= 70; i++) {
		struct stat st;

		snprintf(name, sizeof(name), "n%d", i);
		seen[n++] = st_of(at(b, name)).st_ino;
		snprintf(name, sizeof(name), "s%d", i);
		ck_sys(lstat(at(b, name), &st));
		seen[n++] = st.st_ino;
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			ck_assert_msg(seen[i] != seen[j], "objects %d and %d of b show st_ino %llu",
				      i, j, (unsigned long long)seen[i]);
}
END_TEST

/* A descriptor opened in the branch before main's write keeps the snapshot. */
START_TEST(open_descriptor_in_branch_keeps_snapshot)
{
	char buf[64] = { 0 };
	int fd;

	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_sys(fd = open(at(branch("b"), "f.txt"), O_RDONLY));
	ck_ret(bfs_pwrite_file(at(m.mnt, "f.txt"), "MAIN", 4, 0), 0);
	ck_file_eq(at(m.base, "f.txt"), "MAIN\n");
	ck_assert_int_eq(pread(fd, buf, sizeof(buf) - 1, 0), 5);
	ck_assert_str_eq(buf, "base\n");
	close(fd);
	ck_file_eq(at(branch("b"), "f.txt"), "base\n");
}
END_TEST

/*
 * A file open for writing in a parent whose name then goes away (removed,
 * or renamed over) after a child was made: later writes through it reach
 * no other view, as writes to a deleted file on a disk.  The child made
 * before still shows the old file.
 */
static void orphaned_writer(const char *dir, const char *parent, bool rename_over)
{
	char buf[64] = { 0 };
	int w;

	ck_sys(w = open(at(dir, "f.txt"), O_RDWR));
	ck_ret(bfs_branch_create(&m, parent, "c"), 0);
	if (rename_over) {
		ck_ret(bfs_write_file(at(dir, "new"), "renamed over\n"), 0);
		ck_sys(rename(at(dir, "new"), at(dir, "f.txt")));
	} else {
		ck_sys(unlink(at(dir, "f.txt")));
	}
	ck_assert_int_eq(pwrite(w, "ORPHAN", 6, 0), 6);
	ck_assert_int_eq(pread(w, buf, sizeof(buf) - 1, 0), 6);
	ck_assert_str_eq(buf, "ORPHAN");
	ck_file_eq(at(branch("c"), "f.txt"), "base\n");
	if (rename_over)
		ck_file_eq(at(dir, "f.txt"), "renamed over\n");
	else
		ck_absent(at(dir, "f.txt"));
	close(w);
	ck_file_eq(at(branch("c"), "f.txt"), "base\n");
}

START_TEST(orphaned_writer_in_branch)
{
	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	orphaned_writer(branch("p"), "p", _i);
	ck_file_eq(at(m.base, "f.txt"), "base\n");
}
END_TEST

START_TEST(orphaned_writer_in_main)
{
	orphaned_writer(m.mnt, NULL, _i);
	if (_i)
		ck_file_eq(at(m.base, "f.txt"), "renamed over\n");
	else
		ck_absent(at(m.base, "f.txt"));
}
END_TEST

/* A commit replaces a directory of main with a file while main writes to
 * a file inside it: the writes reach neither the new file nor the
 * directory a sibling still sees. */
START_TEST(main_writer_in_replaced_dir)
{
	char buf[16] = { 0 };
	int w;

	ck_sys(w = open(at(m.mnt, "dir/a"), O_RDWR));
	ck_ret(bfs_branch_create(&m, NULL, "c"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "sib"), 0);
	ck_assert_int_eq(bfs_rm_rf(at(branch("c"), "dir")), 0);
	ck_ret(bfs_write_file(at(branch("c"), "dir"), "a file now\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_assert_int_eq(pwrite(w, "MAIN", 4, 0), 4);
	ck_assert_int_eq(pread(w, buf, sizeof(buf) - 1, 0), 4);
	ck_assert_str_eq(buf, "MAIN");
	close(w);
	ck_file_eq(at(branch("sib"), "dir/a"), "a\n");
	ck_file_eq(at(m.mnt, "dir"), "a file now\n");
	ck_file_eq(at(m.base, "dir"), "a file now\n");
}
END_TEST

START_TEST(sibling_commit_invisible)
{
	char *before, *after;

	ck_ret(bfs_branch_create(&m, NULL, "one"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "two"), 0);
	ck_ret(bfs_write_file(at(branch("two"), "mine"), "two's own\n"), 0);
	before = dump_branch("two");
	change_everything(branch("one"));
	ck_ret(bfs_ioc_commit(ctl_of("one")), 0);
	ck_file_eq(at(m.base, "f.txt"), "changed later\n");
	after = dump_branch("two");
	ck_tree_eq(after, before);
	free(after);
	free(before);
	ck_ret(bfs_ioc_commit(ctl_of("two")), -ESTALE);
	ck_absent(at(m.base, "mine"));
}
END_TEST

/* Storage blocks in use below dir, in KiB. */
static long long usage_kib(const char *dir)
{
	char out[4096];
	char *s;
	long long kib;

	bfs_path(out, m.dir, "du.out");
	ck_assert_int_eq(bfs_sh(NULL, "du -sk '%s' | cut -f1 > '%s'", dir, out), 0);
	s = bfs_read_file(out);
	ck_assert_ptr_nonnull(s);
	kib = atoll(s);
	free(s);
	return kib;
}

START_TEST(creation_copies_nothing)
{
	char name[128];
	long long before, after;

	/* A base worth copying: 2,000 files and a 32 MiB file. */
	bfs_mount_stop(&m);
	ck_assert_int_eq(bfs_sh(m.base,
				"for d in $(seq 20); do mkdir -p big/$d; "
				"for f in $(seq 100); do echo $d-$f > big/$d/$f; done; done"),
			 0);
	ck_assert_int_eq(bfs_sh(m.base, "head -c 33554432 /dev/urandom > large.bin 2>/dev/null"),
			 0);
	bfs_mount_start(&m, NULL);
	before = usage_kib(m.storage);
	for (int i = 0; i < 8; i++)
		ck_ret(bfs_ioc_create(ctl_of(NULL), name), 0);
	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	ck_ret(bfs_branch_create(&m, "p", "c"), 0);
	after = usage_kib(m.storage);
	ck_assert_msg(after - before < 512, "10 branches took %lld KiB of storage", after - before);
	/* Reading everything through branches copies nothing either. */
	ck_assert_int_eq(bfs_sh(branch("c"), "cat big/*/* large.bin > /dev/null"), 0);
	ck_assert_int_eq(bfs_sh(branch(name), "tar cf - . > /dev/null"), 0);
	after = usage_kib(m.storage);
	ck_assert_msg(after - before < 512, "reading took %lld KiB of storage", after - before);
	/* And the base holds only the user's files. */
	ck_list_eq(m.base, 0, "big dir empty f.txt hl1 hl2 large.bin mm.bin sym");
}
END_TEST

START_TEST(stale_branch_stays_usable)
{
	char *base;

	ck_ret(bfs_branch_create(&m, NULL, "one"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "two"), 0);
	ck_ret(bfs_write_file(at(branch("two"), "before"), "before\n"), 0);
	ck_ret(bfs_write_file(at(branch("one"), "f.txt"), "one\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("one")), 0);
	base = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	/* Readable: its own snapshot and its own changes. */
	ck_file_eq(at(branch("two"), "f.txt"), "base\n");
	ck_file_eq(at(branch("two"), "before"), "before\n");
	ck_list_eq(branch("two"), BFS_DUMP_NOCTL, "before dir empty f.txt hl1 hl2 mm.bin sym");
	/* Writable. */
	ck_ret(bfs_write_file(at(branch("two"), "f.txt"), "two\n"), 0);
	ck_ret(bfs_write_file(at(branch("two"), "after"), "after\n"), 0);
	ck_sys(rename(at(branch("two"), "after"), at(branch("two"), "dir/after")));
	ck_sys(unlink(at(branch("two"), "hl1")));
	ck_sys(mkdir(at(branch("two"), "nd"), 0755));
	ck_file_eq(at(branch("two"), "f.txt"), "two\n");
	ck_file_eq(at(branch("two"), "dir/after"), "after\n");
	ck_list_eq(branch("two"), BFS_DUMP_NOCTL, "before dir empty f.txt hl2 mm.bin nd sym");
	/* Not committable, and a refused commit changes nothing. */
	ck_ret(bfs_ioc_commit(ctl_of("two")), -ESTALE);
	ck_ret(bfs_ctl(ctl_of("two"), "commit"), -ESTALE);
	{
		char *now = bfs_tree_dump(m.base, BFS_DUMP_ALL);

		ck_tree_eq(now, base);
		free(now);
	}
	ck_file_eq(at(branch("two"), "f.txt"), "two\n");
	/* Abortable, with 0. */
	ck_ret(bfs_ioc_abort(ctl_of("two")), 0);
	ck_absent(branch("two"));
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "dir empty f.txt hl1 hl2 mm.bin sym");
	ck_file_eq(at(m.base, "f.txt"), "one\n");
	free(base);
}
END_TEST

/* Children made stale by a sibling's commit do not block their parent. */
START_TEST(stale_children_do_not_block_parent)
{
	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	ck_ret(bfs_branch_create(&m, "p", "c1"), 0);
	ck_ret(bfs_branch_create(&m, "p", "c2"), 0);
	ck_ret(bfs_write_file(at(branch("c1"), "f.txt"), "c1\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c1")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c2")), -ESTALE);
	ck_ret(bfs_ioc_commit(ctl_of("p")), 0);
	ck_absent(branch("c2"));
	ck_absent(branch("p"));
	ck_file_eq(at(m.base, "f.txt"), "c1\n");
}
END_TEST

/* main's writes do not make a branch stale; its commit merges over them. */
START_TEST(commit_after_main_writes)
{
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "from b\n"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "b-new"), "b\n"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "dir/a"), "from main\n"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "f.txt"), "main lost\n"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "main-new"), "m\n"), 0);
	ck_sys(unlink(at(m.mnt, "hl1")));
	ck_file_eq(at(branch("b"), "dir/a"), "a\n");
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	ck_file_eq(at(m.base, "f.txt"), "from b\n");
	ck_file_eq(at(m.base, "b-new"), "b\n");
	ck_file_eq(at(m.base, "dir/a"), "from main\n");
	ck_file_eq(at(m.base, "main-new"), "m\n");
	ck_absent(at(m.base, "hl1"));
	ck_file_eq(at(m.mnt, "f.txt"), "from b\n");
}
END_TEST

/* A file changed in the base by another program shows on main soon. */
START_TEST(base_changed_behind_the_mount_shows_on_main)
{
	char *s = NULL;

	ck_file_eq(at(m.mnt, "f.txt"), "base\n");
	ck_assert_int_eq(st_of_size(at(m.mnt, "f.txt")), 5);
	ck_ret(bfs_write_file(at(m.base, "f.txt"), "changed outside the mount\n"), 0);
	ck_ret(bfs_write_file(at(m.base, "outside"), "o\n"), 0);
	for (int i = 0; i < 100; i++) {
		free(s);
		s = bfs_read_file(at(m.mnt, "f.txt"));
		if (s && !strcmp(s, "changed outside the mount\n"))
			break;
		usleep(50000);
	}
	ck_assert_str_eq(s, "changed outside the mount\n");
	free(s);
	ck_assert_int_eq(st_of_size(at(m.mnt, "f.txt")), 26);
	ck_file_eq(at(m.mnt, "outside"), "o\n");
}
END_TEST

/*
 * The mount root shows main here: its own attributes follow a change made
 * behind the mount as soon as any file's do, not a day later.
 */
START_TEST(base_root_changed_behind_the_mount_shows_on_main)
{
	struct stat st;
	int i;

	ck_sys(stat(m.mnt, &st));
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_sys(chmod(m.base, 0750));
	for (i = 0; i < 100; i++) {
		ck_sys(stat(m.mnt, &st));
		if ((st.st_mode & 07777) == 0750)
			break;
		usleep(50000);
	}
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	/* Files are untouched: only the directory's mode changed. */
	ck_file_eq(at(m.mnt, "f.txt"), "base\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("isolation");
	TCase *tc = tcase_create("snapshots");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, parent_writes_invisible_to_child);
	tcase_add_test(tc, main_writes_invisible_to_branches);
	tcase_add_test(tc, main_write_through_hard_link);
	tcase_add_loop_test(tc, main_removes_one_name_of_a_pair, 0, 4);
	tcase_add_test(tc, open_descriptor_in_branch_keeps_snapshot);
	tcase_add_test(tc, main_moves_a_directory_under_open_files_and_links);
	tcase_add_test(tc, main_commit_drops_a_tree_sharing_a_file);
	tcase_add_loop_test(tc, main_removes_a_directory_it_changed, 0, 2);
	tcase_add_test(tc, inode_numbers_stay_apart_after_main_frees_them);
	tcase_add_loop_test(tc, orphaned_writer_in_branch, 0, 2);
	tcase_add_loop_test(tc, orphaned_writer_in_main, 0, 2);
	tcase_add_test(tc, main_writer_in_replaced_dir);
	tcase_add_test(tc, sibling_commit_invisible);
	tcase_add_test(tc, creation_copies_nothing);
	tcase_add_test(tc, stale_branch_stays_usable);
	tcase_add_test(tc, stale_children_do_not_block_parent);
	tcase_add_test(tc, commit_after_main_writes);
	tcase_add_test(tc, base_changed_behind_the_mount_shows_on_main);
	tcase_add_test(tc, base_root_changed_behind_the_mount_shows_on_main);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
