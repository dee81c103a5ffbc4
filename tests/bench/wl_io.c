/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data workloads, on every target, repetitions interleaved:
 *   read-warm    re-reads of files the branch did not change (page cache kept)
 *   read-cold    sequential reads of the same after dropping the caches
 *   write-fsync  one file written sequentially in 1 MiB writes, then fsync
 *   small-write  one file written in 4 KiB buffered writes, then close
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KiB	    1024ul
#define MiB	    (1024ul * 1024)
#define READ_BUF    (128 * KiB)
#define WARM_PASSES 4

/* Read every file of tree t below dir; bytes or -errno. */
static long long read_tree(const char *dir, const struct bench_tree *t)
{
	char rel[PATH_MAX], path[2 * PATH_MAX];
	long long total = 0;

	for (int i = 0; i < t->files; i++) {
		long long n;

		snprintf(path, sizeof(path), "%s/%s", dir, bench_tree_path(rel, t, i));
		n = bench_read_file(path, READ_BUF);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

static void read_sample(struct bench_row *row, const struct bench_env *e,
			const struct bench_tree *t, int passes)
{
	double t0 = bench_now(), dt;
	long long bytes = 0;

	for (int p = 0; p < passes; p++) {
		long long n = read_tree(e->dir, t);

		if (n < 0) {
			bench_row_fail(row, e->t, "read: %s", strerror((int)-n));
			return;
		}
		bytes += n;
	}
	dt = bench_now() - t0;
	if (bytes != (long long)(t->files * t->size * passes))
		bench_row_fail(row, e->t, "read %lld bytes, expected %zu", bytes,
			       t->files * t->size * passes);
	else
		bench_row_sample(row, e->t, bytes / 1e6 / dt);
}

void bench_wl_read_warm(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 16, .size = (c->o->quick ? 64 : 4096) * KiB };
	struct bench_env envs[BT_COUNT];
	struct bench_row *row;
	char label[64];

	snprintf(label, sizeof(label), "re-read %zu files x %zu KiB, %d passes", (size_t)t.files,
		 t.size / KiB, WARM_PASSES);
	row = bench_row_add(c, label, "MB/s", true, BTAB_MAIN);
	bench_row_check(row, BC_MIN_VS_NATIVE, 0.9);
	bench_envs_setup(c, "warm", bench_tree_fill, &t, false, envs);
	bench_row_env_errors(row, envs);
	for (int i = 0; i < BT_COUNT; i++)
		if (envs[i].ok && read_tree(envs[i].dir, &t) < 0)
			bench_row_fail(row, i, "warm-up read failed");
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++)
			if (envs[bench_order(r, i)].ok)
				read_sample(row, &envs[bench_order(r, i)], &t, WARM_PASSES);
	bench_envs_teardown(envs);
}

void bench_wl_read_cold(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 4, .size = (c->o->quick ? 512 * KiB : 32 * MiB) };
	struct bench_env envs[BT_COUNT];
	struct bench_row *row;
	char label[64];

	snprintf(label, sizeof(label), "cold read %zu files x %zu MiB", (size_t)t.files,
		 t.size / MiB ? t.size / MiB : 1);
	if (c->o->quick)
		snprintf(label, sizeof(label), "cold read %zu files x %zu KiB", (size_t)t.files,
			 t.size / KiB);
	row = bench_row_add(c, label, "MB/s", true, BTAB_MAIN);
	bench_row_check(row, BC_MIN_VS_NATIVE, 0.8);
	bench_envs_setup(c, "cold", bench_tree_fill, &t, false, envs);
	bench_row_env_errors(row, envs);
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++) {
			struct bench_env *e = &envs[bench_order(r, i)];

			if (!e->ok)
				continue;
			bench_ctx_cold(c, e);
			read_sample(row, e, &t, 1);
		}
	bench_envs_teardown(envs);
}

void bench_wl_write_fsync(struct bench_ctx *c)
{
	size_t size = c->o->quick ? 1 * MiB : 64 * MiB;
	struct bench_env envs[BT_COUNT];
	struct bench_row *row;
	char label[64], path[PATH_MAX];

	snprintf(label, sizeof(label), "write %zu MiB in 1 MiB writes + fsync", size / MiB);
	row = bench_row_add(c, label, "MB/s", true, BTAB_MAIN);
	bench_row_check(row, BC_MIN_VS_NATIVE, 0.6);
	bench_envs_setup(c, "wsync", NULL, NULL, false, envs);
	bench_row_env_errors(row, envs);
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++) {
			struct bench_env *e = &envs[bench_order(r, i)];
			double t0;
			int ret;

			if (!e->ok)
				continue;
			snprintf(path, sizeof(path), "%s/w-%d.bin", e->dir, r);
			t0 = bench_now();
			ret = bench_write_file(path, size, true);
			if (ret)
				bench_row_fail(row, e->t, "write+fsync: %s", strerror(-ret));
			else
				bench_row_sample(row, e->t, size / 1e6 / (bench_now() - t0));
			unlink(path);
		}
	bench_envs_teardown(envs);
}

/* Create path and fill it with size bytes in 4 KiB writes; 0 or -errno. */
static int small_writes(const char *path, size_t size)
{
	static const char block[4096] = { 'x' };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < size && !ret; off += sizeof(block)) {
		ssize_t n = write(fd, block, sizeof(block));

		if (n != (ssize_t)sizeof(block))
			ret = n < 0 ? -errno : -EIO;
	}
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

void bench_wl_small_write(struct bench_ctx *c)
{
	size_t size = c->o->quick ? 256 * KiB : 64 * MiB;
	struct bench_env envs[BT_COUNT];
	struct bench_row *row;
	char label[64], path[PATH_MAX];

	snprintf(label, sizeof(label), "write %zu KiB in 4 KiB writes (buffered)", size / KiB);
	row = bench_row_add(c, label, "MB/s", true, BTAB_MAIN);
	bench_row_check(row, BC_MIN_VS_NATIVE, 0.5);
	bench_envs_setup(c, "small", NULL, NULL, false, envs);
	bench_row_env_errors(row, envs);
	for (int r = 0; r < c->o->repeat; r++)
		for (int i = 0; i < BT_COUNT; i++) {
			struct bench_env *e = &envs[bench_order(r, i)];
			double t0;
			int ret;

			if (!e->ok)
				continue;
			snprintf(path, sizeof(path), "%s/s-%d.bin", e->dir, r);
			t0 = bench_now();
			ret = small_writes(path, size);
			if (ret)
				bench_row_fail(row, e->t, "4 KiB writes: %s", strerror(-ret));
			else
				bench_row_sample(row, e->t, size / 1e6 / (bench_now() - t0));
			unlink(path);
		}
	bench_envs_teardown(envs);
}
