/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash injection: the daemon is killed (SIGKILL) at the steps of a
 * representative commit, during copy-up, during branch creation and during
 * reclaim; the next mount must show each change either fully applied or
 * not at all, and lose nothing else.
 *
 * Uses branchfsd-fault, a test build whose fault points die when
 * BRANCHFSD_FAULT=point:N names them, or fail with an error when
 * BRANCHFSD_FAULT=point:N:ENOSPC does (fs/fault.c).
 *
 * The commit (into main, and into a parent branch) has thousands of files:
 * new, modified, deleted and renamed files, a renamed base directory with
 * changes inside, a deleted tree, new trees, a directory replaced by a file
 * and a file by a directory, both ways and back, hard links, a symlink, an
 * empty directory, mode and xattr changes; a live sibling makes the target
 * keep its snapshot while the commit lands.  Every fault point of the
 * commit is swept.  A point passed a few times is killed at every pass; one
 * passed thousands of times (once per op, per move, per preserved file) is
 * killed at its first and last SWEEP_EDGE passes and at SWEEP_MID passes
 * spread between: a run costs about two seconds, and every pass of every
 * point would be hours.  Each run starts from a copy of the same stopped
 * scene (base and storage as the daemon left them), so only the commit is
 * repeated.  A small scene sweeps the one path the big one cannot reach: a
 * renamed directory the parent removed after the branch was made, rebuilt
 * from the branch's snapshot by the commit.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <branchfs/ioctl.h>

#ifndef BFS_FAULT_DAEMON_PATH
#error "BFS_FAULT_DAEMON_PATH must name the branchfsd-fault binary"
#endif

/* Files in the big scene's base, and how the branch changes them. */
#define NMANY	   1200 /* many/f1..: 1-400 modified, 401-800 deleted, 801-900 renamed */
#define NTREE	   20	/* tree/dN/fM, N and M up to NTREE: renamed to moved/ */
#define NNEW_DIRS  10	/* newtree/dN/fM: 40 files each */
#define SWEEP_EDGE 3
#define SWEEP_MID  8

/* ---- fingerprints: what a user can observe of a tree ---- */

static char **fp_lines;
static size_t fp_n, fp_cap;
static size_t fp_root_len;

static unsigned long long hash_file(const char *path)
{
	unsigned long long h = 1469598103934665603ull;
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	close(fd);
	return n < 0 ? 0 : h;
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
		fp_cap = fp_cap ? fp_cap * 2 : 1024;
		fp_lines = realloc(fp_lines, fp_cap * sizeof(*fp_lines));
		ck_assert_ptr_nonnull(fp_lines);
	}
	fp_lines[fp_n++] = strdup(line);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted, newline-separated description of the tree at dir (malloc'd). */
static char *fingerprint(const char *dir)
{
	size_t len = 1;
	char *out, *end;

	fp_n = 0;
	fp_root_len = strlen(dir);
	ck_assert_msg(nftw(dir, fp_visit, 16, FTW_PHYS) == 0, "cannot walk %s: %s", dir,
		      strerror(errno));
	qsort(fp_lines, fp_n, sizeof(*fp_lines), cmp_str);
	for (size_t i = 0; i < fp_n; i++)
		len += strlen(fp_lines[i]) + 1;
	end = out = malloc(len);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < fp_n; i++) {
		end = stpcpy(end, fp_lines[i]);
		*end++ = '\n';
		free(fp_lines[i]);
	}
	*end = '\0';
	return out;
}

/* Fail unless the tree at dir is described by want. */
static void ck_fingerprint(const char *dir, const char *want, const char *what, const char *fault)
{
	char *now = fingerprint(dir);

	ck_assert_msg(!strcmp(now, want), "%s: %s differs: %s", fault, what,
		      bfs_str_diff(now, want));
	free(now);
}

static const char *at(const char *root, const char *rel)
{
	static char buf[16][4096];
	static int next;
	char *p = buf[next++ % 16];

	snprintf(p, 4096, "%s/%s", root, rel);
	return p;
}

static void set_keep(struct bfs_mount *m)
{
	char ctl[4096];
	unsigned int keep = 1;
	int fd = open(bfs_ctl_path(ctl, m, NULL), O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_sys(ioctl(fd, FS_IOC_BRANCH_SET_KEEP, &keep));
	close(fd);
}

/* ---- scenes: a stopped mount, kept as a pristine copy ---- */

struct scene {
	struct bfs_mount m;   /* every run uses these same paths */
	bool tmpfs;	      /* m.dir is a tmpfs of its own */
	bool other_fs;	      /* the base is on a tmpfs of its own, m.dir/other */
	char pristine[4096];  /* base/ and storage/ as the daemon left them */
	const char *target;   /* NULL: the commit goes into main, else this branch */
	const char *sibling;  /* a live sibling of the committer */
	char *base_before;    /* the base directory before the commit */
	char *target_before;  /* the target's view before and after a whole commit */
	char *target_after;   /* (main's: the base directory itself) */
	char *sibling_before; /* the sibling's view, which nothing may change */
	char *b_before;	      /* the committer's view, whole until it commits */
};

/*
 * A scratch directory for a scene, on a tmpfs of its own when one can be
 * mounted that keeps user xattrs (root, Linux 6.6 or later): every run
 * copies thousands of files back and forth, several times faster there.
 * With other_fs the base is on another tmpfs than the storage, so that a
 * commit into main copies instead of renaming.
 */
static void scene_prepare(struct scene *s, bool other_fs)
{
	char probe[4096];

	memset(s, 0, sizeof(*s));
	bfs_scratch(s->m.dir, sizeof(s->m.dir));
	s->tmpfs = mount("tmpfs", s->m.dir, "tmpfs", 0, "size=2g,mode=0755") == 0;
	bfs_path(probe, s->m.dir, "probe");
	if (s->tmpfs && (bfs_write_file(probe, "") || setxattr(probe, "user.p", "1", 1, 0))) {
		umount2(s->m.dir, MNT_DETACH);
		s->tmpfs = false;
	}
	unlink(probe);
	bfs_path(s->m.base, s->m.dir, "base");
	if (other_fs) {
		char other[4096];

		bfs_path(other, s->m.dir, "other");
		ck_sys(mkdir(other, 0755));
		ck_sys(mount("tmpfs", other, "tmpfs", 0, "size=1g,mode=0755"));
		s->other_fs = true;
		bfs_path(probe, other, "probe");
		ck_assert_msg(!bfs_write_file(probe, "") && !setxattr(probe, "user.p", "1", 1, 0),
			      "a tmpfs here keeps no user xattrs (Linux < 6.6?): the commit's "
			      "xattr changes cannot land in a base there");
		unlink(probe);
		bfs_path(s->m.base, other, "base");
	}
	bfs_path(s->m.storage, s->m.dir, "storage");
	bfs_path(s->m.mnt, s->m.dir, "mnt");
	ck_sys(mkdir(s->m.base, 0755));
	ck_sys(mkdir(s->m.mnt, 0755));
}

/* Save the stopped scene's base and storage. */
static void scene_save(struct scene *s)
{
	bfs_path(s->pristine, s->m.dir, "pristine");
	ck_sys(mkdir(s->pristine, 0700));
	ck_assert_int_eq(
		bfs_sh(NULL, "cp -a '%s' '%s' '%s/'", s->m.base, s->m.storage, s->pristine), 0);
}

/* Put the saved base and storage back, at the same paths. */
static void scene_restore(struct scene *s)
{
	ck_assert_int_eq(
		bfs_sh(NULL, "rm -rf '%s' '%s' && cp -a '%s/base' '%s' && cp -a '%s/storage' '%s'",
		       s->m.base, s->m.storage, s->pristine, s->m.base, s->pristine, s->m.storage),
		0);
}

/* The committer's parent as the user sees it. */
static const char *target_dir(struct scene *s)
{
	static char buf[4096];

	return s->target ? bfs_branch_dir(buf, &s->m, s->target) : s->m.base;
}

/* ---- the representative commit ---- */

static void make_base(const char *base)
{
	ck_assert_int_eq(bfs_sh(base,
				"set -e; echo keep >keep.txt; echo mod >mod.txt; "
				"echo del >del.txt; mkdir -p dir_a/sub dir_del d2f dfd; "
				"echo x >dir_a/x; echo y >dir_a/y; echo z >dir_a/sub/z; "
				"echo p >dir_del/p; echo q >dir_del/q; echo r >d2f/r; "
				"echo o >dfd/old; echo f >f2d; echo f >fdf; echo c >chm.txt; "
				"echo a >xat.txt; echo m >mv1; mkdir many; cd many; "
				"for i in $(seq 1 %d); do echo $i >f$i; done; cd ..; "
				"for d in $(seq 1 %d); do mkdir -p tree/d$d; for f in $(seq 1 %d); "
				"do echo $d.$f >tree/d$d/f$f; done; done",
				NMANY, NTREE, NTREE),
			 0);
}

/* The committer's changes, made through the mount in its directory b. */
static void change_branch(const char *b)
{
	ck_assert_int_eq(
		bfs_sh(b,
		       "set -e; echo changed >mod.txt; rm del.txt; mv dir_a dir_renamed; "
		       "echo y2 >dir_renamed/y; rm -rf dir_del; rm -rf d2f; echo file >d2f; "
		       "rm f2d; mkdir f2d; echo s >f2d/s; rm -rf dfd; echo tmp >dfd; rm dfd; "
		       "mkdir dfd; echo n >dfd/new; rm fdf; mkdir fdf; echo t >fdf/t; rm -rf fdf; "
		       "echo back >fdf; chmod 600 chm.txt; setfattr -n user.k -v v xat.txt; "
		       "mv mv1 mv2; mkdir -p new/a/b/c emptydir; echo deep >new/a/b/c/d; "
		       "echo h >h1; ln h1 h2; ln -s keep.txt sl; cd many; "
		       "for i in $(seq 1 400); do echo new$i >f$i; done; "
		       "for i in $(seq 401 800); do rm f$i; done; "
		       "for i in $(seq 801 900); do mv f$i r$i; done; "
		       "for i in $(seq 1 400); do echo $i >n$i; done; cd ..; "
		       "mv tree moved; rm -rf moved/d1; mkdir moved/d1; echo again >moved/d1/f; "
		       "for d in $(seq 2 6); do for f in $(seq 1 10); do "
		       "echo changed$d.$f >moved/d$d/f$f; done; rm moved/d$d/f20; "
		       "echo added >moved/d$d/g; done; "
		       "for d in $(seq 1 %d); do mkdir -p newtree/d$d; for f in $(seq 1 40); do "
		       "echo $d.$f >newtree/d$d/f$f; done; done",
		       NNEW_DIRS),
		0);
}

/* Into main: base, live sibling S, committer B with the changes. */
static void scene_main(struct scene *s, bool other_fs)
{
	char dir[4096];

	scene_prepare(s, other_fs);
	s->sibling = "S";
	make_base(s->m.base);
	bfs_mount_start(&s->m, NULL);
	ck_ret(bfs_branch_create(&s->m, NULL, "S"), 0);
	ck_ret(bfs_branch_create(&s->m, NULL, "B"), 0);
	change_branch(bfs_branch_dir(dir, &s->m, "B"));
	s->base_before = fingerprint(s->m.base);
	s->target_before = fingerprint(s->m.base);
	s->sibling_before = fingerprint(bfs_branch_dir(dir, &s->m, "S"));
	s->b_before = fingerprint(bfs_branch_dir(dir, &s->m, "B"));
	set_keep(&s->m);
	bfs_mount_stop(&s->m);
}

/* Into a branch: P (with changes of its own over the base), its live
 * child S2, and its child B with the changes. */
static void scene_nested(struct scene *s)
{
	char dir[4096];

	scene_prepare(s, false);
	s->target = "P";
	s->sibling = "S2";
	make_base(s->m.base);
	bfs_mount_start(&s->m, NULL);
	ck_ret(bfs_branch_create(&s->m, NULL, "P"), 0);
	ck_assert_int_eq(bfs_sh(bfs_branch_dir(dir, &s->m, "P"),
				"set -e; echo pmod >mod.txt; echo p >p.txt; rm keep.txt; "
				"for i in $(seq 1 50); do echo p$i >many/f$i; done; "
				"for i in $(seq 1101 1150); do rm many/f$i; done; "
				"echo p >tree/d3/p; mkdir pdir; echo p >pdir/p"),
			 0);
	ck_ret(bfs_branch_create(&s->m, "P", "S2"), 0);
	ck_ret(bfs_branch_create(&s->m, "P", "B"), 0);
	change_branch(bfs_branch_dir(dir, &s->m, "B"));
	s->base_before = fingerprint(s->m.base);
	s->target_before = fingerprint(bfs_branch_dir(dir, &s->m, "P"));
	s->sibling_before = fingerprint(bfs_branch_dir(dir, &s->m, "S2"));
	s->b_before = fingerprint(bfs_branch_dir(dir, &s->m, "B"));
	set_keep(&s->m);
	bfs_mount_stop(&s->m);
}

/* The target's view after the commit without faults. */
static void scene_expect(struct scene *s)
{
	char ctl[4096];

	scene_save(s);
	scene_restore(s);
	bfs_mount_start(&s->m, NULL);
	ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &s->m, "B")), 0);
	s->target_after = fingerprint(target_dir(s));
	bfs_mount_stop(&s->m);
	ck_assert_str_ne(s->target_after, s->target_before);
}

static struct scene scene;

static void setup_main(void)
{
	scene_main(&scene, false);
	scene_expect(&scene);
}

static void setup_main_other_fs(void)
{
	scene_main(&scene, true);
	scene_expect(&scene);
}

static void setup_nested(void)
{
	scene_nested(&scene);
	scene_expect(&scene);
}

/* After recovery: everything but the commit is as it was, and the commit
 * is all there (applied) or not at all. */
static void check_recovered(struct scene *s, bool applied, const char *fault)
{
	char dir[4096], ctl[4096];

	ck_fingerprint(target_dir(s), applied ? s->target_after : s->target_before,
		       s->target ? "@P" : "the base", fault);
	if (s->target)
		ck_fingerprint(s->m.base, s->base_before, "the base", fault);
	ck_fingerprint(bfs_branch_dir(dir, &s->m, s->sibling), s->sibling_before, "the sibling",
		       fault);
	if (applied) {
		ck_assert_msg(!bfs_exists(bfs_branch_dir(dir, &s->m, "B")), "%s: @B is back",
			      fault);
		ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &s->m, s->sibling)), -ESTALE);
	} else {
		ck_fingerprint(bfs_branch_dir(dir, &s->m, "B"), s->b_before, "@B", fault);
	}
}

/*
 * Kill the commit at the n-th pass of point (n = 0: only count the passes);
 * false when the commit completed without dying.
 */
static bool crash_at(struct scene *s, const char *point, long n, bool expect_applied)
{
	char fault[128], ctl[4096];
	bool died;
	int ret;

	scene_restore(s);
	snprintf(fault, sizeof(fault), "%s:%ld", point, n);
	bfs_mount_start_daemon(&s->m, BFS_FAULT_DAEMON_PATH, fault, NULL);
	ret = bfs_ioc_commit(bfs_ctl_path(ctl, &s->m, "B"));
	died = ret != 0;
	if (died)
		/* Any other failure would make the sweep prove nothing. */
		ck_assert_msg(bfs_mount_wait_killed(&s->m, 10),
			      "%s: the commit failed (%s) but the daemon was not killed", fault,
			      strerror(-ret));
	else
		/* Past the last pass the commit completes: stop the same hard
		 * way, so the sibling is kept there too. */
		bfs_mount_crash(&s->m);
	/* The next mount finishes or forgets the commit before serving. */
	bfs_mount_start(&s->m, NULL);
	check_recovered(s, expect_applied || !died, fault);
	/* The next run starts from the saved scene anyway: no need to wait
	 * for a clean unmount to discard the branches. */
	bfs_mount_crash(&s->m);
	return died;
}

/*
 * Count the passes of point in a whole commit (checked like the others),
 * then kill at each of the first and last SWEEP_EDGE passes and at about
 * SWEEP_MID evenly spaced ones between (an odd stride, so that kills do not
 * keep landing on the same kind of op).
 */
static void sweep(const char *point, bool expect_applied, long min_passes)
{
	char count[4096], *text;
	long passes, stride, n;
	int runs = 1;

	bfs_path(count, scene.m.dir, "passes");
	unlink(count);
	setenv("BRANCHFSD_FAULT_COUNT", count, 1);
	ck_assert_msg(!crash_at(&scene, point, 0, expect_applied), "%s:0 killed", point);
	unsetenv("BRANCHFSD_FAULT_COUNT");
	text = bfs_read_file(count);
	passes = text ? atol(text) : 0;
	free(text);
	ck_assert_msg(passes >= min_passes, "%s: only %ld passes", point, passes);
	stride = (passes - 2 * SWEEP_EDGE) / (SWEEP_MID + 1);
	stride = stride > 1 ? stride | 1 : 1;
	for (n = 1; n <= passes; runs++) {
		ck_assert_msg(crash_at(&scene, point, n, expect_applied),
			      "%s:%ld: the commit completed before that pass", point, n);
		if (n < SWEEP_EDGE || n >= passes - SWEEP_EDGE)
			n++;
		else if (n + stride > passes - SWEEP_EDGE)
			n = passes - SWEEP_EDGE + 1;
		else
			n += stride;
	}
	fprintf(stderr, "crash: %-6s %-16s %5ld passes, %3d runs\n",
		scene.target ? "nested" : "main", point, passes, runs);
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
	sweep("op-applied", true, 1500);
}
END_TEST

START_TEST(crash_inside_put)
{
	sweep("put-prepared", true, 1000);
}
END_TEST

START_TEST(crash_inside_stage_in)
{
	sweep("stage-in-cleared", true, 1);
}
END_TEST

START_TEST(crash_after_preservation)
{
	sweep("preserved", true, 900);
}
END_TEST

START_TEST(crash_inside_parent_copy_up)
{
	sweep("copy-built", true, 5);
	sweep("copy-placed", true, 5);
}
END_TEST

START_TEST(crash_around_record)
{
	sweep("commit-applied", true, 1);
	sweep("commit-recorded", true, 1);
}
END_TEST

/*
 * With the base on another filesystem, a commit into main copies each
 * object into a name beside its target and renames it over: a crash in
 * between leaves that name, which the next mount removes before it
 * finishes the commit (the fingerprint of the base would show it).
 */
START_TEST(crash_inside_copy_into_the_base)
{
	sweep("copy-built", true, 1000);
}
END_TEST

/* ---- a rename whose source the parent lost ---- */

/*
 * The committer renamed a directory its parent removed after the branch was
 * made: the commit rebuilds the directory from the committer's snapshot
 * (one copy per object), and a crash inside the rebuild must not land a
 * part of it.
 */
#define NLOST 10 /* lost/fN, and lost/sub/gN for N up to NLOST / 2 */

static void make_lost_base(const char *base)
{
	ck_assert_int_eq(bfs_sh(base,
				"set -e; echo keep >keep.txt; mkdir -p lost/sub; "
				"for i in $(seq 1 %d); do echo lost$i >lost/f$i; done; "
				"for i in $(seq 1 %d); do echo sub$i >lost/sub/g$i; done; "
				"setfattr -n user.k -v v lost/f1",
				NLOST, NLOST / 2),
			 0);
}

/* The committer renames the directory and changes a little inside. */
static void change_lost(const char *b)
{
	ck_assert_int_eq(bfs_sh(b, "set -e; mv lost found; echo changed >found/f2; "
				   "rm found/f3; echo new >found/new"),
			 0);
}

static void scene_lost_save(struct scene *s, const char *target)
{
	char dir[4096];

	s->base_before = fingerprint(s->m.base);
	s->target_before = fingerprint(target);
	s->sibling_before = fingerprint(bfs_branch_dir(dir, &s->m, s->sibling));
	s->b_before = fingerprint(bfs_branch_dir(dir, &s->m, "B"));
	set_keep(&s->m);
	bfs_mount_stop(&s->m);
}

/* Into main: main removes lost/ after S and B were made. */
static void setup_lost_main(void)
{
	char dir[4096];

	scene_prepare(&scene, false);
	scene.sibling = "S";
	make_lost_base(scene.m.base);
	bfs_mount_start(&scene.m, NULL);
	ck_ret(bfs_branch_create(&scene.m, NULL, "S"), 0);
	ck_ret(bfs_branch_create(&scene.m, NULL, "B"), 0);
	change_lost(bfs_branch_dir(dir, &scene.m, "B"));
	ck_assert_int_eq(bfs_sh(scene.m.mnt, "rm -rf lost"), 0);
	scene_lost_save(&scene, scene.m.base);
	scene_expect(&scene);
}

/* Into a branch: P removes lost/ after its children S2 and B were made. */
static void setup_lost_nested(void)
{
	char dir[4096];

	scene_prepare(&scene, false);
	scene.target = "P";
	scene.sibling = "S2";
	make_lost_base(scene.m.base);
	bfs_mount_start(&scene.m, NULL);
	ck_ret(bfs_branch_create(&scene.m, NULL, "P"), 0);
	ck_ret(bfs_branch_create(&scene.m, "P", "S2"), 0);
	ck_ret(bfs_branch_create(&scene.m, "P", "B"), 0);
	change_lost(bfs_branch_dir(dir, &scene.m, "B"));
	ck_assert_int_eq(bfs_sh(bfs_branch_dir(dir, &scene.m, "P"), "rm -rf lost"), 0);
	scene_lost_save(&scene, bfs_branch_dir(dir, &scene.m, "P"));
	scene_expect(&scene);
}

START_TEST(crash_inside_lost_source_rebuild)
{
	char want[4096];

	/* The rebuilt directory, under its new name, with the changes. */
	snprintf(want, sizeof(want), "/found/f%d 100644 0 0 %d 1 ", NLOST,
		 snprintf(NULL, 0, "lost%d\n", NLOST));
	ck_assert_msg(strstr(scene.target_after, want), "no %s in:\n%s", want, scene.target_after);
	ck_assert_ptr_null(strstr(scene.target_after, "/found/f3 "));
	ck_assert_ptr_null(strstr(scene.target_after, "branchfs-stage"));
	/* Every object of the rebuild is built and placed by one copy (into
	 * main in place, into a branch in storage/work). */
	sweep("copy-built", true, NLOST + NLOST / 2);
	sweep("copy-placed", true, NLOST + NLOST / 2);
	if (!scene.target) {
		sweep("stage-rebuilt", true, 1);
		sweep("stage-placed", true, 1);
	}
	sweep("op-applied", true, 5);
}
END_TEST

/* ---- copy-up ---- */

/* Each a change in @B that copies something up: deep parents, a directory's
 * attributes, a file's xattrs, file data, a rename below copied parents, a
 * hard-linked base file. */
static const char *const copy_ops[] = {
	"echo appended >>d1/d2/d3/f",
	"chmod 700 d4",
	"setfattr -n user.x -v 1 d5/g",
	"echo appended >>big",
	"mv d6/h d6/sub/h2",
	"echo appended >>hl1",
	"mkdir d1/d2/new && echo n >d1/d2/new/n",
};
#define NCOPY (sizeof(copy_ops) / sizeof(copy_ops[0]))

static char *copy_after[NCOPY + 1]; /* @B after the first k ops */

/* The sorted lines of a and of b, each once (both sorted). */
static char *union_lines(const char *a, const char *b)
{
	char *out = malloc(strlen(a) + strlen(b) + 1), *o = out;

	ck_assert_ptr_nonnull(out);
	while (*a || *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
		int c = !*a ? 1 : !*b ? -1 : strncmp(a, b, la < lb ? la + 1 : lb + 1);
		const char **take = c <= 0 ? &a : &b;
		size_t n = c <= 0 ? la : lb;

		memcpy(o, *take, n);
		o += n;
		*o++ = '\n';
		*take += n + ((*take)[n] == '\n');
		if (!c)
			b += lb + (b[lb] == '\n');
	}
	*o = '\0';
	return out;
}

static void setup_copy(void)
{
	char dir[4096];

	scene_prepare(&scene, false);
	ck_assert_int_eq(bfs_sh(scene.m.base,
				"set -e; mkdir -p d1/d2/d3 d4 d5 d6/sub; echo f >d1/d2/d3/f; "
				"chmod 750 d1/d2; setfattr -n user.d -v 2 d1/d2; echo g >d5/g; "
				"echo h >d6/h; seq 1 200000 >big; echo hl >hl1; ln hl1 hl2"),
			 0);
	bfs_mount_start(&scene.m, NULL);
	ck_ret(bfs_branch_create(&scene.m, NULL, "B"), 0);
	set_keep(&scene.m);
	bfs_mount_stop(&scene.m);
	scene_save(&scene);
	scene_restore(&scene);
	bfs_mount_start(&scene.m, NULL);
	bfs_branch_dir(dir, &scene.m, "B");
	copy_after[0] = fingerprint(dir);
	for (size_t i = 0; i < NCOPY; i++) {
		ck_assert_int_eq(bfs_sh(dir, "%s", copy_ops[i]), 0);
		copy_after[i + 1] = fingerprint(dir);
	}
	bfs_mount_stop(&scene.m);
}

/* Nothing half-built outlives a crash in storage/work. */
static void ck_work_empty(const char *storage, const char *fault)
{
	struct dirent *de;
	DIR *d = opendir(at(storage, "work"));

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		ck_assert_msg(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."),
			      "%s: work/%s left behind", fault, de->d_name);
	closedir(d);
}

/* fp without the lines whose path starts with prefix. */
static char *drop_lines(const char *fp, const char *prefix)
{
	char *out = strdup(fp), *o = out;

	ck_assert_ptr_nonnull(out);
	for (const char *l = fp; *l;) {
		size_t n = strcspn(l, "\n") + 1;

		if (strncmp(l, prefix, strlen(prefix))) {
			memcpy(o, l, n);
			o += n;
		}
		l += l[n - 1] ? n : n - 1;
	}
	*o = '\0';
	return out;
}

/* May @B (in dir) show now after a crash in copy_ops[done]? */
static bool copy_state_ok(size_t done, const char *now, const char *dir)
{
	char *a, *b;
	bool ok;

	if (!strcmp(now, copy_after[done]))
		return true;
	if (done == NCOPY)
		return false;
	if (!strcmp(now, copy_after[done + 1]))
		return true;
	/* A rename killed between placing the new name and hiding the old
	 * one shows both (rename.c: duplicated, never lost). */
	if (!strncmp(copy_ops[done], "mv ", 3)) {
		a = union_lines(copy_after[done], copy_after[done + 1]);
		ok = !strcmp(now, a);
		free(a);
		return ok;
	}
	/* A hard-linked file killed between placing the copy of one name and
	 * linking the others shows that name alone (one link), with the old
	 * data; the next copy-up of another name links to that copy, and the
	 * names are one file again (copyup.c). */
	if (strstr(copy_ops[done], "hl1")) {
		a = drop_lines(now, "/hl");
		b = drop_lines(copy_after[done], "/hl");
		ok = !strcmp(a, b) && !bfs_sh(dir, "cmp -s hl1 hl2 && echo healed >>hl2 && "
						   "test $(stat -c %%h hl1) = 2 && cmp -s hl1 hl2");
		free(a);
		free(b);
		return ok;
	}
	return false;
}

/* Kill at the n-th pass of point while the copy ops run; false when they
 * all ran without reaching it. */
static bool copy_crash_at(const char *point, int n)
{
	char fault[128], dir[4096];
	size_t done = 0;
	char *now;

	scene_restore(&scene);
	snprintf(fault, sizeof(fault), "%s:%d", point, n);
	bfs_mount_start_daemon(&scene.m, BFS_FAULT_DAEMON_PATH, fault, NULL);
	bfs_branch_dir(dir, &scene.m, "B");
	while (done < NCOPY && !bfs_sh(dir, "{ %s; } 2>/dev/null", copy_ops[done]))
		done++;
	if (done < NCOPY)
		ck_assert_msg(bfs_mount_wait_killed(&scene.m, 10),
			      "%s: '%s' failed but the daemon was not killed", fault,
			      copy_ops[done]);
	else
		bfs_mount_crash(&scene.m);
	bfs_mount_start(&scene.m, NULL);
	/* Every change that returned is there; the one killed is all there
	 * or not at all. */
	now = fingerprint(dir);
	ck_assert_msg(copy_state_ok(done, now, dir),
		      "%s: killed in '%s', @B shows neither before nor after it: %s", fault,
		      done < NCOPY ? copy_ops[done] : "(none)",
		      bfs_str_diff(now, copy_after[done]));
	free(now);
	ck_work_empty(scene.m.storage, fault);
	bfs_mount_stop(&scene.m);
	return done < NCOPY;
}

START_TEST(crash_during_copy_up)
{
	static const char *const points[] = { "copy-built", "copy-placed" };

	for (size_t i = 0; i < 2; i++) {
		int n = 1;

		while (copy_crash_at(points[i], n))
			n++;
		fprintf(stderr, "crash: copyup %-16s %5d passes, %3d runs\n", points[i], n - 1, n);
		ck_assert_msg(n - 1 >= 10, "%s: only %d passes", points[i], n - 1);
	}
}
END_TEST

/* ---- branch creation ---- */

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
	ck_assert(bfs_mount_wait_killed(&m, 10));
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

/*
 * The daemon dies while main's rename of a directory keeps the tree for a
 * live branch, one object at a time (preserve.c, keep_object), at the Nth
 * copy.  Mounted again, main still has the directory (the rename never
 * happened), the branch shows what it was made from, links included, and
 * the rename then works and leaves the branch alone.
 */
START_TEST(crash_while_main_moves_a_directory)
{
	static const int at_copy[] = { 1, 2, 7, 15, 24 };

	for (size_t i = 0; i < sizeof(at_copy) / sizeof(at_copy[0]); i++) {
		char fault[64], b[4096], *snap, *now;
		struct bfs_mount m;

		bfs_mount_prepare(&m);
		ck_assert_int_eq(bfs_sh(m.base,
					"mkdir -p tree/sub && for i in $(seq 12); do "
					"echo $i > tree/f$i; echo s$i > tree/sub/s$i; done && "
					"ln tree/f1 out1 && ln tree/f2 tree/sub/f2b"),
				 0);
		snprintf(fault, sizeof(fault), "copy-built:%d", at_copy[i]);
		bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, fault, NULL);
		ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
		bfs_branch_dir(b, &m, "b");
		snap = bfs_tree_dump(b, BFS_DUMP_NOCTL | BFS_DUMP_LINKS);
		ck_assert_int_ne(bfs_sh(m.mnt, "mv tree moved 2>/dev/null"), 0);
		ck_assert_msg(bfs_mount_wait_killed(&m, 10), "%s: the daemon was not killed",
			      fault);
		bfs_mount_start(&m, NULL);
		ck_assert_msg(bfs_exists(at(m.base, "tree/sub/s12")) &&
				      !bfs_exists(at(m.base, "moved")),
			      "%s: the base changed", fault);
		now = bfs_tree_dump(b, BFS_DUMP_NOCTL | BFS_DUMP_LINKS);
		ck_assert_msg(!strcmp(snap, now), "%s: b after the crash: %s", fault,
			      bfs_str_diff(snap, now));
		free(now);
		ck_assert_int_eq(bfs_sh(m.mnt, "mv tree moved && echo main > moved/f1"), 0);
		now = bfs_tree_dump(b, BFS_DUMP_NOCTL | BFS_DUMP_LINKS);
		ck_assert_msg(!strcmp(snap, now), "%s: b after the rename: %s", fault,
			      bfs_str_diff(snap, now));
		free(now);
		free(snap);
		ck_work_empty(m.storage, fault);
		bfs_mount_stop(&m);
	}
}
END_TEST

/* A child of P being created when the daemon dies: P's writes before and
 * after are all there. */
START_TEST(crash_during_nested_create)
{
	struct bfs_mount m;
	char p[4096], c[4096];

	bfs_mount_prepare(&m);
	ck_ret(bfs_write_file(at(m.base, "f"), "base\n"), 0);
	bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, "create-layered:2", NULL);
	ck_ret(bfs_branch_create(&m, NULL, "P"), 0);
	bfs_branch_dir(p, &m, "P");
	bfs_branch_dir(c, &m, "C");
	ck_ret(bfs_write_file(at(p, "f"), "p1\n"), 0);
	ck_ret(bfs_write_file(at(p, "g"), "g\n"), 0);
	ck_assert_int_ne(bfs_branch_create(&m, "P", "C"), 0);
	ck_assert(bfs_mount_wait_killed(&m, 10));
	bfs_mount_start(&m, NULL);
	ck_absent(c);
	ck_file_eq(at(p, "f"), "p1\n");
	ck_file_eq(at(p, "g"), "g\n");
	ck_ret(bfs_write_file(at(p, "f"), "p2\n"), 0);
	ck_ret(bfs_branch_create(&m, "P", "C"), 0);
	ck_ret(bfs_write_file(at(p, "h"), "h\n"), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(p, "f"), "p2\n");
	ck_file_eq(at(p, "h"), "h\n");
	ck_file_eq(at(c, "f"), "p2\n");
	ck_absent(at(c, "h"));
	ck_file_eq(at(m.base, "f"), "base\n");
	bfs_mount_stop(&m);
}
END_TEST

/*
 * A creation whose log record cannot be written (a full disk) fails whole:
 * the parent keeps writing into a layer the log names, so a crash later
 * loses none of it.  For a child of a branch that is the parent's top; for
 * a child of main, the preservation layer that keeps older branches'
 * snapshots.
 */
START_TEST(failed_create_loses_no_later_write)
{
	struct bfs_mount m;
	char p[4096], x[4096];

	bfs_mount_prepare(&m);
	ck_ret(bfs_write_file(at(m.base, "f"), "base f\n"), 0);
	ck_ret(bfs_write_file(at(m.base, "g"), "base g\n"), 0);
	bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, "create-logging:3:ENOSPC", NULL);
	bfs_branch_dir(p, &m, "P");
	bfs_branch_dir(x, &m, "X");
	ck_ret(bfs_branch_create(&m, NULL, "X"), 0);
	ck_ret(bfs_write_file(at(m.mnt, "f"), "main f\n"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "P"), 0);
	ck_ret(bfs_write_file(at(p, "a"), "a1\n"), 0);
	/* A child of P, then (with the counter past the fault) of main. */
	ck_ret(bfs_branch_create(&m, "P", "C"), -ENOSPC);
	ck_absent(bfs_branch_dir((char[4096]){ 0 }, &m, "C"));
	ck_ret(bfs_write_file(at(p, "a"), "a2\n"), 0);
	ck_ret(bfs_write_file(at(p, "b"), "b\n"), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(p, "a"), "a2\n");
	ck_file_eq(at(p, "b"), "b\n");
	ck_file_eq(at(x, "f"), "base f\n");
	bfs_mount_crash(&m); /* a clean unmount would discard the branches */

	bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, "create-logging:1:ENOSPC", NULL);
	/* main's newest preservation layer (P's) holds f's last version: a
	 * new child of main would get a new one, and fails. */
	ck_ret(bfs_write_file(at(m.mnt, "f"), "main f2\n"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "Y"), -ENOSPC);
	ck_absent(bfs_branch_dir((char[4096]){ 0 }, &m, "Y"));
	ck_ret(bfs_write_file(at(m.mnt, "g"), "main g\n"), 0);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_file_eq(at(x, "f"), "base f\n");
	ck_file_eq(at(p, "f"), "main f\n");
	ck_file_eq(at(x, "g"), "base g\n");
	ck_file_eq(at(p, "g"), "base g\n");
	ck_file_eq(at(m.mnt, "g"), "main g\n");
	bfs_mount_stop(&m);
}
END_TEST

/* ---- the commit record ---- */

/*
 * A commit applied whose record cannot be written (a full disk) returns
 * the error and stays pending: the next branch operation records it first
 * (a sibling is then stale), and so does the next mount after a crash.
 */
START_TEST(unrecorded_commit_stays_pending)
{
	struct bfs_mount m;
	char ctl_b[4096], ctl_s[4096];

	for (int crash = 0; crash < 2; crash++) {
		bfs_mount_prepare(&m);
		ck_ret(bfs_write_file(at(m.base, "f"), "base\n"), 0);
		bfs_mount_start_daemon(&m, BFS_FAULT_DAEMON_PATH, "commit-recording:1:ENOSPC",
				       NULL);
		bfs_ctl_path(ctl_b, &m, "B");
		bfs_ctl_path(ctl_s, &m, "S");
		ck_ret(bfs_branch_create(&m, NULL, "S"), 0);
		ck_ret(bfs_branch_create(&m, NULL, "B"), 0);
		ck_ret(bfs_write_file(at(bfs_branch_dir((char[4096]){ 0 }, &m, "B"), "f"), "b\n"),
		       0);
		ck_ret(bfs_ioc_commit(ctl_b), -ENOSPC);
		ck_file_eq(at(m.base, "f"), "b\n");
		if (crash) {
			bfs_mount_crash(&m);
			bfs_mount_start(&m, NULL);
		}
		ck_ret(bfs_ioc_commit(ctl_s), -ESTALE);
		ck_absent(bfs_branch_dir((char[4096]){ 0 }, &m, "B"));
		ck_file_eq(at(m.base, "f"), "b\n");
		bfs_mount_crash(&m);
		bfs_mount_start(&m, NULL);
		ck_ret(bfs_ioc_commit(ctl_s), -ESTALE);
		ck_absent(bfs_branch_dir((char[4096]){ 0 }, &m, "B"));
		bfs_mount_stop(&m);
		bfs_rm_rf(m.dir);
	}
}
END_TEST

/* ---- reclaim ---- */

/* Disk use of dir in KiB. */
static long long du_kib(const char *dir)
{
	char out[4096], *s;
	long long kib;

	snprintf(out, sizeof(out), "%s.du", dir);
	ck_assert_int_eq(bfs_sh(NULL, "du -sk '%s' | cut -f1 >'%s'", dir, out), 0);
	s = bfs_read_file(out);
	ck_assert_ptr_nonnull(s);
	kib = atoll(s);
	free(s);
	unlink(out);
	return kib;
}

/*
 * Branches @kept (a few small files) and @big (what fill writes) beside
 * the base, the daemon running with fault armed; what must survive is
 * fingerprinted, and the storage's size before the branches noted.
 */
struct reclaim_scene {
	struct bfs_mount m;
	const char *fault;
	char big[4096], kept[4096];
	char *base_before, *kept_before;
	long long idle;
};

static void reclaim_scene_start(struct reclaim_scene *s, const char *fault, const char *fill)
{
	s->fault = fault;
	bfs_mount_prepare(&s->m);
	ck_ret(bfs_write_file(at(s->m.base, "f"), "base\n"), 0);
	bfs_mount_start_daemon(&s->m, BFS_FAULT_DAEMON_PATH, fault, NULL);
	s->idle = du_kib(s->m.storage);
	ck_ret(bfs_branch_create(&s->m, NULL, "kept"), 0);
	ck_ret(bfs_branch_create(&s->m, NULL, "big"), 0);
	bfs_branch_dir(s->big, &s->m, "big");
	bfs_branch_dir(s->kept, &s->m, "kept");
	ck_assert_int_eq(bfs_sh(s->big, "%s", fill), 0);
	ck_assert_int_eq(bfs_sh(s->kept, "set -e; echo kept >f; mkdir d; seq 1 1000 >d/s"), 0);
	s->base_before = fingerprint(s->m.base);
	s->kept_before = fingerprint(s->kept);
}

static bool storage_idle(const struct reclaim_scene *s)
{
	return du_kib(s->m.storage) < s->idle + 1024 &&
	       bfs_sh(s->m.storage, "test -z \"$(ls -A trash)\"") == 0;
}

/* After the crash, @big aborted: mounted again, the storage comes back to
 * its size before the branches, @big is gone, the base and @kept whole. */
static void reclaim_scene_check(struct reclaim_scene *s)
{
	bfs_mount_start(&s->m, NULL);
	for (int i = 0; i < 100 && !storage_idle(s); i++)
		usleep(100 * 1000);
	ck_assert_msg(storage_idle(s), "storage still holds %lld KiB",
		      du_kib(s->m.storage) - s->idle);
	ck_absent(s->big);
	ck_fingerprint(s->kept, s->kept_before, "@kept", s->fault);
	ck_fingerprint(s->m.base, s->base_before, "the base", s->fault);
	free(s->base_before);
	free(s->kept_before);
	bfs_mount_stop(&s->m);
}

/*
 * The daemon dies while it deletes an aborted branch in the background:
 * the next mount finishes the deletion (the space comes back) and every
 * other branch and the base are whole.
 */
START_TEST(crash_during_reclaim)
{
	struct reclaim_scene s;

	reclaim_scene_start(&s, "reclaim-step:10",
			    "set -e; for d in $(seq 1 20); do mkdir d$d; "
			    "for f in $(seq 1 50); do head -c 8192 /dev/urandom >d$d/f$f; "
			    "done; done");
	ck_ret(bfs_ioc_abort(bfs_ctl_path((char[4096]){ 0 }, &s.m, "big")), 0);
	/* The tenth of the branch's twenty directories removed: killed. */
	ck_assert_msg(bfs_mount_wait_killed(&s.m, 20), "the daemon did not die while reclaiming");
	ck_assert_int_eq(bfs_sh(s.m.storage, "test -n \"$(ls -A trash)\""), 0);
	ck_assert_msg(du_kib(s.m.storage) > s.idle + 2000, "little was left to reclaim: %lld KiB",
		      du_kib(s.m.storage) - s.idle);
	reclaim_scene_check(&s);
}
END_TEST

/*
 * A layer let go of is handed over to be moved to the trash after the
 * reply: killed in between, the layer stays in layers/ with no record
 * naming it, and the next mount sweeps it.  Nothing else is touched.
 */
START_TEST(crash_before_layer_is_trashed)
{
	struct reclaim_scene s;

	reclaim_scene_start(&s, "layer-handed-over:1",
			    "set -e; for f in $(seq 1 40); do head -c 65536 /dev/urandom >f$f; "
			    "done");
	/* The reply may or may not have gone out before the kill. */
	bfs_ioc_abort(bfs_ctl_path((char[4096]){ 0 }, &s.m, "big"));
	ck_assert_msg(bfs_mount_wait_killed(&s.m, 20),
		      "the daemon did not die handing a layer over");
	ck_assert_int_eq(bfs_sh(s.m.storage, "test -z \"$(ls -A trash)\""), 0);
	ck_assert_msg(du_kib(s.m.storage) > s.idle + 2000, "the layer was not left in layers/");
	reclaim_scene_check(&s);
}
END_TEST

/* ---- folding layers ---- */

/*
 * The daemon started with fault, P wrote, made a child that went away,
 * wrote over its first changes (each kind of object over each kind), and
 * makes C: after the reply the daemon folds P's two frozen layers into
 * one.  Returns what P showed before C was made.
 */
/* Directories whose times the dumps do not compare. */
static const char *const fold_dirs[] = { ".", "d", "d/sub", "nd", "old" };
#define NFOLD_DIRS (sizeof(fold_dirs) / sizeof(fold_dirs[0]))

static void dir_times(const char *root, struct timespec *mt)
{
	struct stat st;

	for (size_t i = 0; i < NFOLD_DIRS; i++) {
		ck_assert_int_eq(stat(at(root, fold_dirs[i]), &st), 0);
		mt[i] = st.st_mtim;
	}
}

static void ck_dir_times(const char *root, const struct timespec *want, const char *when)
{
	struct timespec now[NFOLD_DIRS];

	dir_times(root, now);
	for (size_t i = 0; i < NFOLD_DIRS; i++)
		ck_assert_msg(now[i].tv_sec == want[i].tv_sec && now[i].tv_nsec == want[i].tv_nsec,
			      "%s %s: %s's mtime changed", root, when, fold_dirs[i]);
}

static char *fold_scene(struct bfs_mount *m, const char *fault, char *p, char *c,
			struct timespec *mt)
{
	char ctl[4096], *want;

	bfs_mount_prepare(m);
	ck_assert_int_eq(bfs_sh(m->base,
				"mkdir -p d/sub old && for i in 1 2 3 4 5 6; do "
				"echo $i >d/f$i; echo $i >d/sub/s$i; done && echo o >old/o"),
			 0);
	bfs_mount_start_daemon(m, BFS_FAULT_DAEMON_PATH, fault, NULL);
	ck_ret(bfs_branch_create(m, NULL, "P"), 0);
	bfs_branch_dir(p, m, "P");
	bfs_branch_dir(c, m, "C");
	ck_assert_int_eq(bfs_sh(p, "set -e; echo p1 >d/f1; echo new >new; mkdir nd; echo x >nd/x; "
				   "rm d/f2 old/o; rmdir old; echo a >f2d; mkdir d2f; "
				   "echo in >d2f/in; ln -s t1 ln; ln d/f3 d/f3b"),
			 0);
	ck_ret(bfs_branch_create(m, "P", "C1"), 0);
	ck_ret(bfs_ioc_abort(bfs_ctl_path(ctl, m, "C1")), 0);
	ck_assert_int_eq(
		bfs_sh(p, "set -e; echo p2 >d/f1; echo back >d/f2; rm new; rm -r nd; "
			  "mkdir nd; echo y >nd/y; rm f2d; mkdir f2d; rm -r d2f; echo f >d2f; "
			  "mkdir old; echo n >old/n; echo s >d/sub/s9; chmod 700 d; "
			  "setfattr -n user.k -v v d; rm ln; ln -s t2 ln; mkfifo ff; "
			  "echo 2 >>d/f3b; chmod 751 ."),
		0);
	want = bfs_tree_dump(p, BFS_DUMP_NOCTL | BFS_DUMP_ALL);
	dir_times(p, mt);
	ck_ret(bfs_branch_create(m, "P", "C"), 0);
	return want;
}

static void ck_shows(const char *dir, const char *want, const char *when)
{
	char *now = bfs_tree_dump(dir, BFS_DUMP_NOCTL | BFS_DUMP_ALL);

	ck_assert_msg(!strcmp(want, now), "%s %s: %s", dir, when, bfs_str_diff(want, now));
	free(now);
}

/* How many layers the state log gives branch P (hex name 50). */
static int log_layers_now(const char *storage)
{
	char path[4096], *log, *line, *save;
	int nlayers = -1;

	snprintf(path, sizeof(path), "%s/state", storage);
	log = bfs_read_file(path);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *name = strrchr(line, ' ');
		int n;

		if (line[0] == 'B' && name && !strcmp(name, " 50") &&
		    sscanf(line, "B %*u %*u %*u %*u %*u %*u %*d %d", &n) == 1)
			nlayers = n;
	}
	free(log);
	return nlayers;
}

/* The fold runs after the reply to a control request: wait up to 5 s for
 * the log to give P want layers; how many it gives then. */
static int log_layers_of_p(const char *storage, int want)
{
	int n = -1;

	for (int i = 0; i < 500 && (n = log_layers_now(storage)) != want; i++)
		usleep(10000);
	return n;
}

/*
 * The fold killed at the nth pass of point (n 0: not killed).  Mounted again, P and
 * C show what P showed when C was made, before and after the new daemon
 * finishes the fold, and C's commit lands in P.  True when it died.
 */
static bool fold_crash_at(const char *point, long n)
{
	char fault[64], ctl[4096], p[4096], c[4096], *want;
	struct timespec mt[NFOLD_DIRS];
	struct bfs_mount m;
	bool died = false;

	snprintf(fault, sizeof(fault), "%s:%ld", point, n);
	want = fold_scene(&m, fault, p, c, mt);
	if (n) {
		died = bfs_mount_wait_killed(&m, 10);
		if (!died)
			bfs_mount_crash(&m);
		bfs_mount_start(&m, NULL);
	}
	ck_shows(p, want, fault);
	ck_shows(c, want, fault);
	ck_dir_times(p, mt, fault);
	ck_dir_times(c, mt, fault);
	/* A control request: the fold is done after it. */
	ck_ret(bfs_branch_create(&m, NULL, "other"), 0);
	ck_assert_int_eq(log_layers_of_p(m.storage, 2), 2);
	ck_shows(c, want, fault);
	ck_dir_times(c, mt, fault);
	ck_assert_int_eq(bfs_sh(c, "echo c >d/f1 && echo c >nd/c"), 0);
	ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "C")), 0);
	ck_file_eq(at(p, "d/f1"), "c\n");
	ck_file_eq(at(p, "nd/y"), "y\n");
	ck_absent(at(p, "old/o"));
	free(want);
	ck_work_empty(m.storage, fault);
	bfs_mount_stop(&m);
	bfs_rm_rf(m.dir);
	return died;
}

/* The daemon dies at each step of a fold, and once it is recorded:
 * nothing shows it. */
START_TEST(crash_during_fold)
{
	char count[4096], *text;
	long passes, n;

	bfs_scratch(count, sizeof(count));
	strcat(count, "/passes");
	setenv("BRANCHFSD_FAULT_COUNT", count, 1);
	ck_assert(!fold_crash_at("fold-step", 0));
	unsetenv("BRANCHFSD_FAULT_COUNT");
	text = bfs_read_file(count);
	passes = text ? atol(text) : 0;
	free(text);
	ck_assert_msg(passes >= 20, "fold-step: only %ld passes", passes);
	for (n = 1; n <= passes; n++)
		ck_assert_msg(fold_crash_at("fold-step", n), "fold-step:%ld: the fold ended before",
			      n);
	fprintf(stderr, "crash: fold   %-16s %5ld passes, %3ld runs\n", "fold-step", passes, n);
	/* Recorded, the emptied layer not yet let go of: the mount sweeps it. */
	ck_assert(fold_crash_at("fold-recorded", 1));
}
END_TEST

/* The log cannot take the fold's record (a full disk): the stacks stay as
 * they were, and the next control request folds them. */
START_TEST(a_fold_that_cannot_be_recorded_changes_nothing)
{
	char p[4096], c[4096], *want;
	struct timespec mt[NFOLD_DIRS];
	struct bfs_mount m;

	want = fold_scene(&m, "fold-logging:1:ENOSPC", p, c, mt);
	ck_shows(p, want, "unrecorded");
	ck_shows(c, want, "unrecorded");
	ck_assert_int_eq(log_layers_of_p(m.storage, 3), 3);
	ck_ret(bfs_branch_create(&m, NULL, "other"), 0);
	ck_assert_int_eq(log_layers_of_p(m.storage, 2), 2);
	ck_shows(p, want, "folded");
	ck_shows(c, want, "folded");
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	ck_shows(c, want, "mounted again");
	free(want);
	bfs_mount_stop(&m);
	bfs_rm_rf(m.dir);
}
END_TEST

static void teardown_scene(void)
{
	/* The tests ran in child processes: any daemon they left is theirs. */
	bfs_sh(NULL, "fusermount3 -uz '%s' 2>/dev/null", scene.m.mnt);
	if (scene.other_fs)
		umount2(at(scene.m.dir, "other"), MNT_DETACH);
	if (scene.tmpfs)
		umount2(scene.m.dir, MNT_DETACH);
	bfs_rm_rf(scene.m.dir);
	free(scene.base_before);
	free(scene.target_before);
	free(scene.target_after);
	free(scene.sibling_before);
	free(scene.b_before);
	for (size_t i = 0; i < sizeof(copy_after) / sizeof(copy_after[0]); i++) {
		free(copy_after[i]);
		copy_after[i] = NULL;
	}
	memset(&scene, 0, sizeof(scene));
}

/* A case of tests on one scene, made once (each test starts from its saved
 * copy), or of tests that make their own when setup is NULL. */
static void add_case(Suite *s, const char *name, void (*setup)(void), int timeout,
		     const TTest *const *tests, size_t n)
{
	TCase *tc = tcase_create(name);

	if (setup)
		tcase_add_unchecked_fixture(tc, setup, teardown_scene);
	tcase_set_timeout(tc, timeout);
	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
}

#define ADD_CASE(s, name, setup, timeout, ...)                                               \
	do {                                                                                 \
		const TTest *const tests_[] = { __VA_ARGS__ };                               \
		add_case(s, name, setup, timeout, tests_, sizeof(tests_) / sizeof(*tests_)); \
	} while (0)

static Suite *suite(void)
{
	Suite *s = suite_create("crash");

	ADD_CASE(s, "commit", setup_main, 120, crash_before_journal_is_complete,
		 crash_after_journal, crash_after_each_op, crash_inside_put, crash_inside_stage_in,
		 crash_after_preservation, crash_around_record);
	ADD_CASE(s, "main_other_fs", setup_main_other_fs, 120, crash_inside_copy_into_the_base,
		 crash_after_each_op);
	ADD_CASE(s, "nested", setup_nested, 120, crash_before_journal_is_complete,
		 crash_after_journal, crash_after_each_op, crash_inside_put, crash_inside_stage_in,
		 crash_inside_parent_copy_up, crash_around_record);
	ADD_CASE(s, "lost", setup_lost_main, 60, crash_inside_lost_source_rebuild);
	ADD_CASE(s, "lost_nested", setup_lost_nested, 60, crash_inside_lost_source_rebuild);
	ADD_CASE(s, "copyup", setup_copy, 120, crash_during_copy_up);
	ADD_CASE(s, "other", NULL, 60, crash_during_create, crash_during_nested_create,
		 crash_while_main_moves_a_directory, failed_create_loses_no_later_write,
		 unrecorded_commit_stays_pending, crash_during_reclaim,
		 crash_before_layer_is_trashed);
	ADD_CASE(s, "fold", NULL, 120, crash_during_fold,
		 a_fold_that_cannot_be_recorded_changes_nothing);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
