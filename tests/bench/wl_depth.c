/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read latency against nesting depth, branchfs only.  One chain of nested
 * branches per depth (1 .. 32), each level writing one file of its own
 * before its child is made, so every level adds a non-empty frozen layer.
 * And a working branch after 1 and 1,000 rounds of a harness's loop (it
 * writes, makes a child, the child writes and is committed into it): each
 * round freezes a layer, which the daemon folds into the one below.  A
 * sample is the first read of a base file through the chain's leaf (or the
 * working branch): lookup, open, read 4 KiB, close, timed in this process.
 * Every file is read once per chain (the kernel has not cached it, the
 * daemon resolves it through the whole stack); the chains take turns file
 * by file.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_CHAINS 8

/* Make a chain of depth nested branches below main; the leaf's name in
 * leaf.  0 or -errno. */
static int make_chain(const struct bench_env *e, int depth, char leaf[BRANCHFS_NAME_BUF])
{
	char ctl[PATH_MAX], path[PATH_MAX + 160];
	int ret = bench_ioc_create(bench_ctl_path(ctl, e, NULL), leaf);

	for (int k = 2; !ret && k <= depth; k++) {
		snprintf(path, sizeof(path), "%s/@%s/level-%d", e->mnt, leaf, k - 1);
		ret = bench_write_file(path, 64, false);
		if (!ret)
			ret = bench_ioc_create(bench_ctl_path(ctl, e, leaf), leaf);
	}
	return ret;
}

/* A working branch in w after rounds rounds; 0 or -errno. */
static int make_rounds(const struct bench_env *e, int rounds, char w[BRANCHFS_NAME_BUF])
{
	char ctl[PATH_MAX], child[BRANCHFS_NAME_BUF], path[PATH_MAX + 160];
	int ret = bench_ioc_create(bench_ctl_path(ctl, e, NULL), w);

	for (int k = 0; !ret && k < rounds; k++) {
		snprintf(path, sizeof(path), "%s/@%s/round-%d", e->mnt, w, k % 8);
		ret = bench_write_file(path, 64, false);
		if (!ret)
			ret = bench_ioc_create(bench_ctl_path(ctl, e, w), child);
		if (!ret) {
			snprintf(path, sizeof(path), "%s/@%s/child-%d", e->mnt, child, k % 8);
			ret = bench_write_file(path, 64, false);
		}
		if (!ret)
			ret = bench_ioc(bench_ctl_path(ctl, e, child), FS_IOC_BRANCH_COMMIT);
	}
	return ret;
}

static void read_sample(struct bench_row *row, const char *path)
{
	char buf[4096];
	double t0 = bench_now();
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	double us;

	if (fd >= 0)
		close(fd);
	us = (bench_now() - t0) * 1e6;
	if (n != (ssize_t)sizeof(buf))
		bench_row_fail(row, BT_BRANCHFS, "read %s: %s", path,
			       n < 0 ? strerror(errno) : "short read");
	else
		bench_row_sample(row, BT_BRANCHFS, us);
}

void bench_wl_depth(struct bench_ctx *c)
{
	static const int full[] = { 1, 2, 4, 8, 32 }, quick[] = { 1, 2, 4 };
	static const int full_rounds[] = { 1, 1000 }, quick_rounds[] = { 1, 20 };
	const int *depth = c->o->quick ? quick : full;
	const int *rounds = c->o->quick ? quick_rounds : full_rounds;
	int nd = c->o->quick ? 3 : 5, n = nd + 2, files = c->o->quick ? 60 : 1000;
	struct bench_tree t = { .files = files, .per_dir = 100, .size = 4096 };
	char leaf[MAX_CHAINS][BRANCHFS_NAME_BUF], label[64], rel[PATH_MAX], path[2 * PATH_MAX];
	struct bench_row *row[MAX_CHAINS];
	struct bench_env e;

	for (int d = 0; d < n; d++) {
		if (d < nd)
			snprintf(label, sizeof(label), "first read at depth %d", depth[d]);
		else
			snprintf(label, sizeof(label), "first read after %d round%s",
				 rounds[d - nd], rounds[d - nd] > 1 ? "s" : "");
		row[d] = bench_row_add(
			c, label, "us", false,
			BTAB_DEPTH | (d == 0 || d == nd - 1 || d == n - 1 ? BTAB_MAIN : 0));
	}
	bench_env_setup(c, BT_BRANCHFS, "depth", bench_tree_fill, &t, BENV_NO_BRANCH, &e);
	for (int d = 0; d < n; d++) {
		int ret = !e.ok	   ? 0
			  : d < nd ? make_chain(&e, depth[d], leaf[d])
				   : make_rounds(&e, rounds[d - nd], leaf[d]);

		if (!e.ok)
			bench_row_fail(row[d], BT_BRANCHFS, "%s", e.error);
		else if (ret)
			bench_row_fail(row[d], BT_BRANCHFS, "making the chain: %s", strerror(-ret));
	}
	/* File by file, the chains taking turns: noise hits every chain alike. */
	for (int i = 0; e.ok && i < files; i++)
		for (int k = 0; k < n; k++) {
			int d = (i + k) % n;

			if (row[d]->error[BT_BRANCHFS][0])
				continue;
			snprintf(path, sizeof(path), "%s/@%s/%s", e.mnt, leaf[d],
				 bench_tree_path(rel, &t, i));
			read_sample(row[d], path);
		}
	bench_env_teardown(&e);
	snprintf(label, sizeof(label), "read ratio, depth %d / depth 1", depth[nd - 1]);
	bench_row_quotient(c, label, row[nd - 1], row[0], 1.2);
	snprintf(label, sizeof(label), "read ratio, %d rounds / 1 round", rounds[1]);
	bench_row_quotient(c, label, row[n - 1], row[nd], 1.2);
}
