/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read latency against nesting depth, branchfs only.  One chain of nested
 * branches per depth (1 .. 32), each level writing one file of its own
 * before its child is made, so every level adds a non-empty frozen layer.
 * A sample is the first read of a base file through the chain's leaf:
 * lookup, open, read 4 KiB, close, timed in this process.  Every file is
 * read once per chain (the kernel has not cached it, the daemon resolves it
 * through the whole stack); the depths take turns file by file.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTHS 8

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
	const int *depth = c->o->quick ? quick : full;
	int nd = c->o->quick ? 3 : 5, files = c->o->quick ? 60 : 1000;
	struct bench_tree t = { .files = files, .per_dir = 100, .size = 4096 };
	char leaf[MAX_DEPTHS][BRANCHFS_NAME_BUF], label[64], rel[PATH_MAX], path[2 * PATH_MAX];
	struct bench_row *row[MAX_DEPTHS];
	struct bench_env e;

	for (int d = 0; d < nd; d++) {
		snprintf(label, sizeof(label), "first read at depth %d", depth[d]);
		row[d] = bench_row_add(c, label, "us", false,
				       BTAB_DEPTH | (d == 0 || d == nd - 1 ? BTAB_MAIN : 0));
	}
	bench_env_setup(c, BT_BRANCHFS, "depth", bench_tree_fill, &t, BENV_NO_BRANCH, &e);
	for (int d = 0; d < nd; d++) {
		int ret = e.ok ? make_chain(&e, depth[d], leaf[d]) : 0;

		if (!e.ok)
			bench_row_fail(row[d], BT_BRANCHFS, "%s", e.error);
		else if (ret)
			bench_row_fail(row[d], BT_BRANCHFS, "making the chain: %s", strerror(-ret));
	}
	/* File by file, the depths taking turns: noise hits every depth alike. */
	for (int i = 0; e.ok && i < files; i++)
		for (int k = 0; k < nd; k++) {
			int d = (i + k) % nd;

			if (row[d]->error[BT_BRANCHFS][0])
				continue;
			snprintf(path, sizeof(path), "%s/@%s/%s", e.mnt, leaf[d],
				 bench_tree_path(rel, &t, i));
			read_sample(row[d], path);
		}
	bench_env_teardown(&e);
	snprintf(label, sizeof(label), "read ratio, depth %d / depth 1", depth[nd - 1]);
	bench_row_quotient(c, label, row[nd - 1], row[0], 1.2);
}
