/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbranchfs against a real mount: opening, branch operations and their
 * errors, listing (live and from the storage alone), diff, starting and
 * stopping the daemon, messages.
 */
#define _GNU_SOURCE
/* The harness calls its mount fixture struct bfs_mount too; rename it here. */
#define bfs_mount bfs_test_mount
#include "bfs_test.h"
#undef bfs_mount

#include <branchfs/branchfs.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct bfs_test_mount t;
static struct bfs_mount *m;

static const char *tpath(const char *a, const char *b)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", a, b);
	return p[i];
}

static void setup(void)
{
	bfs_mount_prepare(&t);
	ck_assert_int_eq(bfs_write_file(tpath(t.base, "a.txt"), "base\n"), 0);
	ck_assert_int_eq(bfs_mkdirs(tpath(t.base, "d1/sub")), 0);
	ck_assert_int_eq(bfs_write_file(tpath(t.base, "d1/sub/x"), "x\n"), 0);
	ck_assert_int_eq(bfs_mkdirs(tpath(t.base, "gone")), 0);
	ck_assert_int_eq(bfs_write_file(tpath(t.base, "gone/old"), "old\n"), 0);
	bfs_mount_start(&t, NULL);
	ck_assert_int_eq(bfs_open(&m, t.mnt), 0);
}

static void teardown(void)
{
	bfs_close(m);
	m = NULL;
	bfs_mount_stop(&t);
}

/* The file name of branch b, path p, in the mount. */
static const char *bpath(const char *b, const char *p)
{
	static char out[PATH_MAX];

	snprintf(out, sizeof(out), "%s/@%s/%s", t.mnt, b, p);
	return out;
}

/* The content of a small file (static buffer), "" when unreadable. */
static const char *read_text(const char *path)
{
	static char buf[4096];
	char *s = bfs_read_file(path);

	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	free(s);
	return buf;
}

static char *current(void)
{
	static char name[300];
	char *cur = NULL;

	ck_assert_int_eq(bfs_current(&cur, m), 0);
	snprintf(name, sizeof(name), "%s", cur);
	free(cur);
	return name;
}

START_TEST(open_from_root_and_inside)
{
	char real[PATH_MAX], sub[PATH_MAX];
	struct bfs_mount *in;

	ck_assert_ptr_nonnull(realpath(t.mnt, real));
	ck_assert_str_eq(bfs_mount_root(m), real);
	ck_assert_ptr_nonnull(realpath(t.storage, sub));
	ck_assert_str_eq(bfs_mount_storage(m), sub);
	ck_assert_ptr_nonnull(realpath(t.base, sub));
	ck_assert_str_eq(bfs_mount_base(m), sub);
	ck_assert_int_eq(bfs_mount_daemon_pid(m), t.pid);

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_open(&in, bpath("one", "d1/sub")), 0);
	ck_assert_str_eq(bfs_mount_root(in), real);
	bfs_close(in);
	ck_assert_int_eq(bfs_open(&in, tpath(t.mnt, "d1")), 0);
	ck_assert_str_eq(bfs_mount_root(in), real);
	bfs_close(in);
	bfs_close(NULL);
}
END_TEST

START_TEST(open_rejects_what_is_not_a_mount)
{
	struct bfs_mount *x = NULL;

	ck_assert_int_eq(bfs_open(&x, t.base), -EMEDIUMTYPE);
	ck_assert_int_eq(bfs_open(&x, "/"), -EMEDIUMTYPE);
	ck_assert_int_eq(bfs_open(&x, tpath(t.dir, "nonexistent")), -ENOENT);
	ck_assert_ptr_null(x);
}
END_TEST

START_TEST(create_named_generated_and_nested)
{
	char *name = NULL, *path = NULL;
	struct stat st;

	ck_assert_int_eq(bfs_create(&name, &path, m, NULL, "one"), 0);
	ck_assert_str_eq(name, "one");
	ck_assert_str_eq(path, tpath(bfs_mount_root(m), "@one"));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	free(name);
	free(path);
	/* Creating does not switch. */
	ck_assert_str_eq(current(), "main");

	ck_assert_int_eq(bfs_create(&name, NULL, m, "one", NULL), 0);
	ck_assert_int_eq(strlen(name), strlen("branch-") + 36);
	ck_assert(!strncmp(name, "branch-", 7));
	ck_assert(bfs_exists(bpath(name, "a.txt")));
	free(name);

	ck_assert_int_eq(bfs_create(NULL, NULL, m, "main", "two"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "one", "one"), -EEXIST);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "nope", "three"), -ENOENT);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "a/b", "three"), -ENOENT);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "main"), -EINVAL);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "a/b"), -EINVAL);
	ck_assert(!bfs_exists(bpath("three", "")));
}
END_TEST

START_TEST(name_rules_each_have_a_reason)
{
	const char *rules[] = { "", ".", "..", "a/b", "@x", "main", " x", "x\n", "a\tb", NULL };
	const int n = sizeof(rules) / sizeof(rules[0]);
	const char *seen[16] = { 0 }, *why = NULL;
	char long_name[300];

	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	rules[n - 1] = long_name;
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(bfs_name_check(&why, rules[i]), -EINVAL);
		ck_assert_ptr_nonnull(why);
		seen[i] = why;
	}
	/* "." and "..", " x" and "x\n" share a rule; others have their own. */
	ck_assert_str_eq(seen[1], seen[2]);
	ck_assert_str_eq(seen[6], "branch names cannot start or end with whitespace");
	ck_assert_str_eq(seen[7], seen[6]);
	ck_assert_str_eq(seen[8], "branch names cannot contain control characters");
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (!(i == 1 && j == 2) && !(i == 6 && j == 7))
				ck_assert_str_ne(seen[i], seen[j]);
	long_name[255] = '\0';
	ck_assert_int_eq(bfs_name_check(&why, long_name), 0);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(bfs_name_check(NULL, "feature-1.x"), 0);
	ck_assert_int_eq(bfs_name_check(NULL, "main2"), 0);
	ck_assert_int_eq(bfs_name_check(NULL, "two words"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, long_name), 0);
}
END_TEST

/*
 * The daemon trims a text command, so "create:x " would make "x": the
 * library refuses the name instead of returning "x " and a path that does
 * not exist, and never switches to "x" when asked for " x".
 */
START_TEST(names_with_surrounding_whitespace_are_refused)
{
	char *name = NULL, *path = NULL;

	ck_assert_int_eq(bfs_create(&name, &path, m, NULL, "x "), -EINVAL);
	ck_assert_int_eq(bfs_create(&name, &path, m, "main", "\tx"), -EINVAL);
	ck_assert_ptr_null(name);
	ck_assert_ptr_null(path);
	ck_assert(!bfs_exists(bpath("x", "")));
	ck_assert_int_eq(bfs_create(&name, &path, m, NULL, "x y"), 0);
	ck_assert_str_eq(name, "x y");
	ck_assert(bfs_exists(path));
	free(name);
	free(path);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "x"), 0);
	ck_assert_int_eq(bfs_switch(m, "x "), -ENOENT);
	ck_assert_int_eq(bfs_switch(m, " x"), -ENOENT);
	ck_assert_str_eq(current(), "main");
}
END_TEST

START_TEST(switch_and_current)
{
	ck_assert_str_eq(current(), "main");
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_switch(m, "one"), 0);
	ck_assert_str_eq(current(), "one");
	ck_assert_int_eq(bfs_write_file(tpath(t.mnt, "a.txt"), "one\n"), 0);
	ck_assert_str_eq(read_text(bpath("one", "a.txt")), "one\n");
	ck_assert_int_eq(bfs_switch(m, "nope"), -ENOENT);
	ck_assert_int_eq(bfs_switch(m, "a/b"), -ENOENT);
	ck_assert_int_eq(bfs_switch(m, "main"), 0);
	ck_assert_str_eq(current(), "main");
}
END_TEST

START_TEST(commit_lands_in_base_and_sibling_goes_stale)
{
	char *s;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "two"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "a.txt"), "one\n"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("two", "a.txt"), "two\n"), 0);
	ck_assert_int_eq(bfs_commit(m, "one"), 0);
	s = bfs_read_file(tpath(t.base, "a.txt"));
	ck_assert_str_eq(s, "one\n");
	free(s);
	ck_assert_int_eq(bfs_commit(m, "two"), -ESTALE);
	ck_assert_int_eq(bfs_abort(m, "two"), 0);
	ck_assert(!bfs_exists(bpath("two", "")));
	ck_assert_int_eq(bfs_commit(m, "two"), -ENOENT);
}
END_TEST

START_TEST(current_branch_commit_and_abort_go_to_parent)
{
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "one", "child"), 0);
	ck_assert_int_eq(bfs_switch(m, "child"), 0);
	ck_assert_int_eq(bfs_write_file(tpath(t.mnt, "c.txt"), "c\n"), 0);
	ck_assert_int_eq(bfs_commit(m, NULL), 0);
	ck_assert_str_eq(current(), "one");
	ck_assert(bfs_exists(bpath("one", "c.txt")));
	ck_assert(!bfs_exists(tpath(t.base, "c.txt")));
	ck_assert_int_eq(bfs_abort(m, NULL), 0);
	ck_assert_str_eq(current(), "main");
	ck_assert(!bfs_exists(bpath("one", "")));
}
END_TEST

START_TEST(non_leaf_and_main_errors)
{
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "parent"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "parent", "child"), 0);
	ck_assert_int_eq(bfs_commit(m, "parent"), -ENOTEMPTY);
	ck_assert_int_eq(bfs_abort(m, "parent"), -ENOTEMPTY);
	ck_assert_int_eq(bfs_commit(m, NULL), -EPERM);
	ck_assert_int_eq(bfs_abort(m, "main"), -EPERM);
	ck_assert_int_eq(bfs_abort(m, "nope"), -ENOENT);
}
END_TEST

static const struct bfs_branch_info *find(const struct bfs_branch_list *l, const char *name)
{
	const struct bfs_branch_info *b = bfs_branch_list_find(l, name);

	ck_assert_msg(b != NULL, "branch %s not listed", name);
	return b;
}

START_TEST(list_reports_tree_generations_stale_and_size)
{
	struct bfs_branch_list *l;
	const struct bfs_branch_info *b;
	char big[20001];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "one", "kid"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "one", "kid2"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "two"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("kid", "big"), big), 0);
	ck_assert_int_eq(bfs_commit(m, "kid"), 0); /* one: generation 1, kid2 stale */
	ck_assert_int_eq(bfs_write_file(bpath("two", "small"), "s"), 0);
	ck_assert_int_eq(bfs_switch(m, "two"), 0);

	ck_assert_int_eq(bfs_list(&l, m), 0);
	ck_assert_int_eq(bfs_branch_list_count(l), 4);
	b = bfs_branch_list_get(l, 0);
	ck_assert_str_eq(b->name, "main");
	ck_assert_ptr_null(b->parent);
	ck_assert_int_eq(b->depth, 0);
	ck_assert_int_eq(b->change_bytes, 0);
	/* Depth-first, children in creation order. */
	ck_assert_str_eq(bfs_branch_list_get(l, 1)->name, "one");
	ck_assert_str_eq(bfs_branch_list_get(l, 2)->name, "kid2");
	ck_assert_str_eq(bfs_branch_list_get(l, 3)->name, "two");
	ck_assert_ptr_null(bfs_branch_list_get(l, 4));
	ck_assert_ptr_null(bfs_branch_list_find(l, "kid"));

	b = find(l, "one");
	ck_assert_str_eq(b->parent, "main");
	ck_assert_int_eq(b->generation, 1);
	ck_assert(!b->stale);
	ck_assert_uint_ge(b->change_bytes, 20000);
	ck_assert_int_gt(b->created_ns, 0);
	b = find(l, "kid2");
	ck_assert_str_eq(b->parent, "one");
	ck_assert_int_eq(b->depth, 2);
	ck_assert_int_eq(b->parent_generation, 0);
	ck_assert(b->stale);
	ck_assert_int_eq(b->change_bytes, 0);
	b = find(l, "two");
	ck_assert(b->current);
	ck_assert(!find(l, "main")->current);
	ck_assert_uint_gt(b->change_bytes, 0);
	ck_assert_uint_lt(b->change_bytes, 20000);
	bfs_branch_list_free(l);
	bfs_branch_list_free(NULL);
}
END_TEST

START_TEST(list_storage_errors)
{
	struct bfs_branch_list *l = NULL;

	ck_assert_int_eq(bfs_list_storage(&l, tpath(t.dir, "nonexistent")), -ENOENT);
	ck_assert_int_eq(bfs_list_storage(&l, t.base), -ENODATA);
	ck_assert_int_eq(bfs_list_storage(&l, tpath(t.base, "a.txt")), -ENOTDIR);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(bfs_list_storage(&l, t.storage), 0);
	ck_assert_int_eq(bfs_branch_list_count(l), 1);
	bfs_branch_list_free(l);
}
END_TEST

/* "X path" for entry i, or "" past the end. */
static const char *entry(const struct bfs_diff *d, size_t i)
{
	static char out[PATH_MAX * 2];
	const struct bfs_diff_entry *e = bfs_diff_get(d, i);

	if (!e)
		return "";
	if (e->old_path)
		snprintf(out, sizeof(out), "%c %s<-%s", (char)e->change, e->path, e->old_path);
	else
		snprintf(out, sizeof(out), "%c %s", (char)e->change, e->path);
	return out;
}

START_TEST(diff_classifies_changes)
{
	const struct bfs_diff_entry *e;
	struct bfs_diff *d;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "a.txt"), "modified\n"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "new.txt"), "12345"), 0);
	ck_assert_int_eq(bfs_sh(NULL, "mv '%s' '%s'", bpath("one", "d1"), tpath(t.mnt, "@one/d2")),
			 0);
	ck_assert_int_eq(bfs_rm_rf(bpath("one", "gone")), 0);
	ck_assert_int_eq(symlink("a.txt", bpath("one", "link")), 0);
	ck_assert_int_eq(bfs_mkdirs(bpath("one", "newdir/deep")), 0);

	ck_assert_int_eq(bfs_diff(&d, m, "one"), 0);
	ck_assert_str_eq(bfs_diff_branch(d), "one");
	ck_assert_str_eq(bfs_diff_parent(d), "main");
	ck_assert_str_eq(entry(d, 0), "M a.txt");
	ck_assert_str_eq(entry(d, 1), "R d2<-d1");
	ck_assert_str_eq(entry(d, 2), "D gone");
	ck_assert_str_eq(entry(d, 3), "A link");
	ck_assert_str_eq(entry(d, 4), "A new.txt");
	ck_assert_str_eq(entry(d, 5), "A newdir");
	ck_assert_str_eq(entry(d, 6), "A newdir/deep");
	ck_assert_int_eq(bfs_diff_count(d), 7);
	e = bfs_diff_get(d, 4);
	ck_assert_int_eq(e->type, BFS_TYPE_FILE);
	ck_assert_int_eq(e->size, 5);
	ck_assert_int_eq(bfs_diff_get(d, 1)->type, BFS_TYPE_DIR);
	ck_assert_int_eq(bfs_diff_get(d, 2)->type, BFS_TYPE_DIR);
	ck_assert_int_eq(bfs_diff_get(d, 3)->type, BFS_TYPE_SYMLINK);
	bfs_diff_free(d);
	bfs_diff_free(NULL);
}
END_TEST

START_TEST(diff_renamed_file_and_dir_mode)
{
	struct bfs_diff *d;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(rename(bpath("one", "a.txt"), tpath(t.mnt, "@one/b.txt")), 0);
	/* A mode change on a directory. */
	ck_assert_int_eq(chmod(bpath("one", "d1"), 0700), 0);

	ck_assert_int_eq(bfs_diff(&d, m, "one"), 0);
	ck_assert_str_eq(entry(d, 0), "R b.txt<-a.txt");
	ck_assert_str_eq(entry(d, 1), "M d1");
	ck_assert_int_eq(bfs_diff_count(d), 2);
	ck_assert_int_eq(bfs_diff_get(d, 0)->type, BFS_TYPE_FILE);
	ck_assert_int_eq(bfs_diff_get(d, 0)->size, 5);
	bfs_diff_free(d);
}
END_TEST

/*
 * A renamed file is told from a copy by the object it came from: renamed
 * after a write, out of a renamed directory, in a branch of a branch (whose
 * parent shows its numbers mixed with its own id); a copy plus a deletion
 * stays an addition and a deletion.
 */
START_TEST(diff_pairs_renamed_files_not_copies)
{
	struct bfs_diff *d;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "a.txt"), "written first\n"), 0);
	ck_assert_int_eq(rename(bpath("one", "a.txt"), tpath(t.mnt, "@one/moved.txt")), 0);
	ck_assert_int_eq(rename(bpath("one", "d1"), tpath(t.mnt, "@one/d2")), 0);
	ck_assert_int_eq(rename(bpath("one", "d2/sub/x"), tpath(t.mnt, "@one/y")), 0);
	ck_assert_int_eq(
		bfs_sh(NULL, "cp '%s' '%s'", bpath("one", "gone/old"), tpath(t.mnt, "@one/copy")),
		0);
	ck_assert_int_eq(unlink(bpath("one", "gone/old")), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "p.txt"), "p"), 0);

	ck_assert_int_eq(bfs_diff(&d, m, "one"), 0);
	ck_assert_str_eq(entry(d, 0), "A copy");
	ck_assert_str_eq(entry(d, 1), "R d2<-d1");
	ck_assert_str_eq(entry(d, 2), "D gone/old");
	ck_assert_str_eq(entry(d, 3), "R moved.txt<-a.txt");
	ck_assert_str_eq(entry(d, 4), "A p.txt");
	ck_assert_str_eq(entry(d, 5), "R y<-d1/sub/x");
	ck_assert_int_eq(bfs_diff_count(d), 6);
	ck_assert_int_eq(bfs_diff_get(d, 3)->size, 14);
	bfs_diff_free(d);

	/* p.txt exists only in one's layer; kid renames it. */
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "one", "kid"), 0);
	ck_assert_int_eq(rename(bpath("kid", "p.txt"), tpath(t.mnt, "@kid/q.txt")), 0);
	ck_assert_int_eq(rename(bpath("kid", "y"), tpath(t.mnt, "@kid/d2/y")), 0);
	ck_assert_int_eq(bfs_diff(&d, m, "kid"), 0);
	ck_assert_str_eq(entry(d, 0), "R d2/y<-y");
	ck_assert_str_eq(entry(d, 1), "R q.txt<-p.txt");
	ck_assert_int_eq(bfs_diff_count(d), 2);
	bfs_diff_free(d);
}
END_TEST

/*
 * The common way to replace a directory: rm -rf, then mkdir over the
 * whiteout of the lower one.  The new directory replaces the old (opaque):
 * it is modified, its new child added and the old child deleted.
 */
START_TEST(diff_directory_recreated_with_mkdir)
{
	struct bfs_diff *d;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_rm_rf(bpath("one", "gone")), 0);
	ck_assert_int_eq(mkdir(bpath("one", "gone"), 0755), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "gone/fresh"), "f"), 0);
	ck_assert_int_eq(bfs_diff(&d, m, "one"), 0);
	ck_assert_str_eq(entry(d, 0), "M gone");
	ck_assert_str_eq(entry(d, 1), "A gone/fresh");
	ck_assert_str_eq(entry(d, 2), "D gone/old");
	ck_assert_int_eq(bfs_diff_count(d), 3);
	bfs_diff_free(d);
}
END_TEST

START_TEST(diff_nested_branch_against_its_parent)
{
	struct bfs_diff *d;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "p.txt"), "p"), 0);
	ck_assert_int_eq(bfs_create(NULL, NULL, m, "one", "kid"), 0);
	/* one's writes after the fork are its own, not kid's. */
	ck_assert_int_eq(bfs_write_file(bpath("one", "later.txt"), "l"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("kid", "p.txt"), "kid"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("kid", "k.txt"), "k"), 0);
	ck_assert_int_eq(bfs_switch(m, "kid"), 0);

	ck_assert_int_eq(bfs_diff(&d, m, NULL), 0);
	ck_assert_str_eq(bfs_diff_branch(d), "kid");
	ck_assert_str_eq(bfs_diff_parent(d), "one");
	ck_assert_str_eq(entry(d, 0), "A k.txt");
	ck_assert_str_eq(entry(d, 1), "M p.txt");
	ck_assert_int_eq(bfs_diff_count(d), 2);
	bfs_diff_free(d);

	/* one now has two own layers (frozen at the fork, and a new top). */
	ck_assert_int_eq(bfs_diff(&d, m, "one"), 0);
	ck_assert_str_eq(entry(d, 0), "A later.txt");
	ck_assert_str_eq(entry(d, 1), "A p.txt");
	ck_assert_int_eq(bfs_diff_count(d), 2);
	bfs_diff_free(d);

	ck_assert_int_eq(bfs_diff(&d, m, "main"), -EINVAL);
	ck_assert_int_eq(bfs_diff(&d, m, "nope"), -ENOENT);
}
END_TEST

START_TEST(unmount_discards_or_keeps_branches)
{
	struct bfs_branch_list *l;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_unmount(m, BFS_UNMOUNT_KEEP), 0);
	ck_assert(!bfs_exists(tpath(t.mnt, ".branchfs_ctl")));
	ck_assert_int_eq(bfs_list_storage(&l, t.storage), 0);
	ck_assert_int_eq(bfs_branch_list_count(l), 2);
	ck_assert_ptr_nonnull(bfs_branch_list_find(l, "one"));
	bfs_branch_list_free(l);

	/* Mount again: the branch is there; a plain unmount discards it. */
	bfs_mount_stop(&t);
	bfs_mount_start(&t, NULL);
	bfs_close(m);
	ck_assert_int_eq(bfs_open(&m, t.mnt), 0);
	ck_assert(bfs_exists(bpath("one", "a.txt")));
	ck_assert_int_eq(bfs_unmount(m, 0), 0);
	ck_assert_int_eq(bfs_list_storage(&l, t.storage), 0);
	ck_assert_int_eq(bfs_branch_list_count(l), 1);
	bfs_branch_list_free(l);
	ck_assert_int_eq(bfs_unmount(m, 0x100), -EINVAL);
}
END_TEST

/* A mount whose daemon died is detached, and its branches come back. */
START_TEST(detach_a_mount_whose_daemon_died)
{
	struct bfs_mount *dead;
	struct stat st;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_write_file(bpath("one", "kept.txt"), "k"), 0);
	ck_assert_int_eq(bfs_detach(t.mnt), -EISCONN);
	ck_assert_int_eq(bfs_detach(t.base), -EMEDIUMTYPE);
	ck_assert_int_eq(bfs_detach(tpath(t.mnt, "d1")), -EISCONN);

	ck_assert_int_eq(kill(t.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(t.pid, NULL, 0), t.pid);
	t.pid = 0;
	ck_assert_int_eq(bfs_open(&dead, t.mnt), -ENOTCONN);
	/* Not mounted over: the dead mount is detached first. */
	{
		struct bfs_daemon_options o = BFS_DAEMON_OPTIONS_INIT;

		o.daemon = BFS_DAEMON_PATH;
		o.base = t.base;
		o.storage = t.storage;
		ck_assert_int_eq(bfs_daemon_start(&dead, NULL, t.mnt, &o), -ENOTCONN);
	}
	ck_assert_int_eq(bfs_detach(t.mnt), 0);
	ck_assert_int_eq(stat(t.mnt, &st), 0); /* the plain directory again */
	ck_assert(!bfs_exists(tpath(t.mnt, ".branchfs_ctl")));
	ck_assert_int_eq(bfs_detach(t.mnt), -EMEDIUMTYPE);

	bfs_mount_start(&t, NULL);
	ck_assert_str_eq(read_text(bpath("one", "kept.txt")), "k");
}
END_TEST

/*
 * DESIGN.md section 3: the mount root shows main at mount time, also when
 * the branches were kept (a clean unmount records main as current).
 */
START_TEST(remount_with_kept_branches_starts_on_main)
{
	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_switch(m, "one"), 0);
	ck_assert_int_eq(bfs_unmount(m, BFS_UNMOUNT_KEEP), 0);
	bfs_mount_stop(&t);
	bfs_mount_start(&t, NULL);
	ck_assert(bfs_exists(bpath("one", "a.txt")));
	ck_assert_str_eq(current(), "main");
}
END_TEST

START_TEST(set_keep_survives_a_plain_unmount)
{
	struct bfs_branch_list *l;

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "one"), 0);
	ck_assert_int_eq(bfs_set_keep(m, true), 0);
	ck_assert_int_eq(bfs_unmount(m, 0), 0);
	ck_assert_int_eq(bfs_list_storage(&l, t.storage), 0);
	ck_assert_ptr_nonnull(bfs_branch_list_find(l, "one"));
	bfs_branch_list_free(l);
}
END_TEST

START_TEST(strerror_speaks_branches)
{
	ck_assert_str_eq(bfs_strerror(-ESTALE), "a sibling committed first");
	ck_assert_str_eq(bfs_strerror(ESTALE), "a sibling committed first");
	ck_assert_str_eq(bfs_strerror(-ENOTEMPTY), "the branch has live children");
	ck_assert_str_eq(bfs_strerror(-EMEDIUMTYPE), "not a branchfs mount");
	/* Others are strerror()'s, lowercased as every message is. */
	ck_assert_str_eq(bfs_strerror(-EIO), "input/output error");
	ck_assert_str_eq(bfs_strerror(EACCES), "permission denied");
	ck_assert_str_eq(bfs_strerror(-12345), "unknown error 12345");
	/* Files and commands are not branches: ENOENT in strerror()'s words. */
	ck_assert_str_eq(bfs_syserr(-ENOENT), "no such file or directory");
	ck_assert_str_eq(bfs_syserr(EACCES), "permission denied");
	ck_assert_ptr_nonnull(strstr(bfs_version(), "."));
}
END_TEST

/* bfs_daemon_start() on a prepared but unmounted fixture. */
static void start_setup(void)
{
	bfs_mount_prepare(&t);
	ck_assert_int_eq(bfs_write_file(tpath(t.base, "a.txt"), "base\n"), 0);
	m = NULL;
}

static void start_teardown(void)
{
	if (m && bfs_exists(tpath(t.mnt, ".branchfs_ctl")))
		bfs_unmount(m, 0);
	bfs_close(m);
	m = NULL;
}

START_TEST(daemon_start_mounts_and_unmount_waits)
{
	struct bfs_daemon_options o = BFS_DAEMON_OPTIONS_INIT;
	char *msg = NULL, mnt[PATH_MAX];
	struct bfs_mount *again = NULL;
	int pid;

	o.daemon = BFS_DAEMON_PATH;
	o.base = t.base;
	o.storage = t.storage;
	/* A missing mount point is created. */
	snprintf(mnt, sizeof(mnt), "%s/new/mnt", t.dir);
	ck_assert_int_eq(bfs_daemon_start(&m, &msg, mnt, &o), 0);
	ck_assert_ptr_null(msg);
	ck_assert_str_eq(read_text(tpath(mnt, "a.txt")), "base\n");
	pid = bfs_mount_daemon_pid(m);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(bfs_daemon_start(&again, NULL, mnt, &o), -EBUSY);
	ck_assert_int_eq(bfs_unmount(m, 0), 0);
	ck_assert(!bfs_exists(tpath(mnt, ".branchfs_ctl")));
	ck_assert_int_eq(bfs_open(&again, mnt), -EMEDIUMTYPE);
}
END_TEST

START_TEST(daemon_start_reports_failures)
{
	struct bfs_daemon_options o = BFS_DAEMON_OPTIONS_INIT;
	char *msg = NULL;

	o.daemon = BFS_DAEMON_PATH;
	o.base = tpath(t.dir, "nonexistent");
	ck_assert_int_eq(bfs_daemon_start(&m, &msg, t.mnt, &o), -ENOENT);

	/* The daemon refuses a storage that is a file, and says why. */
	o.base = t.base;
	o.storage = tpath(t.base, "a.txt");
	ck_assert_int_eq(bfs_daemon_start(&m, &msg, t.mnt, &o), -EIO);
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg, "branchfsd"));
	free(msg);
	msg = NULL;

	o.storage = t.storage;
	o.daemon = tpath(t.dir, "no-such-daemon");
	ck_assert_int_eq(bfs_daemon_start(&m, &msg, t.mnt, &o), -ENOENT);
	free(msg);
	o.version = 99;
	ck_assert_int_eq(bfs_daemon_start(&m, NULL, t.mnt, &o), -EINVAL);
	ck_assert_ptr_null(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lib");
	TCase *tc = tcase_create("mounted");
	TCase *td = tcase_create("daemon");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_from_root_and_inside);
	tcase_add_test(tc, open_rejects_what_is_not_a_mount);
	tcase_add_test(tc, create_named_generated_and_nested);
	tcase_add_test(tc, name_rules_each_have_a_reason);
	tcase_add_test(tc, names_with_surrounding_whitespace_are_refused);
	tcase_add_test(tc, switch_and_current);
	tcase_add_test(tc, commit_lands_in_base_and_sibling_goes_stale);
	tcase_add_test(tc, current_branch_commit_and_abort_go_to_parent);
	tcase_add_test(tc, non_leaf_and_main_errors);
	tcase_add_test(tc, list_reports_tree_generations_stale_and_size);
	tcase_add_test(tc, list_storage_errors);
	tcase_add_test(tc, diff_classifies_changes);
	tcase_add_test(tc, diff_renamed_file_and_dir_mode);
	tcase_add_test(tc, diff_pairs_renamed_files_not_copies);
	tcase_add_test(tc, diff_directory_recreated_with_mkdir);
	tcase_add_test(tc, diff_nested_branch_against_its_parent);
	tcase_add_test(tc, unmount_discards_or_keeps_branches);
	tcase_add_test(tc, remount_with_kept_branches_starts_on_main);
	tcase_add_test(tc, detach_a_mount_whose_daemon_died);
	tcase_add_test(tc, set_keep_survives_a_plain_unmount);
	tcase_add_test(tc, strerror_speaks_branches);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(td, start_setup, start_teardown);
	tcase_set_timeout(td, 60);
	tcase_add_test(td, daemon_start_mounts_and_unmount_waits);
	tcase_add_test(td, daemon_start_reports_failures);
	suite_add_tcase(s, td);
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
