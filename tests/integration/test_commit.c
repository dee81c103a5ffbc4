/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commit on a real mount: what a branch changed (contents, modes, owners,
 * ns times, xattrs, symlinks, hard links, empty directories, deletions,
 * renames, type changes) is exactly what the base directory holds after the
 * commit.
 *
 * Each case applies the same changes to a plain copy of the base (the
 * model, made with cp -a before the mount) and to the branch, commits, and
 * compares full dumps of the base and the model.  Then nested commits, the
 * kernel caches right after a commit, and commits of the mount's current
 * branch through the root control file.
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
static char model[4096];

/* Dump flags: everything but mtimes (changes made at different instants). */
#define CONTENT (BFS_DUMP_ALL & ~BFS_DUMP_MTIME)

static void setup(void)
{
	char p[4096];

	bfs_mount_prepare(&m);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "f.txt"), "base\n"), 0);
	ck_sys(setxattr(p, "user.old", "o", 1, 0));
	ck_ret(bfs_mkdirs(bfs_path(p, m.base, "dir/sub")), 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "dir/a"), "a\n"), 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "dir/sub/b"), "b\n"), 0);
	ck_ret(bfs_mkdirs(bfs_path(p, m.base, "empty")), 0);
	ck_ret(bfs_write_file(bfs_path(p, m.base, "hl1"), "hard\n"), 0);
	ck_assert_int_eq(bfs_sh(m.base, "ln hl1 hl2 && ln -s f.txt sym"), 0);
	bfs_path(model, m.dir, "model");
	ck_assert_int_eq(bfs_sh(NULL, "cp -a '%s' '%s'", m.base, model), 0);
	bfs_mount_start(&m, NULL);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

/* root/rel (eight rotating buffers). */
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

static void set_times(const char *path, long sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec + 1, nsec + 1 } };

	ck_sys(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW));
}

/* Apply ops to the model and to branch b, commit b, compare base and model. */
static void commit_like_model(void (*ops)(const char *root), unsigned int flags)
{
	char *want, *got;

	ops(model);
	ops(branch("b"));
	want = bfs_tree_dump(model, flags);
	got = bfs_tree_dump(branch("b"), flags | BFS_DUMP_NOCTL);
	ck_tree_eq(got, want);
	free(got);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	got = bfs_tree_dump(m.base, flags);
	ck_tree_eq(got, want);
	free(got);
	free(want);
	ck_absent(branch("b"));
}

static void ops_attributes(const char *r)
{
	int fd;

	ck_sys(chmod(at(r, "f.txt"), 0640));
	ck_sys(chown(at(r, "f.txt"), 1234, 2345));
	set_times(at(r, "f.txt"), 1000000000, 123456789);
	ck_sys(fd = open(at(r, "n"), O_WRONLY | O_CREAT | O_EXCL, 0751));
	ck_assert_int_eq(write(fd, "new\n", 4), 4);
	ck_sys(close(fd));
	ck_sys(chown(at(r, "n"), 42, 43));
	ck_sys(chmod(at(r, "n"), 04751));
	set_times(at(r, "n"), 1100000000, 999999998);
	ck_sys(chmod(at(r, "dir"), 0700));
	ck_sys(chown(at(r, "dir"), 5, 6));
	set_times(at(r, "dir"), 1200000000, 5);
	ck_sys(chmod(at(r, "dir/sub/b"), 0600));
	set_times(at(r, "dir/sub/b"), 1300000000, 7);
	ck_sys(mkdir(at(r, "nd"), 0750));
	ck_sys(chown(at(r, "nd"), 77, 88));
}

START_TEST(modes_owners_times)
{
	struct stat st;

	commit_like_model(ops_attributes, BFS_DUMP_ALL);
	/* Directory times too (the dumps leave directory times out). */
	st = st_of(at(m.base, "dir"));
	ck_assert_int_eq(st.st_mtim.tv_sec, 1200000001);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 6);
	ck_assert_int_eq(st.st_mode, S_IFDIR | 0700);
	ck_assert_int_eq(st.st_uid, 5);
	st = st_of(at(m.base, "n"));
	ck_assert_int_eq(st.st_mtim.tv_nsec, 999999999);
	/* Not its atime: the dump above read the base file directly, and
	 * relatime moved it (the atime set is older than a day). */
}
END_TEST

static void ops_xattrs(const char *r)
{
	ck_sys(setxattr(at(r, "f.txt"), "user.new", "value", 5, 0));
	ck_sys(removexattr(at(r, "f.txt"), "user.old"));
	ck_ret(bfs_write_file(at(r, "n"), "n"), 0);
	ck_sys(setxattr(at(r, "n"), "user.x", "\0\1\2", 3, 0));
	ck_sys(setxattr(at(r, "dir"), "user.d", "dir", 3, 0));
	ck_sys(setxattr(at(r, "dir/sub/b"), "user.deep", "", 0, 0));
	ck_ret(bfs_acl_grant(at(r, "dir/a"), false, 65534, 6), 0);
	ck_ret(bfs_acl_grant(at(r, "empty"), true, 65534, 5), 0);
}

START_TEST(xattrs_and_acls)
{
	char val[64];

	commit_like_model(ops_xattrs, CONTENT);
	ck_errno(getxattr(at(m.base, "f.txt"), "user.old", val, sizeof(val)), ENODATA);
	ck_assert_int_eq(getxattr(at(m.base, "f.txt"), "user.new", val, sizeof(val)), 5);
	ck_ret(bfs_acl_perm(at(m.base, "dir/a"), false, 65534), 6);
	ck_ret(bfs_acl_perm(at(m.base, "empty"), true, 65534), 5);
}
END_TEST

static void ops_symlinks(const char *r)
{
	ck_sys(symlink("dir/a", at(r, "s1")));
	ck_sys(symlink("../f.txt", at(r, "dir/s2")));
	ck_sys(lchown(at(r, "dir/s2"), 9, 10));
	ck_sys(unlink(at(r, "dir/a")));
	ck_sys(symlink("sub/b", at(r, "dir/a")));
	ck_sys(unlink(at(r, "sym")));
	ck_sys(symlink("dangling/target", at(r, "sym")));
	set_times(at(r, "sym"), 1400000000, 11);
}

START_TEST(symlinks)
{
	char t[64];

	commit_like_model(ops_symlinks, CONTENT);
	ck_assert_int_eq(readlink(at(m.base, "sym"), t, sizeof(t)), 15);
	ck_assert_int_eq(st_of(at(m.base, "sym")).st_mtim.tv_nsec, 12);
	ck_assert_int_eq(st_of(at(m.base, "dir/s2")).st_uid, 9);
}
END_TEST

static void ops_hard_links(const char *r)
{
	ck_ret(bfs_write_file(at(r, "h1"), "h\n"), 0);
	ck_sys(link(at(r, "h1"), at(r, "h2")));
	ck_sys(link(at(r, "h1"), at(r, "dir/h3")));
	ck_sys(link(at(r, "f.txt"), at(r, "dir/f2")));
}

START_TEST(hard_links)
{
	struct stat a, b;

	commit_like_model(ops_hard_links, CONTENT);
	a = st_of(at(m.base, "h1"));
	b = st_of(at(m.base, "dir/h3"));
	ck_assert_int_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_ino, st_of(at(m.base, "h2")).st_ino);
	ck_assert_int_eq(a.st_nlink, 3);
	a = st_of(at(m.base, "f.txt"));
	b = st_of(at(m.base, "dir/f2"));
	ck_assert_int_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_nlink, 2);
	/* One file: a write through one name shows through the other. */
	ck_ret(bfs_write_file(at(m.base, "h2"), "one inode\n"), 0);
	ck_file_eq(at(m.base, "dir/h3"), "one inode\n");
}
END_TEST

/* A file of a base pair of links changed in a branch stays one file. */
static void ops_base_link_pair(const char *r)
{
	ck_ret(bfs_write_file(at(r, "hl1"), "changed\n"), 0);
}

START_TEST(base_link_pair_changed)
{
	commit_like_model(ops_base_link_pair, CONTENT);
	ck_file_eq(at(m.base, "hl2"), "changed\n");
	ck_assert_int_eq(st_of(at(m.base, "hl1")).st_ino, st_of(at(m.base, "hl2")).st_ino);
}
END_TEST

static void ops_empty_dirs(const char *r)
{
	ck_sys(mkdir(at(r, "newempty"), 0700));
	ck_assert_int_eq(bfs_sh(r, "mkdir -p deep/er/est"), 0);
	ck_sys(chmod(at(r, "empty"), 0711));
	ck_sys(mkdir(at(r, "dir/sub/inner"), 0755));
}

START_TEST(empty_directories)
{
	commit_like_model(ops_empty_dirs, CONTENT);
	ck_list_eq(at(m.base, "deep/er/est"), 0, "");
	ck_list_eq(at(m.base, "newempty"), 0, "");
}
END_TEST

static void ops_deletions(const char *r)
{
	ck_sys(unlink(at(r, "f.txt")));
	ck_assert_int_eq(bfs_rm_rf(at(r, "dir")), 0);
	ck_sys(rmdir(at(r, "empty")));
	ck_sys(unlink(at(r, "sym")));
}

START_TEST(deletions)
{
	commit_like_model(ops_deletions, CONTENT);
	ck_list_eq(m.base, 0, "hl1 hl2");
}
END_TEST

static void ops_delete_one_link(const char *r)
{
	ck_sys(unlink(at(r, "hl1")));
}

START_TEST(deleted_link_of_base_pair)
{
	commit_like_model(ops_delete_one_link, CONTENT);
	ck_absent(at(m.base, "hl1"));
	ck_assert_int_eq(st_of(at(m.base, "hl2")).st_nlink, 1);
}
END_TEST

static void ops_renames(const char *r)
{
	ck_sys(rename(at(r, "f.txt"), at(r, "g.txt")));
	ck_sys(rename(at(r, "dir"), at(r, "moved")));
	ck_sys(rename(at(r, "moved/sub"), at(r, "sub2")));
	ck_sys(rename(at(r, "sub2/b"), at(r, "b2")));
	ck_ret(bfs_write_file(at(r, "n"), "n\n"), 0);
	ck_sys(rename(at(r, "n"), at(r, "empty/n")));
	ck_sys(rename(at(r, "empty"), at(r, "e1")));
	ck_sys(rename(at(r, "e1"), at(r, "e2")));
}

START_TEST(renames)
{
	commit_like_model(ops_renames, CONTENT);
	ck_list_eq(m.base, 0, "b2 e2 g.txt hl1 hl2 moved sub2 sym");
	ck_file_eq(at(m.base, "moved/a"), "a\n");
	ck_file_eq(at(m.base, "e2/n"), "n\n");
}
END_TEST

/* A directory of the base renamed, and a new one made at its old name. */
static void ops_rename_dir_reuse_name(const char *r)
{
	ck_sys(rename(at(r, "dir"), at(r, "old")));
	ck_sys(mkdir(at(r, "dir"), 0755));
	ck_ret(bfs_write_file(at(r, "dir/fresh"), "fresh\n"), 0);
}

START_TEST(rename_dir_then_reuse_name)
{
	commit_like_model(ops_rename_dir_reuse_name, CONTENT);
	ck_list_eq(at(m.base, "dir"), 0, "fresh");
	ck_list_eq(at(m.base, "old"), 0, "a sub");
}
END_TEST

static void ops_type_changes(const char *r)
{
	ck_assert_int_eq(bfs_rm_rf(at(r, "dir")), 0);
	ck_ret(bfs_write_file(at(r, "dir"), "now a file\n"), 0);
	ck_sys(unlink(at(r, "f.txt")));
	ck_sys(mkdir(at(r, "f.txt"), 0755));
	ck_ret(bfs_write_file(at(r, "f.txt/inner"), "inner\n"), 0);
	ck_sys(rmdir(at(r, "empty")));
	ck_sys(symlink("hl2", at(r, "empty")));
}

START_TEST(type_changes)
{
	commit_like_model(ops_type_changes, CONTENT);
	ck_file_eq(at(m.base, "dir"), "now a file\n");
	ck_file_eq(at(m.base, "f.txt/inner"), "inner\n");
	ck_assert(S_ISLNK(st_of(at(m.base, "empty")).st_mode));
}
END_TEST

/* File replaced by a directory: only the file-to-directory direction. */
static void ops_dir_replaced_by_file(const char *r)
{
	ck_assert_int_eq(bfs_rm_rf(at(r, "dir")), 0);
	ck_ret(bfs_write_file(at(r, "dir"), "now a file\n"), 0);
}

START_TEST(dir_replaced_by_file)
{
	commit_like_model(ops_dir_replaced_by_file, CONTENT);
	ck_file_eq(at(m.base, "dir"), "now a file\n");
}
END_TEST

/* Every kind of change at once, several levels deep. */
static void ops_everything(const char *r)
{
	ops_attributes(r);
	ck_ret(bfs_write_file(at(r, "dir/a"), "a changed\n"), 0);
	ck_ret(bfs_write_file(at(r, "dir/sub/new"), "new\n"), 0);
	ck_sys(rename(at(r, "dir/sub"), at(r, "nd/sub")));
	ck_sys(unlink(at(r, "sym")));
	ck_sys(symlink("nd/sub/new", at(r, "link")));
	ck_sys(link(at(r, "dir/a"), at(r, "nd/a-link")));
	ck_sys(setxattr(at(r, "nd"), "user.k", "v", 1, 0));
	ck_assert_int_eq(bfs_sh(r, "mkdir -p x/y/z && echo z > x/y/z/f && rm -r empty"), 0);
}

START_TEST(everything_at_once)
{
	commit_like_model(ops_everything, CONTENT);
}
END_TEST

/* Changes of a parent P and of its child C, in that order. */
static void ops_parent(const char *r)
{
	ck_ret(bfs_write_file(at(r, "f.txt"), "parent\n"), 0);
	ck_ret(bfs_write_file(at(r, "p.txt"), "p\n"), 0);
	ck_sys(unlink(at(r, "dir/a")));
}

static void ops_child(const char *r)
{
	ck_ret(bfs_write_file(at(r, "f.txt"), "child\n"), 0);
	ck_ret(bfs_write_file(at(r, "dir/c.txt"), "c\n"), 0);
	ck_sys(unlink(at(r, "p.txt")));
	ck_ret(bfs_write_file(at(r, "dir/sub/b"), "b from c\n"), 0);
}

/* The child also moves a directory that only the base has. */
static void ops_child_moves_dir(const char *r)
{
	ops_child(r);
	ck_sys(rename(at(r, "dir/sub"), at(r, "sub")));
}

static void nested(void (*child)(const char *r))
{
	char *base_before = bfs_tree_dump(m.base, BFS_DUMP_ALL), *want, *got;

	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	ops_parent(branch("p"));
	ck_ret(bfs_branch_create(&m, "p", "c"), 0);
	/* Flat namespace: the child is /@c, not /@p/@c. */
	ck_assert(bfs_exists(branch("c")));
	ck_absent(at(branch("p"), "@c"));
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "@b @c @p dir empty f.txt hl1 hl2 sym");
	ck_file_eq(at(branch("c"), "f.txt"), "parent\n");
	child(branch("c"));
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_absent(branch("c"));
	ops_parent(model);
	child(model);
	want = bfs_tree_dump(model, CONTENT);
	got = bfs_tree_dump(branch("p"), CONTENT | BFS_DUMP_NOCTL);
	ck_tree_eq(got, want);
	free(got);
	/* Nothing reached the base yet. */
	got = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_tree_eq(got, base_before);
	free(got);
	ck_ret(bfs_ioc_commit(ctl_of("p")), 0);
	got = bfs_tree_dump(m.base, CONTENT);
	ck_tree_eq(got, want);
	free(got);
	free(want);
	free(base_before);
}

START_TEST(nested_commits)
{
	nested(ops_child);
}
END_TEST

/*
 * A stale child that has children of its own is never discarded with them:
 * committing or aborting its parent fails with ENOTEMPTY, and every level
 * keeps its work, until the grandchild is dealt with.  A stale child
 * without children still goes away by itself.
 */
START_TEST(stale_child_with_children_blocks)
{
	ck_ret(bfs_branch_create(&m, "b", "winner"), 0);
	ck_ret(bfs_branch_create(&m, "b", "loser"), 0);
	ck_ret(bfs_branch_create(&m, "b", "lone"), 0);
	ck_ret(bfs_branch_create(&m, "loser", "grandchild"), 0);
	ck_ret(bfs_write_file(at(branch("winner"), "w"), "winner\n"), 0);
	ck_ret(bfs_write_file(at(branch("grandchild"), "g"), "live work\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("winner")), 0);
	/* loser and lone are stale now; loser has a live child. */
	ck_ret(bfs_ioc_commit(ctl_of("loser")), -ESTALE);
	ck_ret(bfs_ioc_commit(ctl_of("b")), -ENOTEMPTY);
	ck_ret(bfs_ioc_abort(ctl_of("b")), -ENOTEMPTY);
	ck_file_eq(at(branch("grandchild"), "g"), "live work\n");
	ck_file_eq(at(branch("b"), "w"), "winner\n");
	ck_absent(at(m.base, "w"));
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "@b @grandchild @loser dir empty f.txt hl1 hl2 sym");
	/* The grandchild still works: it commits into its (stale) parent. */
	ck_ret(bfs_ioc_commit(ctl_of("grandchild")), 0);
	ck_file_eq(at(branch("loser"), "g"), "live work\n");
	/* Without children, the stale loser goes with b's commit. */
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	ck_file_eq(at(m.base, "w"), "winner\n");
	ck_absent(branch("loser"));
	ck_list_eq(m.mnt, BFS_DUMP_NOCTL, "dir empty f.txt hl1 hl2 sym w");
}
END_TEST

START_TEST(nested_commit_of_moved_base_dir)
{
	nested(ops_child_moves_dir);
}
END_TEST

/*
 * A directory the branch made, then a child of the branch made (which
 * freezes the branch's layer: the directory now lies below its new top),
 * then the directory renamed: the commit brings it in at its new name.
 * The rename left a redirect to the old name, which the parent never had;
 * the commit tried to move the parent's directory of that name and
 * stopped with ENOENT, half applied, retried and failing before every
 * later branch operation.  _i: the child aborted, or committed into the
 * branch first (it also moved a base directory into the new one).
 */
START_TEST(renamed_dir_made_before_a_child_commits)
{
	ck_sys(mkdir(at(branch("b"), "made"), 0755));
	ck_ret(bfs_write_file(at(branch("b"), "made/x"), "x\n"), 0);
	ck_ret(bfs_branch_create(&m, "b", "c"), 0);
	if (_i) {
		ck_sys(rename(at(branch("c"), "dir"), at(branch("c"), "made/dir")));
		ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	} else {
		ck_ret(bfs_ioc_abort(ctl_of("c")), 0);
	}
	ck_sys(rename(at(branch("b"), "made"), at(branch("b"), "renamed")));
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	ck_file_eq(at(m.base, "renamed/x"), "x\n");
	ck_absent(at(m.base, "made"));
	if (_i) {
		ck_file_eq(at(m.base, "renamed/dir/a"), "a\n");
		ck_absent(at(m.base, "dir"));
	} else {
		ck_file_eq(at(m.base, "dir/a"), "a\n");
	}
	/* Nothing of the commit's own is left in the base. */
	ck_list_eq(m.base, 0,
		   _i ? "empty f.txt hl1 hl2 renamed sym" : "dir empty f.txt hl1 hl2 renamed sym");
}
END_TEST

/*
 * A child makes directories inside dir/sub and moves dir/a into one;
 * meanwhile its parent (b, or main for _i 1) removes dir, or (_i 2)
 * replaces it with a file.  The commit brings dir/sub back around the
 * child's changes, as the child shows them.  It used to stop at its first
 * mkdir or move (ENOENT) half applied, and fail every later branch
 * operation of the mount with that error ("parent branch 'b' does not
 * exist").
 */
START_TEST(child_changes_inside_a_directory_its_parent_removed)
{
	const char *parent = _i == 1 ? m.mnt : branch("b");
	const char *child = _i == 1 ? branch("b") : branch("c");

	if (_i != 1)
		ck_ret(bfs_branch_create(&m, "b", "c"), 0);
	ck_assert_int_eq(bfs_sh(child, "mkdir -p dir/sub/new/deeper && echo n > dir/sub/new/f && "
				       "mv dir/a dir/sub/new/a2"),
			 0);
	ck_assert_int_eq(bfs_sh(parent, _i == 2 ? "rm -rf dir && echo file > dir" : "rm -rf dir"),
			 0);
	ck_ret(bfs_ioc_commit(ctl_of(_i == 1 ? "b" : "c")), 0);
	ck_list_eq(at(parent, "dir"), 0, "sub");
	ck_list_eq(at(parent, "dir/sub"), 0, "new");
	ck_list_eq(at(parent, "dir/sub/new"), 0, "a2 deeper f");
	ck_file_eq(at(parent, "dir/sub/new/f"), "n\n");
	ck_file_eq(at(parent, "dir/sub/new/a2"), "a\n");
	/* Branch operations go on. */
	ck_ret(bfs_branch_create(&m, _i == 1 ? NULL : "b", "next"), 0);
	ck_file_eq(at(branch("next"), "dir/sub/new/f"), "n\n");
}
END_TEST

/*
 * Child c moves a directory holding a link pair while its parent (main,
 * or b for _i 2) removes the directory: the commit rebuilds the tree from
 * c's snapshot, and the pair lands as one file, two links.  The pair was
 * made through the parent before c (_i 0, 2) or in c (_i 1).  Each name
 * landed as a file of its own (copyup.c, copy_tree).
 */
START_TEST(commit_rebuilds_a_moved_tree_with_its_links)
{
	const char *parent = _i == 2 ? branch("b") : m.mnt;
	const char *c = branch("c");

	if (_i != 1)
		ck_sys(link(at(parent, "dir/a"), at(parent, "dir/sub/a2")));
	ck_ret(bfs_branch_create(&m, _i == 2 ? "b" : NULL, "c"), 0);
	if (_i == 1)
		ck_sys(link(at(c, "dir/a"), at(c, "dir/sub/a2")));
	ck_sys(rename(at(c, "dir"), at(c, "moved")));
	ck_assert_int_eq(bfs_sh(parent, "rm -rf dir"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_absent(at(parent, "dir"));
	ck_assert_int_eq(st_of(at(parent, "moved/a")).st_nlink, 2);
	ck_assert_int_eq(st_of(at(parent, "moved/a")).st_ino,
			 st_of(at(parent, "moved/sub/a2")).st_ino);
	ck_ret(bfs_write_file(at(parent, "moved/sub/a2"), "one file\n"), 0);
	ck_file_eq(at(parent, "moved/a"), "one file\n");
	ck_file_eq(at(parent, "moved/sub/b"), "b\n");
	if (_i != 2) {
		ck_assert_int_eq(st_of(at(m.base, "moved/a")).st_ino,
				 st_of(at(m.base, "moved/sub/a2")).st_ino);
		ck_list_eq(m.base, 0, "empty f.txt hl1 hl2 moved sym");
	}
}
END_TEST

/*
 * A name of a hard-link triple inside a directory the branch moves, the
 * triple lying below the branch's top: in the base (variant 0), or in a
 * layer of b frozen when child c was made, c doing the moves (variant 1).
 * A change through one name must show through the moved one, as on a
 * disk, and the commit must land one file.  The moved name kept the lower
 * copy when another name was copied up: it showed the old contents and
 * counted one link fewer (15 of 64 seeds of the differential run with
 * children ended on it, links allowed).
 */
static void ops_triple_in_moved_dir(const char *r)
{
	ck_sys(rename(at(r, "dir/sub"), at(r, "moved")));
	ck_ret(bfs_write_file(at(r, "hl1"), "through hl1\n"), 0);
	ck_file_eq(at(r, "moved/hl3"), "through hl1\n");
	ck_assert_int_eq(st_of(at(r, "moved/hl3")).st_nlink, 3);
	ck_assert_int_eq(st_of(at(r, "moved/hl3")).st_ino, st_of(at(r, "hl2")).st_ino);
	ck_ret(bfs_write_file(at(r, "moved/hl3"), "through hl3\n"), 0);
	ck_file_eq(at(r, "hl2"), "through hl3\n");
	ck_sys(rename(at(r, "dir"), at(r, "dir2")));
	ck_sys(rename(at(r, "moved"), at(r, "dir2/back")));
	ck_sys(chmod(at(r, "hl2"), 0600));
	ck_assert_int_eq(st_of(at(r, "dir2/back/hl3")).st_mode & 07777, 0600);
	ck_assert_int_eq(st_of(at(r, "dir2/back/hl3")).st_nlink, 3);
}

START_TEST(link_triple_inside_a_moved_directory)
{
	const char *where = _i ? branch("c") : branch("b");
	char *want, *got;

	if (_i == 0) {
		bfs_mount_stop(&m);
		ck_assert_int_eq(bfs_sh(m.base, "ln hl1 dir/sub/hl3"), 0);
		bfs_mount_start(&m, NULL);
		ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	} else {
		ck_sys(link(at(branch("b"), "hl1"), at(branch("b"), "dir/sub/hl3")));
		ck_ret(bfs_branch_create(&m, "b", "c"), 0);
	}
	ck_sys(link(at(model, "hl1"), at(model, "dir/sub/hl3")));
	ops_triple_in_moved_dir(model);
	ops_triple_in_moved_dir(where);
	want = bfs_tree_dump(model, CONTENT);
	got = bfs_tree_dump(where, CONTENT | BFS_DUMP_NOCTL);
	ck_tree_eq(got, want);
	free(got);
	if (_i)
		ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	got = bfs_tree_dump(m.base, CONTENT);
	ck_tree_eq(got, want);
	free(got);
	free(want);
}
END_TEST

/* Read and stat through view v so the kernel caches what it shows. */
static void warm(const char *v)
{
	char *s;

	s = bfs_read_file(at(v, "f.txt"));
	ck_assert_str_eq(s, "base\n");
	free(s);
	ck_assert_int_eq(st_of(at(v, "f.txt")).st_size, 5);
	ck_assert_int_eq(st_of(at(v, "f.txt")).st_mode & 07777, 0644);
	ck_assert(bfs_exists(at(v, "dir/a")));
	ck_assert(!bfs_exists(at(v, "dir/new")));
	free(bfs_read_file(at(v, "dir/sub/b")));
	free(bfs_list_dir(at(v, "dir"), 0));
	free(bfs_list_dir(v, 0));
}

/* The changes ops_fresh makes, as seen right after the commit through v. */
static void ops_fresh(const char *r)
{
	ck_ret(bfs_write_file(at(r, "f.txt"), "a much longer new content\n"), 0);
	ck_sys(chmod(at(r, "f.txt"), 0600));
	ck_sys(unlink(at(r, "dir/a")));
	ck_ret(bfs_write_file(at(r, "dir/new"), "new\n"), 0);
	ck_ret(bfs_write_file(at(r, "dir/sub/b"), "b2\n"), 0);
	ck_ret(bfs_write_file(at(r, "top-new"), "t\n"), 0);
}

static void ck_fresh(const char *v, unsigned int flags)
{
	ck_file_eq(at(v, "f.txt"), "a much longer new content\n");
	ck_assert_int_eq(st_of(at(v, "f.txt")).st_size, 26);
	ck_assert_int_eq(st_of(at(v, "f.txt")).st_mode & 07777, 0600);
	ck_absent(at(v, "dir/a"));
	ck_file_eq(at(v, "dir/new"), "new\n");
	ck_file_eq(at(v, "dir/sub/b"), "b2\n");
	ck_list_eq(at(v, "dir"), 0, "new sub");
	ck_list_eq(v, flags, "dir empty f.txt hl1 hl2 sym top-new");
}

START_TEST(caches_of_main_after_commit)
{
	warm(m.mnt);
	ops_fresh(branch("b"));
	warm(m.mnt);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	ck_fresh(m.mnt, BFS_DUMP_MOUNT);
	ck_fresh(m.base, 0);
	ck_fresh(branch("main"), BFS_DUMP_NOCTL);
}
END_TEST

START_TEST(caches_of_parent_after_commit)
{
	ck_ret(bfs_branch_create(&m, NULL, "p"), 0);
	ck_ret(bfs_branch_create(&m, "p", "c"), 0);
	ck_ret(bfs_ctl(ctl_of(NULL), "switch:p"), 0);
	warm(branch("p"));
	warm(m.mnt);
	ops_fresh(branch("c"));
	warm(branch("p"));
	warm(m.mnt);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_fresh(branch("p"), BFS_DUMP_NOCTL);
	ck_fresh(m.mnt, BFS_DUMP_MOUNT);
	ck_file_eq(at(m.base, "f.txt"), "base\n");
}
END_TEST

START_TEST(open_file_of_main_after_commit)
{
	char buf[64] = { 0 };
	int fd;

	ck_sys(fd = open(at(m.mnt, "f.txt"), O_RDONLY));
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 5);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "committed\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	/* A new open sees the new file. */
	ck_file_eq(at(m.mnt, "f.txt"), "committed\n");
	close(fd);
}
END_TEST

/* pread of the whole file through fd (up to 63 bytes) as a string. */
static const char *fd_text(int fd)
{
	static char buf[64];
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_msg(n >= 0, "pread: %s", strerror(errno));
	return buf;
}

/* The file as the daemon serves it, past the kernel's page cache
 * (O_DIRECT: an aligned buffer and length). */
static const char *direct_text(const char *path)
{
	static char text[64];
	void *buf;
	ssize_t n;
	int fd;

	ck_assert_int_eq(posix_memalign(&buf, 4096, 4096), 0);
	ck_sys(fd = open(path, O_RDONLY | O_DIRECT));
	n = pread(fd, buf, 4096, 0);
	ck_assert_msg(n >= 0 && n < (ssize_t)sizeof(text), "O_DIRECT read: %zd (%s)", n,
		      strerror(errno));
	memcpy(text, buf, n);
	text[n] = '\0';
	close(fd);
	free(buf);
	return text;
}

/*
 * A parent's files stay open across a commit into it: they show the
 * committed file afterwards (as after a copy-up), reading, fstat and
 * writing alike, and the path's cached pages and size are the new ones
 * even when the old descriptor is read again after the commit.  A sibling
 * made before the commit keeps its snapshot whatever the old descriptors
 * write.
 */
static void open_files_follow_commit(const char *parent_dir, const char *parent, bool main_view)
{
	const char *f = at(parent_dir, "f.txt");
	struct stat st;
	int r, w;

	ck_sys(r = open(f, O_RDONLY));
	ck_sys(w = open(f, O_WRONLY));
	ck_assert_str_eq(fd_text(r), "base\n");
	ck_ret(bfs_branch_create(&m, parent, "c"), 0);
	ck_ret(bfs_branch_create(&m, parent, "sib"), 0);
	ck_ret(bfs_write_file(at(branch("c"), "f.txt"), "committed, longer\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_file_eq(f, "committed, longer\n");
	ck_assert_int_eq(st_of(f).st_size, 18);
	/* The old descriptors, after the path was read anew. */
	ck_assert_str_eq(fd_text(r), "committed, longer\n");
	ck_assert_str_eq(direct_text(f), "committed, longer\n");
	ck_sys(fstat(r, &st));
	ck_assert_int_eq(st.st_size, 18);
	ck_assert_int_eq(st_of(f).st_size, 18);
	ck_file_eq(f, "committed, longer\n");
	/* Writes through the old descriptor land in the committed file. */
	ck_assert_int_eq(pwrite(w, "COMMITTED", 9, 0), 9);
	ck_file_eq(f, "COMMITTED, longer\n");
	ck_assert_str_eq(direct_text(f), "COMMITTED, longer\n");
	ck_assert_str_eq(fd_text(r), "COMMITTED, longer\n");
	ck_file_eq(at(branch("sib"), "f.txt"), "base\n");
	if (main_view)
		ck_file_eq(at(m.base, "f.txt"), "COMMITTED, longer\n");
	else
		ck_file_eq(at(m.base, "f.txt"), "base\n");
	close(r);
	close(w);
}

START_TEST(open_files_of_parent_follow_commit)
{
	open_files_follow_commit(branch("b"), "b", false);
}
END_TEST

START_TEST(open_files_of_main_follow_commit)
{
	open_files_follow_commit(m.mnt, NULL, true);
}
END_TEST

/* The first 5 bytes of the file at path, mapped shared and writable, and
 * its descriptor (open for reading and writing) in *fd. */
static char *map_shared(const char *path, int *fd)
{
	char *map;

	ck_sys(*fd = open(path, O_RDWR));
	map = mmap(NULL, 5, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	return map;
}

/*
 * A write through a shared mapping that no msync, munmap or close has
 * written back yet is a change made before the commit (readers through the
 * branch see it): the commit carries it.  The kernel holds it as a dirty
 * page; before, the parent got the bytes only at the mapping's last close,
 * after the commit had returned.  Into main (the base on disk) and into a
 * parent (read through its own view, past the page cache); a base file
 * and a file the branch made.
 */
static void mapped_writes_commit(const char *parent)
{
	const char *child = parent ? "c" : "b";
	const char *const names[2] = { "f.txt", "new.txt" };
	char *map[2];
	int fd[2];

	if (parent)
		ck_ret(bfs_branch_create(&m, parent, child), 0);
	ck_ret(bfs_write_file(at(branch(child), "new.txt"), "fresh\n"), 0);
	for (int i = 0; i < 2; i++) {
		map[i] = map_shared(at(branch(child), names[i]), &fd[i]);
		memcpy(map[i], "MAPD", 4);
	}
	ck_assert_str_eq(fd_text(fd[0]), "MAPD\n"); /* from the page, not written back */
	ck_ret(bfs_ioc_commit(ctl_of(child)), 0);
	for (int i = 0; i < 2; i++) {
		const char *want = i ? "MAPDh\n" : "MAPD\n";

		if (parent)
			ck_assert_str_eq(direct_text(at(branch(parent), names[i])), want);
		else
			ck_file_eq(at(m.base, names[i]), want);
		munmap(map[i], 5);
		close(fd[i]);
	}
}

START_TEST(mapped_writes_commit_into_main)
{
	mapped_writes_commit(NULL);
}
END_TEST

START_TEST(mapped_writes_commit_into_parent)
{
	mapped_writes_commit("b");
}
END_TEST

/*
 * The parent's own such page, stored after the child was made, over a file
 * the child then replaces: the commit's file wins, whole.  The parent's
 * open file follows the commit to the new object, so a page written back
 * after the commit would put the parent's old bytes over it; the commit
 * drops the kernel's copies of what it changes before it applies, which
 * writes that page back first, into the object the commit then replaces.
 */
static void parent_mapped_write_then_commit(const char *parent)
{
	const char *dir = parent ? branch(parent) : m.mnt;
	char *map;
	int fd;

	map = map_shared(at(dir, "f.txt"), &fd);
	ck_ret(bfs_branch_create(&m, parent, "c"), 0);
	memcpy(map, "PP", 2);
	ck_ret(bfs_write_file(at(branch("c"), "f.txt"), "CHILD\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	munmap(map, 5);
	close(fd);
	ck_assert_str_eq(direct_text(at(dir, "f.txt")), "CHILD\n");
	if (!parent)
		ck_file_eq(at(m.base, "f.txt"), "CHILD\n");
}

START_TEST(a_parent_page_stored_before_a_commit_does_not_overwrite_it)
{
	parent_mapped_write_then_commit(NULL);
	parent_mapped_write_then_commit("b");
}
END_TEST

/* A branch made while its parent's file has such a page starts from it:
 * of main (the page not yet in the base) and of a branch. */
static void mapped_writes_then_create(const char *parent)
{
	const char *dir = parent ? branch(parent) : m.mnt;
	char *map;
	int fd;

	map = map_shared(at(dir, "f.txt"), &fd);
	memcpy(map, "MAPD", 4);
	ck_ret(bfs_branch_create(&m, parent, "c"), 0);
	ck_assert_str_eq(direct_text(at(branch("c"), "f.txt")), "MAPD\n");
	munmap(map, 5);
	close(fd);
}

START_TEST(a_branch_of_main_starts_from_mapped_writes)
{
	mapped_writes_then_create(NULL);
}
END_TEST

START_TEST(a_branch_of_a_branch_starts_from_mapped_writes)
{
	mapped_writes_then_create("b");
}
END_TEST

/*
 * The committed file has the old one's size and mtime: only an explicit
 * invalidation keeps the kernel from serving the old pages, also after the
 * old descriptor read them again.
 */
static void same_size_commit(const char *parent_dir, const char *parent)
{
	const char *f = at(parent_dir, "f.txt");
	struct timespec ts[2];
	struct stat old;
	int r;

	ck_sys(r = open(f, O_RDONLY));
	ck_assert_str_eq(fd_text(r), "base\n");
	old = st_of(f);
	ck_ret(bfs_branch_create(&m, parent, "c"), 0);
	ck_ret(bfs_write_file(at(branch("c"), "f.txt"), "BASE\n"), 0);
	ts[0] = old.st_atim;
	ts[1] = old.st_mtim;
	ck_sys(utimensat(AT_FDCWD, at(branch("c"), "f.txt"), ts, 0));
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_assert_str_eq(fd_text(r), "BASE\n");
	ck_file_eq(f, "BASE\n");
	ck_assert_str_eq(fd_text(r), "BASE\n");
	close(r);
	ck_file_eq(f, "BASE\n");
}

START_TEST(same_size_commit_into_parent)
{
	same_size_commit(branch("b"), "b");
}
END_TEST

START_TEST(same_size_commit_into_main)
{
	same_size_commit(m.mnt, NULL);
}
END_TEST

/*
 * Inode numbers across a commit (docs/design.md, "Kernel nodes, inode
 * numbers, caches").  Into a branch, a file the child changed keeps the
 * number the parent showed.  Into main, which shows the base's own
 * numbers, a changed file arrives as a new inode, as after an editor's
 * save by rename: the mount agrees with the base directory, and files the
 * commit did not touch keep theirs.
 */
START_TEST(inode_numbers_across_commit)
{
	ino_t in_p, main_f, main_a;

	ck_ret(bfs_branch_create(&m, "b", "c"), 0);
	in_p = st_of(at(branch("b"), "f.txt")).st_ino;
	ck_ret(bfs_write_file(at(branch("c"), "f.txt"), "changed in c\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of("c")), 0);
	ck_file_eq(at(branch("b"), "f.txt"), "changed in c\n");
	ck_assert_int_eq(st_of(at(branch("b"), "f.txt")).st_ino, in_p);

	main_f = st_of(at(m.mnt, "f.txt")).st_ino;
	main_a = st_of(at(m.mnt, "dir/a")).st_ino;
	ck_assert_int_eq(main_f, st_of(at(m.base, "f.txt")).st_ino);
	ck_ret(bfs_ioc_commit(ctl_of("b")), 0);
	ck_file_eq(at(m.mnt, "f.txt"), "changed in c\n");
	ck_assert_int_eq(st_of(at(m.mnt, "f.txt")).st_ino, st_of(at(m.base, "f.txt")).st_ino);
	ck_assert_int_ne(st_of(at(m.mnt, "f.txt")).st_ino, main_f);
	ck_assert_int_eq(st_of(at(m.mnt, "dir/a")).st_ino, main_a);
}
END_TEST

START_TEST(commit_current_switches_to_parent)
{
	char *cur;

	ck_ret(bfs_ctl(ctl_of(NULL), "switch:b"), 0);
	cur = bfs_ctl_read(ctl_of(NULL));
	ck_assert_str_eq(cur, "b");
	free(cur);
	ck_ret(bfs_write_file(at(m.mnt, "via-root"), "r\n"), 0);
	ck_file_eq(at(m.mnt, "via-root"), "r\n");
	ck_ret(bfs_ctl(ctl_of(NULL), "commit"), 0);
	cur = bfs_ctl_read(ctl_of(NULL));
	ck_assert_str_eq(cur, "main");
	free(cur);
	ck_absent(branch("b"));
	ck_file_eq(at(m.mnt, "via-root"), "r\n");
	ck_file_eq(at(m.base, "via-root"), "r\n");
}
END_TEST

START_TEST(abort_current_switches_to_parent)
{
	char *cur;

	ck_ret(bfs_ctl(ctl_of(NULL), "switch:b"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "f.txt"), "discarded\n"), 0);
	ck_file_eq(at(m.mnt, "f.txt"), "discarded\n");
	ck_ret(bfs_ctl(ctl_of(NULL), "abort"), 0);
	cur = bfs_ctl_read(ctl_of(NULL));
	ck_assert_str_eq(cur, "main");
	free(cur);
	ck_absent(branch("b"));
	ck_file_eq(at(m.mnt, "f.txt"), "base\n");
	ck_file_eq(at(m.base, "f.txt"), "base\n");
}
END_TEST

START_TEST(ioctls_on_current_nested_branch)
{
	char *cur;

	ck_ret(bfs_branch_create(&m, "b", "c"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "from b\n"), 0);
	ck_ret(bfs_ctl(ctl_of(NULL), "switch:c"), 0);
	ck_file_eq(at(m.mnt, "f.txt"), "base\n");
	ck_ret(bfs_write_file(at(m.mnt, "c.txt"), "from c\n"), 0);
	ck_ret(bfs_ioc_commit(ctl_of(NULL)), 0);
	cur = bfs_ctl_read(ctl_of(NULL));
	ck_assert_str_eq(cur, "b");
	free(cur);
	/* The root now shows b, with c's change in it. */
	ck_file_eq(at(m.mnt, "f.txt"), "from b\n");
	ck_file_eq(at(m.mnt, "c.txt"), "from c\n");
	ck_absent(at(m.base, "c.txt"));
	ck_ret(bfs_ioc_abort(ctl_of(NULL)), 0);
	cur = bfs_ctl_read(ctl_of(NULL));
	ck_assert_str_eq(cur, "main");
	free(cur);
	ck_file_eq(at(m.mnt, "f.txt"), "base\n");
	ck_absent(at(m.mnt, "c.txt"));
	ck_absent(branch("b"));
}
END_TEST

/* switch: the root shows the other branch at once, warm caches or not. */
START_TEST(switch_shows_the_other_branch_at_once)
{
	warm(m.mnt);
	ops_fresh(branch("b"));
	ck_ret(bfs_ctl(ctl_of(NULL), "switch:b"), 0);
	ck_fresh(m.mnt, BFS_DUMP_MOUNT);
	ck_ret(bfs_ctl(ctl_of(NULL), "switch:main"), 0);
	warm(m.mnt);
	ck_list_eq(m.mnt, BFS_DUMP_MOUNT, "dir empty f.txt hl1 hl2 sym");
}
END_TEST

/* A branch aborted and made again under the same name is the new one. */
START_TEST(recreated_name_shows_the_new_branch)
{
	ck_ret(bfs_write_file(at(branch("b"), "f.txt"), "old b\n"), 0);
	ck_ret(bfs_write_file(at(branch("b"), "old-only"), "x\n"), 0);
	ck_file_eq(at(branch("b"), "f.txt"), "old b\n");
	ck_ret(bfs_ioc_abort(ctl_of("b")), 0);
	ck_absent(at(branch("b"), "f.txt"));
	ck_absent(branch("b"));
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
	ck_file_eq(at(branch("b"), "f.txt"), "base\n");
	ck_absent(at(branch("b"), "old-only"));
	ck_list_eq(branch("b"), BFS_DUMP_NOCTL, "dir empty f.txt hl1 hl2 sym");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("carry");
	TCase *tn = tcase_create("tree");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, modes_owners_times);
	tcase_add_test(tc, xattrs_and_acls);
	tcase_add_test(tc, symlinks);
	tcase_add_test(tc, hard_links);
	tcase_add_test(tc, base_link_pair_changed);
	tcase_add_test(tc, empty_directories);
	tcase_add_test(tc, deletions);
	tcase_add_test(tc, deleted_link_of_base_pair);
	tcase_add_test(tc, renames);
	tcase_add_test(tc, rename_dir_then_reuse_name);
	tcase_add_test(tc, dir_replaced_by_file);
	tcase_add_test(tc, type_changes);
	tcase_add_test(tc, everything_at_once);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tn, setup, teardown);
	tcase_set_timeout(tn, 15);
	tcase_add_test(tn, nested_commits);
	tcase_add_test(tn, nested_commit_of_moved_base_dir);
	tcase_add_loop_test(tn, child_changes_inside_a_directory_its_parent_removed, 0, 3);
	tcase_add_loop_test(tn, link_triple_inside_a_moved_directory, 0, 2);
	tcase_add_loop_test(tn, commit_rebuilds_a_moved_tree_with_its_links, 0, 3);
	tcase_add_loop_test(tn, renamed_dir_made_before_a_child_commits, 0, 2);
	tcase_add_test(tn, stale_child_with_children_blocks);
	tcase_add_test(tn, caches_of_main_after_commit);
	tcase_add_test(tn, caches_of_parent_after_commit);
	tcase_add_test(tn, open_file_of_main_after_commit);
	tcase_add_test(tn, open_files_of_parent_follow_commit);
	tcase_add_test(tn, open_files_of_main_follow_commit);
	tcase_add_test(tn, mapped_writes_commit_into_main);
	tcase_add_test(tn, mapped_writes_commit_into_parent);
	tcase_add_test(tn, a_branch_of_main_starts_from_mapped_writes);
	tcase_add_test(tn, a_branch_of_a_branch_starts_from_mapped_writes);
	tcase_add_test(tn, a_parent_page_stored_before_a_commit_does_not_overwrite_it);
	tcase_add_test(tn, same_size_commit_into_parent);
	tcase_add_test(tn, same_size_commit_into_main);
	tcase_add_test(tn, inode_numbers_across_commit);
	tcase_add_test(tn, switch_shows_the_other_branch_at_once);
	tcase_add_test(tn, recreated_name_shows_the_new_branch);
	tcase_add_test(tn, commit_current_switches_to_parent);
	tcase_add_test(tn, abort_current_switches_to_parent);
	tcase_add_test(tn, ioctls_on_current_nested_branch);
	suite_add_tcase(s, tn);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
