/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Branch creation latency, branchfs only: FS_IOC_BRANCH_CREATE timed from
 * this client process around the ioctl alone (the control file is already
 * open), one sample per create, each new branch aborted untimed.  Against
 * the base's size (one mount per size, all up at once), for a parent whose
 * top layer holds many new files (against a clean parent sampled the same
 * way: right after as many writes), and with open+close of the control
 * file included.
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

#define KiB	  1024ul
#define MiB	  (1024ul * 1024)
#define WARMUP	  5 /* untimed creates after each mount */
#define MAX_BASES 4

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

/* A mount whose creates are sampled; the parent's control file stays open. */
struct subject {
	struct bench_env e;
	struct bench_row *row;
	int fd;				/* control file of the parent */
	char parent[BRANCHFS_NAME_BUF]; /* "" for main */
};

/*
 * The changed parent's mount also holds a clean parent (a branch that never
 * writes) and a scratch branch: before each sample of the clean parent the
 * scratch branch gets as many new files as the changed parent got before
 * its sample, so both samples are the first creation after the same writes
 * and differ only in the parent.
 */
struct control {
	struct bench_row *row;
	int fd; /* control file of the clean parent */
	char scratch[BRANCHFS_NAME_BUF];
};

/* Mount a base of `files` files; the parent is main, or a child of it when
 * branch_parent.  Warms up with untimed creates: the first requests after a
 * mount look things up. */
static void subject_setup(struct bench_ctx *c, struct subject *s, const char *tag, int files,
			  bool branch_parent)
{
	struct bench_tree t = { .files = files, .per_dir = 100, .size = 64 };
	char ctl[PATH_MAX];
	int ret = 0;

	s->fd = -1;
	s->parent[0] = '\0';
	bench_env_setup(c, BT_BRANCHFS, tag, bench_tree_fill, &t, BENV_NO_BRANCH, &s->e);
	if (!s->e.ok) {
		bench_row_fail(s->row, BT_BRANCHFS, "%s", s->e.error);
		return;
	}
	if (branch_parent)
		ret = bench_ioc_create(bench_ctl_path(ctl, &s->e, NULL), s->parent);
	if (!ret) {
		s->fd = open(bench_ctl_path(ctl, &s->e, s->parent), O_RDONLY | O_CLOEXEC);
		ret = s->fd < 0 ? -errno : 0;
	}
	if (ret)
		bench_row_fail(s->row, BT_BRANCHFS, "preparing the parent: %s", strerror(-ret));
	for (int i = 0; s->fd >= 0 && i < WARMUP; i++)
		create_sample(s->row, &s->e, s->fd, false);
}

static void control_setup(struct subject *s, struct control *k)
{
	char clean[BRANCHFS_NAME_BUF], ctl[PATH_MAX];
	int ret;

	k->fd = -1;
	if (s->fd < 0)
		return;
	ret = bench_ioc_create(bench_ctl_path(ctl, &s->e, NULL), clean);
	if (!ret)
		ret = bench_ioc_create(bench_ctl_path(ctl, &s->e, NULL), k->scratch);
	if (!ret) {
		k->fd = open(bench_ctl_path(ctl, &s->e, clean), O_RDONLY | O_CLOEXEC);
		ret = k->fd < 0 ? -errno : 0;
	}
	if (ret)
		bench_row_fail(k->row, BT_BRANCHFS, "preparing the clean parent: %s",
			       strerror(-ret));
	for (int i = 0; k->fd >= 0 && i < WARMUP; i++)
		create_sample(k->row, &s->e, k->fd, false);
}

static void subject_teardown(struct subject *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	bench_env_teardown(&s->e);
}

/* Write `changes` new files into branch's top layer (directory c<round>). */
static int add_changes(struct subject *s, const char *branch, int round, int changes)
{
	struct bench_tree t = { .files = changes, .per_dir = 100, .size = 1024 };
	char dir[PATH_MAX + 160];
	int ret;

	snprintf(dir, sizeof(dir), "%s/@%s/c%d", s->e.mnt, branch, round);
	ret = bench_mkdirs(dir);
	return ret ? ret : bench_tree_fill(dir, &t);
}

/* One round on the changed parent's mount: its sample, then the clean
 * parent's after as many writes elsewhere. */
static void changed_round(struct subject *changed, struct control *k, int round, int changes)
{
	int ret = add_changes(changed, changed->parent, round, changes);

	if (ret) {
		bench_row_fail(changed->row, BT_BRANCHFS, "writing changes: %s", strerror(-ret));
		close(changed->fd);
		changed->fd = -1;
		return;
	}
	create_sample(changed->row, &changed->e, changed->fd, true);
	if (k->fd < 0)
		return;
	ret = add_changes(changed, k->scratch, round, changes);
	if (!ret) {
		create_sample(k->row, &changed->e, k->fd, true);
		return;
	}
	bench_row_fail(k->row, BT_BRANCHFS, "writing the scratch branch: %s", strerror(-ret));
	close(k->fd);
	k->fd = -1;
}

/* Every base size is mounted at once and the samples take turns, so slow
 * moments of a shared machine hit every size alike; `repeat` times along
 * the way the changed parent gets `changes` more files and one sample, and
 * so does the clean parent after as many writes elsewhere. */
static void sample_all(struct bench_ctx *c, struct subject *base, int n, struct subject *changed,
		       struct control *clean, struct bench_row *open_row, int samples, int changes)
{
	int every = samples / c->o->repeat > 0 ? samples / c->o->repeat : 1, rounds = 0;

	for (int s = 0; s < samples; s++) {
		for (int k = 0; k < n; k++) {
			struct subject *b = &base[(s + k) % n];

			if (b->fd >= 0)
				create_sample(b->row, &b->e, b->fd, true);
		}
		if (base[0].fd >= 0)
			create_open_sample(open_row, &base[0].e);
		if (s % every == 0 && changed->fd >= 0 && rounds < c->o->repeat)
			changed_round(changed, clean, rounds++, changes);
	}
}

void bench_wl_create(struct bench_ctx *c)
{
	static const int full[] = { 100, 1000, 10000, 100000 }, quick[] = { 100, 1000 };
	const int *sizes = c->o->quick ? quick : full;
	int n = c->o->quick ? 2 : MAX_BASES, samples = c->o->quick ? 20 : 200;
	int changes = c->o->quick ? 200 : 10000;
	struct subject base[MAX_BASES], changed;
	struct control clean;
	struct bench_row *open_row;
	char label[64], tag[32];

	for (int i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "create, base of %d files", sizes[i]);
		base[i].row = bench_row_add(c, label, "us", false,
					    BTAB_CREATE | (i == 0 || i == n - 1 ? BTAB_MAIN : 0));
		bench_row_check(base[i].row, BC_MAX_VALUE, 100);
	}
	open_row = bench_row_add(c, "create incl. open+close of ctl, 100 files", "us", false,
				 BTAB_CREATE);
	snprintf(label, sizeof(label), "create, parent with %d new files", changes);
	changed.row = bench_row_add(c, label, "us", false, BTAB_MAIN | BTAB_CREATE);
	bench_row_check(changed.row, BC_MAX_VALUE, 100);
	snprintf(label, sizeof(label), "create, clean parent, %d files written", changes);
	clean.row = bench_row_add(c, label, "us", false, BTAB_MAIN | BTAB_CREATE);
	for (int i = 0; i < n; i++) {
		snprintf(tag, sizeof(tag), "base%d", sizes[i]);
		subject_setup(c, &base[i], tag, sizes[i], false);
	}
	subject_setup(c, &changed, "changed", 100, true);
	control_setup(&changed, &clean);
	sample_all(c, base, n, &changed, &clean, open_row, samples, changes);
	for (int i = 0; i < n; i++)
		subject_teardown(&base[i]);
	if (clean.fd >= 0)
		close(clean.fd);
	subject_teardown(&changed);
	snprintf(label, sizeof(label), "create ratio, %d / %d base files", sizes[n - 1], sizes[0]);
	bench_row_quotient(c, label, base[n - 1].row, base[0].row, 1.2);
	bench_row_quotient(c, "create ratio, changed / clean parent", changed.row, clean.row, 1.2);
	bench_row_quotient(c, "create ratio, changed parent / 100 files", changed.row, base[0].row,
			   0);
}
