/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metadata workloads, on every target, repetitions interleaved:
 *   meta        create, stat, readdir, unlink of many small files in a branch
 *   links       many hard links to one file made, then removed, in a branch
 *   walk        readdir + lstat of a source tree in the base, cold and cached
 *   walk-linked the same of a tree whose files each have a second name in a
 *               store beside it (the layout of pnpm's node_modules)
 *   git-status  `git status` in a checkout committed in the base
 *   walk-100k   a 100,000-file tree walked twice, opening every file: the
 *               daemon must not run out of file descriptors
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMALL_FILE 100 /* bytes in each file of the meta workload */

enum meta_phase { PH_CREATE, PH_STAT, PH_READDIR, PH_UNLINK, PH_COUNT };

static int meta_create(const char *dir, int n)
{
	static const char data[SMALL_FILE] = "small file\n";
	char path[PATH_MAX + 16];

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%05d", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return -errno;
		if (write(fd, data, sizeof(data)) != (ssize_t)sizeof(data)) {
			close(fd);
			return -EIO;
		}
		if (close(fd))
			return -errno;
	}
	return n;
}

static int meta_stat(const char *dir, int n)
{
	char path[PATH_MAX + 16];
	struct stat st;

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%05d", dir, i);
		if (lstat(path, &st))
			return -errno;
		if (st.st_size != SMALL_FILE)
			return -EIO;
	}
	return n;
}

static int meta_readdir(const char *dir, int n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int count = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			count++;
	closedir(d);
	return count == n ? count : -EIO;
}

static int meta_unlink(const char *dir, int n)
{
	char path[PATH_MAX + 16];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%05d", dir, i);
		if (unlink(path))
			return -errno;
	}
	return n;
}

typedef int (*phase_fn)(const char *dir, int n);

/* One sample of each phase, in order, in a new directory of e. */
static void phases_sample(struct bench_row **rows, const phase_fn *phase, int nphase,
			  const struct bench_env *e, const char *tag, int r, int n)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s%d", e->dir, tag, r);
	if (mkdir(dir, 0755)) {
		for (int p = 0; p < nphase; p++)
			bench_row_fail(rows[p], e->t, "mkdir: %s", strerror(errno));
		return;
	}
	for (int p = 0; p < nphase; p++) {
		double t0 = bench_now();
		int ret = phase[p](dir, n);

		if (ret < 0) {
			bench_row_fail(rows[p], e->t, "%s", strerror(-ret));
			while (++p < nphase)
				bench_row_fail(rows[p], e->t, "not run: an earlier phase failed");
			return;
		}
		bench_row_sample(rows[p], e->t, ret / (bench_now() - t0));
	}
	rmdir(dir);
}

/* Every repetition of the phases on every target, interleaved. */
static void phases_run(struct bench_ctx *c, struct bench_row **rows, const phase_fn *phase,
		       int nphase, const char *tag, int n)
{
	struct bench_env envs[BT_COUNT];

	bench_envs_setup(c, tag, NULL, NULL, false, envs);
	for (int p = 0; p < nphase; p++)
		bench_row_env_errors(rows[p], envs);
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++)
			if (envs[bench_order(r, i)].ok)
				phases_sample(rows, phase, nphase, &envs[bench_order(r, i)], tag, r,
					      n);
	bench_envs_teardown(envs);
}

void bench_wl_meta(struct bench_ctx *c)
{
	static const char *const what[PH_COUNT] = { "create", "stat", "readdir", "unlink" };
	static const phase_fn phase[PH_COUNT] = { meta_create, meta_stat, meta_readdir,
						  meta_unlink };
	int n = c->o->quick ? 200 : 5000;
	struct bench_row *rows[PH_COUNT];
	char label[64];

	for (int p = 0; p < PH_COUNT; p++) {
		snprintf(label, sizeof(label), "%s %d small files", what[p], n);
		rows[p] = bench_row_add(c, label, "ops/s", true, BTAB_MAIN);
		bench_row_check(rows[p], BC_MIN_VS_OVERLAY, 2);
	}
	phases_run(c, rows, phase, PH_COUNT, "meta", n);
}

/* A file f and n more names of it, l00000 on. */
static int links_make(const char *dir, int n)
{
	char f[PATH_MAX + 16], path[PATH_MAX + 16];
	int fd;

	snprintf(f, sizeof(f), "%s/f", dir);
	fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || close(fd))
		return -errno;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/l%05d", dir, i);
		if (link(f, path))
			return -errno;
	}
	return n;
}

static int links_remove(const char *dir, int n)
{
	char path[PATH_MAX + 16];
	struct stat st;

	/* Through the newest name: the floor gives each name a node of its
	 * own, and its node of f still has the count of before. */
	snprintf(path, sizeof(path), "%s/l%05d", dir, n - 1);
	if (n && lstat(path, &st))
		return -errno;
	if (n && st.st_nlink != (nlink_t)n + 1)
		return -EIO;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/l%05d", dir, i);
		if (unlink(path))
			return -errno;
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	return unlink(path) ? -errno : n;
}

/* A file with thousands of names (stress-ng's link stressor makes 8,192):
 * each name made or removed must cost the same whatever the count. */
void bench_wl_links(struct bench_ctx *c)
{
	static const phase_fn phase[2] = { links_make, links_remove };
	int n = c->o->quick ? 200 : 10000;
	struct bench_row *rows[2];
	char label[64];

	for (int p = 0; p < 2; p++) {
		snprintf(label, sizeof(label), "%s %d names of one file", p ? "unlink" : "link", n);
		rows[p] = bench_row_add(c, label, "ops/s", true, BTAB_MAIN);
	}
	phases_run(c, rows, phase, 2, "links", n);
}

/* One timed walk into row; the entry count must be expect. */
static void walk_sample(struct bench_row *row, const struct bench_env *e, bool read_files,
			long expect)
{
	double t0 = bench_now();
	long n = bench_walk(e->dir, read_files);
	double dt = bench_now() - t0;

	if (n < 0)
		bench_row_fail(row, e->t, "walk: %s", strerror((int)-n));
	else if (n != expect)
		bench_row_fail(row, e->t, "walk saw %ld entries, expected %ld", n, expect);
	else
		bench_row_sample(row, e->t, n / dt);
}

/* Entries (files and directories) of tree t. */
static long tree_entries(const struct bench_tree *t)
{
	long leaves = t->per_dir ? (t->files + t->per_dir - 1) / t->per_dir : 0;
	long mids = t->fanout ? (leaves + t->fanout - 1) / t->fanout : 0;

	return t->files + leaves + mids;
}

/* Fill envs with fill(t) and sample a walk of n entries into cold (after
 * dropping the caches) and cached (right after) on every target. */
static void walk_rows(struct bench_ctx *c, const char *name, bench_fill_fn fill,
		      const struct bench_tree *t, long n, struct bench_row *cold,
		      struct bench_row *cached)
{
	struct bench_env envs[BT_COUNT];

	bench_envs_setup(c, name, fill, t, false, envs);
	bench_row_env_errors(cold, envs);
	bench_row_env_errors(cached, envs);
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++) {
			struct bench_env *e = &envs[bench_order(r, i)];

			if (!e->ok)
				continue;
			bench_ctx_cold(c, e);
			walk_sample(cold, e, false, n);
			walk_sample(cached, e, false, n);
		}
	bench_envs_teardown(envs);
}

void bench_wl_walk(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 8000, .per_dir = 40, .fanout = 20 };
	struct bench_row *cold, *cached;
	char label[64];

	if (c->o->quick)
		t = (struct bench_tree){ .files = 300, .per_dir = 20, .fanout = 5 };
	snprintf(label, sizeof(label), "walk %d-file tree, cold caches", t.files);
	cold = bench_row_add(c, label, "ent/s", true, BTAB_MAIN);
	bench_row_check(cold, BC_MIN_VS_OVERLAY, 2);
	snprintf(label, sizeof(label), "walk %d-file tree, cached", t.files);
	cached = bench_row_add(c, label, "ent/s", true, BTAB_MAIN);
	bench_row_check(cached, BC_MIN_VS_OVERLAY, 2);
	bench_row_check(cached, BC_MIN_VS_NATIVE, 0.8);
	walk_rows(c, "walk", bench_tree_fill, &t, tree_entries(&t), cold, cached);
}

/* Where bench_tree file i has its second name: store/NN/i. */
#define STORE_PER_DIR 1000

/* bench_fill_fn: a bench_tree whose files are also linked from store/. */
static int linked_fill(const char *dir, const void *arg)
{
	const struct bench_tree *t = arg;
	char rel[PATH_MAX], path[PATH_MAX + 8], link_path[PATH_MAX + 32];
	int ret = bench_tree_fill(dir, arg);

	for (int i = 0; !ret && i < t->files; i++) {
		snprintf(link_path, sizeof(link_path), "%s/store/%02d", dir, i / STORE_PER_DIR);
		if (i % STORE_PER_DIR == 0)
			ret = bench_mkdirs(link_path);
		bench_tree_path(rel, t, i);
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		snprintf(link_path + strlen(link_path), sizeof(link_path) - strlen(link_path),
			 "/%d", i);
		if (!ret && link(path, link_path))
			ret = -errno;
	}
	return ret;
}

void bench_wl_walk_linked(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 100000, .per_dir = 100, .fanout = 20 };
	struct bench_row *cold, *cached;
	char label[80];
	long n;

	if (c->o->quick)
		t = (struct bench_tree){ .files = 300, .per_dir = 20, .fanout = 5 };
	/* The tree, and the store: its directory, a directory per
	 * STORE_PER_DIR files, a name per file. */
	n = tree_entries(&t) + 1 + (t.files + STORE_PER_DIR - 1) / STORE_PER_DIR + t.files;
	snprintf(label, sizeof(label), "walk %d files linked from a store, cold", t.files);
	cold = bench_row_add(c, label, "ent/s", true, BTAB_MAIN);
	snprintf(label, sizeof(label), "walk %d files linked from a store, cached", t.files);
	cached = bench_row_add(c, label, "ent/s", true, BTAB_MAIN);
	walk_rows(c, "walk-linked", linked_fill, &t, n, cold, cached);
}

/* bench_fill_fn: a tree committed to a fresh git repository. */
static int git_fill(const char *dir, const void *arg)
{
	char *init[] = { "git", "init", "-q", NULL };
	char *add[] = { "git", "add", "-A", NULL };
	char *commit[] = {
		"git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit",
		"-q",  "-m", "checkout",	NULL
	};
	int ret = bench_tree_fill(dir, arg);

	if (!ret && (bench_run(dir, NULL, init) || bench_run(dir, NULL, add) ||
		     bench_run(dir, NULL, commit)))
		ret = -EIO;
	return ret;
}

static int git_status(const char *dir)
{
	char *argv[] = { "git", "-c", "safe.directory=*", "status", "--porcelain", NULL };

	return bench_run(dir, NULL, argv);
}

void bench_wl_git_status(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 10000, .per_dir = 50, .fanout = 20 };
	struct bench_env envs[BT_COUNT];
	struct bench_row *row;
	char label[64];

	if (c->o->quick)
		t = (struct bench_tree){ .files = 200, .per_dir = 20, .fanout = 5 };
	snprintf(label, sizeof(label), "git status, %d-file checkout", t.files);
	row = bench_row_add(c, label, "ms", false, BTAB_MAIN);
	bench_row_check(row, BC_MIN_VS_OVERLAY, 2);
	bench_envs_setup(c, "git", git_fill, &t, false, envs);
	bench_row_env_errors(row, envs);
	/* The first status refreshes the index (new st_dev / st_ino): not timed. */
	for (int i = 0; i < BT_COUNT; i++)
		if (envs[i].ok && git_status(envs[i].dir))
			bench_row_fail(row, i, "warm-up git status failed");
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++) {
			struct bench_env *e = &envs[bench_order(r, i)];
			double t0;
			int ret;

			if (!e->ok)
				continue;
			t0 = bench_now();
			ret = git_status(e->dir);
			if (ret)
				bench_row_fail(row, e->t, "git status exited with %d", ret);
			else
				bench_row_sample(row, e->t, (bench_now() - t0) * 1e3);
		}
	bench_envs_teardown(envs);
}

void bench_wl_walk_100k(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 100000, .per_dir = 200, .fanout = 25, .size = 64 };
	struct bench_row *walk[2];
	char label[64], note[200] = "daemon fds after the walks:";

	if (c->o->quick)
		t = (struct bench_tree){ .files = 2000, .per_dir = 100, .fanout = 5, .size = 64 };
	for (int w = 0; w < 2; w++) {
		snprintf(label, sizeof(label), "walk+read %d files, %s", t.files,
			 w ? "2nd walk" : "1st walk (cold)");
		walk[w] = bench_row_add(c, label, "ent/s", true, BTAB_MAIN);
		bench_row_check(walk[w], BC_OK, 0);
	}
	/* One target at a time: four 100k-file trees and caches would add up. */
	for (int i = 0; i < BT_COUNT; i++) {
		struct bench_env e;

		if (!bench_target_enabled(c->o, i))
			continue;
		bench_env_setup(c, i, "w100k", bench_tree_fill, &t, 0, &e);
		if (!e.ok) {
			bench_row_fail(walk[0], i, "%s", e.error);
			continue;
		}
		bench_ctx_cold(c, &e);
		walk_sample(walk[0], &e, true, tree_entries(&t));
		walk_sample(walk[1], &e, true, tree_entries(&t));
		if (e.pid > 0)
			snprintf(note + strlen(note), sizeof(note) - strlen(note), " %s %d",
				 bench_target_name[i], bench_count_fds(e.pid));
		bench_env_teardown(&e);
	}
	bench_row_note(walk[1], "%s", note);
}
