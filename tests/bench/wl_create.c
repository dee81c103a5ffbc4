/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Branch creation latency, branchfs only: FS_IOC_BRANCH_CREATE timed from
 * this client process around the ioctl alone (the control file is already
 * open), one sample per create, each new branch aborted untimed.  Against
 * the base's size (a fresh mount each), for a parent whose top layer holds
 * many new files, and once with open+close of the control file included.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KiB    1024ul
#define MiB    (1024ul * 1024)
#define WARMUP 5 /* untimed creates after each mount */

double bench_timed_ioctl(int fd, unsigned long cmd, void *arg)
{
	double t0 = bench_now();

	if (ioctl(fd, cmd, arg) < 0)
		return -errno;
	return (bench_now() - t0) * 1e6;
}

/* Create a child of ctl's branch, timed (a sample in row when record); then
 * abort the child, untimed. */
static void create_sample(struct bench_row *row, const struct bench_env *e, int fd, bool record)
{
	char name[BRANCHFS_NAME_BUF] = "", ctl[PATH_MAX];
	double us = bench_timed_ioctl(fd, FS_IOC_BRANCH_CREATE, name);
	int ret;

	if (us < 0) {
		bench_row_fail(row, BT_BRANCHFS, "create: %s", strerror((int)-us));
		return;
	}
	if (record)
		bench_row_sample(row, BT_BRANCHFS, us);
	ret = bench_ioc(bench_ctl_path(ctl, e, name), FS_IOC_BRANCH_ABORT);
	if (ret)
		bench_row_fail(row, BT_BRANCHFS, "abort of the new branch: %s", strerror(-ret));
}

/* Same, the client opening and closing the root control file each time. */
static void create_open_sample(struct bench_row *row, const struct bench_env *e)
{
	char name[BRANCHFS_NAME_BUF], ctl[PATH_MAX];
	double t0 = bench_now();
	int ret = bench_ioc_create(bench_ctl_path(ctl, e, NULL), name);
	double us = (bench_now() - t0) * 1e6;

	if (!ret)
		ret = bench_ioc(bench_ctl_path(ctl, e, name), FS_IOC_BRANCH_ABORT);
	if (ret)
		bench_row_fail(row, BT_BRANCHFS, "%s", strerror(-ret));
	else
		bench_row_sample(row, BT_BRANCHFS, us);
}

/* One base size: a fresh mount over base files, samples creates of main. */
static struct bench_row *create_vs_base(struct bench_ctx *c, int files, int samples,
					unsigned tables)
{
	struct bench_tree t = { .files = files, .per_dir = 100, .size = 64 };
	struct bench_row *row, *open_row = NULL;
	struct bench_env e;
	char label[64], ctl[PATH_MAX];
	int fd;

	snprintf(label, sizeof(label), "create, base of %d files", files);
	row = bench_row_add(c, label, "us", false, tables);
	bench_row_check(row, BC_MAX_VALUE, 100);
	if (files == 100)
		open_row = bench_row_add(c, "create incl. open+close of ctl, 100 files", "us",
					 false, BTAB_CREATE);
	bench_env_setup(c, BT_BRANCHFS, "create", bench_tree_fill, &t, BENV_NO_BRANCH, &e);
	if (!e.ok) {
		bench_row_fail(row, BT_BRANCHFS, "%s", e.error);
		return row;
	}
	fd = open(bench_ctl_path(ctl, &e, NULL), O_RDONLY);
	if (fd < 0)
		bench_row_fail(row, BT_BRANCHFS, "open %s: %s", ctl, strerror(errno));
	/* The first requests after a mount look up and open things: not timed. */
	for (int i = 0; fd >= 0 && i < WARMUP; i++)
		create_sample(row, &e, fd, false);
	for (int i = 0; fd >= 0 && i < samples; i++) {
		create_sample(row, &e, fd, true);
		if (open_row)
			create_open_sample(open_row, &e);
	}
	if (fd >= 0)
		close(fd);
	bench_env_teardown(&e);
	return row;
}

/* Creates of a child of P, P's top layer holding `changes` new files each
 * time (written before every sample, untimed). */
static struct bench_row *create_vs_changes(struct bench_ctx *c, int changes)
{
	struct bench_tree base = { .files = 100, .per_dir = 100, .size = 64 };
	struct bench_tree t = { .files = changes, .per_dir = 100, .size = 1024 };
	char label[64], ctl[PATH_MAX], dir[PATH_MAX + 16];
	char parent[BRANCHFS_NAME_BUF];
	struct bench_row *row;
	struct bench_env e;
	int fd = -1, ret;

	snprintf(label, sizeof(label), "create, parent with %d new files", changes);
	row = bench_row_add(c, label, "us", false, BTAB_MAIN | BTAB_CREATE);
	bench_row_check(row, BC_MAX_VALUE, 100);
	bench_env_setup(c, BT_BRANCHFS, "parent", bench_tree_fill, &base, BENV_NO_BRANCH, &e);
	if (!e.ok) {
		bench_row_fail(row, BT_BRANCHFS, "%s", e.error);
		return row;
	}
	ret = bench_ioc_create(bench_ctl_path(ctl, &e, NULL), parent);
	if (!ret) {
		fd = open(bench_ctl_path(ctl, &e, parent), O_RDONLY);
		ret = fd < 0 ? -errno : 0;
	}
	for (int r = 0; !ret && r < c->o->repeat; r++) {
		snprintf(dir, sizeof(dir), "%s/@%s/c%d", e.mnt, parent, r);
		ret = bench_mkdirs(dir);
		if (!ret)
			ret = bench_tree_fill(dir, &t);
		if (!ret)
			create_sample(row, &e, fd, true);
	}
	if (ret)
		bench_row_fail(row, BT_BRANCHFS, "preparing the parent: %s", strerror(-ret));
	if (fd >= 0)
		close(fd);
	bench_env_teardown(&e);
	return row;
}

void bench_wl_create(struct bench_ctx *c)
{
	static const int full[] = { 100, 1000, 10000, 100000 }, quick[] = { 100, 1000 };
	const int *sizes = c->o->quick ? quick : full;
	int n = c->o->quick ? 2 : 4, samples = c->o->quick ? 20 : 200;
	struct bench_row *first = NULL, *last = NULL, *changed;
	char label[64];

	for (int i = 0; i < n; i++) {
		unsigned tables = BTAB_CREATE | (i == 0 || i == n - 1 ? BTAB_MAIN : 0);
		struct bench_row *r = create_vs_base(c, sizes[i], samples, tables);

		if (i == 0)
			first = r;
		last = r;
	}
	changed = create_vs_changes(c, c->o->quick ? 200 : 10000);
	snprintf(label, sizeof(label), "create ratio, %d / %d base files", sizes[n - 1], sizes[0]);
	bench_row_quotient(c, label, last, first, 1.2);
	bench_row_quotient(c, "create ratio, changed parent / 100 files", changed, first, 1.2);
}
