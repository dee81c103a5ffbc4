/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash injection: the daemon is killed (SIGKILL) at every step of a
 * representative commit, during copy-up and during branch creation; the
 * next mount must show each change either fully applied or not at all.
 *
 * Uses branchfsd-fault, a test build whose fault points die when
 * BRANCHFSD_FAULT=point:N names them (fs/fault.c).  The commit covers new,
 * modified and deleted files, a renamed base-only directory with a change
 * inside, a deleted tree, a directory replaced by a file and a file by a
 * directory, hard links, a symlink, an empty directory, a mode and an xattr
 * change, a renamed file, and a live sibling that makes main preserve its
 * snapshot while the commit lands.
 */
#define _GNU_SOURCE
#include "bfs_test.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <branchfs/ioctl.h>

#ifndef BFS_FAULT_DAEMON_PATH
#error "BFS_FAULT_DAEMON_PATH must name the branchfsd-fault binary"
#endif

/* ---- fingerprints: what a user can observe of a tree ---- */

static char **fp_lines;
static size_t fp_n, fp_cap;
static size_t fp_root_len;

static unsigned long long hash_file(const char *path)
{
	char *s = bfs_read_file(path);
	unsigned long long h = 1469598103934665603ull;

	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	free(s);
	return h;
}

static int fp_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char line[8192], extra[4096] = "", xa[1024] = "", val[256];
	ssize_t n;

	(void)type;
	(void)ftw;
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, extra, sizeof(extra) - 1);
		extra[n > 0 ? n : 0] = '\0';
	} else if (S_ISREG(st->st_mode)) {
		snprintf(extra, sizeof(extra), "%llx", hash_file(path));
	}
	n = llistxattr(path, xa, sizeof(xa));
	for (char *p = xa; n > 0 && p < xa + n; p += strlen(p) + 1) {
		ssize_t vl = lgetxattr(path, p, val, sizeof(val) - 1);

		val[vl > 0 ? vl : 0] = '\0';
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " %s=%s", p, val);
	}
	/* Directory link counts and all times depend on when things ran. */
	snprintf(line, sizeof(line), "%s %o %u %u %lld %lu %s", path + fp_root_len, st->st_mode,
		 st->st_uid, st->st_gid, S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size,
		 S_ISDIR(st->st_mode) ? 0UL : (unsigned long)st->st_nlink, extra);
	if (fp_n == fp_cap) {
		fp_cap = fp_cap ? fp_cap * 2 : 256;
		fp_lines = realloc(fp_lines, fp_cap * sizeof(*fp_lines));
	}
	fp_lines[fp_n++] = strdup(line);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted, newline-separated description of the tree at dir. */
static char *fingerprint(const char *dir)
{
	size_t len = 1;
	char *out;

	fp_n = 0;
	fp_root_len = strlen(dir);
	nftw(dir, fp_visit, 16, FTW_PHYS);
	qsort(fp_lines, fp_n, sizeof(*fp_lines), cmp_str);
	for (size_t i = 0; i < fp_n; i++)
		len += strlen(fp_lines[i]) + 1;
	out = malloc(len);
	out[0] = '\0';
	for (size_t i = 0; i < fp_n; i++) {
		strcat(out, fp_lines[i]);
		strcat(out, "\n");
		free(fp_lines[i]);
	}
	return out;
}

/* ---- the representative commit ---- */

static void make_base(const char *base)
{
	ck_assert_int_eq(bfs_sh(base, "set -e; echo keep >keep.txt; echo mod >mod.txt; "
				      "echo del >del.txt; mkdir -p dir_a/sub dir_del d2f; "
				      "echo x >dir_a/x; echo y >dir_a/y; echo z >dir_a/sub/z; "
				      "echo p >dir_del/p; echo q >dir_del/q; echo r >d2f/r; "
				      "echo f >f2d; echo c >chm.txt; echo a >xat.txt; "
				      "echo m >mv1; mkdir many; "
				      "for i in $(seq 1 20); do echo $i >many/f$i; done"),
			 0);
}

/* B's changes, made through the mount in branch dir b. */
static void change_branch(const char *b)
{
	ck_assert_int_eq(
		bfs_sh(b, "set -e; echo changed >mod.txt; rm del.txt; mv dir_a dir_renamed; "
			  "echo y2 >dir_renamed/y; rm -rf dir_del; rm -rf d2f; echo file >d2f; "
			  "rm f2d; mkdir f2d; echo s >f2d/s; chmod 600 chm.txt; "
			  "setfattr -n user.k -v v xat.txt; mv mv1 mv2; "
			  "mkdir -p new/a/b/c emptydir; echo deep >new/a/b/c/d; "
			  "echo h >h1; ln h1 h2; ln -s keep.txt sl; "
			  "for i in $(seq 1 10); do echo new$i >many/f$i; done; "
			  "for i in $(seq 11 15); do rm many/f$i; done; "
			  "for i in $(seq 21 25); do echo $i >many/f$i; done"),
		0);
}

struct scene {
	struct bfs_mount m;
	char ctl_b[4096];
	char before[1 << 16];
};

/* Base + branch B with its changes + live sibling S; stopped with keep. */
static void scene_setup(struct scene *s)
{
	char dir[4096], ctl[4096];
	unsigned int keep = 1;
	char *fp;
	int fd;

	bfs_mount_prepare(&s->m);
	make_base(s->m.base);
	bfs_mount_start(&s->m, NULL);
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &s->m, NULL), "create:S"), 0);
	ck_assert_int_eq(bfs_ctl(ctl, "create:B"), 0);
	change_branch(bfs_branch_dir(dir, &s->m, "B"));
	fp = fingerprint(s->m.base);
	snprintf(s->before, sizeof(s->before), "%s", fp);
	free(fp);
	fd = open(ctl, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, FS_IOC_BRANCH_SET_KEEP, &keep), 0);
	close(fd);
	bfs_mount_stop(&s->m);
	bfs_ctl_path(s->ctl_b, &s->m, "B");
}

static char *expected;

/* The result of the commit without faults. */
static void compute_expected(void)
{
	struct scene s;

	scene_setup(&s);
	bfs_mount_start(&s.m, NULL);
	ck_assert_int_eq(bfs_ioc_commit(s.ctl_b), 0);
	expected = fingerprint(s.m.base);
	bfs_mount_stop(&s.m);
	ck_assert_str_ne(expected, s.before);
}

/* After recovery: S (live sibling) still reads its snapshot and is stale. */
static void check_sibling(struct scene *s, bool applied)
{
	char path[4096], ctl[4096];
	char *c;

	snprintf(path, sizeof(path), "%s/@S/mod.txt", s->m.mnt);
	c = bfs_read_file(path);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c, "mod\n");
	free(c);
	snprintf(path, sizeof(path), "%s/@S/dir_a/sub/z", s->m.mnt);
	ck_assert(bfs_exists(path));
	snprintf(path, sizeof(path), "%s/@S/dir_del/p", s->m.mnt);
	ck_assert(bfs_exists(path));
	if (applied)
		ck_assert_int_eq(bfs_ioc_commit(bfs_ctl_path(ctl, &s->m, "S")), -ESTALE);
}

/*
 * Kill the commit at the n-th pass of point; return false when the commit
 * completed without reaching it (n is past the last pass).
 */
static bool crash_at(const char *point, int n, bool expect_applied)
{
	char fault[128], *after;
	struct scene s;
	bool died;
	int ret;

	scene_setup(&s);
	snprintf(fault, sizeof(fault), "%s:%d", point, n);
	bfs_mount_start_daemon(&s.m, BFS_FAULT_DAEMON_PATH, fault, NULL);
	ret = bfs_ioc_commit(s.ctl_b);
	died = ret != 0;
	/* Past the last pass the commit completes: stop the same hard way, so
	 * the sibling is kept there too (a clean unmount would discard it). */
	bfs_mount_crash(&s.m);
	/* The next mount finishes or forgets the commit before serving. */
	bfs_mount_start(&s.m, NULL);
	after = fingerprint(s.m.base);
	if (expect_applied || !died) {
		ck_assert_msg(!strcmp(after, expected), "%s: base differs from the commit:\n%s",
			      fault, after);
		ck_assert(!bfs_exists(bfs_branch_dir((char[4096]){ 0 }, &s.m, "B")));
	} else {
		ck_assert_msg(!strcmp(after, s.before), "%s: base changed:\n%s", fault, after);
		ck_assert(bfs_exists(bfs_branch_dir((char[4096]){ 0 }, &s.m, "B")));
	}
	check_sibling(&s, expect_applied || !died);
	free(after);
	bfs_mount_stop(&s.m);
	bfs_rm_rf(s.m.dir);
	return died;
}

static void sweep(const char *point, bool expect_applied, int min_runs)
{
	int n = 1;

	if (!expected)
		compute_expected();
	while (crash_at(point, n, expect_applied))
		n++;
	ck_assert_msg(n - 1 >= min_runs, "%s: only %d crash points reached", point, n - 1);
}

START_TEST(crash_before_journal_is_complete)
{
	sweep("journal-writing", false, 1);
}
END_TEST

START_TEST(crash_after_journal)
{
	sweep("journal-written", true, 1);
}
END_TEST

START_TEST(crash_after_each_op)
{
	sweep("op-applied", true, 30);
}
END_TEST

START_TEST(crash_inside_put)
{
	sweep("put-prepared", true, 10);
}
END_TEST

START_TEST(crash_inside_stage_in)
{
	sweep("stage-in-cleared", true, 1);
}
END_TEST

START_TEST(crash_after_preservation)
{
	sweep("preserved", true, 10);
}
END_TEST

START_TEST(crash_around_record)
{
	sweep("commit-applied", true, 1);
	sweep("commit-recorded", true, 1);
}
END_TEST

START_TEST(crash_during_copy_up)
{
	char ctl[4096], dir[4096], path[4096];
	struct bfs_mount m;
	DIR *d;
	struct dirent *de;
	int n, died = 0;

	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_sh(m.base, "for i in $(seq 1 8); do seq 1 20000 >f$i; done"), 0);
	bfs_mount_start(&m, NULL);
	ck_assert_int_eq(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "create:B"), 0);
	bfs_mount_stop(&m); /* without keep the branch would go: keep it */
	bfs_mount_start(&m, NULL);
	ck_assert_int_eq(bfs_ctl(ctl, "create:B"), 0);
	bfs_mount_crash(&m); /* a crash keeps branches */
	bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, "copy-built:4", NULL);
	for (n = 1; n <= 8; n++) {
		snprintf(path, sizeof(path), "f%d", n);
		if (bfs_sh(bfs_branch_dir(dir, &m, "B"), "echo appended >>%s", path)) {
			died = 1;
			break;
		}
	}
	ck_assert_msg(died, "the fault point was never reached");
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	/* Every file is whole: the original, or the original plus the line. */
	for (int i = 1; i <= 8; i++) {
		snprintf(path, sizeof(path), "%s/@B/f%d", m.mnt, i);
		ck_assert_int_eq(bfs_sh(NULL,
					"seq 1 20000 | cmp -s - '%s' || "
					"{ seq 1 20000; echo appended; } | cmp -s - '%s'",
					path, path),
				 0);
	}
	/* Half-built copies never outlive the crash. */
	snprintf(path, sizeof(path), "%s/work", m.storage);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		ck_assert_msg(de->d_name[0] == '.' &&
				      (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])),
			      "work/%s left behind", de->d_name);
	closedir(d);
	bfs_mount_stop(&m);
}
END_TEST

/* Does the state log name layer id (a decimal string) anywhere? */
static bool named_in_log(const char *storage, const char *id)
{
	char path[4096], *log, *line, *save;
	bool found = false;

	snprintf(path, sizeof(path), "%s/state", storage);
	log = bfs_read_file(path);
	for (line = strtok_r(log, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tok, *tsave;
		int field = 0;

		if (line[0] != 'B' && line[0] != 'F')
			continue;
		/* B: layer ids are fields 9..; F: fields 6.. (after the counts). */
		for (tok = strtok_r(line, " ", &tsave); tok; tok = strtok_r(NULL, " ", &tsave)) {
			if (((line[0] == 'B' && field >= 9) || (line[0] == 'F' && field >= 6)) &&
			    !strcmp(tok, id))
				found = true;
			field++;
		}
	}
	free(log);
	return found;
}

START_TEST(crash_during_create)
{
	char ctl[4096], name[128], path[4096];
	struct bfs_mount m;
	struct dirent *de;
	DIR *d;
	int layers = 0;

	bfs_mount_prepare(&m);
	bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, "create-layered:2", NULL);
	ck_assert_int_eq(bfs_ioc_create(bfs_ctl_path(ctl, &m, NULL), name), 0);
	ck_assert_int_ne(bfs_ioc_create(ctl, path), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	/* The first branch survived the crash; the second never existed. */
	ck_assert(bfs_exists(bfs_branch_dir(path, &m, name)));
	ck_assert_int_eq(bfs_sh(m.mnt, "test $(ls -d @* | wc -l) -eq 1"), 0);
	/* The crashed creation's layer was swept: every layer directory the
	 * log does not name is an empty spare the daemon keeps ready. */
	snprintf(path, sizeof(path), "%s/layers", m.storage);
	d = opendir(path);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (named_in_log(m.storage, de->d_name)) {
			layers++;
			continue;
		}
		ck_assert_int_eq(bfs_sh(path, "test -z \"$(ls -A '%s')\"", de->d_name), 0);
	}
	closedir(d);
	ck_assert_int_eq(layers, 2); /* main's preservation layer + the branch's top */
	bfs_mount_stop(&m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("commit");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, crash_before_journal_is_complete);
	tcase_add_test(tc, crash_after_journal);
	tcase_add_test(tc, crash_after_each_op);
	tcase_add_test(tc, crash_inside_put);
	tcase_add_test(tc, crash_inside_stage_in);
	tcase_add_test(tc, crash_after_preservation);
	tcase_add_test(tc, crash_around_record);
	suite_add_tcase(s, tc);
	tc = tcase_create("other");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crash_during_copy_up);
	tcase_add_test(tc, crash_during_create);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	if (srunner_ntests_run(sr) == 0)
		failed = 1;
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
