/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commit and abort latency against the size of the change, branchfs only.
 * Each sample: a fresh child of main, the change written into it (one new
 * file of 1 KiB .. 100 MiB, or many 1 KiB files; written and closed, not
 * synced, as an agent would), then FS_IOC_BRANCH_COMMIT or _ABORT timed from
 * this process around the ioctl alone.  A committed change is deleted again
 * through the mount root (main), untimed, so the base stays small.  Cases
 * are interleaved sample by sample.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KiB	      1024ul
#define MiB	      (1024ul * 1024)
#define MAX_CASES     8
#define SMALL_SAMPLES 50 /* per case up to 1 MiB; bigger ones get --repeat */

struct change {
	size_t size; /* of each file */
	int files;   /* 1: one file "x-N.bin"; more: a tree "x-N/" of them */
	int samples;
	double limit; /* target in us, 0 for none */
	struct bench_row *row;
};

static const char *fmt_size(char *out, size_t size)
{
	if (size >= MiB)
		snprintf(out, 32, "%zu MiB", size / MiB);
	else
		snprintf(out, 32, "%zu KiB", size / KiB);
	return out;
}

static int write_change(const struct change *ch, const char *dir, int i)
{
	struct bench_tree t = { .files = ch->files, .per_dir = 100, .size = ch->size };
	char path[PATH_MAX + 32];
	int ret;

	if (ch->files == 1) {
		snprintf(path, sizeof(path), "%s/x-%d.bin", dir, i);
		return bench_write_file(path, ch->size, false);
	}
	snprintf(path, sizeof(path), "%s/x-%d", dir, i);
	ret = bench_mkdirs(path);
	return ret ? ret : bench_tree_fill(path, &t);
}

/* Remove a committed change from main, through the mount. */
static void drop_change(const struct change *ch, const struct bench_env *e, int i)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/x-%d%s", e->mnt, i, ch->files == 1 ? ".bin" : "");
	if (ch->files == 1)
		unlink(path);
	else
		bench_rm_rf(path);
}

static void change_sample(struct change *ch, const struct bench_env *e, unsigned long cmd, int i)
{
	char name[BRANCHFS_NAME_BUF], ctl[PATH_MAX], dir[PATH_MAX];
	double us;
	int fd, ret;

	ret = bench_ioc_create(bench_ctl_path(ctl, e, NULL), name);
	if (ret) {
		bench_row_fail(ch->row, BT_BRANCHFS, "create: %s", strerror(-ret));
		return;
	}
	snprintf(dir, sizeof(dir), "%s/@%s", e->mnt, name);
	ret = write_change(ch, dir, i);
	fd = open(bench_ctl_path(ctl, e, name), O_RDONLY);
	if (ret || fd < 0) {
		bench_row_fail(ch->row, BT_BRANCHFS, "writing the change: %s",
			       strerror(ret ? -ret : errno));
		if (fd >= 0)
			close(fd);
		bench_ioc(ctl, FS_IOC_BRANCH_ABORT);
		return;
	}
	us = bench_timed_ioctl(fd, cmd, NULL);
	close(fd);
	if (us < 0) {
		bench_row_fail(ch->row, BT_BRANCHFS, "%s: %s",
			       cmd == FS_IOC_BRANCH_COMMIT ? "commit" : "abort",
			       strerror((int)-us));
		bench_ioc(ctl, FS_IOC_BRANCH_ABORT);
		return;
	}
	bench_row_sample(ch->row, BT_BRANCHFS, us);
	if (cmd == FS_IOC_BRANCH_COMMIT)
		drop_change(ch, e, i);
}

/* The cases of this run; n of them. */
static int cases(struct bench_ctx *c, bool commit, struct change *ch)
{
	static const size_t sizes[] = { 1 * KiB, 100 * KiB, 1 * MiB, 100 * MiB };
	int n = 0, small = c->o->quick ? 5 : SMALL_SAMPLES;

	for (int i = 0; i < (c->o->quick ? 3 : 4); i++)
		ch[n++] = (struct change){ .size = sizes[i],
					   .files = 1,
					   .samples = sizes[i] <= MiB ? small : c->o->repeat };
	if (!commit)
		ch[n++] = (struct change){ .size = KiB,
					   .files = c->o->quick ? 100 : 10000,
					   .samples = c->o->repeat };
	for (int i = 0; i < n; i++) {
		if (!commit)
			ch[i].limit = 200;
		else if (ch[i].size == KiB)
			ch[i].limit = 300;
		else if (ch[i].size == MiB)
			ch[i].limit = 1000;
	}
	return n;
}

static void run(struct bench_ctx *c, bool commit)
{
	struct bench_tree base = { .files = 100, .per_dir = 100, .size = 1024 };
	unsigned long cmd = commit ? FS_IOC_BRANCH_COMMIT : FS_IOC_BRANCH_ABORT;
	unsigned table = commit ? BTAB_COMMIT : BTAB_ABORT;
	struct change ch[MAX_CASES];
	int n = cases(c, commit, ch), most = 0;
	char label[64], size[32];
	struct bench_env e;

	for (int i = 0; i < n; i++) {
		if (ch[i].files == 1)
			snprintf(label, sizeof(label), "%s, 1 file of %s",
				 commit ? "commit" : "abort", fmt_size(size, ch[i].size));
		else
			snprintf(label, sizeof(label), "%s, %d files of %s",
				 commit ? "commit" : "abort", ch[i].files,
				 fmt_size(size, ch[i].size));
		ch[i].row = bench_row_add(c, label, "us", false,
					  table | (ch[i].limit > 0 ? BTAB_MAIN : 0));
		if (ch[i].limit > 0)
			bench_row_check(ch[i].row, BC_MAX_VALUE, ch[i].limit);
		most = ch[i].samples > most ? ch[i].samples : most;
	}
	bench_env_setup(c, BT_BRANCHFS, commit ? "commit" : "abort", bench_tree_fill, &base,
			BENV_NO_BRANCH, &e);
	for (int i = 0; !e.ok && i < n; i++)
		bench_row_fail(ch[i].row, BT_BRANCHFS, "%s", e.error);
	for (int s = 0; e.ok && s < most; s++)
		for (int i = 0; i < n; i++)
			if (s < ch[i].samples)
				change_sample(&ch[i], &e, cmd, s);
	bench_env_teardown(&e);
}

void bench_wl_commit(struct bench_ctx *c)
{
	run(c, true);
}

void bench_wl_abort(struct bench_ctx *c)
{
	run(c, false);
}
